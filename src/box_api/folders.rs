//! Folders: get, list (marker paging), ensure a path exists (single-flight, cached, 409 → the
//! existing id), and heal the duplicate folders Box itself can create under concurrent creation.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::OnceCell;

use super::BoxClient;
use super::error::{ApiError, ErrorKind};
use super::http::Req;
use super::model::{CreateFolder, Folder, Item, ItemFields, Items, ParentRef, UpdateItem};
use super::names::box_name_key;
use super::pace::Bucket;

type Cell<T> = Arc<OnceCell<T>>;

/// Known folder ids by (parent id, lower-cased name), and which parents have been listed.
/// Each entry is a `OnceCell`: the first task to ask creates, the others wait for its answer.
#[derive(Debug, Default)]
pub(crate) struct FolderCache {
    children: Mutex<HashMap<(String, String), Cell<String>>>,
    listed: Mutex<HashMap<String, Cell<()>>>,
}

impl FolderCache {
    fn child(&self, parent: &str, name: &str) -> Cell<String> {
        let mut m = self.children.lock().unwrap_or_else(|e| e.into_inner());
        m.entry((parent.to_owned(), box_name_key(name)))
            .or_default()
            .clone()
    }

    fn set_child(&self, parent: &str, name: &str, id: &str) {
        let mut m = self.children.lock().unwrap_or_else(|e| e.into_inner());
        m.insert(
            (parent.to_owned(), box_name_key(name)),
            Arc::new(OnceCell::new_with(Some(id.to_owned()))),
        );
    }

    fn forget_child(&self, parent: &str, name: &str) {
        let mut m = self.children.lock().unwrap_or_else(|e| e.into_inner());
        m.remove(&(parent.to_owned(), box_name_key(name)));
    }

    /// A folder moved, renamed or trashed: drop what the cache knew of its place. Its own
    /// children stay known (their ids and names did not change).
    pub(crate) fn forget(&self, id: &str) {
        let mut m = self.children.lock().unwrap_or_else(|e| e.into_inner());
        m.retain(|_, cell| cell.get().map(String::as_str) != Some(id));
    }

    /// A folder now known at (`parent`, `name`).
    pub(crate) fn remember(&self, parent: &str, name: &str, id: &str) {
        self.set_child(parent, name, id);
    }

    fn listed(&self, parent: &str) -> Cell<()> {
        let mut m = self.listed.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(parent.to_owned()).or_default().clone()
    }

    fn mark_listed(&self, parent: &str) {
        let mut m = self.listed.lock().unwrap_or_else(|e| e.into_inner());
        m.insert(parent.to_owned(), Arc::new(OnceCell::new_with(Some(()))));
    }
}

/// A folder `create_folder` resolved: made by this call, or found (409, listing).
#[derive(Debug)]
struct Created {
    id: String,
    by_us: bool,
}

impl Created {
    fn found(id: &str) -> Self {
        Created {
            id: id.to_owned(),
            by_us: false,
        }
    }
}

/// Box compares names case-insensitively.
fn folders_of(items: &[Item]) -> Vec<&ItemFields> {
    let mut v: Vec<&ItemFields> = items
        .iter()
        .filter_map(|i| {
            if let Item::Folder(f) = i {
                Some(f)
            } else {
                None
            }
        })
        .collect();
    // Oldest (smallest id) first, so twins resolve the same way every time.
    v.sort_by(|a, b| (a.id.len(), &a.id).cmp(&(b.id.len(), &b.id)));
    v
}

impl BoxClient {
    /// `GET /folders/{id}`.
    pub async fn get_folder(&self, id: &str) -> Result<Folder, ApiError> {
        let url = self.api(&format!("/folders/{}", urlencoding::encode(id)));
        let mut ctx = self.retry_context();
        let req = Req {
            op: "get folder",
            path: "/folders/{id}",
            bucket: Bucket::Api,
            idempotent: true,
            body_len: 0,
        };
        self.execute(&mut ctx, req, |h| Ok(h.get(&url)))
            .await?
            .json("get folder")
    }

    /// `GET /folders/{id}?fields=permissions,name` as this client's identity: can it upload
    /// there? (Box answers 404 `not_found` to a user who is not a collaborator.)
    pub async fn folder_permissions(&self, id: &str) -> Result<Folder, ApiError> {
        let url = self.api(&format!(
            "/folders/{}?fields=permissions,name",
            urlencoding::encode(id)
        ));
        let mut ctx = self.retry_context();
        let req = Req {
            op: "get folder permissions",
            path: "/folders/{id}",
            bucket: Bucket::Api,
            idempotent: true,
            body_len: 0,
        };
        self.execute(&mut ctx, req, |h| Ok(h.get(&url)))
            .await?
            .json("get folder permissions")
    }

