//! The OpenShift quirks of the shared harness (`hubauth-harness`): the cluster's users
//! and groups, its HTTPS with its own CA, the class table, and how the authenticator is
//! built.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_config::ConfigError;
use hubauth_harness::{Build, Built, Loopback, Provider, local_or};
use hubauth_openshift::mock::{MockHandle, MockUser, OpenShiftMock};

pub(super) use hubauth_harness::{auth_state, authorize_url, browser, home, login_as, stored_user};

/// The groups of the tests.
pub(super) const STAFF: &str = "data-science";
pub(super) const ADMINS: &str = "hub-admins";

pub(super) fn users() -> Vec<MockUser> {
    vec![
        MockUser::new("alice").group(STAFF),
        MockUser::new("admin").group(STAFF).group(ADMINS),
        MockUser::new("bob"),
        MockUser::new("carol").group(STAFF),
        // A name every Debian machine has as a system user, for the Local variant.
        MockUser::new("nobody").group(STAFF),
    ]
}

pub(super) type Pair = hubauth_harness::Pair<MockHandle>;

// A browser trusts the cluster's CA (as one in the cluster's organisation would).
hubauth_harness::idp_mock!(
    MockHandle,
    ca_pem = |mock| mock.ca().map(|ca| ca.ca_pem.clone())
);

/// The provider under test: the OpenShift classes, the Local variant or not.
pub(super) fn provider() -> Provider<impl Build<ConfigError>> {
    Provider::new(
        hubauth_openshift::classes(),
        local_or(
            hubauth_openshift::local_openshift_from_view,
            hubauth_openshift::openshift_authenticator,
        ),
    )
}

pub(super) fn registry() -> hubauth_config::Registry {
    hubauth_harness::registry(hubauth_openshift::classes())
}

/// The authenticator a `[class]` table builds, as the CLI does; `Err` is the start-up
/// error.
pub(super) fn authenticator(class: &str, table: &str, env: &[(&str, &str)]) -> Built {
    provider().class_authenticator(class, table, env)
}

/// A mock serving HTTPS with its own CA, with [`users`], and a hub of `class` that trusts
/// that CA, with `openshift_url` at the mock, plus `extra`; `builder` adds to the mock.
pub(super) async fn try_pair_with(
    class: &str,
    extra: &str,
    builder: impl FnOnce(OpenShiftMock) -> OpenShiftMock,
) -> anyhow::Result<Pair> {
    let site = Loopback::bind().await?;
    let mut mock = OpenShiftMock::builder()
        .client("jupyterhub", "hub-secret", &site.callback_url())
        .auto_approve(Some("alice"))
        .tls_with_own_ca();
    for user in users() {
        mock = mock.user(user);
    }
    let mock = builder(mock).start().await?;
    let ca_file = site.dir().join("cluster-ca.pem");
    std::fs::write(&ca_file, &mock.ca().expect("TLS").ca_pem)?;
    let ca_file = ca_file.display().to_string();
    let extra = extra.replace("@CA@", &ca_file);
    let trust = if extra.contains("http_request_kwargs") || extra.contains("NO_CA") {
        String::new()
    } else {
        format!("http_request_kwargs = {{ ca_certs = \"{ca_file}\" }}\n")
    };
    let table = format!(
        "[{class}]\nopenshift_url = \"{}\"\nclient_id = \"jupyterhub\"\nclient_secret = \"hub-secret\"\n{trust}enable_auth_state = true\n{}",
        mock.openshift_url(),
        extra.replace("NO_CA\n", ""),
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
    let (mock, table) = hubauth_openshift::mock::start_demo_mock(&site.callback_url()).await?;
    let tables = hubauth_harness::demo_tables(class, &table);
    provider().serve(site, mock, class, &tables).await
}
