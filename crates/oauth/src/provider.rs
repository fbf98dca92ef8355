//! The write-your-own API: the steps of an OAuth login a provider may change.
//!
//! Every method has the behaviour of upstream's `OAuthenticator` base class (and so of
//! `GenericOAuthenticator`); a provider overrides only what differs, as the upstream guide
//! "Writing your own OAuthenticator" describes. The fixed parts (state, PKCE, nonce, ID
//! token verification, the hub's rules) are not overridable, so a provider cannot get them
//! wrong.

use async_trait::async_trait;
use hubauth_core::{AuthError, AuthModel};
use serde_json::Value;

use crate::core::OAuthCore;
use crate::token::TokenResponse;

/// One OAuth 2.0 / OpenID Connect provider's behaviour.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// The class name (`GenericOAuthenticator`), as in config tables and logs.
    fn class_name(&self) -> &'static str;

    /// The key under which the provider's user info is kept in auth_state.
    fn user_auth_state_key(&self) -> &'static str {
        "oauth_user"
    }

    /// Adds or changes parameters of the authorization request (upstream's login handler
    /// `authorize_redirect`). Runs after `extra_authorize_params`.
    fn authorize_params(&self, core: &OAuthCore, params: &mut Vec<(String, String)>) {
        let _ = (core, params);
    }

    /// Adds or changes the token request's parameters (`build_access_tokens_request_params`).
    /// Runs before `token_params` are merged in.
    fn token_request_params(&self, core: &OAuthCore, params: &mut Vec<(String, String)>) {
        let _ = (core, params);
    }

    /// Exchanges the parameters for tokens (`get_token_info`).
    async fn token_info(
        &self,
        core: &OAuthCore,
        params: Vec<(String, String)>,
    ) -> Result<TokenResponse, AuthError> {
        core.request_token(params).await
    }

    /// Verifies the ID token of a token response and returns its claims (`None`: no ID
    /// token to use). `nonce` is the one sent with the login (`None` for refreshed tokens).
    /// Default: the core's check against the `oidc_issuer` / `jwks_url` keys. A provider
    /// with its own issuer rules (Azure AD's per-tenant issuers) verifies here instead.
    async fn id_token_claims(
        &self,
        core: &OAuthCore,
        token: &TokenResponse,
        nonce: Option<&str>,
        now: i64,
    ) -> Result<Option<Value>, AuthError> {
        core.default_id_token_claims(token, nonce, now).await
    }

    /// Whether a refresh first tries the stored tokens again before the refresh token grant.
    /// Default true (re-fetching user info asks the provider). A provider whose user info
    /// is only the stored ID token returns false, so that every refresh asks the provider.
    fn refresh_reuses_stored_tokens(&self) -> bool {
        true
    }

    /// Start-up warnings of the provider, added to the base ones.
    fn startup_warnings(&self, core: &OAuthCore) -> Vec<String> {
        let _ = core;
        Vec::new()
    }

    /// Turns tokens into user info (`token_to_user`): by default the (verified) ID token's
    /// claims with `userdata_from_id_token`, else the user info endpoint.
    async fn token_to_user(
        &self,
        core: &OAuthCore,
        token: &TokenResponse,
        id_claims: Option<&Value>,
    ) -> Result<Value, AuthError> {
        core.default_token_to_user(token, id_claims).await
    }

    /// Turns the tokens of a refresh into user info. `previous` is the auth_state stored
    /// at the last login or refresh, for a provider whose refresh response says less
    /// than its login did (Azure AD's v1 refresh has no ID token). Default:
    /// [`Provider::token_to_user`].
    async fn refreshed_token_to_user(
        &self,
        core: &OAuthCore,
        token: &TokenResponse,
        id_claims: Option<&Value>,
        previous: &Value,
    ) -> Result<Value, AuthError> {
        let _ = previous;
        self.token_to_user(core, token, id_claims).await
    }

    /// Whether the provider itself vouches, in a way it documents, that the user's email
    /// is verified although `email_verified` is not `true` (Azure AD's `xms_edov`). Only
    /// consulted when the username comes from an email claim. Default: no.
    fn email_verified_by_provider(&self, core: &OAuthCore, user_info: &Value) -> bool {
        let _ = (core, user_info);
        false
    }

    /// The raw username from user info (`user_info_to_username`); the hub normalizes it.
    fn user_info_to_username(
        &self,
        core: &OAuthCore,
        user_info: &Value,
    ) -> Result<String, AuthError> {
        core.default_username(user_info)
    }

    /// Builds auth_state (`build_auth_state_dict`).
    async fn build_auth_state(
        &self,
        core: &OAuthCore,
        token: &TokenResponse,
        user_info: &Value,
    ) -> Result<Value, AuthError> {
        Ok(core.default_auth_state(token, user_info, self.user_auth_state_key()))
    }

    /// The place to fetch extra authorization data (teams, groups) and decide admin
    /// (`update_auth_model`). Default: unchanged.
    async fn update_auth_model(
        &self,
        core: &OAuthCore,
        model: AuthModel,
    ) -> Result<AuthModel, AuthError> {
        let _ = core;
        Ok(model)
    }

    /// A restriction that no allow rule may bypass (identity provider, verified email):
    /// false or an error refuses the login. Runs in the hub's block stage.
    async fn check_blocked(
        &self,
        core: &OAuthCore,
        name: &str,
        model: &AuthModel,
    ) -> Result<bool, AuthError> {
        let _ = (core, name, model);
        Ok(true)
    }

    /// An extra allow rule, added to the base ones (allow rules are additive).
    async fn check_allowed(
        &self,
        core: &OAuthCore,
        name: &str,
        model: &AuthModel,
    ) -> Result<bool, AuthError> {
        let _ = (core, name, model);
        Ok(false)
    }

    /// Refreshes a user whose stored auth_state the base refresh cannot use (e.g. Globus
    /// when the Auth token is excluded from auth_state). `Some` replaces the base refresh
    /// (re-fetching user info with the stored token, then the refresh token); the default
    /// `None` keeps it. Called only with auth_state present, after `refresh_user_hook`.
    async fn refresh_user(
        &self,
        core: &OAuthCore,
        name: &str,
        auth_state: &Value,
    ) -> Option<Result<hubauth_core::RefreshOutcome, AuthError>> {
        let _ = (core, name, auth_state);
        None
    }

    /// Called at logout with the user's auth_state (token revocation): may return a new
    /// auth_state to store and a warning for the logout page. Logout always completes.
    async fn on_logout(
        &self,
        core: &OAuthCore,
        name: &str,
        auth_state: Option<&Value>,
    ) -> hubauth_core::LogoutEffects {
        let _ = (core, name, auth_state);
        hubauth_core::LogoutEffects::default()
    }

    /// Where the browser goes after the hub's logout to end the provider's session too,
    /// given the user's auth_state and the absolute URL to come back to (Auth0's
    /// `/v2/logout?returnTo=`). Asked before `oidc_logout`'s end_session_endpoint; the
    /// default `None` leaves that (or no provider logout) as it was.
    async fn logout_redirect(
        &self,
        core: &OAuthCore,
        auth_state: Option<&Value>,
        after_logout: &str,
    ) -> Option<String> {
        let _ = (core, auth_state, after_logout);
        None
    }

    /// Values handed to protected apps besides auth_state (see
    /// [`hubauth_core::Authenticator::app_data`]). Default: none.
    fn app_data(
        &self,
        core: &OAuthCore,
        auth_state: Option<&Value>,
    ) -> serde_json::Map<String, Value> {
        let _ = (core, auth_state);
        serde_json::Map::new()
    }
}
