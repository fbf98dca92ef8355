//! Login sessions: an opaque random id in a cookie, its hash in the store.

use axum::http::HeaderMap;
use hubauth_store::{NewSession, UserRecord};

use crate::cookies::{self, SESSION_COOKIE};
use crate::error::AppError;
use crate::secrets::{hash_token, random_token};
use crate::state::HubState;

/// The logged-in user of a request.
#[derive(Debug, Clone)]
pub struct SessionUser {
    /// The user as stored.
    pub user: UserRecord,
    /// The hash of the session id (to end this session).
    pub session_hash: String,
}

/// Looks up the session cookie. Expired, revoked and unknown sessions give `None`.
pub async fn current_user(
    state: &HubState,
    headers: &HeaderMap,
) -> Result<Option<SessionUser>, AppError> {
    let Some(token) = cookies::get(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    if token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    let hash = hash_token(&token);
    let Some(session) = state.store.get_session(&hash).await? else {
        return Ok(None);
    };
    let now = state.clock.now();
    if !session.is_valid_at(now) {
        state.store.delete_session(&hash).await?;
        return Ok(None);
    }
    let Some(user) = state.store.get_user(&session.user).await? else {
        return Ok(None);
    };
    Ok(Some(SessionUser {
        user,
        session_hash: hash,
    }))
}

/// Starts a session for a user; returns the `Set-Cookie` value.
pub async fn start(state: &HubState, headers: &HeaderMap, user: &str) -> Result<String, AppError> {
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
    Ok(cookies::set(
        SESSION_COOKIE,
        &token,
        Some(lifetime),
        state.cookie_attrs(headers),
    ))
}
