//! The mock wiki's pages: `index.php` dispatching on `title`, and the article path.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hubauth_devidp::mock::{Mock, html};
use rand::RngCore as _;
use serde_json::{Value, json};

use super::oauth1::SignedRequest;
use super::{
    Acceptance, IDENTITY_TTL, INDEX_PATH, IdentityTamper, MediaWiki, MockConsumer, MockUser, Page,
    REQUEST_TOKEN_TTL, RequestGrant, TIMESTAMP_THRESHOLD,
};

/// Why the extension refused a signed request.
enum Refusal {
    /// A library `OAuthException`: shown as "An error occurred in the OAuth protocol: ...".
    Protocol(String),
    /// A localized `MWOAuthException`: its message key and English text.
    Keyed(&'static str, String),
}

impl Refusal {
    fn key(&self) -> &'static str {
        match self {
            Refusal::Protocol(_) => "mwoauth-oauth-exception",
            Refusal::Keyed(key, _) => key,
        }
    }

    fn text(&self) -> String {
        match self {
            Refusal::Protocol(message) => {
                format!("An error occurred in the OAuth protocol: {message}")
            }
            Refusal::Keyed(_, text) => text.clone(),
        }
    }

    /// The `raw` format of `initiate` and `token`: `Error: ...`, HTTP 200.
    fn raw(&self) -> Response {
        plain(&format!("Error: {}", html::escape(&self.text())))
    }

    /// The `json` format of `identify`: `{"error": key, "message": text}`, HTTP 200.
    fn json(&self) -> Response {
        json_text(&json!({"error": self.key(), "message": self.text()}).to_string())
    }
}

fn request_token_not_found() -> Refusal {
    Refusal::Keyed(
        "mwoauthdatastore-request-token-not-found",
        "Sorry, something went wrong connecting this application. Go back and try to connect your account again, or contact the application author. OAuth token not found, E004".to_owned(),
    )
}

fn access_token_not_found() -> Refusal {
    Refusal::Keyed(
        "mwoauthdatastore-access-token-not-found",
        "No approved grant was found for that authorization token.".to_owned(),
    )
}

/// A no-cache answer (the extension's `showResponse` for `raw` and `json`).
fn no_cache(content_type: &'static str, body: String) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, max-age=0, must-revalidate"),
    );
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn plain(text: &str) -> Response {
    no_cache("text/plain", text.to_owned())
}

fn json_text(text: &str) -> Response {
    no_cache("application/json", text.to_owned())
}

fn wiki_page(title: &str, message: &str) -> Response {
    html::page(
        StatusCode::OK,
        &format!("{title} - Mock Wiki"),
        &format!("<p>{}</p>", html::escape(message)),
    )
}

/// 32 hex digits, as the extension's `MWCryptRand::generateHex(32)` makes keys.
fn hex32() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value.split(';').next().is_some_and(|mime| {
                mime.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        })
}

/// `index.php`: the page `title` names.
pub(super) async fn index(
    State(mock): State<Mock<MediaWiki>>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = is_form(&headers).then_some(&body[..]);
    let mut params: HashMap<String, String> = HashMap::new();
    for source in [uri.query().map(str::as_bytes), form].into_iter().flatten() {
        for (key, value) in form_urlencoded::parse(source) {
            params
                .entry(key.into_owned())
                .or_insert_with(|| value.into_owned());
        }
    }
    let title = params.get("title").cloned().unwrap_or_default();
    let Some(page) = Page::from_title(&title) else {
        if title.starts_with("Special:OAuth") {
            // The extension's answer to a subpage it does not know (E002).
            return wiki_page(
                "OAuth error",
                "Sorry, something went wrong connecting this application. Go back and try to connect your account again, or contact the application author. Unknown action, E002",
            );
        }
        return html::page(
            StatusCode::NOT_FOUND,
            &format!("{title} - Mock Wiki"),
            "<p>There is currently no text in this page.</p>",
        );
    };
    let fault = mock.lock().state.page_faults.take(page);
    if let Some(response) = hubauth_devidp::faults::apply(fault).await {
        return response;
    }
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    let signed = SignedRequest::gather(uri.query(), form, authorization);
    let base_uri = format!("{}{}", mock.origin(), uri.path());
    let call = Call {
        method: method.as_str(),
        base_uri: &base_uri,
    };
    match page {
        Page::Authorize => authorize(&mock, &params, method == Method::POST),
        Page::Initiate => match signed {
            Some(signed) => initiate(&mock, &call, &signed, &params).unwrap_or_else(|r| r.raw()),
            None => Refusal::Protocol("Invalid Authorization header".to_owned()).raw(),
        },
        Page::Token => match signed {
            Some(signed) => token(&mock, &call, &signed, &params).unwrap_or_else(|r| r.raw()),
            None => Refusal::Protocol("Invalid Authorization header".to_owned()).raw(),
        },
        Page::Identify => match signed {
            Some(signed) => identify(&mock, &call, &signed).unwrap_or_else(|r| r.json()),
            None => Refusal::Protocol("Invalid Authorization header".to_owned()).json(),
        },
    }
}

