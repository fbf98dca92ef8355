//! The login's hot writes on a SQLite file, run on the calling thread.
//!
//! sqlx runs each SQLite connection on a thread of its own, and every statement is a
//! hand-off to that thread and back: two thread switches, plus the async runtime waking a
//! worker for the answer. A login's four writes (store the pending login, take it back,
//! record the login, create the session) are each a few microseconds of SQLite work, so
//! the hand-offs cost more than the work (BENCHMARKS.md, login CPU). Here they run on a
//! second connection opened with rusqlite, directly on the thread that asks, while the
//! write side's lock (`WriteSide`) is held, so they never overlap the hub's other writes.
//!
//! Nothing here may wait: the connection has no busy timeout, so when another process
//! holds the database's write lock a statement fails at once with SQLITE_BUSY, the
//! caller gets [`Inline::Busy`] and does the write the usual way (on sqlx's thread,
//! which waits up to the configured busy timeout). It never checkpoints the WAL either
//! (`wal_autocheckpoint = 0`); the store starts a passive checkpoint on sqlx's thread
//! every [`CHECKPOINT_EVERY`] commits made here. A function of several statements runs
//! them in one transaction, which ends before the function returns (nothing in between
//! awaits), so none is ever left open.

use std::path::Path;

use rusqlite::types::ToSql;
use rusqlite::{Connection, ErrorCode, OpenFlags, Statement};

use super::engine::{
    CREATE_SESSION_SQL, LOGIN_UPDATE_SQL, PENDING_LOGIN_CLEANUP_SQL,
    PENDING_LOGIN_CLIENT_COUNT_SQL, PENDING_LOGIN_INSERT_SQL, TAKE_LOGIN_STATE_SQL,
    USER_BY_NAME_SQL,
};
use crate::StoreError;
use crate::common::{MembershipRow, user_from_membership_rows};
use crate::model::{
    LoginStateRecord, LoginUpdate, NewLoginState, NewSession, PendingLoginLimits,
    PendingLoginOutcome, PendingLoginOwner, UserRecord,
};

/// Commits made here between two passive checkpoints of the WAL. A login makes four,
/// of about seventeen pages in all, so this is about 2,000 pages (8 MiB): twice SQLite's
/// own default, because a checkpoint's cost is mostly its two fsyncs and the pages a
/// login rewrites (the pending logins' table and indexes) are copied once however often
/// they changed.
pub(super) const CHECKPOINT_EVERY: u32 = 512;

/// What an inline write came to.
#[derive(Debug)]
pub(super) enum Inline<T> {
    /// Done; `T` is the answer.
    Done(T),
    /// Another process holds the write lock: nothing was written, do it the usual way.
    Busy,
}

/// Open the inline connection to the (existing, migrated) database file at `path`.
pub(super) fn open(path: &Path, page_cache_kib: u32) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|err| store_error(err, ""))?;
    // The same settings as the pooled connections, but never wait and never checkpoint.
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 0; \
         PRAGMA wal_autocheckpoint = 0; PRAGMA cache_size = -{page_cache_kib};"
    ))
    .map_err(|err| store_error(err, ""))?;
    Ok(conn)
}

/// Bind `values[i]` to the parameter `$<i + 1>` wherever it appears (the shared
/// statements number their parameters `$1`, `$2`, ... as sqlx binds them, not always in
/// the order they first appear, which positional binding would assume).
fn bind(stmt: &mut Statement<'_>, values: &[&dyn ToSql]) -> rusqlite::Result<()> {
    const NAMES: [&str; 9] = ["$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9"];
    if values.len() > NAMES.len() {
        return Err(rusqlite::Error::InvalidParameterCount(
            values.len(),
            NAMES.len(),
        ));
    }
    for (name, value) in NAMES.iter().zip(values) {
        if let Some(index) = stmt.parameter_index(name)? {
            stmt.raw_bind_parameter(index, value)?;
        }
    }
    Ok(())
}

