//! The users grants and tokens act for, as the provider sees them.

use hubauth_provider::Subject;
use hubauth_store::UserRecord;

use crate::error::HubError;
use crate::services::Services;

/// The user a grant or token acts for, when they may still use the hub: they exist and
/// are not blocked.
pub async fn active_user(state: &Services, name: &str) -> Result<Option<UserRecord>, HubError> {
    if !state.authenticator.rules().check_blocked_users(name) {
        return Ok(None);
    }
    Ok(state.store.get_user(name).await?)
}

/// A user as the provider describes them (ID token and userinfo claims).
pub fn subject(user: &UserRecord) -> Subject {
    Subject {
        name: user.name.clone(),
        groups: user.groups.clone(),
        admin: user.admin,
    }
}
