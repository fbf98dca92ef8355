//! The mock's endpoints, each as the page of Google's documentation cited at it says.

use std::collections::HashMap;

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hubauth_devidp::mock::{
    AuthorizeError, AuthorizeRequest, Methods, Mock, bearer_token, guid_from, html, random_token,
    redeem_code,
};
use serde_json::{Map, Value, json};

use super::{
    AUTHORIZE_PATH, CERTS_PATH, CodeExtra, Delegated, EMAIL_SCOPE, GROUP_READONLY_SCOPE,
    GROUP_SCOPE, GoogleApis, GoogleState, Issued, MockUser, OIDC_USERINFO_PATH, PROFILE_SCOPE,
    TOKEN_PATH,
};

/// Google's access tokens live an hour; token responses say 3599 seconds.
const ACCESS_TTL: i64 = 3599;
/// ID tokens: an hour.
const ID_TOKEN_TTL: i64 = 3600;
/// Refresh tokens do not expire by time (until revoked or unused for six months); a
/// year stands in for that.
const REFRESH_TTL: i64 = 365 * 24 * 3600;
/// How long an authorization code can be exchanged.
const CODE_TTL: i64 = 600;
/// How far in the future an assertion's `iat` may be (clock skew).
const ASSERTION_SKEW: i64 = 300;
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Google's words for an assertion whose times are wrong (the service account page's
/// error table).
const SHORT_LIVED: &str = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.";

/// The token endpoint's error body (RFC 6749 5.2, as Google answers).
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// The error body of Google's JSON APIs (the Directory API, the v1 user info):
/// `{"error": {"code", "message", "errors": [{"message", "domain", "reason"}], "status"}}`,
/// the HTTP status mapped to the `status` name as
/// <https://cloud.google.com/apis/design/errors#http_mapping> lists it, with the older
/// `errors` list the Admin SDK still sends (its `reason` is what clients read).
fn api_error(status: StatusCode, message: &str, reason: &str) -> Response {
    let grpc = match status.as_u16() {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        _ => "UNKNOWN",
    };
    (
        status,
        axum::Json(json!({
            "error": {
                "code": status.as_u16(),
                "message": message,
                "errors": [{"message": message, "domain": "global", "reason": reason}],
                "status": grpc,
            }
        })),
    )
        .into_response()
}

/// What Google shows the user for a request it will not redirect ("Error 400:
/// redirect_uri_mismatch", "Error 400: invalid_request ...").
fn error_page(status: StatusCode, error: &str, detail: &str) -> Response {
    html::page(
        status,
        "Sign in with Google (mock)",
        &format!(
            "<p>Error {}: {}</p><p>{}</p>",
            status.as_u16(),
            html::escape(error),
            html::escape(detail)
        ),
    )
}

/// Scopes as Google reports them: `email` and `profile` by their long names.
fn long_scope(scope: &str) -> String {
    match scope {
        "email" => EMAIL_SCOPE.to_owned(),
        "profile" => PROFILE_SCOPE.to_owned(),
        other => other.to_owned(),
    }
}

fn has(scopes: &[String], scope: &str) -> bool {
    scopes.iter().any(|s| s == scope)
}

/// The account's identity claims the scopes allow, by OpenID Connect's names.
fn identity_claims(user: &MockUser, scopes: &[String]) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(user.sub));
    if has(scopes, EMAIL_SCOPE) {
        claims.insert("email".into(), json!(user.email));
        claims.insert("email_verified".into(), json!(user.email_verified));
    }
    if let Some(hd) = &user.hd {
        claims.insert("hd".into(), json!(hd));
    }
    if has(scopes, PROFILE_SCOPE) {
        claims.insert("name".into(), json!(user.name));
        claims.insert("given_name".into(), json!(user.name));
        claims.insert("family_name".into(), json!("Mock"));
        claims.insert(
            "picture".into(),
            json!(format!("https://lh3.googleusercontent.com/a/{}", user.sub)),
        );
        claims.insert("locale".into(), json!("en"));
    }
    claims
}

