//! hubauth's provider test harness: what every provider crate's tests do the same way.
//!
//! A provider crate's behaviour tests start a real hub in-process (real SQLite file, real
//! cookies and sessions, served over loopback HTTP) in front of the provider's mock, drive
//! a browser-like login through both (follow the redirects by hand, carry the cookies,
//! complete the OAuth round trip) and read the outcome (the hub's answer, the session,
//! the stored user and auth_state). All of that lives here, once; a provider's tests keep
//! only its quirks: its mock's users and clients, its class table, and how its
//! authenticator is built from a `[Class]` view.
//!
//! - [`hub`]: [`Loopback`] (the listener bound first so that the mock can be told the
//!   callback URL, the data directory and the hub's clock), [`Loopback::serve`] which
//!   builds and serves the hub as the CLI does into a [`Pair`], and [`Provider`] (the
//!   [`registry`] of a provider's classes and its constructor, for the hubs and for the
//!   options tests);
//! - [`browser`](mod@browser): the browser ([`client`], or [`browser()`] trusting the mock's CA), the
//!   login through the mock ([`login_as`]), the home page, sign-out, and what the hub
//!   stored;
//! - [`logs`]: what the hub and the mock log during one test, in a binary where tests
//!   run at once;
//! - [`tls`]: one self-signed loopback certificate per test binary, for mocks that must
//!   serve HTTPS.
//!
//! A new provider's tests implement [`IdpMock`] for its mock's handle ([`idp_mock!`]: how
//! a test says which user approves the next authorization, and which CA the browser must
//! trust), make a [`Provider`] of its classes and constructor ([`local_or`], [`arc`]),
//! start its mock on [`Loopback::callback_url`], and call [`Provider::serve`] with its
//! class table. ARCHITECTURE.md ("Testing a provider") shows the shape.
//!
//! This crate is a dev-dependency only. It sits below the provider crates and above the
//! hub's own crates; `hubauth-testkit` (the CLI-level kit) builds on it. A helper that
//! cannot do its job panics with what went wrong: in a test that is the failure message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod browser;
pub mod hub;
pub mod logs;
pub mod tls;

pub use browser::{
    approved_callback, auth_state, authorize_url, authorize_url_at, browser, callback, client,
    client_trusting, home, location, login_as, logout, query, scrape_xsrf, start_login,
    stored_user, unescape_html,
};
pub use hub::{
    Build, Built, HubSpec, IdpMock, Loopback, Pair, Provider, arc, demo_tables, from_config,
    local_or, now, registry,
};
