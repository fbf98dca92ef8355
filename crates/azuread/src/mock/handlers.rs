//! The mock's HTTP endpoints.

// Helpers return the error response itself; boxing it would only add noise in a mock.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query, State as AxState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use hubauth_devidp::mock::{
    AuthorizeError, AuthorizeRequest, ClientAuthError, CodeError, Methods, Mock, bearer_token,
    guid_from, html, random_token, redeem_code, s256, unsigned_jwt,
};
use serde_json::{Value, json};
use sha2::Digest as _;

use super::{
    AccessGrant, AzureAd, CONSUMERS_TENANT, CodeExtra, MockEndpoint, MockUser, OTHER_TENANT,
    Overage, RefreshGrant, Tamper,
};

type Shared = hubauth_devidp::mock::Provider<AzureAd>;
type MockState = AxState<Mock<AzureAd>>;
type Params = Query<HashMap<String, String>>;

/// How long an authorization code can be redeemed (Azure: ten minutes).
const CODE_TTL: i64 = 600;
/// How long a refresh token lasts without use (Azure: 90 days).
const REFRESH_TTL: i64 = 90 * 24 * 3600;

pub(crate) fn routes() -> Router<Mock<AzureAd>> {
    Router::new()
        .route("/oauth2/authorize", get(authorize_v1_common))
        .route("/oauth2/token", post(token_v1_common))
        .route("/{tenant}/oauth2/authorize", get(authorize_v1))
        .route("/{tenant}/oauth2/token", post(token_v1))
        .route("/{tenant}/oauth2/v2.0/authorize", get(authorize_v2))
        .route("/{tenant}/oauth2/v2.0/token", post(token_v2))
        .route(
            "/{tenant}/.well-known/openid-configuration",
            get(discovery_v1),
        )
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(discovery_v2),
        )
        .route("/{tenant}/discovery/keys", get(jwks))
        .route("/{tenant}/discovery/v2.0/keys", get(jwks))
        .route("/v1.0/me/getMemberObjects", post(get_member_objects))
        .route("/v1.0/me/memberOf", get(member_of))
        .route("/v1.0/me", get(me))
        .route("/{tenant}/oauth2/logout", get(logout))
        .route("/{tenant}/oauth2/v2.0/logout", get(logout))
}

/// Which endpoint a path names, by the same shapes as the routes.
pub(crate) fn endpoint_of(path: &str) -> Option<MockEndpoint> {
    if path == "/v1.0/me" || path.starts_with("/v1.0/me/") {
        return Some(MockEndpoint::Graph);
    }
    // Everything else is `/{tenant}/rest` or the tenant-less v1 `/oauth2/...`.
    let rest = match path.strip_prefix("/oauth2/") {
        Some(tail) => return endpoint_of(&format!("/common/oauth2/{tail}")),
        None => path.strip_prefix('/')?.split_once('/')?.1,
    };
    match rest {
        "oauth2/authorize" | "oauth2/v2.0/authorize" => Some(MockEndpoint::Authorize),
        "oauth2/token" | "oauth2/v2.0/token" => Some(MockEndpoint::Token),
        ".well-known/openid-configuration" | "v2.0/.well-known/openid-configuration" => {
            Some(MockEndpoint::Discovery)
        }
        "discovery/keys" | "discovery/v2.0/keys" => Some(MockEndpoint::Keys),
        "oauth2/logout" | "oauth2/v2.0/logout" => Some(MockEndpoint::Logout),
        _ => None,
    }
}

/// A tenant segment resolved: a specific tenant's id, or a multi-tenant authority.
enum TenantRef {
    One(String),
    /// `common`: work, school and personal accounts.
    Any,
    /// `organizations`: work and school accounts only.
    Organizations,
}

impl TenantRef {
    /// Whether a user of `tenant` may sign in through this authority.
    fn admits(&self, tenant: &str) -> bool {
        match self {
            TenantRef::One(tid) => tid == tenant,
            TenantRef::Any => true,
            TenantRef::Organizations => tenant != CONSUMERS_TENANT,
        }
    }
}

