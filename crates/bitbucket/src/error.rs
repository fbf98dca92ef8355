//! Why the user's Bitbucket workspaces could not be read.

use hubauth_core::AuthError;

/// The step named on the error page when the workspaces cannot be read.
pub const WORKSPACES_STEP: &str = "listing your Bitbucket workspaces";

/// A failure reading the workspaces the user belongs to. Each refuses the login: without
/// the complete list, `allowed_teams` cannot be decided (fail closed). None carries a
/// token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkspacesError {
    /// The request did not get an answer (connection, timeout, size).
    #[error("{0}")]
    Unreachable(String),
    /// Bitbucket refused the access token (401) or says it lacks a scope (403): the
    /// consumer needs the Account permission, or the token was revoked.
    #[error("Bitbucket refused the access token (HTTP {0})")]
    Refused(u16),
    /// Bitbucket answered with another error status.
    #[error("HTTP {0}")]
    Status(u16),
    /// A page is not the paginated list Bitbucket documents (`values`, each a workspace
    /// with a `slug`), or its `next` is not a URL.
    #[error("a page of workspaces is malformed: {0}")]
    Malformed(String),
    /// A page's `next` link points to another host, scheme, port or path than the
    /// listing: following it would send the user's token elsewhere.
    #[error("a page's next link leaves {0}")]
    ForeignNext(String),
    /// A page's `next` link repeats one already followed.
    #[error("the next links loop")]
    Loop,
    /// More pages than any user's workspaces fill ([`crate::workspaces::MAX_PAGES`]).
    #[error("more than {0} pages of workspaces")]
    TooManyPages(usize),
}

impl From<WorkspacesError> for AuthError {
    fn from(err: WorkspacesError) -> Self {
        match err {
            WorkspacesError::Refused(status) => AuthError::forbidden(format!(
                "Bitbucket refused to list your workspaces (HTTP {status}); this hub needs them to decide whether you may log in. Please log in again, or ask the hub administrator to give the OAuth consumer the Account permission."
            )),
            other => AuthError::Upstream {
                step: WORKSPACES_STEP.to_owned(),
                detail: other.to_string(),
            },
        }
    }
}
