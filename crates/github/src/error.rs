//! The errors of the GitHub steps. None carries a token.

use hubauth_core::AuthError;

/// An `allowed_organizations` entry that is not exactly `org` or `org:team`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{entry:?} is not \"org\" or \"org:team\": {reason}")]
pub struct OrganizationEntryError {
    /// The entry as configured.
    pub entry: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Why a request to GitHub's REST API did not give an answer the hub can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// GitHub could not be reached, or the answer could not be read.
    #[error("{step}: {detail}")]
    Unreachable {
        /// What the hub was asking.
        step: &'static str,
        /// What went wrong (without URLs, which could hold a token).
        detail: String,
    },
    /// GitHub refused the access token (401): revoked, expired or never valid.
    #[error("{step}: GitHub refused the access token (HTTP 401: {message})")]
    TokenRefused {
        /// What the hub was asking.
        step: &'static str,
        /// GitHub's `message`.
        message: String,
    },
    /// GitHub answered with a status the step does not expect.
    #[error("{step}: GitHub answered HTTP {status}: {message}")]
    Status {
        /// What the hub was asking.
        step: &'static str,
        /// The HTTP status.
        status: u16,
        /// GitHub's `message`, or a note that there was none.
        message: String,
    },
    /// The answer is not what GitHub documents (not JSON, wrong shape, a membership
    /// state that is neither `active` nor `pending`...).
    #[error("{step}: GitHub's answer is not what its API documents: {detail}")]
    Malformed {
        /// What the hub was asking.
        step: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// A pagination `Link` points away from the configured API (the token is never
    /// sent anywhere else).
    #[error("{step}: the next page is not on the configured github_api")]
    ForeignLink {
        /// What the hub was asking.
        step: &'static str,
    },
    /// More pages than the hub reads for one list.
    #[error("{step}: more than {pages} pages")]
    TooManyPages {
        /// What the hub was asking.
        step: &'static str,
        /// The limit.
        pages: usize,
    },
}

impl From<ApiError> for AuthError {
    fn from(err: ApiError) -> Self {
        match err {
            ApiError::TokenRefused { .. } => AuthError::Http {
                status: 403,
                message: format!("Login refused: {err}. Please log in again."),
            },
            other => AuthError::Upstream {
                step: "GitHub API request".to_owned(),
                detail: other.to_string(),
            },
        }
    }
}

/// Why the user info, auth_state or token needed for a membership check is missing or
/// unusable; each refuses the rule (fail closed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MembershipError {
    /// The GitHub user info has no `login` (a string).
    #[error("the GitHub user info has no login")]
    NoLogin,
    /// The `login` is not a GitHub username (letters, digits, `-`, `_`, `.`).
    #[error("the GitHub login {0:?} is not a GitHub username")]
    InvalidLogin(String),
    /// auth_state holds no access token to ask GitHub with.
    #[error("auth_state has no GitHub access token (token_response.access_token)")]
    NoToken,
}
