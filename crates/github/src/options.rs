//! The options of `GitHubOAuthenticator` and `LocalGitHubOAuthenticator`, and where
//! github.com or a GitHub Enterprise Server is.

use std::collections::BTreeSet;
use std::fmt;

use hubauth_config::{
    ClassDef, ClassView, ConfigError, DefaultValue::Computed, DefaultValue::Literal, Deprecated,
    Origin,
};

use crate::error::OrganizationEntryError;

/// github.com, the default `github_url`.
pub const GITHUB_COM: &str = "https://github.com";
/// The REST API of github.com (every other host serves it under `/api/v3`).
pub const GITHUB_COM_API: &str = "https://api.github.com";
/// The scope that lets a token see private organization and team memberships.
pub const READ_ORG: &str = "read:org";

const CLIENT_ID_ALIASES: &[Deprecated] = &[Deprecated {
    name: "github_client_id",
    since: "GitHubOAuthenticator 0.1.0",
    same_type: true,
}];
const CLIENT_SECRET_ALIASES: &[Deprecated] = &[Deprecated {
    name: "github_client_secret",
    since: "GitHubOAuthenticator 0.1.0",
    same_type: true,
}];
const ORGANIZATION_ALIASES: &[Deprecated] = &[Deprecated {
    name: "github_organization_whitelist",
    since: "GitHubOAuthenticator 0.12.0",
    same_type: true,
}];

hubauth_config::options! {
    /// The `[GitHubOAuthenticator]` table.
    pub static GITHUB_OAUTHENTICATOR = class "GitHubOAuthenticator" {
        bases: ["OAuthenticator"],
        help: "Login with GitHub (github.com or a GitHub Enterprise Server) through an OAuth app or a GitHub App. GitHub is not OpenID Connect: the user is read from the REST API (GET /user), and organization and team rules ask the API about the user's memberships.",
    };
    /// `[GitHubOAuthenticator]` as the file, the environment and the defaults give it,
    /// before validation.
    pub struct GitHubOAuthenticatorOptions {
        login_service: String = (
            Str,
            Literal("\"GitHub\""),
            "The name shown on the login button as \"Sign in with ...\".",
        )
            .env(&["LOGIN_SERVICE"]),
        client_id: String = (
            Str,
            Literal("\"\""),
            "The client id of the OAuth app (or GitHub App) registered at GitHub for this hub. GITHUB_CLIENT_ID is read first, then OAUTH_CLIENT_ID.",
        )
            .env(&["GITHUB_CLIENT_ID", "OAUTH_CLIENT_ID"])
            .deprecated(CLIENT_ID_ALIASES),
        client_secret: String = (
            Str,
            Literal("\"\""),
            "The client secret of the OAuth app (or GitHub App) registered at GitHub for this hub. GITHUB_CLIENT_SECRET is read first, then OAUTH_CLIENT_SECRET.",
        )
            .env(&["GITHUB_CLIENT_SECRET", "OAUTH_CLIENT_SECRET"])
            .secret()
            .deprecated(CLIENT_SECRET_ALIASES),
        github_url: Option<String> = (
            Str,
            Computed("GITHUB_URL; else GITHUB_HOST with https:// (http:// when GITHUB_HTTP is set to anything); else https://github.com"),
            "Where GitHub is: https://github.com, or the address of a GitHub Enterprise Server (https://github.example.org). github_api, authorize_url, token_url and userdata_url are derived from it.\n\nFrom GITHUB_URL, a value without a scheme gets https://. GITHUB_HOST names the host alone (the older way); GITHUB_HTTP, set to any non-empty value, makes it http://, which is pending deprecation: write GITHUB_URL=http://host instead. A trailing / is removed.",
        )
            .env(&["GITHUB_URL", "GITHUB_HOST"]),
        github_api: Option<String> = (
            Str,
            Computed("https://api.github.com when github_url is https://github.com, else {github_url}/api/v3"),
            "The base URL of GitHub's REST API, which the user, email, organization and team requests go to. Derived from github_url; rarely set by hand.",
        ),
        authorize_url: Option<String> = (
            Str,
            Computed("{github_url}/login/oauth/authorize"),
            "GitHub's authorization endpoint, where users are sent to log in.",
        ),
        token_url: Option<String> = (
            Str,
            Computed("{github_url}/login/oauth/access_token"),
            "GitHub's token endpoint, where the hub exchanges the code (and a GitHub App's refresh token) for tokens.",
        ),
        userdata_url: Option<String> = (
            Str,
            Computed("{github_api}/user"),
            "The REST API endpoint describing the user the access token belongs to.",
        ),
        username_claim: serde_json::Value = (
            ClaimOrScript,
            Literal("\"login\""),
            "Which field of GET /user is the username: a field name, a dotted path, or a script { script = \"...\" } that sees `user_info`. The default, `login`, is the GitHub username.",
        ),
        allowed_organizations: BTreeSet<String> = (
            Set,
            Literal("[]"),
            "Allow members of these GitHub organizations (\"org\") and teams (\"org:team\"), asked of GitHub's REST API at each login and refresh.\n\nWrite the names as they appear in GitHub's URLs: the organization's login and the team's slug (https://github.com/orgs/jupyterhub/teams/mybinder-org-operators is \"jupyterhub:mybinder-org-operators\"); an entry that is not exactly `org` or `org:team` stops the hub at start-up. Without the read:org scope GitHub shows only public organization memberships, and no team memberships: add \"read:org\" to scope. A team membership counts only once the user has accepted the invitation (state active).",
        )
            .deprecated(ORGANIZATION_ALIASES),
        populate_teams_in_auth_state: bool = (
            Bool,
            Literal("false"),
            "Put the teams the user belongs to, as GitHub's API lists them (GET /user/teams, every page), in auth_state under `teams` at each login and refresh.\n\nNeeds \"read:org\" in scope; without it the teams are not fetched and an error is logged at each login. See enable_auth_state for how apps receive auth_state.",
        ),
    }
}

