//! `OAuthCore`: the configured client and the protocol steps every provider shares.

use std::sync::Arc;

use base64::Engine as _;
use hubauth_core::{AuthError, AuthModel, PendingRedirect, Rules};
use serde_json::{Map, Value, json};
use sha2::Digest;
use tokio::sync::RwLock;

use crate::claims::{as_groups, as_name};
use crate::discovery::discover;
use crate::http::{send, upstream};
use crate::id_token::{Expectations, IdTokenError, KeySet};
use crate::options::{BasicCredentials, OAuthConfig, TokenMethod, param_value};
use crate::token::TokenResponse;

/// The endpoints in use, from configuration and (when `oidc_issuer` is set) discovery.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoints {
    /// Authorization endpoint.
    pub authorize_url: String,
    /// Token endpoint.
    pub token_url: String,
    /// User info endpoint (empty when not known).
    pub userdata_url: String,
    /// JWKS URL (empty when not known).
    pub jwks_url: String,
    /// RP-initiated logout endpoint (empty when not known).
    pub end_session_url: String,
    /// The issuer ID tokens must name (empty when not known).
    pub issuer: String,
    /// Whether the provider puts `iss` in authorization responses (RFC 9207).
    pub iss_in_response: bool,
    /// Whether `userdata_url` is the provider's OpenID Connect UserInfo endpoint (as its
    /// discovery document names it), whose answers always carry `sub` (OIDC Core 5.3.2).
    /// False for an explicitly configured URL the document does not name, which may be a
    /// plain API (Nextcloud's OCS, GitHub's /user) without `sub`.
    pub userinfo_is_oidc: bool,
}

/// Endpoints and signing keys, once resolved.
#[derive(Debug)]
pub struct Resolved {
    /// The endpoints.
    pub endpoints: Endpoints,
    /// The signing keys, when a JWKS URL is known.
    pub keys: Option<Arc<KeySet>>,
}

/// Endpoints a provider finds its own way at first use, after the configured ones and
/// OpenID Connect discovery (OpenShift reads its OAuth server's RFC 8414 metadata). It
/// fills in what is still empty; an error is not remembered, so the next use asks again.
#[async_trait::async_trait]
pub trait EndpointDiscovery: Send + Sync + std::fmt::Debug {
    /// Completes `endpoints`, fetching with `client` (the provider's HTTP client).
    async fn discover(
        &self,
        client: &reqwest::Client,
        endpoints: &mut Endpoints,
    ) -> Result<(), AuthError>;
}

/// The OAuth client: validated options, the HTTP client, endpoints and signing keys.
pub struct OAuthCore {
    /// The options.
    pub config: OAuthConfig,
    /// The base rules (built from `config.base`).
    pub rules: Rules,
    client: reqwest::Client,
    resolved: RwLock<Option<Arc<Resolved>>>,
    discovery: Option<Arc<dyn EndpointDiscovery>>,
}

impl std::fmt::Debug for OAuthCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthCore")
            .field("client_id", &self.config.client_id)
            .finish_non_exhaustive()
    }
}

const TOKEN_STEP: &str = "token request to the identity provider";
const USERINFO_STEP: &str = "user info request to the identity provider";

impl OAuthCore {
    /// Builds the client from validated options.
    pub fn new(config: OAuthConfig) -> Result<Self, String> {
        let client = config.http.build_client()?;
        let rules = Rules::new(config.base.clone());
        Ok(OAuthCore {
            config,
            rules,
            client,
            resolved: RwLock::new(None),
            discovery: None,
        })
    }

    /// The same client, completing its endpoints at first use with `discovery` (none by
    /// default).
    pub fn with_endpoint_discovery(mut self, discovery: Arc<dyn EndpointDiscovery>) -> Self {
        self.discovery = Some(discovery);
        self
    }

    /// The HTTP client for provider requests (no redirects followed, timeouts set).
    pub fn http(&self) -> &reqwest::Client {
        &self.client
    }

