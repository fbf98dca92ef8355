//! The Azure AD provider: the user is the verified ID token of the token response.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use hubauth_config::{ClassView, ConfigError};
use hubauth_core::AuthError;
use hubauth_local::Local;
use hubauth_oauth::http::send;
use hubauth_oauth::id_token::{Expectations, IdTokenError, KeySet};
use hubauth_oauth::{ClaimRule, OAuthConfig, OAuthCore, OAuthenticator, Provider, TokenResponse};
use serde_json::Value;
use tokio::sync::RwLock;

use crate::error::AzureError;
use crate::graph;
use crate::options::{AzureConfig, EndpointVersion};

/// The tenant of personal Microsoft accounts (`consumers`), as Microsoft documents it.
const CONSUMERS_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// The placeholder Azure's multi-tenant discovery documents put in their issuer.
const TENANT_PLACEHOLDER: &str = "{tenantid}";

/// A tenant's issuer and signing keys for one endpoint version, from its discovery
/// document.
#[derive(Debug)]
struct TenantKeys {
    /// The issuer (a template with `{tenantid}` for multi-tenant authorities).
    issuer: String,
    /// The signing keys.
    keys: KeySet,
    /// The keys published for this application (`jwks_uri` with `?appid=`): an app with
    /// its own signing keys (claims mapping) has its ID tokens signed by a key that the
    /// tenant's plain key set does not list.
    app_keys: KeySet,
}

/// Azure AD's behaviour (upstream's `AzureAdOAuthenticator`), with the ID token verified.
#[derive(Debug)]
pub struct AzureAd {
    config: AzureConfig,
    warnings: Vec<String>,
    tenants: RwLock<HashMap<EndpointVersion, Arc<TenantKeys>>>,
}

/// `AzureAdOAuthenticator`.
pub type AzureAdOAuthenticator = OAuthenticator<AzureAd>;

/// `LocalAzureAdOAuthenticator`: AzureAdOAuthenticator whose users are local UNIX users.
pub type LocalAzureAdOAuthenticator = Local<AzureAdOAuthenticator>;

impl AzureAd {
    /// The provider for validated options; `warnings` are reported at start-up.
    pub fn new(config: AzureConfig, warnings: Vec<String>) -> Self {
        AzureAd {
            config,
            warnings,
            tenants: RwLock::new(HashMap::new()),
        }
    }

    /// The Azure options.
    pub fn config(&self) -> &AzureConfig {
        &self.config
    }

