//! GitLabOAuthenticator's options: upstream's names, defaults, environment variables and
//! deprecated names, and the values hubauth refuses.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_config::{Config, MapEnv};
use hubauth_core::Authenticator;
use hubauth_gitlab::{GITLAB_OAUTHENTICATOR, GitLabOAuthenticator, LOCAL_GITLAB_OAUTHENTICATOR};

use super::common::{build, registry};

fn table(body: &str) -> String {
    format!("[GitLabOAuthenticator]\nclient_id = \"app\"\nallow_all = true\n{body}")
}

fn gitlab_env(text: &str, env: &[(&str, &str)]) -> GitLabOAuthenticator {
    let registry = registry();
    let config = Config::parse(text, "test.toml", &registry).unwrap();
    let env = MapEnv::from_iter(env.iter().map(|(k, v)| (*k, *v)));
    hubauth_gitlab::gitlab_from_view(&config.view(&registry, "GitLabOAuthenticator", &env)).unwrap()
}

fn gitlab(body: &str) -> GitLabOAuthenticator {
    gitlab_env(&table(body), &[])
}

fn refused(body: &str) -> String {
    error_of(build("GitLabOAuthenticator", &table(body), &[]))
}

fn error_of(built: Result<std::sync::Arc<dyn Authenticator>, String>) -> String {
    match built {
        Ok(_) => panic!("the configuration was accepted"),
        Err(err) => err,
    }
}

/// (authorize_url, token_url, userdata_url, gitlab_api) in use.
fn urls(a: &GitLabOAuthenticator) -> [String; 4] {
    let config = &a.core().config;
    [
        config.authorize_url.clone(),
        config.token_url.clone(),
        config.userdata_url.clone(),
        a.provider().config().gitlab_api.clone(),
    ]
}

#[test]
fn defaults_are_upstreams_for_gitlab_com() {
    let a = gitlab("");
    assert_eq!(
        urls(&a),
        [
            "https://gitlab.com/oauth/authorize",
            "https://gitlab.com/oauth/token",
            "https://gitlab.com/api/v4/user",
            "https://gitlab.com/api/v4",
        ]
    );
    let config = &a.core().config;
    assert_eq!(config.login_service, "GitLab");
    assert_eq!(a.provider().config().gitlab_url, "https://gitlab.com");
    assert_eq!(a.provider().config().gitlab_api_version, "4");
    assert!(config.scope.is_empty(), "no default scope, as upstream");
    assert_eq!(config.username_claim.describe(), "username");
    assert!(a.provider().config().allowed_gitlab_groups.is_empty());
    assert!(a.provider().config().allowed_project_ids.is_empty());
    assert_eq!(a.class_name(), "GitLabOAuthenticator");
    assert_eq!(
        hubauth_oauth::Provider::user_auth_state_key(a.provider()),
        "gitlab_user"
    );
}

#[test]
fn a_self_hosted_gitlab_derives_every_url_from_gitlab_url() {
    let a = gitlab("gitlab_url = \"https://example.org/gitlab/\"\n");
    assert_eq!(
        urls(&a),
        [
            "https://example.org/gitlab/oauth/authorize",
            "https://example.org/gitlab/oauth/token",
            "https://example.org/gitlab/api/v4/user",
            "https://example.org/gitlab/api/v4",
        ]
    );
    let a = gitlab("gitlab_url = \"https://git.example.org\"\ngitlab_api_version = \"3\"\n");
    assert_eq!(urls(&a)[2], "https://git.example.org/api/v3/user");
    let a = gitlab(
        "gitlab_url = \"https://git.example.org\"\ngitlab_api = \"https://api.example.org/v4/\"\n",
    );
    assert_eq!(urls(&a)[2], "https://api.example.org/v4/user");
    assert_eq!(urls(&a)[3], "https://api.example.org/v4");
    // Explicit endpoints win over the derived ones.
    let a = gitlab(
        "authorize_url = \"https://sso.example.org/authorize\"\ntoken_url = \"https://sso.example.org/token\"\nuserdata_url = \"https://sso.example.org/me\"\n",
    );
    assert_eq!(
        urls(&a)[..3],
        [
            "https://sso.example.org/authorize",
            "https://sso.example.org/token",
            "https://sso.example.org/me",
        ]
    );
}

