//! The authorization endpoint (RFC 6749 4.1.1, OIDC Core 3.1.2), with the login form.
//!
//! GET and POST both accept an authorization request (OIDC Core 3.1.2.1). A POST that
//! carries the login form's fields (`devidp_action`, `devidp_username`,
//! `devidp_password`) is the form being submitted; the form carries the original
//! request's parameters as hidden fields, and they are checked again exactly as on GET.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::control::Endpoint;
use crate::pages::{self, FIELD_ACTION, FIELD_PASSWORD, FIELD_USERNAME};
use crate::params::{Params, is_form};
use crate::state::{CodeGrant, Inner, Session, Shared, random_token};

/// A checked authorization request.
#[derive(Debug)]
struct AuthRequest {
    client_id: String,
    redirect_uri: String,
    redirect_uri_sent: bool,
    state: Option<String>,
    scopes: Vec<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    prompt: Vec<String>,
    max_age: Option<i64>,
    login_hint: Option<String>,
}

/// Why an authorization request fails.
#[derive(Debug)]
enum AuthorizeError {
    /// Shown to the user; never redirected (unknown client, bad redirect URI).
    Page(StatusCode, String),
    /// Sent back to the client's redirect URI (RFC 6749 4.1.2.1).
    Redirect {
        to: String,
        error: &'static str,
        description: String,
        state: Option<String>,
    },
}

/// What the user did on the login form.
#[derive(Debug, Default)]
struct LoginForm {
    action: Option<String>,
    username: String,
    password: String,
}

/// `GET /authorize`
pub(crate) async fn authorize_get(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    handle(&shared, &headers, &params, None, StatusCode::FOUND)
}

/// `POST /authorize`: an authorization request sent as a form, or the login form.
pub(crate) async fn authorize_post(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !is_form(headers.get(header::CONTENT_TYPE)) {
        return pages::error_page(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Expected an application/x-www-form-urlencoded body.",
        );
    }
    let all = Params::parse(&body);
    let mut form = LoginForm::default();
    let mut request = Vec::new();
    for (name, value) in all.pairs() {
        match name.as_str() {
            FIELD_ACTION => {
                form.action.get_or_insert_with(|| value.clone());
            }
            FIELD_USERNAME => form.username.clone_from(value),
            FIELD_PASSWORD => form.password.clone_from(value),
            _ => request.push((name.clone(), value.clone())),
        }
    }
    let params = Params::from_pairs(request);
    let form = form.action.is_some().then_some(form);
    handle(&shared, &headers, &params, form, StatusCode::SEE_OTHER)
}

fn handle(
    shared: &Shared,
    headers: &HeaderMap,
    params: &Params,
    form: Option<LoginForm>,
    redirect_status: StatusCode,
) -> Response {
    let now = shared.now();
    let mut inner = shared.lock();
    let request = match parse_request(&inner, params) {
        Ok(request) => request,
        Err(err) => return error_response(shared, err, redirect_status),
    };
    let cookie = session_cookie(headers, &shared.cookie_name);
    if let Some(form) = form {
        let submitted = Submitted {
            request: &request,
            params,
            form,
            old_session: cookie,
        };
        return submit_form(shared, &mut inner, submitted, now, redirect_status);
    }

    if let Some(username) = inner.auto_approve.clone() {
        if inner.active_user(&username).is_none() {
            let err = redirect_error(
                &request,
                "access_denied",
                "the auto-approved user is disabled",
            );
            return error_response(shared, err, redirect_status);
        }
        tracing::info!(username = %username, client_id = %request.client_id, "auto-approved sign-in");
        let code = issue_code(shared, &mut inner, &request, &username, now, now);
        return success(shared, &request, &code, redirect_status, None);
    }

    let session = cookie.and_then(|id| {
        let session = inner.sessions.get(&id)?;
        let usable = session.expires_at > now && inner.active_user(&session.username).is_some();
        usable.then(|| (session.username.clone(), session.auth_time))
    });
    let too_old = |auth_time: i64| {
        request
            .max_age
            .is_some_and(|max_age| now.saturating_sub(auth_time) > max_age)
    };
    match session {
        Some((username, auth_time))
            if !request.prompt.iter().any(|p| p == "login") && !too_old(auth_time) =>
        {
            tracing::info!(username = %username, client_id = %request.client_id, "sign-in from the provider's session");
            let code = issue_code(shared, &mut inner, &request, &username, auth_time, now);
            success(shared, &request, &code, redirect_status, None)
        }
        _ if request.prompt.iter().any(|p| p == "none") => {
            let err = redirect_error(
                &request,
                "login_required",
                "prompt=none, but the user is not signed in at the provider",
            );
            error_response(shared, err, redirect_status)
        }
        _ => login_form(
            shared,
            &request,
            params,
            StatusCode::OK,
            request.login_hint.as_deref().unwrap_or_default(),
            None,
        ),
    }
}

