//! A mock of Bitbucket Cloud for tests and demos (loopback only): its OAuth 2.0 endpoints
//! (bitbucket.org) and the REST API resources a hub reads (api.bitbucket.org), both served
//! from one origin.
//!
//! What it models, and where Bitbucket documents it:
//!
//! - `GET /site/oauth2/authorize` and `POST /site/oauth2/access_token`, the authorization
//!   code grant (<https://developer.atlassian.com/cloud/bitbucket/oauth-2/>, section 1).
//!   The client authenticates with HTTP Basic (`curl -u "client_id:secret"`, as the page
//!   shows) or with `client_id` and `client_secret` in the body. A consumer has one
//!   callback URL; a request's `redirect_uri` must be that URL or a path under it, and
//!   without one Bitbucket goes to the callback URL ("Use OAuth on Bitbucket Cloud",
//!   <https://support.atlassian.com/bitbucket-cloud/docs/use-oauth-on-bitbucket-cloud/>).
//!   Bitbucket documents no PKCE: `code_challenge` and `code_verifier` are ignored.
//! - Scopes are the consumer's permissions, set when it is registered, not asked for by
//!   the client ([`BitbucketMock::consumer_scopes`], `account` by default); the token
//!   response says which were granted in `scope` (Bitbucket said `scopes` before the
//!   OAuth changes announced for May 2026,
//!   <https://community.developer.atlassian.com/t/oauth-2-0-and-api-authentication-changes-for-bitbucket-cloud/99003>).
//! - Access tokens expire after two hours (`expires_in: 7200`), and a refresh token is
//!   used once: each refresh grant answers with a new one (the same announcement's
//!   "rotating refresh tokens"). An expired access token gets 401 from the API.
//! - `GET /2.0/user`: the logged-in user (`username`, `display_name`, `uuid`,
//!   `account_id`, ...), with the `account` scope
//!   (<https://developer.atlassian.com/cloud/bitbucket/rest/api-group-users/>); without it
//!   403 "Your credentials lack one or more required privilege scopes.". API errors have
//!   Bitbucket's shape, `{"type": "error", "error": {"message": ...}}`.
//! - `GET /2.0/workspaces?role=member|collaborator|owner`: the workspaces the user belongs
//!   to (<https://developer.atlassian.com/cloud/bitbucket/rest/api-group-workspaces/>),
//!   paginated as every Bitbucket collection (`pagelen`, `page`, `size`, `values`, and
//!   `next`/`previous` as absolute URLs, no `next` on the last page;
//!   <https://developer.atlassian.com/cloud/bitbucket/rest/intro/#pagination>), 10 per page
//!   unless `pagelen` (at most 100) says otherwise. A workspace's `slug` is unique, its
//!   `name` is free text: [`MockWorkspace::new`] lets a test give a stranger's workspace
//!   the display name of an allowed one.
//!
//! It is a personality of the provider mock framework (`hubauth_devidp::mock`), which
//! serves it, records and counts requests, and injects faults and outages
//! ([`MockServer::fail_next`], [`MockServer::set_down`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Deref;

use axum::Router;
use axum::extract::{Form, OriginalUri, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hubauth_devidp::DevIdpError;
use hubauth_devidp::mock::{
    Client, Grants, Methods, Mock, MockServer, MockServerOptions, Personality, bearer_token,
    guid_from, html, random_token,
};
use serde_json::{Value, json};

/// A wrong answer an endpoint gives ([`MockServer::fail_next`]).
pub use hubauth_devidp::mock::Fault;

const AUTHORIZE_PATH: &str = "/site/oauth2/authorize";
const TOKEN_PATH: &str = "/site/oauth2/access_token";
const USER_PATH: &str = "/2.0/user";
const WORKSPACES_PATH: &str = "/2.0/workspaces";
/// Access tokens live two hours.
const ACCESS_TTL: i64 = 7200;
/// Unused refresh tokens expire after three months.
const REFRESH_TTL: i64 = 90 * 24 * 3600;
const CODE_TTL: i64 = 600;
const DEFAULT_PAGE_LEN: usize = 10;
const MAX_PAGE_LEN: usize = 100;

/// An endpoint of the mock, for faults and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `/site/oauth2/authorize`
    Authorize,
    /// `/site/oauth2/access_token`
    Token,
    /// `/2.0/user`
    User,
    /// `/2.0/workspaces`
    Workspaces,
}

