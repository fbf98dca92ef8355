//! A mock of Globus Auth and the Globus Groups API, for tests and demos (loopback only).
//!
//! It follows Globus's public documentation for the parts a hub uses: the Globus Auth API
//! reference (<https://docs.globus.org/api/auth/reference/>: 2 "Client Authentication",
//! 3.3 "Authorization Code Grant", 3.7 "Verifying identity (via OpenID Connect ID
//! Token)", 3.8 "OIDC Userinfo Endpoint", 3.11 "Token Revocation"), the discovery
//! document (<https://auth.globus.org/.well-known/openid-configuration>), the Groups API
//! (docs.globus.org/api/groups), and where the documentation is terse, Globus's own SDK
//! (globus-sdk-python, <https://github.com/globus/globus-sdk-python>: its
//! `ConfidentialAppAuthClient`, `BasicAuthorizer` and `OAuthTokenResponse`, and the
//! responses it registers for tests):
//!
//! - `GET /v2/oauth2/authorize`: the authorization code flow (with PKCE S256 when a
//!   `code_challenge` is sent); `access_type=offline` asks for refresh tokens. Without
//!   auto-approve a page lets the visitor pick a user.
//! - `POST /v2/oauth2/token`: `authorization_code` and `refresh_token` grants. The client
//!   authenticates with HTTP Basic only, its id and secret compared raw: the discovery
//!   document lists `token_endpoint_auth_methods_supported: ["client_secret_basic"]`, and
//!   Globus's SDK sends `base64(id:secret)` without form-encoding them (its
//!   `BasicAuthorizer`). Globus secrets are base64 ([`globus_client_secret`]), so a
//!   client that form-encodes them as RFC 6749 2.3.1 says sends `%3D` for `=` and is
//!   refused with 401 `invalid_client`, as is a secret in the body.
//!
//!   One token per resource server: the Auth token (`auth.globus.org`, for `openid`,
//!   `profile`, `email`, `view_identity_set`) at the top level, tokens for other resource
//!   servers requested by scope (Transfer, Groups, ...) in `other_tokens`. With
//!   [`GlobusMock::first_scope_on_top`] the top-level token is the resource server of the
//!   first requested scope instead, so the Auth token may be in `other_tokens`: Globus's
//!   SDKs never assume the top-level token is the Auth token (globus-sdk-python keys it
//!   by its own `resource_server` in `OAuthTokenResponse.by_resource_server`, and the
//!   code-exchange response it registers for tests has a Transfer token at the top
//!   level; globus-sdk-javascript's `TokenResponse` is any token plus `other_tokens`).
//!   With `openid` granted the response carries an `id_token` at the top level (Globus's
//!   "only included if your client requests the openid scope"), signed RS512 as Globus
//!   advertises (the framework's [`RsaSigner`] key), issued by the mock's origin where
//!   Globus says `https://auth.globus.org`, with `at_hash` (SHA-512) of the Auth token
//!   and the identity claims the scopes allow. A refresh grant answers with the refreshed
//!   token only (and an empty `other_tokens`), as Globus does.
//! - `GET /v2/oauth2/userinfo` (with the Auth token only): `sub`, and with `profile`
//!   `preferred_username` (like `user@globusid.org`), `name`, `identity_provider`,
//!   `identity_provider_display_name`, `organization`; `email` with `email`;
//!   `identity_set` with `urn:globus:auth:scope:auth.globus.org:view_identity_set`. The
//!   identity set holds the user's linked identities ([`MockUser::linked`]), from other
//!   identity providers, *before* the one the user info is about (the one whose `sub` is
//!   the top-level `sub`): Globus promises no order, and a client that takes
//!   `identity_set[0]` gets the wrong identity.
//! - `POST /v2/oauth2/token/revoke`: HTTP Basic client authentication, raw, as at the
//!   token endpoint (the SDK's `oauth2_revoke_token` goes through the same
//!   `BasicAuthorizer`); form `token=...`; answers `{"active": false}`. Every revoked
//!   token is recorded ([`MockHandle::revoked`]).
//! - `GET /.well-known/openid-configuration` and `GET /jwk.json`: the discovery document
//!   (with this mock's origin and RS512) and the key the ID tokens are signed with.
//! - `GET /v2/groups/my_groups` (with the Groups token only): the groups of the user, each
//!   with `id`, `name`, `description`, `group_type`, `enforce_session`, `my_memberships`.
//!
//! It is a personality of the provider mock framework (`hubauth_devidp::mock`): the
//! framework serves it, records and counts requests, injects faults and outages, and
//! runs the authorization code grant's checks (clients, exact redirect URIs, single-use
//! codes, PKCE); this module adds what is Globus's own: its paths, client authentication,
//! tokens split by resource server, ID tokens, scope-gated userinfo and identity sets,
//! revocation and the Groups API.
//!
//! Tests steer it while it runs: one-shot faults ([`MockServer::fail_next`]), an endpoint
//! that is down ([`MockServer::set_down`]), request counts ([`MockServer::count`]), users'
//! groups, disabled users, expired access tokens and the token response's order
//! ([`MockHandle`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Deref;

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hubauth_devidp::DevIdpError;
use hubauth_devidp::mock::{
    AuthorizeRequest, BasicEncoding, Client, CodeError, CodeGrant, Grants, Methods, Mock,
    MockServer, MockServerOptions, Personality, RsaSigner, bearer_token, html, random_token,
    redeem_code,
};
use serde_json::{Value, json};

