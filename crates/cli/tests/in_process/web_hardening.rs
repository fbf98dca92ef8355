//! The browser-facing defences over real HTTP on loopback (issue 13, points 8 to 11): the
//! hub's cookies among foreign ones, cookie values the client chose, framing and referrer
//! headers on the hub's pages, username rules, and logout CSRF. Each attack is performed
//! as a browser (or an attacker's page) would, and shown refused; the honest request next
//! to it still works.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_testkit::hub::*;
use reqwest::header::{COOKIE, HeaderValue};

const OPEN: &str = "[DummyAuthenticator]\nadmin_users = [\"root\"]\n";

/// A client without a cookie jar (cookies are sent by hand) that does not follow
/// redirects.
fn bare() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The value a response sets for the cookie `name`.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

/// Logs `name` in; returns the `hubauth-session=...` pair.
async fn session_of(hub: &TestHub, name: &str) -> String {
    let response = login(&client(), hub, name, "pw", None).await;
    assert_eq!(response.status(), 302, "login of {name}");
    session_cookie(&response)
}

/// GET `{hub_url}{path}` with these raw `Cookie` header lines.
async fn get_with_cookie_lines(hub: &TestHub, path: &str, lines: &[Vec<u8>]) -> reqwest::Response {
    let mut request = bare().get(format!("{}{path}", hub.hub_url));
    for line in lines {
        request = request.header(COOKIE, HeaderValue::from_bytes(line).unwrap());
    }
    request.send().await.unwrap()
}

// ---------------------------------------------------------------------------
// Point 8: cookies

#[tokio::test]
async fn non_ascii_foreign_cookie_does_not_end_the_session() {
    let hub = start_hub("", OPEN, &[]).await;
    let session = session_of(&hub, "ada").await;
    // Cookies other apps on the site set: UTF-8 text, Latin-1 and stray high bytes.
    let utf8 = b"theme=caf\xc3\xa9".to_vec();
    let latin1 = b"legacy=\xe9t\xe9; blob=\xff\xfe\x80".to_vec();
    let ours = session.as_bytes().to_vec();
    let join = |parts: &[&[u8]]| parts.join(&b"; "[..]);
    for (what, lines) in [
        ("only the session", vec![ours.clone()]),
        (
            "one line, foreign cookies around the session",
            vec![join(&[&utf8, &ours, &latin1])],
        ),
        (
            "one line, the session last",
            vec![join(&[&latin1, &utf8, &ours])],
        ),
        (
            "several Cookie lines (HTTP/2 style)",
            vec![latin1.clone(), utf8.clone(), ours.clone()],
        ),
    ] {
        let response = get_with_cookie_lines(&hub, "home", &lines).await;
        assert_eq!(response.status(), 200, "{what}");
        let page = response.text().await.unwrap();
        assert_eq!(shown_user(&page).as_deref(), Some("ada"), "{what}");
        let check = get_with_cookie_lines(&hub, "forward-auth", &lines).await;
        assert_eq!(check.status(), 200, "{what}");
        assert_eq!(
            header(&check, "x-auth-request-user").as_deref(),
            Some("ada"),
            "{what}"
        );
    }
    // A look-alike name is not the session cookie.
    let fake = format!("x{session}").into_bytes();
    let response = get_with_cookie_lines(&hub, "forward-auth", &[fake]).await;
    assert_eq!(response.status(), 401);
    hub.stop().await;
}