    /// The tenant's issuer and keys for `version`, from the discovery document (fetched
    /// once; a failure is retried at the next login).
    async fn tenant_keys(
        &self,
        core: &OAuthCore,
        version: EndpointVersion,
    ) -> Result<Arc<TenantKeys>, AzureError> {
        if let Some(found) = self.tenants.read().await.get(&version) {
            return Ok(found.clone());
        }
        let mut slot = self.tenants.write().await;
        if let Some(found) = slot.get(&version) {
            return Ok(found.clone());
        }
        let url = self.config.discovery_url(version);
        let unusable = |detail: String| AzureError::Discovery {
            url: url.clone(),
            detail,
        };
        let response = send(
            "Azure AD discovery",
            core.http().get(&url).header("accept", "application/json"),
        )
        .await
        .map_err(|err| unusable(err.to_string()))?;
        if response.status != 200 {
            return Err(unusable(format!("HTTP {}", response.status)));
        }
        let json = response
            .json
            .ok_or_else(|| unusable("the answer is not JSON".to_owned()))?;
        let text = |key: &str| {
            json.get(key)
                .and_then(Value::as_str)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| unusable(format!("no {key}")))
        };
        let issuer = text("issuer")?;
        let jwks_url = if core.config.jwks_url.is_empty() {
            text("jwks_uri")?
        } else {
            core.config.jwks_url.clone()
        };
        let parsed =
            url::Url::parse(&jwks_url).map_err(|err| unusable(format!("jwks_uri: {err}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(unusable("jwks_uri is not an http(s) URL".to_owned()));
        }
        let mut app_jwks = parsed.clone();
        app_jwks
            .query_pairs_mut()
            .append_pair("appid", &core.config.client_id);
        let found = Arc::new(TenantKeys {
            issuer,
            keys: KeySet::new(jwks_url, core.http().clone()),
            app_keys: KeySet::new(app_jwks.to_string(), core.http().clone()),
        });
        slot.insert(version, found.clone());
        Ok(found)
    }

    /// Verifies an ID token: signature against the tenant's keys, audience (and trusted
    /// audiences), expiry, nonce, `at_hash` against `access_token`, then the issuer and
    /// tenant.
    pub async fn verify(
        &self,
        core: &OAuthCore,
        id_token: &str,
        access_token: &str,
        nonce: Option<&str>,
        now: i64,
    ) -> Result<Value, AzureError> {
        let version = token_version(id_token).unwrap_or(self.config.version());
        let tenant = self.tenant_keys(core, version).await?;
        let expect = Expectations {
            issuer: None,
            client_id: &core.config.client_id,
            trusted_audiences: &core.config.trusted_audiences,
            access_token: Some(access_token),
            nonce,
            now,
        };
        let claims = if hubauth_oauth::id_token::is_unsigned(id_token) {
            // Microsoft documents unsigned ID tokens in token endpoint responses (v1, and
            // v2.0 refreshes). OIDC Core 3.1.3.7 lets TLS server validation stand in for
            // the signature there, and only there: every ID token hubauth reads comes from
            // the token endpoint, so what is left to check is that channel.
            if !Self::token_channel_is_validated_tls(core) {
                return Err(AzureError::UnsignedOverUntrustedChannel);
            }
            hubauth_oauth::id_token::unsigned_claims(id_token, &expect)?
        } else {
            match tenant.keys.verify(id_token, &expect).await {
                // Not one of the tenant's keys: maybe the app's own (Microsoft publishes
                // those only at the keys URL with ?appid=).
                Err(IdTokenError::UnknownKey(_)) => {
                    tenant.app_keys.verify(id_token, &expect).await?
                }
                other => other?,
            }
        };
        Self::check_issuer(&tenant.issuer, &claims)?;
        if self.config.tenant_id.eq_ignore_ascii_case("organizations")
            && claims.get("tid").and_then(Value::as_str) == Some(CONSUMERS_TENANT)
        {
            // `organizations` means work and school accounts: a personal account's token
            // matches the issuer template but is not one of them.
            return Err(AzureError::OtherTenant {
                found: CONSUMERS_TENANT.to_owned(),
            });
        }
        Ok(claims)
    }

    /// Whether token responses arrive over https with the server's certificate validated
    /// (`validate_server_cert` on), the condition for trusting an unsigned ID token.
    fn token_channel_is_validated_tls(core: &OAuthCore) -> bool {
        let https =
            url::Url::parse(&core.config.token_url).is_ok_and(|url| url.scheme() == "https");
        https && core.config.http.validate_cert
    }

    /// The user's groups from Microsoft Graph, with the access token of `token`.
    async fn graph_groups(
        &self,
        core: &OAuthCore,
        token: &TokenResponse,
    ) -> Result<Vec<String>, AuthError> {
        let groups =
            graph::member_groups(core.http(), &self.config.graph_api_url, &token.access_token)
                .await
                .map_err(|err| {
                    tracing::warn!(error = %err, "Microsoft Graph group lookup failed");
                    AuthError::from(err)
                })?;
        tracing::info!(
            count = groups.len(),
            "the user's groups were read from Microsoft Graph"
        );
        Ok(groups)
    }

    /// A refresh that returned no ID token (Azure's v1 refresh never does): the stored,
    /// verified claims stay the user's identity (the refresh grant succeeding shows that
    /// the account is still enabled), and when groups decide anything they are read again
    /// from Microsoft Graph with the new access token, after Graph confirms that the token
    /// is the same user's. Without Graph, nothing can prove the groups: a new sign-in.
    async fn refresh_without_id_token(
        &self,
        core: &OAuthCore,
        token: &TokenResponse,
        previous: &Value,
    ) -> Result<Value, AuthError> {
        let mut user = previous
            .get("user")
            .filter(|user| user.is_object())
            .cloned()
            .ok_or(AzureError::RefreshWithoutIdToken)?;
        let rules = &core.config.base;
        let groups_matter = rules.manage_groups
            || !rules.group_rules.allowed_groups.is_empty()
            || !rules.group_rules.admin_groups.is_empty();
        if !groups_matter {
            return Ok(user);
        }
        if !self.config.graph_groups_fallback {
            return Err(AzureError::RefreshWithoutIdToken.into());
        }
        let me = graph::me_id(core.http(), &self.config.graph_api_url, &token.access_token)
            .await
            .map_err(AuthError::from)?;
        if user.get("oid").and_then(Value::as_str) != Some(me.as_str()) {
            return Err(AzureError::OtherUser.into());
        }
        let groups = self.graph_groups(core, token).await?;
        if let Value::Object(map) = &mut user {
            map.remove("_claim_names");
            map.remove("_claim_sources");
            map.remove("hasgroups");
            map.insert("groups".into(), serde_json::json!(groups));
        }
        Ok(user)
    }

    /// The issuer must be the tenant's; for a multi-tenant authority, the template with the
    /// token's own `tid`.
    fn check_issuer(template: &str, claims: &Value) -> Result<(), AzureError> {
        let iss = claims
            .get("iss")
            .and_then(Value::as_str)
            .ok_or(AzureError::IdToken(
                hubauth_oauth::id_token::IdTokenError::MissingClaim("iss"),
            ))?;
        let tid = claims.get("tid").and_then(Value::as_str);
        let expected = if template.contains(TENANT_PLACEHOLDER) {
            let tid = tid.ok_or(AzureError::NoTenant)?;
            if tid.is_empty() || !tid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(AzureError::NoTenant);
            }
            template.replace(TENANT_PLACEHOLDER, tid)
        } else {
            template.to_owned()
        };
        if let Some(tid) = tid
            && !expected.contains(tid)
        {
            return Err(AzureError::OtherTenant {
                found: tid.to_owned(),
            });
        }
        // Exact: v1 issuers end in "/" and v2.0 ones do not, as the discovery documents
        // spell them.
        if iss != expected {
            return Err(AzureError::IdToken(
                hubauth_oauth::id_token::IdTokenError::WrongIssuer {
                    expected,
                    found: iss.to_owned(),
                },
            ));
        }
        Ok(())
    }
}

