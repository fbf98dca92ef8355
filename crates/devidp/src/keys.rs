//! Signing keys: P-256 ECDSA (ES256), published as a JWKS, rotatable.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use rand::rngs::OsRng;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// One signing key and its key id (the RFC 7638 thumbprint of its public JWK).
pub(crate) struct Key {
    pub kid: String,
    pub signing: SigningKey,
}

impl Key {
    /// A fresh random key.
    pub(crate) fn generate() -> Key {
        let signing = SigningKey::random(&mut OsRng);
        let kid = thumbprint(signing.verifying_key());
        Key { kid, signing }
    }

    /// A fresh random key that claims another key's id (for bad-signature tests).
    pub(crate) fn impostor(kid: &str) -> Key {
        Key {
            kid: kid.to_owned(),
            signing: SigningKey::random(&mut OsRng),
        }
    }

    /// The public key as a JWK.
    pub(crate) fn public_jwk(&self) -> Value {
        let (x, y) = coordinates(self.signing.verifying_key());
        json!({
            "kty": "EC",
            "crv": "P-256",
            "x": x,
            "y": y,
            "kid": self.kid,
            "alg": "ES256",
            "use": "sig",
        })
    }

    /// An ES256 signature (r || s, 64 bytes) over `message`.
    pub(crate) fn sign(&self, message: &[u8]) -> Option<Vec<u8>> {
        let signature: Signature = self.signing.try_sign(message).ok()?;
        Some(signature.to_bytes().to_vec())
    }

    /// Whether `signature` (r || s) is this key's ES256 signature over `message`.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        Signature::from_slice(signature)
            .is_ok_and(|sig| self.signing.verifying_key().verify(message, &sig).is_ok())
    }

    /// The public key as a PEM `PUBLIC KEY` (SubjectPublicKeyInfo) document.
    pub(crate) fn public_pem(&self) -> Option<String> {
        use p256::pkcs8::EncodePublicKey;
        self.signing
            .verifying_key()
            .to_public_key_pem(p256::pkcs8::LineEnding::LF)
            .ok()
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

/// RFC 7638 JWK thumbprint (SHA-256, base64url).
fn thumbprint(key: &VerifyingKey) -> String {
    let (x, y) = coordinates(key);
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// The published keys; the last one signs.
pub(crate) struct KeySet {
    keys: Vec<Key>,
}

impl KeySet {
    /// One fresh key.
    pub(crate) fn generate() -> KeySet {
        KeySet {
            keys: vec![Key::generate()],
        }
    }

    /// The key that signs new tokens.
    pub(crate) fn active(&self) -> Option<&Key> {
        self.keys.last()
    }

    /// The key with this id.
    pub(crate) fn find(&self, kid: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// Adds a new key, which signs from now on; the old ones stay published.
    pub(crate) fn rotate(&mut self) -> String {
        let key = Key::generate();
        let kid = key.kid.clone();
        self.keys.push(key);
        kid
    }

    /// Stops publishing a key that no longer signs. The active key cannot be retired.
    pub(crate) fn retire(&mut self, kid: &str) -> bool {
        let active = self.active().map(|k| k.kid.clone());
        if active.as_deref() == Some(kid) {
            return false;
        }
        let before = self.keys.len();
        self.keys.retain(|k| k.kid != kid);
        self.keys.len() != before
    }

    /// The ids of the published keys, oldest first.
    pub(crate) fn kids(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.kid.clone()).collect()
    }

    /// The JWKS document.
    pub(crate) fn jwks(&self) -> Value {
        json!({ "keys": self.keys.iter().map(Key::public_jwk).collect::<Vec<_>>() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify() {
        let key = Key::generate();
        let sig = key.sign(b"hello").unwrap();
        assert_eq!(sig.len(), 64);
        assert!(key.verify(b"hello", &sig));
        assert!(!key.verify(b"hellO", &sig));
        assert!(!Key::impostor(&key.kid).verify(b"hello", &sig));
        assert!(
            key.public_pem()
                .unwrap()
                .starts_with("-----BEGIN PUBLIC KEY-----")
        );
    }

    #[test]
    fn rotation_keeps_old_keys_published() {
        let mut set = KeySet::generate();
        let first = set.kids()[0].clone();
        let second = set.rotate();
        assert_ne!(first, second);
        assert_eq!(set.active().unwrap().kid, second);
        assert_eq!(set.jwks()["keys"].as_array().unwrap().len(), 2);
        assert!(!set.retire(&second));
        assert!(set.retire(&first));
        assert_eq!(set.kids(), vec![second]);
    }
}
