//! The login attempt of a request (`POST /hub/login`, `/hub/oauth_login`,
//! `/hub/oauth_callback`): its handler says who tried and what came of it as it decides,
//! and the request layer logs it once when the response is ready
//! ([`crate::services::LoginRecord::log`]), inside the request's span. An attempt that ends in
//! a [`super::WebError`] without an outcome gets one from the error.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::Response;

use crate::services::{LoginOutcome, LoginRecord};
use crate::state::AppState;

/// Where a request's login attempt is kept until its response is ready (set up by the
/// request layer for every request; only handlers that take a [`LoginAttempt`] fill it).
#[derive(Debug, Clone, Default)]
pub(crate) struct Slot(Arc<Mutex<Option<LoginRecord>>>);

impl Slot {
    fn lock(&self) -> MutexGuard<'_, Option<LoginRecord>> {
        match self.0.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Logs the attempt, if the request made one: with the outcome its handler gave, or
    /// the one of the error it ended in. A response without either (the redirect to the
    /// identity provider) is not a finished login and logs nothing.
    pub(crate) fn log(&self, response: &Response) {
        let Some(mut record) = self.lock().take() else {
            return;
        };
        if record.outcome().is_none()
            && let Some(page) = response.extensions().get::<super::error::ErrorPage>()
        {
            record.set_outcome(page.login_outcome.clone());
        }
        record.log();
    }
}

/// The login attempt of this request, as its handler fills it in.
#[derive(Debug, Clone)]
pub struct LoginAttempt(Slot);

impl LoginAttempt {
    /// Sets the user name as it may be logged (untrusted input is shortened).
    pub fn user(&self, name: &str) {
        if let Some(record) = self.0.lock().as_mut() {
            record.set_user(name);
        }
    }

    /// Names the login method that handles the attempt: its class and, on a hub with
    /// several, its name (empty otherwise).
    pub fn method(&self, method: &hubauth_core::LoginMethod) {
        if let Some(record) = self.0.lock().as_mut() {
            record.set_method(method.authenticator.class_name(), &method.name);
        }
    }

    /// Sets what the attempt came to.
    pub fn outcome(&self, outcome: LoginOutcome) {
        if let Some(record) = self.0.lock().as_mut() {
            record.set_outcome(outcome);
        }
    }
}

impl FromRequestParts<AppState> for LoginAttempt {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // Without the request layer (a handler served on its own) the attempt is kept
        // nowhere and not logged.
        let slot = parts.extensions.get::<Slot>().cloned().unwrap_or_default();
        *slot.lock() = Some(LoginRecord::new(state.authenticator.class_name()));
        Ok(LoginAttempt(slot))
    }
}
