//! hubauth's test kit: what the workspace's tests start and talk to.
//!
//! - [`hub`]: a hub in-process on loopback with a real SQLite file (or any `db_url`), its
//!   one builder [`hub::start_hub_with`] and the shorthands over it, and a browser-like
//!   client with the login, logout and API helpers.
//! - [`process`]: the real `hubauth serve` binary as a child process (kill, restart,
//!   several replicas on one database).
//! - [`logs`]: what the hub logs during one test, in a binary where tests run at once.
//! - [`pg`]: a fresh PostgreSQL database per test, and [`on_both_backends!`], which runs
//!   one scenario on SQLite and on PostgreSQL.
//! - [`raw_http`]: requests written byte for byte, as no HTTP library would send them.
//! - [`slapd`]: a throwaway OpenLDAP server with a test CA.
//! - [`tls`]: certificates for a hub serving TLS itself, and a client that shows which
//!   certificate it got.
//!
//! A helper that cannot do its job panics with what went wrong: in a test that is the
//! failure message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod hub;
/// What the hub logs during one test (`hubauth-harness`'s, which the provider crates'
/// tests use too).
pub use hubauth_harness::logs;
pub mod pg;
pub mod process;
pub mod raw_http;
pub mod slapd;
pub mod tls;
