//! `{base_url}hub/oauth_login` and `{base_url}hub/oauth_callback`: logins at an identity
//! provider. The hub owns the state: a random id per login attempt, stored server-side,
//! single-use, expiring after ten minutes, and bound to the browser by a cookie, so that
//! concurrent logins in two tabs both work (upstream F11) and a replayed or foreign state
//! is refused.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use hubauth_core::{Outcome, RedirectLogin, RequestContext};
use hubauth_store::{NewLoginState, PendingLoginLimits, PendingLoginOutcome, PendingLoginOwner};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ClientIp, redirect, see_other};
use crate::cookies;
use crate::login::{self, LoginOutcome};
use crate::secrets::{hash_token, random_token};
use crate::state::{AppState, HubState};
use crate::web::{LoginAttempt, WebError};

/// Cookie binding pending logins to this browser.
pub const BROWSER_COOKIE: &str = "hubauth-oauth-state";
/// How long a login attempt may take at the provider.
pub const STATE_TTL: i64 = 600;

/// Pending logins one browser may have at once (tabs); beyond it its oldest is dropped.
const PENDING_PER_BROWSER: u32 = 10;
/// What the browser cookie's signature is bound to.
const BROWSER_PURPOSE: &str = "oauth-browser";

/// The request's browser binding, when the hub minted it.
fn browser_binding(state: &HubState, headers: &HeaderMap) -> Option<String> {
    cookies::get_signed(headers, &state.secret, BROWSER_PURPOSE, BROWSER_COOKIE)
}

/// What the hub keeps about a login attempt until the callback.
#[derive(Debug, Serialize, Deserialize)]
struct PendingLogin {
    browser: String,
    next: Option<String>,
    redirect_uri: String,
    pending: Value,
}

/// The `next` query parameter.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    /// Where to go after login.
    #[serde(default)]
    pub next: Option<String>,
}

/// The authenticator's identity-provider login, or 404 for a hub that has none.
fn redirect_login(state: &HubState) -> Result<&dyn RedirectLogin, WebError> {
    state.authenticator.redirect_login().ok_or_else(|| {
        WebError::refused(
            StatusCode::NOT_FOUND,
            "This hub does not log in through an identity provider.",
        )
    })
}

fn callback_url(state: &HubState, headers: &HeaderMap) -> String {
    if let Some(url) = state
        .authenticator
        .redirect_login()
        .and_then(|login| login.configured_callback_url())
    {
        return url;
    }
    format!(
        "{}{}oauth_callback",
        state.public_origin(headers),
        state.hub_prefix()
    )
}

