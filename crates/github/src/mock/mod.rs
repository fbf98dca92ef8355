//! A mock of GitHub for tests and demos (loopback only): the OAuth web application flow
//! and the REST API endpoints a hub uses, as GitHub documents them.
//!
//! Each modelled behaviour cites the page it follows (GitHub Docs, <https://docs.github.com>):
//!
//! - **Authorization** (`GET /login/oauth/authorize`; "Authorizing OAuth apps",
//!   <https://docs.github.com/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps>):
//!   `redirect_uri` is optional (the registered callback URL is used without it); when
//!   given, its host (or a subdomain of it) and port must be the callback URL's and its
//!   path the callback path or below it, except that a loopback callback accepts any
//!   port ("Redirect URLs", "Loopback redirect urls"). A mismatch, a denial
//!   ("Troubleshooting authorization request errors",
//!   <https://docs.github.com/apps/oauth-apps/maintaining-oauth-apps/troubleshooting-authorization-request-errors>)
//!   goes back to the registered callback URL with `error`, `error_description`,
//!   `error_uri` and `state`. `scope` is a space-delimited list (commas are read too);
//!   codes live ten minutes. PKCE is optional and S256 only (changelog 2025-07-14,
//!   <https://github.blog/changelog/2025-07-14-pkce-support-for-oauth-and-github-app-authentication>).
//!   Without auto-approve a page lets the visitor pick a user or deny.
//! - **Token** (`POST /login/oauth/access_token`; same page, and "Troubleshooting OAuth
//!   app access token request errors",
//!   <https://docs.github.com/apps/oauth-apps/maintaining-oauth-apps/troubleshooting-oauth-app-access-token-request-errors>):
//!   `client_id`, `client_secret`, `code` and `redirect_uri` as parameters (the form body
//!   or the query string); no `grant_type` is needed for a code. The answer is
//!   form-encoded unless `Accept` asks for JSON. Errors are HTTP **200** with an `error`
//!   field: `incorrect_client_credentials`, `redirect_uri_mismatch`,
//!   `bad_verification_code`, `unverified_user_email` (a user whose primary email is not
//!   verified gets no token). An OAuth app's token (`gho_...`) does not expire and has the
//!   granted scopes, comma-separated and normalized ("Scopes for OAuth apps",
//!   <https://docs.github.com/apps/oauth-apps/building-oauth-apps/scopes-for-oauth-apps>:
//!   a scope another requested scope includes is dropped, unknown ones too). With
//!   [`GitHubMock::expiring_user_tokens`] the mock is a GitHub App with expiring user
//!   tokens ("Refreshing user access tokens",
//!   <https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/refreshing-user-access-tokens>):
//!   `ghu_` tokens with `expires_in` 28800, a `ghr_` `refresh_token` with
//!   `refresh_token_expires_in` 15811200, `scope` always empty; `grant_type=refresh_token`
//!   gives a new pair and ends the old refresh and access tokens; a bad one is
//!   `bad_refresh_token` (HTTP 200). A GitHub App's permissions are modelled by the scopes
//!   the client asked for.
//! - **The REST API** ("Getting started with the REST API" and "Troubleshooting the REST
//!   API", <https://docs.github.com/rest/using-the-rest-api/troubleshooting-the-rest-api>),
//!   at the origin's root as api.github.com, or under `/api/v3` as a GitHub Enterprise
//!   Server ([`GitHubMock::enterprise`]): the token as `Authorization: token ...` or
//!   `Bearer ...`; no token is 401 `Requires authentication`, a bad one 401 `Bad
//!   credentials`; a request without `User-Agent` is 403; an `X-GitHub-Api-Version` other
//!   than 2022-11-28 is 400; errors are `{"message", "documentation_url", "status"}`;
//!   answers carry `X-OAuth-Scopes` and `X-Accepted-OAuth-Scopes`; a token without the
//!   scope an endpoint needs gets 404, as GitHub answers for resources it will not confirm.
//!   Lists are paginated ("Using pagination in the REST API",
//!   <https://docs.github.com/rest/using-the-rest-api/using-pagination-in-the-rest-api>):
//!   `per_page` (default 30, at most 100) and `page`, and a `link` header with `prev`,
//!   `next`, `last` and `first`.
//!   - `GET /user` ("Get the authenticated user", <https://docs.github.com/rest/users/users#get-the-authenticated-user>):
//!     `login`, `id`, `name`, the public `email` (null when private), and the rest of the
//!     public profile.
//!   - `GET /user/emails` (<https://docs.github.com/rest/users/emails#list-email-addresses-for-the-authenticated-user>):
//!     needs `user:email` (or `user`); `email`, `primary`, `verified`, `visibility`.
//!   - `GET /user/teams` (<https://docs.github.com/rest/teams/teams#list-teams-for-the-authenticated-user>):
//!     needs `user`, `repo` or `read:org`; the teams the user is an active member of, each
//!     with its `organization`.
//!   - `GET /orgs/{org}/members/{username}` (<https://docs.github.com/rest/orgs/members#check-organization-membership-for-a-user>):
//!     204 when the requester is a member and so is the user, 404 when the requester is a
//!     member and the user is not, 302 to the public membership check when the requester
//!     is not a member, which is also what a token without `read:org` gets: private
//!     memberships are hidden from it. An unknown organization is 404.
//!   - `GET /orgs/{org}/public_members/{username}` (<https://docs.github.com/rest/orgs/members#check-public-organization-membership-for-a-user>):
//!     204 for a public member, else 404.
//!   - `GET /orgs/{org}/teams/{team_slug}/memberships/{username}` (<https://docs.github.com/rest/teams/members#get-team-membership-for-a-user>):
//!     for members of the organization with `read:org` ("Team members": OAuth tokens need
//!     read:org); 200 with `url`, `role` and `state` (`active`, or `pending` for an
//!     invitation not yet accepted); 404 without a membership.
//!
//! It is a personality of the provider mock framework (`hubauth_devidp::mock`): the
//! framework serves it, records and counts requests (secrets redacted), injects faults and
//! outages per [`Endpoint`], and keeps codes and tokens with their expiry.

