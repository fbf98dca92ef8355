//! The crate's behaviour tests (formerly its integration tests), built into its unit-test
//! binary so that the workspace links few test binaries.

// Tests measure real elapsed time, make real timestamps and wait for real processes.
#![allow(clippy::disallowed_methods)]

mod backchannel;
mod crypt;
mod events;
mod jupyterhub_hash;
mod store;
