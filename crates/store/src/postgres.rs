//! The PostgreSQL engine: the same [`Store`](crate::Store) contract as
//! [`SqliteStore`](crate::SqliteStore), for deployments that run several hub
//! replicas on one database.
//!
//! Write transactions that read before they write take one transaction-level
//! advisory lock first ([`WRITE_LOCK_KEY`]), so writers are serialized across
//! every connection and every hub replica, exactly as SQLite's `BEGIN IMMEDIATE`
//! serializes them: concurrent logins of the same new user create it once and
//! group sync never interleaves. Single-statement writes are atomic on their own
//! and do not take the lock. Multi-statement reads run in one `REPEATABLE READ`
//! snapshot. Waiting for a lock is bounded by `lock_timeout` (the builder's
//! [`lock_timeout`](PostgresStoreBuilder::lock_timeout)), after which the call
//! fails with [`StoreError::Unavailable`].

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::Connection as _;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};

use crate::StoreError;
use crate::sqlite::{DEFAULT_ACQUIRE_TIMEOUT, DEFAULT_BUSY_TIMEOUT, DEFAULT_MAX_CONNECTIONS};
use crate::url::postgres_url;

/// The [`Store`](crate::Store) implementation shared with the SQLite engine,
/// compiled for PostgreSQL (see `engine.rs`).
#[path = "engine.rs"]
#[allow(
    clippy::duplicate_mod,
    reason = "engine.rs is compiled once per engine, on purpose"
)]
mod engine;

/// The embedded PostgreSQL schema migrations (`crates/store/migrations_postgres`).
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations_postgres");

/// How long opening the store waits for the first connection, by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The advisory lock key that serializes hubauth's write transactions
/// (`pg_advisory_xact_lock`); the ASCII bytes of `"hubauthw"`.
pub const WRITE_LOCK_KEY: i64 = 0x6875_6261_7574_6877;

/// A [`Store`](crate::Store) on a PostgreSQL database, shared safely by several hub replicas.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// How to connect, for the connection that listens for cache events.
    options: PgConnectOptions,
    /// Names this store in its cache announcements, so its own listener skips them.
    instance: Arc<str>,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("connections", &self.pool.size())
            .field("closed", &self.pool.is_closed())
            .finish()
    }
}

/// Options for opening a [`PostgresStore`]; see [`PostgresStore::builder_from_url`].
///
/// Its `Debug` output shows the server and database but never the password.
#[derive(Clone)]
pub struct PostgresStoreBuilder {
    options: PgConnectOptions,
    connect_timeout: Duration,
    acquire_timeout: Duration,
    lock_timeout: Duration,
    max_connections: u32,
}

impl fmt::Debug for PostgresStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStoreBuilder")
            .field("host", &self.options.get_host())
            .field("port", &self.options.get_port())
            .field("database", &self.options.get_database())
            .field("username", &self.options.get_username())
            .field("connect_timeout", &self.connect_timeout)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("lock_timeout", &self.lock_timeout)
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

impl PostgresStoreBuilder {
    /// How long [`open`](Self::open) waits for the server to accept the first
    /// connection before failing with [`StoreError::Unavailable`] (default
    /// [`DEFAULT_CONNECT_TIMEOUT`]).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long a call waits for a pooled connection (including connecting a
    /// new one) before failing with [`StoreError::Unavailable`] (default
    /// [`DEFAULT_ACQUIRE_TIMEOUT`]).
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// How long a statement waits for a row or advisory lock held by another
    /// transaction before failing with [`StoreError::Unavailable`] (PostgreSQL's
    /// `lock_timeout`; default [`DEFAULT_BUSY_TIMEOUT`], at least 1 ms).
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// Maximum pooled connections (at least 1; default [`DEFAULT_MAX_CONNECTIONS`]).
    pub fn max_connections(mut self, max: u32) -> Self {
        self.max_connections = max.max(1);
        self
    }

    /// Connect, apply the schema migrations (under sqlx's migration lock, so
    /// replicas starting together are safe) and return the store.
    pub async fn open(self) -> Result<PostgresStore, StoreError> {
        let lock_ms = self.lock_timeout.as_millis().clamp(1, u128::from(u32::MAX));
        let options = self
            .options
            .options([("lock_timeout", format!("{lock_ms}ms"))]);
        let mut conn =
            match tokio::time::timeout(self.connect_timeout, PgConnection::connect_with(&options))
                .await
            {
                Ok(conn) => conn?,
                Err(_elapsed) => {
                    return Err(StoreError::Unavailable {
                        detail: format!(
                            "the PostgreSQL server did not accept a connection within {} ms",
                            self.connect_timeout.as_millis()
                        ),
                    });
                }
            };
        let migrated = MIGRATOR.run(&mut conn).await;
        // Closing is best effort: the migration's outcome is what matters.
        let _ = conn.close().await;
        migrated?;
        let pool = PgPoolOptions::new()
            .acquire_timeout(self.acquire_timeout)
            .max_connections(self.max_connections)
            .connect_lazy_with(options.clone());
        tracing::info!(
            host = options.get_host(),
            port = options.get_port(),
            database = options.get_database().unwrap_or_default(),
            "opened PostgreSQL database"
        );
        Ok(PostgresStore {
            pool,
            options,
            instance: crate::events::instance_id(),
        })
    }
}

