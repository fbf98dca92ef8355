//! Data safety with the real `hubauth serve` binary: a locked or unreachable database gives
//! 503 with a clear message (a page for browsers, JSON for forward-auth and readiness) and
//! the hub recovers when the database comes back; SIGKILL in the middle of a storm of
//! logins leaves a consistent store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod proc;

use std::path::{Path, PathBuf};
use std::time::Duration;

use proc::{HubProcess, client, hub_config, login, status};
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

#[tokio::test]
async fn sqlite_write_lock_beyond_busy_timeout_is_503_then_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let config = hub_config(
        &sqlite_url(dir.path()),
        &dir.path().join("secret"),
        "authenticator_class = \"dummy\"",
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
    // Logging out must write too.
    let response = alice
        .get(format!("{}logout", hub.hub_url))
        .send()
        .await
        .unwrap();
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
    assert_eq!(status(&alice, &hub.hub_url, "logout").await, 302);
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
    let config = hub_config(
        &pg.url(),
        &dir.path().join("secret"),
        "authenticator_class = \"dummy\"",
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
