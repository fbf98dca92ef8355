//! Several login methods on one hub (`[[Hub.logins]]`): two GenericOAuthenticators
//! against two development providers (two "realms"), GitHub (its mock) and a
//! username/password form, side by side on one login page; names kept apart, per-method and global rules, one provider
//! down, refresh through the method that logged the user in.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use hubauth_devidp::{Client, DevIdp, DevUser, Endpoint, RunningIdp};
use hubauth_testkit::hub::*;
use serde_json::json;

struct Site {
    staff: RunningIdp,
    partners: RunningIdp,
    github: hubauth_github::mock::MockHandle,
    hub: TestHub,
    clock: Arc<hubauth_server::ManualClock>,
}

fn staff_users() -> Vec<DevUser> {
    vec![
        DevUser::new("ada", "pw")
            .claim("preferred_username", "ada")
            .claim("groups", json!(["staff", "ops"])),
        DevUser::new("bob", "pw")
            .claim("preferred_username", "bob")
            .claim("groups", json!(["staff"])),
        DevUser::new("eve", "pw")
            .claim("preferred_username", "eve")
            .claim("groups", json!(["visitors"])),
        DevUser::new("dan", "pw")
            .claim("preferred_username", "dan")
            .claim("groups", json!(["staff"])),
        DevUser::new("grace", "pw")
            .claim("preferred_username", "grace")
            .claim("email", "Grace@Example.org")
            .claim("email_verified", true)
            .claim("groups", json!(["staff"])),
    ]
}

fn partner_users() -> Vec<DevUser> {
    let mut users: Vec<DevUser> = ["ada", "bob", "eve", "carol"]
        .into_iter()
        .map(|name| DevUser::new(name, "pw").claim("preferred_username", name))
        .collect();
    // The staff realm's grace, in the partner realm too, with the same verified email.
    users.push(
        DevUser::new("grace", "pw")
            .claim("preferred_username", "grace")
            .claim("email", "grace@example.org")
            .claim("email_verified", true)
            .claim("groups", json!(["partner-team"])),
    );
    // Someone who typed grace's address without proving it.
    users.push(
        DevUser::new("mallory", "pw")
            .claim("preferred_username", "mallory")
            .claim("email", "grace@example.org")
            .claim("email_verified", false),
    );
    // ...and someone whose provider says "true" as text, not as the boolean.
    users.push(
        DevUser::new("trudy", "pw")
            .claim("preferred_username", "trudy")
            .claim("email", "grace@example.org")
            .claim("email_verified", "true"),
    );
    users
}

async fn idp(hub_origin: &str, method: &str, users: Vec<DevUser>) -> RunningIdp {
    let callback = format!("{hub_origin}/hub/{method}/oauth_callback");
    let mut builder = DevIdp::builder()
        .client(Client::confidential("hub", "hub-secret", callback).with_require_pkce(false));
    for user in users {
        builder = builder.user(user);
    }
    builder.start().await.unwrap()
}

/// The methods' tables; `{STAFF}` and `{PARTNERS}` are the providers' issuers.
const LOGINS: &str = r#"
[Authenticator]
admin_users = ["root"]
blocked_users = ["partner-eve"]
enable_auth_state = true

[[Hub.logins]]
name = "staff"
class = "generic-oauth"
label = "Company SSO"
link_by = "verified_email"

[Hub.logins.options]
client_id = "hub"
client_secret = "hub-secret"
oidc_issuer = "{STAFF}"
username_claim = "preferred_username"
scope = ["openid", "profile", "email", "groups"]
manage_groups = true
allowed_groups = ["staff"]
admin_groups = ["ops"]

[[Hub.logins]]
name = "partners"
class = "generic-oauth"
label = "Partner realm"
username_prefix = "partner-"
link_by = "verified_email"

[Hub.logins.options]
client_id = "hub"
client_secret = "hub-secret"
oidc_issuer = "{PARTNERS}"
username_claim = "preferred_username"
scope = ["openid", "profile", "email", "groups"]
manage_groups = true
oidc_logout = true
allowed_users = ["partner-ada", "partner-bob", "partner-eve", "partner-grace", "partner-mallory", "partner-trudy"]
admin_users = ["partner-bob"]

