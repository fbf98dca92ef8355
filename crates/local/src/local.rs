//! `LocalAuthenticator` as a wrapper: [`Local<A>`] adds system-user handling to any
//! authenticator `A`.

use async_trait::async_trait;
use hubauth_config::{ClassView, ConfigError};
use hubauth_core::{
    AuthError, AuthModel, Authenticator, LoginData, LoginKind, LogoutEffects, RedirectLogin,
    RefreshOutcome, RequestContext, Rules,
};
use serde_json::Value;

use crate::command::{add_user_argv, run_add_user};
use crate::error::LocalError;
use crate::options::LocalConfig;
use crate::system;

/// The start of core's "No allow config found" start-up warning; `allowed_groups` (UNIX)
/// is an allow rule the base rules do not know about.
const NO_ALLOW_CONFIG_WARNING: &str = "No allow config found";

/// The `LocalAuthenticator` behaviour, independent of how users authenticate: system user
/// lookups, user creation and UNIX group allow rules.
#[derive(Debug)]
pub struct LocalRules {
    config: LocalConfig,
    /// Held while checking for and creating a system user, so two first logins of one
    /// new user do not both run `add_user_cmd`.
    creating: tokio::sync::Mutex<()>,
}

impl LocalRules {
    /// Rules from validated options.
    pub fn new(config: LocalConfig) -> Self {
        LocalRules {
            config,
            creating: tokio::sync::Mutex::new(()),
        }
    }

    /// The options.
    pub fn config(&self) -> &LocalConfig {
        &self.config
    }

    /// Whether `name` has a system account (a passwd lookup).
    pub async fn system_user_exists(&self, name: &str) -> Result<bool, LocalError> {
        let name = name.to_owned();
        system::blocking(move || system::user_exists(&name)).await
    }

    /// The argv `add_user_cmd` becomes for `name` (see
    /// [`crate::command::add_user_argv`]); fails for names that are not safe to pass.
    pub fn add_user_argv(&self, name: &str) -> Result<Vec<String>, LocalError> {
        add_user_argv(
            &self.config.add_user_cmd,
            name,
            self.config.uids.get(name).copied(),
        )
    }

    /// Creates system user `name` with `add_user_cmd` (upstream's `add_system_user`).
    /// Unsafe names are refused before anything runs.
    pub async fn add_system_user(&self, name: &str) -> Result<(), LocalError> {
        let argv = self.add_user_argv(name)?;
        run_add_user(&argv, name, self.config.add_user_timeout).await
    }

    /// The system-user half of `add_user`: nothing when the user exists; otherwise create
    /// them when `create_system_users` is on, or fail with upstream's message.
    pub async fn ensure_system_user(&self, name: &str) -> Result<(), LocalError> {
        if self.system_user_exists(name).await? {
            return Ok(());
        }
        let _creating = self.creating.lock().await;
        // Another login may have created the user while this one waited.
        if self.system_user_exists(name).await? {
            return Ok(());
        }
        if !self.config.create_system_users {
            return Err(LocalError::NoSystemUser {
                name: name.to_owned(),
            });
        }
        self.add_system_user(name).await?;
        if !self.system_user_exists(name).await? {
            tracing::warn!(user = %name, "add_user_cmd succeeded but the system user still does not exist");
        }
        Ok(())
    }

    /// Whether the user is a member of one of `allowed_groups` (false when that set is
    /// empty or the user has no system account).
    pub async fn check_allowed_groups(&self, name: &str) -> Result<bool, LocalError> {
        if self.config.allowed_groups.is_empty() {
            return Ok(false);
        }
        let groups = self.config.allowed_groups.clone();
        let owned = name.to_owned();
        match system::blocking(move || system::user_in_any_group(&owned, &groups)).await? {
            Some(member) => Ok(member),
            None => {
                // Upstream raises here (a 500); a user without an account is simply not a
                // member of any UNIX group.
                tracing::warn!(user = %name, "not checking allowed_groups: no such system user");
                Ok(false)
            }
        }
    }

    /// Start-up warnings about the local options.
    pub fn startup_warnings(&self, class_name: &str) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.config.create_system_users && !system::running_as_root() {
            warnings.push(format!(
                "{class_name}.create_system_users is true but the hub is not running as root: creating system users will probably fail"
            ));
        }
        for group in &self.config.allowed_groups {
            if let Ok(None) = system::group_gid(group) {
                warnings.push(format!(
                    "{class_name}.allowed_groups: No such group: [{group}]"
                ));
            }
        }
        warnings
    }
}

/// An authenticator whose users are local UNIX users: upstream's `LocalAuthenticator`
/// mixin, as a wrapper around any authenticator.
///
/// Every stage is the inner authenticator's, except:
/// - `add_user` first makes sure the system user exists (creating it with `add_user_cmd`
///   when `create_system_users` is on), then runs the inner `add_user`;
/// - `check_allowed` admits members of `allowed_groups` (UNIX groups), then asks the inner
///   rules;
/// - `class_name` is the wrapped class's name (`PAMAuthenticator`,
///   `LocalGenericOAuthenticator`).
///
/// `PAMAuthenticator` is `Local<Pam>`; the `Local*` variants of other authenticators are
/// `Local<GenericOAuthenticator>` and so on, built with [`Local::from_view`].
#[derive(Debug)]
pub struct Local<A> {
    class_name: &'static str,
    inner: A,
    local: LocalRules,
}

