//! `verify --permissions FILE`: the collaborations on each folder the file names
//! (`GET /folders/{id}/collaborations`, the folder found by path under `--dest`) against the
//! file's grants: `missing` (granted in the file, not in Box), `extra` (in Box on one of those
//! folders, not in the file), `role` (another role in Box), `folder_missing` (no such folder
//! under `--dest`).
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::cell;
use super::grants::{self, GrantsError, Resolved};
use crate::box_api::model::Collaboration;
use crate::box_api::{ApiError, BoxClient, ClientConfig};
use crate::upload::folders::Folders;

/// One difference, a row of the permissions differences CSV.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PermDifference {
    /// The folder (`.` is the top folder).
    pub path: String,
    /// `missing`, `extra`, `role` or `folder_missing`.
    pub problem: &'static str,
    /// The CSV's cell; for an `extra`, the login or `group:NAME` Box names (else `KIND:ID`).
    pub collaborator: String,
    /// The role the file grants (empty for `extra`).
    pub expected_role: String,
    /// The role in Box (empty for `missing`).
    pub box_role: String,
}

impl PermDifference {
    /// The CSV's header.
    pub const COLUMNS: [&'static str; 5] = [
        "path",
        "problem",
        "collaborator",
        "expected_role",
        "box_role",
    ];

    /// One line of text.
    pub fn text_line(&self) -> String {
        let or_dash = |s: &str| {
            if s.is_empty() {
                "-".to_owned()
            } else {
                s.to_owned()
            }
        };
        format!(
            "permission_{:<14} {}  {} (expected {}, Box {})",
            self.problem,
            self.path,
            self.collaborator,
            or_dash(&self.expected_role),
            or_dash(&self.box_role)
        )
    }
}

