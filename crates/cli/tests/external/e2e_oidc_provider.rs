//! End to end against a real OpenID provider that nobody here wrote: panva's `oidc-provider`
//! (npm, v9) on loopback, configured by `e2e/oidc-provider/server.mjs`. A cookie-keeping
//! client that follows redirects one at a time, like a browser, goes from the hub's login
//! page through the provider's own login and consent pages back to the hub; then identity,
//! groups, admin, auth_state, refresh with the provider's refresh token, the rule re-check
//! at refresh, and logout (hub and provider) are checked.
//!
//! `./scripts/test.sh` installs the provider (`npm ci` in `e2e/oidc-provider`). Without it
//! these tests fail, unless `HUBAUTH_SKIP_E2E=1` is set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use hubauth_testkit::hub::*;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

const CLIENT_ID: &str = "hubauth-e2e";
const CLIENT_SECRET: &str = "e2e-secret-7f3a9c1d5b";
/// A secret with the characters RFC 6749 section 2.3.1 says must be form-encoded before
/// HTTP Basic (upstream OAuthenticator did not encode them).
const AWKWARD_SECRET: &str = "e2e s3cret:+/%&=?";
/// How long any single step may take before the test gives up.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------
// The provider process

fn provider_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../e2e/oidc-provider")
}

/// Whether the provider is installed; `None` means skip (HUBAUTH_SKIP_E2E=1), a missing
/// installation otherwise fails the test.
fn provider_installed() -> Option<()> {
    let dir = provider_dir();
    let installed = dir
        .join("node_modules/oidc-provider/package.json")
        .is_file();
    let node = std::process::Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if installed && node {
        return Some(());
    }
    let what = if node {
        format!(
            "the npm package oidc-provider is not installed in {}",
            dir.display()
        )
    } else {
        "node (Node.js) is not installed".to_owned()
    };
    if std::env::var("HUBAUTH_SKIP_E2E").as_deref() == Ok("1") {
        eprintln!("note: skipping the oidc-provider end-to-end test: {what} (HUBAUTH_SKIP_E2E=1)");
        return None;
    }
    panic!(
        "{what}. Run ./scripts/test.sh once (it runs `npm ci` in e2e/oidc-provider), or set HUBAUTH_SKIP_E2E=1 to skip this test."
    );
}

/// How the provider's one client is registered, and other provider options.
struct ProviderSetup {
    secret: &'static str,
    auth_method: &'static str,
    /// More `server.mjs` options (`--access-token-ttl=3`); `{HUB}` stands for the hub's
    /// `{base_url}hub/` URL.
    args: &'static [&'static str],
}

const POST_CLIENT: ProviderSetup = ProviderSetup {
    secret: CLIENT_SECRET,
    auth_method: "client_secret_post",
    args: &[],
};

