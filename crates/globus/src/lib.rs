//! Globus login for hubauth: `GlobusOAuthenticator` and `LocalGlobusOAuthenticator`,
//! upstream oauthenticator's Globus provider on hubauth's OAuth base.
//!
//! - Globus Auth for the identity: the username is the part of `preferred_username` (or
//!   `email` with `username_from_email`) before the first `@`; `identity_provider`
//!   restricts the domain after it, as a block rule no allow rule can bypass.
//! - The Globus tokens (the Auth token and `other_tokens`) are kept in auth_state
//!   `tokens` by resource server, minus `exclude_tokens`. Excluded tokens are removed
//!   from auth_state entirely, `token_response` included (hubauth's fix F6).
//! - `allowed_globus_groups`, `admin_globus_groups` and `manage_groups` read the user's
//!   groups from the Groups API; a configuration that needs groups but does not request
//!   the Groups scope is refused at start-up.
//! - `revoke_tokens_on_logout` revokes every kept token at logout; a failure is shown on
//!   the logout page and logout still completes.
//! - [`app_data`] is the JSON apps get instead of upstream's pickled `GLOBUS_DATA`.
//!
//! With the `mock` feature, [`mock`] is a mock of Globus Auth and the Groups API for tests
//! and `hubauth demo --provider globus`.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod error;
pub mod identity;
#[cfg(feature = "mock")]
pub mod mock;
pub mod options;
pub mod provider;
pub mod tokens;

use std::sync::Arc;

use hubauth_config::{ClassDef, ClassView, ConfigError};
use hubauth_core::Authenticator;

pub use error::{IdentityError, RevokeError};
pub use options::{GLOBUS_OAUTHENTICATOR, GlobusConfig, LOCAL_GLOBUS_OAUTHENTICATOR};
pub use provider::{Globus, GlobusOAuthenticator, globus_from_view};
pub use tokens::{app_data, get_globus_tokens};

/// Every class this crate defines, in generate-config order.
pub fn classes() -> [&'static ClassDef; 2] {
    [&GLOBUS_OAUTHENTICATOR, &LOCAL_GLOBUS_OAUTHENTICATOR]
}

/// Builds `LocalGlobusOAuthenticator` (Globus users who are also local UNIX users).
pub fn local_globus_from_view(view: &ClassView<'_>) -> Result<Arc<dyn Authenticator>, ConfigError> {
    Ok(Arc::new(hubauth_local::Local::from_view(
        view,
        globus_from_view,
    )?))
}

// The behaviour tests name the crate as its users do.
#[cfg(test)]
extern crate self as hubauth_globus;

#[cfg(test)]
mod tests;
