//! A mock of an Auth0 tenant for tests and demos (loopback only): the parts of Auth0's
//! Authentication API a hub uses, served as `https://{auth0_domain}` when asked to serve
//! HTTPS ([`Auth0Mock::tls_with_own_ca`]), so that the hub's default endpoints point at it.
//!
//! What it models, and where Auth0 documents it (Authentication API,
//! <https://auth0.com/docs/api/authentication>):
//!
//! - `GET /authorize`: the authorization code flow, with PKCE (S256), `state` and `nonce`;
//!   the `redirect_uri` must be one of the application's Allowed Callback URLs, or Auth0
//!   shows a "Callback URL mismatch" error page instead of redirecting.
//! - `POST /oauth/token`: `authorization_code` and `refresh_token` grants; the client
//!   authenticates with `client_secret_post` or `client_secret_basic`. The answer has
//!   `access_token`, `id_token` (with `openid`), `scope`, `expires_in` (86400) and
//!   `token_type: "Bearer"`, and a `refresh_token` only with `offline_access`
//!   (<https://auth0.com/docs/secure/tokens/refresh-tokens/get-refresh-tokens>). A bad
//!   code or refresh token is `invalid_grant` with HTTP 403, a bad client
//!   `access_denied`/`invalid_client` with 401, as Auth0's error table lists them.
//! - ID tokens are signed RS256 with the key published at `/.well-known/jwks.json`; `iss`
//!   is `https://{auth0_domain}/`, with its trailing slash, as the discovery document at
//!   `/.well-known/openid-configuration` says
//!   (<https://auth0.com/docs/get-started/applications/signing-algorithms>,
//!   <https://auth0.com/docs/secure/tokens/id-tokens/id-token-structure>).
//! - `GET /userinfo`: the claims the token's scopes allow (`sub`; `name`, `nickname`,
//!   `picture`, `updated_at` with `profile`; `email`, `email_verified` with `email`), plus
//!   namespaced custom claims an Action adds ([`MockUser::claim`]); it answers only
//!   access tokens granted `openid`
//!   (<https://auth0.com/docs/get-started/apis/scopes/openid-connect-scopes>), 401
//!   `Unauthorized` otherwise.
//! - `GET /v2/logout?client_id=...&returnTo=...`: ends the Auth0 session and sends the
//!   browser to `returnTo`, which must be in the application's Allowed Logout URLs when
//!   `client_id` is given, else in the tenant's; without `returnTo` (and with `client_id`)
//!   to the application's first Allowed Logout URL. Query string and fragment of
//!   `returnTo` are not compared ("Log Users Out of Auth0",
//!   <https://auth0.com/docs/authenticate/login/logout/redirect-users-after-logout>). A
//!   `returnTo` that is not allowed gets an error page (400), never a redirect.
//!
//! It is a personality of the provider mock framework (`hubauth_devidp::mock`), which
//! serves it, records and counts requests, injects faults and outages, and checks the
//! authorization requests and codes (exact callback URLs, single-use codes, PKCE S256).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Deref;

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hubauth_devidp::DevIdpError;
use hubauth_devidp::mock::{
    AuthorizeRequest, Client, CodeGrant, Grants, Methods, Mock, MockServer, MockServerOptions,
    MockTls, Personality, RsaSigner, bearer_token, html, random_token, redeem_code, s256,
};
use serde_json::{Map, Value, json};

/// A wrong answer an endpoint gives ([`MockServer::fail_next`]).
pub use hubauth_devidp::mock::Fault;

const AUTHORIZE_PATH: &str = "/authorize";
const TOKEN_PATH: &str = "/oauth/token";
const USERINFO_PATH: &str = "/userinfo";
const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
const JWKS_PATH: &str = "/.well-known/jwks.json";
const LOGOUT_PATH: &str = "/v2/logout";
/// Access tokens for /userinfo live 24 hours.
const ACCESS_TTL: i64 = 86_400;
/// ID tokens live 10 hours (36000 s, Auth0's default ID token expiration).
const ID_TOKEN_TTL: i64 = 36_000;
const REFRESH_TTL: i64 = 30 * 24 * 3600;
const CODE_TTL: i64 = 600;

