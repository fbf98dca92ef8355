//! `GET|HEAD {base_url}hub/forward-auth`: the check a reverse proxy makes before letting a
//! request through to a protected app.
//!
//! - valid session, allowed by `forward_auth_rules` → 200, empty body, identity headers;
//! - valid session, not allowed → 403;
//! - valid session, and the host or URI the proxy describes cannot be read exactly while
//!   the rules need them → 403 naming the reason (not 400: nginx's `auth_request` turns
//!   any answer but 2xx, 401 and 403 into a 500);
//! - no session → 401 (nginx `auth_request`), or with `?redirect=true` (Traefik
//!   ForwardAuth, Caddy `forward_auth`) a 302 to the login page carrying the original URL
//!   in `next` when it may be returned to;
//! - a request that asks for JSON gets 401/403 with a JSON body, never a redirect.
//!
//! No token is put in a header unless `auth_state_headers` names it.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{encode_query, redirect};
use crate::api::ApiError;
use crate::forward_auth::{host_matches, is_allowed};
use crate::pages::PageUser;
use crate::request_target::{BadTarget, ForwardedTarget, HostName};
use crate::state::{AppState, HubState};
use crate::web::session::{gateway_token_user, resume_session};
use crate::web::{Now, WebError};

/// The forward-auth check, as a route (for [`crate::app`]; the hub's own listener calls
/// [`answer`] directly).
pub async fn check(
    State(state): State<AppState>,
    Now(now): Now,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    answer(&state, &headers, query.as_deref(), now).await
}

