//! The provider mock framework: what every personality gets without writing it.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use hubauth_devidp::mock::{
    AuthorizationScheme, AuthorizeError, AuthorizeRequest, BasicEncoding, Client, ClientAuth,
    ClientAuthError, Clients, CodeError, Fault, Grants, Methods, Mock, MockServer,
    MockServerOptions, Personality, RsaSigner, guid_from, redeem_code, s256, unsigned_jwt,
};
use hubauth_devidp::{DevIdpError, ManualClock, REDACTED};
use serde_json::json;

/// A personality with two endpoints: `/hello` and a token endpoint that authenticates
/// its client.
#[derive(Debug)]
struct Tiny;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum TinyEndpoint {
    Hello,
    Token,
}

impl Personality for Tiny {
    type Endpoint = TinyEndpoint;
    type State = u32;
    const NAME: &'static str = "tiny";

    fn endpoint(&self, path: &str) -> Option<TinyEndpoint> {
        match path {
            "/hello" => Some(TinyEndpoint::Hello),
            "/token" => Some(TinyEndpoint::Token),
            _ => None,
        }
    }

    fn routes(&self) -> Router<Mock<Self>> {
        Router::new()
            .route("/hello", get(hello))
            .route("/token", post(token))
    }
}

async fn hello(State(mock): State<Mock<Tiny>>) -> String {
    let mut core = mock.lock();
    core.state += 1;
    format!("hello {} at {}", core.state, mock.now())
}

async fn token(
    State(mock): State<Mock<Tiny>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    match mock
        .lock()
        .clients
        .authenticate(&headers, &form, Methods::BOTH)
    {
        Ok((client, _)) => client.client_id.clone().into_response(),
        Err(err) => (StatusCode::UNAUTHORIZED, err.to_string()).into_response(),
    }
}

async fn tiny() -> MockServer<Tiny> {
    let options = MockServerOptions {
        clients: vec![Client::confidential(
            "app",
            "s3cret:+%",
            "http://127.0.0.1:9/cb",
        )],
        clock: Arc::new(ManualClock::at(1_000_000)),
        ..MockServerOptions::default()
    };
    MockServer::start(Tiny, 0, options).await.unwrap()
}

