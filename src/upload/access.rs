//! Can every identity of the run write to the destination? (`audit --dest` prints it; `migrate`
//! drops the identities it says cannot, before the first upload.) Folders are created
//! as the app's service account and files are uploaded as each `--as-user` user, so each of
//! them must be able to upload into `--dest` (a collaborator as Editor or above). One
//! `GET /folders/{dest}?fields=permissions` per identity, read-only; Box answers 404
//! `not_found` to a user who is not a collaborator, and `permissions.can_upload` says the rest.
use std::fmt;

use crate::box_api::{ApiError, BoxClient, ErrorKind};

/// What one identity may do in the destination folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// `permissions.can_upload` is true.
    CanUpload,
    /// The folder is visible but `can_upload` is false (Viewer, Previewer...), or Box refused
    /// the read with 403.
    ReadOnly,
    /// Box answered 404: the identity is not a collaborator on the folder.
    NotFound,
    /// The check itself failed (network, credentials): the message says why.
    Unknown(String),
}

/// One identity's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityAccess {
    /// The `As-User` id; `None` for the service account (the token's own user).
    pub as_user: Option<String>,
    /// What it may do.
    pub access: Access,
}

impl IdentityAccess {
    /// Whether a migration can write as this identity.
    pub fn can_upload(&self) -> bool {
        self.access == Access::CanUpload
    }
}

impl fmt::Display for IdentityAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = match &self.as_user {
            Some(u) => format!("As-User {u}"),
            None => "the service account (creates the folders)".to_string(),
        };
        match &self.access {
            Access::CanUpload => write!(f, "{who}: can upload"),
            Access::ReadOnly => write!(
                f,
                "{who}: CANNOT upload (permissions.can_upload is false): make it a collaborator \
                 as Editor or above on the destination"
            ),
            Access::NotFound => write!(
                f,
                "{who}: CANNOT see the destination (404 not_found): add it as a collaborator \
                 (Editor or above)"
            ),
            Access::Unknown(why) => write!(f, "{who}: could not check ({why})"),
        }
    }
}

fn verdict(res: Result<crate::box_api::Folder, ApiError>) -> Access {
    match res {
        Ok(folder) => match folder.permissions {
            Some(p) if p.can_upload => Access::CanUpload,
            Some(_) => Access::ReadOnly,
            None => Access::Unknown("Box sent no permissions".into()),
        },
        Err(e) if e.kind == ErrorKind::NotFound => Access::NotFound,
        Err(e) if e.status == Some(403) => Access::ReadOnly,
        Err(e) => Access::Unknown(e.to_string()),
    }
}

/// Check the service account and every `--as-user` identity of `client` on `folder_id`.
pub async fn check(client: &BoxClient, folder_id: &str) -> Vec<IdentityAccess> {
    let mut out = vec![IdentityAccess {
        as_user: None,
        access: verdict(client.folder_permissions(folder_id).await),
    }];
    for user in &client.config().as_users {
        out.push(IdentityAccess {
            as_user: Some(user.clone()),
            access: verdict(client.as_user(user).folder_permissions(folder_id).await),
        });
    }
    out
}

/// What `client`'s own identity (an `As-User` client, or the service account) may do in
/// folder `folder_id`.
pub async fn check_one(client: &BoxClient, folder_id: &str) -> Access {
    verdict(client.folder_permissions(folder_id).await)
}

/// The summary's lines: one per identity.
pub fn render(folder_id: &str, access: &[IdentityAccess]) -> String {
    let mut s = format!("Write access to destination folder {folder_id}:\n");
    for a in access {
        s.push_str(&format!("  {a}\n"));
    }
    s
}