/// How clients authenticate at the token and revocation endpoints: HTTP Basic only
/// (`client_secret_basic`, the one method the discovery document lists), the id and
/// secret compared raw as Globus's SDK sends them.
const CLIENT_AUTH: Methods = Methods::BASIC.with_basic_encoding(BasicEncoding::Raw);
const AUTH_RS: &str = "auth.globus.org";
const GROUPS_RS: &str = "groups.api.globus.org";
const AUTH_SCOPES: [&str; 4] = ["openid", "profile", "email", VIEW_IDENTITY_SET];
/// Globus access tokens live 48 hours.
const ACCESS_TTL: i64 = 172_800;
/// Globus refresh tokens do not expire by time; a year stands in for that.
const REFRESH_TTL: i64 = 365 * 24 * 3600;
/// How long an authorization code can be exchanged.
const CODE_TTL: i64 = 600;

const AUTHORIZE_PATH: &str = "/v2/oauth2/authorize";
const TOKEN_PATH: &str = "/v2/oauth2/token";
const USERINFO_PATH: &str = "/v2/oauth2/userinfo";
const REVOKE_PATH: &str = "/v2/oauth2/token/revoke";
const GROUPS_PATH: &str = "/v2/groups/my_groups";
const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
const JWKS_PATH: &str = "/jwk.json";
const VIEW_IDENTITY_SET: &str = "urn:globus:auth:scope:auth.globus.org:view_identity_set";

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
    /// `/.well-known/openid-configuration`
    Discovery,
    /// `/jwk.json`
    Jwks,
}

/// A wrong answer an endpoint gives ([`MockServer::fail_next`]): the framework's fault
/// injection (`Status`, `Garbage`, `EmptyBody`, `Delay`).
pub use hubauth_devidp::mock::Fault;

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
    /// The other identities linked to this one's account, usually from other identity
    /// providers ([`MockUser::linked`]); their own `groups` and `linked` are not used.
    pub linked: Vec<MockUser>,
}

