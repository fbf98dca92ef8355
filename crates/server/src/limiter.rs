//! Limits on failed logins, against password guessing: per client address (IPv6 by /64)
//! and per user name.
//!
//! A slot is taken before the password is checked, in one critical section with the
//! check, and given back when the login succeeds. So N concurrent wrong passwords cannot
//! all pass a limit of 5: the sixth finds the window full before any of them is checked.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

const WINDOW: i64 = 60;
const MAX_TRACKED: usize = 100_000;

/// What a window counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    /// A client address bucket ([`crate::forwarded::bucket`]).
    Addr(IpAddr),
    /// A user name as typed (lower-cased, so case variants share a window).
    User(String),
}

/// Counts login attempts in one-minute windows.
#[derive(Debug)]
pub struct LoginLimiter {
    per_addr: u32,
    per_user: u32,
    windows: Mutex<HashMap<Key, (i64, u32)>>,
}

/// An attempt's place in the windows: given back with [`LoginLimiter::refund`] when the
/// login succeeds; kept (counted as a failure) otherwise.
#[derive(Debug)]
#[must_use = "refund the slot after a successful login"]
pub struct Reservation {
    keys: Vec<Key>,
    start: i64,
}

/// Why an attempt was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    /// Too many failed logins from this address (or its IPv6 /64).
    Address,
    /// Too many failed logins for this user name.
    User,
}

impl LoginLimiter {
    /// A limiter allowing `per_addr` failed logins per minute per client address and
    /// `per_user` per user name (0 turns either off).
    pub fn new(per_addr: u32, per_user: u32) -> Self {
        LoginLimiter {
            per_addr,
            per_user,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a slot for a login attempt from `ip` for `username` at `now`, or says which
    /// limit is reached. Nothing is counted when refused.
    pub fn try_reserve(
        &self,
        ip: Option<IpAddr>,
        username: &str,
        now: i64,
    ) -> Result<Reservation, Limited> {
        let mut keys = Vec::with_capacity(2);
        if let (Some(ip), true) = (ip, self.per_addr > 0) {
            keys.push((Key::Addr(crate::forwarded::bucket(ip)), self.per_addr));
        }
        let user = username.trim().to_lowercase();
        if self.per_user > 0 && !user.is_empty() {
            keys.push((Key::User(user), self.per_user));
        }
        let mut windows = match self.windows.lock() {
            Ok(windows) => windows,
            Err(poisoned) => poisoned.into_inner(),
        };
        for (key, limit) in &keys {
            if let Some((start, count)) = windows.get(key)
                && now - start < WINDOW
                && *count >= *limit
            {
                return Err(match key {
                    Key::Addr(_) => Limited::Address,
                    Key::User(_) => Limited::User,
                });
            }
        }
        if windows.len() >= MAX_TRACKED {
            windows.retain(|_, (start, _)| now - *start < WINDOW);
        }
        for (key, _) in &keys {
            let entry = windows.entry(key.clone()).or_insert((now, 0));
            if now - entry.0 >= WINDOW {
                *entry = (now, 0);
            }
            entry.1 = entry.1.saturating_add(1);
        }
        Ok(Reservation {
            keys: keys.into_iter().map(|(key, _)| key).collect(),
            start: now,
        })
    }

    /// Gives a slot back: the login succeeded, so it was no guess.
    pub fn refund(&self, reservation: Reservation) {
        let mut windows = match self.windows.lock() {
            Ok(windows) => windows,
            Err(poisoned) => poisoned.into_inner(),
        };
        for key in reservation.keys {
            if let Some(entry) = windows.get_mut(&key)
                && entry.0 <= reservation.start
                && reservation.start - entry.0 < WINDOW
            {
                entry.1 = entry.1.saturating_sub(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_limit_and_recovers() {
        let limiter = LoginLimiter::new(2, 0);
        let ip = Some(IpAddr::from([127, 0, 0, 1]));
        let _ = limiter.try_reserve(ip, "a", 0).unwrap();
        let _ = limiter.try_reserve(ip, "b", 1).unwrap();
        assert_eq!(
            limiter.try_reserve(ip, "c", 2).unwrap_err(),
            Limited::Address
        );
        assert!(limiter.try_reserve(ip, "c", 61).is_ok());
        assert!(LoginLimiter::new(0, 0).try_reserve(ip, "x", 0).is_ok());
    }

    #[test]
    fn successful_logins_give_their_slot_back() {
        let limiter = LoginLimiter::new(1, 0);
        let ip = Some(IpAddr::from([192, 0, 2, 1]));
        for now in 0..10 {
            let slot = limiter.try_reserve(ip, "ann", now).unwrap();
            limiter.refund(slot);
        }
    }

    #[test]
    fn a_user_name_is_limited_across_addresses() {
        let limiter = LoginLimiter::new(100, 3);
        for last in 1..=3u8 {
            let _ = limiter
                .try_reserve(Some(IpAddr::from([198, 51, 100, last])), "Ann", 0)
                .unwrap();
        }
        let refused = limiter.try_reserve(Some(IpAddr::from([203, 0, 113, 1])), "ann ", 1);
        assert_eq!(refused.unwrap_err(), Limited::User);
        assert!(
            limiter
                .try_reserve(Some(IpAddr::from([203, 0, 113, 1])), "bob", 1)
                .is_ok()
        );
    }

    #[test]
    fn an_ipv6_64_is_one_address() {
        let limiter = LoginLimiter::new(2, 0);
        for host in 1..=2u16 {
            let ip = IpAddr::from([0x2001, 0xdb8, 1, 2, 0, 0, 0, host]);
            let _ = limiter.try_reserve(Some(ip), "x", 0).unwrap();
        }
        let other_host = IpAddr::from([0x2001, 0xdb8, 1, 2, 0xffff, 0, 0, 9]);
        assert!(limiter.try_reserve(Some(other_host), "x", 0).is_err());
        let other_net = IpAddr::from([0x2001, 0xdb8, 1, 3, 0, 0, 0, 1]);
        assert!(limiter.try_reserve(Some(other_net), "x", 0).is_ok());
    }
}
