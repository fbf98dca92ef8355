//! Store contract suite, run on a real SQLite file and on PostgreSQL.
//!
//! Each `contract_*` function takes `&dyn Store` and knows nothing about the
//! engine. It runs on SQLite always, and on the PostgreSQL server named by
//! `HUBAUTH_TEST_POSTGRES_URL` (which `./scripts/test.sh` starts and exports),
//! each run in a fresh database of its own. Without that variable the
//! PostgreSQL test fails, unless `HUBAUTH_SKIP_POSTGRES=1` says to skip it.
//! The engine-specific tests (URLs, reopening, locking, corrupt data) follow.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hubauth_store::jupyterhub_hash::jupyterhub_hash;
use hubauth_store::{
    AuthStateSwap, AuthStateUpdate, DatabaseLocation, LoginUpdate, NewApiToken, NewSession,
    PostgresStore, RoleSpec, SqliteStore, Store, StoreError, UserQuery, UserSort,
    parse_database_url,
};
use hubauth_store::{ImportBatch, ImportedApiToken, ImportedUser};
use sqlx::Connection as _;
use tempfile::TempDir;

// ---------------------------------------------------------------------------
// fixtures

async fn file_store() -> (TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:///{}", dir.path().join("hub.sqlite").display());
    // dir.path() is absolute, so this is the four-slash form.
    assert!(url.starts_with("sqlite:////"));
    let store = hubauth_store::open(&url).await.unwrap();
    (dir, store)
}