/// `LocalGitHubOAuthenticator`: GitHubOAuthenticator whose users are local UNIX users.
pub static LOCAL_GITHUB_OAUTHENTICATOR: ClassDef =
    hubauth_local::local_class_def!("LocalGitHubOAuthenticator", "GitHubOAuthenticator");

/// One entry of `allowed_organizations`: an organization, or a team of one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OrgRule {
    /// `org`: any member of the organization.
    Org {
        /// The organization's login.
        org: String,
    },
    /// `org:team`: active members of the team (and of its child teams).
    Team {
        /// The organization's login.
        org: String,
        /// The team's slug.
        team: String,
    },
}

impl OrgRule {
    /// Reads an entry: exactly `org` or `org:team`, each part a name as GitHub's URLs
    /// spell it. Anything else is refused (never guessed at).
    ///
    /// # Errors
    /// [`OrganizationEntryError`] naming what is wrong.
    pub fn parse(entry: &str) -> Result<OrgRule, OrganizationEntryError> {
        let error = |reason| OrganizationEntryError {
            entry: entry.to_owned(),
            reason,
        };
        let mut parts = entry.split(':');
        let org = parts.next().unwrap_or_default();
        let team = parts.next();
        if parts.next().is_some() {
            return Err(error("it has more than one `:`"));
        }
        check_name(org).map_err(error)?;
        match team {
            None => Ok(OrgRule::Org {
                org: org.to_owned(),
            }),
            Some(team) => {
                check_name(team).map_err(error)?;
                Ok(OrgRule::Team {
                    org: org.to_owned(),
                    team: team.to_owned(),
                })
            }
        }
    }

    /// The organization.
    pub fn org(&self) -> &str {
        match self {
            OrgRule::Org { org } | OrgRule::Team { org, .. } => org,
        }
    }
}

impl fmt::Display for OrgRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrgRule::Org { org } => f.write_str(org),
            OrgRule::Team { org, team } => write!(f, "{org}:{team}"),
        }
    }
}

/// Whether `name` can be an organization login or team slug, and so one path segment of
/// an API URL as it is: letters, digits, `-`, `_` and `.`, not a dot segment.
pub(crate) fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("a name is empty");
    }
    if name.len() > 100 {
        return Err("a name is longer than 100 characters");
    }
    if name == "." || name == ".." {
        return Err("a name is a dot segment");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(
            "a name has a character GitHub does not use in organization logins or team slugs (write the name as it appears in the URL: letters, digits, - _ .)",
        );
    }
    Ok(())
}

/// The validated GitHub-specific options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHubConfig {
    /// See `github_url` (no trailing `/`).
    pub github_url: String,
    /// See `github_api` (no trailing `/`).
    pub github_api: String,
    /// See `allowed_organizations`, parsed, in order.
    pub allowed_organizations: Vec<OrgRule>,
    /// See `populate_teams_in_auth_state`.
    pub populate_teams_in_auth_state: bool,
    /// Warnings found while reading the options (shown at start-up).
    pub warnings: Vec<String>,
}

impl GitHubConfig {
    /// Reads and validates the GitHub options of a class view.
    pub fn from_view(view: &ClassView<'_>) -> Result<Self, ConfigError> {
        let options = GitHubOAuthenticatorOptions::load(view)?;
        let class = view.class_name();
        let mut warnings = Vec::new();
        let github_url = match view.origin("github_url") {
            Origin::File { .. } => {
                let value = options.github_url.unwrap_or_default();
                check_base_url(&value).map_err(|err| view.invalid("github_url", err))?;
                value.trim_end_matches('/').to_owned()
            }
            _ => github_url_from_env(view, &mut warnings)?,
        };
        let github_api = match options.github_api {
            Some(value) => {
                check_base_url(&value).map_err(|err| view.invalid("github_api", err))?;
                value.trim_end_matches('/').to_owned()
            }
            None => default_api(&github_url),
        };
        let mut allowed_organizations = Vec::new();
        for entry in &options.allowed_organizations {
            let rule = OrgRule::parse(entry).map_err(|err| {
                view.invalid(
                    "allowed_organizations",
                    format!("{class}.allowed_organizations: {err}"),
                )
            })?;
            allowed_organizations.push(rule);
        }
        Ok(GitHubConfig {
            github_url,
            github_api,
            allowed_organizations,
            populate_teams_in_auth_state: options.populate_teams_in_auth_state,
            warnings,
        })
    }