mod handlers;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ops::Deref;

use axum::Router;
use axum::routing::{get, post};
use hubauth_devidp::DevIdpError;
use hubauth_devidp::mock::{
    Client, CodeGrant, Grants, Mock, MockServer, MockServerOptions, Personality,
};

/// A wrong answer an endpoint gives ([`MockServer::fail_next`]): the framework's fault
/// injection (`Status`, `Garbage`, `EmptyBody`, `Delay`).
pub use hubauth_devidp::mock::Fault;

/// The one REST API version the mock serves (`X-GitHub-Api-Version`).
pub const API_VERSION_SUPPORTED: &str = "2022-11-28";
/// The path prefix of a GitHub Enterprise Server's REST API.
pub const ENTERPRISE_API_PREFIX: &str = "/api/v3";
const AUTHORIZE_PATH: &str = "/login/oauth/authorize";
const TOKEN_PATH: &str = "/login/oauth/access_token";

/// An endpoint of the mock, for faults, outages and counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `GET /login/oauth/authorize`
    Authorize,
    /// `POST /login/oauth/access_token`
    Token,
    /// `GET {api}/user`
    User,
    /// `GET {api}/user/emails`
    Emails,
    /// `GET {api}/user/teams`
    Teams,
    /// `GET {api}/orgs/{org}/members/{username}`
    OrgMember,
    /// `GET {api}/orgs/{org}/public_members/{username}`
    PublicMember,
    /// `GET {api}/orgs/{org}/teams/{team_slug}/memberships/{username}`
    TeamMembership,
}

/// The state of a membership: `active`, or `pending` until the user accepts the
/// invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// A member.
    Active,
    /// Invited, not (yet) a member.
    Pending,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Active => "active",
            State::Pending => "pending",
        }
    }
}

/// A user's membership of an organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgMembership {
    /// The organization's login.
    pub org: String,
    /// Whether the user made the membership public.
    pub public: bool,
    /// Active or pending.
    pub state: State,
}

/// A user's membership of a team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamMembership {
    /// The organization's login.
    pub org: String,
    /// The team's slug.
    pub slug: String,
    /// Active or pending.
    pub state: State,
    /// `member` or `maintainer`.
    pub role: &'static str,
}

