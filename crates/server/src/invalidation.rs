//! Session cache invalidation, in this process and in every other hub process sharing the
//! database.
//!
//! Every change to what a cached session or API token check returns (a logout, a refresh
//! that revokes, a deleted or blocked user, an admin flag, groups or roles, a revoked token)
//! goes through one of [`Services::sessions_changed`], [`Services::users_changed`],
//! [`Services::session_ended`] or [`Services::everything_changed`], after the change is
//! committed. Each drops the entries from this process's [`SessionCache`] and announces the
//! change with [`Store::announce`](hubauth_store::Store::announce): on PostgreSQL a
//! notification that every other replica's [`listen`] task applies to its own cache, on
//! SQLite (one process) nothing.
//!
//! Notifications can be lost (the listening connection drops, or announcing fails). The
//! listener then reconnects and the whole cache is cleared once it listens again, and a
//! failed announcement is logged; either way `session_cache_ttl` remains the bound.
//!
//! A replica that reads a session from the database just before another replica's change
//! commits cannot cache the stale answer: it reads the cache's generation before the
//! database, the notification (sent after the commit) bumps the generation when applied,
//! and [`SessionCache::insert`] refuses an entry read under an older generation. If the
//! notification is applied before the generation is read, the database read comes after
//! the commit and sees the change.

use std::sync::Arc;

use hubauth_store::{CacheEvent, CacheEvents};

use crate::services::Services;
use crate::session_cache::SessionCache;

/// Above this many users, one change is announced as [`CacheEvent::All`] rather than one
/// notification per user (a group with thousands of members).
const MAX_USER_EVENTS: usize = 64;

impl Services {
    /// Call after changing anything a session or token check depends on for `user` (their
    /// sessions and tokens, deletion, admin flag, groups, roles, blocked status), once the
    /// change is committed: this process forgets the user's cached sessions and tokens at
    /// once, and on PostgreSQL every other hub process is told to forget them too (within
    /// milliseconds; see docs/guide/05-scaling.md). Should the notification be lost, the
    /// other processes see the change within `session_cache_ttl` seconds.
    pub async fn sessions_changed(&self, user: &str) {
        self.invalidate(CacheEvent::User(user.to_owned())).await;
    }

    /// [`Services::sessions_changed`] for several users.
    pub async fn users_changed(&self, users: &[String]) {
        if users.len() <= MAX_USER_EVENTS {
            for user in users {
                self.sessions_changed(user).await;
            }
            return;
        }
        for user in users {
            self.session_cache.invalidate_user(user);
        }
        // One notification instead of thousands: the others forget everything.
        self.announce(CacheEvent::All).await;
    }

    /// Call after one session ended (a logout): it is forgotten here and, on PostgreSQL, by
    /// every other hub process; the user's other sessions stay cached.
    pub async fn session_ended(&self, session_hash: &str) {
        self.invalidate(CacheEvent::Session(session_hash.to_owned()))
            .await;
    }

    /// Call after a change whose users are not known (a revoked OAuth token family, a
    /// start-up reconciliation): every process forgets everything it cached.
    pub async fn everything_changed(&self) {
        self.invalidate(CacheEvent::All).await;
    }

    async fn invalidate(&self, event: CacheEvent) {
        apply(&self.session_cache, &event);
        self.announce(event).await;
    }

    /// Tells the other processes; a failure does not fail the change (it is committed),
    /// it only leaves them to the TTL.
    async fn announce(&self, event: CacheEvent) {
        if let Err(err) = self.store.announce(&event).await {
            crate::metrics::cache_invalidation("announce_failed");
            tracing::warn!(
                error = %err,
                "could not tell the other hub processes to drop cached sessions; they see the change within session_cache_ttl"
            );
        }
    }
}

/// Applies an event (announced by another process, or a reconnection) to this cache.
pub fn apply(cache: &SessionCache, event: &CacheEvent) {
    match event {
        CacheEvent::User(user) => cache.invalidate_user(user),
        CacheEvent::Session(hash) => cache.invalidate_session(hash),
        // A reconnection: what was announced while the connection was down is lost.
        CacheEvent::All | CacheEvent::Listening => cache.clear(),
    }
}

/// Applies the events other hub processes announce to this process's cache, until the
/// task is aborted (the hub stops serving).
pub(crate) async fn listen(services: Arc<Services>, mut events: CacheEvents) {
    let mut connections: u64 = 0;
    while let Some(event) = events.next().await {
        if event == CacheEvent::Listening {
            crate::metrics::cache_invalidation("listening");
            connections += 1;
            tracing::info!(
                connections,
                "listening for session cache invalidations from other hub processes; cache cleared"
            );
        } else {
            crate::metrics::cache_invalidation("received");
        }
        apply(&services.session_cache, &event);
    }
}
