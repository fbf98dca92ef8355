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

/// Why the Globus identity a login is for could not be determined; each refuses the
/// login (fail closed). Never carries a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The token response has no token for Globus Auth (`auth.globus.org`), at the top
    /// level or in `other_tokens`, so the user info cannot be asked for.
    #[error(
        "Globus returned no token for auth.globus.org (was the openid scope requested and granted?)"
    )]
    NoAuthToken,
    /// The user info names no identity: no `sub`, or not a string.
    #[error("Globus's user info names no identity (no sub)")]
    NoSubject,
    /// `identity_set` is there but is not a list of identities.
    #[error("Globus's identity_set is not a list of identities")]
    MalformedIdentitySet,
    /// `identity_set` does not list the identity the user info is about.
    #[error("Globus's identity_set does not list the identity the login is for")]
    NotInIdentitySet,
    /// `identity_set` lists the identity the user info is about more than once.
    #[error("Globus's identity_set lists the identity the login is for more than once")]
    AmbiguousIdentity,
    /// The identity's entry in `identity_set` and the user info disagree on a claim.
    #[error(
        "Globus's identity_set entry for the login's identity disagrees with the user info's {0}"
    )]
    Inconsistent(&'static str),
}
