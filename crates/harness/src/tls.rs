//! One self-signed loopback certificate per test binary, for mocks that serve HTTPS.

use std::path::PathBuf;
use std::sync::OnceLock;

/// A certificate for `127.0.0.1`, its key, and a file holding the certificate (for a
/// hub's `http_request_kwargs = { ca_certs = ... }`).
#[derive(Debug)]
pub struct LoopbackCert {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// Its private key, PEM.
    pub key_pem: String,
    /// A file holding [`LoopbackCert::cert_pem`].
    pub file: PathBuf,
}

/// The certificate every mock of this test binary serves HTTPS with, made on first use
/// (one key for the whole binary: making one per test would only cost time).
pub fn loopback_cert() -> &'static LoopbackCert {
    static CERT: OnceLock<LoopbackCert> = OnceLock::new();
    CERT.get_or_init(|| {
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let cert_pem = certified.cert.pem();
        let dir = std::env::temp_dir().join(format!(
            "hubauth-harness-{}-{}",
            std::process::id(),
            std::env::current_exe()
                .ok()
                .and_then(|exe| exe.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_default()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("mock-ca.pem");
        std::fs::write(&file, &cert_pem).unwrap();
        LoopbackCert {
            cert_pem,
            key_pem: certified.key_pair.serialize_pem(),
            file,
        }
    })
}

/// The mock framework's TLS settings with [`loopback_cert`].
pub fn mock_tls() -> hubauth_devidp::mock::MockTls {
    let cert = loopback_cert();
    hubauth_devidp::mock::MockTls::from_pem(&cert.cert_pem, &cert.key_pem).unwrap()
}

/// The `http_request_kwargs` line that makes a hub trust [`loopback_cert`].
pub fn trust_line() -> String {
    format!(
        "http_request_kwargs = {{ ca_certs = \"{}\" }}\n",
        loopback_cert().file.display()
    )
}
