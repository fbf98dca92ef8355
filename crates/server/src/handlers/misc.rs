//! Small endpoints: redirects to the home page, health and the API root.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::redirect;
use crate::state::AppState;

/// `{base_url}` and `{base_url}hub/`: to the home page.
pub async fn to_home(State(state): State<AppState>) -> Response {
    redirect(&format!("{}home", state.hub_prefix()), &[])
}

/// `{base_url}hub/health`: liveness (the process answers).
pub async fn health() -> Response {
    (StatusCode::OK, Json(json!({"status": "ok"}))).into_response()
}

/// `{base_url}hub/api`: the API root with the version, as JupyterHub answers it.
pub async fn api_root() -> Response {
    Json(json!({"version": env!("CARGO_PKG_VERSION")})).into_response()
}

/// Anything else under the hub: a 404 page.
pub async fn not_found(State(state): State<AppState>) -> Response {
    match super::error_page(
        &state,
        StatusCode::NOT_FOUND,
        "There is no page at this address.",
        None,
    ) {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}
