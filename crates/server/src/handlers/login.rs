//! `GET/POST {base_url}hub/login`.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use hubauth_core::{DenyReason, LoginData, LoginKind, LoginMethod, RequestContext};
use serde::{Deserialize, Serialize};

use super::{ClientIp, encode_query, html, redirect};
use crate::cookies;
use crate::csrf::{self, XSRF_COOKIE};
use crate::limiter::Limited;
use crate::services::{FormLogin, LoginOutcome};
use crate::state::{AppState, HubState};
use crate::web::session::resume_session;
use crate::web::{LoginAttempt, Now, WebError};

/// The `next` query parameter.
#[derive(Debug, Deserialize, Default)]
pub struct NextQuery {
    /// Where to go after login.
    #[serde(default)]
    pub next: Option<String>,
    /// `login` shows the login page to a user who is logged in already: a service asked
    /// for a fresh login (OpenID Connect `prompt=login` or `max_age`).
    #[serde(default)]
    pub prompt: Option<String>,
}

#[derive(Serialize)]
struct LoginContext<'a> {
    hub_prefix: String,
    user: Option<()>,
    login_error: &'a str,
    username: &'a str,
    login_service: &'a str,
    authenticator_login_url: String,
    login_action: String,
    xsrf: String,
    request_otp: bool,
    otp_prompt: &'a str,
    /// Every login method of a hub with several, in configured order (empty otherwise).
    methods: Vec<MethodView<'a>>,
}

/// One login method on the login page of a hub with several.
#[derive(Serialize)]
struct MethodView<'a> {
    name: &'a str,
    label: &'a str,
    /// A "Sign in with" button's target (redirect logins).
    login_url: Option<String>,
    /// A form's action (username/password logins).
    action: Option<String>,
    request_otp: bool,
    otp_prompt: String,
    /// The error of the last attempt with this method's form.
    error: &'a str,
    /// The name typed in this method's form.
    username: &'a str,
}

/// Which method's form a re-shown login page answers.
#[derive(Clone, Copy)]
struct Failed<'a> {
    method: &'a str,
    error: &'a str,
    username: &'a str,
}

/// The validated `next`, or the default destination.
fn next_or_default(state: &HubState, next: Option<&str>) -> String {
    next.and_then(|next| state.validate_next(next))
        .unwrap_or_else(|| state.default_next())
}

/// The request's XSRF cookie value when the hub minted it, or a new one with its
/// `Set-Cookie` (a value the client chose is replaced, never adopted).
pub(crate) fn xsrf_cookie(state: &HubState, headers: &HeaderMap) -> (String, Vec<String>) {
    match csrf::cookie_value(&state.secret, headers) {
        Some(value) => (value, Vec::new()),
        None => {
            let value = csrf::mint_cookie_value(&state.secret);
            let mut attrs = state.cookie_attrs(headers);
            let prefix = state.hub_prefix();
            attrs.path = &prefix;
            let cookie = cookies::set(XSRF_COOKIE, &value, None, attrs);
            (value, vec![cookie])
        }
    }
}

fn render_login(
    state: &HubState,
    headers: &HeaderMap,
    status: StatusCode,
    next: Option<&str>,
    login_error: &str,
    username: &str,
) -> Result<Response, WebError> {
    render_page(state, headers, status, next, login_error, username, None)
}

fn render_page(
    state: &HubState,
    headers: &HeaderMap,
    status: StatusCode,
    next: Option<&str>,
    login_error: &str,
    username: &str,
    failed: Option<Failed<'_>>,
) -> Result<Response, WebError> {
    let (xsrf_value, set_cookies) = xsrf_cookie(state, headers);
    let next = next.and_then(|next| state.validate_next(next));
    let next_query = next
        .as_deref()
        .map(|next| format!("?next={}", encode_query(next)))
        .unwrap_or_default();
    let methods = if state.has_named_methods() {
        method_views(state, &next_query, failed)
    } else {
        Vec::new()
    };
    let (login_service, login_path, request_otp, otp_prompt) = match state.authenticator.kind() {
        LoginKind::Form {
            request_otp,
            otp_prompt,
        } => (String::new(), "login".to_owned(), request_otp, otp_prompt),
        LoginKind::Redirect {
            login_service,
            login_path,
        } => (login_service, login_path, false, String::new()),
    };
    let body = state.pages.render(
        "login.html",
        LoginContext {
            hub_prefix: state.hub_prefix(),
            user: None,
            login_error,
            username,
            login_service: &login_service,
            authenticator_login_url: format!("{}{login_path}{next_query}", state.hub_prefix()),
            login_action: format!("{}login{next_query}", state.hub_prefix()),
            xsrf: csrf::form_token(&state.secret, &xsrf_value),
            request_otp,
            otp_prompt: &otp_prompt,
            methods,
        },
    )?;
    Ok(html(status, body, &set_cookies))
}

