//! GitHubOAuthenticator's options: upstream's defaults, environment variables and
//! deprecated names, GitHub Enterprise URLs, and what is refused at start-up.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_config::{Config, MapEnv};
use hubauth_core::Authenticator;
use hubauth_github::{GitHubOAuthenticator, OrgRule};
use hubauth_oauth::Provider;

use super::github_flow::{client, pair, query, registry};

fn parse(text: &str) -> Config {
    Config::parse(text, "test.toml", &registry()).unwrap()
}

/// Builds `[GitHubOAuthenticator]` from `text` and `env`; `Err` is the start-up error.
fn try_github(text: &str, env: &[(&str, &str)]) -> Result<GitHubOAuthenticator, String> {
    let registry = registry();
    let config = Config::parse(text, "test.toml", &registry).map_err(|e| e.to_string())?;
    let env = MapEnv::from_iter(env.iter().map(|(k, v)| (*k, *v)));
    hubauth_github::github_from_view(&config.view(&registry, "GitHubOAuthenticator", &env))
        .map_err(|e| e.to_string())
}

fn github(text: &str, env: &[(&str, &str)]) -> GitHubOAuthenticator {
    try_github(text, env).unwrap()
}

const MINIMAL: &str = "[GitHubOAuthenticator]\nclient_id = \"c\"\n";

#[test]
fn defaults_are_upstreams() {
    let a = github(MINIMAL, &[]);
    let config = &a.core().config;
    assert_eq!(a.provider().class_name(), "GitHubOAuthenticator");
    assert_eq!(a.provider().user_auth_state_key(), "github_user");
    assert_eq!(config.login_service, "GitHub");
    assert_eq!(config.username_claim.describe(), "login");
    assert_eq!(
        config.authorize_url,
        "https://github.com/login/oauth/authorize"
    );
    assert_eq!(
        config.token_url,
        "https://github.com/login/oauth/access_token"
    );
    assert_eq!(config.userdata_url, "https://api.github.com/user");
    assert!(config.scope.is_empty(), "no scope by default");
    assert!(!config.basic_auth, "credentials as parameters");
    let options = a.provider().config();
    assert_eq!(options.github_url, "https://github.com");
    assert_eq!(options.github_api, "https://api.github.com");
    assert!(options.allowed_organizations.is_empty());
    assert!(!options.populate_teams_in_auth_state);
    assert!(a.startup_warnings().iter().all(|w| !w.contains("read:org")));
    assert_eq!(
        a.startup_warnings().len(),
        1,
        "only the base's: no allow rule: {:?}",
        a.startup_warnings()
    );
    // HTTP Basic is not how GitHub documents client authentication.
    let a = github(&format!("{MINIMAL}basic_auth = true\n"), &[]);
    let warnings = a.startup_warnings().join("\n");
    assert!(warnings.contains("basic_auth"), "{warnings}");
}

