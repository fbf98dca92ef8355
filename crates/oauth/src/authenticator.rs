//! `OAuthenticator<P>`: a provider plugged into the hub's Authenticator and redirect-login
//! interfaces.

use std::collections::BTreeMap;

use async_trait::async_trait;
use hubauth_core::{
    AuthError, AuthModel, Authenticator, LoginData, LoginKind, LogoutEffects, LogoutToken,
    LogoutTokenError, PendingRedirect, RedirectLogin, RedirectStart, RefreshOutcome,
    RequestContext, Rules,
};
use serde_json::Value;

use crate::core::OAuthCore;
use crate::identity::{check_email_verified, check_subject, email_source};
use crate::provider::Provider;
use crate::token::TokenResponse;

/// An OAuth login: the shared client plus one provider's behaviour.
pub struct OAuthenticator<P> {
    core: OAuthCore,
    provider: P,
}

impl<P: Provider> std::fmt::Debug for OAuthenticator<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthenticator")
            .field("class", &self.provider.class_name())
            .field("core", &self.core)
            .finish()
    }
}

impl<P: Provider> OAuthenticator<P> {
    /// Combines a configured client with a provider.
    pub fn new(core: OAuthCore, provider: P) -> Self {
        OAuthenticator { core, provider }
    }

    /// The shared client.
    pub fn core(&self) -> &OAuthCore {
        &self.core
    }

    /// The provider.
    pub fn provider(&self) -> &P {
        &self.provider
    }

    /// The user info must be about the ID token's subject (F28), and a username taken from
    /// an email needs a verified email (F27). Both refuse with a 403 naming the step.
    async fn check_user_info(
        &self,
        user_info: &Value,
        id_claims: Option<&Value>,
    ) -> Result<(), AuthError> {
        let core = &self.core;
        if let Some(id_claims) = id_claims {
            let sub_required = !core.config.userdata_from_id_token
                && core.endpoints().await?.endpoints.userinfo_is_oidc;
            check_subject(user_info, id_claims, sub_required)?;
        }
        let Some(source) = email_source(&core.config.username_claim) else {
            return Ok(());
        };
        let provider_verified = self.provider.email_verified_by_provider(core, user_info);
        match check_email_verified(user_info, id_claims, &source, provider_verified) {
            Ok(()) => Ok(()),
            Err(_) if core.config.allow_unverified_email => {
                tracing::warn!(claim = %source.email_path, "the username comes from an email the provider did not mark as verified; accepted because allow_unverified_email is set");
                Ok(())
            }
            Err(err) => {
                tracing::warn!(claim = %source.email_path, "{err}: the username would come from an email the provider did not mark as verified (email_verified); set allow_unverified_email = true only if the provider verifies every address");
                Err(err.into())
            }
        }
    }

    /// Tokens to user info to auth model (upstream's `_token_to_auth_model`), with the ID
    /// token verified when there is one and keys to check it with.
    /// The hub's model of the user behind `token`: at login (`previous` is `None`) or at
    /// a refresh (`previous` is the stored auth_state).
    async fn token_to_model(
        &self,
        token: &TokenResponse,
        nonce: Option<&str>,
        now: i64,
        previous: Option<&Value>,
    ) -> Result<AuthModel, AuthError> {
        let core = &self.core;
        let id_claims = self
            .provider
            .id_token_claims(core, token, nonce, now)
            .await?;
        let user_info = match previous {
            None => {
                self.provider
                    .token_to_user(core, token, id_claims.as_ref())
                    .await?
            }
            Some(previous) => {
                self.provider
                    .refreshed_token_to_user(core, token, id_claims.as_ref(), previous)
                    .await?
            }
        };
        self.check_user_info(&user_info, id_claims.as_ref()).await?;
        let name = self.provider.user_info_to_username(core, &user_info)?;
        let mut auth_state = self
            .provider
            .build_auth_state(core, token, &user_info)
            .await?;
        if let Some(hook) = &core.config.modify_auth_state_hook {
            auth_state = hook
                .eval_json(&[
                    ("auth_state", auth_state),
                    (
                        "authenticator",
                        Value::String(self.provider.class_name().to_owned()),
                    ),
                ])
                .map_err(|err| {
                    tracing::error!(error = %err, "Error in modify_auth_state_hook");
                    AuthError::Hook(format!("modify_auth_state_hook: {err}"))
                })?;
        }
        // admin_users is applied here, before the group rules (a provider's, then
        // admin_groups), which may only make admins of users it leaves open; it sees the
        // name as the hub will store it. [`Authenticator::is_admin`] has nothing left to do.
        let normalized = core.rules.normalize_username(&name);
        let mut model = AuthModel::named(name);
        // The provider's session this login came from, for back-channel logout.
        if previous.is_none()
            && let Some(session) = id_claims
                .as_ref()
                .and_then(hubauth_core::ProviderSession::from_id_token_claims)
        {
            session.store_in(&mut model.extra);
        }
        model.admin = core.rules.is_admin(&normalized);
        model.auth_state = Some(auth_state);
        let mut model = self.provider.update_auth_model(core, model).await?;
        if core.config.base.manage_groups {
            let groups = model
                .auth_state
                .as_ref()
                .map(|state| core.user_groups(state))
                .unwrap_or_default();
            model.groups = Some(groups);
            core.rules.apply_managed_groups(&mut model);
        }
        Ok(model)
    }
}

