//! A mock of CILogon, for tests and demos (loopback only).
//!
//! It follows CILogon's public documentation for what a hub uses, and where that is terse,
//! the code of the CILogon service itself (github.com/cilogon/service and
//! github.com/cilogon/service-lib):
//!
//! - CILogon's OpenID Connect page, <https://www.cilogon.org/oidc>: the endpoints
//!   (`/authorize`, `/oauth2/token`, `/oauth2/userinfo`, `/oauth2/revoke`,
//!   `/oauth2/certs`), the scopes and the claims each releases (`openid`: `sub`;
//!   `email`: `email`; `profile`: `given_name`, `family_name`, `name`;
//!   `org.cilogon.userinfo`: `idp`, `idp_name`, `eppn`, `eptid`, `affiliation`, `ou`,
//!   `oidc`, ...), that a missing attribute is left out rather than sent empty, that a
//!   client gets at most the scopes it is registered for (the intersection with what it
//!   asks), and the authorization request's `selected_idp` and `skin` parameters.
//! - The discovery document, <https://cilogon.org/.well-known/openid-configuration>
//!   (cilogon/service `.well-known/openid-configuration.php`): issuer
//!   `https://cilogon.org`, RS256 ID tokens, `client_secret_basic` and
//!   `client_secret_post`, the `authorization_code` and `refresh_token` grants, and
//!   `offline_access` among the scopes.
//! - `selected_idp` / `idphint` (cilogon/service-lib `Content::getIdphintList`, AARC-G049
//!   "IdP hinting"): one EntityID or a comma-separated list; `idphint` wins when both are
//!   sent; a chained hint's query (`?...`) is cut; Google, GitHub, ORCID and Microsoft
//!   OIDC issuers are turned into CILogon's EntityIDs for them; EntityIDs CILogon (or the
//!   skin) does not list are dropped. When a list remains, the page shows only those IdPs
//!   with the first pre-selected; otherwise the whole list.
//! - The IdP list, <https://cilogon.org/idplist/> (cilogon/service `idplist/index.php`):
//!   a JSON list of `EntityID`, `OrganizationName`, `DisplayName`, `RandS`, filtered by
//!   `?skin=`; `[]` when CILogon cannot read its own list ([`MockHandle::set_idp_list_unreadable`]).
//!   `/idplist` without the slash redirects to it, as the real server does.
//!
//! What the mock answers:
//!
//! - `GET|POST /authorize`: the authorization code flow (PKCE S256 when a challenge is
//!   sent). Without auto-approve a page lists the IdPs the hint leaves (the pre-selected
//!   one first) and their users to pick from. `openid` is required (CILogon: "openid:
//!   required"); the granted scopes are the requested ones the client is registered for.
//! - `POST /oauth2/token`: `authorization_code` and `refresh_token` grants, the client
//!   authenticated with HTTP Basic or in the body (never both). Access and refresh tokens
//!   are shaped as the identifiers of OA4MP, the server CILogon runs
//!   (`https://cilogon.org/oauth2/<id>?type=accessToken&ts=...&version=v2.0&lifetime=900000`):
//!   a client must treat them as opaque and encode them, since they hold `/`, `?`, `&`
//!   and `=`. Access tokens live 15 minutes. A refresh token is issued when the grant
//!   includes `offline_access` and the client is registered with a refresh token lifetime
//!   (CILogon's page recommends 10 days, [`DEFAULT_REFRESH_LIFETIME`]); a refresh rotates
//!   it and answers with a new ID token (no nonce), for the scopes of the login.
//! - `GET|POST /oauth2/userinfo`: the claims the token's scopes release, with the token
//!   as a Bearer header or an `access_token` parameter; 401 `invalid_token` otherwise.
//! - `GET /.well-known/openid-configuration`, `GET /oauth2/certs`: the discovery document
//!   with this mock's origin as issuer, and the RS256 key (the framework's `RsaSigner`).
//! - `POST /oauth2/revoke`: RFC 7009 revocation (client authentication, `token`).
//! - `GET /idplist/`: the IdP list.
//!
//! It is a personality of the provider mock framework (`hubauth_devidp::mock`): the
//! framework serves it (plain HTTP or HTTPS), records and counts requests, injects
//! faults and outages ([`MockServer::fail_next`], [`MockServer::set_down`]) and runs the
//! authorization code grant's checks. Tests steer CILogon's own state through
//! [`MockHandle`]: users' claims, disabled users, expired tokens, forged ID tokens, the
//! clients' registered scopes and an unreadable IdP list.

