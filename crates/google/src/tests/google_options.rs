//! The options of GoogleOAuthenticator: upstream's names, defaults, environment variables
//! and deprecated names, and what is refused at start-up.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_config::{Config, MapEnv};
use hubauth_core::Authenticator;
use hubauth_google::{GOOGLE_OAUTHENTICATOR, GoogleOAuthenticator, LOCAL_GOOGLE_OAUTHENTICATOR};
use hubauth_oauth::ClaimRule;

use super::google_flow::registry;

/// Builds the authenticator from `[GoogleOAuthenticator]` with `table` and `env`; the
/// error's text when it is refused; the configuration's warnings beside.
fn build(table: &str, env: &[(&str, &str)]) -> (Result<GoogleOAuthenticator, String>, Vec<String>) {
    build_class("GoogleOAuthenticator", table, env)
}

fn build_class(
    class: &str,
    table: &str,
    env: &[(&str, &str)],
) -> (Result<GoogleOAuthenticator, String>, Vec<String>) {
    let registry = registry();
    let text = format!("[{class}]\nclient_id = \"hub\"\n{table}");
    let config = Config::parse(&text, "test.toml", &registry).unwrap();
    let env = MapEnv::from_iter(env.iter().map(|(k, v)| (*k, *v)));
    let view = config.view(&registry, class, &env);
    let built = hubauth_google::google_from_view(&view).map_err(|err| err.to_string());
    (built, config.warnings().to_vec())
}

fn ok(table: &str, env: &[(&str, &str)]) -> GoogleOAuthenticator {
    build(table, env).0.unwrap()
}

fn refused(table: &str) -> String {
    match build(table, &[]).0 {
        Ok(_) => panic!("accepted: {table}"),
        Err(err) => err,
    }
}

#[test]
fn every_upstream_option_is_declared() {
    let names: Vec<&str> = GOOGLE_OAUTHENTICATOR
        .options
        .iter()
        .map(|option| option.name)
        .collect();
    for upstream in [
        "login_service",
        "scope",
        "username_claim",
        "authorize_url",
        "google_api_url",
        "token_url",
        "userdata_url",
        "google_service_account_keys",
        "gsuite_administrator",
        "allowed_google_groups",
        "admin_google_groups",
        "include_nested_groups",
        "strip_domain",
        "hosted_domain",
        "allowed_hosted_domains",
    ] {
        assert!(names.contains(&upstream), "{upstream}");
    }
    let whitelist = GOOGLE_OAUTHENTICATOR
        .options
        .iter()
        .find(|o| o.name == "allowed_google_groups")
        .unwrap();
    assert_eq!(whitelist.deprecated[0].name, "google_group_whitelist");
    assert_eq!(
        LOCAL_GOOGLE_OAUTHENTICATOR.name,
        "LocalGoogleOAuthenticator"
    );
    assert_eq!(
        LOCAL_GOOGLE_OAUTHENTICATOR.bases,
        ["LocalAuthenticator", "GoogleOAuthenticator"]
    );
    // generate-config and the reference list them.
    let generated = hubauth_config::generate_config(&registry());
    for option in [
        "hosted_domain",
        "gsuite_administrator",
        "include_nested_groups",
    ] {
        assert!(generated.contains(option), "{option}");
    }
}

