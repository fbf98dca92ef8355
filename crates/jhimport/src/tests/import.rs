//! The importer against databases made by JupyterHub 4.1.6, 5.5.4 and 6.1.1 themselves
//! (`tests/fixtures/make_fixture.py`, remade by `tests/fixtures/regenerate.sh`), imported
//! into hubauth's store on SQLite and, when `HUBAUTH_TEST_POSTGRES_URL` names a server
//! (`./scripts/test.sh` starts one), on PostgreSQL.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hubauth_jhimport::{
    Action, ConfiguredClient, ImportError, ImportOptions, Kind, SchemaVersion, Source, TokenOwner,
    import_database,
};
use hubauth_store::{CryptKeeper, Store};
use sqlx::Connection as _;

/// JUPYTERHUB_CRYPT_KEY of the fixtures (`make_fixture.py`).
const CRYPT_KEY: &str = "aW1wb3J0LWRiLWZpeHR1cmUta2V5LTMyLWJ5dGVzISE=";
/// Now, for the tests: 2026-01-01 (the fixture's expired token expired in 2001, the
/// other expiring one expires in 2099).
const NOW: i64 = 1_767_225_600;

const FIXTURES: [(&str, SchemaVersion); 3] = [
    ("jupyterhub-4.1.6.sqlite", SchemaVersion::V4),
    ("jupyterhub-5.5.4.sqlite", SchemaVersion::V5),
    ("jupyterhub-6.1.1.sqlite", SchemaVersion::V6),
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A copy of a fixture in a temporary directory, as a JupyterHub URL.
fn copy_of(name: &str) -> (tempfile::TempDir, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jupyterhub.sqlite");
    std::fs::copy(fixture(name), &path).unwrap();
    let url = format!("sqlite:///{}", path.display());
    (dir, path, url)
}

async fn sqlite_store() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:///{}", dir.path().join("hubauth.sqlite").display());
    (dir, hubauth_store::open(&url).await.unwrap())
}

fn announcer() -> ConfiguredClient {
    ConfiguredClient {
        client_id: "service-announcer".to_owned(),
        redirect_uris: vec!["http://127.0.0.1:9999/services/announcer/oauth_callback".to_owned()],
        secret: Some("announcer-secret-0123456789abcdef".to_owned()),
    }
}

fn options() -> ImportOptions {
    ImportOptions {
        now: NOW,
        clients: vec![announcer()],
        ..ImportOptions::default()
    }
}

fn names(items: Vec<&str>) -> Vec<String> {
    let mut items: Vec<String> = items.into_iter().map(str::to_owned).collect();
    items.sort();
    items
}