/// `GET /.well-known/openid-configuration`: Google's discovery document
/// (<https://accounts.google.com/.well-known/openid-configuration>, cited by
/// <https://developers.google.com/identity/openid-connect/openid-connect#discovery>), its
/// issuer Google's and its endpoints this mock's paths.
pub(super) async fn discovery(State(mock): State<Mock<GoogleApis>>) -> Response {
    let origin = mock.origin();
    let issuer = mock.lock().state.issuer.clone();
    axum::Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{origin}{AUTHORIZE_PATH}"),
        "device_authorization_endpoint": format!("{origin}/device/code"),
        "token_endpoint": format!("{origin}{TOKEN_PATH}"),
        "userinfo_endpoint": format!("{origin}{OIDC_USERINFO_PATH}"),
        "revocation_endpoint": format!("{origin}/revoke"),
        "jwks_uri": format!("{origin}{CERTS_PATH}"),
        "response_types_supported": [
            "code", "token", "id_token", "code token", "code id_token", "token id_token",
            "code token id_token", "none"
        ],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "claims_supported": [
            "aud", "email", "email_verified", "exp", "family_name", "given_name", "iat",
            "iss", "name", "picture", "sub"
        ],
        "code_challenge_methods_supported": ["plain", "S256"],
        "grant_types_supported": [
            "authorization_code", "refresh_token",
            "urn:ietf:params:oauth:grant-type:device_code",
            "urn:ietf:params:oauth:grant-type:jwt-bearer"
        ],
    }))
    .into_response()
}

/// `GET /oauth2/v3/certs`: the keys ID tokens are signed with (the discovery document's
/// `jwks_uri`).
pub(super) async fn certs(State(mock): State<Mock<GoogleApis>>) -> Response {
    axum::Json(json!({"keys": [mock.signer.jwk()]})).into_response()
}

/// Google's own checks of an authorization request, before any account is chosen
/// (<https://developers.google.com/identity/protocols/oauth2/web-server#creatingclient>
/// lists the parameters; the answers are the error pages Google shows): a client or
/// redirect URI it does not know, a missing or unknown scope, an `access_type` other
/// than `online` / `offline`, a `prompt` it does not know or `none` with another value,
/// and `prompt` together with the legacy `approval_prompt` ("Conflict params").
fn precheck(mock: &Mock<GoogleApis>, params: &HashMap<String, String>) -> Option<Response> {
    let request = AuthorizeRequest::from_params(params);
    {
        let core = mock.lock();
        match request.target(&core.clients) {
            Ok(_) => {}
            Err(AuthorizeError::UnknownClient(_)) => {
                return Some(error_page(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "The OAuth client was not found.",
                ));
            }
            Err(_) => {
                return Some(error_page(
                    StatusCode::BAD_REQUEST,
                    "redirect_uri_mismatch",
                    "The redirect URI in the request does not match the ones authorized for the OAuth client.",
                ));
            }
        }
    }
    let invalid = |detail: String| {
        Some(error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &detail,
        ))
    };
    if request.scopes.is_empty() {
        return invalid("Missing required parameter: scope".to_owned());
    }
    let unknown: Vec<&String> = request
        .scopes
        .iter()
        .filter(|scope| {
            !["openid", "email", "profile"].contains(&scope.as_str())
                && !scope.starts_with("https://www.googleapis.com/auth/")
        })
        .collect();
    if !unknown.is_empty() {
        return Some(error_page(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            &format!("Some requested scopes were invalid. {{invalid={unknown:?}}}"),
        ));
    }
    if let Some(access_type) = params.get("access_type")
        && !matches!(access_type.as_str(), "online" | "offline")
    {
        return invalid(format!("Invalid access_type: {access_type}"));
    }
    if let Some(prompt) = params.get("prompt") {
        if params.contains_key("approval_prompt") {
            return invalid("Conflict params: approval_prompt and prompt".to_owned());
        }
        let values: Vec<&str> = prompt.split_whitespace().collect();
        let known = values
            .iter()
            .all(|v| matches!(*v, "none" | "consent" | "select_account"));
        if !known || (values.contains(&"none") && values.len() > 1) {
            return invalid(format!("Invalid prompt: {prompt}"));
        }
    }
    if let Some(approval) = params.get("approval_prompt")
        && !matches!(approval.as_str(), "force" | "auto")
    {
        return invalid(format!("Invalid approval_prompt: {approval}"));
    }
    None
}

