//! The options of `GitLabOAuthenticator` and `LocalGitLabOAuthenticator`.

use std::collections::BTreeSet;

use hubauth_config::{
    ClassDef, ClassView, ConfigError, DefaultValue::Computed, DefaultValue::Literal, Deprecated,
    Origin,
};

/// gitlab.com, the default `gitlab_url`.
pub const GITLAB_COM: &str = "https://gitlab.com";

/// The lowest access level `allowed_project_ids` admits: Developer (GitLab's
/// `Gitlab::Access::DEVELOPER`, <https://docs.gitlab.com/api/members/#roles>).
pub const DEVELOPER_ACCESS: i64 = 30;

const GROUP_ALIASES: &[Deprecated] = &[Deprecated {
    name: "gitlab_group_whitelist",
    since: "GitLabOAuthenticator 0.12.0",
    same_type: true,
}];

const PROJECT_ALIASES: &[Deprecated] = &[Deprecated {
    name: "gitlab_project_id_whitelist",
    since: "GitLabOAuthenticator 0.12.0",
    same_type: true,
}];

hubauth_config::options! {
    /// The `[GitLabOAuthenticator]` table.
    pub static GITLAB_OAUTHENTICATOR = class "GitLabOAuthenticator" {
        bases: ["OAuthenticator"],
        help: "Login with GitLab (gitlab.com or a self-hosted GitLab): the user from the REST API's /user, allowed by membership of GitLab groups or by Developer access to GitLab projects, both checked through the REST API with the user's own token.",
    };
    /// `[GitLabOAuthenticator]` as the file, the environment and the defaults give it, before
    /// validation.
    pub struct GitLabOAuthenticatorOptions {
        login_service: String = (
            Str,
            Literal("\"GitLab\""),
            "The name shown on the login button as \"Sign in with ...\".",
        )
            .env(&["LOGIN_SERVICE"]),
        client_id: String = (
            Str,
            Literal("\"\""),
            "The Application ID of the OAuth application registered at GitLab (User settings > Applications, a group's Settings > Applications, or Admin > Applications).",
        )
            .env(&["GITLAB_CLIENT_ID", "OAUTH_CLIENT_ID"]),
        client_secret: String = (
            Str,
            Literal("\"\""),
            "The Secret of that OAuth application.",
        )
            .env(&["GITLAB_CLIENT_SECRET", "OAUTH_CLIENT_SECRET"])
            .secret(),
        gitlab_url: String = (
            Str,
            Literal("\"https://gitlab.com\""),
            "Where GitLab is: https://gitlab.com, or a self-hosted GitLab such as https://gitlab.example.org (with its path when GitLab runs under one, https://example.org/gitlab). authorize_url, token_url and gitlab_api are derived from it.\n\nThe environment variable GITLAB_URL sets it; so does GITLAB_HOST when GITLAB_URL is unset or empty (with a warning suggesting GITLAB_URL, and https:// put in front of a bare host name). A trailing / is dropped.",
        )
            .env(&["GITLAB_URL", "GITLAB_HOST"]),
        gitlab_api_version: String = (
            Str,
            Literal("\"4\""),
            "The REST API version in gitlab_api's default, {gitlab_url}/api/v{gitlab_api_version} (see https://docs.gitlab.com/api/rest/). Digits only; write it as a string (\"4\"). An empty GITLAB_API_VERSION means \"4\".",
        )
            .env(&["GITLAB_API_VERSION"]),
        gitlab_api: Option<String> = (
            Str,
            Computed("{gitlab_url}/api/v{gitlab_api_version}"),
            "The REST API's root: userdata_url's default is {gitlab_api}/user, and the version, group and project membership checks go under it.",
        ),
        authorize_url: Option<String> = (
            Str,
            Computed("{gitlab_url}/oauth/authorize"),
            "GitLab's authorization endpoint. Derived from gitlab_url unless set (OAUTH2_AUTHORIZE_URL is not read for GitLab, as upstream).",
        ),
        token_url: Option<String> = (
            Str,
            Computed("{gitlab_url}/oauth/token"),
            "GitLab's token endpoint. Derived from gitlab_url unless set (OAUTH2_TOKEN_URL is not read for GitLab, as upstream).",
        ),
        userdata_url: Option<String> = (
            Str,
            Computed("{gitlab_api}/user"),
            "Where the user is read from: the REST API's current user. Derived from gitlab_api unless set (OAUTH2_USERDATA_URL is not read for GitLab, as upstream).",
        ),
        allowed_gitlab_groups: BTreeSet<String> = (
            Set,
            Literal("[]"),
            "Allow members of these GitLab groups, named by full path (\"my-org\", \"my-org/sub-group\") or numeric id. Membership inherited from a parent group counts, at any role.\n\nEach group costs one REST API request (GET {gitlab_api}/groups/<path>/members/all/<user id>) at every login and refresh of a user not allowed otherwise, until one answers \"member\"; list few. The requests are made with the user's token, which needs the read_api (or api) scope: put \"read_api\" in scope. A group the user cannot see counts as not a member.",
        )
            .deprecated(GROUP_ALIASES),
        allowed_project_ids: BTreeSet<String> = (
            Set,
            Literal("[]"),
            "Allow users with at least Developer access (access level 30) to one of these GitLab projects, named by numeric project id, written as strings ([\"4527\", \"918\"]). Access through a parent group counts.\n\nEach project costs one REST API request (GET {gitlab_api}/projects/<id>/members/all/<user id>) at every login and refresh of a user not allowed otherwise, until one allows; list few. The user's token needs the read_api (or api) scope.",
        )
            .deprecated(PROJECT_ALIASES),
    }
}

