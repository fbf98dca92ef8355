//! `{base_url}hub/admin`: the admin page. Plain server-rendered HTML forms (no
//! JavaScript), each POST protected by the XSRF token, redirecting back (POST, redirect,
//! GET) with a notice. The operations are the REST API's ([`crate::api::users`],
//! [`crate::api::groups`]), so the page and the API behave the same; group changes are
//! refused while `manage_groups` makes the login method the groups' owner.

use axum::extract::{Form, OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hubauth_store::{UserQuery, UserSort};
use serde::{Deserialize, Serialize};

use super::{encode_query, html, redirect};
use crate::api::groups::{self, MemberChange};
use crate::api::users;
use crate::csrf;
use crate::pages::PageUser;
use crate::services::SessionUser;
use crate::state::{AppState, HubState};
use crate::web::session::resume_session;
use crate::web::{Now, WebError};

/// Users per page.
const PAGE_SIZE: u64 = 25;

/// The list's query string.
#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    /// Name search.
    #[serde(default)]
    q: String,
    /// 1-based page number.
    #[serde(default)]
    page: Option<u64>,
    /// What was just done (`added`, `deleted`, `admin`, `unadmin`).
    #[serde(default)]
    done: Option<String>,
    /// Whom it was done to.
    #[serde(default)]
    user: Option<String>,
    /// The group it was done to (group operations).
    #[serde(default)]
    group: Option<String>,
}

/// A form post: the XSRF token, and where to return to.
#[derive(Debug, Default, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    _xsrf: String,
    /// New user's name (add).
    #[serde(default)]
    name: String,
    /// `on` when the admin box is checked (add), `true`/`false` (toggle).
    #[serde(default)]
    admin: String,
    /// The user to add to or remove from a group.
    #[serde(default)]
    member: String,
    /// The search to return to.
    #[serde(default)]
    q: String,
    /// The page to return to.
    #[serde(default)]
    page: Option<u64>,
}

#[derive(Serialize)]
struct Row {
    name: String,
    /// The name as one URL path segment.
    path: String,
    admin: bool,
    groups: Vec<String>,
    last_activity: Option<String>,
    is_me: bool,
}

#[derive(Serialize)]
struct GroupRow {
    name: String,
    /// The name as one URL path segment.
    path: String,
    members: Vec<String>,
}

#[derive(Serialize)]
struct AdminContext {
    hub_prefix: String,
    user: PageUser,
    wide: bool,
    xsrf: String,
    logout_xsrf: String,
    q: String,
    page: u64,
    pages: u64,
    total: u64,
    first: u64,
    last: u64,
    rows: Vec<Row>,
    groups: Vec<GroupRow>,
    manage_groups: bool,
    notice: String,
    error: String,
    prev_url: String,
    next_url: String,
}

/// `GET {base_url}hub/admin`.
pub async fn page(
    State(state): State<AppState>,
    Now(now): Now,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Query(params): Query<ListParams>,
) -> Result<Response, Response> {
    let admin = require_admin(&state, &headers, &uri, now).await?;
    let notice = notice(
        params.done.as_deref(),
        params.user.as_deref(),
        params.group.as_deref(),
    );
    render(&state, &admin, &params, StatusCode::OK, notice, "", now)
        .await
        .map_err(IntoResponse::into_response)
}

/// `POST {base_url}hub/admin/users`: add a user.
pub async fn add(
    State(state): State<AppState>,
    Now(now): Now,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Form(form): Form<ActionForm>,
) -> Result<Response, Response> {
    let admin = checked_post(&state, &headers, &uri, &form, now).await?;
    let make_admin = form.admin == "on" || form.admin == "true";
    match users::create_user(&state, &form.name, make_admin).await {
        Ok(created) => Ok(back(&state, &form, "added", &created.name)),
        Err(err) => failed(&state, &admin, &form, err, now).await,
    }
}

