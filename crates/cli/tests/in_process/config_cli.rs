//! The real registry's options through config files and the `hubauth` binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::{Command, Stdio};

use hubauth_config::{Config, MapEnv};
use hubauth_core::AuthenticatorConfig;

fn registry() -> hubauth_config::Registry {
    hubauth_cli::registry().unwrap()
}

fn parse(text: &str) -> Result<Config, String> {
    Config::parse(text, "hubauth.toml", &registry()).map_err(|e| e.to_string())
}

fn base_config(text: &str, class: &str) -> AuthenticatorConfig {
    let registry = registry();
    let config = Config::parse(text, "hubauth.toml", &registry).unwrap();
    let env = MapEnv::default();
    AuthenticatorConfig::from_view(&config.view(&registry, class, &env)).unwrap()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

#[test]
fn every_authenticator_option_has_its_default() {
    let registry = registry();
    registry.check_defaults().unwrap();
    let config = base_config("", "Authenticator");
    assert_eq!(config, AuthenticatorConfig::default());
    assert_eq!(config.auth_refresh_age, 300);
    assert_eq!(config.otp_prompt, "OTP:");
    assert!(!config.allow_all);
    assert!(!config.allow_existing_users);
}

#[test]
fn every_authenticator_option_is_read() {
    let text = r#"
[Authenticator]
admin_users = ["root"]
allowed_users = ["ada", "bob"]
blocked_users = ["eve"]
allow_all = true
allow_existing_users = false
any_allow_config = true
username_pattern = "[a-z]+"
username_map = { "Ada.L" = "ada" }
delete_invalid_users = true
post_auth_hook = "authentication"
enable_auth_state = true
auth_refresh_age = 60
refresh_pre_spawn = true
refresh_pre_stop = true
manage_groups = true
manage_roles = true
reset_managed_roles_on_startup = true
auto_login = true
auto_login_oauth2_authorize = true
request_otp = true
otp_prompt = "Code:"
logout_redirect_url = "https://idp.example/logout"
custom_403_message = "No."
"#;
    let c = base_config(text, "Authenticator");
    assert_eq!(c.admin_users, set(&["root"]));
    assert_eq!(c.allowed_users, set(&["ada", "bob"]));
    assert_eq!(c.blocked_users, set(&["eve"]));
    assert!(c.allow_all);
    assert!(!c.allow_existing_users);
    assert_eq!(c.any_allow_config, Some(true));
    assert_eq!(c.username_pattern, "[a-z]+");
    assert_eq!(
        c.username_map,
        BTreeMap::from([("ada.l".to_owned(), "ada".to_owned())])
    );
    assert!(c.delete_invalid_users);
    assert_eq!(c.post_auth_hook, "authentication");
    assert!(c.enable_auth_state);
    assert_eq!(c.auth_refresh_age, 60);
    assert!(c.refresh_pre_spawn && c.refresh_pre_stop);
    assert!(c.manage_groups && c.manage_roles && c.reset_managed_roles_on_startup);
    assert!(c.auto_login && c.auto_login_oauth2_authorize);
    assert!(c.request_otp);
    assert_eq!(c.otp_prompt, "Code:");
    assert_eq!(c.logout_redirect_url, "https://idp.example/logout");
    assert_eq!(c.custom_403_message, "No.");
}

#[test]
fn allow_existing_users_default_follows_allowed_users() {
    assert!(
        base_config(
            "[Authenticator]\nallowed_users = [\"a1\"]\n",
            "Authenticator"
        )
        .allow_existing_users
    );
    assert!(!base_config("", "Authenticator").allow_existing_users);
}

#[test]
fn specific_class_table_overrides_general() {
    let text = "[Authenticator]\nadmin_users = [\"a1\"]\notp_prompt = \"general\"\n[DummyAuthenticator]\notp_prompt = \"specific\"\n";
    let dummy = base_config(text, "DummyAuthenticator");
    assert_eq!(dummy.otp_prompt, "specific");
    assert_eq!(dummy.admin_users, set(&["a1"]));
    // A sibling's table does not apply.
    let shared = base_config(text, "SharedPasswordAuthenticator");
    assert_eq!(shared.otp_prompt, "general");
}

#[test]
fn dummy_allow_all_default_and_password() {
    use hubauth_core::{Authenticator, DummyAuthenticator};
    let registry = registry();
    let env = MapEnv::default();
    let build = |text: &str| {
        let config = Config::parse(text, "t.toml", &registry).unwrap();
        DummyAuthenticator::from_view(&config.view(&registry, "DummyAuthenticator", &env)).unwrap()
    };
    assert!(build("").rules().config().allow_all);
    assert!(
        !build("[Authenticator]\nallowed_users = [\"ada\"]\n")
            .rules()
            .config()
            .allow_all
    );
    assert!(
        !build("[DummyAuthenticator]\nallow_all = false\n")
            .rules()
            .config()
            .allow_all
    );
    let with_password = build("[DummyAuthenticator]\npassword = \"pw-123\"\n");
    assert!(
        with_password
            .startup_warnings()
            .iter()
            .any(|w| w.contains("deprecated"))
    );
}

#[test]
fn deprecated_names_work_with_a_warning() {
    let config = parse("[Authenticator]\nwhitelist = [\"ada\"]\nblacklist = [\"eve\"]\n").unwrap();
    let warnings = config.warnings().join("\n");
    assert!(
        warnings.contains("Authenticator.whitelist is deprecated in JupyterHub 1.2, use Authenticator.allowed_users instead"),
        "{warnings}"
    );
    assert!(warnings.contains("Authenticator.blacklist is deprecated in JupyterHub 1.2, use Authenticator.blocked_users instead"));
    let c = base_config(
        "[Authenticator]\nwhitelist = [\"ada\"]\nblacklist = [\"eve\"]\n",
        "Authenticator",
    );
    assert_eq!(c.allowed_users, set(&["ada"]));
    assert_eq!(c.blocked_users, set(&["eve"]));
    // In a subclass table too.
    let c = base_config(
        "[DummyAuthenticator]\nwhitelist = [\"ada\"]\n",
        "DummyAuthenticator",
    );
    assert_eq!(c.allowed_users, set(&["ada"]));
}

#[test]
fn unknown_key_names_file_table_key_and_suggestion() {
    let err = parse("[Authenticator]\nalowed_users = [\"ada\"]\n").unwrap_err();
    assert!(err.contains("hubauth.toml"), "{err}");
    assert!(err.contains("[Authenticator]"), "{err}");
    assert!(err.contains("alowed_users"), "{err}");
    assert!(err.contains("allowed_users"), "suggestion: {err}");
}

#[test]
fn unknown_table_is_an_error_with_suggestion() {
    let err = parse("[DummyAuthenticatr]\n").unwrap_err();
    assert!(
        err.contains("DummyAuthenticatr") && err.contains("DummyAuthenticator"),
        "{err}"
    );
}

#[test]
fn wrong_type_names_expected_type() {
    let err = parse("[Authenticator]\nallow_all = \"yes\"\n").unwrap_err();
    assert!(
        err.contains("allow_all") && err.contains("boolean"),
        "{err}"
    );
    let err = parse("[Authenticator]\nadmin_users = \"root\"\n").unwrap_err();
    assert!(err.contains("admin_users"), "{err}");
    let err = parse("[Hub]\nbind_url = 8000\n").unwrap_err();
    assert!(err.contains("[Hub]") && err.contains("bind_url"), "{err}");
}

#[test]
fn several_errors_are_reported_together() {
    let err = parse("[Authenticator]\nalowed_users = []\nallow_all = 1\n").unwrap_err();
    assert!(
        err.contains("alowed_users") && err.contains("allow_all"),
        "{err}"
    );
}

#[test]
fn bad_values_are_refused_before_start() {
    let registry = registry();
    let env = MapEnv::default();
    let dummy = "[Hub]\nauthenticator_class = \"dummy\"\n";
    for (text, key) in [
        (format!("{dummy}[Authenticator]\nusername_pattern = \"[unclosed\"\n"), "username_pattern"),
        (format!("{dummy}[Authenticator]\nauth_refresh_age = -5\n"), "auth_refresh_age"),
        (format!("{dummy}bind_url = \"ftp://:21\"\n"), "bind_url"),
        (format!("{dummy}base_url = \"https://x/\"\n"), "base_url"),
        ("[Hub]\nauthenticator_class = \"dumy\"\n".to_owned(), "authenticator_class"),
        (format!("{dummy}[Authenticator]\npost_auth_hook = \"authentication +\"\n"), "post_auth_hook"),
        (format!("{dummy}[Authenticator]\nadmin_users = [\"bad/name\"]\n"), "admin_users"),
        (
            "[Hub]\nauthenticator_class = \"shared-password\"\n[SharedPasswordAuthenticator]\nuser_password = \"short\"\n".to_owned(),
            "user_password",
        ),
    ] {
        let err = Config::parse(&text, "hubauth.toml", &registry)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .and_then(|config| hubauth_cli::build(&config, &registry, &env).map(|_| ()))
            .expect_err(&text);
        let message = format!("{err:#}");
        assert!(message.contains(key), "{key}: {message}");
        assert!(message.contains("hubauth.toml"), "{key}: {message}");
    }
}

#[test]
fn secrets_are_not_echoed_in_errors() {
    let err = parse("[DummyAuthenticator]\npassword = [\"hunter2-secret\"]\n").unwrap_err();
    assert!(!err.contains("hunter2-secret"), "{err}");
}

fn hubauth() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hubauth"))
}

