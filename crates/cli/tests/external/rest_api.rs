//! The JupyterHub-compatible REST API over real HTTP on loopback: who-am-I, users,
//! tokens, groups, roles, scopes, XSRF, pagination, and the OpenAPI document checked
//! against the live routes. Every scenario runs on a real SQLite file (`sqlite::*`) and,
//! when `HUBAUTH_TEST_POSTGRES_URL` is set (`./scripts/test.sh` sets it), on a fresh
//! PostgreSQL database (`postgres::*`; skipped with a note otherwise).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_testkit::on_both_backends;

use std::collections::BTreeSet;
use std::sync::Arc;

use hubauth_server::secrets::hash_token;
use hubauth_testkit::hub::*;
use serde_json::{Value, json};

const CRYPT_KEY: &str = "0000000000000000000000000000000000000000000000000000000000000001";

/// A hub with DummyAuthenticator: `admin` is an admin, `alice` is allowed, and users
/// added later are allowed through `allow_existing_users`.
async fn hub_with(
    db: &str,
    rest_extra: &str,
    clock: Option<Arc<dyn hubauth_server::Clock>>,
) -> TestHub {
    let rest = format!(
        "[Authenticator]\nadmin_users = [\"admin\"]\nallowed_users = [\"alice\"]\nallow_existing_users = true\nenable_auth_state = true\n{rest_extra}"
    );
    start_hub_with(HubOptions {
        dir: tempfile::TempDir::new().unwrap(),
        listener: None,
        hub_extra: &db_line(db),
        rest: &rest,
        env: &[("JUPYTERHUB_CRYPT_KEY", CRYPT_KEY)],
        clock,
    })
    .await
    .unwrap()
}

use reqwest::Method;

async fn get(hub: &TestHub, path: &str, token: &str) -> (u16, Value) {
    api_call(hub, Method::GET, path, token, None).await
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|item| item["name"].as_str().unwrap().to_owned())
        .collect()
}

fn assert_error(status: u16, body: &Value, expected: u16, message_part: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["status"], expected, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains(message_part),
        "{message:?} lacks {message_part:?}"
    );
}

/// Logs a browser in; returns the client and the XSRF token its pages carry.
async fn browser(hub: &TestHub, name: &str) -> (reqwest::Client, String) {
    let client = client();
    let page = client
        .get(format!("{}login", hub.hub_url))
        .send()
        .await
        .unwrap();
    let xsrf = scrape_xsrf(&page.text().await.unwrap());
    let done = login(&client, hub, name, "pw", None).await;
    assert_eq!(done.status(), 302, "{name} logs in");
    (client, xsrf)
}

async fn whoami_by_token_and_by_cookie(db: String) {
    let hub = hub_with(&db, "", None).await;
    let admin = store_token(&hub, "admin", &["inherit"], None).await;

    let (status, me) = get(&hub, "/user", &admin).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["kind"], "user");
    assert_eq!(me["name"], "admin");
    assert_eq!(me["admin"], true);
    assert_eq!(me["roles"], json!(["admin", "user"]));
    assert!(me["token_id"].as_str().unwrap().starts_with('a'));
    let scopes: BTreeSet<String> = serde_json::from_value(me["scopes"].clone()).unwrap();
    for scope in [
        "admin:users",
        "admin:auth_state",
        "tokens",
        "admin:groups",
        "read:roles",
    ] {
        assert!(scopes.contains(scope), "{scope} in {scopes:?}");
    }
    // Bearer works too; a wrong token, a missing one and a malformed header do not.
    let bearer = reqwest::Client::new()
        .get(api_url(&hub, "/user"))
        .header("Authorization", format!("Bearer {admin}"))
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 200);
    let (status, body) = get(&hub, "/user", "not-a-token").await;
    assert_error(status, &body, 403, "Missing or invalid credentials");
    let (status, body) = json_response(reqwest::get(api_url(&hub, "/user")).await.unwrap()).await;
    assert_error(status, &body, 403, "Missing or invalid credentials");

    // A normal user's session: `self` expanded to their own resources.
    let (alice, _) = browser(&hub, "alice").await;
    let (status, me) = json_response(alice.get(api_url(&hub, "/user")).send().await.unwrap()).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["name"], "alice");
    assert_eq!(me["token_id"], Value::Null);
    let scopes: BTreeSet<String> = serde_json::from_value(me["scopes"].clone()).unwrap();
    assert!(scopes.contains("read:users!user=alice"), "{scopes:?}");
    assert!(scopes.contains("tokens!user=alice"), "{scopes:?}");
    assert!(
        !scopes.iter().any(|s| s.starts_with("admin:")),
        "{scopes:?}"
    );
    assert!(me.get("auth_state").is_none(), "no admin:auth_state: {me}");
    // Changes made through the API reach the user's (cached) session at once.
    let (status, _) = api_call(
        &hub,
        Method::PATCH,
        "/users/alice",
        &admin,
        Some(json!({"admin": true})),
    )
    .await;
    assert_eq!(status, 200);
    let (_, me) = json_response(alice.get(api_url(&hub, "/user")).send().await.unwrap()).await;
    assert_eq!(me["admin"], true, "{me}");
    assert!(
        me["scopes"]
            .as_array()
            .unwrap()
            .contains(&json!("admin:users")),
        "{me}"
    );
    // A token without scopes only identifies its owner.
    let bare = store_token(&hub, "admin", &[], None).await;
    let (status, me) = get(&hub, "/user", &bare).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["name"], "admin");
    assert_eq!(me["scopes"], json!([]));
    assert_eq!(get(&hub, "/users/alice", &bare).await.0, 403);
    // An unknown token next to a session cookie falls back to the cookie.
    let (status, me) = json_response(
        alice
            .get(api_url(&hub, "/user"))
            .header("Authorization", "token not-a-token")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(me["name"], "alice");
    // Unknown API paths are JSON 404s.
    let (status, body) = get(&hub, "/nope", &admin).await;
    assert_error(status, &body, 404, "Not Found");
    hub.stop().await;
}