/// An endpoint of the mock, for faults and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `/authorize`
    Authorize,
    /// `/oauth/token`
    Token,
    /// `/userinfo`
    UserInfo,
    /// `/.well-known/openid-configuration`
    Discovery,
    /// `/.well-known/jwks.json`
    Jwks,
    /// `/v2/logout`
    Logout,
}

/// An Auth0 user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockUser {
    /// `sub` (`auth0|...` for a database connection).
    pub sub: String,
    /// `email`.
    pub email: String,
    /// `email_verified`.
    pub email_verified: bool,
    /// `name`.
    pub name: String,
    /// `nickname`.
    pub nickname: String,
    /// Custom claims an Action adds (namespaced, `https://example.org/roles`).
    pub claims: Map<String, Value>,
}

impl MockUser {
    /// A user of the database connection with a verified email `nickname@domain`.
    pub fn new(nickname: &str, domain: &str) -> Self {
        let email = format!("{nickname}@{domain}");
        MockUser {
            sub: format!("auth0|{}", &s256(&email)[..24]),
            email: email.clone(),
            email_verified: true,
            name: email,
            nickname: nickname.to_owned(),
            claims: Map::new(),
        }
    }

    /// The same user with the email not (yet) verified.
    pub fn unverified(mut self) -> Self {
        self.email_verified = false;
        self
    }

    /// Adds a custom claim.
    pub fn claim(mut self, name: &str, value: Value) -> Self {
        self.claims.insert(name.to_owned(), value);
        self
    }

    /// The claims `scopes` allow.
    fn claims_for(&self, scopes: &[String]) -> Map<String, Value> {
        let has = |scope: &str| scopes.iter().any(|s| s == scope);
        let mut claims = Map::new();
        claims.insert("sub".into(), json!(self.sub));
        if has("profile") {
            claims.insert("name".into(), json!(self.name));
            claims.insert("nickname".into(), json!(self.nickname));
            claims.insert(
                "picture".into(),
                json!(format!(
                    "https://s.gravatar.com/avatar/{}.png",
                    &s256(&self.email)[..16]
                )),
            );
            claims.insert("updated_at".into(), json!("2024-05-01T12:00:00.000Z"));
        }
        if has("email") {
            claims.insert("email".into(), json!(self.email));
            claims.insert("email_verified".into(), json!(self.email_verified));
        }
        for (name, value) in &self.claims {
            claims.insert(name.clone(), value.clone());
        }
        claims
    }
}

/// Configures a mock before it starts.
#[derive(Debug, Default)]
pub struct Auth0Mock {
    clients: Vec<Client>,
    tenant_logout_urls: Vec<String>,
    users: Vec<MockUser>,
    auto_approve: Option<String>,
    own_ca: bool,
}

impl Auth0Mock {
    /// An empty configuration.
    pub fn builder() -> Self {
        Auth0Mock::default()
    }

    /// Registers a Regular Web Application with one Allowed Callback URL.
    pub fn client(mut self, id: &str, secret: &str, callback_url: &str) -> Self {
        self.clients
            .push(Client::confidential(id, secret, callback_url));
        self
    }

    /// Adds an Allowed Logout URL to the application `id` (registered before).
    pub fn allowed_logout_url(mut self, id: &str, url: &str) -> Self {
        if let Some(client) = self.clients.iter_mut().find(|c| c.client_id == id) {
            client.post_logout_redirect_uris.push(url.to_owned());
        }
        self
    }

    /// Adds an Allowed Logout URL of the tenant (for logouts without `client_id`).
    pub fn tenant_logout_url(mut self, url: &str) -> Self {
        self.tenant_logout_urls.push(url.to_owned());
        self
    }

    /// Adds a user.
    pub fn user(mut self, user: MockUser) -> Self {
        self.users.push(user);
        self
    }

    /// Logs every authorization request in as this user (by email) without a page;
    /// `None` shows a page to pick one.
    pub fn auto_approve(mut self, email: Option<&str>) -> Self {
        self.auto_approve = email.map(str::to_owned);
        self
    }

    /// Serves HTTPS with a certificate (for `127.0.0.1` and `localhost`) from a CA the
    /// mock makes ([`MockHandle::ca_pem`]).
    pub fn tls_with_own_ca(mut self) -> Self {
        self.own_ca = true;
        self
    }

