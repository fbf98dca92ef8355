//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): the end_session_endpoint.
//!
//! The provider logs the user out at once (it does not ask for confirmation), clears its
//! session cookie, and redirects to `post_logout_redirect_uri` when that is registered for
//! the client named by `client_id` or by the `id_token_hint`'s audience.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::handlers::authorize::{cookie_path, session_cookie};
use crate::jwt::verify_own;
use crate::pages;
use crate::params::{Params, is_form};
use crate::state::Shared;

/// `GET` and `POST /logout`
pub(crate) async fn end_session(
    State(shared): State<Arc<Shared>>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let params = if method == Method::POST {
        if !is_form(headers.get(header::CONTENT_TYPE)) {
            return pages::error_page(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Expected an application/x-www-form-urlencoded body.",
            );
        }
        Params::parse(&body)
    } else {
        Params::parse(query.unwrap_or_default().as_bytes())
    };
    match logout(&shared, &headers, &params) {
        Ok(response) => response,
        Err(message) => {
            tracing::info!(%message, "logout request refused");
            pages::error_page(StatusCode::BAD_REQUEST, &message)
        }
    }
}

fn logout(shared: &Shared, headers: &HeaderMap, params: &Params) -> Result<Response, String> {
    if let Some(name) = params.first_repeated(&[]) {
        return Err(format!("The parameter {name} was sent more than once."));
    }
    let get = |name: &str| params.get(name).ok().flatten();
    let mut inner = shared.lock();

    let hint_audiences = match get("id_token_hint") {
        None => None,
        Some(hint) => {
            let claims = verify_own(&inner.keys, hint)
                .ok_or("The id_token_hint is not an ID token this provider signed.")?;
            if claims.get("iss").and_then(Value::as_str) != Some(shared.issuer.as_str()) {
                return Err("The id_token_hint was issued by another issuer.".into());
            }
            let audiences: Vec<String> = match claims.get("aud") {
                Some(Value::String(aud)) => vec![aud.clone()],
                Some(Value::Array(list)) => list
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
                _ => Vec::new(),
            };
            Some(audiences)
        }
    };
    let client_id = match (get("client_id"), &hint_audiences) {
        (Some(id), Some(audiences)) if !audiences.iter().any(|aud| aud == id) => {
            return Err("The client_id is not the id_token_hint's audience.".into());
        }
        (Some(id), _) => Some(id.to_owned()),
        (None, Some(audiences)) => audiences.first().cloned(),
        (None, None) => None,
    };
    let client = match &client_id {
        Some(id) => Some(
            inner
                .clients
                .get(id)
                .ok_or_else(|| format!("Unknown client_id {id:?}."))?,
        ),
        None => None,
    };
    let target = match get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            let client = client.ok_or(
                "A post_logout_redirect_uri needs a client_id or an id_token_hint to check it against.",
            )?;
            if !client.post_logout_redirect_uris.iter().any(|r| r == uri) {
                return Err(format!(
                    "The post_logout_redirect_uri {uri:?} is not registered for client {:?}.",
                    client.client_id
                ));
            }
            let mut url = url::Url::parse(uri).map_err(|_| "The registered URI is invalid.")?;
            if let Some(state) = get("state") {
                url.query_pairs_mut().append_pair("state", state);
            }
            Some(String::from(url))
        }
    };

    if let Some(id) = session_cookie(headers, &shared.cookie_name)
        && let Some(session) = inner.sessions.remove(&id)
    {
        tracing::info!(username = %session.username, "signed out of the dev provider");
    }
    drop(inner);

    let mut response = match target {
        Some(location) => {
            let location =
                HeaderValue::from_str(&location).map_err(|_| "The registered URI is invalid.")?;
            (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
        }
        None => pages::logged_out_page(),
    };
    let expired = format!(
        "{}=; Path={}; Max-Age=0; HttpOnly; SameSite=Lax",
        shared.cookie_name,
        cookie_path(shared)
    );
    if let Ok(value) = HeaderValue::from_str(&expired) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
