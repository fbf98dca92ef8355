//! OAuthenticator and GenericOAuthenticator options: defaults, environment variables,
//! deprecated names and the checks that stop a bad configuration at start-up.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_config::{Config, MapEnv, Registry};
use hubauth_core::Authenticator;
use hubauth_oauth::options::TokenMethod;
use hubauth_oauth::{OAuthConfig, generic_from_view};

fn registry() -> Registry {
    let mut classes: Vec<&'static hubauth_config::ClassDef> =
        hubauth_core::options::classes().to_vec();
    classes.extend(hubauth_oauth::classes());
    Registry::new(classes).unwrap()
}

const ENDPOINTS: &str = "[GenericOAuthenticator]\nclient_id = \"hub\"\nauthorize_url = \"https://idp.example/authorize\"\ntoken_url = \"https://idp.example/token\"\nuserdata_url = \"https://idp.example/userinfo\"\n";

fn config_with(text: &str, env: &[(&str, &str)]) -> Result<OAuthConfig, String> {
    let registry = registry();
    let config = Config::parse(text, "hubauth.toml", &registry).map_err(|e| e.to_string())?;
    let env = MapEnv::from_iter(
        env.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<Vec<_>>(),
    );
    let view = config.view(&registry, "GenericOAuthenticator", &env);
    let parsed = OAuthConfig::from_view(&view).map_err(|e| e.to_string())?;
    parsed.check_endpoints(&view).map_err(|e| e.to_string())?;
    Ok(parsed)
}

fn config(text: &str) -> OAuthConfig {
    config_with(&format!("{ENDPOINTS}{text}"), &[]).unwrap()
}

fn error(text: &str) -> String {
    config_with(&format!("{ENDPOINTS}{text}"), &[]).unwrap_err()
}

#[test]
fn defaults_are_upstreams() {
    let registry = registry();
    registry.check_defaults().unwrap();
    let c = config("");
    assert_eq!(c.login_service, "OAuth 2.0");
    assert!(c.enable_pkce);
    assert!(!c.basic_auth);
    assert!(c.http.validate_cert);
    assert!(
        !c.base.allow_existing_users,
        "OAuthenticator's default is false"
    );
    assert!(!c.base.refresh_pre_spawn, "follows enable_auth_state");
    assert_eq!(c.userdata_token_method, TokenMethod::Header);
    assert!(c.scope.is_empty());
    assert_eq!(c.username_claim.describe(), "username");
    assert_eq!(
        c.auth_state_groups_key.as_ref().unwrap().describe(),
        "oauth_user.groups"
    );
    assert_eq!(c.base.auth_refresh_age, 300);
}

#[test]
fn every_option_is_read() {
    let c = config(
        r#"
login_service = "Keycloak"
client_secret = "s3cret"
oauth_callback_url = "https://hub.example/hub/oauth_callback"
userdata_params = { fields = "all" }
userdata_token_method = "url"
username_claim = "preferred_username"
scope = ["openid", "email"]
allowed_scopes = ["email"]
extra_authorize_params = { prompt = "login" }
token_params = { audience = "hub" }
basic_auth = true
enable_pkce = false
manage_groups = true
allowed_groups = ["staff"]
admin_groups = ["ops"]
auth_state_groups_key = "oauth_user.roles"
modify_auth_state_hook = "auth_state"
refresh_user_hook = "()"
enable_auth_state = true
oidc_logout = true
validate_server_cert = false
http_request_kwargs = { request_timeout = 5, connect_timeout = 2, proxy_host = "proxy.example", proxy_port = 3128 }
logout_redirect_url = "https://idp.example/logout"
"#,
    );
    assert_eq!(c.login_service, "Keycloak");
    assert_eq!(c.client_secret.expose(), "s3cret");
    assert_eq!(
        c.oauth_callback_url,
        "https://hub.example/hub/oauth_callback"
    );
    assert_eq!(c.userdata_params["fields"], "all");
    assert_eq!(c.userdata_token_method, TokenMethod::Url);
    assert_eq!(c.username_claim.describe(), "preferred_username");
    assert_eq!(c.scope, vec!["openid", "email"]);
    assert_eq!(c.allowed_scopes, vec!["email"]);
    assert_eq!(c.extra_authorize_params["prompt"], "login");
    assert_eq!(c.token_params["audience"], "hub");
    assert!(c.basic_auth);
    assert!(!c.enable_pkce);
    assert!(c.base.group_rules.allowed_groups.contains("staff"));
    assert!(c.base.group_rules.admin_groups.contains("ops"));
    assert_eq!(
        c.auth_state_groups_key.as_ref().unwrap().describe(),
        "oauth_user.roles"
    );
    assert!(c.modify_auth_state_hook.is_some());
    assert!(c.refresh_user_hook.is_some());
    assert!(c.base.refresh_pre_spawn, "defaults to enable_auth_state");
    assert!(c.oidc_logout);
    assert!(!c.http.validate_cert);
    assert_eq!(c.http.request_timeout.as_secs(), 5);
    assert_eq!(c.http.proxy.as_deref(), Some("http://proxy.example:3128"));
    assert_eq!(c.base.logout_redirect_url, "https://idp.example/logout");
    assert!(c.wants_id_token());
}

