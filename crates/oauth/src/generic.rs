//! `GenericOAuthenticator`: any OAuth 2.0 / OpenID Connect provider, by configuration.

use hubauth_config::{ClassView, ConfigError};

use crate::authenticator::OAuthenticator;
use crate::core::OAuthCore;
use crate::options::OAuthConfig;
use crate::provider::Provider;

/// The generic provider: every step as the base class does it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Generic;

impl Provider for Generic {
    fn class_name(&self) -> &'static str {
        "GenericOAuthenticator"
    }
}

/// `GenericOAuthenticator`.
pub type GenericOAuthenticator = OAuthenticator<Generic>;

/// Builds a `GenericOAuthenticator` from its class view.
pub fn generic_from_view(view: &ClassView<'_>) -> Result<GenericOAuthenticator, ConfigError> {
    let config = OAuthConfig::from_view(view)?;
    config.check_endpoints(view)?;
    let core = OAuthCore::new(config).map_err(|err| view.invalid("http_request_kwargs", err))?;
    Ok(OAuthenticator::new(core, Generic))
}
