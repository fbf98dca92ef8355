//! OpenID Connect Back-Channel Logout 1.0, the relying party's half as data: which
//! session at the identity provider a hub session came from ([`ProviderSession`]), and
//! what a verified logout token says ([`LogoutToken`]) or why it was refused
//! ([`LogoutTokenError`]). Verifying is the login method's (`hubauth-oauth`); ending the
//! sessions is the hub's.

use serde_json::{Map, Value, json};

/// The key of [`crate::AuthModel::extra`] under which a login at an OpenID provider
/// leaves its [`ProviderSession`] for the hub.
pub const PROVIDER_SESSION_KEY: &str = "oidc_provider_session";

/// The member of a logout token's `events` claim that makes it one (Back-Channel Logout
/// 1.0 §2.4).
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Longest `iss`, `sub`, `sid` or `jti` accepted from a provider (longer ones are refused,
/// so that stored values stay small).
pub const MAX_CLAIM_LEN: usize = 512;

/// Which session at an OpenID provider a login came from: the verified ID token's `iss`,
/// `sub` and, when the provider sent one, `sid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderSession {
    /// The issuer.
    pub issuer: String,
    /// The subject at that issuer.
    pub subject: String,
    /// The provider's session id, when the ID token carried one.
    pub sid: Option<String>,
}

impl ProviderSession {
    /// Reads it from verified ID token claims; `None` without a string `iss` and `sub`
    /// (or with values over [`MAX_CLAIM_LEN`]).
    pub fn from_id_token_claims(claims: &Value) -> Option<ProviderSession> {
        let text = |name: &str| {
            claims
                .get(name)
                .and_then(Value::as_str)
                .filter(|value| !value.is_empty() && value.len() <= MAX_CLAIM_LEN)
                .map(str::to_owned)
        };
        Some(ProviderSession {
            issuer: text("iss")?,
            subject: text("sub")?,
            sid: text("sid"),
        })
    }

    /// Puts it into a model's `extra` (under [`PROVIDER_SESSION_KEY`]).
    pub fn store_in(&self, extra: &mut Map<String, Value>) {
        extra.insert(
            PROVIDER_SESSION_KEY.to_owned(),
            json!({"iss": self.issuer, "sub": self.subject, "sid": self.sid}),
        );
    }

    /// Reads it back from a model's `extra`.
    pub fn from_extra(extra: &Map<String, Value>) -> Option<ProviderSession> {
        ProviderSession::from_id_token_claims(extra.get(PROVIDER_SESSION_KEY)?)
    }
}

/// A logout token that passed every check of Back-Channel Logout 1.0 §2.6.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutToken {
    /// `iss`.
    pub issuer: String,
    /// `sub`, when present.
    pub subject: Option<String>,
    /// `sid`, when present (at least one of the two is).
    pub sid: Option<String>,
    /// `jti`: the token's unique id, for refusing a replay.
    pub jti: String,
    /// `exp`: until when a replay must be refused.
    pub expires: i64,
}

/// Why a logout token was refused. None of them carries the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogoutTokenError {
    /// This login method has no OpenID provider whose logout tokens it could verify.
    #[error("back-channel logout is not supported by this login method")]
    Unsupported,
    /// The provider's keys or metadata could not be fetched.
    #[error("the identity provider's signing keys are unavailable: {0}")]
    KeysUnavailable(String),
    /// Not a compact JWS with JSON header and payload (or an encrypted token, which
    /// hubauth does not accept).
    #[error("the logout token is malformed: {0}")]
    Malformed(String),
    /// `alg: none`.
    #[error("the logout token is not signed")]
    Unsigned,
    /// An algorithm outside the allow-list (an HMAC with a public key, ...).
    #[error("the logout token's algorithm is not accepted")]
    AlgorithmNotAllowed,
    /// A `typ` header naming another kind of token.
    #[error("the logout token's typ header {0:?} is not logout+jwt")]
    WrongType(String),
    /// No published key matches, or the signature does not verify.
    #[error("the logout token's signature is invalid")]
    BadSignature,
    /// `iss` is not the provider's.
    #[error("the logout token was not issued by the identity provider")]
    WrongIssuer,
    /// `aud` does not name this client (or names an untrusted audience besides it).
    #[error("the logout token is not meant for this client")]
    WrongAudience,
    /// `exp` has passed.
    #[error("the logout token has expired")]
    Expired,
    /// `iat` is in the future.
    #[error("the logout token is not valid yet")]
    NotYetValid,
    /// A required claim is missing or not of its type.
    #[error("the logout token has no valid {0} claim")]
    MissingClaim(&'static str),
    /// Neither `sub` nor `sid`.
    #[error("the logout token has neither sub nor sid")]
    NoSubjectOrSession,
    /// `events` lacks the back-channel logout event.
    #[error("the logout token's events claim has no back-channel logout event")]
    NotALogoutEvent,
    /// A `nonce` claim: an ID token, or a token made to be confused with one.
    #[error("the logout token has a nonce claim")]
    NonceNotAllowed,
    /// The `jti` was seen before within the token's lifetime.
    #[error("the logout token was already used")]
    Replayed,
}