/// One of a user's email addresses, as `GET /user/emails` lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockEmail {
    /// The address.
    pub email: String,
    /// Whether it is the primary address.
    pub primary: bool,
    /// Whether GitHub verified it.
    pub verified: bool,
}

/// A GitHub user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockUser {
    /// `login`, the username (compared without regard to case, as GitHub does).
    pub login: String,
    /// `id`.
    pub id: u64,
    /// `name` (the display name), if set.
    pub name: Option<String>,
    /// The public profile email (`email` in `GET /user`), `None` when private.
    pub public_email: Option<String>,
    /// Every email address, the primary first by convention.
    pub emails: Vec<MockEmail>,
    /// Organization memberships.
    pub orgs: Vec<OrgMembership>,
    /// Team memberships.
    pub teams: Vec<TeamMembership>,
}

impl MockUser {
    /// A user with a private, verified primary email `{login}@users.example.org`, no
    /// public email, in no organization.
    pub fn new(login: &str) -> Self {
        let id = login.bytes().fold(1_000_u64, |acc, b| {
            acc.wrapping_mul(31).wrapping_add(u64::from(b))
        }) % 90_000_000
            + 10_000_000;
        MockUser {
            login: login.to_owned(),
            id,
            name: Some(format!("{login} (mock)")),
            public_email: None,
            emails: vec![MockEmail {
                email: format!("{login}@users.example.org"),
                primary: true,
                verified: true,
            }],
            orgs: Vec::new(),
            teams: Vec::new(),
        }
    }

    /// Makes `email` the public profile email (adding it, verified, if it is not one of
    /// the user's addresses).
    pub fn public_email(mut self, email: &str) -> Self {
        if !self.emails.iter().any(|e| e.email == email) {
            self.emails.push(MockEmail {
                email: email.to_owned(),
                primary: false,
                verified: true,
            });
        }
        self.public_email = Some(email.to_owned());
        self
    }

    /// Replaces the email addresses.
    pub fn emails(mut self, emails: Vec<MockEmail>) -> Self {
        self.emails = emails;
        self
    }

    fn org(mut self, org: &str, public: bool, state: State) -> Self {
        self.orgs.retain(|m| !m.org.eq_ignore_ascii_case(org));
        self.orgs.push(OrgMembership {
            org: org.to_owned(),
            public,
            state,
        });
        self
    }

    /// An active, private member of `org`.
    pub fn member_of(self, org: &str) -> Self {
        self.org(org, false, State::Active)
    }

    /// An active member of `org` who made the membership public.
    pub fn public_member_of(self, org: &str) -> Self {
        self.org(org, true, State::Active)
    }

    /// Invited to `org`, not yet a member.
    pub fn invited_to(self, org: &str) -> Self {
        self.org(org, false, State::Pending)
    }

    fn team_with(mut self, org: &str, slug: &str, state: State) -> Self {
        if !self.orgs.iter().any(|m| m.org.eq_ignore_ascii_case(org)) {
            self = self.org(org, false, state);
        }
        self.teams
            .retain(|t| !(t.org.eq_ignore_ascii_case(org) && t.slug.eq_ignore_ascii_case(slug)));
        self.teams.push(TeamMembership {
            org: org.to_owned(),
            slug: slug.to_owned(),
            state,
            role: "member",
        });
        self
    }

    /// An active member of team `slug` of `org` (and of `org`, privately, if not yet).
    pub fn team(self, org: &str, slug: &str) -> Self {
        self.team_with(org, slug, State::Active)
    }

    /// Invited to team `slug` of `org`, not yet a member.
    pub fn invited_to_team(self, org: &str, slug: &str) -> Self {
        self.team_with(org, slug, State::Pending)
    }

    fn is_active_member(&self, org: &str) -> bool {
        self.orgs
            .iter()
            .any(|m| m.org.eq_ignore_ascii_case(org) && m.state == State::Active)
    }
}

/// Configures a mock before it starts.
#[derive(Debug, Default)]
pub struct GitHubMock {
    clients: Vec<Client>,
    users: Vec<MockUser>,
    auto_approve: Option<String>,
    enterprise: bool,
    expiring: bool,
}

