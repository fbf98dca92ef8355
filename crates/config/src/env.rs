//! Where environment variables come from.
//!
//! Options may fall back to environment variables ([`OptionDef::env`](crate::OptionDef)).
//! Reading them goes through the [`Env`] trait so that callers and tests pass the
//! environment in explicitly: [`ProcessEnv`] reads the real process environment,
//! [`MapEnv`] a fixed map.

use std::collections::BTreeMap;
use std::sync::Arc;

/// A source of environment variables.
pub trait Env: Send + Sync {
    /// The value of variable `name`, or `None` when it is not set (or not valid Unicode).
    fn var(&self, name: &str) -> Option<String>;
}

/// The environment of the running process ([`std::env::var`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// A fixed set of environment variables, for tests and embedding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MapEnv {
    vars: BTreeMap<String, String>,
}

impl MapEnv {
    /// An environment with no variables set.
    pub fn new() -> Self {
        MapEnv::default()
    }

    /// Sets `name` to `value`, replacing an earlier value.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.vars.insert(name.into(), value.into());
        self
    }

    /// Unsets `name`.
    pub fn remove(&mut self, name: &str) -> &mut Self {
        self.vars.remove(name);
        self
    }

    /// The variables, by name.
    pub fn vars(&self) -> &BTreeMap<String, String> {
        &self.vars
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for MapEnv {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        MapEnv {
            vars: iter
                .into_iter()
                .map(|(name, value)| (name.into(), value.into()))
                .collect(),
        }
    }
}

impl<K: Into<String>, V: Into<String>, const N: usize> From<[(K, V); N]> for MapEnv {
    fn from(pairs: [(K, V); N]) -> Self {
        pairs.into_iter().collect()
    }
}

impl Env for MapEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }
}

impl<T: Env + ?Sized> Env for &T {
    fn var(&self, name: &str) -> Option<String> {
        (**self).var(name)
    }
}

impl<T: Env + ?Sized> Env for Box<T> {
    fn var(&self, name: &str) -> Option<String> {
        (**self).var(name)
    }
}

impl<T: Env + ?Sized> Env for Arc<T> {
    fn var(&self, name: &str) -> Option<String> {
        (**self).var(name)
    }
}
