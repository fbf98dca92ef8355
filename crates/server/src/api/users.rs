//! Users: the operations (callable from any handler, e.g. an admin page) and the
//! JupyterHub-compatible JSON endpoints `GET /user`, `/users` and `/users/{name}`.
//!
//! The operations take `&HubState` and return [`ApiError`] with JupyterHub's status codes
//! and messages, so an HTML page can show the same outcome. They apply the
//! authenticator's hooks exactly as upstream does: creating a user calls
//! `Authenticator.add_user` (which, with `allow_existing_users`, lets that user log in),
//! deleting one calls `Authenticator.delete_user` and removes the user's sessions,
//! tokens, memberships and roles.

use std::collections::BTreeSet;

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hubauth_store::{
    ADMIN_ROLE, RoleSpec, StoreError, USER_ROLE, UserPage, UserQuery, UserRecord, UserSort,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::auth::{Caller, missing_scope};
use super::groups::check_groups_not_managed;
use super::scopes::Scopes;
use super::{ApiError, Page, PageArgs, find_user, json_response, no_content, string_list};
use crate::state::{AppState, HubState};

// ---------------------------------------------------------------------------
// operations

/// Normalizes and validates a user name as the authenticator does; 400 `Invalid
/// username: NAME` when it is not acceptable.
pub fn checked_name(state: &HubState, name: &str) -> Result<String, ApiError> {
    let normalized = state.authenticator.normalize_username(name);
    if normalized.is_empty() || !state.authenticator.validate_username(&normalized) {
        return Err(ApiError::bad_request(format!(
            "Invalid username: {normalized}"
        )));
    }
    Ok(normalized)
}

/// Creates one user (JupyterHub's `POST /users/{name}`): the name is normalized and
/// validated, the user is stored with the default roles (and `admin` when asked), then
/// `Authenticator.add_user` runs; when it fails the user is removed again and the answer
/// is 400. An existing user is 409.
pub async fn create_user(
    state: &HubState,
    name: &str,
    admin: bool,
) -> Result<UserRecord, ApiError> {
    let name = checked_name(state, name)?;
    if state.store.get_user(&name).await?.is_some() {
        return Err(ApiError::conflict(format!("User {name} already exists")));
    }
    add_new_user(state, &name, admin).await
}

/// Creates several users (JupyterHub's `POST /users`): names are normalized and
/// validated (any invalid name refuses the whole request with 400), existing users are
/// skipped, and 409 when all exist. The new users are stored in one transaction.
/// Returns the users created.
pub async fn create_users(
    state: &HubState,
    names: &[String],
    admin: bool,
) -> Result<Vec<UserRecord>, ApiError> {
    if names.is_empty() {
        return Err(ApiError::bad_request(
            "Must specify at least one user to create",
        ));
    }
    let mut to_create = Vec::new();
    let mut invalid = Vec::new();
    let mut seen = BTreeSet::new();
    for name in names {
        let normalized = state.authenticator.normalize_username(name);
        if normalized.is_empty() || !state.authenticator.validate_username(&normalized) {
            invalid.push(normalized);
            continue;
        }
        if !seen.insert(normalized.clone()) {
            continue;
        }
        if state.store.get_user(&normalized).await?.is_some() {
            tracing::warn!(user = %normalized, "User already exists");
        } else {
            to_create.push(normalized);
        }
    }
    match invalid.as_slice() {
        [] => {}
        [one] => return Err(ApiError::bad_request(format!("Invalid username: {one}"))),
        many => {
            return Err(ApiError::bad_request(format!(
                "Invalid usernames: {}",
                many.join(", ")
            )));
        }
    }
    if to_create.is_empty() {
        return Err(ApiError::conflict(format!(
            "All {} users already exist",
            names.len()
        )));
    }
    // All users are stored in one transaction; then `Authenticator.add_user` runs for
    // each in turn. When it fails, that user and the ones not yet added are removed
    // again (in one transaction) and the answer is 400, as JupyterHub does one by one.
    let now = state.clock.now();
    let created = match state.store.create_users(&to_create, admin, now).await {
        Ok(created) => created,
        // Another request created one of them meanwhile: nobody was created.
        Err(err @ StoreError::Conflict { .. }) => return Err(ApiError::conflict(err.to_string())),
        Err(err) => return Err(err.into()),
    };
    for (done, user) in created.iter().enumerate() {
        if let Err(err) = state.authenticator.add_user(&user.name).await {
            tracing::error!(user = %user.name, error = %err, "Failed to create user");
            state.store.delete_users(&to_create[done..]).await?;
            return Err(ApiError::bad_request(format!(
                "Failed to create user {}: {err}",
                user.name
            )));
        }
        tracing::info!(user = %user.name, admin, "created user through the API");
    }
    Ok(created)
}

async fn add_new_user(state: &HubState, name: &str, admin: bool) -> Result<UserRecord, ApiError> {
    let now = state.clock.now();
    let (user, _) = state
        .store
        .ensure_user(name, admin.then_some(true), now)
        .await?;
    if let Err(err) = state.authenticator.add_user(name).await {
        tracing::error!(user = %name, error = %err, "Failed to create user");
        state.store.delete_user(name).await?;
        return Err(ApiError::bad_request(format!(
            "Failed to create user {name}: {err}"
        )));
    }
    tracing::info!(user = %name, admin, "created user through the API");
    Ok(user)
}

/// Deletes a user (JupyterHub's `DELETE /users/{name}`): `Authenticator.delete_user`
/// runs (with `allow_existing_users` the user may no longer log in), then the user's
/// sessions end and the user is removed with tokens, memberships, roles and auth_state.
/// 404 when there is no such user.
pub async fn delete_user(state: &HubState, name: &str) -> Result<(), ApiError> {
    let user = find_user(state, name).await?;
    if let Err(err) = state.authenticator.delete_user(&user.name).await {
        tracing::error!(user = %user.name, error = %err, "authenticator could not delete the user");
        return Err(ApiError::from(crate::error::HubError::Auth(err)));
    }
    // `delete_user` below removes the sessions too, in its one transaction; ending them
    // first counts them for the metric and the `session_ended` hook (should the
    // deletion then fail, the user is merely logged out).
    crate::backchannel::session_ending(state, &user.name, None).await?;
    let ended = state.store.delete_user_sessions(&user.name).await?;
    if ended > 0 {
        crate::metrics::sessions_ended("deleted", ended);
        if let Err(err) = state.authenticator.session_ended(&user.name).await {
            tracing::warn!(user = %user.name, error = %err, "authenticator could not end its session");
        }
    }
    state.store.delete_user(&user.name).await?;
    state.sessions().forget_refreshed(&user.name);
    state.sessions_changed(&user.name).await;
    tracing::info!(user = %user.name, "deleted user");
    Ok(())
}

/// Sets a user's admin flag (the `admin` role follows it). 404 when there is no such
/// user.
pub async fn set_admin(state: &HubState, name: &str, admin: bool) -> Result<UserRecord, ApiError> {
    let user = find_user(state, name).await?;
    state.store.set_admin(&user.name, admin).await?;
    state.sessions_changed(&user.name).await;
    tracing::info!(user = %user.name, admin, "set admin flag");
    find_user(state, &user.name).await
}

/// Makes a user's group membership exactly `groups`, in one transaction (each must
/// exist: 400 `No such group: NAME`, and nothing changes). Refused with 400 while `Authenticator.manage_groups` is on, because
/// the next login would undo it.
pub async fn set_groups(
    state: &HubState,
    name: &str,
    groups: &[String],
) -> Result<UserRecord, ApiError> {
    check_groups_not_managed(state)?;
    let user = find_user(state, name).await?;
    match state.store.set_user_groups(&user.name, groups).await {
        Ok(()) => {}
        Err(err @ StoreError::NotFound { .. }) => {
            // Name the first wanted group that does not exist; when they all do,
            // it was the user that went away meanwhile.
            let existing = super::groups::group_names(state).await?;
            let wanted: BTreeSet<&String> = groups.iter().collect();
            return match wanted.into_iter().find(|group| !existing.contains(*group)) {
                Some(group) => Err(ApiError::bad_request(format!("No such group: {group}"))),
                None => Err(err.into()),
            };
        }
        Err(err) => return Err(err.into()),
    }
    state.sessions_changed(&user.name).await;
    find_user(state, &user.name).await
}

/// Makes a user's roles exactly `roles` plus the default roles (`user`, and `admin` when
/// the admin flag is set), for the request `by`, who may give only roles whose scopes it
/// holds ([`check_role_grants`]). Refused with 400 while `Authenticator.manage_roles` is
/// on.
pub async fn set_roles(
    state: &HubState,
    by: &Caller,
    name: &str,
    roles: &[String],
) -> Result<UserRecord, ApiError> {
    super::roles::check_roles_not_managed(state)?;
    let user = find_user(state, name).await?;
    check_role_grants(state, by, &user.name, &user.roles, roles, user.admin).await?;
    let mut wanted: BTreeSet<String> = roles
        .iter()
        .filter(|role| role.as_str() != ADMIN_ROLE)
        .cloned()
        .collect();
    wanted.insert(USER_ROLE.to_owned());
    if user.admin {
        wanted.insert(ADMIN_ROLE.to_owned());
    }
    let wanted: Vec<String> = wanted.into_iter().collect();
    match state.store.set_user_roles(&user.name, &wanted).await {
        Ok(()) => {}
        Err(StoreError::NotFound { what }) => {
            return Err(ApiError::bad_request(format!("No such {what}")));
        }
        Err(err) => return Err(err.into()),
    }
    state.sessions_changed(&user.name).await;
    find_user(state, &user.name).await
}

/// Checks that the request `by` may give the user `target` the roles of `requested` that
/// they do not hold yet (`current`), before anything changes. Each must exist (400
/// `No such role`); the `admin` role goes with the admin flag (`will_be_admin`), which
/// only a full admin may set (403 otherwise); every other new role may grant only scopes
/// the requester holds (403 naming the missing ones, see
/// [`super::roles::check_grant`]). Roles the user keeps or loses need nothing: taking a
/// role away never escalates.
pub async fn check_role_grants(
    state: &HubState,
    by: &Caller,
    target: &str,
    current: &[String],
    requested: &[String],
    will_be_admin: bool,
) -> Result<(), ApiError> {
    for spec in roles_to_grant(state, by, current, requested, will_be_admin).await? {
        super::roles::check_grant(by, target, &spec)?;
    }
    Ok(())
}

/// The roles of `requested` a user would gain (see [`check_role_grants`]), each existing;
/// the `admin` role only when the user is or becomes an admin.
async fn roles_to_grant(
    state: &HubState,
    by: &Caller,
    current: &[String],
    requested: &[String],
    will_be_admin: bool,
) -> Result<Vec<RoleSpec>, ApiError> {
    if !will_be_admin && requested.iter().any(|role| role == ADMIN_ROLE) {
        return Err(if by.is_full_admin() {
            ApiError::bad_request(
                "The admin role follows the admin flag: set \"admin\": true to grant it",
            )
        } else {
            ApiError::forbidden("Only admins can grant admin permissions")
        });
    }
    let new: Vec<String> = requested
        .iter()
        .filter(|role| {
            role.as_str() != USER_ROLE && role.as_str() != ADMIN_ROLE && !current.contains(role)
        })
        .collect::<BTreeSet<&String>>()
        .into_iter()
        .cloned()
        .collect();
    if new.is_empty() {
        return Ok(Vec::new());
    }
    let specs = state.store.get_roles(&new).await?;
    if let Some(unknown) = new
        .iter()
        .find(|name| !specs.iter().any(|spec| &spec.name == *name))
    {
        return Err(ApiError::bad_request(format!("No such role: {unknown}")));
    }
    Ok(specs)
}

/// Reads `roles` from a request body (absent or null: none).
fn roles_field(body: &Map<String, Value>) -> Result<Option<Vec<String>>, ApiError> {
    match body.get("roles") {
        None | Some(Value::Null) => Ok(None),
        Some(value) => string_list(value, "user.roles").map(Some),
    }
}

/// One page of users, for lists and admin pages.
pub async fn list_users(state: &HubState, query: UserQuery) -> Result<UserPage, ApiError> {
    Ok(state.store.list_users_page(query).await?)
}

// ---------------------------------------------------------------------------
// models

/// JupyterHub's user model, with only the fields the scopes allow (`None` when they
/// allow nothing about this user). `auth_state` is present (as null) only with
/// `admin:auth_state`; callers fill it in where upstream does.
pub fn user_model(scopes: &Scopes, user: &UserRecord) -> Option<Map<String, Value>> {
    const ACCESS: &[(&str, &[&str])] = &[
        (
            "read:users",
            &[
                "kind",
                "name",
                "admin",
                "roles",
                "groups",
                "server",
                "pending",
                "created",
                "last_activity",
            ],
        ),
        ("read:users:name", &["kind", "name", "admin"]),
        ("read:users:groups", &["kind", "name", "groups"]),
        ("read:users:activity", &["kind", "name", "last_activity"]),
        ("read:servers", &["kind", "name", "servers"]),
        ("read:roles:users", &["kind", "name", "roles", "admin"]),
        ("admin:auth_state", &["kind", "name", "auth_state"]),
    ];
    let visible = super::visible_keys(ACCESS, |scope| {
        scopes.allows_user(scope, &user.name, &user.groups)
    });
    if visible.is_empty() {
        return None;
    }
    let full = [
        ("kind", json!("user")),
        ("name", json!(user.name)),
        ("admin", json!(user.admin)),
        ("roles", json!(user.roles)),
        ("groups", json!(user.groups)),
        ("server", Value::Null),
        ("pending", Value::Null),
        ("created", json!(super::isoformat(user.created))),
        ("last_activity", super::isoformat_opt(user.last_activity)),
        ("servers", json!({})),
        ("auth_state", Value::Null),
    ];
    Some(super::model_with(full, &visible))
}

/// Fills in `auth_state` (decrypted) when the model has the field.
async fn with_auth_state(
    state: &HubState,
    mut model: Map<String, Value>,
    name: &str,
) -> Result<Map<String, Value>, ApiError> {
    if model.contains_key("auth_state") {
        let value = crate::auth_state::load(state, name).await?;
        model.insert("auth_state".to_owned(), value.unwrap_or(Value::Null));
    }
    Ok(model)
}

/// Scopes that let a caller read something about a user (`GET /users/{name}`).
const READ_USER_SCOPES: &[&str] = &[
    "read:users",
    "read:users:name",
    "read:servers",
    "read:users:groups",
    "read:users:activity",
    "read:roles:users",
];

/// Looks a user up for a caller who needs one of `scopes` on them: 404 when missing and
/// the caller could see it, 403 when the caller has no such scope for the name.
async fn user_for(
    state: &HubState,
    caller: &Caller,
    name: &str,
    scopes: &[&str],
) -> Result<UserRecord, ApiError> {
    let normalized = state.authenticator.normalize_username(name);
    let user = state.store.get_user(&normalized).await?;
    let groups = user.as_ref().map(|u| u.groups.as_slice()).unwrap_or(&[]);
    if !scopes
        .iter()
        .any(|scope| caller.scopes.allows_user(scope, &normalized, groups))
    {
        return Err(missing_scope(
            &scopes.join(", "),
            &format!("user {normalized}"),
        ));
    }
    user.ok_or_else(|| ApiError::not_found(format!("No such user: {normalized}")))
}

// ---------------------------------------------------------------------------
// handlers

/// `GET /user`: the caller's own model, with `scopes`, `token_id` and `session_id`.
///
/// The answer depends only on what the session cache holds for the session or token, so
/// it is rendered once and kept with the cache entry, unless it carries `auth_state`
/// (read from the database on every request, as upstream does).
pub async fn whoami(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    if let Some(body) = caller.grant.whoami.get() {
        return Ok(super::json_bytes_response(StatusCode::OK, body.clone()));
    }
    let mut scopes = Scopes::clone(&caller.scopes);
    let identify = Scopes::expand(
        &[
            format!("read:users:name!user={}", caller.user.name),
            format!("read:users:groups!user={}", caller.user.name),
        ],
        None,
    );
    scopes.extend(&identify);
    let model = user_model(&scopes, &caller.user).unwrap_or_default();
    let cacheable = !model.contains_key("auth_state");
    let mut model = with_auth_state(&state, model, &caller.user.name).await?;
    model.insert(
        "token_id".to_owned(),
        caller
            .token
            .as_ref()
            .map(|token| json!(super::tokens::api_id(token.id)))
            .unwrap_or(Value::Null),
    );
    model.insert("session_id".to_owned(), Value::Null);
    model.insert("scopes".to_owned(), json!(caller.scopes.to_strings()));
    let body = Value::Object(model);
    if cacheable && let Ok(bytes) = serde_json::to_vec(&body) {
        let bytes = axum::body::Bytes::from(bytes);
        let _ = caller.grant.whoami.set(bytes.clone());
        return Ok(super::json_bytes_response(StatusCode::OK, bytes));
    }
    Ok(json_response(StatusCode::OK, body))
}

/// `GET /user` answered for the hub's listener, which serves it without the router (the
/// API's most frequent request): the same authentication as the [`Caller`] extractor,
/// then [`whoami`].
pub async fn whoami_answer(
    state: &AppState,
    method: &axum::http::Method,
    headers: &HeaderMap,
    query: Option<&str>,
    now: i64,
) -> Response {
    let caller = match super::auth::authenticate(state, method, headers, query, now).await {
        Ok(Some(caller)) => caller,
        Ok(None) => return ApiError::forbidden("Missing or invalid credentials.").into_response(),
        Err(err) => return err.into_response(),
    };
    match whoami(State(state.clone()), caller).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

/// Query arguments of `GET /users`.
#[derive(Debug, Default, Deserialize)]
pub struct ListArgs {
    /// Items to skip.
    pub offset: Option<String>,
    /// Most items to return.
    pub limit: Option<String>,
    /// Only names containing this text.
    pub name_filter: Option<String>,
    /// `id`, `name` or `last_activity`, `-` in front for descending.
    pub sort: Option<String>,
    /// `active`, `ready` or `inactive` (hubauth has no servers: nobody is active).
    pub state: Option<String>,
}

/// `GET /users`: the users the caller may list, paginated.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(args): Query<ListArgs>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    let Some(targets) = caller.scopes.targets("list:users").cloned() else {
        return Err(missing_scope("list:users", "users"));
    };
    let page_args = PageArgs {
        offset: args.offset.clone(),
        limit: args.limit.clone(),
    };
    let page = Page::of_request(&page_args, &headers)?;
    let sort_arg = args.sort.as_deref().unwrap_or("id");
    let (descending, sort_name) = match sort_arg.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, sort_arg),
    };
    let sort = match sort_name {
        "id" => UserSort::Id,
        "name" => UserSort::Name,
        "last_activity" => UserSort::LastActivity,
        _ => {
            return Err(ApiError::bad_request(format!(
                "sort must be 'id', 'name', or 'last_activity', not '{sort_arg}'"
            )));
        }
    };
    let nobody_active = match args.state.as_deref() {
        None | Some("" | "inactive") => false,
        Some("active" | "ready") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Unrecognized state filter: '{other}'"
            )));
        }
    };
    let name_filter = args.name_filter.filter(|text| !text.is_empty());
    let users = if nobody_active {
        UserPage::default()
    } else if targets.all {
        list_users(
            &state,
            UserQuery {
                offset: page.offset,
                limit: page.limit,
                name_filter,
                sort,
                descending,
            },
        )
        .await?
    } else {
        filtered_page(&state, &targets, name_filter.as_deref(), &page).await?
    };
    let items: Vec<Value> = users
        .users
        .iter()
        .filter_map(|user| user_model(&caller.scopes, user).map(Value::Object))
        .collect();
    Ok(page.response(items, users.total, &uri.to_string()))
}

