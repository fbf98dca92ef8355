//! Roles managed by the authenticator (`manage_roles`, `load_managed_roles`,
//! `reset_managed_roles_on_startup`) and start-up reconciliation of invalid users
//! (`delete_invalid_users`), with real hubs on loopback and a database that survives
//! restarts: each scenario runs on a real SQLite file (`sqlite::*`) and, when
//! `HUBAUTH_TEST_POSTGRES_URL` is set (`./scripts/test.sh` sets it), on a fresh
//! PostgreSQL database (`postgres::*`; skipped with a note otherwise).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_testkit::on_both_backends;

use hubauth_store::{RoleRecord, RoleSpec};
use hubauth_testkit::hub::*;
use serde_json::{Value, json};

const IDENTITY_HOOK: &str = "post_auth_hook = \"authentication\"\n";

fn authenticator_table(extra: &str) -> String {
    format!(
        "[Authenticator]\nadmin_users = [\"admin\"]\nallowed_users = [\"alice\", \"bob\"]\nmanage_roles = true\n{extra}\n"
    )
}

async fn roles(hub: &TestHub) -> Vec<RoleRecord> {
    hub.store().list_roles().await.unwrap()
}

fn role<'a>(roles: &'a [RoleRecord], name: &str) -> Option<&'a RoleRecord> {
    roles.iter().find(|role| role.name == name)
}

async fn load_managed_roles_creates_assigns_and_resets_on_startup(db: String) {
    let first = authenticator_table(&format!(
        "{IDENTITY_HOOK}load_managed_roles = [\n  {{ name = \"viewer\", description = \"reads users\", scopes = [\"read:users\"], users = [\"Alice\"] }},\n  {{ name = \"ops\", scopes = [\"admin:groups\"] }},\n]\n"
    ));
    let hub = start_hub(&db_line(&db), &first, &[]).await;
    assert_eq!(hub.hub.reconciled().managed_roles, ["viewer", "ops"]);
    let stored = roles(&hub).await;
    let viewer = role(&stored, "viewer").unwrap();
    assert!(viewer.managed_by_auth);
    assert_eq!(viewer.description, "reads users");
    assert_eq!(viewer.scopes, ["read:users"]);
    assert_eq!(viewer.users, ["alice"], "names are normalized");
    assert!(role(&stored, "ops").unwrap().managed_by_auth);
    assert!(role(&stored, "ops").unwrap().users.is_empty());

    // The roles' scopes apply through the API.
    let alice = store_token(&hub, "alice", &["inherit"], None).await;
    assert_eq!(
        api_call(&hub, reqwest::Method::GET, "/users/bob", &alice, None)
            .await
            .0,
        200
    );
    assert_eq!(
        api_call(&hub, reqwest::Method::GET, "/users", &alice, None)
            .await
            .0,
        403
    );

    // Role management through the API is off while the authenticator manages roles.
    let admin = store_token(&hub, "admin", &["inherit"], None).await;
    for (method, path, body) in [
        (reqwest::Method::POST, "/roles/extra", json!({"scopes": []})),
        (reqwest::Method::DELETE, "/roles/ops", Value::Null),
        (
            reqwest::Method::PATCH,
            "/users/bob",
            json!({"roles": ["ops"]}),
        ),
    ] {
        let body = (!body.is_null()).then_some(body);
        let (status, answer) = api_call(&hub, method, path, &admin, body).await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["message"], "Role management via API is disabled");
    }
    let (status, listed) = api_call(&hub, reqwest::Method::GET, "/roles", &admin, None).await;
    assert_eq!(status, 200);
    let viewer = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "viewer")
        .unwrap();
    assert_eq!(viewer["managed_by_auth"], true);

    // State an earlier run left: bob got `ops` from the authenticator, and holds a role
    // an admin made by hand.
    let store = hub.store();
    store
        .assign_role("ops", &["bob".to_owned()], false)
        .await
        .unwrap();
    store
        .upsert_role(RoleSpec {
            name: "manual".to_owned(),
            description: String::new(),
            scopes: vec!["read:groups".to_owned()],
            managed_by_auth: false,
        })
        .await
        .unwrap();
    store
        .assign_role("manual", &["bob".to_owned()], false)
        .await
        .unwrap();
    let dir = hub.stop().await;

    // Restart without reset: nothing is removed, listed users are added.
    let second = authenticator_table(&format!(
        "{IDENTITY_HOOK}load_managed_roles = [{{ name = \"viewer\", scopes = [\"read:users\"], users = [\"bob\"] }}]\n"
    ));
    let hub = start_hub_in(dir, &db_line(&db), &second, &[])
        .await
        .unwrap();
    assert!(hub.hub.reconciled().stale_roles.is_empty());
    let stored = roles(&hub).await;
    assert_eq!(role(&stored, "viewer").unwrap().users, ["alice", "bob"]);
    assert!(role(&stored, "ops").is_some());
    let dir = hub.stop().await;

    // Restart with reset: `ops` is stale (deleted with bob's assignment); `viewer` now
    // lists only bob, so alice's assignment is stale; the hand-made role stays.
    let third = format!("{second}reset_managed_roles_on_startup = true\n");
    let hub = start_hub_in(dir, &db_line(&db), &third, &[]).await.unwrap();
    let report = hub.hub.reconciled().clone();
    assert_eq!(report.stale_roles, ["ops"]);
    assert_eq!(report.stale_role_assignments, 1);
    let stored = roles(&hub).await;
    assert!(role(&stored, "ops").is_none());
    assert_eq!(role(&stored, "viewer").unwrap().users, ["bob"]);
    assert_eq!(role(&stored, "manual").unwrap().users, ["bob"]);
    let bob = hub.store().get_user("bob").await.unwrap().unwrap();
    assert_eq!(bob.roles, ["manual", "user", "viewer"]);
    let dir = hub.stop().await;

    // Reset with nothing to load would delete every managed role: refused, as upstream.
    let empty = authenticator_table(&format!(
        "{IDENTITY_HOOK}reset_managed_roles_on_startup = true\n"
    ));
    let err = start_hub_in(dir, &db_line(&db), &empty, &[])
        .await
        .err()
        .map(|err| format!("{err:#}"))
        .expect("the hub must refuse to start");
    assert!(err.contains("load_managed_roles"), "{err}");
}

