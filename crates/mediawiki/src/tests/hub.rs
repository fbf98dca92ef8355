//! A hub in front of the MediaWiki mock, sharing one clock with it, and a browser to
//! drive it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use hubauth_config::{Config, MapEnv, Registry};
use hubauth_core::Authenticator;
use hubauth_mediawiki::mock::{MediaWikiMock, MockConsumer, MockHandle, MockUser};
use hubauth_server::{Clock as _, CookieSecret, Hub, HubConfig, HubParts, ManualClock};
use serde_json::Value;
use tempfile::TempDir;
use tokio::sync::oneshot;

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

pub(super) struct Pair {
    pub(super) mock: MockHandle,
    pub(super) hub: Hub,
    pub(super) hub_url: String,
    pub(super) clock: Arc<ManualClock>,
    _dir: TempDir,
    _stop: oneshot::Sender<()>,
}

pub(super) fn registry() -> Registry {
    let mut defs: Vec<&'static hubauth_config::ClassDef> = vec![&hubauth_server::HUB];
    defs.extend(hubauth_core::options::classes());
    defs.extend(hubauth_oauth::classes());
    defs.extend(hubauth_mediawiki::classes());
    Registry::new(defs).unwrap()
}

/// The authenticator a `[MWOAuthenticator]` table builds, as the CLI does, and the
/// configuration's warnings; `Err` is the start-up error.
pub(super) fn authenticator(
    table: &str,
    env: &[(&str, &str)],
) -> anyhow::Result<(Arc<dyn Authenticator>, Vec<String>)> {
    let registry = registry();
    let text = format!("[MWOAuthenticator]\n{table}");
    let config =
        Config::parse(&text, "test.toml", &registry).map_err(|e| anyhow::anyhow!("{e}"))?;
    let env = MapEnv::from_iter(env.iter().map(|(k, v)| (*k, *v)));
    let view = config.view(&registry, "MWOAuthenticator", &env);
    let built =
        hubauth_mediawiki::mediawiki_authenticator(&view).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((built, config.warnings().to_vec()))
}

async fn build(
    table: &str,
    env: &[(&str, &str)],
    dir: &TempDir,
    clock: Arc<ManualClock>,
) -> anyhow::Result<Hub> {
    let text = format!(
        "[Hub]\nbind_url = \"http://127.0.0.1:0\"\ndb_url = \"sqlite:///{db}\"\ncookie_secret_file = \"{secret}\"\nlogin_rate_limit = 0\n\n[MWOAuthenticator]\n{table}",
        db = dir.path().join("hub.sqlite").display(),
        secret = dir.path().join("cookie_secret").display(),
    );
    let registry = registry();
    let config =
        Config::parse(&text, "test.toml", &registry).map_err(|e| anyhow::anyhow!("{e}"))?;
    let env = MapEnv::from_iter(env.iter().map(|(k, v)| (*k, *v)));
    let hub_config = HubConfig::from_view(&config.view(&registry, "Hub", &env))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let view = config.view(&registry, "MWOAuthenticator", &env);
    let authenticator =
        hubauth_mediawiki::mediawiki_authenticator(&view).map_err(|e| anyhow::anyhow!("{e}"))?;
    let crypt = match env.vars().get("JUPYTERHUB_CRYPT_KEY") {
        Some(keys) => hubauth_store::CryptKeeper::from_keys_str(keys)?,
        None => hubauth_store::CryptKeeper::empty(),
    };
    hubauth_server::startup::check(authenticator.as_ref(), &crypt)?;
    let store = hubauth_store::open(&hub_config.db_url).await?;
    let secret = CookieSecret::load(None, &hub_config.cookie_secret_file)?;
    Ok(Hub::start(HubParts {
        config: hub_config,
        authenticator,
        hook: None,
        store,
        crypt,
        secret,
        clock,
    })
    .await?)
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

pub(super) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A mock wiki and a hub whose table is the consumer, the mock's URL, auth_state on, and
/// `extra`.
pub(super) async fn try_pair_with(
    extra: &str,
    consumer: impl FnOnce(MockConsumer) -> MockConsumer,
) -> anyhow::Result<Pair> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let origin = format!("http://{}", listener.local_addr()?);
    let clock = Arc::new(ManualClock::at(now()));
    let mock = start_mock(&clock, &format!("{origin}/hub/oauth_callback"), consumer).await;
    let key = hubauth_store::CryptKeeper::generate_key();
    let table = format!(
        "client_id = \"{KEY}\"\nclient_secret = \"{SECRET}\"\n{}enable_auth_state = true\n{extra}",
        mock.toml_urls(),
    );
    let dir = TempDir::new()?;
    let hub = build(
        &table,
        &[("JUPYTERHUB_CRYPT_KEY", key.as_str())],
        &dir,
        clock.clone(),
    )
    .await?;
    let (tx, rx) = oneshot::channel::<()>();
    let serving = hub.clone();
    tokio::spawn(async move {
        let _ = serving
            .serve(listener, async {
                let _ = rx.await;
            })
            .await;
    });
    Ok(Pair {
        mock,
        hub,
        hub_url: format!("{origin}/hub/"),
        clock,
        _dir: dir,
        _stop: tx,
    })
}

pub(super) async fn pair(extra: &str) -> Pair {
    try_pair_with(extra, |c| c).await.unwrap()
}

pub(super) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub(super) fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Starts a login at the hub: the hub's answer (a redirect to the wiki, or an error).
pub(super) async fn start_login(c: &reqwest::Client, p: &Pair) -> reqwest::Response {
    c.get(format!("{}oauth_login", p.hub_url))
        .send()
        .await
        .unwrap()
}

/// The wiki's approval page the hub sends the browser to.
pub(super) async fn authorize_url(c: &reqwest::Client, p: &Pair) -> url::Url {
    let start = start_login(c, p).await;
    assert_eq!(start.status(), 302, "{}", start.text().await.unwrap());
    url::Url::parse(&location(&start)).unwrap()
}

/// Where the wiki sends the browser back after `user` approved.
pub(super) async fn approved_callback(c: &reqwest::Client, p: &Pair, user: &str) -> String {
    p.mock.set_auto_approve(Some(user));
    let authorize = authorize_url(c, p).await;
    let at_wiki = c.get(authorize.as_str()).send().await.unwrap();
    assert_eq!(at_wiki.status(), 302, "the wiki approves");
    let callback = location(&at_wiki);
    assert!(callback.contains("/hub/oauth_callback"), "{callback}");
    callback
}

/// Logs `user` in through the wiki; the hub's answer to the callback (status, body).
pub(super) async fn login_as(p: &Pair, user: &str) -> (reqwest::Client, u16, String) {
    let c = client();
    let callback = approved_callback(&c, p, user).await;
    let answer = c.get(&callback).send().await.unwrap();
    let status = answer.status().as_u16();
    let body = answer.text().await.unwrap();
    (c, status, body)
}

pub(super) async fn home(c: &reqwest::Client, p: &Pair) -> u16 {
    c.get(format!("{}home", p.hub_url))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

pub(super) async fn auth_state(p: &Pair, name: &str) -> Value {
    hubauth_server::auth_state::load(p.hub.state(), name)
        .await
        .unwrap()
        .expect("auth_state stored")
}

pub(super) async fn stored_user(p: &Pair, name: &str) -> Option<hubauth_store::UserRecord> {
    p.hub.state().store.get_user(name).await.unwrap()
}
