//! The SQLite reader: `read.rs` for SQLite files.

/// Seconds since the epoch of a JupyterHub `DateTime` column (naive UTC text).
macro_rules! epoch {
    ($column:literal) => {
        concat!("CAST(strftime('%s', ", $column, ") AS INTEGER)")
    };
}

type Db = sqlx::Sqlite;

#[path = "read.rs"]
#[allow(
    clippy::duplicate_mod,
    reason = "read.rs is compiled once per engine, on purpose"
)]
pub(crate) mod read;