/// A submitted login form and the request it belongs to.
struct Submitted<'a> {
    request: &'a AuthRequest,
    params: &'a Params,
    form: LoginForm,
    /// The session the browser had before, replaced by the new login.
    old_session: Option<String>,
}

fn submit_form(
    shared: &Shared,
    inner: &mut Inner,
    submitted: Submitted<'_>,
    now: i64,
    redirect_status: StatusCode,
) -> Response {
    let Submitted {
        request,
        params,
        form,
        old_session,
    } = submitted;
    match form.action.as_deref() {
        Some("deny") => {
            tracing::info!(client_id = %request.client_id, "user denied the sign-in");
            let err = redirect_error(request, "access_denied", "the user denied the request");
            error_response(shared, err, redirect_status)
        }
        Some("login") => {
            let record = inner.users.get(&form.username);
            let password_ok = record.is_some_and(|record| {
                bool::from(
                    record
                        .user
                        .password
                        .as_bytes()
                        .ct_eq(form.password.as_bytes()),
                )
            });
            if !password_ok {
                tracing::info!(username = %form.username, "failed sign-in at the dev provider");
                return login_form(
                    shared,
                    request,
                    params,
                    StatusCode::UNAUTHORIZED,
                    &form.username,
                    Some("Wrong username or password."),
                );
            }
            if record.is_some_and(|record| record.disabled) {
                return login_form(
                    shared,
                    request,
                    params,
                    StatusCode::FORBIDDEN,
                    &form.username,
                    Some("This account is disabled."),
                );
            }
            if let Some(old) = old_session {
                inner.sessions.remove(&old);
            }
            let session_id = random_token();
            inner.sessions.insert(
                session_id.clone(),
                Session {
                    username: form.username.clone(),
                    auth_time: now,
                    expires_at: now.saturating_add(shared.lifetimes.session),
                },
            );
            tracing::info!(username = %form.username, client_id = %request.client_id, "signed in at the dev provider");
            let code = issue_code(shared, inner, request, &form.username, now, now);
            success(shared, request, &code, redirect_status, Some(&session_id))
        }
        _ => pages::error_page(StatusCode::BAD_REQUEST, "Unknown form action."),
    }
}

