//! `CILogonOAuthenticator`: the CILogon provider plugged into the OAuth base.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use hubauth_config::{ClassView, ConfigError};
use hubauth_core::{AuthError, AuthModel, Authenticator};
use hubauth_oauth::core::set_param;
use hubauth_oauth::identity::{check_email_verified, email_source};
use hubauth_oauth::{ClaimRule, OAuthConfig, OAuthCore, OAuthenticator, Provider, TokenResponse};
use serde_json::Value;

use crate::error::LoginError;
use crate::idplist::{self, IdpListReport};
use crate::idps::IdpRule;
use crate::options::{CilogonConfig, CilogonOAuthenticatorOptions, DerivedUrls, required_scopes};

/// The auth_state key of CILogon's user info (upstream's `user_auth_state_key`).
pub const USER_KEY: &str = "cilogon_user";

/// The CILogon provider: upstream's `CILogonOAuthenticator` steps.
#[derive(Debug, Clone)]
pub struct Cilogon {
    config: CilogonConfig,
    idp_list: Arc<IdpListCheck>,
}

/// The background check of `idps` against CILogon's IdP list: started once.
#[derive(Debug, Default)]
struct IdpListCheck {
    started: AtomicBool,
    report: OnceLock<IdpListReport>,
}

/// `CILogonOAuthenticator`.
pub type CilogonOAuthenticator = OAuthenticator<Cilogon>;

/// `LocalCILogonOAuthenticator`.
pub type LocalCilogonOAuthenticator = hubauth_local::Local<CilogonOAuthenticator>;

impl Cilogon {
    /// A provider with these options.
    pub fn new(config: CilogonConfig) -> Self {
        Cilogon {
            config,
            idp_list: Arc::new(IdpListCheck::default()),
        }
    }

    /// The CILogon options.
    pub fn config(&self) -> &CilogonConfig {
        &self.config
    }

    /// What the check of `idps` against CILogon's IdP list found, once it has run (it
    /// starts with the first login; `None` before it finished, or when it is off).
    pub fn idp_list_report(&self) -> Option<IdpListReport> {
        self.idp_list.report.get().cloned()
    }

    /// Starts the IdP list check in the background, the first time only.
    fn start_idp_list_check(&self, core: &OAuthCore) {
        if self.config.idplist_url.is_empty() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.idp_list.started.swap(true, Ordering::SeqCst) {
            return;
        }
        let client = core.http().clone();
        let url = self.config.idplist_url.clone();
        let skin = self.config.skin.clone();
        let configured: Vec<String> = self
            .config
            .idps
            .iter()
            .map(|rule| rule.entity_id.clone())
            .collect();
        let state = Arc::clone(&self.idp_list);
        runtime.spawn(async move {
            let report = idplist::check(&client, &url, &skin, &configured).await;
            let _ = state.report.set(report);
        });
    }

    /// The `idps` entry of the identity provider the user info names.
    ///
    /// # Errors
    /// [`LoginError::NoIdp`], [`LoginError::IdpNotText`] or
    /// [`LoginError::IdpNotConfigured`].
    pub fn rule_for(&self, user_info: &Value) -> Result<&IdpRule, LoginError> {
        let idp = match user_info.get("idp") {
            None | Some(Value::Null) => return Err(LoginError::NoIdp),
            Some(Value::String(idp)) => idp,
            Some(_) => return Err(LoginError::IdpNotText),
        };
        self.config.idps.get(idp).ok_or_else(|| {
            tracing::warn!(idp = %idp, "Login with identity provider {idp} is not pre-configured");
            LoginError::IdpNotConfigured { idp: idp.clone() }
        })
    }

    /// F27: a username or an allow rule taken from an email claim needs the email to be
    /// verified (CILogon sends no `email_verified`, so in practice: unless
    /// `allow_unverified_email`).
    fn check_email_claim(
        core: &OAuthCore,
        claim: &str,
        user_info: &Value,
        id_claims: Option<&Value>,
    ) -> Result<(), AuthError> {
        let Some(source) = email_source(&ClaimRule::path(claim)) else {
            return Ok(());
        };
        match check_email_verified(user_info, id_claims, &source, false) {
            Ok(()) => Ok(()),
            Err(_) if core.config.allow_unverified_email => {
                tracing::warn!(
                    claim,
                    "a username or allow rule comes from an email CILogon did not mark as verified; accepted because allow_unverified_email is set"
                );
                Ok(())
            }
            Err(err) => {
                tracing::warn!(
                    claim,
                    "{err}: CILogon sends no email_verified; set allow_unverified_email = true to accept the emails the identity providers report"
                );
                Err(err.into())
            }
        }
    }

    /// Claims that come with a scope the configuration does not request.
    fn missing_scope(claim: &str, scope: &[String]) -> Option<&'static str> {
        let needs = match claim {
            "email" => "email",
            "given_name" | "family_name" | "name" => "profile",
            _ => return None,
        };
        (!scope.iter().any(|s| s == needs)).then_some(needs)
    }
}

