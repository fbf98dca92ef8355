//! A real hub in-process on loopback in front of a provider's mock.

use std::fmt::Display;
use std::sync::{Arc, Mutex};

use hubauth_config::{ClassDef, ClassView, Config, MapEnv, Registry};
use hubauth_core::Authenticator;
use hubauth_server::{CookieSecret, Hub, HubConfig, HubParts, ManualClock};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// What the harness needs of a provider's mock; a provider's tests implement it for
/// their mock's handle.
pub trait IdpMock {
    /// Makes the mock approve the next authorization as `user` (its own notion of a user
    /// key: a login, an email, an `username@idp`...), as a browser that signs in and
    /// consents would.
    fn approve_as(&self, user: &str);

    /// The PEM certificate the browser must trust to reach the mock over HTTPS, if it
    /// serves HTTPS.
    fn ca_pem(&self) -> Option<String> {
        None
    }
}

/// Now, in Unix seconds, for the clocks of a test (read once at the start; the tests
/// move the clocks from there).
#[allow(clippy::disallowed_methods)]
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The registry a test hub of these provider classes parses its configuration with: the
/// hub's, the common authenticator options, the local and OAuth base classes, and the
/// provider's `classes`.
pub fn registry(classes: impl IntoIterator<Item = &'static ClassDef>) -> Registry {
    let mut defs: Vec<&'static ClassDef> = vec![&hubauth_server::HUB];
    defs.extend(hubauth_core::options::classes());
    defs.extend(hubauth_local::classes());
    defs.extend(hubauth_oauth::classes());
    defs.extend(classes);
    Registry::new(defs).unwrap()
}

/// An authenticator as the CLI builds it and the configuration's warnings, or the
/// start-up error.
pub type Built = anyhow::Result<(Arc<dyn Authenticator>, Vec<String>)>;

/// A provider under test: the registry of its classes and how its authenticator is built
/// from a class's view (a provider's tests make one, with [`local_or`] when the provider
/// has a Local variant).
#[derive(Debug)]
pub struct Provider<B> {
    registry: Registry,
    build: B,
}