#[test]
fn environment_variables_and_precedence() {
    let env = [
        ("OAUTH_CLIENT_ID", "from-env"),
        ("OAUTH_CLIENT_SECRET", "env-secret"),
        (
            "OAUTH_CALLBACK_URL",
            "https://hub.example/hub/oauth_callback",
        ),
        ("OAUTH2_AUTHORIZE_URL", "https://env.example/a"),
        ("OAUTH2_TOKEN_URL", "https://env.example/t"),
        ("OAUTH2_USERDATA_URL", "https://env.example/u"),
        ("OAUTH2_USERNAME_KEY", "email"),
        ("OAUTH2_USERDATA_REQUEST_TYPE", "url"),
        ("OAUTH2_BASIC_AUTH", "true"),
        ("OAUTH_TLS_VERIFY", "0"),
        ("OAUTH_LOGOUT_REDIRECT_URL", "https://env.example/logout"),
        ("LOGIN_SERVICE", "Env IdP"),
    ];
    let c = config_with("", &env).unwrap();
    assert_eq!(c.client_id, "from-env");
    assert_eq!(c.client_secret.expose(), "env-secret");
    assert_eq!(
        c.oauth_callback_url,
        "https://hub.example/hub/oauth_callback"
    );
    assert_eq!(c.authorize_url, "https://env.example/a");
    assert_eq!(c.token_url, "https://env.example/t");
    assert_eq!(c.userdata_url, "https://env.example/u");
    assert_eq!(c.username_claim.describe(), "email");
    assert_eq!(c.userdata_token_method, TokenMethod::Url);
    assert!(c.basic_auth);
    assert!(!c.http.validate_cert);
    assert_eq!(c.base.logout_redirect_url, "https://env.example/logout");
    assert_eq!(c.login_service, "Env IdP");
    // The config file wins over the environment.
    let c = config_with("[OAuthenticator]\nclient_id = \"from-file\"\n", &env).unwrap();
    assert_eq!(c.client_id, "from-file");
}

#[test]
fn deprecated_generic_names() {
    let registry = registry();
    let text = format!(
        "{ENDPOINTS}username_key = \"login\"\nextra_params = {{ a = \"b\" }}\ntls_verify = false\n"
    );
    let config = Config::parse(&text, "hubauth.toml", &registry).unwrap();
    let warnings = config.warnings().join("\n");
    assert!(warnings.contains("GenericOAuthenticator.username_key is deprecated in GenericOAuthenticator 16.0.0, use GenericOAuthenticator.username_claim instead"), "{warnings}");
    assert!(
        warnings.contains("extra_params") && warnings.contains("tls_verify"),
        "{warnings}"
    );
    let c = config_with(&text, &[]).unwrap();
    assert_eq!(c.username_claim.describe(), "login");
    assert_eq!(c.token_params["a"], "b");
    assert!(!c.http.validate_cert);
}

#[test]
fn claim_groups_key_maps_to_auth_state_groups_key() {
    let c = config("manage_groups = true\nclaim_groups_key = \"roles\"\n");
    assert_eq!(
        c.auth_state_groups_key.unwrap().describe(),
        "oauth_user.roles"
    );
    let err = error("claim_groups_key = \"roles\"\n");
    assert!(
        err.contains("requires GenericOAuthenticator.manage_groups"),
        "{err}"
    );
}

#[test]
fn group_options_require_manage_groups() {
    for option in [
        "allowed_groups = [\"a\"]",
        "admin_groups = [\"a\"]",
        "auth_state_groups_key = \"x.y\"",
    ] {
        let err = error(&format!("{option}\n"));
        assert!(
            err.contains("requires GenericOAuthenticator.manage_groups to also be set"),
            "{option}: {err}"
        );
    }
}

#[test]
fn manage_groups_without_a_groups_key_is_refused() {
    let text = "[OAuthenticator]\nclient_id = \"hub\"\nauthorize_url = \"https://i/a\"\ntoken_url = \"https://i/t\"\nuserdata_url = \"https://i/u\"\nmanage_groups = true\n";
    let registry = registry();
    let config = Config::parse(text, "hubauth.toml", &registry).unwrap();
    let env = MapEnv::default();
    let err = OAuthConfig::from_view(&config.view(&registry, "OAuthenticator", &env))
        .unwrap_err()
        .to_string();
    assert!(err.contains("auth_state_groups_key is empty"), "{err}");
}

