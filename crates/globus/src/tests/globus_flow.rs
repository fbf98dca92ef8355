//! GlobusOAuthenticator end to end over loopback HTTP: a real hub against the Globus mock.
//! The hub, the browser and the login through the mock are the shared harness's
//! (`hubauth-harness`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_config::{ConfigError, Registry};
use hubauth_globus::mock::{
    Endpoint, GlobusMock, MockGroup, MockHandle, MockUser, globus_client_secret,
};
use hubauth_harness::{Build, Loopback, Provider, arc, local_or};
use serde_json::json;

pub(super) use hubauth_harness::{
    auth_state, authorize_url, client, home, login_as, logout, query, stored_user,
};

pub(super) const STAFF: &str = "11111111-0000-4000-8000-000000000001";
pub(super) const ADMINS: &str = "11111111-0000-4000-8000-000000000002";
pub(super) const GROUPS_SCOPE: &str =
    "urn:globus:auth:scope:groups.api.globus.org:view_my_groups_and_memberships";
pub(super) const TRANSFER_SCOPE: &str = "urn:globus:auth:scope:transfer.api.globus.org:all";

fn staff() -> MockGroup {
    MockGroup::new(STAFF, "staff")
}

fn users() -> Vec<MockUser> {
    vec![
        MockUser::new("alice", "globusid.org").group(staff()),
        MockUser::new("admin", "globusid.org")
            .group(staff())
            .group(MockGroup::new(ADMINS, "admins")),
        MockUser::new("bob", "globusid.org"),
        MockUser::new("carol", "globusid.org").group(staff()),
        MockUser::new("dave", "globusid.org"),
        MockUser::new("mallory", "example.edu").group(staff()),
        MockUser::new("dummy", "example.com").email("user1@allowed.example.com"),
        MockUser::new("wash", "legitshipping.com@serenity.com"),
        // Linked identities (listed before the one logged in with, in identity_set).
        MockUser::new("ada", "globusid.org").linked(MockUser::new("lovelace", "example.edu")),
        MockUser::new("eve", "example.edu").linked(MockUser::new("eve", "globusid.org")),
    ]
}

/// A hub against the Globus mock, and what the tests need to know of its configuration.
pub(super) struct Pair {
    base: hubauth_harness::Pair<MockHandle>,
    /// The client secret, shaped as Globus issues them ([`globus_client_secret`]).
    pub(super) secret: String,
    /// The `[GlobusOAuthenticator]` table the hub was built from.
    pub(super) table: String,
}

impl std::ops::Deref for Pair {
    type Target = hubauth_harness::Pair<MockHandle>;

    fn deref(&self) -> &Self::Target {
        &self.base
    }
}

// Globus approves by `username@idp`.
hubauth_harness::idp_mock!(MockHandle);

/// The provider under test: the Globus classes, the Local variant or not.
fn provider() -> Provider<impl Build<ConfigError>> {
    Provider::new(
        hubauth_globus::classes(),
        local_or(
            hubauth_globus::local_globus_from_view,
            arc(hubauth_globus::globus_from_view),
        ),
    )
}

pub(super) fn registry() -> Registry {
    hubauth_harness::registry(hubauth_globus::classes())
}

/// A mock and a hub of `class` with its table plus `extra`, in which `@JWKS_URL@` stands
/// for the mock's key set URL.
pub(super) async fn try_pair(class: &str, extra: &str) -> anyhow::Result<Pair> {
    let site = Loopback::bind().await?;
    let secret = globus_client_secret();
    let mut builder = GlobusMock::builder()
        .client("hub", &secret, &site.callback_url())
        .auto_approve(Some("alice@globusid.org"));
    for user in users() {
        builder = builder.user(user);
    }
    let mock = builder.start().await?;
    let table = format!(
        "client_id = \"hub\"\nclient_secret = \"{secret}\"\n{}enable_auth_state = true\n{}",
        mock.toml_urls(),
        extra.replace("@JWKS_URL@", &mock.jwks_url())
    );
    let tables = format!("[{class}]\n{table}");
    let base = provider().serve(site, mock, class, &tables).await?;
    Ok(Pair {
        base,
        secret,
        table,
    })
}

pub(super) async fn pair(extra: &str) -> Pair {
    try_pair("GlobusOAuthenticator", extra).await.unwrap()
}

