//! Helpers for driving the emulator over plain HTTP (reqwest, never boxlift's own client): start
//! an in-process emulator, authorised requests, multipart uploads, digests, generated data.
use base64::Engine;
use boxlift::emulator::{Emulator, EmulatorConfig, EmulatorHandle, EmulatorState};
use serde_json::Value;
use sha1::{Digest, Sha1};

/// The default developer token of `EmulatorConfig::default()`.
pub const TOKEN: &str = "dev-token";

/// A running emulator plus an HTTP client.
pub struct Emu {
    pub handle: EmulatorHandle,
    pub http: reqwest::Client,
}

impl Emu {
    /// Start with the default config.
    pub fn start() -> Emu {
        Emu::with(EmulatorConfig::default())
    }

    /// Start with `config`.
    pub fn with(config: EmulatorConfig) -> Emu {
        let handle = Emulator::start(config).expect("emulator starts");
        Emu {
            handle,
            http: reqwest::Client::new(),
        }
    }

    /// Start with `config` on the current tokio runtime, so a test on a paused clock moves
    /// the emulator's token and session expiry with `tokio::time::advance`. Its client has
    /// no pool-idle timer: tokio moves a paused clock to the next timer while tasks wait on
    /// sockets (tokio-rs/tokio#4522), so the only timers left are the test's own.
    pub fn here(config: EmulatorConfig) -> Emu {
        let handle = Emulator::spawn(config).expect("emulator starts");
        Emu {
            handle,
            http: reqwest::Client::builder()
                .pool_idle_timeout(None)
                .build()
                .expect("http client"),
        }
    }

    /// `{base}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.handle.base_url())
    }

    /// An authorised request.
    pub fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path)).bearer_auth(TOKEN)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.req(reqwest::Method::GET, path)
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.req(reqwest::Method::POST, path)
    }

    pub fn put(&self, path: &str) -> reqwest::RequestBuilder {
        self.req(reqwest::Method::PUT, path)
    }

    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.req(reqwest::Method::DELETE, path)
    }

    /// Create a folder; returns (status, body).
    pub async fn mkdir(&self, parent: &str, name: &str) -> (u16, Value) {
        send(
            self.post("/2.0/folders")
                .json(&serde_json::json!({"name": name, "parent": {"id": parent}})),
        )
        .await
    }

    /// Create a folder that must not exist yet; returns its id.
    pub async fn mkdir_ok(&self, parent: &str, name: &str) -> String {
        let (status, body) = self.mkdir(parent, name).await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().expect("folder id").to_string()
    }

    /// Direct upload of `data` as `name` in `parent` (with a correct content-md5).
    pub async fn upload(&self, parent: &str, name: &str, data: &[u8]) -> (u16, Value) {
        send(
            self.post("/api/2.0/files/content")
                .header("content-md5", sha1_hex(data))
                .multipart(form(name, Some(parent), data)),
        )
        .await
    }

    /// Direct upload that must succeed; returns the file id.
    pub async fn upload_ok(&self, parent: &str, name: &str, data: &[u8]) -> String {
        let (status, body) = self.upload(parent, name, data).await;
        assert_eq!(status, 201, "{body}");
        body["entries"][0]["id"]
            .as_str()
            .expect("file id")
            .to_string()
    }

    /// `GET /_emulator/state` over HTTP.
    pub async fn state(&self) -> EmulatorState {
        self.http
            .get(self.url("/_emulator/state"))
            .send()
            .await
            .expect("state reachable")
            .json()
            .await
            .expect("state parses")
    }
}

/// Send and return (status, JSON body or Null).
pub async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let resp = req.send().await.expect("request sent");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body read");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The multipart form of an upload: `attributes` first, then `file`.
pub fn form(name: &str, parent: Option<&str>, data: &[u8]) -> reqwest::multipart::Form {
    let mut attrs = serde_json::json!({ "name": name });
    if let Some(p) = parent {
        attrs["parent"] = serde_json::json!({ "id": p });
    }
    reqwest::multipart::Form::new()
        .text("attributes", attrs.to_string())
        .part(
            "file",
            reqwest::multipart::Part::bytes(data.to_vec()).file_name("upload.bin"),
        )
}

/// SHA-1 hex.
pub fn sha1_hex(data: &[u8]) -> String {
    hex::encode(Sha1::digest(data))
}

/// `sha=<base64 SHA-1>`, the `digest` header of parts and commits.
pub fn digest_header(data: &[u8]) -> String {
    format!(
        "sha={}",
        base64::engine::general_purpose::STANDARD.encode(Sha1::digest(data))
    )
}

/// `n` deterministic pseudo-random bytes.
pub fn data(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(n);
    out
}

/// The tree entry at `path`.
pub fn entry<'a>(state: &'a EmulatorState, path: &str) -> Option<&'a boxlift::emulator::TreeEntry> {
    state.tree.iter().find(|e| e.path == path)
}
