//! OAuth 2.0 and OpenID Connect login for hubauth: the `OAuthenticator` base class, the
//! write-your-own [`Provider`] API and `GenericOAuthenticator`.
//!
//! Compared with upstream, the protocol's safety checks are not optional: `state` is bound
//! to the browser and single-use (the hub handles it), PKCE S256 is on by default, a nonce
//! is sent with the `openid` scope, and ID tokens are verified against the provider's keys
//! (signature, exact issuer, audience and trusted audiences, expiry, nonce, `at_hash`).
//! User info must be about the ID token's subject, and a username taken from an email
//! needs `email_verified` (unless `allow_unverified_email`).
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod authenticator;
pub mod claims;
pub mod core;
pub mod discovery;
pub mod generic;
pub mod http;
pub mod id_token;
pub mod identity;
pub mod jose;
pub mod logout_token;
pub mod options;
pub mod provider;
pub mod token;

pub use authenticator::OAuthenticator;
pub use claims::ClaimRule;
pub use core::{EndpointDiscovery, Endpoints, OAuthCore};
pub use generic::{Generic, GenericOAuthenticator, generic_from_view};
pub use options::{BasicCredentials, GENERIC_OAUTHENTICATOR, OAUTHENTICATOR, OAuthConfig};
pub use provider::Provider;
pub use token::TokenResponse;

/// Every class this crate defines, in generate-config order.
pub fn classes() -> [&'static hubauth_config::ClassDef; 2] {
    [&OAUTHENTICATOR, &GENERIC_OAUTHENTICATOR]
}

// The behaviour tests name the crate as its users do.
#[cfg(test)]
extern crate self as hubauth_oauth;

#[cfg(test)]
mod tests;