/// The running `node server.mjs`. Dropping it kills the process (`kill_on_drop`), and the
/// provider also exits when its stdin closes, so it never outlives the test.
struct OidcProvider {
    issuer: String,
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl OidcProvider {
    /// Starts the provider on `port`; `None` when something else took the port first.
    async fn spawn(port: u16, hub_url: &str, client: &ProviderSetup) -> Option<Self> {
        let mut child = Command::new("node")
            .arg(provider_dir().join("server.mjs"))
            .arg(format!("--port={port}"))
            .arg(format!("--client-id={CLIENT_ID}"))
            .arg(format!("--client-secret={}", client.secret))
            .arg(format!("--token-auth-method={}", client.auth_method))
            .arg(format!("--redirect-uris={hub_url}oauth_callback"))
            .arg(format!("--post-logout-redirect-uris={hub_url}login"))
            .args(client.args.iter().map(|arg| arg.replace("{HUB}", hub_url)))
            .current_dir(provider_dir())
            .env_remove("OP_VERBOSE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start node");
        // The provider's warnings and errors go to the test's output (shown on failure).
        let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        let (port_taken_tx, mut port_taken) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            while let Ok(Some(line)) = stderr.next_line().await {
                if line.contains("cannot listen") {
                    let _ = port_taken_tx.send(true);
                }
                eprintln!("[oidc-provider] {line}");
            }
        });
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = tokio::time::timeout(STEP_TIMEOUT, stdout.next_line())
            .await
            .expect("oidc-provider did not print READY in time");
        match ready {
            Ok(Some(line)) if line.starts_with("READY ") => {
                let issuer = line.trim_start_matches("READY ").trim().to_owned();
                assert!(issuer.starts_with("http://127.0.0.1:"), "{issuer}");
                if port != 0 {
                    assert_eq!(issuer, format!("http://127.0.0.1:{port}"));
                }
                Some(OidcProvider {
                    issuer,
                    child,
                    stdin,
                    stdout,
                })
            }
            other => {
                let status = child.wait().await;
                // Let the stderr task see the last lines.
                let _ = tokio::time::timeout(Duration::from_secs(2), port_taken.changed()).await;
                if *port_taken.borrow() {
                    return None;
                }
                panic!("oidc-provider did not start: {other:?}, exit {status:?}");
            }
        }
    }

    /// Sends a control command (see server.mjs) and waits for its `OK`.
    async fn command(&mut self, command: Value) {
        let mut line = command.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await.unwrap();
        self.stdin.flush().await.unwrap();
        let answer = tokio::time::timeout(STEP_TIMEOUT, self.stdout.next_line())
            .await
            .expect("oidc-provider answers commands")
            .unwrap()
            .unwrap_or_default();
        assert!(answer.starts_with("OK "), "{command}: {answer}");
    }

    async fn stop(mut self) {
        drop(self.stdin);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
        let _ = self.child.kill().await;
    }
}

// ---------------------------------------------------------------------------------------
// A hub and a provider that trust each other

struct Setup {
    hub: TestHub,
    op: OidcProvider,
}

