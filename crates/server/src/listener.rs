//! The listener: accepts TCP connections, serves each over HTTP/1.1 (with upgrades, so
//! websockets pass through the built-in proxy), and shuts down gracefully.
//!
//! The hub serves its own connections rather than through `axum::serve` for the sake of
//! the forward-auth check, the hub's hot path: a reverse proxy asks it once for every
//! request to every protected app. Here that check is answered straight from the
//! connection (no router dispatch, no boxed middleware future per request), and the
//! metrics recorder is set once per connection instead of once per request. So is the
//! REST API's `GET {base_url}hub/api/user`, which apps and services ask for every request
//! they authenticate with the hub (JupyterHub's `HubAuth` does), with the same request
//! layer and response headers the router would add. Every other request goes to the
//! router, with the client's address as axum's `ConnectInfo`.
//!
//! With `ssl_cert` each connection first completes a TLS handshake (within
//! [`crate::tls::HANDSHAKE_TIMEOUT`], in the connection's own task), then is served the
//! same way.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request};
use axum::response::Response;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tower::ServiceExt;

use crate::handlers::forward_auth;
use crate::state::AppState;

/// A request the listener answers itself, without the router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direct {
    /// `GET`/`HEAD {base_url}hub/forward-auth`.
    ForwardAuth,
    /// `GET {base_url}hub/api/user`.
    WhoAmI,
}

/// The exact paths of the requests answered directly.
struct DirectPaths {
    forward_auth: String,
    whoami: String,
}

impl DirectPaths {
    /// Whether a request is one the listener answers itself: a forward-auth check (`GET`
    /// or `HEAD` on its exact path) or `GET` of the API's current user. Other methods on
    /// those paths go to the router (405, or axum's `HEAD` for a `GET` route).
    fn of(&self, request: &Request<Incoming>) -> Option<Direct> {
        let method = request.method();
        let path = request.uri().path();
        if (method == Method::GET || method == Method::HEAD) && path == self.forward_auth {
            Some(Direct::ForwardAuth)
        } else if method == Method::GET && path == self.whoami {
            Some(Direct::WhoAmI)
        } else {
            None
        }
    }
}

/// How long a client may take to send a request's head (slow-loris protection).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `router` (the hub's, without the per-request metrics layer) on `listener` until
/// `shutdown` completes, then waits for open connections to finish their requests.
pub(crate) async fn serve(
    state: AppState,
    router: Router,
    listener: tokio::net::TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let direct_paths = std::sync::Arc::new(DirectPaths {
        forward_auth: format!("{}forward-auth", state.hub_prefix()),
        whoami: format!("{}api/user", state.hub_prefix()),
    });
    let (closing_tx, closing_rx) = tokio::sync::watch::channel(());
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_failed(&err).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small responses, one per request: do not wait to fill a segment.
        let _ = stream.set_nodelay(true);
        let state_for_conn = state.clone();
        let router = router.clone();
        let direct_paths = direct_paths.clone();
        // Forwarding headers count only from the proxies the operator named: from anyone
        // else they are removed before any handler (or the forward-auth check) reads them.
        let peer_trusted = state.config.is_trusted_proxy(peer.ip());
        let service = service_fn(move |mut request: Request<Incoming>| {
            if !peer_trusted {
                crate::forwarded::strip(request.headers_mut());
            }
            let state = state_for_conn.clone();
            let router = router.clone();
            let direct = direct_paths.of(&request);
            async move {
                match direct {
                    // The router's request layer, without the router.
                    Some(Direct::ForwardAuth) => {
                        let hub = state.as_ref();
                        let respond = move |request: Request<Incoming>| async move {
                            let crate::web::Now(now) =
                                crate::web::Now::of(request.extensions(), hub);
                            forward_auth::answer(hub, request.headers(), request.uri().query(), now)
                                .await
                        };
                        let response =
                            crate::web::request::handle(&state, peer_trusted, request, respond)
                                .await;
                        Ok::<Response, Infallible>(response)
                    }
                    Some(Direct::WhoAmI) => {
                        let hub = &state;
                        let respond = move |request: Request<Incoming>| async move {
                            let crate::web::Now(now) =
                                crate::web::Now::of(request.extensions(), hub);
                            let response = crate::api::users::whoami_answer(
                                hub,
                                request.method(),
                                request.headers(),
                                request.uri().query(),
                                now,
                            )
                            .await;
                            // What the router's layer for the hub's routes adds.
                            crate::handlers::hub_response_headers(response).await
                        };
                        let response =
                            crate::web::request::handle(&state, peer_trusted, request, respond)
                                .await;
                        Ok(response)
                    }
                    None => {
                        request.extensions_mut().insert(ConnectInfo(peer));
                        router.oneshot(request).await
                    }
                }
            }
        });
        let builder = builder.clone();
        let closing = closing_rx.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(state.metrics.scope(async move {
            match acceptor {
                None => serve_connection(&builder, stream, service, closing, peer).await,
                Some(acceptor) => {
                    let handshake = tokio::time::timeout(
                        crate::tls::HANDSHAKE_TIMEOUT,
                        acceptor.accept(stream),
                    );
                    match handshake.await {
                        Ok(Ok(stream)) => {
                            serve_connection(&builder, stream, service, closing, peer).await;
                        }
                        Ok(Err(err)) => {
                            tracing::debug!(peer = %peer, error = %err, "TLS handshake failed");
                        }
                        Err(_) => {
                            tracing::debug!(peer = %peer, "TLS handshake timed out");
                        }
                    }
                }
            }
        }));
    }
    drop(listener);
    drop(closing_rx);
    let _ = closing_tx.send(());
    // Every connection task holds a receiver: `closed` completes when the last one ends.
    closing_tx.closed().await;
    Ok(())
}

/// Serves one connection (plain TCP or TLS) until it closes, or until shutdown once its
/// request in flight is answered.
async fn serve_connection<I, S>(
    builder: &http1::Builder,
    io: I,
    service: S,
    mut closing: tokio::sync::watch::Receiver<()>,
    peer: std::net::SocketAddr,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming, ResBody = axum::body::Body> + Send,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let connection = builder
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    let mut connection = std::pin::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = closing.changed() => {
            // Finish the request in flight, then close.
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(err) = result {
        tracing::debug!(peer = %peer, error = %err, "connection ended with an error");
    }
    drop(closing);
}

/// Handles a failed `accept`: errors about one connection (reset before it was accepted)
/// are skipped; others (out of file descriptors) are logged and retried after a pause so
/// the loop does not spin.
async fn accept_failed(err: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::error!(error = %err, "accepting a connection failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
