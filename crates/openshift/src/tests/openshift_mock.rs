//! The OpenShift mock's own API, as OpenShift documents it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;

use hubauth_devidp::mock::s256;
use hubauth_openshift::mock::{MockHandle, MockUser, OpenShiftMock};
use serde_json::Value;

const CALLBACK: &str = "http://127.0.0.1:9/hub/oauth_callback";

async fn mock() -> MockHandle {
    OpenShiftMock::builder()
        .client("jupyterhub", "secret", CALLBACK)
        .user(MockUser::new("alice").group("staff"))
        .auto_approve(Some("alice"))
        .tls_with_own_ca()
        .start()
        .await
        .unwrap()
}

fn client(m: &MockHandle) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(m.ca().unwrap().ca_pem.as_bytes()).unwrap();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .add_root_certificate(ca)
        .build()
        .unwrap()
}

/// The authorize endpoint's redirect for `scope`, as query pairs.
async fn authorize(m: &MockHandle, scope: &str, verifier: &str) -> HashMap<String, String> {
    let mut url = url::Url::parse(&format!("{}/oauth/authorize", m.issuer())).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", "jupyterhub")
        .append_pair("redirect_uri", CALLBACK)
        .append_pair("response_type", "code")
        .append_pair("scope", scope)
        .append_pair("state", "st")
        .append_pair("code_challenge", &s256(verifier))
        .append_pair("code_challenge_method", "S256");
    let answer = client(m).get(url).send().await.unwrap();
    assert_eq!(answer.status(), 302);
    let location = url::Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
    location.query_pairs().into_owned().collect()
}

async fn exchange(m: &MockHandle, code: &str, verifier: &str) -> (u16, Value) {
    let answer = client(m)
        .post(format!("{}/oauth/token", m.issuer()))
        .basic_auth("jupyterhub", Some("secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap();
    (answer.status().as_u16(), answer.json().await.unwrap())
}

async fn me(m: &MockHandle, token: &str) -> (u16, Value) {
    let answer = client(m)
        .get(format!(
            "{}/apis/user.openshift.io/v1/users/~",
            m.openshift_url()
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (answer.status().as_u16(), answer.json().await.unwrap())
}

#[tokio::test]
async fn metadata_names_the_oauth_server_as_rfc_8414_says() {
    let m = mock().await;
    let metadata: Value = client(&m)
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            m.openshift_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["issuer"], m.issuer());
    assert_eq!(
        metadata["authorization_endpoint"],
        format!("{}/oauth/authorize", m.issuer())
    );
    assert_eq!(
        metadata["token_endpoint"],
        format!("{}/oauth/token", m.issuer())
    );
    assert_eq!(metadata["code_challenge_methods_supported"][1], "S256");
    // Served over HTTPS with the mock's own CA: a client that does not trust it fails.
    let untrusting = reqwest::Client::new()
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            m.openshift_url()
        ))
        .send()
        .await;
    assert!(untrusting.is_err());
}

#[tokio::test]
async fn code_grant_gives_a_sha256_token_without_refresh_token() {
    let m = mock().await;
    let query = authorize(&m, "user:info", "verifier-verifier-verifier-verifier-1").await;
    assert_eq!(query["state"], "st");
    let (status, token) =
        exchange(&m, &query["code"], "verifier-verifier-verifier-verifier-1").await;
    assert_eq!(status, 200, "{token}");
    assert!(
        token["access_token"]
            .as_str()
            .unwrap()
            .starts_with("sha256~")
    );
    assert_eq!(token["expires_in"], 86400);
    assert_eq!(token["scope"], "user:info");
    assert!(token.get("refresh_token").is_none());
    let (status, user) = me(&m, token["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(user["metadata"]["name"], "alice");
    assert_eq!(user["apiVersion"], "user.openshift.io/v1");
    assert_eq!(
        user["groups"],
        serde_json::json!([
            "staff",
            "system:authenticated",
            "system:authenticated:oauth"
        ])
    );
}

#[tokio::test]
async fn pkce_and_single_use_codes_are_enforced() {
    let m = mock().await;
    let query = authorize(&m, "user:info", "the-right-verifier-the-right-verifier").await;
    let (status, error) = exchange(&m, &query["code"], "a-wrong-verifier-a-wrong-verifier").await;
    assert_eq!(
        (status, error["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, _) = exchange(&m, &query["code"], "the-right-verifier-the-right-verifier").await;
    assert_eq!(status, 400, "the code was used up by the failed attempt");
}

#[tokio::test]
async fn an_unknown_scope_is_invalid_scope() {
    let m = mock().await;
    let query = authorize(
        &m,
        "user:info openid",
        "verifier-verifier-verifier-verifier-2",
    )
    .await;
    assert_eq!(query["error"], "invalid_scope");
    assert!(!query.contains_key("code"));
}

#[tokio::test]
async fn users_tilde_answers_401_status_for_bad_tokens_and_403_without_user_info() {
    let m = mock().await;
    let (status, failure) = me(&m, "sha256~made-up").await;
    assert_eq!(status, 401);
    assert_eq!(failure["kind"], "Status");
    assert_eq!(failure["reason"], "Unauthorized");
    let query = authorize(
        &m,
        "user:check-access",
        "verifier-verifier-verifier-verifier-3",
    )
    .await;
    let (_, token) = exchange(&m, &query["code"], "verifier-verifier-verifier-verifier-3").await;
    let (status, failure) = me(&m, token["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 403);
    assert_eq!(failure["reason"], "Forbidden");
    let query = authorize(&m, "user:info", "verifier-verifier-verifier-verifier-4").await;
    let (_, token) = exchange(&m, &query["code"], "verifier-verifier-verifier-verifier-4").await;
    m.expire_access_tokens();
    let (status, _) = me(&m, token["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 401, "expired");
}

#[tokio::test]
async fn the_refresh_grant_is_not_offered() {
    let m = mock().await;
    let answer = client(&m)
        .post(format!("{}/oauth/token", m.issuer()))
        .basic_auth("jupyterhub", Some("secret"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["error"], "unsupported_grant_type");
}
