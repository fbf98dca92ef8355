//! OpenShift login for hubauth: `OpenShiftOAuthenticator` and
//! `LocalOpenShiftOAuthenticator`, upstream oauthenticator's OpenShift provider on hubauth's
//! OAuth base.
//!
//! - The cluster is `openshift_url` (`OPENSHIFT_URL`, in-cluster by default). Its OAuth
//!   server is found from `{openshift_url}/.well-known/oauth-authorization-server` (the
//!   `issuer`) unless `openshift_auth_api_url` says, at the first login rather than at
//!   start-up, and asked again after a failure ([`discovery`]).
//! - The user is `GET {openshift_rest_api_url}/apis/user.openshift.io/v1/users/~`, kept in
//!   auth_state under `openshift_user`; the username is its `metadata.name` and its
//!   `groups` are what `allowed_groups` and `admin_groups` (with `manage_groups`) see.
//!   An answer that is not a User object with a name and a list of group names is
//!   refused.
//! - TLS: the in-cluster service account CA is trusted by default when it exists;
//!   `validate_cert` and `ca_certs` are upstream's deprecated names.
//!
//! With the `mock` feature, [`mock`] is a mock of an OpenShift cluster for tests and
//! `hubauth demo --provider openshift`.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod discovery;
pub mod error;
#[cfg(feature = "mock")]
pub mod mock;
pub mod options;
pub mod provider;

use std::sync::Arc;

use hubauth_config::{ClassDef, ClassView, ConfigError};
use hubauth_core::Authenticator;

pub use error::OpenShiftError;
pub use options::{LOCAL_OPENSHIFT_OAUTHENTICATOR, OPENSHIFT_OAUTHENTICATOR, OpenShiftConfig};
pub use provider::{OpenShift, OpenShiftOAuthenticator, openshift_from_view};

/// Every class this crate defines, in generate-config order.
pub fn classes() -> [&'static ClassDef; 2] {
    [&OPENSHIFT_OAUTHENTICATOR, &LOCAL_OPENSHIFT_OAUTHENTICATOR]
}

/// Builds `OpenShiftOAuthenticator` as a shared authenticator (the catalog's builder).
pub fn openshift_authenticator(
    view: &ClassView<'_>,
) -> Result<Arc<dyn Authenticator>, ConfigError> {
    Ok(Arc::new(openshift_from_view(view)?))
}

/// Builds `LocalOpenShiftOAuthenticator` (OpenShift users who are also local UNIX users).
pub fn local_openshift_from_view(
    view: &ClassView<'_>,
) -> Result<Arc<dyn Authenticator>, ConfigError> {
    Ok(Arc::new(hubauth_local::Local::from_view(
        view,
        openshift_from_view,
    )?))
}

// The behaviour tests name the crate as its users do.
#[cfg(test)]
extern crate self as hubauth_openshift;

#[cfg(test)]
mod tests;
