//! Shared helpers: a hub on loopback with a real SQLite file, and a browser-like client.

use std::sync::Arc;

use hubauth_config::{Config, MapEnv};
use hubauth_server::Hub;
use hubauth_store::Store;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A hub serving on 127.0.0.1 with its own data directory.
#[derive(Debug)]
pub struct TestHub {
    /// `http://127.0.0.1:PORT`
    pub origin: String,
    /// `{origin}{base_url}hub/`
    pub hub_url: String,
    /// The data directory (database, secret).
    pub dir: TempDir,
    /// The database URL.
    pub db_url: String,
    /// The running hub's state.
    pub hub: Hub,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestHub {
    /// A second handle on the hub's database.
    pub fn store(&self) -> Arc<dyn Store> {
        self.hub.state().store.clone()
    }

    /// Stops the hub and waits for it.
    pub async fn stop(mut self) -> TempDir {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.hub.state().store.close().await;
        // Moving the directory out keeps it alive for a restart.
        std::mem::replace(&mut self.dir, TempDir::new().unwrap())
    }
}

/// The `[Hub]` lines every test hub gets, pointing into `dir` (the database is
/// `dir/hub.sqlite` unless `extra` has its own `db_url` line, see [`db_line`]).
pub fn hub_table(dir: &std::path::Path, extra: &str) -> String {
    let mut table = format!(
        "[Hub]\nbind_url = \"http://127.0.0.1:0\"\ncookie_secret_file = \"{secret}\"\n{extra}\n",
        secret = dir.join("cookie_secret").display(),
    );
    if !extra
        .lines()
        .any(|line| line.trim_start().starts_with("db_url"))
    {
        table.push_str(&format!(
            "db_url = \"sqlite:///{}\"\n",
            dir.join("hub.sqlite").display()
        ));
    }
    if !extra.contains("authenticator_class") {
        table.push_str("authenticator_class = \"dummy\"\n");
    }
    if !extra.contains("login_rate_limit") {
        table.push_str("login_rate_limit = 0\n");
    }
    table
}

/// A `[Hub]` line for `hub_extra` pointing the hub at `db_url`, or nothing (the default
/// SQLite file in the hub's directory) when `db_url` is empty.
pub fn db_line(db_url: &str) -> String {
    if db_url.is_empty() {
        String::new()
    } else {
        format!("db_url = \"{db_url}\"\n")
    }
}

/// Starts a hub from config text (without a `[Hub]` table: `hub_extra` goes into it).
pub async fn start_hub(hub_extra: &str, rest: &str, env: &[(&str, &str)]) -> TestHub {
    start_hub_in(TempDir::new().unwrap(), hub_extra, rest, env)
        .await
        .unwrap()
}

/// Starts a hub in an existing directory (to restart one).
pub async fn start_hub_in(
    dir: TempDir,
    hub_extra: &str,
    rest: &str,
    env: &[(&str, &str)],
) -> anyhow::Result<TestHub> {
    start_hub_with(HubOptions {
        dir,
        listener: None,
        hub_extra,
        rest,
        env,
        clock: None,
    })
    .await
}

/// Everything a test hub can be started with.
pub struct HubOptions<'a> {
    /// The data directory.
    pub dir: TempDir,
    /// A listener bound in advance (so a provider can be told the callback URL first).
    pub listener: Option<tokio::net::TcpListener>,
    /// Lines for the `[Hub]` table.
    pub hub_extra: &'a str,
    /// The other tables.
    pub rest: &'a str,
    /// Environment variables.
    pub env: &'a [(&'a str, &'a str)],
    /// A clock to use instead of the system clock.
    pub clock: Option<Arc<dyn hubauth_server::Clock>>,
}

impl std::fmt::Debug for HubOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubOptions")
            .field("dir", &self.dir)
            .field("hub_extra", &self.hub_extra)
            .field("rest", &self.rest)
            .finish_non_exhaustive()
    }
}