[[Hub.logins]]
name = "local"
class = "dummy"
label = "Local account"

[Hub.logins.options]
password = "local-pw"
allowed_users = ["dan", "ada", "grace"]
"#;

async fn site(extra: &str) -> Site {
    site_with(extra, "").await
}

/// [`site`] with `staff_extra` in the staff method's table.
async fn site_with(extra: &str, staff_extra: &str) -> Site {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let staff = idp(&origin, "staff", staff_users()).await;
    let partners = idp(&origin, "partners", partner_users()).await;
    let (github, github_table) =
        hubauth_github::mock::start_demo_mock(&format!("{origin}/hub/github/oauth_callback"))
            .await
            .unwrap();
    // The demo's [GitHubOAuthenticator] table, as this hub's fourth method.
    let github_method = github_table.replace(
        "[GitHubOAuthenticator]\n",
        "[[Hub.logins]]\nname = \"github\"\nclass = \"github\"\nusername_prefix = \"gh-\"\n\n[Hub.logins.options]\n",
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let clock = Arc::new(hubauth_server::ManualClock::at(now));
    // `extra` goes into [Authenticator].
    let rest = LOGINS
        .replace("{STAFF}", staff.issuer())
        .replace("{PARTNERS}", partners.issuer())
        .replace(
            "enable_auth_state = true\n",
            &format!("enable_auth_state = true\n{extra}"),
        )
        .replace(
            "label = \"Company SSO\"\n",
            &format!("label = \"Company SSO\"\n{staff_extra}"),
        )
        + github_method.as_str();
    let key = hubauth_store::CryptKeeper::generate_key();
    let hub = start_hub_with(HubOptions {
        dir: tempfile::TempDir::new().unwrap(),
        listener: Some(listener),
        // No authenticator_class: the methods name their classes.
        hub_extra: "# authenticator_class: see [[Hub.logins]]\n",
        rest: &rest,
        env: &[("JUPYTERHUB_CRYPT_KEY", key.as_str())],
        clock: Some(clock.clone()),
    })
    .await
    .unwrap();
    Site {
        staff,
        partners,
        github,
        hub,
        clock,
    }
}

/// Logs in through `method`'s provider as `user`, from the login page's button to the
/// hub's answer to the callback.
async fn oauth_login(
    client: &reqwest::Client,
    site: &Site,
    method: &str,
    user: &str,
    next: Option<&str>,
) -> reqwest::Response {
    match method {
        "staff" => site.staff.set_auto_approve(Some(user.to_owned())).unwrap(),
        "partners" => site
            .partners
            .set_auto_approve(Some(user.to_owned()))
            .unwrap(),
        _ => site.github.set_auto_approve(Some(user)),
    }
    let query = next
        .map(|next| format!("?next={}", urlencode(next)))
        .unwrap_or_default();
    let start = client
        .get(format!("{}{method}/oauth_login{query}", site.hub.hub_url))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 302, "{method}: to the provider");
    let at_idp = client.get(location(&start)).send().await.unwrap();
    assert_eq!(at_idp.status(), 302, "{method}: the provider approves");
    let callback = location(&at_idp);
    assert!(
        callback.contains(&format!("/hub/{method}/oauth_callback?")),
        "{callback}"
    );
    client.get(&callback).send().await.unwrap()
}

