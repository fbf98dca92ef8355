//! Serving: the router, the request recorder and fault injector, and the handle tests
//! steer the running provider with.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{DevIdpBuilder, DevUser};
use crate::control::{Endpoint, Fault, RecordedRequest, Tamper, UserinfoTamper};
use crate::error::DevIdpError;
use crate::handlers::{authorize, discovery, logout, token, userinfo};
use crate::pages;
use crate::params::is_form;
use crate::state::{Shared, UserRecord};

/// Largest request body read (forms here are small).
const BODY_LIMIT: usize = 64 * 1024;

/// How long [`RunningIdp::shutdown`] waits for open connections before it stops anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Builds the provider's router: every endpoint under the path prefix, behind the
/// recorder/fault layer.
fn app(shared: Arc<Shared>) -> Router {
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
        )
        .with_state(Arc::clone(&shared));
    let app = if shared.prefix.is_empty() {
        routes
    } else {
        Router::new().nest(&shared.prefix, routes)
    };
    app.fallback(not_found)
        .layer(middleware::from_fn_with_state(shared, observe))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

async fn not_found() -> Response {
    pages::error_page(StatusCode::NOT_FOUND, "Not found.")
}

/// Records every request (secrets redacted) and applies a queued fault, if any.
async fn observe(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
    };
    let endpoint = Endpoint::from_path(&shared.prefix, parts.uri.path());
    let record = RecordedRequest::new(
        parts.method.as_str(),
        parts.uri.path(),
        endpoint,
        parts.uri.query(),
        is_form(parts.headers.get(header::CONTENT_TYPE)).then_some(&bytes[..]),
        parts
            .headers
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes),
    );
    let fault = {
        let mut inner = shared.lock();
        inner.record(record);
        endpoint.and_then(|e| inner.faults.take(e))
    };
    match fault {
        None => {}
        Some(Fault::Delay(delay)) => {
            tracing::info!(?endpoint, ?delay, "delaying a response (test control)");
            tokio::time::sleep(delay).await;
        }
        Some(fault) => {
            tracing::info!(
                ?endpoint,
                ?fault,
                "answering with an injected fault (test control)"
            );
            return crate::faults::response(fault);
        }
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// A provider serving in a Tokio task. Dropping it stops the server too (without
/// waiting); [`RunningIdp::shutdown`] stops it and waits.
///
/// The control methods change the running provider at once; they are for tests.
pub struct RunningIdp {
    shared: Arc<Shared>,
    addr: SocketAddr,
    router: Router,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for RunningIdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningIdp")
            .field("issuer", &self.shared.issuer)
            .finish_non_exhaustive()
    }
}

