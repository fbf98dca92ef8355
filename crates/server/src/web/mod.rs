//! The web layer's plumbing: the request span, id and time, the one renderer of failed
//! page requests, the login attempt of a request, and a request's session.

pub(crate) mod error;
pub(crate) mod login_attempt;
pub(crate) mod request;
pub(crate) mod session;

pub use error::WebError;
pub use login_attempt::LoginAttempt;
pub(crate) use request::Now;
