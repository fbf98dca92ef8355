//! Operating the hub: liveness and readiness, Prometheus metrics, and the clean-up of
//! expired data. (The login log has its own test binary, `login_log.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use hubauth_testkit::hub::*;
use serde_json::{Value, json};

#[tokio::test]
async fn readiness_follows_the_database() {
    // Prometheus scrapes from an allowed network: no token, so no database read, and the
    // metrics still answer while the database is down.
    let hub = start_hub("metrics_allowed_networks = [\"127.0.0.0/8\"]\n", "", &[]).await;
    let c = client();
    let (status, body) = get(&c, &format!("{}health/ready", hub.hub_url)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"status": "ok"})
    );

    hub.hub.state().store.close().await;
    let (status, body) = get(&c, &format!("{}health/ready", hub.hub_url)).await;
    assert_eq!(status, 503, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["message"], "The hub's database is unavailable.");
    // Liveness does not depend on the database.
    assert_eq!(get(&c, &format!("{}health", hub.hub_url)).await.0, 200);
    let (_, metrics) = get(&c, &format!("{}metrics", hub.hub_url)).await;
    assert_eq!(
        sample(
            &metrics,
            "hubauth_database_errors_total{kind=\"unavailable\"}"
        ),
        Some(1.0),
        "{metrics}"
    );
    hub.stop().await;
}

#[tokio::test]
async fn metrics_count_logins_per_hub() {
    let hub = start_hub(
        "",
        "[Authenticator]\nblocked_users = [\"mallory\"]\n[DummyAuthenticator]\npassword = \"pw-123\"\n",
        &[],
    )
    .await;
    // A second hub in the same process keeps its own counts.
    let other = start_hub("", "", &[]).await;
    let c = client();
    assert_eq!(login(&c, &hub, "ada", "pw-123", None).await.status(), 302);
    assert_eq!(
        login(&client(), &hub, "bob", "pw-123", None).await.status(),
        302
    );
    assert_eq!(
        login(&client(), &hub, "ada", "wrong", None).await.status(),
        403
    );
    assert_eq!(
        login(&client(), &hub, "mallory", "pw-123", None)
            .await
            .status(),
        403
    );
    assert_eq!(logout(&c, &hub).await.status().as_u16(), 302);

    let response = c
        .get(format!("{}metrics", hub.hub_url))
        .bearer_auth(metrics_token(&hub).await)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    let logins = |outcome: &str| {
        sample(
            &text,
            &format!(
                "hubauth_logins_total{{authenticator=\"DummyAuthenticator\",outcome=\"{outcome}\"}}"
            ),
        )
    };
    assert_eq!(logins("ok"), Some(2.0), "{text}");
    assert_eq!(logins("authentication_failed"), Some(1.0), "{text}");
    assert_eq!(logins("blocked"), Some(1.0), "{text}");
    assert_eq!(
        sample(&text, "hubauth_sessions_started_total"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "hubauth_sessions_ended_total{reason=\"logout\"}"),
        Some(1.0),
        "{text}"
    );
    // Two sessions started, one logged out: one is active, counted in the database.
    assert_eq!(
        sample(&text, "hubauth_active_sessions"),
        Some(1.0),
        "{text}"
    );
    assert!(
        text.contains("# TYPE hubauth_active_sessions gauge"),
        "{text}"
    );
    assert!(text.contains("# HELP hubauth_logins_total"), "{text}");
    assert!(
        text.contains("# TYPE hubauth_logins_total counter"),
        "{text}"
    );

    let other_text = scrape_metrics(&other).await;
    assert!(
        !other_text.contains("hubauth_logins_total{"),
        "{other_text}"
    );
    assert_eq!(
        sample(&other_text, "hubauth_active_sessions"),
        Some(0.0),
        "{other_text}"
    );
    other.stop().await;
    hub.stop().await;
}

