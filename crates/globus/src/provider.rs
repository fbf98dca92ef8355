//! `GlobusOAuthenticator`: the Globus provider plugged into the OAuth base.

use async_trait::async_trait;
use hubauth_config::{ClassView, ConfigError};
use hubauth_core::{AuthError, AuthModel, LogoutEffects, RefreshOutcome};
use hubauth_oauth::core::auth_state_strings;
use hubauth_oauth::http::{send, upstream};
use hubauth_oauth::{
    BasicCredentials, ClaimRule, OAuthConfig, OAuthCore, OAuthenticator, Provider, TokenResponse,
};
use serde_json::{Map, Value, json};

use crate::error::{IdentityError, RevokeError};
use crate::identity::login_identity;
use crate::options::{
    AUTH_RESOURCE_SERVER, GROUPS_RESOURCE_SERVER, GROUPS_SCOPE, GlobusConfig, default_scope,
};
use crate::tokens::{access_token_for, strip_excluded, token_for, tokens_by_resource_server};

const GROUPS_STEP: &str = "Globus Groups API request";
const REVOKE_STEP: &str = "Globus token revocation";

/// The Globus provider: upstream's `GlobusOAuthenticator` steps.
#[derive(Debug, Clone)]
pub struct Globus {
    config: GlobusConfig,
}

/// `GlobusOAuthenticator`.
pub type GlobusOAuthenticator = OAuthenticator<Globus>;

impl Globus {
    /// A provider with these options.
    pub fn new(config: GlobusConfig) -> Self {
        Globus { config }
    }

    /// The Globus options.
    pub fn config(&self) -> &GlobusConfig {
        &self.config
    }

    /// The endpoint id of this hub as a Globus endpoint (`globus_local_endpoint`), handed
    /// to apps as upstream's `GLOBUS_LOCAL_ENDPOINT` (possibly empty).
    pub fn local_endpoint(&self) -> &str {
        &self.config.globus_local_endpoint
    }