impl GitHubMock {
    /// An empty configuration: api.github.com's paths at the root, OAuth app tokens.
    pub fn builder() -> Self {
        GitHubMock::default()
    }

    /// Registers an OAuth app with its callback URL.
    pub fn client(mut self, id: &str, secret: &str, callback_url: &str) -> Self {
        self.clients
            .push(Client::confidential(id, secret, callback_url));
        self
    }

    /// Adds a user.
    pub fn user(mut self, user: MockUser) -> Self {
        self.users.push(user);
        self
    }

    /// Approves every authorization request as this user (by login) without a page;
    /// `None` shows the user picker.
    pub fn auto_approve(mut self, login: Option<&str>) -> Self {
        self.auto_approve = login.map(str::to_owned);
        self
    }

    /// Serves the REST API under `/api/v3`, as a GitHub Enterprise Server does, instead of
    /// at the root as api.github.com.
    pub fn enterprise(mut self, on: bool) -> Self {
        self.enterprise = on;
        self
    }

    /// Issues GitHub App user tokens that expire, with refresh tokens, instead of an OAuth
    /// app's tokens that do not.
    pub fn expiring_user_tokens(mut self, on: bool) -> Self {
        self.expiring = on;
        self
    }

    /// Starts serving on 127.0.0.1 on a free port.
    ///
    /// # Errors
    /// When the port cannot be bound or a client is invalid.
    pub async fn start(self) -> Result<MockHandle, DevIdpError> {
        let state = GitHubState {
            users: self
                .users
                .into_iter()
                .map(|user| (user.login.to_ascii_lowercase(), user))
                .collect(),
            auto_approve: self.auto_approve,
            expiring: self.expiring,
            page_limit: MAX_PER_PAGE,
            ..GitHubState::default()
        };
        let options = MockServerOptions {
            clients: self.clients,
            ..MockServerOptions::default()
        };
        let personality = GitHub {
            api_prefix: if self.enterprise {
                ENTERPRISE_API_PREFIX.to_owned()
            } else {
                String::new()
            },
        };
        let server = MockServer::start(personality, state, options).await?;
        Ok(MockHandle { server })
    }
}

/// The most items on one page (`per_page` is capped at it).
pub const MAX_PER_PAGE: usize = 100;

/// The GitHub personality: where the REST API is.
#[derive(Debug, Clone, Default)]
pub struct GitHub {
    api_prefix: String,
}

/// What a code or token was issued for.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub(crate) login: String,
    pub(crate) client_id: String,
    /// The granted scopes, normalized.
    pub(crate) scopes: Vec<String>,
    /// The access token a refresh token came with (ended when it is used).
    pub(crate) access_token: Option<String>,
}

/// What the GitHub mock keeps.
#[derive(Debug, Default)]
pub struct GitHubState {
    pub(crate) users: BTreeMap<String, MockUser>,
    pub(crate) auto_approve: Option<String>,
    /// Codes; the extra is the `redirect_uri` the authorization request sent, if any.
    pub(crate) codes: Grants<CodeGrant<Option<String>>>,
    pub(crate) access: Grants<Issued>,
    pub(crate) refresh: Grants<Issued>,
    pub(crate) expiring: bool,
    pub(crate) withheld: HashSet<String>,
    pub(crate) page_limit: usize,
}

impl GitHubState {
    pub(crate) fn user(&self, login: &str) -> Option<&MockUser> {
        self.users.get(&login.to_ascii_lowercase())
    }

    /// Whether any user belongs to (or is invited to) `org`: the organizations the mock
    /// knows.
    pub(crate) fn org_exists(&self, org: &str) -> bool {
        self.users
            .values()
            .any(|u| u.orgs.iter().any(|m| m.org.eq_ignore_ascii_case(org)))
    }

    pub(crate) fn team_exists(&self, org: &str, slug: &str) -> bool {
        self.users.values().any(|u| {
            u.teams
                .iter()
                .any(|t| t.org.eq_ignore_ascii_case(org) && t.slug.eq_ignore_ascii_case(slug))
        })
    }
}

