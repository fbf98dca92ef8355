//! The periodic clean-up (`purge_expired_interval`): expired sessions end as a logout would,
//! and expired pending logins, API tokens and OAuth token families are deleted.
//!
//! Without it, a session whose cookie never comes back would keep what its login opened
//! (a PAM session, tokens issued to services) until the next restart, and the tables would
//! only grow. Every replica runs it; deleting what another replica already deleted is a
//! no-op.

use std::sync::Arc;
use std::time::Duration;

use crate::error::HubError;
use crate::services::{EndReason, Services};

/// Expired sessions read per query.
const SESSION_BATCH: u32 = 500;
/// Batches per clean-up at most; what is left waits for the next one.
const MAX_BATCHES: u32 = 200;

/// What one clean-up removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    /// Expired sessions ended.
    pub sessions: u64,
    /// Expired pending logins deleted.
    pub login_states: u64,
    /// Expired API tokens (including those issued to services) deleted.
    pub api_tokens: u64,
    /// Authorization codes and refresh tokens of expired token families deleted.
    pub oauth_grants: u64,
}

/// Removes what expired at or before `now`.
pub async fn purge_expired(state: &Services, now: i64) -> Result<Purged, HubError> {
    let mut purged = Purged::default();
    for _ in 0..MAX_BATCHES {
        let expired = state.store.expired_sessions(now, SESSION_BATCH).await?;
        let full_batch = expired.len() >= SESSION_BATCH as usize;
        for expired_session in expired {
            let ended = state
                .sessions()
                .end(
                    &expired_session.user,
                    Some(&expired_session.id_hash),
                    EndReason::Expired,
                )
                .await?;
            if ended > 0 {
                purged.sessions += 1;
            }
        }
        if !full_batch {
            break;
        }
    }
    purged.login_states = state.store.delete_expired_login_states(now).await?;
    purged.api_tokens = state.store.delete_expired_api_tokens(now).await?;
    purged.oauth_grants = state.store.delete_expired_oauth_grants(now).await?;
    Ok(purged)
}

/// Runs the clean-up every `interval` until the task is dropped. The first one comes one
/// interval after start (start-up itself removes expired sessions). A failure (database
/// unavailable) is logged and retried at the next tick.
pub async fn run(state: Arc<Services>, interval: Duration) {
    #[allow(clippy::disallowed_methods)]
    // when the next clean-up runs; the purge gets its time from the clock
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let now = state.clock.now();
        match state.metrics.scope(purge_expired(&state, now)).await {
            Ok(purged) if purged != Purged::default() => tracing::info!(
                sessions = purged.sessions,
                login_states = purged.login_states,
                api_tokens = purged.api_tokens,
                oauth_grants = purged.oauth_grants,
                "removed expired data"
            ),
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(error = %err, "cleaning up expired data failed; retrying at the next interval")
            }
        }
    }
}