#[test]
fn environment_variables_are_read_as_upstream_reads_them() {
    let with = |env: &[(&str, &str)]| gitlab_env(&table(""), env);
    let a = with(&[("GITLAB_URL", "https://git.example.org")]);
    assert_eq!(urls(&a)[0], "https://git.example.org/oauth/authorize");
    assert!(
        a.startup_warnings()
            .iter()
            .all(|w| !w.contains("GITLAB_HOST"))
    );
    // GITLAB_HOST: used when GITLAB_URL is unset or empty, with a warning, and https://
    // put in front of a bare host (with a second warning).
    for env in [
        vec![("GITLAB_HOST", "git.example.org")],
        vec![("GITLAB_URL", ""), ("GITLAB_HOST", "git.example.org")],
    ] {
        let a = with(&env);
        assert_eq!(a.provider().config().gitlab_url, "https://git.example.org");
        let warnings = a.startup_warnings();
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("rename the variable to GITLAB_URL")),
            "{warnings:?}"
        );
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("GITLAB_URL=\"https://git.example.org\"")),
            "{warnings:?}"
        );
    }
    let a = with(&[("GITLAB_HOST", "http://git.internal")]);
    assert_eq!(a.provider().config().gitlab_url, "http://git.internal");
    assert_eq!(
        a.startup_warnings()
            .iter()
            .filter(|w| w.contains("GITLAB_HOST"))
            .count(),
        1
    );
    // An empty GITLAB_URL alone: gitlab.com. GITLAB_URL before GITLAB_HOST; the file first.
    assert_eq!(
        with(&[("GITLAB_URL", "")]).provider().config().gitlab_url,
        "https://gitlab.com"
    );
    assert_eq!(
        with(&[
            ("GITLAB_URL", "https://a.example"),
            ("GITLAB_HOST", "b.example")
        ])
        .provider()
        .config()
        .gitlab_url,
        "https://a.example"
    );
    let a = gitlab_env(
        &table("gitlab_url = \"https://file.example\"\n"),
        &[("GITLAB_URL", "https://env.example")],
    );
    assert_eq!(a.provider().config().gitlab_url, "https://file.example");
    // GITLAB_API_VERSION, and an empty one meaning 4.
    assert_eq!(
        urls(&with(&[("GITLAB_API_VERSION", "3")]))[3],
        "https://gitlab.com/api/v3"
    );
    assert_eq!(
        urls(&with(&[("GITLAB_API_VERSION", "")]))[3],
        "https://gitlab.com/api/v4"
    );
    // The client: GITLAB_CLIENT_ID / _SECRET first, then OAUTH_CLIENT_ID / _SECRET, also
    // when the GitLab ones are empty.
    let text = "[GitLabOAuthenticator]\nallow_all = true\n";
    let client = |env: &[(&str, &str)]| {
        let a = gitlab_env(text, env);
        let config = &a.core().config;
        (
            config.client_id.clone(),
            config.client_secret.expose().to_owned(),
        )
    };
    assert_eq!(
        client(&[
            ("GITLAB_CLIENT_ID", "gl-id"),
            ("OAUTH_CLIENT_ID", "oauth-id"),
            ("GITLAB_CLIENT_SECRET", "gl-secret"),
            ("OAUTH_CLIENT_SECRET", "oauth-secret"),
        ]),
        ("gl-id".to_owned(), "gl-secret".to_owned())
    );
    assert_eq!(
        client(&[
            ("OAUTH_CLIENT_ID", "oauth-id"),
            ("OAUTH_CLIENT_SECRET", "oauth-secret"),
        ]),
        ("oauth-id".to_owned(), "oauth-secret".to_owned())
    );
    assert_eq!(
        client(&[
            ("GITLAB_CLIENT_ID", ""),
            ("OAUTH_CLIENT_ID", "oauth-id"),
            ("GITLAB_CLIENT_SECRET", ""),
            ("OAUTH_CLIENT_SECRET", "oauth-secret"),
        ]),
        ("oauth-id".to_owned(), "oauth-secret".to_owned())
    );
    // LOGIN_SERVICE; the generic endpoint variables are not GitLab's.
    let a = with(&[
        ("LOGIN_SERVICE", "Company GitLab"),
        ("OAUTH2_AUTHORIZE_URL", "https://elsewhere.example/a"),
        ("OAUTH2_TOKEN_URL", "https://elsewhere.example/t"),
        ("OAUTH2_USERDATA_URL", "https://elsewhere.example/u"),
    ]);
    assert_eq!(a.core().config.login_service, "Company GitLab");
    assert_eq!(urls(&a)[0], "https://gitlab.com/oauth/authorize");
    assert_eq!(urls(&a)[1], "https://gitlab.com/oauth/token");
    assert_eq!(urls(&a)[2], "https://gitlab.com/api/v4/user");
    // OAUTH2_USERNAME_KEY is the base class's and still applies.
    let a = with(&[("OAUTH2_USERNAME_KEY", "email")]);
    assert_eq!(a.core().config.username_claim.describe(), "email");
}

