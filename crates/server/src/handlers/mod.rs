//! HTTP handlers: thin functions from typed requests to responses.

pub mod admin;
pub mod backchannel;
pub mod forward_auth;
pub mod home;
pub mod login;
pub mod logout;
pub mod misc;
pub mod oauth;
pub mod oauth2;
pub mod proxy;

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

pub use crate::headers::{first_header_value, page_headers};

/// The TCP peer's address when the server was started with connect info (absent in
/// in-process tests): the client, or the proxy in front of the hub.
#[derive(Debug, Clone, Copy)]
pub struct PeerIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for PeerIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(PeerIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0.ip()),
        ))
    }
}

/// The client's address: the peer, or behind a `trusted_proxies` peer the address its
/// `X-Forwarded-For` names ([`crate::forwarded::client_ip`]).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<crate::state::AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &crate::state::AppState,
    ) -> Result<Self, Self::Rejection> {
        let PeerIp(peer) = PeerIp::from_request_parts(parts, state).await?;
        Ok(ClientIp(peer.map(|peer| {
            crate::forwarded::client_ip(&state.config.trusted_proxies, peer, &parts.headers)
        })))
    }
}

/// Removes the forwarding headers of requests whose peer is not a trusted proxy (or
/// unknown: the router was given no connect info), for routers served without the hub's
/// listener, which does the same per connection.
pub async fn strip_untrusted_forwarding(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let trusted = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|info| state.config.is_trusted_proxy(info.0.ip()));
    if !trusted {
        crate::forwarded::strip(request.headers_mut());
    }
    next.run(request).await
}

/// A 302 redirect with optional `Set-Cookie` headers.
pub fn redirect(location: &str, cookies: &[String]) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// A 303 redirect (after a form post or the OAuth callback: the browser GETs the target,
/// and the callback's URL with its code leaves the history entry).
pub fn see_other(location: &str, cookies: &[String]) -> Response {
    let mut response = redirect(location, cookies);
    *response.status_mut() = StatusCode::SEE_OTHER;
    response
}

/// An HTML page with a status and optional `Set-Cookie` headers.
pub fn html(status: StatusCode, body: String, cookies: &[String]) -> Response {
    let mut response = (status, Html(body)).into_response();
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    page_headers(response.headers_mut());
    response
}

/// The response layer of the hub's own routes (`{base_url}hub/...`; the apps behind the
/// built-in proxy decide their own headers): every HTML answer gets [`page_headers`],
/// whichever handler made it, and every answer (redirects from the login and the OAuth
/// callback included) gets `Referrer-Policy: no-referrer`.
pub async fn hub_response_headers(mut response: Response) -> Response {
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .trim_start()
                .to_ascii_lowercase()
                .starts_with("text/html")
        });
    if is_html {
        page_headers(response.headers_mut());
    } else if !response.headers().contains_key(header::REFERRER_POLICY) {
        response.headers_mut().insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
    response
}

/// Percent-encodes a value for a query string.
pub fn encode_query(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
