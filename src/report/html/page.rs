//! The page itself: HTML with inline CSS, inline SVG charts and one small inline script, drawn
//! from an [`Aggregate`]. Every text that comes from the report goes through [`escape`].
use std::cmp::Reverse;
use std::fmt::Write as _;

use super::{Aggregate, CHART_BARS, CodeGroup, SIZE_BUCKETS, Slow, size_bucket_label};
use crate::model::Action;
use crate::plan::units::thousands;
use crate::report::summary::{Summary, human_bytes};

/// Escape text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn utc(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// A time-axis label: `HH:MM:SS`, with milliseconds when the bars are under a second wide.
fn utc_short(ms: i64, with_millis: bool) -> String {
    let f = if with_millis {
        "%H:%M:%S%.3f"
    } else {
        "%H:%M:%S"
    };
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format(f).to_string())
        .unwrap_or_default()
}

/// A rate unit for a maximum of `max` bytes/s: (divisor, unit).
fn rate_unit(max: f64) -> (f64, &'static str) {
    // The units of `human_bytes` (decimal: 1 KB = 1000 B), per second.
    [(1e9, "GB/s"), (1e6, "MB/s"), (1e3, "KB/s")]
        .into_iter()
        .find(|(d, _)| max >= *d)
        .unwrap_or((1.0, "B/s"))
}

fn duration(ms: i64) -> String {
    let s = ms as f64 / 1000.0;
    if ms < 1000 {
        format!("{ms} ms")
    } else if s < 60.0 {
        format!("{s:.1} s")
    } else if s < 3600.0 {
        format!("{}m {:02}s", ms / 60_000, (ms / 1000) % 60)
    } else {
        format!("{}h {:02}m", ms / 3_600_000, (ms / 60_000) % 60)
    }
}

