//! The `hubauth` command line: loading configuration, building a hub from it, and the
//! subcommands (`serve`, `demo`, `generate-config`, `check-config`, `import-config`,
//! `crypt-key`).
#![forbid(unsafe_code)]

pub mod catalog;
pub mod demo;
pub mod demo_app;
pub mod import;
mod logins;
#[cfg(test)]
mod properties;
pub mod rotate;

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use hubauth_config::{Config, Env, Registry};
use hubauth_core::{Authenticator, PostAuthHook};
use hubauth_server::{CookieSecret, Hub, HubConfig, HubParts, SystemClock};
use hubauth_store::CryptKeeper;

/// The registry of every configurable class in this build.
pub fn registry() -> Result<Registry> {
    Registry::new(catalog::class_defs()).map_err(|err| anyhow!("internal: {err}"))
}

/// Everything built from a configuration, before touching the database.
pub struct Built {
    /// The `[Hub]` settings.
    pub hub: HubConfig,
    /// The authenticator.
    pub authenticator: Arc<dyn Authenticator>,
    /// The post-auth hook, compiled.
    pub hook: Option<Arc<dyn PostAuthHook>>,
    /// auth_state keys from `JUPYTERHUB_CRYPT_KEY`.
    pub crypt: CryptKeeper,
    /// Warnings from loading (deprecated names).
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for Built {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Built")
            .field("hub", &self.hub)
            .field("authenticator", &self.authenticator.class_name())
            .field("hook", &self.hook.is_some())
            .field("warnings", &self.warnings)
            .finish_non_exhaustive()
    }
}

/// Reads a config file (or none) with the given environment.
pub fn load_config(path: Option<&Path>, registry: &Registry) -> Result<Config> {
    match path {
        Some(path) => Config::load(path, registry).map_err(|err| anyhow!("{err}")),
        None => Ok(Config::empty()),
    }
}

/// Validates a configuration completely and builds the hub's parts, without the database.
pub fn build(config: &Config, registry: &Registry, env: &dyn Env) -> Result<Built> {
    // A hub embedded as a library gets the same JOSE crypto as the binary's.
    hubauth_oauth::jose::install();
    let hub_view = config.view(registry, "Hub", env);
    let hub = HubConfig::from_view(&hub_view).map_err(|err| anyhow!("{err}"))?;
    // What the hub checks at start across options (public_url for the provider's
    // issuer without a request), so that check-config reports it too.
    hubauth_server::backchannel::check_config(&hub)
        .and_then(|()| hubauth_server::identity_assertion::check_config(&hub))
        .map_err(|message| anyhow!("{}: [Hub] {message}", config.source()))?;
    let crypt = match env.var("JUPYTERHUB_CRYPT_KEY") {
        Some(keys) if !keys.trim().is_empty() => CryptKeeper::from_keys_str(&keys)
            .map_err(|err| anyhow!("JUPYTERHUB_CRYPT_KEY: {err}"))?,
        _ => CryptKeeper::empty(),
    };
    let mut method_warnings = Vec::new();
    let (authenticator, class) = match logins::build(
        config,
        registry,
        env,
        &crypt,
        &mut method_warnings,
    )? {
        Some(hub_wide) => (hub_wide, "Authenticator"),
        None => {
            let entry = catalog::lookup(&hub.authenticator_class).map_err(|message| {
                anyhow!("{}: [Hub] authenticator_class: {message}", config.source())
            })?;
            let view = config.view(registry, entry.class, env);
            let built = (entry.build)(&view).map_err(|err| anyhow!("{err}"))?;
            if !built.rules().config().username_prefix.is_empty() {
                return Err(anyhow!(
                    "{}: username_prefix is for the methods of [[Hub.logins]]; with one login method, a prefix would also be put before the names the REST API and the admin page are given",
                    config.source()
                ));
            }
            (built, entry.class)
        }
    };
    let source = &authenticator.rules().config().post_auth_hook;
    let hook: Option<Arc<dyn PostAuthHook>> = if source.trim().is_empty() {
        None
    } else {
        let compiled = hubauth_script::ScriptHook::compile(source)
            .map_err(|err| anyhow!("{}: [{}] post_auth_hook: {err}", config.source(), class))?;
        Some(Arc::new(compiled))
    };
    hubauth_server::startup::check(authenticator.as_ref(), &crypt)
        .map_err(|err| anyhow!("{}: {err}", config.source()))?;
    let warnings = config
        .warnings()
        .iter()
        .chain(&hub.warnings)
        .chain(&method_warnings)
        .cloned()
        .collect();
    Ok(Built {
        hub,
        authenticator,
        hook,
        crypt,
        warnings,
    })
}

