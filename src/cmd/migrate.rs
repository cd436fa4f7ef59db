//! `boxlift migrate`: arguments → [`crate::migrate::MigrateConfig`] → [`crate::migrate::run`]
//! → printing and the exit code. The job itself lives in `crate::migrate`; this file adds what
//! only a process has: the built-in emulator for `--emulator`, and the signal handler that
//! triggers `Cancel`.
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::cli::{BoxArgs, GlobalArgs, LogFormat, MigrateArgs};
use crate::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use crate::exit::ExitCode;
use crate::log::{STATUS_TARGET, notice};
use crate::migrate::{Cancel, Summary};
use crate::report::summary::render_rows;

/// Run `boxlift migrate`.
pub fn run(mut args: MigrateArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let format = global.log_format;
    let _emulator = if args.emulator {
        Some(emulator_for_run(&mut args.box_args, format)?)
    } else {
        None
    };
    let mut config = args.to_config(format)?;
    if let Some(addr) = args.metrics_listen {
        config.observer = Some(serve_metrics(addr, &config, format)?);
    }
    if let Some(shard) = &config.shard {
        notice(
            format,
            false,
            &format!(
                "shard {shard}: {} API calls and {} uploads per minute per identity (1/{} of the limits)",
                config.client.api_calls_per_minute,
                config.client.uploads_per_minute,
                args.rate_share()?
            ),
        );
    }
    let cancel = Cancel::new();
    on_interrupt(cancel.clone(), format)?;
    let state_dir = (!config.dry_run).then(|| config.paths.state.clone());
    let prune = match (args.keep_reports, &args.report) {
        (None, _) => None,
        (Some(keep), Some(pattern)) => {
            crate::report::prune::dated_component(pattern)?;
            Some((keep.max(1), pattern.clone()))
        }
        (Some(_), None) => anyhow::bail!(
            "--keep-reports needs a --report named by date (e.g. reports/%Y-%m-%d.csv)"
        ),
    };
    let summary = match crate::migrate::run(config, cancel) {
        Ok(summary) => summary,
        Err(e) => {
            record_exit(state_dir.as_deref(), ExitCode::CouldNotRun);
            return Err(e.into());
        }
    };
    record_exit(state_dir.as_deref(), summary.exit_code());
    if let Some((keep, pattern)) = prune {
        // This run's report is the newest, so it is always kept; a failure here is logged and
        // leaves the run's own outcome as it is.
        match crate::report::prune::prune_dated(&pattern, keep) {
            Ok(gone) if !gone.is_empty() => {
                tracing::info!(
                    removed = gone.len(),
                    keep,
                    "removed reports older than the newest {keep}"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("--keep-reports: {e}"),
        }
    }

    // With --json, stdout carries the JSON summary alone; the human text goes to stderr.
    let mut human: Box<dyn Write> = if args.json {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::stdout())
    };
    if args.emulator {
        print_report(&mut human, &summary.report, format);
    }
    if format == LogFormat::Json {
        summary_event(&summary);
    }
    let mut text = Vec::new();
    print_summary(&mut text, &summary)?;
    human.write_all(&text)?;
    crate::log::file_lines(false, &String::from_utf8_lossy(&text));
    if args.json {
        super::print_json(&json_summary(&summary))?;
    }
    if summary.out_of_time {
        notice(
            format,
            true,
            "--max-duration reached: nothing new was started, the files in flight finished; run the same command to carry on (exit 75)",
        );
    } else if summary.interrupted {
        notice(
            format,
            true,
            "interrupted; the state is saved, run the same command to resume",
        );
    }
    Ok(summary.exit_code())
}

/// `--metrics-listen`: bind now (a port in use stops the run before it starts) and serve the
/// run's metrics for the life of the process.
fn serve_metrics(
    addr: std::net::SocketAddr,
    config: &crate::migrate::MigrateConfig,
    format: LogFormat,
) -> anyhow::Result<crate::migrate::Observer> {
    let limits = crate::progress::eta::EtaLimits::for_run(
        &config.client,
        config.chunked_threshold,
        config.dry_run,
    );
    let metrics = crate::metrics::Metrics::new(limits);
    let listener = std::net::TcpListener::bind(addr)
        .with_context(|| format!("--metrics-listen: cannot listen on {addr}"))?;
    let bound = metrics
        .serve(listener)
        .with_context(|| format!("--metrics-listen: cannot serve on {addr}"))?;
    notice(format, false, &format!("metrics at http://{bound}/metrics"));
    Ok(crate::migrate::Observer::new(move |e| metrics.on_event(e)))
}

/// Put the run's exit code in its journal, for `boxlift status` (a failure to is only logged:
/// the run's own outcome stands).
fn record_exit(state: Option<&std::path::Path>, code: ExitCode) {
    if let Some(dir) = state
        && let Err(e) = crate::state::record_exit(dir, code.code())
    {
        tracing::warn!("cannot record the exit code in the state journal: {e}");
    }
}

/// The text summary: rows per action, how the scan came by the SHA-1s, Box requests, where
/// the report is.
fn print_summary(out: &mut dyn Write, summary: &Summary) -> std::io::Result<()> {
    let stats = &summary.requests;
    let scan = &summary.scan;
    write!(out, "{}", summary.rows.render(summary.elapsed))?;
    writeln!(
        out,
        "SHA-1s: {} files read and hashed, {} reused from the last manifest, {} trusted from the journal (size and mtime unchanged)",
        scan.hashed, scan.reused, scan.known
    )?;
    writeln!(
        out,
        "Box requests: {} ({} retries, {} answered 429, {} 5xx, {} without reply)",
        stats.requests,
        stats.retries,
        stats.rate_limited,
        stats.server_errors,
        stats.transport_errors
    )?;
    writeln!(out, "report: {}", summary.report.display())
}

/// `--json`: the run's counts, requests and outcome (field names in docs/report.md,
/// "JSON summary").
fn json_summary(run: &Summary) -> serde_json::Value {
    let stats = &run.requests;
    let mut v = serde_json::json!({
        "command": "migrate",
        "exit_code": run.exit_code().code(),
        "interrupted": run.interrupted,
        "elapsed_s": run.elapsed.as_secs_f64(),
        "report": run.report.display().to_string(),
        "scan": {
            "hashed": run.scan.hashed,
            "reused": run.scan.reused,
            "known": run.scan.known,
        },
        "requests": {
            "total": stats.requests,
            "retries": stats.retries,
            "throttled_429": stats.rate_limited,
            "server_errors": stats.server_errors,
            "no_reply": stats.transport_errors,
        },
    });
    super::merge_json(&mut v, &run.rows.counts());
    v
}

/// SIGINT or SIGTERM (Kubernetes) once: trigger `cancel`, so nothing new starts and the files in
/// flight finish (their rows and journal entries are written). A second signal exits at once;
/// the journal is crash-safe, so a re-run resumes either way. The handlers are registered
/// before this returns: from then on a signal is ours, never the default exit.
fn on_interrupt(cancel: Cancel, format: LogFormat) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the signal handler")?;
    let mut signals = {
        let _guard = rt.enter();
        Signals::register()?
    };
    std::thread::spawn(move || {
        rt.block_on(async move {
            signals.next().await;
            cancel.cancel();
            notice(
                format,
                true,
                "interrupted: finishing the files in flight (signal again to stop now)",
            );
            signals.next().await;
            std::process::exit(ExitCode::Interrupted.code());
        })
    });
    Ok(())
}

