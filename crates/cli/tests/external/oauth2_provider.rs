//! The hub as OAuth 2.0 / OpenID Connect provider for registered services, over loopback
//! HTTP: the authorization code flow with PKCE, both client authentication methods,
//! refresh tokens, ID tokens verified against the published JWKS, the userinfo endpoint,
//! and every failure a provider must refuse (unknown client, unregistered redirect URI,
//! wrong secret, replayed and expired codes, wrong PKCE verifier).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_testkit::on_both_backends;

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use hubauth_testkit::hub::*;
use serde_json::Value;

const APP_SECRET: &str = "app-secret-0123456789abcdef";
const APP_CB: &str = "http://127.0.0.1:9/app/callback";
const SPA_CB: &str = "http://localhost:9/spa/callback";
const OTHER_SECRET: &str = "other-secret-0123456789abcdef";
const OTHER_CB: &str = "https://other.example/callback";
/// A client secret with the characters RFC 6749 section 2.3.1 says to form-encode in
/// HTTP Basic, which widely used client libraries send raw.
const ODD_SECRET: &str = "odd secret+with%2F:colon-0123";

fn services() -> String {
    format!(
        r#"
[[Hub.services]]
name = "app"
api_token = "{APP_SECRET}"
oauth_redirect_uri = ["{APP_CB}", "http://127.0.0.1:9/app/second"]
oauth_client_allowed_scopes = ["custom:read"]
oauth_no_confirm = true

[[Hub.services]]
name = "spa"
oauth_client_id = "spa-client"
oauth_redirect_uri = "{SPA_CB}"
oauth_no_confirm = true

[[Hub.services]]
name = "other"
api_token_env = "OTHER_SECRET"
oauth_redirect_uri = "{OTHER_CB}"

[[Hub.services]]
name = "es-app"
api_token = "{APP_SECRET}"
oauth_redirect_uri = "{APP_CB}"
oauth_no_confirm = true
oauth_id_token_signed_response_alg = "ES256"

[[Hub.services]]
name = "odd"
api_token = "{ODD_SECRET}"
oauth_redirect_uri = "{APP_CB}"
oauth_no_confirm = true

[Authenticator]
admin_users = ["ada"]
"#
    )
}

struct Provider {
    hub: TestHub,
    clock: Arc<hubauth_server::ManualClock>,
}

async fn provider(rest: &str) -> Provider {
    provider_with("", rest).await
}

