//! `LDAPAuthenticator`: a form login checked by a bind to the directory, with upstream's
//! lookup, `search_filter` and `allowed_groups` steps, and a refresh that re-reads the
//! account with the service account.

use std::sync::Arc;

use async_trait::async_trait;
use hubauth_config::{ClassView, ConfigError};
use hubauth_core::{
    AuthError, AuthModel, Authenticator, AuthenticatorConfig, LoginData, LoginKind, RefreshOutcome,
    RequestContext, Rules,
};
use ldap3::{Ldap, Scope, dn_escape, ldap_escape};
use serde_json::{Map, Value, json};

use crate::directory::{Bind, Directory, DirectoryError, Entry};
use crate::options::LdapConfig;

/// The warning upstream's base class logs when no allow rule is set; `allowed_groups` is
/// an allow rule here, so the warning is dropped when it is set.
const NO_ALLOW_CONFIG: &str = "No allow config found";

/// Login against an LDAP directory (jupyterhub-ldapauthenticator's `LDAPAuthenticator`).
#[derive(Debug)]
pub struct LdapAuthenticator {
    rules: Rules,
    config: Arc<LdapConfig>,
    directory: Directory,
}

/// Where the user's DN comes from for the bind.
enum DnSource<'a> {
    /// `bind_dn_template`, filled with the escaped username.
    Templates(&'a [crate::template::Template]),
    /// The DN `lookup_dn` found, as the directory spelled it.
    Found(String),
}

impl LdapAuthenticator {
    /// Builds it from base options and the validated LDAP options.
    pub fn new(
        base: AuthenticatorConfig,
        config: LdapConfig,
    ) -> Result<Self, crate::tls::TlsError> {
        let directory = Directory::new(&config)?;
        Ok(LdapAuthenticator {
            rules: Rules::new(base),
            config: Arc::new(config),
            directory,
        })
    }

    /// Reads `[LDAPAuthenticator]` (and inherited `[Authenticator]`) options.
    pub fn from_view(view: &ClassView<'_>) -> Result<Self, ConfigError> {
        let base = AuthenticatorConfig::from_view(view)?;
        let config = LdapConfig::from_view(view)?;
        LdapAuthenticator::new(base, config).map_err(|err| view.invalid("tls_kwargs", err))
    }

    /// The validated LDAP options.
    pub fn config(&self) -> &LdapConfig {
        &self.config
    }

    /// Upstream's `resolve_username`: the user's entry found with the service account;
    /// `None` unless exactly one entry with exactly one `lookup_dn_user_dn_attribute`
    /// value matches.
    async fn resolve_username(
        &self,
        login: &str,
    ) -> Result<Option<(String, String)>, DirectoryError> {
        let config = &self.config;
        let filter = config.lookup_dn_search_filter.render(&[
            ("login_attr", config.user_attribute.as_str()),
            ("login", &ldap_escape(login)),
        ]);
        let mut ldap = self.service().await?;
        let entries = self
            .search(
                &mut ldap,
                &config.user_search_base,
                Scope::Subtree,
                &filter,
                std::slice::from_ref(&config.lookup_dn_user_dn_attribute),
            )
            .await?;
        let entry = match entries.as_slice() {
            [] => {
                tracing::warn!("No response looking up '{}'", login.escape_debug());
                return Ok(None);
            }
            [entry] => entry,
            more => {
                tracing::error!(
                    "Looking up '{}' gave multiple entries, expected 0 or 1 search response entries but received {}. Is lookup_dn_search_filter and user_attribute configured to get a unique match?",
                    login.escape_debug(),
                    more.len()
                );
                return Ok(None);
            }
        };
        let attribute = &config.lookup_dn_user_dn_attribute;
        match entry.values(attribute).map(Vec::as_slice) {
            Some([value]) => Ok(Some((value.clone(), entry.dn.clone()))),
            None | Some([]) => {
                tracing::error!(
                    "No attribute '{attribute}' found. Is lookup_dn_user_dn_attribute configured correctly?"
                );
                Ok(None)
            }
            Some(values) => {
                tracing::error!(
                    "Attribute '{attribute}' had multiple values, expected one attribute value but it had {}. Is lookup_dn_user_dn_attribute configured correctly?",
                    values.len()
                );
                Ok(None)
            }
        }
    }

