//! Box's JSON shapes (serde), as Box's OpenAPI spec (box/box-openapi `openapi.json`) gives them.
//!
//! This is the only code the emulator shares with the client: shapes, never logic.
//! Fields Box may omit are `Option` and skipped when `None`, so a reply parses whatever `fields`
//! the caller asked for.
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Box's error body: `{"type":"error","status":409,"code":"item_name_in_use",...}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorBody {
    #[serde(rename = "type", default = "error_type")]
    pub kind: String,
    pub status: u16,
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_info: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help_url: Option<String>,
    #[serde(default)]
    pub request_id: String,
}

fn error_type() -> String {
    "error".into()
}

/// A reference to a parent folder in request bodies: `{"id":"0"}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ParentRef {
    pub id: String,
}

/// A folder as it appears inside other items (`parent`, `path_collection.entries`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FolderMini {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `path_collection`: the folders from the root down to the item's parent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct PathCollection {
    pub total_count: u64,
    pub entries: Vec<FolderMini>,
}

/// `file_version` inside a file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileVersionMini {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
}

/// A file (full or mini; fields not asked for are absent).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct File {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_version: Option<FileVersionMini>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<FolderMini>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_collection: Option<PathCollection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_modified_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_status: Option<String>,
    /// The item's owner (with `fields=owned_by`, and in the standard file and folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owned_by: Option<UserMini>,
    /// Who created (uploaded) the item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<UserMini>,
}

/// Box's `space_amount` for an account without a storage limit (999,999,999,999,999 bytes, as
/// Box reports "unlimited"); any figure this large is treated as no limit.
pub const UNLIMITED_SPACE: i64 = 999_999_999_999_999;

/// A user (`GET /users/me`), with the fields boxlift reads (OpenAPI `User`). `space_amount` is
/// the account's storage in bytes (Box reports "unlimited" as a huge number), `space_used` what
/// is stored; both are absent unless asked for with `fields=` or in the default set.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct User {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space_amount: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space_used: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_upload_size: Option<i64>,
}

/// A folder (full or mini). `item_collection` is present on `GET /folders/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Folder {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<FolderMini>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_collection: Option<PathCollection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_collection: Option<Items>,
    /// What the caller may do here (only with `fields=permissions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<FolderPermissions>,
    /// The item's owner (with `fields=owned_by`, and in the standard file and folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owned_by: Option<UserMini>,
    /// Who created (uploaded) the item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<UserMini>,
}

/// `permissions` of a full folder (Box's OpenAPI `Folder--Full.permissions`): what the user
/// making the request (the `As-User`, if any) may do in this folder.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct FolderPermissions {
    #[serde(default)]
    pub can_upload: bool,
    #[serde(default)]
    pub can_download: bool,
    #[serde(default)]
    pub can_delete: bool,
    #[serde(default)]
    pub can_rename: bool,
    #[serde(default)]
    pub can_share: bool,
    #[serde(default)]
    pub can_invite_collaborator: bool,
    #[serde(default)]
    pub can_set_share_access: bool,
}

/// An entry of a folder listing: a file, a folder or a web link, told apart by `type`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Item {
    File(ItemFields),
    Folder(ItemFields),
    WebLink(ItemFields),
}

/// The fields of a listed item (mini item plus whatever `fields=` asked for).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ItemFields {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_version: Option<FileVersionMini>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_modified_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_at: Option<String>,
    /// The item's owner (with `fields=owned_by`, and in the standard file and folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owned_by: Option<UserMini>,
    /// Who created (uploaded) the item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<UserMini>,
}

/// Sort order of a listing.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Order {
    pub by: String,
    pub direction: String,
}

/// `GET /folders/{id}/items`: offset paging fills `total_count`/`offset`, marker paging
/// fills `next_marker` (absent or empty on the last page).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Items {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_marker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<Vec<Order>>,
    pub entries: Vec<Item>,
}

/// A Files collection: what a direct upload, a new version and a commit return.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Files {
    pub total_count: u64,
    pub entries: Vec<File>,
}