const CSS: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1d2733;background:#f4f6f9}
header{background:#0b5cab;color:#fff;padding:18px 32px}
header h1{margin:0;font-size:22px;font-weight:600}
header p{margin:4px 0 0;opacity:.85}
main{padding:8px 32px 40px;max-width:1200px}
section{background:#fff;border:1px solid #dde3ea;border-radius:8px;padding:14px 20px;margin:16px 0}
h2{font-size:17px;margin:0 0 10px}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{flex:1 1 150px;border:1px solid #dde3ea;border-radius:6px;padding:8px 12px;background:#fafbfc}
.card b{display:block;font-size:20px;color:#0b5cab}
.card.bad b{color:#c62828}
.card span{color:#5a6b7d;font-size:12px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eef1f4;vertical-align:top}
th{background:#f4f6f9;font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
td.p{word-break:break-all;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
.note{color:#5a6b7d;font-style:italic}
svg{display:block;width:100%;height:auto}
svg text{font:11px system-ui,sans-serif;fill:#5a6b7d}
rect.bar{fill:#0b5cab}
rect.bar.files{fill:#2e9d5b}
rect.bar.size{fill:#7b4fb8}
line.axis{stroke:#9aa8b6;stroke-width:1}
";

/// Marks the page as laid out, with the chart's rendered width: a check that a browser really
/// rendered it (the tests read it back from headless Chromium's DOM).
const SCRIPT: &str = "
document.addEventListener('DOMContentLoaded',function(){
 var c=document.getElementById('throughput-bytes')||document.getElementById('size-histogram');
 var r=c?c.getBoundingClientRect():{width:0,height:0};
 document.body.setAttribute('data-rendered',Math.round(r.width)+'x'+Math.round(r.height));
});
";

/// The whole page.
pub fn render(
    agg: &Aggregate,
    title: &str,
    source: &str,
    migration: Option<&(String, String)>,
) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{CSS}</style><script>{SCRIPT}</script></head><body>\n",
        escape(title)
    );
    let _ = write!(
        h,
        "<header><h1>{}</h1><p>from <code>{}</code> · generated {}</p>",
        escape(title),
        escape(source),
        escape(&utc(chrono::Utc::now().timestamp_millis()))
    );
    if let Some((src, dest)) = migration {
        let _ = write!(
            h,
            "<p id=\"migration\">source <code>{}</code> → Box folder <code>{}</code></p>",
            escape(src),
            escape(dest)
        );
    }
    h.push_str("</header><main>\n");
    totals(&mut h, agg);
    throughput(&mut h, agg);
    histogram(&mut h, agg);
    failures(&mut h, agg);
    slowest(&mut h, agg);
    h.push_str("</main></body></html>\n");
    h
}

fn card(h: &mut String, id: &str, value: &str, raw: &str, label: &str, bad: bool) {
    let _ = write!(
        h,
        "<div class=\"card{}\" id=\"{id}\" data-value=\"{}\"><b>{}</b><span>{}</span></div>",
        if bad { " bad" } else { "" },
        escape(raw),
        escape(value),
        escape(label)
    );
}

fn totals(h: &mut String, agg: &Aggregate) {
    h.push_str("<section id=\"totals\"><h2>Totals</h2><div class=\"cards\">");
    size_cards(h, agg);
    failure_cards(h, &agg.summary);
    rate_cards(h, agg);
    h.push_str("</div>");
    if let (Some(first), Some(last)) = (agg.first_ms, agg.last_ms) {
        let _ = write!(
            h,
            "<p>First row finished {}, last {}.</p>",
            escape(&utc(first)),
            escape(&utc(last))
        );
    }
    action_table(h, &agg.summary);
    h.push_str("</section>\n");
}

/// Rows, files, folders, local size and bytes sent.
fn size_cards(h: &mut String, agg: &Aggregate) {
    let s = &agg.summary;
    card(
        h,
        "total-rows",
        &thousands(s.total()),
        &s.total().to_string(),
        "rows",
        false,
    );
    card(
        h,
        "total-files",
        &thousands(agg.files),
        &agg.files.to_string(),
        "files",
        false,
    );
    card(
        h,
        "total-dirs",
        &thousands(agg.dirs),
        &agg.dirs.to_string(),
        "folders",
        false,
    );
    card(
        h,
        "bytes-local",
        &human_bytes(s.total_bytes()),
        &s.total_bytes().to_string(),
        "local size",
        false,
    );
    card(
        h,
        "bytes-sent",
        &human_bytes(s.bytes_sent),
        &s.bytes_sent.to_string(),
        "sent to Box",
        false,
    );
}

/// What was not migrated, in the words of migrate's summary: failed and invalid apart.
fn failure_cards(h: &mut String, s: &Summary) {
    let mut not_ok = format!(
        "not migrated: {} failed, {} invalid",
        thousands(s.failed()),
        thousands(s.invalid())
    );
    let conflicts = s.count(Action::Conflict);
    if conflicts > 0 {
        not_ok.push_str(&format!(", {} conflicts", thousands(conflicts)));
    }
    card(
        h,
        "failures",
        &thousands(s.failures()),
        &s.failures().to_string(),
        &not_ok,
        s.failures() > 0,
    );
    card(
        h,
        "failed-rows",
        &thousands(s.failed()),
        &s.failed().to_string(),
        "failed (retried by the next run)",
        s.failed() > 0,
    );
    card(
        h,
        "invalid-rows",
        &thousands(s.invalid()),
        &s.invalid().to_string(),
        "invalid (fix at the source)",
        s.invalid() > 0,
    );
}

/// The span from the first to the last finished row, and files/s and MB/s over it.
fn rate_cards(h: &mut String, agg: &Aggregate) {
    let Some(span) = agg.span_ms() else {
        card(h, "wall-span", "n/a", "", "no finished_at times", false);
        card(h, "files-per-sec", "n/a", "", "files/s", false);
        card(h, "mb-per-sec", "n/a", "", "MB/s sent", false);
        return;
    };
    card(
        h,
        "wall-span",
        &duration(span),
        &span.to_string(),
        "first to last finished row",
        false,
    );
    if span == 0 {
        card(h, "files-per-sec", "n/a", "", "files/s", false);
        card(h, "mb-per-sec", "n/a", "", "MB/s sent", false);
        return;
    }
    let secs = span as f64 / 1000.0;
    let fps = agg.files as f64 / secs;
    let mbps = agg.summary.bytes_sent as f64 / 1e6 / secs;
    card(
        h,
        "files-per-sec",
        &format!("{fps:.1}"),
        &format!("{fps:.3}"),
        "files/s",
        false,
    );
    card(
        h,
        "mb-per-sec",
        &format!("{mbps:.1}"),
        &format!("{mbps:.3}"),
        "MB/s sent",
        false,
    );
}

/// Rows and local size per report action (or a note that the report is empty).
fn action_table(h: &mut String, s: &Summary) {
    if s.total() == 0 {
        h.push_str("<p class=\"note\" id=\"empty\">The report has no rows.</p>");
        return;
    }
    h.push_str(
        "<table id=\"actions\"><tr><th>action</th><th class=\"n\">rows</th>\
         <th class=\"n\">local size</th></tr>",
    );
    for (a, n, b) in s.by_action() {
        let _ = write!(
            h,
            "<tr data-action=\"{a}\"><td>{a}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            thousands(n),
            escape(&human_bytes(b))
        );
    }
    h.push_str("</table>");
}

/// Display buckets: (start ms, bytes, files), `CHART_BARS` at most, each a whole number of
/// fine buckets wide; and that width in ms.
pub(super) fn display_buckets(agg: &Aggregate) -> (Vec<(i64, u64, u64)>, i64) {
    let (Some(&first), Some(&last)) = (agg.buckets.keys().next(), agg.buckets.keys().next_back())
    else {
        return (Vec::new(), agg.bucket_ms);
    };
    let fine = last - first + 1;
    let per = (fine + CHART_BARS - 1) / CHART_BARS;
    let n = (fine + per - 1) / per;
    let width = per * agg.bucket_ms;
    let mut out: Vec<(i64, u64, u64)> = (0..n)
        .map(|i| ((first + i * per) * agg.bucket_ms, 0, 0))
        .collect();
    for (&k, &(b, f)) in &agg.buckets {
        let i = ((k - first) / per) as usize;
        if let Some(e) = out.get_mut(i) {
            e.1 += b;
            e.2 += f;
        }
    }
    (out, width)
}

/// A vertical bar chart: `values` with a label under the first, middle and last bar (or every
/// bar when `every_label`), a y-axis maximum label, and a tooltip per bar.
#[allow(clippy::too_many_arguments)]
fn bar_chart(
    h: &mut String,
    id: &str,
    class: &str,
    values: &[f64],
    labels: &[String],
    tips: &[String],
    unit: &str,
    every_label: bool,
) {
    const W: f64 = 1100.0;
    const H: f64 = 220.0;
    const LEFT: f64 = 70.0;
    const BOTTOM: f64 = 30.0;
    const TOP: f64 = 14.0;
    let max = values.iter().copied().fold(0.0, f64::max);
    let _ = write!(
        h,
        "<svg id=\"{id}\" viewBox=\"0 0 {W} {H}\" role=\"img\" data-bars=\"{}\" data-max=\"{max:.3}\">",
        values.len()
    );
    let plot_w = W - LEFT - 10.0;
    let plot_h = H - BOTTOM - TOP;
    let _ = write!(
        h,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{}\"/>\
         <line class=\"axis\" x1=\"{LEFT}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\"/>",
        TOP + plot_h,
        LEFT + plot_w
    );
    let _ = write!(
        h,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"end\">0</text>",
        LEFT - 6.0,
        TOP + 4.0,
        escape(&format!("{} {unit}", fmt_num(max))),
        LEFT - 6.0,
        TOP + plot_h
    );
    let n = values.len().max(1) as f64;
    let slot = plot_w / n;
    let bar_w = (slot * 0.8).max(1.0);
    for (i, v) in values.iter().enumerate() {
        let bh = if max > 0.0 { v / max * plot_h } else { 0.0 };
        let x = LEFT + i as f64 * slot + (slot - bar_w) / 2.0;
        let y = TOP + plot_h - bh;
        let tip = tips.get(i).map(String::as_str).unwrap_or("");
        let _ = write!(
            h,
            "<rect class=\"bar {class}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar_w:.1}\" height=\"{bh:.1}\" data-value=\"{v:.3}\"><title>{}</title></rect>",
            escape(tip)
        );
        let last = i + 1 == values.len();
        let show = every_label || i == 0 || last || i == values.len() / 2;
        let anchor = match () {
            _ if every_label => "middle",
            _ if i == 0 => "start",
            _ if last => "end",
            _ => "middle",
        };
        if show && let Some(l) = labels.get(i) {
            let lx = match anchor {
                "start" => x,
                "end" => x + bar_w,
                _ => x + bar_w / 2.0,
            };
            let _ = write!(
                h,
                "<text x=\"{lx:.1}\" y=\"{}\" text-anchor=\"{anchor}\">{}</text>",
                H - 10.0,
                escape(l)
            );
        }
    }
    h.push_str("</svg>");
}

/// A short axis label: `317k`, `1.2M`, `86.4`, `0.25`.
fn fmt_num(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn throughput(h: &mut String, agg: &Aggregate) {
    h.push_str("<section id=\"throughput\"><h2>Throughput over time</h2>");
    let (buckets, width) = display_buckets(agg);
    if buckets.is_empty() {
        let why = if agg.has_finished_at {
            "No row has a finished_at time."
        } else {
            "This report has no finished_at column (written by an older boxlift): \
             no throughput over time."
        };
        let _ = writeln!(h, "<p class=\"note\" id=\"no-times\">{why}</p></section>");
        return;
    }
    let secs = width as f64 / 1000.0;
    let labels: Vec<String> = buckets
        .iter()
        .map(|b| utc_short(b.0, width < 1000))
        .collect();
    let max_rate = buckets.iter().map(|b| b.1).max().unwrap_or(0) as f64 / secs;
    let (div, unit) = rate_unit(max_rate);
    let rates: Vec<f64> = buckets.iter().map(|b| b.1 as f64 / secs / div).collect();
    let fps: Vec<f64> = buckets.iter().map(|b| b.2 as f64 / secs).collect();
    let tip = |b: &(i64, u64, u64), what: String| format!("{}: {what}", utc(b.0));
    let tips_b: Vec<String> = buckets
        .iter()
        .map(|b| tip(b, format!("{} sent", human_bytes(b.1))))
        .collect();
    let tips_f: Vec<String> = buckets
        .iter()
        .map(|b| tip(b, format!("{} files finished", thousands(b.2))))
        .collect();
    let _ = write!(
        h,
        "<p>Each bar is {} (times in UTC) and shows what finished in it.</p><h3>Bytes sent to Box ({unit})</h3>",
        escape(&duration(width))
    );
    bar_chart(
        h,
        "throughput-bytes",
        "",
        &rates,
        &labels,
        &tips_b,
        unit,
        false,
    );
    h.push_str("<h3>Files finished per second</h3>");
    bar_chart(
        h,
        "throughput-files",
        "files",
        &fps,
        &labels,
        &tips_f,
        "files/s",
        false,
    );
    if agg.untimed_rows > 0 {
        let _ = write!(
            h,
            "<p class=\"note\">{} row(s) have no finished_at and are not in the charts.</p>",
            thousands(agg.untimed_rows)
        );
    }
    h.push_str("</section>\n");
}

fn histogram(h: &mut String, agg: &Aggregate) {
    h.push_str("<section id=\"sizes\"><h2>File sizes</h2>");
    let used: Vec<usize> = (0..SIZE_BUCKETS).filter(|&k| agg.sizes[k].0 > 0).collect();
    let (Some(&lo), Some(&hi)) = (used.first(), used.last()) else {
        h.push_str("<p class=\"note\">No files.</p></section>\n");
        return;
    };
    let ks: Vec<usize> = (lo..=hi).collect();
    let values: Vec<f64> = ks.iter().map(|&k| agg.sizes[k].0 as f64).collect();
    let labels: Vec<String> = ks.iter().map(|&k| size_bucket_label(k)).collect();
    let tips: Vec<String> = ks
        .iter()
        .map(|&k| {
            format!(
                "{}: {} files, {}",
                size_bucket_label(k),
                thousands(agg.sizes[k].0),
                human_bytes(agg.sizes[k].1)
            )
        })
        .collect();
    bar_chart(
        h,
        "size-histogram",
        "size",
        &values,
        &labels,
        &tips,
        "files",
        true,
    );
    h.push_str(
        "<table id=\"size-table\"><tr><th>size</th><th class=\"n\">files</th>\
         <th class=\"n\">bytes</th></tr>",
    );
    for &k in &ks {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(&size_bucket_label(k)),
            thousands(agg.sizes[k].0),
            escape(&human_bytes(agg.sizes[k].1))
        );
    }
    h.push_str("</table></section>\n");
}

fn failures(h: &mut String, agg: &Aggregate) {
    h.push_str("<section id=\"failures\"><h2>Failures and skipped entries by error code</h2>");
    if agg.codes.is_empty() {
        h.push_str(
            "<p class=\"note\" id=\"no-failures\">No row failed or was left out.</p></section>\n",
        );
        return;
    }
    let mut groups: Vec<(&(Action, String), &CodeGroup)> = agg.codes.iter().collect();
    groups.sort_by(|a, b| {
        b.0.0
            .is_failure()
            .cmp(&a.0.0.is_failure())
            .then(b.1.count.cmp(&a.1.count))
            .then(a.0.cmp(b.0))
    });
    h.push_str(
        "<table id=\"failure-table\"><tr><th>action</th><th>error code</th><th class=\"n\">rows</th>\
         <th>example path</th><th>message</th><th>Box request id</th></tr>",
    );
    for ((action, code), g) in groups {
        let (path, msg, req) = g
            .examples
            .first()
            .map(|(p, m, r)| (p.as_str(), m.as_str(), r.as_str()))
            .unwrap_or_default();
        let more: Vec<String> = g.examples.iter().skip(1).map(|e| escape(&e.0)).collect();
        let _ = write!(
            h,
            "<tr class=\"failure\" data-code=\"{}\" data-count=\"{}\"><td>{action}</td><td>{}</td>\
             <td class=\"n\">{}</td><td class=\"p\">{}{}</td><td>{}</td><td class=\"p\">{}</td></tr>",
            escape(code),
            g.count,
            escape(code),
            thousands(g.count),
            escape(path),
            if more.is_empty() {
                String::new()
            } else {
                format!("<br><span class=\"note\">also: {}</span>", more.join(", "))
            },
            escape(msg),
            escape(req)
        );
    }
    h.push_str("</table></section>\n");
}

fn slowest(h: &mut String, agg: &Aggregate) {
    let mut rows: Vec<&Slow> = agg.slowest.iter().map(|Reverse(s)| s).collect();
    rows.sort_by(|a, b| b.cmp(a));
    let _ = write!(
        h,
        "<section id=\"slowest\"><h2>The {} slowest files</h2><p class=\"note\">By time \
         sending (the row's duration less the time its requests queued for pacing permits, shown \
         apart).</p>",
        rows.len()
    );
    if rows.is_empty() {
        h.push_str("<p class=\"note\">No files.</p></section>\n");
        return;
    }
    h.push_str(
        "<table id=\"slowest-table\"><tr><th class=\"n\">#</th><th>path</th><th>action</th>\
         <th class=\"n\">size</th><th class=\"n\">sending</th><th class=\"n\">queued</th>\
         <th class=\"n\">attempts</th><th>error code</th></tr>",
    );
    let secs = |ms: u64| escape(&format!("{:.3} s", ms as f64 / 1000.0));
    for (i, s) in rows.iter().enumerate() {
        let _ = write!(
            h,
            "<tr class=\"slow\" data-ms=\"{}\"><td class=\"n\">{}</td><td class=\"p\">{}</td>\
             <td>{}</td><td class=\"n\">{}</td><td class=\"n sending\" data-ms=\"{}\">{}</td>\
             <td class=\"n queued\" data-ms=\"{}\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            s.duration_ms,
            i + 1,
            escape(&s.path),
            s.action,
            escape(&human_bytes(s.size)),
            s.sending_ms(),
            secs(s.sending_ms()),
            s.queued_ms,
            secs(s.queued_ms),
            s.attempts,
            escape(&s.error_code)
        );
    }
    h.push_str("</table></section>\n");
}
