//! Machine clients through the gateway (`[Hub] forward_auth_accept_tokens`): the hub's
//! API tokens and the access tokens it issued, at forward-auth and at the built-in proxy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::Duration;

use axum::Json;
use axum::http::HeaderMap;
use axum::routing::get;
use hubauth_testkit::hub::{TestHub, client, login, start_hub, store_token};
use serde_json::{Map, Value};

const RULES: &str = "forward_auth_rules = [{ host = \"app.example\", path_prefix = \"/admin\", allowed_users = [\"root\"] }]\n";
const OPEN: &str =
    "[DummyAuthenticator]\nallow_all = true\n\n[Authenticator]\nblocked_users = [\"eve\"]\n";

/// Logs `name` in once, so that the user exists with the default roles.
async fn make_user(hub: &TestHub, name: &str) {
    let response = login(&client(), hub, name, "pw", None).await;
    assert_eq!(response.status(), 302, "{name} logs in");
}

/// Asks forward-auth about `path` on app.example with `authorization`.
async fn check(hub: &TestHub, authorization: Option<&str>, path: &str) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .get(format!("{}forward-auth", hub.hub_url))
        .header("x-forwarded-host", "app.example")
        .header("x-forwarded-uri", path);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    request.send().await.unwrap()
}

fn user_header(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("x-auth-request-user")
        .map(|value| value.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn api_tokens_with_access_apps_pass_forward_auth_under_the_same_rules() {
    let hub = start_hub(
        &format!("forward_auth_accept_tokens = true\nsession_cache_ttl = 1\n{RULES}"),
        OPEN,
        &[],
    )
    .await;
    make_user(&hub, "ada").await;
    // A token with the owner's full permissions (JupyterHub's inherit).
    let full = store_token(&hub, "ada", &["inherit"], None).await;
    // One made for the gateway only, and one without the gateway scope.
    let gateway = store_token(&hub, "ada", &["access:apps"], None).await;
    let narrow = store_token(&hub, "ada", &["read:users!user=ada"], None).await;

    for authorization in [
        format!("token {full}"),
        format!("Bearer {gateway}"),
        format!("bearer {full}"),
    ] {
        let response = check(&hub, Some(&authorization), "/").await;
        assert_eq!(response.status(), 200, "{authorization}");
        assert_eq!(user_header(&response).as_deref(), Some("ada"));
    }
    // The same rules as for a session: /admin is root's only.
    assert_eq!(
        check(&hub, Some(&format!("token {full}")), "/admin")
            .await
            .status(),
        403
    );
    // No access:apps, no entry.
    assert_eq!(
        check(&hub, Some(&format!("token {narrow}")), "/")
            .await
            .status(),
        401
    );
    // Unknown, malformed and empty credentials.
    for bad in [
        "token nope",
        "token ",
        "Basic YWRhOnB3",
        "token\tx",
        &format!("token {}", "x".repeat(5000)),
    ] {
        assert_eq!(check(&hub, Some(bad), "/").await.status(), 401, "{bad:?}");
    }
    // An expired token.
    let expired = store_token(&hub, "ada", &["inherit"], Some(1)).await;
    assert_eq!(
        check(&hub, Some(&format!("token {expired}")), "/")
            .await
            .status(),
        401
    );

    // A revoked token stops working within session_cache_ttl.
    let store = hub.store();
    let id = store
        .list_api_tokens("ada")
        .await
        .unwrap()
        .into_iter()
        .find(|token| gateway.starts_with(&token.prefix) && token.scopes == ["access:apps"])
        .unwrap()
        .id;
    assert!(store.delete_api_token("ada", id).await.unwrap());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        check(&hub, Some(&format!("Bearer {gateway}")), "/")
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn tokens_are_refused_when_not_accepted_or_when_their_owner_is_blocked() {
    let hub = start_hub("", OPEN, &[]).await;
    make_user(&hub, "ada").await;
    let token = store_token(&hub, "ada", &["inherit"], None).await;
    // forward_auth_accept_tokens is off by default.
    assert_eq!(
        check(&hub, Some(&format!("token {token}")), "/")
            .await
            .status(),
        401
    );

    let hub = start_hub("forward_auth_accept_tokens = true\n", OPEN, &[]).await;
    hub.store().ensure_user("eve", None, 1).await.unwrap();
    let blocked = store_token(&hub, "eve", &["inherit"], None).await;
    assert_eq!(
        check(&hub, Some(&format!("token {blocked}")), "/")
            .await
            .status(),
        401
    );
}

/// An app that answers with the headers it received.
async fn echo_app() -> SocketAddr {
    let app = axum::Router::new().fallback(get(|headers: HeaderMap| async move {
        let seen: Map<String, Value> = headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    Value::String(value.to_str().unwrap_or("").to_owned()),
                )
            })
            .collect();
        Json(Value::Object(seen))
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

#[tokio::test]
async fn the_built_in_proxy_takes_tokens_and_does_not_pass_them_on() {
    let upstream = echo_app().await;
    let hub = start_hub(
        &format!(
            "forward_auth_accept_tokens = true\nupstream = \"http://{upstream}\"\nforward_auth_rules = [{{ path_prefix = \"/admin\", allowed_users = [\"root\"] }}]\n"
        ),
        OPEN,
        &[],
    )
    .await;
    make_user(&hub, "ada").await;
    let token = store_token(&hub, "ada", &["inherit"], None).await;
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = plain
        .get(format!("{}/report", hub.origin))
        .header("authorization", format!("token {token}"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let seen: Value = response.json().await.unwrap();
    assert_eq!(seen["x-auth-request-user"], "ada");
    assert!(seen.get("authorization").is_none(), "{seen}");
    // The rules hold for tokens too.
    let denied = plain
        .get(format!("{}/admin/x", hub.origin))
        .header("authorization", format!("token {token}"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);
    // Without a credential a script gets 401, not a login page.
    let anonymous = plain
        .get(format!("{}/report", hub.origin))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}
