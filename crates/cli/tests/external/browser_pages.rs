//! The hub's pages in a real browser: headless Chromium (Debian's `chromium`, driven by
//! `playwright-core` from e2e/browser) renders login, login error, home, 403, 404, logout
//! confirmation, logout and admin pages at desktop and phone widths, saves screenshots,
//! and drives the admin page (add a user, make them admin, manage a group, search, delete). Plus the admin page's rules over
//! plain HTTP: admins only, XSRF-protected forms.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use hubauth_testkit::hub::{client, start_hub};

const PASSWORD: &str = "pw-browser-9";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A hub with a logo, an announcement, an admin, a user and a group.
async fn hub_for_pages(extra_hub: &str) -> (hubauth_testkit::hub::TestHub, tempfile::TempDir) {
    let assets = tempfile::TempDir::new().unwrap();
    let logo = assets.path().join("logo.svg");
    std::fs::write(
        &logo,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="120" height="32" viewBox="0 0 120 32"><rect width="32" height="32" rx="7" fill="#1f5fbf"/><path d="M9 8v16M9 16h10M19 8v16" stroke="#fff" stroke-width="3" fill="none"/><text x="40" y="22" font-family="sans-serif" font-size="16" font-weight="700" fill="#1b2330">Lab Hub</text></svg>"##,
    )
    .unwrap();
    let hub_extra = format!(
        "announcement = \"Maintenance on Friday 18:00-19:00 UTC: <b>sign-ins</b> may fail briefly.\"\nlogo_file = \"{}\"\n{extra_hub}",
        logo.display()
    );
    let hub = start_hub(
        &hub_extra,
        &format!(
            "[Authenticator]\nadmin_users = [\"grace\"]\n[DummyAuthenticator]\npassword = \"{PASSWORD}\"\n"
        ),
        &[],
    )
    .await;
    let store = hub.store();
    for name in ["ada", "grace", "linus", "margaret"] {
        store.ensure_user(name, None, 1).await.unwrap();
    }
    store.create_group("staff").await.unwrap();
    store
        .add_group_members("staff", &["ada".to_owned(), "grace".to_owned()])
        .await
        .unwrap();
    (hub, assets)
}

/// The browser driver's folder, when Chromium and the driver are installed; `None` (the
/// test skips) only when `HUBAUTH_SKIP_BROWSER=1` says so.
fn browser_driver() -> Option<PathBuf> {
    let chromium = Path::new("/usr/bin/chromium");
    let driver = workspace().join("e2e/browser");
    if chromium.exists() && driver.join("node_modules/playwright-core").exists() {
        return Some(driver);
    }
    if std::env::var("HUBAUTH_SKIP_BROWSER").as_deref() == Ok("1") {
        eprintln!("note: HUBAUTH_SKIP_BROWSER=1: the browser test was NOT run");
        return None;
    }
    panic!(
        "the browser test needs /usr/bin/chromium (Debian package chromium) and \
         e2e/browser/node_modules (npm ci); ./scripts/test.sh installs both. Set \
         HUBAUTH_SKIP_BROWSER=1 to skip it knowingly."
    );
}

