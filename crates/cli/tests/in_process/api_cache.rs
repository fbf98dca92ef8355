//! The REST API's answers come from the session cache (issue 18 item 4): who calls, with
//! which scopes, and `GET /hub/api/user`'s body are computed once per session or token
//! and kept with its cache entry. These tests pin that every change made through this hub
//! reaches the next request at once, for a session cookie and for an API token alike, and
//! that a change made behind the hub's back (another replica, the database) is seen within
//! the documented bound, `session_cache_ttl` seconds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Arc;

use hubauth_server::ManualClock;
use hubauth_testkit::hub::*;
use reqwest::Method;
use serde_json::{Value, json};

const NOW: i64 = 1_800_000_000;

/// A hub with DummyAuthenticator on a manual clock: `admin` is an admin, `alice` and
/// `bob` are allowed; `session_cache_ttl` is 5 s (the default).
async fn hub_at(clock: Arc<ManualClock>) -> TestHub {
    start_hub_with(HubOptions {
        dir: tempfile::TempDir::new().unwrap(),
        listener: None,
        hub_extra: "session_cache_ttl = 5\n",
        rest: "[Authenticator]\nadmin_users = [\"admin\"]\nallowed_users = [\"alice\", \"bob\"]\n",
        env: &[],
        clock: Some(clock),
    })
    .await
    .unwrap()
}

/// A browser logged in as `name`.
async fn browser(hub: &TestHub, name: &str) -> reqwest::Client {
    let client = client();
    let done = login(&client, hub, name, "pw", None).await;
    assert_eq!(done.status(), 302, "{name} logs in");
    client
}

/// `GET /hub/api/user` with a session's browser.
async fn whoami_cookie(hub: &TestHub, browser: &reqwest::Client) -> (u16, Value) {
    json_response(browser.get(api_url(hub, "/user")).send().await.unwrap()).await
}

/// `GET /hub/api/user` with a token.
async fn whoami_token(hub: &TestHub, token: &str) -> (u16, Value) {
    api_call(hub, Method::GET, "/user", token, None).await
}

fn scopes(me: &Value) -> BTreeSet<String> {
    serde_json::from_value(me["scopes"].clone()).unwrap()
}

/// Both credentials of alice answer with `check` on the model.
async fn both_see(
    hub: &TestHub,
    browser: &reqwest::Client,
    token: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) {
    for (how, (status, me)) in [
        ("cookie", whoami_cookie(hub, browser).await),
        ("token", whoami_token(hub, token).await),
    ] {
        assert_eq!(status, 200, "{how}: {me}");
        assert!(check(&me), "{how} does not see {what}: {me}");
    }
}

#[tokio::test]
async fn api_answers_follow_admin_group_and_role_changes_at_once() {
    let clock = Arc::new(ManualClock::at(NOW));
    let hub = hub_at(clock.clone()).await;
    let admin = store_token(&hub, "admin", &["inherit"], None).await;
    let token = store_token(&hub, "alice", &["inherit"], None).await;
    let alice = browser(&hub, "alice").await;
    // First answers (now cached), twice each: the second comes from the cache.
    for _ in 0..2 {
        both_see(&hub, &alice, &token, "a plain user", |me| {
            me["name"] == "alice" && me["admin"] == false && me["groups"] == json!([])
        })
        .await;
    }

    // The admin flag.
    let (status, _) = api_call(
        &hub,
        Method::PATCH,
        "/users/alice",
        &admin,
        Some(json!({"admin": true})),
    )
    .await;
    assert_eq!(status, 200);
    both_see(&hub, &alice, &token, "the admin flag", |me| {
        me["admin"] == true && scopes(me).contains("admin:users")
    })
    .await;
    let (status, _) = api_call(
        &hub,
        Method::PATCH,
        "/users/alice",
        &admin,
        Some(json!({"admin": false})),
    )
    .await;
    assert_eq!(status, 200);
    both_see(&hub, &alice, &token, "the admin flag gone", |me| {
        me["admin"] == false && !scopes(me).contains("admin:users")
    })
    .await;

    // Groups.
    let (status, _) = api_call(&hub, Method::POST, "/groups/staff", &admin, None).await;
    assert_eq!(status, 201);
    let (status, _) = api_call(
        &hub,
        Method::POST,
        "/groups/staff/users",
        &admin,
        Some(json!({"users": ["alice"]})),
    )
    .await;
    assert_eq!(status, 200);
    both_see(&hub, &alice, &token, "the new group", |me| {
        me["groups"] == json!(["staff"])
    })
    .await;
    let (status, _) = api_call(
        &hub,
        Method::DELETE,
        "/groups/staff/users",
        &admin,
        Some(json!({"users": ["alice"]})),
    )
    .await;
    assert_eq!(status, 200);
    both_see(&hub, &alice, &token, "the group gone", |me| {
        me["groups"] == json!([])
    })
    .await;

    // Roles: a new role's scopes, then none once it is deleted.
    let (status, role) = api_call(
        &hub,
        Method::POST,
        "/roles/metrics-reader",
        &admin,
        Some(json!({"scopes": ["read:metrics"], "users": ["alice"]})),
    )
    .await;
    assert_eq!(status, 201, "{role}");
    both_see(&hub, &alice, &token, "the role's scope", |me| {
        scopes(me).contains("read:metrics")
    })
    .await;
    let (status, _) = api_call(&hub, Method::DELETE, "/roles/metrics-reader", &admin, None).await;
    assert_eq!(status, 204);
    both_see(&hub, &alice, &token, "the role's scope gone", |me| {
        !scopes(me).contains("read:metrics")
    })
    .await;
    hub.stop().await;
}

