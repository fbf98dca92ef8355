//! The crate's behaviour tests: a real hub against the OpenShift mock over loopback HTTPS,
//! the mock's own API, and the options.

// Tests make real timestamps for the hub's clock.
#![allow(clippy::disallowed_methods)]

mod hub;
mod openshift_flow;
mod openshift_mock;
mod openshift_options;
