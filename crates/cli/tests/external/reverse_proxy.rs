//! The built-in reverse proxy (`[Hub] upstream`, `upstream_routes`) over loopback: a tiny
//! app behind the hub, reached with identity headers, websockets and streamed bodies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// tungstenite's handshake callback returns its large error type by design.
#![allow(clippy::result_large_err)]

use hubauth_testkit::raw_http;

use std::net::SocketAddr;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Uri};
use futures::{SinkExt, StreamExt};
use hubauth_testkit::hub::*;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const OPEN: &str = "[DummyAuthenticator]\nadmin_users = [\"root\"]\n";

/// Every header the app received, name → all values.
fn all_headers(headers: &HeaderMap) -> serde_json::Value {
    let mut seen = serde_json::Map::new();
    for name in headers.keys() {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        seen.insert(name.as_str().to_owned(), values.into());
    }
    seen.into()
}

/// A tiny app: answers with its name, the method, URI, headers and the size of the body
/// it read (streamed, never collected).
async fn start_echo_app(name: &'static str) -> SocketAddr {
    async fn echo(
        axum::extract::State(name): axum::extract::State<&'static str>,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Body,
    ) -> axum::Json<serde_json::Value> {
        let mut stream = body.into_data_stream();
        let mut size = 0usize;
        while let Some(chunk) = stream.next().await {
            size += chunk.unwrap().len();
        }
        axum::Json(serde_json::json!({
            "app": name,
            "method": method.as_str(),
            "uri": uri.to_string(),
            "headers": all_headers(&headers),
            "body_size": size,
        }))
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(echo).with_state(name);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

async fn proxy_hub(upstream: SocketAddr, extra: &str) -> TestHub {
    start_hub(
        &format!("upstream = \"http://{upstream}\"\n{extra}"),
        OPEN,
        &[],
    )
    .await
}

#[tokio::test]
async fn logged_in_user_reaches_the_app_and_a_stranger_logs_in_and_lands_back() {
    let app = start_echo_app("app").await;
    let hub = proxy_hub(app, "").await;
    let browser = client();
    let original = "/notebooks/a%20b.ipynb?x=1&y=2";

    // A stranger is sent to the login page with the original URL in next...
    let response = browser
        .get(format!("{}{original}", hub.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(
        location(&response),
        format!("/hub/login?next={}", urlencode(original))
    );
    // ...logs in, and lands back on it.
    let response = login(&browser, &hub, "ann", "pw", Some(original)).await;
    assert_eq!(response.status(), 302);
    assert_eq!(location(&response), original);
    // (An explicit Cookie header replaces the client's cookie jar for this request.)
    let cookie = format!("theme=dark; {}", session_cookie(&response));
    let response = browser
        .get(format!("{}{original}", hub.origin))
        .header("cookie", cookie)
        .header("connection", "x-hop")
        .header("x-hop", "secret")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let seen: serde_json::Value = response.json().await.unwrap();
    assert_eq!(seen["uri"], original);
    let headers = &seen["headers"];
    assert_eq!(headers["x-auth-request-user"], serde_json::json!(["ann"]));
    assert_eq!(
        headers["x-auth-request-admin"],
        serde_json::json!(["false"])
    );
    assert_eq!(headers["x-auth-request-groups"], serde_json::json!([""]));
    assert_eq!(headers["x-forwarded-for"], serde_json::json!(["127.0.0.1"]));
    assert_eq!(headers["x-forwarded-proto"], serde_json::json!(["http"]));
    let host = hub.origin.trim_start_matches("http://");
    assert_eq!(headers["x-forwarded-host"], serde_json::json!([host]));
    assert_eq!(headers["host"], serde_json::json!([host]), "Host is kept");
    // The hub's session cookie is not the app's business; the app's own cookies pass.
    let cookies = headers["cookie"].to_string();
    assert!(!cookies.contains("hubauth-session"), "{cookies}");
    assert!(cookies.contains("theme=dark"), "{cookies}");
    // Hop-by-hop headers (and those Connection names) stop at the proxy.
    assert!(headers.get("x-hop").is_none(), "{headers}");

    // The hub's own pages are still the hub's.
    let (status, page) = home(&browser, &hub).await;
    assert_eq!(status, 200);
    assert_eq!(shown_user(&page).as_deref(), Some("ann"));

    // Other methods and bodies pass too.
    let response = browser
        .post(format!("{}/api/items", hub.origin))
        .body("hello")
        .send()
        .await
        .unwrap();
    let seen: serde_json::Value = response.json().await.unwrap();
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["body_size"], 5);

    // A stranger's POST, a JSON client and a websocket handshake get 401, not a redirect.
    let stranger = client();
    let response = stranger
        .post(format!("{}/api/items", hub.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let response = stranger
        .get(format!("{}/api/items", hub.origin))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], 401);

    // After logout the app is out of reach at once.
    logout(&browser, &hub).await;
    let response = browser
        .get(format!("{}{original}", hub.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
}

#[tokio::test]
async fn spoofed_identity_headers_never_reach_the_app() {
    let app = start_echo_app("app").await;
    let hub = proxy_hub(
        app,
        "forward_auth_groups_header = \"Remote-Groups\"\nforward_auth_admin_header = \"\"",
    )
    .await;
    let ann = client();
    login(&ann, &hub, "ann", "pw", None).await;
    let response = ann
        .get(format!("{}/x", hub.origin))
        .header("x-auth-request-user", "root")
        .header("X-Auth-Request-User", "root2")
        .header("x-auth-request-admin", "true")
        .header("x-auth-request-email", "root@example.org")
        .header("x-auth-request-access-token", "forged")
        .header("remote-groups", "admins")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let seen: serde_json::Value = response.json().await.unwrap();
    let identity: serde_json::Map<String, serde_json::Value> = seen["headers"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(name, _)| name.starts_with("x-auth-request-") || *name == "remote-groups")
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    assert_eq!(
        serde_json::Value::Object(identity),
        serde_json::json!({"x-auth-request-user": ["ann"], "remote-groups": [""]}),
        "only the hub's identity reaches the app"
    );
    // A stranger's spoofed header does not get them in either.
    let response = client()
        .get(format!("{}/x", hub.origin))
        .header("x-auth-request-user", "ann")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
}

#[tokio::test]
async fn routes_rules_and_a_down_upstream() {
    let app = start_echo_app("app").await;
    let api = start_echo_app("api").await;
    // Nothing listens on this port.
    let down = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let extra = format!(
        "upstream_routes = [\n  {{ path_prefix = \"/api\", upstream = \"http://{api}\" }},\n  {{ path_prefix = \"/down\", upstream = \"http://{down}\" }},\n]\nforward_auth_rules = [{{ path_prefix = \"/staff\", allowed_groups = [\"staff\"] }}]"
    );
    let hub = proxy_hub(app, &extra).await;
    let ann = client();
    login(&ann, &hub, "ann", "pw", None).await;
    let which = |path: &'static str| {
        let ann = ann.clone();
        let url = format!("{}{path}", hub.origin);
        async move {
            let response = ann.get(url).send().await.unwrap();
            let status = response.status().as_u16();
            let body = response.text().await.unwrap();
            (status, body)
        }
    };
    let (status, body) = which("/api/v1").await;
    assert_eq!(status, 200);
    assert!(body.contains("\"app\":\"api\""), "{body}");
    let (status, body) = which("/apiary").await;
    assert_eq!(status, 200);
    assert!(body.contains("\"app\":\"app\""), "{body}");
    // forward_auth_rules apply to proxied requests.
    let (status, body) = which("/staff/report").await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("not allowed"), "{body}");
    // An upstream that does not answer: 502 page.
    let (status, body) = which("/down/x").await;
    assert_eq!(status, 502);
    assert!(body.contains("not reachable"), "{body}");
}

#[tokio::test]
async fn websocket_echo_end_to_end() {
    // A websocket echo app that also reports the identity it saw on the handshake.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut user = String::new();
                let callback =
                    |request: &tokio_tungstenite::tungstenite::handshake::server::Request,
                     response| {
                        user = request
                            .headers()
                            .get("x-auth-request-user")
                            .map(|v| v.to_str().unwrap().to_owned())
                            .unwrap_or_default();
                        Ok(response)
                    };
                let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
                    return;
                };
                let _ = ws.send(Message::text(format!("hello {user}"))).await;
                while let Some(Ok(message)) = ws.next().await {
                    if message.is_text() || message.is_binary() {
                        if ws.send(message).await.is_err() {
                            break;
                        }
                    } else if message.is_close() {
                        break;
                    }
                }
            });
        }
    });
    let hub = proxy_hub(app, "").await;
    let ann = client();
    let response = login(&ann, &hub, "ann", "pw", None).await;
    let cookie = session_cookie(&response);
    let ws_url = format!(
        "{}/api/kernels/1/channels",
        hub.origin.replace("http://", "ws://")
    );

    let mut request = ws_url.as_str().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    request
        .headers_mut()
        .insert("x-auth-request-user", "root".parse().unwrap());
    let (mut ws, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(response.status(), 101);
    let greeting = ws.next().await.unwrap().unwrap();
    assert_eq!(greeting.into_text().unwrap().as_str(), "hello ann");
    for index in 0..20 {
        let text = format!("message {index} {}", "x".repeat(index * 1000));
        ws.send(Message::text(text.clone())).await.unwrap();
        let back = ws.next().await.unwrap().unwrap();
        assert_eq!(back.into_text().unwrap().as_str(), text);
    }
    let binary: Vec<u8> = (0..=255).collect();
    ws.send(Message::binary(binary.clone())).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap().into_data().to_vec(),
        binary
    );
    ws.close(None).await.unwrap();

    // Without a session the handshake is refused.
    let request = ws_url.as_str().into_client_request().unwrap();
    let err = tokio_tungstenite::connect_async(request).await.unwrap_err();
    match err {
        tokio_tungstenite::tungstenite::Error::Http(response) => {
            assert_eq!(response.status(), 401)
        }
        other => panic!("expected an HTTP 401, got {other}"),
    }
}

