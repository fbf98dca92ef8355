//! The ID token signing keys: an RSA-2048 key (RS256, which OpenID Connect makes
//! mandatory to implement and the default for clients that registered no algorithm) and
//! a P-256 key (ES256). Each is generated at first start and kept in its own PKCS#8 PEM
//! file with mode 600; both are published in the JWKS.

use std::fmt;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::{SigningKey as P256Key, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The size of a generated RSA key, and the smallest one accepted from a file.
pub const RSA_BITS: usize = 2048;

/// Why a signing key could not be loaded or used.
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
    /// Signing failed (a bug or a broken key).
    #[error("signing an ID token failed: {0}")]
    Sign(String),
}

/// The algorithm an ID token is signed with, chosen per client
/// (`oauth_id_token_signed_response_alg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdTokenAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256: what OpenID Connect requires every provider to
    /// offer, and the default for a client that registered no algorithm.
    #[default]
    Rs256,
    /// ECDSA P-256 with SHA-256.
    Es256,
}

impl IdTokenAlg {
    /// The JOSE name (`RS256`, `ES256`).
    pub fn name(self) -> &'static str {
        match self {
            IdTokenAlg::Rs256 => "RS256",
            IdTokenAlg::Es256 => "ES256",
        }
    }

    /// The algorithm with this JOSE name, exactly; `None` for any other.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(IdTokenAlg::Rs256),
            "ES256" => Some(IdTokenAlg::Es256),
            _ => None,
        }
    }

    fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            IdTokenAlg::Rs256 => jsonwebtoken::Algorithm::RS256,
            IdTokenAlg::Es256 => jsonwebtoken::Algorithm::ES256,
        }
    }
}

/// The algorithms discovery announces, RS256 first.
pub const ID_TOKEN_ALGS: &[IdTokenAlg] = &[IdTokenAlg::Rs256, IdTokenAlg::Es256];

/// One key: its public JWK and what signs and verifies with it.
struct KeyPair {
    alg: IdTokenAlg,
    kid: String,
    jwk: Value,
    encoding: jsonwebtoken::EncodingKey,
    decoding: jsonwebtoken::DecodingKey,
}

impl KeyPair {
    /// The pair for a public JWK (without `kid`, `alg` and `use`, whose members make the
    /// RFC 7638 thumbprint, which becomes the `kid`) and the private key.
    fn new(
        alg: IdTokenAlg,
        mut jwk: serde_json::Map<String, Value>,
        encoding: jsonwebtoken::EncodingKey,
        malformed: impl Fn() -> KeyError,
    ) -> Result<KeyPair, KeyError> {
        // The map keeps insertion order; callers insert the members in lexicographic
        // order, as the thumbprint requires.
        let canonical = serde_json::to_string(&jwk).map_err(|_| malformed())?;
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
        jwk.insert("kid".into(), json!(kid));
        jwk.insert("alg".into(), json!(alg.name()));
        jwk.insert("use".into(), json!("sig"));
        let jwk = Value::Object(jwk);
        let public: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(jwk.clone()).map_err(|_| malformed())?;
        let decoding = jsonwebtoken::DecodingKey::from_jwk(&public).map_err(|_| malformed())?;
        Ok(KeyPair {
            alg,
            kid,
            jwk,
            encoding,
            decoding,
        })
    }
}

/// The hub's ID token signing keys, one per algorithm.
pub struct SigningKeys {
    rsa: KeyPair,
    ec: KeyPair,
}

impl fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeys")
            .field("rs256_kid", &self.rsa.kid)
            .field("es256_kid", &self.ec.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKeys {
    /// Loads the keys from their files, or makes each missing one there (mode 600).
    pub fn load_or_create(ec_path: &Path, rsa_path: &Path) -> Result<SigningKeys, KeyError> {
        let ec = load_or_create(ec_path, EC_KIND)?;
        let rsa = load_or_create(rsa_path, RSA_KIND)?;
        Ok(SigningKeys { rsa, ec })
    }

    /// Fresh keys that live only in memory (tests).
    pub fn generate() -> Result<SigningKeys, KeyError> {
        let (_, ec) = (EC_KIND.generate)("memory")?;
        let (_, rsa) = (RSA_KIND.generate)("memory")?;
        Ok(SigningKeys { rsa, ec })
    }

    fn pair(&self, alg: IdTokenAlg) -> &KeyPair {
        match alg {
            IdTokenAlg::Rs256 => &self.rsa,
            IdTokenAlg::Es256 => &self.ec,
        }
    }

    /// The key id of the key for `alg` (the RFC 7638 thumbprint of its public key).
    pub fn kid(&self, alg: IdTokenAlg) -> &str {
        &self.pair(alg).kid
    }

    /// The JWKS document with both public keys.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.rsa.jwk.clone(), self.ec.jwk.clone()] })
    }

    /// Signs `claims` as a compact JWT with the key for `alg`.
    pub fn sign<T: Serialize>(&self, alg: IdTokenAlg, claims: &T) -> Result<String, KeyError> {
        let pair = self.pair(alg);
        let mut header = jsonwebtoken::Header::new(alg.jwt());
        header.kid = Some(pair.kid.clone());
        header.typ = Some("JWT".to_owned());
        jsonwebtoken::encode(&header, claims, &pair.encoding)
            .map_err(|err| KeyError::Sign(err.to_string()))
    }

    /// The claims of a JWT one of these keys signed for `issuer`, expired or not (an
    /// `id_token_hint` may be expired); `None` for anything else. The header's `alg` and
    /// `kid` must both name the same key of ours.
    pub fn verify_own(&self, token: &str, issuer: &str) -> Option<serde_json::Map<String, Value>> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        let pair = [&self.rsa, &self.ec]
            .into_iter()
            .find(|pair| header.alg == pair.alg.jwt())?;
        if header.kid.as_deref() != Some(pair.kid.as_str()) {
            return None;
        }
        let mut validation = jsonwebtoken::Validation::new(pair.alg.jwt());
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        validation.set_issuer(&[issuer]);
        let data = jsonwebtoken::decode::<serde_json::Map<String, Value>>(
            token,
            &pair.decoding,
            &validation,
        )
        .ok()?;
        Some(data.claims)
    }
}

