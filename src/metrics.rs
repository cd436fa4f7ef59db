//! Prometheus metrics of a run (`--metrics-listen ADDR`, `GET /metrics`): one more observer of
//! the event stream, beside the report, the journal and progress, so a Kubernetes Job that
//! runs for weeks can be watched and alerted on. Names are prefixed `boxlift_`; counters end
//! in `_total` (OpenMetrics text, from `prometheus-client`).
//!
//! The Box client's request counters are read at scrape time from the client the run has
//! registered ([`crate::progress::client`]; they are not on the event stream); the ETA is
//! [`crate::progress`]'s, from a progress consumer of the metrics' own.
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::box_api::ClientStats;
use crate::log::LogFormat;
use crate::manifest::Kind;
use crate::model::{Action, Event};
use crate::progress::eta::EtaLimits;
use crate::progress::{Progress, ShowProgress, Status};

/// A label naming the identity a row was sent as (`service` for the service account).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IdentityLabel {
    identity: String,
}

/// A label naming how a request ended: `ok`, `429`, `5xx`, `401`, `transport_error`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: String,
}

/// A label naming a row's outcome (the report's action).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabel {
    action: String,
}

/// The run's metrics, shared by the observer (sink thread) and the HTTP server.
struct Inner {
    registry: Registry,
    files_done: Counter,
    files_by_identity: Family<IdentityLabel, Counter>,
    rows: Family<ActionLabel, Counter>,
    bytes_sent: Counter,
    bytes_by_identity: Family<IdentityLabel, Counter>,
    retries: Family<StatusLabel, Counter>,
    requests: Family<StatusLabel, Counter>,
    files_expected: Gauge,
    eta_seconds: Gauge<f64, AtomicU64>,
    fraction_done: Gauge<f64, AtomicU64>,
    /// The request counters already added to `requests`.
    seen: Mutex<ClientStats>,
    /// Progress counted for the ETA alone (shows nothing).
    progress: Progress,
}

/// The metrics of one run: feed [`Metrics::on_event`] every event (as the run's observer) and
/// [`Metrics::serve`] them.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// Empty metrics for a run under `limits` (the ETA's rates until measured ones exist).
    pub fn new(limits: EtaLimits) -> Metrics {
        let mut registry = Registry::default();
        let inner = Inner {
            files_done: Counter::default(),
            files_by_identity: Family::default(),
            rows: Family::default(),
            bytes_sent: Counter::default(),
            bytes_by_identity: Family::default(),
            retries: Family::default(),
            requests: Family::default(),
            files_expected: Gauge::default(),
            eta_seconds: Gauge::default(),
            fraction_done: Gauge::default(),
            seen: Mutex::new(ClientStats::default()),
            progress: Progress::start(
                ShowProgress::None,
                Duration::from_secs(3600),
                LogFormat::Text,
                limits.files_per_s,
            ),
            registry: Registry::default(),
        };
        inner.progress.set_limits(limits);
        let r = &mut registry;
        r.register(
            "boxlift_files_done",
            "Files finished, whatever the outcome (directories are not files)",
            inner.files_done.clone(),
        );
        r.register(
            "boxlift_identity_files_done",
            "Files finished, per identity they were sent as",
            inner.files_by_identity.clone(),
        );
        r.register(
            "boxlift_rows",
            "Rows finished, per action (uploaded, failed, invalid, skipped_done, ...)",
            inner.rows.clone(),
        );
        r.register(
            "boxlift_bytes_sent",
            "File bytes finished with (sent or found in Box)",
            inner.bytes_sent.clone(),
        );
        r.register(
            "boxlift_identity_bytes_sent",
            "File bytes sent, per identity",
            inner.bytes_by_identity.clone(),
        );
        r.register(
            "boxlift_retries",
            "Box requests retried, per status of the failed attempt",
            inner.retries.clone(),
        );
        r.register(
            "boxlift_requests",
            "Box requests sent (retries included), per outcome",
            inner.requests.clone(),
        );
        r.register(
            "boxlift_files_expected",
            "Files the run will finish, as known so far",
            inner.files_expected.clone(),
        );
        r.register(
            "boxlift_eta_seconds",
            "Seconds left, as the progress line says (-1 while unknown)",
            inner.eta_seconds.clone(),
        );
        r.register(
            "boxlift_fraction_done",
            "Share of the run done, 0 to 1; never goes back",
            inner.fraction_done.clone(),
        );
        inner.eta_seconds.set(-1.0);
        Metrics(Arc::new(Inner { registry, ..inner }))
    }

    /// Count one event.
    pub fn on_event(&self, event: &Event) {
        let m = &self.0;
        m.progress.on_event(event);
        match event {
            Event::BytesSent { bytes } => {
                m.bytes_sent.inc_by(*bytes);
            }
            Event::Retried { status } => {
                let status = status.map_or_else(|| "transport_error".into(), |s| s.to_string());
                m.retries.get_or_create(&StatusLabel { status }).inc();
            }
            Event::FileDone(row) => {
                let action = row.action().to_string();
                m.rows.get_or_create(&ActionLabel { action }).inc();
                if row.kind == Kind::Dir {
                    return;
                }
                m.files_done.inc();
                if matches!(
                    row.action(),
                    Action::Failed | Action::Invalid | Action::Skipped
                ) {
                    return;
                }
                let identity = IdentityLabel {
                    identity: if row.as_user.is_empty() {
                        "service".into()
                    } else {
                        row.as_user.clone()
                    },
                };
                m.files_by_identity.get_or_create(&identity).inc();
                m.bytes_by_identity
                    .get_or_create(&identity)
                    .inc_by(row.bytes_sent);
            }
            _ => {}
        }
    }

    /// The metrics as OpenMetrics text, read now.
    pub fn render(&self) -> String {
        let m = &self.0;
        if let Some(stats) = crate::progress::client::client_stats() {
            m.add_requests(&stats);
        }
        let c = m.progress.counters();
        let s = Status::read(c, c.started.elapsed());
        m.files_expected.set(s.files_total as i64);
        m.eta_seconds.set(s.eta_s.map_or(-1.0, |e| e as f64));
        m.fraction_done.set(s.fraction);
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &m.registry);
        out
    }

    /// Serve `GET /metrics` on `listener` on a thread of its own, for the life of the process.
    pub fn serve(&self, listener: std::net::TcpListener) -> std::io::Result<SocketAddr> {
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let me = self.clone();
        std::thread::Builder::new()
            .name("boxlift-metrics".into())
            .spawn(move || {
                rt.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let app = axum::Router::new().route(
                        "/metrics",
                        axum::routing::get(move || {
                            let m = me.clone();
                            async move {
                                (
                                    [(
                                        axum::http::header::CONTENT_TYPE,
                                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                                    )],
                                    m.render(),
                                )
                            }
                        }),
                    );
                    if let Err(e) = axum::serve(listener, app).await {
                        tracing::warn!("--metrics-listen: the server stopped: {e}");
                    }
                });
            })?;
        Ok(addr)
    }
}

