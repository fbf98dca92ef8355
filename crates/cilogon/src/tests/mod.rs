//! The crate's behaviour tests: a real hub against the CILogon mock over loopback HTTPS,
//! the options, and the mock's own API. Built into the unit-test binary so that the
//! workspace links few test binaries.

// Tests make real timestamps and wait for background tasks.
#![allow(clippy::disallowed_methods)]

mod common;
mod faults;
mod mock_api;
mod options;
mod refresh;
mod rules;
