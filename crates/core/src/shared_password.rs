//! `SharedPasswordAuthenticator`: one password for users, another for admins.

use async_trait::async_trait;
use hubauth_config::{ClassView, ConfigError, DefaultValue::Computed, DefaultValue::Literal};

use crate::authenticator::{Authenticator, LoginKind, RequestContext};
use crate::error::AuthError;
use crate::model::{AuthModel, LoginData};
use crate::options::AuthenticatorConfig;
use crate::rules::Rules;
use crate::secret::Secret;

hubauth_config::options! {
    /// The `[SharedPasswordAuthenticator]` table.
    pub static SHARED_PASSWORD_AUTHENTICATOR = class "SharedPasswordAuthenticator" {
        bases: ["Authenticator"],
        help: "Authenticator where everyone shares one password (user_password) and admins share another (admin_password). Meant for short-lived events such as workshops.",
    };
    /// `[SharedPasswordAuthenticator]` as the file, the environment and the defaults give it, before
    /// validation.
    pub struct SharedPasswordAuthenticatorOptions {
        user_password: String = (
            Str,
            Literal("\"\""),
            "The password every user not in admin_users gives to log in. At least 8 characters. Empty means only admins can log in.",
        )
            .secret(),
        admin_password: String = (
            Str,
            Literal("\"\""),
            "The password users in admin_users give to log in as admins. At least 32 characters, and different from user_password. Empty means users in admin_users cannot log in.",
        )
            .secret(),
        allow_all: Option<bool> = (
            Bool,
            Computed("true unless allowed_users is set"),
            "Allow every user who knows the password to log in. For SharedPasswordAuthenticator this is true unless allowed_users is set.",
        ),
    }
}

/// One password for users, another for admins.
#[derive(Debug)]
pub struct SharedPasswordAuthenticator {
    rules: Rules,
    user_password: Secret,
    admin_password: Secret,
}

impl SharedPasswordAuthenticator {
    /// Reads and validates `[SharedPasswordAuthenticator]` options.
    pub fn from_view(view: &ClassView<'_>) -> Result<Self, ConfigError> {
        let options = SharedPasswordAuthenticatorOptions::load(view)?;
        let mut config = AuthenticatorConfig::from_view(view)?;
        if options.allow_all.is_none() {
            config.allow_all = config.allowed_users.is_empty();
        }
        let user_password: String = options.user_password;
        let admin_password: String = options.admin_password;
        if !user_password.is_empty() && user_password.chars().count() < 8 {
            return Err(view.invalid("user_password", "must be at least 8 characters"));
        }
        if !admin_password.is_empty() {
            if admin_password.chars().count() < 32 {
                return Err(view.invalid("admin_password", "must be at least 32 characters"));
            }
            if admin_password == user_password {
                return Err(view.invalid("admin_password", "must differ from user_password"));
            }
            if config.admin_users.is_empty() {
                return Err(view.invalid(
                    "admin_password",
                    "is set but admin_users is empty, so nobody can use it",
                ));
            }
        }
        if user_password.is_empty() && admin_password.is_empty() {
            return Err(view.invalid(
                "user_password",
                "SharedPasswordAuthenticator needs user_password or admin_password",
            ));
        }
        Ok(SharedPasswordAuthenticator {
            rules: Rules::new(config),
            user_password: Secret::new(user_password),
            admin_password: Secret::new(admin_password),
        })
    }
}

#[async_trait]
impl Authenticator for SharedPasswordAuthenticator {
    fn class_name(&self) -> &'static str {
        "SharedPasswordAuthenticator"
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
        let name = self.normalize_username(data.username());
        let given = data.password();
        // Compare with both passwords every time so timing does not tell which matched.
        let admin_ok =
            !self.admin_password.is_empty() && self.admin_password.constant_time_eq(given);
        let user_ok = !self.user_password.is_empty() && self.user_password.constant_time_eq(given);
        if self.rules.config().admin_users.contains(&name) {
            // Admins log in only with the admin password, so the widely shared user
            // password never opens an admin account.
            if admin_ok {
                let mut model = AuthModel::named(data.username());
                model.admin = Some(true);
                return Ok(Some(model));
            }
            return Ok(None);
        }
        if user_ok {
            return Ok(Some(AuthModel::named(data.username())));
        }
        Ok(None)
    }
}
