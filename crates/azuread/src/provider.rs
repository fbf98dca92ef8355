//! The Azure AD provider: the user is the verified ID token of the token response.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use hubauth_config::{ClassView, ConfigError};
use hubauth_core::AuthError;
use hubauth_local::Local;
use hubauth_oauth::http::send;
use hubauth_oauth::id_token::{Expectations, KeySet};
use hubauth_oauth::{ClaimRule, OAuthConfig, OAuthCore, OAuthenticator, Provider, TokenResponse};
use serde_json::Value;
use tokio::sync::RwLock;

use crate::error::AzureError;
use crate::graph;
use crate::options::{AzureConfig, EndpointVersion};

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
        let found = Arc::new(TenantKeys {
            issuer,
            keys: KeySet::new(jwks_url, core.http().clone()),
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
        let claims = tenant.keys.verify(id_token, &expect).await?;
        Self::check_issuer(&tenant.issuer, &claims)?;
        Ok(claims)
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
        let id_token = token.id_token.as_deref().ok_or(AzureError::NoIdToken)?;
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
                let groups = graph::member_groups(
                    core.http(),
                    &self.config.graph_api_url,
                    &token.access_token,
                )
                .await
                .map_err(|err| {
                    tracing::warn!(error = %err, "group overage: Microsoft Graph lookup failed");
                    AuthError::from(err)
                })?;
                tracing::info!(
                    count = groups.len(),
                    "group overage: the user's groups were read from Microsoft Graph"
                );
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
    if !config.userdata_url.is_empty() {
        warnings.push(format!(
            "{class}.userdata_url is not used: Azure AD users are read from the verified ID token"
        ));
    }
    if matches!(&config.username_claim, ClaimRule::Path(path) if path == "name") {
        warnings.push(format!(
            "{class}.username_claim is \"name\", the user's display name, which is neither unique nor stable: two people can share a display name and it can change, so one person could log in as another's hub user. Set {class}.username_claim = \"oid\" (the user's stable object id) or \"preferred_username\"."
        ));
    }
    let core = OAuthCore::new(config).map_err(|err| view.invalid("http_request_kwargs", err))?;
    Ok(OAuthenticator::new(core, AzureAd::new(azure, warnings)))
}

/// Builds a `LocalAzureAdOAuthenticator` from its class view.
pub fn local_azuread_from_view(
    view: &ClassView<'_>,
) -> Result<LocalAzureAdOAuthenticator, ConfigError> {
    Local::from_view(view, azuread_from_view)
}
