//! Token revocation (RFC 7009): a client revokes an access or refresh token it was issued,
//! for example when its user logs out of it.

use crate::client::Client;
use crate::error::ProviderError;
use crate::form::Form;
use crate::grants::{RefreshGrant, find};
use crate::provider::Provider;
use crate::store::{AccessTokenStore, GrantStore};

/// What a revocation found.
enum Revocation {
    NotFound,
    Revoked,
    OtherClient,
}

impl Provider {
    /// Revokes the `token` of a revocation request from `client` (authenticated by
    /// [`Provider::authenticate_client`]). Revoking a refresh token revokes its whole
    /// family, the access tokens issued with it included. An unknown, expired or already
    /// revoked token is no error (RFC 7009 §2.2: answered like a revoked one); a token
    /// issued to another client is refused and left as it is.
    pub async fn revoke<S: GrantStore + AccessTokenStore + ?Sized>(
        &self,
        store: &S,
        client: &Client,
        form: &Form,
    ) -> Result<(), ProviderError> {
        let token = form
            .token("token")
            .ok_or(ProviderError::invalid_request("token is required"))?;
        // The hint only orders the lookups (RFC 7009 §2.1); both kinds are tried.
        let refresh_first = form.get("token_type_hint") == Some("refresh_token");
        for refresh in [refresh_first, !refresh_first] {
            let outcome = if refresh {
                revoke_refresh_token(store, client, token).await?
            } else {
                revoke_access_token(store, client, token).await?
            };
            match outcome {
                Revocation::NotFound => {}
                Revocation::Revoked => break,
                Revocation::OtherClient => return Err(ProviderError::TokenOfAnotherClient),
            }
        }
        Ok(())
    }
}

async fn revoke_refresh_token<S: GrantStore + ?Sized>(
    store: &S,
    client: &Client,
    token: &str,
) -> Result<Revocation, ProviderError> {
    let Some(found) = find::<RefreshGrant, S>(store, token).await? else {
        return Ok(Revocation::NotFound);
    };
    if found.grant.client_id != client.client_id {
        // Refused and left as it is: a client cannot revoke another client's grant.
        tracing::warn!(client = %client.client_id, "a refresh token issued to another client was presented for revocation; refused");
        return Ok(Revocation::OtherClient);
    }
    // The grant goes with everything issued under it (RFC 7009 §2.1).
    store.revoke_family(&found.stored.family).await?;
    tracing::info!(client = %client.client_id, user = %found.grant.user, "revoked a refresh token with its family of tokens");
    Ok(Revocation::Revoked)
}

async fn revoke_access_token<S: AccessTokenStore + ?Sized>(
    store: &S,
    client: &Client,
    token: &str,
) -> Result<Revocation, ProviderError> {
    let Some(record) = store.find_access_token(token).await? else {
        return Ok(Revocation::NotFound);
    };
    if record.client_id.as_deref() != Some(client.client_id.as_str()) {
        return Ok(Revocation::OtherClient);
    }
    store.delete_access_token(&record).await?;
    tracing::info!(client = %client.client_id, user = %record.user, "revoked an access token");
    Ok(Revocation::Revoked)
}