/// Logs in with the local form as `user`.
async fn form_login(client: &reqwest::Client, site: &Site, user: &str) -> reqwest::Response {
    let page = client
        .get(format!("{}login", site.hub.hub_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let xsrf = scrape_xsrf(&page);
    client
        .post(format!("{}local/login", site.hub.hub_url))
        .form(&[
            ("username", user),
            ("password", "local-pw"),
            ("_xsrf", xsrf.as_str()),
        ])
        .send()
        .await
        .unwrap()
}

async fn who(client: &reqwest::Client, site: &Site) -> (Option<String>, bool) {
    let (status, page) = home(client, &site.hub).await;
    assert_eq!(status, 200, "{page}");
    (shown_user(&page), page.contains("id=\"admin\">yes<"))
}

#[tokio::test]
async fn every_method_logs_in_from_one_page_and_next_survives() {
    let log = hubauth_testkit::logs::capture();
    let site = site("").await;
    let page = client()
        .get(format!(
            "{}login?next=%2Fhub%2Fhome%3Ftab%3D2",
            site.hub.hub_url
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .replace("&#x2f;", "/");
    // Every method, in configured order, each labelled and carrying `next`.
    let staff = page.find("Sign in with Company SSO").unwrap();
    let partners = page.find("Sign in with Partner realm").unwrap();
    let local = page.find("<h2>Local account</h2>").unwrap();
    let github = page.find("Sign in with GitHub").unwrap();
    assert!(
        staff < partners && partners < local && local < github,
        "{page}"
    );
    assert!(
        page.contains("/hub/staff/oauth_login?next=%2Fhub%2Fhome%3Ftab%3D2"),
        "{page}"
    );
    assert!(
        page.contains("/hub/partners/oauth_login?next=%2Fhub%2Fhome%3Ftab%3D2"),
        "{page}"
    );
    assert!(
        page.contains("action=\"/hub/local/login?next=%2Fhub%2Fhome%3Ftab%3D2\""),
        "{page}"
    );

    let c = client();
    let done = oauth_login(&c, &site, "staff", "ada", Some("/hub/home?tab=2")).await;
    assert_eq!(done.status(), 303);
    assert_eq!(location(&done), "/hub/home?tab=2");
    assert_eq!(who(&c, &site).await, (Some("ada".to_owned()), true));

    let c = client();
    let done = oauth_login(&c, &site, "partners", "bob", Some("/hub/home?tab=3")).await;
    assert_eq!(location(&done), "/hub/home?tab=3");
    assert_eq!(who(&c, &site).await, (Some("partner-bob".to_owned()), true));
    // Forward-auth and the REST API know the user as the hub names them.
    let checked = c
        .get(format!("{}forward-auth", site.hub.hub_url))
        .send()
        .await
        .unwrap();
    assert_eq!(checked.status(), 200);
    assert_eq!(checked.headers()["x-auth-request-user"], "partner-bob");
    let me = c
        .get(format!("{}api/user", site.hub.hub_url))
        .send()
        .await
        .unwrap();
    let (status, body) = json_response(me).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "partner-bob");
    assert_eq!(body["admin"], true);

    let c = client();
    let done = form_login(&c, &site, "dan").await;
    assert_eq!(done.status(), 302, "{:?}", done.text().await);
    assert_eq!(who(&c, &site).await, (Some("dan".to_owned()), false));

    // GitHub's admin team makes an admin; its names carry the method's prefix.
    let c = client();
    let done = oauth_login(&c, &site, "github", "admin", Some("/hub/home?tab=4")).await;
    assert_eq!(location(&done), "/hub/home?tab=4");
    assert_eq!(who(&c, &site).await, (Some("gh-admin".to_owned()), true));
    let refused = oauth_login(&client(), &site, "github", "bob", None).await;
    assert_eq!(refused.status(), 403, "bob is in no allowed team");

    // The login log names each method.
    let logged: Vec<(String, String, String)> = log
        .text()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["fields"].get("outcome").is_some())
        .map(|line| {
            let field = |name: &str| line["fields"][name].as_str().unwrap_or("").to_owned();
            (field("method"), field("user"), field("outcome"))
        })
        .collect();
    for line in [
        ("staff", "ada", "ok"),
        ("partners", "partner-bob", "ok"),
        ("local", "dan", "ok"),
        ("github", "gh-admin", "ok"),
        ("github", "gh-bob", "not_allowed"),
    ] {
        let line = (line.0.to_owned(), line.1.to_owned(), line.2.to_owned());
        assert!(logged.contains(&line), "{line:?} not in {logged:?}");
    }
    // The metrics name each method.
    let metrics = scrape_metrics(&site.hub).await;
    for series in [
        "hubauth_logins_total{authenticator=\"GenericOAuthenticator\",method=\"staff\",outcome=\"ok\"} 1",
        "hubauth_logins_total{authenticator=\"GenericOAuthenticator\",method=\"partners\",outcome=\"ok\"} 1",
        "hubauth_logins_total{authenticator=\"DummyAuthenticator\",method=\"local\",outcome=\"ok\"} 1",
        "hubauth_logins_total{authenticator=\"GitHubOAuthenticator\",method=\"github\",outcome=\"not_allowed\"} 1",
    ] {
        assert!(metrics.contains(series), "{series} not in\n{metrics}");
    }
    // The user records remember their methods.
    let store = site.hub.store();
    for (user, method) in [
        ("ada", "staff"),
        ("partner-bob", "partners"),
        ("dan", "local"),
        ("gh-admin", "github"),
    ] {
        assert_eq!(
            store.login_method(user).await.unwrap().as_deref(),
            Some(method)
        );
    }
}

#[tokio::test]
async fn the_same_name_from_two_methods_never_becomes_one_account() {
    let site = site("").await;
    // ada of the staff realm, ada of the partner realm: two accounts.
    let c = client();
    oauth_login(&c, &site, "staff", "ada", None).await;
    assert_eq!(who(&c, &site).await.0.as_deref(), Some("ada"));
    let c = client();
    oauth_login(&c, &site, "partners", "ada", None).await;
    assert_eq!(
        who(&c, &site).await,
        (Some("partner-ada".to_owned()), false)
    );

    // The local form is unprefixed too: its "ada" is the staff account's name, which the
    // staff method owns. Refused, with no session.
    let c = client();
    let refused = form_login(&c, &site, "ada").await;
    assert_eq!(refused.status(), 403);
    let page = refused.text().await.unwrap();
    assert!(page.contains("another login method"), "{page}");
    assert_eq!(home(&c, &site.hub).await.0, 302);
    // And the other way round: dan logs in locally first, then staff's dan is refused.
    form_login(&client(), &site, "dan").await;
    let c = client();
    let refused = oauth_login(&c, &site, "staff", "dan", None).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(home(&c, &site.hub).await.0, 302);
}

#[tokio::test]
async fn a_linking_rule_joins_two_methods_only_on_a_verified_email() {
    let site = site("").await;
    let c = client();
    oauth_login(&c, &site, "staff", "grace", None).await;
    assert_eq!(who(&c, &site).await.0.as_deref(), Some("grace"));
    // The partner realm's grace proves the same email: she is the same account.
    let c = client();
    let done = oauth_login(&c, &site, "partners", "grace", None).await;
    assert_eq!(done.status(), 303);
    assert_eq!(who(&c, &site).await.0.as_deref(), Some("grace"));
    let store = site.hub.store();
    assert!(store.get_user("partner-grace").await.unwrap().is_none());
    assert_eq!(
        store.login_methods_of("grace").await.unwrap(),
        ["partners", "staff"]
    );
    assert_eq!(
        store.login_method("grace").await.unwrap().as_deref(),
        Some("partners"),
        "the account remembers the method that logged it in last"
    );
    // Both methods manage groups: each login keeps what the other gave.
    let groups = |store: std::sync::Arc<dyn hubauth_store::Store>| async move {
        store.get_user("grace").await.unwrap().unwrap().groups
    };
    assert_eq!(groups(store.clone()).await, ["partner-team", "staff"]);
    // Typing the address is not proving it: mallory stays her own account.
    let c = client();
    oauth_login(&c, &site, "partners", "mallory", None).await;
    assert_eq!(who(&c, &site).await.0.as_deref(), Some("partner-mallory"));
    let c = client();
    oauth_login(&c, &site, "partners", "trudy", None).await;
    assert_eq!(who(&c, &site).await.0.as_deref(), Some("partner-trudy"));
    // And grace can still come back through the staff realm, keeping the partner group.
    let c = client();
    oauth_login(&c, &site, "staff", "grace", None).await;
    assert_eq!(who(&c, &site).await.0.as_deref(), Some("grace"));
    assert_eq!(groups(store.clone()).await, ["partner-team", "staff"]);
    // The partner realm drops her team: only the partner group goes.
    let mut claims = serde_json::Map::new();
    claims.insert("preferred_username".to_owned(), json!("grace"));
    claims.insert("email".to_owned(), json!("grace@example.org"));
    claims.insert("email_verified".to_owned(), json!(true));
    claims.insert("groups".to_owned(), json!([]));
    site.partners.set_user_claims("grace", claims).unwrap();
    oauth_login(&client(), &site, "partners", "grace", None).await;
    assert_eq!(groups(store.clone()).await, ["staff"]);
    // Methods without the rule never link: the local form's grace is refused, as any
    // name another method owns.
    let refused = form_login(&client(), &site, "grace").await;
    assert_eq!(refused.status(), 403);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("another login method")
    );
}

#[tokio::test]
async fn global_and_per_method_rules_allow_deny_and_make_admin() {
    let site = site("").await;
    // Staff: allowed by group, admin by group; another group is refused.
    let c = client();
    oauth_login(&c, &site, "staff", "bob", None).await;
    assert_eq!(who(&c, &site).await, (Some("bob".to_owned()), false));
    let refused = oauth_login(&client(), &site, "staff", "eve", None).await;
    assert_eq!(refused.status(), 403);
    // Partners: the method's own admin_users names the prefixed name; staff's bob above
    // is not an admin because of it.
    let c = client();
    oauth_login(&c, &site, "partners", "bob", None).await;
    assert_eq!(who(&c, &site).await, (Some("partner-bob".to_owned()), true));
    // [Authenticator] blocked_users holds for the partner method too.
    let refused = oauth_login(&client(), &site, "partners", "eve", None).await;
    assert_eq!(refused.status(), 403);
    // Not in the partner method's allowed_users.
    let refused = oauth_login(&client(), &site, "partners", "carol", None).await;
    assert_eq!(refused.status(), 403);
    // [Authenticator] admin_users holds for the local method.
    let c = client();
    form_login(&c, &site, "root").await;
    assert_eq!(who(&c, &site).await, (Some("root".to_owned()), true));
    // Groups are managed by the staff method only.
    let (_, page) = home(&client(), &site.hub).await;
    let _ = page;
    let users = site.hub.store().list_users().await.unwrap();
    let ada_groups = users
        .iter()
        .find(|user| user.name == "bob")
        .map(|user| user.groups.clone())
        .unwrap();
    assert_eq!(ada_groups, ["staff"]);
}

#[tokio::test]
async fn one_provider_down_leaves_the_other_methods_working() {
    let site = site("").await;
    let partners_origin = site.partners.issuer().to_owned();
    let Site {
        staff,
        partners,
        github,
        hub,
        clock,
    } = site;
    partners.shutdown().await;
    let site = Site {
        staff,
        github,
        // A stand-in that is never asked: the partner method's provider is gone.
        partners: idp("http://127.0.0.1:1", "unused", Vec::new()).await,
        hub,
        clock,
    };
    // The partner method's login fails with a page naming the provider, not the hub.
    let c = client();
    let start = c
        .get(format!("{}partners/oauth_login", site.hub.hub_url))
        .send()
        .await
        .unwrap();
    assert!(
        start.status().is_server_error(),
        "{} at {partners_origin}",
        start.status()
    );
    // The others are unaffected.
    let c = client();
    oauth_login(&c, &site, "staff", "ada", None).await;
    assert_eq!(who(&c, &site).await.0.as_deref(), Some("ada"));
    let c = client();
    form_login(&c, &site, "dan").await;
    assert_eq!(who(&c, &site).await.0.as_deref(), Some("dan"));
}

#[tokio::test]
async fn a_login_started_at_one_method_cannot_finish_at_another() {
    let site = site("").await;
    let c = client();
    site.staff.set_auto_approve(Some("ada".to_owned())).unwrap();
    let start = c
        .get(format!("{}staff/oauth_login", site.hub.hub_url))
        .send()
        .await
        .unwrap();
    let at_idp = c.get(location(&start)).send().await.unwrap();
    let callback = location(&at_idp).replace("/hub/staff/", "/hub/partners/");
    let answer = c.get(&callback).send().await.unwrap();
    assert_eq!(answer.status(), 400);
    assert!(
        answer
            .text()
            .await
            .unwrap()
            .contains("OAuth state mismatch")
    );
    assert_eq!(home(&c, &site.hub).await.0, 302);
    // Unknown, differently written or encoded method names are simply not pages.
    for path in [
        "nosuch/oauth_login",
        "nosuch/oauth_callback",
        "nosuch/login",
        "STAFF/oauth_login",
        "staff%2F/oauth_login",
        "staff%00/oauth_login",
        "staff./oauth_login",
        "api/oauth_login",
    ] {
        let answer = c
            .get(format!("{}{path}", site.hub.hub_url))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 404, "{path}");
    }
    // A percent-encoded unreserved letter is the same name (RFC 3986 6.2.2.2): staff's.
    let same = c
        .get(format!("{}%73taff/oauth_login", site.hub.hub_url))
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), 302);
    assert!(location(&same).starts_with(site.staff.issuer()));
    // The unnamed form path takes no form on a hub with several methods.
    let answer = c
        .post(format!("{}login", site.hub.hub_url))
        .form(&[("username", "dan"), ("password", "local-pw")])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
}

