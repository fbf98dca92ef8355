//! AzureAdOAuthenticator end to end over loopback HTTP: a real hub (SQLite, cookies,
//! sessions) against the mock Azure AD, plus the options and the mock's own API.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use hubauth_azuread::mock::{
    CONSUMERS_TENANT, Fault, MockAzureAd, MockEndpoint, MockHandle, MockUser, OTHER_TENANT,
    Overage, Tamper, start_demo_mock,
};
use hubauth_config::{Config, ConfigError, MapEnv, Registry};
use hubauth_core::Authenticator;
use hubauth_devidp::mock::{AuthorizationScheme, ClientAuth};
use hubauth_harness::tls::{loopback_cert, mock_tls, trust_line as trust_mock};
use hubauth_harness::{Build, Loopback, Provider, arc, client_trusting, local_or, location};
use hubauth_oauth::Provider as _;
use serde_json::{Value, json};

const TENANT: &str = "11111111-1111-4111-8111-111111111111";
const TENANT_B: &str = "33333333-3333-4333-8333-333333333333";
const CLIENT: &str = "22222222-2222-4222-8222-222222222222";
const SECRET: &str = "app-secret~1";

fn registry() -> Registry {
    hubauth_harness::registry(hubauth_azuread::classes())
}

/// The provider under test: the Azure AD classes, the Local variant or not.
fn provider() -> Provider<impl Build<ConfigError>> {
    Provider::new(
        hubauth_azuread::classes(),
        local_or(
            arc(hubauth_azuread::local_azuread_from_view),
            arc(hubauth_azuread::azuread_from_view),
        ),
    )
}

/// Builds the authenticator of `class` from config text and environment.
fn build(class: &str, text: &str, env: &[(&str, &str)]) -> Result<Arc<dyn Authenticator>, String> {
    provider()
        .authenticator(class, text, env)
        .map(|(built, _)| built)
}

fn azure(text: &str, env: &[(&str, &str)]) -> hubauth_azuread::AzureAdOAuthenticator {
    let registry = registry();
    let config = Config::parse(text, "test.toml", &registry).unwrap();
    let env = MapEnv::from_iter(env.iter().map(|(k, v)| (*k, *v)));
    hubauth_azuread::azuread_from_view(&config.view(&registry, "AzureAdOAuthenticator", &env))
        .unwrap()
}

type Pair = hubauth_harness::Pair<MockHandle>;

// Every mock of this binary serves HTTPS with the harness's loopback certificate.
hubauth_harness::idp_mock!(
    MockHandle,
    ca_pem = |_| Some(loopback_cert().cert_pem.clone())
);

fn users() -> Vec<MockUser> {
    vec![
        MockUser::new(TENANT, "ada", "Ada Lovelace").groups(&["staff", "ops"]),
        MockUser::new(TENANT, "bob", "Bob").groups(&["staff"]),
        MockUser::new(TENANT, "eve", "Eve").groups(&["visitors"]),
        MockUser::new(TENANT, "grace", "Grace")
            .groups(&["staff", "g1", "g2"])
            .overage(Overage::ClaimSources),
        MockUser::new(TENANT, "hana", "Hana")
            .groups(&["staff"])
            .overage(Overage::HasGroups),
        MockUser::new(TENANT_B, "zoe", "Zoe").groups(&["staff"]),
        MockUser::new(CONSUMERS_TENANT, "pat", "Pat (personal account)"),
    ]
}

/// A mock and a hub trusting each other; `extra` goes into `[AzureAdOAuthenticator]`.
async fn pair(extra: &str, auto: &str) -> Pair {
    pair_with(extra, &[], auto, |b| b).await
}

async fn pair_with(
    extra: &str,
    env: &[(&str, &str)],
    auto: &str,
    configure: impl FnOnce(
        hubauth_azuread::mock::MockAzureAdBuilder,
    ) -> hubauth_azuread::mock::MockAzureAdBuilder,
) -> Pair {
    let site = Loopback::bind().await.unwrap();
    let origin = site.origin().to_owned();
    let callback = site.callback_url();
    let mut builder = MockAzureAd::builder()
        .tls(mock_tls())
        .tenant(TENANT, &["contoso.example"])
        .tenant(TENANT_B, &["fabrikam.example"])
        .client(CLIENT, SECRET, &callback)
        .redirect_uri(CLIENT, &format!("{origin}/hub/login"))
        .auto_approve(Some(auto));
    for user in users() {
        builder = builder.user(user);
    }
    let mock = configure(builder).start().await.unwrap();
    let mut table = format!(
        "[AzureAdOAuthenticator]\nclient_id = \"{CLIENT}\"\nclient_secret = \"{SECRET}\"\ngraph_url = \"{o}\"\ngraph_api_url = \"{o}\"\n",
        o = mock.origin()
    );
    if !extra.contains("tenant_id") && !env.iter().any(|(k, _)| *k == "AAD_TENANT_ID") {
        table.push_str(&format!("tenant_id = \"{TENANT}\"\n"));
    }
    if !extra.contains("username_claim") {
        // The sign-in name: `upn` in v1 tokens, `preferred_username` (with the profile
        // scope) in v2.0 ones.
        if extra.contains("use_v2_endpoints = true") {
            table.push_str("username_claim = \"preferred_username\"\n");
        } else {
            table.push_str("username_claim = \"upn\"\n");
        }
    }
    if !extra.contains("http_request_kwargs") {
        table.push_str(&trust_mock());
    }
    // `{origin}` in `extra` stands for the mock's origin, known only now.
    // and `{hub}` for the hub's.
    table.push_str(
        &extra
            .replace("{origin}", mock.origin())
            .replace("{hub}", &origin),
    );
    start_hub(site, mock, &table, env).await
}

/// A hub of `[AzureAdOAuthenticator]` configured by `table` (header included) with
/// environment `env`, prepared on `site`, against `mock`.
async fn start_hub(site: Loopback, mock: MockHandle, table: &str, env: &[(&str, &str)]) -> Pair {
    provider()
        .serve_with(
            site,
            mock,
            "AzureAdOAuthenticator",
            table,
            "authenticator_class = \"azuread\"\n",
            env,
        )
        .await
        .unwrap()
}

/// A browser that trusts the mocks' certificate.
fn client() -> reqwest::Client {
    client_trusting(&loopback_cert().cert_pem)
}

