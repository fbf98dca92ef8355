//! `{base_url}hub/oauth_login` and `{base_url}hub/oauth_callback`: logins at an identity
//! provider ([`crate::services::Logins::begin_redirect`] and
//! [`finish_redirect`](crate::services::Logins::finish_redirect)). Here: the browser
//! binding (a signed cookie, so that a login can only be finished by the browser that
//! started it), the callback URL, and the pages.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use hubauth_core::{LoginMethod, RequestContext};
use serde::Deserialize;

use super::{ClientIp, redirect, see_other};
use crate::cookies;
use crate::secrets::hash_token;
use crate::services::{BadState, CallbackRefusal, LoginOutcome, RedirectDone, STATE_TTL};
use crate::state::{AppState, HubState};
use crate::web::{LoginAttempt, Now, WebError};

/// Cookie binding pending logins to this browser.
pub const BROWSER_COOKIE: &str = "hubauth-oauth-state";

/// What the browser cookie's signature is bound to.
const BROWSER_PURPOSE: &str = "oauth-browser";

/// The request's browser binding, when the hub minted it.
fn browser_binding(state: &HubState, headers: &HeaderMap) -> Option<String> {
    cookies::get_signed(headers, &state.secret, BROWSER_PURPOSE, BROWSER_COOKIE)
}

/// The `next` query parameter.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    /// Where to go after login.
    #[serde(default)]
    pub next: Option<String>,
}

/// The callback URL of `method`: its `oauth_callback_url`, else
/// `{base_url}hub/oauth_callback` on a hub with one login method and
/// `{base_url}hub/{method}/oauth_callback` on a hub with several.
fn callback_url(state: &HubState, headers: &HeaderMap, method: &LoginMethod) -> String {
    if let Some(url) = method
        .authenticator
        .redirect_login()
        .and_then(|login| login.configured_callback_url())
    {
        return url;
    }
    let segment = if method.name.is_empty() {
        String::new()
    } else {
        format!("{}/", method.name)
    };
    format!(
        "{}{}{segment}oauth_callback",
        state.public_origin(headers),
        state.hub_prefix()
    )
}

