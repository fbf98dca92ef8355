//! Login sessions: an opaque random id (in the browser's cookie), its hash in the store.
//!
//! [`Sessions::check`] only reads: it answers whether a session is valid, valid but due
//! for a refresh of its user's auth info, or ended by its expiry. The caller then does
//! what the answer says, explicitly: [`Sessions::refresh`] (which calls the identity
//! provider and may end sessions) or [`Sessions::end`].

use std::sync::Arc;

use hubauth_core::{AuthError, Outcome, RefreshOutcome, RequestContext, pipeline};
use hubauth_store::{NewSession, ProviderSessionLink, UserRecord};

use super::Services;
use crate::error::HubError;
use crate::secrets::{hash_token, random_token};

/// Longest session token looked up (longer values are refused without a database query).
const MAX_TOKEN_LEN: usize = 128;

/// The logged-in user of a request.
#[derive(Debug, Clone)]
pub struct SessionUser {
    /// The user as stored (shared with the session cache).
    pub user: Arc<UserRecord>,
    /// The hash of the session id (to end this session).
    pub session_hash: String,
}

/// A stored session as a logout sees it, expired or not.
#[derive(Debug, Clone)]
pub struct StoredSession {
    /// The session's user.
    pub user: String,
    /// The hash of the session id.
    pub session_hash: String,
}

impl From<&SessionUser> for StoredSession {
    fn from(current: &SessionUser) -> Self {
        StoredSession {
            user: current.user.name.clone(),
            session_hash: current.session_hash.clone(),
        }
    }
}

/// What [`Sessions::check`] says about a session token.
#[derive(Debug)]
pub enum SessionCheck {
    /// No session: the token is unknown, revoked or malformed, or its user is gone.
    Absent,
    /// A valid session.
    Valid(SessionUser),
    /// A valid session whose user's auth info is older than `auth_refresh_age`: refresh
    /// it ([`Sessions::refresh`]) before the session is used.
    RefreshDue(SessionUser),
    /// The session expired: end it ([`Sessions::end`] with [`EndReason::Expired`]); the
    /// request has no session.
    Ended(StoredSession),
}

/// Why sessions end (the `reason` of `hubauth_sessions_ended_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The user logged out.
    Logout,
    /// The session's lifetime is over.
    Expired,
    /// The user's auth info could not be renewed: they must log in again.
    Refresh,
    /// The user no longer passes the login rules: every session and the stored tokens go.
    Revoked,
}

impl EndReason {
    fn label(self) -> &'static str {
        match self {
            EndReason::Logout => "logout",
            EndReason::Expired => "expired",
            EndReason::Refresh => "refresh",
            EndReason::Revoked => "revoked",
        }
    }
}

/// The sessions service (see the module documentation).
#[derive(Debug, Clone, Copy)]
pub struct Sessions<'a> {
    hub: &'a Services,
}

impl<'a> Sessions<'a> {
    pub(super) fn new(hub: &'a Services) -> Self {
        Sessions { hub }
    }

