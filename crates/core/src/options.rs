//! The options of JupyterHub's `Authenticator` base class and their validated form.

use std::collections::{BTreeMap, BTreeSet};

use hubauth_config::{
    ClassDef, ClassView, ConfigError, DefaultValue::Computed, DefaultValue::Literal, Deprecated,
};

const DEPRECATED_WHITELIST: &[Deprecated] = &[Deprecated {
    name: "whitelist",
    since: "JupyterHub 1.2",
    same_type: true,
}];
const DEPRECATED_BLACKLIST: &[Deprecated] = &[Deprecated {
    name: "blacklist",
    since: "JupyterHub 1.2",
    same_type: true,
}];

/// The default of `username_max_length`, in bytes.
pub const DEFAULT_USERNAME_MAX_LENGTH: usize = 255;
/// The largest `username_max_length` accepted: a name must fit in one header line that
/// common proxies accept (nginx's default buffer for a header line is 8 KB, others 4 KB).
pub const MAX_USERNAME_MAX_LENGTH: usize = 4096;

/// The default text of the 403 page.
pub const DEFAULT_403_MESSAGE: &str = "Sorry, you are not currently authorized to use this hub. Please contact the hub administrator.";

hubauth_config::options! {
    /// The `[Authenticator]` table: options every login method has.
    pub static AUTHENTICATOR = class "Authenticator" {
        bases: [],
        help: "Base class of every login method: who may log in, who is an admin, how user names are normalized, and what is kept about a user.",
    };
    /// `[Authenticator]` as the file, the environment and the defaults give it, before
    /// validation.
    pub struct AuthenticatorOptions {
        admin_users: BTreeSet<String> = (
            Set,
            Literal("[]"),
            "Set of users that have admin rights on this hub.\n\nAdmins can manage users, groups and tokens through the API and the admin page. Treat admin access like root access. Admins are always allowed to log in. Removing a name from this set does not revoke admin rights already granted (the stored flag is left unchanged).",
        ),
        allowed_users: BTreeSet<String> = (
            Set,
            Literal("[]"),
            "Set of usernames that are allowed to log in.\n\nUse this to restrict which users can log in, in addition to whatever the authenticator itself checks. If empty, nobody is allowed by this rule (see allow_all). Names are normalized before they are compared.",
        )
            .deprecated(DEPRECATED_WHITELIST),
        blocked_users: BTreeSet<String> = (
            Set,
            Literal("[]"),
            "Set of usernames that are not allowed to log in.\n\nChecked before every allow rule, so a blocked user cannot log in even if allowed otherwise. At start-up, stored users in this set lose their admin flag, roles and group memberships. Names are normalized before they are compared.",
        )
            .deprecated(DEPRECATED_BLACKLIST),
        allow_all: bool = (
            Bool,
            Literal("false"),
            "Allow every user who authenticates successfully to log in.\n\nWhen false, a user must be allowed by another rule (allowed_users, admin_users, allow_existing_users, or an authenticator's own rules). blocked_users still applies.",
        ),
        allow_existing_users: Option<bool> = (
            Bool,
            Computed("true if allowed_users is not empty, else false"),
            "Allow users that already exist in the hub's database to log in.\n\nUsers are added to the database by logging in, by an admin through the API or admin page, or by configuration (admin_users, allowed_users). When true, every such user stays allowed until deleted, even after their name is removed from allowed_users.",
        ),
        any_allow_config: Option<bool> = (
            Bool,
            Computed("true if any allow option (allow_all, allowed_users, admin_users, allowed_groups, ...) is set"),
            "Whether some rule allows users to log in.\n\nWhen false at start-up, the hub warns that nobody may be able to log in. Set it to true to silence the warning when allow rules live in a post_auth_hook or elsewhere.",
        ),
        username_pattern: String = (
            Str,
            Literal("\"\""),
            "Regular expression every valid username must match, after normalization.\n\nThe whole name must match (unlike upstream, where a prefix match sufficed). Empty means any name.",
        ),
        username_map: BTreeMap<String, String> = (
            Map,
            Literal("{}"),
            "Map of authenticated usernames to hub usernames, applied after lowercasing.\n\nPrimarily used to map OAuth user names to local users. Keys are compared case-insensitively; the map is applied once.",
        ),
        username_prefix: String = (
            Str,
            Literal("\"\""),
            "Put before every username this login method derives, after username_map (\"gh-\" makes GitHub's ada the hub user gh-ada), so that names from several login methods on one hub never meet. Every rule names the prefixed name.\n\nOnly for a method of [[Hub.logins]] (its username_prefix key sets it); lowercase letters, digits and - _ . : @. Not for PAMAuthenticator, LDAPAuthenticator and the Local... classes, which look users up by name. Empty means none.",
        ),
        username_max_length: i64 = (
            Int,
            Literal("255"),
            "The longest valid username, in bytes (UTF-8), after normalization.\n\nLonger names are refused like names containing `/`. Names travel to apps in identity headers, so the limit must stay below what proxies accept in one header: values from 1 to 4096 are accepted.",
        ),
        delete_invalid_users: bool = (
            Bool,
            Literal("false"),
            "Delete stored users that the authenticator no longer accepts at start-up.\n\nAt start-up every stored user is added to the authenticator again (add_user); when that fails (for example the system user no longer exists) the user is deleted if this is true, or kept with a warning if false.",
        ),
        post_auth_hook: String = (
            Str,
            Literal("\"\""),
            "A script run after a user has passed every check, just before the login succeeds.\n\nWritten in Rhai (a small sandboxed language with limits on time, operations and sizes). The script sees `authentication` (the auth model: name, admin, auth_state, user_info, groups, roles) and `authenticator` (the class name) and must evaluate to the auth model, changed or not. Returning () or a non-map fails the login. Empty means no hook.",
        ),
        enable_auth_state: bool = (
            Bool,
            Literal("false"),
            "Persist auth_state (tokens, provider user info) encrypted in the hub's database.\n\nRequires JUPYTERHUB_CRYPT_KEY to hold one or more 32-byte keys (hex or base64, separated by ';'); the first encrypts, all decrypt. The hub refuses to start when this is true and no key is set. When false, stored auth_state is cleared at the user's next login.",
        ),
        auth_refresh_age: i64 = (
            Int,
            Literal("300"),
            "The maximum age in seconds of a user's authentication info before it is refreshed.\n\nRefreshing may re-validate tokens with the identity provider and re-check the allow rules. 0 disables age-based refresh.",
        ),
        refresh_pre_spawn: bool = (
            Bool,
            Literal("false"),
            "Force a refresh of the user's auth info before handing tokens to a protected app.\n\nIf the refresh fails, the user must log in again.",
        ),
        refresh_pre_stop: bool = (
            Bool,
            Literal("false"),
            "Force a refresh of the user's auth info before stopping a user's app session.",
        ),
        manage_groups: bool = (
            Bool,
            Literal("false"),
            "Let the authenticator manage group membership.\n\nEach login or refresh sets the user's groups to exactly those the authenticator reports. The hub refuses to start if the chosen authenticator cannot report groups.",
        ),
        manage_roles: bool = (
            Bool,
            Literal("false"),
            "Let the authenticator manage roles.\n\nEach login or refresh sets the user's roles to those the authenticator reports.",
        ),
        reset_managed_roles_on_startup: bool = (
            Bool,
            Literal("false"),
            "At start-up, remove roles and role assignments previously added by the authenticator that it no longer reports.",
        ),
        load_managed_roles: Vec<serde_json::Value> = (
            DictList,
            Literal("[]"),
            "Roles the authenticator manages, created (or updated) at start-up when manage_roles is on: a list of tables with `name`, `description`, `scopes` and optionally `users`.\n\nUpstream this is the method Authenticator.load_managed_roles(); a Rust authenticator may override it. A role that lists `users` is given to them at start-up (with reset_managed_roles_on_startup: to exactly them). With reset_managed_roles_on_startup, managed roles not listed here are deleted, so an empty list is refused then. The default roles `user` and `admin` cannot be managed.",
        ),
        auto_login: bool = (
            Bool,
            Literal("false"),
            "Begin the login process at once instead of showing a \"Sign in with...\" page.\n\nOnly has an effect for authenticators whose login happens elsewhere (OAuth); form-based authenticators always show the form.",
        ),
        auto_login_oauth2_authorize: bool = (
            Bool,
            Literal("false"),
            "Send users who are not logged in straight to the authenticator's login when an app asks the hub to authorize them (the hub's OAuth2 provider endpoint).",
        ),
        request_otp: bool = (
            Bool,
            Literal("false"),
            "Add a one-time-password field to the login form.\n\nIts value reaches the authenticator as `otp` (PAM answers its second prompt with it).",
        ),
        otp_prompt: String = (
            Str,
            Literal("\"OTP:\""),
            "The label of the one-time-password field when request_otp is true.",
        ),
        logout_redirect_url: String = (
            Str,
            Literal("\"\""),
            "Where to send users after they log out. Empty means the hub's login page (or, with auto_login, a \"signed out\" page).",
        ),
        custom_403_message: String = (
            Str,
            Literal("\"Sorry, you are not currently authorized to use this hub. Please contact the hub administrator.\""),
            "The message shown to a user who authenticated but is not allowed to use the hub.",
        ),
    }
}

