//! A mock of an OpenShift cluster for tests and demos (loopback only): the API server's
//! OAuth server metadata and `users/~`, and the built-in OAuth server, on one origin, over
//! HTTPS with a CA of its own when asked ([`OpenShiftMock::tls_with_own_ca`]), as a
//! cluster with a private CA serves them.
//!
//! What it models, and where OpenShift documents it:
//!
//! - `GET /.well-known/oauth-authorization-server`: the OAuth server metadata (RFC 8414)
//!   the API server publishes for clients to find the OAuth server ("OAuth server
//!   metadata", <https://docs.okd.io/latest/authentication/configuring-internal-oauth.html>):
//!   `issuer`, `authorization_endpoint` and `token_endpoint` under it, `scopes_supported`,
//!   `response_types_supported`, `grant_types_supported` and
//!   `code_challenge_methods_supported` (`plain` and `S256`). On OpenShift 4 the OAuth
//!   server is another host than the API ([`OpenShiftMock::oauth_host`] names the issuer
//!   with another host name for the same server).
//! - `GET /oauth/authorize` and `POST /oauth/token`: the authorization code grant of the
//!   OAuth server, for an OAuthClient with its exact redirect URIs
//!   (<https://docs.okd.io/latest/authentication/configuring-oauth-clients.html>); the
//!   client secret in the body or HTTP Basic; scopes `user:info`, `user:check-access`,
//!   `user:list-projects`, `user:list-scoped-projects`, `user:full` and `role:...`
//!   ("Scoping tokens",
//!   <https://docs.okd.io/latest/authentication/tokens-scoping.html>), any other is
//!   `invalid_scope`. Access tokens are `sha256~` tokens that live 24 hours
//!   (`accessTokenMaxAgeSeconds` 86400 by default); the OAuth server issues no refresh
//!   tokens.
//! - `GET /apis/user.openshift.io/v1/users/~`: the User the token belongs to ("User
//!   [user.openshift.io/v1]",
//!   <https://docs.okd.io/latest/rest_api/user_and_group_apis/user-user-openshift-io-v1.html>):
//!   `kind`, `apiVersion`, `metadata.name`, `fullName`, `identities` and `groups`, which
//!   for `~` are the user's groups plus the virtual groups `system:authenticated` and
//!   `system:authenticated:oauth` of every user who authenticated with an OAuth token
//!   ("Understanding authentication",
//!   <https://docs.okd.io/latest/authentication/understanding-authentication.html>). A
//!   missing, unknown or expired token gets 401 with a `Status` object ("requests with an
//!   invalid access token ... are rejected by the authentication layer with a 401
//!   error"); a token scoped without `user:info` gets 403.
//!
//! It is a personality of the provider mock framework (`hubauth_devidp::mock`), which
//! serves it, records and counts requests, injects faults and outages, and checks the
//! authorization requests and codes (exact redirect URIs, single-use codes, PKCE S256).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::Deref;

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hubauth_devidp::DevIdpError;
use hubauth_devidp::mock::{
    AuthorizeRequest, Client, CodeGrant, Grants, Methods, Mock, MockServer, MockServerOptions,
    MockTls, Personality, bearer_token, guid_from, html, random_token, redeem_code,
};
use serde_json::json;

/// A wrong answer an endpoint gives ([`MockServer::fail_next`]).
pub use hubauth_devidp::mock::Fault;

const METADATA_PATH: &str = "/.well-known/oauth-authorization-server";
const AUTHORIZE_PATH: &str = "/oauth/authorize";
const TOKEN_PATH: &str = "/oauth/token";
const USER_PATH: &str = "/apis/user.openshift.io/v1/users/~";
/// `accessTokenMaxAgeSeconds` of the OAuth server's default configuration.
const ACCESS_TTL: i64 = 86_400;
const CODE_TTL: i64 = 300;
const VIRTUAL_GROUPS: [&str; 2] = ["system:authenticated", "system:authenticated:oauth"];
const USER_SCOPES: [&str; 5] = [
    "user:info",
    "user:check-access",
    "user:list-projects",
    "user:list-scoped-projects",
    "user:full",
];

