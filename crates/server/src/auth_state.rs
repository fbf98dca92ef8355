//! Reading a user's encrypted auth_state outside a request (commands, tests).

use serde_json::Value;

use crate::error::HubError;
use crate::services::Services;

/// The user's decrypted auth_state, as [`crate::services::Accounts::auth_state`] reads it,
/// at the clock's current time.
pub async fn load(hub: &Services, name: &str) -> Result<Option<Value>, HubError> {
    hub.accounts().auth_state(name, hub.clock.now()).await
}