/// hub/oauth_login -> mock authorize (auto-approve) -> the hub's answer to the callback.
async fn oauth_login(c: &reqwest::Client, p: &Pair) -> (u16, String) {
    let callback = hubauth_harness::callback(c, p).await;
    let response = c.get(&callback).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn home(c: &reqwest::Client, p: &Pair) -> (u16, String) {
    let response = c.get(format!("{}home", p.hub_url)).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

fn shown_user(html: &str) -> Option<String> {
    let marker = "id=\"username\">";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('<')? + start;
    Some(html[start..end].to_owned())
}

/// Logs in as `user` and returns the callback status and the home page user.
async fn login_as(p: &Pair, user: &str) -> (u16, Option<String>, reqwest::Client) {
    p.mock.set_auto_approve(Some(user));
    let c = client();
    let (status, body) = oauth_login(&c, p).await;
    let shown = if status == 303 {
        shown_user(&home(&c, p).await.1)
    } else {
        assert_eq!(
            home(&c, p).await.0,
            302,
            "no session after {status}: {body}"
        );
        None
    };
    (status, shown, c)
}

// ------------------------------------------------------------------ options

#[test]
fn default_urls_follow_upstream_v1_with_and_without_tenant() {
    let a = azure(
        "[AzureAdOAuthenticator]\nclient_id = \"c\"\ntenant_id = \"contoso.example\"\n",
        &[],
    );
    let config = &a.core().config;
    assert_eq!(
        config.authorize_url,
        "https://login.microsoftonline.com/contoso.example/oauth2/authorize"
    );
    assert_eq!(
        config.token_url,
        "https://login.microsoftonline.com/contoso.example/oauth2/token"
    );
    assert_eq!(config.login_service, "Azure AD");
    assert_eq!(a.provider().class_name(), "AzureAdOAuthenticator");
    assert_eq!(config.username_claim.describe(), "name");
    assert_eq!(
        config.auth_state_groups_key.as_ref().unwrap().describe(),
        "user.groups"
    );
    assert_eq!(
        config.scope,
        vec!["openid".to_owned()],
        "openid is always requested"
    );
    assert_eq!(
        a.provider().config().graph_api_url,
        "https://graph.microsoft.com"
    );
    assert!(a.provider().config().graph_groups_fallback);
    assert_eq!(
        a.provider()
            .config()
            .discovery_url(hubauth_azuread::EndpointVersion::V1),
        "https://login.microsoftonline.com/contoso.example/.well-known/openid-configuration"
    );

    // No tenant: upstream's tenant-less URLs (not "common"); multi-tenant.
    let a = azure("[AzureAdOAuthenticator]\nclient_id = \"c\"\n", &[]);
    assert_eq!(
        a.core().config.authorize_url,
        "https://login.microsoftonline.com/oauth2/authorize"
    );
    assert_eq!(
        a.core().config.token_url,
        "https://login.microsoftonline.com/oauth2/token"
    );
    assert!(a.provider().config().multi_tenant());

    // National cloud.
    let a = azure(
        "[AzureAdOAuthenticator]\nclient_id = \"c\"\ntenant_id = \"t1\"\ngraph_url = \"https://login.chinacloudapi.cn/\"\n",
        &[],
    );
    assert_eq!(
        a.core().config.authorize_url,
        "https://login.chinacloudapi.cn/t1/oauth2/authorize"
    );
    assert_eq!(
        a.core().config.token_url,
        "https://login.chinacloudapi.cn/t1/oauth2/token"
    );

    // AAD_TENANT_ID and LOGIN_SERVICE from the environment; the file wins over them.
    let a = azure(
        "[AzureAdOAuthenticator]\nclient_id = \"c\"\n",
        &[
            ("AAD_TENANT_ID", "env-tenant"),
            ("LOGIN_SERVICE", "Contoso"),
        ],
    );
    assert_eq!(
        a.core().config.authorize_url,
        "https://login.microsoftonline.com/env-tenant/oauth2/authorize"
    );
    assert_eq!(a.core().config.login_service, "Contoso");
    assert!(!a.provider().config().multi_tenant());
    let a = azure(
        "[AzureAdOAuthenticator]\nclient_id = \"c\"\ntenant_id = \"file-tenant\"\n",
        &[("AAD_TENANT_ID", "env-tenant")],
    );
    assert_eq!(a.provider().config().tenant_id, "file-tenant");

    // v2.0 endpoints.
    let a = azure(
        "[AzureAdOAuthenticator]\nclient_id = \"c\"\ntenant_id = \"t1\"\nuse_v2_endpoints = true\n",
        &[],
    );
    assert_eq!(
        a.core().config.authorize_url,
        "https://login.microsoftonline.com/t1/oauth2/v2.0/authorize"
    );
    assert_eq!(
        a.core().config.token_url,
        "https://login.microsoftonline.com/t1/oauth2/v2.0/token"
    );
    assert_eq!(
        a.provider()
            .config()
            .discovery_url(hubauth_azuread::EndpointVersion::V2),
        "https://login.microsoftonline.com/t1/v2.0/.well-known/openid-configuration"
    );
    let a = azure(
        "[AzureAdOAuthenticator]\nclient_id = \"c\"\nuse_v2_endpoints = true\n",
        &[],
    );
    assert_eq!(
        a.core().config.authorize_url,
        "https://login.microsoftonline.com/common/oauth2/v2.0/authorize"
    );

    // Explicit URLs win; upstream's OAUTH2_AUTHORIZE_URL does not apply to Azure.
    let a = azure(
        "[AzureAdOAuthenticator]\nclient_id = \"c\"\ntenant_id = \"t1\"\nauthorize_url = \"https://idp.example/a\"\n",
        &[("OAUTH2_AUTHORIZE_URL", "https://env.example/a")],
    );
    assert_eq!(a.core().config.authorize_url, "https://idp.example/a");
    assert_eq!(
        a.core().config.token_url,
        "https://login.microsoftonline.com/t1/oauth2/token"
    );
}

#[test]
fn warnings_deprecations_and_errors() {
    // The display-name warning, and none with a stable claim.
    let a = build(
        "AzureAdOAuthenticator",
        "[AzureAdOAuthenticator]\nclient_id = \"c\"\nallow_all = true\n",
        &[],
    )
    .unwrap();
    let warnings = a.startup_warnings().join("\n");
    assert!(
        warnings.contains("display name, which is neither unique nor stable"),
        "{warnings}"
    );
    assert!(
        warnings.contains("\"oid\"") && warnings.contains("preferred_username"),
        "{warnings}"
    );
    let a = build(
        "AzureAdOAuthenticator",
        "[AzureAdOAuthenticator]\nclient_id = \"c\"\nallow_all = true\nusername_claim = \"oid\"\n",
        &[],
    )
    .unwrap();
    assert!(
        a.startup_warnings().is_empty(),
        "{:?}",
        a.startup_warnings()
    );

    // Deprecated user_groups_claim: upstream's warning and the derived key.
    let a = azure(
        "[AzureAdOAuthenticator]\nclient_id = \"c\"\nuser_groups_claim = \"roles\"\nmanage_groups = true\n",
        &[],
    );
    assert_eq!(
        a.core()
            .config
            .auth_state_groups_key
            .as_ref()
            .unwrap()
            .describe(),
        "user.roles"
    );
    let warnings = a.startup_warnings().join("\n");
    assert!(
        warnings.contains("AzureAdOAuthenticator.user_groups_claim is deprecated in OAuthenticator 17. Use AzureAdOAuthenticator.auth_state_groups_key = 'user.roles'"),
        "{warnings}"
    );
    // An explicit auth_state_groups_key wins.
    let a = azure(
        "[AzureAdOAuthenticator]\nclient_id = \"c\"\nuser_groups_claim = \"roles\"\nauth_state_groups_key = \"user.wids\"\nmanage_groups = true\n",
        &[],
    );
    assert_eq!(
        a.core()
            .config
            .auth_state_groups_key
            .as_ref()
            .unwrap()
            .describe(),
        "user.wids"
    );

    // Group options require manage_groups, as upstream.
    let err = build(
        "AzureAdOAuthenticator",
        "[AzureAdOAuthenticator]\nclient_id = \"c\"\nallowed_groups = [\"g\"]\n",
        &[],
    )
    .err()
    .unwrap();
    assert!(err.contains("AzureAdOAuthenticator.allowed_groups requires AzureAdOAuthenticator.manage_groups to also be set"), "{err}");
    let err = build("AzureAdOAuthenticator", "[AzureAdOAuthenticator]\n", &[])
        .err()
        .unwrap();
    assert!(err.contains("client_id"), "{err}");
    let err = build(
        "AzureAdOAuthenticator",
        "[AzureAdOAuthenticator]\nclient_id = \"c\"\ngraph_url = \"login.microsoftonline.com\"\n",
        &[],
    )
    .err()
    .unwrap();
    assert!(err.contains("graph_url"), "{err}");
    // OAUTH_CLIENT_ID works as for every OAuthenticator.
    assert!(build("AzureAdOAuthenticator", "", &[("OAUTH_CLIENT_ID", "c")]).is_ok());

    // The Local variant: its own class, LocalAuthenticator's options, Azure's defaults.
    let a = build(
        "LocalAzureAdOAuthenticator",
        "[LocalAzureAdOAuthenticator]\nclient_id = \"c\"\ntenant_id = \"t1\"\ncreate_system_users = false\nusername_claim = \"oid\"\n",
        &[],
    )
    .unwrap();
    assert_eq!(a.class_name(), "LocalAzureAdOAuthenticator");
}

// ------------------------------------------------------------------ logins

#[tokio::test]
async fn v1_login_with_groups_admin_and_auth_state() {
    let p = pair(
        "manage_groups = true\nallowed_groups = [\"staff\"]\nadmin_groups = [\"ops\"]\nenable_auth_state = true\n",
        "ada",
    )
    .await;
    let page = client()
        .get(format!("{}login", p.hub_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Sign in with Azure AD"), "{page}");

    let (status, shown, c) = login_as(&p, "ada").await;
    assert_eq!(status, 303);
    assert_eq!(shown.as_deref(), Some("ada"));
    let page = home(&c, &p).await.1;
    assert!(
        page.contains("id=\"admin\">yes<"),
        "ops is an admin group: {page}"
    );

    let state = hubauth_server::auth_state::load(p.hub.state(), "ada")
        .await
        .unwrap()
        .unwrap();
    let user = &state["user"];
    assert_eq!(user["tid"], TENANT);
    assert_eq!(user["name"], "Ada Lovelace");
    assert_eq!(user["ver"], "1.0");
    assert_eq!(user["iss"], format!("https://sts.windows.net/{TENANT}/"));
    assert_eq!(user["oid"], json!(p.mock.oid("ada").unwrap()));
    assert_eq!(user["groups"], json!(["staff", "ops"]));
    for key in [
        "access_token",
        "refresh_token",
        "id_token",
        "token_response",
    ] {
        assert!(!state[key].is_null(), "auth_state.{key}");
    }
    // v1 token endpoint of the tenant, PKCE, client secret in the body.
    let token = &p.mock.requests_to(MockEndpoint::Token)[0];
    assert_eq!(token.path, format!("/{TENANT}/oauth2/token"));
    assert!(token.has_code_verifier());
    assert_eq!(token.client_auth(), ClientAuth::Body);
    let discovery = p.mock.requests_to(MockEndpoint::Discovery);
    assert_eq!(
        discovery[0].path,
        format!("/{TENANT}/.well-known/openid-configuration")
    );

    // bob: allowed by group, not admin; eve: in no allowed group.
    let (status, shown, c) = login_as(&p, "bob").await;
    assert_eq!((status, shown.as_deref()), (303, Some("bob")));
    assert!(home(&c, &p).await.1.contains("id=\"admin\">no<"));
    let (status, _, _) = login_as(&p, "eve").await;
    assert_eq!(status, 403);
    p.stop().await;
    p.mock.shutdown().await;
}

#[tokio::test]
async fn v2_endpoints_login_and_basic_auth() {
    let p = pair(
        "use_v2_endpoints = true\nscope = [\"openid\", \"profile\", \"offline_access\"]\nallowed_users = [\"ada\"]\nbasic_auth = true\nenable_auth_state = true\n",
        "ada",
    )
    .await;
    let (status, shown, _) = login_as(&p, "ada").await;
    assert_eq!((status, shown.as_deref()), (303, Some("ada")));
    let authorize = p.mock.requests_to(MockEndpoint::Authorize);
    assert_eq!(
        authorize[0].path,
        format!("/{TENANT}/oauth2/v2.0/authorize")
    );
    let token = &p.mock.requests_to(MockEndpoint::Token)[0];
    assert_eq!(token.path, format!("/{TENANT}/oauth2/v2.0/token"));
    assert_eq!(token.client_auth(), ClientAuth::Basic);
    let state = hubauth_server::auth_state::load(p.hub.state(), "ada")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state["user"]["ver"], "2.0");
    assert_eq!(state["user"]["iss"], p.mock.issuer_v2(TENANT));
    assert!(
        state["refresh_token"].is_string(),
        "offline_access gives a refresh token"
    );
    let discovery = p.mock.requests_to(MockEndpoint::Discovery);
    assert_eq!(
        discovery[0].path,
        format!("/{TENANT}/v2.0/.well-known/openid-configuration")
    );
    let (status, _, _) = login_as(&p, "bob").await;
    assert_eq!(status, 403, "not in allowed_users");
    p.stop().await;
    p.mock.shutdown().await;
}

#[tokio::test]
async fn allowed_blocked_and_admin_by_user() {
    let p = pair(
        "allowed_users = [\"bob\"]\nadmin_users = [\"ada\"]\nblocked_users = [\"eve\"]\n",
        "ada",
    )
    .await;
    let (status, shown, c) = login_as(&p, "ada").await;
    assert_eq!(
        (status, shown.as_deref()),
        (303, Some("ada")),
        "admins are allowed"
    );
    assert!(home(&c, &p).await.1.contains("id=\"admin\">yes<"));
    let (status, shown, _) = login_as(&p, "bob").await;
    assert_eq!((status, shown.as_deref()), (303, Some("bob")));
    assert_eq!(login_as(&p, "eve").await.0, 403, "blocked");
    assert_eq!(login_as(&p, "hana").await.0, 403, "not allowed");
    p.stop().await;
    p.mock.shutdown().await;

    // allow_all never lets a blocked user in.
    let p = pair("allow_all = true\nblocked_users = [\"eve\"]\n", "eve").await;
    assert_eq!(login_as(&p, "eve").await.0, 403);
    assert_eq!(login_as(&p, "bob").await.0, 303);
    p.stop().await;
    p.mock.shutdown().await;
}

#[tokio::test]
async fn username_claim_name_oid_and_preferred_username() {
    // Upstream's default: the display name, normalized (lowercased).
    let p = pair(
        "allow_all = true\n# upstream's default username_claim\n",
        "ada",
    )
    .await;
    let (status, shown, _) = login_as(&p, "ada").await;
    assert_eq!((status, shown.as_deref()), (303, Some("ada lovelace")));
    p.stop().await;
    p.mock.shutdown().await;

    let p = pair("allow_all = true\nusername_claim = \"oid\"\n", "ada").await;
    let oid = p.mock.oid("ada").unwrap();
    let (status, shown, _) = login_as(&p, "ada").await;
    assert_eq!((status, shown), (303, Some(oid)));
    p.stop().await;
    p.mock.shutdown().await;

    // v1 ID tokens have no preferred_username (start-up warns): every login fails.
    let p = pair(
        "allow_all = true\nusername_claim = \"preferred_username\"\n",
        "bob",
    )
    .await;
    assert_eq!(login_as(&p, "bob").await.0, 403);
    p.stop().await;
    p.mock.shutdown().await;

    // v2.0 ID tokens have it with the profile scope, and not without.
    let v2 = "allow_all = true\nuse_v2_endpoints = true\nusername_claim = \"preferred_username\"\n";
    let p = pair(&format!("{v2}scope = [\"openid\", \"profile\"]\n"), "bob").await;
    let (status, shown, _) = login_as(&p, "bob").await;
    assert_eq!((status, shown.as_deref()), (303, Some("bob")));
    p.stop().await;
    p.mock.shutdown().await;
    let p = pair(v2, "bob").await;
    assert_eq!(login_as(&p, "bob").await.0, 403);
    p.stop().await;
    p.mock.shutdown().await;
}

#[tokio::test]
async fn group_overage_reads_groups_from_graph() {
    let p = pair(
        "manage_groups = true\nallowed_groups = [\"staff\"]\nadmin_groups = [\"g2\"]\nenable_auth_state = true\n",
        "grace",
    )
    .await;
    let (status, shown, c) = login_as(&p, "grace").await;
    assert_eq!((status, shown.as_deref()), (303, Some("grace")));
    assert!(
        home(&c, &p).await.1.contains("id=\"admin\">yes<"),
        "g2 came from Graph"
    );
    let graph = p.mock.requests_to(MockEndpoint::Graph);
    assert_eq!(graph.len(), 1);
    assert_eq!(graph[0].path, "/v1.0/me/getMemberObjects");
    assert_eq!(graph[0].authorization, Some(AuthorizationScheme::Bearer));
    let state = hubauth_server::auth_state::load(p.hub.state(), "grace")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state["user"]["groups"], json!(["staff", "g1", "g2"]));
    assert_eq!(state["user"]["_claim_names"]["groups"], "src1");

    // hasgroups: true is an overage signal too.
    let (status, shown, _) = login_as(&p, "hana").await;
    assert_eq!((status, shown.as_deref()), (303, Some("hana")));
    // A user with the groups claim causes no Graph call.
    login_as(&p, "bob").await;
    assert_eq!(p.mock.requests_to(MockEndpoint::Graph).len(), 2);

    // Graph down: the login is refused with a 502, not let in without groups.
    p.mock.fail_next(
        MockEndpoint::Graph,
        Fault::Status(503, "{\"error\":{\"code\":\"serviceNotAvailable\"}}".into()),
    );
    let (status, _, _) = login_as(&p, "grace").await;
    assert_eq!(status, 502);
    // Graph refuses the token (missing permission): 403 with a clear message.
    p.mock.fail_next(MockEndpoint::Graph, Fault::Status(403, "{\"error\":{\"code\":\"Authorization_RequestDenied\",\"message\":\"Insufficient privileges to complete the operation.\"}}".into()));
    p.mock.set_auto_approve(Some("grace"));
    let c = client();
    let (status, body) = oauth_login(&c, &p).await;
    assert_eq!(status, 403);
    assert!(
        body.contains("Microsoft Graph refused to list your groups"),
        "{body}"
    );
    p.mock.fail_next(MockEndpoint::Graph, Fault::Garbage);
    assert_eq!(login_as(&p, "grace").await.0, 502);
    p.stop().await;
    p.mock.shutdown().await;

    // Fallback off: upstream's behaviour (no groups), so no allowed group matches.
    let p = pair(
        "manage_groups = true\nallowed_groups = [\"staff\"]\ngraph_groups_fallback = false\n",
        "grace",
    )
    .await;
    assert_eq!(login_as(&p, "grace").await.0, 403);
    assert!(p.mock.requests_to(MockEndpoint::Graph).is_empty());
    p.stop().await;
    p.mock.shutdown().await;
}

#[tokio::test]
async fn forged_unsigned_and_wrong_id_tokens_are_refused() {
    // v1: the token endpoint's ID tokens are unsigned and trusted over validated TLS,
    // but their claims are checked all the same, and a signature that is there must hold.
    let p = pair("allow_all = true\n", "ada").await;
    assert_eq!(login_as(&p, "ada").await.0, 303, "a good token first");
    for tamper in [
        Tamper::BadSignature,
        Tamper::WrongAudience,
        Tamper::Expired,
        Tamper::WrongNonce,
        Tamper::OtherTenant,
    ] {
        p.mock.tamper_next_id_token(tamper);
        p.mock.set_auto_approve(Some("ada"));
        let c = client();
        let (status, body) = oauth_login(&c, &p).await;
        assert_eq!(status, 403, "{tamper:?}: {body}");
        assert!(body.contains("Login refused"), "{tamper:?}: {body}");
        assert_eq!(home(&c, &p).await.0, 302, "{tamper:?}: no session");
    }
    p.stop().await;
    p.mock.shutdown().await;
}

/// The ID token's `iss` must be the tenant's issuer exactly: v1 issuers end in `/`,
/// v2.0 issuers do not, and a token with the slash added or dropped is refused.
#[tokio::test]
async fn azure_issuer_with_trailing_slash_changed_is_refused() {
    for (extra, found) in [
        (
            "allow_all = true\n",
            format!("https://sts.windows.net/{TENANT}\""),
        ),
        (
            "allow_all = true\nuse_v2_endpoints = true\nscope = [\"openid\", \"profile\"]\n",
            format!("/{TENANT}/v2.0/\""),
        ),
    ] {
        let p = pair(extra, "ada").await;
        assert_eq!(login_as(&p, "ada").await.0, 303, "{extra}: a good token");
        p.mock.tamper_next_id_token(Tamper::IssuerTrailingSlash);
        let (status, _, _) = login_as(&p, "ada").await;
        assert_eq!(status, 403, "{extra}");
        p.mock.tamper_next_id_token(Tamper::IssuerTrailingSlash);
        p.mock.set_auto_approve(Some("ada"));
        let (_, body) = oauth_login(&client(), &p).await;
        let body = body.replace("&quot;", "\"").replace("&#x2f;", "/");
        assert!(body.contains("was issued by"), "{body}");
        assert!(body.contains(&found), "{found}: {body}");
        p.stop().await;
        p.mock.shutdown().await;
    }
}

#[tokio::test]
async fn azure_id_token_with_untrusted_extra_audience_is_refused_unless_trusted() {
    let p = pair("allow_all = true\n", "ada").await;
    p.mock.tamper_next_id_token(Tamper::UntrustedExtraAudience);
    p.mock.set_auto_approve(Some("ada"));
    let c = client();
    let (status, body) = oauth_login(&c, &p).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("not a trusted audience"), "{body}");
    assert_eq!(home(&c, &p).await.0, 302, "no session");
    p.stop().await;
    p.mock.shutdown().await;

    let p = pair(
        "allow_all = true\ntrusted_audiences = [\"00000000-0000-0000-0000-0000000000bb\"]\n",
        "ada",
    )
    .await;
    p.mock.tamper_next_id_token(Tamper::UntrustedExtraAudience);
    assert_eq!(login_as(&p, "ada").await.0, 303, "a trusted extra audience");
    p.stop().await;
    p.mock.shutdown().await;
}

#[tokio::test]
async fn azure_id_token_with_wrong_at_hash_is_refused() {
    let p = pair("allow_all = true\n", "ada").await;
    p.mock.tamper_next_id_token(Tamper::WrongAtHash);
    p.mock.set_auto_approve(Some("ada"));
    let c = client();
    let (status, body) = oauth_login(&c, &p).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("at_hash"), "{body}");
    assert_eq!(home(&c, &p).await.0, 302, "no session");
    assert_eq!(
        login_as(&p, "ada").await.0,
        303,
        "the next honest token works"
    );
    p.stop().await;
    p.mock.shutdown().await;
}

