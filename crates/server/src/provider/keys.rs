//! The ID token signing key: a P-256 key (ES256) generated at first start and kept in a
//! PKCS#8 PEM file with mode 600, published as a JWKS.

use std::fmt;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::{SigningKey as P256Key, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Why the signing key could not be loaded or used.
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
    /// The file does not hold a PKCS#8 P-256 private key.
    #[error(
        "OpenID signing key file {path} does not hold a PKCS#8 P-256 private key (PEM); delete it to have a new one made"
    )]
    Malformed {
        /// The file.
        path: String,
    },
    /// Signing failed (a bug or a broken key).
    #[error("signing an ID token failed: {0}")]
    Sign(String),
}

/// The hub's ID token signing key.
pub struct SigningKey {
    kid: String,
    jwk: Value,
    encoding: jsonwebtoken::EncodingKey,
    decoding: jsonwebtoken::DecodingKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Loads the key from `path`, or makes a new one there (mode 600) when the file is
    /// missing.
    pub fn load_or_create(path: &Path) -> Result<SigningKey, KeyError> {
        let shown = path.display().to_string();
        let io = |source| KeyError::Io {
            path: shown.clone(),
            source,
        };
        match std::fs::metadata(path) {
            Ok(meta) => {
                check_mode(&meta, &shown)?;
                let pem = std::fs::read_to_string(path).map_err(io)?;
                let key = P256Key::from_pkcs8_pem(&pem).map_err(|_| KeyError::Malformed {
                    path: shown.clone(),
                })?;
                Self::from_key(&key, &shown)
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let key = P256Key::random(&mut rand::rngs::OsRng);
                let pem = key
                    .to_pkcs8_pem(LineEnding::LF)
                    .map_err(|_| KeyError::Malformed {
                        path: shown.clone(),
                    })?;
                crate::secrets::write_private(path, pem.as_bytes()).map_err(io)?;
                let key = Self::from_key(&key, &shown)?;
                tracing::info!(path = %shown, kid = %key.kid, "wrote a new OpenID signing key");
                Ok(key)
            }
            Err(source) => Err(io(source)),
        }
    }

    /// A fresh key that lives only in memory (tests).
    pub fn generate() -> Result<SigningKey, KeyError> {
        Self::from_key(&P256Key::random(&mut rand::rngs::OsRng), "memory")
    }

    fn from_key(key: &P256Key, shown: &str) -> Result<SigningKey, KeyError> {
        let der = key.to_pkcs8_der().map_err(|_| KeyError::Malformed {
            path: shown.to_owned(),
        })?;
        let (x, y) = coordinates(key.verifying_key());
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
        let jwk = json!({
            "kty": "EC",
            "crv": "P-256",
            "x": x,
            "y": y,
            "kid": kid,
            "alg": "ES256",
            "use": "sig",
        });
        let malformed = || KeyError::Malformed {
            path: shown.to_owned(),
        };
        let public: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(jwk.clone()).map_err(|_| malformed())?;
        let decoding = jsonwebtoken::DecodingKey::from_jwk(&public).map_err(|_| malformed())?;
        Ok(SigningKey {
            kid,
            jwk,
            encoding: jsonwebtoken::EncodingKey::from_ec_der(der.as_bytes()),
            decoding,
        })
    }

    /// The key id (the RFC 7638 thumbprint of the public key).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The JWKS document with the public key.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk.clone()] })
    }

    /// Signs `claims` as a compact ES256 JWT.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        header.typ = Some("JWT".to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|err| KeyError::Sign(err.to_string()))
    }
}

impl SigningKey {
    /// The claims of a JWT this key signed for `issuer` (ES256 only), expired or not
    /// (an `id_token_hint` may be expired); `None` for anything else.
    pub fn verify_own(&self, token: &str, issuer: &str) -> Option<serde_json::Map<String, Value>> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.alg != jsonwebtoken::Algorithm::ES256 || header.kid.as_deref() != Some(&self.kid)
        {
            return None;
        }
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        validation.set_issuer(&[issuer]);
        let data = jsonwebtoken::decode::<serde_json::Map<String, Value>>(
            token,
            &self.decoding,
            &validation,
        )
        .ok()?;
        Some(data.claims)
    }
}

fn coordinates(key: &VerifyingKey) -> (String, String) {
    let point = key.to_encoded_point(false);
    let encode = |part: Option<&p256::FieldBytes>| {
        part.map(|bytes| URL_SAFE_NO_PAD.encode(bytes))
            .unwrap_or_default()
    };
    (encode(point.x()), encode(point.y()))
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

/// `at_hash`: the left half of SHA-256 of the access token, base64url (OIDC Core 3.1.3.6).
pub fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.get(..16).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_persists_and_signs_verifiable_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("oidc.pem");
        let first = SigningKey::load_or_create(&path).unwrap();
        let again = SigningKey::load_or_create(&path).unwrap();
        assert_eq!(first.kid(), again.kid());
        assert_eq!(first.jwks(), again.jwks());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert!(!format!("{first:?}").contains("PRIVATE"));

        let token = first.sign(&json!({"sub": "ada", "aud": "c"})).unwrap();
        let jwk: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(first.jwks()["keys"][0].clone()).unwrap();
        let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.set_audience(&["c"]);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        let data = jsonwebtoken::decode::<Value>(&token, &key, &validation).unwrap();
        assert_eq!(data.claims["sub"], "ada");
        assert_eq!(data.header.kid.as_deref(), Some(first.kid()));

        let own = first
            .sign(&json!({"sub": "ada", "aud": "c", "iss": "https://hub"}))
            .unwrap();
        assert_eq!(first.verify_own(&own, "https://hub").unwrap()["sub"], "ada");
        assert!(first.verify_own(&own, "https://other").is_none());
        let stranger = SigningKey::generate().unwrap();
        let foreign = stranger
            .sign(&json!({"sub": "ada", "iss": "https://hub"}))
            .unwrap();
        assert!(first.verify_own(&foreign, "https://hub").is_none());
        assert!(first.verify_own("a.b.c", "https://hub").is_none());
    }

    #[test]
    fn open_or_broken_key_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("oidc.pem");
        SigningKey::load_or_create(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(
                SigningKey::load_or_create(&path),
                Err(KeyError::TooOpen { .. })
            ));
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        std::fs::write(&path, "not a key").unwrap();
        assert!(matches!(
            SigningKey::load_or_create(&path),
            Err(KeyError::Malformed { .. })
        ));
    }
}
