//! The GitHub mock's own API, asked directly: the documented paths, status codes,
//! pagination and quirks the hub relies on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_devidp::mock::s256;
use hubauth_github::mock::{Endpoint, Fault, GitHubMock, MockHandle, MockUser, normalize_scopes};
use serde_json::Value;

const CALLBACK: &str = "http://127.0.0.1:9/hub/oauth_callback";

async fn mock(configure: impl FnOnce(GitHubMock) -> GitHubMock) -> MockHandle {
    configure(
        GitHubMock::builder()
            .client("app", "app-secret", CALLBACK)
            .user(MockUser::new("alice").team("acme", "ops"))
            .user(MockUser::new("bob").public_member_of("acme"))
            .user(MockUser::new("carol").member_of("elsewhere"))
            .user(
                MockUser::new("dave")
                    .member_of("acme")
                    .invited_to_team("acme", "ops"),
            )
            .auto_approve(Some("alice")),
    )
    .start()
    .await
    .unwrap()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("hubauth-tests")
        .build()
        .unwrap()
}

fn location(response: &reqwest::Response) -> url::Url {
    url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap()
}

fn param(url: &url::Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// Authorizes `login` with `extra` query parameters; the redirect's URL.
async fn authorize(m: &MockHandle, login: &str, extra: &[(&str, &str)]) -> url::Url {
    m.set_auto_approve(Some(login));
    let mut url = url::Url::parse(&m.authorize_url()).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", "app")
        .append_pair("state", "st4te")
        .extend_pairs(extra.iter());
    let answer = http().get(url).send().await.unwrap();
    assert_eq!(answer.status(), 302);
    location(&answer)
}

/// A token for `login` with `scope`, as JSON.
async fn token(m: &MockHandle, login: &str, scope: &str) -> Value {
    let redirect = authorize(m, login, &[("scope", scope)]).await;
    let code = param(&redirect, "code").unwrap();
    http()
        .post(m.token_url())
        .header("accept", "application/json")
        .form(&[
            ("client_id", "app"),
            ("client_secret", "app-secret"),
            ("code", &code),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn access_token(m: &MockHandle, login: &str, scope: &str) -> String {
    token(m, login, scope).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn get(m: &MockHandle, path: &str, token: &str) -> reqwest::Response {
    http()
        .get(format!("{}{path}", m.api_url()))
        .header("authorization", format!("token {token}"))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn web_flow_code_exchange_answers_form_encoded_unless_json_is_asked_for() {
    let m = mock(|b| b).await;
    let redirect = authorize(&m, "alice", &[("scope", "user user:email read:org")]).await;
    assert!(
        redirect.as_str().starts_with(CALLBACK),
        "no redirect_uri: the callback URL"
    );
    assert_eq!(param(&redirect, "state").as_deref(), Some("st4te"));
    let code = param(&redirect, "code").unwrap();
    let answer = http()
        .post(m.token_url())
        .form(&[
            ("client_id", "app"),
            ("client_secret", "app-secret"),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert!(
        answer.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/x-www-form-urlencoded")
    );
    let body = answer.text().await.unwrap();
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let field = |k: &str| {
        fields
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert!(field("access_token").unwrap().starts_with("gho_"));
    assert_eq!(field("token_type"), Some("bearer"));
    // Normalized: user includes user:email.
    assert_eq!(field("scope"), Some("read:org,user"));
    // A code works once.
    let again = http()
        .post(m.token_url())
        .header("accept", "application/json")
        .form(&[
            ("client_id", "app"),
            ("client_secret", "app-secret"),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200, "GitHub's errors are HTTP 200");
    let error: Value = again.json().await.unwrap();
    assert_eq!(error["error"], "bad_verification_code");
    assert!(
        error["error_uri"]
            .as_str()
            .unwrap()
            .contains("bad-verification-code")
    );
}

#[tokio::test]
async fn token_errors_are_http_200_with_an_error_field() {
    let m = mock(|b| b).await;
    let code = param(&authorize(&m, "alice", &[]).await, "code").unwrap();
    let ask = |form: Vec<(&'static str, String)>| {
        let url = m.token_url();
        async move {
            let answer = http()
                .post(url)
                .header("accept", "application/json")
                .form(&form)
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), 200);
            answer.json::<Value>().await.unwrap()["error"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        }
    };
    assert_eq!(
        ask(vec![
            ("client_id", "app".into()),
            ("client_secret", "wrong".into()),
            ("code", code.clone()),
        ])
        .await,
        "incorrect_client_credentials"
    );
    assert_eq!(
        ask(vec![
            ("client_id", "app".into()),
            ("client_secret", "app-secret".into()),
            ("code", code.clone()),
            ("redirect_uri", "http://127.0.0.1:9/elsewhere".into()),
        ])
        .await,
        "redirect_uri_mismatch"
    );
    assert_eq!(
        ask(vec![
            ("client_id", "app".into()),
            ("client_secret", "app-secret".into()),
            ("grant_type", "refresh_token".into()),
            ("refresh_token", "ghr_nope".into()),
        ])
        .await,
        "bad_refresh_token"
    );
    // HTTP Basic is not how GitHub takes client credentials.
    let basic = http()
        .post(m.token_url())
        .header("accept", "application/json")
        .basic_auth("app", Some("app-secret"))
        .form(&[("code", code.as_str())])
        .send()
        .await
        .unwrap();
    let error: Value = basic.json().await.unwrap();
    assert_eq!(error["error"], "incorrect_client_credentials");
}

#[tokio::test]
async fn pkce_s256_is_checked_and_the_code_is_bound_to_its_redirect_uri() {
    let m = mock(|b| b).await;
    let verifier = "a-verifier-of-enough-length-0123456789-abcdefgh";
    let redirect = authorize(
        &m,
        "alice",
        &[
            ("code_challenge", &s256(verifier)),
            ("code_challenge_method", "S256"),
            ("redirect_uri", "http://127.0.0.1:9/hub/oauth_callback/sub"),
        ],
    )
    .await;
    assert!(
        redirect.path().ends_with("/oauth_callback/sub"),
        "a subdirectory is allowed"
    );
    let code = param(&redirect, "code").unwrap();
    let exchange = |verifier: &'static str, code: String| {
        let url = m.token_url();
        async move {
            http()
                .post(url)
                .header("accept", "application/json")
                .form(&[
                    ("client_id", "app"),
                    ("client_secret", "app-secret"),
                    ("code", code.as_str()),
                    ("code_verifier", verifier),
                    ("redirect_uri", "http://127.0.0.1:9/hub/oauth_callback/sub"),
                ])
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        exchange("wrong-verifier", code).await["error"],
        "bad_verification_code"
    );
    let redirect = authorize(
        &m,
        "alice",
        &[
            ("code_challenge", &s256(verifier)),
            ("code_challenge_method", "S256"),
            ("redirect_uri", "http://127.0.0.1:9/hub/oauth_callback/sub"),
        ],
    )
    .await;
    let code = param(&redirect, "code").unwrap();
    let answer = exchange("a-verifier-of-enough-length-0123456789-abcdefgh", code).await;
    assert!(answer["access_token"].is_string(), "{answer}");
    // plain is not accepted.
    let refused = authorize(
        &m,
        "alice",
        &[
            ("code_challenge", "plain-challenge"),
            ("code_challenge_method", "plain"),
        ],
    )
    .await;
    assert_eq!(param(&refused, "error").as_deref(), Some("invalid_request"));
}

#[tokio::test]
async fn authorization_errors_go_back_to_the_registered_callback() {
    let m = mock(|b| b).await;
    let mismatch = authorize(&m, "alice", &[("redirect_uri", "http://127.0.0.1:9/other")]).await;
    assert!(mismatch.as_str().starts_with(CALLBACK));
    assert_eq!(
        param(&mismatch, "error").as_deref(),
        Some("redirect_uri_mismatch")
    );
    assert_eq!(param(&mismatch, "state").as_deref(), Some("st4te"));
    // Loopback callback: another port is allowed.
    let other_port = authorize(
        &m,
        "alice",
        &[("redirect_uri", "http://127.0.0.1:1234/hub/oauth_callback")],
    )
    .await;
    assert_eq!(other_port.port(), Some(1234));
    assert!(param(&other_port, "code").is_some());
    // The visitor cancels at the picker.
    m.set_auto_approve(None);
    let denied = http()
        .post(m.authorize_url())
        .form(&[("client_id", "app"), ("state", "s"), ("login_as", "")])
        .send()
        .await
        .unwrap();
    let denied = location(&denied);
    assert_eq!(param(&denied, "error").as_deref(), Some("access_denied"));
    // An unknown client gets GitHub's 404 page, no redirect.
    let unknown = http()
        .get(format!("{}?client_id=nope", m.authorize_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn org_membership_answers_204_404_or_302_to_the_public_check() {
    let m = mock(|b| b).await;
    let with_org = access_token(&m, "alice", "read:org").await;
    let path = |org: &str, user: &str| format!("/orgs/{org}/members/{user}");
    assert_eq!(
        get(&m, &path("acme", "alice"), &with_org).await.status(),
        204
    );
    assert_eq!(
        get(&m, &path("ACME", "Dave"), &with_org).await.status(),
        204,
        "names ignore case"
    );
    let not_member = get(&m, &path("acme", "carol"), &with_org).await;
    assert_eq!(not_member.status(), 404);
    let error: Value = not_member.json().await.unwrap();
    assert!(error["message"].is_string() && error["documentation_url"].is_string());
    assert_eq!(
        get(&m, &path("no-such-org", "alice"), &with_org)
            .await
            .status(),
        404
    );

    // Without read:org the private membership is hidden: 302 to the public check.
    let without = access_token(&m, "alice", "").await;
    let redirected = get(&m, &path("acme", "alice"), &without).await;
    assert_eq!(redirected.status(), 302);
    assert_eq!(
        location(&redirected).as_str(),
        format!("{}/orgs/acme/public_members/alice", m.api_url())
    );
    // A requester who is not a member is sent there too.
    let outsider = access_token(&m, "carol", "read:org").await;
    assert_eq!(
        get(&m, &path("acme", "alice"), &outsider).await.status(),
        302
    );
    // The public check: 204 for a public member, 404 otherwise, even anonymously.
    let public = |user: &str| format!("/orgs/acme/public_members/{user}");
    assert_eq!(get(&m, &public("bob"), &without).await.status(), 204);
    assert_eq!(get(&m, &public("alice"), &without).await.status(), 404);
    let anonymous = http()
        .get(format!("{}{}", m.api_url(), public("bob")))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 204);
}

#[tokio::test]
async fn team_membership_has_a_state_and_needs_read_org() {
    let m = mock(|b| b).await;
    let token = access_token(&m, "alice", "read:org").await;
    let path = |user: &str| format!("/orgs/acme/teams/ops/memberships/{user}");
    let active = get(&m, &path("alice"), &token).await;
    assert_eq!(active.status(), 200);
    let body: Value = active.json().await.unwrap();
    assert_eq!(body["state"], "active");
    assert_eq!(body["role"], "member");
    let pending: Value = get(&m, &path("dave"), &token).await.json().await.unwrap();
    assert_eq!(pending["state"], "pending");
    assert_eq!(get(&m, &path("bob"), &token).await.status(), 404);
    assert_eq!(
        get(
            &m,
            "/orgs/acme/teams/no-such-team/memberships/alice",
            &token
        )
        .await
        .status(),
        404
    );
    let without = access_token(&m, "alice", "user:email").await;
    assert_eq!(get(&m, &path("alice"), &without).await.status(), 404);
}

#[tokio::test]
async fn lists_are_paginated_with_link_headers() {
    let m = mock(|b| {
        let mut tess = MockUser::new("tess");
        for n in 0..5 {
            tess = tess.team("acme", &format!("t{n}"));
        }
        b.user(tess)
    })
    .await;
    let token = access_token(&m, "tess", "read:org").await;
    let first = get(&m, "/user/teams?per_page=2", &token).await;
    let link = first.headers()["link"].to_str().unwrap().to_owned();
    let teams: Vec<Value> = first.json().await.unwrap();
    assert_eq!(teams.len(), 2);
    let api = m.api_url();
    assert_eq!(
        link,
        format!(
            "<{api}/user/teams?per_page=2&page=2>; rel=\"next\", <{api}/user/teams?per_page=2&page=3>; rel=\"last\""
        )
    );
    let middle = get(&m, "/user/teams?per_page=2&page=2", &token).await;
    let link = middle.headers()["link"].to_str().unwrap().to_owned();
    assert!(
        link.contains("rel=\"prev\"")
            && link.contains("rel=\"first\"")
            && link.contains("page=3>; rel=\"next\""),
        "{link}"
    );
    let last = get(&m, "/user/teams?per_page=2&page=3", &token).await;
    assert!(
        !last.headers()["link"]
            .to_str()
            .unwrap()
            .contains("rel=\"next\"")
    );
    let teams: Vec<Value> = last.json().await.unwrap();
    assert_eq!(teams.len(), 1);
    assert_eq!(teams[0]["organization"]["login"], "acme");
    // One page, no link header; per_page is capped at 100.
    let all = get(&m, "/user/teams?per_page=500", &token).await;
    assert!(all.headers().get("link").is_none());
    // /user/teams needs user, repo or read:org.
    let without = access_token(&m, "tess", "gist").await;
    assert_eq!(get(&m, "/user/teams", &without).await.status(), 404);
}

#[tokio::test]
async fn user_and_emails_with_scope_headers() {
    let m = mock(|b| b.user(MockUser::new("frank").public_email("frank@example.org"))).await;
    let token = access_token(&m, "frank", "user:email").await;
    let answer = get(&m, "/user", &token).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["x-oauth-scopes"], "user:email");
    let user: Value = answer.json().await.unwrap();
    assert_eq!(user["login"], "frank");
    assert_eq!(user["email"], "frank@example.org");
    assert!(user["id"].is_u64());
    let emails: Vec<Value> = get(&m, "/user/emails", &token).await.json().await.unwrap();
    assert_eq!(emails[0]["primary"], true);
    assert_eq!(emails[0]["verified"], true);
    assert_eq!(emails[0]["visibility"], "private");
    assert_eq!(emails[1]["email"], "frank@example.org");
    // A private email is null in /user; the list needs user:email.
    let alice = access_token(&m, "alice", "read:org").await;
    let user: Value = get(&m, "/user", &alice).await.json().await.unwrap();
    assert!(user["email"].is_null());
    assert_eq!(get(&m, "/user/emails", &alice).await.status(), 404);
    // Bearer works as well as `token`.
    let bearer = http()
        .get(format!("{}/user", m.api_url()))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 200);
}

#[tokio::test]
async fn api_requests_need_a_user_agent_a_known_version_and_a_good_token() {
    let m = mock(|b| b).await;
    let token = access_token(&m, "alice", "").await;
    let url = format!("{}/user", m.api_url());
    let no_agent = reqwest::Client::builder()
        .build()
        .unwrap()
        .get(&url)
        .header("authorization", format!("token {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        no_agent.status(),
        403,
        "reqwest sends no User-Agent by default"
    );
    let old_version = http()
        .get(&url)
        .header("authorization", format!("token {token}"))
        .header("x-github-api-version", "1999-01-01")
        .send()
        .await
        .unwrap();
    assert_eq!(old_version.status(), 400);
    let none = http().get(&url).send().await.unwrap();
    assert_eq!(none.status(), 401);
    let body: Value = none.json().await.unwrap();
    assert_eq!(body["message"], "Requires authentication");
    let bad = get(&m, "/user", "gho_not-a-token").await;
    assert_eq!(bad.status(), 401);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["message"], "Bad credentials");
    assert_eq!(
        get(&m, "/user/", &token).await.status(),
        404,
        "a trailing slash is another path"
    );
    m.revoke_tokens_of("alice");
    assert_eq!(get(&m, "/user", &token).await.status(), 401);
}

#[tokio::test]
async fn github_app_tokens_expire_and_refresh_tokens_rotate() {
    let m = mock(|b| b.expiring_user_tokens(true)).await;
    let first = token(&m, "alice", "read:org").await;
    assert!(first["access_token"].as_str().unwrap().starts_with("ghu_"));
    assert_eq!(first["expires_in"], 28800);
    assert_eq!(first["refresh_token_expires_in"], 15_811_200);
    assert_eq!(first["scope"], "", "GitHub App tokens list no scopes");
    let refresh = |token: String| {
        let url = m.token_url();
        async move {
            http()
                .post(url)
                .header("accept", "application/json")
                .form(&[
                    ("client_id", "app"),
                    ("client_secret", "app-secret"),
                    ("grant_type", "refresh_token"),
                    ("refresh_token", token.as_str()),
                ])
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let old_refresh = first["refresh_token"].as_str().unwrap().to_owned();
    let second = refresh(old_refresh.clone()).await;
    let new_access = second["access_token"].as_str().unwrap();
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    // The old refresh token and the old access token no longer work.
    assert_eq!(refresh(old_refresh).await["error"], "bad_refresh_token");
    let old_access = first["access_token"].as_str().unwrap();
    assert_eq!(get(&m, "/user", old_access).await.status(), 401);
    assert_eq!(get(&m, "/user", new_access).await.status(), 200);
    // Eight hours later the access token is refused.
    m.advance_clock(28_801);
    assert_eq!(get(&m, "/user", new_access).await.status(), 401);
}

#[tokio::test]
async fn an_unverified_primary_email_gets_no_token() {
    let m = mock(|b| {
        b.user(
            MockUser::new("grace").emails(vec![hubauth_github::mock::MockEmail {
                email: "grace@example.org".into(),
                primary: true,
                verified: false,
            }]),
        )
    })
    .await;
    assert_eq!(
        token(&m, "grace", "").await["error"],
        "unverified_user_email"
    );
}

#[tokio::test]
async fn faults_outages_and_counts_come_from_the_framework() {
    let m = mock(|b| b.enterprise(true)).await;
    assert!(m.api_url().ends_with("/api/v3"));
    let token = access_token(&m, "alice", "read:org").await;
    m.fail_next(Endpoint::User, Fault::Garbage);
    let garbage = get(&m, "/user", &token).await;
    assert_eq!(garbage.status(), 200);
    assert!(garbage.json::<Value>().await.is_err());
    m.set_down(Endpoint::OrgMember, true);
    assert_eq!(
        get(&m, "/orgs/acme/members/alice", &token).await.status(),
        503
    );
    m.set_down(Endpoint::OrgMember, false);
    assert_eq!(
        get(&m, "/orgs/acme/members/alice", &token).await.status(),
        204
    );
    assert_eq!(m.count(Endpoint::OrgMember), 2);
    assert_eq!(m.count(Endpoint::Token), 1);
    // The Enterprise Server's API is only under /api/v3.
    let root = http()
        .get(format!("{}/user", m.github_url()))
        .header("authorization", format!("token {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(root.status(), 404);
    // The request log never holds a secret.
    let exchange = &m.requests_to(Endpoint::Token)[0];
    assert_eq!(exchange.form_value("client_secret"), Some("[redacted]"));
    assert_eq!(exchange.form_value("code"), Some("[redacted]"));
}

#[test]
fn scope_normalization_keeps_what_github_keeps() {
    assert_eq!(normalize_scopes(["read:user", "user"]), vec!["user"]);
    assert_eq!(
        normalize_scopes(["write:org", "read:org"]),
        vec!["write:org"]
    );
    assert!(
        normalize_scopes(["openid", "email"]).is_empty(),
        "not GitHub scopes"
    );
}
