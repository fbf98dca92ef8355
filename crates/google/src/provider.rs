//! `GoogleOAuthenticator`: the Google provider plugged into the OAuth base.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use hubauth_config::{ClassView, ConfigError};
use hubauth_core::{AuthError, AuthModel};
use hubauth_oauth::core::id_token_refusal;
use hubauth_oauth::id_token::Expectations;
use hubauth_oauth::{ClaimRule, OAuthConfig, OAuthCore, OAuthenticator, Provider, TokenResponse};
use serde_json::{Value, json};

use crate::clock::{Clock, SystemClock};
use crate::directory;
use crate::error::{DirectoryError, GoogleError};
use crate::options::{GOOGLE_ISSUERS, GoogleConfig};
use crate::service_account::TokenCache;

/// The scopes that give Google's user info the email address (short and long name).
const EMAIL_SCOPES: [&str; 2] = ["email", "https://www.googleapis.com/auth/userinfo.email"];

/// Google's behaviour (upstream's `GoogleOAuthenticator`), with the ID token verified.
#[derive(Debug)]
pub struct Google {
    config: GoogleConfig,
    warnings: Vec<String>,
    tokens: TokenCache,
    clock: Arc<dyn Clock>,
}

/// `GoogleOAuthenticator`.
pub type GoogleOAuthenticator = OAuthenticator<Google>;

impl Google {
    /// The provider for validated options; `warnings` are reported at start-up; `clock`
    /// dates the service account's assertions and its token cache.
    pub fn new(config: GoogleConfig, warnings: Vec<String>, clock: Arc<dyn Clock>) -> Self {
        Google {
            config,
            warnings,
            tokens: TokenCache::default(),
            clock,
        }
    }

    /// The Google options.
    pub fn config(&self) -> &GoogleConfig {
        &self.config
    }

    /// Whether the groups of users of `domain` are read at login: a Google group rule or
    /// `manage_groups` wants them (upstream: a group rule), and the domain has a service
    /// account to read them with. Without one (a domain no group rule names) the user is
    /// in no group, where upstream failed the login.
    fn reads_groups(&self, core: &OAuthCore, domain: &str) -> bool {
        (self.config.has_group_rules() || core.config.base.manage_groups)
            && self.config.domains.contains_key(domain)
    }

    /// The addresses of the user's groups, through the domain's service account. A token
    /// the Directory API no longer accepts is replaced once.
    async fn fetch_groups(
        &self,
        core: &OAuthCore,
        domain: &str,
        email: &str,
    ) -> Result<BTreeSet<String>, GoogleError> {
        let Some(access) = self.config.domains.get(domain) else {
            return Ok(BTreeSet::new());
        };
        let url = self.config.directory_groups_url();
        let mut retried = false;
        loop {
            let token = self
                .tokens
                .token(
                    core.http(),
                    domain,
                    &access.key_file,
                    &access.administrator,
                    self.clock.now(),
                )
                .await?;
            let listed = directory::member_groups(
                core.http(),
                &url,
                token.expose(),
                email,
                self.config.include_nested_groups,
            )
            .await;
            match listed {
                Err(DirectoryError::Refused { status: 401, .. }) if !retried => {
                    retried = true;
                    self.tokens.forget(domain).await;
                }
                other => return other.map_err(GoogleError::from),
            }
        }
    }

    /// Verifies an ID token against Google's keys: signature, audience, expiry, nonce and
    /// `at_hash` (the base checks), then one of Google's two issuer spellings.
    async fn verify(
        &self,
        core: &OAuthCore,
        id_token: &str,
        access_token: &str,
        nonce: Option<&str>,
        now: i64,
    ) -> Result<Value, AuthError> {
        let resolved = core.endpoints().await?;
        let keys = resolved.keys.as_ref().ok_or_else(|| {
            AuthError::Internal("GoogleOAuthenticator has no signing keys (jwks_url)".to_owned())
        })?;
        let expect = Expectations {
            issuer: None,
            client_id: &core.config.client_id,
            trusted_audiences: &core.config.trusted_audiences,
            access_token: Some(access_token),
            nonce,
            now,
        };
        let claims = keys.verify(id_token, &expect).await.map_err(|err| {
            tracing::warn!(error = %err, "Google ID token refused");
            id_token_refusal(err)
        })?;
        let iss = claims
            .get("iss")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !GOOGLE_ISSUERS.contains(&iss) {
            tracing::warn!(iss, "Google ID token refused: not Google's issuer");
            return Err(GoogleError::WrongIssuer(iss.to_owned()).into());
        }
        Ok(claims)
    }
}