fn parse_request(inner: &Inner, params: &Params) -> Result<AuthRequest, AuthorizeError> {
    let page = |message: String| AuthorizeError::Page(StatusCode::BAD_REQUEST, message);
    let client_id = params
        .get("client_id")
        .map_err(|_| page("client_id was sent more than once.".into()))?
        .ok_or_else(|| page("The request has no client_id.".into()))?;
    let client = inner
        .clients
        .get(client_id)
        .ok_or_else(|| page(format!("Unknown client_id {client_id:?}.")))?;
    let sent_redirect = params
        .get("redirect_uri")
        .map_err(|_| page("redirect_uri was sent more than once.".into()))?;
    let redirect_uri = match sent_redirect {
        Some(uri)
            if client
                .redirect_uris
                .iter()
                .any(|registered| registered == uri) =>
        {
            uri
        }
        Some(uri) => {
            return Err(page(format!(
                "The redirect_uri {uri:?} is not registered for client {client_id:?}."
            )));
        }
        None => match client.redirect_uris.as_slice() {
            [only] => only.as_str(),
            _ => {
                return Err(page(
                    "The request has no redirect_uri, and the client registered several.".into(),
                ));
            }
        },
    };

    // From here on, errors go back to the (now trusted) redirect URI.
    let state = params.get("state").ok().flatten().map(str::to_owned);
    let fail = |error: &'static str, description: String| AuthorizeError::Redirect {
        to: redirect_uri.to_owned(),
        error,
        description,
        state: state.clone(),
    };
    if let Some(name) = params.first_repeated(&[]) {
        return Err(fail(
            "invalid_request",
            format!("the parameter {name} was sent more than once"),
        ));
    }
    let get = |name: &str| params.get(name).ok().flatten();
    if get("request").is_some() {
        return Err(fail(
            "request_not_supported",
            "request objects are not supported".into(),
        ));
    }
    if get("request_uri").is_some() {
        return Err(fail(
            "request_uri_not_supported",
            "request_uri is not supported".into(),
        ));
    }
    match get("response_type") {
        None => return Err(fail("invalid_request", "response_type is required".into())),
        Some("code") => {}
        Some(_) => {
            return Err(fail(
                "unsupported_response_type",
                "only response_type=code is supported".into(),
            ));
        }
    }
    if let Some(mode) = get("response_mode")
        && mode != "query"
    {
        return Err(fail(
            "invalid_request",
            "only response_mode=query is supported".into(),
        ));
    }

    let mut scopes: Vec<String> = Vec::new();
    for scope in get("scope")
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
    {
        let valid = scope
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
        if !valid {
            return Err(fail(
                "invalid_scope",
                "a scope contains a character RFC 6749 forbids".into(),
            ));
        }
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    if let Some(allowed) = &inner.scope_filter {
        scopes.retain(|scope| allowed.contains(scope));
    }
    if sent_redirect.is_none() && scopes.iter().any(|s| s == "openid") {
        return Err(fail(
            "invalid_request",
            "redirect_uri is required in OpenID Connect requests".into(),
        ));
    }

    let code_challenge = match (get("code_challenge"), get("code_challenge_method")) {
        (None, None) => None,
        (None, Some(_)) => {
            return Err(fail(
                "invalid_request",
                "code_challenge_method was sent without code_challenge".into(),
            ));
        }
        (Some(_), None) => {
            return Err(fail(
                "invalid_request",
                "code_challenge_method is missing, which means plain; only S256 is supported"
                    .into(),
            ));
        }
        (Some(_), Some("plain")) => {
            return Err(fail(
                "invalid_request",
                "code_challenge_method plain is not allowed; use S256".into(),
            ));
        }
        (Some(_), Some(method)) if method != "S256" => {
            return Err(fail(
                "invalid_request",
                "unsupported code_challenge_method; use S256".into(),
            ));
        }
        (Some(challenge), Some(_)) => {
            if !is_pkce_value(challenge) {
                return Err(fail(
                    "invalid_request",
                    "code_challenge must be 43 to 128 unreserved characters".into(),
                ));
            }
            Some(challenge.to_owned())
        }
    };
    if client.require_pkce && code_challenge.is_none() {
        return Err(fail(
            "invalid_request",
            "this client must use PKCE: code_challenge (S256) is required".into(),
        ));
    }

    let prompt: Vec<String> = get("prompt")
        .unwrap_or_default()
        .split(' ')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    if prompt.iter().any(|p| p == "none") && prompt.len() > 1 {
        return Err(fail(
            "invalid_request",
            "prompt=none cannot be combined with other prompt values".into(),
        ));
    }
    let max_age = match get("max_age") {
        None => None,
        Some(text) => match text.parse::<i64>() {
            Ok(age) if age >= 0 => Some(age),
            _ => {
                return Err(fail(
                    "invalid_request",
                    "max_age must be a non-negative integer".into(),
                ));
            }
        },
    };

    Ok(AuthRequest {
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        redirect_uri_sent: sent_redirect.is_some(),
        state,
        scopes,
        nonce: get("nonce").map(str::to_owned),
        code_challenge,
        prompt,
        max_age,
        login_hint: get("login_hint").map(str::to_owned),
    })
}

