//! Two `hubauth serve` processes on one PostgreSQL database, as replicas behind a load
//! balancer: they share the database and the cookie secret file. A session made on one is
//! valid on the other; a logout or a user deletion on one takes effect on the other within
//! the bound that holds even when notifications are lost (docs/guide/05-scaling.md):
//! `[Hub] session_cache_ttl`, read from the option's default (zero if a build has no
//! session cache). That the other replica is told at once, with an hour-long cache, is
//! `replica_invalidation.rs`.
//!
//! Runs when `HUBAUTH_TEST_POSTGRES_URL` is set (`./scripts/test.sh` sets it), each test in
//! a fresh database; skipped with a note otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_testkit::pg;
use hubauth_testkit::process;

use std::time::{Duration, Instant};

use hubauth_config::{Config, MapEnv};
use hubauth_server::cookies::SESSION_COOKIE;
use process::{HubProcess, hub_config, scrape_xsrf};

/// How long after a change on one replica the other may still accept the old session:
/// `[Hub] session_cache_ttl` (its default) when this build has that option, else zero.
fn documented_bound() -> Duration {
    let registry = hubauth_cli::registry().unwrap();
    let config = Config::empty();
    let env = MapEnv::from_iter(Vec::<(String, String)>::new());
    let view = config.view(&registry, "Hub", &env);
    if view.option("session_cache_ttl").is_err() {
        return Duration::ZERO;
    }
    let seconds = view
        .value("session_cache_ttl")
        .ok()
        .flatten()
        .and_then(|value| value.as_f64())
        .unwrap_or(0.0);
    Duration::from_secs_f64(seconds.max(0.0))
}

/// Slack on top of the bound for a loaded test machine (two cores, many tests).
const MARGIN: Duration = Duration::from_secs(10);

