//! A mock of Google for tests and demos (loopback only): sign-in with OAuth 2.0 and
//! OpenID Connect, the service account grant with domain-wide delegation, and the Admin
//! SDK Directory API's group listing.
//!
//! One origin stands for Google's hosts; each path is the one the real host serves, so
//! that `google_api_url` (or `GOOGLE_API_URL`) pointing here moves a hub over:
//!
//! | Path | Google's host | Endpoint |
//! |---|---|---|
//! | `/.well-known/openid-configuration` | accounts.google.com | [`Endpoint::Discovery`] |
//! | `/o/oauth2/v2/auth` | accounts.google.com | [`Endpoint::Authorize`] |
//! | `/token` | oauth2.googleapis.com | [`Endpoint::Token`] |
//! | `/oauth2/v4/token` | www.googleapis.com | [`Endpoint::LegacyToken`] |
//! | `/oauth2/v1/userinfo`, `/oauth2/v2/userinfo` | www.googleapis.com | [`Endpoint::UserInfo`] |
//! | `/v1/userinfo`, `/oauth2/v3/userinfo` | openidconnect.googleapis.com, www.googleapis.com | [`Endpoint::OidcUserInfo`] |
//! | `/oauth2/v3/certs` | www.googleapis.com | [`Endpoint::Certs`] |
//! | `/admin/directory/v1/groups` | admin.googleapis.com, www.googleapis.com | [`Endpoint::Groups`] |
//!
//! What each behaves like, and the page of Google's documentation it follows, is said
//! at its handler (`handlers.rs`). In short:
//!
//! - Sign-in (<https://developers.google.com/identity/openid-connect/openid-connect>,
//!   <https://developers.google.com/identity/protocols/oauth2/web-server>): the
//!   authorization code flow with PKCE and nonce; `access_type=offline` gets a refresh
//!   token only the first time a user consents to a client, or again with
//!   `prompt=consent` (or the legacy `approval_prompt=force`; both at once are refused);
//!   ID tokens signed RS256 by the key at `/oauth2/v3/certs`, issued by
//!   `https://accounts.google.com`, with `hd` for Workspace accounts, `email_verified`,
//!   `at_hash`, `azp` and the nonce; granted scopes reported by their long names.
//! - The service account grant
//!   (<https://developers.google.com/identity/protocols/oauth2/service-account>): a JWT
//!   (`urn:ietf:params:oauth:grant-type:jwt-bearer`) signed RS256 by a registered
//!   service account's key, for at most an hour, with `aud` the token endpoint; `sub`
//!   makes the token act as that user, which needs domain-wide delegation of every
//!   requested scope ([`GoogleMock::delegate`]), else `401 unauthorized_client`.
//! - `groups.list` with `userKey`
//!   (<https://developers.google.com/admin-sdk/directory/reference/rest/v1/groups/list>):
//!   the groups the user or group is a direct member of, by pages (`maxResults` up to
//!   200, `pageToken` / `nextPageToken`), for a token with a group scope acting as an
//!   administrator allowed to read groups; otherwise Google's JSON errors (403
//!   "Not Authorized to access this resource/api", 400 "Invalid Input", 401).
//!
//! It is a personality of the provider mock framework (`hubauth_devidp::mock`), which
//! serves it, records and counts requests (secrets redacted), injects faults and
//! outages ([`MockServer::fail_next`], [`MockServer::set_down`]) and runs the code
//! grant's shared checks. Tests steer it through [`MockHandle`].

mod handlers;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::routing::{get, post};
use hubauth_devidp::DevIdpError;
use hubauth_devidp::mock::{
    Client, CodeGrant, Grants, Mock, MockServer, MockServerOptions, Personality, RsaSigner,
    guid_from, random_token,
};
use hubauth_provider::RsaKey;
use serde_json::{Map, Value, json};

/// A wrong answer an endpoint gives ([`MockServer::fail_next`]): the framework's fault
/// injection (`Status`, `Garbage`, `EmptyBody`, `Delay`).
pub use hubauth_devidp::mock::Fault;

