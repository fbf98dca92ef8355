//! `OpenShiftOAuthenticator`: the OpenShift provider plugged into the OAuth base.

use std::sync::Arc;

use async_trait::async_trait;
use hubauth_config::{ClassView, ConfigError};
use hubauth_core::AuthError;
use hubauth_oauth::{OAuthConfig, OAuthCore, OAuthenticator, Provider, TokenResponse};
use serde_json::Value;

use crate::discovery::OAuthServerMetadata;
use crate::error::OpenShiftError;
use crate::options::{OpenShiftConfig, default_ca_certs, oauth_endpoints};

/// The OpenShift provider: upstream's `OpenShiftOAuthenticator` steps.
#[derive(Debug, Clone)]
pub struct OpenShift {
    config: OpenShiftConfig,
}

/// `OpenShiftOAuthenticator`.
pub type OpenShiftOAuthenticator = OAuthenticator<OpenShift>;

impl OpenShift {
    /// A provider with these options.
    pub fn new(config: OpenShiftConfig) -> Self {
        OpenShift { config }
    }

    /// The OpenShift options.
    pub fn config(&self) -> &OpenShiftConfig {
        &self.config
    }
}

/// The username of a users/~ answer: its `metadata.name`, a non-empty string.
pub fn user_name(user: &Value) -> Result<&str, OpenShiftError> {
    user.get("metadata")
        .and_then(|metadata| metadata.get("name"))
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
        .ok_or(OpenShiftError::NoName)
}

/// Checks that a users/~ answer's `groups` is absent, `null` (OpenShift's encoding of no
/// groups) or a list of non-empty strings: the group rules read it, so anything else is
/// refused rather than read as "no groups".
pub fn check_groups(user: &Value) -> Result<(), OpenShiftError> {
    match user.get("groups") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(groups))
            if groups
                .iter()
                .all(|group| group.as_str().is_some_and(|name| !name.is_empty())) =>
        {
            Ok(())
        }
        Some(_) => Err(OpenShiftError::MalformedGroups),
    }
}

/// Builds an `OpenShiftOAuthenticator` from its class view.
pub fn openshift_from_view(view: &ClassView<'_>) -> Result<OpenShiftOAuthenticator, ConfigError> {
    let mut oauth = OAuthConfig::from_view(view)?;
    let openshift = OpenShiftConfig::from_view(view)?;
    if let Some(auth_api) = &openshift.openshift_auth_api_url {
        let (authorize, token) = oauth_endpoints(auth_api);
        if oauth.authorize_url.is_empty() {
            oauth.authorize_url = authorize;
        }
        if oauth.token_url.is_empty() {
            oauth.token_url = token;
        }
    }
    if oauth.userdata_url.is_empty() && !oauth.userdata_from_id_token {
        oauth.userdata_url = openshift.default_userdata_url();
    }
    if !view.is_set("http_request_kwargs")
        && let Some(ca) = default_ca_certs(oauth.http.validate_cert, |path| {
            std::path::Path::new(path).is_file()
        })
    {
        tracing::debug!(ca_certs = %ca, "trusting the service account's CA bundle");
        oauth.http.ca_certs = Some(ca);
    }
    if oauth.client_id.is_empty() {
        return Err(view.invalid(
            "client_id",
            "is not set (in the config file or OAUTH_CLIENT_ID)",
        ));
    }
    let discover = oauth.oidc_issuer.is_empty()
        && (oauth.authorize_url.is_empty() || oauth.token_url.is_empty());
    let metadata_url = openshift.metadata_url();
    let core = OAuthCore::new(oauth).map_err(|err| view.invalid("http_request_kwargs", err))?;
    let core = if discover {
        core.with_endpoint_discovery(Arc::new(OAuthServerMetadata { metadata_url }))
    } else {
        core
    };
    Ok(OAuthenticator::new(core, OpenShift::new(openshift)))
}

#[async_trait]
impl Provider for OpenShift {
    fn class_name(&self) -> &'static str {
        "OpenShiftOAuthenticator"
    }

    fn user_auth_state_key(&self) -> &'static str {
        "openshift_user"
    }

    fn startup_warnings(&self, core: &OAuthCore) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.config.username_claim_set {
            warnings.push("OpenShiftOAuthenticator.username_claim is set but not used: the username is the OpenShift user's metadata.name, as upstream".to_owned());
        }
        let scope = &core.config.scope;
        if !scope.iter().any(|s| s == "user:info" || s == "user:full") {
            warnings.push(format!(
                "OpenShiftOAuthenticator.scope is {scope:?}: reading the user (users/~) needs user:info or user:full, so every login will be refused"
            ));
        }
        warnings
    }

    /// The users/~ answer, which must be a User with a name and readable groups.
    async fn token_to_user(
        &self,
        core: &OAuthCore,
        token: &TokenResponse,
        id_claims: Option<&Value>,
    ) -> Result<Value, AuthError> {
        let user = core.default_token_to_user(token, id_claims).await?;
        user_name(&user)?;
        check_groups(&user)?;
        Ok(user)
    }

    /// `metadata.name`, whatever `username_claim` says (upstream's override).
    fn user_info_to_username(
        &self,
        _core: &OAuthCore,
        user_info: &Value,
    ) -> Result<String, AuthError> {
        Ok(user_name(user_info)?.to_owned())
    }
}

#[cfg(test)]
mod unit {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_user_object_is_read_exactly() {
        let user = json!({"kind": "User", "metadata": {"name": "alice"}, "groups": ["staff"]});
        assert_eq!(user_name(&user).unwrap(), "alice");
        assert!(check_groups(&user).is_ok());
        assert!(check_groups(&json!({"groups": null})).is_ok());
        assert!(check_groups(&json!({})).is_ok());
        for bad in [
            json!({"groups": "staff"}),
            json!({"groups": [1]}),
            json!({"groups": [""]}),
            json!({"groups": {"staff": true}}),
        ] {
            assert_eq!(
                check_groups(&bad),
                Err(OpenShiftError::MalformedGroups),
                "{bad}"
            );
        }
        for bad in [
            json!({"name": "alice"}),
            json!({"metadata": {"name": ""}}),
            json!({"metadata": {"name": 7}}),
        ] {
            assert_eq!(user_name(&bad), Err(OpenShiftError::NoName), "{bad}");
        }
    }

    #[test]
    fn the_service_account_ca_is_the_default_only_when_verifying_and_present() {
        let exists = |_: &str| true;
        let missing = |_: &str| false;
        assert_eq!(
            default_ca_certs(true, exists).as_deref(),
            Some("/run/secrets/kubernetes.io/serviceaccount/ca.crt")
        );
        assert_eq!(default_ca_certs(false, exists), None);
        assert_eq!(default_ca_certs(true, missing), None);
    }
}
