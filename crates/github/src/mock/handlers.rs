//! The mock's routes. The module documentation of [`super`] says which GitHub page each
//! behaviour follows.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hubauth_devidp::mock::{CodeGrant, Mock, html, random_token, s256};
use serde_json::{Value, json};

use super::{
    API_VERSION_SUPPORTED, GitHub, GitHubState, Issued, MockUser, State as Membership, has_scope,
    normalize_scopes,
};

/// How long a code can be exchanged ("The temporary code will expire after 10 minutes").
const CODE_TTL: i64 = 600;
/// An OAuth app's token does not expire by time; ten years stand in for that.
const OAUTH_APP_TTL: i64 = 10 * 365 * 24 * 3600;
/// A GitHub App's expiring user token lives eight hours.
const USER_TOKEN_TTL: i64 = 28_800;
/// Its refresh token lives six months.
const REFRESH_TTL: i64 = 15_811_200;
/// `per_page` when the request does not say.
const DEFAULT_PER_PAGE: usize = 30;
const DOCS: &str = "https://docs.github.com/rest";

// ------------------------------------------------------------------ authorization

/// `GET /login/oauth/authorize`.
pub(super) async fn authorize(
    State(mock): State<Mock<GitHub>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let auto = mock.lock().state.auto_approve.clone();
    match auto {
        Some(login) => approve(&mock, &query, Some(&login)),
        None => picker(&mock, &query),
    }
}

/// The picker page's form: `login_as` is the user, empty to deny.
pub(super) async fn authorize_pick(
    State(mock): State<Mock<GitHub>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let login = form.get("login_as").cloned().unwrap_or_default();
    approve(&mock, &form, Some(login.as_str()).filter(|l| !l.is_empty()))
}

/// Where an authorization request's answer goes: the registered callback URL when
/// `redirect_uri` is absent, the given one when GitHub's rules allow it.
enum Target {
    /// The client id names no app: GitHub shows a 404 page.
    UnknownClient,
    /// A `redirect_uri` outside the rules: errors go to the callback URL.
    Mismatch { callback: String },
    /// Where to send the code, and the callback URL errors go to.
    Redirect { to: String, callback: String },
}

fn target(mock: &Mock<GitHub>, params: &HashMap<String, String>) -> Target {
    let core = mock.lock();
    let Some(client) = params.get("client_id").and_then(|id| core.clients.get(id)) else {
        return Target::UnknownClient;
    };
    let Some(callback) = client.redirect_uris.first().cloned() else {
        return Target::UnknownClient;
    };
    match params.get("redirect_uri").filter(|uri| !uri.is_empty()) {
        None => Target::Redirect {
            to: callback.clone(),
            callback,
        },
        Some(given)
            if client
                .redirect_uris
                .iter()
                .any(|cb| redirect_allowed(cb, given)) =>
        {
            Target::Redirect {
                to: given.clone(),
                callback,
            }
        }
        Some(_) => Target::Mismatch { callback },
    }
}

/// GitHub's redirect URL rule ("Redirect URLs"): the same scheme; the callback's host or
/// a subdomain of it; the same port, except for a loopback IP callback ("Loopback
/// redirect urls"); the callback's path or a path below it.
pub(crate) fn redirect_allowed(callback: &str, given: &str) -> bool {
    let (Ok(callback), Ok(given)) = (url::Url::parse(callback), url::Url::parse(given)) else {
        return false;
    };
    let (Some(cb_host), Some(host)) = (callback.host_str(), given.host_str()) else {
        return false;
    };
    let loopback = matches!(cb_host, "127.0.0.1" | "[::1]") && host == cb_host;
    let host_ok = host == cb_host || host.ends_with(&format!(".{cb_host}"));
    let port_ok = loopback || given.port_or_known_default() == callback.port_or_known_default();
    let base = callback.path().trim_end_matches('/');
    let path_ok = given.path() == callback.path()
        || given.path() == base
        || given.path().starts_with(&format!("{base}/"));
    given.scheme() == callback.scheme() && host_ok && port_ok && path_ok
}