/// The tenant segment of a URL (learn.microsoft.com/entra/identity-platform/v2-protocols,
/// "Endpoints"): a tenant id or verified domain, `common`, `organizations`, or, on the
/// v2.0 endpoints only, `consumers` (personal Microsoft accounts, whose tenant is
/// [`CONSUMERS_TENANT`]).
fn resolve_tenant(shared: &Shared, segment: &str, v2: bool) -> Result<TenantRef, Response> {
    let is = |name: &str| segment.eq_ignore_ascii_case(name);
    if is("common") {
        return Ok(TenantRef::Any);
    }
    if is("organizations") {
        return Ok(TenantRef::Organizations);
    }
    if is("consumers") && v2 {
        return Ok(TenantRef::One(CONSUMERS_TENANT.to_owned()));
    }
    let core = shared.lock();
    core.state
        .tenants
        .iter()
        .find(|t| {
            t.id.eq_ignore_ascii_case(segment)
                || t.domains.iter().any(|d| d.eq_ignore_ascii_case(segment))
        })
        .map(|t| TenantRef::One(t.id.clone()))
        .ok_or_else(|| {
            aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_tenant",
                90002,
                &format!("Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."),
            )
        })
}

/// Azure's error body: `error`, `error_description` starting with the AADSTS code,
/// `error_codes`, `timestamp`, `trace_id`, `correlation_id`.
fn aad_error(status: StatusCode, error: &str, code: u32, text: &str) -> Response {
    let body = json!({
        "error": error,
        "error_description": format!("AADSTS{code}: {text}"),
        "error_codes": [code],
        "timestamp": "2024-01-01 00:00:00Z",
        "trace_id": guid_from(&random_token(8)),
        "correlation_id": guid_from(&random_token(8)),
    });
    (status, axum::Json(body)).into_response()
}

/// Azure's 400 `invalid_grant` error.
fn invalid_grant(code: u32, text: &str) -> Response {
    aad_error(StatusCode::BAD_REQUEST, "invalid_grant", code, text)
}

fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

// ---------------------------------------------------------------- authorize

async fn authorize_v1_common(mock: MockState, query: Params) -> Response {
    authorize(&mock.0, "common", false, query.0)
}

async fn authorize_v1(mock: MockState, Path(tenant): Path<String>, query: Params) -> Response {
    authorize(&mock.0, &tenant, false, query.0)
}

async fn authorize_v2(mock: MockState, Path(tenant): Path<String>, query: Params) -> Response {
    authorize(&mock.0, &tenant, true, query.0)
}

fn authorize(shared: &Shared, segment: &str, v2: bool, query: HashMap<String, String>) -> Response {
    let tenant = match resolve_tenant(shared, segment, v2) {
        Ok(tenant) => tenant,
        Err(response) => return response,
    };
    let request = AuthorizeRequest::from_params(&query);
    let target = request.check(&shared.lock().clients).map(|_| ());
    match target {
        Err(AuthorizeError::UnknownClient(client_id)) => {
            return html::page(
                StatusCode::BAD_REQUEST,
                "Sign in",
                &format!(
                    "<p>AADSTS700016: Application with identifier '{}' was not found in the directory.</p>",
                    html::escape(&client_id)
                ),
            );
        }
        Err(AuthorizeError::RedirectUriMismatch) => {
            return html::page(
                StatusCode::BAD_REQUEST,
                "Sign in",
                "<p>AADSTS50011: The redirect URI specified in the request does not match the redirect URIs configured for the application.</p>",
            );
        }
        _ => {}
    }
    // From here on the redirect URI is exactly a registered one.
    let redirect_uri = request.redirect_uri.as_str();
    let state = request.state.clone().unwrap_or_default();
    let fail = |error: &str, code: u32, text: &str| {
        let description = format!("AADSTS{code}: {text}");
        html::redirect_with(
            redirect_uri,
            &[
                ("error", error),
                ("error_description", &description),
                ("state", &state),
            ],
        )
    };
    match target {
        Err(AuthorizeError::UnsupportedResponseType) => {
            return fail(
                "unsupported_response_type",
                700054,
                "response_type 'code' is expected by this mock.",
            );
        }
        Err(AuthorizeError::UnsupportedChallengeMethod) => {
            return fail("invalid_request", 501491, "Invalid code_challenge_method.");
        }
        Err(AuthorizeError::PkceRequired) => {
            return fail(
                "invalid_request",
                9002325,
                "Proof Key for Code Exchange is required for cross-origin authorization code redemption.",
            );
        }
        _ => {}
    }
    if v2 && request.scopes.is_empty() {
        return fail(
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
        );
    }
    let chosen = query
        .get("mock_account")
        .cloned()
        .or_else(|| shared.lock().state.auto_approve.clone());
    let Some(chosen) = chosen else {
        return account_picker(shared, &tenant, &query);
    };
    let now = shared.now();
    let mut core = shared.lock();
    let Some(user) = core.state.user(&chosen) else {
        return html::page(
            StatusCode::BAD_REQUEST,
            "Sign in",
            "<p>AADSTS50034: The user account does not exist.</p>",
        );
    };
    if !tenant.admits(&user.tenant) {
        drop(core);
        return fail(
            "access_denied",
            50020,
            "User account from identity provider does not exist in tenant and cannot access the application.",
        );
    }
    if !user.enabled {
        drop(core);
        return fail("access_denied", 50057, "The user account is disabled.");
    }
    let resource = query.get("resource").filter(|r| !r.is_empty()).cloned();
    let grant = request.grant(user.oid.clone(), CodeExtra { v2, resource });
    let code = core.state.codes.issue(grant, now + CODE_TTL);
    drop(core);
    let session_state = guid_from(&code);
    html::redirect_with(
        redirect_uri,
        &[
            ("code", &code),
            ("state", &state),
            ("session_state", &session_state),
        ],
    )
}