impl Inner {
    /// Add what the client counted since the last look to `boxlift_requests_total{status}`.
    fn add_requests(&self, now: &ClientStats) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let ok = |s: &ClientStats| {
            s.requests.saturating_sub(
                s.rate_limited + s.server_errors + s.transport_errors + s.unauthorized,
            )
        };
        for (status, before, after) in [
            ("ok", ok(&seen), ok(now)),
            ("429", seen.rate_limited, now.rate_limited),
            ("5xx", seen.server_errors, now.server_errors),
            ("401", seen.unauthorized, now.unauthorized),
            (
                "transport_error",
                seen.transport_errors,
                now.transport_errors,
            ),
        ] {
            let counter = self.requests.get_or_create(&StatusLabel {
                status: status.into(),
            });
            counter.inc_by(after.saturating_sub(before));
        }
        *seen = now.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ReportRow;

    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn events_become_counters_with_the_boxlift_prefix() {
        let m = Metrics::new(EtaLimits::default());
        m.on_event(&Event::Planned {
            bytes: 5,
            kind: Kind::File,
        });
        m.on_event(&Event::BytesSent { bytes: 5 });
        m.on_event(&Event::Retried { status: Some(429) });
        let mut row = ReportRow::new("a", Kind::File, 5, "x").with(Action::Uploaded);
        row.as_user = "42".into();
        row.bytes_sent = 5;
        m.on_event(&Event::FileDone(row));
        m.on_event(&Event::FileDone(
            ReportRow::new("d", Kind::Dir, 0, "").with(Action::FolderCreated),
        ));
        m.on_event(&Event::ScanFinished);
        let text = m.render();
        assert_eq!(
            value(&text, "boxlift_files_done_total"),
            Some(1.0),
            "{text}"
        );
        assert_eq!(
            value(&text, "boxlift_bytes_sent_total"),
            Some(5.0),
            "{text}"
        );
        assert_eq!(
            value(&text, "boxlift_retries_total{status=\"429\"}"),
            Some(1.0),
            "{text}"
        );
        assert_eq!(
            value(&text, "boxlift_identity_files_done_total{identity=\"42\"}"),
            Some(1.0),
            "{text}"
        );
        assert_eq!(
            value(&text, "boxlift_rows_total{action=\"folder_created\"}"),
            Some(1.0),
            "{text}"
        );
        // Everything is done: nothing left.
        assert_eq!(value(&text, "boxlift_eta_seconds"), Some(0.0), "{text}");
        assert_eq!(value(&text, "boxlift_fraction_done"), Some(1.0), "{text}");
        assert!(
            text.lines()
                .all(|l| l.starts_with('#') || l.starts_with("boxlift_"))
        );
    }
}