#[test]
fn enterprise_urls_from_github_url_and_the_environment() {
    // A GitHub Enterprise Server: the API under /api/v3.
    let a = github(
        "[GitHubOAuthenticator]\nclient_id = \"c\"\ngithub_url = \"https://ghe.example.org/\"\n",
        &[],
    );
    let config = &a.core().config;
    assert_eq!(a.provider().config().github_url, "https://ghe.example.org");
    assert_eq!(
        a.provider().config().github_api,
        "https://ghe.example.org/api/v3"
    );
    assert_eq!(
        config.authorize_url,
        "https://ghe.example.org/login/oauth/authorize"
    );
    assert_eq!(
        config.token_url,
        "https://ghe.example.org/login/oauth/access_token"
    );
    assert_eq!(config.userdata_url, "https://ghe.example.org/api/v3/user");

    // GITHUB_URL, with https:// added when it has no scheme.
    let a = github(MINIMAL, &[("GITHUB_URL", "ghe.example.org")]);
    assert_eq!(a.provider().config().github_url, "https://ghe.example.org");
    // GITHUB_HOST, https by default.
    let a = github(MINIMAL, &[("GITHUB_HOST", "ghe.example.org:8443")]);
    assert_eq!(
        a.provider().config().github_url,
        "https://ghe.example.org:8443"
    );
    assert!(
        a.startup_warnings()
            .iter()
            .all(|w| !w.contains("GITHUB_HTTP"))
    );
    // GITHUB_HTTP (any value) makes it http, with the pending deprecation warning.
    let a = github(
        MINIMAL,
        &[("GITHUB_HOST", "ghe.example.org"), ("GITHUB_HTTP", "1")],
    );
    assert_eq!(a.provider().config().github_url, "http://ghe.example.org");
    assert_eq!(
        a.core().config.userdata_url,
        "http://ghe.example.org/api/v3/user"
    );
    let warnings = a.startup_warnings().join("\n");
    assert!(
        warnings.contains("GITHUB_URL=http://ghe.example.org"),
        "{warnings}"
    );
    // GITHUB_URL wins over GITHUB_HOST; an empty one counts as unset.
    let a = github(
        MINIMAL,
        &[
            ("GITHUB_URL", "https://a.example.org"),
            ("GITHUB_HOST", "b.example.org"),
        ],
    );
    assert_eq!(a.provider().config().github_url, "https://a.example.org");
    let a = github(
        MINIMAL,
        &[("GITHUB_URL", ""), ("GITHUB_HOST", "b.example.org")],
    );
    assert_eq!(a.provider().config().github_url, "https://b.example.org");
    // The file wins over the environment.
    let a = github(
        "[GitHubOAuthenticator]\nclient_id = \"c\"\ngithub_url = \"https://file.example.org\"\n",
        &[("GITHUB_URL", "https://env.example.org")],
    );
    assert_eq!(a.provider().config().github_url, "https://file.example.org");

    // github_api and the endpoints can be set explicitly.
    let a = github(
        "[GitHubOAuthenticator]\nclient_id = \"c\"\ngithub_url = \"https://ghe.example.org\"\ngithub_api = \"https://api.ghe.example.org/\"\ntoken_url = \"https://tokens.example.org/t\"\n",
        &[],
    );
    assert_eq!(
        a.provider().config().github_api,
        "https://api.ghe.example.org"
    );
    assert_eq!(
        a.core().config.userdata_url,
        "https://api.ghe.example.org/user"
    );
    assert_eq!(a.core().config.token_url, "https://tokens.example.org/t");
}

#[test]
fn base_oauthenticator_environment_defaults_do_not_apply_to_github() {
    // Upstream's GitHub defaults replace OAuthenticator's environment defaults.
    let a = github(
        MINIMAL,
        &[
            ("OAUTH2_AUTHORIZE_URL", "https://env.example/a"),
            ("OAUTH2_TOKEN_URL", "https://env.example/t"),
            ("OAUTH2_USERDATA_URL", "https://env.example/u"),
            ("OAUTH2_USERNAME_KEY", "email"),
            ("LOGIN_SERVICE", "Our GitHub"),
        ],
    );
    let config = &a.core().config;
    assert_eq!(
        config.authorize_url,
        "https://github.com/login/oauth/authorize"
    );
    assert_eq!(config.userdata_url, "https://api.github.com/user");
    assert_eq!(config.username_claim.describe(), "login");
    assert_eq!(config.login_service, "Our GitHub", "LOGIN_SERVICE applies");
}

#[test]
fn client_credentials_from_github_variables_then_oauth_ones() {
    let none = "[GitHubOAuthenticator]\n";
    let a = github(
        none,
        &[
            ("GITHUB_CLIENT_ID", "gh-id"),
            ("OAUTH_CLIENT_ID", "oauth-id"),
            ("GITHUB_CLIENT_SECRET", "gh-secret"),
            ("OAUTH_CLIENT_SECRET", "oauth-secret"),
        ],
    );
    assert_eq!(a.core().config.client_id, "gh-id");
    assert_eq!(a.core().config.client_secret.expose(), "gh-secret");
    let a = github(
        none,
        &[
            ("OAUTH_CLIENT_ID", "oauth-id"),
            ("OAUTH_CLIENT_SECRET", "oauth-secret"),
        ],
    );
    assert_eq!(a.core().config.client_id, "oauth-id");
    assert_eq!(a.core().config.client_secret.expose(), "oauth-secret");
    // An empty GITHUB_ variable falls back, as upstream's `if client_id:`.
    let a = github(
        none,
        &[
            ("GITHUB_CLIENT_ID", ""),
            ("OAUTH_CLIENT_ID", "oauth-id"),
            ("GITHUB_CLIENT_SECRET", ""),
            ("OAUTH_CLIENT_SECRET", "oauth-secret"),
        ],
    );
    assert_eq!(a.core().config.client_id, "oauth-id");
    assert_eq!(a.core().config.client_secret.expose(), "oauth-secret");
    let err = try_github(none, &[]).err().unwrap();
    assert!(err.contains("client_id"), "{err}");
}

