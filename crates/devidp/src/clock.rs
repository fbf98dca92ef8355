//! The source of the current time, passed in so that tests control it.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// Gives the current time in whole seconds since the Unix epoch.
///
/// Every expiry the provider checks (codes, tokens, login sessions) and every time it
/// writes into an ID token comes from this. Closures `Fn() -> i64` are clocks too.
pub trait Clock: Send + Sync {
    /// The current time, in seconds since the Unix epoch.
    fn now(&self) -> i64;
}

impl<F> Clock for F
where
    F: Fn() -> i64 + Send + Sync,
{
    fn now(&self) -> i64 {
        self()
    }
}

/// The system clock (the default).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    // The clock: the one place the development provider reads the system time.
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// A clock that stands still until a test moves it.
///
/// Share it with the provider through an `Arc` and call [`ManualClock::advance`] to make
/// codes and tokens expire at once.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock showing `now` (seconds since the Unix epoch).
    pub fn at(now: i64) -> Self {
        ManualClock(AtomicI64::new(now))
    }

    /// A clock showing the current system time, from then on moved only by hand.
    pub fn starting_now() -> Self {
        ManualClock::at(SystemClock.now())
    }

    /// Moves the clock forward by `by` (whole seconds; fractions are dropped).
    pub fn advance(&self, by: Duration) {
        let secs = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
        let _ = self
            .0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                Some(now.saturating_add(secs))
            });
    }

    /// Sets the clock to `now` (seconds since the Unix epoch).
    pub fn set(&self, now: i64) {
        self.0.store(now, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}