    /// Checks a session token at `now` (see [`SessionCheck`]). It changes nothing but the
    /// in-memory cache of valid sessions.
    pub async fn check(&self, token: &str, now: i64) -> Result<SessionCheck, HubError> {
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Ok(SessionCheck::Absent);
        }
        let hub = self.hub;
        let hash = hash_token(token);
        let user = match hub.session_cache.get(&hash, now) {
            Some(user) => user,
            None => {
                let generation = hub.session_cache.generation();
                let Some(session) = hub.store.get_session(&hash).await? else {
                    return Ok(SessionCheck::Absent);
                };
                if !session.is_valid_at(now) {
                    return Ok(SessionCheck::Ended(StoredSession {
                        user: session.user,
                        session_hash: hash,
                    }));
                }
                let Some(user) = hub.store.get_user(&session.user).await? else {
                    return Ok(SessionCheck::Absent);
                };
                let user = Arc::new(user);
                hub.session_cache
                    .insert(&hash, user.clone(), session.expires, now, generation);
                user
            }
        };
        let current = SessionUser {
            user,
            session_hash: hash,
        };
        if self.needs_refresh(&current.user.name, now) {
            Ok(SessionCheck::RefreshDue(current))
        } else {
            Ok(SessionCheck::Valid(current))
        }
    }

    /// The stored session of a token, expired or not, without a refresh (a logout ends
    /// it either way, and must not call the identity provider first).
    pub async fn find(&self, token: &str) -> Result<Option<StoredSession>, HubError> {
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Ok(None);
        }
        let hash = hash_token(token);
        Ok(self
            .hub
            .store
            .get_session(&hash)
            .await?
            .map(|session| StoredSession {
                user: session.user,
                session_hash: hash,
            }))
    }

    /// Starts a session for a user at `now`; returns the token for the cookie.
    pub async fn start(&self, user: &str, now: i64) -> Result<String, HubError> {
        self.start_linked(user, now, None).await
    }

    /// [`Sessions::start`] for a login at an OpenID provider: the session is stored linked
    /// to the provider session it came from (`provider`), for back-channel logout.
    pub async fn start_linked(
        &self,
        user: &str,
        now: i64,
        provider: Option<ProviderSessionLink>,
    ) -> Result<String, HubError> {
        let token = random_token();
        self.hub
            .store
            .create_session(NewSession {
                id_hash: hash_token(&token),
                user: user.to_owned(),
                created: now,
                expires: now.saturating_add(self.hub.config.session_lifetime),
                provider,
            })
            .await?;
        crate::metrics::session_started();
        Ok(token)
    }

    /// Refreshes a user's auth info (upstream's `refresh_auth`), then re-checks the rules
    /// on what the provider now says (hubauth's fix F7). A user who no longer passes loses
    /// every session; one whose info cannot be renewed must log in again (`None`). A
    /// provider outage never turns into an error page: the session stays, and the refresh
    /// is retried later.
    pub async fn refresh(
        &self,
        current: SessionUser,
        now: i64,
    ) -> Result<Option<SessionUser>, HubError> {
        let hub = self.hub;
        let SessionUser { user, session_hash } = current;
        let name = user.name.clone();
        let auth_state = hub.accounts().auth_state(&name, now).await?;
        let ctx = RequestContext::at(now);
        let authenticator = hub.authenticator_of(&name).await?;
        let outcome = authenticator
            .refresh_user(&ctx, &name, auth_state.as_ref())
            .await;
        let this_session = |reason| self.end(&name, Some(&session_hash), reason);
        let mut model = match outcome {
            Ok(RefreshOutcome::UpToDate) => {
                crate::metrics::refresh("up_to_date");
                self.mark_refreshed(&name, now);
                return Ok(Some(SessionUser { user, session_hash }));
            }
            Ok(RefreshOutcome::Updated(model)) => *model,
            Ok(RefreshOutcome::Expired) => {
                tracing::info!(user = %name, "User has stale auth info. Login is required to refresh.");
                crate::metrics::refresh("expired");
                this_session(EndReason::Refresh).await?;
                return Ok(None);
            }
            Err(err @ AuthError::Upstream { .. }) => {
                tracing::warn!(user = %name, error = %err, "could not refresh auth info; keeping the session and retrying later");
                crate::metrics::refresh("provider_error");
                self.mark_refreshed(&name, now);
                return Ok(Some(SessionUser { user, session_hash }));
            }
            Err(err) => {
                tracing::warn!(user = %name, error = %err, "refreshing auth info failed; login is required");
                crate::metrics::refresh("failed");
                this_session(EndReason::Refresh).await?;
                return Ok(None);
            }
        };
        model.name = name.clone();
        if model.auth_state.is_none() {
            model.auth_state = auth_state;
        }
        match pipeline::recheck(authenticator.as_ref(), model).await {
            Ok(Outcome::Success(mut model)) => {
                let method = hub.method_of(&name).await?;
                let own_groups = match &method {
                    Some(method) => {
                        hub.accounts()
                            .join_method_groups(method, &mut model)
                            .await?
                    }
                    None => None,
                };
                let updated = hub
                    .accounts()
                    .store_refresh(authenticator.as_ref(), &model, now)
                    .await?;
                if let Some(method) = &method
                    && own_groups.is_some()
                {
                    hub.store
                        .record_login_method(&name, &method.name, own_groups.as_deref())
                        .await?;
                }
                crate::metrics::refresh("updated");
                self.mark_refreshed(&name, now);
                Ok(Some(SessionUser {
                    user: Arc::new(updated),
                    session_hash,
                }))
            }
            Ok(Outcome::Denied { reason, .. }) => {
                tracing::warn!(user = %name, reason = reason.as_str(), "User no longer passes the rules at refresh; ending all sessions");
                crate::metrics::refresh("revoked");
                self.end(&name, None, EndReason::Revoked).await?;
                Ok(None)
            }
            Err(err) => {
                tracing::warn!(user = %name, error = %err, "re-checking rules at refresh failed; login is required");
                crate::metrics::refresh("failed");
                this_session(EndReason::Refresh).await?;
                Ok(None)
            }
        }
    }

    /// Ends a session (or, with `session_hash` `None`, every session of the user) as a
    /// logout does: the authenticator closes what it opened (PAM's session), tokens issued
    /// to services in it are revoked, and the row goes; [`EndReason::Revoked`] also drops
    /// the stored tokens (auth_state). Returns how many sessions this call ended (another
    /// request or replica may have been first).
    pub async fn end(
        &self,
        user: &str,
        session_hash: Option<&str>,
        reason: EndReason,
    ) -> Result<u64, HubError> {
        let hub = self.hub;
        let to_tell = crate::backchannel::services_to_tell(hub, user, session_hash).await?;
        let ended = match session_hash {
            Some(hash) => u64::from(hub.store.delete_session(hash).await?),
            None => hub.store.delete_user_sessions(user).await?,
        };
        match session_hash {
            // A logout drops only its own session from the cache; the user's other
            // sessions stay valid.
            Some(hash) if reason == EndReason::Logout => {
                hub.session_ended(hash).await;
            }
            // An expired session is never served from a cache, and its expiry changes
            // nothing for the user's other sessions. Every replica's clean-up ends the
            // same expired sessions; only the one that deleted the row tells the others.
            Some(hash) if reason == EndReason::Expired => {
                if ended > 0 {
                    hub.session_ended(hash).await;
                } else {
                    hub.session_cache.invalidate_session(hash);
                }
            }
            _ => hub.sessions_changed(user).await,
        }
        if reason == EndReason::Revoked {
            hub.store.set_auth_state(user, None).await?;
        }
        crate::metrics::sessions_ended(reason.label(), ended);
        self.forget_refreshed(user);
        crate::backchannel::tell(hub, user, session_hash, to_tell, ended).await;
        crate::provider::revoke_session_tokens(hub, user, session_hash).await?;
        let authenticator = hub.authenticator_of(user).await?;
        if let Err(err) = authenticator.session_ended(user).await {
            tracing::warn!(user = %user, error = %err, "authenticator could not end its session");
        }
        Ok(ended)
    }

    /// Whether a user's auth info is older than `auth_refresh_age` at `now` (0 disables).
    pub fn needs_refresh(&self, name: &str, now: i64) -> bool {
        let age = self.hub.authenticator.rules().config().auth_refresh_age;
        if age == 0 {
            return false;
        }
        self.hub
            .refreshed
            .lock()
            .get(name)
            .is_none_or(|last| now.saturating_sub(*last) >= i64::try_from(age).unwrap_or(i64::MAX))
    }

    /// Records that a user's auth info is fresh as of `now`.
    pub fn mark_refreshed(&self, name: &str, now: i64) {
        self.hub.refreshed.lock().insert(name.to_owned(), now);
    }

    /// Forgets a user's refresh time (logout, deletion).
    pub fn forget_refreshed(&self, name: &str) {
        self.hub.refreshed.lock().remove(name);
    }
}

