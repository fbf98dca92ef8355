//! Groups: the operations (callable from any handler) and the JupyterHub-compatible
//! JSON endpoints `/groups`, `/groups/{name}` and `/groups/{name}/users`.
//!
//! While `Authenticator.manage_groups` is on, memberships come from the identity
//! provider at every login, so the endpoints that change memberships refuse with 400
//! `Group management via API is disabled` (JupyterHub's message; JupyterHub 5.3 stopped
//! refusing, and the next login silently undid such changes). Creating and deleting
//! empty groups stays possible.

use std::collections::BTreeSet;

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use hubauth_store::{GroupRecord, StoreError};
use serde_json::{Map, Value, json};

use super::auth::{Caller, missing_scope};
use super::scopes::Scopes;
use super::{ApiError, Page, PageArgs, json_response, no_content, string_list};
use crate::state::{AppState, HubState};

// ---------------------------------------------------------------------------
// operations

/// The group named `name`, or 404 `No such group: NAME`.
pub async fn find_group(state: &HubState, name: &str) -> Result<GroupRecord, ApiError> {
    state
        .store
        .list_groups()
        .await?
        .into_iter()
        .find(|group| group.name == name)
        .ok_or_else(|| ApiError::not_found(format!("No such group: {name}")))
}

/// Normalizes user names and checks they exist: 400 `No such user: NAME` otherwise.
async fn existing_users(state: &HubState, names: &[String]) -> Result<Vec<String>, ApiError> {
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let normalized = state.authenticator.normalize_username(name);
        if state.store.get_user(&normalized).await?.is_none() {
            return Err(ApiError::bad_request(format!("No such user: {normalized}")));
        }
        out.push(normalized);
    }
    Ok(out)
}

fn check_group_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty() || name.len() > 255 || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "Invalid group name: {name:?}"
        )));
    }
    Ok(())
}

/// The names of all groups.
pub async fn group_names(state: &HubState) -> Result<BTreeSet<String>, ApiError> {
    Ok(state
        .store
        .list_groups()
        .await?
        .into_iter()
        .map(|group| group.name)
        .collect())
}

/// Creates a group with these members (which must exist). 409 when it exists; 400
/// when members are given while `manage_groups` is on.
pub async fn create_group(
    state: &HubState,
    name: &str,
    users: &[String],
) -> Result<GroupRecord, ApiError> {
    check_group_name(name)?;
    if !users.is_empty() {
        check_groups_not_managed(state)?;
    }
    let users = existing_users(state, users).await?;
    store_groups(state, &[name.to_owned()], &users).await?;
    find_group(state, name).await
}

/// Stores new groups, each with these members, in one transaction: all or nothing.
/// A group that exists (or is named twice) is 409 `Group NAME already exists`; a
/// member deleted meanwhile is 400 `No such user NAME`.
async fn store_groups(
    state: &HubState,
    names: &[String],
    users: &[String],
) -> Result<(), ApiError> {
    let specs: Vec<(String, Vec<String>)> = names
        .iter()
        .map(|name| (name.clone(), users.to_vec()))
        .collect();
    match state.store.create_groups(&specs).await {
        Ok(()) => {}
        Err(err @ StoreError::Conflict { .. }) => {
            let existing = group_names(state).await?;
            let mut seen = BTreeSet::new();
            let clash = names
                .iter()
                .find(|name| existing.contains(*name) || !seen.insert(name.as_str()));
            return Err(match clash {
                Some(name) => ApiError::conflict(format!("Group {name} already exists")),
                None => err.into(),
            });
        }
        Err(StoreError::NotFound { what }) => {
            return Err(ApiError::bad_request(format!("No such {what}")));
        }
        Err(err) => return Err(err.into()),
    }
    sessions_changed(state, users).await;
    for name in names {
        tracing::info!(group = %name, users = users.len(), "Creating new group");
    }
    Ok(())
}

/// Cached sessions of these users must see their new groups at once.
async fn sessions_changed(state: &HubState, users: &[String]) {
    state.users_changed(users).await;
}

