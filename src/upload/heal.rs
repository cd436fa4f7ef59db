//! What the executor does with the failures that no retry fixes but that say more than "this
//! row failed": a 404 on a folder (the destination gone: stop the job; a folder under it gone:
//! forget that subtree and create it again) and a 403 on a write as an `--as-user` identity
//! (drop that identity, give its files to the others).
//!
//! A 404 does not say which folder went: the executor asks Box, top down, from the
//! destination along the row's directory, with the ids this run resolved. Concurrent 404s
//! under the same folder share one such look, so a trashed folder costs one `GET` per level,
//! not one per file in flight.
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use super::folders::split;
use super::task::Ctx;
use crate::box_api::{ApiError, ErrorKind};
use crate::manifest::Kind;
use crate::model::{Action, Event, ReportRow};

/// The report's `error_code` on the row of a directory whose Box folder was found gone and
/// created again (action `folder_created`; `failed` if the new one could not be made).
pub const SUBTREE_RECREATED: &str = "subtree_recreated";

/// What a 404 under a row's directory turned out to mean.
#[derive(Debug, Clone)]
pub(super) enum Gone {
    /// The destination folder itself answered 404: nothing else can succeed.
    Dest(ApiError),
    /// Box folder `folder_id` of local directory `path` answered 404 (trashed or deleted).
    Subtree {
        path: String,
        folder_id: String,
        why: ApiError,
    },
    /// Every folder on the path is there (or Box could not tell): the 404 was about something
    /// else (a file or session id from the journal).
    Nothing,
}

/// Single-flight looks: by the deepest known folder id of the row's path ("" for the
/// destination itself).
#[derive(Debug, Default)]
pub struct Heal {
    looks: Mutex<HashMap<String, Arc<OnceCell<Gone>>>>,
}

/// `dir` and its ancestors, top down: "a", "a/b", "a/b/c" (none for "").
fn prefixes(dir: &str) -> impl Iterator<Item = &str> {
    dir.match_indices('/')
        .map(move |(i, _)| &dir[..i])
        .chain((!dir.is_empty()).then_some(dir))
}

/// After a 404 on a row under directory `dir`: which folder, if any, is gone.
pub(super) async fn diagnose(ctx: &Ctx, dir: &str) -> Gone {
    // The folders of the path this run knows ids for, top down, up to the first unknown one.
    let chain: Vec<(String, String)> = prefixes(dir)
        .map_while(|p| ctx.folders.known(p).map(|id| (p.to_string(), id)))
        .collect();
    let key = chain
        .last()
        .map_or_else(|| ctx.folders.dest().to_string(), |(_, id)| id.clone());
    // The destination first, one look for every row that asks meanwhile; then the path.
    match once(ctx, String::new(), look_dest(ctx)).await {
        Gone::Nothing => {}
        gone => return gone,
    }
    once(ctx, key, look(ctx, &chain)).await
}

/// `look`'s answer, shared by every caller that asks for `key` while it runs; the next caller
/// after that looks again (what was there may be gone by then).
async fn once(ctx: &Ctx, key: String, look: impl Future<Output = Gone>) -> Gone {
    let cell = {
        let mut looks = ctx.heal.looks.lock().unwrap_or_else(|e| e.into_inner());
        looks.entry(key.clone()).or_default().clone()
    };
    let gone = cell.get_or_init(|| look).await.clone();
    let mut looks = ctx.heal.looks.lock().unwrap_or_else(|e| e.into_inner());
    if looks.get(&key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
        looks.remove(&key);
    }
    gone
}

/// Is the destination itself gone? (`Nothing` when it is there, or Box could not tell.)
async fn look_dest(ctx: &Ctx) -> Gone {
    match ctx.client.get_folder(ctx.folders.dest()).await {
        Err(e) if e.kind == ErrorKind::NotFound => Gone::Dest(e),
        _ => Gone::Nothing,
    }
}

/// The first folder of `chain` (top down) that Box says is gone.
async fn look(ctx: &Ctx, chain: &[(String, String)]) -> Gone {
    for (path, id) in chain {
        match ctx.folders.client_for(path).get_folder(id).await {
            Err(e) if e.kind == ErrorKind::NotFound => {
                return Gone::Subtree {
                    path: path.clone(),
                    folder_id: id.clone(),
                    why: e,
                };
            }
            Err(_) => return Gone::Nothing,
            Ok(_) => {}
        }
    }
    Gone::Nothing
}

/// Box folder `folder_id` of `path` is gone: forget it and everything under it (in this run's
/// caches and in the journal, so the files finished into it are sent again by the next run),
/// create it again and report that, once per gone folder. Every caller may then retry its row.
pub(super) async fn heal_subtree(ctx: &Ctx, path: &str, folder_id: &str, why: &ApiError) {
    let (parent, name) = split(path);
    if !ctx.folders.forget_subtree(path, folder_id) {
        return;
    }
    if let Some(parent_id) = ctx.folders.known(parent) {
        ctx.folders
            .client_for(parent)
            .forget_folder(&parent_id, name);
    }
    let _ = ctx.events.send(Event::SubtreeGone {
        path: path.to_string(),
        folder_id: folder_id.to_string(),
    });
    tracing::warn!(
        path,
        folder_id,
        "Box folder {folder_id} ({path}) is gone ({}): creating it again; files sent into it \
         before it went are in Box's trash and the next run sends them again",
        why.code.as_deref().unwrap_or("404")
    );
    let mut row = ReportRow::new(path, Kind::Dir, 0, "");
    row.error_code = SUBTREE_RECREATED.into();
    match ctx.folders.ensure(path).await {
        Ok((id, _)) => {
            row.action = Some(Action::FolderCreated);
            row.error_message = format!(
                "Box folder {folder_id} was gone ({why}); created again as {id}. Files sent into \
                 it before are in Box's trash: the next run sends them again"
            );
            row.box_folder_id = id;
        }
        Err(e) => {
            row.action = Some(Action::Failed);
            row.error_message =
                format!("Box folder {folder_id} was gone ({why}); creating it again failed: {e}");
        }
    }
    let _ = ctx.events.send(Event::FileDone(row));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_run_top_down() {
        assert_eq!(prefixes("a/b/c").collect::<Vec<_>>(), ["a", "a/b", "a/b/c"]);
        assert_eq!(prefixes("a").collect::<Vec<_>>(), ["a"]);
        assert_eq!(prefixes("").count(), 0);
    }
}
