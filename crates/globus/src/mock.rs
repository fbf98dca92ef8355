//! A mock of Globus Auth and the Globus Groups API, for tests and demos (loopback only).
//!
//! It follows Globus's public API documentation (docs.globus.org/api/auth and
//! docs.globus.org/api/groups) for the parts a hub uses:
//!
//! - `GET /v2/oauth2/authorize`: the authorization code flow (with PKCE S256 when a
//!   `code_challenge` is sent); `access_type=offline` asks for refresh tokens. Without
//!   auto-approve a page lets the visitor pick a user.
//! - `POST /v2/oauth2/token`: `authorization_code` and `refresh_token` grants, client
//!   authentication by HTTP Basic or in the body. The Auth token (`auth.globus.org`) is at
//!   the top level; tokens for other resource servers requested by scope (Transfer,
//!   Groups, ...) are in `other_tokens`. A refresh grant answers with the refreshed token
//!   only (and an empty `other_tokens`), as Globus does.
//! - `GET /v2/oauth2/userinfo`: `sub`, and with `profile` `preferred_username` (like
//!   `user@globusid.org`), `name`, `identity_provider`, `identity_provider_display_name`;
//!   `email` with `email`; `identity_set` with
//!   `urn:globus:auth:scope:auth.globus.org:view_identity_set`.
//! - `POST /v2/oauth2/token/revoke`: HTTP Basic client authentication, form `token=...`;
//!   every revoked token is recorded ([`MockHandle::revoked`]).
//! - `GET /v2/groups/my_groups`: the groups of the groups token's user, each with `id`,
//!   `name`, `description`, `group_type`, `enforce_session`, `my_memberships`.
//!
//! Tests steer it while it runs: one-shot faults ([`MockHandle::fail_next`]), an endpoint
//! that is down ([`MockHandle::set_down`]), users' groups, disabled users and expired
//! access tokens.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::{Value, json};
use sha2::Digest;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const AUTH_RS: &str = "auth.globus.org";
const AUTH_SCOPES: [&str; 4] = [
    "openid",
    "profile",
    "email",
    "urn:globus:auth:scope:auth.globus.org:view_identity_set",
];
const LIFETIME: i64 = 172_800;

/// An endpoint of the mock, for faults and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `/v2/oauth2/authorize`
    Authorize,
    /// `/v2/oauth2/token`
    Token,
    /// `/v2/oauth2/userinfo`
    UserInfo,
    /// `/v2/oauth2/token/revoke`
    Revoke,
    /// `/v2/groups/my_groups`
    Groups,
}

/// A wrong answer an endpoint gives ([`MockHandle::fail_next`]): the shared fault
/// injection of the development provider's framework (`Status`, `Garbage`, `EmptyBody`,
/// `Delay`).
pub use hubauth_devidp::faults::Fault;

/// A Globus group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockGroup {
    /// The group's UUID.
    pub id: String,
    /// Its display name.
    pub name: String,
}

impl MockGroup {
    /// A group.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        MockGroup {
            id: id.into(),
            name: name.into(),
        }
    }
}

/// A Globus identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockUser {
    /// `sub`: the identity's UUID.
    pub sub: String,
    /// `preferred_username`: `name@identity-provider-domain`.
    pub preferred_username: String,
    /// `email`.
    pub email: String,
    /// `name`.
    pub name: String,
    /// `identity_provider`: the provider's UUID.
    pub identity_provider: String,
    /// `identity_provider_display_name`.
    pub identity_provider_display_name: String,
    /// The groups the identity is an active member of.
    pub groups: Vec<MockGroup>,
}

impl MockUser {
    /// A user `local@domain` whose email is the same address.
    pub fn new(local: &str, domain: &str) -> Self {
        let username = format!("{local}@{domain}");
        MockUser {
            sub: pseudo_uuid(&username),
            preferred_username: username.clone(),
            email: username,
            name: local.to_owned(),
            identity_provider: pseudo_uuid(domain),
            identity_provider_display_name: if domain == "globusid.org" {
                "Globus ID".to_owned()
            } else {
                domain.to_owned()
            },
            groups: Vec::new(),
        }
    }

    /// Sets the email.
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = email.into();
        self
    }

    /// Adds a group membership.
    pub fn group(mut self, group: MockGroup) -> Self {
        self.groups.push(group);
        self
    }
}

/// A registered client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockClient {
    /// Client id.
    pub id: String,
    /// Client secret.
    pub secret: String,
    /// The one allowed redirect URI.
    pub redirect_uri: String,
}