#[test]
fn deprecated_whitelist_names_still_work_with_upstreams_warning() {
    let registry = registry();
    let text =
        table("gitlab_group_whitelist = [\"physics\"]\ngitlab_project_id_whitelist = [\"500\"]\n");
    let config = Config::parse(&text, "test.toml", &registry).unwrap();
    let warnings = config.warnings().join("\n");
    assert!(
        warnings.contains("GitLabOAuthenticator.gitlab_group_whitelist is deprecated in GitLabOAuthenticator 0.12.0, use GitLabOAuthenticator.allowed_gitlab_groups instead"),
        "{warnings}"
    );
    assert!(
        warnings.contains("GitLabOAuthenticator.gitlab_project_id_whitelist is deprecated in GitLabOAuthenticator 0.12.0, use GitLabOAuthenticator.allowed_project_ids instead"),
        "{warnings}"
    );
    let a = gitlab_env(&text, &[]);
    assert!(
        a.provider()
            .config()
            .allowed_gitlab_groups
            .contains("physics")
    );
    assert!(a.provider().config().allowed_project_ids.contains(&500));
    // The old and the new name with different values: refused, not guessed.
    let err = refused("gitlab_group_whitelist = [\"a\"]\nallowed_gitlab_groups = [\"b\"]\n");
    assert!(err.contains("gitlab_group_whitelist"), "{err}");
}

#[test]
fn values_that_decide_access_must_parse_exactly() {
    // Project ids are numbers written as strings; anything else is refused at start.
    let err = refused("allowed_project_ids = [4527]\n");
    assert!(err.contains("allowed_project_ids"), "{err}");
    for bad in ["\"abc\"", "\"0\"", "\"-1\"", "\"group/project\"", "\" 12\""] {
        let err = refused(&format!("allowed_project_ids = [{bad}]\n"));
        assert!(err.contains("not a project id"), "{bad}: {err}");
    }
    for bad in ["\"My Group\"", "\"/physics\"", "\"physics/\"", "\"\""] {
        let err = refused(&format!("allowed_gitlab_groups = [{bad}]\n"));
        assert!(err.contains("allowed_gitlab_groups"), "{bad}: {err}");
    }
    for bad in ["\"v4\"", "\"4.0\"", "\"\""] {
        let err = refused(&format!("gitlab_api_version = {bad}\n"));
        assert!(err.contains("gitlab_api_version"), "{bad}: {err}");
    }
    assert!(refused("gitlab_api_version = 4\n").contains("gitlab_api_version"));
    for bad in [
        "\"gitlab.example.org\"",
        "\"ftp://gitlab.example.org\"",
        "\"https://gitlab.example.org/?x=1\"",
    ] {
        let err = refused(&format!("gitlab_url = {bad}\n"));
        assert!(err.contains("gitlab_url"), "{bad}: {err}");
    }
    let err = error_of(build(
        "GitLabOAuthenticator",
        &table(""),
        &[("GITLAB_API_VERSION", "four")],
    ));
    assert!(err.contains("GITLAB_API_VERSION"), "{err}");
    assert!(refused("gitlab_api = \"not a url\"\n").contains("gitlab_api"));
    // A missing client id is named.
    let err = error_of(build(
        "GitLabOAuthenticator",
        "[GitLabOAuthenticator]\nallow_all = true\n",
        &[],
    ));
    assert!(err.contains("client_id"), "{err}");
}

