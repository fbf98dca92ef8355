//! A mock of Azure AD (Microsoft Entra ID) and of Microsoft Graph's group endpoints, for
//! tests and demos, on loopback.
//!
//! It follows Microsoft's documented protocol: per tenant, the v1 endpoints
//! (`/{tenant}/oauth2/authorize`, `/{tenant}/oauth2/token`, also without the tenant
//! segment), the v2.0 endpoints (`/{tenant}/oauth2/v2.0/authorize|token`), the discovery
//! documents (`/{tenant}/.well-known/openid-configuration` with issuer
//! `https://sts.windows.net/{tid}/`, and `/{tenant}/v2.0/.well-known/openid-configuration`
//! with issuer `{authority}/{tid}/v2.0`; `common`/`organizations` give the `{tenantid}`
//! template), the keys (`/{tenant}/discovery/v2.0/keys`, `/common/discovery/keys`; RS256
//! with a 2048-bit RSA key, as Azure signs), the authorization code grant with PKCE, the
//! refresh token grant (rotating, refused with AADSTS50057 for a disabled user), ID tokens
//! with `oid`, `tid`, `name`, `preferred_username`, `upn`, `groups`, `nonce`, `ver`, and
//! the group overage claims (`_claim_names`/`_claim_sources`, or `hasgroups`) for users in
//! more groups than the token limit (200). Microsoft Graph: `POST /v1.0/me/getMemberObjects`
//! and `GET /v1.0/me/memberOf` (paged with `@odata.nextLink`), checking the bearer access
//! token. Errors use Azure's shapes and AADSTS codes.
//!
//! Differences from the real service: access tokens are opaque strings (clients must treat
//! them as opaque anyway), the JWKS has no `x5c` certificate chain, the sign-in page is an
//! account picker without passwords, and the Graph endpoints are served by the same server.
//!
//! It is a personality of the provider mock framework (`hubauth_devidp::mock`): the
//! framework serves it, records and counts requests, injects faults, keeps its skewable
//! clock and runs the grant's shared checks (client authentication, exact redirect URIs,
//! single-use codes, PKCE); this module adds Azure's paths per tenant and version, its
//! token response shapes, claims, AADSTS errors and Microsoft Graph.
//!
//! Tests steer it while it runs: disable users, change groups, make the next response of an
//! endpoint fail ([`MockServer::fail_next`]), make the next ID token wrong ([`Tamper`]),
//! shift its clock ([`MockServer::advance_clock`]), and read a log of requests
//! ([`MockServer::requests_to`], secrets redacted).

mod handlers;

use std::ops::Deref;
use std::sync::Arc;

use hubauth_devidp::DevIdpError;
use hubauth_devidp::mock::{
    Client, CodeGrant, Grants, MockServer, MockServerOptions, MockTls, Personality, RsaSigner,
    guid_from, random_token,
};

/// How a user's groups are left out of the ID token when they are too many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overage {
    /// Only when the user has more groups than the limit (200), with `_claim_names`.
    Auto,
    /// Always: `_claim_names.groups` and `_claim_sources` instead of `groups`.
    ClaimSources,
    /// Always: `hasgroups: true` instead of `groups`.
    HasGroups,
}

/// A user of a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockUser {
    /// The tenant's id (`tid`).
    pub tenant: String,
    /// The object id (`oid`).
    pub oid: String,
    /// The display name (`name`).
    pub name: String,
    /// `preferred_username` (the sign-in name).
    pub preferred_username: String,
    /// `upn`.
    pub upn: String,
    /// Group object ids (or names) for the `groups` claim and Graph.
    pub groups: Vec<String>,
    /// When the groups are left out of the ID token.
    pub overage: Overage,
    /// Whether the account is enabled.
    pub enabled: bool,
    /// The `email` optional claim (unverified: Azure AD never sends `email_verified`).
    pub email: Option<String>,
    /// The `xms_edov` optional claim ("email domain owner verified"), when configured.
    pub email_domain_verified: Option<bool>,
}

