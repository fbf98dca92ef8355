//! auth_state encryption, compatible with JupyterHub's `CryptKeeper`.
//!
//! Keys come from `JUPYTERHUB_CRYPT_KEY` (or configuration): a `;`-separated
//! list of 32-byte keys, each written as URL-safe or standard base64 (44
//! characters), hex (64 characters), or 32 raw ASCII characters. Data is
//! encrypted as a Fernet token with the first key and decrypted by trying every
//! key in order, exactly like Python's `cryptography.fernet.MultiFernet`, so
//! auth_state stored by JupyterHub can be read here and the other way round.
//!
//! Unlike upstream, each key is trimmed, so `"k1; k2"` works.

use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// A time far in the future, passed as "now" when decrypting: no TTL is
/// applied to auth_state, and this also switches off the token's clock-skew
/// check (as Python's `Fernet.decrypt` does without a TTL), without reading the
/// clock. Half of `u64::MAX` so the crate's `now + skew` cannot overflow.
const NO_TIME_CHECK: u64 = u64::MAX / 2;

/// Everything that can go wrong in key parsing, encryption or decryption.
/// Messages never contain key material or plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptError {
    /// No encryption key is configured, so auth_state can be neither encrypted
    /// nor decrypted.
    #[error(
        "Encryption is not available: no encryption keys are configured \
         (set JUPYTERHUB_CRYPT_KEY, e.g. to the output of `openssl rand -hex 32`)."
    )]
    NoKeys,

    /// A configured key is not 32 bytes, hex or base64-encoded, so the key list
    /// cannot be used.
    #[error(
        "Encryption keys must be 32 bytes, hex or base64-encoded. \
         (Key number {index} in the list is not.)"
    )]
    BadKey {
        /// 1-based position of the bad key among the non-blank `;`-separated entries.
        index: usize,
    },

    /// No configured key decrypts the token: it was made with another key, or
    /// it is corrupt or tampered with.
    #[error(
        "The encrypted data could not be decrypted with any configured key \
         (it was encrypted with a different key, or it is corrupt)."
    )]
    Undecryptable,

    /// The decrypted data is not valid JSON, or a value could not be encoded
    /// as JSON.
    #[error("The decrypted data is not valid JSON ({detail}).")]
    BadJson {
        /// Where parsing failed (never the data itself).
        detail: String,
    },
}

/// A decrypted JSON value.
#[derive(Clone, PartialEq)]
pub struct Decrypted {
    /// The decrypted JSON document.
    pub value: serde_json::Value,
    /// True when a key other than the first decrypted it: the caller should
    /// re-encrypt the value (with the first key) and store it again.
    pub rotated_key: bool,
}

impl fmt::Debug for Decrypted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decrypted")
            .field("value", &"[redacted]")
            .field("rotated_key", &self.rotated_key)
            .finish()
    }
}

/// Encrypts and decrypts auth_state with the configured Fernet keys.
#[derive(Clone, Default)]
pub struct CryptKeeper {
    keys: Vec<fernet::Fernet>,
}

impl fmt::Debug for CryptKeeper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CryptKeeper")
            .field("keys", &format_args!("[{} redacted]", self.keys.len()))
            .finish()
    }
}

/// Base64 decoding as lenient as Python's `base64.urlsafe_b64decode` about
/// padding and trailing bits.
const LENIENT_URL_SAFE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Turn one (trimmed, non-empty) key entry into 32 raw bytes, like
/// JupyterHub's `CryptKeeper._validate_key`.
fn key_bytes(entry: &str) -> Option<Vec<u8>> {
    if !entry.is_ascii() {
        return None;
    }
    let bytes = match entry.len() {
        44 => {
            // urlsafe_b64decode also accepts the standard alphabet.
            let normalized: String = entry
                .chars()
                .map(|c| match c {
                    '+' => '-',
                    '/' => '_',
                    other => other,
                })
                .collect();
            LENIENT_URL_SAFE.decode(normalized).ok()?
        }
        64 => hex::decode(entry).ok()?,
        _ => entry.as_bytes().to_vec(),
    };
    (bytes.len() == 32).then_some(bytes)
}

