//! The emulated Box tree: folders, files and their current versions, with Box's uniqueness
//! rules. Memory by default; with a data dir, metadata is written through to SQLite and blobs
//! go to disk (content-addressed by SHA-1), so a restarted emulator keeps its tree.
//!
//! One `Mutex<Tree>` guards metadata only: callers hash bodies before taking it, so the lock is
//! held for map updates, never for hashing or network I/O.
//!
//! Items are compact records (10M items must fit in well under 3 GB; the first tree of
//! `Item`s with a `String` per field held ~880 bytes an item): a `Vec` slot per id, names in one
//! arena, SHA-1 as 20 bytes, times as packed integers, children as sorted id vectors and the
//! name index as a map from a 64-bit hash. Routes get an owned [`Item`] built on demand.
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use rusqlite::{Connection, params};
use serde_json::{Value, json};

use super::enterprise::{Access, Actor, Enterprise, EnterpriseSpec, Need, SERVICE_USER, actor};
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

/// One item with its current version, as routes see it (built from a [`Rec`] on each lookup).
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
    /// Who created (uploaded) it: a user id.
    pub created_by: String,
}

impl Item {
    /// A new, empty folder created at `now`.
    fn folder(id: u64, parent: u64, name: &str, now: String) -> Item {
        Item {
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
            created_by: actor().map_or_else(|| SERVICE_USER.into(), |a| a.user),
        }
    }
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

/// Metadata: item records, children, the case-insensitive name index and the SQLite mirror.
#[derive(Debug)]
pub(crate) struct Tree {
    /// Slot `id` holds item `id` (ids are handed out in sequence, so the vector is dense).
    recs: Vec<Rec>,
    /// Every name, back to back; a record holds its offset and length.
    arena: String,
    /// Children of each folder, ascending ids (= creation order, and marker order).
    children: HashMap<u64, Vec<u64>>,
    /// hash(parent, name key) → the item holding that name (the first, under a create race).
    names: HashMap<u64, u64>,
    /// The rare (parent, name key) whose hash another name already holds.
    names_spill: HashMap<(u64, String), u64>,
    hasher: std::hash::RandomState,
    /// Times that do not pack into a [`Stamp`] (fractions of seconds, odd offsets), interned.
    odd_times: Vec<String>,
    odd_index: HashMap<String, u64>,
    /// File bytes (memory mode only).
    content: HashMap<u64, Bytes>,
    len: usize,
    next_id: u64,
    next_version: u64,
    used_bytes: u64,
    db: Option<Connection>,
    /// Ids of the items deleted (moved to Box's trash): a request naming one answers 404
    /// `trashed`, not `not_found`. Kept in memory only: a restarted emulator forgets the trash.
    trashed: std::collections::HashSet<u64>,
    /// The items `GET /folders/trash/items` lists, by id, as they were when trashed: the top
    /// of each deletion only (a trashed folder's content is in the trash with it, not listed
    /// beside it, as Box's trash shows it). Memory only, like `trashed`.
    trash_top: std::collections::BTreeMap<u64, (String, Item, String)>,
    /// Creators' user ids, interned (a record holds the index).
    creators: Vec<String>,
    creator_index: HashMap<String, u32>,
    /// Users, groups, their roots and collaborations.
    pub ent: Enterprise,
}

/// One item, compactly (~100 bytes plus its name in the arena).
#[derive(Debug, Clone, Copy, Default)]
struct Rec {
    parent: u64,
    size: u64,
    version_id: u64,
    created_at: Stamp,
    modified_at: Stamp,
    content_created_at: Stamp,
    content_modified_at: Stamp,
    name_at: u64,
    name_len: u32,
    etag: u32,
    versions: u32,
    sha1: [u8; 20],
    /// Index into [`Tree::creators`].
    creator: u32,
    /// 0: vacant slot, 1: folder, 2: file.
    kind: u8,
}

/// A Box time packed in 64 bits: `(unix seconds + BIAS) << 12 | (offset minutes + 2048)`,
/// offset code 4095 meaning `Z`; with the top bit set, an index into [`Tree::odd_times`];
/// `NONE` for no time. Packing keeps the exact text: a time whose text does not come back
/// identical is interned instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp(u64);

impl Default for Stamp {
    fn default() -> Self {
        Stamp::NONE
    }
}

impl Stamp {
    const NONE: Stamp = Stamp(u64::MAX);
    const ODD: u64 = 1 << 63;
    const BIAS: i64 = 1 << 40;
    const ZULU: u64 = 4095;