pub(crate) const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
pub(crate) const AUTHORIZE_PATH: &str = "/o/oauth2/v2/auth";
pub(crate) const TOKEN_PATH: &str = "/token";
pub(crate) const LEGACY_TOKEN_PATH: &str = "/oauth2/v4/token";
pub(crate) const USERINFO_V1_PATH: &str = "/oauth2/v1/userinfo";
pub(crate) const USERINFO_V2_PATH: &str = "/oauth2/v2/userinfo";
pub(crate) const OIDC_USERINFO_PATH: &str = "/v1/userinfo";
pub(crate) const USERINFO_V3_PATH: &str = "/oauth2/v3/userinfo";
pub(crate) const CERTS_PATH: &str = "/oauth2/v3/certs";
pub(crate) const GROUPS_PATH: &str = "/admin/directory/v1/groups";

/// Google's issuer, as its discovery document and ID tokens spell it.
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";
/// The long name Google reports the `email` scope under.
pub const EMAIL_SCOPE: &str = "https://www.googleapis.com/auth/userinfo.email";
/// The long name Google reports the `profile` scope under.
pub const PROFILE_SCOPE: &str = "https://www.googleapis.com/auth/userinfo.profile";
/// Reading groups with the Directory API.
pub const GROUP_READONLY_SCOPE: &str =
    "https://www.googleapis.com/auth/admin.directory.group.readonly";
/// Managing groups with the Directory API (also lets a token read them).
pub const GROUP_SCOPE: &str = "https://www.googleapis.com/auth/admin.directory.group";

/// An endpoint of the mock, for faults and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `/.well-known/openid-configuration`
    Discovery,
    /// `/o/oauth2/v2/auth`
    Authorize,
    /// `/token` (oauth2.googleapis.com: users' codes and refreshes, and the service
    /// account grant at the `token_uri` of key files)
    Token,
    /// `/oauth2/v4/token` (www.googleapis.com: the same, at upstream's default
    /// `token_url`)
    LegacyToken,
    /// `/oauth2/v1/userinfo` and `/oauth2/v2/userinfo` (`id`, `verified_email`)
    UserInfo,
    /// `/v1/userinfo` and `/oauth2/v3/userinfo` (OpenID Connect: `sub`, `email_verified`)
    OidcUserInfo,
    /// `/oauth2/v3/certs`
    Certs,
    /// `/admin/directory/v1/groups`
    Groups,
}

/// A Google account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockUser {
    /// `sub` / `id`: the account's stable numeric id.
    pub sub: String,
    /// The primary email address.
    pub email: String,
    /// Whether Google verified the address (`email_verified`, `verified_email`).
    pub email_verified: bool,
    /// `hd`: the Workspace domain, `None` for an account outside every Workspace.
    pub hd: Option<String>,
    /// `name`.
    pub name: String,
    /// Whether this account is a Workspace administrator with a role that may read
    /// groups (what `gsuite_administrator` must name).
    pub groups_reader: bool,
}

impl MockUser {
    /// A Workspace account: `hd` is the address's domain.
    pub fn workspace(email: &str) -> Self {
        let domain = email.split_once('@').map(|(_, d)| d.to_owned());
        MockUser {
            hd: domain,
            ..MockUser::personal(email)
        }
    }

    /// An account outside every Workspace (`@gmail.com` or a consumer account with
    /// another address): no `hd`.
    pub fn personal(email: &str) -> Self {
        let local = email.split('@').next().unwrap_or(email);
        MockUser {
            sub: numeric_id(email),
            email: email.to_owned(),
            email_verified: true,
            hd: None,
            name: local.to_owned(),
            groups_reader: false,
        }
    }

    /// Marks the address as not verified by Google.
    pub fn unverified(mut self) -> Self {
        self.email_verified = false;
        self
    }

    /// Sets `hd`.
    pub fn hd(mut self, hd: Option<&str>) -> Self {
        self.hd = hd.map(str::to_owned);
        self
    }

