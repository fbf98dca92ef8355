//! The session of a request: its cookie, and what the sessions service says about it.

use axum::http::HeaderMap;

use crate::cookies::{self, SESSION_COOKIE};
use crate::error::HubError;
use crate::services::{EndReason, Services, SessionCheck, SessionUser, StoredSession};

/// The request's session token (its session cookie), if it sent one.
pub(crate) fn session_token(headers: &HeaderMap) -> Option<String> {
    cookies::get(headers, SESSION_COOKIE)
}

/// Resumes the request's session at `now`: checks it ([`crate::services::Sessions::check`])
/// and does what the check says. Auth info due for a refresh is refreshed (which may end
/// the session), an expired session is ended; `None` when the request has no session (any
/// more).
pub(crate) async fn resume_session(
    hub: &Services,
    headers: &HeaderMap,
    now: i64,
) -> Result<Option<SessionUser>, HubError> {
    let Some(token) = session_token(headers) else {
        return Ok(None);
    };
    let sessions = hub.sessions();
    match sessions.check(&token, now).await? {
        SessionCheck::Absent => Ok(None),
        SessionCheck::Valid(current) => Ok(Some(current)),
        SessionCheck::RefreshDue(current) => sessions.refresh(current, now).await,
        SessionCheck::Ended(expired) => {
            sessions
                .end(
                    &expired.user,
                    Some(&expired.session_hash),
                    EndReason::Expired,
                )
                .await?;
            Ok(None)
        }
    }
}

/// The request's stored session, expired or not, never refreshed (what a logout ends).
pub(crate) async fn stored_session(
    hub: &Services,
    headers: &HeaderMap,
) -> Result<Option<StoredSession>, HubError> {
    match session_token(headers) {
        Some(token) => hub.sessions().find(&token).await,
        None => Ok(None),
    }
}

/// The user an API token in the request lets through the gateway, when
/// `forward_auth_accept_tokens` is on (see [`crate::services::Tokens::gateway_user`]).
pub(crate) async fn gateway_token_user(
    hub: &Services,
    headers: &HeaderMap,
    now: i64,
) -> Result<Option<std::sync::Arc<hubauth_store::UserRecord>>, HubError> {
    if !hub.config.forward_auth.accept_tokens {
        return Ok(None);
    }
    match crate::headers::bearer_token(headers) {
        Some(token) => hub.tokens().gateway_user(token, now).await,
        None => Ok(None),
    }
}