    /// The default `authorize_url`.
    pub fn default_authorize_url(&self) -> String {
        format!("{}/login/oauth/authorize", self.github_url)
    }

    /// The default `token_url`.
    pub fn default_token_url(&self) -> String {
        format!("{}/login/oauth/access_token", self.github_url)
    }

    /// The default `userdata_url`.
    pub fn default_userdata_url(&self) -> String {
        format!("{}/user", self.github_api)
    }
}

/// The REST API of a GitHub: api.github.com for github.com, `/api/v3` on the same host
/// for a GitHub Enterprise Server.
pub fn default_api(github_url: &str) -> String {
    if github_url == GITHUB_COM {
        GITHUB_COM_API.to_owned()
    } else {
        format!("{github_url}/api/v3")
    }
}

/// `github_url` from the environment, as upstream reads it: GITHUB_URL (https:// added
/// when it has no scheme), else GITHUB_HOST with https:// or, with GITHUB_HTTP, http://.
/// An empty variable counts as unset.
fn github_url_from_env(
    view: &ClassView<'_>,
    warnings: &mut Vec<String>,
) -> Result<String, ConfigError> {
    let env = view.env();
    let set = |name: &str| env.var(name).filter(|value| !value.is_empty());
    let url = if let Some(url) = set("GITHUB_URL") {
        if url.contains("://") {
            url
        } else {
            format!("https://{url}")
        }
    } else if let Some(host) = set("GITHUB_HOST") {
        if host.contains(['/', '?', '#', '@']) {
            return Err(view.invalid(
                "github_url",
                "GITHUB_HOST must be a host name (and port), not a URL; set GITHUB_URL to a URL instead",
            ));
        }
        if set("GITHUB_HTTP").is_some() {
            warnings.push(format!(
                "GITHUB_HOST with GITHUB_HTTP may be deprecated in the future: set GITHUB_URL=http://{host} to give the host and the protocol together"
            ));
            format!("http://{host}")
        } else {
            format!("https://{host}")
        }
    } else {
        GITHUB_COM.to_owned()
    };
    check_base_url(&url).map_err(|err| view.invalid("github_url", err))?;
    Ok(url.trim_end_matches('/').to_owned())
}

/// A base URL other URLs are built on: http or https, a host, no query or fragment.
fn check_base_url(value: &str) -> Result<(), String> {
    let parsed = url::Url::parse(value).map_err(|err| format!("{value:?} is not a URL ({err})"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("{value:?} must be an http or https URL"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("{value:?} has no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!("{value:?} must not have a query or fragment"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!("{value:?} must not carry credentials"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organization_entries_parse_exactly() {
        assert_eq!(
            OrgRule::parse("jupyterhub").unwrap(),
            OrgRule::Org {
                org: "jupyterhub".into()
            }
        );
        assert_eq!(
            OrgRule::parse("jupyterhub:mybinder-org-operators").unwrap(),
            OrgRule::Team {
                org: "jupyterhub".into(),
                team: "mybinder-org-operators".into()
            }
        );
        assert_eq!(
            OrgRule::parse("my_org.x:team_1").unwrap().to_string(),
            "my_org.x:team_1"
        );
        for bad in [
            "",
            ":",
            "org:",
            ":team",
            "a:b:c",
            "My Org",
            "org:My Team",
            "org/../x",
            "..",
            "org:..",
            "org%2F",
            "org?x",
            "org#x",
            " org",
            "orgé",
        ] {
            let err = OrgRule::parse(bad).unwrap_err();
            assert_eq!(err.entry, bad);
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn api_of_github_com_and_of_an_enterprise_server() {
        assert_eq!(default_api("https://github.com"), "https://api.github.com");
        assert_eq!(
            default_api("https://ghe.example.org"),
            "https://ghe.example.org/api/v3"
        );
        assert_eq!(
            default_api("http://github.com"),
            "http://github.com/api/v3",
            "only https://github.com has api.github.com, as upstream"
        );
    }

    #[test]
    fn base_urls_are_checked() {
        assert!(check_base_url("https://ghe.example.org").is_ok());
        assert!(check_base_url("http://127.0.0.1:8080/").is_ok());
        for bad in [
            "ghe.example.org",
            "ftp://ghe.example.org",
            "https://ghe.example.org/?a=b",
            "https://user:pw@ghe.example.org",
            "https://",
        ] {
            assert!(check_base_url(bad).is_err(), "{bad}");
        }
    }
}
