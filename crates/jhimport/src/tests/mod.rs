//! The crate's behaviour tests, built into its unit-test binary so that the workspace
//! links few test binaries. The fixtures are in `crates/jhimport/tests/fixtures`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Tests make real timestamps for database names.
#![allow(clippy::disallowed_methods)]

mod import;
