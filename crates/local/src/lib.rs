//! Local UNIX accounts for hubauth: JupyterHub's `LocalAuthenticator` and
//! `PAMAuthenticator`.
//!
//! - [`Local<A>`] wraps any authenticator so that its users are local UNIX users:
//!   `create_system_users` / `add_user_cmd` / `uids` create missing system users when the
//!   hub adds a user, and `allowed_groups` admits members of UNIX groups. The `Local*`
//!   variants of other authenticators are one line each: a class definition from
//!   [`local_class_def!`] and `Local::from_view(view, GenericOAuthenticator::from_view)`.
//! - [`Pam`] authenticates through the system's libpam (Linux-PAM, loaded at run time,
//!   see [`PamLibrary`]) with `service`, `encoding`, `check_account`, `open_sessions`,
//!   `admin_groups`, `pam_normalize_username` and `executor_threads`; `PAMAuthenticator`
//!   is [`PamAuthenticator`] = `Local<Pam>`.
//!
//! ```no_run
//! # fn build(view: &hubauth_config::ClassView<'_>) -> Result<(), hubauth_config::ConfigError> {
//! use hubauth_local::{Local, Pam};
//! let pam = Local::from_view(view, Pam::from_view)?; // a PAMAuthenticator
//! # Ok(()) }
//! ```
//!
//! Only `src/pam/ffi.rs` uses `unsafe` (the calls into libpam); see its module docs.
#![deny(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod command;
pub mod error;
pub mod local;
pub mod options;
pub mod pam;
pub mod system;
pub mod username;

pub use error::LocalError;
pub use local::{Local, LocalRules};
pub use options::{
    Encoding, LOCAL_AUTHENTICATOR, LocalConfig, PAM_AUTHENTICATOR, PamConfig, classes,
};
pub use pam::{
    DEFAULT_LIBPAM, LIBPAM_ENV, Pam, PamAuthenticator, PamError, PamLibrary, PamLoadError,
    pam_authenticator, pam_available,
};
pub use username::check_system_username;

/// Items the [`local_class_def!`] macro refers to; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use hubauth_config::ClassDef;
}

// The behaviour tests name the crate as its users do.
#[cfg(test)]
extern crate self as hubauth_local;

#[cfg(test)]
mod tests;
