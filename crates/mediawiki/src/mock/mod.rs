//! A mock of a wiki running MediaWiki's OAuth extension, for tests and demos (loopback
//! only): the OAuth 1.0a pages of `index.php` and the identity JWT.
//!
//! What it models, and where it is documented (the developer guide
//! <https://www.mediawiki.org/wiki/OAuth/For_Developers>, the extension's page
//! <https://www.mediawiki.org/wiki/Extension:OAuth>, and the extension's own code, whose
//! behaviour those pages describe):
//!
//! - Every step is a page of `index.php` named by `title`: `Special:OAuth/initiate`,
//!   `Special:OAuth/authorize` and `Special:OAuth/authenticate` (the page users approve
//!   on; also served as the pretty URL `/wiki/Special:OAuth/authorize`, which the developer
//!   guide recommends for the browser), `Special:OAuth/token` and `Special:OAuth/identify`
//!   (For Developers, "OAuth 1.0a" and "Identifying the user").
//! - Requests are signed with HMAC-SHA1 (RFC 5849), their protocol parameters read from
//!   the query, a form body and the `Authorization: OAuth` header, `oauth_version` 1.0 if
//!   given. A timestamp more than 300 s away from the wiki's clock, a nonce seen before
//!   for the same consumer and token, an unknown consumer key, a missing or unsupported
//!   signature method and a wrong signature are refused, as the extension's `OAuthServer`
//!   does.
//! - `oauth_callback` is `oob`, or, for a consumer registered with "Allow consumer to
//!   specify a callback in requests", a URL of which the registered callback is a prefix
//!   (same host and port, `http` may become `https`, the path a prefix; an exact path and a
//!   query prefix when the registered callback has a query; no user info)
//!   (For Developers, "Callback URL").
//! - Request tokens live ten minutes and are approved once and exchanged once: a second
//!   exchange is refused with "OAuth token already used" (E009); a wrong verifier with "The
//!   verification code provided was not valid".
//! - After approval the browser is sent to the callback (the registered one for `oob`)
//!   with `oauth_verifier` and `oauth_token` appended.
//! - Errors of `initiate` and `token` are `Error: <message>` in plain text, and those of
//!   `identify` a JSON `{"error": key, "message": text}`, all with HTTP 200 (the extension
//!   does not set an error status, as mwoauth notes).
//! - `identify` answers a JWT signed with HS256 and the consumer secret (For Developers,
//!   "Identifying the user"): `iss` (the wiki's canonical server), `aud` (the consumer
//!   key), `iat`, `exp` (`iat` + 100 s), `nonce` (the request's `oauth_nonce`), `sub` (the
//!   central user id), and for a user who is not hidden `username`, `editcount`,
//!   `confirmed_email`, `email_verified`, `blocked`, `registered` (a MediaWiki timestamp),
//!   `groups` (the effective groups, `*` and `user` included), `rights`, `grants`, and
//!   `realname` and `email` when the grant includes private info
//!   (`mwoauth-authonlyprivate`). A hidden user's identity has only `sub` and
//!   `blocked: true`. A locked user gets "The authorization headers in your request are
//!   for a user who is blocked".
//! - An access token is the user's acceptance of the consumer; revoking it (at
//!   Special:OAuthManageMyGrants) makes `identify` answer "No approved grant was found for
//!   that authorization token".
//!
//! It is a personality of the provider mock framework (`hubauth_devidp::mock`), which
//! serves it, records and counts requests, and injects faults and outages. Every step is
//! the same path (`/w/index.php`), so [`MockServer::fail_next`] and
//! [`MockServer::set_down`] on [`Endpoint::Index`] hit the next request whatever its page;
//! [`MockHandle::fail_next_page`] queues a fault (the framework's [`Fault`]) for one page.

mod handlers;
pub mod oauth1;

use std::collections::{BTreeMap, HashMap};
use std::ops::Deref;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use hubauth_devidp::DevIdpError;
use hubauth_devidp::faults::Faults;
use hubauth_devidp::mock::{
    Client, Clock, Grants, Mock, MockServer, MockServerOptions, MockTls, Personality, random_token,
};

/// A wrong answer an endpoint or page gives.
pub use hubauth_devidp::mock::Fault;

