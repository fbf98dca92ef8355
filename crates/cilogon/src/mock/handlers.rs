//! The CILogon mock's endpoints (see the module documentation of [`super`] for what each
//! models and where CILogon documents it).

use std::collections::HashMap;

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hubauth_devidp::mock::{
    AuthorizeError, AuthorizeRequest, CodeError, Methods, Mock, RsaSigner, bearer_token, html,
    random_token, redeem_code,
};
use serde_json::{Map, Value, json};

use super::{
    AUTHORIZE_PATH, AuthorizeSeen, Cilogon, CilogonState, GITHUB_IDP, GOOGLE_IDP, IDPLIST_PATH,
    Issued, JWKS_PATH, LoginTime, MICROSOFT_IDP, MockIdp, MockUser, ORCID_IDP, REVOKE_PATH,
    TOKEN_PATH, USERINFO_PATH,
};

/// The discovery document lists `client_secret_basic` and `client_secret_post`.
const CLIENT_AUTH: Methods = Methods::BOTH;
/// Access tokens and ID tokens live 15 minutes (OA4MP's default, `lifetime=900000` ms in
/// CILogon's token identifiers).
const ACCESS_TTL: i64 = 900;
const ID_TOKEN_TTL: i64 = 900;
/// How long an authorization code can be exchanged.
const CODE_TTL: i64 = 900;

/// The claims `org.cilogon.userinfo` releases besides `idp` and `idp_name` (CILogon's
/// OIDC page and the discovery document's `claims_supported`).
const USERINFO_SCOPE_CLAIMS: [&str; 10] = [
    "eppn",
    "eptid",
    "affiliation",
    "ou",
    "oidc",
    "subject_id",
    "pairwise_id",
    "preferred_username",
    "uid",
    "isMemberOf",
];

/// An OAuth error answer (RFC 6749 5.2), never cached.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response();
    no_store(response.headers_mut());
    response
}

fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// A token in the shape of OA4MP's identifiers (the server software CILogon runs).
fn oa4mp_token(origin: &str, kind: &str, now: i64, lifetime: i64) -> String {
    format!(
        "{origin}/oauth2/{}?type={kind}&ts={}&version=v2.0&lifetime={}",
        random_token(16),
        now.saturating_mul(1000),
        lifetime.saturating_mul(1000)
    )
}

/// CILogon's `normalizeOAuth2IdP`: Google, GitHub, ORCID and Microsoft issuer URLs, with
/// `http` or `https`, name CILogon's EntityID for them (a Google SAML URL does not).
fn normalize_oauth2_idp(idp: &str) -> String {
    let rest = idp
        .strip_prefix("https://")
        .or_else(|| idp.strip_prefix("http://"));
    let Some(rest) = rest else {
        return idp.to_owned();
    };
    let google = (rest.starts_with("accounts.google.com") || rest.starts_with("google.com"))
        && !rest.starts_with("accounts.google.com/o/saml2");
    if google {
        GOOGLE_IDP.to_owned()
    } else if rest.starts_with("github.com") {
        GITHUB_IDP.to_owned()
    } else if rest.starts_with("orcid.org") {
        ORCID_IDP.to_owned()
    } else if rest.starts_with("login.microsoftonline.com") {
        MICROSOFT_IDP.to_owned()
    } else {
        idp.to_owned()
    }
}

fn param<'a>(params: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    params
        .get(name)
        .map(String::as_str)
        .filter(|value| !value.is_empty())
}

/// CILogon's IdP hinting (`getIdphintList`): `idphint` over `selected_idp`, split at
/// commas, chained hints cut at `?`, OAuth2 issuers normalized, and only IdPs in
/// `available` kept (once each, in the order hinted).
fn hint_list(params: &HashMap<String, String>, available: &[&MockIdp]) -> Vec<String> {
    let Some(hint) = param(params, "idphint").or_else(|| param(params, "selected_idp")) else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for entry in hint.split(',') {
        let entry = entry.split('?').next().unwrap_or(entry);
        let entity_id = normalize_oauth2_idp(entry);
        if available.iter().any(|idp| idp.entity_id == entity_id) && !out.contains(&entity_id) {
            out.push(entity_id);
        }
    }
    out
}

