//! Why an Auth0 login is refused before any allow rule is asked.

use hubauth_core::AuthError;

/// Why the user's email does not let them in. Each refuses the login with 403.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Auth0 sent no email for the user (the `email` scope was not requested or granted,
    /// or the connection has none).
    #[error(
        "Auth0 sent no email address for this account; the hub needs the email scope and a verified email"
    )]
    Missing,
    /// The email is not marked verified (`email_verified` is not the JSON value `true`).
    #[error("Login with unverified email {0} is not allowed")]
    Unverified(String),
}

impl From<EmailError> for AuthError {
    fn from(err: EmailError) -> Self {
        AuthError::forbidden(err.to_string())
    }
}
