//! Reading a JupyterHub database, read-only: an SQLite file or a PostgreSQL server.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

use crate::model::Snapshot;
use crate::{ImportError, SchemaVersion};

use crate::{read_postgres as postgres, read_sqlite as sqlite};

#[derive(Debug)]
enum Engine {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// An open JupyterHub database. Nothing is ever written to it: SQLite files are opened
/// read-only (and never created), PostgreSQL sessions are read-only
/// (`default_transaction_read_only`), and everything is read in one transaction, so a
/// hub that keeps running meanwhile is seen at one moment.
#[derive(Debug)]
pub struct Source {
    engine: Engine,
}

impl Source {
    /// Opens the database named by a JupyterHub `db_url`: `sqlite:///relative.sqlite`,
    /// `sqlite:////absolute.sqlite`, a plain file path, or
    /// `postgresql://user:password@host/db` (a `+driver` such as `+psycopg2` is ignored).
    pub async fn open(url: &str) -> Result<Source, ImportError> {
        let trimmed = url.trim();
        let scheme = trimmed
            .split_once("://")
            .map(|(scheme, _)| scheme.to_ascii_lowercase());
        let base = scheme
            .as_deref()
            .map(|scheme| scheme.split_once('+').map_or(scheme, |(base, _)| base));
        match base {
            Some("postgres" | "postgresql") => {
                let rest = trimmed.split_once("://").map_or("", |(_, rest)| rest);
                let options = PgConnectOptions::from_str(&format!("postgresql://{rest}"))
                    .map_err(|_| ImportError::UnsupportedUrl {
                        reason: "the PostgreSQL URL does not parse".to_owned(),
                    })?
                    .options([("default_transaction_read_only", "on")]);
                let pool = PgPoolOptions::new()
                    .max_connections(1)
                    .connect_with(options)
                    .await
                    .map_err(|source| ImportError::Source {
                        what: "connecting",
                        source,
                    })?;
                Ok(Source {
                    engine: Engine::Postgres(pool),
                })
            }
            Some("sqlite") | None => {
                let path = if base.is_some() {
                    match hubauth_store::parse_database_url(trimmed) {
                        Ok(hubauth_store::DatabaseLocation::SqliteFile(path)) => path,
                        _ => {
                            return Err(ImportError::UnsupportedUrl {
                                reason: "an SQLite URL must name a file \
                                         (sqlite:///relative.sqlite or sqlite:////absolute.sqlite)"
                                    .to_owned(),
                            });
                        }
                    }
                } else if let Some(path) = trimmed.strip_prefix("sqlite:") {
                    std::path::PathBuf::from(path)
                } else {
                    std::path::PathBuf::from(trimmed)
                };
                if !path.is_file() {
                    return Err(ImportError::MissingFile {
                        path: path.display().to_string(),
                    });
                }
                let options = SqliteConnectOptions::new()
                    .filename(&path)
                    .read_only(true)
                    .create_if_missing(false);
                let pool = SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(options)
                    .await
                    .map_err(|source| ImportError::Source {
                        what: "opening the SQLite file",
                        source,
                    })?;
                Ok(Source {
                    engine: Engine::Sqlite(pool),
                })
            }
            Some(other) => Err(ImportError::UnsupportedUrl {
                reason: format!(
                    "scheme {other:?}: JupyterHub databases on SQLite or PostgreSQL are supported"
                ),
            }),
        }
    }

    /// The schema version, from `alembic_version` (see [`SchemaVersion::from_revision`]).
    pub async fn schema(&self) -> Result<SchemaVersion, ImportError> {
        let revision = match &self.engine {
            Engine::Sqlite(pool) => sqlite::read::revision(pool).await?,
            Engine::Postgres(pool) => postgres::read::revision(pool).await?,
        };
        SchemaVersion::from_revision(&revision)
    }

    /// Everything the importer takes, read in one read-only transaction after checking
    /// the schema version.
    pub async fn read(&self) -> Result<Snapshot, ImportError> {
        let schema = self.schema().await?;
        match &self.engine {
            Engine::Sqlite(pool) => sqlite::read::snapshot(pool, schema).await,
            Engine::Postgres(pool) => postgres::read::snapshot(pool, schema).await,
        }
    }

    /// Closes the connection.
    pub async fn close(&self) {
        match &self.engine {
            Engine::Sqlite(pool) => pool.close().await,
            Engine::Postgres(pool) => pool.close().await,
        }
    }
}