/// An endpoint of the mock, for faults and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `/.well-known/oauth-authorization-server`
    Metadata,
    /// `/oauth/authorize`
    Authorize,
    /// `/oauth/token`
    Token,
    /// `/apis/user.openshift.io/v1/users/~`
    User,
}

/// An OpenShift user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockUser {
    /// `metadata.name`.
    pub name: String,
    /// `fullName`.
    pub full_name: String,
    /// The OpenShift groups the user is in (Group objects listing them).
    pub groups: Vec<String>,
}

impl MockUser {
    /// A user in no group.
    pub fn new(name: &str) -> Self {
        MockUser {
            name: name.to_owned(),
            full_name: format!("{name} (OpenShift)"),
            groups: Vec::new(),
        }
    }

    /// Adds a group membership.
    pub fn group(mut self, group: &str) -> Self {
        self.groups.push(group.to_owned());
        self
    }
}

/// A certificate authority the mock makes for itself and the certificate it serves,
/// issued for `127.0.0.1` and `localhost`.
#[derive(Debug, Clone)]
pub struct MockCa {
    /// The CA's certificate (PEM): what the hub's `ca_certs` must trust.
    pub ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

impl MockCa {
    /// A fresh CA and a server certificate signed by it.
    ///
    /// # Errors
    /// [`DevIdpError::Keys`] when a key or certificate cannot be made.
    pub fn generate() -> Result<MockCa, DevIdpError> {
        let fail = |err: rcgen::Error| DevIdpError::Keys(format!("mock CA: {err}"));
        let ca_key = rcgen::KeyPair::generate().map_err(fail)?;
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(
            rcgen::DnType::CommonName,
            "openshift-service-serving-signer (mock)",
        );
        let ca = ca_params.self_signed(&ca_key).map_err(fail)?;
        let key = rcgen::KeyPair::generate().map_err(fail)?;
        let mut params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .map_err(fail)?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "openshift.default.svc (mock)");
        let cert = params.signed_by(&key, &ca, &ca_key).map_err(fail)?;
        Ok(MockCa {
            ca_pem: ca.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    fn tls(&self) -> Result<MockTls, DevIdpError> {
        MockTls::from_pem(&self.cert_pem, &self.key_pem)
    }
}

/// Configures a mock before it starts.
#[derive(Debug, Default)]
pub struct OpenShiftMock {
    clients: Vec<Client>,
    users: Vec<MockUser>,
    auto_approve: Option<String>,
    own_ca: bool,
    oauth_host: Option<String>,
}

impl OpenShiftMock {
    /// An empty configuration.
    pub fn builder() -> Self {
        OpenShiftMock::default()
    }

    /// Registers an OAuthClient (name, secret, one redirect URI).
    pub fn client(mut self, name: &str, secret: &str, redirect_uri: &str) -> Self {
        self.clients
            .push(Client::confidential(name, secret, redirect_uri));
        self
    }

    /// Adds a user.
    pub fn user(mut self, user: MockUser) -> Self {
        self.users.push(user);
        self
    }

    /// Logs every authorization request in as this user without a page; `None` shows a
    /// page to pick one.
    pub fn auto_approve(mut self, name: Option<&str>) -> Self {
        self.auto_approve = name.map(str::to_owned);
        self
    }

    /// Serves HTTPS with a certificate from a CA the mock makes ([`MockHandle::ca`]).
    pub fn tls_with_own_ca(mut self) -> Self {
        self.own_ca = true;
        self
    }

    /// Names the OAuth server (the metadata's issuer) with this host instead of the
    /// address served, as OpenShift 4's OAuth route differs from the API's host; it must
    /// resolve to loopback (`localhost`).
    pub fn oauth_host(mut self, host: &str) -> Self {
        self.oauth_host = Some(host.to_owned());
        self
    }

    /// Starts serving on 127.0.0.1 on a free port.
    ///
    /// # Errors
    /// When the port cannot be bound, a client is invalid or the CA cannot be made.
    pub async fn start(self) -> Result<MockHandle, DevIdpError> {
        let ca = if self.own_ca {
            Some(MockCa::generate()?)
        } else {
            None
        };
        let tls = ca.as_ref().map(MockCa::tls).transpose()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let oauth_host = self.oauth_host;
        let state = OpenShiftState {
            users: self
                .users
                .into_iter()
                .map(|user| (user.name.clone(), user))
                .collect(),
            auto_approve: self.auto_approve,
            ..OpenShiftState::default()
        };
        let options = MockServerOptions {
            clients: self.clients,
            tls,
            ..MockServerOptions::default()
        };
        let server = MockServer::start_with(options, |addr| {
            let host = oauth_host.unwrap_or_else(|| addr.ip().to_string());
            let issuer = format!("{scheme}://{host}:{}", addr.port());
            Ok((OpenShift { issuer }, state))
        })
        .await?;
        Ok(MockHandle { server, ca })
    }
}

/// The OpenShift personality: the OAuth server's issuer.
#[derive(Debug, Clone)]
pub struct OpenShift {
    issuer: String,
}

/// An issued access token.
#[derive(Debug, Clone)]
struct Issued {
    user: String,
    scopes: Vec<String>,
}

/// What the OpenShift mock keeps.
#[derive(Debug, Default)]
pub struct OpenShiftState {
    users: BTreeMap<String, MockUser>,
    disabled: HashSet<String>,
    auto_approve: Option<String>,
    codes: Grants<CodeGrant<()>>,
    access: Grants<Issued>,
}

impl Personality for OpenShift {
    type Endpoint = Endpoint;
    type State = OpenShiftState;
    const NAME: &'static str = "OpenShift";

    fn endpoint(&self, path: &str) -> Option<Endpoint> {
        match path {
            METADATA_PATH => Some(Endpoint::Metadata),
            AUTHORIZE_PATH => Some(Endpoint::Authorize),
            TOKEN_PATH => Some(Endpoint::Token),
            USER_PATH => Some(Endpoint::User),
            _ => None,
        }
    }

    fn routes(&self) -> Router<Mock<Self>> {
        Router::new()
            .route(METADATA_PATH, get(metadata))
            .route(AUTHORIZE_PATH, get(authorize).post(authorize_pick))
            .route(TOKEN_PATH, post(token))
            .route(USER_PATH, get(user))
    }
}

/// A running mock: the framework's controls ([`MockServer`], through `Deref`) and
/// OpenShift's own. Dropping it stops the server.
#[derive(Debug)]
pub struct MockHandle {
    server: MockServer<OpenShift>,
    ca: Option<MockCa>,
}

impl Deref for MockHandle {
    type Target = MockServer<OpenShift>;

    fn deref(&self) -> &MockServer<OpenShift> {
        &self.server
    }
}

impl MockHandle {
    /// The cluster's API URL (`openshift_url`): `https://127.0.0.1:PORT` with TLS.
    pub fn openshift_url(&self) -> String {
        self.server.origin().to_owned()
    }

    /// The OAuth server's URL, as the metadata names it (the `issuer`).
    pub fn issuer(&self) -> String {
        self.server.personality().issuer.clone()
    }

    /// The CA the mock's certificate comes from, when it serves HTTPS.
    pub fn ca(&self) -> Option<&MockCa> {
        self.ca.as_ref()
    }

    /// Replaces a user's groups.
    pub fn set_groups(&self, name: &str, groups: &[&str]) {
        if let Some(user) = self.server.lock().state.users.get_mut(name) {
            user.groups = groups.iter().map(|group| (*group).to_owned()).collect();
        }
    }

    /// Disables (or re-enables) a user: their tokens are refused and no new ones issued.
    pub fn set_disabled(&self, name: &str, disabled: bool) {
        let mut core = self.server.lock();
        if disabled {
            core.state.disabled.insert(name.to_owned());
        } else {
            core.state.disabled.remove(name);
        }
    }

    /// Expires every access token issued so far, as 24 hours passing would.
    pub fn expire_access_tokens(&self) {
        let now = self.server.now();
        self.server.lock().state.access.expire_all(now);
    }

    /// Changes which user auto-approve logs in.
    pub fn set_auto_approve(&self, name: Option<&str>) {
        self.server.lock().state.auto_approve = name.map(str::to_owned);
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// The OpenShift groups of the demo.
pub const DEMO_GROUPS: (&str, &str) = ("jupyterhub-users", "jupyterhub-admins");

/// Starts a mock for `hubauth demo --provider openshift`: OAuthClient `hubauth-demo` for
/// `hub_callback`, users `alice` (group `jupyterhub-users`), `admin` (`jupyterhub-users`
/// and `jupyterhub-admins`) and `bob` (no group: refused). The hub finds the OAuth server
/// from the metadata, as in a cluster. Returns the mock and the complete
/// `[OpenShiftOAuthenticator]` table (header included) to append to the demo config. The
/// demo serves plain HTTP (a browser would not trust the mock's CA).
///
/// # Errors
/// When the mock cannot start.
pub async fn start_demo_mock(hub_callback: &str) -> Result<(MockHandle, String), DevIdpError> {
    let secret = random_token(24);
    let (users, admins) = DEMO_GROUPS;
    let mock = OpenShiftMock::builder()
        .client("hubauth-demo", &secret, hub_callback)
        .user(MockUser::new("alice").group(users))
        .user(MockUser::new("admin").group(users).group(admins))
        .user(MockUser::new("bob"))
        .start()
        .await?;
    let table = format!(
        "[OpenShiftOAuthenticator]\n# The OpenShift mock (hubauth_openshift::mock) stands in for the cluster's API and OAuth server.\nopenshift_url = \"{url}\"\nclient_id = \"hubauth-demo\"\nclient_secret = \"{secret}\"\noauth_callback_url = \"{hub_callback}\"\nmanage_groups = true\nallowed_groups = [\"{users}\"]\nadmin_groups = [\"{admins}\"]\n",
        url = mock.openshift_url(),
    );
    Ok((mock, table))
}

/// The OAuth server's error (RFC 6749 5.2).
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// A Kubernetes `Status` failure, as the API server answers errors.
fn status_failure(status: StatusCode, reason: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": status.as_u16(),
        })),
    )
        .into_response()
}

async fn metadata(State(mock): State<Mock<OpenShift>>) -> Response {
    let issuer = &mock.issuer;
    axum::Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}{AUTHORIZE_PATH}"),
        "token_endpoint": format!("{issuer}{TOKEN_PATH}"),
        "scopes_supported": USER_SCOPES,
        "response_types_supported": ["code", "token"],
        "grant_types_supported": ["authorization_code", "implicit"],
        "code_challenge_methods_supported": ["plain", "S256"],
    }))
    .into_response()
}