    /// Starts serving on 127.0.0.1 on a free port.
    ///
    /// # Errors
    /// When the port cannot be bound, a client is invalid or the certificate cannot be
    /// made.
    pub async fn start(self) -> Result<MockHandle, DevIdpError> {
        let ca = if self.own_ca { Some(own_ca()?) } else { None };
        let tls = ca
            .as_ref()
            .map(|(_, cert, key)| MockTls::from_pem(cert, key))
            .transpose()?;
        let state = Auth0State {
            users: self
                .users
                .into_iter()
                .map(|user| (user.email.clone(), user))
                .collect(),
            tenant_logout_urls: self.tenant_logout_urls,
            auto_approve: self.auto_approve,
            ..Auth0State::default()
        };
        let options = MockServerOptions {
            clients: self.clients,
            tls,
            ..MockServerOptions::default()
        };
        let server = MockServer::start(Auth0, state, options).await?;
        Ok(MockHandle {
            server,
            ca_pem: ca.map(|(ca, _, _)| ca),
        })
    }
}

/// A CA and a server certificate signed by it: (CA PEM, certificate PEM, key PEM).
fn own_ca() -> Result<(String, String, String), DevIdpError> {
    let fail = |err: rcgen::Error| DevIdpError::Keys(format!("mock CA: {err}"));
    let ca_key = rcgen::KeyPair::generate().map_err(fail)?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Auth0 mock CA");
    let ca = ca_params.self_signed(&ca_key).map_err(fail)?;
    let key = rcgen::KeyPair::generate().map_err(fail)?;
    let params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .map_err(fail)?;
    let cert = params.signed_by(&key, &ca, &ca_key).map_err(fail)?;
    Ok((ca.pem(), cert.pem(), key.serialize_pem()))
}

/// The Auth0 personality.
#[derive(Debug, Clone, Copy, Default)]
pub struct Auth0;

/// An issued access or refresh token.
#[derive(Debug, Clone)]
struct Issued {
    user: String,
    client_id: String,
    scopes: Vec<String>,
}

/// What the Auth0 mock keeps.
#[derive(Debug, Default)]
pub struct Auth0State {
    users: BTreeMap<String, MockUser>,
    tenant_logout_urls: Vec<String>,
    disabled: HashSet<String>,
    auto_approve: Option<String>,
    /// Users with an Auth0 session (logged in since their last `/v2/logout`).
    sessions: HashSet<String>,
    logouts: Vec<String>,
    codes: Grants<CodeGrant<()>>,
    access: Grants<Issued>,
    refresh: Grants<Issued>,
    forge_id_tokens: bool,
}

impl Personality for Auth0 {
    type Endpoint = Endpoint;
    type State = Auth0State;
    const NAME: &'static str = "Auth0";

    fn endpoint(&self, path: &str) -> Option<Endpoint> {
        match path {
            AUTHORIZE_PATH => Some(Endpoint::Authorize),
            TOKEN_PATH => Some(Endpoint::Token),
            USERINFO_PATH => Some(Endpoint::UserInfo),
            DISCOVERY_PATH => Some(Endpoint::Discovery),
            JWKS_PATH => Some(Endpoint::Jwks),
            LOGOUT_PATH => Some(Endpoint::Logout),
            _ => None,
        }
    }

    fn routes(&self) -> Router<Mock<Self>> {
        Router::new()
            .route(AUTHORIZE_PATH, get(authorize).post(authorize_pick))
            .route(TOKEN_PATH, post(token))
            .route(USERINFO_PATH, get(userinfo))
            .route(DISCOVERY_PATH, get(discovery))
            .route(JWKS_PATH, get(jwks))
            .route(LOGOUT_PATH, get(logout))
    }
}

/// A running mock: the framework's controls ([`MockServer`], through `Deref`) and Auth0's
/// own. Dropping it stops the server.
#[derive(Debug)]
pub struct MockHandle {
    server: MockServer<Auth0>,
    ca_pem: Option<String>,
}

impl Deref for MockHandle {
    type Target = MockServer<Auth0>;

    fn deref(&self) -> &MockServer<Auth0> {
        &self.server
    }
}

