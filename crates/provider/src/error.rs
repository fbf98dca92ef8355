//! The one error type of the provider: every way a request to it can fail, each with the
//! specification that names the error, so the server can answer as that text says.

use std::borrow::Cow;
use std::fmt;

use crate::keys::KeyError;

/// A failure of the storage behind the provider (database, ...), boxed so the protocol
/// does not depend on the store. The server gets its own error back with
/// [`StorageError::into_inner`].
pub struct StorageError(Box<dyn std::error::Error + Send + Sync>);

impl StorageError {
    /// Wraps the storage's error.
    pub fn new(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        StorageError(Box::new(err))
    }

    /// The storage's error, for the caller to downcast to its own type.
    pub fn into_inner(self) -> Box<dyn std::error::Error + Send + Sync> {
        self.0
    }
}

impl fmt::Debug for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

// Shown to the user on an error page (the first three) or sent to the client.
const UNKNOWN_CLIENT: &str =
    "Unknown OAuth client: this application is not registered with the hub.";
const REDIRECT_URI_NOT_REGISTERED: &str =
    "The redirect_uri is not registered for this application.";
const REDIRECT_URI_REQUIRED: &str =
    "This application has several redirect URIs: the request must name one.";
const TOKEN_OF_ANOTHER_CLIENT: &str = "the token was issued to another client";
const ID_TOKEN_HINT_INVALID: &str = "The id_token_hint was not issued by this hub.";
const ID_TOKEN_HINT_MISMATCH: &str = "client_id does not match the id_token_hint.";
const POST_LOGOUT_REDIRECT_URI_NOT_REGISTERED: &str =
    "The post_logout_redirect_uri is not registered for this application.";
const POST_LOGOUT_REDIRECT_URI_WITHOUT_CLIENT: &str =
    "A post_logout_redirect_uri needs an id_token_hint or client_id.";

