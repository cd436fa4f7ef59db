//! `migrate --repair VERIFY.csv`: read a verify report (the CSV `verify --report` writes) and
//! sort its rows into what a migrate run can repair by sending the file again (missing, other
//! size, other SHA-1), what needs a person (a file where a folder should be, or the reverse),
//! and what needs nothing sent (extra items, twin folders).
use std::path::{Path, PathBuf};

use super::{Difference, Problem};

/// What to do about a verify report's rows.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RepairList {
    /// Paths to send again (forgotten in the journal, so the run uploads them): missing files
    /// and folders, and files whose size or SHA-1 differ (these become new versions).
    pub resend: Vec<String>,
    /// Rows a re-send cannot fix (`kind_mismatch`): the path and the problem.
    pub by_hand: Vec<(String, Problem)>,
    /// Rows that need nothing sent (`extra`, `duplicate_folder`).
    pub nothing_to_send: u64,
}

/// Why a verify report cannot drive a repair.
#[derive(Debug, thiserror::Error)]
pub enum RepairError {
    /// The file cannot be opened or is not CSV.
    #[error("cannot read verify report {}", path.display())]
    Read {
        /// The report.
        path: PathBuf,
        /// Why.
        #[source]
        source: csv::Error,
    },
    /// The header is not verify's.
    #[error(
        "{} is not a verify report: its header is {found:?}, expected {expected:?} (write one with `boxlift verify --report FILE`)",
        path.display()
    )]
    NotAVerifyReport {
        /// The file.
        path: PathBuf,
        /// Its header.
        found: String,
        /// verify's header.
        expected: String,
    },
    /// A row does not parse.
    #[error("verify report {}, line {line}: {source}", path.display())]
    Row {
        /// The report.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// Why.
        #[source]
        source: csv::Error,
    },
}

impl Problem {
    /// Does sending the local file again repair this difference?
    pub fn resend_repairs(self) -> bool {
        matches!(
            self,
            Problem::Missing | Problem::SizeMismatch | Problem::Sha1Mismatch
        )
    }
}

/// Read a verify report into a [`RepairList`] (paths in report order, each once).
pub fn read_repairs(path: &Path) -> Result<RepairList, RepairError> {
    let read = |source| RepairError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut r = csv::Reader::from_path(path).map_err(read)?;
    let header = r.headers().map_err(read)?.clone();
    if header.iter().ne(Difference::COLUMNS) {
        return Err(RepairError::NotAVerifyReport {
            path: path.to_path_buf(),
            found: header.iter().collect::<Vec<_>>().join(","),
            expected: Difference::COLUMNS.join(","),
        });
    }
    let mut list = RepairList::default();
    let mut seen = std::collections::HashSet::new();
    for row in r.deserialize::<Difference>() {
        let d = row.map_err(|source| RepairError::Row {
            path: path.to_path_buf(),
            line: source.position().map_or(0, |p| p.line()),
            source,
        })?;
        if d.problem.resend_repairs() {
            if seen.insert(d.path.clone()) {
                list.resend.push(d.path);
            }
        } else if d.problem == Problem::KindMismatch {
            list.by_hand.push((d.path, d.problem));
        } else {
            list.nothing_to_send += 1;
        }
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_sort_into_resend_by_hand_and_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.csv");
        std::fs::write(
            &p,
            "path,problem,expected_size,box_size,expected_sha1,box_sha1,box_id\n\
             a.txt,missing,3,,abc,,\n\
             d,missing,,,,,\n\
             b.txt,sha1_mismatch,3,3,abc,def,12\n\
             c.txt,size_mismatch,3,4,abc,def,13\n\
             x.txt,extra,,4,,def,14\n\
             e,kind_mismatch,,5,,,15\n\
             f,duplicate_folder,,,,,\n",
        )
        .unwrap();
        let l = read_repairs(&p).unwrap();
        assert_eq!(l.resend, ["a.txt", "d", "b.txt", "c.txt"]);
        assert_eq!(l.by_hand, [("e".to_string(), Problem::KindMismatch)]);
        assert_eq!(l.nothing_to_send, 2);
    }

    #[test]
    fn a_migrate_report_is_refused_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.csv");
        std::fs::write(&p, "path,kind,size,action\na,file,1,uploaded\n").unwrap();
        let e = read_repairs(&p).unwrap_err().to_string();
        assert!(e.contains("is not a verify report"), "{e}");
        assert!(e.contains("boxlift verify --report"), "{e}");
        let p = dir.path().join("bad.csv");
        std::fs::write(
            &p,
            "path,problem,expected_size,box_size,expected_sha1,box_sha1,box_id\na,vanished,,,,,\n",
        )
        .unwrap();
        let e = read_repairs(&p).unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
        let e = read_repairs(&dir.path().join("none.csv"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("none.csv"), "{e}");
    }
}
