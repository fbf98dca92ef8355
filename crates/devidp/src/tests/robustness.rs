//! Property tests: any request to any endpoint gets a 2xx, 3xx or 4xx answer, never a
//! 5xx or a panic. Driven through the router without a socket.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::*;
use hubauth_devidp::{Endpoint, RunningIdp};
use proptest::prelude::*;
use tower::ServiceExt;

const NAMES: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "login_hint",
    "response_mode",
    "request",
    "request_uri",
    "grant_type",
    "code",
    "code_verifier",
    "refresh_token",
    "client_secret",
    "access_token",
    "id_token_hint",
    "post_logout_redirect_uri",
    "devidp_action",
    "devidp_username",
    "devidp_password",
];

/// Values a fuzzer would not guess: real client ids, codes, tokens, verifiers.
struct Pool {
    values: Vec<String>,
    cookie_name: String,
    session: String,
}

async fn send(idp: &RunningIdp, req: Request<Body>) -> axum::response::Response {
    idp.router().oneshot(req).await.unwrap()
}

/// Runs a few real flows through the router to collect valid values.
async fn seed(idp: &RunningIdp) -> Pool {
    let mut values: Vec<String> = [
        CLIENT,
        PUBLIC_CLIENT,
        REDIRECT,
        LOGOUT_REDIRECT,
        "code",
        "token",
        "S256",
        "plain",
        "openid",
        "openid profile email groups",
        "none",
        "login",
        "authorization_code",
        "refresh_token",
        "login",
        "deny",
        "alice",
        "alice-pw",
        SECRET,
        "0",
        "-1",
        "99999999999999999999999",
        "%zz",
        "",
        "\u{0}",
        "é\u{202e}",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for _ in 0..4 {
        let pkce = pkce();
        values.push(pkce.verifier.clone());
        values.push(pkce.challenge.clone());
        let url = authorize_url(idp, &auth_params(CLIENT, &pkce));
        let path = url.split_once(idp.issuer()).unwrap().1.to_owned();
        let resp = send(idp, Request::get(path).body(Body::empty()).unwrap()).await;
        let location = resp.headers()["location"].to_str().unwrap();
        let code = url::Url::parse(location)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .into_owned();
        values.push(code.clone());
        let form = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &pkce.verifier),
            ])
            .finish();
        let resp = send(
            idp,
            Request::post("/token")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("authorization", basic(CLIENT, SECRET))
                .body(Body::from(form))
                .unwrap(),
        )
        .await;
        assert_eq!(resp.status(), 200);
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        let tokens: serde_json::Value = serde_json::from_slice(&body).unwrap();
        for name in ["access_token", "refresh_token", "id_token"] {
            values.push(tokens[name].as_str().unwrap().to_owned());
        }
    }
    Pool {
        values,
        cookie_name: idp.session_cookie_name().to_owned(),
        session: "not-a-session".to_owned(),
    }
}

fn value_strategy(pool: &[String]) -> impl Strategy<Value = String> {
    let pool = pool.to_vec();
    prop_oneof![
        3 => prop::sample::select(pool),
        2 => "[ -~]{0,40}",
        1 => any::<String>(),
        1 => "[A-Za-z0-9_~.-]{40,130}",
    ]
}

