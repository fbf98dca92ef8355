//! Turning a successful authentication into a stored user (JupyterHub's `auth_to_user`).

use axum::http::HeaderMap;
use hubauth_core::{AuthModel, DenyReason};
use hubauth_store::{AuthStateUpdate, LoginUpdate, UserRecord};

use crate::error::HubError;
use crate::state::HubState;

/// Completes a successful login: persists the model ([`persist_login`]), starts a hub
/// session, marks the user as refreshed at `now` and runs the authenticator's
/// `session_started`; returns the session cookie.
pub async fn complete_login(
    state: &HubState,
    headers: &HeaderMap,
    model: &AuthModel,
    now: i64,
) -> Result<String, HubError> {
    let user = persist_login(state, model).await?;
    let cookie = crate::session::start(state, headers, &user.name).await?;
    state.mark_refreshed(&user.name, now);
    if let Err(err) = state.authenticator.session_started(&user.name).await {
        tracing::warn!(user = %user.name, error = %err, "authenticator could not start its session");
    }
    Ok(cookie)
}

/// Persists a successful login's model: creates the user (after the authenticator's
/// `add_user`, so a failing `add_user` leaves no half-created user), applies admin, groups
/// (with `manage_groups`) and auth_state (encrypted, with `enable_auth_state`) in one
/// transaction.
pub async fn persist_login(state: &HubState, model: &AuthModel) -> Result<UserRecord, HubError> {
    let now = state.clock.now();
    let exists = state.store.get_user(&model.name).await?.is_some();
    if !exists {
        state
            .authenticator
            .add_user(&model.name)
            .await
            .map_err(HubError::Auth)?;
    }
    store(state, model, now, true).await
}

/// Persists a refreshed model for an existing user (never creates one).
pub async fn persist_refresh(state: &HubState, model: &AuthModel) -> Result<UserRecord, HubError> {
    store(state, model, state.clock.now(), false).await
}

async fn store(
    state: &HubState,
    model: &AuthModel,
    now: i64,
    create_if_missing: bool,
) -> Result<UserRecord, HubError> {
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
) -> Result<AuthStateUpdate, HubError> {
    if !state.authenticator.rules().config().enable_auth_state {
        // Disabling auth_state clears what an earlier configuration stored.
        return Ok(AuthStateUpdate::Clear);
    }
    Ok(match &model.auth_state {
        Some(value) => AuthStateUpdate::Set(
            state
                .crypt
                .encrypt_json(value, u64::try_from(now).unwrap_or(0))
                .map_err(|err| HubError::Crypt(err.to_string()))?,
        ),
        None => AuthStateUpdate::Clear,
    })
}

/// What a login attempt came to. Its [`label`](LoginOutcome::label) is the `outcome` of the
/// login log line and of `hubauth_logins_total`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// The user logged in.
    LoggedIn,
    /// The login rules refused the user (wrong password, invalid name, blocked, not
    /// allowed).
    Denied(DenyReason),
    /// The hub refused the attempt before the rules had their say (the form's token, a
    /// rate limit, a login method this hub does not have), or the authenticator refused it
    /// with a message for the user.
    Refused(String),
    /// The identity provider answered with an error, or could not be used.
    ProviderError(String),
    /// The OAuth state that came back does not belong to a login this browser started.
    BadState(&'static str),
    /// The hub failed.
    Failed(String),
}

impl LoginOutcome {
    /// The fixed word logged as `outcome` and used as the metric label.
    pub fn label(&self) -> &'static str {
        match self {
            LoginOutcome::LoggedIn => "ok",
            LoginOutcome::Denied(reason) => reason.as_str(),
            LoginOutcome::Refused(_) => "refused",
            LoginOutcome::ProviderError(_) => "provider_error",
            LoginOutcome::BadState(_) => "bad_state",
            LoginOutcome::Failed(_) => "error",
        }
    }

    /// Why, as logged (`reason`).
    pub fn reason(&self) -> &str {
        match self {
            LoginOutcome::LoggedIn => "",
            LoginOutcome::Denied(reason) => reason.as_str(),
            LoginOutcome::Refused(reason)
            | LoginOutcome::ProviderError(reason)
            | LoginOutcome::Failed(reason) => reason,
            LoginOutcome::BadState(reason) => reason,
        }
    }
}

/// One login attempt: logged as exactly one line (fields `authenticator`, `user`,
/// `outcome`, `reason`) and counted once in `hubauth_logins_total`, by [`LoginRecord::log`].
///
/// Only values that are safe to log go in: names (shortened by
/// [`hubauth_core::pipeline::loggable`]), outcome words and reasons, never form fields,
/// codes, tokens or cookies.
#[derive(Debug)]
pub struct LoginRecord {
    authenticator: &'static str,
    user: String,
    outcome: Option<LoginOutcome>,
}

impl LoginRecord {
    /// An attempt with the authenticator's class name and no outcome yet.
    pub fn new(authenticator: &'static str) -> Self {
        LoginRecord {
            authenticator,
            user: String::new(),
            outcome: None,
        }
    }

    /// Sets the user name as it may be logged (untrusted input is shortened).
    pub fn set_user(&mut self, name: &str) {
        self.user = hubauth_core::pipeline::loggable(name);
    }

    /// Sets the outcome.
    pub fn set_outcome(&mut self, outcome: LoginOutcome) {
        self.outcome = Some(outcome);
    }

    /// The outcome, once known.
    pub fn outcome(&self) -> Option<&LoginOutcome> {
        self.outcome.as_ref()
    }

    /// Logs and counts the attempt; one without an outcome is not a finished login and
    /// emits nothing.
    pub fn log(&self) {
        let Some(outcome) = &self.outcome else {
            return;
        };
        let label = outcome.label();
        crate::metrics::login(self.authenticator, label);
        if *outcome == LoginOutcome::LoggedIn {
            tracing::info!(
                authenticator = self.authenticator,
                user = %self.user,
                outcome = label,
                reason = %outcome.reason(),
                "User logged in"
            );
        } else {
            tracing::warn!(
                authenticator = self.authenticator,
                user = %self.user,
                outcome = label,
                reason = %outcome.reason(),
                "Failed login"
            );
        }
    }
}
