//! The engine-independent half of the [`Store`](crate::Store) implementation:
//! every statement and transaction that is the same on SQLite and PostgreSQL
//! (the rows become records in `common.rs`).
//!
//! This file is compiled twice, once inside each engine module
//! (`#[path = "engine.rs"] mod engine;` in `sqlite.rs` and `postgres.rs`), so
//! each copy works on that engine's concrete sqlx types. Code generic over
//! `sqlx::Database` would need a dozen higher-ranked bounds on every function
//! and `Send` proofs for the async_trait futures that the compiler does not
//! always manage; a `macro_rules!` body this size would be neither formatted
//! nor checked as ordinary code. Here it is ordinary code.
//!
//! The including module (`super`) provides what differs between the engines:
//!
//! - `EngineStore`: the store type this file implements `Store` for, with a
//!   `pool` field and three ways to begin a transaction: `write_tx` (holds the
//!   engine's write lock from its first statement, for transactions that read
//!   before they write), `read_tx` (one snapshot for several reads) and
//!   `batch_tx` (for `replace_auth_states`, whose compare-and-swap updates read
//!   nothing first);
//! - `Conn`: the engine's connection type;
//! - `PING_SQL`: the readiness probe, a query returning one 64-bit integer;
//! - `NAME_FILTER_SQL`: the `WHERE` condition of a user page, true when the
//!   pattern `$1` is NULL or matches `name` ignoring case (`\` escapes);
//! - `announce` and `cache_events`: cache invalidation between hub processes
//!   (`events.rs`), which only PostgreSQL has.
//!
//! Statements use `$1`, `$2`, … placeholders, which both engines read the same
//! way (sqlx binds SQLite's `$NNN` as parameter number NNN).

use std::collections::BTreeSet;

use async_trait::async_trait;

use super::{Conn, EngineStore, NAME_FILTER_SQL, PING_SQL, begin_batch, begin_write};
use crate::common::{
    ADMIN_ROLE_DESCRIPTION, ADMIN_ROLE_SCOPES, MembershipRow, SessionRow, TokenRow,
    USER_ROLE_DESCRIPTION, USER_ROLE_SCOPES, UserRow, contains_pattern, group_names, id_list,
    page_number, scopes_from_json, scopes_to_json, session_record, token_from_row,
    user_from_membership_rows, user_order, users_from_rows,
};
use crate::error::classify;
use crate::model::{
    ADMIN_ROLE, ApiTokenRecord, AuthStateUpdate, GroupRecord, LoginOutcome, LoginUpdate,
    NewApiToken, NewSession, RoleRecord, RoleSpec, SessionRecord, USER_ROLE, UserRecord,
};
use crate::model::{AuthStateSwap, StoredAuthState};
use crate::model::{ImportBatch, ImportedApiToken, ImportedUser};
use crate::model::{LoginStateRecord, NewLoginState};
use crate::model::{NewLogoutNotice, QueuedLogoutNotice};
use crate::model::{
    NewOAuthGrant, OAuthExchange, OAuthExchangeOutcome, OAuthGrantKind, OAuthGrantRecord,
    OAuthGrantState,
};
use crate::model::{PendingLoginLimits, PendingLoginOutcome, PendingLoginOwner};
use crate::model::{ProviderSessionLink, ProviderSessionQuery};
use crate::model::{UserPage, UserQuery};
use crate::{Store, StoreError};

/// The columns of a [`TokenRow`], for use in `concat!`.
macro_rules! token_select {
    () => {
        "SELECT t.id, t.hash, t.prefix, u.name, t.note, t.scopes, t.created, t.expires, \
         t.last_activity FROM api_tokens t JOIN users u ON u.id = t.user_id"
    };
}

// ---------------------------------------------------------------------------
// helpers on one connection (inside a transaction)

/// What deleting one user removes, in order (foreign keys cascade too; deleting
/// explicitly keeps engines alike). Each statement binds the user's id.
const DELETE_USER_SQL: [&str; 5] = [
    "DELETE FROM sessions WHERE user_id = $1",
    "DELETE FROM api_tokens WHERE user_id = $1",
    "DELETE FROM user_group_map WHERE user_id = $1",
    "DELETE FROM user_role_map WHERE user_id = $1",
    "DELETE FROM users WHERE id = $1",
];

/// The named rows: users, groups and roles are looked up by name the same way.
#[derive(Debug, Clone, Copy)]
enum Named {
    User,
    Group,
    Role,
}

impl Named {
    /// The query for the id of the row named `$1`.
    fn id_sql(self) -> &'static str {
        match self {
            Named::User => "SELECT id FROM users WHERE name = $1",
            Named::Group => "SELECT id FROM groups WHERE name = $1",
            Named::Role => "SELECT id FROM roles WHERE name = $1",
        }
    }

    fn not_found(self, name: &str) -> StoreError {
        match self {
            Named::User => StoreError::user_not_found(name),
            Named::Group => StoreError::group_not_found(name),
            Named::Role => StoreError::role_not_found(name),
        }
    }
}

/// Run each statement with `$1` bound to `id`, in order.
async fn execute_for_id(
    conn: &mut Conn,
    statements: &[&'static str],
    id: i64,
) -> Result<(), StoreError> {
    for sql in statements {
        sqlx::query(*sql).bind(id).execute(&mut *conn).await?;
    }
    Ok(())
}

/// The id of the `kind` row called `name`.
async fn id_of(conn: &mut Conn, kind: Named, name: &str) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar::<_, i64>(kind.id_sql())
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?)
}

/// The id of the `kind` row called `name`; its not-found error when there is none.
async fn require_id(conn: &mut Conn, kind: Named, name: &str) -> Result<i64, StoreError> {
    id_of(conn, kind, name)
        .await?
        .ok_or_else(|| kind.not_found(name))
}

/// Names per multi-row statement in `create_users` (SQLite allows 32,766 parameters).
const CREATE_CHUNK: usize = 500;

/// `rows` groups of `per_row` numbered placeholders after `shared` leading ones, each row
/// parenthesised when it holds more than one: `($1, $2), ($3, $4)`; with `shared = 1` every
/// row also refers to `$1` first: `($2, $1), ($3, $1)`... (as `(row value, shared value)`).
fn placeholders(rows: usize, per_row: usize, shared: usize) -> String {
    let mut out = String::new();
    for row in 0..rows {
        if row > 0 {
            out.push_str(", ");
        }
        let first = shared + row * per_row + 1;
        let mut items: Vec<String> = (first..first + per_row).map(|n| format!("${n}")).collect();
        items.extend((1..=shared).map(|n| format!("${n}")));
        if items.len() == 1 {
            out.push_str(&items[0]);
        } else {
            out.push('(');
            out.push_str(&items.join(", "));
            out.push(')');
        }
    }
    out
}

/// Id of a default role (`user` or `admin`), creating its row with
/// JupyterHub's description and scopes when missing.
async fn default_role_id(conn: &mut Conn, name: &'static str) -> Result<i64, StoreError> {
    if let Some(id) = id_of(conn, Named::Role, name).await? {
        return Ok(id);
    }
    let (description, scopes) = if name == ADMIN_ROLE {
        (ADMIN_ROLE_DESCRIPTION, ADMIN_ROLE_SCOPES)
    } else {
        (USER_ROLE_DESCRIPTION, USER_ROLE_SCOPES)
    };
    let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
    let id = sqlx::query_scalar::<_, i64>(
        "INSERT INTO roles (name, description, scopes, managed_by_auth) \
         VALUES ($1, $2, $3, FALSE) RETURNING id",
    )
    .bind(name)
    .bind(description)
    .bind(scopes_to_json(&scopes)?)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| classify(e, || format!("role {name:?}")))?;
    Ok(id)
}