/// `GET /hub/oauth_login`: starts a login at the provider (on a hub with several login
/// methods, the default one's). Only a failure ends the attempt here; the redirect to the
/// provider logs nothing yet.
pub async fn login_start(
    State(state): State<AppState>,
    Now(now): Now,
    ClientIp(ip): ClientIp,
    attempt: LoginAttempt,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Result<Response, WebError> {
    let method = state.default_method().cloned();
    start(&state, now, ip, &attempt, &headers, query, method).await
}

/// `GET /hub/{method}/oauth_login`: starts a login at one login method's provider.
pub async fn method_login_start(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Now(now): Now,
    ClientIp(ip): ClientIp,
    attempt: LoginAttempt,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Result<Response, WebError> {
    let Some(method) = state.method(&name).cloned() else {
        return Err(super::misc::not_found().await);
    };
    start(&state, now, ip, &attempt, &headers, query, Some(method)).await
}

async fn start(
    state: &HubState,
    now: i64,
    ip: Option<std::net::IpAddr>,
    attempt: &LoginAttempt,
    headers: &HeaderMap,
    query: LoginQuery,
    method: Option<LoginMethod>,
) -> Result<Response, WebError> {
    let Some(method) = method.filter(|method| method.authenticator.redirect_login().is_some())
    else {
        return Err(refused(attempt, CallbackRefusal::NoProvider));
    };
    attempt.method(&method);
    // Only a binding this hub minted is kept (so two tabs can log in at once); a value the
    // client chose, e.g. planted from a sibling site to fix the binding, is replaced.
    let browser = browser_binding(state, headers)
        .unwrap_or_else(|| cookies::mint_signed(&state.secret, BROWSER_PURPOSE));
    let ctx = RequestContext { now, remote_ip: ip };
    let begun = state
        .logins()
        .begin_redirect(
            &ctx,
            &method,
            hash_token(&browser),
            query
                .next
                .as_deref()
                .and_then(|next| state.validate_next(next)),
            callback_url(state, headers, &method),
        )
        .await
        .map_err(|refusal| refused(attempt, refusal))?;
    let mut attrs = state.cookie_attrs(headers);
    let prefix = state.hub_prefix();
    attrs.path = &prefix;
    // (Re)set so the binding lives as long as the newest attempt.
    let binding = cookies::set(BROWSER_COOKIE, &browser, Some(STATE_TTL), attrs);
    Ok(redirect(&begun.authorize_url, &[binding]))
}

/// `GET /hub/oauth_callback`: the provider sends the browser back here (on a hub with
/// several login methods, the stored login says whose callback it is).
pub async fn callback(
    State(state): State<AppState>,
    Now(now): Now,
    ClientIp(ip): ClientIp,
    attempt: LoginAttempt,
    headers: HeaderMap,
    Query(query): Query<BTreeMap<String, String>>,
) -> Result<Response, WebError> {
    finish(&state, now, ip, &attempt, &headers, &query, None).await
}

/// `GET /hub/{method}/oauth_callback`: one login method's callback.
pub async fn method_callback(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Now(now): Now,
    ClientIp(ip): ClientIp,
    attempt: LoginAttempt,
    headers: HeaderMap,
    Query(query): Query<BTreeMap<String, String>>,
) -> Result<Response, WebError> {
    let Some(method) = state.method(&name) else {
        return Err(super::misc::not_found().await);
    };
    attempt.method(method);
    finish(&state, now, ip, &attempt, &headers, &query, Some(&name)).await
}

async fn finish(
    state: &HubState,
    now: i64,
    ip: Option<std::net::IpAddr>,
    attempt: &LoginAttempt,
    headers: &HeaderMap,
    query: &BTreeMap<String, String>,
    method: Option<&str>,
) -> Result<Response, WebError> {
    let ctx = RequestContext { now, remote_ip: ip };
    let browser = browser_binding(state, headers).map(|browser| hash_token(&browser));
    let mut user = None;
    let done = state
        .logins()
        .finish_redirect(&ctx, method, browser.as_deref(), query, &mut user)
        .await;
    if let Some(user) = &user {
        attempt.user(user);
    }
    match done.map_err(|refusal| refused(attempt, refusal))? {
        RedirectDone::LoggedIn { session, next } => {
            attempt.user(&session.user);
            attempt.outcome(LoginOutcome::LoggedIn);
            let cookie = super::login::session_cookie(state, headers, &session.token);
            let next = next.unwrap_or_else(|| state.default_next());
            Ok(see_other(&next, &[cookie]))
        }
        RedirectDone::Denied { name, reason } => {
            attempt.user(name.as_deref().unwrap_or(""));
            attempt.outcome(LoginOutcome::Denied(reason));
            Err(super::login::denied_page(state, reason))
        }
    }
}

/// Notes what a refused login came to, and the page it answers with.
fn refused(attempt: &LoginAttempt, refusal: CallbackRefusal) -> WebError {
    if let Some(outcome) = refusal.outcome() {
        attempt.outcome(outcome);
    }
    let page = |status, message: &str| WebError::refused(status, message);
    let bad_request = |message: &str| page(StatusCode::BAD_REQUEST, message);
    match refusal {
        CallbackRefusal::NoProvider => page(
            StatusCode::NOT_FOUND,
            "This hub does not log in through an identity provider.",
        ),
        CallbackRefusal::Provider(err) => err.into(),
        CallbackRefusal::TooManyFromAddress => page(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many logins were started from your address and not finished. Please finish one, or wait a few minutes.",
        ),
        CallbackRefusal::TableFull => page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many logins are in progress right now. Please try again in a few minutes.",
        ),
        CallbackRefusal::ProviderAnswered { description, .. } => {
            bad_request(&format!("OAuth error: {description}"))
        }
        CallbackRefusal::NoCode => bad_request("OAuth callback made without a code"),
        CallbackRefusal::BadState(bad) => bad_request(match bad {
            BadState::MissingFromUrl => "Missing argument state",
            BadState::NoCookie => "OAuth state missing from cookies",
            BadState::EmptyInUrl => "OAuth state missing from URL",
            BadState::Unknown
            | BadState::Unreadable
            | BadState::OtherBrowser
            | BadState::OtherMethod => "OAuth state mismatch",
            BadState::Expired => {
                "OAuth state expired: the login took too long. Please log in again."
            }
        }),
        CallbackRefusal::Failed(err) => err.into(),
    }
}
