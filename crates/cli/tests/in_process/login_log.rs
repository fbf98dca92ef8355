//! The login log: one line per login attempt with its outcome, and no secret in any line
//! the hub, the provider or the HTTP stack logs.
//!
//! A test binary of its own: it captures the log with a thread-local subscriber, and
//! tracing caches per call site whether anyone listens, so another test logging on
//! another thread at the same moment could leave the hub's lines uncaptured.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use hubauth_devidp::{Client, DevIdp, DevUser};
use hubauth_testkit::hub::*;
use serde_json::Value;

/// The value of a cookie set by a response.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|cookie| {
            let (key, rest) = cookie.split_once('=')?;
            (key == name).then(|| rest.split(';').next().unwrap_or("").to_owned())
        })
        .filter(|value| !value.is_empty())
}

/// The login lines of a JSON log: (authenticator, user, outcome, reason).
fn login_lines(log: &str) -> Vec<(String, String, String, String)> {
    log.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["fields"].get("outcome").is_some())
        .map(|line| {
            let field = |name: &str| {
                line["fields"][name]
                    .as_str()
                    .unwrap_or_else(|| panic!("login line without {name}: {line}"))
                    .to_owned()
            };
            (
                field("authenticator"),
                field("user"),
                field("outcome"),
                field("reason"),
            )
        })
        .collect()
}

const FORM_PASSWORD: &str = "form-pw-5f1d0c7e9a";
const WRONG_PASSWORD: &str = "wrong-pw-b83e77d1c2";
const CLIENT_SECRET: &str = "client-secret-0d9c4b6e1f27";