/// `GET /o/oauth2/v2/auth`: the account chooser, or the auto-approved account.
pub(super) async fn authorize(
    State(mock): State<Mock<GoogleApis>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(page) = precheck(&mock, &query) {
        return page;
    }
    let auto = mock.lock().state.auto_approve.clone();
    match auto {
        Some(user) => approve(&mock, &query, &user),
        None => chooser(&mock, &query),
    }
}

/// `POST /o/oauth2/v2/auth`: the account picked on the chooser.
pub(super) async fn authorize_pick(
    State(mock): State<Mock<GoogleApis>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(page) = precheck(&mock, &form) {
        return page;
    }
    let user = form.get("login_as").cloned().unwrap_or_default();
    approve(&mock, &form, &user.to_ascii_lowercase())
}

fn chooser(mock: &Mock<GoogleApis>, query: &HashMap<String, String>) -> Response {
    let core = mock.lock();
    let buttons: String = core
        .state
        .users
        .values()
        .filter(|user| !user.groups_reader)
        .map(|user| {
            format!(
                "<button type=\"submit\" name=\"login_as\" value=\"{email}\">{email}{kind}</button><br>",
                email = html::escape(&user.email),
                kind = match &user.hd {
                    Some(hd) => format!(" (Workspace {})", html::escape(hd)),
                    None => " (personal account)".to_owned(),
                }
            )
        })
        .collect();
    html::page(
        StatusCode::OK,
        "Choose an account (Google mock)",
        &format!(
            "<form method=\"post\" action=\"{AUTHORIZE_PATH}\">{hidden}{buttons}<button type=\"submit\" name=\"login_as\" value=\"\">Cancel</button></form>",
            hidden = html::hidden_fields(query.iter().filter(|(k, _)| *k != "login_as")),
        ),
    )
}

/// The consent and the redirect back
/// (<https://developers.google.com/identity/protocols/oauth2/web-server#handlingresponse>):
/// `code` and `state`, with the granted `scope`, `authuser`, `hd` and `prompt` Google adds.
/// A refresh token comes with the code only when `access_type=offline`, and then only
/// the first time the account consents to the client, or when `prompt=consent` (or the
/// legacy `approval_prompt=force`) asks for consent again ("Refreshing an access token
/// (offline access)" on the same page). `prompt=none` without an earlier consent is
/// answered `error=consent_required`.
fn approve(mock: &Mock<GoogleApis>, params: &HashMap<String, String>, user: &str) -> Response {
    let request = AuthorizeRequest::from_params(params);
    let state_param = request.state.clone().unwrap_or_default();
    let now = mock.now();
    let mut core = mock.lock();
    let core = &mut *core;
    let redirect_uri = request.redirect_uri.as_str();
    match request.check(&core.clients) {
        Ok(_) => {}
        Err(err) if err.redirects() => {
            return html::redirect_with(
                redirect_uri,
                &[("error", err.code()), ("state", &state_param)],
            );
        }
        Err(err) => {
            return error_page(StatusCode::BAD_REQUEST, err.code(), &err.to_string());
        }
    }
    let state = &mut core.state;
    let Some(account) = state.users.get(user).cloned() else {
        return html::redirect_with(
            redirect_uri,
            &[("error", "access_denied"), ("state", &state_param)],
        );
    };
    if state.suspended.contains(user) {
        return html::redirect_with(
            redirect_uri,
            &[("error", "access_denied"), ("state", &state_param)],
        );
    }
    let consent_key = (user.to_owned(), request.client_id.clone());
    let first_consent = !state.consented.contains(&consent_key);
    let prompt = params.get("prompt").map(String::as_str).unwrap_or_default();
    if prompt == "none" && first_consent {
        return html::redirect_with(
            redirect_uri,
            &[("error", "consent_required"), ("state", &state_param)],
        );
    }
    let forced = prompt.split_whitespace().any(|p| p == "consent")
        || params.get("approval_prompt").map(String::as_str) == Some("force");
    let offline = params.get("access_type").map(String::as_str) == Some("offline");
    let refresh = offline && (first_consent || forced);
    state.consented.insert(consent_key);
    let mut grant = request.grant(user, CodeExtra { refresh });
    grant.scopes = grant.scopes.iter().map(|s| long_scope(s)).collect();
    let scope = grant.scopes.join(" ");
    let code = state.codes.issue(grant, now + CODE_TTL);
    let shown = if first_consent || forced {
        "consent"
    } else {
        "none"
    };
    let mut pairs: Vec<(&str, &str)> = vec![
        ("state", &state_param),
        ("code", &code),
        ("scope", &scope),
        ("authuser", "0"),
    ];
    if let Some(hd) = &account.hd {
        pairs.push(("hd", hd));
    }
    pairs.push(("prompt", shown));
    html::redirect_with(redirect_uri, &pairs)
}

