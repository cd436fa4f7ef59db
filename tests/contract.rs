//! Box's OpenAPI spec as the emulator's contract. The emulator was written from the same
//! reading of Box as the client, so a shared misreading would pass every other test; here each
//! route the emulator serves (read from `src/emulator/routes/mod.rs`) is driven over HTTP and
//! every response is checked against Box's own spec (`spec/box-openapi.trimmed.json`, trimmed
//! from box/box-openapi by `spec/trim.py`): the status is one the operation lists (a success
//! exactly, an error through `default` if not by number), the body is valid against that
//! status's schema, listed headers are sent, and `fields=` returns what it names and no more.
//! Where Box's spec is known to be wrong or silent, `apply_exceptions` says so with evidence.
mod schema;

use std::collections::BTreeSet;
use std::sync::Mutex;

use serde_json::{Value, json};

use crate::common::emu::{Emu, data, digest_header, form, sha1_hex};
use schema::Spec;

/// Each route the emulator serves (`METHOD path` as in routes/mod.rs) and the operation of
/// Box's spec it answers for (method, path; the spec names paths without `/2.0`).
const ROUTES: &[(&str, &str, &str)] = &[
    ("POST /oauth2/token", "post", "/oauth2/token"),
    ("POST /2.0/folders", "post", "/folders"),
    ("GET /2.0/folders/{id}", "get", "/folders/{folder_id}"),
    ("PUT /2.0/folders/{id}", "put", "/folders/{folder_id}"),
    ("DELETE /2.0/folders/{id}", "delete", "/folders/{folder_id}"),
    (
        "GET /2.0/folders/{id}/items",
        "get",
        "/folders/{folder_id}/items",
    ),
    (
        "GET /2.0/folders/trash/items",
        "get",
        "/folders/trash/items",
    ),
    ("GET /2.0/users/me", "get", "/users/me"),
    ("OPTIONS /2.0/files/content", "options", "/files/content"),
    // rclone's spelling of the same preflight (routes/mod.rs).
    ("OPTIONS /2.0/files/content/", "options", "/files/content"),
    ("GET /2.0/files/{id}", "get", "/files/{file_id}"),
    ("PUT /2.0/files/{id}", "put", "/files/{file_id}"),
    ("DELETE /2.0/files/{id}", "delete", "/files/{file_id}"),
    // Not in Box's spec: see `apply_exceptions`.
    (
        "OPTIONS /2.0/files/{id}/content",
        "options",
        "/files/content",
    ),
    ("POST /2.0/files/{id}/copy", "post", "/files/{file_id}/copy"),
    ("POST /api/2.0/files/content", "post", "/files/content"),
    (
        "POST /api/2.0/files/{id}/content",
        "post",
        "/files/{file_id}/content",
    ),
    (
        "POST /api/2.0/files/upload_sessions",
        "post",
        "/files/upload_sessions",
    ),
    (
        "POST /api/2.0/files/{id}/upload_sessions",
        "post",
        "/files/{file_id}/upload_sessions",
    ),
    (
        "PUT /api/2.0/files/upload_sessions/{id}",
        "put",
        "/files/upload_sessions/{upload_session_id}",
    ),
    (
        "GET /api/2.0/files/upload_sessions/{id}",
        "get",
        "/files/upload_sessions/{upload_session_id}",
    ),
    (
        "DELETE /api/2.0/files/upload_sessions/{id}",
        "delete",
        "/files/upload_sessions/{upload_session_id}",
    ),
    (
        "GET /api/2.0/files/upload_sessions/{id}/parts",
        "get",
        "/files/upload_sessions/{upload_session_id}/parts",
    ),
    (
        "POST /api/2.0/files/upload_sessions/{id}/commit",
        "post",
        "/files/upload_sessions/{upload_session_id}/commit",
    ),
    ("GET /2.0/users", "get", "/users"),
    ("GET /2.0/users/{id}", "get", "/users/{user_id}"),
    ("GET /2.0/groups", "get", "/groups"),
    ("GET /2.0/groups/{id}", "get", "/groups/{group_id}"),
    (
        "GET /2.0/groups/{id}/memberships",
        "get",
        "/groups/{group_id}/memberships",
    ),
    ("POST /2.0/collaborations", "post", "/collaborations"),
    (
        "GET /2.0/folders/{id}/collaborations",
        "get",
        "/folders/{folder_id}/collaborations",
    ),
];

