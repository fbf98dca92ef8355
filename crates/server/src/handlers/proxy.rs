//! Every request outside `{base_url}hub/` when `upstream` or `upstream_routes` is set: the
//! built-in reverse proxy.
//!
//! - valid session, allowed by `forward_auth_rules` → the request goes to the route's
//!   upstream, body streamed both ways, identity headers (and configured auth_state
//!   headers) added after the client's own copies are stripped; protocol upgrades
//!   (websockets) are spliced through;
//! - valid session, not allowed → 403 page;
//! - a Host that is not one host name with a numeric port (or that differs from the
//!   authority of an absolute-form request), or a path that cannot be read exactly
//!   (`%00`) → 400, before any route is chosen: never the catch-all route;
//! - no session → a browser's GET/HEAD goes to the login page with the original URL in
//!   `next`; anything else (JSON clients, other methods, websocket handshakes) gets 401;
//! - upstream unreachable → 502 page.

use std::net::IpAddr;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;

use super::{PeerIp, encode_query, redirect};
use crate::api::ApiError;
use crate::cookies::SESSION_COOKIE;
use crate::forward_auth::is_allowed;
use crate::pages::PageUser;
use crate::proxy::{
    requested_upgrade, strip_cookie, strip_hop_by_hop, strip_hub_set_cookies,
    strip_identity_headers,
};
use crate::request_target::{BadTarget, HostName, TargetPath};
use crate::state::AppState;
use crate::web::session::{gateway_token_user, resume_session};
use crate::web::{Now, WebError};