    /// Makes the account a Workspace administrator allowed to read groups.
    pub fn groups_reader(mut self) -> Self {
        self.groups_reader = true;
        self
    }
}

/// A Google group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockGroup {
    /// The group's address.
    pub email: String,
    /// Its name.
    pub name: String,
    /// The addresses of its direct members (users or groups).
    pub members: Vec<String>,
}

impl MockGroup {
    /// A group with direct members (user or group addresses).
    pub fn new(email: &str, members: &[&str]) -> Self {
        MockGroup {
            email: email.to_owned(),
            name: email.split('@').next().unwrap_or(email).to_owned(),
            members: members.iter().map(|m| (*m).to_owned()).collect(),
        }
    }
}

/// A Google-style numeric id (21 digits) derived from `seed`.
pub fn numeric_id(seed: &str) -> String {
    let digits: String = guid_from(seed)
        .chars()
        .filter_map(|c| c.to_digit(16))
        .map(|d| char::from(b'0' + u8::try_from(d % 10).unwrap_or(0)))
        .take(20)
        .collect();
    format!("1{digits}")
}

/// A client secret shaped as Google issues them (`GOCSPX-` and 28 characters).
pub fn google_client_secret() -> String {
    let random: String = random_token(32)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(28)
        .collect();
    format!("GOCSPX-{random}")
}

/// The keys service accounts sign with, made once per process (RSA key generation takes
/// a while in a debug build): the registered one and a key Google does not know.
struct ServiceAccountKeys {
    registered: RsaKey,
    unknown: RsaKey,
}

static SERVICE_ACCOUNT_KEYS: OnceLock<Result<Arc<ServiceAccountKeys>, String>> = OnceLock::new();

async fn service_account_keys() -> Result<Arc<ServiceAccountKeys>, DevIdpError> {
    let made = tokio::task::spawn_blocking(|| {
        SERVICE_ACCOUNT_KEYS
            .get_or_init(|| {
                let registered = RsaKey::generate().map_err(|err| err.to_string())?;
                let unknown = RsaKey::generate().map_err(|err| err.to_string())?;
                Ok(Arc::new(ServiceAccountKeys {
                    registered,
                    unknown,
                }))
            })
            .clone()
    })
    .await
    .map_err(|err| DevIdpError::Keys(err.to_string()))?;
    made.map_err(DevIdpError::Keys)
}

/// A registered service account.
#[derive(Debug, Clone)]
pub(crate) struct ServiceAccount {
    /// Its numeric unique id: what domain-wide delegation is granted to.
    pub(crate) unique_id: String,
    pub(crate) project_id: String,
}

/// Configures a mock before it starts.
#[derive(Debug, Default)]
pub struct GoogleMock {
    clients: Vec<Client>,
    users: Vec<MockUser>,
    groups: Vec<MockGroup>,
    service_accounts: Vec<String>,
    delegations: Vec<(String, Vec<String>)>,
    auto_approve: Option<String>,
    page_size: Option<usize>,
}

impl GoogleMock {
    /// An empty configuration.
    pub fn builder() -> Self {
        GoogleMock::default()
    }

    /// Registers a web application client with one redirect URI.
    pub fn client(mut self, id: &str, secret: &str, redirect_uri: &str) -> Self {
        self.clients
            .push(Client::confidential(id, secret, redirect_uri));
        self
    }

    /// Adds an account.
    pub fn user(mut self, user: MockUser) -> Self {
        self.users.push(user);
        self
    }

    /// Adds a group.
    pub fn group(mut self, group: MockGroup) -> Self {
        self.groups.push(group);
        self
    }

    /// Registers a service account (`client_email`). Its key is
    /// [`MockHandle::service_account_key`].
    pub fn service_account(mut self, client_email: &str) -> Self {
        self.service_accounts.push(client_email.to_owned());
        self
    }

