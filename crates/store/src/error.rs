//! The store's error type.
//!
//! Messages never contain bound values (token hashes, auth_state bytes, database
//! passwords): only what kind of thing failed, and the database's own message.

/// Everything that can go wrong in a [`Store`](crate::Store) call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The user, group, role, session or token the call names does not exist, so
    /// nothing was changed.
    #[error("{what} was not found in the database.")]
    NotFound {
        /// What was looked for, e.g. `user "alice"` (never a secret value).
        what: String,
    },

    /// The call would create something that already exists (a unique name or
    /// hash), so nothing was changed.
    #[error("{what} already exists in the database.")]
    Conflict {
        /// What already exists, e.g. `group "staff"` (never a secret value).
        what: String,
    },

    /// The database is locked by another writer, or cannot be reached (I/O
    /// error, pool timeout); the call did not complete and can be retried.
    #[error("The database is locked or unreachable; retry the request shortly. ({detail})")]
    Unavailable {
        /// The database's own description of the failure.
        detail: String,
    },

    /// The database URL names an engine this build does not support, so the
    /// store cannot be opened.
    #[error(
        "Unsupported database URL (scheme {scheme:?}): {reason}. hubauth supports SQLite URLs \
         (sqlite:///relative/path.sqlite, sqlite:////absolute/path.sqlite or sqlite::memory:) \
         and PostgreSQL URLs (postgresql://user:password@host:port/database)."
    )]
    UnsupportedUrl {
        /// The URL's scheme, or `""` when it has none (the rest of the URL, which
        /// may hold a password, is never shown).
        scheme: String,
        /// Why the URL was refused.
        reason: String,
    },

    /// Applying the embedded schema migrations failed, so the database schema is
    /// not the one this version of hubauth expects.
    #[error("Database schema migration failed: {detail}")]
    Migration {
        /// The migrator's description of the failure.
        detail: String,
    },

    /// A value stored in the database could not be read back (for example a
    /// JSON column that is not a JSON list of strings): the data is corrupt.
    #[error("Corrupt data in the database column {column}: {detail}")]
    Corrupt {
        /// The table and column, e.g. `roles.scopes`.
        column: &'static str,
        /// What is wrong with the value (the value itself is not shown).
        detail: String,
    },

    /// The SQLite database file cannot be opened or created at start-up (missing
    /// directory, no permission, not a database): nothing was opened.
    #[error("cannot open the SQLite database file {path} ({absolute}): {reason}")]
    CannotOpenFile {
        /// The path as configured (relative paths are relative to the working directory).
        path: String,
        /// The absolute path, and for a relative path the working directory it was
        /// resolved against, so a service started from another directory is obvious.
        absolute: String,
        /// Why, in words, with what to do about it when that is known.
        reason: String,
    },

    /// Any other database failure; the call did not complete.
    #[error("Database error: {detail}")]
    Database {
        /// The database's own description of the failure.
        detail: String,
    },
}

impl StoreError {
    /// `NotFound` for a user name.
    pub(crate) fn user_not_found(name: &str) -> Self {
        Self::NotFound {
            what: format!("user {name:?}"),
        }
    }

    /// `NotFound` for a group name.
    pub(crate) fn group_not_found(name: &str) -> Self {
        Self::NotFound {
            what: format!("group {name:?}"),
        }
    }

    /// `NotFound` for a role name.
    pub(crate) fn role_not_found(name: &str) -> Self {
        Self::NotFound {
            what: format!("role {name:?}"),
        }
    }

    /// True for [`StoreError::Unavailable`], the one error worth retrying.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

/// SQLite primary result codes that mean "locked or unreachable".
const SQLITE_BUSY: i64 = 5;
const SQLITE_LOCKED: i64 = 6;
const SQLITE_IOERR: i64 = 10;
const SQLITE_CANTOPEN: i64 = 14;
const SQLITE_PROTOCOL: i64 = 15;

/// Classify a sqlx error. Unique violations become `Conflict { what: conflict }`.
pub(crate) fn classify(err: sqlx::Error, conflict: impl FnOnce() -> String) -> StoreError {
    match err {
        sqlx::Error::Database(db) => {
            if db.is_unique_violation() {
                return StoreError::Conflict { what: conflict() };
            }
            if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                let detail = pg.message().to_owned();
                return if pg_unavailable(pg.code()) {
                    StoreError::Unavailable { detail }
                } else {
                    StoreError::Database { detail }
                };
            }
            let primary = db
                .code()
                .and_then(|c| c.parse::<i64>().ok())
                .map(|c| c & 0xff);
            let detail = db.message().to_owned();
            match primary {
                Some(
                    SQLITE_BUSY | SQLITE_LOCKED | SQLITE_IOERR | SQLITE_CANTOPEN | SQLITE_PROTOCOL,
                ) => StoreError::Unavailable { detail },
                _ => StoreError::Database { detail },
            }
        }
        sqlx::Error::Io(e) => StoreError::Unavailable {
            detail: format!("I/O error: {e}"),
        },
        sqlx::Error::PoolTimedOut => StoreError::Unavailable {
            detail: "timed out waiting for a database connection".to_owned(),
        },
        sqlx::Error::PoolClosed => StoreError::Unavailable {
            detail: "the database connection pool is closed".to_owned(),
        },
        sqlx::Error::WorkerCrashed => StoreError::Unavailable {
            detail: "the database worker thread stopped".to_owned(),
        },
        sqlx::Error::RowNotFound => StoreError::NotFound {
            what: "row".to_owned(),
        },
        sqlx::Error::ColumnDecode { index, .. } => StoreError::Corrupt {
            column: "(unknown)",
            detail: format!("column {index} has an unexpected type"),
        },
        // Encode/Decode/Configuration and others: describe by kind only, since
        // their messages could mention bound values.
        other => StoreError::Database {
            detail: describe_other(&other),
        },
    }
}

/// PostgreSQL SQLSTATEs that mean "locked, overloaded or unreachable; retry".
fn pg_unavailable(code: &str) -> bool {
    // 08: connection exception; 53: insufficient resources (too many connections,
    // disk full); 57P01-57P03: server shutting down or starting up; 55P03: lock
    // not available (lock_timeout); 40001/40P01: serialization failure, deadlock.
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(
            code,
            "57P01" | "57P02" | "57P03" | "55P03" | "40001" | "40P01"
        )
}

fn describe_other(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::Configuration(e) => format!("configuration error: {e}"),
        sqlx::Error::Encode(_) => "a value could not be encoded for the database".to_owned(),
        sqlx::Error::Decode(_) => "a value read from the database could not be decoded".to_owned(),
        sqlx::Error::ColumnNotFound(c) => format!("column {c} not found"),
        sqlx::Error::TypeNotFound { type_name } => format!("type {type_name} not found"),
        sqlx::Error::Protocol(p) => format!("protocol error: {p}"),
        sqlx::Error::Tls(_) => "TLS error".to_owned(),
        _ => "unexpected database driver error".to_owned(),
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        classify(err, || "the record".to_owned())
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        use sqlx::migrate::MigrateError;
        match err {
            MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _) => {
                match StoreError::from(e) {
                    unavailable @ StoreError::Unavailable { .. } => unavailable,
                    other => StoreError::Migration {
                        detail: other.to_string(),
                    },
                }
            }
            other => StoreError::Migration {
                detail: other.to_string(),
            },
        }
    }
}
