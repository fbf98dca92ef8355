//! Roles managed by the authenticator (`manage_roles`): created at start-up from
//! `load_managed_roles` (JupyterHub's `init_role_creation` and `init_role_assignment`),
//! and synced from the auth model at each login or refresh (step 7 of `auth_to_user`).

use std::collections::BTreeSet;

use hubauth_core::{Authenticator, ManagedRole};
use hubauth_store::{ADMIN_ROLE, RoleSpec, Store, USER_ROLE, UserRecord};

use hubauth_core::scopes;

/// Why a role specification cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InvalidRole(pub String);

/// Checks a role's scopes are known (`self` included).
pub fn check_scopes(role: &ManagedRole) -> Result<(), InvalidRole> {
    let unknown: Vec<&str> = role
        .scopes
        .iter()
        .map(String::as_str)
        .filter(|scope| *scope != "self" && !scopes::is_known(scope))
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(InvalidRole(format!(
            "role {}: unknown scopes: {}",
            role.name,
            unknown.join(", ")
        )))
    }
}

fn spec(role: &ManagedRole) -> RoleSpec {
    RoleSpec {
        name: role.name.clone(),
        description: role.description.clone(),
        scopes: role.scopes.clone(),
        managed_by_auth: true,
    }
}

/// What start-up did with managed roles.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RoleStartup {
    /// The managed roles created or updated, from `load_managed_roles`.
    pub loaded: Vec<ManagedRole>,
    /// Managed roles deleted because the authenticator no longer lists them
    /// (`reset_managed_roles_on_startup`).
    pub stale_roles: Vec<String>,
}

/// `init_role_creation`: with `manage_roles`, creates or updates every role from
/// `load_managed_roles` (marked as managed by the authenticator); with
/// `reset_managed_roles_on_startup`, deletes managed roles it no longer lists, with
/// their assignments.
pub async fn create_on_startup(
    authenticator: &dyn Authenticator,
    store: &dyn Store,
) -> Result<RoleStartup, crate::StartError> {
    let config = authenticator.rules().config();
    if !config.manage_roles {
        return Ok(RoleStartup::default());
    }
    let loaded = authenticator
        .load_managed_roles()
        .await
        .map_err(|err| crate::StartError::Other(format!("load_managed_roles: {err}")))?;
    let mut names = BTreeSet::new();
    for role in &loaded {
        if hubauth_core::roles::DEFAULT_ROLES.contains(&role.name.as_str()) {
            return Err(crate::StartError::Other(format!(
                "load_managed_roles: the default role `{}` cannot be managed by the authenticator",
                role.name
            )));
        }
        if !names.insert(role.name.clone()) {
            return Err(crate::StartError::Other(format!(
                "load_managed_roles: role `{}` is defined twice",
                role.name
            )));
        }
        check_scopes(role)
            .map_err(|err| crate::StartError::Other(format!("load_managed_roles: {err}")))?;
    }
    for role in &loaded {
        store.upsert_role(spec(role)).await?;
    }
    let mut stale_roles = Vec::new();
    if config.reset_managed_roles_on_startup {
        for role in store.list_roles().await? {
            if role.managed_by_auth && !names.contains(&role.name) {
                store.delete_role(&role.name).await?;
                stale_roles.push(role.name);
            }
        }
        if !stale_roles.is_empty() {
            tracing::info!(
                roles = ?stale_roles,
                "Deleted {} stale roles previously added by an authenticator",
                stale_roles.len()
            );
        }
    }
    Ok(RoleStartup {
        loaded,
        stale_roles,
    })
}