/// SIGINT and SIGTERM, registered (inside a runtime) before they are awaited.
struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    #[cfg(unix)]
    fn register() -> anyhow::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            int: signal(SignalKind::interrupt()).context("cannot handle SIGINT")?,
            term: signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
        })
    }

    #[cfg(not(unix))]
    fn register() -> anyhow::Result<Self> {
        Ok(Signals {})
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// With `--emulator`: start the built-in emulator (data under `.boxlift/emulator/`, kept between
/// runs) and point the Box arguments at it with its developer token.
pub(crate) fn emulator_for_run(
    box_args: &mut BoxArgs,
    format: LogFormat,
) -> anyhow::Result<EmulatorHandle> {
    let dir = PathBuf::from(".boxlift/emulator");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let config = EmulatorConfig {
        data_dir: Some(dir.clone()),
        ..EmulatorConfig::default()
    };
    let token = config
        .developer_tokens
        .first()
        .cloned()
        .unwrap_or_else(|| "dev-token".into());
    let handle = Emulator::start(config)
        .with_context(|| format!("cannot start the emulator with data in {}", dir.display()))?;
    box_args.api_url = handle.api_url();
    box_args.upload_url = handle.upload_url();
    box_args.oauth_url = handle.oauth_url();
    box_args.developer_token = Some(token);
    notice(
        format,
        false,
        &format!(
            "emulator at {} (data in {})",
            handle.base_url(),
            dir.display()
        ),
    );
    Ok(handle)
}

/// The end of the run as one event for log collectors (`--log-format json`): rows per action,
/// failures, bytes and Box requests. The text summary still goes to stdout.
fn summary_event(run: &Summary) {
    use crate::report::Action;
    let (summary, stats) = (&run.rows, &run.requests);
    tracing::info!(
        target: STATUS_TARGET,
        rows = summary.total(),
        uploaded = summary.count(Action::Uploaded),
        new_version = summary.count(Action::NewVersion),
        skipped_done = summary.count(Action::SkippedDone),
        skipped_exists = summary.count(Action::SkippedExists),
        files = summary.files(),
        failed = summary.failed(),
        invalid = summary.invalid(),
        skipped = summary.skipped(),
        bytes_sent = summary.bytes_sent,
        requests = stats.requests,
        retries = stats.retries,
        throttled_429 = stats.rate_limited,
        elapsed_s = run.elapsed.as_secs(),
        exit_code = run.exit_code().code(),
        "migrate finished"
    );
}

/// Print the report: a compact table for small runs, else where it is.
fn print_report(out: &mut dyn Write, path: &Path, format: LogFormat) {
    let written = match crate::report::read_report(path) {
        Ok(mut rows) if rows.len() <= 200 => {
            // The CSV is in completion order; the table reads better in path order.
            rows.sort_by(|a, b| a.path.cmp(&b.path));
            write!(out, "{}", render_rows(&rows))
        }
        Ok(rows) => writeln!(out, "{} rows: see {}", rows.len(), path.display()),
        Err(e) => {
            notice(format, true, &e.to_string());
            Ok(())
        }
    };
    if let Err(e) = written {
        notice(format, true, &format!("cannot print the report: {e}"));
    }
}