/// How one kind of key is read, made and written.
struct KeyKind {
    /// What the file holds, for errors.
    expected: &'static str,
    /// The pair for a PKCS#8 PEM file's contents.
    parse: fn(&str, &str) -> Result<KeyPair, KeyError>,
    /// A new key: its PKCS#8 PEM and the pair.
    generate: fn(&str) -> Result<(String, KeyPair), KeyError>,
}

const EC_KIND: KeyKind = KeyKind {
    expected: "P-256",
    parse: parse_ec,
    generate: generate_ec,
};

const RSA_KIND: KeyKind = KeyKind {
    expected: "RSA (2048 bits or more)",
    parse: parse_rsa,
    generate: generate_rsa,
};

fn load_or_create(path: &Path, kind: KeyKind) -> Result<KeyPair, KeyError> {
    let shown = path.display().to_string();
    let io = |source| KeyError::Io {
        path: shown.clone(),
        source,
    };
    match std::fs::metadata(path) {
        Ok(meta) => {
            check_mode(&meta, &shown)?;
            let pem = std::fs::read_to_string(path).map_err(io)?;
            (kind.parse)(&pem, &shown)
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let (pem, pair) = (kind.generate)(&shown)?;
            crate::secrets::write_private(path, pem.as_bytes()).map_err(io)?;
            tracing::info!(path = %shown, kid = %pair.kid, alg = pair.alg.name(), "wrote a new OpenID signing key");
            Ok(pair)
        }
        Err(source) => Err(io(source)),
    }
}

fn parse_ec(pem: &str, shown: &str) -> Result<KeyPair, KeyError> {
    let key = P256Key::from_pkcs8_pem(pem).map_err(|_| malformed(shown, EC_KIND.expected))?;
    ec_pair(&key, shown)
}

fn generate_ec(shown: &str) -> Result<(String, KeyPair), KeyError> {
    let key = P256Key::random(&mut rand::rngs::OsRng);
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|err| KeyError::Generate(err.to_string()))?;
    Ok((pem.as_str().to_owned(), ec_pair(&key, shown)?))
}

fn ec_pair(key: &P256Key, shown: &str) -> Result<KeyPair, KeyError> {
    let malformed = || malformed(shown, EC_KIND.expected);
    let der = key.to_pkcs8_der().map_err(|_| malformed())?;
    let (x, y) = coordinates(key.verifying_key());
    let mut jwk = serde_json::Map::new();
    jwk.insert("crv".into(), json!("P-256"));
    jwk.insert("kty".into(), json!("EC"));
    jwk.insert("x".into(), json!(x));
    jwk.insert("y".into(), json!(y));
    KeyPair::new(
        IdTokenAlg::Es256,
        jwk,
        jsonwebtoken::EncodingKey::from_ec_der(der.as_bytes()),
        malformed,
    )
}

fn parse_rsa(pem: &str, shown: &str) -> Result<KeyPair, KeyError> {
    let malformed = || malformed(shown, RSA_KIND.expected);
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem).map_err(|_| malformed())?;
    // A short modulus is refused, not used: it would make every ID token forgeable.
    if key.size() * 8 < RSA_BITS || key.validate().is_err() {
        return Err(malformed());
    }
    rsa_pair(&key, shown)
}

fn generate_rsa(shown: &str) -> Result<(String, KeyPair), KeyError> {
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, RSA_BITS)
        .map_err(|err| KeyError::Generate(err.to_string()))?;
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|err| KeyError::Generate(err.to_string()))?;
    Ok((pem.as_str().to_owned(), rsa_pair(&key, shown)?))
}

