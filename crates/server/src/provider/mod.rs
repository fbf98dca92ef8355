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

mod access_tokens;
mod accounts;
pub mod config;
pub mod keys;
pub mod store;

pub use access_tokens::{api_token_record, revoke_session_tokens, token_client};
pub use accounts::{active_user, subject};

pub use config::{ServiceConfig, parse_services};
pub use hubauth_provider::{BASE_SCOPES, ClientSecret, ID_TOKEN_TTL, Provider, check_redirect_uri};
pub use keys::{IdTokenAlg, KeyError, SigningKeys};
pub use store::HubStore;

use std::path::Path;

use hubauth_core::scopes::{self, Scopes};

/// The scopes of `granted` the user `user` (who holds `held`) may hand to a service: hub
/// scopes (those hubauth knows, with their filters resolved for the user) only when the
/// user holds them, as JupyterHub drops requested scopes the user lacks; the identity
/// scopes and scopes hubauth does not know (the service's own) pass. Tokens are limited
/// to their owner's scopes at every use as well; dropping them here keeps the consent
/// page honest and keeps a scope out of the token should the user gain it later.
pub fn held_by_user(user: &str, held: &Scopes, granted: Vec<String>) -> Vec<String> {
    granted
        .into_iter()
        .filter(|scope| {
            if BASE_SCOPES.contains(&scope.as_str()) || !scopes::names_hub_scope(scope) {
                return true;
            }
            // A hub scope whose filter means nothing grants nothing: not handed on.
            let empty = scope != "inherit" && Scopes::expand(&[scope], Some(user)).is_empty();
            let keep = !empty && scopes::not_held(&[scope], user, held, held).is_empty();
            if !keep {
                tracing::info!(user = %user, scope = %scope, "dropping a scope the user does not hold");
            }
            keep
        })
        .collect()
}

/// Builds the provider when services are registered: loads (or makes) the signing keys
/// (`ec_key_file`, `rsa_key_file`). `None` when no service is an OAuth client and
/// `keys_needed` (identity assertions sign with the keys) is false.
/// `public_url` is `[Hub] public_url` (only checked for being set); access tokens live
/// `access_token_ttl` seconds.
pub fn start(
    services: &[ServiceConfig],
    ec_key_file: &Path,
    rsa_key_file: &Path,
    public_url: &str,
    access_token_ttl: i64,
    keys_needed: bool,
) -> Result<Option<Provider>, KeyError> {
    for service in services.iter().filter(|s| !s.is_oauth_client()) {
        tracing::info!(
            service = %service.name,
            "service has no oauth_redirect_uri, so it does not log users in through the hub"
        );
    }
    if !services.iter().any(ServiceConfig::is_oauth_client) && !keys_needed {
        return Ok(None);
    }
    let key = keys::load_or_create(ec_key_file, rsa_key_file)?;
    if public_url.is_empty() {
        tracing::warn!(
            "services are registered but [Hub] public_url is not set: the OpenID issuer is taken from each request's Host header; set public_url so that every client sees the same issuer"
        );
    }
    for service in services.iter().filter(|s| s.is_oauth_client()) {
        tracing::info!(
            service = %service.name,
            client_id = %service.client_id,
            confidential = service.is_confidential(),
            id_token_alg = service.id_token_alg.name(),
            "registered OAuth client"
        );
    }
    Ok(Some(Provider::new(
        services.to_vec(),
        key,
        access_token_ttl,
    )))
}
