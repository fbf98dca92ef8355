//! Start-up time with many stored users: how long from reading the configuration to a
//! hub answering requests, with `BENCH_USERS` users (default 100,000) in a SQLite file,
//! and how long one page of the REST API's user list takes then.
//!
//! `cargo bench -p hubauth --bench startup` (env: `BENCH_USERS`, `BENCH_RUNS`, default 3).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
// A benchmark measures real time.
#![allow(clippy::disallowed_methods)]

use std::time::Instant;

use hubauth_config::{Config, MapEnv};
use hubauth_store::NewApiToken;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let users = env_usize("BENCH_USERS", 100_000);
    let runs = env_usize("BENCH_RUNS", 3).max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let dir = tempfile::TempDir::new().unwrap();
        let db = dir.path().join("hub.sqlite");
        let db_url = format!("sqlite:///{}", db.display());

        // Fill the database once: users with the default roles, a group each tenth user.
        let filling = Instant::now();
        let store = hubauth_store::open(&db_url).await.unwrap();
        store.create_group("tenth").await.unwrap();
        let mut tenth = Vec::new();
        for i in 0..users {
            let name = format!("user{i:06}");
            store.ensure_user(&name, None, 1_000).await.unwrap();
            if i % 10 == 0 {
                tenth.push(name);
            }
        }
        store.add_group_members("tenth", &tenth).await.unwrap();
        store.ensure_user("admin", Some(true), 1_000).await.unwrap();
        let token = hubauth_server::secrets::random_token();
        store
            .create_api_token(NewApiToken {
                hash: hubauth_server::secrets::hash_token(&token),
                prefix: token[..4].to_owned(),
                user: "admin".to_owned(),
                note: "bench".to_owned(),
                scopes: vec!["inherit".to_owned()],
                created: 1_000,
                expires: None,
            })
            .await
            .unwrap();
        let reading = Instant::now();
        let names = store.user_names().await.unwrap();
        println!(
            "reading {} user names (what start-up reconciliation walks): {:.0} ms",
            names.len(),
            reading.elapsed().as_secs_f64() * 1000.0
        );
        store.close().await;
        println!(
            "filled {} users in {:.1} s",
            users + 1,
            filling.elapsed().as_secs_f64()
        );

        let text = format!(
            "[Hub]\nauthenticator_class = \"dummy\"\nbind_url = \"http://127.0.0.1:0\"\ndb_url = \"{db_url}\"\ncookie_secret_file = \"{secret}\"\n[Authenticator]\nadmin_users = [\"admin\"]\nallowed_users = [\"admin\"]\n",
            secret = dir.path().join("secret").display(),
        );
        let registry = hubauth_cli::registry().unwrap();
        let config = Config::parse(&text, "bench.toml", &registry).unwrap();
        let env = MapEnv::new();
        let client = reqwest::Client::new();
        for run in 1..=runs {
            let started = Instant::now();
            let built = hubauth_cli::build(&config, &registry, &env).unwrap();
            let hub = hubauth_cli::start(built, &env).await.unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let origin = format!("http://{}", listener.local_addr().unwrap());
            let state = hub.state().clone();
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let serving = tokio::spawn(hub.serve(listener, async {
                let _ = stopped.await;
            }));
            let health = client
                .get(format!("{origin}/hub/health/ready"))
                .send()
                .await
                .unwrap();
            assert_eq!(health.status(), 200);
            let ready = started.elapsed();
            let page_started = Instant::now();
            let page = client
                .get(format!(
                    "{origin}/hub/api/users?offset={}&limit=50&sort=name",
                    users / 2
                ))
                .header("Authorization", format!("token {token}"))
                .header("Accept", "application/jupyterhub-pagination+json")
                .send()
                .await
                .unwrap();
            assert_eq!(page.status(), 200);
            let body: serde_json::Value = page.json().await.unwrap();
            assert_eq!(
                body["items"].as_array().unwrap().len(),
                50.min(users + 1 - users / 2)
            );
            let page_time = page_started.elapsed();
            println!(
                "run {run}: serving after {:.0} ms; GET /hub/api/users (offset {}, limit 50, of {}) {:.1} ms",
                ready.as_secs_f64() * 1000.0,
                users / 2,
                body["_pagination"]["total"],
                page_time.as_secs_f64() * 1000.0
            );
            let _ = stop.send(());
            serving.await.unwrap().unwrap();
            state.store.close().await;
        }
    });
}