hubauth_config::options! {
    /// The `[DummyAuthenticator]` table.
    pub static DUMMY_AUTHENTICATOR = class "DummyAuthenticator" {
        bases: ["Authenticator"],
        help: "Authenticator for testing: any username logs in, with any password or, if `password` is set, with that password. Never use it in production.",
    };
    /// `[DummyAuthenticator]` as the file, the environment and the defaults give it, before
    /// validation.
    pub struct DummyAuthenticatorOptions {
        password: String = (
            Str,
            Literal("\"\""),
            "A password every user must give to log in. Empty means any password works.\n\nDeprecated in JupyterHub 5.3 in favour of SharedPasswordAuthenticator; still honoured here, with a warning.",
        )
            .secret(),
        allow_all: Option<bool> = (
            Bool,
            Computed("true unless allowed_users is set"),
            "Allow every user who authenticates to log in. For DummyAuthenticator this is true unless allowed_users is set.",
        ),
    }
}

/// Group rules shared by authenticators that report groups (OAuth providers): group names
/// that allow login or grant admin when `manage_groups` is on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupRules {
    /// Members of any of these groups may log in.
    pub allowed_groups: BTreeSet<String>,
    /// Members of any of these groups are admins; when non-empty, non-members who are not in
    /// `admin_users` lose admin.
    pub admin_groups: BTreeSet<String>,
}