fn scrape_xsrf(html: &str) -> String {
    let marker = "name=\"_xsrf\" value=\"";
    let start = html.find(marker).unwrap() + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

async fn login(c: &reqwest::Client, hub_url: &str, name: &str) {
    let page = c
        .get(format!("{hub_url}login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let response = c
        .post(format!("{hub_url}login"))
        .form(&[
            ("_xsrf", scrape_xsrf(&page).as_str()),
            ("username", name),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302, "login as {name}");
}

#[tokio::test]
async fn admin_page_is_for_admins_and_its_forms_need_the_token() {
    let (hub, _assets) = hub_for_pages("").await;
    let url = &hub.hub_url;

    // No session: to the login page, coming back here afterwards.
    let anonymous = client();
    let response = anonymous
        .get(format!("{url}admin?q=ma"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap();
    assert!(
        location.ends_with("login?next=%2Fhub%2Fadmin%3Fq%3Dma"),
        "{location}"
    );

    // A user who is not an admin: 403, for the page and for every form.
    let user = client();
    login(&user, url, "ada").await;
    let response = user.get(format!("{url}admin")).send().await.unwrap();
    assert_eq!(response.status(), 403);
    assert!(response.text().await.unwrap().contains("admins only"));
    let response = user
        .post(format!("{url}admin/users/linus/delete"))
        .form(&[("_xsrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert!(hub.store().get_user("linus").await.unwrap().is_some());

    // An admin: the list, searchable, with groups.
    let admin = client();
    login(&admin, url, "grace").await;
    let page = admin
        .get(format!("{url}admin"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in ["ada", "grace", "linus", "margaret"] {
        assert!(
            page.contains(&format!("data-user=\"{name}\"")),
            "{name}: {page}"
        );
    }
    assert!(page.contains("data-label=\"Group\">staff</th>"), "{page}");
    assert!(page.contains("Maintenance on Friday"));
    // The announcement is text, never HTML.
    assert!(page.contains("&lt;b&gt;sign-ins&lt;&#x2f;b&gt;"), "{page}");
    let found = admin
        .get(format!("{url}admin?q=MAR"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(found.contains("data-user=\"margaret\""));
    assert!(!found.contains("data-user=\"linus\""));

    // A form without the right token changes nothing.
    let response = admin
        .post(format!("{url}admin/users/linus/delete"))
        .form(&[("_xsrf", "0000")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert!(hub.store().get_user("linus").await.unwrap().is_some());

    // With it: add (normalized), make admin, delete; each redirects back with a notice.
    let xsrf = scrape_xsrf(&page);
    let response = admin
        .post(format!("{url}admin/users"))
        .form(&[("_xsrf", xsrf.as_str()), ("name", "Newbie"), ("q", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.contains("done=added&user=newbie"), "{location}");
    let shown = admin
        .get(format!("{}{location}", hub.origin))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(shown.contains("Added user newbie."), "{shown}");
    let response = admin
        .post(format!("{url}admin/users/newbie/admin"))
        .form(&[("_xsrf", xsrf.as_str()), ("admin", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert!(hub.store().get_user("newbie").await.unwrap().unwrap().admin);
    // Adding an existing user is the API's 409, shown on the page.
    let response = admin
        .post(format!("{url}admin/users"))
        .form(&[("_xsrf", xsrf.as_str()), ("name", "newbie")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("User newbie already exists")
    );
    // An admin cannot delete themselves or drop their own flag.
    let response = admin
        .post(format!("{url}admin/users/grace/delete"))
        .form(&[("_xsrf", xsrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let response = admin
        .post(format!("{url}admin/users/newbie/delete"))
        .form(&[("_xsrf", xsrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert!(hub.store().get_user("newbie").await.unwrap().is_none());

    // The logo is served with its type.
    let logo = admin.get(format!("{url}logo")).send().await.unwrap();
    assert_eq!(logo.status(), 200);
    assert_eq!(logo.headers()["content-type"], "image/svg+xml");
    hub.stop().await;
}

#[tokio::test]
async fn custom_templates_override_built_in_pages() {
    let templates = tempfile::TempDir::new().unwrap();
    std::fs::write(
        templates.path().join("login.html"),
        "{% extends \"page.html\" %}{% block main %}<p id=\"custom\">Welcome to the lab, {{ announcement }}</p>{% endblock %}",
    )
    .unwrap();
    let (hub, _assets) = hub_for_pages(&format!(
        "template_paths = [\"{}\"]",
        templates.path().display()
    ))
    .await;
    let page = client()
        .get(format!("{}login", hub.hub_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("<p id=\"custom\">Welcome to the lab, Maintenance"),
        "{page}"
    );
    // The built-in page.html still wraps it (logo in the header).
    assert!(page.contains("alt=\"hubauth home\""), "{page}");
    hub.stop().await;

    // A broken template stops the start, naming the file.
    std::fs::write(templates.path().join("home.html"), "{% block main %}").unwrap();
    let dir = tempfile::TempDir::new().unwrap();
    let err = hubauth_testkit::hub::start_hub_in(
        dir,
        &format!("template_paths = [\"{}\"]", templates.path().display()),
        "",
        &[],
    )
    .await
    .expect_err("a broken template refuses the start");
    assert!(err.to_string().contains("home.html"), "{err}");
}

#[tokio::test]
async fn pages_render_in_headless_chromium() {
    let Some(driver) = browser_driver() else {
        return;
    };
    let (hub, _assets) = hub_for_pages("").await;
    let out = workspace().join("target/test-output/screenshots");
    std::fs::create_dir_all(&out).unwrap();
    let out = out.canonicalize().unwrap();
    let profile = tempfile::TempDir::new().unwrap();
    let hub_url = hub.hub_url.clone();
    let out_dir = out.clone();
    let profile_dir = profile.path().to_owned();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(driver.join("pages.mjs"))
            .current_dir(&driver)
            .env("HUB_URL", &hub_url)
            .env("OUT_DIR", &out_dir)
            .env("PROFILE_DIR", &profile_dir)
            .env("USER_NAME", "ada")
            .env("ADMIN_NAME", "grace")
            .env("PASSWORD", PASSWORD)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "browser run failed:\n{stdout}\n{stderr}"
    );
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(report["problems"], serde_json::json!([]), "{stdout}");
    let shots = report["screenshots"].as_array().unwrap();
    for name in [
        "login",
        "login-error",
        "home",
        "error-403",
        "error-404",
        "logout-confirm",
        "logout",
        "home-admin",
        "admin",
        "admin-search",
        "admin-deleted",
    ] {
        for width in ["desktop", "phone"] {
            let file = out.join(format!("{name}-{width}.png"));
            assert!(
                shots
                    .iter()
                    .any(|s| s.as_str() == Some(file.to_str().unwrap())),
                "{name}-{width} missing"
            );
            let bytes = std::fs::read(&file).unwrap();
            assert!(
                bytes.starts_with(b"\x89PNG"),
                "{} is not a PNG",
                file.display()
            );
        }
    }
    // The admin page's actions reached the database.
    assert!(hub.store().get_user("newbie").await.unwrap().is_none());
    eprintln!("screenshots: {}", out.display());
    hub.stop().await;
}

/// A hub with four login methods: two OpenID Connect realms, a form and GitHub's mock.
async fn hub_with_four_methods() -> (
    hubauth_testkit::hub::TestHub,
    Vec<hubauth_devidp::RunningIdp>,
    hubauth_github::mock::MockHandle,
) {
    use hubauth_devidp::{Client, DevIdp, DevUser};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let mut idps = Vec::new();
    for method in ["staff", "partners"] {
        let idp = DevIdp::builder()
            .client(
                Client::confidential(
                    "hub",
                    "hub-secret",
                    format!("{origin}/hub/{method}/oauth_callback"),
                )
                .with_require_pkce(false),
            )
            .user(DevUser::new("ada", "pw").claim("preferred_username", "ada"))
            .auto_approve(Some("ada".into()))
            .start()
            .await
            .unwrap();
        idps.push(idp);
    }
    let (github, table) =
        hubauth_github::mock::start_demo_mock(&format!("{origin}/hub/github/oauth_callback"))
            .await
            .unwrap();
    let generic = |name: &str, label: &str, extra: &str, issuer: &str| {
        format!(
            "[[Hub.logins]]\nname = \"{name}\"\nclass = \"generic-oauth\"\nlabel = \"{label}\"\n{extra}\n[Hub.logins.options]\nclient_id = \"hub\"\nclient_secret = \"hub-secret\"\noidc_issuer = \"{issuer}\"\nusername_claim = \"preferred_username\"\nallow_all = true\n\n"
        )
    };
    let rest = format!(
        "{}{}[[Hub.logins]]\nname = \"local\"\nclass = \"dummy\"\nlabel = \"Local account\"\n[Hub.logins.options]\npassword = \"{PASSWORD}\"\n\n{}",
        generic("staff", "Company SSO", "", idps[0].issuer()),
        generic("partners", "Partner realm", "username_prefix = \"partner-\"", idps[1].issuer()),
        table.replace(
            "[GitHubOAuthenticator]\n",
            "[[Hub.logins]]\nname = \"github\"\nclass = \"github\"\nusername_prefix = \"gh-\"\n[Hub.logins.options]\n",
        ),
    );
    let hub = hubauth_testkit::hub::start_hub_with(hubauth_testkit::hub::HubOptions {
        dir: tempfile::TempDir::new().unwrap(),
        listener: Some(listener),
        hub_extra: "# authenticator_class: see [[Hub.logins]]\n",
        rest: &format!("[Authenticator]\nallow_all = true\n\n{rest}"),
        env: &[],
        clock: None,
    })
    .await
    .unwrap();
    (hub, idps, github)
}

#[tokio::test]
async fn the_login_page_with_four_methods_renders_and_logs_in_in_headless_chromium() {
    let Some(driver) = browser_driver() else {
        return;
    };
    let (hub, _idps, _github) = hub_with_four_methods().await;
    let out = workspace().join("target/test-output/screenshots");
    std::fs::create_dir_all(&out).unwrap();
    let out = out.canonicalize().unwrap();
    let profile = tempfile::TempDir::new().unwrap();
    let hub_url = hub.hub_url.clone();
    let out_dir = out.clone();
    let profile_dir = profile.path().to_owned();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(driver.join("login_methods.mjs"))
            .current_dir(&driver)
            .env("HUB_URL", &hub_url)
            .env("OUT_DIR", &out_dir)
            .env("PROFILE_DIR", &profile_dir)
            .env("METHODS", "Company SSO|Partner realm|Local account|GitHub")
            .env("BUTTON_LABEL", "Company SSO")
            .env("BUTTON_USER", "ada")
            .env("FORM_NAME", "Local account")
            .env("FORM_USER", "dan")
            .env("PASSWORD", PASSWORD)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "browser run failed:\n{stdout}\n{stderr}"
    );
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(report["problems"], serde_json::json!([]), "{stdout}");
    for width in ["desktop", "phone"] {
        let file = out.join(format!("login-methods-{width}.png"));
        assert!(
            std::fs::read(&file).unwrap().starts_with(b"\x89PNG"),
            "{}",
            file.display()
        );
    }
    assert_eq!(
        report["steps"],
        serde_json::json!(["every method shown", "button login", "form login"])
    );
    eprintln!("screenshots: {}", out.display());
}
