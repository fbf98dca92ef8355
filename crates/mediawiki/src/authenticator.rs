//! `MWOAuthenticator`: a MediaWiki login on the hub's Authenticator and redirect-login
//! interfaces.
//!
//! The OAuth 2.0 client of `hubauth-oauth` does not fit an OAuth 1.0a login, so this
//! crate drives the handshake itself ([`crate::wiki`]) and reuses the rest of
//! `OAuthenticator` from [`OAuthCore`]: the validated options, the HTTP client
//! (`validate_server_cert`, `http_request_kwargs`), `username_claim`,
//! `auth_state_groups_key`, the hooks and the rules.
//!
//! How a login at the wiki meets the hub's `oauth_login` / `oauth_callback`:
//!
//! 1. `begin` asks the wiki for a request token with a callback of the hub's callback URL
//!    plus `state` (the hub's single-use login id) and a fixed `code` (the hub's callback
//!    needs one; OAuth 1.0a has none). The wiki appends `oauth_verifier` and
//!    `oauth_token`. So the consumer must be registered with the hub's callback URL as a
//!    prefix ("Allow consumer to specify a callback in requests"), where upstream passed
//!    `oob` and kept the request token in a signed (not encrypted) cookie.
//! 2. The request token and its secret are kept in the hub's pending login, in the hub's
//!    database, never in a cookie: the secret as `code_verifier`, the token as `nonce`.
//! 3. `complete` checks that the callback's `oauth_token` is that request token, trades it
//!    and the verifier for an access token at `Special:OAuth/token`, and asks
//!    `Special:OAuth/identify` who the user is ([`crate::identity`]).

use std::collections::BTreeMap;

use async_trait::async_trait;
use hubauth_config::{ClassView, ConfigError};
use hubauth_core::{
    AuthError, AuthModel, Authenticator, LoginData, LoginKind, PendingRedirect, RedirectLogin,
    RedirectStart, RefreshOutcome, RequestContext, Rules, Secret,
};
use hubauth_oauth::identity::{check_email_verified, email_source};
use hubauth_oauth::{OAuthConfig, OAuthCore};
use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq;

use crate::error::{HandshakeError, IdentityError, Step};
use crate::identity::{self, Expected};
use crate::options::{MwConfig, netloc};
use crate::wiki::{TokenPair, Wiki};

/// The class name.
pub const CLASS_NAME: &str = "MWOAuthenticator";

/// Where the identity is kept in auth_state (upstream's `user_auth_state_key`).
pub const USER_AUTH_STATE_KEY: &str = "MEDIAWIKI_USER_IDENTITY";
/// auth_state key of the access token (upstream's name).
pub const ACCESS_TOKEN_KEY: &str = "ACCESS_TOKEN_KEY";
/// auth_state key of the access token's secret (upstream's name).
pub const ACCESS_TOKEN_SECRET: &str = "ACCESS_TOKEN_SECRET";

/// The `code` parameter of the callback URL given to the wiki. The hub's callback needs a
/// `code`; an OAuth 1.0a callback carries `oauth_verifier` instead, so a fixed value
/// stands in and the verifier is read from the callback's other parameters.
pub const CALLBACK_CODE: &str = "mediawiki-oauth1";

/// The login for the wiki named by `mw_index_url`.
pub struct MWOAuthenticator {
    core: OAuthCore,
    wiki: Wiki,
    issuer_netloc: String,
    warnings: Vec<String>,
}

impl std::fmt::Debug for MWOAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MWOAuthenticator")
            .field("wiki", &self.wiki)
            .finish_non_exhaustive()
    }
}

/// MediaWiki's user names keep their case; upstream only turns spaces into underscores
/// (`Alice Smith` logs in as `Alice_Smith`).
pub fn mw_normalize(name: &str) -> String {
    name.replace(' ', "_")
}