mod handlers;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Deref;

use axum::Router;
use axum::routing::{get, post};
use hubauth_devidp::DevIdpError;
use hubauth_devidp::mock::{
    Client, CodeGrant, Grants, Mock, MockServer, MockServerOptions, MockTls, Personality,
    random_token,
};
use serde_json::{Map, Value};

/// A wrong answer an endpoint gives ([`MockServer::fail_next`]): the framework's fault
/// injection (`Status`, `Garbage`, `EmptyBody`, `Delay`).
pub use hubauth_devidp::mock::Fault;

pub(crate) const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
pub(crate) const AUTHORIZE_PATH: &str = "/authorize";
pub(crate) const TOKEN_PATH: &str = "/oauth2/token";
pub(crate) const USERINFO_PATH: &str = "/oauth2/userinfo";
pub(crate) const JWKS_PATH: &str = "/oauth2/certs";
pub(crate) const REVOKE_PATH: &str = "/oauth2/revoke";
pub(crate) const IDPLIST_PATH: &str = "/idplist/";
pub(crate) const IDPLIST_BARE_PATH: &str = "/idplist";

/// Every scope CILogon supports (its discovery document's `scopes_supported`).
pub const SUPPORTED_SCOPES: [&str; 6] = [
    "openid",
    "email",
    "profile",
    "org.cilogon.userinfo",
    "edu.uiuc.ncsa.myproxy.getcert",
    "offline_access",
];

/// The refresh token lifetime a client gets unless told otherwise: the 10 days CILogon's
/// OIDC page recommends registering.
pub const DEFAULT_REFRESH_LIFETIME: i64 = 864_000;

/// CILogon's EntityID for GitHub users. CILogon's own (cilogon/service-lib
/// `Util::$oauth2idps`) is `http://`; upstream's documentation example writes `https://`,
/// which CILogon accepts as a hint but never reports as a user's `idp`.
pub const GITHUB_IDP: &str = "http://github.com/login/oauth/authorize";
/// CILogon's EntityID for Google users.
pub const GOOGLE_IDP: &str = "http://google.com/accounts/o8/id";
/// CILogon's EntityID for ORCID users.
pub const ORCID_IDP: &str = "http://orcid.org/oauth/authorize";
/// CILogon's EntityID for Microsoft users.
pub const MICROSOFT_IDP: &str = "http://login.microsoftonline.com/common/oauth2/v2.0/authorize";

/// An endpoint of the mock, for faults and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `/.well-known/openid-configuration`
    Discovery,
    /// `/authorize`
    Authorize,
    /// `/oauth2/token`
    Token,
    /// `/oauth2/userinfo`
    UserInfo,
    /// `/oauth2/certs`
    Jwks,
    /// `/oauth2/revoke`
    Revoke,
    /// `/idplist/` (and `/idplist`)
    IdpList,
}

/// An identity provider of CILogon's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockIdp {
    /// `EntityID` (the `idp` claim of its users).
    pub entity_id: String,
    /// `OrganizationName`.
    pub organization_name: String,
    /// `DisplayName` (the `idp_name` claim of its users).
    pub display_name: String,
    /// `RandS`: whether it supports the Research and Scholarship category.
    pub rands: bool,
}

impl MockIdp {
    /// An IdP whose organization and display names are `name`.
    pub fn new(entity_id: impl Into<String>, name: impl Into<String>) -> Self {
        let name = name.into();
        MockIdp {
            entity_id: entity_id.into(),
            organization_name: name.clone(),
            display_name: name,
            rands: true,
        }
    }

    /// The IdPs every CILogon lists besides campus ones: GitHub, Google, ORCID and
    /// Microsoft.
    pub fn social() -> Vec<MockIdp> {
        let social = |id: &str, name: &str| MockIdp {
            rands: false,
            ..MockIdp::new(id, name)
        };
        vec![
            social(GITHUB_IDP, "GitHub"),
            social(GOOGLE_IDP, "Google"),
            social(ORCID_IDP, "ORCID"),
            social(MICROSOFT_IDP, "Microsoft"),
        ]
    }
}

/// A user of one identity provider, as CILogon reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockUser {
    /// How tests and the picker name the user (unique in a mock).
    pub key: String,
    /// The EntityID of the user's IdP (the `idp` claim).
    pub idp: String,
    /// `sub`: CILogon's identifier (`http://cilogon.org/serverA/users/NNNN`).
    pub sub: String,
    /// Every other claim CILogon may release (`email`, `eppn`, `given_name`, ...); the
    /// scopes decide which are sent. `idp` and `idp_name` are added from the IdP.
    pub claims: Map<String, Value>,
}

