//! CILogon login for hubauth: `CILogonOAuthenticator` and `LocalCILogonOAuthenticator`,
//! upstream oauthenticator's CILogon provider (17.x) on hubauth's OAuth base.
//!
//! - Every identity provider that may be used is listed in `idps` (named `allowed_idps`
//!   before 17.4, still accepted with a warning), keyed by EntityID; a user whose `idp`
//!   claim is not listed is refused. Each entry says which claim the username comes
//!   from and what is done to it (`strip_idp_domain` or `prefix`), and who of that IdP is
//!   allowed (`allow_all`, `allowed_domains` with shell-style patterns).
//! - The authorization request carries `selected_idp` (the listed EntityIDs, the default
//!   first), so CILogon shows only those, and `skin` when one is configured.
//! - The endpoints are derived from `cilogon_host` (`CILOGON_HOST`), as upstream does;
//!   hubauth also reads CILogon's OpenID Connect discovery document to verify ID tokens
//!   (upstream never does) and checks, once in the background, that the EntityIDs are in
//!   CILogon's IdP list ([`idplist`]).
//! - Refresh re-reads the user info with the stored access token, or uses the refresh
//!   token (with `offline_access`), and re-runs every rule; an answer about another user
//!   or IdP ends the session.
//! - The options upstream removed (`idp_whitelist`, `idp`, `strip_idp_domain`,
//!   `shown_idps`, `additional_username_claims`, `username_claim`) are refused with
//!   upstream's message.
//!
//! With the `mock` feature, [`mock`] is a mock of CILogon for tests and
//! `hubauth demo --provider cilogon`.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod error;
pub mod fnmatch;
pub mod idplist;
pub mod idps;
#[cfg(feature = "mock")]
pub mod mock;
pub mod options;
pub mod provider;

use hubauth_config::ClassDef;

pub use error::{IdpConfigError, IdpListError, LoginError};
pub use idplist::IdpListReport;
pub use idps::{Action, IdpRule, Idps, UsernameDerivation};
pub use options::{CILOGON_OAUTHENTICATOR, CilogonConfig, LOCAL_CILOGON_OAUTHENTICATOR};
pub use provider::{
    Cilogon, CilogonOAuthenticator, LocalCilogonOAuthenticator, cilogon_from_view,
    local_cilogon_from_view,
};

/// Every class this crate defines, in generate-config order.
pub fn classes() -> [&'static ClassDef; 2] {
    [&CILOGON_OAUTHENTICATOR, &LOCAL_CILOGON_OAUTHENTICATOR]
}

// The behaviour tests name the crate as its users do.
#[cfg(test)]
extern crate self as hubauth_cilogon;

#[cfg(test)]
mod tests;
