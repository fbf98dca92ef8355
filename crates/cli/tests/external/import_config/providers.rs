//! `import-config` of the oauthenticator provider classes (GitHub, Google, GitLab,
//! MediaWiki, CILogon, Bitbucket, OpenShift, Auth0): each fixture is a config as a
//! deployment of that provider writes it, with the deprecated names it still carries.

use super::{CRYPT_KEY, import, strings};

fn sorted(value: &toml::Value) -> Vec<String> {
    let mut items = strings(value);
    items.sort_unstable();
    items
}

#[test]
fn github_config_with_credentials_from_the_environment() {
    let run = import("github.py");
    assert_eq!(
        run.get("Hub", "authenticator_class").as_str(),
        Some("github")
    );
    assert_eq!(
        run.get("Hub", "bind_url").as_str(),
        Some("http://127.0.0.1:8000")
    );
    let github = "GitHubOAuthenticator";
    assert_eq!(
        run.get(github, "oauth_callback_url").as_str(),
        Some("https://hub.example.org/hub/oauth_callback")
    );
    // Read from the environment: hubauth reads these variables itself.
    run.absent(github, "client_id");
    run.absent(github, "client_secret");
    run.absent(github, "github_url");
    run.note(11, "not converted", &["GITHUB_CLIENT_ID"]);
    run.note(12, "not converted", &["GITHUB_CLIENT_SECRET"]);
    run.note(13, "not converted", &["GITHUB_URL"]);
    assert_eq!(
        strings(&run.get(github, "scope")),
        ["read:org", "user:email"]
    );
    // The deprecated name, written under the new one.
    assert_eq!(
        sorted(&run.get(github, "allowed_organizations")),
        ["research-lab", "research-lab:hub-users"]
    );
    run.absent(github, "github_organization_whitelist");
    run.note(
        15,
        "converted",
        &["github_organization_whitelist", "allowed_organizations"],
    );
    assert_eq!(
        run.get(github, "populate_teams_in_auth_state").as_bool(),
        Some(true)
    );
    assert_eq!(
        sorted(&run.get(github, "admin_users")),
        ["hubot", "octocat"]
    );
    // A lambda is not run.
    run.absent(github, "username_claim");
    run.note(18, "not converted", &["lambda"]);
    assert_eq!(
        run.get("Authenticator", "enable_auth_state").as_bool(),
        Some(true)
    );
    assert_eq!(
        run.get("Authenticator", "auth_refresh_age").as_integer(),
        Some(900)
    );
    run.note(8, "not converted", &["spawner_class"]);
    run.note(23, "not converted", &["SystemdSpawner"]);
    let stdout = run.assert_checks(&[
        ("GITHUB_CLIENT_ID", "Ov23liAbCdEf0123456789"),
        ("GITHUB_CLIENT_SECRET", "gh-secret-value"),
        ("JUPYTERHUB_CRYPT_KEY", CRYPT_KEY),
    ]);
    assert!(stdout.contains("OK (GitHubOAuthenticator"), "{stdout}");
    assert!(!stdout.contains("gh-secret-value"), "{stdout}");
}

#[test]
fn google_config_with_workspace_groups_and_a_deprecated_name() {
    let run = import("google.py");
    assert_eq!(
        run.get("Hub", "authenticator_class").as_str(),
        Some("google")
    );
    let google = "GoogleOAuthenticator";
    assert_eq!(
        run.get(google, "login_service").as_str(),
        Some("Example University")
    );
    assert_eq!(
        run.get(google, "client_id").as_str(),
        Some("123456789012-abcdefghijklmnopqrstuv0123456789.apps.googleusercontent.com")
    );
    assert_eq!(
        run.get(google, "google_service_account_keys")
            .get("example.edu")
            .and_then(|v| v.as_str()),
        Some("/etc/jupyterhub/google-service-account.json")
    );
    assert_eq!(
        run.get(google, "gsuite_administrator")
            .get("example.edu")
            .and_then(|v| v.as_str()),
        Some("jupyterhub-groups")
    );
    // The deprecated name maps to allowed_google_groups; a set becomes an array.
    run.note(
        21,
        "converted",
        &["google_group_whitelist", "allowed_google_groups"],
    );
    run.absent(google, "google_group_whitelist");
    assert_eq!(
        sorted(
            run.get(google, "allowed_google_groups")
                .get("example.edu")
                .unwrap()
        ),
        ["data-science", "jupyterhub-users"]
    );
    assert_eq!(
        strings(
            run.get(google, "admin_google_groups")
                .get("example.edu")
                .unwrap()
        ),
        ["jupyterhub-admins"]
    );
    assert_eq!(
        run.get(google, "include_nested_groups").as_bool(),
        Some(true)
    );
    assert_eq!(strings(&run.get(google, "blocked_users")), ["former-ta"]);
    assert_eq!(
        run.get("OAuthenticator", "extra_authorize_params")
            .get("approval_prompt")
            .and_then(|v| v.as_str()),
        Some("force")
    );
    // hosted_domain comes from the environment: hubauth reads HOSTED_DOMAIN itself.
    run.absent(google, "hosted_domain");
    run.note(15, "not converted", &["HOSTED_DOMAIN"]);
    run.note(29, "not converted", &["spawner_class"]);
    run.note(30, "not converted", &["DockerSpawner"]);
    assert!(!run.stderr.contains("GOCSPX-AbCd"), "{}", run.stderr);
    let stdout = run.assert_checks(&[
        ("HOSTED_DOMAIN", "example.edu"),
        ("JUPYTERHUB_CRYPT_KEY", CRYPT_KEY),
    ]);
    assert!(stdout.contains("OK (GoogleOAuthenticator"), "{stdout}");
    assert!(!stdout.contains("GOCSPX-AbCd"), "{stdout}");
}

