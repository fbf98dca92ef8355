//! Google login for hubauth: `GoogleOAuthenticator` and `LocalGoogleOAuthenticator`,
//! upstream oauthenticator's Google provider on hubauth's OAuth base.
//!
//! - Google's endpoints by default (`authorize_url`, and `token_url`, `userdata_url` and
//!   the signing keys derived from `google_api_url` / `GOOGLE_API_URL`); the user info is
//!   kept in auth_state under `google_user`, the username is the `email` by default.
//! - The ID token is **verified** (upstream does not read it): RS256 signature against
//!   Google's published keys, issuer `https://accounts.google.com` or
//!   `accounts.google.com`, audience, expiry, nonce and `at_hash`; the user info must be
//!   about the same account, with the same `hd` and email.
//! - `hosted_domain` restricts logins to Google Workspace domains by the `hd` claim, as
//!   a block rule no allow rule bypasses; with exactly one hosted domain the username
//!   drops `@domain` (`strip_domain`). `allowed_hosted_domains` allows by `hd`.
//! - An unverified email is refused (upstream's `verified_email` check), in the block
//!   stage so that `allow_all` cannot skip it (F1).
//! - `allowed_google_groups` and `admin_google_groups` read the user's Google Groups from
//!   the Admin SDK Directory API with a service account key
//!   (`google_service_account_keys`) impersonating a Workspace administrator
//!   (`gsuite_administrator`) through domain-wide delegation ([`service_account`],
//!   [`directory`]); `include_nested_groups` follows groups in groups.
//! - Refresh asks Google again (user info, then groups), so a user removed from a group
//!   or suspended loses access at the next refresh (F7).
//!
//! With the `mock` feature, `mock` is a mock of Google's sign-in, service account
//! and Directory API endpoints for tests and `hubauth demo --provider google`.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod clock;
pub mod directory;
pub mod error;
#[cfg(feature = "mock")]
pub mod mock;
pub mod options;
pub mod provider;
pub mod service_account;

use std::sync::Arc;

use hubauth_config::{ClassDef, ClassView, ConfigError};
use hubauth_core::Authenticator;

pub use clock::{Clock, SystemClock};
pub use error::{DirectoryError, GoogleError, ServiceAccountError};
pub use options::{GOOGLE_OAUTHENTICATOR, GoogleConfig, LOCAL_GOOGLE_OAUTHENTICATOR};
pub use provider::{Google, GoogleOAuthenticator, google_from_view, google_from_view_with_clock};

/// Every class this crate defines, in generate-config order.
pub fn classes() -> [&'static ClassDef; 2] {
    [&GOOGLE_OAUTHENTICATOR, &LOCAL_GOOGLE_OAUTHENTICATOR]
}

/// Builds `LocalGoogleOAuthenticator` (Google users who are also local UNIX users).
pub fn local_google_from_view(view: &ClassView<'_>) -> Result<Arc<dyn Authenticator>, ConfigError> {
    Ok(Arc::new(hubauth_local::Local::from_view(
        view,
        google_from_view,
    )?))
}

// The behaviour tests name the crate as its users do.
#[cfg(test)]
extern crate self as hubauth_google;

#[cfg(test)]
mod tests;