/// Configures a mock before it starts.
#[derive(Debug, Default)]
pub struct GlobusMock {
    clients: Vec<MockClient>,
    users: Vec<MockUser>,
    auto_approve: Option<String>,
}

impl GlobusMock {
    /// An empty configuration.
    pub fn builder() -> Self {
        GlobusMock::default()
    }

    /// Registers a confidential client.
    pub fn client(mut self, id: &str, secret: &str, redirect_uri: &str) -> Self {
        self.clients.push(MockClient {
            id: id.to_owned(),
            secret: secret.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
        });
        self
    }

    /// Adds a user.
    pub fn user(mut self, user: MockUser) -> Self {
        self.users.push(user);
        self
    }

    /// Logs every authorization request in as this user (by `preferred_username`)
    /// without a page; `None` shows the user picker.
    pub fn auto_approve(mut self, username: Option<&str>) -> Self {
        self.auto_approve = username.map(str::to_owned);
        self
    }

    /// Starts serving on 127.0.0.1 on a free port.
    pub async fn start(self) -> std::io::Result<MockHandle> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                users: self
                    .users
                    .into_iter()
                    .map(|u| (u.preferred_username.clone(), u))
                    .collect(),
                auto_approve: self.auto_approve,
                ..Inner::default()
            }),
            clients: self.clients,
        });
        let router = app(shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(MockHandle {
            shared,
            addr,
            stop: Some(tx),
            task: Some(task),
        })
    }
}

#[derive(Debug, Clone)]
struct CodeGrant {
    client_id: String,
    redirect_uri: String,
    user: String,
    scopes: Vec<String>,
    challenge: Option<String>,
    offline: bool,
}

#[derive(Debug, Clone)]
struct Issued {
    user: String,
    client_id: String,
    resource_server: String,
    scopes: Vec<String>,
    active: bool,
}

#[derive(Debug, Default)]
struct Inner {
    users: BTreeMap<String, MockUser>,
    disabled: HashSet<String>,
    auto_approve: Option<String>,
    codes: HashMap<String, CodeGrant>,
    access: HashMap<String, Issued>,
    refresh: HashMap<String, Issued>,
    revoked: Vec<String>,
    faults: hubauth_devidp::faults::Faults<Endpoint>,
    down: HashSet<Endpoint>,
    counts: HashMap<Endpoint, usize>,
    withheld: HashSet<String>,
}

#[derive(Debug)]
struct Shared {
    inner: Mutex<Inner>,
    clients: Vec<MockClient>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts the request and answers with a fault when one is queued (after the wait of
    /// a delay).
    async fn fault(&self, endpoint: Endpoint) -> Option<Response> {
        let next = {
            let mut inner = self.lock();
            *inner.counts.entry(endpoint).or_default() += 1;
            if inner.down.contains(&endpoint) {
                return Some(
                    (StatusCode::SERVICE_UNAVAILABLE, "503 Service Unavailable").into_response(),
                );
            }
            inner.faults.take(endpoint)
        };
        hubauth_devidp::faults::apply(next).await
    }

    fn client(&self, id: &str) -> Option<&MockClient> {
        self.clients.iter().find(|c| c.id == id)
    }

    /// The client authenticated by HTTP Basic or by body fields.
    fn authenticate_client(
        &self,
        headers: &HeaderMap,
        form: &HashMap<String, String>,
        allow_body: bool,
    ) -> Option<&MockClient> {
        let (id, secret) = match basic_credentials(headers) {
            Some(pair) => pair,
            None if allow_body => (
                form.get("client_id")?.clone(),
                form.get("client_secret")?.clone(),
            ),
            None => return None,
        };
        self.client(&id).filter(|c| c.secret == secret)
    }
}

/// A running mock. Dropping it stops the server.
#[derive(Debug)]
pub struct MockHandle {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Drop for MockHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl MockHandle {
    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The authorize endpoint.
    pub fn authorize_url(&self) -> String {
        format!("{}/v2/oauth2/authorize", self.base_url())
    }

    /// The token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/v2/oauth2/token", self.base_url())
    }

    /// The user info endpoint.
    pub fn userinfo_url(&self) -> String {
        format!("{}/v2/oauth2/userinfo", self.base_url())
    }

    /// The revocation endpoint.
    pub fn revocation_url(&self) -> String {
        format!("{}/v2/oauth2/token/revoke", self.base_url())
    }

