//! OpenID Connect Back-Channel Logout 1.0 at the hub as relying party, against the
//! development provider's logout tokens: a valid token ends exactly the sessions it
//! names; every hostile variant of §2.6 is refused with 400 and ends nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_devidp::{Client, DevIdp, DevUser, LogoutTokenSpec, RunningIdp, Tamper};
use hubauth_testkit::hub::*;

struct Pair {
    idp: RunningIdp,
    hub: TestHub,
}

async fn pair() -> Pair {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hub_origin = format!("http://{}", listener.local_addr().unwrap());
    let idp = DevIdp::builder()
        .client(
            Client::confidential(
                "hub",
                "hub-secret",
                format!("{hub_origin}/hub/oauth_callback"),
            )
            .with_require_pkce(false),
        )
        .user(DevUser::new("ada", "ada-pw").claim("preferred_username", "ada"))
        .user(DevUser::new("bob", "bob-pw").claim("preferred_username", "bob"))
        .auto_approve(Some("ada".into()))
        .start()
        .await
        .unwrap();
    let rest = format!(
        "[GenericOAuthenticator]\nclient_id = \"hub\"\nclient_secret = \"hub-secret\"\nusername_claim = \"preferred_username\"\nscope = [\"openid\", \"profile\"]\nallow_all = true\noidc_issuer = \"{}\"\n",
        idp.issuer()
    );
    let hub = start_hub_with(HubOptions {
        dir: tempfile::TempDir::new().unwrap(),
        listener: Some(listener),
        hub_extra: "authenticator_class = \"generic-oauth\"\n",
        rest: &rest,
        env: &[],
        clock: None,
    })
    .await
    .unwrap();
    Pair { idp, hub }
}

/// Logs a fresh browser in (the provider approves its auto-approve user); returns the
/// browser and the provider's `sid` of that login.
async fn browser_login(pair: &Pair, user: &str) -> (reqwest::Client, String) {
    pair.idp.set_auto_approve(Some(user.to_owned())).unwrap();
    let browser = client();
    let start = browser
        .get(format!("{}oauth_login", pair.hub.hub_url))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 302);
    let at_idp = browser.get(location(&start)).send().await.unwrap();
    assert_eq!(at_idp.status(), 302);
    let callback = browser.get(location(&at_idp)).send().await.unwrap();
    assert!(callback.status().is_redirection(), "the login completes");
    assert_eq!(logged_in_as(&browser, pair).await.as_deref(), Some(user));
    (browser, pair.idp.last_sid(user).unwrap())
}

async fn logged_in_as(browser: &reqwest::Client, pair: &Pair) -> Option<String> {
    let (status, html) = home(browser, &pair.hub).await;
    if status != 200 {
        return None;
    }
    shown_user(&html)
}

/// Posts a logout token form; returns the status, Cache-Control and the JSON body (if
/// any).
async fn post_logout(pair: &Pair, form: &[(&str, &str)]) -> (u16, String, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("{}backchannel_logout", pair.hub.hub_url))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let cache = response
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = response.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    (status, cache, json)
}

async fn send_token(pair: &Pair, spec: &LogoutTokenSpec) -> (u16, String, serde_json::Value) {
    let token = pair.idp.logout_token(spec).unwrap();
    post_logout(pair, &[("logout_token", &token)]).await
}

#[tokio::test]
async fn backchannel_logout_by_sid_ends_that_session_and_by_sub_every_session() {
    let pair = pair().await;
    let (first, first_sid) = browser_login(&pair, "ada").await;
    let (second, second_sid) = browser_login(&pair, "ada").await;
    let (bob, _) = browser_login(&pair, "bob").await;
    assert_ne!(first_sid, second_sid);

    let (status, cache, _) =
        send_token(&pair, &LogoutTokenSpec::new("hub").session(&first_sid)).await;
    assert_eq!((status, cache.as_str()), (200, "no-store"));
    assert_eq!(
        logged_in_as(&first, &pair).await,
        None,
        "that session ended"
    );
    assert_eq!(logged_in_as(&second, &pair).await.as_deref(), Some("ada"));

    // sub and sid must both match: ada's sid with bob's sub ends nothing.
    let (status, _, _) = send_token(
        &pair,
        &LogoutTokenSpec::new("hub")
            .subject("bob")
            .session(&second_sid),
    )
    .await;
    assert_eq!(
        status, 200,
        "a valid token that matches no session is still 200"
    );
    assert_eq!(logged_in_as(&second, &pair).await.as_deref(), Some("ada"));

    // sub only: every session of that subject at this issuer.
    let (status, _, _) = send_token(&pair, &LogoutTokenSpec::new("hub").subject("ada")).await;
    assert_eq!(status, 200);
    assert_eq!(logged_in_as(&second, &pair).await, None);
    assert_eq!(logged_in_as(&bob, &pair).await.as_deref(), Some("bob"));
    pair.hub.stop().await;
}

