//! The SQLite engine.

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use sqlx::Connection as _;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use tokio::sync::{Mutex, OwnedMappedMutexGuard, OwnedMutexGuard};

use crate::StoreError;
use crate::url::{DatabaseLocation, parse_database_url};
use inline::Inline;

/// The [`Store`](crate::Store) implementation shared with the PostgreSQL
/// engine, compiled for SQLite (see `engine.rs`).
#[path = "engine.rs"]
#[allow(
    clippy::duplicate_mod,
    reason = "engine.rs is compiled once per engine, on purpose"
)]
mod engine;

#[path = "sqlite_inline.rs"]
mod inline;

/// The embedded schema migrations (`crates/store/migrations`).
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How long a write waits for another writer's lock before giving up, by default.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a call waits for a free pooled connection, by default.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Pool size for file databases, by default (in-memory databases use one connection).
pub const DEFAULT_MAX_CONNECTIONS: u32 = 4;

/// SQLite's page cache per connection to a database file, in KiB (SQLite's own default is
/// 2000). Each pooled connection fills its cache as it reads, so four connections held
/// 8 MB once the hub had looked at many sessions; 512 KiB still keeps the tables' and
/// indexes' inner pages, so a lookup reads only its leaf pages from the operating system's
/// file cache (BENCHMARKS.md, "Memory at scale").
const PAGE_CACHE_KIB: u32 = 512;

/// The page cache of the write connection sqlx runs, in KiB (see [`WriterConnection`]).
const WRITER_PAGE_CACHE_KIB: u32 = 128;

/// The page cache of the inline connection, in KiB: a login's statements touch the
/// pending logins' few pages and the inner pages of the users' and sessions' indexes.
const INLINE_PAGE_CACHE_KIB: u32 = 256;

/// How many uses of the writer connection go by between checks that its thread still
/// runs (see [`WriterConnection`]).
const WRITER_CHECK_EVERY: u32 = 256;

/// A [`Store`](crate::Store) on an SQLite database (a file in WAL mode, or in memory).
///
/// Reads go to a pool of connections (WAL lets them run beside a writer). Every write to
/// a file database goes through one dedicated connection instead, taken in turn behind
/// an async lock: SQLite lets one connection write at a time anyway, so this costs no
/// concurrency, writers of this process queue in order instead of sleeping in SQLite's
/// busy handler, and a write skips the pool's bookkeeping (a pooled connection is pinged
/// on its sqlx worker thread each time it goes back, a hand-off to that thread and back;
/// a login made a dozen of them: BENCHMARKS.md, login CPU).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// `None` for an in-memory database, whose one pooled connection does everything.
    writer: Option<Arc<WriterConnection>>,
    acquire_timeout: Duration,
}

/// The dedicated write connection of a file database.
///
/// sqlx runs each SQLite connection on a thread of its own; the pool notices a thread that
/// stopped (it never should) by pinging on release. This connection is checked every
/// [`WRITER_CHECK_EVERY`] uses and after starting a transaction on it failed for another
/// reason than SQLite's answer, and replaced when the check fails, so a broken one costs
/// a few failed writes, not every write until a restart.
#[derive(Debug)]
struct WriterConnection {
    slot: Arc<Mutex<WriteSide>>,
    options: SqliteConnectOptions,
    path: PathBuf,
    uses: AtomicU32,
    suspect: AtomicBool,
    /// Commits made on the inline connection since the store opened.
    inline_commits: AtomicU32,
    /// Set by the store's close: nothing connects again.
    closed: AtomicBool,
}

/// The write side of a file database, one user at a time: sqlx's connection for writes
/// in general, and the inline connection for a login's hot writes (`sqlite_inline.rs`).
/// Either is opened when first needed.
struct WriteSide {
    conn: Option<SqliteConnection>,
    inline: Option<rusqlite::Connection>,
}

impl std::fmt::Debug for WriteSide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteSide")
            .field("conn", &self.conn.is_some())
            .field("inline", &self.inline.is_some())
            .finish()
    }
}

/// The connection a write runs on: the dedicated writer of a file database (held for as
/// long as this lives) or, in memory, the pool's one connection.
enum Writer {
    Dedicated {
        conn: OwnedMappedMutexGuard<WriteSide, SqliteConnection>,
        owner: Arc<WriterConnection>,
    },
    Pooled(PoolConnection<sqlx::Sqlite>),
}

