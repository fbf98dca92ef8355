//! Bitbucket login for hubauth: `BitbucketOAuthenticator` and
//! `LocalBitbucketOAuthenticator`, upstream oauthenticator's Bitbucket provider on hubauth's
//! OAuth base.
//!
//! - The user is Bitbucket Cloud's `GET /2.0/user` answer, kept in auth_state under
//!   `bitbucket_user`; the username is its `username` (`username_claim`).
//! - `allowed_teams` allows members of Bitbucket workspaces (what were teams): the
//!   workspaces the user is a member of are read from `GET /2.0/workspaces?role=member`,
//!   every page, and kept in auth_state `user_teams`. hubauth matches a workspace by its
//!   slug (or UUID), never by its display name, which anyone can give a workspace they
//!   create (upstream compared names: F17).
//! - Refresh asks Bitbucket again (user and workspaces) with the stored token, then with
//!   the refresh token once the two-hour access token has expired; a user who left the
//!   allowed workspaces loses access.
//!
//! With the `mock` feature, [`mock`] is a mock of Bitbucket for tests and
//! `hubauth demo --provider bitbucket`.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod error;
#[cfg(feature = "mock")]
pub mod mock;
pub mod options;
pub mod provider;
pub mod workspaces;

use std::sync::Arc;

use hubauth_config::{ClassDef, ClassView, ConfigError};
use hubauth_core::Authenticator;

pub use error::WorkspacesError;
pub use options::{BITBUCKET_OAUTHENTICATOR, BitbucketConfig, LOCAL_BITBUCKET_OAUTHENTICATOR};
pub use provider::{Bitbucket, BitbucketOAuthenticator, bitbucket_from_view};

/// Every class this crate defines, in generate-config order.
pub fn classes() -> [&'static ClassDef; 2] {
    [&BITBUCKET_OAUTHENTICATOR, &LOCAL_BITBUCKET_OAUTHENTICATOR]
}

/// Builds `BitbucketOAuthenticator` as a shared authenticator (the catalog's builder).
pub fn bitbucket_authenticator(
    view: &ClassView<'_>,
) -> Result<Arc<dyn Authenticator>, ConfigError> {
    Ok(Arc::new(bitbucket_from_view(view)?))
}

/// Builds `LocalBitbucketOAuthenticator` (Bitbucket users who are also local UNIX users).
pub fn local_bitbucket_from_view(
    view: &ClassView<'_>,
) -> Result<Arc<dyn Authenticator>, ConfigError> {
    Ok(Arc::new(hubauth_local::Local::from_view(
        view,
        bitbucket_from_view,
    )?))
}

// The behaviour tests name the crate as its users do.
#[cfg(test)]
extern crate self as hubauth_bitbucket;

#[cfg(test)]
mod tests;