/// The article path: `/wiki/Special:OAuth/authorize` (the pretty URL of the approval
/// page), any other title an empty article.
pub(super) async fn article(
    State(mock): State<Mock<MediaWiki>>,
    Path(title): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if Page::from_title(&title) == Some(Page::Authorize) {
        let fault = mock.lock().state.page_faults.take(Page::Authorize);
        if let Some(response) = hubauth_devidp::faults::apply(fault).await {
            return response;
        }
        return authorize(&mock, &query, false);
    }
    html::page(
        StatusCode::NOT_FOUND,
        &format!("{title} - Mock Wiki"),
        "<p>There is currently no text in this page.</p>",
    )
}

/// What the signature is computed over besides the parameters.
struct Call<'a> {
    method: &'a str,
    base_uri: &'a str,
}

/// `get_version` and `get_consumer` of the extension's `OAuthServer`.
fn consumer(mock: &Mock<MediaWiki>, signed: &SignedRequest) -> Result<MockConsumer, Refusal> {
    if let Some(version) = signed.get("oauth_version")
        && version != "1.0"
    {
        return Err(Refusal::Protocol(format!(
            "OAuth version '{version}' not supported"
        )));
    }
    let key = signed
        .get("oauth_consumer_key")
        .filter(|key| !key.is_empty())
        .ok_or_else(|| Refusal::Protocol("Invalid consumer key".to_owned()))?;
    mock.lock()
        .state
        .consumers
        .get(key)
        .cloned()
        .ok_or_else(|| Refusal::Protocol("Invalid consumer".to_owned()))
}

/// `check_signature`: the timestamp, the nonce (remembered even when the signature then
/// fails, as the extension adds it first), the method, the signature.
fn check_signature(
    mock: &Mock<MediaWiki>,
    call: &Call<'_>,
    signed: &SignedRequest,
    consumer: &MockConsumer,
    token: Option<(&str, &str)>,
) -> Result<(), Refusal> {
    let now = mock.now();
    let Some(timestamp) = signed.get("oauth_timestamp").filter(|t| !t.is_empty()) else {
        return Err(Refusal::Protocol(
            "Missing timestamp parameter. The parameter is required".to_owned(),
        ));
    };
    let seconds = timestamp.parse::<i64>().unwrap_or(0);
    if (now - seconds).abs() > TIMESTAMP_THRESHOLD {
        return Err(Refusal::Protocol(format!(
            "Expired timestamp, yours {timestamp}, ours {now}"
        )));
    }
    let Some(nonce) = signed.get("oauth_nonce").filter(|n| !n.is_empty()) else {
        return Err(Refusal::Protocol(
            "Missing nonce parameter. The parameter is required".to_owned(),
        ));
    };
    {
        let mut core = mock.lock();
        let nonces = &mut core.state.nonces;
        nonces.retain(|_, until| *until > now);
        let entry = (
            consumer.key.clone(),
            token.map(|(key, _)| key.to_owned()).unwrap_or_default(),
            nonce.to_owned(),
        );
        if nonces.contains_key(&entry) {
            return Err(Refusal::Protocol(format!("Nonce already used: {nonce}")));
        }
        nonces.insert(entry, seconds.saturating_add(TIMESTAMP_THRESHOLD));
    }
    match signed.get("oauth_signature_method") {
        None | Some("") => {
            return Err(Refusal::Protocol(
                "No signature method parameter. This parameter is required".to_owned(),
            ));
        }
        Some("HMAC-SHA1") => {}
        Some(other) => {
            return Err(Refusal::Protocol(format!(
                "Signature method '{other}' not supported try one of the following: HMAC-SHA1, RSA-SHA1"
            )));
        }
    }
    let token_secret = token.map(|(_, secret)| secret).unwrap_or_default();
    if signed.hmac_sha1_valid(call.method, call.base_uri, &consumer.secret, token_secret) {
        Ok(())
    } else {
        Err(Refusal::Protocol("Invalid signature".to_owned()))
    }
}