impl AzureAd {
    /// On the v1 endpoints the access token is for the `resource` of the request; without
    /// one it is for the retired Azure AD Graph, which Microsoft Graph refuses. With
    /// `graph_groups_fallback`, ask for Microsoft Graph unless a `resource` is configured
    /// (`extra_authorize_params`, `token_params`).
    fn add_graph_resource(&self, params: &mut Vec<(String, String)>) {
        let v1 = self.config.version() == EndpointVersion::V1;
        if v1
            && self.config.graph_groups_fallback
            && !params.iter().any(|(key, _)| key == "resource")
        {
            params.push(("resource".to_owned(), self.config.graph_api_url.clone()));
        }
    }
}

/// The `ver` claim of a token, read without verification only to pick which discovery
/// document (v1 or v2.0) its issuer and keys come from; the token is verified afterwards.
fn token_version(token: &str) -> Option<EndpointVersion> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    match claims.get("ver").and_then(Value::as_str)? {
        "1.0" => Some(EndpointVersion::V1),
        "2.0" => Some(EndpointVersion::V2),
        _ => None,
    }
}

#[async_trait]
impl Provider for AzureAd {
    fn class_name(&self) -> &'static str {
        "AzureAdOAuthenticator"
    }

    fn user_auth_state_key(&self) -> &'static str {
        "user"
    }

    async fn id_token_claims(
        &self,
        core: &OAuthCore,
        token: &TokenResponse,
        nonce: Option<&str>,
        now: i64,
    ) -> Result<Option<Value>, AuthError> {
        let Some(id_token) = token.id_token.as_deref() else {
            // A login without an ID token has no user; a refresh may lack one (v1).
            return match nonce {
                Some(_) => Err(AzureError::NoIdToken.into()),
                None => Ok(None),
            };
        };
        match self
            .verify(core, id_token, &token.access_token, nonce, now)
            .await
        {
            Ok(claims) => Ok(Some(claims)),
            Err(err) => {
                tracing::warn!(error = %err, "Azure AD ID token refused");
                Err(err.into())
            }
        }
    }

    async fn token_to_user(
        &self,
        core: &OAuthCore,
        token: &TokenResponse,
        id_claims: Option<&Value>,
    ) -> Result<Value, AuthError> {
        let mut user = id_claims.cloned().ok_or(AzureError::NoIdToken)?;
        if graph::has_group_overage(&user) && core.config.base.manage_groups {
            if self.config.graph_groups_fallback {
                let groups = self.graph_groups(core, token).await?;
                if let Value::Object(map) = &mut user {
                    map.insert("groups".into(), serde_json::json!(groups));
                }
            } else {
                tracing::warn!(
                    "group overage: the ID token lists no groups and graph_groups_fallback is off, so the user is treated as in no group"
                );
            }
        }
        Ok(user)
    }

    async fn refreshed_token_to_user(
        &self,
        core: &OAuthCore,
        token: &TokenResponse,
        id_claims: Option<&Value>,
        previous: &Value,
    ) -> Result<Value, AuthError> {
        match id_claims {
            Some(_) => self.token_to_user(core, token, id_claims).await,
            None => self.refresh_without_id_token(core, token, previous).await,
        }
    }

    fn authorize_params(&self, core: &OAuthCore, params: &mut Vec<(String, String)>) {
        let _ = core;
        self.add_graph_resource(params);
    }

    fn token_request_params(&self, core: &OAuthCore, params: &mut Vec<(String, String)>) {
        let _ = core;
        self.add_graph_resource(params);
    }

    /// Azure AD never sends `email_verified`; its optional claim `xms_edov` ("email domain
    /// owner verified") is Microsoft's documented statement that the address's domain is
    /// verified by the tenant that owns it. Only JSON `true` counts.
    fn email_verified_by_provider(&self, _core: &OAuthCore, user_info: &Value) -> bool {
        hubauth_oauth::identity::is_verified(user_info.get("xms_edov"))
    }

    fn refresh_reuses_stored_tokens(&self) -> bool {
        // The stored ID token says nothing about the user's current state at Azure AD:
        // every refresh uses the refresh token, so a disabled user loses access.
        false
    }

    fn startup_warnings(&self, core: &OAuthCore) -> Vec<String> {
        let _ = core;
        self.warnings.clone()
    }
}