async fn provider_with(hub_extra: &str, rest: &str) -> Provider {
    let clock = Arc::new(hubauth_server::ManualClock::at(1_800_000_000));
    let hub = start_hub_with(HubOptions {
        dir: tempfile::TempDir::new().unwrap(),
        listener: None,
        hub_extra,
        rest: &format!("{}\n{rest}", services()),
        env: &[("OTHER_SECRET", OTHER_SECRET)],
        clock: Some(clock.clone()),
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
    Provider { hub, clock }
}

/// A browser logged in as `name`.
async fn browser(hub: &TestHub, name: &str) -> reqwest::Client {
    let client = client();
    let response = login(&client, hub, name, "pw", None).await;
    assert_eq!(response.status(), 302, "login of {name}");
    client
}

fn authorize_url(hub: &TestHub, params: &[(&str, &str)]) -> String {
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect();
    format!("{}api/oauth2/authorize?{}", hub.hub_url, query.join("&"))
}

/// The query of a redirect to a client.
fn redirect_params(location: &str, expected_base: &str) -> HashMap<String, String> {
    assert!(
        location.starts_with(&format!("{expected_base}?")),
        "redirect {location} is not to {expected_base}"
    );
    let url = url::Url::parse(location).unwrap();
    url.query_pairs().into_owned().collect()
}

fn pkce_pair() -> (String, String) {
    use sha2::Digest;
    let verifier = "a-verifier-that-is-long-enough-for-pkce-0123456789".to_owned();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// Logs `ada` in and runs the authorize step; returns the code.
async fn code_for(
    hub: &TestHub,
    browser: &reqwest::Client,
    client_id: &str,
    redirect_uri: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("state", "st-123"),
    ];
    params.extend_from_slice(extra);
    let response = browser
        .get(authorize_url(hub, &params))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let query = redirect_params(&location(&response), redirect_uri);
    assert_eq!(query["state"], "st-123");
    assert_eq!(
        query["iss"], hub.origin,
        "RFC 9207 iss parameter is the issuer"
    );
    query
        .get("code")
        .cloned()
        .unwrap_or_else(|| panic!("no code in {query:?}"))
}

async fn token_request(
    hub: &TestHub,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let http = reqwest::Client::new();
    let mut request = http
        .post(format!("{}api/oauth2/token", hub.hub_url))
        .form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(urlencode(id), Some(urlencode(secret)));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    assert_eq!(
        response.headers()["cache-control"],
        "no-store",
        "token responses are not cached"
    );
    (status, response.json().await.unwrap())
}

async fn userinfo(hub: &TestHub, token: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(format!("{}api/oauth2/userinfo", hub.hub_url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Verifies an RS256 ID token (the default) against the JWKS named by the hub's
/// discovery document.
async fn verify_id_token(hub: &TestHub, token: &str, audience: &str) -> Value {
    verify_id_token_alg(hub, token, audience, jsonwebtoken::Algorithm::RS256).await
}

/// Verifies an ID token signed with `alg` against the JWKS named by the hub's discovery
/// document.
async fn verify_id_token_alg(
    hub: &TestHub,
    token: &str,
    audience: &str,
    alg: jsonwebtoken::Algorithm,
) -> Value {
    let http = reqwest::Client::new();
    let discovery: Value = http
        .get(format!("{}/.well-known/openid-configuration", hub.origin))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], hub.origin);
    let jwks: jsonwebtoken::jwk::JwkSet = http
        .get(discovery["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, alg);
    let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(alg);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[hub.origin.as_str()]);
    // The test hub runs on a manual clock far in the future.
    validation.validate_exp = false;
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .unwrap()
        .claims
}

#[tokio::test]
async fn authorization_code_flow_with_pkce_id_token_and_userinfo() {
    let Provider { hub, .. } = provider("").await;
    let browser = browser(&hub, "ada").await;
    let (verifier, challenge) = pkce_pair();
    let code = code_for(
        &hub,
        &browser,
        "service-app",
        APP_CB,
        &[
            ("scope", "openid profile groups custom:read admin:users"),
            ("nonce", "n-0S6_WzA2Mj"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    let (status, body) = token_request(
        &hub,
        Some(("service-app", APP_SECRET)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", APP_CB),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(
        body["expires_in"],
        14 * 24 * 3600,
        "default: the session lifetime"
    );
    let scopes: Vec<&str> = body["scope"].as_str().unwrap().split(' ').collect();
    assert!(scopes.contains(&"custom:read") && scopes.contains(&"openid"));
    assert!(
        !scopes.contains(&"admin:users"),
        "scopes the client may not have are dropped: {scopes:?}"
    );
    let access = body["access_token"].as_str().unwrap();
    let claims = verify_id_token(&hub, body["id_token"].as_str().unwrap(), "service-app").await;
    assert_eq!(claims["sub"], "ada");
    assert_eq!(claims["name"], "ada");
    assert_eq!(claims["preferred_username"], "ada");
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(claims["admin"], true);
    assert_eq!(claims["groups"], serde_json::json!(["staff"]));
    assert_eq!(claims["iat"], 1_800_000_000);
    assert!(claims["exp"].as_i64().unwrap() > 1_800_000_000);

    let (status, info) = userinfo(&hub, access).await;
    assert_eq!(status, 200);
    assert_eq!(info["preferred_username"], "ada");
    assert_eq!(info["admin"], true);
    assert_eq!(info["groups"], serde_json::json!(["staff"]));

    // JupyterHub's `GET /hub/api/user` answers with the service's token, as it does for
    // JupyterHub services; the token reaches no further than the user's own identity.
    let http = reqwest::Client::new();
    let response = http
        .get(format!("{}api/user", hub.hub_url))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let me: Value = response.json().await.unwrap();
    assert_eq!(me["name"], "ada", "{me}");
    assert_eq!(me["kind"], "user", "{me}");
    let response = http
        .get(format!("{}api/users", hub.hub_url))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        403,
        "listing users needs more than identify"
    );

    // The access token is an ordinary API token of the user, scoped as granted.
    let tokens = hub.store().list_api_tokens("ada").await.unwrap();
    assert_eq!(tokens.len(), 1);
    assert!(tokens[0].scopes.contains(&"identify".to_owned()));
    assert!(tokens[0].note.contains("service-app"));
    assert!(tokens[0].expires.is_some());
}

/// A service allowed hub scopes (`admin:users`) asks a non-admin user for them: the
/// grant carries only what the user holds, so the service's token never names more.
#[tokio::test]
async fn a_service_cannot_get_hub_scopes_the_user_lacks() {
    const OPS_SECRET: &str = "ops-secret-0123456789abcdef";
    const OPS_CB: &str = "http://127.0.0.1:9/ops/callback";
    let Provider { hub, .. } = provider(&format!(
        r#"
[[Hub.services]]
name = "ops"
api_token = "{OPS_SECRET}"
oauth_redirect_uri = "{OPS_CB}"
oauth_client_allowed_scopes = ["admin:users", "read:users!user", "custom:read"]
oauth_no_confirm = true
"#
    ))
    .await;
    let scope = "openid admin:users read:users!user custom:read";
    let mut granted = Vec::new();
    for name in ["bob", "ada"] {
        let browser = browser(&hub, name).await;
        let code = code_for(&hub, &browser, "service-ops", OPS_CB, &[("scope", scope)]).await;
        let (status, body) = token_request(
            &hub,
            Some(("service-ops", OPS_SECRET)),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", OPS_CB),
            ],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let tokens = hub.store().list_api_tokens(name).await.unwrap();
        assert_eq!(tokens.len(), 1);
        granted.push((
            body["scope"].as_str().unwrap().to_owned(),
            tokens[0].scopes.clone(),
        ));
    }
    let (bob_scope, bob_stored) = &granted[0];
    assert_eq!(bob_scope, "identify openid read:users!user custom:read");
    assert!(
        !bob_stored.contains(&"admin:users".to_owned()),
        "{bob_stored:?}"
    );
    // An admin holds admin:users and may hand it on.
    let (ada_scope, _) = &granted[1];
    assert_eq!(
        ada_scope,
        "identify openid admin:users read:users!user custom:read"
    );
}

/// With `forward_auth_accept_tokens`, an access token the hub issued to a service passes
/// the gateway when the service was allowed `access:apps` for the user and asked for it;
/// one issued without it does not.
#[tokio::test]
async fn issued_access_tokens_with_access_apps_pass_the_gateway() {
    const GW_SECRET: &str = "gateway-secret-0123456789abcdef";
    const GW_CB: &str = "http://127.0.0.1:9/gw/callback";
    let Provider { hub, .. } = provider_with(
        "forward_auth_accept_tokens = true\n",
        &format!(
            r#"
[[Hub.services]]
name = "gw"
api_token = "{GW_SECRET}"
oauth_redirect_uri = "{GW_CB}"
oauth_client_allowed_scopes = ["access:apps!user"]
oauth_no_confirm = true
"#
        ),
    )
    .await;
    let browser = browser(&hub, "ada").await;
    let mut tokens = Vec::new();
    for scope in ["openid access:apps!user", "openid"] {
        let code = code_for(&hub, &browser, "service-gw", GW_CB, &[("scope", scope)]).await;
        let (status, body) = token_request(
            &hub,
            Some(("service-gw", GW_SECRET)),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", GW_CB),
            ],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        tokens.push(body["access_token"].as_str().unwrap().to_owned());
    }
    let gateway = |token: String| {
        reqwest::Client::new()
            .get(format!("{}forward-auth", hub.hub_url))
            .bearer_auth(token)
            .send()
    };
    let allowed = gateway(tokens[0].clone()).await.unwrap();
    assert_eq!(allowed.status(), 200);
    assert_eq!(allowed.headers()["x-auth-request-user"], "ada");
    assert_eq!(gateway(tokens[1].clone()).await.unwrap().status(), 401);
}

#[tokio::test]
async fn login_first_then_back_to_authorize() {
    let Provider { hub, .. } = provider("").await;
    let browser = client();
    let url = authorize_url(
        &hub,
        &[
            ("response_type", "code"),
            ("client_id", "service-app"),
            ("redirect_uri", APP_CB),
            ("state", "xyz"),
        ],
    );
    let response = browser.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 302);
    let to_login = location(&response);
    assert!(
        to_login.starts_with("/hub/login?next="),
        "a visitor is sent to log in: {to_login}"
    );
    let next: String = url::form_urlencoded::parse(to_login.split_once('?').unwrap().1.as_bytes())
        .find(|(k, _)| k == "next")
        .unwrap()
        .1
        .into_owned();
    assert!(next.starts_with("/hub/api/oauth2/authorize?"));
    let response = login(&browser, &hub, "ada", "pw", Some(&next)).await;
    assert_eq!(response.status(), 302);
    assert_eq!(
        location(&response),
        next,
        "login returns to the authorize request"
    );
    let response = browser
        .get(format!("{}{next}", hub.origin))
        .send()
        .await
        .unwrap();
    let query = redirect_params(&location(&response), APP_CB);
    assert_eq!(query["state"], "xyz");
    assert!(query.contains_key("code"));

    // prompt=none never shows a login page: it answers login_required.
    let response = client()
        .get(format!("{url}&prompt=none"))
        .send()
        .await
        .unwrap();
    let query = redirect_params(&location(&response), APP_CB);
    assert_eq!(query["error"], "login_required");
}

#[tokio::test]
async fn auto_login_oauth2_authorize_goes_straight_to_the_provider_login() {
    let rest = "[Authenticator]\nauto_login_oauth2_authorize = true\n[GenericOAuthenticator]\nclient_id = \"hub\"\nclient_secret = \"hub-secret\"\nauthorize_url = \"https://idp.example/authorize\"\ntoken_url = \"https://idp.example/token\"\nuserdata_url = \"https://idp.example/userinfo\"\n";
    let hub = start_hub_with(HubOptions {
        dir: tempfile::TempDir::new().unwrap(),
        listener: None,
        hub_extra: "authenticator_class = \"generic-oauth\"",
        rest: &format!(
            "[[Hub.services]]\nname = \"app\"\napi_token = \"{APP_SECRET}\"\noauth_redirect_uri = \"{APP_CB}\"\n{rest}"
        ),
        env: &[],
        clock: None,
    })
    .await
    .unwrap();
    let url = authorize_url(
        &hub,
        &[("response_type", "code"), ("client_id", "service-app")],
    );
    let response = client().get(&url).send().await.unwrap();
    assert_eq!(response.status(), 302);
    let to = location(&response);
    assert!(
        to.starts_with("/hub/oauth_login?next=%2Fhub%2Fapi%2Foauth2%2Fauthorize%3F"),
        "straight into the authenticator's login: {to}"
    );
}

#[tokio::test]
async fn unknown_client_and_unregistered_redirect_uri_never_redirect() {
    let Provider { hub, .. } = provider("").await;
    let browser = browser(&hub, "ada").await;
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![("client_id", "service-nobody"), ("redirect_uri", APP_CB)],
        vec![("redirect_uri", APP_CB)],
        // Prefixes, suffixes and look-alikes of a registered URI are not it.
        vec![
            ("client_id", "service-app"),
            ("redirect_uri", "http://127.0.0.1:9/app/callback/../../evil"),
        ],
        vec![
            ("client_id", "service-app"),
            ("redirect_uri", "http://127.0.0.1:9/app/callbackx"),
        ],
        vec![
            ("client_id", "service-app"),
            ("redirect_uri", "http://127.0.0.1:9/app/"),
        ],
        vec![
            ("client_id", "service-app"),
            ("redirect_uri", "http://127.0.0.1:9/app/callback?x=1"),
        ],
        vec![
            ("client_id", "service-app"),
            ("redirect_uri", "https://evil.example/"),
        ],
        vec![("client_id", "service-app"), ("redirect_uri", OTHER_CB)],
        // Two registered URIs: the request must name one.
        vec![("client_id", "service-app")],
    ];
    for params in cases {
        let mut all = vec![("response_type", "code"), ("state", "s")];
        all.extend(params.iter().copied());
        let response = browser.get(authorize_url(&hub, &all)).send().await.unwrap();
        assert_eq!(response.status(), 400, "{params:?}");
        assert!(
            response.headers().get("location").is_none(),
            "{params:?} must not redirect"
        );
        let text = response.text().await.unwrap();
        assert!(
            text.contains("not registered") || text.contains("must name one"),
            "{text}"
        );
    }
    // Once client and redirect URI are genuine, errors go back to the client.
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (
            vec![
                ("response_type", "code"),
                ("code_challenge", "x".repeat(43).leak()),
                ("code_challenge_method", "plain"),
            ],
            "invalid_request",
        ),
    ];
    for (params, error) in cases {
        let mut all = vec![
            ("client_id", "service-app"),
            ("redirect_uri", APP_CB),
            ("state", "s"),
        ];
        all.extend(params.iter().copied());
        let response = browser.get(authorize_url(&hub, &all)).send().await.unwrap();
        let query = redirect_params(&location(&response), APP_CB);
        assert_eq!(query["error"], error, "{params:?}");
        assert_eq!(query["state"], "s");
    }
}

#[tokio::test]
async fn public_clients_must_use_pkce() {
    let Provider { hub, .. } = provider("").await;
    let browser = browser(&hub, "ada").await;
    let response = browser
        .get(authorize_url(
            &hub,
            &[
                ("response_type", "code"),
                ("client_id", "spa-client"),
                ("state", "s"),
            ],
        ))
        .send()
        .await
        .unwrap();
    let query = redirect_params(&location(&response), SPA_CB);
    assert_eq!(query["error"], "invalid_request");
    assert!(query["error_description"].contains("PKCE"));

    let (verifier, challenge) = pkce_pair();
    let code = code_for(
        &hub,
        &browser,
        "spa-client",
        SPA_CB,
        &[
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    // A public client has no secret to send.
    let (status, body) = token_request(
        &hub,
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "spa-client"),
            ("client_secret", "guess-0123456789abcdef"),
            ("code", &code),
            ("redirect_uri", SPA_CB),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let code = code_for(
        &hub,
        &browser,
        "spa-client",
        SPA_CB,
        &[
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    let (status, body) = token_request(
        &hub,
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "spa-client"),
            ("code", &code),
            ("redirect_uri", SPA_CB),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.get("id_token").is_none(),
        "no openid scope, no ID token"
    );
}

#[tokio::test]
async fn wrong_pkce_verifier_is_refused() {
    let Provider { hub, .. } = provider("").await;
    let browser = browser(&hub, "ada").await;
    let (verifier, challenge) = pkce_pair();
    let pkce = [
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let cases: Vec<Option<String>> =
        vec![Some(format!("{verifier}x")), Some("short".to_owned()), None];
    for wrong in cases {
        let code = code_for(&hub, &browser, "service-app", APP_CB, &pkce).await;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", APP_CB),
        ];
        if let Some(wrong) = &wrong {
            form.push(("code_verifier", wrong.as_str()));
        }
        let (status, body) = token_request(&hub, Some(("service-app", APP_SECRET)), &form).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{wrong:?}"
        );
    }
    // A verifier for a code that had no challenge is refused too (RFC 9700 §2.1.1).
    let code = code_for(&hub, &browser, "service-app", APP_CB, &[]).await;
    let (status, body) = token_request(
        &hub,
        Some(("service-app", APP_SECRET)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", APP_CB),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn client_authentication_failures() {
    let Provider { hub, .. } = provider("").await;
    let browser = browser(&hub, "ada").await;
    let code = code_for(&hub, &browser, "service-app", APP_CB, &[]).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", APP_CB),
    ];
    // Wrong secret (Basic): 401 with a Basic challenge.
    let response = reqwest::Client::new()
        .post(format!("{}api/oauth2/token", hub.hub_url))
        .basic_auth("service-app", Some("wrong-secret-0123456789"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    // Wrong secret (post), missing secret, unknown client.
    for extra in [
        vec![
            ("client_id", "service-app"),
            ("client_secret", "nope-nope-nope-nope"),
        ],
        vec![("client_id", "service-app")],
        vec![
            ("client_id", "service-nobody"),
            ("client_secret", APP_SECRET),
        ],
    ] {
        let mut all = form.to_vec();
        all.extend(extra.iter().copied());
        let (status, body) = token_request(&hub, None, &all).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client")),
            "{extra:?}"
        );
    }
    // Two methods at once is a malformed request.
    let mut all = form.to_vec();
    all.push(("client_secret", APP_SECRET));
    let (status, body) = token_request(&hub, Some(("service-app", APP_SECRET)), &all).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    // The code was never redeemed by the failures above: client_secret_post works.
    let mut all = form.to_vec();
    all.extend([("client_id", "service-app"), ("client_secret", APP_SECRET)]);
    let (status, body) = token_request(&hub, None, &all).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn codes_are_bound_to_client_and_redirect_uri() {
    let Provider { hub, .. } = provider("").await;
    let browser = browser(&hub, "ada").await;
    let code = code_for(&hub, &browser, "service-app", APP_CB, &[]).await;
    let (status, body) = token_request(
        &hub,
        Some(("service-other", OTHER_SECRET)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", APP_CB),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    for redirect in [Some("http://127.0.0.1:9/app/second"), None] {
        let code = code_for(&hub, &browser, "service-app", APP_CB, &[]).await;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
        ];
        if let Some(redirect) = redirect {
            form.push(("redirect_uri", redirect));
        }
        let (status, body) = token_request(&hub, Some(("service-app", APP_SECRET)), &form).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{redirect:?}"
        );
    }
}

#[tokio::test]
async fn replayed_code_is_refused_and_revokes_its_tokens() {
    let Provider { hub, .. } = provider("").await;
    let browser = browser(&hub, "ada").await;
    let code = code_for(
        &hub,
        &browser,
        "service-app",
        APP_CB,
        &[("scope", "openid")],
    )
    .await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", APP_CB),
    ];
    let (status, first) = token_request(&hub, Some(("service-app", APP_SECRET)), &form).await;
    assert_eq!(status, 200);
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&hub, access).await.0, 200);
    let (status, body) = token_request(&hub, Some(("service-app", APP_SECRET)), &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(
        userinfo(&hub, access).await.0,
        401,
        "the replay revoked the access token issued for the code"
    );
    let (status, body) = token_request(
        &hub,
        Some(("service-app", APP_SECRET)),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", first["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "and its refresh token"
    );
}

#[tokio::test]
async fn expired_code_is_refused() {
    let Provider { hub, clock } = provider("").await;
    let browser = browser(&hub, "ada").await;
    let code = code_for(&hub, &browser, "service-app", APP_CB, &[]).await;
    clock.advance(61);
    let (status, body) = token_request(
        &hub,
        Some(("service-app", APP_SECRET)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", APP_CB),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, body) = token_request(
        &hub,
        Some(("service-app", APP_SECRET)),
        &[
            ("grant_type", "authorization_code"),
            ("code", "made-up"),
            ("redirect_uri", APP_CB),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn refresh_tokens_rotate_and_access_tokens_expire() {
    let Provider { hub, clock } = provider_with("oauth_token_expires_in = 3600", "").await;
    let browser = browser(&hub, "ada").await;
    let code = code_for(
        &hub,
        &browser,
        "service-app",
        APP_CB,
        &[("scope", "openid groups")],
    )
    .await;
    let (status, first) = token_request(
        &hub,
        Some(("service-app", APP_SECRET)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", APP_CB),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let expires_in = first["expires_in"].as_i64().unwrap();
    assert_eq!(expires_in, 3600);
    let refresh = first["refresh_token"].as_str().unwrap();
    let refresh_form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
    // Another client cannot use it.
    let (status, _) =
        token_request(&hub, Some(("service-other", OTHER_SECRET)), &refresh_form).await;
    assert_eq!(status, 400);
    let code = code_for(
        &hub,
        &browser,
        "service-app",
        APP_CB,
        &[("scope", "openid groups")],
    )
    .await;
    let (_, first) = token_request(
        &hub,
        Some(("service-app", APP_SECRET)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", APP_CB),
        ],
    )
    .await;
    let refresh = first["refresh_token"].as_str().unwrap().to_owned();
    clock.advance(expires_in);
    assert_eq!(
        userinfo(&hub, first["access_token"].as_str().unwrap())
            .await
            .0,
        401,
        "expired access token"
    );
    let refresh_form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
        ("scope", "openid"),
    ];
    let (status, second) =
        token_request(&hub, Some(("service-app", APP_SECRET)), &refresh_form).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(
        second["scope"], "identify openid",
        "a refresh may narrow scopes"
    );
    assert!(second["id_token"].is_string());
    assert_ne!(second["refresh_token"], refresh.as_str(), "rotated");
    assert_eq!(
        userinfo(&hub, second["access_token"].as_str().unwrap())
            .await
            .0,
        200
    );
    // Widening on refresh is refused.
    let (status, body) = token_request(
        &hub,
        Some(("service-app", APP_SECRET)),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", second["refresh_token"].as_str().unwrap()),
            ("scope", "openid custom:read"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    let (status, body) =
        token_request(&hub, Some(("service-app", APP_SECRET)), &refresh_form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "single use"
    );
}

#[tokio::test]
async fn userinfo_refuses_bad_tokens() {
    let Provider { hub, .. } = provider("").await;
    assert_eq!(userinfo(&hub, "not-a-token").await.0, 401);
    let response = reqwest::Client::new()
        .get(format!("{}api/oauth2/userinfo", hub.hub_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
}

#[tokio::test]
async fn discovery_and_signing_key_survive_a_restart() {
    let Provider { hub, .. } = provider("").await;
    let http = reqwest::Client::new();
    let discovery: Value = http
        .get(format!("{}/.well-known/openid-configuration", hub.origin))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        discovery["token_endpoint"],
        format!("{}api/oauth2/token", hub.hub_url)
    );
    assert_eq!(
        discovery["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    let jwks = |url: String| {
        let http = http.clone();
        async move {
            http.get(url)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let before = jwks(format!("{}api/oauth2/jwks", hub.hub_url)).await;
    assert_eq!(before["keys"][0]["alg"], "RS256");
    assert_eq!(before["keys"][1]["alg"], "ES256");
    for key in before["keys"].as_array().unwrap() {
        assert!(key.get("d").is_none(), "no private part");
    }
    for file in ["hubauth_oidc_key.pem", "hubauth_oidc_rsa_key.pem"] {
        assert!(
            hub.dir.path().join(file).exists(),
            "{file}: the keys are next to the cookie secret"
        );
    }
    let dir = hub.stop().await;
    let hub = start_hub_with(HubOptions {
        dir,
        listener: None,
        hub_extra: "",
        rest: &services(),
        env: &[("OTHER_SECRET", OTHER_SECRET)],
        clock: None,
    })
    .await
    .unwrap();
    let after = jwks(format!("{}api/oauth2/jwks", hub.hub_url)).await;
    assert_eq!(before, after);
}

#[tokio::test]
async fn hub_without_services_is_not_a_provider() {
    let hub = start_hub("", "", &[]).await;
    for path in [
        "hub/api/oauth2/jwks",
        ".well-known/openid-configuration",
        "hub/api/oauth2/authorize?client_id=x",
    ] {
        let response = reqwest::get(format!("{}/{path}", hub.origin))
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
    assert!(!hub.dir.path().join("hubauth_oidc_key.pem").exists());
    assert!(!hub.dir.path().join("hubauth_oidc_rsa_key.pem").exists());
}

/// Resolves a Location against the URL it came from.
fn resolve(from: &str, location: &str) -> String {
    url::Url::parse(from)
        .unwrap()
        .join(location)
        .unwrap()
        .to_string()
}

/// GET `url`, following redirects until a page answers or a redirect leads to `stop`.
async fn follow(
    client: &reqwest::Client,
    mut url: String,
    stop: &str,
) -> (String, reqwest::Response) {
    for _ in 0..10 {
        let response = client.get(&url).send().await.unwrap();
        if !matches!(response.status().as_u16(), 302 | 303) {
            return (url, response);
        }
        let next = resolve(&url, &location(&response));
        if next.starts_with(stop) {
            return (next, response);
        }
        url = next;
    }
    panic!("too many redirects at {url}");
}

/// Hub A, the provider (reached as `localhost`), and hub B logging in through it with
/// GenericOAuthenticator and discovery. Returns (A, B, A's issuer, B's origin).
async fn sso_pair(b_extra: &str, b_env: &[(&str, &str)]) -> (TestHub, TestHub, String, String) {
    // Hub A is the provider (reached as localhost so that the two hubs' cookies stay
    // apart in one cookie jar); hub B logs in through it with stock OIDC discovery.
    let listener_a = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let listener_b = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!(
        "http://localhost:{}",
        listener_a.local_addr().unwrap().port()
    );
    let origin_b = format!(
        "http://127.0.0.1:{}",
        listener_b.local_addr().unwrap().port()
    );
    let callback = format!("{origin_b}/hub/oauth_callback");
    let secret = "hub-b-secret-0123456789abcdef";
    let hub_a = start_hub_with(HubOptions {
        dir: tempfile::TempDir::new().unwrap(),
        listener: Some(listener_a),
        hub_extra: &format!("public_url = \"{issuer}/\""),
        rest: &format!(
            "[[Hub.services]]\nname = \"hub-b\"\napi_token_env = \"HUB_B_SECRET\"\noauth_redirect_uri = \"{callback}\"\noauth_post_logout_redirect_uri = \"{origin_b}/hub/login\"\noauth_no_confirm = true\n[Authenticator]\nadmin_users = [\"ada\"]\nauto_login_oauth2_authorize = true\n[DummyAuthenticator]\npassword = \"ada-password\"\n"
        ),
        env: &[("HUB_B_SECRET", secret)],
        clock: None,
    })
    .await
    .unwrap();
    let store_a = hub_a.store();
    store_a.ensure_user("ada", None, 0).await.unwrap();
    for group in ["staff", "hub-admins"] {
        store_a.create_group(group).await.unwrap();
        store_a
            .add_group_members(group, &["ada".to_owned()])
            .await
            .unwrap();
    }
    let hub_b = start_hub_with(HubOptions {
        dir: tempfile::TempDir::new().unwrap(),
        listener: Some(listener_b),
        hub_extra: "authenticator_class = \"generic-oauth\"",
        rest: &format!(
            "[GenericOAuthenticator]\noidc_issuer = \"{issuer}\"\nclient_id = \"service-hub-b\"\nclient_secret = \"{secret}\"\noauth_callback_url = \"{callback}\"\nscope = [\"openid\", \"profile\", \"groups\"]\nusername_claim = \"preferred_username\"\nmanage_groups = true\nallowed_groups = [\"staff\"]\nadmin_groups = [\"hub-admins\"]\n{b_extra}"
        ),
        env: b_env,
        clock: None,
    })
    .await
    .unwrap();

    (hub_a, hub_b, issuer, origin_b)
}

#[tokio::test]
async fn single_sign_on_for_a_second_hub_with_generic_oauthenticator() {
    let (_hub_a, hub_b, issuer, origin_b) = sso_pair("", &[]).await;
    let browser = client();
    let a_login = format!("{}/hub/login", issuer);
    let (at, _) = follow(&browser, format!("{}oauth_login", hub_b.hub_url), &a_login).await;
    assert!(
        at.starts_with(&a_login),
        "B sends the visitor to A's login: {at}"
    );
    let next: String = url::Url::parse(&at)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "next")
        .unwrap()
        .1
        .into_owned();
    assert!(next.starts_with("/hub/api/oauth2/authorize?"), "{next}");
    // Log in at A with its form (hub_url of A as the browser sees it).
    let page = browser.get(&at).send().await.unwrap().text().await.unwrap();
    let response = browser
        .post(&at)
        .form(&[
            ("_xsrf", scrape_xsrf(&page).as_str()),
            ("username", "ada"),
            ("password", "ada-password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(location(&response), next);
    let (at, response) = follow(&browser, resolve(&at, &next), "nowhere:").await;
    assert_eq!(response.status(), 200, "ends on B's home page: {at}");
    assert!(at.starts_with(&origin_b), "{at}");
    let page = response.text().await.unwrap();
    assert_eq!(shown_user(&page).as_deref(), Some("ada"));
    let user = hub_b.store().get_user("ada").await.unwrap().unwrap();
    assert!(user.admin, "admin from the groups claim");
    assert_eq!(
        user.groups,
        vec!["hub-admins".to_owned(), "staff".to_owned()]
    );

    // Single sign-on: after logging out of B only, B's next login needs no password.
    let response = logout_at(&browser, &hub_b.hub_url).await;
    assert!(response.status().is_success() || response.status() == 302);
    assert_eq!(home(&browser, &hub_b).await.0, 302, "logged out of B");
    let (at, response) = follow(&browser, format!("{}oauth_login", hub_b.hub_url), &a_login).await;
    assert_eq!(response.status(), 200, "no login form on the way: {at}");
    assert!(at.starts_with(&origin_b), "{at}");
    assert_eq!(home(&browser, &hub_b).await.0, 200);

    // With auto_login_oauth2_authorize, a visitor of A with a form authenticator gets
    // A's login form (the authenticator's login) with next back to authorize.
    let (at, _) = follow(&client(), format!("{}oauth_login", hub_b.hub_url), &a_login).await;
    assert!(
        at.contains("next=%2Fhub%2Fapi%2Foauth2%2Fauthorize"),
        "{at}"
    );
}

/// Runs the code flow for the logged-in `browser`; returns the token response.
async fn tokens_for(hub: &TestHub, browser: &reqwest::Client) -> Value {
    let code = code_for(hub, browser, "service-app", APP_CB, &[("scope", "openid")]).await;
    let (status, body) = token_request(
        hub,
        Some(("service-app", APP_SECRET)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", APP_CB),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A revocation request (RFC 7009): status and JSON body (`Null` when empty).
async fn revoke_request(
    hub: &TestHub,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}api/oauth2/revoke", hub.hub_url))
        .form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(urlencode(id), Some(urlencode(secret)));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    (status, body)
}

#[tokio::test]
async fn services_revoke_their_tokens() {
    let Provider { hub, .. } = provider("").await;
    let app = Some(("service-app", APP_SECRET));
    let other = Some(("service-other", OTHER_SECRET));
    let ada = browser(&hub, "ada").await;
    let text = |body: &Value, key: &str| body[key].as_str().unwrap().to_owned();
    let refresh_with = |refresh: String| {
        let hub = &hub;
        async move {
            token_request(
                hub,
                Some(("service-app", APP_SECRET)),
                &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
            )
            .await
        }
    };

    // Announced in the discovery document.
    let discovery: Value = reqwest::get(format!(
        "{}.well-known/openid-configuration",
        hub.hub_url.trim_end_matches("hub/")
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert!(
        discovery["revocation_endpoint"]
            .as_str()
            .unwrap()
            .ends_with("/hub/api/oauth2/revoke"),
        "{discovery}"
    );

    // An access token.
    let first = tokens_for(&hub, &ada).await;
    let access = text(&first, "access_token");
    assert_eq!(userinfo(&hub, &access).await.0, 200);
    // Another client may not revoke it, and it keeps working.
    let (status, body) = revoke_request(&hub, other, &[("token", &access)]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    assert_eq!(userinfo(&hub, &access).await.0, 200);
    let (status, body) = revoke_request(
        &hub,
        app,
        &[("token", &access), ("token_type_hint", "access_token")],
    )
    .await;
    assert_eq!((status, &body), (200, &Value::Null));
    assert_eq!(userinfo(&hub, &access).await.0, 401, "revoked");
    // Revoking it again, or an unknown token, is not an error (RFC 7009 section 2.2).
    assert_eq!(
        revoke_request(&hub, app, &[("token", &access)]).await.0,
        200
    );
    assert_eq!(
        revoke_request(&hub, app, &[("token", "no-such-token")])
            .await
            .0,
        200
    );

    // A refresh token, without a hint: it and the access token issued with it go.
    let second = tokens_for(&hub, &ada).await;
    let (status, _) =
        revoke_request(&hub, app, &[("token", &text(&second, "refresh_token"))]).await;
    assert_eq!(status, 200);
    assert_eq!(userinfo(&hub, &text(&second, "access_token")).await.0, 401);
    let (status, body) = refresh_with(text(&second, "refresh_token")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    // A refresh token shown by another client is refused, and left as it was: a client
    // cannot revoke another client's grant.
    let third = tokens_for(&hub, &ada).await;
    let (status, body) = revoke_request(
        &hub,
        other,
        &[
            ("token", &text(&third, "refresh_token")),
            ("token_type_hint", "refresh_token"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, body) = refresh_with(text(&third, "refresh_token")).await;
    assert_eq!(status, 200, "{body}");

    // Client authentication is required, and a token.
    let (status, body) =
        revoke_request(&hub, Some(("service-app", "wrong")), &[("token", "x")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, body) = revoke_request(&hub, app, &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    hub.stop().await;
}

#[tokio::test]
async fn logout_at_the_hub_revokes_what_services_got_in_that_session() {
    let Provider { hub, .. } = provider("").await;
    let first = browser(&hub, "ada").await;
    let second = browser(&hub, "ada").await;
    let from_first = tokens_for(&hub, &first).await;
    let from_second = tokens_for(&hub, &second).await;
    let access = |body: &Value| body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(userinfo(&hub, &access(&from_first)).await.0, 200);
    let response = logout_at(&first, &hub.hub_url).await;
    assert!(response.status().is_redirection() || response.status().is_success());
    assert_eq!(
        userinfo(&hub, &access(&from_first)).await.0,
        401,
        "logout revoked the session's access token"
    );
    let (status, body) = token_request(
        &hub,
        Some(("service-app", APP_SECRET)),
        &[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                from_first["refresh_token"].as_str().unwrap(),
            ),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("session")
    );
    // The other session's tokens are untouched.
    assert_eq!(userinfo(&hub, &access(&from_second)).await.0, 200);
    let (status, _) = token_request(
        &hub,
        Some(("service-app", APP_SECRET)),
        &[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                from_second["refresh_token"].as_str().unwrap(),
            ),
        ],
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_user_blocked_after_the_fact_loses_service_access() {
    let Provider { hub, .. } = provider("").await;
    let bob = browser(&hub, "bob").await;
    let body = tokens_for(&hub, &bob).await;
    let access = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(userinfo(&hub, &access).await.0, 200);
    let dir = hub.stop().await;
    let hub = start_hub_with(HubOptions {
        dir,
        listener: None,
        hub_extra: "",
        rest: &format!("{}blocked_users = [\"bob\"]\n", services()),
        env: &[("OTHER_SECRET", OTHER_SECRET)],
        clock: Some(Arc::new(hubauth_server::ManualClock::at(1_800_000_000))),
    })
    .await
    .unwrap();
    assert_eq!(
        userinfo(&hub, &access).await.0,
        401,
        "blocked users' tokens stop working"
    );
    let (status, body) = token_request(
        &hub,
        Some(("service-app", APP_SECRET)),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", body["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn malformed_requests_get_clear_errors_never_a_server_error() {
    let Provider { hub, .. } = provider("").await;
    let http = reqwest::Client::new();
    let token_url = format!("{}api/oauth2/token", hub.hub_url);
    let bodies: Vec<(Option<&str>, Vec<u8>)> = vec![
        (None, b"".to_vec()),
        (None, b"grant_type=authorization_code".to_vec()),
        (None, b"client_id=service-app&client_id=service-app".to_vec()),
        (None, vec![0xff, 0xfe, b'=', 0x00]),
        (None, format!("client_id={}&grant_type=password", "x".repeat(5000)).into_bytes()),
        (Some("Basic !!!not-base64"), b"grant_type=authorization_code&code=x".to_vec()),
        (Some("Basic bm9jb2xvbg=="), b"grant_type=authorization_code&code=x".to_vec()),
        (Some("Bearer abc"), b"grant_type=authorization_code&code=x".to_vec()),
        (
            None,
            format!(
                "client_id=service-app&client_secret={APP_SECRET}&grant_type=authorization_code&code={}",
                "c".repeat(10_000)
            )
            .into_bytes(),
        ),
        (
            None,
            format!("client_id=service-app&client_secret={APP_SECRET}&grant_type=refresh_token").into_bytes(),
        ),
        (
            None,
            format!("client_id=service-app&client_secret={APP_SECRET}&grant_type=client_credentials").into_bytes(),
        ),
    ];
    for (authorization, body) in bodies {
        let mut request = http
            .post(&token_url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone());
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let json: Value = response.json().await.unwrap();
        assert!(
            (400..500).contains(&status),
            "{authorization:?} {:?}: {status} {json}",
            String::from_utf8_lossy(&body)
        );
        assert!(json["error"].is_string(), "{json}");
    }
    let browser = browser(&hub, "ada").await;
    for query in [
        "client_id=service-app&client_id=service-other",
        "client_id=%FF%FE",
        "response_type=code&client_id=service-app&redirect_uri=%00",
        "response_type=code&client_id=service-app&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fapp%2Fcallback&code_challenge=short&code_challenge_method=S256",
        "response_type=code&client_id=service-app&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fapp%2Fcallback&code_challenge_method=S256",
    ] {
        let response = browser
            .get(format!("{}api/oauth2/authorize?{query}", hub.hub_url))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        assert!(status == 400 || status == 302, "{query}: {status}");
        if status == 302 {
            let query = redirect_params(&location(&response), APP_CB);
            assert_eq!(query["error"], "invalid_request");
        }
    }
}

/// Logs `ada` in at hub B through hub A's form; the browser ends on B's home page.
async fn sso_login(browser: &reqwest::Client, hub_b: &TestHub, issuer: &str) {
    let a_login = format!("{issuer}/hub/login");
    let (at, _) = follow(browser, format!("{}oauth_login", hub_b.hub_url), &a_login).await;
    assert!(at.starts_with(&a_login), "{at}");
    let page = browser.get(&at).send().await.unwrap().text().await.unwrap();
    let response = browser
        .post(&at)
        .form(&[
            ("_xsrf", scrape_xsrf(&page).as_str()),
            ("username", "ada"),
            ("password", "ada-password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let (at, response) = follow(browser, resolve(&at, &location(&response)), "nowhere:").await;
    assert_eq!(response.status(), 200, "{at}");
    assert_eq!(home(browser, hub_b).await.0, 200);
}

#[tokio::test]
async fn single_logout_through_the_end_session_endpoint() {
    let key = hubauth_store::CryptKeeper::generate_key();
    let (hub_a, hub_b, issuer, origin_b) = sso_pair(
        "enable_auth_state = true\noidc_logout = true\n",
        &[("JUPYTERHUB_CRYPT_KEY", key.as_str())],
    )
    .await;
    let browser = client();
    sso_login(&browser, &hub_b, &issuer).await;
    let a_home = format!("{issuer}/hub/home");
    assert_eq!(browser.get(&a_home).send().await.unwrap().status(), 200);
    let discovery: Value =
        reqwest::get(format!("{}/.well-known/openid-configuration", hub_a.origin))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert!(
        discovery["end_session_endpoint"]
            .as_str()
            .unwrap()
            .ends_with("/hub/api/oauth2/logout")
    );
    // B's logout sends the browser to A's end_session_endpoint with the ID token as hint;
    // A ends its session and returns the browser to B's registered login page.
    let response = logout_at(&browser, &hub_b.hub_url).await;
    assert_eq!(response.status(), 302);
    let end_session = location(&response);
    assert!(
        end_session.starts_with(&format!("{issuer}/hub/api/oauth2/logout?")),
        "{end_session}"
    );
    assert!(end_session.contains("id_token_hint="), "{end_session}");
    let response = browser.get(&end_session).send().await.unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(location(&response), format!("{origin_b}/hub/login"));
    assert_eq!(
        browser.get(&a_home).send().await.unwrap().status(),
        302,
        "logged out of A too"
    );
    assert_eq!(home(&browser, &hub_b).await.0, 302, "and of B");

    // Forged hints and unregistered destinations get an error page, never a redirect.
    let end = format!("{issuer}/hub/api/oauth2/logout");
    for query in [
        "id_token_hint=eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZGEifQ.".to_owned(),
        format!(
            "client_id=service-hub-b&post_logout_redirect_uri={}",
            urlencode("https://evil.example/")
        ),
        format!(
            "post_logout_redirect_uri={}",
            urlencode(&format!("{origin_b}/hub/login"))
        ),
        "client_id=service-nobody".to_owned(),
    ] {
        let response = client().get(format!("{end}?{query}")).send().await.unwrap();
        assert_eq!(response.status(), 400, "{query}");
        assert!(response.headers().get("location").is_none(), "{query}");
    }
    let response = client()
        .get(format!(
            "{end}?client_id=service-hub-b&state=s1&post_logout_redirect_uri={}",
            urlencode(&format!("{origin_b}/hub/login"))
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        location(&response),
        format!("{origin_b}/hub/login?state=s1")
    );
}

#[tokio::test]
async fn consent_page_unless_oauth_no_confirm() {
    let Provider { hub, .. } = provider("").await;
    let ada = browser(&hub, "ada").await;
    let url = authorize_url(
        &hub,
        &[
            ("response_type", "code"),
            ("client_id", "service-other"),
            ("redirect_uri", OTHER_CB),
            ("scope", "openid groups"),
            ("state", "st"),
        ],
    );
    let response = ada.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200, "a consent page");
    assert_eq!(response.headers()["x-frame-options"], "DENY");
    let page = response.text().await.unwrap();
    assert!(
        page.contains("<strong>other</strong> wants to sign you in as <strong>ada</strong>"),
        "{page}"
    );
    assert!(page.contains("the groups you belong to"), "{page}");
    let form = parse_form(&page);
    let xsrf = form
        .inputs
        .iter()
        .find(|(name, _, _)| name == "_xsrf")
        .unwrap()
        .1
        .clone();
    let action = resolve(&url, &form.action);
    assert_eq!(action, url, "the form posts the request back as it came");
    let post = |client: &reqwest::Client, decision: &str, xsrf: &str| {
        client
            .post(&action)
            .form(&[("_xsrf", xsrf), ("decision", decision)])
            .send()
    };
    // A forged or foreign form is refused without a redirect.
    let response = post(&ada, "allow", "00ff").await.unwrap();
    assert_eq!(response.status(), 403);
    assert!(response.headers().get("location").is_none());
    let bob = browser(&hub, "bob").await;
    let response = post(&bob, "allow", &xsrf).await.unwrap();
    assert_eq!(
        response.status(),
        403,
        "the token is bound to ada's session"
    );
    // Deny goes back to the client with access_denied.
    let response = post(&ada, "deny", &xsrf).await.unwrap();
    let query = redirect_params(&location(&response), OTHER_CB);
    assert_eq!(query["error"], "access_denied");
    assert_eq!(query["state"], "st");
    // Allow issues the code.
    let response = post(&ada, "allow", &xsrf).await.unwrap();
    let query = redirect_params(&location(&response), OTHER_CB);
    assert!(query.contains_key("code"), "{query:?}");
    // prompt=none cannot show the page.
    let response = ada.get(format!("{url}&prompt=none")).send().await.unwrap();
    let query = redirect_params(&location(&response), OTHER_CB);
    assert_eq!(query["error"], "consent_required");
    // prompt=consent shows it even to a client that skips it.
    let response = ada
        .get(authorize_url(
            &hub,
            &[
                ("response_type", "code"),
                ("client_id", "service-app"),
                ("redirect_uri", APP_CB),
                ("prompt", "consent"),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// The whole provider flow with the hub's log captured at trace level: no secret, code,
/// token or key ever reaches the log.
#[tokio::test]
async fn provider_log_holds_no_secrets_codes_or_tokens() {
    let log = hubauth_testkit::logs::capture();
    let Provider { hub, .. } = provider("").await;
    let browser = browser(&hub, "ada").await;
    let (verifier, challenge) = pkce_pair();
    // Through the consent page (service-other), then the token, refresh, userinfo, a
    // replay and a logout.
    let url = authorize_url(
        &hub,
        &[
            ("response_type", "code"),
            ("client_id", "service-other"),
            ("redirect_uri", OTHER_CB),
            ("scope", "openid"),
            ("nonce", "nonce-4b1f"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let page = browser
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let form = parse_form(&page);
    let xsrf = form
        .inputs
        .iter()
        .find(|(n, _, _)| n == "_xsrf")
        .unwrap()
        .1
        .clone();
    let response = browser
        .post(&url)
        .form(&[("_xsrf", xsrf.as_str()), ("decision", "allow")])
        .send()
        .await
        .unwrap();
    let code = redirect_params(&location(&response), OTHER_CB)["code"].clone();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", OTHER_CB),
        ("code_verifier", verifier.as_str()),
    ];
    let (status, first) = token_request(&hub, Some(("service-other", OTHER_SECRET)), &form).await;
    assert_eq!(status, 200);
    let (status, second) = token_request(
        &hub,
        None,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", first["refresh_token"].as_str().unwrap()),
            ("client_id", "service-other"),
            ("client_secret", OTHER_SECRET),
        ],
    )
    .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(
        userinfo(&hub, second["access_token"].as_str().unwrap())
            .await
            .0,
        200
    );
    // A replay of the code revokes what refreshing issued too.
    let (status, _) = token_request(&hub, Some(("service-other", OTHER_SECRET)), &form).await;
    assert_eq!(status, 400);
    assert_eq!(
        userinfo(&hub, second["access_token"].as_str().unwrap())
            .await
            .0,
        401
    );
    let (status, _) = token_request(
        &hub,
        Some(("service-other", OTHER_SECRET)),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", second["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = token_request(
        &hub,
        Some(("service-other", "wrong-secret-0123456789")),
        &form,
    )
    .await;
    assert_eq!(status, 401);
    logout(&browser, &hub).await;
    let key_body = |file: &str| -> String {
        std::fs::read_to_string(hub.dir.path().join(file))
            .unwrap()
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect()
    };
    let ec_key = key_body("hubauth_oidc_key.pem");
    let rsa_key = key_body("hubauth_oidc_rsa_key.pem");
    let text = log.text();
    assert!(
        text.contains("issued an authorization code"),
        "the flow was logged"
    );
    let mut secrets: Vec<(&str, String)> = vec![
        ("client secret", OTHER_SECRET.to_owned()),
        ("app client secret", APP_SECRET.to_owned()),
        ("code", code.clone()),
        ("PKCE verifier", verifier.clone()),
        ("consent form token", xsrf.clone()),
        ("ES256 signing key", ec_key.get(..40).unwrap().to_owned()),
        ("RS256 signing key", rsa_key.get(..40).unwrap().to_owned()),
    ];
    for body in [&first, &second] {
        for field in ["access_token", "refresh_token", "id_token"] {
            secrets.push((field, body[field].as_str().unwrap().to_owned()));
        }
    }
    for (what, secret) in secrets {
        assert!(!text.contains(&secret), "the log holds the {what}");
    }
}

// ---------------------------------------------------------------------------------------
// Token families, atomic redemption, re-authentication, signing algorithms, client secrets

/// The token request for a fresh code of `service-app` (scope openid).
async fn redeem(hub: &TestHub, code: &str) -> (u16, Value) {
    token_request(
        hub,
        Some(("service-app", APP_SECRET)),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", APP_CB),
        ],
    )
    .await
}

async fn refresh_app(hub: &TestHub, refresh_token: &str) -> (u16, Value) {
    token_request(
        hub,
        Some(("service-app", APP_SECRET)),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

fn field(body: &Value, key: &str) -> String {
    body[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {body}"))
        .to_owned()
}

// The attacks on the store's token families, on SQLite and on PostgreSQL.
on_both_backends!("oauth2_families";
    spent_refresh_token_replay_revokes_the_whole_family,
    concurrent_code_replay_leaves_every_token_revoked,
    failed_refresh_request_does_not_spend_the_refresh_token,
);

async fn spent_refresh_token_replay_revokes_the_whole_family(db_url: String) {
    let Provider { hub, .. } = provider_with(&db_line(&db_url), "").await;
    let ada = browser(&hub, "ada").await;
    let first = tokens_for(&hub, &ada).await;
    let (status, second) = refresh_app(&hub, &field(&first, "refresh_token")).await;
    assert_eq!(status, 200, "{second}");
    let (status, third) = refresh_app(&hub, &field(&second, "refresh_token")).await;
    assert_eq!(status, 200, "{third}");
    // Another authorization of the same user and client: another family.
    let bystander = tokens_for(&hub, &ada).await;
    for body in [&first, &second, &third, &bystander] {
        assert_eq!(userinfo(&hub, &field(body, "access_token")).await.0, 200);
    }

    // An attacker replays the first (spent) refresh token.
    let (status, body) = refresh_app(&hub, &field(&first, "refresh_token")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    for body in [&first, &second, &third] {
        assert_eq!(
            userinfo(&hub, &field(body, "access_token")).await.0,
            401,
            "every access token of the family is revoked"
        );
    }
    let (status, body) = refresh_app(&hub, &field(&third, "refresh_token")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "the family's live refresh token is revoked too"
    );
    // The other family is untouched.
    assert_eq!(
        userinfo(&hub, &field(&bystander, "access_token")).await.0,
        200
    );
    let (status, body) = refresh_app(&hub, &field(&bystander, "refresh_token")).await;
    assert_eq!(status, 200, "{body}");
}

async fn concurrent_code_replay_leaves_every_token_revoked(db_url: String) {
    const REQUESTS: usize = 8;
    let Provider { hub, .. } = provider_with(&db_line(&db_url), "").await;
    let ada = browser(&hub, "ada").await;
    for round in 0..3 {
        let code = code_for(&hub, &ada, "service-app", APP_CB, &[("scope", "openid")]).await;
        // All requests wait at the barrier, then go out at once on their own connections.
        let barrier = Arc::new(tokio::sync::Barrier::new(REQUESTS));
        let url = format!("{}api/oauth2/token", hub.hub_url);
        let tasks: Vec<_> = (0..REQUESTS)
            .map(|_| {
                let (barrier, url, code) = (barrier.clone(), url.clone(), code.clone());
                tokio::spawn(async move {
                    let http = reqwest::Client::new();
                    let request = http
                        .post(&url)
                        .basic_auth("service-app", Some(APP_SECRET))
                        .form(&[
                            ("grant_type", "authorization_code"),
                            ("code", code.as_str()),
                            ("redirect_uri", APP_CB),
                        ]);
                    barrier.wait().await;
                    let response = request.send().await.unwrap();
                    let status = response.status().as_u16();
                    (status, response.json::<Value>().await.unwrap())
                })
            })
            .collect();
        let mut issued = Vec::new();
        for task in tasks {
            let (status, body) = task.await.unwrap();
            match status {
                200 => issued.push(body),
                400 => assert_eq!(body["error"], "invalid_grant", "{body}"),
                other => panic!("round {round}: unexpected {other} {body}"),
            }
        }
        assert_eq!(
            issued.len(),
            1,
            "round {round}: the code is redeemed exactly once"
        );
        // Whoever won, the replays revoked what it got.
        for body in &issued {
            assert_eq!(
                userinfo(&hub, &field(body, "access_token")).await.0,
                401,
                "round {round}: the winner's access token is revoked"
            );
            let (status, refreshed) = refresh_app(&hub, &field(body, "refresh_token")).await;
            assert_eq!(
                (status, refreshed["error"].as_str()),
                (400, Some("invalid_grant")),
                "round {round}: the winner's refresh token is revoked"
            );
        }
    }
    // No token of the provider is left for ada: every access token issued was revoked.
    let left: Vec<_> = hub
        .store()
        .list_api_tokens("ada")
        .await
        .unwrap()
        .into_iter()
        .filter(|token| token.note.contains("service-app"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

async fn failed_refresh_request_does_not_spend_the_refresh_token(db_url: String) {
    let Provider { hub, .. } = provider_with(&db_line(&db_url), "").await;
    let ada = browser(&hub, "ada").await;
    let tokens = tokens_for(&hub, &ada).await;
    let refresh = field(&tokens, "refresh_token");
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
    ];
    // Wrong client secret, another client, a wider scope, malformed form: each refused.
    let (status, body) = token_request(
        &hub,
        Some(("service-app", "wrong-secret-0123456789")),
        &form,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, body) = token_request(&hub, Some(("service-other", OTHER_SECRET)), &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, body) = token_request(
        &hub,
        Some(("service-app", APP_SECRET)),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
            ("scope", "openid custom:read"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    let (status, _) = token_request(
        &hub,
        Some(("service-app", APP_SECRET)),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
            ("refresh_token", refresh.as_str()),
        ],
    )
    .await;
    assert_eq!(status, 400);
    // No client authentication at all.
    let (status, body) = token_request(
        &hub,
        None,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
            ("client_id", "service-app"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );

    // None of that spent it: the client's own well-formed request works.
    let (status, body) = refresh_app(&hub, &refresh).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(userinfo(&hub, &field(&body, "access_token")).await.0, 200);
    let (status, _) = refresh_app(&hub, &field(&body, "refresh_token")).await;
    assert_eq!(status, 200, "the rotated token is good");
}

/// The `next` a redirect to the login page carries, and whether it forces the login form.
fn login_redirect(response: &reqwest::Response) -> (String, bool) {
    let to = location(response);
    assert!(to.starts_with("/hub/login?"), "sent to log in: {to}");
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(to.split_once('?').unwrap().1.as_bytes())
            .into_owned()
            .collect();
    (
        query["next"].clone(),
        query.get("prompt").map(String::as_str) == Some("login"),
    )
}

/// The `auth_time` of the ID token a code of `service-app` gets.
async fn auth_time_of(hub: &TestHub, code: &str) -> i64 {
    let (status, body) = redeem(hub, code).await;
    assert_eq!(status, 200, "{body}");
    let claims = verify_id_token(hub, &field(&body, "id_token"), "service-app").await;
    claims["auth_time"].as_i64().unwrap()
}

#[tokio::test]
async fn max_age_1_forces_a_fresh_login_and_a_fresh_auth_time() {
    let start = 1_800_000_000;
    let Provider { hub, clock } = provider("").await;
    let ada = browser(&hub, "ada").await;
    clock.advance(30);
    let params = |max_age: &'static str| {
        vec![
            ("response_type", "code"),
            ("client_id", "service-app"),
            ("redirect_uri", APP_CB),
            ("scope", "openid"),
            ("state", "st-123"),
            ("max_age", max_age),
        ]
    };
    // A login recent enough goes straight through, with the login's real time.
    let code = code_for(
        &hub,
        &ada,
        "service-app",
        APP_CB,
        &[("scope", "openid"), ("max_age", "60")],
    )
    .await;
    assert_eq!(auth_time_of(&hub, &code).await, start);

    // With max_age=1 the 30 s old login does not do: the user must log in again.
    let response = ada
        .get(authorize_url(&hub, &params("1")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let login_url = location(&response);
    let (next, forced) = login_redirect(&response);
    assert!(
        forced,
        "the login page must not wave a logged-in user through"
    );
    assert!(next.starts_with("/hub/api/oauth2/authorize?") && next.contains("max_age=1"));
    // Skipping the login (straight back to the authorize request) gets no code.
    let response = ada
        .get(format!("{}{next}", hub.origin))
        .send()
        .await
        .unwrap();
    let (again, _) = login_redirect(&response);
    assert!(again.contains("hubauth_reauth="));
    // prompt=none cannot log the user in again: login_required, no code.
    let mut silent = params("1");
    silent.push(("prompt", "none"));
    let response = ada.get(authorize_url(&hub, &silent)).send().await.unwrap();
    let query = redirect_params(&location(&response), APP_CB);
    assert_eq!(query["error"], "login_required");
    assert!(!query.contains_key("code"));

    clock.advance(5);
    let response = login_at(&ada, &format!("{}{login_url}", hub.origin), "ada", "pw").await;
    assert_eq!(response.status(), 302);
    assert_eq!(location(&response), next, "back to the authorize request");
    // The way back takes a few seconds more than max_age: no loop, the fresh login counts.
    clock.advance(3);
    let response = ada
        .get(format!("{}{next}", hub.origin))
        .send()
        .await
        .unwrap();
    let query = redirect_params(&location(&response), APP_CB);
    assert_eq!(query["state"], "st-123");
    assert_eq!(
        auth_time_of(&hub, &query["code"]).await,
        start + 35,
        "auth_time is the fresh login's time"
    );
    // max_age must be a number of seconds.
    let response = ada
        .get(authorize_url(&hub, &params("-1")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        redirect_params(&location(&response), APP_CB)["error"],
        "invalid_request"
    );
}

#[tokio::test]
async fn prompt_login_forces_reauthentication() {
    let start = 1_800_000_000;
    let Provider { hub, clock } = provider("").await;
    let ada = browser(&hub, "ada").await;
    let params = [
        ("response_type", "code"),
        ("client_id", "service-app"),
        ("redirect_uri", APP_CB),
        ("scope", "openid"),
        ("state", "st-123"),
        ("prompt", "login consent"),
    ];
    let response = ada.get(authorize_url(&hub, &params)).send().await.unwrap();
    assert_eq!(response.status(), 302);
    let login_url = location(&response);
    let (next, forced) = login_redirect(&response);
    assert!(forced);
    assert!(
        next.contains("prompt=consent") && !next.contains("login"),
        "back without prompt=login, so that it does not loop: {next}"
    );
    // The old session does not pass for the fresh login, not even within the same second.
    let response = ada
        .get(format!("{}{next}", hub.origin))
        .send()
        .await
        .unwrap();
    login_redirect(&response);
    // Nor does a forged or altered marker.
    let marker_at = next.find("hubauth_reauth=").unwrap() + "hubauth_reauth=".len();
    let forged = format!("{}0.00.00", &next[..marker_at]);
    let response = ada
        .get(format!("{}{forged}", hub.origin))
        .send()
        .await
        .unwrap();
    login_redirect(&response);
    // The login page shows the form to the logged-in user.
    let (status, page) = get(&ada, &format!("{}{login_url}", hub.origin)).await;
    assert_eq!(status, 200);
    assert!(page.contains("_xsrf"), "the login form");

    clock.advance(7);
    let response = login_at(&ada, &format!("{}{login_url}", hub.origin), "ada", "pw").await;
    assert_eq!(location(&response), next);
    // The marker is bound to its client: after this login, it does not do for another.
    let other_client = next.replace("client_id=service-app", "client_id=service-es-app");
    assert_ne!(other_client, next);
    let response = ada
        .get(format!("{}{other_client}", hub.origin))
        .send()
        .await
        .unwrap();
    login_redirect(&response);
    // prompt=consent stays: the consent page, then the code.
    let response = ada
        .get(format!("{}{next}", hub.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the consent page");
    let form = parse_form(&response.text().await.unwrap());
    let xsrf = form
        .inputs
        .iter()
        .find(|(n, _, _)| n == "_xsrf")
        .unwrap()
        .1
        .clone();
    let response = ada
        .post(format!("{}{next}", hub.origin))
        .form(&[("_xsrf", xsrf.as_str()), ("decision", "allow")])
        .send()
        .await
        .unwrap();
    let query = redirect_params(&location(&response), APP_CB);
    assert_eq!(auth_time_of(&hub, &query["code"]).await, start + 7);

    // prompt=none with anything else is a malformed request.
    let response = ada
        .get(authorize_url(
            &hub,
            &[
                ("response_type", "code"),
                ("client_id", "service-app"),
                ("redirect_uri", APP_CB),
                ("prompt", "none login"),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        redirect_params(&location(&response), APP_CB)["error"],
        "invalid_request"
    );
    // A visitor without a session logs in once, and gets the code.
    let visitor = client();
    let response = visitor
        .get(authorize_url(&hub, &params))
        .send()
        .await
        .unwrap();
    let (next, forced) = login_redirect(&response);
    assert!(!forced, "nobody to force out");
    let response = login(&visitor, &hub, "ada", "pw", Some(&next)).await;
    assert_eq!(location(&response), next);
    let response = visitor
        .get(format!("{}{next}", hub.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the consent page, no second login");
}

#[tokio::test]
async fn id_tokens_are_rs256_by_default_and_es256_for_services_that_registered_it() {
    let Provider { hub, .. } = provider("").await;
    let ada = browser(&hub, "ada").await;
    let discovery: Value = reqwest::get(format!("{}/.well-known/openid-configuration", hub.origin))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256", "ES256"])
    );
    let jwks: Value = reqwest::get(discovery["jwks_uri"].as_str().unwrap())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_ne!(keys[0]["kid"], keys[1]["kid"]);
    for key in keys {
        assert_eq!(key["use"], "sig");
    }
    for (client, alg) in [
        ("service-app", jsonwebtoken::Algorithm::RS256),
        ("service-es-app", jsonwebtoken::Algorithm::ES256),
    ] {
        let code = code_for(
            &hub,
            &ada,
            client,
            APP_CB,
            &[("scope", "openid"), ("nonce", "n-1")],
        )
        .await;
        let (status, body) = token_request(
            &hub,
            Some((client, APP_SECRET)),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", APP_CB),
            ],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let claims = verify_id_token_alg(&hub, &field(&body, "id_token"), client, alg).await;
        assert_eq!(
            (claims["sub"].as_str(), claims["nonce"].as_str()),
            (Some("ada"), Some("n-1"))
        );
        // at_hash is the left half of SHA-256 of the access token for both algorithms.
        use sha2::Digest;
        let digest = sha2::Sha256::digest(field(&body, "access_token").as_bytes());
        assert_eq!(
            claims["at_hash"],
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
        );
    }
}

#[tokio::test]
async fn basic_client_secret_is_accepted_raw_and_form_encoded() {
    let Provider { hub, .. } = provider("").await;
    let ada = browser(&hub, "ada").await;
    let token_url = format!("{}api/oauth2/token", hub.hub_url);
    let send = |id: String, secret: String, code: String| {
        let token_url = token_url.clone();
        async move {
            let response = reqwest::Client::new()
                .post(token_url)
                .basic_auth(id, Some(secret))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", APP_CB),
                ])
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let id = "service-odd".to_owned();
    // As RFC 6749 section 2.3.1 says (form-encoded), and as many libraries send it (raw).
    for secret in [urlencode(ODD_SECRET), ODD_SECRET.to_owned()] {
        let code = code_for(&hub, &ada, "service-odd", APP_CB, &[]).await;
        let (status, body) = send(urlencode(&id), secret.clone(), code).await;
        assert_eq!(status, 200, "{secret}: {body}");
    }
    // Wrong secrets are refused: another secret, the raw secret's form-decoded reading
    // ('+' as a space, %2F as '/'), or a truncation at the second ':'.
    for wrong in [
        "odd secret+with%2F:colon-0124".to_owned(),
        "odd secret with/:colon-0123".to_owned(),
        "odd secret+with%2F".to_owned(),
        urlencode("odd secret with/:colon-0123"),
    ] {
        let code = code_for(&hub, &ada, "service-odd", APP_CB, &[]).await;
        let (status, body) = send(id.clone(), wrong.clone(), code.clone()).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client")),
            "{wrong}"
        );
        // The failed attempt did not spend the code.
        let (status, body) = send(id.clone(), ODD_SECRET.to_owned(), code).await;
        assert_eq!(status, 200, "{body}");
    }
    // client_secret_post with the same secret works too.
    let code = code_for(&hub, &ada, "service-odd", APP_CB, &[]).await;
    let (status, body) = token_request(
        &hub,
        None,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", APP_CB),
            ("client_id", "service-odd"),
            ("client_secret", ODD_SECRET),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// RP-initiated logout CSRF: another site links the user's browser to the end-session
/// endpoint (no `id_token_hint`, or one from an earlier session). The hub asks first; only
/// the confirmation page's POST, with the session's form token, ends the session. A hint
/// issued in the current session still signs out at once.
#[tokio::test]
async fn end_session_without_id_token_hint_asks_for_confirmation() {
    let Provider { hub, clock } = provider("").await;
    let ada = browser(&hub, "ada").await;
    let end = format!("{}api/oauth2/logout", hub.hub_url);
    let home_status = |client: &reqwest::Client| {
        let client = client.clone();
        let url = format!("{}home", hub.hub_url);
        async move { client.get(url).send().await.unwrap().status().as_u16() }
    };

    for query in [
        "",
        "?client_id=service-app",
        "?client_id=service-app&state=s1",
    ] {
        let response = ada.get(format!("{end}{query}")).send().await.unwrap();
        assert_eq!(response.status(), 200, "{query}: a question, not a logout");
        assert_eq!(response.headers()["x-frame-options"], "DENY");
        let page = response.text().await.unwrap();
        assert!(page.contains("id=\"logout-confirm\""), "{page}");
        if query.contains("service-app") {
            assert!(page.contains("<strong>app</strong> asks"), "{page}");
        }
        assert_eq!(home_status(&ada).await, 200, "{query}: still signed in");
    }
    // A cross-site POST without the form token (or with garbage) is refused.
    for fields in [vec![], vec![("_xsrf", "00".repeat(32))]] {
        let response = ada
            .post(format!("{end}?client_id=service-app"))
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403);
        assert_eq!(home_status(&ada).await, 200, "still signed in");
    }
    // The confirmation page's own form signs out and goes on as the request said.
    let page = ada
        .get(format!("{end}?client_id=service-app"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let form = parse_form(&page);
    assert!(
        form.action
            .contains("/hub/api/oauth2/logout?client_id=service-app")
    );
    let response = ada
        .post(format!("{}{}", hub.origin, form.action))
        .form(&[("_xsrf", scrape_xsrf(&page))])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(location(&response), "/hub/login");
    assert_eq!(home_status(&ada).await, 302, "signed out");

    // An ID token from an earlier session does not prove this one.
    let ada = browser(&hub, "ada").await;
    let old_hint = tokens_for(&hub, &ada).await["id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    logout(&ada, &hub).await;
    clock.advance(10);
    let ada = browser(&hub, "ada").await;
    let response = ada
        .get(format!("{end}?id_token_hint={old_hint}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "asks: the hint is from another session"
    );
    assert_eq!(home_status(&ada).await, 200);
    // One issued in this session signs out at once.
    let hint = tokens_for(&hub, &ada).await["id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = ada
        .get(format!("{end}?id_token_hint={hint}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(home_status(&ada).await, 302, "signed out by the service");
    hub.stop().await;
}
