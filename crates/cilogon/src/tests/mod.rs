//! The crate's behaviour tests.
#![allow(clippy::disallowed_methods)]