#[test]
fn conflicting_and_bad_values_are_refused() {
    let cases = [
        (
            "userdata_from_id_token = true\njwks_url = \"https://idp.example/jwks\"\n",
            "Cannot specify both",
        ),
        (
            "scope = [\"openid\"]\nallowed_scopes = [\"email\"]\n",
            "Allowed scopes must be a subset of requested scopes",
        ),
        (
            "userdata_token_method = \"cookie\"\n",
            "userdata_token_method",
        ),
        (
            "http_request_kwargs = { verify = false }\n",
            "is not supported",
        ),
        (
            "http_request_kwargs = { request_timeout = -1 }\n",
            "request_timeout",
        ),
        ("username_claim = { program = \"x\" }\n", "username_claim"),
        ("username_claim = { script = \"1 +\" }\n", "username_claim"),
        (
            "modify_auth_state_hook = \"let\"\n",
            "modify_auth_state_hook",
        ),
        ("token_url = \"ftp://x/\"\n", "token_url"),
    ];
    for (text, needle) in cases {
        let err = error(text);
        assert!(err.contains(needle), "{text}: {err}");
        assert!(err.contains("hubauth.toml"), "{err}");
    }
}

#[test]
fn missing_client_and_endpoints_are_named() {
    let err = config_with("[GenericOAuthenticator]\n", &[]).unwrap_err();
    assert!(err.contains("client_id"), "{err}");
    let err = config_with("[GenericOAuthenticator]\nclient_id = \"x\"\n", &[]).unwrap_err();
    assert!(err.contains("authorize_url"), "{err}");
    let err = config_with("[GenericOAuthenticator]\nclient_id = \"x\"\nauthorize_url = \"https://i/a\"\ntoken_url = \"https://i/t\"\n", &[]).unwrap_err();
    assert!(err.contains("userdata_url"), "{err}");
    // userdata_from_id_token needs keys to verify the ID token.
    let err = config_with("[GenericOAuthenticator]\nclient_id = \"x\"\nauthorize_url = \"https://i/a\"\ntoken_url = \"https://i/t\"\nuserdata_from_id_token = true\n", &[]).unwrap_err();
    assert!(err.contains("signature"), "{err}");
    // One issuer URL is enough.
    config_with("[GenericOAuthenticator]\nclient_id = \"x\"\noidc_issuer = \"https://idp.example/realms/main\"\n", &[]).unwrap();
}

#[test]
fn secrets_stay_out_of_debug_and_errors() {
    let c = config("client_secret = \"top-secret-value\"\n");
    assert!(!format!("{c:?}").contains("top-secret-value"));
    let err = config_with(&format!("{ENDPOINTS}client_secret = 12345\n"), &[]).unwrap_err();
    assert!(!err.contains("12345"), "{err}");
}

#[test]
fn generic_authenticator_shape() {
    let registry = registry();
    let config = Config::parse(
        &format!("{ENDPOINTS}login_service = \"Dex\"\n"),
        "hubauth.toml",
        &registry,
    )
    .unwrap();
    let env = MapEnv::default();
    let auth = generic_from_view(&config.view(&registry, "GenericOAuthenticator", &env)).unwrap();
    assert_eq!(auth.class_name(), "GenericOAuthenticator");
    assert!(auth.redirect_login().is_some());
    assert_eq!(
        auth.kind(),
        hubauth_core::LoginKind::Redirect {
            login_service: "Dex".into(),
            login_path: "oauth_login".into()
        }
    );
    // Generic has a default groups key, so manage_groups can work with it.
    assert!(auth.supports_manage_groups());
}

#[test]
fn id_token_and_email_options() {
    let c = config("");
    assert!(c.trusted_audiences.is_empty());
    assert!(!c.allow_unverified_email);
    let c = config("trusted_audiences = [\"api://reports\"]\nallow_unverified_email = true\n");
    assert_eq!(c.trusted_audiences, vec!["api://reports"]);
    assert!(c.allow_unverified_email);
    let err = error("trusted_audiences = [\" \"]\n");
    assert!(err.contains("trusted_audiences"), "{err}");
    // The issuer is kept exactly as written (it is compared as a string).
    let c = config_with(
        "[GenericOAuthenticator]\nclient_id = \"x\"\noidc_issuer = \"https://tenant.auth0.example/\"\n",
        &[],
    )
    .unwrap();
    assert_eq!(c.oidc_issuer, "https://tenant.auth0.example/");
}