impl MockHandle {
    /// The tenant's domain as `auth0_domain` names it: `127.0.0.1:PORT`.
    pub fn domain(&self) -> String {
        self.server.addr().to_string()
    }

    /// The issuer of the ID tokens: the origin with a trailing slash, as Auth0's.
    pub fn issuer(&self) -> String {
        format!("{}/", self.server.origin())
    }

    /// The CA certificate (PEM) of the mock's HTTPS certificate, when it serves HTTPS.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// An endpoint's URL (`/authorize`, `/oauth/token`, ...).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.origin())
    }

    /// Marks a user's email verified or not.
    pub fn set_email_verified(&self, email: &str, verified: bool) {
        if let Some(user) = self.server.lock().state.users.get_mut(email) {
            user.email_verified = verified;
        }
    }

    /// Replaces a user's custom claim.
    pub fn set_claim(&self, email: &str, name: &str, value: Value) {
        if let Some(user) = self.server.lock().state.users.get_mut(email) {
            user.claims.insert(name.to_owned(), value);
        }
    }

    /// Blocks (or unblocks) a user: their tokens are refused and no new ones issued.
    pub fn set_blocked(&self, email: &str, blocked: bool) {
        let mut core = self.server.lock();
        if blocked {
            core.state.disabled.insert(email.to_owned());
        } else {
            core.state.disabled.remove(email);
        }
    }

    /// Expires every access token issued so far (refresh tokens keep working).
    pub fn expire_access_tokens(&self) {
        let now = self.server.now();
        self.server.lock().state.access.expire_all(now);
    }

    /// Signs later ID tokens with an attacker's key under the real key's id.
    pub fn forge_id_tokens(&self, on: bool) {
        self.server.lock().state.forge_id_tokens = on;
    }

    /// Whether the user has an Auth0 session (logged in, not logged out since).
    pub fn has_session(&self, email: &str) -> bool {
        self.server.lock().state.sessions.contains(email)
    }

    /// The `returnTo` of every successful `/v2/logout`, in order.
    pub fn logouts(&self) -> Vec<String> {
        self.server.lock().state.logouts.clone()
    }

    /// Changes which user auto-approve logs in.
    pub fn set_auto_approve(&self, email: Option<&str>) {
        self.server.lock().state.auto_approve = email.map(str::to_owned);
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// The custom claim of the demo's roles (an Action adds it).
pub const DEMO_ROLES_CLAIM: &str = "https://hubauth.example/roles";

/// Starts a mock for `hubauth demo --provider auth0`: application `hubauth-demo` for
/// `hub_callback` whose Allowed Logout URL is the hub's login page, users
/// `alice@example.com` (role `staff`), `admin@example.com` (`staff`, `hub-admins`) and
/// `eve@example.com` (`staff`, but her email is not verified: refused). Returns the mock
/// and the complete `[Auth0OAuthenticator]` table (header included) to append to the demo
/// config. The demo serves plain HTTP, so the table names the endpoints instead of the
/// `https://{auth0_domain}` defaults.
///
/// # Errors
/// When the mock cannot start.
pub async fn start_demo_mock(hub_callback: &str) -> Result<(MockHandle, String), DevIdpError> {
    let secret = random_token(24);
    let login_page = hub_callback.replace("oauth_callback", "login");
    let mock = Auth0Mock::builder()
        .client("hubauth-demo", &secret, hub_callback)
        .allowed_logout_url("hubauth-demo", &login_page)
        .user(MockUser::new("alice", "example.com").claim(DEMO_ROLES_CLAIM, json!(["staff"])))
        .user(
            MockUser::new("admin", "example.com")
                .claim(DEMO_ROLES_CLAIM, json!(["staff", "hub-admins"])),
        )
        .user(
            MockUser::new("eve", "example.com")
                .unverified()
                .claim(DEMO_ROLES_CLAIM, json!(["staff"])),
        )
        .start()
        .await?;
    let logout = format!(
        "{}?client_id=hubauth-demo&returnTo={}",
        mock.url(LOGOUT_PATH),
        url::form_urlencoded::byte_serialize(login_page.as_bytes()).collect::<String>()
    );
    let table = format!(
        "[Auth0OAuthenticator]\n# The Auth0 mock (hubauth_auth0::mock) stands in for the tenant at https://{{auth0_domain}}.\nauth0_domain = \"{domain}\"\nauthorize_url = \"{authorize}\"\ntoken_url = \"{token}\"\nuserdata_url = \"{userinfo}\"\nlogout_redirect_url = \"{logout}\"\noidc_issuer = \"{issuer}\"\nclient_id = \"hubauth-demo\"\nclient_secret = \"{secret}\"\noauth_callback_url = \"{hub_callback}\"\nscope = [\"openid\", \"profile\", \"email\"]\nmanage_groups = true\nauth_state_groups_key = {{ script = \"auth_state.auth0_user[\\\"{DEMO_ROLES_CLAIM}\\\"]\" }}\nallowed_groups = [\"staff\"]\nadmin_groups = [\"hub-admins\"]\n",
        domain = mock.domain(),
        authorize = mock.url(AUTHORIZE_PATH),
        token = mock.url(TOKEN_PATH),
        userinfo = mock.url(USERINFO_PATH),
        issuer = mock.issuer(),
    );
    Ok((mock, table))
}

/// Auth0's OAuth error body.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    html::page(status, title, &format!("<p>{}</p>", html::escape(message)))
}

