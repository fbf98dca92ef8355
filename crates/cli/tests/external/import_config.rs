//! `hubauth import-config`: real JupyterHub config files, as admins write them, converted
//! by the binary; each output is checked with `hubauth check-config` and read back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod multi;
mod providers;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Run {
    toml: String,
    stderr: String,
    dir: tempfile::TempDir,
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/import_config")
        .join(name)
}

fn hubauth() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hubauth"));
    for var in [
        "AAD_TENANT_ID",
        "OAUTH_CLIENT_ID",
        "OAUTH_CLIENT_SECRET",
        "OAUTH_CALLBACK_URL",
        "JUPYTERHUB_CRYPT_KEY",
        "HUBAUTH_DB_URL",
        "HUBAUTH_LOG_JSON",
        "GITHUB_CLIENT_ID",
        "GITHUB_CLIENT_SECRET",
        "GITHUB_URL",
        "GITHUB_HOST",
        "GITHUB_HTTP",
        "HOSTED_DOMAIN",
        "GOOGLE_API_URL",
        "GITLAB_URL",
        "GITLAB_HOST",
        "GITLAB_CLIENT_ID",
        "GITLAB_CLIENT_SECRET",
        "GITLAB_API_VERSION",
        "BITBUCKET_CLIENT_ID",
        "BITBUCKET_CLIENT_SECRET",
        "CILOGON_HOST",
        "CILOGON_CLIENT_ID",
        "CILOGON_CLIENT_SECRET",
        "OPENSHIFT_URL",
        "AUTH0_DOMAIN",
        "AUTH0_SUBDOMAIN",
        "LOGIN_SERVICE",
        "MW_INDEX_URL",
        "OAUTH2_USERNAME_KEY",
        "OAUTH_TLS_VERIFY",
    ] {
        command.env_remove(var);
    }
    command
}

fn import(name: &str) -> Run {
    let output = hubauth()
        .args(["import-config"])
        .arg(fixture(name))
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "import failed: {stderr}");
    let toml = String::from_utf8(output.stdout).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hubauth.toml"), &toml).unwrap();
    Run { toml, stderr, dir }
}

impl Run {
    fn check_config(&self, env: &[(&str, &str)]) -> Output {
        let mut command = hubauth();
        command
            .arg("check-config")
            .arg(self.dir.path().join("hubauth.toml"));
        for (key, value) in env {
            command.env(key, value);
        }
        command.output().unwrap()
    }

    fn assert_checks(&self, env: &[(&str, &str)]) -> String {
        let output = self.check_config(env);
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "check-config failed on\n{}\nstderr: {}",
            self.toml,
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }

    fn table(&self) -> toml::Table {
        self.toml.parse().unwrap()
    }

    fn get(&self, table: &str, key: &str) -> toml::Value {
        self.table()
            .get(table)
            .and_then(|t| t.get(key))
            .cloned()
            .unwrap_or_else(|| panic!("[{table}] {key} missing in\n{}", self.toml))
    }

    fn absent(&self, table: &str, key: &str) {
        assert!(
            self.table().get(table).and_then(|t| t.get(key)).is_none(),
            "[{table}] {key} should not be in\n{}",
            self.toml
        );
    }

    /// The stderr line about `line` that says `level`, containing every piece.
    fn note(&self, line: usize, level: &str, pieces: &[&str]) -> &str {
        let prefix = format!(": line {line}: {level}: ");
        let found = self
            .stderr
            .lines()
            .find(|l| l.contains(&prefix))
            .unwrap_or_else(|| panic!("no `{level}` note for line {line} in\n{}", self.stderr));
        for piece in pieces {
            assert!(found.contains(piece), "{found:?} lacks {piece:?}");
        }
        found
    }

    fn no_note(&self, line: usize) {
        let prefix = format!(": line {line}: ");
        assert!(
            !self.stderr.contains(&prefix),
            "unexpected note for line {line}:\n{}",
            self.stderr
        );
    }
}

