//! The hub as OAuth 2.0 / OpenID Connect provider: `{base_url}hub/api/oauth2/authorize`,
//! `token`, `userinfo`, `jwks`, and `{base_url}.well-known/openid-configuration`.
//!
//! Errors before the client and its redirect URI are known to be genuine (unknown
//! client, unregistered redirect URI) are shown as an error page and never redirected,
//! so the endpoint cannot be used as an open redirect. Token endpoint errors are JSON as
//! RFC 6749 §5.2 describes.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use hubauth_core::LoginKind;
use hubauth_store::{OAuthExchange, OAuthExchangeOutcome, OAuthGrantState, UserRecord};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{encode_query, redirect};
use crate::provider::grants::{self, CodeGrant, Kind, RefreshGrant};
use crate::provider::{self, IdTokenParams, Provider, ServiceConfig};
use crate::secrets::{hash_token, random_token};
use crate::services::{EndReason, SessionUser, StoredSession};
use crate::state::{AppState, HubState};
use crate::web::WebError;
use crate::web::session::resume_session;

/// The query of an authorization request.
#[derive(Debug, Deserialize, Default)]
pub struct AuthorizeQuery {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    prompt: Option<String>,
    max_age: Option<String>,
    /// Set by the hub itself on the way back from a forced login: when the user must
    /// have authenticated (see [`reauth_marker`]).
    hubauth_reauth: Option<String>,
}

fn provider_of(state: &HubState) -> Option<&Provider> {
    state.provider.as_ref()
}

fn not_found(_state: &HubState) -> Response {
    WebError::refused(
        StatusCode::NOT_FOUND,
        "This hub has no registered services, so it is not an OAuth provider.",
    )
    .into_response()
}

/// `GET {base_url}hub/api/oauth2/authorize`.
pub async fn authorize(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    query: Result<Query<AuthorizeQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(provider) = provider_of(&state) else {
        return not_found(&state);
    };
    let Ok(Query(query)) = query else {
        return page(
            &state,
            StatusCode::BAD_REQUEST,
            "The authorization request is malformed.",
        );
    };
    let request_uri = uri
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_default();
    authorize_request(&state, provider, &headers, &query, &request_uri, None)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// The user's answer on the consent page.
#[derive(Debug)]
struct Decision {
    allow: bool,
    xsrf: String,
}

/// `POST {base_url}hub/api/oauth2/authorize`: the consent page's answer. The request's
/// query is the original authorization request, checked again in full.
pub async fn authorize_post(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    query: Result<Query<AuthorizeQuery>, axum::extract::rejection::QueryRejection>,
    body: Bytes,
) -> Response {
    let Some(provider) = provider_of(&state) else {
        return not_found(&state);
    };
    let Ok(Query(query)) = query else {
        return page(
            &state,
            StatusCode::BAD_REQUEST,
            "The authorization request is malformed.",
        );
    };
    let mut decision = Decision {
        allow: false,
        xsrf: String::new(),
    };
    for (key, value) in url::form_urlencoded::parse(&body) {
        match key.as_ref() {
            "decision" => decision.allow = value == "allow",
            "_xsrf" => decision.xsrf = value.into_owned(),
            _ => {}
        }
    }
    let request_uri = uri
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_default();
    authorize_request(
        &state,
        provider,
        &headers,
        &query,
        &request_uri,
        Some(decision),
    )
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

#[derive(serde::Serialize)]
struct ConsentContext<'a> {
    hub_prefix: String,
    user: crate::pages::PageUser,
    service: &'a str,
    scopes: Vec<String>,
    action: &'a str,
    xsrf: String,
}

/// What a scope lets a service see, for the consent page.
fn describe_scope(scope: &str) -> String {
    match scope {
        "identify" => "your user name".to_owned(),
        "openid" => "an ID token saying who you are".to_owned(),
        "profile" => "your name and whether you are an admin".to_owned(),
        "email" => "your email address, when the hub knows it".to_owned(),
        "groups" => "the groups you belong to".to_owned(),
        other => format!("the permission {other}"),
    }
}

fn page(_state: &HubState, status: StatusCode, message: &str) -> Response {
    WebError::refused(status, message).into_response()
}

/// Where authorization errors go once client and redirect URI are trusted.
struct ClientRedirect<'a> {
    redirect_uri: &'a str,
    state: Option<&'a str>,
    issuer: String,
}

impl ClientRedirect<'_> {
    fn send(&self, params: &[(&str, &str)]) -> Response {
        let mut url = match url::Url::parse(self.redirect_uri) {
            Ok(url) => url,
            // Registered URIs were parsed at start-up; this cannot happen.
            Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        };
        {
            let mut pairs = url.query_pairs_mut();
            for (key, value) in params {
                pairs.append_pair(key, value);
            }
            if let Some(state) = self.state {
                pairs.append_pair("state", state);
            }
            pairs.append_pair("iss", &self.issuer);
        }
        redirect(url.as_str(), &[])
    }

    fn error(&self, error: &str, description: &str) -> Response {
        self.send(&[("error", error), ("error_description", description)])
    }
}

