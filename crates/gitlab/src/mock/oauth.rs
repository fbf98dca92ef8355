//! GitLab as an OAuth 2.0 / OpenID Connect provider: `/oauth/*` and the discovery
//! document (see the module documentation of [`super`] for the pages cited).

use std::collections::HashMap;

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hubauth_devidp::mock::{
    AuthorizeError, AuthorizeRequest, Methods, Mock, RsaSigner, bearer_token, html, random_token,
    redeem_code, s256,
};
use serde_json::{Map, Value, json};

use super::{
    ACCESS_TTL, AUTHORIZE_PATH, CODE_TTL, GitLabService, GitLabState, Issued, JWKS_PATH,
    KNOWN_SCOPES, MockUser, REFRESH_TTL, REVOKE_PATH, TOKEN_INFO_PATH, TOKEN_PATH, USERINFO_PATH,
};

/// Doorkeeper reads client credentials from HTTP Basic first, then from the parameters.
const CLIENT_AUTH: Methods = Methods::BOTH;
/// What GitLab grants when the authorization request names no scope.
const DEFAULT_SCOPE: &str = "api";
/// How long GitLab's ID tokens are valid.
const ID_TOKEN_TTL: i64 = 120;
/// Random bytes in a token.
const TOKEN_BYTES: usize = 32;

/// An RFC 6749 5.2 error body.
pub(super) fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

fn redirect(uri: &str, params: &[(&str, &str)], state: Option<&str>) -> Response {
    let mut all: Vec<(&str, &str)> = params.to_vec();
    if let Some(state) = state {
        all.push(("state", state));
    }
    html::redirect_with(uri, &all)
}

fn refused_page(err: &AuthorizeError) -> Response {
    html::page(
        StatusCode::BAD_REQUEST,
        "GitLab (mock): an error has occurred",
        &format!("<p>{}</p>", html::escape(&err.to_string())),
    )
}

pub(super) async fn authorize(
    State(mock): State<Mock<GitLabService>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let auto = mock.lock().state.auto_approve.clone();
    match auto {
        Some(user) => approve(&mock, &query, &user),
        None => picker(&mock, &query),
    }
}

pub(super) async fn authorize_pick(
    State(mock): State<Mock<GitLabService>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let user = form.get("login_as").cloned().unwrap_or_default();
    approve(&mock, &form, &user)
}

fn picker(mock: &Mock<GitLabService>, query: &HashMap<String, String>) -> Response {
    let request = AuthorizeRequest::from_params(query);
    let core = mock.lock();
    if let Err(err) = request.target(&core.clients) {
        return refused_page(&err);
    }
    let buttons: String = core
        .state
        .users
        .values()
        .map(|u| {
            format!(
                "<button type=\"submit\" name=\"login_as\" value=\"{name}\">{name} ({display})</button><br>",
                name = html::escape(&u.username),
                display = html::escape(&u.name)
            )
        })
        .collect();
    html::page(
        StatusCode::OK,
        "Sign in to GitLab (mock) and authorize the application",
        &format!(
            "<form method=\"post\" action=\"{AUTHORIZE_PATH}\">{hidden}{buttons}<button type=\"submit\" name=\"login_as\" value=\"\">Deny</button></form>",
            hidden = html::hidden_fields(query.iter().filter(|(k, _)| *k != "login_as")),
        ),
    )
}

/// The scopes an authorization request is granted: the requested ones (GitLab's
/// default, `api`, when none), each known to GitLab and registered for the application.
fn granted_scopes(
    state: &GitLabState,
    client_id: &str,
    requested: &[String],
) -> Option<Vec<String>> {
    let scopes: Vec<String> = if requested.is_empty() {
        vec![DEFAULT_SCOPE.to_owned()]
    } else {
        requested.to_vec()
    };
    let registered = state.app_scopes.get(client_id)?;
    scopes
        .iter()
        .all(|scope| KNOWN_SCOPES.contains(&scope.as_str()) && registered.contains(scope))
        .then_some(scopes)
}