impl PostgresStore {
    /// Options for the database a `postgres://` or `postgresql://` URL names
    /// (`postgresql+driver://`, JupyterHub's SQLAlchemy form, is accepted too).
    /// Any other URL, or one that does not parse, is
    /// [`StoreError::UnsupportedUrl`]; the error never repeats the URL, which may
    /// contain a password.
    pub fn builder_from_url(db_url: &str) -> Result<PostgresStoreBuilder, StoreError> {
        let (scheme, url) = postgres_url(db_url).ok_or_else(|| StoreError::UnsupportedUrl {
            scheme: crate::url::scheme_of(db_url),
            reason: "not a PostgreSQL URL".to_owned(),
        })?;
        let options = PgConnectOptions::from_str(&url).map_err(|_| StoreError::UnsupportedUrl {
            scheme,
            reason: "the PostgreSQL URL could not be parsed".to_owned(),
        })?;
        Ok(Self::builder(options))
    }

    /// Options for a database described by sqlx connect options.
    pub fn builder(options: PgConnectOptions) -> PostgresStoreBuilder {
        PostgresStoreBuilder {
            options,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
            lock_timeout: DEFAULT_BUSY_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }

    /// Open the database a URL names with default options.
    pub async fn open_url(db_url: &str) -> Result<PostgresStore, StoreError> {
        Self::builder_from_url(db_url)?.open().await
    }

    /// A connection to write on (from the pool; held until it is dropped).
    async fn writer(&self) -> Result<Writer, StoreError> {
        Ok(self.pool.acquire().await?)
    }

    /// Close the pool.
    async fn close_all(&self) {
        self.pool.close().await;
    }

    /// Start a read-only transaction with one snapshot for all its queries.
    async fn read_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, StoreError> {
        Ok(self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?)
    }
}

/// A connection to write on: a pooled one.
type Writer = sqlx::pool::PoolConnection<sqlx::Postgres>;

/// Start a write transaction on `writer` holding the hubauth write lock (see the module
/// docs), so a transaction that reads before it writes sees no concurrent writer.
async fn begin_write(
    writer: &mut Writer,
) -> Result<sqlx::Transaction<'_, sqlx::Postgres>, StoreError> {
    let mut tx = writer.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(WRITE_LOCK_KEY)
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// Start the transaction of `replace_auth_states`: each of its updates is a
/// compare-and-swap on one row, so row locks suffice and the write lock is not taken.
async fn begin_batch(
    writer: &mut Writer,
) -> Result<sqlx::Transaction<'_, sqlx::Postgres>, StoreError> {
    Ok(writer.begin().await?)
}

// ---------------------------------------------------------------------------
// what `engine.rs` needs to know about PostgreSQL

/// The store `engine.rs` implements [`Store`](crate::Store) for.
type EngineStore = PostgresStore;

/// The connection the shared helpers run their statements on.
type Conn = PgConnection;

/// Write statements of different connections run at once (a conditional `INSERT`
/// counts before another's insert is visible), so checks need the write lock.
const WRITE_STATEMENTS_ARE_SERIAL: bool = false;

/// The readiness probe's query (one `BIGINT`, as the shared code decodes an `i64`).
const PING_SQL: &str = "SELECT 1::BIGINT";

/// A user page's name filter: `$1` is NULL, or a pattern `name` matches
/// case-insensitively (`ILIKE`; `\` escapes `%` and `_`).
const NAME_FILTER_SQL: &str = "($1::text IS NULL OR name ILIKE $1 ESCAPE '\\')";

/// `pg_notify` on the cache channel; delivered to the listeners when the statement's own
/// (implicit) transaction commits, after the change the caller already committed.
async fn announce(store: &PostgresStore, event: &crate::CacheEvent) -> Result<(), StoreError> {
    let Some(payload) = crate::events::encode(event, &store.instance) else {
        return Ok(());
    };
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(crate::events::CACHE_CHANNEL)
        .bind(payload)
        .execute(&store.pool)
        .await?;
    Ok(())
}

/// A listener on the cache channel with a connection of its own.
fn cache_events(store: &PostgresStore) -> Option<crate::CacheEvents> {
    Some(crate::events::listen(
        &store.options,
        store.instance.clone(),
    ))
}

// ---------------------------------------------------------------------------
// PostgreSQL has no inline writes: every statement is a round trip to the server anyway.

/// Never done inline.
async fn inline_pending_login(
    _store: &PostgresStore,
    _state: &crate::model::NewLoginState,
    _owner: &crate::model::PendingLoginOwner,
    _limits: crate::model::PendingLoginLimits,
) -> Result<Option<crate::model::PendingLoginOutcome>, StoreError> {
    Ok(None)
}

/// Never done inline.
async fn inline_take_login_state(
    _store: &PostgresStore,
    _state_hash: &str,
) -> Result<Option<Option<crate::model::LoginStateRecord>>, StoreError> {
    Ok(None)
}

/// Never done inline.
async fn inline_login(
    _store: &PostgresStore,
    _update: &crate::model::LoginUpdate,
) -> Result<Option<Option<crate::model::UserRecord>>, StoreError> {
    Ok(None)
}

/// Never done inline.
async fn inline_create_session(
    _store: &PostgresStore,
    _session: &crate::model::NewSession,
) -> Result<Option<bool>, StoreError> {
    Ok(None)
}