/// The validated options of the `Authenticator` base class, as one authenticator class sees them.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthenticatorConfig {
    /// See the `admin_users` option.
    pub admin_users: BTreeSet<String>,
    /// See the `allowed_users` option.
    pub allowed_users: BTreeSet<String>,
    /// See the `blocked_users` option.
    pub blocked_users: BTreeSet<String>,
    /// See the `allow_all` option.
    pub allow_all: bool,
    /// See the `allow_existing_users` option.
    pub allow_existing_users: bool,
    /// See the `any_allow_config` option; `None` means computed.
    pub any_allow_config: Option<bool>,
    /// See the `username_pattern` option (the source text; empty = none).
    pub username_pattern: String,
    /// See the `username_map` option (keys lowercased).
    pub username_map: BTreeMap<String, String>,
    /// See the `username_prefix` option (empty = none).
    pub username_prefix: String,
    /// See the `username_max_length` option, in bytes.
    pub username_max_length: usize,
    /// See the `delete_invalid_users` option.
    pub delete_invalid_users: bool,
    /// See the `post_auth_hook` option (script source; empty = none).
    pub post_auth_hook: String,
    /// See the `enable_auth_state` option.
    pub enable_auth_state: bool,
    /// See the `auth_refresh_age` option, in seconds.
    pub auth_refresh_age: u64,
    /// See the `refresh_pre_spawn` option.
    pub refresh_pre_spawn: bool,
    /// See the `refresh_pre_stop` option.
    pub refresh_pre_stop: bool,
    /// See the `manage_groups` option.
    pub manage_groups: bool,
    /// See the `manage_roles` option.
    pub manage_roles: bool,
    /// See the `reset_managed_roles_on_startup` option.
    pub reset_managed_roles_on_startup: bool,
    /// See the `load_managed_roles` option (validated).
    pub load_managed_roles: Vec<crate::roles::ManagedRole>,
    /// See the `auto_login` option.
    pub auto_login: bool,
    /// See the `auto_login_oauth2_authorize` option.
    pub auto_login_oauth2_authorize: bool,
    /// See the `request_otp` option.
    pub request_otp: bool,
    /// See the `otp_prompt` option.
    pub otp_prompt: String,
    /// See the `logout_redirect_url` option.
    pub logout_redirect_url: String,
    /// See the `custom_403_message` option.
    pub custom_403_message: String,
    /// Group rules, filled by authenticators that report groups.
    pub group_rules: GroupRules,
}

impl Default for AuthenticatorConfig {
    /// Every option at its default, as a configuration with no `[Authenticator]` table
    /// gives it.
    fn default() -> Self {
        // The literal defaults are valid (Registry::check_defaults and this crate's tests
        // read them), and the defaults pass validation.
        #[allow(clippy::expect_used)]
        let options = AuthenticatorOptions::defaults().expect("the [Authenticator] defaults load");
        #[allow(clippy::expect_used)]
        AuthenticatorConfig::validate(options, |name, message| ConfigError::InvalidValue {
            at: hubauth_config::Location::Default {
                class: "Authenticator".to_owned(),
                key: name.to_owned(),
            },
            message: message.to_string(),
        })
        .expect("the [Authenticator] defaults are valid")
    }
}

impl AuthenticatorConfig {
    /// Reads and validates the base options as seen by one class.
    ///
    /// `allow_existing_users` takes upstream's base default (true when `allowed_users` is
    /// set); classes with another default (OAuth: false) adjust it after this call when the
    /// option is not set explicitly.
    pub fn from_view(view: &ClassView<'_>) -> Result<Self, ConfigError> {
        let options = AuthenticatorOptions::load(view)?;
        AuthenticatorConfig::validate(options, |name, message| view.invalid(name, message))
    }