async fn authorize_request(
    state: &HubState,
    provider: &Provider,
    headers: &HeaderMap,
    query: &AuthorizeQuery,
    request_uri: &str,
    decision: Option<Decision>,
) -> Result<Response, WebError> {
    let Some(client) = query
        .client_id
        .as_deref()
        .and_then(|id| provider.client(id))
    else {
        tracing::info!("authorization request for an unknown client refused");
        return Err(WebError::refused(
            StatusCode::BAD_REQUEST,
            "Unknown OAuth client: this application is not registered with the hub.",
        ));
    };
    let (redirect_uri, redirect_uri_given) = match query.redirect_uri.as_deref() {
        Some(uri) if client.redirect_uris.iter().any(|r| r == uri) => (uri.to_owned(), true),
        Some(_) => {
            tracing::info!(client = %client.client_id, "authorization request with an unregistered redirect_uri refused");
            return Err(WebError::refused(
                StatusCode::BAD_REQUEST,
                "The redirect_uri is not registered for this application.",
            ));
        }
        None => match client.redirect_uris.as_slice() {
            [only] => (only.clone(), false),
            _ => {
                return Err(WebError::refused(
                    StatusCode::BAD_REQUEST,
                    "This application has several redirect URIs: the request must name one.",
                ));
            }
        },
    };
    let back = ClientRedirect {
        redirect_uri: &redirect_uri,
        state: query.state.as_deref(),
        issuer: provider::issuer(state, headers),
    };
    if query.response_type.as_deref() != Some("code") {
        return Ok(back.error(
            "unsupported_response_type",
            "only the authorization code flow (response_type=code) is supported",
        ));
    }
    let code_challenge = match (
        query.code_challenge.as_deref(),
        query.code_challenge_method.as_deref(),
    ) {
        (Some(challenge), Some("S256")) if is_pkce_value(challenge) && challenge.len() == 43 => {
            Some(challenge.to_owned())
        }
        (Some(_), Some("S256")) => {
            return Ok(back.error("invalid_request", "code_challenge is malformed"));
        }
        (Some(_), _) => {
            return Ok(back.error(
                "invalid_request",
                "code_challenge_method must be S256 (plain is not accepted)",
            ));
        }
        (None, Some(_)) => {
            return Ok(back.error(
                "invalid_request",
                "code_challenge_method without code_challenge",
            ));
        }
        (None, None) => None,
    };
    if code_challenge.is_none() && !client.is_confidential() {
        return Ok(back.error(
            "invalid_request",
            "PKCE (code_challenge with method S256) is required for public clients",
        ));
    }
    if query.nonce.as_deref().is_some_and(|n| n.len() > 512) {
        return Ok(back.error("invalid_request", "nonce is too long"));
    }
    let prompts: Vec<&str> = query
        .prompt
        .as_deref()
        .unwrap_or("")
        .split(' ')
        .filter(|p| !p.is_empty())
        .collect();
    let prompt = |value: &str| prompts.contains(&value);
    if prompt("none") && prompts.len() > 1 {
        return Ok(back.error(
            "invalid_request",
            "prompt=none cannot be combined with other prompt values",
        ));
    }
    let max_age = match query.max_age.as_deref().map(parse_max_age) {
        None => None,
        Some(Some(age)) => Some(age),
        Some(None) => {
            return Ok(back.error(
                "invalid_request",
                "max_age must be a whole number of seconds",
            ));
        }
    };
    let now = state.clock.now();
    let required = match query.hubauth_reauth.as_deref() {
        // A marker that does not check out can be met by no login: the user logs in again.
        Some(marker) => check_reauth_marker(state, &client.client_id, marker, now)
            .map_or(Freshness::Never, Freshness::After),
        None if prompt("login") => Freshness::Never,
        None => max_age.map_or(Freshness::Any, |age| {
            Freshness::Since(now.saturating_sub(age))
        }),
    };
    let current = match resume_session(state, headers, now).await? {
        Some(current) => state
            .store
            .get_session(&current.session_hash)
            .await?
            .filter(|session| session.is_valid_at(now))
            .map(|session| (current, session.created)),
        None => None,
    };
    let (current, auth_time) = match current {
        Some((current, auth_time))
            if required.met_by(state, &client.client_id, &current.session_hash, auth_time) =>
        {
            (current, auth_time)
        }
        stale => {
            if prompt("none") {
                return Ok(back.error(
                    "login_required",
                    "the user is not logged in to the hub, or not recently enough",
                ));
            }
            if matches!(required, Freshness::Any) {
                return Ok(redirect(&login_url(state, request_uri, false), &[]));
            }
            // Back from the login, the request carries a marker saying which login must
            // have happened, and no longer prompt=login, so that it does not loop.
            let stale_session = stale
                .as_ref()
                .map(|(current, _)| current.session_hash.as_str());
            let marker = reauth_marker(state, &client.client_id, now, stale_session);
            if stale.is_some() {
                tracing::info!(client = %client.client_id, "the service asked for a fresh login (prompt=login or max_age); sending the user to log in again");
            }
            return Ok(redirect(
                &login_url(state, &reauth_url(request_uri, &marker), stale.is_some()),
                &[],
            ));
        }
    };
    let scopes = provider::grant_scopes(client, query.scope.as_deref());
    let scopes = provider::held_by_user(state, &current.user, scopes).await?;
    let xsrf = crate::csrf::form_token(&state.secret, &current.session_hash);
    match decision {
        Some(decision) => {
            if !crate::csrf::check(&state.secret, &current.session_hash, &decision.xsrf) {
                return Err(WebError::refused(
                    StatusCode::FORBIDDEN,
                    "This authorization form expired or was not sent by this hub. Please try again.",
                ));
            }
            if !decision.allow {
                tracing::info!(client = %client.client_id, user = %current.user.name, "the user denied a service access");
                return Ok(back.error("access_denied", "the user denied access"));
            }
        }
        None if !client.no_confirm || prompt("consent") => {
            if prompt("none") {
                return Ok(back.error("consent_required", "the user has not yet agreed"));
            }
            let body = state.pages.render(
                "oauth2_authorize.html",
                ConsentContext {
                    hub_prefix: state.hub_prefix(),
                    user: crate::pages::PageUser {
                        name: current.user.name.clone(),
                        admin: current.user.admin,
                        groups: current.user.groups.clone(),
                    },
                    service: &client.name,
                    scopes: scopes.iter().map(|s| describe_scope(s)).collect(),
                    action: request_uri,
                    xsrf,
                },
            )?;
            let mut response = super::html(StatusCode::OK, body, &[]);
            // The consent page must not be framed (clickjacking).
            response
                .headers_mut()
                .insert("x-frame-options", HeaderValue::from_static("DENY"));
            response.headers_mut().insert(
                "content-security-policy",
                HeaderValue::from_static("frame-ancestors 'none'"),
            );
            return Ok(response);
        }
        None => {}
    }
    let code = random_token();
    let grant = CodeGrant {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.clone(),
        redirect_uri_given,
        user: current.user.name.clone(),
        scopes,
        nonce: query.nonce.clone(),
        code_challenge,
        auth_time,
        session: current.session_hash.clone(),
    };
    // Expired families are deleted by the periodic clean-up (purge_expired_interval).
    grants::put_code(state.store.as_ref(), &code, &grant, now)
        .await
        .map_err(grant_error)?;
    tracing::info!(client = %client.client_id, user = %current.user.name, "issued an authorization code");
    Ok(back.send(&[("code", &code)]))
}