fn account_picker(
    shared: &Shared,
    tenant: &TenantRef,
    query: &HashMap<String, String>,
) -> Response {
    let users: Vec<MockUser> = {
        let core = shared.lock();
        core.state
            .users
            .iter()
            .filter(|u| tenant.admits(&u.tenant))
            .cloned()
            .collect()
    };
    let mut items = String::new();
    for user in users {
        let mut params: Vec<(String, String)> =
            query.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        params.retain(|(k, _)| k != "mock_account");
        params.push(("mock_account".into(), user.oid.clone()));
        let link: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter())
            .finish();
        items.push_str(&format!(
            "<li><a href=\"?{}\">{} ({})</a>{}</li>",
            html::escape(&link),
            html::escape(&user.name),
            html::escape(&user.preferred_username),
            if user.enabled { "" } else { " [disabled]" }
        ));
    }
    html::page(
        StatusCode::OK,
        "Pick an account",
        &format!("<p>Mock Azure AD: choose who signs in.</p><ul>{items}</ul>"),
    )
}

// ---------------------------------------------------------------- token

async fn token_v1_common(
    mock: MockState,
    headers: HeaderMap,
    form: axum::Form<HashMap<String, String>>,
) -> Response {
    token(&mock.0, "common", false, &headers, &form.0)
}

async fn token_v1(
    mock: MockState,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    form: axum::Form<HashMap<String, String>>,
) -> Response {
    token(&mock.0, &tenant, false, &headers, &form.0)
}

async fn token_v2(
    mock: MockState,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    form: axum::Form<HashMap<String, String>>,
) -> Response {
    token(&mock.0, &tenant, true, &headers, &form.0)
}

/// Azure's answer to a failed client authentication.
fn client_refused(err: ClientAuthError) -> Response {
    match err {
        ClientAuthError::Missing => aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ),
        ClientAuthError::UnknownClient => aad_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            "Application was not found in the directory.",
        ),
        _ => aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
        ),
    }
}

/// Azure's answer to a code that cannot be redeemed.
fn code_refused(err: CodeError) -> Response {
    match err {
        CodeError::OtherClient => invalid_grant(
            70002,
            "The code was issued to another application or endpoint.",
        ),
        CodeError::RedirectUriMismatch => invalid_grant(
            50148,
            "The redirect_uri does not match the one of the authorization request.",
        ),
        CodeError::PkceFailed => invalid_grant(
            501481,
            "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
        ),
        _ => invalid_grant(
            70000,
            "The provided authorization code or refresh token has expired or was already redeemed.",
        ),
    }
}

