//! The hub's logout tokens to services (OpenID Connect Back-Channel Logout 1.0), verified
//! by a JOSE library that is not the hub's: `e2e/identity-assertion/verify_logout_token.py`
//! checks them with PyJWT (in `e2e/jupyterhub/.venv`, as `./scripts/test.sh` installs it)
//! against the hub's JWKS, for a service signed RS256 and one signed ES256.
//!
//! Without the venv this test fails, unless `HUBAUTH_SKIP_E2E=1` is set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hubauth_testkit::hub::*;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

const SECRET: &str = "app-secret-0123456789abcdef";
const CALLBACK: &str = "http://127.0.0.1:9/app/callback";

fn python() -> Option<PathBuf> {
    crate::e2e_python("the back-channel logout PyJWT test")
}

/// Runs the PyJWT verifier on `token`; the claims, or the reason it was refused.
async fn pyjwt_verify(
    python: &PathBuf,
    hub: &TestHub,
    audience: &str,
    token: &str,
) -> Result<Value, String> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../e2e/identity-assertion/verify_logout_token.py");
    let mut child = tokio::process::Command::new(python)
        .arg(script)
        .arg(format!("--jwks-url={}api/oauth2/jwks", hub.hub_url))
        .arg(format!("--issuer={}", hub.origin))
        .arg(format!("--audience={audience}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(token.as_bytes()).await.unwrap();
    drop(stdin);
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A service's back-channel logout endpoint: records each `logout_token`, answers 200.
async fn recorder() -> (String, Arc<Mutex<Vec<String>>>) {
    use axum::routing::post;
    let received = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = received.clone();
    let app = axum::Router::new().route(
        "/bcl",
        post(move |body: axum::body::Bytes| {
            let seen = seen.clone();
            async move {
                let token = url::form_urlencoded::parse(&body)
                    .find(|(name, _)| name == "logout_token")
                    .map(|(_, value)| value.into_owned())
                    .unwrap_or_default();
                seen.lock().unwrap().push(token);
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/bcl", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

/// Signs `browser` in to `client_id` through the hub (scope openid); the ID token's `sid`.
async fn sign_in_to(hub: &TestHub, browser: &reqwest::Client, client_id: &str) -> String {
    let authorize = format!(
        "{}api/oauth2/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope=openid&state=s",
        hub.hub_url,
        urlencode(CALLBACK)
    );
    let response = browser.get(authorize).send().await.unwrap();
    assert_eq!(response.status(), 302);
    let code = url::Url::parse(&location(&response))
        .unwrap()
        .query_pairs()
        .find(|(key, _)| key == "code")
        .unwrap()
        .1
        .into_owned();
    let body: Value = reqwest::Client::new()
        .post(format!("{}api/oauth2/token", hub.hub_url))
        .basic_auth(client_id, Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id_token = body["id_token"].as_str().unwrap();
    let payload = id_token.split('.').nth(1).unwrap();
    use base64::Engine as _;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["sid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn pyjwt_verifies_the_logout_tokens_services_receive() {
    let Some(python) = python() else { return };
    let (uri, received) = recorder().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let hub = start_hub_with(HubOptions {
        dir: tempfile::TempDir::new().unwrap(),
        listener: Some(listener),
        hub_extra: &format!("public_url = \"{origin}/\"\n"),
        rest: &format!(
            r#"
[[Hub.services]]
name = "rs"
api_token = "{SECRET}"
oauth_redirect_uri = "{CALLBACK}"
oauth_no_confirm = true
backchannel_logout_uri = "{uri}"

[[Hub.services]]
name = "es"
api_token = "{SECRET}"
oauth_redirect_uri = "{CALLBACK}"
oauth_no_confirm = true
oauth_id_token_signed_response_alg = "ES256"
backchannel_logout_uri = "{uri}"
"#
        ),
        env: &[],
        clock: None,
    })
    .await
    .unwrap();
    let browser = client();
    assert!(
        login(&browser, &hub, "ada", "pw", None)
            .await
            .status()
            .is_redirection()
    );
    let sid = sign_in_to(&hub, &browser, "service-rs").await;
    assert_eq!(sign_in_to(&hub, &browser, "service-es").await, sid);
    logout(&browser, &hub).await;
    let mut tokens = Vec::new();
    for _ in 0..200 {
        tokens = received.lock().unwrap().clone();
        if tokens.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(tokens.len(), 2, "one logout token per service");
    let mut audiences = Vec::new();
    for token in &tokens {
        let header = jsonwebtoken::decode_header(token).unwrap();
        let audience = match header.alg {
            jsonwebtoken::Algorithm::RS256 => "service-rs",
            jsonwebtoken::Algorithm::ES256 => "service-es",
            other => panic!("unexpected {other:?}"),
        };
        let claims = pyjwt_verify(&python, &hub, audience, token)
            .await
            .unwrap_or_else(|err| panic!("PyJWT refused the hub's token: {err}"));
        assert_eq!(claims["sub"], "ada");
        assert_eq!(claims["sid"], sid.as_str());
        audiences.push(audience);
        // The same token for the other service is refused, and so is a spliced one.
        let other = if audience == "service-rs" {
            "service-es"
        } else {
            "service-rs"
        };
        assert!(pyjwt_verify(&python, &hub, other, token).await.is_err());
    }
    audiences.sort_unstable();
    assert_eq!(audiences, ["service-es", "service-rs"]);
    let mut parts: Vec<&str> = tokens[0].split('.').collect();
    parts[1] = tokens[1].split('.').nth(1).unwrap();
    let spliced = parts.join(".");
    assert!(
        pyjwt_verify(&python, &hub, "service-rs", &spliced)
            .await
            .is_err()
            && pyjwt_verify(&python, &hub, "service-es", &spliced)
                .await
                .is_err()
    );
    hub.stop().await;
}
