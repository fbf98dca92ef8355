//! The default rules of the `Authenticator` base class: username normalization and
//! validation, the block list, the allow rules and the admin rule.

use std::collections::BTreeSet;
use std::sync::RwLock;

use regex::Regex;

use crate::model::AuthModel;
use crate::options::AuthenticatorConfig;

/// The base class's rules, built once from validated options.
///
/// Holds the one piece of state the base class has: `allowed_users` grows when
/// `allow_existing_users` is on and users are added (`add_user`).
#[derive(Debug)]
pub struct Rules {
    config: AuthenticatorConfig,
    pattern: NamePattern,
    allowed: RwLock<BTreeSet<String>>,
}

/// A username that the configuration lists but the rules reject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid username in {option}: {name:?}")]
pub struct InvalidConfiguredName {
    /// The option that lists it (`admin_users`, `allowed_users`).
    pub option: &'static str,
    /// The name after normalization.
    pub name: String,
}

impl Rules {
    /// Builds the rules. Names in `admin_users`, `allowed_users` and `blocked_users` are
    /// normalized with the default normalization, so `Alice` in config matches user `alice`.
    /// `username_pattern` must already be a valid regex (options validation checks it);
    /// an invalid one here is treated as "no name is valid".
    pub fn new(mut config: AuthenticatorConfig) -> Self {
        let pattern = if config.username_pattern.is_empty() {
            NamePattern::Any
        } else {
            // Anchored on both ends: upstream's prefix match accepted `abcdef` for `abc` (F10).
            match Regex::new(&format!("^(?:{})$", config.username_pattern)) {
                Ok(regex) => NamePattern::Whole(regex),
                Err(_) => NamePattern::Invalid,
            }
        };
        let normalize = |names: &BTreeSet<String>| -> BTreeSet<String> {
            names
                .iter()
                .map(|name| default_normalize(&config.username_map, name))
                .collect()
        };
        config.admin_users = normalize(&config.admin_users);
        config.allowed_users = normalize(&config.allowed_users);
        config.blocked_users = normalize(&config.blocked_users);
        let allowed = RwLock::new(config.allowed_users.clone());
        Rules {
            config,
            pattern,
            allowed,
        }
    }

    /// The options these rules were built from (with normalized name sets).
    pub fn config(&self) -> &AuthenticatorConfig {
        &self.config
    }

    /// The login page of a username/password authenticator (with the OTP field when
    /// `request_otp`).
    pub fn form_kind(&self) -> crate::authenticator::LoginKind {
        crate::authenticator::LoginKind::Form {
            request_otp: self.config.request_otp,
            otp_prompt: self.config.otp_prompt.clone(),
        }
    }

    /// Default normalization: lowercase, then one lookup in `username_map`, then
    /// `username_prefix` in front. Applied once to each name a login derives, never to
    /// a stored name.
    pub fn normalize_username(&self, name: &str) -> String {
        let normalized = default_normalize(&self.config.username_map, name);
        if self.config.username_prefix.is_empty() {
            normalized
        } else {
            format!("{}{normalized}", self.config.username_prefix)
        }
    }

    /// Default validation: not empty, no `/`, not `.` or `..`, no longer than
    /// `username_max_length` bytes, no surrounding whitespace, no control characters, and a
    /// whole-name match of `username_pattern` when set.
    pub fn validate_username(&self, name: &str) -> bool {
        if name.is_empty() || name.contains('/') || name.trim() != name {
            return false;
        }
        // A name is a path segment (home and API URLs, app routes): `.` and `..` would
        // name the parent instead.
        if name == "." || name == ".." {
            return false;
        }
        // Names travel in identity headers; an overlong one is refused here rather than
        // by a proxy in front of every app.
        if name.len() > self.config.username_max_length {
            return false;
        }
        // Names travel in headers and logs; a control character there is an injection.
        if name.chars().any(char::is_control) {
            return false;
        }
        match &self.pattern {
            NamePattern::Any => true,
            NamePattern::Whole(pattern) => pattern.is_match(name),
            NamePattern::Invalid => false,
        }
    }

    /// True when the (normalized) name is not blocked.
    pub fn check_blocked_users(&self, name: &str) -> bool {
        !self.config.blocked_users.contains(name)
    }

    /// The base allow rules, in upstream's order plus hubauth's fix F21:
    /// `allow_all`; a name in `allowed_users` (which holds existing users when
    /// `allow_existing_users`); a name in `admin_users` (admins are always allowed);
    /// with `manage_groups`, a group in `allowed_groups`.
    pub fn check_allowed(&self, name: &str, model: Option<&AuthModel>) -> bool {
        if self.config.allow_all {
            return true;
        }
        if self.is_in_allowed_users(name) || self.config.admin_users.contains(name) {
            return true;
        }
        let allowed_groups = &self.config.group_rules.allowed_groups;
        self.config.manage_groups
            && !allowed_groups.is_empty()
            && model
                .and_then(|model| model.groups.as_ref())
                .is_some_and(|groups| groups.iter().any(|group| allowed_groups.contains(group)))
    }