/// A user's role in a workspace (what `role=` filters on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Member of the workspace.
    Member,
    /// Can write to some of its repositories.
    Collaborator,
    /// Administers it.
    Owner,
}

/// A workspace the user belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockWorkspace {
    /// The unique slug.
    pub slug: String,
    /// The display name (free text, not unique).
    pub name: String,
    /// The UUID, with braces.
    pub uuid: String,
    /// The user's role.
    pub role: Role,
}

impl MockWorkspace {
    /// A workspace `slug` named `name`, of which the user is a member.
    pub fn new(slug: &str, name: &str) -> Self {
        MockWorkspace {
            slug: slug.to_owned(),
            name: name.to_owned(),
            uuid: format!("{{{}}}", guid_from(slug)),
            role: Role::Member,
        }
    }

    /// The same workspace with the user in another role.
    pub fn role(mut self, role: Role) -> Self {
        self.role = role;
        self
    }

    fn json(&self) -> Value {
        json!({
            "type": "workspace",
            "uuid": self.uuid,
            "name": self.name,
            "slug": self.slug,
            "is_private": true,
            "created_on": "2020-04-07T21:38:29.542346+00:00",
            "links": {
                "html": {"href": format!("https://bitbucket.org/{}/", self.slug)},
                "avatar": {"href": format!("https://bitbucket.org/workspaces/{}/avatar/", self.slug)},
            },
        })
    }
}

/// A Bitbucket account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockUser {
    /// `username`.
    pub username: String,
    /// `display_name`.
    pub display_name: String,
    /// `uuid`, with braces.
    pub uuid: String,
    /// `account_id` (the Atlassian account).
    pub account_id: String,
    /// The workspaces the user belongs to, in the order they are listed.
    pub workspaces: Vec<MockWorkspace>,
}

impl MockUser {
    /// A user with a personal workspace of the same name (as every account has).
    pub fn new(username: &str) -> Self {
        MockUser {
            username: username.to_owned(),
            display_name: capitalized(username),
            uuid: format!("{{{}}}", guid_from(&format!("user:{username}"))),
            account_id: format!("557058:{}", guid_from(&format!("account:{username}"))),
            workspaces: vec![MockWorkspace::new(username, &capitalized(username))],
        }
    }

    /// Adds a workspace membership.
    pub fn workspace(mut self, workspace: MockWorkspace) -> Self {
        self.workspaces.push(workspace);
        self
    }

    fn json(&self) -> Value {
        json!({
            "type": "user",
            "username": self.username,
            "nickname": self.username,
            "display_name": self.display_name,
            "uuid": self.uuid,
            "account_id": self.account_id,
            "account_status": "active",
            "has_2fa_enabled": null,
            "is_staff": false,
            "location": null,
            "created_on": "2019-01-01T00:00:00.000000+00:00",
            "links": {
                "self": {"href": format!("https://api.bitbucket.org/2.0/users/{}", self.uuid)},
                "html": {"href": format!("https://bitbucket.org/{}/", self.uuid)},
            },
        })
    }
}