#[tokio::test]
async fn every_fixture_schema_is_read_as_jupyterhub_wrote_it() {
    for (name, version) in FIXTURES {
        let (_dir, _path, url) = copy_of(name);
        let source = Source::open(&url).await.unwrap();
        assert_eq!(source.schema().await.unwrap(), version, "{name}");
        let snapshot = source.read().await.unwrap();
        source.close().await;
        let alice = snapshot.users.iter().find(|u| u.name == "alice").unwrap();
        assert!(!alice.admin);
        assert_eq!(alice.created, Some(1_672_628_645), "{name}");
        assert_eq!(alice.last_activity, Some(1_714_619_045), "{name}");
        assert_eq!(alice.groups, ["staff"]);
        assert_eq!(alice.roles, ["reader", "user"]);
        assert!(alice.encrypted_auth_state.is_some());
        let root = snapshot.users.iter().find(|u| u.name == "root").unwrap();
        assert!(root.admin);
        let bob = snapshot.users.iter().find(|u| u.name == "bob").unwrap();
        assert_eq!(bob.last_activity, None);
        let staff = snapshot.groups.iter().find(|g| g.name == "staff").unwrap();
        assert!(staff.properties.as_deref().unwrap().contains("101"));
        assert_eq!(staff.roles, ["announcer-role"]);
        let reader = snapshot.roles.iter().find(|r| r.name == "reader").unwrap();
        assert_eq!(reader.users, ["alice"]);
        let announcer = snapshot
            .roles
            .iter()
            .find(|r| r.name == "announcer-role")
            .unwrap();
        assert_eq!(
            (announcer.groups.as_slice(), announcer.services.as_slice()),
            (&["staff".to_owned()][..], &["announcer".to_owned()][..])
        );
        assert_eq!(snapshot.tokens.len(), 6, "{name}");
        let later = snapshot
            .tokens
            .iter()
            .find(|t| t.note == "expires 2099")
            .unwrap();
        assert_eq!(later.owner, TokenOwner::User("alice".to_owned()));
        assert_eq!(later.expires, Some(4_071_006_245));
        assert_eq!(later.created, Some(1_704_164_645));
        assert_eq!(later.prefix, "alic");
        assert!(
            snapshot
                .tokens
                .iter()
                .any(|t| t.owner == TokenOwner::Service("announcer".to_owned()))
        );
        let client = snapshot
            .oauth_clients
            .iter()
            .find(|c| c.identifier == "service-announcer")
            .unwrap();
        assert_eq!(client.service.as_deref(), Some("announcer"));
        // Secrets stay out of Debug output.
        let shown = format!("{snapshot:?}");
        assert!(!shown.contains("sha512:"), "{shown}");
        assert!(!shown.contains("gAAAA"), "{shown}");
    }
}

#[tokio::test]
async fn unknown_old_and_foreign_databases_are_refused_clearly() {
    let (_dir, path, url) = copy_of("jupyterhub-6.1.1.sqlite");
    let set = |revision: &'static str| {
        let path = path.clone();
        async move {
            let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                .await
                .unwrap();
            sqlx::query("UPDATE alembic_version SET version_num = $1")
                .bind(revision)
                .execute(&mut conn)
                .await
                .unwrap();
            conn.close().await.unwrap();
        }
    };
    set("0123456789ab").await;
    let (_store_dir, store) = sqlite_store().await;
    let err = import_database(&url, store.as_ref(), &options())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ImportError::UnknownRevision { ref revision } if revision == "0123456789ab")
    );
    assert!(
        err.to_string()
            .contains("unknown JupyterHub schema revision"),
        "{err}"
    );
    assert!(
        store.list_users().await.unwrap().is_empty(),
        "nothing imported"
    );
    set("651f5419b74d").await;
    let err = import_database(&url, store.as_ref(), &options())
        .await
        .unwrap_err();
    assert!(matches!(err, ImportError::TooOld { .. }), "{err}");

    // hubauth's own database is not a JupyterHub database.
    let (dir, _) = sqlite_store().await;
    let hubauth_url = format!("sqlite:///{}", dir.path().join("hubauth.sqlite").display());
    let err = import_database(&hubauth_url, store.as_ref(), &options())
        .await
        .unwrap_err();
    assert!(matches!(err, ImportError::NotJupyterHub), "{err}");
    // A missing file is not created.
    let missing = dir.path().join("nope.sqlite");
    let err = import_database(
        &format!("sqlite:///{}", missing.display()),
        store.as_ref(),
        &options(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ImportError::MissingFile { .. }), "{err}");
    assert!(!missing.exists());
    let err = import_database(
        "mysql://user:hunter2@db/jupyterhub",
        store.as_ref(),
        &options(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ImportError::UnsupportedUrl { .. }), "{err}");
    assert!(!err.to_string().contains("hunter2"));
}