#[tokio::test]
async fn globus_excluded_tokens_not_in_token_response() {
    let p = pair(&format!(
        "allowed_globus_groups = [\"{STAFF}\"]\nextra_authorize_params = {{ access_type = \"offline\" }}\n"
    ))
    .await;
    let (_c, status, body) = login_as(&p, "alice@globusid.org").await;
    assert_eq!(status, 303, "{body}");
    let state = auth_state(&p, "alice").await;
    // Tokens by resource server, minus the default exclusions.
    let tokens = state["tokens"].as_object().unwrap();
    assert_eq!(
        tokens.keys().collect::<Vec<_>>(),
        ["transfer.api.globus.org"]
    );
    let transfer = &tokens["transfer.api.globus.org"];
    for field in [
        "access_token",
        "refresh_token",
        "expires_in",
        "resource_server",
        "scope",
        "token_type",
    ] {
        assert!(transfer.get(field).is_some_and(|v| !v.is_null()), "{field}");
    }
    assert_eq!(state["client_id"], "hub");
    assert_eq!(
        state["globus_user"]["preferred_username"],
        "alice@globusid.org"
    );
    assert_eq!(state["globus_groups"], json!([STAFF]));
    // No excluded token anywhere in auth_state (upstream leaked them in token_response).
    let text = state.to_string();
    let excluded: Vec<String> = p
        .mock
        .issued_for("auth.globus.org")
        .into_iter()
        .chain(p.mock.issued_for("groups.api.globus.org"))
        .collect();
    assert!(
        excluded.len() >= 3,
        "auth access+refresh and groups tokens were issued"
    );
    for token in &excluded {
        assert!(
            !text.contains(token.as_str()),
            "an excluded token is kept in auth_state"
        );
    }
    assert!(state["token_response"]["access_token"].is_null());
    assert!(state["token_response"]["id_token"].is_null());
    // What apps get: the kept tokens as JSON.
    let data = hubauth_globus::app_data(&state);
    assert_eq!(data["tokens"], state["tokens"]);
    for token in &excluded {
        assert!(!data.to_string().contains(token.as_str()));
    }
}

#[tokio::test]
async fn tokens_not_excluded_are_kept_and_username_is_split_at_first_at() {
    let p = pair("exclude_tokens = []\nallow_all = true\n").await;
    let (_c, status, _) = login_as(&p, "wash@legitshipping.com@serenity.com").await;
    assert_eq!(status, 303);
    let state = auth_state(&p, "wash").await;
    let mut keys: Vec<&String> = state["tokens"].as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["auth.globus.org", "transfer.api.globus.org"]);
    assert!(state["token_response"]["access_token"].is_string());
    assert_eq!(state["globus_groups"], json!([]), "always present");
}

#[tokio::test]
async fn scope_default_is_computed_as_upstream() {
    let c = client();
    let p = pair("").await;
    let url = authorize_url(&c, &p).await;
    assert_eq!(
        query(&url, "scope").unwrap(),
        format!("openid profile {TRANSFER_SCOPE}")
    );
    assert_eq!(query(&url, "client_id").unwrap(), "hub");
    assert!(url.as_str().starts_with(&p.mock.authorize_url()));
    drop(p);
    let p = pair(&format!(
        "admin_globus_groups = [\"{ADMINS}\"]\nusername_from_email = true\n"
    ))
    .await;
    let url = authorize_url(&c, &p).await;
    assert_eq!(
        query(&url, "scope").unwrap(),
        format!("openid profile {TRANSFER_SCOPE} {GROUPS_SCOPE} email")
    );
    drop(p);
    // An explicit scope is used as given.
    let p = pair("scope = [\"openid\", \"profile\"]\nallow_all = true\n").await;
    let url = authorize_url(&c, &p).await;
    assert_eq!(query(&url, "scope").unwrap(), "openid profile");
    let (_c, status, _) = login_as(&p, "alice@globusid.org").await;
    assert_eq!(status, 303);
    assert_eq!(auth_state(&p, "alice").await["tokens"], json!({}));
}