impl GitHub {
    /// The path of an API endpoint (`/user` is `/api/v3/user` on an Enterprise Server).
    fn api(&self, path: &str) -> String {
        format!("{}{path}", self.api_prefix)
    }
}

impl Personality for GitHub {
    type Endpoint = Endpoint;
    type State = GitHubState;
    const NAME: &'static str = "GitHub";

    fn endpoint(&self, path: &str) -> Option<Endpoint> {
        match path {
            AUTHORIZE_PATH => return Some(Endpoint::Authorize),
            TOKEN_PATH => return Some(Endpoint::Token),
            _ => {}
        }
        let rest = path.strip_prefix(self.api_prefix.as_str())?;
        let segments: Vec<&str> = rest.split('/').skip(1).collect();
        match segments.as_slice() {
            ["user"] => Some(Endpoint::User),
            ["user", "emails"] => Some(Endpoint::Emails),
            ["user", "teams"] => Some(Endpoint::Teams),
            ["orgs", _, "members", _] => Some(Endpoint::OrgMember),
            ["orgs", _, "public_members", _] => Some(Endpoint::PublicMember),
            ["orgs", _, "teams", _, "memberships", _] => Some(Endpoint::TeamMembership),
            _ => None,
        }
    }

    fn routes(&self) -> Router<Mock<Self>> {
        Router::new()
            .route(
                AUTHORIZE_PATH,
                get(handlers::authorize).post(handlers::authorize_pick),
            )
            .route(TOKEN_PATH, post(handlers::token))
            .route(&self.api("/user"), get(handlers::user))
            .route(&self.api("/user/emails"), get(handlers::emails))
            .route(&self.api("/user/teams"), get(handlers::teams))
            .route(
                &self.api("/orgs/{org}/members/{username}"),
                get(handlers::org_member),
            )
            .route(
                &self.api("/orgs/{org}/public_members/{username}"),
                get(handlers::public_member),
            )
            .route(
                &self.api("/orgs/{org}/teams/{team_slug}/memberships/{username}"),
                get(handlers::team_membership),
            )
            .fallback(handlers::not_found)
    }
}

/// A running mock: the framework's controls ([`MockServer`], through `Deref`) and
/// GitHub's own. Dropping it stops the server.
#[derive(Debug)]
pub struct MockHandle {
    server: MockServer<GitHub>,
}

impl Deref for MockHandle {
    type Target = MockServer<GitHub>;

    fn deref(&self) -> &MockServer<GitHub> {
        &self.server
    }
}

impl MockHandle {
    /// `http://127.0.0.1:PORT`: what `github_url` is for this mock.
    pub fn github_url(&self) -> String {
        self.server.origin().to_owned()
    }

    /// The REST API's base URL: the origin, or the origin and `/api/v3` for an
    /// Enterprise Server mock.
    pub fn api_url(&self) -> String {
        format!(
            "{}{}",
            self.server.origin(),
            self.server.personality().api_prefix
        )
    }

    /// The authorization endpoint.
    pub fn authorize_url(&self) -> String {
        format!("{}{AUTHORIZE_PATH}", self.server.origin())
    }