#[test]
fn defaults_are_upstreams() {
    let google = ok("", &[]);
    let config = &google.core().config;
    assert_eq!(config.login_service, "Google");
    assert_eq!(
        config.authorize_url,
        "https://accounts.google.com/o/oauth2/v2/auth"
    );
    assert_eq!(
        config.token_url,
        "https://www.googleapis.com/oauth2/v4/token"
    );
    assert_eq!(
        config.userdata_url,
        "https://www.googleapis.com/oauth2/v1/userinfo"
    );
    assert_eq!(
        config.jwks_url,
        "https://www.googleapis.com/oauth2/v3/certs"
    );
    assert_eq!(config.scope, ["openid", "email"]);
    assert!(matches!(&config.username_claim, ClaimRule::Path(p) if p == "email"));
    let settings = google.provider().config();
    assert!(settings.hosted_domain.is_empty());
    assert!(settings.strip_domain, "at most one hosted domain");
    assert!(!settings.include_nested_groups);
    assert_eq!(
        settings.directory_groups_url(),
        "https://www.googleapis.com/admin/directory/v1/groups"
    );
    assert_eq!(google.class_name(), "GoogleOAuthenticator");
    assert_eq!(
        google.provider().config().class_name,
        "GoogleOAuthenticator"
    );
}

#[test]
fn environment_variables_are_upstreams() {
    let google = ok(
        "",
        &[
            ("GOOGLE_API_URL", "https://googleapis.internal.example/"),
            ("LOGIN_SERVICE", "Example Google"),
            ("HOSTED_DOMAIN", "Example.com;other.org;"),
            // The base class's variables are not Google's: upstream's Google defaults
            // replace them.
            ("OAUTH2_TOKEN_URL", "https://evil.example/token"),
            ("OAUTH2_AUTHORIZE_URL", "https://evil.example/auth"),
            ("OAUTH2_USERDATA_URL", "https://evil.example/user"),
            ("OAUTH2_USERNAME_KEY", "sub"),
        ],
    );
    let config = &google.core().config;
    assert_eq!(config.login_service, "Example Google");
    assert_eq!(
        config.token_url,
        "https://googleapis.internal.example/oauth2/v4/token"
    );
    assert_eq!(
        config.userdata_url,
        "https://googleapis.internal.example/oauth2/v1/userinfo"
    );
    assert_eq!(
        config.authorize_url,
        "https://accounts.google.com/o/oauth2/v2/auth"
    );
    assert!(matches!(&config.username_claim, ClaimRule::Path(p) if p == "email"));
    let settings = google.provider().config();
    assert_eq!(settings.hosted_domain, ["example.com", "other.org"]);
    assert!(!settings.strip_domain, "several hosted domains");
    // An empty GOOGLE_API_URL means the default, as upstream.
    let google = ok("", &[("GOOGLE_API_URL", "")]);
    assert_eq!(
        google.core().config.token_url,
        "https://www.googleapis.com/oauth2/v4/token"
    );
    // OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET are the base's and work.
    let registry = registry();
    let config = Config::parse("[GoogleOAuthenticator]\n", "t.toml", &registry).unwrap();
    let env = MapEnv::from_iter([
        ("OAUTH_CLIENT_ID", "from-env"),
        ("OAUTH_CLIENT_SECRET", "s"),
    ]);
    let google =
        hubauth_google::google_from_view(&config.view(&registry, "GoogleOAuthenticator", &env))
            .unwrap();
    assert_eq!(google.core().config.client_id, "from-env");
}

#[test]
fn hosted_domain_takes_upstreams_forms_and_refuses_an_empty_domain() {
    let google = ok("hosted_domain = \"Example.COM\"\n", &[]);
    assert_eq!(google.provider().config().hosted_domain, ["example.com"]);
    let google = ok("hosted_domain = \"\"\n", &[]);
    assert!(google.provider().config().hosted_domain.is_empty());
    let err = refused("hosted_domain = [\"example.com\", \"\"]\n");
    assert!(err.contains("empty domain"), "{err}");
    let err = refused("hosted_domain = [\"ada@example.com\"]\n");
    assert!(err.contains("not a domain"), "{err}");
    let google = ok("allowed_hosted_domains = [\"Example.COM\"]\n", &[]);
    assert_eq!(
        google.provider().config().allowed_hosted_domains,
        ["example.com"]
    );
}

