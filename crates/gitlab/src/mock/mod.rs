//! A mock of GitLab, for tests and demos (loopback only): GitLab as an OAuth 2.0 (and
//! OpenID Connect) provider, and the parts of its REST API v4 a hub uses.
//!
//! What it models, and the GitLab documentation page each behaviour comes from:
//!
//! - **OAuth 2.0 provider** (<https://docs.gitlab.com/api/oauth2/>, built on the
//!   Doorkeeper gem; <https://docs.gitlab.com/integration/oauth_provider/>):
//!   - `GET /oauth/authorize`: the authorization code flow, with PKCE S256 when a
//!     `code_challenge` is sent. `scope` is space-separated; without one GitLab grants its
//!     default scope, `api` (Doorkeeper's `default_scopes`, GitLab's
//!     `Gitlab::Auth::DEFAULT_SCOPES`), and a scope the application was not registered
//!     with is refused with `error=invalid_scope` back at the redirect URI. A trusted
//!     application skips the consent page ([`GitLabMock::auto_approve`]); otherwise a page
//!     lets the visitor pick a user. Codes live ten minutes (Doorkeeper's default).
//!   - `POST /oauth/token`: `authorization_code` and `refresh_token` grants. The client
//!     authenticates with HTTP Basic or in the body (Doorkeeper reads Basic first, then
//!     the parameters). The answer has `access_token`, `token_type`, `expires_in` (7200:
//!     "Access tokens expire after two hours", not configurable), `refresh_token`,
//!     `scope` and `created_at`, plus an `id_token` with `openid`. A refresh "invalidates
//!     the existing access_token and refresh_token" and sends new ones (rotation); refresh
//!     tokens do not expire by time. Errors are RFC 6749 5.2 JSON (`invalid_grant` 400,
//!     `invalid_client` 401).
//!   - `POST /oauth/revoke` (client-authenticated; 200 and `{}`), `GET /oauth/token/info`
//!     (Doorkeeper's token introspection: `resource_owner_id`, `scope`, `expires_in`,
//!     `application.uid`, `created_at`).
//!   - OpenID Connect (<https://docs.gitlab.com/integration/openid_connect_provider/>):
//!     with `openid` an RS256 `id_token` (`sub` = the user id, `nonce`, `nickname`,
//!     `preferred_username`, `email` with `email`), `GET /oauth/userinfo`,
//!     `GET /oauth/discovery/keys` and `GET /.well-known/openid-configuration`.
//! - **REST API v4** (<https://docs.gitlab.com/api/rest/>): a token in
//!   `Authorization: Bearer` or the `access_token` query parameter
//!   (<https://docs.gitlab.com/api/oauth2/#access-gitlab-api-with-access-token>);
//!   `401 {"message":"401 Unauthorized"}` without a valid token, and
//!   `401 {"error":"invalid_token",...}` for an expired or revoked OAuth token, with a
//!   `WWW-Authenticate: Bearer` header (GitLab's API guard); `403
//!   {"error":"insufficient_scope",...}` when the token's scopes do not cover the
//!   endpoint: `read_user` covers only `GET /user`, `read_api` (GET) and `api` cover
//!   everything (the scope table of the OAuth provider page); 403 for a blocked user.
//!   - `GET /api/v4/user` (<https://docs.gitlab.com/api/users/>): the current user.
//!   - `GET /api/v4/version` (<https://docs.gitlab.com/api/version/>):
//!     `{"version": "17.5.1-ee", "revision": ...}` ([`MockHandle::set_version`]).
//!   - `GET /api/v4/groups` (<https://docs.gitlab.com/api/groups/>): the groups visible
//!     to the user, `min_access_level` to keep those where they have at least that role.
//!   - Members (<https://docs.gitlab.com/api/members/>): `GET
//!     /api/v4/{groups,projects}/:id/members[/all]` (lists) and
//!     `.../members[/all]/:user_id` (one member). `:id` is the numeric id or the
//!     URL-encoded full path (<https://docs.gitlab.com/api/rest/#namespaced-paths>: the
//!     `/` of a subgroup as `%2F`; anything else, such as the double-encoded `%252F`,
//!     names no group). `/all` includes membership inherited from ancestor groups, with
//!     the highest `access_level` (Guest 10, Reporter 20, Developer 30, Maintainer 40,
//!     Owner 50); a project inherits its namespace's members. Someone who is not a member
//!     gets `404 {"message":"404 Not found"}`; a group or project the token's user cannot
//!     see, `404 Group Not Found` / `404 Project Not Found`. A membership awaiting
//!     approval has `membership_state: "awaiting"`. `user_id` must be an integer (400).
//!   - Pagination (<https://docs.gitlab.com/api/rest/#pagination>): `page` (default 1) and
//!     `per_page` (default 20, at most 100), answered with `x-page`, `x-per-page`,
//!     `x-total`, `x-total-pages`, `x-next-page`, `x-prev-page` and a `Link` header with
//!     `prev`, `next`, `first` and `last`.
//!
//! It is a personality of the provider mock framework (`hubauth_devidp::mock`), which
//! serves it, records and counts requests (secrets redacted), injects faults and outages
//! per [`Endpoint`], and runs the authorization code grant's shared checks. Tests steer it
//! through [`MockHandle`]: group and project memberships, blocked users, the version,
//! expired or revoked tokens.

