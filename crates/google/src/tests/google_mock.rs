//! The Google mock's own API, spoken to directly over HTTP: each behaviour as Google's
//! documentation describes it (the pages are cited in `mock/handlers.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hubauth_google::mock::{
    Endpoint, Fault, GROUP_READONLY_SCOPE, GoogleMock, MockGroup, MockHandle, MockUser,
};
use hubauth_google::service_account::{JWT_BEARER_GRANT, ServiceAccountKey};
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use rsa::pkcs8::DecodePrivateKey as _;
use serde_json::{Value, json};

use super::google_flow::{SERVICE_ACCOUNT, groups, users};

const CLIENT: &str = "app.apps.googleusercontent.com";
const SECRET: &str = "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";
const REDIRECT: &str = "http://127.0.0.1:9/hub/oauth_callback";
const READER: &str = "groups-reader@example.com";

async fn start() -> MockHandle {
    start_with(|m| m).await
}

async fn start_with(configure: impl FnOnce(GoogleMock) -> GoogleMock) -> MockHandle {
    let mut builder = GoogleMock::builder()
        .client(CLIENT, SECRET, REDIRECT)
        .service_account(SERVICE_ACCOUNT)
        .delegate(SERVICE_ACCOUNT, &[GROUP_READONLY_SCOPE])
        .service_account("no-delegation@hub-project.iam.gserviceaccount.com");
    for user in users() {
        builder = builder.user(user);
    }
    for group in groups() {
        builder = builder.group(group);
    }
    configure(builder).start().await.unwrap()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// The authorization request for `user` with `params`; the mock's answer.
async fn authorize(mock: &MockHandle, user: &str, params: &[(&str, &str)]) -> reqwest::Response {
    mock.set_auto_approve(Some(user));
    let mut url = url::Url::parse(&mock.authorize_url()).unwrap();
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("client_id", CLIENT);
        query.append_pair("redirect_uri", REDIRECT);
        query.append_pair("response_type", "code");
        for (key, value) in params {
            query.append_pair(key, value);
        }
    }
    http().get(url).send().await.unwrap()
}

fn redirect_query(response: &reqwest::Response) -> HashMap<String, String> {
    let location = response.headers()["location"].to_str().unwrap();
    assert!(location.starts_with(REDIRECT), "{location}");
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// A code for `user`, and the redirect's parameters.
async fn code(mock: &MockHandle, user: &str, params: &[(&str, &str)]) -> HashMap<String, String> {
    let response = authorize(mock, user, params).await;
    assert_eq!(response.status(), 302);
    redirect_query(&response)
}

async fn exchange(mock: &MockHandle, code: &str) -> (u16, Value) {
    let response = http()
        .post(mock.token_url())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("client_id", CLIENT),
            ("client_secret", SECRET),
        ])
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn post_token(mock: &MockHandle, form: &[(&str, &str)]) -> (u16, Value) {
    let response = http()
        .post(mock.token_url())
        .form(form)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn the_discovery_document_is_googles() {
    let mock = start().await;
    let doc: Value = reqwest::get(mock.discovery_url())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], "https://accounts.google.com");
    assert_eq!(doc["authorization_endpoint"], json!(mock.authorize_url()));
    assert_eq!(doc["token_endpoint"], json!(mock.token_url()));
    assert_eq!(doc["userinfo_endpoint"], json!(mock.oidc_userinfo_url()));
    assert_eq!(doc["jwks_uri"], json!(mock.jwks_url()));
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    let keys: Value = reqwest::get(mock.jwks_url())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(keys["keys"][0]["kty"], "RSA");
    assert!(keys["keys"][0]["kid"].is_string());
}