    /// The token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}{TOKEN_PATH}", self.server.origin())
    }

    /// The `github_url` and `github_api` lines of a `[GitHubOAuthenticator]` table that
    /// point at this mock. An Enterprise Server mock needs only `github_url` (the API is
    /// derived as `{github_url}/api/v3`).
    pub fn toml_urls(&self) -> String {
        if self.server.personality().api_prefix.is_empty() {
            format!(
                "github_url = \"{origin}\"\ngithub_api = \"{origin}\"\n",
                origin = self.server.origin()
            )
        } else {
            format!("github_url = \"{}\"\n", self.server.origin())
        }
    }

    /// Changes a user (their memberships, emails...) while the mock runs.
    pub fn update_user(&self, login: &str, change: impl FnOnce(&mut MockUser)) {
        if let Some(user) = self
            .server
            .lock()
            .state
            .users
            .get_mut(&login.to_ascii_lowercase())
        {
            change(user);
        }
    }

    /// Removes a user from an organization and its teams.
    pub fn remove_from_org(&self, login: &str, org: &str) {
        self.update_user(login, |user| {
            user.orgs.retain(|m| !m.org.eq_ignore_ascii_case(org));
            user.teams.retain(|t| !t.org.eq_ignore_ascii_case(org));
        });
    }

    /// Revokes every token of a user (as when they revoke the app's authorization):
    /// the API answers them 401 and refresh tokens stop working.
    pub fn revoke_tokens_of(&self, login: &str) {
        let mut core = self.server.lock();
        let state = &mut core.state;
        let matches = |issued: &Issued| issued.login.eq_ignore_ascii_case(login);
        state.access.revoke_where(matches);
        state.refresh.revoke_where(matches);
    }

    /// Expires every access token issued so far (refresh tokens keep working).
    pub fn expire_access_tokens(&self) {
        let now = self.server.now();
        self.server.lock().state.access.expire_all(now);
    }

    /// Changes which user auto-approve logs in.
    pub fn set_auto_approve(&self, login: Option<&str>) {
        self.server.lock().state.auto_approve = login.map(str::to_owned);
    }

    /// Leaves a scope out of every later grant, as when the user grants less than was
    /// asked for.
    pub fn withhold_scope(&self, scope: &str) {
        self.server.lock().state.withheld.insert(scope.to_owned());
    }

    /// Caps `per_page` below GitHub's 100, so that a test sees several pages without a
    /// hundred items.
    pub fn set_page_limit(&self, limit: usize) {
        self.server.lock().state.page_limit = limit.clamp(1, MAX_PER_PAGE);
    }

    /// Every access and refresh token issued so far that is still live.
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

    /// Stops the server and waits for it.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// The demo's organization.
pub const DEMO_ORG: &str = "hubauth-demo";

/// Starts a mock for `hubauth demo --provider github`: a GitHub Enterprise Server with
/// the OAuth app `hubauth-demo` for `hub_callback`, and users `alice` (team staff of
/// `hubauth-demo`), `admin` (teams staff and admins), `bob` (a public member of another
/// organization only: refused) and `mallory` (invited to staff, not accepted: refused).
/// Returns the mock and the complete `[GitHubOAuthenticator]` table (header included) to
/// append to the demo config. Members of `hubauth-demo:admins` are admins, through the
/// teams in auth_state and managed groups.
///
/// # Errors
/// When the mock cannot start.
pub async fn start_demo_mock(hub_callback: &str) -> Result<(MockHandle, String), DevIdpError> {
    let secret = hubauth_devidp::mock::random_token(20);
    let mock = GitHubMock::builder()
        .enterprise(true)
        .client("hubauth-demo", &secret, hub_callback)
        .user(MockUser::new("alice").team(DEMO_ORG, "staff"))
        .user(
            MockUser::new("admin")
                .team(DEMO_ORG, "staff")
                .team(DEMO_ORG, "admins"),
        )
        .user(MockUser::new("bob").public_member_of("octo-elsewhere"))
        .user(
            MockUser::new("mallory")
                .public_member_of("octo-elsewhere")
                .invited_to_team(DEMO_ORG, "staff"),
        )
        .start()
        .await?;
    let table = format!(
        "[GitHubOAuthenticator]\n# The GitHub mock (hubauth_github::mock) stands in for a GitHub Enterprise Server.\nclient_id = \"hubauth-demo\"\nclient_secret = \"{secret}\"\n{urls}scope = [\"read:org\", \"user:email\"]\nallowed_organizations = [\"{DEMO_ORG}:staff\"]\npopulate_teams_in_auth_state = true\nmanage_groups = true\nauth_state_groups_key = {{ script = \"auth_state.teams.map(|t| t.organization.login + \\\":\\\" + t.slug)\" }}\nadmin_groups = [\"{DEMO_ORG}:admins\"]\n",
        urls = mock.toml_urls(),
    );
    Ok((mock, table))
}