mod api;
mod oauth;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Deref;

use axum::Router;
use axum::routing::{get, post};
use hubauth_devidp::DevIdpError;
use hubauth_devidp::mock::{
    Client, CodeGrant, Grants, Mock, MockServer, MockServerOptions, Personality,
};

pub use hubauth_devidp::mock::Fault;

const AUTHORIZE_PATH: &str = "/oauth/authorize";
const TOKEN_PATH: &str = "/oauth/token";
const REVOKE_PATH: &str = "/oauth/revoke";
const TOKEN_INFO_PATH: &str = "/oauth/token/info";
const USERINFO_PATH: &str = "/oauth/userinfo";
const JWKS_PATH: &str = "/oauth/discovery/keys";
const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
const API_PREFIX: &str = "/api/v4";

/// Access tokens live two hours.
pub const ACCESS_TTL: i64 = 7200;
/// Refresh tokens do not expire by time; ten years stand in for that.
const REFRESH_TTL: i64 = 10 * 365 * 24 * 3600;
/// Authorization codes live ten minutes.
const CODE_TTL: i64 = 600;
/// The scopes GitLab knows (the OAuth provider page's table).
const KNOWN_SCOPES: &[&str] = &[
    "api",
    "read_api",
    "read_user",
    "create_runner",
    "manage_runner",
    "k8s_proxy",
    "read_repository",
    "write_repository",
    "read_registry",
    "write_registry",
    "read_virtual_registry",
    "write_virtual_registry",
    "read_observability",
    "write_observability",
    "ai_features",
    "sudo",
    "admin_mode",
    "read_service_ping",
    "openid",
    "profile",
    "email",
];

/// An endpoint of the mock, for faults, outages and counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `/oauth/authorize`
    Authorize,
    /// `/oauth/token`
    Token,
    /// `/oauth/revoke`
    Revoke,
    /// `/oauth/token/info`
    TokenInfo,
    /// `/oauth/userinfo`
    OidcUserInfo,
    /// `/oauth/discovery/keys`
    Jwks,
    /// `/.well-known/openid-configuration`
    Discovery,
    /// `/api/v4/user`
    User,
    /// `/api/v4/version`
    Version,
    /// `/api/v4/groups`
    Groups,
    /// `/api/v4/groups/:id/members...`
    GroupMembers,
    /// `/api/v4/projects/:id/members...`
    ProjectMembers,
    /// Any other `/api/v4/...` path.
    OtherApi,
}

/// Who may see a group or project without being a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Anyone.
    Public,
    /// Any signed-in user.
    Internal,
    /// Members only (of it, of an ancestor, or of something inside it).
    Private,
}

impl Visibility {
    fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Internal => "internal",
            Visibility::Private => "private",
        }
    }
}

