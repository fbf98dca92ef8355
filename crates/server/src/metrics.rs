//! Prometheus metrics, one registry per hub.
//!
//! Code records through the [`metrics`] facade (`counter!`, `histogram!`), including crates
//! that know nothing about the hub (the OAuth client times its provider requests that way).
//! Each hub owns a [`PrometheusRecorder`] that is never installed globally: every
//! connection the hub serves (and every request through [`crate::app`]'s router) is polled
//! with the hub's recorder set as the thread-local recorder ([`Metrics::scope`]), so several
//! hubs in one process (tests) keep separate counts.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::StatusCode;
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

/// Logins by `authenticator` and `outcome`.
pub const LOGINS: &str = "hubauth_logins_total";
/// Provider request latency by `step` (recorded by `hubauth_oauth::http::send`).
pub const PROVIDER_LATENCY: &str = "hubauth_provider_request_duration_seconds";
/// Auth info refreshes by `result`.
pub const REFRESHES: &str = "hubauth_auth_refreshes_total";
/// Sessions started.
pub const SESSIONS_STARTED: &str = "hubauth_sessions_started_total";
/// Sessions ended by `reason`.
pub const SESSIONS_ENDED: &str = "hubauth_sessions_ended_total";
/// Database errors by `kind` (`unavailable`, `other`).
pub const DATABASE_ERRORS: &str = "hubauth_database_errors_total";
/// Forward-auth checks by `result` (`allowed`, `unauthenticated`, `denied`, `error`).
pub const FORWARD_AUTH: &str = "hubauth_forward_auth_checks_total";

/// Sessions valid now (from the database, on every scrape; with several replicas on one
/// database each reports the shared total).
pub const ACTIVE_SESSIONS: &str = "hubauth_active_sessions";

/// Histogram buckets for provider latency, in seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0,
];

/// A hub's metrics registry.
#[derive(Clone)]
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
    /// Registered once: forward-auth is the hot path, and a handle skips the registry
    /// lookup (key hashing, a read lock) on every check.
    forward_auth: Arc<ForwardAuthCounters>,
}

/// The forward-auth counters, one per result.
struct ForwardAuthCounters {
    allowed: metrics::Counter,
    unauthenticated: metrics::Counter,
    denied: metrics::Counter,
    error: metrics::Counter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// A new, empty registry (not installed as the global recorder).
    pub fn new() -> Result<Self, String> {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(PROVIDER_LATENCY.to_owned()), LATENCY_BUCKETS)
            .map_err(|err| format!("metrics: {err}"))?
            .build_recorder();
        let handle = recorder.handle();
        let forward_auth = metrics::with_local_recorder(&recorder, || {
            let counter =
                |result: &'static str| metrics::counter!(FORWARD_AUTH, "result" => result);
            ForwardAuthCounters {
                allowed: counter("allowed"),
                unauthenticated: counter("unauthenticated"),
                denied: counter("denied"),
                error: counter("error"),
            }
        });
        let metrics = Metrics {
            recorder: Arc::new(recorder),
            handle,
            forward_auth: Arc::new(forward_auth),
        };
        metrics.describe();
        Ok(metrics)
    }

    /// Registers the help text of every metric.
    fn describe(&self) {
        self.record(|| {
            metrics::describe_counter!(LOGINS, "Logins by authenticator and outcome.");
            metrics::describe_histogram!(
                PROVIDER_LATENCY,
                metrics::Unit::Seconds,
                "Time of requests to the identity provider, by step."
            );
            metrics::describe_counter!(REFRESHES, "Refreshes of users' auth info, by result.");
            metrics::describe_counter!(SESSIONS_STARTED, "Login sessions started.");
            metrics::describe_counter!(SESSIONS_ENDED, "Login sessions ended, by reason.");
            metrics::describe_counter!(DATABASE_ERRORS, "Database errors, by kind.");
            metrics::describe_counter!(FORWARD_AUTH, "Forward-auth checks, by result.");
            metrics::describe_counter!(
                CACHE_INVALIDATIONS,
                "Session cache invalidations between replicas (PostgreSQL), by event."
            );
            metrics::describe_gauge!(
                ACTIVE_SESSIONS,
                "Login sessions that have not expired, counted in the database at scrape time."
            );
        });
    }

    /// Runs `f` with this registry as the thread's recorder.
    pub fn record<T>(&self, f: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(self.recorder.as_ref(), f)
    }

    /// Wraps a future so that whatever it records, on any thread, lands in this registry.
    pub fn scope<F: Future>(&self, future: F) -> Scoped<F> {
        Scoped {
            recorder: self.recorder.clone(),
            future: Box::pin(future),
        }
    }

    /// Counts a forward-auth check by the status it answered with.
    pub fn forward_auth(&self, status: StatusCode) {
        let counters = &self.forward_auth;
        let counter = match status.as_u16() {
            200..=299 => &counters.allowed,
            401 | 302 | 303 => &counters.unauthenticated,
            403 => &counters.denied,
            _ => &counters.error,
        };
        counter.increment(1);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        self.handle.run_upkeep();
        self.handle.render()
    }
}