/// Starts a hub with all options.
pub async fn start_hub_with(options: HubOptions<'_>) -> anyhow::Result<TestHub> {
    let HubOptions {
        dir,
        listener,
        hub_extra,
        rest,
        env,
        clock,
    } = options;
    let text = format!("{}\n{rest}", hub_table(dir.path(), hub_extra));
    let registry = hubauth_cli::registry()?;
    let config =
        Config::parse(&text, "test.toml", &registry).map_err(|e| anyhow::anyhow!("{e}"))?;
    let env = MapEnv::from_iter(
        env.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<Vec<_>>(),
    );
    let built = hubauth_cli::build(&config, &registry, &env)?;
    let db_url = built.hub.db_url.clone();
    let clock = clock.unwrap_or_else(|| Arc::new(hubauth_server::SystemClock));
    let hub = hubauth_cli::start_with_clock(built, &env, clock).await?;
    let listener = match listener {
        Some(listener) => listener,
        None => tokio::net::TcpListener::bind("127.0.0.1:0").await?,
    };
    let addr = listener.local_addr()?;
    let origin = format!("http://{addr}");
    let hub_url = format!("{origin}{}hub/", hub.state().config.base_url);
    let (tx, task) = hubauth_harness::hub::serve_on(&hub, listener);
    Ok(TestHub {
        origin,
        hub_url,
        dir,
        db_url,
        hub,
        shutdown: Some(tx),
        task: Some(task),
    })
}

// The browser and the form token are the provider harness's: one browser for all tests.
pub use hubauth_harness::{client, location, scrape_xsrf};

/// Loads the login page and posts the form; returns the POST response.
pub async fn login(
    client: &reqwest::Client,
    hub: &TestHub,
    username: &str,
    password: &str,
    next: Option<&str>,
) -> reqwest::Response {
    let query = next
        .map(|next| format!("?next={}", urlencode(next)))
        .unwrap_or_default();
    login_at(
        client,
        &format!("{}login{query}", hub.hub_url),
        username,
        password,
    )
    .await
}

/// Loads the login page at `login_url` (the hub's, or one reached through a proxy) and
/// posts the form back to it; returns the POST response.
pub async fn login_at(
    client: &reqwest::Client,
    login_url: &str,
    username: &str,
    password: &str,
) -> reqwest::Response {
    login_with_headers(client, login_url, username, password, &[]).await
}

