//! What the GitLab tests share: the mock's cast, and the GitLab quirks of the shared
//! harness (`hubauth-harness`: a real hub against the mock, a browser).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use hubauth_config::{ConfigError, Registry};
use hubauth_core::Authenticator;
use hubauth_gitlab::mock::{
    GitLabMock, MockGroup, MockHandle, MockProject, MockUser, Visibility, access,
};
use hubauth_harness::{Build, Loopback, Provider, arc, local_or};

pub(super) use hubauth_harness::{auth_state, client, home, location, login_as};

pub(super) const CLIENT: &str = "8c2f8e1b6d0a4f3c9e7b5a1d2c4e6f80";
pub(super) const SECRET: &str = "gloas-4f1e9c0b7a2d5e8f3c6b9a0d1e4f7a2b";
/// The project of the cast: Developers of it may log in under `allowed_project_ids`.
pub(super) const PROJECT: u64 = 500;

/// User ids of the cast.
pub(super) const ADA: u64 = 1;
pub(super) const BEN: u64 = 2;
pub(super) const CLEO: u64 = 3;

/// The cast:
/// - `ada`: Developer of the subgroup `physics/hpc`;
/// - `ben`: Owner of `physics`, so a member of `physics/hpc` by inheritance only;
/// - `cleo`: Developer of project 500 (`tools/simulator`);
/// - `dan`: Guest of project 500;
/// - `eve`: nothing;
/// - `fay`: awaiting approval in `physics/hpc`;
/// - `gus`: Maintainer of `tools`, so Maintainer of project 500 by inheritance;
/// - `hal`: member of `chemistry` only;
/// - `nobody`: Developer of `physics/hpc` and a UNIX user of every Linux machine.
pub(super) fn cast(builder: GitLabMock) -> GitLabMock {
    builder
        .user(MockUser::new(ADA, "ada"))
        .user(MockUser::new(BEN, "ben"))
        .user(MockUser::new(CLEO, "cleo"))
        .user(MockUser::new(4, "dan"))
        .user(MockUser::new(5, "eve"))
        .user(MockUser::new(6, "fay"))
        .user(MockUser::new(7, "gus"))
        .user(MockUser::new(8, "hal"))
        .user(MockUser::new(9, "nobody"))
        .group(MockGroup::new(10, "physics").member(BEN, access::OWNER))
        .group(
            MockGroup::new(20, "physics/hpc")
                .member(ADA, access::DEVELOPER)
                .member(9, access::DEVELOPER)
                .awaiting(6, access::DEVELOPER),
        )
        .group(MockGroup::new(30, "chemistry").member(8, access::MAINTAINER))
        .group(
            MockGroup::new(40, "tools")
                .visibility(Visibility::Public)
                .member(7, access::MAINTAINER),
        )
        .project(
            MockProject::new(PROJECT, "tools/simulator")
                .member(CLEO, access::DEVELOPER)
                .member(4, access::GUEST),
        )
}

pub(super) type Pair = hubauth_harness::Pair<MockHandle>;

// GitLab approves by username.
hubauth_harness::idp_mock!(MockHandle);

/// The provider under test: the GitLab classes, the Local variant or not.
fn provider() -> Provider<impl Build<ConfigError>> {
    Provider::new(
        hubauth_gitlab::classes(),
        local_or(
            arc(hubauth_gitlab::local_gitlab_from_view),
            arc(hubauth_gitlab::gitlab_from_view),
        ),
    )
}

pub(super) fn registry() -> Registry {
    hubauth_harness::registry(hubauth_gitlab::classes())
}

/// The authenticator of `class` from a config file's text and an environment, as the
/// CLI builds it; `Err` is the start-up error's text.
pub(super) fn build(
    class: &str,
    text: &str,
    env: &[(&str, &str)],
) -> Result<Arc<dyn Authenticator>, String> {
    provider()
        .authenticator(class, text, env)
        .map(|(built, _)| built)
}

/// A mock (its application registered with `scopes`) and a hub of `class` whose table is
/// the client, `gitlab_url`, `enable_auth_state` and `extra`.
pub(super) async fn try_pair_with(
    class: &str,
    extra: &str,
    scopes: &[&str],
    configure: impl FnOnce(GitLabMock) -> GitLabMock,
) -> anyhow::Result<Pair> {
    let site = Loopback::bind().await?;
    let builder = GitLabMock::builder()
        .application(CLIENT, SECRET, &site.callback_url(), scopes)
        .auto_approve(Some("ada"));
    let mock = configure(cast(builder)).start().await?;
    let table = format!(
        "[{class}]\nclient_id = \"{CLIENT}\"\nclient_secret = \"{SECRET}\"\ngitlab_url = \"{url}\"\nenable_auth_state = true\n{extra}",
        url = mock.gitlab_url(),
        extra = extra.replace("@JWKS_URL@", &mock.jwks_url()),
    );
    serve_hub(site, mock, class, &table).await
}

/// A hub of `class` configured by `table` (its class table, header included), prepared
/// on `site`, against `mock`.
pub(super) async fn serve_hub(
    site: Loopback,
    mock: MockHandle,
    class: &str,
    table: &str,
) -> anyhow::Result<Pair> {
    provider().serve(site, mock, class, table).await
}

/// The usual pair: a `GitLabOAuthenticator` asking for `read_user read_api`, the
/// application registered with those.
pub(super) async fn pair(extra: &str) -> Pair {
    try_pair_with(
        "GitLabOAuthenticator",
        &format!("scope = [\"read_user\", \"read_api\"]\n{extra}"),
        &["read_user", "read_api"],
        |b| b,
    )
    .await
    .unwrap()
}

pub(super) async fn is_admin(p: &Pair, name: &str) -> Option<bool> {
    p.hub
        .state()
        .store
        .get_user(name)
        .await
        .unwrap()
        .map(|user| user.admin)
}
