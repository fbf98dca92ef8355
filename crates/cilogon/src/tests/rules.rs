//! CILogonOAuthenticator's rules end to end: a real hub against the CILogon mock over
//! HTTPS, one test per rule that allows, refuses or makes an admin.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use hubauth_cilogon::IdpListReport;
use hubauth_cilogon::mock::{GITHUB_IDP, GOOGLE_IDP, MockUser, ORCID_IDP};
use serde_json::json;

use super::common::{
    PARTNER, Setup, UNI, UNI_STRIP, auth_state, authorize_url, client, home, login_as, pair, query,
    stored_user, try_pair, try_pair_with,
};

const GITHUB_PREFIX: &str = "username_derivation = { username_claim = \"preferred_username\", action = \"prefix\", prefix = \"github\" }";

#[tokio::test]
async fn the_authorization_request_selects_the_configured_idps_default_first_and_the_skin() {
    let p = pair(
        "skin = \"hubskin\"\nextra_authorize_params = { selected_idp = \"https://ignored.example\", prompt = \"login\" }\n",
        &[
            (PARTNER, UNI_STRIP),
            (UNI, &format!("{UNI_STRIP}\ndefault = true")),
            (GITHUB_IDP, GITHUB_PREFIX),
        ],
    )
    .await;
    let c = client();
    let url = authorize_url(&c, &p).await;
    assert!(url.as_str().starts_with(&p.mock.authorize_url()), "{url}");
    assert_eq!(
        query(&url, "selected_idp").unwrap(),
        format!("{UNI},{PARTNER},{GITHUB_IDP}"),
        "the default first, then the order written; over extra_authorize_params"
    );
    assert_eq!(query(&url, "skin").as_deref(), Some("hubskin"));
    assert_eq!(
        query(&url, "prompt").as_deref(),
        Some("login"),
        "other extra params stay"
    );
    assert_eq!(
        query(&url, "scope").as_deref(),
        Some("openid email org.cilogon.userinfo profile"),
        "upstream's default scope"
    );
    assert!(query(&url, "code_challenge").is_some() && query(&url, "nonce").is_some());
    // CILogon's page then lists only these IdPs, the default pre-selected.
    let page = c.get(url.as_str()).send().await.unwrap();
    assert_eq!(page.status(), 200, "the picker (no auto-approve yet)");
    let html = page.text().await.unwrap();
    assert!(html.contains("Example University (selected)"), "{html}");
    assert!(!html.contains("ORCID"), "{html}");
    let seen = p.mock.authorizations().pop().unwrap();
    assert_eq!(seen.preselected.as_deref(), Some(UNI));
    let mut shown = seen.shown.clone();
    shown.sort();
    let mut expected = vec![UNI.to_owned(), PARTNER.to_owned(), GITHUB_IDP.to_owned()];
    expected.sort();
    assert_eq!(shown, expected);
    // Without a skin, no skin parameter.
    let p = pair("", &[(UNI, UNI_STRIP)]).await;
    let url = authorize_url(&client(), &p).await;
    assert_eq!(query(&url, "skin"), None);
    assert_eq!(query(&url, "selected_idp").as_deref(), Some(UNI));
}

#[tokio::test]
async fn a_user_of_an_idp_not_in_idps_is_refused_even_with_allow_all() {
    let p = pair("allow_all = true\n", &[(UNI, UNI_STRIP)]).await;
    let (c, status, body) = login_as(&p, "olivia").await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.replace("&#x2f;", "/").contains(&format!(
            "Login with identity provider {ORCID_IDP} is not pre-configured"
        )),
        "{body}"
    );
    assert_eq!(home(&c, &p).await, 302, "no session");
    // The configured IdP's users get in.
    let (_, status, body) = login_as(&p, "alice@uni.edu").await;
    assert_eq!(status, 303, "{body}");
    assert!(stored_user(&p, "alice").await.is_some());
}

#[tokio::test]
async fn allow_all_of_one_idp_allows_every_user_of_that_idp_only() {
    let p = pair(
        "",
        &[
            (UNI, &format!("{UNI_STRIP}\nallow_all = true")),
            (
                PARTNER,
                "username_derivation = { username_claim = \"eppn\" }",
            ),
        ],
    )
    .await;
    let (c, status, body) = login_as(&p, "alice@uni.edu").await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(home(&c, &p).await, 200);
    let (_, status, _) = login_as(&p, "erin@alumni.example.com").await;
    assert_eq!(status, 303, "allow_all is not about domains");
    let (c, status, _) = login_as(&p, "pat@partner.org").await;
    assert_eq!(status, 403, "the partner IdP has no allow rule");
    assert_eq!(home(&c, &p).await, 302);
    assert!(stored_user(&p, "pat@partner.org").await.is_none());
}