/// Error codes Box sends that the spec's `ClientError.code` enum omits, each with where Box
/// names it. The enum lists generic codes only (`bad_request`, `conflict`, ...).
const EXTRA_ERROR_CODES: &[(&str, &str)] = &[
    (
        "item_name_in_use",
        "the spec's own 409 of POST /folders, PUT /folders/{id}, POST /files/{id}/copy",
    ),
    (
        "folder_not_empty",
        "the spec's own 400 of DELETE /folders/{id}",
    ),
    (
        "operation_blocked_temporary",
        "the spec's own 409 of PUT /folders/{id} and DELETE /folders/{id}",
    ),
    (
        "trashed",
        "Box's 404 for an item in the trash or under a trashed folder (shared/box-api.md; the \
         spec's 404 of GET /folders/{id}/trash: 'also returned if any of the folder's parent \
         folders have been moved to the trash')",
    ),
    (
        "file_size_too_small",
        "the spec's own 400 of POST /files/upload_sessions",
    ),
    (
        "range_overlaps_existing_part",
        "Box's chunked-upload guide, 'Range Overlap' (developer.box.com/guides/uploads/chunked)",
    ),
    (
        "digest_mismatch",
        "a wrong whole-file digest at commit: box/box-java-sdk#701, box/box-windows-sdk-v2#767",
    ),
    (
        "access_denied_insufficient_permissions",
        "Box's 403 for a collaborator whose role does not allow the operation (developer.box.com \
         guides/api-calls/permissions-and-errors/common-errors; shared/box-api.md)",
    ),
    (
        "user_already_collaborator",
        "Box's 400 of POST /collaborations for a user or group that already collaborates on \
         the item (common-errors; shared/box-api.md)",
    ),
    (
        "collaborations_not_available_on_root_folder",
        "Box's 400 of POST /collaborations on folder 0 (common-errors; shared/box-api.md)",
    ),
    (
        "bad_digest",
        "the emulator's code for a wrong part digest or content-md5: Box's is undocumented \
         (shared/box-api.md, Digests); clients treat any 400 after a digest check alike",
    ),
];

/// Where Box's spec is wrong or silent, patched into the loaded spec with the evidence.
fn apply_exceptions(spec: &mut Spec) {
    // 1. Error codes beyond the enum (EXTRA_ERROR_CODES).
    let codes = &mut spec.schema_mut("ClientError")["properties"]["code"]["enum"];
    let list = codes.as_array_mut().expect("ClientError.code has an enum");
    list.extend(EXTRA_ERROR_CODES.iter().map(|(c, _)| json!(c)));

    // 2. `context_info.conflicts` of a 409. The spec has a list of FileConflict. Real Box
    // answers the preflight (OPTIONS /files/content) with ONE object, and rclone's Box backend
    // decodes it so (backend/box/api/types.go: `PreUploadCheckConflict{Conflicts ItemMini}`);
    // a folder-name conflict (POST /folders) lists the existing *folder*, which FileConflict
    // (`type: file`) cannot describe, while the spec's own 409 prose says "Returned if a
    // folder with the name already exists".
    let entry = json!({"oneOf": [
        {"$ref": "#/components/schemas/FileConflict"},
        {"$ref": "#/components/schemas/Folder--Mini"},
    ]});
    let conflicts = json!({"anyOf": [entry, {"type": "array", "items": entry}]});
    spec.schema_mut("ConflictError")["allOf"][1]["properties"]["context_info"]["properties"]["conflicts"] =
        conflicts;

    // 3. OPTIONS /files/{id}/content (preflight of a new version) is not in the spec, though
    // Box serves it and Box's SDKs call it (box-java-sdk `BoxFile.canUploadVersion`); ROUTES
    // checks it against the new-file preflight, whose request and reply it shares.
}

/// What a `fields=` request may return.
#[derive(Clone, Copy)]
enum Fields<'a> {
    /// No `fields=`: the standard representation.
    Standard,
    /// One item: exactly the fields named (all of them present) plus `type`, `id`, `etag`.
    Item(&'a [&'a str]),
    /// A listing's entries: the mini representation plus the fields named (the spec's
    /// `fields` parameter: "only fields for the mini representation are returned, additional
    /// to the fields requested").
    Entries(&'a [&'a str]),
}

const BASE_FIELDS: &[&str] = &["type", "id", "etag"];
const MINI_FIELDS: &[&str] = &["type", "id", "etag", "sequence_id", "name"];

