//! The hub as OAuth 2.0 and OpenID Connect provider for registered services, as
//! JupyterHub's `/hub/api/oauth2/` is, plus what JupyterHub lacks: discovery, a JWKS and
//! signed ID tokens, so that any stock OIDC client can log users in through the hub.
//!
//! Access tokens are ordinary API tokens of the user carrying the granted scopes;
//! refresh tokens rotate on every use; authorization codes live 60 s, are single-use, and
//! are bound to the client, the redirect URI and the PKCE challenge. A code and every
//! token descending from it form a family, revoked as a whole when a used code or refresh
//! token comes back (see [`grants`]).

pub mod config;
pub mod grants;
pub mod keys;

pub use config::{BASE_SCOPES, ClientSecret, ServiceConfig, check_redirect_uri, parse_services};
pub use keys::{IdTokenAlg, KeyError, SigningKeys};

use axum::http::HeaderMap;
use hubauth_store::{NewApiToken, UserRecord};
use serde_json::{Map, Value, json};

use crate::error::HubError;
use crate::secrets::{hash_token, random_token};
use crate::state::HubState;

/// How long an ID token is valid, in seconds.
pub const ID_TOKEN_TTL: i64 = 3600;

/// The provider: the registered clients and the signing key.
#[derive(Debug)]
pub struct Provider {
    /// The registered services.
    pub services: Vec<ServiceConfig>,
    /// The ID token signing keys (RS256 and ES256).
    pub key: SigningKeys,
}

impl Provider {
    /// The service with this client id.
    pub fn client(&self, client_id: &str) -> Option<&ServiceConfig> {
        self.services
            .iter()
            .find(|s| s.client_id == client_id && s.is_oauth_client())
    }
}

/// The issuer: the hub's public origin and base URL without the trailing slash
/// (`https://hub.example.org` or `https://example.org/auth`). Discovery is at
/// `{issuer}/.well-known/openid-configuration`.
pub fn issuer(state: &HubState, headers: &HeaderMap) -> String {
    format!(
        "{}{}",
        state.public_origin(headers),
        state.config.base_url.trim_end_matches('/')
    )
}

/// `{origin}{base_url}hub/api/oauth2/` for absolute endpoint URLs.
pub fn endpoint_base(state: &HubState, headers: &HeaderMap) -> String {
    format!(
        "{}{}api/oauth2/",
        state.public_origin(headers),
        state.hub_prefix()
    )
}

/// The scopes granted for a request: those asked for that the client may have (others
/// are dropped, as JupyterHub does), always with `identify`; no scope asks for
/// `identify` only.
pub fn grant_scopes(client: &ServiceConfig, requested: Option<&str>) -> Vec<String> {
    let mut granted = vec!["identify".to_owned()];
    for scope in requested.unwrap_or("").split(' ') {
        if scope.is_empty() || granted.iter().any(|s| s == scope) {
            continue;
        }
        if client.allows_scope(scope) {
            granted.push(scope.to_owned());
        } else {
            tracing::info!(client = %client.client_id, scope, "dropping a scope the client may not have");
        }
    }
    granted
}

/// The scopes of `granted` the user may hand to a service: hub scopes (those hubauth
/// knows, with their filters resolved for the user) only when the user holds them, as
/// JupyterHub drops requested scopes the user lacks; the identity scopes and scopes
/// hubauth does not know (the service's own) pass. Tokens are limited to their owner's
/// scopes at every use as well; dropping them here keeps the consent page honest and
/// keeps a scope out of the token should the user gain it later.
pub async fn held_by_user(
    state: &HubState,
    user: &UserRecord,
    granted: Vec<String>,
) -> Result<Vec<String>, HubError> {
    use crate::api::scopes::{self, Scopes};
    let held = crate::api::auth::user_scopes(state, user).await?;
    Ok(granted
        .into_iter()
        .filter(|scope| {
            if BASE_SCOPES.contains(&scope.as_str()) || !scopes::names_hub_scope(scope) {
                return true;
            }
            // A hub scope whose filter means nothing grants nothing: not handed on.
            let empty = scope != "inherit" && Scopes::expand(&[scope], Some(&user.name)).is_empty();
            let keep = !empty && scopes::not_held(&[scope], &user.name, &held, &held).is_empty();
            if !keep {
                tracing::info!(user = %user.name, scope = %scope, "dropping a scope the user does not hold");
            }
            keep
        })
        .collect())
}

/// An access token about to be issued: the value for the client, and the API token
/// record the store keeps (its hash only).
pub struct NewAccessToken {
    /// The token itself (returned to the client once, never stored).
    pub token: String,
    /// What the store keeps.
    pub record: NewApiToken,
    /// Lifetime in seconds.
    pub expires_in: i64,
}

/// The note of an access token: the client and a marker of the hub session it was
/// issued in (16 hex digits of the session id's hash, which reveal nothing usable), so
/// that ending the session revokes it.
fn token_note(client_id: &str, session_hash: &str) -> String {
    format!(
        "{TOKEN_NOTE_PREFIX}{client_id}{SESSION_MARK}{}",
        session_marker(session_hash)
    )
}

/// The client an access token was issued to, from its note; `None` for tokens that are
/// not the provider's (users' API tokens).
pub fn token_client(note: &str) -> Option<&str> {
    note.strip_prefix(TOKEN_NOTE_PREFIX)?
        .rsplit_once(SESSION_MARK)
        .map(|(client, _)| client)
}

const TOKEN_NOTE_PREFIX: &str = "OAuth client ";
const SESSION_MARK: &str = "; hub session ";