/// nOAuth: Azure AD's `email` claim is not verified (any tenant admin can set any address
/// on a user), so it must not become the username unless Azure says the domain is
/// verified (`xms_edov`) or the admin accepts unverified emails.
#[tokio::test]
async fn azure_unverified_email_cannot_become_the_username() {
    let add = |b: hubauth_azuread::mock::MockAzureAdBuilder| {
        b.user(MockUser::new(TENANT, "ivy", "Ivy").email("ada@contoso.example"))
            .user(
                MockUser::new(TENANT, "jon", "Jon")
                    .email("jon@contoso.example")
                    .email_domain_verified(true),
            )
            .user(
                MockUser::new(TENANT, "kim", "Kim")
                    .email("kim@contoso.example")
                    .email_domain_verified(false),
            )
    };
    let extra = "allow_all = true\nusername_claim = \"email\"\n";
    let p = pair_with(extra, &[], "ivy", add).await;
    for user in ["ivy", "kim"] {
        p.mock.set_auto_approve(Some(user));
        let c = client();
        let (status, body) = oauth_login(&c, &p).await;
        assert_eq!(status, 403, "{user}: {body}");
        assert!(
            body.contains("Login with unverified email"),
            "{user}: {body}"
        );
        assert_eq!(home(&c, &p).await.0, 302, "{user}: no session");
    }
    let (status, shown, _) = login_as(&p, "jon").await;
    assert_eq!(
        (status, shown.as_deref()),
        (303, Some("jon@contoso.example")),
        "xms_edov: true"
    );
    p.stop().await;
    p.mock.shutdown().await;

    let p = pair_with(
        &format!("{extra}allow_unverified_email = true\n"),
        &[],
        "ivy",
        add,
    )
    .await;
    let (status, shown, _) = login_as(&p, "ivy").await;
    assert_eq!(
        (status, shown.as_deref()),
        (303, Some("ada@contoso.example"))
    );
    p.stop().await;
    p.mock.shutdown().await;
}

