//! What the GitLab tests share: the mock's cast, a real hub against it, a browser.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use hubauth_config::{Config, MapEnv, Registry};
use hubauth_core::Authenticator;
use hubauth_gitlab::mock::{
    GitLabMock, MockGroup, MockHandle, MockProject, MockUser, Visibility, access,
};
use hubauth_server::{CookieSecret, Hub, HubConfig, HubParts, ManualClock};
use serde_json::Value;
use tempfile::TempDir;
use tokio::sync::oneshot;

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

pub(super) fn registry() -> Registry {
    let mut defs: Vec<&'static hubauth_config::ClassDef> = vec![&hubauth_server::HUB];
    defs.extend(hubauth_core::options::classes());
    defs.extend(hubauth_local::classes());
    defs.extend(hubauth_oauth::classes());
    defs.extend(hubauth_gitlab::classes());
    Registry::new(defs).unwrap()
}

/// The authenticator of `class` from a config file's text and an environment, as the
/// CLI builds it; `Err` is the start-up error's text.
pub(super) fn build(
    class: &str,
    text: &str,
    env: &[(&str, &str)],
) -> Result<Arc<dyn Authenticator>, String> {
    let registry = registry();
    let config = Config::parse(text, "test.toml", &registry).map_err(|e| e.to_string())?;
    let env = MapEnv::from_iter(env.iter().map(|(k, v)| (*k, *v)));
    let view = config.view(&registry, class, &env);
    let built: Arc<dyn Authenticator> = if class.starts_with("Local") {
        Arc::new(hubauth_gitlab::local_gitlab_from_view(&view).map_err(|e| e.to_string())?)
    } else {
        Arc::new(hubauth_gitlab::gitlab_from_view(&view).map_err(|e| e.to_string())?)
    };
    Ok(built)
}

/// A running mock and a hub against it.
pub(super) struct Pair {
    pub(super) mock: MockHandle,
    pub(super) hub: Hub,
    pub(super) hub_url: String,
    pub(super) clock: Arc<ManualClock>,
    _dir: TempDir,
    _stop: oneshot::Sender<()>,
}

/// A mock (its application registered with `scopes`) and a hub of `class` whose table is
/// the client, `gitlab_url`, `enable_auth_state` and `extra`.
pub(super) async fn try_pair_with(
    class: &str,
    extra: &str,
    scopes: &[&str],
    configure: impl FnOnce(GitLabMock) -> GitLabMock,
) -> anyhow::Result<Pair> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let origin = format!("http://{}", listener.local_addr()?);
    let builder = GitLabMock::builder()
        .application(
            CLIENT,
            SECRET,
            &format!("{origin}/hub/oauth_callback"),
            scopes,
        )
        .auto_approve(Some("ada"));
    let mock = configure(cast(builder)).start().await?;
    let table = format!(
        "[{class}]\nclient_id = \"{CLIENT}\"\nclient_secret = \"{SECRET}\"\ngitlab_url = \"{url}\"\nenable_auth_state = true\n{extra}",
        url = mock.gitlab_url(),
        extra = extra.replace("@JWKS_URL@", &mock.jwks_url()),
    );
    serve_hub(listener, mock, class, &table).await
}

/// A hub of `class` configured by `table` (its class table, header included), serving
/// on `listener`, against `mock`.
pub(super) async fn serve_hub(
    listener: tokio::net::TcpListener,
    mock: MockHandle,
    class: &str,
    table: &str,
) -> anyhow::Result<Pair> {
    let origin = format!("http://{}", listener.local_addr()?);
    let dir = TempDir::new()?;
    let text = format!(
        "[Hub]\nbind_url = \"http://127.0.0.1:0\"\ndb_url = \"sqlite:///{db}\"\ncookie_secret_file = \"{secret}\"\nlogin_rate_limit = 0\n\n{table}",
        db = dir.path().join("hub.sqlite").display(),
        secret = dir.path().join("cookie_secret").display(),
    );
    let key = hubauth_store::CryptKeeper::generate_key();
    let env = [("JUPYTERHUB_CRYPT_KEY", key.as_str())];
    let authenticator = build(class, &text, &env).map_err(|e| anyhow::anyhow!("{e}"))?;
    let registry = registry();
    let config =
        Config::parse(&text, "test.toml", &registry).map_err(|e| anyhow::anyhow!("{e}"))?;
    let map = MapEnv::from_iter(env);
    let hub_config = HubConfig::from_view(&config.view(&registry, "Hub", &map))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let crypt = hubauth_store::CryptKeeper::from_keys_str(&key)?;
    hubauth_server::startup::check(authenticator.as_ref(), &crypt)?;
    let store = hubauth_store::open(&hub_config.db_url).await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let clock = Arc::new(ManualClock::at(now));
    let hub = Hub::start(HubParts {
        config: hub_config,
        authenticator,
        hook: None,
        store,
        crypt,
        secret: CookieSecret::random(),
        clock: clock.clone(),
    })
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

/// Logs `user` in through the mock; the hub's answer to the callback (status, body).
pub(super) async fn login_as(p: &Pair, user: &str) -> (reqwest::Client, u16, String) {
    p.mock.set_auto_approve(Some(user));
    let c = client();
    let start = c
        .get(format!("{}oauth_login", p.hub_url))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 302);
    let at_gitlab = c.get(location(&start)).send().await.unwrap();
    assert_eq!(at_gitlab.status(), 302, "GitLab answers with a redirect");
    let callback = location(&at_gitlab);
    assert!(callback.contains("/hub/oauth_callback"), "{callback}");
    let answer = c.get(&callback).send().await.unwrap();
    let status = answer.status().as_u16();
    let body = answer.text().await.unwrap();
    (c, status, body)
}

/// The status of the hub's home page for this browser (200: logged in, 302: not).
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

pub(super) async fn is_admin(p: &Pair, name: &str) -> Option<bool> {
    p.hub
        .state()
        .store
        .get_user(name)
        .await
        .unwrap()
        .map(|user| user.admin)
}
