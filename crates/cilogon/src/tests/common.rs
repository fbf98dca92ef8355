//! What the behaviour tests share: the mock CILogon over HTTPS with its users, a real hub
//! against it, and a browser that logs in.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use hubauth_cilogon::mock::{CilogonMock, MockHandle, MockIdp, MockUser, ORCID_IDP};
use hubauth_cilogon::{CilogonOAuthenticator, cilogon_from_view, local_cilogon_from_view};
use hubauth_config::{Config, MapEnv, Registry};
use hubauth_core::Authenticator;
use hubauth_server::{CookieSecret, Hub, HubConfig, HubParts, ManualClock};
use serde_json::Value;
use tempfile::TempDir;
use tokio::sync::oneshot;

/// The campus IdP most tests configure.
pub(super) const UNI: &str = "https://idp.uni.edu/idp/shibboleth";
/// A second campus IdP.
pub(super) const PARTNER: &str = "https://idp.partner.org/idp/shibboleth";
/// The client the hub is registered as.
pub(super) const CLIENT_ID: &str = "cilogon:/client_id/4f2a9c";
/// Its secret.
pub(super) const SECRET: &str = "s3cret+/=with&odd%chars";

/// The certificate every mock of this test binary serves HTTPS with: `(certificate PEM,
/// key PEM, a file holding the certificate)`.
pub(super) fn tls_identity() -> &'static (String, String, std::path::PathBuf) {
    static IDENTITY: std::sync::OnceLock<(String, String, std::path::PathBuf)> =
        std::sync::OnceLock::new();
    IDENTITY.get_or_init(|| {
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let cert = certified.cert.pem();
        let dir =
            std::env::temp_dir().join(format!("hubauth-cilogon-tests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("mock-ca.pem");
        std::fs::write(&file, &cert).unwrap();
        (cert, certified.key_pair.serialize_pem(), file)
    })
}

pub(super) fn mock_tls() -> hubauth_devidp::mock::MockTls {
    let (cert, key, _) = tls_identity();
    hubauth_devidp::mock::MockTls::from_pem(cert, key).unwrap()
}

pub(super) fn registry() -> Registry {
    let mut defs: Vec<&'static hubauth_config::ClassDef> = vec![&hubauth_server::HUB];
    defs.extend(hubauth_core::options::classes());
    defs.extend(hubauth_local::classes());
    defs.extend(hubauth_oauth::classes());
    defs.extend(hubauth_cilogon::classes());
    Registry::new(defs).unwrap()
}

/// The users of the standard mock, by key.
pub(super) fn users() -> Vec<MockUser> {
    vec![
        MockUser::campus(UNI, "alice", "uni.edu"),
        MockUser::campus(UNI, "bob", "uni.edu"),
        // A department's subdomain.
        MockUser::campus(UNI, "carol", "cs.uni.edu"),
        // An eppn in another domain than the IdP's.
        MockUser::campus(UNI, "erin", "alumni.example.com"),
        // A user the IdP releases no eppn for (CILogon leaves missing claims out).
        MockUser::new("noeppn", UNI)
            .claim("email", "noeppn@uni.edu")
            .claim("name", "No Eppn"),
        MockUser::campus(PARTNER, "pat", "partner.org"),
        MockUser::github("grace", 101),
        MockUser::github("mallory", 666),
        MockUser::google("gina@gmail.com"),
        MockUser::new("olivia", ORCID_IDP).claim("oidc", "0000-0002-1825-0097"),
    ]
}

/// A running hub against a running mock.
pub(super) struct Pair {
    pub(super) mock: MockHandle,
    pub(super) hub: Hub,
    pub(super) hub_url: String,
    pub(super) clock: Arc<ManualClock>,
    /// The authenticator the hub runs (None for the Local variant).
    pub(super) authenticator: Option<Arc<CilogonOAuthenticator>>,
    _dir: TempDir,
    _stop: oneshot::Sender<()>,
}

/// What a test hub is configured with.
pub(super) struct Setup<'a> {
    /// The class (`CILogonOAuthenticator` or the Local variant).
    pub(super) class: &'a str,
    /// Lines of the class's table (before the `idps` sub-tables).
    pub(super) keys: &'a str,
    /// `idps`: each EntityID with the lines of its sub-table.
    pub(super) idps: &'a [(&'a str, &'a str)],
    /// Environment variables.
    pub(super) env: &'a [(&'a str, &'a str)],
}

impl<'a> Setup<'a> {
    pub(super) fn new(keys: &'a str, idps: &'a [(&'a str, &'a str)]) -> Self {
        Setup {
            class: "CILogonOAuthenticator",
            keys,
            idps,
            env: &[],
        }
    }
}

/// The class table: `keys`, then one sub-table per IdP.
pub(super) fn class_table(class: &str, keys: &str, idps: &[(&str, &str)]) -> String {
    let mut table = format!("[{class}]\n{keys}\n");
    for (entity_id, body) in idps {
        table.push_str(&format!("[{class}.idps.\"{entity_id}\"]\n{body}\n"));
    }
    table
}