/// Builds `MWOAuthenticator` from its `[MWOAuthenticator]` view.
pub fn mediawiki_from_view(view: &ClassView<'_>) -> Result<MWOAuthenticator, ConfigError> {
    let mw = MwConfig::from_view(view)?;
    let mut oauth = OAuthConfig::from_view(view)?;
    if oauth.client_id.is_empty() {
        return Err(view.invalid(
            "client_id",
            "is not set: the consumer key the wiki issued (in the config file or OAUTH_CLIENT_ID)",
        ));
    }
    if oauth.client_secret.is_empty() {
        return Err(view.invalid(
            "client_secret",
            "is not set: the consumer secret the wiki issued, which signs every request and the identity (in the config file or OAUTH_CLIENT_SECRET)",
        ));
    }
    let mut warnings = Vec::new();
    if !oauth.base.username_map.is_empty() {
        warnings.push(format!(
            "{CLASS_NAME}.username_map is ignored: as upstream, MediaWiki user names are only normalized by turning spaces into underscores (no lowercasing, no map)"
        ));
    }
    for option in &mw.ignored_options {
        warnings.push(format!(
            "{CLASS_NAME}.{option} has no effect: it belongs to OAuth 2.0, and MediaWiki's login is OAuth 1.0a"
        ));
    }
    oauth.base.username_map = name_rules(view, &mut oauth)?;
    let issuer_netloc =
        netloc(&mw.mw_index_url).ok_or_else(|| view.invalid("mw_index_url", "must name a host"))?;
    let client_id = oauth.client_id.clone();
    let client_secret = Secret::new(oauth.client_secret.expose().to_owned());
    let core = OAuthCore::new(oauth).map_err(|err| view.invalid("http_request_kwargs", err))?;
    let wiki = Wiki::new(
        mw.mw_index_url,
        client_id,
        client_secret,
        core.http().clone(),
        mw.executor_threads,
    );
    Ok(MWOAuthenticator {
        core,
        wiki,
        issuer_netloc,
        warnings,
    })
}

/// Puts the configured names in MediaWiki's form (`admin_users`, `allowed_users`,
/// `blocked_users`), and returns the `username_map` under which the base rules' own
/// normalization (lowercase, then the map) gives each of them back unchanged, so that
/// every check the hub makes with the rules compares names exactly as MediaWiki does.
/// Two names that differ only in case cannot both be kept that way: refused.
fn name_rules(
    view: &ClassView<'_>,
    oauth: &mut OAuthConfig,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let base = &mut oauth.base;
    let mut map: BTreeMap<String, String> = BTreeMap::new();
    for (option, names) in [
        ("admin_users", &mut base.admin_users),
        ("allowed_users", &mut base.allowed_users),
        ("blocked_users", &mut base.blocked_users),
    ] {
        *names = names.iter().map(|name| mw_normalize(name)).collect();
        for name in names.iter() {
            let lowered = name.to_lowercase();
            match map.get(&lowered) {
                Some(other) if other != name => {
                    return Err(view.invalid(
                        option,
                        format!(
                            "lists {name:?} while another option lists {other:?}: MediaWiki names keep their case, and hubauth cannot tell two configured names apart that differ only in case"
                        ),
                    ));
                }
                _ => {
                    map.insert(lowered, name.clone());
                }
            }
        }
    }
    Ok(map)
}

/// How a step's failure shows, at login.
fn login_error(err: HandshakeError) -> AuthError {
    match err {
        HandshakeError::Refused { step, message, .. } => {
            tracing::warn!(step = %step, message = %message, "MediaWiki refused the login");
            match step {
                Step::Initiate => {
                    let hint = if message.contains("oob") {
                        ": register the consumer with \"Allow consumer to specify a callback in requests\" and the hub's callback URL as the callback"
                    } else {
                        ""
                    };
                    AuthError::Upstream {
                        step: step.describe().to_owned(),
                        detail: format!("MediaWiki refused: {message}{hint}"),
                    }
                }
                Step::Token | Step::Identify => AuthError::forbidden(format!(
                    "MediaWiki did not accept the login ({}). Please log in again.",
                    step.title()
                )),
            }
        }
        other => {
            tracing::warn!(error = %other, "MediaWiki login step failed");
            AuthError::Upstream {
                step: other.step().describe().to_owned(),
                detail: other.detail(),
            }
        }
    }
}

fn identity_refusal(err: &IdentityError) -> AuthError {
    tracing::warn!(error = %err, "MediaWiki identity refused");
    AuthError::forbidden(format!("Login refused: {err}."))
}

impl MWOAuthenticator {
    /// The shared OAuth client (options and rules).
    pub fn core(&self) -> &OAuthCore {
        &self.core
    }

    /// The wiki client.
    pub fn wiki(&self) -> &Wiki {
        &self.wiki
    }

