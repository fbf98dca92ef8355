//! The crate's behaviour tests: a real hub against the GitHub mock over loopback HTTP, the
//! options, and the mock's own API.

// Tests measure real elapsed time, make real timestamps and wait for real processes.
#![allow(clippy::disallowed_methods)]

mod github_flow;
mod github_mock;
mod github_options;
