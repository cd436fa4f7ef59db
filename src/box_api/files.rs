//! Direct upload (multipart, attributes first, streamed from the file), new version with
//! `if-match`, server-side copy, and the checks every upload ends with: the source is re-stat'ed
//! before sending, and Box's `sha1` and `size` must equal the source's.
use std::path::PathBuf;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::multipart::{Form, Part};
use serde_json::Value;

use super::BoxClient;
use super::error::{ApiError, ErrorKind};
use super::http::{Fail, Req};
use super::model::{CopyFile, File, Files, ParentRef, UploadAttributes};
use super::pace::Bucket;

/// A local file to upload, as the scan saw it.
#[derive(Debug, Clone)]
pub struct UploadSource {
    /// Where it is.
    pub path: PathBuf,
    /// Size in bytes at scan time.
    pub size: u64,
    /// SHA-1 (hex) at scan time.
    pub sha1_hex: String,
    /// Modification time at scan time (sent as `content_modified_at`).
    pub modified: Option<DateTime<Utc>>,
}

/// Where the upload goes.
#[derive(Debug, Clone)]
pub enum UploadTarget {
    /// A new file `name` in folder `parent_id`.
    NewFile {
        /// Folder id.
        parent_id: String,
        /// File name.
        name: String,
    },
    /// A new version of `file_id`; `if_match` (an etag) makes Box refuse if the file changed.
    NewVersion {
        /// File id.
        file_id: String,
        /// Expected etag.
        if_match: Option<String>,
    },
}

/// A finished upload.
#[derive(Debug, Clone)]
pub struct Uploaded {
    /// The file as Box returned it (sha1 and size verified).
    pub file: File,
    /// HTTP attempts the operation took.
    pub attempts: u32,
    /// Content bytes sent (every attempt counted).
    pub bytes_sent: u64,
    /// Box's request id of the final reply.
    pub request_id: Option<String>,
    /// Nothing was stored: Box already held this name with the same SHA-1 (409 resolved) before
    /// this call sent anything that may have landed. A 409 met after an attempt whose reply was
    /// lost names that attempt's own file: then this is `false`, the content was sent.
    pub already_there: bool,
}

