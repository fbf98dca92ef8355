//! Signed identity assertions (`identity_assertions`), verified by an app with a JOSE
//! library that is not the hub's: `e2e/identity-assertion/app.py` checks the JWT with
//! PyJWT (pinned in `e2e/jupyterhub/requirements.txt`, installed in that venv by
//! `./scripts/test.sh`) against the hub's JWKS, behind the built-in proxy and as a
//! forward-auth answer would hand it on.
//!
//! Without the venv these tests fail, unless `HUBAUTH_SKIP_E2E=1` is set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use hubauth_testkit::hub::*;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const AUDIENCE: &str = "https://app.test";
const HEADER: &str = "x-auth-request-assertion";

fn python() -> Option<PathBuf> {
    crate::e2e_python("the identity assertion test")
}

/// The Python app; it exits when its stdin closes (the child is dropped).
struct App {
    url: String,
    _child: Child,
}

async fn start_app(python: &PathBuf, origin: &str) -> App {
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../e2e/identity-assertion/app.py");
    let mut child = Command::new(python)
        .arg(script)
        .arg(format!("--jwks-url={origin}/hub/api/oauth2/jwks"))
        .arg(format!("--issuer={origin}"))
        .arg(format!("--audience={AUDIENCE}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the Python app");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the app prints READY")
        .unwrap()
        .unwrap_or_default();
    let port = line
        .strip_prefix("READY ")
        .expect("READY <port>")
        .trim()
        .to_owned();
    App {
        url: format!("http://127.0.0.1:{port}"),
        _child: child,
    }
}

/// A hub with the app behind its proxy: `/` asserts for the app's audience, `/other/`
/// for another one; ada is an admin in group staff.
async fn hub_and_app(python: &PathBuf, alg: &str) -> (TestHub, App) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let app = start_app(python, &origin).await;
    let hub = start_hub_with(HubOptions {
        dir: tempfile::TempDir::new().unwrap(),
        listener: Some(listener),
        hub_extra: &format!(
            r#"public_url = "{origin}/"
upstream = "{}"
forward_auth_accept_tokens = true
identity_assertion_alg = "{alg}"
identity_assertions = [
  {{ audience = "{AUDIENCE}" }},
  {{ path_prefix = "/other", audience = "other-app" }},
]
"#,
            app.url
        ),
        rest: "[Authenticator]\nadmin_users = [\"ada\"]\n",
        env: &[],
        clock: None,
    })
    .await
    .unwrap();
    let store = hub.store();
    store.ensure_user("ada", None, 0).await.unwrap();
    store.create_group("staff").await.unwrap();
    store
        .add_group_members("staff", &["ada".to_owned()])
        .await
        .unwrap();
    (hub, app)
}

async fn json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_app_verifies_the_proxys_assertion_with_pyjwt_and_a_forged_one_never_arrives() {
    let Some(python) = python() else { return };
    for alg in ["ES256", "RS256"] {
        let (hub, _app) = hub_and_app(&python, alg).await;
        let browser = client();
        assert!(
            login(&browser, &hub, "ada", "pw", None)
                .await
                .status()
                .is_redirection()
        );

        let (status, body) = json(
            browser
                .get(format!("{}/whoami", hub.origin))
                .header(HEADER, "forged.by.client")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 200, "{alg}: {body}");
        let claims = &body["claims"];
        assert_eq!(claims["sub"], "ada");
        assert_eq!(claims["name"], "ada");
        assert_eq!(claims["groups"], serde_json::json!(["staff"]));
        assert_eq!(claims["admin"], true);
        assert_eq!(claims["aud"], AUDIENCE);
        assert_eq!(claims["iss"], hub.origin);
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            60
        );
        assert!(claims["sid"].is_string(), "a login session's sid");

        // Another route's assertion names another audience: the app refuses it.
        let (status, body) = json(
            browser
                .get(format!("{}/other/x", hub.origin))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 401, "{body}");
        assert!(
            body["error"].as_str().unwrap().contains("Audience"),
            "{body}"
        );

        // A machine client with an API token: the assertion has no sid.
        let token = store_token(&hub, "ada", &["access:apps"], None).await;
        let (status, body) = json(
            reqwest::Client::new()
                .get(format!("{}/whoami", hub.origin))
                .header("authorization", format!("token {token}"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["claims"]["sub"], "ada");
        assert!(body["claims"].get("sid").is_none());

        // Without a session, a forged assertion goes nowhere: the proxy sends the
        // browser to the login page.
        let stranger = client();
        let response = stranger
            .get(format!("{}/whoami", hub.origin))
            .header(HEADER, "forged.by.client")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 302);
        hub.stop().await;
    }
}