    /// Asks the wiki who the access token's user is, and checks the answer.
    async fn identify(&self, access: &TokenPair, now: i64) -> Result<Map<String, Value>, Identify> {
        let answer = self
            .wiki
            .identify(access, now)
            .await
            .map_err(Identify::Handshake)?;
        let expected = Expected {
            consumer_key: self.wiki.consumer_key(),
            consumer_secret: self.wiki.consumer_secret().expose(),
            issuer_netloc: &self.issuer_netloc,
            nonce: &answer.nonce,
            now,
        };
        identity::verify(&answer.jwt, &expected).map_err(Identify::Identity)
    }

    /// The identity to the hub's model of the user (upstream's `_token_to_auth_model`).
    async fn model(
        &self,
        access: &TokenPair,
        identity: Map<String, Value>,
    ) -> Result<AuthModel, AuthError> {
        let core = &self.core;
        let identity = Value::Object(identity);
        if let Some(source) = email_source(&core.config.username_claim)
            && let Err(err) = check_email_verified(&identity, None, &source, false)
        {
            if core.config.allow_unverified_email {
                tracing::warn!(
                    "the username comes from an email MediaWiki did not mark as confirmed; accepted because allow_unverified_email is set"
                );
            } else {
                tracing::warn!(
                    "{err}: the username would come from an email MediaWiki did not mark as confirmed (email_verified)"
                );
                return Err(err.into());
            }
        }
        let name = core.default_username(&identity)?;
        let mut auth_state = json!({
            ACCESS_TOKEN_KEY: access.key,
            ACCESS_TOKEN_SECRET: access.secret.expose(),
            USER_AUTH_STATE_KEY: identity,
        });
        if let Some(hook) = &core.config.modify_auth_state_hook {
            auth_state = hook
                .eval_json(&[
                    ("auth_state", auth_state),
                    ("authenticator", Value::String(CLASS_NAME.to_owned())),
                ])
                .map_err(|err| {
                    tracing::error!(error = %err, "Error in modify_auth_state_hook");
                    AuthError::Hook(format!("modify_auth_state_hook: {err}"))
                })?;
        }
        let mut model = AuthModel::named(name.clone());
        model.admin = core.rules.is_admin(&mw_normalize(&name));
        if core.config.base.manage_groups {
            model.groups = Some(core.user_groups(&auth_state));
            core.rules.apply_managed_groups(&mut model);
        }
        model.auth_state = Some(auth_state);
        Ok(model)
    }
}

/// Why identifying the user failed.
enum Identify {
    Handshake(HandshakeError),
    Identity(IdentityError),
}

#[async_trait]
impl Authenticator for MWOAuthenticator {
    fn class_name(&self) -> &'static str {
        CLASS_NAME
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
        // Users log in at the wiki; the login form is never shown.
        Ok(None)
    }

    fn normalize_username(&self, name: &str) -> String {
        mw_normalize(name)
    }

    async fn check_allowed(&self, name: &str, model: &AuthModel) -> Result<bool, AuthError> {
        Ok(self.core.oauth_allows(name, model) || self.core.rules.check_allowed(name, Some(model)))
    }

    /// `None`: decided when the model was built (`admin_users`, then `admin_groups`).
    async fn is_admin(&self, _model: &AuthModel) -> Result<Option<bool>, AuthError> {
        Ok(None)
    }

    fn redirect_login(&self) -> Option<&dyn RedirectLogin> {
        Some(self)
    }

    fn supports_manage_groups(&self) -> bool {
        self.core.config.auth_state_groups_key.is_some()
    }

    fn startup_warnings(&self) -> Vec<String> {
        let mut warnings = self.core.rules.startup_warnings(CLASS_NAME);
        warnings.extend(self.warnings.iter().cloned());
        warnings
    }

    /// Asks the wiki again who the stored access token's user is (upstream's refresh
    /// failed for this class: its auth_state has no `token_response`). A token the wiki no
    /// longer honours (the user revoked the grant, or was locked), an identity that fails
    /// its checks, or one for another user asks for a new login; the wiki being down keeps
    /// the session and tries again later. The hub then re-checks the rules on the new
    /// identity (groups included).
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
        let stored = |key: &str| {
            auth_state
                .and_then(|state| state.get(key))
                .and_then(Value::as_str)
                .filter(|value| !value.is_empty())
        };
        let (Some(key), Some(secret)) = (stored(ACCESS_TOKEN_KEY), stored(ACCESS_TOKEN_SECRET))
        else {
            tracing::info!(user = %name, "no MediaWiki access token in auth_state; login required");
            return Ok(RefreshOutcome::Expired);
        };
        let access = TokenPair {
            key: key.to_owned(),
            secret: Secret::new(secret.to_owned()),
        };
        let identity = match self.identify(&access, ctx.now).await {
            Ok(identity) => identity,
            Err(Identify::Handshake(HandshakeError::Refused { message, .. })) => {
                tracing::info!(user = %name, message = %message, "MediaWiki no longer honours the access token; login required");
                return Ok(RefreshOutcome::Expired);
            }
            Err(Identify::Handshake(err)) => {
                return Err(AuthError::Upstream {
                    step: err.step().describe().to_owned(),
                    detail: err.detail(),
                });
            }
            Err(Identify::Identity(err)) => {
                tracing::warn!(user = %name, error = %err, "MediaWiki's identity refused at refresh; login required");
                return Ok(RefreshOutcome::Expired);
            }
        };
        let model = match self.model(&access, identity).await {
            Ok(model) => model,
            Err(err @ (AuthError::Hook(_) | AuthError::Upstream { .. })) => return Err(err),
            Err(err) => {
                tracing::warn!(user = %name, error = %err, "the refreshed identity is not usable; login required");
                return Ok(RefreshOutcome::Expired);
            }
        };
        if mw_normalize(&model.name) != name {
            tracing::warn!(user = %name, "the access token now names another MediaWiki user (renamed?); login required");
            return Ok(RefreshOutcome::Expired);
        }
        Ok(RefreshOutcome::Updated(Box::new(model)))
    }
}

