//! What a provider mock is: a personality, and the state the framework keeps for it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::hash::Hash;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;

use super::clients::Clients;
use crate::clock::Clock;
use crate::control::RecordedRequest;
use crate::faults::Faults;

/// How many recorded requests are kept (the oldest are dropped first).
const REQUEST_LOG_LIMIT: usize = 10_000;

/// A provider's quirks: the names of its endpoints, its state, and its routes.
///
/// The framework serves the routes behind a layer that records each request, counts it
/// against [`Personality::endpoint`], and answers with a queued fault or an outage
/// before the handler runs (the fallback too: a personality that wants its own 404 page
/// sets a fallback on its routes). Handlers get the [`Mock`] as axum state and find the
/// registered clients, the clock and the personality's own state through it.
pub trait Personality: Sized + Send + Sync + 'static {
    /// The provider's endpoints, for faults, outages, counts and the request log.
    type Endpoint: Copy + Eq + Hash + fmt::Debug + Send + Sync + 'static;
    /// What changes while the mock runs (users, grants, what tests steer), behind the
    /// framework's one lock.
    type State: Send + 'static;
    /// The provider's name, for logs ("Globus", "Azure AD").
    const NAME: &'static str;

    /// Which endpoint a request path names (the full path, as received).
    fn endpoint(&self, path: &str) -> Option<Self::Endpoint>;

    /// The provider's routes.
    fn routes(&self) -> Router<Mock<Self>>;
}

/// What handlers get as axum state.
pub type Mock<P> = Arc<Provider<P>>;

/// A running provider's shared state: the personality, its origin, the clock, and the
/// [`Core`] behind one mutex (never held across an `.await`).
pub struct Provider<P: Personality> {
    origin: String,
    clock: Arc<dyn Clock>,
    skew: AtomicI64,
    personality: P,
    core: Mutex<Core<P>>,
}

impl<P: Personality> fmt::Debug for Provider<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("personality", &P::NAME)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl<P: Personality> Provider<P> {
    pub(super) fn new(
        origin: String,
        clock: Arc<dyn Clock>,
        personality: P,
        clients: Clients,
        state: P::State,
    ) -> Self {
        Provider {
            origin,
            clock,
            skew: AtomicI64::new(0),
            personality,
            core: Mutex::new(Core {
                clients,
                state,
                faults: Faults::default(),
                down: HashSet::new(),
                counts: HashMap::new(),
                requests: VecDeque::new(),
            }),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The personality (what does not change while it runs).
    pub fn personality(&self) -> &P {
        &self.personality
    }

    /// The provider's time: the clock plus whatever tests moved it by.
    pub fn now(&self) -> i64 {
        self.clock
            .now()
            .saturating_add(self.skew.load(Ordering::SeqCst))
    }

    pub(super) fn advance(&self, seconds: i64) {
        let _ = self
            .skew
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |skew| {
                Some(skew.saturating_add(seconds))
            });
    }

    /// The state. A handler that panicked while holding it cannot have left it in a
    /// state that matters more than a stopped mock would: keep serving.
    pub fn lock(&self) -> MutexGuard<'_, Core<P>> {
        self.core
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Handlers read the personality's fields through the provider (`mock.issuer`).
impl<P: Personality> std::ops::Deref for Provider<P> {
    type Target = P;

    fn deref(&self) -> &P {
        &self.personality
    }
}

/// What the framework keeps for every provider, and the personality's own state.
pub struct Core<P: Personality> {
    /// The registered clients.
    pub clients: Clients,
    /// The personality's state.
    pub state: P::State,
    pub(super) faults: Faults<P::Endpoint>,
    pub(super) down: HashSet<P::Endpoint>,
    pub(super) counts: HashMap<P::Endpoint, usize>,
    pub(super) requests: VecDeque<RecordedRequest<P::Endpoint>>,
}

impl<P: Personality> fmt::Debug for Core<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Core")
            .field("clients", &self.clients)
            .field("faults", &self.faults)
            .field("down", &self.down)
            .finish_non_exhaustive()
    }
}

/// Handlers reach the personality's state through the lock (`core.users`).
impl<P: Personality> std::ops::Deref for Core<P> {
    type Target = P::State;

    fn deref(&self) -> &P::State {
        &self.state
    }
}

impl<P: Personality> std::ops::DerefMut for Core<P> {
    fn deref_mut(&mut self) -> &mut P::State {
        &mut self.state
    }
}

impl<P: Personality> Core<P> {
    pub(super) fn record(&mut self, request: RecordedRequest<P::Endpoint>) {
        if self.requests.len() >= REQUEST_LOG_LIMIT {
            self.requests.pop_front();
        }
        if let Some(endpoint) = request.endpoint {
            *self.counts.entry(endpoint).or_default() += 1;
        }
        self.requests.push_back(request);
    }
}