    /// Grants the service account domain-wide delegation of `scopes` (what a Workspace
    /// administrator does under Security > API controls).
    pub fn delegate(mut self, client_email: &str, scopes: &[&str]) -> Self {
        self.delegations.push((
            client_email.to_owned(),
            scopes.iter().map(|s| (*s).to_owned()).collect(),
        ));
        self
    }

    /// Signs every authorization request in as this account (by email) without a page;
    /// `None` shows the account chooser.
    pub fn auto_approve(mut self, email: Option<&str>) -> Self {
        self.auto_approve = email.map(str::to_owned);
        self
    }

    /// The `groups.list` page size when `maxResults` is not given (Google's: 200).
    pub fn page_size(mut self, size: usize) -> Self {
        self.page_size = Some(size);
        self
    }

    /// Starts serving on 127.0.0.1 on a free port.
    ///
    /// # Errors
    /// When the port cannot be bound, a key cannot be made or a client is invalid.
    pub async fn start(self) -> Result<MockHandle, DevIdpError> {
        let signer = RsaSigner::shared().await?;
        let keys = service_account_keys().await?;
        let mut state = GoogleState {
            issuer: GOOGLE_ISSUER.to_owned(),
            auto_approve: self.auto_approve.map(|e| e.to_ascii_lowercase()),
            page_size: self.page_size.unwrap_or(200).clamp(1, 200),
            ..GoogleState::default()
        };
        for user in self.users {
            state.users.insert(user.email.to_ascii_lowercase(), user);
        }
        for group in self.groups {
            state.groups.insert(group.email.to_ascii_lowercase(), group);
        }
        for email in self.service_accounts {
            let project_id = email
                .split_once('@')
                .and_then(|(_, host)| host.split('.').next())
                .unwrap_or("hubauth-mock")
                .to_owned();
            state.service_accounts.insert(
                email.clone(),
                ServiceAccount {
                    unique_id: numeric_id(&email),
                    project_id,
                },
            );
        }
        for (email, scopes) in self.delegations {
            let Some(account) = state.service_accounts.get(&email) else {
                return Err(DevIdpError::Config(format!(
                    "delegation for {email}, which is not a registered service account"
                )));
            };
            state
                .delegations
                .entry(account.unique_id.clone())
                .or_default()
                .extend(scopes);
        }
        let options = MockServerOptions {
            clients: self.clients,
            ..MockServerOptions::default()
        };
        let personality = GoogleApis { signer, keys };
        let server = MockServer::start(personality, state, options).await?;
        Ok(MockHandle {
            server,
            _files: None,
        })
    }
}

/// The Google personality: its keys.
pub struct GoogleApis {
    pub(crate) signer: Arc<RsaSigner>,
    keys: Arc<ServiceAccountKeys>,
}

impl std::fmt::Debug for GoogleApis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleApis").finish_non_exhaustive()
    }
}

impl GoogleApis {
    /// The public key service account assertions must verify with.
    pub(crate) fn service_account_jwk(&self) -> &Value {
        self.keys.registered.public_jwk()
    }

    /// The registered key's id (`private_key_id` in key files).
    pub(crate) fn service_account_kid(&self) -> &str {
        self.keys.registered.kid()
    }
}

/// What a user's authorization code carries besides the framework's.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CodeExtra {
    /// Whether the code's token response includes a refresh token.
    pub(crate) refresh: bool,
}

/// An access or refresh token issued to a user.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub(crate) user: String,
    pub(crate) client_id: String,
    pub(crate) scopes: Vec<String>,
}

/// An access token issued to a service account.
#[derive(Debug, Clone)]
pub(crate) struct Delegated {
    pub(crate) service_account: String,
    pub(crate) subject: Option<String>,
    pub(crate) scopes: Vec<String>,
}

