//! Serving a personality: binding loopback, the layer that records requests and injects
//! faults, and the handle tests steer it with.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::clients::Clients;
use super::personality::{Core, Mock, Personality, Provider};
use super::tls::{MockTls, TlsListener};
use crate::clock::{Clock, SystemClock};
use crate::config::Client;
use crate::control::{Fault, RecordedRequest};
use crate::error::DevIdpError;
use crate::params::is_form;

/// Largest request body read (OAuth forms and Graph queries are small).
const BODY_LIMIT: usize = 64 * 1024;

/// How long [`MockServer::shutdown`] waits for open connections before it stops anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How a mock is served.
pub struct MockServerOptions {
    /// The address (default `127.0.0.1:0`, a free port).
    pub bind: SocketAddr,
    /// Whether an address that is not loopback may be bound (default no: a mock trusts
    /// its configuration completely and must not face a network).
    pub allow_non_loopback: bool,
    /// The registered clients.
    pub clients: Vec<Client>,
    /// The time source (default: the system clock).
    pub clock: Arc<dyn Clock>,
    /// Serve HTTPS with this certificate (default: plain HTTP).
    pub tls: Option<MockTls>,
}

impl Default for MockServerOptions {
    fn default() -> Self {
        MockServerOptions {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            allow_non_loopback: false,
            clients: Vec::new(),
            clock: Arc::new(SystemClock),
            tls: None,
        }
    }
}

impl std::fmt::Debug for MockServerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServerOptions")
            .field("bind", &self.bind)
            .field("clients", &self.clients)
            .finish_non_exhaustive()
    }
}