/// A client without a cookie jar: the session cookie is sent by hand, so a logout's
/// `Set-Cookie` cannot hide whether the server still accepts the old session.
pub(crate) fn bare_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// Logs in with the form: GET the login page on `page_hub`, POST it to `post_hub` (the
/// form token must be valid on every replica). Returns the session cookie's value.
pub(crate) async fn login_across(
    page_hub: &HubProcess,
    post_hub: &HubProcess,
    user: &str,
) -> String {
    let c = bare_client();
    let page = c
        .get(format!("{}login", page_hub.hub_url))
        .send()
        .await
        .unwrap();
    let xsrf_cookie = set_cookie(&page, "_xsrf").unwrap_or_default();
    let xsrf = scrape_xsrf(&page.text().await.unwrap()).unwrap();
    let response = c
        .post(format!("{}login", post_hub.hub_url))
        .header("cookie", format!("_xsrf={xsrf_cookie}"))
        .form(&[
            ("_xsrf", xsrf.as_str()),
            ("username", user),
            ("password", "pw"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302, "{}", post_hub.log());
    set_cookie(&response, SESSION_COOKIE).expect("a session cookie")
}

/// GET `hub/home` on `hub` with the session: 200 (accepted) or 302 to the login page.
async fn home_with(hub: &HubProcess, session: &str) -> u16 {
    bare_client()
        .get(format!("{}home", hub.hub_url))
        .header("cookie", format!("{SESSION_COOKIE}={session}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Polls until `hub` refuses the session; returns how long that took. Panics when it
/// takes longer than the bound plus the margin.
async fn refused_within_bound(hub: &HubProcess, session: &str, what: &str) -> Duration {
    let bound = documented_bound() + MARGIN;
    let start = Instant::now();
    loop {
        let status = home_with(hub, session).await;
        if status == 302 {
            return start.elapsed();
        }
        assert_eq!(status, 200, "{what}: unexpected answer");
        assert!(
            start.elapsed() <= bound,
            "{what}: the other replica still accepts the session after {:?} (bound {:?})",
            start.elapsed(),
            bound
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn start_pair(dir: &std::path::Path, db_url: &str) -> (HubProcess, HubProcess) {
    let secret = dir.join("shared_cookie_secret");
    let config = format!(
        "{}[Authenticator]\nadmin_users = [\"root\"]\n",
        hub_config(db_url, &secret, "authenticator_class = \"dummy\"")
    );
    // A creates the secret file; B then reads the same one.
    let a = HubProcess::start(dir, "hub-a", &config, &[]);
    let b = HubProcess::start(dir, "hub-b", &config, &[]);
    (a, b)
}

#[tokio::test]
async fn two_hubs_on_one_postgres_share_sessions_and_revocations() {
    let Some(server) = pg::server_url("two_hubs_on_one_postgres_share_sessions_and_revocations")
    else {
        return;
    };
    let db = pg::TestDatabase::create(&server, "replicas").await;
    let dir = tempfile::tempdir().unwrap();
    {
        let (a, b) = start_pair(dir.path(), &db.url);
        assert_ne!(a.origin, b.origin);

        // A session made on A is valid on B, and the other way round; the login form
        // itself may be served by one replica and posted to the other.
        let alice = login_across(&a, &a, "alice").await;
        assert_eq!(home_with(&b, &alice).await, 200, "{}", b.log());
        let bob = login_across(&b, &a, "bob").await;
        let bob_too = login_across(&a, &b, "bob").await;
        assert_eq!(home_with(&a, &bob_too).await, 200);
        assert_eq!(home_with(&b, &bob).await, 200);

        // Logout on A: B refuses that session within the bound; bob's other session
        // (made on B) is not affected.
        let response = process::logout(
            &bare_client(),
            &a.hub_url,
            Some(&format!("{SESSION_COOKIE}={bob}")),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), 302);
        let took = refused_within_bound(&b, &bob, "logout on A").await;
        eprintln!("logout on A refused on B after {took:?}");
        assert_eq!(home_with(&b, &bob_too).await, 200);

        // An admin deletes the user through A's REST API: B refuses every session of that
        // user within the bound, and so does A.
        let token = hubauth_server::secrets::random_token();
        let store = hubauth_store::open(&db.url).await.unwrap();
        store
            .create_api_token(hubauth_store::NewApiToken {
                hash: hubauth_server::secrets::hash_token(&token),
                prefix: token.chars().take(4).collect(),
                user: "root".to_owned(),
                note: "replicas test".to_owned(),
                scopes: vec!["inherit".to_owned()],
                created: 1,
                expires: None,
            })
            .await
            .unwrap();
        store.close().await;
        let deleted = bare_client()
            .delete(format!("{}api/users/alice", a.hub_url))
            .header("authorization", format!("token {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), 204, "{}", a.log());
        let took = refused_within_bound(&b, &alice, "user deleted").await;
        eprintln!("deleted user refused on B after {took:?}");
        refused_within_bound(&a, &alice, "user deleted").await;
        // Logging in again creates the user afresh, on either replica.
        let again = login_across(&b, &b, "alice").await;
        assert_eq!(home_with(&a, &again).await, 200);

        // Both replicas stay ready on the shared database.
        for hub in [&a, &b] {
            let ready = bare_client()
                .get(format!("{}health/ready", hub.hub_url))
                .send()
                .await
                .unwrap();
            assert_eq!(ready.status(), 200);
            assert!(!hub.log().contains("panicked"), "{}", hub.log());
        }
    }
    db.drop_now().await;
}

#[tokio::test]
async fn replicas_logging_in_the_same_new_user_at_once_create_it_once() {
    let Some(server) =
        pg::server_url("replicas_logging_in_the_same_new_user_at_once_create_it_once")
    else {
        return;
    };
    let db = pg::TestDatabase::create(&server, "replicas_race").await;
    let dir = tempfile::tempdir().unwrap();
    {
        let (a, b) = start_pair(dir.path(), &db.url);
        let mut tasks = Vec::new();
        for i in 0..16 {
            let (first, second) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
            tasks.push(login_across(first, second, "carol"));
        }
        let sessions = futures::future::join_all(tasks).await;
        for session in &sessions {
            assert_eq!(home_with(&a, session).await, 200);
            assert_eq!(home_with(&b, session).await, 200);
        }
        let store = hubauth_store::open(&db.url).await.unwrap();
        let users = store.user_names().await.unwrap();
        assert_eq!(users, ["carol", "root"]);
        let carol = store.get_user("carol").await.unwrap().unwrap();
        assert_eq!(carol.roles, ["user"]);
        store.close().await;
    }
    db.drop_now().await;
}
