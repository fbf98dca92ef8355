//! Instruction counts (issue 18, item 5): how many instructions the hub executes for one
//! cached forward-auth check, one `GET /hub/api/user` (session cookie, and API token) and
//! one complete login against the development OpenID provider. Counted by valgrind's
//! callgrind, so a regression shows on a noisy machine, where wall-clock numbers do not (as
//! rustls counts its handshakes).
//!
//! The real `hubauth serve` (the bench profile's binary) runs under
//! `valgrind --tool=callgrind --instr-atstart=no`; this process drives it over loopback
//! HTTP and runs the development provider, so only the hub's own instructions are counted
//! (its HTTP parsing, its database work, its calls to the provider). For each scenario the
//! counters are zeroed, instrumentation is switched on with `callgrind_control`, the
//! scenario runs `BENCH_REPEAT` times one after another (20 for logins), instrumentation
//! goes off and the counters are dumped; the total over the repetitions, divided by their
//! number, is printed.
//!
//! `./scripts/bench-instructions.sh` (installs valgrind when missing) or
//! `cargo bench -p hubauth --bench instructions` (env: `BENCH_REPEAT`, default 200;
//! `BENCH_LOGIN_REPEAT`, default 20; `BENCH_KEEP_DUMPS=1` keeps the callgrind dumps for
//! `callgrind_annotate`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
// A benchmark measures real time.
#![allow(clippy::disallowed_methods)]

#[path = "support/hub_process.rs"]
mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::{HubProcess, browser, free_port, start_idp};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `callgrind_control <args> <pid>`.
fn control(pid: u32, args: &[&str]) {
    let status = Command::new("callgrind_control")
        .args(args)
        .arg(pid.to_string())
        .stdout(std::process::Stdio::null())
        .status()
        .expect("callgrind_control (Debian package valgrind)");
    assert!(status.success(), "callgrind_control {args:?} failed");
}

/// The dump files in `dir` (callgrind writes `callgrind.out.<pid>.<n>` per dump).
fn dumps(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("callgrind.out.") && name.matches('.').count() == 3)
        .collect()
}

/// Instructions (`Ir`) the hub executes while `scenario` runs `repeat` times, divided by
/// `repeat`.
async fn count<F, Fut>(hub: &HubProcess, dir: &Path, repeat: usize, mut scenario: F) -> u64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let before = dumps(dir);
    control(hub.pid(), &["--zero"]);
    control(hub.pid(), &["--instr=on"]);
    for _ in 0..repeat {
        scenario().await;
    }
    control(hub.pid(), &["--instr=off"]);
    control(hub.pid(), &["--dump"]);
    let mut waited = Duration::ZERO;
    let file = loop {
        if let Some(new) = dumps(dir).difference(&before).next() {
            break dir.join(new);
        }
        assert!(waited < Duration::from_secs(60), "no callgrind dump");
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += Duration::from_millis(50);
    };
    // The dump is complete when its `totals:` line is there.
    loop {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        if let Some(total) = text
            .lines()
            .find_map(|line| line.strip_prefix("totals:"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|ir| ir.parse::<u64>().ok())
        {
            return total / repeat as u64;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn main() {
    let repeat = env_usize("BENCH_REPEAT", 200).max(1);
    let login_repeat = env_usize("BENCH_LOGIN_REPEAT", 20).max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let origin = format!("http://127.0.0.1:{port}");
        let idp = start_idp(&origin).await;
        let config = dir.path().join("hubauth.toml");
        let db = dir.path().join("hub.sqlite");
        // A TTL far above the run's length: every check below is served from the cache,
        // however slowly the hub runs under valgrind.
        std::fs::write(
            &config,
            support::config_text(
                dir.path(),
                &db,
                port,
                idp.issuer(),
                "session_cache_ttl = 3600\npurge_expired_interval = 0\n",
            ),
        )
        .unwrap();
        let wrapper: Vec<String> = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            &format!(
                "--callgrind-out-file={}/callgrind.out.%p",
                dir.path().display()
            ),
        ]
        .iter()
        .map(|arg| arg.to_string())
        .collect();
        eprintln!("starting the hub under callgrind (slow)");
        let hub = HubProcess::spawn(&wrapper, &config, port, dir.path().join("hub.log")).await;

        // Warm up: discovery and JWKS fetched, the session and token cached.
        let user = browser();
        let session = support::login(&user, &origin).await;
        for _ in 0..2 {
            support::login(&browser(), &origin).await;
        }
        let token = support::api_token(&db).await;
        let client = reqwest::Client::new();
        let forward_auth = {
            let client = client.clone();
            let url = format!("{origin}/hub/forward-auth");
            let cookie = format!("hubauth-session={session}");
            move || {
                let request = client.get(&url).header("Cookie", &cookie);
                async move {
                    let response = request.send().await.unwrap();
                    assert_eq!(response.status(), 200);
                }
            }
        };
        let api = |header: &'static str, value: String| {
            let client = client.clone();
            let url = format!("{origin}/hub/api/user");
            move || {
                let request = client.get(&url).header(header, &value);
                async move {
                    let response = request.send().await.unwrap();
                    assert_eq!(response.status(), 200);
                    response.bytes().await.unwrap();
                }
            }
        };
        let api_cookie = api("Cookie", format!("hubauth-session={session}"));
        let api_token = api("Authorization", format!("token {token}"));
        forward_auth().await;
        api_cookie().await;
        api_token().await;

        let mut rows = Vec::new();
        rows.push((
            "cached forward-auth check",
            count(&hub, dir.path(), repeat, &forward_auth).await,
            repeat,
        ));
        rows.push((
            "GET /hub/api/user (session cookie)",
            count(&hub, dir.path(), repeat, &api_cookie).await,
            repeat,
        ));
        rows.push((
            "GET /hub/api/user (API token)",
            count(&hub, dir.path(), repeat, &api_token).await,
            repeat,
        ));
        let login_origin = origin.clone();
        rows.push((
            "complete login (development provider)",
            count(&hub, dir.path(), login_repeat, move || {
                let origin = login_origin.clone();
                async move {
                    support::login(&browser(), &origin).await;
                }
            })
            .await,
            login_repeat,
        ));
        println!();
        println!("| scenario | instructions (Ir) per request | repetitions |");
        println!("|---|---|---|");
        for (label, ir, times) in rows {
            println!("| {label} | {ir} | {times} |");
        }
        drop(hub);
        idp.shutdown().await;
        if std::env::var_os("BENCH_KEEP_DUMPS").is_some() {
            // The dumps, one per scenario in order, for `callgrind_annotate`.
            eprintln!("callgrind dumps kept in {}", dir.keep().display());
        }
    });
}
