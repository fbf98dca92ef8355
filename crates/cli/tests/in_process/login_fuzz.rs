//! Property test: whatever a client sends to the login endpoint, the hub answers with
//! 200, 302, 400 or 403 — never a 5xx, never a panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::body::Body;
use axum::http::{Request, header};
use proptest::prelude::*;
use tower::ServiceExt;

const CONFIG: &str = "[Authenticator]\nblocked_users = [\"mallory\"]\nusername_pattern = \"[a-z0-9._-]{1,40}\"\nusername_map = { \"root\" = \"admin\" }\nadmin_users = [\"admin\"]\n[DummyAuthenticator]\npassword = \"correct horse\"\n";

fn allowed(status: u16) -> bool {
    matches!(status, 200 | 302 | 400 | 403)
}

struct Fixture {
    runtime: tokio::runtime::Runtime,
    hub: hubauth_testkit::hub::TestHub,
    xsrf_cookie: String,
    xsrf_token: String,
}

fn fixture() -> Fixture {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let hub = runtime.block_on(hubauth_testkit::hub::start_hub("", CONFIG, &[]));
    let xsrf_cookie = hubauth_server::csrf::mint_cookie_value(&hub.hub.state().secret);
    let xsrf_token = hubauth_server::csrf::form_token(&hub.hub.state().secret, &xsrf_cookie);
    Fixture {
        runtime,
        hub,
        xsrf_cookie,
        xsrf_token,
    }
}

fn post(fixture: &Fixture, body: Vec<u8>, content_type: &str, with_cookie: bool) -> u16 {
    let mut request = Request::post("/hub/login").header(header::CONTENT_TYPE, content_type);
    if with_cookie {
        request = request.header(header::COOKIE, format!("_xsrf={}", fixture.xsrf_cookie));
    }
    let request = request.body(Body::from(body)).unwrap();
    let router = fixture.hub.hub.router();
    fixture
        .runtime
        .block_on(router.oneshot(request))
        .unwrap()
        .status()
        .as_u16()
}

fn form(fields: &[(&str, &str)]) -> Vec<u8> {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
        .into_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    #[test]
    fn random_credentials(username in any::<String>(), password in any::<String>(), otp in proptest::option::of(any::<String>())) {
        let fixture = fixture_once();
        let mut fields = vec![("_xsrf", fixture.xsrf_token.as_str()), ("username", username.as_str()), ("password", password.as_str())];
        if let Some(otp) = otp.as_deref() {
            fields.push(("otp", otp));
        }
        let status = post(fixture, form(&fields), "application/x-www-form-urlencoded", true);
        prop_assert!(allowed(status), "status {status} for {username:?}");
    }

    #[test]
    fn plausible_usernames(username in "[ -~]{0,64}", right in any::<bool>()) {
        let fixture = fixture_once();
        let password = if right { "correct horse" } else { "wrong" };
        let status = post(fixture, form(&[("_xsrf", &fixture.xsrf_token), ("username", &username), ("password", password)]), "application/x-www-form-urlencoded", true);
        prop_assert!(allowed(status), "status {status} for {username:?}");
    }

    #[test]
    fn random_bodies(body in proptest::collection::vec(any::<u8>(), 0..2048), with_cookie in any::<bool>(), content_type in prop_oneof![Just("application/x-www-form-urlencoded"), Just("multipart/form-data"), Just("application/json"), Just("text/plain; charset=\u{fffd}")]) {
        let fixture = fixture_once();
        let status = post(fixture, body, content_type, with_cookie);
        prop_assert!(allowed(status), "status {status}");
    }
}

fn fixture_once() -> &'static Fixture {
    static FIXTURE: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    FIXTURE.get_or_init(fixture)
}

#[test]
fn oversized_body_is_refused_cleanly() {
    let fixture = fixture_once();
    let body = vec![b'a'; 1024 * 1024];
    let status = post(fixture, body, "application/x-www-form-urlencoded", true);
    assert_eq!(status, 413);
}

#[test]
fn the_fixture_reaches_the_pipeline() {
    let fixture = fixture_once();
    let ok = post(
        fixture,
        form(&[
            ("_xsrf", &fixture.xsrf_token),
            ("username", "ann"),
            ("password", "correct horse"),
        ]),
        "application/x-www-form-urlencoded",
        true,
    );
    assert_eq!(ok, 302);
    let wrong = post(
        fixture,
        form(&[
            ("_xsrf", &fixture.xsrf_token),
            ("username", "ann"),
            ("password", "nope"),
        ]),
        "application/x-www-form-urlencoded",
        true,
    );
    assert_eq!(wrong, 403);
}