async fn roles_from_the_auth_model_are_synced_at_login(db: String) {
    let hook = |roles: &str| {
        format!(
            "post_auth_hook = '''\nif authentication.name == \"alice\" {{ authentication.roles = {roles}; }}\nauthentication\n'''\n"
        )
    };
    let first = authenticator_table(&hook(
        "[#{ name: \"editor\", description: \"edits\", scopes: [\"groups\"] }, #{ name: \"reader\", scopes: [\"read:users\"], users: [\"bob\"] }]",
    ));
    let hub = start_hub(&db_line(&db), &first, &[]).await;
    let browser = client();
    assert_eq!(
        login(&browser, &hub, "alice", "pw", None).await.status(),
        302
    );
    let alice = hub.store().get_user("alice").await.unwrap().unwrap();
    assert_eq!(alice.roles, ["editor", "reader", "user"]);
    let stored = roles(&hub).await;
    let editor = role(&stored, "editor").unwrap();
    assert!(editor.managed_by_auth);
    assert_eq!(editor.description, "edits");
    assert_eq!(editor.scopes, ["groups"]);
    // A role's `users` are given the role too (bob exists from allowed_users).
    assert_eq!(role(&stored, "reader").unwrap().users, ["alice", "bob"]);
    // A model without roles leaves them (bob's login sets none).
    let other = client();
    assert_eq!(login(&other, &hub, "bob", "pw", None).await.status(), 302);
    let bob = hub.store().get_user("bob").await.unwrap().unwrap();
    assert_eq!(bob.roles, ["reader", "user"]);
    let dir = hub.stop().await;

    // The next login reports only `reader`: `editor` is taken away and, held by nobody
    // and not in load_managed_roles, deleted; `reader` stays (bob holds it).
    let second = authenticator_table(&hook("[#{ name: \"reader\", scopes: [\"read:users\"] }]"));
    let hub = start_hub_in(dir, &db_line(&db), &second, &[])
        .await
        .unwrap();
    let browser = client();
    assert_eq!(
        login(&browser, &hub, "alice", "pw", None).await.status(),
        302
    );
    let alice = hub.store().get_user("alice").await.unwrap().unwrap();
    assert_eq!(alice.roles, ["reader", "user"]);
    let stored = roles(&hub).await;
    assert!(
        role(&stored, "editor").is_none(),
        "stale managed role deleted"
    );
    assert!(role(&stored, "reader").is_some());
    let dir = hub.stop().await;

    // An invalid role specification refuses the login with 409.
    let third = authenticator_table(&hook("[#{ name: \"pilot\", scopes: [\"fly:planes\"] }]"));
    let hub = start_hub_in(dir, &db_line(&db), &third, &[]).await.unwrap();
    let browser = client();
    let refused = login(&browser, &hub, "alice", "pw", None).await;
    assert_eq!(refused.status(), 409);
    let page = refused.text().await.unwrap();
    assert!(page.contains("fly:planes"), "{page}");
    assert!(role(&roles(&hub).await, "pilot").is_none());
    hub.stop().await;
}