/// Where a visitor without a session goes: the login page with `next` back to this
/// request, or with `auto_login_oauth2_authorize` straight into the authenticator's login.
/// `force` makes the login page ask a user who is logged in to log in again.
fn login_url(state: &HubState, next: &str, force: bool) -> String {
    let next = format!("?next={}", encode_query(next));
    let rules = state.authenticator.rules().config();
    if rules.auto_login_oauth2_authorize
        && let LoginKind::Redirect { login_path, .. } = state.authenticator.kind()
    {
        return format!("{}{login_path}{next}", state.hub_prefix());
    }
    let force = if force { "&prompt=login" } else { "" };
    format!("{}login{next}{force}", state.hub_prefix())
}

/// `max_age` as seconds: digits only (a huge value is no limit); `None` when malformed.
fn parse_max_age(value: &str) -> Option<i64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        value
            .parse::<u64>()
            .map_or(i64::MAX, |age| i64::try_from(age).unwrap_or(i64::MAX)),
    )
}

/// How long the way through a forced login may take.
const REAUTH_TTL: i64 = 600;

/// How recent the user's authentication must be for an authorize request.
enum Freshness {
    /// Any login will do.
    Any,
    /// A login at or after this time (`max_age`).
    Since(i64),
    /// A login after the hub sent the user to log in again (a checked marker).
    After(ReauthMarker),
    /// No login so far: the user must log in again (`prompt=login`, a bad marker).
    Never,
}

impl Freshness {
    /// Whether the session `session_hash`, started at `auth_time`, is recent enough.
    fn met_by(
        &self,
        state: &HubState,
        client_id: &str,
        session_hash: &str,
        auth_time: i64,
    ) -> bool {
        match self {
            Freshness::Any => true,
            Freshness::Since(since) => auth_time >= *since,
            // The session must also be another one than the user had when sent to log in:
            // a login within the same second would otherwise be taken for the fresh one.
            Freshness::After(marker) => {
                auth_time >= marker.since
                    && !constant_eq(
                        &marker.stale,
                        &reauth_mac(state, "stale", client_id, marker.since, session_hash),
                    )
            }
            Freshness::Never => false,
        }
    }
}

/// What a checked `hubauth_reauth` marker says.
struct ReauthMarker {
    /// When the hub sent the user to log in.
    since: i64,
    /// MAC of the session the user had then (of no session: the empty string).
    stale: Vec<u8>,
}

fn reauth_mac(state: &HubState, part: &str, client_id: &str, since: i64, extra: &str) -> Vec<u8> {
    use hmac::{Hmac, Mac};
    type HmacSha256 = Hmac<sha2::Sha256>;
    let mut mac = <HmacSha256 as Mac>::new_from_slice(state.secret.bytes())
        .unwrap_or_else(|_| <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default()));
    mac.update(format!("hubauth-oauth2-reauth-{part}\n{client_id}\n{since}\n{extra}").as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The `hubauth_reauth` value of an authorize request sent through a forced login at
/// `since`: the time, its MAC under the cookie secret bound to the client, and a MAC of
/// the session the user had (which the fresh login must replace), hex.
fn reauth_marker(state: &HubState, client_id: &str, since: i64, stale: Option<&str>) -> String {
    format!(
        "{since}.{}.{}",
        hex::encode(reauth_mac(state, "time", client_id, since, "")),
        hex::encode(reauth_mac(
            state,
            "stale",
            client_id,
            since,
            stale.unwrap_or("")
        ))
    )
}

/// The marker's content, when it is the hub's own for this client and recent; `None`
/// otherwise.
fn check_reauth_marker(
    state: &HubState,
    client_id: &str,
    marker: &str,
    now: i64,
) -> Option<ReauthMarker> {
    let mut parts = marker.split('.');
    let (since, mac, stale) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || since.is_empty() || !since.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let since: i64 = since.parse().ok()?;
    let mac = hex::decode(mac).ok()?;
    let stale = hex::decode(stale).ok()?;
    let recent = since <= now && now.saturating_sub(since) <= REAUTH_TTL;
    let genuine = constant_eq(&mac, &reauth_mac(state, "time", client_id, since, ""));
    (recent && genuine).then_some(ReauthMarker { since, stale })
}

/// The authorize request `request_uri` to come back to after a forced login: without
/// `prompt=login` (other prompt values stay) and with the marker instead.
fn reauth_url(request_uri: &str, marker: &str) -> String {
    let (path, query) = request_uri.split_once('?').unwrap_or((request_uri, ""));
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "hubauth_reauth" => {}
            "prompt" => {
                let rest: Vec<&str> = value
                    .split(' ')
                    .filter(|p| !p.is_empty() && *p != "login")
                    .collect();
                if !rest.is_empty() {
                    out.append_pair("prompt", &rest.join(" "));
                }
            }
            _ => {
                out.append_pair(&key, &value);
            }
        }
    }
    out.append_pair("hubauth_reauth", marker);
    format!("{path}?{}", out.finish())
}

fn is_pkce_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

fn grant_error(err: grants::GrantError) -> WebError {
    match err {
        grants::GrantError::Store(err) => WebError::from(err),
        grants::GrantError::Malformed(message) => WebError::Signing(message),
    }
}

/// An RFC 6749 §5.2 error response.
fn token_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response();
    no_store(&mut response);
    response
}

