//! The userinfo endpoint (OIDC Core 5.3) with bearer tokens as RFC 6750 describes.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::control::UserinfoTamper;
use crate::error::no_store;
use crate::params::{Params, is_form};
use crate::state::{Shared, user_claims};

/// The subject an [`UserinfoTamper::OtherSubject`] answer names.
const OTHER_SUBJECT: &str = "someone-else";

/// A refused userinfo request.
enum BearerError {
    /// No token at all: a bare challenge (RFC 6750 3.1).
    Missing,
    /// Malformed request (for example the token sent two ways): 400.
    InvalidRequest(&'static str),
    /// Unknown, expired or revoked token, or a disabled user: 401.
    InvalidToken(&'static str),
}

impl IntoResponse for BearerError {
    fn into_response(self) -> Response {
        let (status, challenge, body) = match self {
            BearerError::Missing => (
                StatusCode::UNAUTHORIZED,
                "Bearer realm=\"devidp\"".to_owned(),
                json!({"error": "invalid_request", "error_description": "no access token"}),
            ),
            BearerError::InvalidRequest(description) => (
                StatusCode::BAD_REQUEST,
                format!(
                    "Bearer realm=\"devidp\", error=\"invalid_request\", error_description=\"{description}\""
                ),
                json!({"error": "invalid_request", "error_description": description}),
            ),
            BearerError::InvalidToken(description) => (
                StatusCode::UNAUTHORIZED,
                format!(
                    "Bearer realm=\"devidp\", error=\"invalid_token\", error_description=\"{description}\""
                ),
                json!({"error": "invalid_token", "error_description": description}),
            ),
        };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        no_store(headers);
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// `GET` and `POST /userinfo`
pub(crate) async fn userinfo(
    State(shared): State<Arc<Shared>>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    match lookup(&shared, &method, &headers, query.as_deref(), &body) {
        Ok(claims) => {
            let mut response = Json(claims).into_response();
            no_store(response.headers_mut());
            response
        }
        Err(err) => err.into_response(),
    }
}

fn lookup(
    shared: &Shared,
    method: &Method,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
) -> Result<Value, BearerError> {
    let mut found: Vec<String> = Vec::new();
    for value in headers.get_all(header::AUTHORIZATION) {
        let text = value
            .to_str()
            .map_err(|_| BearerError::InvalidRequest("malformed Authorization header"))?
            .trim();
        if let Some((scheme, token)) = text.split_once(' ')
            && scheme.eq_ignore_ascii_case("bearer")
        {
            found.push(token.trim().to_owned());
        }
    }
    let query = Params::parse(query.unwrap_or_default().as_bytes());
    let from_query = query
        .get("access_token")
        .map_err(|_| BearerError::InvalidRequest("access_token sent more than once"))?;
    found.extend(from_query.map(str::to_owned));
    if method == Method::POST && is_form(headers.get(header::CONTENT_TYPE)) {
        let form = Params::parse(body);
        let from_body = form
            .get("access_token")
            .map_err(|_| BearerError::InvalidRequest("access_token sent more than once"))?;
        found.extend(from_body.map(str::to_owned));
    }
    let token = match found.as_slice() {
        [] => return Err(BearerError::Missing),
        [token] => token,
        _ => {
            return Err(BearerError::InvalidRequest(
                "the access token was sent in more than one way",
            ));
        }
    };

    let now = shared.now();
    let mut inner = shared.lock();
    let grant = inner
        .access
        .get(token)
        .ok_or(BearerError::InvalidToken("unknown or revoked access token"))?;
    if grant.expires_at <= now {
        return Err(BearerError::InvalidToken("the access token expired"));
    }
    let user = inner
        .active_user(&grant.username)
        .ok_or(BearerError::InvalidToken("the user is disabled"))?;
    let mut claims = serde_json::Map::new();
    claims.insert("sub".into(), json!(user.sub()));
    claims.extend(user_claims(user));
    if let Some(tamper) = inner.userinfo_tampers.pop_front() {
        tracing::info!(?tamper, "answering userinfo wrongly (test control)");
        match tamper {
            UserinfoTamper::OtherSubject => {
                claims.insert("sub".into(), json!(OTHER_SUBJECT));
            }
            UserinfoTamper::MissingSubject => {
                claims.remove("sub");
            }
        }
    }
    Ok(Value::Object(claims))
}