#[test]
fn the_deprecated_group_whitelist_still_works_with_upstreams_warning() {
    let (built, warnings) = build(
        "google_group_whitelist = { \"example.com\" = [\"staff\"] }\ngoogle_service_account_keys = { \"example.com\" = \"/k.json\" }\ngsuite_administrator = { \"example.com\" = \"reader\" }\n",
        &[],
    );
    let google = built.unwrap();
    assert_eq!(
        google.provider().config().allowed_google_groups["example.com"]
            .iter()
            .collect::<Vec<_>>(),
        ["staff@example.com"]
    );
    assert!(
        warnings.iter().any(|w| w
            == "GoogleOAuthenticator.google_group_whitelist is deprecated in GoogleOAuthenticator 0.12.0, use GoogleOAuthenticator.allowed_google_groups instead"),
        "{warnings:?}"
    );
}

#[test]
fn group_rules_need_a_service_account_and_an_administrator_for_their_domain() {
    let err = refused("allowed_google_groups = { \"example.com\" = [\"staff\"] }\n");
    assert!(
        err.contains("allowed_google_groups") && err.contains("example.com"),
        "{err}"
    );
    let err = refused(
        "admin_google_groups = { \"example.com\" = [\"admins\"] }\ngoogle_service_account_keys = { \"example.com\" = \"/k.json\" }\n",
    );
    assert!(err.contains("gsuite_administrator"), "{err}");
    let err = refused("gsuite_administrator = { \"example.com\" = \"reader\" }\n");
    assert!(err.contains("google_service_account_keys"), "{err}");
    // Values that decide access must be lists of names.
    for bad in [
        "allowed_google_groups = { \"example.com\" = \"staff\" }\n",
        "allowed_google_groups = { \"example.com\" = [1] }\n",
        "allowed_google_groups = { \"example.com\" = [\"\"] }\n",
        "allowed_google_groups = { \"\" = [\"staff\"] }\n",
        "admin_google_groups = { \"example.com\" = [\"a@b@c\"] }\n",
    ] {
        let err = refused(&format!(
            "{bad}google_service_account_keys = {{ \"example.com\" = \"/k.json\" }}\ngsuite_administrator = {{ \"example.com\" = \"reader\" }}\n"
        ));
        assert!(err.contains("google_groups"), "{bad}: {err}");
    }
    // The administrator: a name gets the domain, an address is kept.
    let google = ok(
        "google_service_account_keys = { \"Example.com\" = \"/k.json\", \"other.org\" = \"/o.json\" }\ngsuite_administrator = { \"example.com\" = \"reader\", \"other.org\" = \"boss@corp.other.org\" }\n",
        &[],
    );
    let domains = &google.provider().config().domains;
    assert_eq!(domains["example.com"].administrator, "reader@example.com");
    assert_eq!(domains["other.org"].administrator, "boss@corp.other.org");
    assert_eq!(domains["other.org"].key_file, "/o.json");
}

#[test]
fn scope_always_has_openid_and_must_have_email() {
    let google = ok("scope = [\"email\", \"profile\"]\n", &[]);
    assert_eq!(google.core().config.scope, ["openid", "email", "profile"]);
    let google = ok(
        "scope = [\"openid\", \"https://www.googleapis.com/auth/userinfo.email\"]\n",
        &[],
    );
    assert_eq!(google.core().config.scope.len(), 2);
    let err = refused("scope = [\"openid\", \"profile\"]\n");
    assert!(err.contains("email"), "{err}");
}

#[test]
fn other_settings_that_cannot_work_are_refused() {
    let err = refused("oidc_issuer = \"https://evil.example.com\"\n");
    assert!(err.contains("oidc_issuer"), "{err}");
    ok("oidc_issuer = \"https://accounts.google.com\"\n", &[]);
    let err = refused("google_api_url = \"ftp://www.googleapis.com\"\n");
    assert!(err.contains("google_api_url"), "{err}");
    let err = build_class("GoogleOAuthenticator", "", &[]).0.err();
    assert!(err.is_none(), "client_id is set by the helper");
    let registry = registry();
    let config = Config::parse("[GoogleOAuthenticator]\n", "t.toml", &registry).unwrap();
    let err = hubauth_google::google_from_view(&config.view(
        &registry,
        "GoogleOAuthenticator",
        &MapEnv::new(),
    ))
    .err()
    .unwrap();
    assert!(err.to_string().contains("client_id"), "{err}");
}