impl RunningIdp {
    pub(crate) async fn start(config: DevIdpBuilder) -> Result<Self, DevIdpError> {
        config.validate()?;
        let prefix = config.validated_prefix()?;
        let bind = config.bind;
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .map_err(|source| DevIdpError::Bind { addr: bind, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| DevIdpError::Bind { addr: bind, source })?;
        let issuer = format!("http://{addr}{prefix}");
        let cookie_name = format!("devidp_session_{}", addr.port());
        let shared = Arc::new(Shared::new(issuer, prefix, cookie_name, config)?);
        let router = app(Arc::clone(&shared));
        let (stop, stopped) = oneshot::channel::<()>();
        let server = axum::serve(listener, router.clone()).with_graceful_shutdown(async move {
            let _ = stopped.await;
        });
        let task = tokio::spawn(async move {
            if let Err(err) = server.await {
                tracing::error!(%err, "the development identity provider stopped with an error");
            }
        });
        tracing::info!(issuer = %shared.issuer, "development identity provider listening (not for production use)");
        Ok(RunningIdp {
            shared,
            addr,
            router,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The issuer identifier, such as `http://127.0.0.1:41234` (plus the path prefix).
    pub fn issuer(&self) -> &str {
        &self.shared.issuer
    }

    /// The address the provider listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// An absolute URL for a path relative to the issuer: `url("/token")`.
    pub fn url(&self, path: &str) -> String {
        if path.starts_with('/') || path.is_empty() {
            format!("{}{path}", self.shared.issuer)
        } else {
            format!("{}/{path}", self.shared.issuer)
        }
    }

    /// The absolute URL of an endpoint.
    pub fn endpoint_url(&self, endpoint: Endpoint) -> String {
        self.shared.endpoint_url(endpoint)
    }

    /// The discovery document's URL.
    pub fn discovery_url(&self) -> String {
        self.endpoint_url(Endpoint::Discovery)
    }

    /// The provider's name for its login session cookie (`devidp_session_PORT`).
    pub fn session_cookie_name(&self) -> &str {
        &self.shared.cookie_name
    }

    /// The router, sharing this provider's state, for driving it without a socket
    /// (`tower::ServiceExt::oneshot`). Requests need paths including the prefix.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Stops serving and waits (up to five seconds) for open connections to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
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
        let mut inner = self.shared.lock();
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
        self.shared.lock().users.insert(
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
        let mut inner = self.shared.lock();
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
        let mut inner = self.shared.lock();
        inner.codes.clear();
        inner.access.clear();
        inner.refresh.clear();
    }

    /// Changes the auto-approve user (`None` shows the login form again).
    ///
    /// # Errors
    /// [`DevIdpError::UnknownUser`] when there is no such user.
    pub fn set_auto_approve(&self, username: Option<String>) -> Result<(), DevIdpError> {
        let mut inner = self.shared.lock();
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
        self.shared.lock().scope_filter = allowed;
    }

    /// Every request received so far (oldest first, the last 10 000), secrets redacted.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.iter().cloned().collect()
    }

    /// The recorded requests to one endpoint.
    pub fn requests_to(&self, endpoint: Endpoint) -> Vec<RecordedRequest> {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| r.endpoint == Some(endpoint))
            .cloned()
            .collect()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// Makes the next request to `endpoint` fail as `fault` says. Calls queue up: each
    /// request takes the oldest queued fault.
    pub fn fail_next(&self, endpoint: Endpoint, fault: Fault) {
        self.shared.lock().faults.push(endpoint, fault);
    }

    /// Drops every queued fault.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Makes the next issued ID token (from a code or a refresh) wrong as `tamper` says.
    /// Calls queue up: each ID token takes the oldest queued tamper.
    pub fn tamper_next_id_token(&self, tamper: Tamper) {
        self.shared.lock().tampers.push_back(tamper);
    }

    /// Makes the next successful userinfo answer wrong as `tamper` says. Calls queue up:
    /// each answer takes the oldest queued tamper.
    pub fn tamper_next_userinfo(&self, tamper: UserinfoTamper) {
        self.shared.lock().userinfo_tampers.push_back(tamper);
    }

    /// Adds a new signing key with a new `kid`; it signs from now on, and the JWKS
    /// publishes it next to the old ones. Returns the new `kid`.
    pub fn rotate_signing_key(&self) -> Result<String, DevIdpError> {
        self.shared
            .lock()
            .keys
            .rotate()
            .map_err(|err| DevIdpError::Keys(err.to_string()))
    }

    /// Stops publishing an old key. The key that currently signs cannot be retired.
    /// Returns whether a key was removed.
    pub fn retire_signing_key(&self, kid: &str) -> bool {
        self.shared.lock().keys.retire(kid)
    }

    /// The `kid`s the JWKS publishes, oldest first; the last one signs.
    pub fn signing_kids(&self) -> Vec<String> {
        self.shared.lock().keys.kids()
    }

    /// How many login sessions the provider holds (its cookie's server side).
    pub fn session_count(&self) -> usize {
        let now = self.shared.now();
        self.shared
            .lock()
            .sessions
            .values()
            .filter(|s| s.expires_at > now)
            .count()
    }
}

impl Drop for RunningIdp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
