//! GitLab login for hubauth: `GitLabOAuthenticator` and `LocalGitLabOAuthenticator`,
//! upstream oauthenticator's GitLab provider on hubauth's OAuth base.
//!
//! - gitlab.com or a self-hosted GitLab (`gitlab_url`, `GITLAB_URL`, `GITLAB_HOST`):
//!   `authorize_url`, `token_url` and `gitlab_api` (`{gitlab_url}/api/v{gitlab_api_version}`)
//!   derive from it, and the user is the REST API's `/user` (username `username`).
//! - `allowed_gitlab_groups` (any role, inherited membership included) and
//!   `allowed_project_ids` (Developer, access level 30, or higher) are asked of the REST
//!   API with the user's token, at login and at each refresh, for users no other rule
//!   admits ([`membership`]). Subgroups work: the full path is encoded once (F17).
//! - Answers that cannot be read exactly refuse the login; a GitLab that is down during a
//!   refresh keeps the session until it answers again.
//!
//! With the `mock` feature, [`mock`] is a mock of GitLab (OAuth 2.0 provider and REST API)
//! for tests and `hubauth demo --provider gitlab`.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod error;
pub mod membership;
#[cfg(feature = "mock")]
pub mod mock;
pub mod options;
pub mod provider;

pub use error::GitLabError;
pub use options::{GITLAB_OAUTHENTICATOR, GitLabConfig, LOCAL_GITLAB_OAUTHENTICATOR};
pub use provider::{
    GitLab, GitLabOAuthenticator, LocalGitLabOAuthenticator, Membership, gitlab_from_view,
    local_gitlab_from_view,
};

/// Every class this crate defines, in generate-config order.
pub fn classes() -> [&'static hubauth_config::ClassDef; 2] {
    [&GITLAB_OAUTHENTICATOR, &LOCAL_GITLAB_OAUTHENTICATOR]
}

// The behaviour tests name the crate as its users do.
#[cfg(test)]
extern crate self as hubauth_gitlab;

#[cfg(test)]
mod tests;