/// Access levels (roles), as GitLab numbers them.
pub mod access {
    /// Minimal access.
    pub const MINIMAL: i64 = 5;
    /// Guest.
    pub const GUEST: i64 = 10;
    /// Reporter.
    pub const REPORTER: i64 = 20;
    /// Developer.
    pub const DEVELOPER: i64 = 30;
    /// Maintainer.
    pub const MAINTAINER: i64 = 40;
    /// Owner.
    pub const OWNER: i64 = 50;
}

/// A GitLab user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockUser {
    /// The user id.
    pub id: u64,
    /// `username` (what the hub names the user by).
    pub username: String,
    /// Display name.
    pub name: String,
    /// Primary email.
    pub email: String,
    /// Blocked by an administrator: no login, no API.
    pub blocked: bool,
}

impl MockUser {
    /// A user `username` with this id, `username@example.org` as email.
    pub fn new(id: u64, username: &str) -> Self {
        MockUser {
            id,
            username: username.to_owned(),
            name: capitalized(username),
            email: format!("{username}@example.org"),
            blocked: false,
        }
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// One membership of a group or project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MockMember {
    /// The role.
    pub access_level: i64,
    /// Awaiting approval (GitLab's user cap): listed, but grants no access.
    pub awaiting: bool,
}

/// A GitLab group (or subgroup).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockGroup {
    /// The group id.
    pub id: u64,
    /// The full path (`physics/hpc`).
    pub full_path: String,
    /// The display name.
    pub name: String,
    /// Who may see it.
    pub visibility: Visibility,
    /// Direct members by user id.
    pub members: BTreeMap<u64, MockMember>,
}

impl MockGroup {
    /// A private group with this full path (its parents are the groups whose full paths
    /// are its prefixes).
    pub fn new(id: u64, full_path: &str) -> Self {
        let own = full_path.rsplit('/').next().unwrap_or(full_path);
        MockGroup {
            id,
            full_path: full_path.to_owned(),
            name: capitalized(own),
            visibility: Visibility::Private,
            members: BTreeMap::new(),
        }
    }

    /// Sets the visibility.
    pub fn visibility(mut self, visibility: Visibility) -> Self {
        self.visibility = visibility;
        self
    }

    /// Adds a direct member with a role.
    pub fn member(mut self, user: u64, access_level: i64) -> Self {
        self.members.insert(
            user,
            MockMember {
                access_level,
                awaiting: false,
            },
        );
        self
    }

    /// Adds a membership awaiting approval.
    pub fn awaiting(mut self, user: u64, access_level: i64) -> Self {
        self.members.insert(
            user,
            MockMember {
                access_level,
                awaiting: true,
            },
        );
        self
    }

    fn path(&self) -> &str {
        self.full_path.rsplit('/').next().unwrap_or(&self.full_path)
    }

    fn parent_path(&self) -> Option<&str> {
        self.full_path.rsplit_once('/').map(|(parent, _)| parent)
    }
}

/// A GitLab project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockProject {
    /// The project id.
    pub id: u64,
    /// `namespace/project` (`physics/hpc/simulator`).
    pub path_with_namespace: String,
    /// Who may see it.
    pub visibility: Visibility,
    /// Direct members by user id.
    pub members: BTreeMap<u64, MockMember>,
}

impl MockProject {
    /// A private project; its namespace is the group whose full path prefixes it.
    pub fn new(id: u64, path_with_namespace: &str) -> Self {
        MockProject {
            id,
            path_with_namespace: path_with_namespace.to_owned(),
            visibility: Visibility::Private,
            members: BTreeMap::new(),
        }
    }

    /// Sets the visibility.
    pub fn visibility(mut self, visibility: Visibility) -> Self {
        self.visibility = visibility;
        self
    }

    /// Adds a direct member with a role.
    pub fn member(mut self, user: u64, access_level: i64) -> Self {
        self.members.insert(
            user,
            MockMember {
                access_level,
                awaiting: false,
            },
        );
        self
    }

    fn namespace(&self) -> Option<&str> {
        self.path_with_namespace
            .rsplit_once('/')
            .map(|(namespace, _)| namespace)
    }
}