impl MockUser {
    /// A user of `tenant` signing in as `preferred_username`, with display name `name`;
    /// the object id is derived from the sign-in name.
    pub fn new(tenant: &str, preferred_username: &str, name: &str) -> Self {
        MockUser {
            tenant: tenant.to_owned(),
            oid: guid_from(&format!("oid:{tenant}:{preferred_username}")),
            name: name.to_owned(),
            preferred_username: preferred_username.to_owned(),
            upn: preferred_username.to_owned(),
            groups: Vec::new(),
            overage: Overage::Auto,
            enabled: true,
            email: None,
            email_domain_verified: None,
        }
    }

    /// With the `email` optional claim.
    pub fn email(mut self, email: &str) -> Self {
        self.email = Some(email.to_owned());
        self
    }

    /// With the `xms_edov` optional claim.
    pub fn email_domain_verified(mut self, verified: bool) -> Self {
        self.email_domain_verified = Some(verified);
        self
    }

    /// With these groups.
    pub fn groups(mut self, groups: &[&str]) -> Self {
        self.groups = groups.iter().map(|g| (*g).to_owned()).collect();
        self
    }

    /// With this overage behaviour.
    pub fn overage(mut self, overage: Overage) -> Self {
        self.overage = overage;
        self
    }

    /// With this object id.
    pub fn oid(mut self, oid: &str) -> Self {
        self.oid = oid.to_owned();
        self
    }
}

/// A tenant: its id and verified domains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockTenant {
    /// The directory (tenant) id, a GUID.
    pub id: String,
    /// Verified domains that name the tenant in URLs (`contoso.onmicrosoft.com`).
    pub domains: Vec<String>,
}

/// An endpoint of the mock, for faults and the request log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MockEndpoint {
    /// v1 or v2.0 authorize.
    Authorize,
    /// v1 or v2.0 token.
    Token,
    /// A discovery document.
    Discovery,
    /// The JWKS.
    Keys,
    /// Microsoft Graph.
    Graph,
    /// v1 or v2.0 sign-out (`end_session_endpoint`).
    Logout,
}

/// A failure the next response of an endpoint has ([`MockServer::fail_next`]): the
/// framework's fault injection (`Status`, `Garbage`, `EmptyBody`, `Delay`).
pub use hubauth_devidp::mock::Fault;

/// A way to make the next ID token wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tamper {
    /// Signed by another RSA key under the real key's `kid`.
    BadSignature,
    /// `alg: none` and no signature.
    AlgNone,
    /// `aud` is another application.
    WrongAudience,
    /// Expired an hour ago.
    Expired,
    /// A nonce that is not the one the client sent.
    WrongNonce,
    /// A correctly signed token of another tenant (its `tid` and issuer).
    OtherTenant,
    /// The issuer with its trailing `/` added (v2.0: `.../v2.0/`) or removed (v1:
    /// `https://sts.windows.net/{tid}`).
    IssuerTrailingSlash,
    /// `aud` is the application and another one, with `azp` naming the application.
    UntrustedExtraAudience,
    /// `at_hash` is the hash of another access token.
    WrongAtHash,
}

/// The tenant of personal Microsoft accounts (what `consumers` stands for), as Microsoft
/// documents it.
pub const CONSUMERS_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// The tenant id of the "other tenant" used by [`Tamper::OtherTenant`].
pub const OTHER_TENANT: &str = "99999999-9999-4999-8999-999999999999";

/// Builds a mock.
#[derive(Debug, Clone)]
pub struct MockAzureAdBuilder {
    tenants: Vec<MockTenant>,
    users: Vec<MockUser>,
    clients: Vec<Client>,
    auto_approve: Option<String>,
    graph_permissions: Vec<String>,
    custom_key_apps: std::collections::HashSet<String>,
    tls: Option<MockTls>,
    graph_page_size: usize,
    group_limit: usize,
    access_token_ttl: i64,
    id_token_ttl: i64,
}

/// The mock Azure AD.
#[derive(Debug, Clone, Copy, Default)]
pub struct MockAzureAd;

