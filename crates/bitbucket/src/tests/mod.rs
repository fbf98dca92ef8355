//! The crate's behaviour tests: a real hub against the Bitbucket mock over loopback HTTP,
//! the mock's own API, and the options.

// Tests make real timestamps for the hub's clock.
#![allow(clippy::disallowed_methods)]

mod bitbucket_flow;
mod bitbucket_mock;
mod bitbucket_options;
mod hub;