#[tokio::test]
async fn faults_outages_counts_and_the_clock_come_with_every_personality() {
    let mock = tiny().await;
    let http = reqwest::Client::new();
    let hello = format!("{}/hello", mock.origin());
    let get = |url: String| {
        let http = http.clone();
        async move {
            let response = http.get(url).send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    assert_eq!(get(hello.clone()).await, (200, "hello 1 at 1000000".into()));

    mock.fail_next(
        TinyEndpoint::Hello,
        Fault::Status(502, "bad gateway".into()),
    );
    mock.fail_next(TinyEndpoint::Hello, Fault::Garbage);
    assert_eq!(get(hello.clone()).await.0, 502);
    let (status, body) = get(hello.clone()).await;
    assert_eq!(status, 200);
    assert!(serde_json::from_str::<serde_json::Value>(&body).is_err());
    // A faulted request never reached the handler.
    mock.advance_clock(30);
    assert_eq!(get(hello.clone()).await, (200, "hello 2 at 1000030".into()));

    mock.set_down(TinyEndpoint::Hello, true);
    assert_eq!(get(hello.clone()).await.0, 503);
    mock.set_down(TinyEndpoint::Hello, false);
    assert_eq!(get(hello.clone()).await.0, 200);

    assert_eq!(mock.count(TinyEndpoint::Hello), 6);
    assert_eq!(mock.count(TinyEndpoint::Token), 0);
    assert_eq!(get(format!("{}/elsewhere", mock.origin())).await.0, 404);
    assert_eq!(mock.requests().len(), 7);
    assert_eq!(mock.lock().state, 3);
    mock.shutdown().await;
}

#[tokio::test]
async fn the_request_log_keeps_no_secret() {
    let mock = tiny().await;
    let http = reqwest::Client::new();
    let url = format!("{}/token", mock.origin());
    let response = http
        .post(&url)
        .basic_auth("app", Some("s3cret%3A%2B%25"))
        .form(&[("grant_type", "authorization_code"), ("code", "the-code")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "app");
    let response = http
        .post(&url)
        .form(&[("client_id", "app"), ("client_secret", "s3cret:+%")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "app");

    let log = mock.requests_to(TinyEndpoint::Token);
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].client_auth(), ClientAuth::Basic);
    assert_eq!(
        log[0].authorization,
        Some(AuthorizationScheme::Basic {
            client_id: Some("app".into())
        })
    );
    assert_eq!(log[0].form_value("code"), Some(REDACTED));
    assert_eq!(log[1].client_auth(), ClientAuth::Body);
    assert_eq!(log[1].form_value("client_secret"), Some(REDACTED));
    let debug = format!("{:?}", mock.requests());
    assert!(!debug.contains("s3cret") && !debug.contains("the-code"));
    mock.shutdown().await;
}

#[tokio::test]
async fn mocks_refuse_to_face_a_network_and_bad_clients() {
    let options = MockServerOptions {
        bind: "0.0.0.0:0".parse().unwrap(),
        ..MockServerOptions::default()
    };
    let err = MockServer::start(Tiny, 0, options).await.unwrap_err();
    assert!(matches!(err, DevIdpError::NotLoopback(_)), "{err}");
    let options = MockServerOptions {
        clients: vec![
            Client::public("app", "http://127.0.0.1/cb"),
            Client::public("app", "http://127.0.0.1/other"),
        ],
        ..MockServerOptions::default()
    };
    let err = MockServer::start(Tiny, 0, options).await.unwrap_err();
    assert!(err.to_string().contains("registered twice"), "{err}");
}

fn headers_with(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
    headers
}

fn basic(id: &str, secret: &str) -> HeaderMap {
    let pair = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    headers_with(&format!("Basic {pair}"))
}

#[test]
fn client_authentication_follows_rfc_6749() {
    let clients = Clients::new(vec![
        Client::confidential("app", "a b", "http://127.0.0.1/cb"),
        Client::public("spa", "http://127.0.0.1/cb"),
    ])
    .unwrap();
    let none = HashMap::new();
    let body = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    // Basic credentials are form-encoded: "a+b" is "a b".
    let (client, how) = clients
        .authenticate(&basic("app", "a+b"), &none, Methods::BOTH)
        .unwrap();
    assert_eq!((client.client_id.as_str(), how), ("app", ClientAuth::Basic));
    let form = body(&[("client_id", "app"), ("client_secret", "a b")]);
    assert!(
        clients
            .authenticate(&HeaderMap::new(), &form, Methods::BOTH)
            .is_ok()
    );
    let cases: Vec<(HeaderMap, HashMap<String, String>, Methods, ClientAuthError)> = vec![
        (
            HeaderMap::new(),
            none.clone(),
            Methods::BOTH,
            ClientAuthError::Missing,
        ),
        (
            HeaderMap::new(),
            form.clone(),
            Methods::BASIC,
            ClientAuthError::Missing,
        ),
        (
            basic("app", "a+b"),
            form.clone(),
            Methods::BOTH,
            ClientAuthError::SeveralMethods,
        ),
        (
            basic("app", "wrong"),
            none.clone(),
            Methods::BOTH,
            ClientAuthError::WrongSecret,
        ),
        (
            basic("who", "a+b"),
            none.clone(),
            Methods::BOTH,
            ClientAuthError::UnknownClient,
        ),
        (
            basic("spa", ""),
            none.clone(),
            Methods::BOTH,
            ClientAuthError::WrongSecret,
        ),
        (
            headers_with("Basic !!!"),
            none.clone(),
            Methods::BOTH,
            ClientAuthError::MalformedBasic,
        ),
        (
            headers_with(&format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("no-colon")
            )),
            none.clone(),
            Methods::BOTH,
            ClientAuthError::MalformedBasic,
        ),
    ];
    // A provider that reads Basic credentials raw (Globus) refuses the form-encoded
    // secret and takes the raw one.
    let raw = Methods::BOTH.with_basic_encoding(BasicEncoding::Raw);
    assert_eq!(
        clients
            .authenticate(&basic("app", "a+b"), &none, raw)
            .unwrap_err(),
        ClientAuthError::WrongSecret
    );
    assert!(
        clients
            .authenticate(&basic("app", "a b"), &none, raw)
            .is_ok()
    );
    for (headers, form, methods, expected) in cases {
        let err = clients.authenticate(&headers, &form, methods).unwrap_err();
        assert_eq!(err, expected, "{headers:?} {form:?}");
    }
}

fn request(pairs: &[(&str, &str)]) -> AuthorizeRequest {
    let params: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    AuthorizeRequest::from_params(&params)
}

#[test]
fn authorization_requests_are_checked_before_anything_redirects() {
    let clients = Clients::new(vec![
        Client::confidential("app", "s", "http://127.0.0.1/cb"),
        Client::public("spa", "http://127.0.0.1/cb"),
    ])
    .unwrap();
    let good = [
        ("client_id", "app"),
        ("redirect_uri", "http://127.0.0.1/cb"),
        ("response_type", "code"),
    ];
    assert!(request(&good).check(&clients).is_ok());
    let with = |extra: &[(&str, &str)]| {
        let mut pairs = good.to_vec();
        for (k, v) in extra {
            pairs.retain(|(key, _)| key != k);
            pairs.push((k, v));
        }
        request(&pairs).check(&clients).unwrap_err()
    };
    let err = with(&[("client_id", "nobody")]);
    assert!(!err.redirects());
    // Redirect URIs are compared as exact strings.
    for uri in [
        "http://127.0.0.1/cb/",
        "http://127.0.0.1/cb?x=1",
        "http://127.0.0.1:80/cb",
        "HTTP://127.0.0.1/cb",
    ] {
        let err = with(&[("redirect_uri", uri)]);
        assert_eq!(err, AuthorizeError::RedirectUriMismatch, "{uri}");
        assert!(!err.redirects());
    }
    let err = with(&[("response_type", "token")]);
    assert_eq!(
        (err.redirects(), err.code()),
        (true, "unsupported_response_type")
    );
    assert_eq!(
        with(&[("code_challenge", "abc")]),
        AuthorizeError::UnsupportedChallengeMethod
    );
    assert_eq!(
        with(&[
            ("code_challenge", "abc"),
            ("code_challenge_method", "plain")
        ]),
        AuthorizeError::UnsupportedChallengeMethod
    );
    assert_eq!(with(&[("client_id", "spa")]), AuthorizeError::PkceRequired);
}

#[test]
fn codes_are_redeemed_once_by_their_client_with_their_verifier() {
    let verifier = "a-verifier-of-enough-length-0123456789-abcdefgh";
    let issue = |codes: &mut Grants<_>, challenge: Option<String>| {
        let mut grant = request(&[
            ("client_id", "app"),
            ("redirect_uri", "http://127.0.0.1/cb"),
        ])
        .grant("alice", ());
        grant.code_challenge = challenge;
        codes.issue(grant, 1_060)
    };
    let mut codes = Grants::default();
    let redeem = |codes: &mut Grants<_>, code: &str, client, uri, verifier, now| {
        redeem_code(codes, code, client, uri, verifier, now).map(|g| g.user)
    };
    let cb = Some("http://127.0.0.1/cb");

    let code = issue(&mut codes, Some(s256(verifier)));
    assert_eq!(
        redeem(&mut codes, &code, "app", cb, Some(verifier), 1_000),
        Ok("alice".to_owned())
    );
    assert_eq!(
        redeem(&mut codes, &code, "app", cb, Some(verifier), 1_000),
        Err(CodeError::Unknown),
        "a replay"
    );
    let cases = [
        ("other", cb, Some(verifier), 1_000, CodeError::OtherClient),
        (
            "app",
            None,
            Some(verifier),
            1_000,
            CodeError::RedirectUriMismatch,
        ),
        (
            "app",
            Some("http://127.0.0.1/cb/"),
            Some(verifier),
            1_000,
            CodeError::RedirectUriMismatch,
        ),
        ("app", cb, None, 1_000, CodeError::PkceFailed),
        (
            "app",
            cb,
            Some("another-verifier"),
            1_000,
            CodeError::PkceFailed,
        ),
        ("app", cb, Some(verifier), 1_060, CodeError::Unknown),
    ];
    for (client, uri, presented, now, expected) in cases {
        let code = issue(&mut codes, Some(s256(verifier)));
        assert_eq!(
            redeem(&mut codes, &code, client, uri, presented, now),
            Err(expected)
        );
        // Whatever went wrong, the code is gone.
        assert_eq!(
            redeem(&mut codes, &code, "app", cb, Some(verifier), 1_000),
            Err(CodeError::Unknown)
        );
    }
    // A verifier without a challenge is refused too (RFC 9700 2.1.1: no downgrade).
    let code = issue(&mut codes, None);
    assert_eq!(
        redeem(&mut codes, &code, "app", cb, Some(verifier), 1_000),
        Err(CodeError::PkceFailed)
    );
}

#[test]
fn grants_expire_and_revoke_but_are_remembered() {
    let mut grants = Grants::default();
    let a = grants.issue("a", 100);
    let b = grants.issue("b", 200);
    assert_eq!(grants.get(&a, 99), Some(&"a"));
    assert_eq!(grants.get(&a, 100), None);
    assert!(grants.is_expired(&a, 100));
    assert!(!grants.is_expired("unknown", 100));
    assert!(grants.revoke(&b, 150));
    assert!(!grants.revoke(&b, 150));
    assert_eq!(grants.get(&b, 150), None);
    assert!(!grants.is_expired(&b, 300), "revoked, not expired");
    assert_eq!(grants.live(0).count(), 1);
    assert_eq!(grants.all().count(), 2);
    grants.expire_all(50);
    assert_eq!(grants.live(50).count(), 0);
    assert_eq!(grants.take(&a, 10), Some("a"));
    assert_eq!(grants.take(&a, 10), None);
}

#[test]
fn guids_are_stable_and_shaped_like_version_4() {
    let id = guid_from("alice@example.org");
    assert_eq!(id, guid_from("alice@example.org"));
    assert_ne!(id, guid_from("bob@example.org"));
    let parts: Vec<&str> = id.split('-').collect();
    assert_eq!(
        parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12]
    );
    assert!(parts[2].starts_with('4'));
    assert!(matches!(
        parts[3].chars().next(),
        Some('8' | '9' | 'a' | 'b')
    ));
}

#[tokio::test]
async fn rsa_signatures_verify_and_forgeries_do_not() {
    let signer = RsaSigner::shared().await.unwrap();
    let claims = json!({"iss": "https://issuer.example", "sub": "alice"});
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(signer.jwk().clone()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    let good = signer.sign(&claims).unwrap();
    let decoded = jsonwebtoken::decode::<serde_json::Value>(&good, &key, &validation).unwrap();
    assert_eq!(decoded.claims["sub"], "alice");
    assert_eq!(decoded.header.kid.as_deref(), Some(signer.kid()));
    let forged = signer.forge(&claims).unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(&forged).unwrap().kid.as_deref(),
        Some(signer.kid())
    );
    assert!(jsonwebtoken::decode::<serde_json::Value>(&forged, &key, &validation).is_err());
    let unsigned = unsigned_jwt(&claims);
    assert!(unsigned.ends_with('.'));
    assert!(jsonwebtoken::decode::<serde_json::Value>(&unsigned, &key, &validation).is_err());
    // One key pair per process.
    assert!(Arc::ptr_eq(&signer, &RsaSigner::shared().await.unwrap()));
}