struct Contract {
    emu: Emu,
    spec: Spec,
    covered: Mutex<BTreeSet<&'static str>>,
    checked: Mutex<usize>,
    failures: Mutex<Vec<String>>,
}

impl Contract {
    fn new() -> Contract {
        let mut spec = Spec::load();
        apply_exceptions(&mut spec);
        Contract {
            emu: Emu::with(boxlift::emulator::EmulatorConfig {
                enterprise: boxlift::emulator::EnterpriseSpec::from_json(ENTERPRISE)
                    .expect("enterprise JSON"),
                ..Default::default()
            }),
            spec,
            covered: Mutex::new(BTreeSet::new()),
            checked: Mutex::new(0),
            failures: Mutex::new(Vec::new()),
        }
    }

    fn fail(&self, msg: String) {
        self.failures.lock().unwrap().push(msg);
    }

    /// Send `req` (route `route`), expect `want`, check the reply against the spec; returns
    /// the body (JSON, or Null when empty).
    async fn call(
        &self,
        route: &'static str,
        req: reqwest::RequestBuilder,
        want: u16,
        fields: Fields<'_>,
    ) -> Value {
        let &(_, method, path) = ROUTES
            .iter()
            .find(|r| r.0 == route)
            .unwrap_or_else(|| panic!("{route} is in ROUTES"));
        self.covered.lock().unwrap().insert(route);
        *self.checked.lock().unwrap() += 1;
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body read");
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let at = format!("{route} -> {status}");
        if status != want {
            self.fail(format!("{at}: the flow expected {want}: {text}"));
        }
        let responses = self
            .spec
            .responses(method, path)
            .expect("operation in spec");
        let listed = responses.get(&status.to_string()).or_else(|| {
            // An error may fall under `default` ("An unexpected client error"); a success
            // must be listed by number.
            (status >= 400).then(|| responses.get("default")).flatten()
        });
        let Some(listed) = listed else {
            self.fail(format!("{at}: status not listed for {method} {path}"));
            return body;
        };
        for name in listed["headers"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|h| h.0)
        {
            if !headers.contains_key(name.as_str()) {
                self.fail(format!("{at}: header {name} missing"));
            }
        }
        match listed["content"]["application/json"].get("schema") {
            Some(schema) if body.is_null() => {
                self.fail(format!("{at}: expected JSON for {schema}, got {text:?}"))
            }
            Some(schema) => {
                for e in self.spec.validate(schema, &body) {
                    self.fail(format!("{at}: {e}"));
                }
            }
            None if !text.is_empty() => self.fail(format!("{at}: expected no body: {text}")),
            None => {}
        }
        self.check_fields(&at, &body, fields);
        body
    }

    fn check_fields(&self, at: &str, body: &Value, fields: Fields<'_>) {
        let keys = |v: &Value| -> Vec<String> {
            v.as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default()
        };
        match fields {
            Fields::Standard => {}
            Fields::Item(asked) => {
                let got = keys(body);
                for k in &got {
                    if !BASE_FIELDS.contains(&k.as_str()) && !asked.contains(&k.as_str()) {
                        self.fail(format!("{at}: field {k:?} returned but not asked for"));
                    }
                }
                for a in asked {
                    if !got.iter().any(|k| k == a) {
                        self.fail(format!("{at}: field {a:?} asked for but missing"));
                    }
                }
            }
            Fields::Entries(asked) => {
                for entry in body["entries"].as_array().into_iter().flatten() {
                    for k in keys(entry) {
                        if !MINI_FIELDS.contains(&k.as_str()) && !asked.contains(&k.as_str()) {
                            self.fail(format!("{at}: entry field {k:?} not asked for"));
                        }
                    }
                }
            }
        }
    }

    fn req(&self, method: &str, path: &str) -> reqwest::RequestBuilder {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        self.emu.req(m, path)
    }
}

