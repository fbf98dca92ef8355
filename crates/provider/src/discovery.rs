//! The discovery document (OpenID Connect Discovery 1.0 §3, RFC 8414).

use serde_json::{Value, json};

use crate::client::BASE_SCOPES;
use crate::keys::ID_TOKEN_ALGS;
use crate::provider::Provider;

/// The claims ID tokens and userinfo carry.
pub const CLAIMS_SUPPORTED: &[&str] = &[
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "azp",
    "at_hash",
    "sid",
    "name",
    "preferred_username",
    "groups",
    "admin",
];

impl Provider {
    /// The discovery document for `issuer`, with the endpoints under `endpoint_base`
    /// (absolute, ending in `/`: `authorize`, `token`, `userinfo`, `jwks`, `logout`,
    /// `revoke` follow it).
    pub fn discovery(&self, issuer: &str, endpoint_base: &str) -> Value {
        let base = endpoint_base;
        json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{base}authorize"),
            "token_endpoint": format!("{base}token"),
            "userinfo_endpoint": format!("{base}userinfo"),
            "jwks_uri": format!("{base}jwks"),
            "end_session_endpoint": format!("{base}logout"),
            "revocation_endpoint": format!("{base}revoke"),
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ID_TOKEN_ALGS.iter().map(|alg| alg.name()).collect::<Vec<_>>(),
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": BASE_SCOPES,
            "claims_supported": CLAIMS_SUPPORTED,
            "authorization_response_iss_parameter_supported": true,
            "backchannel_logout_supported": true,
            "backchannel_logout_session_supported": true,
        })
    }
}
