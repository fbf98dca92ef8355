//! GlobusOAuthenticator against Globus as the real service behaves (issue 21, points 6
//! and 7), end to end over loopback HTTP: client authentication with real secrets, ID
//! tokens, linked identities, and the Auth token not at the top level of the response.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hubauth_config::{Config, MapEnv};
use hubauth_devidp::mock::AuthorizationScheme;
use hubauth_globus::GlobusOAuthenticator;
use hubauth_globus::mock::Endpoint;
use serde_json::{Value, json};

use super::globus_flow::{
    GROUPS_SCOPE, Pair, STAFF, TRANSFER_SCOPE, auth_state, home, login_as, logout, pair, registry,
    stored_user,
};

const VIEW_IDENTITY_SET: &str = "urn:globus:auth:scope:auth.globus.org:view_identity_set";

/// The hub's authenticator built again from the pair's table, to drive a token request
/// the hub itself makes only in some configurations (the refresh grant).
fn authenticator(p: &Pair) -> GlobusOAuthenticator {
    let text = format!("[GlobusOAuthenticator]\n{}", p.table);
    let registry = registry();
    let config = Config::parse(&text, "test.toml", &registry).unwrap();
    let env = MapEnv::from_iter(std::iter::empty::<(&str, &str)>());
    hubauth_globus::globus_from_view(&config.view(&registry, "GlobusOAuthenticator", &env)).unwrap()
}

