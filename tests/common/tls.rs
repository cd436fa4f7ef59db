//! TLS fixtures: a throwaway CA and server certificates (rcgen), the in-process emulator on its
//! TLS listener, and a CONNECT proxy that sends every tunnel to that listener, so a client whose
//! Box URLs are fixed (`https://api.box.com`, `https://upload.box.com`) reaches the emulator.
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use boxlift::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// A CA whose PEM is at `ca_pem`, able to issue server certificates into `dir`.
pub struct TestCa {
    pub ca_pem: PathBuf,
    dir: PathBuf,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl TestCa {
    /// A new CA, its certificate written to `dir/ca.pem`.
    pub fn new(dir: &Path, name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("boxlift test CA {name}"));
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let ca_pem = dir.join(format!("{name}-ca.pem"));
        std::fs::write(&ca_pem, issuer.pem()).unwrap();
        TestCa {
            ca_pem,
            dir: dir.to_path_buf(),
            issuer,
        }
    }

    /// A server certificate for `names` (DNS names or IP addresses): (cert PEM, key PEM) paths.
    pub fn server_cert(&self, stem: &str, names: &[&str]) -> (PathBuf, PathBuf) {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names.clone()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, &names[0]);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let cert_pem = self.dir.join(format!("{stem}.pem"));
        let key_pem = self.dir.join(format!("{stem}-key.pem"));
        std::fs::write(&cert_pem, cert.pem()).unwrap();
        std::fs::write(&key_pem, key.serialize_pem()).unwrap();
        (cert_pem, key_pem)
    }

    /// A server certificate for Box's hosts (and 127.0.0.1), for clients whose Box URLs are
    /// fixed and reach the emulator through [`ConnectProxy`].
    pub fn box_server_cert(&self) -> (PathBuf, PathBuf) {
        self.server_cert(
            "box",
            &[
                "api.box.com",
                "upload.box.com",
                "account.box.com",
                "127.0.0.1",
            ],
        )
    }
}

/// The default emulator config, serving HTTPS with this certificate.
pub fn tls_config(cert_pem: &Path, key_pem: &Path) -> EmulatorConfig {
    EmulatorConfig {
        tls: Some(boxlift::emulator::tls::server_config_from_pem(cert_pem, key_pem).unwrap()),
        ..EmulatorConfig::default()
    }
}

/// The in-process emulator serving HTTPS with this certificate.
pub fn tls_emulator(cert_pem: &Path, key_pem: &Path) -> EmulatorHandle {
    Emulator::start(tls_config(cert_pem, key_pem)).unwrap()
}

/// An HTTP CONNECT proxy on 127.0.0.1 that tunnels `*.box.com:443` to one local port (and
/// refuses anything else with 403). Stops when dropped.
pub struct ConnectProxy {
    pub port: u16,
    /// Every CONNECT target asked for, in order.
    pub targets: Arc<Mutex<Vec<String>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ConnectProxy {
    /// Tunnel to `127.0.0.1:to_port`.
    pub fn start(to_port: u16) -> ConnectProxy {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let port = std_listener.local_addr().unwrap().port();
        let targets = Arc::new(Mutex::new(Vec::new()));
        let seen = targets.clone();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
                loop {
                    tokio::select! {
                        _ = &mut stopped => return,
                        accepted = listener.accept() => {
                            let Ok((client, _)) = accepted else { continue };
                            let seen = seen.clone();
                            tokio::spawn(async move {
                                if let Err(e) = tunnel(client, to_port, seen).await {
                                    eprintln!("connect proxy: {e}");
                                }
                            });
                        }
                    }
                }
            });
            rt.shutdown_background();
        });
        ConnectProxy {
            port,
            targets,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`, for `HTTPS_PROXY`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Read `CONNECT host:port HTTP/1.1` and its headers, answer 200, then splice both ways.
async fn tunnel(
    client: tokio::net::TcpStream,
    to_port: u16,
    seen: Arc<Mutex<Vec<String>>>,
) -> io::Result<()> {
    let mut client = BufReader::new(client);
    let mut line = String::new();
    client.read_line(&mut line).await?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    loop {
        let mut header = String::new();
        if client.read_line(&mut header).await? == 0 || header == "\r\n" || header == "\n" {
            break;
        }
    }
    seen.lock().unwrap().push(target.to_string());
    let host = target.rsplit_once(':').map(|(h, _)| h).unwrap_or(target);
    if method != "CONNECT" || !(host == "box.com" || host.ends_with(".box.com")) {
        client
            .get_mut()
            .write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
            .await?;
        return Ok(());
    }
    let mut upstream = tokio::net::TcpStream::connect(("127.0.0.1", to_port)).await?;
    // As real forwarding proxies do (nginx, HAProxy): without it Nagle holds each small write
    // of an HTTP/1.1 exchange (headers, then body) until the peer's delayed ACK, 40 ms a
    // request on Linux, which capped a 16-connection HTTP/1.1 client at ~330 requests/s.
    upstream.set_nodelay(true)?;
    client.get_ref().set_nodelay(true)?;
    client
        .get_mut()
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await?;
    // Bytes the client sent right after its headers (none in practice: it waits for the 200).
    let early = client.buffer().to_vec();
    upstream.write_all(&early).await?;
    let mut client = client.into_inner();
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
    Ok(())
}
