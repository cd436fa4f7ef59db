//! Where verify's differences go: a CSV file, or one line each on stdout or stderr.
//!
//! The standard streams are written through their unlocked handles (each buffered write takes
//! the lock for itself), never a lock held for the whole run: the progress thread and the
//! log writer print on stderr while verify runs, and a lock held across the run made them
//! wait for it while verify waited for them.
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{Difference, VerifyError};

/// Where the differences go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DifferencesTo {
    /// A CSV file with [`Difference::COLUMNS`] (the header is written even with no difference).
    Csv(PathBuf),
    /// One line each on standard output.
    Stdout,
    /// One line each on standard error (stdout carries a JSON summary).
    Stderr,
}

/// An open destination for differences.
pub(super) enum Sink {
    Csv {
        path: PathBuf,
        // Boxed: the CSV writer's buffer state is large.
        writer: Box<csv::Writer<std::fs::File>>,
    },
    Text(BufWriter<Box<dyn Write>>),
}

impl Sink {
    /// Open `to` (a CSV file is created with its directory, and its header written).
    pub(super) fn open(to: &DifferencesTo) -> Result<Sink, VerifyError> {
        match to {
            DifferencesTo::Csv(path) => open_csv(path),
            DifferencesTo::Stdout => Ok(Sink::Text(BufWriter::new(Box::new(std::io::stdout())))),
            DifferencesTo::Stderr => Ok(Sink::Text(BufWriter::new(Box::new(std::io::stderr())))),
        }
    }

    /// Write one difference.
    pub(super) fn write(&mut self, d: &Difference) -> Result<(), VerifyError> {
        match self {
            Sink::Csv { path, writer } => writer
                .serialize(d)
                .map_err(|e| report_err(path, "cannot write", std::io::Error::from(e))),
            Sink::Text(out) => writeln!(out, "{}", d.text_line()).map_err(VerifyError::Sink),
        }
    }

    /// Flush what is buffered.
    pub(super) fn finish(self) -> Result<(), VerifyError> {
        match self {
            Sink::Csv { path, mut writer } => writer
                .flush()
                .map_err(|e| report_err(&path, "cannot write", e)),
            Sink::Text(mut out) => out.flush().map_err(VerifyError::Sink),
        }
    }
}

fn open_csv(path: &Path) -> Result<Sink, VerifyError> {
    crate::fsutil::create_parent(path)
        .map_err(|e| report_err(path, "cannot create the directory of", e))?;
    // No automatic header: serialize would only write it with the first row.
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .from_path(path)
        .map_err(|e| report_err(path, "cannot create", std::io::Error::from(e)))?;
    writer
        .write_record(Difference::COLUMNS)
        .map_err(|e| report_err(path, "cannot write", std::io::Error::from(e)))?;
    Ok(Sink::Csv {
        path: path.to_path_buf(),
        writer: Box::new(writer),
    })
}

fn report_err(path: &Path, what: &'static str, source: std::io::Error) -> VerifyError {
    VerifyError::Report {
        what,
        path: path.to_path_buf(),
        source,
    }
}

impl Difference {
    /// The difference as one line of text: problem, path, then both sides.
    pub fn text_line(&self) -> String {
        let or_dash = |s: &str| {
            if s.is_empty() {
                "-".to_string()
            } else {
                s.to_string()
            }
        };
        format!(
            "{:<16} {}  (expected {} bytes {}, Box {} bytes {}, id {})",
            self.problem.to_string(),
            self.path,
            self.expected_size.map_or("-".into(), |s| s.to_string()),
            or_dash(&self.expected_sha1),
            self.box_size.map_or("-".into(), |s| s.to_string()),
            or_dash(&self.box_sha1),
            or_dash(&self.box_id),
        )
    }
}