#[tokio::test]
async fn allowed_domains_allows_users_whose_domain_matches_a_pattern() {
    let p = pair(
        "",
        &[(
            UNI,
            "username_derivation = { username_claim = \"eppn\" }\nallowed_domains = [\"UNI.edu\", \"*.uni.edu\"]",
        )],
    )
    .await;
    let (_, status, body) = login_as(&p, "alice@uni.edu").await;
    assert_eq!(status, 303, "{body}");
    assert!(stored_user(&p, "alice@uni.edu").await.is_some());
    let (_, status, _) = login_as(&p, "carol@cs.uni.edu").await;
    assert_eq!(status, 303, "a subdomain through the wildcard");
    let (c, status, _) = login_as(&p, "erin@alumni.example.com").await;
    assert_eq!(status, 403, "another domain");
    assert_eq!(home(&c, &p).await, 302);
}

#[tokio::test]
async fn allowed_domains_claim_reads_the_domain_from_that_claim() {
    // The username is the stripped eppn; the domain comes from the affiliation claim
    // (its part after the last @).
    let p = pair(
        "",
        &[(
            UNI,
            &format!("{UNI_STRIP}\nallowed_domains = [\"uni.edu\"]\nallowed_domains_claim = \"affiliation\""),
        )],
    )
    .await;
    let (_, status, body) = login_as(&p, "alice@uni.edu").await;
    assert_eq!(status, 303, "{body}");
    let (_, status, _) = login_as(&p, "erin@alumni.example.com").await;
    assert_eq!(status, 403, "affiliated elsewhere");
    // A user without the claim: upstream's 500, naming the claim.
    p.mock.set_claim("bob@uni.edu", "affiliation", None);
    let (_, status, body) = login_as(&p, "bob@uni.edu").await;
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains("Configured allowed_domains_claim affiliation for"),
        "{body}"
    );
}

