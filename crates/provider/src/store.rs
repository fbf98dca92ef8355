//! What the provider needs from the application around it, as three small traits the
//! server implements over its database: the grants (codes and refresh tokens in
//! families), the access tokens, and the accounts and sessions they act for.
//!
//! Every method is one storage operation; the protocol's decisions (which grant may be
//! used, what a replay revokes, which token a client may revoke) are taken by the
//! provider, not by the store.

use std::fmt;

use async_trait::async_trait;

use crate::error::StorageError;

/// The kinds of stored grant. Each is stored under a key derived from a kind-specific
/// label and the value, so a code can never be taken for a refresh token or the reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantKind {
    /// An authorization code: the root of a new family.
    Code,
    /// A refresh token, issued with an access token when a code or an earlier refresh
    /// token of the same family was used.
    Refresh,
}

/// Where a stored grant is in its single-use life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantState {
    /// Not used yet: it can be exchanged once, until it expires.
    Active,
    /// Exchanged once; presenting it again revokes its family.
    Used,
    /// Its family was revoked (a replay, or revocation by the client).
    Revoked,
}

/// A new grant for the store: an authorization code, or inside [`Exchange`] the next
/// refresh token of a family.
#[derive(Clone, PartialEq, Eq)]
pub struct NewGrant {
    /// The storage key (a digest of the value; the value itself is never stored).
    pub key: String,
    /// What the grant stands for, as JSON.
    pub data: String,
    /// When it was made (unix seconds).
    pub created: i64,
    /// The first second at which it is no longer accepted.
    pub expires: i64,
}

impl fmt::Debug for NewGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewGrant")
            .field("key", &"[redacted]")
            .field("created", &self.created)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

/// A grant as the store holds it.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredGrant {
    /// Code or refresh token.
    pub kind: GrantKind,
    /// Its family: every grant descending from one code shares it.
    pub family: String,
    /// Active, used or revoked.
    pub state: GrantState,
    /// What was stored with it ([`NewGrant::data`]).
    pub data: String,
    /// The first second at which it is no longer accepted.
    pub expires: i64,
}

impl fmt::Debug for StoredGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredGrant")
            .field("kind", &self.kind)
            .field("state", &self.state)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

impl StoredGrant {
    /// Whether it can still be exchanged at `now`: active and not expired.
    pub fn is_usable_at(&self, now: i64) -> bool {
        self.state == GrantState::Active && now < self.expires
    }
}

/// An access token about to be issued. The store keeps what it needs to recognise it
/// (a digest of [`NewAccessToken::token`]), never the token itself.
#[derive(Clone, PartialEq, Eq)]
pub struct NewAccessToken {
    /// The token, returned to the client once.
    pub token: String,
    /// The user it acts for.
    pub user: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The hub session its grant descends from: ending that session revokes it.
    pub session: String,
    /// The scopes it carries.
    pub scopes: Vec<String>,
    /// When it was issued (unix seconds).
    pub created: i64,
    /// The first second at which it is no longer valid.
    pub expires: i64,
}

impl fmt::Debug for NewAccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewAccessToken")
            .field("token", &"[redacted]")
            .field("user", &self.user)
            .field("client_id", &self.client_id)
            .field("scopes", &self.scopes)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

/// Using an active grant once: in one transaction it becomes used, and the access token
/// and the next refresh token of its family are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The storage key of the code or refresh token presented.
    pub key: String,
    /// What it must be.
    pub kind: GrantKind,
    /// Now: an expired grant is not exchanged.
    pub now: i64,
    /// The access token to store.
    pub access_token: NewAccessToken,
    /// The refresh token to store, in the same family.
    pub refresh: NewGrant,
}

/// What [`GrantStore::exchange`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeOutcome {
    /// The grant was active: it is used now and the new tokens are stored.
    Issued,
    /// The grant had been used or revoked before (a concurrent request won the race):
    /// the whole family is revoked now.
    Replayed {
        /// Access tokens of the family this deleted.
        revoked_tokens: u64,
    },
    /// No grant of that kind under the key, or it expired: nothing changed.
    Invalid,
}

/// An access token found by its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenRecord {
    /// The store's id of the token.
    pub id: i64,
    /// The user it acts for.
    pub user: String,
    /// The client it was issued to; `None` for a token the provider did not issue (a
    /// user's own API token).
    pub client_id: Option<String>,
    /// The scopes it carries.
    pub scopes: Vec<String>,
    /// The first second at which it is no longer valid; `None` for never.
    pub expires: Option<i64>,
}

impl AccessTokenRecord {
    /// Whether it has not expired at `now`.
    pub fn is_valid_at(&self, now: i64) -> bool {
        self.expires.is_none_or(|expires| now < expires)
    }
}

/// The user a grant or token acts for, as ID tokens and userinfo describe them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// The user name (`sub`, `name`, `preferred_username`).
    pub name: String,
    /// The user's groups.
    pub groups: Vec<String>,
    /// Whether the user is an admin.
    pub admin: bool,
}

/// Authorization codes and refresh tokens, in families.
#[async_trait]
pub trait GrantStore: Send + Sync {
    /// Stores a new authorization code, the root of a new family.
    async fn create_code(&self, code: NewGrant) -> Result<(), StorageError>;

    /// The grant stored under `key`, whatever its kind and state; nothing is changed.
    async fn find_grant(&self, key: &str) -> Result<Option<StoredGrant>, StorageError>;

    /// Revokes every grant of a family and deletes the access tokens issued from it;
    /// returns how many access tokens that deleted.
    async fn revoke_family(&self, family: &str) -> Result<u64, StorageError>;

    /// Uses an active grant once (see [`Exchange`]).
    async fn exchange(&self, exchange: Exchange) -> Result<ExchangeOutcome, StorageError>;
}

/// Access tokens, found by their value.
#[async_trait]
pub trait AccessTokenStore: Send + Sync {
    /// The access token whose value is `token`, expired or not.
    async fn find_access_token(
        &self,
        token: &str,
    ) -> Result<Option<AccessTokenRecord>, StorageError>;

    /// Deletes an access token.
    async fn delete_access_token(&self, token: &AccessTokenRecord) -> Result<(), StorageError>;

    /// Records that an access token was used at `now`.
    async fn touch_access_token(
        &self,
        token: &AccessTokenRecord,
        now: i64,
    ) -> Result<(), StorageError>;
}

/// The accounts and login sessions grants act for.
#[async_trait]
pub trait Accounts: Send + Sync {
    /// Whether the login session a grant descends from is still valid at `now`.
    async fn session_alive(&self, session: &str, now: i64) -> Result<bool, StorageError>;

    /// The user, when they may still use the hub (they exist and are not blocked).
    async fn active_user(&self, name: &str) -> Result<Option<Subject>, StorageError>;
}
