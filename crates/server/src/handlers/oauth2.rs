//! The hub as OAuth 2.0 / OpenID Connect provider over HTTP:
//! `{base_url}hub/api/oauth2/authorize`, `token`, `revoke`, `userinfo`, `jwks`, `logout`,
//! and `{base_url}.well-known/openid-configuration`.
//!
//! The protocol's decisions are `hubauth-provider`'s; these handlers read the request,
//! look up the user's hub session, call the provider with the time, and render its
//! answer. Errors before the client and its redirect URI are known to be genuine
//! (unknown client, unregistered redirect URI) are shown as an error page and never
//! redirected, so the endpoint cannot be used as an open redirect. Token endpoint errors
//! are JSON as RFC 6749 §5.2 describes; userinfo errors are RFC 6750 §3.1 challenges.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hubauth_core::LoginKind;
use hubauth_provider::{
    AuthorizationRequest, CodeIssue, ConsentStep, EndSessionRequest, Form, LoginSession,
    ProviderError, SessionStep,
};
use serde_json::{Value, json};

use super::{encode_query, redirect};
use crate::provider::{self, HubStore, Provider};
use crate::services::{EndReason, StoredSession};
use crate::state::{AppState, HubState};
use crate::web::WebError;
use crate::web::session::resume_session;

/// The web error behind a provider error: the storage's own (a database that is down
/// stays a 503), a 500 for the provider's failures, a 400 page for a refusal.
fn app_error(err: ProviderError) -> WebError {
    match err {
        ProviderError::Storage(err) => {
            match err.into_inner().downcast::<crate::error::HubError>() {
                Ok(err) => WebError::from(*err),
                Err(other) => WebError::Signing(other.to_string()),
            }
        }
        ProviderError::Signing(err) => WebError::crypt(err.to_string()),
        ProviderError::MalformedGrant(message) => WebError::Signing(message),
        refused => WebError::refused(StatusCode::BAD_REQUEST, refused.description().into_owned()),
    }
}

/// The issuer: the hub's public origin and base URL without the trailing slash
/// (`https://hub.example.org` or `https://example.org/auth`). Discovery is at
/// `{issuer}/.well-known/openid-configuration`.
pub fn issuer(state: &HubState, headers: &HeaderMap) -> String {
    format!(
        "{}{}",
        state.public_origin(headers),
        state.config.base_url.trim_end_matches('/')
    )
}

/// `{origin}{base_url}hub/api/oauth2/` for absolute endpoint URLs.
pub fn endpoint_base(state: &HubState, headers: &HeaderMap) -> String {
    format!(
        "{}{}api/oauth2/",
        state.public_origin(headers),
        state.hub_prefix()
    )
}

/// The query of an authorization request.
pub type AuthorizeQuery = AuthorizationRequest;

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

async fn authorize_request(
    state: &HubState,
    provider: &Provider,
    headers: &HeaderMap,
    query: &AuthorizeQuery,
    request_uri: &str,
    decision: Option<Decision>,
) -> Result<Response, WebError> {
    // Unknown client or redirect URI: an error page (see `app_error`), never a redirect.
    let target = provider.authorization_target(query).map_err(app_error)?;
    let issuer = issuer(state, headers);
    // From here on, refusals go back to the client.
    let back = |err: ProviderError| -> Result<Response, WebError> {
        if err.is_internal() {
            return Err(app_error(err));
        }
        Ok(redirect(&target.error_location(&err, &issuer), &[]))
    };
    let authorization = match target.validate(query) {
        Ok(authorization) => authorization,
        Err(err) => return back(err),
    };
    let now = state.clock.now();
    let current = match resume_session(state, headers, now).await? {
        Some(current) => state
            .store
            .get_session(&current.session_hash)
            .await?
            .filter(|session| session.is_valid_at(now))
            .map(|session| (current, session.created)),
        None => None,
    };
    let login = current.as_ref().map(|(current, auth_time)| LoginSession {
        id: &current.session_hash,
        auth_time: *auth_time,
    });
    let step = target.session_step(
        &authorization,
        login,
        request_uri,
        state.secret.bytes(),
        now,
    );
    let (current, auth_time) = match (step, current) {
        (Ok(SessionStep::Continue), Some(current)) => current,
        (Ok(SessionStep::LogIn { next, again }), _) => {
            return Ok(redirect(&login_url(state, &next, again), &[]));
        }
        // The provider continues only with a session; without one, log in.
        (Ok(SessionStep::Continue), None) => {
            return Ok(redirect(&login_url(state, request_uri, false), &[]));
        }
        (Err(err), _) => return back(err),
    };
    let client = target.client();
    let scopes = client.grant_scopes(authorization.scope.as_deref());
    let held = crate::api::auth::user_scopes(state, &current.user).await?;
    let scopes = provider::held_by_user(&current.user.name, &held, scopes);
    let xsrf = crate::csrf::form_token(&state.secret, &current.session_hash);
    let decision = match decision {
        Some(decision) => {
            if !crate::csrf::check(&state.secret, &current.session_hash, &decision.xsrf) {
                return Err(WebError::refused(
                    StatusCode::FORBIDDEN,
                    "This authorization form expired or was not sent by this hub. Please try again.",
                ));
            }
            Some(decision.allow)
        }
        None => None,
    };
    match target.consent_step(&authorization, decision, &current.user.name) {
        Ok(ConsentStep::Granted) => {}
        Ok(ConsentStep::Ask) => {
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
        Err(err) => return back(err),
    }
    let code = target
        .issue_code(
            &HubStore(state),
            &authorization,
            CodeIssue {
                user: current.user.name.clone(),
                scopes,
                session: current.session_hash.clone(),
                auth_time,
            },
            now,
        )
        .await
        .map_err(app_error)?;
    Ok(redirect(&target.code_location(&code, &issuer), &[]))
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

/// The answer to a failure of the provider itself (the database, signing): the hub's own
/// status and safe message as `server_error`; `log` is called when it is the hub's fault.
fn server_error(err: ProviderError, log: impl FnOnce(&WebError)) -> Response {
    let err = app_error(err);
    let (status, message) = err.status_and_message();
    if status.is_server_error() {
        log(&err);
    }
    token_error(status, "server_error", &message)
}

/// The JSON answer (RFC 6749 §5.2) of a refused token or revocation request: 401 with a
/// `Basic` challenge for a client that failed HTTP Basic authentication, 401 for other
/// client authentication failures, 400 otherwise.
fn client_error(err: &ProviderError) -> Response {
    match err {
        ProviderError::InvalidClient { basic, .. } => {
            let mut response =
                token_error(StatusCode::UNAUTHORIZED, err.code(), &err.description());
            if *basic {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"hubauth\""),
                );
            }
            response
        }
        _ => token_error(StatusCode::BAD_REQUEST, err.code(), &err.description()),
    }
}

