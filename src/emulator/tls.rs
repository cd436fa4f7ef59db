//! The emulator's TLS side: a rustls `ServerConfig` from PEM files, so clients whose Box URLs
//! are fixed to `https://api.box.com` (rclone, SDKs) can reach it through a proxy, and so
//! boxlift's `--ca-cert` and its certificate errors can be tested against a real handshake.
use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why a TLS server configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("{path}: {why}")]
    Pem {
        /// The file.
        path: String,
        /// What was wrong with it.
        why: String,
    },
    /// rustls refused the certificate chain or key.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A server config from a PEM certificate chain (leaf first) and a PEM private key (PKCS#8,
/// PKCS#1 or SEC1), offering HTTP/2 and HTTP/1.1 by ALPN as Box's hosts do.
pub fn server_config_from_pem(
    cert_pem: &Path,
    key_pem: &Path,
) -> Result<Arc<ServerConfig>, TlsConfigError> {
    let pem_err = |path: &Path, why: String| TlsConfigError::Pem {
        path: path.display().to_string(),
        why,
    };
    let certs = CertificateDer::pem_file_iter(cert_pem)
        .map_err(|e| pem_err(cert_pem, format!("cannot read certificates: {e}")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_err(cert_pem, format!("bad certificate PEM: {e}")))?;
    if certs.is_empty() {
        return Err(pem_err(cert_pem, "no certificate in the file".into()));
    }
    let key = PrivateKeyDer::from_pem_file(key_pem)
        .map_err(|e| pem_err(key_pem, format!("no usable private key: {e}")))?;
    server_config(certs, key)
}

/// A server config from DER certificates (leaf first) and key.
pub fn server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, TlsConfigError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
