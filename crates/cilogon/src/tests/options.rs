//! The options as upstream 17.x defines them: defaults, environment variables, the
//! deprecated and removed names with upstream's messages, the checks of `idps`, and the
//! IdP list check.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_cilogon::mock::Endpoint;
use hubauth_cilogon::{CilogonOAuthenticator, IdpListError, IdpListReport, cilogon_from_view};
use hubauth_config::{Config, MapEnv, reference_markdown};
use hubauth_core::Authenticator;

use super::common::{UNI, UNI_STRIP, class_table, login_as, pair, registry};
use super::rules::wait_for_report;

const IDPS: &str = "idps = { \"https://idp.uni.edu/idp/shibboleth\" = { username_derivation = { username_claim = \"eppn\" }, allow_all = true } }\n";

/// Builds `CILogonOAuthenticator` from a config text and environment; also returns the
/// configuration's warnings.
fn build(text: &str, env: &[(&str, &str)]) -> Result<(CilogonOAuthenticator, Vec<String>), String> {
    let registry = registry();
    let config = Config::parse(text, "hubauth.toml", &registry).map_err(|e| e.to_string())?;
    let env = MapEnv::from_iter(env.iter().map(|(k, v)| (*k, *v)));
    let authenticator = cilogon_from_view(&config.view(&registry, "CILogonOAuthenticator", &env))
        .map_err(|e| e.to_string())?;
    Ok((authenticator, config.warnings().to_vec()))
}

fn table(lines: &str) -> String {
    format!("[CILogonOAuthenticator]\nclient_id = \"c\"\n{lines}")
}

#[test]
fn defaults_are_upstreams_and_the_urls_come_from_cilogon_host() {
    let (a, warnings) = build(&table(IDPS), &[]).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let config = &a.core().config;
    assert_eq!(config.login_service, "CILogon");
    assert_eq!(config.authorize_url, "https://cilogon.org/authorize");
    assert_eq!(config.token_url, "https://cilogon.org/oauth2/token");
    assert_eq!(config.userdata_url, "https://cilogon.org/oauth2/userinfo");
    assert_eq!(config.oidc_issuer, "https://cilogon.org");
    assert_eq!(
        config.scope,
        ["openid", "email", "org.cilogon.userinfo", "profile"]
    );
    assert!(config.enable_pkce);
    let cilogon = a.provider().config();
    assert_eq!(cilogon.cilogon_host, "cilogon.org");
    assert_eq!(cilogon.idplist_url, "https://cilogon.org/idplist/");
    assert_eq!(cilogon.skin, "");
    assert_eq!(a.class_name(), "CILogonOAuthenticator");
    assert_eq!(a.provider().config().idps.selected_idp(), UNI);
}

#[test]
fn cilogon_host_from_the_file_or_cilogon_host_env_derives_every_url() {
    let (a, _) = build(
        &table(&format!("cilogon_host = \"test.cilogon.org\"\n{IDPS}")),
        &[],
    )
    .unwrap();
    assert_eq!(
        a.core().config.authorize_url,
        "https://test.cilogon.org/authorize"
    );
    assert_eq!(a.core().config.oidc_issuer, "https://test.cilogon.org");
    assert_eq!(
        a.provider().config().idplist_url,
        "https://test.cilogon.org/idplist/"
    );
    let (a, _) = build(&table(IDPS), &[("CILOGON_HOST", "dev.cilogon.org")]).unwrap();
    assert_eq!(
        a.core().config.token_url,
        "https://dev.cilogon.org/oauth2/token"
    );
    // An empty CILOGON_HOST counts as unset, as upstream's `or "cilogon.org"`.
    let (a, _) = build(&table(IDPS), &[("CILOGON_HOST", "")]).unwrap();
    assert_eq!(
        a.core().config.userdata_url,
        "https://cilogon.org/oauth2/userinfo"
    );
    // The file wins over the environment.
    let (a, _) = build(
        &table(&format!("cilogon_host = \"test.cilogon.org\"\n{IDPS}")),
        &[("CILOGON_HOST", "dev.cilogon.org")],
    )
    .unwrap();
    assert_eq!(a.provider().config().cilogon_host, "test.cilogon.org");
    // Explicit URLs win over the derived ones; oidc_issuer = "" turns ID token
    // verification (and discovery) off.
    let (a, _) = build(
        &table(&format!(
            "authorize_url = \"https://proxy.example/authorize\"\noidc_issuer = \"\"\nidplist_url = \"\"\n{IDPS}"
        )),
        &[],
    )
    .unwrap();
    assert_eq!(
        a.core().config.authorize_url,
        "https://proxy.example/authorize"
    );
    assert_eq!(
        a.core().config.token_url,
        "https://cilogon.org/oauth2/token"
    );
    assert_eq!(a.core().config.oidc_issuer, "");
    assert_eq!(a.provider().config().idplist_url, "");
    // A host is a host.
    for bad in ["https://cilogon.org", "cilogon.org/oauth2", ""] {
        let err = build(&table(&format!("cilogon_host = \"{bad}\"\n{IDPS}")), &[])
            .err()
            .unwrap();
        assert!(err.contains("cilogon_host"), "{err}");
    }
}

