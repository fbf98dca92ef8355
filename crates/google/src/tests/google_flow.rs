//! GoogleOAuthenticator end to end over loopback HTTP: a real hub against the Google mock.
//! The hub, the browser and the login through the mock are the shared harness's
//! (`hubauth-harness`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use hubauth_config::{ClassView, ConfigError, Registry};
use hubauth_core::Authenticator;
use hubauth_google::mock::{
    Endpoint, Fault, GROUP_READONLY_SCOPE, GoogleMock, MockGroup, MockHandle, MockUser,
    google_client_secret,
};
use hubauth_harness::{Build, Loopback, Provider};
use hubauth_server::ManualClock;
use serde_json::{Value, json};

pub(super) use hubauth_harness::stored_user as stored;
pub(super) use hubauth_harness::{auth_state, authorize_url, client, home, login_as, query};

pub(super) const SERVICE_ACCOUNT: &str = "hub-groups@hub-project.iam.gserviceaccount.com";
pub(super) const CLIENT_ID: &str = "hub.apps.googleusercontent.com";
/// The administrator the service account acts as.
pub(super) const READER: &str = "groups-reader@example.com";
/// A group rule setup every test that needs groups starts from (`@KEY@` is the key file).
pub(super) const GROUPS: &str = "google_service_account_keys = { \"example.com\" = \"@KEY@\" }\ngsuite_administrator = { \"example.com\" = \"groups-reader\" }\n";

pub(super) fn users() -> Vec<MockUser> {
    vec![
        MockUser::workspace("alice@example.com"),
        MockUser::workspace("admin@example.com"),
        MockUser::workspace("bob@example.com"),
        MockUser::workspace("carol@example.com"),
        MockUser::workspace("fred@example.com"),
        MockUser::workspace("eve@example.com").unverified(),
        MockUser::workspace("dave@other.org"),
        MockUser::personal("mallory@gmail.com"),
        MockUser::workspace(READER).groups_reader(),
    ]
}

pub(super) fn groups() -> Vec<MockGroup> {
    vec![
        MockGroup::new(
            "staff@example.com",
            &["alice@example.com", "admin@example.com", "team@example.com"],
        ),
        MockGroup::new("hub-admins@example.com", &["admin@example.com"]),
        MockGroup::new("team@example.com", &["carol@example.com"]),
        MockGroup::new("staff@other.org", &["fred@example.com", "dave@other.org"]),
    ]
}

/// The hub's clock, as the provider's own clock too.
#[derive(Debug)]
struct HubClock(Arc<ManualClock>);

impl hubauth_google::Clock for HubClock {
    fn now(&self) -> i64 {
        hubauth_server::Clock::now(self.0.as_ref())
    }
}

/// A hub against the Google mock, and the hub's client secret at Google.
pub(super) struct Pair {
    base: hubauth_harness::Pair<MockHandle>,
    /// The hub's client secret at Google.
    pub(super) secret: String,
}

impl std::ops::Deref for Pair {
    type Target = hubauth_harness::Pair<MockHandle>;

    fn deref(&self) -> &Self::Target {
        &self.base
    }
}

impl Pair {
    /// Time passes for the hub and for Google alike.
    pub(super) fn advance(&self, seconds: i64) {
        self.clock.advance(seconds);
        self.mock.advance_clock(seconds);
    }
}

// Google approves by email.
hubauth_harness::idp_mock!(MockHandle);

/// The provider under test: the Google classes, the Local variant or not, on the hub's
/// `clock` (Google's own time checks read the hub's clock).
fn provider(clock: Arc<ManualClock>) -> Provider<impl Build<ConfigError>> {
    Provider::new(
        hubauth_google::classes(),
        move |class: &str, view: &ClassView<'_>| {
            let provider_clock: Arc<dyn hubauth_google::Clock> = Arc::new(HubClock(clock.clone()));
            let built: Arc<dyn Authenticator> = if class.starts_with("Local") {
                Arc::new(hubauth_local::Local::from_view(view, |view| {
                    hubauth_google::google_from_view_with_clock(view, provider_clock)
                })?)
            } else {
                Arc::new(hubauth_google::google_from_view_with_clock(
                    view,
                    provider_clock,
                )?)
            };
            Ok(built)
        },
    )
}

pub(super) fn registry() -> Registry {
    hubauth_harness::registry(hubauth_google::classes())
}