/// Builds an `AzureAdOAuthenticator` from its class view.
pub fn azuread_from_view(view: &ClassView<'_>) -> Result<AzureAdOAuthenticator, ConfigError> {
    let azure = AzureConfig::from_view(view)?;
    let mut config = OAuthConfig::from_view(view)?;
    let class = azure.class_name.clone();
    let mut warnings = Vec::new();
    if !azure.user_groups_claim.is_empty() {
        let claim = &azure.user_groups_claim;
        let message = format!(
            "{class}.user_groups_claim is deprecated in OAuthenticator 17. Use {class}.auth_state_groups_key = 'user.{claim}'"
        );
        tracing::warn!("{message}");
        warnings.push(message);
        if !view.is_set("auth_state_groups_key") {
            config.auth_state_groups_key = Some(ClaimRule::path(format!("user.{claim}")));
        }
    }
    if config.client_id.is_empty() {
        return Err(view.invalid(
            "client_id",
            "is not set (in the config file or OAUTH_CLIENT_ID)",
        ));
    }
    if config.authorize_url.is_empty() {
        config.authorize_url = azure.default_authorize_url();
    }
    if config.token_url.is_empty() {
        config.token_url = azure.default_token_url();
    }
    if !config.scope.iter().any(|scope| scope == "openid") {
        config.scope.insert(0, "openid".to_owned());
    }
    if azure.use_v2_endpoints && azure.graph_groups_fallback {
        graph_scope_for_v2(&azure, &mut config.scope, &mut warnings);
    }
    if let Some(warning) = username_claim_never_sent(&azure, &config) {
        warnings.push(warning);
    }
    if !config.userdata_url.is_empty() {
        warnings.push(format!(
            "{class}.userdata_url is not used: Azure AD users are read from the verified ID token"
        ));
    }
    if matches!(&config.username_claim, ClaimRule::Path(path) if path == "name") {
        warnings.push(format!(
            "{class}.username_claim is \"name\", the user's display name, which is neither unique nor stable: two people can share a display name and it can change, so one person could log in as another's hub user. Set {class}.username_claim = \"oid\" (the user's stable object id) (or \"upn\" on the v1 endpoints, \"preferred_username\" with the profile scope on v2.0)."
        ));
    }
    let core = OAuthCore::new(config).map_err(|err| view.invalid("http_request_kwargs", err))?;
    Ok(OAuthenticator::new(core, AzureAd::new(azure, warnings)))
}