/// Answers a forward-auth check from the request's headers and query at `now`.
pub async fn answer(
    state: &HubState,
    headers: &HeaderMap,
    query: Option<&str>,
    now: i64,
) -> Response {
    let redirect_mode = query.is_some_and(asks_for_redirect);
    let mut response = match decide(state, headers, redirect_mode, now).await {
        Ok(response) => response,
        // A client that asked for JSON gets every answer as JSON, failures included.
        Err(err) if wants_json(headers) => ApiError::from(err).into_response(),
        Err(err) => err.into_response(),
    };
    state.metrics.forward_auth(response.status());
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Whether the query asks for a redirect to the login page instead of a bare 401
/// (`redirect=true`, as Traefik and Caddy are configured).
fn asks_for_redirect(query: &str) -> bool {
    url::form_urlencoded::parse(query.as_bytes())
        .any(|(key, value)| key == "redirect" && matches!(&*value, "true" | "1" | "yes"))
}

/// The answer for a request with a session allowed to the target, or why not.
async fn decide(
    state: &HubState,
    headers: &HeaderMap,
    redirect_mode: bool,
    now: i64,
) -> Result<Response, WebError> {
    let session = resume_session(state, headers, now).await?;
    let user = match &session {
        Some(current) => current.user.clone(),
        None => match gateway_token_user(state, headers, now).await? {
            Some(user) => user,
            None => {
                if wants_json(headers) {
                    return Ok(login_required_json());
                }
                if redirect_mode {
                    return Ok(redirect(&login_url(state, headers), &[]));
                }
                return Ok(StatusCode::UNAUTHORIZED.into_response());
            }
        },
    };
    let user = &user;
    let config = &state.config.forward_auth;
    // Without rules and with forward_auth_default = "allow" every logged-in user passes,
    // whatever the target (the hot path reads no more headers).
    if config.needs_target() {
        let target = match ForwardedTarget::from_headers(headers) {
            Ok(target) => target,
            Err(err) => {
                tracing::info!(user = %user.name, reason = %err, "forward-auth: request refused, its target cannot be read exactly");
                return refused(headers, user, &err);
            }
        };
        if !is_allowed(
            &config.rules,
            config.default,
            target.host.as_ref(),
            &target.uri.path,
            &user.name,
            &user.groups,
        ) {
            tracing::info!(user = %user.name, host = ?target.host.as_ref().map(ToString::to_string), "forward-auth: user not allowed by forward_auth_rules");
            return forbidden(headers, user, FORBIDDEN_MESSAGE);
        }
    }
    let mut response = StatusCode::OK.into_response();
    insert_identity(state, user, response.headers_mut())?;
    crate::identity_assertion::insert_forwarded(
        state,
        user,
        session
            .as_ref()
            .map(|current| current.session_hash.as_str()),
        headers,
        now,
        response.headers_mut(),
    );
    // A token request gets the identity only: auth_state headers follow a login session.
    let Some(current) = session else {
        return Ok(response);
    };
    let Some(token_headers) = crate::app_tokens::headers_for(state, current, now).await? else {
        // The refresh before handing tokens on ended the session.
        if redirect_mode && !wants_json(headers) {
            return Ok(redirect(&login_url(state, headers), &[]));
        }
        return Ok(json_or_plain_401(headers));
    };
    let out = response.headers_mut();
    for (name, value) in token_headers.iter() {
        out.insert(name.clone(), value.clone());
    }
    Ok(response)
}

const FORBIDDEN_MESSAGE: &str = "You are logged in but not allowed to use this application.";

/// The answer for a request whose host or URI cannot be read exactly: 403 with the
/// reason, since nginx's `auth_request` passes only 401 and 403 on to the client.
fn refused(
    headers: &HeaderMap,
    user: &hubauth_store::UserRecord,
    err: &BadTarget,
) -> Result<Response, WebError> {
    let message = format!("This request cannot be checked: {err}.");
    forbidden(headers, user, &message)
}

/// The answer for a logged-in user whom `forward_auth_rules` keep out.
fn forbidden(
    headers: &HeaderMap,
    user: &hubauth_store::UserRecord,
    message: &str,
) -> Result<Response, WebError> {
    if wants_json(headers) {
        return Ok(ApiError::forbidden(message).into_response());
    }
    let page_user = PageUser {
        name: user.name.clone(),
        admin: user.admin,
        groups: user.groups.clone(),
    };
    Err(WebError::refused_to(
        page_user,
        StatusCode::FORBIDDEN,
        message,
    ))
}

/// The JSON answer for a request without a session.
fn login_required_json() -> Response {
    ApiError::new(StatusCode::UNAUTHORIZED, "login required").into_response()
}

fn json_or_plain_401(headers: &HeaderMap) -> Response {
    if wants_json(headers) {
        login_required_json()
    } else {
        StatusCode::UNAUTHORIZED.into_response()
    }
}

/// Adds the identity headers (`forward_auth_*_header`) for `user`.
pub fn insert_identity(
    state: &HubState,
    user: &hubauth_store::UserRecord,
    out: &mut HeaderMap,
) -> Result<(), WebError> {
    let config = &state.config.forward_auth;
    let name = HeaderValue::from_str(&user.name).map_err(|_| {
        WebError::refused(
            StatusCode::FORBIDDEN,
            "This user name cannot be passed on in an HTTP header.",
        )
    })?;
    out.insert(config.user_header.clone(), name);
    if let Some(groups_header) = &config.groups_header
        && let Ok(value) = HeaderValue::from_str(&user.groups.join(","))
    {
        out.insert(groups_header.clone(), value);
    }
    if let Some(admin_header) = &config.admin_header {
        out.insert(
            admin_header.clone(),
            HeaderValue::from_static(if user.admin { "true" } else { "false" }),
        );
    }
    Ok(())
}

/// The login page address for a visitor without a session, with `next` when the original
/// URL can be read exactly (see [`ForwardedTarget`]) and may be returned to.
///
/// Without `public_url` the hub is assumed to share the app's origin (served under
/// `{base_url}hub/` by the same proxy): the login address is a path and `next` the
/// original path. With `public_url` the login address is absolute, and `next` is the
/// original path when the app's host is the hub's own, the full original URL when the host
/// is in `forward_auth_allowed_hosts`, and left out otherwise.
fn login_url(state: &HubState, headers: &HeaderMap) -> String {
    let login_path = format!("{}login", state.hub_prefix());
    let target = ForwardedTarget::from_headers(headers).ok();
    let uri = target
        .as_ref()
        .map(|target| target.uri.path_and_query.as_str());
    let host = target.as_ref().and_then(|target| target.host.as_ref());
    let public = url::Url::parse(&state.config.public_url).ok();
    let (prefix, next) = match &public {
        None => (String::new(), uri.and_then(|uri| state.validate_next(uri))),
        Some(public) => {
            let own_host = match (public.host_str(), public.port()) {
                (Some(host), Some(port)) => HostName::parse(&format!("{host}:{port}")).ok(),
                (Some(host), None) => HostName::parse(host).ok(),
                (None, _) => None,
            };
            let next = match (host, uri) {
                (Some(host), Some(uri))
                    if own_host.as_ref().is_some_and(|own| own.covers(host)) =>
                {
                    state.validate_next(uri)
                }
                (Some(host), Some(uri))
                    if state
                        .config
                        .forward_auth
                        .allowed_hosts
                        .iter()
                        .any(|allowed| host_matches(allowed, &host.to_string())) =>
                {
                    let proto = first_proto(headers).unwrap_or("https");
                    state.validate_next(&format!("{proto}://{host}{uri}"))
                }
                _ => None,
            };
            (public.origin().ascii_serialization(), next)
        }
    };
    match next {
        Some(next) => format!("{prefix}{login_path}?next={}", encode_query(&next)),
        None => format!("{prefix}{login_path}"),
    }
}

/// The original request's scheme (`X-Forwarded-Proto`), when it is http or https.
fn first_proto(headers: &HeaderMap) -> Option<&'static str> {
    match super::first_header_value(headers, "x-forwarded-proto")?
        .to_ascii_lowercase()
        .as_str()
    {
        "http" => Some("http"),
        "https" => Some("https"),
        _ => None,
    }
}

/// Whether the client asked for JSON (`Accept: application/json`).
fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.to_ascii_lowercase().contains("application/json"))
}
