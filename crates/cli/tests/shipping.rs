//! What operators see of the shipped binary: `--version` with the git revision, and log
//! lines as text or JSON with one switch.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod proc;

use std::process::Command;

use proc::{HubProcess, client, hub_config, login};

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
    let revision = text
        .trim()
        .strip_prefix(&expected_start)
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap();
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
