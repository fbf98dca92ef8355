//! `import-config` of MultiAuthenticator (github.com/idiap/multiauthenticator) configs:
//! its sub-authenticators become `[[Hub.logins]]` methods, in each shape its versions
//! accept (0.4's dicts, 0.1 to 0.3's tuples), with the usernames it made.

use super::{CRYPT_KEY, Run, hubauth, import, strings};

/// The `[[Hub.logins]]` table named `name`.
fn method(run: &Run, name: &str) -> toml::Table {
    run.get("Hub", "logins")
        .as_array()
        .unwrap()
        .iter()
        .map(|method| method.as_table().unwrap().clone())
        .find(|method| method.get("name").and_then(|n| n.as_str()) == Some(name))
        .unwrap_or_else(|| panic!("no method {name} in\n{}", run.toml))
}

fn text<'a>(table: &'a toml::Table, key: &str) -> Option<&'a str> {
    table.get(key).and_then(|value| value.as_str())
}

fn option(table: &toml::Table, key: &str) -> toml::Value {
    table
        .get("options")
        .and_then(|options| options.get(key))
        .cloned()
        .unwrap_or_else(|| panic!("options.{key} missing in {table:?}"))
}

fn has_option(table: &toml::Table, key: &str) -> bool {
    table
        .get("options")
        .is_some_and(|options| options.get(key).is_some())
}

fn sorted(value: &toml::Value) -> Vec<String> {
    let mut items = strings(value);
    items.sort_unstable();
    items
}

#[test]
fn multiauthenticator_dicts_become_login_methods() {
    let run = import("multiauth.py");
    // The methods replace authenticator_class, in the list's order; the class hubauth
    // lacks is left out.
    run.absent("Hub", "authenticator_class");
    let names: Vec<String> = run
        .get("Hub", "logins")
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.get("name").unwrap().as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["github", "gitlab", "sso", "pam"]);
    run.note(
        11,
        "converted",
        &["MultiAuthenticator", "4", "[[Hub.logins]]"],
    );

    // GitHub, an imported class: the prefix MultiAuthenticator gave from login_service.
    let github = method(&run, "github");
    assert_eq!(text(&github, "class"), Some("github"));
    assert_eq!(text(&github, "username_prefix"), Some("github:"));
    assert!(github.get("label").is_none());
    run.note(20, "converted", &["username_prefix \"github:\"", "GitHub"]);
    assert_eq!(
        strings(&option(&github, "allowed_organizations")),
        ["example-lab"]
    );
    // Rules name hub usernames in hubauth: the prefix is put in front.
    assert_eq!(strings(&option(&github, "admin_users")), ["github:octocat"]);
    run.note(27, "converted", &["admin_users", "github:"]);
    // Secrets from the environment: hubauth reads these variables itself.
    assert!(!has_option(&github, "client_id"));
    assert!(!has_option(&github, "client_secret"));
    run.note(
        22,
        "not converted",
        &["GITHUB_CLIENT_ID", "reads GITHUB_CLIENT_ID itself"],
    );
    run.note(23, "not converted", &["GITHUB_CLIENT_SECRET"]);

    // GitLab by import path; "/GitLab" becomes the name gitlab, and its callback moves.
    let gitlab = method(&run, "gitlab");
    assert_eq!(text(&gitlab, "class"), Some("gitlab"));
    assert_eq!(text(&gitlab, "username_prefix"), Some("gitlab:"));
    run.note(32, "converted", &["\"/GitLab\"", "\"gitlab\""]);
    assert_eq!(
        option(&gitlab, "oauth_callback_url").as_str(),
        Some("https://hub.example.org/hub/gitlab/oauth_callback")
    );
    run.note(
        38,
        "converted",
        &["oauth_callback_url", "gitlab/oauth_callback"],
    );
    // A deprecated name, renamed as for class tables.
    assert_eq!(
        strings(&option(&gitlab, "allowed_gitlab_groups")),
        ["physics"]
    );
    run.note(
        39,
        "converted",
        &["gitlab_group_whitelist", "allowed_gitlab_groups"],
    );
    // An environment variable hubauth does not read: listed with the one it does.
    assert!(!has_option(&gitlab, "client_secret"));
    run.note(
        35,
        "not converted",
        &["LAB_GITLAB_SECRET", "GITLAB_CLIENT_SECRET"],
    );

    // A generic OpenID Connect provider by entry-point name, with its login_service.
    let sso = method(&run, "sso");
    assert_eq!(text(&sso, "class"), Some("generic-oauth"));
    assert_eq!(text(&sso, "label"), Some("Campus SSO"));
    // "campus sso:" holds a space, which no hubauth username has.
    assert_eq!(text(&sso, "username_prefix"), Some("campus-sso:"));
    run.note(44, "converted", &["\"campus sso:\"", "\"campus-sso:\""]);
    assert_eq!(
        option(&sso, "token_url").as_str(),
        Some("https://sso.example.org/realms/campus/protocol/openid-connect/token")
    );
    assert_eq!(
        option(&sso, "client_secret").as_str(),
        Some("sso-s3cret-value")
    );
    assert_eq!(
        sorted(&option(&sso, "allowed_users")),
        ["campus-sso:ada", "campus-sso:grace"]
    );
    assert_eq!(
        strings(&option(&sso, "blocked_users")),
        ["campus-sso:mallory"]
    );
    // A callable is not run; a hub-wide option is not a method's.
    assert!(!has_option(&sso, "claim_groups_key"));
    run.note(55, "not converted", &["lambda", "claim_groups_key"]);
    assert!(!has_option(&sso, "enable_auth_state"));
    run.note(
        58,
        "not converted",
        &["enable_auth_state", "[Authenticator]"],
    );

    // PAM: the deprecated service_name is the label; no prefix, since PAM looks users up.
    let pam = method(&run, "pam");
    assert_eq!(text(&pam, "class"), Some("pam"));
    assert_eq!(text(&pam, "label"), Some("Service accounts"));
    assert!(pam.get("username_prefix").is_none());
    run.note(
        63,
        "not converted",
        &["\"service accounts:\"", "rename existing users"],
    );
    run.note(64, "converted", &["service_name"]);

    // What hubauth lacks, and what is not about logging in.
    run.note(
        68,
        "not converted",
        &["\"/signup\"", "nativeauthenticator.NativeAuthenticator"],
    );
    assert!(!run.toml.contains("open_signup"), "{}", run.toml);
    run.note(72, "converted", &["MultiAuthenticator.admin_users"]);
    assert_eq!(
        strings(&run.get("Authenticator", "admin_users")),
        ["github:octocat"]
    );
    run.note(75, "not converted", &["Spawner"]);
    // Secrets never appear in the notes.
    assert!(!run.stderr.contains("sso-s3cret-value"), "{}", run.stderr);

    let stdout = run.assert_checks(&[
        ("GITHUB_CLIENT_ID", "Ov23liAbCdEf0123456789"),
        ("GITHUB_CLIENT_SECRET", "gh-secret-value"),
        ("GITLAB_CLIENT_SECRET", "gl-secret-value"),
        ("JUPYTERHUB_CRYPT_KEY", CRYPT_KEY),
    ]);
    assert!(stdout.contains("OK"), "{stdout}");
    assert!(!stdout.contains("secret-value"), "{stdout}");
}