/// The users a filtered `list:users` names (by user, or members of a group), paged in
/// memory (such filters name few users).
async fn filtered_page(
    state: &HubState,
    targets: &super::scopes::Targets,
    name_filter: Option<&str>,
    page: &Page,
) -> Result<UserPage, ApiError> {
    let mut names: BTreeSet<String> = targets.users.clone();
    if !targets.groups.is_empty() {
        for group in state.store.list_groups().await? {
            if targets.groups.contains(&group.name) {
                names.extend(group.users);
            }
        }
    }
    let needle = name_filter.map(str::to_lowercase);
    let mut users = Vec::new();
    for name in names {
        if needle
            .as_deref()
            .is_some_and(|needle| !name.to_lowercase().contains(needle))
        {
            continue;
        }
        if let Some(user) = state.store.get_user(&name).await? {
            users.push(user);
        }
    }
    users.sort_by_key(|user| user.id);
    let (users, total) = page.of_list(users);
    Ok(UserPage { users, total })
}

/// Reads `admin` from a request body (absent = false; not a boolean = 400).
fn admin_flag(body: &Map<String, Value>) -> Result<bool, ApiError> {
    match body.get("admin") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(admin)) => Ok(*admin),
        Some(other) => Err(ApiError::bad_request(format!(
            "user.admin must be a boolean, not: {other}"
        ))),
    }
}

