//! `GET/POST {base_url}hub/logout`.
//!
//! Ending a session changes state, so another site must not be able to do it with a link,
//! an image or a frame (logout CSRF). A GET with a session only shows a confirmation page;
//! its form POSTs a token bound to the session (see [`crate::csrf::session_token`]), and
//! only that POST logs out. Without a session there is nothing to protect, and both go
//! where a logout would.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Serialize;

use super::{html, redirect};
use crate::cookies::{self, SESSION_COOKIE};
use crate::csrf;
use crate::services::{LoggedOut, StoredSession};
use crate::state::{AppState, HubState};
use crate::web::session::stored_session;
use crate::web::{Now, WebError};

#[derive(Serialize)]
struct LogoutContext {
    hub_prefix: String,
    user: Option<()>,
    warning: Option<String>,
}

/// The confirmation page's context (shared with the provider's end-session endpoint).
#[derive(Serialize)]
struct ConfirmContext<'a> {
    hub_prefix: String,
    name: &'a str,
    service: Option<&'a str>,
    action: &'a str,
    xsrf: String,
    error: &'a str,
}

/// The "Sign out?" page for `current`: a POST form to `action` with the session's form
/// token. `service` names the application that asked; `error` explains a refused post.
pub(crate) fn confirm_page(
    state: &HubState,
    current: &StoredSession,
    status: StatusCode,
    action: &str,
    service: Option<&str>,
    error: &str,
) -> Result<Response, WebError> {
    let body = state.pages.render(
        "logout_confirm.html",
        ConfirmContext {
            hub_prefix: state.hub_prefix(),
            name: &current.user,
            service,
            action,
            xsrf: csrf::session_token(&state.secret, &current.session_hash),
            error,
        },
    )?;
    Ok(html(status, body, &[]))
}

/// The `_xsrf` field of a form body (empty when absent).
pub(crate) fn form_xsrf(body: &[u8]) -> String {
    url::form_urlencoded::parse(body)
        .find(|(key, _)| key == "_xsrf")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

/// What a refused logout post is told.
pub(crate) const REFUSED_POST: &str =
    "This sign-out request was not sent by the hub's own page. Confirm to sign out.";

/// `GET {base_url}hub/logout`: the confirmation page for a logged-in user; without a
/// session, straight on to where a logout goes.
pub async fn get(
    State(state): State<AppState>,
    Now(now): Now,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    match stored_session(&state, &headers).await? {
        Some(current) => confirm_page(
            &state,
            &current,
            StatusCode::OK,
            &format!("{}logout", state.hub_prefix()),
            None,
            "",
        ),
        None => log_out(&state, &headers, None, now).await,
    }
}

/// `POST {base_url}hub/logout`: logs out when the form token fits the session; a post
/// without it (a cross-site form) gets the confirmation page again with 403.
pub async fn post(
    State(state): State<AppState>,
    Now(now): Now,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WebError> {
    match stored_session(&state, &headers).await? {
        Some(current)
            if csrf::check_session_token(
                &state.secret,
                &current.session_hash,
                &form_xsrf(&body),
            ) =>
        {
            log_out(&state, &headers, Some(&current), now).await
        }
        Some(current) => {
            tracing::warn!(user = %current.user, "refused a logout post without this session's form token");
            confirm_page(
                &state,
                &current,
                StatusCode::FORBIDDEN,
                &format!("{}logout", state.hub_prefix()),
                None,
                REFUSED_POST,
            )
        }
        None => log_out(&state, &headers, None, now).await,
    }
}

/// Ends `current`'s session (its row is deleted, so the old cookie is refused from now
/// on), clears the cookie, then goes to `logout_redirect_url`, the signed-out page (with
/// `auto_login`) or the login page.
async fn log_out(
    state: &HubState,
    headers: &HeaderMap,
    current: Option<&StoredSession>,
    now: i64,
) -> Result<Response, WebError> {
    let config = state.authenticator.rules().config();
    let LoggedOut {
        warning: logout_warning,
        provider_logout,
    } = match current {
        Some(current) => {
            let after = if config.logout_redirect_url.is_empty() {
                format!(
                    "{}{}login",
                    state.public_origin(headers),
                    state.hub_prefix()
                )
            } else {
                config.logout_redirect_url.clone()
            };
            state.sessions().log_out(current, &after, now).await?
        }
        None => LoggedOut::default(),
    };
    let clear = vec![cookies::clear(SESSION_COOKIE, state.cookie_attrs(headers))];
    let go = |location: &str| redirect(location, &clear);
    if logout_warning.is_some() {
        let body = state.pages.render(
            "logout.html",
            LogoutContext {
                hub_prefix: state.hub_prefix(),
                user: None,
                warning: logout_warning,
            },
        )?;
        return Ok(html(StatusCode::OK, body, &clear));
    }
    if let Some(url) = provider_logout {
        return Ok(go(&url));
    }
    if !config.logout_redirect_url.is_empty() {
        return Ok(go(&config.logout_redirect_url));
    }
    if config.auto_login {
        let body = state.pages.render(
            "logout.html",
            LogoutContext {
                hub_prefix: state.hub_prefix(),
                user: None,
                warning: None,
            },
        )?;
        return Ok(html(StatusCode::OK, body, &clear));
    }
    Ok(go(&format!("{}login", state.hub_prefix())))
}
