//! A store of issued codes or tokens with their expiry.

use std::collections::HashMap;

use super::ids::random_token;

/// How many random bytes a new code or token has.
const TOKEN_BYTES: usize = 32;

/// One issued value.
#[derive(Debug, Clone)]
struct Entry<T> {
    grant: T,
    expires_at: i64,
    revoked: bool,
}

/// Issued codes or tokens (opaque random strings) and what each grants. A token counts
/// until it expires or is revoked; revoked ones are remembered, so that tests can list
/// everything ever issued.
#[derive(Debug, Clone)]
pub struct Grants<T> {
    entries: HashMap<String, Entry<T>>,
}

impl<T> Default for Grants<T> {
    fn default() -> Self {
        Grants {
            entries: HashMap::new(),
        }
    }
}

impl<T> Grants<T> {
    /// Issues a new random token for `grant`, valid until `expires_at`.
    pub fn issue(&mut self, grant: T, expires_at: i64) -> String {
        let token = random_token(TOKEN_BYTES);
        self.insert(token.clone(), grant, expires_at);
        token
    }

    /// Stores `grant` under a token chosen by the caller.
    pub fn insert(&mut self, token: String, grant: T, expires_at: i64) {
        self.entries.insert(
            token,
            Entry {
                grant,
                expires_at,
                revoked: false,
            },
        );
    }

    /// The grant of a token that is neither expired nor revoked.
    pub fn get(&self, token: &str, now: i64) -> Option<&T> {
        self.entries
            .get(token)
            .filter(|entry| !entry.revoked && entry.expires_at > now)
            .map(|entry| &entry.grant)
    }

    /// Whether the token was issued, not revoked, and has expired (so that a provider
    /// can say "expired" rather than "unknown").
    pub fn is_expired(&self, token: &str, now: i64) -> bool {
        self.entries
            .get(token)
            .is_some_and(|entry| !entry.revoked && entry.expires_at <= now)
    }

    /// The grant of a live token, for changing it.
    pub fn get_mut(&mut self, token: &str, now: i64) -> Option<&mut T> {
        self.entries
            .get_mut(token)
            .filter(|entry| !entry.revoked && entry.expires_at > now)
            .map(|entry| &mut entry.grant)
    }

    /// Removes a live token and gives its grant: what redeeming a single-use code does.
    /// A second call with the same token gets `None`.
    pub fn take(&mut self, token: &str, now: i64) -> Option<T> {
        let entry = self.entries.remove(token)?;
        (!entry.revoked && entry.expires_at > now).then_some(entry.grant)
    }

    /// Revokes a token; whether it was live.
    pub fn revoke(&mut self, token: &str, now: i64) -> bool {
        match self.entries.get_mut(token) {
            Some(entry) if !entry.revoked && entry.expires_at > now => {
                entry.revoked = true;
                true
            }
            _ => false,
        }
    }

    /// Revokes every token whose grant matches.
    pub fn revoke_where(&mut self, mut matches: impl FnMut(&T) -> bool) {
        for entry in self.entries.values_mut() {
            if matches(&entry.grant) {
                entry.revoked = true;
            }
        }
    }

    /// Makes every token expire now (at `now`), as when a provider's tokens time out.
    pub fn expire_all(&mut self, now: i64) {
        for entry in self.entries.values_mut() {
            entry.expires_at = entry.expires_at.min(now);
        }
    }

    /// Forgets every token.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Forgets tokens that expired before `cutoff`.
    pub fn purge(&mut self, cutoff: i64) {
        self.entries.retain(|_, entry| entry.expires_at > cutoff);
    }

    /// The live tokens and their grants.
    pub fn live(&self, now: i64) -> impl Iterator<Item = (&str, &T)> {
        self.entries
            .iter()
            .filter(move |(_, entry)| !entry.revoked && entry.expires_at > now)
            .map(|(token, entry)| (token.as_str(), &entry.grant))
    }

    /// Every token ever stored (live, expired or revoked) and its grant.
    pub fn all(&self) -> impl Iterator<Item = (&str, &T)> {
        self.entries
            .iter()
            .map(|(token, entry)| (token.as_str(), &entry.grant))
    }
}