#[test]
fn deprecated_names_map_with_upstreams_warnings() {
    let text = "[GitHubOAuthenticator]\ngithub_client_id = \"old-id\"\ngithub_client_secret = \"old-secret\"\ngithub_organization_whitelist = [\"jupyterhub\"]\n";
    let config = parse(text);
    let warnings = config.warnings().join("\n");
    for expected in [
        "GitHubOAuthenticator.github_client_id is deprecated in GitHubOAuthenticator 0.1.0, use GitHubOAuthenticator.client_id instead",
        "GitHubOAuthenticator.github_client_secret is deprecated in GitHubOAuthenticator 0.1.0, use GitHubOAuthenticator.client_secret instead",
        "GitHubOAuthenticator.github_organization_whitelist is deprecated in GitHubOAuthenticator 0.12.0, use GitHubOAuthenticator.allowed_organizations instead",
    ] {
        assert!(warnings.contains(expected), "{warnings}");
    }
    assert!(!warnings.contains("old-secret"), "the secret is not echoed");
    let a = github(text, &[]);
    assert_eq!(a.core().config.client_id, "old-id");
    assert_eq!(a.core().config.client_secret.expose(), "old-secret");
    assert_eq!(
        a.provider().config().allowed_organizations,
        [OrgRule::Org {
            org: "jupyterhub".into()
        }]
    );
    // The allow rule counts as allow config (no "nobody can log in" warning).
    assert!(
        a.startup_warnings()
            .iter()
            .all(|w| !w.to_lowercase().contains("no allow")),
        "{:?}",
        a.startup_warnings()
    );
    // Old and new name with different values: an error, as for every deprecated name.
    let err = Config::parse(
        "[GitHubOAuthenticator]\ngithub_client_id = \"a\"\nclient_id = \"b\"\n",
        "test.toml",
        &registry(),
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("github_client_id"), "{err}");
}

#[test]
fn organization_entries_that_are_not_org_or_org_team_stop_the_hub() {
    for (entry, expected) in [
        ("My Org", "letters, digits"),
        ("org:team:extra", "more than one"),
        ("org:", "empty"),
        ("../admin", "letters, digits"),
    ] {
        let err = try_github(
            &format!("{MINIMAL}allowed_organizations = [\"{entry}\"]\n"),
            &[],
        )
        .err()
        .unwrap();
        assert!(
            err.contains("allowed_organizations") && err.contains(expected),
            "{entry}: {err}"
        );
    }
    let a = github(
        &format!(
            "{MINIMAL}allowed_organizations = [\"jupyterhub:mybinder-org-operators\", \"org-b\"]\nscope = [\"read:org\"]\n"
        ),
        &[],
    );
    assert_eq!(
        a.provider().config().allowed_organizations,
        [
            OrgRule::Team {
                org: "jupyterhub".into(),
                team: "mybinder-org-operators".into()
            },
            OrgRule::Org {
                org: "org-b".into()
            },
        ]
    );
    assert!(a.startup_warnings().iter().all(|w| !w.contains("read:org")));
    // write:org and admin:org include read:org.
    let a = github(
        &format!("{MINIMAL}allowed_organizations = [\"org-b\"]\nscope = [\"admin:org\"]\n"),
        &[],
    );
    assert!(a.startup_warnings().iter().all(|w| !w.contains("read:org")));
}

#[test]
fn bad_urls_stop_the_hub() {
    for (option, value) in [
        ("github_url", "ghe.example.org"),
        ("github_url", "https://ghe.example.org/?x=1"),
        ("github_api", "ftp://ghe.example.org"),
    ] {
        let err = try_github(&format!("{MINIMAL}{option} = \"{value}\"\n"), &[])
            .err()
            .unwrap();
        assert!(err.contains(option), "{option}: {err}");
    }
    let err = try_github(MINIMAL, &[("GITHUB_HOST", "https://ghe.example.org")])
        .err()
        .unwrap();
    assert!(err.contains("GITHUB_HOST"), "{err}");
}