fn capitalized(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Configures a mock before it starts.
#[derive(Debug, Default)]
pub struct BitbucketMock {
    clients: Vec<Client>,
    scopes: BTreeMap<String, Vec<String>>,
    users: Vec<MockUser>,
    auto_approve: Option<String>,
}

impl BitbucketMock {
    /// An empty configuration.
    pub fn builder() -> Self {
        BitbucketMock::default()
    }

    /// Registers an OAuth consumer (key, secret, callback URL) with the `account`
    /// permission.
    pub fn client(mut self, key: &str, secret: &str, callback_url: &str) -> Self {
        self.clients
            .push(Client::confidential(key, secret, callback_url));
        self.scopes
            .insert(key.to_owned(), vec!["account".to_owned()]);
        self
    }

    /// Sets a consumer's permissions (the scopes every token it gets carries).
    pub fn consumer_scopes(mut self, key: &str, scopes: &[&str]) -> Self {
        self.scopes.insert(
            key.to_owned(),
            scopes.iter().map(|scope| (*scope).to_owned()).collect(),
        );
        self
    }

    /// Adds a user.
    pub fn user(mut self, user: MockUser) -> Self {
        self.users.push(user);
        self
    }

    /// Logs every authorization request in as this user without a page; `None` shows a
    /// page to pick one.
    pub fn auto_approve(mut self, username: Option<&str>) -> Self {
        self.auto_approve = username.map(str::to_owned);
        self
    }

    /// Starts serving on 127.0.0.1 on a free port.
    ///
    /// # Errors
    /// When the port cannot be bound or a client is invalid.
    pub async fn start(self) -> Result<MockHandle, DevIdpError> {
        let state = BitbucketState {
            users: self
                .users
                .into_iter()
                .map(|user| (user.username.clone(), user))
                .collect(),
            scopes: self.scopes,
            auto_approve: self.auto_approve,
            page_len: DEFAULT_PAGE_LEN,
            ..BitbucketState::default()
        };
        let options = MockServerOptions {
            clients: self.clients,
            ..MockServerOptions::default()
        };
        let server = MockServer::start(Bitbucket, state, options).await?;
        Ok(MockHandle { server })
    }
}

/// The Bitbucket personality.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bitbucket;

/// What an authorization code was issued for.
#[derive(Debug, Clone)]
struct CodeGrant {
    client_id: String,
    user: String,
    /// The request's own `redirect_uri`, which the token request must repeat.
    redirect_uri: Option<String>,
}

/// An issued access or refresh token.
#[derive(Debug, Clone)]
struct Issued {
    user: String,
    client_id: String,
    scopes: Vec<String>,
}

/// What the Bitbucket mock keeps.
#[derive(Debug, Default)]
pub struct BitbucketState {
    users: BTreeMap<String, MockUser>,
    scopes: BTreeMap<String, Vec<String>>,
    disabled: HashSet<String>,
    auto_approve: Option<String>,
    codes: Grants<CodeGrant>,
    access: Grants<Issued>,
    refresh: Grants<Issued>,
    page_len: usize,
}

impl Personality for Bitbucket {
    type Endpoint = Endpoint;
    type State = BitbucketState;
    const NAME: &'static str = "Bitbucket";

    fn endpoint(&self, path: &str) -> Option<Endpoint> {
        match path {
            AUTHORIZE_PATH => Some(Endpoint::Authorize),
            TOKEN_PATH => Some(Endpoint::Token),
            USER_PATH => Some(Endpoint::User),
            WORKSPACES_PATH => Some(Endpoint::Workspaces),
            _ => None,
        }
    }

    fn routes(&self) -> Router<Mock<Self>> {
        Router::new()
            .route(AUTHORIZE_PATH, get(authorize).post(authorize_pick))
            .route(TOKEN_PATH, post(token))
            .route(USER_PATH, get(user))
            .route(WORKSPACES_PATH, get(workspaces))
    }
}

/// A running mock: the framework's controls ([`MockServer`], through `Deref`) and
/// Bitbucket's own. Dropping it stops the server.
#[derive(Debug)]
pub struct MockHandle {
    server: MockServer<Bitbucket>,
}

impl Deref for MockHandle {
    type Target = MockServer<Bitbucket>;

    fn deref(&self) -> &MockServer<Bitbucket> {
        &self.server
    }
}

impl MockHandle {
    /// The authorization endpoint (Bitbucket's `https://bitbucket.org/site/oauth2/authorize`).
    pub fn authorize_url(&self) -> String {
        format!("{}{AUTHORIZE_PATH}", self.server.origin())
    }

    /// The token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}{TOKEN_PATH}", self.server.origin())
    }

    /// `GET /2.0/user` (Bitbucket's `https://api.bitbucket.org/2.0/user`).
    pub fn user_url(&self) -> String {
        format!("{}{USER_PATH}", self.server.origin())
    }

    /// `GET /2.0/workspaces`.
    pub fn workspaces_url(&self) -> String {
        format!("{}{WORKSPACES_PATH}", self.server.origin())
    }

    /// The four endpoint options of `[BitbucketOAuthenticator]` pointing at this mock, as
    /// TOML lines.
    pub fn toml_urls(&self) -> String {
        format!(
            "authorize_url = \"{}\"\ntoken_url = \"{}\"\nuserdata_url = \"{}\"\nbitbucket_workspaces_url = \"{}\"\n",
            self.authorize_url(),
            self.token_url(),
            self.user_url(),
            self.workspaces_url()
        )
    }

    /// Replaces a user's workspaces.
    pub fn set_workspaces(&self, username: &str, workspaces: Vec<MockWorkspace>) {
        if let Some(user) = self.server.lock().state.users.get_mut(username) {
            user.workspaces = workspaces;
        }
    }

    /// How many workspaces a page holds when the request does not say (10 at Bitbucket).
    pub fn set_page_len(&self, page_len: usize) {
        self.server.lock().state.page_len = page_len.clamp(1, MAX_PAGE_LEN);
    }

    /// Changes a consumer's permissions for tokens issued from now on.
    pub fn set_consumer_scopes(&self, key: &str, scopes: &[&str]) {
        self.server.lock().state.scopes.insert(
            key.to_owned(),
            scopes.iter().map(|scope| (*scope).to_owned()).collect(),
        );
    }

    /// Disables (or re-enables) an account: its tokens are refused and no new ones
    /// issued.
    pub fn set_disabled(&self, username: &str, disabled: bool) {
        let mut core = self.server.lock();
        if disabled {
            core.state.disabled.insert(username.to_owned());
        } else {
            core.state.disabled.remove(username);
        }
    }

    /// Expires every access token issued so far (refresh tokens keep working), as two
    /// hours passing would.
    pub fn expire_access_tokens(&self) {
        let now = self.server.now();
        self.server.lock().state.access.expire_all(now);
    }

    /// Revokes every refresh token issued so far (the user revoked the consumer's access).
    pub fn revoke_refresh_tokens(&self) {
        self.server.lock().state.refresh.revoke_where(|_| true);
    }

    /// Every live access token.
    pub fn live_access_tokens(&self) -> Vec<String> {
        let now = self.server.now();
        let core = self.server.lock();
        core.state
            .access
            .live(now)
            .map(|(token, _)| token.to_owned())
            .collect()
    }

    /// Changes which user auto-approve logs in.
    pub fn set_auto_approve(&self, username: Option<&str>) {
        self.server.lock().state.auto_approve = username.map(str::to_owned);
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// The slug of the demo's allowed workspace.
pub const DEMO_WORKSPACE: &str = "hub-users";

/// Starts a mock for `hubauth demo --provider bitbucket`: consumer `hubauth-demo` for
/// `hub_callback`, users `alice` (member of the `hub-users` workspace), `admin`
/// (`hub-users`, and an admin by name), `bob` (only his own workspace: refused) and
/// `mallory` (a workspace she created and named "Hub Users", slug `mallory-hub-users`:
/// refused, as display names never match). Returns the mock and the complete
/// `[BitbucketOAuthenticator]` table (header included) to append to the demo config.
///
/// # Errors
/// When the mock cannot start.
pub async fn start_demo_mock(hub_callback: &str) -> Result<(MockHandle, String), DevIdpError> {
    let secret = random_token(24);
    let team = MockWorkspace::new(DEMO_WORKSPACE, "Hub Users");
    let mock = BitbucketMock::builder()
        .client("hubauth-demo", &secret, hub_callback)
        .user(MockUser::new("alice").workspace(team.clone()))
        .user(MockUser::new("admin").workspace(team.clone().role(Role::Owner)))
        .user(MockUser::new("bob"))
        .user(
            MockUser::new("mallory")
                .workspace(MockWorkspace::new("mallory-hub-users", "Hub Users")),
        )
        .start()
        .await?;
    let table = format!(
        "[BitbucketOAuthenticator]\n# The Bitbucket mock (hubauth_bitbucket::mock) stands in for bitbucket.org and api.bitbucket.org.\nclient_id = \"hubauth-demo\"\nclient_secret = \"{secret}\"\noauth_callback_url = \"{hub_callback}\"\n{urls}allowed_teams = [\"{DEMO_WORKSPACE}\"]\nadmin_users = [\"admin\"]\n",
        urls = mock.toml_urls(),
    );
    Ok((mock, table))
}

/// An answer that ends a request early (boxed: a response is large).
type Refusal = Box<Response>;

/// An OAuth error of the token endpoint (RFC 6749 5.2), as Bitbucket answers them.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// An error of the REST API, in Bitbucket's shape.
fn api_error(status: StatusCode, message: &str, detail: Option<Value>) -> Response {
    let mut error = json!({"message": message});
    if let (Some(detail), Value::Object(fields)) = (detail, &mut error) {
        fields.insert("detail".into(), detail);
    }
    (status, axum::Json(json!({"type": "error", "error": error}))).into_response()
}

fn page(status: StatusCode, message: &str) -> Response {
    html::page(
        status,
        "Bitbucket (mock)",
        &format!("<p>{}</p>", html::escape(message)),
    )
}

/// Where an authorization request goes back to: its `redirect_uri` if it is the
/// consumer's callback URL or under it, else (none given) the callback URL itself.
fn redirect_target(callback: &str, requested: Option<&str>) -> Option<String> {
    match requested {
        None => Some(callback.to_owned()),
        Some(uri) if uri == callback => Some(uri.to_owned()),
        Some(uri) => {
            let base = callback.trim_end_matches('/');
            uri.strip_prefix(base)
                .filter(|rest| rest.starts_with('/') || rest.starts_with('?'))
                .map(|_| uri.to_owned())
        }
    }
}

/// The consumer and where to go back to, or the page to show instead.
fn check_request(
    mock: &Mock<Bitbucket>,
    params: &HashMap<String, String>,
) -> Result<(String, String), Refusal> {
    let client_id = params.get("client_id").cloned().unwrap_or_default();
    let core = mock.lock();
    let Some(client) = core.clients.get(&client_id) else {
        return Err(Box::new(page(
            StatusCode::BAD_REQUEST,
            "Invalid client_id: no OAuth consumer has this key.",
        )));
    };
    let callback = client.redirect_uris.first().cloned().unwrap_or_default();
    let requested = params.get("redirect_uri").filter(|uri| !uri.is_empty());
    match redirect_target(&callback, requested.map(String::as_str)) {
        Some(target) => Ok((client_id, target)),
        None => Err(Box::new(page(
            StatusCode::BAD_REQUEST,
            "The redirect_uri does not match the OAuth consumer's callback URL.",
        ))),
    }
}

async fn authorize(
    State(mock): State<Mock<Bitbucket>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let (client_id, target) = match check_request(&mock, &query) {
        Ok(checked) => checked,
        Err(page) => return *page,
    };
    let auto = mock.lock().state.auto_approve.clone();
    match auto {
        Some(user) => approve(&mock, &query, &client_id, &target, &user),
        None => picker(&mock, &query),
    }
}

async fn authorize_pick(
    State(mock): State<Mock<Bitbucket>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let (client_id, target) = match check_request(&mock, &form) {
        Ok(checked) => checked,
        Err(page) => return *page,
    };
    let user = form.get("login_as").cloned().unwrap_or_default();
    approve(&mock, &form, &client_id, &target, &user)
}

fn picker(mock: &Mock<Bitbucket>, query: &HashMap<String, String>) -> Response {
    let core = mock.lock();
    let buttons: String = core
        .state
        .users
        .values()
        .map(|user| {
            format!(
                "<button type=\"submit\" name=\"login_as\" value=\"{name}\">{name} ({display})</button><br>",
                name = html::escape(&user.username),
                display = html::escape(&user.display_name)
            )
        })
        .collect();
    html::page(
        StatusCode::OK,
        "Log in with Bitbucket (mock)",
        &format!(
            "<form method=\"post\" action=\"{AUTHORIZE_PATH}\">{hidden}{buttons}<button type=\"submit\" name=\"login_as\" value=\"\">Deny</button></form>",
            hidden = html::hidden_fields(query.iter().filter(|(k, _)| *k != "login_as")),
        ),
    )
}

fn approve(
    mock: &Mock<Bitbucket>,
    params: &HashMap<String, String>,
    client_id: &str,
    target: &str,
    user: &str,
) -> Response {
    let state_param = params.get("state").cloned().unwrap_or_default();
    if params.get("response_type").map(String::as_str) != Some("code") {
        return html::redirect_with(
            target,
            &[
                ("error", "unsupported_response_type"),
                ("state", &state_param),
            ],
        );
    }
    let now = mock.now();
    let mut core = mock.lock();
    let state = &mut core.state;
    if !state.users.contains_key(user) || state.disabled.contains(user) {
        return html::redirect_with(
            target,
            &[("error", "access_denied"), ("state", &state_param)],
        );
    }
    let grant = CodeGrant {
        client_id: client_id.to_owned(),
        user: user.to_owned(),
        redirect_uri: params
            .get("redirect_uri")
            .filter(|uri| !uri.is_empty())
            .cloned(),
    };
    let code = state.codes.issue(grant, now + CODE_TTL);
    html::redirect_with(target, &[("code", &code), ("state", &state_param)])
}

fn issue(state: &mut BitbucketState, issued: Issued, now: i64) -> Value {
    let scope = issued.scopes.join(" ");
    let refresh = state.refresh.issue(issued.clone(), now + REFRESH_TTL);
    let access = state.access.issue(issued, now + ACCESS_TTL);
    json!({
        "access_token": access,
        "scope": scope,
        "expires_in": ACCESS_TTL,
        "refresh_token": refresh,
        "token_type": "bearer",
    })
}

async fn token(
    State(mock): State<Mock<Bitbucket>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let now = mock.now();
    let mut core = mock.lock();
    let core = &mut *core;
    let client_id = match core.clients.authenticate(&headers, &form, Methods::BOTH) {
        Ok((client, _)) => client.client_id.clone(),
        Err(err) => {
            return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", &err.to_string());
        }
    };
    let state = &mut core.state;
    let field = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let scopes = state.scopes.get(&client_id).cloned().unwrap_or_default();
    match field("grant_type") {
        Some("authorization_code") => {
            let Some(grant) = state.codes.take(field("code").unwrap_or_default(), now) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "The authorization code is invalid or has expired.",
                );
            };
            if grant.client_id != client_id {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "The authorization code was issued to another consumer.",
                );
            }
            if grant.redirect_uri.is_some()
                && field("redirect_uri") != grant.redirect_uri.as_deref()
            {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "redirect_uri does not match the authorization request.",
                );
            }
            if state.disabled.contains(&grant.user) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "The account is inactive.",
                );
            }
            let issued = Issued {
                user: grant.user,
                client_id,
                scopes,
            };
            axum::Json(issue(state, issued, now)).into_response()
        }
        Some("refresh_token") => {
            let presented = field("refresh_token").unwrap_or_default().to_owned();
            let live = state
                .refresh
                .get(&presented, now)
                .filter(|issued| {
                    issued.client_id == client_id && !state.disabled.contains(&issued.user)
                })
                .cloned();
            let Some(issued) = live else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Invalid refresh_token",
                );
            };
            // Rotation: the refresh token is used up; the answer carries a new one.
            state.refresh.revoke(&presented, now);
            axum::Json(issue(state, issued, now)).into_response()
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token",
        ),
    }
}

