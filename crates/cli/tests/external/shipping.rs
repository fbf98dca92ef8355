//! What operators see of the shipped binary: `--version` with the git revision, log
//! lines as text or JSON with one switch, and libpam loaded at run time rather than
//! linked (the binary builds and runs without libpam; PAMAuthenticator says what to
//! install when it is missing).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_testkit::process;

use std::process::Command;

use process::{HubProcess, client, hub_config, login};

#[test]
fn version_names_the_release_and_the_git_revision() {
    let output = Command::new(env!("CARGO_BIN_EXE_hubauth"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let expected_start = format!("hubauth {} (git ", env!("CARGO_PKG_VERSION"));
    assert!(text.starts_with(&expected_start), "{text}");
    // The test build has the default features, the demo providers among them.
    let revision = text
        .trim()
        .strip_prefix(&expected_start)
        .and_then(|rest| rest.strip_suffix("), with the demo providers"))
        .unwrap_or_else(|| panic!("{text}"));
    // The revision is what git says for this checkout when git can say it, else "unknown".
    let git = Command::new("git")
        .args(["rev-parse", "--short=10", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    match git {
        Some(head) if !head.is_empty() => {
            // HEAD may have moved since the build (a commit during the test run): the
            // binary's revision must at least be a commit of this repository.
            let known = Command::new("git")
                .args(["cat-file", "-e", &format!("{revision}^{{commit}}")])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .unwrap();
            assert!(known.success(), "{revision} is not a commit here ({head})");
        }
        _ => assert_eq!(revision, "unknown"),
    }
}

/// A dummy hub with logs in the given format; one login, and its stderr.
/// The packages and features a build without the default features links (`cargo tree`).
fn linked_without_default_features() -> String {
    let output = Command::new(env!("CARGO"))
        .args([
            "tree",
            "-p",
            "hubauth",
            "--no-default-features",
            "--edges",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p} [{f}]",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The release build (`--no-default-features`, as scripts/build-static.sh makes it) links
/// neither the development provider nor any provider mock.
#[test]
fn a_build_without_the_demo_providers_links_no_mock() {
    let tree = linked_without_default_features();
    assert!(tree.contains("hubauth-server "), "{tree}");
    assert!(!tree.contains("hubauth-devidp "), "{tree}");
    for line in tree.lines().filter(|line| {
        [
            "hubauth-azuread ",
            "hubauth-globus ",
            "hubauth-github ",
            "hubauth-google ",
            "hubauth-gitlab ",
            "hubauth-mediawiki ",
            "hubauth-cilogon ",
            "hubauth-bitbucket ",
            "hubauth-openshift ",
            "hubauth-auth0 ",
        ]
        .iter()
        .any(|name| line.starts_with(name))
    }) {
        assert!(!line.contains("mock"), "{line}");
    }
}

async fn hub_log(format_env: &[(&str, &str)]) -> String {
    let dir = tempfile::TempDir::new().unwrap();
    let db = format!("sqlite:///{}", dir.path().join("hub.sqlite").display());
    let config = format!(
        "{}\n[DummyAuthenticator]\npassword = \"pw-log-format\"\n",
        hub_config(
            &db,
            &dir.path().join("secret"),
            "authenticator_class = \"dummy\""
        )
    );
    let hub = HubProcess::start(dir.path(), "hub", &config, format_env);
    let c = client();
    let response = login(&c, &hub.hub_url, "ada", "pw-log-format")
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    // The log is read by another thread: wait for the login line to arrive.
    for _ in 0..100 {
        if hub.log().contains("outcome") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    hub.log()
}

#[tokio::test]
async fn log_format_json_is_one_switch() {
    let log = hub_log(&[("HUBAUTH_LOG_FORMAT", "json")]).await;
    let mut login_lines = 0;
    for line in log.lines() {
        if line.starts_with("hubauth is serving at ") {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|err| panic!("not a JSON line ({err}): {line}\n{log}"));
        assert!(value.get("level").is_some(), "{line}");
        assert!(value.get("timestamp").is_some(), "{line}");
        let fields = &value["fields"];
        if fields.get("outcome").is_some() {
            assert_eq!(fields["user"], "ada", "{line}");
            assert_eq!(fields["outcome"], "ok", "{line}");
            login_lines += 1;
        }
    }
    assert_eq!(login_lines, 1, "{log}");
    assert!(!log.contains("pw-log-format"), "{log}");
}

#[tokio::test]
async fn log_format_text_is_the_default() {
    let log = hub_log(&[]).await;
    assert!(
        log.lines()
            .any(|l| l.contains("user=ada") && l.contains("outcome=\"ok\"")),
        "{log}"
    );
    // Not a terminal: no colour escapes in the log.
    assert!(!log.contains('\u{1b}'), "{log}");
    assert!(
        log.lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_err()),
        "{log}"
    );
}

/// The directives of a unit file, as `key=value` lines.
fn directives(unit: &str) -> Vec<(String, String)> {
    unit.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn systemd_units_are_hardened_and_valid() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    let plain = std::fs::read_to_string(root.join("hubauth.service")).unwrap();
    let pam = std::fs::read_to_string(root.join("hubauth-pam.service")).unwrap();
    let has = |unit: &str, key: &str, value: &str| {
        directives(unit).iter().any(|(k, v)| k == key && v == value)
    };
    for unit in [&plain, &pam] {
        for (key, value) in [
            ("ProtectSystem", "strict"),
            ("StateDirectory", "hubauth"),
            ("NoNewPrivileges", "yes"),
            ("SystemCallFilter", "@system-service"),
            ("PrivateTmp", "yes"),
            ("UMask", "0077"),
        ] {
            assert!(has(unit, key, value), "{key}={value} missing");
        }
        assert!(
            directives(unit)
                .iter()
                .any(|(k, _)| k == "RestrictAddressFamilies")
        );
    }
    // No PAM: a throwaway user and no capabilities at all.
    assert!(has(&plain, "DynamicUser", "yes"));
    assert!(has(&plain, "CapabilityBoundingSet", ""));
    // PAM needs root to check other users' passwords: no DynamicUser there.
    assert!(!directives(&pam).iter().any(|(k, _)| k == "DynamicUser"));
    assert!(has(&pam, "User", "root"));

    // systemd's own checker, when it is installed, with ExecStart pointing at this build.
    let analyze = std::path::Path::new("/usr/bin/systemd-analyze");
    if !analyze.exists() {
        eprintln!("note: systemd-analyze is not installed; unit files checked by content only");
        return;
    }
    let dir = tempfile::TempDir::new().unwrap();
    let binary = env!("CARGO_BIN_EXE_hubauth");
    for (name, unit) in [("hubauth.service", &plain), ("hubauth-pam.service", &pam)] {
        let path = dir.path().join(name);
        std::fs::write(&path, unit.replace("/usr/local/bin/hubauth", binary)).unwrap();
        let output = Command::new(analyze)
            .arg("verify")
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let complaints: Vec<&str> = stderr.lines().filter(|l| l.contains(name)).collect();
        assert!(
            output.status.success() && complaints.is_empty(),
            "systemd-analyze verify {name}: {stderr}"
        );
    }
}

/// The shared libraries the dynamic linker must load before `hubauth` runs (`readelf -d`
/// NEEDED entries).
fn needed_libraries(binary: &str) -> Vec<String> {
    let output = Command::new("readelf")
        .args(["-d", "--wide", binary])
        .output()
        .unwrap_or_else(|err| {
            panic!("cannot run readelf ({err}); it is in Debian's binutils (scripts/test.sh installs it)")
        });
    assert!(
        output.status.success(),
        "readelf -d {binary}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| line.contains("(NEEDED)"))
        .map(|line| line.trim().to_owned())
        .collect()
}

/// A fresh machine with only a Rust toolchain has no libpam development files, so the
/// binary must not be linked against libpam: it is loaded at run time, by
/// PAMAuthenticator only.
#[test]
fn hubauth_binary_has_no_link_time_dependency_on_libpam() {
    let needed = needed_libraries(env!("CARGO_BIN_EXE_hubauth"));
    // Dynamically linked against libc, so the check below looks at a real list.
    assert!(
        needed.iter().any(|line| line.contains("libc.so")),
        "{needed:#?}"
    );
    assert!(
        needed.iter().all(|line| !line.contains("libpam")),
        "hubauth links libpam: {needed:#?}"
    );
}

/// PAMAuthenticator over the real binary: refused without libpam, working with it.
#[cfg(feature = "pam")]
mod pam_at_run_time {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use super::process::{HubProcess, client, hub_config, login};

    /// Runs `hubauth` with `args` and `env`, waits at most a minute for it to exit, and
    /// returns (success, stderr). A process still running then is killed and reported.
    fn run_to_exit(args: &[&std::ffi::OsStr], env: &[(&str, &str)]) -> (bool, String) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_hubauth"));
        command
            .args(args)
            .env_remove("JUPYTERHUB_CRYPT_KEY")
            .env_remove("JPY_COOKIE_SECRET")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let output = child.wait_with_output().unwrap();
                panic!(
                    "hubauth {args:?} did not exit: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let output = child.wait_with_output().unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// On a machine without libpam, `authenticator_class = "pam"` must not start a hub that
    /// cannot check passwords: `check-config` and `serve` stop with what to install. Every
    /// other authenticator never touches libpam and still serves logins.
    #[tokio::test]
    async fn pam_without_libpam_refuses_to_start_and_other_authenticators_still_work() {
        let missing = [("HUBAUTH_LIBPAM", "/nonexistent/libpam.so.0")];
        let dir = tempfile::TempDir::new().unwrap();
        let db = format!("sqlite:///{}", dir.path().join("hub.sqlite").display());
        let secret = dir.path().join("secret");
        let path = dir.path().join("pam.toml");
        std::fs::write(
            &path,
            hub_config(&db, &secret, "authenticator_class = \"pam\""),
        )
        .unwrap();
        for command in ["check-config", "serve"] {
            let args: Vec<&std::ffi::OsStr> = if command == "serve" {
                vec!["serve".as_ref(), "--config".as_ref(), path.as_os_str()]
            } else {
                vec!["check-config".as_ref(), path.as_os_str()]
            };
            let (success, stderr) = run_to_exit(&args, &missing);
            assert!(!success, "{command} succeeded without libpam: {stderr}");
            for needle in [
                "PAMAuthenticator cannot start: cannot load the PAM library /nonexistent/libpam.so.0",
                "No such file or directory",
                "apt-get install libpam0g",
                "choose another authenticator_class",
            ] {
                assert!(
                    stderr.contains(needle),
                    "{command}: {needle:?} not in {stderr}"
                );
            }
            assert!(!stderr.contains("serving at"), "{command}: {stderr}");
            assert!(!stderr.contains("panicked"), "{command}: {stderr}");
        }
        assert!(
            !dir.path().join("hub.sqlite").exists(),
            "serve touched the database before refusing"
        );

        let config = format!(
            "{}\n[DummyAuthenticator]\npassword = \"pw-no-libpam\"\n",
            hub_config(&db, &secret, "authenticator_class = \"dummy\"")
        );
        let hub = HubProcess::start(dir.path(), "dummy", &config, &missing);
        let response = login(&client(), &hub.hub_url, "ada", "pw-no-libpam")
            .await
            .unwrap();
        assert_eq!(response.status(), 302, "{}", hub.log());
        let maps = std::fs::read_to_string(format!("/proc/{}/maps", hub.pid())).unwrap();
        assert!(!maps.contains("libpam"), "a dummy hub loaded libpam");
    }

    /// A throwaway UNIX user with a password and a pam_unix service file, removed on drop
    /// (names as in crates/local's tests, so scripts/teardown-pam-tests.sh clears leftovers).
    struct PamUser {
        name: String,
        service: String,
    }

    impl PamUser {
        fn create(password: &str) -> PamUser {
            let id = std::process::id();
            let user = PamUser {
                name: format!("hbt_ship{id}"),
                service: format!("hubauth-test-ship{id}"),
            };
            std::fs::write(
                format!("/etc/pam.d/{}", user.service),
                "auth     required  pam_unix.so nodelay\naccount  required  pam_unix.so\n",
            )
            .unwrap();
            let status = Command::new("useradd")
                .args(["-M", "-s", "/usr/sbin/nologin", &user.name])
                .status()
                .unwrap();
            assert!(status.success(), "useradd {}", user.name);
            let mut chpasswd = Command::new("chpasswd")
                .stdin(Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            chpasswd
                .stdin
                .take()
                .unwrap()
                .write_all(format!("{}:{password}\n", user.name).as_bytes())
                .unwrap();
            assert!(chpasswd.wait().unwrap().success(), "chpasswd");
            user
        }
    }

    impl Drop for PamUser {
        fn drop(&mut self) {
            let _ = Command::new("userdel")
                .args(["-f", &self.name])
                .stderr(Stdio::null())
                .status();
            let _ = std::fs::remove_file(format!("/etc/pam.d/{}", self.service));
        }
    }

    /// Real PAM logins through the shipped binary: it loads the system's libpam at start-up
    /// and checks a real password with pam_unix.
    #[tokio::test]
    async fn pam_login_through_the_shipped_binary_uses_the_loaded_libpam() {
        if std::env::var("HUBAUTH_SKIP_PAM").is_ok_and(|value| value == "1") {
            eprintln!("skipped (HUBAUTH_SKIP_PAM=1)");
            return;
        }
        let uid = Command::new("id").arg("-u").output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&uid.stdout).trim(),
            "0",
            "this test creates a UNIX user and a PAM service file, so it must run as root \
             (./scripts/test.sh as root runs scripts/setup-pam-tests.sh first), or set \
             HUBAUTH_SKIP_PAM=1 to skip it"
        );
        let user = PamUser::create("right-pw-ship");
        let dir = tempfile::TempDir::new().unwrap();
        let db = format!("sqlite:///{}", dir.path().join("hub.sqlite").display());
        let config = format!(
            "{}\n[PAMAuthenticator]\nservice = \"{}\"\n[Authenticator]\nallowed_users = [\"{}\"]\n",
            hub_config(
                &db,
                &dir.path().join("secret"),
                "authenticator_class = \"pam\""
            ),
            user.service,
            user.name
        );
        let hub = HubProcess::start(dir.path(), "pam", &config, &[]);
        let maps = std::fs::read_to_string(format!("/proc/{}/maps", hub.pid())).unwrap();
        assert!(
            maps.contains("/libpam.so"),
            "the PAM hub did not load libpam"
        );

        let wrong = login(&client(), &hub.hub_url, &user.name, "wrong-pw")
            .await
            .unwrap();
        assert_ne!(wrong.status(), 302, "a wrong password logged in");
        let right = login(&client(), &hub.hub_url, &user.name, "right-pw-ship")
            .await
            .unwrap();
        assert_eq!(right.status(), 302, "{}", hub.log());
        let log = hub.log();
        assert!(
            log.contains("PAM Authentication failed") && log.contains("[PAM Error 7]"),
            "{log}"
        );
    }
}
