//! `--map`: before the first upload, resolve every owner (all unknown ones named at once),
//! check that each can write to its dest folder, or find or make its home folder in its own
//! root ("0", As-User the owner: idempotent, an existing folder of that name is reused), and
//! hand the upload stage one [`Root`] per source. A dry run only looks (a missing home folder
//! is predicted, not made).
use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt;
use tokio::runtime::Runtime;

use super::error::MigrateError;
use crate::box_api::{BoxClient, ErrorKind};
use crate::plan::owners::{MapEntry, OwnerMap};
use crate::upload::access::{self, Access};
use crate::upload::folders::{Listing, Root};

/// Who owns which path: the map and its owners' Box user ids (for the planner's `as_user`).
#[derive(Debug, Clone)]
pub struct OwnerIds {
    map: Arc<OwnerMap>,
    ids: Arc<HashMap<String, String>>,
}

impl OwnerIds {
    /// The Box user id owning local path `rel`, if it lies under a `--map` source.
    pub fn owner_id(&self, rel: &str) -> Option<&str> {
        let e = self.map.entry_of(rel)?;
        self.ids.get(&e.owner).map(String::as_str)
    }
}

/// A line, its owner's client, and the folder its files go to (or why not).
type Home<'a> = (&'a MapEntry, BoxClient, Result<Option<String>, String>);

/// Load and check `--map` (no Box call): bad lines, sources not under SRC, overlaps.
pub(super) fn load(
    file: &std::path::Path,
    src: &std::path::Path,
) -> Result<OwnerMap, MigrateError> {
    Ok(OwnerMap::load(file, src)?)
}

/// [`prepare`] when there is a map; no owners and no roots without one.
pub(super) fn prepare_all(
    rt: &Runtime,
    client: &BoxClient,
    map: Option<OwnerMap>,
    dry_run: bool,
) -> Result<(Option<OwnerIds>, Vec<Root>), MigrateError> {
    match map {
        Some(m) => prepare(rt, client, m, dry_run).map(|(ids, roots)| (Some(ids), roots)),
        None => Ok((None, Vec::new())),
    }
}

/// Resolve the owners and their home folders. Every unknown owner, and every line whose owner
/// cannot write to its dest, is named in one error.
pub(super) fn prepare(
    rt: &Runtime,
    client: &BoxClient,
    map: OwnerMap,
    dry_run: bool,
) -> Result<(OwnerIds, Vec<Root>), MigrateError> {
    let owners = rt.block_on(map.resolve(client))?;
    let ids: HashMap<String, String> = owners
        .0
        .iter()
        .map(|(who, u)| (who.clone(), u.id.clone()))
        .collect();
    let homes: Vec<Home> = rt.block_on(
        futures::stream::iter(map.entries.iter().map(|e| {
            let owner = client.as_user(&ids[&e.owner]);
            async move {
                let home = home(&owner, e, dry_run).await;
                (e, owner, home)
            }
        }))
        .buffered(8)
        .collect(),
    );
    let mut refused = Vec::new();
    let mut roots = Vec::new();
    for (e, owner, home) in homes {
        match home {
            Ok(folder_id) => roots.push(Root {
                path: e.source.clone(),
                folder_id,
                client: owner,
            }),
            Err(why) => refused.push(format!(
                "line {} ({} -> {}): {why}",
                e.line, e.source, e.owner
            )),
        }
    }
    if !refused.is_empty() {
        return Err(MigrateError::OwnerAccess {
            file: map.file.clone(),
            detail: refused.join("; "),
        });
    }
    for r in &roots {
        tracing::info!(source = %r.path, as_user = r.client.acting_as().unwrap_or_default(), folder_id = r.folder_id.as_deref().unwrap_or("(to be made)"), "--map home folder");
    }
    Ok((
        OwnerIds {
            map: Arc::new(map),
            ids: Arc::new(ids),
        },
        roots,
    ))
}

/// The folder `e`'s files go to, as `owner` sees it: its dest if the owner can write there,
/// else its home folder in the owner's root (made unless `dry_run`; `None`: not there yet).
async fn home(owner: &BoxClient, e: &MapEntry, dry_run: bool) -> Result<Option<String>, String> {
    if let Some(dest) = &e.dest {
        return match access::check_one(owner, dest).await {
            Access::CanUpload => Ok(Some(dest.clone())),
            Access::ReadOnly => Err(format!("the owner cannot upload to folder {dest}")),
            Access::NotFound => Err(format!("the owner cannot see folder {dest} (404)")),
            Access::Unknown(why) => Err(format!("cannot check folder {dest}: {why}")),
        };
    }
    let name = e.home_name();
    if dry_run {
        return match owner.list_folder("0", &["name"]).await {
            Ok(items) => Ok(Listing::from_items(items)
                .get(name)
                .filter(|x| x.kind == crate::model::ItemKind::Folder)
                .map(|x| x.id.clone())),
            Err(err) => Err(format!("cannot list the owner's root: {err}")),
        };
    }
    match owner.ensure_folder("0", name).await {
        Ok(id) => Ok(Some(id)),
        Err(err) if matches!(err.kind, ErrorKind::Conflict { .. }) => Err(format!(
            "the owner's root holds a file named {name:?} where the home folder goes: {err}"
        )),
        Err(err) => Err(format!("cannot make {name:?} in the owner's root: {err}")),
    }
}