#[async_trait]
impl RedirectLogin for MWOAuthenticator {
    async fn begin(
        &self,
        ctx: &RequestContext,
        state: &str,
        redirect_uri: &str,
    ) -> Result<RedirectStart, AuthError> {
        let mut callback = url::Url::parse(redirect_uri)
            .map_err(|err| AuthError::Internal(format!("the callback URL is not a URL: {err}")))?;
        // The hub reads `state` and `code` from the callback: the only ones it carries
        // are this login's.
        let kept: Vec<(String, String)> = callback
            .query_pairs()
            .into_owned()
            .filter(|(key, _)| key != "state" && key != "code")
            .collect();
        callback
            .query_pairs_mut()
            .clear()
            .extend_pairs(kept)
            .append_pair("state", state)
            .append_pair("code", CALLBACK_CODE);
        let request = self
            .wiki
            .initiate(callback.as_str(), ctx.now)
            .await
            .map_err(login_error)?;
        let authorize_url = self.wiki.authorize_url(&request.key);
        Ok(RedirectStart {
            authorize_url,
            pending: PendingRedirect {
                code_verifier: Some(request.secret.expose().to_owned()),
                nonce: Some(request.key),
            },
        })
    }

    async fn complete(
        &self,
        ctx: &RequestContext,
        _redirect_uri: &str,
        code: &str,
        query: &BTreeMap<String, String>,
        pending: &PendingRedirect,
    ) -> Result<AuthModel, AuthError> {
        let bad = |message: &str| AuthError::Http {
            status: 400,
            message: message.to_owned(),
        };
        if code != CALLBACK_CODE {
            return Err(bad("OAuth callback made with an unexpected code"));
        }
        let param = |name: &str| query.get(name).filter(|value| !value.is_empty());
        let (Some(verifier), Some(token)) = (param("oauth_verifier"), param("oauth_token")) else {
            return Err(bad(
                "OAuth callback made without oauth_verifier and oauth_token",
            ));
        };
        let (Some(key), Some(secret)) =
            (pending.nonce.as_deref(), pending.code_verifier.as_deref())
        else {
            return Err(bad("OAuth state mismatch"));
        };
        // mwoauth's check: the callback is for the request token of this login.
        if !bool::from(token.as_bytes().ct_eq(key.as_bytes())) {
            return Err(bad("OAuth callback is for another request token"));
        }
        let request = TokenPair {
            key: key.to_owned(),
            secret: Secret::new(secret.to_owned()),
        };
        let access = self
            .wiki
            .token(&request, verifier, ctx.now)
            .await
            .map_err(login_error)?;
        let identity = match self.identify(&access, ctx.now).await {
            Ok(identity) => identity,
            Err(Identify::Handshake(err)) => return Err(login_error(err)),
            Err(Identify::Identity(err)) => return Err(identity_refusal(&err)),
        };
        self.model(&access, identity).await
    }

    fn configured_callback_url(&self) -> Option<String> {
        Some(self.core.config.oauth_callback_url.clone()).filter(|url| !url.is_empty())
    }
}
