//! Stand-in for the PAM layer in builds without PAM support (no `pam` feature, or not
//! Linux): libpam can never be loaded, so no [`Api`] exists and `Pam::from_view` refuses to
//! build a PAMAuthenticator.

use std::ffi::CString;

use super::{AuthRequest, AuthResult, PamError, PamLoadError};

/// Whether this build can call PAM.
pub(super) const AVAILABLE: bool = false;

/// A loaded libpam, which this build never has.
#[derive(Debug)]
pub(super) enum Api {}

impl Api {
    /// Always fails: no PAM in this build.
    pub(super) fn open(_name: &str) -> Result<Api, PamLoadError> {
        Err(PamLoadError::NotBuilt)
    }

    /// Unreachable: no `Api` exists.
    pub(super) fn name(&self) -> &str {
        match *self {}
    }
}

/// Unreachable: no `Api` exists.
pub(super) fn authenticate(api: &'static Api, _request: AuthRequest) -> AuthResult {
    match *api {}
}

/// Unreachable: no `Api` exists.
pub(super) fn open_session(
    api: &'static Api,
    _service: &CString,
    _user: &CString,
) -> Result<(), PamError> {
    match *api {}
}

/// Unreachable: no `Api` exists.
pub(super) fn close_session(
    api: &'static Api,
    _service: &CString,
    _user: &CString,
) -> Result<(), PamError> {
    match *api {}
}