fn login(name: &str, now: i64) -> LoginUpdate {
    LoginUpdate {
        name: name.to_owned(),
        admin: None,
        groups: None,
        auth_state: AuthStateUpdate::Keep,
        now,
        create_if_missing: true,
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn session(id_hash: &str, user: &str, created: i64, expires: i64) -> NewSession {
    NewSession {
        id_hash: id_hash.to_owned(),
        user: user.to_owned(),
        created,
        expires,
        provider: None,
    }
}

fn token(hash: &str, user: &str, expires: Option<i64>) -> NewApiToken {
    NewApiToken {
        hash: hash.to_owned(),
        prefix: hash.chars().take(4).collect(),
        user: user.to_owned(),
        note: format!("note for {user}"),
        scopes: strings(&["read:users", "self"]),
        created: 10,
        expires,
    }
}

fn assert_not_found<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    match result {
        Err(StoreError::NotFound { .. }) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}

fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>) -> StoreError {
    match result {
        Err(err @ StoreError::Conflict { .. }) => err,
        other => panic!("expected Conflict, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// the contract suite

/// Every part of the contract, in order, on one store.
async fn run_contract(store: &dyn Store) {
    contract_ping(store).await;
    contract_apply_login(store).await;
    contract_users(store).await;
    contract_auth_state(store).await;
    contract_sessions(store).await;
    contract_api_tokens(store).await;
    contract_groups(store).await;
    contract_roles(store).await;
    contract_delete_user_cascades(store).await;
    contract_login_states(store).await;
    contract_oauth_grants(store).await;
    contract_auth_state_bulk(store).await;
    contract_user_pages_and_role_lookup(store).await;
    contract_atomic_multi_row_changes(store).await;
    contract_expired_rows(store).await;
    contract_imports_and_jupyterhub_tokens(store).await;
    super::backchannel::contract_provider_sessions_and_logout_tokens(store).await;
    super::backchannel::contract_logout_outbox(store).await;
}

/// What the periodic clean-up reads and deletes.
async fn contract_expired_rows(store: &dyn Store) {
    store.ensure_user("exp-a", None, 1).await.unwrap();
    store.ensure_user("exp-b", None, 1).await.unwrap();
    for (hash, user, expires) in [
        ("exp-3", "exp-a", 30),
        ("exp-1", "exp-b", 10),
        ("exp-2", "exp-a", 20),
        ("exp-live", "exp-b", 1_000),
    ] {
        store
            .create_session(session(hash, user, 5, expires))
            .await
            .unwrap();
    }
    let hashes = |sessions: Vec<hubauth_store::SessionRecord>| -> Vec<(String, String)> {
        sessions.into_iter().map(|s| (s.id_hash, s.user)).collect()
    };
    // Oldest expiry first, at most `limit`, never a live one.
    assert_eq!(
        hashes(store.expired_sessions(30, 2).await.unwrap()),
        [
            ("exp-1".to_owned(), "exp-b".to_owned()),
            ("exp-2".to_owned(), "exp-a".to_owned())
        ]
    );
    assert_eq!(store.expired_sessions(30, 10).await.unwrap().len(), 3);
    assert_eq!(store.expired_sessions(29, 10).await.unwrap().len(), 2);
    assert!(store.expired_sessions(9, 10).await.unwrap().is_empty());
    assert_eq!(store.delete_expired_sessions(999).await.unwrap(), 3);

    for (hash, expires) in [("exp-t1", Some(50)), ("exp-t2", Some(60)), ("exp-t3", None)] {
        store
            .create_api_token(token(hash, "exp-a", expires))
            .await
            .unwrap();
    }
    assert_eq!(store.delete_expired_api_tokens(49).await.unwrap(), 0);
    assert_eq!(store.delete_expired_api_tokens(50).await.unwrap(), 1);
    assert!(store.find_api_token("exp-t1").await.unwrap().is_none());
    assert!(store.find_api_token("exp-t2").await.unwrap().is_some());
    assert_eq!(store.delete_expired_api_tokens(60).await.unwrap(), 1);
    // A token without an expiry never expires.
    assert!(store.find_api_token("exp-t3").await.unwrap().is_some());
    store.delete_user("exp-a").await.unwrap();
    store.delete_user("exp-b").await.unwrap();
}

async fn contract_ping(store: &dyn Store) {
    store.ping().await.unwrap();
}

async fn contract_apply_login(store: &dyn Store) {
    // Creation: admin None on a new user means not admin; default role `user`.
    let out = store.apply_login(login("alice", 100)).await.unwrap();
    assert!(out.created);
    assert_eq!(out.user.name, "alice");
    assert!(!out.user.admin);
    assert_eq!(out.user.created, 100);
    assert_eq!(out.user.last_activity, Some(100));
    assert_eq!(out.user.roles, strings(&["user"]));
    assert!(out.user.groups.is_empty());
    assert_eq!(
        store.get_user("alice").await.unwrap(),
        Some(out.user.clone())
    );

    // admin Some(true): stored, and the `admin` role granted.
    let out = store
        .apply_login(LoginUpdate {
            admin: Some(true),
            ..login("alice", 200)
        })
        .await
        .unwrap();
    assert!(!out.created);
    assert!(out.user.admin);
    assert_eq!(out.user.created, 100, "created is never changed");
    assert_eq!(out.user.last_activity, Some(200));
    assert_eq!(out.user.roles, strings(&["admin", "user"]));

    // admin None keeps the flag (and the role).
    let out = store.apply_login(login("alice", 300)).await.unwrap();
    assert!(out.user.admin);
    assert_eq!(out.user.roles, strings(&["admin", "user"]));

    // admin Some(false) revokes flag and role.
    let out = store
        .apply_login(LoginUpdate {
            admin: Some(false),
            ..login("alice", 400)
        })
        .await
        .unwrap();
    assert!(!out.user.admin);
    assert_eq!(out.user.roles, strings(&["user"]));

    // A user created as admin.
    let out = store
        .apply_login(LoginUpdate {
            admin: Some(true),
            ..login("zed", 1)
        })
        .await
        .unwrap();
    assert!(out.created && out.user.admin);
    assert_eq!(out.user.roles, strings(&["admin", "user"]));

    // The admin role is re-applied from the flag even if it was stripped.
    store
        .set_user_roles("zed", &strings(&["user"]))
        .await
        .unwrap();
    let out = store.apply_login(login("zed", 2)).await.unwrap();
    assert_eq!(out.user.roles, strings(&["admin", "user"]));
    // ... and the `user` role always.
    store.set_user_roles("zed", &[]).await.unwrap();
    let out = store.apply_login(login("zed", 3)).await.unwrap();
    assert_eq!(out.user.roles, strings(&["admin", "user"]));

    // Groups Some(..): exactly that set, missing groups created, duplicates collapsed.
    let out = store
        .apply_login(LoginUpdate {
            groups: Some(strings(&["beta", "alpha", "alpha"])),
            ..login("alice", 500)
        })
        .await
        .unwrap();
    assert_eq!(out.user.groups, strings(&["alpha", "beta"]));

    // Groups None leaves membership unchanged.
    let out = store.apply_login(login("alice", 510)).await.unwrap();
    assert_eq!(out.user.groups, strings(&["alpha", "beta"]));

    // A new set replaces the old; the dropped group still exists.
    let out = store
        .apply_login(LoginUpdate {
            groups: Some(strings(&["beta", "gamma"])),
            ..login("alice", 520)
        })
        .await
        .unwrap();
    assert_eq!(out.user.groups, strings(&["beta", "gamma"]));
    let groups = store.list_groups().await.unwrap();
    let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["alpha", "beta", "gamma"]);
    assert!(groups[0].users.is_empty());
    assert_eq!(groups[1].users, strings(&["alice"]));

    // Other members of a group are not affected by alice's sync.
    store
        .add_group_members("beta", &strings(&["zed"]))
        .await
        .unwrap();

    // Some([]) removes every membership.
    let out = store
        .apply_login(LoginUpdate {
            groups: Some(vec![]),
            ..login("alice", 530)
        })
        .await
        .unwrap();
    assert!(out.user.groups.is_empty());
    let zed = store.get_user("zed").await.unwrap().unwrap();
    assert_eq!(zed.groups, strings(&["beta"]));

    // auth_state Set / Keep / Clear.
    let out = store
        .apply_login(LoginUpdate {
            auth_state: AuthStateUpdate::Set(vec![1, 2, 3]),
            ..login("alice", 600)
        })
        .await
        .unwrap();
    assert!(!out.created);
    assert_eq!(
        store.get_auth_state("alice").await.unwrap(),
        Some(vec![1, 2, 3])
    );
    store.apply_login(login("alice", 610)).await.unwrap();
    assert_eq!(
        store.get_auth_state("alice").await.unwrap(),
        Some(vec![1, 2, 3])
    );
    store
        .apply_login(LoginUpdate {
            auth_state: AuthStateUpdate::Clear,
            ..login("alice", 620)
        })
        .await
        .unwrap();
    assert_eq!(store.get_auth_state("alice").await.unwrap(), None);

    // create_if_missing false: a missing user is NotFound and is not created.
    assert_not_found(
        store
            .apply_login(LoginUpdate {
                create_if_missing: false,
                groups: Some(strings(&["never"])),
                ..login("ghost", 700)
            })
            .await,
    );
    assert_eq!(store.get_user("ghost").await.unwrap(), None);
    assert!(
        !store
            .list_groups()
            .await
            .unwrap()
            .iter()
            .any(|g| g.name == "never"),
        "the failed transaction left nothing behind"
    );
    // ... while an existing user is updated.
    let out = store
        .apply_login(LoginUpdate {
            create_if_missing: false,
            ..login("alice", 710)
        })
        .await
        .unwrap();
    assert!(!out.created);
    assert_eq!(out.user.last_activity, Some(710));
}

async fn contract_users(store: &dyn Store) {
    assert_eq!(store.get_user("nobody").await.unwrap(), None);

    let (carol, created) = store.ensure_user("carol", None, 50).await.unwrap();
    assert!(created);
    assert!(!carol.admin);
    assert_eq!(carol.created, 50);
    assert_eq!(carol.last_activity, None);
    assert_eq!(carol.roles, strings(&["user"]));

    let (again, created) = store.ensure_user("carol", None, 60).await.unwrap();
    assert!(!created);
    assert_eq!(again, carol);

    let (carol, created) = store.ensure_user("carol", Some(true), 70).await.unwrap();
    assert!(!created);
    assert!(carol.admin);
    assert_eq!(carol.created, 50);
    assert_eq!(carol.roles, strings(&["admin", "user"]));

    let (dave, created) = store.ensure_user("dave", Some(true), 80).await.unwrap();
    assert!(created && dave.admin);
    assert_eq!(dave.roles, strings(&["admin", "user"]));

    store.set_admin("carol", false).await.unwrap();
    let carol = store.get_user("carol").await.unwrap().unwrap();
    assert!(!carol.admin);
    assert_eq!(carol.roles, strings(&["user"]));
    store.set_admin("carol", true).await.unwrap();
    let carol = store.get_user("carol").await.unwrap().unwrap();
    assert!(carol.admin);
    assert_eq!(carol.roles, strings(&["admin", "user"]));
    assert_not_found(store.set_admin("nobody", true).await);

    // Blocked users lose admin, roles and groups.
    store.create_group("dave-group").await.unwrap();
    store
        .add_group_members("dave-group", &strings(&["dave"]))
        .await
        .unwrap();
    store.strip_privileges("dave").await.unwrap();
    let dave = store.get_user("dave").await.unwrap().unwrap();
    assert!(!dave.admin);
    assert!(dave.roles.is_empty());
    assert!(dave.groups.is_empty());
    assert_not_found(store.strip_privileges("nobody").await);

    store.touch_activity("carol", 77).await.unwrap();
    assert_eq!(
        store
            .get_user("carol")
            .await
            .unwrap()
            .unwrap()
            .last_activity,
        Some(77)
    );
    assert_not_found(store.touch_activity("nobody", 1).await);

    let names = store.user_names().await.unwrap();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    for name in ["alice", "carol", "dave", "zed"] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
    let users = store.list_users().await.unwrap();
    let listed: Vec<&str> = users.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(listed, names.iter().map(String::as_str).collect::<Vec<_>>());
    for user in &users {
        assert_eq!(
            Some(user.clone()),
            store.get_user(&user.name).await.unwrap(),
            "list_users and get_user agree"
        );
    }
}

async fn contract_auth_state(store: &dyn Store) {
    store.ensure_user("erin", None, 1).await.unwrap();
    assert_eq!(store.get_auth_state("erin").await.unwrap(), None);
    store
        .set_auth_state("erin", Some(b"gAAAA-ciphertext".to_vec()))
        .await
        .unwrap();
    assert_eq!(
        store.get_auth_state("erin").await.unwrap(),
        Some(b"gAAAA-ciphertext".to_vec())
    );
    store.set_auth_state("erin", None).await.unwrap();
    assert_eq!(store.get_auth_state("erin").await.unwrap(), None);
    assert_not_found(store.get_auth_state("nobody").await);
    assert_not_found(store.set_auth_state("nobody", Some(vec![1])).await);
}

async fn contract_sessions(store: &dyn Store) {
    store.ensure_user("sam", None, 1).await.unwrap();
    store.ensure_user("sue", None, 1).await.unwrap();
    assert_not_found(
        store
            .create_session(session("h-ghost", "nobody", 100, 200))
            .await,
    );

    store
        .create_session(session("h1", "sam", 100, 200))
        .await
        .unwrap();
    store
        .create_session(session("h2", "sam", 100, 300))
        .await
        .unwrap();
    store
        .create_session(session("h3", "sue", 100, 200))
        .await
        .unwrap();
    let err = assert_conflict(store.create_session(session("h1", "sue", 1, 2)).await);
    assert!(!err.to_string().contains("h1"));

    let s1 = store.get_session("h1").await.unwrap().unwrap();
    assert_eq!(s1.id_hash, "h1");
    assert_eq!(s1.user, "sam");
    assert_eq!((s1.created, s1.expires, s1.last_seen), (100, 200, 100));
    assert!(s1.is_valid_at(100));
    assert!(s1.is_valid_at(199));
    assert!(!s1.is_valid_at(200));
    assert!(!format!("{s1:?}").contains("h1"), "Debug hides the hash");
    assert_eq!(store.get_session("nope").await.unwrap(), None);

    assert!(store.touch_session("h1", 150).await.unwrap());
    assert_eq!(
        store.get_session("h1").await.unwrap().unwrap().last_seen,
        150
    );
    assert!(!store.touch_session("nope", 150).await.unwrap());

    // Expired sessions are still returned; the caller decides.
    let expired = store.get_session("h1").await.unwrap().unwrap();
    assert!(!expired.is_valid_at(250));

    assert_eq!(store.count_active_sessions(150).await.unwrap(), 3);
    assert_eq!(store.count_active_sessions(200).await.unwrap(), 1);
    assert_eq!(store.count_active_sessions(300).await.unwrap(), 0);
    assert_eq!(store.delete_expired_sessions(199).await.unwrap(), 0);
    assert_eq!(store.delete_expired_sessions(200).await.unwrap(), 2);
    assert_eq!(store.get_session("h1").await.unwrap(), None);
    assert_eq!(store.get_session("h3").await.unwrap(), None);
    assert!(store.get_session("h2").await.unwrap().is_some());

    store
        .create_session(session("h4", "sam", 100, 900))
        .await
        .unwrap();
    store
        .create_session(session("h5", "sue", 100, 900))
        .await
        .unwrap();
    assert_eq!(store.delete_user_sessions("sam").await.unwrap(), 2);
    assert_eq!(store.delete_user_sessions("sam").await.unwrap(), 0);
    assert_eq!(store.delete_user_sessions("nobody").await.unwrap(), 0);
    assert!(store.get_session("h5").await.unwrap().is_some());

    assert!(store.delete_session("h5").await.unwrap());
    assert!(!store.delete_session("h5").await.unwrap());
}

async fn contract_api_tokens(store: &dyn Store) {
    store.ensure_user("tom", None, 1).await.unwrap();
    store.ensure_user("tia", None, 1).await.unwrap();
    assert_not_found(store.create_api_token(token("hx", "nobody", None)).await);

    let t1 = store
        .create_api_token(token("hash-one", "tom", None))
        .await
        .unwrap();
    assert!(t1.id > 0);
    assert_eq!(t1.user, "tom");
    assert_eq!(t1.prefix, "hash");
    assert_eq!(t1.scopes, strings(&["read:users", "self"]));
    assert_eq!(t1.last_activity, None);
    assert!(t1.is_valid_at(i64::MAX));
    assert_eq!(
        store.find_api_token("hash-one").await.unwrap(),
        Some(t1.clone())
    );
    assert!(
        !format!("{t1:?}").contains("hash-one"),
        "Debug hides the hash"
    );

    let t2 = store
        .create_api_token(NewApiToken {
            scopes: vec![],
            ..token("hash-two", "tom", Some(500))
        })
        .await
        .unwrap();
    assert!(t2.id > t1.id);
    assert!(t2.is_valid_at(499));
    assert!(!t2.is_valid_at(500));
    let found = store.find_api_token("hash-two").await.unwrap().unwrap();
    assert_eq!(found.expires, Some(500));
    assert!(found.scopes.is_empty());
    let t3 = store
        .create_api_token(token("hash-three", "tia", None))
        .await
        .unwrap();

    let err = assert_conflict(store.create_api_token(token("hash-one", "tia", None)).await);
    assert!(!err.to_string().contains("hash-one"), "{err}");
    assert_eq!(store.find_api_token("missing").await.unwrap(), None);

    let listed = store.list_api_tokens("tom").await.unwrap();
    assert_eq!(listed, vec![t1.clone(), t2.clone()]);
    assert_eq!(
        store.list_api_tokens("tia").await.unwrap(),
        vec![t3.clone()]
    );
    assert_not_found(store.list_api_tokens("nobody").await);

    assert!(store.touch_api_token(t1.id, 42).await.unwrap());
    assert_eq!(
        store
            .find_api_token("hash-one")
            .await
            .unwrap()
            .unwrap()
            .last_activity,
        Some(42)
    );
    assert!(!store.touch_api_token(i64::MAX, 42).await.unwrap());

    assert!(
        !store.delete_api_token("tia", t1.id).await.unwrap(),
        "only the owner's token is deleted"
    );
    assert!(!store.delete_api_token("nobody", t1.id).await.unwrap());
    assert!(store.delete_api_token("tom", t1.id).await.unwrap());
    assert!(!store.delete_api_token("tom", t1.id).await.unwrap());
    assert_eq!(store.find_api_token("hash-one").await.unwrap(), None);
    assert_eq!(store.list_api_tokens("tom").await.unwrap(), vec![t2]);
}

async fn contract_groups(store: &dyn Store) {
    for name in ["gus", "gia", "gil"] {
        store.ensure_user(name, None, 1).await.unwrap();
    }
    store.create_group("staff").await.unwrap();
    let err = assert_conflict(store.create_group("staff").await);
    assert!(err.to_string().contains("staff"));

    store
        .add_group_members("staff", &strings(&["gus", "gia"]))
        .await
        .unwrap();
    // Adding again is harmless.
    store
        .add_group_members("staff", &strings(&["gia"]))
        .await
        .unwrap();
    let staff = |groups: Vec<hubauth_store::GroupRecord>| {
        groups.into_iter().find(|g| g.name == "staff").unwrap()
    };
    assert_eq!(
        staff(store.list_groups().await.unwrap()).users,
        strings(&["gia", "gus"])
    );

    // All or nothing: an unknown user adds nobody.
    assert_not_found(
        store
            .add_group_members("staff", &strings(&["gil", "nobody"]))
            .await,
    );
    assert_eq!(
        staff(store.list_groups().await.unwrap()).users,
        strings(&["gia", "gus"])
    );
    assert_not_found(
        store
            .add_group_members("no-such-group", &strings(&["gil"]))
            .await,
    );
    assert_not_found(
        store
            .remove_group_members("no-such-group", &strings(&["gil"]))
            .await,
    );

    assert_eq!(
        store.get_user("gus").await.unwrap().unwrap().groups,
        strings(&["staff"])
    );
    store
        .remove_group_members("staff", &strings(&["gus", "gil", "nobody"]))
        .await
        .unwrap();
    assert_eq!(
        staff(store.list_groups().await.unwrap()).users,
        strings(&["gia"])
    );
    assert!(
        store
            .get_user("gus")
            .await
            .unwrap()
            .unwrap()
            .groups
            .is_empty()
    );

    let groups = store.list_groups().await.unwrap();
    let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);

    assert!(store.delete_group("staff").await.unwrap());
    assert!(!store.delete_group("staff").await.unwrap());
    assert!(
        store
            .get_user("gia")
            .await
            .unwrap()
            .unwrap()
            .groups
            .is_empty()
    );
    assert!(
        !store
            .list_groups()
            .await
            .unwrap()
            .iter()
            .any(|g| g.name == "staff")
    );
}

async fn contract_roles(store: &dyn Store) {
    store.ensure_user("rita", None, 1).await.unwrap();
    store.ensure_user("rob", None, 1).await.unwrap();

    // Default roles exist once users do, with JupyterHub's scopes.
    let roles = store.list_roles().await.unwrap();
    let user_role = roles.iter().find(|r| r.name == "user").unwrap();
    assert_eq!(user_role.scopes, strings(&["self"]));
    assert!(!user_role.managed_by_auth);
    assert!(user_role.users.iter().any(|u| u == "rita"));

    store
        .upsert_role(RoleSpec {
            name: "reader".to_owned(),
            description: "reads".to_owned(),
            scopes: strings(&["read:users"]),
            managed_by_auth: true,
        })
        .await
        .unwrap();
    let reader = |roles: Vec<hubauth_store::RoleRecord>| {
        roles.into_iter().find(|r| r.name == "reader").unwrap()
    };
    let r = reader(store.list_roles().await.unwrap());
    assert_eq!(r.description, "reads");
    assert_eq!(r.scopes, strings(&["read:users"]));
    assert!(r.managed_by_auth);
    assert!(r.users.is_empty());

    store
        .set_user_roles("rob", &strings(&["user", "reader"]))
        .await
        .unwrap();
    store
        .set_user_roles("rita", &strings(&["reader"]))
        .await
        .unwrap();
    assert_eq!(
        store.get_user("rob").await.unwrap().unwrap().roles,
        strings(&["reader", "user"])
    );
    assert_eq!(
        reader(store.list_roles().await.unwrap()).users,
        strings(&["rita", "rob"])
    );

    // Update keeps grants.
    store
        .upsert_role(RoleSpec {
            name: "reader".to_owned(),
            description: "reads more".to_owned(),
            scopes: strings(&["read:users", "read:groups"]),
            managed_by_auth: false,
        })
        .await
        .unwrap();
    let r = reader(store.list_roles().await.unwrap());
    assert_eq!(r.description, "reads more");
    assert_eq!(r.scopes, strings(&["read:users", "read:groups"]));
    assert!(!r.managed_by_auth);
    assert_eq!(r.users, strings(&["rita", "rob"]));

    // Unknown role: NotFound, nothing changed.
    assert_not_found(
        store
            .set_user_roles("rob", &strings(&["user", "no-such-role"]))
            .await,
    );
    assert_eq!(
        store.get_user("rob").await.unwrap().unwrap().roles,
        strings(&["reader", "user"])
    );
    assert_not_found(store.set_user_roles("nobody", &[]).await);

    store.set_user_roles("rob", &[]).await.unwrap();
    assert!(
        store
            .get_user("rob")
            .await
            .unwrap()
            .unwrap()
            .roles
            .is_empty()
    );

    assert!(store.delete_role("reader").await.unwrap());
    assert!(!store.delete_role("reader").await.unwrap());
    assert!(
        store
            .get_user("rita")
            .await
            .unwrap()
            .unwrap()
            .roles
            .is_empty()
    );

    let roles = store.list_roles().await.unwrap();
    let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
}

async fn contract_delete_user_cascades(store: &dyn Store) {
    let out = store
        .apply_login(LoginUpdate {
            admin: Some(true),
            groups: Some(strings(&["doomed-group"])),
            auth_state: AuthStateUpdate::Set(vec![9; 16]),
            ..login("doomed", 1)
        })
        .await
        .unwrap();
    assert!(out.created);
    store
        .create_session(session("doomed-session", "doomed", 1, 1000))
        .await
        .unwrap();
    store
        .create_api_token(token("doomed-token", "doomed", None))
        .await
        .unwrap();

    assert!(store.delete_user("doomed").await.unwrap());
    assert!(!store.delete_user("doomed").await.unwrap());
    assert_eq!(store.get_user("doomed").await.unwrap(), None);
    assert_eq!(store.get_session("doomed-session").await.unwrap(), None);
    assert_eq!(store.find_api_token("doomed-token").await.unwrap(), None);
    let groups = store.list_groups().await.unwrap();
    let group = groups.iter().find(|g| g.name == "doomed-group").unwrap();
    assert!(group.users.is_empty(), "the group stays, without the user");
    for role in store.list_roles().await.unwrap() {
        assert!(!role.users.iter().any(|u| u == "doomed"));
    }

    // The name can be reused and starts clean.
    let out = store.apply_login(login("doomed", 2)).await.unwrap();
    assert!(out.created);
    assert!(!out.user.admin);
    assert!(out.user.groups.is_empty());
    assert_eq!(store.get_auth_state("doomed").await.unwrap(), None);
    // Now reusable again: the session id hash and token hash are free.
    store
        .create_session(session("doomed-session", "doomed", 2, 1000))
        .await
        .unwrap();
    store
        .create_api_token(token("doomed-token", "doomed", None))
        .await
        .unwrap();
}

// ---------------------------------------------------------------------------
// the contract on SQLite

#[tokio::test]
async fn sqlite_file_passes_the_store_contract() {
    let (_dir, store) = file_store().await;
    run_contract(store.as_ref()).await;
}

#[tokio::test]
async fn sqlite_memory_passes_the_store_contract() {
    let store = hubauth_store::open("sqlite::memory:").await.unwrap();
    run_contract(store.as_ref()).await;
}

#[test]
fn store_is_object_safe_send_and_sync() {
    fn assert_send_sync<T: Send + Sync + ?Sized>() {}
    assert_send_sync::<dyn Store>();
    assert_send_sync::<SqliteStore>();
}

#[tokio::test]
async fn concurrent_logins_are_serialized() {
    let (_dir, store) = file_store().await;
    concurrent_logins_create_once(&store, &store).await;
    super::backchannel::concurrent_outbox_claims_are_disjoint(&store, &store).await;
}

/// Eight logins of one new user race, alternating between two stores on the
/// same database (two hub replicas): exactly one creates the user, none fails,
/// and group sync never interleaves.
async fn concurrent_logins_create_once(one: &Arc<dyn Store>, two: &Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = Arc::clone(if i % 2 == 0 { one } else { two });
        tasks.push(tokio::spawn(async move {
            store
                .apply_login(LoginUpdate {
                    groups: Some(vec![format!("g{}", i % 3)]),
                    ..login("racer", i)
                })
                .await
        }));
    }
    let mut created = 0;
    for task in tasks {
        if task.await.unwrap().unwrap().created {
            created += 1;
        }
    }
    assert_eq!(created, 1, "exactly one login created the user");
    assert_eq!(
        one.get_user("racer").await.unwrap().unwrap().groups.len(),
        1
    );
}

// ---------------------------------------------------------------------------
// SQLite specifics: reopening, URLs, locking, corrupt data

#[tokio::test]
async fn reopening_the_file_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keep.sqlite");
    {
        let store = SqliteStore::open_path(&path).await.unwrap();
        store
            .apply_login(LoginUpdate {
                admin: Some(true),
                groups: Some(strings(&["g"])),
                auth_state: AuthStateUpdate::Set(vec![7, 7]),
                ..login("kept", 5)
            })
            .await
            .unwrap();
        store
            .create_session(session("kept-session", "kept", 5, 50))
            .await
            .unwrap();
        store
            .create_api_token(token("kept-token", "kept", None))
            .await
            .unwrap();
        store.close().await;
        assert!(matches!(
            store.ping().await,
            Err(StoreError::Unavailable { .. })
        ));
    }
    let store = SqliteStore::open_path(&path).await.unwrap();
    let user = store.get_user("kept").await.unwrap().unwrap();
    assert!(user.admin);
    assert_eq!(user.groups, strings(&["g"]));
    assert_eq!(user.roles, strings(&["admin", "user"]));
    assert_eq!(
        store.get_auth_state("kept").await.unwrap(),
        Some(vec![7, 7])
    );
    assert!(store.get_session("kept-session").await.unwrap().is_some());
    assert!(store.find_api_token("kept-token").await.unwrap().is_some());
}