fn encode(pairs: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

#[derive(Debug, Clone)]
enum Auth {
    /// What the template would send (valid Basic for token requests, the access token as
    /// Bearer for userinfo, nothing otherwise).
    Natural,
    None,
    Basic(String, String),
    RawBasic(Vec<u8>),
    Bearer(String),
    Junk(String),
}

fn auth_strategy(pool: &[String]) -> impl Strategy<Value = Auth> {
    prop_oneof![
        6 => Just(Auth::Natural),
        2 => Just(Auth::None),
        2 => (value_strategy(pool), value_strategy(pool)).prop_map(|(a, b)| Auth::Basic(a, b)),
        1 => prop::collection::vec(any::<u8>(), 0..40).prop_map(Auth::RawBasic),
        2 => value_strategy(pool).prop_map(Auth::Bearer),
        1 => "[ -~]{0,30}".prop_map(Auth::Junk),
    ]
}

/// A valid request to start from; the case then mutates it.
#[derive(Debug, Clone, Copy)]
enum Template {
    Authorize,
    AuthorizePublic,
    LoginForm,
    TokenCode,
    TokenRefresh,
    Userinfo,
    Logout,
    Other(Endpoint),
    RandomPath,
}

/// One change to a template's parameters.
#[derive(Debug, Clone)]
enum Op {
    Drop(usize),
    Replace(usize, String),
    Duplicate(usize),
    Add(String, String),
}

#[derive(Debug, Clone)]
struct Case {
    template: Template,
    method: Option<Method>,
    ops: Vec<Op>,
    params_in_query: bool,
    raw_path: String,
    raw_query: Option<String>,
    raw_body: Option<Vec<u8>>,
    // Not sent, sent without a value, or sent with one.
    #[allow(clippy::option_option)]
    content_type: Option<Option<&'static str>>,
    auth: Auth,
    cookie: u8,
}

fn op_strategy(pool: &[String]) -> impl Strategy<Value = Op> {
    let name = prop_oneof![
        4 => prop::sample::select(NAMES).prop_map(str::to_owned),
        1 => "[a-z_]{0,12}",
    ];
    prop_oneof![
        2 => (0usize..12).prop_map(Op::Drop),
        3 => (0usize..12, value_strategy(pool)).prop_map(|(i, v)| Op::Replace(i, v)),
        1 => (0usize..12).prop_map(Op::Duplicate),
        2 => (name, value_strategy(pool)).prop_map(|(n, v)| Op::Add(n, v)),
    ]
}

fn case_strategy(pool: &[String]) -> impl Strategy<Value = Case> {
    let template = prop_oneof![
        3 => Just(Template::Authorize),
        1 => Just(Template::AuthorizePublic),
        2 => Just(Template::LoginForm),
        3 => Just(Template::TokenCode),
        2 => Just(Template::TokenRefresh),
        2 => Just(Template::Userinfo),
        2 => Just(Template::Logout),
        1 => prop::sample::select(Endpoint::ALL.to_vec()).prop_map(Template::Other),
        1 => Just(Template::RandomPath),
    ];
    let method = prop_oneof![
        8 => Just(None),
        1 => prop::sample::select(vec![
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::HEAD,
            Method::OPTIONS,
        ])
        .prop_map(Some),
    ];
    let content_type = prop_oneof![
        6 => Just(None),
        1 => prop::sample::select(vec![
            Some("application/x-www-form-urlencoded; charset=UTF-8"),
            Some("APPLICATION/X-WWW-FORM-URLENCODED"),
            Some("application/json"),
            Some("text/plain"),
            None,
        ])
        .prop_map(Some),
    ];
    (
        (
            template,
            method,
            prop::collection::vec(op_strategy(pool), 0..4),
        ),
        (any::<bool>(), "/[a-z./%0-9]{0,20}"),
        (
            prop::option::weighted(0.08, "[!-~]{0,60}"),
            prop::option::weighted(0.08, prop::collection::vec(any::<u8>(), 0..200)),
            content_type,
        ),
        auth_strategy(pool),
        0u8..4,
    )
        .prop_map(
            |(
                (template, method, ops),
                (params_in_query, raw_path),
                (raw_query, raw_body, content_type),
                auth,
                cookie,
            )| Case {
                template,
                method,
                ops,
                params_in_query,
                raw_path,
                raw_query,
                raw_body,
                content_type,
                auth,
                cookie,
            },
        )
}

/// A fresh code for the confidential client (auto-approve must be on), with its verifier.
async fn mint_code(idp: &RunningIdp, pkce: &Pkce) -> Option<String> {
    let url = authorize_url(idp, &auth_params(CLIENT, pkce));
    let path = url.split_once(idp.issuer())?.1.to_owned();
    let resp = send(idp, Request::get(path).body(Body::empty()).ok()?).await;
    let location = resp.headers().get("location")?.to_str().ok()?;
    url::Url::parse(location)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
}

async fn mint_tokens(idp: &RunningIdp) -> Option<serde_json::Value> {
    let pkce = pkce();
    let code = mint_code(idp, &pkce).await?;
    let form = encode(&[
        ("grant_type".into(), "authorization_code".into()),
        ("code".into(), code),
        ("redirect_uri".into(), REDIRECT.into()),
        ("code_verifier".into(), pkce.verifier.clone()),
    ]);
    let resp = send(
        idp,
        Request::post("/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("authorization", basic(CLIENT, SECRET))
            .body(Body::from(form))
            .ok()?,
    )
    .await;
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20).await.ok()?;
    serde_json::from_slice(&body).ok()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

async fn build(idp: &RunningIdp, case: &Case, pool: &Pool) -> Option<Request<Body>> {
    let pick = |i: usize| {
        pool.values
            .get(i % pool.values.len())
            .cloned()
            .unwrap_or_default()
    };
    let pkce = pkce();
    let (method, path, mut params, natural_auth) = match case.template {
        Template::Authorize | Template::AuthorizePublic | Template::LoginForm => {
            let client = if matches!(case.template, Template::AuthorizePublic) {
                PUBLIC_CLIENT
            } else {
                CLIENT
            };
            let mut params = auth_params(client, &pkce);
            let method = if matches!(case.template, Template::LoginForm) {
                params.extend(pairs(&[
                    ("devidp_username", "alice"),
                    ("devidp_password", "alice-pw"),
                    ("devidp_action", "login"),
                ]));
                Method::POST
            } else {
                Method::GET
            };
            (method, Endpoint::Authorize.path().to_owned(), params, None)
        }
        Template::TokenCode => {
            let code = match mint_code(idp, &pkce).await {
                Some(code) => code,
                None => pick(case.ops.len() * 7 + 3),
            };
            let params = pairs(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &pkce.verifier),
            ]);
            (
                Method::POST,
                "/token".to_owned(),
                params,
                Some(basic(CLIENT, SECRET)),
            )
        }
        Template::TokenRefresh => {
            let refresh = match mint_tokens(idp).await {
                Some(tokens) => tokens["refresh_token"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                None => pick(case.ops.len() * 5 + 1),
            };
            let params = pairs(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)]);
            (
                Method::POST,
                "/token".to_owned(),
                params,
                Some(basic(CLIENT, SECRET)),
            )
        }
        Template::Userinfo => {
            let access = match mint_tokens(idp).await {
                Some(tokens) => tokens["access_token"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                None => pick(case.ops.len() * 3 + 2),
            };
            (
                Method::GET,
                "/userinfo".to_owned(),
                Vec::new(),
                Some(format!("Bearer {access}")),
            )
        }
        Template::Logout => {
            let hint = match mint_tokens(idp).await {
                Some(tokens) => tokens["id_token"].as_str().unwrap_or_default().to_owned(),
                None => pick(case.ops.len() * 11 + 4),
            };
            let params = pairs(&[
                ("id_token_hint", &hint),
                ("post_logout_redirect_uri", LOGOUT_REDIRECT),
                ("state", "s"),
                ("client_id", CLIENT),
            ]);
            (Method::GET, "/logout".to_owned(), params, None)
        }
        Template::Other(endpoint) => (Method::GET, endpoint.path().to_owned(), Vec::new(), None),
        Template::RandomPath => (Method::GET, case.raw_path.clone(), Vec::new(), None),
    };
    for op in &case.ops {
        let len = params.len().max(1);
        match op {
            Op::Drop(i) => {
                if !params.is_empty() {
                    params.remove(i % len);
                }
            }
            Op::Replace(i, value) => {
                if let Some(pair) = params.get_mut(i % len) {
                    pair.1.clone_from(value);
                }
            }
            Op::Duplicate(i) => {
                if let Some(pair) = params.get(i % len).cloned() {
                    params.push(pair);
                }
            }
            Op::Add(name, value) => params.push((name.clone(), value.clone())),
        }
    }
    let method = case.method.clone().unwrap_or(method);
    let in_query = method != Method::POST || case.params_in_query;
    let encoded = encode(&params);
    let query = case.raw_query.clone().unwrap_or_else(|| {
        if in_query {
            encoded.clone()
        } else {
            String::new()
        }
    });
    let uri = if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    };
    let mut req = Request::builder().method(method.clone()).uri(uri);
    let content_type = case.content_type.unwrap_or(if method == Method::POST {
        Some("application/x-www-form-urlencoded")
    } else {
        None
    });
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    match &case.auth {
        Auth::Natural => {
            if let Some(auth) = natural_auth {
                req = req.header("authorization", auth);
            }
        }
        Auth::None => {}
        Auth::Basic(id, secret) => req = req.header("authorization", basic(id, secret)),
        Auth::RawBasic(bytes) => {
            req = req.header("authorization", format!("Basic {}", STANDARD.encode(bytes)));
        }
        Auth::Bearer(token) => req = req.header("authorization", format!("Bearer {token}")),
        Auth::Junk(text) => req = req.header("authorization", text.as_str()),
    }
    match case.cookie {
        1 => req = req.header("cookie", format!("{}={}", pool.cookie_name, pool.session)),
        2 => req = req.header("cookie", format!("a=b; {}=\"x\"; ;=;", pool.cookie_name)),
        _ => {}
    }
    let body = case.raw_body.clone().unwrap_or_else(|| {
        if in_query {
            Vec::new()
        } else {
            encoded.into_bytes()
        }
    });
    req.body(Body::from(body)).ok()
}