async fn grant_role(conn: &mut Conn, user_id: i64, role_id: i64) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO user_role_map (user_id, role_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(user_id)
    .bind(role_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// JupyterHub's default roles: `admin` exactly when the flag is set, `user` always.
async fn sync_default_roles(conn: &mut Conn, user_id: i64, admin: bool) -> Result<(), StoreError> {
    if admin {
        let admin_role = default_role_id(conn, ADMIN_ROLE).await?;
        grant_role(conn, user_id, admin_role).await?;
    } else if let Some(admin_role) = id_of(conn, Named::Role, ADMIN_ROLE).await? {
        sqlx::query("DELETE FROM user_role_map WHERE user_id = $1 AND role_id = $2")
            .bind(user_id)
            .bind(admin_role)
            .execute(&mut *conn)
            .await?;
    }
    let user_role = default_role_id(conn, USER_ROLE).await?;
    grant_role(conn, user_id, user_role).await
}

/// Make the user's group membership exactly `groups`, creating missing groups.
async fn sync_groups(conn: &mut Conn, user_id: i64, groups: &[String]) -> Result<(), StoreError> {
    let desired: BTreeSet<&str> = groups.iter().map(String::as_str).collect();
    let current = sqlx::query_as::<_, (i64, String)>(
        "SELECT g.id, g.name FROM user_group_map m JOIN groups g ON g.id = m.group_id \
         WHERE m.user_id = $1",
    )
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut have = BTreeSet::new();
    for (group_id, name) in &current {
        if desired.contains(name.as_str()) {
            have.insert(name.as_str());
        } else {
            sqlx::query("DELETE FROM user_group_map WHERE user_id = $1 AND group_id = $2")
                .bind(user_id)
                .bind(group_id)
                .execute(&mut *conn)
                .await?;
        }
    }
    for name in desired.difference(&have) {
        sqlx::query("INSERT INTO groups (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
            .bind(*name)
            .execute(&mut *conn)
            .await?;
        let group_id = require_id(conn, Named::Group, name).await?;
        add_member(conn, user_id, group_id).await?;
    }
    Ok(())
}

/// Put the user in the group (a member already is left as is).
async fn add_member(conn: &mut Conn, user_id: i64, group_id: i64) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO user_group_map (user_id, group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(user_id)
    .bind(group_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What [`persist_user`] should do.
struct Persist<'a> {
    name: &'a str,
    admin: Option<bool>,
    groups: Option<&'a [String]>,
    auth_state: &'a AuthStateUpdate,
    now: i64,
    create_if_missing: bool,
    touch_activity: bool,
}

impl<'a> Persist<'a> {
    /// Create the user if missing (storing `admin` when `Some`) and re-apply the
    /// default roles; groups, auth_state and `last_activity` are left alone.
    fn ensure(name: &'a str, admin: Option<bool>, now: i64) -> Self {
        Persist {
            name,
            admin,
            groups: None,
            auth_state: &AuthStateUpdate::Keep,
            now,
            create_if_missing: true,
            touch_activity: false,
        }
    }
}

/// A user with its groups and roles in one statement, as [`MembershipRow`]s: the user
/// row where `$cond` holds (on `users u`), then one row per group and per role. One
/// statement reads one snapshot, so no transaction is needed around it.
macro_rules! user_select {
    ($cond:literal) => {
        concat!(
            "SELECT 'u', u.name, u.id, u.admin, u.created, u.last_activity FROM users u WHERE ",
            $cond,
            " UNION ALL SELECT 'g', g.name, NULL, NULL, NULL, NULL FROM users u \
             JOIN user_group_map m ON m.user_id = u.id JOIN groups g ON g.id = m.group_id WHERE ",
            $cond,
            " UNION ALL SELECT 'r', r.name, NULL, NULL, NULL, NULL FROM users u \
             JOIN user_role_map m ON m.user_id = u.id JOIN roles r ON r.id = m.role_id WHERE ",
            $cond
        )
    };
}

/// The user called `$1` with groups and roles: rows for [`user_from_membership_rows`].
pub(super) const USER_BY_NAME_SQL: &str = user_select!("u.name = $1");

/// The user called `name` with groups and roles (one statement).
async fn load_user_by_name<'e, E>(conn: E, name: &str) -> Result<Option<UserRecord>, StoreError>
where
    E: sqlx::Executor<'e, Database = <Conn as sqlx::Connection>::Database>,
{
    let rows = sqlx::query_as::<_, MembershipRow>(USER_BY_NAME_SQL)
        .bind(name)
        .fetch_all(conn)
        .await?;
    Ok(user_from_membership_rows(rows))
}

/// The shared body of `apply_login` and `ensure_user`: returns the user as stored
/// afterwards, and whether it was created.
///
/// A login of a known user mostly changes nothing but its auth_state and activity: the
/// user is read once with its groups and roles, memberships are written only where they
/// differ, and the user row's changes go in one `UPDATE`.
async fn persist_user(conn: &mut Conn, p: Persist<'_>) -> Result<(UserRecord, bool), StoreError> {
    let (mut user, created) = match load_user_by_name(&mut *conn, p.name).await? {
        Some(user) => (user, false),
        None if p.create_if_missing => {
            let admin = p.admin.unwrap_or(false);
            let id = sqlx::query_scalar::<_, i64>(
                "INSERT INTO users (name, admin, created) VALUES ($1, $2, $3) RETURNING id",
            )
            .bind(p.name)
            .bind(admin)
            .bind(p.now)
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| classify(e, || format!("user {:?}", p.name)))?;
            tracing::info!(user = p.name, admin, "created user");
            let user = UserRecord {
                id,
                name: p.name.to_owned(),
                admin,
                created: p.now,
                last_activity: None,
                groups: Vec::new(),
                roles: Vec::new(),
            };
            (user, true)
        }
        None => return Err(StoreError::user_not_found(p.name)),
    };
    let admin = p.admin.unwrap_or(user.admin);
    let mut memberships_changed = sync_default_roles_of(conn, &user, admin).await?;
    if let Some(groups) = p.groups {
        memberships_changed |= sync_groups_of(conn, &user, groups).await?;
    }
    update_user_row(conn, &user, admin, &p).await?;
    if memberships_changed {
        user = require_user_by_id(conn, user.id, p.name).await?;
    } else {
        user.admin = admin;
        if p.touch_activity {
            user.last_activity = Some(p.now);
        }
    }
    Ok((user, created))
}

/// The one `UPDATE` of a login that changes no membership: the admin flag (only while it
/// is still as read), the auth_state, `last_activity`.
pub(super) const LOGIN_UPDATE_SQL: &str = "UPDATE users SET admin = $1, \
     encrypted_auth_state = CASE WHEN $2 THEN $3 ELSE encrypted_auth_state END, \
     last_activity = CASE WHEN $4 THEN $5 ELSE last_activity END \
     WHERE id = $6 AND admin = $7";

/// The values of [`LOGIN_UPDATE_SQL`], `$1` to `$7` in order.
pub(super) struct LoginRowUpdate<'a> {
    pub(super) admin: bool,
    pub(super) set_auth_state: bool,
    pub(super) auth_state: Option<&'a [u8]>,
    pub(super) touch_activity: bool,
    pub(super) now: i64,
    pub(super) id: i64,
    pub(super) admin_as_read: bool,
}

impl LoginRowUpdate<'_> {
    /// `user` as read, as it is once the update went in.
    pub(super) fn applied(&self, mut user: UserRecord) -> UserRecord {
        user.admin = self.admin;
        if self.touch_activity {
            user.last_activity = Some(self.now);
        }
        user
    }
}

/// The usual login of a known user needs no transaction: when its roles and groups as
/// read already are what the login wants, the user row's update is all there is to
/// write, conditional on the admin flag being still as read. `None` when memberships
/// must change (the caller then does the whole login in a write transaction).
///
/// Why this is as good as the transaction: the only columns written are the admin flag
/// (guarded by the condition), auth_state and `last_activity` (each simply replaced, as
/// the later of two transactions would), so the result equals this login's running whole
/// before whatever another writer did after the read.
pub(super) fn login_row_update<'a>(
    user: &UserRecord,
    admin: Option<bool>,
    groups: Option<&[String]>,
    auth_state: &'a AuthStateUpdate,
    now: i64,
    touch_activity: bool,
) -> Option<LoginRowUpdate<'a>> {
    let admin = admin.unwrap_or(user.admin);
    let has = |role: &str| user.roles.iter().any(|held| held == role);
    let roles_as_wanted = admin == has(ADMIN_ROLE) && has(USER_ROLE);
    let groups_as_wanted = groups.is_none_or(|groups| {
        let desired: BTreeSet<&str> = groups.iter().map(String::as_str).collect();
        let current: BTreeSet<&str> = user.groups.iter().map(String::as_str).collect();
        desired == current
    });
    if !roles_as_wanted || !groups_as_wanted {
        return None;
    }
    Some(LoginRowUpdate {
        admin,
        set_auth_state: !matches!(auth_state, AuthStateUpdate::Keep),
        auth_state: match auth_state {
            AuthStateUpdate::Set(bytes) => Some(bytes.as_slice()),
            AuthStateUpdate::Keep | AuthStateUpdate::Clear => None,
        },
        touch_activity,
        now,
        id: user.id,
        admin_as_read: user.admin,
    })
}

/// The login of a known user in two statements, a read and [`LOGIN_UPDATE_SQL`] (see
/// [`login_row_update`]); `None` when nothing was written and the caller must do the
/// whole login in a write transaction (memberships change, the user is missing, or the
/// flag changed in between).
async fn login_without_transaction(
    conn: &mut Conn,
    p: &Persist<'_>,
) -> Result<Option<UserRecord>, StoreError> {
    let Some(user) = load_user_by_name(&mut *conn, p.name).await? else {
        return Ok(None);
    };
    let Some(update) = login_row_update(
        &user,
        p.admin,
        p.groups,
        p.auth_state,
        p.now,
        p.touch_activity,
    ) else {
        return Ok(None);
    };
    let done = sqlx::query(LOGIN_UPDATE_SQL)
        .bind(update.admin)
        .bind(update.set_auth_state)
        .bind(update.auth_state)
        .bind(update.touch_activity)
        .bind(update.now)
        .bind(update.id)
        .bind(update.admin_as_read)
        .execute(&mut *conn)
        .await?;
    Ok((done.rows_affected() == 1).then(|| update.applied(user)))
}