#[tokio::test]
async fn token_from_another_tenant_is_refused_unless_multi_tenant() {
    // Single tenant: a correctly signed token of another tenant is refused.
    let p = pair("allow_all = true\n", "ada").await;
    p.mock.tamper_next_id_token(Tamper::OtherTenant);
    let c = client();
    let (status, body) = oauth_login(&c, &p).await;
    assert_eq!(status, 403);
    assert!(body.contains("another tenant"), "{body}");
    // A user of another tenant cannot even sign in at this tenant's authority.
    p.mock.set_auto_approve(Some("zoe"));
    let start = hubauth_harness::start_login(&c, &p).await;
    let at_idp = c.get(location(&start)).send().await.unwrap();
    let back = location(&at_idp);
    assert!(
        back.contains("error=access_denied") && back.contains("AADSTS50020"),
        "{back}"
    );
    let refused = c.get(&back).send().await.unwrap();
    assert_eq!(refused.status(), 400);
    p.stop().await;
    p.mock.shutdown().await;

    // Multi-tenant ("organizations"): users of both tenants, each token checked against
    // the issuer template with its own tid.
    for tenant in ["organizations", "common"] {
        let p = pair(
            &format!("tenant_id = \"{tenant}\"\nallow_all = true\nenable_auth_state = true\n"),
            "zoe",
        )
        .await;
        let (status, shown, _) = login_as(&p, "zoe").await;
        assert_eq!((status, shown.as_deref()), (303, Some("zoe")), "{tenant}");
        let (status, shown, _) = login_as(&p, "ada").await;
        assert_eq!((status, shown.as_deref()), (303, Some("ada")), "{tenant}");
        let state = hubauth_server::auth_state::load(p.hub.state(), "zoe")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(state["user"]["tid"], TENANT_B);
        let authorize = p.mock.requests_to(MockEndpoint::Authorize);
        assert_eq!(authorize[0].path, format!("/{tenant}/oauth2/authorize"));
        p.stop().await;
        p.mock.shutdown().await;
    }
    // No tenant at all: upstream's tenant-less v1 URLs, multi-tenant.
    let p = pair_with("allow_all = true\n", &[("AAD_TENANT_ID", "")], "ada", |b| b).await;
    let (status, shown, _) = login_as(&p, "ada").await;
    assert_eq!((status, shown.as_deref()), (303, Some("ada")));
    assert_eq!(
        p.mock.requests_to(MockEndpoint::Token)[0].path,
        "/oauth2/token"
    );
    p.stop().await;
    p.mock.shutdown().await;
}