    /// `GET /files/{id}` with the fields an upload check needs.
    pub async fn get_file(&self, id: &str) -> Result<super::File, ApiError> {
        let url = self.api(&format!("/files/{}", urlencoding::encode(id)));
        let mut ctx = self.retry_context();
        let req = Req {
            op: "get file",
            path: "/files/{id}",
            bucket: Bucket::Api,
            idempotent: true,
            body_len: 0,
        };
        self.execute(&mut ctx, req, |h| {
            Ok(h.get(&url).query(&[(
                "fields",
                "name,size,sha1,etag,sequence_id,file_version,parent,content_modified_at",
            )]))
        })
        .await?
        .json("get file")
    }

    /// Every item in a folder, all pages (marker paging, 1000 per page). `fields` adds to the
    /// mini item (`name` is always asked for).
    pub async fn list_folder(&self, id: &str, fields: &[&str]) -> Result<Vec<Item>, ApiError> {
        let url = self.api(&format!("/folders/{}/items", urlencoding::encode(id)));
        let mut f: Vec<&str> = fields.to_vec();
        if !f.is_empty() && !f.contains(&"name") {
            f.push("name");
        }
        let fields = f.join(",");
        let mut ctx = self.retry_context();
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let req = Req {
                op: "list folder",
                path: "/folders/{id}/items",
                bucket: Bucket::Api,
                idempotent: true,
                body_len: 0,
            };
            let page: Items = self
                .execute(&mut ctx, req, |h| {
                    let mut q = vec![("usemarker", "true"), ("limit", "1000")];
                    if !fields.is_empty() {
                        q.push(("fields", fields.as_str()));
                    }
                    if let Some(m) = &marker {
                        q.push(("marker", m.as_str()));
                    }
                    Ok(h.get(&url).query(&q))
                })
                .await?
                .json("list folder")?;
            let n = page.entries.len();
            out.extend(page.entries);
            match page.next_marker.filter(|m| !m.is_empty()) {
                Some(m) if n > 0 => marker = Some(m),
                _ => return Ok(out),
            }
        }
    }

    /// Forget the cached id of folder `name` in `parent_id`: it is gone from Box (trashed or
    /// deleted), and the next [`BoxClient::ensure_folder`] creates it again.
    pub fn forget_folder(&self, parent_id: &str, name: &str) {
        self.shared
            .folders
            .forget_child(&self.cache_parent(parent_id), name);
    }

    /// The folder cache's key for parent `parent_id`: folder ids are the same for every
    /// identity, except root "0", which is each `As-User`'s own root (`--map` home folders).
    fn cache_parent(&self, parent_id: &str) -> String {
        match self.acting_as() {
            Some(user) if parent_id == "0" => format!("0@{user}"),
            _ => parent_id.to_owned(),
        }
    }

    /// The id of folder `name` in `parent_id`, created if missing. Many tasks asking at once
    /// cause one creation; a 409 `item_name_in_use` yields the existing folder.
    pub async fn ensure_folder(&self, parent_id: &str, name: &str) -> Result<String, ApiError> {
        Ok(self.ensure_folder_made(parent_id, name).await?.0)
    }

    /// As [`BoxClient::ensure_folder`], and whether this call created the folder (`true`: it is
    /// known to be empty, so nobody needs to list it; `false`: it was there already, or another
    /// task or process resolved it).
    pub async fn ensure_folder_made(
        &self,
        parent_id: &str,
        name: &str,
    ) -> Result<(String, bool), ApiError> {
        let cache = &self.shared.folders;
        let key = self.cache_parent(parent_id);
        // List the parent once, so existing folders are found without a create attempt.
        cache
            .listed(&key)
            .get_or_try_init(|| async {
                let items = self.list_folder(parent_id, &["name"]).await?;
                for f in folders_of(&items) {
                    if let Some(n) = &f.name {
                        let _ = cache.child(&key, n).set(f.id.clone());
                    }
                }
                Ok::<(), ApiError>(())
            })
            .await?;
        let cell = cache.child(&key, name);
        let mut by_us = false;
        let by_us_ref = &mut by_us;
        let id = cell
            .get_or_try_init(|| async {
                let mut made = self.create_folder(parent_id, name).await?;
                if self.shared.config.settle_folder_twins {
                    made = self.settle_twins(parent_id, name, made).await?;
                }
                *by_us_ref = made.by_us;
                Ok::<String, ApiError>(made.id)
            })
            .await?
            .clone();
        Ok((id, by_us))
    }

    /// Other processes (shards) may create the same folder at the same moment, and Box can let
    /// both creations succeed (box-node-sdk#574). Every process converges on the oldest twin:
    /// after creating or finding `ours`, list the parent; if an older same-named folder exists,
    /// use it, and delete ours if we created it (not recursively: Box refuses to delete a
    /// folder that is not empty, so nothing anyone put there can be lost). Nobody else can have
    /// used ours yet: whoever learns of it by a 409 or a listing also sees the older one and
    /// picks it, since it was created first.
    async fn settle_twins(
        &self,
        parent_id: &str,
        name: &str,
        ours: Created,
    ) -> Result<Created, ApiError> {
        let items = self.list_folder(parent_id, &["name"]).await?;
        let oldest = folders_of(&items)
            .into_iter()
            .find(|f| f.name.as_deref().map(box_name_key) == Some(box_name_key(name)))
            .map(|f| f.id.clone());
        let Some(oldest) = oldest.filter(|o| *o != ours.id) else {
            return Ok(ours);
        };
        if ours.by_us {
            tracing::info!(parent_id, name, ours = %ours.id, oldest = %oldest, "another process created the same folder at once; using the older one");
            let url = self.api(&format!("/folders/{}", urlencoding::encode(&ours.id)));
            if let Err(e) = self
                .delete("delete twin folder", "/folders/{id}", &url, |_| true)
                .await
            {
                tracing::warn!(folder_id = %ours.id, "cannot delete a twin folder: {e}");
            }
        }
        Ok(Created::found(&oldest))
    }

    /// Create one folder; a 409 names the existing one.
    async fn create_folder(&self, parent_id: &str, name: &str) -> Result<Created, ApiError> {
        let url = self.api("/folders");
        let body = CreateFolder {
            name: name.to_owned(),
            parent: ParentRef {
                id: parent_id.to_owned(),
            },
        };
        let mut ctx = self.retry_context();
        // Repeating a create after a lost reply is resolved by the 409 below.
        let req = Req {
            op: "create folder",
            path: "/folders",
            bucket: Bucket::Api,
            idempotent: true,
            body_len: 0,
        };
        match self
            .execute(&mut ctx, req, |h| Ok(h.post(&url).json(&body)))
            .await
        {
            Ok(reply) => {
                let f: Folder = reply.json("create folder")?;
                // A folder we just made is empty: no need to list it later.
                self.shared.folders.mark_listed(&f.id);
                tracing::debug!(folder_id = %f.id, parent_id, "folder created");
                Ok(Created {
                    id: f.id,
                    by_us: true,
                })
            }
            Err(e) if e.is_name_in_use() => {
                let conflicts = e.conflicts();
                let folder = conflicts.iter().find(|c| {
                    c.get("type").and_then(Value::as_str) == Some("folder")
                        && c.get("name")
                            .and_then(Value::as_str)
                            .is_none_or(|n| box_name_key(n) == box_name_key(name))
                });
                if let Some(id) = folder.and_then(|c| c.get("id")).and_then(Value::as_str) {
                    return Ok(Created::found(id));
                }
                if conflicts
                    .iter()
                    .any(|c| c.get("type").and_then(Value::as_str) == Some("file"))
                {
                    return Err(ApiError {
                        message: format!(
                            "cannot create folder {name:?} in folder {parent_id}: a file has that name"
                        ),
                        ..e
                    });
                }
                // No usable context: look.
                let items = self.list_folder(parent_id, &["name"]).await?;
                folders_of(&items)
                    .into_iter()
                    .find(|f| f.name.as_deref().map(box_name_key) == Some(box_name_key(name)))
                    .map(|f| Created::found(&f.id))
                    .ok_or(e)
            }
            Err(e) => Err(e),
        }
    }

    /// Ensure every folder of `rel_dir` ("a/b/c"; "" is the root itself) exists under
    /// `root_id`; returns the id of the last one.
    pub async fn ensure_path(&self, root_id: &str, rel_dir: &str) -> Result<String, ApiError> {
        let mut id = root_id.to_owned();
        for part in rel_dir.split('/').filter(|p| !p.is_empty() && *p != ".") {
            id = self.ensure_folder(&id, part).await?;
        }
        Ok(id)
    }

    /// Merge same-named (case-insensitive) sibling folders in `parent_id` into the oldest one:
    /// move the twins' children over (merging sub-folders the same way), then delete the empty
    /// twins. Returns how many twins were removed.
    pub async fn heal_duplicate_folders(&self, parent_id: &str) -> Result<usize, ApiError> {
        let items = self.list_folder(parent_id, &["name"]).await?;
        let mut groups: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for f in folders_of(&items) {
            if let Some(n) = &f.name {
                groups
                    .entry(box_name_key(n))
                    .or_default()
                    .push((f.id.clone(), n.clone()));
            }
        }
        let mut healed = 0;
        for (_, group) in groups.into_iter().filter(|(_, g)| g.len() > 1) {
            let (keeper, keeper_name) = group[0].clone();
            for (twin, _) in &group[1..] {
                tracing::info!(parent_id, keeper = %keeper, twin = %twin, "merging duplicate folder");
                healed += Box::pin(self.merge_folder(twin, &keeper)).await?;
            }
            self.shared
                .folders
                .set_child(parent_id, &keeper_name, &keeper);
        }
        Ok(healed)
    }

    /// [`BoxClient::heal_duplicate_folders`] on `root_id` and every folder below it (one
    /// listing per folder: run it once at the end of a migration, not per file).
    pub async fn heal_tree(&self, root_id: &str) -> Result<usize, ApiError> {
        let mut healed = 0;
        let mut queue = vec![root_id.to_owned()];
        while let Some(id) = queue.pop() {
            healed += self.heal_duplicate_folders(&id).await?;
            let items = self.list_folder(&id, &["name"]).await?;
            queue.extend(folders_of(&items).into_iter().map(|f| f.id.clone()));
        }
        Ok(healed)
    }

    /// Move everything in `twin` into `keeper`, then delete `twin`.
    async fn merge_folder(&self, twin: &str, keeper: &str) -> Result<usize, ApiError> {
        let mut merged = 1;
        let keeper_items = self.list_folder(keeper, &["name", "sha1", "size"]).await?;
        let mut keeper_by_name: HashMap<String, &Item> = HashMap::new();
        for it in &keeper_items {
            if let Some(n) = item_fields(it).name.as_deref() {
                keeper_by_name.insert(box_name_key(n), it);
            }
        }
        for it in self.list_folder(twin, &["name", "sha1", "size"]).await? {
            let f = item_fields(&it);
            let name = f.name.clone().unwrap_or_default();
            match (&it, keeper_by_name.get(&box_name_key(&name))) {
                (Item::Folder(sub), Some(Item::Folder(kept))) => {
                    merged += Box::pin(self.merge_folder(&sub.id, &kept.id)).await?;
                }
                (Item::File(dup), Some(Item::File(kept)))
                    if dup.sha1.is_some() && dup.sha1 == kept.sha1 =>
                {
                    // The same content already sits in the keeper: the twin's copy is redundant.
                    self.delete_item("files", &dup.id).await?;
                }
                (_, Some(_)) => {
                    return Err(ApiError::new(
                        ErrorKind::Conflict { existing: None },
                        format!(
                            "cannot merge folder {twin} into {keeper}: {name:?} exists in both with different content"
                        ),
                    ));
                }
                (_, None) => {
                    let kind = match &it {
                        Item::Folder(_) => "folders",
                        Item::File(_) => "files",
                        Item::WebLink(_) => "web_links",
                    };
                    self.move_item(kind, &f.id, keeper).await?;
                }
            }
        }
        self.delete_item("folders", twin).await?;
        Ok(merged)
    }

    async fn move_item(&self, kind: &str, id: &str, parent_id: &str) -> Result<(), ApiError> {
        let url = self.api(&format!("/{kind}/{}", urlencoding::encode(id)));
        let body = UpdateItem {
            name: None,
            parent: Some(ParentRef {
                id: parent_id.to_owned(),
            }),
        };
        let mut ctx = self.retry_context();
        let req = Req {
            op: "move item",
            path: "/{kind}/{id}",
            bucket: Bucket::Api,
            idempotent: true,
            body_len: 0,
        };
        self.execute(&mut ctx, req, |h| Ok(h.put(&url).json(&body)))
            .await?;
        Ok(())
    }

    async fn delete_item(&self, kind: &str, id: &str) -> Result<(), ApiError> {
        let url = self.api(&format!("/{kind}/{}", urlencoding::encode(id)));
        // Gone already only counts after a retry (our first reply was lost): a 404 on the
        // first attempt means we were wrong about what exists.
        self.delete("delete item", "/{kind}/{id}", &url, |attempts| attempts > 1)
            .await
    }
}

fn item_fields(it: &Item) -> &ItemFields {
    match it {
        Item::File(f) | Item::Folder(f) | Item::WebLink(f) => f,
    }
}
