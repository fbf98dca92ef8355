//! `Auth0OAuthenticator`: the Auth0 provider plugged into the OAuth base.

use async_trait::async_trait;
use hubauth_config::{ClassView, ConfigError};
use hubauth_core::{AuthError, AuthModel};
use hubauth_oauth::{OAuthConfig, OAuthCore, OAuthenticator, Provider};
use serde_json::Value;

use crate::error::EmailError;
use crate::options::Auth0Config;

/// The Auth0 provider: upstream's `Auth0OAuthenticator` steps.
#[derive(Debug, Clone)]
pub struct Auth0 {
    config: Auth0Config,
}

/// `Auth0OAuthenticator`.
pub type Auth0OAuthenticator = OAuthenticator<Auth0>;

impl Auth0 {
    /// A provider with these options.
    pub fn new(config: Auth0Config) -> Self {
        Auth0 { config }
    }

    /// The Auth0 options.
    pub fn config(&self) -> &Auth0Config {
        &self.config
    }
}

/// The email check upstream runs before any allow rule: the user info must have an
/// `email`, marked verified with the JSON value `true` unless `allow_unverified`.
/// Returns the email, and whether it was let in unverified.
pub fn check_email(
    user_info: &Value,
    allow_unverified: bool,
) -> Result<(String, bool), EmailError> {
    let email = user_info
        .get("email")
        .and_then(Value::as_str)
        .filter(|email| !email.is_empty())
        .ok_or(EmailError::Missing)?;
    if user_info.get("email_verified") == Some(&Value::Bool(true)) {
        return Ok((email.to_owned(), false));
    }
    if allow_unverified {
        return Ok((email.to_owned(), true));
    }
    Err(EmailError::Unverified(email.to_owned()))
}

/// Builds an `Auth0OAuthenticator` from its class view.
pub fn auth0_from_view(view: &ClassView<'_>) -> Result<Auth0OAuthenticator, ConfigError> {
    let mut oauth = OAuthConfig::from_view(view)?;
    let auth0 = Auth0Config::from_view(view)?;
    for (field, path) in [
        (&mut oauth.authorize_url, "/authorize"),
        (&mut oauth.token_url, "/oauth/token"),
    ] {
        if field.is_empty() {
            *field = auth0.endpoint(path);
        }
    }
    if oauth.userdata_url.is_empty() && !oauth.userdata_from_id_token {
        oauth.userdata_url = auth0.endpoint("/userinfo");
    }
    oauth.check_endpoints(view)?;
    let core = OAuthCore::new(oauth).map_err(|err| view.invalid("http_request_kwargs", err))?;
    Ok(OAuthenticator::new(core, Auth0::new(auth0)))
}

#[async_trait]
impl Provider for Auth0 {
    fn class_name(&self) -> &'static str {
        "Auth0OAuthenticator"
    }

    fn user_auth_state_key(&self) -> &'static str {
        "auth0_user"
    }

    fn startup_warnings(&self, core: &OAuthCore) -> Vec<String> {
        let scope = &core.config.scope;
        let mut warnings = Vec::new();
        if !core.config.userdata_from_id_token && !scope.iter().any(|s| s == "openid") {
            warnings.push(format!(
                "Auth0OAuthenticator.scope is {scope:?}: Auth0's /userinfo answers only access tokens granted the openid scope, so every login will fail; set scope = [\"openid\", \"profile\", \"email\"]"
            ));
        }
        if !scope.iter().any(|s| s == "email") {
            warnings.push(format!(
                "Auth0OAuthenticator.scope is {scope:?}: without the email scope Auth0 sends no email, and Auth0OAuthenticator refuses every login without a verified email"
            ));
        }
        warnings
    }

    /// Upstream's email check, in the block stage so that no allow rule (`allow_all`,
    /// `allowed_users`, `admin_users`) skips it (F1).
    async fn check_blocked(
        &self,
        _core: &OAuthCore,
        name: &str,
        model: &AuthModel,
    ) -> Result<bool, AuthError> {
        let user_info = model
            .auth_state
            .as_ref()
            .and_then(|state| state.get(self.user_auth_state_key()))
            .unwrap_or(&Value::Null);
        match check_email(user_info, self.config.allow_unverified_email) {
            Ok((email, true)) => {
                tracing::warn!(user = %name, %email, "Allowing login with unverified email (allow_unverified_email)");
                Ok(true)
            }
            Ok(_) => Ok(true),
            Err(err) => {
                tracing::warn!(user = %name, error = %err, "Auth0 login refused");
                Err(err.into())
            }
        }
    }

    /// Auth0's `/v2/logout`, back to the hub's login page, unless `logout_redirect_url` is
    /// set (used as it is) or `oidc_logout` sends the browser to `/oidc/logout` instead.
    async fn logout_redirect(
        &self,
        core: &OAuthCore,
        _auth_state: Option<&Value>,
        after_logout: &str,
    ) -> Option<String> {
        if core.config.oidc_logout {
            return None;
        }
        let mut url = url::Url::parse(self.config.logout_url.as_deref()?).ok()?;
        url.query_pairs_mut()
            .append_pair("client_id", &core.config.client_id)
            .append_pair("returnTo", after_logout);
        Some(url.to_string())
    }
}

#[cfg(test)]
mod unit {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_a_verified_email_passes_unless_allowed() {
        let verified = json!({"email": "a@example.org", "email_verified": true});
        assert_eq!(
            check_email(&verified, false).unwrap(),
            ("a@example.org".to_owned(), false)
        );
        for unverified in [
            json!({"email": "a@example.org", "email_verified": false}),
            json!({"email": "a@example.org", "email_verified": "true"}),
            json!({"email": "a@example.org"}),
        ] {
            assert_eq!(
                check_email(&unverified, false),
                Err(EmailError::Unverified("a@example.org".into())),
                "{unverified}"
            );
            assert!(check_email(&unverified, true).unwrap().1);
        }
        for missing in [
            json!({}),
            json!({"email": ""}),
            json!({"email": 1}),
            json!(null),
        ] {
            assert_eq!(
                check_email(&missing, true),
                Err(EmailError::Missing),
                "{missing}"
            );
        }
    }
}
