//! The emulated Box tree: folders, files and their current versions, with Box's uniqueness
//! rules. Memory by default; with a data dir, metadata is written through to SQLite and blobs
//! go to disk (content-addressed by SHA-1), so a restarted emulator keeps its tree.
//!
//! One `Mutex<Tree>` guards metadata only: callers hash bodies before taking it, so the lock is
//! held for map updates, never for hashing or network I/O.
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use rusqlite::{Connection, params};
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::rules::{name_key, now_text};

/// The root folder's id.
pub(crate) const ROOT: u64 = 0;

/// File or folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Folder,
    File,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Folder => "folder",
            Kind::File => "file",
        }
    }
}

/// One item with its current version.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub id: u64,
    pub kind: Kind,
    pub parent: u64,
    pub name: String,
    pub size: u64,
    pub sha1: String,
    pub versions: u32,
    pub version_id: u64,
    pub etag: u64,
    pub created_at: String,
    pub modified_at: String,
    pub content_created_at: Option<String>,
    pub content_modified_at: Option<String>,
    /// The bytes (memory mode only).
    pub content: Option<Bytes>,
}

/// New content for a file: what an upload, a commit or a copy brings.
#[derive(Debug, Clone)]
pub(crate) struct Content {
    pub size: u64,
    pub sha1: String,
    pub content_created_at: Option<String>,
    pub content_modified_at: Option<String>,
    pub bytes: Option<Bytes>,
}

/// Where blobs go.
#[derive(Debug, Clone)]
pub(crate) enum Blobs {
    Memory,
    Disk(PathBuf),
    Discard,
}

/// Metadata: items, children, the case-insensitive name index and the SQLite mirror.
#[derive(Debug)]
pub(crate) struct Tree {
    items: HashMap<u64, Item>,
    children: HashMap<u64, BTreeSet<u64>>,
    names: HashMap<(u64, String), u64>,
    next_id: u64,
    next_version: u64,
    used_bytes: u64,
    db: Option<Connection>,
}

/// The store: tree plus blob mode.
#[derive(Debug)]
pub(crate) struct Store {
    tree: Mutex<Tree>,
    pub blobs: Blobs,
}

fn db_err(e: rusqlite::Error) -> std::io::Error {
    std::io::Error::other(format!("emulator database: {e}"))
}

impl Store {
    /// Open the store: in memory, or loaded from `data_dir` (created if missing).
    pub fn open(data_dir: Option<&Path>, discard: bool) -> std::io::Result<Store> {
        let mut tree = Tree {
            items: HashMap::new(),
            children: HashMap::new(),
            names: HashMap::new(),
            next_id: 1000,
            next_version: 5000,
            used_bytes: 0,
            db: None,
        };
        let now = now_text();
        tree.items.insert(
            ROOT,
            Item {
                id: ROOT,
                kind: Kind::Folder,
                parent: ROOT,
                name: "All Files".into(),
                size: 0,
                sha1: String::new(),
                versions: 0,
                version_id: 0,
                etag: 0,
                created_at: now.clone(),
                modified_at: now,
                content_created_at: None,
                content_modified_at: None,
                content: None,
            },
        );
        let blobs = match (data_dir, discard) {
            (_, true) => Blobs::Discard,
            (Some(dir), false) => Blobs::Disk(dir.join("blobs")),
            (None, false) => Blobs::Memory,
        };
        if let Some(dir) = data_dir {
            std::fs::create_dir_all(dir.join("blobs"))?;
            let db = Connection::open(dir.join("emulator.sqlite")).map_err(db_err)?;
            db.execute_batch(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
                 CREATE TABLE IF NOT EXISTS items(id INTEGER PRIMARY KEY, kind TEXT NOT NULL,
                   parent INTEGER NOT NULL, name TEXT NOT NULL, size INTEGER NOT NULL,
                   sha1 TEXT NOT NULL, versions INTEGER NOT NULL, version_id INTEGER NOT NULL,
                   etag INTEGER NOT NULL, created_at TEXT NOT NULL, modified_at TEXT NOT NULL,
                   content_created_at TEXT, content_modified_at TEXT);
                 CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);",
            )
            .map_err(db_err)?;
            tree.load(&db).map_err(db_err)?;
            tree.db = Some(db);
        }
        Ok(Store {
            tree: Mutex::new(tree),
            blobs,
        })
    }

    /// Lock the tree (short critical sections only).
    pub fn lock(&self) -> MutexGuard<'_, Tree> {
        self.tree.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keep a blob according to the mode (disk: write it before metadata points to it).
    pub async fn keep_blob(&self, sha1: &str, bytes: Bytes) -> ApiResult<Option<Bytes>> {
        match &self.blobs {
            Blobs::Memory => Ok(Some(bytes)),
            Blobs::Discard => Ok(None),
            Blobs::Disk(dir) => {
                let path = dir.join(sha1);
                tokio::task::spawn_blocking(move || {
                    if !path.exists() {
                        let tmp = path.with_extension(format!("tmp{}", rand::random::<u64>()));
                        std::fs::write(&tmp, &bytes)?;
                        std::fs::rename(&tmp, &path)?;
                    }
                    Ok::<_, std::io::Error>(())
                })
                .await
                .map_err(|e| ApiError::internal(format!("blob task failed: {e}")))?
                .map_err(|e| ApiError::internal(format!("cannot write blob: {e}")))?;
                Ok(None)
            }
        }
    }
}