/// Why a request could not be passed on.
#[derive(Debug, thiserror::Error)]
enum ProxyError {
    #[error("connecting to the upstream failed: {0}")]
    Connect(std::io::Error),
    #[error("connecting to the upstream timed out")]
    Timeout,
    #[error("the upstream failed: {0}")]
    Http(#[from] hyper::Error),
    #[error("the upstream request failed: {0}")]
    Client(#[from] hyper_util::client::legacy::Error),
    #[error("bad upstream address: {0}")]
    Address(String),
}

/// The proxy handler (the router's fallback when the proxy is on).
pub async fn proxy(
    State(state): State<AppState>,
    Now(now): Now,
    PeerIp(client_ip): PeerIp,
    mut request: Request,
) -> Result<Response, WebError> {
    let (host, path) = match request_host(&request)
        .and_then(|host| Ok((host, TargetPath::parse(request.uri().path())?)))
    {
        Ok(target) => target,
        Err(err) => {
            tracing::info!(reason = %err, "proxy: request refused, its host or path cannot be read exactly");
            return bad_request(request.headers(), &err);
        }
    };
    let path_and_query = request
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    let Some(route) = state.config.proxy.route_for(host.as_ref(), &path) else {
        return Err(WebError::refused(
            StatusCode::NOT_FOUND,
            "There is nothing at this address.",
        ));
    };
    let authority = route.authority.clone();
    let headers = request.headers();
    let session = resume_session(&state, headers, now).await?;
    let token_user = match &session {
        Some(_) => None,
        None => gateway_token_user(&state, headers, now).await?,
    };
    let user = match (&session, token_user) {
        (Some(current), _) => current.user.clone(),
        (None, Some(user)) => user,
        (None, None) => {
            let browser = matches!(*request.method(), Method::GET | Method::HEAD)
                && requested_upgrade(headers).is_none()
                && !wants_json(headers);
            if browser {
                let login = format!("{}login", state.hub_prefix());
                let target = match state.validate_next(&path_and_query) {
                    Some(next) => format!("{login}?next={}", encode_query(&next)),
                    None => login,
                };
                return Ok(redirect(&target, &[]));
            }
            return Ok(unauthorized(headers));
        }
    };
    if !is_allowed(
        &state.config.forward_auth.rules,
        state.config.forward_auth.default,
        host.as_ref(),
        &path,
        &user.name,
        &user.groups,
    ) {
        tracing::info!(user = %user.name, host = ?host.as_ref().map(ToString::to_string), "proxy: user not allowed by forward_auth_rules");
        let page_user = PageUser {
            name: user.name.clone(),
            admin: user.admin,
            groups: user.groups.clone(),
        };
        return Err(WebError::refused_to(
            page_user,
            StatusCode::FORBIDDEN,
            "You are logged in but not allowed to use this application.",
        ));
    }
    // A token request gets the identity only: auth_state headers follow a login session.
    let by_token = session.is_none();
    let session_hash = session.as_ref().map(|current| current.session_hash.clone());
    let token_headers = match session {
        Some(current) => crate::app_tokens::headers_for(&state, current, now).await?,
        None => Some(Default::default()),
    };
    let Some(token_headers) = token_headers else {
        // The refresh before handing tokens on ended the session.
        let login = format!("{}login", state.hub_prefix());
        return Ok(redirect(&login, &[]));
    };

    // The request as the upstream sees it.
    let upgrade = requested_upgrade(request.headers());
    let client_upgrade = upgrade.as_ref().map(|_| hyper::upgrade::on(&mut request));
    let is_https = state.is_https(request.headers());
    let trust = client_ip.is_some_and(|peer| state.config.is_trusted_proxy(peer));
    let out = request.headers_mut();
    strip_hop_by_hop(out, upgrade.clone());
    strip_identity_headers(out, &state.identity_header_names());
    strip_cookie(out, SESSION_COOKIE);
    if by_token {
        // The hub token is the client's credential at the hub, not the app's to see.
        out.remove(header::AUTHORIZATION);
    }
    crate::identity_assertion::insert(
        &state,
        &user,
        session_hash.as_deref(),
        host.as_ref(),
        &path,
        now,
        out,
    );
    let host = host.map(|host| host.to_string());
    add_forwarded(out, client_ip, host.as_deref(), is_https, trust);
    crate::handlers::forward_auth::insert_identity(&state, &user, out)?;
    for (name, value) in token_headers.iter() {
        out.insert(name.clone(), value.clone());
    }
    let uri = Uri::builder()
        .scheme("http")
        .authority(authority.as_str())
        .path_and_query(path_and_query.as_str())
        .build()
        .map_err(|err| {
            tracing::error!(error = %err, "proxy: could not build the upstream URI");
            WebError::refused(StatusCode::BAD_REQUEST, "This address cannot be passed on.")
        })?;

    let result = match client_upgrade {
        Some(client_upgrade) => {
            forward_upgrade(&authority, request, path_and_query, client_upgrade).await
        }
        None => {
            *request.uri_mut() = uri;
            *request.version_mut() = axum::http::Version::HTTP_11;
            state
                .upstream
                .client
                .request(request)
                .await
                .map(|response| response.map(Body::new))
                .map_err(ProxyError::from)
        }
    };
    match result {
        Ok(mut response) => {
            if response.status() != StatusCode::SWITCHING_PROTOCOLS {
                strip_hop_by_hop(response.headers_mut(), None);
            }
            let hub_cookies = [
                SESSION_COOKIE,
                crate::csrf::XSRF_COOKIE,
                super::oauth::BROWSER_COOKIE,
            ];
            for name in strip_hub_set_cookies(response.headers_mut(), &hub_cookies) {
                tracing::warn!(upstream = %authority, cookie = %name, "proxy: dropped an upstream's Set-Cookie for the hub's own cookie");
            }
            Ok(response)
        }
        Err(err) => {
            tracing::warn!(upstream = %authority, error = %err, "proxy: upstream unreachable");
            let page_user = PageUser {
                name: user.name.clone(),
                admin: user.admin,
                groups: user.groups.clone(),
            };
            Err(WebError::refused_to(
                page_user,
                StatusCode::BAD_GATEWAY,
                "The application behind this hub is not reachable right now. Try again in a moment.",
            ))
        }
    }
}

/// Sends an upgrade request (websocket handshake) on a connection of its own, and when the
/// upstream switches protocols, splices the client's and the upstream's connections.
async fn forward_upgrade(
    authority: &str,
    request: Request,
    path_and_query: String,
    client_upgrade: hyper::upgrade::OnUpgrade,
) -> Result<Response, ProxyError> {
    let stream = tokio::time::timeout(
        crate::proxy::CONNECT_TIMEOUT,
        tokio::net::TcpStream::connect(authority),
    )
    .await
    .map_err(|_| ProxyError::Timeout)?
    .map_err(ProxyError::Connect)?;
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake::<_, Body>(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        if let Err(err) = connection.with_upgrades().await {
            tracing::debug!(error = %err, "proxy: upstream upgrade connection ended");
        }
    });
    let (mut parts, _body) = request.into_parts();
    parts.uri = path_and_query
        .parse()
        .map_err(|_| ProxyError::Address(path_and_query.clone()))?;
    parts.version = axum::http::Version::HTTP_11;
    let mut response = sender
        .send_request(axum::http::Request::from_parts(parts, Body::empty()))
        .await?;
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        return Ok(response.map(Body::new));
    }
    let upstream_upgrade = hyper::upgrade::on(&mut response);
    tokio::spawn(async move {
        let (client, upstream) = match tokio::try_join!(client_upgrade, upstream_upgrade) {
            Ok(pair) => pair,
            Err(err) => {
                tracing::debug!(error = %err, "proxy: protocol upgrade failed");
                return;
            }
        };
        let mut client = TokioIo::new(client);
        let mut upstream = TokioIo::new(upstream);
        if let Err(err) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
            tracing::debug!(error = %err, "proxy: upgraded connection ended");
        }
    });
    let (parts, _) = response.into_parts();
    Ok(Response::from_parts(parts, Body::empty()))
}

