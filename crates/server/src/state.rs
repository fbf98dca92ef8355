//! The hub's shared state, passed explicitly to every handler.

use std::sync::Arc;

use axum::http::HeaderMap;
use hubauth_core::{Authenticator, PostAuthHook};
use hubauth_store::{CryptKeeper, Store};

use crate::clock::Clock;
use crate::cookies::CookieAttrs;
use crate::limiter::LoginLimiter;
use crate::options::HubConfig;
use crate::pages::Pages;
use crate::secrets::CookieSecret;

/// Everything a handler may need.
pub struct HubState {
    /// The `[Hub]` settings.
    pub config: HubConfig,
    /// The login method.
    pub authenticator: Arc<dyn Authenticator>,
    /// The `post_auth_hook`, if any.
    pub hook: Option<Arc<dyn PostAuthHook>>,
    /// The database.
    pub store: Arc<dyn Store>,
    /// auth_state encryption.
    pub crypt: CryptKeeper,
    /// The cookie secret.
    pub secret: CookieSecret,
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// The page renderer.
    pub pages: Pages,
    /// Failed-login counter per client address.
    pub limiter: LoginLimiter,
}

impl std::fmt::Debug for HubState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubState")
            .field("config", &self.config)
            .field("authenticator", &self.authenticator.class_name())
            .finish_non_exhaustive()
    }
}

/// The state as handlers receive it.
pub type AppState = Arc<HubState>;

impl HubState {
    /// `{base_url}hub/`.
    pub fn hub_prefix(&self) -> String {
        self.config.hub_prefix()
    }

    /// Whether this request reached the hub over https (for the Secure cookie flag).
    pub fn is_https(&self, headers: &HeaderMap) -> bool {
        if self.config.public_url.starts_with("https://") || self.config.bind_https {
            return true;
        }
        self.config.trust_forwarded_headers
            && headers
                .get("x-forwarded-proto")
                .and_then(|value| value.to_str().ok())
                .and_then(|proto| proto.split(',').next())
                .is_some_and(|first| first.trim().eq_ignore_ascii_case("https"))
    }

    /// Cookie attributes for this request.
    pub fn cookie_attrs(&self, headers: &HeaderMap) -> CookieAttrs<'_> {
        CookieAttrs {
            path: &self.config.base_url,
            secure: self.is_https(headers),
        }
    }

    /// Where to go after login when there is no valid `next`.
    pub fn default_next(&self) -> String {
        if self.config.default_url.is_empty() {
            format!("{}home", self.hub_prefix())
        } else {
            self.config.default_url.clone()
        }
    }
}