/// A mock (`configure` may change it before it starts) and a hub of `class` with its
/// table plus `extra`, where `@KEY@` stands for the service account's key file and
/// `@UNKNOWN_KEY@` for a key file Google does not know.
pub(super) async fn try_pair_with(
    class: &str,
    extra: &str,
    configure: impl FnOnce(GoogleMock) -> GoogleMock,
) -> anyhow::Result<Pair> {
    let site = Loopback::bind().await?;
    let secret = google_client_secret();
    let mut builder = GoogleMock::builder()
        .client(CLIENT_ID, &secret, &site.callback_url())
        .service_account(SERVICE_ACCOUNT)
        .delegate(SERVICE_ACCOUNT, &[GROUP_READONLY_SCOPE])
        .auto_approve(Some("alice@example.com"));
    for user in users() {
        builder = builder.user(user);
    }
    for group in groups() {
        builder = builder.group(group);
    }
    let mock = configure(builder).start().await?;
    let key = mock.write_service_account_key(site.dir(), SERVICE_ACCOUNT)?;
    let unknown = site.dir().join("unknown.json");
    std::fs::write(&unknown, mock.unknown_service_account_key(SERVICE_ACCOUNT)?)?;
    let table = format!(
        "[{class}]\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{secret}\"\n{}enable_auth_state = true\n{}",
        mock.toml_urls(),
        extra
            .replace("@KEY@", &key.display().to_string())
            .replace("@UNKNOWN_KEY@", &unknown.display().to_string())
            .replace("@ORIGIN@", &mock.base_url())
    );
    let base = provider(site.clock().clone())
        .serve(site, mock, class, &table)
        .await?;
    Ok(Pair { base, secret })
}

pub(super) async fn pair(extra: &str) -> Pair {
    try_pair_with("GoogleOAuthenticator", extra, |m| m)
        .await
        .unwrap()
}

use hubauth_harness::unescape_html as unescape;

// ---- hosted domains and usernames ----------------------------------------------------

#[tokio::test]
async fn workspace_user_in_an_allowed_group_logs_in_with_the_domain_stripped() {
    let p = pair(&format!(
        "hosted_domain = [\"example.com\"]\nallowed_google_groups = {{ \"example.com\" = [\"staff\"] }}\n{GROUPS}"
    ))
    .await;
    let (c, status, body) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(home(&c, &p).await, 200);
    assert!(!stored(&p, "alice").await.unwrap().admin);
    let state = auth_state(&p, "alice").await;
    let user = &state["google_user"];
    assert_eq!(user["email"], "alice@example.com");
    assert_eq!(user["hd"], "example.com");
    assert_eq!(user["verified_email"], true);
    assert_eq!(user["domain"], "example.com");
    assert_eq!(user["google_groups"], json!(["staff"]));
    assert_eq!(user["google_group_emails"], json!(["staff@example.com"]));
    assert!(state["id_token"].is_string(), "the ID token is kept");
    assert!(state["access_token"].is_string());
    // Google reports the long scope names.
    assert_eq!(
        state["scope"],
        json!(["openid", "https://www.googleapis.com/auth/userinfo.email"])
    );
}

#[tokio::test]
async fn hosted_domain_blocks_other_domains_even_when_allowed_by_name() {
    let p = pair(
        "hosted_domain = [\"example.com\"]\nallowed_users = [\"alice\", \"mallory@gmail.com\", \"dave@other.org\"]\n",
    )
    .await;
    let (_, status, _) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 303);
    // An account outside every Workspace (no hd) and one of another Workspace.
    for user in ["mallory@gmail.com", "dave@other.org"] {
        let (c, status, _) = login_as(&p, user).await;
        assert_eq!(status, 403, "{user}");
        assert_eq!(home(&c, &p).await, 302, "no session for {user}");
    }
}

#[tokio::test]
async fn hosted_domain_is_checked_against_hd_not_the_email_address() {
    // An account whose address is in example.com but which belongs to no Workspace (no
    // hd): the 16.3.0 advisory's case.
    let p = try_pair_with(
        "GoogleOAuthenticator",
        "hosted_domain = [\"example.com\"]\nallow_all = true\n",
        |m| m.user(MockUser::personal("outsider@example.com")),
    )
    .await
    .unwrap();
    let (_, status, _) = login_as(&p, "outsider@example.com").await;
    assert_eq!(status, 403);
    assert!(stored(&p, "outsider").await.is_none());
}

#[tokio::test]
async fn several_hosted_domains_keep_the_whole_address_as_username() {
    let p = pair("hosted_domain = [\"example.com\", \"Other.ORG\"]\nallow_all = true\n").await;
    let (_, status, _) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 303);
    assert!(stored(&p, "alice@example.com").await.is_some());
    let (_, status, _) = login_as(&p, "dave@other.org").await;
    assert_eq!(status, 303);
    assert!(stored(&p, "dave@other.org").await.is_some());
    let (_, status, _) = login_as(&p, "mallory@gmail.com").await;
    assert_eq!(status, 403);
    // strip_domain turned on with several domains strips (with a start-up warning).
    let p = pair(
        "hosted_domain = [\"example.com\", \"other.org\"]\nstrip_domain = true\nallow_all = true\n",
    )
    .await;
    assert!(
        p.hub
            .state()
            .authenticator
            .startup_warnings()
            .iter()
            .any(|w| w.contains("strip_domain")),
    );
    let (_, status, _) = login_as(&p, "dave@other.org").await;
    assert_eq!(status, 303);
    assert!(stored(&p, "dave").await.is_some());
}

