//! The JupyterHub-compatible REST API under `{base_url}hub/api`: the current user, users,
//! API tokens, groups and roles, with access decided by JupyterHub's scopes.
//!
//! - [`auth`] resolves who calls (API token or session cookie with XSRF) and with which
//!   scopes; other parts of the hub reuse it for bearer tokens.
//! - [`users`], [`groups`] and [`roles`] hold the operations as functions on
//!   [`HubState`](crate::state::HubState), so that HTML pages can call them too, and
//!   the JSON handlers on top of them.
//! - [`openapi`] serves the OpenAPI 3 document of these routes.
//!
//! Errors are JSON `{"status": N, "message": "..."}`, as JupyterHub writes them.

pub mod auth;
pub mod groups;
pub mod openapi;
pub mod roles;
pub mod scopes;
pub mod tokens;
pub mod users;

use std::collections::BTreeSet;

use axum::Json;
use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any, get, post};
use serde_json::{Value, json};

use crate::error::HubError;
use crate::state::AppState;
use crate::web::WebError;

pub use auth::Caller;

/// The media type a client sends in `Accept` to get paginated list envelopes.
pub const PAGINATION_MEDIA_TYPE: &str = "application/jupyterhub-pagination+json";

/// Items per page when the client asks for pagination and gives no `limit`
/// (JupyterHub's `api_page_default_limit`).
pub const API_PAGE_DEFAULT_LIMIT: u64 = 50;

/// Most items per page (JupyterHub's `api_page_max_limit`); also the page size for
/// clients that do not ask for pagination.
pub const API_PAGE_MAX_LIMIT: u64 = 200;

/// Every path of the API, relative to `{base_url}hub/api` (the OpenAPI document lists
/// exactly these). `/` is the API root with the version.
pub const ROUTES: &[&str] = &[
    "/",
    "/user",
    "/users",
    "/users/{name}",
    "/users/{name}/tokens",
    "/users/{name}/tokens/{token_id}",
    "/groups",
    "/groups/{name}",
    "/groups/{name}/users",
    "/roles",
    "/roles/{name}",
    "/openapi.json",
];

/// The handlers of one path of [`ROUTES`].
fn handlers(path: &str) -> MethodRouter<AppState> {
    match path {
        "/" => get(api_root),
        "/user" => get(users::whoami),
        "/users" => get(users::list).post(users::create_many),
        "/users/{name}" => get(users::get_one)
            .post(users::create_one)
            .patch(users::patch)
            .delete(users::delete),
        "/users/{name}/tokens" => get(tokens::list).post(tokens::create),
        "/users/{name}/tokens/{token_id}" => get(tokens::get_one).delete(tokens::delete),
        "/groups" => get(groups::list).post(groups::create_many),
        "/groups/{name}" => get(groups::get_one)
            .post(groups::create_one)
            .delete(groups::delete),
        "/groups/{name}/users" => post(groups::add_users).delete(groups::remove_users),
        "/roles" => get(roles::list),
        "/roles/{name}" => get(roles::get_one)
            .post(roles::create)
            .delete(roles::delete),
        "/openapi.json" => get(openapi::document),
        _ => any(not_found),
    }
}

/// The API's routes, relative to the hub prefix (`/api/...`). The API root (`/api` and
/// `/api/`) is routed by the hub itself.
pub fn routes() -> Router<AppState> {
    let mut router = Router::new();
    for path in ROUTES.iter().filter(|path| **path != "/") {
        router = router.route(&format!("/api{path}"), handlers(path));
    }
    router.route("/api/{*rest}", any(not_found))
}

/// Unknown paths under the API: a JSON 404.
async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "Not Found")
}

/// A failed API request: answered as `{"status": N, "message": "..."}`.
///
/// The fields are public so that HTML pages calling the operations in [`users`] and
/// [`groups`] can show the same status and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A message safe to show to the caller.
    pub message: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status.as_u16(), self.message)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    /// An error with this status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// 400 Bad Request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 403 Forbidden with JupyterHub's message for a missing scope.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    /// 404 Not Found.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 409 Conflict.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }
}

impl From<WebError> for ApiError {
    fn from(err: WebError) -> Self {
        let (status, message) = err.status_and_message();
        if status.is_server_error() {
            tracing::error!(error = %err, "API request failed");
        }
        ApiError { status, message }
    }
}

impl From<HubError> for ApiError {
    fn from(err: HubError) -> Self {
        ApiError::from(WebError::from(err))
    }
}

