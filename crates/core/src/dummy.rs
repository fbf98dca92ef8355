//! `DummyAuthenticator`: any username, with any password or one shared password.

use async_trait::async_trait;
use hubauth_config::{ClassView, ConfigError};

use crate::authenticator::{Authenticator, LoginKind, RequestContext};
use crate::error::AuthError;
use crate::model::{AuthModel, LoginData};
use crate::options::AuthenticatorConfig;
use crate::rules::Rules;
use crate::secret::Secret;

/// Upstream's warning for a testing authenticator.
pub const DUMMY_WARNING: &str =
    "Using testing authenticator DummyAuthenticator! This is not meant for production!";

/// The testing authenticator: any username logs in; with `password` set, only with it.
#[derive(Debug)]
pub struct DummyAuthenticator {
    rules: Rules,
    password: Secret,
}

impl DummyAuthenticator {
    /// Builds it from base options and an optional shared password (empty = any password).
    pub fn new(config: AuthenticatorConfig, password: Secret) -> Self {
        DummyAuthenticator {
            rules: Rules::new(config),
            password,
        }
    }

    /// Reads `[DummyAuthenticator]` (and inherited `[Authenticator]`) options.
    pub fn from_view(view: &ClassView<'_>) -> Result<Self, ConfigError> {
        let mut config = AuthenticatorConfig::from_view(view)?;
        let options = crate::options::DummyAuthenticatorOptions::load(view)?;
        // Upstream: allow_all defaults to true unless allowed_users is set.
        if options.allow_all.is_none() {
            config.allow_all = config.allowed_users.is_empty();
        }
        Ok(DummyAuthenticator::new(
            config,
            Secret::new(options.password),
        ))
    }
}

#[async_trait]
impl Authenticator for DummyAuthenticator {
    fn class_name(&self) -> &'static str {
        "DummyAuthenticator"
    }

    fn rules(&self) -> &Rules {
        &self.rules
    }

    fn kind(&self) -> LoginKind {
        self.rules.form_kind()
    }

    async fn authenticate(
        &self,
        _ctx: &RequestContext,
        data: &LoginData,
    ) -> Result<Option<AuthModel>, AuthError> {
        if !self.password.is_empty() && !self.password.constant_time_eq(data.password()) {
            return Ok(None);
        }
        Ok(Some(AuthModel::named(data.username())))
    }

    fn startup_warnings(&self) -> Vec<String> {
        let mut warnings = vec![DUMMY_WARNING.to_owned()];
        if !self.password.is_empty() {
            warnings.push(
                "DummyAuthenticator.password is deprecated in JupyterHub 5.3, use \
                 SharedPasswordAuthenticator instead"
                    .to_owned(),
            );
        }
        warnings.extend(self.rules.startup_warnings(self.class_name()));
        warnings
    }
}