fn no_store(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
        .headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

fn invalid_grant(description: &str) -> Response {
    token_error(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

fn invalid_request(description: &str) -> Response {
    token_error(StatusCode::BAD_REQUEST, "invalid_request", description)
}

/// `POST {base_url}hub/api/oauth2/token`.
pub async fn token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    client_request(&state, &headers, &body, ClientEndpoint::Token).await
}

/// The endpoints a client calls with its credentials in a form.
#[derive(Debug, Clone, Copy)]
enum ClientEndpoint {
    Token,
    Revoke,
}

/// Parses the form, authenticates the client and runs `endpoint`; errors become the
/// endpoints' JSON error answers.
async fn client_request(
    state: &HubState,
    headers: &HeaderMap,
    body: &[u8],
    endpoint: ClientEndpoint,
) -> Response {
    let Some(provider) = provider_of(state) else {
        return token_error(
            StatusCode::NOT_FOUND,
            "invalid_request",
            "this hub has no registered services",
        );
    };
    let answer = async {
        let form = match parse_form(body) {
            Ok(form) => form,
            Err(message) => return Ok(invalid_request(&message)),
        };
        let client = match authenticate_client(provider, headers, &form) {
            Ok(client) => client,
            Err(refused) => return Ok(*refused),
        };
        match endpoint {
            ClientEndpoint::Token => grant(state, provider, client, headers, &form).await,
            ClientEndpoint::Revoke => revoke_token(state, client, &form).await,
        }
    };
    match answer.await {
        Ok(response) => response,
        Err(err) => {
            let (status, message) = err.status_and_message();
            if status.is_server_error() {
                tracing::error!(error = %err, endpoint = ?endpoint, "OAuth client request failed");
            }
            token_error(status, "server_error", &message)
        }
    }
}

/// The form fields of a token request; a repeated field is an error (RFC 6749 §3.2).
fn parse_form(body: &[u8]) -> Result<std::collections::BTreeMap<String, String>, String> {
    let mut fields = std::collections::BTreeMap::new();
    for (key, value) in url::form_urlencoded::parse(body) {
        if fields.insert(key.to_string(), value.to_string()).is_some() {
            return Err(format!("the parameter {key} is repeated"));
        }
    }
    Ok(fields)
}

/// Client credentials as presented.
struct Credentials {
    /// The client ids the request may mean, in order of preference.
    client_ids: Vec<String>,
    /// The secrets the request may mean; `None` when it sent no secret.
    secrets: Option<Vec<String>>,
    /// Whether they came in `Authorization: Basic`.
    basic: bool,
}

/// RFC 6749 §2.3.1's encoding of a Basic credential part undone (`+` is a space, `%XX`
/// a byte); `None` when that is not UTF-8.
fn form_decode(part: &str) -> Option<String> {
    percent_encoding::percent_decode_str(&part.replace('+', " "))
        .decode_utf8()
        .ok()
        .map(|decoded| decoded.into_owned())
}

/// A credential part as RFC 6749 §2.3.1 says to send it (form-encoded) and as widely
/// used client libraries send it (raw): both readings, the decoded one first.
fn both_readings(part: &str) -> Vec<String> {
    let mut readings = Vec::with_capacity(2);
    if let Some(decoded) = form_decode(part) {
        readings.push(decoded);
    }
    if !readings.iter().any(|r| r == part) {
        readings.push(part.to_owned());
    }
    readings
}

/// The client credentials of a token request: from `Authorization: Basic` or from the
/// body, never both.
fn client_credentials(
    headers: &HeaderMap,
    form: &std::collections::BTreeMap<String, String>,
) -> Result<Credentials, &'static str> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, rest) = value.split_once(' ')?;
            scheme.eq_ignore_ascii_case("basic").then(|| rest.trim())
        });
    if let Some(encoded) = basic {
        if form.contains_key("client_secret") {
            return Err("use one client authentication method, not two");
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or("the Basic credentials are malformed")?;
        // Client ids never contain ':', so the first one ends the id; the secret may hold
        // more.
        let (id, secret) = decoded
            .split_once(':')
            .ok_or("the Basic credentials are malformed")?;
        let client_ids = both_readings(id);
        if let Some(form_id) = form.get("client_id")
            && !client_ids.contains(form_id)
        {
            return Err("client_id does not match the Basic credentials");
        }
        return Ok(Credentials {
            client_ids,
            secrets: Some(both_readings(secret)),
            basic: true,
        });
    }
    let id = form
        .get("client_id")
        .cloned()
        .ok_or("client authentication is required (client_id)")?;
    Ok(Credentials {
        client_ids: vec![id],
        secrets: form.get("client_secret").map(|secret| vec![secret.clone()]),
        basic: false,
    })
}

/// The registered client a token or revocation request authenticates as, or the error
/// answer (`invalid_request` for malformed credentials, `invalid_client` for wrong ones).
fn authenticate_client<'p>(
    provider: &'p Provider,
    headers: &HeaderMap,
    form: &std::collections::BTreeMap<String, String>,
) -> Result<&'p ServiceConfig, Box<Response>> {
    let credentials =
        client_credentials(headers, form).map_err(|message| Box::new(invalid_request(message)))?;
    let unauthorized = |description: &str| {
        let mut response = token_error(StatusCode::UNAUTHORIZED, "invalid_client", description);
        if credentials.basic {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"hubauth\""),
            );
        }
        response
    };
    let Some(client) = credentials
        .client_ids
        .iter()
        .find_map(|id| provider.client(id))
    else {
        tracing::info!("request from an unknown OAuth client refused");
        return Err(Box::new(unauthorized("unknown client")));
    };
    match (&client.client_secret, &credentials.secrets) {
        (Some(expected), Some(presented)) => {
            // Every reading is compared, each in constant time, so the time taken does not
            // tell which one matched.
            let matched = presented
                .iter()
                .fold(false, |matched, secret| expected.matches(secret) | matched);
            if matched {
                Ok(client)
            } else {
                tracing::info!(client = %client.client_id, "request with a wrong client secret refused");
                Err(Box::new(unauthorized("client authentication failed")))
            }
        }
        (Some(_), None) => {
            tracing::info!(client = %client.client_id, "request without the client secret refused");
            Err(Box::new(unauthorized("client authentication failed")))
        }
        (None, None) => Ok(client),
        (None, Some(_)) => Err(Box::new(unauthorized(
            "this client is public and has no secret",
        ))),
    }
}