#[test]
fn client_credentials_and_login_service_come_from_upstreams_environment_variables() {
    let text = format!("[CILogonOAuthenticator]\n{IDPS}");
    let (a, _) = build(
        &text,
        &[
            ("CILOGON_CLIENT_ID", "cilogon:/client_id/1"),
            ("CILOGON_CLIENT_SECRET", "s1"),
            ("OAUTH_CLIENT_ID", "generic"),
            ("OAUTH_CLIENT_SECRET", "generic-secret"),
            ("LOGIN_SERVICE", "My Campus"),
        ],
    )
    .unwrap();
    assert_eq!(a.core().config.client_id, "cilogon:/client_id/1");
    assert_eq!(a.core().config.client_secret.expose(), "s1");
    assert_eq!(a.core().config.login_service, "My Campus");
    // OAUTH_CLIENT_ID / OAUTH_CLIENT_SECRET when the CILogon ones are not set.
    let (a, _) = build(
        &text,
        &[
            ("OAUTH_CLIENT_ID", "generic"),
            ("OAUTH_CLIENT_SECRET", "gs"),
        ],
    )
    .unwrap();
    assert_eq!(a.core().config.client_id, "generic");
    assert_eq!(a.core().config.client_secret.expose(), "gs");
    // Upstream's CILogon URLs are not read from OAUTH2_*_URL.
    let (a, _) = build(
        &table(IDPS),
        &[
            ("OAUTH2_AUTHORIZE_URL", "https://elsewhere/authorize"),
            ("OAUTH2_TOKEN_URL", "https://elsewhere/token"),
            ("OAUTH2_USERDATA_URL", "https://elsewhere/userinfo"),
        ],
    )
    .unwrap();
    assert_eq!(
        a.core().config.authorize_url,
        "https://cilogon.org/authorize"
    );
    assert_eq!(
        a.core().config.token_url,
        "https://cilogon.org/oauth2/token"
    );
    assert_eq!(
        a.core().config.userdata_url,
        "https://cilogon.org/oauth2/userinfo"
    );
    // Without any client id, the hub does not start.
    let err = build(&text, &[]).err().unwrap();
    assert!(err.contains("client_id"), "{err}");
}

#[test]
fn openid_and_org_cilogon_userinfo_are_always_requested() {
    let (a, _) = build(&table(&format!("scope = [\"email\"]\n{IDPS}")), &[]).unwrap();
    assert_eq!(
        a.core().config.scope,
        ["email", "openid", "org.cilogon.userinfo"]
    );
}

