//! `hubauth crypt-key rotate`, run as the real binary on a SQLite file and (when
//! `HUBAUTH_TEST_POSTGRES_URL` is set) on a fresh PostgreSQL database: everything ends up
//! under the new key with values intact, an interrupted run resumes, and auth_state no key
//! decrypts is reported by user name without stopping the run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_testkit::pg;

use std::process::Output;

use hubauth_store::{CryptKeeper, Store};
use serde_json::{Value, json};

fn keeper(keys: &str) -> CryptKeeper {
    CryptKeeper::from_keys_str(keys).unwrap()
}

/// Runs `hubauth crypt-key rotate --db-url URL ARGS` with `JUPYTERHUB_CRYPT_KEY=keys`.
fn rotate(db_url: &str, keys: &str, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_hubauth"))
        .args(["crypt-key", "rotate", "--db-url", db_url])
        .args(args)
        .env("JUPYTERHUB_CRYPT_KEY", keys)
        .env("HUBAUTH_LOG", "warn")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn value_of(i: usize) -> Value {
    json!({"access_token": format!("token-{i}"), "refresh_token": null, "n": i, "nested": {"ok": true}})
}

fn user(i: usize) -> String {
    format!("user{i:03}")
}

/// `n` users with auth_state encrypted under `old`, plus `plain` (no auth_state).
async fn seed(db_url: &str, old: &str, n: usize) -> std::sync::Arc<dyn Store> {
    let store = hubauth_store::open(db_url).await.unwrap();
    let old = keeper(old);
    for i in 0..n {
        store.ensure_user(&user(i), None, 100).await.unwrap();
        let token = old.encrypt_json(&value_of(i), 100).unwrap();
        store.set_auth_state(&user(i), Some(token)).await.unwrap();
    }
    store.ensure_user("plain", None, 100).await.unwrap();
    store
}

/// How many of the `n` seeded users' auth_state the key `only` decrypts, checking that
/// every one it decrypts holds the seeded value.
async fn decryptable_with(store: &dyn Store, only: &str, n: usize) -> usize {
    let keeper = keeper(only);
    let mut count = 0;
    for i in 0..n {
        let stored = store.get_auth_state(&user(i)).await.unwrap().unwrap();
        if let Ok(decrypted) = keeper.decrypt_json(&stored) {
            assert_eq!(decrypted.value, value_of(i), "{}", user(i));
            assert!(!decrypted.rotated_key);
            count += 1;
        }
    }
    count
}

async fn full_rotation(db_url: &str) {
    let old = CryptKeeper::generate_key();
    let new = CryptKeeper::generate_key();
    let store = seed(db_url, &old, 7).await;
    assert_eq!(decryptable_with(store.as_ref(), &new, 7).await, 0);

    let out = rotate(db_url, &format!("{new};{old}"), &["--batch-size", "3"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("7 re-encrypted, 0 already under the first key"),
        "{stdout}"
    );
    assert!(stdout.contains("in 3 batches"), "{stdout}");

    // The old key can go: the new key alone reads every value, unchanged.
    assert_eq!(decryptable_with(store.as_ref(), &new, 7).await, 7);
    assert_eq!(decryptable_with(store.as_ref(), &old, 7).await, 0);
    assert_eq!(store.get_auth_state("plain").await.unwrap(), None);

    // Running it again (even with the old key gone) changes nothing.
    let out = rotate(db_url, &new, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("0 re-encrypted, 7 already under the first key"),
        "{}",
        text(&out.stdout)
    );
    store.close().await;
}

async fn interrupted_rotation_resumes(db_url: &str) {
    let old = CryptKeeper::generate_key();
    let new = CryptKeeper::generate_key();
    let store = seed(db_url, &old, 9).await;
    let keys = format!("{new};{old}");

    // Interrupted after the first batch: that batch is complete, nothing else changed.
    let out = rotate(db_url, &keys, &["--batch-size", "4", "--max-batches", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("run the command again to continue"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(decryptable_with(store.as_ref(), &new, 9).await, 4);
    assert_eq!(decryptable_with(store.as_ref(), &old, 9).await, 5);
    // Both keys still read everything: nothing was lost in between.
    let both = keeper(&keys);
    for i in 0..9 {
        let stored = store.get_auth_state(&user(i)).await.unwrap().unwrap();
        assert_eq!(both.decrypt_json(&stored).unwrap().value, value_of(i));
    }

    // A second interrupted run continues where the first stopped.
    let out = rotate(db_url, &keys, &["--batch-size", "4", "--max-batches", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(decryptable_with(store.as_ref(), &new, 9).await, 8);

    // And a full run finishes the job.
    let out = rotate(db_url, &keys, &["--batch-size", "4"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("1 re-encrypted, 8 already under the first key"),
        "{}",
        text(&out.stdout)
    );
    assert!(!text(&out.stdout).contains("run the command again"));
    assert_eq!(decryptable_with(store.as_ref(), &new, 9).await, 9);
    store.close().await;
}

async fn undecryptable_is_reported_by_user(db_url: &str) {
    let old = CryptKeeper::generate_key();
    let new = CryptKeeper::generate_key();
    let lost = CryptKeeper::generate_key();
    let store = seed(db_url, &old, 3).await;
    // One user's auth_state is under a key nobody has any more, another's is not a
    // Fernet token at all.
    store.ensure_user("mallory", None, 100).await.unwrap();
    let foreign = keeper(&lost).encrypt_json(&json!({"x": 1}), 100).unwrap();
    store
        .set_auth_state("mallory", Some(foreign.clone()))
        .await
        .unwrap();
    store.ensure_user("junk", None, 100).await.unwrap();
    let garbage = b"\xffnot a fernet token\x00".to_vec();
    store
        .set_auth_state("junk", Some(garbage.clone()))
        .await
        .unwrap();

    let keys = format!("{new};{old}");
    let out = rotate(db_url, &keys, &["--batch-size", "2"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("user \"mallory\""), "{stderr}");
    assert!(stderr.contains("user \"junk\""), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        text(&out.stdout).contains("3 re-encrypted, 0 already under the first key"),
        "{}",
        text(&out.stdout)
    );
    assert!(text(&out.stdout).contains("2 undecryptable"));
    // Everyone else is under the new key; the unreadable values are left as they were.
    assert_eq!(decryptable_with(store.as_ref(), &new, 3).await, 3);
    assert_eq!(
        store.get_auth_state("mallory").await.unwrap(),
        Some(foreign)
    );
    assert_eq!(store.get_auth_state("junk").await.unwrap(), Some(garbage));

    // Asked to, rotation clears them; after that there is nothing left to report.
    let out = rotate(db_url, &keys, &["--clear-undecryptable"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("cleared"));
    assert_eq!(store.get_auth_state("mallory").await.unwrap(), None);
    assert_eq!(store.get_auth_state("junk").await.unwrap(), None);
    let out = rotate(db_url, &new, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(decryptable_with(store.as_ref(), &new, 3).await, 3);
    store.close().await;
}

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite:///{}", dir.path().join("hub.sqlite").display())
}

#[tokio::test]
async fn rotate_moves_everything_to_the_new_key_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    full_rotation(&sqlite_url(&dir)).await;
}

#[tokio::test]
async fn interrupted_rotate_resumes_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    interrupted_rotation_resumes(&sqlite_url(&dir)).await;
}

#[tokio::test]
async fn undecryptable_auth_state_is_reported_not_fatal_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    undecryptable_is_reported_by_user(&sqlite_url(&dir)).await;
}

#[tokio::test]
async fn rotate_on_postgres() {
    let Some(server) = pg::server_url("rotate_on_postgres") else {
        return;
    };
    for (label, scenario) in [("full", 0), ("resume", 1), ("garbage", 2)] {
        let db = pg::TestDatabase::create(&server, &format!("rotate_{label}")).await;
        match scenario {
            0 => full_rotation(&db.url).await,
            1 => interrupted_rotation_resumes(&db.url).await,
            _ => undecryptable_is_reported_by_user(&db.url).await,
        }
        db.drop_now().await;
    }
}

#[test]
fn rotate_without_keys_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = rotate(&sqlite_url(&dir), "", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("JUPYTERHUB_CRYPT_KEY is not set"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn rotate_reads_the_database_from_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hubauth.toml");
    std::fs::write(
        &config,
        format!("[Hub]\ndb_url = \"{}\"\n", sqlite_url(&dir)),
    )
    .unwrap();
    let key = CryptKeeper::generate_key();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hubauth"))
        .args(["crypt-key", "rotate", "--config"])
        .arg(&config)
        .env("JUPYTERHUB_CRYPT_KEY", &key)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(dir.path().join("hub.sqlite").exists());
    assert!(text(&out.stdout).contains("0 re-encrypted"));
}
