//! `{base_url}hub/forward-auth` over loopback: the answers a reverse proxy relies on, and
//! real nginx (`auth_request`) in front of a tiny app.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_testkit::raw_http;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hubauth_testkit::hub::*;

const OPEN: &str = "[DummyAuthenticator]\nadmin_users = [\"root\"]\n";

/// Logs `name` in on the hub and puts them in `groups`; returns their client.
async fn logged_in(hub: &TestHub, name: &str, groups: &[&str]) -> reqwest::Client {
    let client = client();
    let response = login(&client, hub, name, "pw", None).await;
    assert_eq!(response.status(), 302, "login of {name}");
    let store = hub.store();
    for group in groups {
        if !store
            .list_groups()
            .await
            .unwrap()
            .iter()
            .any(|g| g.name == *group)
        {
            store.create_group(group).await.unwrap();
        }
        store
            .add_group_members(group, &[name.to_owned()])
            .await
            .unwrap();
    }
    client
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

fn check_url(hub: &TestHub) -> String {
    format!("{}forward-auth", hub.hub_url)
}

#[tokio::test]
async fn session_gives_identity_headers_and_no_session_gives_401() {
    let hub = start_hub("", OPEN, &[]).await;
    let ann = logged_in(&hub, "ann", &["staff", "ops"]).await;
    let response = ann.get(check_url(&hub)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "x-auth-request-user").as_deref(),
        Some("ann")
    );
    assert_eq!(
        header(&response, "x-auth-request-groups").as_deref(),
        Some("ops,staff")
    );
    assert_eq!(
        header(&response, "x-auth-request-admin").as_deref(),
        Some("false")
    );
    // No email is stored, so none is invented; no token is ever sent.
    assert_eq!(header(&response, "x-auth-request-email"), None);
    assert_eq!(header(&response, "x-auth-request-access-token"), None);
    assert_eq!(
        header(&response, "cache-control").as_deref(),
        Some("no-store")
    );
    assert!(response.text().await.unwrap().is_empty());

    // HEAD answers the same.
    let head = ann.head(check_url(&hub)).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(header(&head, "x-auth-request-user").as_deref(), Some("ann"));

    let root = logged_in(&hub, "root", &[]).await;
    let response = root.get(check_url(&hub)).send().await.unwrap();
    assert_eq!(
        header(&response, "x-auth-request-admin").as_deref(),
        Some("true")
    );
    assert_eq!(
        header(&response, "x-auth-request-groups").as_deref(),
        Some("")
    );

    // A stranger: 401 for nginx, empty body, no identity.
    let stranger = client();
    let response = stranger.get(check_url(&hub)).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(header(&response, "x-auth-request-user"), None);
    assert!(response.text().await.unwrap().is_empty());
    let head = stranger.head(check_url(&hub)).send().await.unwrap();
    assert_eq!(head.status(), 401);

    // After logout the check denies at once.
    let out = logout_at(&ann, &hub.hub_url).await;
    assert!(out.status().is_redirection() || out.status().is_success());
    let response = ann.get(check_url(&hub)).send().await.unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn header_names_are_configurable() {
    let hub = start_hub(
        "forward_auth_user_header = \"Remote-User\"\nforward_auth_groups_header = \"Remote-Groups\"\nforward_auth_admin_header = \"\"",
        OPEN,
        &[],
    )
    .await;
    let ann = logged_in(&hub, "ann", &["staff"]).await;
    let response = ann.get(check_url(&hub)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "remote-user").as_deref(), Some("ann"));
    assert_eq!(header(&response, "remote-groups").as_deref(), Some("staff"));
    assert_eq!(header(&response, "x-auth-request-user"), None);
    assert_eq!(header(&response, "x-auth-request-admin"), None);
}

#[tokio::test]
async fn redirect_mode_sends_strangers_to_login_with_the_original_path() {
    let hub = start_hub("", OPEN, &[]).await;
    let stranger = client();
    let response = stranger
        .get(format!("{}?redirect=true", check_url(&hub)))
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "app.example")
        .header("x-forwarded-uri", "/notebooks/a%20b.ipynb?x=1&y=2")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    // Without public_url the hub shares the app's origin: a path login, a path next.
    assert_eq!(
        location(&response),
        format!(
            "/hub/login?next={}",
            urlencode("/notebooks/a%20b.ipynb?x=1&y=2")
        )
    );
    // An off-site-looking original URI is dropped, not passed on (nor replaced by /).
    let response = stranger
        .get(format!("{}?redirect=true", check_url(&hub)))
        .header("x-forwarded-host", "app.example")
        .header("x-forwarded-uri", "//evil.example/x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(location(&response), "/hub/login");

    // Logged-in users pass in redirect mode too.
    let ann = logged_in(&hub, "ann", &[]).await;
    let response = ann
        .get(format!("{}?redirect=true", check_url(&hub)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "x-auth-request-user").as_deref(),
        Some("ann")
    );
}