/// The routes routes/mod.rs declares (`METHOD path`), `/_emulator/` switches left out (they
/// are the emulator's own, not Box's).
fn declared_routes() -> BTreeSet<String> {
    let src = include_str!("../src/emulator/routes/mod.rs");
    let mut out = BTreeSet::new();
    for chunk in src.split(".route(").skip(1) {
        let chunk = chunk.split(".fallback(").next().unwrap_or(chunk);
        let Some(path) = chunk.split('"').nth(1) else {
            continue;
        };
        if path.starts_with("/_emulator") {
            continue;
        }
        for method in ["get", "post", "put", "delete", "options"] {
            let called = chunk.match_indices(&format!("{method}(")).any(|(i, _)| {
                i == 0
                    || !chunk.as_bytes()[i - 1].is_ascii_alphanumeric()
                        && chunk.as_bytes()[i - 1] != b'_'
            });
            if called {
                out.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    out
}

#[test]
fn the_route_table_is_every_route_the_emulator_serves() {
    let declared = declared_routes();
    let table: BTreeSet<String> = ROUTES.iter().map(|r| r.0.to_string()).collect();
    assert!(declared.len() >= 20, "parsed too few routes: {declared:?}");
    assert_eq!(declared, table);
}

/// The contract's enterprise: two users, one group.
const ENTERPRISE: &str = r#"{"users":[{"id":"101","login":"ann@corp.example","name":"Ann"},
    {"id":"102","login":"ben@corp.example","name":"Ben"}],
    "groups":[{"id":"501","name":"Staff","members":["101","102"]}]}"#;

/// 20,000,001 bytes: the smallest session file (Box's 20 MB minimum), two parts and a bit.
const SESSION_SIZE: usize = 20_000_001;

#[tokio::test]
async fn every_route_answers_as_boxs_spec_says() {
    let c = Contract::new();
    auth_and_user(&c).await;
    let dir = folders(&c).await;
    let file = files(&c, &dir).await;
    sessions(&c, &dir, &file).await;
    users_and_groups(&c).await;
    collaborations(&c, &dir).await;
    cleanup(&c, &dir, &file).await;

    let covered = c.covered.lock().unwrap().clone();
    let missing: Vec<_> = ROUTES.iter().filter(|r| !covered.contains(r.0)).collect();
    let failures = c.failures.lock().unwrap();
    eprintln!(
        "contract: {} responses on {} routes checked against Box's spec",
        c.checked.lock().unwrap(),
        covered.len()
    );
    assert!(missing.is_empty(), "routes never driven: {missing:?}");
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

async fn auth_and_user(c: &Contract) {
    let token = |secret: &str| {
        c.emu.http.post(c.emu.handle.oauth_url()).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "emu-client"),
            ("client_secret", secret),
            ("box_subject_type", "enterprise"),
            ("box_subject_id", "42"),
        ])
    };
    c.call(
        "POST /oauth2/token",
        token("emu-secret"),
        200,
        Fields::Standard,
    )
    .await;
    c.call("POST /oauth2/token", token("wrong"), 400, Fields::Standard)
        .await;
    let me = "GET /2.0/users/me";
    c.call(me, c.req("GET", "/2.0/users/me"), 200, Fields::Standard)
        .await;
    let asked = ["space_amount", "space_used", "max_upload_size"];
    let url = format!("/2.0/users/me?fields={}", asked.join(","));
    c.call(me, c.req("GET", &url), 200, Fields::Item(&asked))
        .await;
}

/// Folder routes; returns the id of a folder made here.
async fn folders(c: &Contract) -> String {
    let create = |name: &str, parent: &str| {
        c.req("POST", "/2.0/folders")
            .json(&json!({"name": name, "parent": {"id": parent}}))
    };
    let post = "POST /2.0/folders";
    let dir = c
        .call(post, create("contract", "0"), 201, Fields::Standard)
        .await;
    let dir = dir["id"].as_str().expect("folder id").to_string();
    c.call(post, create("contract", "0"), 409, Fields::Standard)
        .await;
    c.call(post, create("x", "999999"), 404, Fields::Standard)
        .await;
    c.call(post, create("a/b", "0"), 400, Fields::Standard)
        .await;
    let sub = c
        .call(post, create("sub", &dir), 201, Fields::Standard)
        .await;
    let sub = sub["id"].as_str().expect("folder id").to_string();

    let get = "GET /2.0/folders/{id}";
    c.call(get, c.req("GET", "/2.0/folders/0"), 200, Fields::Standard)
        .await;
    let path = format!("/2.0/folders/{dir}");
    c.call(get, c.req("GET", &path), 200, Fields::Standard)
        .await;
    for asked in [
        &["name", "permissions"][..],
        &["size", "item_collection"],
        &["modified_at"],
    ] {
        let url = format!("{path}?fields={}", asked.join(","));
        c.call(get, c.req("GET", &url), 200, Fields::Item(asked))
            .await;
    }
    c.call(
        get,
        c.req("GET", "/2.0/folders/999999"),
        404,
        Fields::Standard,
    )
    .await;

    let put = "PUT /2.0/folders/{id}";
    let rename = |name: &str| {
        c.req("PUT", &format!("/2.0/folders/{sub}"))
            .json(&json!({"name": name}))
    };
    c.call(put, rename("renamed"), 200, Fields::Standard).await;
    let other = c
        .call(post, create("other", &dir), 201, Fields::Standard)
        .await;
    c.call(put, rename("other"), 409, Fields::Standard).await;
    c.call(
        put,
        rename("again").header("if-match", "stale"),
        412,
        Fields::Standard,
    )
    .await;
    c.emu.handle.block_operations(1);
    c.call(put, rename("again"), 409, Fields::Standard).await;
    let other = other["id"].as_str().expect("folder id");
    let del = "DELETE /2.0/folders/{id}";
    let gone = || c.req("DELETE", &format!("/2.0/folders/{other}"));
    c.call(
        del,
        gone().header("if-match", "stale"),
        412,
        Fields::Standard,
    )
    .await;
    c.emu.handle.block_operations(1);
    c.call(del, gone(), 409, Fields::Standard).await;
    c.call(del, gone(), 204, Fields::Standard).await;
    dir
}