#[test]
fn generate_config_lists_every_option_of_the_class() {
    let text = hubauth_config::generate_config(&registry());
    let section = text
        .split("[GitHubOAuthenticator]")
        .nth(1)
        .expect("a GitHubOAuthenticator section");
    for option in [
        "login_service",
        "client_id",
        "client_secret",
        "github_url",
        "github_api",
        "authorize_url",
        "token_url",
        "userdata_url",
        "username_claim",
        "allowed_organizations",
        "populate_teams_in_auth_state",
        "GITHUB_CLIENT_ID",
        "GITHUB_URL",
        "GITHUB_HOST",
        "github_organization_whitelist",
    ] {
        assert!(section.contains(option), "{option} missing");
    }
    assert!(text.contains("[LocalGitHubOAuthenticator]"));
}

#[test]
fn the_local_variant_has_local_options_and_githubs_defaults() {
    let registry = registry();
    let config = Config::parse(
        "[LocalGitHubOAuthenticator]\nclient_id = \"c\"\ncreate_system_users = false\ngithub_url = \"https://ghe.example.org\"\n",
        "test.toml",
        &registry,
    )
    .unwrap();
    let env = MapEnv::new();
    let built = hubauth_github::local_github_from_view(&config.view(
        &registry,
        "LocalGitHubOAuthenticator",
        &env,
    ))
    .unwrap();
    assert_eq!(built.class_name(), "LocalGitHubOAuthenticator");
}

#[tokio::test]
async fn the_authorize_request_carries_the_scope_state_and_pkce() {
    let p = pair("scope = [\"read:org\", \"user:email\"]\nallow_all = true\n").await;
    let url = authorize_url_of(&p).await;
    assert_eq!(query(&url, "scope").as_deref(), Some("read:org user:email"));
    assert_eq!(query(&url, "client_id").as_deref(), Some("hub-client"));
    assert!(query(&url, "state").is_some());
    assert_eq!(
        query(&url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert!(query(&url, "nonce").is_none(), "no openid: no nonce");
    // The code exchange sends the client credentials as parameters, and the verifier.
    let (_, status, _) = super::github_flow::login_as(&p, "alice").await;
    assert_eq!(status, 303);
    let exchange = p
        .mock
        .requests_to(hubauth_github::mock::Endpoint::Token)
        .pop()
        .unwrap();
    assert_eq!(exchange.form_value("client_id"), Some("hub-client"));
    assert_eq!(exchange.form_value("client_secret"), Some("[redacted]"));
    assert!(exchange.has_code_verifier());
    assert_eq!(exchange.authorization, None, "no HTTP Basic");
}

async fn authorize_url_of(p: &super::github_flow::Pair) -> url::Url {
    super::github_flow::authorize_url(&client(), &p.hub_url).await
}

/// The examples of the guide's GitHubOAuthenticator section, as written there.
const GUIDE_EXAMPLES: [&str; 2] = [
    r#"[Hub]
authenticator_class = "github"

[GitHubOAuthenticator]
client_id = "Ov23liAbCdEf0123456789"         # the app's Client ID, or GITHUB_CLIENT_ID
client_secret = "change-me"                  # or GITHUB_CLIENT_SECRET (then OAUTH_CLIENT_SECRET)
oauth_callback_url = "https://hub.example.org/hub/oauth_callback"
scope = ["read:org", "user:email"]           # private memberships and teams; private emails
allowed_organizations = ["jupyterhub", "my-org:hub-users"]
admin_users = ["octocat"]
enable_auth_state = true                     # needs JUPYTERHUB_CRYPT_KEY; refresh needs it
"#,
    r#"[GitHubOAuthenticator]
github_url = "https://github.example.org"    # a GitHub Enterprise Server, or GITHUB_URL
client_id = "Iv1.0123456789abcdef"
client_secret = "change-me"
scope = ["read:org"]
allowed_organizations = ["research:hub-users"]
populate_teams_in_auth_state = true
manage_groups = true
auth_state_groups_key = { script = "auth_state.teams.map(|t| t.organization.login + \":\" + t.slug)" }
admin_groups = ["research:hub-admins"]
enable_auth_state = true
"#,
];

#[test]
fn the_guides_examples_build() {
    for example in GUIDE_EXAMPLES {
        let a = try_github(example, &[]).unwrap_or_else(|err| panic!("{err}\n{example}"));
        assert!(
            a.startup_warnings().iter().all(|w| !w.contains("read:org")),
            "{:?}",
            a.startup_warnings()
        );
    }
    let enterprise = github(GUIDE_EXAMPLES[1], &[]);
    assert_eq!(
        enterprise.core().config.userdata_url,
        "https://github.example.org/api/v3/user"
    );
}
