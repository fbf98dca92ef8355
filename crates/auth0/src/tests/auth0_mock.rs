//! The Auth0 mock's own API, as Auth0 documents it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;

use hubauth_auth0::mock::{Auth0Mock, MockHandle, MockUser};
use hubauth_devidp::mock::s256;
use serde_json::Value;

const CALLBACK: &str = "https://hub.example/hub/oauth_callback";
const VERIFIER: &str = "a-verifier-of-enough-length-for-pkce-0001";

async fn mock() -> MockHandle {
    Auth0Mock::builder()
        .client("app", "secret", CALLBACK)
        .allowed_logout_url("app", "https://hub.example/hub/login")
        .tenant_logout_url("https://www.example.org/")
        .user(MockUser::new("alice", "example.com"))
        .user(MockUser::new("eve", "example.com").unverified())
        .auto_approve(Some("alice@example.com"))
        .start()
        .await
        .unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn code(m: &MockHandle, scope: &str) -> String {
    let mut url = url::Url::parse(&m.url("/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", "app")
        .append_pair("redirect_uri", CALLBACK)
        .append_pair("response_type", "code")
        .append_pair("scope", scope)
        .append_pair("nonce", "n-0S6")
        .append_pair("code_challenge", &s256(VERIFIER))
        .append_pair("code_challenge_method", "S256");
    let answer = client().get(url).send().await.unwrap();
    assert_eq!(answer.status(), 302);
    let location = url::Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
    let query: HashMap<String, String> = location.query_pairs().into_owned().collect();
    query["code"].clone()
}

async fn token(m: &MockHandle, form: &[(&str, &str)]) -> (u16, Value) {
    let answer = client()
        .post(m.url("/oauth/token"))
        .form(form)
        .send()
        .await
        .unwrap();
    (answer.status().as_u16(), answer.json().await.unwrap())
}

async fn exchange(m: &MockHandle, code: &str) -> (u16, Value) {
    token(
        m,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", VERIFIER),
            ("client_id", "app"),
            ("client_secret", "secret"),
        ],
    )
    .await
}

#[tokio::test]
async fn discovery_names_the_issuer_with_its_trailing_slash_and_rs256() {
    let m = mock().await;
    let doc: Value = client()
        .get(m.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], m.issuer());
    assert!(m.issuer().ends_with('/'));
    assert_eq!(doc["jwks_uri"], m.url("/.well-known/jwks.json"));
    let keys: Value = client()
        .get(m.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(keys["keys"][0]["kty"], "RSA");
}

#[tokio::test]
async fn the_token_response_has_an_id_token_with_openid_and_a_refresh_token_with_offline_access() {
    let m = mock().await;
    let c = code(&m, "openid profile email").await;
    let (status, body) = exchange(&m, &c).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 86400);
    assert!(body["id_token"].is_string());
    assert!(body.get("refresh_token").is_none());
    let c = code(&m, "openid offline_access").await;
    let (_, body) = exchange(&m, &c).await;
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    let (status, again) = token(
        &m,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", "app"),
            ("client_secret", "secret"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        again["refresh_token"],
        refresh.as_str(),
        "not rotated by default"
    );
}

#[tokio::test]
async fn a_used_code_is_invalid_grant_with_403_and_a_wrong_secret_is_401() {
    let m = mock().await;
    let c = code(&m, "openid").await;
    let (status, _) = exchange(&m, &c).await;
    assert_eq!(status, 200);
    let (status, body) = exchange(&m, &c).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("invalid_grant"))
    );
    let c = code(&m, "openid").await;
    let (status, _) = token(
        &m,
        &[
            ("grant_type", "authorization_code"),
            ("code", &c),
            ("redirect_uri", CALLBACK),
            ("code_verifier", VERIFIER),
            ("client_id", "app"),
            ("client_secret", "wrong"),
        ],
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn userinfo_gives_the_claims_of_the_scopes_and_needs_openid() {
    let m = mock().await;
    let c = code(&m, "openid email").await;
    let (_, body) = exchange(&m, &c).await;
    let info: Value = client()
        .get(m.url("/userinfo"))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["email"], "alice@example.com");
    assert_eq!(info["email_verified"], true);
    assert!(info.get("nickname").is_none(), "no profile scope");
    assert!(info["sub"].as_str().unwrap().starts_with("auth0|"));
    let c = code(&m, "profile").await;
    let (_, body) = exchange(&m, &c).await;
    let answer = client()
        .get(m.url("/userinfo"))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401, "no openid scope");
}

#[tokio::test]
async fn a_callback_url_not_allowed_gets_an_error_page() {
    let m = mock().await;
    let answer = client()
        .get(format!(
            "{}?client_id=app&response_type=code&redirect_uri=https%3A%2F%2Fevil.example%2Fcb",
            m.url("/authorize")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    assert!(
        answer
            .text()
            .await
            .unwrap()
            .contains("Callback URL mismatch")
    );
}

#[tokio::test]
async fn v2_logout_checks_return_to_against_the_allowed_logout_urls() {
    let m = mock().await;
    let go = |query: &str| {
        let url = format!("{}?{query}", m.url("/v2/logout"));
        async move { client().get(url).send().await.unwrap() }
    };
    // The application's list, the query string not compared.
    let ok =
        go("client_id=app&returnTo=https%3A%2F%2Fhub.example%2Fhub%2Flogin%3Fnext%3D%2Fx").await;
    assert_eq!(ok.status(), 302);
    assert_eq!(
        ok.headers()["location"],
        "https://hub.example/hub/login?next=/x"
    );
    // Without client_id, the tenant's list.
    let tenant = go("returnTo=https%3A%2F%2Fwww.example.org%2F").await;
    assert_eq!(tenant.status(), 302);
    let not_tenant = go("returnTo=https%3A%2F%2Fhub.example%2Fhub%2Flogin").await;
    assert_eq!(not_tenant.status(), 400);
    let not_app = go("client_id=app&returnTo=https%3A%2F%2Fevil.example%2F").await;
    assert_eq!(not_app.status(), 400);
    // client_id without returnTo: the application's first Allowed Logout URL.
    let first = go("client_id=app").await;
    assert_eq!(first.headers()["location"], "https://hub.example/hub/login");
    assert_eq!(m.logouts().len(), 3);
}
