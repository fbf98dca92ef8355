//! OpenID Connect discovery: one issuer URL instead of several endpoint URLs.

use serde::Deserialize;

use crate::http::{send, upstream};
use hubauth_core::AuthError;

/// The step named on the error page when discovery fails.
pub const DISCOVERY_STEP: &str = "OpenID Connect discovery at the identity provider";

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

/// Why the provider's metadata could not be used. None of them carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    /// The document could not be fetched (connection, timeout, size).
    #[error("{0}")]
    Unreachable(String),
    /// The provider answered with another status than 200.
    #[error("HTTP {0}")]
    Status(u16),
    /// The answer is not JSON.
    #[error("the answer is not JSON")]
    NotJson,
    /// A required field is missing or has the wrong type.
    #[error("the metadata is incomplete: {0}")]
    Incomplete(String),
    /// The document names another issuer than the configured one (OpenID Connect
    /// Discovery 1.0, section 4.3: they must be identical, trailing `/` included).
    #[error(
        "the metadata names issuer {found:?}, not the configured {configured:?}; oidc_issuer must be exactly the provider's issuer"
    )]
    IssuerMismatch {
        /// `oidc_issuer` as configured.
        configured: String,
        /// The document's `issuer`.
        found: String,
    },
}

impl From<DiscoveryError> for AuthError {
    fn from(err: DiscoveryError) -> Self {
        upstream(DISCOVERY_STEP, err.to_string())
    }
}

/// Where the discovery document of `issuer` is (Discovery 1.0, section 4.1): a trailing
/// `/` of the issuer is removed before `/.well-known/openid-configuration` is appended.
pub fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// Checks fetched metadata against the configured issuer: the `issuer` it names must be
/// the configured one, compared as exact strings.
pub fn check_metadata(
    json: serde_json::Value,
    issuer: &str,
) -> Result<ProviderMetadata, DiscoveryError> {
    let metadata: ProviderMetadata =
        serde_json::from_value(json).map_err(|err| DiscoveryError::Incomplete(err.to_string()))?;
    if metadata.issuer != issuer {
        return Err(DiscoveryError::IssuerMismatch {
            configured: issuer.to_owned(),
            found: metadata.issuer,
        });
    }
    Ok(metadata)
}

/// Fetches and checks the provider's metadata (OpenID Connect Discovery 1.0, section 4).
pub async fn discover(
    client: &reqwest::Client,
    issuer: &str,
) -> Result<ProviderMetadata, DiscoveryError> {
    let url = discovery_url(issuer);
    let response = send(
        DISCOVERY_STEP,
        client.get(&url).header("accept", "application/json"),
    )
    .await
    .map_err(|err| match err {
        AuthError::Upstream { detail, .. } => DiscoveryError::Unreachable(detail),
        other => DiscoveryError::Unreachable(other.to_string()),
    })?;
    if response.status != 200 {
        return Err(DiscoveryError::Status(response.status));
    }
    let json = response.json.ok_or(DiscoveryError::NotJson)?;
    check_metadata(json, issuer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(issuer: &str) -> serde_json::Value {
        json!({
            "issuer": issuer,
            "authorization_endpoint": "https://idp.example/auth",
            "token_endpoint": "https://idp.example/token",
        })
    }

    #[test]
    fn discovery_url_drops_one_trailing_slash_before_the_well_known_path() {
        assert_eq!(
            discovery_url("https://idp.example/realms/main"),
            "https://idp.example/realms/main/.well-known/openid-configuration"
        );
        assert_eq!(
            discovery_url("https://idp.example/"),
            "https://idp.example/.well-known/openid-configuration"
        );
    }

    #[test]
    fn issuer_with_trailing_slash_is_refused() {
        assert!(check_metadata(doc("https://idp.example"), "https://idp.example").is_ok());
        assert!(check_metadata(doc("https://idp.example/"), "https://idp.example/").is_ok());
        for (found, configured) in [
            ("https://idp.example/", "https://idp.example"),
            ("https://idp.example", "https://idp.example/"),
            ("https://IDP.example", "https://idp.example"),
            ("https://evil.example", "https://idp.example"),
        ] {
            assert_eq!(
                check_metadata(doc(found), configured),
                Err(DiscoveryError::IssuerMismatch {
                    configured: configured.into(),
                    found: found.into()
                })
            );
        }
        assert!(matches!(
            check_metadata(
                json!({"issuer": "https://idp.example"}),
                "https://idp.example"
            ),
            Err(DiscoveryError::Incomplete(_))
        ));
    }
}