/// `POST /folders` body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CreateFolder {
    pub name: String,
    pub parent: ParentRef,
}

/// `PUT /folders/{id}` and `PUT /files/{id}` body: rename and/or move.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct UpdateItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentRef>,
}

/// The `attributes` part of a direct upload or new version.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UploadAttributes {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_modified_at: Option<String>,
}

/// `OPTIONS /files/content` body (preflight check).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PreflightRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentRef>,
}

/// Preflight success: where to upload.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UploadUrl {
    pub upload_url: String,
    pub upload_token: String,
}

/// `POST /files/{id}/copy` body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CopyFile {
    pub parent: ParentRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `POST /files/upload_sessions` body (new file).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CreateUploadSession {
    pub folder_id: String,
    pub file_size: u64,
    pub file_name: String,
}

/// `POST /files/{id}/upload_sessions` body (new version).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CreateVersionUploadSession {
    pub file_size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
}

/// `session_endpoints` of an upload session.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct SessionEndpoints {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_part: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_parts: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_event: Option<String>,
}

/// An upload session.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UploadSession {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_expires_at: Option<String>,
    pub part_size: u64,
    pub total_parts: u64,
    #[serde(default)]
    pub num_parts_processed: u64,
    #[serde(default)]
    pub session_endpoints: SessionEndpoints,
}

/// One received part of an upload session.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UploadPart {
    pub part_id: String,
    pub offset: u64,
    pub size: u64,
    pub sha1: String,
}

/// `PUT /files/upload_sessions/{id}` reply.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UploadedPart {
    pub part: UploadPart,
}

/// `GET /files/upload_sessions/{id}/parts` reply.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UploadParts {
    #[serde(default)]
    pub total_count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    pub entries: Vec<UploadPart>,
}

/// `POST /files/upload_sessions/{id}/commit` body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CommitUploadSession {
    pub parts: Vec<UploadPart>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<UploadAttributes>,
}

/// `POST /oauth2/token` reply.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccessToken {
    pub access_token: String,
    pub expires_in: u64,
    #[serde(default)]
    pub token_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restricted_to: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<String>,
}

/// `POST /oauth2/token` error body (OAuth 2 shape, not Box's API error shape).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OAuthError {
    pub error: String,
    #[serde(default)]
    pub error_description: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_tell_files_from_folders() {
        let json = r#"{"total_count":2,"entries":[
            {"type":"folder","id":"11","name":"a","etag":"0","sequence_id":"0"},
            {"type":"file","id":"12","name":"b.txt","size":3,"sha1":"abc"}],
            "offset":0,"limit":100}"#;
        let items: Items = serde_json::from_str(json).unwrap();
        assert!(matches!(&items.entries[0], Item::Folder(f) if f.id == "11"));
        assert!(matches!(&items.entries[1], Item::File(f) if f.size == Some(3)));
    }

    #[test]
    fn error_body_round_trips() {
        let json = r#"{"type":"error","status":409,"code":"item_name_in_use","message":"Item with the same name already exists","context_info":{"conflicts":[{"type":"folder","id":"5"}]},"request_id":"abc"}"#;
        let e: ErrorBody = serde_json::from_str(json).unwrap();
        assert_eq!(e.status, 409);
        assert_eq!(e.code, "item_name_in_use");
        let back = serde_json::to_value(&e).unwrap();
        assert_eq!(back["type"], "error");
    }
}

/// A user as it is listed and nested (`GET /users` entries, `owned_by`, `created_by`,
/// `accessible_by`): OpenAPI `User--Mini`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserMini {
    #[serde(rename = "type", default = "user_type")]
    pub kind: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
}

fn user_type() -> String {
    "user".into()
}

/// An offset-paged listing (`GET /users`, `GET /groups`, `GET /groups/{id}/memberships`):
/// `entries`, and `total_count`, `limit`, `offset`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OffsetPage<T> {
    pub entries: Vec<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