impl Tree {
    fn load(&mut self, db: &Connection) -> rusqlite::Result<()> {
        let mut stmt = db.prepare(
            "SELECT id, kind, parent, name, size, sha1, versions, version_id, etag, created_at,
                    modified_at, content_created_at, content_modified_at FROM items ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            let kind: String = r.get(1)?;
            Ok(Item {
                id: r.get::<_, i64>(0)? as u64,
                kind: if kind == "file" {
                    Kind::File
                } else {
                    Kind::Folder
                },
                parent: r.get::<_, i64>(2)? as u64,
                name: r.get(3)?,
                size: r.get::<_, i64>(4)? as u64,
                sha1: r.get(5)?,
                versions: r.get(6)?,
                version_id: r.get::<_, i64>(7)? as u64,
                etag: r.get::<_, i64>(8)? as u64,
                created_at: r.get(9)?,
                modified_at: r.get(10)?,
                content_created_at: r.get(11)?,
                content_modified_at: r.get(12)?,
                content: None,
            })
        })?;
        for item in rows {
            self.index(item?);
        }
        let mut meta = db.prepare("SELECT key, value FROM meta")?;
        let pairs = meta.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        for pair in pairs {
            let (key, value) = pair?;
            match key.as_str() {
                "next_id" => self.next_id = self.next_id.max(value as u64),
                "next_version" => self.next_version = self.next_version.max(value as u64),
                _ => {}
            }
        }
        Ok(())
    }

    fn index(&mut self, item: Item) {
        if item.kind == Kind::File {
            self.used_bytes += item.size;
        }
        self.children
            .entry(item.parent)
            .or_default()
            .insert(item.id);
        self.names
            .entry((item.parent, name_key(&item.name)))
            .or_insert(item.id);
        self.next_id = self.next_id.max(item.id + 1);
        self.items.insert(item.id, item);
    }

    fn unindex(&mut self, id: u64) -> Option<Item> {
        let item = self.items.remove(&id)?;
        if item.kind == Kind::File {
            self.used_bytes -= item.size;
        }
        if let Some(set) = self.children.get_mut(&item.parent) {
            set.remove(&id);
        }
        let key = (item.parent, name_key(&item.name));
        if self.names.get(&key) == Some(&id) {
            self.names.remove(&key);
            // A race duplicate with the same name takes over the index entry.
            let twin = self.children.get(&item.parent).and_then(|set| {
                set.iter()
                    .find(|c| {
                        self.items
                            .get(c)
                            .is_some_and(|i| name_key(&i.name) == key.1)
                    })
                    .copied()
            });
            if let Some(twin) = twin {
                self.names.insert(key, twin);
            }
        }
        Some(item)
    }

    fn persist(&self, id: u64) {
        let (Some(db), Some(i)) = (&self.db, self.items.get(&id)) else {
            return;
        };
        let result = db
            .execute(
                "INSERT OR REPLACE INTO items VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)",
                params![
                    i.id as i64,
                    i.kind.as_str(),
                    i.parent as i64,
                    i.name,
                    i.size as i64,
                    i.sha1,
                    i.versions,
                    i.version_id as i64,
                    i.etag as i64,
                    i.created_at,
                    i.modified_at,
                    i.content_created_at,
                    i.content_modified_at
                ],
            )
            .and_then(|_| {
                db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('next_id', ?1), ('next_version', ?2)",
                    params![self.next_id as i64, self.next_version as i64],
                )
            });
        if let Err(e) = result {
            tracing::error!("emulator: cannot persist item {id}: {e}");
        }
    }

    fn unpersist(&self, id: u64) {
        if let Some(db) = &self.db
            && let Err(e) = db.execute("DELETE FROM items WHERE id = ?1", params![id as i64])
        {
            tracing::error!("emulator: cannot delete item {id}: {e}");
        }
    }

    /// The item with this id.
    pub fn get(&self, id: u64) -> Option<&Item> {
        self.items.get(&id)
    }

    /// A folder by id, or 404.
    pub fn folder(&self, id: u64) -> ApiResult<&Item> {
        self.items
            .get(&id)
            .filter(|i| i.kind == Kind::Folder)
            .ok_or_else(ApiError::not_found)
    }

    /// A file by id, or 404.
    pub fn file(&self, id: u64) -> ApiResult<&Item> {
        self.items
            .get(&id)
            .filter(|i| i.kind == Kind::File)
            .ok_or_else(ApiError::not_found)
    }

    /// Bytes used by current versions (for the quota).
    pub fn used_bytes(&self) -> u64 {
        self.used_bytes
    }

    /// The item named `name` (case-insensitively) in `parent`, if any.
    pub fn find_child(&self, parent: u64, name: &str) -> Option<&Item> {
        self.names
            .get(&(parent, name_key(name)))
            .and_then(|id| self.items.get(id))
    }

    /// 409 `item_name_in_use` if `name` is taken in `parent` (by another item than `except`).
    pub fn check_free(&self, parent: u64, name: &str, except: Option<u64>) -> ApiResult<()> {
        match self.find_child(parent, name) {
            Some(other) if Some(other.id) != except => {
                let mini = self.mini_json(other);
                // Box lists folder conflicts; file conflicts come as one object.
                let conflicts = if other.kind == Kind::Folder {
                    Value::Array(vec![mini])
                } else {
                    mini
                };
                Err(ApiError::conflict_name(conflicts))
            }
            _ => Ok(()),
        }
    }

    /// A mini item as JSON (for `context_info.conflicts`).
    pub fn mini_json(&self, item: &Item) -> Value {
        let mut v = json!({
            "type": item.kind.as_str(),
            "id": item.id.to_string(),
            "sequence_id": item.etag.to_string(),
            "etag": item.etag.to_string(),
            "name": item.name,
        });
        if item.kind == Kind::File {
            v["sha1"] = json!(item.sha1);
            v["size"] = json!(item.size);
            v["file_version"] = json!({
                "type": "file_version",
                "id": item.version_id.to_string(),
                "sha1": item.sha1,
            });
        }
        v
    }

    /// Children ids of a folder, in creation order.
    pub fn children(&self, id: u64) -> impl Iterator<Item = u64> + '_ {
        self.children
            .get(&id)
            .into_iter()
            .flat_map(|s| s.iter().copied())
    }

    /// Number of children of a folder.
    pub fn child_count(&self, id: u64) -> usize {
        self.children.get(&id).map_or(0, |s| s.len())
    }

    /// Children with ids greater than `after` (marker paging).
    pub fn children_after(&self, id: u64, after: u64) -> impl Iterator<Item = u64> + '_ {
        self.children
            .get(&id)
            .into_iter()
            .flat_map(move |s| s.range(after + 1..).copied())
    }

    /// The folders from the root down to `id`'s parent.
    pub fn ancestors(&self, id: u64) -> Vec<&Item> {
        let mut out = Vec::new();
        let mut cur = self.items.get(&id).map(|i| i.parent);
        while let Some(pid) = cur {
            if pid == id && id == ROOT {
                break;
            }
            let Some(p) = self.items.get(&pid) else { break };
            out.push(p);
            if pid == ROOT {
                break;
            }
            cur = Some(p.parent);
        }
        if id == ROOT {
            out.clear();
        }
        out.reverse();
        out
    }

    /// Total size of the files below a folder.
    pub fn folder_size(&self, id: u64) -> u64 {
        self.children(id)
            .map(|c| match self.items.get(&c) {
                Some(i) if i.kind == Kind::File => i.size,
                Some(i) => self.folder_size(i.id),
                None => 0,
            })
            .sum()
    }

    /// Create a folder (the caller has checked the name and, unless racing, the conflict).
    pub fn create_folder(&mut self, parent: u64, name: &str) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let now = now_text();
        self.index(Item {
            id,
            kind: Kind::Folder,
            parent,
            name: name.into(),
            size: 0,
            sha1: String::new(),
            versions: 0,
            version_id: 0,
            etag: 0,
            created_at: now.clone(),
            modified_at: now,
            content_created_at: None,
            content_modified_at: None,
            content: None,
        });
        self.persist(id);
        id
    }

    /// Create a file with its first version; checks parent and name conflict.
    pub fn create_file(&mut self, parent: u64, name: &str, content: Content) -> ApiResult<u64> {
        self.folder(parent)?;
        self.check_free(parent, name, None)?;
        let id = self.next_id;
        self.next_id += 1;
        let version_id = self.next_version;
        self.next_version += 1;
        let now = now_text();
        self.index(Item {
            id,
            kind: Kind::File,
            parent,
            name: name.into(),
            size: content.size,
            sha1: content.sha1,
            versions: 1,
            version_id,
            etag: 0,
            created_at: now.clone(),
            modified_at: now.clone(),
            content_created_at: content.content_created_at.or_else(|| Some(now.clone())),
            content_modified_at: content.content_modified_at.or(Some(now)),
            content: content.bytes,
        });
        self.persist(id);
        Ok(id)
    }

    /// Add a version to a file (optionally renaming it).
    pub fn new_version(&mut self, id: u64, name: Option<&str>, content: Content) -> ApiResult<()> {
        let item = self.file(id)?;
        let parent = item.parent;
        if let Some(name) = name {
            self.check_free(parent, name, Some(id))?;
        }
        let mut item = self.unindex(id).ok_or_else(ApiError::not_found)?;
        let version_id = self.next_version;
        self.next_version += 1;
        let now = now_text();
        if let Some(name) = name {
            item.name = name.into();
        }
        item.size = content.size;
        item.sha1 = content.sha1;
        item.versions += 1;
        item.version_id = version_id;
        item.etag += 1;
        item.modified_at = now.clone();
        if content.content_created_at.is_some() {
            item.content_created_at = content.content_created_at;
        }
        item.content_modified_at = content.content_modified_at.or(Some(now));
        item.content = content.bytes;
        self.index(item);
        self.persist(id);
        Ok(())
    }

    /// Rename and/or move an item; checks conflicts and cycles.
    pub fn update(&mut self, id: u64, name: Option<&str>, parent: Option<u64>) -> ApiResult<()> {
        if id == ROOT {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "access_denied_insufficient_permissions",
                "The root folder cannot be changed",
            ));
        }
        let item = self.items.get(&id).ok_or_else(ApiError::not_found)?;
        let new_parent = parent.unwrap_or(item.parent);
        let new_name = name.unwrap_or(&item.name).to_string();
        self.folder(new_parent)?;
        if item.kind == Kind::Folder
            && (new_parent == id || self.ancestors(new_parent).iter().any(|a| a.id == id))
        {
            return Err(ApiError::bad_request(
                "bad_request",
                "A folder cannot be moved into itself or its subfolders",
            ));
        }
        self.check_free(new_parent, &new_name, Some(id))?;
        let mut item = self.unindex(id).ok_or_else(ApiError::not_found)?;
        item.parent = new_parent;
        item.name = new_name;
        item.etag += 1;
        item.modified_at = now_text();
        self.index(item);
        self.persist(id);
        Ok(())
    }

    /// Delete an item (folders: recursively only when asked).
    pub fn delete(&mut self, id: u64, recursive: bool) -> ApiResult<()> {
        if id == ROOT {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "access_denied_insufficient_permissions",
                "The root folder cannot be deleted",
            ));
        }
        let item = self.items.get(&id).ok_or_else(ApiError::not_found)?;
        if item.kind == Kind::Folder && self.child_count(id) > 0 && !recursive {
            return Err(ApiError::bad_request(
                "folder_not_empty",
                "Cannot delete – folder not empty",
            ));
        }
        let kids: Vec<u64> = self.children(id).collect();
        for kid in kids {
            self.delete(kid, true)?;
        }
        self.unindex(id);
        self.children.remove(&id);
        self.unpersist(id);
        Ok(())
    }

    /// Every item but the root, with its path, sorted by path.
    pub fn entries(&self) -> Vec<(String, &Item)> {
        let mut out = Vec::with_capacity(self.items.len());
        let mut stack: Vec<(u64, String)> = vec![(ROOT, String::new())];
        while let Some((folder, prefix)) = stack.pop() {
            for kid in self.children(folder) {
                let Some(item) = self.items.get(&kid) else {
                    continue;
                };
                let path = if prefix.is_empty() {
                    item.name.clone()
                } else {
                    format!("{prefix}/{}", item.name)
                };
                if item.kind == Kind::Folder {
                    stack.push((item.id, path.clone()));
                }
                out.push((path, item));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.id.cmp(&b.1.id)));
        out
    }
}
