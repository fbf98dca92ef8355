//! BitbucketOAuthenticator end to end over loopback HTTP: a real hub against the mock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_bitbucket::mock::{Endpoint, Fault, MockWorkspace};
use serde_json::json;

use super::hub::{
    TEAM, auth_state, authorize_url, client, home, login_as, pair, stored_user, try_pair,
};

#[tokio::test]
async fn allowed_teams_admits_a_member_of_the_workspace() {
    let p = pair(&format!("allowed_teams = [\"{TEAM}\"]\n")).await;
    let (c, status, body) = login_as(&p, "alice").await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(home(&c, &p).await, 200);
    let state = auth_state(&p, "alice").await;
    assert_eq!(state["bitbucket_user"]["username"], "alice");
    assert_eq!(state["user_teams"], json!(["alice", TEAM]));
    assert_eq!(state["user_workspaces"][1]["name"], "Jupyter Team");
    assert!(state["access_token"].is_string());
    assert!(!stored_user(&p, "alice").await.unwrap().admin);
    // The workspaces were asked for members, a hundred per page.
    let asked = p.mock.requests_to(Endpoint::Workspaces);
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].query_value("role"), Some("member"));
    assert_eq!(asked[0].query_value("pagelen"), Some("100"));
}

#[tokio::test]
async fn allowed_teams_refuses_a_user_outside_the_workspace() {
    let p = pair(&format!("allowed_teams = [\"{TEAM}\"]\n")).await;
    let (c, status, _) = login_as(&p, "bob").await;
    assert_eq!(status, 403);
    assert_eq!(home(&c, &p).await, 302, "no session");
    assert!(stored_user(&p, "bob").await.is_none());
}

/// F17: upstream compared workspace display names, which are free text: mallory names a
/// workspace of her own "Jupyter Team" and is still refused.
#[tokio::test]
async fn workspace_with_the_display_name_of_an_allowed_team_is_refused() {
    let p = pair("allowed_teams = [\"Jupyter Team\", \"jupyter-team\"]\n").await;
    let (_, status, _) = login_as(&p, "mallory").await;
    assert_eq!(status, 403);
    let (_, status, _) = login_as(&p, "alice").await;
    assert_eq!(status, 303);
    let warnings = p.hub.state().authenticator.startup_warnings();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("\"Jupyter Team\"") && w.contains("slug")),
        "{warnings:?}"
    );
}

#[tokio::test]
async fn a_workspace_is_also_matched_by_its_uuid() {
    let uuid = MockWorkspace::new(TEAM, "x").uuid;
    let p = pair(&format!("allowed_teams = [\"{uuid}\"]\n")).await;
    let (_, status, _) = login_as(&p, "carol").await;
    assert_eq!(status, 303);
}

#[tokio::test]
async fn no_allow_rule_refuses_everyone_and_asks_no_workspaces() {
    let p = pair("").await;
    let (_, status, _) = login_as(&p, "alice").await;
    assert_eq!(status, 403);
    assert_eq!(p.mock.count(Endpoint::Workspaces), 0);
    let p = pair("allow_all = true\n").await;
    let (_, status, _) = login_as(&p, "bob").await;
    assert_eq!(status, 303);
    assert_eq!(auth_state(&p, "bob").await["user_teams"], json!([]));
    assert_eq!(p.mock.count(Endpoint::Workspaces), 0);
}

#[tokio::test]
async fn allowed_users_blocked_users_and_admin_users_combine_with_teams() {
    let p = pair(&format!(
        "allowed_teams = [\"{TEAM}\"]\nallowed_users = [\"bob\"]\nblocked_users = [\"carol\"]\nadmin_users = [\"admin\"]\n"
    ))
    .await;
    let (_, status, _) = login_as(&p, "admin").await;
    assert_eq!(status, 303);
    assert!(stored_user(&p, "admin").await.unwrap().admin);
    let (_, status, _) = login_as(&p, "bob").await;
    assert_eq!(status, 303, "allowed by name outside the team");
    let (c, status, _) = login_as(&p, "carol").await;
    assert_eq!(status, 403, "blocked although in the team");
    assert_eq!(home(&c, &p).await, 302);
}