/// Configures a mock before it starts.
#[derive(Debug, Default)]
pub struct GitLabMock {
    clients: Vec<Client>,
    app_scopes: HashMap<String, Vec<String>>,
    users: Vec<MockUser>,
    groups: Vec<MockGroup>,
    projects: Vec<MockProject>,
    auto_approve: Option<String>,
    version: Option<String>,
}

impl GitLabMock {
    /// An empty configuration.
    pub fn builder() -> Self {
        GitLabMock::default()
    }

    /// Registers an OAuth application (a confidential client) with one redirect URI and
    /// the scopes it was registered with.
    pub fn application(
        mut self,
        id: &str,
        secret: &str,
        redirect_uri: &str,
        scopes: &[&str],
    ) -> Self {
        self.clients
            .push(Client::confidential(id, secret, redirect_uri));
        self.app_scopes.insert(
            id.to_owned(),
            scopes.iter().map(|scope| (*scope).to_owned()).collect(),
        );
        self
    }

    /// Adds a user.
    pub fn user(mut self, user: MockUser) -> Self {
        self.users.push(user);
        self
    }

    /// Adds a group.
    pub fn group(mut self, group: MockGroup) -> Self {
        self.groups.push(group);
        self
    }

    /// Adds a project.
    pub fn project(mut self, project: MockProject) -> Self {
        self.projects.push(project);
        self
    }

    /// Approves every authorization request as this user (by username) without a page,
    /// as GitLab does for a trusted application whose user is signed in; `None` shows
    /// the user picker.
    pub fn auto_approve(mut self, username: Option<&str>) -> Self {
        self.auto_approve = username.map(str::to_owned);
        self
    }

    /// The version `GET /version` answers (default `17.5.1-ee`).
    pub fn version(mut self, version: &str) -> Self {
        self.version = Some(version.to_owned());
        self
    }

    /// Starts serving on 127.0.0.1 on a free port.
    ///
    /// # Errors
    /// When the port cannot be bound or an application is invalid.
    pub async fn start(self) -> Result<MockHandle, DevIdpError> {
        let state = GitLabState {
            users: self.users.into_iter().map(|u| (u.id, u)).collect(),
            groups: self.groups.into_iter().map(|g| (g.id, g)).collect(),
            projects: self.projects.into_iter().map(|p| (p.id, p)).collect(),
            app_scopes: self.app_scopes,
            auto_approve: self.auto_approve,
            version: self.version.unwrap_or_else(|| DEFAULT_VERSION.to_owned()),
            ..GitLabState::default()
        };
        let options = MockServerOptions {
            clients: self.clients,
            ..MockServerOptions::default()
        };
        let server = MockServer::start(GitLabService, state, options).await?;
        Ok(MockHandle { server })
    }
}

/// The version the mock reports unless told otherwise.
pub const DEFAULT_VERSION: &str = "17.5.1-ee";

/// The GitLab personality.
#[derive(Debug, Clone, Copy, Default)]
pub struct GitLabService;

/// An issued access or refresh token.
#[derive(Debug, Clone)]
struct Issued {
    user: u64,
    client_id: String,
    scopes: Vec<String>,
    created_at: i64,
    /// The other token of the pair issued together (a refresh invalidates both).
    pair: String,
}

/// What the GitLab mock keeps.
#[derive(Debug, Default)]
pub struct GitLabState {
    users: BTreeMap<u64, MockUser>,
    groups: BTreeMap<u64, MockGroup>,
    projects: BTreeMap<u64, MockProject>,
    app_scopes: HashMap<String, Vec<String>>,
    auto_approve: Option<String>,
    version: String,
    codes: Grants<CodeGrant<()>>,
    access: Grants<Issued>,
    refresh: Grants<Issued>,
    revoked: HashSet<String>,
    forge_id_tokens: bool,
}

impl GitLabState {
    fn user_named(&self, username: &str) -> Option<&MockUser> {
        self.users.values().find(|user| user.username == username)
    }

    fn group_by_path(&self, full_path: &str) -> Option<&MockGroup> {
        self.groups
            .values()
            .find(|group| group.full_path.eq_ignore_ascii_case(full_path))
    }

