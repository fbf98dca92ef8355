//! Test support: throwaway UNIX users, groups and PAM service files removed by a Drop
//! guard, a hub on loopback with a real SQLite file, a browser-like client, and a log
//! capture.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use hubauth_config::{ClassDef, Config, MapEnv, Registry};
use hubauth_core::Authenticator;
use hubauth_server::{CookieSecret, Hub, HubConfig, HubParts, SystemClock};
use hubauth_store::{CryptKeeper, Store};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Every name the tests create starts with this, so leftovers of a killed run are easy to
/// find (`scripts/teardown-pam-tests.sh` removes them).
pub(super) const PREFIX: &str = "hbt_";

/// Where test PAM service files go: `/etc/pam.d/hubauth-test-*`.
pub(super) const SERVICE_PREFIX: &str = "hubauth-test-";

/// Whether the root-only tests should run. `HUBAUTH_SKIP_PAM=1` skips them; otherwise
/// not being root is an error that says what to do.
pub(super) fn root_or_skip(test: &str) -> bool {
    if std::env::var("HUBAUTH_SKIP_PAM").is_ok_and(|value| value == "1") {
        eprintln!("{test}: skipped (HUBAUTH_SKIP_PAM=1)");
        return false;
    }
    assert!(
        nix::unistd::geteuid().is_root(),
        "{test} creates UNIX users, groups and PAM service files, so it must run as root. \
         Run the project's test script (./scripts/test.sh, which runs \
         scripts/setup-pam-tests.sh first) as root, or set HUBAUTH_SKIP_PAM=1 to skip the \
         PAM tests."
    );
    for tool in [
        "useradd", "userdel", "groupadd", "groupdel", "chpasswd", "chage", "getent",
    ] {
        assert!(
            which(tool).is_some(),
            "{test} needs `{tool}` (Debian packages passwd, login, libc-bin): run \
             scripts/setup-pam-tests.sh as root"
        );
    }
    for module in [
        "pam_unix.so",
        "pam_exec.so",
        "pam_stress.so",
        "pam_faildelay.so",
    ] {
        assert!(
            pam_module_exists(module),
            "{test} needs the PAM module {module} (Debian package libpam-modules): run \
             scripts/setup-pam-tests.sh as root"
        );
    }
    true
}

fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .map(|dir| Path::new(dir).join(tool))
        .find(|candidate| candidate.is_file())
}

fn pam_module_exists(module: &str) -> bool {
    [
        "/lib/x86_64-linux-gnu/security",
        "/usr/lib/x86_64-linux-gnu/security",
        "/lib/aarch64-linux-gnu/security",
        "/usr/lib/aarch64-linux-gnu/security",
        "/lib/security",
        "/lib64/security",
        "/usr/lib/security",
        "/usr/lib64/security",
    ]
    .iter()
    .any(|dir| Path::new(dir).join(module).is_file())
}

/// Serializes changes to /etc/passwd, /etc/group and /etc/shadow between tests.
fn system_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn run(program: &str, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| format!("cannot run {program}: {err}"))
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let output = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn must(program: &str, args: &[&str], stdin: Option<&str>) {
    let (ok, output) = run(program, args, stdin);
    assert!(ok, "{program} {args:?} failed: {output}");
}

/// `getent passwd NAME`, split into fields.
pub(super) fn getent_passwd(name: &str) -> Option<Vec<String>> {
    let (ok, output) = run("getent", &["passwd", name], None);
    ok.then(|| output.trim().split(':').map(str::to_owned).collect())
}

/// Whether a group exists.
pub(super) fn group_exists(name: &str) -> bool {
    run("getent", &["group", name], None).0
}

/// A uid that no account uses, from `start` upward.
pub(super) fn free_uid(start: u32) -> u32 {
    (start..start + 10_000)
        .find(|uid| !run("getent", &["passwd", &uid.to_string()], None).0)
        .expect("a free uid")
}

/// Throwaway system state: users, groups and files, all removed on drop (also when the
/// test fails).
#[derive(Default)]
pub(super) struct System {
    users: Vec<String>,
    groups: Vec<String>,
    files: Vec<PathBuf>,
}

impl System {
    /// Nothing created yet.
    pub(super) fn new() -> Self {
        System::default()
    }

    /// Creates UNIX group `name` (replacing a leftover of an earlier run).
    pub(super) fn group(&mut self, name: &str) -> &mut Self {
        assert!(name.starts_with(PREFIX));
        let _lock = system_lock();
        let _ = run("groupdel", &[name], None);
        must("groupadd", &[name], None);
        self.groups.push(name.to_owned());
        self
    }

    /// Creates user `name` with `password`, member of `groups` (no home directory).
    pub(super) fn user(&mut self, name: &str, password: &str, groups: &[&str]) -> &mut Self {
        self.user_with(name, password, groups, &[])
    }

