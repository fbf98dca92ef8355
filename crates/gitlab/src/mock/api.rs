//! GitLab's REST API v4, the parts a hub uses (see the module documentation of [`super`]
//! for the pages cited): the current user, the version, groups and members, with
//! GitLab's authentication errors, scopes and offset pagination.
// A refusal is the response to send, built where the check fails.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, HashMap};

use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hubauth_devidp::mock::{Mock, html};
use serde_json::{Value, json};

use super::oauth::{Dead, bearer_error, dead_token, live_token, presented_token};
use super::{API_PREFIX, GitLabService, GitLabState, MockGroup, MockMember, MockProject, MockUser};

/// When the records were made (a fixed date: nothing here depends on it).
const CREATED_AT: &str = "2024-01-15T09:30:00.000Z";
/// Default and largest page size.
const PER_PAGE: usize = 20;
const MAX_PER_PAGE: usize = 100;

/// Which scopes let a token call an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// `GET /user`: `read_user`, `read_api` or `api`.
    ReadUser,
    /// Everything else read here: `read_api` or `api`.
    ReadApi,
}

impl Need {
    fn scopes(self) -> &'static [&'static str] {
        match self {
            Need::ReadUser => &["api", "read_api", "read_user"],
            Need::ReadApi => &["api", "read_api"],
        }
    }
}

fn message(status: StatusCode, text: &str) -> Response {
    (status, axum::Json(json!({ "message": text }))).into_response()
}

/// The user a request's token speaks for, or GitLab's refusal: 401 without a live
/// token, 403 for a blocked user or scopes that do not cover the endpoint.
fn caller(
    state: &GitLabState,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    now: i64,
    need: Need,
) -> Result<MockUser, Response> {
    let presented = presented_token(headers, query);
    let issued = live_token(state, presented.as_deref(), now).map_err(dead_token)?;
    let user = state
        .users
        .get(&issued.user)
        .cloned()
        .ok_or_else(|| dead_token(Dead::Unknown))?;
    if user.blocked {
        return Err(message(
            StatusCode::FORBIDDEN,
            "403 Forbidden - Your account is blocked.",
        ));
    }
    if !issued
        .scopes
        .iter()
        .any(|scope| need.scopes().contains(&scope.as_str()))
    {
        let mut response = bearer_error(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "The access token's scopes do not allow this request.",
        );
        *response.body_mut() = axum::body::Body::from(
            json!({
                "error": "insufficient_scope",
                "error_description": "The access token's scopes do not allow this request.",
                "scope": need.scopes().join(" "),
            })
            .to_string(),
        );
        return Err(response);
    }
    Ok(user)
}

fn user_entity(user: &MockUser) -> Value {
    json!({
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "state": if user.blocked { "blocked" } else { "active" },
        "locked": false,
        "avatar_url": format!("https://secure.gravatar.example/avatar/{}", user.id),
        "web_url": format!("https://gitlab.example/{}", user.username),
    })
}

pub(super) async fn current_user(
    State(mock): State<Mock<GitLabService>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let now = mock.now();
    let core = mock.lock();
    let user = match caller(&core.state, &headers, &query, now, Need::ReadUser) {
        Ok(user) => user,
        Err(response) => return response,
    };
    let mut entity = user_entity(&user);
    if let Value::Object(fields) = &mut entity {
        for (key, value) in [
            ("created_at", json!(CREATED_AT)),
            ("bio", json!("")),
            ("location", Value::Null),
            ("public_email", Value::Null),
            ("website_url", json!("")),
            ("organization", Value::Null),
            ("job_title", json!("")),
            ("bot", json!(false)),
            ("last_sign_in_at", json!(CREATED_AT)),
            ("confirmed_at", json!(CREATED_AT)),
            ("email", json!(user.email)),
            ("commit_email", json!(user.email)),
            ("identities", json!([])),
            ("can_create_group", json!(true)),
            ("can_create_project", json!(true)),
            ("two_factor_enabled", json!(false)),
            ("external", json!(false)),
            ("private_profile", json!(false)),
        ] {
            fields.insert(key.to_owned(), value);
        }
    }
    axum::Json(entity).into_response()
}