#[tokio::test]
async fn logout_ends_the_session_at_the_provider_of_the_users_method() {
    let site = site("").await;
    // The partner method signs out at its provider too (oidc_logout)...
    let c = client();
    oauth_login(&c, &site, "partners", "bob", None).await;
    let out = logout_at(&c, &site.hub.hub_url).await;
    assert_eq!(out.status(), 302);
    let target = location(&out);
    assert!(
        target.starts_with(&site.partners.endpoint_url(Endpoint::EndSession)),
        "{target}"
    );
    assert_eq!(home(&c, &site.hub).await.0, 302);
    // ...the staff method does not, and never sends anyone to the partner provider.
    let c = client();
    oauth_login(&c, &site, "staff", "bob", None).await;
    let out = logout_at(&c, &site.hub.hub_url).await;
    let target = location(&out);
    assert!(!target.contains(site.partners.issuer()), "{target}");
    assert!(!target.contains(site.staff.issuer()), "{target}");
    assert_eq!(home(&c, &site.hub).await.0, 302);
}

#[tokio::test]
async fn auto_login_goes_to_the_default_method_with_next() {
    let site = site_with("auto_login = true\n", "default = true\n").await;
    let c = client();
    let page = c
        .get(format!(
            "{}login?next=%2Fhub%2Fhome%3Fx%3D1",
            site.hub.hub_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 302);
    assert_eq!(
        location(&page),
        "/hub/staff/oauth_login?next=%2Fhub%2Fhome%3Fx%3D1"
    );
    // The unnamed login path is the default method's too.
    site.staff.set_auto_approve(Some("ada".to_owned())).unwrap();
    let start = c
        .get(format!("{}oauth_login", site.hub.hub_url))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 302);
    let at_idp = c.get(location(&start)).send().await.unwrap();
    let back = c.get(location(&at_idp)).send().await.unwrap();
    assert_eq!(back.status(), 303);
    assert_eq!(who(&c, &site).await.0.as_deref(), Some("ada"));
}