fn session_marker(session_hash: &str) -> &str {
    session_hash.get(..16).unwrap_or(session_hash)
}

/// Revokes the access tokens issued to services in a hub session (`Some`), or in every
/// session of the user (`None`), as JupyterHub does at logout. Refresh tokens from those
/// sessions are refused at their next use. Returns how many tokens were revoked.
pub async fn revoke_session_tokens(
    state: &crate::services::Services,
    user: &str,
    session_hash: Option<&str>,
) -> Result<u64, HubError> {
    if state.provider.is_none() {
        return Ok(0);
    }
    let mut revoked = 0;
    for token in state.store.list_api_tokens(user).await? {
        let Some((_, marker)) = token
            .note
            .strip_prefix(TOKEN_NOTE_PREFIX)
            .and_then(|rest| rest.rsplit_once(SESSION_MARK))
        else {
            continue;
        };
        if session_hash.is_none_or(|hash| session_marker(hash) == marker)
            && state.store.delete_api_token(user, token.id).await?
        {
            revoked += 1;
        }
    }
    if revoked > 0 {
        tracing::info!(
            user,
            revoked,
            "revoked access tokens issued to services in the ended session"
        );
    }
    Ok(revoked)
}

/// The user a grant or token acts for, when they may still use the hub: they exist and
/// are not blocked.
pub async fn active_user(state: &HubState, name: &str) -> Result<Option<UserRecord>, HubError> {
    if !state.authenticator.rules().check_blocked_users(name) {
        return Ok(None);
    }
    Ok(state.store.get_user(name).await?)
}

/// A new access token for `user`: an API token with `scopes`, tied to the hub session
/// `session_hash`. The caller stores it (with the grant exchange that issues it).
pub fn new_access_token(
    state: &HubState,
    client: &ServiceConfig,
    user: &str,
    scopes: &[String],
    session_hash: &str,
    now: i64,
) -> NewAccessToken {
    let token = random_token();
    let expires_in = state.config.oauth_token_expires_in;
    let record = NewApiToken {
        hash: hash_token(&token),
        prefix: token.chars().take(4).collect(),
        user: user.to_owned(),
        note: token_note(&client.client_id, session_hash),
        scopes: scopes.to_vec(),
        created: now,
        expires: Some(now.saturating_add(expires_in)),
    };
    NewAccessToken {
        token,
        record,
        expires_in,
    }
}

/// The identity claims of a user, shared by the ID token and the userinfo endpoint.
pub fn user_claims(user: &UserRecord) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(user.name));
    claims.insert("name".into(), json!(user.name));
    claims.insert("preferred_username".into(), json!(user.name));
    claims.insert("groups".into(), json!(user.groups));
    claims.insert("admin".into(), json!(user.admin));
    claims
}

/// What goes into an ID token besides the user's claims.
pub struct IdTokenParams<'a> {
    /// The issuer.
    pub issuer: &'a str,
    /// The client (audience).
    pub client_id: &'a str,
    /// The algorithm the client wants its ID tokens signed with.
    pub alg: IdTokenAlg,
    /// The nonce of the authorize request.
    pub nonce: Option<&'a str>,
    /// When the user last authenticated at the hub.
    pub auth_time: i64,
    /// The access token issued with it (for `at_hash`).
    pub access_token: &'a str,
    /// Now.
    pub now: i64,
}

/// A signed ID token for `user`.
pub fn id_token(
    provider: &Provider,
    user: &UserRecord,
    params: IdTokenParams<'_>,
) -> Result<String, HubError> {
    let mut claims = user_claims(user);
    claims.insert("iss".into(), json!(params.issuer));
    claims.insert("aud".into(), json!(params.client_id));
    claims.insert("azp".into(), json!(params.client_id));
    claims.insert("iat".into(), json!(params.now));
    claims.insert("exp".into(), json!(params.now.saturating_add(ID_TOKEN_TTL)));
    claims.insert("auth_time".into(), json!(params.auth_time));
    claims.insert("at_hash".into(), json!(keys::at_hash(params.access_token)));
    if let Some(nonce) = params.nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    provider
        .key
        .sign(params.alg, &Value::Object(claims))
        .map_err(|err| HubError::Crypt(err.to_string()))
}

/// Builds the provider when services are registered: loads (or makes) the signing keys.
/// `None` when there are no services.
pub fn start(config: &crate::options::HubConfig) -> Result<Option<Provider>, KeyError> {
    for service in config.services.iter().filter(|s| !s.is_oauth_client()) {
        tracing::info!(
            service = %service.name,
            "service has no oauth_redirect_uri, so it does not log users in through the hub"
        );
    }
    if !config.services.iter().any(ServiceConfig::is_oauth_client) {
        return Ok(None);
    }
    let key = SigningKeys::load_or_create(
        &config.oidc_signing_key_file,
        &config.oidc_rsa_signing_key_file,
    )?;
    if config.public_url.is_empty() {
        tracing::warn!(
            "services are registered but [Hub] public_url is not set: the OpenID issuer is taken from each request's Host header; set public_url so that every client sees the same issuer"
        );
    }
    for service in config.services.iter().filter(|s| s.is_oauth_client()) {
        tracing::info!(
            service = %service.name,
            client_id = %service.client_id,
            confidential = service.is_confidential(),
            id_token_alg = service.id_token_alg.name(),
            "registered OAuth client"
        );
    }
    Ok(Some(Provider {
        services: config.services.clone(),
        key,
    }))
}
