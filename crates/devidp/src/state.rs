//! The provider's in-memory state: users, codes, tokens, login sessions, keys, and the
//! test controls; the mock framework keeps it behind its one mutex, with the clients,
//! the request log and the faults.

use std::collections::{HashMap, VecDeque};

use serde_json::{Map, Value};

use axum::Router;

use crate::config::{DevUser, Lifetimes};
use crate::control::{Endpoint, Tamper, UserinfoTamper};
use crate::keys::KeySet;
use crate::mock::{Mock, Personality};

/// Claims that the protocol owns; user claims with these names are left out of tokens
/// and userinfo.
pub(crate) const RESERVED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "at_hash",
    "c_hash",
    "sid",
];

/// How many codes or token sets are issued between two purges of expired entries.
const PURGE_EVERY: u32 = 128;

/// A random opaque value: 32 bytes from the OS, base64url.
pub(crate) fn random_token() -> String {
    crate::mock::random_token(32)
}

/// The development provider as a personality of the mock framework: what never
/// changes after start.
#[derive(Debug)]
pub struct Oidc {
    pub(crate) issuer: String,
    pub(crate) prefix: String,
    pub(crate) cookie_name: String,
    pub(crate) lifetimes: Lifetimes,
}

/// What handlers get: the framework's provider, with the personality's fields and
/// state reachable through it.
pub(crate) type Shared = crate::mock::Provider<Oidc>;

/// What handlers hold while they lock the provider: the framework's core (with the
/// clients), which derefs to [`OidcState`].
pub(crate) type Inner = crate::mock::Core<Oidc>;

impl Personality for Oidc {
    type Endpoint = Endpoint;
    type State = OidcState;
    const NAME: &'static str = "development OpenID provider";

    fn endpoint(&self, path: &str) -> Option<Endpoint> {
        Endpoint::from_path(&self.prefix, path)
    }

    fn routes(&self) -> Router<Mock<Self>> {
        crate::server::routes(&self.prefix)
    }
}

impl Oidc {
    /// An absolute URL for a path relative to the issuer.
    pub(crate) fn endpoint_url(&self, endpoint: Endpoint) -> String {
        format!("{}{}", self.issuer, endpoint.path())
    }
}

/// A user and whether a test disabled them.
pub(crate) struct UserRecord {
    pub user: DevUser,
    pub disabled: bool,
}

/// An issued authorization code.
pub(crate) struct CodeGrant {
    pub client_id: String,
    pub redirect_uri: String,
    pub redirect_uri_sent: bool,
    pub username: String,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: i64,
    pub issued_at: i64,
    pub used: bool,
    pub family: u64,
}

/// An issued access token.
pub(crate) struct AccessGrant {
    pub username: String,
    pub expires_at: i64,
    pub family: u64,
}

/// An issued refresh token.
pub(crate) struct RefreshGrant {
    pub client_id: String,
    pub username: String,
    pub scopes: Vec<String>,
    pub auth_time: i64,
    pub expires_at: i64,
    pub used: bool,
    pub family: u64,
}

/// The provider's own login session (its cookie).
pub(crate) struct Session {
    pub username: String,
    pub auth_time: i64,
    pub expires_at: i64,
}

/// Everything that changes.
pub struct OidcState {
    pub(crate) users: HashMap<String, UserRecord>,
    pub(crate) keys: KeySet,
    pub(crate) codes: HashMap<String, CodeGrant>,
    pub(crate) access: HashMap<String, AccessGrant>,
    pub(crate) refresh: HashMap<String, RefreshGrant>,
    pub(crate) sessions: HashMap<String, Session>,
    pub(crate) tampers: VecDeque<Tamper>,
    pub(crate) userinfo_tampers: VecDeque<UserinfoTamper>,
    pub(crate) auto_approve: Option<String>,
    pub(crate) scope_filter: Option<Vec<String>>,
    /// The `sid` of each user's latest login (back-channel logout tests name it).
    pub(crate) last_sid: HashMap<String, String>,
    next_family: u64,
    issued_since_purge: u32,
}

impl std::fmt::Debug for OidcState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcState")
            .field("users", &self.users.len())
            .field("auto_approve", &self.auto_approve)
            .finish_non_exhaustive()
    }
}

impl OidcState {
    /// The state a provider starts with.
    pub(crate) fn new(
        users: Vec<DevUser>,
        auto_approve: Option<String>,
    ) -> Result<Self, crate::DevIdpError> {
        Ok(OidcState {
            users: users
                .into_iter()
                .map(|user| {
                    (
                        user.username.clone(),
                        UserRecord {
                            user,
                            disabled: false,
                        },
                    )
                })
                .collect(),
            keys: KeySet::generate().map_err(|err| crate::DevIdpError::Keys(err.to_string()))?,
            codes: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            sessions: HashMap::new(),
            tampers: VecDeque::new(),
            userinfo_tampers: VecDeque::new(),
            auto_approve,
            scope_filter: None,
            last_sid: HashMap::new(),
            next_family: 1,
            issued_since_purge: 0,
        })
    }
}

impl OidcState {
    /// A new token family id (everything issued from one authorization code).
    pub(crate) fn new_family(&mut self) -> u64 {
        let family = self.next_family;
        self.next_family = self.next_family.wrapping_add(1);
        family
    }

    /// An enabled user by username.
    pub(crate) fn active_user(&self, username: &str) -> Option<&DevUser> {
        self.users
            .get(username)
            .filter(|record| !record.disabled)
            .map(|record| &record.user)
    }

    /// Revokes every access and refresh token of a family (code replay, refresh replay).
    pub(crate) fn revoke_family(&mut self, family: u64) {
        self.access.retain(|_, grant| grant.family != family);
        self.refresh.retain(|_, grant| grant.family != family);
    }

    /// Drops expired entries every so many issued codes or tokens (so that a benchmark
    /// with many logins does not scan everything every time).
    pub(crate) fn maybe_purge(&mut self, now: i64, lifetimes: &Lifetimes) {
        self.issued_since_purge = self.issued_since_purge.saturating_add(1);
        if self.issued_since_purge >= PURGE_EVERY {
            self.issued_since_purge = 0;
            self.purge(now, lifetimes);
        }
    }

    /// Drops expired codes, tokens and sessions. Used codes and refresh tokens are kept
    /// until they expire, so that a replay is recognized as one.
    pub(crate) fn purge(&mut self, now: i64, lifetimes: &Lifetimes) {
        self.codes
            .retain(|_, code| code.issued_at.saturating_add(lifetimes.code * 10) > now);
        self.access.retain(|_, grant| grant.expires_at > now);
        self.refresh.retain(|_, grant| grant.expires_at > now);
        self.sessions.retain(|_, session| session.expires_at > now);
    }
}

/// The claims of a user that go into ID tokens and userinfo (without the reserved ones).
pub(crate) fn user_claims(user: &DevUser) -> Map<String, Value> {
    user.claims
        .iter()
        .filter(|(name, _)| !RESERVED_CLAIMS.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}
