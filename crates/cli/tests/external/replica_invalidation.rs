//! Instant invalidation between replicas: two `hubauth serve` processes on one PostgreSQL
//! database with a session cache that would keep every answer for an hour
//! (`session_cache_ttl = 3600`), so only the notification one replica sends can explain
//! the other replica's denial. A logout, an admin flag or group changed through the REST
//! API, a token revoked, a user deleted or blocked on replica A: replica B's next
//! forward-auth check shows it. When B's listening connection is killed, B reconnects,
//! forgets everything it cached (what was announced meanwhile is lost) and hears later
//! announcements. How fast: `cargo bench -p hubauth --bench invalidation` (BENCHMARKS.md).
//!
//! Runs when `HUBAUTH_TEST_POSTGRES_URL` is set (`./scripts/test.sh` sets it); skipped with
//! a note otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use hubauth_server::cookies::SESSION_COOKIE;
use hubauth_testkit::pg;
use hubauth_testkit::process::{HubProcess, hub_config};
use serde_json::json;

use crate::replicas::{bare_client, login_across};

/// How long a test waits for a replica to show a change (generous for a loaded machine; the
/// bound itself is measured by the benchmark, not asserted here).
const DEADLINE: Duration = Duration::from_secs(10);

/// What replica B tells the proxy: the status and the identity headers.
#[derive(Debug, PartialEq)]
struct Answer {
    status: u16,
    admin: Option<String>,
    groups: Option<String>,
}

/// `GET hub/forward-auth` on `hub` with `credential` (a session cookie or a token header).
async fn check(hub: &HubProcess, credential: &Credential) -> Answer {
    let request = bare_client().get(format!("{}forward-auth", hub.hub_url));
    let request = match credential {
        Credential::Session(session) => {
            request.header("cookie", format!("{SESSION_COOKIE}={session}"))
        }
        Credential::Token(token) => request.header("authorization", format!("token {token}")),
    };
    let response = request.send().await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
    };
    Answer {
        status: response.status().as_u16(),
        admin: header("x-auth-request-admin"),
        groups: header("x-auth-request-groups"),
    }
}

enum Credential {
    Session(String),
    Token(String),
}

