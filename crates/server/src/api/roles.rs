//! Roles: `GET /roles`, `GET/POST/DELETE /roles/{name}`.
//!
//! Reading needs `read:roles`. Creating and deleting roles is for admins only (a role
//! grants scopes), is refused for the default roles `user` and `admin`, and is refused
//! with 400 `Role management via API is disabled` while `Authenticator.manage_roles` is
//! on (roles then come from the authenticator).
//!
//! Giving a role to a user, here or through the user endpoints, follows one rule
//! ([`check_grant`]): the requester must hold every scope the role grants. Roles from
//! the authenticator (`manage_roles`) are the configuration's word and are not checked.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use hubauth_store::{ADMIN_ROLE, RoleRecord, RoleSpec, StoreError, USER_ROLE};
use serde_json::{Value, json};

use super::auth::{Caller, missing_scope};
use super::scopes::{self, Scopes};
use super::{ApiError, json_response, no_content, string_list};
use crate::state::{AppState, HubState};

/// 400 while `Authenticator.manage_roles` is on.
pub fn check_roles_not_managed(state: &HubState) -> Result<(), ApiError> {
    if state.authenticator.rules().config().manage_roles {
        Err(ApiError::bad_request("Role management via API is disabled"))
    } else {
        Ok(())
    }
}

/// A role model: name, description, scopes, holders (users with
/// `read:roles:users`), and whether the authenticator manages it.
pub fn role_model(caller: &Caller, role: &RoleRecord) -> Value {
    let users: Vec<&String> = if caller.scopes.has_all("read:roles:users") {
        role.users.iter().collect()
    } else {
        Vec::new()
    };
    json!({
        "kind": "role",
        "name": role.name,
        "description": role.description,
        "scopes": role.scopes,
        "users": users,
        "groups": [],
        "services": [],
        "managed_by_auth": role.managed_by_auth,
    })
}

fn require_read(caller: &Caller) -> Result<(), ApiError> {
    if caller.scopes.has_any("read:roles") {
        Ok(())
    } else {
        Err(missing_scope("read:roles", "roles"))
    }
}

fn require_admin(caller: &Caller) -> Result<(), ApiError> {
    if caller.user.admin && caller.scopes.has_all("admin:users") {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "Only admins can create or delete roles",
        ))
    }
}

/// 403 unless `caller` may give the user `target` this role: every scope it grants,
/// resolved for `target` (`self`, `!user`), must be held by the caller, unfiltered where
/// the role's scope is unfiltered (a full admin holds everything). Otherwise anyone who
/// may edit users could hand herself any role an admin created, and with it `tokens` or
/// `admin:users`.
pub fn check_grant(caller: &Caller, target: &str, role: &RoleSpec) -> Result<(), ApiError> {
    let missing = caller.scopes_not_held(&role.scopes, target, &Scopes::default());
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "Not assigning role {} to user {target}: it grants scopes not held by {}: {}",
            role.name,
            caller.user.name,
            missing.join(", ")
        )))
    }
}

fn check_not_default(name: &str) -> Result<(), ApiError> {
    if name == USER_ROLE || name == ADMIN_ROLE {
        Err(ApiError::bad_request(format!(
            "The default role {name} cannot be changed through the API"
        )))
    } else {
        Ok(())
    }
}

async fn find_role(state: &HubState, name: &str) -> Result<RoleRecord, ApiError> {
    state
        .store
        .list_roles()
        .await?
        .into_iter()
        .find(|role| role.name == name)
        .ok_or_else(|| ApiError::not_found(format!("No such role: {name}")))
}

/// `GET /roles`.
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    require_read(&caller)?;
    let roles = state.store.list_roles().await?;
    let models: Vec<Value> = roles.iter().map(|role| role_model(&caller, role)).collect();
    Ok(json_response(StatusCode::OK, Value::Array(models)))
}

/// `GET /roles/{name}`.
pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    require_read(&caller)?;
    let role = find_role(&state, &name).await?;
    Ok(json_response(StatusCode::OK, role_model(&caller, &role)))
}

/// `POST /roles/{name}` with `{"description", "scopes", "users"}`: 201.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_admin(&caller)?;
    check_roles_not_managed(&state)?;
    check_not_default(&name)?;
    if name.is_empty() || name.len() > 255 || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "Invalid role name: {name:?}"
        )));
    }
    let body = super::json_object(&body)?;
    if let Some(key) = body
        .keys()
        .find(|key| !matches!(key.as_str(), "name" | "description" | "scopes" | "users"))
    {
        return Err(ApiError::bad_request(format!("Invalid JSON keys: {key}")));
    }
    let description = match body.get("description") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(_) => return Err(ApiError::bad_request("role.description must be a string")),
    };
    let role_scopes = match body.get("scopes") {
        None | Some(Value::Null) => Vec::new(),
        Some(value) => string_list(value, "role.scopes")?,
    };
    scopes::check_known(&role_scopes, "self")?;
    let users = match body.get("users") {
        None | Some(Value::Null) => Vec::new(),
        Some(value) => string_list(value, "role.users")?,
    };
    if state
        .store
        .list_roles()
        .await?
        .iter()
        .any(|role| role.name == name)
    {
        return Err(ApiError::conflict(format!("Role {name} already exists")));
    }
    let mut holders = Vec::with_capacity(users.len());
    for user in &users {
        holders.push(
            super::find_user(&state, user)
                .await
                .map_err(|_| ApiError::bad_request(format!("No such user: {user}")))?,
        );
    }
    let holders: Vec<String> = holders.into_iter().map(|user| user.name).collect();
    let spec = RoleSpec {
        name: name.clone(),
        description,
        scopes: role_scopes,
        managed_by_auth: false,
    };
    // Creating a role with holders grants it: a narrowed admin token may not give
    // anyone (itself included) scopes it does not carry.
    for holder in &holders {
        check_grant(&caller, holder, &spec)?;
    }
    // The role and its grants are stored in one transaction.
    match state.store.create_role_with_users(spec, &holders).await {
        Ok(()) => {}
        Err(StoreError::Conflict { .. }) => {
            return Err(ApiError::conflict(format!("Role {name} already exists")));
        }
        Err(StoreError::NotFound { what }) => {
            return Err(ApiError::bad_request(format!("No such {what}")));
        }
        Err(err) => return Err(err.into()),
    }
    state.users_changed(&holders).await;
    tracing::info!(role = %name, by = %caller.user.name, "created role");
    let role = find_role(&state, &name).await?;
    Ok(json_response(
        StatusCode::CREATED,
        role_model(&caller, &role),
    ))
}

/// `DELETE /roles/{name}`: 204.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    require_admin(&caller)?;
    check_roles_not_managed(&state)?;
    check_not_default(&name)?;
    let holders = find_role(&state, &name).await?.users;
    if !state.store.delete_role(&name).await? {
        return Err(ApiError::not_found(format!("No such role: {name}")));
    }
    state.users_changed(&holders).await;
    tracing::info!(role = %name, by = %caller.user.name, "deleted role");
    Ok(no_content())
}