async fn authorize(
    State(mock): State<Mock<Auth0>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let auto = mock.lock().state.auto_approve.clone();
    match auto {
        Some(user) => approve(&mock, &query, &user),
        None => picker(&mock, &query),
    }
}

async fn authorize_pick(
    State(mock): State<Mock<Auth0>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let user = form.get("login_as").cloned().unwrap_or_default();
    approve(&mock, &form, &user)
}

fn refused(err: &hubauth_devidp::mock::AuthorizeError) -> Response {
    match err {
        hubauth_devidp::mock::AuthorizeError::RedirectUriMismatch => error_page(
            StatusCode::BAD_REQUEST,
            "Callback URL mismatch",
            "The provided redirect_uri is not in the list of allowed callback URLs.",
        ),
        other => error_page(
            StatusCode::BAD_REQUEST,
            "Oops!, something went wrong",
            &other.to_string(),
        ),
    }
}

fn picker(mock: &Mock<Auth0>, query: &HashMap<String, String>) -> Response {
    let request = AuthorizeRequest::from_params(query);
    let core = mock.lock();
    if let Err(err) = request.target(&core.clients) {
        return refused(&err);
    }
    let buttons: String = core
        .state
        .users
        .values()
        .map(|user| {
            format!(
                "<button type=\"submit\" name=\"login_as\" value=\"{email}\">{email}</button><br>",
                email = html::escape(&user.email)
            )
        })
        .collect();
    html::page(
        StatusCode::OK,
        "Log in to Auth0 (mock)",
        &format!(
            "<form method=\"post\" action=\"{AUTHORIZE_PATH}\">{hidden}{buttons}<button type=\"submit\" name=\"login_as\" value=\"\">Deny</button></form>",
            hidden = html::hidden_fields(query.iter().filter(|(k, _)| *k != "login_as")),
        ),
    )
}

fn approve(mock: &Mock<Auth0>, params: &HashMap<String, String>, user: &str) -> Response {
    let request = AuthorizeRequest::from_params(params);
    let state_param = request.state.clone().unwrap_or_default();
    let now = mock.now();
    let mut core = mock.lock();
    let core = &mut *core;
    let redirect_uri = request.redirect_uri.clone();
    match request.check(&core.clients) {
        Ok(_) => {}
        Err(err) if err.redirects() => {
            return html::redirect_with(
                &redirect_uri,
                &[("error", err.code()), ("state", &state_param)],
            );
        }
        Err(err) => return refused(&err),
    }
    let state = &mut core.state;
    if !state.users.contains_key(user) || state.disabled.contains(user) {
        return html::redirect_with(
            &redirect_uri,
            &[
                ("error", "access_denied"),
                ("error_description", "user is blocked"),
                ("state", &state_param),
            ],
        );
    }
    state.sessions.insert(user.to_owned());
    let code = state.codes.issue(request.grant(user, ()), now + CODE_TTL);
    html::redirect_with(&redirect_uri, &[("code", &code), ("state", &state_param)])
}

