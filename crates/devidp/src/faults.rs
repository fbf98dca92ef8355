//! Fault injection, shared by the development provider and the provider mocks built on it
//! (Azure AD, Globus): per endpoint, a queue of wrong answers the next requests get.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

pub use crate::control::Fault;

/// The faults queued for each endpoint (`E`: the provider's own endpoint names).
#[derive(Debug, Clone)]
pub struct Faults<E> {
    queues: HashMap<E, VecDeque<Fault>>,
}

impl<E> Default for Faults<E> {
    fn default() -> Self {
        Faults {
            queues: HashMap::new(),
        }
    }
}

impl<E: Copy + Eq + Hash> Faults<E> {
    /// Queues `fault` for the next request to `endpoint` that has none queued before it.
    pub fn push(&mut self, endpoint: E, fault: Fault) {
        self.queues.entry(endpoint).or_default().push_back(fault);
    }

    /// The fault the request to `endpoint` now gets, if one is queued.
    pub fn take(&mut self, endpoint: E) -> Option<Fault> {
        self.queues.get_mut(&endpoint)?.pop_front()
    }

    /// Drops every queued fault.
    pub fn clear(&mut self) {
        self.queues.clear();
    }
}

/// Applies the fault a request got: `None` to answer normally (after the wait of a
/// [`Fault::Delay`]), or the response to send instead.
pub async fn apply(fault: Option<Fault>) -> Option<Response> {
    match fault? {
        Fault::Delay(delay) => {
            tokio::time::sleep(delay).await;
            None
        }
        fault => Some(response(fault)),
    }
}

/// The response a fault answers with.
pub fn response(fault: Fault) -> Response {
    let json = HeaderValue::from_static("application/json");
    match fault {
        Fault::Status(code, body) => {
            let status = StatusCode::from_u16(code)
                .ok()
                .filter(|s| (200..=599).contains(&s.as_u16()))
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let content_type = if serde_json::from_str::<Value>(&body).is_ok() {
                json
            } else {
                HeaderValue::from_static("text/plain; charset=utf-8")
            };
            (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
        }
        Fault::Garbage => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, json)],
            "<html><body><h1>Gateway says hello</h1>this is not JSON</body></html>",
        )
            .into_response(),
        Fault::EmptyBody | Fault::Delay(_) => {
            (StatusCode::OK, [(header::CONTENT_TYPE, json)], "").into_response()
        }
    }
}
