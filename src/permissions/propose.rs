//! `boxlift permissions SRC --users USERS.csv --groups GROUPS.csv -o PERMS.csv`: the
//! collaborations that carry SRC's directory permissions into Box, as a CSV to review and then
//! give to `migrate --permissions`.
//!
//! Only directories count (Box collaborations are on folders; file modes are not carried).
//! For each directory: its owner's bits, its owning group's bits, and each named user and
//! group of its access ACL (masked). A principal a directory does not name gets the "other"
//! bits there (group memberships are not looked up). uid 0 and gid 0 (root) are left out: the
//! migrated tree is owned by the Box identity that uploads it.
//!
//! Rows (`path,collaborator,role,status,reason`), in walk order (by name), per directory:
//! - `grant`: the role adds to what waterfalls from above (the same role as a parent's gives
//!   no row).
//! - `unmapped`: a grant for a local user or group USERS.csv/GROUPS.csv lacks
//!   (`uid:N`/`gid:N`); nothing is granted for it.
//! - `conflict`: the directory is more restricted than its parent for a principal; Box cannot
//!   take away what a parent's collaboration grants, so the parent's access stays below.
//! - `ignored`: the "other" bits give a role (at SRC, and where they change): boxlift never
//!   grants the whole enterprise; grant a group by hand if that was meant.
use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::acl::{self, Principal};
use super::{Bits, cell, role_of, waterfall};
use crate::box_api::model::CollabRole;

/// What `boxlift permissions` reads.
#[derive(Debug, Clone)]
pub struct ProposeOptions {
    /// The tree to read.
    pub src: PathBuf,
    /// `local,box` user map (local name or uid → Box login or id).
    pub users: Option<PathBuf>,
    /// `local,box` group map (local name or gid → Box group name or id).
    pub groups: Option<PathBuf>,
    /// The CSV to write.
    pub output: PathBuf,
    /// `/etc/passwd` and `/etc/group` (local names of the map files; tests point elsewhere).
    pub passwd: PathBuf,
    /// See `passwd`.
    pub group_file: PathBuf,
}

impl ProposeOptions {
    /// Options reading the system's `/etc/passwd` and `/etc/group`.
    pub fn new(src: &Path, output: &Path) -> Self {
        ProposeOptions {
            src: src.to_path_buf(),
            users: None,
            groups: None,
            output: output.to_path_buf(),
            passwd: "/etc/passwd".into(),
            group_file: "/etc/group".into(),
        }
    }
}

