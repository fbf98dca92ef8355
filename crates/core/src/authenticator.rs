//! The [`Authenticator`] trait: one login method and its overridable stages.

use std::net::IpAddr;

use async_trait::async_trait;
use serde_json::Value;

use crate::error::AuthError;
use crate::model::{AuthModel, LoginData};
use crate::redirect::RedirectLogin;
use crate::rules::Rules;

/// What the pipeline knows about the request that is logging in. Time is passed in so that
/// no rule reads the clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// The current time, in seconds since the Unix epoch.
    pub now: i64,
    /// The client's address, when known (for logs and rate limits).
    pub remote_ip: Option<IpAddr>,
}

impl RequestContext {
    /// A context at the given time with no client address.
    pub fn at(now: i64) -> Self {
        RequestContext {
            now,
            remote_ip: None,
        }
    }
}

/// How a user logs in with this authenticator: which login page the hub shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginKind {
    /// A username/password form posted to the hub's login URL.
    Form {
        /// Whether the form has a one-time-password field.
        request_otp: bool,
        /// The OTP field's label.
        otp_prompt: String,
    },
    /// A "Sign in with {login_service}" button leading to `login_path` (relative to the
    /// hub prefix, e.g. `oauth_login`), which starts an external login.
    Redirect {
        /// Name of the service shown on the button.
        login_service: String,
        /// Path under the hub prefix that starts the login.
        login_path: String,
    },
}

/// What an authenticator did at logout.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogoutEffects {
    /// A new auth_state to store (e.g. with revoked tokens removed).
    pub auth_state: Option<Value>,
    /// Something the user should know (e.g. a token could not be revoked).
    pub warning: Option<String>,
}

/// What a refresh of a user's auth info found.
#[derive(Debug, Clone, PartialEq)]
pub enum RefreshOutcome {
    /// The stored info is current; nothing to change.
    UpToDate,
    /// The info has expired and cannot be renewed: the user must log in again.
    Expired,
    /// New info: apply it as a login would (admin, groups, roles, auth_state).
    Updated(Box<AuthModel>),
}

/// A login method: JupyterHub's `Authenticator` class.
///
/// Only [`Authenticator::authenticate`], [`Authenticator::rules`], [`Authenticator::kind`]
/// and [`Authenticator::class_name`] must be written; every other stage has the base
/// class's behaviour and may be overridden, as upstream's methods may. The hub calls the
/// stages through [`crate::pipeline::get_authenticated_user`], never directly.
#[async_trait]
pub trait Authenticator: Send + Sync {
    /// The class name, as in config tables and messages (`DummyAuthenticator`).
    fn class_name(&self) -> &'static str;

    /// The base rules built from the `[Authenticator]` options.
    fn rules(&self) -> &Rules;

    /// Which login page the hub shows.
    fn kind(&self) -> LoginKind;

    /// Checks the login data. `Ok(None)` means "authentication failed" (a 403 with the
    /// generic message); `Err(AuthError::Http{..})` refuses with a message for the user.
    async fn authenticate(
        &self,
        ctx: &RequestContext,
        data: &LoginData,
    ) -> Result<Option<AuthModel>, AuthError>;

    /// Normalizes a username (default: lowercase, then `username_map`).
    fn normalize_username(&self, name: &str) -> String {
        self.rules().normalize_username(name)
    }

    /// Validates a normalized username (default: see [`Rules::validate_username`]).
    fn validate_username(&self, name: &str) -> bool {
        self.rules().validate_username(name)
    }

    /// True when the user is NOT blocked. Restrictions that no allow rule may bypass
    /// (email verification, identity provider) belong here.
    async fn check_blocked_users(&self, name: &str, model: &AuthModel) -> Result<bool, AuthError> {
        let _ = model;
        Ok(self.rules().check_blocked_users(name))
    }

    /// True when the user is allowed. Not called when `allow_all` is on. Allow rules are
    /// additive: overrides call the base rule first, then add their own.
    async fn check_allowed(&self, name: &str, model: &AuthModel) -> Result<bool, AuthError> {
        Ok(self.rules().check_allowed(name, Some(model)))
    }

    /// The user's admin status when the model leaves it open: `Some(true)`, `Some(false)` or
    /// `None` for "leave the stored flag unchanged".
    async fn is_admin(&self, model: &AuthModel) -> Result<Option<bool>, AuthError> {
        Ok(self.rules().is_admin(&model.name))
    }

