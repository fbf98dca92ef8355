//! An in-memory cache of validated sessions, so that a session check (forward-auth, the
//! built-in proxy, every page, the REST API) does not hit the database on every request.
//!
//! Entries are keyed by the session id's hash (or an API token's, with a prefix such as
//! `token:`) and hold the user as stored (name, admin flag, groups). An entry is used for
//! at most `session_cache_ttl` seconds after it was read from the database, and never past
//! the session's own expiry. Beside the user, an entry may keep what was derived from the
//! same rows and changes with the same events: the token headers for apps
//! ([`SessionCache::app_headers`]) and what the REST API needs ([`ApiGrant`]).
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
//! Size: a hundred thousand sessions must fit in a few megabytes. Keys are kept as the 32
//! bytes of the digest (not its 64 hex digits on the heap), and a user's entries share one
//! record (the most recently read), so ten sessions of one user hold one copy of their
//! name and groups. An index from user to keys makes dropping a user's entries cost their
//! number, not the cache's size.
//!
//! [`HubState::sessions_changed`]: crate::state::HubState::sessions_changed

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use axum::body::Bytes;
use axum::http::{HeaderName, HeaderValue};
use hubauth_core::scopes::Scopes;
use hubauth_store::{ApiTokenRecord, UserRecord};
use sha2::Digest;

/// The token headers for apps (`auth_state_headers`) computed for a session.
pub type AppHeaders = Arc<[(HeaderName, HeaderValue)]>;

/// What the REST API needs about the caller of a cached session or API token: computed
/// from the user's roles (and the token's scopes) on the first API request, then kept with
/// the entry, so it is dropped by the same events (a role, group or admin change calls
/// [`crate::services::Services::sessions_changed`]; so does deleting a token).
#[derive(Debug)]
pub struct ApiGrant {
    /// The request's scopes: the user's own, or the token's limited to them.
    pub scopes: Arc<Scopes>,
    /// Whether the request carries every scope its user holds.
    pub unrestricted: bool,
    /// The token as stored, for token entries.
    pub token: Option<Arc<ApiTokenRecord>>,
    /// When the token's `last_activity` was last written (or read from the database):
    /// writes happen at most once per interval, whatever the request rate.
    pub activity_written: AtomicI64,
    /// The body of `GET /hub/api/user` for this caller, once rendered (only when it holds
    /// nothing read per request, such as `auth_state`).
    pub whoami: OnceLock<Bytes>,
}

impl ApiGrant {
    /// A grant with these scopes, for a session (`token` `None`) or a token.
    pub fn new(scopes: Scopes, unrestricted: bool, token: Option<ApiTokenRecord>) -> Self {
        let written = token
            .as_ref()
            .and_then(|token| token.last_activity)
            .unwrap_or(i64::MIN);
        ApiGrant {
            scopes: Arc::new(scopes),
            unrestricted,
            token: token.map(Arc::new),
            activity_written: AtomicI64::new(written),
            whoami: OnceLock::new(),
        }
    }

    /// Whether a token's `last_activity` is due to be written at `now` (at most once per
    /// `interval` seconds): `true` once per interval, to the one request that should write.
    pub fn claim_activity_write(&self, now: i64, interval: i64) -> bool {
        let last = self.activity_written.load(Ordering::Acquire);
        now.saturating_sub(last) >= interval
            && self
                .activity_written
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }
}

/// A cache key: the kind of credential and its SHA-256 digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    kind: u8,
    digest: [u8; 32],
}

/// Prefixes of the keys the hub uses, by kind (a session's key has none).
const PREFIXES: &[&str] = &["", "token", "api-token"];

/// Kind of a key that is not a known prefix and 64 hex digits: its whole text, hashed.
const OTHER: u8 = u8::MAX;

impl Key {
    /// The key of `text`: `[<prefix>:]<sha-256 hex>` as the hub writes them, or any other
    /// text (hashed whole, so distinct texts stay distinct keys).
    fn of(text: &str) -> Key {
        let (prefix, hex) = text.rsplit_once(':').unwrap_or(("", text));
        if let Some(kind) = PREFIXES.iter().position(|known| *known == prefix)
            && let Ok(kind) = u8::try_from(kind)
            && let Some(digest) = lower_hex_digest(hex)
        {
            return Key { kind, digest };
        }
        Key {
            kind: OTHER,
            digest: sha2::Sha256::digest(text.as_bytes()).into(),
        }
    }
}

