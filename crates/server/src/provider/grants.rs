//! Authorization codes and refresh tokens, kept in the store's single-use pending-login
//! table (`put_login_state`/`take_login_state`): taking a record removes it in one
//! atomic step, which is exactly what single-use codes and rotating refresh tokens need.
//!
//! Each kind is stored under the hash of a kind-specific label plus the random value, so
//! a code can never be taken as a refresh token, an OAuth login state or the reverse.

use hubauth_store::{NewLoginState, Store, StoreError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::secrets::hash_token;

/// How long an authorization code is accepted.
pub const CODE_TTL: i64 = 60;
/// How long the hub remembers a redeemed code, to revoke what it issued if the code is
/// presented again (RFC 6749 §4.1.2).
pub const REDEEMED_TTL: i64 = 24 * 3600;

/// The kinds of stored grant.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// An authorization code, until it is redeemed.
    Code,
    /// A redeemed code: what it issued.
    Redeemed,
    /// A refresh token.
    Refresh,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Code => "hubauth-oauth2-code",
            Kind::Redeemed => "hubauth-oauth2-redeemed-code",
            Kind::Refresh => "hubauth-oauth2-refresh-token",
        }
    }
}

/// The store key of a value of this kind.
pub fn key(kind: Kind, value: &str) -> String {
    hash_token(&format!("{}\n{value}", kind.label()))
}

/// What an authorization code stands for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeGrant {
    /// The client it was issued to.
    pub client_id: String,
    /// The redirect URI it was sent to.
    pub redirect_uri: String,
    /// Whether the authorize request named the redirect URI (then the token request must
    /// repeat it).
    pub redirect_uri_given: bool,
    /// The user who authorized.
    pub user: String,
    /// The granted scopes.
    pub scopes: Vec<String>,
    /// The OpenID Connect nonce, echoed in the ID token.
    pub nonce: Option<String>,
    /// The PKCE S256 challenge, when one was sent.
    pub code_challenge: Option<String>,
    /// When the user logged in (the session's start), for `auth_time`.
    pub auth_time: i64,
    /// Hash of the hub session the user authorized in; its logout revokes what the code
    /// issues.
    pub session: String,
}

/// What a redeemed code issued.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Redeemed {
    /// The user the tokens belong to.
    pub user: String,
    /// Ids of the API tokens issued.
    pub token_ids: Vec<i64>,
    /// Store key of the refresh token issued.
    pub refresh_key: Option<String>,
}

/// What a refresh token stands for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshGrant {
    /// The client it was issued to.
    pub client_id: String,
    /// The user.
    pub user: String,
    /// The granted scopes.
    pub scopes: Vec<String>,
    /// When the user logged in.
    pub auth_time: i64,
    /// Id of the access token issued with it (revoked if the grant is found compromised).
    pub token_id: i64,
    /// Hash of the hub session it descends from: once that session ends (logout, expiry,
    /// revocation), the refresh token is refused.
    pub session: String,
    /// Store key of the [`Redeemed`] record of the code this token descends from, so that
    /// a replay of the code also revokes what refreshing issued.
    #[serde(default)]
    pub family: Option<String>,
}

/// Why a stored grant could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored JSON is not what this kind holds.
    #[error("stored OAuth grant is malformed: {0}")]
    Malformed(String),
}

/// Stores a grant under `key` until `expires`.
pub async fn put<T: Serialize>(
    store: &dyn Store,
    key: String,
    grant: &T,
    now: i64,
    expires: i64,
) -> Result<(), GrantError> {
    let data =
        serde_json::to_string(grant).map_err(|err| GrantError::Malformed(err.to_string()))?;
    store
        .put_login_state(NewLoginState {
            state_hash: key,
            data,
            created: now,
            expires,
        })
        .await?;
    Ok(())
}

/// A grant taken from the store (removed in the same step) with whether it is still
/// valid at `now`; `None` when there is none under `key`.
pub async fn take<T: DeserializeOwned>(
    store: &dyn Store,
    key: &str,
    now: i64,
) -> Result<Option<(T, bool)>, GrantError> {
    let Some(record) = store.take_login_state(key).await? else {
        return Ok(None);
    };
    let valid = record.is_valid_at(now);
    let grant =
        serde_json::from_str(&record.data).map_err(|err| GrantError::Malformed(err.to_string()))?;
    Ok(Some((grant, valid)))
}