    /// Whether the name is currently in the allowed set (config plus added existing users).
    pub fn is_in_allowed_users(&self, name: &str) -> bool {
        match self.allowed.read() {
            Ok(allowed) => allowed.contains(name),
            Err(poisoned) => poisoned.into_inner().contains(name),
        }
    }

    /// Default `is_admin`: `Some(true)` for `admin_users`, else `None` ("leave unchanged").
    pub fn is_admin(&self, name: &str) -> Option<bool> {
        self.config.admin_users.contains(name).then_some(true)
    }

    /// Upstream's group-admin rule for authenticators that report groups: when
    /// `manage_groups` and `admin_groups` are set and the model is not already admin, the
    /// user is admin exactly when one of their groups is an admin group.
    pub fn apply_managed_groups(&self, model: &mut AuthModel) {
        if !self.config.manage_groups {
            return;
        }
        if let Some(groups) = model.groups.as_mut() {
            groups.sort();
            groups.dedup();
        }
        let admin_groups = &self.config.group_rules.admin_groups;
        if !admin_groups.is_empty() && model.admin != Some(true) {
            let member = model
                .groups
                .as_ref()
                .is_some_and(|groups| groups.iter().any(|group| admin_groups.contains(group)));
            model.admin = Some(member);
        }
    }

    /// Default `add_user`: with `allow_existing_users` (and not `allow_all`), the user joins
    /// the allowed set. Returns false when the name is invalid (upstream's
    /// `ValueError("Invalid username")`).
    pub fn add_user(&self, name: &str) -> bool {
        if !self.validate_username(name) {
            return false;
        }
        if self.config.allow_existing_users && !self.config.allow_all {
            match self.allowed.write() {
                Ok(mut allowed) => {
                    allowed.insert(name.to_owned());
                }
                Err(poisoned) => {
                    poisoned.into_inner().insert(name.to_owned());
                }
            }
        }
        true
    }

    /// Default `delete_user`: the user leaves the allowed set.
    pub fn delete_user(&self, name: &str) {
        match self.allowed.write() {
            Ok(mut allowed) => {
                allowed.remove(name);
            }
            Err(poisoned) => {
                poisoned.into_inner().remove(name);
            }
        }
    }

    /// Checks the names configured in `admin_users` and `allowed_users` (start-up step).
    pub fn check_configured_names(&self) -> Result<(), InvalidConfiguredName> {
        for (option, names) in [
            ("admin_users", &self.config.admin_users),
            ("allowed_users", &self.config.allowed_users),
        ] {
            if let Some(name) = names.iter().find(|name| !self.validate_username(name)) {
                return Err(InvalidConfiguredName {
                    option,
                    name: name.clone(),
                });
            }
        }
        Ok(())
    }

    /// Start-up warnings about the base options (upstream's `check_allow_config` and the
    /// `allowed_users` one-character check).
    pub fn startup_warnings(&self, class_name: &str) -> Vec<String> {
        let mut warnings: Vec<String> = self
            .no_allow_config_warning(class_name)
            .into_iter()
            .collect();
        warnings.extend(self.allowed_users_warning(class_name));
        warnings
    }

    /// Upstream's `check_allow_config` warning, when no allow rule is configured.
    pub fn no_allow_config_warning(&self, class_name: &str) -> Option<String> {
        (!self.config.any_allow_config()).then(|| {
            format!(
                "No allow config found, it's possible that nobody can login to your hub! \
                 You can set {class_name}.allow_all = true to allow any user who can login \
                 to access the hub, or use {class_name}.allowed_users (or another allow \
                 rule) to list who may. If you have another way of allowing users, set \
                 {class_name}.any_allow_config = true to silence this warning."
            )
        })
    }

    /// The warning for `allowed_users` entries of one character or less (a string
    /// written where a list was expected).
    pub fn allowed_users_warning(&self, class_name: &str) -> Option<String> {
        let short: Vec<&String> = self
            .config
            .allowed_users
            .iter()
            .filter(|name| name.chars().count() <= 1)
            .collect();
        (!short.is_empty()).then(|| {
            format!(
                "{class_name}.allowed_users has names of one character or less: {short:?}. \
                 Did you write a string where a list of names was expected?"
            )
        })
    }
}

fn default_normalize(map: &std::collections::BTreeMap<String, String>, name: &str) -> String {
    let lowered = name.to_lowercase();
    match map.get(&lowered) {
        Some(mapped) => mapped.clone(),
        None => lowered,
    }
}

/// The compiled `username_pattern`.
#[derive(Debug)]
enum NamePattern {
    Any,
    Whole(Regex),
    /// Options validation rejects bad patterns; if one gets here anyway, no name is valid.
    Invalid,
}