/// File routes and listings; returns the id of a file in `dir`.
async fn files(c: &Contract, dir: &str) -> String {
    let body = b"contract file";
    let upload = |name: &str, md5: &str| {
        c.req("POST", "/api/2.0/files/content")
            .header("content-md5", md5)
            .multipart(form(name, Some(dir), body))
    };
    let up = "POST /api/2.0/files/content";
    let made = c
        .call(up, upload("a.txt", &sha1_hex(body)), 201, Fields::Standard)
        .await;
    let file = made["entries"][0]["id"]
        .as_str()
        .expect("file id")
        .to_string();
    c.call(up, upload("a.txt", &sha1_hex(body)), 409, Fields::Standard)
        .await;
    c.call(
        up,
        upload("b.txt", &sha1_hex(b"other")),
        400,
        Fields::Standard,
    )
    .await;

    let items = "GET /2.0/folders/{id}/items";
    let list = |q: &str| c.req("GET", &format!("/2.0/folders/{dir}/items{q}"));
    c.call(items, list(""), 200, Fields::Standard).await;
    let asked = ["name", "size", "sha1", "file_version", "modified_at"];
    let q = format!("?fields={}", asked.join(","));
    c.call(items, list(&q), 200, Fields::Entries(&asked)).await;
    c.call(
        items,
        list("?usemarker=true&limit=1"),
        200,
        Fields::Standard,
    )
    .await;
    c.call(items, list("?limit=5000"), 400, Fields::Standard)
        .await;

    let pre = |path: &str, name: &str| {
        c.req("OPTIONS", path)
            .json(&json!({"name": name, "parent": {"id": dir}, "size": 13}))
    };
    let options = "OPTIONS /2.0/files/content";
    c.call(
        options,
        pre("/2.0/files/content", "new.txt"),
        200,
        Fields::Standard,
    )
    .await;
    c.call(
        options,
        pre("/2.0/files/content", "a.txt"),
        409,
        Fields::Standard,
    )
    .await;
    let slash = "OPTIONS /2.0/files/content/";
    c.call(
        slash,
        pre("/2.0/files/content/", "new.txt"),
        200,
        Fields::Standard,
    )
    .await;
    let version = "OPTIONS /2.0/files/{id}/content";
    let pre_version = c
        .req("OPTIONS", &format!("/2.0/files/{file}/content"))
        .json(&json!({"size": 20}));
    c.call(version, pre_version, 200, Fields::Standard).await;

    let get = "GET /2.0/files/{id}";
    let path = format!("/2.0/files/{file}");
    c.call(get, c.req("GET", &path), 200, Fields::Standard)
        .await;
    // What boxlift's client asks for (box_api::folders::get_file), and a smaller set.
    let client = [
        "name",
        "size",
        "sha1",
        "etag",
        "sequence_id",
        "file_version",
        "parent",
        "content_modified_at",
    ];
    for asked in [&client[..], &["size"]] {
        let url = format!("{path}?fields={}", asked.join(","));
        c.call(get, c.req("GET", &url), 200, Fields::Item(asked))
            .await;
    }
    c.call(
        get,
        c.req("GET", "/2.0/files/999999"),
        404,
        Fields::Standard,
    )
    .await;

    let new_version = |if_match: &str| {
        c.req("POST", &format!("/api/2.0/files/{file}/content"))
            .header("if-match", if_match)
            .multipart(form("a.txt", None, b"second version"))
    };
    let ver = "POST /api/2.0/files/{id}/content";
    c.call(ver, new_version("no-such-etag"), 412, Fields::Standard)
        .await;
    let etag = made["entries"][0]["etag"].as_str().expect("etag");
    c.call(ver, new_version(etag), 200, Fields::Standard).await;

    let copy = |name: &str| {
        c.req("POST", &format!("/2.0/files/{file}/copy"))
            .json(&json!({"parent": {"id": dir}, "name": name}))
    };
    let cp = "POST /2.0/files/{id}/copy";
    let copied = c.call(cp, copy("copy.txt"), 201, Fields::Standard).await;
    c.call(cp, copy("copy.txt"), 409, Fields::Standard).await;
    let copied = copied["id"].as_str().expect("copy id").to_string();

    let put = "PUT /2.0/files/{id}";
    let rename = |name: &str| {
        c.req("PUT", &format!("/2.0/files/{copied}"))
            .json(&json!({"name": name}))
    };
    c.call(put, rename("copy2.txt"), 200, Fields::Standard)
        .await;
    c.call(put, rename("a.txt"), 409, Fields::Standard).await;
    c.call(
        put,
        rename("copy3.txt").header("if-match", "stale"),
        412,
        Fields::Standard,
    )
    .await;
    let del = "DELETE /2.0/files/{id}";
    c.call(
        del,
        c.req("DELETE", &format!("/2.0/files/{copied}"))
            .header("if-match", "stale"),
        412,
        Fields::Standard,
    )
    .await;
    c.call(
        del,
        c.req("DELETE", &format!("/2.0/files/{copied}")),
        204,
        Fields::Standard,
    )
    .await;
    c.call(
        del,
        c.req("DELETE", &format!("/2.0/files/{copied}")),
        404,
        Fields::Standard,
    )
    .await;
    file
}