#[test]
fn membership_rules_need_read_api_in_an_explicit_scope() {
    let err = refused("scope = [\"read_user\"]\nallowed_gitlab_groups = [\"physics\"]\n");
    assert!(err.contains("read_api"), "{err}");
    assert!(err.contains("allowed_gitlab_groups"), "{err}");
    let err = refused("scope = [\"openid\", \"read_user\"]\nallowed_project_ids = [\"500\"]\n");
    assert!(err.contains("allowed_project_ids"), "{err}");
    for scope in ["[\"read_user\", \"read_api\"]", "[\"api\"]", "[]"] {
        let built = build(
            "GitLabOAuthenticator",
            &table(&format!(
                "scope = {scope}\nallowed_gitlab_groups = [\"physics\"]\n"
            )),
            &[],
        );
        assert!(built.is_ok(), "{scope}: {:?}", built.err());
    }
    // Without membership rules read_user alone is fine.
    assert!(
        build(
            "GitLabOAuthenticator",
            &table("scope = [\"read_user\"]\n"),
            &[]
        )
        .is_ok()
    );
}

#[test]
fn startup_warnings_name_what_would_go_wrong() {
    let a = gitlab("");
    let warnings = a.startup_warnings().join("\n");
    assert!(warnings.contains("invalid_scope"), "{warnings}");
    assert!(warnings.contains("read_user"), "{warnings}");
    let a = gitlab("scope = [\"read_user\", \"read_api\"]\n");
    assert!(
        a.startup_warnings().is_empty(),
        "{:?}",
        a.startup_warnings()
    );
    // Membership rules count as allow config (upstream: every option named allow*).
    let text = "[GitLabOAuthenticator]\nclient_id = \"app\"\nscope = [\"read_api\"]\nallowed_project_ids = [\"1\"]\n";
    let a = gitlab_env(text, &[]);
    let warnings = a.startup_warnings().join("\n");
    assert!(!warnings.contains("No allow config"), "{warnings}");
    assert!(warnings.contains("enable_auth_state"), "{warnings}");
    let a = gitlab_env(
        "[GitLabOAuthenticator]\nclient_id = \"app\"\nscope = [\"read_user\"]\n",
        &[],
    );
    assert!(a.startup_warnings().join("\n").contains("No allow config"));
    // A username from the email, which GitLab's /user does not mark as verified.
    let a = gitlab("scope = [\"read_user\"]\nusername_claim = \"email\"\n");
    assert!(a.startup_warnings().join("\n").contains("email_verified"));
    let a = gitlab(
        "scope = [\"read_user\"]\nusername_claim = \"email\"\nallow_unverified_email = true\n",
    );
    assert!(
        a.startup_warnings().is_empty(),
        "{:?}",
        a.startup_warnings()
    );
}

#[test]
fn every_upstream_option_is_declared_with_its_environment() {
    let names: Vec<&str> = GITLAB_OAUTHENTICATOR
        .options
        .iter()
        .map(|def| def.name)
        .collect();
    for option in [
        "login_service",
        "client_id",
        "client_secret",
        "gitlab_url",
        "gitlab_api_version",
        "gitlab_api",
        "authorize_url",
        "token_url",
        "userdata_url",
        "allowed_gitlab_groups",
        "allowed_project_ids",
    ] {
        assert!(names.contains(&option), "{option}");
    }
    let env = |name: &str| {
        GITLAB_OAUTHENTICATOR
            .options
            .iter()
            .find(|def| def.name == name)
            .unwrap()
            .env
    };
    assert_eq!(env("client_id"), ["GITLAB_CLIENT_ID", "OAUTH_CLIENT_ID"]);
    assert_eq!(
        env("client_secret"),
        ["GITLAB_CLIENT_SECRET", "OAUTH_CLIENT_SECRET"]
    );
    assert_eq!(env("gitlab_url"), ["GITLAB_URL", "GITLAB_HOST"]);
    assert_eq!(env("gitlab_api_version"), ["GITLAB_API_VERSION"]);
    assert_eq!(env("login_service"), ["LOGIN_SERVICE"]);
    assert!(env("authorize_url").is_empty());
    let secret = GITLAB_OAUTHENTICATOR
        .options
        .iter()
        .find(|def| def.name == "client_secret")
        .unwrap();
    assert!(secret.secret);
    // generate-config shows the class, its options and the deprecated names' successors.
    let generated = hubauth_config::generate_config(&registry());
    assert!(generated.contains("[GitLabOAuthenticator]"));
    assert!(generated.contains("allowed_project_ids"));
    assert!(generated.contains("[LocalGitLabOAuthenticator]"));
    assert_eq!(
        LOCAL_GITLAB_OAUTHENTICATOR.bases,
        ["LocalAuthenticator", "GitLabOAuthenticator"]
    );
}

