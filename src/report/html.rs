//! `boxlift report html`: one self-contained HTML page about a report, for the migration's
//! owner: totals, throughput over time, a size histogram, failures by error code and the
//! slowest files. Inline CSS and SVG, one small inline script, the data embedded: the page
//! loads nothing from anywhere, so it opens offline and can be mailed around.
//!
//! Rows are aggregated while streaming, so a report of millions of rows needs little memory:
//! the time buckets coarsen as the span grows (at most [`MAX_TIME_BUCKETS`]), only the top-N
//! slowest files are kept, and each error code keeps a count and a few example rows.
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::path::{Path, PathBuf};

use super::summary::{Summary, human_bytes};
use super::{ReportError, ReportReader};
use crate::manifest::Kind;
use crate::model::{Action, ReportRow};

mod page;

pub use self::page::{escape, render};

/// Fine time buckets kept while streaming; beyond this they merge pairwise (width doubles).
pub const MAX_TIME_BUCKETS: usize = 4096;
/// Bars in the throughput charts (at most).
const CHART_BARS: i64 = 60;
/// Example rows kept per error code.
const EXAMPLES_PER_CODE: usize = 3;
/// Distinct (action, error code) groups kept; rarer ones are counted under "other codes".
const MAX_CODE_GROUPS: usize = 200;
/// Decimal size buckets: 0 B, then [10^(k-1), 10^k) for k = 1..=15, the last open-ended.
const SIZE_BUCKETS: usize = 16;

/// Why the page could not be made.
#[derive(Debug, thiserror::Error)]
pub enum HtmlError {
    /// The report could not be read.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// The page could not be written.
    #[error("output {path}: {source}")]
    Write {
        /// The output path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// One of the slowest files.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Slow {
    duration_ms: u64,
    /// Of `duration_ms`, time waiting for pacing permits (0 in reports older than the column).
    queued_ms: u64,
    /// Earlier rows rank first among equal durations (`Reverse` in the key).
    line: u64,
    path: String,
    action: Action,
    size: u64,
    attempts: u32,
    error_code: String,
}

impl Slow {
    /// Time sending and waiting on Box: a file queued behind others for pacing is not slow.
    fn sending_ms(&self) -> u64 {
        self.duration_ms.saturating_sub(self.queued_ms)
    }

    fn key(&self) -> (u64, Reverse<u64>) {
        (self.sending_ms(), Reverse(self.line))
    }
}

impl Ord for Slow {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

impl PartialOrd for Slow {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Rows of one (action, error code).
#[derive(Debug, Clone, Default)]
struct CodeGroup {
    count: u64,
    /// (path, message, Box request id).
    examples: Vec<(String, String, String)>,
}

/// The page's figures, built row by row.
#[derive(Debug, Clone)]
pub struct Aggregate {
    summary: Summary,
    files: u64,
    dirs: u64,
    first_ms: Option<i64>,
    last_ms: Option<i64>,
    untimed_rows: u64,
    has_finished_at: bool,
    bucket_ms: i64,
    /// Fine bucket index (time / bucket_ms) → (bytes sent, file rows finished).
    buckets: BTreeMap<i64, (u64, u64)>,
    sizes: [(u64, u64); SIZE_BUCKETS],
    codes: HashMap<(Action, String), CodeGroup>,
    slowest: BinaryHeap<Reverse<Slow>>,
    top: usize,
}

impl Aggregate {
    /// An empty aggregate keeping the `top` slowest files.
    pub fn new(top: usize) -> Self {
        Aggregate {
            summary: Summary::default(),
            files: 0,
            dirs: 0,
            first_ms: None,
            last_ms: None,
            untimed_rows: 0,
            has_finished_at: true,
            bucket_ms: 10,
            buckets: BTreeMap::new(),
            sizes: [(0, 0); SIZE_BUCKETS],
            codes: HashMap::new(),
            slowest: BinaryHeap::new(),
            top,
        }
    }

