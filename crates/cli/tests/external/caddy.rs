//! Real Caddy (Debian's `caddy`) with `forward_auth` in front of a tiny app, configured as
//! the user guide's Caddy section says (docs/guide/04-deployment.md).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hubauth_testkit::hub::*;

const OPEN: &str = "[DummyAuthenticator]\nadmin_users = [\"root\"]\n";

/// A running Caddy, killed on drop.
struct Caddy {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Caddy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Caddy {
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("caddy.log")).unwrap_or_default()
    }
}

/// The caddy binary, or `None` (and the test's verdict) when it is not installed.
fn caddy_binary() -> Option<std::path::PathBuf> {
    let mut candidates: Vec<std::path::PathBuf> = std::env::var_os("PATH")
        .map(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("caddy"))
                .collect()
        })
        .unwrap_or_default();
    candidates.push("/usr/bin/caddy".into());
    if let Some(found) = candidates.into_iter().find(|path| path.is_file()) {
        return Some(found);
    }
    if std::env::var("HUBAUTH_SKIP_CADDY").as_deref() == Ok("1") {
        eprintln!("caddy is not installed; skipping (HUBAUTH_SKIP_CADDY=1)");
        return None;
    }
    panic!(
        "caddy is not installed: run ./scripts/test.sh (it installs Debian's caddy), or set HUBAUTH_SKIP_CADDY=1 to skip this test"
    );
}

/// The guide's Caddyfile with the hub and the app on loopback ports. The site block is the
/// guide's, line for line; only the global options (no admin endpoint, no automatic
/// HTTPS, a log file) and the site address are the test's.
fn caddyfile(port: u16, hub: &str, app: &str) -> String {
    format!(
        r#"{{
  admin off
  auto_https off
}}

http://:{port} {{
  handle /hub/* {{
    reverse_proxy {hub}
  }}
  handle {{
    route {{
      # Whatever a client sent under the identity headers' names never reaches the app.
      request_header -X-Auth-Request-User
      request_header -X-Auth-Request-Groups
      request_header -X-Auth-Request-Admin
      request_header -X-Auth-Request-Email
      request_header -X-Auth-Request-Access-Token
      forward_auth {hub} {{
        uri /hub/forward-auth?redirect=true
        copy_headers X-Auth-Request-User X-Auth-Request-Groups X-Auth-Request-Admin
      }}
      reverse_proxy {app}
    }}
  }}
}}
"#
    )
}

async fn start_caddy(binary: &std::path::Path, hub: &str, app: &str) -> Caddy {
    let dir = tempfile::TempDir::new().unwrap();
    let port = free_port();
    let file = dir.path().join("Caddyfile");
    std::fs::write(&file, caddyfile(port, hub, app)).unwrap();
    let log = std::fs::File::create(dir.path().join("caddy.log")).unwrap();
    let child = Command::new(binary)
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(&file)
        // Caddy keeps state under $HOME / XDG directories: the test's own.
        .env("HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start caddy");
    let mut caddy = Caddy { child, port, dir };
    for _ in 0..200 {
        if let Some(status) = caddy.child.try_wait().unwrap() {
            panic!("caddy exited with {status}:\n{}", caddy.log());
        }
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return caddy;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("caddy did not listen on {port}:\n{}", caddy.log());
}

/// A tiny app that answers with the path and every identity header it received (every
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

async fn seen(client: &reqwest::Client, url: &str) -> (u16, serde_json::Value) {
    let response = client.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    (status, body)
}

#[tokio::test]
async fn caddy_forward_auth_protects_an_app() {
    let Some(binary) = caddy_binary() else {
        return;
    };
    let rules = "forward_auth_rules = [{ path_prefix = \"/staff\", allowed_groups = [\"staff\"] }]";
    let hub = start_hub(rules, OPEN, &[]).await;
    let app = start_echo_app().await;
    let hub_addr = hub.origin.trim_start_matches("http://").to_owned();
    let caddy = start_caddy(&binary, &hub_addr, &app.to_string()).await;
    let base = format!("http://127.0.0.1:{}", caddy.port);

    // A stranger is sent to the login page, with the original URL in next...
    let browser = client();
    let original = "/app/notebooks/x.ipynb?a=1&b=2";
    let response = browser
        .get(format!("{base}{original}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302, "{}", caddy.log());
    let to_login = location(&response);
    assert_eq!(to_login, format!("/hub/login?next={}", urlencode(original)));
    // ...and after logging in through Caddy, back to it, with their identity.
    let response = login_at(&browser, &format!("{base}{to_login}"), "ann", "pw").await;
    assert_eq!(response.status(), 302);
    assert_eq!(location(&response), original);
    let (status, body) = seen(&browser, &format!("{base}{original}")).await;
    assert_eq!(status, 200, "{}", caddy.log());
    assert_eq!(body["uri"], original);
    assert_eq!(
        body["headers"]["x-auth-request-user"],
        serde_json::json!(["ann"])
    );
    assert_eq!(
        body["headers"]["x-auth-request-admin"],
        serde_json::json!(["false"])
    );

    // A group rule denies a user outside it; a member passes with their groups.
    let response = browser
        .get(format!("{base}/staff/report"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    // Choosing the URI the hub checks is not up to the client: Caddy sets it.
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
    let (status, body) = seen(&staff, &format!("{base}/staff/report")).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["headers"]["x-auth-request-user"],
        serde_json::json!(["sam"])
    );
    assert_eq!(
        body["headers"]["x-auth-request-groups"],
        serde_json::json!(["staff"])
    );

    // Spoofed identity headers never reach the app: only the hub's answer does.
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
    let body: serde_json::Value = response.json().await.unwrap();
    let headers = body["headers"].as_object().unwrap();
    assert_eq!(headers["x-auth-request-user"], serde_json::json!(["ann"]));
    assert_eq!(
        headers["x-auth-request-admin"],
        serde_json::json!(["false"])
    );
    for forged in ["x-auth-request-email", "x-auth-request-access-token"] {
        assert!(
            !headers.contains_key(forged),
            "{forged} reached the app: {body}"
        );
    }
    assert!(
        headers
            .get("x-auth-request-groups")
            .is_none_or(|groups| groups == &serde_json::json!([""])),
        "ann is in no group: {body}"
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
    assert!(response.headers().get("location").is_none());

    // After logout the app is out of reach at once.
    let out = logout_at(&browser, &format!("{base}/hub/")).await;
    assert!(out.status().is_redirection() || out.status().is_success());
    let response = browser.get(format!("{base}/app/")).send().await.unwrap();
    assert_eq!(response.status(), 302);
    drop(caddy);
}