/// `GET /hub/oauth_login`: starts a login at the provider. Only a failure ends the
/// attempt here; the redirect to the provider logs nothing yet.
pub async fn login_start(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    attempt: LoginAttempt,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Result<Response, WebError> {
    let next = query.next.as_deref();
    let redirect_login = redirect_login(&state)?;
    let now = state.clock.now();
    let ctx = RequestContext { now, remote_ip: ip };
    // Only a binding this hub minted is kept (so two tabs can log in at once); a value the
    // client chose, e.g. planted from a sibling site to fix the binding, is replaced.
    let browser = browser_binding(&state, &headers)
        .unwrap_or_else(|| cookies::mint_signed(&state.secret, BROWSER_PURPOSE));
    let mut set_cookies = Vec::new();
    let mut attrs = state.cookie_attrs(&headers);
    let prefix = state.hub_prefix();
    attrs.path = &prefix;
    // (Re)set so the binding lives as long as the newest attempt.
    set_cookies.push(cookies::set(
        BROWSER_COOKIE,
        &browser,
        Some(STATE_TTL),
        attrs,
    ));
    let state_id = random_token();
    let redirect_uri = callback_url(&state, &headers);
    let start = redirect_login
        .begin(&ctx, &state_id, &redirect_uri)
        .await
        .map_err(|err| {
            attempt.outcome(LoginOutcome::ProviderError(err.to_string()));
            WebError::from(err)
        })?;
    let record = PendingLogin {
        browser: hash_token(&browser),
        next: next.and_then(|next| state.validate_next(next)),
        redirect_uri,
        pending: start.pending,
    };
    let owner = PendingLoginOwner {
        browser: record.browser.clone(),
        client: ip
            .map(|ip| crate::forwarded::bucket(ip).to_string())
            .unwrap_or_default(),
        next: record.next.clone().unwrap_or_default(),
    };
    let data = serde_json::to_string(&record).map_err(|err| WebError::crypt(err.to_string()))?;
    let limits = PendingLoginLimits {
        per_browser: PENDING_PER_BROWSER,
        per_client: state.config.pending_logins_per_address,
        total: state.config.pending_logins_max,
    };
    let stored = state
        .store
        .put_login_state_capped(
            NewLoginState {
                state_hash: hash_token(&state_id),
                data,
                created: now,
                expires: now + STATE_TTL,
            },
            owner,
            limits,
        )
        .await?;
    match stored {
        PendingLoginOutcome::Stored => {}
        PendingLoginOutcome::ClientLimit => {
            attempt.outcome(LoginOutcome::Refused(
                "too many pending logins from this address".to_owned(),
            ));
            return Err(WebError::refused(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many logins were started from your address and not finished. Please finish one, or wait a few minutes.",
            ));
        }
        PendingLoginOutcome::Full => {
            attempt.outcome(LoginOutcome::Refused(
                "the pending login table is full".to_owned(),
            ));
            tracing::warn!(
                limit = state.config.pending_logins_max,
                "pending_logins_max reached: login starts are refused until pending logins expire"
            );
            return Err(WebError::refused(
                StatusCode::SERVICE_UNAVAILABLE,
                "Too many logins are in progress right now. Please try again in a few minutes.",
            ));
        }
    }
    tracing::info!(
        authenticator = state.authenticator.class_name(),
        "OAuth redirect to the identity provider"
    );
    Ok(redirect(&start.authorize_url, &set_cookies))
}

fn bad_request(message: &str) -> WebError {
    WebError::refused(StatusCode::BAD_REQUEST, message)
}

/// `GET /hub/oauth_callback`: the provider sends the browser back here.
pub async fn callback(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    attempt: LoginAttempt,
    headers: HeaderMap,
    Query(query): Query<BTreeMap<String, String>>,
) -> Result<Response, WebError> {
    let redirect_login = redirect_login(&state)?;
    let now = state.clock.now();
    let ctx = RequestContext { now, remote_ip: ip };
    let url_state = query.get("state");
    // Whatever happens next, a state that came back is used up.
    let record = match url_state.filter(|value| !value.is_empty()) {
        Some(value) => state.store.take_login_state(&hash_token(value)).await?,
        None => None,
    };
    if let Some(error) = query.get("error") {
        let description = query
            .get("error_description")
            .filter(|d| !d.is_empty())
            .unwrap_or(error);
        attempt.outcome(LoginOutcome::ProviderError(format!(
            "the provider answered with error {}",
            hubauth_core::pipeline::loggable(error)
        )));
        return Err(bad_request(&format!("OAuth error: {description}")));
    }
    if query.get("code").is_none_or(|code| code.is_empty()) {
        attempt.outcome(LoginOutcome::ProviderError(
            "callback without a code".to_owned(),
        ));
        return Err(bad_request("OAuth callback made without a code"));
    }
    let Some(url_state) = url_state else {
        attempt.outcome(LoginOutcome::BadState("state missing from the URL"));
        return Err(bad_request("Missing argument state"));
    };
    let Some(browser) = browser_binding(&state, &headers) else {
        attempt.outcome(LoginOutcome::BadState("state cookie missing"));
        return Err(bad_request("OAuth state missing from cookies"));
    };
    if url_state.is_empty() {
        attempt.outcome(LoginOutcome::BadState("state missing from the URL"));
        return Err(bad_request("OAuth state missing from URL"));
    }
    let Some(record) = record else {
        attempt.outcome(LoginOutcome::BadState("state unknown or already used"));
        return Err(bad_request("OAuth state mismatch"));
    };
    let pending: PendingLogin = serde_json::from_str(&record.data).map_err(|_| {
        attempt.outcome(LoginOutcome::BadState("stored state unreadable"));
        bad_request("OAuth state mismatch")
    })?;
    if pending.browser != hash_token(&browser) {
        attempt.outcome(LoginOutcome::BadState("state belongs to another browser"));
        return Err(bad_request("OAuth state mismatch"));
    }
    if !record.is_valid_at(now) {
        attempt.outcome(LoginOutcome::BadState("state expired"));
        return Err(bad_request(
            "OAuth state expired: the login took too long. Please log in again.",
        ));
    }
    let model = match redirect_login
        .complete(&ctx, &pending.redirect_uri, &query, &pending.pending)
        .await
    {
        Ok(model) => {
            attempt.user(&model.name);
            model
        }
        Err(err) => {
            attempt.outcome(LoginOutcome::ProviderError(err.to_string()));
            return Err(err.into());
        }
    };
    let outcome = hubauth_core::authorize(
        state.authenticator.as_ref(),
        state.hook.as_deref(),
        &ctx,
        model,
    )
    .await?;
    match outcome {
        Outcome::Success(model) => {
            let cookie = login::complete_login(&state, &headers, &model, now).await?;
            attempt.user(&model.name);
            attempt.outcome(LoginOutcome::LoggedIn);
            let next = pending.next.unwrap_or_else(|| state.default_next());
            Ok(see_other(&next, &[cookie]))
        }
        Outcome::Denied { name, reason } => {
            attempt.user(name.as_deref().unwrap_or(""));
            attempt.outcome(LoginOutcome::Denied(reason));
            Err(WebError::refused(
                StatusCode::FORBIDDEN,
                &state.authenticator.rules().config().custom_403_message,
            ))
        }
    }
}