impl MockUser {
    /// A user of `idp` named `key`, with no claims yet.
    pub fn new(key: impl Into<String>, idp: impl Into<String>) -> Self {
        let key = key.into();
        let digest = hubauth_devidp::mock::guid_from(&key);
        let number = u32::from_str_radix(&digest[..7], 16).unwrap_or_default() % 10_000_000;
        MockUser {
            sub: format!("http://cilogon.org/serverA/users/{number}"),
            key,
            idp: idp.into(),
            claims: Map::new(),
        }
    }

    /// A campus (SAML) user `local@domain`: `eppn` and `email` are that address,
    /// `eptid` is opaque, and the names are made from `local`.
    pub fn campus(idp: impl Into<String>, local: &str, domain: &str) -> Self {
        let address = format!("{local}@{domain}");
        MockUser::new(address.clone(), idp)
            .claim("eppn", address.clone())
            .claim("email", address)
            .claim("eptid", format!("{domain}!cilogon!{}", random_token(9)))
            .claim("given_name", capitalized(local))
            .claim("family_name", "Example")
            .claim("name", format!("{} Example", capitalized(local)))
            .claim("affiliation", format!("member@{domain};employee@{domain}"))
    }

    /// A GitHub user through CILogon: `preferred_username` is the login, `oidc` GitHub's
    /// numeric id, `email` the primary address.
    pub fn github(login: &str, numeric_id: u64) -> Self {
        MockUser::new(format!("github:{login}"), GITHUB_IDP)
            .claim("preferred_username", login)
            .claim("oidc", numeric_id.to_string())
            .claim("email", format!("{login}@users.noreply.github.com"))
            .claim("name", capitalized(login))
    }

    /// A Google user through CILogon: `oidc` is Google's subject, `email` the address.
    pub fn google(email: &str) -> Self {
        MockUser::new(format!("google:{email}"), GOOGLE_IDP)
            .claim("email", email)
            .claim(
                "oidc",
                (hubauth_devidp::mock::guid_from(email)[..8]).to_owned(),
            )
            .claim(
                "given_name",
                capitalized(email.split('@').next().unwrap_or(email)),
            )
    }

    /// Sets a claim.
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.insert(name.to_owned(), value.into());
        self
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// What CILogon knows about a registered client besides its credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    /// The scopes it is registered for: it is granted at most these.
    pub scopes: Vec<String>,
    /// Its refresh token lifetime in seconds (0: no refresh tokens).
    pub refresh_lifetime: i64,
}

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            scopes: SUPPORTED_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            refresh_lifetime: DEFAULT_REFRESH_LIFETIME,
        }
    }
}

/// What one authorization request asked CILogon to show, and what the page showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeSeen {
    /// The `selected_idp` parameter as received.
    pub selected_idp: Option<String>,
    /// The `idphint` parameter as received.
    pub idphint: Option<String>,
    /// The `skin` parameter as received.
    pub skin: Option<String>,
    /// The EntityIDs the page lists, in its order (by display name, as CILogon sorts
    /// them).
    pub shown: Vec<String>,
    /// The pre-selected EntityID, when the hint left one.
    pub preselected: Option<String>,
}

/// Configures a mock before it starts.
#[derive(Debug, Default)]
pub struct CilogonMock {
    clients: Vec<(Client, ClientSettings)>,
    idps: Vec<MockIdp>,
    users: Vec<MockUser>,
    skins: HashMap<String, Vec<String>>,
    auto_approve: Option<String>,
    tls: Option<MockTls>,
}

impl CilogonMock {
    /// A mock that lists the social IdPs ([`MockIdp::social`]) and nothing else yet.
    pub fn builder() -> Self {
        CilogonMock {
            idps: MockIdp::social(),
            ..CilogonMock::default()
        }
    }

    /// Registers a confidential client with one redirect URI, every scope and the default
    /// refresh token lifetime.
    pub fn client(mut self, id: &str, secret: &str, redirect_uri: &str) -> Self {
        self.clients.push((
            Client::confidential(id, secret, redirect_uri),
            ClientSettings::default(),
        ));
        self
    }

    /// Changes what the last registered client is registered for.
    pub fn client_settings(mut self, settings: ClientSettings) -> Self {
        if let Some(last) = self.clients.last_mut() {
            last.1 = settings;
        }
        self
    }