/// `index.php`, under `/w/` as on Wikimedia wikis.
pub const INDEX_PATH: &str = "/w/index.php";
/// The article path's special page prefix (`/wiki/Special:OAuth/authorize`).
pub const WIKI_PATH_PREFIX: &str = "/wiki/";
/// How long a request token lives (the extension's cache entry: ten minutes).
pub const REQUEST_TOKEN_TTL: i64 = 600;
/// How far a request's `oauth_timestamp` may be from the wiki's clock.
pub const TIMESTAMP_THRESHOLD: i64 = 300;
/// How long an identity JWT is valid.
pub const IDENTITY_TTL: i64 = 100;

/// An endpoint of the mock (a path), for the framework's faults, outages and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `/w/index.php`: every `Special:OAuth` page.
    Index,
    /// `/wiki/...`: the pretty URL of the approval page.
    Wiki,
}

/// A `Special:OAuth` page, for faults of one step and counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Page {
    /// `Special:OAuth/initiate`.
    Initiate,
    /// `Special:OAuth/authorize` or `Special:OAuth/authenticate` (the browser's page).
    Authorize,
    /// `Special:OAuth/token`.
    Token,
    /// `Special:OAuth/identify`.
    Identify,
}

impl Page {
    /// The page a `title` names.
    pub fn from_title(title: &str) -> Option<Page> {
        match title.replace(' ', "_").as_str() {
            "Special:OAuth/initiate" => Some(Page::Initiate),
            "Special:OAuth/authorize" | "Special:OAuth/authenticate" => Some(Page::Authorize),
            "Special:OAuth/token" => Some(Page::Token),
            "Special:OAuth/identify" => Some(Page::Identify),
            _ => None,
        }
    }
}

/// A way to make the next identity JWT wrong, for tests of the hub's checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdentityTamper {
    /// Signed with another secret.
    WrongSecret,
    /// `alg: none`, no signature.
    Unsigned,
    /// `aud` is another consumer's key.
    WrongAudience,
    /// `iss` is another wiki.
    WrongIssuer,
    /// `iat` and `exp` an hour ago.
    Expired,
    /// `iat` an hour ahead.
    IssuedInFuture,
    /// `nonce` is not the request's.
    WrongNonce,
    /// No `exp` claim.
    NoExpiry,
}

/// A consumer registered at Special:OAuthConsumerRegistration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockConsumer {
    /// The consumer key (`client_id`).
    pub key: String,
    /// The consumer secret (`client_secret`).
    pub secret: String,
    /// The registered callback URL.
    pub callback_url: String,
    /// "Allow consumer to specify a callback in requests and use the callback URL above as
    /// a required prefix".
    pub callback_is_prefix: bool,
    /// The grants it asks for (`mwoauth-authonly`: identity only, the default).
    pub grants: Vec<String>,
}

impl MockConsumer {
    /// A consumer whose callback is a prefix (what the hub needs), asking for identity
    /// only.
    pub fn new(key: &str, secret: &str, callback_url: &str) -> Self {
        MockConsumer {
            key: key.to_owned(),
            secret: secret.to_owned(),
            callback_url: callback_url.to_owned(),
            callback_is_prefix: true,
            grants: vec!["mwoauth-authonly".to_owned()],
        }
    }

    /// The same consumer with `oob` callbacks only.
    pub fn oob_only(mut self) -> Self {
        self.callback_is_prefix = false;
        self
    }

    /// The same consumer asking for these grants.
    pub fn grants(mut self, grants: &[&str]) -> Self {
        self.grants = grants.iter().map(|grant| (*grant).to_owned()).collect();
        self
    }
}

/// A wiki account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockUser {
    /// The user name, as MediaWiki writes it (spaces, first letter upper case).
    pub username: String,
    /// The central user id (`sub`).
    pub central_id: u64,
    /// `editcount`.
    pub editcount: u64,
    /// Whether the email address is confirmed.
    pub confirmed_email: bool,
    /// The email address.
    pub email: String,
    /// The real name.
    pub realname: String,
    /// `blocked`: a block on the wiki (the account can still log in elsewhere).
    pub blocked: bool,
    /// A globally locked account: identify refuses it.
    pub locked: bool,
    /// A suppressed (hidden) account: its identity names no user.
    pub hidden: bool,
    /// `registered`, a MediaWiki timestamp (`yyyymmddhhmmss`).
    pub registered: String,
    /// Explicit groups (`sysop`, `bureaucrat`); `*`, `user` and (with 10 edits)
    /// `autoconfirmed` are implicit.
    pub groups: Vec<String>,
}

