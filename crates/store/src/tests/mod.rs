//! The crate's behaviour tests (formerly its integration tests), built into its unit-test
//! binary so that the workspace links few test binaries.

mod crypt;
mod store;
