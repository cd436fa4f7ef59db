//! A permissions CSV (`path,collaborator,role[,status,reason]`), as `migrate --permissions`
//! and `verify --permissions` read it: every row checked, every collaborator resolved in Box,
//! before anything is uploaded or granted.
//!
//! - `path`: a directory relative to SRC, `/`-separated; `.` (or empty) is SRC itself, whose
//!   collaborations go on the migration's top folder (`--dest`).
//! - `collaborator`: a Box user (login or numeric id) or group (`group:NAME` or `group:ID`).
//! - `role`: one of Box's (`editor`, `viewer`, `previewer`, `uploader`, `previewer uploader`,
//!   `viewer uploader`, `co-owner`).
//! - `status`: rows whose status is empty or `grant` are applied; `conflict`, `unmapped`,
//!   `ignored` rows (from `boxlift permissions`) are read past.
//!
//! A login Box does not know would become a pending external invitation if posted: each one
//! stops the run (exit 2) with its `file:line`.
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::normalize;
use crate::box_api::collab::Collaborator;
use crate::box_api::model::CollabRole;
use crate::box_api::{ApiError, BoxClient};

/// One row to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// 1-based line in the file.
    pub line: u64,
    /// The directory, `/`-separated relative to SRC ("" is SRC).
    pub path: String,
    /// The `collaborator` cell as written.
    pub who: String,
    /// The role.
    pub role: CollabRole,
}

/// A checked permissions file.
#[derive(Debug, Clone)]
pub struct PermissionsFile {
    /// The file.
    pub file: PathBuf,
    /// Its rows to apply, in file order.
    pub grants: Vec<Grant>,
}

/// A grant whose collaborator Box knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The row.
    pub grant: Grant,
    /// The Box user or group.
    pub to: Collaborator,
}

impl Resolved {
    /// The journal's key of the collaborator: `user:ID` or `group:ID`.
    pub fn key(&self) -> String {
        format!("{}:{}", self.to.kind(), self.to.id())
    }
}

/// Why the permissions file cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum GrantsError {
    /// The file could not be read.
    #[error("--permissions {file}: {source}")]
    Read {
        /// The file.
        file: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Rows are wrong (one line each, `file:line: reason`); nothing was uploaded or granted.
    #[error("--permissions: {} bad row(s); nothing was uploaded or granted; fix them and run again:\n  {}", .0.len(), .0.join("\n  "))]
    Rows(Vec<String>),
    /// Collaborators Box does not know; nothing was posted (Box would invite them as
    /// external users).
    #[error("--permissions: {} collaborator(s) Box does not know; nothing was uploaded or granted (posting them would invite external users); fix the logins or group names and run again:\n  {}", .0.len(), .0.join("\n  "))]
    Unknown(Vec<String>),
    /// A lookup failed.
    #[error("--permissions: looking up {who:?} in Box: {source}")]
    Lookup {
        /// The collaborator cell.
        who: String,
        /// The error.
        source: Box<ApiError>,
    },
}

/// Read and check `file`. With `src`, each path must be a directory of SRC.
pub fn read(file: &Path, src: Option<&Path>) -> Result<PermissionsFile, GrantsError> {
    let read_err = |source: std::io::Error| GrantsError::Read {
        file: file.to_path_buf(),
        source,
    };
    let text = std::fs::read(file).map_err(read_err)?;
    let mut rd = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_slice());
    let name = file.display().to_string();
    let headers = rd.headers().map_err(|e| read_err(e.into()))?.clone();
    let col = |c: &str| headers.iter().position(|h| h.trim() == c);
    let (Some(p), Some(w), Some(r)) = (col("path"), col("collaborator"), col("role")) else {
        return Err(GrantsError::Rows(vec![format!(
            "{name}:1: the header must name the columns path,collaborator,role (found {:?})",
            headers.iter().collect::<Vec<_>>().join(",")
        )]));
    };
    let status = col("status");
    let mut bad = Vec::new();
    let mut grants = Vec::new();
    let mut seen: HashMap<(String, String), (CollabRole, u64)> = HashMap::new();
    for rec in rd.records() {
        let rec = rec.map_err(|e| read_err(e.into()))?;
        let line = rec.position().map_or(0, |p| p.line());
        let get = |i: usize| rec.get(i).unwrap_or("").trim();
        if status.is_some_and(|s| !matches!(get(s), "" | "grant")) {
            continue;
        }
        match row(get(p), get(w), get(r), src) {
            Err(reason) => bad.push(format!("{name}:{line}: {reason}")),
            Ok((path, role)) => {
                let key = (path.clone(), get(w).to_ascii_lowercase());
                match seen.get(&key) {
                    Some((other, first)) if *other != role => bad.push(format!(
                        "{name}:{line}: {} is given {role} here and {other} on line {first} for the same folder",
                        get(w)
                    )),
                    Some(_) => {}
                    None => {
                        seen.insert(key, (role, line));
                        grants.push(Grant {
                            line,
                            path,
                            who: get(w).to_owned(),
                            role,
                        });
                    }
                }
            }
        }
    }
    if !bad.is_empty() {
        return Err(GrantsError::Rows(bad));
    }
    Ok(PermissionsFile {
        file: file.to_path_buf(),
        grants,
    })
}

