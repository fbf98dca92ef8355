//! Data safety with the real `hubauth serve` binary: a locked or unreachable database gives
//! 503 with a clear message (a page for browsers, JSON for the REST API, forward-auth and
//! readiness) and
//! the hub recovers when the database comes back; SIGKILL in the middle of a storm of
//! OAuth logins (users, groups, encrypted auth_state, sessions), logouts and REST API writes
//! (users created, given tokens and the admin flag, deleted) leaves a consistent store, on
//! a real SQLite file and, when `HUBAUTH_TEST_POSTGRES_URL` is set (`./scripts/test.sh`
//! sets it), on a fresh PostgreSQL database (skipped with a note otherwise).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_testkit::pg;
use hubauth_testkit::process;

use std::path::{Path, PathBuf};
use std::time::Duration;

use process::{HubProcess, client, hub_config, login, status};
use sqlx::Connection as _;

const UNAVAILABLE: &str = "database is unavailable";

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite:///{}", dir.join("hub.sqlite").display())
}

/// GET with `Accept: application/json`: (status, body, Retry-After).
async fn get_json(client: &reqwest::Client, url: &str) -> (u16, serde_json::Value, Option<String>) {
    let response = client
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let retry = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    (status, body, retry)
}

/// An API token of `user` (an admin), stored as the hub stores them (only the hash).
async fn admin_token(db_url: &str, user: &str) -> String {
    let token = hubauth_server::secrets::random_token();
    let store = hubauth_store::open(db_url).await.unwrap();
    store
        .create_api_token(hubauth_store::NewApiToken {
            hash: hubauth_server::secrets::hash_token(&token),
            prefix: token.chars().take(4).collect(),
            user: user.to_owned(),
            note: "crash_safety test".to_owned(),
            scopes: vec!["inherit".to_owned()],
            created: 1,
            expires: None,
        })
        .await
        .unwrap();
    store.close().await;
    token
}

