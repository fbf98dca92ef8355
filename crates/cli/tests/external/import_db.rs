//! `hubauth import-db` moves a real JupyterHub's data: JupyterHub 6.1.1 (from
//! `e2e/jupyterhub/.venv`, as the end-to-end test uses) runs with
//! `e2e/jupyterhub/import_db_config.py` (users, an admin, groups with properties, a role
//! with scopes, a service with an OAuth client, a service making API tokens, auth_state
//! written at a form login under JUPYTERHUB_CRYPT_KEY). The test logs users in there and
//! makes API tokens through its REST API (with and without expiry), stops it, imports its
//! database with the `hubauth` binary into hubauth on SQLite and on PostgreSQL, and then
//! shows over HTTP that the old tokens work against hubauth's REST API (and gateway) with the same
//! scopes and stop at their expiry, that users keep admin flags and groups and log in,
//! that the auth_state handed out equals what JupyterHub stored, and that the service's
//! OAuth client completes a login.
//!
//! Without JupyterHub installed this test fails, unless `HUBAUTH_SKIP_E2E=1` is set;
//! without `HUBAUTH_TEST_POSTGRES_URL` the PostgreSQL half is skipped with a note.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use hubauth_testkit::hub::*;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const PASSWORD: &str = "jupyterhub-pw-0123";
const MAKER_TOKEN: &str = "import-db-maker-token-0f4b8a2c6d1e";
const ANNOUNCER_SECRET: &str = "import-db-announcer-secret-5d1c9e0a";
/// JUPYTERHUB_CRYPT_KEY, in JupyterHub's hex form (32 bytes).
const CRYPT_KEY: &str = "6a7570797465726875622d696d706f72742d64622d6b65792d33322d62797465";
/// How long JupyterHub may take to start.
const START_TIMEOUT: Duration = Duration::from_secs(90);

fn e2e_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../e2e/jupyterhub")
}

/// Whether JupyterHub and the proxy are installed; `None` means skip
/// (HUBAUTH_SKIP_E2E=1), a missing installation otherwise fails the test.
fn installed() -> Option<()> {
    let missing: Vec<String> = [
        e2e_dir().join(".venv/bin/jupyterhub"),
        e2e_dir().join("node_modules/.bin/configurable-http-proxy"),
    ]
    .into_iter()
    .filter(|path| !path.is_file())
    .map(|path| path.display().to_string())
    .collect();
    if missing.is_empty() {
        return Some(());
    }
    let what = format!("not installed: {}", missing.join(", "));
    if std::env::var("HUBAUTH_SKIP_E2E").as_deref() == Ok("1") {
        eprintln!(
            "note: skipping the import-db test with real JupyterHub: {what} (HUBAUTH_SKIP_E2E=1)"
        );
        return None;
    }
    panic!("{what}. Run ./scripts/test.sh once, or set HUBAUTH_SKIP_E2E=1 to skip this test.");
}

/// The running JupyterHub; [`JupyterHub::stop`] ends it (SIGTERM, so that it stops its
/// proxy and closes its database), and dropping it kills it if it is still running.
struct JupyterHub {
    url: String,
    child: Child,
}

