//! The OAuth login flow end to end over loopback HTTP: the hub with GenericOAuthenticator
//! against the development OpenID provider, every failure the flow must survive.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use hubauth_devidp::{
    Client, ClientAuth, DevIdp, DevUser, Endpoint, Fault, RunningIdp, Tamper, TokenLocation,
    UserinfoTamper,
};
use hubauth_testkit::hub::*;
use serde_json::json;

/// A provider and a hub that trust each other.
struct Pair {
    idp: RunningIdp,
    hub: TestHub,
    clock: Arc<hubauth_server::ManualClock>,
}

fn users() -> Vec<DevUser> {
    vec![
        DevUser::new("ada", "ada-pw")
            .claim("preferred_username", "ada")
            .claim("email", "ada@example.org")
            .claim("email_verified", true)
            .claim("groups", json!(["staff", "ops"]))
            .claim("org", json!({"team": {"name": "research"}})),
        DevUser::new("bob", "bob-pw")
            .claim("preferred_username", "bob")
            .claim("groups", json!(["staff"])),
        DevUser::new("eve", "eve-pw")
            .claim("preferred_username", "eve")
            .claim("groups", json!(["visitors"])),
        DevUser::new("nameless", "pw").claim("groups", json!(["staff"])),
        // Addresses anyone could have typed in at the provider.
        DevUser::new("uma", "uma-pw")
            .claim("preferred_username", "uma")
            .claim("email", "admin@example.org")
            .claim("email_verified", false),
        DevUser::new("vic", "vic-pw")
            .claim("preferred_username", "vic")
            .claim("email", "boss@example.org"),
    ]
}

const BASE: &str = "[GenericOAuthenticator]\nclient_id = \"hub\"\nclient_secret = \"hub-secret\"\nusername_claim = \"preferred_username\"\nscope = [\"openid\", \"profile\", \"email\", \"groups\"]\n";

async fn pair(
    extra: &str,
    configure: impl FnOnce(hubauth_devidp::DevIdpBuilder) -> hubauth_devidp::DevIdpBuilder,
) -> Pair {
    pair_with(extra, &[], configure).await
}

async fn pair_with(
    extra: &str,
    env: &[(&str, &str)],
    configure: impl FnOnce(hubauth_devidp::DevIdpBuilder) -> hubauth_devidp::DevIdpBuilder,
) -> Pair {
    pair_with_hub("", extra, env, configure).await
}

/// A pair whose `[Hub]` table also holds `hub_extra`.
async fn pair_with_hub(
    hub_extra: &str,
    extra: &str,
    env: &[(&str, &str)],
    configure: impl FnOnce(hubauth_devidp::DevIdpBuilder) -> hubauth_devidp::DevIdpBuilder,
) -> Pair {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hub_origin = format!("http://{}", listener.local_addr().unwrap());
    let callback = format!("{hub_origin}/hub/oauth_callback");
    let mut builder = DevIdp::builder()
        .client(
            Client::confidential("hub", "hub-secret", callback)
                .with_require_pkce(false)
                .with_post_logout_redirect_uri(format!("{hub_origin}/hub/login")),
        )
        .auto_approve(Some("ada".into()));
    for user in users() {
        builder = builder.user(user);
    }
    let idp = configure(builder).start().await.unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let clock = Arc::new(hubauth_server::ManualClock::at(now));
    let base = if extra.contains("username_claim") {
        BASE.replace("username_claim = \"preferred_username\"\n", "")
    } else {
        BASE.to_owned()
    };
    // `{ISSUER}` in `extra` is the provider's issuer; an `oidc_issuer` there replaces ours.
    let extra = extra.replace("{ISSUER}", idp.issuer());
    let rest = if extra.contains("oidc_issuer") {
        format!("{base}{extra}")
    } else {
        format!("{base}oidc_issuer = \"{}\"\n{extra}", idp.issuer())
    };
    let hub_extra = format!("authenticator_class = \"generic-oauth\"\n{hub_extra}");
    let hub = start_hub_with(HubOptions {
        dir: tempfile::TempDir::new().unwrap(),
        listener: Some(listener),
        hub_extra: &hub_extra,
        rest: &rest,
        env,
        clock: Some(clock.clone()),
    })
    .await
    .unwrap();
    Pair { idp, hub, clock }
}

/// Follows the flow from hub/oauth_login to the hub's answer to the callback.
async fn oauth_login(
    client: &reqwest::Client,
    hub: &TestHub,
    next: Option<&str>,
) -> reqwest::Response {
    let query = next
        .map(|n| format!("?next={}", urlencode(n)))
        .unwrap_or_default();
    let start = client
        .get(format!("{}oauth_login{query}", hub.hub_url))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 302, "oauth_login redirects to the provider");
    let authorize = location(&start);
    let at_idp = client.get(&authorize).send().await.unwrap();
    assert_eq!(at_idp.status(), 302, "auto-approve redirects back");
    let callback = location(&at_idp);
    assert!(callback.contains("/hub/oauth_callback"), "{callback}");
    client.get(&callback).send().await.unwrap()
}

