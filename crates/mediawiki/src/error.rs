//! What can go wrong talking to the wiki, and checking the identity it vouches for.
//!
//! No error here carries a token, a token secret or the consumer secret.

use std::fmt;

/// A step of the OAuth 1.0a handshake, as the wiki names its special pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// `Special:OAuth/initiate`: a request token (temporary credentials).
    Initiate,
    /// `Special:OAuth/token`: the request token and verifier exchanged for an access token.
    Token,
    /// `Special:OAuth/identify`: a JWT naming the user behind an access token.
    Identify,
}

impl Step {
    /// The special page's title (`Special:OAuth/initiate`).
    pub fn title(self) -> &'static str {
        match self {
            Step::Initiate => "Special:OAuth/initiate",
            Step::Token => "Special:OAuth/token",
            Step::Identify => "Special:OAuth/identify",
        }
    }

    /// What the step does, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Step::Initiate => "request token request to MediaWiki (Special:OAuth/initiate)",
            Step::Token => "access token request to MediaWiki (Special:OAuth/token)",
            Step::Identify => "identity request to MediaWiki (Special:OAuth/identify)",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.title())
    }
}

/// Why a request to the wiki did not give what the step needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// The wiki could not be reached, or did not answer in time.
    #[error("{} failed: {detail}", step.describe())]
    Unreachable {
        /// The step.
        step: Step,
        /// What happened (no URL, which may hold a token).
        detail: String,
    },
    /// The wiki answered with an HTTP error status (the OAuth extension answers its own
    /// errors with 200, so this is the web server or a proxy in front of it).
    #[error("{} failed: HTTP {status}", step.describe())]
    Status {
        /// The step.
        step: Step,
        /// The HTTP status.
        status: u16,
    },
    /// The OAuth extension refused the request: an `Error: ...` answer (initiate and
    /// token), or a JSON `{"error": ..., "message": ...}` (identify).
    #[error("{} refused: {message}", step.describe())]
    Refused {
        /// The step.
        step: Step,
        /// The extension's message key (`mwoauthdatastore-access-token-not-found`), when
        /// the answer names one.
        key: Option<String>,
        /// The extension's message, shortened.
        message: String,
    },
    /// The answer is not what the step returns (no token, a token twice, not a JWT).
    #[error("{} failed: {detail}", step.describe())]
    Malformed {
        /// The step.
        step: Step,
        /// What is wrong with it.
        detail: String,
    },
}

impl HandshakeError {
    /// What went wrong, without the step's name.
    pub fn detail(&self) -> String {
        match self {
            HandshakeError::Unreachable { detail, .. }
            | HandshakeError::Malformed { detail, .. } => detail.clone(),
            HandshakeError::Status { status, .. } => format!("HTTP {status}"),
            HandshakeError::Refused { message, .. } => format!("MediaWiki refused: {message}"),
        }
    }

    /// The step that failed.
    pub fn step(&self) -> Step {
        match self {
            HandshakeError::Unreachable { step, .. }
            | HandshakeError::Status { step, .. }
            | HandshakeError::Refused { step, .. }
            | HandshakeError::Malformed { step, .. } => *step,
        }
    }
}

/// Why the identity JWT from `Special:OAuth/identify` is not accepted. Each refuses the
/// login: the identity decides who logs in, so it is never guessed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// Not three base64url parts, or a part that does not decode to a JSON object.
    #[error("the identity is not a JWT ({0})")]
    NotAJwt(&'static str),
    /// The header names another algorithm than HS256 (or none), or critical extensions.
    #[error("the identity is signed with {0:?}, not HS256")]
    Algorithm(String),
    /// The HMAC-SHA256 signature does not match the consumer secret.
    #[error("the identity's signature does not match the consumer secret")]
    BadSignature,
    /// A claim the check needs is missing or not of its type.
    #[error("the identity's {0} claim is missing or malformed")]
    Claim(&'static str),
    /// `aud` is not this consumer's key.
    #[error("the identity is for another consumer (aud)")]
    WrongAudience,
    /// `iss` is not on the host (and port) of `mw_index_url`.
    #[error("the identity comes from another wiki (iss {found:?}, expected {expected:?})")]
    WrongIssuer {
        /// The issuer's `host[:port]`.
        found: String,
        /// `mw_index_url`'s `host[:port]`.
        expected: String,
    },
    /// `exp` has passed (with the leeway).
    #[error("the identity has expired")]
    Expired,
    /// `iat` (or `nbf`) is in the future (with the leeway).
    #[error("the identity was issued in the future")]
    IssuedInFuture,
    /// `nonce` is not the one the identify request was signed with: a replayed answer.
    #[error("the identity's nonce is not the request's (a replayed answer?)")]
    NonceMismatch,
}
