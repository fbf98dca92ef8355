//! GitHubOAuthenticator end to end over loopback HTTP: a real hub (SQLite, cookies,
//! sessions) against the GitHub mock, one test per rule that allows, refuses or makes
//! admin, refresh, and GitHub being down or answering garbage. The hub, the browser and
//! the login through the mock are the shared harness's (`hubauth-harness`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_config::{ConfigError, Registry};
use hubauth_github::mock::{Endpoint, Fault, GitHubMock, MockEmail, MockHandle, MockUser};
use hubauth_harness::{Build, Loopback, Provider, arc, local_or};
use serde_json::json;

pub(super) use hubauth_harness::authorize_url_at as authorize_url;
pub(super) use hubauth_harness::{auth_state, client, home, login_as, query, stored_user};

pub(super) const ORG: &str = "jupyterhub";

/// The users of the mock GitHub.
fn users() -> Vec<MockUser> {
    let mut tess = MockUser::new("tess");
    for n in 0..5 {
        tess = tess.team("big-org", &format!("team-{n}"));
    }
    vec![
        // A private member of the organization and of its operators team.
        MockUser::new("alice").team(ORG, "operators"),
        // A public member, in no team.
        MockUser::new("bob").public_member_of(ORG),
        // Not a member: a private member of another organization.
        MockUser::new("carol").member_of("other-org"),
        // A member invited to the operators team who has not accepted.
        MockUser::new("dave")
            .member_of(ORG)
            .invited_to_team(ORG, "operators"),
        // Invited to the organization, not a member yet.
        MockUser::new("erin").invited_to(ORG),
        // A member of the operators and admins teams.
        MockUser::new("admin")
            .team(ORG, "operators")
            .team(ORG, "admins"),
        // A public profile email.
        MockUser::new("frank").public_email("frank@example.org"),
        // A primary email GitHub has not verified: no token is issued.
        MockUser::new("grace").emails(vec![MockEmail {
            email: "grace@example.org".into(),
            primary: true,
            verified: false,
        }]),
        // A public email that is not verified (the primary one is).
        MockUser::new("heidi").emails(vec![
            MockEmail {
                email: "heidi@users.example.org".into(),
                primary: true,
                verified: true,
            },
            MockEmail {
                email: "heidi@old.example.org".into(),
                primary: false,
                verified: false,
            },
        ]),
        // Five teams, for pagination.
        tess,
    ]
}

pub(super) type Pair = hubauth_harness::Pair<MockHandle>;

// GitHub approves by login.
hubauth_harness::idp_mock!(MockHandle);

/// The provider under test: the GitHub classes, the Local variant or not.
fn provider() -> Provider<impl Build<ConfigError>> {
    Provider::new(
        hubauth_github::classes(),
        local_or(
            hubauth_github::local_github_from_view,
            arc(hubauth_github::github_from_view),
        ),
    )
}

pub(super) fn registry() -> Registry {
    hubauth_harness::registry(hubauth_github::classes())
}

/// A mock (configured by `mock`) and a hub of `class` whose table is the client, the
/// mock's URLs, `enable_auth_state` and `extra`.
pub(super) async fn try_pair_with(
    class: &str,
    extra: &str,
    mock: impl FnOnce(GitHubMock) -> GitHubMock,
) -> anyhow::Result<Pair> {
    let site = Loopback::bind().await?;
    let mut builder = GitHubMock::builder()
        .client("hub-client", "hub-secret", &site.callback_url())
        .auto_approve(Some("alice"));
    for user in users() {
        builder = builder.user(user);
    }
    let mock = mock(builder).start().await?;
    let table = format!(
        "[{class}]\nclient_id = \"hub-client\"\nclient_secret = \"hub-secret\"\n{}enable_auth_state = true\n{extra}",
        mock.toml_urls()
    );
    provider().serve(site, mock, class, &table).await
}

pub(super) async fn pair(extra: &str) -> Pair {
    try_pair_with("GitHubOAuthenticator", extra, |b| b)
        .await
        .unwrap()
}

