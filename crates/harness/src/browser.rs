//! A browser-like client and the login through a provider's mock.

use serde_json::Value;

use crate::hub::{IdpMock, Pair};

/// A browser: keeps cookies, follows no redirect (the tests follow them, checking each).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// [`client`] that also trusts the certificate `pem` (a mock's, over HTTPS).
pub fn client_trusting(pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The browser for this pair: [`client`], trusting the mock's CA when it has one.
pub fn browser<M: IdpMock>(p: &Pair<M>) -> reqwest::Client {
    match p.mock.ca_pem() {
        Some(pem) => client_trusting(&pem),
        None => client(),
    }
}

/// The Location header (empty when there is none).
pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// The value of `key` in `url`'s query.
pub fn query(url: &url::Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// A page's text with the HTML escapes of `/` and quotes undone (to find a message the
/// hub quoted).
pub fn unescape_html(body: &str) -> String {
    body.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
}

/// The `_xsrf` value of a page's form.
pub fn scrape_xsrf(html: &str) -> String {
    let marker = "name=\"_xsrf\" value=\"";
    let start = html.find(marker).expect("a form token") + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

/// Starts a login at the hub (`{hub_url}oauth_login`): the hub's answer (a redirect to
/// the provider, or an error).
pub async fn start_login<M>(c: &reqwest::Client, p: &Pair<M>) -> reqwest::Response {
    c.get(format!("{}oauth_login", p.hub_url))
        .send()
        .await
        .unwrap()
}

/// The authorize URL the hub sends the browser to (asserts the redirect).
pub async fn authorize_url<M>(c: &reqwest::Client, p: &Pair<M>) -> url::Url {
    authorize_url_at(c, &p.hub_url).await
}

/// [`authorize_url`] of the hub at `hub_url`.
pub async fn authorize_url_at(c: &reqwest::Client, hub_url: &str) -> url::Url {
    let start = c.get(format!("{hub_url}oauth_login")).send().await.unwrap();
    let status = start.status();
    let to = location(&start);
    assert_eq!(status, 302, "{}", start.text().await.unwrap());
    url::Url::parse(&to).unwrap()
}

/// Where the provider sends the browser back after `user` approved: see [`callback`].
pub async fn approved_callback<M: IdpMock>(c: &reqwest::Client, p: &Pair<M>, user: &str) -> String {
    p.mock.approve_as(user);
    callback(c, p).await
}

/// Where the provider sends the browser back (as whoever the mock approves as now): the
/// hub's login start, the mock's authorize endpoint (asserting it redirects), the
/// callback URL (asserting it is the hub's).
pub async fn callback<M>(c: &reqwest::Client, p: &Pair<M>) -> String {
    let authorize = authorize_url(c, p).await;
    let at_idp = c.get(authorize.as_str()).send().await.unwrap();
    assert_eq!(at_idp.status(), 302, "the mock approves");
    let callback = location(&at_idp);
    assert!(callback.contains("/hub/oauth_callback"), "{callback}");
    callback
}

/// Logs `user` in through the mock with a new [`browser`]: the browser, the hub's status
/// for the callback and its body.
pub async fn login_as<M: IdpMock>(p: &Pair<M>, user: &str) -> (reqwest::Client, u16, String) {
    let c = browser(p);
    let callback = approved_callback(&c, p, user).await;
    let answer = c.get(&callback).send().await.unwrap();
    let status = answer.status().as_u16();
    let body = answer.text().await.unwrap();
    (c, status, body)
}

/// The status of the hub's home page for this browser (200 with a session, 302 without).
pub async fn home<M>(c: &reqwest::Client, p: &Pair<M>) -> u16 {
    c.get(format!("{}home", p.hub_url))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Signs out as a browser does: the "Sign out?" page (asserted 200), then its form; the
/// POST's answer.
pub async fn logout<M>(c: &reqwest::Client, p: &Pair<M>) -> reqwest::Response {
    let url = format!("{}logout", p.hub_url);
    let page = c.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200, "the confirmation page");
    let xsrf = scrape_xsrf(&page.text().await.unwrap());
    c.post(&url)
        .form(&[("_xsrf", xsrf.as_str())])
        .send()
        .await
        .unwrap()
}

/// The auth_state the hub stored for `name` (asserts there is one).
pub async fn auth_state<M>(p: &Pair<M>, name: &str) -> Value {
    hubauth_server::auth_state::load(p.hub.state(), name)
        .await
        .unwrap()
        .expect("auth_state stored")
}

/// The user `name` as the hub stored it.
pub async fn stored_user<M>(p: &Pair<M>, name: &str) -> Option<hubauth_store::UserRecord> {
    p.hub.state().store.get_user(name).await.unwrap()
}
