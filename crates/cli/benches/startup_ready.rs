//! Start-up time with many stored users, as an operator sees it: from spawning the real
//! `hubauth serve` process to the first 200 on `/hub/health/ready`, on a SQLite file
//! holding `BENCH_USERS` users (default 100,000), each with the `user` role and one group,
//! filled by bulk insert before the runs. (`startup.rs` measures the same in-process, with
//! a REST API user page.)
//!
//! `cargo bench -p hubauth --bench startup_ready` (env: `BENCH_USERS`, default 100000;
//! `BENCH_RUNS`, default 5; `BENCH_ALLOWED`, default 10000). Prints each run and the
//! median, the same for an empty database as the baseline, and a first start that creates
//! `BENCH_ALLOWED` users listed in `allowed_users`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
// A benchmark measures real time.
#![allow(clippy::disallowed_methods)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::Connection as _;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Creates the schema with the hub's own migrations, then inserts `users` users (with the
/// `user` role and one of 100 groups each) in one transaction.
async fn fill(db: &Path, users: usize) {
    let url = format!("sqlite:///{}", db.display());
    let store = hubauth_store::open(&url).await.unwrap();
    // Creates the default `user` role as the hub would.
    store.ensure_user("admin", Some(true), 1).await.unwrap();
    store.close().await;
    let mut conn = sqlx::sqlite::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let started = Instant::now();
    let mut tx = conn.begin().await.unwrap();
    if users > 0 {
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?) \
         INSERT INTO users (name, admin, created, last_activity) \
         SELECT printf('user%06d', i), FALSE, 1700000000, 1700000000 + i FROM n",
        )
        .bind(users as i64)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < 100) \
         INSERT INTO groups (name) SELECT printf('group%02d', i) FROM n",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT OR IGNORE INTO user_role_map (user_id, role_id) \
         SELECT u.id, r.id FROM users u, roles r WHERE r.name = 'user'",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO user_group_map (user_id, group_id) \
         SELECT u.id, g.id FROM users u JOIN groups g \
         ON g.name = printf('group%02d', u.id % 100) WHERE u.name != 'admin'",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    eprintln!(
        "filled {} with {count} users in {:.1} s",
        db.display(),
        started.elapsed().as_secs_f64()
    );
}

/// Spawns `hubauth serve` and returns the time until `/hub/health/ready` first answers 200.
/// `allowed` is the `allowed_users` list (TOML array text).
async fn time_to_ready(dir: &Path, db: &Path, allowed: &str) -> Duration {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.join("hubauth.toml");
    // allowed_users makes allow_existing_users default to true, so every stored user is
    // added to the allowed set at start-up (JupyterHub's init_users).
    std::fs::write(
        &config,
        format!(
            "[Hub]\nauthenticator_class = \"dummy\"\nbind_url = \"http://127.0.0.1:{port}\"\n\
             db_url = \"sqlite:///{}\"\ncookie_secret_file = \"{}\"\n\
             [Authenticator]\nadmin_users = [\"admin\"]\nallowed_users = {allowed}\n",
            db.display(),
            dir.join("cookie_secret").display()
        ),
    )
    .unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let ready = format!("http://127.0.0.1:{port}/hub/health/ready");
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hubauth"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("HUBAUTH_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let elapsed = loop {
        if let Ok(response) = client.get(&ready).send().await
            && response.status() == 200
        {
            break started.elapsed();
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("hubauth serve exited with {status}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "not ready after two minutes"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    let _ = child.kill();
    let _ = child.wait();
    elapsed
}

async fn measure(label: &str, users: usize, runs: usize) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hub.sqlite");
    fill(&db, users).await;
    let mut times = Vec::with_capacity(runs);
    for run in 1..=runs {
        let took = time_to_ready(dir.path(), &db, "[\"user000001\"]").await;
        println!(
            "{label}: run {run}: ready after {:.0} ms",
            took.as_secs_f64() * 1000.0
        );
        times.push(took);
    }
    summary(label, &format!("{users} stored users"), times);
}

/// Prints the median, minimum and maximum of the runs.
fn summary(label: &str, what: &str, mut times: Vec<Duration>) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label}: {what}: median {:.0} ms, min {:.0} ms, max {:.0} ms over {} runs",
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() - 1]),
        times.len()
    );
}

/// A first start with `count` names in `allowed_users` that are not stored yet (each run
/// on a fresh database): start-up creates them all.
async fn measure_allowed(count: usize, runs: usize) {
    let names: Vec<String> = (0..count).map(|i| format!("\"new{i:06}\"")).collect();
    let allowed = format!("[{}]", names.join(", "));
    let mut times = Vec::with_capacity(runs);
    for run in 1..=runs {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("hub.sqlite");
        fill(&db, 0).await;
        let took = time_to_ready(dir.path(), &db, &allowed).await;
        println!(
            "new allowed_users: run {run}: ready after {:.0} ms",
            took.as_secs_f64() * 1000.0
        );
        times.push(took);
    }
    summary(
        "new allowed_users",
        &format!("{count} names created at start-up"),
        times,
    );
}

fn main() {
    let users = env_usize("BENCH_USERS", 100_000);
    let runs = env_usize("BENCH_RUNS", 5).max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        measure("baseline", 0, runs).await;
        measure("many users", users, runs).await;
        measure_allowed(env_usize("BENCH_ALLOWED", 10_000), runs).await;
    });
}
