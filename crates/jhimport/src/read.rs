//! The queries that read a JupyterHub database. Compiled once per engine (see
//! `source.rs`): `super::Db` is the engine, and `epoch!` turns a `DateTime` column into
//! unix seconds in that engine's SQL.

use std::collections::BTreeMap;

use super::Db;
use crate::model::{JhGroup, JhOAuthClient, JhRole, JhToken, JhUser, Snapshot, TokenOwner};
use crate::{ImportError, SchemaVersion};

type Pool = sqlx::Pool<Db>;
type Conn = <Db as sqlx::Database>::Connection;

fn failed(what: &'static str) -> impl FnOnce(sqlx::Error) -> ImportError {
    move |source| ImportError::Source { what, source }
}

/// The alembic revision; [`ImportError::NotJupyterHub`] when there is no such table.
pub(crate) async fn revision(pool: &Pool) -> Result<String, ImportError> {
    match sqlx::query_scalar::<_, String>("SELECT version_num FROM alembic_version")
        .fetch_optional(pool)
        .await
    {
        Ok(Some(revision)) => Ok(revision),
        Ok(None) | Err(sqlx::Error::Database(_)) => Err(ImportError::NotJupyterHub),
        Err(source) => Err(ImportError::Source {
            what: "alembic_version",
            source,
        }),
    }
}

/// Name pairs of a map table, grouped by the first name.
async fn pairs(
    conn: &mut Conn,
    sql: &'static str,
    what: &'static str,
) -> Result<BTreeMap<String, Vec<String>>, ImportError> {
    let rows = sqlx::query_as::<_, (String, String)>(sql)
        .fetch_all(&mut *conn)
        .await
        .map_err(failed(what))?;
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, value) in rows {
        out.entry(key).or_default().push(value);
    }
    for values in out.values_mut() {
        values.sort();
        values.dedup();
    }
    Ok(out)
}

type UserRow = (
    String,
    Option<bool>,
    Option<i64>,
    Option<i64>,
    Option<Vec<u8>>,
);