/// Run a statement that returns no rows; its changed-row count.
fn execute(conn: &Connection, sql: &str, values: &[&dyn ToSql]) -> rusqlite::Result<usize> {
    let mut stmt = conn.prepare_cached(sql)?;
    bind(&mut stmt, values)?;
    stmt.raw_execute()
}

/// The error a failed statement is, or `None` when the write lock was busy.
fn outcome<T>(result: rusqlite::Result<T>, conflict: &str) -> Result<Inline<T>, StoreError> {
    match result {
        Ok(value) => Ok(Inline::Done(value)),
        Err(rusqlite::Error::SqliteFailure(err, _))
            if matches!(
                err.code,
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked
            ) =>
        {
            Ok(Inline::Busy)
        }
        Err(err) => Err(store_error(err, conflict)),
    }
}

/// A rusqlite error as the store reports it (as `classify` does for sqlx's).
fn store_error(err: rusqlite::Error, conflict: &str) -> StoreError {
    match &err {
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.code == ErrorCode::ConstraintViolation
                && matches!(
                    failure.extended_code,
                    rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                        | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                ) =>
        {
            StoreError::Conflict {
                what: conflict.to_owned(),
            }
        }
        rusqlite::Error::SqliteFailure(failure, _)
            if matches!(
                failure.code,
                ErrorCode::DatabaseBusy
                    | ErrorCode::DatabaseLocked
                    | ErrorCode::SystemIoFailure
                    | ErrorCode::CannotOpen
                    | ErrorCode::FileLockingProtocolFailed
            ) =>
        {
            StoreError::Unavailable {
                detail: err.to_string(),
            }
        }
        _ => StoreError::Database {
            detail: err.to_string(),
        },
    }
}

/// Run `work` in one write transaction (`BEGIN IMMEDIATE`, which fails at once with
/// SQLITE_BUSY when another process writes). Nothing awaits in between, so it always
/// ends here: committed when `work` succeeds, rolled back when it or the commit fails.
/// (`BEGIN`, `COMMIT` and `ROLLBACK` go through the statement cache: rusqlite's own
/// transactions parse them anew each time.)
fn in_transaction<T>(
    conn: &Connection,
    work: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached("BEGIN IMMEDIATE")?.raw_execute()?;
    let done = work(conn).and_then(|value| {
        conn.prepare_cached("COMMIT")?.raw_execute()?;
        Ok(value)
    });
    if done.is_err() && !conn.is_autocommit() {
        // A failed statement leaves the transaction open; a failed COMMIT may too.
        if let Err(err) = conn
            .prepare_cached("ROLLBACK")
            .and_then(|mut stmt| stmt.raw_execute())
        {
            tracing::warn!(error = %err, "rolling back an inline SQLite transaction");
        }
    }
    done
}

/// The first column of the first row `sql` returns, as an integer (0 when none).
fn count(conn: &Connection, sql: &str, values: &[&dyn ToSql]) -> rusqlite::Result<i64> {
    let mut stmt = conn.prepare_cached(sql)?;
    bind(&mut stmt, values)?;
    let mut rows = stmt.raw_query();
    match rows.next()? {
        Some(row) => row.get(0),
        None => Ok(0),
    }
}

/// `put_login_state_capped`'s statements (see `store_pending_login` in engine.rs, which
/// this mirrors statement for statement) in one transaction.
pub(super) fn store_pending_login(
    conn: &Connection,
    state: &NewLoginState,
    owner: &PendingLoginOwner,
    limits: PendingLoginLimits,
) -> Result<Inline<PendingLoginOutcome>, StoreError> {
    let (keep, per_client, total) = super::engine::pending_login_numbers(owner, limits);
    let stored = in_transaction(conn, |tx| {
        execute(
            tx,
            PENDING_LOGIN_CLEANUP_SQL,
            &[&state.created, &owner.browser, &keep],
        )?;
        let inserted = execute(
            tx,
            PENDING_LOGIN_INSERT_SQL,
            &[
                &state.state_hash,
                &state.data,
                &state.created,
                &state.expires,
                &owner.browser,
                &owner.client,
                &owner.next,
                &per_client,
                &total,
            ],
        )?;
        if inserted > 0 {
            return Ok(PendingLoginOutcome::Stored);
        }
        // Refused: the cap per address is checked first, as it always was.
        if per_client > 0
            && count(tx, PENDING_LOGIN_CLIENT_COUNT_SQL, &[&owner.client])? >= per_client
        {
            return Ok(PendingLoginOutcome::ClientLimit);
        }
        Ok(PendingLoginOutcome::Full)
    });
    outcome(stored, "a pending login with this state")
}

