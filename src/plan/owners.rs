//! `--map FILE`: which subtrees of the source belong to which Box user (home folders owned by
//! their users). A CSV with the header `source,owner,dest`:
//!
//! - `source`: a directory under the source root, as a relative path (`home/alice`);
//! - `owner`: the Box user's login or numeric id;
//! - `dest`: a Box folder id the owner can write to, or empty: a folder named after the
//!   source's last component in the owner's own root ("0", made As-User the owner).
//!
//! Sources may not overlap: one under another (or the same twice) is an error, not "the longest
//! wins", so every file has at most one owner and the map reads the same in any order. A path's
//! owner is found by walking its ancestors (`a/b/c`, `a/b`, `a`) in a hash map: a lookup costs
//! the path's depth, whatever the number of owners.
use std::collections::HashMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};

use crate::box_api::model::UserMini;
use crate::box_api::{ApiError, BoxClient};

/// One line of the map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapEntry {
    /// Line number in the file (1 is the header).
    pub line: usize,
    /// '/'-separated path relative to the source root, without `.` or a trailing '/'.
    pub source: String,
    /// The owner as written (a login or a user id).
    pub owner: String,
    /// A Box folder id, or `None`: a new folder in the owner's root.
    pub dest: Option<String>,
}

impl MapEntry {
    /// The name of the folder made in the owner's root when `dest` is empty.
    pub fn home_name(&self) -> &str {
        self.source.rsplit('/').next().unwrap_or(&self.source)
    }
}

/// A parsed and checked `--map` file.
#[derive(Debug, Clone, Default)]
pub struct OwnerMap {
    /// The file it was read from.
    pub file: PathBuf,
    /// Its lines, in file order.
    pub entries: Vec<MapEntry>,
    by_source: HashMap<String, usize>,
}

/// What is wrong with a `--map` file: the file, the line, the reason and what to do.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// The file cannot be read.
    #[error("--map {}: cannot read it: {source}; give the path of a CSV file with the header source,owner,dest", file.display())]
    Read {
        /// The map file.
        file: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A line (or the header) is wrong.
    #[error("--map {}:{line}: {reason}; {remedy}", file.display())]
    Line {
        /// The map file.
        file: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
        /// What to do.
        remedy: &'static str,
    },
    /// Two sources overlap (one is under the other, or the same twice).
    #[error("--map {}:{line}: source {source_path:?} overlaps {other:?} (line {other_line}): every file may have one owner only, so no source may lie under another; map the subtrees separately", file.display())]
    Overlap {
        /// The map file.
        file: PathBuf,
        /// The later line.
        line: usize,
        /// Its source.
        source_path: String,
        /// The earlier line it overlaps.
        other_line: usize,
        /// That line's source.
        other: String,
    },
    /// Box knows none of these owners (every one listed).
    #[error("--map {}: Box knows no user {}; fix the logins or ids (a managed user's login, or its numeric id), nothing was uploaded", file.display(), list_unknown(.unknown))]
    UnknownOwners {
        /// The map file.
        file: PathBuf,
        /// (line, owner as written), one per line that names an unknown owner.
        unknown: Vec<(usize, String)>,
    },
    /// Resolving an owner failed (network, credentials).
    #[error("--map {}:{line}: cannot look up owner {owner:?}: {source}", file.display())]
    Lookup {
        /// The map file.
        file: PathBuf,
        /// The line.
        line: usize,
        /// The owner as written.
        owner: String,
        /// Box's answer.
        #[source]
        source: Box<ApiError>,
    },
}

fn list_unknown(u: &[(usize, String)]) -> String {
    u.iter()
        .map(|(line, o)| format!("{o:?} (line {line})"))
        .collect::<Vec<_>>()
        .join(", ")
}

const HEADER_REMEDY: &str = "the first line must be the header source,owner,dest";
const SOURCE_REMEDY: &str =
    "give a directory under the source root as a relative path, such as home/alice";