#[tokio::test]
async fn tenant_from_environment_and_domain_name() {
    let p = pair_with(
        "allow_all = true\n",
        &[("AAD_TENANT_ID", "contoso.example")],
        "ada",
        |b| b,
    )
    .await;
    let (status, shown, _) = login_as(&p, "ada").await;
    assert_eq!((status, shown.as_deref()), (303, Some("ada")));
    assert_eq!(
        p.mock.requests_to(MockEndpoint::Authorize)[0].path,
        "/contoso.example/oauth2/authorize"
    );
    p.mock.tamper_next_id_token(Tamper::OtherTenant);
    assert_eq!(oauth_login(&client(), &p).await.0, 403);
    p.stop().await;
    p.mock.shutdown().await;
}

#[tokio::test]
async fn refresh_uses_the_refresh_token_and_disabled_users_lose_access() {
    let p = pair(
        "manage_groups = true\nallowed_groups = [\"staff\"]\nenable_auth_state = true\nauth_refresh_age = 10\n",
        "bob",
    )
    .await;
    let (status, _, c) = login_as(&p, "bob").await;
    assert_eq!(status, 303);
    let before = hubauth_server::auth_state::load(p.hub.state(), "bob")
        .await
        .unwrap()
        .unwrap();

    // Within auth_refresh_age nothing happens.
    p.clock.advance(5);
    assert_eq!(home(&c, &p).await.0, 200);
    assert_eq!(p.mock.requests_to(MockEndpoint::Token).len(), 1);

    // Past it: a refresh token grant, new tokens.
    p.clock.advance(6);
    assert_eq!(home(&c, &p).await.0, 200);
    let grants: Vec<_> = p
        .mock
        .requests_to(MockEndpoint::Token)
        .iter()
        .filter_map(|r| r.grant_type().map(str::to_owned))
        .collect();
    assert_eq!(grants, vec!["authorization_code", "refresh_token"]);
    let after = hubauth_server::auth_state::load(p.hub.state(), "bob")
        .await
        .unwrap()
        .unwrap();
    assert_ne!(before["access_token"], after["access_token"]);
    assert_ne!(
        before["refresh_token"], after["refresh_token"],
        "Azure rotates refresh tokens"
    );

    // Removed from the allowed group at Azure: access ends at the next refresh.
    p.mock.set_groups("bob", &["visitors"]);
    p.clock.advance(11);
    assert_eq!(home(&c, &p).await.0, 302);
    p.mock.set_groups("bob", &["staff"]);

    // Disabled at Azure: the refresh token is refused and the session ends.
    let (status, _, c) = login_as(&p, "bob").await;
    assert_eq!(status, 303);
    assert!(p.mock.disable_user("bob"));
    p.clock.advance(11);
    assert_eq!(home(&c, &p).await.0, 302, "a disabled user loses access");
    // ... and cannot log in again.
    p.mock.set_auto_approve(Some("bob"));
    let c = client();
    let start = hubauth_harness::start_login(&c, &p).await;
    let back = location(&c.get(location(&start)).send().await.unwrap());
    assert!(back.contains("AADSTS50057"), "{back}");
    p.stop().await;
    p.mock.shutdown().await;
}

