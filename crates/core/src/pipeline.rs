//! `get_authenticated_user`: the fixed order in which an authenticator's stages run.

use crate::authenticator::{Authenticator, RequestContext};
use crate::error::AuthError;
use crate::hook::PostAuthHook;
use crate::model::{AuthModel, LoginData};

/// Why a login was refused without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyReason {
    /// `authenticate` said no (wrong password, unknown user...).
    AuthenticationFailed,
    /// The normalized name failed `validate_username`.
    InvalidUsername,
    /// The name is blocked (`check_blocked_users`).
    Blocked,
    /// No allow rule admitted the user.
    NotAllowed,
    /// The name belongs to an account another login method owns (a hub with several
    /// methods; see [`crate::methods`]).
    OtherMethod,
}

impl DenyReason {
    /// A short machine-friendly label for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            DenyReason::AuthenticationFailed => "authentication_failed",
            DenyReason::InvalidUsername => "invalid_username",
            DenyReason::Blocked => "blocked",
            DenyReason::NotAllowed => "not_allowed",
            DenyReason::OtherMethod => "other_login_method",
        }
    }
}

/// The result of a login attempt that did not raise an error.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The user may log in with this model.
    Success(Box<AuthModel>),
    /// The user may not log in.
    Denied {
        /// The normalized name, when authentication got that far.
        name: Option<String>,
        /// Why.
        reason: DenyReason,
    },
}

/// Authenticates a login attempt and applies every rule, in upstream's order:
/// authenticate → normalize_username → validate_username → check_blocked_users →
/// allow (`allow_all`, else check_allowed) → is_admin (only when the model leaves admin
/// open) → post_auth_hook.
///
/// Groups, roles and auth_state are persisted by the caller afterwards.
pub async fn get_authenticated_user(
    authenticator: &dyn Authenticator,
    hook: Option<&dyn PostAuthHook>,
    ctx: &RequestContext,
    data: &LoginData,
) -> Result<Outcome, AuthError> {
    let Some(model) = authenticator.authenticate(ctx, data).await? else {
        return Ok(Outcome::Denied {
            name: None,
            reason: DenyReason::AuthenticationFailed,
        });
    };
    authorize(authenticator, hook, ctx, model).await
}

/// The stages after `authenticate`, for callers that authenticated by other means (the
/// OAuth callback builds the model from the provider's answer).
pub async fn authorize(
    authenticator: &dyn Authenticator,
    hook: Option<&dyn PostAuthHook>,
    ctx: &RequestContext,
    mut model: AuthModel,
) -> Result<Outcome, AuthError> {
    model.name = authenticator.normalize_username(&model.name);
    let name = model.name.clone();
    if !authenticator.validate_username(&name) {
        tracing::warn!(user = %loggable(&name), "Disallowing invalid username");
        return Ok(denied(name, DenyReason::InvalidUsername));
    }
    model = match check_rules(authenticator, model).await? {
        Outcome::Success(model) => *model,
        denial => return Ok(denial),
    };
    if let Some(hook) = hook {
        model = hook.run(authenticator.class_name(), ctx, model).await?;
        if model.name != name {
            // A hook that renames the user would bypass every check above.
            return Err(AuthError::Hook(format!(
                "post_auth_hook changed the user name from {name:?} to {:?}",
                model.name
            )));
        }
    }
    Ok(Outcome::Success(Box::new(model)))
}

/// Re-checks a refreshed model against the block, allow and admin rules (hubauth's fix F7:
/// a user who no longer passes loses access at the next refresh). The name is not
/// normalized again and the post_auth_hook does not run.
pub async fn recheck(
    authenticator: &dyn Authenticator,
    model: AuthModel,
) -> Result<Outcome, AuthError> {
    check_rules(authenticator, model).await
}

async fn check_rules(
    authenticator: &dyn Authenticator,
    mut model: AuthModel,
) -> Result<Outcome, AuthError> {
    let name = model.name.clone();
    if !authenticator.check_blocked_users(&name, &model).await? {
        tracing::warn!(user = %name, "User blocked. Stop authentication");
        return Ok(denied(name, DenyReason::Blocked));
    }
    let allowed = authenticator.rules().config().allow_all
        || authenticator.check_allowed(&name, &model).await?;
    if !allowed {
        tracing::warn!(user = %name, "User not allowed.");
        return Ok(denied(name, DenyReason::NotAllowed));
    }
    if model.admin.is_none() {
        model.admin = authenticator.is_admin(&model).await?;
    }
    Ok(Outcome::Success(Box::new(model)))
}

fn denied(name: String, reason: DenyReason) -> Outcome {
    Outcome::Denied {
        name: Some(name),
        reason,
    }
}

/// A name as it may appear in a log line: long names are cut, as upstream does, and
/// control characters escaped.
pub fn loggable(name: &str) -> String {
    let count = name.chars().count();
    let shown: String = if count > 32 {
        let head: String = name.chars().take(16).collect();
        format!("{head}...({count} chars)")
    } else {
        name.to_owned()
    };
    shown.escape_debug().to_string()
}
