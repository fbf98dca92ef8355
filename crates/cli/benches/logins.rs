//! Login throughput: complete OAuth logins (hub `oauth_login` → development provider
//! `authorize` → hub `oauth_callback` → session) over loopback, with the provider and the
//! hub in this process on their own sockets.
//!
//! `cargo bench -p hubauth --bench logins` (env: `BENCH_LOGINS`, default 2000;
//! `BENCH_CONCURRENCY`, default 16). Prints logins/s and latency percentiles.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
// A benchmark measures real time.
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use hubauth_config::{Config, MapEnv};
use hubauth_devidp::{Client, DevIdp, DevUser};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

async fn one_login(origin: &str) -> Duration {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let started = Instant::now();
    let start = browser
        .get(format!("{origin}/hub/oauth_login"))
        .send()
        .await
        .unwrap();
    let at_idp = browser.get(location(&start)).send().await.unwrap();
    let done = browser.get(location(&at_idp)).send().await.unwrap();
    assert!(
        done.status() == 302 || done.status() == 303,
        "login failed: {}",
        done.status()
    );
    started.elapsed()
}

fn main() {
    let logins = env_usize("BENCH_LOGINS", 2000);
    let concurrency = env_usize("BENCH_CONCURRENCY", 16).max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let idp = DevIdp::builder()
            .client(Client::confidential("hub", "s3cret", format!("{origin}/hub/oauth_callback")).with_require_pkce(true))
            .user(DevUser::new("ann", "pw").claim("preferred_username", "ann").claim("groups", serde_json::json!(["staff"])))
            .auto_approve(Some("ann".into()))
            .start()
            .await
            .unwrap();
        let dir = tempfile::TempDir::new().unwrap();
        let text = format!(
            "[Hub]\nauthenticator_class = \"generic-oauth\"\nbind_url = \"http://127.0.0.1:0\"\ndb_url = \"sqlite:///{db}\"\ncookie_secret_file = \"{secret}\"\nlogin_rate_limit = 0\n[GenericOAuthenticator]\nclient_id = \"hub\"\nclient_secret = \"s3cret\"\noidc_issuer = \"{issuer}\"\nscope = [\"openid\", \"profile\", \"groups\"]\nusername_claim = \"preferred_username\"\nmanage_groups = true\nallowed_groups = [\"staff\"]\nenable_auth_state = true\n",
            db = dir.path().join("hub.sqlite").display(),
            secret = dir.path().join("secret").display(),
            issuer = idp.issuer(),
        );
        let registry = hubauth_cli::registry().unwrap();
        let config = Config::parse(&text, "bench.toml", &registry).unwrap();
        let mut env = MapEnv::new();
        env.set("JUPYTERHUB_CRYPT_KEY", hubauth_store::CryptKeeper::generate_key());
        let built = hubauth_cli::build(&config, &registry, &env).unwrap();
        let hub = hubauth_cli::start(built, &env).await.unwrap();
        tokio::spawn(hub.serve(listener, std::future::pending()));

        // Warm up (discovery, JWKS, connection set-up).
        for _ in 0..20 {
            one_login(&origin).await;
        }
        let origin = Arc::new(origin);
        let per_worker = logins.div_ceil(concurrency);
        let started = Instant::now();
        let mut workers = Vec::new();
        for _ in 0..concurrency {
            let origin = origin.clone();
            workers.push(tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(per_worker);
                for _ in 0..per_worker {
                    latencies.push(one_login(&origin).await);
                }
                latencies
            }));
        }
        let mut latencies = Vec::new();
        for worker in workers {
            latencies.extend(worker.await.unwrap());
        }
        let elapsed = started.elapsed();
        latencies.sort();
        let pct = |p: f64| {
            let index = ((latencies.len() as f64 - 1.0) * p).round() as usize;
            latencies[index].as_secs_f64() * 1000.0
        };
        println!("logins: {} with concurrency {concurrency} in {:.2} s", latencies.len(), elapsed.as_secs_f64());
        println!("throughput: {:.0} logins/s", latencies.len() as f64 / elapsed.as_secs_f64());
        println!(
            "latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
            pct(0.50),
            pct(0.90),
            pct(0.99),
            pct(1.0)
        );
        idp.shutdown().await;
    });
}
