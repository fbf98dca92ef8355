//! Refresh against the CILogon mock: the stored access token first, then the refresh
//! token (with `offline_access`), and every rule checked again.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_cilogon::mock::Endpoint;
use serde_json::json;

use super::common::{PARTNER, UNI, UNI_STRIP, advance, auth_state, home, login_as, pair};

const OFFLINE: &str =
    "scope = [\"openid\", \"email\", \"profile\", \"org.cilogon.userinfo\", \"offline_access\"]\n";

#[tokio::test]
async fn refresh_rereads_the_user_info_and_ends_access_when_the_domain_no_longer_matches() {
    let p = pair(
        "",
        &[(
            UNI,
            "username_derivation = { username_claim = \"eppn\" }\nallowed_domains = [\"uni.edu\"]",
        )],
    )
    .await;
    let (c, status, body) = login_as(&p, "alice@uni.edu").await;
    assert_eq!(status, 303, "{body}");
    let calls = p.mock.count(Endpoint::UserInfo);
    // Within auth_refresh_age: CILogon is not asked.
    advance(&p, 60);
    assert_eq!(home(&c, &p).await, 200);
    assert_eq!(p.mock.count(Endpoint::UserInfo), calls);
    // After it: the user info again, with the stored access token.
    advance(&p, 300);
    assert_eq!(home(&c, &p).await, 200);
    assert_eq!(p.mock.count(Endpoint::UserInfo), calls + 1);
    assert_eq!(p.mock.count(Endpoint::Token), 1, "no token request");
    // The IdP now reports another domain: the allow rule no longer matches, and the
    // session ends at the next refresh.
    p.mock
        .set_claim("alice@uni.edu", "eppn", Some(json!("alice@elsewhere.org")));
    advance(&p, 301);
    assert_eq!(home(&c, &p).await, 302);
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_with_the_refresh_token_which_rotates() {
    let p = pair(OFFLINE, &[(UNI, &format!("{UNI_STRIP}\nallow_all = true"))]).await;
    let (c, status, body) = login_as(&p, "alice@uni.edu").await;
    assert_eq!(status, 303, "{body}");
    let before = auth_state(&p, "alice").await;
    let first_refresh = before["refresh_token"].as_str().unwrap().to_owned();
    assert!(
        first_refresh.contains("type=refreshToken"),
        "{first_refresh}"
    );
    p.mock.expire_access_tokens();
    advance(&p, 301);
    assert_eq!(home(&c, &p).await, 200, "refreshed with the refresh token");
    let grants: Vec<String> = p
        .mock
        .requests_to(Endpoint::Token)
        .iter()
        .filter_map(|r| r.grant_type().map(str::to_owned))
        .collect();
    assert_eq!(grants, ["authorization_code", "refresh_token"]);
    let after = auth_state(&p, "alice").await;
    let second_refresh = after["refresh_token"].as_str().unwrap();
    assert_ne!(
        second_refresh, first_refresh,
        "CILogon rotates refresh tokens"
    );
    assert_ne!(after["access_token"], before["access_token"]);
    assert_eq!(after["cilogon_user"]["idp"], UNI);
    // The new access token works: the next refresh needs no token request.
    advance(&p, 301);
    assert_eq!(home(&c, &p).await, 200);
    assert_eq!(p.mock.count(Endpoint::Token), 2);
    // The rotated-out refresh token is used up.
    let response = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(
                hubauth_harness::tls::loopback_cert().cert_pem.as_bytes(),
            )
            .unwrap(),
        )
        .build()
        .unwrap()
        .post(p.mock.token_url())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", first_refresh.as_str()),
            ("client_id", super::common::CLIENT_ID),
            ("client_secret", super::common::SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn without_offline_access_an_expired_access_token_ends_the_session() {
    let p = pair("", &[(UNI, &format!("{UNI_STRIP}\nallow_all = true"))]).await;
    let (c, _, _) = login_as(&p, "alice@uni.edu").await;
    assert!(auth_state(&p, "alice").await["refresh_token"].is_null());
    p.mock.expire_access_tokens();
    advance(&p, 301);
    assert_eq!(home(&c, &p).await, 302, "log in again");
}

#[tokio::test]
async fn an_expired_refresh_token_ends_the_session() {
    let p = pair(OFFLINE, &[(UNI, &format!("{UNI_STRIP}\nallow_all = true"))]).await;
    let (c, _, _) = login_as(&p, "alice@uni.edu").await;
    p.mock.expire_access_tokens();
    p.mock.expire_refresh_tokens();
    advance(&p, 301);
    assert_eq!(home(&c, &p).await, 302);
}

#[tokio::test]
async fn a_refresh_that_answers_for_another_idp_or_subject_ends_the_session() {
    let idps = [
        (UNI, format!("{UNI_STRIP}\nallow_all = true")),
        (PARTNER, format!("{UNI_STRIP}\nallow_all = true")),
    ];
    let idps: Vec<(&str, &str)> = idps.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let p = pair(OFFLINE, &idps).await;
    let (c, _, _) = login_as(&p, "alice@uni.edu").await;
    // Both IdPs are allowed, but the refresh is not about the identity logged in.
    p.mock
        .set_claim("alice@uni.edu", "idp", Some(json!(PARTNER)));
    advance(&p, 301);
    assert_eq!(home(&c, &p).await, 302);
    let (c, status, _) = login_as(&p, "bob@uni.edu").await;
    assert_eq!(status, 303);
    p.mock.set_claim(
        "bob@uni.edu",
        "sub",
        Some(json!("http://cilogon.org/serverA/users/1")),
    );
    advance(&p, 301);
    assert_eq!(home(&c, &p).await, 302);
}

#[tokio::test]
async fn a_user_disabled_at_cilogon_loses_access_at_the_next_refresh() {
    let p = pair(OFFLINE, &[(UNI, &format!("{UNI_STRIP}\nallow_all = true"))]).await;
    let (c, _, _) = login_as(&p, "alice@uni.edu").await;
    p.mock.set_disabled("alice@uni.edu", true);
    advance(&p, 301);
    assert_eq!(
        home(&c, &p).await,
        302,
        "the access token and the refresh token are refused"
    );
}

#[tokio::test]
async fn cilogon_down_during_a_refresh_keeps_the_session_and_retries_later() {
    let p = pair("", &[(UNI, &format!("{UNI_STRIP}\nallow_all = true"))]).await;
    let (c, _, _) = login_as(&p, "alice@uni.edu").await;
    p.mock.set_down(Endpoint::UserInfo, true);
    advance(&p, 301);
    assert_eq!(home(&c, &p).await, 200, "an outage is not a logout");
    p.mock.set_down(Endpoint::UserInfo, false);
    p.mock
        .fail_next(Endpoint::UserInfo, hubauth_cilogon::mock::Fault::Garbage);
    advance(&p, 301);
    assert_eq!(home(&c, &p).await, 200, "nor is garbage");
    // Back up: the rules are checked again.
    p.mock.set_disabled("alice@uni.edu", true);
    advance(&p, 301);
    assert_eq!(home(&c, &p).await, 302);
}
