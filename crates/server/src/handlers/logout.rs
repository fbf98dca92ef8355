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
use crate::error::HubError;
use crate::secrets::hash_token;
use crate::session::SessionUser;
use crate::state::{AppState, HubState};
use crate::web::WebError;

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
    current: &LoggedIn,
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

/// The session a logout is about: the user and the hash of the session id.
#[derive(Debug, Clone)]
pub(crate) struct LoggedIn {
    /// The session's user.
    pub user: String,
    /// The hash of the session id.
    pub session_hash: String,
}

impl From<&SessionUser> for LoggedIn {
    fn from(current: &SessionUser) -> Self {
        LoggedIn {
            user: current.user.name.clone(),
            session_hash: current.session_hash.clone(),
        }
    }
}

/// The stored session named by the request's cookie, expired or not (a logout ends it
/// either way). Unlike [`crate::session::current_user`] this never refreshes the user's
/// auth info: signing out must not call the identity provider first.
async fn stored_session(
    state: &HubState,
    headers: &HeaderMap,
) -> Result<Option<LoggedIn>, HubError> {
    let Some(token) = cookies::get(headers, SESSION_COOKIE)
        .filter(|token| !token.is_empty() && token.len() <= 128)
    else {
        return Ok(None);
    };
    let hash = hash_token(&token);
    Ok(state
        .store
        .get_session(&hash)
        .await?
        .map(|session| LoggedIn {
            user: session.user,
            session_hash: hash,
        }))
}

/// `GET {base_url}hub/logout`: the confirmation page for a logged-in user; without a
/// session, straight on to where a logout goes.
pub async fn get(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, WebError> {
    match stored_session(&state, &headers).await? {
        Some(current) => confirm_page(
            &state,
            &current,
            StatusCode::OK,
            &format!("{}logout", state.hub_prefix()),
            None,
            "",
        ),
        None => log_out(&state, &headers, None).await,
    }
}

/// `POST {base_url}hub/logout`: logs out when the form token fits the session; a post
/// without it (a cross-site form) gets the confirmation page again with 403.
pub async fn post(
    State(state): State<AppState>,
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
            log_out(&state, &headers, Some(&current)).await
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
        None => log_out(&state, &headers, None).await,
    }
}

/// Ends `current`'s session (its row is deleted, so the old cookie is refused from now
/// on), clears the cookie, then goes to `logout_redirect_url`, the signed-out page (with
/// `auto_login`) or the login page.
async fn log_out(
    state: &HubState,
    headers: &HeaderMap,
    current: Option<&LoggedIn>,
) -> Result<Response, WebError> {
    let config = state.authenticator.rules().config();
    let mut provider_logout = None;
    let mut logout_warning: Option<String> = None;
    if let Some(current) = current {
        let hash = &current.session_hash;
        let name = &current.user;
        if state.store.delete_session(hash).await? {
            crate::metrics::sessions_ended("logout", 1);
        }
        state.sessions.invalidate_session(hash);
        tracing::info!(user = %name, "User logged out");
        state.forget_refresh(name);
        crate::provider::revoke_session_tokens(state, name, Some(hash)).await?;
        if let Err(err) = state.authenticator.session_ended(name).await {
            tracing::warn!(user = %name, error = %err, "authenticator could not end its session");
        }
        let auth_state = crate::auth_state::load(state, name).await?;
        let effects = state
            .authenticator
            .on_logout(name, auth_state.as_ref())
            .await;
        if let Some(replacement) = &effects.auth_state {
            let now = u64::try_from(state.clock.now()).unwrap_or(0);
            let token = state
                .crypt
                .encrypt_json(replacement, now)
                .map_err(|err| WebError::crypt(err.to_string()))?;
            state.store.set_auth_state(name, Some(token)).await?;
        }
        if let Some(warning) = effects.warning {
            tracing::warn!(user = %name, warning = %warning, "logout completed with a warning");
            logout_warning = Some(warning);
        }
        if let Some(redirect_login) = state.authenticator.redirect_login() {
            let after = if config.logout_redirect_url.is_empty() {
                format!(
                    "{}{}login",
                    state.public_origin(headers),
                    state.hub_prefix()
                )
            } else {
                config.logout_redirect_url.clone()
            };
            let current = effects.auth_state.as_ref().or(auth_state.as_ref());
            provider_logout = redirect_login.logout_redirect(current, &after).await;
        }
    }
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