/// Why no proposal was written.
#[derive(Debug, thiserror::Error)]
pub enum ProposeError {
    /// A map file could not be read, or a line of it is wrong.
    #[error("{file}:{line}: {reason}")]
    Map {
        /// The map file.
        file: PathBuf,
        /// 1-based line (0: the whole file).
        line: u64,
        /// What is wrong, and what to do.
        reason: String,
    },
    /// A directory of SRC could not be read.
    #[error("{path}: {source}")]
    Walk {
        /// The directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A directory's ACL attribute is not what Linux writes.
    #[error("{path}: {source}")]
    Acl {
        /// The directory.
        path: PathBuf,
        /// The error.
        source: acl::AclError,
    },
    /// The output could not be written.
    #[error("writing {path}: {source}")]
    Write {
        /// The CSV.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// One row of the proposal.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Proposed {
    /// Directory relative to SRC (`.` is SRC: the top folder).
    pub path: String,
    /// Box login or id, `group:NAME`/`group:ID`; `uid:N`/`gid:N` when unmapped; `other`.
    pub collaborator: String,
    /// The Box role (empty on a conflict where the local bits give no access).
    pub role: String,
    /// `grant`, `unmapped`, `conflict` or `ignored`.
    pub status: String,
    /// Why (empty on grants).
    pub reason: String,
}

/// Rows per status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProposeSummary {
    /// Directories read.
    pub dirs: u64,
    /// Rows per status.
    pub statuses: BTreeMap<String, u64>,
}

/// Local → Box names.
#[derive(Debug, Default)]
struct Maps {
    users: HashMap<u32, String>,
    groups: HashMap<u32, String>,
    user_names: HashMap<u32, String>,
    group_names: HashMap<u32, String>,
}

/// What waterfalls into a directory for one principal: capabilities, the role and where from.
#[derive(Debug, Clone)]
struct Flow {
    caps: u8,
    role: String,
    from: String,
}

#[derive(Debug, Clone, Default)]
struct Inherited {
    flows: BTreeMap<Principal, Flow>,
    other: Option<CollabRole>,
}

/// Walk `opts.src` and write the proposal to `opts.output`.
pub fn propose(opts: &ProposeOptions) -> Result<ProposeSummary, ProposeError> {
    let maps = load_maps(opts)?;
    let rows = rows(&opts.src, &maps)?;
    let mut summary = ProposeSummary::default();
    let write_err = |source: std::io::Error| ProposeError::Write {
        path: opts.output.clone(),
        source,
    };
    crate::fsutil::create_parent(&opts.output).map_err(write_err)?;
    let file = crate::fsutil::AtomicFile::create(&opts.output).map_err(write_err)?;
    let mut w = csv::Writer::from_writer(file);
    for r in &rows.0 {
        *summary.statuses.entry(r.status.clone()).or_default() += 1;
        w.serialize(r).map_err(|e| write_err(e.into()))?;
    }
    let file = w.into_inner().map_err(|e| write_err(e.into_error()))?;
    file.commit().map_err(write_err)?;
    summary.dirs = rows.1;
    Ok(summary)
}

/// The proposal's rows and the number of directories read.
fn rows(src: &Path, maps: &Maps) -> Result<(Vec<Proposed>, u64), ProposeError> {
    let mut seen: HashMap<String, Inherited> = HashMap::new();
    let mut out = Vec::new();
    let mut dirs = 0;
    let walk = walkdir::WalkDir::new(src)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.file_type().is_dir());
    for entry in walk {
        let entry = entry.map_err(|e| ProposeError::Walk {
            path: e
                .path()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| src.into()),
            source: e.into(),
        })?;
        let path = entry.path();
        let rel = relative(src, path);
        let parent = match rel.rfind('/') {
            Some(i) => &rel[..i],
            None => "",
        };
        let from = if rel.is_empty() {
            Inherited::default()
        } else {
            seen.get(parent).cloned().unwrap_or_default()
        };
        let meta = entry.metadata().map_err(|e| ProposeError::Walk {
            path: path.to_path_buf(),
            source: e.into(),
        })?;
        let raw = acl::read(path).map_err(|source| ProposeError::Walk {
            path: path.to_path_buf(),
            source,
        })?;
        let access =
            acl::access(meta.uid(), meta.gid(), meta.mode(), raw.as_deref()).map_err(|source| {
                ProposeError::Acl {
                    path: path.to_path_buf(),
                    source,
                }
            })?;
        let below = directory(&rel, &from, &access, maps, &mut out);
        seen.insert(rel, below);
        dirs += 1;
    }
    Ok((out, dirs))
}

