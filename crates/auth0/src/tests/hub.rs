//! A hub in front of the Auth0 mock (HTTPS, its own CA), and a browser to drive it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use hubauth_auth0::mock::{Auth0Mock, MockHandle, MockUser};
use hubauth_config::{Config, MapEnv, Registry};
use hubauth_core::Authenticator;
use hubauth_server::{CookieSecret, Hub, HubConfig, HubParts, ManualClock};
use serde_json::Value;
use tempfile::TempDir;
use tokio::sync::oneshot;

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
    defs.extend(hubauth_local::classes());
    defs.extend(hubauth_oauth::classes());
    defs.extend(hubauth_auth0::classes());
    Registry::new(defs).unwrap()
}

/// The authenticator a `[class]` table builds, as the CLI does; `Err` is the start-up
/// error.
pub(super) fn authenticator(
    class: &str,
    table: &str,
    env: &[(&str, &str)],
) -> anyhow::Result<(Arc<dyn Authenticator>, Vec<String>)> {
    let registry = registry();
    let text = format!("[{class}]\n{table}");
    let config =
        Config::parse(&text, "test.toml", &registry).map_err(|e| anyhow::anyhow!("{e}"))?;
    let env = MapEnv::from_iter(env.iter().map(|(k, v)| (*k, *v)));
    let view = config.view(&registry, class, &env);
    let built = if class.starts_with("Local") {
        hubauth_auth0::local_auth0_from_view(&view)
    } else {
        hubauth_auth0::auth0_authenticator(&view)
    };
    Ok((
        built.map_err(|e| anyhow::anyhow!("{e}"))?,
        config.warnings().to_vec(),
    ))
}

async fn build(
    class: &str,
    table: &str,
    env: &[(&str, &str)],
    dir: &TempDir,
    clock: Arc<ManualClock>,
) -> anyhow::Result<Hub> {
    let text = format!(
        "[Hub]\nbind_url = \"http://127.0.0.1:0\"\ndb_url = \"sqlite:///{db}\"\ncookie_secret_file = \"{secret}\"\nlogin_rate_limit = 0\n\n[{class}]\n{table}",
        db = dir.path().join("hub.sqlite").display(),
        secret = dir.path().join("cookie_secret").display(),
    );
    let registry = registry();
    let config =
        Config::parse(&text, "test.toml", &registry).map_err(|e| anyhow::anyhow!("{e}"))?;
    let env = MapEnv::from_iter(env.iter().map(|(k, v)| (*k, *v)));
    let hub_config = HubConfig::from_view(&config.view(&registry, "Hub", &env))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let view = config.view(&registry, class, &env);
    let authenticator = if class.starts_with("Local") {
        hubauth_auth0::local_auth0_from_view(&view)
    } else {
        hubauth_auth0::auth0_authenticator(&view)
    }
    .map_err(|e| anyhow::anyhow!("{e}"))?;
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

/// A tenant serving HTTPS with its own CA, with [`users`], and a hub of `class` that
/// trusts that CA, with `auth0_domain` at the mock and the OIDC scopes, plus `extra` (a
/// `scope` in `extra` replaces the default one); `builder` adds to the mock.
pub(super) async fn try_pair_with(
    class: &str,
    extra: &str,
    builder: impl FnOnce(Auth0Mock) -> Auth0Mock,
) -> anyhow::Result<Pair> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let origin = format!("http://{}", listener.local_addr()?);
    let mut mock = Auth0Mock::builder()
        .client(
            "hub-client",
            "hub-secret",
            &format!("{origin}/hub/oauth_callback"),
        )
        .allowed_logout_url("hub-client", &format!("{origin}/hub/login"))
        .auto_approve(Some("alice@example.com"))
        .tls_with_own_ca();
    for user in users() {
        mock = mock.user(user);
    }
    let mock = builder(mock).start().await?;
    let dir = TempDir::new()?;
    let ca_file = dir.path().join("auth0-ca.pem");
    std::fs::write(&ca_file, mock.ca_pem().expect("TLS"))?;
    let key = hubauth_store::CryptKeeper::generate_key();
    let scope = if extra.contains("scope =") {
        String::new()
    } else {
        "scope = [\"openid\", \"profile\", \"email\"]\n".to_owned()
    };
    let table = format!(
        "auth0_domain = \"{}\"\nclient_id = \"hub-client\"\nclient_secret = \"hub-secret\"\nhttp_request_kwargs = {{ ca_certs = \"{}\" }}\n{scope}enable_auth_state = true\n{}",
        mock.domain(),
        ca_file.display(),
        extra.replace("@ISSUER@", &mock.issuer()),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let clock = Arc::new(ManualClock::at(now));
    let hub = build(
        class,
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

pub(super) async fn try_pair(class: &str, extra: &str) -> anyhow::Result<Pair> {
    try_pair_with(class, extra, |mock| mock).await
}

/// A browser that trusts the mock's CA.
pub(super) fn browser(p: &Pair) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none());
    if let Some(pem) = p.mock.ca_pem() {
        builder =
            builder.add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

pub(super) fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// The authorize URL the hub sends the browser to.
pub(super) async fn authorize_url(c: &reqwest::Client, p: &Pair) -> url::Url {
    let start = c
        .get(format!("{}oauth_login", p.hub_url))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 302);
    url::Url::parse(&location(&start)).unwrap()
}

/// Logs `user` in through the mock; the hub's answer to the callback (status, body).
pub(super) async fn login_as(p: &Pair, user: &str) -> (reqwest::Client, u16, String) {
    p.mock.set_auto_approve(Some(user));
    let c = browser(p);
    let authorize = authorize_url(&c, p).await;
    let at_idp = c.get(authorize.as_str()).send().await.unwrap();
    assert_eq!(at_idp.status(), 302, "the mock approves");
    let callback = location(&at_idp);
    assert!(callback.contains("/hub/oauth_callback"), "{callback}");
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

/// Signs out as a browser does: the "Sign out?" page, then its form; the POST's answer.
pub(super) async fn logout(c: &reqwest::Client, p: &Pair) -> reqwest::Response {
    let url = format!("{}logout", p.hub_url);
    let page = c.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200, "the confirmation page");
    let html = page.text().await.unwrap();
    let marker = "name=\"_xsrf\" value=\"";
    let start = html.find(marker).expect("a form token") + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    c.post(&url)
        .form(&[("_xsrf", &html[start..end])])
        .send()
        .await
        .unwrap()
}

/// The hub of the demo: `start_demo_mock`'s table, served on a listener bound first (the
/// mock needs the callback URL), with auth_state on as `hubauth demo` has it.
pub(super) async fn demo_pair(class: &str) -> anyhow::Result<Pair> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let origin = format!("http://{}", listener.local_addr()?);
    let (mock, table) =
        hubauth_auth0::mock::start_demo_mock(&format!("{origin}/hub/oauth_callback")).await?;
    let header = format!("[{class}]\n");
    let table = format!(
        "{}enable_auth_state = true\n",
        table
            .strip_prefix(&header)
            .expect("the table starts with its header")
    );
    let dir = TempDir::new()?;
    let key = hubauth_store::CryptKeeper::generate_key();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let clock = Arc::new(ManualClock::at(now));
    let hub = build(
        class,
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