impl CryptKeeper {
    /// A keeper with no keys: [`is_available`](Self::is_available) is false and
    /// every operation fails with [`CryptError::NoKeys`].
    pub fn empty() -> Self {
        Self::default()
    }

    /// Parse a `JUPYTERHUB_CRYPT_KEY` value: `;`-separated keys, each trimmed,
    /// blank entries skipped. An empty string gives an empty keeper.
    pub fn from_keys_str(keys: &str) -> Result<Self, CryptError> {
        let mut fernets = Vec::new();
        for (i, entry) in keys
            .split(';')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .enumerate()
        {
            let bad = CryptError::BadKey { index: i + 1 };
            let raw = key_bytes(entry).ok_or(bad.clone())?;
            let key = base64::engine::general_purpose::URL_SAFE.encode(raw);
            fernets.push(fernet::Fernet::new(&key).ok_or(bad)?);
        }
        Ok(Self { keys: fernets })
    }

    /// A new random key, as [`generate_key`].
    pub fn generate_key() -> String {
        generate_key()
    }

    /// True when at least one key is configured.
    pub fn is_available(&self) -> bool {
        !self.keys.is_empty()
    }

    /// How many keys are configured.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// Encrypt `value` as compact UTF-8 JSON into a Fernet token (its ASCII
    /// bytes), with the first key, a random IV and `now` (unix seconds) as the
    /// token's timestamp.
    pub fn encrypt_json(&self, value: &serde_json::Value, now: u64) -> Result<Vec<u8>, CryptError> {
        let first = self.keys.first().ok_or(CryptError::NoKeys)?;
        let plaintext = serde_json::to_vec(value).map_err(|e| CryptError::BadJson {
            detail: json_error_detail(&e),
        })?;
        Ok(first.encrypt_at_time(&plaintext, now).into_bytes())
    }

    /// Decrypt a Fernet token made by [`encrypt_json`](Self::encrypt_json) or by
    /// JupyterHub, trying each key in order. No TTL applies.
    pub fn decrypt_json(&self, token: &[u8]) -> Result<Decrypted, CryptError> {
        if self.keys.is_empty() {
            return Err(CryptError::NoKeys);
        }
        let token = std::str::from_utf8(token).map_err(|_| CryptError::Undecryptable)?;
        let (index, plaintext) = self
            .keys
            .iter()
            .enumerate()
            .find_map(|(i, key)| {
                key.decrypt_at_time(token.trim(), None, NO_TIME_CHECK)
                    .ok()
                    .map(|p| (i, p))
            })
            .ok_or(CryptError::Undecryptable)?;
        let value = serde_json::from_slice(&plaintext).map_err(|e| CryptError::BadJson {
            detail: json_error_detail(&e),
        })?;
        Ok(Decrypted {
            value,
            rotated_key: index > 0,
        })
    }
}

/// What [`CryptKeeper::reencrypt`] found.
#[derive(Clone, PartialEq, Eq)]
pub enum Reencrypted {
    /// The first key already decrypts the token: nothing to do.
    Current,
    /// Another key decrypted it; here it is encrypted with the first key.
    Rotated(Vec<u8>),
}

impl fmt::Debug for Reencrypted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Current => f.write_str("Current"),
            Self::Rotated(bytes) => write!(f, "Rotated([{} bytes redacted])", bytes.len()),
        }
    }
}

impl CryptKeeper {
    /// Key rotation for one stored token, like Python's `MultiFernet.rotate`:
    /// when a key other than the first decrypts it, the same plaintext is
    /// encrypted again with the first key (timestamp `now`). The plaintext is
    /// not parsed, so nothing is lost even if it is not JSON.
    /// [`CryptError::Undecryptable`] when no key decrypts it.
    pub fn reencrypt(&self, token: &[u8], now: u64) -> Result<Reencrypted, CryptError> {
        let first = self.keys.first().ok_or(CryptError::NoKeys)?;
        let token = std::str::from_utf8(token).map_err(|_| CryptError::Undecryptable)?;
        let token = token.trim();
        if first.decrypt_at_time(token, None, NO_TIME_CHECK).is_ok() {
            return Ok(Reencrypted::Current);
        }
        let plaintext = self
            .keys
            .iter()
            .skip(1)
            .find_map(|key| key.decrypt_at_time(token, None, NO_TIME_CHECK).ok())
            .ok_or(CryptError::Undecryptable)?;
        Ok(Reencrypted::Rotated(
            first.encrypt_at_time(&plaintext, now).into_bytes(),
        ))
    }
}