use hubauth_harness::unescape_html as unescape;

// ------------------------------------------------------------------ organizations

#[tokio::test]
async fn private_org_member_with_read_org_is_allowed_and_outsiders_are_refused() {
    let p = pair("scope = [\"read:org\"]\nallowed_organizations = [\"jupyterhub\"]\n").await;
    let (c, status, body) = login_as(&p, "alice").await;
    assert_eq!(status, 303, "a private member, seen with read:org: {body}");
    assert_eq!(home(&c, &p).await, 200);
    assert!(!stored_user(&p, "alice").await.unwrap().admin);
    let (_, status, _) = login_as(&p, "bob").await;
    assert_eq!(status, 303, "a public member");
    let (c, status, _) = login_as(&p, "carol").await;
    assert_eq!(status, 403, "not a member");
    assert_eq!(home(&c, &p).await, 302, "no session");
    assert!(stored_user(&p, "carol").await.is_none());
    let (_, status, _) = login_as(&p, "erin").await;
    assert_eq!(status, 403, "an invitation is not a membership");
    // Members were answered 204 straight away; the others were sent (302) to the public
    // membership check, which the hub asked itself.
    assert!(p.mock.count(Endpoint::OrgMember) >= 4);
    assert!(p.mock.count(Endpoint::PublicMember) >= 2);
}

#[tokio::test]
async fn without_read_org_only_public_members_are_allowed() {
    let p = pair("allowed_organizations = [\"jupyterhub\"]\n").await;
    let warnings = p.hub.state().authenticator.startup_warnings().join("\n");
    assert!(
        warnings.contains("allowed_organizations") && warnings.contains("read:org"),
        "{warnings}"
    );
    let (_, status, _) = login_as(&p, "alice").await;
    assert_eq!(
        status, 403,
        "alice's membership is private: GitHub hides it without read:org"
    );
    let (_, status, _) = login_as(&p, "bob").await;
    assert_eq!(status, 303, "bob's membership is public");
    // Every check went through the public membership check (the 302).
    assert_eq!(
        p.mock.count(Endpoint::OrgMember),
        p.mock.count(Endpoint::PublicMember)
    );
}

#[tokio::test]
async fn team_entry_allows_active_team_members_only() {
    let p =
        pair("scope = [\"read:org\"]\nallowed_organizations = [\"jupyterhub:operators\"]\n").await;
    let (_, status, _) = login_as(&p, "alice").await;
    assert_eq!(status, 303, "an active member of the team");
    let (_, status, _) = login_as(&p, "dave").await;
    assert_eq!(
        status, 403,
        "dave's team invitation is pending: not a member"
    );
    let (_, status, _) = login_as(&p, "bob").await;
    assert_eq!(status, 403, "in the organization, not in the team");
    let (_, status, _) = login_as(&p, "carol").await;
    assert_eq!(status, 403, "not in the organization");
    assert_eq!(
        p.mock.count(Endpoint::OrgMember),
        0,
        "team entries ask about the team"
    );
    assert!(p.mock.count(Endpoint::TeamMembership) >= 4);
}

#[tokio::test]
async fn team_entry_without_read_org_refuses_everyone() {
    let p = pair("allowed_organizations = [\"jupyterhub:operators\"]\n").await;
    let (_, status, _) = login_as(&p, "alice").await;
    assert_eq!(
        status, 403,
        "GitHub answers 404 for team memberships without read:org"
    );
}

#[tokio::test]
async fn any_entry_allows_and_admin_and_blocked_users_still_apply() {
    let p = pair(
        "scope = [\"read:org\"]\nallowed_organizations = [\"other-org\", \"jupyterhub:operators\"]\nadmin_users = [\"bob\"]\nblocked_users = [\"admin\"]\n",
    )
    .await;
    let (_, status, _) = login_as(&p, "carol").await;
    assert_eq!(status, 303, "the first entry");
    let (_, status, _) = login_as(&p, "alice").await;
    assert_eq!(status, 303, "the second entry");
    let (_, status, _) = login_as(&p, "bob").await;
    assert_eq!(status, 303, "admin_users are allowed");
    assert!(stored_user(&p, "bob").await.unwrap().admin);
    let (c, status, _) = login_as(&p, "admin").await;
    assert_eq!(status, 403, "blocked_users wins over membership");
    assert_eq!(home(&c, &p).await, 302);
}