#[test]
fn url_forms_parse_like_jupyterhub() {
    let file = |p: &str| DatabaseLocation::SqliteFile(PathBuf::from(p));
    let cases = [
        ("sqlite:///jupyterhub.sqlite", file("jupyterhub.sqlite")),
        ("sqlite:///data/hub.sqlite", file("data/hub.sqlite")),
        ("sqlite:////srv/hub/hub.sqlite", file("/srv/hub/hub.sqlite")),
        ("sqlite://hub.sqlite", file("hub.sqlite")),
        ("sqlite:hub.sqlite", file("hub.sqlite")),
        ("SQLite:///hub.sqlite", file("hub.sqlite")),
        ("sqlite+pysqlite:///hub.sqlite", file("hub.sqlite")),
        ("  sqlite:///hub.sqlite\n", file("hub.sqlite")),
        ("sqlite::memory:", DatabaseLocation::SqliteMemory),
        ("sqlite://:memory:", DatabaseLocation::SqliteMemory),
        ("sqlite:///:memory:", DatabaseLocation::SqliteMemory),
        ("sqlite://", DatabaseLocation::SqliteMemory),
    ];
    for (url, expected) in cases {
        assert_eq!(parse_database_url(url).unwrap(), expected, "{url}");
    }
}

#[test]
fn unsupported_urls_are_refused_without_echoing_secrets() {
    let cases = [
        ("postgres://hub:s3cretpw@db.example/hub", "postgres"),
        (
            "postgresql+psycopg2://hub:s3cretpw@db/hub",
            "postgresql+psycopg2",
        ),
        ("mysql://hub:s3cretpw@db/hub", "mysql"),
        ("hub:s3cretpw@db/hub", "hub"),
        ("/just/a/path/s3cretpw", ""),
        ("sqlite:///hub.sqlite?mode=ro&s3cretpw", "sqlite"),
        ("sqlite:///", "sqlite"),
    ];
    for (url, scheme) in cases {
        match parse_database_url(url) {
            Err(err @ StoreError::UnsupportedUrl { .. }) => {
                let StoreError::UnsupportedUrl { scheme: got, .. } = &err else {
                    unreachable!()
                };
                assert_eq!(got, scheme, "{url}");
                let msg = err.to_string();
                assert!(!msg.contains("s3cretpw"), "{msg}");
                assert!(
                    msg.contains("sqlite:///"),
                    "message names the supported forms: {msg}"
                );
            }
            other => panic!("{url}: expected UnsupportedUrl, got {other:?}"),
        }
    }
    let msg = parse_database_url("postgres://x@y/z")
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("names a server, not an SQLite location"),
        "{msg}"
    );
    assert!(msg.contains("postgresql://"), "{msg}");
}

/// `..` components leading from `from` (absolute) to the filesystem root.
fn path_to_root(from: &Path) -> PathBuf {
    from.components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .map(|_| Component::ParentDir)
        .collect()
}