#[tokio::test]
async fn json_clients_get_401_json_never_a_redirect() {
    let hub = start_hub("", OPEN, &[]).await;
    let stranger = client();
    for query in ["", "?redirect=true"] {
        let response = stranger
            .get(format!("{}{query}", check_url(&hub)))
            .header("accept", "application/json")
            .header("x-forwarded-host", "app.example")
            .header("x-forwarded-uri", "/x")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{query}");
        assert_eq!(header(&response, "location"), None);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["status"], 401);
        assert!(body["message"].as_str().unwrap().contains("login"));
    }
}

#[tokio::test]
async fn next_url_on_other_hosts_only_when_allowed() {
    let hub = start_hub(
        "public_url = \"http://hub.example:8000/\"\nforward_auth_allowed_hosts = [\"app.example\"]",
        OPEN,
        &[],
    )
    .await;
    let stranger = client();
    let ask = |host: &'static str, uri: &'static str| {
        stranger
            .get(format!("{}?redirect=true", check_url(&hub)))
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-host", host)
            .header("x-forwarded-uri", uri)
            .send()
    };
    // An allowed app host: the full original URL goes in next.
    let response = ask("app.example", "/lab?x=1").await.unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(
        location(&response),
        format!(
            "http://hub.example:8000/hub/login?next={}",
            urlencode("https://app.example/lab?x=1")
        )
    );
    // The hub's own host: the path.
    let response = ask("hub.example:8000", "/hub/home").await.unwrap();
    assert_eq!(
        location(&response),
        "http://hub.example:8000/hub/login?next=%2Fhub%2Fhome"
    );
    // Any other host: login without next.
    let response = ask("evil.example", "/steal").await.unwrap();
    assert_eq!(location(&response), "http://hub.example:8000/hub/login");

    // The login page honours next on an allowed host, and refuses others.
    let ann = client();
    let response = login(&ann, &hub, "ann", "pw", Some("https://app.example/lab?x=1")).await;
    assert_eq!(response.status(), 302);
    assert_eq!(location(&response), "https://app.example/lab?x=1");
    let bob = client();
    let response = login(&bob, &hub, "bob", "pw", Some("https://evil.example/")).await;
    assert_eq!(response.status(), 302);
    assert_eq!(location(&response), "/hub/home");
}

const RULES: &str = "forward_auth_rules = [\n  { host = \"app.example\", path_prefix = \"/\", allowed_groups = [\"staff\"] },\n  { host = \"app.example\", path_prefix = \"/public\", allowed_users = [\"guest\"], allowed_groups = [\"staff\"] },\n  { path_prefix = \"/admin-only\", allowed_users = [\"root\"] },\n]";

#[tokio::test]
async fn rules_deny_logged_in_users_outside_them_with_403() {
    let hub = start_hub(RULES, OPEN, &[]).await;
    let ann = logged_in(&hub, "ann", &["staff"]).await;
    let guest = logged_in(&hub, "guest", &[]).await;
    let root = logged_in(&hub, "root", &[]).await;
    let ask = |client: &reqwest::Client, host: &str, uri_header: &str, uri: &str| {
        client
            .get(check_url(&hub))
            .header("x-forwarded-host", host)
            .header(uri_header, uri)
            .send()
    };
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(
        status(
            ask(&ann, "app.example", "x-forwarded-uri", "/x")
                .await
                .unwrap()
        ),
        200
    );
    assert_eq!(
        status(
            ask(&guest, "app.example", "x-forwarded-uri", "/x")
                .await
                .unwrap()
        ),
        403
    );
    assert_eq!(
        status(
            ask(&guest, "APP.example:443", "x-original-uri", "/x")
                .await
                .unwrap()
        ),
        403
    );
    assert_eq!(
        status(
            ask(&guest, "app.example", "x-original-uri", "/public/a")
                .await
                .unwrap()
        ),
        200
    );
    // Dot segments and percent-encoding do not slip past the rule for /.
    assert_eq!(
        status(
            ask(&guest, "app.example", "x-original-uri", "/public/../secret")
                .await
                .unwrap()
        ),
        403
    );
    assert_eq!(
        status(
            ask(&guest, "app.example", "x-original-uri", "/%70ublicity")
                .await
                .unwrap()
        ),
        403
    );
    // Other hosts have no rule except the host-less path rule.
    assert_eq!(
        status(
            ask(&guest, "other.example", "x-original-uri", "/x")
                .await
                .unwrap()
        ),
        200
    );
    assert_eq!(
        status(
            ask(&ann, "other.example", "x-original-uri", "/admin-only/x")
                .await
                .unwrap()
        ),
        403
    );
    assert_eq!(
        status(
            ask(&root, "other.example", "x-original-uri", "/admin-only/x")
                .await
                .unwrap()
        ),
        200
    );

    // 403 comes without identity headers; JSON clients get JSON.
    let response = guest
        .get(check_url(&hub))
        .header("x-forwarded-host", "app.example")
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(header(&response, "x-auth-request-user"), None);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], 403);
}