#[tokio::test]
async fn without_hosted_domain_the_username_is_the_whole_address() {
    let p = pair("allow_all = true\n").await;
    let (_, status, _) = login_as(&p, "mallory@gmail.com").await;
    assert_eq!(status, 303);
    assert!(stored(&p, "mallory@gmail.com").await.is_some());
    // strip_domain = false keeps the domain even with one hosted domain.
    let p = pair("hosted_domain = \"example.com\"\nstrip_domain = false\nallow_all = true\n").await;
    let (_, status, _) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 303);
    assert!(stored(&p, "alice@example.com").await.is_some());
}

#[tokio::test]
async fn allowed_hosted_domains_allows_by_hd_and_restricts_nobody() {
    let p = pair(
        "allowed_hosted_domains = [\"Example.com\"]\nallowed_users = [\"mallory@gmail.com\"]\n",
    )
    .await;
    let (_, status, _) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 303, "hd example.com");
    assert!(stored(&p, "alice@example.com").await.is_some());
    let (_, status, _) = login_as(&p, "mallory@gmail.com").await;
    assert_eq!(status, 303, "allowed_users still allows");
    let (_, status, _) = login_as(&p, "dave@other.org").await;
    assert_eq!(status, 403, "another hd, no other rule");
}

#[tokio::test]
async fn unverified_email_is_refused_even_with_allow_all() {
    let p = pair("allow_all = true\n").await;
    let (c, status, body) = login_as(&p, "eve@example.com").await;
    assert_eq!(status, 403, "{body}");
    assert!(
        unescape(&body).contains("Login with unverified email eve@example.com is not allowed"),
        "{body}"
    );
    assert_eq!(home(&c, &p).await, 302);
    assert!(stored(&p, "eve@example.com").await.is_none());
}

// ---- groups ---------------------------------------------------------------------------

#[tokio::test]
async fn allowed_and_admin_google_groups_decide_access_and_admin() {
    let p = pair(&format!(
        "hosted_domain = [\"example.com\"]\nallowed_google_groups = {{ \"example.com\" = [\"staff\"] }}\nadmin_google_groups = {{ \"example.com\" = [\"hub-admins\"] }}\nadmin_users = [\"bob\"]\n{GROUPS}"
    ))
    .await;
    let (_, status, _) = login_as(&p, "admin@example.com").await;
    assert_eq!(status, 303);
    assert!(stored(&p, "admin").await.unwrap().admin, "in hub-admins");
    let state = auth_state(&p, "admin").await;
    assert_eq!(
        state["google_user"]["google_groups"],
        json!(["hub-admins", "staff"])
    );
    let (_, status, _) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 303);
    assert!(
        !stored(&p, "alice").await.unwrap().admin,
        "not in hub-admins"
    );
    // admin_users makes an admin whatever the groups say, and admins may log in.
    let (_, status, _) = login_as(&p, "bob@example.com").await;
    assert_eq!(status, 303);
    assert!(stored(&p, "bob").await.unwrap().admin);
}

#[tokio::test]
async fn blocked_users_wins_over_every_google_rule() {
    let p = pair(&format!(
        "hosted_domain = [\"example.com\"]\nallowed_hosted_domains = [\"example.com\"]\nallowed_google_groups = {{ \"example.com\" = [\"staff\"] }}\nadmin_google_groups = {{ \"example.com\" = [\"hub-admins\"] }}\nblocked_users = [\"admin\"]\n{GROUPS}"
    ))
    .await;
    let (c, status, _) = login_as(&p, "admin@example.com").await;
    assert_eq!(status, 403);
    assert_eq!(home(&c, &p).await, 302);
    let (_, status, _) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 303);
}

