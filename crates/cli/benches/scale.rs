//! The hub process at scale (issue 18, items 4 and 6): hub CPU per complete login, and the
//! hub's memory with many users, many cached sessions and many logins done.
//!
//! The real `hubauth serve` runs as a child process (the bench profile's binary) with
//! `GenericOAuthenticator` against the development OpenID provider, which runs in this
//! process; so the child's CPU time (`/proc/<pid>/stat`, user + system, all threads) and
//! memory (`VmRSS`, `VmHWM` in `/proc/<pid>/status`) are the hub's alone.
//!
//! `cargo bench -p hubauth --bench scale` (env: `BENCH_LOGINS`, default 1000 logins per
//! concurrency for the CPU figure; `BENCH_USERS`, default 10000; `BENCH_SESSIONS`, default
//! 100000; `BENCH_SCALE_LOGINS`, default 1000; `BENCH_PART`: `cpu`, `memory` or both, the
//! default).
//!
//! 1. Login CPU: a fresh hub, `BENCH_LOGINS` complete logins at concurrency 1, then as many
//!    at concurrency 4; prints the hub's CPU time per login for each.
//! 2. Memory: a SQLite file with `BENCH_USERS` users (each with the `user` role and one of
//!    100 groups) and `BENCH_SESSIONS` live sessions spread over them, filled before the
//!    hub starts; a forward-auth check with every session's cookie (so every session is in
//!    the session cache: `session_cache_ttl = 3600`, `session_cache_size` above the count),
//!    then `BENCH_SCALE_LOGINS` complete logins; prints the hub's RSS after each step
//!    (`BENCH_SMAPS=<file>`: a copy of its `/proc/<pid>/smaps` at the end).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
// A benchmark measures real time.
#![allow(clippy::disallowed_methods)]

#[path = "support/hub_process.rs"]
mod support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use sha2::Digest;
use sqlx::Connection as _;
use support::{HubProcess, free_port, start_idp};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The cookie value of bench session `index` (the hub stores its SHA-256, hex).
fn session_token(index: usize) -> String {
    format!("bench-session-{index:07}-0123456789abcdefghijklmnopqrstuvwxyz")
}

/// Creates the schema with the hub's own migrations, then `users` users (with the `user`
/// role and one of 100 groups each) and `sessions` live sessions spread over them.
async fn fill(db: &Path, users: usize, sessions: usize, now: i64) {
    let url = format!("sqlite:///{}", db.display());
    let store = hubauth_store::open(&url).await.unwrap();
    store.ensure_user("admin", Some(true), 1).await.unwrap();
    store.close().await;
    let mut conn = sqlx::sqlite::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let started = Instant::now();
    let mut tx = conn.begin().await.unwrap();
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?) \
         INSERT INTO users (name, admin, created, last_activity) \
         SELECT printf('user%06d', i), FALSE, 1700000000, 1700000000 + i FROM n",
    )
    .bind(users as i64)
    .execute(&mut *tx)
    .await
    .unwrap();
    for statement in [
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < 100) \
         INSERT INTO groups (name) SELECT printf('group%02d', i) FROM n",
        "INSERT OR IGNORE INTO user_role_map (user_id, role_id) \
         SELECT u.id, r.id FROM users u, roles r WHERE r.name = 'user'",
        "INSERT INTO user_group_map (user_id, group_id) \
         SELECT u.id, g.id FROM users u JOIN groups g \
         ON g.name = printf('group%02d', u.id % 100) WHERE u.name != 'admin'",
    ] {
        sqlx::query(statement).execute(&mut *tx).await.unwrap();
    }
    for index in 0..sessions {
        let hash: String = sha2::Sha256::digest(session_token(index).as_bytes())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, created, expires, last_seen) \
             SELECT ?, id, ?, ?, ? FROM users WHERE name = ?",
        )
        .bind(hash)
        .bind(now)
        .bind(now + 86_400)
        .bind(now)
        .bind(format!("user{:06}", index % users))
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    conn.close().await.unwrap();
    eprintln!(
        "filled {} with {users} users and {sessions} sessions in {:.1} s",
        db.display(),
        started.elapsed().as_secs_f64()
    );
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Part 1: hub CPU per complete login at concurrency 1 and 4.
async fn login_cpu(count: usize) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let origin = format!("http://127.0.0.1:{port}");
    let idp = start_idp(&origin).await;
    let config = dir.path().join("hubauth.toml");
    let db = dir.path().join("hub.sqlite");
    std::fs::write(
        &config,
        support::config_text(dir.path(), &db, port, idp.issuer(), ""),
    )
    .unwrap();
    let hub = HubProcess::spawn(&[], &config, port, dir.path().join("hub.log")).await;
    // Warm up: discovery, JWKS, the database's first writes.
    support::logins(&origin, 20, 1).await;
    if let Ok(copy) = std::env::var("BENCH_HUB_LOG_COPY") {
        // What the hub logged for the warm-up logins (with `BENCH_HUB_LOG`).
        std::fs::copy(&hub.log, copy).unwrap();
    }
    for concurrency in [1, 4] {
        let cpu_before = hub.cpu_time();
        let started = Instant::now();
        support::logins(&origin, count, concurrency).await;
        let wall = started.elapsed();
        let cpu = hub.cpu_time() - cpu_before;
        println!(
            "login cpu: concurrency {concurrency}: {count} logins in {:.2} s ({:.0} logins/s); \
             hub CPU {:.2} s = {:.2} ms per login",
            wall.as_secs_f64(),
            count as f64 / wall.as_secs_f64(),
            cpu.as_secs_f64(),
            cpu.as_secs_f64() * 1000.0 / count as f64
        );
    }
    idp.shutdown().await;
}

