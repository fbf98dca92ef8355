//! GitLabOAuthenticator end to end over loopback HTTP: a real hub (SQLite, cookies,
//! sessions) against the GitLab mock, one test per rule and per failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_devidp::mock::ClientAuth;
use hubauth_gitlab::mock::{Endpoint, Fault, access};
use serde_json::json;

use super::common::{
    ADA, BEN, CLEO, PROJECT, auth_state, client, home, is_admin, location, login_as, pair,
    serve_hub, try_pair_with,
};

fn paths(p: &super::common::Pair, endpoint: Endpoint) -> Vec<String> {
    p.mock
        .requests_to(endpoint)
        .into_iter()
        .map(|r| r.path)
        .collect()
}

#[tokio::test]
async fn members_of_an_allowed_subgroup_log_in_and_others_are_refused() {
    let p = pair("allowed_gitlab_groups = [\"physics/hpc\"]\n").await;
    // A direct member.
    let (c, status, body) = login_as(&p, "ada").await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(home(&c, &p).await, 200);
    // The subgroup's full path travels as one segment, "/" encoded once (F17).
    assert_eq!(
        paths(&p, Endpoint::GroupMembers),
        vec![format!("/api/v4/groups/physics%2Fhpc/members/all/{ADA}")]
    );
    // A member through the parent group only.
    let (_, status, body) = login_as(&p, "ben").await;
    assert_eq!(status, 303, "{body}");
    // Not a member; a membership awaiting approval; a member of another group.
    for outsider in ["eve", "fay", "hal"] {
        let (c, status, _) = login_as(&p, outsider).await;
        assert_eq!(status, 403, "{outsider}");
        assert_eq!(home(&c, &p).await, 302, "{outsider} has no session");
    }
    // GitLab's version is asked once, as upstream memoizes it.
    assert_eq!(p.mock.count(Endpoint::Version), 1);
    assert_eq!(p.mock.count(Endpoint::ProjectMembers), 0);
    // The user from /user is kept under gitlab_user, the username is GitLab's.
    let state = auth_state(&p, "ada").await;
    assert_eq!(state["gitlab_user"]["id"], json!(ADA));
    assert_eq!(state["gitlab_user"]["username"], json!("ada"));
    assert!(state["refresh_token"].is_string());
}

