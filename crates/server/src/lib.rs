//! The hub server: login, logout and home pages, sessions, and start-up reconciliation,
//! served with axum under a configurable base URL.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod api;
pub mod app_tokens;
pub mod auth_state;
pub mod backchannel;
pub mod clock;
pub mod cookies;
pub mod csrf;
pub mod error;
pub mod forward_auth;
pub mod forwarded;
pub mod handlers;
pub mod headers;
pub mod identity_assertion;
pub mod invalidation;
pub mod limiter;
mod listener;
pub mod maintenance;
pub mod managed_roles;
pub mod metrics;
pub mod next_url;
pub mod options;
pub mod pages;
pub mod provider;
pub mod proxy;
pub mod request_target;
pub mod secrets;
pub mod services;
pub mod session_cache;
pub mod startup;
pub mod state;
pub mod tls;
mod web;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use hubauth_core::{Authenticator, PostAuthHook};
use hubauth_store::{CryptKeeper, Store};

pub use clock::{Clock, ManualClock, SystemClock};
pub use options::{HUB, HubConfig};
pub use secrets::CookieSecret;
pub use startup::{Reconciled, StartError};
pub use state::{AppState, HubState};
pub use web::error::escape_html;
pub use web::{LoginAttempt, WebError};

/// Largest request body the hub reads (login forms are tiny).
const BODY_LIMIT: usize = 64 * 1024;

/// The parts a hub is made of.
pub struct HubParts {
    /// The `[Hub]` settings.
    pub config: HubConfig,
    /// The login method.
    pub authenticator: Arc<dyn Authenticator>,
    /// The `post_auth_hook`, if any.
    pub hook: Option<Arc<dyn PostAuthHook>>,
    /// The database.
    pub store: Arc<dyn Store>,
    /// auth_state encryption keys.
    pub crypt: CryptKeeper,
    /// The cookie secret.
    pub secret: CookieSecret,
    /// The time source.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for HubParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubParts")
            .field("config", &self.config)
            .field("authenticator", &self.authenticator.class_name())
            .field("hook", &self.hook.is_some())
            .finish_non_exhaustive()
    }
}

/// A hub that passed its start-up checks and reconciliation, ready to serve.
#[derive(Debug, Clone)]
pub struct Hub {
    state: AppState,
    reconciled: Reconciled,
    /// The certificate when the hub serves TLS itself.
    tls: Option<Arc<tls::ReloadingCert>>,
}

impl Hub {
    /// Checks the configuration, reconciles the database and logs start-up warnings.
    pub async fn start(parts: HubParts) -> Result<Hub, StartError> {
        startup::check(parts.authenticator.as_ref(), &parts.crypt)?;
        let tls = match &parts.config.tls {
            Some(files) => Some(Arc::new(
                tls::ReloadingCert::load(files.clone())
                    .map_err(|err| StartError::Other(err.to_string()))?,
            )),
            None => None,
        };
        for warning in parts.authenticator.startup_warnings() {
            tracing::warn!("{warning}");
        }
        let now = parts.clock.now();
        let reconciled =
            startup::reconcile(parts.authenticator.as_ref(), parts.store.as_ref(), now).await?;
        let pages = pages::Pages::from_config(&parts.config)
            .map_err(|err| StartError::Other(err.to_string()))?;
        let metrics = metrics::Metrics::new().map_err(StartError::Other)?;
        backchannel::check_config(&parts.config).map_err(StartError::Other)?;
        identity_assertion::check_config(&parts.config).map_err(StartError::Other)?;
        let provider = provider::start(
            &parts.config.services,
            &parts.config.oidc_signing_key_file,
            &parts.config.oidc_rsa_signing_key_file,
            &parts.config.public_url,
            parts.config.oauth_token_expires_in,
            parts.config.identity_assertions.enabled(),
        )
        .map_err(|err| StartError::Other(err.to_string()))?;
        let services = Arc::new(services::Services::new(services::ServiceParts {
            config: parts.config,
            authenticator: parts.authenticator,
            hook: parts.hook,
            store: parts.store,
            crypt: parts.crypt,
            clock: parts.clock,
            metrics,
            provider,
        }));
        // Reconciliation may have changed admin flags, blocked users and role scopes that
        // running replicas have cached; which users it touched is not all recorded, and a
        // start is rare, so every replica forgets everything.
        services.everything_changed().await;
        backchannel::Notifier::start(&services);
        backchannel::blocked_at_start(&services, &reconciled.blocked)
            .await
            .map_err(|err| StartError::Other(err.to_string()))?;
        let state = Arc::new(HubState {
            services,
            secret: parts.secret,
            pages,
            upstream: proxy::UpstreamClient::new(),
        });
        Ok(Hub {
            state,
            reconciled,
            tls,
        })
    }

    /// What start-up reconciliation did.
    pub fn reconciled(&self) -> &Reconciled {
        &self.reconciled
    }

    /// The shared state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The hub's routes, under its base URL.
    pub fn router(&self) -> Router {
        app(self.state.clone())
    }