/// The ID token (<https://developers.google.com/identity/openid-connect/openid-connect#an-id-tokens-payload>):
/// `iss`, `azp` and `aud` (the client), `sub`, `email` and `email_verified` with the
/// email scope, `hd` for a Workspace account, `at_hash`, the profile with the profile
/// scope, `iat`, `exp` (an hour) and the request's `nonce`; signed RS256.
fn id_token(
    mock: &Mock<GoogleApis>,
    state: &GoogleState,
    issued: &Issued,
    access_token: &str,
    nonce: Option<&str>,
    now: i64,
) -> Result<String, Box<Response>> {
    let Some(user) = state.users.get(&issued.user) else {
        return Err(Box::new(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Bad Request",
        )));
    };
    let mut claims = identity_claims(user, &issued.scopes);
    claims.insert("iss".into(), json!(state.issuer));
    claims.insert("azp".into(), json!(issued.client_id));
    claims.insert("aud".into(), json!(issued.client_id));
    claims.insert(
        "at_hash".into(),
        json!(hubauth_provider::at_hash(access_token)),
    );
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + ID_TOKEN_TTL));
    if let Some(nonce) = nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    let claims = Value::Object(claims);
    let signed = if state.forge_id_tokens {
        mock.signer.forge(&claims)
    } else {
        mock.signer.sign(&claims)
    };
    signed.map_err(|err| {
        Box::new(oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            &err.to_string(),
        ))
    })
}

/// `POST /token` and `POST /oauth2/v4/token`: the code exchange and the refresh
/// (<https://developers.google.com/identity/protocols/oauth2/web-server#exchange-authorization-code>,
/// `#offline`), with the client's id and secret in the body or in a Basic header (the
/// discovery document lists both), and the service account grant.
///
/// A code exchange answers `access_token`, `expires_in` (3599), `scope`, `token_type`,
/// the `id_token` with `openid` and the `refresh_token` when the code earned one. A
/// refresh answers the same without a refresh token (the old one stays good); a revoked
/// or unknown one is `invalid_grant` "Token has been expired or revoked.".
pub(super) async fn token(
    State(mock): State<Mock<GoogleApis>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let field = |name: &str| form.get(name).map(String::as_str);
    match field("grant_type") {
        Some(JWT_BEARER) => return service_account_grant(&mock, &form),
        Some("authorization_code" | "refresh_token") => {}
        Some(other) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("Invalid grant_type: {other}"),
            );
        }
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "Invalid grant_type: ",
            );
        }
    }
    let now = mock.now();
    let mut core = mock.lock();
    let core = &mut *core;
    let client_id = match core.clients.authenticate(&headers, &form, Methods::BOTH) {
        Ok((client, _)) => client.client_id.clone(),
        Err(_) => return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Unauthorized"),
    };
    let state = &mut core.state;
    if field("grant_type") == Some("authorization_code") {
        let grant = match redeem_code(
            &mut state.codes,
            field("code").unwrap_or_default(),
            &client_id,
            field("redirect_uri"),
            field("code_verifier"),
            now,
        ) {
            Ok(grant) => grant,
            Err(_) => {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Bad Request");
            }
        };
        if state.suspended.contains(&grant.user) {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Bad Request");
        }
        let issued = Issued {
            user: grant.user.clone(),
            client_id,
            scopes: grant.scopes.clone(),
        };
        let access = state.access.issue(issued.clone(), now + ACCESS_TTL);
        let mut body = Map::new();
        body.insert("access_token".into(), json!(access));
        body.insert("expires_in".into(), json!(ACCESS_TTL));
        body.insert("scope".into(), json!(issued.scopes.join(" ")));
        body.insert("token_type".into(), json!("Bearer"));
        if grant.extra.refresh {
            let refresh = state.refresh.issue(issued.clone(), now + REFRESH_TTL);
            body.insert("refresh_token".into(), json!(refresh));
        }
        if has(&issued.scopes, "openid") && !state.omit_id_token {
            match id_token(&mock, state, &issued, &access, grant.nonce.as_deref(), now) {
                Ok(token) => {
                    body.insert("id_token".into(), json!(token));
                }
                Err(response) => return *response,
            }
        }
        return axum::Json(Value::Object(body)).into_response();
    }
    let presented = field("refresh_token").unwrap_or_default();
    let live = state
        .refresh
        .get(presented, now)
        .filter(|issued| issued.client_id == client_id && !state.suspended.contains(&issued.user))
        .cloned();
    let Some(issued) = live else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Token has been expired or revoked.",
        );
    };
    let access = state.access.issue(issued.clone(), now + ACCESS_TTL);
    let mut body = Map::new();
    body.insert("access_token".into(), json!(access));
    body.insert("expires_in".into(), json!(ACCESS_TTL));
    body.insert("scope".into(), json!(issued.scopes.join(" ")));
    body.insert("token_type".into(), json!("Bearer"));
    if has(&issued.scopes, "openid") && !state.omit_id_token {
        match id_token(&mock, state, &issued, &access, None, now) {
            Ok(token) => {
                body.insert("id_token".into(), json!(token));
            }
            Err(response) => return *response,
        }
    }
    axum::Json(Value::Object(body)).into_response()
}