/// `take_login_state`'s `DELETE ... RETURNING`.
pub(super) fn take_login_state(
    conn: &Connection,
    state_hash: &str,
) -> Result<Inline<Option<LoginStateRecord>>, StoreError> {
    let taken = conn
        .prepare_cached(TAKE_LOGIN_STATE_SQL)
        .and_then(|mut stmt| {
            bind(&mut stmt, &[&state_hash])?;
            let mut rows = stmt.raw_query();
            let record = match rows.next()? {
                Some(row) => Some(LoginStateRecord {
                    data: row.get(0)?,
                    created: row.get(1)?,
                    expires: row.get(2)?,
                }),
                None => None,
            };
            // Step to the end so the statement completes (RETURNING rows come after it did).
            while rows.next()?.is_some() {}
            Ok(record)
        });
    outcome(taken, "")
}

/// Read the user called `name` with its groups and roles.
fn load_user(conn: &Connection, name: &str) -> rusqlite::Result<Option<UserRecord>> {
    let mut stmt = conn.prepare_cached(USER_BY_NAME_SQL)?;
    bind(&mut stmt, &[&name])?;
    let mut rows = stmt.raw_query();
    let mut read: Vec<MembershipRow> = Vec::new();
    while let Some(row) = rows.next()? {
        read.push((
            row.get(0)?,
            row.get(1)?,
            row.get(2)?,
            row.get(3)?,
            row.get(4)?,
            row.get(5)?,
        ));
    }
    Ok(user_from_membership_rows(read))
}

/// `apply_login` for a known user whose memberships already are what the login wants
/// (see `login_row_update` in engine.rs): the read and the update in one transaction.
/// `Done(None)` when that is not the case (nothing written; the caller does the login
/// the usual way).
pub(super) fn login(
    conn: &Connection,
    update: &LoginUpdate,
) -> Result<Inline<Option<UserRecord>>, StoreError> {
    let done = in_transaction(conn, |tx| {
        let Some(user) = load_user(tx, &update.name)? else {
            return Ok(None);
        };
        let Some(row) = super::engine::login_row_update(
            &user,
            update.admin,
            update.groups.as_deref(),
            &update.auth_state,
            update.now,
            true,
        ) else {
            return Ok(None);
        };
        let changed = execute(
            tx,
            LOGIN_UPDATE_SQL,
            &[
                &row.admin,
                &row.set_auth_state,
                &row.auth_state,
                &row.touch_activity,
                &row.now,
                &row.id,
                &row.admin_as_read,
            ],
        )?;
        Ok((changed == 1).then(|| row.applied(user)))
    });
    outcome(done, "")
}

/// `create_session`'s one `INSERT`; whether the user existed.
pub(super) fn create_session(
    conn: &Connection,
    session: &NewSession,
) -> Result<Inline<bool>, StoreError> {
    let provider = session.provider.as_ref();
    let done = execute(
        conn,
        CREATE_SESSION_SQL,
        &[
            &session.id_hash,
            &session.created,
            &session.expires,
            &session.user,
            &provider.map(|link| link.issuer.as_str()),
            &provider.map(|link| link.subject.as_str()),
            &provider.and_then(|link| link.sid.as_deref()),
        ],
    );
    Ok(match outcome(done, "a session with this id")? {
        Inline::Done(count) => Inline::Done(count > 0),
        Inline::Busy => Inline::Busy,
    })
}
