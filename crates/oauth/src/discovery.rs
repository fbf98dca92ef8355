//! OpenID Connect discovery: one issuer URL instead of several endpoint URLs.

use serde::Deserialize;

use crate::http::{send, upstream};
use hubauth_core::AuthError;

/// The parts of `/.well-known/openid-configuration` hubauth uses.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProviderMetadata {
    /// The issuer; must equal the configured issuer exactly.
    pub issuer: String,
    /// The authorization endpoint.
    pub authorization_endpoint: String,
    /// The token endpoint.
    pub token_endpoint: String,
    /// The user info endpoint.
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    /// The signing keys.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// RP-initiated logout.
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
    /// Whether authorization responses carry `iss` (RFC 9207).
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

/// Fetches and checks the provider's metadata (OpenID Connect Discovery 1.0, section 4).
pub async fn discover(
    client: &reqwest::Client,
    issuer: &str,
) -> Result<ProviderMetadata, AuthError> {
    const STEP: &str = "OpenID Connect discovery at the identity provider";
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let response = send(STEP, client.get(&url).header("accept", "application/json")).await?;
    if response.status != 200 {
        return Err(upstream(STEP, format!("HTTP {}", response.status)));
    }
    let json = response
        .json
        .ok_or_else(|| upstream(STEP, "the answer is not JSON"))?;
    let metadata: ProviderMetadata = serde_json::from_value(json)
        .map_err(|err| upstream(STEP, format!("the metadata is incomplete: {err}")))?;
    if metadata.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
        return Err(upstream(
            STEP,
            format!(
                "the metadata names issuer {:?}, not the configured {:?}",
                metadata.issuer, issuer
            ),
        ));
    }
    Ok(metadata)
}