/// The 32 bytes written as 64 lowercase hex digits in `hex` (as the hub writes digests),
/// or `None` for anything else (so no two texts give one key).
fn lower_hex_digest(hex: &str) -> Option<[u8; 32]> {
    fn nibble(byte: u8) -> Option<u8> {
        match byte {
            b'0'..=b'9' => Some(byte - b'0'),
            b'a'..=b'f' => Some(byte - b'a' + 10),
            _ => None,
        }
    }
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut digest = [0u8; 32];
    for (out, pair) in digest.iter_mut().zip(bytes.chunks_exact(2)) {
        let [high, low] = pair else { return None };
        *out = (nibble(*high)? << 4) | nibble(*low)?;
    }
    Some(digest)
}

/// A validated session as cached.
#[derive(Debug, Clone)]
struct Entry {
    /// The user as stored, shared by all of the user's entries.
    user: Arc<UserRecord>,
    /// The session's token headers for apps, once computed: they come from the stored
    /// auth_state, which changes only with the events that drop the entry (login, refresh,
    /// logout), so they share its freshness.
    app_headers: Option<AppHeaders>,
    /// What the REST API needs, once computed.
    api: Option<Arc<ApiGrant>>,
    /// The session's own expiry (first invalid second).
    expires: i64,
    /// When the entry was read from the database.
    cached_at: i64,
}

/// The entries and the index of them by user.
#[derive(Debug, Default)]
struct Entries {
    entries: HashMap<Key, Entry>,
    /// The keys of each user's entries.
    by_user: HashMap<String, Vec<Key>>,
}

impl Entries {
    fn remove(&mut self, key: &Key) {
        if let Some(entry) = self.entries.remove(key)
            && let Some(keys) = self.by_user.get_mut(&entry.user.name)
        {
            keys.retain(|other| other != key);
            if keys.is_empty() {
                self.by_user.remove(&entry.user.name);
            }
        }
    }

    fn remove_user(&mut self, user: &str) {
        for key in self.by_user.remove(user).unwrap_or_default() {
            self.entries.remove(&key);
        }
    }

    /// Rebuilds the index after entries went in bulk.
    fn reindex(&mut self) {
        self.by_user.clear();
        for (key, entry) in &self.entries {
            self.by_user
                .entry(entry.user.name.clone())
                .or_default()
                .push(*key);
        }
    }
}

/// The cache of validated sessions (see the module documentation).
#[derive(Debug)]
pub struct SessionCache {
    ttl: i64,
    capacity: usize,
    entries: RwLock<Entries>,
    generation: AtomicU64,
}

impl SessionCache {
    /// A cache whose entries live `ttl` seconds (0 turns caching off), holding at most
    /// `capacity` sessions (0 also turns caching off).
    pub fn new(ttl: u64, capacity: usize) -> Self {
        SessionCache {
            ttl: i64::try_from(ttl).unwrap_or(i64::MAX),
            capacity,
            entries: RwLock::new(Entries::default()),
            generation: AtomicU64::new(0),
        }
    }

    /// Whether the cache is in use.
    pub fn enabled(&self) -> bool {
        self.ttl > 0 && self.capacity > 0
    }

    fn read(&self) -> RwLockReadGuard<'_, Entries> {
        match self.entries.read() {
            Ok(entries) => entries,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn write(&self) -> RwLockWriteGuard<'_, Entries> {
        match self.entries.write() {
            Ok(entries) => entries,
            Err(poisoned) => poisoned.into_inner(),
        }
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
        let key = Key::of(session_hash);
        let entries = self.read();
        let entry = entries.entries.get(&key)?;
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
        self.insert_entry(session_hash, user, None, expires, now, generation);
    }