/// The user and scopes of the request's live access token, or the API's answer.
fn token_user(
    mock: &Mock<Bitbucket>,
    headers: &HeaderMap,
) -> Result<(MockUser, Vec<String>), Refusal> {
    let now = mock.now();
    let core = mock.lock();
    let state = &core.state;
    let Some(token) = bearer_token(headers) else {
        return Err(Box::new(api_error(
            StatusCode::UNAUTHORIZED,
            "This API is only accessible with the following authentication types: session, password, apppassword, repository_access_token, workspace_access_token, api_token, jwt, oauth2",
            None,
        )));
    };
    if state.access.is_expired(token, now) {
        return Err(Box::new(api_error(
            StatusCode::UNAUTHORIZED,
            "Access token expired. Use your refresh token to obtain a new access token.",
            None,
        )));
    }
    let issued = state
        .access
        .get(token, now)
        .filter(|issued| !state.disabled.contains(&issued.user))
        .ok_or_else(|| {
            api_error(
                StatusCode::UNAUTHORIZED,
                "Token is invalid or not supported for this endpoint.",
                None,
            )
        })?;
    let user = state.users.get(&issued.user).cloned().ok_or_else(|| {
        api_error(
            StatusCode::UNAUTHORIZED,
            "Token is invalid or not supported for this endpoint.",
            None,
        )
    })?;
    Ok((user, issued.scopes.clone()))
}