/// `MWOAuthServer::checkCallback`.
fn check_callback(consumer: &MockConsumer, callback: Option<&str>) -> Result<(), Refusal> {
    let not_oob_or_prefix = || {
        Refusal::Keyed(
            "mwoauth-callback-not-oob-or-prefix",
            "oauth_callback must be set, and must be set to \"oob\" (case-sensitive), or the configured callback must be a prefix of the supplied callback.".to_owned(),
        )
    };
    if !consumer.callback_is_prefix {
        return if callback == Some("oob") {
            Ok(())
        } else {
            Err(Refusal::Keyed(
                "mwoauth-callback-not-oob",
                "oauth_callback must be set, and must be set to \"oob\" (case-sensitive)"
                    .to_owned(),
            ))
        };
    }
    let callback = callback
        .filter(|c| !c.is_empty())
        .ok_or_else(not_oob_or_prefix)?;
    if callback == "oob" {
        return Ok(());
    }
    let requested = url::Url::parse(callback).map_err(|_| not_oob_or_prefix())?;
    if !requested.username().is_empty() || requested.password().is_some() {
        return Err(not_oob_or_prefix());
    }
    let known = url::Url::parse(&consumer.callback_url).map_err(|_| not_oob_or_prefix())?;
    let scheme_ok = match known.scheme() {
        "http" => matches!(requested.scheme(), "http" | "https"),
        other => other == requested.scheme(),
    };
    let port_ok = known.port() == Some(1) || known.port() == requested.port();
    let exact_path = known.query().is_some();
    let path_ok = if exact_path {
        known.path() == requested.path()
    } else {
        requested.path().starts_with(known.path())
    };
    let query_ok = match known.query() {
        None => true,
        Some(prefix) => requested.query().is_some_and(|q| q.starts_with(prefix)),
    };
    if scheme_ok && known.host_str() == requested.host_str() && port_ok && path_ok && query_ok {
        Ok(())
    } else {
        Err(not_oob_or_prefix())
    }
}

/// `Special:OAuth/initiate`: a request token.
fn initiate(
    mock: &Mock<MediaWiki>,
    call: &Call<'_>,
    signed: &SignedRequest,
    params: &HashMap<String, String>,
) -> Result<Response, Refusal> {
    let consumer = consumer(mock, signed)?;
    check_signature(mock, call, signed, &consumer, None)?;
    let callback = signed.get("oauth_callback");
    check_callback(&consumer, callback)?;
    let key = hex32();
    let secret = hex32();
    let now = mock.now();
    mock.lock().state.request_tokens.insert(
        key.clone(),
        RequestGrant {
            consumer: consumer.key.clone(),
            secret: secret.clone(),
            callback: callback.map(str::to_owned),
            verifier: None,
            access: None,
            used: false,
        },
        now + REQUEST_TOKEN_TTL,
    );
    Ok(token_answer(&key, &secret, params))
}