fn valid_scope(scope: &str) -> bool {
    USER_SCOPES.contains(&scope)
        || scope
            .strip_prefix("role:")
            .is_some_and(|rest| rest.contains(':') && !rest.starts_with(':'))
}

async fn authorize(
    State(mock): State<Mock<OpenShift>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let auto = mock.lock().state.auto_approve.clone();
    match auto {
        Some(user) => approve(&mock, &query, &user),
        None => picker(&mock, &query),
    }
}

async fn authorize_pick(
    State(mock): State<Mock<OpenShift>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let user = form.get("login_as").cloned().unwrap_or_default();
    approve(&mock, &form, &user)
}

fn refused(err: &hubauth_devidp::mock::AuthorizeError) -> Response {
    html::page(
        StatusCode::BAD_REQUEST,
        "OpenShift (mock)",
        &format!("<p>{}</p>", html::escape(&err.to_string())),
    )
}

fn picker(mock: &Mock<OpenShift>, query: &HashMap<String, String>) -> Response {
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
                "<button type=\"submit\" name=\"login_as\" value=\"{name}\">{name}</button><br>",
                name = html::escape(&user.name)
            )
        })
        .collect();
    html::page(
        StatusCode::OK,
        "Log in to OpenShift (mock)",
        &format!(
            "<form method=\"post\" action=\"{AUTHORIZE_PATH}\">{hidden}{buttons}<button type=\"submit\" name=\"login_as\" value=\"\">Deny</button></form>",
            hidden = html::hidden_fields(query.iter().filter(|(k, _)| *k != "login_as")),
        ),
    )
}