/// `GET /users`.
pub type Users = OffsetPage<UserMini>;
/// `GET /groups`.
pub type Groups = OffsetPage<GroupMini>;
/// `GET /groups/{id}/memberships`.
pub type GroupMemberships = OffsetPage<GroupMembership>;

/// A group (OpenAPI `Group--Mini`: `type`, `id`, `name`, `group_type`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct GroupMini {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_type: Option<String>,
}

/// One membership of a group (`GET /groups/{id}/memberships` entries).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GroupMembership {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<UserMini>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<GroupMini>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// A collaboration's role (OpenAPI `Collaboration.role`; `owner` only appears in listings).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CollabRole {
    #[serde(rename = "editor")]
    Editor,
    #[serde(rename = "viewer")]
    Viewer,
    #[serde(rename = "previewer")]
    Previewer,
    #[serde(rename = "uploader")]
    Uploader,
    #[serde(rename = "previewer uploader")]
    PreviewerUploader,
    #[serde(rename = "viewer uploader")]
    ViewerUploader,
    #[serde(rename = "co-owner")]
    CoOwner,
    #[serde(rename = "owner")]
    Owner,
}

impl CollabRole {
    /// The roles `POST /collaborations` takes, in Box's order.
    pub const GRANTABLE: [CollabRole; 7] = [
        CollabRole::Editor,
        CollabRole::Viewer,
        CollabRole::Previewer,
        CollabRole::Uploader,
        CollabRole::PreviewerUploader,
        CollabRole::ViewerUploader,
        CollabRole::CoOwner,
    ];

    /// Box's spelling (`"previewer uploader"`).
    pub fn as_str(self) -> &'static str {
        match self {
            CollabRole::Editor => "editor",
            CollabRole::Viewer => "viewer",
            CollabRole::Previewer => "previewer",
            CollabRole::Uploader => "uploader",
            CollabRole::PreviewerUploader => "previewer uploader",
            CollabRole::ViewerUploader => "viewer uploader",
            CollabRole::CoOwner => "co-owner",
            CollabRole::Owner => "owner",
        }
    }

    /// Box's spelling back to a role; `None` for anything else.
    pub fn parse(s: &str) -> Option<CollabRole> {
        let s = s.trim();
        CollabRole::GRANTABLE
            .into_iter()
            .chain([CollabRole::Owner])
            .find(|r| r.as_str().eq_ignore_ascii_case(s))
    }

    /// May a collaborator with this role upload into the folder?
    pub fn can_upload(self) -> bool {
        !matches!(self, CollabRole::Viewer | CollabRole::Previewer)
    }

    /// May a collaborator with this role list and read the folder's content? (An uploader
    /// sees only what it uploaded; the emulator models it as not reading.)
    pub fn can_read(self) -> bool {
        !matches!(self, CollabRole::Uploader)
    }
}

impl std::fmt::Display for CollabRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who a collaboration grants access to (OpenAPI `CollaborationAccessGrantee`): a user or a
/// group; `login` only for users.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Grantee {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
}

/// The item a collaboration is on (`type`, `id`, `name`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CollabItem {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A collaboration (OpenAPI `Collaboration`). `item` is null while it is `pending`;
/// `accessible_by` is null for an invitation to a login Box does not know (`invite_email`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Collaboration {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    #[serde(default)]
    pub item: Option<CollabItem>,
    #[serde(default)]
    pub accessible_by: Option<Grantee>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<CollabRole>,
    /// `accepted`, `pending` or `rejected`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<UserMini>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_at: Option<String>,
}

/// `GET /folders/{id}/collaborations`: marker paging.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Collaborations {
    pub entries: Vec<Collaboration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// `POST /collaborations` body: `item`, `accessible_by` (`id` or, for a user, `login`), `role`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CreateCollaboration {
    pub item: CollabItem,
    pub accessible_by: GranteeRef,
    pub role: CollabRole,
}

/// `accessible_by` in a request: `type` plus `id` or `login`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct GranteeRef {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
}