/// `POST {base_url}hub/api/oauth2/revoke`: a service revokes an access or refresh token
/// it was issued (RFC 7009), for example when its user logs out of it. Revoking a refresh
/// token also revokes the access token issued with it. An unknown, expired or already
/// revoked token is answered 200 like a revoked one, as the RFC asks.
pub async fn revoke(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    client_request(&state, &headers, &body, ClientEndpoint::Revoke).await
}

async fn revoke_token(
    state: &HubState,
    client: &ServiceConfig,
    form: &std::collections::BTreeMap<String, String>,
) -> Result<Response, WebError> {
    let Some(token) = form
        .get("token")
        .filter(|token| !token.is_empty() && token.len() <= 256)
    else {
        return Ok(invalid_request("token is required"));
    };
    // The hint only orders the lookups (RFC 7009 §2.1); both kinds are tried.
    let refresh_first = form.get("token_type_hint").map(String::as_str) == Some("refresh_token");
    for refresh in [refresh_first, !refresh_first] {
        let outcome = if refresh {
            revoke_refresh_token(state, client, token).await?
        } else {
            revoke_access_token(state, client, token).await?
        };
        match outcome {
            Revocation::NotFound => continue,
            Revocation::Revoked => break,
            Revocation::OtherClient => {
                return Ok(invalid_request("the token was issued to another client"));
            }
        }
    }
    let mut response = StatusCode::OK.into_response();
    no_store(&mut response);
    Ok(response)
}

/// What a revocation found.
enum Revocation {
    NotFound,
    Revoked,
    OtherClient,
}

async fn revoke_refresh_token(
    state: &HubState,
    client: &ServiceConfig,
    token: &str,
) -> Result<Revocation, WebError> {
    let found: Option<grants::Found<RefreshGrant>> =
        grants::find(state.store.as_ref(), Kind::Refresh, token)
            .await
            .map_err(grant_error)?;
    let Some(found) = found else {
        return Ok(Revocation::NotFound);
    };
    if found.grant.client_id != client.client_id {
        // Refused and left as it is: a client cannot revoke another client's grant.
        tracing::warn!(client = %client.client_id, "a refresh token issued to another client was presented for revocation; refused");
        return Ok(Revocation::OtherClient);
    }
    // The grant goes with everything issued under it (RFC 7009 §2.1).
    state
        .store
        .revoke_oauth_family(&found.record.family)
        .await?;
    tracing::info!(client = %client.client_id, user = %found.grant.user, "revoked a refresh token with its family of tokens");
    Ok(Revocation::Revoked)
}

async fn revoke_access_token(
    state: &HubState,
    client: &ServiceConfig,
    token: &str,
) -> Result<Revocation, WebError> {
    let Some(record) = state.store.find_api_token(&hash_token(token)).await? else {
        return Ok(Revocation::NotFound);
    };
    if provider::token_client(&record.note) != Some(client.client_id.as_str()) {
        return Ok(Revocation::OtherClient);
    }
    state
        .store
        .delete_api_token(&record.user, record.id)
        .await?;
    tracing::info!(client = %client.client_id, user = %record.user, "revoked an access token");
    Ok(Revocation::Revoked)
}

/// The token endpoint's grants, for an authenticated client.
async fn grant(
    state: &HubState,
    provider: &Provider,
    client: &ServiceConfig,
    headers: &HeaderMap,
    form: &std::collections::BTreeMap<String, String>,
) -> Result<Response, WebError> {
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => redeem_code(state, provider, client, headers, form).await,
        Some("refresh_token") => refresh(state, provider, client, headers, form).await,
        Some(_) => Ok(token_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token",
        )),
        None => Ok(invalid_request("grant_type is required")),
    }
}

/// The answer to a code or refresh token that is not (or no longer) valid; the same
/// whatever the reason, so that it tells an attacker nothing.
fn spent_code() -> Response {
    invalid_grant("the code is invalid, expired or already used")
}

fn spent_refresh_token() -> Response {
    invalid_grant("the refresh token is invalid, expired or already used")
}

/// The grant `value` names when it is active and unexpired; `None` when it is unknown,
/// expired or spent. A spent one presented again revokes its whole family (RFC 6749
/// §4.1.2 for codes, RFC 9700 §4.14.2 for refresh tokens).
async fn active_grant<T: serde::de::DeserializeOwned>(
    state: &HubState,
    client: &ServiceConfig,
    kind: Kind,
    value: &str,
    now: i64,
    user_of: impl Fn(&T) -> &str,
) -> Result<Option<grants::Found<T>>, WebError> {
    let found: Option<grants::Found<T>> = grants::find(state.store.as_ref(), kind, value)
        .await
        .map_err(grant_error)?;
    let Some(found) = found else {
        return Ok(None);
    };
    if found.record.state != OAuthGrantState::Active {
        let revoked = state
            .store
            .revoke_oauth_family(&found.record.family)
            .await?;
        let what = match kind {
            Kind::Code => "an authorization code",
            Kind::Refresh => "a refresh token",
        };
        tracing::warn!(client = %client.client_id, user = user_of(&found.grant), revoked, "{what} was presented again after its use; revoked every token issued from it");
        return Ok(None);
    }
    Ok(found.record.is_usable_at(now).then_some(found))
}

