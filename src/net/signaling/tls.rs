//! TLS for signaling (`wss://`): rustls on the ring provider, TLS 1.3.
//!
//! - [`server_tls`]: a certificate chain and key from PEM files, for
//!   `samespace serve --tls-cert FILE --tls-key FILE`.
//! - [`client_tls`]: the operating system's root certificates, plus the certificates
//!   of an optional PEM file (`--ca FILE`) to trust a private CA or a self-signed
//!   server.
//!
//! Both sides move a [`BoxedIo`] (plain TCP or TLS over TCP) under the WebSocket, so
//! the rest of the code does not care which it is.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tracing::debug;

use crate::net::error::{NetError, NetResult};

/// A byte stream a WebSocket can run over: TCP, or TLS over TCP.
pub trait IoStream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> IoStream for T {}

/// A boxed [`IoStream`].
pub type BoxedIo = Box<dyn IoStream>;

/// The first byte of a TLS handshake record (a ClientHello starts with it).
pub const TLS_HANDSHAKE_BYTE: u8 = 0x16;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_error(context: impl Into<String>, reason: impl std::fmt::Display) -> NetError {
    NetError::TlsSetup {
        context: context.into(),
        reason: reason.to_string(),
    }
}

/// Reads every certificate of a PEM file.
fn read_certificates(path: &Path) -> NetResult<Vec<CertificateDer<'static>>> {
    let context = || format!("certificates {}", path.display());
    let pem = std::fs::read(path).map_err(|e| tls_error(context(), e))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_error(context(), e))?;
    if certs.is_empty() {
        return Err(tls_error(context(), "no CERTIFICATE section in the file"));
    }
    Ok(certs)
}

/// A server configuration presenting the chain in `cert` (PEM, the server's
/// certificate first) with the private key in `key` (PEM: PKCS#8, PKCS#1 or SEC1).
pub fn server_tls(cert: &Path, key: &Path) -> NetResult<Arc<rustls::ServerConfig>> {
    let chain = read_certificates(cert)?;
    let key_context = || format!("private key {}", key.display());
    let pem = std::fs::read(key).map_err(|e| tls_error(key_context(), e))?;
    let key_der = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| tls_error(key_context(), e))?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error("server configuration", e))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| {
            tls_error(
                format!("certificate {} with key {}", cert.display(), key.display()),
                e,
            )
        })?;
    Ok(Arc::new(config))
}

/// A client configuration trusting the system's roots and, if given, every
/// certificate in the PEM file `extra_ca`.
pub fn client_tls(extra_ca: Option<&Path>) -> NetResult<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for err in &native.errors {
        debug!(%err, "a system root certificate store could not be read");
    }
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    debug!(added, ignored, "system root certificates");
    if let Some(path) = extra_ca {
        for cert in read_certificates(path)? {
            roots
                .add(cert)
                .map_err(|e| tls_error(format!("certificate authority {}", path.display()), e))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error("client configuration", e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_or_empty_files_name_the_file() {
        let dir = std::env::temp_dir().join(format!("samespace-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let missing = dir.join("missing.pem");
        let err = server_tls(&missing, &missing).expect_err("missing file");
        assert!(err.to_string().contains("missing.pem"), "{err}");
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        let err = client_tls(Some(empty.as_path())).expect_err("no certificate");
        assert!(err.to_string().contains("no CERTIFICATE"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
