//! The endpoints. Each handler reads its raw input itself, so that any input, however
//! malformed, gets a protocol answer rather than a framework rejection.

pub(crate) mod authorize;
pub(crate) mod discovery;
pub(crate) mod logout;
pub(crate) mod token;
pub(crate) mod userinfo;
