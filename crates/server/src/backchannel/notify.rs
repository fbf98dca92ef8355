//! The provider's half: when a hub session ends, each service registered with a
//! `backchannel_logout_uri` that was issued tokens in that session receives a logout
//! token (OpenID Connect Back-Channel Logout 1.0 §2.5).
//!
//! Ending a session queues a notice per service in the database's outbox (so a notice
//! outlives a restart, and any replica can send it; when the outbox holds
//! [`NOTIFY_QUEUE`] notices, new ones are dropped with a warning, so a service that is
//! down for long never fills the database). A worker in each process claims notices a few
//! at a time and sends each, signing a fresh token (with the key of the service's ID
//! token algorithm, published in the hub's JWKS) for every attempt: up to
//! [`NOTIFY_ATTEMPTS`] attempts of at most [`NOTIFY_TIMEOUT`] each, counted across
//! restarts, with a doubling pause between them. Only a 200 answer (or a 204, which §2.8
//! says some frameworks send instead) counts as delivered; redirects are not followed. A
//! process that stops gives its claims back; one that dies holds them until
//! [`CLAIM_LEASE`] has passed, then another takes them over, so a notice may arrive
//! twice (each with its own `jti`), never not at all while the hub runs somewhere.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use hubauth_provider::{LogoutTokenParams, logout_token};
use hubauth_store::{NewLogoutNotice, QueuedLogoutNotice};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

pub use hubauth_provider::{logout_token_claims, session_sid};

use crate::secrets::random_token;
use crate::services::Services;

/// Notices waiting in the outbox at most; more are dropped with a warning.
pub const NOTIFY_QUEUE: u64 = 10_000;
/// How long one attempt may take (connecting, sending and the answer).
pub const NOTIFY_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts per notice, across restarts.
pub const NOTIFY_ATTEMPTS: u32 = 5;
/// How long (seconds of the hub's clock) a process holds a notice it claimed before
/// another may take it over; longer than the longest delivery (five attempts of five
/// seconds and the pauses between them).
pub const CLAIM_LEASE: i64 = 120;
/// The pause after the first failed attempt; it doubles after each.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// Notices sent at the same time at most, per process.
const CONCURRENCY: usize = 8;
/// How often the worker looks for notices that other processes queued or gave back
/// (its own wake it at once).
const POLL: Duration = Duration::from_secs(2);

/// The outbox's worker and the client that sends its notices.
pub struct Notifier {
    /// This process's name in the outbox's claims.
    owner: String,
    /// Woken when this process queues a notice or finishes one.
    wake: Arc<Notify>,
    started: AtomicBool,
    /// Set when the process stops: deliveries in progress end, claims are given back.
    stopped: AtomicBool,
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
            owner: random_token(),
            wake: Arc::new(Notify::new()),
            started: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            issuer,
            http,
        }
    }

    /// The issuer of the logout tokens.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Starts the worker that sends the outbox's notices (once; later calls do nothing).
    /// It holds the services weakly and stops when they are dropped or [`Notifier::stop`]
    /// is called.
    pub fn start(services: &Arc<Services>) {
        if services.backchannel.started.swap(true, Ordering::SeqCst) {
            return;
        }
        tokio::spawn(run(Arc::downgrade(services)));
    }

    /// Stops sending and gives this process's claimed notices back, so that another
    /// process (or this hub's next start) sends them at once.
    pub async fn stop(services: &Services) {
        let notifier = &services.backchannel;
        notifier.stopped.store(true, Ordering::SeqCst);
        notifier.wake.notify_one();
        match services.store.release_logout_notices(&notifier.owner).await {
            Ok(0) => {}
            Ok(released) => {
                tracing::info!(
                    released,
                    "back-channel logout notices left for the next start or another replica"
                );
            }
            Err(err) => {
                tracing::warn!(error = %err, "could not give back back-channel logout notices; another replica takes them over after the lease");
            }
        }
    }

    fn stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Queues `notices` in the outbox without sending (the worker does); a full outbox
    /// or a database error drops them (logged, never failing the logout).
    async fn enqueue(&self, hub: &Services, notices: Vec<NewLogoutNotice>) {
        if notices.is_empty() {
            return;
        }
        let count = notices.len();
        match hub
            .store
            .queue_logout_notices(&notices, hub.clock.now(), NOTIFY_QUEUE)
            .await
        {
            Ok(queued) if queued > 0 => {
                for _ in 0..count {
                    crate::metrics::backchannel_logout("queued");
                }
                self.wake.notify_one();
            }
            outcome => {
                let why = match outcome {
                    Err(err) => format!("the database refused them: {err}"),
                    Ok(_) => format!("the outbox holds {NOTIFY_QUEUE} notices already"),
                };
                for notice in &notices {
                    crate::metrics::backchannel_logout("dropped");
                    tracing::warn!(service = %notice.client_id, user = %notice.user, "back-channel logout not queued ({why}); the service is not told of this logout");
                }
            }
        }
    }
}