#[tokio::test]
async fn api_credentials_end_at_once_when_revoked_through_the_hub() {
    let clock = Arc::new(ManualClock::at(NOW));
    let hub = hub_at(clock.clone()).await;
    let admin = store_token(&hub, "admin", &["inherit"], None).await;
    let token = store_token(&hub, "alice", &["inherit"], None).await;
    let other = store_token(&hub, "alice", &["read:users:name!user=alice"], None).await;
    let alice = browser(&hub, "alice").await;
    both_see(&hub, &alice, &token, "alice", |me| me["name"] == "alice").await;
    let (status, me) = whoami_token(&hub, &other).await;
    assert_eq!(status, 200, "{me}");

    // A token deleted through the API: refused at once; the other token and the session
    // stay.
    let id = whoami_token(&hub, &token).await.1["token_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = api_call(
        &hub,
        Method::DELETE,
        &format!("/users/alice/tokens/{id}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, body) = whoami_token(&hub, &token).await;
    assert_eq!(status, 403, "a deleted token still answers: {body}");
    assert_eq!(whoami_token(&hub, &other).await.0, 200);
    assert_eq!(whoami_cookie(&hub, &alice).await.0, 200);

    // A logout: the session's API requests are refused at once.
    let response = logout(&alice, &hub).await;
    assert!(response.status().is_success() || response.status().is_redirection());
    let (status, body) = whoami_cookie(&hub, &alice).await;
    assert_eq!(status, 403, "a logged-out session still answers: {body}");

    // A deleted user: every token of theirs is refused at once.
    let bob = store_token(&hub, "bob", &["inherit"], None).await;
    assert_eq!(whoami_token(&hub, &bob).await.0, 200);
    let (status, _) = api_call(&hub, Method::DELETE, "/users/bob", &admin, None).await;
    assert_eq!(status, 204);
    let (status, body) = whoami_token(&hub, &bob).await;
    assert_eq!(status, 403, "a deleted user's token still answers: {body}");
    hub.stop().await;
}

#[tokio::test]
async fn api_changes_behind_the_hubs_back_are_seen_within_the_cache_ttl() {
    let clock = Arc::new(ManualClock::at(NOW));
    let hub = hub_at(clock.clone()).await;
    let token = store_token(&hub, "alice", &["inherit"], None).await;
    let alice = browser(&hub, "alice").await;
    both_see(&hub, &alice, &token, "alice", |me| me["admin"] == false).await;

    // Another replica (here: the database directly) deletes the token, ends the session
    // and makes alice an admin.
    let store = hub.store();
    let record = store
        .list_api_tokens("alice")
        .await
        .unwrap()
        .into_iter()
        .next()
        .unwrap();
    assert!(store.delete_api_token("alice", record.id).await.unwrap());
    assert!(store.delete_user_sessions("alice").await.unwrap() >= 1);
    store.set_admin("alice", true).await.unwrap();

    // Within the TTL the cached answers stand...
    clock.advance(4);
    both_see(&hub, &alice, &token, "the cached answer", |me| {
        me["admin"] == false
    })
    .await;
    // ...and once it has passed, both credentials are refused.
    clock.advance(1);
    let (status, body) = whoami_token(&hub, &token).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = whoami_cookie(&hub, &alice).await;
    assert_eq!(status, 403, "{body}");
    hub.stop().await;
}

#[tokio::test]
async fn token_activity_is_written_at_most_once_a_minute_from_the_cache() {
    let clock = Arc::new(ManualClock::at(NOW));
    let hub = hub_at(clock.clone()).await;
    let token = store_token(&hub, "alice", &["inherit"], None).await;
    let activity = |hub: &TestHub| {
        let store = hub.store();
        async move {
            let record = store.list_api_tokens("alice").await.unwrap().remove(0);
            let user = store.get_user("alice").await.unwrap().unwrap();
            (record.last_activity, user.last_activity)
        }
    };
    assert_eq!(whoami_token(&hub, &token).await.0, 200);
    assert_eq!(activity(&hub).await, (Some(NOW), Some(NOW)));
    // Used again within the minute (from the cache, and after it was re-read): no write.
    clock.advance(30);
    assert_eq!(whoami_token(&hub, &token).await.0, 200);
    clock.advance(29);
    assert_eq!(whoami_token(&hub, &token).await.0, 200);
    assert_eq!(activity(&hub).await, (Some(NOW), Some(NOW)));
    // A minute after the last write: written again.
    clock.advance(1);
    assert_eq!(whoami_token(&hub, &token).await.0, 200);
    assert_eq!(activity(&hub).await, (Some(NOW + 60), Some(NOW + 60)));
    hub.stop().await;
}
