//! The crate's behaviour tests.