#[tokio::test]
async fn developers_of_an_allowed_project_log_in_and_guests_are_refused() {
    let p = pair(&format!("allowed_project_ids = [\"{PROJECT}\"]\n")).await;
    let (_, status, body) = login_as(&p, "cleo").await;
    assert_eq!(status, 303, "Developer: {body}");
    // Maintainer of the project's group: inherited access counts.
    let (_, status, body) = login_as(&p, "gus").await;
    assert_eq!(status, 303, "inherited Maintainer: {body}");
    // Guest of the project, and someone who is not a member.
    for refused in ["dan", "eve"] {
        let (_, status, _) = login_as(&p, refused).await;
        assert_eq!(status, 403, "{refused}");
    }
    assert_eq!(
        paths(&p, Endpoint::ProjectMembers)[0],
        format!("/api/v4/projects/{PROJECT}/members/all/{CLEO}")
    );
    // A Developer demoted to Reporter is refused at the next login.
    p.mock
        .set_project_member(PROJECT, CLEO, Some(access::REPORTER));
    let (_, status, _) = login_as(&p, "cleo").await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn groups_are_asked_before_projects_and_the_first_match_ends_the_checks() {
    let p = pair(&format!(
        "allowed_gitlab_groups = [\"chemistry\", \"physics/hpc\"]\nallowed_project_ids = [\"{PROJECT}\", \"9999\"]\n"
    ))
    .await;
    // ada: chemistry (404), then physics/hpc (member): no project is asked.
    let (_, status, _) = login_as(&p, "ada").await;
    assert_eq!(status, 303);
    assert_eq!(p.mock.count(Endpoint::GroupMembers), 2);
    assert_eq!(p.mock.count(Endpoint::ProjectMembers), 0);
    // cleo: both groups, then project 500 (Developer): project 9999 is not asked.
    let (_, status, _) = login_as(&p, "cleo").await;
    assert_eq!(status, 303);
    assert_eq!(p.mock.count(Endpoint::GroupMembers), 4);
    assert_eq!(p.mock.count(Endpoint::ProjectMembers), 1);
    // eve: everything, a project that does not exist included (404: not allowed).
    let (_, status, _) = login_as(&p, "eve").await;
    assert_eq!(status, 403);
    assert_eq!(p.mock.count(Endpoint::ProjectMembers), 3);
}

#[tokio::test]
async fn allowed_users_and_admin_users_are_let_in_without_asking_gitlab() {
    let p = pair("allowed_gitlab_groups = [\"physics/hpc\"]\nallowed_users = [\"eve\"]\nadmin_users = [\"hal\"]\n").await;
    let (_, status, _) = login_as(&p, "eve").await;
    assert_eq!(status, 303);
    let (_, status, _) = login_as(&p, "hal").await;
    assert_eq!(status, 303);
    assert_eq!(is_admin(&p, "hal").await, Some(true));
    assert_eq!(is_admin(&p, "eve").await, Some(false));
    assert_eq!(p.mock.count(Endpoint::GroupMembers), 0);
    assert_eq!(p.mock.count(Endpoint::Version), 0);
    // A group member is not made an admin by the group (upstream has no admin groups).
    let (_, status, _) = login_as(&p, "ada").await;
    assert_eq!(status, 303);
    assert_eq!(is_admin(&p, "ada").await, Some(false));
}

#[tokio::test]
async fn blocked_users_are_refused_even_as_group_members() {
    let p = pair("allowed_gitlab_groups = [\"physics/hpc\"]\nblocked_users = [\"ada\"]\n").await;
    let (_, status, _) = login_as(&p, "ada").await;
    assert_eq!(status, 403);
    assert_eq!(
        p.mock.count(Endpoint::GroupMembers),
        0,
        "GitLab is not asked"
    );
    let (_, status, _) = login_as(&p, "ben").await;
    assert_eq!(status, 303);
}

#[tokio::test]
async fn a_gitlab_older_than_12_4_is_asked_about_direct_members_only() {
    let p = try_pair_with(
        "GitLabOAuthenticator",
        "scope = [\"read_user\", \"read_api\"]\nallowed_gitlab_groups = [\"physics/hpc\"]\n",
        &["read_user", "read_api"],
        |b| b.version("12.3.2-ee"),
    )
    .await
    .unwrap();
    let (_, status, _) = login_as(&p, "ada").await;
    assert_eq!(status, 303);
    assert_eq!(
        paths(&p, Endpoint::GroupMembers),
        vec![format!("/api/v4/groups/physics%2Fhpc/members/{ADA}")]
    );
    // ben is a member through the parent group only, which this GitLab cannot tell.
    let (_, status, _) = login_as(&p, "ben").await;
    assert_eq!(status, 403);
    assert_eq!(
        paths(&p, Endpoint::GroupMembers)[1],
        format!("/api/v4/groups/physics%2Fhpc/members/{BEN}")
    );
}

#[tokio::test]
async fn refresh_rechecks_membership_and_ends_the_sessions_of_a_removed_member() {
    let p = pair("allowed_gitlab_groups = [\"physics/hpc\"]\nauth_refresh_age = 10\n").await;
    let (c, status, _) = login_as(&p, "ada").await;
    assert_eq!(status, 303);
    let checks = p.mock.count(Endpoint::GroupMembers);
    // Within auth_refresh_age: nothing is asked.
    p.clock.advance(5);
    assert_eq!(home(&c, &p).await, 200);
    assert_eq!(p.mock.count(Endpoint::GroupMembers), checks);
    // Past it: /user again with the stored token, and the membership again.
    p.clock.advance(6);
    assert_eq!(home(&c, &p).await, 200);
    assert_eq!(p.mock.count(Endpoint::GroupMembers), checks + 1);
    // Removed from the group at GitLab: the next refresh ends every session (F7).
    let (second, _, _) = login_as(&p, "ada").await;
    p.mock.set_group_member("physics/hpc", ADA, None);
    p.clock.advance(11);
    assert_eq!(home(&c, &p).await, 302);
    assert_eq!(home(&second, &p).await, 302, "all of ada's sessions end");
    let (_, status, _) = login_as(&p, "ada").await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn after_two_hours_refresh_uses_the_rotated_refresh_token() {
    let p = pair("allowed_gitlab_groups = [\"physics/hpc\"]\nauth_refresh_age = 10\n").await;
    let (c, status, _) = login_as(&p, "ada").await;
    assert_eq!(status, 303);
    let before = auth_state(&p, "ada").await;
    // GitLab's access tokens expire after two hours; the refresh token still works.
    p.mock.expire_access_tokens();
    p.clock.advance(11);
    assert_eq!(home(&c, &p).await, 200);
    let grants: Vec<String> = p
        .mock
        .requests_to(Endpoint::Token)
        .iter()
        .filter_map(|r| r.grant_type().map(str::to_owned))
        .collect();
    assert_eq!(grants, vec!["authorization_code", "refresh_token"]);
    let after = auth_state(&p, "ada").await;
    assert_ne!(before["access_token"], after["access_token"]);
    assert_ne!(
        before["refresh_token"], after["refresh_token"],
        "GitLab rotates refresh tokens"
    );
    // The membership was checked with the new token, and the old pair is dead.
    assert_eq!(
        p.mock.live_access_tokens("ada"),
        vec![after["access_token"].as_str().unwrap().to_owned()]
    );
    // Expired again, and the user since removed from the group: refused at refresh.
    p.mock.expire_access_tokens();
    p.mock.set_group_member("physics/hpc", ADA, None);
    p.clock.advance(11);
    assert_eq!(home(&c, &p).await, 302);
}

#[tokio::test]
async fn revoked_authorization_or_a_blocked_account_ends_the_session_at_refresh() {
    let p = pair("allow_all = true\nauth_refresh_age = 10\n").await;
    let (c, status, _) = login_as(&p, "eve").await;
    assert_eq!(status, 303);
    // eve revokes the hub's access in her GitLab settings: /user answers 401 and the
    // refresh token is refused, so a new login is needed.
    p.mock.revoke_user_tokens("eve");
    p.clock.advance(11);
    assert_eq!(home(&c, &p).await, 302);
    // An administrator blocks hal: GitLab refuses his tokens and his logins.
    let (c, status, _) = login_as(&p, "hal").await;
    assert_eq!(status, 303);
    p.mock.set_blocked("hal", true);
    p.clock.advance(11);
    assert_eq!(home(&c, &p).await, 302);
    p.mock.set_auto_approve(Some("hal"));
    let c = client();
    let start = hubauth_harness::start_login(&c, &p).await;
    let back = location(&c.get(location(&start)).send().await.unwrap());
    assert!(back.contains("error=access_denied"), "{back}");
}

#[tokio::test]
async fn gitlab_down_refuses_a_login_but_keeps_a_session_until_it_answers_again() {
    let p = pair("allowed_gitlab_groups = [\"physics/hpc\"]\nauth_refresh_age = 10\n").await;
    // At login, a failed membership check is a 502, never a session.
    p.mock
        .fail_next(Endpoint::GroupMembers, Fault::Status(500, "boom".into()));
    let (c, status, body) = login_as(&p, "ada").await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("GitLab group membership request"), "{body}");
    assert_eq!(home(&c, &p).await, 302);
    // Logged in; then the members API goes down: refreshes keep the session (an outage
    // is not a logout) and are retried.
    let (c, status, _) = login_as(&p, "ada").await;
    assert_eq!(status, 303);
    p.mock.set_down(Endpoint::GroupMembers, true);
    p.clock.advance(11);
    assert_eq!(home(&c, &p).await, 200);
    p.clock.advance(11);
    assert_eq!(home(&c, &p).await, 200);
    // Back up, and ada was removed meanwhile: the first refresh that can ask ends it.
    p.mock.set_group_member("physics/hpc", ADA, None);
    p.mock.set_down(Endpoint::GroupMembers, false);
    p.clock.advance(11);
    assert_eq!(home(&c, &p).await, 302);
    // All of GitLab down at login: the user endpoint's failure is a 502 too.
    p.mock.set_down(Endpoint::User, true);
    let (_, status, _) = login_as(&p, "ben").await;
    assert_eq!(status, 502);
}

#[tokio::test]
async fn membership_answers_that_cannot_be_read_exactly_refuse_the_login() {
    let p = pair(&format!(
        "allowed_gitlab_groups = [\"physics/hpc\"]\nallowed_project_ids = [\"{PROJECT}\"]\n"
    ))
    .await;
    let member = |id: u64, level: serde_json::Value| {
        json!({"id": id, "username": "x", "state": "active", "access_level": level}).to_string()
    };
    let group_faults = [
        Fault::Garbage,
        Fault::EmptyBody,
        // A 200 about another user.
        Fault::Status(200, member(BEN, json!(30))),
        // A 200 that is not a member object.
        Fault::Status(200, json!([{"id": ADA}]).to_string()),
        Fault::Status(429, json!({"message": "Retry later"}).to_string()),
    ];
    for fault in group_faults {
        p.mock.fail_next(Endpoint::GroupMembers, fault.clone());
        let (c, status, body) = login_as(&p, "ada").await;
        assert_eq!(status, 502, "{fault:?}: {body}");
        assert_eq!(home(&c, &p).await, 302);
    }
    // A Developer's access level that is not an integer.
    for level in [json!("30"), json!(30.0), json!(null)] {
        p.mock.fail_next(
            Endpoint::ProjectMembers,
            Fault::Status(200, member(CLEO, level.clone())),
        );
        let (_, status, _) = login_as(&p, "cleo").await;
        assert_eq!(status, 502, "{level}");
    }
    // Readable answers again: both log in.
    assert_eq!(login_as(&p, "ada").await.1, 303);
    assert_eq!(login_as(&p, "cleo").await.1, 303);
}

#[tokio::test]
async fn a_version_that_does_not_parse_refuses_and_is_asked_again() {
    let p = pair("allowed_gitlab_groups = [\"physics/hpc\"]\n").await;
    for answer in [json!({"version": "banana"}), json!({"revision": "abc"})] {
        p.mock
            .fail_next(Endpoint::Version, Fault::Status(200, answer.to_string()));
        let (_, status, body) = login_as(&p, "ada").await;
        assert_eq!(status, 502, "{answer}: {body}");
        assert!(body.contains("GitLab version request"), "{body}");
    }
    assert_eq!(p.mock.count(Endpoint::GroupMembers), 0, "never guessed");
    assert_eq!(login_as(&p, "ada").await.1, 303);
    assert_eq!(p.mock.count(Endpoint::Version), 3);
}

#[tokio::test]
async fn a_token_without_read_api_gets_a_refusal_that_names_the_scope() {
    let p = pair("allowed_gitlab_groups = [\"physics/hpc\"]\n").await;
    p.mock.fail_next(
        Endpoint::Version,
        Fault::Status(
            403,
            json!({"error": "insufficient_scope", "error_description": "x", "scope": "api read_api"})
                .to_string(),
        ),
    );
    let (_, status, body) = login_as(&p, "ada").await;
    assert_eq!(status, 403);
    assert!(body.contains("read_api"), "{body}");
}

#[tokio::test]
async fn token_and_user_endpoint_failures_are_clear_and_leave_no_session() {
    let p = pair("allow_all = true\n").await;
    p.mock.fail_next(
        Endpoint::Token,
        Fault::Status(
            400,
            json!({"error": "invalid_grant", "error_description": "The grant is invalid"})
                .to_string(),
        ),
    );
    let (c, status, body) = login_as(&p, "eve").await;
    assert_eq!(status, 403);
    assert!(body.contains("An access token was not returned"), "{body}");
    assert_eq!(home(&c, &p).await, 302);
    p.mock.fail_next(Endpoint::User, Fault::Garbage);
    let (_, status, _) = login_as(&p, "eve").await;
    assert_eq!(status, 502);
    p.mock.fail_next(
        Endpoint::User,
        Fault::Status(401, json!({"message": "401 Unauthorized"}).to_string()),
    );
    let (_, status, _) = login_as(&p, "eve").await;
    assert_eq!(status, 403);
    assert_eq!(login_as(&p, "eve").await.1, 303);
}

#[tokio::test]
async fn the_client_authenticates_in_the_body_or_with_basic_auth_as_configured() {
    // Doorkeeper reads HTTP Basic first, then the body: both work against GitLab.
    for (extra, expected) in [
        ("", ClientAuth::Body),
        ("basic_auth = true\n", ClientAuth::Basic),
    ] {
        let p = pair(&format!("allow_all = true\nauth_refresh_age = 10\n{extra}")).await;
        let (c, status, _) = login_as(&p, "eve").await;
        assert_eq!(status, 303, "{extra}");
        p.mock.expire_access_tokens();
        p.clock.advance(11);
        assert_eq!(home(&c, &p).await, 200);
        let token_requests = p.mock.requests_to(Endpoint::Token);
        assert_eq!(token_requests.len(), 2, "code, then refresh");
        for request in token_requests {
            assert_eq!(request.client_auth(), expected, "{extra}");
        }
    }
}

#[tokio::test]
async fn an_empty_scope_asks_gitlab_for_api_which_an_application_without_it_refuses() {
    let p = try_pair_with(
        "GitLabOAuthenticator",
        "allow_all = true\n",
        &["read_user", "read_api"],
        |b| b,
    )
    .await
    .unwrap();
    let c = client();
    let start = hubauth_harness::start_login(&c, &p).await;
    let authorize = url::Url::parse(&location(&start)).unwrap();
    assert!(
        !authorize.query_pairs().any(|(k, _)| k == "scope"),
        "no scope parameter, as upstream"
    );
    let back = c.get(authorize.as_str()).send().await.unwrap();
    let callback = location(&back);
    assert!(callback.contains("error=invalid_scope"), "{callback}");
    let answer = c.get(&callback).send().await.unwrap();
    assert_eq!(answer.status(), 400);
    assert_eq!(home(&c, &p).await, 302);
    // Registered with api, the same hub logs in.
    let p = try_pair_with(
        "GitLabOAuthenticator",
        "allow_all = true\n",
        &["api"],
        |b| b,
    )
    .await
    .unwrap();
    assert_eq!(login_as(&p, "eve").await.1, 303);
    assert_eq!(auth_state(&p, "eve").await["scope"], json!(["api"]));
}

#[tokio::test]
async fn an_openid_id_token_is_verified_with_gitlabs_keys() {
    let p = try_pair_with(
        "GitLabOAuthenticator",
        "scope = [\"openid\", \"read_user\"]\njwks_url = \"@JWKS_URL@\"\nallow_all = true\n",
        &["openid", "read_user"],
        |b| b,
    )
    .await
    .unwrap();
    let (_, status, body) = login_as(&p, "eve").await;
    assert_eq!(status, 303, "{body}");
    assert!(auth_state(&p, "eve").await["id_token"].is_string());
    // A forged ID token is refused.
    p.mock.forge_id_tokens(true);
    let (c, status, _) = login_as(&p, "eve").await;
    assert_eq!(status, 403);
    assert_eq!(home(&c, &p).await, 302);
}

#[tokio::test]
async fn local_gitlab_logs_in_members_who_are_unix_users() {
    let p = try_pair_with(
        "LocalGitLabOAuthenticator",
        "scope = [\"read_user\", \"read_api\"]\nallowed_gitlab_groups = [\"physics/hpc\"]\ncreate_system_users = false\n",
        &["read_user", "read_api"],
        |b| b,
    )
    .await
    .unwrap();
    // `nobody` is a UNIX user of this machine and a member of the group.
    let (_, status, body) = login_as(&p, "nobody").await;
    assert_eq!(status, 303, "{body}");
    // ada is a member but no UNIX user, and create_system_users is off: the hub cannot
    // add her (upstream's add_user fails the same way), so she gets no session.
    let (c, status, _) = login_as(&p, "ada").await;
    assert_eq!(status, 500);
    assert_eq!(home(&c, &p).await, 302);
    // eve is neither a member nor a UNIX user.
    assert_eq!(login_as(&p, "eve").await.1, 403);
}

#[tokio::test]
async fn the_demo_mock_table_logs_the_demo_users_in() {
    let site = hubauth_harness::Loopback::bind().await.unwrap();
    let origin = site.origin().to_owned();
    let (mock, table) = hubauth_gitlab::mock::start_demo_mock(&site.callback_url())
        .await
        .unwrap();
    assert!(table.starts_with("[GitLabOAuthenticator]\n"));
    // The picker page lists the demo users (no auto-approve in the demo).
    let page = reqwest::get(format!(
        "{}/oauth/authorize?client_id=hubauth-demo&response_type=code&scope=read_user&redirect_uri={}",
        mock.gitlab_url(),
        url::form_urlencoded::byte_serialize(format!("{origin}/hub/oauth_callback").as_bytes())
            .collect::<String>()
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    for user in ["alice", "admin", "bob", "carol", "mallory"] {
        assert!(page.contains(user), "{page}");
    }
    // The demo's table as `hubauth demo` appends it, with auth_state on.
    let p = serve_hub(
        site,
        mock,
        "GitLabOAuthenticator",
        &format!("[Authenticator]\nenable_auth_state = true\n\n{table}"),
    )
    .await
    .unwrap();
    for (user, status) in [
        ("alice", 303),
        ("admin", 303),
        ("bob", 303),
        ("carol", 403),
        ("mallory", 403),
    ] {
        assert_eq!(login_as(&p, user).await.1, status, "{user}");
    }
    assert_eq!(is_admin(&p, "admin").await, Some(true));
    assert_eq!(is_admin(&p, "alice").await, Some(false));
    assert!(p.hub.state().authenticator.startup_warnings().is_empty());
}

#[tokio::test]
async fn a_refresh_user_hooks_model_is_still_checked_against_gitlab() {
    // The hook answers for the user instead of the OAuth refresh; the hub re-checks the
    // rules on its model, and the GitLab rules ask GitLab with the stored token.
    let p = pair(
        "allowed_gitlab_groups = [\"physics/hpc\"]\nauth_refresh_age = 10\nrefresh_user_hook = \"#{ name: user }\"\n",
    )
    .await;
    let (c, status, _) = login_as(&p, "ada").await;
    assert_eq!(status, 303);
    let checks = p.mock.count(Endpoint::GroupMembers);
    p.clock.advance(11);
    assert_eq!(home(&c, &p).await, 200);
    assert_eq!(p.mock.count(Endpoint::GroupMembers), checks + 1);
    assert_eq!(p.mock.count(Endpoint::User), 1, "the hook replaced /user");
    p.mock.set_group_member("physics/hpc", ADA, None);
    p.clock.advance(11);
    assert_eq!(home(&c, &p).await, 302);
}
