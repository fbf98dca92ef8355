//! The demo's protected app: a page that shows what an app behind hubauth receives.
//!
//! `hubauth demo` puts it behind the hub's built-in proxy (`[Hub] upstream`), so opening
//! the app as a stranger leads through the hub's login and back, and the page then lists
//! the identity headers the proxy added (user, groups, admin flag), and the tokens
//! `[Hub] auth_state_headers` hands to apps, shortened so the page does not display them
//! whole.

use hubauth_server::escape_html;
use std::net::SocketAddr;

use anyhow::{Context, Result};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Html;
use tokio::sync::oneshot;

/// The header prefix of everything hubauth adds for the app in the demo.
const IDENTITY_PREFIX: &str = "x-auth-request-";

/// The demo app, serving on loopback until shut down.
#[derive(Debug)]
pub struct RunningApp {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
}

impl RunningApp {
    /// Where the app listens (`http://` + this is `[Hub] upstream`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving.
    pub fn shutdown(self) {
        let _ = self.stop.send(());
    }
}

/// Starts the app on a free loopback port.
pub async fn start() -> Result<RunningApp> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .context("starting the demo app on loopback")?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let app = axum::Router::new().fallback(page);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    Ok(RunningApp { addr, stop })
}

async fn page(method: Method, uri: Uri, headers: HeaderMap) -> Html<String> {
    Html(render(&method, &uri, &headers))
}

/// The page for one request: what the proxy told the app about the visitor.
fn render(method: &Method, uri: &Uri, headers: &HeaderMap) -> String {
    let value = |name: &str| {
        headers
            .get(name)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
    };
    let user = value("x-auth-request-user").unwrap_or_default();
    let groups = value("x-auth-request-groups").unwrap_or_default();
    let admin = value("x-auth-request-admin").unwrap_or_default();
    let group_items: String = groups
        .split(',')
        .map(str::trim)
        .filter(|group| !group.is_empty())
        .map(|group| format!("<li>{}</li>", escape_html(group)))
        .collect();
    let group_list = if group_items.is_empty() {
        "<p class=\"none\">(in no group)</p>".to_owned()
    } else {
        format!("<ul>{group_items}</ul>")
    };
    let mut rows = String::new();
    let mut names: Vec<&str> = headers
        .keys()
        .map(|name| name.as_str())
        .filter(|name| name.starts_with(IDENTITY_PREFIX))
        .collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        for raw in headers.get_all(name) {
            let text = String::from_utf8_lossy(raw.as_bytes());
            let shown = if name.contains("token") {
                shorten_secret(&text)
            } else {
                text.into_owned()
            };
            rows.push_str(&format!(
                "<tr><th>{}</th><td><code>{}</code></td></tr>",
                escape_html(name),
                escape_html(&shown)
            ));
        }
    }
    let tokens_note = if rows.contains("token") {
        "Tokens come from the user's encrypted auth_state, named by <code>[Hub] auth_state_headers</code>; they are shortened here."
    } else {
        "No token is handed to this app: <code>[Hub] auth_state_headers</code> names the auth_state items an app receives."
    };
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Demo app behind hubauth</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; color: #1b1f24; }}
table {{ border-collapse: collapse; width: 100%; }} th, td {{ text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #d0d7de; vertical-align: top; }}
th {{ white-space: nowrap; font-weight: 600; }} td code {{ word-break: break-all; }} .none {{ color: #57606a; }}
</style></head>
<body>
<h1>Hello, <span id="user">{user}</span></h1>
<p>This page is a tiny app behind hubauth's built-in proxy. It has no login of its own: the
hub let this request through because you have a session, and told the app who you are.</p>
<h2>You</h2>
<table>
<tr><th>user</th><td id="user-header">{user}</td></tr>
<tr><th>admin</th><td id="admin">{admin}</td></tr>
<tr><th>groups</th><td id="groups">{group_list}</td></tr>
<tr><th>request</th><td><code>{method} {uri}</code></td></tr>
</table>
<h2>Headers the proxy added</h2>
<table id="headers">{rows}</table>
<p>{tokens_note}</p>
<p><a href="/hub/home">The hub's home page</a> · <a href="/hub/logout">Sign out</a></p>
</body></html>
"#,
        user = escape_html(&user),
        admin = escape_html(&admin),
        method = escape_html(method.as_str()),
        uri = escape_html(&uri.to_string()),
    )
}

/// Enough of a secret to recognise it, never the whole of it.
fn shorten_secret(secret: &str) -> String {
    let length = secret.chars().count();
    if length <= 12 {
        return format!("({length} characters)");
    }
    let start: String = secret.chars().take(6).collect();
    format!("{start}… ({length} characters)")
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn the_page_shows_identity_escaped_and_tokens_shortened() {
        let mut headers = HeaderMap::new();
        headers.insert("x-auth-request-user", HeaderValue::from_static("<ann>"));
        headers.insert(
            "x-auth-request-groups",
            HeaderValue::from_static("staff, admins"),
        );
        headers.insert("x-auth-request-admin", HeaderValue::from_static("false"));
        headers.insert(
            "x-auth-request-access-token",
            HeaderValue::from_static("abcdefghijklmnopqrstuvwxyz"),
        );
        headers.insert("cookie", HeaderValue::from_static("hubauth-session=secret"));
        let html = render(&Method::GET, &"/x?y=1".parse().unwrap(), &headers);
        assert!(html.contains("Hello, <span id=\"user\">&lt;ann&gt;</span>"));
        assert!(html.contains("<li>staff</li><li>admins</li>"));
        assert!(html.contains("abcdef… (26 characters)"));
        assert!(
            !html.contains("abcdefghijklmnop"),
            "a token is never shown whole"
        );
        assert!(
            !html.contains("hubauth-session"),
            "only the hub's headers are listed"
        );
    }
}
