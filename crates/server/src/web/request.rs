//! Every request runs inside a tracing span named `request` with its method, its path
//! (never the query string: it may hold codes and tokens) and a request id, so that every
//! log line written while it is handled (the error log included, and in the JSON log
//! format as the span's fields) says which request it belongs to. The response carries the
//! id in `X-Request-Id`.
//!
//! The id is the hub's own, unless the connection comes from a `[Hub] trusted_proxies`
//! peer that sent a well-formed `X-Request-Id` (nginx `$request_id`, Traefik, Envoy): then
//! the proxy's id is kept, so one id follows the request through both logs. A client's own
//! `X-Request-Id` is ignored, so it cannot choose what the hub's log says.
//!
//! The layer reads the clock once per request ([`Now`]). On the way out, it renders pending error pages ([`super::error::render`]) and
//! logs the request's login attempt, if it had one ([`super::login_attempt`]).

use std::future::Future;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::services::Services;
use crate::state::{AppState, HubState};

/// The time of a request: the hub's clock, read once when the request arrives and passed
/// down to every decision the request makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now(pub i64);

impl Now {
    /// The time the request layer read for the request with these extensions; without the
    /// layer (a handler served on its own), the clock's time now.
    pub(crate) fn of(extensions: &Extensions, hub: &Services) -> Now {
        extensions
            .get::<Now>()
            .copied()
            .unwrap_or_else(|| Now(hub.clock.now()))
    }
}

impl FromRequestParts<AppState> for Now {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Now::of(&parts.extensions, state))
    }
}

/// The request id header, read from trusted proxies and set on every response.
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest request id taken from a trusted proxy.
const MAX_ID_LEN: usize = 128;

/// The middleware of every route: see the module documentation.
pub(crate) async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // The hub's listener gives every request its peer; a router served some other way (in
    // tests) has none, and its requests trust nobody's id.
    let trusted = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|info| state.config.is_trusted_proxy(info.0.ip()));
    handle(&state, trusted, request, |request| next.run(request)).await
}

/// Runs `respond` for `request` inside the request's span, then finishes its response
/// (error page, login log, `X-Request-Id`). `trusted_peer`: whether the connection comes
/// from a `trusted_proxies` peer.
pub(crate) async fn handle<B, F, Fut>(
    state: &HubState,
    trusted_peer: bool,
    mut request: axum::http::Request<B>,
    respond: F,
) -> Response
where
    F: FnOnce(axum::http::Request<B>) -> Fut,
    Fut: Future<Output = Response>,
{
    let id = request_id(request.headers(), trusted_peer);
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %id,
    );
    let attempt = super::login_attempt::Slot::default();
    request.extensions_mut().insert(attempt.clone());
    request.extensions_mut().insert(Now(state.clock.now()));
    async move {
        let response = respond(request).await;
        attempt.log(&response);
        let mut response = super::error::render(state, response);
        if let Ok(value) = HeaderValue::from_str(&id) {
            response.headers_mut().insert(REQUEST_ID, value);
        }
        response
    }
    .instrument(span)
    .await
}

/// The request's id: a trusted proxy's well-formed `X-Request-Id`, else a new one.
fn request_id(headers: &HeaderMap, trusted_peer: bool) -> String {
    if trusted_peer
        && let Some(id) = headers
            .get(&REQUEST_ID)
            .and_then(|value| value.to_str().ok())
            .filter(|id| is_well_formed(id))
    {
        return id.to_owned();
    }
    format!("{:016x}", rand::random::<u64>())
}

/// Whether an id may go into the log as it is: 1 to 128 letters, digits and `-_.:`
/// (UUIDs, hex ids), nothing that could forge a log line or a field.
fn is_well_formed(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Middleware: runs the request with the hub's metrics recorder.
pub(crate) async fn metrics_scope(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    state.metrics.scope(next.run(request)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_id(id: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(REQUEST_ID, HeaderValue::from_str(id).unwrap());
        headers
    }

    #[test]
    fn a_trusted_proxys_id_is_kept_and_anyone_elses_replaced() {
        let headers = with_id("4f0c2a9e-1b7d-4c3e-9a55-0d2b6f1e8c71");
        assert_eq!(
            request_id(&headers, true),
            "4f0c2a9e-1b7d-4c3e-9a55-0d2b6f1e8c71"
        );
        let own = request_id(&headers, false);
        assert_ne!(own, "4f0c2a9e-1b7d-4c3e-9a55-0d2b6f1e8c71");
        assert_eq!(own.len(), 16);
        assert!(own.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(request_id(&HeaderMap::new(), true), own);
    }

    #[test]
    fn ids_that_could_forge_log_text_are_replaced() {
        for forged in [
            "a b",
            "id\" user=\"root",
            "x=1",
            &"a".repeat(129),
            "ünïcode",
        ] {
            let headers = with_id(forged);
            assert_ne!(request_id(&headers, true), forged, "{forged}");
        }
        assert_eq!(request_id(&with_id(&"a".repeat(128)), true).len(), 128);
    }
}