#[tokio::test]
async fn allowed_blocked_and_admin_by_user_and_by_group() {
    let p = pair(&format!(
        "allowed_globus_groups = [\"{STAFF}\"]\nadmin_globus_groups = [\"{ADMINS}\"]\nallowed_users = [\"dave\"]\nblocked_users = [\"carol\"]\nadmin_users = [\"bob\"]\n"
    ))
    .await;
    // In the allowed group.
    let (c, status, _) = login_as(&p, "alice@globusid.org").await;
    assert_eq!(status, 303);
    assert_eq!(home(&c, &p).await, 200);
    assert!(!stored_user(&p, "alice").await.unwrap().admin);
    // In the admin group: admin.
    let (_, status, _) = login_as(&p, "admin@globusid.org").await;
    assert_eq!(status, 303);
    assert!(stored_user(&p, "admin").await.unwrap().admin);
    // In admin_users without the group: admin stays (admin_users only grants).
    let (_, status, _) = login_as(&p, "bob@globusid.org").await;
    assert_eq!(status, 303);
    assert!(stored_user(&p, "bob").await.unwrap().admin);
    // Allowed by name, in no group.
    let (_, status, _) = login_as(&p, "dave@globusid.org").await;
    assert_eq!(status, 303);
    assert!(!stored_user(&p, "dave").await.unwrap().admin);
    // In the allowed group but blocked by name.
    let (c, status, _) = login_as(&p, "carol@globusid.org").await;
    assert_eq!(status, 403);
    assert_eq!(home(&c, &p).await, 302);
    // Not in an allowed group, not allowed by name.
    let (_, status, _) = login_as(&p, "wash@legitshipping.com@serenity.com").await;
    assert_eq!(status, 403);
    assert!(stored_user(&p, "wash").await.is_none());
    assert!(p.mock.count(Endpoint::Groups) >= 5);
}

#[tokio::test]
async fn identity_provider_restriction() {
    let p =
        pair("identity_provider = \"globusid.org\"\nallowed_users = [\"mallory\", \"alice\"]\n")
            .await;
    let (_, status, _) = login_as(&p, "alice@globusid.org").await;
    assert_eq!(status, 303);
    // Another identity provider is refused even when an allow rule matches.
    let (c, status, body) = login_as(&p, "mallory@example.edu").await;
    assert_eq!(status, 403);
    let body = body.replace("&#x2f;", "/");
    assert!(
        body.contains("This site is restricted to globusid.org accounts. Link your account at app.globus.org/account."),
        "{body}"
    );
    assert_eq!(home(&c, &p).await, 302, "no session for mallory");
}

#[tokio::test]
async fn username_from_email_takes_name_and_domain_from_email() {
    // Globus sends no email_verified: taking names from email needs the admin's consent.
    let p = pair("identity_provider = \"allowed.example.com\"\nusername_from_email = true\nallow_all = true\nallow_unverified_email = true\n").await;
    let (_, status, body) = login_as(&p, "dummy@example.com").await;
    assert_eq!(status, 303, "{body}");
    assert!(stored_user(&p, "user1").await.is_some());
    let (_, status, _) = login_as(&p, "alice@globusid.org").await;
    assert_eq!(status, 403, "alice's email is at globusid.org");
}

/// F27: Globus does not say whether an identity's email is verified, so with
/// `username_from_email` a login is refused unless `allow_unverified_email` is set, and
/// the hub warns about it at start-up.
#[tokio::test]
async fn unverified_email_cannot_become_the_username() {
    let p = pair("username_from_email = true\nallow_all = true\n").await;
    assert!(
        p.hub
            .state()
            .authenticator
            .startup_warnings()
            .iter()
            .any(|w| w.contains("allow_unverified_email")),
        "a start-up warning names the option"
    );
    let (c, status, body) = login_as(&p, "dummy@example.com").await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("Login with unverified email user1@allowed.example.com is not allowed"),
        "{body}"
    );
    assert_eq!(home(&c, &p).await, 302, "no session");
    assert!(stored_user(&p, "user1").await.is_none());
    // preferred_username (the default) is not an email claim: no check.
    let p = pair("allow_all = true\n").await;
    let (_, status, body) = login_as(&p, "alice@globusid.org").await;
    assert_eq!(status, 303, "{body}");
}

#[tokio::test]
async fn manage_groups_with_globus_groups_key() {
    let p = pair(&format!(
        "manage_groups = true\nauth_state_groups_key = \"globus_groups\"\nadmin_groups = [\"{ADMINS}\"]\nallow_all = true\n"
    ))
    .await;
    let url = authorize_url(&client(), &p).await;
    assert!(
        query(&url, "scope").unwrap().contains(GROUPS_SCOPE),
        "manage_groups asks for the groups scope"
    );
    let (_, status, _) = login_as(&p, "admin@globusid.org").await;
    assert_eq!(status, 303);
    let admin = stored_user(&p, "admin").await.unwrap();
    assert_eq!(admin.groups, vec![STAFF.to_owned(), ADMINS.to_owned()]);
    assert!(admin.admin);
}