/// What the page for this request shows.
fn seen(params: &HashMap<String, String>, state: &CilogonState) -> AuthorizeSeen {
    let skin = param(params, "skin");
    let available = state.idps_for_skin(skin);
    let hints = hint_list(params, &available);
    let mut shown: Vec<&MockIdp> = available
        .into_iter()
        .filter(|idp| hints.is_empty() || hints.contains(&idp.entity_id))
        .collect();
    // CILogon lists the IdPs by display name; the pre-selected one is marked.
    shown.sort_by_key(|idp| idp.display_name.to_lowercase());
    AuthorizeSeen {
        selected_idp: params.get("selected_idp").cloned(),
        idphint: params.get("idphint").cloned(),
        skin: skin.map(str::to_owned),
        shown: shown.iter().map(|idp| idp.entity_id.clone()).collect(),
        preselected: hints.first().cloned(),
    }
}

/// The page for a request whose client or redirect URI cannot be trusted.
fn refused(err: &AuthorizeError) -> Response {
    html::page(
        StatusCode::BAD_REQUEST,
        "CILogon (mock)",
        &format!("<p>{}</p>", html::escape(&err.to_string())),
    )
}

/// `GET /authorize`.
pub(super) async fn authorize(
    State(mock): State<Mock<Cilogon>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    authorize_request(&mock, &query, None)
}

/// `POST /authorize`: an authorization request sent as a form, or the picker's choice
/// (`login_as`; empty for "Cancel").
pub(super) async fn authorize_form(
    State(mock): State<Mock<Cilogon>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let pick = form.get("login_as").cloned();
    authorize_request(&mock, &form, pick)
}

fn authorize_request(
    mock: &Mock<Cilogon>,
    params: &HashMap<String, String>,
    pick: Option<String>,
) -> Response {
    let now = mock.now();
    let request = AuthorizeRequest::from_params(params);
    let mut core = mock.lock();
    let core = &mut *core;
    if let Err(err) = request.target(&core.clients) {
        return refused(&err);
    }
    let state = &mut core.state;
    let page = seen(params, state);
    if pick.is_none() {
        state.authorizations.push(page.clone());
    }
    let choice = pick.or_else(|| state.auto_approve.clone());
    let Some(user) = choice else {
        return picker(params, &page, state);
    };
    let redirect_uri = request.redirect_uri.as_str();
    let mut reply: Vec<(&str, String)> = Vec::new();
    let outcome = match request.check(&core.clients) {
        Ok(_) => approve(state, &request, &user, now),
        Err(err) if err.redirects() => Err(("invalid_request", err.to_string())),
        Err(err) => return refused(&err),
    };
    match outcome {
        Ok(code) => reply.push(("code", code)),
        Err((error, description)) => {
            reply.push(("error", error.to_owned()));
            reply.push(("error_description", description));
        }
    }
    if let Some(state_param) = &request.state {
        reply.push(("state", state_param.clone()));
    }
    let pairs: Vec<(&str, &str)> = reply.iter().map(|(k, v)| (*k, v.as_str())).collect();
    html::redirect_with(redirect_uri, &pairs)
}

/// Issues a code for `user`, or the error the client is sent back with.
fn approve(
    state: &mut CilogonState,
    request: &AuthorizeRequest,
    user: &str,
    now: i64,
) -> Result<String, (&'static str, String)> {
    if user.is_empty() || !state.users.contains_key(user) || state.disabled.contains(user) {
        return Err(("access_denied", "the user did not log in".to_owned()));
    }
    if !request.scopes.iter().any(|scope| scope == "openid") {
        return Err(("invalid_scope", "the openid scope is required".to_owned()));
    }
    // A client is granted at most the scopes it is registered for.
    let registered = state
        .clients
        .get(&request.client_id)
        .map(|settings| settings.scopes.clone())
        .unwrap_or_default();
    let mut grant = request.grant(user, LoginTime(now));
    grant.scopes.retain(|scope| registered.contains(scope));
    grant.scopes.dedup();
    Ok(state.codes.issue(grant, now + CODE_TTL))
}

