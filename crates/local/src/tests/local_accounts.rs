//! Local accounts end to end: PAMAuthenticator through the real libpam and
//! LocalAuthenticator's system-user handling, driven over loopback HTTP against a hub with
//! a real SQLite file.
//!
//! Tests that create UNIX users, groups and PAM service files need root; they fail with a
//! message saying so, unless `HUBAUTH_SKIP_PAM=1`. Everything they create starts with
//! `hbt_` (users, groups) or `/etc/pam.d/hubauth-test-` and is removed when the test ends,
//! also when it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use hubauth_config::ClassDef;
use hubauth_core::{Authenticator, DummyAuthenticator};
use hubauth_local::{Local, Pam, PamAuthenticator};
use support::{System, TestHub, UNIX_STACK, login, logout, root_or_skip, whoami};

/// A `Local*` variant, declared the way the OAuth crates declare theirs.
static LOCAL_DUMMY: ClassDef =
    hubauth_local::local_class_def!("LocalDummyAuthenticator", "DummyAuthenticator");

fn pam_from(text: &str) -> PamAuthenticator {
    let registry = support::registry(&[]);
    support::build(&registry, "PAMAuthenticator", text, |view| {
        Local::from_view(view, Pam::from_view)
    })
    .unwrap()
    .0
}

fn local_dummy_from(text: &str) -> Local<DummyAuthenticator> {
    let registry = support::registry(&[&LOCAL_DUMMY]);
    support::build(&registry, "LocalDummyAuthenticator", text, |view| {
        Local::from_view(view, DummyAuthenticator::from_view)
    })
    .unwrap()
    .0
}

async fn hub_with(authenticator: impl Authenticator + 'static) -> TestHub {
    TestHub::start(Arc::new(authenticator)).await
}

// ---------------------------------------------------------------------------------------
// Options (no root needed)

#[test]
fn pam_options_have_upstream_defaults() {
    let pam = pam_from("");
    assert_eq!(pam.class_name(), "PAMAuthenticator");
    let config = pam.inner().config();
    assert_eq!(config.service, "login");
    assert_eq!(config.encoding, hubauth_local::Encoding::Utf8);
    assert!(config.check_account);
    assert!(!config.open_sessions);
    assert!(config.admin_groups.is_empty());
    assert!(!config.pam_normalize_username);
    assert_eq!(config.executor_threads, 4);
    let local = pam.local().config();
    assert!(!local.create_system_users);
    assert!(local.uids.is_empty());
    assert!(local.allowed_groups.is_empty());
    assert_eq!(
        local.add_user_cmd,
        ["adduser", "-q", "--gecos", "\"\"", "--disabled-password"]
    );
}

#[test]
fn options_are_read_from_their_tables() {
    let pam = pam_from(
        r#"
[LocalAuthenticator]
create_system_users = true
add_user_cmd = "my-adduser"
uids = { alice = 1234 }
[PAMAuthenticator]
service = "hubauth-test-x"
encoding = "latin-1"
check_account = false
open_sessions = true
admin_groups = ["wheel"]
pam_normalize_username = true
executor_threads = 2
"#,
    );
    let config = pam.inner().config();
    assert_eq!(config.service, "hubauth-test-x");
    assert_eq!(config.encoding, hubauth_local::Encoding::Latin1);
    assert!(!config.check_account);
    assert!(config.open_sessions && pam.inner().sessions_enabled());
    assert_eq!(config.executor_threads, 2);
    let local = pam.local().config();
    assert!(local.create_system_users);
    // A single string is one program, not split.
    assert_eq!(local.add_user_cmd, ["my-adduser"]);
    assert_eq!(local.uids.get("alice"), Some(&1234));
}

#[test]
fn group_whitelist_is_a_wired_deprecated_name() {
    let registry = support::registry(&[]);
    let (pam, warnings) = support::build(
        &registry,
        "PAMAuthenticator",
        "[LocalAuthenticator]\ngroup_whitelist = [\"staff\"]\n",
        |view| Local::from_view(view, Pam::from_view),
    )
    .unwrap();
    assert!(pam.local().config().allowed_groups.contains("staff"));
    assert!(
        warnings.iter().any(|w| w.contains(
            "group_whitelist is deprecated in JupyterHub 1.2, use LocalAuthenticator.allowed_groups instead"
        )),
        "{warnings:?}"
    );
}

