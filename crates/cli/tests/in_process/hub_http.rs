//! The hub over real HTTP on loopback, with a real SQLite file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_testkit::hub::*;

const OPEN: &str = "[DummyAuthenticator]\n";

#[tokio::test]
async fn login_home_logout_and_revoked_cookie() {
    let hub = start_hub("", OPEN, &[]).await;
    let client = client();

    // Logged out: the home page sends you to the login page, with next.
    let (status, _) = home(&client, &hub).await;
    assert_eq!(status, 302);

    let response = login(&client, &hub, "Ada", "anything", None).await;
    assert_eq!(response.status(), 302);
    assert_eq!(location(&response), "/hub/home");
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("hubauth-session="))
        .expect("session cookie set");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    let token = cookie
        .trim_start_matches("hubauth-session=")
        .split(';')
        .next()
        .unwrap()
        .to_owned();

    let (status, page) = home(&client, &hub).await;
    assert_eq!(status, 200);
    assert_eq!(shown_user(&page).as_deref(), Some("ada"));
    assert!(page.contains("id=\"admin\">no<"), "{page}");

    // The login page redirects a logged-in user onwards.
    let again = client
        .get(format!("{}login", hub.hub_url))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 302);

    // The raw session id is not in the database, only its hash.
    let bytes = std::fs::read(hub.dir.path().join("hub.sqlite")).unwrap();
    assert!(!String::from_utf8_lossy(&bytes).contains(&token));

    let out = logout_at(&client, &hub.hub_url).await;
    assert_eq!(out.status(), 302);
    assert_eq!(location(&out), "/hub/login");
    let (status, _) = home(&client, &hub).await;
    assert_eq!(status, 302);

    // Replaying the old cookie after logout is refused.
    let replay = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}home", hub.hub_url))
        .header("cookie", format!("hubauth-session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 302);
    assert!(location(&replay).starts_with("/hub/login"));
    hub.stop().await;
}

#[tokio::test]
async fn wrong_password_is_refused_with_the_login_page() {
    let hub = start_hub(
        "",
        "[DummyAuthenticator]\npassword = \"s3cret-pass\"\n",
        &[],
    )
    .await;
    let client = client();
    let response = login(&client, &hub, "ada", "wrong", None).await;
    assert_eq!(response.status(), 403);
    let page = response.text().await.unwrap();
    assert!(page.contains("Invalid username or password"));
    assert!(page.contains("value=\"ada\""), "username prefilled");
    assert!(hub.store().get_user("ada").await.unwrap().is_none());

    let response = login(&client, &hub, "ada", "s3cret-pass", None).await;
    assert_eq!(response.status(), 302);
    hub.stop().await;
}

#[tokio::test]
async fn blocked_user_gets_403_with_custom_message() {
    let hub = start_hub(
        "",
        "[Authenticator]\nblocked_users = [\"Mallory\"]\ncustom_403_message = \"Ask the hub owner for access.\"\n[DummyAuthenticator]\n",
        &[],
    )
    .await;
    let client = client();
    let response = login(&client, &hub, "mallory", "x", None).await;
    assert_eq!(response.status(), 403);
    let page = response.text().await.unwrap();
    assert!(page.contains("Ask the hub owner for access."), "{page}");
    assert!(hub.store().get_user("mallory").await.unwrap().is_none());
    hub.stop().await;
}

#[tokio::test]
async fn not_allowed_user_gets_403_default_message() {
    let hub = start_hub(
        "",
        "[Authenticator]\nallowed_users = [\"ada\"]\n[DummyAuthenticator]\n",
        &[],
    )
    .await;
    let client = client();
    let response = login(&client, &hub, "bob", "x", None).await;
    assert_eq!(response.status(), 403);
    assert!(response.text().await.unwrap().contains(
        "Sorry, you are not currently authorized to use this hub. Please contact the hub administrator."
    ));
    assert_eq!(login(&client, &hub, "ada", "x", None).await.status(), 302);
    hub.stop().await;
}

#[tokio::test]
async fn username_map_and_pattern() {
    let hub = start_hub(
        "",
        "[Authenticator]\nusername_map = { \"Grace.Hopper\" = \"grace\" }\nusername_pattern = \"[a-z]+\"\n[DummyAuthenticator]\n",
        &[],
    )
    .await;
    let client = client();
    assert_eq!(
        login(&client, &hub, "Grace.Hopper", "x", None)
            .await
            .status(),
        302
    );
    let (_, page) = home(&client, &hub).await;
    assert_eq!(shown_user(&page).as_deref(), Some("grace"));

    let other = hubauth_testkit::hub::client();
    let response = login(&other, &hub, "grace2", "x", None).await;
    assert_eq!(response.status(), 403);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Invalid username or password")
    );
    hub.stop().await;
}

