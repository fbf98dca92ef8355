//! TLS without a front proxy: `[Hub] ssl_cert` and `ssl_key` (PEM), served with rustls.
//!
//! The certificate is read again, without a restart, when either file changes (checked
//! every [`RELOAD_CHECK`]) or when the process gets SIGHUP, so that a renewal (certbot,
//! an ACME client, a secret mount) takes effect on its own. A reload that fails (a
//! half-written file, a key that does not match) is logged and the hub keeps serving the
//! certificate it has; connections already open keep theirs either way. At start-up the
//! same failures stop the hub with the file and the reason.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// How often the files are checked for a change.
pub const RELOAD_CHECK: Duration = Duration::from_secs(2);

/// How long a client may take to finish the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The certificate and key files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// `ssl_cert`: the certificate chain, leaf first (PEM).
    pub cert: PathBuf,
    /// `ssl_key`: the private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Why the certificate cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file cannot be read.
    #[error("[Hub] {option} = {path:?}: {detail}")]
    File {
        /// `ssl_cert` or `ssl_key`.
        option: &'static str,
        /// The file.
        path: String,
        /// Why.
        detail: String,
    },
    /// The key is not the certificate's.
    #[error(
        "[Hub] ssl_key {key:?} is not the private key of the certificate in ssl_cert {cert:?} ({detail})"
    )]
    Mismatch {
        /// The certificate file.
        cert: String,
        /// The key file.
        key: String,
        /// What rustls says.
        detail: String,
    },
}

impl TlsFiles {
    /// Reads the files into a certificate rustls can serve, checking that the key is the
    /// certificate's.
    pub fn load(&self) -> Result<CertifiedKey, TlsError> {
        let cert_name = self.cert.display().to_string();
        let key_name = self.key.display().to_string();
        let cert_bytes = std::fs::read(&self.cert).map_err(|err| TlsError::File {
            option: "ssl_cert",
            path: cert_name.clone(),
            detail: err.to_string(),
        })?;
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_bytes)
            .collect::<Result<_, _>>()
            .map_err(|err| TlsError::File {
                option: "ssl_cert",
                path: cert_name.clone(),
                detail: format!("not a PEM certificate chain ({err})"),
            })?;
        if chain.is_empty() {
            return Err(TlsError::File {
                option: "ssl_cert",
                path: cert_name,
                detail: "holds no PEM certificate".to_owned(),
            });
        }
        let key_bytes = std::fs::read(&self.key).map_err(|err| TlsError::File {
            option: "ssl_key",
            path: key_name.clone(),
            detail: err.to_string(),
        })?;
        let key = PrivateKeyDer::from_pem_slice(&key_bytes).map_err(|err| TlsError::File {
            option: "ssl_key",
            path: key_name.clone(),
            detail: format!("no private key in PEM form ({err})"),
        })?;
        let signing =
            rustls::crypto::ring::sign::any_supported_type(&key).map_err(|err| TlsError::File {
                option: "ssl_key",
                path: key_name.clone(),
                detail: format!("not a usable private key ({err})"),
            })?;
        let certified = CertifiedKey::new(chain, signing);
        certified.keys_match().map_err(|err| TlsError::Mismatch {
            cert: cert_name,
            key: key_name,
            detail: err.to_string(),
        })?;
        Ok(certified)
    }

    /// What the files look like now (modification times and sizes), to notice a change.
    fn stamp(&self) -> Option<[(SystemTime, u64); 2]> {
        let stamp = |path: &Path| {
            let meta = std::fs::metadata(path).ok()?;
            Some((meta.modified().ok()?, meta.len()))
        };
        Some([stamp(&self.cert)?, stamp(&self.key)?])
    }
}

/// The certificate being served, swapped in place by a reload.
#[derive(Debug)]
pub struct ReloadingCert {
    files: TlsFiles,
    current: RwLock<Arc<CertifiedKey>>,
}

impl ReloadingCert {
    /// Loads the certificate; an error here stops the start-up.
    pub fn load(files: TlsFiles) -> Result<ReloadingCert, TlsError> {
        let certified = files.load()?;
        Ok(ReloadingCert {
            files,
            current: RwLock::new(Arc::new(certified)),
        })
    }

    /// Reads the files again; on failure the current certificate stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let certified = self.files.load()?;
        let mut current = self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *current = Arc::new(certified);
        Ok(())
    }

    fn reload_and_log(&self, why: &str) {
        match self.reload() {
            Ok(()) => tracing::info!(reason = why, "TLS certificate reloaded"),
            Err(err) => tracing::warn!(
                reason = why,
                error = %err,
                "TLS certificate not reloaded; still serving the previous one"
            ),
        }
    }

    /// Reloads when the files change or the process gets SIGHUP, until dropped.
    pub async fn watch(self: Arc<Self>) {
        let mut last = self.files.stamp();
        let mut ticker = tokio::time::interval(RELOAD_CHECK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut hangup =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        loop {
            let signalled = async {
                match hangup.as_mut() {
                    Some(signal) => signal.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = ticker.tick() => {
                    let now = self.files.stamp();
                    // A file being replaced can be missing for a moment: wait for both.
                    if now.is_some() && now != last {
                        last = now;
                        self.reload_and_log("the certificate or key file changed");
                    }
                }
                _ = signalled => {
                    last = self.files.stamp();
                    self.reload_and_log("SIGHUP");
                }
            }
        }
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .clone(),
        )
    }
}

/// The TLS acceptor over a reloading certificate: TLS 1.2 and 1.3 (ring), HTTP/1.1.
pub fn acceptor(cert: Arc<ReloadingCert>) -> Result<tokio_rustls::TlsAcceptor, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(cert);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
