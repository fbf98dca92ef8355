//! The published signing keys: P-256 ECDSA (ES256) keys of `hubauth-provider`, the same
//! key code the hub's own provider signs with, published as a JWKS and rotatable.

use hubauth_provider::{EcKey, KeyError};
use serde_json::{Value, json};

/// The published keys; the last one signs.
pub(crate) struct KeySet {
    keys: Vec<EcKey>,
}

impl KeySet {
    /// One fresh key.
    pub(crate) fn generate() -> Result<KeySet, KeyError> {
        Ok(KeySet {
            keys: vec![EcKey::generate()?],
        })
    }

    /// The key that signs new tokens.
    pub(crate) fn active(&self) -> Option<&EcKey> {
        self.keys.last()
    }

    /// The key with this id.
    pub(crate) fn find(&self, kid: &str) -> Option<&EcKey> {
        self.keys.iter().find(|k| k.kid() == kid)
    }

    /// Adds a new key, which signs from now on; the old ones stay published.
    pub(crate) fn rotate(&mut self) -> Result<String, KeyError> {
        let key = EcKey::generate()?;
        let kid = key.kid().to_owned();
        self.keys.push(key);
        Ok(kid)
    }

    /// Stops publishing a key that no longer signs. The active key cannot be retired.
    pub(crate) fn retire(&mut self, kid: &str) -> bool {
        if self.active().is_some_and(|k| k.kid() == kid) {
            return false;
        }
        let before = self.keys.len();
        self.keys.retain(|k| k.kid() != kid);
        self.keys.len() != before
    }

    /// The ids of the published keys, oldest first.
    pub(crate) fn kids(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.kid().to_owned()).collect()
    }

    /// The JWKS document.
    pub(crate) fn jwks(&self) -> Value {
        json!({ "keys": self.keys.iter().map(EcKey::public_jwk).collect::<Vec<_>>() })
    }
}

/// A fresh key that claims another key's id (for bad-signature tests).
pub(crate) fn impostor(kid: &str) -> Result<EcKey, KeyError> {
    Ok(EcKey::generate()?.with_kid(kid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_old_keys_published() {
        let mut set = KeySet::generate().unwrap();
        let first = set.kids()[0].clone();
        let second = set.rotate().unwrap();
        assert_ne!(first, second);
        assert_eq!(set.active().unwrap().kid(), second);
        assert_eq!(set.jwks()["keys"].as_array().unwrap().len(), 2);
        assert!(!set.retire(&second));
        assert!(set.retire(&first));
        assert_eq!(set.kids(), vec![second]);
    }

    #[test]
    fn an_impostor_claims_the_id_but_not_the_signature() {
        let set = KeySet::generate().unwrap();
        let key = set.active().unwrap();
        let sig = key.sign(b"hello").unwrap();
        let fake = impostor(key.kid()).unwrap();
        assert_eq!(fake.kid(), key.kid());
        assert!(!fake.verify(b"hello", &sig));
    }
}