impl<B, E> Provider<B>
where
    B: Fn(&str, &ClassView<'_>) -> Result<Arc<dyn Authenticator>, E>,
    E: Display,
{
    /// The provider of these `classes` (see [`registry`]), built by `build`.
    pub fn new(classes: impl IntoIterator<Item = &'static ClassDef>, build: B) -> Self {
        Provider {
            registry: registry(classes),
            build,
        }
    }

    /// The registry the tests parse configurations with.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// [`from_config`] with this provider's registry and constructor.
    pub fn authenticator(
        &self,
        class: &str,
        text: &str,
        env: &[(&str, &str)],
    ) -> Result<(Arc<dyn Authenticator>, Vec<String>), String> {
        from_config(&self.registry, class, text, env, &self.build)
    }

    /// [`Provider::authenticator`] of a `[class]` table of the lines `table`, its error an
    /// [`anyhow::Error`] with the error's text.
    pub fn class_authenticator(&self, class: &str, table: &str, env: &[(&str, &str)]) -> Built {
        self.authenticator(class, &format!("[{class}]\n{table}"), env)
            .map_err(anyhow::Error::msg)
    }

    /// [`Loopback::serve`] of a hub of `class` configured by `tables` (headers included),
    /// with no more `[Hub]` lines and no environment.
    pub async fn serve<M>(
        &self,
        site: Loopback,
        mock: M,
        class: &str,
        tables: &str,
    ) -> anyhow::Result<Pair<M>> {
        self.serve_with(site, mock, class, tables, "", &[]).await
    }

    /// [`Loopback::serve`] of a hub of `class` configured by `tables`, with `hub_extra`
    /// lines in its `[Hub]` table and environment `env`.
    pub async fn serve_with<M>(
        &self,
        site: Loopback,
        mock: M,
        class: &str,
        tables: &str,
        hub_extra: &str,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Pair<M>> {
        let spec = HubSpec {
            registry: &self.registry,
            class,
            tables,
            hub_extra,
            env,
        };
        site.serve(mock, spec, &self.build).await
    }
}

/// A provider's authenticator constructor as the harness takes it: the class name (to
/// tell a `Local...` variant) and the class's view.
pub trait Build<E>: Fn(&str, &ClassView<'_>) -> Result<Arc<dyn Authenticator>, E> {}

impl<F, E> Build<E> for F where F: Fn(&str, &ClassView<'_>) -> Result<Arc<dyn Authenticator>, E> {}

/// The constructor of a provider with a Local variant: `local` builds a class whose name
/// starts with `Local`, `plain` the others.
pub fn local_or<E, L, P>(local: L, plain: P) -> impl Build<E>
where
    L: Fn(&ClassView<'_>) -> Result<Arc<dyn Authenticator>, E>,
    P: Fn(&ClassView<'_>) -> Result<Arc<dyn Authenticator>, E>,
{
    move |class: &str, view: &ClassView<'_>| {
        if class.starts_with("Local") {
            local(view)
        } else {
            plain(view)
        }
    }
}

/// A constructor of one authenticator type as one of `Arc<dyn Authenticator>`.
pub fn arc<T, E>(
    build: fn(&ClassView<'_>) -> Result<T, E>,
) -> impl Fn(&ClassView<'_>) -> Result<Arc<dyn Authenticator>, E>
where
    T: Authenticator + 'static,
{
    move |view: &ClassView<'_>| -> Result<Arc<dyn Authenticator>, E> { Ok(Arc::new(build(view)?)) }
}

/// Implements [`IdpMock`] for a mock's handle whose `set_auto_approve(Some(user))` makes
/// it approve the next authorization as `user`; `ca_pem = |mock| ...` gives the PEM the
/// browser must trust when the mock serves HTTPS.
#[macro_export]
macro_rules! idp_mock {
    ($handle:ty) => {
        impl $crate::IdpMock for $handle {
            fn approve_as(&self, user: &str) {
                self.set_auto_approve(Some(user));
            }
        }
    };
    ($handle:ty, ca_pem = $ca:expr) => {
        impl $crate::IdpMock for $handle {
            fn approve_as(&self, user: &str) {
                self.set_auto_approve(Some(user));
            }

            fn ca_pem(&self) -> Option<String> {
                let ca: fn(&$handle) -> Option<String> = $ca;
                ca(self)
            }
        }
    };
}

/// What `build` makes of `class` in config `text` with environment `env`, as the CLI
/// builds it, and the configuration's warnings; `Err` is the configuration or start-up
/// error's text.
pub fn from_config<T, E: Display>(
    registry: &Registry,
    class: &str,
    text: &str,
    env: &[(&str, &str)],
    build: impl FnOnce(&str, &ClassView<'_>) -> Result<T, E>,
) -> Result<(T, Vec<String>), String> {
    let config = Config::parse(text, "test.toml", registry).map_err(|e| e.to_string())?;
    let env = MapEnv::from_iter(env.iter().map(|(k, v)| (*k, *v)));
    let view = config.view(registry, class, &env);
    let built = build(class, &view).map_err(|e| e.to_string())?;
    Ok((built, config.warnings().to_vec()))
}

/// A demo mock's configuration `text` (its `[class]` table first, as a provider's
/// `start_demo_mock` gives it) with auth_state on, as `hubauth demo` runs it.
pub fn demo_tables(class: &str, text: &str) -> String {
    assert!(
        text.starts_with(&format!("[{class}]\n")),
        "the table starts with its header"
    );
    format!("{text}enable_auth_state = true\n")
}

/// Where a test hub will run, prepared before anything starts: a loopback listener bound
/// first (a mock must be told the hub's callback URL before the hub exists), the hub's
/// data directory (a test may write files the configuration names into it) and the hub's
/// clock (a mock may share it).
#[derive(Debug)]
pub struct Loopback {
    listener: tokio::net::TcpListener,
    origin: String,
    dir: TempDir,
    clock: Arc<ManualClock>,
}

impl Loopback {
    /// Binds `127.0.0.1:0` and makes the directory and a clock at [`now`].
    pub async fn bind() -> anyhow::Result<Loopback> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let origin = format!("http://{}", listener.local_addr()?);
        Ok(Loopback {
            listener,
            origin,
            dir: TempDir::new()?,
            clock: Arc::new(ManualClock::at(now())),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The hub's OAuth callback URL, to register at the mock.
    pub fn callback_url(&self) -> String {
        format!("{}/hub/oauth_callback", self.origin)
    }

    /// The hub's data directory.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The hub's clock.
    pub fn clock(&self) -> &Arc<ManualClock> {
        &self.clock
    }

    /// Builds the hub of `spec` as the CLI does (its `[Hub]` table pointing into the data
    /// directory, the authenticator from `build` given the class and its view, the
    /// start-up checks, the store, the cookie secret) and serves it on the listener until
    /// the [`Pair`] is dropped or stopped. A `JUPYTERHUB_CRYPT_KEY` is made when `spec.env`
    /// has none. `Err` is the start-up error (its text as the provider's error says it).
    pub async fn serve<M, E: Display>(
        self,
        mock: M,
        spec: HubSpec<'_>,
        build: impl FnOnce(&str, &ClassView<'_>) -> Result<Arc<dyn Authenticator>, E>,
    ) -> anyhow::Result<Pair<M>> {
        let Loopback {
            listener,
            origin,
            dir,
            clock,
        } = self;
        let text = format!(
            "[Hub]\nbind_url = \"http://127.0.0.1:0\"\ndb_url = \"sqlite:///{db}\"\ncookie_secret_file = \"{secret}\"\nlogin_rate_limit = 0\n{hub_extra}\n\n{tables}",
            db = dir.path().join("hub.sqlite").display(),
            secret = dir.path().join("cookie_secret").display(),
            hub_extra = spec.hub_extra,
            tables = spec.tables,
        );
        let config =
            Config::parse(&text, "test.toml", spec.registry).map_err(|e| anyhow::anyhow!("{e}"))?;
        let generated;
        let mut env: Vec<(&str, &str)> = spec.env.to_vec();
        if !env.iter().any(|(k, _)| *k == "JUPYTERHUB_CRYPT_KEY") {
            generated = hubauth_store::CryptKeeper::generate_key();
            env.push(("JUPYTERHUB_CRYPT_KEY", generated.as_str()));
        }
        let env = MapEnv::from_iter(env);
        let hub_config = HubConfig::from_view(&config.view(spec.registry, "Hub", &env))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let view = config.view(spec.registry, spec.class, &env);
        let authenticator = build(spec.class, &view).map_err(|e| anyhow::anyhow!("{e}"))?;
        let keys = env
            .vars()
            .get("JUPYTERHUB_CRYPT_KEY")
            .map(String::as_str)
            .unwrap_or_default();
        let crypt = hubauth_store::CryptKeeper::from_keys_str(keys)?;
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
            clock: clock.clone(),
        })
        .await?;
        let hub_url = format!("{origin}{}hub/", hub.state().config.base_url);
        let running = serve_on(&hub, listener);
        Ok(Pair {
            mock,
            hub,
            hub_url,
            origin,
            clock,
            dir,
            running: Mutex::new(Some(running)),
        })
    }
}

/// Serves `hub` on `listener` in a task until the sender is used or dropped; the task
/// ends when the hub has stopped.
pub fn serve_on(
    hub: &Hub,
    listener: tokio::net::TcpListener,
) -> (oneshot::Sender<()>, JoinHandle<()>) {
    let (tx, rx) = oneshot::channel::<()>();
    let serving = hub.clone();
    let task = tokio::spawn(async move {
        let _ = serving
            .serve(listener, async {
                let _ = rx.await;
            })
            .await;
    });
    (tx, task)
}

/// The hub a test starts: its configuration besides the `[Hub]` lines the harness writes.
#[derive(Debug, Clone, Copy)]
pub struct HubSpec<'a> {
    /// The registry to parse with ([`registry`] of the provider's classes).
    pub registry: &'a Registry,
    /// The authenticator class the hub runs.
    pub class: &'a str,
    /// The other tables, headers included (`[Class]` and its sub-tables).
    pub tables: &'a str,
    /// More lines for the `[Hub]` table.
    pub hub_extra: &'a str,
    /// Environment variables the configuration sees.
    pub env: &'a [(&'a str, &'a str)],
}

impl<'a> HubSpec<'a> {
    /// A hub of `class` configured by `tables`, with no more `[Hub]` lines and no
    /// environment.
    pub fn new(registry: &'a Registry, class: &'a str, tables: &'a str) -> Self {
        HubSpec {
            registry,
            class,
            tables,
            hub_extra: "",
            env: &[],
        }
    }
}

/// A provider's mock and a hub serving in front of it.
#[derive(Debug)]
pub struct Pair<M> {
    /// The provider's mock.
    pub mock: M,
    /// The running hub's state.
    pub hub: Hub,
    /// `{origin}{base_url}hub/`.
    pub hub_url: String,
    /// `http://127.0.0.1:PORT`.
    pub origin: String,
    /// The hub's clock.
    pub clock: Arc<ManualClock>,
    /// The hub's data directory (database, cookie secret, files the test wrote).
    pub dir: TempDir,
    running: Mutex<Option<(oneshot::Sender<()>, JoinHandle<()>)>>,
}

impl<M> Pair<M> {
    /// Stops serving and waits until the hub has stopped (the mock keeps running).
    pub async fn stop(&self) {
        let running = self.running.lock().unwrap().take();
        if let Some((tx, task)) = running {
            let _ = tx.send(());
            let _ = task.await;
        }
    }
}