/// Part 2: the hub's RSS with many users, cached sessions and logins.
async fn memory(users: usize, sessions: usize, logins: usize) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let origin = format!("http://127.0.0.1:{port}");
    let idp = start_idp(&origin).await;
    let db = dir.path().join("hub.sqlite");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    fill(&db, users, sessions, now).await;
    let config = dir.path().join("hubauth.toml");
    std::fs::write(
        &config,
        support::config_text(
            dir.path(),
            &db,
            port,
            idp.issuer(),
            // The stored sessions have no auth_state to refresh from: without
            // `auth_refresh_age = 0` their first check would end them (as upstream).
            &format!(
                "session_cache_ttl = {}\nsession_cache_size = {}\n\
                 [Authenticator]\nauth_refresh_age = 0\n",
                // `BENCH_CACHE_TTL=0` measures the same without the session cache.
                env_usize("BENCH_CACHE_TTL", 3600),
                sessions + logins + 1
            ),
        ),
    )
    .unwrap();
    let hub = HubProcess::spawn(&[], &config, port, dir.path().join("hub.log")).await;
    let (rss, _) = hub.memory_kib();
    println!(
        "memory: started with {users} users and {sessions} stored sessions: RSS {:.1} MiB",
        mib(rss)
    );

    // Every session through forward-auth once: each lands in the session cache.
    let client = reqwest::Client::builder().build().unwrap();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..8 {
        let client = client.clone();
        let next = next.clone();
        let url = format!("{origin}/hub/forward-auth");
        workers.push(tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= sessions {
                    break;
                }
                let response = client
                    .get(&url)
                    .header(
                        "Cookie",
                        format!("hubauth-session={}", session_token(index)),
                    )
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200, "session {index} refused");
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
    let (rss, _) = hub.memory_kib();
    println!(
        "memory: {sessions} sessions checked (cached) in {:.1} s: RSS {:.1} MiB \
         (anonymous {:.1} MiB, files {:.1} MiB)",
        started.elapsed().as_secs_f64(),
        mib(rss),
        mib(hub.status_kib("RssAnon:")),
        mib(hub.status_kib("RssFile:")),
    );

    let started = Instant::now();
    support::logins(&origin, logins, 4).await;
    let (rss, peak) = hub.memory_kib();
    println!(
        "memory: {logins} logins in {:.1} s: RSS {:.1} MiB (peak {:.1} MiB; anonymous {:.1} MiB, \
         files {:.1} MiB)",
        started.elapsed().as_secs_f64(),
        mib(rss),
        mib(peak),
        mib(hub.status_kib("RssAnon:")),
        mib(hub.status_kib("RssFile:")),
    );
    // `BENCH_SMAPS=<file>` keeps the hub's memory map at the end, to see where it goes.
    if let Ok(out) = std::env::var("BENCH_SMAPS") {
        std::fs::copy(format!("/proc/{}/smaps", hub.pid()), out).unwrap();
    }
    println!(
        "memory: {users} users, {sessions} cached sessions, {logins} logins: RSS {:.1} MiB (target: at most 40 MiB)",
        mib(rss)
    );
    drop(hub);
    idp.shutdown().await;
}

fn main() {
    let part = std::env::var("BENCH_PART").unwrap_or_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        if part.is_empty() || part == "cpu" {
            login_cpu(env_usize("BENCH_LOGINS", 1000).max(1)).await;
        }
        if part.is_empty() || part == "memory" {
            memory(
                env_usize("BENCH_USERS", 10_000).max(1),
                env_usize("BENCH_SESSIONS", 100_000),
                env_usize("BENCH_SCALE_LOGINS", 1000),
            )
            .await;
        }
    });
}