async fn run(services: Weak<Services>) {
    let slots = Arc::new(Semaphore::new(CONCURRENCY));
    loop {
        let Some(hub) = services.upgrade() else {
            return;
        };
        let notifier = &hub.backchannel;
        if notifier.stopped() {
            return;
        }
        let free = u32::try_from(slots.available_permits()).unwrap_or(0);
        let mut claimed = Vec::new();
        if free > 0 {
            let now = hub.clock.now();
            match hub
                .store
                .claim_logout_notices(&notifier.owner, now, now - CLAIM_LEASE, free)
                .await
            {
                Ok(notices) => claimed = notices,
                Err(err) => {
                    tracing::warn!(error = %err, "could not read the back-channel logout outbox; trying again");
                }
            }
        }
        let full = free > 0 && claimed.len() == free as usize;
        for queued in claimed {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return;
            };
            let services = services.clone();
            tokio::spawn(hub.metrics.clone().scope(async move {
                deliver(&services, queued, permit).await;
            }));
        }
        let wake = notifier.wake.clone();
        drop(hub);
        if full {
            // There may be more waiting.
            continue;
        }
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

/// Sends one claimed notice, retrying; logs the outcome (never the token), then deletes
/// it unless this process stopped or another took it over meanwhile.
async fn deliver(
    services: &Weak<Services>,
    queued: QueuedLogoutNotice,
    permit: OwnedSemaphorePermit,
) {
    let notice = &queued.notice;
    let mut attempts = queued.attempts;
    let mut pause = FIRST_BACKOFF;
    let finished = loop {
        let Some(hub) = services.upgrade() else {
            return;
        };
        if hub.backchannel.stopped() {
            return;
        }
        if attempts >= NOTIFY_ATTEMPTS {
            crate::metrics::backchannel_logout("failed");
            tracing::warn!(service = %notice.client_id, user = %notice.user, attempts, "back-channel logout failed; giving up");
            break hub;
        }
        let outcome = attempt_once(&hub, notice).await;
        attempts += 1;
        match outcome {
            Attempt::Delivered => {
                crate::metrics::backchannel_logout("delivered");
                tracing::info!(service = %notice.client_id, user = %notice.user, attempt = attempts, "service told of the logout (back-channel)");
                break hub;
            }
            Attempt::Impossible(why) => {
                crate::metrics::backchannel_logout("failed");
                tracing::warn!(service = %notice.client_id, user = %notice.user, "back-channel logout not sent: {why}");
                break hub;
            }
            Attempt::Failed(why) if attempts < NOTIFY_ATTEMPTS => {
                tracing::info!(service = %notice.client_id, user = %notice.user, attempt = attempts, "back-channel logout failed ({why}); retrying");
                let owner = &hub.backchannel.owner;
                // Remembered so that a restart does not start the count again; a
                // failure to write only loses that.
                if let Ok(false) = hub
                    .store
                    .record_logout_notice_attempts(queued.id, owner, attempts)
                    .await
                {
                    // Another process took it over (this one looked gone): it sends.
                    return;
                }
                drop(hub);
                tokio::time::sleep(pause).await;
                pause = pause.saturating_mul(2);
            }
            Attempt::Failed(why) => {
                crate::metrics::backchannel_logout("failed");
                tracing::warn!(service = %notice.client_id, user = %notice.user, attempts, "back-channel logout failed ({why}); giving up");
                break hub;
            }
        }
    };
    if let Err(err) = finished.store.delete_logout_notice(queued.id).await {
        tracing::warn!(error = %err, service = %notice.client_id, "could not remove a finished back-channel logout notice; it may be sent again");
    }
    drop(permit);
    finished.backchannel.wake.notify_one();
}

enum Attempt {
    Delivered,
    /// Worth another try (no answer, an error status).
    Failed(String),
    /// Never going to work (the service or the keys are gone).
    Impossible(&'static str),
}

async fn attempt_once(hub: &Services, notice: &NewLogoutNotice) -> Attempt {
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
    tell(hub, user, session_hash, clients, 1).await;
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
pub async fn tell(
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
    let notices: Vec<NewLogoutNotice> = clients
        .into_iter()
        .filter(|client_id| {
            provider
                .client(client_id)
                .is_some_and(|client| client.backchannel_logout_uri.is_some())
        })
        .map(|client_id| NewLogoutNotice {
            client_id,
            user: user.to_owned(),
            sid: sid.clone(),
        })
        .collect();
    hub.backchannel.enqueue(hub, notices).await;
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