#[test]
fn generate_config_passes_check_config() {
    let generated = hubauth().arg("generate-config").output().unwrap();
    assert!(generated.status.success());
    let text = String::from_utf8(generated.stdout).unwrap();
    for needle in [
        "[Authenticator]",
        "[DummyAuthenticator]",
        "[Hub]",
        "allowed_users",
        "whitelist",
        "otp_prompt",
        "post_auth_hook",
        "JUPYTERHUB_CRYPT_KEY",
    ] {
        assert!(text.contains(needle), "generate-config lacks {needle}");
    }
    let mut check = hubauth()
        .args(["check-config", "/dev/stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    check
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "check-config failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_config_reports_the_key() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[Hub]\nauthenticator_class = \"dummy\"\n[Authenticator]\nadmin_user = [\"x\"]\n",
    )
    .unwrap();
    let out = hubauth().arg("check-config").arg(&path).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.toml")
            && stderr.contains("admin_user")
            && stderr.contains("admin_users"),
        "{stderr}"
    );

    std::fs::write(
        &path,
        "[Hub]\nauthenticator_class = \"dummy\"\n[Authenticator]\nwhitelist = [\"x1\"]\n",
    )
    .unwrap();
    let out = hubauth().arg("check-config").arg(&path).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("deprecated"));

    // A deprecated [Hub] setting is reported by check-config too, not only logged at start.
    std::fs::write(
        &path,
        "[Hub]\nauthenticator_class = \"dummy\"\ntrust_forwarded_headers = false\n",
    )
    .unwrap();
    let out = hubauth().arg("check-config").arg(&path).output().unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .contains("warning: [Hub] trust_forwarded_headers is deprecated: use trusted_proxies"),
        "{stderr}"
    );
}