#[tokio::test]
async fn membership_is_checked_for_the_github_login_not_the_mapped_hub_name() {
    // carol is not a member; username_map makes her hub user "alice", a member's name.
    // Upstream asked GitHub about "alice" and let carol in.
    let p = pair(
        "scope = [\"read:org\"]\nallowed_organizations = [\"jupyterhub\"]\nusername_map = { carol = \"alice\" }\n",
    )
    .await;
    let (_, status, _) = login_as(&p, "carol").await;
    assert_eq!(status, 403);
    let requests = p.mock.requests_to(Endpoint::OrgMember);
    assert!(
        requests.iter().all(|r| r.path.ends_with("/members/carol")),
        "{requests:?}"
    );
    assert!(stored_user(&p, "alice").await.is_none());
}

#[tokio::test]
async fn admin_from_teams_through_populate_teams_and_managed_groups() {
    let p = pair(
        "scope = [\"read:org\"]\nallowed_organizations = [\"jupyterhub:operators\"]\npopulate_teams_in_auth_state = true\nmanage_groups = true\nauth_state_groups_key = { script = \"auth_state.teams.map(|t| t.organization.login + \\\":\\\" + t.slug)\" }\nadmin_groups = [\"jupyterhub:admins\"]\n",
    )
    .await;
    let (_, status, body) = login_as(&p, "admin").await;
    assert_eq!(status, 303, "{body}");
    let admin = stored_user(&p, "admin").await.unwrap();
    assert!(admin.admin, "a member of the admins team");
    let mut groups = admin.groups.clone();
    groups.sort();
    assert_eq!(groups, ["jupyterhub:admins", "jupyterhub:operators"]);
    let (_, status, _) = login_as(&p, "alice").await;
    assert_eq!(status, 303);
    assert!(!stored_user(&p, "alice").await.unwrap().admin);
    let state = auth_state(&p, "alice").await;
    let teams = state["teams"].as_array().unwrap();
    assert_eq!(teams.len(), 1);
    assert_eq!(teams[0]["slug"], "operators");
    assert_eq!(teams[0]["organization"]["login"], ORG);
}

#[tokio::test]
async fn populate_teams_follows_every_page() {
    let p = pair("scope = [\"read:org\"]\nallow_all = true\npopulate_teams_in_auth_state = true\n")
        .await;
    p.mock.set_page_limit(2);
    let (_, status, _) = login_as(&p, "tess").await;
    assert_eq!(status, 303);
    let teams = auth_state(&p, "tess").await["teams"].clone();
    let slugs: Vec<&str> = teams
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["team-0", "team-1", "team-2", "team-3", "team-4"]);
    assert_eq!(p.mock.count(Endpoint::Teams), 3, "three pages of two");
    let requests = p.mock.requests_to(Endpoint::Teams);
    assert_eq!(requests[0].query_value("per_page"), Some("100"));
    assert_eq!(requests[2].query_value("page"), Some("3"));
}

#[tokio::test]
async fn populate_teams_without_read_org_logs_in_without_teams() {
    let p = pair("allow_all = true\npopulate_teams_in_auth_state = true\n").await;
    let warnings = p.hub.state().authenticator.startup_warnings().join("\n");
    assert!(
        warnings.contains("populate_teams_in_auth_state"),
        "{warnings}"
    );
    let (_, status, _) = login_as(&p, "alice").await;
    assert_eq!(status, 303);
    assert!(auth_state(&p, "alice").await.get("teams").is_none());
    assert_eq!(p.mock.count(Endpoint::Teams), 0);
}

// ------------------------------------------------------------------ user info and emails