impl MockUser {
    /// A user `local@domain` whose email is the same address.
    pub fn new(local: &str, domain: &str) -> Self {
        let username = format!("{local}@{domain}");
        MockUser {
            sub: hubauth_devidp::mock::guid_from(&username),
            preferred_username: username.clone(),
            email: username,
            name: local.to_owned(),
            identity_provider: hubauth_devidp::mock::guid_from(domain),
            identity_provider_display_name: if domain == "globusid.org" {
                "Globus ID".to_owned()
            } else {
                domain.to_owned()
            },
            groups: Vec::new(),
            linked: Vec::new(),
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

    /// Links another identity to this one's account (Globus account linking). It appears
    /// in `identity_set`, before this identity; this identity stays the one the user
    /// logs in with and the user info speaks for.
    pub fn linked(mut self, identity: MockUser) -> Self {
        self.linked.push(identity);
        self
    }

    /// This identity as an entry of `identity_set`.
    fn identity_set_entry(&self) -> Value {
        json!({
            "sub": self.sub,
            "username": self.preferred_username,
            "name": self.name,
            "email": self.email,
            "identity_provider": self.identity_provider,
            "identity_provider_display_name": self.identity_provider_display_name,
            "organization": null,
        })
    }
}

/// A client secret shaped as Globus issues them: standard base64 with padding (44
/// characters ending in `=`), here with at least one `+` and one `/` as well, so that
/// every character a form-encoder would change is in it.
pub fn globus_client_secret() -> String {
    loop {
        let bytes = URL_SAFE_NO_PAD.decode(random_token(32)).unwrap_or_default();
        let secret = STANDARD.encode(bytes);
        if secret.ends_with('=') && secret.contains('+') && secret.contains('/') {
            return secret;
        }
    }
}

/// Configures a mock before it starts.
#[derive(Debug, Default)]
pub struct GlobusMock {
    clients: Vec<Client>,
    users: Vec<MockUser>,
    auto_approve: Option<String>,
    first_scope_on_top: bool,
}

impl GlobusMock {
    /// An empty configuration.
    pub fn builder() -> Self {
        GlobusMock::default()
    }

    /// Registers a confidential client with one redirect URI.
    pub fn client(mut self, id: &str, secret: &str, redirect_uri: &str) -> Self {
        self.clients
            .push(Client::confidential(id, secret, redirect_uri));
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

    /// Puts the token of the first requested scope's resource server at the top level of
    /// a code exchange's response, and the others (the Auth token too) in
    /// `other_tokens`; by default the Auth token is at the top level when it is granted.
    /// See the module documentation for where Globus allows this.
    pub fn first_scope_on_top(mut self, on: bool) -> Self {
        self.first_scope_on_top = on;
        self
    }

    /// Starts serving on 127.0.0.1 on a free port.
    ///
    /// # Errors
    /// When the port cannot be bound or a client is invalid.
    pub async fn start(self) -> Result<MockHandle, DevIdpError> {
        let state = GlobusState {
            users: self
                .users
                .into_iter()
                .map(|u| (u.preferred_username.clone(), u))
                .collect(),
            auto_approve: self.auto_approve,
            first_scope_on_top: self.first_scope_on_top,
            ..GlobusState::default()
        };
        let options = MockServerOptions {
            clients: self.clients,
            ..MockServerOptions::default()
        };
        let server = MockServer::start(Globus, state, options).await?;
        Ok(MockHandle { server })
    }
}

/// The Globus personality.
#[derive(Debug, Clone, Copy, Default)]
pub struct Globus;

/// The extra a Globus code carries: whether `access_type=offline` asked for refresh
/// tokens.
#[derive(Debug, Clone, Copy)]
struct Offline(bool);

/// An issued access or refresh token.
#[derive(Debug, Clone)]
struct Issued {
    user: String,
    client_id: String,
    resource_server: String,
    scopes: Vec<String>,
}

/// What the Globus mock keeps.
#[derive(Debug, Default)]
pub struct GlobusState {
    users: BTreeMap<String, MockUser>,
    disabled: HashSet<String>,
    auto_approve: Option<String>,
    codes: Grants<CodeGrant<Offline>>,
    access: Grants<Issued>,
    refresh: Grants<Issued>,
    revoked: Vec<String>,
    withheld: HashSet<String>,
    first_scope_on_top: bool,
    forge_id_tokens: bool,
}

impl Personality for Globus {
    type Endpoint = Endpoint;
    type State = GlobusState;
    const NAME: &'static str = "Globus";

    fn endpoint(&self, path: &str) -> Option<Endpoint> {
        match path {
            AUTHORIZE_PATH => Some(Endpoint::Authorize),
            TOKEN_PATH => Some(Endpoint::Token),
            USERINFO_PATH => Some(Endpoint::UserInfo),
            REVOKE_PATH => Some(Endpoint::Revoke),
            GROUPS_PATH => Some(Endpoint::Groups),
            DISCOVERY_PATH => Some(Endpoint::Discovery),
            JWKS_PATH => Some(Endpoint::Jwks),
            _ => None,
        }
    }

    fn routes(&self) -> Router<Mock<Self>> {
        Router::new()
            .route(AUTHORIZE_PATH, get(authorize).post(authorize_pick))
            .route(TOKEN_PATH, post(token))
            .route(USERINFO_PATH, get(userinfo).post(userinfo))
            .route(REVOKE_PATH, post(revoke))
            .route(GROUPS_PATH, get(my_groups))
            .route(DISCOVERY_PATH, get(discovery))
            .route(JWKS_PATH, get(jwks))
    }
}

/// A running mock: the framework's controls ([`MockServer`], through `Deref`) and
/// Globus's own. Dropping it stops the server.
#[derive(Debug)]
pub struct MockHandle {
    server: MockServer<Globus>,
}

impl Deref for MockHandle {
    type Target = MockServer<Globus>;

    fn deref(&self) -> &MockServer<Globus> {
        &self.server
    }
}

impl MockHandle {
    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        self.server.origin().to_owned()
    }

    /// The authorize endpoint.
    pub fn authorize_url(&self) -> String {
        format!("{}{AUTHORIZE_PATH}", self.server.origin())
    }

    /// The token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}{TOKEN_PATH}", self.server.origin())
    }

    /// The user info endpoint.
    pub fn userinfo_url(&self) -> String {
        format!("{}{USERINFO_PATH}", self.server.origin())
    }

    /// The revocation endpoint.
    pub fn revocation_url(&self) -> String {
        format!("{}{REVOKE_PATH}", self.server.origin())
    }

    /// The Groups API `my_groups` endpoint.
    pub fn groups_url(&self) -> String {
        format!("{}{GROUPS_PATH}", self.server.origin())
    }

    /// The key set the ID tokens are signed with (Globus's `jwks_uri`).
    pub fn jwks_url(&self) -> String {
        format!("{}{JWKS_PATH}", self.server.origin())
    }

    /// The issuer of the ID tokens: this mock's origin (Globus's is
    /// `https://auth.globus.org`).
    pub fn issuer(&self) -> String {
        self.server.origin().to_owned()
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
        self.server.lock().state.revoked.clone()
    }

    /// Every token issued so far that is still live (access and refresh tokens).
    pub fn live_tokens(&self) -> Vec<String> {
        let now = self.server.now();
        let core = self.server.lock();
        let state = &core.state;
        state
            .access
            .live(now)
            .chain(state.refresh.live(now))
            .map(|(token, _)| token.to_owned())
            .collect()
    }

    /// Every token ever issued for a resource server (access and refresh).
    pub fn issued_for(&self, resource_server: &str) -> Vec<String> {
        let core = self.server.lock();
        let state = &core.state;
        state
            .access
            .all()
            .chain(state.refresh.all())
            .filter(|(_, issued)| issued.resource_server == resource_server)
            .map(|(token, _)| token.to_owned())
            .collect()
    }

    /// Replaces a user's groups.
    pub fn set_groups(&self, username: &str, groups: Vec<MockGroup>) {
        if let Some(user) = self.server.lock().state.users.get_mut(username) {
            user.groups = groups;
        }
    }

    /// Disables (or re-enables) a user: their tokens are refused and no new ones issued.
    pub fn set_disabled(&self, username: &str, disabled: bool) {
        let mut core = self.server.lock();
        if disabled {
            core.state.disabled.insert(username.to_owned());
        } else {
            core.state.disabled.remove(username);
        }
    }

    /// Expires every access token issued so far (refresh tokens keep working).
    pub fn expire_access_tokens(&self) {
        let now = self.server.now();
        self.server.lock().state.access.expire_all(now);
    }

    /// Leaves a scope out of every later grant, as when the user's consent does not
    /// cover it (no token for its resource server is issued).
    pub fn withhold_scope(&self, scope: &str) {
        self.server.lock().state.withheld.insert(scope.to_owned());
    }

    /// Changes the order of later code exchanges' responses
    /// ([`GlobusMock::first_scope_on_top`]).
    pub fn set_first_scope_on_top(&self, on: bool) {
        self.server.lock().state.first_scope_on_top = on;
    }

    /// Signs later ID tokens with an attacker's key under the real key's id, so that
    /// their signature does not verify (a forged or tampered ID token).
    pub fn forge_id_tokens(&self, on: bool) {
        self.server.lock().state.forge_id_tokens = on;
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

/// The demo's Globus groups: (id, name).
pub const DEMO_STAFF_GROUP: (&str, &str) = ("6f1b9c3e-0000-4000-8000-000000000001", "staff");
/// The demo's admin group: (id, name).
pub const DEMO_ADMIN_GROUP: (&str, &str) = ("6f1b9c3e-0000-4000-8000-000000000002", "hub-admins");

/// Starts a mock for `hubauth demo --provider globus`: client `hubauth-demo` for
/// `hub_callback`, users `alice@globusid.org` (staff), `admin@globusid.org` (staff,
/// hub-admins), `bob@globusid.org` (no group: refused) and `mallory@example.edu` (staff,
/// but another identity provider: refused). Returns the mock and the complete
/// `[GlobusOAuthenticator]` table (header included) to append to the demo config.
///
/// # Errors
/// When the mock cannot start.
pub async fn start_demo_mock(hub_callback: &str) -> Result<(MockHandle, String), DevIdpError> {
    let secret = globus_client_secret();
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

/// Globus's OAuth error body.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

async fn authorize(
    State(mock): State<Mock<Globus>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let auto = mock.lock().state.auto_approve.clone();
    match auto {
        Some(user) => approve(&mock, &query, &user),
        None => picker(&mock, &query),
    }
}

async fn authorize_pick(
    State(mock): State<Mock<Globus>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let user = form.get("login_as").cloned().unwrap_or_default();
    approve(&mock, &form, &user)
}

/// The page for a request whose client or redirect URI cannot be trusted.
fn refused(err: &hubauth_devidp::mock::AuthorizeError) -> Response {
    html::page(
        StatusCode::BAD_REQUEST,
        "Globus (mock)",
        &format!("<p>{}</p>", html::escape(&err.to_string())),
    )
}

fn picker(mock: &Mock<Globus>, query: &HashMap<String, String>) -> Response {
    let request = AuthorizeRequest::from_params(query);
    let core = mock.lock();
    if let Err(err) = request.target(&core.clients) {
        return refused(&err);
    }
    let buttons: String = core
        .state
        .users
        .values()
        .map(|u| {
            format!(
                "<button type=\"submit\" name=\"login_as\" value=\"{name}\">{name} ({idp})</button><br>",
                name = html::escape(&u.preferred_username),
                idp = html::escape(&u.identity_provider_display_name)
            )
        })
        .collect();
    html::page(
        StatusCode::OK,
        "Log in with Globus (mock)",
        &format!(
            "<form method=\"post\" action=\"{AUTHORIZE_PATH}\">{hidden}{buttons}<button type=\"submit\" name=\"login_as\" value=\"\">Deny</button></form>",
            hidden = html::hidden_fields(query.iter().filter(|(k, _)| *k != "login_as")),
        ),
    )
}

fn approve(mock: &Mock<Globus>, params: &HashMap<String, String>, user: &str) -> Response {
    let request = AuthorizeRequest::from_params(params);
    let state_param = request.state.clone().unwrap_or_default();
    let now = mock.now();
    let mut core = mock.lock();
    let core = &mut *core;
    // After the check, the request's redirect URI is exactly a registered one.
    let redirect_uri = request.redirect_uri.as_str();
    match request.check(&core.clients) {
        Ok(_) => {}
        Err(err) if err.redirects() => {
            return html::redirect_with(
                redirect_uri,
                &[("error", err.code()), ("state", &state_param)],
            );
        }
        Err(err) => return refused(&err),
    }
    let state = &mut core.state;
    if !state.users.contains_key(user) || state.disabled.contains(user) {
        return html::redirect_with(
            redirect_uri,
            &[("error", "access_denied"), ("state", &state_param)],
        );
    }
    let offline = params.get("access_type").map(String::as_str) == Some("offline");
    let mut grant = request.grant(user, Offline(offline));
    grant.scopes.retain(|scope| !state.withheld.contains(scope));
    let code = state.codes.issue(grant, now + CODE_TTL);
    html::redirect_with(redirect_uri, &[("code", &code), ("state", &state_param)])
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

/// Issues an access token (and a refresh token when offline) for one resource server,
/// as one entry of Globus's token response.
fn issue(state: &mut GlobusState, issued: Issued, offline: bool, now: i64) -> Value {
    let refresh = offline.then(|| state.refresh.issue(issued.clone(), now + REFRESH_TTL));
    let body = json!({
        "expires_in": ACCESS_TTL,
        "resource_server": issued.resource_server,
        "scope": issued.scopes.join(" "),
        "token_type": "Bearer",
        "refresh_token": refresh,
    });
    let access = state.access.issue(issued, now + ACCESS_TTL);
    let mut body = body;
    if let Value::Object(map) = &mut body {
        map.insert("access_token".into(), json!(access));
    }
    body
}

async fn token(
    State(mock): State<Mock<Globus>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let now = mock.now();
    // A code exchange may sign an ID token; the key is made once per process, off the lock.
    let signer = if form.get("grant_type").map(String::as_str) == Some("authorization_code") {
        match RsaSigner::shared().await {
            Ok(signer) => Some(signer),
            Err(err) => {
                return oauth_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    &err.to_string(),
                );
            }
        }
    } else {
        None
    };
    let origin = mock.origin().to_owned();
    let mut core = mock.lock();
    let core = &mut *core;
    let client_id = match core.clients.authenticate(&headers, &form, CLIENT_AUTH) {
        Ok((client, _)) => client.client_id.clone(),
        Err(err) => {
            return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", &err.to_string());
        }
    };
    let state = &mut core.state;
    let field = |name: &str| form.get(name).map(String::as_str);
    match field("grant_type") {
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
                Err(err) => return code_refused(err),
            };
            if state.disabled.contains(&grant.user) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "identity disabled",
                );
            }
            let order = token_order(&grant.scopes, state.first_scope_on_top);
            let mut response = serde_json::Map::new();
            let mut others = Vec::new();
            let mut auth_access = None;
            for (server, scopes) in order {
                let issued = Issued {
                    user: grant.user.clone(),
                    client_id: client_id.clone(),
                    resource_server: server.clone(),
                    scopes,
                };
                let token = issue(state, issued, grant.extra.0, now);
                if server == AUTH_RS {
                    auth_access = token
                        .get("access_token")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                }
                match token {
                    Value::Object(map) if response.is_empty() => response.extend(map),
                    other => others.push(other),
                }
            }
            let openid = grant.scopes.iter().any(|scope| scope == "openid");
            if let (true, Some(access), Some(signer), Some(user)) =
                (openid, auth_access, signer, state.users.get(&grant.user))
            {
                let mut claims = identity_claims(user, &grant.scopes);
                claims.insert("iss".into(), json!(origin));
                claims.insert("aud".into(), json!(client_id));
                claims.insert("iat".into(), json!(now));
                claims.insert("exp".into(), json!(now + ACCESS_TTL));
                claims.insert("last_authentication".into(), json!(now));
                claims.insert("at_hash".into(), json!(at_hash(&access)));
                if let Some(nonce) = &grant.nonce {
                    claims.insert("nonce".into(), json!(nonce));
                }
                let claims = Value::Object(claims);
                let signed = if state.forge_id_tokens {
                    signer.forge_rs512(&claims)
                } else {
                    signer.sign_rs512(&claims)
                };
                match signed {
                    Ok(id_token) => {
                        response.insert("id_token".into(), json!(id_token));
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
            if let Some(state_param) = field("state") {
                response.insert("state".into(), json!(state_param));
            }
            response.insert("other_tokens".into(), Value::Array(others));
            axum::Json(Value::Object(response)).into_response()
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
                    "refresh token is not active",
                );
            };
            // Globus answers a refresh with the refreshed token alone and keeps the
            // refresh token (no rotation).
            let access = state.access.issue(issued.clone(), now + ACCESS_TTL);
            axum::Json(json!({
                "access_token": access,
                "expires_in": ACCESS_TTL,
                "resource_server": issued.resource_server,
                "scope": issued.scopes.join(" "),
                "token_type": "Bearer",
                "refresh_token": presented,
                "other_tokens": [],
            }))
            .into_response()
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token",
        ),
    }
}

/// The resource servers a code exchange issues tokens for, each with its scopes, in the
/// order of the response: the first at the top level, the others in `other_tokens`. The
/// Auth token comes first unless `first_scope_on_top`, when the resource servers come in
/// the order of their first requested scope. Without any scope, an Auth token alone.
fn token_order(scopes: &[String], first_scope_on_top: bool) -> Vec<(String, Vec<String>)> {
    let mut order: Vec<(String, Vec<String>)> = Vec::new();
    for scope in scopes {
        let server = resource_server_of(scope);
        match order.iter_mut().find(|(known, _)| *known == server) {
            Some((_, granted)) => granted.push(scope.clone()),
            None => order.push((server, vec![scope.clone()])),
        }
    }
    if order.is_empty() {
        order.push((AUTH_RS.to_owned(), Vec::new()));
    }
    if !first_scope_on_top {
        order.sort_by(|(a, _), (b, _)| (a != AUTH_RS, a).cmp(&(b != AUTH_RS, b)));
    }
    order
}

/// `at_hash` (OIDC Core 3.1.3.6): the left half of the access token's SHA-256, base64url.
/// `at_hash` for an RS512-signed ID token: the left half of the SHA-512 digest (OIDC
/// Core 3.1.3.6: the hash of the token's `alg`).
fn at_hash(access_token: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha512::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.get(..digest.len() / 2).unwrap_or_default())
}

