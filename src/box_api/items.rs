//! Moves, renames and the trash: `PUT /files/{file_id}` and `PUT /folders/{folder_id}` with
//! `parent.id` and/or `name`, `DELETE /files/{file_id}` and `DELETE /folders/{folder_id}`
//! (`recursive=true` for a folder with content). Box moves deleted items to its trash; nothing
//! here purges.
//!
//! Every call may carry `If-Match` (the etag the caller last saw): Box answers 412
//! `precondition_failed` when the item changed since ([`ErrorKind::Precondition`]), and the
//! caller keeps the item. A 409 `item_name_in_use` on a move is [`ErrorKind::Conflict`]; a 409
//! `operation_blocked_temporary` is retried by the request path (see
//! [`super::retry::failure_class`]).
//!
//! Lost replies: a move repeated after its first attempt landed would meet the changed etag
//! (412); the item is then read back, and if it already sits where it was sent, the move is
//! done. A trash repeated after its first attempt landed meets a 404: the item is gone, which
//! is what was asked (Box answers 404 `trashed` for an item in the trash, so that code counts as
//! done on a first attempt too).
use serde_json::Value;

use super::BoxClient;
use super::error::{ApiError, ErrorKind};
use super::http::{Fail, Req};
use super::model::{File, Folder, ParentRef, UpdateItem};
use super::pace::Bucket;

/// Which kind of item a call addresses (the path segment and the operation's name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Folder,
}

impl Kind {
    fn segment(self) -> &'static str {
        match self {
            Kind::File => "files",
            Kind::Folder => "folders",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Kind::File => "/files/{id}",
            Kind::Folder => "/folders/{id}",
        }
    }

    /// How a call on item `id` of this kind is sent: every one is an idempotent API call
    /// without file content (a repeated move or trash ends where the first would have).
    fn req(self, op: &'static str) -> Req<'static> {
        Req {
            op,
            path: self.path(),
            bucket: Bucket::Api,
            idempotent: true,
            body_len: 0,
        }
    }
}

/// Where an item sits after a move: its parent's id and its name, as Box returned them.
fn placed(v: &Value) -> (Option<&str>, Option<&str>) {
    (
        v.pointer("/parent/id").and_then(Value::as_str),
        v.get("name").and_then(Value::as_str),
    )
}

impl BoxClient {
    /// Move and/or rename a file (`PUT /files/{file_id}` with `parent.id` and/or `name`).
    /// `if_match`: the etag last seen; Box refuses with 412 when the file changed since.
    pub async fn move_file(
        &self,
        id: &str,
        new_parent_id: Option<&str>,
        new_name: Option<&str>,
        if_match: Option<&str>,
    ) -> Result<File, ApiError> {
        let v = self
            .update_item(Kind::File, id, new_parent_id, new_name, if_match)
            .await?;
        serde_json::from_value(v).map_err(|e| {
            ApiError::new(ErrorKind::Other, "move file: unexpected reply from Box").caused_by(e)
        })
    }

    /// Move and/or rename a folder with everything in it, in one call (`PUT
    /// /folders/{folder_id}`). `if_match` as for [`BoxClient::move_file`].
    pub async fn move_folder(
        &self,
        id: &str,
        new_parent_id: Option<&str>,
        new_name: Option<&str>,
        if_match: Option<&str>,
    ) -> Result<Folder, ApiError> {
        let v = self
            .update_item(Kind::Folder, id, new_parent_id, new_name, if_match)
            .await?;
        let folder: Folder = serde_json::from_value(v).map_err(|e| {
            ApiError::new(ErrorKind::Other, "move folder: unexpected reply from Box").caused_by(e)
        })?;
        // The folder cache knew it under its old parent and name.
        self.shared.folders.forget(id);
        if let (Some(parent), Some(name)) = (&folder.parent, &folder.name) {
            self.shared.folders.remember(&parent.id, name, id);
        }
        Ok(folder)
    }

    /// Move a file to Box's trash (`DELETE /files/{file_id}`, 204). `if_match` as for
    /// [`BoxClient::move_file`]. An item already gone counts as done (see the module doc).
    pub async fn trash_file(&self, id: &str, if_match: Option<&str>) -> Result<(), ApiError> {
        self.trash(Kind::File, id, false, if_match).await
    }

    /// Move a folder to Box's trash (`DELETE /folders/{folder_id}`). Without `recursive`, Box
    /// refuses a folder that is not empty (400 `folder_not_empty`); with it, the folder and
    /// everything in it go in one call.
    pub async fn trash_folder(
        &self,
        id: &str,
        recursive: bool,
        if_match: Option<&str>,
    ) -> Result<(), ApiError> {
        self.trash(Kind::Folder, id, recursive, if_match).await?;
        self.shared.folders.forget(id);
        Ok(())
    }