    /// A group's ancestors and itself, outermost first.
    fn lineage(&self, full_path: &str) -> Vec<&MockGroup> {
        let mut prefixes = Vec::new();
        let mut end = 0;
        for (index, c) in full_path.char_indices() {
            if c == '/' {
                prefixes.push(&full_path[..index]);
            }
            end = index + c.len_utf8();
        }
        prefixes.push(&full_path[..end]);
        prefixes
            .into_iter()
            .filter_map(|prefix| self.group_by_path(prefix))
            .collect()
    }

    /// The membership of `user` in a group (`inherited`: also through its ancestors),
    /// the highest role when several apply.
    fn group_membership(
        &self,
        group: &MockGroup,
        user: u64,
        inherited: bool,
    ) -> Option<MockMember> {
        if !inherited {
            return group.members.get(&user).copied();
        }
        best(
            self.lineage(&group.full_path)
                .into_iter()
                .filter_map(|g| g.members.get(&user).copied()),
        )
    }

    fn project_membership(
        &self,
        project: &MockProject,
        user: u64,
        inherited: bool,
    ) -> Option<MockMember> {
        let direct = project.members.get(&user).copied();
        if !inherited {
            return direct;
        }
        let from_groups = project
            .namespace()
            .map(|namespace| self.lineage(namespace))
            .unwrap_or_default()
            .into_iter()
            .filter_map(|g| g.members.get(&user).copied());
        best(direct.into_iter().chain(from_groups))
    }

    /// Whether `user` may see a group: not private, or a member of it, an ancestor, or a
    /// descendant.
    fn group_visible(&self, group: &MockGroup, user: u64) -> bool {
        if group.visibility != Visibility::Private
            || self.group_membership(group, user, true).is_some()
        {
            return true;
        }
        let prefix = format!("{}/", group.full_path.to_ascii_lowercase());
        self.groups.values().any(|other| {
            other.full_path.to_ascii_lowercase().starts_with(&prefix)
                && other.members.contains_key(&user)
        }) || self.projects.values().any(|project| {
            project
                .path_with_namespace
                .to_ascii_lowercase()
                .starts_with(&prefix)
                && project.members.contains_key(&user)
        })
    }

    fn project_visible(&self, project: &MockProject, user: u64) -> bool {
        project.visibility != Visibility::Private
            || self.project_membership(project, user, true).is_some()
    }
}

/// The active membership with the highest role, else an awaiting one.
fn best(members: impl Iterator<Item = MockMember>) -> Option<MockMember> {
    members.max_by_key(|m| (!m.awaiting, m.access_level))
}

impl Personality for GitLabService {
    type Endpoint = Endpoint;
    type State = GitLabState;
    const NAME: &'static str = "GitLab";

    fn endpoint(&self, path: &str) -> Option<Endpoint> {
        match path {
            AUTHORIZE_PATH => return Some(Endpoint::Authorize),
            TOKEN_PATH => return Some(Endpoint::Token),
            REVOKE_PATH => return Some(Endpoint::Revoke),
            TOKEN_INFO_PATH => return Some(Endpoint::TokenInfo),
            USERINFO_PATH => return Some(Endpoint::OidcUserInfo),
            JWKS_PATH => return Some(Endpoint::Jwks),
            DISCOVERY_PATH => return Some(Endpoint::Discovery),
            _ => {}
        }
        let rest = path.strip_prefix(API_PREFIX)?;
        Some(match rest {
            "/user" => Endpoint::User,
            "/version" => Endpoint::Version,
            "/groups" => Endpoint::Groups,
            _ if rest.starts_with("/groups/") && rest.contains("/members") => {
                Endpoint::GroupMembers
            }
            _ if rest.starts_with("/projects/") && rest.contains("/members") => {
                Endpoint::ProjectMembers
            }
            _ => Endpoint::OtherApi,
        })
    }

