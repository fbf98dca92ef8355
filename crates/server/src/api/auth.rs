//! Who is calling the API, and with which scopes.
//!
//! Two credentials are accepted, as JupyterHub accepts them:
//!
//! - an API token in `Authorization: token <value>` or `Authorization: Bearer <value>`:
//!   any valid, unexpired token in the store (made through the API, by the hub's OAuth
//!   provider, or by `hubauth` commands), with the token's scopes limited to what its
//!   owner holds ([`resolve_token`], reusable by any part of the hub);
//! - the session cookie `hubauth-session`, with JupyterHub's XSRF rules: a request that
//!   is not a plain page view (any write, or a `fetch` read) must send the `_xsrf` token
//!   in `X-XSRFToken`/`X-CSRFToken` or the `_xsrf` query argument
//!   ([`needs_xsrf_check`]).
//!
//! A user's scopes come from the roles they hold (`user`: `self`; `admin`: the admin
//! role's scopes; roles from `load_managed_roles` or the API), expanded by
//! [`Scopes::expand`].
//!
//! Both are answered from the session cache when they can: a session's scopes, and a
//! token with its owner and scopes, are computed on the first request and kept with the
//! cache entry ([`ApiGrant`]), so a repeated request reads no database. The entry goes
//! with every change to the user's admin flag, groups or roles, their deletion, a logout
//! and a token's deletion made through any hub replica
//! ([`crate::services::Services::sessions_changed`], announced to the others on
//! PostgreSQL), and at the latest after `session_cache_ttl` seconds for changes made
//! directly in the database or whose announcement was lost.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use std::sync::Arc;

use axum::http::{HeaderMap, Method, header};
use hubauth_store::{ApiTokenRecord, UserRecord};

use super::ApiError;
use super::scopes::Scopes;
use crate::csrf;
use crate::error::HubError;
use crate::secrets::hash_token;
use crate::session_cache::ApiGrant;
use crate::state::{AppState, HubState};
use crate::web::Now;
use crate::web::session::resume_session;

use crate::services::MAX_API_TOKEN_LEN as MAX_TOKEN_LEN;

/// How often (seconds) a token's and its user's `last_activity` are written, at most.
const ACTIVITY_INTERVAL: i64 = 60;

/// The authenticated caller of an API request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user making the request (a token's owner), as cached for the session or token.
    pub user: Arc<UserRecord>,
    /// The request's scopes: the user's own, or the token's limited to the user's.
    pub scopes: Arc<Scopes>,
    /// The token used, when the request was token-authenticated.
    pub token: Option<Arc<ApiTokenRecord>>,
    /// Whether the request carries every scope its user holds: a session, or a token
    /// with `inherit` (or with scopes covering all of the owner's).
    pub unrestricted: bool,
    /// What the session cache keeps for this session or token (answers that depend only
    /// on it, such as `GET /hub/api/user`'s, are rendered once and kept there).
    pub grant: Arc<ApiGrant>,
}

/// A valid API token with its owner and scopes.
#[derive(Debug, Clone)]
pub struct TokenOwner {
    /// The token's owner.
    pub user: Arc<UserRecord>,
    /// The token as stored.
    pub token: Arc<ApiTokenRecord>,
    /// The token's scopes, expanded and limited to what the owner holds.
    pub scopes: Arc<Scopes>,
    /// Whether the token carries every scope its owner holds.
    pub unrestricted: bool,
    /// The cache's grant for this token.
    pub grant: Arc<ApiGrant>,
}

impl TokenOwner {
    /// The owner of the token `grant` was made for.
    fn of(user: Arc<UserRecord>, grant: Arc<ApiGrant>) -> Option<TokenOwner> {
        Some(TokenOwner {
            user,
            token: grant.token.clone()?,
            scopes: grant.scopes.clone(),
            unrestricted: grant.unrestricted,
            grant,
        })
    }
}

/// The session cache's key for an API token at the REST API. Apart from the gateway's
/// `token:` entries, which exist only for tokens that carry `access:apps`.
fn cache_key(hash: &str) -> String {
    format!("api-token:{hash}")
}

pub use crate::headers::bearer_token;

/// The scopes a user holds through their roles (see [`crate::services::Accounts::scopes`]).
pub async fn user_scopes(state: &HubState, user: &UserRecord) -> Result<Scopes, HubError> {
    state.accounts().scopes(user).await
}