    /// The endpoints, discovering them on first use when `oidc_issuer` is set. A failed
    /// discovery is retried at the next call.
    pub async fn endpoints(&self) -> Result<Arc<Resolved>, AuthError> {
        if let Some(resolved) = self.resolved.read().await.as_ref() {
            return Ok(resolved.clone());
        }
        let mut slot = self.resolved.write().await;
        if let Some(resolved) = slot.as_ref() {
            return Ok(resolved.clone());
        }
        let config = &self.config;
        let mut endpoints = Endpoints {
            authorize_url: config.authorize_url.clone(),
            token_url: config.token_url.clone(),
            userdata_url: config.userdata_url.clone(),
            jwks_url: config.jwks_url.clone(),
            end_session_url: String::new(),
            issuer: config.oidc_issuer.clone(),
            iss_in_response: false,
            userinfo_is_oidc: false,
        };
        if !config.oidc_issuer.is_empty() {
            let metadata = discover(&self.client, &config.oidc_issuer).await?;
            let fill = |field: &mut String, value: Option<String>| {
                if field.is_empty() {
                    *field = value.unwrap_or_default();
                }
            };
            fill(
                &mut endpoints.authorize_url,
                Some(metadata.authorization_endpoint),
            );
            fill(&mut endpoints.token_url, Some(metadata.token_endpoint));
            if !config.userdata_from_id_token {
                endpoints.userinfo_is_oidc =
                    metadata.userinfo_endpoint.as_deref().is_some_and(|named| {
                        endpoints.userdata_url.is_empty() || endpoints.userdata_url == named
                    });
                fill(&mut endpoints.userdata_url, metadata.userinfo_endpoint);
            }
            fill(&mut endpoints.jwks_url, metadata.jwks_uri);
            fill(
                &mut endpoints.end_session_url,
                metadata.end_session_endpoint,
            );
            endpoints.iss_in_response = metadata.authorization_response_iss_parameter_supported;
        }
        if let Some(discovery) = &self.discovery {
            discovery.discover(&self.client, &mut endpoints).await?;
        }
        let keys = (!endpoints.jwks_url.is_empty())
            .then(|| Arc::new(KeySet::new(endpoints.jwks_url.clone(), self.client.clone())));
        let resolved = Arc::new(Resolved { endpoints, keys });
        *slot = Some(resolved.clone());
        Ok(resolved)
    }

    /// The authorization URL for a login attempt, with PKCE and nonce when enabled.
    /// Returns the URL and what must be kept for the callback.
    pub async fn authorize_url(
        &self,
        state: &str,
        redirect_uri: &str,
        extra: impl FnOnce(&mut Vec<(String, String)>),
    ) -> Result<(String, PendingRedirect), AuthError> {
        let resolved = self.endpoints().await?;
        let endpoints = &resolved.endpoints;
        let config = &self.config;
        let mut params: Vec<(String, String)> = vec![
            ("response_type".into(), "code".into()),
            ("redirect_uri".into(), redirect_uri.to_owned()),
            ("client_id".into(), config.client_id.clone()),
        ];
        for (key, value) in &config.extra_authorize_params {
            set_param(&mut params, key, param_value(value));
        }
        set_param(&mut params, "state", state.to_owned());
        let mut pending = PendingRedirect::default();
        if config.enable_pkce {
            let verifier = random_b64(32);
            let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(sha2::Sha256::digest(verifier.as_bytes()));
            set_param(&mut params, "code_challenge", challenge);
            set_param(&mut params, "code_challenge_method", "S256".to_owned());
            pending.code_verifier = Some(verifier);
        }
        if config.wants_id_token() {
            let nonce = random_b64(24);
            set_param(&mut params, "nonce", nonce.clone());
            pending.nonce = Some(nonce);
        }
        if !config.scope.is_empty() {
            set_param(&mut params, "scope", config.scope.join(" "));
        }
        extra(&mut params);
        let mut url = url::Url::parse(&endpoints.authorize_url)
            .map_err(|err| AuthError::Internal(format!("authorize_url is not a URL: {err}")))?;
        url.query_pairs_mut().extend_pairs(params.iter());
        Ok((url.to_string(), pending))
    }

    /// Checks the `iss` parameter of an authorization response (RFC 9207, a defence
    /// against mix-up attacks): when present it must be the issuer, and it must be present
    /// when the provider says it sends it.
    pub async fn check_response_issuer(&self, iss: Option<&str>) -> Result<(), AuthError> {
        let resolved = self.endpoints().await?;
        let endpoints = &resolved.endpoints;
        if endpoints.issuer.is_empty() {
            return Ok(());
        }
        let refuse = |detail: &str| AuthError::Http {
            status: 400,
            message: format!("OAuth error: {detail}"),
        };
        // Exact comparison, as for the ID token's `iss` (RFC 9207 section 2.4).
        match iss {
            Some(iss) if iss != endpoints.issuer => Err(refuse(
                "the authorization response came from another issuer",
            )),
            None if endpoints.iss_in_response => Err(refuse(
                "the authorization response does not name its issuer",
            )),
            _ => Ok(()),
        }
    }