#[tokio::test]
async fn derived_usernames_are_what_allowed_users_admin_users_and_blocked_users_name() {
    let p = pair(
        "allowed_users = [\"alice\", \"github:grace\", \"carol@cs.uni.edu\"]\nadmin_users = [\"bob\"]\nblocked_users = [\"github:mallory\"]\n",
        &[(UNI, UNI_STRIP), (GITHUB_IDP, &format!("{GITHUB_PREFIX}\nallow_all = true"))],
    )
    .await;
    // strip_idp_domain: alice@uni.edu is "alice".
    let (_, status, body) = login_as(&p, "alice@uni.edu").await;
    assert_eq!(status, 303, "{body}");
    assert!(!stored_user(&p, "alice").await.unwrap().admin);
    // A value in another domain is kept whole.
    let (_, status, _) = login_as(&p, "carol@cs.uni.edu").await;
    assert_eq!(status, 303);
    assert!(stored_user(&p, "carol@cs.uni.edu").await.is_some());
    // admin_users allows and makes an admin.
    let (_, status, _) = login_as(&p, "bob@uni.edu").await;
    assert_eq!(status, 303);
    assert!(stored_user(&p, "bob").await.unwrap().admin);
    // prefix: GitHub's grace is "github:grace".
    let (_, status, _) = login_as(&p, "github:grace").await;
    assert_eq!(status, 303);
    assert!(stored_user(&p, "github:grace").await.is_some());
    // Blocked by the derived name, although the IdP allows all.
    let (c, status, _) = login_as(&p, "github:mallory").await;
    assert_eq!(status, 403);
    assert_eq!(home(&c, &p).await, 302);
    // Not listed: erin is "erin@alumni.example.com".
    let (_, status, _) = login_as(&p, "erin@alumni.example.com").await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn groups_from_the_user_info_allow_and_make_admins_with_manage_groups() {
    let p = pair(
        "manage_groups = true\nauth_state_groups_key = \"cilogon_user.isMemberOf\"\nallowed_groups = [\"staff\"]\nadmin_groups = [\"hub-admins\"]\n",
        &[(UNI, UNI_STRIP)],
    )
    .await;
    p.mock
        .set_claim("alice@uni.edu", "isMemberOf", Some(json!(["staff"])));
    p.mock.set_claim(
        "bob@uni.edu",
        "isMemberOf",
        Some(json!(["staff", "hub-admins"])),
    );
    p.mock
        .set_claim("carol@cs.uni.edu", "isMemberOf", Some(json!(["visitors"])));
    let (_, status, body) = login_as(&p, "alice@uni.edu").await;
    assert_eq!(status, 303, "{body}");
    let alice = stored_user(&p, "alice").await.unwrap();
    assert!(!alice.admin);
    assert_eq!(alice.groups, vec!["staff".to_owned()]);
    let (_, status, _) = login_as(&p, "bob@uni.edu").await;
    assert_eq!(status, 303);
    assert!(stored_user(&p, "bob").await.unwrap().admin);
    let (_, status, _) = login_as(&p, "carol@cs.uni.edu").await;
    assert_eq!(status, 403, "not in an allowed group");
}

#[tokio::test]
async fn auth_state_keeps_cilogons_user_info_and_the_tokens() {
    let p = pair("", &[(UNI, &format!("{UNI_STRIP}\nallow_all = true"))]).await;
    let (_, status, _) = login_as(&p, "alice@uni.edu").await;
    assert_eq!(status, 303);
    let state = auth_state(&p, "alice").await;
    let user = &state["cilogon_user"];
    assert_eq!(user["idp"], UNI);
    assert_eq!(user["idp_name"], "Example University");
    assert_eq!(user["eppn"], "alice@uni.edu");
    assert!(
        user["sub"]
            .as_str()
            .unwrap()
            .starts_with("http://cilogon.org/serverA/users/")
    );
    assert!(
        state["access_token"]
            .as_str()
            .unwrap()
            .contains("type=accessToken")
    );
    assert!(state["id_token"].is_string());
    assert!(
        state["refresh_token"].is_null(),
        "no offline_access, no refresh token"
    );
    assert_eq!(
        state["scope"],
        json!(["openid", "email", "org.cilogon.userinfo", "profile"])
    );
}

#[tokio::test]
async fn a_username_claim_the_user_info_lacks_is_an_error_naming_it() {
    let p = pair("", &[(UNI, &format!("{UNI_STRIP}\nallow_all = true"))]).await;
    let (c, status, body) = login_as(&p, "noeppn").await;
    assert_eq!(status, 500, "{body}");
    assert!(
        body.replace("&#x2f;", "/").contains(&format!(
            "Configured username_claim eppn for {UNI} was not found in the response"
        )),
        "{body}"
    );
    assert_eq!(home(&c, &p).await, 302);
}

/// F27: CILogon sends no `email_verified`, so a username (or a domain rule) taken from
/// the email claim needs `allow_unverified_email`, and the hub says so at start-up.
#[tokio::test]
async fn usernames_from_email_need_allow_unverified_email() {
    let google = "username_derivation = { username_claim = \"email\", action = \"prefix\", prefix = \"google\" }\nallow_all = true";
    let p = pair("", &[(GOOGLE_IDP, google)]).await;
    let warnings = p.hub.state().authenticator.startup_warnings().join("\n");
    assert!(
        warnings.contains("allow_unverified_email") && warnings.contains(GOOGLE_IDP),
        "{warnings}"
    );
    let (c, status, body) = login_as(&p, "google:gina@gmail.com").await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("Login with unverified email gina@gmail.com is not allowed"),
        "{body}"
    );
    assert_eq!(home(&c, &p).await, 302);
    let p = pair("allow_unverified_email = true\n", &[(GOOGLE_IDP, google)]).await;
    assert!(
        !p.hub
            .state()
            .authenticator
            .startup_warnings()
            .join("\n")
            .contains("allow_unverified_email"),
    );
    let (_, status, body) = login_as(&p, "google:gina@gmail.com").await;
    assert_eq!(status, 303, "{body}");
    assert!(stored_user(&p, "google:gina@gmail.com").await.is_some());
    // A domain rule read from email is held to the same rule.
    let p = pair(
        "",
        &[(
            UNI,
            &format!(
                "{UNI_STRIP}\nallowed_domains = [\"uni.edu\"]\nallowed_domains_claim = \"email\""
            ),
        )],
    )
    .await;
    let (_, status, body) = login_as(&p, "alice@uni.edu").await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("Login with unverified email alice@uni.edu"),
        "{body}"
    );
}

/// Upstream's documentation writes GitHub's EntityID as `https://github.com/...`;
/// CILogon accepts that as a hint, but reports GitHub users with its own EntityID
/// (`http://github.com/...`). Such users are refused, and the IdP list check says why.
#[tokio::test]
async fn an_entity_id_cilogon_does_not_list_is_reported_and_lets_nobody_in() {
    let written = "https://github.com/login/oauth/authorize";
    let p = pair(
        "",
        &[(written, &format!("{GITHUB_PREFIX}\nallow_all = true"))],
    )
    .await;
    let c = client();
    let url = authorize_url(&c, &p).await;
    assert_eq!(query(&url, "selected_idp").as_deref(), Some(written));
    let (_, status, body) = login_as(&p, "github:grace").await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.replace("&#x2f;", "/").contains(&format!(
            "Login with identity provider {GITHUB_IDP} is not pre-configured"
        )),
        "{body}"
    );
    let page = p.mock.authorizations().pop().unwrap();
    assert_eq!(
        page.preselected.as_deref(),
        Some(GITHUB_IDP),
        "CILogon normalized the hint"
    );
    let report = wait_for_report(&p).await;
    assert_eq!(report, IdpListReport::Unlisted(vec![written.to_owned()]));
}

