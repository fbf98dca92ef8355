//! Why a Google login step failed. No error carries a token, an assertion or a key.

use hubauth_core::AuthError;

/// The service account could not get an access token for the Directory API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceAccountError {
    /// The key file could not be read.
    #[error("the service account key file {path} cannot be read: {detail}")]
    Unreadable {
        /// The file.
        path: String,
        /// Why (the operating system's words).
        detail: String,
    },
    /// The key file is not a service account key as Google issues them.
    #[error("the service account key file {path} is not a Google service account key: {detail}")]
    Malformed {
        /// The file.
        path: String,
        /// What is wrong with it (never its contents).
        detail: String,
    },
    /// The key's `token_uri` would send the signed assertion in clear text to another
    /// machine.
    #[error(
        "the service account key's token_uri {token_uri} is not https (plain http is accepted only on loopback)"
    )]
    InsecureTokenUri {
        /// The `token_uri`.
        token_uri: String,
    },
    /// The assertion could not be signed.
    #[error("the service account assertion could not be signed: {0}")]
    Sign(String),
    /// The token endpoint could not be reached or did not answer in time.
    #[error("{0}")]
    Unreachable(String),
    /// Google refused the grant (an OAuth error: `unauthorized_client` without domain-wide
    /// delegation of the scope, `invalid_grant` for an unknown administrator or a bad
    /// signature, ...).
    #[error("Google refused the service account (HTTP {status}, {error}: {description})")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The OAuth `error` code.
        error: String,
        /// Google's `error_description`.
        description: String,
    },
    /// The token endpoint answered something that is not a token response.
    #[error("the token endpoint's answer is not usable: {0}")]
    BadAnswer(String),
}

/// The Admin SDK Directory API did not list the user's groups.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    /// The API could not be reached or did not answer in time.
    #[error("{0}")]
    Unreachable(String),
    /// The API answered with an error (403 when the administrator may not read groups or
    /// the token lacks the scope, 400 for a key it does not know, 401 for a token it does
    /// not accept).
    #[error("the Directory API answered HTTP {status} ({reason}: {message})")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// Google's error reason (`forbidden`, `invalid`, `authError`, ...).
        reason: String,
        /// Google's error message.
        message: String,
    },
    /// The API answered something that is not a group listing.
    #[error("the answer is not a group listing: {0}")]
    BadAnswer(String),
    /// The listing did not end within the page limit (or repeated a page token).
    #[error("the group listing did not end after {0} pages")]
    TooManyPages(usize),
    /// Nested groups went beyond the lookup limit.
    #[error("more than {0} group lookups for nested groups")]
    TooManyLookups(usize),
}

/// A Google-specific reason to refuse a login.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GoogleError {
    /// The token response of a login had no ID token, so the login cannot be tied to a
    /// verified Google account.
    #[error("Google returned no ID token; the openid scope must be granted")]
    NoIdToken,
    /// The ID token names an issuer that is not Google.
    #[error("the ID token was issued by {0:?}, not by Google (https://accounts.google.com)")]
    WrongIssuer(String),
    /// The user info has no email address.
    #[error("Google returned no email address; the email scope must be granted")]
    NoEmail,
    /// The email address is not `name@domain`.
    #[error("the email address Google returned is not an address of the form name@domain")]
    MalformedEmail,
    /// The user info names no account (`id` or `sub`).
    #[error("the user info does not say which Google account it is about (no id or sub)")]
    NoSubject,
    /// The user info is about another account than the verified ID token.
    #[error("the user info is about another Google account than the verified ID token")]
    SubjectMismatch,
    /// The user info and the verified ID token disagree about a claim that decides access.
    #[error("the user info and the verified ID token disagree about {0}")]
    ClaimMismatch(&'static str),
    /// A refresh returned tokens of another account than the one that signed in.
    #[error("the refreshed tokens belong to another Google account than the one that signed in")]
    OtherAccount,
    /// Google did not mark the email address as verified (upstream's words).
    #[error("Login with unverified email {email} is not allowed")]
    UnverifiedEmail {
        /// The address (the user's own, shown to them).
        email: String,
    },
    /// The username is empty once `@domain` is removed.
    #[error("the username is empty before its @domain")]
    EmptyUsername,
    /// The group lookup could not get a token.
    #[error("{0}")]
    ServiceAccount(#[from] ServiceAccountError),
    /// The group lookup failed.
    #[error("{0}")]
    Directory(#[from] DirectoryError),
}

const TOKEN_STEP: &str = "token request to Google";
const SERVICE_ACCOUNT_STEP: &str =
    "access token for the Google Workspace groups (service account with domain-wide delegation)";
const DIRECTORY_STEP: &str = "group lookup in the Google Admin SDK Directory API";

impl From<GoogleError> for AuthError {
    fn from(err: GoogleError) -> Self {
        match err {
            GoogleError::NoIdToken => AuthError::Upstream {
                step: TOKEN_STEP.to_owned(),
                detail: err.to_string(),
            },
            GoogleError::ServiceAccount(inner) => match inner {
                // A key file that cannot be used is the hub's own configuration.
                ServiceAccountError::Unreadable { .. }
                | ServiceAccountError::Malformed { .. }
                | ServiceAccountError::InsecureTokenUri { .. }
                | ServiceAccountError::Sign(_) => AuthError::Internal(inner.to_string()),
                other => AuthError::Upstream {
                    step: SERVICE_ACCOUNT_STEP.to_owned(),
                    detail: other.to_string(),
                },
            },
            GoogleError::Directory(inner) => AuthError::Upstream {
                step: DIRECTORY_STEP.to_owned(),
                detail: inner.to_string(),
            },
            GoogleError::UnverifiedEmail { .. } => AuthError::forbidden(err.to_string()),
            other => AuthError::forbidden(format!("Login refused: {other}.")),
        }
    }
}