fn authorization_error(callback: &str, error: &str, description: &str, state: &str) -> Response {
    html::redirect_with(
        callback,
        &[
            ("error", error),
            ("error_description", description),
            (
                "error_uri",
                "/apps/managing-oauth-apps/troubleshooting-authorization-request-errors",
            ),
            ("state", state),
        ],
    )
}

fn picker(mock: &Mock<GitHub>, query: &HashMap<String, String>) -> Response {
    if matches!(target(mock, query), Target::UnknownClient) {
        return html::page(StatusCode::NOT_FOUND, "Not Found (GitHub mock)", "");
    }
    let core = mock.lock();
    let buttons: String = core
        .state
        .users
        .values()
        .map(|user| {
            format!(
                "<button type=\"submit\" name=\"login_as\" value=\"{login}\">{login}</button><br>",
                login = html::escape(&user.login)
            )
        })
        .collect();
    html::page(
        StatusCode::OK,
        "Authorize application (GitHub mock)",
        &format!(
            "<p>Sign in as:</p><form method=\"post\" action=\"{}\">{}{buttons}<button type=\"submit\" name=\"login_as\" value=\"\">Cancel</button></form>",
            super::AUTHORIZE_PATH,
            html::hidden_fields(query.iter().filter(|(k, _)| *k != "login_as")),
        ),
    )
}