#[test]
fn the_local_variant_takes_local_and_gitlab_options() {
    let text = "[LocalGitLabOAuthenticator]\nclient_id = \"app\"\nscope = [\"read_user\", \"read_api\"]\nallowed_gitlab_groups = [\"physics\"]\ncreate_system_users = false\n";
    let built = build("LocalGitLabOAuthenticator", text, &[]).unwrap();
    assert_eq!(built.class_name(), "LocalGitLabOAuthenticator");
    // GitLab's checks are still refused when wrong in the Local table.
    let err = error_of(build(
        "LocalGitLabOAuthenticator",
        "[LocalGitLabOAuthenticator]\nclient_id = \"app\"\nallowed_project_ids = [\"x\"]\n",
        &[],
    ));
    assert!(err.contains("not a project id"), "{err}");
    // A [GitLabOAuthenticator] table applies to the Local variant too (class inheritance).
    let built = build(
        "LocalGitLabOAuthenticator",
        "[GitLabOAuthenticator]\nclient_id = \"app\"\ngitlab_url = \"https://git.example.org\"\nallow_all = true\n",
        &[],
    );
    assert!(built.is_ok(), "{:?}", built.err());
}

/// The configuration the guide's GitLab section shows (`docs/guide/02-authenticators.md`),
/// verbatim: it builds, and gives no start-up warning.
const GUIDE_EXAMPLE: &str = r#"[Hub]
authenticator_class = "gitlab"

[GitLabOAuthenticator]
client_id = "4c1f9b0e7d3a2b6c8e5f1a0d9c7b3e2f4a6d8c0b1e3f5a7c9d2b4e6f8a0c1d3e"  # or GITLAB_CLIENT_ID
client_secret = "change-me"                       # or GITLAB_CLIENT_SECRET
oauth_callback_url = "https://hub.example.org/hub/oauth_callback"
gitlab_url = "https://gitlab.example.org"         # or GITLAB_URL; the default is https://gitlab.com
scope = ["read_user", "read_api"]
allowed_gitlab_groups = ["research", "teaching/ml-course"]   # full paths, subgroups too
allowed_project_ids = ["4527"]                    # Developer or higher; ids as strings
admin_users = ["ada"]
enable_auth_state = true                          # refresh re-checks the rules; needs JUPYTERHUB_CRYPT_KEY
auth_refresh_age = 900
"#;

#[test]
fn the_guides_example_builds_without_warnings() {
    let registry = registry();
    let config = Config::parse(GUIDE_EXAMPLE, "guide", &registry).unwrap();
    let env = MapEnv::from_iter([(
        "JUPYTERHUB_CRYPT_KEY",
        "0000000000000000000000000000000000000000000000000000000000000001",
    )]);
    let a = hubauth_gitlab::gitlab_from_view(&config.view(&registry, "GitLabOAuthenticator", &env))
        .unwrap();
    assert!(
        a.startup_warnings().is_empty(),
        "{:?}",
        a.startup_warnings()
    );
    let gitlab = a.provider().config();
    assert_eq!(gitlab.gitlab_api, "https://gitlab.example.org/api/v4");
    assert!(gitlab.allowed_gitlab_groups.contains("teaching/ml-course"));
    assert!(gitlab.allowed_project_ids.contains(&4527));
    assert!(hubauth_server::HubConfig::from_view(&config.view(&registry, "Hub", &env)).is_ok());
}
