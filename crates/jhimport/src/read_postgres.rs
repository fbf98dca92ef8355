//! The PostgreSQL reader: `read.rs` for PostgreSQL.

/// Seconds since the epoch of a JupyterHub `DateTime` column (`timestamp`, UTC).
macro_rules! epoch {
    ($column:literal) => {
        concat!("CAST(FLOOR(EXTRACT(EPOCH FROM ", $column, ")) AS BIGINT)")
    };
}

type Db = sqlx::Postgres;

#[path = "read.rs"]
#[allow(
    clippy::duplicate_mod,
    reason = "read.rs is compiled once per engine, on purpose"
)]
pub(crate) mod read;