/// The JWT bearer grant of a service account
/// (<https://developers.google.com/identity/protocols/oauth2/service-account#authorizingrequests>):
/// `assertion` is a JWT signed RS256 by the account's key (`kid` its key id when sent),
/// with `iss` the account's address, `scope`, `aud` the token endpoint, `iat` and `exp`
/// at most an hour apart around now, and `sub` the user to act as. Errors as the page's
/// table has them: an unknown account or key "Invalid JWT Signature."; times outside
/// the hour; no scope `invalid_scope`; an unknown `sub` "Invalid email or User ID"; a
/// `sub` without domain-wide delegation of every requested scope `401
/// unauthorized_client`. The answer: `access_token`, `expires_in` 3599, `token_type`.
fn service_account_grant(mock: &Mock<GoogleApis>, form: &HashMap<String, String>) -> Response {
    let bad_signature = || {
        oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid JWT Signature.",
        )
    };
    let Some(assertion) = form.get("assertion").filter(|a| !a.is_empty()) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing required parameter: assertion",
        );
    };
    let Some(claims) = verify_assertion(mock, assertion) else {
        return bad_signature();
    };
    let text = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or_default();
    let origin = mock.origin();
    let audiences = [
        format!("{origin}{TOKEN_PATH}"),
        format!("{origin}{}", super::LEGACY_TOKEN_PATH),
    ];
    if !audiences.iter().any(|aud| aud == text("aud")) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid JWT: Failed audience check.",
        );
    }
    let now = mock.now();
    let (Some(iat), Some(exp)) = (
        claims.get("iat").and_then(Value::as_i64),
        claims.get("exp").and_then(Value::as_i64),
    ) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", SHORT_LIVED);
    };
    if exp <= iat || exp - iat > 3600 || iat > now + ASSERTION_SKEW || exp <= now {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", SHORT_LIVED);
    }
    let scopes: Vec<String> = text("scope")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if scopes.is_empty() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "Empty or missing scope not allowed.",
        );
    }
    let mut core = mock.lock();
    let state = &mut core.state;
    let account_email = text("iss").to_owned();
    let Some(account) = state.service_accounts.get(&account_email).cloned() else {
        return bad_signature();
    };
    let subject = match claims.get("sub").and_then(Value::as_str) {
        None => None,
        Some(sub) => {
            let Some(user) = state.user_by_key(sub).cloned() else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Invalid email or User ID",
                );
            };
            let delegated = state.delegations.get(&account.unique_id);
            let covered =
                delegated.is_some_and(|granted| scopes.iter().all(|s| granted.contains(s)));
            if !covered {
                return oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized_client",
                    "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.",
                );
            }
            Some(user.email.to_ascii_lowercase())
        }
    };
    state.assertions.push(claims.clone());
    let token = state.delegated.issue(
        Delegated {
            service_account: account_email,
            subject,
            scopes,
        },
        now + ACCESS_TTL,
    );
    axum::Json(json!({
        "access_token": token,
        "expires_in": ACCESS_TTL,
        "token_type": "Bearer",
    }))
    .into_response()
}