impl JupyterHub {
    async fn start(data_dir: &Path, announcer_redirect: &str) -> JupyterHub {
        let url = format!("http://127.0.0.1:{}", free_port());
        let mut child = Command::new(e2e_dir().join(".venv/bin/jupyterhub"))
            .arg("-f")
            .arg(e2e_dir().join("import_db_config.py"))
            .current_dir(data_dir)
            .env("E2E_JUPYTERHUB_URL", &url)
            .env(
                "E2E_JUPYTERHUB_INTERNAL_URL",
                format!("http://127.0.0.1:{}", free_port()),
            )
            .env(
                "E2E_CHP",
                e2e_dir().join("node_modules/.bin/configurable-http-proxy"),
            )
            .env(
                "E2E_CHP_API_URL",
                format!("http://127.0.0.1:{}", free_port()),
            )
            .env("E2E_DATA_DIR", data_dir)
            .env("E2E_PASSWORD", PASSWORD)
            .env("E2E_MAKER_TOKEN", MAKER_TOKEN)
            .env("E2E_ANNOUNCER_SECRET", ANNOUNCER_SECRET)
            .env("E2E_ANNOUNCER_REDIRECT", announcer_redirect)
            .env("JUPYTERHUB_CRYPT_KEY", CRYPT_KEY)
            .env_remove("CONFIGPROXY_AUTH_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start jupyterhub");
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let mut lines = BufReader::new(stream).lines();
            tokio::spawn(async move {
                while let Ok(Some(line)) = lines.next_line().await {
                    eprintln!("[jupyterhub] {line}");
                }
            });
        }
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(response) = http.get(format!("{url}/hub/api/")).send().await
                && response.status() == 200
            {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "JupyterHub did not answer at {url} in time"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        JupyterHub { url, child }
    }

    /// A request to JupyterHub's REST API with the maker service's token.
    async fn api(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = reqwest::Client::new()
            .request(method, format!("{}/hub/api/{path}", self.url))
            .header("Authorization", format!("token {MAKER_TOKEN}"));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Stops JupyterHub as an operator would before the move, and waits for it.
    async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
        }
        let waited = tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await;
        assert!(
            matches!(waited, Ok(Ok(_))),
            "JupyterHub did not stop on SIGTERM"
        );
    }
}

/// What the test made at JupyterHub.
struct Made {
    /// alice's token with `read:users`, no expiry.
    script: String,
    /// alice's token with `read:users`, expiring in an hour.
    expiring: String,
    /// root's token with every scope of root (`inherit`).
    admin: String,
    /// JupyterHub's models of alice and root (with auth_state), as its API gives them.
    users: HashMap<String, Value>,
}

async fn make_data(jupyterhub: &JupyterHub) -> Made {
    for name in ["alice", "root"] {
        let browser = client();
        let response = login_at(
            &browser,
            &format!("{}/hub/login", jupyterhub.url),
            name,
            PASSWORD,
        )
        .await;
        assert_eq!(response.status(), 302, "JupyterHub login of {name}");
    }
    let token = |user: &'static str, body: Value| {
        let body = body.clone();
        async move {
            let (status, made) = jupyterhub
                .api(
                    reqwest::Method::POST,
                    &format!("users/{user}/tokens"),
                    Some(body),
                )
                .await;
            assert_eq!(status, 201, "{made}");
            made["token"].as_str().unwrap().to_owned()
        }
    };
    let script = token("alice", json!({"note": "script", "scopes": ["read:users"]})).await;
    let expiring = token(
        "alice",
        json!({"note": "expiring", "scopes": ["read:users"], "expires_in": 3600}),
    )
    .await;
    let admin = token("root", json!({"note": "admin script"})).await;
    let mut users = HashMap::new();
    for name in ["alice", "root"] {
        let (status, model) = jupyterhub
            .api(reqwest::Method::GET, &format!("users/{name}"), None)
            .await;
        assert_eq!(status, 200, "{model}");
        assert!(
            model["auth_state"].is_object(),
            "JupyterHub stored auth_state: {model}"
        );
        users.insert(name.to_owned(), model);
    }
    Made {
        script,
        expiring,
        admin,
        users,
    }
}

/// `hubauth import-db` with these arguments; returns exit code and standard output.
async fn import_db(config: &Path, from: &str, extra: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_hubauth"))
        .arg("import-db")
        .arg("--from")
        .arg(from)
        .arg("--config")
        .arg(config)
        .args(extra)
        .env("JUPYTERHUB_CRYPT_KEY", CRYPT_KEY)
        .env("HUBAUTH_LOG", "warn")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("[import-db {extra:?}]\n{stdout}{stderr}");
    for secret in [MAKER_TOKEN, ANNOUNCER_SECRET, "sha512:", "gAAAA"] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "import-db printed a secret"
        );
    }
    (output.status.code().unwrap_or(-1), stdout)
}