/// Gives users just created the roles their creation asked for (already checked). When
/// that fails (a role deleted meanwhile), the users are deleted again, as a failing
/// `add_user` does, so that nobody is left with fewer roles than the answer implies.
async fn give_new_users_roles(
    state: &HubState,
    by: &Caller,
    created: Vec<UserRecord>,
    roles: &[String],
) -> Result<Vec<UserRecord>, ApiError> {
    let mut updated = Vec::with_capacity(created.len());
    for user in &created {
        match set_roles(state, by, &user.name, roles).await {
            Ok(user) => updated.push(user),
            Err(err) => {
                for user in &created {
                    if let Err(cleanup) = delete_user(state, &user.name).await {
                        tracing::error!(user = %user.name, error = %cleanup, "could not delete a user whose roles failed");
                    }
                }
                return Err(err);
            }
        }
    }
    Ok(updated)
}

/// `POST /users` with `{"usernames": [...], "admin": bool, "roles": [...]}`: 201 with the
/// created users. Roles are checked as in `PATCH` before anyone is created.
pub async fn create_many(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require_scope("admin:users")?;
    let body = super::json_object(&body)?;
    let names = match body.get("usernames") {
        Some(value) => string_list(value, "usernames")?,
        None => Vec::new(),
    };
    if names.is_empty() {
        return Err(ApiError::bad_request(
            "Must specify at least one user to create",
        ));
    }
    if let Some(key) = body
        .keys()
        .find(|key| !matches!(key.as_str(), "usernames" | "admin" | "roles"))
    {
        return Err(ApiError::bad_request(format!("Invalid JSON keys: {key}")));
    }
    let admin = admin_flag(&body)?;
    if admin && !caller.is_full_admin() {
        return Err(ApiError::forbidden(
            "Only admins can grant admin permissions",
        ));
    }
    let roles = roles_field(&body)?.filter(|roles| !roles.is_empty());
    if let Some(roles) = &roles {
        super::roles::check_roles_not_managed(&state)?;
        let specs = roles_to_grant(&state, &caller, &[], roles, admin).await?;
        for name in &names {
            let target = state.authenticator.normalize_username(name);
            for spec in &specs {
                super::roles::check_grant(&caller, &target, spec)?;
            }
        }
    }
    let mut created = create_users(&state, &names, admin).await?;
    if let Some(roles) = &roles {
        created = give_new_users_roles(&state, &caller, created, roles).await?;
    }
    let models: Vec<Value> = created
        .iter()
        .filter_map(|user| user_model(&caller.scopes, user).map(Value::Object))
        .collect();
    Ok(json_response(StatusCode::CREATED, Value::Array(models)))
}

