//! The crate's behaviour tests: a real hub against the Auth0 mock over loopback HTTPS, the
//! mock's own API, and the options.

// Tests make real timestamps for the hub's clock.
#![allow(clippy::disallowed_methods)]

mod auth0_flow;
mod auth0_mock;
mod auth0_options;
mod hub;
