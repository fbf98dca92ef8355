//! Authorization codes and refresh tokens: what each stands for, how it is keyed in the
//! store, and reading one back.
//!
//! A grant is read without being spent, so that a request is checked in full first (a
//! refresh request that fails leaves its refresh token usable); only a request that
//! passes every check exchanges it ([`GrantStore::exchange`]), in one transaction that
//! marks it used and stores the new tokens. A used grant presented again is a replay:
//! its whole family (the code and every token descending from it) is revoked.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ProviderError;
use crate::store::{GrantKind, GrantStore, NewGrant, StoredGrant};

/// How long an authorization code is accepted, in seconds.
pub const CODE_TTL: i64 = 60;

impl GrantKind {
    fn label(self) -> &'static str {
        match self {
            GrantKind::Code => "hubauth-oauth2-code",
            GrantKind::Refresh => "hubauth-oauth2-refresh-token",
        }
    }

    /// What it is called in logs.
    pub(crate) fn described(self) -> &'static str {
        match self {
            GrantKind::Code => "an authorization code",
            GrantKind::Refresh => "a refresh token",
        }
    }
}

/// The storage key of a code or refresh token: SHA-256 (hex) of a kind-specific label
/// and the value.
pub fn grant_key(kind: GrantKind, value: &str) -> String {
    hex::encode(Sha256::digest(
        format!("{}\n{value}", kind.label()).as_bytes(),
    ))
}

/// A new random code or token: 32 bytes from the system's generator, base64url.
pub(crate) fn random_value() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What an authorization code stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeGrant {
    /// The client it was issued to.
    pub client_id: String,
    /// The redirect URI it was sent to.
    pub redirect_uri: String,
    /// Whether the authorization request named the redirect URI (then the token request
    /// must repeat it, RFC 6749 §4.1.3).
    pub redirect_uri_given: bool,
    /// The user who authorized.
    pub user: String,
    /// The granted scopes.
    pub scopes: Vec<String>,
    /// The OpenID Connect nonce, echoed in the ID token.
    pub nonce: Option<String>,
    /// The PKCE S256 challenge, when one was sent.
    pub code_challenge: Option<String>,
    /// When the user last authenticated (their session's start), for `auth_time`.
    pub auth_time: i64,
    /// The hub session the user authorized in; its end revokes what the code issues.
    pub session: String,
}

/// What a refresh token stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshGrant {
    /// The client it was issued to.
    pub client_id: String,
    /// The user.
    pub user: String,
    /// The granted scopes.
    pub scopes: Vec<String>,
    /// When the user last authenticated.
    pub auth_time: i64,
    /// The hub session it descends from: once that session ends, it is refused.
    pub session: String,
}

/// What the grant of a kind stands for.
pub(crate) trait Grant: Serialize + DeserializeOwned {
    const KIND: GrantKind;
    fn user(&self) -> &str;
}

impl Grant for CodeGrant {
    const KIND: GrantKind = GrantKind::Code;
    fn user(&self) -> &str {
        &self.user
    }
}

impl Grant for RefreshGrant {
    const KIND: GrantKind = GrantKind::Refresh;
    fn user(&self) -> &str {
        &self.user
    }
}

/// A grant found in the store: what it stands for, and its row.
#[derive(Debug)]
pub(crate) struct Found<T> {
    pub(crate) grant: T,
    pub(crate) stored: StoredGrant,
}

/// The grant for storing `value` as what `grant` stands for, from `now` until `expires`.
pub(crate) fn new_grant<T: Grant>(
    value: &str,
    grant: &T,
    now: i64,
    expires: i64,
) -> Result<NewGrant, ProviderError> {
    Ok(NewGrant {
        key: grant_key(T::KIND, value),
        data: serde_json::to_string(grant)
            .map_err(|err| ProviderError::MalformedGrant(err.to_string()))?,
        created: now,
        expires,
    })
}

/// The grant of `T`'s kind whose value is `value`, in whatever state; `None` when there
/// is none. Nothing is changed.
pub(crate) async fn find<T: Grant, S: GrantStore + ?Sized>(
    store: &S,
    value: &str,
) -> Result<Option<Found<T>>, ProviderError> {
    let Some(stored) = store.find_grant(&grant_key(T::KIND, value)).await? else {
        return Ok(None);
    };
    if stored.kind != T::KIND {
        return Ok(None);
    }
    let grant = serde_json::from_str(&stored.data)
        .map_err(|err| ProviderError::MalformedGrant(err.to_string()))?;
    Ok(Some(Found { grant, stored }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_by_kind_and_are_sha256_hex() {
        let code = grant_key(GrantKind::Code, "v");
        assert_eq!(code.len(), 64);
        assert_ne!(code, grant_key(GrantKind::Refresh, "v"));
        assert_eq!(code, hex::encode(Sha256::digest(b"hubauth-oauth2-code\nv")));
    }

    #[test]
    fn random_values_are_32_bytes() {
        let value = random_value();
        assert_eq!(value.len(), 43);
        assert_ne!(value, random_value());
    }
}
