//! API tokens: `GET/POST /users/{name}/tokens` and `GET/DELETE
//! /users/{name}/tokens/{token_id}`.
//!
//! A token's value is shown once, in the answer that creates it; the store keeps only
//! its SHA-256 hash and its first characters (to tell tokens apart). Token ids are
//! JupyterHub's `a<number>`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use hubauth_store::{ApiTokenRecord, NewApiToken, UserRecord};
use serde_json::{Value, json};

use super::auth::{Caller, missing_scope, user_scopes};
use super::scopes::{self, Scopes};
use super::{ApiError, json_response, no_content, string_list};
use crate::secrets::{hash_token, random_token};
use crate::state::{AppState, HubState};

/// How many leading characters of a token are kept in clear, to tell tokens apart.
const PREFIX_LEN: usize = 4;

/// JupyterHub's id for an API token: `a` and the database id.
pub fn api_id(id: i64) -> String {
    format!("a{id}")
}

/// The database id in a JupyterHub token id (`a12` → 12).
pub fn parse_api_id(text: &str) -> Option<i64> {
    text.strip_prefix('a')?
        .parse()
        .ok()
        .filter(|id: &i64| *id > 0)
}

/// A new token's value (shown once) and its stored record.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The token value. Never log it.
    pub token: String,
    /// The stored record.
    pub record: ApiTokenRecord,
}

/// Issues an API token for `owner` at the request of `by` (`POST /users/{name}/tokens`):
/// the requested scopes (default `inherit`: everything the owner may do) must be known
/// and held by the owner (400 otherwise) and held by the requester too (403 naming the
/// missing ones), so that a token never carries more than both have: someone allowed to
/// make tokens for another user, or a narrowed token of the owner, cannot mint a token
/// wider than itself. `expires_in` (seconds) must be positive. The store keeps only the
/// hash.
pub async fn issue_token(
    state: &HubState,
    by: &Caller,
    owner: &UserRecord,
    scopes: Option<Vec<String>>,
    expires_in: Option<i64>,
    note: String,
) -> Result<IssuedToken, ApiError> {
    let scopes = scopes.unwrap_or_else(|| vec!["inherit".to_owned()]);
    scopes::check_known(&scopes, "inherit")?;
    let held = user_scopes(state, owner).await?;
    if !scopes.iter().any(|scope| scope == "inherit") {
        let requested = Scopes::expand(&scopes, Some(&owner.name));
        let granted = requested.intersect(&held);
        if granted != requested {
            let granted = granted.to_strings();
            let missing: Vec<String> = requested
                .to_strings()
                .into_iter()
                .filter(|scope| !granted.contains(scope))
                .collect();
            return Err(ApiError::bad_request(format!(
                "Not assigning requested scopes {} not held by user {}",
                missing.join(", "),
                owner.name
            )));
        }
    }
    let not_held = by.scopes_not_held(&scopes, &owner.name, &held);
    if !not_held.is_empty() {
        return Err(ApiError::forbidden(format!(
            "Not assigning requested scopes {} not held by requester {}",
            not_held.join(", "),
            by.user.name
        )));
    }
    if let Some(seconds) = expires_in
        && seconds <= 0
    {
        return Err(ApiError::bad_request(format!(
            "token expires_in must be a positive number of seconds, not {seconds}"
        )));
    }
    let now = state.clock.now();
    let token = random_token();
    let record = state
        .store
        .create_api_token(NewApiToken {
            hash: hash_token(&token),
            prefix: token.chars().take(PREFIX_LEN).collect(),
            user: owner.name.clone(),
            note,
            scopes,
            created: now,
            expires: expires_in.map(|seconds| now.saturating_add(seconds)),
        })
        .await?;
    Ok(IssuedToken { token, record })
}

/// JupyterHub's token model; `scopes` are the token's effective (expanded) scopes.
pub fn token_model(token: &ApiTokenRecord, scopes: &Scopes) -> Value {
    json!({
        "user": token.user,
        "id": api_id(token.id),
        "kind": "api_token",
        "roles": [],
        "scopes": scopes.to_strings(),
        "created": super::isoformat(token.created),
        "last_activity": super::isoformat_opt(token.last_activity),
        "expires_at": super::isoformat_opt(token.expires),
        "note": token.note,
        "session_id": Value::Null,
        "oauth_client": "JupyterHub",
    })
}

/// The owner named in the path, for a caller who needs `scope` on them.
async fn owner_for(
    state: &HubState,
    caller: &Caller,
    name: &str,
    scope: &str,
) -> Result<UserRecord, ApiError> {
    let normalized = state.authenticator.normalize_username(name);
    let user = state.store.get_user(&normalized).await?;
    let groups = user.as_ref().map(|u| u.groups.as_slice()).unwrap_or(&[]);
    if !caller.scopes.allows_user(scope, &normalized, groups) {
        return Err(missing_scope(scope, &format!("user {normalized}")));
    }
    user.ok_or_else(|| ApiError::not_found(format!("No such user: {normalized}")))
}

