//! Auth0OAuthenticator end to end over loopback HTTPS: a real hub against the mock tenant.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_auth0::mock::{Endpoint, Fault};

use super::hub::{
    ROLES, auth_state, authorize_url, browser, home, location, login_as, logout, stored_user,
    try_pair, try_pair_with,
};

async fn pair(extra: &str) -> super::hub::Pair {
    try_pair("Auth0OAuthenticator", extra).await.unwrap()
}

fn roles_groups() -> String {
    format!(
        "manage_groups = true\nauth_state_groups_key = {{ script = \"auth_state.auth0_user[\\\"{ROLES}\\\"]\" }}\nallowed_groups = [\"staff\"]\nadmin_groups = [\"hub-admins\"]\n"
    )
}

#[tokio::test]
async fn login_goes_to_the_tenant_domain_and_the_username_is_the_email() {
    let p = pair("allowed_users = [\"alice@example.com\"]\n").await;
    let url = authorize_url(&browser(&p), &p).await;
    assert!(
        url.as_str()
            .starts_with(&format!("https://{}/authorize?", p.mock.domain())),
        "{url}"
    );
    let (c, status, body) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(home(&c, &p).await, 200);
    let state = auth_state(&p, "alice@example.com").await;
    assert_eq!(state["auth0_user"]["email_verified"], true);
    assert!(state["id_token"].is_string());
    let (_, status, _) = login_as(&p, "bob@example.com").await;
    assert_eq!(status, 403, "not allowed by name");
}

/// CVE-2026-33175 and F1: an unverified email is refused before any allow rule, so
/// `allow_all`, `allowed_users` and `admin_users` cannot let it in.
#[tokio::test]
async fn an_unverified_email_is_refused_whatever_the_allow_rules_say() {
    let p = pair("allow_all = true\nadmin_users = [\"eve\"]\nusername_claim = \"nickname\"\nallowed_users = [\"eve\"]\n").await;
    let (c, status, body) = login_as(&p, "eve@example.com").await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("Login with unverified email eve@example.com is not allowed"),
        "{body}"
    );
    assert_eq!(
        home(&c, &p).await,
        302,
        "no session, although eve is an admin by name"
    );
    let (_, status, _) = login_as(&p, "bob@example.com").await;
    assert_eq!(status, 303, "verified: allow_all lets bob in");
}

#[tokio::test]
async fn allow_unverified_email_lets_an_unverified_email_in() {
    let p = pair("allow_all = true\nallow_unverified_email = true\n").await;
    let (_, status, body) = login_as(&p, "eve@example.com").await;
    assert_eq!(status, 303, "{body}");
}

#[tokio::test]
async fn a_login_without_an_email_is_refused() {
    let p = pair("allow_all = true\nscope = [\"openid\", \"profile\"]\nusername_claim = \"nickname\"\nallow_unverified_email = true\n").await;
    let warnings = p.hub.state().authenticator.startup_warnings();
    assert!(
        warnings.iter().any(|w| w.contains("email scope")),
        "{warnings:?}"
    );
    let (_, status, body) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 403);
    assert!(body.contains("no email"), "{body}");
}

#[tokio::test]
async fn allowed_groups_and_admin_groups_from_an_auth0_custom_claim() {
    let p = pair(&roles_groups()).await;
    let (_, status, _) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 303);
    assert!(!stored_user(&p, "alice@example.com").await.unwrap().admin);
    let (_, status, _) = login_as(&p, "admin@example.com").await;
    assert_eq!(status, 303);
    let admin = stored_user(&p, "admin@example.com").await.unwrap();
    assert!(admin.admin);
    assert_eq!(
        admin.groups,
        vec!["hub-admins".to_owned(), "staff".to_owned()]
    );
    let (_, status, _) = login_as(&p, "bob@example.com").await;
    assert_eq!(status, 403, "no roles");
}