    /// Creates a user with extra `useradd` arguments.
    pub(super) fn user_with(
        &mut self,
        name: &str,
        password: &str,
        groups: &[&str],
        extra: &[&str],
    ) -> &mut Self {
        assert!(name.starts_with(PREFIX));
        let _lock = system_lock();
        remove_user(name);
        let joined = groups.join(",");
        let mut args = vec!["-M", "-s", "/usr/sbin/nologin", "-c", "hubauth test user"];
        if !groups.is_empty() {
            args.extend(["-G", joined.as_str()]);
        }
        args.extend(extra);
        args.push(name);
        must("useradd", &args, None);
        self.users.push(name.to_owned());
        must("chpasswd", &[], Some(&format!("{name}:{password}\n")));
        self
    }

    /// Expires the account (`chage -E 0`).
    pub(super) fn expire(&mut self, name: &str) -> &mut Self {
        let _lock = system_lock();
        must("chage", &["-E", "0", name], None);
        self
    }

    /// Registers a user that the code under test creates, so it is removed on drop.
    pub(super) fn track_user(&mut self, name: &str) -> &mut Self {
        let _lock = system_lock();
        remove_user(name);
        self.users.push(name.to_owned());
        self
    }

    /// Writes `/etc/pam.d/hubauth-test-SUFFIX` and returns the service name.
    pub(super) fn service(&mut self, suffix: &str, rules: &str) -> String {
        let service = format!("{SERVICE_PREFIX}{suffix}");
        let path = Path::new("/etc/pam.d").join(&service);
        std::fs::write(
            &path,
            format!("# Written by the hubauth-local tests; removed when they end.\n{rules}"),
        )
        .unwrap();
        self.files.push(path);
        service
    }

    /// Writes an executable script (for pam_exec or add_user_cmd) and removes it on drop.
    pub(super) fn script(&mut self, path: &Path, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
        self.files.push(path.to_owned());
        path.to_owned()
    }
}

fn remove_user(name: &str) {
    if getent_passwd(name).is_some() {
        let _ = run("userdel", &["-r", "-f", name], None);
    }
    // useradd's user group, if userdel left it.
    if group_exists(name) {
        let _ = run("groupdel", &[name], None);
    }
}

impl Drop for System {
    fn drop(&mut self) {
        let _lock = system_lock();
        for user in self.users.drain(..).rev() {
            remove_user(&user);
        }
        for group in self.groups.drain(..).rev() {
            let _ = run("groupdel", &[&group], None);
        }
        for file in self.files.drain(..) {
            let _ = std::fs::remove_file(file);
        }
    }
}

/// The standard test stack: pam_unix with a short, fixed failure delay (pam_faildelay)
/// instead of pam_unix's own 2 s one, so failures take the same time whatever failed.
pub(super) const UNIX_STACK: &str = "auth     optional  pam_faildelay.so delay=300000\n\
auth     required  pam_unix.so nodelay\n\
account  required  pam_unix.so\n\
session  required  pam_unix.so\n";

