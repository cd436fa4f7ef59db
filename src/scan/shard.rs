//! `--shard K/N`: a deterministic partition of a tree among N independent processes (one host
//! or many, e.g. a Kubernetes Indexed Job) that share nothing but the Box destination.
//!
//! A row belongs to a shard by a stable hash of its *folder*: a file by its parent directory,
//! a directory by its own path. So one folder's files, and the folder's own row, always land in
//! the same shard: each shard lists, creates and fills its own folders, and the only folders two
//! shards both touch are shared ancestors, which Box resolves (409 `item_name_in_use` → the
//! existing folder's id). Every row of the manifest is in exactly one shard, so the shards'
//! reports merge into one row per path.
//!
//! The hash is the first 8 bytes of the SHA-1 of the folder path's UTF-8 bytes, big-endian,
//! modulo N. It never changes between versions or machines (a test pins it): shards of one
//! migration may run different boxlift builds, and a re-run must find its own journal's files.
use std::fmt;
use std::str::FromStr;

use sha1::{Digest, Sha1};

/// One shard of N: `index` in `0..count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This process's shard, 0-based (Kubernetes' `JOB_COMPLETION_INDEX`).
    pub index: u32,
    /// How many shards the tree is split into.
    pub count: u32,
}

/// `--shard` could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--shard {given:?}: {reason} (expected K/N with 0 <= K < N, e.g. 0/4 ... 3/4)")]
pub struct ShardError {
    given: String,
    reason: &'static str,
}

impl FromStr for Shard {
    type Err = ShardError;
    fn from_str(s: &str) -> Result<Self, ShardError> {
        let err = |reason| ShardError {
            given: s.to_string(),
            reason,
        };
        let (k, n) = s.trim().split_once('/').ok_or_else(|| err("no '/'"))?;
        let index: u32 = k
            .trim()
            .parse()
            .map_err(|_| err("K is not a whole number"))?;
        let count: u32 = n
            .trim()
            .parse()
            .map_err(|_| err("N is not a whole number"))?;
        if count == 0 {
            return Err(err("N must be at least 1"));
        }
        if index >= count {
            return Err(err("K must be less than N (shards are numbered from 0)"));
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// The shard that owns the folder at `folder` ('/'-separated, relative; "" is the root).
    pub fn of_folder(folder: &str, count: u32) -> u32 {
        let digest = Sha1::digest(folder.as_bytes());
        let mut head = [0u8; 8];
        head.copy_from_slice(&digest[..8]);
        (u64::from_be_bytes(head) % u64::from(count.max(1))) as u32
    }

    /// Whether this shard owns the manifest row at `path` (a directory's row goes with its own
    /// contents, a file's with its siblings).
    pub fn owns(&self, path: &str, is_dir: bool) -> bool {
        if self.count <= 1 {
            return true;
        }
        let folder = if is_dir {
            path
        } else {
            path.rsplit_once('/').map_or("", |(parent, _)| parent)
        };
        Shard::of_folder(folder, self.count) == self.index
    }

    /// The share of each rate limit this shard may use by default: 1/N.
    pub fn default_rate_share(&self) -> u32 {
        self.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_k_of_n_and_explains_bad_input() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        assert_eq!(" 0 / 1 ".parse::<Shard>().unwrap().to_string(), "0/1");
        for (bad, why) in [
            ("4", "no '/'"),
            ("x/4", "K is not"),
            ("1/y", "N is not"),
            ("0/0", "at least 1"),
            ("4/4", "less than N"),
            ("-1/4", "K is not"),
        ] {
            let e = bad.parse::<Shard>().unwrap_err().to_string();
            assert!(e.contains(why) && e.contains(bad), "{bad}: {e}");
        }
    }

    /// The partition is part of the on-disk contract (journals, reports of earlier runs):
    /// these values must never change.
    #[test]
    fn the_hash_is_pinned() {
        let got: Vec<u32> = ["", "a", "docs", "docs/2024", "d001/s07"]
            .iter()
            .map(|f| Shard::of_folder(f, 1000))
            .collect();
        // First 8 bytes of SHA-1("") = da39a3ee5e6b4b0d = 15724779818122431245; % 1000 = 245.
        assert_eq!(got, vec![245, 108, 477, 349, 230]);
    }

    #[test]
    fn a_folder_and_its_files_share_a_shard_and_every_row_has_one_owner() {
        let n = 4;
        let shards: Vec<Shard> = (0..n).map(|index| Shard { index, count: n }).collect();
        let mut per_shard = vec![0usize; n as usize];
        for d in 0..300 {
            let dir = format!("top{}/d{d:03}", d % 7);
            let owners: Vec<u32> = shards
                .iter()
                .filter(|s| s.owns(&dir, true))
                .map(|s| s.index)
                .collect();
            assert_eq!(owners.len(), 1, "{dir}");
            for f in 0..5 {
                let file = format!("{dir}/f{f}.txt");
                let file_owners: Vec<u32> = shards
                    .iter()
                    .filter(|s| s.owns(&file, false))
                    .map(|s| s.index)
                    .collect();
                assert_eq!(file_owners, owners, "{file}");
            }
            per_shard[owners[0] as usize] += 1;
        }
        // 300 folders over 4 shards: none is starved (expected 75 each).
        assert!(per_shard.iter().all(|&c| c > 40), "{per_shard:?}");
        // Top-level files belong with the root folder "".
        let root = Shard::of_folder("", n);
        assert!(shards[root as usize].owns("README.txt", false));
    }

    #[test]
    fn one_shard_owns_everything() {
        let s = Shard { index: 0, count: 1 };
        assert!(s.owns("a/b", false) && s.owns("a", true));
    }
}
