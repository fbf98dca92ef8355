//! `hubauth demo`: the full OAuth login through the development provider's login page,
//! as a person in a browser would do it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use hubauth_testkit::hub::*;

struct Demo(std::process::Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_demo(dir: &std::path::Path) -> (Demo, String) {
    start_demo_with(dir, "oidc")
}

async fn browse_login(
    client: &reqwest::Client,
    login_url: &str,
    user: &str,
    password: &str,
) -> reqwest::Response {
    let origin = login_url.split("/hub/").next().unwrap().to_owned();
    let page = client
        .get(login_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Sign in with hubauth dev IdP"), "{page}");
    let button = regex::Regex::new(r#"href="([^"]*oauth_login[^"]*)""#).unwrap();
    let href = button.captures(&page).unwrap()[1]
        .replace("&#x2f;", "/")
        .replace("&amp;", "&");
    let to_idp = client.get(format!("{origin}{href}")).send().await.unwrap();
    assert_eq!(to_idp.status(), 302);
    let authorize = location(&to_idp);
    let form_page = client.get(&authorize).send().await.unwrap();
    assert_eq!(form_page.status(), 200, "the provider shows its login page");
    let form = parse_form(&form_page.text().await.unwrap());
    let action = url::Url::parse(&authorize)
        .unwrap()
        .join(&form.action)
        .unwrap();
    let back = client
        .post(action)
        .form(&fill_login_form(&form, user, password))
        .send()
        .await
        .unwrap();
    assert!(
        matches!(back.status().as_u16(), 302 | 303),
        "the provider sends the browser back to the hub: {}",
        back.status()
    );
    client.get(location(&back)).send().await.unwrap()
}

#[tokio::test]
async fn demo_shows_the_full_oauth_login() {
    let dir = tempfile::TempDir::new().unwrap();
    let (_demo, login_url) = start_demo(dir.path());
    let origin = login_url.split("/hub/").next().unwrap().to_owned();

    let browser = client();
    let landed = browse_login(&browser, &login_url, "admin", "admin").await;
    assert_eq!(landed.status(), 303);
    let home = browser
        .get(format!("{origin}{}", location(&landed)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(shown_user(&home).as_deref(), Some("admin"));
    assert!(home.contains("id=\"admin\">yes<"));
    assert!(
        home.contains(">admins<") && home.contains(">staff<"),
        "{home}"
    );

    // Logout ends the hub session and the provider's (RP-initiated logout).
    let out = logout_at(&browser, &format!("{origin}/hub/")).await;
    assert_eq!(out.status(), 302);
    assert!(location(&out).contains("/logout?"), "{}", location(&out));

    // mallory is not in the staff group: the 403 page.
    let other = client();
    let refused = browse_login(&other, &login_url, "mallory", "mallory").await;
    assert_eq!(refused.status(), 403);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("Only members of the staff group")
    );

    // A wrong password stays at the provider.
    let third = client();
    let page = third
        .get(&login_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("oauth_login"));
}

fn start_demo_with(dir: &std::path::Path, provider: &str) -> (Demo, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hubauth"))
        .args(["demo", "--provider", provider, "--port", "0", "--data-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let demo = Demo(child);
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines.next().expect("demo printed its URL").unwrap();
        if let Some(rest) = line.trim().strip_prefix("Hub: ") {
            break rest.trim().to_owned();
        }
    };
    (demo, url)
}

/// The app's URL as the demo prints it: the hub's origin, outside `/hub/`.
fn app_url(login_url: &str) -> String {
    format!("{}/", login_url.split("/hub/").next().unwrap())
}

async fn app_page(client: &reqwest::Client, url: &str) -> (u16, String) {
    let response = client.get(url).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn demo_app_takes_a_stranger_through_login_and_back() {
    let dir = tempfile::TempDir::new().unwrap();
    let (_demo, login_url) = start_demo_with(dir.path(), "dummy");
    let app = app_url(&login_url);
    let origin = app.trim_end_matches('/').to_owned();
    let browser = client();
    let stranger = browser.get(&app).send().await.unwrap();
    assert_eq!(
        stranger.status(),
        302,
        "a stranger is sent to the login page"
    );
    let to_login = location(&stranger);
    assert_eq!(to_login, "/hub/login?next=%2F");
    let logged_in = login_at(&browser, &format!("{origin}{to_login}"), "ann", "pw").await;
    assert_eq!(logged_in.status(), 302);
    assert_eq!(location(&logged_in), "/", "back to the app after login");
    let (status, page) = app_page(&browser, &app).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Hello, <span id=\"user\">ann</span>"),
        "{page}"
    );
    assert!(page.contains("<td id=\"admin\">false</td>"), "{page}");
    assert!(page.contains("No token is handed to this app"), "{page}");
    // The admin sees the admin flag the proxy sends.
    let admin = client();
    login_at(
        &admin,
        &format!("{origin}/hub/login?next=%2F"),
        "admin",
        "pw",
    )
    .await;
    let (_, page) = app_page(&admin, &app).await;
    assert!(page.contains("<td id=\"admin\">true</td>"), "{page}");
}

#[tokio::test]
async fn oauth_demo_app_receives_groups_and_a_shortened_access_token() {
    let dir = tempfile::TempDir::new().unwrap();
    let (_demo, login_url) = start_demo(dir.path());
    let app = app_url(&login_url);
    let browser = client();
    let landed = browse_login(&browser, &login_url, "alice", "alice").await;
    assert_eq!(landed.status(), 303);
    let (status, page) = app_page(&browser, &app).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Hello, <span id=\"user\">alice</span>"),
        "{page}"
    );
    assert!(page.contains("<li>staff</li>"), "{page}");
    assert!(page.contains("x-auth-request-access-token"), "{page}");
    assert!(
        page.contains("characters)"),
        "the token is shortened: {page}"
    );
}

#[tokio::test]
async fn provider_demos_start_their_mock_and_the_hub() {
    for (provider, button, authorize) in [
        ("azuread", "Sign in with Azure AD", "/oauth2/v2.0/authorize"),
        ("globus", "Sign in with Globus", "/v2/oauth2/authorize"),
        ("github", "Sign in with GitHub", "/login/oauth/authorize"),
        ("google", "Sign in with Google", "/o/oauth2/v2/auth"),
        ("gitlab", "Sign in with GitLab", "/oauth/authorize"),
        (
            "mediawiki",
            "Sign in with MediaWiki",
            "Special%3AOAuth%2Fauthenticate",
        ),
        ("cilogon", "Sign in with CILogon", "/authorize"),
        (
            "bitbucket",
            "Sign in with Bitbucket",
            "/site/oauth2/authorize",
        ),
        ("openshift", "Sign in with OpenShift", "/oauth/authorize"),
        ("auth0", "Sign in with Auth0", "/authorize"),
    ] {
        let dir = tempfile::TempDir::new().unwrap();
        let (_demo, login_url) = start_demo_with(dir.path(), provider);
        let origin = login_url.split("/hub/").next().unwrap().to_owned();
        let browser = client();
        let page = browser
            .get(&login_url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains(button), "{provider}: {page}");
        let start = browser
            .get(format!("{origin}/hub/oauth_login"))
            .send()
            .await
            .unwrap();
        assert_eq!(start.status(), 302, "{provider}");
        let target = location(&start);
        assert!(target.contains(authorize), "{provider}: {target}");
        let at_mock = browser.get(&target).send().await.unwrap();
        assert!(
            at_mock.status().is_success() || at_mock.status().is_redirection(),
            "{provider}: {}",
            at_mock.status()
        );
    }
}