#[test]
fn crypt_key_generate_makes_a_usable_key() {
    let out = hubauth().args(["crypt-key", "generate"]).output().unwrap();
    let key = String::from_utf8(out.stdout).unwrap();
    assert!(hubauth_store::CryptKeeper::from_keys_str(key.trim()).is_ok());
}

#[cfg(unix)]
#[test]
fn serve_stops_gracefully_on_sigterm() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("hub.toml");
    std::fs::write(
        &path,
        format!(
            "[Hub]\nauthenticator_class = \"dummy\"\nbind_url = \"http://127.0.0.1:0\"\ndb_url = \"sqlite:///{}\"\ncookie_secret_file = \"{}\"\n",
            dir.path().join("h.sqlite").display(),
            dir.path().join("secret").display()
        ),
    )
    .unwrap();
    let mut child = hubauth()
        .args(["serve", "--config"])
        .arg(&path)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let url = loop {
        let line = lines.next().expect("hub printed its URL").unwrap();
        if let Some(rest) = line.split("hubauth is serving at ").nth(1) {
            break rest.trim().to_owned();
        }
    };
    let body = blocking_get(&url);
    assert!(body.contains("name=\"username\""));
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status after SIGTERM: {status}");
}

#[test]
fn demo_serves_a_login_page() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::TempDir::new().unwrap();
    let mut child = hubauth()
        .args(["demo", "--provider", "dummy", "--port", "0", "--data-dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines.next().expect("demo printed its URL").unwrap();
        if let Some(rest) = line.trim().strip_prefix("Hub: ") {
            break rest.trim().to_owned();
        }
    };
    let body = blocking_get(&url);
    child.kill().unwrap();
    let _ = child.wait();
    assert!(body.contains("name=\"password\""), "{body}");
}