fn hub_config(issuer: &str, client: &ProviderSetup, extra: &str) -> String {
    let secret = toml::Value::String(client.secret.to_owned());
    let username_claim = if extra.contains("username_claim") {
        ""
    } else {
        "username_claim = \"preferred_username\"\n"
    };
    format!(
        "[GenericOAuthenticator]
oidc_issuer = \"{issuer}\"
client_id = \"{CLIENT_ID}\"
client_secret = {secret}
login_service = \"oidc-provider\"
scope = [\"openid\", \"profile\", \"email\", \"groups\"]
{username_claim}manage_groups = true
allowed_groups = [\"staff\"]
admin_groups = [\"hub-admins\"]
enable_auth_state = true
{extra}
"
    )
}

/// Starts the hub (it discovers the provider lazily, at the first login) and then the
/// provider on the port the hub was told, registering the hub's callback URL. `None`
/// when the test is skipped.
async fn setup(client: &ProviderSetup, extra: &str) -> Option<Setup> {
    provider_installed()?;
    // The hub's socket first, so the provider can be told its callback URL; the provider
    // then picks its own free port and says which: nothing can take a port in between.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hub_url = format!("http://{}/hub/", listener.local_addr().unwrap());
    let op = OidcProvider::spawn(0, &hub_url, client)
        .await
        .expect("oidc-provider started");
    let key = hubauth_store::CryptKeeper::generate_key();
    let config = hub_config(&op.issuer, client, extra);
    let hub = start_hub_with(HubOptions {
        dir: tempfile::TempDir::new().unwrap(),
        listener: Some(listener),
        hub_extra: "authenticator_class = \"generic\"\n",
        rest: &config,
        env: &[("JUPYTERHUB_CRYPT_KEY", &key)],
        clock: None,
    })
    .await
    .unwrap();
    Some(Setup { hub, op })
}

impl Setup {
    async fn stop(self) {
        self.op.stop().await;
        self.hub.stop().await;
    }

    async fn auth_state(&self, name: &str) -> Option<Value> {
        hubauth_server::auth_state::load(self.hub.hub.state(), name)
            .await
            .unwrap()
    }
}

// ---------------------------------------------------------------------------------------
// A browser: cookies, one redirect at a time, HTML forms

#[derive(Debug)]
struct Page {
    url: String,
    status: u16,
    location: Option<String>,
    body: String,
}

struct Browser {
    client: reqwest::Client,
    /// Every URL requested, in order.
    trail: Vec<String>,
}

impl Browser {
    fn new() -> Self {
        Browser {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .timeout(STEP_TIMEOUT)
                .build()
                .unwrap(),
            trail: Vec::new(),
        }
    }

    async fn request(&mut self, url: &str, form: Option<&[(String, String)]>) -> Page {
        self.trail.push(url.to_owned());
        let request = match form {
            Some(fields) => self.client.post(url).form(fields),
            None => self.client.get(url),
        };
        let response = request
            .send()
            .await
            .unwrap_or_else(|err| panic!("{url}: {err}"));
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .map(|value| resolve(url, value.to_str().unwrap()));
        let body = response.text().await.unwrap();
        Page {
            url: url.to_owned(),
            status,
            location,
            body,
        }
    }

    /// One request without following redirects.
    async fn get(&mut self, url: &str) -> Page {
        self.request(url, None).await
    }

    /// Requests `url` (POSTing `form` if given) and follows redirects with GET, as a
    /// browser does after 302/303, until a page that is not a redirect.
    async fn go(&mut self, url: &str, form: Option<&[(String, String)]>) -> Page {
        let mut page = self.request(url, form).await;
        for _ in 0..20 {
            match (&page.location, page.status) {
                (Some(next), 301..=303 | 307 | 308) => {
                    let next = next.clone();
                    page = self.get(&next).await;
                }
                _ => return page,
            }
        }
        panic!("too many redirects: {:#?}", self.trail);
    }

    /// Submits the page's first form (the one holding `marker_input`) with `fill` values.
    async fn submit(&mut self, page: &Page, marker_input: &str, fill: &[(&str, &str)]) -> Page {
        let form = Form::find(&page.body, marker_input).unwrap_or_else(|| {
            panic!(
                "no form with an input {marker_input:?} on {} (HTTP {}):\n{}",
                page.url, page.status, page.body
            )
        });
        assert_eq!(form.method, "post", "{form:?}");
        let mut fields = form.fields.clone();
        for (name, value) in fill {
            match fields.iter_mut().find(|(field, _)| field == name) {
                Some(field) => field.1 = (*value).to_owned(),
                None => fields.push(((*name).to_owned(), (*value).to_owned())),
            }
        }
        let action = resolve(&page.url, &form.action);
        self.go(&action, Some(&fields)).await
    }
}

fn resolve(base: &str, reference: &str) -> String {
    url::Url::parse(base)
        .unwrap()
        .join(reference)
        .unwrap()
        .to_string()
}

/// An HTML form: its action, method and the named inputs with their values.
#[derive(Debug, Clone)]
struct Form {
    action: String,
    method: String,
    fields: Vec<(String, String)>,
}

impl Form {
    /// The first form that has an input named `marker`.
    fn find(html: &str, marker: &str) -> Option<Form> {
        let mut rest = html;
        while let Some(start) = rest.find("<form") {
            let after = &rest[start..];
            let end = after.find("</form>").unwrap_or(after.len());
            let inner = &after[..end];
            let open_end = inner.find('>')?;
            let attrs = attributes(&inner[5..open_end]);
            let mut fields = Vec::new();
            let mut inputs = &inner[open_end..];
            while let Some(at) = inputs.find("<input") {
                let tag_end = inputs[at..].find('>').map_or(inputs.len(), |e| at + e);
                let input = attributes(&inputs[at + 6..tag_end]);
                if let Some(name) = attr(&input, "name") {
                    let kind = attr(&input, "type").unwrap_or_default();
                    if kind != "submit" && kind != "button" {
                        fields.push((name, attr(&input, "value").unwrap_or_default()));
                    }
                }
                inputs = &inputs[tag_end..];
            }
            if fields.iter().any(|(name, _)| name == marker) {
                return Some(Form {
                    action: attr(&attrs, "action").unwrap_or_default(),
                    method: attr(&attrs, "method")
                        .unwrap_or_else(|| "get".to_owned())
                        .to_ascii_lowercase(),
                    fields,
                });
            }
            rest = &after[end..];
        }
        None
    }
}

fn attr(attrs: &[(String, String)], name: &str) -> Option<String> {
    attrs
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.clone())
}

/// The attributes of a tag's inside (`name="value" flag other='x'`), entities decoded.
fn attributes(tag: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = tag.trim_end_matches('/').chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == '/') {
            chars.next();
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() || c == '=' || c == '/' {
                break;
            }
            name.push(c);
            chars.next();
        }
        if name.is_empty() {
            return out;
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            match chars.peek().copied() {
                Some(quote @ ('"' | '\'')) => {
                    chars.next();
                    for c in chars.by_ref() {
                        if c == quote {
                            break;
                        }
                        value.push(c);
                    }
                }
                _ => {
                    while let Some(&c) = chars.peek() {
                        if c.is_whitespace() {
                            break;
                        }
                        value.push(c);
                        chars.next();
                    }
                }
            }
        }
        out.push((name.to_ascii_lowercase(), decode_entities(&value)));
    }
}

fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        let Some(end) = after.find(';').filter(|end| *end <= 10) else {
            out.push('&');
            rest = &after[1..];
            continue;
        };
        let entity = &after[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The `href` of the link whose text starts with `text`.
fn link_href(html: &str, text: &str) -> Option<String> {
    let at = html.find(text)?;
    let open = html[..at].rfind("<a")?;
    let close = html[open..].find('>')? + open;
    attr(&attributes(&html[open + 2..close]), "href")
}

fn groups_shown(html: &str) -> Vec<String> {
    let marker = "<span class=\"tag\">";
    let start = html.find("id=\"groups\"").expect("groups on the home page");
    let end = html[start..]
        .find("</dd>")
        .map_or(html.len(), |e| start + e);
    html[start..end]
        .split(marker)
        .skip(1)
        .filter_map(|part| part.split('<').next())
        .map(str::to_owned)
        .collect()
}

fn admin_shown(html: &str) -> bool {
    if html.contains("id=\"admin\">yes<") {
        return true;
    }
    assert!(html.contains("id=\"admin\">no<"), "{html}");
    false
}

// ---------------------------------------------------------------------------------------
// The login, step by step

/// From the hub's login page through the provider's login and consent pages back to the
/// hub; returns the page the hub finally shows.
async fn login_via_provider(
    browser: &mut Browser,
    setup: &Setup,
    login: &str,
    password: &str,
) -> Page {
    let start = format!("{}login", setup.hub.hub_url);
    login_via_provider_from(browser, setup, &start, login, password).await
}

/// The same, starting from any hub URL that leads to the login page.
async fn login_via_provider_from(
    browser: &mut Browser,
    setup: &Setup,
    start: &str,
    login: &str,
    password: &str,
) -> Page {
    let hub = &setup.hub;
    let issuer = &setup.op.issuer;
    let login_page = browser.go(start, None).await;
    assert_eq!(login_page.status, 200, "{login_page:?}");
    assert!(
        login_page.url.starts_with(&format!("{}login", hub.hub_url)),
        "{}",
        login_page.url
    );
    let href = link_href(&login_page.body, "Sign in with oidc-provider")
        .expect("the login page links to the provider");
    let start = resolve(&login_page.url, &href);
    assert!(
        start.starts_with(&format!("{}oauth_login", hub.hub_url)),
        "{start}"
    );

    // hub/oauth_login -> provider /auth -> provider /interaction/<uid>: the login page.
    let provider_login = browser.go(&start, None).await;
    let authorize = browser
        .trail
        .iter()
        .find(|url| url.starts_with(&format!("{issuer}/auth?")))
        .unwrap_or_else(|| panic!("no authorize request: {:#?}", browser.trail))
        .clone();
    let params: Vec<(String, String)> = url::Url::parse(&authorize)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let param = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    assert_eq!(param("client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(param("response_type").as_deref(), Some("code"));
    assert_eq!(param("code_challenge_method").as_deref(), Some("S256"));
    assert!(param("code_challenge").is_some() && param("nonce").is_some());
    assert_eq!(
        param("redirect_uri"),
        Some(format!("{}oauth_callback", hub.hub_url))
    );
    assert_eq!(provider_login.status, 200, "{provider_login:#?}");
    assert!(
        provider_login
            .url
            .starts_with(&format!("{issuer}/interaction/")),
        "{}",
        provider_login.url
    );

    // The provider's own sign-in form, then its consent form.
    let consent = browser
        .submit(
            &provider_login,
            "login",
            &[("login", login), ("password", password)],
        )
        .await;
    assert_eq!(consent.status, 200, "{consent:#?}");
    assert!(
        consent.body.contains("name=\"prompt\" value=\"consent\""),
        "expected the consent page: {}",
        consent.body
    );
    let back = browser.submit(&consent, "prompt", &[]).await;

    // The provider sent the browser to the callback with a code and the state.
    let callback = browser
        .trail
        .iter()
        .find(|url| url.starts_with(&format!("{}oauth_callback?", hub.hub_url)))
        .unwrap_or_else(|| panic!("never back at the hub: {:#?}\n{back:#?}", browser.trail));
    let callback_params: Vec<(String, String)> = url::Url::parse(callback)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    for key in ["code", "state", "iss"] {
        assert!(
            callback_params.iter().any(|(k, _)| k == key),
            "{key} in {callback}"
        );
    }
    back
}

async fn home_page(browser: &mut Browser, hub: &TestHub) -> Page {
    browser.get(&format!("{}home", hub.hub_url)).await
}

async fn userinfo_status(issuer: &str, access_token: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(format!("{issuer}/me"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn text<'a>(state: &'a Value, key: &str) -> &'a str {
    state
        .get(key)
        .and_then(Value::as_str)
        .filter(|value| !value.is_empty())
        .unwrap_or_else(|| panic!("auth_state has no {key}: {state:#}"))
}

// ---------------------------------------------------------------------------------------
// The tests

#[tokio::test]
async fn login_through_the_providers_own_pages_sets_identity_groups_admin_and_auth_state() {
    let Some(setup) = setup(&POST_CLIENT, "").await else {
        return;
    };
    let hub = &setup.hub;

    // Alice: in staff (allowed) and hub-admins (admin); her hub name is her
    // preferred_username, not her subject.
    let mut browser = Browser::new();
    let home = login_via_provider(&mut browser, &setup, "alice", "any password").await;
    assert_eq!(home.status, 200, "{home:#?}\n{:#?}", browser.trail);
    assert_eq!(home.url, format!("{}home", hub.hub_url));
    assert_eq!(shown_user(&home.body).as_deref(), Some("aliddell"));
    assert!(admin_shown(&home.body), "{}", home.body);
    let mut groups = groups_shown(&home.body);
    groups.sort();
    assert_eq!(groups, ["hub-admins", "staff"]);

    // auth_state: upstream's keys, encrypted at rest, the user info under oauth_user.
    let state = setup
        .auth_state("aliddell")
        .await
        .expect("auth_state stored");
    let access_token = text(&state, "access_token");
    text(&state, "refresh_token");
    assert_eq!(text(&state, "id_token").split('.').count(), 3);
    let token_response = state.get("token_response").expect("token_response");
    assert_eq!(token_response["access_token"], access_token);
    assert_eq!(token_response["token_type"], "Bearer");
    let user = state.get("oauth_user").expect("oauth_user");
    assert_eq!(user["sub"], "alice");
    assert_eq!(user["preferred_username"], "aliddell");
    assert_eq!(user["email"], "alice@example.org");
    assert_eq!(user["name"], "Alice Liddell");
    assert_eq!(user["groups"], serde_json::json!(["staff", "hub-admins"]));
    let scopes: Vec<&str> = state["scope"]
        .as_array()
        .expect("scope list")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for scope in ["openid", "profile", "email", "groups"] {
        assert!(scopes.contains(&scope), "{scopes:?}");
    }
    let bytes = std::fs::read(hub.dir.path().join("hub.sqlite")).unwrap();
    assert!(
        !String::from_utf8_lossy(&bytes).contains(access_token),
        "the access token is stored encrypted"
    );
    // The provider accepts the stored access token.
    let (status, info) = userinfo_status(&setup.op.issuer, access_token).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["sub"], "alice");

    // Bob: in staff, not an admin. His login page has a `next` (with a query), which
    // survives the trip through the provider.
    let mut browser = Browser::new();
    let wanted = format!("{}home?via=provider", hub.hub_url);
    let next = wanted.trim_start_matches(&hub.origin);
    let start = format!("{}login?next={}", hub.hub_url, urlencode(next));
    let home = login_via_provider_from(&mut browser, &setup, &start, "bob", "whatever").await;
    assert_eq!(home.status, 200, "{home:#?}");
    assert_eq!(home.url, wanted, "{:#?}", browser.trail);
    assert_eq!(shown_user(&home.body).as_deref(), Some("bbuilder"));
    assert!(!admin_shown(&home.body));
    assert_eq!(groups_shown(&home.body), ["staff"]);

    // Mallory: only in visitors, so not allowed: 403 and no session, no user.
    let mut browser = Browser::new();
    let refused = login_via_provider(&mut browser, &setup, "mallory", "pw").await;
    assert_eq!(refused.status, 403, "{refused:#?}");
    assert!(
        refused
            .url
            .starts_with(&format!("{}oauth_callback?", hub.hub_url))
    );
    let after = home_page(&mut browser, hub).await;
    assert_eq!(after.status, 302, "no session for a refused user");
    assert!(
        hub.store().get_user("mallory").await.unwrap().is_none(),
        "a refused user is not created"
    );
    setup.stop().await;
}

/// F27 against a real provider: its `email_verified` decides whether an email may become
/// the username (mallory's address is unverified there).
#[tokio::test]
async fn unverified_email_at_a_real_provider_cannot_become_the_username() {
    let Some(setup) = setup(&POST_CLIENT, "username_claim = \"email\"\n").await else {
        return;
    };
    let mut browser = Browser::new();
    let refused = login_via_provider(&mut browser, &setup, "mallory", "pw").await;
    assert_eq!(refused.status, 403, "{refused:#?}");
    assert!(
        decode_entities(&refused.body)
            .contains("Login with unverified email mallory@example.org is not allowed"),
        "{}",
        refused.body
    );
    assert!(
        hubauth_server::auth_state::load(setup.hub.hub.state(), "mallory@example.org")
            .await
            .is_err(),
        "no user was created"
    );
    let mut browser = Browser::new();
    let home = login_via_provider(&mut browser, &setup, "alice", "pw").await;
    assert_eq!(home.status, 200, "{home:#?}");
    assert_eq!(shown_user(&home.body).as_deref(), Some("alice@example.org"));
    setup.stop().await;
}

#[tokio::test]
async fn refresh_uses_the_providers_refresh_token_when_the_access_token_expired() {
    let provider = ProviderSetup {
        args: &["--access-token-ttl=3"],
        ..POST_CLIENT
    };
    let Some(setup) = setup(&provider, "auth_refresh_age = 1\n").await else {
        return;
    };
    let hub = &setup.hub;
    let issuer = setup.op.issuer.clone();
    let mut browser = Browser::new();
    let home = login_via_provider(&mut browser, &setup, "alice", "pw").await;
    assert_eq!(home.status, 200, "{home:#?}");
    let before = setup.auth_state("aliddell").await.unwrap();
    let old_access = text(&before, "access_token").to_owned();
    let old_id_token = text(&before, "id_token").to_owned();
    let expires_in = before["token_response"]["expires_in"]
        .as_u64()
        .expect("expires_in");
    assert!(expires_in <= 3, "{expires_in}");

    // Wait until the provider no longer accepts the stored access token.
    tokio::time::sleep(Duration::from_millis(expires_in * 1000 + 200)).await;
    let (status, _) = userinfo_status(&issuer, &old_access).await;
    assert_eq!(status, 401, "the expired access token is refused");

    // Older than auth_refresh_age: the next request refreshes. The stored access token is
    // refused, so the hub uses the refresh token and keeps the user logged in.
    let page = home_page(&mut browser, hub).await;
    assert_eq!(page.status, 200, "{page:#?}");
    assert_eq!(shown_user(&page.body).as_deref(), Some("aliddell"));
    assert!(admin_shown(&page.body));

    let after = setup.auth_state("aliddell").await.unwrap();
    let new_access = text(&after, "access_token");
    assert_ne!(new_access, old_access, "a new access token was obtained");
    assert_eq!(after["token_response"]["access_token"], new_access);
    text(&after, "refresh_token");
    assert_ne!(
        text(&after, "id_token"),
        old_id_token,
        "the refresh brought a new ID token"
    );
    assert_eq!(after["oauth_user"]["preferred_username"], "aliddell");
    let (status, info) = userinfo_status(&issuer, new_access).await;
    assert_eq!(
        status, 200,
        "the provider accepts the refreshed token: {info}"
    );
    setup.stop().await;
}

#[tokio::test]
async fn revoking_at_the_provider_forces_a_new_login_at_the_next_refresh() {
    let Some(setup) = setup(&POST_CLIENT, "auth_refresh_age = 1\n").await else {
        return;
    };
    let issuer = setup.op.issuer.clone();
    let mut browser = Browser::new();
    let home = login_via_provider(&mut browser, &setup, "alice", "pw").await;
    assert_eq!(home.status, 200, "{home:#?}");
    let state = setup.auth_state("aliddell").await.unwrap();
    let access = text(&state, "access_token").to_owned();

    // RFC 7009 revocation of the access token; oidc-provider then revokes every token of
    // the grant, the refresh token included.
    let revoked = reqwest::Client::new()
        .post(format!("{issuer}/token/revocation"))
        .form(&[
            ("token", access.as_str()),
            ("token_type_hint", "access_token"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let (status, _) = userinfo_status(&issuer, &access).await;
    assert_eq!(status, 401, "the revoked access token is refused");

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let page = home_page(&mut browser, &setup.hub).await;
    assert_eq!(page.status, 302, "login required: {page:#?}");
    assert!(
        page.location
            .as_deref()
            .is_some_and(|to| to.starts_with(&format!("{}login", setup.hub.hub_url))),
        "{page:#?}"
    );
    setup.stop().await;
}

#[tokio::test]
async fn refresh_rechecks_groups_and_ends_access_removed_at_the_provider() {
    let Some(mut setup) = setup(&POST_CLIENT, "auth_refresh_age = 1\n").await else {
        return;
    };
    let mut browser = Browser::new();
    let home = login_via_provider(&mut browser, &setup, "bob", "pw").await;
    assert_eq!(home.status, 200, "{home:#?}");
    assert_eq!(shown_user(&home.body).as_deref(), Some("bbuilder"));

    // An administrator moves bob out of staff at the provider.
    setup
        .op
        .command(serde_json::json!({"cmd": "set_groups", "login": "bob", "groups": ["visitors"]}))
        .await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let page = home_page(&mut browser, &setup.hub).await;
    assert_eq!(
        page.status, 302,
        "bob lost access at the refresh: {page:#?}"
    );
    assert!(
        page.location
            .as_deref()
            .is_some_and(|to| to.starts_with(&format!("{}login", setup.hub.hub_url))),
        "{page:#?}"
    );
    assert!(
        setup.auth_state("bbuilder").await.is_none(),
        "his stored tokens are gone"
    );
    setup.stop().await;
}

#[tokio::test]
async fn logout_ends_the_hub_session_and_with_oidc_logout_the_providers_session() {
    let Some(setup) = setup(&POST_CLIENT, "oidc_logout = true\n").await else {
        return;
    };
    let hub = &setup.hub;
    let issuer = setup.op.issuer.clone();
    let mut browser = Browser::new();
    let home = login_via_provider(&mut browser, &setup, "alice", "pw").await;
    assert_eq!(home.status, 200, "{home:#?}");
    let id_token = text(&setup.auth_state("aliddell").await.unwrap(), "id_token").to_owned();

    // hub/logout asks first; confirming ends the hub session and sends the browser to the
    // provider's end_session_endpoint with the ID token as hint.
    let confirm = browser.get(&format!("{}logout", hub.hub_url)).await;
    assert_eq!(confirm.status, 200, "{confirm:#?}");
    let form = Form::find(&confirm.body, "_xsrf").unwrap();
    let out = browser
        .request(&resolve(&confirm.url, &form.action), Some(&form.fields))
        .await;
    assert_eq!(out.status, 302, "{out:#?}");
    let end_session = out.location.clone().unwrap();
    assert!(
        end_session.starts_with(&format!("{issuer}/session/end?")),
        "{end_session}"
    );
    let query: Vec<(String, String)> = url::Url::parse(&end_session)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let get = |key: &str| query.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    assert_eq!(get("id_token_hint"), Some(id_token));
    assert_eq!(get("client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(
        get("post_logout_redirect_uri"),
        Some(format!("{}login", hub.hub_url))
    );
    let home = home_page(&mut browser, hub).await;
    assert_eq!(home.status, 302, "the hub session is over");
    assert!(
        home.location
            .as_deref()
            .is_some_and(|to| to.starts_with(&format!("{}login", hub.hub_url)))
    );

    // The provider accepts the request and asks for confirmation on its own page; "Yes,
    // sign me out" brings the browser back to the hub's login page.
    let confirm = browser.go(&end_session, None).await;
    assert_eq!(confirm.status, 200, "{confirm:#?}");
    let back = browser.submit(&confirm, "xsrf", &[("logout", "yes")]).await;
    assert_eq!(back.status, 200, "{back:#?}\n{:#?}", browser.trail);
    assert_eq!(back.url, format!("{}login", hub.hub_url));

    // The provider's session is over too: logging in again shows its sign-in form.
    let login_page = browser.get(&format!("{}login", hub.hub_url)).await;
    let href = link_href(&login_page.body, "Sign in with").unwrap();
    let provider_page = browser.go(&resolve(&login_page.url, &href), None).await;
    assert_eq!(provider_page.status, 200, "{provider_page:#?}");
    assert!(
        Form::find(&provider_page.body, "login").is_some(),
        "the provider asks for a login again: {}",
        provider_page.body
    );
    setup.stop().await;
}

#[tokio::test]
async fn basic_auth_form_encodes_client_credentials_the_provider_decodes() {
    let client = ProviderSetup {
        secret: AWKWARD_SECRET,
        auth_method: "client_secret_basic",
        args: &[],
    };
    let Some(setup) = setup(&client, "basic_auth = true\n").await else {
        return;
    };
    let mut browser = Browser::new();
    let home = login_via_provider(&mut browser, &setup, "bob", "pw").await;
    assert_eq!(home.status, 200, "{home:#?}");
    assert_eq!(shown_user(&home.body).as_deref(), Some("bbuilder"));
    setup.stop().await;
}

/// The client registered with the hub's back-channel logout endpoint.
const BACKCHANNEL_CLIENT: ProviderSetup = ProviderSetup {
    secret: CLIENT_SECRET,
    auth_method: "client_secret_post",
    args: &["--backchannel-logout-uri={HUB}backchannel_logout"],
};

/// The claims of a JWT, unverified (the hub verified it).
fn jwt_claims(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn a_logout_at_the_provider_ends_the_hub_session_by_back_channel() {
    let Some(setup) = setup(&BACKCHANNEL_CLIENT, "").await else {
        return;
    };
    let hub = &setup.hub;
    let issuer = setup.op.issuer.clone();
    let mut alice = Browser::new();
    let home = login_via_provider(&mut alice, &setup, "alice", "pw").await;
    assert_eq!(home.status, 200, "{home:#?}");
    let id_token = text(&setup.auth_state("aliddell").await.unwrap(), "id_token").to_owned();
    assert!(
        jwt_claims(&id_token)["sid"].is_string(),
        "the provider's ID tokens carry sid"
    );
    let mut bob = Browser::new();
    let home = login_via_provider(&mut bob, &setup, "bob", "pw").await;
    assert_eq!(home.status, 200, "{home:#?}");

    // Alice signs out at the provider itself, not at the hub. The provider posts its
    // logout token to the hub before it answers.
    let confirm = alice.go(&format!("{issuer}/session/end"), None).await;
    assert_eq!(confirm.status, 200, "{confirm:#?}");
    let done = alice.submit(&confirm, "xsrf", &[("logout", "yes")]).await;
    assert_eq!(done.status, 200, "{done:#?}");

    let home = home_page(&mut alice, hub).await;
    assert_eq!(home.status, 302, "alice's hub session ended: {home:#?}");
    assert!(
        home.location
            .as_deref()
            .is_some_and(|to| to.starts_with(&format!("{}login", hub.hub_url)))
    );
    let home = home_page(&mut bob, hub).await;
    assert_eq!(home.status, 200, "bob's session is another one");
    setup.stop().await;
}
