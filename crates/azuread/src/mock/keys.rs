//! The mock's RS256 signing keys (one real, one an attacker's with the same `kid`).

use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use sha2::Digest;

use super::MockError;

/// The signing keys: Azure signs ID tokens with RS256 and 2048-bit RSA keys.
pub struct MockKeys {
    /// The key id published in the JWKS and put in token headers.
    pub kid: String,
    /// The published public key as a JWK.
    pub jwk: Value,
    signing: EncodingKey,
    attacker: EncodingKey,
}

impl std::fmt::Debug for MockKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockKeys")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

static KEYS: OnceLock<Result<Arc<MockKeys>, String>> = OnceLock::new();

/// The process's keys, generated once (RSA generation takes a moment).
pub(super) async fn shared_keys() -> Result<Arc<MockKeys>, MockError> {
    let made = tokio::task::spawn_blocking(|| KEYS.get_or_init(generate).clone())
        .await
        .map_err(|err| MockError::Keys(err.to_string()))?;
    made.map_err(MockError::Keys)
}

fn rsa_key() -> Result<(rsa::RsaPrivateKey, EncodingKey), String> {
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).map_err(|e| e.to_string())?;
    let der = key.to_pkcs1_der().map_err(|e| e.to_string())?;
    let encoding = EncodingKey::from_rsa_der(der.as_bytes());
    Ok((key, encoding))
}

fn generate() -> Result<Arc<MockKeys>, String> {
    let (key, signing) = rsa_key()?;
    let (_, attacker) = rsa_key()?;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let n = key.n().to_bytes_be();
    let e = key.e().to_bytes_be();
    // Azure's kids look like a base64url SHA-1 thumbprint (27 characters).
    let digest = sha2::Sha256::digest(&n);
    let kid: String = b64(&digest).chars().take(27).collect();
    let jwk = json!({
        "kty": "RSA",
        "use": "sig",
        "kid": kid,
        "x5t": kid,
        "n": b64(&n),
        "e": b64(&e),
    });
    Ok(Arc::new(MockKeys {
        kid,
        jwk,
        signing,
        attacker,
    }))
}

impl MockKeys {
    /// Signs claims with RS256 (with the attacker's key when `forged`).
    pub fn sign(&self, claims: &Value, forged: bool) -> Result<String, String> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        header.typ = Some("JWT".to_owned());
        let key = if forged {
            &self.attacker
        } else {
            &self.signing
        };
        jsonwebtoken::encode(&header, claims, key).map_err(|e| e.to_string())
    }

    /// An unsigned token (`alg: none`).
    pub fn unsigned(&self, claims: &Value) -> String {
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let header = json!({"typ": "JWT", "alg": "none"}).to_string();
        format!(
            "{}.{}.",
            b64(header.as_bytes()),
            b64(claims.to_string().as_bytes())
        )
    }
}

/// A random URL-safe token of `len` random bytes.
pub(super) fn random_token(len: usize) -> String {
    use rand::RngCore;
    let mut bytes = vec![0u8; len];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A stable GUID-shaped id derived from `seed`.
pub(super) fn guid_from(seed: &str) -> String {
    let hex: String = sha2::Sha256::digest(seed.as_bytes())
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// base64url(SHA-256(text)) without padding, for PKCE and pairwise subjects.
pub(super) fn s256(text: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(text.as_bytes()))
}