#[tokio::test]
async fn allowed_scopes_compares_googles_long_scope_names() {
    let long = "https://www.googleapis.com/auth/userinfo.email";
    let p = pair(&format!(
        "scope = [\"openid\", \"{long}\"]\nallowed_scopes = [\"{long}\"]\n"
    ))
    .await;
    let (_, status, body) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 303, "{body}");
    // The short name is never what Google reports as granted.
    let p = pair("allowed_scopes = [\"email\"]\n").await;
    let (_, status, _) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn admin_google_groups_alone_lets_admins_in_and_refuses_the_rest() {
    let p = pair(&format!(
        "admin_google_groups = {{ \"example.com\" = [\"hub-admins\"] }}\n{GROUPS}"
    ))
    .await;
    assert!(
        !p.hub
            .state()
            .authenticator
            .startup_warnings()
            .iter()
            .any(|w| w.contains("No allow config")),
        "an admin group is an allow rule"
    );
    let (_, status, _) = login_as(&p, "admin@example.com").await;
    assert_eq!(status, 303);
    let (_, status, _) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_user_in_no_allowed_group_is_refused() {
    let p = pair(&format!(
        "allowed_google_groups = {{ \"example.com\" = [\"staff\"] }}\n{GROUPS}"
    ))
    .await;
    let (c, status, _) = login_as(&p, "bob@example.com").await;
    assert_eq!(status, 403);
    assert_eq!(home(&c, &p).await, 302);
    // A user of a domain no group rule names is in no group (upstream: a 500).
    let (_, status, _) = login_as(&p, "dave@other.org").await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn nested_groups_count_only_with_include_nested_groups() {
    let rules = format!("allowed_google_groups = {{ \"example.com\" = [\"staff\"] }}\n{GROUPS}");
    let p = pair(&rules).await;
    let (_, status, _) = login_as(&p, "carol@example.com").await;
    assert_eq!(status, 403, "carol is in team, which is in staff");
    let p = pair(&format!("{rules}include_nested_groups = true\n")).await;
    let (_, status, _) = login_as(&p, "carol@example.com").await;
    assert_eq!(status, 303);
    let state = auth_state(&p, "carol@example.com").await;
    assert_eq!(
        state["google_user"]["google_group_emails"],
        json!(["staff@example.com", "team@example.com"])
    );
}

#[tokio::test]
async fn group_names_match_groups_of_the_users_domain_only() {
    // fred@example.com is in staff@other.org, not in staff@example.com: upstream compared
    // the part before @ and let him in (F17).
    let p = pair(&format!(
        "allowed_google_groups = {{ \"example.com\" = [\"staff\"] }}\n{GROUPS}"
    ))
    .await;
    let (_, status, _) = login_as(&p, "fred@example.com").await;
    assert_eq!(status, 403);
    // A full address names a group of another domain.
    let p = pair(&format!(
        "allowed_google_groups = {{ \"example.com\" = [\"staff@other.org\"] }}\n{GROUPS}"
    ))
    .await;
    let (_, status, _) = login_as(&p, "fred@example.com").await;
    assert_eq!(status, 303);
}

#[tokio::test]
async fn the_service_account_acts_as_the_administrator_with_the_group_scope() {
    let p = pair(&format!(
        "allowed_google_groups = {{ \"example.com\" = [\"staff\"] }}\n{GROUPS}"
    ))
    .await;
    let (_, status, _) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 303);
    let assertions = p.mock.accepted_assertions();
    assert_eq!(assertions.len(), 1);
    let claims = &assertions[0];
    assert_eq!(claims["iss"], SERVICE_ACCOUNT);
    assert_eq!(claims["sub"], READER);
    assert_eq!(claims["scope"], GROUP_READONLY_SCOPE);
    assert_eq!(claims["aud"], json!(p.mock.token_url()));
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 3600);
    let listed = p.mock.requests_to(Endpoint::Groups);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].query_value("userKey"), Some("alice@example.com"));
}

#[tokio::test]
async fn the_delegated_token_is_reused_until_it_nears_expiry() {
    let p = pair(&format!(
        "allowed_google_groups = {{ \"example.com\" = [\"staff\"] }}\n{GROUPS}"
    ))
    .await;
    for user in ["alice@example.com", "admin@example.com"] {
        let (_, status, _) = login_as(&p, user).await;
        assert_eq!(status, 303);
    }
    assert_eq!(p.mock.delegated_tokens(SERVICE_ACCOUNT), 1);
    p.advance(3400);
    let (_, status, _) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 303);
    assert_eq!(
        p.mock.delegated_tokens(SERVICE_ACCOUNT),
        2,
        "renewed before it expires"
    );
}

#[tokio::test]
async fn a_delegated_token_google_no_longer_accepts_is_replaced_once() {
    let p = pair(&format!(
        "allowed_google_groups = {{ \"example.com\" = [\"staff\"] }}\n{GROUPS}"
    ))
    .await;
    let (_, status, _) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 303);
    p.mock.expire_delegated_tokens();
    let (_, status, _) = login_as(&p, "admin@example.com").await;
    assert_eq!(status, 303);
    assert_eq!(p.mock.delegated_tokens(SERVICE_ACCOUNT), 2);
}

#[tokio::test]
async fn group_listings_are_followed_across_pages() {
    let p = try_pair_with(
        "GoogleOAuthenticator",
        &format!(
            "allowed_google_groups = {{ \"example.com\" = [\"staff\"] }}\nadmin_google_groups = {{ \"example.com\" = [\"zz-admins\"] }}\n{GROUPS}"
        ),
        |m| {
            m.page_size(1)
                .group(MockGroup::new("zz-admins@example.com", &["admin@example.com"]))
        },
    )
    .await
    .unwrap();
    let (_, status, _) = login_as(&p, "admin@example.com").await;
    assert_eq!(status, 303);
    assert!(
        stored(&p, "admin@example.com").await.unwrap().admin,
        "found on the third page"
    );
    let pages = p.mock.requests_to(Endpoint::Groups);
    assert_eq!(pages.len(), 3);
    assert!(pages[0].query_value("pageToken").is_none());
    assert!(pages[1].query_value("pageToken").is_some());
}