/// Upload sessions: a new file (parts, listing, status, wrong digest, 202, commit) and a new
/// version (opened, then aborted).
async fn sessions(c: &Contract, dir: &str, file: &str) {
    let whole = data(SESSION_SIZE, 7);
    let open = |size: usize| {
        c.req("POST", "/api/2.0/files/upload_sessions")
            .json(&json!({"folder_id": dir, "file_size": size, "file_name": "big.bin"}))
    };
    let create = "POST /api/2.0/files/upload_sessions";
    c.call(create, open(1000), 400, Fields::Standard).await;
    let s = c
        .call(create, open(SESSION_SIZE), 201, Fields::Standard)
        .await;
    let id = s["id"].as_str().expect("session id").to_string();
    let part_size = s["part_size"].as_u64().expect("part_size") as usize;
    let session = format!("/api/2.0/files/upload_sessions/{id}");

    let put = |first: usize, digest_of: &[u8]| {
        let last = (first + part_size).min(SESSION_SIZE) - 1;
        c.req("PUT", &session)
            .header("content-type", "application/octet-stream")
            .header("digest", digest_header(digest_of))
            .header(
                "content-range",
                format!("bytes {first}-{last}/{SESSION_SIZE}"),
            )
            .body(whole[first..=last].to_vec())
    };
    let part = "PUT /api/2.0/files/upload_sessions/{id}";
    c.call(part, put(0, b"not this part"), 400, Fields::Standard)
        .await;
    let mut parts = Vec::new();
    for first in (0..SESSION_SIZE).step_by(part_size) {
        let last = (first + part_size).min(SESSION_SIZE) - 1;
        let reply = c
            .call(
                part,
                put(first, &whole[first..=last]),
                200,
                Fields::Standard,
            )
            .await;
        parts.push(reply["part"].clone());
    }
    c.call(part, put(0, &whole[..part_size]), 416, Fields::Standard)
        .await;

    let status = "GET /api/2.0/files/upload_sessions/{id}";
    c.call(status, c.req("GET", &session), 200, Fields::Standard)
        .await;
    let list = "GET /api/2.0/files/upload_sessions/{id}/parts";
    c.call(
        list,
        c.req("GET", &format!("{session}/parts")),
        200,
        Fields::Standard,
    )
    .await;

    let commit = |digest_of: &[u8]| {
        c.req("POST", &format!("{session}/commit"))
            .header("digest", digest_header(digest_of))
            .json(&json!({"parts": parts, "attributes": {"content_modified_at": "2024-01-02T03:04:05+00:00"}}))
    };
    let done = "POST /api/2.0/files/upload_sessions/{id}/commit";
    c.call(done, commit(b"not the file"), 400, Fields::Standard)
        .await;
    c.emu.handle.set_switches(|s| s.commit_202 = 1);
    c.call(done, commit(&whole), 202, Fields::Standard).await;
    c.call(done, commit(&whole), 201, Fields::Standard).await;

    let version = "POST /api/2.0/files/{id}/upload_sessions";
    let open_version = c
        .req("POST", &format!("/api/2.0/files/{file}/upload_sessions"))
        .json(&json!({"file_size": SESSION_SIZE}));
    let v = c.call(version, open_version, 201, Fields::Standard).await;
    let vid = v["id"].as_str().expect("session id");
    let abort = "DELETE /api/2.0/files/upload_sessions/{id}";
    let vpath = format!("/api/2.0/files/upload_sessions/{vid}");
    c.call(abort, c.req("DELETE", &vpath), 204, Fields::Standard)
        .await;
    c.call(status, c.req("GET", &vpath), 404, Fields::Standard)
        .await;
}