fn token(
    shared: &Shared,
    segment: &str,
    v2: bool,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Response {
    let tenant = match resolve_tenant(shared, segment, v2) {
        Ok(tenant) => tenant,
        Err(response) => return response,
    };
    let now = shared.now();
    let authenticated = shared
        .lock()
        .clients
        .authenticate(headers, form, Methods::BOTH)
        .map(|(client, _)| client.client_id.clone());
    let client_id = match authenticated {
        Ok(client_id) => client_id,
        Err(err) => return client_refused(err),
    };
    let get = |key: &str| form.get(key).map(String::as_str).unwrap_or("");
    match get("grant_type") {
        "authorization_code" => {
            let redeemed = redeem_code(
                &mut shared.lock().state.codes,
                get("code"),
                &client_id,
                form.get("redirect_uri").map(String::as_str),
                form.get("code_verifier").map(String::as_str),
                now,
            );
            let grant = match redeemed {
                Ok(grant) => grant,
                Err(err) => return code_refused(err),
            };
            if grant.extra.v2 != v2 {
                return code_refused(CodeError::OtherClient);
            }
            // v1: the token request's resource, else the authorization request's.
            let resource = form
                .get("resource")
                .filter(|r| !r.is_empty())
                .cloned()
                .or(grant.extra.resource);
            issue(
                shared,
                Issue {
                    tenant: &tenant,
                    v2,
                    client_id: &client_id,
                    oid: &grant.user,
                    nonce: grant.nonce.as_deref(),
                    scope: &grant.scopes.join(" "),
                    resource: resource.as_deref(),
                    refreshing: false,
                },
            )
        }
        "refresh_token" => {
            // Azure rotates refresh tokens: the one presented is used up.
            let grant = shared
                .lock()
                .state
                .refresh_tokens
                .take(get("refresh_token"), now);
            let Some(grant) = grant else {
                return invalid_grant(9002313, "Invalid request. Request is malformed or invalid.");
            };
            if grant.client_id != client_id || grant.v2 != v2 {
                return invalid_grant(
                    70000,
                    "The refresh token was issued to another application or endpoint.",
                );
            }
            let scope = match form.get("scope") {
                Some(scope) if !scope.is_empty() => scope.clone(),
                _ => grant.scope.clone(),
            };
            // A v1 refresh token is for any resource; without one named, the original's.
            let resource = form
                .get("resource")
                .filter(|r| !r.is_empty())
                .cloned()
                .or(grant.resource);
            issue(
                shared,
                Issue {
                    tenant: &tenant,
                    v2,
                    client_id: &client_id,
                    oid: &grant.oid,
                    nonce: None,
                    scope: &scope,
                    resource: resource.as_deref(),
                    refreshing: true,
                },
            )
        }
        "" => aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
        ),
        other => aad_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            &format!("The app requested an unsupported grant type '{other}'."),
        ),
    }
}

/// What a token response is issued for.
struct Issue<'a> {
    tenant: &'a TenantRef,
    v2: bool,
    client_id: &'a str,
    oid: &'a str,
    nonce: Option<&'a str>,
    scope: &'a str,
    /// v1: the `resource` the access token is for.
    resource: Option<&'a str>,
    /// A refresh token grant (else an authorization code).
    refreshing: bool,
}

/// Microsoft Graph's application id, one of the names of its resource.
const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
/// The retired Azure AD Graph's application id: what a v1 access token is for when the
/// request names no resource.
const AAD_GRAPH_APP_ID: &str = "00000002-0000-0000-c000-000000000000";
/// The scopes of the OpenID Connect protocol itself (not a resource's permissions).
const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// Whether a resource name is Microsoft Graph: its app id, `https://graph.microsoft.com`,
/// or this mock's origin (which serves Graph's endpoints).
fn is_graph(shared: &Shared, resource: &str) -> bool {
    let resource = resource.trim_end_matches('/');
    resource == GRAPH_APP_ID
        || resource == "https://graph.microsoft.com"
        || resource == shared.origin()
}

/// The audience of an access token and the Graph permissions it carries.
///
/// v1 (learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow, v1 "resource"
/// parameter): the token is for the request's `resource`, Azure AD Graph without one, with
/// the app registration's static permissions. v2.0 (…/scopes-oidc, "The .default scope"
/// and "Requesting individual user consent"): the token is for the resource the first
/// non-OpenID scope names (a bare permission such as `User.Read` is Microsoft Graph's),
/// carrying the permissions requested for it; with only OpenID scopes it is Graph's with
/// none besides them.
fn access_audience(
    shared: &Shared,
    state: &super::AzureState,
    v2: bool,
    resource: Option<&str>,
    scopes: &[&str],
) -> (String, Vec<String>) {
    if !v2 {
        let resource = resource.unwrap_or(AAD_GRAPH_APP_ID);
        if is_graph(shared, resource) {
            return (GRAPH_APP_ID.to_owned(), state.graph_permissions.clone());
        }
        return (resource.to_owned(), Vec::new());
    }
    let split = |scope: &str| -> (String, String) {
        match scope.rsplit_once('/') {
            Some((resource, permission)) if scope.contains("://") => {
                (resource.to_owned(), permission.to_owned())
            }
            _ => (GRAPH_APP_ID.to_owned(), scope.to_owned()),
        }
    };
    let requested: Vec<(String, String)> = scopes
        .iter()
        .filter(|s| !OIDC_SCOPES.contains(*s))
        .map(|s| split(s))
        .collect();
    let Some((first, _)) = requested.first() else {
        return (GRAPH_APP_ID.to_owned(), Vec::new());
    };
    let audience = if is_graph(shared, first) {
        GRAPH_APP_ID.to_owned()
    } else {
        first.clone()
    };
    let for_audience = |resource: &String| {
        if audience == GRAPH_APP_ID {
            is_graph(shared, resource)
        } else {
            *resource == audience
        }
    };
    let permissions = requested
        .iter()
        .filter(|(resource, _)| for_audience(resource))
        .map(|(_, permission)| permission.clone())
        .collect();
    (audience, permissions)
}