async fn redeem_code(
    state: &HubState,
    provider: &Provider,
    client: &ServiceConfig,
    headers: &HeaderMap,
    form: &std::collections::BTreeMap<String, String>,
) -> Result<Response, WebError> {
    let Some(code) = form
        .get("code")
        .filter(|code| !code.is_empty() && code.len() <= 256)
    else {
        return Ok(invalid_request("code is required"));
    };
    let now = state.clock.now();
    let found = active_grant(state, client, Kind::Code, code, now, |g: &CodeGrant| {
        &g.user
    })
    .await?;
    let Some(grants::Found { grant, .. }) = found else {
        return Ok(spent_code());
    };
    if grant.client_id != client.client_id {
        tracing::warn!(client = %client.client_id, "a code issued to another client was presented");
        return Ok(invalid_grant("the code was issued to another client"));
    }
    match form.get("redirect_uri") {
        Some(uri) if *uri != grant.redirect_uri => {
            return Ok(invalid_grant(
                "redirect_uri does not match the authorization request",
            ));
        }
        None if grant.redirect_uri_given => {
            return Ok(invalid_grant(
                "redirect_uri is required: the authorization request named one",
            ));
        }
        _ => {}
    }
    match (&grant.code_challenge, form.get("code_verifier")) {
        (Some(challenge), Some(verifier)) => {
            if !(43..=128).contains(&verifier.len()) || !is_pkce_value(verifier) {
                return Ok(invalid_grant("code_verifier is malformed"));
            }
            let computed = pkce_s256(verifier);
            if !constant_eq(computed.as_bytes(), challenge.as_bytes()) {
                return Ok(invalid_grant(
                    "code_verifier does not match the code_challenge",
                ));
            }
        }
        (Some(_), None) => return Ok(invalid_grant("code_verifier is required")),
        (None, Some(_)) => {
            return Ok(invalid_grant(
                "code_verifier sent, but the authorization request had no code_challenge",
            ));
        }
        (None, None) => {}
    }
    if !session_alive(state, &grant.session, now).await? {
        return Ok(invalid_grant(
            "the user's login session at the hub has ended; log in again",
        ));
    }
    let Some(user) = provider::active_user(state, &grant.user).await? else {
        return Ok(invalid_grant("the user no longer exists or is blocked"));
    };
    let granted = Granted {
        client,
        user: &user,
        scopes: &grant.scopes,
        session: &grant.session,
        auth_time: grant.auth_time,
    };
    let Some(tokens) = exchange(state, &granted, Kind::Code, code, now).await? else {
        return Ok(spent_code());
    };
    tracing::info!(client = %client.client_id, user = %user.name, "issued an access token for an authorization code");
    token_response(
        state,
        provider,
        headers,
        &granted,
        &tokens,
        grant.nonce.as_deref(),
        now,
    )
}

/// Whether the hub session a grant descends from is still valid.
async fn session_alive(state: &HubState, session: &str, now: i64) -> Result<bool, WebError> {
    Ok(state
        .store
        .get_session(session)
        .await?
        .is_some_and(|session| session.is_valid_at(now)))
}

/// A refresh request is checked in full before its refresh token is used, so that a
/// request that fails (another client, wider scopes, a user blocked since) leaves the
/// token as it was.
async fn refresh(
    state: &HubState,
    provider: &Provider,
    client: &ServiceConfig,
    headers: &HeaderMap,
    form: &std::collections::BTreeMap<String, String>,
) -> Result<Response, WebError> {
    let Some(presented) = form
        .get("refresh_token")
        .filter(|token| !token.is_empty() && token.len() <= 256)
    else {
        return Ok(invalid_request("refresh_token is required"));
    };
    let now = state.clock.now();
    let found = active_grant(
        state,
        client,
        Kind::Refresh,
        presented,
        now,
        |g: &RefreshGrant| &g.user,
    )
    .await?;
    let Some(grants::Found { grant, .. }) = found else {
        return Ok(spent_refresh_token());
    };
    if grant.client_id != client.client_id {
        tracing::warn!(client = %client.client_id, "a refresh token issued to another client was presented");
        return Ok(invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    let scopes = match form.get("scope") {
        None => grant.scopes.clone(),
        Some(asked) => {
            let narrowed: Vec<String> = asked
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            if narrowed.iter().any(|s| !grant.scopes.contains(s)) {
                return Ok(token_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    "a refresh may only narrow the granted scopes",
                ));
            }
            let mut scopes = vec!["identify".to_owned()];
            scopes.extend(narrowed.into_iter().filter(|s| s != "identify"));
            scopes
        }
    };
    if !session_alive(state, &grant.session, now).await? {
        return Ok(invalid_grant(
            "the user's login session at the hub has ended; log in again",
        ));
    }
    let Some(user) = provider::active_user(state, &grant.user).await? else {
        return Ok(invalid_grant("the user no longer exists or is blocked"));
    };
    let granted = Granted {
        client,
        user: &user,
        scopes: &scopes,
        session: &grant.session,
        auth_time: grant.auth_time,
    };
    let Some(tokens) = exchange(state, &granted, Kind::Refresh, presented, now).await? else {
        return Ok(spent_refresh_token());
    };
    tracing::info!(client = %client.client_id, user = %user.name, "refreshed an access token");
    token_response(state, provider, headers, &granted, &tokens, None, now)
}

/// What a token request is answered with, once its code or refresh token checked out.
struct Granted<'a> {
    client: &'a ServiceConfig,
    user: &'a UserRecord,
    scopes: &'a [String],
    /// Hash of the hub session the grant descends from.
    session: &'a str,
    /// When the user last authenticated at the hub.
    auth_time: i64,
}

/// The tokens issued for one token request.
struct NewTokens {
    access_token: String,
    expires_in: i64,
    refresh_token: String,
}

/// Uses the code or refresh token `presented` (of `kind`) once, issuing an access token
/// and the next refresh token of its family for `granted`, in one store transaction.
/// `None` when it was not usable after all: expired meanwhile, or used by a concurrent
/// request first, in which case the store revoked the family, the other request's tokens
/// included.
async fn exchange(
    state: &HubState,
    granted: &Granted<'_>,
    kind: Kind,
    presented: &str,
    now: i64,
) -> Result<Option<NewTokens>, WebError> {
    let access = provider::new_access_token(
        state,
        granted.client,
        &granted.user.name,
        granted.scopes,
        granted.session,
        now,
    );
    let refresh_token = random_token();
    let refresh = grants::new_refresh(
        &refresh_token,
        &RefreshGrant {
            client_id: granted.client.client_id.clone(),
            user: granted.user.name.clone(),
            scopes: granted.scopes.to_vec(),
            auth_time: granted.auth_time,
            session: granted.session.to_owned(),
        },
        now,
        now.saturating_add(refresh_lifetime(state)),
    )
    .map_err(grant_error)?;
    let outcome = state
        .store
        .exchange_oauth_grant(OAuthExchange {
            hash: grants::key(kind, presented),
            kind: kind.stored(),
            now,
            access_token: access.record,
            refresh,
        })
        .await?;
    match outcome {
        OAuthExchangeOutcome::Issued(_) => Ok(Some(NewTokens {
            access_token: access.token,
            expires_in: access.expires_in,
            refresh_token,
        })),
        OAuthExchangeOutcome::Replayed { revoked_tokens } => {
            tracing::warn!(client = %granted.client.client_id, user = %granted.user.name, revoked = revoked_tokens, "two requests used the same grant at once; revoked every token issued from it");
            Ok(None)
        }
        OAuthExchangeOutcome::Invalid => Ok(None),
    }
}