#[tokio::test]
async fn missing_domain_wide_delegation_refuses_the_login() {
    let p = pair(&format!(
        "allowed_google_groups = {{ \"example.com\" = [\"staff\"] }}\n{GROUPS}"
    ))
    .await;
    p.mock.revoke_delegation(SERVICE_ACCOUNT);
    let (c, status, body) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 502, "{body}");
    assert!(unescape(&body).contains("unauthorized_client"), "{body}");
    assert!(!body.contains("eyJ"), "no assertion or token on the page");
    assert_eq!(home(&c, &p).await, 302);
    assert!(stored(&p, "alice@example.com").await.is_none());
}

#[tokio::test]
async fn an_administrator_who_may_not_read_groups_refuses_the_login() {
    let p = pair(&format!(
        "allowed_google_groups = {{ \"example.com\" = [\"staff\"] }}\n{GROUPS}"
    ))
    .await;
    p.mock.set_groups_reader(READER, false);
    let (_, status, body) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 502, "{body}");
    assert!(
        unescape(&body).contains("Not Authorized to access this resource/api"),
        "{body}"
    );
}

#[tokio::test]
async fn a_key_google_does_not_know_refuses_the_login() {
    let p = pair(
        "allowed_google_groups = { \"example.com\" = [\"staff\"] }\ngoogle_service_account_keys = { \"example.com\" = \"@UNKNOWN_KEY@\" }\ngsuite_administrator = { \"example.com\" = \"groups-reader\" }\n",
    )
    .await;
    let (_, status, body) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 502, "{body}");
    assert!(unescape(&body).contains("Invalid JWT Signature."), "{body}");
}

#[tokio::test]
async fn a_missing_key_file_is_a_startup_warning_and_refuses_logins_that_need_groups() {
    let p = pair(
        "allowed_google_groups = { \"example.com\" = [\"staff\"] }\nallowed_users = [\"mallory@gmail.com\"]\ngoogle_service_account_keys = { \"example.com\" = \"/nonexistent/key.json\" }\ngsuite_administrator = { \"example.com\" = \"groups-reader\" }\n",
    )
    .await;
    assert!(
        p.hub
            .state()
            .authenticator
            .startup_warnings()
            .iter()
            .any(|w| w.contains("/nonexistent/key.json")),
    );
    let (_, status, _) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 500);
    // A domain without group rules needs no key.
    let (_, status, _) = login_as(&p, "mallory@gmail.com").await;
    assert_eq!(status, 303);
}

#[tokio::test]
async fn the_directory_api_down_or_answering_garbage_refuses_the_login() {
    let p = pair(&format!(
        "allowed_google_groups = {{ \"example.com\" = [\"staff\"] }}\n{GROUPS}"
    ))
    .await;
    p.mock.set_down(Endpoint::Groups, true);
    let (c, status, _) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 502);
    assert_eq!(home(&c, &p).await, 302);
    p.mock.set_down(Endpoint::Groups, false);
    for fault in [
        Fault::Garbage,
        Fault::EmptyBody,
        Fault::Status(500, "{}".into()),
        Fault::Status(
            200,
            "{\"groups\": {\"email\": \"staff@example.com\"}}".into(),
        ),
        Fault::Status(200, "{\"groups\": [], \"nextPageToken\": 7}".into()),
        Fault::Status(200, "{\"groups\": [{\"name\": \"staff\"}]}".into()),
    ] {
        p.mock.fail_next(Endpoint::Groups, fault.clone());
        let (_, status, _) = login_as(&p, "alice@example.com").await;
        assert_eq!(status, 502, "{fault:?}");
    }
    assert!(stored(&p, "alice@example.com").await.is_none());
    // The service account's token endpoint (oauth2.googleapis.com/token, the key's
    // token_uri) down or answering garbage.
    p.mock.expire_delegated_tokens();
    for fault in [Fault::Status(503, "unavailable".into()), Fault::Garbage] {
        p.advance(3600);
        p.mock.fail_next(Endpoint::Token, fault.clone());
        let (_, status, _) = login_as(&p, "alice@example.com").await;
        assert_eq!(status, 502, "{fault:?}");
    }
    let (_, status, _) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 303, "works again");
}

// ---- the ID token and the user info -------------------------------------------------

#[tokio::test]
async fn the_token_endpoint_down_or_answering_garbage_is_a_provider_error() {
    let p = pair("allow_all = true\n").await;
    for fault in [
        Fault::Status(500, "boom".into()),
        Fault::Garbage,
        Fault::EmptyBody,
    ] {
        p.mock.fail_next(Endpoint::LegacyToken, fault.clone());
        let (c, status, _) = login_as(&p, "alice@example.com").await;
        assert_eq!(status, 502, "{fault:?}");
        assert_eq!(home(&c, &p).await, 302);
    }
    p.mock.set_down(Endpoint::UserInfo, true);
    let (_, status, _) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 502);
    p.mock.set_down(Endpoint::UserInfo, false);
    p.mock.fail_next(Endpoint::UserInfo, Fault::Garbage);
    let (_, status, _) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 502);
    // A fresh hub has no keys yet: Google's key set down means no verified ID token.
    let p = pair("allow_all = true\n").await;
    p.mock.set_down(Endpoint::Certs, true);
    let (_, status, _) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 502, "no keys to verify the ID token with");
    p.mock.set_down(Endpoint::Certs, false);
    p.mock.fail_next(Endpoint::Certs, Fault::Garbage);
    let (_, status, _) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 502, "garbage instead of keys");
    let (_, status, _) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 303);
}