/// Resolves an API token value at `now`: `None` when it is unknown, expired, or its owner
/// is gone. Records the token's (and its owner's) activity at most once a minute.
pub async fn resolve_token(
    state: &HubState,
    token: &str,
    now: i64,
) -> Result<Option<TokenOwner>, HubError> {
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Ok(None);
    }
    let hash = hash_token(token);
    let key = cache_key(&hash);
    let cache = &state.session_cache;
    if let Some((user, grant)) = cache.api_grant(&key, now)
        && let Some(owner) = TokenOwner::of(user, grant)
    {
        record_activity(state, &owner, now).await?;
        return Ok(Some(owner));
    }
    let generation = cache.generation();
    // hubauth's own tokens by digest; tokens imported from JupyterHub by prefix and
    // JupyterHub's salted hash (`hubauth import-db`).
    let Some(record) = state.store.find_api_token_by_value(token, &hash).await? else {
        return Ok(None);
    };
    if !record.is_valid_at(now) {
        return Ok(None);
    }
    let Some(user) = state.store.get_user(&record.user).await? else {
        return Ok(None);
    };
    let owner_scopes = user_scopes(state, &user).await?;
    let scopes = Scopes::for_token(&record.scopes, &user.name, &owner_scopes);
    let unrestricted = scopes == owner_scopes;
    let expires = record.expires.unwrap_or(i64::MAX);
    let user = Arc::new(user);
    let grant = Arc::new(ApiGrant::new(scopes, unrestricted, Some(record)));
    cache.insert_with_grant(&key, user.clone(), grant.clone(), expires, now, generation);
    let Some(owner) = TokenOwner::of(user, grant) else {
        return Ok(None);
    };
    record_activity(state, &owner, now).await?;
    Ok(Some(owner))
}

/// Writes a token's and its owner's `last_activity` when the last write (or the value
/// read with the token) is at least [`ACTIVITY_INTERVAL`] old: at most once a minute per
/// token, whatever the request rate, and by one request only.
async fn record_activity(state: &HubState, owner: &TokenOwner, now: i64) -> Result<(), HubError> {
    if owner.grant.claim_activity_write(now, ACTIVITY_INTERVAL) {
        state.store.touch_api_token(owner.token.id, now).await?;
        state.store.touch_activity(&owner.user.name, now).await?;
    }
    Ok(())
}

/// The REST API's grant for a session at `now`: cached with the session, or computed from
/// the user's roles and kept with it.
async fn session_grant(
    state: &HubState,
    user: &UserRecord,
    session_hash: &str,
    now: i64,
) -> Result<Arc<ApiGrant>, HubError> {
    let cache = &state.session_cache;
    if let Some((_, grant)) = cache.api_grant(session_hash, now) {
        return Ok(grant);
    }
    let generation = cache.generation();
    let scopes = user_scopes(state, user).await?;
    let grant = Arc::new(ApiGrant::new(scopes, true, None));
    cache.set_api_grant(session_hash, grant.clone(), generation);
    Ok(grant)
}

/// Whether a cookie-authenticated request must carry the XSRF token (JupyterHub's
/// `_needs_check_xsrf`): every request except plain page views (`Sec-Fetch-Mode`
/// `navigate` or absent) and same-origin `no-cors` reads.
pub fn needs_xsrf_check(method: &Method, headers: &HeaderMap) -> bool {
    // Compared without case and without a copy: this runs on every cookie request.
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("unspecified")
    };
    let mode = header("sec-fetch-mode");
    let site = header("sec-fetch-site");
    let is = |value: &str, expected: &str| value.eq_ignore_ascii_case(expected);
    let read_only = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    let exempt = is(mode, "websocket")
        || (read_only && (is(mode, "navigate") || is(mode, "unspecified")))
        || (read_only && is(mode, "no-cors") && is(site, "same-origin"));
    !exempt
}

/// The XSRF token a request sent: the `_xsrf` query argument, `X-XSRFToken` or
/// `X-CSRFToken`.
fn submitted_xsrf(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    if let Some(query) = query
        && let Some((_, value)) = url::form_urlencoded::parse(query.as_bytes())
            .find(|(key, value)| key == "_xsrf" && !value.is_empty())
    {
        return Some(value.into_owned());
    }
    ["x-xsrftoken", "x-csrftoken"].iter().find_map(|name| {
        headers
            .get(*name)
            .and_then(|value| value.to_str().ok())
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
    })
}

/// A POST body type that a cross-site form could not send: JSON, or none given.
fn is_json_or_unspecified(headers: &HeaderMap) -> bool {
    match headers.get(header::CONTENT_TYPE) {
        None => true,
        Some(value) => value.to_str().is_ok_and(|value| {
            value
                .to_ascii_lowercase()
                .split(';')
                .any(|part| part.trim_start().starts_with("application/json"))
        }),
    }
}

