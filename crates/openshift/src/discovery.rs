//! Finding the OpenShift OAuth server: upstream reads the `issuer` of the cluster's OAuth
//! server metadata (RFC 8414, served by the API server at
//! `/.well-known/oauth-authorization-server`) and appends `/oauth/authorize` and
//! `/oauth/token` to it. hubauth does the same, at the first use instead of at start-up
//! (upstream blocks its start on it, F17), and asks again after a failure.

use async_trait::async_trait;
use hubauth_core::AuthError;
use hubauth_oauth::http::send;
use hubauth_oauth::{EndpointDiscovery, Endpoints};
use serde_json::Value;

use crate::error::{METADATA_STEP, OpenShiftError};
use crate::options::oauth_endpoints;

/// Completes `authorize_url` and `token_url` from the cluster's OAuth server metadata.
#[derive(Debug, Clone)]
pub struct OAuthServerMetadata {
    /// `{openshift_url}/.well-known/oauth-authorization-server`.
    pub metadata_url: String,
}

/// The OAuth server URL a metadata document names: its `issuer`, which must be an http or
/// https URL (anything else would send users and codes who knows where).
pub fn issuer_of(metadata: &Value) -> Result<String, OpenShiftError> {
    let issuer = metadata
        .get("issuer")
        .and_then(Value::as_str)
        .ok_or_else(|| OpenShiftError::NoIssuer("no issuer".into()))?;
    let parsed = url::Url::parse(issuer)
        .map_err(|_| OpenShiftError::NoIssuer("the issuer is not a URL".into()))?;
    if !matches!(parsed.scheme(), "https" | "http")
        || parsed.host().is_none()
        || parsed.query().is_some()
        || parsed.fragment().is_some()
    {
        return Err(OpenShiftError::NoIssuer(
            "the issuer is not an http or https URL without query".into(),
        ));
    }
    Ok(issuer.trim_end_matches('/').to_owned())
}

#[async_trait]
impl EndpointDiscovery for OAuthServerMetadata {
    async fn discover(
        &self,
        client: &reqwest::Client,
        endpoints: &mut Endpoints,
    ) -> Result<(), AuthError> {
        if !endpoints.authorize_url.is_empty() && !endpoints.token_url.is_empty() {
            return Ok(());
        }
        let request = client
            .get(&self.metadata_url)
            .header("accept", "application/json");
        let response = send(METADATA_STEP, request)
            .await
            .map_err(|err| OpenShiftError::MetadataUnreachable(err.to_string()))?;
        if response.status != 200 {
            return Err(OpenShiftError::MetadataStatus(response.status).into());
        }
        let metadata = response
            .json
            .ok_or_else(|| OpenShiftError::NoIssuer("the answer is not JSON".into()))?;
        let issuer = issuer_of(&metadata)?;
        tracing::info!(%issuer, "found the OpenShift OAuth server");
        let (authorize, token) = oauth_endpoints(&issuer);
        if endpoints.authorize_url.is_empty() {
            endpoints.authorize_url = authorize;
        }
        if endpoints.token_url.is_empty() {
            endpoints.token_url = token;
        }
        Ok(())
    }
}

#[cfg(test)]
mod unit {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_issuer_is_read_exactly() {
        assert_eq!(
            issuer_of(&json!({"issuer": "https://oauth-openshift.apps.example.com/"})).unwrap(),
            "https://oauth-openshift.apps.example.com"
        );
        for bad in [
            json!({}),
            json!({"issuer": 3}),
            json!({"issuer": "oauth-openshift.apps.example.com"}),
            json!({"issuer": "javascript:alert(1)"}),
            json!({"issuer": "https://x.example/?next=evil"}),
            json!("https://x.example"),
        ] {
            assert!(issuer_of(&bad).is_err(), "{bad}");
        }
    }
}