/// The scopes GitHub knows, each with the scopes it includes ("Scopes for OAuth apps").
const SCOPES: &[(&str, &[&str])] = &[
    (
        "repo",
        &[
            "repo:status",
            "repo_deployment",
            "public_repo",
            "repo:invite",
            "security_events",
        ],
    ),
    ("repo:status", &[]),
    ("repo_deployment", &[]),
    ("public_repo", &[]),
    ("repo:invite", &[]),
    ("security_events", &[]),
    ("admin:repo_hook", &["write:repo_hook", "read:repo_hook"]),
    ("write:repo_hook", &["read:repo_hook"]),
    ("read:repo_hook", &[]),
    ("admin:org", &["write:org", "read:org"]),
    ("write:org", &["read:org"]),
    ("read:org", &[]),
    ("admin:public_key", &["write:public_key", "read:public_key"]),
    ("write:public_key", &["read:public_key"]),
    ("read:public_key", &[]),
    ("admin:org_hook", &[]),
    ("gist", &[]),
    ("notifications", &[]),
    ("user", &["read:user", "user:email", "user:follow"]),
    ("read:user", &[]),
    ("user:email", &[]),
    ("user:follow", &[]),
    ("project", &["read:project"]),
    ("read:project", &[]),
    ("delete_repo", &[]),
    ("write:packages", &["read:packages"]),
    ("read:packages", &[]),
    ("delete:packages", &[]),
    ("admin:gpg_key", &["write:gpg_key", "read:gpg_key"]),
    ("write:gpg_key", &["read:gpg_key"]),
    ("read:gpg_key", &[]),
    ("codespace", &[]),
    ("workflow", &[]),
    ("read:audit_log", &[]),
];

fn includes(scope: &str) -> &'static [&'static str] {
    SCOPES
        .iter()
        .find(|(name, _)| *name == scope)
        .map(|(_, included)| *included)
        .unwrap_or(&[])
}

/// The scopes a token is saved with: known ones only, without those another requested
/// scope includes ("Normalized scopes"), in a stable order.
pub fn normalize_scopes<'a>(requested: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let requested: BTreeSet<&str> = requested
        .into_iter()
        .filter(|scope| SCOPES.iter().any(|(name, _)| name == scope))
        .collect();
    requested
        .iter()
        .filter(|scope| {
            !requested
                .iter()
                .any(|other| other != *scope && includes(other).contains(scope))
        })
        .map(|scope| (*scope).to_owned())
        .collect()
}

/// Whether a token with `granted` scopes has `needed` (itself or a scope including it).
pub fn has_scope(granted: &[String], needed: &str) -> bool {
    granted
        .iter()
        .any(|scope| scope == needed || includes(scope).contains(&needed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_normalized_as_github_documents() {
        assert_eq!(
            normalize_scopes(["user", "gist", "user:email"]),
            vec!["gist", "user"]
        );
        assert_eq!(
            normalize_scopes(["read:org", "admin:org", "nonsense"]),
            vec!["admin:org"]
        );
        assert_eq!(
            normalize_scopes(["read:org", "user:email"]),
            vec!["read:org", "user:email"]
        );
        assert!(has_scope(&["admin:org".into()], "read:org"));
        assert!(has_scope(&["user".into()], "user:email"));
        assert!(!has_scope(&["user:email".into()], "read:org"));
    }

    #[test]
    fn endpoints_are_named_by_path_with_and_without_the_enterprise_prefix() {
        let cloud = GitHub::default();
        let ghes = GitHub {
            api_prefix: ENTERPRISE_API_PREFIX.to_owned(),
        };
        assert_eq!(cloud.endpoint("/user"), Some(Endpoint::User));
        assert_eq!(ghes.endpoint("/user"), None);
        assert_eq!(ghes.endpoint("/api/v3/user/emails"), Some(Endpoint::Emails));
        assert_eq!(
            ghes.endpoint("/api/v3/orgs/o/teams/t/memberships/u"),
            Some(Endpoint::TeamMembership)
        );
        assert_eq!(
            cloud.endpoint("/orgs/o/members/u"),
            Some(Endpoint::OrgMember)
        );
        assert_eq!(cloud.endpoint("/orgs/o/members/u/"), None);
        assert_eq!(
            ghes.endpoint("/login/oauth/access_token"),
            Some(Endpoint::Token)
        );
    }
}