#[test]
fn gitlab_config_with_integer_project_ids_and_a_docker_spawner() {
    let run = import("gitlab.py");
    let gitlab = "GitLabOAuthenticator";
    assert_eq!(
        run.get("Hub", "authenticator_class").as_str(),
        Some("gitlab")
    );
    assert_eq!(
        run.get("OAuthenticator", "oauth_callback_url").as_str(),
        Some("https://jupyter.example.org/hub/oauth_callback")
    );
    assert_eq!(
        run.get(gitlab, "gitlab_url").as_str(),
        Some("https://gitlab.example.org")
    );
    // Upstream casts the integer (a CUnicode); hubauth keeps the decimal string.
    assert_eq!(run.get(gitlab, "gitlab_api_version").as_str(), Some("4"));
    assert_eq!(
        strings(&run.get(gitlab, "scope")),
        ["read_user", "read_api"]
    );
    assert_eq!(
        sorted(&run.get(gitlab, "allowed_gitlab_groups")),
        ["research", "teaching/ml-course"]
    );
    // Integer project ids, under their deprecated name, become strings under the new one.
    assert_eq!(
        strings(&run.get(gitlab, "allowed_project_ids")),
        ["4527", "918"]
    );
    run.absent(gitlab, "gitlab_project_id_whitelist");
    run.note(
        15,
        "converted",
        &["gitlab_project_id_whitelist", "allowed_project_ids"],
    );
    run.absent(gitlab, "client_secret");
    run.note(10, "not converted", &["GITLAB_CLIENT_SECRET"]);
    assert_eq!(strings(&run.get(gitlab, "admin_users")), ["ada"]);
    assert_eq!(
        run.get("Authenticator", "auth_refresh_age").as_integer(),
        Some(900)
    );
    for line in [21, 22, 23, 24, 25] {
        run.note(line, "not converted", &[]);
    }
    run.no_note(1);
    let stdout = run.assert_checks(&[
        ("GITLAB_CLIENT_SECRET", "gloas-s3cr3t-from-env"),
        ("JUPYTERHUB_CRYPT_KEY", CRYPT_KEY),
    ]);
    assert!(stdout.contains("OK (GitLabOAuthenticator"), "{stdout}");
    assert!(!stdout.contains("gloas-s3cr3t-from-env"), "{stdout}");
}

#[test]
fn mediawiki_config_with_a_hook_function() {
    let run = import("mediawiki.py");
    let mw = "MWOAuthenticator";
    assert_eq!(
        run.get("Hub", "authenticator_class").as_str(),
        Some("mediawiki")
    );
    assert_eq!(
        run.get(mw, "client_id").as_str(),
        Some("0123456789abcdef0123456789abcdef")
    );
    assert_eq!(
        run.get(mw, "mw_index_url").as_str(),
        Some("https://en.wikipedia.org/w/index.php")
    );
    assert_eq!(run.get(mw, "login_service").as_str(), Some("Wikipedia"));
    assert_eq!(run.get(mw, "executor_threads").as_integer(), Some(4));
    assert_eq!(
        sorted(&run.get(mw, "allowed_users")),
        ["Alice Smith", "Bob_Jones"]
    );
    // `.add(...)` on an option never assigned, and `set([...])`.
    assert_eq!(strings(&run.get(mw, "admin_users")), ["Ada Lovelace"]);
    assert_eq!(strings(&run.get(mw, "blocked_users")), ["Vandal Bot"]);
    assert_eq!(run.get(mw, "manage_groups").as_bool(), Some(true));
    assert_eq!(
        run.get(mw, "auth_state_groups_key").as_str(),
        Some("MEDIAWIKI_USER_IDENTITY.groups")
    );
    assert_eq!(strings(&run.get(mw, "allowed_groups")), ["autoconfirmed"]);
    assert_eq!(strings(&run.get(mw, "admin_groups")), ["sysop"]);
    // A Python hook is not run: the function and its use are noted.
    run.absent(mw, "modify_auth_state_hook");
    run.note(21, "not converted", &["add_wiki"]);
    run.note(26, "not converted", &["modify_auth_state_hook"]);
    run.note(29, "not converted", &["spawner_class"]);
    run.note(30, "not converted", &["DockerSpawner"]);
    run.no_note(1);
    run.no_note(2);
    let stdout = run.assert_checks(&[("JUPYTERHUB_CRYPT_KEY", CRYPT_KEY)]);
    assert!(stdout.contains("OK (MWOAuthenticator"), "{stdout}");
    assert!(
        !stdout.contains("fedcba9876543210fedcba9876543210"),
        "{stdout}"
    );
}

