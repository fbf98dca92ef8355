//! The crate's behaviour tests, built into its unit-test binary so that the workspace
//! links few test binaries.

// Tests make real timestamps for the hub's clock.
#![allow(clippy::disallowed_methods)]

mod common;
mod gitlab_flow;
mod gitlab_mock;
mod gitlab_options;