fn method_views<'a>(
    state: &'a HubState,
    next_query: &str,
    failed: Option<Failed<'a>>,
) -> Vec<MethodView<'a>> {
    let prefix = state.hub_prefix();
    state
        .methods
        .iter()
        .map(|method| {
            let failed = failed.filter(|failed| failed.method == method.name);
            let mut view = MethodView {
                name: &method.name,
                label: &method.label,
                login_url: None,
                action: None,
                request_otp: false,
                otp_prompt: String::new(),
                error: failed.map(|failed| failed.error).unwrap_or(""),
                username: failed.map(|failed| failed.username).unwrap_or(""),
            };
            match method.authenticator.kind() {
                LoginKind::Form {
                    request_otp,
                    otp_prompt,
                } => {
                    view.action = Some(format!("{prefix}{}/login{next_query}", method.name));
                    view.request_otp = request_otp;
                    view.otp_prompt = otp_prompt;
                }
                LoginKind::Redirect { login_path, .. } => {
                    view.login_url =
                        Some(format!("{prefix}{}/{login_path}{next_query}", method.name));
                }
            }
            view
        })
        .collect()
}

/// The 403 page of a login the rules refused.
pub(super) fn denied_page(state: &HubState, reason: DenyReason) -> WebError {
    if reason == DenyReason::OtherMethod {
        return WebError::refused(
            StatusCode::FORBIDDEN,
            "This username belongs to an account that signs in with another login method. Please sign in the way you did before.",
        );
    }
    WebError::refused(
        StatusCode::FORBIDDEN,
        &state.authenticator.rules().config().custom_403_message,
    )
}

/// `GET /hub/login`: the login page, or a redirect when already logged in or `auto_login`.
pub async fn get(
    State(state): State<AppState>,
    Now(now): Now,
    headers: HeaderMap,
    Query(query): Query<NextQuery>,
) -> Result<Response, WebError> {
    let force = query.prompt.as_deref() == Some("login");
    let next = query.next.as_deref();
    if !force && resume_session(&state, &headers, now).await?.is_some() {
        return Ok(redirect(&next_or_default(&state, next), &[]));
    }
    if state.authenticator.rules().config().auto_login
        && let Some(method) = state.default_method()
        && let LoginKind::Redirect { login_path, .. } = method.authenticator.kind()
    {
        let next_query = next
            .and_then(|next| state.validate_next(next))
            .map(|next| format!("?next={}", encode_query(&next)))
            .unwrap_or_default();
        let segment = if method.name.is_empty() {
            String::new()
        } else {
            format!("{}/", method.name)
        };
        return Ok(redirect(
            &format!("{}{segment}{login_path}{next_query}", state.hub_prefix()),
            &[],
        ));
    }
    render_login(&state, &headers, StatusCode::OK, next, "", "")
}

/// `POST /hub/login`: checks the form, runs the rule pipeline, starts a session.
pub async fn post(
    State(state): State<AppState>,
    Now(now): Now,
    ClientIp(ip): ClientIp,
    attempt: LoginAttempt,
    headers: HeaderMap,
    Query(query): Query<NextQuery>,
    body: Bytes,
) -> Result<Response, WebError> {
    // A hub with several methods takes each form at its method's own path.
    let method = (!state.has_named_methods())
        .then(|| state.methods.first().cloned())
        .flatten();
    form_login(&state, now, ip, &attempt, &headers, &query, &body, method).await
}

/// `GET /hub/{method}/login`: the login page (every method is on it).
pub async fn method_get(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<NextQuery>,
) -> Result<Response, WebError> {
    if state.method(&name).is_none() {
        return Err(super::misc::not_found().await);
    }
    let next_query = query
        .next
        .as_deref()
        .and_then(|next| state.validate_next(next))
        .map(|next| format!("?next={}", encode_query(&next)))
        .unwrap_or_default();
    Ok(redirect(
        &format!("{}login{next_query}", state.hub_prefix()),
        &[],
    ))
}