/// The whole import on one store: dry run, import, tokens, idempotence, auth_state check.
async fn import_every_fixture(store: &dyn Store, fixture_name: &str) {
    let (_dir, path, url) = copy_of(fixture_name);
    let before = std::fs::read(&path).unwrap();

    // A dry run plans everything and writes nothing.
    let plan = import_database(
        &url,
        store,
        &ImportOptions {
            dry_run: true,
            ..options()
        },
    )
    .await
    .unwrap();
    assert!(plan.writes());
    assert_eq!(
        names(plan.with(Kind::User, Action::Create)),
        ["alice", "bob", "carol", "root"]
    );
    assert!(
        store.list_users().await.unwrap().is_empty(),
        "a dry run writes nothing"
    );
    assert!(
        plan.render().contains("would create user alice"),
        "{}",
        plan.render()
    );

    let report = import_database(&url, store, &options()).await.unwrap();
    assert!(report.is_complete(), "{}", report.render());
    assert_eq!(report.counts(Kind::User).created, 4);
    assert_eq!(
        names(report.with(Kind::Group, Action::Create)),
        ["empty", "staff"]
    );
    assert_eq!(
        names(report.with(Kind::Role, Action::Create)),
        ["announcer-role", "reader"]
    );
    assert_eq!(
        report.with(Kind::Token, Action::Create).len(),
        3,
        "{}",
        report.render()
    );
    assert_eq!(report.with(Kind::OAuthClient, Action::Skip).len(), 3);
    let carried = report.with(Kind::NotCarried, Action::Reported);
    assert!(
        carried.contains(&"role announcer-role of group staff"),
        "{carried:?}"
    );
    assert!(
        carried.contains(&"role announcer-role of service announcer"),
        "{carried:?}"
    );
    assert!(
        carried.contains(&"properties of group staff"),
        "{carried:?}"
    );
    assert!(
        carried
            .iter()
            .any(|c| c.contains("of service announcer") && c.starts_with("token"))
    );
    // The source is untouched.
    assert_eq!(std::fs::read(&path).unwrap(), before);

    let alice = store.get_user("alice").await.unwrap().unwrap();
    assert_eq!(
        (alice.created, alice.last_activity),
        (1_672_628_645, Some(1_714_619_045))
    );
    assert!(!alice.admin);
    assert_eq!(alice.groups, ["staff"]);
    assert_eq!(alice.roles, ["reader", "user"]);
    let root = store.get_user("root").await.unwrap().unwrap();
    assert!(root.admin);
    assert_eq!(root.roles, ["admin", "user"]);
    let reader = store.get_roles(&["reader".to_owned()]).await.unwrap();
    assert_eq!(
        reader[0].scopes,
        ["read:users", "read:groups", "list:users"]
    );

    // auth_state: the same ciphertext, readable with JupyterHub's key.
    let keeper = CryptKeeper::from_keys_str(CRYPT_KEY).unwrap();
    let state = store.get_auth_state("alice").await.unwrap().unwrap();
    let value = keeper.decrypt_json(&state).unwrap().value;
    assert_eq!(value["access_token"], "upstream-token-of-alice");

    // Tokens keep working by value, with their scopes and expiry.
    let token = store
        .find_api_token_by_value("alice-script-token-0123456789abcdef", "unused")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (token.user.as_str(), token.scopes.as_slice()),
        ("alice", &["read:users".to_owned()][..])
    );
    assert_eq!(token.note, "script");
    let later = store
        .find_api_token_by_value("alice-later-token-0123456789abcdef", "unused")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(later.expires, Some(4_071_006_245));
    assert!(later.is_valid_at(NOW) && !later.is_valid_at(4_071_006_245));
    let supplied = store
        .find_api_token_by_value("root-supplied-token-0123456789", "unused")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(supplied.user, "root");
    for not_imported in [
        "alice-old-token-0123456789abcdef",
        "alice-oauth-token-0123456789abcdef",
        "announcer-api-token-0123456789abcdef",
    ] {
        assert_eq!(
            store
                .find_api_token_by_value(not_imported, "unused")
                .await
                .unwrap(),
            None,
            "{not_imported}"
        );
    }

    // Running again changes nothing.
    let again = import_database(&url, store, &options()).await.unwrap();
    assert!(!again.writes(), "{}", again.render());
    assert_eq!(again.batches_written, 0);
    assert!(again.is_complete());

    // --check-auth-state: carol's auth_state was encrypted with another key.
    let checked = import_database(
        &url,
        store,
        &ImportOptions {
            check_auth_state: Some(keeper),
            dry_run: true,
            ..options()
        },
    )
    .await
    .unwrap();
    assert_eq!(checked.with(Kind::AuthState, Action::Failed), ["carol"]);
    assert_eq!(checked.with(Kind::AuthState, Action::Skip), ["alice"]);
    assert!(!checked.is_complete());
    let err = import_database(
        &url,
        store,
        &ImportOptions {
            check_auth_state: Some(CryptKeeper::empty()),
            ..options()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ImportError::NoCryptKeys));
}