impl<A: Authenticator> Local<A> {
    /// Wraps `inner` as class `class_name`.
    pub fn new(class_name: &'static str, inner: A, config: LocalConfig) -> Self {
        Local {
            class_name,
            inner,
            local: LocalRules::new(config),
        }
    }

    /// Builds the inner authenticator with `build` and the local options from the same
    /// view; the class name is the view's class.
    ///
    /// ```ignore
    /// let authenticator = Local::from_view(view, GenericOAuthenticator::from_view)?;
    /// ```
    pub fn from_view(
        view: &ClassView<'_>,
        build: impl FnOnce(&ClassView<'_>) -> Result<A, ConfigError>,
    ) -> Result<Self, ConfigError> {
        let inner = build(view)?;
        let config = LocalConfig::from_view(view)?;
        let class_name = view
            .class()
            .map(|class| class.name)
            .unwrap_or_else(|| inner.class_name());
        Ok(Local::new(class_name, inner, config))
    }

    /// The wrapped authenticator.
    pub fn inner(&self) -> &A {
        &self.inner
    }

    /// The local-account rules.
    pub fn local(&self) -> &LocalRules {
        &self.local
    }

    /// Whether `name` has a system account.
    pub async fn system_user_exists(&self, name: &str) -> Result<bool, LocalError> {
        self.local.system_user_exists(name).await
    }
}

#[async_trait]
impl<A: Authenticator> Authenticator for Local<A> {
    fn class_name(&self) -> &'static str {
        self.class_name
    }

    fn rules(&self) -> &Rules {
        self.inner.rules()
    }

    fn kind(&self) -> LoginKind {
        self.inner.kind()
    }

    async fn authenticate(
        &self,
        ctx: &RequestContext,
        data: &LoginData,
    ) -> Result<Option<AuthModel>, AuthError> {
        self.inner.authenticate(ctx, data).await
    }

    fn normalize_username(&self, name: &str) -> String {
        self.inner.normalize_username(name)
    }

    fn validate_username(&self, name: &str) -> bool {
        self.inner.validate_username(name)
    }

    async fn check_blocked_users(&self, name: &str, model: &AuthModel) -> Result<bool, AuthError> {
        self.inner.check_blocked_users(name, model).await
    }

    async fn check_allowed(&self, name: &str, model: &AuthModel) -> Result<bool, AuthError> {
        if self.local.check_allowed_groups(name).await? {
            return Ok(true);
        }
        self.inner.check_allowed(name, model).await
    }

    async fn is_admin(&self, model: &AuthModel) -> Result<Option<bool>, AuthError> {
        self.inner.is_admin(model).await
    }

    async fn add_user(&self, name: &str) -> Result<(), AuthError> {
        // Checked before a system user is created for it (upstream creates it first).
        if !self.inner.validate_username(name) {
            return Err(AuthError::Internal(format!("Invalid username: {name}")));
        }
        self.local.ensure_system_user(name).await?;
        self.inner.add_user(name).await
    }

    async fn delete_user(&self, name: &str) -> Result<(), AuthError> {
        self.inner.delete_user(name).await
    }

    async fn refresh_user(
        &self,
        ctx: &RequestContext,
        name: &str,
        auth_state: Option<&Value>,
    ) -> Result<RefreshOutcome, AuthError> {
        self.inner.refresh_user(ctx, name, auth_state).await
    }

    async fn session_started(&self, name: &str) -> Result<(), AuthError> {
        self.inner.session_started(name).await
    }

    async fn session_ended(&self, name: &str) -> Result<(), AuthError> {
        self.inner.session_ended(name).await
    }

    async fn on_logout(&self, name: &str, auth_state: Option<&Value>) -> LogoutEffects {
        self.inner.on_logout(name, auth_state).await
    }

    fn redirect_login(&self) -> Option<&dyn RedirectLogin> {
        self.inner.redirect_login()
    }

    fn app_data(&self, auth_state: Option<&Value>) -> serde_json::Map<String, Value> {
        self.inner.app_data(auth_state)
    }

    fn supports_manage_groups(&self) -> bool {
        self.inner.supports_manage_groups()
    }

    fn supports_manage_roles(&self) -> bool {
        self.inner.supports_manage_roles()
    }

    async fn load_managed_roles(&self) -> Result<Vec<hubauth_core::ManagedRole>, AuthError> {
        self.inner.load_managed_roles().await
    }

    fn startup_warnings(&self) -> Vec<String> {
        let mut warnings = self.inner.startup_warnings();
        let explicit = self.inner.rules().config().any_allow_config.is_some();
        if !self.local.config().allowed_groups.is_empty() && !explicit {
            warnings.retain(|warning| !warning.starts_with(NO_ALLOW_CONFIG_WARNING));
        }
        warnings.extend(self.local.startup_warnings(self.class_name));
        warnings
    }
}