fn approve(mock: &Mock<OpenShift>, params: &HashMap<String, String>, user: &str) -> Response {
    let mut request = AuthorizeRequest::from_params(params);
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
    if request.scopes.is_empty() {
        request.scopes.push("user:full".to_owned());
    }
    if let Some(bad) = request.scopes.iter().find(|scope| !valid_scope(scope)) {
        let description = format!("scope {bad} is not a valid OpenShift scope");
        return html::redirect_with(
            &redirect_uri,
            &[
                ("error", "invalid_scope"),
                ("error_description", &description),
                ("state", &state_param),
            ],
        );
    }
    let state = &mut core.state;
    if !state.users.contains_key(user) || state.disabled.contains(user) {
        return html::redirect_with(
            &redirect_uri,
            &[("error", "access_denied"), ("state", &state_param)],
        );
    }
    let code = state.codes.issue(request.grant(user, ()), now + CODE_TTL);
    html::redirect_with(&redirect_uri, &[("code", &code), ("state", &state_param)])
}

async fn token(
    State(mock): State<Mock<OpenShift>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let now = mock.now();
    let mut core = mock.lock();
    let core = &mut *core;
    let client_id = match core.clients.authenticate(&headers, &form, Methods::BOTH) {
        Ok((client, _)) => client.client_id.clone(),
        Err(err) => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "unauthorized_client",
                &err.to_string(),
            );
        }
    };
    let field = |name: &str| form.get(name).map(String::as_str);
    if field("grant_type") != Some("authorization_code") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "the OAuth server issues no refresh tokens; grant_type must be authorization_code",
        );
    }
    let state = &mut core.state;
    let grant = match redeem_code(
        &mut state.codes,
        field("code").unwrap_or_default(),
        &client_id,
        field("redirect_uri"),
        field("code_verifier"),
        now,
    ) {
        Ok(grant) => grant,
        Err(err) => {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", &err.to_string());
        }
    };
    if state.disabled.contains(&grant.user) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "user is disabled");
    }
    let scope = grant.scopes.join(" ");
    let access = format!("sha256~{}", random_token(32));
    state.access.insert(
        access.clone(),
        Issued {
            user: grant.user,
            scopes: grant.scopes,
        },
        now + ACCESS_TTL,
    );
    axum::Json(json!({
        "access_token": access,
        "expires_in": ACCESS_TTL,
        "scope": scope,
        "token_type": "Bearer",
    }))
    .into_response()
}