#[tokio::test]
async fn sqlite_write_lock_beyond_busy_timeout_is_503_then_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let config = hub_config(
        &sqlite_url(dir.path()),
        &dir.path().join("secret"),
        "authenticator_class = \"dummy\"",
    );
    let config = format!("{config}[Authenticator]\nadmin_users = [\"root\"]\n");
    let hub = HubProcess::start(dir.path(), "hub", &config, &[]);
    let alice = client();
    assert_eq!(
        login(&alice, &hub.hub_url, "alice", "pw")
            .await
            .unwrap()
            .status(),
        302
    );
    let token = admin_token(&sqlite_url(dir.path()), "root").await;
    let create_user = |name: &str| {
        reqwest::Client::new()
            .post(format!("{}api/users/{name}", hub.hub_url))
            .header("authorization", format!("token {token}"))
            .send()
    };

    // Another program holds SQLite's write lock for longer than the hub's busy timeout.
    let mut locker = sqlx::sqlite::SqliteConnection::connect(&format!(
        "sqlite://{}",
        dir.path().join("hub.sqlite").display()
    ))
    .await
    .unwrap();
    sqlx::raw_sql("BEGIN EXCLUSIVE")
        .execute(&mut locker)
        .await
        .unwrap();

    // A login must write: it waits for the busy timeout, then gets a clear 503 page.
    let bob = client();
    let response = login(&bob, &hub.hub_url, "bob", "pw").await.unwrap();
    assert_eq!(response.status(), 503, "{}", hub.log());
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .unwrap()
            .to_str()
            .unwrap(),
        "5"
    );
    assert!(
        response
            .headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = response.text().await.unwrap();
    assert!(page.contains(UNAVAILABLE), "{page}");
    assert!(
        !page.contains("locked"),
        "no database detail on the page: {page}"
    );
    // The REST API answers in JSON.
    let response = create_user("carol").await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .unwrap()
            .to_str()
            .unwrap(),
        "5"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], 503);
    assert!(
        body["message"].as_str().unwrap().contains(UNAVAILABLE),
        "{body}"
    );
    // Logging out must write too.
    let response = process::logout(&alice, &hub.hub_url, None).await.unwrap();
    assert_eq!(response.status(), 503);
    // Reads still work while the writer holds the lock (WAL): the session is intact and
    // the hub is still ready to answer.
    assert_eq!(status(&alice, &hub.hub_url, "home").await, 200);
    assert_eq!(status(&alice, &hub.hub_url, "health/ready").await, 200);

    // The lock goes away: everything works again, without a restart.
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut locker)
        .await
        .unwrap();
    locker.close().await.unwrap();
    assert_eq!(
        login(&bob, &hub.hub_url, "bob", "pw")
            .await
            .unwrap()
            .status(),
        302
    );
    assert_eq!(status(&bob, &hub.hub_url, "home").await, 200);
    assert_eq!(create_user("carol").await.unwrap().status(), 201);
    assert_eq!(
        process::logout(&alice, &hub.hub_url, None)
            .await
            .unwrap()
            .status(),
        302
    );
    assert_eq!(status(&alice, &hub.hub_url, "home").await, 302);
    let log = hub.log();
    assert!(log.contains("database unavailable"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}

// ---------------------------------------------------------------------------
// a PostgreSQL server of the test's own, stopped and restarted under the hub

/// A throwaway PostgreSQL server in its own directory on its own port (needs the Debian
/// `postgresql` package and root, which runs it as the `postgres` user).
struct OwnPostgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

impl OwnPostgres {
    /// `None` (with a note) when PostgreSQL's binaries or root are missing.
    fn init() -> Option<OwnPostgres> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|entry| Some(entry.ok()?.path().join("bin")))
            .filter(|bin| bin.join("initdb").exists())
            .max()?;
        let root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .ok()
            .is_some_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0");
        if !root {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let chown = std::process::Command::new("chown")
            .args(["postgres:"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(chown.success());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let server = OwnPostgres { bin, dir, port };
        let out = server
            .as_postgres("initdb")
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
            ])
            .arg("-D")
            .arg(server.data())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(server)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn as_postgres(&self, tool: &str) -> std::process::Command {
        let mut command = std::process::Command::new("runuser");
        command
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join(tool));
        command
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn start(&self) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let out = self
            .as_postgres("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.path().join("server.log"))
            .args(["-w", "-t", "60", "-o", &options, "start"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn stop(&self) {
        let _ = self
            .as_postgres("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "fast", "-w", "stop"])
            .output();
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
async fn postgres_stopped_is_503_and_the_hub_recovers_when_it_returns() {
    let Some(pg) = OwnPostgres::init() else {
        eprintln!(
            "note: PostgreSQL binaries (/usr/lib/postgresql/*/bin) or root are missing: \
             the PostgreSQL outage test was NOT run"
        );
        return;
    };
    pg.start();
    let dir = tempfile::tempdir().unwrap();
    // No session cache: every check goes to the database (with the default cache, checks
    // of sessions seen in the last few seconds would still pass during the outage).
    let config = hub_config(
        &pg.url(),
        &dir.path().join("secret"),
        "authenticator_class = \"dummy\"\nsession_cache_ttl = 0",
    );
    let hub = HubProcess::start(dir.path(), "hub", &config, &[]);
    let alice = client();
    assert_eq!(
        login(&alice, &hub.hub_url, "alice", "pw")
            .await
            .unwrap()
            .status(),
        302
    );
    let forward = format!("{}forward-auth", hub.hub_url);
    assert_eq!(get_json(&alice, &forward).await.0, 200);

    pg.stop();

    // Readiness and forward-auth (asked for JSON) answer 503 with JSON...
    let (code, body, retry) = get_json(&alice, &format!("{}health/ready", hub.hub_url)).await;
    assert_eq!(code, 503, "{}", hub.log());
    assert_eq!(body["status"], "unavailable");
    assert_eq!(retry.as_deref(), Some("5"));
    let (code, body, retry) = get_json(&alice, &forward).await;
    assert_eq!(code, 503, "{}", hub.log());
    assert!(
        body["message"].as_str().unwrap().contains(UNAVAILABLE),
        "{body}"
    );
    assert_eq!(retry.as_deref(), Some("5"));
    // ... browsers get the page, for pages and for a login.
    let response = alice
        .get(format!("{}home", hub.hub_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.text().await.unwrap().contains(UNAVAILABLE));
    let bob = client();
    let response = login(&bob, &hub.hub_url, "bob", "pw").await.unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.text().await.unwrap().contains(UNAVAILABLE));

    // The server comes back on the same port: the hub reconnects by itself.
    pg.start();
    let mut ready = false;
    for _ in 0..120 {
        if status(&alice, &hub.hub_url, "health/ready").await == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(ready, "the hub did not recover: {}", hub.log());
    assert_eq!(status(&alice, &hub.hub_url, "home").await, 200);
    assert_eq!(get_json(&alice, &forward).await.0, 200);
    assert_eq!(
        login(&bob, &hub.hub_url, "bob", "pw")
            .await
            .unwrap()
            .status(),
        302
    );
    assert_eq!(status(&bob, &hub.hub_url, "home").await, 200);
    assert!(!hub.log().contains("panicked"));
}

// ---------------------------------------------------------------------------
// SIGKILL in the middle of a storm of logins

const STORM_USERS: usize = 40;

fn storm_user(i: usize) -> String {
    format!("storm{i:02}")
}

/// The groups the provider reports for storm user `i` (sorted).
fn storm_groups(i: usize) -> Vec<String> {
    let mut groups = vec![
        "everyone".to_owned(),
        format!("team{}", i % 5),
        format!("floor{}", i % 3),
    ];
    groups.sort();
    groups
}

/// One OAuth login through the development provider's login form; the hub's status for
/// the callback (an error when the hub is gone).
async fn oauth_form_login(
    client: &reqwest::Client,
    hub_url: &str,
    user: &str,
) -> Result<u16, String> {
    let err = |e: reqwest::Error| e.to_string();
    let start = client
        .get(format!("{hub_url}oauth_login"))
        .send()
        .await
        .map_err(err)?;
    if start.status() != 302 {
        return Ok(start.status().as_u16());
    }
    let authorize = hubauth_testkit::hub::location(&start);
    let form_page = client.get(&authorize).send().await.map_err(err)?;
    let html = form_page.text().await.map_err(err)?;
    let form = hubauth_testkit::hub::parse_form(&html);
    let action = url::Url::parse(&authorize)
        .and_then(|base| base.join(&form.action))
        .map_err(|e| e.to_string())?;
    let fields = hubauth_testkit::hub::fill_login_form(&form, user, &format!("{user}-pw"));
    let signed_in = client
        .post(action)
        .form(&fields)
        .send()
        .await
        .map_err(err)?;
    let callback = hubauth_testkit::hub::location(&signed_in);
    if !callback.contains("/hub/oauth_callback") {
        return Err(format!("provider answered {}", signed_in.status()));
    }
    let done = client.get(&callback).send().await.map_err(err)?;
    Ok(done.status().as_u16())
}

/// Rows that must never exist, whatever moment the hub died at: (what, `SELECT COUNT(*)`
/// query), the same SQL on SQLite and PostgreSQL.
const NEVER: &[(&str, &str)] = &[
    (
        "sessions of missing users",
        "SELECT COUNT(*) FROM sessions WHERE user_id NOT IN (SELECT id FROM users)",
    ),
    (
        "memberships of missing users or groups",
        "SELECT COUNT(*) FROM user_group_map WHERE user_id NOT IN (SELECT id FROM users) \
         OR group_id NOT IN (SELECT id FROM groups)",
    ),
    (
        "role grants of missing users or roles",
        "SELECT COUNT(*) FROM user_role_map WHERE user_id NOT IN (SELECT id FROM users) \
         OR role_id NOT IN (SELECT id FROM roles)",
    ),
    (
        "API tokens of missing users",
        "SELECT COUNT(*) FROM api_tokens WHERE user_id NOT IN (SELECT id FROM users)",
    ),
    (
        // The admin flag and the admin role change together.
        "admin flags without the admin role, or the other way round",
        "SELECT COUNT(*) FROM users u WHERE u.admin != EXISTS (SELECT 1 FROM user_role_map m \
         JOIN roles r ON r.id = m.role_id WHERE r.name = 'admin' AND m.user_id = u.id)",
    ),
    (
        // A user and its default role are written in one transaction.
        "users without the default role",
        "SELECT COUNT(*) FROM users WHERE id NOT IN (SELECT m.user_id FROM user_role_map m \
         JOIN roles r ON r.id = m.role_id WHERE r.name = 'user')",
    ),
];

/// One stored storm user `name` (`None` when not a storm user): each login writes the
/// user, its groups and its auth_state in one transaction, so a stored storm user has
/// exactly its groups and readable auth_state, never a part.
fn check_storm_user(
    name: &str,
    mut groups: Vec<String>,
    auth_state: Option<Vec<u8>>,
    crypt: &hubauth_store::CryptKeeper,
) -> Option<()> {
    let i = name.strip_prefix("storm")?.parse::<usize>().ok()?;
    groups.sort();
    assert_eq!(groups, storm_groups(i), "{name}");
    let auth_state = auth_state.unwrap_or_else(|| panic!("{name} has no auth_state"));
    let value = crypt.decrypt_json(&auth_state).unwrap().value;
    assert_eq!(value["oauth_user"]["preferred_username"], name);
    Some(())
}

/// Everything that must hold in the database at `db_url`, whatever moment the hub died at.
async fn assert_consistent(db_url: &str, crypt: &hubauth_store::CryptKeeper) {
    if db_url.starts_with("sqlite:") {
        assert_consistent_sqlite(db_url, crypt).await;
    } else {
        assert_consistent_postgres(db_url, crypt).await;
    }
}

/// The SQLite file: intact pages, no foreign key violation, nothing of [`NEVER`], every
/// storm user whole.
async fn assert_consistent_sqlite(db_url: &str, crypt: &hubauth_store::CryptKeeper) {
    let path = db_url.trim_start_matches("sqlite://");
    let mut db = sqlx::sqlite::SqliteConnection::connect(&format!("sqlite://{path}"))
        .await
        .unwrap();
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(integrity, "ok");
    let fk_violations = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(&mut db)
        .await
        .unwrap();
    assert!(fk_violations.is_empty(), "foreign key violations");
    for &(what, sql) in NEVER {
        let count: i64 = sqlx::query_scalar(sql).fetch_one(&mut db).await.unwrap();
        assert_eq!(count, 0, "{what}");
    }
    let users: Vec<(i64, String, Option<Vec<u8>>)> =
        sqlx::query_as("SELECT id, name, encrypted_auth_state FROM users")
            .fetch_all(&mut db)
            .await
            .unwrap();
    let mut storm_seen = 0;
    for (id, name, auth_state) in users {
        let groups: Vec<String> = sqlx::query_scalar(
            "SELECT g.name FROM user_group_map m JOIN groups g ON g.id = m.group_id \
             WHERE m.user_id = ?",
        )
        .bind(id)
        .fetch_all(&mut db)
        .await
        .unwrap();
        storm_seen += usize::from(check_storm_user(&name, groups, auth_state, crypt).is_some());
    }
    assert!(storm_seen > 0, "the storm stored no user at all");
    db.close().await.unwrap();
}

/// The PostgreSQL database: every foreign key of the schema declared and validated (the
/// server enforces them), nothing of [`NEVER`], every storm user whole.
async fn assert_consistent_postgres(db_url: &str, crypt: &hubauth_store::CryptKeeper) {
    let mut db = sqlx::postgres::PgConnection::connect(db_url).await.unwrap();
    let foreign_keys: Vec<(String, bool)> = sqlx::query_as(
        "SELECT conrelid::regclass::text, convalidated FROM pg_constraint \
         WHERE contype = 'f' AND connamespace = 'public'::regnamespace",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    for table in ["user_group_map", "user_role_map", "sessions", "api_tokens"] {
        assert!(
            foreign_keys.iter().any(|(t, _)| t == table),
            "no foreign key on {table}: {foreign_keys:?}"
        );
    }
    assert!(
        foreign_keys.iter().all(|(_, validated)| *validated),
        "foreign keys not validated: {foreign_keys:?}"
    );
    for &(what, sql) in NEVER {
        let count: i64 = sqlx::query_scalar(sql).fetch_one(&mut db).await.unwrap();
        assert_eq!(count, 0, "{what}");
    }
    let users: Vec<(i64, String, Option<Vec<u8>>)> =
        sqlx::query_as("SELECT id, name, encrypted_auth_state FROM users")
            .fetch_all(&mut db)
            .await
            .unwrap();
    let mut storm_seen = 0;
    for (id, name, auth_state) in users {
        let groups: Vec<String> = sqlx::query_scalar(
            "SELECT g.name FROM user_group_map m JOIN groups g ON g.id = m.group_id \
             WHERE m.user_id = $1",
        )
        .bind(id)
        .fetch_all(&mut db)
        .await
        .unwrap();
        storm_seen += usize::from(check_storm_user(&name, groups, auth_state, crypt).is_some());
    }
    assert!(storm_seen > 0, "the storm stored no user at all");
    db.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_a_login_storm_leaves_a_consistent_store() {
    login_storm_killed(String::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_a_login_storm_leaves_a_consistent_store_on_postgres() {
    pg::on_fresh_database(
        "sigkill_during_a_login_storm_leaves_a_consistent_store_on_postgres",
        "storm",
        login_storm_killed,
    )
    .await;
}

/// A storm of OAuth logins, logouts and REST API writes, SIGKILL in the middle, then the
/// store checked and the hub restarted on it: on the database at `db_url`, or on a SQLite
/// file in the hub's directory when it is empty.
async fn login_storm_killed(db_url: String) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let hub_origin = format!("http://127.0.0.1:{port}");
    let mut idp = hubauth_devidp::DevIdp::builder().client(
        hubauth_devidp::Client::confidential(
            "hub",
            "hub-secret",
            format!("{hub_origin}/hub/oauth_callback"),
        )
        .with_require_pkce(false),
    );
    for i in 0..STORM_USERS {
        let name = storm_user(i);
        idp = idp.user(
            hubauth_devidp::DevUser::new(&name, format!("{name}-pw"))
                .claim("preferred_username", name.as_str())
                .claim("groups", serde_json::json!(storm_groups(i))),
        );
    }
    let idp = idp.start().await.unwrap();
    let db_url = if db_url.is_empty() {
        sqlite_url(dir.path())
    } else {
        db_url
    };
    let key = hubauth_store::CryptKeeper::generate_key();
    let crypt = hubauth_store::CryptKeeper::from_keys_str(&key).unwrap();
    let config = format!(
        "{}[GenericOAuthenticator]\nclient_id = \"hub\"\nclient_secret = \"hub-secret\"\n\
         username_claim = \"preferred_username\"\nscope = [\"openid\", \"profile\", \"groups\"]\n\
         oidc_issuer = \"{}\"\nallow_all = true\nenable_auth_state = true\nmanage_groups = true\n\
         admin_users = [\"storm-admin\"]\n",
        hub_config(
            &db_url,
            &dir.path().join("secret"),
            "authenticator_class = \"generic-oauth\"",
        )
        .replace("127.0.0.1:0", &format!("127.0.0.1:{port}")),
        idp.issuer()
    );
    let env = [("JUPYTERHUB_CRYPT_KEY", key.as_str())];
    let mut hub = HubProcess::start(dir.path(), "hub", &config, &env);
    let hub_url = hub.hub_url.clone();

    // An admin's API token (stored as the API stores them: only the hash), for REST API
    // writes during the storm.
    let admin_token = admin_token(&db_url, "storm-admin").await;

    // A session made before the storm, checked after the restart.
    let survivor = client();
    assert_eq!(
        oauth_form_login(&survivor, &hub_url, &storm_user(0))
            .await
            .unwrap(),
        303,
        "{}",
        hub.log()
    );

    let stop = Arc::new(AtomicBool::new(false));
    let logins = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for worker in 0..8 {
        let stop = stop.clone();
        let logins = logins.clone();
        let hub_url = hub_url.clone();
        workers.push(tokio::spawn(async move {
            let mut round = 0;
            while !stop.load(Ordering::Relaxed) {
                let user = storm_user(1 + (worker * 7 + round * 3) % (STORM_USERS - 1));
                round += 1;
                let c = client();
                match oauth_form_login(&c, &hub_url, &user).await {
                    Ok(303) => {
                        logins.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(_) => {}
                    Err(_) => break, // the hub is gone
                }
                let _ = c.get(format!("{hub_url}home")).send().await;
                if round % 2 == 0 {
                    let _ = process::logout(&c, &hub_url, None).await;
                }
            }
        }));
    }
    // REST API writers: create users, give them tokens and the admin flag, and delete
    // storm users (who may be logging in at that very moment).
    let api_writes = Arc::new(AtomicUsize::new(0));
    for worker in 0..3 {
        let stop = stop.clone();
        let api_writes = api_writes.clone();
        let api = format!("{hub_url}api");
        let auth = format!("token {admin_token}");
        workers.push(tokio::spawn(async move {
            let c = client();
            let mut round = 0;
            while !stop.load(Ordering::Relaxed) {
                let name = format!("api{worker}x{round}");
                let victim = storm_user(1 + (worker * 11 + round * 5) % (STORM_USERS - 1));
                round += 1;
                let requests = [
                    c.post(format!("{api}/users/{name}"))
                        .json(&serde_json::json!({"admin": false})),
                    c.post(format!("{api}/users/{name}/tokens"))
                        .json(&serde_json::json!({"note": "storm"})),
                    c.patch(format!("{api}/users/{name}"))
                        .json(&serde_json::json!({"admin": true})),
                    c.delete(format!("{api}/users/{victim}")),
                ];
                for request in requests {
                    match request.header("authorization", &auth).send().await {
                        Ok(response) if response.status().is_success() => {
                            api_writes.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(_) => {}
                        Err(_) => return, // the hub is gone
                    }
                }
            }
        }));
    }
    // Kill it in the middle: once enough logins went through, while others are in flight.
    for _ in 0..600 {
        if logins.load(Ordering::Relaxed) >= 40 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        logins.load(Ordering::Relaxed) >= 40,
        "the storm did not get going: {}",
        hub.log()
    );
    assert!(
        api_writes.load(Ordering::Relaxed) > 0,
        "no REST API write succeeded: {}",
        hub.log()
    );
    tokio::time::sleep(Duration::from_millis(137)).await;
    hub.kill();
    eprintln!(
        "killed the hub after {} OAuth logins and {} REST API writes",
        logins.load(Ordering::Relaxed),
        api_writes.load(Ordering::Relaxed)
    );
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.unwrap();
    }
    assert!(!hub.log().contains("panicked"), "{}", hub.log());

    assert_consistent(&db_url, &crypt).await;

    // The restarted hub serves, and the session made before the storm still works.
    drop(hub);
    let hub = HubProcess::start(dir.path(), "hub", &config, &env);
    assert_eq!(status(&survivor, &hub.hub_url, "health/ready").await, 200);
    assert_eq!(
        status(&survivor, &hub.hub_url, "home").await,
        200,
        "{}",
        hub.log()
    );
    let fresh = client();
    assert_eq!(
        oauth_form_login(&fresh, &hub.hub_url, &storm_user(3))
            .await
            .unwrap(),
        303
    );
    assert_eq!(status(&fresh, &hub.hub_url, "home").await, 200);
}
