//! HTTPS for a mock: what a provider behaviour that depends on TLS (an ID token trusted
//! because it came over a validated TLS connection) is tested with.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::error::DevIdpError;

/// How long a client may take over its TLS handshake before it is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A certificate chain and key (PEM) a mock serves HTTPS with.
#[derive(Clone)]
pub struct MockTls {
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for MockTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockTls").finish_non_exhaustive()
    }
}

impl MockTls {
    /// From a PEM certificate chain (leaf first) and its PEM private key.
    ///
    /// # Errors
    /// [`DevIdpError::Config`] when either does not parse or they do not match.
    pub fn from_pem(cert_chain: &str, key: &str) -> Result<MockTls, DevIdpError> {
        let bad = |what: &str, err: &dyn std::fmt::Display| {
            DevIdpError::Config(format!("mock TLS {what}: {err}"))
        };
        let certs = CertificateDer::pem_slice_iter(cert_chain.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| bad("certificate", &err))?;
        if certs.is_empty() {
            return Err(DevIdpError::Config(
                "mock TLS certificate: no certificate in the PEM text".into(),
            ));
        }
        let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(|err| bad("key", &err))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|err| bad("protocols", &err))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|err| bad("certificate and key", &err))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(MockTls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }
}

/// A listener whose connections are TLS: a client that fails its handshake (or takes too
/// long) is dropped and the next one accepted.
pub(super) struct TlsListener {
    pub(super) tcp: TcpListener,
    pub(super) tls: MockTls,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.tcp.accept().await else {
                // Out of file descriptors and the like: wait a moment instead of spinning.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let handshake = self.tls.acceptor.accept(stream);
            if let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}
