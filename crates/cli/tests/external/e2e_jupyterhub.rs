//! End to end with real JupyterHub (from PyPI, with configurable-http-proxy from npm) as a
//! service of hubauth: JupyterHub's stock `GenericOAuthenticator`, configured by
//! `e2e/jupyterhub/jupyterhub_config.py`, logs users in through hubauth's OAuth provider.
//! A cookie-keeping client follows the redirects like a browser (JupyterHub → hubauth's
//! login form → hubauth's authorize → JupyterHub's callback), and JupyterHub's REST API
//! (a service token) then shows each user with the right name, admin flag and groups.
//! No notebook server is spawned.
//!
//! `./scripts/test.sh` installs JupyterHub and oauthenticator in `e2e/jupyterhub/.venv`
//! (pinned by `requirements.txt`) and configurable-http-proxy in
//! `e2e/jupyterhub/node_modules` (pinned by `package-lock.json`). Without them this test
//! fails, unless `HUBAUTH_SKIP_E2E=1` is set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use hubauth_testkit::hub::*;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const CLIENT_SECRET: &str = "jupyterhub-client-secret-5d1c9e";
const API_TOKEN: &str = "e2e-reader-token-0f4b8a2c6d1e3f57";
/// How long JupyterHub may take to start.
const START_TIMEOUT: Duration = Duration::from_secs(90);

fn e2e_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../e2e/jupyterhub")
}

fn jupyterhub_bin() -> PathBuf {
    e2e_dir().join(".venv/bin/jupyterhub")
}

fn chp_bin() -> PathBuf {
    e2e_dir().join("node_modules/.bin/configurable-http-proxy")
}

/// Whether JupyterHub and the proxy are installed; `None` means skip
/// (HUBAUTH_SKIP_E2E=1), a missing installation otherwise fails the test.
fn installed() -> Option<()> {
    let missing: Vec<String> = [jupyterhub_bin(), chp_bin()]
        .into_iter()
        .filter(|path| !path.is_file())
        .map(|path| path.display().to_string())
        .collect();
    if missing.is_empty() {
        return Some(());
    }
    let what = format!("not installed: {}", missing.join(", "));
    if std::env::var("HUBAUTH_SKIP_E2E").as_deref() == Ok("1") {
        eprintln!("note: skipping the JupyterHub end-to-end test: {what} (HUBAUTH_SKIP_E2E=1)");
        return None;
    }
    panic!(
        "{what}. Run ./scripts/test.sh once (it makes e2e/jupyterhub/.venv and runs `npm ci` in e2e/jupyterhub), or set HUBAUTH_SKIP_E2E=1 to skip this test."
    );
}