impl MockUser {
    /// An established account: 42 edits (so autoconfirmed), a confirmed email.
    pub fn new(username: &str) -> Self {
        let id = username.bytes().fold(7u64, |acc, b| {
            acc.wrapping_mul(31).wrapping_add(u64::from(b))
        }) % 90_000_000
            + 10_000_000;
        MockUser {
            username: username.to_owned(),
            central_id: id,
            editcount: 42,
            confirmed_email: true,
            email: format!(
                "{}@wiki.example",
                username.to_ascii_lowercase().replace(' ', ".")
            ),
            realname: username.to_owned(),
            blocked: false,
            locked: false,
            hidden: false,
            registered: "20190412093000".to_owned(),
            groups: Vec::new(),
        }
    }

    /// Adds an explicit group.
    pub fn group(mut self, group: &str) -> Self {
        self.groups.push(group.to_owned());
        self
    }

    /// Sets the edit count (below 10: not autoconfirmed).
    pub fn editcount(mut self, editcount: u64) -> Self {
        self.editcount = editcount;
        self
    }

    /// Sets whether the email is confirmed.
    pub fn confirmed_email(mut self, confirmed: bool) -> Self {
        self.confirmed_email = confirmed;
        self
    }

    /// A globally locked account.
    pub fn locked(mut self) -> Self {
        self.locked = true;
        self
    }

    /// An account blocked on the wiki.
    pub fn blocked(mut self) -> Self {
        self.blocked = true;
        self
    }

    /// A hidden (suppressed) account.
    pub fn hidden(mut self) -> Self {
        self.hidden = true;
        self
    }

    /// The effective groups, as `UserGroupManager::getUserEffectiveGroups` lists them.
    pub fn effective_groups(&self) -> Vec<String> {
        let mut groups = vec!["*".to_owned(), "user".to_owned()];
        if self.editcount >= 10 {
            groups.push("autoconfirmed".to_owned());
        }
        for group in &self.groups {
            if !groups.contains(group) {
                groups.push(group.clone());
            }
        }
        groups
    }

    /// The rights of the effective groups (a small part of a real wiki's).
    pub fn rights(&self) -> Vec<String> {
        let mut rights: Vec<&str> = vec!["read", "edit", "createtalk", "viewmywatchlist"];
        let groups = self.effective_groups();
        if groups.iter().any(|g| g == "autoconfirmed") {
            rights.extend(["move", "upload", "autoconfirmed"]);
        }
        if groups.iter().any(|g| g == "sysop") {
            rights.extend(["block", "delete", "protect", "editinterface"]);
        }
        if groups.iter().any(|g| g == "bureaucrat") {
            rights.extend(["userrights", "renameuser"]);
        }
        let mut seen = Vec::new();
        for right in rights {
            if !seen.iter().any(|r: &String| r == right) {
                seen.push(right.to_owned());
            }
        }
        seen
    }
}

/// Configures a mock before it starts.
#[derive(Default)]
pub struct MediaWikiMock {
    consumers: Vec<MockConsumer>,
    users: Vec<MockUser>,
    auto_approve: Option<String>,
    canonical_server: Option<String>,
    clock: Option<Arc<dyn Clock>>,
    tls: Option<MockTls>,
}

impl std::fmt::Debug for MediaWikiMock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaWikiMock")
            .field("consumers", &self.consumers.len())
            .field("users", &self.users.len())
            .field("auto_approve", &self.auto_approve)
            .finish_non_exhaustive()
    }
}

impl MediaWikiMock {
    /// An empty configuration.
    pub fn builder() -> Self {
        MediaWikiMock::default()
    }

    /// Registers a consumer.
    pub fn consumer(mut self, consumer: MockConsumer) -> Self {
        self.consumers.push(consumer);
        self
    }

    /// Adds an account.
    pub fn user(mut self, user: MockUser) -> Self {
        self.users.push(user);
        self
    }

    /// Has this user logged in at the wiki and approve every request without a page;
    /// `None` shows a page to pick a user.
    pub fn auto_approve(mut self, username: Option<&str>) -> Self {
        self.auto_approve = username.map(str::to_owned);
        self
    }

