//! An in-memory cache of validated sessions, so that a session check (forward-auth, the
//! built-in proxy, every page) does not hit the database on every request.
//!
//! Entries are keyed by the session id's hash and hold the user as stored (name, admin
//! flag, groups). An entry is used for at most `session_cache_ttl` seconds after it was
//! read from the database, and never past the session's own expiry.
//!
//! Revocation: changes made through this process (logout, refresh that revokes, login
//! that changes admin or groups, and the REST API through [`HubState::sessions_changed`])
//! drop the user's entries at once. Changes made by another replica (or directly in the
//! database) are seen here at the latest `session_cache_ttl` seconds later: that TTL is the
//! documented revocation bound.
//!
//! A lookup that raced with an invalidation never re-inserts what it read: every
//! invalidation bumps a generation counter, and an insert carrying an older generation is
//! dropped.
//!
//! [`HubState::sessions_changed`]: crate::state::HubState::sessions_changed

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use axum::http::{HeaderName, HeaderValue};
use hubauth_store::UserRecord;

/// The token headers for apps (`auth_state_headers`) computed for a session.
pub type AppHeaders = Arc<[(HeaderName, HeaderValue)]>;

/// A validated session as cached.
#[derive(Debug, Clone)]
struct Entry {
    user: Arc<UserRecord>,
    /// The session's token headers for apps, once computed: they come from the stored
    /// auth_state, which changes only with the events that drop the entry (login, refresh,
    /// logout), so they share its freshness.
    app_headers: Option<AppHeaders>,
    /// The session's own expiry (first invalid second).
    expires: i64,
    /// When the entry was read from the database.
    cached_at: i64,
}

/// The cache of validated sessions (see the module documentation).
#[derive(Debug)]
pub struct SessionCache {
    ttl: i64,
    capacity: usize,
    entries: RwLock<HashMap<String, Entry>>,
    generation: AtomicU64,
}

