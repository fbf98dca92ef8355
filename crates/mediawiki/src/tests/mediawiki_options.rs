//! `[MWOAuthenticator]`: upstream's options, defaults and environment variables, the
//! base options it inherits, and what it refuses or warns about at start-up.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use hubauth_config::{Config, MapEnv};
use hubauth_core::{Authenticator, LoginKind};
use hubauth_mediawiki::MWOAuthenticator;
use hubauth_mediawiki::mock::{Fault, MediaWikiMock, MockConsumer, Page};
use hubauth_mediawiki::wiki::Wiki;
use hubauth_server::Clock as _;

use super::hub::{authenticator, registry};

const CREDENTIALS: &str = "client_id = \"ck\"\nclient_secret = \"cs\"\n";

fn concrete(table: &str, env: &[(&str, &str)]) -> Result<(MWOAuthenticator, Vec<String>), String> {
    let registry = registry();
    let text = format!("[MWOAuthenticator]\n{table}");
    let config = Config::parse(&text, "test.toml", &registry).map_err(|e| e.to_string())?;
    let env = MapEnv::from_iter(env.iter().map(|(k, v)| (*k, *v)));
    let view = config.view(&registry, "MWOAuthenticator", &env);
    let built = hubauth_mediawiki::mediawiki_from_view(&view).map_err(|e| e.to_string())?;
    Ok((built, config.warnings().to_vec()))
}

#[test]
fn upstreams_defaults() {
    let (mw, _) = concrete(CREDENTIALS, &[]).unwrap();
    assert_eq!(
        mw.wiki().index_url().as_str(),
        "https://meta.wikimedia.org/w/index.php"
    );
    assert_eq!(
        mw.kind(),
        LoginKind::Redirect {
            login_service: "MediaWiki".to_owned(),
            login_path: "oauth_login".to_owned()
        }
    );
    assert_eq!(mw.class_name(), "MWOAuthenticator");
    assert!(mw.redirect_login().is_some());
    assert!(
        mw.redirect_login()
            .unwrap()
            .configured_callback_url()
            .is_none()
    );
    // The base username_claim default is the identity's `username`.
    assert_eq!(mw.core().config.username_claim.describe(), "username");
    assert!(!mw.supports_manage_groups());
}

#[test]
fn environment_variables_are_upstreams() {
    let (mw, _) = concrete(
        "",
        &[
            ("MW_INDEX_URL", "https://wiki.example.org/w/index.php"),
            ("LOGIN_SERVICE", "Example Wiki"),
            ("OAUTH_CLIENT_ID", "env-key"),
            ("OAUTH_CLIENT_SECRET", "env-secret"),
            (
                "OAUTH_CALLBACK_URL",
                "https://hub.example.org/hub/oauth_callback",
            ),
        ],
    )
    .unwrap();
    assert_eq!(
        mw.wiki().index_url().as_str(),
        "https://wiki.example.org/w/index.php"
    );
    assert_eq!(mw.wiki().consumer_key(), "env-key");
    assert_eq!(mw.wiki().consumer_secret().expose(), "env-secret");
    assert!(
        matches!(mw.kind(), LoginKind::Redirect { login_service, .. } if login_service == "Example Wiki")
    );
    assert_eq!(
        mw.redirect_login()
            .unwrap()
            .configured_callback_url()
            .as_deref(),
        Some("https://hub.example.org/hub/oauth_callback")
    );
}

#[test]
fn the_file_wins_over_the_environment() {
    let (mw, _) = concrete(
        &format!("{CREDENTIALS}mw_index_url = \"https://file.example/w/index.php\"\nlogin_service = \"File Wiki\"\n"),
        &[
            ("MW_INDEX_URL", "https://env.example/w/index.php"),
            ("LOGIN_SERVICE", "Env Wiki"),
        ],
    )
    .unwrap();
    assert_eq!(
        mw.wiki().index_url().as_str(),
        "https://file.example/w/index.php"
    );
    assert!(
        matches!(mw.kind(), LoginKind::Redirect { login_service, .. } if login_service == "File Wiki")
    );
}

#[test]
fn the_consumer_key_and_secret_are_required() {
    let err = concrete("client_secret = \"cs\"\n", &[]).unwrap_err();
    assert!(
        err.contains("client_id") && err.contains("consumer key"),
        "{err}"
    );
    let err = concrete("client_id = \"ck\"\n", &[]).unwrap_err();
    assert!(
        err.contains("client_secret") && err.contains("consumer secret"),
        "{err}"
    );
    assert!(!err.contains("cs\""), "no secret in the message: {err}");
}

#[test]
fn mw_index_url_must_be_index_php_without_a_query() {
    for bad in [
        "https://wiki.example/w/index.php?title=Main_Page",
        "wiki.example/w/index.php",
        "ftp://wiki.example/w/index.php",
        "https://user:pw@wiki.example/w/index.php",
    ] {
        let err = concrete(&format!("{CREDENTIALS}mw_index_url = \"{bad}\"\n"), &[]).unwrap_err();
        assert!(err.contains("mw_index_url"), "{bad}: {err}");
    }
}

