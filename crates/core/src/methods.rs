//! Several login methods on one hub: each a named [`Authenticator`] with its own options
//! ([`LoginMethod`]), usernames kept apart by a per-method `username_prefix` (applied by
//! [`Rules::normalize_username`]), and the hub-wide rules that hold whichever method a
//! user logged in with ([`HubWide`]).
//!
//! Every rule names hub usernames, the prefix included: `admin_users = ["gh-ada"]` makes
//! the GitHub user `ada` of a method with `username_prefix = "gh-"` an admin, and
//! `admin_users = ["ada"]` in `[Authenticator]` never does. A global rule therefore cannot
//! admit or promote a user of another method by accident.

use std::sync::Arc;

use async_trait::async_trait;

use crate::authenticator::{Authenticator, LoginKind, RequestContext};
use crate::error::AuthError;
use crate::model::{AuthModel, LoginData};
use crate::rules::Rules;

/// One login method of a hub with several (`[[Hub.logins]]`).
#[derive(Clone)]
pub struct LoginMethod {
    /// The method's name: its URL segment (`{base_url}hub/{name}/oauth_login`) and what
    /// the user record remembers.
    pub name: String,
    /// What the login page calls it ("Company SSO").
    pub label: String,
    /// Whether `auto_login` goes straight to this method.
    pub default: bool,
    /// What the method puts before every username it derives (empty for none).
    pub username_prefix: String,
    /// The linking rule that may join this method's logins to accounts of other methods
    /// with the same rule ([`LinkBy`]).
    pub link_by: Option<LinkBy>,
    /// The method's authenticator (built with the method's options, its prefix included).
    pub authenticator: Arc<dyn Authenticator>,
}

impl std::fmt::Debug for LoginMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginMethod")
            .field("name", &self.name)
            .field("label", &self.label)
            .field("default", &self.default)
            .field("username_prefix", &self.username_prefix)
            .field("link_by", &self.link_by)
            .field("class", &self.authenticator.class_name())
            .finish()
    }
}

/// A linking rule: how one person is recognised across login methods, so that methods
/// with the same rule share one account for them on purpose.
///
/// The risk: whoever controls the identity at any linked provider controls the account.
/// Link only providers that verify what the rule reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkBy {
    /// The email of the provider's user info (`auth_state.oauth_user.email`, compared
    /// lowercased), only when the same user info says `email_verified: true`.
    VerifiedEmail,
    /// A value at a dotted path of auth_state (`oauth_user.employee_id`): a string, or an
    /// integer compared as its decimal text.
    Claim(String),
}

impl LinkBy {
    /// Reads a `link_by` value: `"verified_email"` or `"claim:<dotted path>"`.
    pub fn parse(text: &str) -> Result<LinkBy, MethodNameError> {
        if text == "verified_email" {
            return Ok(LinkBy::VerifiedEmail);
        }
        match text.strip_prefix("claim:") {
            Some(path)
                if !path.is_empty()
                    && path
                        .split('.')
                        .all(|part| !part.is_empty() && !part.chars().any(char::is_whitespace)) =>
            {
                Ok(LinkBy::Claim(path.to_owned()))
            }
            _ => Err(MethodNameError::LinkBy(text.to_owned())),
        }
    }

    /// The kind of identity, as stored: methods link only when their rules are the same.
    pub fn kind(&self) -> String {
        match self {
            LinkBy::VerifiedEmail => "verified_email".to_owned(),
            LinkBy::Claim(path) => format!("claim:{path}"),
        }
    }

    /// The identity this rule reads from a login's model, or `None` (the login then
    /// links to nothing).
    pub fn key(&self, model: &AuthModel) -> Option<String> {
        let state = model.auth_state.as_ref()?;
        match self {
            LinkBy::VerifiedEmail => {
                let user = state.get("oauth_user")?;
                if user.get("email_verified") != Some(&serde_json::Value::Bool(true)) {
                    return None;
                }
                let email = user.get("email")?.as_str()?.trim().to_lowercase();
                let (local, domain) = email.split_once('@')?;
                (!local.is_empty() && !domain.is_empty()).then_some(email)
            }
            LinkBy::Claim(path) => {
                let mut value = state;
                for part in path.split('.') {
                    value = value.get(part)?;
                }
                match value {
                    serde_json::Value::String(text) if !text.trim().is_empty() => {
                        Some(text.clone())
                    }
                    serde_json::Value::Number(number) if number.is_i64() || number.is_u64() => {
                        Some(number.to_string())
                    }
                    _ => None,
                }
            }
        }
    }
}