#[tokio::test]
async fn username_is_the_login_and_auth_state_has_githubs_answers() {
    let p = pair("allow_all = true\nscope = [\"read:org\", \"user:email\"]\n").await;
    let (_, status, _) = login_as(&p, "alice").await;
    assert_eq!(status, 303);
    let state = auth_state(&p, "alice").await;
    assert_eq!(state["github_user"]["login"], "alice");
    assert!(state["github_user"]["id"].is_u64());
    assert_eq!(state["scope"], json!(["read:org", "user:email"]));
    assert_eq!(state["token_response"]["token_type"], "bearer");
    assert!(state["access_token"].as_str().unwrap().starts_with("gho_"));
    assert!(
        state["refresh_token"].is_null(),
        "OAuth app tokens have none"
    );
}

#[tokio::test]
async fn private_email_comes_from_user_emails_with_the_user_email_scope() {
    let p = pair("allow_all = true\nscope = [\"user:email\"]\n").await;
    let (_, status, _) = login_as(&p, "alice").await;
    assert_eq!(status, 303);
    let user = auth_state(&p, "alice").await["github_user"].clone();
    assert_eq!(
        user["email"], "alice@users.example.org",
        "the primary email"
    );
    assert_eq!(user["email_verified"], true);
    assert_eq!(p.mock.count(Endpoint::Emails), 1);
    // A public email is kept as it is, without asking for the list.
    let (_, status, _) = login_as(&p, "frank").await;
    assert_eq!(status, 303);
    assert_eq!(
        auth_state(&p, "frank").await["github_user"]["email"],
        "frank@example.org"
    );
    assert_eq!(p.mock.count(Endpoint::Emails), 1);

    // Without user:email (or user), the list is never asked for.
    let p = pair("allow_all = true\n").await;
    let (_, status, _) = login_as(&p, "alice").await;
    assert_eq!(status, 303);
    assert!(auth_state(&p, "alice").await["github_user"]["email"].is_null());
    assert_eq!(p.mock.count(Endpoint::Emails), 0);

    // `user` includes user:email.
    let p = pair("allow_all = true\nscope = [\"user\"]\n").await;
    let (_, status, _) = login_as(&p, "alice").await;
    assert_eq!(status, 303);
    assert_eq!(p.mock.count(Endpoint::Emails), 1);
}

#[tokio::test]
async fn email_username_needs_an_address_github_verified() {
    let p = pair("allow_all = true\nscope = [\"user:email\"]\nusername_claim = \"email\"\n").await;
    let (_, status, body) = login_as(&p, "alice").await;
    assert_eq!(status, 303, "{body}");
    assert!(stored_user(&p, "alice@users.example.org").await.is_some());
    // heidi's public email is one GitHub has not verified.
    p.mock.update_user("heidi", |u| {
        u.public_email = Some("heidi@old.example.org".into());
    });
    let (_, status, body) = login_as(&p, "heidi").await;
    assert_eq!(status, 403);
    assert!(
        unescape(&body)
            .contains("Login with unverified email heidi@old.example.org is not allowed"),
        "{body}"
    );

    // Without a scope to ask GitHub, the hub warns at start and refuses.
    let p = pair("allow_all = true\nusername_claim = \"email\"\n").await;
    let warnings = p.hub.state().authenticator.startup_warnings().join("\n");
    assert!(warnings.contains("user:email"), "{warnings}");
    let (_, status, _) = login_as(&p, "frank").await;
    assert_eq!(status, 403, "frank's public email cannot be checked");
}

#[tokio::test]
async fn unverified_primary_email_gets_no_token_from_github() {
    let p = pair("allow_all = true\n").await;
    let (c, status, body) = login_as(&p, "grace").await;
    assert_eq!(status, 403, "{body}");
    assert!(
        unescape(&body).contains("The user must have a verified primary email"),
        "{body}"
    );
    assert_eq!(home(&c, &p).await, 302);
}

// ------------------------------------------------------------------ refresh

