//! How soon another replica denies a session after a logout (issue 18, item 1).
//!
//! Two `hubauth serve` processes (the bench profile's binary) on one PostgreSQL database,
//! both with `session_cache_ttl = 3600`, so without the notification replica B would keep
//! accepting an ended session for an hour. For each of `BENCH_LOGOUTS` users (default 200):
//! log in on A, check the session at B's forward-auth twice (now cached on B), log out on A,
//! then check at B back to back until B denies. Prints, over all logouts, the time from A's
//! logout response to B's first denial (median, p99, max), and how many were denied by the
//! very first check after the logout response.
//!
//! `HUBAUTH_TEST_POSTGRES_URL=postgres://... cargo bench -p hubauth --bench invalidation`
//! (the bench creates and drops a database of its own on that server).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
// A benchmark measures real time.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use hubauth_server::cookies::SESSION_COOKIE;
use hubauth_testkit::pg;
use hubauth_testkit::process::{HubProcess, hub_config, logout, scrape_xsrf};

fn bare_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// Logs `user` in with the form on `hub`; the session cookie's value.
async fn login(client: &reqwest::Client, hub: &HubProcess, user: &str) -> String {
    let page = client
        .get(format!("{}login", hub.hub_url))
        .send()
        .await
        .unwrap();
    let xsrf_cookie = set_cookie(&page, "_xsrf").unwrap_or_default();
    let xsrf = scrape_xsrf(&page.text().await.unwrap()).unwrap();
    let response = client
        .post(format!("{}login", hub.hub_url))
        .header("cookie", format!("_xsrf={xsrf_cookie}"))
        .form(&[
            ("_xsrf", xsrf.as_str()),
            ("username", user),
            ("password", "pw"),
        ])
        .send()
        .await
        .unwrap();
    assert!(response.status().is_redirection(), "{}", hub.log());
    set_cookie(&response, SESSION_COOKIE).expect("a session cookie")
}

/// B's forward-auth status for the session.
async fn check(client: &reqwest::Client, hub: &HubProcess, session: &str) -> u16 {
    client
        .get(format!("{}forward-auth", hub.hub_url))
        .header("cookie", format!("{SESSION_COOKIE}={session}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let Some(server) = pg::server_url("the invalidation bench") else {
        return;
    };
    let logouts: usize = std::env::var("BENCH_LOGOUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let db = pg::TestDatabase::create(&server, "bench_invalidation").await;
    let dir = tempfile::tempdir().unwrap();
    {
        let secret = dir.path().join("shared_cookie_secret");
        let config = hub_config(
            &db.url,
            &secret,
            "authenticator_class = \"dummy\"\nsession_cache_ttl = 3600",
        );
        let a = HubProcess::start(dir.path(), "hub-a", &config, &[]);
        let b = HubProcess::start(dir.path(), "hub-b", &config, &[]);
        // B listens once its log says so (its first flush).
        let start = Instant::now();
        while !b
            .log()
            .contains("listening for session cache invalidations")
        {
            assert!(start.elapsed() < Duration::from_secs(30), "{}", b.log());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let client = bare_client();
        let mut took = Vec::with_capacity(logouts);
        let mut checks_after = Vec::with_capacity(logouts);
        for i in 0..logouts {
            let session = login(&client, &a, &format!("user{i}")).await;
            assert_eq!(check(&client, &b, &session).await, 200);
            assert_eq!(check(&client, &b, &session).await, 200);
            let out = logout(
                &client,
                &a.hub_url,
                Some(&format!("{SESSION_COOKIE}={session}")),
            )
            .await
            .unwrap();
            assert!(out.status().is_redirection());
            let logged_out = Instant::now();
            let mut checks = 0u32;
            loop {
                checks += 1;
                let status = check(&client, &b, &session).await;
                if status == 401 {
                    break;
                }
                assert_eq!(status, 200);
                assert!(
                    logged_out.elapsed() < Duration::from_secs(60),
                    "B still accepts after a minute; its log:\n{}",
                    b.log()
                );
            }
            took.push(logged_out.elapsed());
            checks_after.push(checks);
        }
        took.sort();
        let first = checks_after.iter().filter(|checks| **checks == 1).count();
        println!(
            "logout on A -> first denial on B, {logouts} logouts: median {}, p99 {}, max {}, min {}; denied by the first check after the logout response: {first}/{logouts}; most checks before the denial: {}",
            ms(percentile(&took, 50.0)),
            ms(percentile(&took, 99.0)),
            ms(*took.last().unwrap()),
            ms(took[0]),
            checks_after.iter().max().unwrap()
        );
    }
    db.drop_now().await;
}