#[tokio::test]
async fn a_forged_id_token_is_refused() {
    let p = pair("allow_all = true\n").await;
    p.mock.forge_id_tokens(true);
    let (c, status, body) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(home(&c, &p).await, 302);
}

#[tokio::test]
async fn only_googles_issuers_are_accepted() {
    let p = pair("allow_all = true\n").await;
    p.mock.set_id_token_issuer("accounts.google.com");
    let (_, status, _) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 303, "Google's issuer without the scheme");
    p.mock.set_id_token_issuer("https://evil.example.com");
    let (_, status, body) = login_as(&p, "admin@example.com").await;
    assert_eq!(status, 403);
    assert!(unescape(&body).contains("not by Google"), "{body}");
}

#[tokio::test]
async fn a_login_without_an_id_token_is_refused() {
    let p = pair("allow_all = true\n").await;
    p.mock.omit_id_token(true);
    let (c, status, _) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 502);
    assert_eq!(home(&c, &p).await, 302);
}

#[tokio::test]
async fn user_info_that_disagrees_with_the_id_token_is_refused() {
    let p = pair("hosted_domain = [\"example.com\"]\nallow_all = true\n").await;
    // The user info claims another Workspace, another account, another address, or a
    // verification the ID token does not confirm.
    for (user, claims) in [
        ("mallory@gmail.com", json!({"hd": "example.com"})),
        ("alice@example.com", json!({"id": "100000000000000000001"})),
        ("bob@example.com", json!({"email": "admin@example.com"})),
        ("eve@example.com", json!({"verified_email": true})),
    ] {
        p.mock.override_userinfo(user, claims.clone());
        let (_, status, body) = login_as(&p, user).await;
        assert_eq!(status, 403, "{claims}: {body}");
    }
    assert!(stored(&p, "alice").await.is_none());
    assert!(stored(&p, "admin").await.is_none());
}

#[tokio::test]
async fn userdata_from_id_token_reads_the_verified_id_token() {
    let p = pair(
        "userdata_from_id_token = true\nhosted_domain = [\"example.com\"]\nallow_all = true\n",
    )
    .await;
    let (_, status, body) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(p.mock.count(Endpoint::UserInfo), 0);
    let state = auth_state(&p, "alice").await;
    assert_eq!(state["google_user"]["email_verified"], true);
    assert_eq!(state["google_user"]["hd"], "example.com");
    let (_, status, _) = login_as(&p, "eve@example.com").await;
    assert_eq!(status, 403, "email_verified false in the ID token");
}

#[tokio::test]
async fn googles_openid_connect_user_info_is_understood() {
    let p = pair("userdata_url = \"@ORIGIN@/v1/userinfo\"\nhosted_domain = [\"example.com\"]\nallow_all = true\n").await;
    let (_, status, body) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(p.mock.count(Endpoint::OidcUserInfo), 1);
    let state = auth_state(&p, "alice").await;
    assert!(
        state["google_user"]["sub"].is_string(),
        "the OpenID Connect user info"
    );
    assert_eq!(state["google_user"]["email_verified"], true);
    let (_, status, _) = login_as(&p, "eve@example.com").await;
    assert_eq!(status, 403);
}

// ---- refresh --------------------------------------------------------------------------

#[tokio::test]
async fn refresh_rechecks_groups_and_ends_access_when_removed() {
    let p = pair(&format!(
        "allowed_google_groups = {{ \"example.com\" = [\"staff\"] }}\n{GROUPS}"
    ))
    .await;
    let (c, status, _) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 303);
    let listings = p.mock.count(Endpoint::Groups);
    p.advance(60);
    assert_eq!(home(&c, &p).await, 200);
    assert_eq!(p.mock.count(Endpoint::Groups), listings, "not yet due");
    p.advance(300);
    assert_eq!(home(&c, &p).await, 200);
    assert_eq!(p.mock.count(Endpoint::Groups), listings + 1, "asked again");
    p.mock.set_members(
        "staff@example.com",
        &["admin@example.com", "team@example.com"],
    );
    p.advance(301);
    assert_eq!(
        home(&c, &p).await,
        302,
        "removed from staff: access ends (F7)"
    );
}