    /// Validates the options as read: ranges, the regular expression, options that need
    /// each other. `invalid` makes the error for an option.
    fn validate(
        options: AuthenticatorOptions,
        invalid: impl Fn(&str, &dyn std::fmt::Display) -> ConfigError,
    ) -> Result<Self, ConfigError> {
        let allow_existing_users = options
            .allow_existing_users
            .unwrap_or(!options.allowed_users.is_empty());
        if let Err(err) = crate::methods::check_prefix(&options.username_prefix) {
            return Err(invalid("username_prefix", &err));
        }
        if !options.username_pattern.is_empty()
            && let Err(err) = regex::Regex::new(&options.username_pattern)
        {
            return Err(invalid(
                "username_pattern",
                &format!("not a valid regular expression: {err}"),
            ));
        }
        let username_map = options
            .username_map
            .into_iter()
            .map(|(key, value)| (key.to_lowercase(), value))
            .collect();
        let username_max_length = usize::try_from(options.username_max_length)
            .ok()
            .filter(|max| (1..=MAX_USERNAME_MAX_LENGTH).contains(max))
            .ok_or_else(|| {
                invalid(
                    "username_max_length",
                    &format!(
                        "must be between 1 and {MAX_USERNAME_MAX_LENGTH} bytes (usernames travel in HTTP headers)"
                    ),
                )
            })?;
        let load_managed_roles =
            crate::roles::ManagedRole::list_from_json(&options.load_managed_roles)
                .map_err(|err| invalid("load_managed_roles", &err))?;
        if !load_managed_roles.is_empty() && !options.manage_roles {
            return Err(invalid(
                "load_managed_roles",
                &"load_managed_roles requires manage_roles to also be set",
            ));
        }
        let auth_refresh_age = u64::try_from(options.auth_refresh_age).map_err(|_| {
            invalid(
                "auth_refresh_age",
                &"must be 0 or a positive number of seconds",
            )
        })?;
        Ok(AuthenticatorConfig {
            admin_users: options.admin_users,
            allowed_users: options.allowed_users,
            blocked_users: options.blocked_users,
            allow_all: options.allow_all,
            allow_existing_users,
            any_allow_config: options.any_allow_config,
            username_pattern: options.username_pattern,
            username_map,
            username_prefix: options.username_prefix,
            username_max_length,
            delete_invalid_users: options.delete_invalid_users,
            post_auth_hook: options.post_auth_hook,
            enable_auth_state: options.enable_auth_state,
            auth_refresh_age,
            refresh_pre_spawn: options.refresh_pre_spawn,
            refresh_pre_stop: options.refresh_pre_stop,
            manage_groups: options.manage_groups,
            manage_roles: options.manage_roles,
            reset_managed_roles_on_startup: options.reset_managed_roles_on_startup,
            load_managed_roles,
            auto_login: options.auto_login,
            auto_login_oauth2_authorize: options.auto_login_oauth2_authorize,
            request_otp: options.request_otp,
            otp_prompt: options.otp_prompt,
            logout_redirect_url: options.logout_redirect_url,
            custom_403_message: options.custom_403_message,
            group_rules: GroupRules::default(),
        })
    }

    /// Upstream's `any_allow_config`: whether some option allows anybody in.
    pub fn any_allow_config(&self) -> bool {
        self.any_allow_config.unwrap_or(
            self.allow_all
                || self.allow_existing_users
                || !self.allowed_users.is_empty()
                || !self.admin_users.is_empty()
                || !self.group_rules.allowed_groups.is_empty(),
        )
    }
}

/// Every class this crate defines, in generate-config order.
pub fn classes() -> [&'static ClassDef; 3] {
    [
        &AUTHENTICATOR,
        &DUMMY_AUTHENTICATOR,
        &crate::shared_password::SHARED_PASSWORD_AUTHENTICATOR,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_configuration_is_the_tables_defaults() {
        let config = AuthenticatorConfig::default();
        assert_eq!(config.username_max_length, DEFAULT_USERNAME_MAX_LENGTH);
        assert_eq!(config.custom_403_message, DEFAULT_403_MESSAGE);
        assert_eq!(config.auth_refresh_age, 300);
        assert_eq!(config.otp_prompt, "OTP:");
        assert!(!config.allow_existing_users);
        assert_eq!(config.any_allow_config, None);
        let dummy = DummyAuthenticatorOptions::defaults().unwrap();
        assert_eq!(dummy.allow_all, None);
        assert_eq!(dummy.password, "");
    }
}
