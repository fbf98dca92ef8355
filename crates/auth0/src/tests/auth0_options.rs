//! Auth0OAuthenticator's options: upstream's names, defaults, environment variables and
//! deprecated names.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_auth0::options::Auth0OAuthenticatorOptions;
use hubauth_core::RequestContext;

use super::hub::authenticator;

#[test]
fn defaults_are_upstreams() {
    let defaults = Auth0OAuthenticatorOptions::defaults().unwrap();
    assert_eq!(defaults.login_service, "Auth0");
    assert_eq!(defaults.username_claim, serde_json::json!("email"));
    assert_eq!(defaults.auth0_domain, None);
    assert_eq!(defaults.auth0_subdomain, "");
    assert!(!defaults.allow_unverified_email);
    assert_eq!(
        hubauth_auth0::LOCAL_AUTH0_OAUTHENTICATOR.bases,
        ["LocalAuthenticator", "Auth0OAuthenticator"]
    );
}

async fn authorize_url(table: &str, env: &[(&str, &str)]) -> String {
    let (a, _) = authenticator("Auth0OAuthenticator", table, env).unwrap();
    a.redirect_login()
        .unwrap()
        .begin(
            &RequestContext::at(0),
            "s",
            "https://hub.example/hub/oauth_callback",
        )
        .await
        .unwrap()
        .authorize_url
}

#[tokio::test]
async fn the_endpoints_come_from_auth0_domain_or_auth0_subdomain() {
    let url = authorize_url(
        "client_id = \"c\"\nauth0_domain = \"dev-x.eu.auth0.com\"\n",
        &[],
    )
    .await;
    assert!(
        url.starts_with("https://dev-x.eu.auth0.com/authorize?"),
        "{url}"
    );
    let url = authorize_url(
        "client_id = \"c\"\n",
        &[("AUTH0_DOMAIN", "login.example.org")],
    )
    .await;
    assert!(
        url.starts_with("https://login.example.org/authorize?"),
        "{url}"
    );
    let url = authorize_url("client_id = \"c\"\nauth0_subdomain = \"acme\"\n", &[]).await;
    assert!(
        url.starts_with("https://acme.auth0.com/authorize?"),
        "{url}"
    );
    let url = authorize_url("client_id = \"c\"\n", &[("AUTH0_SUBDOMAIN", "acme")]).await;
    assert!(
        url.starts_with("https://acme.auth0.com/authorize?"),
        "{url}"
    );
    // auth0_domain wins over auth0_subdomain.
    let url = authorize_url(
        "client_id = \"c\"\nauth0_subdomain = \"acme\"\n",
        &[("AUTH0_DOMAIN", "login.example.org")],
    )
    .await;
    assert!(
        url.starts_with("https://login.example.org/authorize?"),
        "{url}"
    );
}

#[test]
fn neither_domain_nor_subdomain_is_upstreams_error() {
    let err = authenticator("Auth0OAuthenticator", "client_id = \"c\"\n", &[])
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("Configuring either auth0_domain or auth0_subdomain is required"),
        "{err}"
    );
    // Every URL given: no domain needed, as upstream computes it only for a default.
    let table = "client_id = \"c\"\nauthorize_url = \"https://a.example/authorize\"\ntoken_url = \"https://a.example/oauth/token\"\nuserdata_url = \"https://a.example/userinfo\"\nlogout_redirect_url = \"https://a.example/v2/logout\"\n";
    assert!(authenticator("Auth0OAuthenticator", table, &[]).is_ok());
}

#[test]
fn a_url_in_auth0_domain_is_refused() {
    for domain in ["https://dev-x.us.auth0.com", "dev-x.us.auth0.com/authorize"] {
        let err = authenticator(
            "Auth0OAuthenticator",
            &format!("client_id = \"c\"\nauth0_domain = \"{domain}\"\n"),
            &[],
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("auth0_domain"), "{err}");
    }
    let err = authenticator(
        "Auth0OAuthenticator",
        "client_id = \"c\"\nauth0_subdomain = \"acme.auth0.com\"\n",
        &[],
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("auth0_subdomain"), "{err}");
}

#[test]
fn username_key_is_deprecated_with_upstreams_warning() {
    let (_, warnings) = authenticator(
        "Auth0OAuthenticator",
        "client_id = \"c\"\nauth0_domain = \"x.auth0.com\"\nusername_key = \"nickname\"\n",
        &[],
    )
    .unwrap();
    assert!(
        warnings.contains(&"Auth0OAuthenticator.username_key is deprecated in Auth0OAuthenticator 16.0.0, use Auth0OAuthenticator.username_claim instead".to_owned()),
        "{warnings:?}"
    );
}

#[test]
fn the_default_scope_gets_startup_warnings() {
    let (a, _) = authenticator(
        "Auth0OAuthenticator",
        "client_id = \"c\"\nauth0_domain = \"x.auth0.com\"\n",
        &[],
    )
    .unwrap();
    let warnings = a.startup_warnings();
    assert!(
        warnings.iter().any(|w| w.contains("openid")),
        "{warnings:?}"
    );
    let (a, _) = authenticator(
        "Auth0OAuthenticator",
        "client_id = \"c\"\nauth0_domain = \"x.auth0.com\"\nscope = [\"openid\", \"email\"]\n",
        &[],
    )
    .unwrap();
    assert!(
        !a.startup_warnings()
            .iter()
            .any(|w| w.contains("Auth0OAuthenticator.scope"))
    );
}

/// The example of the guide's Auth0 section, as written there.
pub(super) const GUIDE_EXAMPLE: &str = r#"auth0_domain = "example.us.auth0.com"               # or AUTH0_DOMAIN
client_id = "k3XQ0bV8nWc4YpR7sT2uA9dF6gH1jL5m"     # or OAUTH_CLIENT_ID
client_secret = "change-me"                         # or OAUTH_CLIENT_SECRET
oauth_callback_url = "https://hub.example.org/hub/oauth_callback"
scope = ["openid", "profile", "email"]
manage_groups = true                                # roles an Action adds to the user info
auth_state_groups_key = { script = "auth_state.auth0_user[\"https://hub.example.org/roles\"]" }
allowed_groups = ["staff"]
admin_groups = ["hub-admins"]
"#;

#[test]
fn the_guides_example_builds_without_warnings() {
    let (a, warnings) = authenticator("Auth0OAuthenticator", GUIDE_EXAMPLE, &[]).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(
        a.startup_warnings().is_empty(),
        "{:?}",
        a.startup_warnings()
    );
}