#[tokio::test]
async fn provider_outage_during_refresh_keeps_the_session_and_login_errors_are_clear() {
    let p = pair(
        "allow_all = true\nenable_auth_state = true\nauth_refresh_age = 10\n",
        "ada",
    )
    .await;
    let (_, _, c) = login_as(&p, "ada").await;
    p.mock
        .fail_next(MockEndpoint::Token, Fault::Status(503, "down".into()));
    p.clock.advance(11);
    assert_eq!(home(&c, &p).await.0, 200, "an outage is not a logout");

    // Token endpoint errors at login: Azure's error_description becomes a 403.
    p.mock.fail_next(
        MockEndpoint::Token,
        Fault::Status(
            400,
            json!({"error": "invalid_grant", "error_description": "AADSTS70008: expired"})
                .to_string(),
        ),
    );
    let (status, body) = oauth_login(&client(), &p).await;
    assert_eq!(status, 403);
    assert!(
        body.contains("An access token was not returned: AADSTS70008: expired"),
        "{body}"
    );
    // Discovery or keys down: 502 naming the step; the next login works again.
    p.mock
        .fail_next(MockEndpoint::Keys, Fault::Status(500, "boom".into()));
    let fresh = pair("allow_all = true\n", "ada").await;
    fresh
        .mock
        .fail_next(MockEndpoint::Discovery, Fault::Status(500, "boom".into()));
    assert_eq!(oauth_login(&client(), &fresh).await.0, 502);
    assert_eq!(
        oauth_login(&client(), &fresh).await.0,
        303,
        "discovery is retried"
    );
    fresh.stop().await;
    fresh.mock.shutdown().await;
    p.stop().await;
    p.mock.shutdown().await;
}

// ------------------------------------------------------------------ the mock itself