/// `GET /users/{name}/tokens`: `{"api_tokens": [...]}`, expired tokens removed.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let owner = owner_for(&state, &caller, &name, "read:tokens").await?;
    let held = user_scopes(&state, &owner).await?;
    let now = state.clock.now();
    let mut tokens = state.store.list_api_tokens(&owner.name).await?;
    let mut models = Vec::with_capacity(tokens.len());
    tokens.sort_by_key(|token| token.last_activity.unwrap_or(token.created));
    for token in tokens {
        if !token.is_valid_at(now) {
            state.store.delete_api_token(&owner.name, token.id).await?;
            continue;
        }
        let scopes = Scopes::for_token(&token.scopes, &owner.name, &held);
        models.push(token_model(&token, &scopes));
    }
    Ok(json_response(StatusCode::OK, json!({"api_tokens": models})))
}

/// `POST /users/{name}/tokens` with optional `scopes`, `expires_in` and `note`: 201 with
/// the token model and, once, the `token` value.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let normalized = state.authenticator.normalize_username(&name);
    let owner = state.store.get_user(&normalized).await?;
    let allowed = owner.as_ref().is_some_and(|owner| {
        caller
            .scopes
            .allows_user("tokens", &owner.name, &owner.groups)
    });
    let Some(owner) = owner.filter(|_| allowed) else {
        return Err(ApiError::forbidden(format!(
            "User {normalized} not found or no permissions to generate tokens"
        )));
    };
    let body = match super::json_body(&body)? {
        None => serde_json::Map::new(),
        Some(Value::Object(map)) => map,
        Some(_) => return Err(ApiError::bad_request("Body must be a JSON dict or empty")),
    };
    let scopes = match body.get("scopes") {
        None | Some(Value::Null) => None,
        Some(value) => Some(string_list(value, "token scopes").map_err(|_| {
            ApiError::bad_request(format!(
                "token scopes must be null or a list of strings, not {value}"
            ))
        })?),
    };
    if let Some(roles) = body.get("roles").filter(|value| !value.is_null()) {
        let roles = string_list(roles, "token roles")?;
        if !roles.is_empty() {
            return Err(ApiError::bad_request(
                "token roles are deprecated and not supported by hubauth; request scopes instead",
            ));
        }
    }
    let expires_in = match body.get("expires_in") {
        None | Some(Value::Null) => None,
        Some(value) => Some(value.as_i64().ok_or_else(|| {
            ApiError::bad_request(format!(
                "token expires_in must be null or integer, not {value}"
            ))
        })?),
    };
    let note = match body.get("note") {
        Some(Value::String(note)) if !note.is_empty() => note.clone(),
        None | Some(Value::Null | Value::String(_)) => {
            if caller.user.name == owner.name {
                "Requested via api".to_owned()
            } else {
                format!("Requested via api by user {}", caller.user.name)
            }
        }
        Some(_) => return Err(ApiError::bad_request("token note must be a string")),
    };
    let issued = issue_token(&state, &caller, &owner, scopes, expires_in, note).await?;
    if caller.user.name == owner.name {
        tracing::info!(user = %owner.name, "User requested new API token");
    } else {
        tracing::info!(user = %owner.name, by = %caller.user.name, "User requested API token for another user");
    }
    let held = user_scopes(&state, &owner).await?;
    let scopes = Scopes::for_token(&issued.record.scopes, &owner.name, &held);
    let mut model = token_model(&issued.record, &scopes);
    model["token"] = Value::String(issued.token);
    Ok(json_response(StatusCode::CREATED, model))
}

/// The owner's token with this JupyterHub id, or 404.
async fn find_token(
    state: &HubState,
    owner: &UserRecord,
    token_id: &str,
) -> Result<ApiTokenRecord, ApiError> {
    let not_found =
        || ApiError::not_found(format!("No such token {token_id} for user {}", owner.name));
    let id = parse_api_id(token_id).ok_or_else(not_found)?;
    let now = state.clock.now();
    state
        .store
        .list_api_tokens(&owner.name)
        .await?
        .into_iter()
        .find(|token| token.id == id && token.is_valid_at(now))
        .ok_or_else(not_found)
}

/// `GET /users/{name}/tokens/{token_id}`.
pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, token_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let owner = owner_for(&state, &caller, &name, "read:tokens").await?;
    let token = find_token(&state, &owner, &token_id).await?;
    let held = user_scopes(&state, &owner).await?;
    let scopes = Scopes::for_token(&token.scopes, &owner.name, &held);
    Ok(json_response(StatusCode::OK, token_model(&token, &scopes)))
}

/// `DELETE /users/{name}/tokens/{token_id}`: 204.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, token_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let owner = owner_for(&state, &caller, &name, "tokens").await?;
    let token = find_token(&state, &owner, &token_id).await?;
    state.store.delete_api_token(&owner.name, token.id).await?;
    // The token may be cached at the REST API and the gateway.
    state.sessions_changed(&owner.name).await;
    tracing::info!(user = %owner.name, token = %api_id(token.id), "Deleting token");
    Ok(no_content())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_ids() {
        assert_eq!(api_id(12), "a12");
        assert_eq!(parse_api_id("a12"), Some(12));
        assert_eq!(parse_api_id("12"), None);
        assert_eq!(parse_api_id("a-1"), None);
        assert_eq!(parse_api_id("ax"), None);
    }
}
