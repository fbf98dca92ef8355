//! Turning a successful authentication into a stored user (JupyterHub's `auth_to_user`).

use axum::http::HeaderMap;
use hubauth_core::AuthModel;
use hubauth_store::{AuthStateUpdate, LoginUpdate, UserRecord};

use crate::error::AppError;
use crate::state::HubState;

/// Completes a successful login: persists the model ([`persist_login`]), starts a hub
/// session, marks the user as refreshed at `now` and runs the authenticator's
/// `session_started`; the attempt is recorded as `ok`. Returns the session cookie.
pub async fn complete_login(
    state: &HubState,
    headers: &HeaderMap,
    model: &AuthModel,
    now: i64,
    attempt: &mut LoginAttempt,
) -> Result<String, AppError> {
    let user = persist_login(state, model).await?;
    let cookie = crate::session::start(state, headers, &user.name).await?;
    state.mark_refreshed(&user.name, now);
    if let Err(err) = state.authenticator.session_started(&user.name).await {
        tracing::warn!(user = %user.name, error = %err, "authenticator could not start its session");
    }
    attempt.user(&user.name);
    attempt.outcome("ok", "");
    Ok(cookie)
}

/// Persists a successful login's model: creates the user (after the authenticator's
/// `add_user`, so a failing `add_user` leaves no half-created user), applies admin, groups
/// (with `manage_groups`) and auth_state (encrypted, with `enable_auth_state`) in one
/// transaction.
pub async fn persist_login(state: &HubState, model: &AuthModel) -> Result<UserRecord, AppError> {
    let now = state.clock.now();
    let exists = state.store.get_user(&model.name).await?.is_some();
    if !exists {
        state
            .authenticator
            .add_user(&model.name)
            .await
            .map_err(AppError::Auth)?;
    }
    store(state, model, now, true).await
}

/// Persists a refreshed model for an existing user (never creates one).
pub async fn persist_refresh(state: &HubState, model: &AuthModel) -> Result<UserRecord, AppError> {
    store(state, model, state.clock.now(), false).await
}

async fn store(
    state: &HubState,
    model: &AuthModel,
    now: i64,
    create_if_missing: bool,
) -> Result<UserRecord, AppError> {
    let outcome = state
        .store
        .apply_login(LoginUpdate {
            name: model.name.clone(),
            admin: model.admin,
            groups: managed_groups(state, model),
            auth_state: auth_state_update(state, model, now)?,
            now,
            create_if_missing,
        })
        .await?;
    // Admin flag and groups may have changed: cached sessions must not keep the old ones.
    state.sessions_changed(&outcome.user.name);
    if state.authenticator.rules().config().manage_roles
        && let Some(roles) = &model.roles
    {
        let user = crate::managed_roles::sync_login_roles(
            state.authenticator.as_ref(),
            state.store.as_ref(),
            &outcome.user,
            roles,
        )
        .await?;
        state.sessions_changed(&user.name);
        return Ok(user);
    }
    Ok(outcome.user)
}

fn managed_groups(state: &HubState, model: &AuthModel) -> Option<Vec<String>> {
    if state.authenticator.rules().config().manage_groups {
        model.groups.clone()
    } else {
        None
    }
}

fn auth_state_update(
    state: &HubState,
    model: &AuthModel,
    now: i64,
) -> Result<AuthStateUpdate, AppError> {
    if !state.authenticator.rules().config().enable_auth_state {
        // Disabling auth_state clears what an earlier configuration stored.
        return Ok(AuthStateUpdate::Clear);
    }
    Ok(match &model.auth_state {
        Some(value) => AuthStateUpdate::Set(
            state
                .crypt
                .encrypt_json(value, u64::try_from(now).unwrap_or(0))
                .map_err(|err| AppError::Crypt(err.to_string()))?,
        ),
        None => AuthStateUpdate::Clear,
    })
}

/// What one login attempt came to: logged as exactly one line (fields `authenticator`,
/// `user`, `outcome`, `reason`) and counted once in `hubauth_logins_total`.
///
/// Handlers fill it in as they decide; [`LoginAttempt::finish`] emits it. Only values that
/// are safe to log go in: names (shortened by [`hubauth_core::pipeline::loggable`]),
/// outcome words and reasons, never form fields, codes, tokens or cookies.
#[derive(Debug)]
pub struct LoginAttempt {
    authenticator: &'static str,
    user: String,
    outcome: Option<&'static str>,
    reason: String,
}

impl LoginAttempt {
    /// An attempt with the authenticator's class name and no outcome yet.
    pub fn new(authenticator: &'static str) -> Self {
        LoginAttempt {
            authenticator,
            user: String::new(),
            outcome: None,
            reason: String::new(),
        }
    }

    /// Sets the user name as it may be logged (untrusted input is shortened).
    pub fn user(&mut self, name: &str) {
        self.user = hubauth_core::pipeline::loggable(name);
    }

    /// Sets the outcome (a fixed word, the metric label) and the reason.
    pub fn outcome(&mut self, outcome: &'static str, reason: impl Into<String>) {
        self.outcome = Some(outcome);
        self.reason = reason.into();
    }

    /// Logs and counts the attempt. A request that failed without an outcome gets one from
    /// its error (`refused` for user errors, `error` otherwise); a successful response
    /// without an outcome (the redirect to the provider) is not a finished login and emits
    /// nothing.
    pub fn finish<T>(mut self, result: &Result<T, AppError>) {
        if self.outcome.is_none()
            && let Err(err) = result
        {
            let (outcome, reason) = match err {
                AppError::User { message, .. } => ("refused", message.clone()),
                AppError::Unavailable(_) => ("error", "database unavailable".to_owned()),
                AppError::Store(_) => ("error", "database error".to_owned()),
                AppError::Auth(err) if err.is_user_facing() => ("error", err.to_string()),
                AppError::Auth(_) => ("error", "authenticator error".to_owned()),
                AppError::Render(_) => ("error", "page rendering error".to_owned()),
                AppError::Crypt(_) => ("error", "auth_state encryption error".to_owned()),
                AppError::Signing(_) => ("error", "OAuth provider error".to_owned()),
            };
            self.outcome(outcome, reason);
        }
        let Some(outcome) = self.outcome else {
            return;
        };
        crate::metrics::login(self.authenticator, outcome);
        if outcome == "ok" {
            tracing::info!(
                authenticator = self.authenticator,
                user = %self.user,
                outcome,
                reason = %self.reason,
                "User logged in"
            );
        } else {
            tracing::warn!(
                authenticator = self.authenticator,
                user = %self.user,
                outcome,
                reason = %self.reason,
                "Failed login"
            );
        }
    }
}