/// RFC 7636 4.1/4.2: 43 to 128 characters from `[A-Za-z0-9-._~]`.
pub(crate) fn is_pkce_value(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

fn redirect_error(request: &AuthRequest, error: &'static str, description: &str) -> AuthorizeError {
    AuthorizeError::Redirect {
        to: request.redirect_uri.clone(),
        error,
        description: description.to_owned(),
        state: request.state.clone(),
    }
}

fn issue_code(
    shared: &Shared,
    inner: &mut Inner,
    request: &AuthRequest,
    username: &str,
    auth_time: i64,
    now: i64,
) -> String {
    inner.maybe_purge(now, &shared.lifetimes);
    let code = random_token();
    let family = inner.new_family();
    inner.codes.insert(
        code.clone(),
        CodeGrant {
            client_id: request.client_id.clone(),
            redirect_uri: request.redirect_uri.clone(),
            redirect_uri_sent: request.redirect_uri_sent,
            username: username.to_owned(),
            scopes: request.scopes.clone(),
            nonce: request.nonce.clone(),
            code_challenge: request.code_challenge.clone(),
            auth_time,
            issued_at: now,
            used: false,
            family,
        },
    );
    code
}

/// Appends parameters to a registered redirect URI.
fn with_params(base: &str, params: &[(&str, &str)]) -> Option<String> {
    let mut url = url::Url::parse(base).ok()?;
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            query.append_pair(name, value);
        }
    }
    Some(url.into())
}

fn redirect(location: Option<String>, status: StatusCode, cookie: Option<String>) -> Response {
    let Some(value) = location.and_then(|l| HeaderValue::from_str(&l).ok()) else {
        return pages::error_page(
            StatusCode::BAD_REQUEST,
            "The registered redirect URI cannot be used.",
        );
    };
    let mut response = (status, [(header::LOCATION, value)]).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(cookie) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert(header::SET_COOKIE, cookie);
    }
    response
}

fn success(
    shared: &Shared,
    request: &AuthRequest,
    code: &str,
    status: StatusCode,
    new_session: Option<&str>,
) -> Response {
    let mut params = vec![("code", code)];
    if let Some(state) = &request.state {
        params.push(("state", state));
    }
    params.push(("iss", &shared.issuer));
    let cookie = new_session.map(|id| {
        format!(
            "{}={id}; Path={}; HttpOnly; SameSite=Lax",
            shared.cookie_name,
            cookie_path(shared)
        )
    });
    redirect(with_params(&request.redirect_uri, &params), status, cookie)
}

fn error_response(shared: &Shared, err: AuthorizeError, status: StatusCode) -> Response {
    match err {
        AuthorizeError::Page(code, message) => {
            tracing::info!(%message, "authorization request refused");
            pages::error_page(code, &message)
        }
        AuthorizeError::Redirect {
            to,
            error,
            description,
            state,
        } => {
            tracing::info!(error, %description, "authorization error sent to the client");
            let mut params = vec![
                ("error", error),
                ("error_description", description.as_str()),
            ];
            if let Some(state) = &state {
                params.push(("state", state));
            }
            params.push(("iss", &shared.issuer));
            redirect(with_params(&to, &params), status, None)
        }
    }
}

fn login_form(
    shared: &Shared,
    request: &AuthRequest,
    params: &Params,
    status: StatusCode,
    username: &str,
    error: Option<&str>,
) -> Response {
    let action = format!("{}{}", shared.prefix, Endpoint::Authorize.path());
    pages::login_form(
        status,
        &action,
        &request.client_id,
        params.pairs(),
        username,
        error,
    )
}

/// The path the provider's session cookie is scoped to.
pub(crate) fn cookie_path(shared: &Shared) -> &str {
    if shared.prefix.is_empty() {
        "/"
    } else {
        &shared.prefix
    }
}

/// The value of the provider's session cookie, if the browser sent it.
pub(crate) fn session_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"').to_owned())
}