/// `POST {base_url}hub/admin/users/{name}/admin`: set or clear the admin flag.
pub async fn set_admin(
    State(state): State<AppState>,
    Now(now): Now,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Path(name): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Response, Response> {
    let admin = checked_post(&state, &headers, &uri, &form, now).await?;
    let make_admin = form.admin == "true";
    if !make_admin && name == admin.user.name {
        let err = crate::api::ApiError::bad_request(
            "You cannot remove your own admin flag here; ask another admin.",
        );
        return failed(&state, &admin, &form, err, now).await;
    }
    match users::set_admin(&state, &name, make_admin).await {
        Ok(user) => {
            let done = if make_admin { "admin" } else { "unadmin" };
            Ok(back(&state, &form, done, &user.name))
        }
        Err(err) => failed(&state, &admin, &form, err, now).await,
    }
}

/// `POST {base_url}hub/admin/users/{name}/delete`: delete a user.
pub async fn delete(
    State(state): State<AppState>,
    Now(now): Now,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Path(name): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Response, Response> {
    let admin = checked_post(&state, &headers, &uri, &form, now).await?;
    if name == admin.user.name {
        let err = crate::api::ApiError::bad_request("Cannot delete yourself!");
        return failed(&state, &admin, &form, err, now).await;
    }
    match users::delete_user(&state, &name).await {
        Ok(()) => Ok(back(&state, &form, "deleted", &name)),
        Err(err) => failed(&state, &admin, &form, err, now).await,
    }
}

/// The logged-in admin; otherwise the login redirect (no session) or a 403 page.
async fn require_admin(
    state: &HubState,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    now: i64,
) -> Result<SessionUser, Response> {
    let current = resume_session(state, headers, now)
        .await
        .map_err(|err| WebError::from(err).into_response())?;
    let Some(current) = current else {
        let here = if uri.path().ends_with("/admin") {
            uri.path_and_query()
                .map(|pq| pq.as_str().to_owned())
                .unwrap_or_else(|| format!("{}admin", state.hub_prefix()))
        } else {
            format!("{}admin", state.hub_prefix())
        };
        return Err(redirect(
            &format!("{}login?next={}", state.hub_prefix(), encode_query(&here)),
            &[],
        ));
    };
    if !current.user.admin {
        return Err(forbidden(&current, "The admin page is for admins only."));
    }
    Ok(current)
}

/// An admin, and a form whose XSRF token matches the cookie; else the error page.
async fn checked_post(
    state: &HubState,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    form: &ActionForm,
    now: i64,
) -> Result<SessionUser, Response> {
    let admin = require_admin(state, headers, uri, now).await?;
    // Bound to the session, not to the `_xsrf` cookie: a cookie planted from a sibling
    // site cannot make a one-click admin form acceptable.
    if !csrf::check_session_token(&state.secret, &admin.session_hash, &form._xsrf) {
        return Err(forbidden(
            &admin,
            "The form's security token did not match. Reload the admin page and try again.",
        ));
    }
    Ok(admin)
}

/// The 403 page for `current` with `message`.
fn forbidden(current: &SessionUser, message: &str) -> Response {
    WebError::refused_to(page_user(current), StatusCode::FORBIDDEN, message).into_response()
}

fn page_user(current: &SessionUser) -> PageUser {
    PageUser {
        name: current.user.name.clone(),
        admin: current.user.admin,
        groups: current.user.groups.clone(),
    }
}

/// 303 back to the list, keeping the search and page, with what was done.
fn back(state: &HubState, form: &ActionForm, done: &str, user: &str) -> Response {
    let mut url = format!(
        "{}admin?done={done}&user={}",
        state.hub_prefix(),
        encode_query(user)
    );
    if !form.q.is_empty() {
        url.push_str(&format!("&q={}", encode_query(&form.q)));
    }
    if let Some(page) = form.page.filter(|p| *p > 1) {
        url.push_str(&format!("&page={page}"));
    }
    let mut response = redirect(&url, &[]);
    *response.status_mut() = StatusCode::SEE_OTHER;
    response
}

/// 303 back to the list after a group operation.
fn back_to_groups(
    state: &HubState,
    form: &ActionForm,
    done: &str,
    group: &str,
    member: &str,
) -> Response {
    let mut url = format!(
        "{}admin?done={done}&group={}",
        state.hub_prefix(),
        encode_query(group)
    );
    if !member.is_empty() {
        url.push_str(&format!("&user={}", encode_query(member)));
    }
    if !form.q.is_empty() {
        url.push_str(&format!("&q={}", encode_query(&form.q)));
    }
    if let Some(page) = form.page.filter(|p| *p > 1) {
        url.push_str(&format!("&page={page}"));
    }
    let mut response = redirect(&url, &[]);
    *response.status_mut() = StatusCode::SEE_OTHER;
    response
}

/// The refusal of a group change while the login method owns the groups.
fn groups_managed(state: &HubState) -> Option<crate::api::ApiError> {
    state.accounts().groups_managed().then(|| {
        crate::api::ApiError::bad_request(
            "Groups are managed by the login method (manage_groups is on): each login sets a user's groups from the identity provider, so change them there.",
        )
    })
}

/// `POST {base_url}hub/admin/groups`: create a group.
pub async fn add_group(
    State(state): State<AppState>,
    Now(now): Now,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Form(form): Form<ActionForm>,
) -> Result<Response, Response> {
    let admin = checked_post(&state, &headers, &uri, &form, now).await?;
    if let Some(err) = groups_managed(&state) {
        return failed(&state, &admin, &form, err, now).await;
    }
    let name = form.name.trim();
    match groups::create_group(&state, name, &[]).await {
        Ok(group) => Ok(back_to_groups(
            &state,
            &form,
            "group-added",
            &group.name,
            "",
        )),
        Err(err) => failed(&state, &admin, &form, err, now).await,
    }
}

/// `POST {base_url}hub/admin/groups/{name}/delete`: delete a group.
pub async fn delete_group(
    State(state): State<AppState>,
    Now(now): Now,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Path(name): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Response, Response> {
    let admin = checked_post(&state, &headers, &uri, &form, now).await?;
    if let Some(err) = groups_managed(&state) {
        return failed(&state, &admin, &form, err, now).await;
    }
    match groups::delete_group(&state, &name).await {
        Ok(()) => Ok(back_to_groups(&state, &form, "group-deleted", &name, "")),
        Err(err) => failed(&state, &admin, &form, err, now).await,
    }
}

/// `POST {base_url}hub/admin/groups/{name}/members`: add a user to a group.
pub async fn add_member(
    State(state): State<AppState>,
    Now(now): Now,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Path(name): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Response, Response> {
    change_member(state, now, uri, headers, name, form, MemberChange::Add).await
}

/// `POST {base_url}hub/admin/groups/{name}/members/remove`: remove a user from a group.
pub async fn remove_member(
    State(state): State<AppState>,
    Now(now): Now,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Path(name): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Response, Response> {
    change_member(state, now, uri, headers, name, form, MemberChange::Remove).await
}

async fn change_member(
    state: AppState,
    now: i64,
    uri: axum::http::Uri,
    headers: HeaderMap,
    group: String,
    form: ActionForm,
    change: MemberChange,
) -> Result<Response, Response> {
    let admin = checked_post(&state, &headers, &uri, &form, now).await?;
    if let Some(err) = groups_managed(&state) {
        return failed(&state, &admin, &form, err, now).await;
    }
    let member = state.authenticator.normalize_username(form.member.trim());
    if member.is_empty() {
        let err = crate::api::ApiError::bad_request("Name the user to add or remove.");
        return failed(&state, &admin, &form, err, now).await;
    }
    match groups::change_members(&state, &group, std::slice::from_ref(&member), change).await {
        Ok(_) => {
            let done = match change {
                MemberChange::Add => "member-added",
                MemberChange::Remove => "member-removed",
            };
            Ok(back_to_groups(&state, &form, done, &group, &member))
        }
        Err(err) => failed(&state, &admin, &form, err, now).await,
    }
}

/// The list again, with the operation's error and its status (400, 404, 409).
async fn failed(
    state: &HubState,
    admin: &SessionUser,
    form: &ActionForm,
    err: crate::api::ApiError,
    now: i64,
) -> Result<Response, Response> {
    let params = ListParams {
        q: form.q.clone(),
        page: form.page,
        done: None,
        user: None,
        group: None,
    };
    let status = err.status;
    if status.is_server_error() {
        tracing::error!(error = %err.message, "admin page operation failed");
    }
    render(
        state,
        admin,
        &params,
        status,
        String::new(),
        &err.message,
        now,
    )
    .await
    .map_err(IntoResponse::into_response)
}

fn notice(done: Option<&str>, user: Option<&str>, group: Option<&str>) -> String {
    if let Some(group) = group.filter(|g| !g.is_empty()) {
        let user = user.unwrap_or_default();
        return match done {
            Some("group-added") => format!("Created group {group}."),
            Some("group-deleted") => format!("Deleted group {group}."),
            Some("member-added") => format!("Added {user} to {group}."),
            Some("member-removed") => format!("Removed {user} from {group}."),
            _ => String::new(),
        };
    }
    let Some(user) = user.filter(|u| !u.is_empty()) else {
        return String::new();
    };
    match done {
        Some("added") => format!("Added user {user}."),
        Some("deleted") => format!("Deleted user {user}."),
        Some("admin") => format!("{user} is now an admin."),
        Some("unadmin") => format!("{user} is no longer an admin."),
        _ => String::new(),
    }
}

async fn render(
    state: &HubState,
    admin: &SessionUser,
    params: &ListParams,
    status: StatusCode,
    notice: String,
    error: &str,
    now: i64,
) -> Result<Response, WebError> {
    let q = params.q.trim().to_owned();
    let requested = params.page.unwrap_or(1).max(1);
    let query = |page: u64| UserQuery {
        offset: (page - 1).saturating_mul(PAGE_SIZE),
        limit: PAGE_SIZE,
        name_filter: (!q.is_empty()).then(|| q.clone()),
        sort: UserSort::Name,
        descending: false,
    };
    // The same query as `users::list_users`, with the store's error kept for the page.
    let mut result = state.store.list_users_page(query(requested)).await?;
    let pages = result.total.div_ceil(PAGE_SIZE).max(1);
    let page = requested.min(pages);
    if page != requested {
        result = state.store.list_users_page(query(page)).await?;
    }
    let groups = state.store.list_groups().await?;
    let rows: Vec<Row> = result
        .users
        .into_iter()
        .map(|user| Row {
            is_me: user.name == admin.user.name,
            last_activity: user.last_activity.map(|at| ago(now, at)),
            path: path_segment(&user.name),
            name: user.name,
            admin: user.admin,
            groups: user.groups,
        })
        .collect();
    let first = if result.total == 0 {
        0
    } else {
        (page - 1) * PAGE_SIZE + 1
    };
    let last = (page - 1) * PAGE_SIZE + rows.len() as u64;
    let link = |target: u64| {
        let mut url = format!("{}admin?page={target}", state.hub_prefix());
        if !q.is_empty() {
            url.push_str(&format!("&q={}", encode_query(&q)));
        }
        url
    };
    let context = AdminContext {
        hub_prefix: state.hub_prefix(),
        user: page_user(admin),
        wide: true,
        xsrf: csrf::session_token(&state.secret, &admin.session_hash),
        logout_xsrf: csrf::session_token(&state.secret, &admin.session_hash),
        prev_url: if page > 1 {
            link(page - 1)
        } else {
            String::new()
        },
        next_url: if page < pages {
            link(page + 1)
        } else {
            String::new()
        },
        q,
        page,
        pages,
        total: result.total,
        first,
        last,
        rows,
        groups: groups
            .into_iter()
            .map(|group| GroupRow {
                path: path_segment(&group.name),
                members: group.users,
                name: group.name,
            })
            .collect(),
        manage_groups: state.accounts().groups_managed(),
        notice,
        error: error.to_owned(),
    };
    let body = state.pages.render("admin.html", context)?;
    Ok(html(status, body, &[]))
}

/// Percent-encodes a name for one URL path segment (everything but unreserved characters).
fn path_segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// "3 minutes ago" and the like.
fn ago(now: i64, at: i64) -> String {
    let seconds = (now - at).max(0);
    let (count, unit) = match seconds {
        0..60 => return "just now".to_owned(),
        60..3600 => (seconds / 60, "minute"),
        3600..86400 => (seconds / 3600, "hour"),
        _ => (seconds / 86400, "day"),
    };
    format!("{count} {unit}{} ago", if count == 1 { "" } else { "s" })
}