    /// `$wgCanonicalServer`, the identity's `iss` (default: the mock's origin).
    pub fn canonical_server(mut self, server: &str) -> Self {
        self.canonical_server = Some(server.to_owned());
        self
    }

    /// The wiki's clock (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Serves HTTPS with this certificate.
    pub fn tls(mut self, tls: MockTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Starts serving on 127.0.0.1 on a free port.
    ///
    /// # Errors
    /// When the port cannot be bound or a consumer is invalid.
    pub async fn start(self) -> Result<MockHandle, DevIdpError> {
        let clients = self
            .consumers
            .iter()
            .map(|c| Client::confidential(&c.key, &c.secret, &c.callback_url))
            .collect();
        let mut options = MockServerOptions {
            clients,
            tls: self.tls,
            ..MockServerOptions::default()
        };
        if let Some(clock) = self.clock {
            options.clock = clock;
        }
        let consumers = self
            .consumers
            .into_iter()
            .map(|c| (c.key.clone(), c))
            .collect();
        let users = self
            .users
            .into_iter()
            .map(|u| (u.username.clone(), u))
            .collect();
        let auto_approve = self.auto_approve;
        let canonical_server = self.canonical_server;
        let server = MockServer::start_with(options, move |_addr| {
            Ok((
                MediaWiki { canonical_server },
                WikiState {
                    consumers,
                    users,
                    auto_approve,
                    ..WikiState::default()
                },
            ))
        })
        .await?;
        Ok(MockHandle { server })
    }
}

/// The MediaWiki personality.
#[derive(Debug, Clone, Default)]
pub struct MediaWiki {
    canonical_server: Option<String>,
}

/// A request token and what became of it.
#[derive(Debug, Clone)]
pub(crate) struct RequestGrant {
    consumer: String,
    secret: String,
    /// The callback given at initiate; taken (once) at approval.
    callback: Option<String>,
    verifier: Option<String>,
    /// The access token it leads to, once approved.
    access: Option<String>,
    used: bool,
}

/// A user's acceptance of a consumer: its access token.
#[derive(Debug, Clone)]
pub(crate) struct Acceptance {
    consumer: String,
    user: String,
    secret: String,
    grants: Vec<String>,
}

/// What the MediaWiki mock keeps.
#[derive(Debug, Default)]
pub struct WikiState {
    consumers: BTreeMap<String, MockConsumer>,
    users: BTreeMap<String, MockUser>,
    auto_approve: Option<String>,
    request_tokens: Grants<RequestGrant>,
    access_tokens: Grants<Acceptance>,
    /// (consumer, token, nonce) -> until when it is remembered.
    nonces: HashMap<(String, String, String), i64>,
    page_faults: Faults<Page>,
    tamper: Vec<IdentityTamper>,
}

impl Personality for MediaWiki {
    type Endpoint = Endpoint;
    type State = WikiState;
    const NAME: &'static str = "MediaWiki";

    fn endpoint(&self, path: &str) -> Option<Endpoint> {
        if path == INDEX_PATH {
            Some(Endpoint::Index)
        } else if path.starts_with(WIKI_PATH_PREFIX) {
            Some(Endpoint::Wiki)
        } else {
            None
        }
    }

    fn routes(&self) -> Router<Mock<Self>> {
        Router::new()
            .route(INDEX_PATH, get(handlers::index).post(handlers::index))
            .route("/wiki/{*page}", get(handlers::article))
    }
}

/// A running mock: the framework's controls ([`MockServer`], through `Deref`) and the
/// wiki's own. Dropping it stops the server.
#[derive(Debug)]
pub struct MockHandle {
    server: MockServer<MediaWiki>,
}

impl Deref for MockHandle {
    type Target = MockServer<MediaWiki>;

    fn deref(&self) -> &MockServer<MediaWiki> {
        &self.server
    }
}

impl MockHandle {
    /// `index.php`'s URL (Wikimedia's `https://meta.wikimedia.org/w/index.php`).
    pub fn index_url(&self) -> String {
        format!("{}{INDEX_PATH}", self.server.origin())
    }

    /// `mw_index_url` pointing at this mock, as a TOML line.
    pub fn toml_urls(&self) -> String {
        format!("mw_index_url = \"{}\"\n", self.index_url())
    }