#[tokio::test]
async fn admin_groups_over_workspace_slugs_with_manage_groups() {
    let p = pair(&format!(
        "allowed_teams = [\"{TEAM}\"]\nmanage_groups = true\nauth_state_groups_key = \"user_teams\"\nadmin_groups = [\"{TEAM}\"]\n"
    ))
    .await;
    let (_, status, _) = login_as(&p, "admin").await;
    assert_eq!(status, 303);
    let admin = stored_user(&p, "admin").await.unwrap();
    assert!(admin.admin);
    assert_eq!(admin.groups, vec!["admin".to_owned(), TEAM.to_owned()]);
}

#[tokio::test]
async fn every_page_of_workspaces_is_read() {
    let p = pair(&format!("allowed_teams = [\"{TEAM}\"]\n")).await;
    let mut many: Vec<MockWorkspace> = (0..250)
        .map(|i| MockWorkspace::new(&format!("ws-{i:03}"), "Other"))
        .collect();
    many.push(MockWorkspace::new(TEAM, "Jupyter Team"));
    p.mock.set_workspaces("bob", many);
    let (_, status, body) = login_as(&p, "bob").await;
    assert_eq!(status, 303, "the team is on the third page: {body}");
    assert_eq!(p.mock.count(Endpoint::Workspaces), 3);
    assert_eq!(
        auth_state(&p, "bob").await["user_teams"]
            .as_array()
            .unwrap()
            .len(),
        251
    );
}

#[tokio::test]
async fn refresh_rechecks_the_workspaces() {
    let p = pair(&format!("allowed_teams = [\"{TEAM}\"]\n")).await;
    let (c, status, _) = login_as(&p, "alice").await;
    assert_eq!(status, 303);
    let asked = p.mock.count(Endpoint::Workspaces);
    p.clock.advance(60);
    assert_eq!(home(&c, &p).await, 200);
    assert_eq!(
        p.mock.count(Endpoint::Workspaces),
        asked,
        "within auth_refresh_age"
    );
    p.clock.advance(300);
    assert_eq!(home(&c, &p).await, 200);
    assert_eq!(p.mock.count(Endpoint::Workspaces), asked + 1, "asked again");
    // Removed from the workspace at Bitbucket: access ends at the next refresh (F7).
    p.mock
        .set_workspaces("alice", vec![MockWorkspace::new("alice", "Alice")]);
    p.clock.advance(301);
    assert_eq!(home(&c, &p).await, 302);
}

#[tokio::test]
async fn refresh_after_the_access_token_expired_uses_the_rotating_refresh_token() {
    let p = pair(&format!("allowed_teams = [\"{TEAM}\"]\n")).await;
    let (c, _, _) = login_as(&p, "alice").await;
    let before = auth_state(&p, "alice").await;
    p.mock.expire_access_tokens();
    let grants = p.mock.count(Endpoint::Token);
    p.clock.advance(301);
    assert_eq!(
        home(&c, &p).await,
        200,
        "the refresh token got a new access token"
    );
    assert_eq!(p.mock.count(Endpoint::Token), grants + 1);
    let after = auth_state(&p, "alice").await;
    assert_ne!(after["access_token"], before["access_token"]);
    assert_ne!(
        after["refresh_token"], before["refresh_token"],
        "Bitbucket rotates refresh tokens; the new one is kept"
    );
    // The next expiry uses the new refresh token, which works.
    p.mock.expire_access_tokens();
    p.clock.advance(301);
    assert_eq!(home(&c, &p).await, 200);
}

#[tokio::test]
async fn refresh_with_a_revoked_refresh_token_asks_for_a_new_login() {
    let p = pair("allow_all = true\n").await;
    let (c, _, _) = login_as(&p, "alice").await;
    p.mock.expire_access_tokens();
    p.mock.revoke_refresh_tokens();
    p.clock.advance(301);
    assert_eq!(home(&c, &p).await, 302);
}

#[tokio::test]
async fn workspaces_listing_down_refuses_the_login_without_a_session() {
    let p = pair(&format!("allowed_teams = [\"{TEAM}\"]\n")).await;
    p.mock.set_down(Endpoint::Workspaces, true);
    let (c, status, body) = login_as(&p, "alice").await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("Bitbucket workspaces"), "{body}");
    assert_eq!(home(&c, &p).await, 302);
    assert!(stored_user(&p, "alice").await.is_none());
}

