//! The `post_auth_hook` extension point.

use std::future::Future;

use async_trait::async_trait;

use crate::authenticator::RequestContext;
use crate::error::AuthError;
use crate::model::AuthModel;

/// Runs after a user has passed every check, just before the login succeeds. It receives
/// the auth model and returns it, changed or not (upstream's `post_auth_hook`).
///
/// Rust callers implement this trait or wrap a closure with [`hook_fn`]; the config file
/// gives a sandboxed script (crate `hubauth-script`).
#[async_trait]
pub trait PostAuthHook: Send + Sync {
    /// Runs the hook for a login through the authenticator class `authenticator`.
    async fn run(
        &self,
        authenticator: &str,
        ctx: &RequestContext,
        model: AuthModel,
    ) -> Result<AuthModel, AuthError>;
}

/// A hook made from an async closure taking the model.
pub struct FnHook<F>(F);

impl<F> std::fmt::Debug for FnHook<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FnHook").finish_non_exhaustive()
    }
}

/// Wraps an async closure as a [`PostAuthHook`].
///
/// ```
/// use hubauth_core::{hook_fn, AuthModel};
/// let hook = hook_fn(|mut model: AuthModel| async move {
///     model.extra.insert("seen".into(), true.into());
///     Ok(model)
/// });
/// # let _ = hook;
/// ```
pub fn hook_fn<F, Fut>(f: F) -> FnHook<F>
where
    F: Fn(AuthModel) -> Fut + Send + Sync,
    Fut: Future<Output = Result<AuthModel, AuthError>> + Send,
{
    FnHook(f)
}

#[async_trait]
impl<F, Fut> PostAuthHook for FnHook<F>
where
    F: Fn(AuthModel) -> Fut + Send + Sync,
    Fut: Future<Output = Result<AuthModel, AuthError>> + Send,
{
    async fn run(
        &self,
        _authenticator: &str,
        _ctx: &RequestContext,
        model: AuthModel,
    ) -> Result<AuthModel, AuthError> {
        (self.0)(model).await
    }
}