/// Describe a serde_json error by category and position only.
fn json_error_detail(err: &serde_json::Error) -> String {
    let kind = match err.classify() {
        serde_json::error::Category::Io => "I/O error",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected data",
        serde_json::error::Category::Eof => "unexpected end of data",
    };
    format!("{kind} at line {} column {}", err.line(), err.column())
}

/// A new random key: 32 random bytes, URL-safe base64 (44 characters), usable
/// in `JUPYTERHUB_CRYPT_KEY` here and by JupyterHub.
pub fn generate_key() -> String {
    fernet::Fernet::generate_key()
}

/// Property tests: whatever bytes sit in the auth_state column (a corrupt row, a row
/// written under another key, a tampered token), decryption answers with an error and
/// never panics; what was encrypted comes back exactly, also after a key rotation.
#[cfg(test)]
mod properties {
    use base64::Engine as _;
    use proptest::prelude::*;

    use super::{CryptError, CryptKeeper};

    fn keeper(keys: &[&str]) -> CryptKeeper {
        CryptKeeper::from_keys_str(&keys.join(";")).expect("valid test keys")
    }

    const K1: &str = "0000000000000000000000000000000000000000000000000000000000000001";
    // Fernet signs with the first half of a key and encrypts with the second: the two test
    // keys differ in both halves, as random keys do.
    const K2: &str = "2000000000000000000000000000000000000000000000000000000000000002";

    /// JSON values as auth_state holds them: nested objects of strings, numbers, lists.
    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            ".{0,40}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                prop::collection::btree_map("[a-z_]{1,12}", inner, 0..6)
                    .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_bytes_are_refused_without_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let result = keeper(&[K1]).decrypt_json(&bytes);
            prop_assert!(result.is_err());
        }

        #[test]
        fn fernet_shaped_garbage_is_refused(body in prop::collection::vec(any::<u8>(), 0..160)) {
            // A version byte and timestamp as a real token starts, then anything.
            let mut raw = vec![0x80, 0, 0, 0, 0, 0x60, 0, 0, 0];
            raw.extend(body);
            let token = base64::engine::general_purpose::URL_SAFE.encode(raw);
            prop_assert_eq!(
                keeper(&[K1]).decrypt_json(token.as_bytes()).err(),
                Some(CryptError::Undecryptable)
            );
        }

        #[test]
        fn encrypted_values_round_trip_across_rotation(value in json_value(), now in 0u64..4_000_000_000) {
            let token = keeper(&[K1]).encrypt_json(&value, now).expect("encrypts");
            let same = keeper(&[K1]).decrypt_json(&token).expect("decrypts");
            prop_assert_eq!(&same.value, &value);
            prop_assert!(!same.rotated_key);
            let rotated = keeper(&[K2, K1]).decrypt_json(&token).expect("old key still decrypts");
            prop_assert_eq!(&rotated.value, &value);
            prop_assert!(rotated.rotated_key);
            prop_assert!(keeper(&[K2]).decrypt_json(&token).is_err());
        }

        #[test]
        fn a_changed_character_is_detected(value in json_value(), at in any::<prop::sample::Index>(), to in "[A-Za-z0-9_=-]") {
            let token = keeper(&[K1]).encrypt_json(&value, 1_700_000_000).expect("encrypts");
            let mut tampered = token.clone();
            let at = at.index(tampered.len());
            tampered[at] = to.as_bytes()[0];
            match keeper(&[K1]).decrypt_json(&tampered) {
                // The only change that can pass is one the base64 decoder reads as the
                // same bytes (unused trailing bits, padding): the value is then the same.
                Ok(decrypted) => prop_assert_eq!(decrypted.value, value),
                Err(error) => prop_assert_eq!(error, CryptError::Undecryptable),
            }
        }
    }
}