#[tokio::test]
async fn forward_auth_answers_carry_a_cached_assertion_that_pyjwt_verifies() {
    let Some(python) = python() else { return };
    let (hub, app) = hub_and_app(&python, "ES256").await;
    let browser = client();
    assert!(
        login(&browser, &hub, "ada", "pw", None)
            .await
            .status()
            .is_redirection()
    );
    let check = |uri: &'static str| {
        let browser = browser.clone();
        let url = format!("{}forward-auth", hub.hub_url);
        async move {
            let response = browser
                .get(url)
                .header("x-forwarded-host", "app.test")
                .header("x-forwarded-uri", uri)
                .header(HEADER, "forged.by.client")
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            response
                .headers()
                .get(HEADER)
                .map(|value| value.to_str().unwrap().to_owned())
        }
    };
    let first = check("/x").await.expect("an assertion for the app");
    let second = check("/y").await.unwrap();
    assert_eq!(first, second, "reused for the same session and audience");
    // The app gets the header as the reverse proxy copies it from the answer.
    let (status, body) = json(
        reqwest::Client::new()
            .get(format!("{}/x", app.url))
            .header(HEADER, &first)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["claims"]["groups"], serde_json::json!(["staff"]));

    // A change of groups signs anew at once.
    hub.store().create_group("ops").await.unwrap();
    hub.store()
        .add_group_members("ops", &["ada".to_owned()])
        .await
        .unwrap();
    hub.hub.state().sessions_changed("ada").await;
    let third = check("/x").await.unwrap();
    assert_ne!(third, first);
    let (_, body) = json(
        reqwest::Client::new()
            .get(format!("{}/x", app.url))
            .header(HEADER, &third)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        body["claims"]["groups"],
        serde_json::json!(["ops", "staff"])
    );

    // A tampered assertion (another payload under the hub's signature) is refused.
    let mut parts: Vec<&str> = third.split('.').collect();
    parts[1] = first.split('.').nth(1).unwrap();
    let spliced = parts.join(".");
    let (status, body) = json(
        reqwest::Client::new()
            .get(format!("{}/x", app.url))
            .header(HEADER, spliced)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    hub.stop().await;
}

/// Real nginx copies the forward-auth answer's assertion to the app as the guide says
/// (`auth_request_set` + `proxy_set_header`), replacing whatever the client sent under
/// that name; the app verifies it with PyJWT.
#[tokio::test]
async fn nginx_hands_the_assertion_to_the_app_and_drops_a_forged_one() {
    let Some(python) = python() else { return };
    let Some(binary) = crate::forward_auth::nginx_binary() else {
        return;
    };
    let (hub, app) = hub_and_app(&python, "ES256").await;
    let hub_addr = hub.origin.trim_start_matches("http://").to_owned();
    let app_addr = app.url.trim_start_matches("http://").to_owned();
    let nginx = crate::forward_auth::start_nginx(&binary, &hub_addr, &app_addr).await;
    let front = format!("http://127.0.0.1:{}", nginx.port);

    // Not logged in: nginx sends the browser to the login page; the forged header never
    // reaches the app.
    let stranger = client();
    let response = stranger
        .get(format!("{front}/x"))
        .header(HEADER, "forged.by.client")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);

    let browser = client();
    assert!(
        login(&browser, &hub, "ada", "pw", None)
            .await
            .status()
            .is_redirection()
    );
    let (status, body) = json(
        browser
            .get(format!("{front}/x?y=1"))
            .header(HEADER, "forged.by.client")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["path"], "/x?y=1");
    assert_eq!(body["claims"]["sub"], "ada");
    assert_eq!(body["claims"]["aud"], AUDIENCE);
    assert_eq!(body["claims"]["groups"], serde_json::json!(["staff"]));
    assert_eq!(body["claims"]["admin"], true);

    // A route asserting for another audience: the app refuses what nginx hands it.
    let (status, body) = json(
        browser
            .get(format!("{front}/other/x"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    drop(nginx);
    hub.stop().await;
}
