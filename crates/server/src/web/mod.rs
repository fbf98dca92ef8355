//! The web layer's plumbing: the request span and id, the one renderer of failed page
//! requests, and the login attempt of a request.

pub(crate) mod error;
pub(crate) mod login_attempt;
pub(crate) mod request;

pub use error::WebError;
pub use login_attempt::LoginAttempt;
