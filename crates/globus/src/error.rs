//! Errors of the Globus steps that are not login refusals.

/// Why a token could not be revoked at logout. Never carries the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RevokeError {
    /// The revocation endpoint could not be reached or did not answer; the token stays
    /// valid until it expires.
    #[error("the revocation endpoint could not be reached: {0}")]
    Unreachable(String),
    /// The revocation endpoint answered with an error status; the token may stay valid.
    #[error("the revocation endpoint answered HTTP {0}")]
    Refused(u16),
}