#[tokio::test]
async fn refresh_rechecks_membership_with_the_same_token() {
    let p = pair("scope = [\"read:org\"]\nallowed_organizations = [\"jupyterhub\"]\n").await;
    let (c, status, _) = login_as(&p, "alice").await;
    assert_eq!(status, 303);
    let token = auth_state(&p, "alice").await["access_token"].clone();
    let user_calls = p.mock.count(Endpoint::User);
    let member_calls = p.mock.count(Endpoint::OrgMember);
    // Within auth_refresh_age: GitHub is not asked.
    p.clock.advance(60);
    assert_eq!(home(&c, &p).await, 200);
    assert_eq!(p.mock.count(Endpoint::User), user_calls);
    // After it: /user and the membership again, with the token of the login (OAuth app
    // tokens do not expire), and no token request.
    p.clock.advance(300);
    assert_eq!(home(&c, &p).await, 200);
    assert_eq!(p.mock.count(Endpoint::User), user_calls + 1);
    assert_eq!(p.mock.count(Endpoint::OrgMember), member_calls + 1);
    assert_eq!(auth_state(&p, "alice").await["access_token"], token);
    // Removed from the organization at GitHub: access ends at the next refresh.
    p.mock.remove_from_org("alice", ORG);
    p.clock.advance(301);
    assert_eq!(home(&c, &p).await, 302);
    assert_eq!(
        p.mock.requests_to(Endpoint::Token).len(),
        1,
        "only the login's code exchange"
    );
}

#[tokio::test]
async fn refresh_with_a_revoked_token_requires_a_new_login() {
    let p = pair("allow_all = true\n").await;
    let (c, status, _) = login_as(&p, "alice").await;
    assert_eq!(status, 303);
    p.mock.revoke_tokens_of("alice");
    p.clock.advance(301);
    assert_eq!(home(&c, &p).await, 302, "GitHub answers 401: log in again");
}

#[tokio::test]
async fn github_app_expiring_token_is_renewed_with_its_rotating_refresh_token() {
    let p = try_pair_with(
        "GitHubOAuthenticator",
        "scope = [\"read:org\"]\nallowed_organizations = [\"jupyterhub\"]\n",
        |b| b.expiring_user_tokens(true),
    )
    .await
    .unwrap();
    let (c, status, _) = login_as(&p, "alice").await;
    assert_eq!(status, 303);
    let before = auth_state(&p, "alice").await;
    let old_refresh = before["refresh_token"].as_str().unwrap().to_owned();
    assert!(old_refresh.starts_with("ghr_"));
    assert_eq!(before["token_response"]["expires_in"], 28800);
    assert_eq!(
        before["token_response"]["refresh_token_expires_in"],
        15_811_200
    );
    // Eight hours later the access token has expired at GitHub.
    p.mock.expire_access_tokens();
    p.clock.advance(301);
    assert_eq!(home(&c, &p).await, 200, "renewed with the refresh token");
    let token_requests = p.mock.requests_to(Endpoint::Token);
    assert_eq!(
        token_requests.last().unwrap().form_value("grant_type"),
        Some("refresh_token")
    );
    let after = auth_state(&p, "alice").await;
    let new_refresh = after["refresh_token"].as_str().unwrap();
    assert_ne!(new_refresh, old_refresh, "GitHub rotates refresh tokens");
    assert!(!p.mock.live_tokens().contains(&old_refresh));
    // The membership was checked with the new token, and still counts.
    p.mock.remove_from_org("alice", ORG);
    p.mock.expire_access_tokens();
    p.clock.advance(301);
    assert_eq!(
        home(&c, &p).await,
        302,
        "renewed, then refused by the rules"
    );
}

#[tokio::test]
async fn github_app_refresh_token_refused_requires_a_new_login() {
    let p = try_pair_with("GitHubOAuthenticator", "allow_all = true\n", |b| {
        b.expiring_user_tokens(true)
    })
    .await
    .unwrap();
    let (c, status, _) = login_as(&p, "alice").await;
    assert_eq!(status, 303);
    p.mock.revoke_tokens_of("alice");
    p.clock.advance(301);
    assert_eq!(
        home(&c, &p).await,
        302,
        "bad_refresh_token (HTTP 200): log in again"
    );
}

