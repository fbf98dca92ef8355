//! The relying party's half: logout tokens from the identity provider end hub sessions.

use hubauth_core::{AuthModel, LogoutTokenError, ProviderSession};
use hubauth_store::{ProviderSessionLink, ProviderSessionQuery};

use crate::error::HubError;
use crate::services::{EndReason, Services};

/// Why a logout token did not end sessions.
#[derive(Debug, thiserror::Error)]
pub enum BackchannelError {
    /// The token was refused (Back-Channel Logout 1.0 §2.6): answered 400.
    #[error(transparent)]
    Refused(#[from] LogoutTokenError),
    /// The hub could not do its part (the database): answered 400
    /// `temporarily_unavailable`.
    #[error(transparent)]
    Service(#[from] HubError),
}

/// The provider session a login came from, when the login method left one in the model
/// (logins at an OpenID provider; see [`ProviderSession`]): the new hub session is stored
/// linked to it, so that the provider's logout token can end it.
pub fn provider_session_link(model: &AuthModel) -> Option<ProviderSessionLink> {
    ProviderSession::from_extra(&model.extra).map(|session| ProviderSessionLink {
        issuer: session.issuer,
        subject: session.subject,
        sid: session.sid,
    })
}

/// Verifies a logout token at `now` (the login method checks it like an ID token and
/// then as §2.6 says), refuses a `jti` already seen, and ends every session the token
/// names: those of its `sid`, or with `sub` only, every session of that subject.
/// Returns how many sessions ended.
pub async fn receive_logout_token(
    hub: &Services,
    token: &str,
    now: i64,
) -> Result<u64, BackchannelError> {
    // On a hub with several login methods, the method whose provider signed the token
    // verifies it; the others refuse it (another issuer, another key).
    let mut refusal = LogoutTokenError::Unsupported;
    let mut verified = None;
    for method in &hub.methods {
        let Some(login) = method.authenticator.redirect_login() else {
            continue;
        };
        match login.verify_logout_token(token, now).await {
            Ok(logout) => {
                verified = Some(logout);
                break;
            }
            Err(LogoutTokenError::Unsupported) => {}
            Err(err) => {
                if matches!(refusal, LogoutTokenError::Unsupported) {
                    refusal = err;
                }
            }
        }
    }
    let Some(logout) = verified else {
        return Err(refusal.into());
    };
    let fresh = hub
        .store
        .record_logout_token(&logout.issuer, &logout.jti, logout.expires, now)
        .await
        .map_err(HubError::from)?;
    if !fresh {
        return Err(LogoutTokenError::Replayed.into());
    }
    let sessions = hub
        .store
        .provider_sessions(ProviderSessionQuery {
            issuer: &logout.issuer,
            subject: logout.subject.as_deref(),
            sid: logout.sid.as_deref(),
        })
        .await
        .map_err(HubError::from)?;
    let mut ended = 0;
    for session in &sessions {
        ended += hub
            .sessions()
            .end(&session.user, Some(&session.id_hash), EndReason::Logout)
            .await?;
    }
    tracing::info!(
        sessions = ended,
        by_sid = logout.sid.is_some(),
        "the identity provider ended sessions (back-channel logout)"
    );
    Ok(ended)
}