#[tokio::test]
async fn every_fixture_imports_into_sqlite_completely_and_idempotently() {
    for (name, _) in FIXTURES {
        let (_dir, store) = sqlite_store().await;
        import_every_fixture(store.as_ref(), name).await;
    }
}

#[tokio::test]
async fn every_fixture_imports_into_postgres_completely_and_idempotently() {
    let Some(server) = std::env::var("HUBAUTH_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
    else {
        eprintln!(
            "note: HUBAUTH_TEST_POSTGRES_URL is not set: the import was NOT tested on PostgreSQL \
             (./scripts/test.sh starts a throwaway server and sets it)"
        );
        return;
    };
    for (name, _) in FIXTURES {
        let database = format!(
            "hubauth_jhimport_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        let mut admin = sqlx::PgConnection::connect(&server).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE \"{database}\""
        )))
        .execute(&mut admin)
        .await
        .unwrap();
        let (base, query) = server
            .split_once('?')
            .map_or((server.as_str(), ""), |(b, q)| (b, q));
        let root = &base[..base.rfind('/').unwrap()];
        let url = if query.is_empty() {
            format!("{root}/{database}")
        } else {
            format!("{root}/{database}?{query}")
        };
        let store = hubauth_store::open(&url).await.unwrap();
        import_every_fixture(store.as_ref(), name).await;
        store.close().await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"
        )))
        .execute(&mut admin)
        .await
        .unwrap();
        admin.close().await.unwrap();
    }
}

#[tokio::test]
async fn users_already_in_hubauth_are_conflicts_until_overwrite() {
    let (_dir, _path, url) = copy_of("jupyterhub-6.1.1.sqlite");
    let (_store_dir, store) = sqlite_store().await;
    // alice logged in to hubauth before the import, as an admin.
    store.ensure_user("alice", Some(true), 5).await.unwrap();
    let report = import_database(&url, store.as_ref(), &options())
        .await
        .unwrap();
    assert!(!report.is_complete());
    assert_eq!(report.with(Kind::User, Action::Conflict), ["alice"]);
    let conflict = report.items.iter().find(|i| i.name == "alice").unwrap();
    assert!(
        conflict
            .reason
            .contains("admin is true in hubauth, false in JupyterHub"),
        "{}",
        conflict.reason
    );
    // Her tokens are not given to the hubauth user of that name.
    assert_eq!(
        report.with(Kind::Token, Action::Conflict).len(),
        2,
        "{}",
        report.render()
    );
    let alice = store.get_user("alice").await.unwrap().unwrap();
    assert!(alice.admin, "not overwritten");
    assert!(alice.groups.is_empty());
    assert_eq!(
        store
            .find_api_token_by_value("alice-script-token-0123456789abcdef", "unused")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        report.counts(Kind::User).created,
        3,
        "the others are imported"
    );

    let overwritten = import_database(
        &url,
        store.as_ref(),
        &ImportOptions {
            overwrite: true,
            ..options()
        },
    )
    .await
    .unwrap();
    assert!(overwritten.is_complete(), "{}", overwritten.render());
    assert_eq!(overwritten.with(Kind::User, Action::Change), ["alice"]);
    let alice = store.get_user("alice").await.unwrap().unwrap();
    assert!(!alice.admin);
    assert_eq!(alice.created, 1_672_628_645);
    assert_eq!(alice.groups, ["staff"]);
    assert!(
        store
            .find_api_token_by_value("alice-script-token-0123456789abcdef", "unused")
            .await
            .unwrap()
            .is_some()
    );
    let again = import_database(&url, store.as_ref(), &options())
        .await
        .unwrap();
    assert!(!again.writes() && again.is_complete(), "{}", again.render());
}