#[tokio::test]
async fn client_chosen_form_token_cookie_is_not_adopted() {
    let hub = start_hub("", OPEN, &[]).await;
    let secret = hub.hub.state().secret.clone();
    let login_url = format!("{}login", hub.hub_url);
    // The attacker plants `_xsrf=<chosen>` in the victim's browser (from a sibling
    // subdomain, say): a hub that adopted it would render the form token HMAC(chosen),
    // which the attacker learns by loading the login page with the same cookie.
    let chosen = "attacker-chosen-xsrf-value-0123456789";
    let known_token = hubauth_server::csrf::form_token(&secret, chosen);
    let page = bare()
        .get(&login_url)
        .header(COOKIE, format!("_xsrf={chosen}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let minted = set_cookie(&page, "_xsrf").expect("the hub mints its own _xsrf cookie");
    assert_ne!(minted, chosen);
    let shown = scrape_xsrf(&page.text().await.unwrap());
    assert_ne!(shown, known_token, "the chosen value was not adopted");
    assert_eq!(shown, hubauth_server::csrf::form_token(&secret, &minted));

    // The cross-site login form with the planted cookie and the token for it: refused,
    // nobody is logged in.
    let response = bare()
        .post(&login_url)
        .header(COOKIE, format!("_xsrf={chosen}"))
        .form(&[
            ("_xsrf", known_token.as_str()),
            ("username", "mallory"),
            ("password", "pw"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(set_cookie(&response, "hubauth-session"), None);
    assert!(hub.store().get_user("mallory").await.unwrap().is_none());

    // The hub's own cookie and token work.
    let response = bare()
        .post(&login_url)
        .header(COOKIE, format!("_xsrf={minted}"))
        .form(&[
            ("_xsrf", shown.as_str()),
            ("username", "ada"),
            ("password", "pw"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert!(set_cookie(&response, "hubauth-session").is_some());
    hub.stop().await;
}

#[tokio::test]
async fn planted_xsrf_cookie_does_not_pass_the_admin_forms() {
    let hub = start_hub("", OPEN, &[]).await;
    hub.store().ensure_user("linus", None, 1).await.unwrap();
    let root = session_of(&hub, "root").await;
    // A minted `_xsrf` cookie and its token are easy to get: any visitor's login page
    // has them. Planted in the admin's browser, they must not make a one-click admin
    // form acceptable: those forms carry a token bound to the admin's session.
    let visitor = bare()
        .get(format!("{}login", hub.hub_url))
        .send()
        .await
        .unwrap();
    let planted = set_cookie(&visitor, "_xsrf").unwrap();
    let token = scrape_xsrf(&visitor.text().await.unwrap());
    let delete = format!("{}admin/users/linus/delete", hub.hub_url);
    let response = bare()
        .post(&delete)
        .header(COOKIE, format!("{root}; _xsrf={planted}"))
        .form(&[("_xsrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert!(hub.store().get_user("linus").await.unwrap().is_some());

    // The admin page's own token works.
    let page = bare()
        .get(format!("{}admin", hub.hub_url))
        .header(COOKIE, &root)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let own = scrape_xsrf(&page.text().await.unwrap());
    let response = bare()
        .post(&delete)
        .header(COOKIE, &root)
        .form(&[("_xsrf", own.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert!(hub.store().get_user("linus").await.unwrap().is_none());
    hub.stop().await;
}

// ---------------------------------------------------------------------------
// Point 9: headers

fn assert_not_frameable(response: &reqwest::Response, what: &str) {
    assert_eq!(
        header(response, "x-frame-options").as_deref(),
        Some("DENY"),
        "{what}"
    );
    let policy = header(response, "content-security-policy").unwrap_or_default();
    assert!(
        policy.contains("frame-ancestors 'none'"),
        "{what}: CSP {policy:?}"
    );
    assert_eq!(
        header(response, "referrer-policy").as_deref(),
        Some("no-referrer"),
        "{what}"
    );
}

#[tokio::test]
async fn hub_pages_cannot_be_framed_and_leak_no_referrer() {
    // auto_login makes logout end on the hub's "signed out" page.
    let hub = start_hub(
        "",
        "[Authenticator]\nauto_login = true\nadmin_users = [\"root\"]\n[DummyAuthenticator]\n",
        &[],
    )
    .await;
    let url = &hub.hub_url;
    let anonymous = client();
    let response = anonymous.get(format!("{url}login")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_not_frameable(&response, "login page");
    let response = anonymous
        .post(format!("{url}login"))
        .form(&[("_xsrf", "x"), ("username", "ada"), ("password", "pw")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_not_frameable(&response, "login page with an error");
    let response = anonymous
        .get(format!("{url}no-such-page"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_not_frameable(&response, "404 page");

    let ada = client();
    let response = login(&ada, &hub, "ada", "pw", None).await;
    assert_eq!(response.status(), 302);
    assert_eq!(
        header(&response, "referrer-policy").as_deref(),
        Some("no-referrer"),
        "the redirect after login"
    );
    let response = ada.get(format!("{url}home")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_not_frameable(&response, "home page");
    let response = ada.get(format!("{url}admin")).send().await.unwrap();
    assert_eq!(response.status(), 403);
    assert_not_frameable(&response, "403 page");
    let response = ada.get(format!("{url}logout")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_not_frameable(&response, "logout confirmation page");
    let response = logout(&ada, &hub).await;
    assert_eq!(response.status(), 200);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("You are signed out")
    );
    let response = ada.get(format!("{url}logout")).send().await.unwrap();
    assert_eq!(response.status(), 200, "the signed-out page");
    assert_not_frameable(&response, "signed-out page");

    let root = client();
    login(&root, &hub, "root", "pw", None).await;
    let response = root.get(format!("{url}admin")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_not_frameable(&response, "admin page");

    // JSON answers are not pages.
    let response = anonymous.get(format!("{url}api")).send().await.unwrap();
    assert_eq!(header(&response, "x-frame-options"), None);
    hub.stop().await;
}

// ---------------------------------------------------------------------------
// Point 10: usernames

#[tokio::test]
async fn dot_dot_username_is_refused() {
    let hub = start_hub("", OPEN, &[]).await;
    for name in ["..", "."] {
        let response = login(&client(), &hub, name, "pw", None).await;
        assert_eq!(response.status(), 403, "{name:?}");
        assert_eq!(set_cookie(&response, "hubauth-session"), None, "{name:?}");
        let page = response.text().await.unwrap();
        assert!(page.contains("Invalid username or password"), "{page}");
        assert!(hub.store().get_user(name).await.unwrap().is_none());
    }
    // An admin cannot create one through the API either.
    let token = {
        let _ = session_of(&hub, "root").await;
        store_token(&hub, "root", &["admin:users"], None).await
    };
    let (status, body) = api_call(
        &hub,
        reqwest::Method::POST,
        "/users",
        &token,
        Some(serde_json::json!({"usernames": [".."]})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Invalid username"),
        "{body}"
    );
    assert!(hub.store().get_user("..").await.unwrap().is_none());
    // Dots inside a name are fine.
    assert_eq!(
        login(&client(), &hub, "a..b", "pw", None).await.status(),
        302
    );
    hub.stop().await;
}

#[tokio::test]
async fn overlong_username_is_refused() {
    let hub = start_hub("", OPEN, &[]).await;
    let overlong = "a".repeat(256);
    let response = login(&client(), &hub, &overlong, "pw", None).await;
    assert_eq!(response.status(), 403);
    assert_eq!(set_cookie(&response, "hubauth-session"), None);
    assert!(hub.store().get_user(&overlong).await.unwrap().is_none());
    let huge = "b".repeat(40_000);
    let response = login(&client(), &hub, &huge, "pw", None).await;
    assert_eq!(response.status(), 403);

    // 255 bytes is the default limit: that name logs in and reaches apps whole in the
    // forward-auth identity header.
    let longest: String = format!("u{}", "0123456789".repeat(26))[..255].to_owned();
    assert_eq!(longest.len(), 255);
    let browser = client();
    assert_eq!(
        login(&browser, &hub, &longest, "pw", None).await.status(),
        302
    );
    let check = browser
        .get(format!("{}forward-auth", hub.hub_url))
        .send()
        .await
        .unwrap();
    assert_eq!(check.status(), 200);
    assert_eq!(
        header(&check, "x-auth-request-user").as_deref(),
        Some(longest.as_str())
    );
    hub.stop().await;

    // The limit is configurable, within what proxies accept in one header.
    let hub = start_hub(
        "",
        "[Authenticator]\nusername_max_length = 8\n[DummyAuthenticator]\n",
        &[],
    )
    .await;
    assert_eq!(
        login(&client(), &hub, "ninechars", "pw", None)
            .await
            .status(),
        403
    );
    assert_eq!(
        login(&client(), &hub, "eightchr", "pw", None)
            .await
            .status(),
        302
    );
    hub.stop().await;
    for refused in ["0", "4097", "-1"] {
        let err = start_hub_in(
            tempfile::TempDir::new().unwrap(),
            "",
            &format!("[Authenticator]\nusername_max_length = {refused}\n[DummyAuthenticator]\n"),
            &[],
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("username_max_length = {refused} was accepted"));
        assert!(
            err.to_string().contains("username_max_length"),
            "{refused}: {err}"
        );
    }
}

// ---------------------------------------------------------------------------
// Point 11: logout CSRF

#[tokio::test]
async fn cross_site_get_logout_does_not_end_the_session() {
    let hub = start_hub("", OPEN, &[]).await;
    let ada = client();
    login(&ada, &hub, "ada", "pw", None).await;
    // `<img src="https://hub/hub/logout">` on another site: the browser sends the
    // session cookie with the GET. It only gets the question.
    let response = ada
        .get(format!("{}logout", hub.hub_url))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(set_cookie(&response, "hubauth-session"), None);
    let page = response.text().await.unwrap();
    assert!(page.contains("id=\"logout-confirm\""), "{page}");
    assert_eq!(home(&ada, &hub).await.0, 200, "still signed in");
    let check = ada
        .get(format!("{}forward-auth", hub.hub_url))
        .send()
        .await
        .unwrap();
    assert_eq!(check.status(), 200);

    // The home page's own "Sign out" button posts the session's token and signs out.
    let (_, page) = home(&ada, &hub).await;
    let form = parse_form(&page);
    assert!(form.action.ends_with("/hub/logout"), "{form:?}");
    let response = ada
        .post(format!("{}{}", hub.origin, form.action))
        .form(&[("_xsrf", scrape_xsrf(&page).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(location(&response), "/hub/login");
    assert_eq!(home(&ada, &hub).await.0, 302, "signed out");

    // Without a session there is nothing to confirm.
    let response = ada
        .get(format!("{}logout", hub.hub_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(location(&response), "/hub/login");
    hub.stop().await;
}

#[tokio::test]
async fn logout_post_without_form_token_is_refused() {
    let hub = start_hub("", OPEN, &[]).await;
    let ada = client();
    login(&ada, &hub, "ada", "pw", None).await;
    // The attacker's own confirmation page gives a token for the attacker's session.
    let mallory = client();
    login(&mallory, &hub, "mallory", "pw", None).await;
    let page = mallory
        .get(format!("{}logout", hub.hub_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let foreign = scrape_xsrf(&page);
    let logout_url = format!("{}logout", hub.hub_url);
    for (what, fields) in [
        ("no token", vec![]),
        ("an empty token", vec![("_xsrf", String::new())]),
        ("another session's token", vec![("_xsrf", foreign.clone())]),
        ("garbage", vec![("_xsrf", "zz".repeat(32))]),
    ] {
        let response = ada
            .post(&logout_url)
            .header("origin", "https://evil.example")
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{what}");
        assert_eq!(set_cookie(&response, "hubauth-session"), None, "{what}");
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("id=\"logout-confirm\""),
            "{what}: the question again"
        );
        assert_eq!(home(&ada, &hub).await.0, 200, "{what}: still signed in");
    }
    assert_eq!(home(&mallory, &hub).await.0, 200);
    // The honest flow: the confirmation page's form.
    let response = logout(&ada, &hub).await;
    assert_eq!(response.status(), 302);
    assert_eq!(home(&ada, &hub).await.0, 302);
    hub.stop().await;
}