/// Issues tokens for `oid`: the access token, a refresh token (v1 always; v2.0 with
/// `offline_access`) and the ID token as Microsoft documents each response
/// (learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow and the v1.0
/// "Authorize access to web applications using OAuth 2.0 and Azure AD" page): the v1
/// code redemption returns an unsigned ID token and its refresh none; the v2.0 code
/// redemption a signed one (with `openid`) and its refresh an unsigned one.
fn issue(shared: &Shared, issue: Issue<'_>) -> Response {
    let Issue {
        tenant,
        v2,
        client_id,
        oid,
        nonce,
        scope,
        resource,
        refreshing,
    } = issue;
    let settings = shared.personality().settings;
    let now = shared.now();
    let mut core = shared.lock();
    let state = &mut core.state;
    let Some(user) = state.user(oid).cloned() else {
        return invalid_grant(50034, "The user account does not exist in this directory.");
    };
    if !user.enabled {
        return invalid_grant(50057, "The user account is disabled.");
    }
    if !tenant.admits(&user.tenant) {
        return invalid_grant(50020, "User account does not exist in tenant.");
    }
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    let (audience, permissions) = access_audience(shared, state, v2, resource, &scopes);
    let access_token = state.access_tokens.issue(
        AccessGrant {
            oid: user.oid.clone(),
            audience: audience.clone(),
            permissions,
        },
        now + settings.access_token_ttl,
    );
    let refresh_token = (!v2 || scopes.contains(&"offline_access")).then(|| {
        state.refresh_tokens.issue(
            RefreshGrant {
                client_id: client_id.to_owned(),
                oid: user.oid.clone(),
                scope: scope.to_owned(),
                v2,
                resource: resource.map(str::to_owned),
            },
            now + REFRESH_TTL,
        )
    });
    let tamper = state.tamper.take();
    drop(core);
    let signing = match (v2, refreshing) {
        (false, false) => Some(Signing::Unsigned),
        (false, true) => None,
        (true, false) => Some(Signing::Signed),
        (true, true) => Some(Signing::Unsigned),
    };
    let signing = signing.filter(|_| !v2 || scopes.contains(&"openid"));
    let id_token = match signing {
        Some(signing) => {
            let claims = IdTokenRequest {
                user: &user,
                v2,
                client_id,
                nonce,
                scopes: &scopes,
                now,
                tamper,
                signing,
            };
            match id_token(shared, claims) {
                Ok(token) => Some(token),
                Err(err) => {
                    tracing::warn!(error = %err, "mock Azure AD could not sign an ID token");
                    return aad_error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "server_error",
                        90033,
                        "A transient error has occurred.",
                    );
                }
            }
        }
        None => None,
    };
    let ttl = settings.access_token_ttl;
    let mut body = if v2 {
        json!({
            "token_type": "Bearer",
            "scope": scope,
            "expires_in": ttl,
            "ext_expires_in": ttl,
            "access_token": access_token,
        })
    } else {
        json!({
            "token_type": "Bearer",
            "scope": scope,
            "expires_in": ttl.to_string(),
            "ext_expires_in": ttl.to_string(),
            "expires_on": (now + ttl).to_string(),
            "not_before": now.to_string(),
            "resource": resource.unwrap_or(AAD_GRAPH_APP_ID),
            "access_token": access_token,
        })
    };
    if let Value::Object(map) = &mut body {
        if let Some(token) = refresh_token {
            map.insert("refresh_token".into(), json!(token));
        }
        if let Some(token) = id_token {
            map.insert("id_token".into(), json!(token));
        }
    }
    (
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(body),
    )
        .into_response()
}

fn issuer_for(shared: &Shared, tid: &str, v2: bool) -> String {
    if v2 {
        format!("{}/{tid}/v2.0", shared.origin())
    } else {
        format!("https://sts.windows.net/{tid}/")
    }
}

/// How an ID token is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signing {
    /// RS256 with the mock's key.
    Signed,
    /// `alg: none`, as the documented responses that carry an unsigned token.
    Unsigned,
}