/// Why the provider refused or could not answer a request.
///
/// [`ProviderError::code`] gives the `error` value of the response and
/// [`ProviderError::description`] its `error_description`. Which response carries them
/// (an error page, a redirect to the client, a JSON body, a `WWW-Authenticate` challenge)
/// and with which status depends on the endpoint, and is the server's to decide;
/// [`ProviderError::may_redirect`] says whether an authorization error may be sent to the
/// client's redirect URI at all.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The authorization request names no registered client. RFC 6749 §4.1.2.1 (first
    /// paragraph): the user is told, and the browser is not redirected, since nothing
    /// vouches for the redirect URI.
    #[error("{UNKNOWN_CLIENT}")]
    UnknownClient,
    /// The authorization request's `redirect_uri` is not one the client registered
    /// (matched exactly). RFC 6749 §4.1.2.1 (first paragraph) and §3.1.2.4: never
    /// redirected, or the endpoint would be an open redirect.
    #[error("{REDIRECT_URI_NOT_REGISTERED}")]
    RedirectUriNotRegistered,
    /// The client registered several redirect URIs and the authorization request names
    /// none. RFC 6749 §3.1.2.3 and §4.1.2.1 (first paragraph): never redirected.
    #[error("{REDIRECT_URI_REQUIRED}")]
    RedirectUriRequired,
    /// `invalid_request`: a parameter is missing, repeated, malformed or not allowed
    /// with another. RFC 6749 §4.1.2.1 (authorization), §5.2 (token), RFC 7009 §2.2.1
    /// (revocation, which answers with §5.2's errors) and RFC 6750 §3.1 (a resource
    /// request without a bearer token).
    #[error("invalid_request: {0}")]
    InvalidRequest(Cow<'static, str>),
    /// `unsupported_response_type`: only the authorization code flow is offered.
    /// RFC 6749 §4.1.2.1.
    #[error("unsupported_response_type")]
    UnsupportedResponseType,
    /// `access_denied`: the user said no on the consent page. RFC 6749 §4.1.2.1.
    #[error("access_denied")]
    AccessDenied,
    /// `login_required`: `prompt=none`, and the user is not logged in, or not recently
    /// enough for `max_age` or `prompt=login`. OpenID Connect Core 1.0 §3.1.2.6.
    #[error("login_required")]
    LoginRequired,
    /// `consent_required`: `prompt=none`, and the client needs the user's consent first.
    /// OpenID Connect Core 1.0 §3.1.2.6.
    #[error("consent_required")]
    ConsentRequired,
    /// `invalid_client`: the client is unknown, or its authentication failed or was
    /// missing. RFC 6749 §5.2: 401, with a `WWW-Authenticate` challenge when the client
    /// tried HTTP Basic.
    #[error("invalid_client: {description}")]
    InvalidClient {
        /// What failed.
        description: &'static str,
        /// Whether the client authenticated with HTTP Basic (then the answer carries a
        /// `Basic` challenge).
        basic: bool,
    },
    /// `invalid_grant`: the code or refresh token is unknown, expired, used, revoked,
    /// issued to another client, or does not fit the request (redirect URI, PKCE
    /// verifier), or the user's session or account is gone. RFC 6749 §5.2.
    #[error("invalid_grant: {0}")]
    InvalidGrant(&'static str),
    /// `unsupported_grant_type`: neither `authorization_code` nor `refresh_token`.
    /// RFC 6749 §5.2.
    #[error("unsupported_grant_type")]
    UnsupportedGrantType,
    /// `invalid_scope`: a refresh asked for more than was granted. RFC 6749 §5.2 and §6.
    #[error("invalid_scope: {0}")]
    InvalidScope(&'static str),
    /// A client asked to revoke a token issued to another client: refused, and the token
    /// stays as it is. RFC 7009 §2.1 (the server checks the token was issued to the
    /// client) and §2.2.1 (answered as `invalid_request`).
    #[error("invalid_request: {TOKEN_OF_ANOTHER_CLIENT}")]
    TokenOfAnotherClient,
    /// `invalid_token`: the bearer token is unknown, expired or revoked, or its user is
    /// gone. RFC 6750 §3.1.
    #[error("invalid_token: {0}")]
    InvalidToken(&'static str),
    /// `insufficient_scope`: the bearer token lacks the scope the resource needs.
    /// RFC 6750 §3.1.
    #[error("insufficient_scope: {0}")]
    InsufficientScope(&'static str),
    /// A logout request's `id_token_hint` is not an ID token this provider signed for
    /// its issuer. OpenID Connect RP-Initiated Logout 1.0 §2 and §4: shown to the user,
    /// never redirected.
    #[error("{ID_TOKEN_HINT_INVALID}")]
    IdTokenHintInvalid,
    /// A logout request's `client_id` is not the audience of its `id_token_hint`.
    /// RP-Initiated Logout 1.0 §2 (the OP must verify they match): never redirected.
    #[error("{ID_TOKEN_HINT_MISMATCH}")]
    IdTokenHintMismatch,
    /// A logout request's `post_logout_redirect_uri` is not one the client registered
    /// (matched exactly). RP-Initiated Logout 1.0 §3: the provider must not redirect
    /// there.
    #[error("{POST_LOGOUT_REDIRECT_URI_NOT_REGISTERED}")]
    PostLogoutRedirectUriNotRegistered,
    /// A logout request has a `post_logout_redirect_uri` but names no client (no
    /// `id_token_hint`, no `client_id`), so nothing says whose URI it should be.
    /// RP-Initiated Logout 1.0 §3: never redirected.
    #[error("{POST_LOGOUT_REDIRECT_URI_WITHOUT_CLIENT}")]
    PostLogoutRedirectUriWithoutClient,
    /// An ID token could not be signed: `server_error` (RFC 6749 §4.1.2.1; a 500 at the
    /// token endpoint).
    #[error("signing an ID token failed: {0}")]
    Signing(#[from] KeyError),
    /// A stored grant holds something this provider cannot read: `server_error`. Nothing
    /// is issued from it.
    #[error("stored OAuth grant is malformed: {0}")]
    MalformedGrant(String),
    /// The storage failed: `server_error`, or whatever the server's own error says
    /// (a database that is down is a 503).
    #[error(transparent)]
    Storage(StorageError),
}

impl From<StorageError> for ProviderError {
    fn from(err: StorageError) -> Self {
        ProviderError::Storage(err)
    }
}

impl ProviderError {
    /// The `error` value of the response (`invalid_request`, `invalid_grant`, ...);
    /// `server_error` for failures of the provider itself.
    pub fn code(&self) -> &'static str {
        match self {
            ProviderError::UnknownClient
            | ProviderError::RedirectUriNotRegistered
            | ProviderError::RedirectUriRequired
            | ProviderError::InvalidRequest(_)
            | ProviderError::TokenOfAnotherClient
            | ProviderError::IdTokenHintInvalid
            | ProviderError::IdTokenHintMismatch
            | ProviderError::PostLogoutRedirectUriNotRegistered
            | ProviderError::PostLogoutRedirectUriWithoutClient => "invalid_request",
            ProviderError::UnsupportedResponseType => "unsupported_response_type",
            ProviderError::AccessDenied => "access_denied",
            ProviderError::LoginRequired => "login_required",
            ProviderError::ConsentRequired => "consent_required",
            ProviderError::InvalidClient { .. } => "invalid_client",
            ProviderError::InvalidGrant(_) => "invalid_grant",
            ProviderError::UnsupportedGrantType => "unsupported_grant_type",
            ProviderError::InvalidScope(_) => "invalid_scope",
            ProviderError::InvalidToken(_) => "invalid_token",
            ProviderError::InsufficientScope(_) => "insufficient_scope",
            ProviderError::Signing(_)
            | ProviderError::MalformedGrant(_)
            | ProviderError::Storage(_) => "server_error",
        }
    }

    /// The `error_description`: what went wrong, for the client's developer (or, for
    /// the errors that are never redirected, for the user). Failures of the provider
    /// itself say nothing of their cause; the server logs that.
    pub fn description(&self) -> Cow<'static, str> {
        match self {
            ProviderError::UnknownClient => Cow::Borrowed(UNKNOWN_CLIENT),
            ProviderError::RedirectUriNotRegistered => Cow::Borrowed(REDIRECT_URI_NOT_REGISTERED),
            ProviderError::RedirectUriRequired => Cow::Borrowed(REDIRECT_URI_REQUIRED),
            ProviderError::TokenOfAnotherClient => Cow::Borrowed(TOKEN_OF_ANOTHER_CLIENT),
            ProviderError::IdTokenHintInvalid => Cow::Borrowed(ID_TOKEN_HINT_INVALID),
            ProviderError::IdTokenHintMismatch => Cow::Borrowed(ID_TOKEN_HINT_MISMATCH),
            ProviderError::PostLogoutRedirectUriNotRegistered => {
                Cow::Borrowed(POST_LOGOUT_REDIRECT_URI_NOT_REGISTERED)
            }
            ProviderError::PostLogoutRedirectUriWithoutClient => {
                Cow::Borrowed(POST_LOGOUT_REDIRECT_URI_WITHOUT_CLIENT)
            }
            ProviderError::InvalidRequest(description) => description.clone(),
            ProviderError::UnsupportedResponseType => {
                Cow::Borrowed("only the authorization code flow (response_type=code) is supported")
            }
            ProviderError::AccessDenied => Cow::Borrowed("the user denied access"),
            ProviderError::LoginRequired => {
                Cow::Borrowed("the user is not logged in to the hub, or not recently enough")
            }
            ProviderError::ConsentRequired => Cow::Borrowed("the user has not yet agreed"),
            ProviderError::InvalidClient { description, .. }
            | ProviderError::InvalidGrant(description)
            | ProviderError::InvalidScope(description)
            | ProviderError::InvalidToken(description)
            | ProviderError::InsufficientScope(description) => Cow::Borrowed(description),
            ProviderError::UnsupportedGrantType => {
                Cow::Borrowed("grant_type must be authorization_code or refresh_token")
            }
            ProviderError::Signing(_)
            | ProviderError::MalformedGrant(_)
            | ProviderError::Storage(_) => Cow::Borrowed("the hub could not answer"),
        }
    }

    /// Whether an error may go back to the client's redirect URI: not when the client or
    /// the redirect URI itself is in doubt (RFC 6749 §4.1.2.1), nor for a logout request
    /// (RP-Initiated Logout 1.0 §3).
    pub fn may_redirect(&self) -> bool {
        !matches!(
            self,
            ProviderError::UnknownClient
                | ProviderError::RedirectUriNotRegistered
                | ProviderError::RedirectUriRequired
                | ProviderError::IdTokenHintInvalid
                | ProviderError::IdTokenHintMismatch
                | ProviderError::PostLogoutRedirectUriNotRegistered
                | ProviderError::PostLogoutRedirectUriWithoutClient
        )
    }

    /// Whether this is a failure of the provider or its storage (to be logged as one),
    /// rather than a refused request.
    pub fn is_internal(&self) -> bool {
        self.code() == "server_error"
    }

    /// `invalid_request` with a description.
    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        ProviderError::InvalidRequest(description.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_descriptions() {
        assert_eq!(ProviderError::UnknownClient.code(), "invalid_request");
        assert_eq!(
            ProviderError::UnknownClient.description(),
            "Unknown OAuth client: this application is not registered with the hub."
        );
        assert!(!ProviderError::RedirectUriNotRegistered.may_redirect());
        assert!(ProviderError::LoginRequired.may_redirect());
        assert_eq!(
            ProviderError::TokenOfAnotherClient.description(),
            "the token was issued to another client"
        );
        let storage = ProviderError::from(StorageError::new(std::io::Error::other("disk")));
        assert!(storage.is_internal());
        assert_eq!(storage.code(), "server_error");
        assert!(!storage.description().contains("disk"));
        assert_eq!(storage.to_string(), "disk");
        assert!(!ProviderError::invalid_request("x").is_internal());
    }
}
