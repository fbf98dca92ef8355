//! Errors an authenticator or a hook can raise during login.

/// Why a login could not be completed, beyond a plain "no".
///
/// A plain refusal is not an error: `authenticate` returns `Ok(None)` and the pipeline
/// reports a [`crate::DenyReason`]. These errors are for the cases upstream raises an
/// exception for.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The login is refused with a message meant for the person logging in (upstream's
    /// `HTTPError(403, msg)`); shown on the login or error page with this status.
    #[error("{message}")]
    Http {
        /// HTTP status to answer with (usually 403).
        status: u16,
        /// Message shown to the user.
        message: String,
    },
    /// The authenticator returned a model that breaks the model's rules (e.g. no name).
    #[error("invalid auth model: {0}")]
    InvalidModel(String),
    /// A `post_auth_hook` (closure or script) failed; the login fails with a 500 and the
    /// detail goes to the log only.
    #[error("post_auth_hook failed: {0}")]
    Hook(String),
    /// An identity provider or another upstream service failed or answered garbage.
    #[error("{step} failed: {detail}")]
    Upstream {
        /// Which step failed, in words (`"token request to the identity provider"`).
        step: String,
        /// What went wrong, without secrets.
        detail: String,
    },
    /// Any other failure inside the authenticator; a 500 for the user, details in the log.
    #[error("{0}")]
    Internal(String),
}

impl AuthError {
    /// A refusal with a message for the user (403 unless another status is given).
    pub fn forbidden(message: impl Into<String>) -> Self {
        AuthError::Http {
            status: 403,
            message: message.into(),
        }
    }

    /// The HTTP status this error should produce.
    pub fn status(&self) -> u16 {
        match self {
            AuthError::Http { status, .. } => *status,
            AuthError::Upstream { .. } => 502,
            AuthError::InvalidModel(_) | AuthError::Hook(_) | AuthError::Internal(_) => 500,
        }
    }

    /// Whether the message may be shown to the user as is.
    pub fn is_user_facing(&self) -> bool {
        matches!(self, AuthError::Http { .. } | AuthError::Upstream { .. })
    }
}
