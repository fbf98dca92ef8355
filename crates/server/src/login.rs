//! Turning a successful authentication into a stored user (JupyterHub's `auth_to_user`).

use hubauth_core::AuthModel;
use hubauth_store::{AuthStateUpdate, LoginUpdate, UserRecord};

use crate::error::AppError;
use crate::state::HubState;

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