/// The running JupyterHub. Dropping it sends SIGTERM, so that JupyterHub stops the proxy
/// it started, and kills it if it does not exit in time.
struct JupyterHub {
    url: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl JupyterHub {
    async fn start_on(port: u16, hubauth_url: &str, backchannel_url: &str) -> JupyterHub {
        let dir = tempfile::TempDir::new().unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let mut child = Command::new(jupyterhub_bin())
            .arg("-f")
            .arg(e2e_dir().join("jupyterhub_config.py"))
            .current_dir(dir.path())
            .env("E2E_HUBAUTH_URL", hubauth_url)
            .env("E2E_HUBAUTH_BACKCHANNEL_URL", backchannel_url)
            .env("E2E_JUPYTERHUB_URL", &url)
            .env(
                "E2E_JUPYTERHUB_INTERNAL_URL",
                format!("http://127.0.0.1:{}", free_port()),
            )
            .env("E2E_CHP", chp_bin())
            .env(
                "E2E_CHP_API_URL",
                format!("http://127.0.0.1:{}", free_port()),
            )
            .env("E2E_DATA_DIR", dir.path())
            .env("E2E_CLIENT_SECRET", CLIENT_SECRET)
            .env("E2E_API_TOKEN", API_TOKEN)
            .env_remove("JUPYTERHUB_CRYPT_KEY")
            .env_remove("CONFIGPROXY_AUTH_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start jupyterhub");
        // JupyterHub's log goes to the test's output (shown on failure).
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
        let hub = JupyterHub {
            url,
            child,
            _dir: dir,
        };
        hub.wait_ready().await;
        hub
    }

    async fn wait_ready(&self) {
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(response) = http.get(format!("{}/hub/api/", self.url)).send().await
                && response.status() == 200
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "JupyterHub did not answer at {} in time",
                self.url
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// `GET {url}/hub/api/{path}` with the service token.
    async fn api(&self, path: &str) -> (u16, Value) {
        let response = reqwest::Client::new()
            .get(format!("{}/hub/api/{path}", self.url))
            .header("Authorization", format!("token {API_TOKEN}"))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

impl Drop for JupyterHub {
    fn drop(&mut self) {
        let Some(pid) = self.child.id() else {
            return;
        };
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status();
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.start_kill();
    }
}

/// Resolves a Location against the URL it came from.
fn resolve(from: &str, location: &str) -> String {
    url::Url::parse(from)
        .unwrap()
        .join(location)
        .unwrap()
        .to_string()
}

/// Logs `name` in to JupyterHub through hubauth, like a browser; returns the response of
/// JupyterHub's OAuth callback.
async fn login_through_hubauth(
    browser: &reqwest::Client,
    jupyterhub: &JupyterHub,
    hubauth_url: &str,
    name: &str,
    password: &str,
) -> reqwest::Response {
    let start = format!("{}/hub/oauth_login", jupyterhub.url);
    let response = browser.get(&start).send().await.unwrap();
    assert_eq!(response.status(), 302, "JupyterHub starts the OAuth login");
    let authorize = resolve(&start, &location(&response));
    assert!(
        authorize.starts_with(&format!("{hubauth_url}/hub/api/oauth2/authorize?")),
        "JupyterHub sends the browser to hubauth: {authorize}"
    );
    let response = browser.get(&authorize).send().await.unwrap();
    assert_eq!(response.status(), 302, "{}", response.text().await.unwrap());
    let login_url = resolve(&authorize, &location(&response));
    assert!(
        login_url.starts_with(&format!("{hubauth_url}/hub/login?next=")),
        "hubauth asks for a login first: {login_url}"
    );
    let page = browser.get(&login_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let xsrf = scrape_xsrf(&page.text().await.unwrap());
    let response = browser
        .post(&login_url)
        .form(&[
            ("_xsrf", xsrf.as_str()),
            ("username", name),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302, "hubauth login of {name}");
    let back = resolve(&login_url, &location(&response));
    assert!(back.starts_with(&format!("{hubauth_url}/hub/api/oauth2/authorize?")));
    // hubauth asks the user to let JupyterHub sign them in (JupyterHub's consent page
    // for services without oauth_no_confirm).
    let response = browser.get(&back).send().await.unwrap();
    assert_eq!(response.status(), 200, "the consent page");
    let form = parse_form(&response.text().await.unwrap());
    let fields: Vec<(String, String)> = form
        .inputs
        .iter()
        .filter(|(name, value, _)| name != "decision" || value == "allow")
        .map(|(name, value, _)| (name.clone(), value.clone()))
        .collect();
    let response = browser
        .post(resolve(&back, &form.action))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let callback = resolve(&back, &location(&response));
    assert!(
        callback.starts_with(&format!("{}/hub/oauth_callback?", jupyterhub.url)),
        "hubauth sends the code to JupyterHub: {callback}"
    );
    assert!(callback.contains("code="), "{callback}");
    browser.get(&callback).send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_jupyterhub_logs_users_in_through_hubauth() {
    if installed().is_none() {
        return;
    }
    // hubauth, reached by the browser as localhost (so that its cookies and JupyterHub's,
    // both on loopback, stay apart) and by JupyterHub's server calls as 127.0.0.1.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hubauth_url = format!("http://localhost:{port}");
    let backchannel_url = format!("http://127.0.0.1:{port}");
    // JupyterHub's port is picked first: hubauth registers its exact callback URL.
    let jupyterhub_port = free_port();
    let callback = format!("http://127.0.0.1:{jupyterhub_port}/hub/oauth_callback");
    let hub = start_hub_with(HubOptions {
        dir: tempfile::TempDir::new().unwrap(),
        listener: Some(listener),
        hub_extra: &format!("public_url = \"{hubauth_url}/\"\nauthenticator_class = \"shared-password\""),
        rest: &format!(
            "[[Hub.services]]\nname = \"jupyterhub\"\napi_token_env = \"JH_CLIENT_SECRET\"\noauth_redirect_uri = \"{callback}\"\n\n[SharedPasswordAuthenticator]\nuser_password = \"users-shared-password\"\nadmin_password = \"admins-shared-password-0123456789abcdef\"\nadmin_users = [\"ada\"]\nallowed_users = [\"ada\", \"bob\"]\n"
        ),
        env: &[("JH_CLIENT_SECRET", CLIENT_SECRET)],
        clock: None,
    })
    .await
    .unwrap();
    let store = hub.store();
    for (user, groups) in [
        ("ada", &["staff", "hub-admins"][..]),
        ("bob", &["staff"][..]),
    ] {
        store.ensure_user(user, None, 0).await.unwrap();
        for group in groups {
            if store.create_group(group).await.is_err() {
                // Already made for the previous user.
            }
            store
                .add_group_members(group, &[user.to_owned()])
                .await
                .unwrap();
        }
    }
    let jupyterhub = JupyterHub::start_on(jupyterhub_port, &hubauth_url, &backchannel_url).await;

    for (name, password, admin, groups) in [
        (
            "ada",
            "admins-shared-password-0123456789abcdef",
            true,
            vec!["hub-admins", "staff"],
        ),
        ("bob", "users-shared-password", false, vec!["staff"]),
    ] {
        let browser = client();
        let response =
            login_through_hubauth(&browser, &jupyterhub, &hubauth_url, name, password).await;
        let status = response.status();
        let to = location(&response);
        assert_eq!(
            status,
            302,
            "JupyterHub's callback: {}",
            response.text().await.unwrap()
        );
        assert!(
            !to.contains("login") && !to.contains("error"),
            "JupyterHub logged {name} in: {to}"
        );
        let (status, user) = jupyterhub.api(&format!("users/{name}")).await;
        assert_eq!(status, 200, "{user}");
        assert_eq!(user["name"], name);
        assert_eq!(user["admin"], admin, "{user}");
        let mut got: Vec<&str> = user["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g.as_str().unwrap())
            .collect();
        got.sort_unstable();
        assert_eq!(got, groups, "{user}");
        assert!(user["server"].is_null(), "no server was spawned: {user}");
        // JupyterHub's own session works: its home page answers without a login.
        let response = browser
            .get(format!("{}/hub/home", jupyterhub.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{name} has a JupyterHub session");
    }
    // A wrong password at hubauth never reaches JupyterHub.
    let (status, users) = jupyterhub.api("users").await;
    assert_eq!(status, 200);
    assert_eq!(users.as_array().unwrap().len(), 2, "{users}");
    // The tokens hubauth issued to JupyterHub are API tokens of each user.
    let tokens = store.list_api_tokens("ada").await.unwrap();
    assert!(tokens.iter().any(|t| t.note.contains("service-jupyterhub")));
    drop(jupyterhub);
    hub.stop().await;
}