impl MockAzureAd {
    /// A builder with no tenants, users or clients.
    pub fn builder() -> MockAzureAdBuilder {
        MockAzureAdBuilder {
            tenants: Vec::new(),
            users: Vec::new(),
            clients: Vec::new(),
            auto_approve: None,
            graph_permissions: vec!["User.Read".to_owned()],
            custom_key_apps: std::collections::HashSet::new(),
            tls: None,
            graph_page_size: 100,
            group_limit: 200,
            access_token_ttl: 3599,
            id_token_ttl: 3600,
        }
    }
}

impl MockAzureAdBuilder {
    /// Adds a tenant.
    pub fn tenant(mut self, id: &str, domains: &[&str]) -> Self {
        self.tenants.push(MockTenant {
            id: id.to_owned(),
            domains: domains.iter().map(|d| (*d).to_owned()).collect(),
        });
        self
    }

    /// Adds a user.
    pub fn user(mut self, user: MockUser) -> Self {
        self.users.push(user);
        self
    }

    /// Registers an application.
    pub fn client(mut self, client_id: &str, secret: &str, redirect_uri: &str) -> Self {
        self.clients
            .push(Client::confidential(client_id, secret, redirect_uri));
        self
    }

    /// Registers one more redirect URI for an application added with
    /// [`MockAzureAdBuilder::client`] (also where sign-out may return to).
    pub fn redirect_uri(mut self, client_id: &str, uri: &str) -> Self {
        if let Some(client) = self.clients.iter_mut().find(|c| c.client_id == client_id) {
            client.redirect_uris.push(uri.to_owned());
        }
        self
    }

    /// Signs this user (by `preferred_username` or `oid`) in without showing the account
    /// picker.
    pub fn auto_approve(mut self, user: Option<&str>) -> Self {
        self.auto_approve = user.map(str::to_owned);
        self
    }

    /// The Microsoft Graph delegated permissions of the app registration, which v1 access
    /// tokens for Graph carry (default `User.Read`, what a new registration has).
    pub fn graph_permissions(mut self, permissions: &[&str]) -> Self {
        self.graph_permissions = permissions.iter().map(|p| (*p).to_owned()).collect();
        self
    }

    /// Serves HTTPS with this certificate, as Azure AD does: the v1 token endpoint's
    /// unsigned ID tokens can be trusted only over validated TLS.
    pub fn tls(mut self, tls: MockTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Signs this application's ID tokens with its own key, which the JWKS publishes only
    /// when asked with `?appid=` (an app with custom signing keys, as claims mapping
    /// makes it).
    pub fn custom_signing_key(mut self, client_id: &str) -> Self {
        self.custom_key_apps.insert(client_id.to_owned());
        self
    }

    /// Serves plain HTTP (the default, undoing [`MockAzureAdBuilder::tls`]): what a
    /// client that must not trust unsigned ID tokens sees.
    pub fn plain_http(mut self) -> Self {
        self.tls = None;
        self
    }

    /// Items per page of `/v1.0/me/memberOf` (default 100).
    pub fn graph_page_size(mut self, size: usize) -> Self {
        self.graph_page_size = size.max(1);
        self
    }

    /// Lifetime of access tokens in seconds (default 3599).
    pub fn access_token_ttl(mut self, seconds: i64) -> Self {
        self.access_token_ttl = seconds;
        self
    }

    /// Starts serving on a free loopback port.
    ///
    /// # Errors
    /// When the port cannot be bound, a client is invalid or the signing key cannot be
    /// made.
    pub async fn start(self) -> Result<MockHandle, DevIdpError> {
        let personality = AzureAd {
            keys: RsaSigner::shared().await?,
            settings: Settings {
                graph_page_size: self.graph_page_size,
                group_limit: self.group_limit,
                access_token_ttl: self.access_token_ttl,
                id_token_ttl: self.id_token_ttl,
            },
        };
        let state = AzureState {
            tenants: self.tenants,
            users: self.users,
            auto_approve: self.auto_approve,
            graph_permissions: self.graph_permissions,
            custom_key_apps: self.custom_key_apps,
            ..AzureState::default()
        };
        let options = MockServerOptions {
            clients: self.clients,
            tls: self.tls,
            ..MockServerOptions::default()
        };
        let server = MockServer::start(personality, state, options).await?;
        Ok(MockHandle { server })
    }
}

/// The Azure AD personality: its signing key and settings.
#[derive(Debug)]
pub struct AzureAd {
    keys: Arc<RsaSigner>,
    settings: Settings,
}

impl Personality for AzureAd {
    type Endpoint = MockEndpoint;
    type State = AzureState;
    const NAME: &'static str = "Azure AD";