#[tokio::test]
async fn open_accepts_relative_absolute_and_memory_urls() {
    let dir = tempfile::tempdir().unwrap();

    // Four slashes: absolute.
    let abs = dir.path().join("abs.sqlite");
    let store = hubauth_store::open(&format!("sqlite:///{}", abs.display()))
        .await
        .unwrap();
    store.ensure_user("a", None, 1).await.unwrap();
    store.close().await;
    assert!(abs.is_file());

    // Three slashes: relative to the working directory (reached via `..`s, so
    // the test does not change the process's working directory).
    let cwd = std::env::current_dir().unwrap();
    let rel_target = dir.path().join("rel.sqlite");
    let rel = path_to_root(&cwd).join(rel_target.strip_prefix("/").unwrap());
    assert!(rel.is_relative());
    let store = hubauth_store::open(&format!("sqlite:///{}", rel.display()))
        .await
        .unwrap();
    store.ensure_user("r", None, 1).await.unwrap();
    store.close().await;
    assert!(rel_target.is_file());

    // sqlx style, two slashes: relative as well.
    let sqlx_target = dir.path().join("sqlx.sqlite");
    let rel = path_to_root(&cwd).join(sqlx_target.strip_prefix("/").unwrap());
    let store = hubauth_store::open(&format!("sqlite://{}", rel.display()))
        .await
        .unwrap();
    store.close().await;
    assert!(sqlx_target.is_file());

    // In memory: data survives across calls (one kept connection), and two
    // in-memory stores are independent.
    let one = hubauth_store::open("sqlite::memory:").await.unwrap();
    let two = hubauth_store::open("sqlite::memory:").await.unwrap();
    one.ensure_user("m", None, 1).await.unwrap();
    assert!(one.get_user("m").await.unwrap().is_some());
    assert!(two.get_user("m").await.unwrap().is_none());
}

#[tokio::test]
async fn locked_database_is_unavailable_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.sqlite");
    let store = SqliteStore::builder(DatabaseLocation::SqliteFile(path.clone()))
        .busy_timeout(Duration::from_millis(100))
        .open()
        .await
        .unwrap();
    store.ensure_user("lockee", None, 1).await.unwrap();

    // Another connection holds an exclusive write transaction.
    let mut other = another_process(&path).await;
    sqlx::raw_sql("BEGIN EXCLUSIVE; INSERT INTO groups (name) VALUES ('held');")
        .execute(&mut other)
        .await
        .unwrap();

    let started = Instant::now();
    let err = store
        .apply_login(login("lockee", 2))
        .await
        .expect_err("the write lock is held elsewhere");
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
    assert!(err.is_retryable());
    let msg = err.to_string();
    assert!(msg.contains("locked or unreachable"), "{msg}");
    assert!(msg.contains("retry"), "{msg}");
    for result in [
        store.create_group("g").await,
        store
            .create_session(session("locked-session", "lockee", 1, 2))
            .await,
        store.touch_activity("lockee", 3).await,
    ] {
        assert!(
            matches!(result, Err(StoreError::Unavailable { .. })),
            "{result:?}"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(10));

    // Released: the store works again.
    sqlx::raw_sql("ROLLBACK").execute(&mut other).await.unwrap();
    other.close().await.unwrap();
    store.create_group("g").await.unwrap();
    assert!(!store.apply_login(login("lockee", 4)).await.unwrap().created);
}

/// A pending login `hash` of browser "b" at address "c", made at `created`, with small caps.
fn pending_login(
    hash: &str,
    created: i64,
) -> (
    hubauth_store::NewLoginState,
    hubauth_store::PendingLoginOwner,
    hubauth_store::PendingLoginLimits,
) {
    let state = hubauth_store::NewLoginState {
        state_hash: hash.to_owned(),
        data: "{}".to_owned(),
        created,
        expires: created + 600,
    };
    let owner = hubauth_store::PendingLoginOwner {
        browser: "b".to_owned(),
        client: "c".to_owned(),
        next: "/".to_owned(),
    };
    let limits = hubauth_store::PendingLoginLimits {
        per_browser: 3,
        per_client: 5,
        total: 8,
    };
    (state, owner, limits)
}