/// The request's `Authorization` header, when it is text.
fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
}

/// `POST {base_url}hub/api/oauth2/token`.
pub async fn token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    client_request(&state, &headers, &body, ClientEndpoint::Token).await
}

/// `POST {base_url}hub/api/oauth2/revoke`: a service revokes an access or refresh token
/// it was issued (RFC 7009), for example when its user logs out of it. Revoking a refresh
/// token also revokes the access token issued with it. An unknown, expired or already
/// revoked token is answered 200 like a revoked one, as the RFC asks.
pub async fn revoke(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    client_request(&state, &headers, &body, ClientEndpoint::Revoke).await
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
        let form = Form::parse(body)?;
        let client = provider.authenticate_client(authorization(headers), &form)?;
        let store = HubStore(state);
        let mut response = match endpoint {
            ClientEndpoint::Token => {
                let issuer = issuer(state, headers);
                let now = state.clock.now();
                let tokens = provider.token(&store, client, &form, &issuer, now).await?;
                (StatusCode::OK, Json(tokens)).into_response()
            }
            ClientEndpoint::Revoke => {
                provider.revoke(&store, client, &form).await?;
                StatusCode::OK.into_response()
            }
        };
        no_store(&mut response);
        Ok::<_, ProviderError>(response)
    };
    match answer.await {
        Ok(response) => response,
        Err(err) if err.is_internal() => server_error(err, |err| {
            tracing::error!(error = %err, endpoint = ?endpoint, "OAuth client request failed");
        }),
        Err(err) => client_error(&err),
    }
}

/// An RFC 6750 §3.1 error: 401 with a `Bearer` challenge naming the error.
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
    let Some(provider) = provider_of(&state) else {
        return not_found(&state);
    };
    let now = state.clock.now();
    match provider
        .userinfo(&HubStore(&state), authorization(&headers), now)
        .await
    {
        Ok(claims) => {
            let mut response = (StatusCode::OK, Json(Value::Object(claims))).into_response();
            no_store(&mut response);
            response
        }
        Err(err) if err.is_internal() => server_error(err, |err| {
            tracing::error!(error = %err, "userinfo request failed");
        }),
        Err(err) => bearer_error(err.code(), &err.description()),
    }
}

/// `GET {base_url}hub/api/oauth2/jwks`: the public signing keys (RS256 and ES256).
pub async fn jwks(State(state): State<AppState>) -> Response {
    match provider_of(&state) {
        Some(provider) => Json(provider.keys().jwks()).into_response(),
        None => not_found(&state),
    }
}

/// `GET {base_url}.well-known/openid-configuration`: OpenID Connect discovery.
pub async fn discovery(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(provider) = provider_of(&state) else {
        return not_found(&state);
    };
    let issuer = issuer(&state, &headers);
    let base = endpoint_base(&state, &headers);
    Json(provider.discovery(&issuer, &base)).into_response()
}

/// The query of an RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).
pub type EndSessionQuery = EndSessionRequest;

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
    // Every refusal is an error page (see `app_error`), never a redirect.
    let end = provider
        .end_session(query, &issuer(state, headers))
        .map_err(app_error)?;
    let client = end.client();
    let current = resume_session(state, headers, state.clock.now()).await?;
    let mut cookies = Vec::new();
    if let Some(current) = current {
        // Only an ID token hint issued in this very session (`sub` the user, `auth_time`
        // the session's start) proves the service had the user sign in there.
        let proven = match end.hint_subject() {
            Some(sub) if sub == current.user.name => state
                .store
                .get_session(&current.session_hash)
                .await?
                .is_some_and(|session| end.hint_fits(sub, session.created)),
            _ => false,
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
    let location = end
        .location()
        .unwrap_or_else(|| format!("{}login", state.hub_prefix()));
    Ok(redirect(&location, &cookies))
}
