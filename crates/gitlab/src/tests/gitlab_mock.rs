//! The GitLab mock's own API, as a client that is not the hub sees it: the OAuth
//! provider's grants, errors and rotation, the REST API's authentication, scopes, paths,
//! inheritance and pagination.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine as _;
use hubauth_gitlab::mock::{Endpoint, GitLabMock, MockHandle, access};
use serde_json::{Value, json};

use super::common::{ADA, BEN, CLIENT, PROJECT, SECRET, cast};

const REDIRECT: &str = "http://127.0.0.1:9/hub/oauth_callback";

async fn mock(scopes: &[&str]) -> MockHandle {
    cast(
        GitLabMock::builder()
            .application(CLIENT, SECRET, REDIRECT, scopes)
            .auto_approve(Some("ada")),
    )
    .start()
    .await
    .unwrap()
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The authorization response's query for a request with `scope` (`None`: no scope
/// parameter).
async fn authorize(mock: &MockHandle, scope: Option<&str>) -> url::Url {
    let mut url = url::Url::parse(&format!("{}/oauth/authorize", mock.gitlab_url())).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", CLIENT)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("response_type", "code")
        .append_pair("state", "xyz");
    if let Some(scope) = scope {
        url.query_pairs_mut().append_pair("scope", scope);
    }
    let answer = browser().get(url).send().await.unwrap();
    assert_eq!(answer.status(), 302);
    url::Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap()
}

fn param(url: &url::Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

async fn post_token(mock: &MockHandle, form: &[(&str, &str)], basic: bool) -> (u16, Value) {
    let mut request = browser().post(mock.token_url());
    let mut form: Vec<(&str, &str)> = form.to_vec();
    if basic {
        request = request.basic_auth(CLIENT, Some(SECRET));
    } else {
        form.push(("client_id", CLIENT));
        form.push(("client_secret", SECRET));
    }
    let answer = request.form(&form).send().await.unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

/// A token response for `scope`, through the code grant.
async fn tokens(mock: &MockHandle, scope: &str) -> Value {
    let back = authorize(mock, Some(scope)).await;
    let code = param(&back, "code").unwrap();
    let (status, body) = post_token(
        mock,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
        true,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn api(mock: &MockHandle, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = browser().get(format!("{}{path}", mock.api_url()));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn api_json(mock: &MockHandle, path: &str, token: &str) -> (u16, Value) {
    let answer = api(mock, path, Some(token)).await;
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_mock_issues_two_hour_tokens_and_rotates_refresh_tokens() {
    let mock = mock(&["read_user", "read_api"]).await;
    let first = tokens(&mock, "read_user read_api").await;
    assert_eq!(first["token_type"], "Bearer");
    assert_eq!(first["expires_in"], 7200);
    assert_eq!(first["scope"], "read_user read_api");
    assert!(first["created_at"].is_i64());
    assert!(first.get("id_token").is_none(), "no openid, no ID token");
    let access = first["access_token"].as_str().unwrap();
    let (status, user) = api_json(&mock, "/user", access).await;
    assert_eq!(status, 200);
    assert_eq!(user["id"], json!(ADA));
    assert_eq!(user["username"], "ada");
    // The same code twice: invalid_grant.
    let back = authorize(&mock, Some("read_user")).await;
    assert_eq!(param(&back, "state").as_deref(), Some("xyz"));
    let code = param(&back, "code").unwrap();
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    assert_eq!(post_token(&mock, &exchange, false).await.0, 200);
    let (status, body) = post_token(&mock, &exchange, false).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // Refresh: a new pair; the old access token is revoked, the old refresh token dead.
    let refresh = first["refresh_token"].as_str().unwrap();
    let (status, second) = post_token(
        &mock,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        false,
    )
    .await;
    assert_eq!(status, 200, "{second}");
    assert_ne!(second["access_token"], first["access_token"]);
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    let old = api(&mock, "/user", Some(access)).await;
    assert_eq!(old.status(), 401);
    assert!(
        old.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let body: Value = old.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("revoked")
    );
    let (status, body) = post_token(
        &mock,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        false,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // Two hours later the access token has expired; the refresh token still works.
    mock.advance_clock(7201);
    let fresh = second["access_token"].as_str().unwrap();
    let (status, body) = api_json(&mock, "/user", fresh).await;
    assert_eq!(status, 401);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    let (status, _) = post_token(
        &mock,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", second["refresh_token"].as_str().unwrap()),
        ],
        true,
    )
    .await;
    assert_eq!(status, 200);
    // Wrong client secret, or none: invalid_client with 401.
    let answer = browser()
        .post(mock.token_url())
        .basic_auth(CLIENT, Some("wrong"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    let (status, body) = post_token(&mock, &[("grant_type", "password")], false).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
}

#[tokio::test]
async fn the_mock_grants_api_by_default_and_refuses_unregistered_scopes() {
    let mock = mock(&["read_user", "read_api"]).await;
    for scope in [
        None,
        Some("api"),
        Some("read_user sudo"),
        Some("no_such_scope"),
    ] {
        let back = authorize(&mock, scope).await;
        assert_eq!(
            param(&back, "error").as_deref(),
            Some("invalid_scope"),
            "{scope:?}"
        );
        assert_eq!(param(&back, "state").as_deref(), Some("xyz"));
        assert!(param(&back, "code").is_none());
    }
    let mock = self::mock(&["api"]).await;
    let back = authorize(&mock, None).await;
    let code = param(&back, "code").unwrap();
    let (_, body) = post_token(
        &mock,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
        true,
    )
    .await;
    assert_eq!(body["scope"], "api");
    // A blocked user cannot authorize.
    mock.set_blocked("ada", true);
    let back = authorize(&mock, Some("api")).await;
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));
    // An unknown redirect URI is shown, never followed.
    let answer = browser()
        .get(format!(
            "{}/oauth/authorize?client_id={CLIENT}&redirect_uri=https://evil.example/cb&response_type=code",
            mock.gitlab_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
}

#[tokio::test]
async fn the_mock_api_checks_tokens_and_scopes_as_gitlab_does() {
    let mock = mock(&["read_user", "read_api"]).await;
    // No token, an unknown token: GitLab's plain 401.
    for token in [None, Some("not-a-token")] {
        let answer = api(&mock, "/user", token).await;
        assert_eq!(answer.status(), 401);
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body, json!({"message": "401 Unauthorized"}));
    }
    // read_user: /user only.
    let read_user = tokens(&mock, "read_user").await;
    let token = read_user["access_token"].as_str().unwrap();
    assert_eq!(api_json(&mock, "/user", token).await.0, 200);
    for path in [
        "/version",
        "/groups",
        "/groups/physics%2Fhpc/members/all/1",
        "/projects/500/members/all/3",
    ] {
        let answer = api(&mock, path, Some(token)).await;
        assert_eq!(answer.status(), 403, "{path}");
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["error"], "insufficient_scope", "{path}");
        assert_eq!(body["scope"], "api read_api");
    }
    // read_api: everything read here; the token also works as a query parameter.
    let read_api = tokens(&mock, "read_api").await;
    let token = read_api["access_token"].as_str().unwrap();
    let (status, version) = api_json(&mock, "/version", token).await;
    assert_eq!(status, 200);
    assert_eq!(version["version"], "17.5.1-ee");
    let by_query = browser()
        .get(format!("{}/user?access_token={token}", mock.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(by_query.status(), 200);
    mock.set_version("12.3.0");
    assert_eq!(
        api_json(&mock, "/version", token).await.1["version"],
        "12.3.0"
    );
    // A revoked authorization and a blocked account.
    mock.revoke_user_tokens("ada");
    assert_eq!(api_json(&mock, "/user", token).await.0, 401);
    let token = tokens(&mock, "read_api").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    mock.set_blocked("ada", true);
    let (status, body) = api_json(&mock, "/user", &token).await;
    assert_eq!(status, 403);
    assert!(body["message"].as_str().unwrap().contains("blocked"));
    // Doorkeeper's token info.
    mock.set_blocked("ada", false);
    let info = browser()
        .get(format!("{}/oauth/token/info", mock.gitlab_url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let info: Value = info.json().await.unwrap();
    assert_eq!(info["resource_owner_id"], json!(ADA));
    assert_eq!(info["scope"], json!(["read_api"]));
    assert_eq!(info["application"]["uid"], CLIENT);
    // Revocation at /oauth/revoke: the pair dies.
    let pair = tokens(&mock, "read_api").await;
    let answer = browser()
        .post(format!("{}/oauth/revoke", mock.gitlab_url()))
        .form(&[
            ("client_id", CLIENT),
            ("client_secret", SECRET),
            ("token", pair["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.json::<Value>().await.unwrap(), json!({}));
    assert_eq!(
        api_json(&mock, "/user", pair["access_token"].as_str().unwrap())
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn the_mock_finds_groups_by_encoded_path_and_counts_inherited_members() {
    let mock = mock(&["read_api"]).await;
    let ada = tokens(&mock, "read_api").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // The full path encoded once, or the numeric id: the group.
    for id in ["physics%2Fhpc", "20", "Physics%2FHPC"] {
        let (status, member) =
            api_json(&mock, &format!("/groups/{id}/members/all/{ADA}"), &ada).await;
        assert_eq!(status, 200, "{id}");
        assert_eq!(member["id"], json!(ADA));
        assert_eq!(member["access_level"], json!(access::DEVELOPER));
        assert_eq!(member["membership_state"], "active");
    }
    // Encoded twice (upstream's bug), or not at all: no such group.
    let (status, body) = api_json(
        &mock,
        &format!("/groups/physics%252Fhpc/members/all/{ADA}"),
        &ada,
    )
    .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (404, Some("404 Group Not Found"))
    );
    let (status, body) = api_json(
        &mock,
        &format!("/groups/physics/hpc/members/all/{ADA}"),
        &ada,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("404 Not Found"))
    );
    // Inherited membership: /all only, with the parent's role.
    let (status, member) = api_json(
        &mock,
        &format!("/groups/physics%2Fhpc/members/all/{BEN}"),
        &ada,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(member["access_level"], json!(access::OWNER));
    let (status, body) =
        api_json(&mock, &format!("/groups/physics%2Fhpc/members/{BEN}"), &ada).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (404, Some("404 Not found"))
    );
    // Awaiting approval.
    let (_, member) = api_json(&mock, "/groups/physics%2Fhpc/members/all/6", &ada).await;
    assert_eq!(member["membership_state"], "awaiting");
    // A private group ada is not in: invisible. A public one: visible, but not a member.
    let (status, body) =
        api_json(&mock, &format!("/groups/chemistry/members/all/{ADA}"), &ada).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (404, Some("404 Group Not Found"))
    );
    let (status, body) = api_json(&mock, &format!("/groups/tools/members/all/{ADA}"), &ada).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (404, Some("404 Not found"))
    );
    // user_id must be an integer.
    let (status, body) = api_json(&mock, "/groups/20/members/all/ada", &ada).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("user_id is invalid"))
    );
    // A private project ada is not in is invisible to her, even in a public group.
    let (status, body) = api_json(&mock, &format!("/projects/{PROJECT}/members/all/7"), &ada).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (404, Some("404 Project Not Found"))
    );
    let cleo = {
        mock.set_auto_approve(Some("cleo"));
        tokens(&mock, "read_api").await["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // Projects: the namespace's members count with their group role (gus, Maintainer of
    // tools), by id or by encoded path, in /all only.
    let (status, member) =
        api_json(&mock, &format!("/projects/{PROJECT}/members/all/7"), &cleo).await;
    assert_eq!(status, 200);
    assert_eq!(member["access_level"], json!(access::MAINTAINER));
    let (status, _) = api_json(&mock, &format!("/projects/{PROJECT}/members/7"), &cleo).await;
    assert_eq!(status, 404, "not a direct member");
    let (status, member) =
        api_json(&mock, "/projects/tools%2Fsimulator/members/all/4", &cleo).await;
    assert_eq!(status, 200);
    assert_eq!(member["access_level"], json!(access::GUEST));
    assert_eq!(mock.count(Endpoint::ProjectMembers), 4);
    assert!(mock.count(Endpoint::GroupMembers) >= 9);
}

#[tokio::test]
async fn the_mock_paginates_with_gitlabs_headers_and_links() {
    let mock = mock(&["read_api"]).await;
    mock.set_auto_approve(Some("ben"));
    let ben = tokens(&mock, "read_api").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // physics/hpc with inheritance: ada, ben, fay (awaiting), nobody.
    let first = api(
        &mock,
        "/groups/physics%2Fhpc/members/all?per_page=3",
        Some(&ben),
    )
    .await;
    assert_eq!(first.status(), 200);
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    assert_eq!(header(&first, "x-total"), "4");
    assert_eq!(header(&first, "x-total-pages"), "2");
    assert_eq!(header(&first, "x-page"), "1");
    assert_eq!(header(&first, "x-per-page"), "3");
    assert_eq!(header(&first, "x-next-page"), "2");
    assert_eq!(header(&first, "x-prev-page"), "");
    let link = header(&first, "link");
    assert!(link.contains("rel=\"next\""), "{link}");
    assert!(link.contains("rel=\"last\""), "{link}");
    assert!(!link.contains("rel=\"prev\""), "{link}");
    let next = link
        .split(", ")
        .find(|part| part.ends_with("rel=\"next\""))
        .and_then(|part| part.split(['<', '>']).nth(1))
        .unwrap()
        .to_owned();
    let page: Vec<Value> = first.json().await.unwrap();
    assert_eq!(page.len(), 3);
    let second = browser().get(&next).bearer_auth(&ben).send().await.unwrap();
    assert_eq!(header(&second, "x-page"), "2");
    assert_eq!(header(&second, "x-next-page"), "");
    assert!(header(&second, "link").contains("rel=\"prev\""));
    let rest: Vec<Value> = second.json().await.unwrap();
    assert_eq!(rest.len(), 1);
    let mut ids: Vec<u64> = page
        .iter()
        .chain(rest.iter())
        .map(|m| m["id"].as_u64().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, vec![ADA, BEN, 6, 9]);
    // The direct members list leaves ben (a member of the parent) out.
    let (_, direct) = api_json(&mock, "/groups/physics%2Fhpc/members", &ben).await;
    assert_eq!(direct.as_array().unwrap().len(), 3);
    // Default and largest page sizes; an unreadable page number is a 400.
    let all = api(&mock, "/groups/20/members/all?per_page=1000", Some(&ben)).await;
    assert_eq!(header(&all, "x-per-page"), "100");
    let all = api(&mock, "/groups/20/members/all", Some(&ben)).await;
    assert_eq!(header(&all, "x-per-page"), "20");
    let (status, body) = api_json(&mock, "/groups/20/members/all?page=two", &ben).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("page is invalid"))
    );
    // /groups: what ben can see (physics, physics/hpc, tools) and where he has a role.
    let (_, groups) = api_json(&mock, "/groups", &ben).await;
    let paths: Vec<&str> = groups
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["full_path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["physics", "physics/hpc", "tools"]);
    let (_, owned) = api_json(&mock, "/groups?min_access_level=50", &ben).await;
    let paths: Vec<&str> = owned
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["full_path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["physics", "physics/hpc"]);
    assert_eq!(owned[1]["full_name"], "Physics / Hpc");
    assert_eq!(owned[1]["parent_id"], json!(10));
}

#[tokio::test]
async fn the_mock_speaks_openid_connect_with_the_openid_scope() {
    let mock = mock(&["openid", "email", "read_user"]).await;
    let discovery: Value = reqwest::get(format!(
        "{}/.well-known/openid-configuration",
        mock.gitlab_url()
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(discovery["issuer"], mock.gitlab_url());
    assert_eq!(discovery["jwks_uri"], mock.jwks_url());
    let keys: Value = reqwest::get(mock.jwks_url())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(keys["keys"][0]["kty"], "RSA");
    let body = tokens(&mock, "openid email").await;
    let id_token = body["id_token"].as_str().unwrap();
    let payload = id_token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["sub"], ADA.to_string());
    assert_eq!(claims["aud"], CLIENT);
    assert_eq!(claims["iss"], mock.gitlab_url());
    assert_eq!(claims["nickname"], "ada");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["groups_direct"], json!(["physics/hpc"]));
    let info = browser()
        .get(format!("{}/oauth/userinfo", mock.gitlab_url()))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 200);
    let info: Value = info.json().await.unwrap();
    assert_eq!(info["sub"], ADA.to_string());
    assert_eq!(info["groups"], json!(["physics/hpc"]));
    // Without openid the userinfo endpoint says which scope is missing.
    let plain = tokens(&mock, "read_user").await;
    let info = browser()
        .get(format!("{}/oauth/userinfo", mock.gitlab_url()))
        .bearer_auth(plain["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 403);
}

#[tokio::test]
async fn the_mock_injects_faults_and_outages_per_endpoint() {
    let mock = mock(&["read_api"]).await;
    let token = tokens(&mock, "read_api").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    mock.fail_next(Endpoint::Version, hubauth_gitlab::mock::Fault::Garbage);
    let garbage = api(&mock, "/version", Some(&token)).await;
    assert_eq!(garbage.status(), 200);
    assert!(garbage.json::<Value>().await.is_err());
    assert_eq!(api(&mock, "/version", Some(&token)).await.status(), 200);
    mock.set_down(Endpoint::GroupMembers, true);
    assert_eq!(
        api(&mock, "/groups/20/members/all/1", Some(&token))
            .await
            .status(),
        503
    );
    assert_eq!(api(&mock, "/user", Some(&token)).await.status(), 200);
    assert_eq!(mock.count(Endpoint::Version), 2);
    assert_eq!(mock.count(Endpoint::OtherApi), 0);
    assert_eq!(api(&mock, "/projects", Some(&token)).await.status(), 404);
    assert_eq!(mock.count(Endpoint::OtherApi), 1);
}