/// The claims about `user` that `scopes` allow, as the user info and the ID token carry
/// them: the identity's own at the top level, and with `view_identity_set` every
/// identity of the account, the linked ones first.
fn identity_claims(user: &MockUser, scopes: &[String]) -> serde_json::Map<String, Value> {
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
    if has(VIEW_IDENTITY_SET) {
        let set: Vec<Value> = user
            .linked
            .iter()
            .chain(std::iter::once(user))
            .map(MockUser::identity_set_entry)
            .collect();
        info.insert("identity_set".into(), Value::Array(set));
    }
    info
}

fn code_refused(err: CodeError) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", &err.to_string())
}

/// The user and scopes of a live access token for a resource server, if the user is
/// not disabled.
fn token_user(
    state: &GlobusState,
    headers: &HeaderMap,
    server: &str,
    now: i64,
) -> Option<(MockUser, Vec<String>)> {
    let issued = state.access.get(bearer_token(headers)?, now)?;
    if issued.resource_server != server || state.disabled.contains(&issued.user) {
        return None;
    }
    let user = state.users.get(&issued.user)?.clone();
    Some((user, issued.scopes.clone()))
}

async fn userinfo(State(mock): State<Mock<Globus>>, headers: HeaderMap) -> Response {
    let now = mock.now();
    let core = mock.lock();
    let Some((user, scopes)) = token_user(&core.state, &headers, AUTH_RS, now) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the access token is not active",
        );
    };
    if !scopes.iter().any(|scope| scope == "openid") {
        return oauth_error(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "openid scope required",
        );
    }
    let info = identity_claims(&user, &scopes);
    axum::Json(Value::Object(info)).into_response()
}