fn strings(value: &toml::Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

const CRYPT_KEY: &str = "0000000000000000000000000000000000000000000000000000000000000001";

#[test]
fn azure_ad_config_with_tenant_from_the_environment() {
    let run = import("azuread.py");
    assert_eq!(
        run.get("Hub", "authenticator_class").as_str(),
        Some("azuread")
    );
    assert_eq!(
        run.get("Hub", "bind_url").as_str(),
        Some("http://127.0.0.1:8000/jupyter")
    );
    assert_eq!(
        run.get("Hub", "db_url").as_str(),
        Some("sqlite:////srv/jupyterhub/jupyterhub.sqlite")
    );
    assert_eq!(
        run.get("Hub", "cookie_secret_file").as_str(),
        Some("/srv/jupyterhub/jupyterhub_cookie_secret")
    );
    let azure = "AzureAdOAuthenticator";
    // Implicit concatenation across lines inside parentheses.
    assert_eq!(
        run.get(azure, "oauth_callback_url").as_str(),
        Some("https://hub.example.org/jupyter/hub/oauth_callback")
    );
    assert_eq!(
        run.get(azure, "client_secret").as_str(),
        Some("s3cr3t~Azure.Value")
    );
    assert_eq!(
        strings(&run.get(azure, "scope")),
        ["openid", "email", "profile"]
    );
    assert_eq!(run.get(azure, "manage_groups").as_bool(), Some(true));
    let mut admins = strings(&run.get(azure, "admin_users"));
    admins.sort_unstable();
    assert_eq!(admins, ["ada@example.org", "grace@example.org"]);
    // `whitelist = set()` maps to allowed_users, as the registry maps the deprecated name.
    assert_eq!(strings(&run.get("Authenticator", "allowed_users")).len(), 0);
    run.note(25, "converted", &["whitelist", "allowed_users"]);
    assert_eq!(
        run.get("Authenticator", "auth_refresh_age").as_integer(),
        Some(1800)
    );
    run.absent(azure, "tenant_id");

    // The tenant comes from os.environ: hubauth reads AAD_TENANT_ID itself.
    run.note(
        13,
        "not converted",
        &["AAD_TENANT_ID", "hubauth reads AAD_TENANT_ID itself"],
    );
    run.note(11, "not converted", &["spawner_class"]);
    run.note(
        29,
        "not converted",
        &["c.Spawner.default_url", "stay in jupyterhub_config.py"],
    );
    run.note(30, "not converted", &["SystemdSpawner"]);
    run.note(2, "ignored", &["import os"]);
    // The secret never appears on stderr.
    assert!(!run.stderr.contains("s3cr3t"), "{}", run.stderr);

    let stdout = run.assert_checks(&[
        ("AAD_TENANT_ID", "8f1c2d3e-0000-4000-8000-00000000abcd"),
        ("JUPYTERHUB_CRYPT_KEY", CRYPT_KEY),
    ]);
    assert!(stdout.contains("OK (AzureAdOAuthenticator"), "{stdout}");
}

#[test]
fn globus_config_with_a_kubernetes_spawner_section() {
    let run = import("globus.py");
    assert_eq!(
        run.get("Hub", "authenticator_class").as_str(),
        Some("globus")
    );
    // A raw string.
    assert_eq!(run.get("Hub", "base_url").as_str(), Some("/hub-prefix/"));
    let globus = "GlobusOAuthenticator";
    assert_eq!(
        run.get(globus, "identity_provider").as_str(),
        Some("uchicago.edu")
    );
    assert_eq!(strings(&run.get(globus, "scope")).len(), 4);
    assert_eq!(
        strings(&run.get(globus, "exclude_tokens")),
        ["auth.globus.org"]
    );
    assert_eq!(
        strings(&run.get(globus, "allowed_globus_groups")),
        ["a1b2c3d4-aaaa-bbbb-cccc-000000000001"]
    );
    // `.add(...)` on an option never assigned adds to its (empty) default.
    assert_eq!(
        strings(&run.get(globus, "admin_globus_groups")),
        ["a1b2c3d4-aaaa-bbbb-cccc-000000000002"]
    );
    // Two statements on one line, separated by `;`.
    assert_eq!(
        run.get(globus, "revoke_tokens_on_logout").as_bool(),
        Some(true)
    );
    assert_eq!(
        run.get("Authenticator", "enable_auth_state").as_bool(),
        Some(true)
    );
    // The module docstring is not a statement worth a note.
    run.no_note(1);
    for line in [25, 26, 27, 28, 29, 30] {
        run.note(line, "not converted", &[]);
    }
    run.note(26, "not converted", &["KubeSpawner", "not logging in"]);
    run.note(
        36,
        "not converted",
        &["`if` block", "lines 36-38", "c.KubeSpawner.debug"],
    );
    assert!(!run.toml.contains("KubeSpawner"), "{}", run.toml);
    assert!(!run.toml.contains("log_level"), "{}", run.toml);

    let stdout = run.assert_checks(&[("JUPYTERHUB_CRYPT_KEY", CRYPT_KEY)]);
    assert!(stdout.contains("OK (GlobusOAuthenticator"), "{stdout}");
}

#[test]
fn keycloak_config_with_a_claim_callable_and_a_lambda() {
    let run = import("keycloak.py");
    assert_eq!(
        run.get("Hub", "authenticator_class").as_str(),
        Some("generic-oauth")
    );
    let generic = "GenericOAuthenticator";
    assert_eq!(run.get(generic, "login_service").as_str(), Some("Keycloak"));
    // `keycloak + "/..."` with `keycloak` a literal variable.
    assert_eq!(
        run.get(generic, "token_url").as_str(),
        Some("https://sso.example.org/realms/research/protocol/openid-connect/token")
    );
    assert_eq!(
        run.get(generic, "extra_authorize_params")
            .get("kc_idp_hint")
            .and_then(|v| v.as_str()),
        Some("university")
    );
    // Deprecated names as the registry maps them.
    run.note(19, "converted", &["username_key", "username_claim"]);
    run.note(34, "converted", &["tls_verify", "validate_server_cert"]);
    assert_eq!(
        run.get(generic, "validate_server_cert").as_bool(),
        Some(false)
    );
    assert_eq!(
        run.get("Authenticator", "username_map")
            .get("Ada.Lovelace")
            .and_then(|v| v.as_str()),
        Some("ada")
    );
    assert_eq!(
        strings(&run.get("Authenticator", "allowed_users")),
        ["ada", "grace", "linus", "\"\"odd\"\""]
    );
    assert_eq!(
        run.get("Authenticator", "auth_refresh_age").as_integer(),
        Some(300)
    );
    // The lambda came after username_key: the literal from line 19 is overridden in
    // Python, so it must not survive in hubauth.toml either.
    run.absent(generic, "username_claim");
    run.absent(generic, "claim_groups_key");
    run.absent(generic, "client_secret");
    run.absent(generic, "oauth_callback_url");

    run.note(
        12,
        "not converted",
        &["OAUTH_CLIENT_SECRET", "reads OAUTH_CLIENT_SECRET itself"],
    );
    run.note(13, "not converted", &["f-string"]);
    run.note(17, "not converted", &["f-string"]);
    run.note(
        24,
        "not converted",
        &["function `groups_from_roles`", "lines 24-26"],
    );
    run.note(29, "not converted", &["groups_from_roles", "script"]);
    run.note(
        30,
        "not converted",
        &["lambda", "username_claim = { script"],
    );
    run.note(35, "not converted", &["None"]);
    run.note(43, "not converted", &["post_auth_hook", "Rhai"]);
    // GitHubOAuthenticator is a class hubauth has: its table is converted too.
    run.no_note(46);
    assert_eq!(
        strings(&run.get("GitHubOAuthenticator", "allowed_organizations")),
        ["example-org"]
    );

    let stdout = run.assert_checks(&[
        ("OAUTH_CLIENT_SECRET", "from-the-environment"),
        (
            "OAUTH_CALLBACK_URL",
            "https://hub.example.org/hub/oauth_callback",
        ),
    ]);
    assert!(stdout.contains("OK (GenericOAuthenticator"), "{stdout}");
}

#[test]
fn pam_config_with_an_admin_set() {
    let run = import("pam.py");
    run.absent("Hub", "authenticator_class");
    assert_eq!(run.get("Hub", "cookie_max_age_days").as_integer(), Some(7));
    let mut admins = strings(&run.get("Authenticator", "admin_users"));
    admins.sort_unstable();
    assert_eq!(admins, ["labadmin", "root"]);
    // `= set()`, then `|= {...}`, then `.update([...])`.
    assert_eq!(
        strings(&run.get("Authenticator", "allowed_users")),
        ["alice", "bob", "carol"]
    );
    assert_eq!(
        strings(&run.get("LocalAuthenticator", "allowed_groups")),
        ["students", "staff"]
    );
    run.note(13, "converted", &["group_whitelist", "allowed_groups"]);
    assert_eq!(
        run.get("PAMAuthenticator", "service").as_str(),
        Some("jupyterhub")
    );
    assert_eq!(
        strings(&run.get("PAMAuthenticator", "admin_groups")),
        ["wheel"]
    );
    // A raw string keeps its backslashes.
    assert_eq!(
        run.get("Authenticator", "username_pattern").as_str(),
        Some(r"^[a-z][a-z0-9\-_]{1,31}$")
    );
    run.note(6, "not converted", &["admin_access"]);
    run.note(20, "not converted", &["custom_html", "no such option"]);
    run.note(24, "not converted", &["Spawner"]);
    run.note(26, "not converted", &["LocalProcessSpawner"]);
    run.no_note(4);
    // Branding: logo and template paths carry over, template_vars' announcement too.
    assert_eq!(
        run.get("Hub", "logo_file").as_str(),
        Some("/srv/jupyterhub/logo.png")
    );
    assert_eq!(
        strings(&run.get("Hub", "template_paths")),
        ["/srv/jupyterhub/templates"]
    );
    assert_eq!(
        run.get("Hub", "announcement").as_str(),
        Some("Lab closed on Monday.")
    );
    run.note(31, "not converted", &["org_name", "template_paths"]);

    let stdout = run.assert_checks(&[]);
    assert!(stdout.contains("OK (PAMAuthenticator"), "{stdout}");
}

#[test]
fn ldap_active_directory_config() {
    let run = import("ldap.py");
    assert_eq!(run.get("Hub", "authenticator_class").as_str(), Some("ldap"));
    assert_eq!(
        run.get("LDAPAuthenticator", "server_address").as_str(),
        Some("ad.example.edu")
    );
    assert_eq!(
        run.get("LDAPAuthenticator", "use_ssl").as_bool(),
        Some(true)
    );
    assert_eq!(
        run.get("LDAPAuthenticator", "lookup_dn_user_dn_attribute")
            .as_str(),
        Some("sAMAccountName")
    );
    assert_eq!(
        strings(&run.get("LDAPAuthenticator", "allowed_groups")),
        ["cn=jupyter,ou=Groups,dc=example,dc=edu"]
    );
    assert_eq!(
        run.get("LDAPAuthenticator", "group_search_filter").as_str(),
        Some("(member:1.2.840.113556.1.4.1941:={userdn})")
    );
    // `ssl.CERT_REQUIRED` is Python code: listed, not guessed.
    run.note(18, "not converted", &["tls_kwargs"]);
    let stdout = run.assert_checks(&[]);
    assert!(stdout.contains("OK (LDAPAuthenticator"), "{stdout}");
}

#[test]
fn python_syntax_errors_stop_the_import_with_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.py");
    std::fs::write(
        &path,
        "c.Authenticator.admin_users = {'a'}\nc.Authenticator.allowed_users = ['x',\n",
    )
    .unwrap();
    let output = hubauth().arg("import-config").arg(&path).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("line 2"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn standard_input_and_string_forms() {
    let source = concat!(
        "c.JupyterHub.authenticator_class = 'dummy'\n",
        "c.DummyAuthenticator.password = 'it''s' \"\\x41\\u00e9\\n\" r'\\n'\n",
        "c.Authenticator.custom_403_message = '''Ask\n",
        "  'ada'.'''\n",
        "c.Authenticator.admin_users = ('root',)\n",
        "c.Authenticator.username_map = {'A': 'a', **other}\n",
        "c.Authenticator.blocked_users = {u for u in bad}\n",
        "c.Authenticator.allowed_users = \\\n",
        "    [\"a\"]\n",
        "c.Authenticator.auth_refresh_age = '300'\n",
        "c.Authenticator.allow_all = None\n",
    );
    let mut child = hubauth()
        .args(["import-config", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(source.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let toml_text = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    let table: toml::Table = toml_text.parse().unwrap();
    let get = |t: &str, k: &str| table.get(t).and_then(|v| v.get(k)).cloned();
    assert_eq!(
        get("DummyAuthenticator", "password").unwrap().as_str(),
        Some("itsAé\n\\n")
    );
    assert_eq!(
        get("Authenticator", "custom_403_message").unwrap().as_str(),
        Some("Ask\n  'ada'.")
    );
    assert_eq!(
        strings(&get("Authenticator", "admin_users").unwrap()),
        ["root"]
    );
    assert_eq!(
        strings(&get("Authenticator", "allowed_users").unwrap()),
        ["a"]
    );
    assert!(get("Authenticator", "username_map").is_none());
    assert!(get("Authenticator", "blocked_users").is_none());
    assert!(get("Authenticator", "auth_refresh_age").is_none());
    assert!(get("Authenticator", "allow_all").is_none());
    for (line, piece) in [
        (6, "unpacking"),
        (7, "comprehension"),
        (10, "must be an integer"),
        (11, "None leaves allow_all"),
    ] {
        assert!(
            stderr
                .lines()
                .any(|l| l.contains(&format!("line {line}:")) && l.contains(piece)),
            "no note for line {line} with {piece:?}:\n{stderr}"
        );
    }
    // The password is a secret option: never echoed.
    assert!(!stderr.contains("itsA"), "{stderr}");
}