#[tokio::test]
async fn hostile_logout_tokens_are_refused_and_end_nothing() {
    let pair = pair().await;
    let (browser, sid) = browser_login(&pair, "ada").await;
    let valid = || LogoutTokenSpec::new("hub").subject("ada").session(&sid);
    let mut expired = valid();
    expired.lifetime = -3600;
    let cases: Vec<(&str, LogoutTokenSpec, &str)> = vec![
        ("unsigned", valid().tamper(Tamper::AlgNone), "not signed"),
        (
            "hmac with the public key",
            valid().tamper(Tamper::HmacWithPublicKey),
            "algorithm",
        ),
        (
            "another key under the real kid",
            valid().tamper(Tamper::BadSignature),
            "signature",
        ),
        (
            "an unknown key",
            valid().tamper(Tamper::UnknownKid),
            "signature",
        ),
        (
            "wrong aud",
            valid().tamper(Tamper::WrongAudience),
            "not meant for this client",
        ),
        (
            "wrong iss",
            valid().tamper(Tamper::WrongIssuer),
            "not issued by",
        ),
        (
            "iss with a trailing slash",
            valid().tamper(Tamper::IssuerWithTrailingSlash),
            "not issued by",
        ),
        ("nonce present", valid().tamper(Tamper::WrongNonce), "nonce"),
        (
            "expired (tamper)",
            valid().tamper(Tamper::Expired),
            "expired",
        ),
        ("expired", expired, "expired"),
        ("missing events", valid().without_event(), "events"),
        ("missing jti", valid().jti(None), "jti"),
        (
            "neither sub nor sid",
            LogoutTokenSpec::new("hub"),
            "neither sub nor sid",
        ),
        (
            "for another client",
            LogoutTokenSpec::new("other").subject("ada"),
            "not meant",
        ),
    ];
    for (what, spec, expected) in cases {
        let (status, cache, body) = send_token(&pair, &spec).await;
        assert_eq!(status, 400, "{what}: {body}");
        assert_eq!(cache, "no-store", "{what}");
        assert_eq!(body["error"], "invalid_request", "{what}");
        let description = body["error_description"].as_str().unwrap();
        assert!(description.contains(expected), "{what}: {description}");
        assert_eq!(
            logged_in_as(&browser, &pair).await.as_deref(),
            Some("ada"),
            "{what} ended nothing"
        );
    }
    for form in [
        &[][..],
        &[("logout_token", "")][..],
        &[("logout_token", "a.b.c"), ("logout_token", "a.b.c")][..],
        &[("logout_token", "not a jwt")][..],
    ] {
        let (status, cache, body) = post_logout(&pair, form).await;
        assert_eq!((status, cache.as_str()), (400, "no-store"), "{form:?}");
        assert_eq!(body["error"], "invalid_request");
    }
    assert_eq!(logged_in_as(&browser, &pair).await.as_deref(), Some("ada"));

    // A replayed jti is refused: the first use ends the session, the replay is 400.
    let spec = LogoutTokenSpec::new("hub").session(&sid);
    let token = pair.idp.logout_token(&spec).unwrap();
    let (status, _, _) = post_logout(&pair, &[("logout_token", &token)]).await;
    assert_eq!(status, 200);
    assert_eq!(logged_in_as(&browser, &pair).await, None);
    let (again, _) = browser_login(&pair, "ada").await;
    let (status, _, body) = post_logout(&pair, &[("logout_token", &token)]).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("already used")
    );
    // The same jti in a new token is a replay too.
    let (status, _, _) = send_token(&pair, &spec).await;
    assert_eq!(status, 400);
    assert_eq!(logged_in_as(&again, &pair).await.as_deref(), Some("ada"));
    pair.hub.stop().await;
}

#[tokio::test]
async fn backchannel_logout_is_refused_by_a_hub_without_an_openid_provider() {
    let hub = start_hub("", "", &[]).await;
    let response = reqwest::Client::new()
        .post(format!("{}backchannel_logout", hub.hub_url))
        .form(&[("logout_token", "a.b.c")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("not supported")
    );
    hub.stop().await;
}