    fn routes(&self) -> Router<Mock<Self>> {
        Router::new()
            .route(
                AUTHORIZE_PATH,
                get(oauth::authorize).post(oauth::authorize_pick),
            )
            .route(TOKEN_PATH, post(oauth::token))
            .route(REVOKE_PATH, post(oauth::revoke))
            .route(TOKEN_INFO_PATH, get(oauth::token_info))
            .route(USERINFO_PATH, get(oauth::userinfo).post(oauth::userinfo))
            .route(JWKS_PATH, get(oauth::jwks))
            .route(DISCOVERY_PATH, get(oauth::discovery))
            .route("/api/v4/user", get(api::current_user))
            .route("/api/v4/version", get(api::version))
            .route("/api/v4/groups", get(api::groups))
            .route("/api/v4/groups/{id}/members", get(api::group_members))
            .route(
                "/api/v4/groups/{id}/members/all",
                get(api::group_members_all),
            )
            .route(
                "/api/v4/groups/{id}/members/{user_id}",
                get(api::group_member),
            )
            .route(
                "/api/v4/groups/{id}/members/all/{user_id}",
                get(api::group_member_all),
            )
            .route("/api/v4/projects/{id}/members", get(api::project_members))
            .route(
                "/api/v4/projects/{id}/members/all",
                get(api::project_members_all),
            )
            .route(
                "/api/v4/projects/{id}/members/{user_id}",
                get(api::project_member),
            )
            .route(
                "/api/v4/projects/{id}/members/all/{user_id}",
                get(api::project_member_all),
            )
            .fallback(api::not_found)
    }
}

/// A running mock: the framework's controls ([`MockServer`], through `Deref`) and
/// GitLab's own. Dropping it stops the server.
#[derive(Debug)]
pub struct MockHandle {
    server: MockServer<GitLabService>,
}

impl Deref for MockHandle {
    type Target = MockServer<GitLabService>;

    fn deref(&self) -> &MockServer<GitLabService> {
        &self.server
    }
}

impl MockHandle {
    /// `http://127.0.0.1:PORT`: what `gitlab_url` is set to.
    pub fn gitlab_url(&self) -> String {
        self.server.origin().to_owned()
    }

    /// `{gitlab_url}/api/v4`.
    pub fn api_url(&self) -> String {
        format!("{}{API_PREFIX}", self.server.origin())
    }

