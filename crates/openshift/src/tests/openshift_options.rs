//! OpenShiftOAuthenticator's options: upstream's names, defaults, environment variables
//! and deprecated names.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_core::RequestContext;
use hubauth_openshift::options::OpenShiftOAuthenticatorOptions;

use super::hub::authenticator;

#[test]
fn defaults_are_upstreams() {
    let defaults = OpenShiftOAuthenticatorOptions::defaults().unwrap();
    assert_eq!(defaults.login_service, "OpenShift");
    assert_eq!(defaults.scope, ["user:info"]);
    assert_eq!(defaults.username_claim, serde_json::json!("name"));
    assert_eq!(
        defaults.auth_state_groups_key,
        serde_json::json!("openshift_user.groups")
    );
    assert_eq!(
        defaults.openshift_url,
        "https://openshift.default.svc.cluster.local"
    );
    assert_eq!(defaults.openshift_auth_api_url, None);
    assert_eq!(defaults.openshift_rest_api_url, None);
    assert!(defaults.validate_server_cert);
    assert_eq!(
        hubauth_openshift::LOCAL_OPENSHIFT_OAUTHENTICATOR.bases,
        ["LocalAuthenticator", "OpenShiftOAuthenticator"]
    );
}

#[test]
fn the_user_url_follows_openshift_url_or_the_rest_api_url() {
    let config = |table: &str, env: &[(&str, &str)]| {
        let registry = super::hub::registry();
        let config = hubauth_config::Config::parse(
            &format!("[OpenShiftOAuthenticator]\n{table}"),
            "t.toml",
            &registry,
        )
        .unwrap();
        let env = hubauth_config::MapEnv::from_iter(env.iter().map(|(k, v)| (*k, *v)));
        hubauth_openshift::OpenShiftConfig::from_view(&config.view(
            &registry,
            "OpenShiftOAuthenticator",
            &env,
        ))
        .unwrap()
    };
    let c = config(
        "",
        &[("OPENSHIFT_URL", "https://api.ocp.example.com:6443/")],
    );
    assert_eq!(c.openshift_url, "https://api.ocp.example.com:6443");
    assert_eq!(
        c.default_userdata_url(),
        "https://api.ocp.example.com:6443/apis/user.openshift.io/v1/users/~"
    );
    assert_eq!(
        c.metadata_url(),
        "https://api.ocp.example.com:6443/.well-known/oauth-authorization-server"
    );
    let c = config(
        "openshift_rest_api_url = \"https://rest.example.com\"\n",
        &[("OPENSHIFT_URL", "https://api.example.com")],
    );
    assert_eq!(
        c.default_userdata_url(),
        "https://rest.example.com/apis/user.openshift.io/v1/users/~"
    );
    let c = config("", &[("OPENSHIFT_URL", "")]);
    assert_eq!(
        c.openshift_url, "https://openshift.default.svc.cluster.local",
        "empty means the default, as upstream"
    );
    // The file wins over the environment.
    let c = config(
        "openshift_url = \"https://file.example\"\n",
        &[("OPENSHIFT_URL", "https://env.example")],
    );
    assert_eq!(c.openshift_url, "https://file.example");
}

#[tokio::test]
async fn explicit_endpoints_are_used_as_given() {
    let (a, _) = authenticator(
        "OpenShiftOAuthenticator",
        "client_id = \"c\"\nopenshift_url = \"https://127.0.0.1:9\"\nauthorize_url = \"https://sso.example/oauth/authorize\"\ntoken_url = \"https://sso.example/oauth/token\"\n",
        &[],
    )
    .unwrap();
    let start = a
        .redirect_login()
        .unwrap()
        .begin(&RequestContext::at(0), "s", "https://hub/cb")
        .await
        .unwrap();
    assert!(
        start
            .authorize_url
            .starts_with("https://sso.example/oauth/authorize?")
    );
}

#[test]
fn deprecated_names_behave_as_upstream() {
    let (_, warnings) = authenticator(
        "OpenShiftOAuthenticator",
        "client_id = \"c\"\nvalidate_cert = false\n",
        &[],
    )
    .unwrap();
    assert!(
        warnings.contains(&"OpenShiftOAuthenticator.validate_cert is deprecated in OpenShiftOAuthenticator 16.0.0, use OpenShiftOAuthenticator.validate_server_cert instead".to_owned()),
        "{warnings:?}"
    );
    // ca_certs changed type (removed in 16.0): refused, naming its replacement.
    let err = authenticator(
        "OpenShiftOAuthenticator",
        "client_id = \"c\"\nca_certs = \"/etc/pki/ca.pem\"\n",
        &[],
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.contains("OpenShiftOAuthenticator.ca_certs is deprecated in OpenShiftOAuthenticator 16.0.0, use OpenShiftOAuthenticator.http_request_kwargs instead"),
        "{err}"
    );
}

#[test]
fn invalid_values_are_startup_errors() {
    for (table, option) in [
        (
            "client_id = \"c\"\nopenshift_url = \"openshift.local\"\n",
            "openshift_url",
        ),
        (
            "client_id = \"c\"\nopenshift_auth_api_url = \"ftp://x\"\n",
            "openshift_auth_api_url",
        ),
        (
            "client_id = \"c\"\nopenshift_rest_api_url = \"https://x/?a=b\"\n",
            "openshift_rest_api_url",
        ),
        (
            "client_id = \"c\"\nhttp_request_kwargs = { ca_certs = \"/nonexistent/ca.pem\" }\n",
            "ca_certs",
        ),
        (
            "client_id = \"c\"\nallowed_groups = [\"x\"]\n",
            "manage_groups",
        ),
        ("allow_all = true\n", "client_id"),
    ] {
        let err = authenticator("OpenShiftOAuthenticator", table, &[])
            .err()
            .unwrap();
        assert!(err.to_string().contains(option), "{table}: {err}");
    }
}

/// The example of the guide's OpenShift section, as written there.
pub(super) const GUIDE_EXAMPLE: &str = r#"openshift_url = "https://api.ocp.example.com:6443"   # or OPENSHIFT_URL; inside the cluster the default works
client_id = "jupyterhub"                             # the OAuthClient's name
client_secret = "change-me"                          # its secret, or OAUTH_CLIENT_SECRET
oauth_callback_url = "https://jupyterhub.apps.ocp.example.com/hub/oauth_callback"
manage_groups = true                                 # OpenShift groups become hub groups
allowed_groups = ["data-science"]
admin_groups = ["jupyterhub-admins"]
"#;

#[test]
fn the_guides_example_builds_without_warnings() {
    let (a, warnings) = authenticator("OpenShiftOAuthenticator", GUIDE_EXAMPLE, &[]).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(
        a.startup_warnings().is_empty(),
        "{:?}",
        a.startup_warnings()
    );
}
