//! Box folder ids for local directories, and cached listings of destination folders.
//!
//! Every local directory maps to one Box folder, created at most once per run (single-flight per
//! path, so 1,000 files racing into a new directory make one `POST /folders`). Each destination
//! folder is listed at most once (`fields=name,size,sha1,etag,file_version`, all pages), so files
//! already in Box are found without a call per file; the listing cache is bounded (FIFO). A
//! folder this run created is known to be empty and is never listed (on a fresh migration
//! those listings were a fifth of all requests).
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::box_api::model::Item;
use crate::box_api::names::box_name_key;
use crate::box_api::{ApiError, BoxClient};
use crate::model::{Event, ItemKind};

/// Fields asked for when listing a destination folder.
pub const LIST_FIELDS: &[&str] = &["name", "size", "sha1", "etag", "file_version"];

/// How many folder listings stay cached. Manifests list a directory's files together, so a small
/// window serves nearly every lookup; a folder evicted and needed again is listed again.
const LISTING_CACHE: usize = 256;

/// One entry of a destination folder.
#[derive(Debug, Clone, PartialEq)]
pub struct Existing {
    /// File, folder or web link.
    pub kind: ItemKind,
    /// Box id.
    pub id: String,
    /// Name as Box holds it.
    pub name: String,
    /// Size (files).
    pub size: Option<u64>,
    /// SHA-1 (files).
    pub sha1: Option<String>,
    /// Current version id (files).
    pub version_id: Option<String>,
    /// Etag, for `if-match` on a new version.
    pub etag: Option<String>,
}

/// A folder's entries by lower-cased name (Box names are unique case-insensitively), plus the
/// names of folders that appear twice (a create race: `verify` reports them).
#[derive(Debug, Default)]
pub struct Listing {
    /// Entries by lower-cased name.
    pub by_name: HashMap<String, Existing>,
    /// Lower-cased names held by more than one folder.
    pub duplicate_folders: Vec<String>,
}

impl Listing {
    /// Build from the items of one folder.
    pub fn from_items(items: Vec<Item>) -> Self {
        let mut l = Listing::default();
        for item in items {
            let (kind, f) = match item {
                Item::File(f) => (ItemKind::File, f),
                Item::Folder(f) => (ItemKind::Folder, f),
                Item::WebLink(f) => (ItemKind::WebLink, f),
            };
            let name = f.name.clone().unwrap_or_default();
            let e = Existing {
                kind,
                id: f.id,
                size: f.size,
                sha1: f.sha1,
                version_id: f.file_version.map(|v| v.id),
                etag: f.etag,
                name: name.clone(),
            };
            let key = box_name_key(&name);
            if let Some(prev) = l.by_name.get(&key) {
                if prev.kind == ItemKind::Folder && kind == ItemKind::Folder {
                    l.duplicate_folders.push(key);
                }
                // Keep the first (Box lists oldest first); a twin folder is reported, not used.
                continue;
            }
            l.by_name.insert(key, e);
        }
        l
    }

    /// The entry named `name` (case-insensitively).
    pub fn get(&self, name: &str) -> Option<&Existing> {
        self.by_name.get(&box_name_key(name))
    }
}

type Cell<T> = Arc<OnceCell<T>>;
/// Listings by folder id, and their insertion order for FIFO eviction.
type ListingCache = (HashMap<String, Cell<Arc<Listing>>>, VecDeque<String>);
/// A boxed future of a Box call (the resolvers recurse, so their futures are boxed).
type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ApiError>> + Send + 'a>>;

/// Folder ids by local directory, created on demand, and listings by folder id.
#[derive(Debug)]
pub struct Folders {
    client: BoxClient,
    dest: String,
    ids: Mutex<HashMap<String, Cell<String>>>,
    listings: Mutex<ListingCache>,
    lookups: Mutex<HashMap<String, Cell<Option<String>>>>,
    /// Ids of the folders this run created: empty when made, so their listing is empty too
    /// (what this run puts there later, it knows of; a 409 from anyone else's file still gets
    /// the conflict policy).
    made: Mutex<std::collections::HashSet<String>>,
    /// Ids of folders found gone from Box (trashed or deleted) in this run: never seeded again.
    gone: Mutex<std::collections::HashSet<String>>,
    events: Option<tokio::sync::mpsc::UnboundedSender<Event>>,
}