    fn endpoint(&self, path: &str) -> Option<MockEndpoint> {
        handlers::endpoint_of(path)
    }

    fn routes(&self) -> axum::Router<hubauth_devidp::mock::Mock<Self>> {
        handlers::routes()
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub graph_page_size: usize,
    pub group_limit: usize,
    pub access_token_ttl: i64,
    pub id_token_ttl: i64,
}

/// What an Azure code carries besides the shared grant: which endpoint version issued
/// it (a v1 code cannot be redeemed at v2.0 and the other way round).
#[derive(Debug, Clone)]
pub(crate) struct CodeExtra {
    pub v2: bool,
    /// v1: the authorization request's `resource`.
    pub resource: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct RefreshGrant {
    pub client_id: String,
    pub oid: String,
    pub scope: String,
    pub v2: bool,
    /// v1: the resource of the token it was issued with.
    pub resource: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct AccessGrant {
    pub oid: String,
    /// The resource the token is for (`aud`).
    pub audience: String,
    /// The delegated permissions it carries (`scp`), for Microsoft Graph.
    pub permissions: Vec<String>,
}

/// What the Azure AD mock keeps.
#[derive(Debug, Default)]
pub struct AzureState {
    pub(crate) tenants: Vec<MockTenant>,
    pub(crate) users: Vec<MockUser>,
    pub(crate) auto_approve: Option<String>,
    pub(crate) codes: Grants<CodeGrant<CodeExtra>>,
    pub(crate) refresh_tokens: Grants<RefreshGrant>,
    pub(crate) access_tokens: Grants<AccessGrant>,
    pub(crate) tamper: Option<Tamper>,
    /// The Microsoft Graph permissions of the app registration (v1 tokens carry them).
    pub(crate) graph_permissions: Vec<String>,
    /// Apps whose ID tokens are signed with their own key (claims mapping), published
    /// only at the keys URL with `?appid=`.
    pub(crate) custom_key_apps: std::collections::HashSet<String>,
}

impl AzureState {
    pub(crate) fn user(&self, key: &str) -> Option<&MockUser> {
        self.users
            .iter()
            .find(|u| u.oid == key || u.preferred_username.eq_ignore_ascii_case(key))
    }

    fn user_mut(&mut self, key: &str) -> Option<&mut MockUser> {
        self.users
            .iter_mut()
            .find(|u| u.oid == key || u.preferred_username.eq_ignore_ascii_case(key))
    }
}

/// A running mock: the framework's controls ([`MockServer`], through `Deref`) and Azure's
/// own. Dropping it stops the server.
#[derive(Debug)]
pub struct MockHandle {
    server: MockServer<AzureAd>,
}

impl Deref for MockHandle {
    type Target = MockServer<AzureAd>;

    fn deref(&self) -> &MockServer<AzureAd> {
        &self.server
    }
}

impl MockHandle {
    /// The v2.0 issuer of a tenant (`{origin}/{tid}/v2.0`).
    pub fn issuer_v2(&self, tid: &str) -> String {
        format!("{}/{tid}/v2.0", self.server.origin())
    }

    /// Signs this user in without the account picker (`None`: show the picker).
    pub fn set_auto_approve(&self, user: Option<&str>) {
        self.server.lock().state.auto_approve = user.map(str::to_owned);
    }

    /// Adds a user.
    pub fn add_user(&self, user: MockUser) {
        self.server.lock().state.users.push(user);
    }

    /// Disables an account: sign-in, refresh and Graph refuse it. False if unknown.
    pub fn disable_user(&self, user: &str) -> bool {
        self.set_enabled(user, false)
    }

    /// Enables an account again. False if unknown.
    pub fn enable_user(&self, user: &str) -> bool {
        self.set_enabled(user, true)
    }

    fn set_enabled(&self, user: &str, enabled: bool) -> bool {
        match self.server.lock().state.user_mut(user) {
            Some(found) => {
                found.enabled = enabled;
                true
            }
            None => false,
        }
    }

    /// Replaces a user's groups. False if unknown.
    pub fn set_groups(&self, user: &str, groups: &[&str]) -> bool {
        match self.server.lock().state.user_mut(user) {
            Some(found) => {
                found.groups = groups.iter().map(|g| (*g).to_owned()).collect();
                true
            }
            None => false,
        }
    }

    /// The user's object id.
    pub fn oid(&self, user: &str) -> Option<String> {
        self.server.lock().state.user(user).map(|u| u.oid.clone())
    }

    /// Makes the next ID token wrong.
    pub fn tamper_next_id_token(&self, tamper: Tamper) {
        self.server.lock().state.tamper = Some(tamper);
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// The demo tenant's id.
pub const DEMO_TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
/// The demo application's id.
pub const DEMO_CLIENT_ID: &str = "5e0c3a4e-2f1b-4c41-9a44-1c2d3e4f5a6b";

/// Starts a mock for `hubauth demo --provider azuread` (v2.0 endpoints): one tenant (contoso) with an admin
/// group, a staff group, users `adele` (admin), `alex` (staff), `grace` (staff, in 250
/// groups: her groups come from Graph) and `dan` (no group), and an application whose
/// redirect URI is `hub_callback`. Returns the handle and the `[AzureAdOAuthenticator]`
/// table (without `[Hub]`) that logs in against it, with groups managed from Azure.
pub async fn start_demo_mock(hub_callback: &str) -> Result<(MockHandle, String), DevIdpError> {
    let domain = "contoso.onmicrosoft.com";
    let staff = "0d1e7b1c-5aff-4f00-8000-000000000001";
    let admins = "0d1e7b1c-ad00-4f00-8000-000000000002";
    let secret = random_token(24);
    let many: Vec<String> = (0..250).map(|i| format!("g-{i:04}")).collect();
    let mut grace_groups: Vec<&str> = many.iter().map(String::as_str).collect();
    grace_groups.push(staff);
    let mock = MockAzureAd::builder()
        .tenant(DEMO_TENANT, &[domain])
        .client(DEMO_CLIENT_ID, &secret, hub_callback)
        .user(
            MockUser::new(DEMO_TENANT, &format!("adele@{domain}"), "Adele Vance")
                .groups(&[staff, admins]),
        )
        .user(MockUser::new(DEMO_TENANT, &format!("alex@{domain}"), "Alex Wilber").groups(&[staff]))
        .user(
            MockUser::new(DEMO_TENANT, &format!("grace@{domain}"), "Grace Taylor")
                .groups(&grace_groups),
        )
        .user(MockUser::new(
            DEMO_TENANT,
            &format!("dan@{domain}"),
            "Dan Jump",
        ))
        .start()
        .await?;
    let origin = mock.origin().to_owned();
    let toml = format!(
        "[AzureAdOAuthenticator]\n\
         # The mock Azure AD at {origin} (a national-cloud style graph_url), on the v2.0\n\
         # endpoints: their ID tokens are signed, so plain http on loopback can carry them\n\
         # (v1's are unsigned and trusted only over validated https).\n\
         use_v2_endpoints = true\n\
         tenant_id = \"{DEMO_TENANT}\"\n\
         graph_url = \"{origin}\"\n\
         graph_api_url = \"{origin}\"\n\
         client_id = \"{DEMO_CLIENT_ID}\"\n\
         client_secret = \"{secret}\"\n\
         oauth_callback_url = \"{hub_callback}\"\n\
         scope = [\"openid\", \"profile\", \"email\"]\n\
         username_claim = \"preferred_username\"\n\
         manage_groups = true\n\
         allowed_groups = [\"{staff}\"]\n\
         admin_groups = [\"{admins}\"]\n\
         enable_auth_state = false\n"
    );
    Ok((mock, toml))
}