#[async_trait]
impl<P: Provider> Authenticator for OAuthenticator<P> {
    fn class_name(&self) -> &'static str {
        self.provider.class_name()
    }

    fn rules(&self) -> &Rules {
        &self.core.rules
    }

    fn kind(&self) -> LoginKind {
        LoginKind::Redirect {
            login_service: self.core.config.login_service.clone(),
            login_path: "oauth_login".to_owned(),
        }
    }

    async fn authenticate(
        &self,
        _ctx: &RequestContext,
        _data: &LoginData,
    ) -> Result<Option<AuthModel>, AuthError> {
        // Users log in at the provider; the login form is never shown.
        Ok(None)
    }

    async fn check_blocked_users(&self, name: &str, model: &AuthModel) -> Result<bool, AuthError> {
        if !self.core.rules.check_blocked_users(name) {
            return Ok(false);
        }
        self.provider.check_blocked(&self.core, name, model).await
    }

    async fn check_allowed(&self, name: &str, model: &AuthModel) -> Result<bool, AuthError> {
        if self.core.oauth_allows(name, model) || self.core.rules.check_allowed(name, Some(model)) {
            return Ok(true);
        }
        self.provider.check_allowed(&self.core, name, model).await
    }

    /// `None`: the admin flag was decided when the model was built (`admin_users`, then
    /// the group rules); a model that leaves it open stays open.
    async fn is_admin(&self, _model: &AuthModel) -> Result<Option<bool>, AuthError> {
        Ok(None)
    }

    fn redirect_login(&self) -> Option<&dyn RedirectLogin> {
        Some(self)
    }

    async fn on_logout(&self, name: &str, auth_state: Option<&Value>) -> LogoutEffects {
        self.provider.on_logout(&self.core, name, auth_state).await
    }

    fn app_data(&self, auth_state: Option<&Value>) -> serde_json::Map<String, Value> {
        self.provider.app_data(&self.core, auth_state)
    }

    fn startup_warnings(&self) -> Vec<String> {
        let mut warnings = self.core.rules.startup_warnings(self.provider.class_name());
        warnings.extend(self.provider.startup_warnings(&self.core));
        warnings
    }

    fn supports_manage_groups(&self) -> bool {
        self.core.config.auth_state_groups_key.is_some()
    }

    async fn refresh_user(
        &self,
        ctx: &RequestContext,
        name: &str,
        auth_state: Option<&Value>,
    ) -> Result<RefreshOutcome, AuthError> {
        let core = &self.core;
        if !core.config.base.enable_auth_state {
            return Ok(RefreshOutcome::UpToDate);
        }
        if let Some(hook) = &core.config.refresh_user_hook {
            let verdict = hook
                .eval_json(&[
                    ("user", Value::String(name.to_owned())),
                    ("auth_state", auth_state.cloned().unwrap_or(Value::Null)),
                ])
                .map_err(|err| AuthError::Hook(format!("refresh_user_hook: {err}")))?;
            match verdict {
                Value::Bool(true) => return Ok(RefreshOutcome::UpToDate),
                Value::Bool(false) => return Ok(RefreshOutcome::Expired),
                Value::Null => {}
                other => {
                    let model = AuthModel::from_json(other)
                        .map_err(|err| AuthError::Hook(format!("refresh_user_hook: {err}")))?;
                    return Ok(RefreshOutcome::Updated(Box::new(model)));
                }
            }
        }
        let Some(state) = auth_state else {
            tracing::info!(user = %name, "no auth_state to refresh; login required");
            return Ok(RefreshOutcome::Expired);
        };
        if let Some(outcome) = self.provider.refresh_user(core, name, state).await {
            return outcome;
        }
        // First: is the stored access token still good? Re-fetch user info with it.
        if let Some(stored) = state
            .get("token_response")
            .cloned()
            .filter(|_| self.provider.refresh_reuses_stored_tokens())
            .and_then(|raw| TokenResponse::from_json(raw).ok())
        {
            match self
                .token_to_model(&stored, None, ctx.now, Some(state))
                .await
            {
                Ok(model) => return Ok(RefreshOutcome::Updated(Box::new(model))),
                Err(AuthError::Http { .. }) => {
                    tracing::info!(user = %name, "stored access token no longer accepted; trying the refresh token");
                }
                Err(err @ AuthError::Upstream { .. }) => return Err(err),
                Err(err) => {
                    tracing::info!(user = %name, error = %err, "refresh with the stored tokens failed; trying the refresh token");
                }
            }
        }
        let Some(refresh_token) = state
            .get("refresh_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        else {
            return Ok(RefreshOutcome::Expired);
        };
        let token = match core.refresh_grant(refresh_token).await {
            Ok(token) => token,
            Err(err @ AuthError::Upstream { .. }) => return Err(err),
            Err(err) => {
                tracing::info!(user = %name, error = %err, "refresh token refused; login required");
                return Ok(RefreshOutcome::Expired);
            }
        };
        match self
            .token_to_model(&token, None, ctx.now, Some(state))
            .await
        {
            Ok(model) => Ok(RefreshOutcome::Updated(Box::new(model))),
            Err(err @ AuthError::Upstream { .. }) => Err(err),
            Err(err) => {
                tracing::warn!(user = %name, error = %err, "refreshed tokens were not usable; login required");
                Ok(RefreshOutcome::Expired)
            }
        }
    }
}