impl OwnerMap {
    /// Read `file` and check it against the source root `src`: every source must be an existing
    /// directory under `src` (not `src` itself, not through `..` or a symlink out of it), and
    /// no two may overlap.
    pub fn load(file: &Path, src: &Path) -> Result<OwnerMap, MapError> {
        let text = std::fs::read_to_string(file).map_err(|source| MapError::Read {
            file: file.to_path_buf(),
            source,
        })?;
        let map = OwnerMap::parse(&text, file)?;
        let root = src.canonicalize().unwrap_or_else(|_| src.to_path_buf());
        for e in &map.entries {
            let dir = src.join(&e.source);
            let real = dir.canonicalize().ok().filter(|d| d.is_dir());
            let reason = match &real {
                None => format!(
                    "source {:?} is not a directory under {}",
                    e.source,
                    src.display()
                ),
                Some(d) if !d.starts_with(&root) || d == &root => format!(
                    "source {:?} leads out of the source root {} (a symlink?)",
                    e.source,
                    src.display()
                ),
                Some(_) => continue,
            };
            return Err(MapError::Line {
                file: file.to_path_buf(),
                line: e.line,
                reason,
                remedy: SOURCE_REMEDY,
            });
        }
        Ok(map)
    }

    /// Read and parse `file` without checking its sources on disk (`audit --map`, which reads
    /// a manifest, not the tree).
    pub fn read(file: &Path) -> Result<OwnerMap, MapError> {
        let text = std::fs::read_to_string(file).map_err(|source| MapError::Read {
            file: file.to_path_buf(),
            source,
        })?;
        OwnerMap::parse(&text, file)
    }

    /// Parse the CSV text of a map (`file` names it in errors); sources are checked for form
    /// and overlap, not against the disk.
    pub fn parse(text: &str, file: &Path) -> Result<OwnerMap, MapError> {
        let bad = |line: usize, reason: String, remedy: &'static str| MapError::Line {
            file: file.to_path_buf(),
            line,
            reason,
            remedy,
        };
        let mut rd = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let header = rd
            .headers()
            .map_err(|e| bad(1, format!("unreadable header ({e})"), HEADER_REMEDY))?
            .clone();
        let col = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
        let (Some(s), Some(o), Some(d)) = (col("source"), col("owner"), col("dest")) else {
            let got = header.iter().collect::<Vec<_>>().join(",");
            return Err(bad(1, format!("the header is {got:?}"), HEADER_REMEDY));
        };
        let mut map = OwnerMap {
            file: file.to_path_buf(),
            ..OwnerMap::default()
        };
        for rec in rd.records() {
            // Line numbers from byte offsets: the reader's own count skips blank lines.
            let line_at = |p: &csv::Position| {
                let mut at = (p.byte() as usize).min(text.len());
                // A record's position may be where blank lines before it begin.
                while matches!(text.as_bytes().get(at), Some(b'\n' | b'\r')) {
                    at += 1;
                }
                text.as_bytes()[..at]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count()
                    + 1
            };
            let rec = rec.map_err(|e| {
                let line = e.position().map_or(0, line_at);
                bad(
                    line,
                    format!("not CSV ({e})"),
                    "quote fields that hold commas",
                )
            })?;
            let line = rec.position().map_or(0, line_at);
            if rec.iter().all(str::is_empty) {
                continue;
            }
            if rec.len() != header.len() {
                let reason = format!("{} fields where the header has {}", rec.len(), header.len());
                return Err(bad(
                    line,
                    reason,
                    "write source,owner,dest (dest may be empty)",
                ));
            }
            let field = |i: usize| rec.get(i).unwrap_or("").to_string();
            let source = normalize(&field(s)).map_err(|why| bad(line, why, SOURCE_REMEDY))?;
            let owner = field(o);
            if owner.is_empty() {
                let remedy = "name the Box user by login or numeric id";
                return Err(bad(line, "the owner is empty".into(), remedy));
            }
            let dest = Some(field(d)).filter(|d| !d.is_empty());
            if let Some(id) = &dest
                && !id.bytes().all(|b| b.is_ascii_digit())
            {
                let remedy = "give a Box folder id (digits), or leave dest empty for a new folder in the owner's root";
                return Err(bad(line, format!("dest {id:?} is not a folder id"), remedy));
            }
            map.push(MapEntry {
                line,
                source,
                owner,
                dest,
            })?;
        }
        Ok(map)
    }

    fn push(&mut self, e: MapEntry) -> Result<(), MapError> {
        // The same source, one under another's, or one above another's.
        let clash = self.owner_index(&e.source).or_else(|| {
            let below = format!("{}/", e.source);
            self.entries
                .iter()
                .position(|o| o.source.starts_with(&below))
        });
        if let Some(i) = clash {
            let other = &self.entries[i];
            return Err(MapError::Overlap {
                file: self.file.clone(),
                line: e.line,
                source_path: e.source,
                other_line: other.line,
                other: other.source.clone(),
            });
        }
        self.by_source.insert(e.source.clone(), self.entries.len());
        self.entries.push(e);
        Ok(())
    }

    /// Is the map empty?
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn owner_index(&self, rel: &str) -> Option<usize> {
        let mut p = rel;
        loop {
            if let Some(&i) = self.by_source.get(p) {
                return Some(i);
            }
            p = &p[..p.rfind('/')?];
        }
    }

    /// The entry whose source holds `rel` (a '/'-separated path relative to the source root),
    /// or is `rel` itself.
    pub fn entry_of(&self, rel: &str) -> Option<&MapEntry> {
        self.owner_index(rel).map(|i| &self.entries[i])
    }

    /// Is `rel` a strict ancestor of some source (a directory above a home folder)?
    pub fn is_above_source(&self, rel: &str) -> bool {
        let below = if rel.is_empty() {
            String::new()
        } else {
            format!("{rel}/")
        };
        self.entries.iter().any(|e| e.source.starts_with(&below))
    }

    /// The distinct owners as written, with the first line naming each.
    pub fn owners(&self) -> Vec<(usize, &str)> {
        let mut seen = std::collections::HashSet::new();
        self.entries
            .iter()
            .filter(|e| seen.insert(e.owner.as_str()))
            .map(|e| (e.line, e.owner.as_str()))
            .collect()
    }

    /// Resolve every owner through Box (`BoxClient::find_user`, a few at once). Owners Box does
    /// not know are listed together in one [`MapError::UnknownOwners`].
    pub async fn resolve(&self, client: &BoxClient) -> Result<Owners, MapError> {
        use futures::StreamExt;
        let owners = self.owners();
        let found: Vec<_> = futures::stream::iter(
            owners
                .iter()
                .map(|&(line, who)| async move { (line, who, client.find_user(who).await) }),
        )
        .buffered(8)
        .collect()
        .await;
        let mut users = HashMap::new();
        let mut unknown = Vec::new();
        for (line, who, res) in found {
            match res {
                Ok(Some(u)) => {
                    users.insert(who.to_string(), u);
                }
                Ok(None) => unknown.push((line, who.to_string())),
                Err(e) => {
                    return Err(MapError::Lookup {
                        file: self.file.clone(),
                        line,
                        owner: who.to_string(),
                        source: Box::new(e),
                    });
                }
            }
        }
        if !unknown.is_empty() {
            return Err(MapError::UnknownOwners {
                file: self.file.clone(),
                unknown,
            });
        }
        Ok(Owners(users))
    }
}