/// The registry of the classes these tests configure.
pub(super) fn registry(extra: &[&'static ClassDef]) -> Registry {
    let mut classes: Vec<&'static ClassDef> = hubauth_core::options::classes().to_vec();
    classes.extend(hubauth_local::classes());
    classes.extend(extra.iter().copied());
    Registry::new(classes).unwrap()
}

/// Parses config text and builds class `class` with `build`.
pub(super) fn build<T>(
    registry: &Registry,
    class: &str,
    text: &str,
    build: impl FnOnce(&hubauth_config::ClassView<'_>) -> Result<T, hubauth_config::ConfigError>,
) -> Result<(T, Vec<String>), hubauth_config::ConfigError> {
    build_with_env(registry, class, text, &[], build)
}

/// [`build`] with extra environment variables (besides `PATH`).
pub(super) fn build_with_env<T>(
    registry: &Registry,
    class: &str,
    text: &str,
    vars: &[(&str, &str)],
    build: impl FnOnce(&hubauth_config::ClassView<'_>) -> Result<T, hubauth_config::ConfigError>,
) -> Result<(T, Vec<String>), hubauth_config::ConfigError> {
    let config = Config::parse(text, "test.toml", registry)?;
    let mut env = MapEnv::new();
    env.set("PATH", std::env::var("PATH").unwrap_or_default());
    for (name, value) in vars {
        env.set(*name, *value);
    }
    let view = config.view(registry, class, &env);
    let built = build(&view)?;
    Ok((built, config.warnings().to_vec()))
}

/// A hub serving on 127.0.0.1 with its own SQLite file.
pub(super) struct TestHub {
    /// `http://127.0.0.1:PORT/hub/`
    pub hub_url: String,
    /// The database.
    pub store: Arc<dyn Store>,
    _dir: TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestHub {
    /// Starts a hub with `authenticator` (no login rate limit).
    pub(super) async fn start(authenticator: Arc<dyn Authenticator>) -> TestHub {
        Self::start_with(authenticator, |_| {}).await
    }

    /// Starts a hub with `authenticator` and `[Hub]` settings changed by `tweak`.
    pub(super) async fn start_with(
        authenticator: Arc<dyn Authenticator>,
        tweak: impl FnOnce(&mut HubConfig),
    ) -> TestHub {
        let dir = TempDir::new().unwrap();
        let db_url = format!("sqlite:///{}", dir.path().join("hub.sqlite").display());
        assert!(db_url.starts_with("sqlite:////"));
        let store = hubauth_store::open(&db_url).await.unwrap();
        let mut config = HubConfig {
            db_url,
            bind_addr: "127.0.0.1:0".parse().unwrap(),
            cookie_secret_file: dir.path().join("cookie_secret"),
            login_rate_limit: 0,
            ..HubConfig::default()
        };
        tweak(&mut config);
        let hub = Hub::start(HubParts {
            config,
            authenticator,
            hook: None,
            store: store.clone(),
            crypt: CryptKeeper::empty(),
            secret: CookieSecret::random(),
            clock: Arc::new(SystemClock),
        })
        .await
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hub_url = format!("http://{addr}{}hub/", hub.state().config.base_url);
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = hub
                .serve(listener, async {
                    let _ = rx.await;
                })
                .await;
        });
        TestHub {
            hub_url,
            store,
            _dir: dir,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Stops serving and closes the database.
    pub(super) async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.store.close().await;
    }
}

/// A client that keeps cookies and does not follow redirects.
pub(super) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// The `_xsrf` value of a login page.
pub(super) fn scrape_xsrf(html: &str) -> String {
    let marker = "name=\"_xsrf\" value=\"";
    let start = html.find(marker).expect("login page has an _xsrf field") + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

/// What a login attempt answered.
#[derive(Debug)]
pub(super) struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Location header, if any.
    pub location: String,
    /// Body.
    pub body: String,
}

/// Loads the login page, then posts the form (with `otp` when given).
pub(super) async fn login(
    client: &reqwest::Client,
    hub: &TestHub,
    username: &str,
    password: &str,
    otp: Option<&str>,
) -> Answer {
    let page = client
        .get(format!("{}login", hub.hub_url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let xsrf = scrape_xsrf(&page.text().await.unwrap());
    let mut form = vec![
        ("_xsrf", xsrf.as_str()),
        ("username", username),
        ("password", password),
    ];
    if let Some(otp) = otp {
        form.push(("otp", otp));
    }
    let response = client
        .post(format!("{}login", hub.hub_url))
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.text().await.unwrap();
    Answer {
        status,
        location,
        body,
    }
}

/// The home page of the client's current user: (name, admin flag), or None when not
/// logged in.
pub(super) async fn whoami(client: &reqwest::Client, hub: &TestHub) -> Option<(String, bool)> {
    let response = client
        .get(format!("{}home", hub.hub_url))
        .send()
        .await
        .unwrap();
    if response.status() != 200 {
        return None;
    }
    let html = response.text().await.unwrap();
    let field = |marker: &str| {
        let start = html.find(marker)? + marker.len();
        let end = html[start..].find('<')? + start;
        Some(html[start..end].to_owned())
    };
    let name = field("id=\"username\">")?;
    let admin = field("id=\"admin\">")? == "yes";
    Some((name, admin))
}

/// Logs the client out as a browser does: the "Sign out?" page, then its form.
pub(super) async fn logout(client: &reqwest::Client, hub: &TestHub) {
    let url = format!("{}logout", hub.hub_url);
    let page = client.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200, "the confirmation page");
    let xsrf = scrape_xsrf(&page.text().await.unwrap());
    let response = client
        .post(&url)
        .form(&[("_xsrf", xsrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
}

/// Everything logged by this test binary (tracing, at debug level and above).
pub(super) fn logs() -> String {
    let buffer = log_buffer();
    let bytes = buffer.lock().unwrap_or_else(|p| p.into_inner());
    String::from_utf8_lossy(&bytes).into_owned()
}

fn log_buffer() -> &'static Arc<Mutex<Vec<u8>>> {
    static BUFFER: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUFFER.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = buffer.clone();
        let _ = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || LogWriter(writer.clone()))
            .try_init();
        buffer
    })
}

/// Starts capturing logs (call at the start of every test).
pub(super) fn capture_logs() {
    let _ = log_buffer();
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The median of some durations.
pub(super) fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}