    /// The token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}{TOKEN_PATH}", self.server.origin())
    }

    /// The ID tokens' key set (`/oauth/discovery/keys`).
    pub fn jwks_url(&self) -> String {
        format!("{}{JWKS_PATH}", self.server.origin())
    }

    /// Changes which user auto-approve logs in.
    pub fn set_auto_approve(&self, username: Option<&str>) {
        self.server.lock().state.auto_approve = username.map(str::to_owned);
    }

    /// Changes the version `GET /version` answers.
    pub fn set_version(&self, version: &str) {
        self.server.lock().state.version = version.to_owned();
    }

    /// Makes `user` a direct member of the group with this full path (`None`: removes
    /// them).
    pub fn set_group_member(&self, group: &str, user: u64, access_level: Option<i64>) {
        let mut core = self.server.lock();
        if let Some(found) = core
            .state
            .groups
            .values_mut()
            .find(|g| g.full_path == group)
        {
            match access_level {
                Some(level) => {
                    found.members.insert(
                        user,
                        MockMember {
                            access_level: level,
                            awaiting: false,
                        },
                    );
                }
                None => {
                    found.members.remove(&user);
                }
            }
        }
    }

    /// Sets (or, with `None`, removes) `user`'s direct role in a project.
    pub fn set_project_member(&self, project: u64, user: u64, access_level: Option<i64>) {
        let mut core = self.server.lock();
        if let Some(found) = core.state.projects.get_mut(&project) {
            match access_level {
                Some(level) => {
                    found.members.insert(
                        user,
                        MockMember {
                            access_level: level,
                            awaiting: false,
                        },
                    );
                }
                None => {
                    found.members.remove(&user);
                }
            }
        }
    }

    /// Blocks (or unblocks) a user: no login and no API access.
    pub fn set_blocked(&self, username: &str, blocked: bool) {
        let mut core = self.server.lock();
        if let Some(user) = core
            .state
            .users
            .values_mut()
            .find(|u| u.username == username)
        {
            user.blocked = blocked;
        }
    }

    /// Revokes every token of a user, as when they revoke the application's access in
    /// their GitLab settings.
    pub fn revoke_user_tokens(&self, username: &str) {
        let now = self.server.now();
        let mut core = self.server.lock();
        let state = &mut core.state;
        let Some(id) = state.user_named(username).map(|u| u.id) else {
            return;
        };
        let tokens: Vec<String> = state
            .access
            .live(now)
            .chain(state.refresh.live(now))
            .filter(|(_, issued)| issued.user == id)
            .map(|(token, _)| token.to_owned())
            .collect();
        for token in tokens {
            state.access.revoke(&token, now);
            state.refresh.revoke(&token, now);
            state.revoked.insert(token);
        }
    }

    /// Makes every access token issued so far expire now (refresh tokens keep working),
    /// as two hours passing would.
    pub fn expire_access_tokens(&self) {
        let now = self.server.now();
        self.server.lock().state.access.expire_all(now);
    }

    /// Signs later ID tokens with an attacker's key under the real key's id.
    pub fn forge_id_tokens(&self, on: bool) {
        self.server.lock().state.forge_id_tokens = on;
    }

    /// The live access tokens of a user.
    pub fn live_access_tokens(&self, username: &str) -> Vec<String> {
        let now = self.server.now();
        let core = self.server.lock();
        let state = &core.state;
        let Some(id) = state.user_named(username).map(|u| u.id) else {
            return Vec::new();
        };
        state
            .access
            .live(now)
            .filter(|(_, issued)| issued.user == id)
            .map(|(token, _)| token.to_owned())
            .collect()
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// The demo's group, whose members may log in.
pub const DEMO_GROUP: &str = "demo-lab";
/// The demo's project, whose Developers may log in.
pub const DEMO_PROJECT: u64 = 4242;

/// Starts a mock for `hubauth demo --provider gitlab`: application `hubauth-demo` for
/// `hub_callback` (scopes `read_user read_api`), users `alice` (Developer of the
/// `demo-lab/notebooks` subgroup, the allowed group), `admin` (Owner of `demo-lab`, so a
/// member of its subgroup by inheritance, and an admin by `admin_users`), `bob`
/// (Developer of project 4242: allowed by the project), `carol` (Guest of that project:
/// refused) and `mallory` (neither: refused).
/// Returns the mock and the complete `[GitLabOAuthenticator]` table (header included).
///
/// # Errors
/// When the mock cannot start.
pub async fn start_demo_mock(hub_callback: &str) -> Result<(MockHandle, String), DevIdpError> {
    let secret = format!("gloas-{}", hubauth_devidp::mock::random_token(24));
    let mock = GitLabMock::builder()
        .application(
            "hubauth-demo",
            &secret,
            hub_callback,
            &["read_user", "read_api"],
        )
        .user(MockUser::new(101, "alice"))
        .user(MockUser::new(102, "admin"))
        .user(MockUser::new(103, "bob"))
        .user(MockUser::new(104, "carol"))
        .user(MockUser::new(105, "mallory"))
        .group(MockGroup::new(10, DEMO_GROUP).member(102, access::OWNER))
        .group(MockGroup::new(11, "demo-lab/notebooks").member(101, access::DEVELOPER))
        .project(
            MockProject::new(DEMO_PROJECT, "tools/simulator")
                .member(103, access::DEVELOPER)
                .member(104, access::GUEST),
        )
        .group(MockGroup::new(12, "tools").visibility(Visibility::Public))
        .start()
        .await?;
    let table = format!(
        "[GitLabOAuthenticator]\n# The GitLab mock (hubauth_gitlab::mock) stands in for gitlab.com.\nclient_id = \"hubauth-demo\"\nclient_secret = \"{secret}\"\ngitlab_url = \"{url}\"\nscope = [\"read_user\", \"read_api\"]\nallowed_gitlab_groups = [\"demo-lab/notebooks\"]\nallowed_project_ids = [\"{DEMO_PROJECT}\"]\nadmin_users = [\"admin\"]\n",
        url = mock.gitlab_url(),
    );
    Ok((mock, table))
}