fn require_account(scopes: &[String]) -> Result<(), Refusal> {
    if scopes.iter().any(|scope| scope == "account") {
        return Ok(());
    }
    Err(Box::new(api_error(
        StatusCode::FORBIDDEN,
        "Your credentials lack one or more required privilege scopes.",
        Some(json!({"granted": scopes, "required": ["account"]})),
    )))
}

async fn user(State(mock): State<Mock<Bitbucket>>, headers: HeaderMap) -> Response {
    let (user, scopes) = match token_user(&mock, &headers) {
        Ok(found) => found,
        Err(answer) => return *answer,
    };
    if let Err(answer) = require_account(&scopes) {
        return *answer;
    }
    axum::Json(user.json()).into_response()
}

async fn workspaces(
    State(mock): State<Mock<Bitbucket>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let (user, scopes) = match token_user(&mock, &headers) {
        Ok(found) => found,
        Err(answer) => return *answer,
    };
    if let Err(answer) = require_account(&scopes) {
        return *answer;
    }
    let least = match query.get("role").map(String::as_str) {
        None | Some("member") => Role::Member,
        Some("collaborator") => Role::Collaborator,
        Some("owner") => Role::Owner,
        Some(other) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                &format!("Invalid role: {other}"),
                None,
            );
        }
    };
    let number = |key: &str, default: usize| -> Result<usize, Refusal> {
        match query.get(key) {
            None => Ok(default),
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| {
                    Box::new(api_error(
                        StatusCode::BAD_REQUEST,
                        &format!("Invalid {key}: {text}"),
                        None,
                    ))
                }),
        }
    };
    let default_len = mock.lock().state.page_len;
    let (page_number, page_len) = match (number("page", 1), number("pagelen", default_len)) {
        (Ok(page), Ok(len)) => (page, len.min(MAX_PAGE_LEN)),
        (Err(answer), _) | (_, Err(answer)) => return *answer,
    };
    let listed: Vec<&MockWorkspace> = user
        .workspaces
        .iter()
        .filter(|workspace| workspace.role >= least)
        .collect();
    let start = (page_number - 1).saturating_mul(page_len);
    let values: Vec<Value> = listed
        .iter()
        .skip(start)
        .take(page_len)
        .map(|workspace| workspace.json())
        .collect();
    let link = |page: usize| {
        let mut pairs = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in &query {
            if key != "page" {
                pairs.append_pair(key, value);
            }
        }
        pairs.append_pair("page", &page.to_string());
        format!("{}{}?{}", mock.origin(), uri.path(), pairs.finish())
    };
    let mut body = json!({
        "pagelen": page_len,
        "page": page_number,
        "size": listed.len(),
        "values": values,
    });
    if let Value::Object(fields) = &mut body {
        if start.saturating_add(page_len) < listed.len() {
            fields.insert("next".into(), json!(link(page_number + 1)));
        }
        if page_number > 1 {
            fields.insert("previous".into(), json!(link(page_number - 1)));
        }
    }
    axum::Json(body).into_response()
}
