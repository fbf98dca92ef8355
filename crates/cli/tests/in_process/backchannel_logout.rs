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
    pair_on("", tempfile::TempDir::new().unwrap()).await
}

/// A provider and a hub with `hub_extra` in its `[Hub]` table, in `dir`.
async fn pair_on(hub_extra: &str, dir: tempfile::TempDir) -> Pair {
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
        dir,
        listener: Some(listener),
        hub_extra: &format!("authenticator_class = \"generic-oauth\"\n{hub_extra}"),
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

// ---------------------------------------------------------------------------
// The hub as provider: services registered with a backchannel_logout_uri are told.

const APP_SECRET: &str = "app-secret-0123456789abcdef";
const APP_CB: &str = "http://127.0.0.1:9/app/callback";

/// A service's back-channel logout endpoint that records every form posted to it and
/// answers 503 to the first `failures` of them, 200 after.
struct Recorder {
    url: String,
    received: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

async fn recorder(failures: usize) -> Recorder {
    recorder_with(failures, 0).await
}

/// [`recorder`] that first hangs (answers nothing for four of the hub's timeouts) on
/// `hangs` posts, then fails `failures`.
async fn recorder_with(failures: usize, hangs: usize) -> Recorder {
    use axum::routing::post;
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = received.clone();
    let app = axum::Router::new().route(
        "/bcl",
        post(move |body: axum::body::Bytes| {
            let seen = seen.clone();
            async move {
                let count = {
                    let mut seen = seen.lock().unwrap();
                    seen.push(String::from_utf8_lossy(&body).into_owned());
                    seen.len()
                };
                if count <= hangs {
                    tokio::time::sleep(hubauth_server::backchannel::NOTIFY_TIMEOUT * 4).await;
                }
                if count <= hangs + failures {
                    axum::http::StatusCode::SERVICE_UNAVAILABLE
                } else {
                    axum::http::StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/bcl", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Recorder { url, received }
}

impl Recorder {
    /// The logout tokens received so far (in order).
    fn tokens(&self) -> Vec<String> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|body| {
                url::form_urlencoded::parse(body.as_bytes())
                    .find(|(name, _)| name == "logout_token")
                    .map(|(_, value)| value.into_owned())
                    .unwrap_or_else(|| panic!("no logout_token in {body}"))
            })
            .collect()
    }

    /// Waits (up to ten seconds) until `count` posts arrived.
    async fn wait_for(&self, count: usize) -> Vec<String> {
        for _ in 0..200 {
            if self.received.lock().unwrap().len() >= count {
                return self.tokens();
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!(
            "{count} back-channel logouts expected, got {:?}",
            self.tokens()
        );
    }
}

/// A hub (dummy logins, `public_url` its own origin) whose service `app` has the
/// recorder as back-channel logout URI, and whose service `quiet` has none.
async fn provider_hub(
    recorder: &Recorder,
) -> (TestHub, std::sync::Arc<hubauth_server::ManualClock>) {
    provider_hub_in(recorder, tempfile::TempDir::new().unwrap(), "").await
}

/// [`provider_hub`] in `dir` (to restart one), with `authenticator` lines added to its
/// `[Authenticator]` table.
async fn provider_hub_in(
    recorder: &Recorder,
    dir: tempfile::TempDir,
    authenticator: &str,
) -> (TestHub, std::sync::Arc<hubauth_server::ManualClock>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let clock = std::sync::Arc::new(hubauth_server::ManualClock::at(1_800_000_000));
    let hub = start_hub_with(HubOptions {
        dir,
        listener: Some(listener),
        hub_extra: &format!("public_url = \"{origin}/\"\n"),
        rest: &format!(
            r#"
[[Hub.services]]
name = "app"
api_token = "{APP_SECRET}"
oauth_redirect_uri = "{APP_CB}"
oauth_no_confirm = true
backchannel_logout_uri = "{}"

[[Hub.services]]
name = "quiet"
api_token = "{APP_SECRET}"
oauth_redirect_uri = "{APP_CB}"
oauth_no_confirm = true

[Authenticator]
admin_users = ["root"]
{authenticator}
"#,
            recorder.url
        ),
        env: &[],
        clock: Some(clock.clone()),
    })
    .await
    .unwrap();
    (hub, clock)
}

/// Logs `name` in at the hub and signs in to `client_id` through it (scope openid);
/// returns the browser and the verified ID token's claims.
async fn service_login(
    hub: &TestHub,
    name: &str,
    client_id: &str,
) -> (reqwest::Client, serde_json::Value) {
    let browser = client();
    assert!(
        login(&browser, hub, name, "pw", None)
            .await
            .status()
            .is_redirection()
    );
    let authorize = format!(
        "{}api/oauth2/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope=openid&state=s1",
        hub.hub_url,
        urlencode(APP_CB)
    );
    let response = browser.get(authorize).send().await.unwrap();
    assert_eq!(response.status(), 302);
    let code = url::Url::parse(&location(&response))
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let body: serde_json::Value = reqwest::Client::new()
        .post(format!("{}api/oauth2/token", hub.hub_url))
        .basic_auth(client_id, Some(APP_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", APP_CB),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let claims = verify_with_jwks(hub, body["id_token"].as_str().unwrap(), client_id, "JWT").await;
    (browser, claims)
}

/// Verifies a JWT the hub signed against the JWKS its discovery document names (the
/// algorithm from the header, RS256 or ES256), checking `iss`, `aud` and the `typ`
/// header; returns the claims.
async fn verify_with_jwks(
    hub: &TestHub,
    token: &str,
    audience: &str,
    typ: &str,
) -> serde_json::Value {
    let discovery: serde_json::Value = reqwest::get(format!(
        "{}.well-known/openid-configuration",
        hub.origin.clone() + "/"
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let jwks: jsonwebtoken::jwk::JwkSet = reqwest::get(discovery["jwks_uri"].as_str().unwrap())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some(typ));
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("the key is published");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[discovery["issuer"].as_str().unwrap()]);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)
        .unwrap()
        .claims
}

#[tokio::test]
async fn services_with_a_backchannel_logout_uri_receive_a_signed_logout_token_at_logout() {
    // The first attempt fails: the hub retries.
    let recorder = recorder(1).await;
    let (hub, _clock) = provider_hub(&recorder).await;
    let (browser, id_claims) = service_login(&hub, "ada", "service-app").await;
    let sid = id_claims["sid"]
        .as_str()
        .expect("ID tokens carry sid")
        .to_owned();
    // Another session of ada's, signed in to the quiet service only: never reported.
    let (_other, other_claims) = service_login(&hub, "ada", "service-quiet").await;
    assert_ne!(other_claims["sid"], id_claims["sid"]);

    let response = logout(&browser, &hub).await;
    assert!(response.status().is_success() || response.status().is_redirection());
    let tokens = recorder.wait_for(2).await;
    assert_eq!(tokens.len(), 2, "one failed attempt, one retry");
    let claims = verify_with_jwks(&hub, &tokens[1], "service-app", "logout+jwt").await;
    assert_eq!(
        claims["iss"], id_claims["iss"],
        "the issuer of its ID tokens"
    );
    assert_eq!(claims["sub"], "ada");
    assert_eq!(claims["sid"], sid.as_str(), "the sid of the ended session");
    assert_eq!(
        claims["events"],
        serde_json::json!({"http://schemas.openid.net/event/backchannel-logout": {}})
    );
    assert!(claims.get("nonce").is_none());
    assert_eq!(claims["iat"], 1_800_000_000);
    assert!(claims["exp"].as_i64().unwrap() > 1_800_000_000);
    let first = verify_with_jwks(&hub, &tokens[0], "service-app", "logout+jwt").await;
    assert_ne!(first["jti"], claims["jti"], "every attempt is a new token");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(recorder.tokens().len(), 2, "nothing more once delivered");
    hub.stop().await;
}

#[tokio::test]
async fn services_are_told_when_sessions_expire_and_when_the_user_is_deleted() {
    let recorder = recorder(0).await;
    let (hub, clock) = provider_hub(&recorder).await;
    let (_browser, id_claims) = service_login(&hub, "ada", "service-app").await;

    // The periodic clean-up ends the expired session as a logout would.
    clock.advance(15 * 24 * 3600);
    let services = hub.hub.state().services.clone();
    let purged = hubauth_server::maintenance::purge_expired(
        &services,
        hubauth_server::Clock::now(clock.as_ref()),
    )
    .await
    .unwrap();
    assert_eq!(purged.sessions, 1);
    let tokens = recorder.wait_for(1).await;
    let claims = verify_with_jwks(&hub, &tokens[0], "service-app", "logout+jwt").await;
    assert_eq!(claims["sid"], id_claims["sid"]);
    assert_eq!(claims["sub"], "ada");

    // Deleting the user ends every session: a token with sub and no sid.
    let (_browser, _) = service_login(&hub, "bob", "service-app").await;
    hub.store()
        .ensure_user("root", Some(true), 0)
        .await
        .unwrap();
    let admin = store_token(&hub, "root", &["admin:users"], None).await;
    let (status, _) = api_call(&hub, reqwest::Method::DELETE, "/users/bob", &admin, None).await;
    assert_eq!(status, 204);
    let tokens = recorder.wait_for(2).await;
    let claims = verify_with_jwks(&hub, &tokens[1], "service-app", "logout+jwt").await;
    assert_eq!(claims["sub"], "bob");
    assert!(claims.get("sid").is_none(), "every session of the user");
    hub.stop().await;
}

#[tokio::test]
async fn a_backchannel_logout_uri_needs_public_url() {
    let err = start_hub_with(HubOptions {
        dir: tempfile::TempDir::new().unwrap(),
        listener: None,
        hub_extra: "",
        rest: &format!(
            "[[Hub.services]]\nname = \"app\"\napi_token = \"{APP_SECRET}\"\noauth_redirect_uri = \"{APP_CB}\"\nbackchannel_logout_uri = \"http://127.0.0.1:9/bcl\"\n"
        ),
        env: &[],
        clock: None,
    })
    .await
    .unwrap_err();
    assert!(err.to_string().contains("public_url"), "{err}");
}

#[tokio::test]
async fn services_are_told_when_a_user_is_blocked_and_the_hub_restarts() {
    let recorder = recorder(0).await;
    let (hub, _clock) = provider_hub(&recorder).await;
    let (_browser, _) = service_login(&hub, "eve", "service-app").await;
    let dir = hub.stop().await;
    // Blocked in the configuration: start-up ends her sessions and the service is told.
    let (hub, _clock) = provider_hub_in(&recorder, dir, "blocked_users = [\"eve\"]").await;
    let tokens = recorder.wait_for(1).await;
    let claims = verify_with_jwks(&hub, &tokens[0], "service-app", "logout+jwt").await;
    assert_eq!(claims["sub"], "eve");
    assert!(claims.get("sid").is_none());
    // Her service tokens are revoked, so the next start has nothing to tell.
    let dir = hub.stop().await;
    let (hub, _clock) = provider_hub_in(&recorder, dir, "blocked_users = [\"eve\"]").await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(recorder.tokens().len(), 1);
    hub.stop().await;
}

/// A service that does not answer holds a notice up for the attempt's timeout only; the
/// next attempt delivers it.
#[tokio::test]
async fn a_service_that_hangs_is_given_up_on_after_the_timeout_and_tried_again() {
    let recorder = recorder_with(0, 1).await;

    let (hub, _clock) = provider_hub(&recorder).await;
    let (browser, id_claims) = service_login(&hub, "ada", "service-app").await;
    let started = std::time::Instant::now();
    let response = logout(&browser, &hub).await;
    assert!(response.status().is_success() || response.status().is_redirection());
    assert!(
        started.elapsed() < hubauth_server::backchannel::NOTIFY_TIMEOUT * 3,
        "the logout does not wait for the service (it hangs for four timeouts)"
    );
    recorder.wait_for(1).await;
    // The second attempt comes after the first one's timeout (5 s) and a pause.
    let mut tokens = Vec::new();
    for _ in 0..300 {
        tokens = recorder.tokens();
        if tokens.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(tokens.len(), 2, "one timed-out attempt, one delivered");
    let claims = verify_with_jwks(&hub, &tokens[1], "service-app", "logout+jwt").await;
    assert_eq!(claims["sid"], id_claims["sid"]);
    hub.stop().await;
}

/// A notice not yet delivered when the hub stops is in the database's outbox: the next
/// start sends it (the attempts already made count), and nothing stays queued after.
#[tokio::test]
async fn a_logout_notice_outlives_a_restart_of_the_hub() {
    // The service answers 503 twice: once before the restart, once after.
    let recorder = recorder(2).await;
    let (hub, _clock) = provider_hub(&recorder).await;
    let (browser, id_claims) = service_login(&hub, "ada", "service-app").await;
    let response = logout(&browser, &hub).await;
    assert!(response.status().is_success() || response.status().is_redirection());
    recorder.wait_for(1).await;
    let dir = hub.stop().await;
    assert_eq!(
        recorder.tokens().len(),
        1,
        "a stopped hub sends nothing more"
    );

    let (hub, _clock) = provider_hub_in(&recorder, dir, "").await;
    let tokens = recorder.wait_for(3).await;
    let claims = verify_with_jwks(&hub, &tokens[2], "service-app", "logout+jwt").await;
    assert_eq!(claims["sub"], "ada");
    assert_eq!(claims["sid"], id_claims["sid"]);
    let mut queued = 1;
    for _ in 0..100 {
        queued = hub.store().count_logout_notices().await.unwrap();
        if queued == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(queued, 0, "a delivered notice leaves the outbox");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(recorder.tokens().len(), 3, "nothing more once delivered");
    hub.stop().await;
}

/// Two replicas sharing a PostgreSQL database: a logout token posted to one ends the
/// session on the other at once (B announces it; A's cache would keep it for an hour), and
/// the same token is a replay at the other.
#[tokio::test]
async fn backchannel_logout_reaches_every_replica_sharing_postgres() {
    hubauth_testkit::pg::on_fresh_database(
        "backchannel_logout_reaches_every_replica_sharing_postgres",
        "bcl_replicas",
        |db_url| async move {
            let extra = format!("{}session_cache_ttl = 3600\n", db_line(&db_url));
            let a = pair_on(&extra, tempfile::TempDir::new().unwrap()).await;
            // Replica B: the same database and provider (its own client registration
            // does not matter: only the logout token is posted to it).
            let b = start_hub_with(HubOptions {
                dir: tempfile::TempDir::new().unwrap(),
                listener: None,
                hub_extra: &format!("authenticator_class = \"generic-oauth\"\n{extra}"),
                rest: &format!(
                    "[GenericOAuthenticator]\nclient_id = \"hub\"\nclient_secret = \"hub-secret\"\nusername_claim = \"preferred_username\"\nallow_all = true\noidc_issuer = \"{}\"\n",
                    a.idp.issuer()
                ),
                env: &[],
                clock: None,
            })
            .await
            .unwrap();
            let (browser, sid) = browser_login(&a, "ada").await;
            assert!(logged_in_as(&browser, &a).await.is_some(), "cached at A");
            let token = a
                .idp
                .logout_token(&LogoutTokenSpec::new("hub").session(&sid))
                .unwrap();
            let at_b = reqwest::Client::new()
                .post(format!("{}backchannel_logout", b.hub_url))
                .form(&[("logout_token", &token)])
                .send()
                .await
                .unwrap();
            assert_eq!(at_b.status(), 200);
            let mut ended = false;
            for _ in 0..200 {
                if logged_in_as(&browser, &a).await.is_none() {
                    ended = true;
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            assert!(ended, "the session ended at replica A, told by B");
            let (status, _, body) = post_logout(&a, &[("logout_token", &token)]).await;
            assert_eq!(status, 400, "a replay at the other replica: {body}");
            b.stop().await;
            a.hub.stop().await;
        },
    )
    .await;
}

#[tokio::test]
async fn a_logout_token_that_cannot_be_checked_yet_is_refused_and_can_be_sent_again() {
    let pair = pair().await;
    // The hub has not read the provider's metadata yet, and the provider fails once.
    pair.idp.fail_next(
        hubauth_devidp::Endpoint::Discovery,
        hubauth_devidp::Fault::Status(500, "down".into()),
    );
    let token = pair
        .idp
        .logout_token(&LogoutTokenSpec::new("hub").subject("ada"))
        .unwrap();
    let (status, cache, body) = post_logout(&pair, &[("logout_token", &token)]).await;
    assert_eq!((status, cache.as_str()), (400, "no-store"), "{body}");
    assert_eq!(body["error"], "temporarily_unavailable");
    // Not recorded as used: the provider's retry is accepted.
    let (status, _, body) = post_logout(&pair, &[("logout_token", &token)]).await;
    assert_eq!(status, 200, "{body}");
    pair.hub.stop().await;
}