/// `returnToken`: `raw` (the default) or `json`.
fn token_answer(key: &str, secret: &str, params: &HashMap<String, String>) -> Response {
    if params.get("format").map(String::as_str) == Some("json") {
        return json_text(
            &json!({
                "oauth_token": key,
                "oauth_token_secret": secret,
                "oauth_callback_confirmed": "true",
                "key": key,
                "secret": secret,
            })
            .to_string(),
        );
    }
    plain(&format!(
        "oauth_token={key}&oauth_token_secret={secret}&oauth_callback_confirmed=true"
    ))
}

/// `Special:OAuth/authorize` and `/authenticate`: the logged-in user approves, or picks
/// who they are first.
fn authorize(mock: &Mock<MediaWiki>, params: &HashMap<String, String>, posted: bool) -> Response {
    let param = |a: &str, b: &str| {
        params
            .get(a)
            .or_else(|| params.get(b))
            .filter(|v| !v.is_empty())
            .cloned()
    };
    let request_token = param("requestToken", "oauth_token").unwrap_or_default();
    let now = mock.now();
    let consumer_key = param("consumerKey", "oauth_consumer_key").or_else(|| {
        mock.lock()
            .state
            .request_tokens
            .get(&request_token, now)
            .map(|grant| grant.consumer.clone())
    });
    let consumer = consumer_key.and_then(|key| mock.lock().state.consumers.get(&key).cloned());
    let Some(consumer) = consumer else {
        return wiki_page(
            "OAuth error",
            "Sorry, something went wrong connecting this application. Unknown OAuth key, E006",
        );
    };
    if posted && params.contains_key("cancel") {
        return wiki_page(
            "Authorization cancelled",
            &format!(
                "You have cancelled the authorization of {}. Return to the application.",
                consumer.key
            ),
        );
    }
    let user = if posted {
        params.get("login_as").cloned().filter(|u| !u.is_empty())
    } else {
        None
    }
    .or_else(|| mock.lock().state.auto_approve.clone());
    let Some(username) = user else {
        return picker(mock, params);
    };
    approve(mock, &consumer, &request_token, &username)
}

fn picker(mock: &Mock<MediaWiki>, params: &HashMap<String, String>) -> Response {
    let core = mock.lock();
    let buttons: String = core
        .state
        .users
        .values()
        .map(|user| {
            format!(
                "<button type=\"submit\" name=\"login_as\" value=\"{name}\">{name}</button><br>",
                name = html::escape(&user.username)
            )
        })
        .collect();
    let hidden = html::hidden_fields(
        params
            .iter()
            .filter(|(k, _)| *k != "login_as" && *k != "cancel" && *k != "title"),
    );
    html::page(
        StatusCode::OK,
        "Log in and allow access (mock wiki)",
        &format!(
            "<p>An application wants to verify your identity on this wiki. Log in as:</p><form method=\"post\" action=\"{INDEX_PATH}\"><input type=\"hidden\" name=\"title\" value=\"Special:OAuth/authorize\">{hidden}{buttons}<button type=\"submit\" name=\"cancel\" value=\"1\">Cancel</button></form>"
        ),
    )
}

fn approve(
    mock: &Mock<MediaWiki>,
    consumer: &MockConsumer,
    request_token: &str,
    username: &str,
) -> Response {
    let now = mock.now();
    let mut core = mock.lock();
    let state = &mut core.state;
    match state.users.get(username) {
        None => return wiki_page("Login error", "There is no user by that name."),
        Some(user) if user.locked => {
            return wiki_page("Login error", "This account has been globally locked.");
        }
        Some(_) => {}
    }
    let existing = state
        .access_tokens
        .live(now)
        .find(|(_, acceptance)| acceptance.user == username && acceptance.consumer == consumer.key)
        .map(|(key, _)| key.to_owned());
    let Some(grant) = state
        .request_tokens
        .get_mut(request_token, now)
        .filter(|grant| grant.consumer == consumer.key && !grant.used)
    else {
        return wiki_page(
            "OAuth error",
            "Sorry, something went wrong connecting this application. Go back and try to connect your account again, or contact the application author. OAuth token not found, E004",
        );
    };
    // The callback is read (and forgotten) once: a request token is approved once.
    let Some(callback) = grant.callback.take() else {
        return wiki_page(
            "OAuth error",
            "OAuth callback URL not found in cache. This is probably an error in how the application makes requests to the server.",
        );
    };
    let verifier = hex32();
    grant.verifier = Some(verifier.clone());
    let access = match existing {
        Some(key) => key,
        None => {
            let key = hex32();
            state.access_tokens.insert(
                key.clone(),
                Acceptance {
                    consumer: consumer.key.clone(),
                    user: username.to_owned(),
                    secret: hex32(),
                    grants: consumer.grants.clone(),
                },
                i64::MAX,
            );
            key
        }
    };
    if let Some(grant) = state.request_tokens.get_mut(request_token, now) {
        grant.access = Some(access);
    }
    let target = if callback == "oob" {
        consumer.callback_url.clone()
    } else {
        callback
    };
    html::redirect_with(
        &target,
        &[
            ("oauth_verifier", &verifier),
            ("oauth_token", request_token),
        ],
    )
}

