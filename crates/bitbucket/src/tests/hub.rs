//! The Bitbucket quirks of the shared harness (`hubauth-harness`): the mock's users and
//! workspaces, the class table, and how the authenticator is built.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_bitbucket::mock::{BitbucketMock, MockHandle, MockUser, MockWorkspace, Role};
use hubauth_config::ConfigError;
use hubauth_harness::{Build, Built, Loopback, Provider, local_or};

pub(super) use hubauth_harness::{auth_state, authorize_url, client, home, login_as, stored_user};

/// The allowed workspace of the tests.
pub(super) const TEAM: &str = "jupyter-team";

pub(super) fn users() -> Vec<MockUser> {
    let team = MockWorkspace::new(TEAM, "Jupyter Team");
    vec![
        MockUser::new("alice").workspace(team.clone()),
        MockUser::new("admin").workspace(team.clone().role(Role::Owner)),
        MockUser::new("bob"),
        MockUser::new("carol").workspace(team.clone()),
        // A workspace mallory created and named like the allowed one.
        MockUser::new("mallory").workspace(MockWorkspace::new("mallory-jt", "Jupyter Team")),
        // A name every Debian machine has as a system user, for the Local variant.
        MockUser::new("nobody"),
    ]
}

pub(super) type Pair = hubauth_harness::Pair<MockHandle>;

hubauth_harness::idp_mock!(MockHandle);

/// The provider under test: the Bitbucket classes, the Local variant or not.
pub(super) fn provider() -> Provider<impl Build<ConfigError>> {
    Provider::new(
        hubauth_bitbucket::classes(),
        local_or(
            hubauth_bitbucket::local_bitbucket_from_view,
            hubauth_bitbucket::bitbucket_authenticator,
        ),
    )
}

/// The authenticator a `[class]` table builds, as the CLI does; `Err` is the start-up
/// error.
pub(super) fn authenticator(class: &str, table: &str, env: &[(&str, &str)]) -> Built {
    provider().class_authenticator(class, table, env)
}

/// A mock with [`users`] and a hub of `class` whose table is the mock's URLs plus `extra`.
pub(super) async fn try_pair(class: &str, extra: &str) -> anyhow::Result<Pair> {
    let site = Loopback::bind().await?;
    let mut builder = BitbucketMock::builder()
        .client("hub-key", "hub-secret", &site.callback_url())
        .auto_approve(Some("alice"));
    for user in users() {
        builder = builder.user(user);
    }
    let mock = builder.start().await?;
    let table = format!(
        "[{class}]\nclient_id = \"hub-key\"\nclient_secret = \"hub-secret\"\n{}enable_auth_state = true\n{extra}",
        mock.toml_urls(),
    );
    provider().serve(site, mock, class, &table).await
}

pub(super) async fn pair(extra: &str) -> Pair {
    try_pair("BitbucketOAuthenticator", extra).await.unwrap()
}

/// The hub of the demo: `start_demo_mock`'s table, served on a listener bound first (the
/// mock needs the callback URL), with auth_state on as `hubauth demo` has it.
pub(super) async fn demo_pair(class: &str) -> anyhow::Result<Pair> {
    let site = Loopback::bind().await?;
    let (mock, table) = hubauth_bitbucket::mock::start_demo_mock(&site.callback_url()).await?;
    let tables = hubauth_harness::demo_tables(class, &table);
    provider().serve(site, mock, class, &tables).await
}