fn approve(
    mock: &Mock<GitLabService>,
    params: &HashMap<String, String>,
    username: &str,
) -> Response {
    let request = AuthorizeRequest::from_params(params);
    let state_param = request.state.clone();
    let now = mock.now();
    let mut core = mock.lock();
    let core = &mut *core;
    let redirect_uri = request.redirect_uri.clone();
    match request.check(&core.clients) {
        Ok(_) => {}
        Err(err) if err.redirects() => {
            return redirect(
                &redirect_uri,
                &[("error", err.code())],
                state_param.as_deref(),
            );
        }
        Err(err) => return refused_page(&err),
    }
    let state = &mut core.state;
    let Some(scopes) = granted_scopes(state, &request.client_id, &request.scopes) else {
        return redirect(
            &redirect_uri,
            &[
                ("error", "invalid_scope"),
                (
                    "error_description",
                    "The requested scope is not one this application may ask for, or is unknown.",
                ),
            ],
            state_param.as_deref(),
        );
    };
    let user = match state.user_named(username) {
        Some(user) if !user.blocked => user.id,
        _ => {
            return redirect(
                &redirect_uri,
                &[
                    ("error", "access_denied"),
                    ("error_description", "The user denied the request."),
                ],
                state_param.as_deref(),
            );
        }
    };
    let mut grant = request.grant(user.to_string(), ());
    grant.scopes = scopes;
    let code = state.codes.issue(grant, now + CODE_TTL);
    redirect(&redirect_uri, &[("code", &code)], state_param.as_deref())
}

/// Issues an access token and its refresh token; the token response's body.
fn issue_pair(state: &mut GitLabState, template: Issued, now: i64) -> Map<String, Value> {
    let access = random_token(TOKEN_BYTES);
    let refresh = random_token(TOKEN_BYTES);
    let scope = template.scopes.join(" ");
    state.access.insert(
        access.clone(),
        Issued {
            pair: refresh.clone(),
            created_at: now,
            ..template.clone()
        },
        now + ACCESS_TTL,
    );
    state.refresh.insert(
        refresh.clone(),
        Issued {
            pair: access.clone(),
            created_at: now,
            ..template
        },
        now + REFRESH_TTL,
    );
    let mut body = Map::new();
    body.insert("access_token".into(), json!(access));
    body.insert("token_type".into(), json!("Bearer"));
    body.insert("expires_in".into(), json!(ACCESS_TTL));
    body.insert("refresh_token".into(), json!(refresh));
    body.insert("scope".into(), json!(scope));
    body.insert("created_at".into(), json!(now));
    body
}

/// Revokes a token and the other of its pair.
fn revoke_pair(state: &mut GitLabState, token: &str, now: i64) {
    let pair = state
        .access
        .get(token, now)
        .or_else(|| state.refresh.get(token, now))
        .map(|issued| issued.pair.clone());
    for revoked in std::iter::once(token.to_owned()).chain(pair) {
        state.access.revoke(&revoked, now);
        state.refresh.revoke(&revoked, now);
        state.revoked.insert(revoked);
    }
}

pub(super) async fn token(
    State(mock): State<Mock<GitLabService>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let now = mock.now();
    let field = |name: &str| form.get(name).map(String::as_str);
    // A code exchange may sign an ID token; the key is made once per process, off the lock.
    let signer = match field("grant_type") {
        Some("authorization_code") => match RsaSigner::shared().await {
            Ok(signer) => Some(signer),
            Err(err) => {
                return oauth_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    &err.to_string(),
                );
            }
        },
        _ => None,
    };
    let origin = mock.origin().to_owned();
    let mut core = mock.lock();
    let core = &mut *core;
    let client_id = match core.clients.authenticate(&headers, &form, CLIENT_AUTH) {
        Ok((client, _)) => client.client_id.clone(),
        Err(_) => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "Client authentication failed: the client is unknown, sent no credentials, or sent them in an unsupported way.",
            );
        }
    };
    let state = &mut core.state;
    let invalid_grant = || {
        oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "The grant is invalid, expired or revoked, was issued to another client, or its redirect URI does not match.",
        )
    };
    match field("grant_type") {
        Some("authorization_code") => {
            let grant = match redeem_code(
                &mut state.codes,
                field("code").unwrap_or_default(),
                &client_id,
                field("redirect_uri"),
                field("code_verifier"),
                now,
            ) {
                Ok(grant) => grant,
                Err(err) => {
                    tracing::debug!(%err, "GitLab mock: code refused");
                    return invalid_grant();
                }
            };
            let Some(user) = grant
                .user
                .parse::<u64>()
                .ok()
                .and_then(|id| state.users.get(&id))
                .filter(|user| !user.blocked)
                .cloned()
            else {
                return invalid_grant();
            };
            let template = Issued {
                user: user.id,
                client_id: client_id.clone(),
                scopes: grant.scopes.clone(),
                created_at: now,
                pair: String::new(),
            };
            let mut body = issue_pair(state, template, now);
            if grant.scopes.iter().any(|s| s == "openid")
                && let Some(signer) = signer
            {
                let claims = id_token_claims(
                    state,
                    &user,
                    &grant.scopes,
                    &origin,
                    &client_id,
                    grant.nonce.as_deref(),
                    now,
                );
                let signed = if state.forge_id_tokens {
                    signer.forge(&claims)
                } else {
                    signer.sign(&claims)
                };
                match signed {
                    Ok(id_token) => {
                        body.insert("id_token".into(), json!(id_token));
                    }
                    Err(err) => {
                        return oauth_error(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "server_error",
                            &err.to_string(),
                        );
                    }
                }
            }
            axum::Json(Value::Object(body)).into_response()
        }
        Some("refresh_token") => {
            let presented = field("refresh_token").unwrap_or_default().to_owned();
            let live = state
                .refresh
                .get(&presented, now)
                .filter(|issued| issued.client_id == client_id)
                .filter(|issued| state.users.get(&issued.user).is_some_and(|u| !u.blocked))
                .cloned();
            let Some(issued) = live else {
                return invalid_grant();
            };
            // "Invalidates the existing access_token and refresh_token" (rotation).
            revoke_pair(state, &presented, now);
            let body = issue_pair(state, issued, now);
            axum::Json(Value::Object(body)).into_response()
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "This grant type is not supported by the authorization server.",
        ),
    }
}