/// What an ID token is made for.
struct IdTokenRequest<'a> {
    user: &'a MockUser,
    v2: bool,
    client_id: &'a str,
    nonce: Option<&'a str>,
    scopes: &'a [&'a str],
    now: i64,
    tamper: Option<Tamper>,
    signing: Signing,
}

/// An ID token with the claims of its version and scopes
/// (learn.microsoft.com/entra/identity-platform/id-token-claims-reference): v1 tokens
/// carry `upn`, `unique_name`, `name`, `oid` and no `preferred_username`; v2.0 tokens
/// carry `name`, `preferred_username` and `oid` only with the `profile` scope, and the
/// `email` optional claim only with the `email` scope.
fn id_token(
    shared: &Shared,
    request: IdTokenRequest<'_>,
) -> Result<String, hubauth_devidp::DevIdpError> {
    let IdTokenRequest {
        user,
        v2,
        client_id,
        nonce,
        scopes,
        now,
        tamper,
        signing,
    } = request;
    let tid = if tamper == Some(Tamper::OtherTenant) {
        OTHER_TENANT
    } else {
        user.tenant.as_str()
    };
    let (iat, exp) = if tamper == Some(Tamper::Expired) {
        (now - 7200, now - 3600)
    } else {
        (now, now + shared.personality().settings.id_token_ttl)
    };
    let aud = if tamper == Some(Tamper::WrongAudience) {
        "00000000-0000-0000-0000-0000000000aa"
    } else {
        client_id
    };
    let mut iss = issuer_for(shared, tid, v2);
    if tamper == Some(Tamper::IssuerTrailingSlash) {
        iss = match iss.strip_suffix('/') {
            Some(trimmed) => trimmed.to_owned(),
            None => format!("{iss}/"),
        };
    }
    let mut claims = json!({
        "aud": aud,
        "iss": iss,
        "iat": iat,
        "nbf": iat,
        "exp": exp,
        "name": user.name,
        "oid": user.oid,
        "preferred_username": user.preferred_username,
        "upn": user.upn,
        "sub": s256(&format!("{}:{client_id}", user.oid)),
        "tid": tid,
        "ver": if v2 { "2.0" } else { "1.0" },
        "uti": random_token(16),
    });
    let Value::Object(map) = &mut claims else {
        return Err(hubauth_devidp::DevIdpError::Keys(
            "claims are not an object".to_owned(),
        ));
    };
    if v2 {
        map.remove("upn");
        if !scopes.contains(&"profile") {
            for claim in ["name", "preferred_username", "oid"] {
                map.remove(claim);
            }
        }
    } else {
        map.remove("preferred_username");
        map.insert("unique_name".into(), json!(user.upn));
        map.insert("amr".into(), json!(["pwd"]));
    }
    if let Some(email) = &user.email
        && (!v2 || scopes.contains(&"email"))
    {
        map.insert("email".into(), json!(email));
    }
    if let Some(verified) = user.email_domain_verified {
        map.insert("xms_edov".into(), json!(verified));
    }
    match tamper {
        Some(Tamper::UntrustedExtraAudience) => {
            map.insert(
                "aud".into(),
                json!([client_id, "00000000-0000-0000-0000-0000000000bb"]),
            );
            map.insert("azp".into(), json!(client_id));
        }
        Some(Tamper::WrongAtHash) => {
            // RS256: the left half of SHA-256, of an access token that is not the one issued.
            let digest = sha2::Sha256::digest(random_token(32).as_bytes());
            let half = digest.get(..16).unwrap_or_default();
            map.insert(
                "at_hash".into(),
                json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(half)),
            );
        }
        _ => {}
    }
    match (nonce, tamper) {
        (_, Some(Tamper::WrongNonce)) => {
            map.insert("nonce".into(), json!("not-the-nonce-that-was-sent"));
        }
        (Some(nonce), _) => {
            map.insert("nonce".into(), json!(nonce));
        }
        (None, _) => {}
    }
    let overage = match user.overage {
        Overage::Auto if user.groups.len() > shared.personality().settings.group_limit => {
            Some(Overage::ClaimSources)
        }
        Overage::Auto => None,
        other => Some(other),
    };
    match overage {
        None => {
            map.insert("groups".into(), json!(user.groups));
        }
        Some(Overage::HasGroups) => {
            map.insert("hasgroups".into(), json!(true));
        }
        Some(_) => {
            map.insert("_claim_names".into(), json!({"groups": "src1"}));
            map.insert(
                "_claim_sources".into(),
                json!({"src1": {"endpoint": format!("https://graph.windows.net/{tid}/users/{}/getMemberObjects", user.oid)}}),
            );
        }
    }
    let keys = &shared.personality().keys;
    let own_key = shared.lock().state.custom_key_apps.contains(client_id);
    match (tamper, signing) {
        (Some(Tamper::BadSignature), _) => keys.forge(&claims),
        (Some(Tamper::AlgNone), _) | (_, Signing::Unsigned) => Ok(unsigned_jwt(&claims)),
        _ if own_key => keys.sign_with_second(&claims),
        _ => keys.sign(&claims),
    }
}

