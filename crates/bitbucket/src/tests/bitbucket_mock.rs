//! The Bitbucket mock's own API, as Bitbucket documents it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;

use hubauth_bitbucket::mock::{BitbucketMock, MockHandle, MockUser, MockWorkspace, Role};
use serde_json::Value;

const CALLBACK: &str = "http://127.0.0.1:9/hub/oauth_callback";

async fn mock() -> MockHandle {
    let mut alice = MockUser::new("alice");
    for i in 0..25 {
        alice = alice.workspace(MockWorkspace::new(&format!("ws-{i:02}"), "Some team"));
    }
    alice = alice.workspace(MockWorkspace::new("mine", "Mine").role(Role::Owner));
    BitbucketMock::builder()
        .client("key", "s3cretS3cret", CALLBACK)
        .user(alice)
        .user(MockUser::new("bob"))
        .auto_approve(Some("alice"))
        .start()
        .await
        .unwrap()
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A code for alice, through the authorize endpoint.
async fn code(m: &MockHandle, redirect_uri: Option<&str>) -> String {
    let mut url = url::Url::parse(&m.authorize_url()).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", "key")
        .append_pair("response_type", "code")
        .append_pair("state", "xyz");
    if let Some(uri) = redirect_uri {
        url.query_pairs_mut().append_pair("redirect_uri", uri);
    }
    let answer = no_redirects().get(url).send().await.unwrap();
    assert_eq!(answer.status(), 302);
    let location = url::Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
    let query: HashMap<String, String> = location.query_pairs().into_owned().collect();
    assert_eq!(query["state"], "xyz");
    query["code"].clone()
}

async fn exchange(m: &MockHandle, form: &[(&str, &str)], basic: bool) -> (u16, Value) {
    let mut request = no_redirects().post(m.token_url()).form(form);
    if basic {
        request = request.basic_auth("key", Some("s3cretS3cret"));
    }
    let answer = request.send().await.unwrap();
    (answer.status().as_u16(), answer.json().await.unwrap())
}

async fn api(url: &str, token: &str) -> (u16, Value) {
    let answer = no_redirects()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (answer.status().as_u16(), answer.json().await.unwrap())
}

#[tokio::test]
async fn code_grant_with_basic_or_body_credentials_and_the_documented_token_response() {
    let m = mock().await;
    let code1 = code(&m, None).await;
    let (status, token) = exchange(
        &m,
        &[("grant_type", "authorization_code"), ("code", &code1)],
        true,
    )
    .await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(token["expires_in"], 7200);
    assert_eq!(token["token_type"], "bearer");
    assert_eq!(token["scope"], "account");
    assert!(token["refresh_token"].is_string());
    // A code is used once.
    let (status, error) = exchange(
        &m,
        &[("grant_type", "authorization_code"), ("code", &code1)],
        true,
    )
    .await;
    assert_eq!(
        (status, error["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // Credentials in the body work too; a wrong secret does not.
    let code2 = code(&m, None).await;
    let (status, _) = exchange(
        &m,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code2),
            ("client_id", "key"),
            ("client_secret", "s3cretS3cret"),
        ],
        false,
    )
    .await;
    assert_eq!(status, 200);
    let code3 = code(&m, None).await;
    let (status, error) = exchange(
        &m,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code3),
            ("client_id", "key"),
            ("client_secret", "wrong"),
        ],
        false,
    )
    .await;
    assert_eq!(
        (status, error["error"].as_str()),
        (401, Some("invalid_client"))
    );
}

