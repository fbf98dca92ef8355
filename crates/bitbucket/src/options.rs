//! The options of `BitbucketOAuthenticator` and `LocalBitbucketOAuthenticator`.

use std::collections::BTreeSet;

use hubauth_config::{ClassDef, ClassView, ConfigError, DefaultValue::Literal, Deprecated};

/// Bitbucket Cloud's workspaces listing, where `allowed_teams` is checked.
pub const DEFAULT_WORKSPACES_URL: &str = "https://api.bitbucket.org/2.0/workspaces";

const TEAM_WHITELIST: &[Deprecated] = &[Deprecated {
    name: "team_whitelist",
    since: "BitbucketOAuthenticator 0.12.0",
    same_type: true,
}];

hubauth_config::options! {
    /// The `[BitbucketOAuthenticator]` table.
    pub static BITBUCKET_OAUTHENTICATOR = class "BitbucketOAuthenticator" {
        bases: ["OAuthenticator"],
        help: "Login with Bitbucket Cloud (bitbucket.org): an OAuth consumer of a workspace, the user from the REST API's /2.0/user, and allowed_teams checked against the Bitbucket workspaces the user belongs to.",
    };
    /// `[BitbucketOAuthenticator]` as the file, the environment and the defaults give it,
    /// before validation.
    pub struct BitbucketOAuthenticatorOptions {
        login_service: String = (
            Str,
            Literal("\"Bitbucket\""),
            "The name shown on the login button as \"Sign in with ...\".",
        )
            .env(&["LOGIN_SERVICE"]),
        client_id: String = (
            Str,
            Literal("\"\""),
            "The Key of the Bitbucket OAuth consumer (Workspace settings > OAuth consumers).",
        )
            .env(&["BITBUCKET_CLIENT_ID", "OAUTH_CLIENT_ID"]),
        client_secret: String = (
            Str,
            Literal("\"\""),
            "The Secret of the Bitbucket OAuth consumer.",
        )
            .env(&["BITBUCKET_CLIENT_SECRET", "OAUTH_CLIENT_SECRET"])
            .secret(),
        authorize_url: String = (
            Str,
            Literal("\"https://bitbucket.org/site/oauth2/authorize\""),
            "Bitbucket's authorization endpoint.",
        ),
        token_url: String = (
            Str,
            Literal("\"https://bitbucket.org/site/oauth2/access_token\""),
            "Bitbucket's token endpoint.",
        ),
        userdata_url: String = (
            Str,
            Literal("\"https://api.bitbucket.org/2.0/user\""),
            "The Bitbucket REST API endpoint describing the logged-in user.",
        ),
        allowed_teams: BTreeSet<String> = (
            Set,
            Literal("[]"),
            "Allow members of these Bitbucket workspaces (Bitbucket's teams became workspaces), read from the workspaces the user is a member of at every login and refresh.\n\nName a workspace by its slug, as in its URL (https://bitbucket.org/<slug>/), or by its UUID with braces. Display names do not match: anyone can create a workspace with any display name, so upstream's comparison of names let strangers in (a deliberate difference, F17).",
        )
            .deprecated(TEAM_WHITELIST),
        bitbucket_workspaces_url: String = (
            Str,
            Literal("\"https://api.bitbucket.org/2.0/workspaces\""),
            "The Bitbucket REST API endpoint listing the user's workspaces (asked with role=member and followed page by page, only on the same host and path), used by allowed_teams. A hubauth addition: upstream has the URL built in.",
        ),
    }
}

/// `LocalBitbucketOAuthenticator`: BitbucketOAuthenticator whose users are local UNIX users.
pub static LOCAL_BITBUCKET_OAUTHENTICATOR: ClassDef =
    hubauth_local::local_class_def!("LocalBitbucketOAuthenticator", "BitbucketOAuthenticator");

/// The validated Bitbucket-specific options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BitbucketConfig {
    /// See `allowed_teams`.
    pub allowed_teams: BTreeSet<String>,
    /// See `bitbucket_workspaces_url`.
    pub workspaces_url: url::Url,
}

impl BitbucketConfig {
    /// Reads and validates the Bitbucket options.
    pub fn from_view(view: &ClassView<'_>) -> Result<Self, ConfigError> {
        let options = BitbucketOAuthenticatorOptions::load(view)?;
        let workspaces_url = url::Url::parse(&options.bitbucket_workspaces_url)
            .ok()
            .filter(|url| matches!(url.scheme(), "https" | "http") && url.host().is_some())
            .ok_or_else(|| {
                view.invalid("bitbucket_workspaces_url", "must be an http or https URL")
            })?;
        if workspaces_url.query().is_some() || workspaces_url.fragment().is_some() {
            return Err(view.invalid(
                "bitbucket_workspaces_url",
                "must have no query or fragment (role=member and the page size are added by hubauth)",
            ));
        }
        if let Some(empty) = options
            .allowed_teams
            .iter()
            .find(|team| team.trim().is_empty())
        {
            return Err(view.invalid(
                "allowed_teams",
                format!("holds an empty workspace name ({empty:?})"),
            ));
        }
        Ok(BitbucketConfig {
            allowed_teams: options.allowed_teams,
            workspaces_url,
        })
    }
}

/// Whether `team` can be a workspace slug or UUID, as `allowed_teams` matches them: a
/// slug is lower-case letters, digits, `-`, `_` and `.`; a UUID is `{...}`.
pub fn looks_like_slug_or_uuid(team: &str) -> bool {
    if team.starts_with('{') && team.ends_with('}') {
        return true;
    }
    !team.is_empty()
        && team
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}