    async fn fetch_groups(&self, core: &OAuthCore, token: &str) -> Result<Vec<String>, AuthError> {
        let request = core
            .http()
            .get(&self.config.globus_groups_url)
            .header("accept", "application/json")
            .header("authorization", format!("Bearer {token}"));
        let response = send(GROUPS_STEP, request).await?;
        if matches!(response.status, 401 | 403) {
            return Err(AuthError::forbidden(format!(
                "The Globus Groups API refused the groups token (HTTP {}). Please log in again.",
                response.status
            )));
        }
        if !(200..300).contains(&response.status) {
            return Err(upstream(GROUPS_STEP, format!("HTTP {}", response.status)));
        }
        let Some(Value::Array(groups)) = response.json else {
            return Err(upstream(
                GROUPS_STEP,
                "the answer is not a JSON list of groups",
            ));
        };
        let mut ids: Vec<String> = groups
            .iter()
            .filter_map(|group| group.get("id").and_then(Value::as_str))
            .map(str::to_owned)
            .collect();
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    /// The admin decision from Globus groups (upstream's `update_auth_model`): unless
    /// already admin, membership of `admin_globus_groups` when that is set.
    fn globus_admin(&self, model: &mut AuthModel, groups: &[String]) {
        if model.admin != Some(true) && !self.config.admin_globus_groups.is_empty() {
            model.admin = Some(
                groups
                    .iter()
                    .any(|group| self.config.admin_globus_groups.contains(group)),
            );
        }
    }

    /// Revokes one token. The client authenticates as at the token endpoint: HTTP Basic
    /// with the id and secret raw, as Globus reads them (`globus_from_view`); a
    /// form-encoded secret (`=` as `%3D`) would be refused with 401.
    async fn revoke(&self, core: &OAuthCore, token: &str) -> Result<(), RevokeError> {
        let request = core
            .http()
            .post(&self.config.revocation_url)
            .header("accept", "application/json")
            .header("authorization", core.basic_authorization())
            .form(&[("token", token)]);
        let response = send(REVOKE_STEP, request)
            .await
            .map_err(|err| RevokeError::Unreachable(err.to_string()))?;
        if (200..300).contains(&response.status) {
            Ok(())
        } else {
            Err(RevokeError::Refused(response.status))
        }
    }

    fn groups_of(model: &AuthModel) -> Vec<String> {
        auth_state_strings(model, "globus_groups")
    }

    /// The Globus Auth token of a token response as a [`TokenResponse`] of its own,
    /// found by its resource server wherever it is (top level or `other_tokens`).
    fn auth_token(token: &TokenResponse) -> Result<TokenResponse, AuthError> {
        token_for(&token.raw, AUTH_RESOURCE_SERVER)
            .and_then(|auth| TokenResponse::from_json(auth).ok())
            .ok_or_else(|| refuse(IdentityError::NoAuthToken))
    }
}

/// A login refused because its identity cannot be determined.
fn refuse(err: IdentityError) -> AuthError {
    tracing::warn!(error = %err, "Globus login refused");
    AuthError::forbidden(format!("Login refused: {err}."))
}

/// Builds a `GlobusOAuthenticator` from its class view.
pub fn globus_from_view(view: &ClassView<'_>) -> Result<GlobusOAuthenticator, ConfigError> {
    let options = crate::options::GlobusOAuthenticatorOptions::load(view)?;
    let class = view.class_name().to_owned();
    let mut oauth = OAuthConfig::from_view(view)?;
    let globus = GlobusConfig::from_view(view, oauth.base.manage_groups)?;
    // Upstream counts every truthy option whose name starts with "allow" as allow config.
    if oauth.base.any_allow_config.is_none() && !globus.allowed_globus_groups.is_empty() {
        oauth.base.any_allow_config = Some(true);
    }
    match options.scope {
        Some(scope) => {
            // F23: a group rule without the Groups scope would fail at every login.
            if globus.fetch_groups && !scope.iter().any(|s| s == GROUPS_SCOPE) {
                let needs = if oauth.base.manage_groups {
                    "manage_groups"
                } else if globus.allowed_globus_groups.is_empty() {
                    "admin_globus_groups"
                } else {
                    "allowed_globus_groups"
                };
                return Err(view.invalid(
                    "scope",
                    format!("{class}.{needs} needs the user's groups from the Globus Groups API, but scope does not request {GROUPS_SCOPE}, so Globus would issue no groups token; add it to scope (or leave scope unset to get the default)"),
                ));
            }
            oauth.scope = scope;
        }
        None => oauth.scope = default_scope(globus.fetch_groups, globus.username_from_email),
    }
    if let Some(missing) = oauth
        .allowed_scopes
        .iter()
        .find(|allowed| !oauth.scope.contains(allowed))
    {
        return Err(view.invalid(
            "allowed_scopes",
            format!(
                "Allowed scopes must be a subset of requested scopes. {:?} is requested but {missing:?} is allowed",
                oauth.scope
            ),
        ));
    }
    if options.username_claim.is_none() {
        oauth.username_claim = ClaimRule::path(if globus.username_from_email {
            "email"
        } else {
            "preferred_username"
        });
    }
    // Globus authenticates clients with HTTP Basic only: its discovery document
    // (https://auth.globus.org/.well-known/openid-configuration) lists
    // token_endpoint_auth_methods_supported = ["client_secret_basic"], and its SDK
    // (globus-sdk-python's ConfidentialAppAuthClient, a BasicAuthorizer) sends
    // base64("id:secret") with the secret raw, not form-encoded as RFC 6749 2.3.1 says. A
    // Globus secret is base64 and ends in "=", which form-encoding would turn into "%3D".
    if view.is_set("basic_auth") && !view.get::<bool>("basic_auth")? {
        tracing::warn!(
            "{class}.basic_auth = false is ignored: Globus accepts client credentials only in an HTTP Basic header, which {class} always sends"
        );
    }
    oauth.basic_auth = true;
    oauth.basic_credentials = BasicCredentials::Raw;
    if let Some(allow) = options.allow_refresh_tokens {
        tracing::warn!(
            "{class}.allow_refresh_tokens is deprecated since OAuthenticator 15.0, use {class}.extra_authorize_params = {{ access_type = \"offline\" }} instead"
        );
        if allow && !oauth.extra_authorize_params.contains_key("access_type") {
            oauth
                .extra_authorize_params
                .insert("access_type".into(), json!("offline"));
        }
    }
    if globus.revoke_tokens_on_logout && !oauth.base.enable_auth_state {
        tracing::warn!(
            "{class}.revoke_tokens_on_logout is set but enable_auth_state is off: no tokens are kept, so none can be revoked at logout"
        );
    }
    oauth.check_endpoints(view)?;
    let core = OAuthCore::new(oauth).map_err(|err| view.invalid("http_request_kwargs", err))?;
    Ok(OAuthenticator::new(core, Globus::new(globus)))
}

fn claim_text(core: &OAuthCore, user_info: &Value) -> Option<String> {
    core.config
        .username_claim
        .find(user_info)
        .ok()
        .flatten()
        .and_then(|value| value.as_str().map(str::to_owned))
}

#[async_trait]
impl Provider for Globus {
    fn class_name(&self) -> &'static str {
        "GlobusOAuthenticator"
    }