    /// `PUT /{files|folders}/{id}`: the item as Box returns it.
    async fn update_item(
        &self,
        kind: Kind,
        id: &str,
        new_parent_id: Option<&str>,
        new_name: Option<&str>,
        if_match: Option<&str>,
    ) -> Result<Value, ApiError> {
        let op = match kind {
            Kind::File => "move file",
            Kind::Folder => "move folder",
        };
        let url = self.api(&format!("/{}/{}", kind.segment(), urlencoding::encode(id)));
        let body = UpdateItem {
            name: new_name.map(str::to_owned),
            parent: new_parent_id.map(|p| ParentRef { id: p.to_owned() }),
        };
        let mut ctx = self.retry_context();
        // Repeating the same move is harmless: the item ends where it was sent either way (with
        // If-Match the repeat meets a 412, resolved below).
        let req = kind.req(op);
        let sent = self
            .execute_or_unknown(&mut ctx, req, |h| {
                let mut rb = h.put(&url).json(&body);
                if let Some(etag) = if_match {
                    rb = rb.header("if-match", etag);
                }
                Ok(rb)
            })
            .await;
        match sent {
            Ok(reply) => reply.json(op),
            Err(Fail::Final(e)) if e.kind == ErrorKind::Precondition && ctx.maybe_landed => {
                // An earlier attempt may have moved it (its reply lost) and changed the etag.
                let now = self.get_item(kind, id).await?;
                let want = (new_parent_id, new_name);
                let (parent, name) = placed(&now);
                let there = want.0.is_none_or(|p| Some(p) == parent)
                    && want.1.is_none_or(|n| Some(n) == name);
                if there { Ok(now) } else { Err(e) }
            }
            Err(f) => Err(f.into()),
        }
    }

    /// `GET /{files|folders}/{id}` with where it sits (parent, name) and its etag.
    async fn get_item(&self, kind: Kind, id: &str) -> Result<Value, ApiError> {
        let url = self.api(&format!("/{}/{}", kind.segment(), urlencoding::encode(id)));
        let mut ctx = self.retry_context();
        let req = kind.req("get item");
        let fields = match kind {
            Kind::File => "name,parent,etag,sequence_id,sha1,size",
            Kind::Folder => "name,parent,etag,sequence_id",
        };
        self.execute(&mut ctx, req, |h| {
            Ok(h.get(&url).query(&[("fields", fields)]))
        })
        .await?
        .json("get item")
    }

    /// `DELETE /{files|folders}/{id}[?recursive=true]` with `If-Match`.
    async fn trash(
        &self,
        kind: Kind,
        id: &str,
        recursive: bool,
        if_match: Option<&str>,
    ) -> Result<(), ApiError> {
        let op = match kind {
            Kind::File => "trash file",
            Kind::Folder => "trash folder",
        };
        let url = self.api(&format!("/{}/{}", kind.segment(), urlencoding::encode(id)));
        let mut ctx = self.retry_context();
        let req = kind.req(op);
        let res = self
            .execute(&mut ctx, req, |h| {
                let mut rb = h.delete(&url);
                if recursive {
                    rb = rb.query(&[("recursive", "true")]);
                }
                if let Some(etag) = if_match {
                    rb = rb.header("if-match", etag);
                }
                Ok(rb)
            })
            .await;
        match res {
            Ok(_) => Ok(()),
            // In the trash already (Box's 404 `trashed`), or gone after an attempt whose reply
            // was lost (that attempt trashed it): done. A plain 404 on a first attempt means
            // the caller was wrong about what exists, and says so.
            Err(e) if e.kind == ErrorKind::NotFound && gone_is_done(&e, ctx.total_attempts) => {
                tracing::debug!(op, id, "already in the trash: done");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

/// Does a 404 on a trash request mean the item is in the trash (done)?
fn gone_is_done(e: &ApiError, attempts: u32) -> bool {
    e.code.as_deref() == Some("trashed") || attempts > 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_404_is_done_when_trashed_or_after_a_retry() {
        let trashed = ApiError::from_response(
            "trash file",
            404,
            None,
            br#"{"type":"error","status":404,"code":"trashed","message":"Item is trashed"}"#,
        );
        let missing = ApiError::from_response(
            "trash file",
            404,
            None,
            br#"{"type":"error","status":404,"code":"not_found","message":"Not Found"}"#,
        );
        assert!(gone_is_done(&trashed, 1));
        assert!(!gone_is_done(&missing, 1));
        assert!(gone_is_done(&missing, 2));
    }

    #[test]
    fn placement_is_read_from_parent_and_name() {
        let v = serde_json::json!({"type":"file","id":"1","name":"b","parent":{"type":"folder","id":"7"}});
        assert_eq!(placed(&v), (Some("7"), Some("b")));
        assert_eq!(placed(&serde_json::json!({})), (None, None));
    }
}
