//! SHA-1 of files, as fast as the disk and the CPU's SHA instructions allow, and honest about
//! files that change while being read.
//!
//! `sha1` 0.11 picks the x86 SHA-NI (or ARMv8 SHA2) compression function at run time through
//! `cpufeatures`; [`sha1_backend`] reports which one this CPU gets. Large files are memory-mapped
//! (no copy into a buffer); small ones are read into a per-thread buffer, where a map would cost
//! more (mmap + page-table set-up + munmap) than the copy it saves.
use std::cell::RefCell;
use std::fs::{File, Metadata};
use std::io;
use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};

mod mmap;

/// Files at least this big are memory-mapped; smaller ones are read. At 1 MiB the copy of a
/// read costs about as much as setting up and tearing down a map of that size.
pub const MMAP_THRESHOLD: u64 = 1024 * 1024;

/// Large files are mapped this much at a time (a multiple of the page size): mapped pages count
/// in the process's resident set until unmapped, so mapping a whole 512 MiB file made a
/// migration's peak RSS grow with the largest files being hashed (1.2 GB in benches/e2e).
///
/// Measured (2 GiB page-cached file, one thread, thread CPU time, 2-core EPYC with SHA-NI, load
/// 5): the `sha1` kernel on a buffer 1,880 MB/s (`openssl speed -evp sha1 -bytes 8192`: 1,810
/// to 1,860); 64 MiB windows with MADV_SEQUENTIAL 1,770, no advice 1,825, MADV_WILLNEED 1,850,
/// MAP_POPULATE 1,740; 8 MiB and 1 GiB windows the same within noise; `pread` into a reused
/// 128 KiB to 4 MiB buffer 1,440 to 1,600 (the copy). So mapping costs 2 to 6% and the
/// variants differ by less than the noise; reading costs 15 to 20%. 16 MiB keeps the hashing
/// threads' share of a migration's RSS at 32 MiB on 2 cores, beside the parts in flight.
const MMAP_WINDOW: u64 = 16 * 1024 * 1024;

/// Size of the per-thread read buffer for files below [`MMAP_THRESHOLD`].
const READ_BUF: usize = 256 * 1024;

/// What a file looked like at one moment: the quick check (size + mtime) compares these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, seconds since the epoch.
    pub mtime_secs: i64,
    /// Nanoseconds part of the modification time.
    pub mtime_nanos: u32,
}

impl Stamp {
    /// The stamp of these metadata.
    pub fn of(meta: &Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        Stamp {
            size: meta.len(),
            mtime_secs: meta.mtime(),
            mtime_nanos: meta.mtime_nsec().clamp(0, 999_999_999) as u32,
        }
    }

    /// Stat `path` (following symlinks, as opening it does).
    pub fn stat(path: &Path) -> io::Result<Stamp> {
        std::fs::metadata(path).map(|m| Stamp::of(&m))
    }
}

/// Hashing one file failed.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// `open` failed (permission denied, vanished, …).
    #[error("cannot open {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Reading (or mapping) failed part way.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

impl HashError {
    /// The underlying I/O error.
    pub fn io(&self) -> &io::Error {
        match self {
            HashError::Open { source, .. } | HashError::Read { source, .. } => source,
        }
    }
}

/// The result of [`hash_checked`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// The file did not change while it was read; `stamp` is what it looked like (which differs
    /// from the caller's when the first pass saw a change and the second did not).
    Stable {
        /// SHA-1 of the content.
        sha1: [u8; 20],
        /// Size and mtime the SHA-1 belongs to.
        stamp: Stamp,
    },
    /// The file changed during both passes: no trustworthy SHA-1.
    Changed {
        /// Stamp before the last pass.
        before: Stamp,
        /// Stamp after the last pass.
        after: Stamp,
    },
}