/// `path` relative to `src`, `/`-separated ("" for `src`).
fn relative(src: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(src).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The rows of one directory, and what flows on to its subdirectories.
fn directory(
    rel: &str,
    from: &Inherited,
    access: &acl::Access,
    maps: &Maps,
    out: &mut Vec<Proposed>,
) -> Inherited {
    let mut local: BTreeMap<Principal, Bits> = BTreeMap::new();
    for &(p, bits) in &access.entries {
        if !matches!(p, Principal::User(0) | Principal::Group(0)) {
            // The owner may also be a named entry: the first (the owner's) decides.
            local.entry(p).or_insert(bits);
        }
    }
    for p in from.flows.keys() {
        local.entry(*p).or_insert(access.other);
    }
    let mut below = Inherited {
        flows: BTreeMap::new(),
        other: role_of(access.other),
    };
    for (p, bits) in local {
        let flow = from.flows.get(&p);
        let wanted = role_of(bits);
        let w = waterfall(flow.map_or(0, |f| f.caps), wanted);
        let role = wanted.map(|r| r.as_str().to_owned()).unwrap_or_default();
        let (who, mapped) = maps.collaborator(p);
        if w.grant {
            out.push(Proposed {
                path: cell(rel).to_owned(),
                collaborator: who.clone(),
                role: role.clone(),
                status: if mapped { "grant" } else { "unmapped" }.into(),
                reason: if mapped {
                    String::new()
                } else {
                    maps.unmapped_reason(p)
                },
            });
        }
        if let (true, Some(f)) = (w.conflict, flow) {
            out.push(Proposed {
                path: cell(rel).to_owned(),
                collaborator: who,
                role: role.clone(),
                status: "conflict".into(),
                reason: format!(
                    "local bits {} give {}, but Box keeps {} from {} below it (a parent's collaboration cannot be taken away)",
                    rwx(bits),
                    wanted.map_or("no access", |r| r.as_str()),
                    f.role,
                    cell(&f.from)
                ),
            });
        }
        if w.below != 0 {
            let next = match (w.grant, flow) {
                (false, Some(f)) => Flow {
                    caps: w.below,
                    ..f.clone()
                },
                _ => Flow {
                    caps: w.below,
                    role,
                    from: rel.to_owned(),
                },
            };
            below.flows.insert(p, next);
        }
    }
    if let Some(role) = below
        .other
        .filter(|r| rel.is_empty() || Some(*r) != from.other)
    {
        out.push(Proposed {
            path: cell(rel).to_owned(),
            collaborator: "other".into(),
            role: role.as_str().into(),
            status: "ignored".into(),
            reason: format!(
                "\"other\" bits {}: boxlift never grants everyone; grant a group by hand if that was meant",
                rwx(access.other)
            ),
        });
    }
    below
}

/// `r-x` for 5.
fn rwx(bits: Bits) -> String {
    [(4, 'r'), (2, 'w'), (1, 'x')]
        .iter()
        .map(|&(b, c)| if bits & b != 0 { c } else { '-' })
        .collect()
}

impl Maps {
    /// The collaborator cell of a principal, and whether a map names it.
    fn collaborator(&self, p: Principal) -> (String, bool) {
        match p {
            Principal::User(uid) => match self.users.get(&uid) {
                Some(b) => (b.clone(), true),
                None => (format!("uid:{uid}"), false),
            },
            Principal::Group(gid) => match self.groups.get(&gid) {
                Some(b) if b.starts_with("group:") => (b.clone(), true),
                Some(b) => (format!("group:{b}"), true),
                None => (format!("gid:{gid}"), false),
            },
        }
    }

    fn unmapped_reason(&self, p: Principal) -> String {
        match p {
            Principal::User(uid) => format!(
                "local user {uid}{} is not in the users map: add a line `{uid},LOGIN` to grant it",
                self.user_names
                    .get(&uid)
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            ),
            Principal::Group(gid) => format!(
                "local group {gid}{} is not in the groups map: add a line `{gid},GROUP` to grant it",
                self.group_names
                    .get(&gid)
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            ),
        }
    }
}

/// The two map files, local names resolved through the passwd and group files.
fn load_maps(opts: &ProposeOptions) -> Result<Maps, ProposeError> {
    let user_names = id_names(&opts.passwd);
    let group_names = id_names(&opts.group_file);
    let users = match &opts.users {
        Some(f) => read_map(f, &user_names, "user")?,
        None => HashMap::new(),
    };
    let groups = match &opts.groups {
        Some(f) => read_map(f, &group_names, "group")?,
        None => HashMap::new(),
    };
    Ok(Maps {
        users,
        groups,
        user_names,
        group_names,
    })
}

/// `name:x:id:...` lines (passwd, group) → id → name; an unreadable file gives none.
fn id_names(file: &Path) -> HashMap<u32, String> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            let id = f.nth(1)?.parse().ok()?;
            Some((id, name.to_owned()))
        })
        .collect()
}

