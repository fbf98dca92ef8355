//! Stand-in for the PAM layer in builds without PAM support (no `pam` feature, or not
//! Linux): every call fails, and `Pam::from_view` refuses to build a PAMAuthenticator.

use std::ffi::CString;

use super::{AuthFailure, AuthRequest, AuthResult, PamError};

/// Whether this build can call PAM.
pub(super) const AVAILABLE: bool = false;

fn unavailable() -> PamError {
    PamError {
        code: -1,
        message: "this hubauth was built without PAM support".to_owned(),
    }
}

/// Always fails: no PAM in this build.
pub(super) fn authenticate(request: AuthRequest) -> AuthResult {
    drop(request);
    AuthResult::failed(AuthFailure::Start(unavailable()))
}

/// Always fails: no PAM in this build.
pub(super) fn open_session(_service: &CString, _user: &CString) -> Result<(), PamError> {
    Err(unavailable())
}

/// Always fails: no PAM in this build.
pub(super) fn close_session(_service: &CString, _user: &CString) -> Result<(), PamError> {
    Err(unavailable())
}
