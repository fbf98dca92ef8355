//! The hub's shared state, passed explicitly to every handler.

use std::sync::Arc;

use axum::http::HeaderMap;

use crate::cookies::CookieAttrs;
use crate::headers::first_header_value;
use crate::pages::Pages;
use crate::secrets::CookieSecret;
use crate::services::Services;

/// Everything a handler may need: the services ([`Services`], which it derefs to) and
/// what only the web layer uses.
pub struct HubState {
    /// The hub's services.
    pub services: Arc<Services>,
    /// The cookie secret.
    pub secret: CookieSecret,
    /// The page renderer.
    pub pages: Pages,
    /// The HTTP client of the built-in reverse proxy.
    pub upstream: crate::proxy::UpstreamClient,
}

impl std::ops::Deref for HubState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.services
    }
}

impl std::fmt::Debug for HubState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubState")
            .field("services", &self.services)
            .finish_non_exhaustive()
    }
}

/// The state as handlers receive it.
pub type AppState = Arc<HubState>;

impl HubState {
    /// Every header name that carries identity or tokens to apps (configured identity
    /// headers and `auth_state_headers`): a client's own copies are removed before the
    /// proxy adds the real ones.
    pub fn identity_header_names(&self) -> Vec<axum::http::HeaderName> {
        let config = &self.config.forward_auth;
        let mut names = vec![config.user_header.clone()];
        names.extend(config.groups_header.iter().cloned());
        names.extend(config.admin_header.iter().cloned());
        names.extend(
            config
                .auth_state_headers
                .iter()
                .map(|(name, _)| name.clone()),
        );
        names.push(self.config.identity_assertions.header.clone());
        names
    }

    /// `{base_url}hub/`.
    pub fn hub_prefix(&self) -> String {
        self.config.hub_prefix()
    }

    /// Whether this request reached the hub over https (for the Secure cookie flag).
    pub fn is_https(&self, headers: &HeaderMap) -> bool {
        if self.config.public_url.starts_with("https://") || self.config.bind_https {
            return true;
        }
        // Only a trusted proxy's X-Forwarded-Proto is still here (see crate::forwarded).
        first_header_value(headers, "x-forwarded-proto")
            .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
    }

    /// Cookie attributes for this request.
    pub fn cookie_attrs(&self, headers: &HeaderMap) -> CookieAttrs<'_> {
        CookieAttrs {
            path: &self.config.base_url,
            secure: self.is_https(headers),
        }
    }

    /// The `next` target to honour after login, or `None` (see
    /// [`crate::next_url::validate_next_with_hosts`]).
    pub fn validate_next(&self, next: &str) -> Option<String> {
        crate::next_url::validate_next_with_hosts(
            next,
            &self.config.base_url,
            &self.config.forward_auth.allowed_hosts,
        )
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

impl HubState {
    /// The scheme and host users reach the hub at: `public_url` when set, else the
    /// request's Host (and X-Forwarded-Host/Proto when trusted).
    pub fn public_origin(&self, headers: &HeaderMap) -> String {
        if !self.config.public_url.is_empty()
            && let Ok(url) = url::Url::parse(&self.config.public_url)
        {
            let origin = url.origin().ascii_serialization();
            if origin != "null" {
                return origin;
            }
        }
        let header = |name: &str| first_header_value(headers, name);
        // Only a trusted proxy's X-Forwarded-Host is still here (see crate::forwarded).
        let forwarded_host = header("x-forwarded-host");
        let host = forwarded_host
            .or_else(|| header("host"))
            .filter(|host| crate::forward_auth::is_plausible_host(host))
            .unwrap_or_else(|| self.config.bind_addr.to_string());
        let scheme = if self.is_https(headers) {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{host}")
    }
}