/// `at_hash` (OIDC Core 3.1.3.6): the left half of the access token's SHA-256, base64url.
fn at_hash(access_token: &str) -> String {
    let digest = URL_SAFE_NO_PAD
        .decode(s256(access_token))
        .unwrap_or_default();
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

async fn token(
    State(mock): State<Mock<Auth0>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let now = mock.now();
    let signer = match RsaSigner::shared().await {
        Ok(signer) => signer,
        Err(err) => {
            return oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                &err.to_string(),
            );
        }
    };
    let issuer = format!("{}/", mock.origin());
    let mut core = mock.lock();
    let core = &mut *core;
    let client_id = match core.clients.authenticate(&headers, &form, Methods::BOTH) {
        Ok((client, _)) => client.client_id.clone(),
        Err(err) => {
            return oauth_error(StatusCode::UNAUTHORIZED, "access_denied", &err.to_string());
        }
    };
    let state = &mut core.state;
    let field = |name: &str| form.get(name).map(String::as_str);
    let (issued, nonce, keep_refresh) = match field("grant_type") {
        Some("authorization_code") => {
            let grant = match redeem_code(
                &mut state.codes,
                field("code").unwrap_or_default(),
                &client_id,
                field("redirect_uri"),
                field("code_verifier"),
                now,
            ) {
                Ok(grant) => grant,
                Err(_) => {
                    return oauth_error(
                        StatusCode::FORBIDDEN,
                        "invalid_grant",
                        "Invalid authorization code",
                    );
                }
            };
            let issued = Issued {
                user: grant.user,
                client_id,
                scopes: grant.scopes,
            };
            (issued, grant.nonce, None)
        }
        Some("refresh_token") => {
            let presented = field("refresh_token").unwrap_or_default().to_owned();
            let live = state
                .refresh
                .get(&presented, now)
                .filter(|issued| issued.client_id == client_id)
                .cloned();
            let Some(issued) = live else {
                return oauth_error(
                    StatusCode::FORBIDDEN,
                    "invalid_grant",
                    "Unknown or invalid refresh token.",
                );
            };
            (issued, None, Some(presented))
        }
        _ => {
            return oauth_error(
                StatusCode::FORBIDDEN,
                "unsupported_grant_type",
                "Grant type is not allowed for this client",
            );
        }
    };
    if state.disabled.contains(&issued.user) {
        return oauth_error(StatusCode::FORBIDDEN, "invalid_grant", "user is blocked");
    }
    let Some(user) = state.users.get(&issued.user).cloned() else {
        return oauth_error(StatusCode::FORBIDDEN, "invalid_grant", "user not found");
    };
    let has = |scope: &str| issued.scopes.iter().any(|s| s == scope);
    let access = state.access.issue(issued.clone(), now + ACCESS_TTL);
    let mut body = Map::new();
    body.insert("access_token".into(), json!(access));
    if has("openid") {
        let mut claims = user.claims_for(&issued.scopes);
        claims.insert("iss".into(), json!(issuer));
        claims.insert("aud".into(), json!(issued.client_id));
        claims.insert("iat".into(), json!(now));
        claims.insert("exp".into(), json!(now + ID_TOKEN_TTL));
        claims.insert("sid".into(), json!(random_token(12)));
        claims.insert("at_hash".into(), json!(at_hash(&access)));
        if let Some(nonce) = nonce {
            claims.insert("nonce".into(), json!(nonce));
        }
        let claims = Value::Object(claims);
        let signed = if state.forge_id_tokens {
            signer.forge(&claims)
        } else {
            signer.sign(&claims)
        };
        match signed {
            Ok(id_token) => {
                body.insert("id_token".into(), json!(id_token));
            }
            Err(err) => {
                return oauth_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    &err.to_string(),
                );
            }
        }
    }
    if has("offline_access") {
        // Non-rotating refresh tokens (Auth0's default): a refresh keeps the one it used.
        let refresh = match keep_refresh {
            Some(presented) => presented,
            None => state.refresh.issue(issued.clone(), now + REFRESH_TTL),
        };
        body.insert("refresh_token".into(), json!(refresh));
    }
    body.insert("scope".into(), json!(issued.scopes.join(" ")));
    body.insert("expires_in".into(), json!(ACCESS_TTL));
    body.insert("token_type".into(), json!("Bearer"));
    axum::Json(Value::Object(body)).into_response()
}