/// `Basic base64(id:secret)` with both form-encoded, as RFC 6749 2.3.1 says and as hubauth
/// sent them to Globus before.
fn form_encoded_basic(id: &str, secret: &str) -> String {
    let encode = |text: &str| url::form_urlencoded::byte_serialize(text.as_bytes()).collect();
    let (id, secret): (String, String) = (encode(id), encode(secret));
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

/// Every request the mock got at `endpoint` authenticated the client `hub` with HTTP
/// Basic, and none carried the secret in its body.
fn all_basic(p: &Pair, endpoint: Endpoint) -> usize {
    let requests = p.mock.requests_to(endpoint);
    for request in &requests {
        assert_eq!(
            request.authorization,
            Some(AuthorizationScheme::Basic {
                client_id: Some("hub".to_owned())
            }),
            "{request:?}"
        );
        assert!(
            request
                .form
                .iter()
                .all(|(key, _)| key != "client_secret" && key != "client_id"),
            "{request:?}"
        );
    }
    requests.len()
}

async fn answer_error(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Point 6: a Globus secret ends in `=` (and has `+` and `/`); the revocation endpoint
/// reads HTTP Basic credentials raw, so the hub must not form-encode them, or every
/// revocation at logout fails with 401 and the tokens stay valid for 48 hours.
#[tokio::test]
async fn revocation_at_logout_works_with_a_real_globus_secret() {
    let p = pair("allow_all = true\nrevoke_tokens_on_logout = true\nexclude_tokens = [\"auth.globus.org\"]\nextra_authorize_params = { access_type = \"offline\" }\n").await;
    assert!(
        p.secret.ends_with('=') && p.secret.contains('+') && p.secret.contains('/'),
        "a secret as Globus issues them"
    );
    let (c, status, body) = login_as(&p, "alice@globusid.org").await;
    assert_eq!(status, 303, "{body}");
    let state = auth_state(&p, "alice").await;
    let kept: Vec<String> = state["tokens"]["transfer.api.globus.org"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(field, _)| *field == "access_token" || *field == "refresh_token")
        .map(|(_, token)| token.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kept.len(), 2, "the Transfer access and refresh tokens");
    let out = logout(&c, &p).await;
    assert_eq!(
        out.status(),
        302,
        "no warning page: every revocation succeeded"
    );
    let revoked = p.mock.revoked();
    assert_eq!(revoked.len(), 2);
    for token in &kept {
        assert!(revoked.contains(token));
        assert!(!p.mock.live_tokens().contains(token), "no longer valid");
    }
    assert_eq!(all_basic(&p, Endpoint::Revoke), 2);
    // What the hub used to send is what Globus refuses: the form-encoded secret.
    let refused = reqwest::Client::new()
        .post(p.mock.revocation_url())
        .header("authorization", form_encoded_basic("hub", &p.secret))
        .form(&[("token", "anything")])
        .send()
        .await
        .unwrap();
    let (status, error) = answer_error(refused).await;
    assert_eq!(status, 401);
    assert_eq!(error["error"], "invalid_client");
}

/// Point 6: the token requests (the code exchange at login, and the refresh grant)
/// authenticate as Globus accepts: HTTP Basic, the only method its discovery document
/// lists, with the secret raw, even when `basic_auth = false` is configured. The mock
/// refuses the form-encoded secret and a secret in the body, as Globus does.
#[tokio::test]
async fn globus_token_requests_send_the_secret_as_globus_reads_it() {
    let p = pair("allow_all = true\nbasic_auth = false\nexclude_tokens = []\nextra_authorize_params = { access_type = \"offline\" }\n").await;
    let (_c, status, body) = login_as(&p, "alice@globusid.org").await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(all_basic(&p, Endpoint::Token), 1, "the code exchange");
    // The refresh grant goes through the same client authentication.
    let state = auth_state(&p, "alice").await;
    let refresh = state["tokens"]["auth.globus.org"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let refreshed = authenticator(&p)
        .core()
        .refresh_grant(&refresh)
        .await
        .expect("Globus accepts the refresh grant");
    assert!(p.mock.live_tokens().contains(&refreshed.access_token));
    assert_eq!(all_basic(&p, Endpoint::Token), 2, "and the refresh grant");
    let last = p.mock.requests_to(Endpoint::Token).pop().unwrap();
    assert!(
        last.form
            .contains(&("grant_type".to_owned(), "refresh_token".to_owned()))
    );
    // Globus refuses what RFC 6749 would allow: the secret form-encoded, or in the body.
    let http = reqwest::Client::new();
    let grant = [("grant_type", "refresh_token"), ("refresh_token", &refresh)];
    let encoded = http
        .post(p.mock.token_url())
        .header("authorization", form_encoded_basic("hub", &p.secret))
        .form(&grant)
        .send()
        .await
        .unwrap();
    let (status, error) = answer_error(encoded).await;
    assert_eq!((status, &error["error"]), (401, &json!("invalid_client")));
    let in_body = http
        .post(p.mock.token_url())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", "hub"),
            ("client_secret", &p.secret),
        ])
        .send()
        .await
        .unwrap();
    let (status, error) = answer_error(in_body).await;
    assert_eq!((status, &error["error"]), (401, &json!("invalid_client")));
}

/// Point 7: a Globus account links identities from several identity providers. The
/// login is for the identity the user info speaks for (its `sub`), wherever
/// `identity_set` lists it: here a linked identity from another provider comes first.
#[tokio::test]
async fn linked_identities_the_login_is_for_the_identity_the_user_info_is_about() {
    let p = pair(&format!(
        "identity_provider = \"globusid.org\"\nallow_all = true\nscope = [\"openid\", \"profile\", \"{VIEW_IDENTITY_SET}\"]\n"
    ))
    .await;
    // ada logs in with ada@globusid.org; lovelace@example.edu is linked and listed first.
    let (_c, status, body) = login_as(&p, "ada@globusid.org").await;
    assert_eq!(status, 303, "{body}");
    let user = &auth_state(&p, "ada").await["globus_user"];
    let set = user["identity_set"].as_array().unwrap();
    assert_eq!(set.len(), 2);
    assert_eq!(set[0]["username"], "lovelace@example.edu", "listed first");
    assert_eq!(set[1]["sub"], user["sub"]);
    assert!(stored_user(&p, "ada").await.is_some());
    assert!(
        stored_user(&p, "lovelace").await.is_none(),
        "not the first listed identity's name"
    );
    // eve logs in with eve@example.edu; her linked globusid.org identity, listed first,
    // does not make her a globusid.org user.
    let (c, status, body) = login_as(&p, "eve@example.edu").await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("This site is restricted to globusid.org accounts"),
        "{body}"
    );
    assert_eq!(home(&c, &p).await, 302);
    assert!(stored_user(&p, "eve").await.is_none());
}