    /// The Groups API `my_groups` endpoint.
    pub fn groups_url(&self) -> String {
        format!("{}/v2/groups/my_groups", self.base_url())
    }

    /// The five endpoint options of `[GlobusOAuthenticator]` pointing at this mock, as
    /// TOML lines.
    pub fn toml_urls(&self) -> String {
        format!(
            "authorize_url = \"{}\"\ntoken_url = \"{}\"\nuserdata_url = \"{}\"\nrevocation_url = \"{}\"\nglobus_groups_url = \"{}\"\n",
            self.authorize_url(),
            self.token_url(),
            self.userinfo_url(),
            self.revocation_url(),
            self.groups_url()
        )
    }

    /// Every token revoked so far, in order.
    pub fn revoked(&self) -> Vec<String> {
        self.shared.lock().revoked.clone()
    }

    /// Every token issued so far and not revoked (access and refresh tokens).
    pub fn live_tokens(&self) -> Vec<String> {
        let inner = self.shared.lock();
        inner
            .access
            .iter()
            .chain(inner.refresh.iter())
            .filter(|(_, issued)| issued.active)
            .map(|(token, _)| token.clone())
            .collect()
    }

    /// Every token ever issued for a resource server (access and refresh).
    pub fn issued_for(&self, resource_server: &str) -> Vec<String> {
        let inner = self.shared.lock();
        inner
            .access
            .iter()
            .chain(inner.refresh.iter())
            .filter(|(_, issued)| issued.resource_server == resource_server)
            .map(|(token, _)| token.clone())
            .collect()
    }

    /// Makes the next request to `endpoint` fail this way.
    pub fn fail_next(&self, endpoint: Endpoint, fault: Fault) {
        self.shared.lock().faults.push(endpoint, fault);
    }

    /// Takes an endpoint down (503 to every request) or brings it back.
    pub fn set_down(&self, endpoint: Endpoint, down: bool) {
        let mut inner = self.shared.lock();
        if down {
            inner.down.insert(endpoint);
        } else {
            inner.down.remove(&endpoint);
        }
    }

    /// How many requests an endpoint received.
    pub fn count(&self, endpoint: Endpoint) -> usize {
        self.shared
            .lock()
            .counts
            .get(&endpoint)
            .copied()
            .unwrap_or(0)
    }

    /// Replaces a user's groups.
    pub fn set_groups(&self, username: &str, groups: Vec<MockGroup>) {
        if let Some(user) = self.shared.lock().users.get_mut(username) {
            user.groups = groups;
        }
    }

    /// Disables (or re-enables) a user: their tokens are refused and no new ones issued.
    pub fn set_disabled(&self, username: &str, disabled: bool) {
        let mut inner = self.shared.lock();
        if disabled {
            inner.disabled.insert(username.to_owned());
        } else {
            inner.disabled.remove(username);
        }
    }

    /// Expires every access token issued so far (refresh tokens keep working).
    pub fn expire_access_tokens(&self) {
        for issued in self.shared.lock().access.values_mut() {
            issued.active = false;
        }
    }

    /// Leaves a scope out of every later grant, as when the user's consent does not
    /// cover it (no token for its resource server is issued).
    pub fn withhold_scope(&self, scope: &str) {
        self.shared.lock().withheld.insert(scope.to_owned());
    }