async fn userinfo(State(mock): State<Mock<Auth0>>, headers: HeaderMap) -> Response {
    let now = mock.now();
    let core = mock.lock();
    let state = &core.state;
    let found = bearer_token(&headers)
        .and_then(|token| state.access.get(token, now))
        .filter(|issued| !state.disabled.contains(&issued.user))
        .filter(|issued| issued.scopes.iter().any(|s| s == "openid"))
        .and_then(|issued| Some((state.users.get(&issued.user)?, issued.scopes.clone())));
    let Some((user, scopes)) = found else {
        return (StatusCode::UNAUTHORIZED, "Unauthorized").into_response();
    };
    axum::Json(Value::Object(user.claims_for(&scopes))).into_response()
}

async fn discovery(State(mock): State<Mock<Auth0>>) -> Response {
    let origin = mock.origin();
    axum::Json(json!({
        "issuer": format!("{origin}/"),
        "authorization_endpoint": format!("{origin}{AUTHORIZE_PATH}"),
        "token_endpoint": format!("{origin}{TOKEN_PATH}"),
        "userinfo_endpoint": format!("{origin}{USERINFO_PATH}"),
        "jwks_uri": format!("{origin}{JWKS_PATH}"),
        "scopes_supported": ["openid", "profile", "offline_access", "name", "given_name", "family_name", "nickname", "email", "email_verified", "picture", "created_at", "identities", "phone", "address"],
        "response_types_supported": ["code", "token", "id_token", "code token", "code id_token", "token id_token", "code token id_token"],
        "code_challenge_methods_supported": ["S256", "plain"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["HS256", "RS256", "PS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "claims_supported": ["aud", "auth_time", "created_at", "email", "email_verified", "exp", "family_name", "given_name", "iat", "identities", "iss", "name", "nickname", "phone_number", "picture", "sub"],
        "request_uri_parameter_supported": false,
    }))
    .into_response()
}

async fn jwks() -> Response {
    match RsaSigner::shared().await {
        Ok(signer) => axum::Json(json!({"keys": [signer.jwk()]})).into_response(),
        Err(err) => oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            &err.to_string(),
        ),
    }
}

/// A URL as Auth0 compares logout URLs: without its query string and fragment.
fn comparable(url: &str) -> Option<String> {
    let mut parsed = url::Url::parse(url).ok()?;
    parsed.set_query(None);
    parsed.set_fragment(None);
    Some(parsed.to_string())
}

async fn logout(
    State(mock): State<Mock<Auth0>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut core = mock.lock();
    let core = &mut *core;
    let client = match query.get("client_id").filter(|id| !id.is_empty()) {
        Some(id) => match core.clients.get(id) {
            Some(client) => Some(client.clone()),
            None => {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    "Oops!, something went wrong",
                    "invalid_request: the client_id is not a known application.",
                );
            }
        },
        None => None,
    };
    let allowed: Vec<String> = match &client {
        Some(client) => client.post_logout_redirect_uris.clone(),
        None => core.state.tenant_logout_urls.clone(),
    };
    let target = match query.get("returnTo").filter(|to| !to.is_empty()) {
        Some(to) => {
            let wanted = comparable(to);
            if wanted.is_none() || !allowed.iter().any(|url| comparable(url) == wanted) {
                let list = if client.is_some() {
                    "the application's Allowed Logout URLs"
                } else {
                    "the tenant's Allowed Logout URLs"
                };
                return error_page(
                    StatusCode::BAD_REQUEST,
                    "Oops!, something went wrong",
                    &format!(
                        "invalid_request: The \"returnTo\" querystring parameter \"{to}\" is not defined as a valid URL in {list}."
                    ),
                );
            }
            Some(to.clone())
        }
        None if client.is_some() => allowed.first().cloned(),
        None => None,
    };
    // The tenant's session ends: the mock has one browser, so every user's does.
    core.state.sessions.clear();
    core.state.logouts.push(target.clone().unwrap_or_default());
    match target {
        Some(to) => (StatusCode::FOUND, [(header::LOCATION, to)]).into_response(),
        None => html::page(StatusCode::OK, "OK", "<p>You are logged out of Auth0.</p>"),
    }
}
