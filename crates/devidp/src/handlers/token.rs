//! The token endpoint (RFC 6749 3.2, 4.1.3, 6; RFC 7636 4.5-4.6; OIDC Core 3.1.3).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::Client;
use crate::error::{TokenError, no_store};
use crate::handlers::authorize::is_pkce_value;
use crate::jwt::{at_hash, sign_id_token};
use crate::params::{Params, form_decode, is_form};
use crate::state::{AccessGrant, Inner, RefreshGrant, Shared, random_token, user_claims};

/// `POST /token`
pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match exchange(&shared, &headers, &body) {
        Ok(body) => {
            let mut response = Json(body).into_response();
            no_store(response.headers_mut());
            response
        }
        Err(err) => err.into_response(),
    }
}

fn exchange(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<Value, TokenError> {
    if !is_form(headers.get(header::CONTENT_TYPE)) {
        return Err(TokenError::invalid_request(
            "the token request must be application/x-www-form-urlencoded",
        ));
    }
    let params = Params::parse(body);
    if let Some(name) = params.first_repeated(&[]) {
        return Err(TokenError::invalid_request(format!(
            "the parameter {name} was sent more than once"
        )));
    }
    let now = shared.now();
    let mut inner = shared.lock();
    let client = authenticate(&inner, headers, &params)?;
    match get(&params, "grant_type") {
        None => Err(TokenError::invalid_request("grant_type is required")),
        Some("authorization_code") => code_grant(shared, &mut inner, &client, &params, now),
        Some("refresh_token") => refresh_grant(shared, &mut inner, &client, &params, now),
        Some(other) => Err(TokenError::unsupported_grant_type(format!(
            "grant_type {other:?} is not supported"
        ))),
    }
}

fn get<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params.get(name).ok().flatten()
}

/// The client id and secret from `Authorization: Basic`, decoded per RFC 6749 2.3.1.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, TokenError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(TokenError::invalid_client(
            "more than one Authorization header",
        ));
    }
    let malformed = || TokenError::invalid_client("malformed HTTP Basic credentials");
    let text = value.to_str().map_err(|_| malformed())?.trim();
    let (scheme, encoded) = text.split_once(' ').unwrap_or((text, ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(TokenError::invalid_client(
            "unsupported Authorization scheme at the token endpoint; use Basic or client_secret_post",
        ));
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let id = form_decode(id).ok_or_else(malformed)?;
    let secret = form_decode(secret).ok_or_else(malformed)?;
    Ok(Some((id, secret)))
}

/// Authenticates the client by exactly one method (RFC 6749 2.3).
fn authenticate(inner: &Inner, headers: &HeaderMap, params: &Params) -> Result<Client, TokenError> {
    let basic = basic_credentials(headers)?;
    let body_id = get(params, "client_id");
    let body_secret = get(params, "client_secret");
    let (client_id, secret) = match (basic, body_secret) {
        (Some(_), Some(_)) => {
            return Err(TokenError::invalid_client(
                "the client used both HTTP Basic and client_secret in the body; use exactly one method",
            ));
        }
        (Some((id, secret)), None) => {
            if body_id.is_some_and(|body_id| body_id != id) {
                return Err(TokenError::invalid_client(
                    "client_id in the body differs from the HTTP Basic user name",
                ));
            }
            (id, Some(secret))
        }
        (None, Some(secret)) => {
            let id = body_id.ok_or_else(|| {
                TokenError::invalid_client("client_secret was sent without client_id")
            })?;
            (id.to_owned(), Some(secret.to_owned()))
        }
        (None, None) => {
            let id = body_id.ok_or_else(|| {
                TokenError::invalid_client("no client authentication and no client_id")
            })?;
            (id.to_owned(), None)
        }
    };
    let client = inner
        .clients
        .get(&client_id)
        .ok_or_else(|| TokenError::invalid_client("unknown client"))?;
    match (&client.client_secret, secret) {
        (Some(expected), Some(given)) => {
            if bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
                Ok(client.clone())
            } else {
                Err(TokenError::invalid_client("client authentication failed"))
            }
        }
        (Some(_), None) => Err(TokenError::invalid_client(
            "this client is confidential and must authenticate (client_secret_basic or client_secret_post)",
        )),
        (None, Some(given)) if !given.is_empty() => Err(TokenError::invalid_client(
            "this client is public and has no secret",
        )),
        (None, _) => Ok(client.clone()),
    }
}