/// What a logout leaves for the browser.
#[derive(Debug, Default)]
pub struct LoggedOut {
    /// A warning the authenticator gave (shown on the signed-out page).
    pub warning: Option<String>,
    /// The identity provider's logout to send the browser to (RP-initiated logout).
    pub provider_logout: Option<String>,
}

impl Sessions<'_> {
    /// Logs a session out at `now`: ends it ([`Sessions::end`]), then lets the
    /// authenticator react (`on_logout` may replace the stored auth_state and give a
    /// warning) and name the identity provider's logout, which sends the browser back to
    /// `after_logout`.
    pub async fn log_out(
        &self,
        session: &StoredSession,
        after_logout: &str,
        now: i64,
    ) -> Result<LoggedOut, HubError> {
        let hub = self.hub;
        let name = &session.user;
        self.end(name, Some(&session.session_hash), EndReason::Logout)
            .await?;
        tracing::info!(user = %name, "User logged out");
        let auth_state = hub.accounts().auth_state(name, now).await?;
        let authenticator = hub.authenticator_of(name).await?;
        let effects = authenticator.on_logout(name, auth_state.as_ref()).await;
        if let Some(replacement) = &effects.auth_state {
            hub.accounts()
                .replace_auth_state(name, replacement, now)
                .await?;
        }
        let mut out = LoggedOut::default();
        if let Some(warning) = effects.warning {
            tracing::warn!(user = %name, warning = %warning, "logout completed with a warning");
            out.warning = Some(warning);
        }
        if let Some(login) = authenticator.redirect_login() {
            let current = effects.auth_state.as_ref().or(auth_state.as_ref());
            out.provider_logout = login.logout_redirect(current, after_logout).await;
        }
        Ok(out)
    }
}