#[tokio::test]
async fn manage_roles_needs_a_source_of_roles() {
    // No hook and an authenticator that reports no roles: refused at start-up.
    let err = start_hub_in(
        tempfile::TempDir::new().unwrap(),
        "",
        &authenticator_table(""),
        &[],
    )
    .await
    .err()
    .map(|err| format!("{err:#}"))
    .expect("the hub must refuse to start");
    assert!(err.contains("manage_roles"), "{err}");
    // load_managed_roles without manage_roles is a configuration error.
    let err = start_hub_in(
        tempfile::TempDir::new().unwrap(),
        "",
        "[Authenticator]\nload_managed_roles = [{ name = \"x\" }]\n",
        &[],
    )
    .await
    .err()
    .map(|err| format!("{err:#}"))
    .expect("the hub must refuse to start");
    assert!(err.contains("requires manage_roles"), "{err}");
    // Malformed roles are configuration errors too.
    for (roles, message) in [
        ("[{ scopes = [] }]", "non-empty `name`"),
        ("[{ name = \"admin\" }]", "default role"),
        ("[{ name = \"a\" }, { name = \"a\" }]", "defined twice"),
        ("[{ name = \"a\", groups = [\"g\"] }]", "not supported"),
    ] {
        let config = authenticator_table(&format!("{IDENTITY_HOOK}load_managed_roles = {roles}\n"));
        let err = start_hub_in(tempfile::TempDir::new().unwrap(), "", &config, &[])
            .await
            .err()
            .map(|err| format!("{err:#}"))
            .expect("the hub must refuse to start");
        assert!(err.contains(message), "{roles}: {err}");
    }
    let config = authenticator_table(&format!(
        "{IDENTITY_HOOK}load_managed_roles = [{{ name = \"a\", scopes = [\"fly:planes\"] }}]\n"
    ));
    let err = start_hub_in(tempfile::TempDir::new().unwrap(), "", &config, &[])
        .await
        .err()
        .map(|err| format!("{err:#}"))
        .expect("the hub must refuse to start");
    assert!(err.contains("unknown scopes: fly:planes"), "{err}");
}

async fn delete_invalid_users_at_startup(db: String) {
    let hub = start_hub(
        &db_line(&db),
        "[Authenticator]\nadmin_users = [\"admin\"]\n",
        &[],
    )
    .await;
    let now = 1_000;
    hub.store().ensure_user("user_9", None, now).await.unwrap();
    hub.store().ensure_user("plain", None, now).await.unwrap();
    let dir = hub.stop().await;

    // The name no longer passes username_pattern: kept with an error by default...
    let strict = "[Authenticator]\nadmin_users = [\"admin\"]\nusername_pattern = \"[a-z]+\"\n";
    let hub = start_hub_in(dir, &db_line(&db), strict, &[]).await.unwrap();
    assert_eq!(hub.hub.reconciled().invalid_kept, ["user_9"]);
    assert!(hub.hub.reconciled().deleted.is_empty());
    assert!(hub.store().get_user("user_9").await.unwrap().is_some());
    let dir = hub.stop().await;

    // ...and deleted with delete_invalid_users, along with its tokens.
    let hub = start_hub_in(dir, &db_line(&db), strict, &[]).await.unwrap();
    let dir = {
        store_token(&hub, "user_9", &["inherit"], None).await;
        hub.stop().await
    };
    let hub = start_hub_in(
        dir,
        &db_line(&db),
        &format!("{strict}delete_invalid_users = true\n"),
        &[],
    )
    .await
    .unwrap();
    assert_eq!(hub.hub.reconciled().deleted, ["user_9"]);
    assert!(hub.store().get_user("user_9").await.unwrap().is_none());
    assert!(hub.store().get_user("plain").await.unwrap().is_some());
    assert!(
        hub.store()
            .list_api_tokens("user_9")
            .await
            .map_or(true, |tokens| tokens.is_empty())
    );
    hub.stop().await;
}

on_both_backends!(
    "roles";
    load_managed_roles_creates_assigns_and_resets_on_startup,
    roles_from_the_auth_model_are_synced_at_login,
    delete_invalid_users_at_startup,
);