async fn revoke(
    State(mock): State<Mock<Globus>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let now = mock.now();
    let mut core = mock.lock();
    let core = &mut *core;
    if let Err(err) = core.clients.authenticate(&headers, &form, CLIENT_AUTH) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", &err.to_string());
    }
    let Some(token) = form.get("token").filter(|t| !t.is_empty()).cloned() else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is required",
        );
    };
    let state = &mut core.state;
    state.access.revoke(&token, now);
    state.refresh.revoke(&token, now);
    state.revoked.push(token);
    axum::Json(json!({"active": false})).into_response()
}

async fn my_groups(State(mock): State<Mock<Globus>>, headers: HeaderMap) -> Response {
    let now = mock.now();
    let core = mock.lock();
    let Some((user, _)) = token_user(&core.state, &headers, GROUPS_RS, now) else {
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

/// The discovery document, as Globus publishes it at
/// `https://auth.globus.org/.well-known/openid-configuration`, with this mock's origin as
/// the issuer and its endpoints.
async fn discovery(State(mock): State<Mock<Globus>>) -> Response {
    let origin = mock.origin();
    axum::Json(json!({
        "issuer": origin,
        "authorization_endpoint": format!("{origin}{AUTHORIZE_PATH}"),
        "token_endpoint": format!("{origin}{TOKEN_PATH}"),
        "userinfo_endpoint": format!("{origin}{USERINFO_PATH}"),
        "revocation_endpoint": format!("{origin}{REVOKE_PATH}"),
        "jwks_uri": format!("{origin}{JWKS_PATH}"),
        "response_types_supported": ["code", "token", "token id_token", "id_token"],
        "id_token_signing_alg_values_supported": ["RS512"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "claims_supported": [
            "at_hash", "aud", "email", "exp", "name", "nonce", "preferred_username",
            "iat", "iss", "sub"
        ],
        "subject_types_supported": ["public"],
    }))
    .into_response()
}

/// The key the ID tokens are signed with.
async fn jwks() -> Response {
    match RsaSigner::shared().await {
        Ok(signer) => axum::Json(json!({"keys": [signer.jwk_rs512()]})).into_response(),
        Err(err) => oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            &err.to_string(),
        ),
    }
}