#[tokio::test]
async fn an_interrupted_import_finishes_when_run_again() {
    let (_dir, _path, url) = copy_of("jupyterhub-5.5.4.sqlite");
    let (_store_dir, store) = sqlite_store().await;
    let cut = ImportOptions {
        batch_size: 1,
        max_batches: Some(2),
        ..options()
    };
    let first = import_database(&url, store.as_ref(), &cut).await.unwrap();
    assert!(first.incomplete && !first.is_complete());
    assert_eq!(first.batches_written, 2);
    // Groups and roles, then one user: the others are not there yet.
    assert_eq!(store.list_users().await.unwrap().len(), 1);
    let rest = import_database(&url, store.as_ref(), &options())
        .await
        .unwrap();
    assert!(rest.is_complete(), "{}", rest.render());
    assert_eq!(rest.counts(Kind::User).created, 3);
    assert_eq!(rest.counts(Kind::User).skipped, 1);
    assert_eq!(store.list_users().await.unwrap().len(), 4);
    let done = import_database(&url, store.as_ref(), &options())
        .await
        .unwrap();
    assert!(!done.writes());
}

#[tokio::test]
async fn service_clients_must_match_the_configuration() {
    let (_dir, _path, url) = copy_of("jupyterhub-4.1.6.sqlite");
    let (_store_dir, store) = sqlite_store().await;
    let cases = [
        (Vec::new(), "no [[Hub.services]] entry"),
        (
            vec![ConfiguredClient {
                secret: Some("not-the-secret-0123456789".to_owned()),
                ..announcer()
            }],
            "not the secret JupyterHub stored",
        ),
        (
            vec![ConfiguredClient {
                redirect_uris: vec!["https://elsewhere.example/cb".to_owned()],
                ..announcer()
            }],
            "does not include JupyterHub's",
        ),
    ];
    for (clients, expected) in cases {
        let report = import_database(
            &url,
            store.as_ref(),
            &ImportOptions {
                dry_run: true,
                clients,
                ..options()
            },
        )
        .await
        .unwrap();
        let failed: Vec<_> = report
            .items
            .iter()
            .filter(|i| i.kind == Kind::OAuthClient && i.action == Action::Failed)
            .collect();
        assert_eq!(failed.len(), 1, "{}", report.render());
        assert_eq!(failed[0].name, "service-announcer");
        assert!(failed[0].reason.contains(expected), "{}", failed[0].reason);
        assert!(!report.is_complete());
        assert!(!report.render().contains("announcer-secret"));
    }
}

#[tokio::test]
async fn rows_without_times_import_once_and_then_stay_put() {
    let (_dir, path, url) = copy_of("jupyterhub-5.5.4.sqlite");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query("UPDATE users SET created = NULL WHERE name = 'bob'")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("UPDATE api_tokens SET created = NULL")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let (_store_dir, store) = sqlite_store().await;
    let first = import_database(&url, store.as_ref(), &options())
        .await
        .unwrap();
    assert!(first.is_complete(), "{}", first.render());
    assert_eq!(store.get_user("bob").await.unwrap().unwrap().created, NOW);
    let later = ImportOptions {
        now: NOW + 86_400,
        ..options()
    };
    let again = import_database(&url, store.as_ref(), &later).await.unwrap();
    assert!(!again.writes() && again.is_complete(), "{}", again.render());
}
