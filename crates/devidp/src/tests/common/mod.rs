//! Helpers shared by the integration tests: a relying party written by hand over reqwest.
#![allow(dead_code)]

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hubauth_devidp::{Client, DevIdp, DevIdpBuilder, DevUser, RunningIdp};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rand::RngCore;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub(super) const REDIRECT: &str = "http://127.0.0.1:9/hub/oauth_callback";
pub(super) const LOGOUT_REDIRECT: &str = "http://127.0.0.1:9/hub/logged-out";
pub(super) const CLIENT: &str = "hub";
/// A secret with characters that RFC 6749 2.3.1 form-encoding changes.
pub(super) const SECRET: &str = "s3cr3t:+/ &%=";
pub(super) const PUBLIC_CLIENT: &str = "spa";

pub(super) fn alice() -> DevUser {
    DevUser::new("alice", "alice-pw")
        .claim("name", "Alice Liddell")
        .claim("preferred_username", "alice")
        .claim("email", "alice@example.org")
        .claim("email_verified", true)
        .claim("groups", json!(["staff", "wonderland"]))
        .claim("org", json!({"unit": {"name": "research"}, "level": 3}))
}

pub(super) fn bob() -> DevUser {
    DevUser::new("bob", "bob-pw").claim("groups", json!(["students"]))
}

/// A builder with a confidential client `hub`, a public PKCE client `spa`, alice and bob.
pub(super) fn builder() -> DevIdpBuilder {
    DevIdp::builder()
        .client(
            Client::confidential(CLIENT, SECRET, REDIRECT)
                .with_post_logout_redirect_uri(LOGOUT_REDIRECT),
        )
        .client(Client::public(PUBLIC_CLIENT, REDIRECT))
        .user(alice())
        .user(bob())
}

pub(super) async fn start() -> RunningIdp {
    builder().start().await.unwrap()
}

/// A browser-like client: cookie store, no automatic redirects.
pub(super) fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub(super) struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

pub(super) fn pkce() -> Pkce {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let verifier = URL_SAFE_NO_PAD.encode(bytes);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    Pkce {
        verifier,
        challenge,
    }
}

/// Authorization request parameters for `client_id`, with state, nonce and PKCE S256.
pub(super) fn auth_params(client_id: &str, pkce: &Pkce) -> Vec<(String, String)> {
    vec![
        ("response_type".into(), "code".into()),
        ("client_id".into(), client_id.into()),
        ("redirect_uri".into(), REDIRECT.into()),
        ("scope".into(), "openid profile email groups".into()),
        ("state".into(), "st-&=é 1".into()),
        ("nonce".into(), "n-0S6_WzA2Mj".into()),
        ("code_challenge".into(), pkce.challenge.clone()),
        ("code_challenge_method".into(), "S256".into()),
    ]
}

pub(super) fn authorize_url(idp: &RunningIdp, params: &[(String, String)]) -> String {
    let mut url = url::Url::parse(&idp.url("/authorize")).unwrap();
    url.query_pairs_mut().extend_pairs(params);
    url.into()
}

pub(super) fn set(params: &mut Vec<(String, String)>, name: &str, value: Option<&str>) {
    params.retain(|(k, _)| k != name);
    if let Some(value) = value {
        params.push((name.into(), value.into()));
    }
}