/// Polls `hub` until its answer satisfies `wanted`; panics with both logs after
/// [`DEADLINE`].
async fn until(
    hub: &HubProcess,
    credential: &Credential,
    what: &str,
    wanted: impl Fn(&Answer) -> bool,
) -> Duration {
    let start = Instant::now();
    loop {
        let answer = check(hub, credential).await;
        if wanted(&answer) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < DEADLINE,
            "{what}: replica B still answers {answer:?} after {:?}; its log:\n{}",
            start.elapsed(),
            hub.log()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until `hub` has logged that it listens `times` times (the first connection, then
/// each reconnection).
async fn listening(hub: &HubProcess, times: usize) {
    let start = Instant::now();
    while hub
        .log()
        .matches("listening for session cache invalidations")
        .count()
        < times
    {
        assert!(
            start.elapsed() < DEADLINE,
            "the hub does not listen ({times}); its log:\n{}",
            hub.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A request to `hub`'s REST API (`hub/api/{path}`) with `token`.
fn api(
    hub: &HubProcess,
    token: &str,
    method: reqwest::Method,
    path: &str,
) -> reqwest::RequestBuilder {
    bare_client()
        .request(method, format!("{}api/{path}", hub.hub_url))
        .header("authorization", format!("token {token}"))
}

async fn store_token(db_url: &str, user: &str, scopes: &[&str]) -> String {
    let token = hubauth_server::secrets::random_token();
    let store = hubauth_store::open(db_url).await.unwrap();
    store
        .create_api_token(hubauth_store::NewApiToken {
            hash: hubauth_server::secrets::hash_token(&token),
            prefix: token.chars().take(4).collect(),
            user: user.to_owned(),
            note: "replica invalidation test".to_owned(),
            scopes: scopes.iter().map(|scope| (*scope).to_owned()).collect(),
            created: 1,
            expires: None,
        })
        .await
        .unwrap();
    store.close().await;
    token
}

#[tokio::test]
async fn a_change_on_one_replica_is_seen_by_the_next_check_on_the_other_despite_an_hour_long_cache()
{
    let Some(server) = pg::server_url(
        "a_change_on_one_replica_is_seen_by_the_next_check_on_the_other_despite_an_hour_long_cache",
    ) else {
        return;
    };
    let db = pg::TestDatabase::create(&server, "invalidation").await;
    let dir = tempfile::tempdir().unwrap();
    {
        let secret = dir.path().join("shared_cookie_secret");
        let config = |extra: &str| {
            format!(
                "{}[Authenticator]\nadmin_users = [\"root\"]\n{extra}",
                hub_config(
                    &db.url,
                    &secret,
                    "authenticator_class = \"dummy\"\nsession_cache_ttl = 3600\nforward_auth_accept_tokens = true"
                )
            )
        };
        let a = HubProcess::start(dir.path(), "hub-a", &config(""), &[]);
        let b = HubProcess::start(dir.path(), "hub-b", &config(""), &[]);
        listening(&a, 1).await;
        listening(&b, 1).await;
        let root = store_token(&db.url, "root", &["inherit"]).await;
        let denied = |answer: &Answer| answer.status == 401;

        // A logout on A: B denies the session at its next check.
        let session = login_across(&a, &a, "alice").await;
        let alice = Credential::Session(session.clone());
        assert_eq!(check(&b, &alice).await.status, 200);
        assert_eq!(check(&b, &alice).await.status, 200, "now cached on B");
        let out = hubauth_testkit::process::logout(
            &bare_client(),
            &a.hub_url,
            Some(&format!("{SESSION_COOKIE}={session}")),
        )
        .await
        .unwrap();
        assert_eq!(out.status(), 302);
        let took = until(&b, &alice, "logout on A", denied).await;
        eprintln!("logout on A denied on B after {took:?}");

        // The admin flag changed through A's REST API.
        let bob = Credential::Session(login_across(&a, &a, "bob").await);
        let answer = check(&b, &bob).await;
        assert_eq!(
            (answer.status, answer.admin.as_deref()),
            (200, Some("false"))
        );
        let response = api(&a, &root, reqwest::Method::PATCH, "users/bob")
            .json(&json!({ "admin": true }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", a.log());
        until(&b, &bob, "admin flag set on A", |answer| {
            answer.admin.as_deref() == Some("true")
        })
        .await;

        // Groups changed through A's REST API.
        let response = api(&a, &root, reqwest::Method::POST, "groups/staff")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{}", a.log());
        assert_eq!(check(&b, &bob).await.groups.as_deref(), Some(""));
        let response = api(&a, &root, reqwest::Method::POST, "groups/staff/users")
            .json(&json!({ "users": ["bob"] }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", a.log());
        until(&b, &bob, "bob added to a group on A", |answer| {
            answer.groups.as_deref() == Some("staff")
        })
        .await;

        // A token revoked through A's REST API.
        let token = store_token(&db.url, "bob", &["access:apps"]).await;
        let bobs_token = Credential::Token(token);
        assert_eq!(check(&b, &bobs_token).await.status, 200);
        assert_eq!(check(&b, &bobs_token).await.status, 200, "now cached on B");
        let listed: serde_json::Value = api(&a, &root, reqwest::Method::GET, "users/bob/tokens")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = listed["api_tokens"]
            .as_array()
            .unwrap()
            .iter()
            .find(|token| token["note"] == "replica invalidation test")
            .expect("bob's token is listed")["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let response = api(
            &a,
            &root,
            reqwest::Method::DELETE,
            &format!("users/bob/tokens/{id}"),
        )
        .send()
        .await
        .unwrap();
        assert_eq!(response.status(), 204, "{}", a.log());
        until(&b, &bobs_token, "token revoked on A", denied).await;
        assert_eq!(check(&b, &bob).await.status, 200, "bob's session stays");

        // A user deleted through A's REST API.
        let response = api(&a, &root, reqwest::Method::DELETE, "users/bob")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204, "{}", a.log());
        until(&b, &bob, "user deleted on A", denied).await;

        // A user blocked: a third replica starts with carol in blocked_users, and its
        // start-up reconciliation ends her sessions.
        let dave = Credential::Session(login_across(&a, &a, "dave").await);
        let carol = Credential::Session(login_across(&a, &a, "carol").await);
        assert_eq!(check(&b, &carol).await.status, 200);
        assert_eq!(check(&b, &carol).await.status, 200, "now cached on B");
        let c = HubProcess::start(
            dir.path(),
            "hub-c",
            &config("blocked_users = [\"carol\"]\n"),
            &[],
        );
        until(&b, &carol, "carol blocked by C", denied).await;
        drop(c);

        // The control: a change written to the database without an announcement (dave's
        // sessions deleted behind the hubs' backs) is not seen by B, whose cache answers
        // for an hour. It comes after C's start, which flushed B's cache; dave logged in
        // before C started, so the announcement of that login (which drops dave's entries)
        // reached B before C's flush did, and nothing about dave is on its way to B now.
        assert_eq!(check(&b, &dave).await.status, 200);
        let store = hubauth_store::open(&db.url).await.unwrap();
        assert_eq!(store.delete_user_sessions("dave").await.unwrap(), 1);
        store.close().await;
        for _ in 0..3 {
            assert_eq!(check(&b, &dave).await.status, 200, "cached for an hour");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        // B's listening connection is killed: B reconnects and forgets everything, so
        // dave's session, deleted behind its back above, is denied now...
        let admin = sqlx::PgPool::connect(&db.url).await.unwrap();
        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
        )
        .bind(format!(
            "{} {}",
            hubauth_store::LISTENER_APPLICATION_NAME,
            b.pid()
        ))
        .fetch_all(&admin)
        .await
        .unwrap();
        admin.close().await;
        assert_eq!(killed, [true], "B's listening connection");
        listening(&b, 2).await;
        until(&b, &dave, "B reconnected", denied).await;
        // ...and what A announces later still reaches B.
        let session = login_across(&a, &a, "erin").await;
        let erin = Credential::Session(session.clone());
        assert_eq!(check(&b, &erin).await.status, 200);
        assert_eq!(check(&b, &erin).await.status, 200, "now cached on B");
        hubauth_testkit::process::logout(
            &bare_client(),
            &a.hub_url,
            Some(&format!("{SESSION_COOKIE}={session}")),
        )
        .await
        .unwrap();
        until(&b, &erin, "logout on A after B reconnected", denied).await;

        // B's metrics count both connections and what it heard.
        let metrics = bare_client()
            .get(format!("{}metrics", b.hub_url))
            .header("authorization", format!("token {root}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("hubauth_cache_invalidations_total{event=\"listening\"} 2"),
            "{metrics}"
        );
        assert!(
            metrics.contains("hubauth_cache_invalidations_total{event=\"received\"}"),
            "{metrics}"
        );
        assert!(!metrics.contains("announce_failed"), "{metrics}");

        for hub in [&a, &b] {
            assert!(!hub.log().contains("panicked"), "{}", hub.log());
        }
    }
    db.drop_now().await;
}