#[tokio::test]
async fn mock_speaks_azure_discovery_keys_and_graph_paging() {
    let mock = MockAzureAd::builder()
        .tenant(TENANT, &["contoso.example"])
        .graph_page_size(2)
        .start()
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let get = |path: String| {
        let http = http.clone();
        async move {
            let r = http.get(path).send().await.unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let o = mock.origin().to_owned();
    let (status, v2) = get(format!(
        "{o}/{TENANT}/v2.0/.well-known/openid-configuration"
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(v2["issuer"], format!("{o}/{TENANT}/v2.0"));
    assert_eq!(v2["jwks_uri"], format!("{o}/{TENANT}/discovery/v2.0/keys"));
    assert_eq!(
        v2["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    let (_, v1) = get(format!(
        "{o}/contoso.example/.well-known/openid-configuration"
    ))
    .await;
    assert_eq!(v1["issuer"], format!("https://sts.windows.net/{TENANT}/"));
    assert_eq!(v1["jwks_uri"], format!("{o}/common/discovery/keys"));
    let (_, common) = get(format!("{o}/common/v2.0/.well-known/openid-configuration")).await;
    assert_eq!(common["issuer"], format!("{o}/{{tenantid}}/v2.0"));
    let (status, keys) = get(format!("{o}/common/discovery/keys")).await;
    assert_eq!(status, 200);
    assert_eq!(keys["keys"][0]["kty"], "RSA");
    assert_eq!(keys["keys"][0]["use"], "sig");
    let (status, err) = get(format!(
        "{o}/nope.example/v2.0/.well-known/openid-configuration"
    ))
    .await;
    assert_eq!(status, 400);
    assert!(
        err["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS90002")
    );

    // Graph without a token: 401 in Graph's error shape.
    let (status, err) = get(format!("{o}/v1.0/me/memberOf")).await;
    assert_eq!(status, 401);
    assert_eq!(err["error"]["code"], "InvalidAuthenticationToken");
    mock.shutdown().await;
}

#[tokio::test]
async fn graph_paging_with_next_link() {
    // A login against the mock gives a real access token for Graph.
    let p = pair("allow_all = true\nenable_auth_state = true\n", "grace").await;
    login_as(&p, "grace").await;
    let state = hubauth_server::auth_state::load(p.hub.state(), "grace")
        .await
        .unwrap()
        .unwrap();
    let token = state["access_token"].as_str().unwrap().to_owned();
    let http = client();
    let mut url = format!("{}/v1.0/me/memberOf?$top=2", p.mock.origin());
    let mut ids = Vec::new();
    let mut pages = 0;
    loop {
        let page: Value = http
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        pages += 1;
        for item in page["value"].as_array().unwrap() {
            assert_eq!(item["@odata.type"], "#microsoft.graph.group");
            ids.push(item["id"].as_str().unwrap().to_owned());
        }
        match page["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(pages, 2);
    assert_eq!(ids, vec!["staff", "g1", "g2"]);
    // The library's Graph client reads the same groups.
    let groups = hubauth_azuread::graph::member_groups(&http, p.mock.origin(), &token)
        .await
        .unwrap();
    assert_eq!(groups, vec!["staff", "g1", "g2"]);
    let refused = hubauth_azuread::graph::member_groups(&http, p.mock.origin(), "bogus")
        .await
        .unwrap_err();
    assert!(matches!(
        refused,
        hubauth_azuread::AzureError::GraphRefused { status: 401 }
    ));
    p.stop().await;
    p.mock.shutdown().await;
}

#[tokio::test]
async fn demo_mock_logs_in_with_graph_groups() {
    let site = Loopback::bind().await.unwrap();
    let (mock, table) = start_demo_mock(&site.callback_url()).await.unwrap();
    let p = start_hub(site, mock, &table, &[]).await;
    // The account picker is shown without auto-approve.
    let c = client();
    let start = hubauth_harness::start_login(&c, &p).await;
    let picker = c.get(location(&start)).send().await.unwrap();
    assert_eq!(picker.status(), 200);
    assert!(picker.text().await.unwrap().contains("Pick an account"));
    let (status, shown, _) = login_as(&p, "grace@contoso.onmicrosoft.com").await;
    assert_eq!(
        (status, shown.as_deref()),
        (303, Some("grace@contoso.onmicrosoft.com"))
    );
    assert_eq!(
        p.mock.requests_to(MockEndpoint::Graph).len(),
        1,
        "250 groups: overage"
    );
    let (status, _, c) = login_as(&p, "adele@contoso.onmicrosoft.com").await;
    assert_eq!(status, 303);
    assert!(home(&c, &p).await.1.contains("id=\"admin\">yes<"));
    assert_eq!(login_as(&p, "dan@contoso.onmicrosoft.com").await.0, 403);
    let _ = OTHER_TENANT;
    p.stop().await;
    p.mock.shutdown().await;
}

// ------------------------------------------------- the service as documented (#21)

/// The header of a JWT, decoded.
fn jwt_header(token: &str) -> Value {
    use base64::Engine as _;
    let header = token.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn unsigned_id_tokens_are_trusted_only_from_the_token_endpoint_over_validated_tls() {
    // v1 over https, certificate validated: the documented unsigned ID token is used,
    // its claims checked.
    let p = pair("allow_all = true\nenable_auth_state = true\n", "ada").await;
    assert_eq!(login_as(&p, "ada").await.0, 303);
    let state = hubauth_server::auth_state::load(p.hub.state(), "ada")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        jwt_header(state["id_token"].as_str().unwrap())["alg"],
        "none"
    );
    p.mock.tamper_next_id_token(Tamper::WrongNonce);
    assert_eq!(login_as(&p, "ada").await.0, 403, "claims still checked");
    p.stop().await;
    p.mock.shutdown().await;

    // https without certificate validation: TLS proves nothing, so neither does the token.
    let p = pair("allow_all = true\nvalidate_server_cert = false\n", "ada").await;
    p.mock.set_auto_approve(Some("ada"));
    let (status, body) = oauth_login(&client(), &p).await;
    assert_eq!(status, 403);
    assert!(body.contains("not signed"), "{body}");
    p.stop().await;
    p.mock.shutdown().await;

    // Plain http: v1's unsigned tokens are refused, v2.0's signed ones accepted, and a
    // v2.0 token stripped of its signature refused.
    let p = pair_with("allow_all = true\n", &[], "ada", |b| b.plain_http()).await;
    assert_eq!(login_as(&p, "ada").await.0, 403);
    p.stop().await;
    p.mock.shutdown().await;
    let v2 = "allow_all = true\nuse_v2_endpoints = true\nscope = [\"openid\", \"profile\"]\n";
    let p = pair_with(v2, &[], "ada", |b| b.plain_http()).await;
    assert_eq!(login_as(&p, "ada").await.0, 303);
    p.mock.tamper_next_id_token(Tamper::AlgNone);
    assert_eq!(login_as(&p, "ada").await.0, 403);
    p.stop().await;
    p.mock.shutdown().await;
}

#[tokio::test]
async fn v1_refresh_without_an_id_token_rechecks_groups_at_graph() {
    let rules = "manage_groups = true\nallowed_groups = [\"staff\"]\nenable_auth_state = true\nauth_refresh_age = 10\n";
    let p = pair(rules, "bob").await;
    let (status, _, c) = login_as(&p, "bob").await;
    assert_eq!(status, 303);
    p.mock.clear_requests();
    p.clock.advance(11);
    assert_eq!(home(&c, &p).await.0, 200);
    let state = hubauth_server::auth_state::load(p.hub.state(), "bob")
        .await
        .unwrap()
        .unwrap();
    assert!(
        state["token_response"].get("id_token").is_none(),
        "v1 refreshes carry no ID token"
    );
    let graph: Vec<String> = p
        .mock
        .requests_to(MockEndpoint::Graph)
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert_eq!(graph, ["/v1.0/me", "/v1.0/me/getMemberObjects"]);
    // The groups come from Graph: out of the allowed group, out of the hub.
    p.mock.set_groups("bob", &["visitors"]);
    p.clock.advance(11);
    assert_eq!(home(&c, &p).await.0, 302);

    // Graph naming another user than the one who signed in ends the session; Graph
    // answering garbage is an outage, which keeps it until Graph answers again.
    let (_, _, c) = login_as(&p, "ada").await;
    p.mock.fail_next(
        MockEndpoint::Graph,
        Fault::Status(200, json!({"id": "someone-else"}).to_string()),
    );
    p.clock.advance(11);
    assert_eq!(home(&c, &p).await.0, 302, "another user at Graph");
    let (_, _, c) = login_as(&p, "ada").await;
    p.mock.fail_next(MockEndpoint::Graph, Fault::Garbage);
    p.clock.advance(11);
    assert_eq!(home(&c, &p).await.0, 200, "an outage is not a logout");
    p.stop().await;
    p.mock.shutdown().await;

    // Without Graph, nothing can prove the groups: a new sign-in.
    let p = pair(&format!("{rules}graph_groups_fallback = false\n"), "bob").await;
    let (_, _, c) = login_as(&p, "bob").await;
    p.clock.advance(11);
    assert_eq!(home(&c, &p).await.0, 302);
    assert!(p.mock.requests_to(MockEndpoint::Graph).is_empty());
    p.stop().await;
    p.mock.shutdown().await;

    // When no group rule applies, the successful refresh grant is enough (the account
    // is enabled): the session goes on without Graph.
    let p = pair(
        "allow_all = true\nenable_auth_state = true\nauth_refresh_age = 10\n",
        "bob",
    )
    .await;
    let (_, _, c) = login_as(&p, "bob").await;
    p.clock.advance(11);
    assert_eq!(home(&c, &p).await.0, 200);
    assert_eq!(p.mock.requests_to(MockEndpoint::Token).len(), 2);
    assert!(p.mock.requests_to(MockEndpoint::Graph).is_empty());
    p.stop().await;
    p.mock.shutdown().await;
}

#[tokio::test]
async fn graph_answers_only_a_graph_token_with_a_permission() {
    let overage = "manage_groups = true\nallowed_groups = [\"staff\"]\n";
    // v1 asks for Microsoft Graph's resource, so overage users get in.
    let p = pair(overage, "grace").await;
    assert_eq!(login_as(&p, "grace").await.0, 303);
    let token = &p.mock.requests_to(MockEndpoint::Token)[0];
    assert_eq!(token.form_value("resource"), Some(p.mock.origin()));
    p.stop().await;
    p.mock.shutdown().await;

    // A token for another resource: Graph says 401, the login is refused.
    let other =
        format!("{overage}token_params = {{ resource = \"https://management.azure.com\" }}\n");
    let p = pair(&other, "grace").await;
    p.mock.set_auto_approve(Some("grace"));
    let (status, body) = oauth_login(&client(), &p).await;
    assert_eq!(status, 403);
    assert!(body.contains("HTTP 401"), "{body}");
    p.stop().await;
    p.mock.shutdown().await;

    // An app registration without a Graph permission: Graph says 403.
    let p = pair_with(overage, &[], "grace", |b| b.graph_permissions(&[])).await;
    p.mock.set_auto_approve(Some("grace"));
    let (status, body) = oauth_login(&client(), &p).await;
    assert_eq!(status, 403);
    assert!(body.contains("HTTP 403"), "{body}");
    p.stop().await;
    p.mock.shutdown().await;

    // v2.0 adds Graph's User.Read to the scopes...
    let v2 = format!("{overage}use_v2_endpoints = true\nscope = [\"openid\", \"profile\"]\n");
    let p = pair(&v2, "grace").await;
    assert_eq!(login_as(&p, "grace").await.0, 303);
    let authorize = &p.mock.requests_to(MockEndpoint::Authorize)[0];
    let scope = authorize.query_value("scope").unwrap();
    assert!(
        scope.ends_with(&format!("{}/User.Read", p.mock.origin())),
        "{scope}"
    );
    p.stop().await;
    p.mock.shutdown().await;

    // ... unless another resource's scope is asked for: its token is refused by Graph.
    let v2 = format!(
        "{overage}use_v2_endpoints = true\nscope = [\"openid\", \"profile\", \"api://reports/read\"]\n"
    );
    let p = pair(&v2, "grace").await;
    assert_eq!(login_as(&p, "grace").await.0, 403);
    p.stop().await;
    p.mock.shutdown().await;
}

#[test]
fn startup_warns_of_claims_and_scopes_the_endpoints_never_send() {
    let warnings = |table: &str| {
        build(
            "AzureAdOAuthenticator",
            &format!("[AzureAdOAuthenticator]\nclient_id = \"c\"\nallow_all = true\n{table}"),
            &[],
        )
        .unwrap()
        .startup_warnings()
        .join("\n")
    };
    let v1 = warnings("username_claim = \"preferred_username\"\n");
    assert!(v1.contains("which v1 ID tokens do not have"), "{v1}");
    assert!(warnings("username_claim = \"upn\"\n").is_empty());
    let v2 = warnings("use_v2_endpoints = true\nusername_claim = \"oid\"\n");
    assert!(v2.contains("only with the \"profile\" scope"), "{v2}");
    assert!(
        warnings("use_v2_endpoints = true\nusername_claim = \"oid\"\nscope = [\"profile\"]\n")
            .is_empty()
    );
    let email =
        warnings("use_v2_endpoints = true\nusername_claim = \"email\"\nscope = [\"profile\"]\n");
    assert!(email.contains("only with the \"email\" scope"), "{email}");
    let other = warnings(
        "use_v2_endpoints = true\nusername_claim = \"oid\"\nscope = [\"profile\", \"api://reports/read\"]\n",
    );
    assert!(
        other.contains("another resource than Microsoft Graph"),
        "{other}"
    );
    // The v2.0 scope list gets Graph's User.Read (Graph lookups need it).
    let a = azure(
        "[AzureAdOAuthenticator]\nclient_id = \"c\"\nuse_v2_endpoints = true\nscope = [\"profile\"]\n",
        &[],
    );
    assert_eq!(
        a.core().config.scope,
        ["openid", "profile", "https://graph.microsoft.com/User.Read"]
    );
}

#[tokio::test]
async fn organizations_and_consumers_admit_the_accounts_microsoft_says() {
    let v2 = "allow_all = true\nuse_v2_endpoints = true\nscope = [\"openid\", \"profile\"]\n";
    // organizations: work and school accounts of any tenant, no personal account.
    let p = pair(&format!("{v2}tenant_id = \"organizations\"\n"), "ada").await;
    assert_eq!(login_as(&p, "ada").await.0, 303);
    assert_eq!(login_as(&p, "zoe").await.0, 303);
    assert_ne!(login_as(&p, "pat").await.0, 303);
    p.stop().await;
    p.mock.shutdown().await;

    // consumers: personal accounts only; their issuer is the consumers tenant's.
    let p = pair(&format!("{v2}tenant_id = \"consumers\"\n"), "pat").await;
    assert_eq!(login_as(&p, "pat").await.0, 303);
    assert_ne!(login_as(&p, "ada").await.0, 303);
    p.stop().await;
    p.mock.shutdown().await;

    // A hub configured for organizations never takes a personal account's token, even
    // from endpoints that issue one (here: common's).
    let hub_config = format!(
        "{v2}tenant_id = \"organizations\"\nauthorize_url = \"{{origin}}/common/oauth2/v2.0/authorize\"\ntoken_url = \"{{origin}}/common/oauth2/v2.0/token\"\n"
    );
    let p = pair(&hub_config, "pat").await;
    p.mock.set_auto_approve(Some("pat"));
    let (status, body) = oauth_login(&client(), &p).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("another tenant"), "{body}");
    p.stop().await;
    p.mock.shutdown().await;
}

#[tokio::test]
async fn apps_with_custom_signing_keys_are_verified_with_their_appid_keys() {
    let v2 = "allow_all = true\nuse_v2_endpoints = true\nscope = [\"openid\", \"profile\"]\n";
    let p = pair_with(v2, &[], "ada", |b| b.custom_signing_key(CLIENT)).await;
    assert_eq!(login_as(&p, "ada").await.0, 303);
    let keys = p.mock.requests_to(MockEndpoint::Keys);
    assert!(
        keys.iter().any(|r| r.query_value("appid") == Some(CLIENT)),
        "{keys:?}"
    );
    p.mock.tamper_next_id_token(Tamper::BadSignature);
    assert_eq!(login_as(&p, "ada").await.0, 403);
    p.stop().await;
    p.mock.shutdown().await;
}

use hubauth_harness::logout;

#[tokio::test]
async fn logout_ends_the_hub_session_and_signs_out_at_azure() {
    // Back to a registered URI (the hub's login page), or Azure's own page otherwise.
    for (return_to, registered) in [
        ("{hub}/hub/login", true),
        ("https://elsewhere.example/", false),
    ] {
        let extra = format!(
            "allow_all = true\nlogout_redirect_url = \"{{origin}}/{TENANT}/oauth2/v2.0/logout?post_logout_redirect_uri={return_to}\"\n"
        );
        let p = pair(&extra, "ada").await;
        let (status, shown, c) = login_as(&p, "ada").await;
        assert_eq!((status, shown.as_deref()), (303, Some("ada")));
        let out = logout(&c, &p).await;
        assert_eq!(out.status(), 302);
        let to_azure = location(&out);
        assert!(to_azure.contains("/oauth2/v2.0/logout"), "{to_azure}");
        let at_azure = c.get(&to_azure).send().await.unwrap();
        if registered {
            assert_eq!(at_azure.status(), 302);
            assert!(location(&at_azure).ends_with("/hub/login"));
        } else {
            assert_eq!(at_azure.status(), 200);
            assert!(at_azure.text().await.unwrap().contains("signed out"));
        }
        assert_eq!(p.mock.requests_to(MockEndpoint::Logout).len(), 1);
        assert_eq!(home(&c, &p).await.0, 302, "the hub session is gone");
        p.stop().await;
        p.mock.shutdown().await;
    }
}