    /// Adds an identity provider to CILogon's list.
    pub fn idp(mut self, idp: MockIdp) -> Self {
        self.idps.push(idp);
        self
    }

    /// Adds a user.
    pub fn user(mut self, user: MockUser) -> Self {
        self.users.push(user);
        self
    }

    /// A skin that lists only these IdPs.
    pub fn skin(mut self, name: &str, idps: &[&str]) -> Self {
        self.skins.insert(
            name.to_owned(),
            idps.iter().map(|id| (*id).to_owned()).collect(),
        );
        self
    }

    /// Logs every authorization request in as this user (by key) without a page;
    /// `None` shows the picker.
    pub fn auto_approve(mut self, key: Option<&str>) -> Self {
        self.auto_approve = key.map(str::to_owned);
        self
    }

    /// Serves HTTPS with this certificate (as CILogon does), so that the hub can use the
    /// URLs it derives from `cilogon_host`.
    pub fn tls(mut self, tls: MockTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Starts serving on 127.0.0.1 on a free port.
    ///
    /// # Errors
    /// When the port cannot be bound or a client is invalid.
    pub async fn start(self) -> Result<MockHandle, DevIdpError> {
        let mut clients = Vec::new();
        let mut settings = HashMap::new();
        for (client, client_settings) in self.clients {
            settings.insert(client.client_id.clone(), client_settings);
            clients.push(client);
        }
        let state = CilogonState {
            clients: settings,
            idps: self.idps,
            skins: self.skins,
            users: self
                .users
                .into_iter()
                .map(|user| (user.key.clone(), user))
                .collect(),
            auto_approve: self.auto_approve,
            ..CilogonState::default()
        };
        let options = MockServerOptions {
            clients,
            tls: self.tls,
            ..MockServerOptions::default()
        };
        let server = MockServer::start(Cilogon, state, options).await?;
        Ok(MockHandle { server })
    }
}

/// The CILogon personality.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cilogon;

/// An issued access or refresh token: whose, for which client, which scopes.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub(crate) user: String,
    pub(crate) client_id: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) auth_time: i64,
}

/// What a code carries besides the framework's grant: when the user authenticated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoginTime(pub(crate) i64);

/// What the CILogon mock keeps.
#[derive(Debug, Default)]
pub struct CilogonState {
    pub(crate) clients: HashMap<String, ClientSettings>,
    pub(crate) idps: Vec<MockIdp>,
    pub(crate) skins: HashMap<String, Vec<String>>,
    pub(crate) users: BTreeMap<String, MockUser>,
    pub(crate) disabled: HashSet<String>,
    pub(crate) auto_approve: Option<String>,
    pub(crate) codes: Grants<CodeGrant<LoginTime>>,
    pub(crate) access: Grants<Issued>,
    pub(crate) refresh: Grants<Issued>,
    pub(crate) authorizations: Vec<AuthorizeSeen>,
    pub(crate) revoked: Vec<String>,
    pub(crate) forge_id_tokens: bool,
    pub(crate) idp_list_unreadable: bool,
}

impl CilogonState {
    /// The IdPs a skin allows (all without a skin, or for a skin CILogon does not know).
    pub(crate) fn idps_for_skin(&self, skin: Option<&str>) -> Vec<&MockIdp> {
        match skin.and_then(|name| self.skins.get(name)) {
            Some(allowed) => self
                .idps
                .iter()
                .filter(|idp| allowed.contains(&idp.entity_id))
                .collect(),
            None => self.idps.iter().collect(),
        }
    }
}

impl Personality for Cilogon {
    type Endpoint = Endpoint;
    type State = CilogonState;
    const NAME: &'static str = "CILogon";

    fn endpoint(&self, path: &str) -> Option<Endpoint> {
        match path {
            DISCOVERY_PATH => Some(Endpoint::Discovery),
            AUTHORIZE_PATH => Some(Endpoint::Authorize),
            TOKEN_PATH => Some(Endpoint::Token),
            USERINFO_PATH => Some(Endpoint::UserInfo),
            JWKS_PATH => Some(Endpoint::Jwks),
            REVOKE_PATH => Some(Endpoint::Revoke),
            IDPLIST_PATH | IDPLIST_BARE_PATH => Some(Endpoint::IdpList),
            _ => None,
        }
    }

