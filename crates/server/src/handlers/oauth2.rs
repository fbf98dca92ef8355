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
use hubauth_store::UserRecord;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{app_error_page, encode_query, error_page, redirect};
use crate::error::AppError;
use crate::provider::grants::{self, CodeGrant, Kind, Redeemed, RefreshGrant};
use crate::provider::{self, IdTokenParams, Provider, ServiceConfig};
use crate::secrets::{hash_token, random_token};
use crate::session;
use crate::state::{AppState, HubState};

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
}

fn provider_of(state: &HubState) -> Option<&Provider> {
    state.provider.as_ref()
}

fn not_found(state: &HubState) -> Response {
    match error_page(
        state,
        StatusCode::NOT_FOUND,
        "This hub has no registered services, so it is not an OAuth provider.",
        None,
    ) {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
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
    match authorize_inner(&state, provider, &headers, &query, &request_uri, None).await {
        Ok(response) => response,
        Err(err) => app_error_page(&state, err),
    }
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
    match authorize_inner(
        &state,
        provider,
        &headers,
        &query,
        &request_uri,
        Some(decision),
    )
    .await
    {
        Ok(response) => response,
        Err(err) => app_error_page(&state, err),
    }
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

fn page(state: &HubState, status: StatusCode, message: &str) -> Response {
    match error_page(state, status, message, None) {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
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

async fn authorize_inner(
    state: &HubState,
    provider: &Provider,
    headers: &HeaderMap,
    query: &AuthorizeQuery,
    request_uri: &str,
    decision: Option<Decision>,
) -> Result<Response, AppError> {
    let Some(client) = query
        .client_id
        .as_deref()
        .and_then(|id| provider.client(id))
    else {
        tracing::info!("authorization request for an unknown client refused");
        return Err(AppError::user(
            StatusCode::BAD_REQUEST,
            "Unknown OAuth client: this application is not registered with the hub.",
        ));
    };
    let (redirect_uri, redirect_uri_given) = match query.redirect_uri.as_deref() {
        Some(uri) if client.redirect_uris.iter().any(|r| r == uri) => (uri.to_owned(), true),
        Some(_) => {
            tracing::info!(client = %client.client_id, "authorization request with an unregistered redirect_uri refused");
            return Err(AppError::user(
                StatusCode::BAD_REQUEST,
                "The redirect_uri is not registered for this application.",
            ));
        }
        None => match client.redirect_uris.as_slice() {
            [only] => (only.clone(), false),
            _ => {
                return Err(AppError::user(
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
    let prompt = |value: &str| {
        query
            .prompt
            .as_deref()
            .is_some_and(|p| p.split(' ').any(|p| p == value))
    };
    let Some(current) = session::current_user(state, headers).await? else {
        if prompt("none") {
            return Ok(back.error("login_required", "the user is not logged in to the hub"));
        }
        return Ok(redirect(&login_url(state, request_uri), &[]));
    };
    let scopes = provider::grant_scopes(client, query.scope.as_deref());
    let scopes = provider::held_by_user(state, &current.user, scopes).await?;
    let xsrf = crate::csrf::form_token(&state.secret, &current.session_hash);
    match decision {
        Some(decision) => {
            if !crate::csrf::check(&state.secret, &current.session_hash, &decision.xsrf) {
                return Err(AppError::user(
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
    let now = state.clock.now();
    // Codes, redeemed-code records and refresh tokens share the pending-login table;
    // expired ones go here, as OAuth logins clean theirs up at their start.
    state.store.delete_expired_login_states(now).await?;
    let auth_time = state
        .store
        .get_session(&current.session_hash)
        .await?
        .map_or(now, |session| session.created);
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
    grants::put(
        state.store.as_ref(),
        grants::key(Kind::Code, &code),
        &grant,
        now,
        now.saturating_add(grants::CODE_TTL),
    )
    .await
    .map_err(grant_error)?;
    tracing::info!(client = %client.client_id, user = %current.user.name, "issued an authorization code");
    Ok(back.send(&[("code", &code)]))
}

/// Where a visitor without a session goes: the login page with `next` back to this
/// request, or with `auto_login_oauth2_authorize` straight into the authenticator's login.
fn login_url(state: &HubState, request_uri: &str) -> String {
    let next = format!("?next={}", encode_query(request_uri));
    let rules = state.authenticator.rules().config();
    if rules.auto_login_oauth2_authorize
        && let LoginKind::Redirect { login_path, .. } = state.authenticator.kind()
    {
        return format!("{}{login_path}{next}", state.hub_prefix());
    }
    format!("{}login{next}", state.hub_prefix())
}

fn is_pkce_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

fn grant_error(err: grants::GrantError) -> AppError {
    match err {
        grants::GrantError::Store(err) => AppError::from(err),
        grants::GrantError::Malformed(message) => AppError::Signing(message),
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

/// The client credentials of a token request: from `Authorization: Basic` (both parts
/// form-urlencoded, RFC 6749 §2.3.1) or from the body, never both.
fn client_credentials(
    headers: &HeaderMap,
    form: &std::collections::BTreeMap<String, String>,
) -> Result<(String, Option<String>, bool), &'static str> {
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
        let (id, secret) = decoded
            .split_once(':')
            .ok_or("the Basic credentials are malformed")?;
        let decode = |part: &str| -> String {
            url::form_urlencoded::parse(format!("x={part}").as_bytes())
                .next()
                .map(|(_, value)| value.into_owned())
                .unwrap_or_default()
        };
        let (id, secret) = (decode(id), decode(secret));
        if form.get("client_id").is_some_and(|form_id| *form_id != id) {
            return Err("client_id does not match the Basic credentials");
        }
        return Ok((id, Some(secret), true));
    }
    let id = form
        .get("client_id")
        .cloned()
        .ok_or("client authentication is required (client_id)")?;
    Ok((id, form.get("client_secret").cloned(), false))
}

/// The registered client a token or revocation request authenticates as, or the error
/// answer (`invalid_request` for malformed credentials, `invalid_client` for wrong ones).
fn authenticate_client<'p>(
    provider: &'p Provider,
    headers: &HeaderMap,
    form: &std::collections::BTreeMap<String, String>,
) -> Result<&'p ServiceConfig, Box<Response>> {
    let (client_id, secret, used_basic) =
        client_credentials(headers, form).map_err(|message| Box::new(invalid_request(message)))?;
    let unauthorized = |description: &str| {
        let mut response = token_error(StatusCode::UNAUTHORIZED, "invalid_client", description);
        if used_basic {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"hubauth\""),
            );
        }
        response
    };
    let Some(client) = provider.client(&client_id) else {
        tracing::info!("request from an unknown OAuth client refused");
        return Err(Box::new(unauthorized("unknown client")));
    };
    match (&client.client_secret, secret.as_deref()) {
        (Some(expected), Some(presented)) if expected.matches(presented) => Ok(client),
        (Some(_), _) => {
            tracing::info!(client = %client.client_id, "request with a wrong or missing client secret refused");
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
) -> Result<Response, AppError> {
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
) -> Result<Revocation, AppError> {
    let now = state.clock.now();
    let taken: Option<(RefreshGrant, bool)> = grants::take(
        state.store.as_ref(),
        &grants::key(Kind::Refresh, token),
        now,
    )
    .await
    .map_err(grant_error)?;
    let Some((grant, _)) = taken else {
        return Ok(Revocation::NotFound);
    };
    if grant.client_id != client.client_id {
        // As at the token endpoint, a refresh token shown by another client is spent: it
        // has leaked.
        tracing::warn!(client = %client.client_id, "a refresh token issued to another client was presented for revocation; it is no longer valid");
        return Ok(Revocation::OtherClient);
    }
    state
        .store
        .delete_api_token(&grant.user, grant.token_id)
        .await?;
    tracing::info!(client = %client.client_id, user = %grant.user, "revoked a refresh token and its access token");
    Ok(Revocation::Revoked)
}

async fn revoke_access_token(
    state: &HubState,
    client: &ServiceConfig,
    token: &str,
) -> Result<Revocation, AppError> {
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
) -> Result<Response, AppError> {
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

async fn redeem_code(
    state: &HubState,
    provider: &Provider,
    client: &ServiceConfig,
    headers: &HeaderMap,
    form: &std::collections::BTreeMap<String, String>,
) -> Result<Response, AppError> {
    let Some(code) = form
        .get("code")
        .filter(|code| !code.is_empty() && code.len() <= 256)
    else {
        return Ok(invalid_request("code is required"));
    };
    let now = state.clock.now();
    let store = state.store.as_ref();
    let taken: Option<(CodeGrant, bool)> = grants::take(store, &grants::key(Kind::Code, code), now)
        .await
        .map_err(grant_error)?;
    let Some((grant, valid)) = taken else {
        // A code presented twice: revoke what its first use issued (RFC 6749 §4.1.2).
        let redeemed: Option<(Redeemed, bool)> =
            grants::take(store, &grants::key(Kind::Redeemed, code), now)
                .await
                .map_err(grant_error)?;
        if let Some((redeemed, _)) = redeemed {
            for id in &redeemed.token_ids {
                state.store.delete_api_token(&redeemed.user, *id).await?;
            }
            if let Some(refresh_key) = &redeemed.refresh_key {
                state.store.take_login_state(refresh_key).await?;
            }
            tracing::warn!(client = %client.client_id, user = %redeemed.user, "an authorization code was presented twice; revoked the tokens it issued");
        }
        return Ok(invalid_grant(
            "the code is invalid, expired or already used",
        ));
    };
    if !valid {
        return Ok(invalid_grant(
            "the code is invalid, expired or already used",
        ));
    }
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
    let tokens = issue_tokens(
        state,
        &granted,
        Some(grants::key(Kind::Redeemed, code)),
        now,
    )
    .await?;
    grants::put(
        store,
        grants::key(Kind::Redeemed, code),
        &Redeemed {
            user: user.name.clone(),
            token_ids: vec![tokens.access.id],
            refresh_key: Some(tokens.refresh_key.clone()),
        },
        now,
        now.saturating_add(grants::REDEEMED_TTL),
    )
    .await
    .map_err(grant_error)?;
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

async fn refresh(
    state: &HubState,
    provider: &Provider,
    client: &ServiceConfig,
    headers: &HeaderMap,
    form: &std::collections::BTreeMap<String, String>,
) -> Result<Response, AppError> {
    let Some(presented) = form
        .get("refresh_token")
        .filter(|token| !token.is_empty() && token.len() <= 256)
    else {
        return Ok(invalid_request("refresh_token is required"));
    };
    let now = state.clock.now();
    let store = state.store.as_ref();
    let taken: Option<(RefreshGrant, bool)> =
        grants::take(store, &grants::key(Kind::Refresh, presented), now)
            .await
            .map_err(grant_error)?;
    let Some((grant, valid)) = taken else {
        return Ok(invalid_grant(
            "the refresh token is invalid, expired or already used",
        ));
    };
    if !valid {
        return Ok(invalid_grant(
            "the refresh token is invalid, expired or already used",
        ));
    }
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
    let session_alive = state
        .store
        .get_session(&grant.session)
        .await?
        .is_some_and(|session| session.is_valid_at(now));
    if !session_alive {
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
    let tokens = issue_tokens(state, &granted, grant.family.clone(), now).await?;
    if let Some(family) = &grant.family {
        // The code's record learns the new tokens, so that a replay of the code revokes
        // them too.
        let redeemed: Option<(Redeemed, bool)> = grants::take(store, family, now)
            .await
            .map_err(grant_error)?;
        if let Some((mut redeemed, true)) = redeemed {
            redeemed.token_ids.push(tokens.access.id);
            redeemed.refresh_key = Some(tokens.refresh_key.clone());
            grants::put(
                store,
                family.clone(),
                &redeemed,
                now,
                now.saturating_add(grants::REDEEMED_TTL),
            )
            .await
            .map_err(grant_error)?;
        }
    }
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
    /// When the user logged in.
    auth_time: i64,
}

/// The tokens issued for one token request.
struct NewTokens {
    access: provider::IssuedToken,
    refresh_token: String,
    /// Store key of the refresh token's grant.
    refresh_key: String,
}

/// Issues an access token and a refresh token for `granted`, and stores the refresh
/// token's grant. `family` is the store key of the code's [`Redeemed`] record the tokens
/// descend from.
async fn issue_tokens(
    state: &HubState,
    granted: &Granted<'_>,
    family: Option<String>,
    now: i64,
) -> Result<NewTokens, AppError> {
    let access = provider::issue_access_token(
        state,
        granted.client,
        &granted.user.name,
        granted.scopes,
        granted.session,
        now,
    )
    .await?;
    let refresh_token = random_token();
    let refresh_key = grants::key(Kind::Refresh, &refresh_token);
    grants::put(
        state.store.as_ref(),
        refresh_key.clone(),
        &RefreshGrant {
            client_id: granted.client.client_id.clone(),
            user: granted.user.name.clone(),
            scopes: granted.scopes.to_vec(),
            auth_time: granted.auth_time,
            token_id: access.id,
            session: granted.session.to_owned(),
            family,
        },
        now,
        now.saturating_add(refresh_lifetime(state)),
    )
    .await
    .map_err(grant_error)?;
    Ok(NewTokens {
        access,
        refresh_token,
        refresh_key,
    })
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
) -> Result<Response, AppError> {
    let id_token = if granted.scopes.iter().any(|s| s == "openid") {
        Some(provider::id_token(
            provider,
            granted.user,
            IdTokenParams {
                issuer: &provider::issuer(state, headers),
                client_id: &granted.client.client_id,
                nonce,
                auth_time: granted.auth_time,
                access_token: &tokens.access.token,
                now,
            },
        )?)
    } else {
        None
    };
    let mut body = json!({
        "access_token": tokens.access.token,
        "token_type": "Bearer",
        "expires_in": tokens.access.expires_in,
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
    match userinfo_inner(&state, &headers).await {
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

async fn userinfo_inner(state: &HubState, headers: &HeaderMap) -> Result<Response, AppError> {
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

/// `GET {base_url}hub/api/oauth2/jwks`: the public signing key.
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
        "id_token_signing_alg_values_supported": ["ES256"],
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
    match end_session_inner(state, provider, headers, &query, &request_uri, submitted).await {
        Ok(response) => response,
        Err(err) => app_error_page(state, err),
    }
}

async fn end_session_inner(
    state: &HubState,
    provider: &Provider,
    headers: &HeaderMap,
    query: &EndSessionQuery,
    request_uri: &str,
    submitted: Option<String>,
) -> Result<Response, AppError> {
    let bad = |message: &str| Err(AppError::user(StatusCode::BAD_REQUEST, message));
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
    let current = session::current_user(state, headers).await?;
    let mut cookies = Vec::new();
    if let Some(current) = current {
        let proven = match &hint {
            Some(claims) => hint_fits_session(state, claims, &current).await?,
            None => false,
        };
        if !proven {
            let service = client.map(|client| client.name.as_str());
            let confirming = super::logout::LoggedIn::from(&current);
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
        if state.store.delete_session(&current.session_hash).await? {
            crate::metrics::sessions_ended("logout", 1);
        }
        state.sessions.invalidate_session(&current.session_hash);
        state.forget_refresh(&name);
        provider::revoke_session_tokens(state, &name, Some(&current.session_hash)).await?;
        if let Err(err) = state.authenticator.session_ended(&name).await {
            tracing::warn!(user = %name, error = %err, "authenticator could not end its session");
        }
        tracing::info!(user = %name, client = client.map_or("", |c| c.client_id.as_str()), "User logged out by a service (RP-initiated logout)");
        cookies.push(crate::cookies::clear(
            crate::cookies::SESSION_COOKIE,
            state.cookie_attrs(headers),
        ));
    }
    let location = match after {
        Some(uri) => {
            let mut url = url::Url::parse(uri)
                .map_err(|err| AppError::Signing(format!("registered URI: {err}")))?;
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
    current: &session::SessionUser,
) -> Result<bool, AppError> {
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
