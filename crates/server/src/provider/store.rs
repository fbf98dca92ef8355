//! The provider's storage, over the hub's database: OAuth grant families
//! (`Store::create_oauth_code`, `get_oauth_grant`, `exchange_oauth_grant`), access tokens
//! (API tokens of the user whose note names the client and the hub session), and the
//! hub's users and sessions.

use async_trait::async_trait;
use hubauth_provider::{
    AccessTokenRecord, AccessTokenStore, Accounts, Exchange, ExchangeOutcome, GrantKind,
    GrantState, GrantStore, NewGrant, StorageError, StoredGrant, Subject,
};
use hubauth_store::{
    NewOAuthGrant, OAuthExchange, OAuthExchangeOutcome, OAuthGrantKind, OAuthGrantState,
};

use crate::error::HubError;
use crate::secrets::hash_token;
use crate::services::Services;

/// The hub's state seen as the provider's storage.
#[derive(Debug, Clone, Copy)]
pub struct HubStore<'a>(pub &'a Services);

fn storage(err: impl Into<HubError>) -> StorageError {
    StorageError::new(err.into())
}

fn kind(kind: GrantKind) -> OAuthGrantKind {
    match kind {
        GrantKind::Code => OAuthGrantKind::Code,
        GrantKind::Refresh => OAuthGrantKind::Refresh,
    }
}

fn new_grant(grant: NewGrant) -> NewOAuthGrant {
    NewOAuthGrant {
        hash: grant.key,
        data: grant.data,
        created: grant.created,
        expires: grant.expires,
    }
}

#[async_trait]
impl GrantStore for HubStore<'_> {
    async fn create_code(&self, code: NewGrant) -> Result<(), StorageError> {
        self.0
            .store
            .create_oauth_code(new_grant(code))
            .await
            .map_err(storage)
    }

    async fn find_grant(&self, key: &str) -> Result<Option<StoredGrant>, StorageError> {
        let record = self.0.store.get_oauth_grant(key).await.map_err(storage)?;
        Ok(record.map(|record| StoredGrant {
            kind: match record.kind {
                OAuthGrantKind::Code => GrantKind::Code,
                OAuthGrantKind::Refresh => GrantKind::Refresh,
            },
            family: record.family,
            state: match record.state {
                OAuthGrantState::Active => GrantState::Active,
                OAuthGrantState::Used => GrantState::Used,
                OAuthGrantState::Revoked => GrantState::Revoked,
            },
            data: record.data,
            expires: record.expires,
        }))
    }

    async fn revoke_family(&self, family: &str) -> Result<u64, StorageError> {
        let revoked = self
            .0
            .store
            .revoke_oauth_family(family)
            .await
            .map_err(storage)?;
        if revoked > 0 {
            // Whose tokens went is not known here; a rare event (a revocation or a
            // replay), so the whole cache goes, tokens cached at the API with it.
            self.0.everything_changed().await;
        }
        Ok(revoked)
    }

    async fn exchange(&self, exchange: Exchange) -> Result<ExchangeOutcome, StorageError> {
        let outcome = self
            .0
            .store
            .exchange_oauth_grant(OAuthExchange {
                hash: exchange.key,
                kind: kind(exchange.kind),
                now: exchange.now,
                access_token: super::access_tokens::api_token_record(&exchange.access_token),
                refresh: new_grant(exchange.refresh),
            })
            .await
            .map_err(storage)?;
        Ok(match outcome {
            OAuthExchangeOutcome::Issued(_) => ExchangeOutcome::Issued,
            OAuthExchangeOutcome::Replayed { revoked_tokens } => {
                if revoked_tokens > 0 {
                    self.0.everything_changed().await;
                }
                ExchangeOutcome::Replayed { revoked_tokens }
            }
            OAuthExchangeOutcome::Invalid => ExchangeOutcome::Invalid,
        })
    }
}

#[async_trait]
impl AccessTokenStore for HubStore<'_> {
    async fn find_access_token(
        &self,
        token: &str,
    ) -> Result<Option<AccessTokenRecord>, StorageError> {
        let record = self
            .0
            .store
            .find_api_token(&hash_token(token))
            .await
            .map_err(storage)?;
        Ok(record.map(|record| AccessTokenRecord {
            id: record.id,
            client_id: super::access_tokens::token_client(&record.note).map(str::to_owned),
            user: record.user,
            scopes: record.scopes,
            expires: record.expires,
        }))
    }

    async fn delete_access_token(&self, token: &AccessTokenRecord) -> Result<(), StorageError> {
        self.0
            .store
            .delete_api_token(&token.user, token.id)
            .await
            .map_err(storage)?;
        // The token may be cached at the REST API and the gateway.
        self.0.sessions_changed(&token.user).await;
        Ok(())
    }

    async fn touch_access_token(
        &self,
        token: &AccessTokenRecord,
        now: i64,
    ) -> Result<(), StorageError> {
        self.0
            .store
            .touch_api_token(token.id, now)
            .await
            .map(|_| ())
            .map_err(storage)
    }
}

#[async_trait]
impl Accounts for HubStore<'_> {
    async fn session_alive(&self, session: &str, now: i64) -> Result<bool, StorageError> {
        Ok(self
            .0
            .store
            .get_session(session)
            .await
            .map_err(storage)?
            .is_some_and(|session| session.is_valid_at(now)))
    }

    async fn active_user(&self, name: &str) -> Result<Option<Subject>, StorageError> {
        Ok(super::accounts::active_user(self.0, name)
            .await
            .map_err(storage)?
            .map(|user| super::accounts::subject(&user)))
    }
}