/// Point 7: when the first requested scope is another resource server's, the top-level
/// token of the code exchange may be that server's, with the Auth token in
/// `other_tokens`. The user info is asked with the Auth token and the groups with the
/// Groups token, each found by its resource server, at login and at refresh.
#[tokio::test]
async fn the_auth_token_is_found_in_other_tokens() {
    let p = pair(&format!(
        "exclude_tokens = []\nallowed_globus_groups = [\"{STAFF}\"]\nscope = [\"{TRANSFER_SCOPE}\", \"openid\", \"profile\", \"{GROUPS_SCOPE}\"]\n"
    ))
    .await;
    p.mock.set_first_scope_on_top(true);
    let (c, status, body) = login_as(&p, "alice@globusid.org").await;
    assert_eq!(status, 303, "{body}");
    let state = auth_state(&p, "alice").await;
    let response = &state["token_response"];
    assert_eq!(response["resource_server"], "transfer.api.globus.org");
    let others: Vec<&Value> = response["other_tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|token| &token["resource_server"])
        .collect();
    assert!(others.contains(&&json!("auth.globus.org")), "{others:?}");
    assert_eq!(
        state["globus_user"]["preferred_username"],
        "alice@globusid.org"
    );
    assert_eq!(state["globus_groups"], json!([STAFF]));
    let mut servers: Vec<&String> = state["tokens"].as_object().unwrap().keys().collect();
    servers.sort();
    assert_eq!(
        servers,
        [
            "auth.globus.org",
            "groups.api.globus.org",
            "transfer.api.globus.org"
        ]
    );
    // A refresh asks Globus again with the stored Auth token from other_tokens.
    let userinfo_calls = p.mock.count(Endpoint::UserInfo);
    p.clock.advance(301);
    assert_eq!(home(&c, &p).await, 200);
    assert_eq!(p.mock.count(Endpoint::UserInfo), userinfo_calls + 1);
    p.mock.set_groups("alice@globusid.org", vec![]);
    p.clock.advance(301);
    assert_eq!(home(&c, &p).await, 302, "out of the group: access ends");

    // With auth.globus.org excluded (the default), its token and the ID token are gone
    // from auth_state although the Auth token was not at the top level.
    let p = pair(&format!(
        "allow_all = true\nscope = [\"{TRANSFER_SCOPE}\", \"openid\", \"profile\"]\n"
    ))
    .await;
    p.mock.set_first_scope_on_top(true);
    let (_c, status, body) = login_as(&p, "alice@globusid.org").await;
    assert_eq!(status, 303, "{body}");
    let state = auth_state(&p, "alice").await;
    let text = state.to_string();
    let auth_tokens = p.mock.issued_for("auth.globus.org");
    assert!(!auth_tokens.is_empty());
    for token in &auth_tokens {
        assert!(!text.contains(token.as_str()), "an excluded token is kept");
    }
    assert!(state["token_response"].get("id_token").is_none());
    assert!(
        state["token_response"]["access_token"].is_string(),
        "Transfer's"
    );
}

/// Point 7: with `openid` the token response carries an ID token. Without keys to verify
/// it, hubauth does not read it (the identity comes from the user info endpoint), so a
/// forged one changes nothing; with `jwks_url` it is verified, its `at_hash` against the
/// Auth token wherever that is in the response, and a forged one refuses the login.
#[tokio::test]
async fn an_id_token_in_the_response_is_verified_or_not_used() {
    let p = pair("allow_all = true\nexclude_tokens = []\n").await;
    p.mock.forge_id_tokens(true);
    let (_c, status, body) = login_as(&p, "alice@globusid.org").await;
    assert_eq!(status, 303, "{body}");
    let state = auth_state(&p, "alice").await;
    assert!(
        state["token_response"]["id_token"].is_string(),
        "Globus sent one"
    );
    assert_eq!(state["globus_user"]["sub"].as_str().map(str::len), Some(36));

    let p = pair(&format!(
        "allow_all = true\njwks_url = \"@JWKS_URL@\"\nscope = [\"{TRANSFER_SCOPE}\", \"openid\", \"profile\"]\n"
    ))
    .await;
    p.mock.set_first_scope_on_top(true);
    let (_c, status, body) = login_as(&p, "alice@globusid.org").await;
    assert_eq!(status, 303, "a verified ID token: {body}");
    assert_eq!(p.mock.count(Endpoint::Jwks), 1);
    p.mock.forge_id_tokens(true);
    let (c, status, body) = login_as(&p, "bob@globusid.org").await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("signature"), "{body}");
    assert_eq!(home(&c, &p).await, 302);
    assert!(stored_user(&p, "bob").await.is_none());
}