pub(crate) fn split(rel: &str) -> (&str, &str) {
    match rel.rfind('/') {
        Some(i) => (&rel[..i], &rel[i + 1..]),
        None => ("", rel),
    }
}

impl Folders {
    /// Folders under Box folder `dest`.
    /// Folders resolved for the first time are announced on `events` (the state journal keeps
    /// them, so a re-run needs no call for them).
    pub fn new(
        client: BoxClient,
        dest: &str,
        events: Option<tokio::sync::mpsc::UnboundedSender<Event>>,
    ) -> Self {
        Folders {
            events,
            client,
            dest: dest.to_string(),
            ids: Mutex::new(HashMap::new()),
            listings: Mutex::new((HashMap::new(), VecDeque::new())),
            lookups: Mutex::new(HashMap::new()),
            made: Mutex::new(std::collections::HashSet::new()),
            gone: Mutex::new(std::collections::HashSet::new()),
        }
    }

    /// The client it resolves and creates folders with.
    pub fn client(&self) -> &BoxClient {
        &self.client
    }

    /// The destination folder's id.
    pub fn dest(&self) -> &str {
        &self.dest
    }

    /// The id of local directory `rel` if this run has resolved it (or seeded it), without a
    /// call; "" is the destination.
    pub fn known(&self, rel: &str) -> Option<String> {
        if rel.is_empty() {
            return Some(self.dest.clone());
        }
        let ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        ids.get(rel).and_then(|c| c.get().cloned())
    }