/// `POST /hub/{method}/login`: one login method's username/password form.
#[allow(clippy::too_many_arguments)]
pub async fn method_post(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Now(now): Now,
    ClientIp(ip): ClientIp,
    attempt: LoginAttempt,
    headers: HeaderMap,
    Query(query): Query<NextQuery>,
    body: Bytes,
) -> Result<Response, WebError> {
    let Some(method) = state.method(&name).cloned() else {
        return Err(super::misc::not_found().await);
    };
    form_login(
        &state,
        now,
        ip,
        &attempt,
        &headers,
        &query,
        &body,
        Some(method),
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn form_login(
    state: &HubState,
    now: i64,
    ip: Option<std::net::IpAddr>,
    attempt: &LoginAttempt,
    headers: &HeaderMap,
    query: &NextQuery,
    body: &Bytes,
    method: Option<LoginMethod>,
) -> Result<Response, WebError> {
    let next = query.next.as_deref();
    let Some(method) =
        method.filter(|method| matches!(method.authenticator.kind(), LoginKind::Form { .. }))
    else {
        return Err(WebError::refused(
            StatusCode::BAD_REQUEST,
            "This hub does not log in with a username and password form.",
        ));
    };
    attempt.method(&method);
    let failed_at = |error, username| {
        (!method.name.is_empty()).then_some(Failed {
            method: &method.name,
            error,
            username,
        })
    };
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    let submitted_xsrf = fields
        .iter()
        .find(|(key, _)| key == "_xsrf")
        .map(|(_, value)| value.as_str())
        .unwrap_or("");
    let cookie_xsrf = csrf::cookie_value(&state.secret, headers).unwrap_or_default();
    let data = LoginData::from_form(fields.iter().cloned());
    let typed_name = data.username().to_owned();
    attempt.user(&typed_name);
    if !csrf::check(&state.secret, &cookie_xsrf, submitted_xsrf) {
        attempt.outcome(LoginOutcome::Refused(
            "the form's XSRF token does not match".to_owned(),
        ));
        let message = "Your login form expired or was not sent by this site. Please try again.";
        return render_page(
            state,
            headers,
            StatusCode::FORBIDDEN,
            next,
            message,
            &typed_name,
            failed_at(message, &typed_name),
        );
    }
    let ctx = RequestContext { now, remote_ip: ip };
    match state.logins().with_form(&ctx, &method, &data).await? {
        FormLogin::LoggedIn(session) => {
            attempt.user(&session.user);
            attempt.outcome(LoginOutcome::LoggedIn);
            let cookie = session_cookie(state, headers, &session.token);
            Ok(redirect(&next_or_default(state, next), &[cookie]))
        }
        FormLogin::Limited(limited) => {
            attempt.outcome(LoginOutcome::Refused(
                match limited {
                    Limited::Address => "too many failed logins from this address",
                    Limited::User => "too many failed logins for this user name",
                }
                .to_owned(),
            ));
            let message = "Too many failed logins. Please wait a minute and try again.";
            render_page(
                state,
                headers,
                StatusCode::TOO_MANY_REQUESTS,
                next,
                message,
                &typed_name,
                failed_at(message, &typed_name),
            )
        }
        FormLogin::Denied { name, reason } => {
            attempt.user(name.as_deref().unwrap_or(&typed_name));
            attempt.outcome(LoginOutcome::Denied(reason));
            match reason {
                DenyReason::AuthenticationFailed | DenyReason::InvalidUsername => {
                    let message = "Invalid username or password";
                    render_page(
                        state,
                        headers,
                        StatusCode::FORBIDDEN,
                        next,
                        message,
                        &typed_name,
                        failed_at(message, &typed_name),
                    )
                }
                DenyReason::Blocked | DenyReason::NotAllowed | DenyReason::OtherMethod => {
                    Err(denied_page(state, reason))
                }
            }
        }
        FormLogin::Refused { status, message } => {
            attempt.outcome(LoginOutcome::Refused(message.clone()));
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
            render_page(
                state,
                headers,
                status,
                next,
                &message,
                &typed_name,
                failed_at(&message, &typed_name),
            )
        }
    }
}

/// The `Set-Cookie` value of a new session.
pub(super) fn session_cookie(state: &HubState, headers: &HeaderMap, token: &str) -> String {
    cookies::set(
        cookies::SESSION_COOKIE,
        token,
        Some(state.config.session_lifetime),
        state.cookie_attrs(headers),
    )
}