#[tokio::test]
async fn admin_users_are_created_and_admin() {
    let hub = start_hub(
        "",
        "[Authenticator]\nadmin_users = [\"Root\"]\n[DummyAuthenticator]\n",
        &[],
    )
    .await;
    let stored = hub
        .store()
        .get_user("root")
        .await
        .unwrap()
        .expect("created at start-up");
    assert!(stored.admin);
    let client = client();
    assert_eq!(login(&client, &hub, "root", "x", None).await.status(), 302);
    let (_, page) = home(&client, &hub).await;
    assert!(page.contains("id=\"admin\">yes<"));
    hub.stop().await;
}

#[tokio::test]
async fn xsrf_is_required() {
    let hub = start_hub("", OPEN, &[]).await;
    let client = client();
    // No login page visited: no cookie, no token.
    let response = client
        .post(format!("{}login", hub.hub_url))
        .form(&[("username", "ada"), ("password", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    // A token from another browser does not fit this browser's cookie.
    let other = hubauth_testkit::hub::client();
    let page = other
        .get(format!("{}login", hub.hub_url))
        .send()
        .await
        .unwrap();
    let foreign = scrape_xsrf(&page.text().await.unwrap());
    let _ = client
        .get(format!("{}login", hub.hub_url))
        .send()
        .await
        .unwrap();
    let response = client
        .post(format!("{}login", hub.hub_url))
        .form(&[
            ("_xsrf", foreign.as_str()),
            ("username", "ada"),
            ("password", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert!(hub.store().get_user("ada").await.unwrap().is_none());
    hub.stop().await;
}

#[tokio::test]
async fn next_is_honoured_only_on_site() {
    let hub = start_hub("", OPEN, &[]).await;
    let ok = login(&client(), &hub, "ada", "x", Some("/app/page?x=1")).await;
    assert_eq!(location(&ok), "/app/page?x=1");
    for evil in [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
    ] {
        let response = login(&client(), &hub, "ada", "x", Some(evil)).await;
        assert_eq!(response.status(), 302);
        assert_eq!(location(&response), "/hub/home", "{evil}");
    }
    hub.stop().await;
}

#[tokio::test]
async fn base_url_prefixes_everything() {
    let hub = start_hub("base_url = \"/auth/\"", OPEN, &[]).await;
    assert!(hub.hub_url.ends_with("/auth/hub/"));
    let client = client();
    let response = login(&client, &hub, "ada", "x", None).await;
    assert_eq!(location(&response), "/auth/hub/home");
    let cookie = response
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.contains("Path=/auth/"), "{cookie}");
    let (status, page) = home(&client, &hub).await;
    assert_eq!(status, 200);
    assert!(
        page.replace("&#x2f;", "/")
            .contains("action=\"/auth/hub/logout\"")
    );
    let root = client
        .get(format!("{}/auth/", hub.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&root), "/auth/hub/home");
    let outside = client
        .get(format!("{}/hub/login", hub.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(outside.status(), 404);
    hub.stop().await;
}

#[tokio::test]
async fn secure_cookie_behind_https_proxy() {
    let hub = start_hub("", OPEN, &[]).await;
    let client = client();
    let page = client
        .get(format!("{}login", hub.hub_url))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    let xsrf_cookie = page
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(xsrf_cookie.contains("Secure"), "{xsrf_cookie}");
    hub.stop().await;
}

#[tokio::test]
async fn auth_state_is_encrypted_and_keys_rotate() {
    let key_a = hubauth_store::CryptKeeper::generate_key();
    let key_b = hubauth_store::CryptKeeper::generate_key();
    let config = "[Authenticator]\nenable_auth_state = true\npost_auth_hook = '''\nauthentication.auth_state = #{ token: \"tok-12345\", via: authenticator };\nauthentication\n'''\n[DummyAuthenticator]\n";
    let hub = start_hub("", config, &[("JUPYTERHUB_CRYPT_KEY", &key_a)]).await;
    assert_eq!(login(&client(), &hub, "ada", "x", None).await.status(), 302);
    let stored = hub
        .store()
        .get_auth_state("ada")
        .await
        .unwrap()
        .expect("stored");
    assert!(
        !String::from_utf8_lossy(&stored).contains("tok-12345"),
        "encrypted"
    );
    let state = hubauth_server::auth_state::load(hub.hub.state(), "ada")
        .await
        .unwrap();
    assert_eq!(
        state,
        Some(serde_json::json!({"token": "tok-12345", "via": "DummyAuthenticator"}))
    );
    let dir = hub.stop().await;

    // Restart with a new key in front: the old state is read and re-encrypted with it.
    let both = format!("{key_b}; {key_a}");
    let hub = start_hub_in(dir, "", config, &[("JUPYTERHUB_CRYPT_KEY", &both)])
        .await
        .unwrap();
    let state = hubauth_server::auth_state::load(hub.hub.state(), "ada")
        .await
        .unwrap();
    assert_eq!(state.unwrap()["token"], "tok-12345");
    let dir = hub.stop().await;

    // Now the new key alone decrypts it.
    let hub = start_hub_in(dir, "", config, &[("JUPYTERHUB_CRYPT_KEY", &key_b)])
        .await
        .unwrap();
    let state = hubauth_server::auth_state::load(hub.hub.state(), "ada")
        .await
        .unwrap();
    assert_eq!(state.unwrap()["token"], "tok-12345");
    let dir = hub.stop().await;

    // A key that never encrypted it: treated as absent, no crash.
    let key_c = hubauth_store::CryptKeeper::generate_key();
    let hub = start_hub_in(dir, "", config, &[("JUPYTERHUB_CRYPT_KEY", &key_c)])
        .await
        .unwrap();
    let state = hubauth_server::auth_state::load(hub.hub.state(), "ada")
        .await
        .unwrap();
    assert_eq!(state, None);
    hub.stop().await;
}

#[tokio::test]
async fn auth_state_without_key_refuses_to_start() {
    let dir = tempfile::TempDir::new().unwrap();
    let err = start_hub_in(
        dir,
        "",
        "[Authenticator]\nenable_auth_state = true\n[DummyAuthenticator]\n",
        &[],
    )
    .await
    .expect_err("refused");
    assert!(err.to_string().contains("JUPYTERHUB_CRYPT_KEY"), "{err}");
}

#[tokio::test]
async fn disabling_auth_state_clears_it_at_next_login() {
    let key = hubauth_store::CryptKeeper::generate_key();
    let hook =
        "post_auth_hook = '''\nauthentication.auth_state = #{ a: 1 };\nauthentication\n'''\n";
    let hub = start_hub(
        "",
        &format!("[Authenticator]\nenable_auth_state = true\n{hook}[DummyAuthenticator]\n"),
        &[("JUPYTERHUB_CRYPT_KEY", &key)],
    )
    .await;
    login(&client(), &hub, "ada", "x", None).await;
    assert!(hub.store().get_auth_state("ada").await.unwrap().is_some());
    let dir = hub.stop().await;
    let hub = start_hub_in(
        dir,
        "",
        &format!("[Authenticator]\n{hook}[DummyAuthenticator]\n"),
        &[],
    )
    .await
    .unwrap();
    login(&client(), &hub, "ada", "x", None).await;
    assert!(hub.store().get_auth_state("ada").await.unwrap().is_none());
    hub.stop().await;
}

#[tokio::test]
async fn blocked_users_lose_privileges_and_sessions_at_startup() {
    let hub = start_hub(
        "",
        "[Authenticator]\nadmin_users = [\"eve\"]\n[DummyAuthenticator]\n",
        &[],
    )
    .await;
    let client = client();
    login(&client, &hub, "eve", "x", None).await;
    assert_eq!(home(&client, &hub).await.0, 200);
    let dir = hub.stop().await;
    let hub = start_hub_in(
        dir,
        "",
        "[Authenticator]\nblocked_users = [\"eve\"]\n[DummyAuthenticator]\n",
        &[],
    )
    .await
    .unwrap();
    assert_eq!(hub.hub.reconciled().blocked, vec!["eve".to_owned()]);
    let eve = hub.store().get_user("eve").await.unwrap().unwrap();
    assert!(!eve.admin);
    // Her old session no longer works.
    assert_eq!(home(&client, &hub).await.0, 302);
    hub.stop().await;
}

#[tokio::test]
async fn allow_existing_users_admits_stored_users_after_restart() {
    let hub = start_hub(
        "",
        "[Authenticator]\nallowed_users = [\"ada\", \"bob\"]\n[DummyAuthenticator]\n",
        &[],
    )
    .await;
    login(&client(), &hub, "bob", "x", None).await;
    let dir = hub.stop().await;
    // bob is no longer listed, but allow_existing_users (default: true with allowed_users) keeps him.
    let hub = start_hub_in(
        dir,
        "",
        "[Authenticator]\nallowed_users = [\"ada\"]\n[DummyAuthenticator]\n",
        &[],
    )
    .await
    .unwrap();
    assert_eq!(login(&client(), &hub, "bob", "x", None).await.status(), 302);
    let dir = hub.stop().await;
    let hub = start_hub_in(dir, "", "[Authenticator]\nallowed_users = [\"ada\"]\nallow_existing_users = false\n[DummyAuthenticator]\n", &[]).await.unwrap();
    assert_eq!(login(&client(), &hub, "bob", "x", None).await.status(), 403);
    hub.stop().await;
}

#[tokio::test]
async fn shared_password_authenticator() {
    let admin_pw = "a-very-long-admin-password-of-32+chars";
    let hub = start_hub(
        "authenticator_class = \"shared-password\"",
        &format!("[Authenticator]\nadmin_users = [\"root\"]\n[SharedPasswordAuthenticator]\nuser_password = \"workshop-2026\"\nadmin_password = \"{admin_pw}\"\n"),
        &[],
    )
    .await;
    assert_eq!(
        login(&client(), &hub, "ann", "workshop-2026", None)
            .await
            .status(),
        302
    );
    assert_eq!(
        login(&client(), &hub, "ann", "nope", None).await.status(),
        403
    );
    // Admins need the admin password; the shared user password does not open their account.
    assert_eq!(
        login(&client(), &hub, "root", "workshop-2026", None)
            .await
            .status(),
        403
    );
    let c = client();
    assert_eq!(login(&c, &hub, "root", admin_pw, None).await.status(), 302);
    assert!(home(&c, &hub).await.1.contains("id=\"admin\">yes<"));
    hub.stop().await;
}

#[tokio::test]
async fn otp_field_when_requested() {
    let hub = start_hub("", "[Authenticator]\nrequest_otp = true\notp_prompt = \"Code from your app:\"\n[DummyAuthenticator]\n", &[]).await;
    let page = client()
        .get(format!("{}login", hub.hub_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("name=\"otp\""));
    assert!(page.contains("Code from your app:"));
    let plain = start_hub("", OPEN, &[]).await;
    let page = client()
        .get(format!("{}login", plain.hub_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("name=\"otp\""));
    hub.stop().await;
    plain.stop().await;
}

#[tokio::test]
async fn logout_redirect_url() {
    let hub = start_hub("", "[Authenticator]\nlogout_redirect_url = \"https://idp.example/logout\"\n[DummyAuthenticator]\n", &[]).await;
    let c = client();
    login(&c, &hub, "ada", "x", None).await;
    let out = logout_at(&c, &hub.hub_url).await;
    assert_eq!(location(&out), "https://idp.example/logout");
    assert_eq!(home(&c, &hub).await.0, 302);
    hub.stop().await;
}

#[tokio::test]
async fn health_and_api_root() {
    let hub = start_hub("", OPEN, &[]).await;
    let health = client()
        .get(format!("{}health", hub.hub_url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let api: serde_json::Value = client()
        .get(format!("{}api", hub.hub_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(api["version"].is_string());
    let missing = client()
        .get(format!("{}nope", hub.hub_url))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    hub.stop().await;
}

#[tokio::test]
async fn failed_logins_are_rate_limited() {
    let hub = start_hub(
        "login_rate_limit = 3",
        "[DummyAuthenticator]\npassword = \"right-password\"\n",
        &[],
    )
    .await;
    let c = client();
    for _ in 0..3 {
        assert_eq!(login(&c, &hub, "ada", "wrong", None).await.status(), 403);
    }
    assert_eq!(
        login(&c, &hub, "ada", "right-password", None)
            .await
            .status(),
        429
    );
    hub.stop().await;
}

// ----- the login rate limit (issue #13 point 3) -----------------------------------------

/// Logs in through a proxy that names the client in `X-Forwarded-For`.
async fn login_from(
    client: &reqwest::Client,
    hub: &TestHub,
    forwarded_for: &str,
    username: &str,
    password: &str,
) -> reqwest::Response {
    let url = format!("{}login", hub.hub_url);
    let headers = [("x-forwarded-for", forwarded_for)];
    login_with_headers(client, &url, username, password, &headers).await
}

const RIGHT: &str = "[DummyAuthenticator]\npassword = \"right-password\"\n";

#[tokio::test]
async fn concurrent_wrong_passwords_cannot_all_pass_the_rate_limit() {
    let hub = start_hub(
        "login_rate_limit = 5\nlogin_rate_limit_per_username = 0",
        RIGHT,
        &[],
    )
    .await;
    // Forty browsers, each with its login form loaded, post a wrong password at once.
    let mut forms = Vec::new();
    for _ in 0..40 {
        let browser = client();
        let page = browser
            .get(format!("{}login", hub.hub_url))
            .send()
            .await
            .unwrap();
        let xsrf = scrape_xsrf(&page.text().await.unwrap());
        forms.push((browser, xsrf));
    }
    let url = format!("{}login", hub.hub_url);
    let posts = forms.into_iter().map(|(browser, xsrf)| {
        let url = url.clone();
        async move {
            browser
                .post(url)
                .form(&[
                    ("_xsrf", xsrf.as_str()),
                    ("username", "ada"),
                    ("password", "wrong"),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    let statuses = futures::future::join_all(posts).await;
    let checked = statuses.iter().filter(|status| **status == 403).count();
    let limited = statuses.iter().filter(|status| **status == 429).count();
    assert_eq!(checked + limited, 40, "{statuses:?}");
    assert!(
        checked <= 5,
        "{checked} passwords were checked: {statuses:?}"
    );
    hub.stop().await;
}

#[tokio::test]
async fn one_clients_guesses_behind_a_proxy_do_not_lock_out_another() {
    // Requests come from loopback, a trusted proxy by default, naming the real client.
    let hub = start_hub("login_rate_limit = 3", RIGHT, &[]).await;
    for _ in 0..3 {
        let response = login_from(&client(), &hub, "198.51.100.1", "ada", "wrong").await;
        assert_eq!(response.status(), 403);
    }
    let response = login_from(&client(), &hub, "198.51.100.1", "ada", "wrong").await;
    assert_eq!(response.status(), 429, "the guesser is limited");
    let response = login_from(&client(), &hub, "198.51.100.2", "bob", "right-password").await;
    assert_eq!(
        response.status(),
        302,
        "another client behind the proxy logs in"
    );
    // A client of the same IPv6 /64 shares the guesser's window; the next /64 does not.
    for host in 1..=3 {
        let ip = format!("2001:db8:1:2::{host}");
        assert_eq!(
            login_from(&client(), &hub, &ip, "ada", "wrong")
                .await
                .status(),
            403
        );
    }
    let same_64 = login_from(&client(), &hub, "2001:db8:1:2:ffff::9", "cy", "wrong").await;
    assert_eq!(same_64.status(), 429);
    let next_64 = login_from(&client(), &hub, "2001:db8:1:3::1", "cy", "right-password").await;
    assert_eq!(next_64.status(), 302);
    hub.stop().await;
}

#[tokio::test]
async fn spoofed_forwarded_headers_from_an_untrusted_peer_are_ignored() {
    // Only 10.9.9.9 is a proxy: the test client on loopback talks to the hub directly.
    let hub = start_hub(
        "login_rate_limit = 3\ntrusted_proxies = [\"10.9.9.9\"]",
        RIGHT,
        &[],
    )
    .await;
    for n in 1..=3 {
        let response = login_from(&client(), &hub, &format!("203.0.113.{n}"), "ada", "wrong").await;
        assert_eq!(response.status(), 403);
    }
    // A fresh made-up address per guess does not open a fresh window.
    let response = login_from(&client(), &hub, "203.0.113.99", "ada", "wrong").await;
    assert_eq!(response.status(), 429);
    hub.stop().await;

    // Nor does a made-up X-Forwarded-Proto make the hub think it is served over https.
    let hub = start_hub("trusted_proxies = []", RIGHT, &[]).await;
    let url = format!("{}login", hub.hub_url);
    let claim_https = [("x-forwarded-proto", "https")];
    let response = login_with_headers(&client(), &url, "ada", "right-password", &claim_https).await;
    assert_eq!(response.status(), 302);
    for cookie in response.headers().get_all("set-cookie") {
        let cookie = cookie.to_str().unwrap();
        assert!(!cookie.contains("Secure"), "{cookie}");
    }
    hub.stop().await;
}

#[tokio::test]
async fn every_response_carries_a_request_id_a_client_cannot_choose() {
    let id_of = |response: &reqwest::Response| {
        response
            .headers()
            .get("x-request-id")
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("no X-Request-Id on {}", response.url()))
    };
    let is_hub_id = |id: &str| id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit());
    // A client the hub does not trust as a proxy: its id is replaced.
    let hub = start_hub("trusted_proxies = []", RIGHT, &[]).await;
    let c = client();
    let mut seen = std::collections::BTreeSet::new();
    for path in ["login", "no-such-page", "forward-auth", "api/user"] {
        let response = c
            .get(format!("{}{path}", hub.hub_url))
            .header("x-request-id", "chosen-by-the-client")
            .send()
            .await
            .unwrap();
        let id = id_of(&response);
        assert!(is_hub_id(&id), "{path}: {id}");
        assert!(seen.insert(id), "ids differ per request");
    }
    let response = login(&c, &hub, "ada", "wrong", None).await;
    assert_eq!(response.status(), 403);
    assert!(is_hub_id(&id_of(&response)));
    hub.stop().await;

    // A trusted proxy's id (the default trusts a proxy on the same machine) is kept, so
    // one id is in both logs, on the forward-auth path too; a malformed one is replaced.
    let hub = start_hub("", RIGHT, &[]).await;
    for path in ["login", "no-such-page", "forward-auth"] {
        let response = c
            .get(format!("{}{path}", hub.hub_url))
            .header("x-request-id", "4f0c2a9e-1b7d-4c3e-9a55-0d2b6f1e8c71")
            .send()
            .await
            .unwrap();
        assert_eq!(
            id_of(&response),
            "4f0c2a9e-1b7d-4c3e-9a55-0d2b6f1e8c71",
            "{path}"
        );
    }
    let response = c
        .get(format!("{}login", hub.hub_url))
        .header("x-request-id", "two words")
        .send()
        .await
        .unwrap();
    assert!(is_hub_id(&id_of(&response)));
    hub.stop().await;
}

#[tokio::test]
async fn guesses_at_one_name_from_many_addresses_hit_the_per_username_limit() {
    let hub = start_hub(
        "login_rate_limit = 100\nlogin_rate_limit_per_username = 3",
        RIGHT,
        &[],
    )
    .await;
    for n in 1..=3 {
        let response =
            login_from(&client(), &hub, &format!("198.51.100.{n}"), "Ada", "wrong").await;
        assert_eq!(response.status(), 403);
    }
    let response = login_from(&client(), &hub, "198.51.100.50", "ada", "wrong").await;
    assert_eq!(
        response.status(),
        429,
        "the name is limited, whatever the address"
    );
    let response = login_from(&client(), &hub, "198.51.100.50", "bob", "right-password").await;
    assert_eq!(response.status(), 302, "other names are not");
    hub.stop().await;
}

#[tokio::test]
async fn bad_trusted_proxies_fail_at_start_naming_the_key() {
    let dir = tempfile::TempDir::new().unwrap();
    let result = start_hub_in(dir, "trusted_proxies = [\"10.0.0.1/8\"]", RIGHT, &[]).await;
    let err = format!("{:#}", result.expect_err("the hub refused to start"));
    assert!(
        err.contains("trusted_proxies") && err.contains("10.0.0.0/8"),
        "{err}"
    );
}