#[test]
fn no_request_gets_a_server_error() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let idp = rt
        .block_on(builder().auto_approve(Some("alice".into())).start())
        .unwrap();
    let mut pool = rt.block_on(seed(&idp));
    let config = ProptestConfig {
        cases: 1500,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(case in case_strategy(&pool.values))| {
        if let Some(req) = rt.block_on(build(&idp, &case, &pool)) {
            let status = rt.block_on(send(&idp, req)).status();
            prop_assert!(
                status.is_success() || status.is_redirection() || status.is_client_error(),
                "{status} for {case:?}"
            );
        }
    });

    // Without auto-approve: the login form, with a real provider session in the pool.
    idp.set_auto_approve(None).unwrap();
    pool.session = rt.block_on(async {
        let form = encode(&{
            let mut p = auth_params(CLIENT, &pkce());
            p.extend(pairs(&[
                ("devidp_username", "alice"),
                ("devidp_password", "alice-pw"),
                ("devidp_action", "login"),
            ]));
            p
        });
        let resp = send(
            &idp,
            Request::post("/authorize")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(form))
                .unwrap(),
        )
        .await;
        let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
        cookie
            .split(';')
            .next()
            .unwrap()
            .split_once('=')
            .unwrap()
            .1
            .to_owned()
    });
    let config = ProptestConfig {
        cases: 600,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(case in case_strategy(&pool.values))| {
        if let Some(req) = rt.block_on(build(&idp, &case, &pool)) {
            let status = rt.block_on(send(&idp, req)).status();
            prop_assert!(status.as_u16() < 500, "{status} for {case:?}");
        }
    });
    rt.block_on(idp.shutdown());
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let idp = start().await;
    let big = vec![b'a'; 200 * 1024];
    let resp = send(
        &idp,
        Request::post("/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(big))
            .unwrap(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    idp.shutdown().await;
}