    fn pack(text: &str) -> Option<Stamp> {
        let t = chrono::DateTime::parse_from_rfc3339(text).ok()?;
        let offset = t.offset().local_minus_utc();
        let secs = t.timestamp().checked_add(Stamp::BIAS)?;
        if offset % 60 != 0 || !(0..1 << 50).contains(&secs) {
            return None;
        }
        let zulu = text.ends_with('Z');
        let code = if zulu {
            Stamp::ZULU
        } else {
            (offset / 60 + 2048) as u64
        };
        let stamp = Stamp(((secs as u64) << 12) | code);
        (stamp.unpack().as_deref() == Some(text)).then_some(stamp)
    }

    fn unpack(self) -> Option<String> {
        if self == Stamp::NONE || self.0 & Stamp::ODD != 0 {
            return None;
        }
        let secs = (self.0 >> 12) as i64 - Stamp::BIAS;
        let code = self.0 & 0xfff;
        let utc = chrono::DateTime::from_timestamp(secs, 0)?;
        let (offset, zulu) = if code == Stamp::ZULU {
            (0, true)
        } else {
            ((code as i32 - 2048) * 60, false)
        };
        let local = utc.with_timezone(&chrono::FixedOffset::east_opt(offset)?);
        Some(local.to_rfc3339_opts(chrono::SecondsFormat::Secs, zulu))
    }
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
            recs: Vec::new(),
            arena: String::new(),
            children: HashMap::new(),
            names: HashMap::new(),
            names_spill: HashMap::new(),
            hasher: std::hash::RandomState::new(),
            odd_times: Vec::new(),
            odd_index: HashMap::new(),
            content: HashMap::new(),
            len: 0,
            next_id: 1000,
            next_version: 5000,
            used_bytes: 0,
            db: None,
            trashed: Default::default(),
            trash_top: Default::default(),
            creators: vec![SERVICE_USER.into()],
            creator_index: HashMap::from([(SERVICE_USER.to_string(), 0)]),
            ent: Enterprise::default(),
        };
        let now = now_text();
        let mut root = Item::folder(ROOT, ROOT, "All Files", now);
        root.created_by = SERVICE_USER.into();
        tree.index(root);
        tree.next_id = 1000;
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
                 CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
                 CREATE TABLE IF NOT EXISTS enterprise(key TEXT PRIMARY KEY, json TEXT NOT NULL);",
            )
            .map_err(db_err)?;
            // Data dirs made before ownership have no `created_by`: the service account's.
            let has_creator = db.prepare("SELECT created_by FROM items LIMIT 0").is_ok();
            if !has_creator {
                db.execute_batch(
                    "ALTER TABLE items ADD COLUMN created_by TEXT NOT NULL DEFAULT '11446498'",
                )
                .map_err(db_err)?;
            }
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
                    modified_at, content_created_at, content_modified_at, created_by
             FROM items ORDER BY id",
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
                created_by: r.get(13)?,
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
        let ent: Option<String> = db
            .query_row("SELECT json FROM enterprise WHERE key = 'state'", [], |r| {
                r.get(0)
            })
            .ok();
        if let Some(ent) = ent.and_then(|j| serde_json::from_str(&j).ok()) {
            self.ent = ent;
        }
        Ok(())
    }

    fn rec(&self, id: u64) -> Option<&Rec> {
        self.recs
            .get(usize::try_from(id).ok()?)
            .filter(|r| r.kind != 0)
    }

    fn name_of(&self, r: &Rec) -> &str {
        &self.arena[r.name_at as usize..r.name_at as usize + r.name_len as usize]
    }

    fn stamp(&mut self, text: &str) -> Stamp {
        if let Some(s) = Stamp::pack(text) {
            return s;
        }
        if let Some(&i) = self.odd_index.get(text) {
            return Stamp(Stamp::ODD | i);
        }
        let i = self.odd_times.len() as u64;
        self.odd_times.push(text.to_string());
        self.odd_index.insert(text.to_string(), i);
        Stamp(Stamp::ODD | i)
    }

    fn time(&self, s: Stamp) -> Option<String> {
        if s == Stamp::NONE {
            None
        } else if s.0 & Stamp::ODD != 0 {
            self.odd_times.get((s.0 & !Stamp::ODD) as usize).cloned()
        } else {
            s.unpack()
        }
    }

    /// The owned view of record `id`.
    fn item(&self, id: u64) -> Option<Item> {
        let r = self.rec(id)?;
        let kind = if r.kind == 2 {
            Kind::File
        } else {
            Kind::Folder
        };
        // The four times are mostly one or two instants (an upload stamps created, modified
        // and, without attributes, the content times with "now"): format each instant once.
        let created = self.time(r.created_at);
        let modified = if r.modified_at == r.created_at {
            created.clone()
        } else {
            self.time(r.modified_at)
        };
        let again = |s: Stamp| {
            if s == r.created_at {
                created.clone()
            } else if s == r.modified_at {
                modified.clone()
            } else {
                self.time(s)
            }
        };
        let content_created_at = again(r.content_created_at);
        let content_modified_at = again(r.content_modified_at);
        Some(Item {
            id,
            kind,
            parent: r.parent,
            name: self.name_of(r).to_string(),
            size: r.size,
            sha1: if kind == Kind::File {
                hex::encode(r.sha1)
            } else {
                String::new()
            },
            versions: r.versions,
            version_id: r.version_id,
            etag: u64::from(r.etag),
            created_at: created.clone().unwrap_or_default(),
            modified_at: modified.clone().unwrap_or_default(),
            content_created_at,
            content_modified_at,
            content: self.content.get(&id).cloned(),
            created_by: self
                .creators
                .get(r.creator as usize)
                .cloned()
                .unwrap_or_else(|| SERVICE_USER.into()),
        })
    }

    fn name_hash(&self, parent: u64, key: &str) -> u64 {
        self.hasher.hash_one((parent, key))
    }

    /// The id holding (parent, name key), if any.
    fn lookup(&self, parent: u64, key: &str) -> Option<u64> {
        if let Some(&id) = self.names.get(&self.name_hash(parent, key))
            && let Some(r) = self.rec(id)
            && r.parent == parent
            && name_key(self.name_of(r)) == key
        {
            return Some(id);
        }
        self.names_spill.get(&(parent, key.to_string())).copied()
    }

    /// Let `id` hold (parent, name key) unless an item already does (the first twin keeps it).
    fn hold_name(&mut self, parent: u64, key: String, id: u64) {
        if self.lookup(parent, &key).is_some() {
            return;
        }
        let h = self.name_hash(parent, &key);
        if let std::collections::hash_map::Entry::Vacant(v) = self.names.entry(h) {
            v.insert(id);
        } else {
            self.names_spill.insert((parent, key), id);
        }
    }

    fn release_name(&mut self, parent: u64, key: &str, id: u64) {
        let h = self.name_hash(parent, key);
        if self.names.get(&h) == Some(&id) {
            self.names.remove(&h);
        } else if self.names_spill.get(&(parent, key.to_string())) == Some(&id) {
            self.names_spill.remove(&(parent, key.to_string()));
        }
    }

    fn index(&mut self, item: Item) {
        let id = item.id;
        if item.kind == Kind::File {
            self.used_bytes += item.size;
        }
        // A root folder (the service account's "0" and each user's) is its own parent.
        let is_root = item.parent == id;
        let kids = self.children.entry(item.parent).or_default();
        if !is_root {
            // New ids are the largest, so this is a push; a moved item finds its place.
            match kids.last() {
                Some(&last) if last > id => {
                    if let Err(at) = kids.binary_search(&id) {
                        kids.insert(at, id);
                    }
                }
                Some(&last) if last == id => {}
                _ => kids.push(id),
            }
        }
        if !is_root {
            self.hold_name(item.parent, name_key(&item.name), id);
        }
        let creator = match self.creator_index.get(&item.created_by) {
            Some(&i) => i,
            None => {
                let i = self.creators.len() as u32;
                self.creators.push(item.created_by.clone());
                self.creator_index.insert(item.created_by.clone(), i);
                i
            }
        };
        self.next_id = self.next_id.max(id + 1);
        let mut sha1 = [0u8; 20];
        // The emulator hashes every body itself: a file's SHA-1 is always 40 hex digits.
        let _ = hex::decode_to_slice(&item.sha1, &mut sha1);
        let rec = Rec {
            parent: item.parent,
            size: item.size,
            version_id: item.version_id,
            created_at: self.stamp(&item.created_at),
            modified_at: self.stamp(&item.modified_at),
            content_created_at: item
                .content_created_at
                .as_deref()
                .map_or(Stamp::NONE, |t| self.stamp(t)),
            content_modified_at: item
                .content_modified_at
                .as_deref()
                .map_or(Stamp::NONE, |t| self.stamp(t)),
            name_at: self.arena.len() as u64,
            name_len: item.name.len() as u32,
            etag: item.etag as u32,
            versions: item.versions,
            sha1,
            creator,
            kind: if item.kind == Kind::File { 2 } else { 1 },
        };
        self.arena.push_str(&item.name);
        let slot = id as usize;
        if self.recs.len() <= slot {
            self.recs.resize(slot + 1, Rec::default());
        }
        if self.recs[slot].kind == 0 {
            self.len += 1;
        }
        self.recs[slot] = rec;
        match item.content {
            Some(bytes) => {
                self.content.insert(id, bytes);
            }
            None => {
                self.content.remove(&id);
            }
        }
    }

    fn unindex(&mut self, id: u64) -> Option<Item> {
        let item = self.item(id)?;
        // Release the name while the record is still live (lookups check it).
        let key = name_key(&item.name);
        let held = self.lookup(item.parent, &key) == Some(id);
        if held {
            self.release_name(item.parent, &key, id);
        }
        self.recs[id as usize].kind = 0;
        self.len -= 1;
        self.content.remove(&id);
        if item.kind == Kind::File {
            self.used_bytes -= item.size;
        }
        if let Some(kids) = self.children.get_mut(&item.parent)
            && let Ok(at) = kids.binary_search(&id)
        {
            kids.remove(at);
        }
        if held {
            // A race duplicate with the same name takes over the index entry.
            let twin = self.children(item.parent).find(|&c| {
                self.rec(c)
                    .is_some_and(|r| name_key(self.name_of(r)) == key)
            });
            if let Some(twin) = twin {
                self.hold_name(item.parent, key, twin);
            }
        }
        Some(item)
    }

    fn persist(&self, id: u64) {
        let (Some(db), Some(i)) = (&self.db, self.item(id)) else {
            return;
        };
        let result = db
            .execute(
                "INSERT OR REPLACE INTO items (id, kind, parent, name, size, sha1, versions,
                   version_id, etag, created_at, modified_at, content_created_at,
                   content_modified_at, created_by)
                 VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14)",
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
                    i.content_modified_at,
                    i.created_by
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
    pub fn get(&self, id: u64) -> Option<Item> {
        self.item(id)
    }

    /// A folder by id, or 404.
    pub fn folder(&self, id: u64) -> ApiResult<Item> {
        self.rec(id)
            .filter(|r| r.kind == 1 && self.visible(id))
            .and_then(|_| self.item(id))
            .ok_or_else(|| self.gone(id))
    }

    /// The 404 for an id that names no item: `trashed` if it was deleted (Box's DELETE moves
    /// items to the trash; box-api.md "Trashed items answer 404 (`trashed`)", and the OpenAPI
    /// `get_folders_id_trash` 404: "also returned if any of the folder's parent folders have
    /// been moved to the trash"), else `not_found`.
    fn gone(&self, id: u64) -> ApiError {
        if self.trashed.contains(&id) {
            ApiError::trashed()
        } else {
            ApiError::not_found()
        }
    }

    /// A file by id, or 404.
    pub fn file(&self, id: u64) -> ApiResult<Item> {
        self.rec(id)
            .filter(|r| r.kind == 2 && self.visible(id))
            .and_then(|_| self.item(id))
            .ok_or_else(|| self.gone(id))
    }

    fn is_folder(&self, id: u64) -> bool {
        self.rec(id).is_some_and(|r| r.kind == 1)
    }

    /// Bytes used by current versions (for the quota).
    pub fn used_bytes(&self) -> u64 {
        self.used_bytes
    }

    /// The item named `name` (case-insensitively) in `parent`, if any.
    pub fn find_child(&self, parent: u64, name: &str) -> Option<Item> {
        self.lookup(parent, &name_key(name))
            .and_then(|id| self.item(id))
    }

    /// 409 `item_name_in_use` if `name` is taken in `parent` (by another item than `except`).
    pub fn check_free(&self, parent: u64, name: &str, except: Option<u64>) -> ApiResult<()> {
        match self.find_child(parent, name) {
            Some(other) if Some(other.id) != except => {
                let mini = self.mini_json(&other);
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
        self.children.get(&id).into_iter().flat_map(move |s| {
            let from = s.partition_point(|&c| c <= after);
            s[from..].iter().copied()
        })
    }

    /// The folders from the root down to `id`'s parent.
    pub fn ancestors(&self, id: u64) -> Vec<Item> {
        let mut ids = Vec::new();
        if id != ROOT {
            let mut cur = self.rec(id).filter(|r| r.parent != id).map(|r| r.parent);
            while let Some(pid) = cur {
                let Some(p) = self.rec(pid) else { break };
                ids.push(pid);
                if p.parent == pid {
                    break;
                }
                cur = Some(p.parent);
            }
        }
        ids.into_iter().rev().filter_map(|i| self.item(i)).collect()
    }

    /// Total size of the files below a folder.
    pub fn folder_size(&self, id: u64) -> u64 {
        self.children(id)
            .map(|c| match self.rec(c) {
                Some(r) if r.kind == 2 => r.size,
                Some(_) => self.folder_size(c),
                None => 0,
            })
            .sum()
    }

    /// Create a folder (the caller has checked the name and, unless racing, the conflict).
    pub fn create_folder(&mut self, parent: u64, name: &str) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let now = now_text();
        self.index(Item::folder(id, parent, name, now));
        self.persist(id);
        id
    }

    /// Create a file with its first version; checks parent and name conflict.
    pub fn create_file(&mut self, parent: u64, name: &str, content: Content) -> ApiResult<u64> {
        if !self.is_folder(parent) {
            return Err(ApiError::not_found());
        }
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
            created_by: actor().map_or_else(|| SERVICE_USER.into(), |a| a.user),
        });
        self.persist(id);
        Ok(id)
    }

    /// Add a version to a file (optionally renaming it).
    pub fn new_version(&mut self, id: u64, name: Option<&str>, content: Content) -> ApiResult<()> {
        let parent = self.file(id)?.parent;
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
        if self.is_root(id) {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "access_denied_insufficient_permissions",
                "The root folder cannot be changed",
            ));
        }
        let item = self.item(id).ok_or_else(ApiError::not_found)?;
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
        if self.is_root(id) {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "access_denied_insufficient_permissions",
                "The root folder cannot be deleted",
            ));
        }
        let kind = self.rec(id).ok_or_else(ApiError::not_found)?.kind;
        if kind == 1 && self.child_count(id) > 0 && !recursive {
            return Err(ApiError::bad_request(
                "folder_not_empty",
                "Cannot delete – folder not empty",
            ));
        }
        let kids: Vec<u64> = self.children(id).collect();
        for kid in kids {
            self.delete(kid, true)?;
            // In the trash inside its folder, not listed on its own.
            self.trash_top.remove(&kid);
        }
        if let Some(mut item) = self.item(id) {
            item.content = None;
            let path = self.path_of(&item);
            let owner = self.owner_of(id);
            self.trash_top.insert(id, (path, item, owner));
        }
        self.unindex(id);
        self.children.remove(&id);
        self.unpersist(id);
        self.trashed.insert(id);
        Ok(())
    }

    /// The trash as `GET /folders/trash/items` lists it: each trashed item whose parent was not
    /// trashed with it, in the order they were created (ids ascending).
    pub fn trash_items(&self) -> impl Iterator<Item = &Item> + '_ {
        // Each user has a trash of their own: the acting user sees what they owned.
        let me = actor().map(|a| self.ent.owner_of_root(a.root).to_string());
        self.trash_top
            .values()
            .filter(move |(_, _, owner)| me.as_ref().is_none_or(|m| m == owner))
            .map(|(_, item, _)| item)
    }

    /// [`Tree::trash_items`] with the path each had when it was trashed.
    pub fn trash_paths(&self) -> impl Iterator<Item = (&str, &Item, &str)> + '_ {
        self.trash_top
            .values()
            .map(|(path, item, owner)| (path.as_str(), item, owner.as_str()))
    }

    /// `a/b/name`: the item's path from the root (root excluded).
    fn path_of(&self, item: &Item) -> String {
        let mut parts: Vec<String> = self
            .ancestors(item.id)
            .into_iter()
            .filter(|a| !self.is_root(a.id))
            .map(|a| a.name)
            .collect();
        parts.push(item.name.clone());
        parts.join("/")
    }

    /// Every item but the roots, with its path and owner, sorted by path. Items under a
    /// user's own root have paths starting `@USER_ID/`; the service account's have none.
    pub fn entries(&self) -> Vec<(String, Item, String)> {
        let mut out = Vec::with_capacity(self.len);
        let mut roots = vec![(ROOT, String::new(), SERVICE_USER.to_string())];
        roots.extend(
            self.ent
                .roots
                .iter()
                .map(|(u, r)| (*r, format!("@{u}"), u.clone())),
        );
        for (root, prefix, owner) in roots {
            self.entries_under(root, prefix, &owner, &mut out);
        }
        out.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.id.cmp(&b.1.id)));
        out
    }

    fn entries_under(
        &self,
        root: u64,
        top: String,
        owner: &str,
        out: &mut Vec<(String, Item, String)>,
    ) {
        let mut stack: Vec<(u64, String)> = vec![(root, top)];
        while let Some((folder, prefix)) = stack.pop() {
            for kid in self.children(folder) {
                let Some(item) = self.item(kid) else {
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
                out.push((path, item, owner.to_string()));
            }
        }
    }

    /// Whether `id` is a root folder (the service account's "0", or a user's own root).
    pub fn is_root(&self, id: u64) -> bool {
        id == ROOT || self.rec(id).is_some_and(|r| r.parent == id)
    }

    /// The root folder `id` is under (itself for a root).
    pub fn top_root(&self, id: u64) -> u64 {
        self.chain(id).last().copied().unwrap_or(ROOT)
    }

    /// `id`, its parent, ... up to its root.
    fn chain(&self, id: u64) -> Vec<u64> {
        let mut out = vec![id];
        let mut cur = id;
        while let Some(r) = self.rec(cur) {
            if r.parent == cur {
                break;
            }
            cur = r.parent;
            out.push(cur);
        }
        out
    }

    /// The user id owning item `id`: the owner of the root it is under.
    pub fn owner_of(&self, id: u64) -> String {
        self.ent.owner_of_root(self.top_root(id)).to_string()
    }

    /// What `who` may do to item `id`: owner under its own root, else the strongest
    /// collaboration on the item or any folder above it; `None`: not even its existence.
    pub fn access(&self, who: &Actor, id: u64) -> Option<Access> {
        let chain = self.chain(id);
        if chain.last() == Some(&who.root) {
            return Some(Access::Owner);
        }
        chain
            .iter()
            .filter_map(|&i| self.ent.grant(i, &who.user))
            .reduce(Access::max)
    }

    /// The folder the acting user reaches `id` through: for a collaborator, the topmost
    /// folder above (or at) `id` that a collaboration grants them; for the owner, the root.
    pub fn entry_point(&self, who: &Actor, id: u64) -> Option<u64> {
        let chain = self.chain(id);
        if chain.last() == Some(&who.root) {
            return chain.last().copied();
        }
        chain
            .iter()
            .rev()
            .find(|&&i| self.ent.grant(i, &who.user).is_some())
            .copied()
    }

    /// May the current request's actor see item `id`? (Always, outside a Box request.)
    fn visible(&self, id: u64) -> bool {
        actor().is_none_or(|a| self.access(&a, id).is_some())
    }

    /// 404 unless the actor sees `id`, 403 `access_denied_insufficient_permissions` unless
    /// its access allows `need`.
    pub fn require(&self, id: u64, need: Need) -> ApiResult<()> {
        let Some(who) = actor() else {
            return Ok(());
        };
        match self.access(&who, id) {
            None => Err(self.gone(id)),
            Some(a) if a.allows(need) => Ok(()),
            Some(_) => Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "access_denied_insufficient_permissions",
                "Access denied - insufficient permission",
            )),
        }
    }

    /// Declare users and groups; each new user gets a root folder of their own.
    pub fn declare(&mut self, spec: &EnterpriseSpec) -> Result<(), String> {
        let new_users = self.ent.declare(spec)?;
        for user in new_users {
            let id = self.next_id;
            self.next_id += 1;
            let mut root = Item::folder(id, id, "All Files", now_text());
            root.created_by = user.clone();
            self.index(root);
            self.persist(id);
            self.ent.roots.insert(user, id);
        }
        self.save_enterprise();
        Ok(())
    }

    /// Write users, groups, roots and collaborations through to SQLite (with a data dir).
    pub fn save_enterprise(&self) {
        let Some(db) = &self.db else { return };
        let json = serde_json::to_string(&self.ent).unwrap_or_default();
        if let Err(e) = db.execute(
            "INSERT OR REPLACE INTO enterprise VALUES ('state', ?1)",
            params![json],
        ) {
            tracing::error!("emulator: cannot persist the enterprise: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(sha1: &str, modified: Option<&str>) -> Content {
        Content {
            size: 3,
            sha1: sha1.into(),
            content_created_at: None,
            content_modified_at: modified.map(Into::into),
            bytes: None,
        }
    }

    #[test]
    fn times_keep_their_exact_text() {
        for t in [
            "2024-01-02T03:04:05+00:00",
            "2024-01-02T03:04:05-08:00",
            "2024-01-02T03:04:05+05:30",
            "2024-01-02T03:04:05Z",
            "1960-01-02T03:04:05+01:00",
        ] {
            let s = Stamp::pack(t).unwrap_or_else(|| panic!("{t} packs"));
            assert_eq!(s.unpack().as_deref(), Some(t));
        }
        // Not packable: kept as interned text, still exact.
        let mut tree = Store::open(None, true).unwrap().tree.into_inner().unwrap();
        for odd in ["2024-01-02T03:04:05.123Z", "yesterday"] {
            assert!(Stamp::pack(odd).is_none());
            let s = tree.stamp(odd);
            assert_eq!(tree.stamp(odd), s, "interned once");
            assert_eq!(tree.time(s).as_deref(), Some(odd));
        }
    }

    #[test]
    fn records_round_trip_and_names_stay_unique_case_insensitively() {
        let store = Store::open(None, false).unwrap();
        let mut t = store.lock();
        let d = t.create_folder(ROOT, "Docs");
        let sha = "a".repeat(40);
        let f = t
            .create_file(
                d,
                "Report.PDF",
                content(&sha, Some("2020-05-06T07:08:09-07:00")),
            )
            .unwrap();
        let item = t.file(f).unwrap();
        assert_eq!(
            (item.name.as_str(), item.sha1.as_str(), item.parent),
            ("Report.PDF", sha.as_str(), d)
        );
        assert_eq!(
            item.content_modified_at.as_deref(),
            Some("2020-05-06T07:08:09-07:00")
        );
        assert_eq!(t.find_child(d, "report.pdf").map(|i| i.id), Some(f));
        assert!(t.check_free(d, "REPORT.pdf", None).is_err());
        assert!(t.folder(f).is_err() && t.file(d).is_err());
        // Rename, move, version, delete keep the index right.
        t.update(f, Some("new.pdf"), Some(ROOT)).unwrap();
        assert!(t.find_child(d, "report.pdf").is_none());
        assert_eq!(t.find_child(ROOT, "NEW.pdf").map(|i| i.id), Some(f));
        t.new_version(f, None, content(&"b".repeat(40), None))
            .unwrap();
        assert_eq!(t.file(f).unwrap().versions, 2);
        assert_eq!(t.children(ROOT).collect::<Vec<_>>(), [d, f]);
        assert_eq!(t.children_after(ROOT, d).collect::<Vec<_>>(), [f]);
        t.delete(d, true).unwrap();
        assert!(t.get(d).is_none());
        assert_eq!(t.len, 2);
        assert_eq!(t.entries().len(), 1);
    }

    #[test]
    fn a_twin_folder_takes_over_the_name_when_the_first_goes() {
        let store = Store::open(None, true).unwrap();
        let mut t = store.lock();
        let a = t.create_folder(ROOT, "x");
        let b = t.create_folder(ROOT, "X");
        assert_eq!(t.find_child(ROOT, "x").map(|i| i.id), Some(a));
        t.delete(a, false).unwrap();
        assert_eq!(t.find_child(ROOT, "x").map(|i| i.id), Some(b));
    }

    #[test]
    fn a_hash_shared_by_two_names_spills_and_both_resolve() {
        let store = Store::open(None, true).unwrap();
        let mut t = store.lock();
        let a = t.create_folder(ROOT, "a");
        // Pretend "b" hashes like "a": its slot is already held by another name.
        let hb = t.name_hash(ROOT, "b");
        t.names.insert(hb, a);
        let b = t.create_folder(ROOT, "B");
        assert_eq!(t.names_spill.len(), 1, "b went to the spill map");
        assert_eq!(t.find_child(ROOT, "A").map(|i| i.id), Some(a));
        assert_eq!(t.find_child(ROOT, "b").map(|i| i.id), Some(b));
        assert!(t.check_free(ROOT, "b", None).is_err());
        t.delete(b, false).unwrap();
        assert!(t.names_spill.is_empty());
        assert!(t.find_child(ROOT, "b").is_none());
        assert_eq!(t.find_child(ROOT, "a").map(|i| i.id), Some(a));
    }
}