#[test]
fn cilogon_config_with_allowed_idps_and_a_slurm_spawner() {
    let run = import("cilogon.py");
    assert_eq!(
        run.get("Hub", "authenticator_class").as_str(),
        Some("cilogon")
    );
    let cilogon = "CILogonOAuthenticator";
    assert_eq!(
        run.get(cilogon, "client_id").as_str(),
        Some("cilogon:/client_id/6c3f1d2e9a8b7c6d5e4f3a2b1c0d9e8f")
    );
    assert_eq!(run.get(cilogon, "skin").as_str(), Some("rc-example"));
    assert_eq!(strings(&run.get(cilogon, "scope")).len(), 5);
    // allowed_idps (deprecated in 17.4) is written as idps, nested tables and all.
    run.absent(cilogon, "allowed_idps");
    let idps = run.get(cilogon, "idps");
    let idps = idps.as_table().unwrap();
    assert_eq!(idps.len(), 3);
    let uni = &idps["urn:mace:incommon:example.edu"];
    assert_eq!(
        uni["username_derivation"]["action"].as_str(),
        Some("strip_idp_domain")
    );
    assert_eq!(
        uni["username_derivation"]["domain"].as_str(),
        Some("example.edu")
    );
    assert_eq!(uni["default"].as_bool(), Some(true));
    assert_eq!(
        strings(&uni["allowed_domains"]),
        ["example.edu", "*.example.edu"]
    );
    assert_eq!(
        idps["http://orcid.org/oauth/authorize"]["allow_all"].as_bool(),
        Some(true)
    );
    assert_eq!(
        idps["http://github.com/login/oauth/authorize"]["username_derivation"]["prefix"].as_str(),
        Some("github")
    );
    run.note(12, "converted", &["allowed_idps", "idps"]);
    run.absent(cilogon, "client_secret");
    run.note(8, "not converted", &["CILOGON_CLIENT_SECRET"]);
    assert_eq!(
        strings(&run.get("Authenticator", "allowed_users")),
        ["github:9919"]
    );
    assert_eq!(
        sorted(&run.get("Authenticator", "admin_users")),
        ["github:583231", "rcadmin"]
    );
    assert_eq!(run.get(cilogon, "refresh_pre_spawn").as_bool(), Some(true));
    run.note(40, "not converted", &["spawner_class"]);
    run.note(41, "not converted", &["SlurmSpawner"]);
    assert!(!run.toml.contains("Slurm"), "{}", run.toml);
    let stdout = run.assert_checks(&[
        ("CILOGON_CLIENT_SECRET", "from-the-environment"),
        ("JUPYTERHUB_CRYPT_KEY", CRYPT_KEY),
    ]);
    assert!(stdout.contains("OK (CILogonOAuthenticator"), "{stdout}");
    // Per-IdP allow rules count as allow config.
    assert!(!stdout.contains("No allow config found"), "{stdout}");
    assert!(!stdout.contains("from-the-environment"), "{stdout}");
}

