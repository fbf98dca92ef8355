//! hubauth's database: users, groups, roles, browser sessions, API tokens and
//! encrypted auth_state, behind one engine-independent [`Store`] trait.
//!
//! - [`open`] turns JupyterHub's `db_url` into an `Arc<dyn Store>`: a
//!   [`SqliteStore`] for `sqlite:` URLs, a [`PostgresStore`] for `postgres://`
//!   and `postgresql://` URLs (the one to use for several hub replicas).
//! - [`Store::apply_login`] is JupyterHub's persistence step after a login or
//!   refresh (`auth_to_user`), done in one transaction.
//! - [`crypt::CryptKeeper`] encrypts auth_state with `JUPYTERHUB_CRYPT_KEY`,
//!   compatible with JupyterHub's Fernet tokens; the store only sees the bytes.
//!
//! Time is always a parameter (unix seconds): the store never reads the clock.
//! Session ids and API tokens are stored only as hashes computed by the caller.

#![forbid(unsafe_code)]

mod common;
pub mod crypt;
mod error;
mod events;
pub mod jupyterhub_hash;
mod model;
mod postgres;
mod sqlite;
mod store;
mod url;

use std::sync::Arc;

pub use crate::crypt::{CryptError, CryptKeeper, Decrypted, Reencrypted};
pub use crate::error::StoreError;
pub use crate::events::{CACHE_CHANNEL, CacheEvent, CacheEvents, LISTENER_APPLICATION_NAME};
pub use crate::model::{
    ADMIN_ROLE, ApiTokenRecord, AuthStateUpdate, GroupRecord, LoginOutcome, LoginUpdate,
    NewApiToken, NewSession, RoleRecord, RoleSpec, SessionRecord, USER_ROLE, UserRecord,
};
pub use crate::model::{AuthStateSwap, StoredAuthState};
pub use crate::model::{ImportBatch, ImportedApiToken, ImportedUser};
pub use crate::model::{LoginStateRecord, NewLoginState};
pub use crate::model::{NewLogoutNotice, QueuedLogoutNotice};
pub use crate::model::{
    NewOAuthGrant, OAuthExchange, OAuthExchangeOutcome, OAuthGrantKind, OAuthGrantRecord,
    OAuthGrantState,
};
pub use crate::model::{PendingLoginLimits, PendingLoginOutcome, PendingLoginOwner};
pub use crate::model::{ProviderSessionLink, ProviderSessionQuery};
pub use crate::model::{UserPage, UserQuery, UserSort};
pub use crate::postgres::{
    DEFAULT_CONNECT_TIMEOUT, PostgresStore, PostgresStoreBuilder, WRITE_LOCK_KEY,
};
pub use crate::sqlite::{
    DEFAULT_ACQUIRE_TIMEOUT, DEFAULT_BUSY_TIMEOUT, DEFAULT_MAX_CONNECTIONS, SqliteStore,
    SqliteStoreBuilder,
};
pub use crate::store::Store;
pub use crate::url::{DatabaseLocation, parse_database_url};

/// Open the database named by a JupyterHub-style URL, creating an SQLite file
/// if missing, and apply the schema migrations.
///
/// `postgres://`, `postgresql://` and `postgresql+driver://` URLs open a
/// [`PostgresStore`] with default options (the database must exist). SQLite
/// accepts `sqlite:///relative/file.sqlite`, `sqlite:////abs/path.sqlite`,
/// `sqlite://path` and `sqlite::memory:` (see [`parse_database_url`]); any
/// other engine is [`StoreError::UnsupportedUrl`]. Errors never contain the
/// URL's password.
pub async fn open(db_url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if crate::url::postgres_url(db_url).is_some() {
        let store = PostgresStore::open_url(db_url).await?;
        return Ok(Arc::new(store));
    }
    let store = SqliteStore::builder_from_url(db_url)?.open().await?;
    Ok(Arc::new(store))
}

// The behaviour tests name the crate as its users do.
#[cfg(test)]
extern crate self as hubauth_store;

#[cfg(test)]
mod tests;