/// SHA-1 of the whole file at `path`.
pub fn hash_file(path: &Path) -> Result<[u8; 20], HashError> {
    let file = File::open(path).map_err(|source| HashError::Open {
        path: path.to_owned(),
        source,
    })?;
    let len = file
        .metadata()
        .map_err(|source| HashError::Read {
            path: path.to_owned(),
            source,
        })?
        .len();
    hash_open(&file, len).map_err(|source| HashError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Hash `path` expecting it to look like `expected` (from the walk); re-stat afterwards and, if
/// size or mtime moved, hash once more from the new stamp. A file still moving after that is
/// [`Checked::Changed`], never a wrong SHA-1.
///
/// The re-stat is an `fstat` of the open file: cheaper than a path lookup, and it sees writes
/// to the file being read (a file replaced by rename was read whole as it was at walk time).
pub fn hash_checked(path: &Path, expected: Stamp) -> Result<Checked, HashError> {
    hash_checked_with(path, expected, |f| f.metadata().map(|m| Stamp::of(&m)))
}

/// [`hash_checked`] with the re-stat injected (tests simulate a file that keeps changing).
pub fn hash_checked_with(
    path: &Path,
    expected: Stamp,
    mut stat: impl FnMut(&File) -> io::Result<Stamp>,
) -> Result<Checked, HashError> {
    let read_err = |source| HashError::Read {
        path: path.to_owned(),
        source,
    };
    let mut before = expected;
    for attempt in 0..2 {
        let file = File::open(path).map_err(|source| HashError::Open {
            path: path.to_owned(),
            source,
        })?;
        // Hash exactly the size the stamp promised: a file growing under us must not make the
        // read chase its end forever; the re-stat below catches the change instead.
        let sha1 = hash_open(&file, before.size).map_err(read_err)?;
        let after = stat(&file).map_err(read_err)?;
        if after == before {
            return Ok(Checked::Stable { sha1, stamp: after });
        }
        if attempt == 1 {
            return Ok(Checked::Changed { before, after });
        }
        before = after;
    }
    unreachable!("the loop returns on its second pass")
}

/// Hash the first `len` bytes of an open file: mapped when large, read when small. A file that
/// turns out shorter than `len` hashes what is there (the re-stat reports the change).
pub fn hash_open(file: &File, len: u64) -> io::Result<[u8; 20]> {
    // Never map past the current end: touching a page beyond it is SIGBUS, and the file may
    // have shrunk since the walk saw it.
    let len = if len >= MMAP_THRESHOLD {
        len.min(file.metadata()?.len())
    } else {
        len
    };
    if len >= MMAP_THRESHOLD {
        let mut h = Sha1::new();
        let mut offset = 0;
        while offset < len {
            let window = (len - offset).min(MMAP_WINDOW);
            let Ok(map) = mmap::map_for_read(file, offset, window) else {
                break;
            };
            // Feed in 8 MiB slices so the kernel's sequential read-ahead keeps ahead of the hash.
            for chunk in map.chunks(8 * 1024 * 1024) {
                h.update(chunk);
            }
            offset += window;
            // `map` is dropped here: the window's pages leave this process's resident set,
            // so hashing a 100 GB file costs at most one window of RSS per hashing thread.
        }
        if offset >= len {
            return Ok(h.finalize().into());
        }
        // A window could not be mapped: read the rest instead of starting over.
        return hash_read_from(file, offset, len - offset, h);
    }
    hash_read(file, len)
}

thread_local! {
    static BUF: RefCell<Vec<u8>> = RefCell::new(vec![0u8; READ_BUF]);
}

fn hash_read(file: &File, len: u64) -> io::Result<[u8; 20]> {
    hash_read_from(file, 0, len, Sha1::new())
}

/// Feed `len` bytes of `file` from `offset` into `h` with positioned reads through the
/// per-thread buffer, and finish the hash.
fn hash_read_from(file: &File, offset: u64, len: u64, mut h: Sha1) -> io::Result<[u8; 20]> {
    use std::os::unix::fs::FileExt;
    BUF.with(|buf| {
        let mut buf = buf.borrow_mut();
        let mut pos = offset;
        let end = offset + len;
        while pos < end {
            let want = (end - pos).min(buf.len() as u64) as usize;
            let n = match file.read_at(&mut buf[..want], pos) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            h.update(&buf[..n]);
            pos += n as u64;
        }
        Ok(h.finalize().into())
    })
}

/// Which SHA-1 compression function `sha1` uses on this CPU (for benches and `--version` talk).
pub fn sha1_backend() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("sha")
            && std::arch::is_x86_feature_detected!("sse4.1")
        {
            return "x86 SHA-NI";
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("sha2") {
            return "ARMv8 SHA";
        }
    }
    "portable (software)"
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn sha1_hex(data: &[u8]) -> String {
        hex::encode(Sha1::digest(data))
    }

    #[test]
    fn read_and_map_paths_agree() {
        let dir = tempfile::tempdir().unwrap();
        for size in [0usize, 1, 4095, READ_BUF + 7, MMAP_THRESHOLD as usize + 3] {
            let data: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
            let p = dir.path().join(format!("f{size}"));
            std::fs::File::create(&p).unwrap().write_all(&data).unwrap();
            assert_eq!(
                hex::encode(hash_file(&p).unwrap()),
                sha1_hex(&data),
                "{size}"
            );
        }
        assert_eq!(sha1_hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    }

    #[test]
    fn a_file_that_keeps_changing_is_flagged_and_a_settled_one_rehashed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("moving");
        std::fs::write(&p, b"hello").unwrap();
        let real = Stamp::stat(&p).unwrap();
        // Every re-stat reports a new mtime: two passes, then Changed.
        let mut n = 0;
        let out = hash_checked_with(&p, real, |_| {
            n += 1;
            Ok(Stamp {
                mtime_secs: real.mtime_secs + n,
                ..real
            })
        })
        .unwrap();
        assert!(matches!(out, Checked::Changed { .. }), "{out:?}");
        assert_eq!(n, 2);

        // The walk saw an older stamp; the file has settled since: one re-hash, then Stable
        // with the new stamp.
        let old = Stamp {
            mtime_secs: real.mtime_secs - 10,
            ..real
        };
        let out = hash_checked(&p, old).unwrap();
        assert_eq!(
            out,
            Checked::Stable {
                sha1: Sha1::digest(b"hello").into(),
                stamp: real
            }
        );
    }

    #[test]
    fn open_errors_name_the_file() {
        let err = hash_file(Path::new("/nonexistent/boxlift-x")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/boxlift-x"));
        assert_eq!(err.io().kind(), io::ErrorKind::NotFound);
    }
}