// ----- the session cache (issue #7 item 5) ---------------------------------------

/// A hub on a clock that only moves when told to.
async fn hub_on_manual_clock(
    hub_extra: &str,
) -> (TestHub, std::sync::Arc<hubauth_server::ManualClock>) {
    let clock = std::sync::Arc::new(hubauth_server::ManualClock::at(1_800_000_000));
    let hub = start_hub_with(HubOptions {
        dir: tempfile::TempDir::new().unwrap(),
        listener: None,
        hub_extra,
        rest: OPEN,
        env: &[],
        clock: Some(clock.clone()),
    })
    .await
    .unwrap();
    (hub, clock)
}

#[tokio::test]
async fn logout_on_this_hub_denies_at_once_despite_the_session_cache() {
    // A long TTL: only the invalidation can make the check deny.
    let (hub, _clock) = hub_on_manual_clock("session_cache_ttl = 3600").await;
    let ann = logged_in(&hub, "ann", &[]).await;
    for _ in 0..3 {
        let response = ann.get(check_url(&hub)).send().await.unwrap();
        assert_eq!(response.status(), 200);
    }
    assert!(
        !hub.hub.state().session_cache.is_empty(),
        "the session is cached"
    );
    let out = logout_at(&ann, &hub.hub_url).await;
    assert_eq!(out.status(), 302);
    let response = ann.get(check_url(&hub)).send().await.unwrap();
    assert_eq!(response.status(), 401);

    // Changes announced through HubState::sessions_changed (the REST API's path) apply at
    // once too.
    let bob = logged_in(&hub, "bob", &[]).await;
    let response = bob.get(check_url(&hub)).send().await.unwrap();
    assert_eq!(
        header(&response, "x-auth-request-admin").as_deref(),
        Some("false")
    );
    hub.store().set_admin("bob", true).await.unwrap();
    hub.hub.state().sessions_changed("bob").await;
    let response = bob.get(check_url(&hub)).send().await.unwrap();
    assert_eq!(
        header(&response, "x-auth-request-admin").as_deref(),
        Some("true")
    );
    hub.store().delete_user("bob").await.unwrap();
    hub.hub.state().sessions_changed("bob").await;
    let response = bob.get(check_url(&hub)).send().await.unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn change_made_in_the_database_is_seen_within_the_session_cache_ttl() {
    let (hub, clock) = hub_on_manual_clock("session_cache_ttl = 5").await;
    let ann = logged_in(&hub, "ann", &["staff"]).await;
    let response = ann.get(check_url(&hub)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "x-auth-request-groups").as_deref(),
        Some("staff")
    );

    // The groups change and ann's sessions end in the database, not through a hub (or
    // through another replica whose notification was lost): this hub was not told, so its
    // cache still answers until the TTL passes...
    let store = hub.store();
    store
        .remove_group_members("staff", &["ann".to_owned()])
        .await
        .unwrap();
    assert_eq!(store.delete_user_sessions("ann").await.unwrap(), 1);
    for _ in 0..2 {
        let response = ann.get(check_url(&hub)).send().await.unwrap();
        assert_eq!(response.status(), 200, "still cached");
        assert_eq!(
            header(&response, "x-auth-request-groups").as_deref(),
            Some("staff")
        );
        clock.advance(2);
    }
    // ...and at 5 seconds it is gone.
    clock.advance(1);
    let response = ann.get(check_url(&hub)).send().await.unwrap();
    assert_eq!(response.status(), 401, "denied once the TTL has passed");
}

