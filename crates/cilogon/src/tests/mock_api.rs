//! The CILogon mock's own API, as CILogon documents it: discovery, IdP hinting and
//! skins, scopes and claims, client authentication, refresh token rotation, the user
//! info endpoint, revocation and the IdP list.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_cilogon::mock::{
    ClientSettings, Endpoint, GITHUB_IDP, GOOGLE_IDP, MockHandle, ORCID_IDP, start_demo_mock,
};
use hubauth_devidp::mock::ClientAuth;
use serde_json::{Value, json};

use super::common::{CLIENT_ID, PARTNER, SECRET, UNI, client, location, start_mock};

const CALLBACK: &str = "http://127.0.0.1:9/hub/oauth_callback";

async fn mock() -> MockHandle {
    start_mock("http://127.0.0.1:9", |mock| {
        mock.skin("partner-only", &[PARTNER, GITHUB_IDP])
    })
    .await
}

fn authorize(mock: &MockHandle, extra: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&mock.authorize_url()).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", CALLBACK)
        .append_pair("response_type", "code")
        .append_pair("state", "st")
        .extend_pairs(extra.iter());
    url.to_string()
}

/// A code for `user` with `scope`.
async fn code_for(mock: &MockHandle, user: &str, scope: &str) -> String {
    mock.set_auto_approve(Some(user));
    let answer = client()
        .get(authorize(mock, &[("scope", scope)]))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 302);
    let to = url::Url::parse(&location(&answer)).unwrap();
    assert_eq!(
        to.query_pairs().find(|(k, _)| k == "state").unwrap().1,
        "st"
    );
    to.query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no code: {to}"))
}