/// Why a method's name or prefix is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MethodNameError {
    /// The name is not a plain URL segment.
    #[error(
        "{0:?} is not a login method name: use 1 to 32 lowercase letters, digits and '-', starting with a letter"
    )]
    Invalid(String),
    /// The name is one of the hub's own paths.
    #[error("{0:?} is one of the hub's own paths and cannot name a login method")]
    Reserved(String),
    /// The linking rule is neither `verified_email` nor `claim:<path>`.
    #[error("link_by {0:?} must be \"verified_email\" or \"claim:<dotted path into auth_state>\"")]
    LinkBy(String),
    /// The prefix could never start a valid username.
    #[error(
        "username_prefix {0:?} must be lowercase letters, digits, '-', '_', '.', ':' or '@' (usernames are lowercased)"
    )]
    Prefix(String),
}

/// Paths directly under `{base_url}hub/` that a method name may not take.
const RESERVED: &[&str] = &[
    "login",
    "logout",
    "home",
    "admin",
    "api",
    "logo",
    "oauth_login",
    "oauth_callback",
    "forward-auth",
    "backchannel_logout",
    "health",
    "metrics",
    "static",
    "user",
    "users",
    "spawn",
    "token",
];

/// Checks a login method's name: a short lowercase URL segment that is not one of the
/// hub's own paths.
pub fn check_method_name(name: &str) -> Result<(), MethodNameError> {
    let plain = !name.is_empty()
        && name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !plain {
        return Err(MethodNameError::Invalid(name.to_owned()));
    }
    if RESERVED.contains(&name) {
        return Err(MethodNameError::Reserved(name.to_owned()));
    }
    Ok(())
}

/// Checks a `username_prefix`: characters that survive normalization (lowercase) and may
/// appear in a username.
pub fn check_prefix(prefix: &str) -> Result<(), MethodNameError> {
    let fine = prefix.len() <= 32
        && prefix.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.' | ':' | '@')
        });
    if fine {
        Ok(())
    } else {
        Err(MethodNameError::Prefix(prefix.to_owned()))
    }
}

/// The hub-wide authenticator of a hub with several login methods: the rules of
/// `[Authenticator]` for what belongs to no method (names typed into the REST API and the
/// admin page, API tokens, `allow_existing_users`), with every method's `blocked_users`
/// added so that a user blocked by any method is blocked everywhere (fail closed).
///
/// It logs nobody in itself: the hub sends each login to its method.
pub struct HubWide {
    rules: Rules,
    methods: Vec<LoginMethod>,
}

impl std::fmt::Debug for HubWide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubWide")
            .field("methods", &self.methods)
            .finish_non_exhaustive()
    }
}

impl HubWide {
    /// The hub-wide rules for `methods`, from `[Authenticator]`'s options.
    pub fn new(mut config: crate::options::AuthenticatorConfig, methods: Vec<LoginMethod>) -> Self {
        for method in &methods {
            let blocked = &method.authenticator.rules().config().blocked_users;
            config.blocked_users.extend(blocked.iter().cloned());
        }
        HubWide {
            rules: Rules::new(config),
            methods,
        }
    }

    /// The methods, in the order the login page shows them.
    pub fn methods(&self) -> &[LoginMethod] {
        &self.methods
    }
}

#[async_trait]
impl Authenticator for HubWide {
    fn class_name(&self) -> &'static str {
        "Authenticator"
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
        _data: &LoginData,
    ) -> Result<Option<AuthModel>, AuthError> {
        Ok(None)
    }

    async fn check_blocked_users(&self, name: &str, _model: &AuthModel) -> Result<bool, AuthError> {
        Ok(self.rules.check_blocked_users(name))
    }

    /// A user whose method is not known (created through the REST API, or stored before
    /// the hub had several methods): `allow_existing_users` counts for every method, and
    /// the method that first logs the user in owns the account.
    async fn add_user(&self, name: &str) -> Result<(), AuthError> {
        if !self.rules.add_user(name) {
            return Err(AuthError::Internal(format!("Invalid username: {name}")));
        }
        for method in &self.methods {
            method.authenticator.rules().add_user(name);
        }
        Ok(())
    }

    async fn delete_user(&self, name: &str) -> Result<(), AuthError> {
        self.rules.delete_user(name);
        for method in &self.methods {
            method.authenticator.rules().delete_user(name);
        }
        Ok(())
    }

    fn login_methods(&self) -> Option<&[LoginMethod]> {
        Some(&self.methods)
    }

    fn supports_manage_groups(&self) -> bool {
        self.methods
            .iter()
            .any(|method| method.authenticator.supports_manage_groups())
    }

    fn supports_manage_roles(&self) -> bool {
        self.methods
            .iter()
            .any(|method| method.authenticator.supports_manage_roles())
    }

    fn startup_warnings(&self) -> Vec<String> {
        // Whether anyone may log in is each method's question (their warnings follow):
        // [Authenticator]'s allow rules alone say nothing on a hub with several methods.
        let mut warnings: Vec<String> = self
            .rules
            .allowed_users_warning("Authenticator")
            .into_iter()
            .collect();
        for method in &self.methods {
            for warning in method.authenticator.startup_warnings() {
                warnings.push(format!("login method {:?}: {warning}", method.name));
            }
        }
        warnings
    }
}