#[test]
fn allowed_idps_still_works_with_upstreams_warning() {
    let old = IDPS.replacen("idps", "allowed_idps", 1);
    let (a, warnings) = build(&table(&old), &[]).unwrap();
    assert_eq!(
        warnings,
        [
            "CILogonOAuthenticator.allowed_idps is deprecated in CILogonOAuthenticator 17.4.0, use CILogonOAuthenticator.idps instead"
        ]
    );
    assert!(a.provider().config().idps.get(UNI).is_some());
    // The same value under both names is fine; different values are refused.
    let (_, warnings) = build(&table(&format!("{IDPS}{old}")), &[]).unwrap();
    assert_eq!(warnings.len(), 1);
    let other = old.replace("uni.edu", "other.edu");
    let err = build(&table(&format!("{IDPS}{other}")), &[]).err().unwrap();
    assert!(
        err.contains("allowed_idps") && err.contains("idps"),
        "{err}"
    );
}

#[test]
fn removed_options_are_refused_with_upstreams_message() {
    let cases = [
        ("idp_whitelist = [\"x\"]", "idp_whitelist", "0.12.0"),
        ("idp = \"x\"", "idp", "15.0.0"),
        ("strip_idp_domain = true", "strip_idp_domain", "15.0.0"),
        ("shown_idps = [\"x\"]", "shown_idps", "16.0.0"),
        (
            "additional_username_claims = [\"x\"]",
            "additional_username_claims",
            "16.0.0",
        ),
        ("username_claim = \"email\"", "username_claim", "16.0.0"),
    ];
    for (line, name, version) in cases {
        let err = build(&table(&format!("{line}\n{IDPS}")), &[])
            .err()
            .unwrap();
        let expected = format!(
            "CILogonOAuthenticator.{name} is deprecated in CILogonOAuthenticator {version}, use CILogonOAuthenticator.idps instead"
        );
        assert!(err.contains(&expected), "{err}");
    }
    // username_claim set for every OAuthenticator reaches CILogon too, as in traitlets.
    let err = build(
        &format!(
            "[OAuthenticator]\nusername_claim = \"email\"\n\n{}",
            table(IDPS)
        ),
        &[],
    )
    .err()
    .unwrap();
    assert!(err.contains("username_claim is deprecated"), "{err}");
    // OAUTH2_USERNAME_KEY is not read by CILogon (upstream's class drops that default).
    assert!(build(&table(IDPS), &[("OAUTH2_USERNAME_KEY", "email")]).is_ok());
}

#[test]
fn idps_is_required_and_checked_as_upstreams_schema() {
    let err = build(&table(""), &[]).err().unwrap();
    assert!(err.contains("One or more idps must be configured"), "{err}");
    let cases = [
        (
            "idps = { \"uni.edu\" = { username_derivation = { username_claim = \"email\" } } }",
            "does not look like a valid CILogon EntityID",
        ),
        (
            "idps = { \"https://x.example\" = { } }",
            "'username_derivation' is a required property",
        ),
        (
            "idps = { \"https://x.example\" = { username_derivation = { username_claim = \"email\", action = \"prefix\" } } }",
            "'prefix' is a required property",
        ),
        (
            "idps = { \"https://x.example\" = { username_derivation = { username_claim = \"email\", action = \"strip_idp_domain\" } } }",
            "'domain' is a required property",
        ),
        (
            "idps = { \"https://x.example\" = { username_derivation = { username_claim = \"email\" }, allowed = true } }",
            "Additional properties are not allowed ('allowed' was unexpected)",
        ),
        (
            "idps = { \"https://x.example\" = { username_derivation = { username_claim = \"email\" }, allow_all = \"yes\" } }",
            "is not of type 'boolean'",
        ),
        (
            "idps = { \"https://x.example\" = \"should-be-a-table\" }",
            "is not of type 'object'",
        ),
    ];
    for (line, needle) in cases {
        let err = build(&table(line), &[]).err().unwrap();
        assert!(err.contains(needle), "{needle}: {err}");
        assert!(err.contains("idps"), "the option is named: {err}");
    }
    // Not a table at all: the config's own type check.
    let err = build(&table("idps = [\"pink\"]"), &[]).err().unwrap();
    assert!(err.contains("idps"), "{err}");
}

