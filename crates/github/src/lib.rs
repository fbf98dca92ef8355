//! GitHub login for hubauth: `GitHubOAuthenticator` and `LocalGitHubOAuthenticator`,
//! upstream oauthenticator's GitHub provider on hubauth's OAuth base.
//!
//! - github.com, or a GitHub Enterprise Server (`github_url`, or `GITHUB_URL`,
//!   `GITHUB_HOST` and `GITHUB_HTTP`): the OAuth endpoints under `github_url`, the REST
//!   API at api.github.com or `{github_url}/api/v3` (`github_api`).
//! - GitHub is not OpenID Connect: the user is `GET /user` (`github_user` in auth_state),
//!   the username its `login`. When the profile shows no email and the token may list
//!   them (`user` or `user:email` granted), the primary email comes from
//!   `GET /user/emails`, with whether GitHub verified it.
//! - `allowed_organizations` (`org` and `org:team`) asks the REST API about the user's
//!   membership at each login and refresh ([`api`]): private memberships only with
//!   `read:org`, team memberships only when active.
//! - `populate_teams_in_auth_state` keeps `GET /user/teams` (every page) in auth_state.
//! - Refresh: GitHub's OAuth app tokens do not expire, so a refresh asks `/user` (and the
//!   rules) again with the same token; a GitHub App's expiring token is renewed with its
//!   refresh token. The hub re-checks every rule on what GitHub says then.
//!
//! With the `mock` feature, [`mock`] is a mock of GitHub for tests and
//! `hubauth demo --provider github`.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod api;
pub mod error;
pub mod link;
#[cfg(feature = "mock")]
pub mod mock;
pub mod options;
pub mod provider;

use std::sync::Arc;

use hubauth_config::{ClassDef, ClassView, ConfigError};
use hubauth_core::Authenticator;

pub use error::{ApiError, MembershipError, OrganizationEntryError};
pub use options::{
    GITHUB_OAUTHENTICATOR, GitHubConfig, LOCAL_GITHUB_OAUTHENTICATOR, OrgRule, default_api,
};
pub use provider::{GitHub, GitHubOAuthenticator, github_from_view};

/// Every class this crate defines, in generate-config order.
pub fn classes() -> [&'static ClassDef; 2] {
    [&GITHUB_OAUTHENTICATOR, &LOCAL_GITHUB_OAUTHENTICATOR]
}

/// Builds `LocalGitHubOAuthenticator` (GitHub users who are also local UNIX users).
pub fn local_github_from_view(view: &ClassView<'_>) -> Result<Arc<dyn Authenticator>, ConfigError> {
    Ok(Arc::new(hubauth_local::Local::from_view(
        view,
        github_from_view,
    )?))
}

// The behaviour tests name the crate as its users do.
#[cfg(test)]
extern crate self as hubauth_github;

#[cfg(test)]
mod tests;