/// The provider's redirect back to the hub, without following it.
async fn to_callback(client: &reqwest::Client, hub: &TestHub) -> String {
    let start = client
        .get(format!("{}oauth_login", hub.hub_url))
        .send()
        .await
        .unwrap();
    let at_idp = client.get(location(&start)).send().await.unwrap();
    location(&at_idp)
}

async fn body(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn assert_no_session(client: &reqwest::Client, hub: &TestHub) {
    assert_eq!(home(client, hub).await.0, 302, "no session may exist");
}

#[tokio::test]
async fn full_login_with_groups_admin_and_auth_state() {
    let key = hubauth_store::CryptKeeper::generate_key();
    let p = pair_with(
        "manage_groups = true\nallowed_groups = [\"staff\"]\nadmin_groups = [\"ops\"]\nenable_auth_state = true\nlogin_service = \"Dev IdP\"\n",
        &[("JUPYTERHUB_CRYPT_KEY", key.as_str())],
        |b| b,
    )
    .await;
    // The login page offers the provider's button, not a form.
    let page = client()
        .get(format!("{}login", p.hub.hub_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Sign in with Dev IdP"), "{page}");
    assert!(!page.contains("name=\"password\""));

    let c = client();
    let response = oauth_login(&c, &p.hub, Some("/hub/home?tab=1")).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/hub/home?tab=1");
    let (status, page) = home(&c, &p.hub).await;
    assert_eq!(status, 200);
    assert_eq!(shown_user(&page).as_deref(), Some("ada"));
    assert!(page.contains("id=\"admin\">yes<"), "ops is an admin group");
    assert!(page.contains(">ops<") && page.contains(">staff<"), "{page}");

    let state = hubauth_server::auth_state::load(p.hub.hub.state(), "ada")
        .await
        .unwrap()
        .unwrap();
    for key in [
        "access_token",
        "refresh_token",
        "id_token",
        "token_response",
        "oauth_user",
        "scope",
    ] {
        assert!(!state[key].is_null(), "auth_state.{key}");
    }
    assert_eq!(state["oauth_user"]["email"], "ada@example.org");
    assert_eq!(
        state["scope"],
        json!(["openid", "profile", "email", "groups"])
    );

    // PKCE and client authentication in the body by default.
    let token_requests = p.idp.requests_to(Endpoint::Token);
    assert!(token_requests[0].has_code_verifier());
    assert_eq!(token_requests[0].client_auth(), ClientAuth::Body);
    p.hub.stop().await;
}

#[tokio::test]
async fn group_rules_refuse_and_revoke() {
    let p = pair(
        "manage_groups = true\nallowed_groups = [\"staff\"]\nadmin_groups = [\"ops\"]\n",
        |b| b,
    )
    .await;
    // bob: allowed by group, not admin.
    p.idp.set_auto_approve(Some("bob".into())).unwrap();
    let c = client();
    assert_eq!(oauth_login(&c, &p.hub, None).await.status(), 303);
    assert!(home(&c, &p.hub).await.1.contains("id=\"admin\">no<"));
    // eve: in no allowed group -> 403 with the custom message, no user stored.
    p.idp.set_auto_approve(Some("eve".into())).unwrap();
    let c = client();
    let (status, page) = body(oauth_login(&c, &p.hub, None).await).await;
    assert_eq!(status, 403);
    assert!(
        page.contains("Sorry, you are not currently authorized"),
        "{page}"
    );
    assert_no_session(&c, &p.hub).await;
    assert!(p.hub.store().get_user("eve").await.unwrap().is_none());
    p.hub.stop().await;
}

#[tokio::test]
async fn options_reach_the_provider() {
    let p = pair(
        "extra_authorize_params = { prompt = \"login\" }\ntoken_params = { audience = \"api\" }\nbasic_auth = true\nenable_pkce = false\nuserdata_params = { detail = \"full\" }\nuserdata_token_method = \"url\"\nallow_all = true\n",
        |b| b,
    )
    .await;
    let c = client();
    let start = c
        .get(format!("{}oauth_login", p.hub.hub_url))
        .send()
        .await
        .unwrap();
    let authorize = url::Url::parse(&location(&start)).unwrap();
    let params: std::collections::HashMap<_, _> = authorize.query_pairs().into_owned().collect();
    assert_eq!(params["prompt"], "login");
    assert_eq!(params["scope"], "openid profile email groups");
    assert_eq!(params["response_type"], "code");
    assert!(
        !params.contains_key("code_challenge"),
        "enable_pkce = false"
    );
    assert!(params.contains_key("nonce"), "openid scope sends a nonce");
    let at_idp = c.get(authorize.as_str()).send().await.unwrap();
    let done = c.get(location(&at_idp)).send().await.unwrap();
    assert_eq!(done.status(), 303);
    let token = &p.idp.requests_to(Endpoint::Token)[0];
    assert_eq!(token.client_auth(), ClientAuth::Basic);
    assert!(!token.has_code_verifier());
    assert_eq!(token.form_value("audience"), Some("api"));
    assert!(
        token.form_value("client_secret").is_none(),
        "never both Basic and body"
    );
    let userinfo = &p.idp.requests_to(Endpoint::Userinfo)[0];
    assert_eq!(userinfo.query_value("detail"), Some("full"));
    assert_eq!(
        userinfo.token_location(),
        Some(TokenLocation::Query),
        "url method: the token in the query only"
    );
    p.hub.stop().await;
}

#[tokio::test]
async fn username_claim_paths_and_scripts() {
    let p = pair(
        "username_claim = \"org.team.name\"\nallow_all = true\n",
        |b| b,
    )
    .await;
    let c = client();
    oauth_login(&c, &p.hub, None).await;
    assert_eq!(
        shown_user(&home(&c, &p.hub).await.1).as_deref(),
        Some("research")
    );
    p.hub.stop().await;

    let p = pair("username_claim = { script = 'user_info.email.split(\"@\")[0] + \"-x\"' }\nallow_all = true\n", |b| b).await;
    let c = client();
    oauth_login(&c, &p.hub, None).await;
    assert_eq!(
        shown_user(&home(&c, &p.hub).await.1).as_deref(),
        Some("ada-x")
    );
    p.hub.stop().await;
}

#[tokio::test]
async fn missing_username_claim_is_a_clear_403() {
    let p = pair("allow_all = true\n", |b| b).await;
    p.idp.set_auto_approve(Some("nameless".into())).unwrap();
    let c = client();
    let (status, page) = body(oauth_login(&c, &p.hub, None).await).await;
    assert_eq!(status, 403);
    assert!(page.contains("No preferred_username found"), "{page}");
    assert_no_session(&c, &p.hub).await;
    p.hub.stop().await;
}

#[tokio::test]
async fn userdata_from_verified_id_token() {
    let p = pair("userdata_from_id_token = true\nallow_all = true\n", |b| b).await;
    let c = client();
    assert_eq!(oauth_login(&c, &p.hub, None).await.status(), 303);
    assert_eq!(
        shown_user(&home(&c, &p.hub).await.1).as_deref(),
        Some("ada")
    );
    assert!(
        p.idp.requests_to(Endpoint::Userinfo).is_empty(),
        "no user info request"
    );
    p.hub.stop().await;
}

#[tokio::test]
async fn allowed_scopes_grant_access() {
    let p = pair("allowed_scopes = [\"email\"]\n", |b| b).await;
    let c = client();
    assert_eq!(oauth_login(&c, &p.hub, None).await.status(), 303);
    p.hub.stop().await;
    // The provider grants fewer scopes: no access.
    let p = pair("allowed_scopes = [\"email\"]\n", |b| b).await;
    p.idp
        .restrict_scopes(Some(vec!["openid".into(), "profile".into()]));
    let c = client();
    assert_eq!(oauth_login(&c, &p.hub, None).await.status(), 403);
    p.hub.stop().await;
}

#[tokio::test]
async fn state_is_required_bound_single_use_and_expiring() {
    let p = pair("allow_all = true\n", |b| b).await;
    let c = client();
    let callback = to_callback(&c, &p.hub).await;
    let url = url::Url::parse(&callback).unwrap();
    let code = url
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();

    // Missing state.
    let (status, page) = body(
        c.get(format!("{}oauth_callback?code={code}", p.hub.hub_url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(page.contains("Missing argument state"));
    // Another browser (no binding cookie) presenting the state.
    let stranger = client();
    let (status, page) = body(stranger.get(&callback).send().await.unwrap()).await;
    assert_eq!(status, 400);
    assert!(page.contains("OAuth state missing from cookies"), "{page}");
    assert_no_session(&stranger, &p.hub).await;
    // The state was used up by that attempt: replaying it in the right browser fails.
    let (status, page) = body(c.get(&callback).send().await.unwrap()).await;
    assert_eq!(status, 400);
    assert!(page.contains("OAuth state mismatch"), "{page}");
    assert_no_session(&c, &p.hub).await;

    // A fresh login works once; replaying its callback fails.
    let callback = to_callback(&c, &p.hub).await;
    assert_eq!(c.get(&callback).send().await.unwrap().status(), 303);
    let (status, _) = body(c.get(&callback).send().await.unwrap()).await;
    assert_eq!(status, 400);

    // Mismatched: a state that was never issued.
    let c2 = client();
    let callback = to_callback(&c2, &p.hub).await;
    let forged = callback.replace("state=", "state=x");
    let (status, page) = body(c2.get(&forged).send().await.unwrap()).await;
    assert_eq!(status, 400);
    assert!(page.contains("OAuth state mismatch"));

    // Expired: the login took longer than ten minutes.
    let c3 = client();
    let callback = to_callback(&c3, &p.hub).await;
    p.clock.advance(601);
    let (status, page) = body(c3.get(&callback).send().await.unwrap()).await;
    assert_eq!(status, 400);
    assert!(page.contains("expired"), "{page}");
    assert_no_session(&c3, &p.hub).await;
    p.hub.stop().await;
}

#[tokio::test]
async fn concurrent_logins_in_two_tabs_both_work() {
    let p = pair("allow_all = true\n", |b| b).await;
    let c = client();
    let first = to_callback(&c, &p.hub).await;
    let second = to_callback(&c, &p.hub).await;
    assert_eq!(c.get(&second).send().await.unwrap().status(), 303);
    assert_eq!(c.get(&first).send().await.unwrap().status(), 303);
    p.hub.stop().await;
}

#[tokio::test]
async fn provider_errors_give_clear_pages_and_no_session() {
    let p = pair(
        "allow_all = true\nhttp_request_kwargs = { request_timeout = 2 }\n",
        |b| b,
    )
    .await;
    // The user denies at the provider.
    let c = client();
    let callback = to_callback(&c, &p.hub).await;
    let url = url::Url::parse(&callback).unwrap();
    let state = url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let denied = format!(
        "{}oauth_callback?error=access_denied&error_description=The+user+said+no&state={state}",
        p.hub.hub_url
    );
    let (status, page) = body(c.get(&denied).send().await.unwrap()).await;
    assert_eq!(status, 400);
    assert!(page.contains("OAuth error: The user said no"), "{page}");
    assert_no_session(&c, &p.hub).await;
    // Without a code.
    let callback = to_callback(&c, &p.hub).await;
    let mut no_code = url::Url::parse(&callback).unwrap();
    let kept: Vec<(String, String)> = no_code
        .query_pairs()
        .filter(|(k, _)| k != "code")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    no_code.query_pairs_mut().clear().extend_pairs(kept);
    let no_code = no_code.to_string();
    let (status, page) = body(c.get(&no_code).send().await.unwrap()).await;
    assert_eq!(status, 400);
    assert!(page.contains("OAuth callback made without a code"));

    let faults: Vec<(Endpoint, Fault, u16, &str)> = vec![
        (
            Endpoint::Token,
            Fault::Status(
                400,
                r#"{"error":"invalid_grant","error_description":"code expired"}"#.into(),
            ),
            403,
            "An access token was not returned: code expired",
        ),
        (
            Endpoint::Token,
            Fault::Status(503, "down for maintenance".into()),
            502,
            "token request to the identity provider failed",
        ),
        (Endpoint::Token, Fault::Garbage, 502, "not JSON"),
        (Endpoint::Token, Fault::EmptyBody, 502, "not JSON"),
        (
            Endpoint::Token,
            Fault::Delay(Duration::from_secs(4)),
            502,
            "timed out",
        ),
        (
            Endpoint::Userinfo,
            Fault::Status(401, r#"{"error":"invalid_token"}"#.into()),
            403,
            "refused the access token",
        ),
        (
            Endpoint::Userinfo,
            Fault::Status(500, "boom".into()),
            502,
            "user info request",
        ),
        (Endpoint::Userinfo, Fault::Garbage, 502, "not a JSON object"),
    ];
    for (endpoint, fault, expected, needle) in faults {
        p.idp.fail_next(endpoint, fault.clone());
        let c = client();
        let (status, page) = body(oauth_login(&c, &p.hub, None).await).await;
        assert_eq!(status, expected, "{fault:?}: {page}");
        assert!(page.contains(needle), "{fault:?}: {page}");
        assert_no_session(&c, &p.hub).await;
    }
    p.hub.stop().await;
}

#[tokio::test]
async fn tampered_id_tokens_are_refused() {
    let p = pair("allow_all = true\n", |b| b).await;
    for tamper in Tamper::ALL {
        p.idp.tamper_next_id_token(tamper);
        let c = client();
        let (status, page) = body(oauth_login(&c, &p.hub, None).await).await;
        assert_eq!(status, 403, "{tamper:?}: {page}");
        assert!(page.contains("Login refused"), "{tamper:?}: {page}");
        assert_no_session(&c, &p.hub).await;
    }
    // And an honest token still works afterwards.
    let c = client();
    assert_eq!(oauth_login(&c, &p.hub, None).await.status(), 303);
    p.hub.stop().await;
}

/// F28 (OIDC Core 5.3.2): user info about another subject than the verified ID token (an
/// access token of someone else, or a substituted answer) must not become the user.
#[tokio::test]
async fn userinfo_with_another_sub_is_refused() {
    let p = pair("allow_all = true\n", |b| b).await;
    for (tamper, needle) in [
        (UserinfoTamper::OtherSubject, "answered for another user"),
        (UserinfoTamper::MissingSubject, "without a sub claim"),
    ] {
        p.idp.tamper_next_userinfo(tamper);
        let c = client();
        let (status, page) = body(oauth_login(&c, &p.hub, None).await).await;
        assert_eq!(status, 403, "{tamper:?}: {page}");
        assert!(page.contains(needle), "{tamper:?}: {page}");
        assert!(
            page.contains("user info request to the identity provider"),
            "names the step: {page}"
        );
        assert_no_session(&c, &p.hub).await;
    }
    let c = client();
    assert_eq!(
        oauth_login(&c, &p.hub, None).await.status(),
        303,
        "an honest answer"
    );
    assert_eq!(
        shown_user(&home(&c, &p.hub).await.1).as_deref(),
        Some("ada")
    );
    p.hub.stop().await;
}

/// F27: an email the provider did not verify cannot become the username (anyone could
/// register `admin@example.org` at a provider that does not verify addresses).
#[tokio::test]
async fn unverified_email_cannot_become_the_username() {
    let p = pair("username_claim = \"email\"\nallow_all = true\n", |b| b).await;
    for (user, email) in [("uma", "admin@example.org"), ("vic", "boss@example.org")] {
        p.idp.set_auto_approve(Some(user.into())).unwrap();
        let c = client();
        let (status, page) = body(oauth_login(&c, &p.hub, None).await).await;
        assert_eq!(status, 403, "{user}: {page}");
        assert!(
            page.contains(&format!(
                "Login with unverified email {email} is not allowed"
            )),
            "{user}: {page}"
        );
        assert_no_session(&c, &p.hub).await;
    }
    // A verified email still works.
    p.idp.set_auto_approve(Some("ada".into())).unwrap();
    let c = client();
    assert_eq!(oauth_login(&c, &p.hub, None).await.status(), 303);
    assert_eq!(
        shown_user(&home(&c, &p.hub).await.1).as_deref(),
        Some("ada@example.org")
    );
    p.hub.stop().await;

    // A script that builds the name from the email is held to the same rule.
    let p = pair(
        "username_claim = { script = 'user_info.email.split(\"@\")[0]' }\nallow_all = true\n",
        |b| b,
    )
    .await;
    p.idp.set_auto_approve(Some("uma".into())).unwrap();
    let c = client();
    assert_eq!(oauth_login(&c, &p.hub, None).await.status(), 403);
    assert_no_session(&c, &p.hub).await;
    p.hub.stop().await;
}

#[tokio::test]
async fn unverified_email_allowed_with_allow_unverified_email() {
    let p = pair(
        "username_claim = \"email\"\nallow_all = true\nallow_unverified_email = true\n",
        |b| b,
    )
    .await;
    p.idp.set_auto_approve(Some("vic".into())).unwrap();
    let c = client();
    assert_eq!(oauth_login(&c, &p.hub, None).await.status(), 303);
    assert_eq!(
        shown_user(&home(&c, &p.hub).await.1).as_deref(),
        Some("boss@example.org")
    );
    p.hub.stop().await;
}

/// `iss` is compared as an exact string (OIDC Core 3.1.3.7, Discovery 4.3): an ID token
/// whose issuer gained a trailing slash is another issuer's, and a configured issuer that
/// differs from the discovery document's by a slash is refused at discovery.
#[tokio::test]
async fn issuer_with_trailing_slash_is_refused() {
    let p = pair("allow_all = true\n", |b| b).await;
    p.idp.tamper_next_id_token(Tamper::IssuerWithTrailingSlash);
    let c = client();
    let (status, page) = body(oauth_login(&c, &p.hub, None).await).await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("was issued by"), "{page}");
    assert_no_session(&c, &p.hub).await;
    assert_eq!(
        oauth_login(&c, &p.hub, None).await.status(),
        303,
        "honest token"
    );
    p.hub.stop().await;

    // The provider's issuer is http://127.0.0.1:PORT; a hub configured with a trailing
    // slash still finds the discovery document but refuses what it says.
    let p = pair("oidc_issuer = \"{ISSUER}/\"\nallow_all = true\n", |b| b).await;
    let c = client();
    let response = c
        .get(format!("{}oauth_login", p.hub.hub_url))
        .send()
        .await
        .unwrap();
    let (status, page) = body(response).await;
    assert_eq!(status, 502, "{page}");
    assert!(page.contains("OpenID Connect discovery"), "{page}");
    assert!(page.contains("must be exactly"), "{page}");
    assert_eq!(
        p.idp.requests_to(Endpoint::Discovery).len(),
        1,
        "the document was fetched at the right URL"
    );
    assert!(p.idp.requests_to(Endpoint::Authorize).is_empty());
    p.hub.stop().await;
}

/// OIDC Core 3.1.3.7 item 3: an ID token also issued to another audience is refused unless
/// that audience is trusted (and then `azp` must name this client).
#[tokio::test]
async fn id_token_with_untrusted_extra_audience_is_refused() {
    let p = pair("allow_all = true\n", |b| b).await;
    p.idp.tamper_next_id_token(Tamper::UntrustedExtraAudience);
    let c = client();
    let (status, page) = body(oauth_login(&c, &p.hub, None).await).await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("not a trusted audience"), "{page}");
    assert_no_session(&c, &p.hub).await;
    p.hub.stop().await;

    let p = pair(
        "allow_all = true\ntrusted_audiences = [\"someone-else\"]\n",
        |b| b,
    )
    .await;
    p.idp.tamper_next_id_token(Tamper::UntrustedExtraAudience);
    let c = client();
    assert_eq!(oauth_login(&c, &p.hub, None).await.status(), 303);
    p.hub.stop().await;
}

/// OIDC Core 3.1.3.8: an ID token whose `at_hash` is not the access token's (a swapped
/// access token) is refused.
#[tokio::test]
async fn id_token_with_wrong_at_hash_is_refused() {
    let p = pair("allow_all = true\n", |b| b).await;
    p.idp.tamper_next_id_token(Tamper::WrongAtHash);
    let c = client();
    let (status, page) = body(oauth_login(&c, &p.hub, None).await).await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("at_hash does not match"), "{page}");
    assert_no_session(&c, &p.hub).await;
    let c = client();
    assert_eq!(
        oauth_login(&c, &p.hub, None).await.status(),
        303,
        "honest token"
    );
    p.hub.stop().await;
}

#[tokio::test]
async fn next_off_site_is_ignored() {
    let p = pair("allow_all = true\n", |b| b).await;
    for evil in [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
    ] {
        let c = client();
        let response = oauth_login(&c, &p.hub, Some(evil)).await;
        assert_eq!(location(&response), "/hub/home", "{evil}");
    }
    p.hub.stop().await;
}

#[tokio::test]
async fn auto_login_skips_the_login_page() {
    let p = pair("auto_login = true\nallow_all = true\n", |b| b).await;
    let response = client()
        .get(format!("{}login?next=%2Fhub%2Fhome", p.hub.hub_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(location(&response), "/hub/oauth_login?next=%2Fhub%2Fhome");
    p.hub.stop().await;
}

/// The `X-Access-Token` header of a forward-auth answer for this client's session.
async fn app_access_token(client: &reqwest::Client, hub: &TestHub) -> String {
    let response = client
        .get(format!("{}forward-auth", hub.hub_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.headers()["x-access-token"]
        .to_str()
        .unwrap()
        .to_owned()
}

async fn stored_access_token(hub: &TestHub, name: &str) -> String {
    let state = hubauth_server::auth_state::load(hub.hub.state(), name)
        .await
        .unwrap()
        .unwrap();
    state["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn tokens_for_apps_follow_refreshes_and_new_logins() {
    let key = hubauth_store::CryptKeeper::generate_key();
    let p = pair_with_hub(
        "auth_state_headers = { \"X-Access-Token\" = \"access_token\" }\n",
        "allow_all = true\nenable_auth_state = true\nauth_refresh_age = 60\n",
        &[("JUPYTERHUB_CRYPT_KEY", key.as_str())],
        |b| b.access_token_ttl(Duration::from_secs(2)),
    )
    .await;
    let first = client();
    assert_eq!(oauth_login(&first, &p.hub, None).await.status(), 303);
    let login_token = stored_access_token(&p.hub, "ada").await;
    assert_eq!(app_access_token(&first, &p.hub).await, login_token);
    // Answered again (from the session cache this time): the same token.
    assert_eq!(app_access_token(&first, &p.hub).await, login_token);

    // Older than auth_refresh_age: the check refreshes, and the app gets the new token,
    // not the one kept with the session.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    p.clock.advance(61);
    let refreshed = app_access_token(&first, &p.hub).await;
    assert_ne!(refreshed, login_token);
    assert_eq!(refreshed, stored_access_token(&p.hub, "ada").await);

    // A new login elsewhere stores new tokens: the first session's app sees them at once,
    // although its cache entry is still fresh (the clock has not moved).
    let second = client();
    assert_eq!(oauth_login(&second, &p.hub, None).await.status(), 303);
    let relogged = stored_access_token(&p.hub, "ada").await;
    assert_ne!(relogged, refreshed);
    assert_eq!(app_access_token(&first, &p.hub).await, relogged);
    assert_eq!(app_access_token(&second, &p.hub).await, relogged);
    p.hub.stop().await;
}

#[tokio::test]
async fn refresh_renews_tokens_and_rechecks_rules() {
    let key = hubauth_store::CryptKeeper::generate_key();
    let p = pair_with(
        "manage_groups = true\nallowed_groups = [\"staff\"]\nenable_auth_state = true\nauth_refresh_age = 60\n",
        &[("JUPYTERHUB_CRYPT_KEY", key.as_str())],
        |b| b.access_token_ttl(Duration::from_secs(2)),
    )
    .await;
    let c = client();
    assert_eq!(oauth_login(&c, &p.hub, None).await.status(), 303);
    let before = hubauth_server::auth_state::load(p.hub.hub.state(), "ada")
        .await
        .unwrap()
        .unwrap();

    // Within auth_refresh_age: no refresh.
    p.clock.advance(30);
    assert_eq!(home(&c, &p.hub).await.0, 200);
    assert!(p.idp.requests_to(Endpoint::Token).len() == 1);

    // The access token expires at the provider; the next refresh uses the refresh token.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    p.clock.advance(31);
    assert_eq!(home(&c, &p.hub).await.0, 200);
    let grants: Vec<_> = p
        .idp
        .requests_to(Endpoint::Token)
        .iter()
        .filter_map(|r| r.grant_type().map(str::to_owned))
        .collect();
    assert!(grants.contains(&"refresh_token".to_owned()), "{grants:?}");
    let after = hubauth_server::auth_state::load(p.hub.hub.state(), "ada")
        .await
        .unwrap()
        .unwrap();
    assert_ne!(before["access_token"], after["access_token"]);

    // Removed from the allowed group at the provider: access ends at the next refresh (F7).
    p.idp
        .set_user_claims(
            "ada",
            serde_json::Map::from_iter([
                ("preferred_username".to_owned(), json!("ada")),
                ("groups".to_owned(), json!(["visitors"])),
            ]),
        )
        .unwrap();
    p.clock.advance(61);
    assert_eq!(home(&c, &p.hub).await.0, 302);
    assert!(
        p.hub.store().get_auth_state("ada").await.unwrap().is_none(),
        "tokens revoked"
    );
    p.hub.stop().await;
}

#[tokio::test]
async fn disabled_user_must_log_in_again() {
    let key = hubauth_store::CryptKeeper::generate_key();
    let p = pair_with(
        "allow_all = true\nenable_auth_state = true\nauth_refresh_age = 10\n",
        &[("JUPYTERHUB_CRYPT_KEY", key.as_str())],
        |b| b,
    )
    .await;
    let c = client();
    oauth_login(&c, &p.hub, None).await;
    p.idp.disable_user("ada").unwrap();
    p.clock.advance(11);
    assert_eq!(home(&c, &p.hub).await.0, 302);
    p.hub.stop().await;
}

#[tokio::test]
async fn provider_outage_during_refresh_keeps_the_session() {
    let key = hubauth_store::CryptKeeper::generate_key();
    let p = pair_with(
        "allow_all = true\nenable_auth_state = true\nauth_refresh_age = 10\n",
        &[("JUPYTERHUB_CRYPT_KEY", key.as_str())],
        |b| b,
    )
    .await;
    let c = client();
    oauth_login(&c, &p.hub, None).await;
    p.idp
        .fail_next(Endpoint::Userinfo, Fault::Status(503, "down".into()));
    p.clock.advance(11);
    assert_eq!(
        home(&c, &p.hub).await.0,
        200,
        "an outage is not a logout, nor a 500"
    );
    p.hub.stop().await;
}

#[tokio::test]
async fn logout_ends_the_session_and_optionally_the_provider_session() {
    let key = hubauth_store::CryptKeeper::generate_key();
    let p = pair_with(
        "allow_all = true\nenable_auth_state = true\noidc_logout = true\n",
        &[("JUPYTERHUB_CRYPT_KEY", key.as_str())],
        |b| b,
    )
    .await;
    let c = client();
    oauth_login(&c, &p.hub, None).await;
    let out = logout_at(&c, &p.hub.hub_url).await;
    assert_eq!(out.status(), 302);
    let target = location(&out);
    assert!(
        target.starts_with(&p.idp.endpoint_url(Endpoint::EndSession)),
        "{target}"
    );
    assert!(target.contains("id_token_hint="));
    assert!(target.contains("post_logout_redirect_uri="));
    let back = c.get(&target).send().await.unwrap();
    assert_eq!(
        back.status(),
        302,
        "the provider accepts the hint and the registered URI"
    );
    assert_no_session(&c, &p.hub).await;
    p.hub.stop().await;
}

/// RFC 9207: the `iss` of the authorization response must be the issuer in use.
#[tokio::test]
async fn mix_up_defence_checks_the_response_issuer() {
    let p = pair("allow_all = true\n", |b| b).await;
    for (what, rewrite) in [
        ("another issuer", "https://evil.example"),
        ("does not name its issuer", ""),
    ] {
        let c = client();
        let callback = url::Url::parse(&to_callback(&c, &p.hub).await).unwrap();
        assert!(
            callback.query_pairs().any(|(k, _)| k == "iss"),
            "the provider sends iss"
        );
        let kept: Vec<(String, String)> = callback
            .query_pairs()
            .filter(|(k, _)| k != "iss")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let mut forged = callback.clone();
        forged.query_pairs_mut().clear().extend_pairs(kept);
        if !rewrite.is_empty() {
            forged.query_pairs_mut().append_pair("iss", rewrite);
        }
        let (status, page) = body(c.get(forged.as_str()).send().await.unwrap()).await;
        assert_eq!(status, 400, "{what}: {page}");
        assert!(page.contains(what), "{page}");
        assert_no_session(&c, &p.hub).await;
    }
    p.hub.stop().await;
}

#[tokio::test]
async fn auth_refresh_age_zero_disables_age_based_refresh() {
    let key = hubauth_store::CryptKeeper::generate_key();
    let p = pair_with(
        "allow_all = true\nenable_auth_state = true\nauth_refresh_age = 0\n",
        &[("JUPYTERHUB_CRYPT_KEY", key.as_str())],
        |b| b,
    )
    .await;
    let c = client();
    oauth_login(&c, &p.hub, None).await;
    let userinfo_calls = p.idp.requests_to(Endpoint::Userinfo).len();
    p.clock.advance(100_000);
    assert_eq!(home(&c, &p.hub).await.0, 200);
    assert_eq!(p.idp.requests_to(Endpoint::Userinfo).len(), userinfo_calls);
    p.hub.stop().await;
}

#[tokio::test]
async fn without_auth_state_refresh_has_nothing_to_do() {
    let p = pair("allow_all = true\nauth_refresh_age = 10\n", |b| b).await;
    let c = client();
    oauth_login(&c, &p.hub, None).await;
    assert!(p.hub.store().get_auth_state("ada").await.unwrap().is_none());
    p.clock.advance(11);
    assert_eq!(
        home(&c, &p.hub).await.0,
        200,
        "enable_auth_state off: always up to date"
    );
    p.hub.stop().await;
}

/// Login CSRF through a fixed browser binding: the attacker plants
/// `hubauth-oauth-state=<chosen>` in the victim's browser (from a sibling subdomain),
/// starts a login with the same cookie, signs in at the provider as themself and sends the
/// victim the callback URL. A hub that adopted the chosen value would bind the state to it
/// and log the victim in as the attacker.
#[tokio::test]
async fn client_chosen_login_state_cookie_is_not_adopted() {
    let p = pair("allow_all = true\n", |b| b).await;
    let chosen = "attacker-chosen-binding-0123456789abcdef";
    let planted = format!("hubauth-oauth-state={chosen}");
    let bare = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let start = bare
        .get(format!("{}oauth_login", p.hub.hub_url))
        .header("cookie", &planted)
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 302);
    let minted = start
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("hubauth-oauth-state="))
        .and_then(|v| v.split(';').next())
        .expect("the hub mints its own binding")
        .to_owned();
    assert_ne!(minted, chosen);
    let at_idp = bare.get(location(&start)).send().await.unwrap();
    let callback = location(&at_idp);
    assert!(callback.contains("/hub/oauth_callback"), "{callback}");

    // The victim opens the callback with the planted cookie: refused, no session.
    let response = bare
        .get(&callback)
        .header("cookie", &planted)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(
        !response
            .headers()
            .get_all("set-cookie")
            .iter()
            .any(|v| v.to_str().unwrap().starts_with("hubauth-session=")),
        "no session for the victim"
    );
    assert!(p.hub.store().get_user("ada").await.unwrap().is_none());

    // The honest flow: the browser that holds the minted binding finishes its login, with
    // a 303 that sends no Referer.
    let start = bare
        .get(format!("{}oauth_login", p.hub.hub_url))
        .header("cookie", format!("hubauth-oauth-state={minted}"))
        .send()
        .await
        .unwrap();
    let at_idp = bare.get(location(&start)).send().await.unwrap();
    let response = bare
        .get(location(&at_idp))
        .header("cookie", format!("hubauth-oauth-state={minted}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "303 after the callback");
    assert_eq!(response.headers()["referrer-policy"], "no-referrer");
    assert_eq!(location(&response), "/hub/home");
    assert!(p.hub.store().get_user("ada").await.unwrap().is_some());
    p.hub.stop().await;
}

/// The callback's error pages and the login page send no Referer (the callback URL holds
/// the code and the state) and cannot be framed.
#[tokio::test]
async fn callback_and_login_pages_send_no_referrer() {
    let p = pair("allow_all = true\n", |b| b).await;
    let c = client();
    let callback = to_callback(&c, &p.hub).await;
    let stranger = client();
    let response = stranger.get(&callback).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.headers()["referrer-policy"], "no-referrer");
    assert_eq!(response.headers()["x-frame-options"], "DENY");
    let response = c
        .get(format!("{}login", p.hub.hub_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["referrer-policy"], "no-referrer");
    let response = c
        .get(format!("{}oauth_login", p.hub.hub_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["referrer-policy"], "no-referrer");
    p.hub.stop().await;
}

// ----- pending logins (issue #13 point 7) -----------------------------------------------

/// Rows in the hub's `login_states` table, read from its SQLite file.
async fn pending_rows(p: &Pair) -> i64 {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(p.hub.dir.path().join("hub.sqlite"))
        .read_only(true);
    let mut conn = sqlx::ConnectOptions::connect(&options).await.unwrap();
    let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM login_states")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    rows
}

/// Starts one login at `hub/oauth_login`; returns the status.
async fn start_login(
    client: &reqwest::Client,
    p: &Pair,
    next: &str,
    forwarded_for: Option<&str>,
) -> u16 {
    let mut request = client.get(format!(
        "{}oauth_login?next={}",
        p.hub.hub_url,
        urlencode(next)
    ));
    if let Some(address) = forwarded_for {
        request = request.header("x-forwarded-for", address);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn anonymous_login_flood_does_not_grow_the_pending_table() {
    use futures::StreamExt;
    let p = pair_with_hub(
        "pending_logins_per_address = 100\npending_logins_max = 300",
        "allow_all = true\n",
        &[],
        |b| b,
    )
    .await;
    // One browser starting logins over and over keeps at most ten.
    let browser = client();
    for n in 0..50 {
        assert_eq!(
            start_login(&browser, &p, &format!("/hub/home?{n}"), None).await,
            302
        );
    }
    assert_eq!(pending_rows(&p).await, 10);
    // Cookie-less starts from one address: a hundred, then 429.
    let statuses: Vec<u16> = futures::stream::iter(0..400)
        .map(|n| {
            let p = &p;
            async move { start_login(&client(), p, &format!("/{n}"), None).await }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 302).count(),
        90,
        "{statuses:?}"
    );
    assert!(statuses.iter().all(|s| *s == 302 || *s == 429));
    assert_eq!(pending_rows(&p).await, 100);
    // Two thousand addresses behind a trusted proxy: the table stops at its ceiling.
    let statuses: Vec<u16> = futures::stream::iter(0..2000)
        .map(|n| {
            let p = &p;
            let address = format!("10.{}.{}.1", n / 250, n % 250);
            async move { start_login(&client(), p, "/", Some(&address)).await }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(
        statuses.iter().all(|s| *s == 302 || *s == 503),
        "{statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|s| **s == 302).count(), 200);
    assert_eq!(pending_rows(&p).await, 300);
    // Once the flood's attempts expire, a real login goes through.
    p.clock.advance(601);
    let c = client();
    assert_eq!(oauth_login(&c, &p.hub, None).await.status(), 303);
    assert!(pending_rows(&p).await <= 1);
    p.hub.stop().await;
}
