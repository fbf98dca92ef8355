//! The hub's services: what a request, the periodic clean-up or start-up asks the hub to
//! decide or do, without HTTP. The web layer ([`crate::handlers`], [`crate::api`]) reads
//! requests, calls in here with the request's one reading of the clock (`now`), and turns
//! the answers into responses.
//!
//! [`Services`] holds what they share; each service is a view on it, named for what it
//! owns: [`Services::sessions`] (is a session valid, due for a refresh, ended; refresh;
//! start; end), [`Services::logins`] (completing a login, the pending OAuth logins) and
//! [`Services::accounts`] (users as logins and refreshes store them).

mod accounts;
mod logins;
mod sessions;
mod tokens;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use hubauth_core::{Authenticator, LoginKind, LoginMethod, PostAuthHook};
use hubauth_store::{CryptKeeper, Store};

pub use accounts::Accounts;
pub use logins::{
    BadState, CallbackRefusal, FormLogin, LoginOutcome, LoginRecord, Logins, PendingLogin,
    RedirectBegun, RedirectDone, STATE_TTL, StartedSession,
};
pub use sessions::{EndReason, LoggedOut, SessionCheck, SessionUser, Sessions, StoredSession};
pub use tokens::{GATEWAY_SCOPE, MAX_API_TOKEN_LEN, Tokens};

use crate::clock::Clock;
use crate::error::HubError;
use crate::limiter::LoginLimiter;
use crate::metrics::Metrics;
use crate::options::HubConfig;
use crate::provider::Provider;
use crate::session_cache::SessionCache;

/// What the hub's services share: the configuration, the login method, the database, the
/// keys and the in-memory state (session cache, refresh times, login limits).
pub struct Services {
    /// The `[Hub]` settings.
    pub config: HubConfig,
    /// The login method, or on a hub with several the hub-wide rules
    /// ([`hubauth_core::HubWide`]).
    pub authenticator: Arc<dyn Authenticator>,
    /// The login methods the login page shows: the one unnamed method of a hub with one
    /// authenticator, or the named `[[Hub.logins]]`.
    pub methods: Vec<LoginMethod>,
    /// The `post_auth_hook`, if any.
    pub hook: Option<Arc<dyn PostAuthHook>>,
    /// The database.
    pub store: Arc<dyn Store>,
    /// auth_state encryption.
    pub crypt: CryptKeeper,
    /// The time source: read once per request by the web layer, and by the clean-up.
    pub clock: Arc<dyn Clock>,
    /// Failed-login counter per client address and user name.
    pub limiter: LoginLimiter,
    /// This hub's metrics registry (`{base_url}hub/metrics`).
    pub metrics: Metrics,
    /// The OAuth 2.0 / OpenID Connect provider, when services are registered.
    pub provider: Option<Provider>,
    /// Validated sessions kept in memory for `session_cache_ttl` seconds.
    pub session_cache: SessionCache,
    /// Logout tokens on their way to services (back-channel logout).
    pub backchannel: crate::backchannel::Notifier,
    /// Signed identity assertions kept for reuse (`identity_assertions`).
    pub identity_assertions: crate::identity_assertion::AssertionCache,
    /// When each user's auth info was last refreshed (in memory, as upstream: after a
    /// restart the first request refreshes).
    refreshed: RefreshTimes,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("config", &self.config)
            .field("authenticator", &self.authenticator.class_name())
            .finish_non_exhaustive()
    }
}

/// The parts [`Services`] are made of.
pub(crate) struct ServiceParts {
    pub(crate) config: HubConfig,
    pub(crate) authenticator: Arc<dyn Authenticator>,
    pub(crate) hook: Option<Arc<dyn PostAuthHook>>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) crypt: CryptKeeper,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) metrics: Metrics,
    pub(crate) provider: Option<Provider>,
}

impl Services {
    /// The services over these parts, with empty in-memory state.
    pub(crate) fn new(parts: ServiceParts) -> Self {
        let limiter = LoginLimiter::new(
            parts.config.login_rate_limit,
            parts.config.login_rate_limit_per_username,
        );
        let session_cache = SessionCache::new(
            parts.config.session_cache_ttl,
            parts.config.session_cache_size,
        );
        let methods = match parts.authenticator.login_methods() {
            Some(methods) if !methods.is_empty() => methods.to_vec(),
            _ => vec![LoginMethod {
                name: String::new(),
                label: match parts.authenticator.kind() {
                    LoginKind::Redirect { login_service, .. } => login_service,
                    LoginKind::Form { .. } => String::new(),
                },
                default: true,
                username_prefix: String::new(),
                link_by: None,
                authenticator: parts.authenticator.clone(),
            }],
        };
        let backchannel =
            crate::backchannel::Notifier::new(crate::backchannel::issuer(&parts.config));
        Services {
            backchannel,
            identity_assertions: Default::default(),
            config: parts.config,
            methods,
            authenticator: parts.authenticator,
            hook: parts.hook,
            store: parts.store,
            crypt: parts.crypt,
            clock: parts.clock,
            limiter,
            metrics: parts.metrics,
            provider: parts.provider,
            session_cache,
            refreshed: RefreshTimes::default(),
        }
    }

    /// Sessions: the check, refresh, start and end.
    pub fn sessions(&self) -> Sessions<'_> {
        Sessions::new(self)
    }

    /// Logins: completing them, and the pending logins at an identity provider.
    pub fn logins(&self) -> Logins<'_> {
        Logins::new(self)
    }

    /// Users as logins and refreshes store them.
    pub fn accounts(&self) -> Accounts<'_> {
        Accounts::new(self)
    }

    /// API tokens at the gateway.
    pub fn tokens(&self) -> Tokens<'_> {
        Tokens::new(self)
    }

    /// Whether this hub has several (named) login methods.
    pub fn has_named_methods(&self) -> bool {
        self.methods.iter().any(|method| !method.name.is_empty())
    }

    /// The named login method `name`.
    pub fn method(&self, name: &str) -> Option<&LoginMethod> {
        self.methods
            .iter()
            .find(|method| !method.name.is_empty() && method.name == name)
    }

    /// The method unnamed paths (`{base_url}hub/oauth_login`, `auto_login`) use: the only
    /// one, or the one marked `default`.
    pub fn default_method(&self) -> Option<&LoginMethod> {
        if self.methods.len() == 1 {
            return self.methods.first();
        }
        self.methods.iter().find(|method| method.default)
    }

    /// The named login method that last logged `user` in (`None` on a hub with one
    /// method, or when no method has).
    pub async fn method_of(&self, user: &str) -> Result<Option<LoginMethod>, HubError> {
        if !self.has_named_methods() {
            return Ok(None);
        }
        let last = match self.store.login_method(user).await {
            Ok(last) => last,
            Err(hubauth_store::StoreError::NotFound { .. }) => None,
            Err(err) => return Err(err.into()),
        };
        Ok(last.and_then(|last| self.method(&last).cloned()))
    }

    /// The authenticator that handles an existing user: the method that owns the account
    /// on a hub with several, else the hub's authenticator.
    pub async fn authenticator_of(&self, user: &str) -> Result<Arc<dyn Authenticator>, HubError> {
        Ok(self
            .method_of(user)
            .await?
            .map(|method| method.authenticator)
            .unwrap_or_else(|| self.authenticator.clone()))
    }
}

/// When each user's auth info was last refreshed.
#[derive(Debug, Default)]
struct RefreshTimes(Mutex<HashMap<String, i64>>);

impl RefreshTimes {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, i64>> {
        match self.0.lock() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}