    /// Serves on a bound listener until `shutdown` completes, then finishes in-flight
    /// requests.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        // The listener sets the metrics recorder per connection, so the router it gets
        // goes without the per-request metrics layer.
        let router = routes(&self.state).with_state(self.state.clone());
        let interval = self.state.config.purge_expired_interval;
        let cleanup = (interval > 0).then(|| {
            tokio::spawn(maintenance::run(
                self.state.services.clone(),
                std::time::Duration::from_secs(interval),
            ))
        });
        let (acceptor, watcher) = match self.tls {
            Some(cert) => {
                let acceptor = tls::acceptor(cert.clone()).map_err(std::io::Error::other)?;
                (Some(acceptor), Some(tokio::spawn(cert.watch())))
            }
            None => (None, None),
        };
        let services = self.state.services.clone();
        // Changes other replicas announce (PostgreSQL); SQLite has none.
        let invalidations = self.state.store.cache_events().map(|events| {
            tokio::spawn(
                self.state
                    .metrics
                    .scope(invalidation::listen(self.state.services.clone(), events)),
            )
        });
        // The accept loop runs as a task of its own: awaited in place it would run on the
        // thread that called (`block_on`'s, outside the runtime's workers), and every
        // accepted connection would then be a wake-up of that thread and a hand-off of
        // the connection's task to a worker (BENCHMARKS.md, login CPU).
        // Dropping this future (a caller that stops serving without `shutdown`) stops the
        // task too, as it stopped the loop when it ran in place.
        let mut accepting = AbortOnDrop(tokio::spawn(listener::serve(
            self.state, router, listener, acceptor, shutdown,
        )));
        let served = match (&mut accepting.0).await {
            Ok(served) => served,
            Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
            Err(err) => Err(std::io::Error::other(format!(
                "the listener task ended: {err}"
            ))),
        };
        for task in [cleanup, watcher, invalidations].into_iter().flatten() {
            task.abort();
        }
        backchannel::Notifier::stop(&services).await;
        served
    }
}

/// A task that is aborted when its handle is dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Builds the router for a state (what [`Hub::router`] gives: every request runs with the
/// hub's metrics recorder).
pub fn app(state: AppState) -> Router {
    routes(&state)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            handlers::strip_untrusted_forwarding,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            web::request::metrics_scope,
        ))
        .with_state(state)
}

/// The hub's routes under its base URL.
fn routes(state: &AppState) -> Router<AppState> {
    use handlers::{admin, backchannel, forward_auth, home, login, logout, misc, oauth, oauth2};
    let base = state.config.base_url.clone();
    let hub = state.hub_prefix();
    let hub_routes = Router::new()
        .route("/", get(misc::to_home))
        .route("/login", get(login::get).post(login::post))
        .route("/logout", get(logout::get).post(logout::post))
        .route("/home", get(home::home))
        .route("/admin", get(admin::page))
        .route("/admin/users", post(admin::add))
        .route("/admin/users/{name}/admin", post(admin::set_admin))
        .route("/admin/users/{name}/delete", post(admin::delete))
        .route("/admin/groups", post(admin::add_group))
        .route("/admin/groups/{name}/delete", post(admin::delete_group))
        .route("/admin/groups/{name}/members", post(admin::add_member))
        .route(
            "/admin/groups/{name}/members/remove",
            post(admin::remove_member),
        )
        .route("/logo", get(misc::logo))
        .route("/oauth_login", get(oauth::login_start))
        .route("/oauth_callback", get(oauth::callback))
        .route(
            "/{method}/login",
            get(login::method_get).post(login::method_post),
        )
        .route("/{method}/oauth_login", get(oauth::method_login_start))
        .route("/{method}/oauth_callback", get(oauth::method_callback))
        .route("/backchannel_logout", post(backchannel::receive))
        .route("/forward-auth", get(forward_auth::check))
        .route("/health", get(misc::health))
        .route("/health/ready", get(misc::ready))
        .route("/metrics", get(misc::metrics))
        .route("/api", get(api::api_root))
        .route("/api/", get(api::api_root))
        .route(
            "/api/oauth2/authorize",
            get(oauth2::authorize).post(oauth2::authorize_post),
        )
        .route("/api/oauth2/token", post(oauth2::token))
        .route("/api/oauth2/revoke", post(oauth2::revoke))
        .route(
            "/api/oauth2/userinfo",
            get(oauth2::userinfo).post(oauth2::userinfo),
        )
        .route("/api/oauth2/jwks", get(oauth2::jwks))
        .route(
            "/api/oauth2/logout",
            get(oauth2::end_session).post(oauth2::end_session_post),
        )
        .merge(api::routes())
        .fallback(misc::not_found)
        .layer(axum::middleware::map_response(
            handlers::hub_response_headers,
        ));
    let hub_trimmed = hub.trim_end_matches('/').to_owned();
    let mut router = Router::new()
        .nest(&hub_trimmed, hub_routes)
        .route(&hub, get(misc::to_home))
        .route(
            &format!("{base}.well-known/openid-configuration"),
            get(oauth2::discovery),
        );
    if state.config.proxy.enabled() {
        // The built-in proxy: everything outside {base_url}hub/ belongs to the apps.
        router = router.fallback(handlers::proxy::proxy);
    } else if base == "/" {
        router = router.route("/", get(misc::to_home));
    } else {
        router = router
            .route(&base, get(misc::to_home))
            .route(base.trim_end_matches('/'), get(misc::to_home));
    }
    router
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            web::request::layer,
        ))
}

// The behaviour tests name the crate as its users do.
#[cfg(test)]
extern crate self as hubauth_server;

#[cfg(test)]
mod tests;