/// The CILogon user info stored in a model's auth_state at login.
fn stored_user_info(model: &AuthModel) -> Result<&Value, LoginError> {
    model
        .auth_state
        .as_ref()
        .and_then(|state| state.get(USER_KEY))
        .filter(|info| info.is_object())
        .ok_or(LoginError::NoStoredUserInfo)
}

/// A refresh must be about the user and identity provider of the login it refreshes.
fn same_identity(previous: &Value, refreshed: &Value) -> Result<(), LoginError> {
    let before = previous
        .get(USER_KEY)
        .filter(|info| info.is_object())
        .ok_or(LoginError::NoStoredUserInfo)?;
    for claim in ["sub", "idp"] {
        let now = refreshed.get(claim).and_then(Value::as_str);
        if now.is_none() || before.get(claim).and_then(Value::as_str) != now {
            tracing::warn!(
                claim,
                "a CILogon refresh answered for another identity than the login; login required"
            );
            return Err(LoginError::ChangedIdentity(claim));
        }
    }
    Ok(())
}

/// Builds a `CILogonOAuthenticator` from its class view.
pub fn cilogon_from_view(view: &ClassView<'_>) -> Result<CilogonOAuthenticator, ConfigError> {
    let class = view.class_name().to_owned();
    // Upstream (17.x) declares username_claim removed: setting it anywhere the class
    // reads it from is an error naming idps.
    if view.is_set("username_claim") {
        return Err(view.invalid(
            "username_claim",
            format!("{class}.username_claim is deprecated in CILogonOAuthenticator 16.0.0, use {class}.idps instead (set username_derivation.username_claim for each identity provider)"),
        ));
    }
    let options = CilogonOAuthenticatorOptions::load(view)?;
    let cilogon = CilogonConfig::from_view(view)?;
    let mut oauth = OAuthConfig::from_view(view)?;
    let urls = DerivedUrls::of(&cilogon.cilogon_host);
    if options.authorize_url.is_none() {
        oauth.authorize_url = urls.authorize_url;
    }
    if options.token_url.is_none() {
        oauth.token_url = urls.token_url;
    }
    if options.userdata_url.is_none() && !oauth.userdata_from_id_token {
        oauth.userdata_url = urls.userdata_url;
    }
    if options.oidc_issuer.is_none() {
        oauth.oidc_issuer = urls.issuer;
    }
    oauth.scope = required_scopes(oauth.scope);
    // The username comes from each IdP's username_derivation, never from a base claim.
    oauth.username_claim = ClaimRule::path("");
    // Per-IdP allow rules are allow config (as upstream's allowed_idps, an "allow..."
    // option, was before 17.4): no "No allow config found" warning for them.
    if oauth.base.any_allow_config.is_none() && cilogon.idps.any_allow_rule() {
        oauth.base.any_allow_config = Some(true);
    }
    oauth.check_endpoints(view)?;
    let core = OAuthCore::new(oauth).map_err(|err| view.invalid("http_request_kwargs", err))?;
    Ok(OAuthenticator::new(core, Cilogon::new(cilogon)))
}

/// Builds `LocalCILogonOAuthenticator` (CILogon users who are also local UNIX users).
pub fn local_cilogon_from_view(
    view: &ClassView<'_>,
) -> Result<Arc<dyn Authenticator>, ConfigError> {
    Ok(Arc::new(hubauth_local::Local::from_view(
        view,
        cilogon_from_view,
    )?))
}