#[test]
fn executor_threads_is_a_positive_number() {
    for bad in ["0", "-1", "100000"] {
        let err = concrete(&format!("{CREDENTIALS}executor_threads = {bad}\n"), &[]).unwrap_err();
        assert!(err.contains("executor_threads"), "{bad}: {err}");
    }
    let err = concrete(&format!("{CREDENTIALS}executor_threads = \"many\"\n"), &[]).unwrap_err();
    assert!(err.contains("executor_threads"), "{err}");
    assert!(concrete(&format!("{CREDENTIALS}executor_threads = 1\n"), &[]).is_ok());
}

#[tokio::test]
async fn executor_threads_caps_requests_in_flight() {
    let mock = MediaWikiMock::builder()
        .consumer(MockConsumer::new(
            "ck",
            "cs",
            "http://127.0.0.1:9/hub/oauth_callback",
        ))
        .start()
        .await
        .unwrap();
    let wiki = Wiki::new(
        url::Url::parse(&mock.index_url()).unwrap(),
        "ck".to_owned(),
        hubauth_core::Secret::new("cs"),
        reqwest::Client::new(),
        1,
    );
    for _ in 0..2 {
        mock.fail_next_page(Page::Initiate, Fault::Delay(Duration::from_millis(400)));
    }
    let now = super::hub::now();
    let callback = "http://127.0.0.1:9/hub/oauth_callback?state=s";
    let started = Instant::now();
    let (a, b) = tokio::join!(wiki.initiate(callback, now), wiki.initiate(callback, now));
    assert!(a.is_ok() && b.is_ok());
    assert!(
        started.elapsed() >= Duration::from_millis(800),
        "one request at a time: {:?}",
        started.elapsed()
    );
}

#[test]
fn names_keep_their_case_and_spaces_become_underscores() {
    let (mw, _) = concrete(
        &format!("{CREDENTIALS}admin_users = [\"Alice Smith\"]\nallowed_users = [\"bob\"]\nblocked_users = [\"Mallory Q\"]\n"),
        &[],
    )
    .unwrap();
    assert_eq!(mw.normalize_username("Alice Smith"), "Alice_Smith");
    assert_eq!(mw.normalize_username("ALICE"), "ALICE");
    let rules = mw.rules();
    assert!(rules.config().admin_users.contains("Alice_Smith"));
    assert!(rules.is_in_allowed_users("bob"));
    assert!(!rules.is_in_allowed_users("Bob"));
    assert!(!rules.check_blocked_users("Mallory_Q"));
    assert!(rules.check_blocked_users("mallory_q"));
}

#[test]
fn two_configured_names_differing_only_in_case_are_refused() {
    let err = concrete(
        &format!("{CREDENTIALS}allowed_users = [\"alice\"]\nblocked_users = [\"Alice\"]\n"),
        &[],
    )
    .unwrap_err();
    assert!(err.contains("differ only in case"), "{err}");
}

#[test]
fn username_map_is_ignored_as_upstream_with_a_warning() {
    let (mw, _) = concrete(
        &format!("{CREDENTIALS}username_map = {{ \"Alice\" = \"bob\" }}\n"),
        &[],
    )
    .unwrap();
    assert_eq!(mw.normalize_username("Alice"), "Alice");
    let warnings = mw.startup_warnings();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("username_map is ignored")),
        "{warnings:?}"
    );
}

#[test]
fn oauth2_options_warn_that_they_do_nothing() {
    let (mw, _) = concrete(
        &format!("{CREDENTIALS}scope = [\"openid\"]\nenable_pkce = false\nauthorize_url = \"https://x.example/authorize\"\nallow_all = true\n"),
        &[],
    )
    .unwrap();
    let warnings = mw.startup_warnings();
    for option in ["scope", "enable_pkce", "authorize_url"] {
        assert!(
            warnings
                .iter()
                .any(|w| w.contains(&format!("MWOAuthenticator.{option} has no effect"))),
            "{option}: {warnings:?}"
        );
    }
    let (quiet, _) = concrete(&format!("{CREDENTIALS}allow_all = true\n"), &[]).unwrap();
    assert!(
        quiet.startup_warnings().is_empty(),
        "{:?}",
        quiet.startup_warnings()
    );
}

#[test]
fn deprecated_base_names_still_work_with_upstreams_warning() {
    let (mw, warnings) = concrete(
        &format!("{CREDENTIALS}whitelist = [\"Alice Smith\"]\nblacklist = [\"Eve\"]\n"),
        &[],
    )
    .unwrap();
    assert!(mw.rules().is_in_allowed_users("Alice_Smith"));
    assert!(!mw.rules().check_blocked_users("Eve"));
    assert!(
        warnings.iter().any(|w| w.contains("whitelist")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("blacklist")),
        "{warnings:?}"
    );
}