#[tokio::test]
async fn an_outage_at_refresh_keeps_the_session_and_asks_again_later() {
    let p = pair(&format!(
        "allowed_google_groups = {{ \"example.com\" = [\"staff\"] }}\n{GROUPS}"
    ))
    .await;
    let (c, status, _) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 303);
    p.mock.set_down(Endpoint::Groups, true);
    p.advance(301);
    assert_eq!(home(&c, &p).await, 200, "kept during the outage");
    p.mock.set_down(Endpoint::Groups, false);
    let listings = p.mock.count(Endpoint::Groups);
    p.advance(60);
    assert_eq!(home(&c, &p).await, 200);
    assert_eq!(
        p.mock.count(Endpoint::Groups),
        listings,
        "not before auth_refresh_age"
    );
    p.advance(301);
    assert_eq!(home(&c, &p).await, 200);
    assert!(p.mock.count(Endpoint::Groups) > listings, "asked again");
    // And once Google answers that alice left staff, the session ends.
    p.mock
        .set_members("staff@example.com", &["admin@example.com"]);
    p.advance(301);
    assert_eq!(home(&c, &p).await, 302);
}

#[tokio::test]
async fn refresh_uses_the_refresh_token_once_the_access_token_expired() {
    let p = pair(
        "allow_all = true\nextra_authorize_params = { access_type = \"offline\", prompt = \"consent\" }\n",
    )
    .await;
    let (c, status, _) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 303);
    assert!(auth_state(&p, "alice@example.com").await["refresh_token"].is_string());
    let token_requests = p.mock.count(Endpoint::LegacyToken);
    p.mock.expire_access_tokens();
    p.advance(3700);
    assert_eq!(home(&c, &p).await, 200);
    let refreshes: Vec<_> = p
        .mock
        .requests_to(Endpoint::LegacyToken)
        .into_iter()
        .skip(token_requests)
        .filter(|r| r.form_value("grant_type") == Some("refresh_token"))
        .collect();
    assert_eq!(refreshes.len(), 1);
    // A refresh answer without an ID token: the user info alone, tied to the account
    // that signed in.
    p.mock.omit_id_token(true);
    p.mock.expire_access_tokens();
    p.advance(3700);
    assert_eq!(home(&c, &p).await, 200);
    p.mock.omit_id_token(false);
    // Suspended at Google: the refresh token stops working, and so does the session.
    p.mock.set_suspended("alice@example.com", true);
    p.advance(3700);
    assert_eq!(home(&c, &p).await, 302);
}

#[tokio::test]
async fn without_a_refresh_token_an_expired_login_must_sign_in_again() {
    let p = pair("allow_all = true\n").await;
    let (c, status, _) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 303);
    assert!(auth_state(&p, "alice@example.com").await["refresh_token"].is_null());
    p.advance(3700);
    assert_eq!(home(&c, &p).await, 302);
}

#[tokio::test]
async fn offline_access_without_prompt_consent_gets_a_refresh_token_only_once() {
    let p =
        pair("allow_all = true\nextra_authorize_params = { access_type = \"offline\" }\n").await;
    let (_, status, _) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 303);
    assert!(auth_state(&p, "alice@example.com").await["refresh_token"].is_string());
    let (_, status, _) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 303);
    assert!(
        auth_state(&p, "alice@example.com").await["refresh_token"].is_null(),
        "Google sends a refresh token at the first consent only"
    );
    // The legacy approval_prompt=force of upstream's documentation asks again.
    let p = pair(
        "allow_all = true\nextra_authorize_params = { access_type = \"offline\", approval_prompt = \"force\" }\n",
    )
    .await;
    for _ in 0..2 {
        let (_, status, _) = login_as(&p, "alice@example.com").await;
        assert_eq!(status, 303);
        assert!(auth_state(&p, "alice@example.com").await["refresh_token"].is_string());
    }
}

#[tokio::test]
async fn a_refresh_that_returns_another_account_ends_the_session() {
    let p = pair(
        "allow_all = true\nextra_authorize_params = { access_type = \"offline\", prompt = \"consent\" }\n",
    )
    .await;
    let (c, status, _) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 303);
    // The stored tokens fail; the refresh answers without an ID token and the user info
    // then speaks for another account.
    p.mock.expire_access_tokens();
    p.mock.omit_id_token(true);
    p.mock
        .override_userinfo("alice@example.com", json!({"id": "1999"}));
    p.advance(3700);
    assert_eq!(home(&c, &p).await, 302);
}

// ---- the rest -------------------------------------------------------------------------