/// A GET from synchronous test code.
fn blocking_get(url: &str) -> String {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async { reqwest::get(url).await.unwrap().text().await.unwrap() })
}

/// The checked-in reference is what the code generates: options cannot drift from docs.
#[test]
fn config_reference_is_up_to_date() {
    let generated = hubauth()
        .args(["generate-config", "--markdown"])
        .output()
        .unwrap();
    assert!(generated.status.success());
    let generated = String::from_utf8(generated.stdout).unwrap();
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/config-reference.md");
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        generated == checked_in,
        "docs/config-reference.md is out of date: run `cargo run -p hubauth -- generate-config --markdown > docs/config-reference.md`"
    );
}

// ----- errors a newcomer meets at the first start (issue #14 point 7) -------------------

/// Runs `hubauth serve` in `dir` (its working directory) with `config` and returns its
/// stderr, asserting that it refused to start.
fn first_start_error(dir: &std::path::Path, config: &str) -> String {
    std::fs::write(dir.join("hub.toml"), config).unwrap();
    let out = hubauth()
        .args(["serve", "--config", "hub.toml"])
        .current_dir(dir)
        .env_remove("JPY_COOKIE_SECRET")
        .env_remove("JUPYTERHUB_CRYPT_KEY")
        .env_remove("HUBAUTH_DB_URL")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the hub started");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn sqlite_file_in_a_missing_directory_names_the_file_the_directory_and_the_setting() {
    let dir = tempfile::TempDir::new().unwrap();
    let stderr = first_start_error(
        dir.path(),
        "[Hub]\nauthenticator_class = \"dummy\"\nbind_url = \"http://127.0.0.1:0\"\ndb_url = \"sqlite:///no-such-dir/hub.sqlite\"\n",
    );
    let cwd = dir.path().canonicalize().unwrap();
    for needle in [
        "[Hub] db_url",
        "no-such-dir/hub.sqlite",
        &format!("relative to the working directory {}", cwd.display()),
        &format!("the directory {}/no-such-dir does not exist", cwd.display()),
    ] {
        assert!(stderr.contains(needle), "{needle:?} missing from: {stderr}");
    }
    assert!(!stderr.contains("retry the request"), "{stderr}");
}

#[test]
fn sqlite_path_that_is_a_directory_or_not_a_database_says_so() {
    let dir = tempfile::TempDir::new().unwrap();
    std::fs::create_dir(dir.path().join("adir")).unwrap();
    let stderr = first_start_error(
        dir.path(),
        "[Hub]\nauthenticator_class = \"dummy\"\nbind_url = \"http://127.0.0.1:0\"\ndb_url = \"sqlite:///adir\"\n",
    );
    assert!(stderr.contains("it is a directory, not a file"), "{stderr}");

    std::fs::write(dir.path().join("notes.txt"), "x".repeat(4096)).unwrap();
    let stderr = first_start_error(
        dir.path(),
        "[Hub]\nauthenticator_class = \"dummy\"\nbind_url = \"http://127.0.0.1:0\"\ndb_url = \"sqlite:///notes.txt\"\n",
    );
    assert!(stderr.contains("is not an SQLite database"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("notes.txt")).unwrap(),
        "x".repeat(4096),
        "the file is left as it was"
    );
}