#[tokio::test]
async fn garbage_from_bitbucket_is_refused_not_guessed() {
    let p = pair(&format!("allowed_teams = [\"{TEAM}\"]\n")).await;
    for fault in [
        Fault::Garbage,
        Fault::EmptyBody,
        Fault::Status(200, r#"{"values": [{"name": "Jupyter Team"}]}"#.into()),
        Fault::Status(200, r#"{"size": 1}"#.into()),
        Fault::Status(500, "{}".into()),
    ] {
        p.mock.fail_next(Endpoint::Workspaces, fault.clone());
        let (c, status, _) = login_as(&p, "alice").await;
        assert_eq!(status, 502, "{fault:?}");
        assert_eq!(home(&c, &p).await, 302);
    }
    p.mock.fail_next(Endpoint::User, Fault::Garbage);
    let (_, status, _) = login_as(&p, "alice").await;
    assert_eq!(status, 502);
    p.mock
        .fail_next(Endpoint::Token, Fault::Status(500, "{}".into()));
    let (_, status, _) = login_as(&p, "alice").await;
    assert_eq!(status, 502);
    let (_, status, _) = login_as(&p, "alice").await;
    assert_eq!(status, 303, "Bitbucket is back");
}

/// The user's token goes with every page request: a `next` link to another host is
/// refused rather than followed.
#[tokio::test]
async fn a_next_link_to_another_host_is_not_followed() {
    let p = pair(&format!("allowed_teams = [\"{TEAM}\"]\n")).await;
    p.mock.fail_next(
        Endpoint::Workspaces,
        Fault::Status(
            200,
            r#"{"values": [], "next": "http://127.0.0.1:9/2.0/workspaces?page=2"}"#.into(),
        ),
    );
    let (_, status, body) = login_as(&p, "alice").await;
    assert_eq!(status, 502);
    assert!(body.contains("next link"), "{body}");
}

#[tokio::test]
async fn a_consumer_without_the_account_permission_is_refused() {
    let p = pair(&format!("allowed_teams = [\"{TEAM}\"]\n")).await;
    p.mock.set_consumer_scopes("hub-key", &["repository"]);
    let (_, status, _) = login_as(&p, "alice").await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn login_request_and_token_request_are_as_bitbucket_documents() {
    let p = pair("allow_all = true\n").await;
    let url = authorize_url(&client(), &p).await;
    assert!(url.as_str().starts_with(&p.mock.authorize_url()));
    let query: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query["client_id"], "hub-key");
    assert_eq!(query["response_type"], "code");
    assert!(!query.contains_key("scope"), "upstream asks for no scope");
    let (_, status, _) = login_as(&p, "alice").await;
    assert_eq!(status, 303);
    let token = &p.mock.requests_to(Endpoint::Token)[0];
    assert_eq!(token.grant_type(), Some("authorization_code"));
    assert_eq!(
        token.client_auth(),
        hubauth_devidp::mock::ClientAuth::Body,
        "upstream's default: the secret in the body (basic_auth = false)"
    );
}

#[tokio::test]
async fn local_bitbucket_admits_only_users_with_a_system_account() {
    let p = try_pair(
        "LocalBitbucketOAuthenticator",
        "allow_all = true\ncreate_system_users = false\n",
    )
    .await
    .unwrap();
    let (_, status, body) = login_as(&p, "nobody").await;
    assert_eq!(status, 303, "nobody is a system user here: {body}");
    let (c, status, _) = login_as(&p, "alice").await;
    assert_ne!(
        status, 303,
        "alice has no system account and none is created"
    );
    assert_eq!(home(&c, &p).await, 302);
}

#[tokio::test]
async fn the_demo_logs_its_users_in_as_it_says() {
    let p = super::hub::demo_pair("BitbucketOAuthenticator")
        .await
        .unwrap();
    let (_, status, body) = login_as(&p, "alice").await;
    assert_eq!(status, 303, "{body}");
    let (_, status, _) = login_as(&p, "admin").await;
    assert_eq!(status, 303);
    assert!(stored_user(&p, "admin").await.unwrap().admin);
    let (_, status, _) = login_as(&p, "bob").await;
    assert_eq!(status, 403);
    let (_, status, _) = login_as(&p, "mallory").await;
    assert_eq!(status, 403, "a workspace named like the allowed one");
}
