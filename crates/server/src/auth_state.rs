//! Reading a user's encrypted auth_state, with key rotation on read.

use hubauth_store::AuthStateSwap;
use serde_json::Value;

use crate::error::HubError;
use crate::state::HubState;

/// The user's decrypted auth_state, or `None` when there is none, auth_state is disabled, or
/// no configured key can decrypt it (logged with the user's name and treated as absent, so
/// the user must log in again). When a key other than the first decrypted it, it is
/// re-encrypted with the first key at once (unless it changed meanwhile).
pub async fn load(state: &HubState, name: &str) -> Result<Option<Value>, HubError> {
    if !state.authenticator.rules().config().enable_auth_state {
        return Ok(None);
    }
    let Some(token) = state.store.get_auth_state(name).await? else {
        return Ok(None);
    };
    let decrypted = match state.crypt.decrypt_json(&token) {
        Ok(decrypted) => decrypted,
        Err(err) => {
            tracing::warn!(user = %name, error = %err, "Failed to retrieve encrypted auth_state; treating it as absent");
            return Ok(None);
        }
    };
    if decrypted.rotated_key {
        let now = u64::try_from(state.clock.now()).unwrap_or(0);
        let rotated = state
            .crypt
            .encrypt_json(&decrypted.value, now)
            .map_err(|err| HubError::Crypt(err.to_string()))?;
        // Compare-and-swap: a login (here or on another replica) that stored fresh
        // auth_state since it was read is never overwritten with this older value.
        if let Some(user) = state.store.get_user(name).await? {
            let applied = state
                .store
                .replace_auth_states(&[AuthStateSwap {
                    user_id: user.id,
                    expected: token,
                    replacement: Some(rotated),
                }])
                .await?;
            if applied.first() == Some(&true) {
                tracing::info!(user = %name, "re-encrypted auth_state with the current key");
            }
        }
    }
    Ok(Some(decrypted.value))
}
