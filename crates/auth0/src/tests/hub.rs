//! The Auth0 quirks of the shared harness (`hubauth-harness`): the tenant's users, its
//! HTTPS with its own CA, the class table, and how the authenticator is built.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_auth0::mock::{Auth0Mock, MockHandle, MockUser};
use hubauth_config::ConfigError;
use hubauth_harness::{Build, Built, Loopback, Provider, local_or};

pub(super) use hubauth_harness::{
    auth_state, authorize_url, browser, home, location, login_as, logout, stored_user,
};

/// The custom claim the tests' roles are in (an Auth0 Action adds it).
pub(super) const ROLES: &str = "https://hub.example.org/roles";

pub(super) fn users() -> Vec<MockUser> {
    vec![
        MockUser::new("alice", "example.com").claim(ROLES, serde_json::json!(["staff"])),
        MockUser::new("admin", "example.com")
            .claim(ROLES, serde_json::json!(["staff", "hub-admins"])),
        MockUser::new("bob", "example.com"),
        MockUser::new("eve", "example.com").unverified(),
        // A name every Debian machine has as a system user, for the Local variant.
        MockUser::new("nobody", "example.com"),
    ]
}

pub(super) type Pair = hubauth_harness::Pair<MockHandle>;

// Auth0 users are approved by email; the tenant serves HTTPS with its own CA.
hubauth_harness::idp_mock!(MockHandle, ca_pem = |mock| mock.ca_pem().map(str::to_owned));

/// The provider under test: the Auth0 classes, the Local variant or not.
pub(super) fn provider() -> Provider<impl Build<ConfigError>> {
    Provider::new(
        hubauth_auth0::classes(),
        local_or(
            hubauth_auth0::local_auth0_from_view,
            hubauth_auth0::auth0_authenticator,
        ),
    )
}

/// The authenticator a `[class]` table builds, as the CLI does; `Err` is the start-up
/// error.
pub(super) fn authenticator(class: &str, table: &str, env: &[(&str, &str)]) -> Built {
    provider().class_authenticator(class, table, env)
}

/// A tenant serving HTTPS with its own CA, with [`users`], and a hub of `class` that
/// trusts that CA, with `auth0_domain` at the mock and the OIDC scopes, plus `extra` (a
/// `scope` in `extra` replaces the default one); `builder` adds to the mock.
pub(super) async fn try_pair_with(
    class: &str,
    extra: &str,
    builder: impl FnOnce(Auth0Mock) -> Auth0Mock,
) -> anyhow::Result<Pair> {
    let site = Loopback::bind().await?;
    let mut mock = Auth0Mock::builder()
        .client("hub-client", "hub-secret", &site.callback_url())
        .allowed_logout_url("hub-client", &format!("{}/hub/login", site.origin()))
        .auto_approve(Some("alice@example.com"))
        .tls_with_own_ca();
    for user in users() {
        mock = mock.user(user);
    }
    let mock = builder(mock).start().await?;
    let ca_file = site.dir().join("auth0-ca.pem");
    std::fs::write(&ca_file, mock.ca_pem().expect("TLS"))?;
    let scope = if extra.contains("scope =") {
        String::new()
    } else {
        "scope = [\"openid\", \"profile\", \"email\"]\n".to_owned()
    };
    let table = format!(
        "[{class}]\nauth0_domain = \"{}\"\nclient_id = \"hub-client\"\nclient_secret = \"hub-secret\"\nhttp_request_kwargs = {{ ca_certs = \"{}\" }}\n{scope}enable_auth_state = true\n{}",
        mock.domain(),
        ca_file.display(),
        extra.replace("@ISSUER@", &mock.issuer()),
    );
    provider().serve(site, mock, class, &table).await
}

pub(super) async fn try_pair(class: &str, extra: &str) -> anyhow::Result<Pair> {
    try_pair_with(class, extra, |mock| mock).await
}

/// The hub of the demo: `start_demo_mock`'s table, served on a listener bound first (the
/// mock needs the callback URL), with auth_state on as `hubauth demo` has it.
pub(super) async fn demo_pair(class: &str) -> anyhow::Result<Pair> {
    let site = Loopback::bind().await?;
    let (mock, table) = hubauth_auth0::mock::start_demo_mock(&site.callback_url()).await?;
    let tables = hubauth_harness::demo_tables(class, &table);
    provider().serve(site, mock, class, &tables).await
}