#[test]
fn bitbucket_config_with_the_old_team_whitelist() {
    let run = import("bitbucket.py");
    let bitbucket = "BitbucketOAuthenticator";
    assert_eq!(
        run.get("Hub", "authenticator_class").as_str(),
        Some("bitbucket")
    );
    assert_eq!(
        sorted(&run.get(bitbucket, "allowed_teams")),
        ["example-lab", "example-lab-admins"]
    );
    run.absent(bitbucket, "team_whitelist");
    run.note(
        11,
        "converted",
        &[
            "team_whitelist",
            "BitbucketOAuthenticator 0.12.0",
            "allowed_teams",
        ],
    );
    assert_eq!(
        run.get(bitbucket, "oauth_callback_url").as_str(),
        Some("https://lab.example.org/hub/oauth_callback")
    );
    run.absent(bitbucket, "client_id");
    run.absent(bitbucket, "client_secret");
    run.note(9, "not converted", &["BITBUCKET_CLIENT_ID"]);
    run.note(10, "not converted", &["BITBUCKET_CLIENT_SECRET"]);
    assert_eq!(
        strings(&run.get("Authenticator", "admin_users")),
        ["ada-lovelace"]
    );
    for line in [6, 15, 16] {
        run.note(line, "not converted", &[]);
    }
    assert!(!run.toml.contains("DockerSpawner"), "{}", run.toml);
    let output = run.check_config(&[
        ("BITBUCKET_CLIENT_ID", "Qv7xKp3mNf2Lw9RtYh"),
        ("BITBUCKET_CLIENT_SECRET", "bb-secret"),
        ("JUPYTERHUB_CRYPT_KEY", CRYPT_KEY),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("OK (BitbucketOAuthenticator"), "{stdout}");
    assert!(!stdout.contains("bb-secret") && !stderr.contains("bb-secret"));
}

#[test]
fn openshift_config_with_removed_ca_options() {
    let run = import("openshift.py");
    let openshift = "OpenShiftOAuthenticator";
    assert_eq!(
        run.get("Hub", "authenticator_class").as_str(),
        Some("openshift")
    );
    assert_eq!(
        run.get(openshift, "openshift_url").as_str(),
        Some("https://api.ocp.example.com:6443")
    );
    assert_eq!(
        run.get(openshift, "client_id").as_str(),
        Some("system:serviceaccount:jupyter:jupyterhub")
    );
    assert_eq!(strings(&run.get(openshift, "scope")), ["user:info"]);
    assert_eq!(run.get(openshift, "manage_groups").as_bool(), Some(true));
    assert_eq!(
        sorted(&run.get(openshift, "allowed_groups")),
        ["data-science", "ml-team"]
    );
    assert_eq!(
        strings(&run.get(openshift, "admin_groups")),
        ["jupyterhub-admins"]
    );
    // validate_cert is a deprecated name; ca_certs was removed (http_request_kwargs).
    run.note(
        15,
        "converted",
        &["validate_cert", "OpenShiftOAuthenticator 16.0.0"],
    );
    assert_eq!(
        run.get(openshift, "validate_server_cert").as_bool(),
        Some(true)
    );
    run.absent(openshift, "validate_cert");
    run.note(16, "not converted", &["ca_certs", "http_request_kwargs"]);
    assert!(!run.toml.contains("ca_certs"), "{}", run.toml);
    run.absent(openshift, "client_secret");
    run.note(9, "not converted", &["OAUTH_CLIENT_SECRET"]);
    for line in [5, 18, 19] {
        run.note(line, "not converted", &[]);
    }
    // No request reaches the cluster at check time: the metadata is read at the first login.
    let stdout = run.assert_checks(&[("OAUTH_CLIENT_SECRET", "sa-token-value")]);
    assert!(stdout.contains("OK (OpenShiftOAuthenticator"), "{stdout}");
}

#[test]
fn auth0_config_with_a_class_object_and_the_old_subdomain() {
    let run = import("auth0.py");
    let auth0 = "Auth0OAuthenticator";
    // The imported class object resolves through the catalog's import path.
    assert_eq!(
        run.get("Hub", "authenticator_class").as_str(),
        Some("auth0")
    );
    run.note(2, "ignored", &[]);
    assert_eq!(
        run.get(auth0, "auth0_subdomain").as_str(),
        Some("example-lab")
    );
    assert_eq!(
        run.get(auth0, "client_id").as_str(),
        Some("k3XQ0bV8nWc4YpR7sT2uA9dF6gH1jL5m")
    );
    assert_eq!(
        strings(&run.get(auth0, "scope")),
        ["openid", "email", "profile"]
    );
    assert_eq!(
        sorted(&run.get(auth0, "allowed_users")),
        ["ada@example.org", "grace@example.org"]
    );
    assert_eq!(strings(&run.get(auth0, "admin_users")), ["ada@example.org"]);
    assert_eq!(
        run.get(auth0, "logout_redirect_url").as_str(),
        Some("https://example-lab.auth0.com/v2/logout?returnTo=https%3A%2F%2Fhub.example.org%2F")
    );
    run.note(
        11,
        "converted",
        &["username_key", "Auth0OAuthenticator 16.0.0"],
    );
    assert_eq!(run.get(auth0, "username_claim").as_str(), Some("email"));
    run.absent(auth0, "username_key");
    assert!(
        !run.stderr.contains("auth0-client-secret-value"),
        "{}",
        run.stderr
    );
    let stdout = run.assert_checks(&[]);
    assert!(stdout.contains("OK (Auth0OAuthenticator"), "{stdout}");
    assert!(!stdout.contains("auth0-client-secret-value"), "{stdout}");
}