/// The token endpoint's answer for `tokens`, with an ID token (carrying `nonce`) when
/// `openid` was granted.
fn token_response(
    state: &HubState,
    provider: &Provider,
    headers: &HeaderMap,
    granted: &Granted<'_>,
    tokens: &NewTokens,
    nonce: Option<&str>,
    now: i64,
) -> Result<Response, WebError> {
    let id_token = if granted.scopes.iter().any(|s| s == "openid") {
        Some(provider::id_token(
            provider,
            granted.user,
            IdTokenParams {
                issuer: &provider::issuer(state, headers),
                client_id: &granted.client.client_id,
                alg: granted.client.id_token_alg,
                nonce,
                auth_time: granted.auth_time,
                access_token: &tokens.access_token,
                now,
            },
        )?)
    } else {
        None
    };
    let mut body = json!({
        "access_token": tokens.access_token,
        "token_type": "Bearer",
        "expires_in": tokens.expires_in,
        "refresh_token": tokens.refresh_token,
        "scope": granted.scopes.join(" "),
    });
    if let (Some(id_token), Value::Object(map)) = (id_token, &mut body) {
        map.insert("id_token".into(), json!(id_token));
    }
    let mut response = (StatusCode::OK, Json(body)).into_response();
    no_store(&mut response);
    Ok(response)
}

/// How long a refresh token is accepted: twice the access token's lifetime, so that a
/// client can renew an expired access token.
fn refresh_lifetime(state: &HubState) -> i64 {
    state.config.oauth_token_expires_in.saturating_mul(2)
}

/// BASE64URL(SHA256(verifier)) without padding (RFC 7636 §4.2).
fn pkce_s256(verifier: &str) -> String {
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// A bearer token from `Authorization: Bearer ...` (or JupyterHub's `token ...`).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
        .then(|| token.trim())
        .filter(|token| !token.is_empty() && token.len() <= 256)
}

fn bearer_error(error: &str, description: &str) -> Response {
    let mut response = (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response();
    let challenge = format!("Bearer error=\"{error}\"");
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    no_store(&mut response);
    response
}

/// `GET/POST {base_url}hub/api/oauth2/userinfo`: the claims of the token's user.
pub async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if provider_of(&state).is_none() {
        return not_found(&state);
    }
    match userinfo_claims(&state, &headers).await {
        Ok(response) => response,
        Err(err) => {
            let (status, message) = err.status_and_message();
            if status.is_server_error() {
                tracing::error!(error = %err, "userinfo request failed");
            }
            token_error(status, "server_error", &message)
        }
    }
}

async fn userinfo_claims(state: &HubState, headers: &HeaderMap) -> Result<Response, WebError> {
    let Some(token) = bearer(headers) else {
        return Ok(bearer_error(
            "invalid_request",
            "a bearer token is required",
        ));
    };
    let now = state.clock.now();
    let Some(record) = state.store.find_api_token(&hash_token(token)).await? else {
        return Ok(bearer_error(
            "invalid_token",
            "the token is invalid or expired",
        ));
    };
    if !record.is_valid_at(now) {
        return Ok(bearer_error(
            "invalid_token",
            "the token is invalid or expired",
        ));
    }
    if !record
        .scopes
        .iter()
        .any(|s| s == "openid" || s == "identify")
    {
        return Ok(bearer_error(
            "insufficient_scope",
            "the token has no openid or identify scope",
        ));
    }
    let Some(user) = provider::active_user(state, &record.user).await? else {
        return Ok(bearer_error(
            "invalid_token",
            "the token's user no longer exists or is blocked",
        ));
    };
    state.store.touch_api_token(record.id, now).await?;
    let mut response = (
        StatusCode::OK,
        Json(Value::Object(provider::user_claims(&user))),
    )
        .into_response();
    no_store(&mut response);
    Ok(response)
}

/// `GET {base_url}hub/api/oauth2/jwks`: the public signing keys (RS256 and ES256).
pub async fn jwks(State(state): State<AppState>) -> Response {
    match provider_of(&state) {
        Some(provider) => Json(provider.key.jwks()).into_response(),
        None => not_found(&state),
    }
}

/// `GET {base_url}.well-known/openid-configuration`: OpenID Connect discovery.
pub async fn discovery(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if provider_of(&state).is_none() {
        return not_found(&state);
    }
    let base = provider::endpoint_base(&state, &headers);
    Json(json!({
        "issuer": provider::issuer(&state, &headers),
        "authorization_endpoint": format!("{base}authorize"),
        "token_endpoint": format!("{base}token"),
        "userinfo_endpoint": format!("{base}userinfo"),
        "jwks_uri": format!("{base}jwks"),
        "end_session_endpoint": format!("{base}logout"),
        "revocation_endpoint": format!("{base}revoke"),
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": provider::keys::ID_TOKEN_ALGS.iter().map(|alg| alg.name()).collect::<Vec<_>>(),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": provider::BASE_SCOPES,
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "azp", "at_hash", "name", "preferred_username", "groups", "admin"],
        "authorization_response_iss_parameter_supported": true,
    }))
    .into_response()
}