/// A personality serving in a Tokio task. Dropping it stops the server (without
/// waiting); [`MockServer::shutdown`] stops it and waits.
///
/// The methods here steer what every provider shares; a personality's own controls
/// work on [`MockServer::lock`]'s state.
pub struct MockServer<P: Personality> {
    mock: Mock<P>,
    router: Router,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl<P: Personality> std::fmt::Debug for MockServer<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer")
            .field("personality", &P::NAME)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl<P: Personality> MockServer<P> {
    /// Binds the address and serves `personality` with `state`.
    ///
    /// # Errors
    /// [`DevIdpError::NotLoopback`], [`DevIdpError::Bind`], or
    /// [`DevIdpError::Config`] for an invalid or duplicate client.
    pub async fn start(
        personality: P,
        state: P::State,
        options: MockServerOptions,
    ) -> Result<Self, DevIdpError> {
        Self::start_with(options, |_| Ok((personality, state))).await
    }

    /// Binds the address, then makes the personality and its state knowing the bound
    /// address (for an issuer that contains the port), and serves it.
    ///
    /// # Errors
    /// As [`MockServer::start`], and whatever `make` returns.
    pub async fn start_with(
        options: MockServerOptions,
        make: impl FnOnce(SocketAddr) -> Result<(P, P::State), DevIdpError>,
    ) -> Result<Self, DevIdpError> {
        if !options.allow_non_loopback && !options.bind.ip().is_loopback() {
            return Err(DevIdpError::NotLoopback(options.bind));
        }
        let clients = Clients::new(options.clients)?;
        let bind = options.bind;
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .map_err(|source| DevIdpError::Bind { addr: bind, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| DevIdpError::Bind { addr: bind, source })?;
        let (personality, state) = make(addr)?;
        let scheme = if options.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let mock = Arc::new(Provider::new(
            format!("{scheme}://{addr}"),
            options.clock,
            personality,
            clients,
            state,
        ));
        let router = mock
            .personality()
            .routes()
            .layer(middleware::from_fn_with_state(
                Arc::clone(&mock),
                observe::<P>,
            ))
            .layer(DefaultBodyLimit::max(BODY_LIMIT))
            .with_state(Arc::clone(&mock));
        let (stop, stopped) = oneshot::channel::<()>();
        let stopped = async move {
            let _ = stopped.await;
        };
        let served = router.clone();
        let task = match options.tls {
            None => tokio::spawn(async move {
                let server = axum::serve(listener, served).with_graceful_shutdown(stopped);
                if let Err(err) = server.await {
                    tracing::warn!(%err, mock = P::NAME, "a provider mock stopped with an error");
                }
            }),
            Some(tls) => tokio::spawn(async move {
                let listener = TlsListener { tcp: listener, tls };
                let server = axum::serve(listener, served).with_graceful_shutdown(stopped);
                if let Err(err) = server.await {
                    tracing::warn!(%err, mock = P::NAME, "a provider mock stopped with an error");
                }
            }),
        };
        tracing::info!(mock = P::NAME, %addr, "provider mock listening (tests and demos only)");
        Ok(MockServer {
            mock,
            router,
            addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The router, sharing this mock's state, for driving it without a socket
    /// (`tower::ServiceExt::oneshot`).
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// The address served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (`https://` when serving TLS).
    pub fn origin(&self) -> &str {
        self.mock.origin()
    }

    /// The shared state, as handlers see it.
    pub fn provider(&self) -> &Mock<P> {
        &self.mock
    }

    /// The personality.
    pub fn personality(&self) -> &P {
        self.mock.personality()
    }

    /// The state, for a personality's own controls.
    pub fn lock(&self) -> std::sync::MutexGuard<'_, Core<P>> {
        self.mock.lock()
    }

    /// The provider's current time.
    pub fn now(&self) -> i64 {
        self.mock.now()
    }

    /// Moves the provider's clock forward (or back, with a negative number): a provider
    /// whose clock is skewed, or time passing for its tokens.
    pub fn advance_clock(&self, seconds: i64) {
        self.mock.advance(seconds);
    }

    /// Makes the next request to `endpoint` fail as `fault` says. Calls queue up: each
    /// request takes the oldest queued fault.
    pub fn fail_next(&self, endpoint: P::Endpoint, fault: Fault) {
        self.mock.lock().faults.push(endpoint, fault);
    }

    /// Drops every queued fault.
    pub fn clear_faults(&self) {
        self.mock.lock().faults.clear();
    }

    /// Takes an endpoint down (`503` to every request) or brings it back.
    pub fn set_down(&self, endpoint: P::Endpoint, down: bool) {
        let mut core = self.mock.lock();
        if down {
            core.down.insert(endpoint);
        } else {
            core.down.remove(&endpoint);
        }
    }

    /// How many requests an endpoint received (faulted ones included).
    pub fn count(&self, endpoint: P::Endpoint) -> usize {
        self.mock.lock().counts.get(&endpoint).copied().unwrap_or(0)
    }

    /// Every request received so far (oldest first, the last 10 000), secrets redacted.
    pub fn requests(&self) -> Vec<RecordedRequest<P::Endpoint>> {
        self.mock.lock().requests.iter().cloned().collect()
    }

    /// The recorded requests to one endpoint.
    pub fn requests_to(&self, endpoint: P::Endpoint) -> Vec<RecordedRequest<P::Endpoint>> {
        self.mock
            .lock()
            .requests
            .iter()
            .filter(|r| r.endpoint == Some(endpoint))
            .cloned()
            .collect()
    }

    /// Forgets the recorded requests (counts stay).
    pub fn clear_requests(&self) {
        self.mock.lock().requests.clear();
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
}

impl<P: Personality> Drop for MockServer<P> {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Records every request (secrets redacted), then answers for an endpoint that is down
/// or has a fault queued; otherwise the personality's handler runs.
async fn observe<P: Personality>(
    State(mock): State<Mock<P>>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
    };
    let endpoint = mock.personality().endpoint(parts.uri.path());
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
    let (down, fault) = {
        let mut core = mock.lock();
        core.record(record);
        match endpoint {
            Some(e) if core.down.contains(&e) => (true, None),
            Some(e) => (false, core.faults.take(e)),
            None => (false, None),
        }
    };
    if down {
        return (StatusCode::SERVICE_UNAVAILABLE, "503 Service Unavailable").into_response();
    }
    if let Some(fault) = &fault {
        tracing::info!(
            mock = P::NAME,
            ?endpoint,
            ?fault,
            "injected fault (test control)"
        );
    }
    if let Some(response) = crate::faults::apply(fault).await {
        return response;
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}
