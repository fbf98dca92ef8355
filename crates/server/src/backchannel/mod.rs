//! OpenID Connect Back-Channel Logout 1.0, both directions.
//!
//! - As a relying party ([`receive`]): a login at an OpenID provider remembers the
//!   provider's session (`iss`, `sub`, `sid` of the verified ID token) with the hub
//!   session ([`provider_session_link`]); the provider's logout token, posted to
//!   `{base_url}hub/backchannel_logout`, is verified by the login method, its `jti` is
//!   recorded in the database (a replay is refused on every replica), and the sessions it
//!   names end as a logout would.
//! - As a provider ([`notify`]): when a hub session ends, the services registered with a
//!   `backchannel_logout_uri` that were issued tokens in it receive a logout token signed
//!   with the hub's provider key, from an outbox in the database (it outlives restarts
//!   and any replica sends) with retries, never holding up the request that ended the
//!   session.

mod notify;
mod receive;

pub use notify::{
    CLAIM_LEASE, NOTIFY_ATTEMPTS, NOTIFY_QUEUE, NOTIFY_TIMEOUT, Notifier, logout_token_claims,
    services_to_tell, session_ending, session_sid, tell,
};
pub use receive::{BackchannelError, provider_session_link, receive_logout_token};

use crate::error::HubError;
use crate::options::HubConfig;
use crate::services::Services;

/// At start: users blocked in the configuration lost their sessions in start-up
/// reconciliation, before anything could be sent. Services holding tokens of theirs are
/// told now (every session: `sub` only), and those tokens are revoked, so that a later
/// start does not tell them again.
pub async fn blocked_at_start(hub: &Services, blocked: &[String]) -> Result<(), HubError> {
    for name in blocked {
        session_ending(hub, name, None).await?;
        crate::provider::revoke_session_tokens(hub, name, None).await?;
    }
    Ok(())
}

/// The issuer the hub's provider names when no request is at hand (logout tokens):
/// `public_url`'s origin with the base URL, as each request's issuer is when
/// `public_url` is set; empty without `public_url`.
pub fn issuer(config: &HubConfig) -> String {
    let Ok(url) = url::Url::parse(&config.public_url) else {
        return String::new();
    };
    let origin = url.origin().ascii_serialization();
    if origin == "null" {
        return String::new();
    }
    format!("{origin}{}", config.base_url.trim_end_matches('/'))
}

/// Refuses a configuration in which a service has a `backchannel_logout_uri` but the
/// hub has no `public_url`: its logout tokens would have no issuer the service knows.
pub fn check_config(config: &HubConfig) -> Result<(), String> {
    if let Some(service) = config
        .services
        .iter()
        .find(|service| service.backchannel_logout_uri.is_some())
        && issuer(config).is_empty()
    {
        return Err(format!(
            "service {:?} has a backchannel_logout_uri, which needs [Hub] public_url (the issuer of its logout tokens)",
            service.name
        ));
    }
    Ok(())
}
