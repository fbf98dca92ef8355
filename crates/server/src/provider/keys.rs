//! Where the hub keeps its ID token signing keys: each key (RSA for RS256, P-256 for
//! ES256; see [`hubauth_provider::SigningKeys`]) in its own PKCS#8 PEM file with mode 600,
//! generated at first start.

use std::path::Path;

use hubauth_provider::{EcKey, RsaKey};

pub use hubauth_provider::{ID_TOKEN_ALGS, IdTokenAlg, RSA_BITS, SigningKeys, at_hash};

/// Why a signing key file could not be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file could not be read or created.
    #[error("OpenID signing key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The key file is readable by group or others.
    #[error(
        "OpenID signing key file {path} has permissions {mode:o}; it must be readable by its owner only (chmod 600)"
    )]
    TooOpen {
        /// The file.
        path: String,
        /// Its mode bits.
        mode: u32,
    },
    /// The file does not hold the kind of private key expected.
    #[error(
        "OpenID signing key file {path} does not hold a PKCS#8 {expected} private key (PEM); delete it to have a new one made"
    )]
    Malformed {
        /// The file.
        path: String,
        /// What it should hold.
        expected: &'static str,
    },
    /// Generating a key failed.
    #[error("generating an OpenID signing key failed: {0}")]
    Generate(String),
}

impl KeyError {
    fn from_protocol(err: hubauth_provider::KeyError, path: &str) -> KeyError {
        match err {
            hubauth_provider::KeyError::Malformed { expected } => KeyError::Malformed {
                path: path.to_owned(),
                expected,
            },
            hubauth_provider::KeyError::Generate(message)
            | hubauth_provider::KeyError::Sign(message) => KeyError::Generate(message),
        }
    }
}

/// Loads the keys from their files, or makes each missing one there (mode 600).
pub fn load_or_create(ec_path: &Path, rsa_path: &Path) -> Result<SigningKeys, KeyError> {
    let ec = load_or_create_one(
        ec_path,
        EcKey::from_pkcs8_pem,
        EcKey::generate,
        EcKey::to_pkcs8_pem,
        |key| (key.kid().to_owned(), IdTokenAlg::Es256),
    )?;
    let rsa = load_or_create_one(
        rsa_path,
        RsaKey::from_pkcs8_pem,
        RsaKey::generate,
        RsaKey::to_pkcs8_pem,
        |key| (key.kid().to_owned(), IdTokenAlg::Rs256),
    )?;
    Ok(SigningKeys::new(rsa, ec))
}

type Made<K> = Result<K, hubauth_provider::KeyError>;

fn load_or_create_one<K>(
    path: &Path,
    parse: fn(&str) -> Made<K>,
    generate: fn() -> Made<K>,
    to_pem: fn(&K) -> Made<String>,
    describe: fn(&K) -> (String, IdTokenAlg),
) -> Result<K, KeyError> {
    let shown = path.display().to_string();
    let io = |source| KeyError::Io {
        path: shown.clone(),
        source,
    };
    let protocol = |err| KeyError::from_protocol(err, &shown);
    match std::fs::metadata(path) {
        Ok(meta) => {
            check_mode(&meta, &shown)?;
            let pem = std::fs::read_to_string(path).map_err(io)?;
            parse(&pem).map_err(protocol)
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let key = generate().map_err(protocol)?;
            let pem = to_pem(&key).map_err(protocol)?;
            crate::secrets::write_private(path, pem.as_bytes()).map_err(io)?;
            let (kid, alg) = describe(&key);
            tracing::info!(path = %shown, kid = %kid, alg = alg.name(), "wrote a new OpenID signing key");
            Ok(key)
        }
        Err(source) => Err(io(source)),
    }
}

#[cfg(unix)]
fn check_mode(meta: &std::fs::Metadata, path: &str) -> Result<(), KeyError> {
    match crate::secrets::too_open_mode(meta) {
        Some(mode) => Err(KeyError::TooOpen {
            path: path.to_owned(),
            mode,
        }),
        None => Ok(()),
    }
}

#[cfg(not(unix))]
fn check_mode(_meta: &std::fs::Metadata, _path: &str) -> Result<(), KeyError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};

    #[test]
    fn keys_persist_with_owner_only_files() {
        let dir = tempfile::tempdir().unwrap();
        let ec_path = dir.path().join("oidc.pem");
        let rsa_path = dir.path().join("oidc-rsa.pem");
        let first = load_or_create(&ec_path, &rsa_path).unwrap();
        let again = load_or_create(&ec_path, &rsa_path).unwrap();
        assert_eq!(first.jwks(), again.jwks());
        assert_ne!(first.kid(IdTokenAlg::Rs256), first.kid(IdTokenAlg::Es256));
        #[cfg(unix)]
        for path in [&ec_path, &rsa_path] {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        for alg in ID_TOKEN_ALGS {
            let token = first
                .sign(
                    *alg,
                    &serde_json::json!({"sub": "ada", "iss": "https://hub"}),
                )
                .unwrap();
            assert_eq!(
                again.verify_own(&token, "https://hub").unwrap()["sub"],
                "ada"
            );
        }
    }

    #[test]
    fn open_broken_or_weak_key_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ec_path = dir.path().join("oidc.pem");
        let rsa_path = dir.path().join("oidc-rsa.pem");
        load_or_create(&ec_path, &rsa_path).unwrap();
        #[cfg(unix)]
        for path in [&ec_path, &rsa_path] {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(
                load_or_create(&ec_path, &rsa_path),
                Err(KeyError::TooOpen { .. })
            ));
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let ec_pem = std::fs::read_to_string(&ec_path).unwrap();
        let rsa_pem = std::fs::read_to_string(&rsa_path).unwrap();
        // Each file must hold its own kind of key.
        for (ec, rsa) in [
            ("not a key", rsa_pem.as_str()),
            (ec_pem.as_str(), "not a key"),
            (rsa_pem.as_str(), rsa_pem.as_str()),
            (ec_pem.as_str(), ec_pem.as_str()),
        ] {
            std::fs::write(&ec_path, ec).unwrap();
            std::fs::write(&rsa_path, rsa).unwrap();
            assert!(matches!(
                load_or_create(&ec_path, &rsa_path),
                Err(KeyError::Malformed { .. })
            ));
        }
        // An RSA key shorter than 2048 bits is refused, not used.
        let weak = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 1024).unwrap();
        std::fs::write(&ec_path, &ec_pem).unwrap();
        std::fs::write(
            &rsa_path,
            weak.to_pkcs8_pem(LineEnding::LF).unwrap().as_bytes(),
        )
        .unwrap();
        let err = load_or_create(&ec_path, &rsa_path).unwrap_err();
        assert!(err.to_string().contains("2048"), "{err}");
    }
}