async fn cleanup(c: &Contract, dir: &str, file: &str) {
    let del = "DELETE /2.0/folders/{id}";
    let path = format!("/2.0/folders/{dir}");
    c.call(del, c.req("DELETE", &path), 400, Fields::Standard)
        .await;
    let recursive = format!("{path}?recursive=true");
    c.call(del, c.req("DELETE", &recursive), 204, Fields::Standard)
        .await;
    let get = "GET /2.0/files/{id}";
    let gone = c.req("GET", &format!("/2.0/files/{file}"));
    c.call(get, gone, 404, Fields::Standard).await;
    let trash = "GET /2.0/folders/trash/items";
    let list = |q: &str| c.req("GET", &format!("/2.0/folders/trash/items{q}"));
    c.call(trash, list(""), 200, Fields::Standard).await;
    let asked = ["name", "size", "sha1", "modified_at"];
    let q = format!("?fields={}", asked.join(","));
    c.call(trash, list(&q), 200, Fields::Entries(&asked)).await;
    c.call(
        trash,
        list("?usemarker=true&limit=1"),
        200,
        Fields::Standard,
    )
    .await;
    c.call(trash, list("?limit=5000"), 400, Fields::Standard)
        .await;
}

/// Users, groups and memberships: listings (filter, `fields=`), one by id, 404s.
async fn users_and_groups(c: &Contract) {
    let users = "GET /2.0/users";
    c.call(users, c.req("GET", "/2.0/users"), 200, Fields::Standard)
        .await;
    let asked = ["name", "login"];
    let url = "/2.0/users?filter_term=ann&fields=name,login&limit=10&offset=0";
    let found = c
        .call(users, c.req("GET", url), 200, Fields::Entries(&asked))
        .await;
    if found["entries"].as_array().map(Vec::len) != Some(1) {
        c.fail(format!("GET /2.0/users?filter_term=ann: {found}"));
    }
    c.call(
        users,
        c.req("GET", "/2.0/users?limit=5000"),
        400,
        Fields::Standard,
    )
    .await;
    let user = "GET /2.0/users/{id}";
    c.call(user, c.req("GET", "/2.0/users/101"), 200, Fields::Standard)
        .await;
    c.call(
        user,
        c.req("GET", "/2.0/users/101?fields=login"),
        200,
        Fields::Item(&["login"]),
    )
    .await;
    c.call(
        user,
        c.req("GET", "/2.0/users/999999"),
        404,
        Fields::Standard,
    )
    .await;
    let groups = "GET /2.0/groups";
    c.call(
        groups,
        c.req("GET", "/2.0/groups?filter_term=st"),
        200,
        Fields::Standard,
    )
    .await;
    let group = "GET /2.0/groups/{id}";
    c.call(
        group,
        c.req("GET", "/2.0/groups/501"),
        200,
        Fields::Standard,
    )
    .await;
    c.call(
        group,
        c.req("GET", "/2.0/groups/999999"),
        404,
        Fields::Standard,
    )
    .await;
    let members = "GET /2.0/groups/{id}/memberships";
    c.call(
        members,
        c.req("GET", "/2.0/groups/501/memberships"),
        200,
        Fields::Standard,
    )
    .await;
    c.call(
        members,
        c.req("GET", "/2.0/groups/999999/memberships"),
        404,
        Fields::Standard,
    )
    .await;
}