/// The query of an RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).
#[derive(Debug, Deserialize, Default)]
pub struct EndSessionQuery {
    id_token_hint: Option<String>,
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

/// `GET {base_url}hub/api/oauth2/logout`: a service ends the user's hub session (single
/// logout), then the browser goes to the client's registered `post_logout_redirect_uri`,
/// or to the hub's login page. Unregistered URIs and foreign or forged ID token hints get
/// an error page, never a redirect. Only an `id_token_hint` issued in the current session
/// proves the request comes from a service the user signed in to; without one (or with one
/// for another user or session) the user is asked first, on a page whose form POSTs back
/// here with the session's form token, so another site cannot sign the user out with a
/// link or an image.
pub async fn end_session(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    query: Result<Query<EndSessionQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    end_session_request(&state, &uri, &headers, query, None).await
}

/// `POST {base_url}hub/api/oauth2/logout`: the confirmation page's answer; the query is the
/// original logout request, checked again in full.
pub async fn end_session_post(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    query: Result<Query<EndSessionQuery>, axum::extract::rejection::QueryRejection>,
    body: Bytes,
) -> Response {
    let submitted = super::logout::form_xsrf(&body);
    end_session_request(&state, &uri, &headers, query, Some(submitted)).await
}

async fn end_session_request(
    state: &HubState,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    query: Result<Query<EndSessionQuery>, axum::extract::rejection::QueryRejection>,
    submitted: Option<String>,
) -> Response {
    let Some(provider) = provider_of(state) else {
        return not_found(state);
    };
    let Ok(Query(query)) = query else {
        return page(
            state,
            StatusCode::BAD_REQUEST,
            "The logout request is malformed.",
        );
    };
    let request_uri = uri
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_default();
    end_session_checked(state, provider, headers, &query, &request_uri, submitted)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn end_session_checked(
    state: &HubState,
    provider: &Provider,
    headers: &HeaderMap,
    query: &EndSessionQuery,
    request_uri: &str,
    submitted: Option<String>,
) -> Result<Response, WebError> {
    let bad = |message: &str| Err(WebError::refused(StatusCode::BAD_REQUEST, message));
    let hint = match query.id_token_hint.as_deref() {
        Some(token) => match provider
            .key
            .verify_own(token, &provider::issuer(state, headers))
        {
            Some(claims) => Some(claims),
            None => return bad("The id_token_hint was not issued by this hub."),
        },
        None => None,
    };
    let hinted_client = hint
        .as_ref()
        .and_then(|claims| claims.get("aud"))
        .and_then(Value::as_str);
    let client_id = match (hinted_client, query.client_id.as_deref()) {
        (Some(a), Some(b)) if a != b => {
            return bad("client_id does not match the id_token_hint.");
        }
        (Some(id), _) | (None, Some(id)) => Some(id),
        (None, None) => None,
    };
    let client = match client_id {
        Some(id) => match provider.client(id) {
            Some(client) => Some(client),
            None => {
                return bad(
                    "Unknown OAuth client: this application is not registered with the hub.",
                );
            }
        },
        None => None,
    };
    let after = match (query.post_logout_redirect_uri.as_deref(), client) {
        (None, _) => None,
        (Some(uri), Some(client)) if client.post_logout_redirect_uris.iter().any(|u| u == uri) => {
            Some(uri)
        }
        (Some(_), Some(_)) => {
            return bad("The post_logout_redirect_uri is not registered for this application.");
        }
        (Some(_), None) => {
            return bad("A post_logout_redirect_uri needs an id_token_hint or client_id.");
        }
    };
    let current = resume_session(state, headers, state.clock.now()).await?;
    let mut cookies = Vec::new();
    if let Some(current) = current {
        let proven = match &hint {
            Some(claims) => hint_fits_session(state, claims, &current).await?,
            None => false,
        };
        if !proven {
            let service = client.map(|client| client.name.as_str());
            let confirming = StoredSession::from(&current);
            match submitted {
                None => {
                    return super::logout::confirm_page(
                        state,
                        &confirming,
                        StatusCode::OK,
                        request_uri,
                        service,
                        "",
                    );
                }
                Some(submitted)
                    if !crate::csrf::check_session_token(
                        &state.secret,
                        &current.session_hash,
                        &submitted,
                    ) =>
                {
                    tracing::warn!(user = %current.user.name, "refused an end-session post without this session's form token");
                    return super::logout::confirm_page(
                        state,
                        &confirming,
                        StatusCode::FORBIDDEN,
                        request_uri,
                        service,
                        super::logout::REFUSED_POST,
                    );
                }
                Some(_) => {}
            }
        }
        let name = current.user.name.clone();
        state
            .sessions()
            .end(&name, Some(&current.session_hash), EndReason::Logout)
            .await?;
        tracing::info!(user = %name, client = client.map_or("", |c| c.client_id.as_str()), "User logged out by a service (RP-initiated logout)");
        cookies.push(crate::cookies::clear(
            crate::cookies::SESSION_COOKIE,
            state.cookie_attrs(headers),
        ));
    }
    let location = match after {
        Some(uri) => {
            let mut url = url::Url::parse(uri)
                .map_err(|err| WebError::Signing(format!("registered URI: {err}")))?;
            if let Some(value) = query.state.as_deref() {
                url.query_pairs_mut().append_pair("state", value);
            }
            url.to_string()
        }
        None => format!("{}login", state.hub_prefix()),
    };
    Ok(redirect(&location, &cookies))
}

/// Whether a verified ID token hint was issued to the logged-in user in this very session
/// (`sub` is the user, `auth_time` the session's start): then the service that sends it
/// had the user sign in there, and may end the session without asking.
async fn hint_fits_session(
    state: &HubState,
    claims: &serde_json::Map<String, Value>,
    current: &SessionUser,
) -> Result<bool, WebError> {
    if claims.get("sub").and_then(Value::as_str) != Some(current.user.name.as_str()) {
        return Ok(false);
    }
    let Some(auth_time) = claims.get("auth_time").and_then(Value::as_i64) else {
        return Ok(false);
    };
    Ok(state
        .store
        .get_session(&current.session_hash)
        .await?
        .is_some_and(|session| session.created == auth_time))
}