#[test]
fn generate_config_lists_every_upstream_option_and_the_old_names() {
    let reference = reference_markdown(&registry());
    let section = reference
        .split("CILogonOAuthenticator")
        .skip(1)
        .collect::<Vec<_>>()
        .join("CILogonOAuthenticator");
    for option in [
        "cilogon_host",
        "idps",
        "skin",
        "scope",
        "authorize_url",
        "token_url",
        "userdata_url",
        "login_service",
        "client_id",
        "client_secret",
        "username_claim",
        "allowed_idps",
        "idp_whitelist",
        "shown_idps",
        "strip_idp_domain",
        "additional_username_claims",
        "CILOGON_HOST",
        "CILOGON_CLIENT_ID",
        "CILOGON_CLIENT_SECRET",
        "idplist_url",
    ] {
        assert!(
            section.contains(option),
            "{option} missing from the reference"
        );
    }
    assert!(reference.contains("LocalCILogonOAuthenticator"));
}

#[test]
fn the_local_variant_reads_the_same_options_and_local_ones() {
    let text = format!(
        "[LocalCILogonOAuthenticator]\nclient_id = \"c\"\ncreate_system_users = false\nallowed_idps = {{ \"{UNI}\" = {{ username_derivation = {{ username_claim = \"eppn\" }} }} }}\n"
    );
    let registry = registry();
    let config = Config::parse(&text, "hubauth.toml", &registry).unwrap();
    assert_eq!(
        config.warnings(),
        [
            "LocalCILogonOAuthenticator.allowed_idps is deprecated in CILogonOAuthenticator 17.4.0, use LocalCILogonOAuthenticator.idps instead"
        ]
    );
    let env = MapEnv::new();
    let local = hubauth_cilogon::local_cilogon_from_view(&config.view(
        &registry,
        "LocalCILogonOAuthenticator",
        &env,
    ))
    .unwrap();
    assert_eq!(local.class_name(), "LocalCILogonOAuthenticator");
    // A class table written for the sub-table form parses too.
    let text = class_table(
        "LocalCILogonOAuthenticator",
        "client_id = \"c\"",
        &[(UNI, UNI_STRIP)],
    );
    let config = Config::parse(&text, "hubauth.toml", &registry).unwrap();
    assert!(
        hubauth_cilogon::local_cilogon_from_view(&config.view(
            &registry,
            "LocalCILogonOAuthenticator",
            &env
        ))
        .is_ok()
    );
}

#[tokio::test]
async fn the_idp_list_check_reports_listed_unlisted_and_unavailable_lists() {
    let allow = format!("{UNI_STRIP}\nallow_all = true");
    // Every configured EntityID is listed.
    let p = pair("", &[(UNI, &allow)]).await;
    assert!(
        p.authenticator
            .as_ref()
            .unwrap()
            .provider()
            .idp_list_report()
            .is_none()
    );
    let (_, status, _) = login_as(&p, "alice@uni.edu").await;
    assert_eq!(status, 303);
    assert_eq!(wait_for_report(&p).await, IdpListReport::AllListed);
    // Once: the next logins do not fetch it again.
    login_as(&p, "bob@uni.edu").await;
    assert_eq!(p.mock.count(Endpoint::IdpList), 1);
    // CILogon answers [] when it cannot read its list: nothing is checked, logins go on.
    let p = pair("", &[(UNI, &allow)]).await;
    p.mock.set_idp_list_unreadable(true);
    let (_, status, _) = login_as(&p, "alice@uni.edu").await;
    assert_eq!(status, 303);
    assert_eq!(
        wait_for_report(&p).await,
        IdpListReport::Unavailable(IdpListError::Empty)
    );
    // Down, or garbage: the same.
    let p = pair("", &[(UNI, &allow)]).await;
    p.mock.set_down(Endpoint::IdpList, true);
    let (_, status, _) = login_as(&p, "alice@uni.edu").await;
    assert_eq!(status, 303);
    assert_eq!(
        wait_for_report(&p).await,
        IdpListReport::Unavailable(IdpListError::Status(503))
    );
    let p = pair("", &[(UNI, &allow)]).await;
    p.mock
        .fail_next(Endpoint::IdpList, hubauth_cilogon::mock::Fault::Garbage);
    login_as(&p, "alice@uni.edu").await;
    assert!(matches!(
        wait_for_report(&p).await,
        IdpListReport::Unavailable(IdpListError::Malformed(_))
    ));
    // With a skin, the skin's list is checked.
    let p = super::common::try_pair_with(
        super::common::Setup::new("skin = \"partner-only\"\n", &[(UNI, &allow)]),
        |mock| mock.skin("partner-only", &[super::common::PARTNER]),
    )
    .await
    .unwrap();
    login_as(&p, "alice@uni.edu").await;
    assert_eq!(
        wait_for_report(&p).await,
        IdpListReport::Unlisted(vec![UNI.to_owned()])
    );
    assert_eq!(
        p.mock.requests_to(Endpoint::IdpList)[0].query_value("skin"),
        Some("partner-only")
    );
    // Off: never fetched.
    let p = pair("idplist_url = \"\"\n", &[(UNI, &allow)]).await;
    login_as(&p, "alice@uni.edu").await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(p.mock.count(Endpoint::IdpList), 0);
    assert!(
        p.authenticator
            .as_ref()
            .unwrap()
            .provider()
            .idp_list_report()
            .is_none()
    );
}

