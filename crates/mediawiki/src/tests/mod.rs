//! The crate's behaviour tests: a real hub against the MediaWiki mock over loopback HTTP,
//! the wiki failing or answering garbage, the options, and the mock's own API.

// Tests make real timestamps for the hub's clock.
#![allow(clippy::disallowed_methods)]

mod hub;
mod mediawiki_faults;
mod mediawiki_flow;
mod mediawiki_mock;
mod mediawiki_options;