/// Imports JupyterHub's database into a hubauth on `db_url` (empty: SQLite) and checks
/// the result over HTTP.
async fn move_into_hubauth(
    jupyterhub_db: &Path,
    made: &Made,
    announcer_redirect: &str,
    db_url: &str,
) {
    let dir = tempfile::TempDir::new().unwrap();
    let db_url = if db_url.is_empty() {
        format!("sqlite:///{}", dir.path().join("hub.sqlite").display())
    } else {
        db_url.to_owned()
    };
    let services = format!(
        "services = [{{ name = \"announcer\", oauth_client_id = \"service-announcer\", \
         api_token = \"{ANNOUNCER_SECRET}\", oauth_redirect_uri = \"{announcer_redirect}\", \
         oauth_no_confirm = true }}]\n"
    );
    let hub_extra = format!(
        "{}{services}forward_auth_accept_tokens = true\n",
        db_line(&db_url)
    );
    let rest = format!(
        "[Authenticator]\nenable_auth_state = true\nallowed_users = [\"alice\", \"bob\"]\n\
         admin_users = [\"root\"]\n[DummyAuthenticator]\npassword = \"{PASSWORD}\"\n"
    );
    // The configuration the operator gives `import-db` is the hub's own.
    let config = dir.path().join("hubauth.toml");
    std::fs::write(
        &config,
        format!("{}\n{rest}", hub_table(dir.path(), &hub_extra)),
    )
    .unwrap();
    let from = format!("sqlite:///{}", jupyterhub_db.display());

    let (code, plan) = import_db(&config, &from, &["--dry-run"]).await;
    assert_eq!(code, 0, "{plan}");
    assert!(plan.contains("would create user alice"), "{plan}");
    assert!(plan.contains("plan (dry run, nothing written)"), "{plan}");
    if let Ok(hubauth_store::DatabaseLocation::SqliteFile(file)) =
        hubauth_store::parse_database_url(&db_url)
    {
        assert!(plan.contains("does not exist yet"), "{plan}");
        assert!(!file.exists(), "a dry run created {}", file.display());
    }
    let (code, done) = import_db(&config, &from, &["--check-auth-state"]).await;
    assert_eq!(code, 0, "{done}");
    assert!(done.contains("created user root"), "{done}");
    assert!(
        done.contains("not carried over: properties of group staff"),
        "{done}"
    );
    assert!(
        done.contains("not carried over: role maker of service maker"),
        "{done}"
    );
    let (code, again) = import_db(&config, &from, &["--check-auth-state"]).await;
    assert_eq!(code, 0, "{again}");
    assert!(again.contains("0 batch(es) written"), "{again}");
    assert!(!again.contains("created "), "{again}");

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let clock = Arc::new(hubauth_server::ManualClock::at(now));
    let hub = start_hub_with(HubOptions {
        dir,
        listener: None,
        hub_extra: &hub_extra,
        rest: &rest,
        env: &[("JUPYTERHUB_CRYPT_KEY", CRYPT_KEY)],
        clock: Some(clock.clone()),
    })
    .await
    .unwrap();
    let get = |token: &str, path: &str| {
        let token = token.to_owned();
        let path = path.to_owned();
        let hub = &hub;
        async move { api_call(hub, reqwest::Method::GET, &path, &token, None).await }
    };

    // alice's script token: herself, and other users (read:users), nothing more.
    let (status, me) = get(&made.script, "/user").await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["name"], "alice");
    let (status, root) = get(&made.script, "/users/root").await;
    assert_eq!(status, 200, "{root}");
    assert_eq!(root["admin"], true, "the admin flag came over");
    assert_eq!(root["groups"], json!(["staff"]));
    assert!(
        root.get("auth_state").is_none(),
        "read:users does not show auth_state"
    );
    let (status, _) = get(&made.script, "/users/root/tokens").await;
    assert_eq!(status, 403, "read:users does not read tokens");
    let (status, _) = api_call(
        &hub,
        reqwest::Method::PATCH,
        "/users/bob",
        &made.script,
        Some(json!({"admin": true})),
    )
    .await;
    assert_eq!(status, 403, "read:users does not change users");

    // root's token carries root's (admin) scopes: auth_state as JupyterHub stored it.
    for name in ["alice", "root"] {
        let (status, model) = get(&made.admin, &format!("/users/{name}")).await;
        assert_eq!(status, 200, "{model}");
        let jupyterhub_model = &made.users[name];
        assert_eq!(
            model["auth_state"], jupyterhub_model["auth_state"],
            "{name}"
        );
        assert_eq!(model["admin"], jupyterhub_model["admin"], "{name}");
        assert_eq!(model["groups"], jupyterhub_model["groups"], "{name}");
    }
    let (status, bob) = get(&made.admin, "/users/bob").await;
    assert_eq!((status, bob["admin"].clone()), (200, json!(false)));

    // At the gateway (forward-auth) too: a token carrying its owner's scopes passes as
    // its owner; one limited to read:users does not carry access:apps.
    let gateway = |token: &str| {
        let request = reqwest::Client::new()
            .get(format!("{}forward-auth", hub.hub_url))
            .header("x-forwarded-host", "app.example")
            .header("x-forwarded-uri", "/")
            .header("authorization", format!("token {token}"));
        async move { request.send().await.unwrap() }
    };
    let response = gateway(&made.admin).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-auth-request-user"], "root");
    let response = gateway(&made.script).await;
    assert_ne!(response.status(), 200, "read:users is not access:apps");
    assert!(response.headers().get("x-auth-request-user").is_none());

    // The expiring token works until JupyterHub's expiry, then not; the others go on.
    let (status, _) = get(&made.expiring, "/user").await;
    assert_eq!(status, 200);
    let stored = hub
        .store()
        .find_api_token_by_value(&made.expiring, "")
        .await
        .unwrap()
        .unwrap();
    let expires = stored.expires.unwrap();
    assert!(
        (now + 3590..=now + 3600).contains(&expires),
        "{expires} vs {now}"
    );
    clock.advance(expires - now);
    let (status, _) = get(&made.expiring, "/user").await;
    assert_eq!(status, 403, "expired at JupyterHub's expiry");
    let (status, _) = get(&made.script, "/user").await;
    assert_eq!(status, 200);
    let (status, _) = get("not-a-token-0123456789abcdef", "/user").await;
    assert_eq!(status, 403);

    // Users log in with the same rules and keep admin flags and groups.
    let browser = client();
    let response = login(&browser, &hub, "alice", PASSWORD, None).await;
    assert_eq!(response.status(), 302, "alice logs in at hubauth");
    let alice = hub.store().get_user("alice").await.unwrap().unwrap();
    assert_eq!(
        (alice.admin, alice.groups.clone()),
        (false, vec!["staff".to_owned()])
    );
    assert!(
        alice.roles.contains(&"reader".to_owned()),
        "{:?}",
        alice.roles
    );

    // The service's OAuth client completes a login with JupyterHub's client id and secret.
    let authorize = format!(
        "{}api/oauth2/authorize?response_type=code&client_id=service-announcer&redirect_uri={}&state=st-1",
        hub.hub_url,
        urlencode(announcer_redirect)
    );
    let response = browser.get(&authorize).send().await.unwrap();
    assert_eq!(response.status(), 302);
    let to = location(&response);
    assert!(to.starts_with(&format!("{announcer_redirect}?")), "{to}");
    let query: HashMap<String, String> = url::Url::parse(&to)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(query["state"], "st-1");
    let response = reqwest::Client::new()
        .post(format!("{}api/oauth2/token", hub.hub_url))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", query["code"].as_str()),
            ("redirect_uri", announcer_redirect),
            ("client_id", "service-announcer"),
            ("client_secret", ANNOUNCER_SECRET),
        ])
        .send()
        .await
        .unwrap();
    let (status, tokens) = json_response(response).await;
    assert_eq!(status, 200, "{tokens}");
    let (status, me) = get(tokens["access_token"].as_str().unwrap(), "/user").await;
    assert_eq!((status, me["name"].clone()), (200, json!("alice")), "{me}");

    // Importing again after users worked at hubauth: what differs now is a conflict,
    // kept until --overwrite. bob was made admin at hubauth; alice's login at hubauth
    // (DummyAuthenticator, which returns no auth_state) cleared her auth_state.
    hub.store().set_admin("bob", true).await.unwrap();
    let (code, conflict) = import_db(&config, &from, &[]).await;
    assert_eq!(code, 3, "{conflict}");
    for expected in [
        "conflict user bob: already in hubauth and different: admin is true in hubauth, false in JupyterHub",
        "conflict user alice: already in hubauth and different: auth_state differs",
    ] {
        assert!(
            conflict.contains(expected),
            "{expected:?} missing: {conflict}"
        );
    }
    assert!(!conflict.contains("user root"), "{conflict}");
    assert!(
        hub.store().get_user("bob").await.unwrap().unwrap().admin,
        "not overwritten"
    );
    let (code, overwritten) = import_db(&config, &from, &["--overwrite"]).await;
    assert_eq!(code, 0, "{overwritten}");
    assert!(overwritten.contains("changed user bob"), "{overwritten}");
    assert!(!hub.store().get_user("bob").await.unwrap().unwrap().admin);
    let (status, model) = get(&made.admin, "/users/alice").await;
    assert_eq!(status, 200);
    assert_eq!(model["auth_state"], made.users["alice"]["auth_state"]);
    hub.stop().await;
}