/// A connection of its own to the SQLite file at `path`, as another process would open.
async fn another_process(path: &std::path::Path) -> sqlx::sqlite::SqliteConnection {
    sqlx::sqlite::SqliteConnection::connect_with(
        &sqlx::sqlite::SqliteConnectOptions::new().filename(path),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_writes_of_one_process_queue_for_the_writer_not_the_lock() {
    // No busy timeout at all: a write that met another connection of this process holding
    // SQLite's write lock would fail at once. All writes share one connection, in turn.
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::builder(DatabaseLocation::SqliteFile(dir.path().join("q.sqlite")))
        .busy_timeout(Duration::ZERO)
        .open()
        .await
        .unwrap();
    let store = std::sync::Arc::new(store);
    let mut tasks = Vec::new();
    for i in 0..40i64 {
        let store = std::sync::Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let name = format!("user{}", i % 8);
            store.apply_login(login(&name, i)).await?;
            store
                .create_session(session(&format!("s{i}"), &name, i, i + 100))
                .await?;
            store.touch_activity(&name, i + 1).await?;
            store.set_admin(&name, i % 2 == 0).await?;
            store.take_login_state(&format!("absent{i}")).await?;
            Ok::<_, StoreError>(())
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(store.user_names().await.unwrap().len(), 8);
    assert_eq!(store.count_active_sessions(50).await.unwrap(), 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_login_meeting_another_process_lock_waits_for_it_the_usual_way() {
    use hubauth_store::PendingLoginOutcome;
    // The login's writes run inline without waiting; when another process holds the
    // write lock they are done on sqlx's thread, which waits up to the busy timeout.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("busy.sqlite");
    let store = SqliteStore::builder(DatabaseLocation::SqliteFile(path.clone()))
        .busy_timeout(Duration::from_secs(5))
        .open()
        .await
        .unwrap();
    store.ensure_user("waiter", None, 1).await.unwrap();
    store.apply_login(login("waiter", 2)).await.unwrap();
    let mut other = another_process(&path).await;
    sqlx::raw_sql("BEGIN IMMEDIATE; INSERT INTO groups (name) VALUES ('held');")
        .execute(&mut other)
        .await
        .unwrap();
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        sqlx::raw_sql("COMMIT").execute(&mut other).await.unwrap();
        other.close().await.unwrap();
    });
    let (state, owner, limits) = pending_login("busy-state", 3);
    let started = Instant::now();
    assert_eq!(
        store
            .put_login_state_capped(state, owner, limits)
            .await
            .unwrap(),
        PendingLoginOutcome::Stored
    );
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "it waited for the lock"
    );
    assert!(
        store
            .take_login_state("busy-state")
            .await
            .unwrap()
            .is_some()
    );
    let outcome = store.apply_login(login("waiter", 4)).await.unwrap();
    assert_eq!(outcome.user.last_activity, Some(4));
    store
        .create_session(session("busy-session", "waiter", 4, 100))
        .await
        .unwrap();
    release.await.unwrap();
    // What the other process committed meanwhile is there too.
    assert!(
        store
            .list_groups()
            .await
            .unwrap()
            .iter()
            .any(|g| g.name == "held")
    );
    assert!(store.get_session("busy-session").await.unwrap().is_some());
}

#[tokio::test]
async fn sqlite_a_failed_inline_write_leaves_no_transaction_open() {
    use hubauth_store::PendingLoginOutcome;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("failed.sqlite");
    let store = SqliteStore::open_path(&path).await.unwrap();
    let (state, owner, limits) = pending_login("same-state", 1);
    assert_eq!(
        store
            .put_login_state_capped(state.clone(), owner.clone(), limits)
            .await
            .unwrap(),
        PendingLoginOutcome::Stored
    );
    // The second INSERT fails inside the inline transaction (its cleanup ran first).
    let err = store
        .put_login_state_capped(state, owner, limits)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    // A session for a user that does not exist: nothing inserted, an error.
    let err = store
        .create_session(session("nobody-session", "nobody", 1, 2))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    // Another process can take the write lock at once: nothing was left open.
    let mut other = another_process(&path).await;
    sqlx::raw_sql("PRAGMA busy_timeout = 0; BEGIN IMMEDIATE; ROLLBACK;")
        .execute(&mut other)
        .await
        .unwrap();
    other.close().await.unwrap();
    assert!(
        store
            .take_login_state("same-state")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn sqlite_the_write_ahead_log_stays_bounded_under_inline_writes() {
    // The inline connection never checkpoints; the store does, every few hundred inline
    // writes, so a long run of logins does not grow the WAL file without end.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.sqlite");
    let store = SqliteStore::open_path(&path).await.unwrap();
    store.ensure_user("w", None, 1).await.unwrap();
    let wal = dir.path().join("wal.sqlite-wal");
    let mut largest = 0;
    for i in 0..3000i64 {
        store
            .create_session(session(
                &format!("wal-{i:05}-{}", "x".repeat(40)),
                "w",
                i,
                i + 10,
            ))
            .await
            .unwrap();
        if i % 250 == 0 {
            // Let a checkpoint started meanwhile run.
            tokio::task::yield_now().await;
            largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
        }
    }
    store.close().await;
    // 5000 commits of a few pages each are over 100 MiB of WAL without checkpoints.
    assert!(largest < 32 * 1024 * 1024, "WAL grew to {largest} bytes");
}

#[tokio::test]
async fn sqlite_a_write_cancelled_half_way_leaves_no_transaction_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cancel.sqlite");
    let store = SqliteStore::builder(DatabaseLocation::SqliteFile(path.clone()))
        .busy_timeout(Duration::from_millis(200))
        .open()
        .await
        .unwrap();
    store.ensure_user("kept", None, 1).await.unwrap();
    store.create_group("g1").await.unwrap();
    store.create_group("g2").await.unwrap();
    // Dropped at its first await, and at later ones: whatever it had begun is rolled back
    // before the writer's next user runs.
    let groups = ["g1".to_owned()];
    for polls in 1..8 {
        let mut write = Box::pin(store.set_user_groups("kept", &groups));
        for _ in 0..polls {
            // Polled until it is done at most: a finished future must not be polled again.
            let done = std::future::poll_fn(|cx| {
                std::task::Poll::Ready(write.as_mut().poll(cx).is_ready())
            })
            .await;
            if done {
                break;
            }
        }
        drop(write);
        store.touch_activity("kept", 2).await.unwrap();
    }
    // Another connection can take the write lock: nothing is left open.
    let mut other = another_process(&path).await;
    sqlx::raw_sql("BEGIN IMMEDIATE; ROLLBACK;")
        .execute(&mut other)
        .await
        .unwrap();
    other.close().await.unwrap();
    store
        .set_user_groups("kept", &["g2".to_owned()])
        .await
        .unwrap();
    assert_eq!(
        store.get_user("kept").await.unwrap().unwrap().groups,
        vec!["g2"]
    );
}

#[tokio::test]
async fn corrupt_json_column_is_reported_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corrupt.sqlite");
    let store = SqliteStore::open_path(&path).await.unwrap();
    store.ensure_user("c", None, 1).await.unwrap();
    store
        .create_api_token(token("corrupt-token", "c", None))
        .await
        .unwrap();

    let mut other = another_process(&path).await;
    sqlx::raw_sql(
        "UPDATE roles SET scopes = '{not json' WHERE name = 'user'; \
         UPDATE api_tokens SET scopes = '[1, 2]';",
    )
    .execute(&mut other)
    .await
    .unwrap();
    other.close().await.unwrap();

    match store.list_roles().await {
        Err(StoreError::Corrupt { column, .. }) => assert_eq!(column, "roles.scopes"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    match store.find_api_token("corrupt-token").await {
        Err(StoreError::Corrupt { column, .. }) => assert_eq!(column, "api_tokens.scopes"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[tokio::test]
async fn schema_has_no_raw_secrets_columns() {
    // The session and token tables hold hashes only: a guard against someone
    // adding a column for the raw value.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("schema.sqlite");
    SqliteStore::open_path(&path).await.unwrap().close().await;
    let mut conn = sqlx::sqlite::SqliteConnection::connect_with(
        &sqlx::sqlite::SqliteConnectOptions::new().filename(&path),
    )
    .await
    .unwrap();
    for (table, expected) in [
        (
            "sessions",
            &[
                "id_hash",
                "user_id",
                "created",
                "expires",
                "last_seen",
                "provider_iss",
                "provider_sub",
                "provider_sid",
            ][..],
        ),
        (
            "api_tokens",
            &[
                "id",
                "hash",
                "prefix",
                "user_id",
                "note",
                "scopes",
                "created",
                "expires",
                "last_activity",
            ][..],
        ),
        (
            "oauth_grants",
            &[
                "hash",
                "family",
                "kind",
                "state",
                "data",
                "access_token_hash",
                "created",
                "expires",
            ][..],
        ),
    ] {
        let columns: Vec<String> =
            sqlx::query_scalar("SELECT name FROM pragma_table_info(?) ORDER BY cid")
                .bind(table)
                .fetch_all(&mut conn)
                .await
                .unwrap();
        assert_eq!(columns, expected, "{table}");
    }
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn schema_cascades_user_deletes() {
    // delete_user deletes dependents explicitly; the schema's ON DELETE CASCADE
    // must hold on its own too (e.g. for rows deleted by an operator).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cascade.sqlite");
    let store = SqliteStore::open_path(&path).await.unwrap();
    store
        .apply_login(LoginUpdate {
            groups: Some(strings(&["g"])),
            ..login("cascaded", 1)
        })
        .await
        .unwrap();
    store
        .create_session(session("cascade-session", "cascaded", 1, 10))
        .await
        .unwrap();
    store
        .create_api_token(token("cascade-token", "cascaded", None))
        .await
        .unwrap();
    let mut conn = sqlx::sqlite::SqliteConnection::connect_with(
        &sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .foreign_keys(true),
    )
    .await
    .unwrap();
    sqlx::raw_sql("DELETE FROM users WHERE name = 'cascaded'")
        .execute(&mut conn)
        .await
        .unwrap();
    for table in ["sessions", "api_tokens", "user_group_map", "user_role_map"] {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(count, 0, "{table}");
    }
    conn.close().await.unwrap();
    assert_eq!(store.get_session("cascade-session").await.unwrap(), None);
    assert_eq!(store.list_groups().await.unwrap()[0].users.len(), 0);
}

async fn contract_login_states(store: &dyn Store) {
    use hubauth_store::NewLoginState;
    let state = |hash: &str, expires: i64| NewLoginState {
        state_hash: hash.to_owned(),
        data: format!("{{\"for\":\"{hash}\"}}"),
        created: 100,
        expires,
    };
    store.put_login_state(state("s1", 700)).await.unwrap();
    store.put_login_state(state("s2", 200)).await.unwrap();
    // The same state id twice is a conflict, not an overwrite.
    assert!(store.put_login_state(state("s1", 900)).await.is_err());
    let taken = store.take_login_state("s1").await.unwrap().unwrap();
    assert_eq!(taken.data, "{\"for\":\"s1\"}");
    assert!(taken.is_valid_at(699));
    assert!(!taken.is_valid_at(700));
    // Single use: a second take finds nothing.
    assert!(store.take_login_state("s1").await.unwrap().is_none());
    assert!(store.take_login_state("unknown").await.unwrap().is_none());
    assert_eq!(store.delete_expired_login_states(300).await.unwrap(), 1);
    assert!(store.take_login_state("s2").await.unwrap().is_none());
    contract_pending_login_caps(store).await;
}

/// A flood of login starts stays bounded: per browser (oldest dropped, same `next`
/// replaced), per client address and in all (refused).
async fn contract_pending_login_caps(store: &dyn Store) {
    use hubauth_store::{
        NewLoginState, PendingLoginLimits, PendingLoginOutcome, PendingLoginOwner,
    };
    let limits = PendingLoginLimits {
        per_browser: 3,
        per_client: 5,
        total: 8,
    };
    let put = |hash: String, browser: &str, client: &str, next: &str, created: i64| {
        let owner = PendingLoginOwner {
            browser: browser.to_owned(),
            client: client.to_owned(),
            next: next.to_owned(),
        };
        let state = NewLoginState {
            state_hash: hash,
            data: "{}".to_owned(),
            created,
            expires: created + 600,
        };
        store.put_login_state_capped(state, owner, limits)
    };
    // One browser: beyond three, its oldest goes (whatever the next: tabs may share one).
    for n in 0..3 {
        let outcome = put(format!("cap-same-{n}"), "b1", "c1", "/same", 1000 + n).await;
        assert_eq!(outcome.unwrap(), PendingLoginOutcome::Stored);
    }
    for n in 0..5 {
        let outcome = put(
            format!("cap-b1-{n}"),
            "b1",
            "c1",
            &format!("/n{n}"),
            1010 + n,
        )
        .await;
        assert_eq!(outcome.unwrap(), PendingLoginOutcome::Stored);
    }
    // b1 keeps its three newest.
    assert!(
        store
            .take_login_state("cap-same-2")
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.take_login_state("cap-b1-1").await.unwrap().is_none());
    assert!(store.take_login_state("cap-b1-2").await.unwrap().is_some());
    // Two left for b1 (cap-b1-3, cap-b1-4); new browsers from c1 fill the address to 5.
    for n in 0..3 {
        let outcome = put(format!("cap-c1-{n}"), &format!("bc{n}"), "c1", "", 1020).await;
        assert_eq!(outcome.unwrap(), PendingLoginOutcome::Stored);
    }
    let outcome = put("cap-c1-x".to_owned(), "bcx", "c1", "", 1021).await;
    assert_eq!(outcome.unwrap(), PendingLoginOutcome::ClientLimit);
    assert!(store.take_login_state("cap-c1-x").await.unwrap().is_none());
    // Other addresses fill the table to 8 in all; then everyone is refused.
    for n in 0..3 {
        let outcome = put(
            format!("cap-o-{n}"),
            &format!("bo{n}"),
            &format!("o{n}"),
            "",
            1030,
        )
        .await;
        assert_eq!(outcome.unwrap(), PendingLoginOutcome::Stored);
    }
    let outcome = put("cap-full".to_owned(), "bz", "oz", "", 1031).await;
    assert_eq!(outcome.unwrap(), PendingLoginOutcome::Full);
    // Expired rows make room again.
    let outcome = put("cap-later".to_owned(), "bz", "oz", "", 5000).await;
    assert_eq!(outcome.unwrap(), PendingLoginOutcome::Stored);
    assert!(store.take_login_state("cap-later").await.unwrap().is_some());
}

async fn contract_oauth_grants(store: &dyn Store) {
    use hubauth_store::{
        NewOAuthGrant, OAuthExchange, OAuthExchangeOutcome, OAuthGrantKind, OAuthGrantState,
    };
    let grant = |hash: &str, expires: i64| NewOAuthGrant {
        hash: hash.to_owned(),
        data: format!("{{\"for\":\"{hash}\"}}"),
        created: 100,
        expires,
    };
    let exchange = |hash: &str, kind, now, user: &str, access: &str, refresh: &str| OAuthExchange {
        hash: hash.to_owned(),
        kind,
        now,
        access_token: token(access, user, Some(10_000)),
        refresh: grant(refresh, 5_000),
    };
    let state_of = |hash: &'static str| async move {
        store.get_oauth_grant(hash).await.unwrap().unwrap().state
    };
    store.ensure_user("oa-user", None, 1).await.unwrap();
    store
        .create_api_token(token("oa-personal", "oa-user", None))
        .await
        .unwrap();

    store
        .create_oauth_code(grant("oa-code-1", 160))
        .await
        .unwrap();
    let code = store.get_oauth_grant("oa-code-1").await.unwrap().unwrap();
    assert_eq!(
        (code.family.as_str(), code.kind, code.state),
        ("oa-code-1", OAuthGrantKind::Code, OAuthGrantState::Active)
    );
    assert_eq!(code.data, "{\"for\":\"oa-code-1\"}");
    assert!(code.is_usable_at(159) && !code.is_usable_at(160));
    assert!(store.get_oauth_grant("oa-unknown").await.unwrap().is_none());
    assert_conflict(store.create_oauth_code(grant("oa-code-1", 900)).await);

    // A code is not a refresh token, an expired code is not exchanged, and neither
    // changes anything.
    for (kind, now) in [(OAuthGrantKind::Refresh, 120), (OAuthGrantKind::Code, 160)] {
        let outcome = store
            .exchange_oauth_grant(exchange(
                "oa-code-1",
                kind,
                now,
                "oa-user",
                "oa-at-x",
                "oa-rt-x",
            ))
            .await
            .unwrap();
        assert_eq!(outcome, OAuthExchangeOutcome::Invalid);
    }
    assert_eq!(state_of("oa-code-1").await, OAuthGrantState::Active);
    assert!(store.find_api_token("oa-at-x").await.unwrap().is_none());
    assert!(store.get_oauth_grant("oa-rt-x").await.unwrap().is_none());
    // An access token for a user that does not exist fails the whole exchange.
    assert_not_found(
        store
            .exchange_oauth_grant(exchange(
                "oa-code-1",
                OAuthGrantKind::Code,
                120,
                "oa-nobody",
                "oa-at-x",
                "oa-rt-x",
            ))
            .await,
    );
    assert_eq!(state_of("oa-code-1").await, OAuthGrantState::Active);

    // Code -> access token 1 + refresh token 1 -> access token 2 + refresh token 2.
    let OAuthExchangeOutcome::Issued(first) = store
        .exchange_oauth_grant(exchange(
            "oa-code-1",
            OAuthGrantKind::Code,
            120,
            "oa-user",
            "oa-at-1",
            "oa-rt-1",
        ))
        .await
        .unwrap()
    else {
        panic!("the code is exchanged once");
    };
    assert_eq!(
        (first.hash.as_str(), first.user.as_str()),
        ("oa-at-1", "oa-user")
    );
    assert_eq!(state_of("oa-code-1").await, OAuthGrantState::Used);
    let refresh = store.get_oauth_grant("oa-rt-1").await.unwrap().unwrap();
    assert_eq!(
        (refresh.family.as_str(), refresh.kind, refresh.state),
        (
            "oa-code-1",
            OAuthGrantKind::Refresh,
            OAuthGrantState::Active
        )
    );
    let outcome = store
        .exchange_oauth_grant(exchange(
            "oa-rt-1",
            OAuthGrantKind::Refresh,
            130,
            "oa-user",
            "oa-at-2",
            "oa-rt-2",
        ))
        .await
        .unwrap();
    assert!(
        matches!(outcome, OAuthExchangeOutcome::Issued(_)),
        "{outcome:?}"
    );
    assert!(store.find_api_token("oa-at-1").await.unwrap().is_some());

    // The spent refresh token again: the whole family goes, whatever the new values.
    let outcome = store
        .exchange_oauth_grant(exchange(
            "oa-rt-1",
            OAuthGrantKind::Refresh,
            140,
            "oa-user",
            "oa-at-3",
            "oa-rt-3",
        ))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        OAuthExchangeOutcome::Replayed { revoked_tokens: 2 }
    );
    for hash in ["oa-at-1", "oa-at-2", "oa-at-3"] {
        assert!(
            store.find_api_token(hash).await.unwrap().is_none(),
            "{hash}"
        );
    }
    assert!(store.get_oauth_grant("oa-rt-3").await.unwrap().is_none());
    for hash in ["oa-code-1", "oa-rt-1", "oa-rt-2"] {
        assert_eq!(state_of(hash).await, OAuthGrantState::Revoked, "{hash}");
    }
    // A revoked refresh token stays refused.
    let outcome = store
        .exchange_oauth_grant(exchange(
            "oa-rt-2",
            OAuthGrantKind::Refresh,
            140,
            "oa-user",
            "oa-at-4",
            "oa-rt-4",
        ))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        OAuthExchangeOutcome::Replayed { revoked_tokens: 0 }
    );
    assert!(store.find_api_token("oa-at-4").await.unwrap().is_none());

    // A replayed code revokes what its first exchange issued.
    store
        .create_oauth_code(grant("oa-code-2", 160))
        .await
        .unwrap();
    let outcome = store
        .exchange_oauth_grant(exchange(
            "oa-code-2",
            OAuthGrantKind::Code,
            120,
            "oa-user",
            "oa-at-5",
            "oa-rt-5",
        ))
        .await
        .unwrap();
    assert!(matches!(outcome, OAuthExchangeOutcome::Issued(_)));
    let outcome = store
        .exchange_oauth_grant(exchange(
            "oa-code-2",
            OAuthGrantKind::Code,
            121,
            "oa-user",
            "oa-at-6",
            "oa-rt-6",
        ))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        OAuthExchangeOutcome::Replayed { revoked_tokens: 1 }
    );
    assert!(store.find_api_token("oa-at-5").await.unwrap().is_none());
    assert_eq!(state_of("oa-rt-5").await, OAuthGrantState::Revoked);

    // Two exchanges of one code at the same time: one is issued, the other is a replay
    // that revokes what the first got.
    store
        .create_oauth_code(grant("oa-code-3", 160))
        .await
        .unwrap();
    let (a, b) = tokio::join!(
        store.exchange_oauth_grant(exchange(
            "oa-code-3",
            OAuthGrantKind::Code,
            120,
            "oa-user",
            "oa-at-7",
            "oa-rt-7"
        )),
        store.exchange_oauth_grant(exchange(
            "oa-code-3",
            OAuthGrantKind::Code,
            120,
            "oa-user",
            "oa-at-8",
            "oa-rt-8"
        )),
    );
    let mut outcomes = [a.unwrap(), b.unwrap()];
    outcomes.sort_by_key(|o| matches!(o, OAuthExchangeOutcome::Issued(_)));
    assert_eq!(
        outcomes[0],
        OAuthExchangeOutcome::Replayed { revoked_tokens: 1 }
    );
    assert!(matches!(outcomes[1], OAuthExchangeOutcome::Issued(_)));
    for hash in ["oa-at-7", "oa-at-8"] {
        assert!(
            store.find_api_token(hash).await.unwrap().is_none(),
            "{hash}"
        );
    }

    // Revocation by the client: the family's grants and access tokens.
    store
        .create_oauth_code(grant("oa-code-4", 160))
        .await
        .unwrap();
    store
        .exchange_oauth_grant(exchange(
            "oa-code-4",
            OAuthGrantKind::Code,
            120,
            "oa-user",
            "oa-at-9",
            "oa-rt-9",
        ))
        .await
        .unwrap();
    assert_eq!(store.revoke_oauth_family("oa-code-4").await.unwrap(), 1);
    assert!(store.find_api_token("oa-at-9").await.unwrap().is_none());
    assert_eq!(state_of("oa-rt-9").await, OAuthGrantState::Revoked);
    assert_eq!(store.revoke_oauth_family("oa-unknown").await.unwrap(), 0);
    // None of this touched the user's own API token.
    assert!(store.find_api_token("oa-personal").await.unwrap().is_some());

    // Clean-up removes a family only when all of it expired: a used refresh token is
    // kept while its family lives, so its replay is still recognised.
    store
        .create_oauth_code(grant("oa-code-5", 160))
        .await
        .unwrap();
    store
        .exchange_oauth_grant(exchange(
            "oa-code-5",
            OAuthGrantKind::Code,
            120,
            "oa-user",
            "oa-at-10",
            "oa-rt-10",
        ))
        .await
        .unwrap();
    // code-1 with two refresh tokens, then four families of a code and one refresh token.
    let before: u64 = 3 + 4 * 2;
    assert_eq!(store.delete_expired_oauth_grants(4_999).await.unwrap(), 0);
    assert!(store.get_oauth_grant("oa-code-5").await.unwrap().is_some());
    assert_eq!(
        store.delete_expired_oauth_grants(5_000).await.unwrap(),
        before
    );
    assert!(store.get_oauth_grant("oa-code-5").await.unwrap().is_none());
    assert!(store.get_oauth_grant("oa-rt-10").await.unwrap().is_none());
}

// ---------------------------------------------------------------------------
// the contract on PostgreSQL

/// The PostgreSQL server to test on, from `HUBAUTH_TEST_POSTGRES_URL`. Fails
/// when it is unset, unless `HUBAUTH_SKIP_POSTGRES=1` (then `None`).
pub(super) fn postgres_test_url() -> Option<String> {
    if let Ok(url) = std::env::var("HUBAUTH_TEST_POSTGRES_URL")
        && !url.trim().is_empty()
    {
        return Some(url);
    }
    if std::env::var("HUBAUTH_SKIP_POSTGRES").as_deref() == Ok("1") {
        eprintln!("note: HUBAUTH_SKIP_POSTGRES=1: the store contract was NOT run on PostgreSQL");
        return None;
    }
    panic!(
        "HUBAUTH_TEST_POSTGRES_URL is not set, so the store contract cannot run on PostgreSQL. \
         Run ./scripts/test.sh, which starts a throwaway PostgreSQL server on loopback and \
         sets it, or set HUBAUTH_SKIP_POSTGRES=1 to skip the PostgreSQL tests knowingly."
    );
}

/// `url` with its database name replaced by `database` (query kept).
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let server = match base[after_scheme..].find('/') {
        Some(slash) => &base[..after_scheme + slash],
        None => base,
    };
    format!("{server}/{database}{query}")
}

/// A fresh, uniquely named database on the test server, dropped by [`drop_database`].
pub(super) async fn create_database(server_url: &str, label: &str) -> (String, String) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let name = format!("hubauth_{label}_{}_{nanos}", std::process::id());
    let mut admin = sqlx::postgres::PgConnection::connect(server_url)
        .await
        .expect("connect to HUBAUTH_TEST_POSTGRES_URL");
    // `name` is made of ASCII letters, digits and underscores only.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
    (with_database(server_url, &name), name)
}

pub(super) async fn drop_database(server_url: &str, name: &str) {
    let mut admin = sqlx::postgres::PgConnection::connect(server_url)
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    admin.close().await.unwrap();
}

#[tokio::test]
async fn postgres_passes_the_store_contract() {
    let Some(server) = postgres_test_url() else {
        return;
    };
    let (url, name) = create_database(&server, "contract").await;
    {
        let store = hubauth_store::open(&url).await.unwrap();
        run_contract(store.as_ref()).await;
        // Opening again (a second replica) finds the schema migrated and the data there.
        let replica = hubauth_store::open(&url).await.unwrap();
        assert!(replica.get_user("alice").await.unwrap().is_some());
        concurrent_logins_create_once(&store, &replica).await;
        super::backchannel::concurrent_outbox_claims_are_disjoint(&store, &replica).await;
        store.close().await;
        replica.close().await;
        assert!(matches!(
            store.ping().await,
            Err(StoreError::Unavailable { .. })
        ));
    }
    drop_database(&server, &name).await;
}

#[tokio::test]
async fn postgres_locked_write_is_unavailable_not_a_hang() {
    let Some(server) = postgres_test_url() else {
        return;
    };
    let (url, name) = create_database(&server, "locked").await;
    {
        let store = PostgresStore::builder_from_url(&url)
            .unwrap()
            .lock_timeout(Duration::from_millis(200))
            .open()
            .await
            .unwrap();
        store.ensure_user("lockee", None, 1).await.unwrap();
        // Another client holds the write lock (as a stuck replica would).
        let mut other = sqlx::postgres::PgConnection::connect(&url).await.unwrap();
        sqlx::raw_sql("BEGIN").execute(&mut other).await.unwrap();
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(hubauth_store::WRITE_LOCK_KEY)
            .execute(&mut other)
            .await
            .unwrap();
        let started = Instant::now();
        // A login that changes memberships needs the lock.
        let err = store
            .apply_login(LoginUpdate {
                groups: Some(strings(&["joined"])),
                ..login("lockee", 2)
            })
            .await
            .expect_err("the write lock is held elsewhere");
        assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
        assert!(err.is_retryable());
        assert!(started.elapsed() < Duration::from_secs(5));
        // The usual login, which changes no membership, does not wait for it.
        let again = store.apply_login(login("lockee", 2)).await.unwrap();
        assert_eq!(again.user.last_activity, Some(2));
        assert!(again.user.groups.is_empty());
        // Reads and single-statement writes do not wait for the lock.
        assert!(store.get_user("lockee").await.unwrap().is_some());
        store.touch_activity("lockee", 3).await.unwrap();
        // Released: writes work again.
        sqlx::raw_sql("ROLLBACK").execute(&mut other).await.unwrap();
        other.close().await.unwrap();
        assert!(!store.apply_login(login("lockee", 4)).await.unwrap().created);
        store.close().await;
    }
    drop_database(&server, &name).await;
}

/// A loopback port with nothing listening on it.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn postgres_unreachable_is_unavailable_quickly_without_the_password() {
    let url = format!("postgresql://hub:s3cretpw@127.0.0.1:{}/hub", closed_port());
    let started = Instant::now();
    let err = PostgresStore::builder_from_url(&url)
        .unwrap()
        .connect_timeout(Duration::from_secs(2))
        .acquire_timeout(Duration::from_secs(2))
        .open()
        .await
        .expect_err("nothing listens on the port");
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!format!("{err} {err:?}").contains("s3cretpw"), "{err:?}");

    // Through open(), by URL scheme, with default options: still quick.
    let started = Instant::now();
    let Err(err) = hubauth_store::open(&url).await else {
        panic!("expected an error");
    };
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!format!("{err} {err:?}").contains("s3cretpw"), "{err:?}");
}