    /// Count one row; `finished_ms` is its parsed `finished_at`, if it has one.
    pub fn add(&mut self, line: u64, row: &ReportRow, finished_ms: Option<i64>) {
        let action = row.action();
        self.summary.add(row);
        let is_file = row.kind != Kind::Dir;
        if is_file {
            self.files += 1;
            let (n, b) = &mut self.sizes[size_bucket(row.size)];
            *n += 1;
            *b += row.size;
        } else {
            self.dirs += 1;
        }
        match finished_ms {
            Some(t) => {
                self.first_ms = Some(self.first_ms.map_or(t, |f| f.min(t)));
                self.last_ms = Some(self.last_ms.map_or(t, |l| l.max(t)));
                let e = self
                    .buckets
                    .entry(t.div_euclid(self.bucket_ms))
                    .or_default();
                e.0 += row.bytes_sent;
                e.1 += u64::from(is_file);
                if self.buckets.len() > MAX_TIME_BUCKETS {
                    self.coarsen();
                }
            }
            None => self.untimed_rows += 1,
        }
        if action.is_failure() || !row.error_code.is_empty() {
            self.add_code(action, row);
        }
        if is_file && self.top > 0 {
            let slow = Slow {
                duration_ms: row.duration_ms,
                queued_ms: row.queued_ms,
                line,
                path: row.path.clone(),
                action,
                size: row.size,
                attempts: row.attempts,
                error_code: row.error_code.clone(),
            };
            if self.slowest.len() < self.top {
                self.slowest.push(Reverse(slow));
            } else if self.slowest.peek().is_some_and(|Reverse(min)| slow > *min) {
                self.slowest.pop();
                self.slowest.push(Reverse(slow));
            }
        }
    }

    fn add_code(&mut self, action: Action, row: &ReportRow) {
        let code = if row.error_code.is_empty() {
            "(no code)".to_string()
        } else {
            row.error_code.clone()
        };
        let key = if self.codes.len() >= MAX_CODE_GROUPS
            && !self.codes.contains_key(&(action, code.clone()))
        {
            (action, "(other codes)".to_string())
        } else {
            (action, code)
        };
        let g = self.codes.entry(key).or_default();
        g.count += 1;
        if g.examples.len() < EXAMPLES_PER_CODE {
            g.examples.push((
                row.path.clone(),
                row.error_message.clone(),
                row.box_request_id.clone(),
            ));
        }
    }

    /// Double the bucket width, merging pairs, until the count is bounded again.
    fn coarsen(&mut self) {
        while self.buckets.len() > MAX_TIME_BUCKETS {
            self.bucket_ms *= 2;
            let old = std::mem::take(&mut self.buckets);
            for (k, (b, f)) in old {
                let e = self.buckets.entry(k.div_euclid(2)).or_default();
                e.0 += b;
                e.1 += f;
            }
        }
    }

    /// Rows counted.
    pub fn rows(&self) -> u64 {
        self.summary.total()
    }

    /// The summary of the rows (counts per action, bytes sent).
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// Wall span from the first to the last `finished_at`, in ms.
    pub fn span_ms(&self) -> Option<i64> {
        Some(self.last_ms? - self.first_ms?)
    }
}

fn size_bucket(size: u64) -> usize {
    if size == 0 {
        return 0;
    }
    let digits = size.ilog10() as usize + 1;
    digits.min(SIZE_BUCKETS - 1)
}

fn size_bucket_label(k: usize) -> String {
    match k {
        0 => "0 B".into(),
        k if k == SIZE_BUCKETS - 1 => format!("≥ {}", human_bytes(10u64.pow(k as u32 - 1))),
        k => format!(
            "{} – {}",
            human_bytes(10u64.pow(k as u32 - 1)),
            human_bytes(10u64.pow(k as u32))
        ),
    }
}

/// Options of the page.
#[derive(Debug, Clone)]
pub struct HtmlOptions {
    /// The page title (default: the report's file name).
    pub title: Option<String>,
    /// How many of the slowest files to list.
    pub slowest: usize,
    /// The migration the report is of: (source tree, Box folder id), shown under the title
    /// (from the run's state journal; `None` when it is not known).
    pub migration: Option<(String, String)>,
}

/// Stream `input` and write the page to `output`; returns the aggregate (for the caller's
/// one-line summary).
pub fn write_html(input: &Path, output: &Path, opts: &HtmlOptions) -> Result<Aggregate, HtmlError> {
    let mut rd = ReportReader::open(input)?;
    let mut agg = Aggregate::new(opts.slowest);
    agg.has_finished_at = rd.has_finished_at();
    while let Some((line, row)) = rd.next_row()? {
        // The reader checked the time; an empty one (older reports) is `None`.
        let t = row.finished_at.map(|t| t.timestamp_millis());
        agg.add(line, &row, t);
    }
    let title = opts.title.clone().unwrap_or_else(|| {
        format!(
            "boxlift report: {}",
            input.file_name().map_or_else(
                || input.display().to_string(),
                |n| n.to_string_lossy().into_owned()
            )
        )
    });
    let page = render(
        &agg,
        &title,
        &input.display().to_string(),
        opts.migration.as_ref(),
    );
    std::fs::write(output, page).map_err(|source| HtmlError::Write {
        path: output.to_path_buf(),
        source,
    })?;
    Ok(agg)
}

#[cfg(test)]
mod tests {
    use super::page::display_buckets;
    use super::*;
    use crate::plan::units::thousands;