/// Authenticates an API request at `now`: `Ok(None)` when it carries no valid credential;
/// an error when a cookie-authenticated request fails the XSRF check.
pub async fn authenticate(
    state: &HubState,
    method: &Method,
    headers: &HeaderMap,
    query: Option<&str>,
    now: i64,
) -> Result<Option<Caller>, ApiError> {
    if let Some(token) = bearer_token(headers)
        && let Some(owner) = resolve_token(state, token, now).await?
    {
        return Ok(Some(Caller {
            user: owner.user,
            scopes: owner.scopes,
            token: Some(owner.token),
            unrestricted: owner.unrestricted,
            grant: owner.grant,
        }));
    }
    // An unknown or expired token falls back to the session cookie, as JupyterHub does
    // (none sent: no session).
    let Some(session) = resume_session(state, headers, now).await? else {
        return Ok(None);
    };
    if *method == Method::POST && !is_json_or_unspecified(headers) {
        tracing::warn!("refusing a cookie-authenticated API POST that is not JSON");
        return Ok(None);
    }
    if needs_xsrf_check(method, headers) {
        let Some(submitted) = submitted_xsrf(headers, query) else {
            return Err(ApiError::forbidden(format!(
                "'_xsrf' argument missing from {}",
                method.as_str()
            )));
        };
        let cookie = csrf::cookie_value(&state.secret, headers).unwrap_or_default();
        if !csrf::check(&state.secret, &cookie, &submitted) {
            return Err(ApiError::forbidden(format!(
                "XSRF cookie does not match {} argument",
                method.as_str()
            )));
        }
    }
    let grant = session_grant(state, &session.user, &session.session_hash, now).await?;
    Ok(Some(Caller {
        user: session.user,
        scopes: grant.scopes.clone(),
        token: None,
        unrestricted: true,
        grant,
    }))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Now(now) = Now::of(&parts.extensions, state);
        authenticate(state, &parts.method, &parts.headers, parts.uri.query(), now)
            .await?
            .ok_or_else(|| ApiError::forbidden("Missing or invalid credentials."))
    }
}

impl Caller {
    /// Whether the request acts with an admin's full power: its user is an admin (the
    /// admin flag, which carries the `admin` role) and the request is not narrowed (a
    /// session, or a token carrying all the admin's scopes). Such a request may hand out
    /// any role and any token scope, as only admins may create roles; a narrowed admin
    /// token may hand out only the scopes it carries.
    pub fn is_full_admin(&self) -> bool {
        self.user.admin && self.unrestricted
    }

    /// The scopes of `raw` (as a role or token lists them, `inherit` standing for
    /// `owner_scopes`), resolved for `owner`, that this request does not hold and so may
    /// not hand out (see [`super::scopes::not_held`]); empty for a full admin.
    pub fn scopes_not_held<S: AsRef<str>>(
        &self,
        raw: &[S],
        owner: &str,
        owner_scopes: &Scopes,
    ) -> Vec<String> {
        if self.is_full_admin() {
            return Vec::new();
        }
        super::scopes::not_held(raw, owner, owner_scopes, &self.scopes)
    }

    /// 403 unless the caller holds `scope` for this user.
    pub fn require_user_scope(
        &self,
        scope: &str,
        name: &str,
        groups: &[String],
    ) -> Result<(), ApiError> {
        if self.scopes.allows_user(scope, name, groups) {
            Ok(())
        } else {
            Err(missing_scope(scope, &format!("user {name}")))
        }
    }

    /// 403 unless the caller holds `scope` for this group.
    pub fn require_group_scope(&self, scope: &str, group: &str) -> Result<(), ApiError> {
        if self.scopes.allows_group(scope, group) {
            Ok(())
        } else {
            Err(missing_scope(scope, &format!("group {group}")))
        }
    }

    /// 403 unless the caller holds `scope` unfiltered.
    pub fn require_scope(&self, scope: &str) -> Result<(), ApiError> {
        if self.scopes.has_all(scope) {
            Ok(())
        } else {
            Err(missing_scope(scope, "this resource"))
        }
    }
}

/// JupyterHub's 403 message for a missing scope.
pub fn missing_scope(scope: &str, target: &str) -> ApiError {
    ApiError::forbidden(format!(
        "Action is not authorized with current scopes; requires any of [{scope}] for {target}"
    ))
}