    /// The standard token request parameters for an authorization code.
    pub fn code_params(
        &self,
        code: &str,
        redirect_uri: &str,
        pending: &PendingRedirect,
    ) -> Result<Vec<(String, String)>, AuthError> {
        let mut params: Vec<(String, String)> = vec![
            ("code".into(), code.to_owned()),
            ("grant_type".into(), "authorization_code".into()),
            ("redirect_uri".into(), redirect_uri.to_owned()),
        ];
        if self.config.enable_pkce {
            let verifier = pending
                .code_verifier
                .as_deref()
                .ok_or_else(|| AuthError::Http {
                    status: 400,
                    message: "Missing code_verifier".into(),
                })?;
            params.push(("code_verifier".into(), verifier.to_owned()));
        }
        Ok(params)
    }

    /// POSTs a token request, authenticating the client by HTTP Basic (`basic_auth`) or in
    /// the body, never both; `token_params` are merged last.
    pub async fn request_token(
        &self,
        mut params: Vec<(String, String)>,
    ) -> Result<TokenResponse, AuthError> {
        self.post_token(&mut params, true).await
    }

    async fn post_token(
        &self,
        params: &mut Vec<(String, String)>,
        with_token_params: bool,
    ) -> Result<TokenResponse, AuthError> {
        let resolved = self.endpoints().await?;
        let config = &self.config;
        if !config.basic_auth {
            set_param(params, "client_id", config.client_id.clone());
            if !config.client_secret.is_empty() {
                set_param(
                    params,
                    "client_secret",
                    config.client_secret.expose().to_owned(),
                );
            }
        }
        if with_token_params {
            for (key, value) in &config.token_params {
                set_param(params, key, param_value(value));
            }
        }
        let mut request = self
            .client
            .post(&resolved.endpoints.token_url)
            .header("accept", "application/json")
            .form(&params);
        if config.basic_auth {
            request = request.header("authorization", self.basic_authorization());
        }
        let response = send(TOKEN_STEP, request).await?;
        let Some(json) = response.json else {
            return Err(upstream(
                TOKEN_STEP,
                format!(
                    "HTTP {}, and the answer is not JSON ({} bytes)",
                    response.status, response.len
                ),
            ));
        };
        if let Some(error) = json.get("error").and_then(Value::as_str) {
            let description = json
                .get("error_description")
                .and_then(Value::as_str)
                .unwrap_or(error);
            tracing::warn!(
                status = response.status,
                error,
                "token request refused by the identity provider"
            );
            return Err(AuthError::Http {
                status: 403,
                message: format!("An access token was not returned: {description}"),
            });
        }
        if !(200..300).contains(&response.status) {
            return Err(upstream(TOKEN_STEP, format!("HTTP {}", response.status)));
        }
        TokenResponse::from_json(json).map_err(|err| upstream(TOKEN_STEP, err))
    }

