//! The real `hubauth serve` binary as a child process, for tests that kill it, restart it
//! or run several of them on one database.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// A `hubauth serve` process; killed (SIGKILL) when dropped.
#[derive(Debug)]
pub struct HubProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub origin: String,
    /// `{origin}/hub/`
    pub hub_url: String,
    log: Arc<Mutex<String>>,
}

/// The `[Hub]` table for a process hub on a free loopback port.
pub fn hub_config(db_url: &str, secret_file: &Path, extra: &str) -> String {
    format!(
        "[Hub]\nbind_url = \"http://127.0.0.1:0\"\ndb_url = \"{db_url}\"\ncookie_secret_file = \"{}\"\nlogin_rate_limit = 0\n{extra}\n",
        secret_file.display()
    )
}

impl HubProcess {
    /// Writes `config` to `dir/name.toml`, starts `hubauth serve` on it and waits until it
    /// announces its URL (panics with the log if it exits or takes over a minute).
    pub fn start(dir: &Path, name: &str, config: &str, env: &[(&str, &str)]) -> HubProcess {
        let path: PathBuf = dir.join(format!("{name}.toml"));
        std::fs::write(&path, config).unwrap();
        let mut command = Command::new(hubauth_binary());
        command
            .args(["serve", "--config"])
            .arg(&path)
            .env("HUBAUTH_LOG", "info,sqlx=warn")
            .env_remove("JUPYTERHUB_CRYPT_KEY")
            .env_remove("JPY_COOKIE_SECRET")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel::<String>();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("hubauth is serving at ") {
                    let _ = tx.send(url.trim().to_owned());
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "hub {name} did not start; its log:\n{}",
                    log.lock().unwrap()
                );
            }
        };
        let hub_url = url
            .strip_suffix("login")
            .expect("the announced URL ends with hub/login")
            .to_owned();
        let origin = hub_url
            .strip_suffix("/hub/")
            .expect("base URL /")
            .to_owned();
        HubProcess {
            child,
            origin,
            hub_url,
            log,
        }
    }

    /// Everything the process wrote to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGHUP (what a certificate renewal hook sends).
    pub fn signal_hangup(&self) {
        let status = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -HUP failed");
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A client that keeps cookies and does not follow redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// The `_xsrf` value from a login page.
pub fn scrape_xsrf(html: &str) -> Option<String> {
    let marker = "name=\"_xsrf\" value=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

/// Loads the login page and posts the form; returns the POST's status (or the error).
pub async fn login(
    client: &reqwest::Client,
    hub_url: &str,
    username: &str,
    password: &str,
) -> Result<reqwest::Response, reqwest::Error> {
    let page = client.get(format!("{hub_url}login")).send().await?;
    let body = page.text().await?;
    let xsrf = scrape_xsrf(&body).unwrap_or_default();
    client
        .post(format!("{hub_url}login"))
        .form(&[
            ("_xsrf", xsrf.as_str()),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await
}

/// The status of GET `{hub_url}{path}` (or 0 when the request failed).
pub async fn status(client: &reqwest::Client, hub_url: &str, path: &str) -> u16 {
    match client.get(format!("{hub_url}{path}")).send().await {
        Ok(response) => response.status().as_u16(),
        Err(_) => 0,
    }
}

/// Signs out as a browser does: the confirmation page of `{hub_url}logout`, then its form
/// (with `cookie`, a `name=value` pair, sent by hand when given); the POST's answer, or
/// the GET's when it asked nothing (no session).
pub async fn logout(
    client: &reqwest::Client,
    hub_url: &str,
    cookie: Option<&str>,
) -> Result<reqwest::Response, reqwest::Error> {
    let url = format!("{hub_url}logout");
    let with_cookie = |request: reqwest::RequestBuilder| match cookie {
        Some(cookie) => request.header("cookie", cookie),
        None => request,
    };
    let page = with_cookie(client.get(&url)).send().await?;
    if page.status() != 200 {
        return Ok(page);
    }
    let body = page.text().await?;
    let xsrf = scrape_xsrf(&body).unwrap_or_default();
    with_cookie(client.post(&url))
        .form(&[("_xsrf", xsrf.as_str())])
        .send()
        .await
}

/// The `hubauth` binary of this build: `HUBAUTH_BIN` when set, else `hubauth` beside the
/// `deps` directory the running test binary is in (`target/debug/deps/NAME` ->
/// `target/debug/hubauth`), where `cargo test` builds it for the `hubauth` package's
/// tests.
pub fn hubauth_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("HUBAUTH_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test binary is in target/<profile>/deps");
    let binary = dir.join(format!("hubauth{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.is_file(),
        "{} is missing: run the tests of the hubauth package (cargo test -p hubauth), which build it",
        binary.display()
    );
    binary
}
