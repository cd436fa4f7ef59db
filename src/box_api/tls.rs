//! Certificate failures are permanent: a server certificate that is not trusted, or not valid
//! for the host, will not become valid by retrying, so the call stops at once and says which
//! host, why, and how to fix it (`--ca-cert`) instead of retrying a "no reply" for minutes.
use std::error::Error as StdError;

use super::error::{ApiError, ErrorKind};

/// The report/error code of a certificate failure (no Box code exists: Box never answered).
pub const TLS_CERTIFICATE_CODE: &str = "tls_certificate";

/// If `err` failed because the server's certificate was refused, a sentence saying which host
/// and why. Walks the source chain (reqwest → hyper-util → io::Error → rustls::Error); an
/// `io::Error` hides its payload from `source()`, so its `get_ref()` is looked at too.
pub fn tls_failure(err: &reqwest::Error) -> Option<String> {
    let cert = certificate_error(err)?;
    let host = err
        .url()
        .and_then(|u| u.host_str())
        .unwrap_or("the server")
        .to_string();
    use rustls::CertificateError as C;
    let why = match &cert {
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            format!("certificate is not valid for host {host}")
        }
        other => format!("certificate of {host} not trusted ({})", short(other)),
    };
    Some(format!(
        "TLS: {why}; the connection was refused before any request. If {host} is the right \
         host and its certificate is issued by your own CA (a TLS-inspecting proxy, a test \
         server), pass that CA's PEM with --ca-cert"
    ))
}

/// The error a call returns for a certificate failure: permanent (never retried), and the
/// job's: every request goes to the same hosts.
pub(crate) fn tls_error(op: &str, why: String) -> ApiError {
    ApiError::new(ErrorKind::Other, format!("{op}: {why}"))
        .with_code(TLS_CERTIFICATE_CODE)
        .with_class(super::FailureClass::Job)
}

/// `UnknownIssuer`, `Expired`, ... without the context payloads.
fn short(e: &rustls::CertificateError) -> String {
    let debug = format!("{e:?}");
    debug
        .split(['{', '('])
        .next()
        .unwrap_or(&debug)
        .trim()
        .to_string()
}

fn certificate_error(err: &reqwest::Error) -> Option<rustls::CertificateError> {
    let mut next: Option<&(dyn StdError + 'static)> = Some(err);
    // Bounded: error chains are short; this guards against a cycle.
    for _ in 0..32 {
        let e = next?;
        if let Some(found) = as_certificate_error(e) {
            return Some(found);
        }
        // hyper-util wraps rustls's error in an io::Error, itself in an io::Error; an
        // io::Error's `source()` skips its payload, so step into `get_ref()` instead.
        next = match e.downcast_ref::<std::io::Error>() {
            Some(io) => match io.get_ref() {
                Some(inner) => Some(inner as &(dyn StdError + 'static)),
                None => None,
            },
            None => e.source(),
        };
    }
    None
}

fn as_certificate_error(e: &(dyn StdError + 'static)) -> Option<rustls::CertificateError> {
    match e.downcast_ref::<rustls::Error>()? {
        rustls::Error::InvalidCertificate(c) => Some(c.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_drop_the_context() {
        assert_eq!(
            short(&rustls::CertificateError::UnknownIssuer),
            "UnknownIssuer"
        );
        assert_eq!(short(&rustls::CertificateError::Expired), "Expired");
    }

    #[test]
    fn a_tls_error_is_permanent_and_coded() {
        let e = tls_error("get folder", "TLS: x".into());
        assert_eq!(e.code.as_deref(), Some(TLS_CERTIFICATE_CODE));
        assert!(e.to_string().contains("get folder: TLS: x"), "{e}");
    }
}