impl SessionCache {
    /// A cache whose entries live `ttl` seconds (0 turns caching off), holding at most
    /// `capacity` sessions (0 also turns caching off).
    pub fn new(ttl: u64, capacity: usize) -> Self {
        SessionCache {
            ttl: i64::try_from(ttl).unwrap_or(i64::MAX),
            capacity,
            entries: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    /// Whether the cache is in use.
    pub fn enabled(&self) -> bool {
        self.ttl > 0 && self.capacity > 0
    }

    /// The user of a cached, still-fresh session at `now`, or `None` (not cached, older
    /// than the TTL, or the session expired).
    pub fn get(&self, session_hash: &str, now: i64) -> Option<Arc<UserRecord>> {
        self.read_fresh(session_hash, now, |entry| Some(entry.user.clone()))
    }

    /// `read` of the entry of a session that is cached and fresh at `now`.
    fn read_fresh<T>(
        &self,
        session_hash: &str,
        now: i64,
        read: impl FnOnce(&Entry) -> Option<T>,
    ) -> Option<T> {
        if !self.enabled() {
            return None;
        }
        let entries = match self.entries.read() {
            Ok(entries) => entries,
            Err(poisoned) => poisoned.into_inner(),
        };
        let entry = entries.get(session_hash)?;
        if Self::is_fresh(entry, self.ttl, now) {
            read(entry)
        } else {
            None
        }
    }

    fn is_fresh(entry: &Entry, ttl: i64, now: i64) -> bool {
        now < entry.expires && now >= entry.cached_at && now.saturating_sub(entry.cached_at) < ttl
    }

    /// The current generation; read it before a database lookup and pass it to
    /// [`SessionCache::insert`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Caches a session read from the database at `now` (whose own expiry is `expires`),
    /// unless an invalidation happened since `generation` was read.
    pub fn insert(
        &self,
        session_hash: &str,
        user: Arc<UserRecord>,
        expires: i64,
        now: i64,
        generation: u64,
    ) {
        self.write_if_current(generation, |entries| {
            if entries.len() >= self.capacity && !entries.contains_key(session_hash) {
                let ttl = self.ttl;
                entries.retain(|_, entry| Self::is_fresh(entry, ttl, now));
                if entries.len() >= self.capacity {
                    // Still full of fresh entries: drop an eighth of them (arbitrary ones; they
                    // are only a cache and come back from the database on the next request).
                    let drop = (self.capacity / 8).max(1);
                    let victims: Vec<String> = entries.keys().take(drop).cloned().collect();
                    for key in victims {
                        entries.remove(&key);
                    }
                }
            }
            entries.insert(
                session_hash.to_owned(),
                Entry {
                    user,
                    app_headers: None,
                    expires,
                    cached_at: now,
                },
            );
        });
    }

    /// The token headers cached for a fresh session at `now`, if computed.
    pub fn app_headers(&self, session_hash: &str, now: i64) -> Option<AppHeaders> {
        self.read_fresh(session_hash, now, |entry| entry.app_headers.clone())
    }

    /// Keeps the token headers computed for a cached session, unless an invalidation
    /// happened since `generation` was read (they may come from an older auth_state).
    pub fn set_app_headers(&self, session_hash: &str, headers: AppHeaders, generation: u64) {
        self.write_if_current(generation, |entries| {
            if let Some(entry) = entries.get_mut(session_hash) {
                entry.app_headers = Some(headers);
            }
        });
    }

    /// Runs `write` on the entries unless the cache is off or an invalidation happened
    /// since `generation` was read (what was read before it may be stale).
    fn write_if_current(&self, generation: u64, write: impl FnOnce(&mut HashMap<String, Entry>)) {
        if !self.enabled() {
            return;
        }
        let mut entries = match self.entries.write() {
            Ok(entries) => entries,
            Err(poisoned) => poisoned.into_inner(),
        };
        if self.generation.load(Ordering::Acquire) == generation {
            write(&mut entries);
        }
    }

    /// Drops every cached session of `user`.
    pub fn invalidate_user(&self, user: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let mut entries = match self.entries.write() {
            Ok(entries) => entries,
            Err(poisoned) => poisoned.into_inner(),
        };
        entries.retain(|_, entry| entry.user.name != user);
    }

    /// Drops one cached session.
    pub fn invalidate_session(&self, session_hash: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let mut entries = match self.entries.write() {
            Ok(entries) => entries,
            Err(poisoned) => poisoned.into_inner(),
        };
        entries.remove(session_hash);
    }

    /// Drops everything (for example after a bulk change).
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let mut entries = match self.entries.write() {
            Ok(entries) => entries,
            Err(poisoned) => poisoned.into_inner(),
        };
        entries.clear();
    }

    /// How many sessions are cached (fresh or not yet evicted).
    pub fn len(&self) -> usize {
        match self.entries.read() {
            Ok(entries) => entries.len(),
            Err(poisoned) => poisoned.into_inner().len(),
        }
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> Arc<UserRecord> {
        Arc::new(UserRecord {
            id: 1,
            name: name.to_owned(),
            admin: false,
            created: 0,
            last_activity: None,
            groups: vec!["staff".to_owned()],
            roles: Vec::new(),
        })
    }

    #[test]
    fn entries_live_for_the_ttl_and_never_past_the_session() {
        let cache = SessionCache::new(5, 100);
        let generation = cache.generation();
        cache.insert("h", user("ann"), 1_000, 100, generation);
        assert_eq!(cache.get("h", 100).unwrap().name, "ann");
        assert!(cache.get("h", 104).is_some());
        assert!(cache.get("h", 105).is_none(), "older than the TTL");
        assert!(cache.get("other", 100).is_none());
        cache.insert("s", user("bob"), 102, 100, cache.generation());
        assert!(cache.get("s", 101).is_some());
        assert!(cache.get("s", 102).is_none(), "the session itself expired");
        // A clock that went backwards does not extend an entry.
        assert!(cache.get("h", 99).is_none());
    }

    #[test]
    fn invalidation_drops_a_users_entries_and_stale_inserts() {
        let cache = SessionCache::new(5, 100);
        cache.insert("a1", user("ann"), 1_000, 100, cache.generation());
        cache.insert("a2", user("ann"), 1_000, 100, cache.generation());
        cache.insert("b1", user("bob"), 1_000, 100, cache.generation());
        let before = cache.generation();
        cache.invalidate_user("ann");
        assert!(cache.get("a1", 100).is_none());
        assert!(cache.get("a2", 100).is_none());
        assert!(cache.get("b1", 100).is_some());
        // A lookup that read the database before the invalidation does not re-insert.
        cache.insert("a1", user("ann"), 1_000, 100, before);
        assert!(cache.get("a1", 100).is_none());
        cache.invalidate_session("b1");
        assert!(cache.is_empty());
    }

    #[test]
    fn zero_ttl_turns_caching_off() {
        let cache = SessionCache::new(0, 100);
        cache.insert("h", user("ann"), 1_000, 100, cache.generation());
        assert!(cache.get("h", 100).is_none());
        assert!(cache.is_empty());
    }

    #[test]
    fn size_is_bounded() {
        let cache = SessionCache::new(5, 16);
        for index in 0..100 {
            cache.insert(
                &format!("h{index}"),
                user("ann"),
                1_000,
                100,
                cache.generation(),
            );
            assert!(cache.len() <= 16);
        }
        assert!(cache.get("h99", 100).is_some(), "the newest entry is kept");
        // Stale entries go first.
        let cache = SessionCache::new(5, 4);
        for index in 0..4 {
            cache.insert(&format!("old{index}"), user("ann"), 1_000, 100, 0);
        }
        cache.insert("new", user("bob"), 1_000, 200, 0);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn app_headers_live_with_their_session_and_go_with_it() {
        let cache = SessionCache::new(5, 100);
        let generation = cache.generation();
        cache.insert("h", user("ann"), 1_000, 100, generation);
        assert!(cache.app_headers("h", 101).is_none());
        let headers: AppHeaders = vec![(
            HeaderName::from_static("x-token"),
            HeaderValue::from_static("t1"),
        )]
        .into();
        cache.set_app_headers("h", headers.clone(), cache.generation());
        assert_eq!(cache.app_headers("h", 101).unwrap(), headers);
        // Stale after the TTL, like the session.
        assert!(cache.app_headers("h", 105).is_none());
        // Gone when the user's sessions change...
        cache.invalidate_user("ann");
        assert!(cache.app_headers("h", 101).is_none());
        // ...and headers computed before that change are not kept.
        let before = cache.generation();
        cache.insert("h", user("ann"), 1_000, 100, before);
        cache.invalidate_user("bob");
        cache.set_app_headers("h", headers, before);
        assert!(cache.app_headers("h", 101).is_none());
    }
}