fn code_grant(
    shared: &Shared,
    inner: &mut Inner,
    client: &Client,
    params: &Params,
    now: i64,
) -> Result<Value, TokenError> {
    let code =
        get(params, "code").ok_or_else(|| TokenError::invalid_request("code is required"))?;
    let grant = inner
        .codes
        .get_mut(code)
        .ok_or_else(|| TokenError::invalid_grant("unknown authorization code"))?;
    if grant.used {
        let family = grant.family;
        inner.revoke_family(family);
        tracing::warn!(client_id = %client.client_id, "authorization code replayed; tokens issued from it are revoked");
        return Err(TokenError::invalid_grant(
            "the authorization code was already used; tokens issued from it are revoked",
        ));
    }
    // A code gets one attempt, whatever its outcome.
    grant.used = true;
    if now.saturating_sub(grant.issued_at) > shared.lifetimes.code {
        return Err(TokenError::invalid_grant("the authorization code expired"));
    }
    if grant.client_id != client.client_id {
        return Err(TokenError::invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    match get(params, "redirect_uri") {
        Some(uri) if uri != grant.redirect_uri => {
            return Err(TokenError::invalid_grant(
                "redirect_uri differs from the one in the authorization request",
            ));
        }
        None if grant.redirect_uri_sent => {
            return Err(TokenError::invalid_request(
                "redirect_uri is required: the authorization request had one",
            ));
        }
        _ => {}
    }
    match (&grant.code_challenge, get(params, "code_verifier")) {
        (None, None) => {}
        (None, Some(_)) => {
            return Err(TokenError::invalid_grant(
                "code_verifier was sent, but the authorization request had no code_challenge",
            ));
        }
        (Some(_), None) => {
            return Err(TokenError::invalid_grant(
                "code_verifier is required: the authorization request had a code_challenge",
            ));
        }
        (Some(challenge), Some(verifier)) => {
            if !is_pkce_value(verifier) {
                return Err(TokenError::invalid_grant(
                    "code_verifier must be 43 to 128 unreserved characters",
                ));
            }
            let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if !bool::from(computed.as_bytes().ct_eq(challenge.as_bytes())) {
                return Err(TokenError::invalid_grant(
                    "code_verifier does not match the code_challenge",
                ));
            }
        }
    }
    let username = grant.username.clone();
    let scopes = grant.scopes.clone();
    let nonce = grant.nonce.clone();
    let auth_time = grant.auth_time;
    let family = grant.family;
    let issued = issue_tokens(
        shared,
        inner,
        &Grant {
            client_id: &client.client_id,
            username: &username,
            scopes: &scopes,
            nonce: nonce.as_deref(),
            auth_time,
            family,
        },
        now,
    )?;
    tracing::info!(client_id = %client.client_id, username = %username, "tokens issued for an authorization code");
    Ok(issued)
}

fn refresh_grant(
    shared: &Shared,
    inner: &mut Inner,
    client: &Client,
    params: &Params,
    now: i64,
) -> Result<Value, TokenError> {
    let token = get(params, "refresh_token")
        .ok_or_else(|| TokenError::invalid_request("refresh_token is required"))?;
    let grant = inner
        .refresh
        .get_mut(token)
        .ok_or_else(|| TokenError::invalid_grant("unknown or revoked refresh token"))?;
    if grant.used {
        let family = grant.family;
        inner.revoke_family(family);
        tracing::warn!(client_id = %client.client_id, "rotated refresh token replayed; its token family is revoked");
        return Err(TokenError::invalid_grant(
            "the refresh token was already used (rotated); its token family is revoked",
        ));
    }
    if grant.expires_at <= now {
        return Err(TokenError::invalid_grant("the refresh token expired"));
    }
    if grant.client_id != client.client_id {
        return Err(TokenError::invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    let mut scopes = grant.scopes.clone();
    if let Some(requested) = get(params, "scope") {
        let requested: Vec<String> = requested
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if let Some(extra) = requested.iter().find(|s| !scopes.contains(s)) {
            return Err(TokenError::invalid_scope(format!(
                "scope {extra:?} was not granted originally"
            )));
        }
        scopes.retain(|s| requested.contains(s));
    }
    let username = grant.username.clone();
    let auth_time = grant.auth_time;
    let family = grant.family;
    if inner.active_user(&username).is_none() {
        return Err(TokenError::invalid_grant("the user is disabled or gone"));
    }
    if let Some(grant) = inner.refresh.get_mut(token) {
        grant.used = true;
    }
    let issued = issue_tokens(
        shared,
        inner,
        &Grant {
            client_id: &client.client_id,
            username: &username,
            scopes: &scopes,
            nonce: None,
            auth_time,
            family,
        },
        now,
    )?;
    tracing::info!(client_id = %client.client_id, username = %username, "tokens refreshed");
    Ok(issued)
}

/// What a new set of tokens is for.
struct Grant<'a> {
    client_id: &'a str,
    username: &'a str,
    scopes: &'a [String],
    /// The authorization request's nonce (none on refresh, OIDC Core 12.2).
    nonce: Option<&'a str>,
    auth_time: i64,
    family: u64,
}

fn issue_tokens(
    shared: &Shared,
    inner: &mut Inner,
    grant: &Grant<'_>,
    now: i64,
) -> Result<Value, TokenError> {
    let Grant {
        client_id,
        username,
        scopes,
        nonce,
        auth_time,
        family,
    } = *grant;
    let user = inner
        .active_user(username)
        .cloned()
        .ok_or_else(|| TokenError::invalid_grant("the user is disabled or gone"))?;
    inner.maybe_purge(now, &shared.lifetimes);
    let lifetimes = &shared.lifetimes;

    let access_token = random_token();
    inner.access.insert(
        access_token.clone(),
        AccessGrant {
            username: username.to_owned(),
            expires_at: now.saturating_add(lifetimes.access_token),
            family,
        },
    );
    let refresh_token = random_token();
    inner.refresh.insert(
        refresh_token.clone(),
        RefreshGrant {
            client_id: client_id.to_owned(),
            username: username.to_owned(),
            scopes: scopes.to_vec(),
            auth_time,
            expires_at: now.saturating_add(lifetimes.refresh_token),
            used: false,
            family,
        },
    );

    let mut body = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": lifetimes.access_token,
        "refresh_token": refresh_token,
    });
    if !scopes.is_empty() {
        body["scope"] = json!(scopes.join(" "));
    }
    if scopes.iter().any(|s| s == "openid") {
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(shared.issuer));
        claims.insert("sub".into(), json!(user.sub()));
        claims.insert("aud".into(), json!(client_id));
        claims.insert("exp".into(), json!(now.saturating_add(lifetimes.id_token)));
        claims.insert("iat".into(), json!(now));
        claims.insert("auth_time".into(), json!(auth_time));
        if let Some(nonce) = nonce {
            claims.insert("nonce".into(), json!(nonce));
        }
        claims.insert("at_hash".into(), json!(at_hash(&access_token)));
        // One provider session per token family (per login), for back-channel logout.
        let sid = format!("devidp-sid-{family}");
        claims.insert("sid".into(), json!(sid));
        inner.last_sid.insert(username.to_owned(), sid);
        claims.extend(user_claims(&user));
        let tamper = inner.tampers.pop_front();
        if let Some(tamper) = tamper {
            tracing::info!(
                ?tamper,
                "issuing a deliberately wrong ID token (test control)"
            );
        }
        let id_token = sign_id_token(&inner.keys, claims, tamper, now)
            .ok_or_else(|| TokenError::server_error("the ID token could not be signed"))?;
        body["id_token"] = json!(id_token);
    }
    Ok(body)
}