/// The claims of an assertion signed RS256 by the registered service account key (the
/// header's `kid`, when sent, naming it); `None` for anything else.
fn verify_assertion(mock: &Mock<GoogleApis>, assertion: &str) -> Option<Map<String, Value>> {
    let header = jsonwebtoken::decode_header(assertion).ok()?;
    if header.alg != jsonwebtoken::Algorithm::RS256 {
        return None;
    }
    if let Some(kid) = &header.kid
        && kid != mock.service_account_kid()
    {
        return None;
    }
    let jwk = mock.service_account_jwk();
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        jwk.get("n").and_then(Value::as_str)?,
        jwk.get("e").and_then(Value::as_str)?,
    )
    .ok()?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Map<String, Value>>(assertion, &key, &validation)
        .ok()
        .map(|data| data.claims)
}

/// The account and scopes behind a user's access token (header or `access_token` query
/// parameter, as Google accepts both), unless it is unknown, expired or the account is
/// suspended.
fn token_user(
    state: &GoogleState,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    now: i64,
) -> Option<(MockUser, Vec<String>)> {
    let token = bearer_token(headers).or_else(|| query.get("access_token").map(String::as_str))?;
    let issued = state.access.get(token, now)?;
    if state.suspended.contains(&issued.user) {
        return None;
    }
    let user = state.users.get(&issued.user)?.clone();
    Some((user, issued.scopes.clone()))
}

/// `GET /oauth2/v1/userinfo` (and `/oauth2/v2/userinfo`): upstream's `userdata_url`,
/// Google's older user info, whose fields are `id`, `email`, `verified_email`, `name`,
/// `given_name`, `family_name`, `picture`, `locale` and `hd` (the `Userinfo` resource of
/// Google's OAuth2 API v2,
/// <https://developers.google.com/resources/api-libraries/documentation/oauth2/v2/java/latest/com/google/api/services/oauth2/model/Userinfo.html>).
/// A token it does not accept gets the JSON API's 401.
pub(super) async fn userinfo_v1(
    State(mock): State<Mock<GoogleApis>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let now = mock.now();
    let core = mock.lock();
    let Some((user, scopes)) = token_user(&core.state, &headers, &query, now) else {
        return api_error(StatusCode::UNAUTHORIZED, "Invalid Credentials", "authError");
    };
    let claims = identity_claims(&user, &scopes);
    let mut info = Map::new();
    for (key, value) in claims {
        match key.as_str() {
            "sub" => {
                info.insert("id".into(), value);
            }
            "email_verified" => {
                info.insert("verified_email".into(), value);
            }
            _ => {
                info.insert(key, value);
            }
        }
    }
    if let Some(extra) = core
        .state
        .userinfo_overrides
        .get(&user.email.to_ascii_lowercase())
    {
        info.extend(extra.clone());
    }
    axum::Json(Value::Object(info)).into_response()
}

/// `GET /v1/userinfo` (openidconnect.googleapis.com) and `/oauth2/v3/userinfo`: the
/// OpenID Connect user info of the discovery document
/// (<https://developers.google.com/identity/openid-connect/openid-connect#obtaininguserprofileinformation>),
/// the ID token's identity claims. A token it does not accept: 401 `invalid_request`
/// "Invalid Credentials".
pub(super) async fn userinfo_oidc(
    State(mock): State<Mock<GoogleApis>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let now = mock.now();
    let core = mock.lock();
    let Some((user, scopes)) = token_user(&core.state, &headers, &query, now) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_request",
            "Invalid Credentials",
        );
    };
    let mut info = identity_claims(&user, &scopes);
    if let Some(extra) = core
        .state
        .userinfo_overrides
        .get(&user.email.to_ascii_lowercase())
    {
        info.extend(extra.clone());
    }
    axum::Json(Value::Object(info)).into_response()
}

/// A group as the Directory API's `Group` resource
/// (<https://developers.google.com/admin-sdk/directory/reference/rest/v1/groups#Group>).
fn group_resource(group: &super::MockGroup) -> Value {
    json!({
        "kind": "admin#directory#group",
        "id": format!("0{}", &guid_from(&group.email).replace('-', "")[..14]),
        "etag": format!("\"{}\"", guid_from(&format!("etag {}", group.email))),
        "email": group.email,
        "name": group.name,
        // int64 fields are strings in Google's JSON.
        "directMembersCount": group.members.len().to_string(),
        "description": "",
        "adminCreated": true,
    })
}