pub(super) async fn version(
    State(mock): State<Mock<GitLabService>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let now = mock.now();
    let core = mock.lock();
    if let Err(response) = caller(&core.state, &headers, &query, now, Need::ReadApi) {
        return response;
    }
    let version = &core.state.version;
    axum::Json(json!({
        "version": version,
        "revision": "6f3a1c2b9d4",
        "kas": {"enabled": false, "externalUrl": null, "version": null},
        "enterprise": version.ends_with("-ee"),
    }))
    .into_response()
}

fn group_entity(state: &GitLabState, group: &MockGroup) -> Value {
    let full_name: Vec<String> = state
        .lineage(&group.full_path)
        .iter()
        .map(|g| g.name.clone())
        .collect();
    let parent_id = group
        .parent_path()
        .and_then(|parent| state.group_by_path(parent))
        .map(|parent| parent.id);
    json!({
        "id": group.id,
        "web_url": format!("https://gitlab.example/groups/{}", group.full_path),
        "name": group.name,
        "path": group.path(),
        "description": "",
        "visibility": group.visibility.as_str(),
        "full_name": full_name.join(" / "),
        "full_path": group.full_path,
        "parent_id": parent_id,
        "created_at": CREATED_AT,
    })
}

/// `page` and `per_page` as GitLab reads them: integers, the page at least 1 and the
/// size between 1 and 100; anything that is not an integer is a 400.
fn page_params(query: &HashMap<String, String>) -> Result<(usize, usize), Response> {
    let read = |name: &str, default: usize| -> Result<usize, Response> {
        match query.get(name) {
            None => Ok(default),
            Some(text) => text
                .parse::<i64>()
                .map_err(|_| {
                    (
                        StatusCode::BAD_REQUEST,
                        axum::Json(json!({ "error": format!("{name} is invalid") })),
                    )
                        .into_response()
                })
                .map(|n| usize::try_from(n).unwrap_or(0)),
        }
    };
    let page = read("page", 1)?.max(1);
    let per_page = match read("per_page", PER_PAGE)? {
        0 => PER_PAGE,
        n => n.min(MAX_PER_PAGE),
    };
    Ok((page, per_page))
}

/// One page of `items` with GitLab's pagination headers and `Link` relations.
fn paginated(
    origin: &str,
    uri: &Uri,
    query: &HashMap<String, String>,
    items: Vec<Value>,
) -> Response {
    let (page, per_page) = match page_params(query) {
        Ok(params) => params,
        Err(response) => return response,
    };
    let total = items.len();
    let pages = total.div_ceil(per_page).max(1);
    let shown: Vec<Value> = items
        .into_iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .collect();
    let others: BTreeMap<&String, &String> = query
        .iter()
        .filter(|(key, _)| key.as_str() != "page" && key.as_str() != "per_page")
        .collect();
    let link = |to: usize| {
        let mut serializer = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in &others {
            serializer.append_pair(key, value);
        }
        serializer.append_pair("page", &to.to_string());
        serializer.append_pair("per_page", &per_page.to_string());
        format!("<{origin}{}?{}>", uri.path(), serializer.finish())
    };
    let next = (page < pages).then_some(page + 1);
    let prev = (page > 1).then(|| (page - 1).min(pages));
    let mut links = Vec::new();
    if let Some(prev) = prev {
        links.push(format!("{}; rel=\"prev\"", link(prev)));
    }
    if let Some(next) = next {
        links.push(format!("{}; rel=\"next\"", link(next)));
    }
    links.push(format!("{}; rel=\"first\"", link(1)));
    links.push(format!("{}; rel=\"last\"", link(pages)));
    let mut response = axum::Json(Value::Array(shown)).into_response();
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    set("x-page", page.to_string());
    set("x-per-page", per_page.to_string());
    set("x-total", total.to_string());
    set("x-total-pages", pages.to_string());
    set(
        "x-next-page",
        next.map(|n| n.to_string()).unwrap_or_default(),
    );
    set(
        "x-prev-page",
        prev.map(|n| n.to_string()).unwrap_or_default(),
    );
    set("link", links.join(", "));
    response
}

