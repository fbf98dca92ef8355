//! Auth0 login for hubauth: `Auth0OAuthenticator` and `LocalAuth0OAuthenticator`,
//! upstream oauthenticator's Auth0 provider on hubauth's OAuth base.
//!
//! - The tenant is `auth0_domain` (`AUTH0_DOMAIN`), or `{auth0_subdomain}.auth0.com`
//!   (`AUTH0_SUBDOMAIN`); the endpoints are `https://{auth0_domain}/authorize`,
//!   `/oauth/token` and `/userinfo`.
//! - The user is Auth0's `/userinfo` answer, kept in auth_state under `auth0_user`; the
//!   username is its `email` by default. Every login needs `email_verified: true`, unless
//!   `allow_unverified_email` (upstream's CVE-2026-33175 fix), checked in the block stage,
//!   so `allow_all` and allow lists cannot skip it (F1).
//! - Logout ends the Auth0 session too: the browser goes to
//!   `https://{auth0_domain}/v2/logout` with this hub's `client_id` and `returnTo` the
//!   hub's login page, which must be one of the application's Allowed Logout URLs.
//! - Setting `oidc_issuer = "https://{auth0_domain}/"` (with its trailing slash) also has
//!   the ID token verified against the tenant's keys (RS256), a hubauth addition.
//!
//! With the `mock` feature, [`mock`] is a mock of an Auth0 tenant for tests and
//! `hubauth demo --provider auth0`.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod error;
#[cfg(feature = "mock")]
pub mod mock;
pub mod options;
pub mod provider;

use std::sync::Arc;

use hubauth_config::{ClassDef, ClassView, ConfigError};
use hubauth_core::Authenticator;

pub use error::EmailError;
pub use options::{AUTH0_OAUTHENTICATOR, Auth0Config, LOCAL_AUTH0_OAUTHENTICATOR};
pub use provider::{Auth0, Auth0OAuthenticator, auth0_from_view};

/// Every class this crate defines, in generate-config order.
pub fn classes() -> [&'static ClassDef; 2] {
    [&AUTH0_OAUTHENTICATOR, &LOCAL_AUTH0_OAUTHENTICATOR]
}

/// Builds `Auth0OAuthenticator` as a shared authenticator (the catalog's builder).
pub fn auth0_authenticator(view: &ClassView<'_>) -> Result<Arc<dyn Authenticator>, ConfigError> {
    Ok(Arc::new(auth0_from_view(view)?))
}

/// Builds `LocalAuth0OAuthenticator` (Auth0 users who are also local UNIX users).
pub fn local_auth0_from_view(view: &ClassView<'_>) -> Result<Arc<dyn Authenticator>, ConfigError> {
    Ok(Arc::new(hubauth_local::Local::from_view(
        view,
        auth0_from_view,
    )?))
}

// The behaviour tests name the crate as its users do.
#[cfg(test)]
extern crate self as hubauth_auth0;

#[cfg(test)]
mod tests;