    /// Queues a fault for the next request to one page (the others answer normally).
    pub fn fail_next_page(&self, page: Page, fault: Fault) {
        self.server.lock().state.page_faults.push(page, fault);
    }

    /// Makes the next identity JWTs wrong, one tamper each.
    pub fn tamper_next_identity(&self, tamper: IdentityTamper) {
        self.server.lock().state.tamper.push(tamper);
    }

    /// How many requests named a page (faulted ones included).
    pub fn page_count(&self, page: Page) -> usize {
        self.server
            .requests()
            .iter()
            .filter(|request| {
                request
                    .query
                    .iter()
                    .chain(request.form.iter())
                    .find(|(key, _)| key == "title")
                    .and_then(|(_, title)| Page::from_title(title))
                    .or_else(|| {
                        request
                            .path
                            .strip_prefix(WIKI_PATH_PREFIX)
                            .and_then(Page::from_title)
                    })
                    == Some(page)
            })
            .count()
    }

    /// Changes which user is logged in at the wiki and approves (`None`: a page to pick).
    pub fn set_auto_approve(&self, username: Option<&str>) {
        self.server.lock().state.auto_approve = username.map(str::to_owned);
    }

    /// Changes an account.
    pub fn update_user(&self, username: &str, change: impl FnOnce(&mut MockUser)) {
        if let Some(user) = self.server.lock().state.users.get_mut(username) {
            change(user);
        }
    }

    /// The user revokes every grant of theirs (Special:OAuthManageMyGrants): their access
    /// tokens stop working.
    pub fn revoke_grants(&self, username: &str) {
        self.server
            .lock()
            .state
            .access_tokens
            .revoke_where(|acceptance| acceptance.user == username);
    }

    /// The live access tokens (key and user).
    pub fn access_tokens(&self) -> Vec<(String, String)> {
        let now = self.server.now();
        let core = self.server.lock();
        core.state
            .access_tokens
            .live(now)
            .map(|(key, acceptance)| (key.to_owned(), acceptance.user.clone()))
            .collect()
    }

    /// The request tokens issued and not yet exchanged.
    pub fn pending_request_tokens(&self) -> Vec<String> {
        let now = self.server.now();
        let core = self.server.lock();
        core.state
            .request_tokens
            .live(now)
            .filter(|(_, grant)| !grant.used)
            .map(|(key, _)| key.to_owned())
            .collect()
    }

    /// The secret of a request token (a test control: to check it never reaches the
    /// browser).
    pub fn request_token_secret(&self, key: &str) -> Option<String> {
        let now = self.server.now();
        let core = self.server.lock();
        core.state
            .request_tokens
            .get(key, now)
            .map(|grant| grant.secret.clone())
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// Starts a mock for `hubauth demo --provider mediawiki`: consumer `hubauth-demo` for
/// `hub_callback` (as a prefix), users `Alice` (an autoconfirmed editor), `Admin` (in the
/// `sysop` group: an admin), `Bob` (a new account with 3 edits, not autoconfirmed:
/// refused) and `Mallory` (a locked account: the wiki refuses her identity). Returns the
/// mock and the complete `[MWOAuthenticator]` table (header included) to append to the
/// demo config.
///
/// # Errors
/// When the mock cannot start.
pub async fn start_demo_mock(hub_callback: &str) -> Result<(MockHandle, String), DevIdpError> {
    let secret = random_token(24);
    let mock = MediaWikiMock::builder()
        .consumer(MockConsumer::new("hubauth-demo", &secret, hub_callback))
        .user(MockUser::new("Alice"))
        .user(MockUser::new("Admin").group("sysop"))
        .user(MockUser::new("Bob").editcount(3))
        .user(MockUser::new("Mallory").locked())
        .start()
        .await?;
    let table = format!(
        "[MWOAuthenticator]\n# The MediaWiki mock (hubauth_mediawiki::mock) stands in for a wiki such as meta.wikimedia.org.\nclient_id = \"hubauth-demo\"\nclient_secret = \"{secret}\"\noauth_callback_url = \"{hub_callback}\"\n{urls}manage_groups = true\nauth_state_groups_key = \"MEDIAWIKI_USER_IDENTITY.groups\"\nallowed_groups = [\"autoconfirmed\"]\nadmin_groups = [\"sysop\"]\n",
        urls = mock.toml_urls(),
    );
    Ok((mock, table))
}