/// Anyone who reaches the hub reads who logs in how often: the metrics answer only a
/// token (or session) with `read:metrics`, or a TCP peer in `metrics_allowed_networks`;
/// a forwarded address is not believed.
#[tokio::test]
async fn anonymous_scrape_of_metrics_is_refused() {
    let hub = start_hub(
        "metrics_allowed_networks = [\"10.0.0.0/8\"]\n",
        "[Authenticator]\nadmin_users = [\"ada\"]\n",
        &[],
    )
    .await;
    let url = format!("{}metrics", hub.hub_url);
    let http = reqwest::Client::new();
    let scrape = |request: reqwest::RequestBuilder| async move {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    };
    let (status, body) = scrape(http.get(&url)).await;
    assert_eq!(status, 403, "{body}");
    assert!(!body.contains("hubauth_"), "{body}");
    assert!(body.contains("read:metrics"), "{body}");
    // A forwarded address inside the allowed network is the client's word only.
    for header in ["X-Forwarded-For", "X-Real-IP"] {
        let (status, _) = scrape(http.get(&url).header(header, "10.1.2.3")).await;
        assert_eq!(status, 403, "{header}");
    }
    // A wrong token, and a real token without the scope.
    let (status, _) = scrape(http.get(&url).bearer_auth("not-a-token")).await;
    assert_eq!(status, 403);
    hub.store().ensure_user("bob", None, 0).await.unwrap();
    let bob = store_token(&hub, "bob", &["inherit"], None).await;
    let (status, body) = scrape(http.get(&url).bearer_auth(&bob)).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("requires any of [read:metrics]"), "{body}");

    // Prometheus with its token (Authorization: Bearer, or JupyterHub's token scheme).
    let token = metrics_token(&hub).await;
    let (status, text) = scrape(http.get(&url).bearer_auth(&token)).await;
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains("# TYPE hubauth_active_sessions gauge"),
        "{text}"
    );
    let (status, _) = scrape(
        http.get(&url)
            .header("Authorization", format!("token {token}")),
    )
    .await;
    assert_eq!(status, 200);
    // An admin's session holds read:metrics through the admin role.
    let browser = client();
    assert_eq!(login(&browser, &hub, "ada", "pw", None).await.status(), 302);
    assert_eq!(get(&browser, &url).await.0, 200);
    hub.stop().await;

    // From an allowed network (here loopback) no token is needed.
    let open = start_hub("metrics_allowed_networks = [\"127.0.0.0/8\"]\n", "", &[]).await;
    let (status, text) = scrape(http.get(format!("{}metrics", open.hub_url))).await;
    assert_eq!(status, 200, "{text}");
    open.stop().await;
    // authenticate_prometheus = false serves anyone, as upstream.
    let off = start_hub("authenticate_prometheus = false\n", "", &[]).await;
    let (status, _) = scrape(http.get(format!("{}metrics", off.hub_url))).await;
    assert_eq!(status, 200);
    off.stop().await;
    // A network that is not written exactly stops the hub.
    for entry in ["10.0.0.5/8", "10.0.0.0/33", "loopback"] {
        let failed = start_hub_in(
            tempfile::TempDir::new().unwrap(),
            &format!("metrics_allowed_networks = [\"{entry}\"]\n"),
            "",
            &[],
        )
        .await;
        let err = failed.expect_err("refused").to_string();
        assert!(err.contains("metrics_allowed_networks"), "{err}");
    }
}

#[tokio::test]
async fn expired_sessions_and_tokens_are_cleaned_up() {
    use hubauth_server::Clock as _;
    use hubauth_server::maintenance::{Purged, purge_expired};

    let clock = Arc::new(hubauth_server::ManualClock::at(1_800_000_000));
    let hub = start_hub_with(HubOptions {
        dir: tempfile::TempDir::new().unwrap(),
        listener: None,
        hub_extra: "purge_expired_interval = 0\n",
        rest: "",
        env: &[],
        clock: Some(clock.clone()),
    })
    .await
    .unwrap();
    let browser = client();
    assert_eq!(login(&browser, &hub, "ann", "pw", None).await.status(), 302);
    let store = hub.store();
    let now = clock.now();
    for (hash, expires) in [("short-lived", Some(now + 60)), ("forever", None)] {
        store
            .create_api_token(hubauth_store::NewApiToken {
                hash: hash.to_owned(),
                prefix: "test".to_owned(),
                user: "ann".to_owned(),
                note: "test".to_owned(),
                scopes: Vec::new(),
                created: now,
                expires,
            })
            .await
            .unwrap();
    }
    let state = hub.hub.state();
    assert_eq!(
        purge_expired(state, clock.now()).await.unwrap(),
        Purged::default(),
        "nothing has expired yet"
    );
    assert_eq!(home(&browser, &hub).await.0, 200);

    // Past the session lifetime (14 days by default).
    clock.advance(15 * 24 * 3600);
    assert_eq!(
        purge_expired(state, clock.now()).await.unwrap(),
        Purged {
            sessions: 1,
            login_states: 0,
            api_tokens: 1,
            oauth_grants: 0,
        }
    );
    assert!(
        store
            .expired_sessions(i64::MAX, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.find_api_token("short-lived").await.unwrap().is_none());
    assert!(store.find_api_token("forever").await.unwrap().is_some());
    assert_eq!(home(&browser, &hub).await.0, 302, "the session is gone");
    hub.stop().await;
}
