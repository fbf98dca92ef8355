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
//! Size: a hundred thousand sessions must fit in a few megabytes (issue 18 item 6, in
//! BENCHMARKS.md). An entry is a 48-byte slot in one vector: the 32 bytes of the digest
//! (never a prefix of it: see `Slot`), its user's index, the next slot of the same user,
//! and its expiry and age as 32-bit seconds. The tables that find a slot hold only its
//! 4-byte index, one table per kind of key. A user's entries share one record (the most
//! recently read), and form a list through their slots, so dropping a user's entries
//! costs their number, not the cache's size. The token headers and the API grant, which
//! most entries never get, live in a map beside the slots.
//!
//! [`HubState::sessions_changed`]: crate::state::HubState::sessions_changed

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use axum::body::Bytes;
use axum::http::{HeaderName, HeaderValue};
use hashbrown::HashTable;
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    kind: u8,
    digest: [u8; 32],
}

/// Prefixes of the keys the hub uses, by kind (a session's key has none).
const PREFIXES: &[&str] = &["", "token", "api-token"];

/// Kind of a key that is not a known prefix and 64 hex digits: its whole text, hashed.
const OTHER: u8 = 3;

/// How many kinds there are (one table each).
const KINDS: usize = 4;

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

    /// The table's hash of a digest: its first eight bytes. They are already uniform (a
    /// SHA-256), and only credentials the database accepted are inserted, so a client
    /// cannot pile entries into one place by choosing what it sends.
    fn hash(digest: &[u8; 32]) -> u64 {
        let [a, b, c, d, e, f, g, h, ..] = *digest;
        u64::from_le_bytes([a, b, c, d, e, f, g, h])
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

/// "No slot", "no user": the end of a list of slots, or a free slot's user.
const NONE: u32 = u32::MAX;

/// A time as kept in a slot: seconds since 1970 in 32 bits, saturated (so an expiry past
/// 2106, such as a token's "never", is 2106, and one before 1970 is 1970). A clock outside
/// that range caches nothing (see [`SessionCache::insert`]) and finds nothing fresh.
fn secs(time: i64) -> u32 {
    u32::try_from(time.clamp(0, i64::from(u32::MAX))).unwrap_or(u32::MAX)
}

/// One cached credential (48 bytes).
///
/// The slot holds the whole digest, and a lookup matches only when all 32 bytes are
/// equal: an entry is bound to its cookie or token exactly as the database row is, so no
/// other credential can ever be answered with it (the tables' hash, eight of the bytes,
/// only picks where to look). Keying by half the digest would save nothing here: the
/// other half would have to be kept to check it.
#[derive(Debug, Clone, Copy)]
struct Slot {
    digest: [u8; 32],
    /// The user's index in [`Entries::users`]; [`NONE`] for a free slot.
    user: u32,
    /// The user's next slot or, for a free slot, the next free one ([`NONE`] ends both).
    next: u32,
    /// The session's own expiry (first invalid second), see [`secs`].
    expires: u32,
    /// When the entry was read from the database, see [`secs`].
    cached_at: u32,
}

impl Slot {
    fn is_fresh(&self, ttl: i64, now: i64) -> bool {
        let cached_at = i64::from(self.cached_at);
        now < i64::from(self.expires) && now >= cached_at && now.saturating_sub(cached_at) < ttl
    }
}

/// What an entry may keep beside its user, once computed: most entries have neither, so
/// these live in a map beside the slots rather than in each slot.
#[derive(Debug, Default)]
struct Extras {
    /// The session's token headers for apps: they come from the stored auth_state, which
    /// changes only with the events that drop the entry (login, refresh, logout), so they
    /// share its freshness.
    app_headers: Option<AppHeaders>,
    /// What the REST API needs.
    api: Option<Arc<ApiGrant>>,
}

/// A user with cached entries.
#[derive(Debug)]
struct UserSlot {
    /// The user as stored (the most recently read), shared by all of the user's entries.
    record: Arc<UserRecord>,
    /// The user's first slot: the user's slots form a list through [`Slot::next`], so
    /// dropping them costs their number, not the cache's size.
    head: u32,
    /// No entry of the user was read later than this (see [`secs`]).
    newest: u32,
}

/// The entries: slots in one vector (a free list through the unused ones), a table of
/// slot indices per kind of key, the users they belong to and the extras of some.
#[derive(Debug)]
struct Entries {
    slots: Vec<Slot>,
    /// The first free slot, or [`NONE`].
    free: u32,
    len: usize,
    /// Indices into `slots`, hashed by digest, one table per kind of key.
    tables: [HashTable<u32>; KINDS],
    extras: HashMap<u32, Extras>,
    users: Vec<Option<UserSlot>>,
    free_users: Vec<u32>,
    /// Indices into `users`, hashed by name.
    by_name: HashTable<u32>,
    names: RandomState,
    /// Where the next eviction of fresh entries starts, so that it goes round the slots.
    evict_from: usize,
}

impl Entries {
    fn new() -> Self {
        Entries {
            slots: Vec::new(),
            free: NONE,
            len: 0,
            tables: Default::default(),
            extras: HashMap::new(),
            users: Vec::new(),
            free_users: Vec::new(),
            by_name: HashTable::new(),
            names: RandomState::new(),
            evict_from: 0,
        }
    }

    /// The slot of `key`, if cached.
    fn find(&self, key: &Key) -> Option<u32> {
        let slots = &self.slots;
        self.tables[usize::from(key.kind)]
            .find(Key::hash(&key.digest), |&index| {
                slots[index as usize].digest == key.digest
            })
            .copied()
    }

    /// The user slot of `name`, if the user has entries.
    fn find_user(&self, name: &str) -> Option<u32> {
        let users = &self.users;
        self.by_name
            .find(self.names.hash_one(name), |&index| {
                users[index as usize]
                    .as_ref()
                    .is_some_and(|user| user.record.name == name)
            })
            .copied()
    }

    fn user(&self, index: u32) -> Option<&UserSlot> {
        self.users.get(index as usize)?.as_ref()
    }

    /// The user slot for `record` read at `now`, created if the user has no entries: it
    /// takes `record` (read now, so at least as fresh), and the user's entries count as
    /// read no later than now (they may not live longer for a clock that went back).
    fn user_for(&mut self, record: Arc<UserRecord>, now: u32) -> Option<u32> {
        if let Some(index) = self.find_user(&record.name) {
            let user = self.users[index as usize].as_mut()?;
            user.record = record;
            if now < user.newest {
                let mut slot = user.head;
                while slot != NONE {
                    let entry = &mut self.slots[slot as usize];
                    entry.cached_at = entry.cached_at.min(now);
                    slot = entry.next;
                }
            }
            user.newest = now;
            return Some(index);
        }
        let hash = self.names.hash_one(&record.name);
        let user = Some(UserSlot {
            record,
            head: NONE,
            newest: now,
        });
        let index = match self.free_users.pop() {
            Some(index) => {
                self.users[index as usize] = user;
                index
            }
            None => {
                let index = u32::try_from(self.users.len()).ok()?;
                self.users.push(user);
                index
            }
        };
        let (users, names) = (&self.users, &self.names);
        self.by_name.insert_unique(hash, index, |&other| {
            users[other as usize]
                .as_ref()
                .map_or(0, |user| names.hash_one(&user.record.name))
        });
        Some(index)
    }

    /// Frees a user slot whose entries are all gone.
    fn drop_user(&mut self, index: u32) {
        let Some(user) = self.users.get_mut(index as usize).and_then(Option::take) else {
            return;
        };
        if let Ok(found) = self
            .by_name
            .find_entry(self.names.hash_one(&user.record.name), |&other| {
                other == index
            })
        {
            found.remove();
        }
        self.free_users.push(index);
    }

    /// Adds an entry of `user` (a user slot) for `key`, which is not cached.
    fn add(&mut self, key: &Key, user: u32, expires: u32, now: u32) -> Option<u32> {
        let head = self.user(user)?.head;
        let slot = Slot {
            digest: key.digest,
            user,
            next: head,
            expires,
            cached_at: now,
        };
        let index = if self.free == NONE {
            let index = u32::try_from(self.slots.len())
                .ok()
                .filter(|index| *index != NONE)?;
            self.slots.push(slot);
            index
        } else {
            let index = self.free;
            self.free = self.slots[index as usize].next;
            self.slots[index as usize] = slot;
            index
        };
        if let Some(Some(user)) = self.users.get_mut(user as usize) {
            user.head = index;
        }
        let slots = &self.slots;
        self.tables[usize::from(key.kind)].insert_unique(Key::hash(&key.digest), index, |&other| {
            Key::hash(&slots[other as usize].digest)
        });
        self.len += 1;
        Some(index)
    }

    /// Takes slot `index` out of its table and its extras, and puts it on the free list;
    /// its user's list is the caller's to mend.
    fn release(&mut self, index: u32) {
        let Some(slot) = self.slots.get(index as usize).copied() else {
            return;
        };
        if slot.user == NONE {
            return;
        }
        let hash = Key::hash(&slot.digest);
        // The slot does not say its kind (that would cost it four more bytes): it is in
        // exactly one of the tables.
        for table in &mut self.tables {
            if let Ok(found) = table.find_entry(hash, |&other| other == index) {
                found.remove();
                break;
            }
        }
        self.extras.remove(&index);
        self.slots[index as usize] = Slot {
            digest: [0; 32],
            user: NONE,
            next: self.free,
            expires: 0,
            cached_at: 0,
        };
        self.free = index;
        self.len -= 1;
    }

    /// Drops the entry in slot `index`: its cost is the number of its user's entries.
    fn remove(&mut self, index: u32) {
        let Some(slot) = self.slots.get(index as usize).copied() else {
            return;
        };
        let Some(user) = self.user(slot.user) else {
            return;
        };
        if user.head == index {
            if let Some(Some(user)) = self.users.get_mut(slot.user as usize) {
                user.head = slot.next;
            }
        } else {
            let mut previous = user.head;
            while previous != NONE {
                let entry = &mut self.slots[previous as usize];
                if entry.next == index {
                    entry.next = slot.next;
                    break;
                }
                previous = entry.next;
            }
        }
        self.release(index);
        if self.user(slot.user).is_some_and(|user| user.head == NONE) {
            self.drop_user(slot.user);
        }
    }

    fn remove_user(&mut self, name: &str) {
        let Some(user) = self.find_user(name) else {
            return;
        };
        let mut slot = self.user(user).map_or(NONE, |user| user.head);
        while slot != NONE {
            let next = self.slots[slot as usize].next;
            self.release(slot);
            slot = next;
        }
        self.drop_user(user);
    }

    /// Drops the entries `doomed` picks, in one pass over the slots (then
    /// mends every user's list in another).
    fn remove_where(&mut self, mut doomed: impl FnMut(usize, &Slot) -> bool) {
        for index in 0..self.slots.len() {
            let slot = self.slots[index];
            if slot.user != NONE
                && doomed(index, &slot)
                && let Ok(index) = u32::try_from(index)
            {
                self.release(index);
            }
        }
        for user in self.users.iter_mut().flatten() {
            user.head = NONE;
        }
        for index in (0..self.slots.len()).rev() {
            let user = self.slots[index].user;
            if user == NONE {
                continue;
            }
            if let (Some(Some(owner)), Ok(index)) =
                (self.users.get_mut(user as usize), u32::try_from(index))
            {
                self.slots[index as usize].next = owner.head;
                owner.head = index;
            }
        }
        let emptied: Vec<u32> = (0..self.users.len())
            .filter_map(|index| u32::try_from(index).ok())
            .filter(|index| self.user(*index).is_some_and(|user| user.head == NONE))
            .collect();
        for index in emptied {
            self.drop_user(index);
        }
    }

    /// Makes room for one more entry at `now` in a cache of `capacity`: expired entries go
    /// first; if all are fresh, an eighth of them (the next ones round the slots: they are
    /// only a cache and come back from the database on the next request).
    fn make_room(&mut self, capacity: usize, ttl: i64, now: i64) {
        self.remove_where(|_, slot| !slot.is_fresh(ttl, now));
        if self.len < capacity {
            return;
        }
        let mut left = (capacity / 8).max(1);
        let total = self.slots.len();
        let start = self.evict_from.min(total);
        let mut last = start;
        // Two passes over the slots in the order start..total, 0..start.
        let mut chosen = vec![false; total];
        for index in (start..total).chain(0..start) {
            if left == 0 {
                break;
            }
            if self.slots[index].user != NONE {
                chosen[index] = true;
                left -= 1;
                last = index;
            }
        }
        self.evict_from = last + 1;
        self.remove_where(|index, _| chosen[index]);
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
            // Slots are numbered in 32 bits.
            capacity: capacity.min(NONE as usize - 1),
            entries: RwLock::new(Entries::new()),
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
        self.read_fresh(session_hash, now, |_, _, user| Some(user.record.clone()))
    }

    /// `read` of the entry (its slot index, its user) of a session that is cached and
    /// fresh at `now`.
    fn read_fresh<T>(
        &self,
        session_hash: &str,
        now: i64,
        read: impl FnOnce(&Entries, u32, &UserSlot) -> Option<T>,
    ) -> Option<T> {
        if !self.enabled() {
            return None;
        }
        let key = Key::of(session_hash);
        let entries = self.read();
        let index = entries.find(&key)?;
        let slot = entries.slots.get(index as usize)?;
        if !slot.is_fresh(self.ttl, now) {
            return None;
        }
        let user = entries.user(slot.user)?;
        read(&entries, index, user)
    }

    /// The current generation; read it before a database lookup and pass it to
    /// [`SessionCache::insert`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Caches a session read from the database at `now` (whose own expiry is `expires`),
    /// unless an invalidation happened since `generation` was read. Nothing is cached for
    /// a `now` before 1970 or after 2106 (times are kept in 32 bits).
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
        // Fail closed on a clock 32 bits cannot hold: not cached, read from the database.
        let Ok(now_secs) = u32::try_from(now) else {
            return;
        };
        let key = Key::of(text);
        self.write_if_current(generation, |cache| {
            if let Some(index) = cache.find(&key) {
                cache.remove(index);
            }
            if cache.len >= self.capacity {
                cache.make_room(self.capacity, self.ttl, now);
            }
            let Some(user) = cache.user_for(user, now_secs) else {
                return;
            };
            let added = cache.add(&key, user, secs(expires), now_secs);
            if let Some(index) = added
                && api.is_some()
            {
                cache.extras.insert(
                    index,
                    Extras {
                        app_headers: None,
                        api,
                    },
                );
            }
            if added.is_none() && cache.user(user).is_some_and(|user| user.head == NONE) {
                cache.drop_user(user);
            }
        });
    }

    /// The token headers cached for a fresh session at `now`, if computed.
    pub fn app_headers(&self, session_hash: &str, now: i64) -> Option<AppHeaders> {
        self.read_fresh(session_hash, now, |entries, index, _| {
            entries.extras.get(&index)?.app_headers.clone()
        })
    }

    /// Keeps the token headers computed for a cached session, unless an invalidation
    /// happened since `generation` was read (they may come from an older auth_state).
    pub fn set_app_headers(&self, session_hash: &str, headers: AppHeaders, generation: u64) {
        let key = Key::of(session_hash);
        self.write_if_current(generation, |cache| {
            if let Some(index) = cache.find(&key) {
                cache.extras.entry(index).or_default().app_headers = Some(headers);
            }
        });
    }

    /// The user and the REST API's grant cached for a fresh session or token at `now`,
    /// if computed.
    pub fn api_grant(&self, key: &str, now: i64) -> Option<(Arc<UserRecord>, Arc<ApiGrant>)> {
        self.read_fresh(key, now, |entries, index, user| {
            let grant = entries.extras.get(&index)?.api.clone()?;
            Some((user.record.clone(), grant))
        })
    }

    /// Keeps the REST API's grant computed for a cached session, unless an invalidation
    /// happened since `generation` was read (the roles it came from may have changed).
    pub fn set_api_grant(&self, key: &str, grant: Arc<ApiGrant>, generation: u64) {
        let key = Key::of(key);
        self.write_if_current(generation, |cache| {
            if let Some(index) = cache.find(&key) {
                cache.extras.entry(index).or_default().api = Some(grant);
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
        let key = Key::of(session_hash);
        let mut entries = self.write();
        if let Some(index) = entries.find(&key) {
            entries.remove(index);
        }
    }

    /// Drops everything (for example after a bulk change), and gives back its memory.
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let emptied = std::mem::replace(&mut *self.write(), Entries::new());
        drop(emptied);
    }

    /// How many sessions are cached (fresh or not yet evicted).
    pub fn len(&self) -> usize {
        self.read().len
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

    /// Checks the slots, tables, lists and users agree with each other.
    fn check_consistency(cache: &SessionCache) {
        let entries = cache.read();
        let occupied: Vec<u32> = (0..entries.slots.len())
            .filter(|index| entries.slots[*index].user != NONE)
            .map(|index| u32::try_from(index).unwrap())
            .collect();
        assert_eq!(occupied.len(), entries.len, "len counts the occupied slots");
        let in_tables: usize = entries.tables.iter().map(HashTable::len).sum();
        assert_eq!(in_tables, entries.len, "every entry is in one table");
        let mut listed = 0;
        for (index, user) in entries.users.iter().enumerate() {
            let Some(user) = user else { continue };
            assert_ne!(user.head, NONE, "a user slot without entries was kept");
            assert_eq!(
                entries.find_user(&user.record.name),
                Some(u32::try_from(index).unwrap())
            );
            let mut slot = user.head;
            while slot != NONE {
                assert_eq!(entries.slots[slot as usize].user as usize, index);
                listed += 1;
                slot = entries.slots[slot as usize].next;
            }
        }
        assert_eq!(listed, entries.len, "every entry is on its user's list");
        let mut free = 0;
        let mut slot = entries.free;
        while slot != NONE {
            assert_eq!(entries.slots[slot as usize].user, NONE);
            free += 1;
            slot = entries.slots[slot as usize].next;
        }
        assert_eq!(free + entries.len, entries.slots.len());
        for index in entries.extras.keys() {
            assert!(occupied.contains(index), "extras of a free slot");
        }
    }

    #[test]
    fn a_slot_is_48_bytes() {
        assert_eq!(std::mem::size_of::<Slot>(), 48);
    }

    #[test]
    fn a_digest_matches_only_whole() {
        // Two digests that share their first 31 bytes (so the tables' hash and any prefix
        // key) are two entries: one never answers for the other.
        let ann = "ab".repeat(32);
        let bob = format!("{}cd", "ab".repeat(31));
        let cache = SessionCache::new(5, 100);
        cache.insert(&ann, user("ann"), 1_000, 100, cache.generation());
        assert!(cache.get(&bob, 100).is_none());
        cache.insert(&bob, user("bob"), 1_000, 100, cache.generation());
        assert_eq!(cache.get(&ann, 100).unwrap().name, "ann");
        assert_eq!(cache.get(&bob, 100).unwrap().name, "bob");
        cache.invalidate_session(&ann);
        assert!(cache.get(&ann, 100).is_none());
        assert_eq!(cache.get(&bob, 100).unwrap().name, "bob");
        check_consistency(&cache);
    }

    #[test]
    fn times_are_kept_in_32_bits_and_fail_closed_outside_them() {
        let last = i64::from(u32::MAX);
        let cache = SessionCache::new(5, 100);
        // An expiry past 2106 (a token's "never") is 2106: fresh until then.
        cache.insert(&hash(1), user("ann"), i64::MAX, 100, cache.generation());
        assert!(cache.get(&hash(1), 104).is_some());
        // A clock past 2106 finds nothing fresh and caches nothing...
        assert!(cache.get(&hash(1), last + 1).is_none());
        cache.insert(
            &hash(2),
            user("ann"),
            i64::MAX,
            last + 1,
            cache.generation(),
        );
        assert!(cache.get(&hash(2), last + 1).is_none());
        // ...nor does one before 1970.
        cache.insert(&hash(3), user("ann"), 1_000, -1, cache.generation());
        assert!(cache.get(&hash(3), -1).is_none());
        assert!(cache.get(&hash(3), 0).is_none());
        assert_eq!(cache.len(), 1);
        // The last second 32 bits hold still works; an expiry before 1970 never does.
        cache.insert(
            &hash(4),
            user("bob"),
            i64::MAX,
            last - 1,
            cache.generation(),
        );
        assert!(cache.get(&hash(4), last - 1).is_some());
        cache.insert(&hash(5), user("bob"), -5, 100, cache.generation());
        assert!(cache.get(&hash(5), 100).is_none());
        check_consistency(&cache);
    }

    #[test]
    fn a_clock_that_went_back_shortens_the_users_other_entries() {
        let cache = SessionCache::new(5, 100);
        cache.insert(&hash(1), user("ann"), 1_000, 100, cache.generation());
        cache.insert(&hash(2), user("ann"), 1_000, 98, cache.generation());
        // The first entry now counts as read at 98, like the newer record it shares.
        assert!(cache.get(&hash(1), 102).is_some());
        assert!(cache.get(&hash(1), 103).is_none());
        check_consistency(&cache);
    }

    #[test]
    fn eviction_keeps_the_lists_whole_and_goes_round() {
        let cache = SessionCache::new(5, 64);
        for index in 0..1_000u32 {
            let name = format!("user{}", index % 7);
            cache.insert(
                &format!("{index:064x}"),
                user(&name),
                1_000,
                100,
                cache.generation(),
            );
            assert!(cache.len() <= 64);
            assert!(
                cache.get(&format!("{index:064x}"), 100).is_some(),
                "the newest entry is kept"
            );
        }
        check_consistency(&cache);
        // Evicting an eighth at a time, round the slots: the last 56 inserts are all kept.
        for index in 944..1_000u32 {
            assert!(cache.get(&format!("{index:064x}"), 100).is_some());
        }
        let before = cache.len();
        cache.invalidate_user("user3");
        check_consistency(&cache);
        assert!(cache.len() < before);
        for index in 944..1_000u32 {
            let kept = cache.get(&format!("{index:064x}"), 100).is_some();
            assert_eq!(kept, index % 7 != 3);
        }
        cache.clear();
        assert!(cache.is_empty());
        check_consistency(&cache);
    }

    #[test]
    fn a_reused_slot_does_not_inherit_extras() {
        let cache = SessionCache::new(5, 100);
        cache.insert(&hash(1), user("ann"), 1_000, 100, cache.generation());
        let grant = Arc::new(ApiGrant::new(Scopes::default(), true, None));
        cache.set_api_grant(&hash(1), grant, cache.generation());
        let headers: AppHeaders = vec![(
            HeaderName::from_static("x-token"),
            HeaderValue::from_static("t1"),
        )]
        .into();
        cache.set_app_headers(&hash(1), headers, cache.generation());
        cache.invalidate_session(&hash(1));
        cache.insert(&hash(2), user("bob"), 1_000, 100, cache.generation());
        assert!(cache.api_grant(&hash(2), 100).is_none());
        assert!(cache.app_headers(&hash(2), 100).is_none());
        check_consistency(&cache);
    }

    #[test]
    fn removing_one_entry_keeps_the_rest_of_the_users_list() {
        let cache = SessionCache::new(5, 100);
        for index in 1..=4 {
            cache.insert(&hash(index), user("ann"), 1_000, 100, cache.generation());
        }
        cache.insert(&hash(9), user("bob"), 1_000, 100, cache.generation());
        cache.invalidate_session(&hash(2));
        cache.invalidate_session(&hash(4));
        check_consistency(&cache);
        assert_eq!(cache.len(), 3);
        cache.invalidate_user("ann");
        check_consistency(&cache);
        assert_eq!(cache.len(), 1);
        assert!(cache.get(&hash(9), 100).is_some());
        cache.invalidate_session(&hash(9));
        assert!(cache.is_empty());
        check_consistency(&cache);
    }

    mod model {
        //! The cache against a plain map of what it should hold.

        use std::collections::HashMap;

        use proptest::prelude::*;

        use super::super::*;

        #[derive(Debug, Clone)]
        enum Op {
            Insert {
                key: u8,
                user: u8,
                expires: i64,
                now: i64,
            },
            Get {
                key: u8,
                now: i64,
            },
            InvalidateUser(u8),
            InvalidateSession(u8),
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                4 => (0..12u8, 0..4u8, 0..40i64, 0..30i64).prop_map(|(key, user, expires, now)| {
                    Op::Insert { key, user, expires, now }
                }),
                4 => (0..12u8, 0..30i64).prop_map(|(key, now)| Op::Get { key, now }),
                1 => (0..4u8).prop_map(Op::InvalidateUser),
                1 => (0..12u8).prop_map(Op::InvalidateSession),
            ]
        }

        /// Key `index`: sessions and `token:` keys, some of them sharing a digest.
        fn key(index: u8) -> String {
            let digest = format!("{:02x}", index / 2).repeat(32);
            if index.is_multiple_of(2) {
                digest
            } else {
                format!("token:{digest}")
            }
        }

        fn record(user: u8, version: i64) -> Arc<UserRecord> {
            Arc::new(UserRecord {
                id: version,
                name: format!("user{user}"),
                admin: false,
                created: 0,
                last_activity: None,
                groups: Vec::new(),
                roles: Vec::new(),
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

            #[test]
            fn the_cache_holds_what_the_model_does(ops in proptest::collection::vec(op(), 1..60)) {
                const TTL: i64 = 5;
                let cache = SessionCache::new(5, 1_000);
                // Key -> (user, expires, cached_at); user -> version of its record.
                let mut model: HashMap<u8, (u8, i64, i64)> = HashMap::new();
                let mut records: HashMap<u8, i64> = HashMap::new();
                for (version, op) in (1..).zip(ops) {
                    match op {
                        Op::Insert { key: k, user, expires, now } => {
                            cache.insert(&key(k), record(user, version), expires, now, cache.generation());
                            model.remove(&k);
                            for (owner, _, cached_at) in model.values_mut() {
                                if *owner == user {
                                    *cached_at = (*cached_at).min(now);
                                }
                            }
                            model.insert(k, (user, expires, now));
                            records.insert(user, version);
                        }
                        Op::Get { key: k, now } => {
                            let expected = model.get(&k).and_then(|(user, expires, cached_at)| {
                                (now < *expires && now >= *cached_at && now - cached_at < TTL)
                                    .then(|| (format!("user{user}"), records[user]))
                            });
                            let got = cache.get(&key(k), now).map(|user| (user.name.clone(), user.id));
                            prop_assert_eq!(got, expected);
                        }
                        Op::InvalidateUser(user) => {
                            cache.invalidate_user(&format!("user{user}"));
                            model.retain(|_, (owner, _, _)| *owner != user);
                        }
                        Op::InvalidateSession(k) => {
                            cache.invalidate_session(&key(k));
                            model.remove(&k);
                        }
                    }
                    prop_assert_eq!(cache.len(), model.len());
                    super::check_consistency(&cache);
                }
            }

            #[test]
            fn a_small_cache_stays_bounded_and_whole(ops in proptest::collection::vec(op(), 1..80)) {
                let cache = SessionCache::new(5, 3);
                for (version, op) in (1..).zip(ops) {
                    match op {
                        Op::Insert { key: k, user, expires, now } => {
                            cache.insert(&key(k), record(user, version), expires, now, cache.generation());
                            let kept = cache.get(&key(k), now).is_some();
                            prop_assert_eq!(kept, now < expires, "the entry just read is kept");
                        }
                        Op::Get { key: k, now } => {
                            if let Some(user) = cache.get(&key(k), now) {
                                prop_assert!(user.name.starts_with("user"));
                            }
                        }
                        Op::InvalidateUser(user) => cache.invalidate_user(&format!("user{user}")),
                        Op::InvalidateSession(k) => cache.invalidate_session(&key(k)),
                    }
                    prop_assert!(cache.len() <= 3);
                    super::check_consistency(&cache);
                }
            }
        }
    }
}