impl Deref for Writer {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        match self {
            Writer::Dedicated { conn, .. } => conn,
            Writer::Pooled(conn) => conn,
        }
    }
}

impl DerefMut for Writer {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        match self {
            Writer::Dedicated { conn, .. } => conn,
            Writer::Pooled(conn) => conn,
        }
    }
}

impl Writer {
    /// The dedicated writer this is, if it is one.
    fn owner(&self) -> Option<Arc<WriterConnection>> {
        match self {
            Writer::Dedicated { owner, .. } => Some(Arc::clone(owner)),
            Writer::Pooled(_) => None,
        }
    }
}

impl WriterConnection {
    /// The write side, held until the guard is dropped.
    async fn lock(&self, timeout: Duration) -> Result<OwnedMutexGuard<WriteSide>, StoreError> {
        let side = tokio::time::timeout(timeout, Arc::clone(&self.slot).lock_owned())
            .await
            .map_err(|_| StoreError::Unavailable {
                detail: "timed out waiting for the database's write connection".to_owned(),
            })?;
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Unavailable {
                detail: "the database connection pool is closed".to_owned(),
            });
        }
        Ok(side)
    }

    /// The writer, connecting it first when there is none (at start, or after a check
    /// found it broken); pinged first, and replaced when that fails, on every
    /// [`WRITER_CHECK_EVERY`]th use and after a suspicious failure.
    async fn take(
        &self,
        timeout: Duration,
    ) -> Result<OwnedMappedMutexGuard<WriteSide, SqliteConnection>, StoreError> {
        let mut side = self.lock(timeout).await?;
        let due = self
            .uses
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(WRITER_CHECK_EVERY);
        let check = self.suspect.swap(false, Ordering::Relaxed) || due;
        if let Some(conn) = side.conn.as_mut().filter(|_| check)
            && let Err(err) = conn.ping().await
        {
            tracing::warn!(error = %err, "replacing the SQLite write connection");
            // Its thread is gone or going: dropping it is all the closing there is.
            drop(side.conn.take());
        }
        if side.conn.is_none() {
            side.conn = Some(SqliteConnection::connect_with(&self.options).await?);
        }
        OwnedMutexGuard::try_map(side, |side| side.conn.as_mut()).map_err(|_| {
            StoreError::Unavailable {
                detail: "the database's write connection is missing".to_owned(),
            }
        })
    }

    /// Close both connections (at the store's close).
    async fn close(&self) {
        let (conn, inline) = {
            let mut side = self.slot.lock().await;
            self.closed.store(true, Ordering::Release);
            (side.conn.take(), side.inline.take())
        };
        drop(inline);
        if let Some(Err(err)) = match conn {
            Some(conn) => Some(conn.close().await),
            None => None,
        } {
            tracing::debug!(error = %err, "closing the SQLite write connection");
        }
    }
}

/// Options for opening a [`SqliteStore`]; see [`SqliteStore::builder`].
#[derive(Debug, Clone)]
pub struct SqliteStoreBuilder {
    location: DatabaseLocation,
    busy_timeout: Duration,
    acquire_timeout: Duration,
    max_connections: u32,
}

impl SqliteStoreBuilder {
    /// How long a write waits for another connection's lock before failing
    /// with [`StoreError::Unavailable`] (default [`DEFAULT_BUSY_TIMEOUT`]).
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// How long a call waits for a free pooled connection before failing with
    /// [`StoreError::Unavailable`] (default [`DEFAULT_ACQUIRE_TIMEOUT`]).
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// Maximum pooled connections for a file database (at least 1; default
    /// [`DEFAULT_MAX_CONNECTIONS`]). In-memory databases always use one.
    pub fn max_connections(mut self, max: u32) -> Self {
        self.max_connections = max.max(1);
        self
    }