/// The authenticator and the hub of `table` (a full class table), as the CLI builds
/// them; `Err` is the start-up error.
pub(super) async fn build_hub(
    class: &str,
    table: &str,
    env: &[(&str, &str)],
    dir: &TempDir,
    clock: Arc<ManualClock>,
) -> anyhow::Result<(Hub, Option<Arc<CilogonOAuthenticator>>)> {
    let text = format!(
        "[Hub]\nbind_url = \"http://127.0.0.1:0\"\ndb_url = \"sqlite:///{db}\"\ncookie_secret_file = \"{secret}\"\nlogin_rate_limit = 0\n\n{table}",
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
    let (authenticator, typed): (Arc<dyn Authenticator>, _) = if class.starts_with("Local") {
        (
            local_cilogon_from_view(&view).map_err(|e| anyhow::anyhow!("{e}"))?,
            None,
        )
    } else {
        let typed = Arc::new(cilogon_from_view(&view).map_err(|e| anyhow::anyhow!("{e}"))?);
        (typed.clone(), Some(typed))
    };
    let crypt = match env.vars().get("JUPYTERHUB_CRYPT_KEY") {
        Some(keys) => hubauth_store::CryptKeeper::from_keys_str(keys)?,
        None => hubauth_store::CryptKeeper::empty(),
    };
    hubauth_server::startup::check(authenticator.as_ref(), &crypt)?;
    let store = hubauth_store::open(&hub_config.db_url).await?;
    let secret = CookieSecret::load(None, &hub_config.cookie_secret_file)?;
    let hub = Hub::start(HubParts {
        config: hub_config,
        authenticator,
        hook: None,
        store,
        crypt,
        secret,
        clock,
    })
    .await?;
    Ok((hub, typed))
}

/// The standard mock (HTTPS, the users of [`users`], client [`CLIENT_ID`] for `origin`)
/// with changes made by `adjust`.
pub(super) async fn start_mock(
    origin: &str,
    adjust: impl FnOnce(CilogonMock) -> CilogonMock,
) -> MockHandle {
    let mut builder = CilogonMock::builder()
        .idp(MockIdp::new(UNI, "Example University"))
        .idp(MockIdp::new(PARTNER, "Partner Lab"))
        .client(CLIENT_ID, SECRET, &format!("{origin}/hub/oauth_callback"))
        .tls(mock_tls());
    for user in users() {
        builder = builder.user(user);
    }
    adjust(builder).start().await.unwrap()
}

/// A mock and a hub configured by `setup`, in whose keys `@HOST@` stands for the mock's
/// host; the hub reaches the mock through `cilogon_host` over verified HTTPS.
pub(super) async fn try_pair_with(
    setup: Setup<'_>,
    adjust: impl FnOnce(CilogonMock) -> CilogonMock,
) -> anyhow::Result<Pair> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let origin = format!("http://{}", listener.local_addr()?);
    let mock = start_mock(&origin, adjust).await;
    let key = hubauth_store::CryptKeeper::generate_key();
    let keys = format!(
        "client_id = \"{CLIENT_ID}\"\nclient_secret = \"{SECRET}\"\ncilogon_host = \"{host}\"\nhttp_request_kwargs = {{ ca_certs = \"{ca}\" }}\nenable_auth_state = true\n{keys}",
        host = mock.host(),
        ca = tls_identity().2.display(),
        keys = setup.keys.replace("@HOST@", &mock.host()),
    );
    let table = class_table(setup.class, &keys, setup.idps);
    let dir = TempDir::new()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let clock = Arc::new(ManualClock::at(now));
    let mut env: Vec<(&str, &str)> = vec![("JUPYTERHUB_CRYPT_KEY", key.as_str())];
    env.extend_from_slice(setup.env);
    let (hub, authenticator) = build_hub(setup.class, &table, &env, &dir, clock.clone()).await?;
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
        authenticator,
        _dir: dir,
        _stop: tx,
    })
}

/// [`try_pair_with`] with the standard mock.
pub(super) async fn try_pair(setup: Setup<'_>) -> anyhow::Result<Pair> {
    try_pair_with(setup, |mock| mock).await
}

/// A hub of `CILogonOAuthenticator` with `keys` and `idps`.
pub(super) async fn pair(keys: &str, idps: &[(&str, &str)]) -> Pair {
    try_pair(Setup::new(keys, idps)).await.unwrap()
}

/// The university IdP: usernames from eppn without "@uni.edu".
pub(super) const UNI_STRIP: &str = "username_derivation = { username_claim = \"eppn\", action = \"strip_idp_domain\", domain = \"uni.edu\" }";

/// A browser: keeps cookies, follows no redirects, trusts the mock's certificate.
pub(super) fn client() -> reqwest::Client {
    let trusted = reqwest::Certificate::from_pem(tls_identity().0.as_bytes()).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(trusted)
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

pub(super) fn query(url: &url::Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// Logs the mock user `key` in; returns the browser, the hub's status for the callback
/// and its body.
pub(super) async fn login_as(p: &Pair, key: &str) -> (reqwest::Client, u16, String) {
    p.mock.set_auto_approve(Some(key));
    let c = client();
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

/// The status of the hub's home page for a browser (200 with a session, 302 without).
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

/// Moves both clocks (the hub's and the mock's) forward.
pub(super) fn advance(p: &Pair, seconds: i64) {
    p.clock.advance(seconds);
    p.mock.advance_clock(seconds);
}