    /// Changes which user auto-approve logs in.
    pub fn set_auto_approve(&self, username: Option<&str>) {
        self.shared.lock().auto_approve = username.map(str::to_owned);
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// The demo's Globus groups: (id, name).
pub const DEMO_STAFF_GROUP: (&str, &str) = ("6f1b9c3e-0000-4000-8000-000000000001", "staff");
/// The demo's admin group: (id, name).
pub const DEMO_ADMIN_GROUP: (&str, &str) = ("6f1b9c3e-0000-4000-8000-000000000002", "hub-admins");

/// Starts a mock for `hubauth demo --provider globus`: client `hubauth-demo` for
/// `hub_callback`, users `alice@globusid.org` (staff), `admin@globusid.org` (staff,
/// hub-admins), `bob@globusid.org` (no group: refused) and `mallory@example.edu` (staff,
/// but another identity provider: refused). Returns the mock and the complete
/// `[GlobusOAuthenticator]` table (header included) to append to the demo config.
pub async fn start_demo_mock(hub_callback: &str) -> std::io::Result<(MockHandle, String)> {
    let secret = random_token();
    let staff = MockGroup::new(DEMO_STAFF_GROUP.0, DEMO_STAFF_GROUP.1);
    let admins = MockGroup::new(DEMO_ADMIN_GROUP.0, DEMO_ADMIN_GROUP.1);
    let mock = GlobusMock::builder()
        .client("hubauth-demo", &secret, hub_callback)
        .user(MockUser::new("alice", "globusid.org").group(staff.clone()))
        .user(
            MockUser::new("admin", "globusid.org")
                .group(staff.clone())
                .group(admins),
        )
        .user(MockUser::new("bob", "globusid.org"))
        .user(MockUser::new("mallory", "example.edu").group(staff))
        .start()
        .await?;
    let table = format!(
        "[GlobusOAuthenticator]\n# The Globus mock (hubauth_globus::mock) stands in for auth.globus.org and groups.api.globus.org.\nclient_id = \"hubauth-demo\"\nclient_secret = \"{secret}\"\n{urls}identity_provider = \"globusid.org\"\nallowed_globus_groups = [\"{staff}\"]\nadmin_globus_groups = [\"{admin}\"]\nexclude_tokens = [\"auth.globus.org\", \"groups.api.globus.org\"]\nrevoke_tokens_on_logout = true\nextra_authorize_params = {{ access_type = \"offline\" }}\n",
        urls = mock.toml_urls(),
        staff = DEMO_STAFF_GROUP.0,
        admin = DEMO_ADMIN_GROUP.0,
    );
    Ok((mock, table))
}

fn app(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v2/oauth2/authorize", get(authorize).post(authorize_pick))
        .route("/v2/oauth2/token", post(token))
        .route("/v2/oauth2/userinfo", get(userinfo).post(userinfo))
        .route("/v2/oauth2/token/revoke", post(revoke))
        .route("/v2/groups/my_groups", get(my_groups))
        .with_state(shared)
}

fn random_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn pseudo_uuid(seed: &str) -> String {
    let digest = sha2::Sha256::digest(seed.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-4{}-8{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let unescape = |s: &str| -> String {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((unescape(id), unescape(secret)))
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::to_owned)
}

fn json_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

fn page(status: StatusCode, body: String) -> Response {
    (status, Html(body)).into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn redirect_to(base: &str, params: &[(&str, &str)]) -> Response {
    let mut url = match url::Url::parse(base) {
        Ok(url) => url,
        Err(_) => return page(StatusCode::BAD_REQUEST, "bad redirect_uri".into()),
    };
    url.query_pairs_mut().extend_pairs(params.iter());
    (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
}

async fn authorize(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(fault) = shared.fault(Endpoint::Authorize).await {
        return fault;
    }
    let auto = shared.lock().auto_approve.clone();
    match auto {
        Some(user) => approve(&shared, &query, &user),
        None => picker(&shared, &query),
    }
}

async fn authorize_pick(
    State(shared): State<Arc<Shared>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let user = form.get("login_as").cloned().unwrap_or_default();
    approve(&shared, &form, &user)
}

/// Checks client and redirect URI; `Err` is the page to show (never a redirect).
#[allow(clippy::result_large_err)]
fn check_request<'a>(
    shared: &'a Shared,
    query: &HashMap<String, String>,
) -> Result<&'a MockClient, Response> {
    let client_id = query
        .get("client_id")
        .map(String::as_str)
        .unwrap_or_default();
    let Some(client) = shared.client(client_id) else {
        return Err(page(
            StatusCode::BAD_REQUEST,
            format!("Unknown client_id {}", escape(client_id)),
        ));
    };
    if query.get("redirect_uri") != Some(&client.redirect_uri) {
        return Err(page(
            StatusCode::BAD_REQUEST,
            "redirect_uri does not match the client's registered redirect URI".into(),
        ));
    }
    Ok(client)
}

fn picker(shared: &Shared, query: &HashMap<String, String>) -> Response {
    if let Err(page) = check_request(shared, query) {
        return page;
    }
    let hidden: String = query
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(k),
                escape(v)
            )
        })
        .collect();
    let buttons: String = shared
        .lock()
        .users
        .values()
        .map(|u| {
            format!(
                "<button type=\"submit\" name=\"login_as\" value=\"{name}\">{name} ({idp})</button><br>",
                name = escape(&u.preferred_username),
                idp = escape(&u.identity_provider_display_name)
            )
        })
        .collect();
    page(
        StatusCode::OK,
        format!(
            "<!doctype html><title>Globus (mock)</title><h1>Log in with Globus (mock)</h1><form method=\"post\" action=\"/v2/oauth2/authorize\">{hidden}{buttons}<button type=\"submit\" name=\"login_as\" value=\"\">Deny</button></form>"
        ),
    )
}

fn approve(shared: &Shared, query: &HashMap<String, String>, user: &str) -> Response {
    let client = match check_request(shared, query) {
        Ok(client) => client,
        Err(page) => return page,
    };
    let state = query.get("state").map(String::as_str).unwrap_or_default();
    if query.get("response_type").map(String::as_str) != Some("code") {
        return redirect_to(
            &client.redirect_uri,
            &[("error", "unsupported_response_type"), ("state", state)],
        );
    }
    let mut inner = shared.lock();
    if !inner.users.contains_key(user) || inner.disabled.contains(user) {
        return redirect_to(
            &client.redirect_uri,
            &[("error", "access_denied"), ("state", state)],
        );
    }
    if query
        .get("code_challenge_method")
        .is_some_and(|method| method != "S256")
    {
        return redirect_to(
            &client.redirect_uri,
            &[("error", "invalid_request"), ("state", state)],
        );
    }
    let scopes: Vec<String> = query
        .get("scope")
        .map(|s| {
            s.split_whitespace()
                .filter(|scope| !inner.withheld.contains(*scope))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let code = random_token();
    inner.codes.insert(
        code.clone(),
        CodeGrant {
            client_id: client.id.clone(),
            redirect_uri: client.redirect_uri.clone(),
            user: user.to_owned(),
            scopes,
            challenge: query.get("code_challenge").cloned(),
            offline: query.get("access_type").map(String::as_str) == Some("offline"),
        },
    );
    drop(inner);
    redirect_to(&client.redirect_uri, &[("code", &code), ("state", state)])
}

/// The resource server a scope belongs to.
fn resource_server_of(scope: &str) -> String {
    if AUTH_SCOPES.contains(&scope) {
        return AUTH_RS.to_owned();
    }
    scope
        .strip_prefix("urn:globus:auth:scope:")
        .and_then(|rest| rest.split(':').next())
        .unwrap_or(AUTH_RS)
        .to_owned()
}

fn issue(inner: &mut Inner, base: &Issued, offline: bool) -> Value {
    let access = random_token();
    inner.access.insert(access.clone(), base.clone());
    let refresh = offline.then(|| {
        let token = random_token();
        inner.refresh.insert(token.clone(), base.clone());
        token
    });
    json!({
        "access_token": access,
        "expires_in": LIFETIME,
        "resource_server": base.resource_server,
        "scope": base.scopes.join(" "),
        "token_type": "Bearer",
        "refresh_token": refresh,
    })
}

async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(fault) = shared.fault(Endpoint::Token).await {
        return fault;
    }
    let Some(client) = shared.authenticate_client(&headers, &form, true) else {
        return json_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    };
    let client_id = client.id.clone();
    let mut inner = shared.lock();
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = form.get("code").cloned().unwrap_or_default();
            let Some(grant) = inner.codes.remove(&code) else {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "unknown or used code",
                );
            };
            if grant.client_id != client_id || form.get("redirect_uri") != Some(&grant.redirect_uri)
            {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "code was issued to another client or redirect_uri",
                );
            }
            if let Some(challenge) = &grant.challenge {
                let verifier = form.get("code_verifier").cloned().unwrap_or_default();
                let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(sha2::Sha256::digest(verifier.as_bytes()));
                if &computed != challenge {
                    return json_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "PKCE verification failed",
                    );
                }
            }
            if inner.disabled.contains(&grant.user) {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "identity disabled",
                );
            }
            let mut by_server: BTreeMap<String, Vec<String>> = BTreeMap::new();
            by_server.entry(AUTH_RS.to_owned()).or_default();
            for scope in &grant.scopes {
                by_server
                    .entry(resource_server_of(scope))
                    .or_default()
                    .push(scope.clone());
            }
            let mut response = serde_json::Map::new();
            let mut others = Vec::new();
            for (server, scopes) in by_server {
                let base = Issued {
                    user: grant.user.clone(),
                    client_id: client_id.clone(),
                    resource_server: server.clone(),
                    scopes,
                    active: true,
                };
                let token = issue(&mut inner, &base, grant.offline);
                if server == AUTH_RS {
                    if let Value::Object(map) = token {
                        response.extend(map);
                    }
                } else {
                    others.push(token);
                }
            }
            if let Some(state) = form.get("state") {
                response.insert("state".into(), json!(state));
            }
            response.insert("other_tokens".into(), Value::Array(others));
            axum::Json(Value::Object(response)).into_response()
        }
        Some("refresh_token") => {
            let presented = form.get("refresh_token").cloned().unwrap_or_default();
            let Some(base) = inner.refresh.get(&presented).cloned() else {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "unknown refresh token",
                );
            };
            if !base.active || base.client_id != client_id || inner.disabled.contains(&base.user) {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "refresh token is not active",
                );
            }
            let access = random_token();
            inner.access.insert(access.clone(), base.clone());
            axum::Json(json!({
                "access_token": access,
                "expires_in": LIFETIME,
                "resource_server": base.resource_server,
                "scope": base.scopes.join(" "),
                "token_type": "Bearer",
                "refresh_token": presented,
                "other_tokens": [],
            }))
            .into_response()
        }
        _ => json_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token",
        ),
    }
}

