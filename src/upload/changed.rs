//! A file that changed while it was being sent: Box refuses the body (its digest no longer
//! matches the SHA-1 the scan took: `bad_digest`, `digest_mismatch`; or the body came up short:
//! a malformed multipart body), the client's re-stat sees another size or mtime, or Box stored
//! other content than the scan hashed. The row gets its own code, and the file one more try from
//! a fresh read (stat and hash again), so what lands in Box is always what the row's SHA-1 says.
use chrono::{DateTime, TimeZone, Utc};

use crate::box_api::{ApiError, ErrorKind};
use crate::hash::{Checked, Stamp, hash_checked};
use crate::plan::FileTask;

/// The report's `error_code` for a file that changed while it was uploaded, and changed again
/// (or could not be read) on its one more try.
pub const CHANGED_DURING_UPLOAD: &str = "changed_during_upload";

/// Did `t` change while it was sent, by what `e` says or by a fresh stat?
pub(super) fn changed_during_upload(t: &FileTask, e: &ApiError) -> bool {
    let box_says = matches!(e.code.as_deref(), Some("bad_digest" | "digest_mismatch"))
        || e.kind == ErrorKind::Integrity
        || (e.status == Some(400) && e.message.to_ascii_lowercase().contains("malformed"));
    box_says || restat_differs(t)
}

/// Size or mtime differ from the scan's (a file that cannot be stat'ed has not "changed": its
/// own error says why).
fn restat_differs(t: &FileTask) -> bool {
    let Ok(now) = Stamp::stat(&t.abs) else {
        return false;
    };
    now.size != t.size || t.modified.is_some_and(|m| m != mtime(&now))
}

fn mtime(s: &Stamp) -> DateTime<Utc> {
    Utc.timestamp_opt(s.mtime_secs, s.mtime_nanos)
        .single()
        .unwrap_or_default()
}

/// The same file as it is now: stat and hash again (on a blocking thread). `None` when it cannot
/// be read, or keeps changing while it is hashed.
pub(super) async fn reread(t: &FileTask) -> Option<FileTask> {
    let path = t.abs.clone();
    let checked = tokio::task::spawn_blocking(move || {
        let stamp = Stamp::stat(&path).ok()?;
        hash_checked(&path, stamp).ok()
    })
    .await
    .ok()
    .flatten()?;
    let Checked::Stable { sha1, stamp } = checked else {
        return None;
    };
    tracing::info!(path = %t.path, size = stamp.size, "the file changed while it was uploaded; sending it again as it is now");
    Some(FileTask {
        size: stamp.size,
        sha1: hex::encode(sha1),
        modified: Some(mtime(&stamp)),
        resume_session: None,
        stale_session: t.resume_session.clone().or_else(|| t.stale_session.clone()),
        as_user: None,
        // Shared: progress counts the parts of every try of this row once.
        ..t.clone()
    })
}