/// The account a user info or ID token is about: `sub` (OpenID Connect), or `id` (the v1
/// user info endpoint).
fn subject_of(info: &Value) -> Option<&str> {
    ["sub", "id"]
        .iter()
        .find_map(|key| info.get(*key).and_then(Value::as_str))
        .filter(|subject| !subject.is_empty())
}

/// Whether Google marked the email as verified: `verified_email` (v1 user info) or
/// `email_verified` (OpenID Connect), JSON `true` only.
fn email_verified(info: &Value) -> bool {
    match info.get("verified_email") {
        Some(flag) => flag == &Value::Bool(true),
        None => info.get("email_verified") == Some(&Value::Bool(true)),
    }
}

/// Ties the user info to the verified ID token: the same account, and the same `hd` and
/// email (the values the rules decide on). F28.
fn bind_to_id_token(user: &Value, claims: &Value) -> Result<(), GoogleError> {
    let subject = subject_of(user).ok_or(GoogleError::NoSubject)?;
    if Some(subject) != claims.get("sub").and_then(Value::as_str) {
        return Err(GoogleError::SubjectMismatch);
    }
    if user.get("hd") != claims.get("hd") {
        return Err(GoogleError::ClaimMismatch("hd"));
    }
    if let Some(email) = claims.get("email")
        && user.get("email") != Some(email)
    {
        return Err(GoogleError::ClaimMismatch("email"));
    }
    if let Some(flag) = claims.get("email_verified")
        && flag != &Value::Bool(true)
        && email_verified(user)
    {
        return Err(GoogleError::ClaimMismatch("email_verified"));
    }
    Ok(())
}

/// The email's domain, lowercased: an address must be exactly `name@domain`.
fn email_domain(email: &str) -> Result<String, GoogleError> {
    match email.split_once('@') {
        Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@') =>
        {
            Ok(domain.to_ascii_lowercase())
        }
        _ => Err(GoogleError::MalformedEmail),
    }
}

fn google_user(model: &AuthModel) -> Option<&Value> {
    model
        .auth_state
        .as_ref()
        .and_then(|state| state.get("google_user"))
        .filter(|user| user.is_object())
}

fn text<'a>(user: &'a Value, key: &str) -> &'a str {
    user.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn refuse(err: GoogleError) -> AuthError {
    tracing::warn!(error = %err, "Google login refused");
    err.into()
}