/// Deletes a group and its memberships; 404 when there is no such group.
pub async fn delete_group(state: &HubState, name: &str) -> Result<(), ApiError> {
    let members = find_group(state, name).await?.users;
    if !state.store.delete_group(name).await? {
        return Err(ApiError::not_found(format!("No such group: {name}")));
    }
    sessions_changed(state, &members).await;
    tracing::info!(group = %name, "Deleting group");
    Ok(())
}

/// A change to a group's members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberChange {
    /// Add users to the group.
    Add,
    /// Remove users from the group.
    Remove,
}

impl MemberChange {
    /// The verb of the 400 message for a body without `users`.
    fn verb(self) -> &'static str {
        match self {
            MemberChange::Add => "add",
            MemberChange::Remove => "delete",
        }
    }
}

/// Adds existing users to a group or removes them (400 while `manage_groups` is on);
/// returns the group as it is afterwards.
pub async fn change_members(
    state: &HubState,
    name: &str,
    users: &[String],
    change: MemberChange,
) -> Result<GroupRecord, ApiError> {
    check_groups_not_managed(state)?;
    find_group(state, name).await?;
    let users = existing_users(state, users).await?;
    match change {
        MemberChange::Add => {
            state.store.add_group_members(name, &users).await?;
            tracing::info!(group = %name, users = users.len(), "Adding users to group");
        }
        MemberChange::Remove => {
            state.store.remove_group_members(name, &users).await?;
            tracing::info!(group = %name, users = users.len(), "Removing users from group");
        }
    }
    sessions_changed(state, &users).await;
    find_group(state, name).await
}

// ---------------------------------------------------------------------------
// model

/// JupyterHub's group model with the fields the scopes allow (`None`: nothing).
pub fn group_model(scopes: &Scopes, group: &GroupRecord) -> Option<Map<String, Value>> {
    const ACCESS: &[(&str, &[&str])] = &[
        ("read:groups", &["kind", "name", "properties", "users"]),
        ("read:groups:name", &["kind", "name"]),
        ("read:roles:groups", &["kind", "name", "roles"]),
    ];
    let visible = super::visible_keys(ACCESS, |scope| scopes.allows_group(scope, &group.name));
    if visible.is_empty() {
        return None;
    }
    let full = [
        ("kind", json!("group")),
        ("name", json!(group.name)),
        ("roles", json!([])),
        ("users", json!(group.users)),
        ("properties", json!({})),
    ];
    Some(super::model_with(full, &visible))
}

fn model(caller: &Caller, group: &GroupRecord) -> Value {
    Value::Object(group_model(&caller.scopes, group).unwrap_or_default())
}

/// A request's `users` list (absent = empty); other keys but `users` (and `groups` on
/// the list endpoint) are 400.
fn users_field(body: &Map<String, Value>, extra: &[&str]) -> Result<Vec<String>, ApiError> {
    if let Some(key) = body
        .keys()
        .find(|key| key.as_str() != "users" && !extra.contains(&key.as_str()))
    {
        return Err(ApiError::bad_request(format!("Invalid JSON keys: {key}")));
    }
    match body.get("users") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(value) => string_list(value, "group.users"),
    }
}

// ---------------------------------------------------------------------------
// handlers

/// `GET /groups`: the groups the caller may list, paginated.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageArgs>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    let Some(targets) = caller.scopes.targets("list:groups").cloned() else {
        return Err(missing_scope("list:groups", "groups"));
    };
    let page = Page::of_request(&page, &headers)?;
    let groups: Vec<GroupRecord> = state
        .store
        .list_groups()
        .await?
        .into_iter()
        .filter(|group| targets.all || targets.groups.contains(&group.name))
        .collect();
    let (groups, total) = page.of_list(groups);
    let items: Vec<Value> = groups
        .iter()
        .filter_map(|group| group_model(&caller.scopes, group).map(Value::Object))
        .collect();
    Ok(page.response(items, total, &uri.to_string()))
}