/// The IdP and user picker.
fn picker(
    params: &HashMap<String, String>,
    page: &AuthorizeSeen,
    state: &CilogonState,
) -> Response {
    let mut sections = String::new();
    for entity_id in &page.shown {
        let Some(idp) = state.idps.iter().find(|idp| &idp.entity_id == entity_id) else {
            continue;
        };
        let marker = if page.preselected.as_ref() == Some(entity_id) {
            " (selected)"
        } else {
            ""
        };
        let buttons: String = state
            .users
            .values()
            .filter(|user| &user.idp == entity_id)
            .map(|user| {
                format!(
                    "<button type=\"submit\" name=\"login_as\" value=\"{key}\">{key}</button>",
                    key = html::escape(&user.key)
                )
            })
            .collect();
        sections.push_str(&format!(
            "<fieldset data-idp=\"{id}\"><legend>{name}{marker}</legend>{buttons}</fieldset>",
            id = html::escape(&idp.entity_id),
            name = html::escape(&idp.display_name),
        ));
    }
    html::page(
        StatusCode::OK,
        "Select an Identity Provider (CILogon mock)",
        &format!(
            "<form method=\"post\" action=\"{AUTHORIZE_PATH}\">{hidden}{sections}<button type=\"submit\" name=\"login_as\" value=\"\">Cancel</button></form>",
            hidden = html::hidden_fields(params.iter().filter(|(k, _)| *k != "login_as")),
        ),
    )
}

/// The claims `scopes` release about `user`; a missing or empty attribute is left out.
pub(super) fn released_claims(
    state: &CilogonState,
    user: &MockUser,
    scopes: &[String],
) -> Map<String, Value> {
    let has = |scope: &str| scopes.iter().any(|s| s == scope);
    let present = |value: &&Value| !matches!(value, Value::Null) && value.as_str() != Some("");
    let mut out = Map::new();
    out.insert("sub".into(), json!(user.sub));
    let take = |out: &mut Map<String, Value>, name: &str| {
        if let Some(value) = user.claims.get(name).filter(present) {
            out.insert(name.to_owned(), value.clone());
        }
    };
    if has("email") {
        take(&mut out, "email");
    }
    if has("profile") {
        for name in ["given_name", "family_name", "name"] {
            take(&mut out, name);
        }
    }
    if has("org.cilogon.userinfo") {
        if !user.idp.is_empty() {
            out.insert("idp".into(), json!(user.idp));
        }
        match user.claims.get("idp_name").filter(present) {
            Some(name) => {
                out.insert("idp_name".into(), name.clone());
            }
            None => {
                if let Some(idp) = state.idps.iter().find(|idp| idp.entity_id == user.idp) {
                    out.insert("idp_name".into(), json!(idp.display_name));
                }
            }
        }
        for name in USERINFO_SCOPE_CLAIMS {
            take(&mut out, name);
        }
    }
    out
}