#[tokio::test]
async fn missing_groups_scope_is_a_startup_error() {
    let err = try_pair(
        "GlobusOAuthenticator",
        &format!("scope = [\"openid\", \"profile\"]\nallowed_globus_groups = [\"{STAFF}\"]\n"),
    )
    .await
    .err()
    .expect("refused at start");
    let text = err.to_string();
    assert!(
        text.contains("allowed_globus_groups") && text.contains(GROUPS_SCOPE),
        "{text}"
    );
    let err = try_pair("GlobusOAuthenticator", "manage_groups = true\nscope = [\"openid\", \"profile\"]\nauth_state_groups_key = \"globus_groups\"\n")
        .await
        .err()
        .expect("refused at start");
    assert!(err.to_string().contains("manage_groups"), "{err}");
    // manage_groups without a groups key is refused too (F23).
    let err = try_pair("GlobusOAuthenticator", "manage_groups = true\n")
        .await
        .err()
        .expect("refused at start");
    assert!(err.to_string().contains("auth_state_groups_key"), "{err}");
}

#[tokio::test]
async fn groups_token_missing_at_login_is_a_clear_403() {
    let p = pair(&format!("allowed_globus_groups = [\"{STAFF}\"]\n")).await;
    p.mock.withhold_scope(GROUPS_SCOPE);
    let (_, status, body) = login_as(&p, "alice@globusid.org").await;
    assert_eq!(status, 403);
    assert!(
        body.contains("Globus did not grant access to your groups"),
        "{body}"
    );
}