/// The scopes of the OpenID Connect protocol itself; every other v2.0 scope names a
/// resource's permission (a bare name such as `User.Read` is Microsoft Graph's).
const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// On the v2.0 endpoints the access token is for the resource the scopes name. For Graph
/// lookups it must be Microsoft Graph's with `User.Read` (enough for
/// `getMemberObjects` and `/me`): added when no scope names a resource; a warning when one
/// names another resource, whose token Graph refuses.
fn graph_scope_for_v2(azure: &AzureConfig, scope: &mut Vec<String>, warnings: &mut Vec<String>) {
    let class = &azure.class_name;
    let graph = &azure.graph_api_url;
    let resources: Vec<&String> = scope
        .iter()
        .filter(|s| !OIDC_SCOPES.contains(&s.as_str()))
        .collect();
    if resources.is_empty() {
        scope.push(format!("{graph}/User.Read"));
        return;
    }
    let is_graph = |s: &str| !s.contains("://") || s.starts_with(&format!("{graph}/"));
    if let Some(other) = resources.iter().find(|s| !is_graph(s)) {
        warnings.push(format!(
            "{class}.scope names a scope of another resource than Microsoft Graph ({other:?}), so the access token is for that resource and Microsoft Graph refuses it: users in more groups than fit in the ID token (group overage) will be refused, and refreshes that must re-check groups will need a new sign-in. Request only Microsoft Graph permissions besides the OpenID scopes, or set {class}.graph_groups_fallback = false."
        ));
    }
}

/// A warning when `username_claim` names a claim that the configured endpoints never put
/// in the ID token: every login would then fail. v1 tokens have no
/// `preferred_username`; v2.0 tokens have `name`, `preferred_username` and `oid` only
/// with the `profile` scope, and `email` only with `email`.
fn username_claim_never_sent(azure: &AzureConfig, config: &OAuthConfig) -> Option<String> {
    let ClaimRule::Path(path) = &config.username_claim else {
        return None;
    };
    let claim = path.split('.').next().unwrap_or_default();
    let class = &azure.class_name;
    let has = |scope: &str| config.scope.iter().any(|s| s == scope);
    match azure.version() {
        EndpointVersion::V1 if claim == "preferred_username" => Some(format!(
            "{class}.username_claim is \"preferred_username\", which v1 ID tokens do not have (it exists only in v2.0 tokens), so every login would fail. On the v1 endpoints use \"upn\" or \"oid\" (the stable object id), or set {class}.use_v2_endpoints = true."
        )),
        EndpointVersion::V2
            if ["name", "preferred_username", "oid"].contains(&claim) && !has("profile") =>
        {
            Some(format!(
                "{class}.username_claim is {claim:?}, which v2.0 ID tokens carry only with the \"profile\" scope, and {class}.scope does not request it, so every login would fail. Add \"profile\" to {class}.scope."
            ))
        }
        EndpointVersion::V2 if claim == "email" && !has("email") => Some(format!(
            "{class}.username_claim is \"email\", which v2.0 ID tokens carry only with the \"email\" scope, and {class}.scope does not request it, so every login would fail. Add \"email\" to {class}.scope."
        )),
        _ => None,
    }
}

/// Builds a `LocalAzureAdOAuthenticator` from its class view.
pub fn local_azuread_from_view(
    view: &ClassView<'_>,
) -> Result<LocalAzureAdOAuthenticator, ConfigError> {
    Local::from_view(view, azuread_from_view)
}