#[tokio::test]
async fn large_bodies_stream_both_ways() {
    // The app streams its answer: one chunk, then the rest only when the test says so.
    // The client reading the first chunk before releasing the rest shows the proxy does
    // not buffer the response.
    let (release_tx, release_rx) = oneshot::channel::<()>();
    let release = std::sync::Arc::new(std::sync::Mutex::new(Some(release_rx)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_addr = listener.local_addr().unwrap();
    let streaming = axum::Router::new()
        .route(
            "/download",
            axum::routing::get(move || {
                let release = release.clone();
                async move {
                    let (tx, rx) = mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
                    let waiter = release.lock().unwrap().take();
                    tokio::spawn(async move {
                        let _ = tx.send(Ok(b"first chunk;".to_vec())).await;
                        if let Some(waiter) = waiter {
                            let _ = waiter.await;
                        }
                        for _ in 0..64 {
                            if tx.send(Ok(vec![b'z'; 256 * 1024])).await.is_err() {
                                return;
                            }
                        }
                    });
                    let stream = futures::stream::unfold(rx, |mut rx| async move {
                        rx.recv().await.map(|item| (item, rx))
                    });
                    Body::from_stream(stream)
                }
            }),
        )
        .fallback(|body: Body| async move {
            let mut stream = body.into_data_stream();
            let mut size = 0usize;
            while let Some(chunk) = stream.next().await {
                size += chunk.unwrap().len();
            }
            size.to_string()
        });
    tokio::spawn(async move {
        let _ = axum::serve(listener, streaming).await;
    });
    let hub = proxy_hub(app_addr, "").await;
    let ann = client();
    login(&ann, &hub, "ann", "pw", None).await;

    let mut response = ann
        .get(format!("{}/download", hub.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let first = response.chunk().await.unwrap().unwrap();
    assert_eq!(&first[..], b"first chunk;");
    release_tx.send(()).unwrap();
    let mut total = first.len();
    while let Some(chunk) = response.chunk().await.unwrap() {
        total += chunk.len();
    }
    assert_eq!(total, 12 + 64 * 256 * 1024);

    // A 48 MiB upload arrives whole (the hub's 64 KiB form limit does not apply to
    // proxied bodies, which are passed on as they come).
    let response = ann
        .put(format!("{}/upload", hub.origin))
        .body(vec![b'u'; 48 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.text().await.unwrap(),
        (48 * 1024 * 1024).to_string()
    );
}

#[tokio::test]
async fn bad_proxy_options_fail_at_start_naming_the_key() {
    for (extra, needle) in [
        ("upstream = \"https://127.0.0.1:1\"", "upstream"),
        ("upstream = \"http://127.0.0.1:1/sub\"", "upstream"),
        (
            "upstream_routes = [{ path_prefix = \"/a\" }]",
            "upstream_routes",
        ),
        (
            "upstream_routes = [{ upstream = \"http://127.0.0.1:1\", to = \"x\" }]",
            "upstream_routes",
        ),
        (
            "upstream_routes = [{ host = \"app.example:!\", upstream = \"http://127.0.0.1:1\" }]",
            "route 1 (counting from 1): host",
        ),
    ] {
        let err = start_hub_in(tempfile::TempDir::new().unwrap(), extra, OPEN, &[])
            .await
            .err()
            .unwrap_or_else(|| panic!("{extra} should be refused"));
        let text = format!("{err:#}");
        assert!(text.contains(needle), "{extra}: {text}");
    }
}

// ----- tokens for the app (issue #7 item 3, issue #4's GLOBUS_DATA) -------------------

fn decode_json_header(value: &serde_json::Value) -> serde_json::Value {
    use base64::Engine as _;
    let text = value[0].as_str().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// Counter value of `hubauth_auth_refreshes_total`, summed over results.
async fn refreshes(hub: &TestHub) -> u64 {
    let text = scrape_metrics(hub).await;
    text.lines()
        .filter(|line| line.starts_with("hubauth_auth_refreshes_total{"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test]
async fn globus_transfer_tokens_and_local_endpoint_reach_the_app_as_json() {
    use hubauth_globus::mock::{GlobusMock, MockUser};
    let app = start_echo_app("app").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let mock = GlobusMock::builder()
        .client("hub", "hub-secret", &format!("{origin}/hub/oauth_callback"))
        .auto_approve(Some("alice@globusid.org"))
        .user(MockUser::new("alice", "globusid.org"))
        .start()
        .await
        .unwrap();
    let key = hubauth_store::CryptKeeper::generate_key();
    let hub_extra = format!(
        "authenticator_class = \"globus\"\nupstream = \"http://{app}\"\nauth_state_headers = {{ \"X-Globus-Data\" = \"globus_data\", \"X-Globus-Local-Endpoint\" = \"globus_local_endpoint\", \"X-Auth-Request-Access-Token\" = \"tokens.transfer.api.globus.org.access_token\", \"X-Missing\" = \"no.such.item\" }}"
    );
    let rest = format!(
        "[GlobusOAuthenticator]\nclient_id = \"hub\"\nclient_secret = \"hub-secret\"\n{}enable_auth_state = true\nallow_all = true\nglobus_local_endpoint = \"ep-1234\"\nrefresh_pre_spawn = true\nauth_refresh_age = 0\n",
        mock.toml_urls()
    );
    let hub = start_hub_with(HubOptions {
        dir: tempfile::TempDir::new().unwrap(),
        listener: Some(listener),
        hub_extra: &hub_extra,
        rest: &rest,
        env: &[("JUPYTERHUB_CRYPT_KEY", key.as_str())],
        clock: None,
    })
    .await
    .unwrap();

    // A stranger opens the app, logs in at Globus, and lands back on it.
    let browser = client();
    let response = browser
        .get(format!("{origin}/lab?x=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(location(&response), "/hub/login?next=%2Flab%3Fx%3D1");
    let start = browser
        .get(format!(
            "{}oauth_login?next={}",
            hub.hub_url,
            urlencode("/lab?x=1")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 302);
    let at_globus = browser.get(location(&start)).send().await.unwrap();
    assert_eq!(at_globus.status(), 302, "the mock approves");
    let callback = browser.get(location(&at_globus)).send().await.unwrap();
    assert_eq!(callback.status(), 303);
    assert_eq!(location(&callback), "/lab?x=1");

    let transfer_tokens = mock.issued_for("transfer.api.globus.org");
    assert!(!transfer_tokens.is_empty());
    let before = refreshes(&hub).await;
    let response = browser
        .get(format!("{origin}/lab?x=1"))
        .header("x-globus-data", "forged")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let seen: serde_json::Value = response.json().await.unwrap();
    let headers = &seen["headers"];
    assert_eq!(headers["x-auth-request-user"], serde_json::json!(["alice"]));
    assert_eq!(
        headers["x-globus-local-endpoint"],
        serde_json::json!(["ep-1234"])
    );
    assert!(headers.get("x-missing").is_none());
    let access = headers["x-auth-request-access-token"][0].as_str().unwrap();
    assert!(transfer_tokens.iter().any(|t| t == access));
    // GLOBUS_DATA as JSON: the transfer token, the client id, the user, the endpoint;
    // the client's forged copy is gone, and excluded tokens are not in it.
    assert_eq!(headers["x-globus-data"].as_array().unwrap().len(), 1);
    let data = decode_json_header(&headers["x-globus-data"]);
    let transfer = &data["tokens"]["transfer.api.globus.org"];
    assert_eq!(transfer["access_token"], access);
    assert_eq!(transfer["resource_server"], "transfer.api.globus.org");
    assert_eq!(data["client_id"], "hub");
    assert_eq!(data["globus_local_endpoint"], "ep-1234");
    assert_eq!(
        data["globus_user"]["preferred_username"],
        "alice@globusid.org"
    );
    for excluded in mock.issued_for("auth.globus.org") {
        assert!(!data.to_string().contains(&excluded));
    }
    // refresh_pre_spawn with auth_refresh_age = 0: refreshed before tokens are handed on.
    assert!(
        refreshes(&hub).await > before,
        "a refresh ran before the hand-on"
    );

    // The forward-auth answer carries the same headers, for nginx/Traefik/Caddy setups.
    let response = browser
        .get(format!("{}forward-auth", hub.hub_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let token = response
        .headers()
        .get("x-auth-request-access-token")
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(token, access);
    let encoded = response
        .headers()
        .get("x-globus-data")
        .unwrap()
        .to_str()
        .unwrap();
    let data = decode_json_header(&serde_json::json!([encoded]));
    assert_eq!(
        data["tokens"]["transfer.api.globus.org"]["access_token"],
        access
    );
    assert_eq!(
        response.headers().get("x-globus-local-endpoint").unwrap(),
        "ep-1234"
    );
}

#[tokio::test]
async fn no_token_reaches_the_app_unless_configured() {
    let app = start_echo_app("app").await;
    let hub = proxy_hub(app, "").await;
    let ann = client();
    login(&ann, &hub, "ann", "pw", None).await;
    let seen: serde_json::Value = ann
        .get(format!("{}/x", hub.origin))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&String> = seen["headers"].as_object().unwrap().keys().collect();
    assert!(
        !names
            .iter()
            .any(|n| n.contains("token") || n.contains("globus")),
        "{names:?}"
    );
}

#[tokio::test]
async fn shutdown_finishes_the_request_in_flight_then_stops_listening() {
    // An app that takes its time to answer.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = listener.local_addr().unwrap();
    let slow = axum::Router::new().fallback(|| async {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        "slow answer"
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, slow).await;
    });
    let hub = proxy_hub(app, "").await;
    let origin = hub.origin.clone();
    let browser = client();
    let response = login(&browser, &hub, "ann", "pw", None).await;
    let cookie = session_cookie(&response);

    let in_flight = tokio::spawn({
        let browser = browser.clone();
        let url = format!("{origin}/work");
        async move { browser.get(url).header("cookie", cookie).send().await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    // Stopping waits for the request in flight (which has about 350 ms to go)...
    let stopping = std::time::Instant::now();
    hub.stop().await;
    assert!(
        stopping.elapsed() >= std::time::Duration::from_millis(200),
        "stop returned before the request in flight was answered"
    );
    let response = in_flight
        .await
        .unwrap()
        .expect("the request in flight is answered");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "slow answer");
    // ...and then nothing listens any more.
    let refused = reqwest::Client::new()
        .get(format!("{origin}/hub/health"))
        .send()
        .await;
    assert!(refused.is_err(), "still served after shutdown: {refused:?}");
}

/// Another app's cookie that is not text (Latin-1 here) used to leave the whole `Cookie`
/// line untouched, the hub's session cookie included, on its way to the app. And the
/// app's own answers keep their headers: the hub's page headers (no framing) are for the
/// hub's pages only.
#[tokio::test]
async fn session_cookie_beside_a_non_ascii_cookie_does_not_reach_the_app() {
    let app = start_echo_app("app").await;
    let hub = proxy_hub(app, "").await;
    let response = login(&client(), &hub, "ann", "pw", None).await;
    let session = session_cookie(&response);
    let mut line = b"legacy=\xe9t\xe9; ".to_vec();
    line.extend_from_slice(session.as_bytes());
    let response = reqwest::Client::new()
        .get(format!("{}/lab", hub.origin))
        .header(
            "cookie",
            reqwest::header::HeaderValue::from_bytes(&line).unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the session is found");
    assert!(response.headers().get("x-frame-options").is_none());
    assert!(response.headers().get("content-security-policy").is_none());
    let seen: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        seen["headers"]["x-auth-request-user"],
        serde_json::json!(["ann"])
    );
    let cookies = seen["headers"]["cookie"].to_string();
    assert!(!cookies.contains("hubauth-session"), "{cookies}");
    assert!(cookies.contains("legacy="), "{cookies}");
    hub.stop().await;
}

// ----- odd hosts and paths (issue #13 point 1) ------------------------------------------

/// Behind the built-in proxy: app.example is ann's (its own upstream), `/private` is
/// ann's everywhere, and everything else goes to the catch-all app. Returns the hub and
/// the session cookies of ann and bob.
async fn guarded_proxy() -> (TestHub, String, String) {
    let app = start_echo_app("app").await;
    let secret = start_echo_app("secret").await;
    let extra = format!(
        "upstream_routes = [{{ host = \"app.example\", upstream = \"http://{secret}\" }}]\nforward_auth_rules = [\n  {{ host = \"app.example\", allowed_users = [\"ann\"] }},\n  {{ path_prefix = \"/private\", allowed_users = [\"ann\"] }},\n]"
    );
    let hub = proxy_hub(app, &extra).await;
    let ann = session_cookie(&login(&client(), &hub, "ann", "pw", None).await);
    let bob = session_cookie(&login(&client(), &hub, "bob", "pw", None).await);
    (hub, ann, bob)
}

fn hub_addr(hub: &TestHub) -> SocketAddr {
    hub.origin.trim_start_matches("http://").parse().unwrap()
}

async fn raw_get(hub: &TestHub, target: &str, host: &str, cookie: &str) -> raw_http::RawResponse {
    let mut lines = vec![format!("Host: {host}")];
    if !cookie.is_empty() {
        lines.push(format!("Cookie: {cookie}"));
    }
    raw_http::get(hub_addr(hub), target, &lines).await
}

#[tokio::test]
async fn trailing_dot_and_odd_case_hosts_do_not_escape_a_host_rule_of_the_built_in_proxy() {
    let (hub, ann, bob) = guarded_proxy().await;
    for host in [
        "app.example",
        "app.example.",
        "APP.example.",
        "app.example:8000",
        "app.example.:1",
    ] {
        let response = raw_get(&hub, "/notes", host, &bob).await;
        assert_eq!(response.status, 403, "bob, Host: {host}: {response:?}");
        let response = raw_get(&hub, "/notes", host, &ann).await;
        assert_eq!(response.status, 200, "ann, Host: {host}: {response:?}");
        assert!(response.body.contains("\"app\":\"secret\""), "{response:?}");
    }
    // Another host is the catch-all app's, open to bob.
    let response = raw_get(&hub, "/notes", "other.example", &bob).await;
    assert_eq!(response.status, 200, "{response:?}");
    assert!(response.body.contains("\"app\":\"app\""), "{response:?}");
}

#[tokio::test]
async fn non_numeric_port_hosts_get_400_from_the_built_in_proxy_never_the_catch_all_route() {
    let (hub, ann, bob) = guarded_proxy().await;
    for host in [
        "app.example:!",
        "app.example:80x",
        "app.example:@evil",
        "app.example:",
        "app.example:99999",
        "app..example",
        "user@app.example",
        "[app.example]",
    ] {
        for (who, cookie) in [
            ("bob", bob.as_str()),
            ("ann", ann.as_str()),
            ("a stranger", ""),
        ] {
            let response = raw_get(&hub, "/notes", host, cookie).await;
            assert_eq!(response.status, 400, "{who}, Host: {host}: {response:?}");
            assert!(!response.body.contains("\"app\":"), "{response:?}");
        }
    }
    // JSON clients get JSON.
    let response = raw_http::get(
        hub_addr(&hub),
        "/notes",
        &[
            "Host: app.example:!".to_owned(),
            format!("Cookie: {bob}"),
            "Accept: application/json".to_owned(),
        ],
    )
    .await;
    assert_eq!(response.status, 400);
    assert!(response.body.contains("\"status\":400"), "{response:?}");
    // Two different Host headers, or an absolute-form request naming another host than
    // its Host header: which host is meant cannot be told.
    let response = raw_http::get(
        hub_addr(&hub),
        "/notes",
        &[
            "Host: other.example".to_owned(),
            "Host: app.example".to_owned(),
            format!("Cookie: {bob}"),
        ],
    )
    .await;
    assert_eq!(response.status, 400, "{response:?}");
    let response = raw_get(&hub, "http://app.example/notes", "other.example", &bob).await;
    assert_eq!(response.status, 400, "{response:?}");
    let response = raw_get(&hub, "http://app.example/notes", "app.example", &ann).await;
    assert_eq!(response.status, 200, "{response:?}");
}

#[tokio::test]
async fn double_slash_dot_segment_and_encoded_paths_do_not_escape_a_rule_of_the_built_in_proxy() {
    let (hub, ann, bob) = guarded_proxy().await;
    let host = "other.example";
    for target in [
        "/private/x",
        "//private/x",
        "///private/x",
        "/./private/x",
        "/public/../private/x",
        "/%2Fprivate/x",
        "/public/..%2Fprivate/x",
        "/public/..;/private/x",
        "/public/%252e%252e/private/x",
        "/Private/x",
    ] {
        let response = raw_get(&hub, target, host, &bob).await;
        assert_eq!(response.status, 403, "bob: {target}: {response:?}");
        let response = raw_get(&hub, target, host, &ann).await;
        assert_eq!(response.status, 200, "ann: {target}: {response:?}");
    }
    let response = raw_get(&hub, "/a%00/../private/x", host, &ann).await;
    assert_eq!(response.status, 400, "{response:?}");
}

// ----- forwarding headers (issue #13 point 4) -------------------------------------------

/// What the app saw of one request carrying a client's own forwarding headers.
async fn forwarding_headers_seen(extra: &str) -> serde_json::Value {
    let app = start_echo_app("app").await;
    let hub = proxy_hub(app, extra).await;
    let session = session_cookie(&login(&client(), &hub, "ann", "pw", None).await);
    let response = reqwest::Client::new()
        .get(format!("{}/x", hub.origin))
        .header("cookie", session)
        .header("x-forwarded-for", "6.6.6.6")
        .header("x-forwarded-host", "evil.example")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-port", "1")
        .header("x-forwarded-prefix", "/evil")
        .header("forwarded", "for=6.6.6.6;host=evil.example;proto=https")
        .header("x-real-ip", "6.6.6.6")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let seen: serde_json::Value = response.json().await.unwrap();
    hub.stop().await;
    seen["headers"].clone()
}

#[tokio::test]
async fn client_forwarding_headers_are_replaced_not_passed_to_the_app() {
    // The client talks to the hub directly: loopback is not a trusted proxy here.
    let headers = forwarding_headers_seen("trusted_proxies = []").await;
    assert_eq!(headers["x-forwarded-for"], serde_json::json!(["127.0.0.1"]));
    assert_eq!(headers["x-forwarded-proto"], serde_json::json!(["http"]));
    let host = headers["host"].clone();
    assert_eq!(headers["x-forwarded-host"], host);
    for removed in [
        "forwarded",
        "x-real-ip",
        "x-forwarded-port",
        "x-forwarded-prefix",
    ] {
        assert!(headers.get(removed).is_none(), "{removed}: {headers}");
    }
}

#[tokio::test]
async fn a_trusted_proxys_forwarding_headers_are_kept_and_extended() {
    // The default trusts a proxy on the same machine: its values stand, and the address it
    // connected from is appended.
    let headers = forwarding_headers_seen("").await;
    assert_eq!(
        headers["x-forwarded-for"],
        serde_json::json!(["6.6.6.6, 127.0.0.1"])
    );
    assert_eq!(headers["x-forwarded-proto"], serde_json::json!(["https"]));
    assert_eq!(
        headers["x-forwarded-host"],
        serde_json::json!(["evil.example"])
    );
    assert_eq!(headers["x-real-ip"], serde_json::json!(["6.6.6.6"]));
}
