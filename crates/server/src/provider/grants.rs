//! Authorization codes and refresh tokens, kept in the store's OAuth grant families
//! (`Store::create_oauth_code`, `get_oauth_grant`, `exchange_oauth_grant`).
//!
//! A grant is read without being spent, so that a request is checked in full first (a
//! refresh request that fails leaves its refresh token usable); only a request that
//! passes every check exchanges it, in one store transaction that marks it used and
//! stores the new access and refresh tokens. A used grant presented again is a replay:
//! its whole family (the code and every token descending from it) is revoked.
//!
//! Each kind is stored under the hash of a kind-specific label plus the random value, so
//! a code can never be taken as a refresh token or the reverse.

use hubauth_store::{NewOAuthGrant, OAuthGrantKind, OAuthGrantRecord, Store, StoreError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::secrets::hash_token;

/// How long an authorization code is accepted.
pub const CODE_TTL: i64 = 60;

/// The kinds of stored grant.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// An authorization code.
    Code,
    /// A refresh token.
    Refresh,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Code => "hubauth-oauth2-code",
            Kind::Refresh => "hubauth-oauth2-refresh-token",
        }
    }

    /// The store's name for the kind.
    pub fn stored(self) -> OAuthGrantKind {
        match self {
            Kind::Code => OAuthGrantKind::Code,
            Kind::Refresh => OAuthGrantKind::Refresh,
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
    /// When the user last authenticated (their session's start), for `auth_time`.
    pub auth_time: i64,
    /// Hash of the hub session the user authorized in; its logout revokes what the code
    /// issues.
    pub session: String,
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
    /// When the user last authenticated.
    pub auth_time: i64,
    /// Hash of the hub session it descends from: once that session ends (logout, expiry,
    /// revocation), the refresh token is refused.
    pub session: String,
}

/// Why a stored grant could not be stored or read back.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored JSON is not what this kind holds.
    #[error("stored OAuth grant is malformed: {0}")]
    Malformed(String),
}

/// A grant found in the store: what it stands for, and its row (family, state, expiry).
#[derive(Debug)]
pub struct Found<T> {
    /// What the grant stands for.
    pub grant: T,
    /// The stored row.
    pub record: OAuthGrantRecord,
}

fn to_json<T: Serialize>(grant: &T) -> Result<String, GrantError> {
    serde_json::to_string(grant).map_err(|err| GrantError::Malformed(err.to_string()))
}

/// Stores a new authorization code `code`, valid for [`CODE_TTL`] from `now`.
pub async fn put_code(
    store: &dyn Store,
    code: &str,
    grant: &CodeGrant,
    now: i64,
) -> Result<(), GrantError> {
    store
        .create_oauth_code(NewOAuthGrant {
            hash: key(Kind::Code, code),
            data: to_json(grant)?,
            created: now,
            expires: now.saturating_add(CODE_TTL),
        })
        .await?;
    Ok(())
}

/// The new refresh token `value` standing for `grant`, valid until `expires`.
pub fn new_refresh(
    value: &str,
    grant: &RefreshGrant,
    now: i64,
    expires: i64,
) -> Result<NewOAuthGrant, GrantError> {
    Ok(NewOAuthGrant {
        hash: key(Kind::Refresh, value),
        data: to_json(grant)?,
        created: now,
        expires,
    })
}

/// The grant of this kind whose value is `value`, in whatever state; `None` when there
/// is none. Nothing is changed.
pub async fn find<T: DeserializeOwned>(
    store: &dyn Store,
    kind: Kind,
    value: &str,
) -> Result<Option<Found<T>>, GrantError> {
    let Some(record) = store.get_oauth_grant(&key(kind, value)).await? else {
        return Ok(None);
    };
    if record.kind != kind.stored() {
        return Ok(None);
    }
    let grant =
        serde_json::from_str(&record.data).map_err(|err| GrantError::Malformed(err.to_string()))?;
    Ok(Some(Found { grant, record }))
}