fn rsa_pair(key: &rsa::RsaPrivateKey, shown: &str) -> Result<KeyPair, KeyError> {
    let malformed = || malformed(shown, RSA_KIND.expected);
    // jsonwebtoken signs with a PKCS#1 DER private key.
    let der = key.to_pkcs1_der().map_err(|_| malformed())?;
    let mut jwk = serde_json::Map::new();
    jwk.insert(
        "e".into(),
        json!(URL_SAFE_NO_PAD.encode(key.e().to_bytes_be())),
    );
    jwk.insert("kty".into(), json!("RSA"));
    jwk.insert(
        "n".into(),
        json!(URL_SAFE_NO_PAD.encode(key.n().to_bytes_be())),
    );
    KeyPair::new(
        IdTokenAlg::Rs256,
        jwk,
        jsonwebtoken::EncodingKey::from_rsa_der(der.as_bytes()),
        malformed,
    )
}

fn malformed(shown: &str, expected: &'static str) -> KeyError {
    KeyError::Malformed {
        path: shown.to_owned(),
        expected,
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

/// `at_hash`: the left half of SHA-256 of the access token, base64url (OIDC Core
/// 3.1.3.6). Both RS256 and ES256 hash with SHA-256, so it is the same for either.
pub fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.get(..16).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(keys: &SigningKeys, alg: IdTokenAlg, token: &str) -> Value {
        let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_value(keys.jwks()).unwrap();
        let header = jsonwebtoken::decode_header(token).unwrap();
        assert_eq!(header.alg, alg.jwt());
        let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
        let mut validation = jsonwebtoken::Validation::new(alg.jwt());
        validation.set_audience(&["c"]);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        jsonwebtoken::decode::<Value>(token, &key, &validation)
            .unwrap()
            .claims
    }

    #[test]
    fn keys_persist_and_sign_verifiable_tokens_with_both_algorithms() {
        let dir = tempfile::tempdir().unwrap();
        let ec_path = dir.path().join("oidc.pem");
        let rsa_path = dir.path().join("oidc-rsa.pem");
        let first = SigningKeys::load_or_create(&ec_path, &rsa_path).unwrap();
        let again = SigningKeys::load_or_create(&ec_path, &rsa_path).unwrap();
        assert_eq!(first.jwks(), again.jwks());
        assert_ne!(first.kid(IdTokenAlg::Rs256), first.kid(IdTokenAlg::Es256));
        #[cfg(unix)]
        for path in [&ec_path, &rsa_path] {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert!(!format!("{first:?}").contains("PRIVATE"));
        let jwks = first.jwks();
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 2);
        for (key, alg, kty) in [(&keys[0], "RS256", "RSA"), (&keys[1], "ES256", "EC")] {
            assert_eq!(
                (key["alg"].as_str(), key["kty"].as_str()),
                (Some(alg), Some(kty))
            );
            assert_eq!(key["use"], "sig");
            assert!(
                key.get("d").is_none() && key.get("p").is_none(),
                "public only"
            );
        }

        for alg in ID_TOKEN_ALGS {
            let token = first
                .sign(*alg, &json!({"sub": "ada", "aud": "c"}))
                .unwrap();
            assert_eq!(decode(&again, *alg, &token)["sub"], "ada");
            let own = first
                .sign(
                    *alg,
                    &json!({"sub": "ada", "aud": "c", "iss": "https://hub"}),
                )
                .unwrap();
            assert_eq!(first.verify_own(&own, "https://hub").unwrap()["sub"], "ada");
            assert!(first.verify_own(&own, "https://other").is_none());
        }
        let stranger = SigningKeys::generate().unwrap();
        for alg in ID_TOKEN_ALGS {
            let foreign = stranger
                .sign(*alg, &json!({"sub": "ada", "iss": "https://hub"}))
                .unwrap();
            assert!(first.verify_own(&foreign, "https://hub").is_none());
        }
        assert!(first.verify_own("a.b.c", "https://hub").is_none());
    }

    #[test]
    fn open_broken_or_weak_key_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ec_path = dir.path().join("oidc.pem");
        let rsa_path = dir.path().join("oidc-rsa.pem");
        SigningKeys::load_or_create(&ec_path, &rsa_path).unwrap();
        #[cfg(unix)]
        for path in [&ec_path, &rsa_path] {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(
                SigningKeys::load_or_create(&ec_path, &rsa_path),
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
                SigningKeys::load_or_create(&ec_path, &rsa_path),
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
        let err = SigningKeys::load_or_create(&ec_path, &rsa_path).unwrap_err();
        assert!(err.to_string().contains("2048"), "{err}");
    }

    #[test]
    fn id_token_algorithm_names_are_exact() {
        assert_eq!(IdTokenAlg::parse("RS256"), Some(IdTokenAlg::Rs256));
        assert_eq!(IdTokenAlg::parse("ES256"), Some(IdTokenAlg::Es256));
        for other in ["rs256", "none", "HS256", "RS256 ", "PS256", ""] {
            assert_eq!(IdTokenAlg::parse(other), None, "{other}");
        }
        assert_eq!(IdTokenAlg::default(), IdTokenAlg::Rs256);
    }
}