/// Collaborations on `dir`: made, repeated, refused on the root, a pending invitation, an
/// unknown user, a bad role, a viewer inviting; then the folder's listing.
async fn collaborations(c: &Contract, dir: &str) {
    let post = "POST /2.0/collaborations";
    let grant = |item: &str, by: Value, role: &str| {
        c.req("POST", "/2.0/collaborations?notify=false").json(
            &json!({"item": {"type": "folder", "id": item}, "accessible_by": by, "role": role}),
        )
    };
    let ann = json!({"type": "user", "id": "101"});
    c.call(
        post,
        grant(dir, ann.clone(), "viewer"),
        201,
        Fields::Standard,
    )
    .await;
    c.call(
        post,
        grant(dir, ann.clone(), "editor"),
        400,
        Fields::Standard,
    )
    .await;
    c.call(
        post,
        grant("0", ann.clone(), "viewer"),
        400,
        Fields::Standard,
    )
    .await;
    let group = json!({"type": "group", "id": "501"});
    c.call(post, grant(dir, group, "previewer"), 201, Fields::Standard)
        .await;
    let stranger = json!({"type": "user", "login": "someone@elsewhere.example"});
    c.call(post, grant(dir, stranger, "editor"), 201, Fields::Standard)
        .await;
    let ghost = json!({"type": "user", "id": "999999"});
    c.call(post, grant(dir, ghost, "viewer"), 404, Fields::Standard)
        .await;
    let ben = json!({"type": "user", "id": "102"});
    c.call(post, grant(dir, ben.clone(), "boss"), 400, Fields::Standard)
        .await;
    // Ann is a viewer: she may not invite.
    c.call(
        post,
        grant(dir, ben, "viewer").header("as-user", "101"),
        403,
        Fields::Standard,
    )
    .await;

    let list = "GET /2.0/folders/{id}/collaborations";
    let url = |q: &str| format!("/2.0/folders/{dir}/collaborations{q}");
    c.call(list, c.req("GET", &url("")), 200, Fields::Standard)
        .await;
    let asked = ["accessible_by", "role", "status", "invite_email"];
    let q = format!("?fields={}", asked.join(","));
    c.call(list, c.req("GET", &url(&q)), 200, Fields::Entries(&asked))
        .await;
    let first = c
        .call(list, c.req("GET", &url("?limit=1")), 200, Fields::Standard)
        .await;
    match first["next_marker"].as_str() {
        Some(m) => {
            let next = url(&format!("?limit=1&marker={m}"));
            c.call(list, c.req("GET", &next), 200, Fields::Standard)
                .await;
        }
        None => c.fail(format!("{list}?limit=1: no next_marker in {first}")),
    }
    c.call(
        list,
        c.req("GET", "/2.0/folders/999999/collaborations"),
        404,
        Fields::Standard,
    )
    .await;
}

/// The committed trimmed spec is what `spec/trim.py` makes from Box's full spec, wherever a
/// copy of that is at hand: `BOX_OPENAPI_JSON`, or `../shared/box-openapi.json` beside the
/// repository (as on CI). Without one (or without python3) there is nothing to compare, and
/// the test says so.
#[test]
fn the_trimmed_spec_is_what_trim_py_makes() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let full = std::env::var_os("BOX_OPENAPI_JSON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/box-openapi.json"));
    if !full.exists() {
        eprintln!(
            "no {}: trimmed spec not compared with Box's",
            full.display()
        );
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("trimmed.json");
    let status = std::process::Command::new("python3")
        .arg(root.join("spec/trim.py"))
        .arg(&full)
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status();
    let Ok(status) = status else {
        eprintln!("no python3: trimmed spec not compared with Box's");
        return;
    };
    assert!(status.success(), "spec/trim.py failed: {status}");
    let made = std::fs::read_to_string(&out).expect("trim.py output");
    let committed = std::fs::read_to_string(root.join("spec/box-openapi.trimmed.json"))
        .expect("committed trimmed spec");
    assert!(
        made == committed,
        "spec/box-openapi.trimmed.json is stale: run python3 spec/trim.py"
    );
}