/// `Special:OAuth/token`: the approved request token and its verifier for the access
/// token.
fn token(
    mock: &Mock<MediaWiki>,
    call: &Call<'_>,
    signed: &SignedRequest,
    params: &HashMap<String, String>,
) -> Result<Response, Refusal> {
    let consumer = consumer(mock, signed)?;
    let now = mock.now();
    let key = signed
        .get("oauth_token")
        .filter(|k| !k.is_empty())
        .ok_or_else(request_token_not_found)?
        .to_owned();
    let grant = mock
        .lock()
        .state
        .request_tokens
        .get(&key, now)
        .filter(|grant| grant.consumer == consumer.key)
        .cloned()
        .ok_or_else(request_token_not_found)?;
    if grant.used {
        return Err(Refusal::Keyed(
            "mwoauthdatastore-request-token-already-used",
            "This request has already been completed and cannot be resubmitted. Go back to the application and try to connect your account again, or contact the application author. OAuth token already used, E009".to_owned(),
        ));
    }
    check_signature(mock, call, signed, &consumer, Some((&key, &grant.secret)))?;
    let (Some(verifier), Some(access)) = (grant.verifier.as_deref(), grant.access.as_deref())
    else {
        return Err(Refusal::Keyed(
            "mwoauthdatastore-bad-token",
            "No token was found matching your request.".to_owned(),
        ));
    };
    if signed.get("oauth_verifier") != Some(verifier) {
        return Err(Refusal::Keyed(
            "mwoauthdatastore-bad-verifier",
            "The verification code provided was not valid.".to_owned(),
        ));
    }
    let mut core = mock.lock();
    let state = &mut core.state;
    let acceptance = state
        .access_tokens
        .get(access, now)
        .cloned()
        .ok_or_else(access_token_not_found)?;
    if let Some(grant) = state.request_tokens.get_mut(&key, now) {
        grant.used = true;
    }
    Ok(token_answer(access, &acceptance.secret, params))
}

/// `Special:OAuth/identify`: the JWT naming the access token's user.
fn identify(
    mock: &Mock<MediaWiki>,
    call: &Call<'_>,
    signed: &SignedRequest,
) -> Result<Response, Refusal> {
    let consumer = consumer(mock, signed)?;
    let now = mock.now();
    let key = signed
        .get("oauth_token")
        .filter(|k| !k.is_empty())
        .ok_or_else(access_token_not_found)?
        .to_owned();
    let acceptance = mock
        .lock()
        .state
        .access_tokens
        .get(&key, now)
        .filter(|acceptance| acceptance.consumer == consumer.key)
        .cloned()
        .ok_or_else(access_token_not_found)?;
    check_signature(
        mock,
        call,
        signed,
        &consumer,
        Some((&key, &acceptance.secret)),
    )?;
    let (user, tamper) = {
        let mut core = mock.lock();
        let user = core.state.users.get(&acceptance.user).cloned();
        let tamper = (!core.state.tamper.is_empty()).then(|| core.state.tamper.remove(0));
        (user, tamper)
    };
    let Some(user) = user else {
        return Err(Refusal::Keyed(
            "mwoauth-invalid-authorization-invalid-user",
            "The authorization headers in your request are for a user that does not exist here"
                .to_owned(),
        ));
    };
    if user.locked {
        return Err(Refusal::Keyed(
            "mwoauth-invalid-authorization-blocked-user",
            "The authorization headers in your request are for a user who is blocked".to_owned(),
        ));
    }
    let issuer = mock
        .personality()
        .canonical_server
        .clone()
        .unwrap_or_else(|| mock.origin().to_owned());
    let mut claims = statement(&user, &acceptance, &issuer, &consumer.key, now);
    claims.insert(
        "nonce".into(),
        json!(signed.get("oauth_nonce").unwrap_or_default()),
    );
    Ok(json_text(&signed_identity(
        claims,
        tamper,
        &consumer.secret,
        now,
    )))
}