    /// Open (creating the file if missing) and apply the schema migrations.
    pub async fn open(self) -> Result<SqliteStore, StoreError> {
        let (options, memory) = match &self.location {
            DatabaseLocation::SqliteFile(path) => (
                SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal),
                false,
            ),
            // A uniquely named shared-cache in-memory database, private to this store.
            DatabaseLocation::SqliteMemory => {
                (SqliteConnectOptions::from_str("sqlite::memory:")?, true)
            }
        };
        let options = options.foreign_keys(true).busy_timeout(self.busy_timeout);
        // A file database only: an in-memory database lives in its page cache.
        let options = if memory {
            options
        } else {
            options.pragma("cache_size", format!("-{PAGE_CACHE_KIB}"))
        };
        // No ping before handing out a pooled connection: the connection is a thread in
        // this process, not a socket that can go away, and every ping is a hand-off to
        // that thread and back (a login made about a dozen; BENCHMARKS.md, login CPU).
        // A connection whose thread died fails its next statement and sqlx's own ping
        // when it is released closes it.
        let pool_options = SqlitePoolOptions::new()
            .acquire_timeout(self.acquire_timeout)
            .test_before_acquire(false);
        let pool_options = if memory {
            // The database lives as long as its one connection: keep it forever.
            pool_options
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            pool_options.max_connections(self.max_connections)
        };
        let file = match &self.location {
            DatabaseLocation::SqliteFile(path) => Some(path.as_path()),
            DatabaseLocation::SqliteMemory => None,
        };
        let pool = match pool_options.connect_with(options.clone()).await {
            Ok(pool) => pool,
            Err(err) => return Err(explain_open_failure(file, err.into())),
        };
        if let Err(err) = MIGRATOR.run(&pool).await {
            pool.close().await;
            return Err(explain_open_failure(file, err.into()));
        }
        let writer = match &self.location {
            DatabaseLocation::SqliteFile(path) => {
                tracing::info!(path = %path.display(), "opened SQLite database");
                Some(Arc::new(WriterConnection {
                    slot: Arc::new(Mutex::new(WriteSide {
                        conn: None,
                        inline: None,
                    })),
                    // Most writes a busy hub makes go inline (a login's); the rest (activity
                    // batches, admin changes) touch a few pages each.
                    options: options.pragma("cache_size", format!("-{WRITER_PAGE_CACHE_KIB}")),
                    path: path.clone(),
                    inline_commits: AtomicU32::new(0),
                    closed: AtomicBool::new(false),
                    // The first use checks nothing: the connection is made then.
                    uses: AtomicU32::new(1),
                    suspect: AtomicBool::new(false),
                }))
            }
            DatabaseLocation::SqliteMemory => {
                tracing::info!("opened in-memory SQLite database (data is lost at exit)");
                None
            }
        };
        Ok(SqliteStore {
            pool,
            writer,
            acquire_timeout: self.acquire_timeout,
        })
    }
}

/// Turns a failure to open a database file into [`StoreError::CannotOpenFile`] saying
/// which file (resolved against which directory) and why, when the file system tells
/// why. A lock held by another process stays [`StoreError::Unavailable`]: waiting helps
/// there, and the message says so.
fn explain_open_failure(file: Option<&Path>, err: StoreError) -> StoreError {
    let Some(path) = file else {
        return err;
    };
    let detail = match &err {
        StoreError::Unavailable { detail }
        | StoreError::Database { detail }
        | StoreError::Migration { detail } => detail.to_ascii_lowercase(),
        _ => return err,
    };
    let cwd = std::env::current_dir().ok();
    let absolute = match &cwd {
        Some(cwd) if path.is_relative() => cwd.join(path),
        _ => path.to_path_buf(),
    };
    let reason = if let Some(reason) = file_system_reason(&absolute) {
        reason
    } else if detail.contains("not a database") {
        "the file is not an SQLite database (is db_url pointing at another file?)".to_owned()
    } else if detail.contains("unable to open") || detail.contains("readonly") {
        let directory = absolute.parent().map_or_else(String::new, |dir| {
            format!(" and its directory {}", dir.display())
        });
        format!(
            "SQLite cannot open or create it ({detail}); the hub's user must be able to read and write the file{directory}"
        )
    } else {
        return err;
    };
    let absolute = match &cwd {
        Some(cwd) if path.is_relative() => format!(
            "{}, relative to the working directory {}",
            absolute.display(),
            cwd.display()
        ),
        _ => absolute.display().to_string(),
    };
    StoreError::CannotOpenFile {
        path: path.display().to_string(),
        absolute,
        reason,
    }
}