    fn user_auth_state_key(&self) -> &'static str {
        "globus_user"
    }

    /// Globus sends no `email_verified` (its discovery document lists no such claim), so a
    /// username taken from `email` is refused at every login unless
    /// `allow_unverified_email` is set: say so at start-up rather than only at the first
    /// login.
    fn startup_warnings(&self, core: &OAuthCore) -> Vec<String> {
        if core.config.allow_unverified_email
            || hubauth_oauth::identity::email_source(&core.config.username_claim).is_none()
        {
            return Vec::new();
        }
        vec![format!(
            "{class}.username_claim takes usernames from the email claim, which Globus does not mark as verified (it sends no email_verified), so every login will be refused with \"Login with unverified email ... is not allowed\". Set {class}.allow_unverified_email = true to accept the emails Globus reports, or turn off username_from_email to use the Globus identity's preferred_username.",
            class = self.class_name()
        )]
    }

    /// Verifies the ID token when there are keys to verify it with (`jwks_url`) or
    /// `userdata_from_id_token` asks for it, as the base does, but checks its `at_hash`
    /// against the Globus Auth token, which need not be the top-level one. Without keys
    /// the ID token is not read at all: the identity comes from the user info endpoint.
    async fn id_token_claims(
        &self,
        core: &OAuthCore,
        token: &TokenResponse,
        nonce: Option<&str>,
        now: i64,
    ) -> Result<Option<Value>, AuthError> {
        let Some(id_token) = &token.id_token else {
            return Ok(None);
        };
        if !core.config.userdata_from_id_token && !core.can_verify_id_tokens().await {
            return Ok(None);
        }
        let auth = Self::auth_token(token)?;
        core.verify_id_token(id_token, &auth.access_token, nonce, now)
            .await
            .map(Some)
    }

    /// The user info endpoint asked with the Globus Auth token (found by its resource
    /// server: the top-level token may be another service's), or the verified ID token's
    /// claims with `userdata_from_id_token`; then the identity it is for must be
    /// determined ([`crate::identity::login_identity`]), or the login is refused.
    async fn token_to_user(
        &self,
        core: &OAuthCore,
        token: &TokenResponse,
        id_claims: Option<&Value>,
    ) -> Result<Value, AuthError> {
        let user_info = if core.config.userdata_from_id_token {
            core.default_token_to_user(token, id_claims).await?
        } else {
            core.fetch_user_info(&Self::auth_token(token)?).await?
        };
        login_identity(&user_info).map_err(refuse)?;
        Ok(user_info)
    }

    fn user_info_to_username(
        &self,
        core: &OAuthCore,
        user_info: &Value,
    ) -> Result<String, AuthError> {
        let claim = core.default_username(user_info)?;
        // foo@globusid.org -> foo; wash@legitshipping.com@serenity.com -> wash
        let name = claim.split('@').next().unwrap_or_default();
        if name.is_empty() {
            return Err(AuthError::forbidden(
                "The Globus username is empty before its @domain.",
            ));
        }
        Ok(name.to_owned())
    }

    async fn build_auth_state(
        &self,
        core: &OAuthCore,
        token: &TokenResponse,
        user_info: &Value,
    ) -> Result<Value, AuthError> {
        let mut state = Map::new();
        state.insert("client_id".into(), json!(core.config.client_id));
        state.insert(
            "tokens".into(),
            Value::Object(tokens_by_resource_server(
                &token.raw,
                &self.config.exclude_tokens,
            )),
        );
        // The full response for now: update_auth_model needs the groups token, then
        // removes the excluded tokens from it.
        state.insert("token_response".into(), Value::Object(token.raw.clone()));
        state.insert(self.user_auth_state_key().into(), user_info.clone());
        Ok(Value::Object(state))
    }

    async fn update_auth_model(
        &self,
        core: &OAuthCore,
        mut model: AuthModel,
    ) -> Result<AuthModel, AuthError> {
        let Some(Value::Object(mut state)) = model.auth_state.take() else {
            return Err(AuthError::Internal(
                "Globus auth_state is missing before update_auth_model".into(),
            ));
        };
        let mut response = match state.remove("token_response") {
            Some(Value::Object(map)) => map,
            _ => Map::new(),
        };
        let mut groups = Vec::new();
        if self.config.fetch_groups {
            let Some(token) = access_token_for(&response, GROUPS_RESOURCE_SERVER) else {
                tracing::error!(user = %model.name, "Globus returned no groups token; is the Groups scope granted to this client?");
                return Err(AuthError::forbidden(format!(
                    "Globus did not grant access to your groups (no token for {GROUPS_RESOURCE_SERVER}), and this hub's rules need them. Please contact the hub administrator."
                )));
            };
            groups = self.fetch_groups(core, &token).await?;
        }
        strip_excluded(&mut response, &self.config.exclude_tokens);
        state.insert("token_response".into(), Value::Object(response));
        state.insert("globus_groups".into(), json!(groups));
        model.auth_state = Some(Value::Object(state));
        self.globus_admin(&mut model, &groups);
        Ok(model)
    }

    async fn check_blocked(
        &self,
        core: &OAuthCore,
        name: &str,
        model: &AuthModel,
    ) -> Result<bool, AuthError> {
        let idp = &self.config.identity_provider;
        if idp.is_empty() {
            return Ok(true);
        }
        let claim = model
            .auth_state
            .as_ref()
            .and_then(|state| state.get(self.user_auth_state_key()))
            .and_then(|info| claim_text(core, info))
            .unwrap_or_default();
        let domain = claim.split_once('@').map(|(_, d)| d).unwrap_or_default();
        if domain != idp {
            tracing::warn!(user = %name, domain, "identity provider not allowed");
            return Err(AuthError::forbidden(format!(
                "This site is restricted to {idp} accounts. Link your account at app.globus.org/account."
            )));
        }
        Ok(true)
    }

    async fn check_allowed(
        &self,
        _core: &OAuthCore,
        name: &str,
        model: &AuthModel,
    ) -> Result<bool, AuthError> {
        let allowed = &self.config.allowed_globus_groups;
        if allowed.is_empty() {
            return Ok(false);
        }
        if Self::groups_of(model).iter().any(|g| allowed.contains(g)) {
            return Ok(true);
        }
        tracing::warn!(user = %name, "{name} not in an allowed Globus Group");
        Ok(false)
    }

    async fn refresh_user(
        &self,
        core: &OAuthCore,
        name: &str,
        auth_state: &Value,
    ) -> Option<Result<RefreshOutcome, AuthError>> {
        let response = auth_state.get("token_response").and_then(Value::as_object);
        let has_auth =
            response.is_some_and(|r| access_token_for(r, AUTH_RESOURCE_SERVER).is_some());
        let has_groups =
            response.is_some_and(|r| access_token_for(r, GROUPS_RESOURCE_SERVER).is_some());
        if has_auth && (has_groups || !self.config.fetch_groups) {
            // The base refresh: user info (and groups) again with the kept tokens.
            return None;
        }
        // The tokens needed to ask Globus again are excluded from auth_state (F6): re-run
        // the rules on what was stored at login, so a changed configuration still applies.
        tracing::debug!(user = %name, "Globus tokens for a refresh are not kept; re-checking stored info");
        let mut model = AuthModel::named(name);
        model.admin = core.rules.is_admin(&core.rules.normalize_username(name));
        model.auth_state = Some(auth_state.clone());
        let groups = Self::groups_of(&model);
        self.globus_admin(&mut model, &groups);
        if core.config.base.manage_groups {
            model.groups = Some(core.user_groups(auth_state));
            core.rules.apply_managed_groups(&mut model);
        }
        Some(Ok(RefreshOutcome::Updated(Box::new(model))))
    }

    /// `globus_data`: the JSON of [`crate::app_data`] plus `globus_local_endpoint` (what
    /// upstream pickled into `GLOBUS_DATA`), and `globus_local_endpoint` on its own (upstream's
    /// `GLOBUS_LOCAL_ENDPOINT`), for `[Hub] auth_state_headers`.
    fn app_data(
        &self,
        _core: &OAuthCore,
        auth_state: Option<&Value>,
    ) -> serde_json::Map<String, Value> {
        let endpoint = Value::String(self.config.globus_local_endpoint.clone());
        let mut out = serde_json::Map::new();
        if let Some(state) = auth_state {
            let mut data = crate::app_data(state);
            if let Value::Object(fields) = &mut data {
                fields.insert("globus_local_endpoint".to_owned(), endpoint.clone());
            }
            out.insert("globus_data".to_owned(), data);
        }
        out.insert("globus_local_endpoint".to_owned(), endpoint);
        out
    }

    async fn on_logout(
        &self,
        core: &OAuthCore,
        name: &str,
        auth_state: Option<&Value>,
    ) -> LogoutEffects {
        if !self.config.revoke_tokens_on_logout {
            return LogoutEffects::default();
        }
        let Some(Value::Object(state)) = auth_state else {
            return LogoutEffects::default();
        };
        let tokens = state
            .get("tokens")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let mut failures: Vec<RevokeError> = Vec::new();
        let mut total = 0usize;
        for token in tokens.values() {
            for field in ["access_token", "refresh_token"] {
                if let Some(value) = token
                    .get(field)
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                {
                    total += 1;
                    if let Err(err) = self.revoke(core, value).await {
                        failures.push(err);
                    }
                }
            }
        }
        let services: Vec<&String> = tokens.keys().collect();
        let warning = if let Some(first) = failures.first() {
            tracing::warn!(user = %name, ?services, failed = failures.len(), total, error = %first, "Logout: could not revoke every Globus token");
            Some(format!(
                "You are logged out, but {} of your {total} Globus tokens could not be revoked ({first}). They stay valid until they expire; you can revoke them at app.globus.org/account/consents.",
                failures.len()
            ))
        } else {
            tracing::info!(user = %name, ?services, "Logout: revoked Globus tokens");
            None
        };
        let mut replacement = state.clone();
        replacement.insert("tokens".into(), Value::Object(Map::new()));
        LogoutEffects {
            auth_state: Some(Value::Object(replacement)),
            warning,
        }
    }
}
