//! Why a GitLab membership check could not decide. None of them carries a token.

use hubauth_core::AuthError;

/// A failure of the REST API requests behind `allowed_gitlab_groups` and
/// `allowed_project_ids`. Each refuses the login (a user is never let in on an answer
/// that could not be read); at a refresh, the unavailable ones keep the session and the
/// refresh is retried, as for any provider outage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GitLabError {
    /// The user info from `/user` has no positive integer `id` to ask about.
    #[error(
        "GitLab's user info has no numeric id, so group and project membership cannot be checked"
    )]
    NoUserId,
    /// auth_state holds no access token to ask the REST API with.
    #[error("no GitLab access token is available to check group and project membership")]
    NoAccessToken,
    /// GitLab says the token lacks a scope the request needs (`insufficient_scope`).
    #[error(
        "GitLab refused to show {what} because the hub's token lacks the read_api scope; add \"read_api\" to the GitLabOAuthenticator scope (and to the GitLab application's scopes)"
    )]
    InsufficientScope {
        /// What was asked for ("group membership").
        what: &'static str,
    },
    /// GitLab refused the token itself (HTTP 401: expired, revoked or unknown).
    #[error(
        "GitLab refused the access token while checking {what} (HTTP 401); please log in again"
    )]
    TokenRefused {
        /// What was asked for.
        what: &'static str,
    },
    /// GitLab forbade the request for another reason (a blocked account, ...).
    #[error("GitLab forbade the {what} check (HTTP 403): {detail}")]
    Forbidden {
        /// What was asked for.
        what: &'static str,
        /// GitLab's message, if it gave one.
        detail: String,
    },
    /// GitLab could not be reached, failed, or answered something that is not what its
    /// documentation says (not JSON, another user, an access level that is not an
    /// integer, a version that does not parse).
    #[error("{detail}")]
    Unavailable {
        /// The request, in words ("GitLab group membership request").
        step: &'static str,
        /// What went wrong.
        detail: String,
    },
}

impl GitLabError {
    /// Whether this is the service failing rather than GitLab deciding.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, GitLabError::Unavailable { .. })
    }
}

impl From<GitLabError> for AuthError {
    fn from(err: GitLabError) -> Self {
        match err {
            GitLabError::Unavailable { step, detail } => AuthError::Upstream {
                step: step.to_owned(),
                detail,
            },
            other => AuthError::forbidden(format!("Login refused: {other}.")),
        }
    }
}
