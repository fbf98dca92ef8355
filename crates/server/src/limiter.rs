//! A small per-address limit on failed logins, against password guessing.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

const WINDOW: i64 = 60;
const MAX_TRACKED: usize = 100_000;

/// Counts failed logins per client address in one-minute windows.
#[derive(Debug)]
pub struct LoginLimiter {
    max_failures: u32,
    windows: Mutex<HashMap<IpAddr, (i64, u32)>>,
}

impl LoginLimiter {
    /// A limiter allowing `max_failures` failures per minute per address (0 = no limit).
    pub fn new(max_failures: u32) -> Self {
        LoginLimiter {
            max_failures,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Whether this address may try to log in now.
    pub fn allows(&self, ip: Option<IpAddr>, now: i64) -> bool {
        let (Some(ip), true) = (ip, self.max_failures > 0) else {
            return true;
        };
        let windows = match self.windows.lock() {
            Ok(windows) => windows,
            Err(poisoned) => poisoned.into_inner(),
        };
        match windows.get(&ip) {
            Some((start, count)) if now - start < WINDOW => *count < self.max_failures,
            _ => true,
        }
    }

    /// Records a failed login from this address.
    pub fn record_failure(&self, ip: Option<IpAddr>, now: i64) {
        let (Some(ip), true) = (ip, self.max_failures > 0) else {
            return;
        };
        let mut windows = match self.windows.lock() {
            Ok(windows) => windows,
            Err(poisoned) => poisoned.into_inner(),
        };
        if windows.len() >= MAX_TRACKED {
            windows.retain(|_, (start, _)| now - *start < WINDOW);
        }
        let entry = windows.entry(ip).or_insert((now, 0));
        if now - entry.0 >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_limit_and_recovers() {
        let limiter = LoginLimiter::new(2);
        let ip = Some(IpAddr::from([127, 0, 0, 1]));
        assert!(limiter.allows(ip, 0));
        limiter.record_failure(ip, 0);
        limiter.record_failure(ip, 1);
        assert!(!limiter.allows(ip, 2));
        assert!(limiter.allows(ip, 61));
        assert!(LoginLimiter::new(0).allows(ip, 0));
    }
}