    fn routes(&self) -> Router<Mock<Self>> {
        Router::new()
            .route(DISCOVERY_PATH, get(handlers::discovery))
            .route(
                AUTHORIZE_PATH,
                get(handlers::authorize).post(handlers::authorize_form),
            )
            .route(TOKEN_PATH, post(handlers::token))
            .route(
                USERINFO_PATH,
                get(handlers::userinfo).post(handlers::userinfo_form),
            )
            .route(JWKS_PATH, get(handlers::jwks))
            .route(REVOKE_PATH, post(handlers::revoke))
            .route(IDPLIST_PATH, get(handlers::idp_list))
            .route(IDPLIST_BARE_PATH, get(handlers::idp_list_redirect))
    }
}

/// A running mock: the framework's controls ([`MockServer`], through `Deref`) and
/// CILogon's own. Dropping it stops the server.
#[derive(Debug)]
pub struct MockHandle {
    server: MockServer<Cilogon>,
}

impl Deref for MockHandle {
    type Target = MockServer<Cilogon>;

    fn deref(&self) -> &MockServer<Cilogon> {
        &self.server
    }
}

impl MockHandle {
    /// `http://127.0.0.1:PORT` (`https://` with TLS): also the issuer of its ID tokens,
    /// as `https://cilogon.org` is CILogon's.
    pub fn issuer(&self) -> String {
        self.server.origin().to_owned()
    }

    /// `127.0.0.1:PORT`: what `cilogon_host` is for a hub against this mock (with TLS).
    pub fn host(&self) -> String {
        self.server.addr().to_string()
    }

    /// The authorization endpoint.
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

    /// The key set.
    pub fn jwks_url(&self) -> String {
        format!("{}{JWKS_PATH}", self.server.origin())
    }

    /// The revocation endpoint.
    pub fn revocation_url(&self) -> String {
        format!("{}{REVOKE_PATH}", self.server.origin())
    }

    /// The discovery document.
    pub fn discovery_url(&self) -> String {
        format!("{}{DISCOVERY_PATH}", self.server.origin())
    }

    /// The IdP list.
    pub fn idplist_url(&self) -> String {
        format!("{}{IDPLIST_PATH}", self.server.origin())
    }

    /// The `[CILogonOAuthenticator]` lines that point a hub at this mock when it cannot
    /// use `cilogon_host` (plain HTTP): the endpoints, the issuer and the IdP list.
    pub fn toml_urls(&self) -> String {
        format!(
            "authorize_url = \"{}\"\ntoken_url = \"{}\"\nuserdata_url = \"{}\"\noidc_issuer = \"{}\"\nidplist_url = \"{}\"\n",
            self.authorize_url(),
            self.token_url(),
            self.userinfo_url(),
            self.issuer(),
            self.idplist_url()
        )
    }

    /// Every authorization request so far: what it asked to show, and what was shown.
    pub fn authorizations(&self) -> Vec<AuthorizeSeen> {
        self.server.lock().state.authorizations.clone()
    }

    /// Changes which user auto-approve logs in (by key); `None` shows the picker.
    pub fn set_auto_approve(&self, key: Option<&str>) {
        self.server.lock().state.auto_approve = key.map(str::to_owned);
    }

    /// Sets (or, with `None`, removes) one of a user's claims.
    pub fn set_claim(&self, key: &str, claim: &str, value: Option<Value>) {
        let mut core = self.server.lock();
        let Some(user) = core.state.users.get_mut(key) else {
            return;
        };
        match (claim, value) {
            ("idp", Some(Value::String(idp))) => user.idp = idp,
            ("sub", Some(Value::String(sub))) => user.sub = sub,
            (_, Some(value)) => {
                user.claims.insert(claim.to_owned(), value);
            }
            (_, None) => {
                user.claims.remove(claim);
            }
        }
    }

    /// Disables (or re-enables) a user: their tokens are refused and none are issued.
    pub fn set_disabled(&self, key: &str, disabled: bool) {
        let mut core = self.server.lock();
        if disabled {
            core.state.disabled.insert(key.to_owned());
        } else {
            core.state.disabled.remove(key);
        }
    }

    /// Expires every access token issued so far (refresh tokens keep working).
    pub fn expire_access_tokens(&self) {
        let now = self.server.now();
        self.server.lock().state.access.expire_all(now);
    }

    /// Expires every refresh token issued so far (the client's refresh token lifetime
    /// has passed).
    pub fn expire_refresh_tokens(&self) {
        let now = self.server.now();
        self.server.lock().state.refresh.expire_all(now);
    }

