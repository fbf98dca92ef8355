//! `GET|HEAD {base_url}hub/forward-auth`: the check a reverse proxy makes before letting a
//! request through to a protected app.
//!
//! - valid session, allowed by `forward_auth_rules` → 200, empty body, identity headers;
//! - valid session, not allowed → 403;
//! - no session → 401 (nginx `auth_request`), or with `?redirect=true` (Traefik
//!   ForwardAuth, Caddy `forward_auth`) a 302 to the login page carrying the original URL
//!   in `next` when it may be returned to;
//! - a request that asks for JSON gets 401/403 with a JSON body, never a redirect.
//!
//! No token is put in a header unless `auth_state_headers` names it.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{app_error_page, encode_query, error_page, redirect};
use crate::error::AppError;
use crate::forward_auth::{host_matches, is_allowed, is_plausible_host};
use crate::pages::PageUser;
use crate::session;
use crate::state::{AppState, HubState};

/// The forward-auth check, as a route (for [`crate::app`]; the hub's own listener calls
/// [`answer`] directly).
pub async fn check(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    answer(&state, &headers, query.as_deref()).await
}

/// Answers a forward-auth check from the request's headers and query.
pub async fn answer(state: &HubState, headers: &HeaderMap, query: Option<&str>) -> Response {
    let redirect_mode = query.is_some_and(asks_for_redirect);
    let mut response = match check_inner(state, headers, redirect_mode).await {
        Ok(response) => response,
        Err(err) if wants_json(headers) => {
            let (status, message) = err.status_and_message();
            if status.is_server_error() {
                tracing::error!(error = %err, "forward-auth check failed");
            }
            let mut response = json_error(status, &message);
            crate::error::add_retry_after(&mut response);
            response
        }
        Err(err) => app_error_page(state, err),
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

async fn check_inner(
    state: &HubState,
    headers: &HeaderMap,
    redirect_mode: bool,
) -> Result<Response, AppError> {
    let Some(current) = session::current_user(state, headers).await? else {
        if wants_json(headers) {
            return Ok(json_error(StatusCode::UNAUTHORIZED, "login required"));
        }
        if redirect_mode {
            let target = Target::from_headers(headers);
            return Ok(redirect(&login_url(state, &target), &[]));
        }
        return Ok(StatusCode::UNAUTHORIZED.into_response());
    };
    let user = &current.user;
    let rules = &state.config.forward_auth.rules;
    // Without rules every logged-in user passes, whatever the target.
    if !rules.is_empty() {
        let target = Target::from_headers(headers);
        if !is_allowed(
            rules,
            target.host.as_deref(),
            &target.uri,
            &user.name,
            &user.groups,
        ) {
            tracing::info!(user = %user.name, host = ?target.host, "forward-auth: user not allowed by forward_auth_rules");
            return forbidden(state, headers, user);
        }
    }
    let mut response = StatusCode::OK.into_response();
    insert_identity(state, user, response.headers_mut())?;
    let Some(token_headers) = crate::app_tokens::headers_for(state, current).await? else {
        // The refresh before handing tokens on ended the session.
        if redirect_mode && !wants_json(headers) {
            let target = Target::from_headers(headers);
            return Ok(redirect(&login_url(state, &target), &[]));
        }
        return Ok(json_or_plain_401(headers));
    };
    let out = response.headers_mut();
    for (name, value) in token_headers.iter() {
        out.insert(name.clone(), value.clone());
    }
    Ok(response)
}

/// The answer for a logged-in user whom `forward_auth_rules` keep out.
fn forbidden(
    state: &HubState,
    headers: &HeaderMap,
    user: &hubauth_store::UserRecord,
) -> Result<Response, AppError> {
    let message = "You are logged in but not allowed to use this application.";
    if wants_json(headers) {
        return Ok(json_error(StatusCode::FORBIDDEN, message));
    }
    let page_user = PageUser {
        name: user.name.clone(),
        admin: user.admin,
        groups: user.groups.clone(),
    };
    error_page(state, StatusCode::FORBIDDEN, message, Some(&page_user))
}

fn json_or_plain_401(headers: &HeaderMap) -> Response {
    if wants_json(headers) {
        json_error(StatusCode::UNAUTHORIZED, "login required")
    } else {
        StatusCode::UNAUTHORIZED.into_response()
    }
}

/// Adds the identity headers (`forward_auth_*_header`) for `user`.
pub fn insert_identity(
    state: &HubState,
    user: &hubauth_store::UserRecord,
    out: &mut HeaderMap,
) -> Result<(), AppError> {
    let config = &state.config.forward_auth;
    let name = HeaderValue::from_str(&user.name).map_err(|_| {
        AppError::user(
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

/// The original request as the proxy describes it.
struct Target {
    proto: Option<String>,
    host: Option<String>,
    uri: String,
}

impl Target {
    fn from_headers(headers: &HeaderMap) -> Target {
        let first = |name: &str| super::first_header_value(headers, name);
        let host = first("x-forwarded-host")
            .or_else(|| first("host"))
            .filter(|host| is_plausible_host(host));
        let uri = headers
            .get("x-forwarded-uri")
            .or_else(|| headers.get("x-original-uri"))
            .and_then(|value| value.to_str().ok())
            .filter(|uri| uri.starts_with('/') && !uri.starts_with("//"))
            .unwrap_or("/")
            .to_owned();
        let proto = first("x-forwarded-proto")
            .map(|proto| proto.to_ascii_lowercase())
            .filter(|proto| proto == "http" || proto == "https");
        Target { proto, host, uri }
    }
}

/// The login page address for a visitor without a session, with `next` when the original
/// URL may be returned to.
///
/// Without `public_url` the hub is assumed to share the app's origin (served under
/// `{base_url}hub/` by the same proxy): the login address is a path and `next` the
/// original path. With `public_url` the login address is absolute, and `next` is the
/// original path when the app's host is the hub's own, the full original URL when the host
/// is in `forward_auth_allowed_hosts`, and left out otherwise.
fn login_url(state: &HubState, target: &Target) -> String {
    let login_path = format!("{}login", state.hub_prefix());
    let public = url::Url::parse(&state.config.public_url).ok();
    let (prefix, next) = match &public {
        None => (String::new(), state.validate_next(&target.uri)),
        Some(public) => {
            let own_host = match (public.host_str(), public.port()) {
                (Some(host), Some(port)) => format!("{host}:{port}"),
                (Some(host), None) => host.to_owned(),
                (None, _) => String::new(),
            };
            let next = match &target.host {
                Some(host) if !own_host.is_empty() && host_matches(&own_host, host) => {
                    state.validate_next(&target.uri)
                }
                Some(host)
                    if state
                        .config
                        .forward_auth
                        .allowed_hosts
                        .iter()
                        .any(|allowed| host_matches(allowed, host)) =>
                {
                    let proto = target.proto.as_deref().unwrap_or("https");
                    state.validate_next(&format!("{proto}://{host}{}", target.uri))
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

/// Whether the client asked for JSON (`Accept: application/json`).
fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.to_ascii_lowercase().contains("application/json"))
}

fn json_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(serde_json::json!({ "status": status.as_u16(), "message": message })),
    )
        .into_response()
}