/// The query parameters of a redirect's Location.
pub(super) fn location(resp: &reqwest::Response) -> (String, HashMap<String, String>) {
    assert!(
        resp.status().is_redirection(),
        "expected a redirect, got {}",
        resp.status()
    );
    let loc = resp.headers()["location"].to_str().unwrap().to_owned();
    let url = url::Url::parse(&loc).unwrap();
    let params = url.query_pairs().into_owned().collect();
    let mut base = url.clone();
    base.set_query(None);
    (base.to_string(), params)
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The hidden inputs and the form action of the login page.
pub(super) fn parse_form(html: &str) -> (String, Vec<(String, String)>) {
    let action = html
        .split("<form method=\"post\" action=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(unescape)
        .expect("login form");
    let mut fields = Vec::new();
    for chunk in html.split("<input type=\"hidden\" name=\"").skip(1) {
        let (name, rest) = chunk.split_once("\" value=\"").unwrap();
        let value = rest.split('"').next().unwrap();
        fields.push((unescape(name), unescape(value)));
    }
    (action, fields)
}

/// Opens the authorize URL, expects the login form, submits it. Returns the response to
/// the form POST.
pub(super) async fn submit_login(
    http: &reqwest::Client,
    idp: &RunningIdp,
    url: &str,
    username: &str,
    password: &str,
    action: &str,
) -> reqwest::Response {
    let page = http.get(url).send().await.unwrap();
    assert_eq!(page.status(), 200, "expected the login form");
    let html = page.text().await.unwrap();
    assert!(html.contains("devidp_password"));
    let (form_action, mut fields) = parse_form(&html);
    fields.push(("devidp_username".into(), username.into()));
    fields.push(("devidp_password".into(), password.into()));
    fields.push(("devidp_action".into(), action.into()));
    let target = format!("http://{}{}", idp.addr(), form_action);
    http.post(target).form(&fields).send().await.unwrap()
}

/// Logs in through the form and returns the code (checking state and iss).
pub(super) async fn login_code(
    http: &reqwest::Client,
    idp: &RunningIdp,
    params: &[(String, String)],
    username: &str,
    password: &str,
) -> String {
    let url = authorize_url(idp, params);
    let resp = submit_login(http, idp, &url, username, password, "login").await;
    assert_eq!(resp.status(), 303);
    let (base, query) = location(&resp);
    assert_eq!(base, REDIRECT);
    let state = params.iter().find(|(k, _)| k == "state").map(|(_, v)| v);
    assert_eq!(query.get("state"), state);
    assert_eq!(query.get("iss").map(String::as_str), Some(idp.issuer()));
    query["code"].clone()
}

/// HTTP Basic credentials, form-encoded first as RFC 6749 2.3.1 says.
pub(super) fn basic(id: &str, secret: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
    )
}

pub(super) async fn token_request(
    idp: &RunningIdp,
    auth: Option<&str>,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let http = reqwest::Client::new();
    let mut req = http.post(idp.url("/token")).form(form);
    if let Some(auth) = auth {
        req = req.header("authorization", auth);
    }
    req.send().await.unwrap()
}

/// Exchanges a code with Basic authentication for the confidential client.
pub(super) async fn exchange(idp: &RunningIdp, code: &str, verifier: &str) -> reqwest::Response {
    token_request(
        idp,
        Some(&basic(CLIENT, SECRET)),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .await
}

pub(super) async fn ok_json(resp: reqwest::Response) -> Value {
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(status, 200, "body: {text}");
    serde_json::from_str(&text).unwrap()
}

/// Asserts an RFC 6749 5.2 error response and returns its `error`.
pub(super) async fn oauth_error(resp: reqwest::Response, status: u16) -> String {
    assert_eq!(resp.status(), status);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: Value = resp.json().await.unwrap();
    assert!(body["error_description"].is_string());
    body["error"].as_str().unwrap().to_owned()
}

/// A full login for the confidential client via the form; returns the token response.
pub(super) async fn full_login(idp: &RunningIdp) -> Value {
    let http = browser();
    let pkce = pkce();
    let params = auth_params(CLIENT, &pkce);
    let code = login_code(&http, idp, &params, "alice", "alice-pw").await;
    ok_json(exchange(idp, &code, &pkce.verifier).await).await
}

pub(super) async fn jwks(idp: &RunningIdp) -> JwkSet {
    reqwest::get(idp.url("/jwks"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Verifies an ID token the way a relying party must (signature from the JWKS, iss, aud,
/// exp) and checks the nonce.
pub(super) async fn verify_id_token(
    idp: &RunningIdp,
    token: &str,
    client_id: &str,
    nonce: Option<&str>,
) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| format!("header: {e}"))?;
    if header.alg != Algorithm::ES256 {
        return Err(format!("alg {:?}", header.alg));
    }
    let kid = header.kid.ok_or("no kid")?;
    let set = jwks(idp).await;
    let jwk = set.find(&kid).ok_or("unknown kid")?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&[client_id]);
    validation.set_issuer(&[idp.issuer()]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    let data = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map_err(|e| format!("{:?}", e.kind()))?;
    let claims = data.claims;
    if claims.get("nonce").and_then(Value::as_str) != nonce {
        return Err(format!("nonce {:?}", claims.get("nonce")));
    }
    Ok(claims)
}

/// The `at_hash` of an access token for an ES256 ID token (OIDC Core 3.1.3.6).
pub(super) fn at_hash_of(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(&Sha256::digest(access_token.as_bytes())[..16])
}

/// The unverified payload of a JWT.
pub(super) fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// The unverified header of a JWT.
pub(super) fn header(token: &str) -> Value {
    let part = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}