/// What the file system says is in the way of opening or creating `file`, if anything.
fn file_system_reason(file: &Path) -> Option<String> {
    use std::io::ErrorKind;
    let parent = file
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty());
    match std::fs::metadata(file) {
        Ok(meta) if meta.is_dir() => Some("it is a directory, not a file".to_owned()),
        Ok(_) => match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(file)
        {
            Err(err) if err.kind() == ErrorKind::PermissionDenied => Some(
                "permission denied: the hub's user must be able to read and write the file"
                    .to_owned(),
            ),
            _ => None,
        },
        Err(err) if err.kind() == ErrorKind::NotFound => {
            let parent = parent?;
            match std::fs::metadata(parent) {
                Err(err) if err.kind() == ErrorKind::NotFound => Some(format!(
                    "the directory {} does not exist; create it or choose another path",
                    parent.display()
                )),
                Ok(meta) if !meta.is_dir() => {
                    Some(format!("{} is not a directory", parent.display()))
                }
                Ok(meta) if meta.permissions().readonly() => Some(format!(
                    "the file does not exist and the directory {} is read-only",
                    parent.display()
                )),
                _ => None,
            }
        }
        Err(err) if err.kind() == ErrorKind::PermissionDenied => {
            Some("permission denied: the hub's user cannot reach the file's directory".to_owned())
        }
        Err(_) => None,
    }
}

impl SqliteStore {
    /// Options for a database at `location`.
    pub fn builder(location: DatabaseLocation) -> SqliteStoreBuilder {
        SqliteStoreBuilder {
            location,
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }

    /// Options for the database a URL names (see [`parse_database_url`]).
    pub fn builder_from_url(db_url: &str) -> Result<SqliteStoreBuilder, StoreError> {
        Ok(Self::builder(parse_database_url(db_url)?))
    }

    /// Open the database file at `path` (created if missing) with default options.
    pub async fn open_path(path: &Path) -> Result<SqliteStore, StoreError> {
        Self::builder(DatabaseLocation::SqliteFile(PathBuf::from(path)))
            .open()
            .await
    }

    /// Open a fresh private in-memory database with default options.
    pub async fn open_in_memory() -> Result<SqliteStore, StoreError> {
        Self::builder(DatabaseLocation::SqliteMemory).open().await
    }

    /// The connection to write on, held until the returned value is dropped: the
    /// dedicated writer of a file database, the one pooled connection of an in-memory one.
    async fn writer(&self) -> Result<Writer, StoreError> {
        match &self.writer {
            Some(writer) => Ok(Writer::Dedicated {
                conn: writer.take(self.acquire_timeout).await?,
                owner: Arc::clone(writer),
            }),
            None => Ok(Writer::Pooled(self.pool.acquire().await?)),
        }
    }

    /// Close the pool and the writer.
    async fn close_all(&self) {
        if let Some(writer) = &self.writer {
            writer.close().await;
        }
        self.pool.close().await;
    }

    /// Start a read transaction, for a consistent snapshot across several queries.
    async fn read_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        Ok(self.pool.begin().await?)
    }
}

/// Start a write transaction on `writer`. `BEGIN IMMEDIATE` takes the write lock at once
/// (waiting up to the busy timeout for another process), so a transaction that reads
/// before it writes cannot fail half-way on lock upgrade.
async fn begin_write(
    writer: &mut Writer,
) -> Result<sqlx::Transaction<'_, sqlx::Sqlite>, StoreError> {
    let owner = writer.owner();
    match writer.begin_with("BEGIN IMMEDIATE").await {
        Ok(tx) => Ok(tx),
        Err(err) => {
            // Not SQLite's answer (busy, read-only, ...): the connection's thread may be
            // gone, so the next user checks it first.
            if let Some(owner) = owner.filter(|_| !matches!(err, sqlx::Error::Database(_))) {
                owner.suspect.store(true, Ordering::Relaxed);
            }
            Err(err.into())
        }
    }
}

/// Start the transaction of `replace_auth_states`: a write transaction like any other
/// on SQLite.
async fn begin_batch(
    writer: &mut Writer,
) -> Result<sqlx::Transaction<'_, sqlx::Sqlite>, StoreError> {
    begin_write(writer).await
}

// ---------------------------------------------------------------------------
// what `engine.rs` needs to know about SQLite

/// The store `engine.rs` implements [`Store`](crate::Store) for.
type EngineStore = SqliteStore;

/// The connection the shared helpers run their statements on.
type Conn = SqliteConnection;

/// Each write statement runs alone holding the database's write lock (SQLite has one
/// writer at a time), so a conditional `INSERT` counts and inserts atomically.
const WRITE_STATEMENTS_ARE_SERIAL: bool = true;