#[test]
fn port_in_use_names_bind_url_and_the_fix() {
    let dir = tempfile::TempDir::new().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let stderr = first_start_error(
        dir.path(),
        &format!(
            "[Hub]\nauthenticator_class = \"dummy\"\nbind_url = \"http://127.0.0.1:{port}\"\n"
        ),
    );
    for needle in [
        "[Hub] bind_url",
        &format!("127.0.0.1:{port}"),
        "another process already listens",
        "choose another port",
    ] {
        assert!(stderr.contains(needle), "{needle:?} missing from: {stderr}");
    }
}

#[cfg(unix)]
#[test]
fn malformed_or_open_cookie_secret_names_the_setting_and_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::TempDir::new().unwrap();
    let secret = dir.path().join("hubauth_cookie_secret");
    std::fs::write(&secret, "not hex").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let config = "[Hub]\nauthenticator_class = \"dummy\"\nbind_url = \"http://127.0.0.1:0\"\n";
    let stderr = first_start_error(dir.path(), config);
    for needle in [
        "[Hub] cookie_secret_file",
        "64 hex digits",
        "delete it to have a new one made",
        "openssl rand -hex 32",
    ] {
        assert!(stderr.contains(needle), "{needle:?} missing from: {stderr}");
    }
    std::fs::write(&secret, "ab".repeat(32)).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let stderr = first_start_error(dir.path(), config);
    assert!(stderr.contains("chmod 600"), "{stderr}");
}

#[test]
fn auth_state_without_a_crypt_key_names_the_variable_and_how_to_make_one() {
    let dir = tempfile::TempDir::new().unwrap();
    let stderr = first_start_error(
        dir.path(),
        "[Hub]\nauthenticator_class = \"dummy\"\nbind_url = \"http://127.0.0.1:0\"\n[Authenticator]\nenable_auth_state = true\n",
    );
    for needle in [
        "enable_auth_state",
        "JUPYTERHUB_CRYPT_KEY",
        "hubauth crypt-key generate",
    ] {
        assert!(stderr.contains(needle), "{needle:?} missing from: {stderr}");
    }
}

#[test]
fn misspelt_authenticator_class_names_the_key_and_suggests_the_name() {
    let dir = tempfile::TempDir::new().unwrap();
    let stderr = first_start_error(
        dir.path(),
        "[Hub]\nauthenticator_class = \"dumy\"\nbind_url = \"http://127.0.0.1:0\"\n",
    );
    for needle in [
        "hub.toml",
        "[Hub] authenticator_class",
        "did you mean \"dummy\"?",
        "available: dummy",
    ] {
        assert!(stderr.contains(needle), "{needle:?} missing from: {stderr}");
    }
}

/// On a hub with several login methods, whether anyone may log in is each method's
/// question: `[Authenticator]` alone gets no "No allow config" warning, the method that
/// allows nobody does, and the hub-wide one-character check still applies.
#[test]
fn check_config_warns_per_login_method() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("methods.toml");
    std::fs::write(
        &path,
        "[Hub]\n[[Hub.logins]]\nname = \"local\"\nclass = \"dummy\"\n\
         options = { allow_all = false }\n\
         [[Hub.logins]]\nname = \"guests\"\nclass = \"dummy\"\n",
    )
    .unwrap();
    let out = hubauth().arg("check-config").arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: login method \"local\": No allow config found"),
        "{stderr}"
    );
    assert!(!stderr.contains("warning: No allow config"), "{stderr}");
    assert!(!stderr.contains("\"guests\": No allow config"), "{stderr}");

    std::fs::write(
        &path,
        "[Hub]\n[[Hub.logins]]\nname = \"local\"\nclass = \"dummy\"\n\
         [[Hub.logins]]\nname = \"guests\"\nclass = \"dummy\"\n\
         [Authenticator]\nallowed_users = [\"a\", \"bob\"]\n",
    )
    .unwrap();
    let out = hubauth().arg("check-config").arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: Authenticator.allowed_users has names of one character"),
        "{stderr}"
    );
}