/// The active, not disabled access token of `headers` for a resource server.
fn token_user(inner: &Inner, headers: &HeaderMap, server: &str) -> Option<(MockUser, Vec<String>)> {
    let token = bearer(headers)?;
    let issued = inner.access.get(&token)?;
    if !issued.active || issued.resource_server != server || inner.disabled.contains(&issued.user) {
        return None;
    }
    let user = inner.users.get(&issued.user)?.clone();
    Some((user, issued.scopes.clone()))
}

async fn userinfo(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Some(fault) = shared.fault(Endpoint::UserInfo).await {
        return fault;
    }
    let inner = shared.lock();
    let Some((user, scopes)) = token_user(&inner, &headers, AUTH_RS) else {
        return json_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the access token is not active",
        );
    };
    if !scopes.iter().any(|s| s == "openid") {
        return json_error(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "openid scope required",
        );
    }
    let has = |scope: &str| scopes.iter().any(|s| s == scope);
    let mut info = serde_json::Map::new();
    info.insert("sub".into(), json!(user.sub));
    if has("profile") {
        info.insert("preferred_username".into(), json!(user.preferred_username));
        info.insert("name".into(), json!(user.name));
        info.insert("identity_provider".into(), json!(user.identity_provider));
        info.insert(
            "identity_provider_display_name".into(),
            json!(user.identity_provider_display_name),
        );
        info.insert("organization".into(), Value::Null);
    }
    if has("email") {
        info.insert("email".into(), json!(user.email));
    }
    if has("urn:globus:auth:scope:auth.globus.org:view_identity_set") {
        info.insert(
            "identity_set".into(),
            json!([{
                "sub": user.sub,
                "username": user.preferred_username,
                "name": user.name,
                "email": user.email,
                "identity_provider": user.identity_provider,
                "identity_provider_display_name": user.identity_provider_display_name,
                "status": "used",
            }]),
        );
    }
    axum::Json(Value::Object(info)).into_response()
}