#[test]
fn postgres_urls_parse_without_echoing_secrets() {
    for url in [
        "postgres://hub:s3cretpw@db.example:5433/hub",
        "postgresql://hub:s3cretpw@db.example/hub",
        "postgresql+psycopg2://hub:s3cretpw@db.example/hub",
        "PostgreSQL://hub:s3cretpw@db.example/hub",
    ] {
        let builder = PostgresStore::builder_from_url(url).unwrap();
        let debug = format!("{builder:?}");
        assert!(!debug.contains("s3cretpw"), "{debug}");
        assert!(debug.contains("db.example"), "{debug}");
    }
    for (url, scheme) in [
        (
            "postgres://hub:s3cretpw@db.example:notaport/hub",
            "postgres",
        ),
        ("mysql://hub:s3cretpw@db/hub", "mysql"),
    ] {
        match PostgresStore::builder_from_url(url) {
            Err(err @ StoreError::UnsupportedUrl { .. }) => {
                let StoreError::UnsupportedUrl { scheme: got, .. } = &err else {
                    unreachable!()
                };
                assert_eq!(got, scheme, "{url}");
                assert!(!err.to_string().contains("s3cretpw"), "{err}");
            }
            other => panic!("{url}: expected UnsupportedUrl, got {other:?}"),
        }
    }
}