/// Owners resolved to Box users, by the owner as written in the map.
#[derive(Debug, Clone, Default)]
pub struct Owners(pub HashMap<String, UserMini>);

impl Owners {
    /// The Box user id of the owner written `who`.
    pub fn id(&self, who: &str) -> Option<&str> {
        self.0.get(who).map(|u| u.id.as_str())
    }
}

/// `./home/alice/` → `home/alice`; refuses absolute paths, `..` and the root itself.
fn normalize(raw: &str) -> Result<String, String> {
    let p = Path::new(raw);
    let mut parts = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => parts.push(
                s.to_str()
                    .ok_or_else(|| format!("source {raw:?} is not UTF-8"))?
                    .to_string(),
            ),
            Component::CurDir => {}
            Component::ParentDir => return Err(format!("source {raw:?} goes up with '..'")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!("source {raw:?} is absolute"));
            }
        }
    }
    if parts.is_empty() {
        return Err(format!(
            "source {raw:?} is the whole source root (map subdirectories; the rest goes to --dest)"
        ));
    }
    Ok(parts.join("/"))
}

impl fmt::Display for MapEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {}", self.source, self.owner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<OwnerMap, MapError> {
        OwnerMap::parse(text, Path::new("map.csv"))
    }

    #[test]
    fn parses_lines_and_finds_owners_by_prefix() {
        let m = parse(
            "source,owner,dest\n./home/alice/,alice@example.com,\nhome/bob,42,123\n\n\"home/c,d\",carol@x,\n",
        )
        .unwrap();
        assert_eq!(m.entries.len(), 3);
        assert_eq!(m.entries[0].source, "home/alice");
        assert_eq!(m.entries[0].line, 2);
        assert_eq!(m.entries[0].dest, None);
        assert_eq!(m.entries[1].dest.as_deref(), Some("123"));
        assert_eq!(m.entries[2].source, "home/c,d");
        assert_eq!(m.entries[2].line, 5);
        assert_eq!(
            m.entry_of("home/alice/x/y.txt").unwrap().owner,
            "alice@example.com"
        );
        assert_eq!(m.entry_of("home/alice").unwrap().owner, "alice@example.com");
        assert!(m.entry_of("home/alicex/y.txt").is_none());
        assert!(m.entry_of("home").is_none());
        assert!(m.entry_of("").is_none());
        assert!(m.is_above_source("home"));
        assert!(m.is_above_source(""));
        assert!(!m.is_above_source("home/alice"));
        assert_eq!(m.entries[0].home_name(), "alice");
        assert_eq!(m.owners().len(), 3);
    }

    #[test]
    fn columns_follow_the_header() {
        let m = parse("owner,dest,source\nalice,,a\n").unwrap();
        assert_eq!(m.entries[0].source, "a");
        assert_eq!(m.entries[0].owner, "alice");
    }

    #[test]
    fn overlapping_sources_are_an_error_in_either_order() {
        for text in [
            "source,owner,dest\nhome/alice,a,\nhome/alice/docs,b,\n",
            "source,owner,dest\nhome/alice/docs,b,\nhome/alice,a,\n",
            "source,owner,dest\nhome/alice,a,\n./home/alice/,b,\n",
        ] {
            let e = parse(text).unwrap_err();
            assert!(
                matches!(
                    e,
                    MapError::Overlap {
                        line: 3,
                        other_line: 2,
                        ..
                    }
                ),
                "{e}"
            );
            assert!(e.to_string().contains("map.csv:3"), "{e}");
        }
        // Siblings sharing a name prefix do not overlap.
        parse("source,owner,dest\nhome/al,a,\nhome/alice,b,\n").unwrap();
    }

    #[test]
    fn bad_lines_name_file_line_reason_and_remedy() {
        let cases = [
            ("src,owner\na,b\n", 1, "header"),
            ("source,owner,dest\na,b\n", 2, "2 fields"),
            ("source,owner,dest\na,,\n", 2, "owner is empty"),
            ("source,owner,dest\n/etc,a,\n", 2, "absolute"),
            ("source,owner,dest\na/../b,a,\n", 2, ".."),
            ("source,owner,dest\n.,a,\n", 2, "whole source root"),
            (
                "source,owner,dest\nok,a,\nb,a,Shared\n",
                3,
                "not a folder id",
            ),
        ];
        for (text, line, why) in cases {
            let e = parse(text).unwrap_err();
            let msg = e.to_string();
            assert!(
                matches!(e, MapError::Line { line: l, .. } if l == line),
                "{msg}"
            );
            assert!(msg.contains(&format!("map.csv:{line}")), "{msg}");
            assert!(msg.contains(why), "{msg}");
            assert!(msg.contains("; "), "a remedy follows: {msg}");
        }
    }

    #[test]
    fn load_checks_sources_on_disk() {
        let dir = std::env::temp_dir().join(format!("boxlift-map-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("src/home/alice")).unwrap();
        std::fs::write(dir.join("src/file"), "x").unwrap();
        let map = dir.join("map.csv");
        std::fs::write(&map, "source,owner,dest\nhome/alice,a,\n").unwrap();
        OwnerMap::load(&map, &dir.join("src")).unwrap();
        for bad in ["home/bob", "file"] {
            std::fs::write(
                &map,
                format!("source,owner,dest\nhome/alice,a,\n{bad},b,\n"),
            )
            .unwrap();
            let e = OwnerMap::load(&map, &dir.join("src")).unwrap_err();
            assert!(e.to_string().contains(":3: source"), "{e}");
            assert!(e.to_string().contains("not a directory"), "{e}");
        }
        let e = OwnerMap::load(&dir.join("nope.csv"), &dir.join("src")).unwrap_err();
        assert!(matches!(e, MapError::Read { .. }), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
