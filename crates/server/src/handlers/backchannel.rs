//! `POST {base_url}hub/backchannel_logout`: the identity provider's logout token
//! (OpenID Connect Back-Channel Logout 1.0 §2.5, §2.8). The answer, always with
//! `Cache-Control: no-store`: 200 when the token was accepted (whether or not a session
//! matched); 400, as §2.8 asks for any failure, with an OAuth error JSON: `invalid_request`
//! when the token was refused, `temporarily_unavailable` when it could not be checked
//! (the provider's keys unreachable: nothing was recorded, so the same token may be sent
//! again) or the hub could not end the sessions (the database).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use hubauth_core::LogoutTokenError;

use crate::backchannel::{BackchannelError, receive_logout_token};
use crate::state::AppState;
use crate::web::request::Now;

/// Receives a logout token (`logout_token` in a form body).
pub async fn receive(State(state): State<AppState>, Now(now): Now, body: Bytes) -> Response {
    let mut tokens = url::form_urlencoded::parse(&body)
        .filter(|(name, _)| name == "logout_token")
        .map(|(_, value)| value.into_owned());
    let token = match (tokens.next(), tokens.next()) {
        (Some(token), None) if !token.is_empty() => token,
        (Some(_), Some(_)) => {
            return answer(
                StatusCode::BAD_REQUEST,
                Some(("invalid_request", "logout_token is repeated")),
            );
        }
        _ => {
            return answer(
                StatusCode::BAD_REQUEST,
                Some(("invalid_request", "logout_token is missing")),
            );
        }
    };
    match receive_logout_token(&state, &token, now).await {
        Ok(_) => answer(StatusCode::OK, None),
        Err(BackchannelError::Refused(err @ LogoutTokenError::KeysUnavailable(_))) => {
            // Not the token's fault: nothing was recorded, the provider may send it again.
            tracing::warn!(error = %err, "back-channel logout not checked");
            answer(
                StatusCode::BAD_REQUEST,
                Some((
                    "temporarily_unavailable",
                    "the identity provider's keys could not be fetched",
                )),
            )
        }
        Err(BackchannelError::Refused(err)) => {
            tracing::warn!(error = %err, "back-channel logout refused");
            answer(
                StatusCode::BAD_REQUEST,
                Some(("invalid_request", &err.to_string())),
            )
        }
        Err(BackchannelError::Service(err)) => {
            tracing::error!(error = %err, "back-channel logout failed");
            answer(
                StatusCode::BAD_REQUEST,
                Some((
                    "temporarily_unavailable",
                    "the hub could not end the sessions",
                )),
            )
        }
    }
}

fn answer(status: StatusCode, error: Option<(&str, &str)>) -> Response {
    let mut response = match error {
        Some((error, description)) => (
            status,
            Json(json!({"error": error, "error_description": description})),
        )
            .into_response(),
        None => status.into_response(),
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