/// `UserStatementProvider::getUserStatement`.
fn statement(
    user: &MockUser,
    acceptance: &Acceptance,
    issuer: &str,
    consumer_key: &str,
    now: i64,
) -> serde_json::Map<String, Value> {
    let mut claims = serde_json::Map::new();
    claims.insert("iss".into(), json!(issuer));
    claims.insert("aud".into(), json!(consumer_key));
    claims.insert("exp".into(), json!(now + IDENTITY_TTL));
    claims.insert("iat".into(), json!(now));
    claims.insert("sub".into(), json!(user.central_id.to_string()));
    if user.hidden {
        claims.insert("blocked".into(), json!(true));
        return claims;
    }
    claims.insert("username".into(), json!(user.username));
    claims.insert("editcount".into(), json!(user.editcount));
    claims.insert("confirmed_email".into(), json!(user.confirmed_email));
    claims.insert("email_verified".into(), json!(user.confirmed_email));
    claims.insert("blocked".into(), json!(user.blocked));
    claims.insert("registered".into(), json!(user.registered));
    claims.insert("groups".into(), json!(user.effective_groups()));
    claims.insert("rights".into(), json!(user.rights()));
    claims.insert("grants".into(), json!(acceptance.grants));
    if acceptance
        .grants
        .iter()
        .any(|grant| grant == "mwoauth-authonlyprivate")
    {
        claims.insert("realname".into(), json!(user.realname));
        let email = if user.confirmed_email {
            user.email.clone()
        } else {
            String::new()
        };
        claims.insert("email".into(), json!(email));
    }
    claims
}

fn signed_identity(
    mut claims: serde_json::Map<String, Value>,
    tamper: Option<IdentityTamper>,
    secret: &str,
    now: i64,
) -> String {
    let mut secret = secret.to_owned();
    match tamper {
        None => {}
        Some(IdentityTamper::WrongSecret) => secret = "not-the-consumer-secret".to_owned(),
        Some(IdentityTamper::WrongAudience) => {
            claims.insert("aud".into(), json!("another-consumer"));
        }
        Some(IdentityTamper::WrongIssuer) => {
            claims.insert("iss".into(), json!("https://evil.example"));
        }
        Some(IdentityTamper::Expired) => {
            claims.insert("iat".into(), json!(now - 3600));
            claims.insert("exp".into(), json!(now - 3600 + IDENTITY_TTL));
        }
        Some(IdentityTamper::IssuedInFuture) => {
            claims.insert("iat".into(), json!(now + 3600));
        }
        Some(IdentityTamper::WrongNonce) => {
            claims.insert("nonce".into(), json!("a-nonce-from-another-request"));
        }
        Some(IdentityTamper::NoExpiry) => {
            claims.remove("exp");
        }
        Some(IdentityTamper::Unsigned) => {
            use base64::Engine as _;
            let b64 =
                |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
            return format!(
                "{}.{}.",
                b64(&json!({"typ": "JWT", "alg": "none"})),
                b64(&Value::Object(claims))
            );
        }
    }
    crate::identity::sign_hs256(&Value::Object(claims), &secret)
}
