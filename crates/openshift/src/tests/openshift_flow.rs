//! OpenShiftOAuthenticator end to end over loopback HTTPS: a real hub against the mock of
//! a cluster with its own CA.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_openshift::mock::{Endpoint, Fault};

use super::hub::{
    ADMINS, STAFF, auth_state, authorize_url, browser, home, login_as, stored_user, try_pair,
    try_pair_with,
};

async fn pair(extra: &str) -> super::hub::Pair {
    try_pair("OpenShiftOAuthenticator", extra).await.unwrap()
}

const GROUPS: &str =
    "manage_groups = true\nallowed_groups = [\"data-science\"]\nadmin_groups = [\"hub-admins\"]\n";

#[tokio::test]
async fn the_oauth_server_is_discovered_at_the_first_login_from_the_cluster_metadata() {
    let p = pair("allow_all = true\n").await;
    assert_eq!(
        p.mock.count(Endpoint::Metadata),
        0,
        "nothing is fetched at start-up"
    );
    let url = authorize_url(&browser(&p), &p).await;
    assert!(
        url.as_str()
            .starts_with(&format!("{}/oauth/authorize?", p.mock.issuer())),
        "{url}"
    );
    let query: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query["scope"], "user:info");
    assert_eq!(query["client_id"], "jupyterhub");
    let (c, status, body) = login_as(&p, "alice").await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(home(&c, &p).await, 200);
    assert_eq!(
        p.mock.count(Endpoint::Metadata),
        1,
        "found once, then remembered"
    );
    let state = auth_state(&p, "alice").await;
    assert_eq!(state["openshift_user"]["metadata"]["name"], "alice");
    assert_eq!(state["openshift_user"]["kind"], "User");
    assert!(
        state["access_token"]
            .as_str()
            .unwrap()
            .starts_with("sha256~")
    );
}

/// On OpenShift 4 the OAuth server is another host than the API: the endpoints come from
/// the metadata's issuer, not from openshift_url.
#[tokio::test]
async fn the_endpoints_are_under_the_metadata_issuer_not_openshift_url() {
    let p = try_pair_with("OpenShiftOAuthenticator", "allow_all = true\n", |mock| {
        mock.oauth_host("localhost")
    })
    .await
    .unwrap();
    assert!(p.mock.issuer().starts_with("https://localhost:"));
    let url = authorize_url(&browser(&p), &p).await;
    assert!(
        url.as_str()
            .starts_with(&format!("{}/oauth/authorize", p.mock.issuer())),
        "{url}"
    );
    let (_, status, body) = login_as(&p, "alice").await;
    assert_eq!(status, 303, "{body}");
    let token = &p.mock.requests_to(Endpoint::Token)[0];
    assert_eq!(token.grant_type(), Some("authorization_code"));
    assert!(
        token.has_code_verifier(),
        "PKCE S256, which the metadata lists"
    );
}

#[tokio::test]
async fn openshift_auth_api_url_skips_discovery() {
    // openshift_url is unreachable: nothing may be fetched from it.
    let (a, _) = super::hub::authenticator(
        "OpenShiftOAuthenticator",
        "client_id = \"c\"\nopenshift_url = \"https://127.0.0.1:9\"\nopenshift_auth_api_url = \"https://oauth-openshift.apps.example.com/\"\n",
        &[],
    )
    .unwrap();
    let start = a
        .redirect_login()
        .unwrap()
        .begin(
            &hubauth_core::RequestContext::at(0),
            "s",
            "https://hub.example/hub/oauth_callback",
        )
        .await
        .unwrap();
    assert!(
        start
            .authorize_url
            .starts_with("https://oauth-openshift.apps.example.com/oauth/authorize?"),
        "{}",
        start.authorize_url
    );
}

#[tokio::test]
async fn metadata_down_at_the_first_login_is_a_502_and_is_asked_again() {
    let p = pair("allow_all = true\n").await;
    p.mock.set_down(Endpoint::Metadata, true);
    let start = hubauth_harness::start_login(&browser(&p), &p).await;
    assert_eq!(start.status(), 502);
    let body = start.text().await.unwrap();
    assert!(body.contains("OpenShift OAuth server metadata"), "{body}");
    p.mock.set_down(Endpoint::Metadata, false);
    let (_, status, _) = login_as(&p, "alice").await;
    assert_eq!(status, 303, "the cluster is back");
}