// ------------------------------------------------------------------ GitHub down or wrong

#[tokio::test]
async fn github_down_or_answering_garbage_at_login_is_a_502_and_no_session() {
    let p =
        pair("scope = [\"read:org\", \"user:email\"]\nallowed_organizations = [\"jupyterhub\"]\n")
            .await;
    let cases: [(Endpoint, Fault); 5] = [
        (Endpoint::Token, Fault::Status(500, "boom".into())),
        (Endpoint::User, Fault::Garbage),
        (Endpoint::Emails, Fault::EmptyBody),
        (
            Endpoint::OrgMember,
            Fault::Status(502, "<html>bad gateway</html>".into()),
        ),
        (Endpoint::OrgMember, Fault::Garbage),
    ];
    for (endpoint, fault) in cases {
        p.mock.fail_next(endpoint, fault.clone());
        let (c, status, _) = login_as(&p, "alice").await;
        // A 200 from the membership check (garbage) is not one of GitHub's documented
        // answers (204, 302, 404): an error, never taken for a yes.
        assert_eq!(status, 502, "{endpoint:?} {fault:?}");
        assert_eq!(home(&c, &p).await, 302, "no session after {endpoint:?}");
    }
    p.mock.set_down(Endpoint::User, true);
    let (_, status, _) = login_as(&p, "alice").await;
    assert_eq!(status, 502);
    p.mock.set_down(Endpoint::User, false);
    let (_, status, _) = login_as(&p, "alice").await;
    assert_eq!(status, 303, "back to normal");
}

#[tokio::test]
async fn team_membership_with_an_unknown_state_is_refused() {
    let p =
        pair("scope = [\"read:org\"]\nallowed_organizations = [\"jupyterhub:operators\"]\n").await;
    p.mock.fail_next(
        Endpoint::TeamMembership,
        Fault::Status(200, "{\"role\": \"member\", \"state\": \"Active\"}".into()),
    );
    let (_, status, _) = login_as(&p, "alice").await;
    assert_eq!(status, 502, "\"Active\" is not GitHub's \"active\"");
    p.mock.fail_next(
        Endpoint::TeamMembership,
        Fault::Status(200, "{\"role\": \"member\"}".into()),
    );
    let (_, status, _) = login_as(&p, "alice").await;
    assert_eq!(status, 502, "no state");
    let (_, status, _) = login_as(&p, "alice").await;
    assert_eq!(status, 303);
}

#[tokio::test]
async fn github_outage_at_refresh_keeps_the_session_but_a_membership_outage_ends_it() {
    let p = pair("scope = [\"read:org\"]\nallowed_organizations = [\"jupyterhub\"]\n").await;
    let (c, status, _) = login_as(&p, "alice").await;
    assert_eq!(status, 303);
    // /user is down: the refresh is retried later, the session stays.
    p.mock.set_down(Endpoint::User, true);
    p.clock.advance(301);
    assert_eq!(home(&c, &p).await, 200);
    p.mock.set_down(Endpoint::User, false);
    // The membership cannot be checked: fail closed, the session ends.
    p.mock.set_down(Endpoint::OrgMember, true);
    p.clock.advance(301);
    assert_eq!(home(&c, &p).await, 302);
}

