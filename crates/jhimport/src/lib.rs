//! Import a JupyterHub database into hubauth's store (`hubauth import-db`, issue #19).
//!
//! - [`Source`] opens a JupyterHub database read-only (an SQLite file or a PostgreSQL
//!   URL, JupyterHub 3.x/4.x, 5.x and 6.x schemas; the version comes from
//!   `alembic_version`, and an unknown revision is refused) and reads users, groups,
//!   roles, API tokens, OAuth clients and encrypted auth_state in one transaction
//!   ([`Snapshot`]).
//! - [`import_database`] plans the import against hubauth's store (create, change, skip
//!   or conflict per row), then writes it in batches, one transaction each. Token hashes
//!   are copied as JupyterHub stored them, so existing tokens keep working
//!   ([`hubauth_store::Store::find_api_token_by_value`]); auth_state is copied as
//!   ciphertext, valid under the same `JUPYTERHUB_CRYPT_KEY`.
//!
//! Nothing here logs or reports a token, a hash, auth_state or a password.

#![forbid(unsafe_code)]

mod error;
mod import;
mod model;
mod read_postgres;
mod read_sqlite;
mod schema;
mod source;

pub use crate::error::ImportError;
pub use crate::import::{
    Action, ConfiguredClient, Counts, ImportOptions, ImportReport, Item, Kind, import_database,
    import_snapshot,
};
pub use crate::model::{JhGroup, JhOAuthClient, JhRole, JhToken, JhUser, Snapshot, TokenOwner};
pub use crate::schema::SchemaVersion;
pub use crate::source::Source;

// The behaviour tests name the crate as its users do.
#[cfg(test)]
extern crate self as hubauth_jhimport;

#[cfg(test)]
mod tests;