#[tokio::test]
async fn the_id_token_is_verified_when_oidc_issuer_names_the_tenant() {
    let p = pair("allow_all = true\noidc_issuer = \"@ISSUER@\"\n").await;
    let (_, status, body) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(p.mock.count(Endpoint::Discovery), 1);
    assert_eq!(p.mock.count(Endpoint::Jwks), 1);
    p.mock.forge_id_tokens(true);
    let (c, status, _) = login_as(&p, "bob@example.com").await;
    assert_eq!(status, 403, "a forged ID token refuses the login");
    assert_eq!(home(&c, &p).await, 302);
}

#[tokio::test]
async fn logout_ends_the_auth0_session_and_comes_back_to_the_hub() {
    let p = pair("allow_all = true\n").await;
    let (c, status, _) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 303);
    assert!(p.mock.has_session("alice@example.com"));
    let out = logout(&c, &p).await;
    assert_eq!(out.status(), 302);
    let to_auth0 = url::Url::parse(&location(&out)).unwrap();
    assert_eq!(
        format!(
            "{}://{}{}",
            to_auth0.scheme(),
            to_auth0.authority(),
            to_auth0.path()
        ),
        format!("https://{}/v2/logout", p.mock.domain())
    );
    let query: std::collections::HashMap<String, String> =
        to_auth0.query_pairs().into_owned().collect();
    assert_eq!(query["client_id"], "hub-client");
    assert_eq!(query["returnTo"], format!("{}login", p.hub_url));
    assert_eq!(home(&c, &p).await, 302, "the hub session ended first");
    // The browser follows: Auth0 ends its session and sends it back to the hub.
    let at_auth0 = c.get(to_auth0.as_str()).send().await.unwrap();
    assert_eq!(at_auth0.status(), 302);
    assert_eq!(location(&at_auth0), format!("{}login", p.hub_url));
    assert!(!p.mock.has_session("alice@example.com"));
}

#[tokio::test]
async fn an_explicit_logout_redirect_url_is_used_as_it_is() {
    let p = pair("allow_all = true\nlogout_redirect_url = \"https://www.example.org/bye\"\n").await;
    let (c, _, _) = login_as(&p, "alice@example.com").await;
    let out = logout(&c, &p).await;
    assert_eq!(location(&out), "https://www.example.org/bye");
    assert_eq!(p.mock.count(Endpoint::Logout), 0);
}

#[tokio::test]
async fn a_hub_login_page_missing_from_allowed_logout_urls_is_refused_by_auth0() {
    let p = try_pair_with("Auth0OAuthenticator", "allow_all = true\n", |mock| {
        mock.client("other", "x", "https://other.example/cb")
    })
    .await
    .unwrap();
    let (c, _, _) = login_as(&p, "alice@example.com").await;
    let out = logout(&c, &p).await;
    let wrong = location(&out).replace("client_id=hub-client", "client_id=other");
    let at_auth0 = c.get(&wrong).send().await.unwrap();
    assert_eq!(at_auth0.status(), 400, "an error page, never a redirect");
    assert!(p.mock.logouts().is_empty());
}

#[tokio::test]
async fn refresh_rechecks_the_email_and_the_groups() {
    let p = pair(&roles_groups()).await;
    let (c, status, _) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 303);
    p.clock.advance(301);
    assert_eq!(home(&c, &p).await, 200);
    p.mock
        .set_claim("alice@example.com", ROLES, serde_json::json!([]));
    p.clock.advance(301);
    assert_eq!(
        home(&c, &p).await,
        302,
        "out of the staff role: access ends (F7)"
    );
    let (c, status, _) = login_as(&p, "admin@example.com").await;
    assert_eq!(status, 303);
    p.mock.set_email_verified("admin@example.com", false);
    p.clock.advance(301);
    assert_eq!(home(&c, &p).await, 302, "no longer verified");
}