/// `POST /oauth2/token`.
pub(super) async fn token(
    State(mock): State<Mock<Cilogon>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let now = mock.now();
    // Both grants answer with an ID token; the key is made once per process, off the lock.
    let signer = match RsaSigner::shared().await {
        Ok(signer) => signer,
        Err(err) => {
            return oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                &err.to_string(),
            );
        }
    };
    let origin = mock.origin().to_owned();
    let mut core = mock.lock();
    let core = &mut *core;
    let client_id = match core.clients.authenticate(&headers, &form, CLIENT_AUTH) {
        Ok((client, _)) => client.client_id.clone(),
        Err(err) => {
            let mut response =
                oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", &err.to_string());
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"CILogon\""),
            );
            return response;
        }
    };
    let state = &mut core.state;
    let field = |name: &str| form.get(name).map(String::as_str);
    let (issued, nonce) = match field("grant_type") {
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
                Err(err) => return code_refused(err),
            };
            if state.disabled.contains(&grant.user) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "the user is disabled",
                );
            }
            let issued = Issued {
                user: grant.user,
                client_id: client_id.clone(),
                scopes: grant.scopes,
                auth_time: grant.extra.0,
            };
            (issued, grant.nonce)
        }
        Some("refresh_token") => {
            let presented = field("refresh_token").unwrap_or_default().to_owned();
            let live = state
                .refresh
                .get(&presented, now)
                .filter(|issued| {
                    issued.client_id == client_id && !state.disabled.contains(&issued.user)
                })
                .cloned();
            let Some(mut issued) = live else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "the refresh token is not valid",
                );
            };
            // A narrower scope may be asked for (RFC 6749 6), never a wider one.
            if let Some(scope) = field("scope").filter(|s| !s.is_empty()) {
                let asked: Vec<String> = scope.split_whitespace().map(str::to_owned).collect();
                if asked.iter().any(|s| !issued.scopes.contains(s)) {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_scope",
                        "the scope is wider than the one granted",
                    );
                }
                issued.scopes = asked;
            }
            // Rotation: the refresh token presented is used up.
            state.refresh.revoke(&presented, now);
            (issued, None)
        }
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant_type must be authorization_code or refresh_token",
            );
        }
    };
    let Some(user) = state.users.get(&issued.user).cloned() else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown user");
    };
    let settings = state.clients.get(&client_id).cloned().unwrap_or_default();
    let has = |scope: &str| issued.scopes.iter().any(|s| s == scope);
    let access = oa4mp_token(&origin, "accessToken", now, ACCESS_TTL);
    let mut body = Map::new();
    body.insert("access_token".into(), json!(access));
    body.insert("token_type".into(), json!("Bearer"));
    body.insert("expires_in".into(), json!(ACCESS_TTL));
    if has("offline_access") && settings.refresh_lifetime > 0 {
        let refresh = oa4mp_token(&origin, "refreshToken", now, settings.refresh_lifetime);
        state.refresh.insert(
            refresh.clone(),
            issued.clone(),
            now + settings.refresh_lifetime,
        );
        body.insert("refresh_token".into(), json!(refresh));
    }
    if has("openid") {
        let mut claims = released_claims(state, &user, &issued.scopes);
        claims.insert("iss".into(), json!(origin));
        claims.insert("aud".into(), json!(client_id));
        claims.insert("iat".into(), json!(now));
        claims.insert("exp".into(), json!(now + ID_TOKEN_TTL));
        claims.insert("auth_time".into(), json!(issued.auth_time));
        claims.insert(
            "jti".into(),
            json!(format!("{origin}/oauth2/idToken/{}", random_token(16))),
        );
        if let Some(nonce) = &nonce {
            claims.insert("nonce".into(), json!(nonce));
        }
        let claims = Value::Object(claims);
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
    state.access.insert(access, issued, now + ACCESS_TTL);
    let mut response = axum::Json(Value::Object(body)).into_response();
    no_store(response.headers_mut());
    response
}

fn code_refused(err: CodeError) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", &err.to_string())
}

/// `GET /oauth2/userinfo`: the token as a Bearer header or an `access_token` query
/// parameter.
pub(super) async fn userinfo(
    State(mock): State<Mock<Cilogon>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    userinfo_answer(&mock, &headers, query.get("access_token"))
}

/// `POST /oauth2/userinfo`: the token as a Bearer header or an `access_token` form field.
pub(super) async fn userinfo_form(
    State(mock): State<Mock<Cilogon>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    userinfo_answer(&mock, &headers, form.get("access_token"))
}

fn invalid_token(description: &str) -> Response {
    let mut response = oauth_error(StatusCode::UNAUTHORIZED, "invalid_token", description);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    response
}

fn userinfo_answer(
    mock: &Mock<Cilogon>,
    headers: &HeaderMap,
    parameter: Option<&String>,
) -> Response {
    let now = mock.now();
    let token = match (bearer_token(headers), parameter.filter(|t| !t.is_empty())) {
        (Some(_), Some(_)) => {
            // RFC 6750 2: one way of sending the token per request.
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "the access token was sent more than one way",
            );
        }
        (Some(token), None) => token.to_owned(),
        (None, Some(token)) => token.clone(),
        (None, None) => return invalid_token("no access token"),
    };
    let core = mock.lock();
    let state = &core.state;
    let Some(issued) = state.access.get(&token, now) else {
        return invalid_token("the access token is not valid");
    };
    if state.disabled.contains(&issued.user) {
        return invalid_token("the access token is not valid");
    }
    let Some(user) = state.users.get(&issued.user) else {
        return invalid_token("the access token is not valid");
    };
    let claims = released_claims(state, user, &issued.scopes);
    axum::Json(Value::Object(claims)).into_response()
}

/// `POST /oauth2/revoke` (RFC 7009): the client authenticates; an unknown token is not
/// an error.
pub(super) async fn revoke(
    State(mock): State<Mock<Cilogon>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let now = mock.now();
    let mut core = mock.lock();
    let core = &mut *core;
    if let Err(err) = core.clients.authenticate(&headers, &form, CLIENT_AUTH) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", &err.to_string());
    }
    let Some(token) = form.get("token").filter(|t| !t.is_empty()).cloned() else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is required",
        );
    };
    let state = &mut core.state;
    state.access.revoke(&token, now);
    state.refresh.revoke(&token, now);
    state.revoked.push(token);
    StatusCode::OK.into_response()
}

