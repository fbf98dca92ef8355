//! The provider's half: when a hub session ends, each service registered with a
//! `backchannel_logout_uri` that was issued tokens in that session receives a logout
//! token (OpenID Connect Back-Channel Logout 1.0 §2.5).
//!
//! Ending a session only queues a [`LogoutNotice`] (a bounded queue: when it is full the
//! notice is dropped with a warning, so a slow service never holds up a logout). A worker
//! sends each one, a few at a time, signing a fresh token (with the key of the service's
//! ID token algorithm, published in the hub's JWKS) for every attempt: up to
//! [`NOTIFY_ATTEMPTS`] attempts of at most [`NOTIFY_TIMEOUT`] each, with a doubling pause
//! between them. Only a 200 answer (or a 204, which §2.8 says some frameworks send
//! instead) counts as delivered; redirects are not followed.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use hubauth_provider::{LogoutTokenParams, logout_token};
use tokio::sync::{Semaphore, mpsc};

pub use hubauth_provider::{logout_token_claims, session_sid};

use crate::secrets::random_token;
use crate::services::Services;

/// Notices waiting to be sent at most; more are dropped with a warning.
pub const NOTIFY_QUEUE: usize = 1024;
/// How long one attempt may take (connecting, sending and the answer).
pub const NOTIFY_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts per notice.
pub const NOTIFY_ATTEMPTS: u32 = 3;
/// The pause after the first failed attempt; it doubles after each.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// Notices sent at the same time at most.
const CONCURRENCY: usize = 8;

/// One logout token to send: to which service, about which user and session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutNotice {
    /// The service's client id.
    pub client_id: String,
    /// The user (`sub`).
    pub user: String,
    /// The hub session's `sid`; `None` when every session of the user ended at once.
    pub sid: Option<String>,
}

/// The queue of logout notices and the client that sends them.
pub struct Notifier {
    sender: mpsc::Sender<LogoutNotice>,
    receiver: Mutex<Option<mpsc::Receiver<LogoutNotice>>>,
    /// The issuer of the tokens: `[Hub] public_url` with the base URL, as the services'
    /// ID tokens say (there is no request to take it from).
    issuer: String,
    /// `None` when no client could be built (nothing is sent then, see [`attempt_once`]).
    http: Option<reqwest::Client>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// A notifier whose tokens name `issuer`. Nothing is sent until [`Notifier::start`].
    pub fn new(issuer: String) -> Notifier {
        let (sender, receiver) = mpsc::channel(NOTIFY_QUEUE);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(NOTIFY_TIMEOUT)
            .timeout(NOTIFY_TIMEOUT)
            .user_agent(concat!("hubauth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| {
                tracing::error!(error = %err, "no HTTP client for back-channel logout; services will not be told of logouts");
            })
            .ok();
        Notifier {
            sender,
            receiver: Mutex::new(Some(receiver)),
            issuer,
            http,
        }
    }