#[test]
fn multiauthenticator_tuples_and_one_prefix_for_all() {
    // 0.1 to 0.3: (class, url_prefix, config) tuples with class objects; 0.4's single
    // username_prefix for every method; the class given as its import path.
    let source = concat!(
        "from oauthenticator.github import GitHubOAuthenticator\n",
        "from oauthenticator.generic import GenericOAuthenticator\n",
        "c.JupyterHub.authenticator_class = 'multiauthenticator.MultiAuthenticator'\n",
        "c.MultiAuthenticator.authenticators = [\n",
        "    (GitHubOAuthenticator, '/gh', {'client_id': 'a', 'client_secret': 'b'}),\n",
        "    (GenericOAuthenticator, 'keycloak/', dict(\n",
        "        client_id='hub', client_secret='c', token_url='https://kc/token',\n",
        "        authorize_url='https://kc/auth', userdata_url='https://kc/me',\n",
        "        username_map={'kc:ada.lovelace': 'kc:ada'})),\n",
        "]\n",
        "c.MultiAuthenticator.authenticators.append((GitHubOAuthenticator, '/gh'))\n",
        "c.MultiAuthenticator.username_prefix = 'KC:'\n",
        "c.MultiAuthenticator.url_scope = 'x'\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jupyterhub_config.py");
    std::fs::write(&path, source).unwrap();
    let output = hubauth().arg("import-config").arg(&path).output().unwrap();
    assert!(output.status.success());
    let toml_text = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    let table: toml::Table = toml_text.parse().unwrap();
    let logins = table["Hub"]["logins"].as_array().unwrap();
    assert_eq!(logins.len(), 2, "{toml_text}");
    let (gh, kc) = (logins[0].as_table().unwrap(), logins[1].as_table().unwrap());
    assert_eq!(text(gh, "name"), Some("gh"));
    assert_eq!(text(gh, "class"), Some("github"));
    assert_eq!(text(kc, "name"), Some("keycloak"));
    assert_eq!(text(kc, "class"), Some("generic-oauth"));
    // One prefix for every method, lowercased as JupyterHub normalizes names.
    assert_eq!(text(gh, "username_prefix"), Some("kc:"));
    assert_eq!(text(kc, "username_prefix"), Some("kc:"));
    // hubauth looks username_map up before the prefix goes on.
    let map = option(kc, "username_map");
    assert_eq!(
        map.get("ada.lovelace").and_then(|v| v.as_str()),
        Some("ada")
    );
    let note = |line: usize, pieces: &[&str]| {
        let found = stderr.lines().find(|l| {
            l.contains(&format!(": line {line}: ")) && pieces.iter().all(|p| l.contains(p))
        });
        assert!(
            found.is_some(),
            "no note for line {line} with {pieces:?}:\n{stderr}"
        );
    };
    note(9, &["username_map", "taken off"]);
    // A two-item tuple is not an entry MultiAuthenticator accepts.
    note(11, &["not converted", "tuple (class, url_prefix, config)"]);
    note(13, &["not converted", "MultiAuthenticator.url_scope"]);
    assert!(!stderr.contains("client_secret = "), "{stderr}");
}