#[test]
fn test_database_urls_keep_server_and_query() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5999/hubauth_test", "x"),
        "postgres://postgres@127.0.0.1:5999/x"
    );
    assert_eq!(
        with_database("postgres://u@h:1/db?sslmode=disable", "x"),
        "postgres://u@h:1/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
}

async fn contract_auth_state_bulk(store: &dyn Store) {
    // Users with auth_state, in id order, paged; users without are not listed.
    for name in ["bulk-a", "bulk-b", "bulk-c", "bulk-none"] {
        store.ensure_user(name, None, 10).await.unwrap();
    }
    for name in ["bulk-a", "bulk-b", "bulk-c"] {
        store
            .set_auth_state(name, Some(format!("old-{name}").into_bytes()))
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let page = store.auth_state_page(after, 2).await.unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = last.user_id;
        seen.extend(page);
    }
    assert!(seen.windows(2).all(|w| w[0].user_id < w[1].user_id));
    let bulk: Vec<_> = seen
        .iter()
        .filter(|row| row.name.starts_with("bulk-"))
        .collect();
    assert_eq!(
        bulk.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["bulk-a", "bulk-b", "bulk-c"]
    );
    assert_eq!(bulk[0].encrypted, b"old-bulk-a".to_vec());
    assert!(format!("{:?}", bulk[0]).contains("redacted"));
    assert!(!format!("{:?}", bulk[0]).contains("old-bulk-a"));
    let id = |name: &str| bulk.iter().find(|r| r.name == name).unwrap().user_id;

    // Swaps apply only where the stored bytes are still the expected ones.
    store
        .set_auth_state("bulk-b", Some(b"fresh-login".to_vec()))
        .await
        .unwrap();
    let applied = store
        .replace_auth_states(&[
            AuthStateSwap {
                user_id: id("bulk-a"),
                expected: b"old-bulk-a".to_vec(),
                replacement: Some(b"new-bulk-a".to_vec()),
            },
            AuthStateSwap {
                user_id: id("bulk-b"),
                expected: b"old-bulk-b".to_vec(),
                replacement: Some(b"new-bulk-b".to_vec()),
            },
            AuthStateSwap {
                user_id: id("bulk-c"),
                expected: b"old-bulk-c".to_vec(),
                replacement: None,
            },
            AuthStateSwap {
                user_id: i64::MAX,
                expected: b"x".to_vec(),
                replacement: None,
            },
        ])
        .await
        .unwrap();
    assert_eq!(applied, [true, false, true, false]);
    assert_eq!(
        store.get_auth_state("bulk-a").await.unwrap(),
        Some(b"new-bulk-a".to_vec())
    );
    assert_eq!(
        store.get_auth_state("bulk-b").await.unwrap(),
        Some(b"fresh-login".to_vec())
    );
    assert_eq!(store.get_auth_state("bulk-c").await.unwrap(), None);
    assert_eq!(store.get_auth_state("bulk-none").await.unwrap(), None);
    assert!(store.replace_auth_states(&[]).await.unwrap().is_empty());
    assert!(
        store
            .auth_state_page(i64::MAX, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn contract_user_pages_and_role_lookup(store: &dyn Store) {
    // Users created in this order get increasing ids.
    for (i, name) in ["pg_zed", "pg_amy", "pg_bob", "pg_a%b", "other_pg"]
        .iter()
        .enumerate()
    {
        let mut update = login(name, 1_000 + i as i64);
        update.groups = Some(vec!["pg_team".to_owned()]);
        store.apply_login(update).await.unwrap();
    }
    store.touch_activity("pg_bob", 5_000).await.unwrap();
    let page = |offset, limit, filter: Option<&str>, sort, descending| UserQuery {
        offset,
        limit,
        name_filter: filter.map(str::to_owned),
        sort,
        descending,
    };
    let names = |users: &[hubauth_store::UserRecord]| {
        users.iter().map(|u| u.name.clone()).collect::<Vec<_>>()
    };
    // Filter, count and creation order.
    let first = store
        .list_users_page(page(0, 2, Some("PG_"), UserSort::Id, false))
        .await
        .unwrap();
    assert_eq!(
        first.total, 4,
        "case-insensitive substring, `other_pg` has no `pg_`"
    );
    assert_eq!(names(&first.users), ["pg_zed", "pg_amy"]);
    assert_eq!(first.users[0].groups, ["pg_team"]);
    assert_eq!(first.users[0].roles, ["user"]);
    let second = store
        .list_users_page(page(2, 2, Some("pg_"), UserSort::Id, false))
        .await
        .unwrap();
    assert_eq!(names(&second.users), ["pg_bob", "pg_a%b"]);
    let past_end = store
        .list_users_page(page(10, 2, Some("pg_"), UserSort::Id, false))
        .await
        .unwrap();
    assert!(past_end.users.is_empty());
    assert_eq!(past_end.total, 4);
    // `%` and `_` in the filter are literal.
    let literal = store
        .list_users_page(page(0, 10, Some("a%b"), UserSort::Name, false))
        .await
        .unwrap();
    assert_eq!(names(&literal.users), ["pg_a%b"]);
    let by_name = store
        .list_users_page(page(0, 10, Some("pg_"), UserSort::Name, true))
        .await
        .unwrap();
    assert_eq!(
        names(&by_name.users),
        ["pg_zed", "pg_bob", "pg_amy", "pg_a%b"]
    );
    // Most recently active first when descending.
    let active = store
        .list_users_page(page(0, 1, Some("pg_"), UserSort::LastActivity, true))
        .await
        .unwrap();
    assert_eq!(names(&active.users), ["pg_bob"]);

    // Role lookup by name, without holders; unknown names left out.
    store
        .upsert_role(RoleSpec {
            name: "pg_reader".to_owned(),
            description: "reads".to_owned(),
            scopes: vec!["read:users".to_owned()],
            managed_by_auth: true,
        })
        .await
        .unwrap();
    let roles = store
        .get_roles(&[
            "pg_reader".to_owned(),
            "user".to_owned(),
            "no_such_role".to_owned(),
        ])
        .await
        .unwrap();
    let found: Vec<(&str, &[String], bool)> = roles
        .iter()
        .map(|r| (r.name.as_str(), r.scopes.as_slice(), r.managed_by_auth))
        .collect();
    assert_eq!(
        found,
        [
            ("pg_reader", &["read:users".to_owned()][..], true),
            ("user", &["self".to_owned()][..], false),
        ]
    );

    // Assigning a role: added to holders, or replacing them; unknown users returned.
    let missing = store
        .assign_role(
            "pg_reader",
            &["pg_amy".to_owned(), "pg_ghost".to_owned()],
            false,
        )
        .await
        .unwrap();
    assert_eq!(missing, ["pg_ghost"]);
    store
        .assign_role("pg_reader", &["pg_bob".to_owned()], false)
        .await
        .unwrap();
    let holders = |roles: Vec<hubauth_store::RoleRecord>| {
        roles
            .into_iter()
            .find(|r| r.name == "pg_reader")
            .unwrap()
            .users
    };
    assert_eq!(
        holders(store.list_roles().await.unwrap()),
        ["pg_amy", "pg_bob"]
    );
    store
        .assign_role("pg_reader", &["pg_zed".to_owned()], true)
        .await
        .unwrap();
    assert_eq!(holders(store.list_roles().await.unwrap()), ["pg_zed"]);
    assert_eq!(
        store.get_user("pg_zed").await.unwrap().unwrap().roles,
        ["pg_reader", "user"]
    );
    assert!(matches!(
        store.assign_role("pg_no_role", &[], true).await,
        Err(StoreError::NotFound { .. })
    ));
    store.delete_role("pg_reader").await.unwrap();
}

/// The multi-row changes the REST API makes are each one transaction: all or nothing.
async fn contract_atomic_multi_row_changes(store: &dyn Store) {
    // create_users: all created with the default roles, in the order given.
    let made = store
        .create_users(&strings(&["atom-b", "atom-a"]), false, 500)
        .await
        .unwrap();
    let names: Vec<&str> = made.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["atom-b", "atom-a"]);
    assert!(made.iter().all(|u| !u.admin && u.roles == ["user"]));
    let admins = store
        .create_users(&strings(&["atom-root"]), true, 500)
        .await
        .unwrap();
    assert!(admins[0].admin);
    assert_eq!(admins[0].roles, ["admin", "user"]);
    // One existing name: nobody is created.
    assert_conflict(
        store
            .create_users(&strings(&["atom-new1", "atom-a", "atom-new2"]), false, 501)
            .await,
    );
    assert!(store.get_user("atom-new1").await.unwrap().is_none());
    assert!(store.get_user("atom-new2").await.unwrap().is_none());
    // A repeated name in one call is a conflict too, and creates nothing.
    assert_conflict(
        store
            .create_users(&strings(&["atom-dup", "atom-dup"]), false, 501)
            .await,
    );
    assert!(store.get_user("atom-dup").await.unwrap().is_none());
    // Many names (more than one statement's worth): the records returned are the stored
    // ones; a conflict far down the list still creates nobody.
    let many: Vec<String> = (0..1_201).map(|i| format!("atom-many-{i:04}")).collect();
    let mut clash = many.clone();
    clash.push("atom-a".to_owned());
    assert_conflict(store.create_users(&clash, false, 502).await);
    assert!(store.get_user("atom-many-0000").await.unwrap().is_none());
    let made = store.create_users(&many, true, 502).await.unwrap();
    assert_eq!(made.len(), many.len());
    for index in [0, 499, 500, 1_000, 1_200] {
        let stored = store.get_user(&many[index]).await.unwrap().unwrap();
        assert_eq!(made[index], stored, "{}", many[index]);
        assert!(stored.admin && stored.roles == ["admin", "user"] && stored.created == 502);
    }
    assert_eq!(store.delete_users(&many).await.unwrap(), 1_201);

    // create_groups: all or nothing.
    store
        .create_groups(&[
            ("atom-g1".to_owned(), strings(&["atom-a", "atom-b"])),
            ("atom-g2".to_owned(), Vec::new()),
        ])
        .await
        .unwrap();
    let groups = store.list_groups().await.unwrap();
    let g1 = groups.iter().find(|g| g.name == "atom-g1").unwrap();
    assert_eq!(g1.users, ["atom-a", "atom-b"]);
    assert!(
        groups
            .iter()
            .any(|g| g.name == "atom-g2" && g.users.is_empty())
    );
    // An existing group among new ones: none is created.
    assert_conflict(
        store
            .create_groups(&[
                ("atom-g3".to_owned(), strings(&["atom-a"])),
                ("atom-g1".to_owned(), Vec::new()),
            ])
            .await,
    );
    // An unknown member: none is created.
    assert_not_found(
        store
            .create_groups(&[
                ("atom-g4".to_owned(), Vec::new()),
                ("atom-g5".to_owned(), strings(&["atom-nobody"])),
            ])
            .await,
    );
    let names: Vec<String> = store
        .list_groups()
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.name)
        .collect();
    for absent in ["atom-g3", "atom-g4", "atom-g5"] {
        assert!(!names.iter().any(|n| n == absent), "{absent} was created");
    }
    let a = store.get_user("atom-a").await.unwrap().unwrap();
    assert_eq!(a.groups, ["atom-g1"]);

    // set_user_groups: membership becomes exactly the set.
    store
        .set_user_groups("atom-a", &strings(&["atom-g2"]))
        .await
        .unwrap();
    let a = store.get_user("atom-a").await.unwrap().unwrap();
    assert_eq!(a.groups, ["atom-g2"]);
    // An unknown group: nothing changes, and the group is not created.
    assert_not_found(
        store
            .set_user_groups("atom-a", &strings(&["atom-g1", "atom-missing"]))
            .await,
    );
    let a = store.get_user("atom-a").await.unwrap().unwrap();
    assert_eq!(a.groups, ["atom-g2"]);
    assert!(
        !store
            .list_groups()
            .await
            .unwrap()
            .iter()
            .any(|g| g.name == "atom-missing")
    );
    assert_not_found(store.set_user_groups("atom-nobody", &[]).await);
    store.set_user_groups("atom-a", &[]).await.unwrap();
    assert!(
        store
            .get_user("atom-a")
            .await
            .unwrap()
            .unwrap()
            .groups
            .is_empty()
    );

    // create_role_with_users: the role and its grants together; other roles kept.
    let spec = |name: &str| RoleSpec {
        name: name.to_owned(),
        description: "atomic".to_owned(),
        scopes: strings(&["read:users"]),
        managed_by_auth: false,
    };
    store
        .create_role_with_users(spec("atom-role"), &strings(&["atom-a", "atom-root"]))
        .await
        .unwrap();
    let role = store
        .list_roles()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.name == "atom-role")
        .unwrap();
    assert_eq!(role.users, ["atom-a", "atom-root"]);
    assert_eq!(role.scopes, ["read:users"]);
    let root = store.get_user("atom-root").await.unwrap().unwrap();
    assert_eq!(root.roles, ["admin", "atom-role", "user"]);
    // Existing role: Conflict, and its holders and description are untouched.
    assert_conflict(
        store
            .create_role_with_users(spec("atom-role"), &strings(&["atom-b"]))
            .await,
    );
    // Unknown user: the role is not created.
    assert_not_found(
        store
            .create_role_with_users(spec("atom-role2"), &strings(&["atom-b", "atom-nobody"]))
            .await,
    );
    let roles = store.list_roles().await.unwrap();
    assert!(!roles.iter().any(|r| r.name == "atom-role2"));
    let role = roles.iter().find(|r| r.name == "atom-role").unwrap();
    assert_eq!(role.users, ["atom-a", "atom-root"]);
    assert_eq!(
        store.get_user("atom-b").await.unwrap().unwrap().roles,
        ["user"]
    );

    // delete_users: several in one go with what hangs off them; unknown names skipped.
    store
        .create_session(session("atom-sess", "atom-b", 500, 10_000))
        .await
        .unwrap();
    let gone = store
        .delete_users(&strings(&["atom-a", "atom-b", "atom-nobody"]))
        .await
        .unwrap();
    assert_eq!(gone, 2);
    assert!(store.get_user("atom-a").await.unwrap().is_none());
    assert!(store.get_user("atom-b").await.unwrap().is_none());
    assert!(store.get_session("atom-sess").await.unwrap().is_none());
    let role = store
        .list_roles()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.name == "atom-role")
        .unwrap();
    assert_eq!(role.users, ["atom-root"]);
    assert_eq!(store.delete_users(&[]).await.unwrap(), 0);
}