pub(super) async fn groups(
    State(mock): State<Mock<GitLabService>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let now = mock.now();
    let core = mock.lock();
    let state = &core.state;
    let user = match caller(state, &headers, &query, now, Need::ReadApi) {
        Ok(user) => user,
        Err(response) => return response,
    };
    let min_level = match query.get("min_access_level").map(|l| l.parse::<i64>()) {
        None => None,
        Some(Ok(level)) => Some(level),
        Some(Err(_)) => {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"error": "min_access_level is invalid"})),
            )
                .into_response();
        }
    };
    let mut visible: Vec<&MockGroup> = state
        .groups
        .values()
        .filter(|group| match min_level {
            Some(level) => state
                .group_membership(group, user.id, true)
                .is_some_and(|m| !m.awaiting && m.access_level >= level),
            None => state.group_visible(group, user.id),
        })
        .collect();
    visible.sort_by(|a, b| a.full_path.cmp(&b.full_path));
    let items = visible.iter().map(|g| group_entity(state, g)).collect();
    paginated(mock.origin(), &uri, &query, items)
}

fn member_entity(user: &MockUser, member: MockMember) -> Value {
    let mut entity = user_entity(user);
    if let Value::Object(fields) = &mut entity {
        fields.insert("access_level".into(), json!(member.access_level));
        fields.insert("created_at".into(), json!(CREATED_AT));
        fields.insert("expires_at".into(), Value::Null);
        fields.insert(
            "membership_state".into(),
            json!(if member.awaiting {
                "awaiting"
            } else {
                "active"
            }),
        );
        fields.insert("group_saml_identity".into(), Value::Null);
    }
    entity
}

/// A group by numeric id or (decoded) full path, if the user may see it.
fn find_group<'s>(state: &'s GitLabState, id: &str, user: u64) -> Result<&'s MockGroup, Response> {
    let found = match id.parse::<u64>() {
        Ok(number) => state.groups.get(&number),
        Err(_) => state.group_by_path(id),
    };
    found
        .filter(|group| state.group_visible(group, user))
        .ok_or_else(|| message(StatusCode::NOT_FOUND, "404 Group Not Found"))
}

fn find_project<'s>(
    state: &'s GitLabState,
    id: &str,
    user: u64,
) -> Result<&'s MockProject, Response> {
    let found = match id.parse::<u64>() {
        Ok(number) => state.projects.get(&number),
        Err(_) => state
            .projects
            .values()
            .find(|p| p.path_with_namespace.eq_ignore_ascii_case(id)),
    };
    found
        .filter(|project| state.project_visible(project, user))
        .ok_or_else(|| message(StatusCode::NOT_FOUND, "404 Project Not Found"))
}

/// Which source a members request is about.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Group,
    Project,
}