/// `LocalGitLabOAuthenticator`: GitLabOAuthenticator whose users are local UNIX users.
pub static LOCAL_GITLAB_OAUTHENTICATOR: ClassDef =
    hubauth_local::local_class_def!("LocalGitLabOAuthenticator", "GitLabOAuthenticator");

/// The validated GitLab-specific options, with the derived URLs filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitLabConfig {
    /// See `gitlab_url` (no trailing `/`).
    pub gitlab_url: String,
    /// See `gitlab_api_version` (digits).
    pub gitlab_api_version: String,
    /// See `gitlab_api` (no trailing `/`), computed when unset.
    pub gitlab_api: String,
    /// The authorization endpoint (set or derived).
    pub authorize_url: String,
    /// The token endpoint (set or derived).
    pub token_url: String,
    /// The user endpoint (set or derived).
    pub userdata_url: String,
    /// See `allowed_gitlab_groups`: full paths or numeric ids, as configured.
    pub allowed_gitlab_groups: BTreeSet<String>,
    /// See `allowed_project_ids`, each a positive integer.
    pub allowed_project_ids: BTreeSet<u64>,
    /// Start-up warnings about how the options were given (GITLAB_HOST).
    pub warnings: Vec<String>,
}

impl GitLabConfig {
    /// Whether a membership rule (groups or projects) is configured, so that the user's
    /// token must reach the REST API beyond `/user`.
    pub fn has_membership_rules(&self) -> bool {
        !self.allowed_gitlab_groups.is_empty() || !self.allowed_project_ids.is_empty()
    }

    /// Reads and validates the GitLab options of a class view.
    pub fn from_view(view: &ClassView<'_>) -> Result<Self, ConfigError> {
        let options = GitLabOAuthenticatorOptions::load(view)?;
        let mut warnings = Vec::new();
        let gitlab_url = resolve_gitlab_url(view, options.gitlab_url, &mut warnings)?;

        let version = match (
            view.origin("gitlab_api_version"),
            options.gitlab_api_version,
        ) {
            // Upstream reads `GITLAB_API_VERSION or "4"`: an empty variable is the default.
            (Origin::Env { .. }, value) if value.is_empty() => "4".to_owned(),
            (_, value) => value,
        };
        if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
            return Err(view.invalid(
                "gitlab_api_version",
                format!("must be the REST API's version number (\"4\"), not {version:?}"),
            ));
        }

        let gitlab_api = match options.gitlab_api {
            Some(api) => normalize_url(&api).map_err(|err| view.invalid("gitlab_api", err))?,
            None => format!("{gitlab_url}/api/v{version}"),
        };
        let explicit =
            |option: &str, value: Option<String>| -> Result<Option<String>, ConfigError> {
                match value {
                    Some(url) => {
                        check_endpoint(&url).map_err(|err| view.invalid(option, err))?;
                        Ok(Some(url))
                    }
                    None => Ok(None),
                }
            };
        let authorize_url = explicit("authorize_url", options.authorize_url)?
            .unwrap_or_else(|| format!("{gitlab_url}/oauth/authorize"));
        let token_url = explicit("token_url", options.token_url)?
            .unwrap_or_else(|| format!("{gitlab_url}/oauth/token"));
        let userdata_url = explicit("userdata_url", options.userdata_url)?
            .unwrap_or_else(|| format!("{gitlab_api}/user"));

        for group in &options.allowed_gitlab_groups {
            check_group(group).map_err(|err| view.invalid("allowed_gitlab_groups", err))?;
        }
        let mut allowed_project_ids = BTreeSet::new();
        for project in &options.allowed_project_ids {
            let id = parse_project_id(project)
                .map_err(|err| view.invalid("allowed_project_ids", err))?;
            allowed_project_ids.insert(id);
        }
        Ok(GitLabConfig {
            gitlab_url,
            gitlab_api_version: version,
            gitlab_api,
            authorize_url,
            token_url,
            userdata_url,
            allowed_gitlab_groups: options.allowed_gitlab_groups,
            allowed_project_ids,
            warnings,
        })
    }
}