    /// Every refresh token issued so far (live, expired or rotated).
    pub fn issued_refresh_tokens(&self) -> Vec<String> {
        self.server
            .lock()
            .state
            .refresh
            .all()
            .map(|(token, _)| token.to_owned())
            .collect()
    }

    /// Every token revoked at the revocation endpoint, in order.
    pub fn revoked(&self) -> Vec<String> {
        self.server.lock().state.revoked.clone()
    }

    /// Signs later ID tokens with an attacker's key under the real key's id, so that
    /// their signature does not verify.
    pub fn forge_id_tokens(&self, on: bool) {
        self.server.lock().state.forge_id_tokens = on;
    }

    /// Changes what a client is registered for.
    pub fn set_client_settings(&self, client_id: &str, settings: ClientSettings) {
        self.server
            .lock()
            .state
            .clients
            .insert(client_id.to_owned(), settings);
    }

    /// Makes the IdP list answer `[]`, as CILogon does when it cannot read its own list.
    pub fn set_idp_list_unreadable(&self, unreadable: bool) {
        self.server.lock().state.idp_list_unreadable = unreadable;
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// The demo university's EntityID.
pub const DEMO_UNIVERSITY_IDP: &str = "https://idp.demo-university.edu/idp/shibboleth";
/// The demo's client id, shaped as CILogon's (`cilogon:/client_id/...`).
pub const DEMO_CLIENT_ID: &str = "cilogon:/client_id/hubauth-demo";

/// Starts a mock for `hubauth demo --provider cilogon`: client [`DEMO_CLIENT_ID`] for
/// `hub_callback`, and users at the picker:
///
/// - `alice@demo-university.edu` (the demo university, username `alice`, an admin) and
///   `bob@demo-university.edu` (`bob`): allowed by the university's `allowed_domains`;
/// - `github:grace` (username `github:grace`): allowed by name (`allowed_users`);
/// - `github:mallory`: GitHub users are not allowed by default (403);
/// - `olivia` (ORCID): an identity provider the hub does not list (403, "not
///   pre-configured").
///
/// Returns the mock and the complete `[CILogonOAuthenticator]` table (header included,
/// with `idps` as sub-tables after it) to append to the demo config.
///
/// # Errors
/// When the mock cannot start.
pub async fn start_demo_mock(hub_callback: &str) -> Result<(MockHandle, String), DevIdpError> {
    let secret = random_token(24);
    let mock = CilogonMock::builder()
        .idp(MockIdp::new(DEMO_UNIVERSITY_IDP, "Demo University"))
        .client(DEMO_CLIENT_ID, &secret, hub_callback)
        .user(MockUser::campus(
            DEMO_UNIVERSITY_IDP,
            "alice",
            "demo-university.edu",
        ))
        .user(MockUser::campus(
            DEMO_UNIVERSITY_IDP,
            "bob",
            "demo-university.edu",
        ))
        .user(MockUser::github("grace", 1_000_001))
        .user(MockUser::github("mallory", 1_000_666))
        .user(
            MockUser::new("olivia", ORCID_IDP)
                .claim("oidc", "0000-0002-1825-0097")
                .claim("name", "Olivia Orcid"),
        )
        .start()
        .await?;
    let table = format!(
        "[CILogonOAuthenticator]\n\
         # The CILogon mock (hubauth_cilogon::mock) stands in for cilogon.org, on plain\n\
         # http on loopback: its endpoints are set instead of cilogon_host.\n\
         client_id = \"{DEMO_CLIENT_ID}\"\n\
         client_secret = \"{secret}\"\n\
         {urls}\
         scope = [\"openid\", \"email\", \"profile\", \"org.cilogon.userinfo\", \"offline_access\"]\n\
         admin_users = [\"alice\"]\n\
         allowed_users = [\"github:grace\"]\n\
         \n\
         [CILogonOAuthenticator.idps.\"{DEMO_UNIVERSITY_IDP}\"]\n\
         username_derivation = {{ username_claim = \"eppn\", action = \"strip_idp_domain\", domain = \"demo-university.edu\" }}\n\
         allowed_domains = [\"demo-university.edu\"]\n\
         default = true\n\
         \n\
         [CILogonOAuthenticator.idps.\"{GITHUB_IDP}\"]\n\
         username_derivation = {{ username_claim = \"preferred_username\", action = \"prefix\", prefix = \"github\" }}\n",
        urls = mock.toml_urls(),
    );
    Ok((mock, table))
}