/// The host of the request: the Host header and the authority of an absolute-form (or
/// HTTP/2) request URI, which must agree when both are given. `None` when neither is;
/// a bad or ambiguous host is refused, never taken as "no host".
fn request_host(request: &Request) -> Result<Option<HostName>, BadTarget> {
    let header = crate::request_target::single_host(request.headers(), "host")?;
    let authority = match request.uri().authority() {
        Some(authority) => {
            Some(HostName::parse(authority.as_str()).map_err(|_| BadTarget::Host("host"))?)
        }
        None => None,
    };
    match (header, authority) {
        (Some(header), Some(authority)) if !header.agrees_with(&authority) => {
            Err(BadTarget::HostMismatch)
        }
        (Some(header), _) => Ok(Some(header)),
        (None, authority) => Ok(authority),
    }
}

/// 400 for a request whose host or path cannot be read exactly; JSON when asked.
fn bad_request(headers: &axum::http::HeaderMap, err: &BadTarget) -> Result<Response, WebError> {
    let message = format!("This request cannot be passed on: {err}.");
    if wants_json(headers) {
        return Ok(ApiError::bad_request(message).into_response());
    }
    Err(WebError::refused(StatusCode::BAD_REQUEST, message))
}

/// Adds `X-Forwarded-For`, `-Proto` and `-Host`. From a `trusted_proxies` peer (the hub
/// behind another proxy) its values are kept and the peer's address appended; from any
/// other peer every forwarding header the client sent (`Forwarded` and `X-Real-IP`
/// included) is removed and the hub's own values are set, never appended to.
fn add_forwarded(
    headers: &mut axum::http::HeaderMap,
    client_ip: Option<IpAddr>,
    host: Option<&str>,
    is_https: bool,
    trust: bool,
) {
    let for_name = HeaderName::from_static("x-forwarded-for");
    let proto_name = HeaderName::from_static("x-forwarded-proto");
    let host_name = HeaderName::from_static("x-forwarded-host");
    if !trust {
        crate::forwarded::strip(headers);
    }
    let earlier: Vec<&str> = headers
        .get_all(&for_name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    let earlier_for = (!earlier.is_empty()).then(|| earlier.join(", "));
    let client = client_ip.map(|ip| ip.to_string());
    let forwarded_for = match (earlier_for, client) {
        (Some(earlier), Some(client)) => Some(format!("{earlier}, {client}")),
        (Some(earlier), None) => Some(earlier),
        (None, client) => client,
    };
    headers.remove(&for_name);
    if let Some(value) = forwarded_for.and_then(|value| HeaderValue::from_str(&value).ok()) {
        headers.insert(for_name, value);
    }
    if !(trust && headers.contains_key(&proto_name)) {
        headers.insert(
            proto_name,
            HeaderValue::from_static(if is_https { "https" } else { "http" }),
        );
    }
    if !(trust && headers.contains_key(&host_name)) {
        headers.remove(&host_name);
        if let Some(value) = host.and_then(|host| HeaderValue::from_str(host).ok()) {
            headers.insert(host_name, value);
        }
    }
}

fn wants_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.to_ascii_lowercase().contains("application/json"))
}

fn unauthorized(headers: &axum::http::HeaderMap) -> Response {
    if wants_json(headers) {
        return ApiError::new(StatusCode::UNAUTHORIZED, "login required").into_response();
    }
    (StatusCode::UNAUTHORIZED, "login required\n").into_response()
}