/// What the Google mock keeps.
#[derive(Debug, Default)]
pub struct GoogleState {
    pub(crate) users: BTreeMap<String, MockUser>,
    pub(crate) groups: BTreeMap<String, MockGroup>,
    pub(crate) service_accounts: BTreeMap<String, ServiceAccount>,
    pub(crate) delegations: HashMap<String, BTreeSet<String>>,
    pub(crate) consented: HashSet<(String, String)>,
    pub(crate) suspended: HashSet<String>,
    pub(crate) auto_approve: Option<String>,
    pub(crate) codes: Grants<CodeGrant<CodeExtra>>,
    pub(crate) access: Grants<Issued>,
    pub(crate) refresh: Grants<Issued>,
    pub(crate) delegated: Grants<Delegated>,
    pub(crate) page_tokens: HashMap<String, (String, usize)>,
    pub(crate) page_size: usize,
    pub(crate) issuer: String,
    pub(crate) forge_id_tokens: bool,
    pub(crate) omit_id_token: bool,
    pub(crate) userinfo_overrides: HashMap<String, Map<String, Value>>,
    pub(crate) assertions: Vec<Map<String, Value>>,
}

impl GoogleState {
    /// The account with this address (any case) or numeric id.
    pub(crate) fn user_by_key(&self, key: &str) -> Option<&MockUser> {
        self.users
            .get(&key.to_ascii_lowercase())
            .or_else(|| self.users.values().find(|user| user.sub == key))
    }
}

impl Personality for GoogleApis {
    type Endpoint = Endpoint;
    type State = GoogleState;
    const NAME: &'static str = "Google";

    fn endpoint(&self, path: &str) -> Option<Endpoint> {
        match path {
            DISCOVERY_PATH => Some(Endpoint::Discovery),
            AUTHORIZE_PATH => Some(Endpoint::Authorize),
            TOKEN_PATH => Some(Endpoint::Token),
            LEGACY_TOKEN_PATH => Some(Endpoint::LegacyToken),
            USERINFO_V1_PATH | USERINFO_V2_PATH => Some(Endpoint::UserInfo),
            OIDC_USERINFO_PATH | USERINFO_V3_PATH => Some(Endpoint::OidcUserInfo),
            CERTS_PATH => Some(Endpoint::Certs),
            GROUPS_PATH => Some(Endpoint::Groups),
            _ => None,
        }
    }

    fn routes(&self) -> Router<Mock<Self>> {
        Router::new()
            .route(DISCOVERY_PATH, get(handlers::discovery))
            .route(
                AUTHORIZE_PATH,
                get(handlers::authorize).post(handlers::authorize_pick),
            )
            .route(TOKEN_PATH, post(handlers::token))
            .route(LEGACY_TOKEN_PATH, post(handlers::token))
            .route(
                USERINFO_V1_PATH,
                get(handlers::userinfo_v1).post(handlers::userinfo_v1),
            )
            .route(
                USERINFO_V2_PATH,
                get(handlers::userinfo_v1).post(handlers::userinfo_v1),
            )
            .route(
                OIDC_USERINFO_PATH,
                get(handlers::userinfo_oidc).post(handlers::userinfo_oidc),
            )
            .route(
                USERINFO_V3_PATH,
                get(handlers::userinfo_oidc).post(handlers::userinfo_oidc),
            )
            .route(CERTS_PATH, get(handlers::certs))
            .route(GROUPS_PATH, get(handlers::groups_list))
    }
}

/// A running mock: the framework's controls ([`MockServer`], through `Deref`) and
/// Google's own. Dropping it stops the server.
#[derive(Debug)]
pub struct MockHandle {
    server: MockServer<GoogleApis>,
    /// Files the demo wrote (the service account key), removed with the mock.
    _files: Option<tempfile::TempDir>,
}

impl Deref for MockHandle {
    type Target = MockServer<GoogleApis>;

    fn deref(&self) -> &MockServer<GoogleApis> {
        &self.server
    }
}

impl MockHandle {
    /// `http://127.0.0.1:PORT`: what `google_api_url` is set to.
    pub fn base_url(&self) -> String {
        self.server.origin().to_owned()
    }

