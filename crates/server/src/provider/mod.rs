//! The hub as OAuth 2.0 and OpenID Connect provider for registered services, as
//! JupyterHub's `/hub/api/oauth2/` is, plus what JupyterHub lacks: discovery, a JWKS and
//! signed ID tokens, so that any stock OIDC client can log users in through the hub.
//!
//! The protocol is the `hubauth-provider` crate; this module holds what ties it to the
//! hub: the services' configuration ([`config`]), the key files ([`keys`]), the storage
//! over the hub's database ([`store`]), and the scopes a user may hand on.
//!
//! Access tokens are ordinary API tokens of the user carrying the granted scopes, with a
//! note naming the client and the hub session, so that ending the session revokes them.

pub mod config;
pub mod keys;
pub mod store;

pub use config::{ServiceConfig, parse_services};
pub use hubauth_provider::{BASE_SCOPES, ClientSecret, ID_TOKEN_TTL, Provider, check_redirect_uri};
pub use keys::{IdTokenAlg, KeyError, SigningKeys};
pub use store::HubStore;

use axum::http::HeaderMap;
use hubauth_provider::Subject;
use hubauth_store::{NewApiToken, UserRecord};

use crate::error::AppError;
use crate::secrets::hash_token;
use crate::state::HubState;

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
) -> Result<Vec<String>, AppError> {
    use hubauth_core::scopes::{self, Scopes};
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

/// The API token record the store keeps for an access token the provider issues (the
/// token's hash only).
pub fn api_token_record(token: &hubauth_provider::NewAccessToken) -> NewApiToken {
    NewApiToken {
        hash: hash_token(&token.token),
        prefix: token.token.chars().take(4).collect(),
        user: token.user.clone(),
        note: token_note(&token.client_id, &token.session),
        scopes: token.scopes.clone(),
        created: token.created,
        expires: Some(token.expires),
    }
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
    state: &HubState,
    user: &str,
    session_hash: Option<&str>,
) -> Result<u64, AppError> {
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
pub async fn active_user(state: &HubState, name: &str) -> Result<Option<UserRecord>, AppError> {
    if !state.authenticator.rules().check_blocked_users(name) {
        return Ok(None);
    }
    Ok(state.store.get_user(name).await?)
}

/// A user as the provider describes them (ID token and userinfo claims).
pub fn subject(user: &UserRecord) -> Subject {
    Subject {
        name: user.name.clone(),
        groups: user.groups.clone(),
        admin: user.admin,
    }
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
    let key = keys::load_or_create(
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
    Ok(Some(Provider::new(
        config.services.clone(),
        key,
        config.oauth_token_expires_in,
    )))
}