/// Why the check could not run.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The file is wrong, or names collaborators Box does not know.
    #[error(transparent)]
    Grants(#[from] GrantsError),
    /// A Box call failed.
    #[error("verify --permissions: {0}")]
    Api(#[source] Box<ApiError>),
    /// The async runtime could not start.
    #[error("verify --permissions: cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The differences CSV could not be written.
    #[error("writing {path}: {source}")]
    Write {
        /// The CSV.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// Read `file`, resolve its collaborators, and compare each of its folders under `dest`.
pub fn run(
    client: &ClientConfig,
    dest: &str,
    file: &Path,
) -> Result<Vec<PermDifference>, CheckError> {
    let perms = grants::read(file, None)?;
    let client = BoxClient::new(client.clone()).map_err(|e| CheckError::Api(Box::new(e)))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CheckError::Runtime)?;
    rt.block_on(async {
        let resolved = grants::resolve(&client, &perms).await?;
        compare(&client, dest, &resolved)
            .await
            .map_err(|e| CheckError::Api(Box::new(e)))
    })
}

/// The differences between the grants and the collaborations in Box, folder by folder.
pub async fn compare(
    client: &BoxClient,
    dest: &str,
    grants: &[Resolved],
) -> Result<Vec<PermDifference>, ApiError> {
    let mut by_path: BTreeMap<&str, Vec<&Resolved>> = BTreeMap::new();
    for g in grants {
        by_path.entry(&g.grant.path).or_default().push(g);
    }
    let folders = Folders::new(client.clone(), dest, None);
    let mut out = Vec::new();
    for (path, want) in by_path {
        let Some(id) = folders.lookup(path).await? else {
            out.extend(want.iter().map(|g| PermDifference {
                path: cell(path).into(),
                problem: "folder_missing",
                collaborator: g.grant.who.clone(),
                expected_role: g.grant.role.as_str().into(),
                box_role: String::new(),
            }));
            continue;
        };
        let have = client.folder_collaborations(&id).await?;
        out.extend(differences(path, &want, &have));
    }
    Ok(out)
}

/// One folder's differences.
fn differences(path: &str, want: &[&Resolved], have: &[Collaboration]) -> Vec<PermDifference> {
    let mut in_box: BTreeMap<String, &Collaboration> = BTreeMap::new();
    for c in have {
        let key = match &c.accessible_by {
            Some(g) => format!("{}:{}", g.kind, g.id),
            None => format!("invite:{}", c.invite_email.as_deref().unwrap_or(&c.id)),
        };
        in_box.insert(key, c);
    }
    let role_of = |c: &Collaboration| c.role.map(|r| r.as_str().to_owned()).unwrap_or_default();
    let mut out = Vec::new();
    for g in want {
        let d = |problem, box_role| PermDifference {
            path: cell(path).into(),
            problem,
            collaborator: g.grant.who.clone(),
            expected_role: g.grant.role.as_str().into(),
            box_role,
        };
        match in_box.remove(&g.key()) {
            None => out.push(d("missing", String::new())),
            Some(c) if c.role != Some(g.grant.role) => out.push(d("role", role_of(c))),
            Some(_) => {}
        }
    }
    for (key, c) in in_box {
        let who = match &c.accessible_by {
            Some(g) if g.kind == "group" => g.name.as_ref().map(|n| format!("group:{n}")),
            Some(g) => g.login.clone(),
            None => None,
        };
        out.push(PermDifference {
            path: cell(path).into(),
            problem: "extra",
            collaborator: who.unwrap_or(key),
            expected_role: String::new(),
            box_role: role_of(c),
        });
    }
    out
}

/// Write the differences as CSV (header always).
pub fn write_csv(path: &Path, diffs: &[PermDifference]) -> Result<(), CheckError> {
    let err = |source: std::io::Error| CheckError::Write {
        path: path.to_path_buf(),
        source,
    };
    crate::fsutil::create_parent(path).map_err(err)?;
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_path(path)
        .map_err(|e| err(e.into()))?;
    w.write_record(PermDifference::COLUMNS)
        .map_err(|e| err(e.into()))?;
    for d in diffs {
        w.serialize(d).map_err(|e| err(e.into()))?;
    }
    w.flush().map_err(err)
}

/// Where the permissions differences go beside verify's `--report` CSV: `r.csv` →
/// `r.permissions.csv`.
pub fn beside(report: &Path) -> PathBuf {
    let stem = report
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "verify".into());
    report.with_file_name(format!("{stem}.permissions.csv"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::box_api::collab::Collaborator;
    use crate::box_api::model::{CollabRole, Grantee};
    use crate::permissions::Grant;

    fn collab(kind: &str, id: &str, role: CollabRole) -> Collaboration {
        Collaboration {
            kind: "collaboration".into(),
            id: format!("c{id}"),
            item: None,
            accessible_by: Some(Grantee {
                kind: kind.into(),
                id: id.into(),
                name: Some("Eng".into()),
                login: Some("x@example.com".into()),
            }),
            invite_email: None,
            role: Some(role),
            status: Some("accepted".into()),
            created_by: None,
            created_at: None,
            modified_at: None,
        }
    }

    #[test]
    fn missing_extra_and_other_role_are_each_a_row() {
        let g = |who: &str, to, role| Resolved {
            grant: Grant {
                line: 2,
                path: "a".into(),
                who: who.into(),
                role,
            },
            to,
        };
        let want = [
            g(
                "group:Eng",
                Collaborator::Group("7".into()),
                CollabRole::Editor,
            ),
            g(
                "ann@example.com",
                Collaborator::User("11".into()),
                CollabRole::Viewer,
            ),
            g(
                "bob@example.com",
                Collaborator::User("12".into()),
                CollabRole::Viewer,
            ),
        ];
        let have = [
            collab("group", "7", CollabRole::Editor),
            collab("user", "11", CollabRole::Editor),
            collab("group", "8", CollabRole::Viewer),
        ];
        let d = differences("a", &want.iter().collect::<Vec<_>>(), &have);
        let cells: Vec<_> = d
            .iter()
            .map(|d| {
                (
                    d.problem,
                    d.collaborator.as_str(),
                    d.expected_role.as_str(),
                    d.box_role.as_str(),
                )
            })
            .collect();
        assert_eq!(
            cells,
            vec![
                ("role", "ann@example.com", "viewer", "editor"),
                ("missing", "bob@example.com", "viewer", ""),
                ("extra", "group:Eng", "", "viewer"),
            ]
        );
        assert!(differences("a", &want[..1].iter().collect::<Vec<_>>(), &have[..1]).is_empty());
    }
}