#[tokio::test]
async fn a_back_channel_logout_from_one_methods_provider_ends_its_sessions() {
    let site = site("").await;
    let staff_bob = client();
    oauth_login(&staff_bob, &site, "staff", "bob", None).await;
    let partner_bob = client();
    oauth_login(&partner_bob, &site, "partners", "bob", None).await;
    let sid = site.partners.last_sid("bob").unwrap();
    let token = site
        .partners
        .logout_token(&hubauth_devidp::LogoutTokenSpec::new("hub").session(&sid))
        .unwrap();
    let answer = reqwest::Client::new()
        .post(format!("{}backchannel_logout", site.hub.hub_url))
        .form(&[("logout_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "{:?}", answer.text().await);
    // The partner realm's session ended; staff's bob, another account, is untouched.
    assert_eq!(home(&partner_bob, &site.hub).await.0, 302);
    assert_eq!(who(&staff_bob, &site).await.0.as_deref(), Some("bob"));
}

#[tokio::test]
async fn refresh_runs_through_the_method_that_logged_the_user_in() {
    let site = site("auth_refresh_age = 60\n").await;
    let c = client();
    oauth_login(&c, &site, "staff", "bob", None).await;
    assert_eq!(who(&c, &site).await.0.as_deref(), Some("bob"));
    // bob leaves the staff group at the staff provider; at the next refresh the staff
    // method re-checks its rules and the session ends.
    let mut claims = serde_json::Map::new();
    claims.insert("preferred_username".to_owned(), json!("bob"));
    claims.insert("groups".to_owned(), json!(["visitors"]));
    site.staff.set_user_claims("bob", claims).unwrap();
    site.clock.advance(120);
    assert_eq!(home(&c, &site.hub).await.0, 302, "the session ended");
}

#[tokio::test]
async fn configurations_that_cannot_work_are_refused_naming_the_method() {
    let registry = hubauth_cli::registry().unwrap();
    let build = |text: &str| {
        let text = format!("[Hub]\ndb_url = \"sqlite:///unused.sqlite\"\n{text}");
        let config = hubauth_config::Config::parse(&text, "hub.toml", &registry)
            .map_err(|err| err.to_string())?;
        let env = hubauth_config::MapEnv::default();
        hubauth_cli::build(&config, &registry, &env)
            .map(|_| ())
            .map_err(|err| format!("{err:#}"))
    };
    let method = |name: &str, body: &str| {
        format!("[[Hub.logins]]\nname = \"{name}\"\nclass = \"dummy\"\n{body}\n")
    };
    let cases = [
        (
            method("staff", "[Hub.logins.options]\nnot_an_option = 1"),
            vec!["[[Hub.logins]]", "staff", "not_an_option"],
        ),
        (
            method("staff", "[Hub.logins.options]\nenable_auth_state = true"),
            vec!["staff", "enable_auth_state", "[Authenticator]"],
        ),
        (
            format!("{}{}", method("a", ""), method("a", "")),
            vec!["\"a\"", "two login methods"],
        ),
        (method("Bad Name", ""), vec!["not a login method name"]),
        (method("api", ""), vec!["hub's own paths"]),
        (
            method("staff", "surname = \"x\""),
            vec!["staff", "unknown key \"surname\""],
        ),
        (
            format!(
                "[Authenticator]\nauto_login = true\n{}{}",
                method("a", ""),
                method("b", "")
            ),
            vec!["auto_login", "default = true"],
        ),
        (
            method("staff", "username_prefix = \"Staff-\""),
            vec!["username_prefix", "lowercase"],
        ),
        (
            "authenticator_class = \"dummy\"\n[[Hub.logins]]\nname = \"a\"\nclass = \"dummy\"\n"
                .to_owned(),
            vec!["authenticator_class", "logins"],
        ),
        (
            "[[Hub.logins]]\nname = \"a\"\nclass = \"no-such-class\"\n".to_owned(),
            vec!["\"a\"", "class", "no-such-class"],
        ),
    ];
    for (text, pieces) in cases {
        let err = build(&text).expect_err(&text);
        for piece in pieces {
            assert!(err.contains(piece), "{piece:?} not in {err:?} for\n{text}");
        }
    }
    // Fine: two methods, one default, auto_login on.
    let fine = format!(
        "[Authenticator]\nauto_login = true\n{}{}",
        method("a", "default = true"),
        method("b", "username_prefix = \"b-\"")
    );
    build(&fine).unwrap();
}