#[async_trait]
impl Provider for Google {
    fn class_name(&self) -> &'static str {
        "GoogleOAuthenticator"
    }

    fn user_auth_state_key(&self) -> &'static str {
        "google_user"
    }

    async fn id_token_claims(
        &self,
        core: &OAuthCore,
        token: &TokenResponse,
        nonce: Option<&str>,
        now: i64,
    ) -> Result<Option<Value>, AuthError> {
        let Some(id_token) = token.id_token.as_deref() else {
            // A login must come with one; Google's refresh answers may not.
            return match nonce {
                Some(_) => Err(refuse(GoogleError::NoIdToken)),
                None => Ok(None),
            };
        };
        self.verify(core, id_token, &token.access_token, nonce, now)
            .await
            .map(Some)
    }

    /// The user info endpoint (or the verified ID token with `userdata_from_id_token`),
    /// tied to the verified ID token, with `domain` (the email's, lowercased) added as
    /// upstream records it.
    async fn token_to_user(
        &self,
        core: &OAuthCore,
        token: &TokenResponse,
        id_claims: Option<&Value>,
    ) -> Result<Value, AuthError> {
        let mut user = if core.config.userdata_from_id_token {
            id_claims
                .cloned()
                .ok_or_else(|| refuse(GoogleError::NoIdToken))?
        } else {
            core.fetch_user_info(token).await?
        };
        if let Some(claims) = id_claims {
            bind_to_id_token(&user, claims).map_err(refuse)?;
        }
        let email = user
            .get("email")
            .and_then(Value::as_str)
            .filter(|email| !email.is_empty())
            .ok_or_else(|| refuse(GoogleError::NoEmail))?;
        let domain = email_domain(email).map_err(refuse)?;
        if let Value::Object(map) = &mut user {
            map.insert("domain".into(), json!(domain));
        }
        Ok(user)
    }

    /// As at login, and the account must be the one that signed in: a refresh token
    /// cannot turn one user's session into another's.
    async fn refreshed_token_to_user(
        &self,
        core: &OAuthCore,
        token: &TokenResponse,
        id_claims: Option<&Value>,
        previous: &Value,
    ) -> Result<Value, AuthError> {
        let user = self.token_to_user(core, token, id_claims).await?;
        let before = previous.get("google_user").and_then(subject_of);
        if before.is_none() || before != subject_of(&user) {
            return Err(refuse(GoogleError::OtherAccount));
        }
        Ok(user)
    }

    /// Google's v1 user info says `verified_email`, not `email_verified`.
    fn email_verified_by_provider(&self, _core: &OAuthCore, user_info: &Value) -> bool {
        email_verified(user_info)
    }

    fn user_info_to_username(
        &self,
        core: &OAuthCore,
        user_info: &Value,
    ) -> Result<String, AuthError> {
        let name = core.default_username(user_info)?;
        let domain = text(user_info, "domain");
        if self.config.strip_domain && self.config.hosted_domain.iter().any(|d| d == domain) {
            let local = name.split('@').next().unwrap_or_default();
            if local.is_empty() {
                return Err(refuse(GoogleError::EmptyUsername));
            }
            return Ok(local.to_owned());
        }
        Ok(name)
    }

    /// Reads the user's groups when a rule needs them (`google_user.google_groups`, the
    /// names as upstream keeps them, and `google_user.google_group_emails`, the full
    /// addresses the rules compare), then decides admin by `admin_google_groups` unless
    /// `admin_users` already made the user admin.
    async fn update_auth_model(
        &self,
        core: &OAuthCore,
        mut model: AuthModel,
    ) -> Result<AuthModel, AuthError> {
        let (email, domain) = {
            let user = google_user(&model).ok_or_else(|| {
                AuthError::Internal("Google auth_state has no google_user".to_owned())
            })?;
            (
                text(user, "email").to_owned(),
                text(user, "domain").to_owned(),
            )
        };
        let groups =
            if self.reads_groups(core, &domain) {
                self.fetch_groups(core, &domain, &email).await.map_err(|err| {
                tracing::warn!(user = %model.name, error = %err, "Google group lookup failed");
                AuthError::from(err)
            })?
            } else {
                BTreeSet::new()
            };
        let names: BTreeSet<&str> = groups
            .iter()
            .filter_map(|address| address.split('@').next())
            .collect();
        if let Some(Value::Object(state)) = model.auth_state.as_mut()
            && let Some(Value::Object(user)) = state.get_mut("google_user")
        {
            user.insert("google_groups".into(), json!(names));
            user.insert("google_group_emails".into(), json!(groups));
        }
        if model.admin == Some(true) || self.config.admin_google_groups.is_empty() {
            return Ok(model);
        }
        let admin = self
            .config
            .admin_google_groups
            .get(&domain)
            .is_some_and(|admins| admins.iter().any(|group| groups.contains(group)));
        model.admin = Some(admin);
        Ok(model)
    }

    /// `hosted_domain` by the `hd` claim, then the verified email: restrictions no allow
    /// rule may bypass (upstream checks the email in `check_allowed`, which `allow_all`
    /// skips; F1).
    async fn check_blocked(
        &self,
        _core: &OAuthCore,
        name: &str,
        model: &AuthModel,
    ) -> Result<bool, AuthError> {
        let Some(user) = google_user(model) else {
            tracing::warn!(user = %name, "no Google user info to check; refused");
            return Ok(false);
        };
        if !self.config.hosted_domain.is_empty() {
            let hd = text(user, "hd");
            if !self.config.hosted_domain.iter().any(|domain| domain == hd) {
                tracing::warn!(user = %name, hd, "Blocked: hd is not in hosted_domain");
                return Ok(false);
            }
        }
        if !email_verified(user) {
            return Err(refuse(GoogleError::UnverifiedEmail {
                email: text(user, "email").to_owned(),
            }));
        }
        Ok(true)
    }

    async fn check_allowed(
        &self,
        _core: &OAuthCore,
        name: &str,
        model: &AuthModel,
    ) -> Result<bool, AuthError> {
        let Some(user) = google_user(model) else {
            return Ok(false);
        };
        let hd = text(user, "hd");
        if !hd.is_empty() && self.config.allowed_hosted_domains.iter().any(|d| d == hd) {
            return Ok(true);
        }
        if let Some(allowed) = self.config.allowed_google_groups.get(text(user, "domain")) {
            let member = user
                .get("google_group_emails")
                .and_then(Value::as_array)
                .is_some_and(|groups| {
                    groups
                        .iter()
                        .filter_map(Value::as_str)
                        .any(|group| allowed.contains(group))
                });
            if member {
                return Ok(true);
            }
            tracing::info!(user = %name, "not in an allowed Google group");
        }
        Ok(false)
    }

    fn startup_warnings(&self, core: &OAuthCore) -> Vec<String> {
        let _ = core;
        let mut warnings = self.warnings.clone();
        for (domain, access) in &self.config.domains {
            if !std::path::Path::new(&access.key_file).is_file() {
                warnings.push(format!(
                    "{class}.google_service_account_keys: the key file for {domain} ({file}) does not exist or is not a file, so logins of {domain} that need groups will fail",
                    class = self.config.class_name,
                    file = access.key_file
                ));
            }
        }
        warnings
    }
}