    /// Caches an API token read from the database at `now` with what the REST API needs
    /// about it, as [`SessionCache::insert`] does.
    pub fn insert_with_grant(
        &self,
        key: &str,
        user: Arc<UserRecord>,
        grant: Arc<ApiGrant>,
        expires: i64,
        now: i64,
        generation: u64,
    ) {
        self.insert_entry(key, user, Some(grant), expires, now, generation);
    }

    fn insert_entry(
        &self,
        text: &str,
        user: Arc<UserRecord>,
        api: Option<Arc<ApiGrant>>,
        expires: i64,
        now: i64,
        generation: u64,
    ) {
        let key = Key::of(text);
        self.write_if_current(generation, |cache| {
            if cache.entries.len() >= self.capacity && !cache.entries.contains_key(&key) {
                let ttl = self.ttl;
                cache
                    .entries
                    .retain(|_, entry| Self::is_fresh(entry, ttl, now));
                if cache.entries.len() >= self.capacity {
                    // Still full of fresh entries: drop an eighth of them (arbitrary ones; they
                    // are only a cache and come back from the database on the next request).
                    let drop = (self.capacity / 8).max(1);
                    let victims: Vec<Key> = cache.entries.keys().take(drop).copied().collect();
                    for victim in victims {
                        cache.entries.remove(&victim);
                    }
                }
                cache.reindex();
            }
            cache.remove(&key);
            // The user's other entries take this record too (read now, so at least as
            // fresh), and count as read no later than theirs was.
            let keys = cache.by_user.entry(user.name.clone()).or_default();
            for other in keys.iter() {
                if let Some(entry) = cache.entries.get_mut(other) {
                    entry.user = user.clone();
                    entry.cached_at = entry.cached_at.min(now);
                }
            }
            keys.push(key);
            cache.entries.insert(
                key,
                Entry {
                    user,
                    app_headers: None,
                    api,
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
        let key = Key::of(session_hash);
        self.write_if_current(generation, |cache| {
            if let Some(entry) = cache.entries.get_mut(&key) {
                entry.app_headers = Some(headers);
            }
        });
    }

    /// The user and the REST API's grant cached for a fresh session or token at `now`,
    /// if computed.
    pub fn api_grant(&self, key: &str, now: i64) -> Option<(Arc<UserRecord>, Arc<ApiGrant>)> {
        self.read_fresh(key, now, |entry| {
            entry
                .api
                .as_ref()
                .map(|grant| (entry.user.clone(), grant.clone()))
        })
    }

    /// Keeps the REST API's grant computed for a cached session, unless an invalidation
    /// happened since `generation` was read (the roles it came from may have changed).
    pub fn set_api_grant(&self, key: &str, grant: Arc<ApiGrant>, generation: u64) {
        let key = Key::of(key);
        self.write_if_current(generation, |cache| {
            if let Some(entry) = cache.entries.get_mut(&key) {
                entry.api = Some(grant);
            }
        });
    }

    /// Runs `write` on the entries unless the cache is off or an invalidation happened
    /// since `generation` was read (what was read before it may be stale).
    fn write_if_current(&self, generation: u64, write: impl FnOnce(&mut Entries)) {
        if !self.enabled() {
            return;
        }
        let mut entries = self.write();
        if self.generation.load(Ordering::Acquire) == generation {
            write(&mut entries);
        }
    }

    /// Drops every cached session (and token) of `user`.
    pub fn invalidate_user(&self, user: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.write().remove_user(user);
    }

    /// Drops one cached session.
    pub fn invalidate_session(&self, session_hash: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.write().remove(&Key::of(session_hash));
    }

    /// Drops everything (for example after a bulk change).
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let mut entries = self.write();
        entries.entries.clear();
        entries.by_user.clear();
    }

    /// How many sessions are cached (fresh or not yet evicted).
    pub fn len(&self) -> usize {
        self.read().entries.len()
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

    fn hash(index: u8) -> String {
        format!("{index:02x}").repeat(32)
    }

    #[test]
    fn keys_are_the_digest_with_their_kind() {
        let session = hash(0xab);
        assert_eq!(Key::of(&session).kind, 0);
        assert_eq!(Key::of(&format!("token:{session}")).kind, 1);
        assert_eq!(Key::of(&format!("api-token:{session}")).kind, 2);
        // The same digest under another kind is another entry.
        let cache = SessionCache::new(5, 100);
        cache.insert(&session, user("ann"), 1_000, 100, cache.generation());
        assert!(cache.get(&format!("token:{session}"), 100).is_none());
        assert!(cache.get(&session.to_uppercase(), 100).is_none());
        // Any other text is a key of its own.
        cache.insert("not hex", user("bob"), 1_000, 100, cache.generation());
        assert_eq!(cache.get("not hex", 100).unwrap().name, "bob");
        assert!(cache.get("not hex ", 100).is_none());
    }

    #[test]
    fn a_users_sessions_share_the_newest_record_and_its_age() {
        let cache = SessionCache::new(5, 100);
        cache.insert(&hash(1), user("ann"), 1_000, 100, cache.generation());
        let mut newer = (*user("ann")).clone();
        newer.groups = vec!["staff".to_owned(), "lab".to_owned()];
        cache.insert(&hash(2), Arc::new(newer), 1_000, 103, cache.generation());
        let first = cache.get(&hash(1), 103).unwrap();
        let second = cache.get(&hash(2), 103).unwrap();
        assert!(Arc::ptr_eq(&first, &second), "one record per user");
        assert_eq!(first.groups.len(), 2);
        // The first entry keeps its own age: it goes stale when it would have.
        assert!(cache.get(&hash(1), 105).is_none());
        assert!(cache.get(&hash(2), 105).is_some());
        // Dropping a user drops exactly their entries, however many there are.
        cache.insert(&hash(3), user("bob"), 1_000, 103, cache.generation());
        cache.invalidate_user("ann");
        assert_eq!(cache.len(), 1);
        assert!(cache.get(&hash(3), 103).is_some());
        cache.invalidate_session(&hash(3));
        assert!(cache.is_empty());
    }

    #[test]
    fn the_api_grant_lives_and_goes_with_its_entry() {
        let cache = SessionCache::new(5, 100);
        let generation = cache.generation();
        cache.insert(&hash(1), user("ann"), 1_000, 100, generation);
        assert!(cache.api_grant(&hash(1), 100).is_none());
        let grant = Arc::new(ApiGrant::new(Scopes::default(), true, None));
        cache.set_api_grant(&hash(1), grant.clone(), generation);
        let (cached_user, cached) = cache.api_grant(&hash(1), 101).unwrap();
        assert_eq!(cached_user.name, "ann");
        assert!(Arc::ptr_eq(&cached, &grant));
        assert!(
            cache.api_grant(&hash(1), 105).is_none(),
            "stale with its entry"
        );
        // A grant computed before an invalidation is not kept.
        cache.insert(&hash(1), user("ann"), 1_000, 100, cache.generation());
        let before = cache.generation();
        cache.invalidate_user("bob");
        cache.set_api_grant(&hash(1), grant.clone(), before);
        assert!(cache.api_grant(&hash(1), 100).is_none());
        // A token entry comes with its grant, and goes with its owner.
        let key = format!("api-token:{}", hash(2));
        cache.insert_with_grant(&key, user("ann"), grant, 2_000, 100, cache.generation());
        assert!(cache.api_grant(&key, 100).is_some());
        cache.invalidate_user("ann");
        assert!(cache.api_grant(&key, 100).is_none());
    }

    #[test]
    fn token_activity_is_claimed_once_per_interval() {
        let token = ApiTokenRecord {
            id: 1,
            hash: String::new(),
            prefix: String::new(),
            user: "ann".to_owned(),
            note: String::new(),
            scopes: Vec::new(),
            created: 0,
            expires: None,
            last_activity: Some(100),
        };
        let grant = ApiGrant::new(Scopes::default(), true, Some(token));
        assert!(!grant.claim_activity_write(159, 60));
        assert!(grant.claim_activity_write(160, 60));
        assert!(
            !grant.claim_activity_write(160, 60),
            "only one request writes"
        );
        assert!(!grant.claim_activity_write(219, 60));
        assert!(grant.claim_activity_write(220, 60));
        let never_used = ApiGrant::new(Scopes::default(), true, None);
        assert!(never_used.claim_activity_write(0, 60));
    }
}