// ---------------------------------------------------------------------------
// imports from JupyterHub (issue #19)

fn imported_user(name: &str, admin: bool, groups: &[&str], roles: &[&str]) -> ImportedUser {
    ImportedUser {
        name: name.to_owned(),
        admin,
        created: 1_000,
        last_activity: Some(2_000),
        auth_state: Some(format!("ciphertext-of-{name}").into_bytes()),
        groups: strings(groups),
        roles: strings(roles),
        replace: false,
    }
}

fn imported_token(token: &str, user: &str, expires: Option<i64>) -> ImportedApiToken {
    ImportedApiToken {
        hash: jupyterhub_hash(token, "0011223344556677", 1),
        prefix: token.chars().take(4).collect(),
        user: user.to_owned(),
        note: "from JupyterHub".to_owned(),
        scopes: strings(&["read:users"]),
        created: 1_500,
        expires,
        last_activity: Some(1_600),
    }
}

/// An import batch writes users with their own times, auth_state bytes as given,
/// groups, roles and tokens with JupyterHub's hash, in one transaction; imported tokens
/// are found by value, hubauth's own still by their digest.
async fn contract_imports_and_jupyterhub_tokens(store: &dyn Store) {
    let batch = ImportBatch {
        groups: strings(&["jh-staff", "jh-empty"]),
        roles: vec![RoleSpec {
            name: "jh-reader".to_owned(),
            description: "reads users".to_owned(),
            scopes: strings(&["read:users"]),
            managed_by_auth: false,
        }],
        users: vec![
            imported_user("jh-alice", false, &["jh-staff"], &["jh-reader"]),
            imported_user("jh-root", true, &[], &[]),
        ],
        tokens: vec![
            imported_token("jh-token-alice-0001", "jh-alice", None),
            imported_token("jh-token-alice-0002", "jh-alice", Some(5_000)),
            // Same prefix as the first, another user: found by comparing each.
            imported_token("jh-token-root-0003", "jh-root", None),
        ],
    };
    store.import_batch(&batch).await.unwrap();
    let alice = store.get_user("jh-alice").await.unwrap().unwrap();
    assert_eq!((alice.created, alice.last_activity), (1_000, Some(2_000)));
    assert!(!alice.admin);
    assert_eq!(alice.groups, strings(&["jh-staff"]));
    assert_eq!(alice.roles, strings(&["jh-reader", "user"]));
    let root = store.get_user("jh-root").await.unwrap().unwrap();
    assert!(root.admin);
    assert_eq!(root.roles, strings(&["admin", "user"]));
    assert_eq!(
        store.get_auth_state("jh-alice").await.unwrap().unwrap(),
        b"ciphertext-of-jh-alice"
    );
    assert!(
        store
            .list_groups()
            .await
            .unwrap()
            .iter()
            .any(|g| g.name == "jh-empty")
    );

    let found = store
        .find_api_token_by_value("jh-token-alice-0002", "not-the-digest")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.user, "jh-alice");
    assert_eq!(found.expires, Some(5_000));
    assert!(found.is_valid_at(4_999) && !found.is_valid_at(5_000));
    assert_eq!(found.scopes, strings(&["read:users"]));
    assert_eq!(found.last_activity, Some(1_600));
    let root_token = store
        .find_api_token_by_value("jh-token-root-0003", "not-the-digest")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(root_token.user, "jh-root");
    for wrong in [
        "jh-token-alice-0003",
        "jh-t",
        "jh-",
        "",
        &"jh-token".repeat(9),
    ] {
        assert_eq!(
            store
                .find_api_token_by_value(wrong, "not-the-digest")
                .await
                .unwrap(),
            None,
            "{wrong}"
        );
    }
    // hubauth's own tokens are found by their digest, as before.
    store
        .create_api_token(token("own-digest-1", "jh-alice", None))
        .await
        .unwrap();
    let own = store
        .find_api_token_by_value("whatever-the-value", "own-digest-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(own.hash, "own-digest-1");
    assert_eq!(store.list_api_tokens("jh-alice").await.unwrap().len(), 3);

    // A batch whose token hash is already stored writes nothing at all.
    let mut again = ImportBatch {
        users: vec![imported_user("jh-new", false, &["jh-new-group"], &[])],
        tokens: vec![imported_token("jh-token-alice-0001", "jh-new", None)],
        ..ImportBatch::default()
    };
    assert_conflict(store.import_batch(&again).await);
    assert_eq!(store.get_user("jh-new").await.unwrap(), None);
    assert!(
        !store
            .list_groups()
            .await
            .unwrap()
            .iter()
            .any(|g| g.name == "jh-new-group")
    );
    // An unknown role is NotFound, and nothing is written either.
    again.tokens.clear();
    again.users[0].roles = strings(&["no-such-role"]);
    assert_not_found(store.import_batch(&again).await);
    assert_eq!(store.get_user("jh-new").await.unwrap(), None);

    // Merging adds groups and roles; replacing makes them exact and rewrites the fields.
    store.create_group("jh-local").await.unwrap();
    store
        .add_group_members("jh-local", &strings(&["jh-alice"]))
        .await
        .unwrap();
    let mut merge = imported_user("jh-alice", true, &["jh-staff"], &[]);
    merge.auth_state = None;
    store
        .import_batch(&ImportBatch {
            users: vec![merge.clone()],
            ..ImportBatch::default()
        })
        .await
        .unwrap();
    let alice = store.get_user("jh-alice").await.unwrap().unwrap();
    assert!(alice.admin);
    assert_eq!(alice.groups, strings(&["jh-local", "jh-staff"]));
    assert_eq!(alice.roles, strings(&["admin", "jh-reader", "user"]));
    assert_eq!(store.get_auth_state("jh-alice").await.unwrap(), None);
    merge.replace = true;
    merge.admin = false;
    store
        .import_batch(&ImportBatch {
            users: vec![merge],
            ..ImportBatch::default()
        })
        .await
        .unwrap();
    let alice = store.get_user("jh-alice").await.unwrap().unwrap();
    assert!(!alice.admin);
    assert_eq!(alice.groups, strings(&["jh-staff"]));
    assert_eq!(alice.roles, strings(&["user"]));
    // Deleting a user takes the imported tokens along.
    assert!(store.delete_user("jh-root").await.unwrap());
    assert_eq!(
        store
            .find_api_token_by_value("jh-token-root-0003", "not-the-digest")
            .await
            .unwrap(),
        None
    );
}