/// A future polled with a hub's recorder set (see [`Metrics::scope`]).
pub struct Scoped<F> {
    recorder: Arc<PrometheusRecorder>,
    future: Pin<Box<F>>,
}

impl<F> std::fmt::Debug for Scoped<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scoped").finish_non_exhaustive()
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        let future = this.future.as_mut();
        metrics::with_local_recorder(this.recorder.as_ref(), || future.poll(cx))
    }
}

/// Counts a login attempt's outcome.
///
/// On a hub with several login methods the series also carry the method's name
/// (`method`); a hub with one keeps the two labels.
pub fn login(authenticator: &str, method: &str, outcome: &'static str) {
    if method.is_empty() {
        metrics::counter!(LOGINS, "authenticator" => authenticator.to_owned(), "outcome" => outcome)
            .increment(1);
    } else {
        metrics::counter!(
            LOGINS,
            "authenticator" => authenticator.to_owned(),
            "method" => method.to_owned(),
            "outcome" => outcome
        )
        .increment(1);
    }
}

/// Counts an auth info refresh.
pub fn refresh(result: &'static str) {
    metrics::counter!(REFRESHES, "result" => result).increment(1);
}

/// Counts a started session.
pub fn session_started() {
    metrics::counter!(SESSIONS_STARTED).increment(1);
}

/// Counts ended sessions.
pub fn sessions_ended(reason: &'static str, count: u64) {
    metrics::counter!(SESSIONS_ENDED, "reason" => reason).increment(count);
}

/// Back-channel logout notices to services, by outcome (`queued`, `delivered`, `failed`,
/// `dropped` when the queue was full).
pub const BACKCHANNEL_LOGOUTS: &str = "hubauth_backchannel_logouts_total";

/// Counts a back-channel logout notice by outcome (see [`BACKCHANNEL_LOGOUTS`]).
pub fn backchannel_logout(outcome: &'static str) {
    metrics::counter!(BACKCHANNEL_LOGOUTS, "outcome" => outcome).increment(1);
}

/// Session cache invalidations between replicas, by `event`: `received` (from another
/// replica), `listening` (the listening connection came up and the whole cache was
/// cleared), `announce_failed` (the others were not told).
pub const CACHE_INVALIDATIONS: &str = "hubauth_cache_invalidations_total";

/// Counts a cache invalidation event (see [`CACHE_INVALIDATIONS`]).
pub fn cache_invalidation(event: &'static str) {
    metrics::counter!(CACHE_INVALIDATIONS, "event" => event).increment(1);
}

/// Sets the active sessions gauge.
pub fn active_sessions(count: u64) {
    metrics::gauge!(ACTIVE_SESSIONS).set(count as f64);
}

/// Counts a database error.
pub fn database_error(unavailable: bool) {
    let kind = if unavailable { "unavailable" } else { "other" };
    metrics::counter!(DATABASE_ERRORS, "kind" => kind).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn registries_are_separate() {
        let a = Metrics::new().unwrap();
        let b = Metrics::new().unwrap();
        a.scope(async {
            tokio::task::yield_now().await;
            login("dummy", "", "ok");
        })
        .await;
        assert!(
            a.render()
                .contains("hubauth_logins_total{authenticator=\"dummy\",outcome=\"ok\"} 1")
        );
        assert!(!b.render().contains("hubauth_logins_total{"));
    }
}
