//! Identity assertions in forward-auth answers, checked with the hub's JWKS: which
//! requests get one, and which never do. (An app verifying them with PyJWT is in
//! `tests/external/identity_assertion.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_testkit::hub::*;

const HEADER: &str = "x-auth-request-assertion";

async fn hub() -> TestHub {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    start_hub_with(HubOptions {
        dir: tempfile::TempDir::new().unwrap(),
        listener: Some(listener),
        hub_extra: &format!(
            "public_url = \"{origin}/\"\nidentity_assertions = [{{ host = \"app.test\", path_prefix = \"/app\", audience = \"app\" }}]\n"
        ),
        rest: "",
        env: &[],
        clock: None,
    })
    .await
    .unwrap()
}

async fn assertion(
    browser: &reqwest::Client,
    hub: &TestHub,
    host: &str,
    uri: &str,
) -> Option<String> {
    let response = browser
        .get(format!("{}forward-auth", hub.hub_url))
        .header("x-forwarded-host", host)
        .header("x-forwarded-uri", uri)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{host}{uri}");
    response
        .headers()
        .get(HEADER)
        .map(|value| value.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn only_requests_for_a_listed_route_get_an_assertion_and_it_verifies_with_the_jwks() {
    let hub = hub().await;
    let browser = client();
    assert!(
        login(&browser, &hub, "ada", "pw", None)
            .await
            .status()
            .is_redirection()
    );

    let token = assertion(&browser, &hub, "app.test", "/app/page")
        .await
        .expect("listed route");
    let jwks: jsonwebtoken::jwk::JwkSet = reqwest::get(format!("{}api/oauth2/jwks", hub.hub_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256, "the default");
    let key =
        jsonwebtoken::DecodingKey::from_jwk(jwks.find(header.kid.as_deref().unwrap()).unwrap())
            .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&["app"]);
    validation.set_issuer(&[hub.origin.as_str()]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(&token, &key, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["sub"], "ada");
    assert_eq!(claims["admin"], false);
    assert_eq!(claims["groups"], serde_json::json!([]));

    // Not listed: another host, another path, and a path whose readings leave the route.
    for (host, uri) in [
        ("other.test", "/app/page"),
        ("app.test", "/elsewhere"),
        ("app.test", "/app/..%2Felsewhere"),
        ("app.test", "/application"),
    ] {
        assert_eq!(
            assertion(&browser, &hub, host, uri).await,
            None,
            "{host}{uri}"
        );
    }
    hub.stop().await;
}

#[tokio::test]
async fn identity_assertions_need_public_url() {
    let err = start_hub_with(HubOptions {
        dir: tempfile::TempDir::new().unwrap(),
        listener: None,
        hub_extra: "identity_assertions = [{ audience = \"app\" }]\n",
        rest: "",
        env: &[],
        clock: None,
    })
    .await
    .unwrap_err();
    assert!(err.to_string().contains("public_url"), "{err}");
    // An audience that is a service's client id: its ID tokens and the assertions would
    // be interchangeable.
    let err = start_hub_with(HubOptions {
        dir: tempfile::TempDir::new().unwrap(),
        listener: None,
        hub_extra: "public_url = \"https://hub.test/\"\nidentity_assertions = [{ audience = \"service-app\" }]\n",
        rest: "[[Hub.services]]\nname = \"app\"\noauth_redirect_uri = \"https://app.test/cb\"\n",
        env: &[],
        clock: None,
    })
    .await
    .unwrap_err();
    assert!(err.to_string().contains("client id of service"), "{err}");
}

#[test]
fn check_config_reports_what_assertions_and_back_channel_logout_need() {
    let dir = tempfile::TempDir::new().unwrap();
    for (text, needle) in [
        (
            "[Hub]\nauthenticator_class = \"dummy\"\nidentity_assertions = [{ audience = \"app\" }]\n",
            "identity_assertions needs [Hub] public_url",
        ),
        (
            "[Hub]\nauthenticator_class = \"dummy\"\n[[Hub.services]]\nname = \"app\"\noauth_redirect_uri = \"https://app.test/cb\"\nbackchannel_logout_uri = \"https://app.test/bcl\"\n",
            "backchannel_logout_uri, which needs [Hub] public_url",
        ),
    ] {
        let path = dir.path().join("hub.toml");
        std::fs::write(&path, text).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_hubauth"))
            .arg("check-config")
            .arg(&path)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{text}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{stderr}");
    }
}