/// `GET /admin/directory/v1/groups` with `userKey`: `groups.list`
/// (<https://developers.google.com/admin-sdk/directory/reference/rest/v1/groups/list>),
/// the groups `userKey` (a user's or a group's address, or a user's id) is a direct
/// member of, sorted by address, at most `maxResults` (1 to 200) per page with
/// `nextPageToken` for the next; `groups` is left out when there are none, as Google
/// leaves out empty fields. The token must carry a group scope
/// (`admin.directory.group.readonly` or `admin.directory.group`, else 403
/// "Request had insufficient authentication scopes.") and act as an administrator who
/// may read groups (else 403 "Not Authorized to access this resource/api", the answer
/// for a service account without `sub` too). An unknown `userKey` or a bad page token
/// is 400 "Invalid Input"; a missing or unknown token 401 "Invalid Credentials".
pub(super) async fn groups_list(
    State(mock): State<Mock<GoogleApis>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let now = mock.now();
    let mut core = mock.lock();
    let state = &mut core.state;
    let token = bearer_token(&headers).or_else(|| query.get("access_token").map(String::as_str));
    let Some(delegated) = token.and_then(|t| state.delegated.get(t, now)).cloned() else {
        return api_error(StatusCode::UNAUTHORIZED, "Invalid Credentials", "authError");
    };
    if !delegated
        .scopes
        .iter()
        .any(|s| s == GROUP_READONLY_SCOPE || s == GROUP_SCOPE)
    {
        return api_error(
            StatusCode::FORBIDDEN,
            "Request had insufficient authentication scopes.",
            "insufficientPermissions",
        );
    }
    let admin_ok = delegated.subject.as_deref().is_some_and(|subject| {
        state
            .users
            .get(subject)
            .is_some_and(|user| user.groups_reader && !state.suspended.contains(subject))
    });
    if !admin_ok {
        return api_error(
            StatusCode::FORBIDDEN,
            "Not Authorized to access this resource/api",
            "forbidden",
        );
    }
    let Some(key) = query.get("userKey").filter(|k| !k.is_empty()) else {
        return api_error(StatusCode::BAD_REQUEST, "Bad Request", "badRequest");
    };
    let member = match state.user_by_key(key) {
        Some(user) => user.email.to_ascii_lowercase(),
        None if state.groups.contains_key(&key.to_ascii_lowercase()) => key.to_ascii_lowercase(),
        None => return api_error(StatusCode::BAD_REQUEST, "Invalid Input", "invalid"),
    };
    let page_size = match query.get("maxResults") {
        None => state.page_size,
        Some(raw) => match raw.parse::<usize>() {
            Ok(size) if (1..=200).contains(&size) => size,
            _ => {
                return api_error(
                    StatusCode::BAD_REQUEST,
                    &format!("Invalid value '{raw}'. Values must be within the range: [1, 200]"),
                    "invalid",
                );
            }
        },
    };
    let offset = match query.get("pageToken") {
        None => 0,
        Some(page) => match state.page_tokens.get(page) {
            Some((for_key, offset)) if *for_key == member => *offset,
            _ => return api_error(StatusCode::BAD_REQUEST, "Invalid Input", "invalid"),
        },
    };
    let groups: Vec<Value> = state
        .groups
        .values()
        .filter(|group| {
            group
                .members
                .iter()
                .any(|m| m.eq_ignore_ascii_case(&member))
        })
        .map(group_resource)
        .collect();
    let page: Vec<Value> = groups
        .iter()
        .skip(offset)
        .take(page_size)
        .cloned()
        .collect();
    let mut body = Map::new();
    body.insert("kind".into(), json!("admin#directory#groups"));
    body.insert(
        "etag".into(),
        json!(format!("\"{}\"", URL_SAFE_NO_PAD.encode(random_token(12)))),
    );
    if !page.is_empty() {
        body.insert("groups".into(), Value::Array(page));
    }
    if offset + page_size < groups.len() {
        let next = random_token(24);
        state
            .page_tokens
            .insert(next.clone(), (member, offset + page_size));
        body.insert("nextPageToken".into(), json!(next));
    }
    axum::Json(Value::Object(body)).into_response()
}