#[tokio::test]
async fn refresh_uses_the_refresh_token_with_offline_access_and_asks_for_a_login_without() {
    let p = pair(
        "allow_all = true\nscope = [\"openid\", \"profile\", \"email\", \"offline_access\"]\n",
    )
    .await;
    let (c, _, _) = login_as(&p, "alice@example.com").await;
    p.mock.expire_access_tokens();
    p.clock.advance(301);
    assert_eq!(
        home(&c, &p).await,
        200,
        "the refresh token got a new access token"
    );
    let grants: Vec<_> = p.mock.requests_to(Endpoint::Token);
    assert_eq!(grants.last().unwrap().grant_type(), Some("refresh_token"));
    let p = pair("allow_all = true\n").await;
    let (c, _, _) = login_as(&p, "alice@example.com").await;
    p.mock.expire_access_tokens();
    p.clock.advance(301);
    assert_eq!(home(&c, &p).await, 302, "no refresh token: log in again");
}

#[tokio::test]
async fn auth0_down_or_answering_garbage_refuses_the_login() {
    let p = pair("allow_all = true\n").await;
    for (endpoint, fault) in [
        (Endpoint::Token, Fault::Status(500, "{}".into())),
        (Endpoint::Token, Fault::Garbage),
        (Endpoint::UserInfo, Fault::Garbage),
        (Endpoint::UserInfo, Fault::Status(503, "{}".into())),
    ] {
        p.mock.fail_next(endpoint, fault.clone());
        let (c, status, _) = login_as(&p, "alice@example.com").await;
        assert_eq!(status, 502, "{endpoint:?} {fault:?}");
        assert_eq!(home(&c, &p).await, 302);
    }
    p.mock.fail_next(
        Endpoint::UserInfo,
        Fault::Status(
            200,
            r#"{"sub": "auth0|1", "email": "alice@example.com", "email_verified": "true"}"#.into(),
        ),
    );
    let (_, status, _) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 403, "\"true\" as a string is not verified");
    let (_, status, _) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 303, "Auth0 is back");
}

#[tokio::test]
async fn the_default_empty_scope_is_warned_about_and_userinfo_refuses_it() {
    let p = pair("allow_all = true\nscope = []\n").await;
    let warnings = p.hub.state().authenticator.startup_warnings();
    assert!(
        warnings.iter().any(|w| w.contains("openid")),
        "{warnings:?}"
    );
    let (_, status, _) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn local_auth0_admits_only_users_with_a_system_account() {
    let p = try_pair(
        "LocalAuth0OAuthenticator",
        "allow_all = true\ncreate_system_users = false\nusername_claim = \"nickname\"\n",
    )
    .await
    .unwrap();
    let (_, status, body) = login_as(&p, "nobody@example.com").await;
    assert_eq!(status, 303, "{body}");
    let (c, status, _) = login_as(&p, "alice@example.com").await;
    assert_ne!(status, 303);
    assert_eq!(home(&c, &p).await, 302);
}

#[tokio::test]
async fn the_demo_logs_its_users_in_and_out_as_it_says() {
    let p = super::hub::demo_pair("Auth0OAuthenticator").await.unwrap();
    let (_, status, body) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 303, "{body}");
    let (c, status, _) = login_as(&p, "admin@example.com").await;
    assert_eq!(status, 303);
    assert!(stored_user(&p, "admin@example.com").await.unwrap().admin);
    let (_, status, body) = login_as(&p, "eve@example.com").await;
    assert_eq!(status, 403, "unverified email: {body}");
    assert_eq!(
        p.mock.count(Endpoint::Jwks),
        1,
        "the demo verifies ID tokens"
    );
    let out = logout(&c, &p).await;
    let at_auth0 = c.get(location(&out)).send().await.unwrap();
    assert_eq!(at_auth0.status(), 302);
    assert_eq!(location(&at_auth0), format!("{}login", p.hub_url));
    assert_eq!(p.mock.logouts().len(), 1);
}
