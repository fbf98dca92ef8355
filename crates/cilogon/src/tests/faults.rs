//! CILogon down or answering garbage, forged ID tokens and user info about someone else:
//! each refuses the login (502 for a provider failure, 403 for a refusal) and starts no
//! session.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_cilogon::mock::{ClientSettings, Endpoint, Fault};

use super::common::{CLIENT_ID, Pair, UNI, UNI_STRIP, client, home, login_as, pair, stored_user};

async fn allow_all() -> Pair {
    pair("", &[(UNI, &format!("{UNI_STRIP}\nallow_all = true"))]).await
}

async fn refused(p: &Pair, status: u16, needle: &str) {
    let (c, got, body) = login_as(p, "alice@uni.edu").await;
    assert_eq!(got, status, "{body}");
    assert!(body.contains(needle), "{needle:?} not in {body}");
    assert_eq!(home(&c, p).await, 302, "no session");
    assert!(stored_user(p, "alice").await.is_none());
}

#[tokio::test]
async fn the_token_endpoint_failing_or_answering_garbage_is_a_provider_error() {
    let p = allow_all().await;
    p.mock.fail_next(
        Endpoint::Token,
        Fault::Status(500, "Internal Server Error".into()),
    );
    refused(&p, 502, "token request").await;
    p.mock.fail_next(Endpoint::Token, Fault::Garbage);
    refused(&p, 502, "token request").await;
    p.mock.fail_next(Endpoint::Token, Fault::EmptyBody);
    refused(&p, 502, "token request").await;
    p.mock.set_down(Endpoint::Token, true);
    refused(&p, 502, "token request").await;
    p.mock.set_down(Endpoint::Token, false);
    let (_, status, _) = login_as(&p, "alice@uni.edu").await;
    assert_eq!(status, 303, "works again");
}

#[tokio::test]
async fn an_oauth_error_from_the_token_endpoint_refuses_the_login() {
    let p = allow_all().await;
    p.mock.fail_next(
        Endpoint::Token,
        Fault::Status(
            400,
            r#"{"error":"invalid_grant","error_description":"the code has expired"}"#.into(),
        ),
    );
    refused(&p, 403, "the code has expired").await;
}

#[tokio::test]
async fn the_user_info_endpoint_failing_or_answering_garbage_is_a_provider_error() {
    let p = allow_all().await;
    p.mock.fail_next(Endpoint::UserInfo, Fault::Garbage);
    refused(&p, 502, "user info").await;
    p.mock.fail_next(Endpoint::UserInfo, Fault::EmptyBody);
    refused(&p, 502, "user info").await;
    p.mock
        .fail_next(Endpoint::UserInfo, Fault::Status(503, "down".into()));
    refused(&p, 502, "user info").await;
    p.mock.fail_next(
        Endpoint::UserInfo,
        Fault::Status(200, r#"["not", "an", "object"]"#.into()),
    );
    refused(&p, 502, "user info").await;
}

/// F28: user info about another subject than the verified ID token is refused.
#[tokio::test]
async fn user_info_about_another_subject_than_the_id_token_is_refused() {
    let p = allow_all().await;
    p.mock.fail_next(
        Endpoint::UserInfo,
        Fault::Status(
            200,
            format!(
                r#"{{"sub":"http://cilogon.org/serverA/users/1","idp":"{UNI}","eppn":"alice@uni.edu"}}"#
            ),
        ),
    );
    refused(&p, 403, "another user").await;
}

#[tokio::test]
async fn a_forged_id_token_is_refused() {
    let p = allow_all().await;
    p.mock.forge_id_tokens(true);
    refused(&p, 403, "Login refused").await;
    p.mock.forge_id_tokens(false);
    let (_, status, _) = login_as(&p, "alice@uni.edu").await;
    assert_eq!(status, 303);
}

#[tokio::test]
async fn discovery_or_signing_keys_unavailable_stop_the_login_until_they_are_back() {
    let p = allow_all().await;
    p.mock.set_down(Endpoint::Discovery, true);
    let c = client();
    let start = hubauth_harness::start_login(&c, &p).await;
    assert_eq!(start.status(), 502, "the endpoints cannot be resolved");
    p.mock.set_down(Endpoint::Discovery, false);
    p.mock.fail_next(Endpoint::Jwks, Fault::Garbage);
    let (c, status, body) = login_as(&p, "alice@uni.edu").await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(home(&c, &p).await, 302);
    // Discovery and the keys are fetched again at the next login.
    let (c, status, body) = login_as(&p, "alice@uni.edu").await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(home(&c, &p).await, 200);
}

#[tokio::test]
async fn a_client_not_registered_for_org_cilogon_userinfo_gets_no_idp_and_is_refused() {
    let p = allow_all().await;
    p.mock.set_client_settings(
        CLIENT_ID,
        ClientSettings {
            scopes: vec!["openid".into(), "email".into(), "profile".into()],
            ..ClientSettings::default()
        },
    );
    refused(
        &p,
        500,
        "&#x27;idp&#x27; claim was not part of the response",
    )
    .await;
}

#[tokio::test]
async fn a_slow_cilogon_is_waited_for_within_the_timeouts() {
    let p = allow_all().await;
    p.mock.fail_next(
        Endpoint::UserInfo,
        Fault::Delay(std::time::Duration::from_millis(300)),
    );
    let (_, status, body) = login_as(&p, "alice@uni.edu").await;
    assert_eq!(status, 303, "{body}");
}

#[tokio::test]
async fn a_cancelled_login_at_cilogon_starts_no_session() {
    let p = allow_all().await;
    p.mock.set_auto_approve(None);
    let c = client();
    let authorize = super::common::authorize_url(&c, &p).await;
    let params: Vec<(String, String)> = authorize
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .chain(std::iter::once(("login_as".to_owned(), String::new())))
        .collect();
    let cancelled = c
        .post(p.mock.authorize_url())
        .form(&params)
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 302);
    let callback = super::common::location(&cancelled);
    assert!(callback.contains("error=access_denied"), "{callback}");
    let answer = c.get(&callback).send().await.unwrap();
    assert!(answer.status().is_client_error(), "{}", answer.status());
    assert_eq!(home(&c, &p).await, 302);
}