type TokenRow = (
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

type ClientRow = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Everything, in one transaction.
pub(crate) async fn snapshot(pool: &Pool, schema: SchemaVersion) -> Result<Snapshot, ImportError> {
    let mut tx = pool
        .begin()
        .await
        .map_err(failed("starting a transaction"))?;
    let conn: &mut Conn = &mut tx;

    let mut user_groups = pairs(
        conn,
        "SELECT u.name, g.name FROM user_group_map m \
         JOIN users u ON u.id = m.user_id JOIN groups g ON g.id = m.group_id",
        "user_group_map",
    )
    .await?;
    let mut user_roles = pairs(
        conn,
        "SELECT u.name, r.name FROM user_role_map m \
         JOIN users u ON u.id = m.user_id JOIN roles r ON r.id = m.role_id",
        "user_role_map",
    )
    .await?;
    let mut group_roles = pairs(
        conn,
        "SELECT g.name, r.name FROM group_role_map m \
         JOIN groups g ON g.id = m.group_id JOIN roles r ON r.id = m.role_id",
        "group_role_map",
    )
    .await?;
    let role_users = pairs(
        conn,
        "SELECT r.name, u.name FROM user_role_map m \
         JOIN users u ON u.id = m.user_id JOIN roles r ON r.id = m.role_id",
        "user_role_map",
    )
    .await?;
    let role_groups = pairs(
        conn,
        "SELECT r.name, g.name FROM group_role_map m \
         JOIN groups g ON g.id = m.group_id JOIN roles r ON r.id = m.role_id",
        "group_role_map",
    )
    .await?;
    let role_services = pairs(
        conn,
        "SELECT r.name, s.name FROM service_role_map m \
         JOIN services s ON s.id = m.service_id JOIN roles r ON r.id = m.role_id",
        "service_role_map",
    )
    .await?;

    let users = sqlx::query_as::<_, UserRow>(concat!(
        "SELECT name, admin, ",
        epoch!("created"),
        ", ",
        epoch!("last_activity"),
        ", encrypted_auth_state FROM users ORDER BY id"
    ))
    .fetch_all(&mut *conn)
    .await
    .map_err(failed("users"))?
    .into_iter()
    .map(|(name, admin, created, last_activity, auth_state)| JhUser {
        groups: user_groups.remove(&name).unwrap_or_default(),
        roles: user_roles.remove(&name).unwrap_or_default(),
        name,
        admin: admin.unwrap_or(false),
        created,
        last_activity,
        encrypted_auth_state: auth_state.filter(|bytes| !bytes.is_empty()),
    })
    .collect();

    let groups = sqlx::query_as::<_, (String, Option<String>)>(
        "SELECT name, properties FROM groups ORDER BY id",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(failed("groups"))?
    .into_iter()
    .map(|(name, properties)| JhGroup {
        roles: group_roles.remove(&name).unwrap_or_default(),
        name,
        properties: properties.filter(|text| {
            let trimmed = text.trim();
            !(trimmed.is_empty() || trimmed == "{}" || trimmed == "null")
        }),
    })
    .collect();

    let roles_sql = if schema.has_managed_roles() {
        "SELECT name, description, scopes, managed_by_auth FROM roles ORDER BY id"
    } else {
        "SELECT name, description, scopes, NULL FROM roles ORDER BY id"
    };
    let roles =
        sqlx::query_as::<_, (String, Option<String>, Option<String>, Option<bool>)>(roles_sql)
            .fetch_all(&mut *conn)
            .await
            .map_err(failed("roles"))?
            .into_iter()
            .map(|(name, description, scopes, managed)| JhRole {
                users: role_users.get(&name).cloned().unwrap_or_default(),
                groups: role_groups.get(&name).cloned().unwrap_or_default(),
                services: role_services.get(&name).cloned().unwrap_or_default(),
                name,
                description: description.unwrap_or_default(),
                scopes,
                managed_by_auth: managed.unwrap_or(false),
            })
            .collect();

    let tokens = sqlx::query_as::<_, TokenRow>(concat!(
        "SELECT CAST(t.id AS BIGINT), t.hashed, t.prefix, u.name, s.name, t.client_id, ",
        epoch!("t.created"),
        ", ",
        epoch!("t.expires_at"),
        ", ",
        epoch!("t.last_activity"),
        ", t.note, t.scopes FROM api_tokens t \
         LEFT JOIN users u ON u.id = t.user_id LEFT JOIN services s ON s.id = t.service_id \
         ORDER BY t.id"
    ))
    .fetch_all(&mut *conn)
    .await
    .map_err(failed("api_tokens"))?
    .into_iter()
    .map(
        |(id, hashed, prefix, user, service, client_id, created, expires, last, note, scopes)| {
            JhToken {
                id,
                hashed: hashed.unwrap_or_default(),
                prefix: prefix.unwrap_or_default(),
                owner: match (user, service) {
                    (Some(user), _) => TokenOwner::User(user),
                    (None, Some(service)) => TokenOwner::Service(service),
                    (None, None) => TokenOwner::Nobody,
                },
                client_id,
                created,
                expires,
                last_activity: last,
                note: note.unwrap_or_default(),
                scopes,
            }
        },
    )
    .collect();

    let oauth_clients = sqlx::query_as::<_, ClientRow>(
        "SELECT c.identifier, c.description, c.secret, c.redirect_uri, c.allowed_scopes, s.name \
         FROM oauth_clients c LEFT JOIN services s ON s.oauth_client_id = c.identifier \
         ORDER BY c.id",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(failed("oauth_clients"))?
    .into_iter()
    .map(
        |(identifier, description, secret, redirect_uri, allowed_scopes, service)| JhOAuthClient {
            identifier: identifier.unwrap_or_default(),
            description: description.unwrap_or_default(),
            secret_hash: secret.unwrap_or_default(),
            redirect_uri: redirect_uri.unwrap_or_default(),
            allowed_scopes,
            service,
        },
    )
    .collect();

    // Read-only: nothing to commit; ending the transaction releases the snapshot.
    tx.rollback()
        .await
        .map_err(failed("ending the transaction"))?;
    Ok(Snapshot {
        schema: Some(schema),
        users,
        groups,
        roles,
        tokens,
        oauth_clients,
    })
}