/// The ID token's claims: the user's id as `sub`, their profile, `email` with `email`,
/// and their direct groups.
fn id_token_claims(
    state: &GitLabState,
    user: &MockUser,
    scopes: &[String],
    origin: &str,
    client_id: &str,
    nonce: Option<&str>,
    now: i64,
) -> Value {
    let mut claims = profile_claims(state, user, scopes);
    claims.insert("iss".into(), json!(origin));
    claims.insert("aud".into(), json!(client_id));
    claims.insert("exp".into(), json!(now + ID_TOKEN_TTL));
    claims.insert("iat".into(), json!(now));
    claims.insert("auth_time".into(), json!(now));
    if let Some(nonce) = nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    if let Some(Value::Array(groups)) = claims.remove("groups") {
        claims.insert("groups_direct".into(), Value::Array(groups));
    }
    Value::Object(claims)
}

fn profile_claims(state: &GitLabState, user: &MockUser, scopes: &[String]) -> Map<String, Value> {
    let has = |scope: &str| scopes.iter().any(|s| s == scope);
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(user.id.to_string()));
    claims.insert(
        "sub_legacy".into(),
        json!(s256(&format!("legacy-{}", user.id))),
    );
    claims.insert("name".into(), json!(user.name));
    claims.insert("nickname".into(), json!(user.username));
    claims.insert("preferred_username".into(), json!(user.username));
    claims.insert(
        "profile".into(),
        json!(format!("https://gitlab.example/{}", user.username)),
    );
    if has("email") {
        claims.insert("email".into(), json!(user.email));
        claims.insert("email_verified".into(), json!(true));
    }
    let groups: Vec<Value> = state
        .groups
        .values()
        .filter(|group| group.members.get(&user.id).is_some_and(|m| !m.awaiting))
        .map(|group| json!(group.full_path))
        .collect();
    claims.insert("groups".into(), Value::Array(groups));
    claims
}

pub(super) async fn revoke(
    State(mock): State<Mock<GitLabService>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let now = mock.now();
    let mut core = mock.lock();
    let core = &mut *core;
    let client_id = match core.clients.authenticate(&headers, &form, CLIENT_AUTH) {
        Ok((client, _)) => client.client_id.clone(),
        Err(_) => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "Client authentication failed.",
            );
        }
    };
    let token = form.get("token").cloned().unwrap_or_default();
    let state = &mut core.state;
    // Only the authenticated client's own tokens; anything else is answered the same
    // (RFC 7009 2.2).
    let own = state
        .access
        .get(&token, now)
        .or_else(|| state.refresh.get(&token, now))
        .is_some_and(|issued| issued.client_id == client_id);
    if own {
        revoke_pair(state, &token, now);
    }
    axum::Json(json!({})).into_response()
}