/// `init_role_assignment`: a managed role that lists `users` is given to them; with
/// `reset_managed_roles_on_startup` its holders become exactly them (a role without
/// `users` keeps its holders). Users that do not exist are logged and skipped. Returns
/// how many stale assignments were removed.
pub async fn assign_on_startup(
    authenticator: &dyn Authenticator,
    store: &dyn Store,
    loaded: &[ManagedRole],
) -> Result<u64, crate::StartError> {
    let config = authenticator.rules().config();
    if !config.manage_roles || loaded.iter().all(|role| role.users.is_none()) {
        return Ok(0);
    }
    let existing = store.list_roles().await?;
    let mut removed = 0u64;
    for role in loaded {
        let Some(users) = &role.users else {
            continue;
        };
        let users: Vec<String> = users
            .iter()
            .map(|name| authenticator.normalize_username(name))
            .collect();
        let reset = config.reset_managed_roles_on_startup;
        if reset {
            let wanted: BTreeSet<&String> = users.iter().collect();
            removed += existing
                .iter()
                .filter(|stored| stored.name == role.name)
                .flat_map(|stored| stored.users.iter())
                .filter(|holder| !wanted.contains(holder))
                .count() as u64;
        }
        let missing = store.assign_role(&role.name, &users, reset).await?;
        if !missing.is_empty() {
            tracing::warn!(
                role = %role.name,
                users = ?missing,
                "Could not assign the role {} to users: {:?} not found in the database.",
                role.name,
                missing
            );
        }
    }
    if removed > 0 {
        tracing::info!(
            "Deleted {removed} stale user role assignments previously added by an authenticator"
        );
    }
    Ok(removed)
}

/// Step 7 of `auth_to_user` with `manage_roles`: each role of the model is created or
/// updated (marked managed; listed `users` are given it too), the user's roles become
/// the default roles plus the model's, and roles taken away that the authenticator
/// manages, nobody holds any more and `load_managed_roles` does not define are deleted.
pub async fn sync_login_roles(
    authenticator: &dyn Authenticator,
    store: &dyn Store,
    user: &UserRecord,
    roles: &[serde_json::Value],
) -> Result<UserRecord, crate::error::HubError> {
    use crate::error::HubError;
    let parsed = ManagedRole::list_from_json(roles).map_err(HubError::InvalidRoles)?;
    for role in &parsed {
        check_scopes(role).map_err(|err| HubError::InvalidRoles(err.0))?;
    }
    for role in &parsed {
        store.upsert_role(spec(role)).await?;
        if let Some(users) = &role.users {
            let users: Vec<String> = users
                .iter()
                .map(|name| authenticator.normalize_username(name))
                .collect();
            let missing = store.assign_role(&role.name, &users, false).await?;
            if !missing.is_empty() {
                tracing::warn!(
                    "Could not assign the role {} to users: {:?} not found in the database.",
                    role.name,
                    missing
                );
            }
        }
    }
    let current = store
        .get_user(&user.name)
        .await?
        .unwrap_or_else(|| user.clone());
    let mut wanted: BTreeSet<String> = parsed.iter().map(|role| role.name.clone()).collect();
    wanted.insert(USER_ROLE.to_owned());
    if current.admin {
        wanted.insert(ADMIN_ROLE.to_owned());
    }
    let stripped: Vec<String> = current
        .roles
        .iter()
        .filter(|role| !wanted.contains(*role))
        .cloned()
        .collect();
    let wanted: Vec<String> = wanted.into_iter().collect();
    store.set_user_roles(&current.name, &wanted).await?;
    if !stripped.is_empty() {
        let configured: BTreeSet<&str> = authenticator
            .rules()
            .config()
            .load_managed_roles
            .iter()
            .map(|role| role.name.as_str())
            .collect();
        for role in store.list_roles().await? {
            if stripped.contains(&role.name)
                && role.managed_by_auth
                && role.users.is_empty()
                && !configured.contains(role.name.as_str())
            {
                store.delete_role(&role.name).await?;
                tracing::info!(role = %role.name, "deleted a managed role nobody holds any more");
            }
        }
    }
    Ok(store.get_user(&current.name).await?.unwrap_or(current))
}