// ---------------------------------------------------------------- discovery and keys

async fn discovery_v1(mock: MockState, Path(segment): Path<String>, query: Params) -> Response {
    discovery(&mock.0, &segment, false, query.get("appid"))
}

async fn discovery_v2(mock: MockState, Path(segment): Path<String>, query: Params) -> Response {
    discovery(&mock.0, &segment, true, query.get("appid"))
}

/// A discovery document. With `?appid=` (an app with its own signing keys, see
/// learn.microsoft.com/entra/identity-platform/access-tokens "Validate the signature"),
/// the `jwks_uri` carries the same `appid`.
fn discovery(shared: &Shared, segment: &str, v2: bool, appid: Option<&String>) -> Response {
    let tid = match resolve_tenant(shared, segment, v2) {
        Ok(TenantRef::One(tid)) => tid,
        Ok(TenantRef::Any | TenantRef::Organizations) => "{tenantid}".to_owned(),
        Err(response) => return response,
    };
    let o = shared.origin();
    let app_query = appid
        .map(|id| {
            format!(
                "?appid={}",
                url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
            )
        })
        .unwrap_or_default();
    let doc = if v2 {
        json!({
            "token_endpoint": format!("{o}/{segment}/oauth2/v2.0/token"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": format!("{o}/{segment}/discovery/v2.0/keys{app_query}"),
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": format!("{o}/{tid}/v2.0"),
            "request_uri_parameter_supported": false,
            "userinfo_endpoint": format!("{o}/oidc/userinfo"),
            "authorization_endpoint": format!("{o}/{segment}/oauth2/v2.0/authorize"),
            "http_logout_supported": true,
            "frontchannel_logout_supported": true,
            "end_session_endpoint": format!("{o}/{segment}/oauth2/v2.0/logout"),
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
            "tenant_region_scope": "WW",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
        })
    } else {
        json!({
            "token_endpoint": format!("{o}/{segment}/oauth2/token"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": format!("{o}/common/discovery/keys{app_query}"),
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
            "scopes_supported": ["openid"],
            "issuer": format!("https://sts.windows.net/{tid}/"),
            "microsoft_multi_refresh_token": true,
            "authorization_endpoint": format!("{o}/{segment}/oauth2/authorize"),
            "http_logout_supported": true,
            "frontchannel_logout_supported": true,
            "end_session_endpoint": format!("{o}/{segment}/oauth2/logout"),
            "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "amr", "nonce", "email", "given_name", "family_name", "nickname"],
            "check_session_iframe": format!("{o}/{segment}/oauth2/checksession"),
            "userinfo_endpoint": format!("{o}/{segment}/openid/userinfo"),
            "tenant_region_scope": "WW",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
        })
    };
    axum::Json(doc).into_response()
}

/// The signing keys; with `?appid=` of an app that has its own signing key, that key too.
async fn jwks(mock: MockState, Path(segment): Path<String>, query: Params) -> Response {
    let shared = &mock.0;
    if let Err(response) = resolve_tenant(shared, &segment, true) {
        return response;
    }
    let keys = &shared.personality().keys;
    let mut published = vec![keys.jwk().clone()];
    let own_key = query
        .get("appid")
        .is_some_and(|appid| shared.lock().state.custom_key_apps.contains(appid));
    if own_key {
        published.push(keys.second_jwk().clone());
    }
    axum::Json(json!({"keys": published})).into_response()
}

/// Sign-out (learn.microsoft.com/entra/identity-platform/v2-protocols-oidc, "Send a
/// sign-out request"): the user's session at Azure ends, and the browser goes to
/// `post_logout_redirect_uri` when it is a redirect URI registered for an application,
/// else to a page saying that the user signed out.
async fn logout(mock: MockState, Path(segment): Path<String>, query: Params) -> Response {
    let shared = &mock.0;
    if let Err(response) = resolve_tenant(shared, &segment, true) {
        return response;
    }
    let registered = query.get("post_logout_redirect_uri").filter(|uri| {
        shared
            .lock()
            .clients
            .iter()
            .any(|client| client.redirect_uris.contains(uri))
    });
    match registered {
        Some(uri) => (StatusCode::FOUND, [(header::LOCATION, uri.clone())]).into_response(),
        None => html::page(
            StatusCode::OK,
            "You signed out of your account",
            "<p>It's a good idea to close all browser windows.</p>",
        ),
    }
}

// ---------------------------------------------------------------- Microsoft Graph

/// The user behind a bearer access token, or Graph's 401.
fn graph_user(shared: &Shared, headers: &HeaderMap) -> Result<MockUser, Response> {
    let Some(token) = bearer_token(headers) else {
        return Err(graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token is empty.",
        ));
    };
    let now = shared.now();
    let core = shared.lock();
    let state = &core.state;
    if state.access_tokens.is_expired(token, now) {
        return Err(graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Lifetime validation failed, the token is expired.",
        ));
    }
    let Some(grant) = state.access_tokens.get(token, now) else {
        return Err(graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "IDX14100: JWT is not well formed.",
        ));
    };
    // Graph takes only tokens issued for it, and answers 403 to a token without a
    // permission that covers the call (learn.microsoft.com/graph/resolve-auth-errors;
    // getMemberObjects and /me need User.Read at least).
    if grant.audience != GRAPH_APP_ID {
        return Err(graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token validation failure. Invalid audience.",
        ));
    }
    const READS_SELF: [&str; 5] = [
        "User.Read",
        "User.ReadBasic.All",
        "User.Read.All",
        "GroupMember.Read.All",
        "Directory.Read.All",
    ];
    if !grant
        .permissions
        .iter()
        .any(|p| READS_SELF.iter().any(|r| r.eq_ignore_ascii_case(p)))
    {
        return Err(graph_error(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        ));
    }
    match state.user(&grant.oid) {
        Some(user) if user.enabled => Ok(user.clone()),
        _ => Err(graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "User account is disabled.",
        )),
    }
}

