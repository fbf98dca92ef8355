//! The provider's in-memory state: users, clients, codes, tokens, login sessions, keys,
//! and the test controls. One mutex, never held across an `.await`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use rand::rngs::OsRng;
use serde_json::{Map, Value};

use crate::clock::Clock;
use crate::config::{Client, DevIdpBuilder, DevUser, Lifetimes};
use crate::control::{Endpoint, RecordedRequest, Tamper, UserinfoTamper};
use crate::keys::KeySet;

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

/// How many recorded requests are kept (the oldest are dropped first).
const REQUEST_LOG_LIMIT: usize = 10_000;

/// How many codes or token sets are issued between two purges of expired entries.
const PURGE_EVERY: u32 = 128;

/// A random opaque value: 32 bytes from the OS, base64url.
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What never changes after start.
pub(crate) struct Shared {
    pub issuer: String,
    pub prefix: String,
    pub cookie_name: String,
    pub clock: Arc<dyn Clock>,
    pub lifetimes: Lifetimes,
    inner: Mutex<Inner>,
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
pub(crate) struct Inner {
    pub clients: HashMap<String, Client>,
    pub users: HashMap<String, UserRecord>,
    pub keys: KeySet,
    pub codes: HashMap<String, CodeGrant>,
    pub access: HashMap<String, AccessGrant>,
    pub refresh: HashMap<String, RefreshGrant>,
    pub sessions: HashMap<String, Session>,
    pub faults: crate::faults::Faults<Endpoint>,
    pub tampers: VecDeque<Tamper>,
    pub userinfo_tampers: VecDeque<UserinfoTamper>,
    pub requests: VecDeque<RecordedRequest>,
    pub auto_approve: Option<String>,
    pub scope_filter: Option<Vec<String>>,
    next_family: u64,
    issued_since_purge: u32,
}

impl Shared {
    pub(crate) fn new(
        issuer: String,
        prefix: String,
        cookie_name: String,
        config: DevIdpBuilder,
    ) -> Result<Self, crate::DevIdpError> {
        let inner = Inner {
            clients: config
                .clients
                .into_iter()
                .map(|c| (c.client_id.clone(), c))
                .collect(),
            users: config
                .users
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
            faults: crate::faults::Faults::default(),
            tampers: VecDeque::new(),
            userinfo_tampers: VecDeque::new(),
            requests: VecDeque::new(),
            auto_approve: config.auto_approve,
            scope_filter: None,
            next_family: 1,
            issued_since_purge: 0,
        };
        Ok(Shared {
            issuer,
            prefix,
            cookie_name,
            clock: config.clock,
            lifetimes: config.lifetimes,
            inner: Mutex::new(inner),
        })
    }

    /// The state, even if a previous holder panicked (it never leaves it half-changed).
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.now()
    }

    /// An absolute URL for a path relative to the issuer.
    pub(crate) fn endpoint_url(&self, endpoint: Endpoint) -> String {
        format!("{}{}", self.issuer, endpoint.path())
    }
}

impl Inner {
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

    pub(crate) fn record(&mut self, request: RecordedRequest) {
        if self.requests.len() >= REQUEST_LOG_LIMIT {
            self.requests.pop_front();
        }
        self.requests.push_back(request);
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
