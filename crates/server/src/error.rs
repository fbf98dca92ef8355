//! The one place where failures become HTTP responses.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use hubauth_core::AuthError;
use hubauth_store::StoreError;

use crate::pages::RenderError;

/// A failure while handling a request.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A page for the user with this status and message (not logged as a failure).
    #[error("{status}: {message}")]
    User {
        /// Status to answer with.
        status: StatusCode,
        /// Message for the user.
        message: String,
    },
    /// The database is locked or unreachable: 503, the hub recovers when it returns.
    #[error("database unavailable: {0}")]
    Unavailable(StoreError),
    /// Any other store failure.
    #[error("database error: {0}")]
    Store(StoreError),
    /// An authenticator or hook failure.
    #[error("authentication error: {0}")]
    Auth(AuthError),
    /// A bug in a template.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// auth_state could not be encrypted.
    #[error("auth_state encryption failed: {0}")]
    Crypt(String),
    /// An ID token could not be signed, or a stored OAuth grant could not be read.
    #[error("OAuth provider: {0}")]
    Signing(String),
}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        let unavailable = matches!(err, StoreError::Unavailable { .. });
        crate::metrics::database_error(unavailable);
        if unavailable {
            AppError::Unavailable(err)
        } else {
            AppError::Store(err)
        }
    }
}

impl AppError {
    /// A user-facing error.
    pub fn user(status: StatusCode, message: impl Into<String>) -> Self {
        AppError::User {
            status,
            message: message.into(),
        }
    }

    /// The status code and the message safe to show.
    pub fn status_and_message(&self) -> (StatusCode, String) {
        match self {
            AppError::User { status, message } => (*status, message.clone()),
            AppError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "The hub's database is unavailable right now. Please try again in a moment."
                    .to_owned(),
            ),
            AppError::Auth(err) if err.is_user_facing() => (
                StatusCode::from_u16(err.status()).unwrap_or(StatusCode::BAD_GATEWAY),
                err.to_string(),
            ),
            AppError::Store(_)
            | AppError::Auth(_)
            | AppError::Render(_)
            | AppError::Crypt(_)
            | AppError::Signing(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on the hub. The administrator can find the details in the hub's log.".to_owned(),
            ),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, message) = self.status_and_message();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        // Handlers render their own pages; this fallback is used when the page itself
        // could not be built, so it stays minimal and dependency-free.
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{code}</title></head><body><h1>{code}</h1><p>{message}</p></body></html>",
            code = status.as_u16(),
            message = escape_html(&message)
        );
        let mut response = (status, Html(body)).into_response();
        add_retry_after(&mut response);
        crate::handlers::page_headers(response.headers_mut());
        response
    }
}

/// Seconds a client is told to wait (`Retry-After`) when the database is unavailable.
pub const RETRY_AFTER_SECONDS: u32 = 5;

/// Adds `Retry-After` to a 503 answer, so clients and proxies retry instead of giving up.
pub fn add_retry_after(response: &mut Response) {
    if response.status() == StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from(RETRY_AFTER_SECONDS),
        );
    }
}

/// Escapes text for HTML.
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
