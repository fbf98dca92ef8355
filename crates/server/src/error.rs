//! What can go wrong in the hub's services (sessions, logins, auth_state, managed roles,
//! clean-up), with no HTTP in it: the web layer ([`crate::web::WebError`]) and the REST API
//! ([`crate::api::ApiError`]) decide how each failure is answered.

use hubauth_core::AuthError;
use hubauth_store::StoreError;

/// A failure of one of the hub's services.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The database is locked or unreachable: the hub recovers when it returns.
    #[error("database unavailable: {0}")]
    Unavailable(StoreError),
    /// Any other store failure.
    #[error("database error: {0}")]
    Store(StoreError),
    /// An authenticator or hook failure.
    #[error("authentication error: {0}")]
    Auth(AuthError),
    /// auth_state could not be encrypted (or a value could not be serialized for storage).
    #[error("auth_state encryption failed: {0}")]
    Crypt(String),
    /// The authenticator handed over roles that cannot be used (`manage_roles`): the
    /// login is refused, since its roles would be wrong.
    #[error("Invalid role specification from the authenticator: {0}")]
    InvalidRoles(String),
}

impl From<StoreError> for HubError {
    fn from(err: StoreError) -> Self {
        let unavailable = matches!(err, StoreError::Unavailable { .. });
        crate::metrics::database_error(unavailable);
        if unavailable {
            HubError::Unavailable(err)
        } else {
            HubError::Store(err)
        }
    }
}

impl From<AuthError> for HubError {
    fn from(err: AuthError) -> Self {
        HubError::Auth(err)
    }
}
