//! Cache invalidation between hub processes sharing one database.
//!
//! Each hub process keeps validated sessions and API tokens in memory for a while. When one
//! process changes what such a check returns (a logout, a deleted or blocked user, an admin
//! flag, groups, a revoked token), it announces a [`CacheEvent`] with
//! [`Store::announce`](crate::Store::announce), and every other process sharing the database
//! reads it from [`Store::cache_events`](crate::Store::cache_events) and drops what it
//! cached.
//!
//! On PostgreSQL the announcement is `pg_notify` on the channel [`CACHE_CHANNEL`], and the
//! events come from one `LISTEN` connection per process. A notification is delivered only
//! to connections listening at the time, so whenever the listening connection is
//! (re)established the stream yields [`CacheEvent::Listening`]: anything announced while it
//! was down was lost, and the receiver must forget everything it cached. A message that
//! cannot be read is [`CacheEvent::All`] (fail closed). SQLite is one process per database
//! file, so there is nobody to tell: announcing does nothing and there are no events.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The PostgreSQL notification channel hubauth's cache events travel on.
pub const CACHE_CHANNEL: &str = "hubauth_cache";

/// The `application_name` of the connection that listens for cache events is this, a
/// space and the process id (to tell it apart in `pg_stat_activity`).
pub const LISTENER_APPLICATION_NAME: &str = "hubauth cache listener";

/// PostgreSQL refuses notification payloads of 8000 bytes or more; an event that would not
/// fit (a very long user name) is announced as [`CacheEvent::All`] instead.
const MAX_PAYLOAD: usize = 7900;

/// How long the listener waits before connecting again after a failure, at first and at
/// most (doubling in between).
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// How many received events may wait for the receiver before the listener waits too.
const QUEUE: usize = 1024;

/// What another hub process must forget from its session cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheEvent {
    /// Everything cached for this user (sessions and API tokens).
    User(String),
    /// One session, by its id hash (as stored; never the session id itself).
    Session(String),
    /// Everything (a change whose users are not known, or a message that could not be
    /// read).
    All,
    /// The listening connection was established or re-established (never announced, only
    /// received): announcements made while it was down were lost, so everything cached may
    /// be stale.
    Listening,
}

/// The wire form of an announcement: JSON, so any user name travels intact.
#[derive(Serialize, Deserialize)]
struct Payload<'a> {
    /// The format's version.
    v: u32,
    /// The announcing process ([`Store::announce`](crate::Store::announce)'s store), which
    /// already applied the event itself.
    from: &'a str,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    session: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    all: bool,
}

/// The payload announcing `event` from the process `from`, or `None` for
/// [`CacheEvent::Listening`], which is never announced.
pub(crate) fn encode(event: &CacheEvent, from: &str) -> Option<String> {
    let mut payload = Payload {
        v: 1,
        from,
        user: None,
        session: None,
        all: false,
    };
    match event {
        CacheEvent::User(user) => payload.user = Some(user.clone()),
        CacheEvent::Session(hash) => payload.session = Some(hash.clone()),
        CacheEvent::All => payload.all = true,
        CacheEvent::Listening => return None,
    }
    match serde_json::to_string(&payload) {
        Ok(text) if text.len() <= MAX_PAYLOAD => Some(text),
        // Too long for one notification (or, impossibly, not serializable): the receivers
        // forget everything, which is never wrong.
        _ => encode(&CacheEvent::All, from),
    }
}

/// The event a received payload announces, or `None` when `own` (this process) sent it.
/// Anything that cannot be read is [`CacheEvent::All`].
pub(crate) fn decode(payload: &str, own: &str) -> Option<CacheEvent> {
    let Ok(payload) = serde_json::from_str::<Payload<'_>>(payload) else {
        return Some(CacheEvent::All);
    };
    if payload.from == own {
        return None;
    }
    Some(match payload {
        Payload {
            v: 1,
            user: Some(user),
            session: None,
            all: false,
            ..
        } => CacheEvent::User(user),
        Payload {
            v: 1,
            user: None,
            session: Some(session),
            all: false,
            ..
        } => CacheEvent::Session(session),
        _ => CacheEvent::All,
    })
}

/// A random name for this process's store, so it can skip its own announcements.
pub(crate) fn instance_id() -> Arc<str> {
    let bytes: [u8; 16] = rand::random();
    Arc::from(hex::encode(bytes))
}

/// The cache events other processes announce ([`Store::cache_events`](crate::Store::cache_events)).
///
/// Dropping it stops listening (and closes the connection).
#[derive(Debug)]
pub struct CacheEvents {
    receiver: mpsc::Receiver<CacheEvent>,
    task: JoinHandle<()>,
}

impl CacheEvents {
    /// The next event; waits until one arrives. The first is [`CacheEvent::Listening`]
    /// once the listening connection is up, and another follows every reconnection.
    /// `None` only if the listener stopped.
    pub async fn next(&mut self) -> Option<CacheEvent> {
        self.receiver.recv().await
    }
}

impl Drop for CacheEvents {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts listening on [`CACHE_CHANNEL`] with a connection of its own, reconnecting
/// whenever it fails; skips the announcements of the process `own`.
pub(crate) fn listen(options: &PgConnectOptions, own: Arc<str>) -> CacheEvents {
    let name = format!("{LISTENER_APPLICATION_NAME} {}", std::process::id());
    let options = options.clone().application_name(&name);
    let (sender, receiver) = mpsc::channel(QUEUE);
    let task = tokio::spawn(run(options, own, sender));
    CacheEvents { receiver, task }
}

async fn run(options: PgConnectOptions, own: Arc<str>, sender: mpsc::Sender<CacheEvent>) {
    let mut retry = RETRY_FIRST;
    loop {
        // A pool of one connection, kept forever: the listener reconnects through it.
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .max_lifetime(None)
            .idle_timeout(None)
            .connect_lazy_with(options.clone());
        let mut listener = match subscribe(&pool).await {
            Ok(listener) => listener,
            Err(err) => {
                tracing::warn!(error = %crate::StoreError::from(err), retry_ms = retry.as_millis(), "could not listen for cache invalidations from other hub processes; retrying");
                pool.close().await;
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(RETRY_MAX);
                continue;
            }
        };
        retry = RETRY_FIRST;
        if sender.send(CacheEvent::Listening).await.is_err() {
            return;
        }
        loop {
            let event = match listener.try_recv().await {
                Ok(Some(notification)) => match decode(notification.payload(), &own) {
                    Some(event) => event,
                    None => continue,
                },
                // The connection dropped and the listener reconnected and subscribed again.
                Ok(None) => CacheEvent::Listening,
                Err(err) => {
                    tracing::warn!(error = %crate::StoreError::from(err), "lost the connection listening for cache invalidations; reconnecting");
                    break;
                }
            };
            if sender.send(event).await.is_err() {
                return;
            }
        }
        drop(listener);
        pool.close().await;
        tokio::time::sleep(retry).await;
    }
}

async fn subscribe(pool: &sqlx::PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    // The pool is this listener's own: closing it is how the task ends.
    listener.ignore_pool_close_event(true);
    listener.listen(CACHE_CHANNEL).await?;
    Ok(listener)
}