    /// The whole check of one login; `Ok(None)` for every refusal.
    async fn attempt(
        &self,
        login: &str,
        password: &str,
    ) -> Result<Option<AuthModel>, DirectoryError> {
        let config = &self.config;
        if !config.valid_username.is_match(login) {
            tracing::warn!(
                "username:{} Illegal characters in username, must match regex {}",
                login.escape_debug(),
                config.valid_username.as_str()
            );
            return Ok(None);
        }
        if password.trim().is_empty() {
            tracing::warn!(
                "username:{} Login denied for blank password",
                login.escape_debug()
            );
            return Ok(None);
        }
        let mut resolved = login.to_owned();
        let mut source = DnSource::Templates(&config.bind_dn_templates);
        if config.lookup_dn {
            let Some((name, dn)) = self.resolve_username(login).await? else {
                tracing::warn!(
                    "username:{} Login denied for failed lookup",
                    login.escape_debug()
                );
                return Ok(None);
            };
            resolved = name;
            if config.bind_dn_templates.is_empty() {
                source = DnSource::Found(dn);
            }
        }
        let candidates: Vec<String> = match source {
            DnSource::Templates(templates) => templates
                .iter()
                .map(|template| template.render(&[("username", &dn_escape(resolved.as_str()))]))
                .collect(),
            DnSource::Found(dn) => vec![dn],
        };
        let mut bound = None;
        for dn in candidates {
            let mut ldap = self.directory.connect().await?;
            match self.directory.bind(&mut ldap, &dn, password).await? {
                Bind::Accepted => {
                    bound = Some((ldap, dn));
                    break;
                }
                Bind::InvalidCredentials => {
                    tracing::debug!("Failed to bind {}", dn.escape_debug());
                    let _ = ldap.unbind().await;
                }
            }
        }
        let Some((mut ldap, userdn)) = bound else {
            if login == resolved {
                tracing::warn!(
                    "Failed to bind user '{}' to an LDAP user.",
                    login.escape_debug()
                );
            } else {
                tracing::warn!(
                    "Failed to bind login username '{}', with looked up user attribute value '{}', to an LDAP user.",
                    login.escape_debug(),
                    resolved.escape_debug()
                );
            }
            return Ok(None);
        };
        let checked = self
            .account_checks(&mut ldap, &userdn, &resolved, login)
            .await;
        let _ = ldap.unbind().await;
        let Some(auth_state) = checked? else {
            return Ok(None);
        };
        let name = if config.use_lookup_dn_username {
            resolved
        } else {
            login.to_owned()
        };
        let mut model = AuthModel::named(name);
        model.auth_state = Some(auth_state);
        Ok(Some(model))
    }

    /// `search_filter`, group membership and `auth_state_attributes` for a bound (or
    /// service) connection; `None` when `search_filter` does not match exactly one entry.
    async fn account_checks(
        &self,
        ldap: &mut Ldap,
        userdn: &str,
        resolved: &str,
        login: &str,
    ) -> Result<Option<Value>, DirectoryError> {
        let config = &self.config;
        if let Some(search_filter) = &config.search_filter {
            let filter = search_filter.render(&[
                ("userattr", config.user_attribute.as_str()),
                ("username", &ldap_escape(resolved)),
            ]);
            let found = self
                .search(
                    ldap,
                    &config.user_search_base,
                    Scope::Subtree,
                    &filter,
                    &config.attributes,
                )
                .await?;
            if found.len() != 1 {
                tracing::warn!(
                    "Login of '{}' denied. Configured search_filter found {} users associated with userattr='{}' and username='{}', and a unique match is required.",
                    login.escape_debug(),
                    found.len(),
                    config.user_attribute,
                    resolved.escape_debug()
                );
                return Ok(None);
            }
        }
        let mut groups = Vec::new();
        if !config.allowed_groups.is_empty() {
            let filter = config.group_search_filter.render(&[
                ("userdn", &ldap_escape(userdn)),
                ("uid", &ldap_escape(resolved)),
            ]);
            for group in &config.allowed_groups {
                let found = self
                    .search(ldap, group, Scope::Base, &filter, &config.group_attributes)
                    .await?;
                if !found.is_empty() {
                    groups.push(group.clone());
                }
            }
        }
        let mut attributes = Map::new();
        if !config.auth_state_attributes.is_empty() {
            let found = self
                .search(
                    ldap,
                    userdn,
                    Scope::Base,
                    "(objectClass=*)",
                    &config.auth_state_attributes,
                )
                .await?;
            match found.as_slice() {
                [entry] => {
                    for (name, values) in &entry.attributes {
                        attributes.insert(name.clone(), json!(values));
                    }
                }
                other => tracing::error!(
                    "Expected 1 but got {} search response entries for DN '{}' when looking up attributes configured via auth_state_attributes. The user's auth state will not include any attributes.",
                    other.len(),
                    userdn.escape_debug()
                ),
            }
        }
        Ok(Some(
            json!({ "ldap_groups": groups, "user_attributes": attributes }),
        ))
    }