/// `POST /groups` with `{"groups": [...], "users": [...]}`: 201 with the new groups.
pub async fn create_many(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require_scope("admin:groups")?;
    let body = super::json_object(&body)?;
    let names = match body.get("groups") {
        None | Some(Value::Null) => Vec::new(),
        Some(value) => string_list(value, "groups")?,
    };
    if names.is_empty() {
        return Err(ApiError::bad_request(
            "Must specify at least one group to create",
        ));
    }
    let users = users_field(&body, &["groups"])?;
    let existing = group_names(&state).await?;
    for name in &names {
        check_group_name(name)?;
        if existing.contains(name) {
            return Err(ApiError::conflict(format!("Group {name} already exists")));
        }
    }
    if !users.is_empty() {
        check_groups_not_managed(&state)?;
    }
    let users = existing_users(&state, &users).await?;
    store_groups(&state, &names, &users).await?;
    let mut stored = state.store.list_groups().await?;
    let mut created = Vec::with_capacity(names.len());
    for name in &names {
        if let Some(at) = stored.iter().position(|group| &group.name == name) {
            created.push(stored.swap_remove(at));
        }
    }
    let models: Vec<Value> = created.iter().map(|group| model(&caller, group)).collect();
    Ok(json_response(StatusCode::CREATED, Value::Array(models)))
}

/// `GET /groups/{name}`.
pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let scopes = ["read:groups", "read:groups:name", "read:roles:groups"];
    if !scopes
        .iter()
        .any(|scope| caller.scopes.allows_group(scope, &name))
    {
        return Err(missing_scope(&scopes.join(", "), &format!("group {name}")));
    }
    let group = find_group(&state, &name).await?;
    Ok(json_response(StatusCode::OK, model(&caller, &group)))
}

/// `POST /groups/{name}` with an optional `{"users": [...]}`: 201.
pub async fn create_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require_group_scope("admin:groups", &name)?;
    let body = super::json_object(&body)?;
    let users = users_field(&body, &["name", "roles"])?;
    // Upstream's group model has roles; hubauth's groups hold none, so asking for some
    // is refused rather than dropped (the caller would believe members got them).
    if let Some(roles) = body.get("roles").filter(|roles| !roles.is_null())
        && !string_list(roles, "group.roles")?.is_empty()
    {
        return Err(ApiError::bad_request(
            "Groups cannot hold roles in hubauth; assign roles to users",
        ));
    }
    let group = create_group(&state, &name, &users).await?;
    Ok(json_response(StatusCode::CREATED, model(&caller, &group)))
}

/// `DELETE /groups/{name}`: 204.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    caller.require_group_scope("delete:groups", &name)?;
    delete_group(&state, &name).await?;
    Ok(no_content())
}

/// `POST /groups/{name}/users` with `{"users": [...]}`: 200 with the group.
pub async fn add_users(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    change_users(&state, &caller, &name, &body, MemberChange::Add).await
}

/// `DELETE /groups/{name}/users` with `{"users": [...]}`: 200 with the group.
pub async fn remove_users(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    change_users(&state, &caller, &name, &body, MemberChange::Remove).await
}

/// The membership change of `/groups/{name}/users`: `users` is required in the body.
async fn change_users(
    state: &HubState,
    caller: &Caller,
    name: &str,
    body: &[u8],
    change: MemberChange,
) -> Result<Response, ApiError> {
    caller.require_group_scope("groups", name)?;
    check_groups_not_managed(state)?;
    let body = super::json_object(body)?;
    if !body.contains_key("users") {
        return Err(ApiError::bad_request(format!(
            "Must specify users to {}",
            change.verb()
        )));
    }
    let users = users_field(&body, &[])?;
    let group = change_members(state, name, &users, change).await?;
    Ok(json_response(StatusCode::OK, model(caller, &group)))
}

/// 400 `Group management via API is disabled` while `Authenticator.manage_groups` is
/// on (group membership then comes from the identity provider at every login).
pub fn check_groups_not_managed(state: &HubState) -> Result<(), ApiError> {
    if state.authenticator.rules().config().manage_groups {
        Err(ApiError::bad_request(
            "Group management via API is disabled",
        ))
    } else {
        Ok(())
    }
}