async fn post_token(mock: &MockHandle, form: &[(&str, &str)], basic: bool) -> (u16, Value) {
    let mut request = client().post(mock.token_url());
    let mut form: Vec<(&str, &str)> = form.to_vec();
    if basic {
        request = request.header("authorization", rfc_basic());
    } else {
        form.push(("client_id", CLIENT_ID));
        form.push(("client_secret", SECRET));
    }
    let response = request.form(&form).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn exchange(mock: &MockHandle, code: &str) -> Value {
    let (status, body) = post_token(
        mock,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CALLBACK),
        ],
        true,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn userinfo(mock: &MockHandle, token: &str) -> (u16, Value) {
    let response = client()
        .get(mock.userinfo_url())
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn discovery_names_cilogons_endpoints_methods_and_scopes_with_the_mocks_origin() {
    let m = mock().await;
    let doc: Value = client()
        .get(m.discovery_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], m.issuer());
    assert_eq!(doc["authorization_endpoint"], m.authorize_url());
    assert_eq!(doc["token_endpoint"], m.token_url());
    assert_eq!(doc["userinfo_endpoint"], m.userinfo_url());
    assert_eq!(doc["jwks_uri"], m.jwks_url());
    assert_eq!(doc["revocation_endpoint"], m.revocation_url());
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post"])
    );
    assert!(
        doc["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("offline_access"))
    );
    assert!(
        m.issuer().starts_with("https://127.0.0.1:"),
        "served over TLS"
    );
    let keys: Value = client()
        .get(m.jwks_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(keys["keys"][0]["kty"], "RSA");
}

#[tokio::test]
async fn selected_idp_and_idphint_narrow_the_page_to_the_hinted_idps() {
    let m = mock().await;
    let c = client();
    let page = |extra: Vec<(&'static str, String)>| {
        let extra: Vec<(&str, String)> = extra;
        let c = c.clone();
        let url = {
            let pairs: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
            authorize(&m, &[&[("scope", "openid")][..], &pairs[..]].concat())
        };
        async move { c.get(url).send().await.unwrap().text().await.unwrap() }
    };
    // A list: only those, the first pre-selected, sorted by display name.
    let html = page(vec![("selected_idp", format!("{PARTNER},{UNI}"))]).await;
    let seen = m.authorizations().pop().unwrap();
    assert_eq!(seen.shown, [UNI, PARTNER], "by display name");
    assert_eq!(seen.preselected.as_deref(), Some(PARTNER));
    assert!(html.contains("Partner Lab (selected)"), "{html}");
    assert!(
        html.contains("alice@uni.edu") && !html.contains("github:grace"),
        "{html}"
    );
    // idphint wins over selected_idp; a chained hint's query is cut; OIDC issuers of the
    // social IdPs become CILogon's EntityIDs; unknown EntityIDs are dropped.
    page(vec![
        ("selected_idp", UNI.to_owned()),
        (
            "idphint",
            "https://accounts.google.com,https://unknown.example/idp,https://orcid.org?next=x"
                .to_owned(),
        ),
    ])
    .await;
    let seen = m.authorizations().pop().unwrap();
    assert_eq!(seen.preselected.as_deref(), Some(GOOGLE_IDP));
    let mut shown = seen.shown.clone();
    shown.sort();
    assert_eq!(shown, [GOOGLE_IDP, ORCID_IDP]);
    // Nothing CILogon knows: the whole list, nothing pre-selected.
    page(vec![(
        "selected_idp",
        "https://unknown.example/idp".to_owned(),
    )])
    .await;
    let seen = m.authorizations().pop().unwrap();
    assert_eq!(seen.preselected, None);
    assert_eq!(seen.shown.len(), 6, "two campus IdPs and four social ones");
    // A skin limits the list, hints included.
    page(vec![
        ("skin", "partner-only".to_owned()),
        ("selected_idp", format!("{UNI},{GITHUB_IDP}")),
    ])
    .await;
    let seen = m.authorizations().pop().unwrap();
    assert_eq!(seen.shown, [GITHUB_IDP]);
    assert_eq!(seen.preselected.as_deref(), Some(GITHUB_IDP));
    assert_eq!(seen.skin.as_deref(), Some("partner-only"));
}

#[tokio::test]
async fn authorization_requests_are_checked_as_cilogon_does() {
    let m = mock().await;
    m.set_auto_approve(Some("alice@uni.edu"));
    // openid is required.
    let answer = client()
        .get(authorize(&m, &[("scope", "email profile")]))
        .send()
        .await
        .unwrap();
    assert!(location(&answer).contains("error=invalid_scope"));
    // An unknown client or a redirect URI not registered: a page, never a redirect.
    let bad_client = authorize(&m, &[("scope", "openid")]).replace(
        &format!("client_id={}", urlencode(CLIENT_ID)),
        "client_id=nobody",
    );
    let answer = client().get(bad_client).send().await.unwrap();
    assert_eq!(answer.status(), 400);
    assert!(location(&answer).is_empty());
    let bad_redirect = authorize(&m, &[("scope", "openid")]).replace("9%2Fhub", "9%2Fevil");
    let answer = client().get(bad_redirect).send().await.unwrap();
    assert_eq!(answer.status(), 400);
    // A plain PKCE challenge is refused (hubauth's framework: S256 only).
    let answer = client()
        .get(authorize(
            &m,
            &[
                ("scope", "openid"),
                ("code_challenge", "abc"),
                ("code_challenge_method", "plain"),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert!(location(&answer).contains("error=invalid_request"));
}

/// HTTP Basic as RFC 6749 2.3.1 says: id and secret form-encoded first. A CILogon client
/// id holds `:` (`cilogon:/client_id/...`), so raw Basic credentials would be split at the
/// wrong place.
fn rfc_basic() -> String {
    use base64::Engine as _;
    let credentials = format!("{}:{}", urlencode(CLIENT_ID), urlencode(SECRET));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    )
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn claims_are_released_by_scope_and_empty_ones_are_left_out() {
    let m = mock().await;
    let tokens = exchange(&m, &code_for(&m, "alice@uni.edu", "openid").await).await;
    let (_, info) = userinfo(&m, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(info.as_object().unwrap().len(), 1, "sub only: {info}");
    let tokens = exchange(
        &m,
        &code_for(
            &m,
            "alice@uni.edu",
            "openid email profile org.cilogon.userinfo",
        )
        .await,
    )
    .await;
    let (status, info) = userinfo(&m, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    for claim in [
        "sub",
        "email",
        "given_name",
        "family_name",
        "name",
        "idp",
        "idp_name",
        "eppn",
        "eptid",
        "affiliation",
    ] {
        assert!(info.get(claim).is_some(), "{claim} missing: {info}");
    }
    assert_eq!(info["idp"], UNI);
    m.set_claim("alice@uni.edu", "eppn", Some(json!("")));
    let (_, info) = userinfo(&m, tokens["access_token"].as_str().unwrap()).await;
    assert!(
        info.get("eppn").is_none(),
        "an empty claim is not sent: {info}"
    );
    // The ID token carries the same claims, the nonce and CILogon's issuer.
    let id_token = tokens["id_token"].as_str().unwrap();
    let payload = id_token.split('.').nth(1).unwrap();
    use base64::Engine as _;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["iss"], m.issuer());
    assert_eq!(claims["aud"], CLIENT_ID);
    assert_eq!(claims["idp"], UNI);
}

#[tokio::test]
async fn a_client_gets_at_most_the_scopes_it_is_registered_for() {
    let m = mock().await;
    m.set_client_settings(
        CLIENT_ID,
        ClientSettings {
            scopes: vec!["openid".into(), "email".into()],
            ..ClientSettings::default()
        },
    );
    let tokens = exchange(
        &m,
        &code_for(
            &m,
            "alice@uni.edu",
            "openid email org.cilogon.userinfo offline_access",
        )
        .await,
    )
    .await;
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
    let (_, info) = userinfo(&m, tokens["access_token"].as_str().unwrap()).await;
    assert!(
        info.get("idp").is_none() && info.get("email").is_some(),
        "{info}"
    );
}

#[tokio::test]
async fn clients_authenticate_with_basic_or_in_the_body_never_both_nor_neither() {
    let m = mock().await;
    for basic in [true, false] {
        let code = code_for(&m, "alice@uni.edu", "openid").await;
        let (status, body) = post_token(
            &m,
            &[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", CALLBACK),
            ],
            basic,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 900);
    }
    let auths: Vec<ClientAuth> = m
        .requests_to(Endpoint::Token)
        .iter()
        .map(|r| r.client_auth())
        .collect();
    assert_eq!(auths, [ClientAuth::Basic, ClientAuth::Body]);
    let code = code_for(&m, "alice@uni.edu", "openid").await;
    let both = client()
        .post(m.token_url())
        .header("authorization", rfc_basic())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CALLBACK),
            ("client_secret", SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(both.status(), 401);
    let neither = client()
        .post(m.token_url())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("client_id", CLIENT_ID),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(neither.status(), 401);
    let body: Value = neither.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
}

#[tokio::test]
async fn codes_are_single_use_and_bound_to_the_redirect_uri() {
    let m = mock().await;
    let code = code_for(&m, "alice@uni.edu", "openid").await;
    let (status, body) = post_token(
        &m,
        &[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "http://127.0.0.1:9/elsewhere"),
        ],
        true,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // The failed attempt used the code up.
    let (status, _) = post_token(
        &m,
        &[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CALLBACK),
        ],
        true,
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn refresh_tokens_need_offline_access_and_rotate() {
    let m = mock().await;
    let tokens = exchange(&m, &code_for(&m, "alice@uni.edu", "openid email").await).await;
    assert!(tokens.get("refresh_token").is_none());
    let tokens = exchange(
        &m,
        &code_for(
            &m,
            "alice@uni.edu",
            "openid email org.cilogon.userinfo offline_access",
        )
        .await,
    )
    .await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    assert!(
        refresh.starts_with(&format!("{}/oauth2/", m.issuer())),
        "{refresh}"
    );
    assert!(refresh.contains("type=refreshToken") && refresh.contains("lifetime=864000000"));
    // A narrower scope is fine, a wider one is not.
    let (status, body) = post_token(
        &m,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
            ("scope", "openid profile"),
        ],
        false,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    let (status, body) = post_token(
        &m,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
        ],
        false,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let rotated = body["refresh_token"].as_str().unwrap();
    assert_ne!(rotated, refresh);
    assert!(
        body["id_token"].is_string(),
        "a refresh answers with a new ID token"
    );
    let (_, info) = userinfo(&m, body["access_token"].as_str().unwrap()).await;
    assert_eq!(info["idp"], UNI, "the scopes of the login");
    // The used refresh token is gone.
    let (status, body) = post_token(
        &m,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
        ],
        false,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // A client registered without a refresh token lifetime gets none.
    m.set_client_settings(
        CLIENT_ID,
        ClientSettings {
            refresh_lifetime: 0,
            ..ClientSettings::default()
        },
    );
    let tokens = exchange(
        &m,
        &code_for(&m, "alice@uni.edu", "openid offline_access").await,
    )
    .await;
    assert!(tokens.get("refresh_token").is_none());
}

#[tokio::test]
async fn the_user_info_endpoint_takes_the_token_one_way_only() {
    let m = mock().await;
    let tokens = exchange(&m, &code_for(&m, "alice@uni.edu", "openid").await).await;
    let token = tokens["access_token"].as_str().unwrap();
    assert!(
        token.contains('?') && token.contains('&'),
        "OA4MP-shaped: {token}"
    );
    let by_query = client()
        .get(m.userinfo_url())
        .query(&[("access_token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(by_query.status(), 200);
    let by_form = client()
        .post(m.userinfo_url())
        .form(&[("access_token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(by_form.status(), 200);
    let both = client()
        .get(m.userinfo_url())
        .bearer_auth(token)
        .query(&[("access_token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(both.status(), 400);
    let (status, body) = userinfo(&m, "https://cilogon.org/oauth2/forged").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token"))
    );
    m.expire_access_tokens();
    let (status, _) = userinfo(&m, token).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn revocation_ends_a_token() {
    let m = mock().await;
    let tokens = exchange(&m, &code_for(&m, "alice@uni.edu", "openid").await).await;
    let token = tokens["access_token"].as_str().unwrap();
    let answer = client()
        .post(m.revocation_url())
        .header("authorization", rfc_basic())
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(m.revoked(), [token]);
    assert_eq!(userinfo(&m, token).await.0, 401);
    let unauthenticated = client()
        .post(m.revocation_url())
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
}

#[tokio::test]
async fn the_idp_list_is_cilogons_json_per_skin_and_empty_when_unreadable() {
    let m = mock().await;
    let answer = client().get(m.idplist_url()).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.headers()["content-type"],
        "text/html; charset=UTF-8",
        "CILogon's script sends no JSON content type"
    );
    let list: Value = serde_json::from_str(&answer.text().await.unwrap()).unwrap();
    let first = &list.as_array().unwrap()[0];
    for field in ["EntityID", "OrganizationName", "DisplayName", "RandS"] {
        assert!(first.get(field).is_some(), "{field}: {first}");
    }
    assert_eq!(list.as_array().unwrap().len(), 6);
    let skinned: Value = client()
        .get(m.idplist_url())
        .query(&[("skin", "partner-only")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = skinned
        .as_array()
        .unwrap()
        .iter()
        .map(|idp| idp["EntityID"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [GITHUB_IDP, PARTNER]);
    // Without the slash: the web server's redirect.
    let bare = client()
        .get(m.idplist_url().trim_end_matches('/'))
        .query(&[("skin", "partner-only")])
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 301);
    assert_eq!(location(&bare), "/idplist/?skin=partner-only");
    m.set_idp_list_unreadable(true);
    let empty = client().get(m.idplist_url()).send().await.unwrap();
    assert_eq!(empty.text().await.unwrap(), "[]");
}

#[tokio::test]
async fn demo_mock_table_starts_a_hub_that_logs_the_demo_users_in_as_the_banner_says() {
    let site = hubauth_harness::Loopback::bind().await.unwrap();
    let origin = site.origin().to_owned();
    let (mock, table) = start_demo_mock(&site.callback_url()).await.unwrap();
    assert!(table.starts_with("[CILogonOAuthenticator]\n"), "{table}");
    let p = super::common::serve_hub(
        site,
        mock,
        "CILogonOAuthenticator",
        &table.replace(
            "[CILogonOAuthenticator]\n",
            "[CILogonOAuthenticator]\nenable_auth_state = true\n",
        ),
        &[],
    )
    .await
    .unwrap();
    let (hub, mock) = (&p.hub, &p.mock);
    assert!(hub.state().authenticator.startup_warnings().is_empty());
    // The picker lists the university's and GitHub's users only.
    mock.set_auto_approve(None);
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let start = browser
        .get(format!("{origin}/hub/oauth_login"))
        .send()
        .await
        .unwrap();
    let page = browser
        .get(location(&start))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("alice@demo-university.edu") && page.contains("github:grace"));
    assert!(
        !page.contains("olivia"),
        "ORCID is not among the hub's IdPs"
    );
    for (user, expected, name) in [
        ("alice@demo-university.edu", 303, Some(("alice", true))),
        ("bob@demo-university.edu", 303, Some(("bob", false))),
        ("github:grace", 303, Some(("github:grace", false))),
        ("github:mallory", 403, None),
        ("olivia", 403, None),
    ] {
        mock.set_auto_approve(Some(user));
        let browser = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let start = browser
            .get(format!("{origin}/hub/oauth_login"))
            .send()
            .await
            .unwrap();
        let at_mock = browser.get(location(&start)).send().await.unwrap();
        let callback = browser.get(location(&at_mock)).send().await.unwrap();
        assert_eq!(callback.status().as_u16(), expected, "{user}");
        if let Some((name, admin)) = name {
            let stored = hub.state().store.get_user(name).await.unwrap().unwrap();
            assert_eq!(stored.admin, admin, "{user}");
        }
    }
}
