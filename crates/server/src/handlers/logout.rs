//! `GET/POST {base_url}hub/logout`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Serialize;

use super::{app_error_page, html, redirect};
use crate::cookies::{self, SESSION_COOKIE};
use crate::error::AppError;
use crate::secrets::hash_token;
use crate::state::{AppState, HubState};

#[derive(Serialize)]
struct LogoutContext {
    hub_prefix: String,
    user: Option<()>,
    warning: Option<String>,
}

/// Ends the session (its row is deleted, so the old cookie is refused from now on), clears
/// the cookie, then goes to `logout_redirect_url`, the signed-out page (with `auto_login`)
/// or the login page.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match logout_inner(&state, &headers).await {
        Ok(response) => response,
        Err(err) => app_error_page(&state, err),
    }
}

async fn logout_inner(state: &HubState, headers: &HeaderMap) -> Result<Response, AppError> {
    let config = state.authenticator.rules().config();
    let mut provider_logout = None;
    let mut logout_warning: Option<String> = None;
    if let Some(token) = cookies::get(headers, SESSION_COOKIE).filter(|token| !token.is_empty()) {
        let hash = hash_token(&token);
        let session = state.store.get_session(&hash).await?;
        if state.store.delete_session(&hash).await? {
            crate::metrics::sessions_ended("logout", 1);
        }
        state.sessions.invalidate_session(&hash);
        if let Some(session) = session {
            tracing::info!(user = %session.user, "User logged out");
            state.forget_refresh(&session.user);
            crate::provider::revoke_session_tokens(state, &session.user, Some(&hash)).await?;
            if let Err(err) = state.authenticator.session_ended(&session.user).await {
                tracing::warn!(user = %session.user, error = %err, "authenticator could not end its session");
            }
            let auth_state = crate::auth_state::load(state, &session.user).await?;
            let effects = state
                .authenticator
                .on_logout(&session.user, auth_state.as_ref())
                .await;
            if let Some(replacement) = &effects.auth_state {
                let now = u64::try_from(state.clock.now()).unwrap_or(0);
                let token = state
                    .crypt
                    .encrypt_json(replacement, now)
                    .map_err(|err| AppError::Crypt(err.to_string()))?;
                state
                    .store
                    .set_auth_state(&session.user, Some(token))
                    .await?;
            }
            if let Some(warning) = effects.warning {
                tracing::warn!(user = %session.user, warning = %warning, "logout completed with a warning");
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
    }
    let clear = vec![cookies::clear(SESSION_COOKIE, state.cookie_attrs(headers))];
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
        return Ok(redirect(&url, &clear));
    }
    if !config.logout_redirect_url.is_empty() {
        return Ok(redirect(&config.logout_redirect_url, &clear));
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
    Ok(redirect(&format!("{}login", state.hub_prefix()), &clear))
}
