//! The TLS client settings for the directory (`tls_kwargs`), on rustls.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::options::TlsSettings;

/// A TLS setting that cannot be used. Names the `tls_kwargs` key and the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key file is missing, unreadable or holds no PEM of the right kind.
    #[error("LDAPAuthenticator.tls_kwargs {key}: {path}: {detail}")]
    File {
        /// The `tls_kwargs` key.
        key: &'static str,
        /// The file (or "(inline)" for ca_certs_data).
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// The system's CA certificates cannot be read and no CA was configured.
    #[error("LDAPAuthenticator: no trusted CA certificates: {0}; set tls_kwargs ca_certs_file")]
    NoRoots(String),
    /// rustls refused the combination (e.g. a key that does not match the certificate).
    #[error("LDAPAuthenticator.tls_kwargs: {0}")]
    Config(String),
}

/// The rustls client configuration `settings` describe: the configured CAs or else the
/// system's, an optional client certificate, and TLS 1.2 or 1.3 with ring.
pub(crate) fn client_config(settings: &TlsSettings) -> Result<ClientConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|err| TlsError::Config(err.to_string()))?;
    let builder = if settings.verify {
        builder.with_root_certificates(roots(settings)?)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
    };
    match &settings.client_certificate {
        None => Ok(builder.with_no_client_auth()),
        Some((cert_path, key_path)) => {
            let certs = read_certs(
                "local_certificate_file",
                &cert_path.display().to_string(),
                std::fs::read(cert_path),
            )?;
            let key_bytes = std::fs::read(key_path).map_err(|err| TlsError::File {
                key: "local_private_key_file",
                path: key_path.display().to_string(),
                detail: err.to_string(),
            })?;
            let key = PrivateKeyDer::from_pem_slice(&key_bytes).map_err(|err| TlsError::File {
                key: "local_private_key_file",
                path: key_path.display().to_string(),
                detail: format!("no private key in PEM form ({err})"),
            })?;
            builder.with_client_auth_cert(certs, key).map_err(|err| {
                TlsError::Config(format!(
                    "the client certificate and key cannot be used together: {err}"
                ))
            })
        }
    }
}

fn roots(settings: &TlsSettings) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    let mut configured = Vec::new();
    if let Some(path) = &settings.ca_certs_file {
        configured.extend(read_certs(
            "ca_certs_file",
            &path.display().to_string(),
            std::fs::read(path),
        )?);
    }
    if let Some(data) = &settings.ca_certs_data {
        configured.extend(read_certs(
            "ca_certs_data",
            "(inline)",
            Ok(data.as_bytes().to_vec()),
        )?);
    }
    if configured.is_empty() {
        let found = rustls_native_certs::load_native_certs();
        if found.certs.is_empty() {
            let why = found
                .errors
                .first()
                .map_or_else(|| "none found".to_owned(), ToString::to_string);
            return Err(TlsError::NoRoots(why));
        }
        configured = found.certs;
    }
    for cert in configured {
        store
            .add(cert)
            .map_err(|err| TlsError::Config(format!("a CA certificate cannot be used: {err}")))?;
    }
    Ok(store)
}

fn read_certs(
    key: &'static str,
    path: &str,
    bytes: std::io::Result<Vec<u8>>,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let file_error = |detail: String| TlsError::File {
        key,
        path: path.to_owned(),
        detail,
    };
    let bytes = bytes.map_err(|err| file_error(err.to_string()))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| file_error(format!("not PEM certificates ({err})")))?;
    if certs.is_empty() {
        return Err(file_error("holds no PEM certificate".to_owned()));
    }
    Ok(certs)
}

/// `validate = "CERT_NONE"`: any certificate is accepted; signatures are still checked so
/// the handshake itself stays sound.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