#[test]
fn startup_warnings_name_claims_whose_scope_is_not_requested() {
    let text = table(&format!(
        "scope = [\"openid\", \"org.cilogon.userinfo\"]\nallow_unverified_email = true\nidps = {{ \"{UNI}\" = {{ username_derivation = {{ username_claim = \"email\" }}, allowed_domains = [\"uni.edu\"], allowed_domains_claim = \"given_name\" }} }}\n"
    ));
    let (a, _) = build(&text, &[]).unwrap();
    let warnings = a.startup_warnings().join("\n");
    assert!(warnings.contains("only with the email scope"), "{warnings}");
    assert!(
        warnings.contains("only with the profile scope"),
        "{warnings}"
    );
    let (a, _) = build(&table(IDPS), &[]).unwrap();
    assert!(
        a.startup_warnings().is_empty(),
        "{:?}",
        a.startup_warnings()
    );
}

/// The configuration the guide shows for the real service: it builds, with no warning.
const GUIDE_EXAMPLE: &str = r#"[Hub]
authenticator_class = "cilogon"

[CILogonOAuthenticator]
client_id = "cilogon:/client_id/6c3f1d2e9a8b7c6d5e4f3a2b1c0d9e8f"
client_secret = "change-me"
oauth_callback_url = "https://hub.example.edu/hub/oauth_callback"
scope = ["openid", "email", "profile", "org.cilogon.userinfo", "offline_access"]
admin_users = ["jdoe"]
allowed_users = ["github:583231"]
enable_auth_state = true

[CILogonOAuthenticator.idps."urn:mace:incommon:example.edu"]
username_derivation = { username_claim = "eppn", action = "strip_idp_domain", domain = "example.edu" }
allowed_domains = ["example.edu", "*.example.edu"]
default = true

[CILogonOAuthenticator.idps."http://github.com/login/oauth/authorize"]
username_derivation = { username_claim = "oidc", action = "prefix", prefix = "github" }

[CILogonOAuthenticator.idps."http://orcid.org/oauth/authorize"]
username_derivation = { username_claim = "oidc", action = "prefix", prefix = "orcid" }
allow_all = true
"#;

#[test]
fn the_guides_example_builds_without_a_warning() {
    let (a, warnings) = build(GUIDE_EXAMPLE, &[]).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(
        a.startup_warnings().is_empty(),
        "{:?}",
        a.startup_warnings()
    );
    assert_eq!(
        a.provider().config().idps.selected_idp(),
        "urn:mace:incommon:example.edu,http://github.com/login/oauth/authorize,http://orcid.org/oauth/authorize"
    );
    assert!(a.core().config.scope.contains(&"offline_access".to_owned()));
}