    /// The DN of hub user `name` as the service account sees it, if the entry exists.
    async fn find_account(
        &self,
        ldap: &mut Ldap,
        name: &str,
    ) -> Result<Option<(String, String)>, DirectoryError> {
        let config = &self.config;
        if config.lookup_dn {
            let attribute = if config.use_lookup_dn_username {
                &config.lookup_dn_user_dn_attribute
            } else {
                &config.user_attribute
            };
            let filter = config.lookup_dn_search_filter.render(&[
                ("login_attr", attribute.as_str()),
                ("login", &ldap_escape(name)),
            ]);
            let found = self
                .search(
                    ldap,
                    &config.user_search_base,
                    Scope::Subtree,
                    &filter,
                    std::slice::from_ref(&config.lookup_dn_user_dn_attribute),
                )
                .await?;
            return Ok(match found.as_slice() {
                [entry] => entry
                    .values(&config.lookup_dn_user_dn_attribute)
                    .and_then(|values| values.first())
                    .map(|resolved| (entry.dn.clone(), resolved.clone())),
                _ => None,
            });
        }
        for template in &config.bind_dn_templates {
            let dn = template.render(&[("username", &dn_escape(name))]);
            if !self
                .search(ldap, &dn, Scope::Base, "(objectClass=*)", &[])
                .await?
                .is_empty()
            {
                return Ok(Some((dn, name.to_owned())));
            }
        }
        Ok(None)
    }

    async fn service(&self) -> Result<Ldap, DirectoryError> {
        self.directory.service().await
    }

    async fn search(
        &self,
        ldap: &mut Ldap,
        base: &str,
        scope: Scope,
        filter: &str,
        attributes: &[String],
    ) -> Result<Vec<Entry>, DirectoryError> {
        self.directory
            .search(ldap, base, scope, filter, attributes)
            .await
    }

    async fn refresh(&self, name: &str) -> Result<RefreshOutcome, DirectoryError> {
        let mut ldap = self.service().await?;
        let Some((dn, resolved)) = self.find_account(&mut ldap, name).await? else {
            tracing::warn!(
                "LDAP account of {} no longer found: the user must log in again",
                name.escape_debug()
            );
            return Ok(RefreshOutcome::Expired);
        };
        let Some(auth_state) = self.account_checks(&mut ldap, &dn, &resolved, name).await? else {
            return Ok(RefreshOutcome::Expired);
        };
        let mut model = AuthModel::named(name);
        model.auth_state = Some(auth_state);
        Ok(RefreshOutcome::Updated(Box::new(model)))
    }
}

fn upstream(err: DirectoryError) -> AuthError {
    AuthError::Upstream {
        step: "the LDAP directory".to_owned(),
        detail: err.to_string(),
    }
}

#[async_trait]
impl Authenticator for LdapAuthenticator {
    fn class_name(&self) -> &'static str {
        "LDAPAuthenticator"
    }

    fn rules(&self) -> &Rules {
        &self.rules
    }

    fn kind(&self) -> LoginKind {
        LoginKind::Form {
            request_otp: false,
            otp_prompt: String::new(),
        }
    }

    async fn authenticate(
        &self,
        _ctx: &RequestContext,
        data: &LoginData,
    ) -> Result<Option<AuthModel>, AuthError> {
        // The floor counts from the start of the attempt, so that every refusal (unknown
        // user, wrong password, outside the groups) takes the same time.
        #[allow(clippy::disallowed_methods)] // a wall-clock floor on refusals, not a decision
        let started = tokio::time::Instant::now();
        let outcome = self.attempt(data.username(), data.password()).await;
        match outcome {
            Ok(Some(model)) => Ok(Some(model)),
            Ok(None) => {
                tokio::time::sleep_until(started + self.config.failure_delay).await;
                Ok(None)
            }
            Err(err) => {
                tracing::error!(
                    "LDAP login of '{}' failed: {err}",
                    data.username().escape_debug()
                );
                self.directory.reset_pool().await;
                Err(upstream(err))
            }
        }
    }

    async fn check_allowed(&self, name: &str, model: &AuthModel) -> Result<bool, AuthError> {
        if self.rules.check_allowed(name, Some(model)) {
            return Ok(true);
        }
        if !self.config.allowed_groups.is_empty() {
            let member_of: Vec<&str> = model
                .auth_state
                .as_ref()
                .and_then(|state| state.get("ldap_groups"))
                .and_then(Value::as_array)
                .map(|groups| groups.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(group) = self
                .config
                .allowed_groups
                .iter()
                .find(|group| member_of.contains(&group.as_str()))
            {
                tracing::debug!("Allowing {name} as member of group {group}");
                return Ok(true);
            }
        }
        if let Some(filter) = &self.config.search_filter {
            tracing::info!(
                "User {name} matches search_filter {filter}, but not allowed by allowed_users, allowed_groups, or allow_all."
            );
        }
        Ok(false)
    }

    async fn refresh_user(
        &self,
        _ctx: &RequestContext,
        name: &str,
        _auth_state: Option<&Value>,
    ) -> Result<RefreshOutcome, AuthError> {
        match self.refresh(name).await {
            Ok(outcome) => Ok(outcome),
            Err(err) => {
                self.directory.reset_pool().await;
                Err(upstream(err))
            }
        }
    }

    fn startup_warnings(&self) -> Vec<String> {
        let mut warnings = self.rules.startup_warnings(self.class_name());
        if !self.config.allowed_groups.is_empty() {
            warnings.retain(|warning| !warning.starts_with(NO_ALLOW_CONFIG));
        }
        warnings.extend(self.config.warnings.iter().cloned());
        warnings
    }
}
