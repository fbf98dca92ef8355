//! Logins that happen at another site (OAuth 2.0 / OpenID Connect): the two halves the
//! hub's `oauth_login` and `oauth_callback` handlers call.
//!
//! The hub owns everything about the browser: the state id, binding it to the browser,
//! single use and expiry, the `next` URL, the session. The authenticator owns the protocol:
//! what goes into the authorize URL and what the callback's parameters mean.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::Value;

use crate::authenticator::RequestContext;
use crate::error::AuthError;
use crate::model::AuthModel;

/// What the authenticator needs to send the browser to the provider.
#[derive(Debug, Clone, PartialEq)]
pub struct RedirectStart {
    /// The full authorization URL, including the state parameter.
    pub authorize_url: String,
    /// Data to keep until the callback (PKCE verifier, nonce...), handed back unchanged.
    /// It never leaves the hub.
    pub pending: Value,
}

/// A login method whose users log in at another site and come back with a callback.
#[async_trait]
pub trait RedirectLogin: Send + Sync {
    /// Builds the authorization URL for a login attempt. `state` is the opaque value the
    /// provider must send back; `redirect_uri` is the callback URL.
    async fn begin(
        &self,
        ctx: &RequestContext,
        state: &str,
        redirect_uri: &str,
    ) -> Result<RedirectStart, AuthError>;

    /// Turns the callback's query parameters into an auth model (before the hub's rules).
    /// The hub has already checked `state`; the provider's `error` parameter and a missing
    /// `code` are handled here.
    async fn complete(
        &self,
        ctx: &RequestContext,
        redirect_uri: &str,
        query: &BTreeMap<String, String>,
        pending: &Value,
    ) -> Result<AuthModel, AuthError>;

    /// The callback URL configured for this authenticator (`oauth_callback_url`), if any;
    /// otherwise the hub derives it from the request.
    fn configured_callback_url(&self) -> Option<String>;

    /// Where to send the browser after the hub's logout when the provider's session should
    /// end too (RP-initiated logout), given the user's auth_state and the absolute URL the
    /// provider should send the browser back to.
    async fn logout_redirect(
        &self,
        auth_state: Option<&Value>,
        after_logout: &str,
    ) -> Option<String> {
        let _ = (auth_state, after_logout);
        None
    }
}