#[async_trait]
impl Provider for Cilogon {
    fn class_name(&self) -> &'static str {
        "CILogonOAuthenticator"
    }

    fn user_auth_state_key(&self) -> &'static str {
        USER_KEY
    }

    /// `selected_idp` (every configured EntityID, the default first) and `skin` when set,
    /// over `extra_authorize_params` as upstream's login handler does. The first login
    /// also starts the IdP list check.
    fn authorize_params(&self, core: &OAuthCore, params: &mut Vec<(String, String)>) {
        set_param(params, "selected_idp", self.config.idps.selected_idp());
        if !self.config.skin.is_empty() {
            set_param(params, "skin", self.config.skin.clone());
        }
        self.start_idp_list_check(core);
    }

    /// Usernames or domain rules taken from `email` (CILogon sends no `email_verified`,
    /// so they need `allow_unverified_email`), and claims whose scope is not requested.
    fn startup_warnings(&self, core: &OAuthCore) -> Vec<String> {
        let class = self.class_name();
        let mut warnings = Vec::new();
        for rule in self.config.idps.iter() {
            let mut claims = vec![(
                "username_derivation.username_claim",
                rule.username_derivation.username_claim.as_str(),
            )];
            if !rule.allow_all && !rule.allowed_domains.is_empty() {
                claims.push(("allowed_domains_claim", rule.domain_claim()));
            }
            for (what, claim) in claims {
                if !core.config.allow_unverified_email
                    && email_source(&ClaimRule::path(claim)).is_some()
                {
                    warnings.push(format!(
                        "{class}.idps[{id:?}] takes {what} from the {claim} claim, which CILogon does not mark as verified (it sends no email_verified), so logins through this identity provider will be refused with \"Login with unverified email ... is not allowed\". Set {class}.allow_unverified_email = true to accept the emails the identity providers report, or use a claim such as eppn or oidc.",
                        id = rule.entity_id
                    ));
                }
                if let Some(scope) = Self::missing_scope(claim, &core.config.scope) {
                    warnings.push(format!(
                        "{class}.idps[{id:?}] uses the {claim} claim, which CILogon releases only with the {scope} scope, and {class}.scope does not request it",
                        id = rule.entity_id
                    ));
                }
            }
        }
        warnings
    }

    /// CILogon's user info (or the verified ID token's claims with
    /// `userdata_from_id_token`), refused when the username would come from an
    /// unverified email (F27).
    async fn token_to_user(
        &self,
        core: &OAuthCore,
        token: &TokenResponse,
        id_claims: Option<&Value>,
    ) -> Result<Value, AuthError> {
        let user_info = core.default_token_to_user(token, id_claims).await?;
        if let Ok(rule) = self.rule_for(&user_info) {
            Self::check_email_claim(
                core,
                &rule.username_derivation.username_claim,
                &user_info,
                id_claims,
            )?;
        }
        Ok(user_info)
    }

    /// As at login, and the answer must be about the same user (`sub`) through the same
    /// identity provider (`idp`) as the login being refreshed.
    async fn refreshed_token_to_user(
        &self,
        core: &OAuthCore,
        token: &TokenResponse,
        id_claims: Option<&Value>,
        previous: &Value,
    ) -> Result<Value, AuthError> {
        let user_info = self.token_to_user(core, token, id_claims).await?;
        same_identity(previous, &user_info)?;
        Ok(user_info)
    }

    /// The username as the user's IdP entry derives it; an IdP `idps` does not list is
    /// refused (403), as is user info without `idp`.
    fn user_info_to_username(
        &self,
        _core: &OAuthCore,
        user_info: &Value,
    ) -> Result<String, AuthError> {
        let rule = self.rule_for(user_info)?;
        Ok(rule.username(user_info)?)
    }

    /// The identity provider must (still) be in `idps`: checked in the block stage too, so
    /// that a refresh after the IdP was removed from the configuration ends the session.
    async fn check_blocked(
        &self,
        _core: &OAuthCore,
        _name: &str,
        model: &AuthModel,
    ) -> Result<bool, AuthError> {
        let user_info = stored_user_info(model)?;
        self.rule_for(user_info)?;
        Ok(true)
    }

    /// The IdP's own allow rules: `allow_all`, then `allowed_domains`.
    async fn check_allowed(
        &self,
        core: &OAuthCore,
        name: &str,
        model: &AuthModel,
    ) -> Result<bool, AuthError> {
        let user_info = stored_user_info(model)?;
        let rule = self.rule_for(user_info)?;
        if rule.allow_all {
            tracing::info!(user = %name, idp = %rule.entity_id, "allowed: allow_all is set for the identity provider");
            return Ok(true);
        }
        if rule.allowed_domains.is_empty() {
            return Ok(false);
        }
        Self::check_email_claim(core, rule.domain_claim(), user_info, None)?;
        let domain = rule.user_domain(user_info)?;
        match rule.matching_domain(&domain) {
            Some(pattern) => {
                tracing::info!(user = %name, idp = %rule.entity_id, domain, pattern, "allowed by the identity provider's allowed_domains");
                Ok(true)
            }
            None => {
                tracing::info!(user = %name, idp = %rule.entity_id, domain, "domain not in the identity provider's allowed_domains");
                Ok(false)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_refresh_for_another_subject_or_idp_is_refused() {
        let previous = json!({USER_KEY: {"sub": "u1", "idp": "https://a"}});
        assert!(same_identity(&previous, &json!({"sub": "u1", "idp": "https://a"})).is_ok());
        assert_eq!(
            same_identity(&previous, &json!({"sub": "u2", "idp": "https://a"})),
            Err(LoginError::ChangedIdentity("sub"))
        );
        assert_eq!(
            same_identity(&previous, &json!({"sub": "u1", "idp": "https://b"})),
            Err(LoginError::ChangedIdentity("idp"))
        );
        assert_eq!(
            same_identity(&previous, &json!({"idp": "https://a"})),
            Err(LoginError::ChangedIdentity("sub"))
        );
        assert_eq!(
            same_identity(&json!({}), &json!({"sub": "u1", "idp": "https://a"})),
            Err(LoginError::NoStoredUserInfo)
        );
    }
}