    /// The `Authorization` header value that authenticates this client with HTTP Basic:
    /// id and secret form-urlencoded first as RFC 6749 2.3.1 says (upstream did not), or
    /// raw when the provider reads them raw ([`BasicCredentials::Raw`]).
    pub fn basic_authorization(&self) -> String {
        let config = &self.config;
        let credentials = match config.basic_credentials {
            BasicCredentials::FormEncoded => format!(
                "{}:{}",
                form_encode(&config.client_id),
                form_encode(config.client_secret.expose())
            ),
            BasicCredentials::Raw => {
                format!("{}:{}", config.client_id, config.client_secret.expose())
            }
        };
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(credentials)
        )
    }

    /// Verifies an ID token against the provider's keys; `nonce` is required for a
    /// login's token and not for a refreshed one; `access_token` is the one that came with
    /// it, checked against `at_hash`.
    pub async fn verify_id_token(
        &self,
        id_token: &str,
        access_token: &str,
        nonce: Option<&str>,
        now: i64,
    ) -> Result<Value, AuthError> {
        let resolved = self.endpoints().await?;
        let Resolved { endpoints, keys } = resolved.as_ref();
        let keys = keys.as_ref().ok_or_else(|| {
            AuthError::Internal("an ID token must be verified but no signing keys (oidc_issuer or jwks_url) are configured".into())
        })?;
        let expect = Expectations {
            issuer: (!endpoints.issuer.is_empty()).then_some(endpoints.issuer.as_str()),
            client_id: &self.config.client_id,
            trusted_audiences: &self.config.trusted_audiences,
            access_token: Some(access_token),
            nonce,
            now,
        };
        keys.verify(id_token, &expect).await.map_err(|err| {
            tracing::warn!(error = %err, "ID token refused");
            id_token_refusal(err)
        })
    }

    /// The verified claims of a token response's ID token, when there is one and it is
    /// to be used (`userdata_from_id_token`, or signing keys known); else `None`.
    pub async fn default_id_token_claims(
        &self,
        token: &TokenResponse,
        nonce: Option<&str>,
        now: i64,
    ) -> Result<Option<Value>, AuthError> {
        match &token.id_token {
            Some(id_token)
                if self.config.userdata_from_id_token || self.can_verify_id_tokens().await =>
            {
                Ok(Some(
                    self.verify_id_token(id_token, &token.access_token, nonce, now)
                        .await?,
                ))
            }
            _ => Ok(None),
        }
    }

    /// Whether ID tokens can be verified (signing keys known).
    pub async fn can_verify_id_tokens(&self) -> bool {
        matches!(self.endpoints().await, Ok(resolved) if resolved.keys.is_some())
    }

    /// Default `token_to_user`: the verified ID token's claims, or the user info endpoint.
    pub async fn default_token_to_user(
        &self,
        token: &TokenResponse,
        id_claims: Option<&Value>,
    ) -> Result<Value, AuthError> {
        if self.config.userdata_from_id_token {
            return id_claims.cloned().ok_or_else(|| {
                upstream(TOKEN_STEP, "An id token was not returned; configure userdata_url or request the openid scope")
            });
        }
        self.fetch_user_info(token).await
    }

    /// GETs the user info endpoint with the access token.
    pub async fn fetch_user_info(&self, token: &TokenResponse) -> Result<Value, AuthError> {
        let resolved = self.endpoints().await?;
        let url = &resolved.endpoints.userdata_url;
        if url.is_empty() {
            return Err(AuthError::Internal(
                "authenticator.userdata_url is missing. Please configure it.".into(),
            ));
        }
        let mut query: Vec<(String, String)> = self
            .config
            .userdata_params
            .iter()
            .map(|(key, value)| (key.clone(), param_value(value)))
            .collect();
        if self.config.userdata_token_method == TokenMethod::Url {
            query.push(("access_token".into(), token.access_token.clone()));
        }
        let mut request = self
            .client
            .get(url)
            .query(&query)
            .header("accept", "application/json");
        // RFC 6750 section 2: one way of sending the token per request (upstream sent the
        // header in "url" mode too, which strict servers refuse).
        if self.config.userdata_token_method == TokenMethod::Header {
            request = request.header(
                "authorization",
                format!("{} {}", token.token_type, token.access_token),
            );
        }
        let response = send(USERINFO_STEP, request).await?;
        if (400..500).contains(&response.status) {
            return Err(AuthError::Http {
                status: 403,
                message: format!(
                    "The identity provider refused the access token (HTTP {}).",
                    response.status
                ),
            });
        }
        if !(200..300).contains(&response.status) {
            return Err(upstream(USERINFO_STEP, format!("HTTP {}", response.status)));
        }
        match response.json {
            Some(Value::Object(info)) => Ok(Value::Object(info)),
            _ => Err(upstream(USERINFO_STEP, "the answer is not a JSON object")),
        }
    }

    /// Default username: `username_claim` in the user info.
    pub fn default_username(&self, user_info: &Value) -> Result<String, AuthError> {
        let rule = &self.config.username_claim;
        let found = rule
            .find(user_info)
            .map_err(|err| AuthError::Internal(format!("username_claim: {err}")))?;
        found.as_ref().and_then(as_name).ok_or_else(|| {
            let keys: Vec<&String> = user_info.as_object().map(|o| o.keys().collect()).unwrap_or_default();
            tracing::error!(claim = %rule.describe(), ?keys, "username claim missing from user info");
            AuthError::Http {
                status: 403,
                message: format!(
                    "No {} found in the user info. Maybe the hub needs to be configured to request more scopes?",
                    rule.describe()
                ),
            }
        })
    }

    /// Default auth_state: upstream's keys, with the user info under `user_key`.
    pub fn default_auth_state(
        &self,
        token: &TokenResponse,
        user_info: &Value,
        user_key: &str,
    ) -> Value {
        let mut state = Map::new();
        state.insert("access_token".into(), json!(token.access_token));
        state.insert("refresh_token".into(), json!(token.refresh_token));
        state.insert("id_token".into(), json!(token.id_token));
        state.insert("scope".into(), json!(token.scopes(&self.config.scope)));
        state.insert("token_response".into(), Value::Object(token.raw.clone()));
        state.insert(user_key.to_owned(), user_info.clone());
        Value::Object(state)
    }

    /// The user's groups from auth_state by `auth_state_groups_key`.
    pub fn user_groups(&self, auth_state: &Value) -> Vec<String> {
        let Some(rule) = &self.config.auth_state_groups_key else {
            return Vec::new();
        };
        match rule.find(auth_state) {
            Ok(Some(value)) => match as_groups(&value) {
                Ok(groups) => groups,
                Err(found) => {
                    tracing::error!(key = %rule.describe(), found = %found, "The value of the auth_state_groups_key is invalid");
                    Vec::new()
                }
            },
            Ok(None) => {
                let keys: Vec<&String> = auth_state
                    .as_object()
                    .map(|o| o.keys().collect())
                    .unwrap_or_default();
                tracing::error!(key = %rule.describe(), ?keys, "The auth_state_groups_key does not exist in the auth_state");
                Vec::new()
            }
            Err(err) => {
                tracing::error!(error = %err, "auth_state_groups_key script failed");
                Vec::new()
            }
        }
    }

    /// OAuth's extra allow rules: all `allowed_scopes` granted, or admin.
    pub fn oauth_allows(&self, name: &str, model: &AuthModel) -> bool {
        let config = &self.config;
        if !config.allowed_scopes.is_empty() {
            let granted = auth_state_strings(model, "scope");
            if config
                .allowed_scopes
                .iter()
                .all(|scope| granted.contains(scope))
            {
                tracing::info!(user = %name, scopes = ?config.allowed_scopes, "Granting access to user, as they had the allowed scopes");
                return true;
            }
        }
        model.admin == Some(true)
    }

    /// A refresh-token grant (no `token_params`, no PKCE, as upstream).
    pub async fn refresh_grant(&self, refresh_token: &str) -> Result<TokenResponse, AuthError> {
        let mut params = vec![
            ("grant_type".to_owned(), "refresh_token".to_owned()),
            ("refresh_token".to_owned(), refresh_token.to_owned()),
        ];
        let mut token = self.post_token(&mut params, false).await?;
        if token.refresh_token.is_none() {
            token.refresh_token = Some(refresh_token.to_owned());
            token
                .raw
                .insert("refresh_token".into(), json!(refresh_token));
        }
        Ok(token)
    }
}

/// The error page for a refused ID token: 403 naming the check (502 when the keys could
/// not be fetched).
pub fn id_token_refusal(err: IdTokenError) -> AuthError {
    match err {
        IdTokenError::KeysUnavailable(detail) => {
            upstream("fetching the identity provider's signing keys", detail)
        }
        other => AuthError::Http {
            status: 403,
            message: format!("Login refused: {other}."),
        },
    }
}

/// Replaces a parameter's value, or appends it (later values win, like upstream's dict merge).
pub fn set_param(params: &mut Vec<(String, String)>, key: &str, value: String) {
    params.retain(|(existing, _)| existing != key);
    params.push((key.to_owned(), value));
}

fn form_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn random_b64(len: usize) -> String {
    use rand::RngCore;
    let mut bytes = vec![0u8; len];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The strings of the list `key` in a model's auth_state (`scope`, `globus_groups`);
/// empty when there is no such list. Items that are not strings are skipped.
pub fn auth_state_strings(model: &AuthModel, key: &str) -> Vec<String> {
    model
        .auth_state
        .as_ref()
        .and_then(|state| state.get(key))
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}