impl From<hubauth_store::StoreError> for ApiError {
    fn from(err: hubauth_store::StoreError) -> Self {
        ApiError::from(HubError::from(err))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"status": self.status.as_u16(), "message": self.message});
        let mut response = (self.status, Json(body)).into_response();
        crate::web::error::add_retry_after(&mut response);
        response
    }
}

/// A JSON response with a status.
pub fn json_response(status: StatusCode, body: Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A response with a JSON body already serialized, as [`json_response`] sends it.
pub fn json_bytes_response(status: StatusCode, body: axum::body::Bytes) -> Response {
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

/// 204 No Content.
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// Reads a request body as JSON: `None` when empty, 400 when not JSON.
pub fn json_body(body: &[u8]) -> Result<Option<Value>, ApiError> {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    serde_json::from_str(text)
        .map(Some)
        .map_err(|_| ApiError::bad_request("Invalid JSON in body of request"))
}

/// Reads a body that must be a JSON object (or empty, giving an empty object).
pub fn json_object(body: &[u8]) -> Result<serde_json::Map<String, Value>, ApiError> {
    match json_body(body)? {
        None => Ok(serde_json::Map::new()),
        Some(Value::Object(map)) => Ok(map),
        Some(other) => Err(ApiError::bad_request(format!("Invalid JSON data: {other}"))),
    }
}

/// A list of strings from a JSON value, or 400 naming the field.
pub fn string_list(value: &Value, field: &str) -> Result<Vec<String>, ApiError> {
    let Value::Array(items) = value else {
        return Err(ApiError::bad_request(format!("{field} must be a list")));
    };
    items
        .iter()
        .map(|item| match item {
            Value::String(text) => Ok(text.clone()),
            _ => Err(ApiError::bad_request(format!(
                "{field} must be a list of strings"
            ))),
        })
        .collect()
}

/// The keys of a JSON model a caller may see: for each `(scope, keys)` of `access`, the
/// keys of the scopes `allows` grants for this resource. Empty when none applies.
pub fn visible_keys(
    access: &[(&str, &[&'static str])],
    allows: impl Fn(&str) -> bool,
) -> BTreeSet<&'static str> {
    let mut visible = BTreeSet::new();
    for (scope, keys) in access {
        if allows(scope) {
            visible.extend(keys.iter().copied());
        }
    }
    visible
}

/// The model made of the fields of `full` whose keys are `visible`.
pub fn model_with(
    full: impl IntoIterator<Item = (&'static str, Value)>,
    visible: &BTreeSet<&'static str>,
) -> serde_json::Map<String, Value> {
    full.into_iter()
        .filter(|(key, _)| visible.contains(key))
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
}

/// Whether the client asked for the pagination envelope.
pub fn accepts_pagination(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| {
            item.split(';')
                .next()
                .is_some_and(|media| media.trim().eq_ignore_ascii_case(PAGINATION_MEDIA_TYPE))
        })
}

/// `offset` and `limit` query arguments.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct PageArgs {
    /// Items to skip.
    pub offset: Option<String>,
    /// Most items to return.
    pub limit: Option<String>,
}

impl PageArgs {
    /// The offset and limit to use, as JupyterHub's `get_api_pagination`: absolute
    /// values, the limit clamped to 1..=[`API_PAGE_MAX_LIMIT`], the default limit
    /// [`API_PAGE_DEFAULT_LIMIT`] for paginating clients and the maximum otherwise.
    pub fn resolve(&self, paginated: bool) -> Result<(u64, u64), ApiError> {
        let invalid =
            || ApiError::bad_request("Invalid argument type, offset and limit must be integers");
        let parse = |text: &str| text.trim().parse::<i64>().map(i64::unsigned_abs);
        let offset = match self.offset.as_deref() {
            None => 0,
            Some(text) => parse(text).map_err(|_| invalid())?,
        };
        let default = if paginated {
            API_PAGE_DEFAULT_LIMIT
        } else {
            API_PAGE_MAX_LIMIT
        };
        let limit = match self.limit.as_deref() {
            None => default,
            Some(text) => parse(text).map_err(|_| invalid())?,
        };
        Ok((offset, limit.clamp(1, API_PAGE_MAX_LIMIT)))
    }
}

/// The page a list request asks for, and how to answer it.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    /// Items to skip.
    pub offset: u64,
    /// Most items to return.
    pub limit: u64,
    /// Whether the client asked for the pagination envelope.
    envelope: bool,
}

impl Page {
    /// The page a request asks for: its `offset` and `limit` arguments (see
    /// [`PageArgs::resolve`]) and its `Accept` header.
    pub fn of_request(args: &PageArgs, headers: &HeaderMap) -> Result<Page, ApiError> {
        let envelope = accepts_pagination(headers);
        let (offset, limit) = args.resolve(envelope)?;
        Ok(Page {
            offset,
            limit,
            envelope,
        })
    }

    /// This page of a list held in memory, and the list's length.
    pub fn of_list<T>(&self, items: Vec<T>) -> (Vec<T>, u64) {
        let total = u64::try_from(items.len()).unwrap_or(u64::MAX);
        let page = items
            .into_iter()
            .skip(usize::try_from(self.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(self.limit).unwrap_or(usize::MAX))
            .collect();
        (page, total)
    }

    /// The 200 answer with this page's `items` of `total`: the [`paginated`] envelope when
    /// the client asked for it, a plain array otherwise. `request_url` gives the next
    /// page's URL.
    pub fn response(&self, items: Vec<Value>, total: u64, request_url: &str) -> Response {
        let body = if self.envelope {
            paginated(items, self.offset, self.limit, total, request_url)
        } else {
            Value::Array(items)
        };
        json_response(StatusCode::OK, body)
    }
}

/// The pagination envelope: `{"items": [...], "_pagination": {offset, limit, total,
/// next}}`, `next` holding the next page's offset, limit and URL, or null.
pub fn paginated(
    items: Vec<Value>,
    offset: u64,
    limit: u64,
    total: u64,
    request_url: &str,
) -> Value {
    let next_offset = offset.saturating_add(limit);
    let next = if next_offset < total {
        json!({
            "offset": next_offset,
            "limit": limit,
            "url": with_page(request_url, next_offset, limit),
        })
    } else {
        Value::Null
    };
    json!({
        "items": items,
        "_pagination": {
            "offset": offset,
            "limit": limit,
            "total": total,
            "next": next,
        },
    })
}

/// The request URL with `offset` and `limit` replaced.
fn with_page(request_url: &str, offset: u64, limit: u64) -> String {
    let (path, query) = request_url.split_once('?').unwrap_or((request_url, ""));
    let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .filter(|(key, _)| key != "offset" && key != "limit")
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    pairs.push(("offset".to_owned(), offset.to_string()));
    pairs.push(("limit".to_owned(), limit.to_string()));
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("{path}?{query}")
}

/// A unix time as JupyterHub writes times: ISO 8601 in UTC with a `Z`.
pub fn isoformat(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.000000Z",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

/// An optional unix time as an ISO string or null.
pub fn isoformat_opt(unix: Option<i64>) -> Value {
    unix.map(|unix| Value::String(isoformat(unix)))
        .unwrap_or(Value::Null)
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = if m <= 2 { y + 1 } else { y };
    (
        year,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

/// A user by name (normalized first), or 404.
pub async fn find_user(
    state: &crate::state::HubState,
    name: &str,
) -> Result<hubauth_store::UserRecord, ApiError> {
    let normalized = state.authenticator.normalize_username(name);
    state
        .store
        .get_user(&normalized)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("No such user: {normalized}")))
}

/// `{base_url}hub/api`: the API root with the version, as JupyterHub answers it.
pub async fn api_root() -> Response {
    Json(json!({"version": env!("CARGO_PKG_VERSION")})).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_times() {
        assert_eq!(isoformat(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(isoformat(1_795_446_000), "2026-11-23T15:00:00.000000Z");
        assert_eq!(isoformat(951_782_400), "2000-02-29T00:00:00.000000Z");
    }

    #[test]
    fn page_args() {
        let args = |offset: Option<&str>, limit: Option<&str>| PageArgs {
            offset: offset.map(str::to_owned),
            limit: limit.map(str::to_owned),
        };
        assert_eq!(args(None, None).resolve(true).unwrap(), (0, 50));
        assert_eq!(args(None, None).resolve(false).unwrap(), (0, 200));
        assert_eq!(args(Some("-5"), Some("0")).resolve(true).unwrap(), (5, 1));
        assert_eq!(args(None, Some("9999")).resolve(true).unwrap(), (0, 200));
        assert_eq!(args(Some("x"), None).resolve(true).unwrap_err().status, 400);
    }

    #[test]
    fn next_page_url_keeps_other_arguments() {
        let body = paginated(vec![], 0, 2, 5, "/hub/api/users?name_filter=a&limit=2");
        assert_eq!(
            body["_pagination"]["next"]["url"],
            "/hub/api/users?name_filter=a&offset=2&limit=2"
        );
        let last = paginated(vec![], 4, 2, 5, "/hub/api/users");
        assert_eq!(last["_pagination"]["next"], Value::Null);
    }
}
