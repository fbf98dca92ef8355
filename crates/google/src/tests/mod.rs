//! The crate's behaviour tests: a real hub against the Google mock over loopback HTTP
//! (`google_flow`), the options (`google_options`), and the mock's own API as Google
//! documents it (`google_mock`).

// Tests make real timestamps.
#![allow(clippy::disallowed_methods)]

mod google_flow;
mod google_mock;
mod google_options;