/// JupyterHub's default roles for `user` as read: `admin` exactly when `admin`, `user`
/// always; writes only what differs. Returns whether it wrote.
async fn sync_default_roles_of(
    conn: &mut Conn,
    user: &UserRecord,
    admin: bool,
) -> Result<bool, StoreError> {
    let has = |role: &str| user.roles.iter().any(|held| held == role);
    let mut changed = false;
    if admin != has(ADMIN_ROLE) {
        if admin {
            let admin_role = default_role_id(conn, ADMIN_ROLE).await?;
            grant_role(conn, user.id, admin_role).await?;
        } else {
            sqlx::query(
                "DELETE FROM user_role_map WHERE user_id = $1 \
                 AND role_id IN (SELECT id FROM roles WHERE name = $2)",
            )
            .bind(user.id)
            .bind(ADMIN_ROLE)
            .execute(&mut *conn)
            .await?;
        }
        changed = true;
    }
    if !has(USER_ROLE) {
        let user_role = default_role_id(conn, USER_ROLE).await?;
        grant_role(conn, user.id, user_role).await?;
        changed = true;
    }
    Ok(changed)
}

/// Make the membership of `user` as read exactly `groups`, creating missing groups;
/// writes only what differs. Returns whether it wrote.
async fn sync_groups_of(
    conn: &mut Conn,
    user: &UserRecord,
    groups: &[String],
) -> Result<bool, StoreError> {
    let desired: BTreeSet<&str> = groups.iter().map(String::as_str).collect();
    let current: BTreeSet<&str> = user.groups.iter().map(String::as_str).collect();
    if desired == current {
        return Ok(false);
    }
    for name in current.difference(&desired) {
        sqlx::query(
            "DELETE FROM user_group_map WHERE user_id = $1 \
             AND group_id IN (SELECT id FROM groups WHERE name = $2)",
        )
        .bind(user.id)
        .bind(*name)
        .execute(&mut *conn)
        .await?;
    }
    for name in desired.difference(&current) {
        sqlx::query("INSERT INTO groups (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
            .bind(*name)
            .execute(&mut *conn)
            .await?;
        let group_id = require_id(conn, Named::Group, name).await?;
        add_member(conn, user.id, group_id).await?;
    }
    Ok(true)
}

/// The user row's changes in one `UPDATE` (none when nothing changes): the admin flag
/// when it differs from `user` as read, the auth_state, `last_activity`.
async fn update_user_row(
    conn: &mut Conn,
    user: &UserRecord,
    admin: bool,
    p: &Persist<'_>,
) -> Result<(), StoreError> {
    let set_auth_state = !matches!(p.auth_state, AuthStateUpdate::Keep);
    if admin == user.admin && !set_auth_state && !p.touch_activity {
        return Ok(());
    }
    let auth_state = match p.auth_state {
        AuthStateUpdate::Set(bytes) => Some(bytes.as_slice()),
        AuthStateUpdate::Keep | AuthStateUpdate::Clear => None,
    };
    sqlx::query(
        "UPDATE users SET admin = $1, \
         encrypted_auth_state = CASE WHEN $2 THEN $3 ELSE encrypted_auth_state END, \
         last_activity = CASE WHEN $4 THEN $5 ELSE last_activity END WHERE id = $6",
    )
    .bind(admin)
    .bind(set_auth_state)
    .bind(auth_state)
    .bind(p.touch_activity)
    .bind(p.now)
    .bind(user.id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn load_user_by_id(conn: &mut Conn, id: i64) -> Result<Option<UserRecord>, StoreError> {
    let rows = sqlx::query_as::<_, MembershipRow>(user_select!("u.id = $1"))
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
    Ok(user_from_membership_rows(rows))
}

async fn require_user_by_id(
    conn: &mut Conn,
    id: i64,
    name: &str,
) -> Result<UserRecord, StoreError> {
    load_user_by_id(conn, id)
        .await?
        .ok_or_else(|| StoreError::user_not_found(name))
}

async fn insert_api_token(
    conn: &mut Conn,
    token: NewApiToken,
) -> Result<ApiTokenRecord, StoreError> {
    let scopes = scopes_to_json(&token.scopes)?;
    let user_id = require_id(conn, Named::User, &token.user).await?;
    let id = sqlx::query_scalar::<_, i64>(
        "INSERT INTO api_tokens (hash, prefix, user_id, note, scopes, created, expires) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(&token.hash)
    .bind(&token.prefix)
    .bind(user_id)
    .bind(&token.note)
    .bind(scopes)
    .bind(token.created)
    .bind(token.expires)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| classify(e, || "an API token with this hash".to_owned()))?;
    Ok(ApiTokenRecord {
        id,
        hash: token.hash,
        prefix: token.prefix,
        user: token.user,
        note: token.note,
        scopes: token.scopes,
        created: token.created,
        expires: token.expires,
        last_activity: None,
    })
}

/// Insert an active OAuth grant into `family`, recording the access token issued with it.
async fn insert_oauth_grant(
    conn: &mut Conn,
    grant: &NewOAuthGrant,
    family: &str,
    kind: OAuthGrantKind,
    access_token_hash: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO oauth_grants \
         (hash, family, kind, state, data, access_token_hash, created, expires) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&grant.hash)
    .bind(family)
    .bind(kind.as_str())
    .bind(OAuthGrantState::Active.as_str())
    .bind(&grant.data)
    .bind(access_token_hash)
    .bind(grant.created)
    .bind(grant.expires)
    .execute(&mut *conn)
    .await
    .map_err(|e| classify(e, || "an OAuth grant with this hash".to_owned()))?;
    Ok(())
}

/// Revoke every grant of `family` and delete the access tokens issued in it. The tokens
/// are found by hash, never by id: SQLite may give a deleted token's id to a new one.
async fn revoke_family(conn: &mut Conn, family: &str) -> Result<u64, StoreError> {
    let deleted = sqlx::query(
        "DELETE FROM api_tokens WHERE hash IN \
         (SELECT access_token_hash FROM oauth_grants \
          WHERE family = $1 AND access_token_hash IS NOT NULL)",
    )
    .bind(family)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE oauth_grants SET state = $2 WHERE family = $1")
        .bind(family)
        .bind(OAuthGrantState::Revoked.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(deleted.rows_affected())
}

/// The columns of an [`OAuthGrantRecord`], in the order of [`OAuthGrantRow`].
const OAUTH_GRANT_SELECT: &str =
    "SELECT hash, family, kind, state, data, created, expires FROM oauth_grants WHERE hash = $1";

type OAuthGrantRow = (String, String, String, String, String, i64, i64);

/// The record of a row; `None` when its kind is not one this version knows (such a row is
/// never accepted).
fn oauth_grant_from_row(row: OAuthGrantRow) -> Option<OAuthGrantRecord> {
    let (hash, family, kind, state, data, created, expires) = row;
    Some(OAuthGrantRecord {
        hash,
        family,
        kind: OAuthGrantKind::parse(&kind)?,
        state: OAuthGrantState::parse(&state),
        data,
        created,
        expires,
    })
}

/// Write one imported user (see [`Store::import_batch`]).
async fn import_user(conn: &mut Conn, user: &ImportedUser) -> Result<(), StoreError> {
    let existing = id_of(conn, Named::User, &user.name).await?;
    let user_id = match existing {
        Some(id) => {
            sqlx::query(
                "UPDATE users SET admin = $1, created = $2, last_activity = $3, \
                 encrypted_auth_state = $4 WHERE id = $5",
            )
            .bind(user.admin)
            .bind(user.created)
            .bind(user.last_activity)
            .bind(user.auth_state.as_deref())
            .bind(id)
            .execute(&mut *conn)
            .await?;
            id
        }
        None => sqlx::query_scalar::<_, i64>(
            "INSERT INTO users (name, admin, created, last_activity, encrypted_auth_state) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(&user.name)
        .bind(user.admin)
        .bind(user.created)
        .bind(user.last_activity)
        .bind(user.auth_state.as_deref())
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| classify(e, || format!("user {:?}", user.name)))?,
    };
    if user.replace {
        sync_groups(conn, user_id, &user.groups).await?;
        sqlx::query("DELETE FROM user_role_map WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *conn)
            .await?;
    } else {
        for group in &user.groups {
            sqlx::query("INSERT INTO groups (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
                .bind(group)
                .execute(&mut *conn)
                .await?;
            let group_id = require_id(conn, Named::Group, group).await?;
            add_member(conn, user_id, group_id).await?;
        }
    }
    sync_default_roles(conn, user_id, user.admin).await?;
    for role in &user.roles {
        let role_id = match role.as_str() {
            USER_ROLE => default_role_id(conn, USER_ROLE).await?,
            ADMIN_ROLE => default_role_id(conn, ADMIN_ROLE).await?,
            other => require_id(conn, Named::Role, other).await?,
        };
        grant_role(conn, user_id, role_id).await?;
    }
    Ok(())
}

/// Insert one imported API token with its stored hash (see [`Store::import_batch`]).
async fn import_token(conn: &mut Conn, token: &ImportedApiToken) -> Result<(), StoreError> {
    let scopes = scopes_to_json(&token.scopes)?;
    let user_id = require_id(conn, Named::User, &token.user).await?;
    sqlx::query(
        "INSERT INTO api_tokens \
         (hash, prefix, user_id, note, scopes, created, expires, last_activity) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&token.hash)
    .bind(&token.prefix)
    .bind(user_id)
    .bind(&token.note)
    .bind(scopes)
    .bind(token.created)
    .bind(token.expires)
    .bind(token.last_activity)
    .execute(&mut *conn)
    .await
    .map_err(|e| classify(e, || "an API token with this hash".to_owned()))?;
    Ok(())
}

/// A pending login's cleanup: the expired rows (`expires <= $1`) and the browser's
/// (`$2`) oldest beyond the `$3` it may keep besides the new one.
pub(super) const PENDING_LOGIN_CLEANUP_SQL: &str = "DELETE FROM login_states WHERE expires <= $1 \
     OR state_hash IN (SELECT state_hash FROM login_states WHERE owner = $2 AND expires > $1 \
     ORDER BY created, state_hash LIMIT (SELECT CASE WHEN COUNT(*) > $3 \
     THEN COUNT(*) - $3 ELSE 0 END FROM login_states WHERE owner = $2 AND expires > $1))";

/// A pending login's row, stored only when the caps per address (`$8`, 0: none) and in
/// all (`$9`, 0: none) allow.
pub(super) const PENDING_LOGIN_INSERT_SQL: &str = "INSERT INTO login_states \
     (state_hash, data, created, expires, owner, client, next_url) \
     SELECT $1, $2, $3, $4, $5, $6, $7 WHERE \
     ($8 = 0 OR (SELECT COUNT(*) FROM login_states WHERE client = $6) < $8) \
     AND ($9 = 0 OR (SELECT COUNT(*) FROM login_states) < $9)";

/// The pending logins of one address (`$1`), asked when a cap refused one.
pub(super) const PENDING_LOGIN_CLIENT_COUNT_SQL: &str =
    "SELECT COUNT(*) FROM login_states WHERE client = $1";

/// Taking a pending login back: atomic, so two callbacks racing with the same state
/// cannot both get it.
pub(super) const TAKE_LOGIN_STATE_SQL: &str =
    "DELETE FROM login_states WHERE state_hash = $1 RETURNING data, created, expires";

/// A session's row, with the user's id looked up as it goes in (`$4` the name) and the
/// provider session linked with it.
pub(super) const CREATE_SESSION_SQL: &str = "INSERT INTO sessions (id_hash, user_id, created, \
     expires, last_seen, provider_iss, provider_sub, provider_sid) \
     SELECT $1, id, $2, $3, $2, $5, $6, $7 FROM users WHERE name = $4";

/// The numbers [`PENDING_LOGIN_CLEANUP_SQL`] and [`PENDING_LOGIN_INSERT_SQL`] bind: how
/// many older pending logins the browser keeps, the cap per address (0 for none, and
/// for a login without an address), the cap in all.
pub(super) fn pending_login_numbers(
    owner: &PendingLoginOwner,
    limits: PendingLoginLimits,
) -> (i64, i64, i64) {
    let keep = i64::from(limits.per_browser.max(1)) - 1;
    let per_client = if owner.client.is_empty() {
        0
    } else {
        i64::from(limits.per_client)
    };
    (keep, per_client, i64::from(limits.total))
}

/// Store a pending login when the caps allow (see `put_login_state_capped`): the
/// expired rows and the browser's oldest over its cap go in one `DELETE`, and the row
/// goes in only when the caps allow (a conditional `INSERT`); which cap refused it is
/// asked only when one did.
async fn store_pending_login(
    conn: &mut Conn,
    state: &NewLoginState,
    owner: &PendingLoginOwner,
    limits: PendingLoginLimits,
) -> Result<PendingLoginOutcome, StoreError> {
    let (keep, per_client, total) = pending_login_numbers(owner, limits);
    sqlx::query(PENDING_LOGIN_CLEANUP_SQL)
        .bind(state.created)
        .bind(&owner.browser)
        .bind(keep)
        .execute(&mut *conn)
        .await?;
    let done = sqlx::query(PENDING_LOGIN_INSERT_SQL)
        .bind(&state.state_hash)
        .bind(&state.data)
        .bind(state.created)
        .bind(state.expires)
        .bind(&owner.browser)
        .bind(&owner.client)
        .bind(&owner.next)
        .bind(per_client)
        .bind(total)
        .execute(&mut *conn)
        .await
        .map_err(|e| classify(e, || "a pending login with this state".to_owned()))?;
    if done.rows_affected() > 0 {
        return Ok(PendingLoginOutcome::Stored);
    }
    // Refused: the cap per address is checked first, as it always was.
    if per_client == 0 {
        return Ok(PendingLoginOutcome::Full);
    }
    let (theirs,): (i64,) = sqlx::query_as(PENDING_LOGIN_CLIENT_COUNT_SQL)
        .bind(&owner.client)
        .fetch_one(&mut *conn)
        .await?;
    Ok(if theirs >= per_client {
        PendingLoginOutcome::ClientLimit
    } else {
        PendingLoginOutcome::Full
    })
}

impl EngineStore {
    /// In one write transaction, find the id of the `kind` row called `name` and run
    /// `statements` with it bound to `$1`. Returns false when nothing has that name.
    async fn delete_named(
        &self,
        kind: Named,
        name: &str,
        statements: &[&'static str],
    ) -> Result<bool, StoreError> {
        let mut writer = self.writer().await?;
        let mut tx = begin_write(&mut writer).await?;
        let Some(id) = id_of(&mut tx, kind, name).await? else {
            return Ok(false);
        };
        execute_for_id(&mut tx, statements, id).await?;
        tx.commit().await?;
        Ok(true)
    }
}

#[async_trait]
impl Store for EngineStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query_scalar::<_, i64>(PING_SQL)
            .fetch_one(&self.pool)
            .await?;
        Ok(())
    }

    async fn close(&self) {
        self.close_all().await;
    }

    async fn announce(&self, event: &crate::CacheEvent) -> Result<(), StoreError> {
        super::announce(self, event).await
    }

    fn cache_events(&self) -> Option<crate::CacheEvents> {
        super::cache_events(self)
    }

    async fn apply_login(&self, update: LoginUpdate) -> Result<LoginOutcome, StoreError> {
        let persist = Persist {
            name: &update.name,
            admin: update.admin,
            groups: update.groups.as_deref(),
            auth_state: &update.auth_state,
            now: update.now,
            create_if_missing: update.create_if_missing,
            touch_activity: true,
        };
        let inline = super::inline_login(self, &update).await?;
        if let Some(Some(user)) = inline {
            return Ok(LoginOutcome {
                user,
                created: false,
            });
        }
        let mut writer = self.writer().await?;
        // Inline, the user was read already: only a transaction can do this login.
        if inline.is_none()
            && let Some(user) = login_without_transaction(&mut writer, &persist).await?
        {
            return Ok(LoginOutcome {
                user,
                created: false,
            });
        }
        let mut tx = begin_write(&mut writer).await?;
        let (user, created) = persist_user(&mut tx, persist).await?;
        tx.commit().await?;
        Ok(LoginOutcome { user, created })
    }

    async fn get_user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        load_user_by_name(&self.pool, name).await
    }

    async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let mut tx = self.read_tx().await?;
        let rows = sqlx::query_as::<_, UserRow>(
            "SELECT id, name, admin, created, last_activity FROM users",
        )
        .fetch_all(&mut *tx)
        .await?;
        let groups = sqlx::query_as::<_, (i64, String)>(
            "SELECT m.user_id, g.name FROM user_group_map m JOIN groups g ON g.id = m.group_id",
        )
        .fetch_all(&mut *tx)
        .await?;
        let roles = sqlx::query_as::<_, (i64, String)>(
            "SELECT m.user_id, r.name FROM user_role_map m JOIN roles r ON r.id = m.role_id",
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut users = users_from_rows(rows, groups, roles);
        users.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(users)
    }

    async fn user_names(&self) -> Result<Vec<String>, StoreError> {
        let mut names = sqlx::query_scalar::<_, String>("SELECT name FROM users")
            .fetch_all(&self.pool)
            .await?;
        names.sort();
        Ok(names)
    }

    async fn ensure_user(
        &self,
        name: &str,
        admin: Option<bool>,
        now: i64,
    ) -> Result<(UserRecord, bool), StoreError> {
        let mut writer = self.writer().await?;
        let mut tx = begin_write(&mut writer).await?;
        let (user, created) = persist_user(&mut tx, Persist::ensure(name, admin, now)).await?;
        tx.commit().await?;
        Ok((user, created))
    }

    async fn delete_user(&self, name: &str) -> Result<bool, StoreError> {
        let deleted = self
            .delete_named(Named::User, name, &DELETE_USER_SQL)
            .await?;
        if deleted {
            tracing::info!(user = name, "deleted user");
        }
        Ok(deleted)
    }

    async fn set_admin(&self, name: &str, admin: bool) -> Result<(), StoreError> {
        let mut writer = self.writer().await?;
        let mut tx = begin_write(&mut writer).await?;
        let id = require_id(&mut tx, Named::User, name).await?;
        sqlx::query("UPDATE users SET admin = $1 WHERE id = $2")
            .bind(admin)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sync_default_roles(&mut tx, id, admin).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn strip_privileges(&self, name: &str) -> Result<(), StoreError> {
        let mut writer = self.writer().await?;
        let mut tx = begin_write(&mut writer).await?;
        let id = require_id(&mut tx, Named::User, name).await?;
        let statements = [
            "UPDATE users SET admin = FALSE WHERE id = $1",
            "DELETE FROM user_role_map WHERE user_id = $1",
            "DELETE FROM user_group_map WHERE user_id = $1",
        ];
        execute_for_id(&mut tx, &statements, id).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn touch_activity(&self, name: &str, now: i64) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE users SET last_activity = $1 WHERE name = $2")
            .bind(now)
            .bind(name)
            .execute(&mut *self.writer().await?)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::user_not_found(name));
        }
        Ok(())
    }

    async fn get_auth_state(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query_scalar::<_, Option<Vec<u8>>>(
            "SELECT encrypted_auth_state FROM users WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.ok_or_else(|| StoreError::user_not_found(name))
    }

    async fn set_auth_state(&self, name: &str, state: Option<Vec<u8>>) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE users SET encrypted_auth_state = $1 WHERE name = $2")
            .bind(state)
            .bind(name)
            .execute(&mut *self.writer().await?)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::user_not_found(name));
        }
        Ok(())
    }

    async fn login_method(&self, name: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query_scalar::<_, Option<String>>(
            "SELECT login_method FROM users WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.ok_or_else(|| StoreError::user_not_found(name))
    }

    async fn record_login_method(
        &self,
        name: &str,
        method: &str,
        groups: Option<&[String]>,
    ) -> Result<(), StoreError> {
        let groups = groups.map(crate::common::scopes_to_json).transpose()?;
        let mut writer = self.writer().await?;
        let mut tx = begin_write(&mut writer).await?;
        let id = require_id(&mut tx, Named::User, name).await?;
        sqlx::query("UPDATE users SET login_method = $1 WHERE id = $2")
            .bind(method)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO user_login_methods (user_id, method, groups) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, method) DO UPDATE SET groups = excluded.groups",
        )
        .bind(id)
        .bind(method)
        .bind(groups)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn method_groups(&self, name: &str) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        let rows = sqlx::query_as::<_, (String, String)>(
            "SELECT m.method, m.groups FROM user_login_methods m JOIN users u ON u.id = m.user_id \
             WHERE u.name = $1 AND m.groups IS NOT NULL ORDER BY m.method",
        )
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(method, groups)| {
                crate::common::scopes_from_json("user_login_methods.groups", &groups)
                    .map(|groups| (method, groups))
            })
            .collect()
    }

    async fn login_methods_of(&self, name: &str) -> Result<Vec<String>, StoreError> {
        let methods = sqlx::query_scalar::<_, String>(
            "SELECT m.method FROM user_login_methods m JOIN users u ON u.id = m.user_id \
             WHERE u.name = $1 ORDER BY m.method",
        )
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        Ok(methods)
    }

    async fn linked_user(&self, kind: &str, value: &str) -> Result<Option<String>, StoreError> {
        let user = sqlx::query_scalar::<_, String>(
            "SELECT u.name FROM login_links l JOIN users u ON u.id = l.user_id \
             WHERE l.kind = $1 AND l.value = $2",
        )
        .bind(kind)
        .bind(value)
        .fetch_optional(&self.pool)
        .await?;
        Ok(user)
    }

    async fn set_login_link(&self, kind: &str, value: &str, user: &str) -> Result<(), StoreError> {
        let mut writer = self.writer().await?;
        let mut tx = begin_write(&mut writer).await?;
        let id = require_id(&mut tx, Named::User, user).await?;
        sqlx::query(
            "INSERT INTO login_links (kind, value, user_id) VALUES ($1, $2, $3) \
             ON CONFLICT (kind, value) DO UPDATE SET user_id = excluded.user_id",
        )
        .bind(kind)
        .bind(value)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_session(&self, session: NewSession) -> Result<(), StoreError> {
        // One statement (atomic on its own).
        match super::inline_create_session(self, &session).await? {
            Some(true) => return Ok(()),
            Some(false) => return Err(StoreError::user_not_found(&session.user)),
            None => {}
        }
        let provider = session.provider.as_ref();
        let done = sqlx::query(CREATE_SESSION_SQL)
            .bind(&session.id_hash)
            .bind(session.created)
            .bind(session.expires)
            .bind(&session.user)
            .bind(provider.map(|link| link.issuer.as_str()))
            .bind(provider.map(|link| link.subject.as_str()))
            .bind(provider.and_then(|link| link.sid.as_deref()))
            .execute(&mut *self.writer().await?)
            .await
            .map_err(|e| classify(e, || "a session with this id".to_owned()))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::user_not_found(&session.user));
        }
        Ok(())
    }

    async fn get_session(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query_as::<_, SessionRow>(
            "SELECT s.id_hash, u.name, s.created, s.expires, s.last_seen \
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1",
        )
        .bind(id_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(session_record))
    }

    async fn touch_session(&self, id_hash: &str, now: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE sessions SET last_seen = $1 WHERE id_hash = $2")
            .bind(now)
            .bind(id_hash)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_session(&self, id_hash: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_user_sessions(&self, user: &str) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE name = $1)",
        )
        .bind(user)
        .execute(&mut *self.writer().await?)
        .await?;
        Ok(done.rows_affected())
    }

    async fn delete_expired_sessions(&self, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires <= $1")
            .bind(now)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected())
    }

    async fn expired_sessions(
        &self,
        now: i64,
        limit: u32,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let rows = sqlx::query_as::<_, SessionRow>(
            "SELECT s.id_hash, u.name, s.created, s.expires, s.last_seen \
             FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.expires <= $1 ORDER BY s.expires, s.id_hash LIMIT $2",
        )
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(session_record).collect())
    }

    async fn count_active_sessions(&self, now: i64) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE expires > $1")
            .bind(now)
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn link_provider_session(
        &self,
        id_hash: &str,
        link: &ProviderSessionLink,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET provider_iss = $1, provider_sub = $2, provider_sid = $3 \
             WHERE id_hash = $4",
        )
        .bind(&link.issuer)
        .bind(&link.subject)
        .bind(link.sid.as_deref())
        .bind(id_hash)
        .execute(&mut *self.writer().await?)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn provider_sessions(
        &self,
        query: ProviderSessionQuery<'_>,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        macro_rules! select {
            ($condition:literal) => {
                concat!(
                    "SELECT s.id_hash, u.name, s.created, s.expires, s.last_seen \
                     FROM sessions s JOIN users u ON u.id = s.user_id \
                     WHERE s.provider_iss = $1 AND ",
                    $condition,
                    " ORDER BY s.id_hash"
                )
            };
        }
        let rows = match (query.sid, query.subject) {
            (None, None) => return Ok(Vec::new()),
            (Some(sid), None) => {
                sqlx::query_as::<_, SessionRow>(select!("s.provider_sid = $2"))
                    .bind(query.issuer)
                    .bind(sid)
                    .fetch_all(&self.pool)
                    .await?
            }
            (None, Some(subject)) => {
                sqlx::query_as::<_, SessionRow>(select!("s.provider_sub = $2"))
                    .bind(query.issuer)
                    .bind(subject)
                    .fetch_all(&self.pool)
                    .await?
            }
            (Some(sid), Some(subject)) => {
                sqlx::query_as::<_, SessionRow>(select!(
                    "s.provider_sid = $2 AND s.provider_sub = $3"
                ))
                .bind(query.issuer)
                .bind(sid)
                .bind(subject)
                .fetch_all(&self.pool)
                .await?
            }
        };
        Ok(rows.into_iter().map(session_record).collect())
    }

    async fn queue_logout_notices(
        &self,
        notices: &[NewLogoutNotice],
        now: i64,
        max_queued: u64,
    ) -> Result<u64, StoreError> {
        if notices.is_empty() {
            return Ok(0);
        }
        let mut writer = self.writer().await?;
        let mut tx = begin_write(&mut writer).await?;
        let (queued,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM logout_outbox")
            .fetch_one(&mut *tx)
            .await?;
        if u64::try_from(queued).unwrap_or(0) >= max_queued {
            return Ok(0);
        }
        for notice in notices {
            sqlx::query(
                "INSERT INTO logout_outbox (client_id, user_name, sid, attempts, created) \
                 VALUES ($1, $2, $3, 0, $4)",
            )
            .bind(&notice.client_id)
            .bind(&notice.user)
            .bind(&notice.sid)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(u64::try_from(notices.len()).unwrap_or(u64::MAX))
    }

    async fn claim_logout_notices(
        &self,
        owner: &str,
        now: i64,
        stale_before: i64,
        limit: u32,
    ) -> Result<Vec<QueuedLogoutNotice>, StoreError> {
        // The worker asks every few seconds: a read first, so that an empty outbox (the
        // usual case) costs no write lock.
        let waiting: Option<(i64,)> = sqlx::query_as(
            "SELECT id FROM logout_outbox WHERE claimed_by IS NULL OR claimed_at < $1 LIMIT 1",
        )
        .bind(stale_before)
        .fetch_optional(&self.pool)
        .await?;
        if waiting.is_none() {
            return Ok(Vec::new());
        }
        // One statement: on PostgreSQL a concurrent claim of the same row waits for this
        // one and then re-checks the outer condition, which no longer holds.
        let rows: Vec<(i64, String, String, Option<String>, i64, i64)> = sqlx::query_as(
            "UPDATE logout_outbox SET claimed_by = $1, claimed_at = $2 \
             WHERE id IN (SELECT id FROM logout_outbox \
                 WHERE claimed_by IS NULL OR claimed_at < $3 ORDER BY id LIMIT $4) \
             AND (claimed_by IS NULL OR claimed_at < $3) \
             RETURNING id, client_id, user_name, sid, attempts, created",
        )
        .bind(owner)
        .bind(now)
        .bind(stale_before)
        .bind(i64::from(limit))
        .fetch_all(&mut *self.writer().await?)
        .await?;
        let mut claimed: Vec<QueuedLogoutNotice> = rows
            .into_iter()
            .map(
                |(id, client_id, user, sid, attempts, created)| QueuedLogoutNotice {
                    id,
                    notice: NewLogoutNotice {
                        client_id,
                        user,
                        sid,
                    },
                    attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                    created,
                },
            )
            .collect();
        // RETURNING gives no order; the oldest go first.
        claimed.sort_by_key(|queued| queued.id);
        Ok(claimed)
    }

    async fn record_logout_notice_attempts(
        &self,
        id: i64,
        owner: &str,
        attempts: u32,
    ) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE logout_outbox SET attempts = $1 WHERE id = $2 AND claimed_by = $3")
                .bind(i64::from(attempts))
                .bind(id)
                .bind(owner)
                .execute(&mut *self.writer().await?)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_logout_notice(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM logout_outbox WHERE id = $1")
            .bind(id)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(())
    }

    async fn release_logout_notices(&self, owner: &str) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE logout_outbox SET claimed_by = NULL, claimed_at = NULL WHERE claimed_by = $1",
        )
        .bind(owner)
        .execute(&mut *self.writer().await?)
        .await?;
        Ok(done.rows_affected())
    }

    async fn count_logout_notices(&self) -> Result<u64, StoreError> {
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM logout_outbox")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn record_logout_token(
        &self,
        issuer: &str,
        jti: &str,
        expires: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut writer = self.writer().await?;
        let mut tx = begin_write(&mut writer).await?;
        sqlx::query("DELETE FROM logout_token_jtis WHERE expires <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query(
            "INSERT INTO logout_token_jtis (issuer, jti, expires) VALUES ($1, $2, $3) \
             ON CONFLICT (issuer, jti) DO NOTHING",
        )
        .bind(issuer)
        .bind(jti)
        .bind(expires)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_expired_api_tokens(&self, now: i64) -> Result<u64, StoreError> {
        let done =
            sqlx::query("DELETE FROM api_tokens WHERE expires IS NOT NULL AND expires <= $1")
                .bind(now)
                .execute(&mut *self.writer().await?)
                .await?;
        Ok(done.rows_affected())
    }

    async fn create_api_token(&self, token: NewApiToken) -> Result<ApiTokenRecord, StoreError> {
        let mut writer = self.writer().await?;
        let mut tx = begin_write(&mut writer).await?;
        let record = insert_api_token(&mut tx, token).await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn find_api_token(&self, hash: &str) -> Result<Option<ApiTokenRecord>, StoreError> {
        let row = sqlx::query_as::<_, TokenRow>(concat!(token_select!(), " WHERE t.hash = $1"))
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(token_from_row).transpose()
    }

    async fn find_jupyterhub_api_tokens(
        &self,
        prefix: &str,
    ) -> Result<Vec<ApiTokenRecord>, StoreError> {
        // hubauth's own hashes are hex digits only; JupyterHub's hold ':'.
        let rows = sqlx::query_as::<_, TokenRow>(concat!(
            token_select!(),
            " WHERE t.prefix = $1 AND t.hash LIKE '%:%' ORDER BY t.id"
        ))
        .bind(prefix)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(token_from_row).collect()
    }

    async fn import_batch(&self, batch: &ImportBatch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut writer = self.writer().await?;
        let mut tx = begin_write(&mut writer).await?;
        for group in &batch.groups {
            sqlx::query("INSERT INTO groups (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
                .bind(group)
                .execute(&mut *tx)
                .await?;
        }
        for role in &batch.roles {
            sqlx::query(
                "INSERT INTO roles (name, description, scopes, managed_by_auth) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO UPDATE SET \
                 description = excluded.description, scopes = excluded.scopes, \
                 managed_by_auth = excluded.managed_by_auth",
            )
            .bind(&role.name)
            .bind(&role.description)
            .bind(scopes_to_json(&role.scopes)?)
            .bind(role.managed_by_auth)
            .execute(&mut *tx)
            .await?;
        }
        for user in &batch.users {
            import_user(&mut tx, user).await?;
        }
        for token in &batch.tokens {
            import_token(&mut tx, token).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_api_tokens(&self, user: &str) -> Result<Vec<ApiTokenRecord>, StoreError> {
        let mut tx = self.read_tx().await?;
        let id = require_id(&mut tx, Named::User, user).await?;
        let rows = sqlx::query_as::<_, TokenRow>(concat!(token_select!(), " WHERE t.user_id = $1"))
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut tokens = rows
            .into_iter()
            .map(token_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        tokens.sort_by_key(|t| t.id);
        Ok(tokens)
    }

    async fn touch_api_token(&self, id: i64, now: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE api_tokens SET last_activity = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_api_token(&self, user: &str, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "DELETE FROM api_tokens WHERE id = $1 \
             AND user_id IN (SELECT id FROM users WHERE name = $2)",
        )
        .bind(id)
        .bind(user)
        .execute(&mut *self.writer().await?)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_groups(&self) -> Result<Vec<GroupRecord>, StoreError> {
        let mut tx = self.read_tx().await?;
        let groups = sqlx::query_as::<_, (i64, String)>("SELECT id, name FROM groups")
            .fetch_all(&mut *tx)
            .await?;
        let members = sqlx::query_as::<_, (i64, String)>(
            "SELECT m.group_id, u.name FROM user_group_map m JOIN users u ON u.id = m.user_id",
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut members = group_names(members);
        let mut groups: Vec<GroupRecord> = groups
            .into_iter()
            .map(|(id, name)| GroupRecord {
                name,
                users: members.remove(&id).unwrap_or_default(),
            })
            .collect();
        groups.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(groups)
    }

    async fn create_group(&self, name: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO groups (name) VALUES ($1)")
            .bind(name)
            .execute(&mut *self.writer().await?)
            .await
            .map_err(|e| classify(e, || format!("group {name:?}")))?;
        Ok(())
    }

    async fn delete_group(&self, name: &str) -> Result<bool, StoreError> {
        let statements = [
            "DELETE FROM user_group_map WHERE group_id = $1",
            "DELETE FROM groups WHERE id = $1",
        ];
        self.delete_named(Named::Group, name, &statements).await
    }

    async fn add_group_members(&self, group: &str, users: &[String]) -> Result<(), StoreError> {
        let mut writer = self.writer().await?;
        let mut tx = begin_write(&mut writer).await?;
        let gid = require_id(&mut tx, Named::Group, group).await?;
        for user in users {
            let uid = require_id(&mut tx, Named::User, user).await?;
            add_member(&mut tx, uid, gid).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn remove_group_members(&self, group: &str, users: &[String]) -> Result<(), StoreError> {
        let mut writer = self.writer().await?;
        let mut tx = begin_write(&mut writer).await?;
        let gid = require_id(&mut tx, Named::Group, group).await?;
        for user in users {
            sqlx::query(
                "DELETE FROM user_group_map WHERE group_id = $1 \
                 AND user_id IN (SELECT id FROM users WHERE name = $2)",
            )
            .bind(gid)
            .bind(user)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_roles(&self) -> Result<Vec<RoleRecord>, StoreError> {
        let mut tx = self.read_tx().await?;
        let roles = sqlx::query_as::<_, (i64, String, String, String, bool)>(
            "SELECT id, name, description, scopes, managed_by_auth FROM roles",
        )
        .fetch_all(&mut *tx)
        .await?;
        let holders = sqlx::query_as::<_, (i64, String)>(
            "SELECT m.role_id, u.name FROM user_role_map m JOIN users u ON u.id = m.user_id",
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut holders = group_names(holders);
        let mut out = Vec::with_capacity(roles.len());
        for (id, name, description, scopes, managed_by_auth) in roles {
            out.push(RoleRecord {
                name,
                description,
                scopes: scopes_from_json("roles.scopes", &scopes)?,
                managed_by_auth,
                users: holders.remove(&id).unwrap_or_default(),
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn upsert_role(&self, role: RoleSpec) -> Result<(), StoreError> {
        let scopes = scopes_to_json(&role.scopes)?;
        sqlx::query(
            "INSERT INTO roles (name, description, scopes, managed_by_auth) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET description = excluded.description, \
             scopes = excluded.scopes, managed_by_auth = excluded.managed_by_auth",
        )
        .bind(&role.name)
        .bind(&role.description)
        .bind(scopes)
        .bind(role.managed_by_auth)
        .execute(&mut *self.writer().await?)
        .await?;
        Ok(())
    }

    async fn delete_role(&self, name: &str) -> Result<bool, StoreError> {
        let statements = [
            "DELETE FROM user_role_map WHERE role_id = $1",
            "DELETE FROM roles WHERE id = $1",
        ];
        self.delete_named(Named::Role, name, &statements).await
    }

    async fn assign_role(
        &self,
        role: &str,
        users: &[String],
        replace: bool,
    ) -> Result<Vec<String>, StoreError> {
        let mut writer = self.writer().await?;
        let mut tx = begin_write(&mut writer).await?;
        let rid = require_id(&mut tx, Named::Role, role).await?;
        if replace {
            sqlx::query("DELETE FROM user_role_map WHERE role_id = $1")
                .bind(rid)
                .execute(&mut *tx)
                .await?;
        }
        let mut missing = Vec::new();
        let wanted: BTreeSet<&String> = users.iter().collect();
        for name in wanted {
            match id_of(&mut tx, Named::User, name).await? {
                Some(uid) => grant_role(&mut tx, uid, rid).await?,
                None => missing.push(name.clone()),
            }
        }
        tx.commit().await?;
        Ok(missing)
    }

    async fn set_user_roles(&self, user: &str, roles: &[String]) -> Result<(), StoreError> {
        let mut writer = self.writer().await?;
        let mut tx = begin_write(&mut writer).await?;
        let uid = require_id(&mut tx, Named::User, user).await?;
        let desired: BTreeSet<&str> = roles.iter().map(String::as_str).collect();
        let mut ids = Vec::with_capacity(desired.len());
        for name in desired {
            let id = match name {
                USER_ROLE => default_role_id(&mut tx, USER_ROLE).await?,
                ADMIN_ROLE => default_role_id(&mut tx, ADMIN_ROLE).await?,
                other => require_id(&mut tx, Named::Role, other).await?,
            };
            ids.push(id);
        }
        sqlx::query("DELETE FROM user_role_map WHERE user_id = $1")
            .bind(uid)
            .execute(&mut *tx)
            .await?;
        for id in ids {
            grant_role(&mut tx, uid, id).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn create_users(
        &self,
        names: &[String],
        admin: bool,
        now: i64,
    ) -> Result<Vec<UserRecord>, StoreError> {
        // Set-based, a chunk of names per statement: start-up creates whole
        // `allowed_users` lists this way, and one round trip per user and statement made
        // ten thousand names take seconds.
        let mut seen = BTreeSet::new();
        if let Some(repeated) = names.iter().find(|name| !seen.insert(name.as_str())) {
            return Err(StoreError::Conflict {
                what: format!("user {repeated:?}"),
            });
        }
        let mut writer = self.writer().await?;
        let mut tx = begin_write(&mut writer).await?;
        for chunk in names.chunks(CREATE_CHUNK) {
            let sql = format!(
                "SELECT name FROM users WHERE name IN ({}) LIMIT 1",
                placeholders(chunk.len(), 1, 0)
            );
            // Only numbered placeholders are formatted in; the names are bound.
            let mut existing = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
            for name in chunk {
                existing = existing.bind(name);
            }
            if let Some(name) = existing.fetch_optional(&mut *tx).await? {
                return Err(StoreError::Conflict {
                    what: format!("user {name:?}"),
                });
            }
        }
        let mut role_ids = vec![default_role_id(&mut tx, USER_ROLE).await?];
        let mut roles = vec![USER_ROLE.to_owned()];
        if admin {
            role_ids.push(default_role_id(&mut tx, ADMIN_ROLE).await?);
            roles.insert(0, ADMIN_ROLE.to_owned());
        }
        let mut ids = std::collections::HashMap::with_capacity(names.len());
        for chunk in names.chunks(CREATE_CHUNK) {
            let sql = format!(
                "INSERT INTO users (name, admin, created) VALUES {} RETURNING id, name",
                placeholders(chunk.len(), 3, 0)
            );
            let mut insert = sqlx::query_as::<_, (i64, String)>(sqlx::AssertSqlSafe(sql));
            for name in chunk {
                insert = insert.bind(name).bind(admin).bind(now);
            }
            for (id, name) in insert
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| classify(e, || "user".to_owned()))?
            {
                ids.insert(name, id);
            }
        }
        let new_ids: Vec<i64> = names
            .iter()
            .filter_map(|name| ids.get(name).copied())
            .collect();
        for chunk in new_ids.chunks(CREATE_CHUNK) {
            for role_id in &role_ids {
                let sql = format!(
                    "INSERT INTO user_role_map (user_id, role_id) VALUES {}",
                    placeholders(chunk.len(), 1, 1)
                );
                let mut grant = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(*role_id);
                for id in chunk {
                    grant = grant.bind(*id);
                }
                grant.execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        let mut users = Vec::with_capacity(names.len());
        for name in names {
            let Some(&id) = ids.get(name) else {
                return Err(StoreError::user_not_found(name));
            };
            tracing::info!(user = %name, admin, "created user");
            users.push(UserRecord {
                id,
                name: name.clone(),
                admin,
                created: now,
                last_activity: None,
                groups: Vec::new(),
                roles: roles.clone(),
            });
        }
        Ok(users)
    }

    async fn delete_users(&self, names: &[String]) -> Result<u64, StoreError> {
        let mut writer = self.writer().await?;
        let mut tx = begin_write(&mut writer).await?;
        let mut deleted = 0;
        for name in names {
            let Some(id) = id_of(&mut tx, Named::User, name).await? else {
                continue;
            };
            execute_for_id(&mut tx, &DELETE_USER_SQL, id).await?;
            deleted += 1;
        }
        tx.commit().await?;
        if deleted > 0 {
            tracing::info!(users = deleted, "deleted users");
        }
        Ok(deleted)
    }

    async fn set_user_groups(&self, user: &str, groups: &[String]) -> Result<(), StoreError> {
        let mut writer = self.writer().await?;
        let mut tx = begin_write(&mut writer).await?;
        let uid = require_id(&mut tx, Named::User, user).await?;
        let desired: BTreeSet<&str> = groups.iter().map(String::as_str).collect();
        let mut ids = Vec::with_capacity(desired.len());
        for name in desired {
            ids.push(require_id(&mut tx, Named::Group, name).await?);
        }
        sqlx::query("DELETE FROM user_group_map WHERE user_id = $1")
            .bind(uid)
            .execute(&mut *tx)
            .await?;
        for gid in ids {
            add_member(&mut tx, uid, gid).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn create_groups(&self, groups: &[(String, Vec<String>)]) -> Result<(), StoreError> {
        let mut writer = self.writer().await?;
        let mut tx = begin_write(&mut writer).await?;
        for (name, members) in groups {
            let gid =
                sqlx::query_scalar::<_, i64>("INSERT INTO groups (name) VALUES ($1) RETURNING id")
                    .bind(name)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(|e| classify(e, || format!("group {name:?}")))?;
            for user in members {
                let uid = require_id(&mut tx, Named::User, user).await?;
                add_member(&mut tx, uid, gid).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn create_role_with_users(
        &self,
        role: RoleSpec,
        users: &[String],
    ) -> Result<(), StoreError> {
        let scopes = scopes_to_json(&role.scopes)?;
        let mut writer = self.writer().await?;
        let mut tx = begin_write(&mut writer).await?;
        let rid = sqlx::query_scalar::<_, i64>(
            "INSERT INTO roles (name, description, scopes, managed_by_auth) \
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(&role.name)
        .bind(&role.description)
        .bind(scopes)
        .bind(role.managed_by_auth)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| classify(e, || format!("role {:?}", role.name)))?;
        for user in users {
            let uid = require_id(&mut tx, Named::User, user).await?;
            grant_role(&mut tx, uid, rid).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn put_login_state(&self, state: NewLoginState) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO login_states (state_hash, data, created, expires) VALUES ($1, $2, $3, $4)",
        )
        .bind(&state.state_hash)
        .bind(&state.data)
        .bind(state.created)
        .bind(state.expires)
        .execute(&mut *self.writer().await?)
        .await
        .map_err(|e| classify(e, || "a pending login with this state".to_owned()))?;
        Ok(())
    }

    async fn put_login_state_capped(
        &self,
        state: NewLoginState,
        owner: PendingLoginOwner,
        limits: PendingLoginLimits,
    ) -> Result<PendingLoginOutcome, StoreError> {
        // Concurrent floods must not both pass a count. Where each write statement runs
        // alone holding the database's write lock (SQLite), the conditional `INSERT` is
        // that check; elsewhere the statements run under the write lock.
        if let Some(outcome) = super::inline_pending_login(self, &state, &owner, limits).await? {
            return Ok(outcome);
        }
        let mut writer = self.writer().await?;
        if super::WRITE_STATEMENTS_ARE_SERIAL {
            return store_pending_login(&mut writer, &state, &owner, limits).await;
        }
        let mut tx = begin_write(&mut writer).await?;
        let outcome = store_pending_login(&mut tx, &state, &owner, limits).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn take_login_state(
        &self,
        state_hash: &str,
    ) -> Result<Option<LoginStateRecord>, StoreError> {
        if let Some(taken) = super::inline_take_login_state(self, state_hash).await? {
            return Ok(taken);
        }
        let row = sqlx::query_as::<_, (String, i64, i64)>(TAKE_LOGIN_STATE_SQL)
            .bind(state_hash)
            .fetch_optional(&mut *self.writer().await?)
            .await?;
        Ok(row.map(|(data, created, expires)| LoginStateRecord {
            data,
            created,
            expires,
        }))
    }

    async fn list_users_page(&self, query: UserQuery) -> Result<UserPage, StoreError> {
        let filter = query
            .name_filter
            .as_deref()
            .filter(|text| !text.is_empty())
            .map(contains_pattern);
        let mut tx = self.read_tx().await?;
        let count = format!("SELECT COUNT(*) FROM users WHERE {NAME_FILTER_SQL}");
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count))
            .bind(&filter)
            .fetch_one(&mut *tx)
            .await?;
        let sql = format!(
            "SELECT id, name, admin, created, last_activity FROM users \
             WHERE {NAME_FILTER_SQL} ORDER BY {} LIMIT $2 OFFSET $3",
            user_order(query.sort, query.descending)
        );
        let rows = sqlx::query_as::<_, UserRow>(sqlx::AssertSqlSafe(sql))
            .bind(&filter)
            .bind(page_number(query.limit))
            .bind(page_number(query.offset))
            .fetch_all(&mut *tx)
            .await?;
        let ids: Vec<i64> = rows.iter().map(|row| row.0).collect();
        let (groups, roles) = if ids.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            let list = id_list(&ids);
            let groups = sqlx::query_as::<_, (i64, String)>(sqlx::AssertSqlSafe(format!(
                "SELECT m.user_id, g.name FROM user_group_map m JOIN groups g ON g.id = m.group_id \
                 WHERE m.user_id IN ({list})"
            )))
            .fetch_all(&mut *tx)
            .await?;
            let roles = sqlx::query_as::<_, (i64, String)>(sqlx::AssertSqlSafe(format!(
                "SELECT m.user_id, r.name FROM user_role_map m JOIN roles r ON r.id = m.role_id \
                 WHERE m.user_id IN ({list})"
            )))
            .fetch_all(&mut *tx)
            .await?;
            (groups, roles)
        };
        tx.commit().await?;
        let users = users_from_rows(rows, groups, roles);
        Ok(UserPage {
            users,
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    async fn get_roles(&self, names: &[String]) -> Result<Vec<RoleSpec>, StoreError> {
        let wanted: BTreeSet<&str> = names.iter().map(String::as_str).collect();
        let mut tx = self.read_tx().await?;
        let mut out = Vec::with_capacity(wanted.len());
        for name in wanted {
            let row = sqlx::query_as::<_, (String, String, String, bool)>(
                "SELECT name, description, scopes, managed_by_auth FROM roles WHERE name = $1",
            )
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((name, description, scopes, managed_by_auth)) = row {
                out.push(RoleSpec {
                    name,
                    description,
                    scopes: scopes_from_json("roles.scopes", &scopes)?,
                    managed_by_auth,
                });
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn delete_expired_login_states(&self, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM login_states WHERE expires <= $1")
            .bind(now)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected())
    }
    async fn create_oauth_code(&self, code: NewOAuthGrant) -> Result<(), StoreError> {
        // One statement: atomic without the write lock.
        let mut conn = self.writer().await?;
        insert_oauth_grant(&mut conn, &code, &code.hash, OAuthGrantKind::Code, None).await
    }

    async fn get_oauth_grant(&self, hash: &str) -> Result<Option<OAuthGrantRecord>, StoreError> {
        let row = sqlx::query_as::<_, OAuthGrantRow>(OAUTH_GRANT_SELECT)
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.and_then(oauth_grant_from_row))
    }

    async fn exchange_oauth_grant(
        &self,
        exchange: OAuthExchange,
    ) -> Result<OAuthExchangeOutcome, StoreError> {
        // The write lock is held from the first statement: a concurrent exchange of the
        // same grant waits, then finds it used and revokes the family, tokens issued here
        // included.
        let mut writer = self.writer().await?;
        let mut tx = begin_write(&mut writer).await?;
        let row = sqlx::query_as::<_, OAuthGrantRow>(OAUTH_GRANT_SELECT)
            .bind(&exchange.hash)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(grant) = row.and_then(oauth_grant_from_row) else {
            return Ok(OAuthExchangeOutcome::Invalid);
        };
        if grant.kind != exchange.kind {
            return Ok(OAuthExchangeOutcome::Invalid);
        }
        match grant.state {
            OAuthGrantState::Active if exchange.now < grant.expires => {}
            OAuthGrantState::Active => return Ok(OAuthExchangeOutcome::Invalid),
            OAuthGrantState::Used | OAuthGrantState::Revoked => {
                let revoked_tokens = revoke_family(&mut tx, &grant.family).await?;
                tx.commit().await?;
                return Ok(OAuthExchangeOutcome::Replayed { revoked_tokens });
            }
        }
        sqlx::query("UPDATE oauth_grants SET state = $2 WHERE hash = $1")
            .bind(&grant.hash)
            .bind(OAuthGrantState::Used.as_str())
            .execute(&mut *tx)
            .await?;
        let access_hash = exchange.access_token.hash.clone();
        let token = insert_api_token(&mut tx, exchange.access_token).await?;
        insert_oauth_grant(
            &mut tx,
            &exchange.refresh,
            &grant.family,
            OAuthGrantKind::Refresh,
            Some(&access_hash),
        )
        .await?;
        tx.commit().await?;
        Ok(OAuthExchangeOutcome::Issued(token))
    }

    async fn revoke_oauth_family(&self, family: &str) -> Result<u64, StoreError> {
        let mut writer = self.writer().await?;
        let mut tx = begin_write(&mut writer).await?;
        let revoked = revoke_family(&mut tx, family).await?;
        tx.commit().await?;
        Ok(revoked)
    }

    async fn delete_expired_oauth_grants(&self, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM oauth_grants WHERE family IN \
             (SELECT family FROM oauth_grants GROUP BY family HAVING MAX(expires) <= $1)",
        )
        .bind(now)
        .execute(&mut *self.writer().await?)
        .await?;
        Ok(done.rows_affected())
    }

    async fn auth_state_page(
        &self,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<StoredAuthState>, StoreError> {
        let rows = sqlx::query_as::<_, (i64, String, Vec<u8>)>(
            "SELECT id, name, encrypted_auth_state FROM users \
             WHERE encrypted_auth_state IS NOT NULL AND id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(user_id, name, encrypted)| StoredAuthState {
                user_id,
                name,
                encrypted,
            })
            .collect())
    }

    async fn replace_auth_states(&self, swaps: &[AuthStateSwap]) -> Result<Vec<bool>, StoreError> {
        // One transaction for the whole batch; each row is a compare-and-swap, so
        // a value written by a login since it was read is never overwritten.
        let mut writer = self.writer().await?;
        let mut tx = begin_batch(&mut writer).await?;
        let mut applied = Vec::with_capacity(swaps.len());
        for swap in swaps {
            let done = sqlx::query(
                "UPDATE users SET encrypted_auth_state = $1 \
                 WHERE id = $2 AND encrypted_auth_state = $3",
            )
            .bind(swap.replacement.as_deref())
            .bind(swap.user_id)
            .bind(swap.expected.as_slice())
            .execute(&mut *tx)
            .await?;
            applied.push(done.rows_affected() > 0);
        }
        tx.commit().await?;
        Ok(applied)
    }
}