    /// The authorization endpoint (Google's `https://accounts.google.com/o/oauth2/v2/auth`).
    pub fn authorize_url(&self) -> String {
        format!("{}{AUTHORIZE_PATH}", self.server.origin())
    }

    /// The token endpoint (Google's `https://oauth2.googleapis.com/token`).
    pub fn token_url(&self) -> String {
        format!("{}{TOKEN_PATH}", self.server.origin())
    }

    /// The v1 user info endpoint (upstream's default `userdata_url`).
    pub fn userinfo_url(&self) -> String {
        format!("{}{USERINFO_V1_PATH}", self.server.origin())
    }

    /// The OpenID Connect user info endpoint (openidconnect.googleapis.com's).
    pub fn oidc_userinfo_url(&self) -> String {
        format!("{}{OIDC_USERINFO_PATH}", self.server.origin())
    }

    /// The signing keys.
    pub fn jwks_url(&self) -> String {
        format!("{}{CERTS_PATH}", self.server.origin())
    }

    /// The Directory API's `groups.list`.
    pub fn groups_url(&self) -> String {
        format!("{}{GROUPS_PATH}", self.server.origin())
    }

    /// The discovery document.
    pub fn discovery_url(&self) -> String {
        format!("{}{DISCOVERY_PATH}", self.server.origin())
    }

    /// The `[GoogleOAuthenticator]` lines that point a hub at this mock: `authorize_url`
    /// and `google_api_url` (from which the token, user info, keys and Directory API
    /// URLs follow).
    pub fn toml_urls(&self) -> String {
        format!(
            "authorize_url = \"{}\"\ngoogle_api_url = \"{}\"\n",
            self.authorize_url(),
            self.base_url()
        )
    }

    fn key_json(&self, client_email: &str, key: &RsaKey) -> Result<String, DevIdpError> {
        let core = self.server.lock();
        let account = core
            .state
            .service_accounts
            .get(client_email)
            .ok_or_else(|| {
                DevIdpError::Config(format!(
                    "{client_email} is not a registered service account"
                ))
            })?;
        let pem = key
            .to_pkcs8_pem()
            .map_err(|err| DevIdpError::Keys(err.to_string()))?;
        let origin = self.server.origin();
        Ok(json!({
            "type": "service_account",
            "project_id": account.project_id,
            "private_key_id": self.server.personality().service_account_kid(),
            "private_key": pem,
            "client_email": client_email,
            "client_id": account.unique_id,
            "auth_uri": format!("{origin}/o/oauth2/auth"),
            "token_uri": format!("{origin}{TOKEN_PATH}"),
            "auth_provider_x509_cert_url": format!("{origin}/oauth2/v1/certs"),
            "client_x509_cert_url": format!("{origin}/robot/v1/metadata/x509/{client_email}"),
            "universe_domain": "googleapis.com",
        })
        .to_string())
    }

    /// The key file of a registered service account, as Google Cloud's console
    /// downloads it, with `token_uri` at this mock.
    ///
    /// # Errors
    /// When the account is not registered or the key cannot be written out.
    pub fn service_account_key(&self, client_email: &str) -> Result<String, DevIdpError> {
        let keys = Arc::clone(&self.server.personality().keys);
        self.key_json(client_email, &keys.registered)
    }

    /// A key file for the account whose private key Google does not know (a deleted or
    /// foreign key): its assertions fail with "Invalid JWT Signature.".
    ///
    /// # Errors
    /// As [`MockHandle::service_account_key`].
    pub fn unknown_service_account_key(&self, client_email: &str) -> Result<String, DevIdpError> {
        let keys = Arc::clone(&self.server.personality().keys);
        self.key_json(client_email, &keys.unknown)
    }

