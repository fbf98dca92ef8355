//! The built-in proxy keeps an app from setting the hub's own cookies on the hub's origin
//! (session fixation through an app), over HTTP with a real app behind the hub.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use hubauth_testkit::hub::{client, login, start_hub};

/// An app that tries to plant the hub's session and XSRF cookies next to its own.
async fn planting_app() -> SocketAddr {
    let app = axum::Router::new().fallback(get(|| async {
        (
            [
                (
                    header::SET_COOKIE,
                    "hubauth-session=planted-by-the-app; Path=/",
                ),
                (header::SET_COOKIE, "_xsrf=planted; Path=/"),
                (header::SET_COOKIE, "hubauth-oauth-state=planted; Path=/"),
                (header::SET_COOKIE, "app_pref=dark; Path=/"),
            ],
            "hello",
        )
            .into_response()
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

#[tokio::test]
async fn an_app_behind_the_proxy_cannot_set_the_hubs_cookies() {
    let upstream = planting_app().await;
    let hub = start_hub(
        &format!("upstream = \"http://{upstream}\"\n"),
        "[DummyAuthenticator]\nallow_all = true\n",
        &[],
    )
    .await;
    let browser = client();
    assert_eq!(login(&browser, &hub, "ada", "pw", None).await.status(), 302);
    let response = browser
        .get(format!("{}/page", hub.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let set: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(set, ["app_pref=dark; Path=/"]);
    // The session the hub gave is still the one that works.
    let home = browser
        .get(format!("{}home", hub.hub_url))
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), 200);
    assert!(home.text().await.unwrap().contains("ada"));
}
