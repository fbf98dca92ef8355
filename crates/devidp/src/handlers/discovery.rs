//! OIDC Discovery 1.0 metadata and the JWKS.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::control::Endpoint;
use crate::state::Shared;

/// Scopes the provider advertises. Any requested scope is granted (see `restrict_scopes`).
pub(crate) const SCOPES_SUPPORTED: &[&str] =
    &["openid", "profile", "email", "groups", "offline_access"];

/// `GET /.well-known/openid-configuration`
pub(crate) async fn discovery(State(shared): State<Arc<Shared>>) -> Response {
    let claims_supported = {
        let inner = shared.lock();
        let mut names: Vec<String> = [
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "at_hash",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        for record in inner.users.values() {
            for name in record.user.claims.keys() {
                if !names.contains(name) {
                    names.push(name.clone());
                }
            }
        }
        names
    };
    let body = json!({
        "issuer": shared.issuer,
        "authorization_endpoint": shared.endpoint_url(Endpoint::Authorize),
        "token_endpoint": shared.endpoint_url(Endpoint::Token),
        "userinfo_endpoint": shared.endpoint_url(Endpoint::Userinfo),
        "jwks_uri": shared.endpoint_url(Endpoint::Jwks),
        "end_session_endpoint": shared.endpoint_url(Endpoint::EndSession),
        "scopes_supported": SCOPES_SUPPORTED,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "subject_types_supported": ["public"],
        "claims_supported": claims_supported,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
    });
    cacheable(Json(body).into_response())
}

/// `GET /jwks`
pub(crate) async fn jwks(State(shared): State<Arc<Shared>>) -> Response {
    let body = shared.lock().keys.jwks();
    cacheable(Json(body).into_response())
}

fn cacheable(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    response
}
