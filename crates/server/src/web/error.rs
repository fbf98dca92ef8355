//! The one place where a failed page request becomes a response.
//!
//! Handlers return `Result<_, WebError>` and use `?`. [`WebError`]'s `IntoResponse` logs
//! server errors (inside the request's span, so with its method, path and id), answers with
//! the status, a minimal page and [`ErrorPage`] attached, and [`render`] (run by the request
//! layer on every response, see [`super::request`]) puts the hub's templated error page in
//! its place. REST API errors are [`crate::api::ApiError`]; the OAuth provider answers its
//! protocol's errors itself.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use hubauth_core::AuthError;
use hubauth_store::StoreError;
use serde::Serialize;

use crate::error::HubError;
use crate::pages::{PageUser, RenderError};
use crate::services::LoginOutcome;
use crate::state::HubState;

/// A failed page request.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// A page for the visitor with this status and message (not logged as a failure),
    /// naming the logged-in user when there is one.
    #[error("{status}: {message}")]
    Refused {
        /// Status to answer with.
        status: StatusCode,
        /// Message for the visitor.
        message: String,
        /// The logged-in user the page is shown to, if any.
        user: Option<Box<PageUser>>,
    },
    /// A service failed.
    #[error(transparent)]
    Service(#[from] HubError),
    /// A bug in a template.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// An ID token could not be signed, or a stored OAuth grant could not be read.
    #[error("OAuth provider: {0}")]
    Signing(String),
}

impl From<StoreError> for WebError {
    fn from(err: StoreError) -> Self {
        WebError::Service(err.into())
    }
}

impl From<AuthError> for WebError {
    fn from(err: AuthError) -> Self {
        WebError::Service(HubError::Auth(err))
    }
}

/// What every visitor is told about a failure that is the hub's, not theirs.
const INTERNAL_MESSAGE: &str =
    "Something went wrong on the hub. The administrator can find the details in the hub's log.";

impl WebError {
    /// A page for the visitor with this status and message.
    pub fn refused(status: StatusCode, message: impl Into<String>) -> Self {
        WebError::Refused {
            status,
            message: message.into(),
            user: None,
        }
    }

    /// A page for the logged-in `user` with this status and message.
    pub fn refused_to(user: PageUser, status: StatusCode, message: impl Into<String>) -> Self {
        WebError::Refused {
            status,
            message: message.into(),
            user: Some(Box::new(user)),
        }
    }

    /// auth_state (or another value) could not be encrypted.
    pub fn crypt(message: impl Into<String>) -> Self {
        WebError::Service(HubError::Crypt(message.into()))
    }

    /// The status code and the message safe to show.
    pub fn status_and_message(&self) -> (StatusCode, String) {
        match self {
            WebError::Refused {
                status, message, ..
            } => (*status, message.clone()),
            WebError::Service(HubError::Unavailable(_)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "The hub's database is unavailable right now. Please try again in a moment."
                    .to_owned(),
            ),
            WebError::Service(HubError::Auth(err)) if err.is_user_facing() => (
                StatusCode::from_u16(err.status()).unwrap_or(StatusCode::BAD_GATEWAY),
                err.to_string(),
            ),
            WebError::Service(err @ HubError::InvalidRoles(_)) => {
                (StatusCode::CONFLICT, err.to_string())
            }
            WebError::Service(HubError::Store(_) | HubError::Auth(_) | HubError::Crypt(_))
            | WebError::Render(_)
            | WebError::Signing(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                INTERNAL_MESSAGE.to_owned(),
            ),
        }
    }

    /// What a login attempt that ended in this error came to (for the login log).
    pub fn login_outcome(&self) -> LoginOutcome {
        let failed = |reason: &str| LoginOutcome::Failed(reason.to_owned());
        match self {
            WebError::Refused { message, .. } => LoginOutcome::Refused(message.clone()),
            WebError::Service(err @ HubError::InvalidRoles(_)) => {
                LoginOutcome::Refused(err.to_string())
            }
            WebError::Service(HubError::Unavailable(_)) => failed("database unavailable"),
            WebError::Service(HubError::Store(_)) => failed("database error"),
            WebError::Service(HubError::Auth(err)) if err.is_user_facing() => {
                LoginOutcome::Failed(err.to_string())
            }
            WebError::Service(HubError::Auth(_)) => failed("authenticator error"),
            WebError::Service(HubError::Crypt(_)) => failed("auth_state encryption error"),
            WebError::Render(_) => failed("page rendering error"),
            WebError::Signing(_) => failed("OAuth provider error"),
        }
    }
}

/// An error page still to be rendered: attached to the response of a [`WebError`] until
/// [`render`] replaces its minimal body with the hub's template.
#[derive(Debug, Clone)]
pub(crate) struct ErrorPage {
    message: String,
    user: Option<Box<PageUser>>,
    /// What a login attempt that ended here came to.
    pub(crate) login_outcome: LoginOutcome,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, message) = self.status_and_message();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let login_outcome = self.login_outcome();
        let user = match self {
            WebError::Refused { user, .. } => user,
            _ => None,
        };
        // The body [`render`] replaces; it stays when the template cannot be rendered, so
        // it is minimal and dependency-free.
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{code}</title></head><body><h1>{code}</h1><p>{escaped}</p></body></html>",
            code = status.as_u16(),
            escaped = escape_html(&message)
        );
        let mut response = (status, Html(body)).into_response();
        add_retry_after(&mut response);
        crate::headers::page_headers(response.headers_mut());
        response.extensions_mut().insert(ErrorPage {
            message,
            user,
            login_outcome,
        });
        response
    }
}

#[derive(Serialize)]
struct ErrorContext<'a> {
    hub_prefix: String,
    user: Option<&'a PageUser>,
    status_code: u16,
    status_message: &'a str,
    message: &'a str,
    show_login_link: bool,
}

/// Puts the hub's error page (`error.html`) into a response that carries an [`ErrorPage`];
/// other responses pass unchanged. The status and headers stay.
pub(crate) fn render(state: &HubState, mut response: Response) -> Response {
    let Some(page) = response.extensions_mut().remove::<ErrorPage>() else {
        return response;
    };
    let status = response.status();
    let rendered = state.pages.render(
        "error.html",
        ErrorContext {
            hub_prefix: state.hub_prefix(),
            user: page.user.as_deref(),
            status_code: status.as_u16(),
            status_message: status.canonical_reason().unwrap_or("Error"),
            message: &page.message,
            show_login_link: page.user.is_none(),
        },
    );
    match rendered {
        Ok(body) => {
            *response.body_mut() = Body::from(body);
            response.headers_mut().remove(header::CONTENT_LENGTH);
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        Err(err) => {
            tracing::error!(error = %err, "the error page could not be rendered; answering with a bare page");
        }
    }
    response
}

/// Seconds a client is told to wait (`Retry-After`) when the database is unavailable.
pub(crate) const RETRY_AFTER_SECONDS: u32 = 5;

/// Adds `Retry-After` to a 503 answer, so clients and proxies retry instead of giving up.
pub(crate) fn add_retry_after(response: &mut Response) {
    if response.status() == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    }
}

/// Escapes text for HTML element content and attribute values (`&`, `<`, `>`, `"`, `'`).
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            other => out.push(other),
        }
    }
    out
}