#[tokio::test]
async fn redirect_uri_must_be_the_callback_url_or_under_it() {
    let m = mock().await;
    let under = format!("{CALLBACK}/more");
    let code_under = code(&m, Some(&under)).await;
    // The token request must repeat it.
    let (status, _) = exchange(
        &m,
        &[("grant_type", "authorization_code"), ("code", &code_under)],
        true,
    )
    .await;
    assert_eq!(status, 400);
    let code_under = code(&m, Some(&under)).await;
    let (status, _) = exchange(
        &m,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code_under),
            ("redirect_uri", &under),
        ],
        true,
    )
    .await;
    assert_eq!(status, 200);
    let elsewhere = no_redirects()
        .get(format!(
            "{}?client_id=key&response_type=code&redirect_uri=http%3A%2F%2Fevil.example%2Fcb",
            m.authorize_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 400, "shown, never redirected");
    let unknown = no_redirects()
        .get(format!(
            "{}?client_id=nobody&response_type=code",
            m.authorize_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400);
}

#[tokio::test]
async fn refresh_tokens_rotate() {
    let m = mock().await;
    let code1 = code(&m, None).await;
    let (_, first) = exchange(
        &m,
        &[("grant_type", "authorization_code"), ("code", &code1)],
        true,
    )
    .await;
    let old = first["refresh_token"].as_str().unwrap();
    let (status, second) = exchange(
        &m,
        &[("grant_type", "refresh_token"), ("refresh_token", old)],
        true,
    )
    .await;
    assert_eq!(status, 200);
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    let (status, error) = exchange(
        &m,
        &[("grant_type", "refresh_token"), ("refresh_token", old)],
        true,
    )
    .await;
    assert_eq!(
        (status, error["error"].as_str()),
        (400, Some("invalid_grant")),
        "used once"
    );
    let (status, _) = api(&m.user_url(), second["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn user_endpoint_answers_the_token_owner_and_refuses_expired_tokens() {
    let m = mock().await;
    let code1 = code(&m, None).await;
    let (_, token) = exchange(
        &m,
        &[("grant_type", "authorization_code"), ("code", &code1)],
        true,
    )
    .await;
    let access = token["access_token"].as_str().unwrap();
    let (status, user) = api(&m.user_url(), access).await;
    assert_eq!(status, 200);
    assert_eq!(user["username"], "alice");
    assert_eq!(user["type"], "user");
    assert!(user["uuid"].as_str().unwrap().starts_with('{'));
    m.expire_access_tokens();
    let (status, error) = api(&m.user_url(), access).await;
    assert_eq!(status, 401);
    assert_eq!(error["type"], "error");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    let (status, _) = api(&m.user_url(), "made-up").await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_consumer_without_account_permission_gets_403_with_the_scopes() {
    let m = mock().await;
    m.set_consumer_scopes("key", &["repository"]);
    let code1 = code(&m, None).await;
    let (_, token) = exchange(
        &m,
        &[("grant_type", "authorization_code"), ("code", &code1)],
        true,
    )
    .await;
    let (status, error) = api(&m.user_url(), token["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 403);
    assert_eq!(error["error"]["detail"]["required"][0], "account");
}

#[tokio::test]
async fn workspaces_are_paginated_with_absolute_next_and_previous_links() {
    let m = mock().await;
    let code1 = code(&m, None).await;
    let (_, token) = exchange(
        &m,
        &[("grant_type", "authorization_code"), ("code", &code1)],
        true,
    )
    .await;
    let access = token["access_token"].as_str().unwrap();
    let first_url = format!("{}?role=member", m.workspaces_url());
    let (status, first) = api(&first_url, access).await;
    assert_eq!(status, 200);
    assert_eq!(first["pagelen"], 10);
    assert_eq!(first["page"], 1);
    assert_eq!(first["size"], 27, "her own, 25 teams, one she owns");
    assert_eq!(first["values"].as_array().unwrap().len(), 10);
    assert_eq!(first["values"][0]["slug"], "alice");
    assert_eq!(first["values"][0]["type"], "workspace");
    assert!(first.get("previous").is_none());
    let next = first["next"].as_str().unwrap();
    assert!(
        next.starts_with(&m.workspaces_url()) && next.contains("role=member"),
        "{next}"
    );
    let (_, second) = api(next, access).await;
    assert_eq!(second["page"], 2);
    assert!(second["previous"].is_string());
    let (_, third) = api(second["next"].as_str().unwrap(), access).await;
    assert_eq!(third["values"].as_array().unwrap().len(), 7);
    assert!(third.get("next").is_none(), "the last page has no next");
    // pagelen is capped at 100; role filters; a bad role is a 400.
    let (_, big) = api(&format!("{}?pagelen=500", m.workspaces_url()), access).await;
    assert_eq!(big["pagelen"], 100);
    assert_eq!(big["values"].as_array().unwrap().len(), 27);
    let (_, owned) = api(&format!("{}?role=owner", m.workspaces_url()), access).await;
    assert_eq!(owned["size"], 1);
    assert_eq!(owned["values"][0]["slug"], "mine");
    let (status, _) = api(&format!("{}?role=boss", m.workspaces_url()), access).await;
    assert_eq!(status, 400);
    let (status, _) = api(&format!("{}?page=0", m.workspaces_url()), access).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn pkce_parameters_are_ignored_as_bitbucket_documents_none() {
    let m = mock().await;
    let mut url = url::Url::parse(&m.authorize_url()).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", "key")
        .append_pair("response_type", "code")
        .append_pair("code_challenge", "abc")
        .append_pair("code_challenge_method", "S256");
    let answer = no_redirects().get(url).send().await.unwrap();
    let location = url::Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
    let code: String = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let (status, _) = exchange(
        &m,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", "anything"),
        ],
        true,
    )
    .await;
    assert_eq!(status, 200);
}