/// [`login_at`] with extra request headers on both requests (`X-Forwarded-For` from a
/// proxy, say).
pub async fn login_with_headers(
    client: &reqwest::Client,
    login_url: &str,
    username: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let with_headers = |mut request: reqwest::RequestBuilder| {
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request
    };
    let page = with_headers(client.get(login_url)).send().await.unwrap();
    assert_eq!(page.status(), 200, "{login_url}");
    let xsrf = scrape_xsrf(&page.text().await.unwrap());
    with_headers(client.post(login_url))
        .form(&[
            ("_xsrf", xsrf.as_str()),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
}

/// The session cookie's `name=value` from a login response.
pub fn session_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("hubauth-session="))
        .and_then(|v| v.split(';').next())
        .unwrap()
        .to_owned()
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Stores an API token for an existing user with these scopes; returns its value.
pub async fn store_token(
    hub: &TestHub,
    user: &str,
    scopes: &[&str],
    expires: Option<i64>,
) -> String {
    let token = hubauth_server::secrets::random_token();
    hub.store()
        .create_api_token(hubauth_store::NewApiToken {
            hash: hubauth_server::secrets::hash_token(&token),
            prefix: token[..4].to_owned(),
            user: user.to_owned(),
            note: "test".to_owned(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            created: 0,
            expires,
        })
        .await
        .unwrap();
    token
}

/// The REST API URL of `path` (`/users`).
pub fn api_url(hub: &TestHub, path: &str) -> String {
    format!("{}api{path}", hub.hub_url)
}

/// Sends a REST API request with a token; returns status and JSON body (Null when empty).
pub async fn api_call(
    hub: &TestHub,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut request = reqwest::Client::new()
        .request(method, api_url(hub, path))
        .header("Authorization", format!("token {token}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    json_response(request.send().await.unwrap()).await
}

/// A response's status and JSON body (Null when empty; anything else not JSON panics).
pub async fn json_response(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let value = if text.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"))
    };
    (status, value)
}

/// Percent-encodes for a query value.
pub fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The home page's text for the current client.
pub async fn home(client: &reqwest::Client, hub: &TestHub) -> (u16, String) {
    let response = client
        .get(format!("{}home", hub.hub_url))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// The user name shown on a home page.
pub fn shown_user(html: &str) -> Option<String> {
    let marker = "id=\"username\">";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('<')? + start;
    Some(html[start..end].to_owned())
}

/// A parsed HTML form: where it posts and its fields.
#[derive(Debug, Clone)]
pub struct HtmlForm {
    /// The `action` attribute, HTML entities decoded.
    pub action: String,
    /// Every named input as (name, value, type).
    pub inputs: Vec<(String, String, String)>,
}

fn html_attr(tag: &str, name: &str) -> Option<String> {
    let pattern = regex::Regex::new(&format!(r#"(?i)\b{name}\s*=\s*"([^"]*)""#)).unwrap();
    pattern.captures(tag).map(|c| {
        c[1].replace("&amp;", "&")
            .replace("&quot;", "\"")
            .replace("&#x2f;", "/")
            .replace("&#x27;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
    })
}

/// The first form of a page.
pub fn parse_form(html: &str) -> HtmlForm {
    let form_tag = regex::Regex::new(r"(?is)<form\b[^>]*>").unwrap();
    let tag = form_tag.find(html).expect("a form").as_str();
    let action = html_attr(tag, "action").unwrap_or_default();
    let input = regex::Regex::new(r"(?is)<(?:input|button)\b[^>]*>").unwrap();
    let inputs = input
        .find_iter(html)
        .filter_map(|m| {
            let tag = m.as_str();
            let name = html_attr(tag, "name")?;
            let value = html_attr(tag, "value").unwrap_or_default();
            let kind = html_attr(tag, "type").unwrap_or_else(|| "text".into());
            Some((name, value, kind))
        })
        .collect();
    HtmlForm { action, inputs }
}

/// Fills a login form: the text field gets the username, the password field the password,
/// and the first submit button that is not "deny" is pressed.
pub fn fill_login_form(form: &HtmlForm, username: &str, password: &str) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    let mut pressed = false;
    for (name, value, kind) in &form.inputs {
        match kind.as_str() {
            "text" | "email" => fields.push((name.clone(), username.to_owned())),
            "password" => fields.push((name.clone(), password.to_owned())),
            "submit" => {
                if !pressed && !value.eq_ignore_ascii_case("deny") {
                    fields.push((name.clone(), value.clone()));
                    pressed = true;
                }
            }
            _ => fields.push((name.clone(), value.clone())),
        }
    }
    fields
}

/// GET `url`: status and body text.
pub async fn get(client: &reqwest::Client, url: &str) -> (u16, String) {
    let response = client.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// A token for reading the metrics as Prometheus does: of a user `prometheus` (made on
/// first use, with a role holding only `read:metrics`), carrying only that scope.
pub async fn metrics_token(hub: &TestHub) -> String {
    let store = hub.store();
    if store.get_user("prometheus").await.unwrap().is_none() {
        store
            .ensure_user("prometheus", Some(false), 0)
            .await
            .unwrap();
        store
            .create_role_with_users(
                hubauth_store::RoleSpec {
                    name: "prometheus".to_owned(),
                    description: "scrapes the metrics".to_owned(),
                    scopes: vec!["read:metrics".to_owned()],
                    managed_by_auth: false,
                },
                &["prometheus".to_owned()],
            )
            .await
            .unwrap();
    }
    store_token(hub, "prometheus", &["read:metrics"], None).await
}

/// The hub's metrics text, read with a [`metrics_token`] (asserts 200).
pub async fn scrape_metrics(hub: &TestHub) -> String {
    let token = metrics_token(hub).await;
    let response = reqwest::Client::new()
        .get(format!("{}metrics", hub.hub_url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "metrics with a read:metrics token");
    response.text().await.unwrap()
}

/// The value of a sample line (`name{labels} value`) in a Prometheus exposition.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Signs out as a browser does: loads the confirmation page of `{hub_url}logout` and posts
/// its form; returns the POST's answer. Without a session the GET answers at once (there
/// is nothing to confirm) and that answer is returned.
pub async fn logout_at(client: &reqwest::Client, hub_url: &str) -> reqwest::Response {
    logout_with_cookie(client, hub_url, None).await
}

/// [`logout_at`] for this hub.
pub async fn logout(client: &reqwest::Client, hub: &TestHub) -> reqwest::Response {
    logout_at(client, &hub.hub_url).await
}

/// [`logout_at`] sending `cookie` (a `name=value` pair) by hand, for clients without a
/// cookie jar.
pub async fn logout_with_cookie(
    client: &reqwest::Client,
    hub_url: &str,
    cookie: Option<&str>,
) -> reqwest::Response {
    let url = format!("{hub_url}logout");
    let with_cookie = |request: reqwest::RequestBuilder| match cookie {
        Some(cookie) => request.header("cookie", cookie),
        None => request,
    };
    let page = with_cookie(client.get(&url)).send().await.unwrap();
    if page.status() != 200 {
        return page;
    }
    let html = page.text().await.unwrap();
    if !html.contains("id=\"logout-confirm\"") {
        // No session: a page without a question (the signed-out page), sent again as is.
        return with_cookie(client.get(&url)).send().await.unwrap();
    }
    let xsrf = scrape_xsrf(&html);
    with_cookie(client.post(&url))
        .form(&[("_xsrf", xsrf.as_str())])
        .send()
        .await
        .unwrap()
}