async fn users_create_read_patch_delete_and_allow_existing_users(db: String) {
    let hub = hub_with(&db, "", None).await;
    let admin = store_token(&hub, "admin", &["inherit"], None).await;

    // Bulk creation normalizes names; all existing is 409; an invalid name is 400.
    let (status, created) = api_call(
        &hub,
        Method::POST,
        "/users",
        &admin,
        Some(json!({"usernames": ["newbie", "Carol"]})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(names(&created), ["newbie", "carol"]);
    assert_eq!(created[0]["admin"], false);
    assert_eq!(created[0]["roles"], json!(["user"]));
    let (status, body) = api_call(
        &hub,
        Method::POST,
        "/users",
        &admin,
        Some(json!({"usernames": ["newbie", "carol"]})),
    )
    .await;
    assert_error(status, &body, 409, "All 2 users already exist");
    let (status, body) = api_call(&hub, Method::POST, "/users", &admin, Some(json!({}))).await;
    assert_error(status, &body, 400, "Must specify at least one user");
    let (status, body) = api_call(&hub, Method::POST, "/users", &admin, Some(json!("x"))).await;
    assert_error(status, &body, 400, "Invalid JSON data");
    let broken = reqwest::Client::new()
        .post(api_url(&hub, "/users"))
        .header("Authorization", format!("token {admin}"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (status, body) = json_response(broken).await;
    assert_error(status, &body, 400, "Invalid JSON in body of request");

    // One user, as admin; 409 when it exists.
    let (status, dave) = api_call(
        &hub,
        Method::POST,
        "/users/dave",
        &admin,
        Some(json!({"admin": true})),
    )
    .await;
    assert_eq!(status, 201, "{dave}");
    assert_eq!(dave["admin"], true);
    assert_eq!(dave["roles"], json!(["admin", "user"]));
    let (status, body) = api_call(&hub, Method::POST, "/users/dave", &admin, None).await;
    assert_error(status, &body, 409, "User dave already exists");

    // allow_existing_users: the user added by the API may log in...
    let newbie = client();
    assert_eq!(
        login(&newbie, &hub, "newbie", "pw", None).await.status(),
        302
    );
    assert_eq!(home(&newbie, &hub).await.0, 200);
    // ...a user never added may not...
    let stranger = client();
    assert_eq!(
        login(&stranger, &hub, "stranger", "pw", None)
            .await
            .status(),
        403
    );

    // GET and PATCH.
    let (status, user) = get(&hub, "/users/newbie", &admin).await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["name"], "newbie");
    assert!(user["last_activity"].is_string(), "logged in: {user}");
    assert!(user["created"].as_str().unwrap().ends_with('Z'));
    let (status, user) = api_call(
        &hub,
        Method::PATCH,
        "/users/newbie",
        &admin,
        Some(json!({"admin": true})),
    )
    .await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["admin"], true);
    assert_eq!(user["roles"], json!(["admin", "user"]));
    let (status, user) = api_call(
        &hub,
        Method::PATCH,
        "/users/newbie",
        &admin,
        Some(json!({"admin": false})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(user["roles"], json!(["user"]));
    let (status, body) = api_call(
        &hub,
        Method::PATCH,
        "/users/newbie",
        &admin,
        Some(json!({"name": "dave"})),
    )
    .await;
    assert_error(status, &body, 400, "dave already exists");
    let (status, body) = api_call(
        &hub,
        Method::PATCH,
        "/users/newbie",
        &admin,
        Some(json!({"shoe_size": 42})),
    )
    .await;
    assert_error(status, &body, 400, "Invalid JSON keys");
    let (status, body) = get(&hub, "/users/ghost", &admin).await;
    assert_error(status, &body, 404, "No such user");

    // Delete: sessions, tokens and the right to log in go with the user.
    let newbie_token = store_token(&hub, "newbie", &["inherit"], None).await;
    assert_eq!(get(&hub, "/user", &newbie_token).await.0, 200);
    let (status, body) = api_call(&hub, Method::DELETE, "/users/admin", &admin, None).await;
    assert_error(status, &body, 400, "Cannot delete yourself!");
    let (status, body) = api_call(&hub, Method::DELETE, "/users/newbie", &admin, None).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(get(&hub, "/users/newbie", &admin).await.0, 404);
    assert_eq!(home(&newbie, &hub).await.0, 302, "session ended");
    assert_eq!(
        get(&hub, "/user", &newbie_token).await.0,
        403,
        "token revoked"
    );
    assert!(
        hub.store()
            .list_api_tokens("newbie")
            .await
            .map_or(true, |tokens| tokens.is_empty()),
        "no tokens left"
    );
    let again = client();
    assert_eq!(
        login(&again, &hub, "newbie", "pw", None).await.status(),
        403,
        "a deleted user is no longer an existing user"
    );
    let (status, body) = api_call(&hub, Method::DELETE, "/users/newbie", &admin, None).await;
    assert_error(status, &body, 404, "No such user");
    hub.stop().await;
}

async fn scopes_decide_access_and_fields(db: String) {
    let hub = hub_with(&db, "", None).await;
    let admin = store_token(&hub, "admin", &["inherit"], None).await;
    for name in ["bob", "carl"] {
        api_call(&hub, Method::POST, &format!("/users/{name}"), &admin, None).await;
    }
    api_call(
        &hub,
        Method::POST,
        "/groups/team",
        &admin,
        Some(json!({"users": ["bob"]})),
    )
    .await;

    // A normal user's token: own model yes, others and the list no.
    let bob = store_token(&hub, "bob", &["inherit"], None).await;
    assert_eq!(get(&hub, "/users/bob", &bob).await.0, 200);
    let (status, body) = get(&hub, "/users/carl", &bob).await;
    assert_error(status, &body, 403, "requires any of");
    let (status, body) = get(&hub, "/users", &bob).await;
    assert_error(status, &body, 403, "list:users");
    let (status, body) = api_call(
        &hub,
        Method::PATCH,
        "/users/bob",
        &bob,
        Some(json!({"admin": true})),
    )
    .await;
    assert_error(status, &body, 403, "admin:users");
    let (status, body) = api_call(
        &hub,
        Method::POST,
        "/users",
        &bob,
        Some(json!({"usernames": ["x"]})),
    )
    .await;
    assert_error(status, &body, 403, "admin:users");

    // A token's scopes never exceed its owner's: bob's token asking for admin:users
    // reads bob only, and changes nothing.
    let greedy = store_token(&hub, "bob", &["admin:users"], None).await;
    assert_eq!(get(&hub, "/users/bob", &greedy).await.0, 200);
    let (status, body) = get(&hub, "/users/carl", &greedy).await;
    assert_error(status, &body, 403, "requires any of");
    let (status, body) = api_call(
        &hub,
        Method::PATCH,
        "/users/carl",
        &greedy,
        Some(json!({"admin": true})),
    )
    .await;
    assert_error(status, &body, 403, "admin:users");

    // read:users:name shows only the name fields.
    let narrow = store_token(&hub, "admin", &["read:users:name"], None).await;
    let (status, user) = get(&hub, "/users/bob", &narrow).await;
    assert_eq!(status, 200, "{user}");
    let keys: BTreeSet<&str> = user
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, BTreeSet::from(["kind", "name", "admin"]));

    // Filters: list:users!group=team lists only the team.
    let team_reader = store_token(
        &hub,
        "admin",
        &["list:users!group=team", "read:users!group=team"],
        None,
    )
    .await;
    let (status, list) = get(&hub, "/users", &team_reader).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(names(&list), ["bob"]);
    assert_eq!(list[0]["groups"], json!(["team"]));
    assert_eq!(get(&hub, "/users/carl", &team_reader).await.0, 403);

    // auth_state only with admin:auth_state.
    let (status, user) = api_call(
        &hub,
        Method::PATCH,
        "/users/bob",
        &admin,
        Some(json!({"auth_state": {"access_token": "secret-at"}})),
    )
    .await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["auth_state"]["access_token"], "secret-at");
    let (_, full) = get(&hub, "/users/bob", &admin).await;
    assert_eq!(full["auth_state"], json!({"access_token": "secret-at"}));
    let reader = store_token(&hub, "admin", &["read:users"], None).await;
    let (status, user) = get(&hub, "/users/bob", &reader).await;
    assert_eq!(status, 200);
    assert!(user.get("auth_state").is_none(), "{user}");
    assert_eq!(user["groups"], json!(["team"]));
    let (_, own) = get(&hub, "/users/bob", &bob).await;
    assert!(
        own.get("auth_state").is_none(),
        "users do not read their own: {own}"
    );
    let (status, body) = api_call(
        &hub,
        Method::PATCH,
        "/users/bob",
        &reader,
        Some(json!({"auth_state": {}})),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    // The stored value is encrypted.
    let stored = hub.store().get_auth_state("bob").await.unwrap().unwrap();
    assert!(!String::from_utf8_lossy(&stored).contains("secret-at"));

    // A role made through the API grants its scopes to its users.
    let (status, body) = get(&hub, "/users", &bob).await;
    assert_eq!(status, 403, "{body}");
    let (status, role) = api_call(
        &hub,
        Method::POST,
        "/roles/lister",
        &admin,
        Some(json!({"description": "lists users", "scopes": ["list:users"], "users": ["bob"]})),
    )
    .await;
    assert_eq!(status, 201, "{role}");
    assert_eq!(role["users"], json!(["bob"]));
    let (status, list) = get(&hub, "/users", &bob).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(names(&list), ["admin", "alice", "bob", "carl"]);
    assert_eq!(
        list[3].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["kind", "name", "admin"],
        "list:users shows names only"
    );
    hub.stop().await;
}

async fn cookie_requests_need_xsrf_tokens_do_not(db: String) {
    let hub = hub_with(&db, "", None).await;
    let (alice, xsrf) = browser(&hub, "alice").await;
    let url = api_url(&hub, "/users/alice/tokens");

    // A plain read by cookie works (a page view).
    assert_eq!(
        alice
            .get(api_url(&hub, "/users/alice"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // A fetch() read without the token is refused.
    let fetch = alice
        .get(api_url(&hub, "/users/alice"))
        .header("Sec-Fetch-Mode", "cors")
        .send()
        .await
        .unwrap();
    let (status, body) = json_response(fetch).await;
    assert_error(status, &body, 403, "'_xsrf' argument missing from GET");
    // Writes need it.
    let (status, body) =
        json_response(alice.post(&url).json(&json!({})).send().await.unwrap()).await;
    assert_error(status, &body, 403, "'_xsrf' argument missing from POST");
    let wrong = alice
        .post(&url)
        .header("X-XSRFToken", "00".repeat(32))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let (status, body) = json_response(wrong).await;
    assert_error(
        status,
        &body,
        403,
        "XSRF cookie does not match POST argument",
    );
    // A form post (cross-site forms cannot send JSON) is not cookie-authenticated.
    let form = alice
        .post(format!("{url}?_xsrf={xsrf}"))
        .form(&[("note", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 403);
    let good = alice
        .post(&url)
        .header("X-XSRFToken", &xsrf)
        .json(&json!({"note": "from the browser"}))
        .send()
        .await
        .unwrap();
    let (status, token) = json_response(good).await;
    assert_eq!(status, 201, "{token}");
    assert_eq!(token["note"], "from the browser");
    // The query argument works too.
    let by_query = alice
        .post(format!("{url}?_xsrf={xsrf}"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(by_query.status(), 201);

    // A token needs no XSRF token, even for writes.
    let value = token["token"].as_str().unwrap();
    let (status, body) = api_call(&hub, Method::POST, "/users/alice/tokens", value, None).await;
    assert_eq!(status, 201, "{body}");
    hub.stop().await;
}

async fn tokens_are_shown_once_stored_hashed_and_expire(db: String) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let clock = Arc::new(hubauth_server::ManualClock::at(now));
    let hub = hub_with(&db, "", Some(clock.clone())).await;
    let admin = store_token(&hub, "admin", &["inherit"], None).await;
    api_call(&hub, Method::POST, "/users/erin", &admin, None).await;
    let erin = store_token(&hub, "erin", &["inherit"], None).await;

    let (status, made) = api_call(
        &hub,
        Method::POST,
        "/users/erin/tokens",
        &erin,
        Some(json!({"scopes": ["read:users!user=erin"], "expires_in": 3600, "note": "ci"})),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let value = made["token"].as_str().unwrap().to_owned();
    let id = made["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with('a'));
    assert_eq!(made["user"], "erin");
    assert_eq!(made["kind"], "api_token");
    assert_eq!(made["note"], "ci");
    assert!(
        made["scopes"]
            .as_array()
            .unwrap()
            .contains(&json!("read:users!user=erin"))
    );
    assert!(made["expires_at"].is_string());

    // Stored as a hash only.
    let stored = hub.store().list_api_tokens("erin").await.unwrap();
    let record = stored.iter().find(|t| format!("a{}", t.id) == id).unwrap();
    assert_eq!(record.hash, hash_token(&value));
    assert_ne!(record.hash, value);
    assert!(value.starts_with(&record.prefix));

    // Listed and fetched without the value.
    let (status, list) = get(&hub, "/users/erin/tokens", &erin).await;
    assert_eq!(status, 200);
    let tokens = list["api_tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 2);
    assert!(tokens.iter().all(|t| t.get("token").is_none()));
    let (status, one) = get(&hub, &format!("/users/erin/tokens/{id}"), &erin).await;
    assert_eq!(status, 200);
    assert_eq!(one["note"], "ci");
    assert!(one.get("token").is_none());
    assert_eq!(get(&hub, "/users/erin/tokens/a999999", &erin).await.0, 404);
    assert_eq!(get(&hub, "/users/erin/tokens/nonsense", &erin).await.0, 404);

    // The new token works, with its own narrow scopes.
    let (status, me) = get(&hub, "/user", &value).await;
    assert_eq!(status, 200);
    assert_eq!(me["name"], "erin");
    let (status, body) = api_call(&hub, Method::POST, "/users/erin/tokens", &value, None).await;
    assert_error(status, &body, 403, "no permissions to generate tokens");

    // Defaults: a note naming the requester when someone else asks.
    let (status, for_erin) = api_call(&hub, Method::POST, "/users/erin/tokens", &admin, None).await;
    assert_eq!(status, 201);
    assert_eq!(for_erin["note"], "Requested via api by user admin");
    assert_eq!(for_erin["expires_at"], Value::Null);
    // Scopes the owner lacks, unknown scopes and bad expiry are refused.
    for (body, message) in [
        (
            json!({"scopes": ["admin:users"]}),
            "Not assigning requested scopes",
        ),
        (json!({"scopes": ["fly:planes"]}), "Unknown scopes"),
        (
            json!({"expires_in": "soon"}),
            "expires_in must be null or integer",
        ),
        (json!({"expires_in": 0}), "positive"),
        (
            json!({"scopes": "read:users"}),
            "must be null or a list of strings",
        ),
    ] {
        let (status, answer) =
            api_call(&hub, Method::POST, "/users/erin/tokens", &erin, Some(body)).await;
        assert_error(status, &answer, 400, message);
    }
    // Another user's tokens are out of reach.
    let (status, body) = get(&hub, "/users/admin/tokens", &erin).await;
    assert_error(status, &body, 403, "read:tokens");

    // Expiry: after an hour the token is refused and no longer listed.
    clock.advance(3600);
    let (status, _) = get(&hub, "/user", &value).await;
    assert_eq!(status, 403, "expired");
    let (_, list) = get(&hub, "/users/erin/tokens", &erin).await;
    assert!(
        list["api_tokens"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["id"] != json!(id)),
        "{list}"
    );

    // Revocation.
    let (status, _) = api_call(
        &hub,
        Method::DELETE,
        &format!("/users/erin/tokens/{}", for_erin["id"].as_str().unwrap()),
        &erin,
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        get(&hub, "/user", for_erin["token"].as_str().unwrap())
            .await
            .0,
        403
    );
    hub.stop().await;
}

async fn users_and_groups_paginate(db: String) {
    let hub = hub_with(&db, "", None).await;
    let admin = store_token(&hub, "admin", &["inherit"], None).await;
    let new: Vec<String> = (0..12).map(|i| format!("u{i:02}")).collect();
    let (status, _) = api_call(
        &hub,
        Method::POST,
        "/users",
        &admin,
        Some(json!({"usernames": new})),
    )
    .await;
    assert_eq!(status, 201);
    // admin and alice (from the config) plus 12.
    let paged = |path: &str| {
        reqwest::Client::new()
            .get(api_url(&hub, path))
            .header("Authorization", format!("token {admin}"))
            .header("Accept", "application/jupyterhub-pagination+json")
    };
    let (status, page) = json_response(paged("/users?limit=5").send().await.unwrap()).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 5);
    assert_eq!(page["_pagination"]["total"], 14);
    assert_eq!(page["_pagination"]["offset"], 0);
    assert_eq!(page["_pagination"]["limit"], 5);
    assert_eq!(page["_pagination"]["next"]["offset"], 5);
    let next = page["_pagination"]["next"]["url"].as_str().unwrap();
    assert!(
        next.contains("offset=5") && next.contains("limit=5"),
        "{next}"
    );
    let (_, last) = json_response(paged("/users?offset=10&limit=5").send().await.unwrap()).await;
    assert_eq!(last["items"].as_array().unwrap().len(), 4);
    assert_eq!(last["_pagination"]["next"], Value::Null);
    // Name filter and sort.
    let (_, filtered) = json_response(
        paged("/users?name_filter=u1&sort=-name")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(names(&filtered["items"]), ["u11", "u10"]);
    assert_eq!(filtered["_pagination"]["total"], 2);
    let (status, body) = get(&hub, "/users?sort=shoe", &admin).await;
    assert_error(status, &body, 400, "sort must be");
    let (status, body) = get(&hub, "/users?limit=many", &admin).await;
    assert_error(status, &body, 400, "offset and limit must be integers");
    // Without the Accept type: a plain list.
    let (_, plain) = get(&hub, "/users?offset=12", &admin).await;
    assert_eq!(plain.as_array().unwrap().len(), 2);
    let (_, nobody) = get(&hub, "/users?state=active", &admin).await;
    assert_eq!(nobody, json!([]));

    let groups: Vec<String> = (0..3).map(|i| format!("g{i}")).collect();
    let (status, made) = api_call(
        &hub,
        Method::POST,
        "/groups",
        &admin,
        Some(json!({"groups": groups})),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let (_, page) = json_response(paged("/groups?limit=2").send().await.unwrap()).await;
    assert_eq!(names(&page["items"]), ["g0", "g1"]);
    assert_eq!(page["_pagination"]["total"], 3);
    assert_eq!(page["_pagination"]["next"]["offset"], 2);
    hub.stop().await;
}

async fn groups_and_roles_endpoints(db: String) {
    let hub = hub_with(&db, "", None).await;
    let admin = store_token(&hub, "admin", &["inherit"], None).await;
    api_call(
        &hub,
        Method::POST,
        "/users",
        &admin,
        Some(json!({"usernames": ["bo", "cy"]})),
    )
    .await;

    let (status, made) = api_call(
        &hub,
        Method::POST,
        "/groups",
        &admin,
        Some(json!({"groups": ["red", "blue"], "users": ["bo"]})),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(
        made[0],
        json!({"kind": "group", "name": "red", "roles": [], "users": ["bo"], "properties": {}})
    );
    let (status, body) = api_call(
        &hub,
        Method::POST,
        "/groups",
        &admin,
        Some(json!({"groups": ["red"]})),
    )
    .await;
    assert_error(status, &body, 409, "Group red already exists");
    // All or nothing: a clash with an existing group creates none of the others.
    let (status, body) = api_call(
        &hub,
        Method::POST,
        "/groups",
        &admin,
        Some(json!({"groups": ["yellow", "red"]})),
    )
    .await;
    assert_error(status, &body, 409, "Group red already exists");
    assert_eq!(get(&hub, "/groups/yellow", &admin).await.0, 404);
    let (status, body) = api_call(
        &hub,
        Method::POST,
        "/groups/green",
        &admin,
        Some(json!({"users": ["nobody"]})),
    )
    .await;
    assert_error(status, &body, 400, "No such user: nobody");
    let (status, green) = api_call(&hub, Method::POST, "/groups/green", &admin, None).await;
    assert_eq!(status, 201, "{green}");
    let (status, body) = api_call(&hub, Method::POST, "/groups/green", &admin, None).await;
    assert_error(status, &body, 409, "already exists");

    let (status, group) = api_call(
        &hub,
        Method::POST,
        "/groups/green/users",
        &admin,
        Some(json!({"users": ["bo", "cy"]})),
    )
    .await;
    assert_eq!(status, 200, "{group}");
    assert_eq!(group["users"], json!(["bo", "cy"]));
    let (status, body) = api_call(
        &hub,
        Method::POST,
        "/groups/green/users",
        &admin,
        Some(json!({})),
    )
    .await;
    assert_error(status, &body, 400, "Must specify users to add");
    let (status, group) = api_call(
        &hub,
        Method::DELETE,
        "/groups/green/users",
        &admin,
        Some(json!({"users": ["bo"]})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(group["users"], json!(["cy"]));
    let (_, user) = get(&hub, "/users/cy", &admin).await;
    assert_eq!(user["groups"], json!(["green"]));
    // PATCH groups sets membership exactly.
    let (status, user) = api_call(
        &hub,
        Method::PATCH,
        "/users/cy",
        &admin,
        Some(json!({"groups": ["red", "blue"]})),
    )
    .await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["groups"], json!(["blue", "red"]));
    let (status, body) = api_call(
        &hub,
        Method::PATCH,
        "/users/cy",
        &admin,
        Some(json!({"groups": ["nope"]})),
    )
    .await;
    assert_error(status, &body, 400, "No such group: nope");
    // One missing group: the membership is left exactly as it was.
    let (status, body) = api_call(
        &hub,
        Method::PATCH,
        "/users/cy",
        &admin,
        Some(json!({"groups": ["green", "nope"]})),
    )
    .await;
    assert_error(status, &body, 400, "No such group: nope");
    let (status, user) = get(&hub, "/users/cy", &admin).await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["groups"], json!(["blue", "red"]));

    let (status, list) = get(&hub, "/groups", &admin).await;
    assert_eq!(status, 200);
    assert_eq!(names(&list), ["blue", "green", "red"]);
    let (status, one) = get(&hub, "/groups/red", &admin).await;
    assert_eq!(status, 200);
    assert_eq!(one["users"], json!(["bo", "cy"]));
    assert_eq!(
        api_call(&hub, Method::DELETE, "/groups/blue", &admin, None)
            .await
            .0,
        204
    );
    let (status, body) = get(&hub, "/groups/blue", &admin).await;
    assert_error(status, &body, 404, "No such group: blue");
    assert_eq!(
        api_call(&hub, Method::DELETE, "/groups/blue", &admin, None)
            .await
            .0,
        404
    );

    // A normal user cannot touch groups.
    let bo = store_token(&hub, "bo", &["inherit"], None).await;
    assert_eq!(get(&hub, "/groups", &bo).await.0, 403);
    assert_eq!(get(&hub, "/groups/red", &bo).await.0, 403);
    assert_eq!(
        api_call(&hub, Method::DELETE, "/groups/red", &bo, None)
            .await
            .0,
        403
    );
    assert_eq!(
        api_call(
            &hub,
            Method::POST,
            "/groups/red/users",
            &bo,
            Some(json!({"users": ["bo"]}))
        )
        .await
        .0,
        403
    );

    // Roles.
    let (status, roles) = get(&hub, "/roles", &admin).await;
    assert_eq!(status, 200, "{roles}");
    let role_names = names(&roles);
    assert!(role_names.contains(&"admin".to_owned()) && role_names.contains(&"user".to_owned()));
    let user_role = roles
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "user")
        .unwrap();
    assert_eq!(user_role["scopes"], json!(["self"]));
    assert!(
        user_role["users"]
            .as_array()
            .unwrap()
            .contains(&json!("bo"))
    );
    assert_eq!(get(&hub, "/roles", &bo).await.0, 403);
    let (status, body) = api_call(
        &hub,
        Method::POST,
        "/roles/admin",
        &admin,
        Some(json!({"scopes": []})),
    )
    .await;
    assert_error(status, &body, 400, "default role admin");
    let (status, body) = api_call(
        &hub,
        Method::POST,
        "/roles/x",
        &admin,
        Some(json!({"scopes": ["fly"]})),
    )
    .await;
    assert_error(status, &body, 400, "Unknown scopes: fly");
    let (status, body) = api_call(&hub, Method::POST, "/roles/x", &bo, Some(json!({}))).await;
    assert_error(status, &body, 403, "Only admins");
    let (status, body) = api_call(
        &hub,
        Method::POST,
        "/roles/x",
        &admin,
        Some(json!({"scopes": ["read:users"], "users": ["bo", "nobody"]})),
    )
    .await;
    assert_error(status, &body, 400, "No such user: nobody");
    assert_eq!(get(&hub, "/roles/x", &admin).await.0, 404);
    let (status, role) = api_call(
        &hub,
        Method::POST,
        "/roles/auditor",
        &admin,
        Some(json!({"scopes": ["read:users"]})),
    )
    .await;
    assert_eq!(status, 201, "{role}");
    assert_eq!(get(&hub, "/roles/auditor", &admin).await.0, 200);
    let (status, user) = api_call(
        &hub,
        Method::PATCH,
        "/users/bo",
        &admin,
        Some(json!({"roles": ["auditor"]})),
    )
    .await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["roles"], json!(["auditor", "user"]));
    assert_eq!(
        get(&hub, "/users/cy", &bo).await.0,
        200,
        "auditor reads users"
    );
    assert_eq!(
        api_call(&hub, Method::DELETE, "/roles/auditor", &admin, None)
            .await
            .0,
        204
    );
    assert_eq!(get(&hub, "/users/cy", &bo).await.0, 403);
    assert_eq!(
        api_call(&hub, Method::DELETE, "/roles/auditor", &admin, None)
            .await
            .0,
        404
    );
    hub.stop().await;
}

/// With manage_groups (GenericOAuthenticator against the development provider) the
/// membership endpoints refuse with 400 (manage_roles: see tests/managed_roles.rs).
async fn managed_groups_and_roles_refuse_api_changes(db: String) {
    let idp = hubauth_devidp::DevIdp::builder().start().await.unwrap();
    let rest = format!(
        "[GenericOAuthenticator]\nclient_id = \"hub\"\nclient_secret = \"s\"\noidc_issuer = \"{}\"\nmanage_groups = true\nadmin_users = [\"admin\"]\n",
        idp.issuer()
    );
    let hub = start_hub(
        &format!("{}authenticator_class = \"generic-oauth\"", db_line(&db)),
        &rest,
        &[],
    )
    .await;
    let admin = store_token(&hub, "admin", &["inherit"], None).await;
    api_call(&hub, Method::POST, "/users/bo", &admin, None).await;
    let (status, _) = api_call(&hub, Method::POST, "/groups/staff", &admin, None).await;
    assert_eq!(status, 201, "empty groups can still be made");
    for (method, path, body) in [
        (
            Method::POST,
            "/groups/staff/users",
            json!({"users": ["bo"]}),
        ),
        (
            Method::DELETE,
            "/groups/staff/users",
            json!({"users": ["bo"]}),
        ),
        (Method::PATCH, "/users/bo", json!({"groups": ["staff"]})),
        (Method::POST, "/groups/more", json!({"users": ["bo"]})),
    ] {
        let (status, answer) = api_call(&hub, method, path, &admin, Some(body)).await;
        assert_error(status, &answer, 400, "Group management via API is disabled");
    }
    hub.stop().await;
}

/// Every operation in the OpenAPI document exists and answers with a documented
/// status; every API route answers only the documented methods.
async fn openapi_document_matches_the_routes(db: String) {
    let hub = hub_with(&db, "", None).await;
    let admin = store_token(&hub, "admin", &["inherit"], None).await;
    let (status, doc) =
        json_response(reqwest::get(api_url(&hub, "/openapi.json")).await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.0.3");
    assert_eq!(doc["servers"][0]["url"], "/hub/api");
    // Fixtures so that every path parameter names something real.
    api_call(&hub, Method::POST, "/users/target", &admin, None).await;
    let (_, token) = api_call(&hub, Method::POST, "/users/target/tokens", &admin, None).await;
    let token_id = token["id"].as_str().unwrap().to_owned();
    api_call(&hub, Method::POST, "/groups/grp", &admin, None).await;
    api_call(
        &hub,
        Method::POST,
        "/roles/rl",
        &admin,
        Some(json!({"scopes": []})),
    )
    .await;
    let paths = doc["paths"].as_object().unwrap();
    let methods = ["get", "post", "patch", "put", "delete"];
    let mut documented = BTreeSet::new();
    for (path, item) in paths {
        for method in methods {
            let Some(operation) = item.get(method) else {
                continue;
            };
            documented.insert((path.clone(), method));
            let concrete = path
                .replace(
                    "{name}/tokens/{token_id}",
                    &format!("target/tokens/{token_id}"),
                )
                .replace("/users/{name}", "/users/target")
                .replace("/groups/{name}", "/groups/grp")
                .replace("/roles/{name}", "/roles/rl");
            let body = match (path.as_str(), method) {
                ("/users", "post") => Some(json!({"usernames": ["fresh"]})),
                ("/groups", "post") => Some(json!({"groups": ["fresh"]})),
                ("/groups/{name}/users", _) => Some(json!({"users": ["target"]})),
                ("/users/{name}", "patch") => Some(json!({"admin": false})),
                _ => None,
            };
            let (status, answer) = api_call(
                &hub,
                Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                &concrete,
                &admin,
                body,
            )
            .await;
            let statuses: Vec<&String> =
                operation["responses"].as_object().unwrap().keys().collect();
            assert!(
                statuses.iter().any(|s| s.as_str() == status.to_string()),
                "{method} {path} answered {status} ({answer}), documented: {statuses:?}"
            );
            // Recreate what a DELETE removed, for later operations.
            if method == "delete" {
                api_call(&hub, Method::POST, "/users/target", &admin, None).await;
                api_call(&hub, Method::POST, "/groups/grp", &admin, None).await;
                api_call(
                    &hub,
                    Method::POST,
                    "/roles/rl",
                    &admin,
                    Some(json!({"scopes": []})),
                )
                .await;
            }
        }
    }
    // Vice versa: undocumented methods on documented paths are not served, and every
    // route the hub serves under /api is in the document.
    for (path, item) in paths {
        let concrete = path
            .replace("{name}/tokens/{token_id}", "target/tokens/a1")
            .replace("{name}", "x");
        for method in methods {
            if item.get(method).is_some() {
                continue;
            }
            let status = reqwest::Client::new()
                .request(
                    Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                    api_url(&hub, &concrete),
                )
                .header("Authorization", format!("token {admin}"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16();
            assert_eq!(status, 405, "{method} {path} is served but not documented");
        }
    }
    let served: BTreeSet<String> = hubauth_server::api::ROUTES
        .iter()
        .map(|r| (*r).to_owned())
        .collect();
    let in_doc: BTreeSet<String> = paths.keys().cloned().collect();
    assert_eq!(served, in_doc, "routes and document differ");
    hub.stop().await;
}

/// `POST /users` stores the new users in one transaction, then runs
/// `Authenticator.add_user` for each: when it fails (PAMAuthenticator without
/// `create_system_users` and no such system account), that user and the ones after it
/// are removed again and the answer is 400; the ones added before it stay.
async fn bulk_user_creation_rolls_back_from_the_failing_add_user(db: String) {
    let hub = start_hub_with(HubOptions {
        dir: tempfile::TempDir::new().unwrap(),
        listener: None,
        hub_extra: &format!("{}authenticator_class = \"pam\"", db_line(&db)),
        rest: "[Authenticator]\nadmin_users = [\"root\"]\n",
        env: &[],
        clock: None,
    })
    .await
    .unwrap();
    let admin = store_token(&hub, "root", &["inherit"], None).await;
    let (status, body) = api_call(
        &hub,
        Method::POST,
        "/users",
        &admin,
        Some(json!({"usernames": ["daemon", "nosuchsysuser-hubauth", "bin"]})),
    )
    .await;
    assert_error(
        status,
        &body,
        400,
        "Failed to create user nosuchsysuser-hubauth",
    );
    assert_eq!(get(&hub, "/users/daemon", &admin).await.0, 200);
    assert_eq!(
        get(&hub, "/users/nosuchsysuser-hubauth", &admin).await.0,
        404
    );
    assert_eq!(get(&hub, "/users/bin", &admin).await.0, 404);
}

/// The app-side analog of JupyterHub's `pre_spawn_start` tokens: an admin issues a token
/// that may read exactly one user's auth_state, and the app fetches it through the API.
async fn an_app_reads_one_users_auth_state_with_a_narrow_token(db: String) {
    let hub = hub_with(&db, "", None).await;
    let admin = store_token(&hub, "admin", &["inherit"], None).await;
    for name in ["bob", "carl"] {
        let (status, body) =
            api_call(&hub, Method::POST, &format!("/users/{name}"), &admin, None).await;
        assert_eq!(status, 201, "{body}");
        let (status, body) = api_call(
            &hub,
            Method::PATCH,
            &format!("/users/{name}"),
            &admin,
            Some(json!({"auth_state": {"access_token": format!("at-of-{name}")}})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, made) = api_call(
        &hub,
        Method::POST,
        "/users/admin/tokens",
        &admin,
        Some(json!({
            "note": "the app behind the proxy",
            "scopes": ["read:users!user=bob", "admin:auth_state!user=bob"],
        })),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let app_token = made["token"].as_str().unwrap().to_owned();

    let (status, bob) = get(&hub, "/users/bob", &app_token).await;
    assert_eq!(status, 200, "{bob}");
    assert_eq!(bob["auth_state"], json!({"access_token": "at-of-bob"}));
    // Nobody else's, and no listing.
    let (status, carl) = get(&hub, "/users/carl", &app_token).await;
    assert_error(status, &carl, 403, "for user carl");
    assert!(carl.get("auth_state").is_none(), "{carl}");
    assert_eq!(get(&hub, "/users", &app_token).await.0, 403);
    // Deleting bob revokes what the token could read.
    let (status, body) = api_call(&hub, Method::DELETE, "/users/bob", &admin, None).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(get(&hub, "/users/bob", &app_token).await.0, 404);
}

/// Creates a role as the admin, with scopes and holders.
async fn make_role(hub: &TestHub, admin: &str, name: &str, scopes: &[&str], users: &[&str]) {
    let (status, role) = api_call(
        hub,
        Method::POST,
        &format!("/roles/{name}"),
        admin,
        Some(json!({"scopes": scopes, "users": users})),
    )
    .await;
    assert_eq!(status, 201, "{role}");
}

/// The roles a user holds, as the admin sees them.
async fn roles_of(hub: &TestHub, admin: &str, name: &str) -> Value {
    let (status, user) = get(hub, &format!("/users/{name}"), admin).await;
    assert_eq!(status, 200, "{user}");
    user["roles"].clone()
}

/// The reported escalation: a user holding only `admin:users` (through a role an admin
/// made) tries every way to become admin. Each step is refused and changes nothing;
/// what `admin:users` is for still works.
async fn admin_users_holder_cannot_grant_herself_the_admin_role(db: String) {
    let hub = hub_with(&db, "", None).await;
    let admin = store_token(&hub, "admin", &["inherit"], None).await;
    for name in ["mallory", "bob"] {
        api_call(&hub, Method::POST, &format!("/users/{name}"), &admin, None).await;
    }
    make_role(&hub, &admin, "user-admins", &["admin:users"], &["mallory"]).await;
    make_role(&hub, &admin, "token-makers", &["tokens"], &[]).await;
    make_role(&hub, &admin, "metrics-readers", &["read:metrics"], &[]).await;
    make_role(&hub, &admin, "name-readers", &["read:users:name"], &[]).await;
    let mallory = store_token(&hub, "mallory", &["inherit"], None).await;
    let patch = |name: &str, body: Value| {
        let path = format!("/users/{name}");
        let token = mallory.clone();
        let hub = &hub;
        async move { api_call(hub, Method::PATCH, &path, &token, Some(body)).await }
    };

    // (1) The admin role, by name or through the admin flag.
    let (status, body) = patch("mallory", json!({"roles": ["user-admins", "admin"]})).await;
    assert_error(
        status,
        &body,
        403,
        "Only admins can grant admin permissions",
    );
    let (status, body) = patch("mallory", json!({"admin": true})).await;
    assert_error(
        status,
        &body,
        403,
        "Only admins can grant admin permissions",
    );
    // (2) A role whose scopes she lacks: `tokens` (then a token for the admin).
    let (status, body) = patch("mallory", json!({"roles": ["user-admins", "token-makers"]})).await;
    assert_error(
        status,
        &body,
        403,
        "Not assigning role token-makers to user mallory",
    );
    assert!(
        body["message"].as_str().unwrap().ends_with(": tokens"),
        "{body}"
    );
    let (status, body) = patch(
        "mallory",
        json!({"roles": ["user-admins", "metrics-readers"]}),
    )
    .await;
    assert_error(status, &body, 403, "read:metrics");
    // ... nor to an accomplice.
    let (status, body) = patch("bob", json!({"roles": ["token-makers"]})).await;
    assert_error(status, &body, 403, "not held by mallory: tokens");
    // A refused request changes nothing, not even the parts that were allowed.
    let (status, body) = patch(
        "bob",
        json!({"auth_state": {"k": "v"}, "roles": ["name-readers", "token-makers"]}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        roles_of(&hub, &admin, "mallory").await,
        json!(["user", "user-admins"])
    );
    assert_eq!(roles_of(&hub, &admin, "bob").await, json!(["user"]));
    assert!(hub.store().get_auth_state("bob").await.unwrap().is_none());

    // (3) A token for the admin.
    for body in [None, Some(json!({"scopes": ["read:users:name"]}))] {
        let (status, answer) =
            api_call(&hub, Method::POST, "/users/admin/tokens", &mallory, body).await;
        assert_error(status, &answer, 403, "no permissions to generate tokens");
    }
    // (4) A token for herself with scopes she lacks (400 as JupyterHub: the owner lacks
    // them), or with the deprecated token roles.
    let (status, answer) = api_call(
        &hub,
        Method::POST,
        "/users/mallory/tokens",
        &mallory,
        Some(json!({"roles": ["admin"]})),
    )
    .await;
    assert_error(status, &answer, 400, "token roles are deprecated");
    for scope in ["tokens", "admin:groups", "read:metrics"] {
        let (status, answer) = api_call(
            &hub,
            Method::POST,
            "/users/mallory/tokens",
            &mallory,
            Some(json!({"scopes": [scope]})),
        )
        .await;
        assert_error(status, &answer, 400, "not held by user mallory");
    }
    // (5) Users created with roles beyond her, or as admins.
    let (status, body) = api_call(
        &hub,
        Method::POST,
        "/users",
        &mallory,
        Some(json!({"usernames": ["sock1", "sock2"], "roles": ["token-makers"]})),
    )
    .await;
    assert_error(
        status,
        &body,
        403,
        "Not assigning role token-makers to user sock1",
    );
    for body in [
        json!({"roles": ["token-makers"]}),
        json!({"roles": ["admin"]}),
        json!({"admin": true}),
    ] {
        let (status, answer) =
            api_call(&hub, Method::POST, "/users/sock3", &mallory, Some(body)).await;
        assert_eq!(status, 403, "{answer}");
    }
    for name in ["sock1", "sock2", "sock3"] {
        assert!(
            hub.store().get_user(name).await.unwrap().is_none(),
            "{name} not created"
        );
    }
    // (6) A role of her own with holders; deleting the admin; roles through a group.
    let (status, body) = api_call(
        &hub,
        Method::POST,
        "/roles/mine",
        &mallory,
        Some(json!({"scopes": ["tokens"], "users": ["mallory"]})),
    )
    .await;
    assert_error(status, &body, 403, "Only admins");
    let (status, body) = api_call(&hub, Method::DELETE, "/users/admin", &mallory, None).await;
    assert_error(status, &body, 403, "Only admins can delete admins");
    let (status, body) = patch("admin", json!({"roles": []})).await;
    assert_error(status, &body, 403, "Only admins can modify other admins");
    let (status, body) = api_call(
        &hub,
        Method::POST,
        "/groups/crew",
        &admin,
        Some(json!({"users": ["mallory"], "roles": ["token-makers"]})),
    )
    .await;
    assert_error(status, &body, 400, "Groups cannot hold roles");
    // After all that she is what she was.
    let (status, me) = get(&hub, "/user", &mallory).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["admin"], false);
    let scopes: Vec<String> = serde_json::from_value(me["scopes"].clone()).unwrap();
    assert!(!scopes.contains(&"tokens".to_owned()), "{scopes:?}");
    assert_eq!(hub.store().list_api_tokens("admin").await.unwrap().len(), 1);

    // What admin:users is for still works: editing users, keeping her own roles,
    // giving roles whose scopes she holds, creating users with them.
    let (status, user) = patch("bob", json!({"auth_state": {"k": "v"}})).await;
    assert_eq!(status, 200, "{user}");
    let (status, user) = patch("mallory", json!({"roles": ["user-admins"]})).await;
    assert_eq!(status, 200, "{user}");
    let (status, user) = patch("bob", json!({"roles": ["name-readers"]})).await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["roles"], json!(["name-readers", "user"]));
    let (status, user) = patch("bob", json!({"roles": []})).await;
    assert_eq!(status, 200, "taking a role away: {user}");
    assert_eq!(user["roles"], json!(["user"]));
    let (status, created) = api_call(
        &hub,
        Method::POST,
        "/users",
        &mallory,
        Some(json!({"usernames": ["newbie"], "roles": ["name-readers"]})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created[0]["roles"], json!(["name-readers", "user"]));
    let (status, created) = api_call(
        &hub,
        Method::POST,
        "/users/newer",
        &mallory,
        Some(json!({"roles": ["user-admins"]})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["roles"], json!(["user", "user-admins"]));
    // An admin grants any role, and the admin role with the flag only.
    let (status, user) = api_call(
        &hub,
        Method::PATCH,
        "/users/bob",
        &admin,
        Some(json!({"roles": ["token-makers", "metrics-readers"]})),
    )
    .await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(
        user["roles"],
        json!(["metrics-readers", "token-makers", "user"])
    );
    let (status, body) = api_call(
        &hub,
        Method::PATCH,
        "/users/bob",
        &admin,
        Some(json!({"roles": ["admin"]})),
    )
    .await;
    assert_error(status, &body, 400, "follows the admin flag");
    let (status, user) = api_call(
        &hub,
        Method::PATCH,
        "/users/bob",
        &admin,
        Some(json!({"admin": true, "roles": ["admin"]})),
    )
    .await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["roles"], json!(["admin", "user"]));
    hub.stop().await;
}

/// A user allowed to make tokens for others (`tokens`) asks for a token of the admin:
/// the token may carry only what both the admin and she hold.
async fn tokens_holder_cannot_mint_a_token_wider_than_herself(db: String) {
    let hub = hub_with(&db, "", None).await;
    let admin = store_token(&hub, "admin", &["inherit"], None).await;
    api_call(&hub, Method::POST, "/users/tess", &admin, None).await;
    make_role(&hub, &admin, "token-makers", &["tokens"], &["tess"]).await;
    let tess = store_token(&hub, "tess", &["inherit"], None).await;
    for body in [
        None,
        Some(json!({"scopes": ["inherit"]})),
        Some(json!({"scopes": ["admin:users"]})),
        Some(json!({"scopes": ["read:users:name!user=admin"]})),
    ] {
        let (status, answer) = api_call(
            &hub,
            Method::POST,
            "/users/admin/tokens",
            &tess,
            body.clone(),
        )
        .await;
        assert_error(status, &answer, 403, "not held by requester tess");
    }
    assert_eq!(hub.store().list_api_tokens("admin").await.unwrap().len(), 1);
    // Within both: reading the admin's tokens.
    let (status, made) = api_call(
        &hub,
        Method::POST,
        "/users/admin/tokens",
        &tess,
        Some(json!({"scopes": ["read:tokens!user=admin"]})),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["scopes"], json!(["read:tokens!user=admin"]));
    hub.stop().await;
}

/// A narrowed token (only `tokens` for its owner) mints a token with everything its owner
/// may do; and an admin's token narrowed to `admin:users` makes someone admin or hands
/// out roles it does not carry.
async fn narrowed_token_cannot_mint_or_grant_more_than_it_carries(db: String) {
    let hub = hub_with(&db, "", None).await;
    let admin = store_token(&hub, "admin", &["inherit"], None).await;
    api_call(&hub, Method::POST, "/users/nina", &admin, None).await;
    let narrow = store_token(&hub, "nina", &["tokens!user=nina"], None).await;
    for body in [None, Some(json!({"scopes": ["read:users!user=nina"]}))] {
        let (status, answer) =
            api_call(&hub, Method::POST, "/users/nina/tokens", &narrow, body).await;
        assert_error(status, &answer, 403, "not held by requester nina");
    }
    let (status, made) = api_call(
        &hub,
        Method::POST,
        "/users/nina/tokens",
        &narrow,
        Some(json!({"scopes": ["read:tokens!user=nina"]})),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    // Her session (all she holds) still makes an inheriting token.
    let (nina, xsrf) = browser(&hub, "nina").await;
    let response = nina
        .post(api_url(&hub, "/users/nina/tokens"))
        .header("X-XSRFToken", xsrf)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);

    let admin_narrow = store_token(&hub, "admin", &["admin:users"], None).await;
    make_role(&hub, &admin, "token-makers", &["tokens"], &[]).await;
    for body in [json!({"admin": true}), json!({"roles": ["token-makers"]})] {
        let (status, answer) = api_call(
            &hub,
            Method::PATCH,
            "/users/nina",
            &admin_narrow,
            Some(body),
        )
        .await;
        assert_eq!(status, 403, "{answer}");
    }
    let (status, body) = api_call(
        &hub,
        Method::POST,
        "/roles/sneaky",
        &admin_narrow,
        Some(json!({"scopes": ["tokens"], "users": ["nina"]})),
    )
    .await;
    assert_error(status, &body, 403, "Not assigning role sneaky to user nina");
    assert_eq!(
        get(&hub, "/roles/sneaky", &admin).await.0,
        404,
        "not created"
    );
    assert_eq!(roles_of(&hub, &admin, "nina").await, json!(["user"]));
    hub.stop().await;
}

on_both_backends!(
    "rest_api";
    whoami_by_token_and_by_cookie,
    users_create_read_patch_delete_and_allow_existing_users,
    scopes_decide_access_and_fields,
    cookie_requests_need_xsrf_tokens_do_not,
    tokens_are_shown_once_stored_hashed_and_expire,
    users_and_groups_paginate,
    groups_and_roles_endpoints,
    managed_groups_and_roles_refuse_api_changes,
    openapi_document_matches_the_routes,
    bulk_user_creation_rolls_back_from_the_failing_add_user,
    an_app_reads_one_users_auth_state_with_a_narrow_token,
    admin_users_holder_cannot_grant_herself_the_admin_role,
    tokens_holder_cannot_mint_a_token_wider_than_herself,
    narrowed_token_cannot_mint_or_grant_more_than_it_carries,
);
