//! The example provider logs users in through a real OAuth flow on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use axum::routing::get;
use hubauth_config::{Config, MapEnv, Registry};
use hubauth_devidp::{Client, DevIdp, DevUser};
use hubauth_server::{CookieSecret, Hub, HubConfig, HubParts, SystemClock};
use serde_json::json;

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn my_service_admits_team_members_only() {
    // My Service's teams API: ann is in research, bob in nothing.
    let teams = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let teams_url = format!("http://{}/api/teams", teams.local_addr().unwrap());
    let current = Arc::new(std::sync::Mutex::new(json!(["research"])));
    let served = current.clone();
    let app = axum::Router::new().route(
        "/api/teams",
        get(move || {
            let teams = served.lock().unwrap().clone();
            async move { axum::Json(teams) }
        }),
    );
    tokio::spawn(async move { axum::serve(teams, app).await.unwrap() });

    let hub_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", hub_listener.local_addr().unwrap());
    let idp = DevIdp::builder()
        .client(Client::confidential(
            "hub",
            "s3cret",
            format!("{origin}/hub/oauth_callback"),
        ))
        .user(DevUser::new("ann", "pw").claim("login", "ann"))
        .auto_approve(Some("ann".into()))
        .start()
        .await
        .unwrap();

    let mut classes: Vec<&'static hubauth_config::ClassDef> =
        hubauth_core::options::classes().to_vec();
    classes.extend(hubauth_oauth::classes());
    classes.push(&hubauth_example_myservice::MY_SERVICE);
    let registry = Registry::new(classes).unwrap();
    let text = format!(
        "[MyServiceOAuthenticator]\nclient_id = \"hub\"\nclient_secret = \"s3cret\"\noidc_issuer = \"{}\"\nscope = [\"openid\"]\nteams_url = \"{teams_url}\"\nallowed_teams = [\"research\"]\n",
        idp.issuer()
    );
    let config = Config::parse(&text, "myservice.toml", &registry).unwrap();
    let env = MapEnv::new();
    let view = config.view(&registry, "MyServiceOAuthenticator", &env);
    let authenticator = Arc::new(hubauth_example_myservice::from_view(&view).unwrap());

    let dir = tempfile::TempDir::new().unwrap();
    let store = hubauth_store::SqliteStore::open_path(&dir.path().join("hub.sqlite"))
        .await
        .unwrap();
    let hub = Hub::start(HubParts {
        config: HubConfig {
            login_rate_limit: 0,
            ..HubConfig::default()
        },
        authenticator,
        hook: None,
        store: Arc::new(store),
        crypt: hubauth_store::CryptKeeper::empty(),
        secret: CookieSecret::random(),
        clock: Arc::new(SystemClock),
    })
    .await
    .unwrap();
    tokio::spawn(hub.serve(hub_listener, std::future::pending()));

    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let start = browser
        .get(format!("{origin}/hub/oauth_login"))
        .send()
        .await
        .unwrap();
    let at_idp = browser.get(location(&start)).send().await.unwrap();
    let done = browser.get(location(&at_idp)).send().await.unwrap();
    assert_eq!(done.status(), 303, "ann is in an allowed team");
    let home = browser
        .get(format!("{origin}/hub/home"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains(">ann<"), "{home}");

    // Once ann leaves the team, a new login is refused with the 403 page.
    *current.lock().unwrap() = json!(["marketing"]);
    let other = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let start = other
        .get(format!("{origin}/hub/oauth_login"))
        .send()
        .await
        .unwrap();
    let at_idp = other.get(location(&start)).send().await.unwrap();
    let refused = other.get(location(&at_idp)).send().await.unwrap();
    assert_eq!(refused.status(), 403);
}
