//! JupyterHub's scopes as the REST API uses them. The scope grammar, the definitions,
//! expansion and the coverage checks are pure and live in [`hubauth_core::scopes`]
//! (re-exported here); this module adds only their HTTP answer.

pub use hubauth_core::scopes::*;

/// 400 `Unknown scopes: ...` naming every requested scope that is neither known (see
/// [`is_known`]) nor `extra` (`self` for roles, `inherit` for tokens).
pub fn check_known(requested: &[String], extra: &str) -> Result<(), super::ApiError> {
    hubauth_core::scopes::check_known(requested, extra)
        .map_err(|unknown| super::ApiError::bad_request(unknown.to_string()))
}