#[tokio::test]
async fn revocation_on_logout_revokes_every_kept_token() {
    let p = pair("allow_all = true\nrevoke_tokens_on_logout = true\nexclude_tokens = [\"auth.globus.org\"]\nscope = [\"openid\", \"profile\", \"urn:globus:auth:scope:transfer.api.globus.org:all\", \"urn:globus:auth:scope:groups.api.globus.org:view_my_groups_and_memberships\"]\nextra_authorize_params = { access_type = \"offline\" }\n").await;
    let (c, status, _) = login_as(&p, "alice@globusid.org").await;
    assert_eq!(status, 303);
    let before = auth_state(&p, "alice").await;
    let mut kept: Vec<String> = Vec::new();
    for token in before["tokens"].as_object().unwrap().values() {
        for field in ["access_token", "refresh_token"] {
            kept.push(token[field].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(kept.len(), 4, "transfer and groups, access and refresh");
    let out = logout(&c, &p).await;
    assert_eq!(out.status(), 302);
    let revoked = p.mock.revoked();
    for token in &kept {
        assert!(revoked.contains(token), "every kept token is revoked");
    }
    assert_eq!(revoked.len(), 4, "only the kept tokens");
    assert_eq!(auth_state(&p, "alice").await["tokens"], json!({}));
    assert_eq!(home(&c, &p).await, 302);
}

#[tokio::test]
async fn revocation_endpoint_down_logout_still_completes_with_a_warning() {
    let p = pair("allow_all = true\nrevoke_tokens_on_logout = true\nextra_authorize_params = { access_type = \"offline\" }\n").await;
    let (c, status, _) = login_as(&p, "alice@globusid.org").await;
    assert_eq!(status, 303);
    p.mock.set_down(Endpoint::Revoke, true);
    let out = logout(&c, &p).await;
    assert_eq!(out.status(), 200, "the logout page, with the warning");
    let page = out.text().await.unwrap();
    assert!(page.contains("could not be revoked"), "{page}");
    assert!(p.mock.revoked().is_empty());
    assert_eq!(home(&c, &p).await, 302, "logged out anyway");
    assert_eq!(auth_state(&p, "alice").await["tokens"], json!({}));
}

#[tokio::test]
async fn no_revocation_unless_configured() {
    let p = pair("allow_all = true\n").await;
    let (c, _, _) = login_as(&p, "alice@globusid.org").await;
    let out = logout(&c, &p).await;
    assert_eq!(out.status(), 302);
    assert_eq!(p.mock.count(Endpoint::Revoke), 0);
    assert_ne!(auth_state(&p, "alice").await["tokens"], json!({}));
}

#[tokio::test]
async fn refresh_revalidates_with_kept_tokens() {
    let p = pair(&format!(
        "exclude_tokens = []\nallowed_globus_groups = [\"{STAFF}\"]\n"
    ))
    .await;
    let (c, status, _) = login_as(&p, "alice@globusid.org").await;
    assert_eq!(status, 303);
    let userinfo_calls = p.mock.count(Endpoint::UserInfo);
    // Within auth_refresh_age: nothing asked.
    p.clock.advance(60);
    assert_eq!(home(&c, &p).await, 200);
    assert_eq!(p.mock.count(Endpoint::UserInfo), userinfo_calls);
    // After it: user info and groups again.
    p.clock.advance(300);
    assert_eq!(home(&c, &p).await, 200);
    assert_eq!(p.mock.count(Endpoint::UserInfo), userinfo_calls + 1);
    // Removed from the allowed group at Globus: access ends at the next refresh (F7).
    p.mock.set_groups("alice@globusid.org", vec![]);
    p.clock.advance(301);
    assert_eq!(home(&c, &p).await, 302);
}

#[tokio::test]
async fn refresh_with_expired_token_requires_login() {
    let p = pair("exclude_tokens = []\nallow_all = true\n").await;
    let (c, _, _) = login_as(&p, "alice@globusid.org").await;
    p.mock.expire_access_tokens();
    p.clock.advance(301);
    assert_eq!(
        home(&c, &p).await,
        302,
        "the stored Auth token is refused: log in again"
    );
}

#[tokio::test]
async fn refresh_without_kept_auth_token_rechecks_stored_info() {
    let p = pair(&format!("allowed_globus_groups = [\"{STAFF}\"]\n")).await;
    let (c, _, _) = login_as(&p, "alice@globusid.org").await;
    let userinfo_calls = p.mock.count(Endpoint::UserInfo);
    p.clock.advance(301);
    assert_eq!(
        home(&c, &p).await,
        200,
        "no token to ask Globus with: stored info is re-checked"
    );
    assert_eq!(p.mock.count(Endpoint::UserInfo), userinfo_calls);
}

#[tokio::test]
async fn deprecated_allow_refresh_tokens_asks_for_offline_access() {
    let p = pair("allow_refresh_tokens = true\nallow_all = true\n").await;
    let url = authorize_url(&client(), &p).await;
    assert_eq!(query(&url, "access_type").as_deref(), Some("offline"));
    let (_, status, _) = login_as(&p, "alice@globusid.org").await;
    assert_eq!(status, 303);
    let state = auth_state(&p, "alice").await;
    assert!(state["tokens"]["transfer.api.globus.org"]["refresh_token"].is_string());
}

#[tokio::test]
async fn local_globus_logs_in() {
    let p = try_pair("LocalGlobusOAuthenticator", "create_system_users = false\n")
        .await
        .unwrap();
    let (_, status, body) = login_as(&p, "alice@globusid.org").await;
    // alice is not a local UNIX user here; LocalAuthenticator admits her only if she exists.
    assert!(status == 302 || status == 403, "{status} {body}");
}

#[tokio::test]
async fn token_endpoint_failure_is_a_provider_error_not_a_session() {
    let p = pair("").await;
    p.mock.fail_next(
        Endpoint::Token,
        hubauth_globus::mock::Fault::Status(500, "boom".into()),
    );
    let (c, status, _) = login_as(&p, "alice@globusid.org").await;
    assert_eq!(status, 502);
    assert_eq!(home(&c, &p).await, 302);
}

#[tokio::test]
async fn demo_mock_config_starts_a_working_hub() {
    // The demo table parses and builds; its users log in through the picker page.
    let (mock, table) =
        hubauth_globus::mock::start_demo_mock("http://127.0.0.1:9/hub/oauth_callback")
            .await
            .unwrap();
    assert!(table.starts_with("[GlobusOAuthenticator]\n"));
    let tables = hubauth_harness::demo_tables("GlobusOAuthenticator", &table);
    let site = Loopback::bind().await.unwrap();
    let hub = provider()
        .serve(site, &mock, "GlobusOAuthenticator", &tables)
        .await;
    assert!(hub.is_ok(), "{:?}", hub.err());
    let page = reqwest::get(format!(
        "{}?client_id=hubauth-demo&redirect_uri={}&response_type=code&scope=openid",
        mock.authorize_url(),
        url::form_urlencoded::byte_serialize(b"http://127.0.0.1:9/hub/oauth_callback")
            .collect::<String>()
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(page.contains("alice@globusid.org"), "{page}");
}
