//! `--shard K/N`: a deterministic partition of a tree among N independent processes (one host
//! or many, e.g. a Kubernetes Indexed Job) that share nothing but the Box destination.
//!
//! A row belongs to a shard by a stable hash of its own relative path, files and directories
//! alike. Sharding by folder, as before, split a tree of 8 large folders into
//! 4 very uneven shards, and 64 shards over 8 folders would leave most of them empty; by file,
//! every shard gets about 1/N of the files whatever the tree's shape, which is what lets
//! Kubernetes balance many small shards over a few pods. The price: a folder's files are spread
//! over the shards, so each shard resolves (and lists) the folders its files sit in. Folder
//! creation is idempotent — two shards creating one folder meet Box's 409
//! `item_name_in_use` and reuse the existing id, and `settle_folder_twins` converges on one
//! folder if both creations succeeded — so no folder or file is made twice. Every row of the
//! manifest is in exactly one shard, so the shards' reports merge into one row per path.
//!
//! The hash is the first 8 bytes of the SHA-1 of the path's UTF-8 bytes, big-endian, modulo N.
//! It never changes between machines (a test pins it): shards of one migration must run the same
//! partition. Journals of a by-folder run (older boxlift) are still honoured file by
//! file: a file another shard finished meets Box's listing with the same SHA-1 and is reported
//! `skipped_exists`, never uploaded twice.
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
    /// The shard that owns the row at `path` ('/'-separated, relative).
    pub fn of_path(path: &str, count: u32) -> u32 {
        let digest = Sha1::digest(path.as_bytes());
        let mut head = [0u8; 8];
        head.copy_from_slice(&digest[..8]);
        (u64::from_be_bytes(head) % u64::from(count.max(1))) as u32
    }

    /// Whether this shard owns the manifest row at `path` (file or directory: by its own path).
    pub fn owns(&self, path: &str, _is_dir: bool) -> bool {
        self.count <= 1 || Shard::of_path(path, self.count) == self.index
    }

    /// The share of each rate limit this shard takes when `--rate-share` is not given: 1/N,
    /// safe when all N shards run at once. With fewer at once (an Indexed Job's
    /// `parallelism` below its `completions`) give `--rate-share` that number instead, or the
    /// running shards leave most of the budget unused.
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
            .map(|f| Shard::of_path(f, 1000))
            .collect();
        // First 8 bytes of SHA-1("") = da39a3ee5e6b4b0d = 15724779818122431245; % 1000 = 245.
        assert_eq!(got, vec![245, 108, 477, 349, 230]);
    }

    /// 8 folders of 250 files over 64 shards: by file, every shard gets a fair share (by folder,
    /// 56 of them would be empty), and every row has exactly one owner.
    #[test]
    fn files_spread_evenly_over_many_shards_and_every_row_has_one_owner() {
        let n = 64;
        let shards: Vec<Shard> = (0..n).map(|index| Shard { index, count: n }).collect();
        let mut per_shard = vec![0usize; n as usize];
        for d in 0..8 {
            let dir = format!("d{d}");
            assert_eq!(shards.iter().filter(|s| s.owns(&dir, true)).count(), 1);
            for f in 0..250 {
                let file = format!("{dir}/f{f:03}.txt");
                let owners: Vec<u32> = shards
                    .iter()
                    .filter(|s| s.owns(&file, false))
                    .map(|s| s.index)
                    .collect();
                assert_eq!(owners.len(), 1, "{file}");
                per_shard[owners[0] as usize] += 1;
            }
        }
        // 2,000 files, 31.25 expected per shard.
        let (min, max) = (
            *per_shard.iter().min().unwrap(),
            *per_shard.iter().max().unwrap(),
        );
        assert!(min >= 15 && max <= 50, "{per_shard:?}");
    }

    #[test]
    fn one_shard_owns_everything() {
        let s = Shard { index: 0, count: 1 };
        assert!(s.owns("a/b", false) && s.owns("a", true));
    }
}
