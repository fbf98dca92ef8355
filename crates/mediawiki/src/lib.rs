//! MediaWiki login for hubauth: `MWOAuthenticator`, upstream oauthenticator's MediaWiki
//! class (entry point `mediawiki`; upstream has no `Local...` variant of it).
//!
//! - OAuth 1.0a against the wiki's OAuth extension ([`wiki`]): a request token from
//!   `Special:OAuth/initiate`, the user's approval at `Special:OAuth/authenticate`, an
//!   access token from `Special:OAuth/token`, every request signed with HMAC-SHA1 and the
//!   consumer secret (`client_secret`).
//! - The user is the identity JWT of `Special:OAuth/identify` ([`identity`]): HS256 with
//!   the consumer secret, for this consumer, from the wiki of `mw_index_url`, fresh, and
//!   carrying the request's nonce. It is kept in auth_state under
//!   `MEDIAWIKI_USER_IDENTITY`, beside `ACCESS_TOKEN_KEY` and `ACCESS_TOKEN_SECRET`; the
//!   username is its `username` (`username_claim`), with spaces turned into underscores
//!   and its case kept, as upstream.
//! - Group rules read the identity's wiki groups with
//!   `auth_state_groups_key = "MEDIAWIKI_USER_IDENTITY.groups"` and `manage_groups`.
//! - Refresh asks `Special:OAuth/identify` again with the stored access token, so a user
//!   who revoked the grant, was locked, or left a group loses access (upstream's refresh
//!   failed for this class).
//!
//! With the `mock` feature, [`mock`] is a mock of a wiki's OAuth extension for tests and
//! `hubauth demo --provider mediawiki`.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod authenticator;
pub mod error;
pub mod identity;
#[cfg(feature = "mock")]
pub mod mock;
pub mod options;
pub mod wiki;

use std::sync::Arc;

use hubauth_config::{ClassDef, ClassView, ConfigError};
use hubauth_core::Authenticator;

pub use authenticator::{CLASS_NAME, MWOAuthenticator, mediawiki_from_view, mw_normalize};
pub use error::{HandshakeError, IdentityError, Step};
pub use options::{MW_OAUTHENTICATOR, MwConfig};

/// Every class this crate defines, in generate-config order.
pub fn classes() -> [&'static ClassDef; 1] {
    [&MW_OAUTHENTICATOR]
}

/// Builds `MWOAuthenticator` as a shared authenticator (the catalog's builder).
pub fn mediawiki_authenticator(
    view: &ClassView<'_>,
) -> Result<Arc<dyn Authenticator>, ConfigError> {
    Ok(Arc::new(mediawiki_from_view(view)?))
}

// The behaviour tests name the crate as its users do.
#[cfg(test)]
extern crate self as hubauth_mediawiki;

#[cfg(test)]
mod tests;