/// `GET /users/{name}`.
pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let user = user_for(&state, &caller, &name, READ_USER_SCOPES).await?;
    let model = user_model(&caller.scopes, &user).unwrap_or_default();
    let model = with_auth_state(&state, model, &user.name).await?;
    Ok(json_response(StatusCode::OK, Value::Object(model)))
}

/// `POST /users/{name}` with an optional `{"admin": bool, "roles": [...]}`: 201 with the
/// new user. Roles are checked as in `PATCH` before the user is created.
pub async fn create_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let normalized = state.authenticator.normalize_username(&name);
    if !caller.scopes.allows_user("admin:users", &normalized, &[]) {
        return Err(missing_scope("admin:users", &format!("user {normalized}")));
    }
    let body = super::json_object(&body)?;
    check_user_keys(&body)?;
    let admin = admin_flag(&body)?;
    if admin && !caller.is_full_admin() {
        return Err(ApiError::forbidden(
            "Only admins can grant admin permissions",
        ));
    }
    let roles = roles_field(&body)?.filter(|roles| !roles.is_empty());
    if let Some(roles) = &roles {
        super::roles::check_roles_not_managed(&state)?;
        check_role_grants(&state, &caller, &normalized, &[], roles, admin).await?;
    }
    let mut user = create_user(&state, &name, admin).await?;
    if let Some(roles) = &roles {
        user = give_new_users_roles(&state, &caller, vec![user], roles)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| ApiError::not_found(format!("No such user: {normalized}")))?;
    }
    let model = user_model(&caller.scopes, &user).unwrap_or_default();
    Ok(json_response(StatusCode::CREATED, Value::Object(model)))
}

