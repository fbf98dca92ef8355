//! The importer's errors. Messages never hold a token, a hash, auth_state or a database
//! password.

/// Why an import could not run at all (problems with single rows are not errors: they
/// are reported in the [`crate::ImportReport`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The source URL is not an SQLite file or PostgreSQL URL, so nothing was read.
    #[error("unsupported source database URL: {reason}")]
    UnsupportedUrl {
        /// Why (the URL itself, which may hold a password, is not shown).
        reason: String,
    },

    /// The SQLite file named by the URL does not exist; the importer never creates one.
    #[error("the JupyterHub database file {path} does not exist")]
    MissingFile {
        /// The path from the URL.
        path: String,
    },

    /// The source database could not be opened or read.
    #[error("reading the JupyterHub database ({what}): {source}")]
    Source {
        /// What was being read, e.g. `users`.
        what: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },

    /// The source has no `alembic_version` table: it is not a JupyterHub database (or
    /// one never initialised), so nothing was imported.
    #[error("the source database has no alembic_version table: it is not a JupyterHub database")]
    NotJupyterHub,

    /// The source's alembic revision is not one this importer knows, so its tables may
    /// not mean what the importer expects: nothing was imported.
    #[error(
        "unknown JupyterHub schema revision {revision:?}: this importer reads the schemas of \
         JupyterHub 3.x/4.x (0eee8c825d24), 5.x (4621fec11365) and 6.x (up to f460b0348206); \
         upgrade hubauth, or run a JupyterHub release it knows with `jupyterhub upgrade-db`"
    )]
    UnknownRevision {
        /// The revision found.
        revision: String,
    },

    /// The source's schema is from a JupyterHub release before 3.0.
    #[error(
        "the JupyterHub schema revision {revision:?} is older than JupyterHub 3.0: upgrade \
         the database first (install JupyterHub 4 or later and run `jupyterhub upgrade-db`)"
    )]
    TooOld {
        /// The revision found.
        revision: String,
    },

    /// `--check-auth-state` was asked for without any key in `JUPYTERHUB_CRYPT_KEY`.
    #[error(
        "checking auth_state needs the keys JupyterHub used: set JUPYTERHUB_CRYPT_KEY \
         (several keys separated by ';')"
    )]
    NoCryptKeys,

    /// The hub's store failed; batches written before the failure are kept, and running
    /// the import again continues from there.
    #[error(
        "hubauth's database: {0} (batches already written are kept; run the import again to continue)"
    )]
    Store(#[from] hubauth_store::StoreError),
}