#[test]
fn group_rules_need_manage_groups_and_a_groups_key() {
    let err = concrete(&format!("{CREDENTIALS}allowed_groups = [\"sysop\"]\n"), &[]).unwrap_err();
    assert!(err.contains("manage_groups"), "{err}");
    let err = concrete(&format!("{CREDENTIALS}manage_groups = true\n"), &[]).unwrap_err();
    assert!(err.contains("auth_state_groups_key"), "{err}");
    let (mw, _) = concrete(
        &format!("{CREDENTIALS}manage_groups = true\nauth_state_groups_key = \"MEDIAWIKI_USER_IDENTITY.groups\"\n"),
        &[],
    )
    .unwrap();
    assert!(mw.supports_manage_groups());
}

#[test]
fn the_class_is_registered_with_upstreams_options() {
    let classes = hubauth_mediawiki::classes();
    assert_eq!(classes.len(), 1, "upstream has no LocalMWOAuthenticator");
    assert_eq!(classes[0].name, "MWOAuthenticator");
    assert_eq!(classes[0].bases, &["OAuthenticator"]);
    let reference = hubauth_config::generate_config(&registry());
    for needle in [
        "MWOAuthenticator",
        "mw_index_url",
        "https://meta.wikimedia.org/w/index.php",
        "MW_INDEX_URL",
        "executor_threads",
        "LOGIN_SERVICE",
    ] {
        assert!(reference.contains(needle), "{needle}");
    }
    // Built through the shared builder, as the CLI's catalog does.
    let (built, _) = authenticator(CREDENTIALS, &[]).unwrap();
    assert_eq!(built.class_name(), "MWOAuthenticator");
}

/// The example of the guide's MediaWiki section, as written there.
pub(super) const GUIDE_EXAMPLE: &str = r#"client_id = "0123456789abcdef0123456789abcdef"   # the consumer token, or OAUTH_CLIENT_ID
client_secret = "change-me"                        # the secret token, or OAUTH_CLIENT_SECRET
oauth_callback_url = "https://hub.example.org/hub/oauth_callback"
mw_index_url = "https://meta.wikimedia.org/w/index.php"   # the default, or MW_INDEX_URL
allowed_users = ["Alice Smith"]                    # wiki user names, written as the wiki writes them
admin_users = ["Ada Lovelace"]
manage_groups = true
auth_state_groups_key = "MEDIAWIKI_USER_IDENTITY.groups"
allowed_groups = ["autoconfirmed"]                 # the identity's wiki groups
admin_groups = ["sysop"]
enable_auth_state = true                           # keeps the access token; needs JUPYTERHUB_CRYPT_KEY
"#;

#[test]
fn the_guides_example_builds_without_warnings() {
    let (a, warnings) = authenticator(GUIDE_EXAMPLE, &[]).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(
        a.startup_warnings().is_empty(),
        "{:?}",
        a.startup_warnings()
    );
    assert!(a.rules().is_in_allowed_users("Alice_Smith"));
    assert!(a.rules().config().admin_users.contains("Ada_Lovelace"));
}

#[tokio::test]
async fn a_configured_callback_url_keeps_its_query_and_gets_this_logins_state() {
    let p = super::hub::pair("allow_all = true\n").await;
    let (mw, _) = concrete(
        &format!(
            "client_id = \"{}\"\nclient_secret = \"{}\"\n{}",
            super::hub::KEY,
            super::hub::SECRET,
            p.mock.toml_urls()
        ),
        &[],
    )
    .unwrap();
    let login = mw.redirect_login().unwrap();
    let callback = format!("{}oauth_callback?tenant=a&state=old&code=old", p.hub_url);
    let started = login
        .begin(
            &hubauth_core::RequestContext::at(p.clock.now()),
            "new-state",
            &callback,
        )
        .await
        .unwrap();
    let key = started.pending.nonce.clone().unwrap();
    assert_eq!(
        started.pending.code_verifier,
        p.mock.request_token_secret(&key)
    );
    let recorded = p.mock.requests_to(hubauth_mediawiki::mock::Endpoint::Index);
    assert_eq!(recorded.len(), 1);
    // The wiki sends the browser back to the callback given at initiate.
    let at_wiki = super::hub::client()
        .get(&started.authorize_url)
        .send()
        .await
        .unwrap();
    let back = url::Url::parse(&super::hub::location(&at_wiki)).unwrap();
    let pairs: Vec<(String, String)> = back.query_pairs().into_owned().collect();
    let values = |name: &str| -> Vec<&str> {
        pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    assert_eq!(values("tenant"), ["a"]);
    assert_eq!(values("state"), ["new-state"]);
    assert_eq!(
        values("code"),
        [hubauth_mediawiki::authenticator::CALLBACK_CODE]
    );
    assert_eq!(values("oauth_token"), [key.as_str()]);
}