    /// Called when a user is added to the hub: at first login, at start-up for every stored
    /// user, and when an admin creates one. Must be idempotent.
    async fn add_user(&self, name: &str) -> Result<(), AuthError> {
        if self.rules().add_user(name) {
            Ok(())
        } else {
            Err(AuthError::Internal(format!("Invalid username: {name}")))
        }
    }

    /// Called when a user is deleted from the hub.
    async fn delete_user(&self, name: &str) -> Result<(), AuthError> {
        self.rules().delete_user(name);
        Ok(())
    }

    /// Refreshes a user's auth info (default: always up to date).
    async fn refresh_user(
        &self,
        ctx: &RequestContext,
        name: &str,
        auth_state: Option<&Value>,
    ) -> Result<RefreshOutcome, AuthError> {
        let _ = (ctx, name, auth_state);
        Ok(RefreshOutcome::UpToDate)
    }

    /// Called after a login session for this user started (the analog of upstream's
    /// `pre_spawn_start`: PAM opens its session here). Errors are logged by the hub and do
    /// not undo the login.
    async fn session_started(&self, name: &str) -> Result<(), AuthError> {
        let _ = name;
        Ok(())
    }

    /// Called after a login session of this user ended by logout or expiry (the analog of
    /// `post_spawn_stop`: PAM closes its session here). Errors are logged only.
    async fn session_ended(&self, name: &str) -> Result<(), AuthError> {
        let _ = name;
        Ok(())
    }

    /// Called at logout, before the session ends, with the user's auth_state (Globus
    /// revokes its tokens here). The hub saves a replacement auth_state when one is
    /// returned, and shows the warning on the logout page. Logout always completes.
    async fn on_logout(&self, name: &str, auth_state: Option<&Value>) -> LogoutEffects {
        let _ = (name, auth_state);
        LogoutEffects::default()
    }

    /// Values this login method hands to protected apps besides the auth_state itself
    /// (the analog of what upstream's `pre_spawn_start` put in the spawner's environment,
    /// e.g. Globus's `GLOBUS_DATA`). `[Hub] auth_state_headers` picks them by name, like
    /// auth_state keys. Default: none.
    fn app_data(&self, auth_state: Option<&Value>) -> serde_json::Map<String, Value> {
        let _ = auth_state;
        serde_json::Map::new()
    }

    /// The redirect-login half of authenticators whose users log in elsewhere (OAuth).
    fn redirect_login(&self) -> Option<&dyn RedirectLogin> {
        None
    }

    /// Whether this authenticator reports groups, so that `manage_groups` can work.
    fn supports_manage_groups(&self) -> bool {
        false
    }

    /// Whether this authenticator reports roles, so that `manage_roles` can work.
    fn supports_manage_roles(&self) -> bool {
        false
    }

    /// The roles this authenticator manages (JupyterHub's `load_managed_roles`), read at
    /// start-up when `manage_roles` is on. The default returns the `load_managed_roles`
    /// option; as upstream, it refuses when `manage_roles` is off, and when
    /// `reset_managed_roles_on_startup` is on with nothing to load (which would delete
    /// every managed role).
    async fn load_managed_roles(&self) -> Result<Vec<crate::roles::ManagedRole>, AuthError> {
        let config = self.rules().config();
        if !config.manage_roles {
            return Err(AuthError::Internal(
                "Managed roles can only be loaded when manage_roles is True".to_owned(),
            ));
        }
        if config.reset_managed_roles_on_startup && config.load_managed_roles.is_empty() {
            return Err(AuthError::Internal(
                "reset_managed_roles_on_startup is on but load_managed_roles is empty, so every role the authenticator manages would be deleted; list the roles in load_managed_roles (or override load_managed_roles) or turn reset_managed_roles_on_startup off".to_owned(),
            ));
        }
        Ok(config.load_managed_roles.clone())
    }

    /// The named login methods of a hub with several ([`crate::methods::HubWide`]);
    /// `None` for an authenticator that is one login method itself.
    fn login_methods(&self) -> Option<&[crate::methods::LoginMethod]> {
        None
    }

    /// Warnings to log once at start-up.
    fn startup_warnings(&self) -> Vec<String> {
        self.rules().startup_warnings(self.class_name())
    }
}