#[test]
fn bad_options_are_refused_with_their_location() {
    let registry = support::registry(&[]);
    for (text, key) in [
        ("[PAMAuthenticator]\nencoding = \"ebcdic\"\n", "encoding"),
        (
            "[PAMAuthenticator]\nexecutor_threads = 0\n",
            "executor_threads",
        ),
        ("[PAMAuthenticator]\nservice = \"../shadow\"\n", "service"),
        ("[LocalAuthenticator]\nuids = { a = -1 }\n", "uids"),
        (
            "[LocalAuthenticator]\ncreate_system_users = true\nadd_user_cmd = []\n",
            "add_user_cmd",
        ),
    ] {
        let err = support::build(&registry, "PAMAuthenticator", text, |view| {
            Local::from_view(view, Pam::from_view)
        })
        .map(|_| ())
        .unwrap_err()
        .to_string();
        assert!(err.contains(key), "{text}: {err}");
    }
}

#[test]
fn pam_loads_the_system_libpam_at_run_time() {
    let pam = pam_from("");
    assert_eq!(pam.inner().library().name(), hubauth_local::DEFAULT_LIBPAM);
    // Loaded by this process at run time (the test binary does not link it).
    assert!(libpam_mapped_path().starts_with('/'));
}

#[test]
fn pam_without_libpam_refuses_to_start_and_says_what_to_install() {
    let registry = support::registry(&[]);
    let err = support::build_with_env(
        &registry,
        "PAMAuthenticator",
        "",
        &[(hubauth_local::LIBPAM_ENV, "/nonexistent/libpam.so.0")],
        |view| Local::from_view(view, Pam::from_view),
    )
    .map(|_| ())
    .unwrap_err();
    assert!(
        matches!(
            err,
            hubauth_config::ConfigError::ClassUnavailable {
                class: "PAMAuthenticator",
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    for needle in [
        "PAMAuthenticator cannot start",
        "/nonexistent/libpam.so.0",
        "No such file or directory",
        "apt-get install libpam0g",
    ] {
        assert!(text.contains(needle), "{needle:?} not in {text}");
    }
    // The override may also name the real library by path: the file the default load
    // mapped.
    pam_from("");
    let path = libpam_mapped_path();
    let (pam, _) = support::build_with_env(
        &registry,
        "PAMAuthenticator",
        "",
        &[(hubauth_local::LIBPAM_ENV, &path)],
        |view| Local::from_view(view, Pam::from_view),
    )
    .unwrap();
    assert_eq!(pam.inner().library().name(), path);
}

/// The file libpam was mapped from in this process.
fn libpam_mapped_path() -> String {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    maps.lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .find(|path| path.contains("/libpam.so"))
        .expect("libpam is mapped")
        .to_owned()
}

#[test]
fn missing_service_file_is_a_startup_warning() {
    let pam = pam_from("[PAMAuthenticator]\nservice = \"hubauth-test-does-not-exist\"\n");
    let warnings = pam.startup_warnings();
    assert!(
        warnings.iter().any(|w| w.contains(
            "/etc/pam.d/hubauth-test-does-not-exist does not exist, so PAM uses the rules of /etc/pam.d/other"
        )),
        "{warnings:?}"
    );
}

#[test]
fn unix_allowed_groups_count_as_allow_config() {
    let without = pam_from("");
    assert!(
        without
            .startup_warnings()
            .iter()
            .any(|w| w.starts_with("No allow config found"))
    );
    let with = pam_from("[LocalAuthenticator]\nallowed_groups = [\"staff\"]\n");
    assert!(
        !with
            .startup_warnings()
            .iter()
            .any(|w| w.starts_with("No allow config found"))
    );
}

// ---------------------------------------------------------------------------------------
// LocalAuthenticator around another authenticator (no root needed)

static LOCAL_GENERIC: ClassDef =
    hubauth_local::local_class_def!("LocalGenericOAuthenticator", "GenericOAuthenticator");

#[test]
fn local_generic_oauthenticator_is_one_line() {
    let mut extra: Vec<&'static ClassDef> = hubauth_oauth::classes().to_vec();
    extra.push(&LOCAL_GENERIC);
    let registry = support::registry(&extra);
    let text = r#"
[GenericOAuthenticator]
client_id = "hub"
client_secret = "not-a-real-secret"
authorize_url = "http://127.0.0.1:9/authorize"
token_url = "http://127.0.0.1:9/token"
userdata_url = "http://127.0.0.1:9/userinfo"
[LocalAuthenticator]
create_system_users = true
uids = { alice = 2000 }
"#;
    let (authenticator, _) =
        support::build(&registry, "LocalGenericOAuthenticator", text, |view| {
            Local::from_view(view, hubauth_oauth::generic_from_view)
        })
        .unwrap();
    assert_eq!(authenticator.class_name(), "LocalGenericOAuthenticator");
    assert!(
        authenticator.redirect_login().is_some(),
        "still an OAuth login"
    );
    assert!(authenticator.local().config().create_system_users);
    assert_eq!(
        authenticator.local().config().uids.get("alice"),
        Some(&2000)
    );
    // As upstream's MRO resolves it: `allowed_groups` here is LocalAuthenticator's (UNIX).
    let config = hubauth_config::Config::parse(text, "test.toml", &registry).unwrap();
    let env = hubauth_config::MapEnv::new();
    let view = config.view(&registry, "LocalGenericOAuthenticator", &env);
    assert!(
        view.option("allowed_groups")
            .unwrap()
            .help
            .contains("UNIX groups")
    );
}

#[tokio::test]
async fn unix_allowed_groups_or_allowed_users() {
    // `root` is in group `root` on every system; `nobody` is not.
    let authenticator = local_dummy_from(
        "[Authenticator]\nallow_all = false\nallowed_users = [\"alice\"]\n[LocalAuthenticator]\nallowed_groups = [\"root\", \"hbt_no_such_group\"]\n",
    );
    let model = |name: &str| hubauth_core::AuthModel::named(name);
    for (name, allowed) in [
        ("root", true),
        ("alice", true),
        ("nobody", false),
        ("hbt_no_such_user", false),
    ] {
        assert_eq!(
            authenticator
                .check_allowed(name, &model(name))
                .await
                .unwrap(),
            allowed,
            "{name}"
        );
    }
}

#[tokio::test]
async fn invalid_names_get_no_system_user() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("argv.log");
    let authenticator = local_dummy_from(&format!(
        "[Authenticator]\nusername_pattern = \"[a-z]+\"\n[LocalAuthenticator]\ncreate_system_users = true\nadd_user_cmd = [\"sh\", \"-c\", \"echo ran >> '{}'\"]\n",
        record.display()
    ));
    let err = authenticator.add_user("hbt_9").await.unwrap_err();
    assert!(err.to_string().contains("Invalid username"), "{err}");
    assert!(!record.exists(), "add_user_cmd ran for an invalid name");
}

#[tokio::test]
async fn hostile_usernames_never_reach_add_user_cmd() {
    support::capture_logs();
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("argv.log");
    // Records every argv it is run with, one argument per line.
    let authenticator = local_dummy_from(&format!(
        r#"
[Authenticator]
allow_all = true
[LocalAuthenticator]
create_system_users = true
add_user_cmd = ["sh", "-c", "for a in \"$@\"; do printf '%s\\n' \"$a\"; done >> '{}'", "recorder", "USERNAME"]
"#,
        record.display()
    ));
    let hub = hub_with(authenticator).await;
    let client = support::client();

    // The recorder works: a plain name reaches it (it creates no account, so the hub user
    // is created with a warning).
    let answer = login(&client, &hub, "hbt_ho_plain", "x", None).await;
    assert_eq!(answer.status, 302, "{answer:?}");
    assert_eq!(
        std::fs::read_to_string(&record).unwrap(),
        "hbt_ho_plain\nhbt_ho_plain\n"
    );
    logout(&client, &hub).await;

    for name in ["-rf", "../x", "a b", "$(id)", "a\n b", "--uid=0", "x;id"] {
        let answer = login(&client, &hub, name, "x", None).await;
        assert!(
            answer.status == 500 || answer.status == 403,
            "{name:?}: {answer:?}"
        );
        assert!(whoami(&client, &hub).await.is_none(), "{name:?} logged in");
        let stored = hub.store.get_user(&name.to_lowercase()).await.unwrap();
        assert!(stored.is_none(), "{name:?} became a hub user");
    }
    assert_eq!(
        std::fs::read_to_string(&record).unwrap(),
        "hbt_ho_plain\nhbt_ho_plain\n",
        "a hostile name reached add_user_cmd"
    );
    let logs = support::logs();
    assert!(
        logs.contains("Refusing to create system user \"-rf\""),
        "{logs}"
    );
    hub.stop().await;
}

#[tokio::test]
async fn failing_add_user_cmd_is_a_500_and_no_hub_user() {
    support::capture_logs();
    let authenticator = local_dummy_from(
        r#"
[Authenticator]
allow_all = true
[LocalAuthenticator]
create_system_users = true
add_user_cmd = ["sh", "-c", "echo 'useradd: cannot lock /etc/passwd; try again later.' >&2; exit 10", "adduser"]
"#,
    );
    let hub = hub_with(authenticator).await;
    let client = support::client();
    let answer = login(&client, &hub, "hbt_fa_user", "x", None).await;
    assert_eq!(answer.status, 500, "{answer:?}");
    assert!(
        answer.body.contains("Something went wrong on the hub"),
        "{}",
        answer.body
    );
    // The command's output is for the log, not the page.
    assert!(!answer.body.contains("cannot lock"), "{}", answer.body);
    assert!(
        support::logs().contains(
            "Failed to create system user hbt_fa_user: useradd: cannot lock /etc/passwd; try again later."
        ),
        "{}",
        support::logs()
    );
    assert!(hub.store.get_user("hbt_fa_user").await.unwrap().is_none());
    assert!(whoami(&client, &hub).await.is_none());
    hub.stop().await;
}

#[tokio::test]
async fn missing_system_user_without_create_is_refused() {
    support::capture_logs();
    let authenticator = local_dummy_from("[Authenticator]\nallow_all = true\n");
    let hub = hub_with(authenticator).await;
    let client = support::client();
    let answer = login(&client, &hub, "hbt_no_such_user", "x", None).await;
    assert_eq!(answer.status, 500, "{answer:?}");
    assert!(support::logs().contains(
        "User hbt_no_such_user does not exist on the system. Set LocalAuthenticator.create_system_users=True to automatically create system users from jupyterhub users."
    ));
    assert!(
        hub.store
            .get_user("hbt_no_such_user")
            .await
            .unwrap()
            .is_none()
    );
    // An existing system user is fine.
    let answer = login(&client, &hub, "root", "x", None).await;
    assert_eq!(answer.status, 302, "{answer:?}");
    hub.stop().await;
}

// ---------------------------------------------------------------------------------------
// create_system_users for real (root)

#[tokio::test]
async fn create_system_users_with_uid_and_custom_command() {
    if !root_or_skip("create_system_users_with_uid_and_custom_command") {
        return;
    }
    support::capture_logs();
    let mut system = System::new();
    system.track_user("hbt_cu_new").track_user("hbt_cu_dflt");
    let uid = support::free_uid(45_000);
    let authenticator = local_dummy_from(&format!(
        r#"
[Authenticator]
allow_all = true
[LocalAuthenticator]
create_system_users = true
add_user_cmd = ["useradd", "-M", "-s", "/usr/sbin/nologin", "-c", "hubauth test USERNAME"]
uids = {{ hbt_cu_new = {uid} }}
"#
    ));
    let hub = hub_with(authenticator).await;
    let client = support::client();
    let answer = login(&client, &hub, "hbt_cu_new", "x", None).await;
    assert_eq!(answer.status, 302, "{answer:?}");
    let entry = support::getent_passwd("hbt_cu_new").expect("the system user exists");
    assert_eq!(entry[2], uid.to_string(), "{entry:?}");
    assert_eq!(entry[4], "hubauth test hbt_cu_new", "{entry:?}");
    assert_eq!(
        whoami(&client, &hub).await,
        Some(("hbt_cu_new".to_owned(), false))
    );
    logout(&client, &hub).await;
    // Logging in again does not run the command again (the user exists).
    let answer = login(&client, &hub, "hbt_cu_new", "x", None).await;
    assert_eq!(answer.status, 302, "{answer:?}");
    hub.stop().await;

    // The computed default command (Debian's adduser) works too.
    if std::path::Path::new("/usr/sbin/adduser").exists() {
        let authenticator = local_dummy_from(
            "[Authenticator]\nallow_all = true\n[LocalAuthenticator]\ncreate_system_users = true\n",
        );
        let hub = hub_with(authenticator).await;
        let client = support::client();
        let answer = login(&client, &hub, "hbt_cu_dflt", "x", None).await;
        assert_eq!(answer.status, 302, "{answer:?} {}", support::logs());
        assert!(support::getent_passwd("hbt_cu_dflt").is_some());
        hub.stop().await;
    }
    drop(system);
    assert!(support::getent_passwd("hbt_cu_new").is_none());
    assert!(support::getent_passwd("hbt_cu_dflt").is_none());
}

// ---------------------------------------------------------------------------------------
// PAM (root)

#[tokio::test]
async fn pam_password_login_and_alike_failures() {
    if !root_or_skip("pam_password_login_and_alike_failures") {
        return;
    }
    support::capture_logs();
    let mut system = System::new();
    system.user("hbt_pw_ok", "Correct-Horse-1", &[]);
    let service = system.service("pw", UNIX_STACK);
    let authenticator = pam_from(&format!(
        "[Authenticator]\nallow_all = true\n[PAMAuthenticator]\nservice = \"{service}\"\n"
    ));
    let hub = hub_with(authenticator).await;
    let client = support::client();

    let answer = login(&client, &hub, "hbt_pw_ok", "Correct-Horse-1", None).await;
    assert_eq!(answer.status, 302, "{answer:?}");
    assert_eq!(
        whoami(&client, &hub).await,
        Some(("hbt_pw_ok".to_owned(), false))
    );
    logout(&client, &hub).await;

    // Wrong password and unknown user: same status, same message, similar time.
    let mut wrong = Vec::new();
    let mut unknown = Vec::new();
    for round in 0..5 {
        let started = Instant::now();
        let answer = login(&client, &hub, "hbt_pw_ok", "Wrong-Battery-9", None).await;
        wrong.push(started.elapsed());
        assert_eq!(answer.status, 403, "{answer:?}");
        assert!(
            answer.body.contains("Invalid username or password"),
            "round {round}"
        );
        let started = Instant::now();
        let answer = login(&client, &hub, "hbt_pw_nobody", "Wrong-Battery-9", None).await;
        unknown.push(started.elapsed());
        assert_eq!(answer.status, 403, "{answer:?}");
        assert!(
            answer.body.contains("Invalid username or password"),
            "round {round}"
        );
    }
    let (wrong, unknown) = (support::median(wrong), support::median(unknown));
    eprintln!("median time of a failed login: wrong password {wrong:?}, unknown user {unknown:?}");
    // Both wait the stack's failure delay (0.3 s, which libpam randomises; medians as low
    // as 185 ms were seen on a loaded machine), so only a clearly non-zero wait is asserted.
    assert!(wrong >= Duration::from_millis(100), "{wrong:?}");
    assert!(unknown >= Duration::from_millis(100), "{unknown:?}");
    let (slow, fast) = if wrong > unknown {
        (wrong, unknown)
    } else {
        (unknown, wrong)
    };
    assert!(
        slow < fast * 3 || slow - fast < Duration::from_millis(1500),
        "wrong password {wrong:?} vs unknown user {unknown:?}"
    );
    assert!(whoami(&client, &hub).await.is_none());

    let logs = support::logs();
    assert!(
        logs.contains(
            "PAM Authentication failed (hbt_pw_ok@127.0.0.1): [PAM Error 7] Authentication failure"
        ),
        "{logs}"
    );
    assert!(
        logs.contains("PAM Authentication failed (hbt_pw_nobody@127.0.0.1)"),
        "{logs}"
    );
    assert!(
        !logs.contains("Wrong-Battery-9"),
        "a password reached the log"
    );
    assert!(
        !logs.contains("Correct-Horse-1"),
        "a password reached the log"
    );
    hub.stop().await;
}

#[tokio::test]
async fn pam_expired_account_is_refused_only_with_check_account() {
    if !root_or_skip("pam_expired_account_is_refused_only_with_check_account") {
        return;
    }
    support::capture_logs();
    let mut system = System::new();
    system
        .user("hbt_ex_old", "Old-Account-1", &[])
        .expire("hbt_ex_old");
    let service = system.service("ex", UNIX_STACK);

    let checked = pam_from(&format!(
        "[Authenticator]\nallow_all = true\n[PAMAuthenticator]\nservice = \"{service}\"\n"
    ));
    let hub = hub_with(checked).await;
    let client = support::client();
    let answer = login(&client, &hub, "hbt_ex_old", "Old-Account-1", None).await;
    assert_eq!(answer.status, 403, "{answer:?}");
    assert!(
        answer.body.contains("Your account has expired"),
        "{}",
        answer.body
    );
    assert!(whoami(&client, &hub).await.is_none());
    assert!(support::logs().contains("PAM Account Check failed (hbt_ex_old@127.0.0.1)"));
    // A wrong password still gets the generic answer (nothing about the account).
    let answer = login(&client, &hub, "hbt_ex_old", "not-it", None).await;
    assert_eq!(answer.status, 403);
    assert!(answer.body.contains("Invalid username or password"));
    hub.stop().await;

    let unchecked = pam_from(&format!(
        "[Authenticator]\nallow_all = true\n[PAMAuthenticator]\nservice = \"{service}\"\ncheck_account = false\n"
    ));
    let hub = hub_with(unchecked).await;
    let client = support::client();
    let answer = login(&client, &hub, "hbt_ex_old", "Old-Account-1", None).await;
    assert_eq!(answer.status, 302, "{answer:?}");
    assert_eq!(
        whoami(&client, &hub).await,
        Some(("hbt_ex_old".to_owned(), false))
    );
    hub.stop().await;
}

#[tokio::test]
async fn pam_admin_groups_are_authoritative() {
    if !root_or_skip("pam_admin_groups_are_authoritative") {
        return;
    }
    support::capture_logs();
    let mut system = System::new();
    system
        .group("hbt_ag_admins")
        .user("hbt_ag_boss", "Boss-Pass-1", &["hbt_ag_admins"])
        .user("hbt_ag_pleb", "Pleb-Pass-1", &[])
        .user("hbt_ag_named", "Named-Pass-1", &[]);
    let service = system.service("ag", UNIX_STACK);
    let authenticator = pam_from(&format!(
        r#"
[Authenticator]
allow_all = true
admin_users = ["hbt_ag_named"]
[PAMAuthenticator]
service = "{service}"
admin_groups = ["hbt_ag_admins", "hbt_ag_no_such_group"]
"#
    ));
    let hub = hub_with(authenticator).await;
    // The non-member was an admin before: admin_groups revokes it.
    hub.store
        .ensure_user("hbt_ag_pleb", Some(true), 0)
        .await
        .unwrap();

    for (name, password, admin) in [
        ("hbt_ag_boss", "Boss-Pass-1", true),
        ("hbt_ag_pleb", "Pleb-Pass-1", false),
        ("hbt_ag_named", "Named-Pass-1", true),
    ] {
        let client = support::client();
        let answer = login(&client, &hub, name, password, None).await;
        assert_eq!(answer.status, 302, "{name}: {answer:?}");
        assert_eq!(
            whoami(&client, &hub).await,
            Some((name.to_owned(), admin)),
            "{name}"
        );
        assert_eq!(
            hub.store.get_user(name).await.unwrap().unwrap().admin,
            admin
        );
    }
    assert!(support::logs().contains("No such group: [hbt_ag_no_such_group]"));
    hub.stop().await;
}

#[tokio::test]
async fn pam_allowed_groups_admit_only_members() {
    if !root_or_skip("pam_allowed_groups_admit_only_members") {
        return;
    }
    support::capture_logs();
    let mut system = System::new();
    system
        .group("hbt_al_team")
        .user("hbt_al_in", "In-Pass-1", &["hbt_al_team"])
        .user("hbt_al_out", "Out-Pass-1", &[]);
    let service = system.service("al", UNIX_STACK);
    // Once with the current name, once with the deprecated one.
    for option in ["allowed_groups", "group_whitelist"] {
        let authenticator = pam_from(&format!(
            "[LocalAuthenticator]\n{option} = [\"hbt_al_no_such_group\", \"hbt_al_team\"]\n[PAMAuthenticator]\nservice = \"{service}\"\n"
        ));
        let hub = hub_with(authenticator).await;
        let client = support::client();
        let answer = login(&client, &hub, "hbt_al_in", "In-Pass-1", None).await;
        assert_eq!(answer.status, 302, "{option}: {answer:?}");
        assert_eq!(
            whoami(&client, &hub).await,
            Some(("hbt_al_in".to_owned(), false))
        );
        let client = support::client();
        let answer = login(&client, &hub, "hbt_al_out", "Out-Pass-1", None).await;
        assert_eq!(answer.status, 403, "{option}: {answer:?}");
        assert!(
            answer.body.contains("not currently authorized"),
            "{}",
            answer.body
        );
        assert!(whoami(&client, &hub).await.is_none());
        assert!(hub.store.get_user("hbt_al_out").await.unwrap().is_none());
        hub.stop().await;
    }
    assert!(support::logs().contains("No such group: [hbt_al_no_such_group]"));
}

#[tokio::test]
async fn pam_otp_answers_the_second_prompt() {
    if !root_or_skip("pam_otp_answers_the_second_prompt") {
        return;
    }
    support::capture_logs();
    let mut system = System::new();
    system.user("hbt_otp_u", "Otp-Pass-1", &[]);
    let dir = tempfile::tempdir().unwrap();
    // pam_unix asks the password; pam_stress asks a second time ("STRESS Password: ") and
    // stores the answer as the token; the script checks that token is the one-time code.
    let checker = system.script(
        &dir.path().join("check-otp.sh"),
        "code=$(tr -d '\\000')\n[ \"$code\" = \"424242\" ]",
    );
    let service = system.service(
        "otp",
        &format!(
            "auth     required  pam_unix.so nodelay\n\
             auth     required  pam_stress.so\n\
             auth     required  pam_exec.so quiet expose_authtok {}\n\
             account  required  pam_unix.so\n",
            checker.display()
        ),
    );
    let authenticator = pam_from(&format!(
        "[Authenticator]\nallow_all = true\nrequest_otp = true\notp_prompt = \"Code:\"\n[PAMAuthenticator]\nservice = \"{service}\"\n"
    ));
    let hub = hub_with(authenticator).await;

    let page = support::client()
        .get(format!("{}login", hub.hub_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("name=\"otp\""),
        "the login form asks for the code"
    );

    let client = support::client();
    let answer = login(&client, &hub, "hbt_otp_u", "Otp-Pass-1", Some("111111")).await;
    assert_eq!(answer.status, 403, "wrong code: {answer:?}");
    let answer = login(&client, &hub, "hbt_otp_u", "Otp-Pass-1", None).await;
    assert_eq!(answer.status, 403, "no code: {answer:?}");
    let answer = login(&client, &hub, "hbt_otp_u", "Wrong-Pass", Some("424242")).await;
    assert_eq!(answer.status, 403, "wrong password: {answer:?}");
    assert!(whoami(&client, &hub).await.is_none());
    let answer = login(&client, &hub, "hbt_otp_u", "Otp-Pass-1", Some("424242")).await;
    assert_eq!(answer.status, 302, "password and code: {answer:?}");
    assert_eq!(
        whoami(&client, &hub).await,
        Some(("hbt_otp_u".to_owned(), false))
    );
    assert!(
        !support::logs().contains("424242"),
        "the code reached the log"
    );
    hub.stop().await;
}

#[tokio::test]
async fn pam_sessions_open_at_login_and_close_at_logout() {
    if !root_or_skip("pam_sessions_open_at_login_and_close_at_logout") {
        return;
    }
    support::capture_logs();
    let mut system = System::new();
    system.user("hbt_se_u", "Session-Pass-1", &[]);
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("sessions.log");
    let recorder = system.script(
        &dir.path().join("record-session.sh"),
        &format!("echo \"$PAM_TYPE $PAM_USER\" >> '{}'", record.display()),
    );
    let service = system.service(
        "se",
        &format!(
            "auth     required  pam_unix.so nodelay\n\
             account  required  pam_unix.so\n\
             session  required  pam_exec.so quiet {}\n",
            recorder.display()
        ),
    );
    let read = || std::fs::read_to_string(&record).unwrap_or_default();

    // Off (the default): no PAM session.
    let hub = hub_with(pam_from(&format!(
        "[Authenticator]\nallow_all = true\n[PAMAuthenticator]\nservice = \"{service}\"\n"
    )))
    .await;
    let client = support::client();
    assert_eq!(
        login(&client, &hub, "hbt_se_u", "Session-Pass-1", None)
            .await
            .status,
        302
    );
    logout(&client, &hub).await;
    assert_eq!(read(), "");
    hub.stop().await;

    // On: opened at login, closed at logout.
    let hub = hub_with(pam_from(&format!(
        "[Authenticator]\nallow_all = true\n[PAMAuthenticator]\nservice = \"{service}\"\nopen_sessions = true\n"
    )))
    .await;
    let client = support::client();
    assert_eq!(
        login(&client, &hub, "hbt_se_u", "Session-Pass-1", None)
            .await
            .status,
        302
    );
    assert_eq!(read(), "open_session hbt_se_u\n");
    logout(&client, &hub).await;
    assert_eq!(read(), "open_session hbt_se_u\nclose_session hbt_se_u\n");
    hub.stop().await;

    // A session that expires while its cookie never comes back is closed by the periodic
    // clean-up.
    let hub = TestHub::start_with(
        Arc::new(pam_from(&format!(
            "[Authenticator]\nallow_all = true\n[PAMAuthenticator]\nservice = \"{service}\"\nopen_sessions = true\n"
        ))),
        |config| {
            config.session_lifetime = 1;
            config.purge_expired_interval = 1;
        },
    )
    .await;
    std::fs::remove_file(&record).unwrap();
    let client = support::client();
    assert_eq!(
        login(&client, &hub, "hbt_se_u", "Session-Pass-1", None)
            .await
            .status,
        302
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while read() != "open_session hbt_se_u\nclose_session hbt_se_u\n" {
        assert!(
            std::time::Instant::now() < deadline,
            "the expired session was not closed: {:?}",
            read()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        hub.store
            .expired_sessions(i64::MAX, 10)
            .await
            .unwrap()
            .is_empty(),
        "the expired session's row is gone"
    );
    hub.stop().await;

    // A failing session stack: the login still works, sessions turn off with a warning.
    let failing = system.service(
        "se-fail",
        "auth     required  pam_unix.so nodelay\n\
         account  required  pam_unix.so\n\
         session  required  pam_stress.so fail_1\n",
    );
    let authenticator = Arc::new(pam_from(&format!(
        "[Authenticator]\nallow_all = true\n[PAMAuthenticator]\nservice = \"{failing}\"\nopen_sessions = true\n"
    )));
    let hub = TestHub::start(authenticator.clone()).await;
    let client = support::client();
    assert_eq!(
        login(&client, &hub, "hbt_se_u", "Session-Pass-1", None)
            .await
            .status,
        302
    );
    assert_eq!(
        whoami(&client, &hub).await,
        Some(("hbt_se_u".to_owned(), false))
    );
    assert!(!authenticator.inner().sessions_enabled());
    let logs = support::logs();
    assert!(
        logs.contains("Failed to open PAM session for hbt_se_u: [PAM Error"),
        "{logs}"
    );
    assert!(
        logs.contains("Disabling PAM sessions from now on."),
        "{logs}"
    );
    hub.stop().await;
}

#[tokio::test]
async fn pam_normalize_username_round_trips_through_the_uid() {
    if !root_or_skip("pam_normalize_username_round_trips_through_the_uid") {
        return;
    }
    support::capture_logs();
    let mut system = System::new();
    system.user("hbt_nm_main", "Main-Pass-1", &[]);
    let uid = support::getent_passwd("hbt_nm_main").unwrap()[2].clone();
    // A second name for the same account (same uid).
    system.user_with("hbt_nm_alias", "Alias-Pass-1", &[], &["-o", "-u", &uid]);
    let service = system.service("nm", UNIX_STACK);

    for (normalize, expected) in [(true, "hbt_nm_main"), (false, "hbt_nm_alias")] {
        let hub = hub_with(pam_from(&format!(
            "[Authenticator]\nallow_all = true\n[PAMAuthenticator]\nservice = \"{service}\"\npam_normalize_username = {normalize}\n"
        )))
        .await;
        let client = support::client();
        let answer = login(&client, &hub, "hbt_nm_alias", "Alias-Pass-1", None).await;
        assert_eq!(answer.status, 302, "{answer:?}");
        assert_eq!(
            whoami(&client, &hub).await,
            Some((expected.to_owned(), false)),
            "pam_normalize_username = {normalize}"
        );
        hub.stop().await;
    }
}

#[tokio::test]
async fn slow_pam_stack_does_not_stall_the_hub() {
    if !root_or_skip("slow_pam_stack_does_not_stall_the_hub") {
        return;
    }
    support::capture_logs();
    let mut system = System::new();
    system.user("hbt_sl_u", "Slow-Pass-1", &[]);
    let dir = tempfile::tempdir().unwrap();
    let slow = system.script(&dir.path().join("slow.sh"), "sleep 1");
    let service = system.service(
        "sl",
        &format!(
            "auth     required  pam_exec.so quiet {}\n\
             auth     required  pam_unix.so nodelay\n\
             account  required  pam_unix.so\n",
            slow.display()
        ),
    );
    let hub = Arc::new(
        hub_with(pam_from(&format!(
            "[Authenticator]\nallow_all = true\n[PAMAuthenticator]\nservice = \"{service}\"\nexecutor_threads = 1\n"
        )))
        .await,
    );
    let started = Instant::now();
    let logins: Vec<_> = (0..3)
        .map(|_| {
            let hub = hub.clone();
            tokio::spawn(async move {
                login(&support::client(), &hub, "hbt_sl_u", "Slow-Pass-1", None)
                    .await
                    .status
            })
        })
        .collect();
    // While PAM is busy, the hub still answers at once.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let probe = Instant::now();
    let health = support::client()
        .get(format!("{}health", hub.hub_url))
        .send()
        .await
        .unwrap();
    assert!(health.status().is_success());
    assert!(
        probe.elapsed() < Duration::from_millis(500),
        "{:?}",
        probe.elapsed()
    );
    for login in logins {
        assert_eq!(login.await.unwrap(), 302);
    }
    // One PAM call at a time (executor_threads = 1): three 1 s stacks take 3 s.
    assert!(
        started.elapsed() >= Duration::from_millis(2900),
        "{:?}",
        started.elapsed()
    );
    if let Ok(hub) = Arc::try_unwrap(hub) {
        hub.stop().await;
    }
}