    /// Writes [`MockHandle::service_account_key`] to `dir` and returns the file's path.
    ///
    /// # Errors
    /// As [`MockHandle::service_account_key`], or when the file cannot be written.
    pub fn write_service_account_key(
        &self,
        dir: &Path,
        client_email: &str,
    ) -> Result<PathBuf, DevIdpError> {
        let text = self.service_account_key(client_email)?;
        let path = dir.join(format!(
            "{}.json",
            client_email.split('@').next().unwrap_or("service-account")
        ));
        std::fs::write(&path, text)
            .map_err(|err| DevIdpError::Config(format!("writing {}: {err}", path.display())))?;
        Ok(path)
    }

    /// Replaces a group's direct members.
    pub fn set_members(&self, group: &str, members: &[&str]) {
        if let Some(found) = self
            .server
            .lock()
            .state
            .groups
            .get_mut(&group.to_ascii_lowercase())
        {
            found.members = members.iter().map(|m| (*m).to_owned()).collect();
        }
    }

    /// Suspends (or restores) an account: its tokens stop working and it cannot sign in.
    pub fn set_suspended(&self, email: &str, suspended: bool) {
        let email = email.to_ascii_lowercase();
        let mut core = self.server.lock();
        if suspended {
            core.state.suspended.insert(email);
        } else {
            core.state.suspended.remove(&email);
        }
    }

    /// Whether an account may read groups as an administrator.
    pub fn set_groups_reader(&self, email: &str, reader: bool) {
        if let Some(user) = self
            .server
            .lock()
            .state
            .users
            .get_mut(&email.to_ascii_lowercase())
        {
            user.groups_reader = reader;
        }
    }

    /// Removes the service account's domain-wide delegation.
    pub fn revoke_delegation(&self, client_email: &str) {
        let mut core = self.server.lock();
        if let Some(account) = core.state.service_accounts.get(client_email).cloned() {
            core.state.delegations.remove(&account.unique_id);
        }
    }

    /// Expires every access token issued to users (refresh tokens keep working).
    pub fn expire_access_tokens(&self) {
        let now = self.server.now();
        self.server.lock().state.access.expire_all(now);
    }

    /// Expires every access token issued to service accounts.
    pub fn expire_delegated_tokens(&self) {
        let now = self.server.now();
        self.server.lock().state.delegated.expire_all(now);
    }

    /// Signs later ID tokens with an attacker's key under the real key's id.
    pub fn forge_id_tokens(&self, on: bool) {
        self.server.lock().state.forge_id_tokens = on;
    }

    /// The issuer later ID tokens name (Google's: `https://accounts.google.com`, and in
    /// some tokens `accounts.google.com`).
    pub fn set_id_token_issuer(&self, issuer: &str) {
        self.server.lock().state.issuer = issuer.to_owned();
    }

    /// Leaves the ID token out of later token responses.
    pub fn omit_id_token(&self, on: bool) {
        self.server.lock().state.omit_id_token = on;
    }

    /// Claims merged into later user info answers for an account (to make the user info
    /// disagree with the ID token).
    pub fn override_userinfo(&self, email: &str, claims: Value) {
        if let Value::Object(map) = claims {
            self.server
                .lock()
                .state
                .userinfo_overrides
                .insert(email.to_ascii_lowercase(), map);
        }
    }

    /// Changes which account auto-approve signs in.
    pub fn set_auto_approve(&self, email: Option<&str>) {
        self.server.lock().state.auto_approve = email.map(|e| e.to_ascii_lowercase());
    }

    /// Changes the default `groups.list` page size.
    pub fn set_page_size(&self, size: usize) {
        self.server.lock().state.page_size = size.clamp(1, 200);
    }

    /// The claims of every service account assertion the token endpoint accepted, oldest
    /// first (the signature checked; never the assertion itself).
    pub fn accepted_assertions(&self) -> Vec<Map<String, Value>> {
        self.server.lock().state.assertions.clone()
    }

    /// How many access tokens the service account `client_email` was issued.
    pub fn delegated_tokens(&self, client_email: &str) -> usize {
        self.server
            .lock()
            .state
            .delegated
            .all()
            .filter(|(_, grant)| grant.service_account == client_email)
            .count()
    }

