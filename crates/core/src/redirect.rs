//! Logins that happen at another site (OAuth 2.0 / OpenID Connect): the two halves the
//! hub's `oauth_login` and `oauth_callback` handlers call.
//!
//! The hub owns everything about the browser: the state id, binding it to the browser,
//! single use and expiry, the `next` URL, the session. The authenticator owns the protocol:
//! what goes into the authorize URL and what the callback's parameters mean.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::authenticator::RequestContext;
use crate::backchannel::{LogoutToken, LogoutTokenError};
use crate::error::AuthError;
use crate::model::AuthModel;

/// What the authenticator needs to send the browser to the provider.
#[derive(Debug, Clone, PartialEq)]
pub struct RedirectStart {
    /// The full authorization URL, including the state parameter.
    pub authorize_url: String,
    /// What to keep until the callback, handed back unchanged. It never leaves the hub.
    pub pending: PendingRedirect,
}

/// What a login at an identity provider keeps from `begin` to `complete` (stored by the
/// hub with the login's state, as JSON with these field names).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRedirect {
    /// The PKCE code verifier, when PKCE is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_verifier: Option<String>,
    /// The OpenID Connect nonce the ID token must carry, when one is expected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
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

    /// Turns the callback into an auth model (before the hub's rules): redeems `code`.
    /// The hub has checked `state` and refused an `error` answer and a missing code;
    /// `query` holds every parameter of the callback (`iss`...). `redirect_uri` is the
    /// one `begin` was given.
    async fn complete(
        &self,
        ctx: &RequestContext,
        redirect_uri: &str,
        code: &str,
        query: &BTreeMap<String, String>,
        pending: &PendingRedirect,
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

    /// Verifies a logout token the provider sent to the hub's back-channel logout
    /// endpoint (OpenID Connect Back-Channel Logout 1.0 §2.6) at `now`, everything but
    /// the replay check (the hub's, as it needs the store). The default: not supported.
    async fn verify_logout_token(
        &self,
        token: &str,
        now: i64,
    ) -> Result<LogoutToken, LogoutTokenError> {
        let _ = (token, now);
        Err(LogoutTokenError::Unsupported)
    }
}
