//! API tokens at the gateway: the user a token lets through forward-auth and the built-in
//! proxy (`forward_auth_accept_tokens`).

use std::sync::Arc;

use hubauth_core::scopes::Scopes;
use hubauth_store::UserRecord;

use super::Services;
use crate::error::HubError;
use crate::secrets::hash_token;

/// The scope a token needs at the gateway.
pub const GATEWAY_SCOPE: &str = "access:apps";

/// Longest API token value looked up, at the REST API and at the gateway alike (longer
/// values are refused without a database query).
pub const MAX_API_TOKEN_LEN: usize = 512;

/// The tokens service (see the module documentation).
#[derive(Debug, Clone, Copy)]
pub struct Tokens<'a> {
    hub: &'a Services,
}

/// The session cache's key for a token: apart from session hashes (hex digits only).
fn cache_key(hash: &str) -> String {
    format!("token:{hash}")
}

impl<'a> Tokens<'a> {
    pub(super) fn new(hub: &'a Services) -> Self {
        Tokens { hub }
    }

    /// The user `token` lets through the gateway at `now`: a valid API token (the hub's
    /// own, or an access token it issued to a service) whose owner exists, is not
    /// blocked, and whose scopes, resolved against the owner's, allow `access:apps` for
    /// the owner. Answers are cached like sessions.
    pub async fn gateway_user(
        &self,
        token: &str,
        now: i64,
    ) -> Result<Option<Arc<UserRecord>>, HubError> {
        if token.is_empty() || token.len() > MAX_API_TOKEN_LEN {
            return Ok(None);
        }
        let hub = self.hub;
        let hash = hash_token(token);
        let key = cache_key(&hash);
        if let Some(user) = hub.session_cache.get(&key, now) {
            return Ok(Some(user));
        }
        let generation = hub.session_cache.generation();
        // Imported JupyterHub tokens too (see `Store::find_api_token_by_value`).
        let Some(record) = hub.store.find_api_token_by_value(token, &hash).await? else {
            return Ok(None);
        };
        if !record.is_valid_at(now) {
            return Ok(None);
        }
        if !hub.authenticator.rules().check_blocked_users(&record.user) {
            return Ok(None);
        }
        let Some(user) = hub.store.get_user(&record.user).await? else {
            return Ok(None);
        };
        let owner = hub.accounts().scopes(&user).await?;
        let scopes = Scopes::for_token(&record.scopes, &user.name, &owner);
        if !scopes.allows_user(GATEWAY_SCOPE, &user.name, &user.groups) {
            tracing::info!(user = %user.name, "a token without access:apps was refused at the gateway");
            return Ok(None);
        }
        let user = Arc::new(user);
        let expires = record.expires.unwrap_or(i64::MAX);
        hub.session_cache
            .insert(&key, user.clone(), expires, now, generation);
        Ok(Some(user))
    }
}