/// Opens the database, loads the cookie secret and starts the hub (reconciliation included).
pub async fn start(built: Built, env: &dyn Env) -> Result<Hub> {
    start_with_clock(built, env, Arc::new(SystemClock)).await
}

/// [`start`] with a given clock (tests move time forward).
pub async fn start_with_clock(
    built: Built,
    env: &dyn Env,
    clock: Arc<dyn hubauth_server::Clock>,
) -> Result<Hub> {
    for warning in &built.warnings {
        tracing::warn!("{warning}");
    }
    let store = hubauth_store::open(&built.hub.db_url)
        .await
        .with_context(|| {
            format!(
                "opening the database ([Hub] db_url = {:?})",
                redact_url(&built.hub.db_url)
            )
        })?;
    let secret = CookieSecret::load(
        env.var("JPY_COOKIE_SECRET").as_deref(),
        &built.hub.cookie_secret_file,
    )?;
    let hub = Hub::start(HubParts {
        config: built.hub,
        authenticator: built.authenticator,
        hook: built.hook,
        store,
        crypt: built.crypt,
        secret,
        clock,
    })
    .await?;
    Ok(hub)
}

/// Serves a started hub on its bind address until SIGTERM or Ctrl-C.
pub async fn serve(hub: Hub, announce: impl FnOnce(&str)) -> Result<()> {
    let config = hub.state().config.clone();
    let listener = tokio::net::TcpListener::bind(config.bind_addr)
        .await
        .map_err(|err| bind_error(config.bind_addr, &err))?;
    let local = listener.local_addr()?;
    let shown_host = if local.ip().is_unspecified() {
        "127.0.0.1".to_owned()
    } else if local.is_ipv6() {
        format!("[{}]", local.ip())
    } else {
        local.ip().to_string()
    };
    // With ssl_cert the hub itself speaks TLS on this port.
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let url = format!(
        "{scheme}://{shown_host}:{}{}hub/login",
        local.port(),
        config.base_url
    );
    let shutdown = shutdown_signal();
    tracing::info!(url = %url, "hub is serving");
    announce(&url);
    hub.serve(listener, shutdown).await?;
    tracing::info!("hub stopped");
    Ok(())
}

/// Listens for SIGTERM and Ctrl-C (SIGINT) from the moment it is called, so that a
/// signal sent right after the hub announces itself is not missed (handlers installed
/// only when the future is first polled would leave a window where the default action
/// kills the process); the future completes on the first of them.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).ok();
        let mut interrupt = signal(SignalKind::interrupt()).ok();
        async move {
            let term = async {
                match term.as_mut() {
                    Some(signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let interrupt = async {
                match interrupt.as_mut() {
                    Some(signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = term => {},
                () = interrupt => {},
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A database URL with any password removed, for messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("[redacted]"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// The start-up error for a listening address that cannot be bound, naming the setting
/// and what usually fixes it.
fn bind_error(addr: std::net::SocketAddr, err: &std::io::Error) -> anyhow::Error {
    use std::io::ErrorKind;
    let fix = match err.kind() {
        ErrorKind::AddrInUse => format!(
            "another process already listens on port {} (another hubauth?); stop it, or choose another port in [Hub] bind_url",
            addr.port()
        ),
        ErrorKind::PermissionDenied if addr.port() < 1024 => "ports below 1024 need root or the CAP_NET_BIND_SERVICE capability; use a port above 1023 in [Hub] bind_url (e.g. 8000) behind a proxy, or grant the capability".to_owned(),
        ErrorKind::AddrNotAvailable => format!(
            "{} is not an address of this machine; use one of its addresses, or an empty host for all of them, in [Hub] bind_url",
            addr.ip()
        ),
        _ => "check [Hub] bind_url".to_owned(),
    };
    anyhow::anyhow!("cannot listen on {addr} ([Hub] bind_url): {err}; {fix}")
}
