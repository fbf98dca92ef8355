//! How the hub stores the access tokens the provider issues: as API tokens of the user,
//! whose note names the client and the hub session, so that ending the session (logout)
//! revokes them.

use hubauth_store::NewApiToken;

use crate::error::HubError;
use crate::secrets::hash_token;

/// The API token record the store keeps for an access token the provider issues (the
/// token's hash only).
pub fn api_token_record(token: &hubauth_provider::NewAccessToken) -> NewApiToken {
    NewApiToken {
        hash: hash_token(&token.token),
        prefix: token.token.chars().take(4).collect(),
        user: token.user.clone(),
        note: token_note(&token.client_id, &token.session),
        scopes: token.scopes.clone(),
        created: token.created,
        expires: Some(token.expires),
    }
}

/// The note of an access token: the client and a marker of the hub session it was
/// issued in (16 hex digits of the session id's hash, which reveal nothing usable), so
/// that ending the session revokes it.
fn token_note(client_id: &str, session_hash: &str) -> String {
    format!(
        "{TOKEN_NOTE_PREFIX}{client_id}{SESSION_MARK}{}",
        session_marker(session_hash)
    )
}

/// The client an access token was issued to, from its note; `None` for tokens that are
/// not the provider's (users' API tokens).
pub fn token_client(note: &str) -> Option<&str> {
    note.strip_prefix(TOKEN_NOTE_PREFIX)?
        .rsplit_once(SESSION_MARK)
        .map(|(client, _)| client)
}

const TOKEN_NOTE_PREFIX: &str = "OAuth client ";
const SESSION_MARK: &str = "; hub session ";

fn session_marker(session_hash: &str) -> &str {
    session_hash.get(..16).unwrap_or(session_hash)
}

/// Revokes the access tokens issued to services in a hub session (`Some`), or in every
/// session of the user (`None`), as JupyterHub does at logout. Refresh tokens from those
/// sessions are refused at their next use. Returns how many tokens were revoked.
pub async fn revoke_session_tokens(
    state: &crate::services::Services,
    user: &str,
    session_hash: Option<&str>,
) -> Result<u64, HubError> {
    if state.provider.is_none() {
        return Ok(0);
    }
    let mut revoked = 0;
    for token in state.store.list_api_tokens(user).await? {
        let Some((_, marker)) = token
            .note
            .strip_prefix(TOKEN_NOTE_PREFIX)
            .and_then(|rest| rest.rsplit_once(SESSION_MARK))
        else {
            continue;
        };
        if session_hash.is_none_or(|hash| session_marker(hash) == marker)
            && state.store.delete_api_token(user, token.id).await?
        {
            revoked += 1;
        }
    }
    if revoked > 0 {
        // They may be cached at the REST API and the gateway.
        state.sessions_changed(user).await;
        tracing::info!(
            user,
            revoked,
            "revoked access tokens issued to services in the ended session"
        );
    }
    Ok(revoked)
}
