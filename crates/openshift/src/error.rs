//! Why an OpenShift step failed.

use hubauth_core::AuthError;

/// The step named when the OAuth server metadata cannot be read.
pub const METADATA_STEP: &str = "reading the OpenShift OAuth server metadata";
/// The step named when the user object cannot be used.
pub const USER_STEP: &str = "reading your OpenShift user";

/// An OpenShift-specific failure. Each refuses the login (fail closed); none carries a
/// token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenShiftError {
    /// `{openshift_url}/.well-known/oauth-authorization-server` could not be fetched.
    #[error("{0}")]
    MetadataUnreachable(String),
    /// The metadata endpoint answered with another status than 200.
    #[error("the OAuth server metadata answered HTTP {0}")]
    MetadataStatus(u16),
    /// The metadata has no `issuer` that is an http(s) URL.
    #[error("the OAuth server metadata names no usable issuer ({0})")]
    NoIssuer(String),
    /// The users/~ answer is not a User object with a `metadata.name`.
    #[error("the user object has no metadata.name")]
    NoName,
    /// The users/~ answer's `groups` is neither absent, null nor a list of group names.
    #[error("the user object's groups are not a list of group names")]
    MalformedGroups,
}

impl From<OpenShiftError> for AuthError {
    fn from(err: OpenShiftError) -> Self {
        let step = match err {
            OpenShiftError::MetadataUnreachable(_)
            | OpenShiftError::MetadataStatus(_)
            | OpenShiftError::NoIssuer(_) => METADATA_STEP,
            OpenShiftError::NoName | OpenShiftError::MalformedGroups => USER_STEP,
        };
        AuthError::Upstream {
            step: step.to_owned(),
            detail: err.to_string(),
        }
    }
}