#[async_trait]
impl<P: Provider> RedirectLogin for OAuthenticator<P> {
    async fn begin(
        &self,
        _ctx: &RequestContext,
        state: &str,
        redirect_uri: &str,
    ) -> Result<RedirectStart, AuthError> {
        let (authorize_url, pending) = self
            .core
            .authorize_url(state, redirect_uri, |params| {
                self.provider.authorize_params(&self.core, params)
            })
            .await?;
        Ok(RedirectStart {
            authorize_url,
            pending,
        })
    }

    async fn complete(
        &self,
        ctx: &RequestContext,
        redirect_uri: &str,
        code: &str,
        query: &BTreeMap<String, String>,
        pending: &PendingRedirect,
    ) -> Result<AuthModel, AuthError> {
        self.core
            .check_response_issuer(query.get("iss").map(String::as_str))
            .await?;
        // The token request repeats the redirect_uri of the authorize request.
        let mut params = self.core.code_params(code, redirect_uri, pending)?;
        self.provider.token_request_params(&self.core, &mut params);
        let token = self.provider.token_info(&self.core, params).await?;
        self.token_to_model(&token, pending.nonce.as_deref(), ctx.now, None)
            .await
    }

    fn configured_callback_url(&self) -> Option<String> {
        Some(self.core.config.oauth_callback_url.clone()).filter(|url| !url.is_empty())
    }

    async fn verify_logout_token(
        &self,
        token: &str,
        now: i64,
    ) -> Result<LogoutToken, LogoutTokenError> {
        let resolved = self
            .core
            .endpoints()
            .await
            .map_err(|err| LogoutTokenError::KeysUnavailable(err.to_string()))?;
        let Some(keys) = resolved.keys.as_ref() else {
            // Without the provider's keys nothing it sends can be verified.
            return Err(LogoutTokenError::Unsupported);
        };
        let issuer = &resolved.endpoints.issuer;
        let expect = crate::logout_token::LogoutExpectations {
            issuer: (!issuer.is_empty()).then_some(issuer.as_str()),
            client_id: &self.core.config.client_id,
            trusted_audiences: &self.core.config.trusted_audiences,
            now,
        };
        crate::logout_token::verify_logout_token(keys, token, &expect).await
    }

    async fn logout_redirect(
        &self,
        auth_state: Option<&Value>,
        after_logout: &str,
    ) -> Option<String> {
        if let Some(url) = self
            .provider
            .logout_redirect(&self.core, auth_state, after_logout)
            .await
        {
            return Some(url);
        }
        if !self.core.config.oidc_logout {
            return None;
        }
        let resolved = self.core.endpoints().await.ok()?;
        let end_session = &resolved.endpoints.end_session_url;
        if end_session.is_empty() {
            tracing::warn!("oidc_logout is on but the provider has no end_session_endpoint");
            return None;
        }
        let mut url = url::Url::parse(end_session).ok()?;
        {
            let mut query = url.query_pairs_mut();
            if let Some(id_token) = auth_state
                .and_then(|s| s.get("id_token"))
                .and_then(Value::as_str)
            {
                query.append_pair("id_token_hint", id_token);
            }
            query.append_pair("client_id", &self.core.config.client_id);
            query.append_pair("post_logout_redirect_uri", after_logout);
        }
        Some(url.to_string())
    }
}