/// Runs a form login and an OAuth login (with a refresh and a logout) with the hub's log
/// captured as JSON at trace level, then greps the log for every secret the flows used.
#[tokio::test]
async fn login_log_has_one_line_per_login_and_no_secrets() {
    let log = hubauth_testkit::logs::capture();
    let mut secrets: Vec<(&str, String)> = vec![
        ("form password", FORM_PASSWORD.to_owned()),
        ("wrong password", WRONG_PASSWORD.to_owned()),
        ("client secret", CLIENT_SECRET.to_owned()),
    ];

    // Form login: one success, one failure.
    let form_hub = start_hub(
        "",
        &format!("[DummyAuthenticator]\npassword = \"{FORM_PASSWORD}\"\n"),
        &[],
    )
    .await;
    secrets.push((
        "cookie secret",
        std::fs::read_to_string(form_hub.dir.path().join("cookie_secret"))
            .unwrap()
            .trim()
            .to_owned(),
    ));
    let c = client();
    let response = login(&c, &form_hub, "ada", FORM_PASSWORD, None).await;
    assert_eq!(response.status(), 302);
    secrets.push((
        "form session cookie",
        set_cookie(&response, "hubauth-session").unwrap(),
    ));
    assert_eq!(home(&c, &form_hub).await.0, 200);
    let response = login(&client(), &form_hub, "ada", WRONG_PASSWORD, None).await;
    assert_eq!(response.status(), 403);
    form_hub.stop().await;

    // OAuth login against the development provider, with auth_state, a refresh and a logout.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hub_origin = format!("http://{}", listener.local_addr().unwrap());
    let idp = DevIdp::builder()
        .client(
            Client::confidential(
                "hub",
                CLIENT_SECRET,
                format!("{hub_origin}/hub/oauth_callback"),
            )
            .with_require_pkce(false),
        )
        .user(DevUser::new("ada", "ada-pw").claim("preferred_username", "ada"))
        .auto_approve(Some("ada".into()))
        .start()
        .await
        .unwrap();
    let key = hubauth_store::CryptKeeper::generate_key();
    secrets.push(("crypt key", key.clone()));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let clock = Arc::new(hubauth_server::ManualClock::at(now));
    let rest = format!(
        "[GenericOAuthenticator]\nclient_id = \"hub\"\nclient_secret = \"{CLIENT_SECRET}\"\nusername_claim = \"preferred_username\"\nscope = [\"openid\", \"profile\"]\noidc_issuer = \"{}\"\nallow_all = true\nenable_auth_state = true\nauth_refresh_age = 60\n",
        idp.issuer()
    );
    let hub = start_hub_with(HubOptions {
        dir: tempfile::TempDir::new().unwrap(),
        listener: Some(listener),
        hub_extra: "authenticator_class = \"generic-oauth\"",
        rest: &rest,
        env: &[("JUPYTERHUB_CRYPT_KEY", key.as_str())],
        clock: Some(clock.clone()),
    })
    .await
    .unwrap();
    let c = client();
    let start = c
        .get(format!("{}oauth_login", hub.hub_url))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 302);
    let at_idp = c.get(location(&start)).send().await.unwrap();
    assert_eq!(at_idp.status(), 302);
    let callback = location(&at_idp);
    let code = url::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(key, _)| key == "code")
        .map(|(_, value)| value.into_owned())
        .unwrap();
    secrets.push(("authorization code", code));
    let response = c.get(&callback).send().await.unwrap();
    assert_eq!(response.status(), 303);
    secrets.push((
        "OAuth session cookie",
        set_cookie(&response, "hubauth-session").unwrap(),
    ));
    let mut auth_states = vec![
        hubauth_server::auth_state::load(hub.hub.state(), "ada")
            .await
            .unwrap()
            .unwrap(),
    ];
    // Past auth_refresh_age: the next request refreshes with the stored tokens.
    clock.advance(61);
    assert_eq!(home(&c, &hub).await.0, 200);
    auth_states.push(
        hubauth_server::auth_state::load(hub.hub.state(), "ada")
            .await
            .unwrap()
            .unwrap(),
    );
    for (index, state) in auth_states.iter().enumerate() {
        for name in ["access_token", "refresh_token", "id_token"] {
            let value = state[name].as_str().unwrap_or("");
            if index == 0 {
                assert!(value.len() >= 16, "auth_state.{name} = {value:?}");
            }
            if !value.is_empty() {
                secrets.push((name, value.to_owned()));
            }
        }
    }
    let metrics = scrape_metrics(&hub).await;
    assert!(
        metrics.contains("hubauth_provider_request_duration_seconds_bucket{step="),
        "{metrics}"
    );
    assert!(
        metrics.contains("hubauth_auth_refreshes_total{result="),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            "hubauth_logins_total{authenticator=\"GenericOAuthenticator\",outcome=\"ok\"}"
        ),
        Some(1.0),
        "{metrics}"
    );
    let logout = logout_at(&c, &hub.hub_url).await;
    assert!(logout.status().is_redirection() || logout.status().is_success());
    // A replayed callback: its state is used up.
    let replay = client().get(&callback).send().await.unwrap();
    assert_eq!(replay.status(), 400);
    hub.stop().await;

    let text = log.text();
    assert!(
        text.contains("User logged in"),
        "the log was captured: {text}"
    );
    for (what, secret) in &secrets {
        assert!(!secret.is_empty(), "{what} is known");
        assert!(
            !text.contains(secret.as_str()),
            "the log contains the {what}"
        );
    }

    // A hub with one login method names none in its login lines.
    for line in text
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["fields"].get("outcome").is_some())
    {
        assert!(line["fields"].get("method").is_none(), "{line}");
    }
    // Exactly one line per login, each with authenticator, user, outcome and reason.
    let lines = login_lines(&text);
    let summary: Vec<(&str, &str, &str)> = lines
        .iter()
        .map(|(auth, user, outcome, _)| (auth.as_str(), user.as_str(), outcome.as_str()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("DummyAuthenticator", "ada", "ok"),
            ("DummyAuthenticator", "ada", "authentication_failed"),
            ("GenericOAuthenticator", "ada", "ok"),
            ("GenericOAuthenticator", "", "bad_state"),
        ],
        "{lines:?}"
    );
    assert_eq!(lines[3].3, "state cookie missing");

    // Every line written while a request is handled names it: method, path (never the
    // query, which holds codes and state) and the id the response carried.
    let spans: Vec<Value> = text
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["fields"].get("outcome").is_some())
        .map(|line| line["span"].clone())
        .collect();
    let paths: Vec<&str> = spans
        .iter()
        .map(|span| span["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "/hub/login",
            "/hub/login",
            "/hub/oauth_callback",
            "/hub/oauth_callback"
        ],
        "{spans:?}"
    );
    for span in &spans {
        assert_eq!(span["name"], "request", "{span}");
        let id = span["request_id"].as_str().unwrap();
        assert_eq!(id.len(), 16, "{span}");
    }
    assert_eq!(spans[0]["method"], "POST");
    assert_eq!(spans[2]["method"], "GET");
}