    /// The issuer of the logout tokens.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Starts the worker that sends the queued notices (once; later calls do nothing).
    /// It holds the services weakly and stops when they are dropped.
    pub fn start(services: &Arc<Services>) {
        let receiver = match services.backchannel.receiver.lock() {
            Ok(mut slot) => slot.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        let Some(receiver) = receiver else {
            return;
        };
        tokio::spawn(run(Arc::downgrade(services), receiver));
    }

    /// Queues a notice without waiting; a full queue drops it (logged).
    pub fn enqueue(&self, notice: LogoutNotice) {
        match self.sender.try_send(notice) {
            Ok(()) => crate::metrics::backchannel_logout("queued"),
            Err(mpsc::error::TrySendError::Full(notice)) => {
                crate::metrics::backchannel_logout("dropped");
                tracing::warn!(service = %notice.client_id, user = %notice.user, "back-channel logout queue is full; the service is not told of this logout");
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

async fn run(services: Weak<Services>, mut receiver: mpsc::Receiver<LogoutNotice>) {
    let slots = Arc::new(Semaphore::new(CONCURRENCY));
    while let Some(notice) = receiver.recv().await {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let Some(metrics) = services.upgrade().map(|hub| hub.metrics.clone()) else {
            return;
        };
        let services = services.clone();
        tokio::spawn(metrics.scope(async move {
            deliver(&services, &notice).await;
            drop(permit);
        }));
    }
}

/// Sends one notice, retrying; logs the outcome (never the token).
async fn deliver(services: &Weak<Services>, notice: &LogoutNotice) {
    let mut pause = FIRST_BACKOFF;
    for attempt in 1..=NOTIFY_ATTEMPTS {
        let Some(hub) = services.upgrade() else {
            return;
        };
        let outcome = attempt_once(&hub, notice).await;
        drop(hub);
        match outcome {
            Attempt::Delivered => {
                crate::metrics::backchannel_logout("delivered");
                tracing::info!(service = %notice.client_id, user = %notice.user, attempt, "service told of the logout (back-channel)");
                return;
            }
            Attempt::Impossible(why) => {
                crate::metrics::backchannel_logout("failed");
                tracing::warn!(service = %notice.client_id, user = %notice.user, "back-channel logout not sent: {why}");
                return;
            }
            Attempt::Failed(why) if attempt < NOTIFY_ATTEMPTS => {
                tracing::info!(service = %notice.client_id, user = %notice.user, attempt, "back-channel logout failed ({why}); retrying");
                tokio::time::sleep(pause).await;
                pause = pause.saturating_mul(2);
            }
            Attempt::Failed(why) => {
                crate::metrics::backchannel_logout("failed");
                tracing::warn!(service = %notice.client_id, user = %notice.user, attempts = NOTIFY_ATTEMPTS, "back-channel logout failed ({why}); giving up");
            }
        }
    }
}

enum Attempt {
    Delivered,
    /// Worth another try (no answer, an error status).
    Failed(String),
    /// Never going to work (the service or the keys are gone).
    Impossible(&'static str),
}

async fn attempt_once(hub: &Services, notice: &LogoutNotice) -> Attempt {
    let Some(provider) = hub.provider.as_ref() else {
        return Attempt::Impossible("the hub has no OAuth provider");
    };
    let Some(client) = provider.client(&notice.client_id) else {
        return Attempt::Impossible("the service is no longer registered");
    };
    let Some(uri) = client.backchannel_logout_uri.as_deref() else {
        return Attempt::Impossible("the service has no backchannel_logout_uri");
    };
    let jti = random_token();
    let params = LogoutTokenParams {
        issuer: hub.backchannel.issuer(),
        client_id: &client.client_id,
        subject: &notice.user,
        sid: notice.sid.as_deref(),
        jti: &jti,
        now: hub.clock.now(),
    };
    let Some(http) = hub.backchannel.http.as_ref() else {
        return Attempt::Impossible("the hub has no HTTP client");
    };
    let token = match logout_token(provider.keys(), client.id_token_alg, &params) {
        Ok(token) => token,
        Err(_) => return Attempt::Impossible("the logout token could not be signed"),
    };
    let response = http
        .post(uri)
        .form(&[("logout_token", token.as_str())])
        .send()
        .await;
    match response {
        // §2.8: 200, or the 204 some frameworks send for an empty 200.
        Ok(response)
            if matches!(
                response.status(),
                reqwest::StatusCode::OK | reqwest::StatusCode::NO_CONTENT
            ) =>
        {
            Attempt::Delivered
        }
        Ok(response) => Attempt::Failed(format!("HTTP {}", response.status().as_u16())),
        Err(err) if err.is_timeout() => Attempt::Failed("timed out".to_owned()),
        Err(_) => Attempt::Failed("could not connect".to_owned()),
    }
}

/// Queues a notice for each service registered with a `backchannel_logout_uri` that
/// holds tokens issued in the session that is ending (`session_hash`), or in any session
/// of the user (`None`). Call before the tokens are revoked.
pub async fn session_ending(
    hub: &Services,
    user: &str,
    session_hash: Option<&str>,
) -> Result<(), crate::error::HubError> {
    let clients = services_to_tell(hub, user, session_hash).await?;
    tell(hub, user, session_hash, clients, 1);
    Ok(())
}

/// The services to tell should the session `session_hash` (or, with `None`, every
/// session of the user) end: those registered with a `backchannel_logout_uri` holding
/// tokens issued in it. Read before the session is deleted, so that of several replicas
/// ending the same session (the expiry purge runs on each) the one whose deletion counts
/// tells them, whoever revokes the tokens first.
pub async fn services_to_tell(
    hub: &Services,
    user: &str,
    session_hash: Option<&str>,
) -> Result<Vec<String>, crate::error::HubError> {
    let Some(provider) = hub.provider.as_ref() else {
        return Ok(Vec::new());
    };
    if provider
        .clients()
        .iter()
        .all(|client| client.backchannel_logout_uri.is_none())
    {
        return Ok(Vec::new());
    }
    let mut clients: Vec<String> = Vec::new();
    for token in hub.store.list_api_tokens(user).await? {
        let Some(client) = crate::provider::token_client(&token.note) else {
            continue;
        };
        let in_session = session_hash.is_none_or(|hash| issued_in(&token.note, client, hash));
        if in_session && !clients.iter().any(|known| known == client) {
            clients.push(client.to_owned());
        }
    }
    Ok(clients)
}

/// Queues the notices for `clients` (from [`services_to_tell`]) when `ended` sessions is
/// more than none (another replica that ended them tells the services itself).
pub fn tell(
    hub: &Services,
    user: &str,
    session_hash: Option<&str>,
    clients: Vec<String>,
    ended: u64,
) {
    if ended == 0 {
        return;
    }
    let Some(provider) = hub.provider.as_ref() else {
        return;
    };
    let sid = session_hash.map(session_sid);
    for client_id in clients {
        if provider
            .client(&client_id)
            .is_some_and(|client| client.backchannel_logout_uri.is_some())
        {
            hub.backchannel.enqueue(LogoutNotice {
                client_id,
                user: user.to_owned(),
                sid: sid.clone(),
            });
        }
    }
}

/// Whether an access token's note (see [`crate::provider::api_token_record`]) names the
/// hub session `session_hash`.
fn issued_in(note: &str, client: &str, session_hash: &str) -> bool {
    let marker = session_hash.get(..16).unwrap_or(session_hash);
    note == format!("OAuth client {client}; hub session {marker}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_drops_notices_instead_of_waiting() {
        let notifier = Notifier::new("https://hub".to_owned());
        let notice = LogoutNotice {
            client_id: "app".to_owned(),
            user: "ada".to_owned(),
            sid: None,
        };
        // Nobody sends (no worker started): the queue fills, and enqueueing never blocks.
        for _ in 0..NOTIFY_QUEUE + 10 {
            notifier.enqueue(notice.clone());
        }
        let mut receiver = notifier.receiver.lock().unwrap().take().unwrap();
        let mut queued = 0;
        while receiver.try_recv().is_ok() {
            queued += 1;
        }
        assert_eq!(queued, NOTIFY_QUEUE);
    }

    #[test]
    fn the_session_of_an_access_token_is_read_from_its_note() {
        let hash = "0123456789abcdef0123456789abcdef";
        let record = crate::provider::api_token_record(&hubauth_provider::NewAccessToken {
            token: "t".repeat(40),
            user: "ada".to_owned(),
            client_id: "app".to_owned(),
            session: hash.to_owned(),
            scopes: vec![],
            created: 1,
            expires: 2,
        });
        assert!(issued_in(&record.note, "app", hash));
        assert!(!issued_in(&record.note, "app", "fedcba9876543210"));
        assert!(!issued_in(&record.note, "other", hash));
    }
}