#[tokio::test]
async fn session_cache_ttl_zero_reads_the_database_every_time() {
    let (hub, _clock) = hub_on_manual_clock("session_cache_ttl = 0").await;
    let ann = logged_in(&hub, "ann", &[]).await;
    let response = ann.get(check_url(&hub)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(hub.hub.state().session_cache.is_empty());
    hub.store().delete_user_sessions("ann").await.unwrap();
    let response = ann.get(check_url(&hub)).send().await.unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn bad_forward_auth_options_fail_at_start_naming_the_key() {
    for (extra, needle) in [
        (
            "forward_auth_rules = [{ host = \"a\", allowed = [\"x\"] }]",
            "forward_auth_rules",
        ),
        (
            "forward_auth_rules = [{ host = \"a\" }]",
            "allowed_users or allowed_groups",
        ),
        (
            "forward_auth_rules = [{ path_prefix = \"x\", allowed_users = [\"a\"] }]",
            "path_prefix",
        ),
        (
            "forward_auth_user_header = \"bad header\"",
            "forward_auth_user_header",
        ),
        (
            "forward_auth_user_header = \"\"",
            "forward_auth_user_header",
        ),
        (
            "forward_auth_allowed_hosts = [\"https://app.example/\"]",
            "forward_auth_allowed_hosts",
        ),
        ("session_cache_ttl = -1", "session_cache_ttl"),
        ("forward_auth_default = \"block\"", "forward_auth_default"),
        (
            "forward_auth_rules = [{ host = \"app.example:80x\", allowed_users = [\"a\"] }]",
            "rule 1 (counting from 1): host \"app.example:80x\"",
        ),
        (
            "forward_auth_rules = [{ path_prefix = \"/a\", allowed_users = [\"a\"] }, { host = \"a..b\", allowed_users = [\"a\"] }]",
            "rule 2",
        ),
        (
            "forward_auth_allowed_hosts = [\"app.example:!\"]",
            "forward_auth_allowed_hosts",
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

// ----- real nginx ---------------------------------------------------------------------

/// nginx running in the foreground from a temp dir; killed on drop.
pub(crate) struct Nginx {
    child: Child,
    pub(crate) port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Nginx {
    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

/// The nginx binary, or `None` (and the test's verdict) when it is not installed.
pub(crate) fn nginx_binary() -> Option<std::path::PathBuf> {
    let mut candidates: Vec<std::path::PathBuf> = std::env::var_os("PATH")
        .map(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("nginx"))
                .collect()
        })
        .unwrap_or_default();
    candidates.push("/usr/sbin/nginx".into());
    if let Some(found) = candidates.into_iter().find(|path| path.is_file()) {
        return Some(found);
    }
    if std::env::var("HUBAUTH_SKIP_NGINX").as_deref() == Ok("1") {
        eprintln!("nginx is not installed; skipping (HUBAUTH_SKIP_NGINX=1)");
        return None;
    }
    panic!(
        "nginx is not installed: run ./scripts/test.sh (it installs Debian's nginx), or set HUBAUTH_SKIP_NGINX=1 to skip this test"
    );
}

/// The nginx.conf of the user guide's nginx section (docs/guide/04-deployment.md), with
/// the hub and the app on loopback ports and everything else in `dir`. `forwarded_host`
/// is the variable X-Forwarded-Host is set from: `$host` as documented (the host nginx
/// routed the request by), or `$http_host` (the client's Host header as sent) to show
/// the hub's own checks.
fn nginx_conf(
    dir: &std::path::Path,
    port: u16,
    hub: &str,
    app: &str,
    forwarded_host: &str,
) -> String {
    let d = dir.display();
    let fh = forwarded_host;
    format!(
        r#"worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
  access_log {d}/access.log;
  client_body_temp_path {d}/client_body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;

  server {{
    listen 127.0.0.1:{port};

    # The hub's own pages (login, logout, home).
    location /hub/ {{
      proxy_pass http://{hub};
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;
    }}

    # The check nginx makes before each request to the app (not reachable from outside).
    location = /hub/forward-auth {{
      internal;
      proxy_pass http://{hub};
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host {fh};
      proxy_set_header X-Forwarded-Uri $request_uri;
      proxy_set_header X-Original-URI $request_uri;
    }}

    # The protected app.
    location / {{
      auth_request /hub/forward-auth;
      auth_request_set $hubauth_user $upstream_http_x_auth_request_user;
      auth_request_set $hubauth_groups $upstream_http_x_auth_request_groups;
      auth_request_set $hubauth_admin $upstream_http_x_auth_request_admin;
      # Always set (empty = not sent): whatever the client sent under these names is dropped.
      proxy_set_header X-Auth-Request-User $hubauth_user;
      proxy_set_header X-Auth-Request-Groups $hubauth_groups;
      proxy_set_header X-Auth-Request-Admin $hubauth_admin;
      proxy_set_header X-Auth-Request-Email "";
      proxy_set_header X-Auth-Request-Access-Token "";
      # The identity assertion, as the guide's identity assertion section adds it.
      auth_request_set $hubauth_assertion $upstream_http_x_auth_request_assertion;
      proxy_set_header X-Auth-Request-Assertion $hubauth_assertion;
      error_page 401 = @login;
      proxy_pass http://{app};
    }}

    # Not logged in: the hub answers with a redirect to its login page, the original URL
    # (properly encoded) in next.
    location @login {{
      rewrite ^ /hub/forward-auth?redirect=true? break;
      proxy_pass http://{hub};
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host {fh};
      proxy_set_header X-Forwarded-Uri $request_uri;
      proxy_set_header X-Original-URI $request_uri;
    }}
  }}
}}
"#
    )
}

pub(crate) async fn start_nginx(binary: &std::path::Path, hub: &str, app: &str) -> Nginx {
    start_nginx_with(binary, hub, app, "$host").await
}

async fn start_nginx_with(
    binary: &std::path::Path,
    hub: &str,
    app: &str,
    forwarded_host: &str,
) -> Nginx {
    let dir = tempfile::TempDir::new().unwrap();
    let port = free_port();
    std::fs::write(
        dir.path().join("nginx.conf"),
        nginx_conf(dir.path(), port, hub, app, forwarded_host),
    )
    .unwrap();
    let child = Command::new(binary)
        .arg("-p")
        .arg(dir.path())
        .arg("-e")
        .arg(dir.path().join("error.log"))
        .args(["-c", "nginx.conf", "-g", "daemon off;"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start nginx");
    let mut nginx = Nginx { child, port, dir };
    for _ in 0..100 {
        if let Some(status) = nginx.child.try_wait().unwrap() {
            panic!("nginx exited with {status}:\n{}", nginx.error_log());
        }
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return nginx;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nginx did not listen on {port}:\n{}", nginx.error_log());
}

/// A tiny app that answers with the path and the identity headers it received (every
/// value, so a smuggled duplicate would show).
async fn start_echo_app() -> SocketAddr {
    use axum::http::{HeaderMap, Uri};
    async fn echo(uri: Uri, headers: HeaderMap) -> axum::Json<serde_json::Value> {
        let mut seen = serde_json::Map::new();
        for name in headers.keys() {
            if name.as_str().starts_with("x-auth-request-") {
                let values: Vec<String> = headers
                    .get_all(name)
                    .iter()
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                    .collect();
                seen.insert(name.as_str().to_owned(), values.into());
            }
        }
        axum::Json(serde_json::json!({ "uri": uri.to_string(), "headers": seen }))
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(echo);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

#[tokio::test]
async fn nginx_auth_request_protects_an_app() {
    let Some(binary) = nginx_binary() else {
        return;
    };
    let rules = "forward_auth_rules = [{ path_prefix = \"/staff\", allowed_groups = [\"staff\"] }]";
    let hub = start_hub(rules, OPEN, &[]).await;
    let app = start_echo_app().await;
    let hub_addr = hub.origin.trim_start_matches("http://").to_owned();
    let nginx = start_nginx(&binary, &hub_addr, &app.to_string()).await;
    let base = format!("http://127.0.0.1:{}", nginx.port);

    // A stranger is sent to the login page, with the original URL in next...
    let browser = client();
    let original = "/app/notebooks/x.ipynb?a=1&b=2";
    let response = browser
        .get(format!("{base}{original}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302, "{}", nginx.error_log());
    let to_login = location(&response);
    assert_eq!(to_login, format!("/hub/login?next={}", urlencode(original)));
    // ...and after logging in, back to it, with their identity.
    let response = login_at(&browser, &format!("{base}{to_login}"), "ann", "pw").await;
    assert_eq!(response.status(), 302);
    assert_eq!(location(&response), original);
    let response = browser
        .get(format!("{base}{original}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let seen: serde_json::Value = response.json().await.unwrap();
    assert_eq!(seen["uri"], original);
    assert_eq!(
        seen["headers"]["x-auth-request-user"],
        serde_json::json!(["ann"])
    );
    assert_eq!(
        seen["headers"]["x-auth-request-admin"],
        serde_json::json!(["false"])
    );
    // ann has no groups: the header is empty, which nginx does not pass on.
    assert_eq!(seen["headers"].get("x-auth-request-groups"), None);

    // A user outside the /staff route's group is denied; a member passes with groups.
    let response = browser
        .get(format!("{base}/staff/report"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    // Choosing the URI the hub checks is not up to the client.
    let response = browser
        .get(format!("{base}/staff/report"))
        .header("x-forwarded-uri", "/app/")
        .header("x-original-uri", "/app/")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let store = hub.store();
    store.create_group("staff").await.unwrap();
    let staff = client();
    let response = login_at(&staff, &format!("{base}/hub/login"), "sam", "pw").await;
    assert_eq!(response.status(), 302);
    store
        .add_group_members("staff", &["sam".to_owned()])
        .await
        .unwrap();
    let response = staff
        .get(format!("{base}/staff/report"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let seen: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        seen["headers"]["x-auth-request-user"],
        serde_json::json!(["sam"])
    );
    assert_eq!(
        seen["headers"]["x-auth-request-groups"],
        serde_json::json!(["staff"])
    );

    // Spoofed identity headers never reach the app: nginx replaces them with the hub's.
    let response = browser
        .get(format!("{base}/app/"))
        .header("x-auth-request-user", "root")
        .header("x-auth-request-groups", "staff")
        .header("x-auth-request-admin", "true")
        .header("x-auth-request-email", "root@example.org")
        .header("x-auth-request-access-token", "forged")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let seen: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        seen["headers"],
        serde_json::json!({
            "x-auth-request-user": ["ann"],
            "x-auth-request-admin": ["false"],
        }),
        "only the hub's identity reaches the app"
    );
    // A stranger's spoofed header does not get them in either.
    let response = client()
        .get(format!("{base}/app/"))
        .header("x-auth-request-user", "ann")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);

    // A JSON client without a session gets 401, not a redirect.
    let response = client()
        .get(format!("{base}/app/api"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(header(&response, "location"), None);

    // After logout the app is out of reach at once.
    let out = logout_at(&browser, &format!("{base}/hub/")).await;
    assert!(out.status().is_redirection() || out.status().is_success());
    let response = browser.get(format!("{base}/app/")).send().await.unwrap();
    assert_eq!(response.status(), 302);
    drop(nginx);
}

#[tokio::test]
async fn forward_auth_checks_are_counted_in_metrics() {
    let hub = start_hub("", "[DummyAuthenticator]\n", &[]).await;
    let stranger = client();
    let denied = stranger
        .get(format!("{}forward-auth", hub.hub_url))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 401);
    let user = client();
    login(&user, &hub, "ada", "x", None).await;
    let allowed = user
        .get(format!("{}forward-auth", hub.hub_url))
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
    let text = scrape_metrics(&hub).await;
    assert!(
        text.contains("hubauth_forward_auth_checks_total{result=\"allowed\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("hubauth_forward_auth_checks_total{result=\"unauthenticated\"} 1"),
        "{text}"
    );
    hub.stop().await;
}

// ----- odd hosts and paths (issue #13 point 1) ------------------------------------------

/// `/private` is ann's on every host, and all of app.example is ann's; bob is logged in
/// too and may reach neither.
const GUARDED_RULES: &str = "forward_auth_rules = [\n  { path_prefix = \"/private\", allowed_users = [\"ann\"] },\n  { host = \"app.example\", path_prefix = \"/\", allowed_users = [\"ann\"] },\n]";

/// The hub with [`GUARDED_RULES`], the echo app and nginx in front, and the session
/// cookies of ann and bob.
struct Guarded {
    hub: TestHub,
    nginx: Nginx,
    ann: String,
    bob: String,
}

impl Guarded {
    async fn start(forwarded_host: &str) -> Option<Guarded> {
        let binary = nginx_binary()?;
        let hub = start_hub(GUARDED_RULES, OPEN, &[]).await;
        let app = start_echo_app().await;
        let hub_addr = hub.origin.trim_start_matches("http://").to_owned();
        let nginx = start_nginx_with(&binary, &hub_addr, &app.to_string(), forwarded_host).await;
        let ann = session_cookie(&login(&client(), &hub, "ann", "pw", None).await);
        let bob = session_cookie(&login(&client(), &hub, "bob", "pw", None).await);
        Some(Guarded {
            hub,
            nginx,
            ann,
            bob,
        })
    }

    fn addr(&self) -> std::net::SocketAddr {
        ([127, 0, 0, 1], self.nginx.port).into()
    }

    /// `GET target` through nginx with this Host line and session cookie.
    async fn get(&self, target: &str, host: &str, cookie: &str) -> raw_http::RawResponse {
        raw_http::get(
            self.addr(),
            target,
            &[format!("Host: {host}"), format!("Cookie: {cookie}")],
        )
        .await
    }
}

/// Asserts nginx kept bob out (403: denied by a rule, or refused as unreadable) and let
/// ann through to the app, which saw `ann_sees` (when given).
async fn bob_out_ann_in(guarded: &Guarded, target: &str, host: &str, ann_sees: Option<&str>) {
    let response = guarded.get(target, host, &guarded.bob).await;
    assert_eq!(
        response.status,
        403,
        "bob: GET {target} Host: {host}: {response:?}\n{}",
        guarded.nginx.error_log()
    );
    assert!(
        !response.body.contains("x-auth-request-user"),
        "{response:?}"
    );
    if let Some(seen) = ann_sees {
        let response = guarded.get(target, host, &guarded.ann).await;
        assert_eq!(
            response.status, 200,
            "ann: GET {target} Host: {host}: {response:?}"
        );
        assert!(
            response.body.contains(&format!("\"uri\":\"{seen}\"")),
            "{response:?}"
        );
        assert!(
            response.body.contains("\"x-auth-request-user\":[\"ann\"]"),
            "{response:?}"
        );
    }
}

#[tokio::test]
async fn double_and_triple_slash_paths_do_not_escape_a_rule_behind_nginx() {
    let Some(guarded) = Guarded::start("$host").await else {
        return;
    };
    let host = "other.example";
    // The well-formed request: ann in, bob out.
    bob_out_ann_in(&guarded, "/private/x", host, Some("/private/x")).await;
    for target in ["//private/x", "///private/x", "//private//x", "/private"] {
        bob_out_ann_in(&guarded, target, host, Some(target)).await;
    }
    // Outside the rule bob is welcome.
    let response = guarded.get("/public/x", host, &guarded.bob).await;
    assert_eq!(response.status, 200, "{response:?}");
    drop(guarded.hub);
}

#[tokio::test]
async fn dot_segments_and_encoded_slashes_do_not_escape_a_rule_behind_nginx() {
    let Some(guarded) = Guarded::start("$host").await else {
        return;
    };
    let host = "other.example";
    for target in [
        "/./private/x",
        "/public/../private/x",
        "/public/%2e%2e/private/x",
        "/%2Fprivate/x",
        "/%2fprivate%2fx",
        "/public/..%2Fprivate/x",
        "/public/..;/private/x",
        "/private;jsessionid=1/x",
        "/%70rivate/x",
        "/%2570rivate/x",
        "/PRIVATE/x",
    ] {
        bob_out_ann_in(&guarded, target, host, None).await;
    }
    // ann still reaches the app, which gets the path as sent.
    bob_out_ann_in(
        &guarded,
        "/public/..%2Fprivate/x",
        host,
        Some("/public/..%2Fprivate/x"),
    )
    .await;
}

#[tokio::test]
async fn trailing_dot_and_odd_case_hosts_do_not_escape_a_host_rule_behind_nginx() {
    for forwarded_host in ["$host", "$http_host"] {
        let Some(guarded) = Guarded::start(forwarded_host).await else {
            return;
        };
        for host in [
            "app.example",
            "app.example.",
            "APP.Example.",
            "app.example:80",
            "app.example.:8080",
        ] {
            bob_out_ann_in(&guarded, "/notes", host, Some("/notes")).await;
        }
        let response = guarded.get("/notes", "other.example", &guarded.bob).await;
        assert_eq!(response.status, 200, "{forwarded_host}: {response:?}");
    }
}

#[tokio::test]
async fn non_numeric_port_hosts_do_not_escape_a_host_rule_behind_nginx() {
    // nginx routes `app.example:!` as app.example; with X-Forwarded-Host from $host the
    // rule applies, and from $http_host (the raw header) the hub refuses the host.
    for forwarded_host in ["$host", "$http_host"] {
        let Some(guarded) = Guarded::start(forwarded_host).await else {
            return;
        };
        for host in [
            "app.example:!",
            "app.example:80x",
            "app.example:@evil",
            "app.example:99999",
        ] {
            bob_out_ann_in(&guarded, "/notes", host, None).await;
        }
    }
    // Straight to the hub (as a proxy that passes the header on would send it): refused,
    // saying why, whoever asks.
    let hub = start_hub(GUARDED_RULES, OPEN, &[]).await;
    let ann = logged_in(&hub, "ann", &[]).await;
    for host in [
        "app.example:!",
        "app.example:80x",
        "app.example:@evil",
        "app.example:",
    ] {
        let response = ann
            .get(check_url(&hub))
            .header("accept", "application/json")
            .header("x-forwarded-host", host)
            .header("x-forwarded-uri", "/notes")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{host}");
        assert_eq!(header(&response, "x-auth-request-user"), None);
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("cannot be checked"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn absolute_form_request_naming_another_host_does_not_escape_a_host_rule_behind_nginx() {
    // `GET http://app.example/notes` with `Host: other.example`: nginx routes by the
    // request line, and $host (as documented) is what it routed by.
    let Some(guarded) = Guarded::start("$host").await else {
        return;
    };
    bob_out_ann_in(
        &guarded,
        "http://app.example/notes",
        "other.example",
        Some("/notes"),
    )
    .await;
    // An absolute X-Forwarded-Uri naming another host than X-Forwarded-Host is refused.
    let ann = logged_in(&guarded.hub, "ann", &[]).await;
    let response = ann
        .get(check_url(&guarded.hub))
        .header("x-forwarded-host", "other.example")
        .header("x-forwarded-uri", "http://app.example/notes")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let response = ann
        .get(check_url(&guarded.hub))
        .header("x-forwarded-host", "app.example")
        .header("x-forwarded-uri", "http://App.Example./notes")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn missing_or_relative_forwarded_uri_is_refused_not_taken_as_slash() {
    // With a rule for /private only, "/" would be allowed: a missing or relative URI must
    // not become "/".
    let hub = start_hub(
        "forward_auth_rules = [{ path_prefix = \"/private\", allowed_users = [\"ann\"] }]",
        OPEN,
        &[],
    )
    .await;
    let bob = logged_in(&hub, "bob", &[]).await;
    let ask = |uri: Option<&'static str>| {
        let mut request = bob
            .get(check_url(&hub))
            .header("x-forwarded-host", "app.example");
        if let Some(uri) = uri {
            request = request.header("x-forwarded-uri", uri);
        }
        request.send()
    };
    for uri in [
        None,
        Some(""),
        Some("private/x"),
        Some("./private/x"),
        Some("*"),
        Some("app.example/private/x"),
        Some("javascript:alert(1)"),
        Some("/private/x#frag"),
        Some("/a%00/../private/x"),
    ] {
        let response = ask(uri).await.unwrap();
        assert_eq!(response.status(), 403, "{uri:?}");
        assert_eq!(header(&response, "x-auth-request-user"), None, "{uri:?}");
    }
    let response = ask(Some("/public/x")).await.unwrap();
    assert_eq!(response.status(), 200);
    // A client's own X-Original-URI next to the proxy's X-Forwarded-Uri is refused, in
    // either order of trust.
    let response = bob
        .get(check_url(&hub))
        .header("x-forwarded-uri", "/private/x")
        .header("x-original-uri", "/public/x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    // Several different X-Forwarded-Host values are refused.
    let response = bob
        .get(check_url(&hub))
        .header("x-forwarded-host", "app.example, other.example")
        .header("x-forwarded-uri", "/public/x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn forward_auth_default_deny_keeps_out_requests_no_rule_matches() {
    let hub = start_hub(
        "forward_auth_default = \"deny\"\nforward_auth_rules = [{ host = \"app.example\", path_prefix = \"/public\", allowed_groups = [\"staff\"] }]",
        OPEN,
        &[],
    )
    .await;
    let sam = logged_in(&hub, "sam", &["staff"]).await;
    let ask = |host: &'static str, uri: &'static str| {
        sam.get(check_url(&hub))
            .header("x-forwarded-host", host)
            .header("x-forwarded-uri", uri)
            .send()
    };
    assert_eq!(ask("app.example", "/public/x").await.unwrap().status(), 200);
    assert_eq!(ask("app.example", "/other").await.unwrap().status(), 403);
    assert_eq!(
        ask("other.example", "/public/x").await.unwrap().status(),
        403
    );
    assert_eq!(
        ask("app.example", "/public/..%2Fother")
            .await
            .unwrap()
            .status(),
        403
    );
    // Without the target the hub cannot tell: refused.
    let response = sam.get(check_url(&hub)).send().await.unwrap();
    assert_eq!(response.status(), 403);
}
