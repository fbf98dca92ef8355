//! The MediaWiki quirks of the shared harness (`hubauth-harness`): the wiki's accounts,
//! the consumer, a mock sharing the hub's clock, and how the authenticator is built.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use hubauth_config::{ClassView, ConfigError, Registry};
use hubauth_core::Authenticator;
use hubauth_harness::{Build, Loopback, Provider};
use hubauth_mediawiki::mock::{MediaWikiMock, MockConsumer, MockHandle, MockUser};
use hubauth_server::{Clock as _, ManualClock};

pub(super) use hubauth_harness::{
    approved_callback, auth_state, authorize_url, client, home, location, login_as, now,
    start_login, stored_user,
};

/// The consumer of the tests.
pub(super) const KEY: &str = "hub-consumer-key";
pub(super) const SECRET: &str = "hub-consumer-secret";

/// The wiki's accounts in the tests.
pub(super) fn users() -> Vec<MockUser> {
    vec![
        MockUser::new("Alice Smith"),
        MockUser::new("Admin").group("sysop"),
        // A new account: 3 edits, not autoconfirmed.
        MockUser::new("Bob").editcount(3),
        MockUser::new("Mallory").locked(),
        MockUser::new("Ghost").hidden(),
        MockUser::new("Carol").blocked(),
        MockUser::new("Dave").confirmed_email(false),
    ]
}

pub(super) type Pair = hubauth_harness::Pair<MockHandle>;

// The wiki approves by user name.
hubauth_harness::idp_mock!(MockHandle);

/// The provider under test: `MWOAuthenticator`.
fn provider() -> Provider<impl Build<ConfigError>> {
    Provider::new(
        hubauth_mediawiki::classes(),
        |_: &str, view: &ClassView<'_>| hubauth_mediawiki::mediawiki_authenticator(view),
    )
}

pub(super) fn registry() -> Registry {
    hubauth_harness::registry(hubauth_mediawiki::classes())
}

/// The authenticator a `[MWOAuthenticator]` table builds, as the CLI does, and the
/// configuration's warnings; `Err` is the start-up error.
pub(super) fn authenticator(
    table: &str,
    env: &[(&str, &str)],
) -> anyhow::Result<(Arc<dyn Authenticator>, Vec<String>)> {
    let text = format!("[MWOAuthenticator]\n{table}");
    provider()
        .authenticator("MWOAuthenticator", &text, env)
        .map_err(anyhow::Error::msg)
}

/// A mock wiki with [`users`] and the test consumer, whose clock is the hub's.
pub(super) async fn start_mock(
    clock: &Arc<ManualClock>,
    callback: &str,
    consumer: impl FnOnce(MockConsumer) -> MockConsumer,
) -> MockHandle {
    let shared = clock.clone();
    let mut builder = MediaWikiMock::builder()
        .consumer(consumer(MockConsumer::new(KEY, SECRET, callback)))
        .auto_approve(Some("Alice Smith"))
        .clock(Arc::new(move || shared.now()));
    for user in users() {
        builder = builder.user(user);
    }
    builder.start().await.unwrap()
}

/// A mock wiki and a hub whose table is the consumer, the mock's URL, auth_state on, and
/// `extra`.
pub(super) async fn try_pair_with(
    extra: &str,
    consumer: impl FnOnce(MockConsumer) -> MockConsumer,
) -> anyhow::Result<Pair> {
    let site = Loopback::bind().await?;
    let mock = start_mock(site.clock(), &site.callback_url(), consumer).await;
    let table = format!(
        "[MWOAuthenticator]\nclient_id = \"{KEY}\"\nclient_secret = \"{SECRET}\"\n{}enable_auth_state = true\n{extra}",
        mock.toml_urls(),
    );
    provider()
        .serve(site, mock, "MWOAuthenticator", &table)
        .await
}

pub(super) async fn pair(extra: &str) -> Pair {
    try_pair_with(extra, |c| c).await.unwrap()
}