async fn revoke(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(fault) = shared.fault(Endpoint::Revoke).await {
        return fault;
    }
    if shared.authenticate_client(&headers, &form, false).is_none() {
        return json_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "HTTP Basic client authentication required",
        );
    }
    let Some(token) = form.get("token").cloned() else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is required",
        );
    };
    let mut guard = shared.lock();
    let inner = &mut *guard;
    for issued in [inner.access.get_mut(&token), inner.refresh.get_mut(&token)]
        .into_iter()
        .flatten()
    {
        issued.active = false;
    }
    inner.revoked.push(token);
    axum::Json(json!({"active": false})).into_response()
}

async fn my_groups(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Some(fault) = shared.fault(Endpoint::Groups).await {
        return fault;
    }
    let inner = shared.lock();
    let Some((user, _)) = token_user(&inner, &headers, "groups.api.globus.org") else {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"code": "AUTHENTICATION_ERROR", "detail": "Invalid or missing groups token"})),
        )
            .into_response();
    };
    let groups: Vec<Value> = user
        .groups
        .iter()
        .map(|group| {
            json!({
                "id": group.id,
                "name": group.name,
                "description": format!("{} (mock)", group.name),
                "parent_id": null,
                "group_type": "regular",
                "enforce_session": false,
                "session_limit": 28800,
                "session_timeouts": {},
                "my_memberships": [{
                    "group_id": group.id,
                    "identity_id": user.sub,
                    "username": user.preferred_username,
                    "role": "member",
                    "status": "active",
                }],
                "policies": {"group_visibility": "private", "is_high_assurance": false},
            })
        })
        .collect();
    axum::Json(Value::Array(groups)).into_response()
}