#[test]
fn start_up_warnings_name_what_will_not_work() {
    let google = ok("", &[]);
    let warnings = google.startup_warnings();
    assert!(
        warnings.iter().any(|w| w.contains("No allow config")),
        "{warnings:?}"
    );
    for allows in [
        "allowed_hosted_domains = [\"example.com\"]\n",
        "allowed_google_groups = { \"example.com\" = [\"s\"] }\ngoogle_service_account_keys = { \"example.com\" = \"/k.json\" }\ngsuite_administrator = { \"example.com\" = \"r\" }\n",
    ] {
        let google = ok(allows, &[]);
        assert!(
            !google
                .startup_warnings()
                .iter()
                .any(|w| w.contains("No allow config")),
            "{allows}"
        );
    }
    let google = ok(
        "hosted_domain = [\"example.com\"]\nallowed_hosted_domains = [\"other.org\"]\n",
        &[],
    );
    assert!(
        google
            .startup_warnings()
            .iter()
            .any(|w| w.contains("\"other.org\"")),
    );
    let google = ok(
        "manage_groups = true\nauth_state_groups_key = \"google_user.google_groups\"\nallow_all = true\n",
        &[],
    );
    assert!(
        google
            .startup_warnings()
            .iter()
            .any(|w| w.contains("no domain has google_service_account_keys")),
    );
}

#[test]
fn local_google_reads_the_same_table() {
    let registry = registry();
    let config = Config::parse(
        "[GoogleOAuthenticator]\nclient_id = \"hub\"\nhosted_domain = \"example.com\"\n[LocalGoogleOAuthenticator]\ncreate_system_users = false\n",
        "t.toml",
        &registry,
    )
    .unwrap();
    let env = MapEnv::new();
    let view = config.view(&registry, "LocalGoogleOAuthenticator", &env);
    let local = hubauth_google::local_google_from_view(&view).unwrap();
    assert_eq!(local.class_name(), "LocalGoogleOAuthenticator");
}

/// The example of the guide's Google section (/work/notes/guide-google.md), kept here so
/// that it cannot drift from the options.
#[test]
fn the_guides_example_builds() {
    let registry = registry();
    let text = r#"
[Hub]
authenticator_class = "google"

[GoogleOAuthenticator]
client_id = "1234567890-abcdefghijklmnop.apps.googleusercontent.com"
client_secret = "GOCSPX-change-me"                  # or OAUTH_CLIENT_SECRET
oauth_callback_url = "https://hub.example.org/hub/oauth_callback"
hosted_domain = ["example.com"]                     # or HOSTED_DOMAIN="example.com"
allowed_google_groups = { "example.com" = ["jupyterhub-users"] }
admin_google_groups = { "example.com" = ["jupyterhub-admins"] }
google_service_account_keys = { "example.com" = "/etc/hubauth/google-groups.json" }
gsuite_administrator = { "example.com" = "groups-reader" }
extra_authorize_params = { access_type = "offline", prompt = "consent" }
enable_auth_state = true                            # needs JUPYTERHUB_CRYPT_KEY
auth_refresh_age = 900
"#;
    let config = Config::parse(text, "guide.toml", &registry).unwrap();
    let env = MapEnv::new();
    let google =
        hubauth_google::google_from_view(&config.view(&registry, "GoogleOAuthenticator", &env))
            .unwrap();
    let settings = google.provider().config();
    assert_eq!(
        settings.domains["example.com"].administrator,
        "groups-reader@example.com"
    );
    assert!(settings.strip_domain);
}
