//! Serving: the development provider's routes, and the handle tests steer the running
//! provider with. The mock framework ([`crate::mock`]) serves it, records requests and
//! injects faults.

use std::ops::Deref;

use axum::Router;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Map, Value};

use crate::config::{DevIdpBuilder, DevUser};
use crate::control::{Endpoint, Tamper, UserinfoTamper};
use crate::error::DevIdpError;
use crate::handlers::{authorize, discovery, logout, token, userinfo};
use crate::mock::{Mock, MockServer, MockServerOptions};
use crate::pages;
use crate::state::{Oidc, OidcState, UserRecord};

/// The provider's routes: every endpoint under the path prefix.
pub(crate) fn routes(prefix: &str) -> Router<Mock<Oidc>> {
    let routes = Router::new()
        .route(Endpoint::Discovery.path(), get(discovery::discovery))
        .route(Endpoint::Jwks.path(), get(discovery::jwks))
        .route(
            Endpoint::Authorize.path(),
            get(authorize::authorize_get).post(authorize::authorize_post),
        )
        .route(Endpoint::Token.path(), post(token::token))
        .route(
            Endpoint::Userinfo.path(),
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route(
            Endpoint::EndSession.path(),
            get(logout::end_session).post(logout::end_session),
        );
    let routes = if prefix.is_empty() {
        routes
    } else {
        Router::new().nest(prefix, routes)
    };
    routes.fallback(not_found)
}

async fn not_found() -> Response {
    pages::error_page(StatusCode::NOT_FOUND, "Not found.")
}

/// A provider serving in a Tokio task. Dropping it stops the server too (without
/// waiting); [`RunningIdp::shutdown`] stops it and waits.
///
/// The control methods change the running provider at once; they are for tests. Those
/// every provider mock shares (faults, the request log, the clock skew, the router) come
/// from [`MockServer`] through `Deref`.
#[derive(Debug)]
pub struct RunningIdp {
    server: MockServer<Oidc>,
}

impl Deref for RunningIdp {
    type Target = MockServer<Oidc>;

    fn deref(&self) -> &MockServer<Oidc> {
        &self.server
    }
}

impl RunningIdp {
    pub(crate) async fn start(config: DevIdpBuilder) -> Result<Self, DevIdpError> {
        config.validate()?;
        let prefix = config.validated_prefix()?;
        let options = MockServerOptions {
            bind: config.bind,
            allow_non_loopback: config.allow_non_loopback,
            clients: config.clients,
            clock: config.clock,
            tls: None,
        };
        let (users, auto_approve, lifetimes) =
            (config.users, config.auto_approve, config.lifetimes);
        let server = MockServer::start_with(options, |addr| {
            let personality = Oidc {
                issuer: format!("http://{addr}{prefix}"),
                cookie_name: format!("devidp_session_{}", addr.port()),
                prefix,
                lifetimes,
            };
            Ok((personality, OidcState::new(users, auto_approve)?))
        })
        .await?;
        tracing::info!(issuer = %server.personality().issuer, "development identity provider listening (not for production use)");
        Ok(RunningIdp { server })
    }

    /// The issuer identifier, such as `http://127.0.0.1:41234` (plus the path prefix).
    pub fn issuer(&self) -> &str {
        &self.server.personality().issuer
    }

    /// An absolute URL for a path relative to the issuer: `url("/token")`.
    pub fn url(&self, path: &str) -> String {
        if path.starts_with('/') || path.is_empty() {
            format!("{}{path}", self.issuer())
        } else {
            format!("{}/{path}", self.issuer())
        }
    }

    /// The absolute URL of an endpoint.
    pub fn endpoint_url(&self, endpoint: Endpoint) -> String {
        self.server.personality().endpoint_url(endpoint)
    }

    /// The discovery document's URL.
    pub fn discovery_url(&self) -> String {
        self.endpoint_url(Endpoint::Discovery)
    }

    /// The provider's name for its login session cookie (`devidp_session_PORT`).
    pub fn session_cookie_name(&self) -> &str {
        &self.server.personality().cookie_name
    }

    /// Stops serving and waits (up to five seconds) for open connections to finish.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }

    /// Replaces a user's claims; the next ID token and userinfo response show them.
    ///
    /// # Errors
    /// [`DevIdpError::UnknownUser`] when there is no such user.
    pub fn set_user_claims(
        &self,
        username: &str,
        claims: Map<String, Value>,
    ) -> Result<(), DevIdpError> {
        let mut inner = self.server.lock();
        let record = inner
            .users
            .get_mut(username)
            .ok_or_else(|| DevIdpError::UnknownUser(username.to_owned()))?;
        let mut user = record.user.clone().with_claims(claims);
        user.username = username.to_owned();
        user.validate()?;
        record.user = user;
        Ok(())
    }

    /// Adds a user, or replaces the one with the same username (enabling it).
    ///
    /// # Errors
    /// [`DevIdpError::Config`] when the user is invalid (empty name, non-string `sub`).
    pub fn add_user(&self, user: DevUser) -> Result<(), DevIdpError> {
        user.validate()?;
        self.server.lock().users.insert(
            user.username.clone(),
            UserRecord {
                user,
                disabled: false,
            },
        );
        Ok(())
    }

    /// Disables a user: refresh then fails with `invalid_grant`, userinfo with 401
    /// `invalid_token`, codes not yet exchanged with `invalid_grant`, and the login form
    /// refuses them. Existing tokens are kept, so that [`RunningIdp::enable_user`]
    /// restores them.
    ///
    /// # Errors
    /// [`DevIdpError::UnknownUser`] when there is no such user.
    pub fn disable_user(&self, username: &str) -> Result<(), DevIdpError> {
        self.set_disabled(username, true)
    }

    /// Enables a user disabled by [`RunningIdp::disable_user`].
    ///
    /// # Errors
    /// [`DevIdpError::UnknownUser`] when there is no such user.
    pub fn enable_user(&self, username: &str) -> Result<(), DevIdpError> {
        self.set_disabled(username, false)
    }

    fn set_disabled(&self, username: &str, disabled: bool) -> Result<(), DevIdpError> {
        let mut inner = self.server.lock();
        let record = inner
            .users
            .get_mut(username)
            .ok_or_else(|| DevIdpError::UnknownUser(username.to_owned()))?;
        record.disabled = disabled;
        Ok(())
    }

    /// Revokes every authorization code, access token and refresh token. Login sessions
    /// at the provider stay.
    pub fn revoke_all_tokens(&self) {
        let mut inner = self.server.lock();
        inner.codes.clear();
        inner.access.clear();
        inner.refresh.clear();
    }

    /// Changes the auto-approve user (`None` shows the login form again).
    ///
    /// # Errors
    /// [`DevIdpError::UnknownUser`] when there is no such user.
    pub fn set_auto_approve(&self, username: Option<String>) -> Result<(), DevIdpError> {
        let mut inner = self.server.lock();
        if let Some(name) = &username
            && !inner.users.contains_key(name)
        {
            return Err(DevIdpError::UnknownUser(name.clone()));
        }
        inner.auto_approve = username;
        Ok(())
    }

    /// With `Some(list)`, later authorization requests are granted only the requested
    /// scopes in `list` (the token response's `scope` then shows fewer than asked for);
    /// `None` (the default) grants every requested scope.
    pub fn restrict_scopes(&self, allowed: Option<Vec<String>>) {
        self.server.lock().scope_filter = allowed;
    }

    /// Makes the next issued ID token (from a code or a refresh) wrong as `tamper` says.
    /// Calls queue up: each ID token takes the oldest queued tamper.
    pub fn tamper_next_id_token(&self, tamper: Tamper) {
        self.server.lock().tampers.push_back(tamper);
    }

    /// Makes the next successful userinfo answer wrong as `tamper` says. Calls queue up:
    /// each answer takes the oldest queued tamper.
    pub fn tamper_next_userinfo(&self, tamper: UserinfoTamper) {
        self.server.lock().userinfo_tampers.push_back(tamper);
    }

    /// Adds a new signing key with a new `kid`; it signs from now on, and the JWKS
    /// publishes it next to the old ones. Returns the new `kid`.
    pub fn rotate_signing_key(&self) -> Result<String, DevIdpError> {
        self.server
            .lock()
            .keys
            .rotate()
            .map_err(|err| DevIdpError::Keys(err.to_string()))
    }

    /// Stops publishing an old key. The key that currently signs cannot be retired.
    /// Returns whether a key was removed.
    pub fn retire_signing_key(&self, kid: &str) -> bool {
        self.server.lock().keys.retire(kid)
    }

    /// The `kid`s the JWKS publishes, oldest first; the last one signs.
    pub fn signing_kids(&self) -> Vec<String> {
        self.server.lock().keys.kids()
    }

    /// The `sid` the ID tokens of a user's latest login carry (one per login), if the
    /// user logged in.
    pub fn last_sid(&self, username: &str) -> Option<String> {
        self.server.lock().last_sid.get(username).cloned()
    }

    /// A logout token (OpenID Connect Back-Channel Logout 1.0 §2.4) for `spec`, signed
    /// like an ID token and made wrong as its tamper says, for posting to a relying
    /// party's back-channel logout endpoint. `None` only when signing fails.
    pub fn logout_token(&self, spec: &crate::LogoutTokenSpec) -> Option<String> {
        let now = self.server.now();
        let inner = self.server.lock();
        let claims = crate::jwt::logout_token_claims(self.issuer(), spec, now);
        crate::jwt::sign_id_token(&inner.keys, claims, spec.tamper, now)
    }

    /// How many login sessions the provider holds (its cookie's server side).
    pub fn session_count(&self) -> usize {
        let now = self.server.now();
        self.server
            .lock()
            .sessions
            .values()
            .filter(|s| s.expires_at > now)
            .count()
    }
}