    fn row(path: &str, size: u64, action: Action, ms: u64) -> ReportRow {
        let mut r = ReportRow::new(path, Kind::File, size, "x").with(action);
        r.duration_ms = ms;
        r.bytes_sent = size;
        r
    }

    #[test]
    fn text_from_the_csv_is_escaped() {
        let mut a = Aggregate::new(5);
        let bad = "<script>alert('x')</script> & \"q\"";
        let r = row(bad, 3, Action::Failed, 9).with_error("<b>code</b>", bad);
        a.add(2, &r, Some(1_000));
        let page = render(&a, bad, bad, Some(&(bad.to_string(), bad.to_string())));
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(!page.contains("<b>code</b>"));
        assert!(
            page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;")
        );
    }

    #[test]
    fn empty_and_untimed_reports_render_with_notes() {
        let a = Aggregate::new(5);
        let page = render(&a, "t", "s", None);
        assert!(page.contains("id=\"empty\"") && page.contains("id=\"no-times\""));
        let mut a = Aggregate::new(5);
        a.has_finished_at = false;
        a.add(2, &row("a", 5, Action::Uploaded, 1), None);
        let page = render(&a, "t", "s", None);
        assert!(page.contains("no finished_at column"), "{page}");
        assert!(page.contains("id=\"wall-span\" data-value=\"\""));
        assert!(page.contains("id=\"size-histogram\""));
    }

    #[test]
    fn only_the_top_n_slowest_are_kept_and_time_buckets_stay_bounded() {
        let mut a = Aggregate::new(3);
        for i in 0..100_000u64 {
            // Ten days, one row every ~8.6 s.
            let t = 1_700_000_000_000 + (i as i64) * 8_640;
            a.add(
                i + 2,
                &row(&format!("f{i}"), i, Action::Uploaded, i % 1000),
                Some(t),
            );
        }
        assert!(a.buckets.len() <= MAX_TIME_BUCKETS);
        let mut ms: Vec<u64> = a.slowest.iter().map(|Reverse(s)| s.duration_ms).collect();
        ms.sort();
        assert_eq!(ms, [999, 999, 999]);
        let (bars, width) = display_buckets(&a);
        assert!(bars.len() as i64 <= CHART_BARS && !bars.is_empty());
        assert_eq!(bars.iter().map(|b| b.2).sum::<u64>(), 100_000);
        assert_eq!(width % a.bucket_ms, 0);
        assert_eq!(a.span_ms(), Some(99_999 * 8_640));
    }

    #[test]
    fn sizes_fall_in_decimal_buckets() {
        assert_eq!(size_bucket(0), 0);
        assert_eq!(size_bucket(1), 1);
        assert_eq!(size_bucket(9), 1);
        assert_eq!(size_bucket(10), 2);
        assert_eq!(size_bucket(999_999), 6);
        assert_eq!(size_bucket(u64::MAX), SIZE_BUCKETS - 1);
        assert_eq!(size_bucket_label(4), "1.0 kB – 10.0 kB");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(12), "12");
    }
}