/// Waits for the background IdP list check the first login started.
pub(super) async fn wait_for_report(p: &super::common::Pair) -> IdpListReport {
    let authenticator = p.authenticator.as_ref().unwrap();
    for _ in 0..200 {
        if let Some(report) = authenticator.provider().idp_list_report() {
            return report;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the IdP list check did not finish");
}

#[tokio::test]
async fn local_cilogon_admits_users_who_are_system_users() {
    let p = try_pair_with(
        Setup {
            class: "LocalCILogonOAuthenticator",
            ..Setup::new(
                "create_system_users = false\n",
                &[(UNI, &format!("{UNI_STRIP}\nallow_all = true"))],
            )
        },
        |mock| mock.user(MockUser::campus(UNI, "root", "uni.edu")),
    )
    .await
    .unwrap();
    // root@uni.edu is "root", a UNIX user on every machine.
    let (c, status, body) = login_as(&p, "root@uni.edu").await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(home(&c, &p).await, 200);
    // alice is allowed by the IdP but has no UNIX account, and none is created.
    let (c, status, _) = login_as(&p, "alice@uni.edu").await;
    assert_ne!(status, 303);
    assert_eq!(home(&c, &p).await, 302);
    // The IdP rules apply as to CILogonOAuthenticator.
    let (_, status, _) = login_as(&p, "olivia").await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_hub_without_any_allow_rule_warns_and_a_per_idp_rule_counts() {
    let p = try_pair(Setup::new("", &[(UNI, UNI_STRIP)])).await.unwrap();
    let warnings = p.hub.state().authenticator.startup_warnings().join("\n");
    assert!(warnings.contains("No allow config found"), "{warnings}");
    let (_, status, _) = login_as(&p, "alice@uni.edu").await;
    assert_eq!(status, 403, "nobody is allowed");
    let p = pair(
        "",
        &[(
            UNI,
            &format!("{UNI_STRIP}\nallowed_domains = [\"uni.edu\"]"),
        )],
    )
    .await;
    let warnings = p.hub.state().authenticator.startup_warnings().join("\n");
    assert!(!warnings.contains("No allow config found"), "{warnings}");
}

/// CILogon client ids hold `:` (`cilogon:/client_id/...`). With `basic_auth` the hub
/// form-encodes id and secret before base64, as RFC 6749 2.3.1 says, so that CILogon can
/// split them; by default (upstream's too) they go in the body.
#[tokio::test]
async fn client_credentials_reach_cilogon_in_the_body_or_with_basic_auth() {
    use hubauth_cilogon::mock::Endpoint;
    use hubauth_devidp::mock::ClientAuth;
    let allow = format!("{UNI_STRIP}\nallow_all = true");
    for (keys, expected) in [
        ("", ClientAuth::Body),
        ("basic_auth = true\n", ClientAuth::Basic),
    ] {
        let p = pair(keys, &[(UNI, &allow)]).await;
        let (_, status, body) = login_as(&p, "alice@uni.edu").await;
        assert_eq!(status, 303, "{keys}: {body}");
        let requests = p.mock.requests_to(Endpoint::Token);
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].client_auth(), expected, "{keys}");
    }
}

/// CILogon's ID token carries the claims its scopes release, `idp` included, so
/// `userdata_from_id_token` works without the user info endpoint; the ID token is
/// verified against the keys CILogon's discovery document names.
#[tokio::test]
async fn userdata_from_id_token_reads_the_verified_id_token_instead_of_the_user_info() {
    use hubauth_cilogon::mock::Endpoint;
    let p = pair(
        "userdata_from_id_token = true\n",
        &[(
            UNI,
            &format!("{UNI_STRIP}\nallowed_domains = [\"uni.edu\"]"),
        )],
    )
    .await;
    let (_, status, body) = login_as(&p, "alice@uni.edu").await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(p.mock.count(Endpoint::UserInfo), 0);
    assert_eq!(auth_state(&p, "alice").await["cilogon_user"]["idp"], UNI);
    let (_, status, _) = login_as(&p, "erin@alumni.example.com").await;
    assert_eq!(status, 403);
    p.mock.forge_id_tokens(true);
    let (_, status, _) = login_as(&p, "bob@uni.edu").await;
    assert_eq!(status, 403, "a forged ID token is refused");
}