fn approve(mock: &Mock<GitHub>, params: &HashMap<String, String>, login: Option<&str>) -> Response {
    let state_param = params.get("state").cloned().unwrap_or_default();
    let (to, callback) = match target(mock, params) {
        Target::UnknownClient => {
            return html::page(StatusCode::NOT_FOUND, "Not Found (GitHub mock)", "");
        }
        Target::Mismatch { callback } => {
            return authorization_error(
                &callback,
                "redirect_uri_mismatch",
                "The redirect_uri MUST match the registered callback URL for this application.",
                &state_param,
            );
        }
        Target::Redirect { to, callback } => (to, callback),
    };
    let challenge = params.get("code_challenge").filter(|c| !c.is_empty());
    let method = params
        .get("code_challenge_method")
        .map(String::as_str)
        .unwrap_or("plain");
    if challenge.is_some() && method != "S256" {
        return authorization_error(
            &callback,
            "invalid_request",
            "Only the S256 code challenge method is supported.",
            &state_param,
        );
    }
    let now = mock.now();
    let mut core = mock.lock();
    let state = &mut core.state;
    let Some(user) = login.and_then(|login| state.user(login)).cloned() else {
        return authorization_error(
            &callback,
            "access_denied",
            "The user has denied your application access.",
            &state_param,
        );
    };
    let requested: Vec<&str> = params
        .get("scope")
        .map(|scope| {
            scope
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let scopes = normalize_scopes(
        requested
            .into_iter()
            .filter(|scope| !state.withheld.contains(*scope)),
    );
    let grant = CodeGrant {
        client_id: params.get("client_id").cloned().unwrap_or_default(),
        redirect_uri: to.clone(),
        user: user.login.clone(),
        scopes,
        nonce: None,
        code_challenge: challenge.cloned(),
        extra: params
            .get("redirect_uri")
            .filter(|u| !u.is_empty())
            .cloned(),
    };
    let code = state.codes.issue(grant, now + CODE_TTL);
    html::redirect_with(&to, &[("code", &code), ("state", &state_param)])
}

// ------------------------------------------------------------------ token endpoint

/// The parameters of a token request: the query string, then the form body (GitHub reads
/// both; the body wins).
fn token_params(uri: &Uri, body: &[u8]) -> HashMap<String, String> {
    let mut params: HashMap<String, String> = uri
        .query()
        .map(|query| {
            url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    params.extend(url::form_urlencoded::parse(body).into_owned());
    params
}

/// The token endpoint's answer: JSON when `Accept` asks for it, else form-encoded
/// ("By default, the response takes the following form"). Always HTTP 200.
fn token_answer(headers: &HeaderMap, fields: Vec<(&str, Value)>) -> Response {
    let json_wanted = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("json"));
    let mut response = if json_wanted {
        let map: serde_json::Map<String, Value> = fields
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value))
            .collect();
        axum::Json(Value::Object(map)).into_response()
    } else {
        let mut body = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in &fields {
            let text = match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            body.append_pair(key, &text);
        }
        (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/x-www-form-urlencoded; charset=utf-8",
            )],
            body.finish(),
        )
            .into_response()
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A token error as GitHub sends it: HTTP 200 with `error`, `error_description` and
/// `error_uri`.
fn token_error(headers: &HeaderMap, error: &str, description: &str) -> Response {
    token_answer(
        headers,
        vec![
            ("error", json!(error)),
            ("error_description", json!(description)),
            (
                "error_uri",
                json!(format!(
                    "/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#{}",
                    error.replace('_', "-")
                )),
            ),
        ],
    )
}

/// Issues an access token (and, for a GitHub App, a refresh token) and the answer's
/// fields.
fn issue(state: &mut GitHubState, issued: Issued, now: i64) -> Vec<(&'static str, Value)> {
    if state.expiring {
        let access = format!("ghu_{}", random_token(27));
        state
            .access
            .insert(access.clone(), issued.clone(), now + USER_TOKEN_TTL);
        let refresh = format!("ghr_{}", random_token(57));
        let refresh_grant = Issued {
            access_token: Some(access.clone()),
            ..issued
        };
        state
            .refresh
            .insert(refresh.clone(), refresh_grant, now + REFRESH_TTL);
        vec![
            ("access_token", json!(access)),
            ("expires_in", json!(USER_TOKEN_TTL)),
            ("refresh_token", json!(refresh)),
            ("refresh_token_expires_in", json!(REFRESH_TTL)),
            ("scope", json!("")),
            ("token_type", json!("bearer")),
        ]
    } else {
        let access = format!("gho_{}", random_token(27));
        let scope = issued.scopes.join(",");
        state
            .access
            .insert(access.clone(), issued, now + OAUTH_APP_TTL);
        vec![
            ("access_token", json!(access)),
            ("scope", json!(scope)),
            ("token_type", json!("bearer")),
        ]
    }
}

/// `POST /login/oauth/access_token`.
pub(super) async fn token(
    State(mock): State<Mock<GitHub>>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let params = token_params(&uri, &body);
    let now = mock.now();
    let mut core = mock.lock();
    let core = &mut *core;
    // Client credentials are parameters: client_id and client_secret ("Authorizing OAuth
    // apps"); HTTP Basic is not among the documented inputs.
    let secret_ok = params
        .get("client_id")
        .and_then(|id| core.clients.get(id))
        .is_some_and(|client| {
            client.client_secret.as_deref().is_some_and(|secret| {
                params
                    .get("client_secret")
                    .is_some_and(|given| subtle_eq(given.as_bytes(), secret.as_bytes()))
            })
        });
    if !secret_ok {
        return token_error(
            &headers,
            "incorrect_client_credentials",
            "The client_id and/or client_secret passed are incorrect.",
        );
    }
    let client_id = params.get("client_id").cloned().unwrap_or_default();
    let state = &mut core.state;
    let field = |name: &str| {
        params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    match field("grant_type") {
        None | Some("authorization_code") => {
            let bad_code = || {
                token_error(
                    &headers,
                    "bad_verification_code",
                    "The code passed is incorrect or expired.",
                )
            };
            let Some(grant) = field("code").and_then(|code| state.codes.take(code, now)) else {
                return bad_code();
            };
            if grant.client_id != client_id {
                return bad_code();
            }
            if field("redirect_uri").is_some_and(|uri| uri != grant.redirect_uri) {
                return token_error(
                    &headers,
                    "redirect_uri_mismatch",
                    "The redirect_uri MUST match the registered callback URL for this application.",
                );
            }
            // PKCE (S256 only): a challenge needs its verifier, and a verifier needs a
            // challenge. GitHub documents no error code for a failed check; the mock
            // answers as for a bad code.
            match (&grant.code_challenge, field("code_verifier")) {
                (None, None) => {}
                (Some(challenge), Some(verifier)) if s256(verifier) == *challenge => {}
                _ => return bad_code(),
            }
            let Some(user) = state.user(&grant.user).cloned() else {
                return bad_code();
            };
            if !user.emails.iter().any(|e| e.primary && e.verified) {
                return token_error(
                    &headers,
                    "unverified_user_email",
                    "The user must have a verified primary email.",
                );
            }
            let issued = Issued {
                login: user.login,
                client_id,
                scopes: grant.scopes,
                access_token: None,
            };
            let fields = issue(state, issued, now);
            token_answer(&headers, fields)
        }
        Some("refresh_token") => {
            let bad_refresh = || {
                token_error(
                    &headers,
                    "bad_refresh_token",
                    "The refresh token passed is incorrect or expired.",
                )
            };
            let Some(presented) = field("refresh_token") else {
                return bad_refresh();
            };
            let live = state
                .refresh
                .get(presented, now)
                .filter(|issued| issued.client_id == client_id)
                .cloned();
            let Some(issued) = live else {
                return bad_refresh();
            };
            // "Once you use a refresh token, that refresh token and the old user access
            // token will no longer work."
            state.refresh.revoke(presented, now);
            if let Some(old) = &issued.access_token {
                state.access.revoke(old, now);
            }
            let fields = issue(
                state,
                Issued {
                    access_token: None,
                    ..issued
                },
                now,
            );
            token_answer(&headers, fields)
        }
        Some(_) => token_error(
            &headers,
            "unsupported_grant_type",
            "The grant type must be authorization_code or refresh_token.",
        ),
    }
}

/// Constant-time comparison of two secrets.
fn subtle_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

// ------------------------------------------------------------------ REST API

/// A REST API error body.
fn api_error(status: StatusCode, message: &str) -> Response {
    let mut response = (
        status,
        axum::Json(json!({
            "message": message,
            "documentation_url": DOCS,
            "status": status.as_u16().to_string(),
        })),
    )
        .into_response();
    response.headers_mut().insert(
        "x-github-media-type",
        HeaderValue::from_static("github.v3; format=json"),
    );
    response
}

fn not_found_json() -> Response {
    api_error(StatusCode::NOT_FOUND, "Not Found")
}

/// Any other path: JSON under the API, an HTML page elsewhere.
pub(super) async fn not_found(State(mock): State<Mock<GitHub>>, uri: Uri) -> Response {
    let prefix = &mock.personality().api_prefix;
    if prefix.is_empty() || uri.path().starts_with(prefix.as_str()) {
        not_found_json()
    } else {
        html::page(StatusCode::NOT_FOUND, "Not Found (GitHub mock)", "")
    }
}

/// The caller of an API request.
struct Caller {
    user: MockUser,
    scopes: Vec<String>,
}

/// Who makes an API request.
enum Access {
    /// A live token's user.
    Caller(Caller),
    /// No `Authorization` header, where that is allowed.
    Anonymous,
    /// The answer to send instead.
    Refused(Response),
}

/// Checks what every API request needs: a `User-Agent`, a supported API version, and a
/// live token (`token` or `Bearer` scheme). `optional`: a request without any
/// `Authorization` is [`Access::Anonymous`].
fn caller(mock: &Mock<GitHub>, headers: &HeaderMap, optional: bool) -> Access {
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if agent.trim().is_empty() {
        return Access::Refused(api_error(
            StatusCode::FORBIDDEN,
            "Request forbidden by administrative rules. Please make sure your request has a User-Agent header.",
        ));
    }
    if let Some(version) = headers.get("x-github-api-version")
        && version.to_str().ok() != Some(API_VERSION_SUPPORTED)
    {
        return Access::Refused(api_error(
            StatusCode::BAD_REQUEST,
            "The requested API version is not supported.",
        ));
    }
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return if optional {
            Access::Anonymous
        } else {
            Access::Refused(api_error(
                StatusCode::UNAUTHORIZED,
                "Requires authentication",
            ))
        };
    };
    let text = value.to_str().unwrap_or_default();
    let token = text.split_once(' ').and_then(|(scheme, token)| {
        (scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer"))
            .then_some(token.trim())
    });
    let bad = || Access::Refused(api_error(StatusCode::UNAUTHORIZED, "Bad credentials"));
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return bad();
    };
    let now = mock.now();
    let core = mock.lock();
    let state = &core.state;
    let Some(issued) = state.access.get(token, now) else {
        return bad();
    };
    let Some(user) = state.user(&issued.login).cloned() else {
        return bad();
    };
    Access::Caller(Caller {
        user,
        scopes: issued.scopes.clone(),
    })
}

/// The caller of a request that needs a token, or the answer to send.
fn required(mock: &Mock<GitHub>, headers: &HeaderMap) -> Result<Caller, Box<Response>> {
    match caller(mock, headers, false) {
        Access::Caller(caller) => Ok(caller),
        Access::Anonymous => Err(Box::new(api_error(
            StatusCode::UNAUTHORIZED,
            "Requires authentication",
        ))),
        Access::Refused(response) => Err(Box::new(response)),
    }
}

/// Adds `X-OAuth-Scopes` (the token's) and `X-Accepted-OAuth-Scopes` (what the endpoint
/// checks for) to an answer.
fn with_scopes(mut response: Response, caller: Option<&Caller>, accepted: &str) -> Response {
    let headers = response.headers_mut();
    if let Some(caller) = caller
        && let Ok(value) = HeaderValue::from_str(&caller.scopes.join(", "))
    {
        headers.insert("x-oauth-scopes", value);
    }
    if let Ok(value) = HeaderValue::from_str(accepted) {
        headers.insert("x-accepted-oauth-scopes", value);
    }
    headers.insert(
        "x-github-api-version-selected",
        HeaderValue::from_static(API_VERSION_SUPPORTED),
    );
    response
}

/// The API's base URL as the mock serves it (for links in answers).
fn api_base(mock: &Mock<GitHub>) -> String {
    format!("{}{}", mock.origin(), mock.personality().api_prefix)
}

/// A stable number from a name (ids of organizations and teams).
fn id_of(name: &str) -> u64 {
    name.to_ascii_lowercase().bytes().fold(7_u64, |acc, b| {
        acc.wrapping_mul(131).wrapping_add(u64::from(b))
    }) % 9_000_000
        + 1_000_000
}

/// One page of a list, with its `link` header.
fn page_of(
    items: Vec<Value>,
    query: &HashMap<String, String>,
    limit: usize,
    url: &str,
) -> Response {
    let per_page = query
        .get("per_page")
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(DEFAULT_PER_PAGE)
        .clamp(1, limit.max(1));
    let page = query
        .get("page")
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let last = items.len().div_ceil(per_page).max(1);
    let shown: Vec<Value> = items
        .into_iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .collect();
    let mut response = axum::Json(Value::Array(shown)).into_response();
    let link_to =
        |n: usize, rel: &str| format!("<{url}?per_page={per_page}&page={n}>; rel=\"{rel}\"");
    let mut links = Vec::new();
    if page > 1 {
        links.push(link_to(page - 1, "prev"));
    }
    if page < last {
        links.push(link_to(page + 1, "next"));
        links.push(link_to(last, "last"));
    }
    if page > 1 {
        links.push(link_to(1, "first"));
    }
    if !links.is_empty()
        && let Ok(value) = HeaderValue::from_str(&links.join(", "))
    {
        response.headers_mut().insert(header::LINK, value);
    }
    response
}

/// `GET /user`.
pub(super) async fn user(State(mock): State<Mock<GitHub>>, headers: HeaderMap) -> Response {
    let caller = match required(&mock, &headers) {
        Ok(caller) => caller,
        Err(response) => return *response,
    };
    let user = &caller.user;
    let api = api_base(&mock);
    let body = json!({
        "login": user.login,
        "id": user.id,
        "node_id": format!("U_mock{}", user.id),
        "avatar_url": format!("{}/avatars/u/{}", mock.origin(), user.id),
        "gravatar_id": "",
        "url": format!("{api}/users/{}", user.login),
        "html_url": format!("{}/{}", mock.origin(), user.login),
        "type": "User",
        "site_admin": false,
        "name": user.name,
        "company": null,
        "blog": "",
        "location": null,
        "email": user.public_email,
        "hireable": null,
        "bio": null,
        "twitter_username": null,
        "public_repos": 0,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "created_at": "2020-01-01T00:00:00Z",
        "updated_at": "2020-01-01T00:00:00Z",
    });
    with_scopes(axum::Json(body).into_response(), Some(&caller), "")
}

/// `GET /user/emails`: needs `user:email` (or `user`).
pub(super) async fn emails(
    State(mock): State<Mock<GitHub>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let caller = match required(&mock, &headers) {
        Ok(caller) => caller,
        Err(response) => return *response,
    };
    if !has_scope(&caller.scopes, "user:email") {
        return with_scopes(not_found_json(), Some(&caller), "user, user:email");
    }
    let user = &caller.user;
    let items: Vec<Value> = user
        .emails
        .iter()
        .map(|e| {
            let visibility = if !e.primary {
                Value::Null
            } else if user.public_email.as_deref() == Some(e.email.as_str()) {
                json!("public")
            } else {
                json!("private")
            };
            json!({
                "email": e.email,
                "primary": e.primary,
                "verified": e.verified,
                "visibility": visibility,
            })
        })
        .collect();
    let limit = mock.lock().state.page_limit;
    let url = format!("{}/user/emails", api_base(&mock));
    with_scopes(
        page_of(items, &query, limit, &url),
        Some(&caller),
        "user, user:email",
    )
}

/// `GET /user/teams`: needs `user`, `repo` or `read:org`.
pub(super) async fn teams(
    State(mock): State<Mock<GitHub>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let caller = match required(&mock, &headers) {
        Ok(caller) => caller,
        Err(response) => return *response,
    };
    let accepted = "read:org, repo, user";
    if !["user", "repo", "read:org"]
        .iter()
        .any(|scope| has_scope(&caller.scopes, scope))
    {
        return with_scopes(not_found_json(), Some(&caller), accepted);
    }
    let api = api_base(&mock);
    let items: Vec<Value> = caller
        .user
        .teams
        .iter()
        .filter(|t| t.state == Membership::Active)
        .map(|t| {
            json!({
                "id": id_of(&format!("{}:{}", t.org, t.slug)),
                "node_id": format!("T_mock{}", id_of(&format!("{}:{}", t.org, t.slug))),
                "url": format!("{api}/orgs/{}/teams/{}", t.org, t.slug),
                "html_url": format!("{}/orgs/{}/teams/{}", mock.origin(), t.org, t.slug),
                "name": t.slug,
                "slug": t.slug,
                "description": format!("{} (mock)", t.slug),
                "privacy": "closed",
                "notification_setting": "notifications_enabled",
                "permission": "pull",
                "members_url": format!("{api}/orgs/{}/teams/{}/members{{/member}}", t.org, t.slug),
                "repositories_url": format!("{api}/orgs/{}/teams/{}/repos", t.org, t.slug),
                "parent": null,
                "members_count": 1,
                "repos_count": 0,
                "organization": {
                    "login": t.org,
                    "id": id_of(&t.org),
                    "node_id": format!("O_mock{}", id_of(&t.org)),
                    "url": format!("{api}/orgs/{}", t.org),
                    "description": null,
                },
            })
        })
        .collect();
    let limit = mock.lock().state.page_limit;
    let url = format!("{api}/user/teams");
    with_scopes(page_of(items, &query, limit, &url), Some(&caller), accepted)
}

/// `GET /orgs/{org}/members/{username}`.
pub(super) async fn org_member(
    State(mock): State<Mock<GitHub>>,
    headers: HeaderMap,
    Path((org, username)): Path<(String, String)>,
) -> Response {
    let caller = match required(&mock, &headers) {
        Ok(caller) => caller,
        Err(response) => return *response,
    };
    let (exists, target_member) = {
        let core = mock.lock();
        let state = &core.state;
        (
            state.org_exists(&org),
            state
                .user(&username)
                .is_some_and(|user| user.is_active_member(&org)),
        )
    };
    if !exists {
        return with_scopes(not_found_json(), Some(&caller), "");
    }
    let sees_private = caller.user.is_active_member(&org) && has_scope(&caller.scopes, "read:org");
    let response = if !sees_private {
        // The requester is not a member, or its token may not see private memberships:
        // off to the public membership check.
        let location = format!("{}/orgs/{org}/public_members/{username}", api_base(&mock));
        (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
    } else if target_member {
        StatusCode::NO_CONTENT.into_response()
    } else {
        api_error(
            StatusCode::NOT_FOUND,
            "User does not exist or is not a member of the organization",
        )
    };
    with_scopes(response, Some(&caller), "")
}

/// `GET /orgs/{org}/public_members/{username}` (a token is optional).
pub(super) async fn public_member(
    State(mock): State<Mock<GitHub>>,
    headers: HeaderMap,
    Path((org, username)): Path<(String, String)>,
) -> Response {
    let caller = match caller(&mock, &headers, true) {
        Access::Caller(caller) => Some(caller),
        Access::Anonymous => None,
        Access::Refused(response) => return response,
    };
    let public = {
        let core = mock.lock();
        core.state.user(&username).is_some_and(|user| {
            user.orgs.iter().any(|m| {
                m.org.eq_ignore_ascii_case(&org) && m.public && m.state == Membership::Active
            })
        })
    };
    let response = if public {
        StatusCode::NO_CONTENT.into_response()
    } else {
        not_found_json()
    };
    with_scopes(response, caller.as_ref(), "")
}

/// `GET /orgs/{org}/teams/{team_slug}/memberships/{username}`: for members of the
/// organization with `read:org`.
pub(super) async fn team_membership(
    State(mock): State<Mock<GitHub>>,
    headers: HeaderMap,
    Path((org, team, username)): Path<(String, String, String)>,
) -> Response {
    let caller = match required(&mock, &headers) {
        Ok(caller) => caller,
        Err(response) => return *response,
    };
    let accepted = "admin:org, read:org, repo, user, write:org";
    if !has_scope(&caller.scopes, "read:org") || !caller.user.is_active_member(&org) {
        return with_scopes(not_found_json(), Some(&caller), accepted);
    }
    let membership = {
        let core = mock.lock();
        let state = &core.state;
        if !state.team_exists(&org, &team) {
            return with_scopes(not_found_json(), Some(&caller), accepted);
        }
        state.user(&username).and_then(|user| {
            user.teams
                .iter()
                .find(|t| t.org.eq_ignore_ascii_case(&org) && t.slug.eq_ignore_ascii_case(&team))
                .map(|t| (t.role, t.state))
        })
    };
    let response = match membership {
        Some((role, state)) => axum::Json(json!({
            "url": format!("{}/orgs/{org}/teams/{team}/memberships/{username}", api_base(&mock)),
            "role": role,
            "state": state.as_str(),
        }))
        .into_response(),
        None => not_found_json(),
    };
    with_scopes(response, Some(&caller), accepted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_urls_follow_githubs_rules() {
        // The examples of "Redirect URLs".
        let callback = "http://example.com/path";
        for good in [
            "http://example.com/path",
            "http://example.com/path/subdir/other",
            "http://oauth.example.com/path",
            "http://oauth.example.com/path/subdir/other",
        ] {
            assert!(redirect_allowed(callback, good), "{good}");
        }
        for bad in [
            "http://example.com/bar",
            "http://example.com/",
            "http://example.com:8080/path",
            "http://oauth.example.com:8080/path",
            "http://example.org",
            "http://example.com/pathology",
            "https://example.com/path",
            "http://badexample.com/path",
        ] {
            assert!(!redirect_allowed(callback, bad), "{bad}");
        }
        // Loopback: any port.
        assert!(redirect_allowed(
            "http://127.0.0.1/path",
            "http://127.0.0.1:1234/path"
        ));
        assert!(!redirect_allowed(
            "http://localhost/path",
            "http://localhost:1234/path"
        ));
    }
}