/// One row's path and role, or why it is wrong.
fn row(
    path: &str,
    who: &str,
    role: &str,
    src: Option<&Path>,
) -> Result<(String, CollabRole), String> {
    let rel = normalize(path);
    if path.starts_with('/') || rel.split('/').any(|c| c == ".." || c == ".") {
        return Err(format!(
            "path {path:?} must be relative to the source, without `..`"
        ));
    }
    if let Some(src) = src
        && !src.join(&rel).is_dir()
    {
        return Err(format!(
            "path {path:?} is not a directory under {}",
            src.display()
        ));
    }
    if who.is_empty() || who == "group:" {
        return Err("no collaborator".into());
    }
    match CollabRole::parse(role) {
        Some(CollabRole::Owner) | None => Err(format!(
            "role {role:?} is not one Box grants (one of: {})",
            CollabRole::GRANTABLE.map(|r| r.as_str()).join(", ")
        )),
        Some(r) => Ok((rel, r)),
    }
}

/// Resolve every collaborator of `file` in Box (one lookup per distinct cell). Every unknown
/// one is listed with its `file:line`.
pub async fn resolve(
    client: &BoxClient,
    file: &PermissionsFile,
) -> Result<Vec<Resolved>, GrantsError> {
    let mut found: BTreeMap<String, Option<Collaborator>> = BTreeMap::new();
    for g in &file.grants {
        let key = g.who.to_ascii_lowercase();
        if found.contains_key(&key) {
            continue;
        }
        let lookup_err = |source| GrantsError::Lookup {
            who: g.who.clone(),
            source: Box::new(source),
        };
        let to = match g.who.strip_prefix("group:") {
            Some(group) => client
                .find_group(group)
                .await
                .map_err(lookup_err)?
                .map(|m| Collaborator::Group(m.id)),
            None => client
                .find_user(&g.who)
                .await
                .map_err(lookup_err)?
                .map(|m| Collaborator::User(m.id)),
        };
        found.insert(key, to);
    }
    let name = file.file.display();
    let mut unknown = Vec::new();
    let mut out = Vec::new();
    for g in &file.grants {
        match &found[&g.who.to_ascii_lowercase()] {
            Some(to) => out.push(Resolved {
                grant: g.clone(),
                to: to.clone(),
            }),
            None => {
                let what = if g.who.starts_with("group:") {
                    "no Box group"
                } else {
                    "no Box user with this login or id"
                };
                unknown.push(format!("{name}:{}: {:?}: {what}", g.line, g.who));
            }
        }
    }
    if !unknown.is_empty() {
        return Err(GrantsError::Unknown(unknown));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_rows_are_listed_with_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src/a")).unwrap();
        std::fs::write(dir.path().join("src/f"), "x").unwrap();
        let f = dir.path().join("p.csv");
        std::fs::write(
            &f,
            "path,collaborator,role,status,reason\n\
             a,ann@example.com,editor,grant,\n\
             .,group:eng,viewer,,\n\
             f,ann@example.com,viewer,,\n\
             a,bob@example.com,boss,,\n\
             b,gid:7,viewer,unmapped,not mapped\n\
             ../x,ann@example.com,viewer,,\n\
             a,ANN@example.com,viewer,,\n",
        )
        .unwrap();
        let Err(GrantsError::Rows(bad)) = read(&f, Some(&dir.path().join("src"))) else {
            panic!("expected bad rows");
        };
        assert_eq!(bad.len(), 4, "{bad:?}");
        let under = dir.path().join("src").display().to_string();
        let want = format!("p.csv:4: path \"f\" is not a directory under {under}");
        assert!(bad[0].ends_with(&want), "{}", bad[0]);
        assert!(bad[1].contains("p.csv:5: role \"boss\""), "{}", bad[1]);
        assert!(bad[2].contains("p.csv:7: path \"../x\""), "{}", bad[2]);
        assert!(
            bad[3].contains("p.csv:8: ANN@example.com is given viewer here and editor on line 2"),
            "{}",
            bad[3]
        );
    }

    #[test]
    fn grant_and_empty_status_rows_are_read_root_is_dot() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.csv");
        std::fs::write(&f, "path,collaborator,role\n.,group:eng,viewer uploader\n").unwrap();
        let p = read(&f, Some(dir.path())).unwrap();
        assert_eq!(
            p.grants,
            vec![Grant {
                line: 2,
                path: String::new(),
                who: "group:eng".into(),
                role: CollabRole::ViewerUploader
            }]
        );
        std::fs::write(&f, "who,role\n").unwrap();
        assert!(matches!(read(&f, None), Err(GrantsError::Rows(_))));
    }
}