/// The readiness probe's query.
const PING_SQL: &str = "SELECT 1";

/// A user page's name filter: `$1` is NULL, or a pattern `name` matches
/// (SQLite's `LIKE` ignores ASCII case; `\` escapes `%` and `_`).
const NAME_FILTER_SQL: &str = "($1 IS NULL OR name LIKE $1 ESCAPE '\\')";

/// One process per database file: there is nobody to tell.
async fn announce(_store: &SqliteStore, _event: &crate::CacheEvent) -> Result<(), StoreError> {
    Ok(())
}

/// One process per database file: there is nobody to hear from.
fn cache_events(_store: &SqliteStore) -> Option<crate::CacheEvents> {
    None
}

// ---------------------------------------------------------------------------
// the login's hot writes on the calling thread (`sqlite_inline.rs`)

impl SqliteStore {
    /// Run `write` on the inline connection while holding the write side. `None` when
    /// there is none (an in-memory database) or another process held the write lock:
    /// the caller then writes the usual way.
    async fn run_inline<T>(
        &self,
        write: impl FnOnce(&rusqlite::Connection) -> Result<Inline<T>, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let Some(writer) = &self.writer else {
            return Ok(None);
        };
        let mut side = writer.lock(self.acquire_timeout).await?;
        if side.inline.is_none() {
            side.inline = Some(inline::open(&writer.path, INLINE_PAGE_CACHE_KIB)?);
        }
        let Some(conn) = side.inline.as_ref() else {
            return Ok(None);
        };
        let result = write(conn)?;
        drop(side);
        match result {
            Inline::Done(value) => {
                self.inline_committed(writer);
                Ok(Some(value))
            }
            Inline::Busy => Ok(None),
        }
    }

    /// Count one inline write; every [`inline::CHECKPOINT_EVERY`]th starts a passive
    /// checkpoint of the WAL on sqlx's thread (the inline connection never checkpoints,
    /// so that no request waits for one).
    fn inline_committed(&self, writer: &WriterConnection) {
        let done = writer.inline_commits.fetch_add(1, Ordering::Relaxed) + 1;
        if done.is_multiple_of(inline::CHECKPOINT_EVERY) {
            let store = self.clone();
            tokio::spawn(async move { store.checkpoint().await });
        }
    }

    /// Copy what the WAL holds into the database file, as far as no reader needs it.
    async fn checkpoint(&self) {
        let result = match self.writer().await {
            Ok(mut writer) => sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&mut *writer)
                .await
                .map(|_| ())
                .map_err(StoreError::from),
            Err(err) => Err(err),
        };
        if let Err(err) = result {
            tracing::warn!(error = %err, "checkpointing the SQLite write-ahead log");
        }
    }
}

/// `put_login_state_capped` inline.
async fn inline_pending_login(
    store: &SqliteStore,
    state: &crate::model::NewLoginState,
    owner: &crate::model::PendingLoginOwner,
    limits: crate::model::PendingLoginLimits,
) -> Result<Option<crate::model::PendingLoginOutcome>, StoreError> {
    store
        .run_inline(|conn| inline::store_pending_login(conn, state, owner, limits))
        .await
}

/// `take_login_state` inline.
async fn inline_take_login_state(
    store: &SqliteStore,
    state_hash: &str,
) -> Result<Option<Option<crate::model::LoginStateRecord>>, StoreError> {
    store
        .run_inline(|conn| inline::take_login_state(conn, state_hash))
        .await
}

/// `apply_login` inline when it needs no transaction (see `login_row_update`): the user
/// `apply_login` inline when it needs no transaction (see `login_row_update`):
/// `Some(Some(user))` done; `Some(None)` the user was read and the login needs the write
/// transaction (memberships change, the user is missing or changed in between), so there
/// is no point in trying without one again; `None` not done inline (the usual way).
async fn inline_login(
    store: &SqliteStore,
    update: &crate::model::LoginUpdate,
) -> Result<Option<Option<crate::model::UserRecord>>, StoreError> {
    store.run_inline(|conn| inline::login(conn, update)).await
}

/// `create_session` inline: whether the user existed, or `None` for the usual way.
async fn inline_create_session(
    store: &SqliteStore,
    session: &crate::model::NewSession,
) -> Result<Option<bool>, StoreError> {
    store
        .run_inline(|conn| inline::create_session(conn, session))
        .await
}
