//! BitbucketOAuthenticator's options: upstream's names, defaults, environment variables
//! and deprecated names.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_bitbucket::options::BitbucketOAuthenticatorOptions;

use super::hub::authenticator;

#[test]
fn defaults_are_upstreams() {
    let defaults = BitbucketOAuthenticatorOptions::defaults().unwrap();
    assert_eq!(defaults.login_service, "Bitbucket");
    assert_eq!(
        defaults.authorize_url,
        "https://bitbucket.org/site/oauth2/authorize"
    );
    assert_eq!(
        defaults.token_url,
        "https://bitbucket.org/site/oauth2/access_token"
    );
    assert_eq!(defaults.userdata_url, "https://api.bitbucket.org/2.0/user");
    assert!(defaults.allowed_teams.is_empty());
    assert_eq!(
        defaults.bitbucket_workspaces_url,
        "https://api.bitbucket.org/2.0/workspaces"
    );
    let names: Vec<&str> = hubauth_bitbucket::BITBUCKET_OAUTHENTICATOR
        .options
        .iter()
        .map(|o| o.name)
        .collect();
    for name in [
        "allowed_teams",
        "client_id",
        "client_secret",
        "login_service",
    ] {
        assert!(names.contains(&name), "{name}");
    }
    let local = &hubauth_bitbucket::LOCAL_BITBUCKET_OAUTHENTICATOR;
    assert_eq!(
        local.bases,
        ["LocalAuthenticator", "BitbucketOAuthenticator"]
    );
}

#[tokio::test]
async fn bitbucket_client_id_env_wins_over_oauth_client_id() {
    let (a, _) = authenticator(
        "BitbucketOAuthenticator",
        "allow_all = true\n",
        &[
            ("BITBUCKET_CLIENT_ID", "bb-key"),
            ("OAUTH_CLIENT_ID", "generic"),
            ("BITBUCKET_CLIENT_SECRET", "bb-secret"),
            ("LOGIN_SERVICE", "Our Bitbucket"),
        ],
    )
    .unwrap();
    let redirect = a.redirect_login().unwrap();
    let ctx = hubauth_core::RequestContext::at(0);
    let start = redirect
        .begin(&ctx, "state", "https://hub.example/hub/oauth_callback")
        .await
        .unwrap();
    assert!(
        start.authorize_url.contains("client_id=bb-key"),
        "{}",
        start.authorize_url
    );
    match a.kind() {
        hubauth_core::LoginKind::Redirect { login_service, .. } => {
            assert_eq!(login_service, "Our Bitbucket")
        }
        other => panic!("{other:?}"),
    }
    let (a, _) = authenticator(
        "BitbucketOAuthenticator",
        "allow_all = true\n",
        &[("OAUTH_CLIENT_ID", "generic")],
    )
    .unwrap();
    let start = a
        .redirect_login()
        .unwrap()
        .begin(&ctx, "s", "https://hub.example/cb")
        .await
        .unwrap();
    assert!(start.authorize_url.contains("client_id=generic"));
    assert!(
        start
            .authorize_url
            .starts_with("https://bitbucket.org/site/oauth2/authorize?")
    );
}

#[test]
fn team_whitelist_is_deprecated_with_upstreams_warning() {
    let (_, warnings) = authenticator(
        "BitbucketOAuthenticator",
        "client_id = \"k\"\nteam_whitelist = [\"acme\"]\n",
        &[],
    )
    .unwrap();
    assert!(
        warnings.contains(&"BitbucketOAuthenticator.team_whitelist is deprecated in BitbucketOAuthenticator 0.12.0, use BitbucketOAuthenticator.allowed_teams instead".to_owned()),
        "{warnings:?}"
    );
    // Both names with different values: refused rather than guessed.
    let err = authenticator(
        "BitbucketOAuthenticator",
        "client_id = \"k\"\nteam_whitelist = [\"acme\"]\nallowed_teams = [\"other\"]\n",
        &[],
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("team_whitelist"), "{err}");
}

#[test]
fn invalid_values_are_startup_errors() {
    for (table, option) in [
        (
            "client_id = \"k\"\nbitbucket_workspaces_url = \"ftp://x\"\n",
            "bitbucket_workspaces_url",
        ),
        (
            "client_id = \"k\"\nbitbucket_workspaces_url = \"https://x/2.0/workspaces?role=owner\"\n",
            "bitbucket_workspaces_url",
        ),
        (
            "client_id = \"k\"\nallowed_teams = [\" \"]\n",
            "allowed_teams",
        ),
        ("allow_all = true\n", "client_id"),
    ] {
        let err = authenticator("BitbucketOAuthenticator", table, &[])
            .err()
            .unwrap();
        assert!(err.to_string().contains(option), "{table}: {err}");
    }
}

#[test]
fn display_names_in_allowed_teams_get_a_startup_warning() {
    let (a, _) = authenticator(
        "BitbucketOAuthenticator",
        "client_id = \"k\"\nallowed_teams = [\"Data Science\", \"data-science\", \"{0e8a1f3c-1111-2222-3333-444455556666}\"]\n",
        &[],
    )
    .unwrap();
    let warnings = a.startup_warnings();
    let about: Vec<&String> = warnings
        .iter()
        .filter(|w| w.contains("allowed_teams"))
        .collect();
    assert_eq!(about.len(), 1, "{warnings:?}");
    assert!(about[0].contains("\"Data Science\""));
}

/// The example of the guide's Bitbucket section, as written there.
pub(super) const GUIDE_EXAMPLE: &str = r#"client_id = "Qv7xKp3mNf2Lw9RtYh"                   # the consumer's Key, or BITBUCKET_CLIENT_ID
client_secret = "change-me"                        # the consumer's Secret, or BITBUCKET_CLIENT_SECRET
oauth_callback_url = "https://hub.example.org/hub/oauth_callback"
allowed_teams = ["example-lab"]                     # workspace slugs: https://bitbucket.org/example-lab/
admin_users = ["ada-lovelace"]                      # Bitbucket usernames
enable_auth_state = true                            # keeps the Bitbucket tokens; needs JUPYTERHUB_CRYPT_KEY
"#;

#[test]
fn the_guides_example_builds_without_warnings() {
    let (a, warnings) = authenticator("BitbucketOAuthenticator", GUIDE_EXAMPLE, &[]).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(
        a.startup_warnings().is_empty(),
        "{:?}",
        a.startup_warnings()
    );
}