async fn me(mock: MockState, headers: HeaderMap) -> Response {
    let user = match graph_user(&mock.0, &headers) {
        Ok(user) => user,
        Err(response) => return response,
    };
    axum::Json(json!({
        "@odata.context": format!("{}/v1.0/$metadata#users/$entity", mock.0.origin()),
        "id": user.oid,
        "displayName": user.name,
        "userPrincipalName": user.upn,
        "mail": user.email,
    }))
    .into_response()
}

async fn get_member_objects(mock: MockState, headers: HeaderMap, body: String) -> Response {
    let shared = &mock.0;
    let user = match graph_user(shared, &headers) {
        Ok(user) => user,
        Err(response) => return response,
    };
    let parsed: Option<Value> = serde_json::from_str(&body).ok();
    if parsed
        .as_ref()
        .and_then(|b| b.get("securityEnabledOnly"))
        .and_then(Value::as_bool)
        .is_none()
    {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            "The parameter 'securityEnabledOnly' is required.",
        );
    }
    axum::Json(json!({
        "@odata.context": format!("{}/v1.0/$metadata#Collection(Edm.String)", shared.origin()),
        "value": user.groups,
    }))
    .into_response()
}

async fn member_of(mock: MockState, headers: HeaderMap, query: Params) -> Response {
    let shared = &mock.0;
    let user = match graph_user(shared, &headers) {
        Ok(user) => user,
        Err(response) => return response,
    };
    let size = query
        .get("$top")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(shared.personality().settings.graph_page_size)
        .clamp(1, 999);
    let skip = query
        .get("$skiptoken")
        .and_then(|t| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(t)
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(0);
    let items: Vec<Value> = user
        .groups
        .iter()
        .skip(skip)
        .take(size)
        .map(|id| json!({"@odata.type": "#microsoft.graph.group", "id": id, "displayName": id, "securityEnabled": true}))
        .collect();
    let mut body = json!({
        "@odata.context": format!("{}/v1.0/$metadata#directoryObjects", shared.origin()),
        "value": items,
    });
    if skip + size < user.groups.len()
        && let Value::Object(map) = &mut body
    {
        let token =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode((skip + size).to_string());
        map.insert(
            "@odata.nextLink".into(),
            json!(format!(
                "{}/v1.0/me/memberOf?$top={size}&$skiptoken={token}",
                shared.origin()
            )),
        );
    }
    axum::Json(body).into_response()
}