/// `gitlab_url` as upstream computes it: the file, else `GITLAB_URL`, else `GITLAB_HOST`
/// (with warnings, and `https://` put in front of a bare host), else gitlab.com.
fn resolve_gitlab_url(
    view: &ClassView<'_>,
    value: String,
    warnings: &mut Vec<String>,
) -> Result<String, ConfigError> {
    let from_host = |host: String, warnings: &mut Vec<String>| -> String {
        warnings.push(
            "GITLAB_HOST sets gitlab_url; upstream may stop reading GITLAB_HOST in a future release: rename the variable to GITLAB_URL".to_owned(),
        );
        if host.starts_with("https:") || host.starts_with("http:") {
            host
        } else {
            let url = format!("https://{host}");
            warnings.push(format!(
                "GITLAB_HOST={host:?} has no scheme, so {url} is used; set GITLAB_URL=\"{url}\" instead"
            ));
            url
        }
    };
    let raw = match view.origin("gitlab_url") {
        Origin::Env { var: "GITLAB_HOST" } => from_host(value, warnings),
        // Upstream tests `if not gitlab_url`: an empty GITLAB_URL counts as unset.
        Origin::Env { var: "GITLAB_URL" } if value.is_empty() => {
            match view
                .env()
                .var("GITLAB_HOST")
                .filter(|host| !host.is_empty())
            {
                Some(host) => from_host(host, warnings),
                None => GITLAB_COM.to_owned(),
            }
        }
        _ => value,
    };
    normalize_url(&raw).map_err(|err| view.invalid("gitlab_url", err))
}

/// An http(s) URL with a host and no query or fragment, without its trailing `/`s (paths
/// are appended to it).
pub fn normalize_url(value: &str) -> Result<String, String> {
    check_endpoint(value)?;
    Ok(value.trim_end_matches('/').to_owned())
}

fn check_endpoint(value: &str) -> Result<(), String> {
    let parsed = url::Url::parse(value).map_err(|err| format!("not a URL ({err})"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("must be an http or https URL".to_owned());
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".to_owned());
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err("must not have a query or fragment".to_owned());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not carry credentials".to_owned());
    }
    Ok(())
}

/// A group as GitLab names it in the API: a numeric id, or a full path of `/`-separated
/// segments without spaces (a group's *path*, not its display name).
pub fn check_group(group: &str) -> Result<(), String> {
    if group.is_empty() {
        return Err("holds an empty group".to_owned());
    }
    if group.starts_with('/') || group.ends_with('/') || group.contains("//") {
        return Err(format!(
            "{group:?} is not a group path: write it as GitLab's URL shows it (\"my-org/sub-group\"), without leading or trailing /"
        ));
    }
    if group.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "{group:?} is not a group path (paths have no spaces): use the group's path from its URL, not its display name"
        ));
    }
    Ok(())
}

/// A project id exactly: decimal digits making a positive integer.
pub fn parse_project_id(value: &str) -> Result<u64, String> {
    let parsed = (!value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()))
        .then(|| value.parse::<u64>().ok())
        .flatten()
        .filter(|id| *id > 0);
    parsed.ok_or_else(|| {
        format!(
            "{value:?} is not a project id: write the project's numeric id (its Settings > General page shows it) as a string, like \"4527\""
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_ids_parse_exactly() {
        assert_eq!(parse_project_id("4527"), Ok(4527));
        assert_eq!(parse_project_id("042"), Ok(42));
        for bad in [
            "",
            "0",
            "-3",
            "+3",
            " 3",
            "3 ",
            "3.0",
            "1e3",
            "group/project",
            "x",
        ] {
            assert!(parse_project_id(bad).is_err(), "{bad:?}");
        }
        assert!(parse_project_id("99999999999999999999999").is_err());
    }

    #[test]
    fn group_paths_are_paths() {
        for good in ["my-org", "my-org/sub.group", "a/b/c", "1234", "Under_score"] {
            assert_eq!(check_group(good), Ok(()), "{good}");
        }
        for bad in ["", "/my-org", "my-org/", "a//b", "My Org", "a\tb"] {
            assert!(check_group(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn urls_lose_trailing_slashes_and_must_be_plain() {
        assert_eq!(
            normalize_url("https://gitlab.example.org/"),
            Ok("https://gitlab.example.org".to_owned())
        );
        assert_eq!(
            normalize_url("https://example.org/gitlab//"),
            Ok("https://example.org/gitlab".to_owned())
        );
        for bad in [
            "gitlab.example.org",
            "ftp://gitlab.example.org",
            "https://gitlab.example.org/?x=1",
            "https://gitlab.example.org/#top",
            "https://user:pw@gitlab.example.org",
            "",
        ] {
            assert!(normalize_url(bad).is_err(), "{bad:?}");
        }
    }
}