#[tokio::test]
async fn token_endpoint_errors_sent_with_http_200_are_refusals() {
    // A hub whose client secret is not the app's: GitHub answers HTTP 200 with
    // `incorrect_client_credentials`.
    let site = Loopback::bind().await.unwrap();
    let origin = site.origin().to_owned();
    let mock = GitHubMock::builder()
        .client("hub-client", "right", &site.callback_url())
        .user(MockUser::new("alice"))
        .start()
        .await
        .unwrap();
    let table = format!(
        "[GitHubOAuthenticator]\nclient_id = \"hub-client\"\nclient_secret = \"wrong\"\n{}allow_all = true\n",
        mock.toml_urls()
    );
    let p = provider()
        .serve(site, mock, "GitHubOAuthenticator", &table)
        .await
        .unwrap();
    let (c, status, body) = login_as(&p, "alice").await;
    assert_eq!(status, 403, "{body}");
    assert!(
        unescape(&body).contains("The client_id and/or client_secret passed are incorrect."),
        "{body}"
    );
    assert!(!body.contains("wrong"), "the secret is not shown");
    let home = c
        .get(format!("{origin}/hub/home"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(home, 302);
}

// ------------------------------------------------------------------ Enterprise, Local, demo

#[tokio::test]
async fn enterprise_server_serves_the_api_under_api_v3() {
    let p = try_pair_with(
        "GitHubOAuthenticator",
        "scope = [\"read:org\"]\nallowed_organizations = [\"jupyterhub:operators\"]\n",
        |b| b.enterprise(true),
    )
    .await
    .unwrap();
    assert!(!p.mock.toml_urls().contains("github_api"), "derived");
    let url = authorize_url(&client(), &p.hub_url).await;
    assert!(url.as_str().starts_with(&p.mock.authorize_url()), "{url}");
    let (_, status, _) = login_as(&p, "alice").await;
    assert_eq!(status, 303);
    for request in p.mock.requests() {
        if matches!(
            request.endpoint,
            Some(Endpoint::User | Endpoint::TeamMembership)
        ) {
            assert!(request.path.starts_with("/api/v3/"), "{}", request.path);
        }
    }
    assert_eq!(p.mock.count(Endpoint::TeamMembership), 1);
}

#[tokio::test]
async fn local_github_admits_github_users_who_are_system_users() {
    let p = try_pair_with(
        "LocalGitHubOAuthenticator",
        "create_system_users = false\nallow_all = true\n",
        |b| b.user(MockUser::new("nobody")),
    )
    .await
    .unwrap();
    assert_eq!(
        p.hub.state().authenticator.class_name(),
        "LocalGitHubOAuthenticator"
    );
    // `nobody` has a system account on every Unix; alice has none, and
    // create_system_users is off, so her login fails as upstream's does.
    let (_, status, body) = login_as(&p, "nobody").await;
    assert_eq!(status, 303, "{body}");
    let (c, status, _) = login_as(&p, "alice").await;
    assert_ne!(status, 303);
    assert_eq!(home(&c, &p).await, 302);
}

#[tokio::test]
async fn demo_mock_table_logs_the_demo_users_in_and_out() {
    let site = Loopback::bind().await.unwrap();
    let (mock, table) = hubauth_github::mock::start_demo_mock(&site.callback_url())
        .await
        .unwrap();
    assert!(table.starts_with("[GitHubOAuthenticator]\n"), "{table}");
    let tables = hubauth_harness::demo_tables("GitHubOAuthenticator", &table);
    let p = provider()
        .serve(site, mock, "GitHubOAuthenticator", &tables)
        .await
        .unwrap();
    let (mock, hub_url) = (&p.mock, p.hub_url.clone());
    let store = &p.hub.state().store;
    let (_, status, page) = login_as(&p, "alice").await;
    assert_eq!(status, 303, "{page}");
    assert!(!store.get_user("alice").await.unwrap().unwrap().admin);
    let (_, status, _) = login_as(&p, "admin").await;
    assert_eq!(status, 303);
    assert!(store.get_user("admin").await.unwrap().unwrap().admin);
    for refused in ["bob", "mallory"] {
        let (_, status, _) = login_as(&p, refused).await;
        assert_eq!(status, 403, "{refused}");
    }
    // Without auto-approve the mock shows its user picker.
    mock.set_auto_approve(None);
    let c = client();
    let authorize = authorize_url(&c, &hub_url).await;
    let page = c
        .get(authorize.as_str())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("mallory"), "{page}");
}
