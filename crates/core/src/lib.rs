//! The rules of hubauth: JupyterHub's `Authenticator` base class as a pure library.
//!
//! Nothing in this crate performs I/O or reads the clock. It holds:
//! - [`model`]: the auth model passed between the pipeline's stages;
//! - [`options`]: the `Authenticator` and `DummyAuthenticator` option definitions and their
//!   typed, validated form;
//! - [`rules`]: the default username, block, allow and admin rules;
//! - [`authenticator`]: the [`Authenticator`] trait every login method implements;
//! - [`pipeline`]: `get_authenticated_user`, the fixed order in which the stages run;
//! - [`hook`]: the `post_auth_hook` extension point;
//! - [`dummy`]: the `DummyAuthenticator`;
//! - [`scopes`]: JupyterHub's scopes: their grammar, expansion, filters and the checks
//!   that keep anyone from handing out more than they hold.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod authenticator;
pub mod backchannel;
pub mod dummy;
pub mod error;
pub mod hook;
pub mod methods;
pub mod model;
pub mod options;
pub mod pipeline;
pub mod redirect;
pub mod roles;
pub mod rules;
pub mod scopes;
pub mod secret;
pub mod shared_password;

pub use authenticator::{Authenticator, LoginKind, LogoutEffects, RefreshOutcome, RequestContext};
pub use backchannel::{LogoutToken, LogoutTokenError, ProviderSession};
pub use dummy::DummyAuthenticator;
pub use error::AuthError;
pub use hook::{PostAuthHook, hook_fn};
pub use methods::{HubWide, LinkBy, LoginMethod};
pub use model::{AuthModel, LoginData};
pub use options::{AuthenticatorConfig, GroupRules};
pub use pipeline::{DenyReason, Outcome, authorize, get_authenticated_user};
pub use redirect::{PendingRedirect, RedirectLogin, RedirectStart};
pub use roles::ManagedRole;
pub use rules::Rules;
pub use secret::Secret;
pub use shared_password::SharedPasswordAuthenticator;

// The behaviour tests name the crate as its users do.
#[cfg(test)]
extern crate self as hubauth_core;

#[cfg(test)]
mod tests;