#[tokio::test]
async fn bad_authorization_requests_get_googles_error_pages() {
    let mock = start().await;
    let page = |status: u16, text: &'static str| (status, text);
    let other_client = http()
        .get(format!(
            "{}?client_id=nobody&redirect_uri={REDIRECT}&response_type=code&scope=openid",
            mock.authorize_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(other_client.status(), 401);
    assert!(
        other_client
            .text()
            .await
            .unwrap()
            .contains("invalid_client")
    );
    for (params, (status, text)) in [
        (
            vec![("scope", "openid")],
            page(400, "redirect_uri_mismatch"),
        ),
        (vec![], page(400, "Missing required parameter: scope")),
        (
            vec![("scope", "openid email"), ("access_type", "always")],
            page(400, "Invalid access_type: always"),
        ),
        (
            vec![
                ("scope", "openid email"),
                ("prompt", "consent"),
                ("approval_prompt", "force"),
            ],
            page(400, "Conflict params: approval_prompt and prompt"),
        ),
        (
            vec![("scope", "openid none-such")],
            page(400, "Some requested scopes were invalid"),
        ),
        (
            vec![("scope", "openid"), ("prompt", "none consent")],
            page(400, "Invalid prompt"),
        ),
    ] {
        let mut url = url::Url::parse(&mock.authorize_url()).unwrap();
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("client_id", CLIENT);
            let redirect = if text == "redirect_uri_mismatch" {
                "http://127.0.0.1:9/elsewhere"
            } else {
                REDIRECT
            };
            query.append_pair("redirect_uri", redirect);
            query.append_pair("response_type", "code");
            for (k, v) in &params {
                query.append_pair(k, v);
            }
        }
        mock.set_auto_approve(Some("alice@example.com"));
        let response = http().get(url).send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{params:?}");
        let body = response.text().await.unwrap();
        assert!(body.contains(text), "{params:?}: {body}");
    }
}

#[tokio::test]
async fn the_code_exchange_answers_as_google_does() {
    let mock = start().await;
    let redirect = code(
        &mock,
        "alice@example.com",
        &[
            ("scope", "openid email profile"),
            ("state", "s1"),
            ("nonce", "n1"),
        ],
    )
    .await;
    assert_eq!(redirect["state"], "s1");
    assert_eq!(redirect["hd"], "example.com");
    assert_eq!(redirect["authuser"], "0");
    assert_eq!(
        redirect["scope"],
        "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile"
    );
    let (status, body) = exchange(&mock, &redirect["code"]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert!(body.get("refresh_token").is_none(), "online access");
    let claims = claims_of(body["id_token"].as_str().unwrap());
    assert_eq!(claims["iss"], "https://accounts.google.com");
    assert_eq!(claims["aud"], CLIENT);
    assert_eq!(claims["azp"], CLIENT);
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["hd"], "example.com");
    assert_eq!(claims["nonce"], "n1");
    assert!(claims["at_hash"].is_string());
    assert!(
        claims["sub"]
            .as_str()
            .unwrap()
            .chars()
            .all(|c| c.is_ascii_digit())
    );
    // A code is good once.
    let (status, body) = exchange(&mock, &redirect["code"]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // Personal accounts have no hd; unverified addresses say so.
    let redirect = code(&mock, "mallory@gmail.com", &[("scope", "openid email")]).await;
    assert!(!redirect.contains_key("hd"));
    let (_, body) = exchange(&mock, &redirect["code"]).await;
    assert!(
        claims_of(body["id_token"].as_str().unwrap())
            .get("hd")
            .is_none()
    );
    let redirect = code(&mock, "eve@example.com", &[("scope", "openid email")]).await;
    let (_, body) = exchange(&mock, &redirect["code"]).await;
    assert_eq!(
        claims_of(body["id_token"].as_str().unwrap())["email_verified"],
        false
    );
    // Client authentication: a wrong secret, and HTTP Basic.
    let redirect = code(&mock, "alice@example.com", &[("scope", "openid email")]).await;
    let (status, body) = post_token(
        &mock,
        &[
            ("grant_type", "authorization_code"),
            ("code", &redirect["code"]),
            ("redirect_uri", REDIRECT),
            ("client_id", CLIENT),
            ("client_secret", "wrong"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let redirect = code(&mock, "alice@example.com", &[("scope", "openid email")]).await;
    let response = http()
        .post(mock.token_url())
        .basic_auth(CLIENT, Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", redirect["code"].as_str()),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (status, body) = post_token(&mock, &[("grant_type", "password")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
}

#[tokio::test]
async fn refresh_tokens_come_with_offline_access_at_first_consent_or_with_prompt_consent() {
    let mock = start().await;
    let offline = [("scope", "openid email"), ("access_type", "offline")];
    // prompt=none before any consent.
    let response = authorize(
        &mock,
        "alice@example.com",
        &[("scope", "openid"), ("prompt", "none")],
    )
    .await;
    assert_eq!(redirect_query(&response)["error"], "consent_required");
    let redirect = code(&mock, "alice@example.com", &offline).await;
    assert_eq!(redirect["prompt"], "consent");
    let (_, first) = exchange(&mock, &redirect["code"]).await;
    let refresh = first["refresh_token"].as_str().unwrap().to_owned();
    let redirect = code(&mock, "alice@example.com", &offline).await;
    assert_eq!(redirect["prompt"], "none");
    let (_, second) = exchange(&mock, &redirect["code"]).await;
    assert!(second.get("refresh_token").is_none(), "already consented");
    for again in [("prompt", "consent"), ("approval_prompt", "force")] {
        let redirect = code(&mock, "alice@example.com", &[offline[0], offline[1], again]).await;
        let (_, body) = exchange(&mock, &redirect["code"]).await;
        assert!(body["refresh_token"].is_string(), "{again:?}");
    }
    // The refresh: a new access token and ID token, no new refresh token.
    let (status, body) = post_token(
        &mock,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", CLIENT),
            ("client_secret", SECRET),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["access_token"].is_string());
    assert!(body.get("refresh_token").is_none());
    let claims = claims_of(body["id_token"].as_str().unwrap());
    assert!(claims.get("nonce").is_none());
    // A suspended account's refresh token stops working.
    mock.set_suspended("alice@example.com", true);
    let (status, body) = post_token(
        &mock,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", CLIENT),
            ("client_secret", SECRET),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error_description"],
        "Token has been expired or revoked."
    );
}

#[tokio::test]
async fn the_user_info_endpoints_answer_in_their_own_shapes() {
    let mock = start().await;
    let redirect = code(&mock, "alice@example.com", &[("scope", "openid email")]).await;
    let (_, tokens) = exchange(&mock, &redirect["code"]).await;
    let access = tokens["access_token"].as_str().unwrap();
    let v1: Value = http()
        .get(mock.userinfo_url())
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v1["email"], "alice@example.com");
    assert_eq!(v1["verified_email"], true);
    assert_eq!(v1["hd"], "example.com");
    assert!(v1["id"].is_string() && v1.get("sub").is_none());
    assert!(v1.get("name").is_none(), "no profile scope");
    let oidc: Value = http()
        .get(format!(
            "{}?access_token={access}",
            mock.oidc_userinfo_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(oidc["sub"], v1["id"]);
    assert_eq!(oidc["email_verified"], true);
    // Tokens Google does not accept.
    let bad = http()
        .get(mock.userinfo_url())
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["error"]["errors"][0]["reason"], "authError");
    let bad = http()
        .get(mock.oidc_userinfo_url())
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    assert_eq!(
        bad.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    mock.expire_access_tokens();
    let expired = http()
        .get(mock.userinfo_url())
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), 401);
}

fn key(mock: &MockHandle, account: &str) -> ServiceAccountKey {
    ServiceAccountKey::parse(&mock.service_account_key(account).unwrap()).unwrap()
}

/// An assertion with the claims given, signed by the account's registered key.
fn signed(mock: &MockHandle, claims: &Value) -> String {
    let json: Value =
        serde_json::from_str(&mock.service_account_key(SERVICE_ACCOUNT).unwrap()).unwrap();
    let private =
        rsa::RsaPrivateKey::from_pkcs8_pem(json["private_key"].as_str().unwrap()).unwrap();
    let der = private.to_pkcs1_der().unwrap();
    let key = jsonwebtoken::EncodingKey::from_rsa_der(der.as_bytes());
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        claims,
        &key,
    )
    .unwrap()
}

async fn grant(mock: &MockHandle, assertion: &str) -> (u16, Value) {
    post_token(
        mock,
        &[("grant_type", JWT_BEARER_GRANT), ("assertion", assertion)],
    )
    .await
}

#[tokio::test]
async fn the_service_account_grant_follows_googles_rules() {
    let mock = start().await;
    let now = now();
    let good = key(&mock, SERVICE_ACCOUNT);
    let (status, body) = grant(
        &mock,
        &good.assertion(READER, GROUP_READONLY_SCOPE, now).unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert!(body.get("refresh_token").is_none() && body.get("id_token").is_none());
    let claims = &mock.accepted_assertions()[0];
    assert_eq!(claims["sub"], READER);
    // A key Google does not know.
    let unknown =
        ServiceAccountKey::parse(&mock.unknown_service_account_key(SERVICE_ACCOUNT).unwrap())
            .unwrap();
    let (status, body) = grant(
        &mock,
        &unknown
            .assertion(READER, GROUP_READONLY_SCOPE, now)
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error_description"].as_str()),
        (400, Some("Invalid JWT Signature."))
    );
    // Outside the hour around now, or longer than an hour.
    let (status, body) = grant(
        &mock,
        &good
            .assertion(READER, GROUP_READONLY_SCOPE, now - 7200)
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("short-lived")
    );
    let long = signed(
        &mock,
        &json!({"iss": SERVICE_ACCOUNT, "scope": GROUP_READONLY_SCOPE, "aud": mock.token_url(), "iat": now, "exp": now + 7200, "sub": READER}),
    );
    assert_eq!(grant(&mock, &long).await.0, 400);
    // Another audience.
    let other = signed(
        &mock,
        &json!({"iss": SERVICE_ACCOUNT, "scope": GROUP_READONLY_SCOPE, "aud": "https://oauth2.googleapis.com/token", "iat": now, "exp": now + 3600, "sub": READER}),
    );
    let (status, body) = grant(&mock, &other).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // No scope.
    let (status, body) = grant(&mock, &good.assertion(READER, "", now).unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    // A user the directory does not have.
    let (status, body) = grant(
        &mock,
        &good
            .assertion("nobody@example.com", GROUP_READONLY_SCOPE, now)
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error_description"].as_str()),
        (400, Some("Invalid email or User ID"))
    );
    // A scope not delegated, or an account without domain-wide delegation.
    let (status, body) = grant(
        &mock,
        &good
            .assertion(
                READER,
                "https://www.googleapis.com/auth/admin.directory.user",
                now,
            )
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("unauthorized_client"))
    );
    let undelegated = key(&mock, "no-delegation@hub-project.iam.gserviceaccount.com");
    let (status, body) = grant(
        &mock,
        &undelegated
            .assertion(READER, GROUP_READONLY_SCOPE, now)
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("unauthorized_client"))
    );
    // Without sub the token is the service account's own: no delegation needed.
    let own = signed(
        &mock,
        &json!({"iss": SERVICE_ACCOUNT, "scope": GROUP_READONLY_SCOPE, "aud": mock.token_url(), "iat": now, "exp": now + 3600}),
    );
    assert_eq!(grant(&mock, &own).await.0, 200);
    let (status, _) = post_token(&mock, &[("grant_type", JWT_BEARER_GRANT)]).await;
    assert_eq!(status, 400);
}

async fn delegated_token(mock: &MockHandle, subject: Option<&str>, scope: &str) -> String {
    let now = now();
    let mut claims = json!({"iss": SERVICE_ACCOUNT, "scope": scope, "aud": mock.token_url(), "iat": now, "exp": now + 3600});
    if let Some(subject) = subject {
        claims["sub"] = json!(subject);
    }
    let (status, body) = grant(mock, &signed(mock, &claims)).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

async fn list(mock: &MockHandle, token: &str, query: &[(&str, &str)]) -> (u16, Value) {
    let response = http()
        .get(mock.groups_url())
        .bearer_auth(token)
        .query(query)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn groups_list_pages_and_answers_googles_errors() {
    let mock = start_with(|m| {
        m.service_account("full@hub-project.iam.gserviceaccount.com")
            .group(MockGroup::new("zz@example.com", &["admin@example.com"]))
    })
    .await;
    let token = delegated_token(&mock, Some(READER), GROUP_READONLY_SCOPE).await;
    let (status, all) = list(&mock, &token, &[("userKey", "admin@example.com")]).await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["kind"], "admin#directory#groups");
    let emails: Vec<&str> = all["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        [
            "hub-admins@example.com",
            "staff@example.com",
            "zz@example.com"
        ]
    );
    assert_eq!(all["groups"][0]["kind"], "admin#directory#group");
    assert_eq!(all["groups"][0]["directMembersCount"], "1");
    assert!(all.get("nextPageToken").is_none());
    // Pages.
    let (_, first) = list(
        &mock,
        &token,
        &[("userKey", "admin@example.com"), ("maxResults", "2")],
    )
    .await;
    assert_eq!(first["groups"].as_array().unwrap().len(), 2);
    let next = first["nextPageToken"].as_str().unwrap();
    let (_, second) = list(
        &mock,
        &token,
        &[
            ("userKey", "admin@example.com"),
            ("maxResults", "2"),
            ("pageToken", next),
        ],
    )
    .await;
    assert_eq!(second["groups"][0]["email"], "zz@example.com");
    assert!(second.get("nextPageToken").is_none());
    // A page token of another listing, a bad maxResults.
    let (status, _) = list(
        &mock,
        &token,
        &[("userKey", "alice@example.com"), ("pageToken", next)],
    )
    .await;
    assert_eq!(status, 400);
    let (status, body) = list(
        &mock,
        &token,
        &[("userKey", "admin@example.com"), ("maxResults", "500")],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["errors"][0]["reason"], "invalid");
    // No groups: no groups field. A group as the key (nested groups). By numeric id.
    let (_, none) = list(&mock, &token, &[("userKey", "bob@example.com")]).await;
    assert!(none.get("groups").is_none(), "{none}");
    let (_, nested) = list(&mock, &token, &[("userKey", "team@example.com")]).await;
    assert_eq!(nested["groups"][0]["email"], "staff@example.com");
    let alice_id = MockUser::workspace("alice@example.com").sub;
    let (status, by_id) = list(&mock, &token, &[("userKey", &alice_id)]).await;
    assert_eq!(status, 200);
    assert_eq!(by_id["groups"][0]["email"], "staff@example.com");
    // A key it does not know, no key.
    let (status, body) = list(&mock, &token, &[("userKey", "nobody@example.com")]).await;
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (400, Some("Invalid Input"))
    );
    let (status, _) = list(&mock, &token, &[]).await;
    assert_eq!(status, 400);
    // Tokens that may not list groups.
    let (status, body) = list(&mock, "nope", &[("userKey", "alice@example.com")]).await;
    assert_eq!(
        (status, body["error"]["errors"][0]["reason"].as_str()),
        (401, Some("authError"))
    );
    let own = delegated_token(&mock, None, GROUP_READONLY_SCOPE).await;
    let (status, body) = list(&mock, &own, &[("userKey", "alice@example.com")]).await;
    assert_eq!(status, 403);
    assert_eq!(
        body["error"]["message"],
        "Not Authorized to access this resource/api"
    );
    let not_admin = {
        let now = now();
        let claims = json!({"iss": SERVICE_ACCOUNT, "scope": GROUP_READONLY_SCOPE, "aud": mock.token_url(), "iat": now, "exp": now + 3600, "sub": "alice@example.com"});
        grant(&mock, &signed(&mock, &claims)).await.1["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (status, body) = list(&mock, &not_admin, &[("userKey", "alice@example.com")]).await;
    assert_eq!(
        (status, body["error"]["errors"][0]["reason"].as_str()),
        (403, Some("forbidden"))
    );
    // A token for another scope: the framework's delegation allows only the group scope,
    // so ask for a token without sub for another scope.
    let other_scope = delegated_token(
        &mock,
        None,
        "https://www.googleapis.com/auth/admin.directory.user.readonly",
    )
    .await;
    let (status, body) = list(&mock, &other_scope, &[("userKey", "alice@example.com")]).await;
    assert_eq!(
        (status, body["error"]["errors"][0]["reason"].as_str()),
        (403, Some("insufficientPermissions"))
    );
    mock.expire_delegated_tokens();
    let (status, _) = list(&mock, &token, &[("userKey", "alice@example.com")]).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn faults_and_outages_apply_to_each_endpoint() {
    let mock = start().await;
    mock.fail_next(Endpoint::Groups, Fault::Status(503, "{}".into()));
    let token = delegated_token(&mock, Some(READER), GROUP_READONLY_SCOPE).await;
    let (status, _) = list(&mock, &token, &[("userKey", "alice@example.com")]).await;
    assert_eq!(status, 503);
    let (status, _) = list(&mock, &token, &[("userKey", "alice@example.com")]).await;
    assert_eq!(status, 200, "a fault is used once");
    mock.set_down(Endpoint::Discovery, true);
    assert_eq!(
        reqwest::get(mock.discovery_url()).await.unwrap().status(),
        503
    );
    mock.fail_next(Endpoint::Certs, Fault::Garbage);
    let text = reqwest::get(mock.jwks_url())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err());
    assert_eq!(mock.count(Endpoint::Groups), 2);
    // The recorded requests keep no secrets.
    for request in mock.requests_to(Endpoint::Token) {
        assert_eq!(request.form_value("assertion"), Some("[redacted]"));
    }
}