/// The access token of a request: `Authorization: Bearer`, else `access_token` in the
/// query (Doorkeeper's `access_token_methods`).
pub(super) fn presented_token(
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Option<String> {
    bearer_token(headers)
        .map(str::to_owned)
        .or_else(|| query.get("access_token").filter(|t| !t.is_empty()).cloned())
}

/// Why a presented token is not live: revoked, expired, or unknown.
pub(super) enum Dead {
    Missing,
    Unknown,
    Expired,
    Revoked,
}

/// The live access token's grant, or why there is none.
pub(super) fn live_token(
    state: &GitLabState,
    token: Option<&str>,
    now: i64,
) -> Result<Issued, Dead> {
    let token = token.ok_or(Dead::Missing)?;
    if let Some(issued) = state.access.get(token, now) {
        return Ok(issued.clone());
    }
    if state.revoked.contains(token) {
        Err(Dead::Revoked)
    } else if state.access.is_expired(token, now) {
        Err(Dead::Expired)
    } else {
        Err(Dead::Unknown)
    }
}

/// The `401` of a bearer-token error, with its `WWW-Authenticate` challenge.
pub(super) fn bearer_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = oauth_error(status, error, description);
    let challenge =
        format!("Bearer realm=\"GitLab\", error=\"{error}\", error_description=\"{description}\"");
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

pub(super) fn dead_token(dead: Dead) -> Response {
    match dead {
        Dead::Missing | Dead::Unknown => (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"message": "401 Unauthorized"})),
        )
            .into_response(),
        Dead::Expired => bearer_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "The token has expired; refresh it or authorize again.",
        ),
        Dead::Revoked => bearer_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "The token was revoked; the user must authorize the application again.",
        ),
    }
}

pub(super) async fn token_info(
    State(mock): State<Mock<GitLabService>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let now = mock.now();
    let core = mock.lock();
    let presented = presented_token(&headers, &query);
    let issued = match live_token(&core.state, presented.as_deref(), now) {
        Ok(issued) => issued,
        Err(_) => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "The access token is invalid.",
            );
        }
    };
    let expires_in = (issued.created_at + ACCESS_TTL - now).max(0);
    axum::Json(json!({
        "resource_owner_id": issued.user,
        "scope": issued.scopes,
        "expires_in": expires_in,
        "application": {"uid": issued.client_id},
        "created_at": issued.created_at,
    }))
    .into_response()
}

pub(super) async fn userinfo(
    State(mock): State<Mock<GitLabService>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let now = mock.now();
    let core = mock.lock();
    let presented = presented_token(&headers, &query);
    let issued = match live_token(&core.state, presented.as_deref(), now) {
        Ok(issued) => issued,
        Err(dead) => return dead_token(dead),
    };
    if !issued.scopes.iter().any(|s| s == "openid") {
        return bearer_error(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "The request needs the openid scope.",
        );
    }
    let Some(user) = core.state.users.get(&issued.user).filter(|u| !u.blocked) else {
        return dead_token(Dead::Unknown);
    };
    axum::Json(Value::Object(profile_claims(
        &core.state,
        user,
        &issued.scopes,
    )))
    .into_response()
}

pub(super) async fn jwks() -> Response {
    match RsaSigner::shared().await {
        Ok(signer) => axum::Json(json!({"keys": [signer.jwk()]})).into_response(),
        Err(err) => oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            &err.to_string(),
        ),
    }
}

/// The OpenID Connect discovery document, with this mock's origin as the issuer.
pub(super) async fn discovery(State(mock): State<Mock<GitLabService>>) -> Response {
    let origin = mock.origin();
    axum::Json(json!({
        "issuer": origin,
        "authorization_endpoint": format!("{origin}{AUTHORIZE_PATH}"),
        "token_endpoint": format!("{origin}{TOKEN_PATH}"),
        "revocation_endpoint": format!("{origin}{REVOKE_PATH}"),
        "introspection_endpoint": format!("{origin}{TOKEN_INFO_PATH}"),
        "userinfo_endpoint": format!("{origin}{USERINFO_PATH}"),
        "jwks_uri": format!("{origin}{JWKS_PATH}"),
        "scopes_supported": KNOWN_SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "fragment"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claim_types_supported": ["normal"],
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "sub_legacy", "name", "nickname",
            "preferred_username", "email", "email_verified", "website", "profile",
            "picture", "groups", "groups_direct"
        ],
        "code_challenge_methods_supported": ["plain", "S256"],
    }))
    .into_response()
}