async fn user(State(mock): State<Mock<OpenShift>>, headers: HeaderMap) -> Response {
    let now = mock.now();
    let core = mock.lock();
    let state = &core.state;
    let found = bearer_token(&headers)
        .and_then(|token| state.access.get(token, now))
        .filter(|issued| !state.disabled.contains(&issued.user))
        .and_then(|issued| Some((state.users.get(&issued.user)?, issued.scopes.clone())));
    let Some((user, scopes)) = found else {
        return status_failure(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized");
    };
    if !scopes.iter().any(|s| s == "user:info" || s == "user:full") {
        return status_failure(
            StatusCode::FORBIDDEN,
            "Forbidden",
            &format!(
                "users.user.openshift.io \"~\" is forbidden: User \"{}\" cannot get resource \"users\" in API group \"user.openshift.io\" at the cluster scope: scopes {scopes:?} prevent this action",
                user.name
            ),
        );
    }
    let groups: BTreeSet<&str> = user
        .groups
        .iter()
        .map(String::as_str)
        .chain(VIRTUAL_GROUPS)
        .collect();
    axum::Json(json!({
        "kind": "User",
        "apiVersion": "user.openshift.io/v1",
        "metadata": {
            "name": user.name,
            "uid": guid_from(&format!("user:{}", user.name)),
            "resourceVersion": "4711",
            "creationTimestamp": "2024-01-01T00:00:00Z",
        },
        "fullName": user.full_name,
        "identities": [format!("htpasswd_provider:{}", user.name)],
        "groups": groups,
    }))
    .into_response()
}
