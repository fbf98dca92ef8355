//! `AzureAdOAuthenticator`: login with Microsoft Entra ID (Azure AD), as upstream's
//! oauthenticator does it, with the holes closed.
//!
//! - Upstream's options, defaults and environment variables: `tenant_id`
//!   (`AAD_TENANT_ID`), `graph_url` (the login authority), the v1 `authorize_url` /
//!   `token_url` derived from them, `username_claim = "name"`, `auth_state_groups_key =
//!   "user.groups"`, the deprecated `user_groups_claim`, and the ID token's claims in
//!   auth_state under `user`.
//! - The ID token is **verified** (upstream only decodes it): signature against the
//!   tenant's keys found through its OpenID Connect discovery document, issuer of that
//!   tenant (or, for multi-tenant `common`/`organizations`, the issuer template with the
//!   token's own `tid`), audience, expiry and nonce.
//! - `use_v2_endpoints` switches to the Microsoft identity platform (v2.0) endpoints.
//! - Group overage: when Azure leaves the `groups` claim out, the groups are read from
//!   Microsoft Graph (`graph_groups_fallback`, `graph_api_url`).
//! - Refresh uses the refresh token every time, so a user disabled at Azure AD loses
//!   access at the next refresh.
//!
//! With the `mock` feature, [`mock`] is a mock of Azure AD's v1 and v2.0 endpoints and of
//! Microsoft Graph's group endpoints, for tests and demos.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod error;
pub mod graph;
#[cfg(feature = "mock")]
pub mod mock;
pub mod options;
pub mod provider;

pub use error::AzureError;
pub use options::{
    AZURE_AD_OAUTHENTICATOR, AzureConfig, EndpointVersion, LOCAL_AZURE_AD_OAUTHENTICATOR,
};
pub use provider::{
    AzureAd, AzureAdOAuthenticator, LocalAzureAdOAuthenticator, azuread_from_view,
    local_azuread_from_view,
};

/// Every class this crate defines, in generate-config order.
pub fn classes() -> [&'static hubauth_config::ClassDef; 2] {
    [&AZURE_AD_OAUTHENTICATOR, &LOCAL_AZURE_AD_OAUTHENTICATOR]
}

// The behaviour tests name the crate as its users do.
#[cfg(test)]
extern crate self as hubauth_azuread;

#[cfg(test)]
mod tests;