/// A `local,box` map file (an optional `local,box` header; `#` comments).
fn read_map(
    file: &Path,
    names: &HashMap<u32, String>,
    what: &str,
) -> Result<HashMap<u32, String>, ProposeError> {
    let err = |line: u64, reason: String| ProposeError::Map {
        file: file.to_path_buf(),
        line,
        reason,
    };
    let text = std::fs::read_to_string(file).map_err(|e| err(0, e.to_string()))?;
    let by_name: HashMap<&str, u32> = names.iter().map(|(id, n)| (n.as_str(), *id)).collect();
    let mut out = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let n = i as u64 + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || (n == 1 && line == "local,box") {
            continue;
        }
        let Some((local, to)) = line.split_once(',') else {
            return Err(err(n, format!("expected `local,box`, found {line:?}")));
        };
        let (local, to) = (local.trim(), to.trim());
        if to.is_empty() {
            return Err(err(n, format!("no Box {what} for {local:?}")));
        }
        let id = match local.parse::<u32>() {
            Ok(id) => id,
            Err(_) => *by_name.get(local).ok_or_else(|| {
                err(
                    n,
                    format!("no local {what} named {local:?} on this machine: use its numeric id"),
                )
            })?,
        };
        if out.insert(id, to.to_owned()).is_some() {
            return Err(err(n, format!("local {what} {local:?} is mapped twice")));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maps() -> Maps {
        let mut m = Maps::default();
        m.users.insert(1001, "ann@example.com".into());
        m.groups.insert(2001, "Engineering".into());
        m
    }

    fn access(entries: &[(Principal, Bits)], other: Bits) -> acl::Access {
        acl::Access {
            entries: entries.to_vec(),
            other,
        }
    }

    #[test]
    fn a_child_more_restricted_than_its_parent_is_a_conflict() {
        let m = maps();
        let mut out = Vec::new();
        let top = directory(
            "",
            &Inherited::default(),
            &access(
                &[(Principal::User(1001), 7), (Principal::Group(2001), 5)],
                0,
            ),
            &m,
            &mut out,
        );
        let child = directory(
            "a",
            &top,
            &access(
                &[(Principal::User(1001), 7), (Principal::Group(2001), 0)],
                0,
            ),
            &m,
            &mut out,
        );
        let cells: Vec<_> = out
            .iter()
            .map(|r| {
                (
                    r.path.as_str(),
                    r.collaborator.as_str(),
                    r.role.as_str(),
                    r.status.as_str(),
                )
            })
            .collect();
        assert_eq!(
            cells,
            vec![
                (".", "ann@example.com", "editor", "grant"),
                (".", "group:Engineering", "viewer", "grant"),
                ("a", "group:Engineering", "", "conflict"),
            ]
        );
        assert!(
            out[2].reason.contains("keeps viewer from ."),
            "{}",
            out[2].reason
        );
        // What flows on is still the parent's viewer: Box keeps it.
        assert_eq!(child.flows[&Principal::Group(2001)].role, "viewer");
    }

    #[test]
    fn unmapped_principals_and_other_bits_are_rows_not_grants() {
        let m = maps();
        let mut out = Vec::new();
        directory(
            "",
            &Inherited::default(),
            &access(&[(Principal::User(1005), 7), (Principal::Group(0), 5)], 5),
            &m,
            &mut out,
        );
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(
            (out[0].collaborator.as_str(), out[0].status.as_str()),
            ("uid:1005", "unmapped")
        );
        assert_eq!(
            (out[1].collaborator.as_str(), out[1].status.as_str()),
            ("other", "ignored")
        );
    }

    #[test]
    fn map_lines_are_checked_with_their_line_number() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("users.csv");
        std::fs::write(&f, "local,box\n1001,ann@example.com\nbob\n").unwrap();
        let e = read_map(&f, &HashMap::new(), "user")
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("users.csv:3: expected `local,box`, found \"bob\""),
            "{e}"
        );
        std::fs::write(&f, "carol,carol@example.com\n").unwrap();
        let e = read_map(&f, &HashMap::new(), "user")
            .unwrap_err()
            .to_string();
        assert!(e.contains(":1: no local user named \"carol\""), "{e}");
        let names = HashMap::from([(1007, "carol".to_string())]);
        assert_eq!(
            read_map(&f, &names, "user").unwrap()[&1007],
            "carol@example.com"
        );
    }
}