#[tokio::test]
async fn no_token_secret_key_or_assertion_reaches_the_log() {
    let log = hubauth_harness::logs::capture();
    let p = pair(&format!(
        "allowed_google_groups = {{ \"example.com\" = [\"staff\"] }}\nextra_authorize_params = {{ access_type = \"offline\", prompt = \"consent\" }}\n{GROUPS}"
    ))
    .await;
    let (c, status, _) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 303);
    // A refresh with the refresh token, a refused login, failures at Google.
    p.mock.expire_access_tokens();
    p.advance(3700);
    assert_eq!(home(&c, &p).await, 200);
    p.mock.revoke_delegation(SERVICE_ACCOUNT);
    p.mock.expire_delegated_tokens();
    p.advance(3700);
    let (_, status, _) = login_as(&p, "admin@example.com").await;
    assert_eq!(status, 502);
    p.mock.forge_id_tokens(true);
    let (_, status, _) = login_as(&p, "bob@example.com").await;
    assert_eq!(status, 403);
    let text = log.text();
    assert!(text.contains("Google"), "the log was captured: {text}");
    let tokens = p.mock.all_tokens();
    assert!(tokens.len() >= 5, "user and delegated tokens were issued");
    for token in &tokens {
        assert!(!text.contains(token.as_str()), "a token is in the log");
    }
    assert!(!text.contains(&p.secret), "the client secret is in the log");
    // JWTs (ID tokens, assertions) start with the base64 of '{"'.
    assert!(!text.contains("eyJ"), "a JWT is in the log");
    let key = p.mock.service_account_key(SERVICE_ACCOUNT).unwrap();
    let key: Value = serde_json::from_str(&key).unwrap();
    let pem = key["private_key"].as_str().unwrap();
    let body_line = pem.lines().nth(2).unwrap();
    assert!(
        !text.contains(body_line),
        "the service account key is in the log"
    );
}

#[tokio::test]
async fn manage_groups_takes_hub_groups_from_google_groups() {
    let p = pair(&format!(
        "manage_groups = true\nauth_state_groups_key = \"google_user.google_groups\"\nadmin_groups = [\"hub-admins\"]\nallow_all = true\n{GROUPS}"
    ))
    .await;
    let (_, status, _) = login_as(&p, "admin@example.com").await;
    assert_eq!(status, 303);
    let admin = stored(&p, "admin@example.com").await.unwrap();
    assert_eq!(
        admin.groups,
        vec!["hub-admins".to_owned(), "staff".to_owned()]
    );
    assert!(admin.admin);
}

#[tokio::test]
async fn the_authorization_request_is_googles() {
    let p =
        pair("allow_all = true\nextra_authorize_params = { access_type = \"offline\" }\n").await;
    let url = authorize_url(&client(), &p).await;
    assert!(url.as_str().starts_with(&p.mock.authorize_url()));
    assert_eq!(query(&url, "scope").as_deref(), Some("openid email"));
    assert_eq!(query(&url, "client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(query(&url, "response_type").as_deref(), Some("code"));
    assert_eq!(query(&url, "access_type").as_deref(), Some("offline"));
    assert!(query(&url, "nonce").is_some());
    assert_eq!(
        query(&url, "code_challenge_method").as_deref(),
        Some("S256")
    );
}

#[tokio::test]
async fn local_google_admits_only_users_with_a_local_account() {
    let p = try_pair_with(
        "LocalGoogleOAuthenticator",
        "create_system_users = false\nhosted_domain = [\"example.com\"]\nallow_all = true\n",
        |m| m.user(MockUser::workspace("root@example.com")),
    )
    .await
    .unwrap();
    // root exists on every UNIX system.
    let (c, status, body) = login_as(&p, "root@example.com").await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(home(&c, &p).await, 200);
    // alice has no local account, and none is created.
    let (c, status, body) = login_as(&p, "alice@example.com").await;
    assert_ne!(status, 303, "{body}");
    assert_eq!(home(&c, &p).await, 302);
}

#[tokio::test]
async fn the_demo_mock_table_starts_a_working_hub() {
    let site = Loopback::bind().await.unwrap();
    let (mock, table) = hubauth_google::mock::start_demo_mock(&site.callback_url())
        .await
        .unwrap();
    assert!(table.starts_with("[GoogleOAuthenticator]\n"));
    let tables = hubauth_harness::demo_tables("GoogleOAuthenticator", &table);
    let base = provider(site.clock().clone())
        .serve(site, mock, "GoogleOAuthenticator", &tables)
        .await
        .unwrap();
    let p = Pair {
        base,
        secret: String::new(),
    };
    let (_, status, body) = login_as(&p, "alice@example.com").await;
    assert_eq!(status, 303, "{body}");
    let (_, status, _) = login_as(&p, "admin@example.com").await;
    assert_eq!(status, 303);
    assert!(stored(&p, "admin").await.unwrap().admin);
    for refused in ["bob@example.com", "mallory@gmail.com"] {
        let (_, status, _) = login_as(&p, refused).await;
        assert_eq!(status, 403, "{refused}");
    }
    assert!(auth_state(&p, "alice").await["refresh_token"].is_string());
    // The chooser lists the people, not the administrator account.
    p.mock.set_auto_approve(None);
    let page = reqwest::get(authorize_url(&client(), &p).await.as_str())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("alice@example.com"), "{page}");
    assert!(!page.contains("groups-reader"), "{page}");
    let _ = &p.dir;
}