pub(crate) fn rfc3339(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

impl UploadSource {
    /// Re-stat: the file must still have the size and mtime the scan recorded.
    pub(crate) fn check_unchanged(&self) -> Result<(), ApiError> {
        let md = std::fs::metadata(&self.path)
            .map_err(|e| ApiError::local(&self.path, "cannot stat", e))?;
        if !md.is_file() {
            return Err(ApiError::new(
                ErrorKind::Io,
                format!("{}: not a regular file any more", self.path.display()),
            ));
        }
        if md.len() != self.size {
            return Err(ApiError::new(
                ErrorKind::Io,
                format!(
                    "{}: changed since scan (size {} -> {})",
                    self.path.display(),
                    self.size,
                    md.len()
                ),
            ));
        }
        if let (Some(want), Ok(now)) = (self.modified, md.modified()) {
            let now: DateTime<Utc> = now.into();
            if (now - want).num_milliseconds().abs() >= 1000 {
                return Err(ApiError::new(
                    ErrorKind::Io,
                    format!(
                        "{}: changed since scan (modified {} -> {})",
                        self.path.display(),
                        rfc3339(&want),
                        rfc3339(&now)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Box's answer must name the same content.
    pub(crate) fn verify(&self, file: &File, request_id: Option<&str>) -> Result<(), ApiError> {
        let sha_ok = file
            .sha1
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case(&self.sha1_hex));
        let size_ok = file.size.is_none_or(|s| s == self.size);
        if sha_ok && size_ok {
            return Ok(());
        }
        Err(ApiError::new(
            ErrorKind::Integrity,
            format!(
                "{}: Box stored sha1 {} size {} but the source has sha1 {} size {} (file id {})",
                self.path.display(),
                file.sha1.as_deref().unwrap_or("(none)"),
                file.size
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "(none)".into()),
                self.sha1_hex,
                self.size,
                file.id
            ),
        )
        .with_request_id(request_id.map(str::to_owned)))
    }

    pub(crate) fn attributes(&self, target: &UploadTarget) -> UploadAttributes {
        let (name, parent) = match target {
            UploadTarget::NewFile { parent_id, name } => (
                Some(name.clone()),
                Some(ParentRef {
                    id: parent_id.clone(),
                }),
            ),
            UploadTarget::NewVersion { .. } => (None, None),
        };
        // The birth time, where the platform and filesystem give one (statx on Linux, most
        // filesystems; never on some network mounts): Box shows it as "created".
        let created = std::fs::metadata(&self.path)
            .and_then(|m| m.created())
            .ok()
            .map(DateTime::<Utc>::from);
        UploadAttributes {
            name,
            parent,
            content_created_at: created.as_ref().map(rfc3339),
            content_modified_at: self.modified.as_ref().map(rfc3339),
        }
    }
}

/// A direct upload's URL, path for logs, multipart file name, `if-match` and attributes JSON.
struct DirectRequest {
    url: String,
    path: &'static str,
    part_name: String,
    if_match: Option<String>,
    attrs: String,
}

impl Uploaded {
    /// A file this call stored.
    fn new(file: File, attempts: u32, bytes_sent: u64, request_id: Option<String>) -> Self {
        Uploaded {
            file,
            attempts,
            bytes_sent,
            request_id,
            already_there: false,
        }
    }
}

impl BoxClient {
    /// Direct upload (files up to 50 MB; which files go direct is
    /// [`super::limits::uses_session`]'s call, made by the planner): one multipart POST, `attributes` before `file`,
    /// `content-md5` = SHA-1 hex, the file streamed from disk and re-opened for every attempt.
    pub async fn upload_direct(
        &self,
        src: &UploadSource,
        target: UploadTarget,
    ) -> Result<Uploaded, ApiError> {
        src.check_unchanged()?;
        let DirectRequest {
            url,
            path,
            part_name,
            if_match,
            attrs,
        } = self.direct_request(src, &target)?;
        let build = |h: &reqwest::Client| {
            // A fresh file handle and stream per attempt: a consumed body is never re-sent.
            let f = std::fs::File::open(&src.path)
                .map_err(|e| ApiError::local(&src.path, "cannot open", e))?;
            let stream = tokio_util::io::ReaderStream::with_capacity(
                tokio::fs::File::from_std(f),
                256 * 1024,
            );
            let file_part = Part::stream_with_length(self.upload_body(stream), src.size)
                .file_name(part_name.clone())
                .mime_str("application/octet-stream")
                .map_err(|e| ApiError::new(ErrorKind::Other, "multipart").caused_by(e))?;
            let form = Form::new()
                .text("attributes", attrs.clone())
                .part("file", file_part);
            let mut rb = h
                .post(&url)
                .multipart(form)
                .header("content-md5", &src.sha1_hex);
            if let Some(etag) = &if_match {
                rb = rb.header("if-match", etag);
            }
            Ok(rb)
        };
        let mut ctx = self.retry_context();
        let mut bytes_sent = 0;
        loop {
            // A new file repeated after a lost reply meets itself as a 409 with the same SHA-1,
            // so it may be repeated; a new version is checked first (below).
            let idempotent = matches!(target, UploadTarget::NewFile { .. });
            let req = Req {
                op: "upload file",
                path,
                bucket: Bucket::Upload,
                idempotent,
                body_len: src.size,
            };
            let before = ctx.total_attempts;
            let res = self.execute_or_unknown(&mut ctx, req, build).await;
            bytes_sent += u64::from(ctx.total_attempts - before) * src.size;
            match res {
                Ok(reply) => {
                    let files: Files = reply.json("upload file")?;
                    let file = files.entries.into_iter().next().ok_or_else(|| {
                        ApiError::new(
                            ErrorKind::Other,
                            format!("{}: Box returned no file", src.path.display()),
                        )
                    })?;
                    src.verify(&file, reply.request_id.as_deref())?;
                    let (attempts, request_id) = (ctx.total_attempts, reply.request_id);
                    return Ok(Uploaded::new(file, attempts, bytes_sent, request_id));
                }
                Err(Fail::Final(e)) if e.is_name_in_use() => {
                    let file = self.same_content_conflict(src, &e).await?.ok_or(e)?;
                    return Ok(Uploaded {
                        file,
                        attempts: ctx.total_attempts,
                        bytes_sent,
                        request_id: None,
                        // After an attempt whose reply was lost, the file with our SHA-1 is
                        // that attempt's: this call stored it.
                        already_there: !ctx.maybe_landed,
                    });
                }
                Err(Fail::Final(e)) => return Err(e),
                Err(Fail::Unknown(e)) => {
                    // A new version whose reply was lost: did it land?
                    if let UploadTarget::NewVersion { file_id, .. } = &target {
                        let file = self.get_file(file_id).await?;
                        if src.verify(&file, None).is_ok() {
                            let attempts = ctx.total_attempts;
                            return Ok(Uploaded::new(file, attempts, bytes_sent, None));
                        }
                    }
                    if !ctx.within_time() {
                        return Err(e);
                    }
                }
            }
        }
    }

    /// Where a direct upload goes and what it carries besides the content.
    fn direct_request(
        &self,
        src: &UploadSource,
        target: &UploadTarget,
    ) -> Result<DirectRequest, ApiError> {
        let attrs = serde_json::to_string(&src.attributes(target))
            .map_err(|e| ApiError::new(ErrorKind::Other, "attributes").caused_by(e))?;
        let (url, path) = match target {
            UploadTarget::NewFile { .. } => (self.upload("/files/content"), "/files/content"),
            UploadTarget::NewVersion { file_id, .. } => (
                self.upload(&format!("/files/{}/content", urlencoding::encode(file_id))),
                "/files/{id}/content",
            ),
        };
        let part_name = match target {
            UploadTarget::NewFile { name, .. } => name.clone(),
            UploadTarget::NewVersion { .. } => src
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "file".into()),
        };
        let if_match = match target {
            UploadTarget::NewVersion { if_match, .. } => if_match.clone(),
            UploadTarget::NewFile { .. } => None,
        };
        Ok(DirectRequest {
            url,
            path,
            part_name,
            if_match,
            attrs,
        })
    }

    /// A 409 names a file: if it holds exactly our content, the upload is already done.
    pub(crate) async fn same_content_conflict(
        &self,
        src: &UploadSource,
        e: &ApiError,
    ) -> Result<Option<File>, ApiError> {
        for c in e.conflicts() {
            if c.get("type").and_then(Value::as_str) != Some("file") {
                continue;
            }
            let sha = c
                .get("sha1")
                .and_then(Value::as_str)
                .or_else(|| c.pointer("/file_version/sha1").and_then(Value::as_str));
            if sha.is_some_and(|s| !s.eq_ignore_ascii_case(&src.sha1_hex)) {
                continue;
            }
            let Some(id) = c.get("id").and_then(Value::as_str) else {
                continue;
            };
            // Confirm size and SHA-1 from Box itself, not from the error body.
            let file = self.get_file(id).await?;
            if src.verify(&file, None).is_ok() {
                tracing::debug!(
                    file_id = id,
                    "409 names a file with the same SHA-1: already uploaded"
                );
                return Ok(Some(file));
            }
        }
        Ok(None)
    }

    /// Server-side copy of `file_id` into `parent_id` (optionally renamed).
    pub async fn copy_file(
        &self,
        file_id: &str,
        parent_id: &str,
        name: Option<&str>,
    ) -> Result<File, ApiError> {
        let url = self.api(&format!("/files/{}/copy", urlencoding::encode(file_id)));
        let body = CopyFile {
            parent: ParentRef {
                id: parent_id.to_owned(),
            },
            name: name.map(str::to_owned),
        };
        let mut ctx = self.retry_context();
        let req = Req {
            op: "copy file",
            path: "/files/{id}/copy",
            bucket: Bucket::Api,
            idempotent: false,
            body_len: 0,
        };
        loop {
            match self
                .execute_or_unknown(&mut ctx, req, |h| Ok(h.post(&url).json(&body)))
                .await
            {
                Ok(reply) => return reply.json("copy file"),
                Err(Fail::Final(e)) if e.is_name_in_use() && ctx.total_attempts > 1 => {
                    // Our own earlier attempt may have landed: same SHA-1 as the source means yes.
                    let source = self.get_file(file_id).await?;
                    for c in e.conflicts() {
                        if let Some(id) = c.get("id").and_then(Value::as_str) {
                            let copy = self.get_file(id).await?;
                            if copy.sha1.is_some() && copy.sha1 == source.sha1 {
                                return Ok(copy);
                            }
                        }
                    }
                    return Err(e);
                }
                Err(Fail::Final(e)) => return Err(e),
                Err(Fail::Unknown(e)) if !ctx.within_time() => return Err(e),
                Err(Fail::Unknown(_)) => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(sha1: Option<&str>, size: Option<u64>) -> File {
        serde_json::from_value(serde_json::json!({"type":"file","id":"9","sha1":sha1,"size":size}))
            .unwrap()
    }

    #[test]
    fn verify_refuses_other_content() {
        let src = UploadSource {
            path: "/x/a.txt".into(),
            size: 3,
            sha1_hex: "A9993E364706816ABA3E25717850C26C9CD0D89D".into(),
            modified: None,
        };
        assert!(
            src.verify(
                &file(Some("a9993e364706816aba3e25717850c26c9cd0d89d"), Some(3)),
                None
            )
            .is_ok()
        );
        let e = src
            .verify(
                &file(Some("da39a3ee5e6b4b0d3255bfef95601890afd80709"), Some(0)),
                Some("rq"),
            )
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Integrity);
        assert!(e.message.contains("/x/a.txt") && e.request_id.as_deref() == Some("rq"));
        assert_eq!(
            src.verify(&file(None, Some(3)), None).unwrap_err().kind,
            ErrorKind::Integrity
        );
        assert_eq!(
            src.verify(
                &file(Some("a9993e364706816aba3e25717850c26c9cd0d89d"), Some(4)),
                None
            )
            .unwrap_err()
            .kind,
            ErrorKind::Integrity
        );
    }

    #[test]
    fn changed_sources_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.txt");
        std::fs::write(&p, b"abc").unwrap();
        let mtime: DateTime<Utc> = std::fs::metadata(&p).unwrap().modified().unwrap().into();
        let ok = UploadSource {
            path: p.clone(),
            size: 3,
            sha1_hex: String::new(),
            modified: Some(mtime),
        };
        ok.check_unchanged().unwrap();
        let grown = UploadSource {
            size: 2,
            ..ok.clone()
        };
        assert!(
            grown
                .check_unchanged()
                .unwrap_err()
                .message
                .contains("f.txt: changed since scan (size 2 -> 3)")
        );
        let touched = UploadSource {
            modified: Some(mtime - chrono::Duration::seconds(60)),
            ..ok.clone()
        };
        assert_eq!(touched.check_unchanged().unwrap_err().kind, ErrorKind::Io);
        let gone = UploadSource {
            path: dir.path().join("gone"),
            ..ok
        };
        assert_eq!(gone.check_unchanged().unwrap_err().kind, ErrorKind::Io);
    }

    #[test]
    fn attributes_carry_name_parent_and_mtime() {
        let t = DateTime::parse_from_rfc3339("2024-05-06T07:08:09.5Z")
            .unwrap()
            .with_timezone(&Utc);
        let src = UploadSource {
            path: "a".into(),
            size: 1,
            sha1_hex: String::new(),
            modified: Some(t),
        };
        let a = serde_json::to_value(src.attributes(&UploadTarget::NewFile {
            parent_id: "5".into(),
            name: "n".into(),
        }))
        .unwrap();
        assert_eq!(
            a,
            serde_json::json!({"name":"n","parent":{"id":"5"},"content_modified_at":"2024-05-06T07:08:09+00:00"})
        );
        let v = serde_json::to_value(src.attributes(&UploadTarget::NewVersion {
            file_id: "1".into(),
            if_match: None,
        }))
        .unwrap();
        assert!(v.get("name").is_none() && v.get("parent").is_none());
    }

    #[test]
    fn attributes_carry_the_birth_time_where_the_platform_gives_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"x").unwrap();
        let src = UploadSource {
            path: path.clone(),
            size: 1,
            sha1_hex: String::new(),
            modified: None,
        };
        let a = serde_json::to_value(src.attributes(&UploadTarget::NewVersion {
            file_id: "1".into(),
            if_match: None,
        }))
        .unwrap();
        match std::fs::metadata(&path).unwrap().created() {
            Ok(t) => assert_eq!(
                a["content_created_at"],
                rfc3339(&DateTime::<Utc>::from(t)).as_str()
            ),
            Err(_) => assert!(a.get("content_created_at").is_none(), "{a}"),
        }
    }
}