#[tokio::test]
async fn metadata_without_a_usable_issuer_is_refused() {
    let p = pair("allow_all = true\n").await;
    for fault in [
        Fault::Garbage,
        Fault::EmptyBody,
        Fault::Status(
            200,
            r#"{"authorization_endpoint": "https://x/oauth/authorize"}"#.into(),
        ),
        Fault::Status(200, r#"{"issuer": "not a url"}"#.into()),
        Fault::Status(404, "{}".into()),
    ] {
        p.mock.fail_next(Endpoint::Metadata, fault.clone());
        let start = hubauth_harness::start_login(&browser(&p), &p).await;
        assert_eq!(start.status(), 502, "{fault:?}");
    }
}

#[tokio::test]
async fn allowed_groups_admits_members_of_the_openshift_group() {
    let p = pair(GROUPS).await;
    let (c, status, body) = login_as(&p, "alice").await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(home(&c, &p).await, 200);
    let alice = stored_user(&p, "alice").await.unwrap();
    assert!(!alice.admin);
    assert_eq!(
        alice.groups,
        vec![
            STAFF.to_owned(),
            "system:authenticated".to_owned(),
            "system:authenticated:oauth".to_owned()
        ]
    );
}

#[tokio::test]
async fn allowed_groups_refuses_a_user_outside_them() {
    let p = pair(GROUPS).await;
    let (c, status, _) = login_as(&p, "bob").await;
    assert_eq!(status, 403);
    assert_eq!(home(&c, &p).await, 302);
    assert!(stored_user(&p, "bob").await.is_none());
}

#[tokio::test]
async fn admin_groups_makes_admins_and_unmakes_them() {
    let p = pair(GROUPS).await;
    let (_, status, _) = login_as(&p, "admin").await;
    assert_eq!(status, 303);
    assert!(stored_user(&p, "admin").await.unwrap().admin);
    // Out of the admin group at the cluster: no longer an admin at the next login.
    p.mock.set_groups("admin", &[STAFF]);
    let (_, status, _) = login_as(&p, "admin").await;
    assert_eq!(status, 303);
    assert!(!stored_user(&p, "admin").await.unwrap().admin);
    // In the admin group only: admitted as an admin (upstream's variation 14).
    p.mock.set_groups("bob", &[ADMINS]);
    let (_, status, _) = login_as(&p, "bob").await;
    assert_eq!(status, 303);
    assert!(stored_user(&p, "bob").await.unwrap().admin);
}

#[tokio::test]
async fn the_virtual_group_system_authenticated_admits_every_cluster_user() {
    let p = pair("manage_groups = true\nallowed_groups = [\"system:authenticated\"]\n").await;
    let (_, status, _) = login_as(&p, "bob").await;
    assert_eq!(status, 303);
}

#[tokio::test]
async fn the_username_is_metadata_name_whatever_username_claim_says() {
    let p = pair("allow_all = true\nusername_claim = \"fullName\"\n").await;
    let (_, status, _) = login_as(&p, "carol").await;
    assert_eq!(status, 303);
    assert!(stored_user(&p, "carol").await.is_some());
    let warnings = p.hub.state().authenticator.startup_warnings();
    assert!(
        warnings.iter().any(|w| w.contains("username_claim")),
        "{warnings:?}"
    );
}

#[tokio::test]
async fn refresh_rechecks_the_groups_and_an_expired_token_means_a_new_login() {
    let p = pair(GROUPS).await;
    let (c, status, _) = login_as(&p, "alice").await;
    assert_eq!(status, 303);
    let asked = p.mock.count(Endpoint::User);
    p.clock.advance(301);
    assert_eq!(home(&c, &p).await, 200);
    assert_eq!(p.mock.count(Endpoint::User), asked + 1);
    // Removed from the group in the cluster: access ends at the next refresh (F7).
    p.mock.set_groups("alice", &[]);
    p.clock.advance(301);
    assert_eq!(home(&c, &p).await, 302);
    // An expired token gets 401 and OpenShift issues no refresh token: log in again.
    let (c, status, _) = login_as(&p, "carol").await;
    assert_eq!(status, 303);
    p.mock.expire_access_tokens();
    p.clock.advance(301);
    assert_eq!(home(&c, &p).await, 302);
    assert_eq!(
        p.mock
            .requests_to(Endpoint::Token)
            .iter()
            .filter(|r| r.grant_type() == Some("refresh_token"))
            .count(),
        0
    );
}

#[tokio::test]
async fn a_user_object_that_cannot_be_read_exactly_is_refused() {
    let p = pair(GROUPS).await;
    for (body, why) in [
        (
            r#"{"kind": "User", "metadata": {"name": "alice"}, "groups": "data-science"}"#,
            "groups as a string",
        ),
        (
            r#"{"kind": "User", "metadata": {"name": "alice"}, "groups": [{"name": "data-science"}]}"#,
            "groups as objects",
        ),
        (
            r#"{"kind": "User", "metadata": {}, "groups": ["data-science"]}"#,
            "no name",
        ),
        (
            r#"{"kind": "User", "name": "alice"}"#,
            "name not in metadata",
        ),
    ] {
        p.mock
            .fail_next(Endpoint::User, Fault::Status(200, body.into()));
        let (c, status, page) = login_as(&p, "alice").await;
        assert_eq!(status, 502, "{why}: {page}");
        assert_eq!(home(&c, &p).await, 302);
    }
    p.mock.fail_next(Endpoint::User, Fault::Garbage);
    let (_, status, _) = login_as(&p, "alice").await;
    assert_eq!(status, 502);
    p.mock.set_down(Endpoint::User, true);
    let (_, status, _) = login_as(&p, "alice").await;
    assert_eq!(status, 502);
    p.mock.set_down(Endpoint::User, false);
    p.mock
        .fail_next(Endpoint::Token, Fault::Status(503, "{}".into()));
    let (_, status, _) = login_as(&p, "alice").await;
    assert_eq!(status, 502);
    // "groups": null is OpenShift's own way of saying none.
    p.mock.fail_next(
        Endpoint::User,
        Fault::Status(
            200,
            r#"{"kind": "User", "metadata": {"name": "alice"}, "groups": null}"#.into(),
        ),
    );
    let (_, status, _) = login_as(&p, "alice").await;
    assert_eq!(status, 403, "in no group, so not allowed");
}

#[tokio::test]
async fn the_clusters_own_ca_must_be_trusted() {
    // Without the CA: the first login cannot reach the cluster.
    let p = pair("allow_all = true\nNO_CA\n").await;
    let start = hubauth_harness::start_login(&browser(&p), &p).await;
    assert_eq!(start.status(), 502);
    assert_eq!(
        p.mock.count(Endpoint::Metadata),
        0,
        "the TLS handshake failed first"
    );
    // validate_server_cert = false, or its deprecated name validate_cert, turns it off.
    for option in ["validate_server_cert", "validate_cert"] {
        let p = pair(&format!("allow_all = true\nNO_CA\n{option} = false\n")).await;
        let (_, status, body) = login_as(&p, "alice").await;
        assert_eq!(status, 303, "{option}: {body}");
    }
}

#[tokio::test]
async fn a_scope_without_user_info_is_warned_about_and_refused_at_login() {
    let p = pair("allow_all = true\nscope = [\"user:check-access\"]\n").await;
    let warnings = p.hub.state().authenticator.startup_warnings();
    assert!(
        warnings.iter().any(|w| w.contains("user:info")),
        "{warnings:?}"
    );
    let (_, status, _) = login_as(&p, "alice").await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn local_openshift_admits_only_users_with_a_system_account() {
    let p = try_pair(
        "LocalOpenShiftOAuthenticator",
        "allow_all = true\ncreate_system_users = false\n",
    )
    .await
    .unwrap();
    let (_, status, body) = login_as(&p, "nobody").await;
    assert_eq!(status, 303, "{body}");
    let (c, status, _) = login_as(&p, "alice").await;
    assert_ne!(status, 303);
    assert_eq!(home(&c, &p).await, 302);
}

#[tokio::test]
async fn the_demo_logs_its_users_in_as_it_says() {
    let p = super::hub::demo_pair("OpenShiftOAuthenticator")
        .await
        .unwrap();
    let (_, status, body) = login_as(&p, "alice").await;
    assert_eq!(status, 303, "{body}");
    assert!(!stored_user(&p, "alice").await.unwrap().admin);
    let (_, status, _) = login_as(&p, "admin").await;
    assert_eq!(status, 303);
    assert!(stored_user(&p, "admin").await.unwrap().admin);
    let (_, status, _) = login_as(&p, "bob").await;
    assert_eq!(status, 403);
    assert_eq!(
        p.mock.count(Endpoint::Metadata),
        1,
        "the OAuth server is discovered"
    );
}