/// The members of a group or project (`inherited`: through ancestor groups too), by
/// user id, or GitLab's refusal.
fn members_of(
    state: &GitLabState,
    kind: Kind,
    id: &str,
    caller: u64,
    inherited: bool,
) -> Result<BTreeMap<u64, MockMember>, Response> {
    let ids: Vec<u64> = state.users.keys().copied().collect();
    let mut out = BTreeMap::new();
    match kind {
        Kind::Group => {
            let group = find_group(state, id, caller)?;
            for user in ids {
                if let Some(member) = state.group_membership(group, user, inherited) {
                    out.insert(user, member);
                }
            }
        }
        Kind::Project => {
            let project = find_project(state, id, caller)?;
            for user in ids {
                if let Some(member) = state.project_membership(project, user, inherited) {
                    out.insert(user, member);
                }
            }
        }
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn list_members(
    mock: &Mock<GitLabService>,
    headers: &HeaderMap,
    uri: &Uri,
    query: &HashMap<String, String>,
    kind: Kind,
    id: &str,
    inherited: bool,
) -> Response {
    let now = mock.now();
    let core = mock.lock();
    let state = &core.state;
    let user = match caller(state, headers, query, now, Need::ReadApi) {
        Ok(user) => user,
        Err(response) => return response,
    };
    let members = match members_of(state, kind, id, user.id, inherited) {
        Ok(members) => members,
        Err(response) => return response,
    };
    let items = members
        .iter()
        .filter_map(|(id, member)| state.users.get(id).map(|u| member_entity(u, *member)))
        .collect();
    paginated(mock.origin(), uri, query, items)
}

fn one_member(
    mock: &Mock<GitLabService>,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    kind: Kind,
    id: &str,
    user_id: &str,
    inherited: bool,
) -> Response {
    let now = mock.now();
    let core = mock.lock();
    let state = &core.state;
    let user = match caller(state, headers, query, now, Need::ReadApi) {
        Ok(user) => user,
        Err(response) => return response,
    };
    let Ok(wanted) = user_id.parse::<u64>() else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "user_id is invalid"})),
        )
            .into_response();
    };
    let members = match members_of(state, kind, id, user.id, inherited) {
        Ok(members) => members,
        Err(response) => return response,
    };
    match (members.get(&wanted), state.users.get(&wanted)) {
        (Some(member), Some(found)) => axum::Json(member_entity(found, *member)).into_response(),
        _ => message(StatusCode::NOT_FOUND, "404 Not found"),
    }
}

pub(super) async fn group_members(
    State(mock): State<Mock<GitLabService>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    list_members(&mock, &headers, &uri, &query, Kind::Group, &id, false)
}

pub(super) async fn group_members_all(
    State(mock): State<Mock<GitLabService>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    list_members(&mock, &headers, &uri, &query, Kind::Group, &id, true)
}

pub(super) async fn group_member(
    State(mock): State<Mock<GitLabService>>,
    headers: HeaderMap,
    Path((id, user_id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    one_member(&mock, &headers, &query, Kind::Group, &id, &user_id, false)
}

pub(super) async fn group_member_all(
    State(mock): State<Mock<GitLabService>>,
    headers: HeaderMap,
    Path((id, user_id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    one_member(&mock, &headers, &query, Kind::Group, &id, &user_id, true)
}

pub(super) async fn project_members(
    State(mock): State<Mock<GitLabService>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    list_members(&mock, &headers, &uri, &query, Kind::Project, &id, false)
}

pub(super) async fn project_members_all(
    State(mock): State<Mock<GitLabService>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    list_members(&mock, &headers, &uri, &query, Kind::Project, &id, true)
}

pub(super) async fn project_member(
    State(mock): State<Mock<GitLabService>>,
    headers: HeaderMap,
    Path((id, user_id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    one_member(&mock, &headers, &query, Kind::Project, &id, &user_id, false)
}

pub(super) async fn project_member_all(
    State(mock): State<Mock<GitLabService>>,
    headers: HeaderMap,
    Path((id, user_id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    one_member(&mock, &headers, &query, Kind::Project, &id, &user_id, true)
}

/// GitLab's 404: JSON under the API, a page elsewhere.
pub(super) async fn not_found(OriginalUri(uri): OriginalUri) -> Response {
    if uri.path().starts_with(API_PREFIX) {
        (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "application/json")],
            json!({"error": "404 Not Found"}).to_string(),
        )
            .into_response()
    } else {
        html::page(
            StatusCode::NOT_FOUND,
            "The page could not be found (404)",
            "",
        )
    }
}
