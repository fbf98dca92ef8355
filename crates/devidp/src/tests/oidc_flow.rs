//! End-to-end tests over real HTTP: a hand-written relying party against the provider.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use hubauth_devidp::{
    ClientAuth, DevIdp, DevIdpError, Endpoint, Fault, ManualClock, REDACTED, Tamper, TokenLocation,
    UserinfoTamper,
};
use serde_json::{Value, json};

#[tokio::test]
async fn discovery_document_describes_the_provider() {
    let idp = start().await;
    let doc: Value = reqwest::get(idp.discovery_url())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let issuer = idp.issuer();
    assert!(issuer.starts_with("http://127.0.0.1:"));
    assert_eq!(doc["issuer"], issuer);
    assert_eq!(doc["authorization_endpoint"], format!("{issuer}/authorize"));
    assert_eq!(doc["token_endpoint"], format!("{issuer}/token"));
    assert_eq!(doc["userinfo_endpoint"], format!("{issuer}/userinfo"));
    assert_eq!(doc["jwks_uri"], format!("{issuer}/jwks"));
    assert_eq!(doc["end_session_endpoint"], format!("{issuer}/logout"));
    assert_eq!(doc["response_types_supported"], json!(["code"]));
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["ES256"])
    );
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post"])
    );
    assert_eq!(
        doc["grant_types_supported"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(doc["subject_types_supported"], json!(["public"]));
    assert!(
        doc["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("openid"))
    );
    assert!(
        doc["claims_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("groups"))
    );

    let set = jwks(&idp).await;
    assert_eq!(set.keys.len(), 1);
    let raw: Value = reqwest::get(idp.url("/jwks"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = &raw["keys"][0];
    assert_eq!(key["kty"], "EC");
    assert_eq!(key["crv"], "P-256");
    assert_eq!(key["alg"], "ES256");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["kid"], idp.signing_kids()[0]);
    assert!(
        key.get("d").is_none(),
        "the private key must never be published"
    );
    idp.shutdown().await;
}

#[tokio::test]
async fn code_flow_with_login_form_pkce_basic_auth_userinfo_and_refresh() {
    let idp = start().await;
    let http = browser();
    let pkce = pkce();
    let params = auth_params(CLIENT, &pkce);
    let code = login_code(&http, &idp, &params, "alice", "alice-pw").await;

    let tokens = ok_json(exchange(&idp, &code, &pkce.verifier).await).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert_eq!(tokens["scope"], "openid profile email groups");
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();
    let claims = verify_id_token(&idp, id_token, CLIENT, Some("n-0S6_WzA2Mj"))
        .await
        .unwrap();
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["email"], "alice@example.org");
    assert_eq!(claims["groups"], json!(["staff", "wonderland"]));
    assert_eq!(claims["org"]["unit"]["name"], "research");
    assert!(claims["auth_time"].is_i64());
    let at_hash = {
        use base64::Engine;
        use sha2::Digest;
        let digest = sha2::Sha256::digest(access.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
    };
    assert_eq!(claims["at_hash"], at_hash);

    // userinfo: header, query and form body.
    let http_plain = reqwest::Client::new();
    let info = ok_json(
        http_plain
            .get(idp.url("/userinfo"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(info["sub"], "alice");
    assert_eq!(info["name"], "Alice Liddell");
    assert_eq!(info["groups"], json!(["staff", "wonderland"]));
    assert_eq!(info["org"]["level"], 3);
    let by_query = ok_json(
        http_plain
            .get(idp.url("/userinfo"))
            .query(&[("access_token", access)])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(by_query, info);
    let by_body = ok_json(
        http_plain
            .post(idp.url("/userinfo"))
            .form(&[("access_token", access)])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(by_body, info);
    let log = idp.requests_to(Endpoint::Userinfo);
    let places: Vec<_> = log.iter().map(|r| r.token_location()).collect();
    assert_eq!(
        places,
        vec![
            Some(TokenLocation::Header),
            Some(TokenLocation::Query),
            Some(TokenLocation::Body)
        ]
    );
    // Two ways at once are refused.
    let both = http_plain
        .get(idp.url("/userinfo"))
        .bearer_auth(access)
        .query(&[("access_token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(both.status(), 400);

    // Refresh rotates the refresh token.
    let refreshed = ok_json(
        token_request(
            &idp,
            Some(&basic(CLIENT, SECRET)),
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await,
    )
    .await;
    let new_refresh = refreshed["refresh_token"].as_str().unwrap();
    assert_ne!(new_refresh, refresh);
    assert_ne!(refreshed["access_token"], tokens["access_token"]);
    let new_claims = verify_id_token(&idp, refreshed["id_token"].as_str().unwrap(), CLIENT, None)
        .await
        .unwrap();
    assert_eq!(new_claims["sub"], "alice");
    assert_eq!(
        new_claims["auth_time"], claims["auth_time"],
        "auth_time is the original authentication's"
    );
    // The old refresh token is dead now.
    let again = token_request(
        &idp,
        Some(&basic(CLIENT, SECRET)),
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(oauth_error(again, 400).await, "invalid_grant");

    // A second authorization request skips the form: the provider remembers the login.
    let second = http.get(authorize_url(&idp, &params)).send().await.unwrap();
    assert_eq!(second.status(), 302);
    let (_, query) = location(&second);
    assert!(query.contains_key("code"));
    assert_eq!(query["state"], "st-&=é 1");
    idp.shutdown().await;
}

#[tokio::test]
async fn client_secret_post_and_public_client() {
    let idp = start().await;
    let http = browser();
    let pkce = pkce();
    let code = login_code(
        &http,
        &idp,
        &auth_params(CLIENT, &pkce),
        "alice",
        "alice-pw",
    )
    .await;
    let tokens = ok_json(
        token_request(
            &idp,
            None,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &pkce.verifier),
                ("client_id", CLIENT),
                ("client_secret", SECRET),
            ],
        )
        .await,
    )
    .await;
    assert!(tokens["id_token"].is_string());

    // The public client: no secret, PKCE required. The provider's session skips the form.
    let pkce = pkce_pair();
    let resp = http
        .get(authorize_url(&idp, &auth_params(PUBLIC_CLIENT, &pkce)))
        .send()
        .await
        .unwrap();
    let (_, query) = location(&resp);
    let tokens = ok_json(
        token_request(
            &idp,
            None,
            &[
                ("grant_type", "authorization_code"),
                ("code", &query["code"]),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &pkce.verifier),
                ("client_id", PUBLIC_CLIENT),
            ],
        )
        .await,
    )
    .await;
    let claims = verify_id_token(
        &idp,
        tokens["id_token"].as_str().unwrap(),
        PUBLIC_CLIENT,
        Some("n-0S6_WzA2Mj"),
    )
    .await
    .unwrap();
    assert_eq!(claims["aud"], PUBLIC_CLIENT);

    // The log says how each client authenticated, and holds no secret.
    let log = idp.requests_to(Endpoint::Token);
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].client_auth(), ClientAuth::Body);
    assert_eq!(log[0].form_value("client_secret"), Some(REDACTED));
    assert_eq!(log[0].form_value("code"), Some(REDACTED));
    assert_eq!(log[0].form_value("code_verifier"), Some(REDACTED));
    assert_eq!(log[0].grant_type(), Some("authorization_code"));
    assert!(log[0].has_code_verifier());
    assert_eq!(log[1].client_auth(), ClientAuth::None);
    let dump = format!("{:?}", idp.requests());
    assert!(!dump.contains(&pkce.verifier));
    assert!(!dump.contains(&query["code"]));
    assert!(!dump.contains("alice-pw"));
    assert!(!dump.contains("s3cr3t"));
    idp.shutdown().await;
}

fn pkce_pair() -> Pkce {
    pkce()
}

#[tokio::test]
async fn client_authentication_is_exactly_one_method() {
    let idp = start().await;
    let http = browser();
    let pkce = pkce();
    let params = auth_params(CLIENT, &pkce);
    let code = login_code(&http, &idp, &params, "alice", "alice-pw").await;
    let grant = |extra: Vec<(&'static str, String)>| {
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.clone()),
            ("redirect_uri", REDIRECT.to_owned()),
            ("code_verifier", pkce.verifier.clone()),
        ];
        form.extend(extra);
        form
    };
    let as_refs =
        |form: &[(&'static str, String)]| -> Vec<(&'static str, String)> { form.to_vec() };

    // Both methods at once.
    let form = grant(vec![("client_secret", SECRET.to_owned())]);
    let resp = reqwest::Client::new()
        .post(idp.url("/token"))
        .header("authorization", basic(CLIENT, SECRET))
        .form(&as_refs(&form))
        .send()
        .await
        .unwrap();
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    assert_eq!(oauth_error(resp, 401).await, "invalid_client");
    let log = idp.requests_to(Endpoint::Token);
    assert_eq!(log.last().unwrap().client_auth(), ClientAuth::Both);

    // Neither, for a confidential client.
    let form = grant(vec![("client_id", CLIENT.to_owned())]);
    let resp = reqwest::Client::new()
        .post(idp.url("/token"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(oauth_error(resp, 401).await, "invalid_client");

    // Wrong secret; and the secret sent without RFC 6749 2.3.1 form-encoding.
    for auth in [
        basic(CLIENT, "wrong"),
        {
            use base64::Engine;
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT}:{SECRET}"))
            )
        },
        "Basic !!!not-base64".to_owned(),
        "Bearer abc".to_owned(),
    ] {
        let resp = reqwest::Client::new()
            .post(idp.url("/token"))
            .header("authorization", auth)
            .form(&grant(vec![]))
            .send()
            .await
            .unwrap();
        assert_eq!(oauth_error(resp, 401).await, "invalid_client");
    }

    // A failed client authentication does not burn the code.
    let tokens = ok_json(exchange(&idp, &code, &pkce.verifier).await).await;
    assert!(tokens["access_token"].is_string());
    let log = idp.requests_to(Endpoint::Token);
    assert_eq!(log.last().unwrap().client_auth(), ClientAuth::Basic);
    assert_eq!(
        log.last().unwrap().authorization,
        Some(hubauth_devidp::AuthorizationScheme::Basic {
            client_id: Some(CLIENT.to_owned())
        })
    );
    idp.shutdown().await;
}

#[tokio::test]
async fn code_replay_is_refused_and_revokes_the_tokens_issued_from_it() {
    let idp = start().await;
    let http = browser();
    let pkce = pkce();
    let code = login_code(
        &http,
        &idp,
        &auth_params(CLIENT, &pkce),
        "alice",
        "alice-pw",
    )
    .await;
    let tokens = ok_json(exchange(&idp, &code, &pkce.verifier).await).await;
    let access = tokens["access_token"].as_str().unwrap();
    let userinfo = || {
        reqwest::Client::new()
            .get(idp.url("/userinfo"))
            .bearer_auth(access)
            .send()
    };
    assert_eq!(userinfo().await.unwrap().status(), 200);

    let replay = exchange(&idp, &code, &pkce.verifier).await;
    assert_eq!(oauth_error(replay, 400).await, "invalid_grant");
    let resp = userinfo().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
    let refresh = token_request(
        &idp,
        Some(&basic(CLIENT, SECRET)),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(oauth_error(refresh, 400).await, "invalid_grant");
    idp.shutdown().await;
}

#[tokio::test]
async fn pkce_is_checked() {
    let idp = start().await;
    let http = browser();

    // Wrong verifier.
    let pkce = pkce();
    let code = login_code(
        &http,
        &idp,
        &auth_params(CLIENT, &pkce),
        "alice",
        "alice-pw",
    )
    .await;
    let other = common::pkce();
    let resp = exchange(&idp, &code, &other.verifier).await;
    assert_eq!(oauth_error(resp, 400).await, "invalid_grant");
    // The code had its one attempt.
    let resp = exchange(&idp, &code, &pkce.verifier).await;
    assert_eq!(oauth_error(resp, 400).await, "invalid_grant");

    // Missing verifier.
    let pkce = common::pkce();
    let resp = http
        .get(authorize_url(&idp, &auth_params(CLIENT, &pkce)))
        .send()
        .await
        .unwrap();
    let (_, query) = location(&resp);
    let resp = token_request(
        &idp,
        Some(&basic(CLIENT, SECRET)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &query["code"]),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(oauth_error(resp, 400).await, "invalid_grant");

    // plain is refused at /authorize, with the error sent back to the client.
    let mut params = auth_params(CLIENT, &pkce);
    set(&mut params, "code_challenge_method", Some("plain"));
    set(&mut params, "code_challenge", Some(&pkce.verifier));
    let resp = http.get(authorize_url(&idp, &params)).send().await.unwrap();
    let (base, query) = location(&resp);
    assert_eq!(base, REDIRECT);
    assert_eq!(query["error"], "invalid_request");
    assert_eq!(query["state"], "st-&=é 1");
    assert!(!query.contains_key("code"));

    // A client that requires PKCE must send a challenge.
    let mut params = auth_params(PUBLIC_CLIENT, &pkce);
    set(&mut params, "code_challenge", None);
    set(&mut params, "code_challenge_method", None);
    let resp = http.get(authorize_url(&idp, &params)).send().await.unwrap();
    let (_, query) = location(&resp);
    assert_eq!(query["error"], "invalid_request");

    // The confidential client may skip PKCE entirely, but then must not send a verifier.
    let mut params = auth_params(CLIENT, &pkce);
    set(&mut params, "code_challenge", None);
    set(&mut params, "code_challenge_method", None);
    let resp = http.get(authorize_url(&idp, &params)).send().await.unwrap();
    let (_, query) = location(&resp);
    let resp = exchange(&idp, &query["code"], &pkce.verifier).await;
    assert_eq!(oauth_error(resp, 400).await, "invalid_grant");
    let resp = http.get(authorize_url(&idp, &params)).send().await.unwrap();
    let (_, query) = location(&resp);
    let tokens = ok_json(
        token_request(
            &idp,
            Some(&basic(CLIENT, SECRET)),
            &[
                ("grant_type", "authorization_code"),
                ("code", &query["code"]),
                ("redirect_uri", REDIRECT),
            ],
        )
        .await,
    )
    .await;
    assert!(tokens["access_token"].is_string());
    let log = idp.requests_to(Endpoint::Token);
    assert!(!log.last().unwrap().has_code_verifier());
    idp.shutdown().await;
}

#[tokio::test]
async fn bad_client_or_redirect_uri_gets_an_error_page_never_a_redirect() {
    let idp = start().await;
    let http = browser();
    let pkce = pkce();
    let cases: Vec<(&str, Option<&str>)> = vec![
        (
            "redirect_uri",
            Some("http://127.0.0.1:9/hub/oauth_callback/evil"),
        ),
        (
            "redirect_uri",
            Some("http://evil.example/hub/oauth_callback"),
        ),
        (
            "redirect_uri",
            Some("http://127.0.0.1:9/hub/oauth_callback?x=1"),
        ),
        ("client_id", Some("nobody")),
        ("client_id", None),
    ];
    for (name, value) in cases {
        let mut params = auth_params(CLIENT, &pkce);
        set(&mut params, name, value);
        let resp = http.get(authorize_url(&idp, &params)).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{name}={value:?}");
        assert!(resp.headers().get("location").is_none());
        let html = resp.text().await.unwrap();
        assert!(html.contains("Sign-in error"));
    }
    // Duplicated redirect_uri: error page too.
    let mut params = auth_params(CLIENT, &pkce);
    params.push(("redirect_uri".into(), REDIRECT.into()));
    let resp = http.get(authorize_url(&idp, &params)).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().get("location").is_none());

    // Token request with another redirect_uri than the authorization request's.
    let code = login_code(
        &http,
        &idp,
        &auth_params(CLIENT, &pkce),
        "alice",
        "alice-pw",
    )
    .await;
    let resp = token_request(
        &idp,
        Some(&basic(CLIENT, SECRET)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/other"),
            ("code_verifier", &pkce.verifier),
        ],
    )
    .await;
    assert_eq!(oauth_error(resp, 400).await, "invalid_grant");
    idp.shutdown().await;
}

#[tokio::test]
async fn redirectable_errors_carry_error_description_and_state() {
    let idp = start().await;
    let http = browser();
    let pkce = pkce();
    let cases: Vec<(&str, Option<&str>, &str)> = vec![
        ("response_type", Some("token"), "unsupported_response_type"),
        ("response_type", None, "invalid_request"),
        ("code_challenge_method", Some("S512"), "invalid_request"),
        ("code_challenge", Some("short"), "invalid_request"),
        ("scope", Some("openid \"quoted\""), "invalid_scope"),
        ("request", Some("eyJ.x.y"), "request_not_supported"),
        ("prompt", Some("none login"), "invalid_request"),
        ("max_age", Some("-1"), "invalid_request"),
    ];
    for (name, value, error) in cases {
        let mut params = auth_params(CLIENT, &pkce);
        set(&mut params, name, value);
        let resp = http.get(authorize_url(&idp, &params)).send().await.unwrap();
        assert_eq!(resp.status(), 302, "{name}={value:?}");
        let (base, query) = location(&resp);
        assert_eq!(base, REDIRECT);
        assert_eq!(query["error"], error, "{name}={value:?}");
        assert!(query.contains_key("error_description"));
        assert_eq!(query["state"], "st-&=é 1");
    }
    // Repeated parameter.
    let mut params = auth_params(CLIENT, &pkce);
    params.push(("scope".into(), "openid".into()));
    let resp = http.get(authorize_url(&idp, &params)).send().await.unwrap();
    let (_, query) = location(&resp);
    assert_eq!(query["error"], "invalid_request");

    // prompt=none without a provider session.
    let mut params = auth_params(CLIENT, &pkce);
    set(&mut params, "prompt", Some("none"));
    let resp = http.get(authorize_url(&idp, &params)).send().await.unwrap();
    let (_, query) = location(&resp);
    assert_eq!(query["error"], "login_required");
    idp.shutdown().await;
}

#[tokio::test]
async fn login_form_deny_and_wrong_password() {
    let idp = start().await;
    let http = browser();
    let pkce = pkce();
    let url = authorize_url(&idp, &auth_params(CLIENT, &pkce));

    let resp = submit_login(&http, &idp, &url, "alice", "nope", "login").await;
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().get("location").is_none());
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Wrong username or password")
    );
    let resp = submit_login(&http, &idp, &url, "mallory", "x", "login").await;
    assert_eq!(resp.status(), 401);
    assert_eq!(idp.session_count(), 0);

    let resp = submit_login(&http, &idp, &url, "", "", "deny").await;
    assert_eq!(resp.status(), 303);
    let (base, query) = location(&resp);
    assert_eq!(base, REDIRECT);
    assert_eq!(query["error"], "access_denied");
    assert_eq!(query["state"], "st-&=é 1");

    // The form's hidden fields are checked again: a tampered redirect_uri is refused.
    let page = http.get(&url).send().await.unwrap().text().await.unwrap();
    let (action, mut fields) = parse_form(&page);
    set(&mut fields, "redirect_uri", Some("http://evil.example/cb"));
    fields.push(("devidp_username".into(), "alice".into()));
    fields.push(("devidp_password".into(), "alice-pw".into()));
    fields.push(("devidp_action".into(), "login".into()));
    let resp = http
        .post(format!("http://{}{}", idp.addr(), action))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().get("location").is_none());

    // prompt=login asks again even with a session, and the new login replaces the old
    // session rather than adding one.
    login_code(
        &http,
        &idp,
        &auth_params(CLIENT, &pkce),
        "alice",
        "alice-pw",
    )
    .await;
    assert_eq!(idp.session_count(), 1);
    let mut params = auth_params(CLIENT, &pkce);
    set(&mut params, "prompt", Some("login"));
    login_code(&http, &idp, &params, "bob", "bob-pw").await;
    assert_eq!(idp.session_count(), 1);
    let resp = http
        .get(authorize_url(&idp, &auth_params(CLIENT, &pkce)))
        .send()
        .await
        .unwrap();
    let (_, query) = location(&resp);
    let tokens = ok_json(exchange(&idp, &query["code"], &pkce.verifier).await).await;
    assert_eq!(payload(tokens["id_token"].as_str().unwrap())["sub"], "bob");

    // login_hint prefills the username; the page escapes it.
    let mut params = auth_params(CLIENT, &pkce);
    set(&mut params, "login_hint", Some("<b>bob</b>"));
    let page = browser()
        .get(authorize_url(&idp, &params))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("value=\"&lt;b&gt;bob&lt;/b&gt;\""));
    assert!(!page.contains("<b>bob</b>"));
    idp.shutdown().await;
}

#[tokio::test]
async fn auto_approve_logs_the_user_in_at_once() {
    let idp = builder()
        .auto_approve(Some("bob".into()))
        .start()
        .await
        .unwrap();
    let http = browser();
    let pkce = pkce();
    let resp = http
        .get(authorize_url(&idp, &auth_params(CLIENT, &pkce)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let (_, query) = location(&resp);
    let tokens = ok_json(exchange(&idp, &query["code"], &pkce.verifier).await).await;
    let claims = verify_id_token(
        &idp,
        tokens["id_token"].as_str().unwrap(),
        CLIENT,
        Some("n-0S6_WzA2Mj"),
    )
    .await
    .unwrap();
    assert_eq!(claims["sub"], "bob");
    assert_eq!(claims["groups"], json!(["students"]));

    // Switched off at run time: the form comes back.
    idp.set_auto_approve(None).unwrap();
    let resp = http
        .get(authorize_url(&idp, &auth_params(CLIENT, &pkce)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(matches!(
        idp.set_auto_approve(Some("nobody".into())),
        Err(DevIdpError::UnknownUser(_))
    ));
    idp.shutdown().await;

    let err = builder()
        .auto_approve(Some("nobody".into()))
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, DevIdpError::UnknownUser(_)));
}

#[tokio::test]
async fn disabled_user_cannot_refresh_or_read_userinfo() {
    let idp = start().await;
    let tokens = full_login(&idp).await;
    idp.disable_user("alice").unwrap();
    let refresh = token_request(
        &idp,
        Some(&basic(CLIENT, SECRET)),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(oauth_error(refresh, 400).await, "invalid_grant");
    let info = reqwest::Client::new()
        .get(idp.url("/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 401);
    assert!(
        info.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    // The login form refuses them too.
    let http = browser();
    let url = authorize_url(&idp, &auth_params(CLIENT, &pkce()));
    let resp = submit_login(&http, &idp, &url, "alice", "alice-pw", "login").await;
    assert_eq!(resp.status(), 403);

    // Enabled again, the same refresh token works.
    idp.enable_user("alice").unwrap();
    let refresh = token_request(
        &idp,
        Some(&basic(CLIENT, SECRET)),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(refresh.status(), 200);
    assert!(matches!(
        idp.disable_user("nobody"),
        Err(DevIdpError::UnknownUser(_))
    ));
    idp.shutdown().await;
}

#[tokio::test]
async fn changed_claims_show_in_refreshed_tokens_and_userinfo() {
    let idp = start().await;
    let tokens = full_login(&idp).await;
    let mut claims = serde_json::Map::new();
    claims.insert("groups".into(), json!(["alumni"]));
    claims.insert("email".into(), json!("alice@new.example"));
    idp.set_user_claims("alice", claims).unwrap();
    let refreshed = ok_json(
        token_request(
            &idp,
            Some(&basic(CLIENT, SECRET)),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
                ("scope", "openid groups"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(refreshed["scope"], "openid groups");
    let claims = verify_id_token(&idp, refreshed["id_token"].as_str().unwrap(), CLIENT, None)
        .await
        .unwrap();
    assert_eq!(claims["groups"], json!(["alumni"]));
    assert!(claims.get("name").is_none());
    let info = ok_json(
        reqwest::Client::new()
            .get(idp.url("/userinfo"))
            .bearer_auth(refreshed["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(info["email"], "alice@new.example");

    // Asking for more scope than granted on refresh is refused.
    let wider = token_request(
        &idp,
        Some(&basic(CLIENT, SECRET)),
        &[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                refreshed["refresh_token"].as_str().unwrap(),
            ),
            ("scope", "openid admin"),
        ],
    )
    .await;
    assert_eq!(oauth_error(wider, 400).await, "invalid_scope");
    idp.shutdown().await;
}

#[tokio::test]
async fn revoke_all_tokens_and_refresh_replay() {
    let idp = start().await;
    let tokens = full_login(&idp).await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let first = ok_json(
        token_request(
            &idp,
            Some(&basic(CLIENT, SECRET)),
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await,
    )
    .await;
    // Replaying the rotated token revokes the whole family, including the new one.
    let replay = token_request(
        &idp,
        Some(&basic(CLIENT, SECRET)),
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(oauth_error(replay, 400).await, "invalid_grant");
    let next = token_request(
        &idp,
        Some(&basic(CLIENT, SECRET)),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", first["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(oauth_error(next, 400).await, "invalid_grant");

    let tokens = full_login(&idp).await;
    idp.revoke_all_tokens();
    let info = reqwest::Client::new()
        .get(idp.url("/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 401);
    let refresh = token_request(
        &idp,
        Some(&basic(CLIENT, SECRET)),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(oauth_error(refresh, 400).await, "invalid_grant");
    idp.shutdown().await;
}

#[tokio::test]
async fn expiry_follows_the_injected_clock() {
    let clock = Arc::new(ManualClock::at(1_900_000_000));
    let idp = builder()
        .clock(clock.clone())
        .access_token_ttl(Duration::from_secs(300))
        .id_token_ttl(Duration::from_secs(120))
        .refresh_token_ttl(Duration::from_secs(1000))
        .start()
        .await
        .unwrap();
    let http = browser();

    // Codes live 60 seconds.
    let pkce = pkce();
    let code = login_code(
        &http,
        &idp,
        &auth_params(CLIENT, &pkce),
        "alice",
        "alice-pw",
    )
    .await;
    clock.advance(Duration::from_secs(61));
    let resp = exchange(&idp, &code, &pkce.verifier).await;
    assert_eq!(oauth_error(resp, 400).await, "invalid_grant");

    let pkce = common::pkce();
    let resp = http
        .get(authorize_url(&idp, &auth_params(CLIENT, &pkce)))
        .send()
        .await
        .unwrap();
    let (_, query) = location(&resp);
    clock.advance(Duration::from_secs(59));
    let tokens = ok_json(exchange(&idp, &query["code"], &pkce.verifier).await).await;
    assert_eq!(tokens["expires_in"], 300);
    let id = payload(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["iat"], 1_900_000_000 + 61 + 59);
    assert_eq!(id["exp"], 1_900_000_000 + 61 + 59 + 120);

    let userinfo = |token: String| {
        let url = idp.url("/userinfo");
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    clock.advance(Duration::from_secs(299));
    assert_eq!(userinfo(access.clone()).await, 200);
    clock.advance(Duration::from_secs(1));
    assert_eq!(userinfo(access).await, 401);

    clock.advance(Duration::from_secs(700));
    let refresh = token_request(
        &idp,
        Some(&basic(CLIENT, SECRET)),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(oauth_error(refresh, 400).await, "invalid_grant");
    idp.shutdown().await;
}

#[tokio::test]
async fn every_fault_does_what_it_says() {
    let idp = start().await;
    let http = browser();
    let pkce = pkce();
    let code = login_code(
        &http,
        &idp,
        &auth_params(CLIENT, &pkce),
        "alice",
        "alice-pw",
    )
    .await;

    // Faults queue up; a faulted request leaves the code unused.
    idp.fail_next(
        Endpoint::Token,
        Fault::Status(503, "{\"error\":\"temporarily_unavailable\"}".into()),
    );
    idp.fail_next(Endpoint::Token, Fault::Status(500, "boom".into()));
    idp.fail_next(Endpoint::Token, Fault::Garbage);
    idp.fail_next(Endpoint::Token, Fault::EmptyBody);
    idp.fail_next(Endpoint::Token, Fault::Delay(Duration::from_millis(300)));

    let resp = exchange(&idp, &code, &pkce.verifier).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(
        resp.text().await.unwrap(),
        "{\"error\":\"temporarily_unavailable\"}"
    );
    let resp = exchange(&idp, &code, &pkce.verifier).await;
    assert_eq!(resp.status(), 500);
    assert_eq!(resp.text().await.unwrap(), "boom");
    let resp = exchange(&idp, &code, &pkce.verifier).await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err());
    let resp = exchange(&idp, &code, &pkce.verifier).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "");
    let started = Instant::now();
    let tokens = ok_json(exchange(&idp, &code, &pkce.verifier).await).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(tokens["access_token"].is_string());
    assert_eq!(idp.requests_to(Endpoint::Token).len(), 5);

    // Userinfo.
    let access = tokens["access_token"].as_str().unwrap();
    let userinfo = || {
        reqwest::Client::new()
            .get(idp.url("/userinfo"))
            .bearer_auth(access)
            .send()
    };
    idp.fail_next(Endpoint::Userinfo, Fault::Status(401, String::new()));
    idp.fail_next(Endpoint::Userinfo, Fault::Garbage);
    idp.fail_next(Endpoint::Userinfo, Fault::EmptyBody);
    idp.fail_next(Endpoint::Userinfo, Fault::Delay(Duration::from_millis(200)));
    assert_eq!(userinfo().await.unwrap().status(), 401);
    let text = userinfo().await.unwrap().text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err());
    assert_eq!(userinfo().await.unwrap().text().await.unwrap(), "");
    let started = Instant::now();
    let info = ok_json(userinfo().await.unwrap()).await;
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(info["sub"], "alice");
    assert_eq!(
        userinfo().await.unwrap().status(),
        200,
        "the queue is empty"
    );

    // Other endpoints too, and clearing.
    idp.fail_next(Endpoint::Jwks, Fault::Status(502, "bad gateway".into()));
    assert_eq!(reqwest::get(idp.url("/jwks")).await.unwrap().status(), 502);
    idp.fail_next(Endpoint::Discovery, Fault::Status(404, String::new()));
    idp.clear_faults();
    assert_eq!(
        reqwest::get(idp.discovery_url()).await.unwrap().status(),
        200
    );
    idp.shutdown().await;
}

#[tokio::test]
async fn every_tamper_mode_makes_the_id_token_fail_verification() {
    let idp = start().await;
    let nonce = Some("n-0S6_WzA2Mj");
    let real_kid = idp.signing_kids()[0].clone();
    for tamper in Tamper::ALL {
        idp.tamper_next_id_token(tamper);
        let tokens = full_login(&idp).await;
        let token = tokens["id_token"].as_str().unwrap();
        let result = verify_id_token(&idp, token, CLIENT, nonce).await;
        let header = header(token);
        let claims = payload(token);
        match tamper {
            Tamper::WrongAudience => {
                assert_eq!(result.unwrap_err(), "InvalidAudience");
                assert_eq!(claims["aud"], "someone-else");
            }
            Tamper::WrongIssuer => {
                assert_eq!(result.unwrap_err(), "InvalidIssuer");
                assert_eq!(claims["iss"], "https://wrong-issuer.invalid");
            }
            Tamper::Expired => assert_eq!(result.unwrap_err(), "ExpiredSignature"),
            Tamper::BadSignature => {
                assert_eq!(result.unwrap_err(), "InvalidSignature");
                assert_eq!(header["kid"], real_kid.as_str());
            }
            Tamper::UnknownKid => assert_eq!(result.unwrap_err(), "unknown kid"),
            Tamper::AlgNone => {
                assert!(result.is_err());
                assert_eq!(header["alg"], "none");
                assert!(token.ends_with('.'));
            }
            Tamper::HmacWithPublicKey => {
                assert!(result.is_err());
                assert_eq!(header["alg"], "HS256");
                // It really is the confusion attack: the public key in PEM verifies it.
                let jwk = jwks(&idp).await.find(&real_kid).unwrap().clone();
                let pem = public_pem(&jwk);
                let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
                validation.set_audience(&[CLIENT]);
                jsonwebtoken::decode::<Value>(
                    token,
                    &jsonwebtoken::DecodingKey::from_secret(pem.as_bytes()),
                    &validation,
                )
                .unwrap();
            }
            Tamper::WrongNonce => {
                assert!(result.unwrap_err().starts_with("nonce"));
                assert!(claims["nonce"].is_string());
            }
            Tamper::MissingNonce => {
                assert!(result.unwrap_err().starts_with("nonce"));
                assert!(claims.get("nonce").is_none());
            }
            Tamper::IssuerWithTrailingSlash => {
                assert_eq!(result.unwrap_err(), "InvalidIssuer");
                assert_eq!(claims["iss"], format!("{}/", idp.issuer()));
            }
            Tamper::UntrustedExtraAudience => {
                // Well signed and for this client too: only a client that compares every
                // audience with the ones it trusts refuses it.
                assert!(result.is_ok());
                assert_eq!(claims["aud"], json!([CLIENT, "someone-else"]));
                assert_eq!(claims["azp"], CLIENT);
            }
            Tamper::WrongAtHash => {
                assert!(result.is_ok(), "only at_hash is wrong");
                let access = tokens["access_token"].as_str().unwrap();
                assert_ne!(claims["at_hash"], at_hash_of(access));
            }
        }
        // Only the next token is wrong.
        let tokens = full_login(&idp).await;
        let claims = verify_id_token(&idp, tokens["id_token"].as_str().unwrap(), CLIENT, nonce)
            .await
            .unwrap_or_else(|e| panic!("after {tamper:?}: {e}"));
        assert_eq!(claims["aud"], CLIENT);
        assert_eq!(
            claims["at_hash"],
            at_hash_of(tokens["access_token"].as_str().unwrap())
        );
    }
    idp.shutdown().await;
}

#[tokio::test]
async fn userinfo_tamper_modes_change_the_next_answer_only() {
    let idp = start().await;
    let tokens = full_login(&idp).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let userinfo = || async {
        ok_json(
            reqwest::Client::new()
                .get(idp.url("/userinfo"))
                .bearer_auth(&access)
                .send()
                .await
                .unwrap(),
        )
        .await
    };
    idp.tamper_next_userinfo(UserinfoTamper::OtherSubject);
    idp.tamper_next_userinfo(UserinfoTamper::MissingSubject);
    let other = userinfo().await;
    assert_eq!(other["sub"], "someone-else");
    assert_eq!(other["email"], "alice@example.org", "otherwise the user's");
    assert!(userinfo().await.get("sub").is_none());
    assert_eq!(userinfo().await["sub"], "alice", "the queue is empty");
    assert_eq!(UserinfoTamper::ALL.len(), 2);
    idp.shutdown().await;
}

/// The SPKI PEM of a P-256 JWK, built by hand (to show the HS256 attack token).
fn public_pem(jwk: &jsonwebtoken::jwk::Jwk) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(ec) = &jwk.algorithm else {
        panic!("not EC")
    };
    let x = URL_SAFE_NO_PAD.decode(&ec.x).unwrap();
    let y = URL_SAFE_NO_PAD.decode(&ec.y).unwrap();
    // SEQUENCE { SEQUENCE { ecPublicKey, prime256v1 }, BIT STRING 04||x||y }
    let mut der = vec![
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
        0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
    ];
    der.extend(x);
    der.extend(y);
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        lines.join("\n")
    )
}

#[tokio::test]
async fn rotated_keys_are_published_and_used() {
    let idp = start().await;
    let old = idp.signing_kids()[0].clone();
    let before = full_login(&idp).await;
    let new = idp.rotate_signing_key().unwrap();
    assert_ne!(old, new);
    assert_eq!(jwks(&idp).await.keys.len(), 2);
    let after = full_login(&idp).await;
    assert_eq!(
        header(after["id_token"].as_str().unwrap())["kid"],
        new.as_str()
    );
    for tokens in [&before, &after] {
        verify_id_token(
            &idp,
            tokens["id_token"].as_str().unwrap(),
            CLIENT,
            Some("n-0S6_WzA2Mj"),
        )
        .await
        .unwrap();
    }
    assert!(!idp.retire_signing_key(&new));
    assert!(idp.retire_signing_key(&old));
    assert_eq!(
        verify_id_token(
            &idp,
            before["id_token"].as_str().unwrap(),
            CLIENT,
            Some("n-0S6_WzA2Mj")
        )
        .await
        .unwrap_err(),
        "unknown kid"
    );
    idp.shutdown().await;
}

#[tokio::test]
async fn end_session_clears_the_provider_session() {
    let idp = start().await;
    let http = browser();
    let pkce = pkce();
    let params = auth_params(CLIENT, &pkce);
    let code = login_code(&http, &idp, &params, "alice", "alice-pw").await;
    let tokens = ok_json(exchange(&idp, &code, &pkce.verifier).await).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    assert_eq!(idp.session_count(), 1);
    // Signed in at the provider: no form.
    let resp = http.get(authorize_url(&idp, &params)).send().await.unwrap();
    assert_eq!(resp.status(), 302);

    // An unregistered post_logout_redirect_uri: error page, no redirect, still signed in.
    let resp = http
        .get(idp.url("/logout"))
        .query(&[
            ("id_token_hint", id_token),
            ("post_logout_redirect_uri", "http://evil.example/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().get("location").is_none());
    assert_eq!(idp.session_count(), 1);
    // A forged hint is refused.
    let resp = http
        .get(idp.url("/logout"))
        .query(&[
            ("id_token_hint", "eyJhbGciOiJub25lIn0.e30."),
            ("post_logout_redirect_uri", LOGOUT_REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    let resp = http
        .get(idp.url("/logout"))
        .query(&[
            ("id_token_hint", id_token),
            ("post_logout_redirect_uri", LOGOUT_REDIRECT),
            ("state", "bye&1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let set_cookie = resp.headers()["set-cookie"].to_str().unwrap();
    assert!(set_cookie.starts_with(&format!("{}=;", idp.session_cookie_name())));
    assert!(set_cookie.contains("Max-Age=0"));
    let (base, query) = location(&resp);
    assert_eq!(base, LOGOUT_REDIRECT);
    assert_eq!(query["state"], "bye&1");
    assert_eq!(idp.session_count(), 0);

    // The next authorization request shows the form again.
    let resp = http.get(authorize_url(&idp, &params)).send().await.unwrap();
    assert_eq!(resp.status(), 200);

    // With client_id instead of a hint, and by POST; without a redirect, a page.
    let resp = http
        .post(idp.url("/logout"))
        .form(&[
            ("client_id", CLIENT),
            ("post_logout_redirect_uri", LOGOUT_REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let resp = http.get(idp.url("/logout")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("Signed out"));
    idp.shutdown().await;
}

#[tokio::test]
async fn path_prefix_and_scope_restriction() {
    let idp = builder()
        .path_prefix("/idp/")
        .auto_approve(Some("alice".into()))
        .start()
        .await
        .unwrap();
    assert!(idp.issuer().ends_with("/idp"));
    let doc: Value = reqwest::get(format!("{}/.well-known/openid-configuration", idp.issuer()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], idp.issuer());
    assert_eq!(doc["token_endpoint"], format!("{}/token", idp.issuer()));
    let root = reqwest::get(idp.url("/../token")).await.unwrap();
    assert_eq!(root.status(), 404);

    idp.restrict_scopes(Some(vec!["openid".into(), "email".into()]));
    let http = browser();
    let pkce = pkce();
    let resp = http
        .get(authorize_url(&idp, &auth_params(CLIENT, &pkce)))
        .send()
        .await
        .unwrap();
    let (_, query) = location(&resp);
    let tokens = ok_json(exchange(&idp, &query["code"], &pkce.verifier).await).await;
    assert_eq!(tokens["scope"], "openid email");
    verify_id_token(
        &idp,
        tokens["id_token"].as_str().unwrap(),
        CLIENT,
        Some("n-0S6_WzA2Mj"),
    )
    .await
    .unwrap();

    // Without openid: plain OAuth 2.0, no ID token.
    let mut params = auth_params(CLIENT, &pkce);
    set(&mut params, "scope", Some("email"));
    let resp = http.get(authorize_url(&idp, &params)).send().await.unwrap();
    let (_, query) = location(&resp);
    let tokens = ok_json(exchange(&idp, &query["code"], &pkce.verifier).await).await;
    assert!(tokens.get("id_token").is_none());
    assert_eq!(tokens["scope"], "email");
    idp.shutdown().await;
}

#[tokio::test]
async fn refuses_bad_configuration_and_non_loopback() {
    let err = DevIdp::builder()
        .bind("0.0.0.0:0".parse().unwrap())
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, DevIdpError::NotLoopback(_)));
    let err = builder()
        .client(hubauth_devidp::Client::public(CLIENT, REDIRECT))
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, DevIdpError::Config(_)));
    let err = DevIdp::builder()
        .client(hubauth_devidp::Client::public("x", "/relative"))
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, DevIdpError::Config(_)));
    let err = DevIdp::builder()
        .path_prefix("no-slash")
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, DevIdpError::Config(_)));
}
