//! Small endpoints: redirects to the home page, health, readiness, metrics and the API
//! root.

use std::net::IpAddr;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{PeerIp, redirect};
use crate::api::ApiError;
use crate::state::{AppState, HubState};
use crate::web::{Now, WebError};

/// `{base_url}` and `{base_url}hub/`: to the home page.
pub async fn to_home(State(state): State<AppState>) -> Response {
    redirect(&format!("{}home", state.hub_prefix()), &[])
}

/// `{base_url}hub/health`: liveness (the process answers).
pub async fn health() -> Response {
    (StatusCode::OK, Json(json!({"status": "ok"}))).into_response()
}

/// `{base_url}hub/health/ready`: readiness (the database answers). 200 `{"status": "ok"}`,
/// or 503 with a message when the store does not answer.
pub async fn ready(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "ok"}))).into_response(),
        Err(err) => {
            let unavailable = matches!(err, hubauth_store::StoreError::Unavailable { .. });
            crate::metrics::database_error(unavailable);
            tracing::warn!(error = %err, "readiness check: the database does not answer");
            let mut response = (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({
                    "status": "unavailable",
                    "message": "The hub's database is unavailable.",
                })),
            )
                .into_response();
            crate::web::error::add_retry_after(&mut response);
            response
        }
    }
}

/// `{base_url}hub/metrics`: Prometheus text exposition of this hub's metrics, for a
/// request that may read them ([`may_read_metrics`]); others get a JSON 403.
pub async fn metrics(
    State(state): State<AppState>,
    Now(now): Now,
    PeerIp(peer): PeerIp,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    if let Err(err) = may_read_metrics(&state, peer, &method, &headers, uri.query(), now).await {
        return err.into_response();
    }
    // The gauge is read from the database at scrape time, so it is exact and shared by
    // replicas. When the database does not answer, the gauge keeps its last value: the
    // readiness check is what reports (and counts) an unavailable database.
    match state.store.count_active_sessions(now).await {
        Ok(count) => state
            .metrics
            .record(|| crate::metrics::active_sessions(count)),
        Err(err) => {
            tracing::debug!(error = %err, "counting active sessions for the metrics failed");
        }
    }
    (
        StatusCode::OK,
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// Whether a request may read the metrics: anyone when `authenticate_prometheus` is off;
/// otherwise a connection whose TCP peer is in `metrics_allowed_networks` (never a
/// forwarded address: a header is the client's word), or a request authenticated as the
/// REST API is (token or session) holding `read:metrics`. The metrics tell who logs in
/// how often and through which paths, which is no one else's business.
async fn may_read_metrics(
    state: &HubState,
    peer: Option<IpAddr>,
    method: &Method,
    headers: &HeaderMap,
    query: Option<&str>,
    now: i64,
) -> Result<(), ApiError> {
    if !state.config.authenticate_prometheus {
        return Ok(());
    }
    if peer.is_some_and(|peer| state.config.metrics_network_allows(peer)) {
        return Ok(());
    }
    let Some(caller) = crate::api::auth::authenticate(state, method, headers, query, now).await?
    else {
        return Err(ApiError::forbidden(
            "Missing or invalid credentials: the metrics need a token with the read:metrics scope.",
        ));
    };
    if caller.scopes.has_all("read:metrics") {
        Ok(())
    } else {
        Err(crate::api::auth::missing_scope("read:metrics", "metrics"))
    }
}

/// `{base_url}hub/logo`: the `logo_file` image, or 404 when none is set.
pub async fn logo(State(state): State<AppState>) -> Response {
    match state.pages.logo() {
        Some(logo) => (
            StatusCode::OK,
            [
                (axum::http::header::CONTENT_TYPE, logo.content_type),
                (axum::http::header::CACHE_CONTROL, "public, max-age=3600"),
                (
                    axum::http::header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; style-src 'unsafe-inline'",
                ),
            ],
            logo.bytes.clone(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Anything else under the hub: a 404 page.
pub async fn not_found() -> WebError {
    WebError::refused(StatusCode::NOT_FOUND, "There is no page at this address.")
}