/// The keys a request's user model may have (JupyterHub's `_user_model_types`).
fn check_user_keys(body: &Map<String, Value>) -> Result<(), ApiError> {
    match body.keys().find(|key| {
        !matches!(
            key.as_str(),
            "name" | "admin" | "groups" | "roles" | "auth_state"
        )
    }) {
        Some(key) => Err(ApiError::bad_request(format!("Invalid JSON keys: {key}"))),
        None => Ok(()),
    }
}

/// `PATCH /users/{name}` with any of `admin`, `groups`, `roles`, `auth_state` (and
/// `name` equal to the current name; renaming is not supported).
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let user = user_for(&state, &caller, &name, &["admin:users"]).await?;
    let body = super::json_object(&body)?;
    check_user_keys(&body)?;
    if let Some(new_name) = body.get("name") {
        let Value::String(new_name) = new_name else {
            return Err(ApiError::bad_request("user.name must be a string"));
        };
        if *new_name != user.name {
            if state.store.get_user(new_name).await?.is_some() {
                return Err(ApiError::bad_request(format!(
                    "User {new_name} already exists, username must be unique"
                )));
            }
            return Err(ApiError::bad_request(
                "Renaming users is not supported by hubauth; create the new user and delete the old one",
            ));
        }
    }
    let admin = match body.get("admin") {
        None => None,
        Some(Value::Bool(admin)) => Some(*admin),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "user.admin must be a boolean, not: {other}"
            )));
        }
    };
    let groups = body
        .get("groups")
        .map(|value| string_list(value, "user.groups"))
        .transpose()?;
    let roles = body
        .get("roles")
        .map(|value| string_list(value, "user.roles"))
        .transpose()?;
    let auth_state = match body.get("auth_state") {
        None => None,
        Some(Value::Object(map)) => Some(Value::Object(map.clone())),
        Some(_) => return Err(ApiError::bad_request("user.auth_state must be an object")),
    };
    if user.admin && !caller.user.admin {
        return Err(ApiError::forbidden("Only admins can modify other admins"));
    }
    if admin == Some(true) && !caller.is_full_admin() {
        return Err(ApiError::forbidden(
            "Only admins can grant admin permissions",
        ));
    }
    if groups.is_some() {
        check_groups_not_managed(&state)?;
    }
    if let Some(roles) = &roles {
        super::roles::check_roles_not_managed(&state)?;
        // Checked before anything changes, so a refused grant leaves the user as it was.
        let will_be_admin = admin.unwrap_or(user.admin);
        check_role_grants(
            &state,
            &caller,
            &user.name,
            &user.roles,
            roles,
            will_be_admin,
        )
        .await?;
    }
    if auth_state.is_some() {
        if !caller
            .scopes
            .allows_user("admin:auth_state", &user.name, &user.groups)
        {
            return Err(missing_scope(
                "admin:auth_state",
                &format!("user {}", user.name),
            ));
        }
        if !state.authenticator.rules().config().enable_auth_state {
            return Err(ApiError::bad_request(
                "auth_state is not enabled (Authenticator.enable_auth_state)",
            ));
        }
    }
    if let Some(admin) = admin {
        set_admin(&state, &user.name, admin).await?;
    }
    if let Some(groups) = &groups {
        set_groups(&state, &user.name, groups).await?;
    }
    if let Some(roles) = &roles {
        set_roles(&state, &caller, &user.name, roles).await?;
    }
    if let Some(value) = &auth_state {
        let now = u64::try_from(state.clock.now()).unwrap_or(0);
        let token = state
            .crypt
            .encrypt_json(value, now)
            .map_err(|err| ApiError::from(crate::error::HubError::Crypt(err.to_string())))?;
        state.store.set_auth_state(&user.name, Some(token)).await?;
        tracing::info!(user = %user.name, by = %caller.user.name, "set auth_state through the API");
    }
    let user = find_user(&state, &user.name).await?;
    let model = user_model(&caller.scopes, &user).unwrap_or_default();
    let model = with_auth_state(&state, model, &user.name).await?;
    Ok(json_response(StatusCode::OK, Value::Object(model)))
}

/// `DELETE /users/{name}`: 204.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let user = user_for(&state, &caller, &name, &["delete:users"]).await?;
    if user.name == caller.user.name {
        return Err(ApiError::bad_request("Cannot delete yourself!"));
    }
    if user.admin && !caller.is_full_admin() {
        return Err(ApiError::forbidden("Only admins can delete admins"));
    }
    delete_user(&state, &user.name).await?;
    Ok(no_content())
}
