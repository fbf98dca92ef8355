//! MWOAuthenticator end to end over loopback HTTP: a real hub against the mock wiki, one
//! test per rule that can allow, refuse or make an admin, and refresh.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_mediawiki::mock::{Endpoint, MockConsumer, Page};
use serde_json::json;

use super::hub::{
    auth_state, authorize_url, client, home, location, login_as, pair, start_login, stored_user,
    try_pair_with,
};

const GROUPS: &str =
    "manage_groups = true\nauth_state_groups_key = \"MEDIAWIKI_USER_IDENTITY.groups\"\n";

#[tokio::test]
async fn allowed_users_admits_the_wiki_user_under_upstreams_name() {
    let p = pair("allowed_users = [\"Alice Smith\"]\n").await;
    let (c, status, body) = login_as(&p, "Alice Smith").await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(home(&c, &p).await, 200);
    // Spaces become underscores and the case stays, as upstream's normalize_username.
    let user = stored_user(&p, "Alice_Smith").await.expect("stored");
    assert!(!user.admin);
    let state = auth_state(&p, "Alice_Smith").await;
    let identity = &state["MEDIAWIKI_USER_IDENTITY"];
    assert_eq!(identity["username"], "Alice Smith");
    assert_eq!(identity["groups"], json!(["*", "user", "autoconfirmed"]));
    assert_eq!(identity["grants"], json!(["mwoauth-authonly"]));
    assert_eq!(identity["blocked"], false);
    assert!(identity["sub"].is_string());
    let key = state["ACCESS_TOKEN_KEY"].as_str().unwrap();
    assert!(
        state["ACCESS_TOKEN_SECRET"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    assert_eq!(
        p.mock.access_tokens(),
        vec![(key.to_owned(), "Alice Smith".to_owned())]
    );
}

#[tokio::test]
async fn allowed_users_compares_names_with_their_case() {
    // MediaWiki user names are case-sensitive: "alice smith" is not "Alice Smith".
    let p = pair("allowed_users = [\"alice smith\"]\n").await;
    let (c, status, _) = login_as(&p, "Alice Smith").await;
    assert_eq!(status, 403);
    assert_eq!(home(&c, &p).await, 302);
    assert!(stored_user(&p, "Alice_Smith").await.is_none());
}

#[tokio::test]
async fn no_allow_rule_refuses_everyone() {
    let p = pair("").await;
    let (_, status, _) = login_as(&p, "Alice Smith").await;
    assert_eq!(status, 403);
    let warnings = p.hub.state().authenticator.startup_warnings();
    assert!(
        warnings.iter().any(|w| w.contains("No allow config")),
        "{warnings:?}"
    );
}

#[tokio::test]
async fn allow_all_admits_any_wiki_user() {
    let p = pair("allow_all = true\n").await;
    for (user, stored) in [("Alice Smith", "Alice_Smith"), ("Bob", "Bob")] {
        let (_, status, body) = login_as(&p, user).await;
        assert_eq!(status, 303, "{user}: {body}");
        assert!(stored_user(&p, stored).await.is_some());
    }
}

#[tokio::test]
async fn admin_users_allows_and_makes_an_admin() {
    let p = pair("admin_users = [\"Admin\"]\n").await;
    let (_, status, _) = login_as(&p, "Admin").await;
    assert_eq!(status, 303);
    assert!(stored_user(&p, "Admin").await.unwrap().admin);
    let (_, status, _) = login_as(&p, "Alice Smith").await;
    assert_eq!(status, 403, "admin_users allows only its names");
}

#[tokio::test]
async fn blocked_users_refuses_even_with_allow_all() {
    let p = pair("allow_all = true\nblocked_users = [\"Alice Smith\"]\n").await;
    let (_, status, _) = login_as(&p, "Alice Smith").await;
    assert_eq!(status, 403);
    let (_, status, _) = login_as(&p, "Bob").await;
    assert_eq!(status, 303);
    // The hub's own checks (API tokens, the provider) see the same blocked name.
    assert!(
        !p.hub
            .state()
            .authenticator
            .rules()
            .check_blocked_users("Alice_Smith")
    );
    assert!(
        p.hub
            .state()
            .authenticator
            .rules()
            .check_blocked_users("Bob")
    );
}

#[tokio::test]
async fn allowed_groups_admit_members_of_a_wiki_group() {
    let p = pair(&format!("{GROUPS}allowed_groups = [\"autoconfirmed\"]\n")).await;
    let (_, status, _) = login_as(&p, "Alice Smith").await;
    assert_eq!(status, 303);
    let groups = stored_user(&p, "Alice_Smith").await.unwrap().groups;
    assert!(groups.contains(&"autoconfirmed".to_owned()), "{groups:?}");
    // Bob has 3 edits: not autoconfirmed.
    let (_, status, _) = login_as(&p, "Bob").await;
    assert_eq!(status, 403);
    assert!(stored_user(&p, "Bob").await.is_none());
}

#[tokio::test]
async fn admin_groups_make_sysops_admins_and_no_one_else() {
    let p = pair(&format!(
        "{GROUPS}allowed_groups = [\"autoconfirmed\"]\nadmin_groups = [\"sysop\"]\n"
    ))
    .await;
    let (_, status, _) = login_as(&p, "Admin").await;
    assert_eq!(status, 303);
    assert!(stored_user(&p, "Admin").await.unwrap().admin);
    let (_, status, _) = login_as(&p, "Alice Smith").await;
    assert_eq!(status, 303);
    assert!(!stored_user(&p, "Alice_Smith").await.unwrap().admin);
}

#[tokio::test]
async fn an_account_locked_before_identify_is_refused() {
    let p = pair("allow_all = true\n").await;
    let c = client();
    let callback = super::hub::approved_callback(&c, &p, "Alice Smith").await;
    // Locked between the approval and the hub's identify request.
    p.mock.update_user("Alice Smith", |user| user.locked = true);
    let answer = c.get(&callback).send().await.unwrap();
    assert_eq!(answer.status(), 403);
    assert!(stored_user(&p, "Alice_Smith").await.is_none());
}

#[tokio::test]
async fn a_hidden_account_names_no_user_and_is_refused() {
    let p = pair("allow_all = true\n").await;
    let (_, status, body) = login_as(&p, "Ghost").await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("No username found"), "{body}");
}

#[tokio::test]
async fn a_username_from_email_needs_a_confirmed_email() {
    let p = try_pair_with("allow_all = true\nusername_claim = \"email\"\n", |c| {
        c.grants(&["mwoauth-authonlyprivate"])
    })
    .await
    .unwrap();
    let (_, status, body) = login_as(&p, "Alice Smith").await;
    assert_eq!(status, 303, "{body}");
    assert!(stored_user(&p, "alice.smith@wiki.example").await.is_some());
    // Dave's address is not confirmed: the wiki sends an empty email and
    // email_verified false, and the login is refused.
    let (_, status, _) = login_as(&p, "Dave").await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_blocked_wiki_user_can_be_refused_by_a_groups_script() {
    // Upstream has no option for the identity's `blocked` claim; a groups script can
    // turn it into a group rule.
    let script = "auth_state_groups_key = { script = \"let id = auth_state.MEDIAWIKI_USER_IDENTITY; if id.blocked == false { id.groups } else { [] }\" }\n";
    let p = pair(&format!(
        "manage_groups = true\n{script}allowed_groups = [\"user\"]\n"
    ))
    .await;
    let (_, status, _) = login_as(&p, "Carol").await;
    assert_eq!(status, 403, "Carol is blocked on the wiki");
    let (_, status, _) = login_as(&p, "Alice Smith").await;
    assert_eq!(status, 303);
}

#[tokio::test]
async fn the_login_follows_upstreams_urls_and_is_signed() {
    let p = pair("allow_all = true\n").await;
    let c = client();
    let authorize = authorize_url(&c, &p).await;
    // Upstream's approval page: index.php?title=Special:OAuth/authenticate.
    assert_eq!(authorize.path(), "/w/index.php");
    let query: std::collections::HashMap<_, _> = authorize.query_pairs().into_owned().collect();
    assert_eq!(query["title"], "Special:OAuth/authenticate");
    assert_eq!(query["oauth_consumer_key"], super::hub::KEY);
    let request_token = query["oauth_token"].clone();
    // The request token's secret stays in the hub: not in the URL, not in a cookie.
    let secret = p.mock.request_token_secret(&request_token).unwrap();
    assert!(!authorize.as_str().contains(&secret));
    let initiate = p.mock.requests_to(Endpoint::Index);
    assert_eq!(initiate.len(), 1);
    assert_eq!(initiate[0].method, "POST");
    assert_eq!(
        initiate[0].query_value("title"),
        Some("Special:OAuth/initiate")
    );
    let at_wiki = c.get(authorize.as_str()).send().await.unwrap();
    let callback = url::Url::parse(&location(&at_wiki)).unwrap();
    let back: std::collections::HashMap<_, _> = callback.query_pairs().into_owned().collect();
    for param in ["state", "code", "oauth_verifier", "oauth_token"] {
        assert!(back.contains_key(param), "{param} in {callback}");
    }
    assert_eq!(back["oauth_token"], request_token);
    let answer = c.get(callback.as_str()).send().await.unwrap();
    assert_eq!(answer.status(), 303);
    for header in answer.headers().get_all("set-cookie") {
        assert!(!header.to_str().unwrap().contains(&secret));
    }
    assert_eq!(p.mock.page_count(Page::Initiate), 1);
    assert_eq!(p.mock.page_count(Page::Token), 1);
    assert_eq!(p.mock.page_count(Page::Identify), 1);
    for request in p.mock.requests_to(Endpoint::Index) {
        if request.query_value("title") != Some("Special:OAuth/authenticate") {
            assert_eq!(request.method, "POST");
            assert!(request.authorization.is_some(), "signed: {request:?}");
        }
    }
    assert!(
        p.mock.pending_request_tokens().is_empty(),
        "the request token was used"
    );
}

#[tokio::test]
async fn a_callback_cannot_be_replayed() {
    let p = pair("allow_all = true\n").await;
    let c = client();
    let callback = super::hub::approved_callback(&c, &p, "Alice Smith").await;
    assert_eq!(c.get(&callback).send().await.unwrap().status(), 303);
    let again = c.get(&callback).send().await.unwrap();
    assert_eq!(again.status(), 400, "the state is single-use");
    assert_eq!(
        p.mock.page_count(Page::Token),
        1,
        "the wiki is not asked again"
    );
}

#[tokio::test]
async fn a_callback_for_another_request_token_is_refused() {
    let p = pair("allow_all = true\n").await;
    let c = client();
    let callback = super::hub::approved_callback(&c, &p, "Alice Smith").await;
    let mut url = url::Url::parse(&callback).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == "oauth_token" {
                (k, "0123456789abcdef".to_owned())
            } else {
                (k, v)
            }
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let answer = c.get(url.as_str()).send().await.unwrap();
    assert_eq!(answer.status(), 400);
    assert!(
        answer
            .text()
            .await
            .unwrap()
            .contains("another request token")
    );
    assert_eq!(p.mock.page_count(Page::Token), 0);
}

#[tokio::test]
async fn a_wrong_verifier_is_refused_by_the_wiki() {
    let p = pair("allow_all = true\n").await;
    let c = client();
    let callback = super::hub::approved_callback(&c, &p, "Alice Smith").await;
    let mut url = url::Url::parse(&callback).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == "oauth_verifier" {
                (k, "forged".to_owned())
            } else {
                (k, v)
            }
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let answer = c.get(url.as_str()).send().await.unwrap();
    assert_eq!(answer.status(), 403);
    assert!(stored_user(&p, "Alice_Smith").await.is_none());
}

#[tokio::test]
async fn an_oob_only_consumer_is_explained_at_the_login_start() {
    let p = try_pair_with("allow_all = true\n", MockConsumer::oob_only)
        .await
        .unwrap();
    let c = client();
    let answer = start_login(&c, &p).await;
    assert_eq!(answer.status(), 502);
    let body = answer.text().await.unwrap();
    assert!(
        body.contains("Allow consumer to specify a callback"),
        "{body}"
    );
}

#[tokio::test]
async fn refresh_asks_the_wiki_again_and_rechecks_groups() {
    let p = pair(&format!("{GROUPS}allowed_groups = [\"autoconfirmed\"]\n")).await;
    let (c, status, _) = login_as(&p, "Alice Smith").await;
    assert_eq!(status, 303);
    let asked = p.mock.page_count(Page::Identify);
    p.clock.advance(60);
    assert_eq!(home(&c, &p).await, 200);
    assert_eq!(
        p.mock.page_count(Page::Identify),
        asked,
        "within auth_refresh_age"
    );
    p.clock.advance(300);
    assert_eq!(home(&c, &p).await, 200);
    assert_eq!(p.mock.page_count(Page::Identify), asked + 1, "asked again");
    // The wiki now says Alice is not autoconfirmed: access ends at the next refresh.
    p.mock.update_user("Alice Smith", |user| user.editcount = 0);
    p.clock.advance(301);
    assert_eq!(home(&c, &p).await, 302);
}

#[tokio::test]
async fn refresh_after_the_grant_was_revoked_asks_for_a_new_login() {
    let p = pair("allow_all = true\n").await;
    let (c, _, _) = login_as(&p, "Alice Smith").await;
    p.mock.revoke_grants("Alice Smith");
    p.clock.advance(301);
    assert_eq!(home(&c, &p).await, 302);
}

#[tokio::test]
async fn refresh_of_a_locked_account_ends_the_session() {
    let p = pair("allow_all = true\n").await;
    let (c, _, _) = login_as(&p, "Alice Smith").await;
    p.mock.update_user("Alice Smith", |user| user.locked = true);
    p.clock.advance(301);
    assert_eq!(home(&c, &p).await, 302);
}

#[tokio::test]
async fn refresh_keeps_the_session_while_the_wiki_is_down() {
    let p = pair("allow_all = true\n").await;
    let (c, _, _) = login_as(&p, "Alice Smith").await;
    p.mock.set_down(Endpoint::Index, true);
    p.clock.advance(301);
    assert_eq!(home(&c, &p).await, 200, "an outage is not a logout");
    p.mock.set_down(Endpoint::Index, false);
    let asked = p.mock.page_count(Page::Identify);
    p.clock.advance(301);
    assert_eq!(home(&c, &p).await, 200);
    assert_eq!(p.mock.page_count(Page::Identify), asked + 1, "retried");
}

#[tokio::test]
async fn refresh_with_a_forged_identity_ends_the_session() {
    let p = pair("allow_all = true\n").await;
    let (c, _, _) = login_as(&p, "Alice Smith").await;
    p.mock
        .tamper_next_identity(hubauth_mediawiki::mock::IdentityTamper::WrongSecret);
    p.clock.advance(301);
    assert_eq!(home(&c, &p).await, 302);
}

#[tokio::test]
async fn refresh_for_a_renamed_user_asks_for_a_new_login() {
    let p = pair("allow_all = true\n").await;
    let (c, _, _) = login_as(&p, "Alice Smith").await;
    p.mock.update_user("Alice Smith", |user| {
        user.username = "Alice Jones".to_owned()
    });
    p.clock.advance(301);
    assert_eq!(home(&c, &p).await, 302);
}

#[tokio::test]
async fn demo_mock_config_starts_a_working_hub() {
    let (mock, table) =
        hubauth_mediawiki::mock::start_demo_mock("http://127.0.0.1:9/hub/oauth_callback")
            .await
            .unwrap();
    assert!(table.starts_with("[MWOAuthenticator]\n"));
    let body = table.trim_start_matches("[MWOAuthenticator]\n");
    let (authenticator, _) =
        super::hub::authenticator(&format!("{body}enable_auth_state = true\n"), &[]).unwrap();
    assert_eq!(authenticator.class_name(), "MWOAuthenticator");
    let page = reqwest::get(format!(
        "{}?title=Special:OAuth/authorize&oauth_consumer_key=hubauth-demo&oauth_token=x",
        mock.index_url()
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    for user in ["Alice", "Admin", "Bob", "Mallory"] {
        assert!(page.contains(user), "{page}");
    }
}