    /// Whether any token (user or service account) issued so far is `token`.
    pub fn issued(&self, token: &str) -> bool {
        let core = self.server.lock();
        let state = &core.state;
        state.access.all().any(|(t, _)| t == token)
            || state.refresh.all().any(|(t, _)| t == token)
            || state.delegated.all().any(|(t, _)| t == token)
    }

    /// Every token issued so far (user access and refresh tokens, delegated tokens).
    pub fn all_tokens(&self) -> Vec<String> {
        let core = self.server.lock();
        let state = &core.state;
        state
            .access
            .all()
            .chain(state.refresh.all())
            .map(|(t, _)| t.to_owned())
            .chain(state.delegated.all().map(|(t, _)| t.to_owned()))
            .collect()
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// The demo's Workspace domain.
pub const DEMO_DOMAIN: &str = "example.com";
/// The demo's service account.
pub const DEMO_SERVICE_ACCOUNT: &str = "hubauth-groups@hubauth-demo.iam.gserviceaccount.com";

/// Starts a mock for `hubauth demo --provider google`: client
/// `hubauth-demo.apps.googleusercontent.com` for `hub_callback`; Workspace `example.com`
/// with `alice@example.com` (group staff), `admin@example.com` (staff and hub-admins),
/// `bob@example.com` (no group: refused), the administrator `groups-reader@example.com`
/// the service account acts as; and `mallory@gmail.com` (outside the Workspace: blocked
/// by `hosted_domain`). The service account's key file is written to a temporary
/// directory that lives as long as the mock. Returns the mock and the complete
/// `[GoogleOAuthenticator]` table (header included).
///
/// # Errors
/// When the mock cannot start or the key file cannot be written.
pub async fn start_demo_mock(hub_callback: &str) -> Result<(MockHandle, String), DevIdpError> {
    let client_id = "hubauth-demo.apps.googleusercontent.com";
    let secret = google_client_secret();
    let mut mock = GoogleMock::builder()
        .client(client_id, &secret, hub_callback)
        .user(MockUser::workspace("alice@example.com"))
        .user(MockUser::workspace("admin@example.com"))
        .user(MockUser::workspace("bob@example.com"))
        .user(MockUser::workspace("groups-reader@example.com").groups_reader())
        .user(MockUser::personal("mallory@gmail.com"))
        .group(MockGroup::new(
            "staff@example.com",
            &["alice@example.com", "admin@example.com"],
        ))
        .group(MockGroup::new(
            "hub-admins@example.com",
            &["admin@example.com"],
        ))
        .service_account(DEMO_SERVICE_ACCOUNT)
        .delegate(DEMO_SERVICE_ACCOUNT, &[GROUP_READONLY_SCOPE])
        .start()
        .await?;
    let dir = tempfile::TempDir::new()
        .map_err(|err| DevIdpError::Config(format!("a directory for the demo key: {err}")))?;
    let key = mock.write_service_account_key(dir.path(), DEMO_SERVICE_ACCOUNT)?;
    mock._files = Some(dir);
    let key = key.display().to_string().replace('\\', "\\\\");
    let table = format!(
        "[GoogleOAuthenticator]\n# The Google mock (hubauth_google::mock) stands in for accounts.google.com and the googleapis.com hosts.\nclient_id = \"{client_id}\"\nclient_secret = \"{secret}\"\n{urls}hosted_domain = [\"{DEMO_DOMAIN}\"]\nallowed_google_groups = {{ \"{DEMO_DOMAIN}\" = [\"staff\"] }}\nadmin_google_groups = {{ \"{DEMO_DOMAIN}\" = [\"hub-admins\"] }}\ngoogle_service_account_keys = {{ \"{DEMO_DOMAIN}\" = \"{key}\" }}\ngsuite_administrator = {{ \"{DEMO_DOMAIN}\" = \"groups-reader\" }}\nextra_authorize_params = {{ access_type = \"offline\", prompt = \"consent\" }}\n",
        urls = mock.toml_urls(),
    );
    Ok((mock, table))
}
