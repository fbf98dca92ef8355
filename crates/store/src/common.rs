//! Engine-independent pieces of the two store engines: JupyterHub's default
//! roles, the JSON encoding of scopes, the row shapes both engines read and their
//! conversion into the public records, and the text helpers of a user page.

use std::collections::HashMap;

use crate::StoreError;
use crate::model::{ApiTokenRecord, SessionRecord, UserRecord, UserSort};

/// JupyterHub's default scopes of the `user` role.
pub(crate) const USER_ROLE_SCOPES: &[&str] = &["self"];
/// JupyterHub's description of the `user` role.
pub(crate) const USER_ROLE_DESCRIPTION: &str = "Standard user privileges";

/// JupyterHub's default scopes of the `admin` role.
pub(crate) const ADMIN_ROLE_SCOPES: &[&str] = &[
    "admin-ui",
    "admin:users",
    "admin:servers",
    "tokens",
    "admin:groups",
    "list:services",
    "read:services",
    "read:hub",
    "proxy",
    "shutdown",
    "access:services",
    "access:servers",
    "read:roles",
    "read:metrics",
    "shares",
];
/// JupyterHub's description of the `admin` role.
pub(crate) const ADMIN_ROLE_DESCRIPTION: &str = "Elevated privileges (can do anything)";

/// Scopes as the JSON list stored in `roles.scopes` and `api_tokens.scopes`.
pub(crate) fn scopes_to_json(scopes: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(scopes).map_err(|e| StoreError::Database {
        detail: format!("scopes could not be encoded as JSON: {e}"),
    })
}

/// Scopes read back from a JSON list column; anything else is [`StoreError::Corrupt`].
pub(crate) fn scopes_from_json(
    column: &'static str,
    text: &str,
) -> Result<Vec<String>, StoreError> {
    serde_json::from_str::<Vec<String>>(text).map_err(|e| StoreError::Corrupt {
        column,
        detail: format!("not a JSON list of strings ({e})"),
    })
}

/// `id, name, admin, created, last_activity` of a `users` row.
pub(crate) type UserRow = (i64, String, bool, i64, Option<i64>);

/// A user record from its row, groups and roles (both sorted here).
pub(crate) fn user_from_row(
    row: UserRow,
    mut groups: Vec<String>,
    mut roles: Vec<String>,
) -> UserRecord {
    let (id, name, admin, created, last_activity) = row;
    groups.sort();
    roles.sort();
    UserRecord {
        id,
        name,
        admin,
        created,
        last_activity,
        groups,
        roles,
    }
}

/// One row of a user read with its groups and roles in one statement (see
/// `user_select!` in `engine.rs`): `("u", name, id, admin, created, last_activity)` for
/// the user, `("g", group, ..)` for each group and `("r", role, ..)` for each role.
pub(crate) type MembershipRow = (
    String,
    String,
    Option<i64>,
    Option<bool>,
    Option<i64>,
    Option<i64>,
);

/// The user record the rows of one user's `user_select!` read make, `None` when the
/// user row is not among them.
pub(crate) fn user_from_membership_rows(rows: Vec<MembershipRow>) -> Option<UserRecord> {
    let mut row = None;
    let mut groups = Vec::new();
    let mut roles = Vec::new();
    for (kind, name, id, admin, created, last_activity) in rows {
        match (kind.as_str(), id, admin, created) {
            ("u", Some(id), Some(admin), Some(created)) => {
                row = Some((id, name, admin, created, last_activity));
            }
            ("g", ..) => groups.push(name),
            ("r", ..) => roles.push(name),
            _ => {}
        }
    }
    row.map(|row| user_from_row(row, groups, roles))
}

/// User records from their rows and `(user id, name)` pairs of their groups and
/// roles, in the rows' order.
pub(crate) fn users_from_rows(
    rows: Vec<UserRow>,
    groups: Vec<(i64, String)>,
    roles: Vec<(i64, String)>,
) -> Vec<UserRecord> {
    let mut groups = group_names(groups);
    let mut roles = group_names(roles);
    rows.into_iter()
        .map(|row| {
            let id = row.0;
            user_from_row(
                row,
                groups.remove(&id).unwrap_or_default(),
                roles.remove(&id).unwrap_or_default(),
            )
        })
        .collect()
}

/// `ORDER BY` text for a user page (only fixed strings, never input).
pub(crate) fn user_order(sort: UserSort, descending: bool) -> &'static str {
    match (sort, descending) {
        (UserSort::Id, false) => "id ASC",
        (UserSort::Id, true) => "id DESC",
        (UserSort::Name, false) => "name ASC, id ASC",
        (UserSort::Name, true) => "name DESC, id DESC",
        (UserSort::LastActivity, false) => {
            "(last_activity IS NOT NULL) ASC, last_activity ASC, id ASC"
        }
        (UserSort::LastActivity, true) => {
            "(last_activity IS NULL) ASC, last_activity DESC, id DESC"
        }
    }
}

/// A `LIKE` pattern matching names that contain `text` (`\` escapes `%` and `_`).
pub(crate) fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// `1,2,3` for an `IN (...)` list of ids (integers only, so safe to inline).
pub(crate) fn id_list(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// Clamps a page number for SQL.
pub(crate) fn page_number(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Group (user id or group id → names) pairs into a map of sorted lists.
pub(crate) fn group_names(pairs: Vec<(i64, String)>) -> HashMap<i64, Vec<String>> {
    let mut map: HashMap<i64, Vec<String>> = HashMap::new();
    for (id, name) in pairs {
        map.entry(id).or_default().push(name);
    }
    for names in map.values_mut() {
        names.sort();
    }
    map
}

/// `id, hash, prefix, user name, note, scopes, created, expires, last_activity` of
/// an `api_tokens` row joined with its user.
pub(crate) type TokenRow = (
    i64,
    String,
    String,
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
);

/// A token record from its row.
pub(crate) fn token_from_row(row: TokenRow) -> Result<ApiTokenRecord, StoreError> {
    let (id, hash, prefix, user, note, scopes, created, expires, last_activity) = row;
    Ok(ApiTokenRecord {
        id,
        hash,
        prefix,
        user,
        note,
        scopes: scopes_from_json("api_tokens.scopes", &scopes)?,
        created,
        expires,
        last_activity,
    })
}

/// A session row: id hash, user name, created, expires, last seen.
pub(crate) type SessionRow = (String, String, i64, i64, i64);

/// The record of a session row.
pub(crate) fn session_record(
    (id_hash, user, created, expires, last_seen): SessionRow,
) -> SessionRecord {
    SessionRecord {
        id_hash,
        user,
        created,
        expires,
        last_seen,
    }
}
