//! Login sessions: an opaque random id in a cookie, its hash in the store.

use std::sync::Arc;

use axum::http::HeaderMap;
use hubauth_core::{AuthError, Outcome, RefreshOutcome, RequestContext, pipeline};
use hubauth_store::{NewSession, UserRecord};

use crate::cookies::{self, SESSION_COOKIE};
use crate::error::HubError;
use crate::secrets::{hash_token, random_token};
use crate::state::HubState;

/// The logged-in user of a request.
#[derive(Debug, Clone)]
pub struct SessionUser {
    /// The user as stored (shared with the session cache).
    pub user: Arc<UserRecord>,
    /// The hash of the session id (to end this session).
    pub session_hash: String,
}

/// Looks up the session cookie. Expired, revoked and unknown sessions give `None`.
pub async fn current_user(
    state: &HubState,
    headers: &HeaderMap,
) -> Result<Option<SessionUser>, HubError> {
    let Some(token) = cookies::get(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    if token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    let hash = hash_token(&token);
    let now = state.clock.now();
    let user = match state.sessions.get(&hash, now) {
        Some(user) => user,
        None => {
            let generation = state.sessions.generation();
            let Some(session) = state.store.get_session(&hash).await? else {
                return Ok(None);
            };
            if !session.is_valid_at(now) {
                end_expired(state, &session.user, &hash).await?;
                return Ok(None);
            }
            let Some(user) = state.store.get_user(&session.user).await? else {
                return Ok(None);
            };
            let user = Arc::new(user);
            state
                .sessions
                .insert(&hash, user.clone(), session.expires, now, generation);
            user
        }
    };
    if state.needs_refresh(&user.name, now) {
        return refresh(state, user, hash, now).await;
    }
    Ok(Some(SessionUser {
        user,
        session_hash: hash,
    }))
}

/// Refreshes the session user's auth info now, whatever its age (`refresh_pre_spawn`);
/// `None` when the refresh ended the session.
pub async fn refresh_now(
    state: &HubState,
    current: SessionUser,
    now: i64,
) -> Result<Option<SessionUser>, HubError> {
    refresh(state, current.user, current.session_hash, now).await
}

/// Refreshes a user's auth info (upstream's `refresh_auth`), then re-checks the rules on
/// what the provider now says (hubauth's fix F7). A user who no longer passes loses every
/// session; one whose info cannot be renewed must log in again. A provider outage never
/// turns into an error page: the session stays, and the refresh is retried later.
async fn refresh(
    state: &HubState,
    user: Arc<UserRecord>,
    session_hash: String,
    now: i64,
) -> Result<Option<SessionUser>, HubError> {
    let name = user.name.clone();
    let auth_state = crate::auth_state::load(state, &name).await?;
    let ctx = RequestContext::at(now);
    let outcome = state
        .authenticator
        .refresh_user(&ctx, &name, auth_state.as_ref())
        .await;
    let model = match outcome {
        Ok(RefreshOutcome::UpToDate) => {
            crate::metrics::refresh("up_to_date");
            state.mark_refreshed(&name, now);
            return Ok(Some(SessionUser { user, session_hash }));
        }
        Ok(RefreshOutcome::Updated(model)) => *model,
        Ok(RefreshOutcome::Expired) => {
            tracing::info!(user = %name, "User has stale auth info. Login is required to refresh.");
            crate::metrics::refresh("expired");
            let ended = end_user_access(state, &name, Some(&session_hash), false).await?;
            crate::metrics::sessions_ended("refresh", ended);
            return Ok(None);
        }
        Err(err @ AuthError::Upstream { .. }) => {
            tracing::warn!(user = %name, error = %err, "could not refresh auth info; keeping the session and retrying later");
            crate::metrics::refresh("provider_error");
            state.mark_refreshed(&name, now);
            return Ok(Some(SessionUser { user, session_hash }));
        }
        Err(err) => {
            tracing::warn!(user = %name, error = %err, "refreshing auth info failed; login is required");
            crate::metrics::refresh("failed");
            let ended = end_user_access(state, &name, Some(&session_hash), false).await?;
            crate::metrics::sessions_ended("refresh", ended);
            return Ok(None);
        }
    };
    let mut model = model;
    model.name = name.clone();
    if model.auth_state.is_none() {
        model.auth_state = auth_state;
    }
    match pipeline::recheck(state.authenticator.as_ref(), model).await {
        Ok(Outcome::Success(model)) => {
            let updated = crate::login::persist_refresh(state, &model).await?;
            crate::metrics::refresh("updated");
            state.mark_refreshed(&name, now);
            Ok(Some(SessionUser {
                user: Arc::new(updated),
                session_hash,
            }))
        }
        Ok(Outcome::Denied { reason, .. }) => {
            tracing::warn!(user = %name, reason = reason.as_str(), "User no longer passes the rules at refresh; ending all sessions");
            crate::metrics::refresh("revoked");
            let ended = end_user_access(state, &name, None, true).await?;
            crate::metrics::sessions_ended("revoked", ended);
            Ok(None)
        }
        Err(err) => {
            tracing::warn!(user = %name, error = %err, "re-checking rules at refresh failed; login is required");
            crate::metrics::refresh("failed");
            let ended = end_user_access(state, &name, Some(&session_hash), false).await?;
            crate::metrics::sessions_ended("refresh", ended);
            Ok(None)
        }
    }
}

/// Ends an expired session like a logout: the authenticator closes what it opened (PAM's
/// session), tokens issued to services in it are revoked, and the row goes. Returns whether
/// this call removed it (another request or replica may have been first).
pub async fn end_expired(
    state: &HubState,
    user: &str,
    session_hash: &str,
) -> Result<bool, HubError> {
    let ended = end_user_access(state, user, Some(session_hash), false).await?;
    crate::metrics::sessions_ended("expired", ended);
    Ok(ended > 0)
}

/// Ends a session (or every session of the user when `session_hash` is `None`) and, when
/// `revoke` is set, the stored tokens (auth_state) too. Returns how many sessions ended.
async fn end_user_access(
    state: &HubState,
    name: &str,
    session_hash: Option<&str>,
    revoke: bool,
) -> Result<u64, HubError> {
    let ended = match session_hash {
        Some(hash) => u64::from(state.store.delete_session(hash).await?),
        None => state.store.delete_user_sessions(name).await?,
    };
    state.sessions_changed(name);
    if revoke {
        state.store.set_auth_state(name, None).await?;
    }
    state.forget_refresh(name);
    crate::provider::revoke_session_tokens(state, name, session_hash).await?;
    if let Err(err) = state.authenticator.session_ended(name).await {
        tracing::warn!(user = %name, error = %err, "authenticator could not end its session");
    }
    Ok(ended)
}

/// Starts a session for a user; returns the `Set-Cookie` value.
pub async fn start(state: &HubState, headers: &HeaderMap, user: &str) -> Result<String, HubError> {
    let token = random_token();
    let now = state.clock.now();
    let lifetime = state.config.session_lifetime;
    state
        .store
        .create_session(NewSession {
            id_hash: hash_token(&token),
            user: user.to_owned(),
            created: now,
            expires: now.saturating_add(lifetime),
        })
        .await?;
    crate::metrics::session_started();
    Ok(cookies::set(
        SESSION_COOKIE,
        &token,
        Some(lifetime),
        state.cookie_attrs(headers),
    ))
}