/// The discovery document as CILogon publishes it, with this mock's origin.
pub(super) async fn discovery(State(mock): State<Mock<Cilogon>>) -> Response {
    let origin = mock.origin();
    axum::Json(json!({
        "issuer": origin,
        "authorization_endpoint": format!("{origin}{AUTHORIZE_PATH}"),
        "device_authorization_endpoint": format!("{origin}/oauth2/device_authorization"),
        "registration_endpoint": format!("{origin}/oauth2/oidc-cm"),
        "token_endpoint": format!("{origin}{TOKEN_PATH}"),
        "userinfo_endpoint": format!("{origin}{USERINFO_PATH}"),
        "introspection_endpoint": format!("{origin}/oauth2/introspect"),
        "revocation_endpoint": format!("{origin}{REVOKE_PATH}"),
        "jwks_uri": format!("{origin}{JWKS_PATH}"),
        "service_documentation": "https://www.cilogon.org/oidc",
        "response_types_supported": ["code", "id_token"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "grant_types_supported": [
            "authorization_code",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:token-exchange",
            "urn:ietf:params:oauth:grant-type:device_code"
        ],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "RS384", "RS512"],
        "scopes_supported": super::SUPPORTED_SCOPES,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["plain", "S256"],
        "claims_supported": [
            "acr", "affiliation", "aud", "auth_time", "cert_subject_dn", "email", "eppn",
            "eptid", "exp", "family_name", "given_name", "iat", "idp", "idp_name",
            "isMemberOf", "iss", "name", "nonce", "oidc", "openid", "ou", "pairwise_id",
            "preferred_username", "sub", "subject_id", "token_id", "uid", "uidNumber",
            "voPersonExternalID"
        ],
    }))
    .into_response()
}

/// `GET /oauth2/certs`: the key the ID tokens are signed with.
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

/// `GET /idplist/`: the IdPs (of the skin, with `?skin=`) as JSON. CILogon's script
/// sends no JSON content type (PHP's default `text/html`), and `[]` when it cannot read
/// its list.
pub(super) async fn idp_list(
    State(mock): State<Mock<Cilogon>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let core = mock.lock();
    let state = &core.state;
    let list: Vec<Value> = if state.idp_list_unreadable {
        Vec::new()
    } else {
        state
            .idps_for_skin(param(&query, "skin"))
            .into_iter()
            .map(|idp| {
                json!({
                    "EntityID": idp.entity_id,
                    "OrganizationName": idp.organization_name,
                    "DisplayName": idp.display_name,
                    "RandS": idp.rands,
                })
            })
            .collect()
    };
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=UTF-8"),
        )],
        Value::Array(list).to_string(),
    )
        .into_response()
}

/// `GET /idplist`: the web server's redirect to the directory, `/idplist/`.
pub(super) async fn idp_list_redirect(
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let location = match query {
        Some(query) => format!("{IDPLIST_PATH}?{query}"),
        None => IDPLIST_PATH.to_owned(),
    };
    (
        StatusCode::MOVED_PERMANENTLY,
        [(header::LOCATION, location)],
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oauth2_issuers_name_cilogons_entity_ids() {
        assert_eq!(
            normalize_oauth2_idp("https://accounts.google.com"),
            GOOGLE_IDP
        );
        assert_eq!(
            normalize_oauth2_idp("http://google.com/accounts/o8/id"),
            GOOGLE_IDP
        );
        assert_eq!(
            normalize_oauth2_idp("https://accounts.google.com/o/saml2?idpid=x"),
            "https://accounts.google.com/o/saml2?idpid=x"
        );
        assert_eq!(
            normalize_oauth2_idp("https://github.com/login/oauth/authorize"),
            GITHUB_IDP
        );
        assert_eq!(normalize_oauth2_idp("https://orcid.org"), ORCID_IDP);
        assert_eq!(
            normalize_oauth2_idp("https://login.microsoftonline.com/tenant/v2.0"),
            MICROSOFT_IDP
        );
        assert_eq!(
            normalize_oauth2_idp("https://idp.uni.edu/idp/shibboleth"),
            "https://idp.uni.edu/idp/shibboleth"
        );
    }
}