#[tokio::test]
async fn a_real_jupyterhub_database_moves_into_hubauth_on_sqlite_and_postgres() {
    let Some(()) = installed() else {
        return;
    };
    let data = tempfile::TempDir::new().unwrap();
    let announcer_redirect = format!(
        "http://127.0.0.1:{}/services/announcer/oauth_callback",
        free_port()
    );
    let jupyterhub = JupyterHub::start(data.path(), &announcer_redirect).await;
    let made = make_data(&jupyterhub).await;
    jupyterhub.stop().await;
    let jupyterhub_db = data.path().join("jupyterhub.sqlite");

    move_into_hubauth(&jupyterhub_db, &made, &announcer_redirect, "").await;
    if let Some(server) = hubauth_testkit::pg::server_url(
        "a_real_jupyterhub_database_moves_into_hubauth (PostgreSQL)",
    ) {
        let database = hubauth_testkit::pg::TestDatabase::create(&server, "importdb").await;
        move_into_hubauth(&jupyterhub_db, &made, &announcer_redirect, &database.url).await;
        database.drop_now().await;
    }
}

/// The same fixture, written by JupyterHub 6.1.1's ORM into PostgreSQL (psycopg2) and
/// into SQLite, reads the same from both, and the PostgreSQL one imports completely.
#[tokio::test]
async fn a_jupyterhub_database_on_postgresql_reads_like_its_sqlite_twin() {
    let Some(()) = installed() else {
        return;
    };
    let Some(server) = hubauth_testkit::pg::server_url(
        "a_jupyterhub_database_on_postgresql_reads_like_its_sqlite_twin",
    ) else {
        return;
    };
    let database = hubauth_testkit::pg::TestDatabase::create(&server, "jhsource").await;
    let dir = tempfile::TempDir::new().unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../crates/jhimport/tests/fixtures/make_fixture.py");
    // SQLAlchemy's driver is named in the URL, as in a jupyterhub_config.py.
    let python_url = database
        .url
        .replacen("postgres://", "postgresql+psycopg2://", 1);
    for target in [python_url.as_str(), "twin.sqlite"] {
        let status = Command::new(e2e_dir().join(".venv/bin/python"))
            .arg(&script)
            .arg(target)
            .current_dir(dir.path())
            .status()
            .await
            .unwrap();
        assert!(
            status.success(),
            "make_fixture.py {}",
            target.contains("://")
        );
    }
    let read = |url: String| async move {
        let source = hubauth_jhimport::Source::open(&url).await.unwrap();
        let snapshot = source.read().await.unwrap();
        source.close().await;
        snapshot
    };
    let on_postgres = read(python_url.clone()).await;
    let on_sqlite = read(format!(
        "sqlite:///{}",
        dir.path().join("twin.sqlite").display()
    ))
    .await;
    assert_eq!(
        on_postgres.schema,
        Some(hubauth_jhimport::SchemaVersion::V6)
    );
    // auth_state is encrypted anew in each (Fernet's IV and time): compare it decrypted.
    let keeper =
        hubauth_store::CryptKeeper::from_keys_str("aW1wb3J0LWRiLWZpeHR1cmUta2V5LTMyLWJ5dGVzISE=")
            .unwrap();
    let users =
        |snapshot: &hubauth_jhimport::Snapshot| -> Vec<(hubauth_jhimport::JhUser, Option<Value>)> {
            snapshot
                .users
                .iter()
                .map(|user| {
                    let state = user.encrypted_auth_state.as_ref().map(|bytes| {
                        keeper
                            .decrypt_json(bytes)
                            .map(|d| d.value)
                            .unwrap_or(Value::Null)
                    });
                    let mut user = user.clone();
                    user.encrypted_auth_state = None;
                    (user, state)
                })
                .collect()
        };
    assert_eq!(users(&on_postgres), users(&on_sqlite));
    assert_eq!(
        users(&on_postgres)[0].1.as_ref().unwrap()["access_token"],
        "upstream-token-of-alice"
    );
    assert_eq!(on_postgres.groups, on_sqlite.groups);
    assert_eq!(on_postgres.roles, on_sqlite.roles);
    assert_eq!(
        on_postgres.oauth_clients.len(),
        on_sqlite.oauth_clients.len()
    );
    // Token hashes are salted anew in each database; the rest is the same (the service's
    // and the OAuth token's `created` is the time the script ran).
    let shape = |tokens: &[hubauth_jhimport::JhToken]| -> Vec<(String, String, Option<i64>, Option<String>)> {
        tokens
            .iter()
            .map(|t| (t.prefix.clone(), t.note.clone(), t.expires, t.scopes.clone()))
            .collect()
    };
    assert_eq!(shape(&on_postgres.tokens), shape(&on_sqlite.tokens));

    let target = tempfile::TempDir::new().unwrap();
    let store = hubauth_store::open(&format!(
        "sqlite:///{}",
        target.path().join("hub.sqlite").display()
    ))
    .await
    .unwrap();
    let report = hubauth_jhimport::import_database(
        &python_url,
        store.as_ref(),
        &hubauth_jhimport::ImportOptions {
            now: 1_767_225_600,
            clients: vec![hubauth_jhimport::ConfiguredClient {
                client_id: "service-announcer".to_owned(),
                redirect_uris: vec![
                    "http://127.0.0.1:9999/services/announcer/oauth_callback".to_owned(),
                ],
                secret: Some("announcer-secret-0123456789abcdef".to_owned()),
            }],
            ..hubauth_jhimport::ImportOptions::default()
        },
    )
    .await
    .unwrap();
    assert!(report.is_complete(), "{}", report.render());
    assert_eq!(report.counts(hubauth_jhimport::Kind::User).created, 4);
    let token = store
        .find_api_token_by_value("root-supplied-token-0123456789", "")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(token.user, "root");
    store.close().await;
    database.drop_now().await;
}