    /// Box folder `id` of local directory `rel` is gone (trashed or deleted): forget it and
    /// every directory under `rel`, so the next `ensure` creates them again, and never take
    /// `id` nor any folder id under it from the journal again. Returns false if `id` was
    /// already known to be gone.
    pub fn forget_subtree(&self, rel: &str, id: &str) -> bool {
        if !self
            .gone
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string())
        {
            return false;
        }
        let below = format!("{rel}/");
        let mut ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        // The folders under it went with it: a row that was sent into one of them retries.
        let mut under = Vec::new();
        ids.retain(|p, cell| {
            let keep = p != rel && !p.starts_with(&below);
            if !keep && let Some(id) = cell.get() {
                under.push(id.clone());
            }
            keep
        });
        drop(ids);
        self.gone
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(under);
        self.made
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        true
    }

    /// Was Box folder `id` found gone in this run?
    pub fn is_gone(&self, id: &str) -> bool {
        self.gone
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(id)
    }

    /// Remember an id known from the state journal (no call); an id found gone in this run is
    /// not taken.
    pub fn seed(&self, rel: &str, id: &str) {
        if self.is_gone(id) {
            return;
        }
        let mut ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        ids.entry(rel.to_string())
            .or_insert_with(|| Arc::new(OnceCell::new_with(Some(id.to_string()))));
    }

    /// Forget the ids of `rel` and its ancestors: one turned out stale (deleted in Box since
    /// the journal recorded it), and the next `ensure` finds or re-creates them.
    pub fn forget(&self, rel: &str) {
        let mut ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        let mut p = rel;
        while !p.is_empty() {
            ids.remove(p);
            p = split(p).0;
        }
    }

    /// The Box folder id of local directory `rel` ("" is the destination), creating it and its
    /// parents as needed. Returns whether this call resolved it (first time in this run).
    pub fn ensure<'a>(&'a self, rel: &'a str) -> BoxFuture<'a, (String, bool)> {
        Box::pin(async move {
            if rel.is_empty() {
                return Ok((self.dest.clone(), false));
            }
            let cell = {
                let mut ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
                ids.entry(rel.to_string()).or_default().clone()
            };
            let mut fresh = false;
            let fresh_ref = &mut fresh;
            let id = cell
                .get_or_try_init(|| async move {
                    let (parent, name) = split(rel);
                    let (parent_id, _) = self.ensure(parent).await?;
                    *fresh_ref = true;
                    let (id, made) = self.client.ensure_folder_made(&parent_id, name).await?;
                    if made {
                        self.made
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(id.clone());
                    }
                    if let Some(ev) = &self.events {
                        let _ = ev.send(Event::FolderResolved {
                            path: rel.to_string(),
                            folder_id: id.clone(),
                        });
                    }
                    Ok::<_, ApiError>(id)
                })
                .await?;
            Ok((id.clone(), fresh))
        })
    }

    /// Read-only (dry runs): what Box holds at local directory `rel`, whatever its kind (a
    /// file where a folder goes is a conflict the plan reports). `None` when nothing, or when a
    /// parent is missing.
    pub async fn lookup_item(&self, rel: &str) -> Result<Option<Existing>, ApiError> {
        if rel.is_empty() {
            return Ok(Some(Existing {
                kind: ItemKind::Folder,
                id: self.dest.clone(),
                name: String::new(),
                size: None,
                sha1: None,
                version_id: None,
                etag: None,
            }));
        }
        let (parent, name) = split(rel);
        let Some(parent_id) = self.lookup(parent).await? else {
            return Ok(None);
        };
        Ok(self.listing(&parent_id).await?.get(name).cloned())
    }

    /// Read-only: the id of local directory `rel` in Box if it exists (dry runs).
    pub fn lookup<'a>(&'a self, rel: &'a str) -> BoxFuture<'a, Option<String>> {
        Box::pin(async move {
            if rel.is_empty() {
                return Ok(Some(self.dest.clone()));
            }
            let cell = {
                let mut m = self.lookups.lock().unwrap_or_else(|e| e.into_inner());
                m.entry(rel.to_string()).or_default().clone()
            };
            let id = cell
                .get_or_try_init(|| async {
                    let (parent, name) = split(rel);
                    let Some(parent_id) = self.lookup(parent).await? else {
                        return Ok(None);
                    };
                    let listing = self.listing(&parent_id).await?;
                    Ok::<_, ApiError>(
                        listing
                            .get(name)
                            .filter(|e| e.kind == ItemKind::Folder)
                            .map(|e| e.id.clone()),
                    )
                })
                .await?;
            Ok(id.clone())
        })
    }

    /// The listing of Box folder `folder_id`, listed once while it stays cached; empty without
    /// a call for a folder this run created.
    pub async fn listing(&self, folder_id: &str) -> Result<Arc<Listing>, ApiError> {
        if self
            .made
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(folder_id)
        {
            return Ok(Arc::new(Listing::default()));
        }
        let cell = {
            let mut g = self.listings.lock().unwrap_or_else(|e| e.into_inner());
            let (map, order) = &mut *g;
            if let Some(c) = map.get(folder_id) {
                c.clone()
            } else {
                while order.len() >= LISTING_CACHE {
                    if let Some(old) = order.pop_front() {
                        map.remove(&old);
                    }
                }
                let c: Cell<Arc<Listing>> = Arc::default();
                map.insert(folder_id.to_string(), c.clone());
                order.push_back(folder_id.to_string());
                c
            }
        };
        let l = cell
            .get_or_try_init(|| async {
                let items = self.client.list_folder(folder_id, LIST_FIELDS).await?;
                Ok::<_, ApiError>(Arc::new(Listing::from_items(items)))
            })
            .await?;
        Ok(l.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::box_api::model::ItemFields;

    fn fields(id: &str, name: &str) -> ItemFields {
        ItemFields {
            id: id.into(),
            etag: None,
            sequence_id: None,
            name: Some(name.into()),
            size: Some(1),
            sha1: Some("aa".into()),
            file_version: None,
            content_modified_at: None,
            modified_at: None,
            owned_by: None,
            created_by: None,
        }
    }

    #[test]
    fn listing_is_case_insensitive_and_spots_twin_folders() {
        let l = Listing::from_items(vec![
            Item::File(fields("1", "Report.PDF")),
            Item::Folder(fields("2", "docs")),
            Item::Folder(fields("3", "Docs")),
        ]);
        assert_eq!(l.get("report.pdf").unwrap().id, "1");
        assert_eq!(l.get("DOCS").unwrap().id, "2");
        assert_eq!(l.duplicate_folders, vec!["docs".to_string()]);
    }

    #[test]
    fn split_parent_and_name() {
        assert_eq!(split("a/b/c"), ("a/b", "c"));
        assert_eq!(split("c"), ("", "c"));
    }
}