/// Builds a `GoogleOAuthenticator` from its class view.
pub fn google_from_view(view: &ClassView<'_>) -> Result<GoogleOAuthenticator, ConfigError> {
    google_from_view_with_clock(view, Arc::new(SystemClock))
}

/// Builds a `GoogleOAuthenticator` whose own time (service account assertions and token
/// reuse) comes from `clock`.
pub fn google_from_view_with_clock(
    view: &ClassView<'_>,
    clock: Arc<dyn Clock>,
) -> Result<GoogleOAuthenticator, ConfigError> {
    let google = GoogleConfig::from_view(view)?;
    let mut oauth = OAuthConfig::from_view(view)?;
    let class = google.class_name.clone();
    let mut warnings = Vec::new();
    if oauth.token_url.is_empty() {
        oauth.token_url = google.default_token_url();
    }
    if oauth.userdata_url.is_empty() && !oauth.userdata_from_id_token {
        oauth.userdata_url = google.default_userdata_url();
    }
    if oauth.jwks_url.is_empty() {
        oauth.jwks_url = google.default_jwks_url();
    }
    if !oauth.oidc_issuer.is_empty() && !GOOGLE_ISSUERS.contains(&oauth.oidc_issuer.as_str()) {
        return Err(view.invalid(
            "oidc_issuer",
            format!(
                "Google's ID tokens are issued by {}; leave oidc_issuer empty or set it to that",
                GOOGLE_ISSUERS[0]
            ),
        ));
    }
    if !oauth.scope.iter().any(|scope| scope == "openid") {
        oauth.scope.insert(0, "openid".to_owned());
    }
    if !oauth
        .scope
        .iter()
        .any(|scope| EMAIL_SCOPES.contains(&scope.as_str()))
    {
        return Err(view.invalid(
            "scope",
            format!("{class}.scope must request \"email\": Google sends the email address, whether it is verified and the Workspace domain (hd) only with it, and every login needs them"),
        ));
    }
    let allows = !google.allowed_google_groups.is_empty()
        || !google.admin_google_groups.is_empty()
        || !google.allowed_hosted_domains.is_empty();
    if oauth.base.any_allow_config.is_none() && allows {
        oauth.base.any_allow_config = Some(true);
    }
    if google.strip_domain_set && google.strip_domain && google.hosted_domain.len() > 1 {
        let message = format!(
            "{class}.strip_domain is on with {} hosted domains: usernames lose their @domain, so people with the same name in two of the domains get the same username",
            google.hosted_domain.len()
        );
        tracing::warn!("{message}");
        warnings.push(message);
    }
    if !google.hosted_domain.is_empty() {
        for domain in &google.allowed_hosted_domains {
            if !google.hosted_domain.contains(domain) {
                warnings.push(format!(
                    "{class}.allowed_hosted_domains has {domain:?}, which hosted_domain does not list, so its users are blocked anyway"
                ));
            }
        }
    }
    if oauth.base.manage_groups
        && google.domains.is_empty()
        && matches!(&oauth.auth_state_groups_key, Some(ClaimRule::Path(path)) if path.contains("google_group"))
    {
        warnings.push(format!(
            "{class}.auth_state_groups_key reads the Google groups, but no domain has google_service_account_keys and gsuite_administrator, so every user is in no group"
        ));
    }
    oauth.check_endpoints(view)?;
    let core = OAuthCore::new(oauth).map_err(|err| view.invalid("http_request_kwargs", err))?;
    let provider = Google::new(google, warnings, clock);
    Ok(OAuthenticator::new(core, provider))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_is_tied_to_the_id_token() {
        let claims = json!({"sub": "1", "email": "a@x.org", "email_verified": true, "hd": "x.org"});
        let ok = json!({"id": "1", "email": "a@x.org", "verified_email": true, "hd": "x.org"});
        assert_eq!(bind_to_id_token(&ok, &claims), Ok(()));
        let other = json!({"id": "2", "email": "a@x.org", "verified_email": true, "hd": "x.org"});
        assert_eq!(
            bind_to_id_token(&other, &claims),
            Err(GoogleError::SubjectMismatch)
        );
        let no_hd = json!({"id": "1", "email": "a@x.org", "verified_email": true});
        assert_eq!(
            bind_to_id_token(&no_hd, &claims),
            Err(GoogleError::ClaimMismatch("hd"))
        );
        let mail = json!({"id": "1", "email": "b@x.org", "verified_email": true, "hd": "x.org"});
        assert_eq!(
            bind_to_id_token(&mail, &claims),
            Err(GoogleError::ClaimMismatch("email"))
        );
        let unverified_token =
            json!({"sub": "1", "email": "a@x.org", "email_verified": false, "hd": "x.org"});
        assert_eq!(
            bind_to_id_token(&ok, &unverified_token),
            Err(GoogleError::ClaimMismatch("email_verified"))
        );
        assert_eq!(
            bind_to_id_token(&json!({"email": "a@x.org"}), &claims),
            Err(GoogleError::NoSubject)
        );
    }

    #[test]
    fn only_json_true_is_verified() {
        assert!(email_verified(&json!({"verified_email": true})));
        assert!(email_verified(&json!({"email_verified": true})));
        for flag in [json!(false), json!("true"), json!(1), Value::Null] {
            assert!(!email_verified(&json!({"verified_email": flag})));
        }
        // v1's flag wins over an OIDC flag beside it.
        assert!(!email_verified(
            &json!({"verified_email": false, "email_verified": true})
        ));
        assert!(!email_verified(&json!({})));
    }

    #[test]
    fn email_domains() {
        assert_eq!(email_domain("Ada@Example.ORG").unwrap(), "example.org");
        for bad in ["ada", "@x.org", "ada@", "a@b@c"] {
            assert_eq!(email_domain(bad), Err(GoogleError::MalformedEmail), "{bad}");
        }
    }
}
