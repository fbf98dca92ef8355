//! Errors: the public start/control error, and the protocol errors that become responses.

use std::net::SocketAddr;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Why the provider could not start, or why a runtime control call was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DevIdpError {
    /// The configuration is inconsistent (a duplicate client, a relative redirect URI,
    /// a bad path prefix...); the message names the offending item.
    #[error("invalid dev provider configuration: {0}")]
    Config(String),
    /// A signing key could not be made.
    #[error("the dev provider could not make a signing key: {0}")]
    Keys(String),
    /// A control call or `auto_approve` named a user the provider does not have.
    #[error("no such user: {0:?}")]
    UnknownUser(String),
    /// The listen address is not loopback and `allow_non_loopback` was not set; the dev
    /// provider trusts its configuration completely and must not face a network.
    #[error(
        "refusing to serve the development identity provider on {0}, which is not a loopback address"
    )]
    NotLoopback(SocketAddr),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

/// An RFC 6749 section 5.2 error from the token endpoint.
#[derive(Debug)]
pub(crate) struct TokenError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
}

impl TokenError {
    pub(crate) fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub(crate) fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }

    pub(crate) fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    pub(crate) fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", description)
    }

    pub(crate) fn unsupported_grant_type(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            description,
        )
    }

    pub(crate) fn server_error(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            description,
        )
    }

    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        TokenError {
            status,
            error,
            description: description.into(),
        }
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(error = self.error, description = %self.description, "token endpoint failure");
        } else {
            tracing::info!(error = self.error, description = %self.description, "token request refused");
        }
        let body = serde_json::json!({
            "error": self.error,
            "error_description": self.description,
        });
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        no_store(headers);
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"devidp\""),
            );
        }
        response
    }
}

/// Adds `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 section 5.1).
pub(crate) fn no_store(headers: &mut axum::http::HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}
