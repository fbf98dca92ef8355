//! What the process benches share: the real `hubauth serve` (the bench profile's binary)
//! spawned as a child process, logging users in through `GenericOAuthenticator` against
//! the development OpenID provider running in the bench's own process, so the child's CPU
//! time, memory and instruction counts are the hub's alone.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hubauth_devidp::{Client, DevIdp, DevUser, RunningIdp};

/// The user the provider logs in (auto-approved).
pub const LOGIN_USER: &str = "ann";

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the development provider with the hub's client registered for `hub_origin`.
pub async fn start_idp(hub_origin: &str) -> RunningIdp {
    DevIdp::builder()
        .client(
            Client::confidential("hub", "s3cret", format!("{hub_origin}/hub/oauth_callback"))
                .with_require_pkce(true),
        )
        .user(
            DevUser::new(LOGIN_USER, "pw")
                .claim("preferred_username", LOGIN_USER)
                .claim("groups", serde_json::json!(["staff"])),
        )
        .auto_approve(Some(LOGIN_USER.into()))
        .start()
        .await
        .unwrap()
}

/// The hub's configuration: `GenericOAuthenticator` against `issuer`, SQLite at `db`,
/// plus `extra` lines for `[Hub]`.
pub fn config_text(dir: &Path, db: &Path, port: u16, issuer: &str, extra: &str) -> String {
    format!(
        "[Hub]\nauthenticator_class = \"generic-oauth\"\nbind_url = \"http://127.0.0.1:{port}\"\n\
         db_url = \"sqlite:///{db}\"\ncookie_secret_file = \"{secret}\"\nlogin_rate_limit = 0\n{extra}\n\
         [GenericOAuthenticator]\nclient_id = \"hub\"\nclient_secret = \"s3cret\"\n\
         oidc_issuer = \"{issuer}\"\nscope = [\"openid\", \"profile\", \"groups\"]\n\
         username_claim = \"preferred_username\"\nmanage_groups = true\n\
         allowed_groups = [\"staff\"]\nenable_auth_state = true\n",
        db = db.display(),
        secret = dir.join("cookie_secret").display(),
    )
}

/// A running `hubauth serve` child.
pub struct HubProcess {
    /// The child (killed on drop).
    pub child: Child,
    /// `http://127.0.0.1:<port>`.
    pub origin: String,
    /// Where its log goes.
    pub log: PathBuf,
}

impl HubProcess {
    /// Spawns `program args... hubauth serve --config <config>` (`program` empty: the hub
    /// itself) and waits until `/hub/health/ready` answers 200.
    pub async fn spawn(wrapper: &[String], config: &Path, port: u16, log: PathBuf) -> Self {
        let hub = env!("CARGO_BIN_EXE_hubauth");
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(hub);
                command
            }
            None => Command::new(hub),
        };
        let child = command
            .args(["serve", "--config"])
            .arg(config)
            // `BENCH_HUB_LOG` (say `sqlx::query=debug`) shows what the hub does.
            .env(
                "HUBAUTH_LOG",
                std::env::var("BENCH_HUB_LOG").unwrap_or_else(|_| "warn".to_owned()),
            )
            .env(
                "JUPYTERHUB_CRYPT_KEY",
                "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=",
            )
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut hub = HubProcess {
            child,
            origin: format!("http://127.0.0.1:{port}"),
            log,
        };
        hub.wait_ready().await;
        hub
    }

    async fn wait_ready(&mut self) {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let ready = format!("{}/hub/health/ready", self.origin);
        let started = Instant::now();
        loop {
            if let Ok(response) = client.get(&ready).send().await
                && response.status() == 200
            {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "hubauth serve exited with {status}: {}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(300),
                "not ready after five minutes"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time (user + system, all threads) the hub has used so far.
    pub fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        // Fields after the command name (which is in parentheses): utime is the 14th
        // field of the line, stime the 15th, in clock ticks.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        Duration::from_secs_f64(ticks as f64 / clock_ticks_per_second() as f64)
    }

    /// `VmRSS` and `VmHWM` (peak) of the hub, in KiB.
    pub fn memory_kib(&self) -> (u64, u64) {
        (self.status_kib("VmRSS:"), self.status_kib("VmHWM:"))
    }

    /// A field of `/proc/<pid>/status` in KiB (`VmRSS:`, `RssAnon:`, `RssFile:`, ...).
    pub fn status_kib(&self, name: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .unwrap()
    }
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The kernel's clock ticks per second (`getconf CLK_TCK`, 100 on Linux).
fn clock_ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100)
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// A fresh browser: its own cookie jar, no redirects followed.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// One complete login with `browser` (hub `oauth_login` → provider `authorize` → hub
/// `oauth_callback`); returns the session cookie's value.
pub async fn login(browser: &reqwest::Client, origin: &str) -> String {
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
    done.cookies()
        .find(|cookie| cookie.name() == "hubauth-session")
        .map(|cookie| cookie.value().to_owned())
        .expect("a session cookie")
}

/// `count` complete logins, `concurrency` at a time, each with a fresh browser.
pub async fn logins(origin: &str, count: usize, concurrency: usize) {
    let per_worker = count.div_ceil(concurrency.max(1));
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let origin = origin.to_owned();
        workers.push(tokio::spawn(async move {
            for _ in 0..per_worker {
                login(&browser(), &origin).await;
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
}

/// An API token for [`LOGIN_USER`] with the owner's scopes (`inherit`), stored in the
/// hub's SQLite file `db` as `hubauth` commands store them.
pub async fn api_token(db: &Path) -> String {
    use sha2::Digest;
    let token = format!("bench-token-{:032x}", rand_u128());
    let hash: String = sha2::Sha256::digest(token.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let store = hubauth_store::open(&format!("sqlite:///{}", db.display()))
        .await
        .unwrap();
    store
        .create_api_token(hubauth_store::NewApiToken {
            hash,
            prefix: token[..4].to_owned(),
            user: LOGIN_USER.to_owned(),
            note: "bench".to_owned(),
            scopes: vec!["inherit".to_owned()],
            created: 0,
            expires: None,
        })
        .await
        .unwrap();
    store.close().await;
    token
}

/// A random number (the bench's token values).
fn rand_u128() -> u128 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(std::process::id().into());
    (u128::from(hasher.finish()) << 64) | u128::from(hasher.finish().rotate_left(17))
}
