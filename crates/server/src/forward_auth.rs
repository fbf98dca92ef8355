//! Forward authentication for reverse proxies (nginx `auth_request`, Traefik ForwardAuth,
//! Caddy `forward_auth`): the resolved settings, per-app access rules, and the pure
//! decisions the `{base_url}hub/forward-auth` handler makes.

use axum::http::HeaderName;
use serde_json::Value as Json;

use crate::request_target::{HostName, TargetPath};

/// The resolved forward-auth settings from the `[Hub]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct ForwardAuthConfig {
    /// Header carrying the user name (`forward_auth_user_header`).
    pub user_header: HeaderName,
    /// Header carrying the comma-separated groups (`forward_auth_groups_header`); `None`
    /// when turned off with an empty name.
    pub groups_header: Option<HeaderName>,
    /// Header carrying `true`/`false` for the admin flag (`forward_auth_admin_header`);
    /// `None` when turned off.
    pub admin_header: Option<HeaderName>,
    /// Hosts other than the hub's own that may appear in a login `next` URL
    /// (`forward_auth_allowed_hosts`), lower-cased.
    pub allowed_hosts: Vec<String>,
    /// Per-app access rules (`forward_auth_rules`).
    pub rules: Vec<ForwardAuthRule>,
    /// What a logged-in user gets for a request no rule matches (`forward_auth_default`).
    pub default: DefaultAccess,
    /// auth_state items handed to apps (`auth_state_headers`): header name and dotted path.
    pub auth_state_headers: Vec<(HeaderName, String)>,
    /// Whether API tokens with `access:apps` pass like sessions
    /// (`forward_auth_accept_tokens`).
    pub accept_tokens: bool,
}

impl Default for ForwardAuthConfig {
    fn default() -> Self {
        ForwardAuthConfig {
            user_header: HeaderName::from_static("x-auth-request-user"),
            groups_header: Some(HeaderName::from_static("x-auth-request-groups")),
            admin_header: Some(HeaderName::from_static("x-auth-request-admin")),
            allowed_hosts: Vec::new(),
            rules: Vec::new(),
            default: DefaultAccess::Allow,
            auth_state_headers: Vec::new(),
            accept_tokens: false,
        }
    }
}

impl ForwardAuthConfig {
    /// Whether a decision needs the request's host and path: with no rules and
    /// `forward_auth_default = "allow"` every logged-in user passes whatever the target.
    pub fn needs_target(&self) -> bool {
        !self.rules.is_empty() || self.default == DefaultAccess::Deny
    }
}

/// What a logged-in user gets for a request that no `forward_auth_rules` rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DefaultAccess {
    /// Let them through (rules only narrow): the default, since being logged in already
    /// means passing the login method's allowed_users / allowed_groups.
    #[default]
    Allow,
    /// Keep them out: only what a rule allows is reachable.
    Deny,
}

impl DefaultAccess {
    /// Reads the option's value: `allow` or `deny`.
    pub fn parse(value: &str) -> Result<Self, String> {
        match value {
            "allow" => Ok(DefaultAccess::Allow),
            "deny" => Ok(DefaultAccess::Deny),
            other => Err(format!("{other:?} must be \"allow\" or \"deny\"")),
        }
    }
}

/// The requests a forward-auth rule or a proxy route applies to: a host, a path prefix,
/// or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestScope {
    /// The host; `None` means any host. With a port (`app.example:8080`) the port must
    /// match too; without, any port matches.
    pub host: Option<HostName>,
    /// The path prefix (segment-wise: `/app` covers `/app` and `/app/x`, not `/apple`).
    pub path_prefix: String,
}

impl RequestScope {
    /// Every request: any host, path prefix `/`.
    pub fn everything() -> Self {
        RequestScope {
            host: None,
            path_prefix: "/".to_owned(),
        }
    }

    /// Reads the optional `host` and `path_prefix` keys of one rule or route table;
    /// `where_` names the table in errors.
    pub fn from_table(where_: &str, table: &JsonTable) -> Result<Self, String> {
        let host = match table_string(where_, table, "host")? {
            Some(host) => Some(
                HostName::parse(&host)
                    .map_err(|err| format!("{where_}: host {host:?} is {err}"))?,
            ),
            None => None,
        };
        let path_prefix =
            table_string(where_, table, "path_prefix")?.unwrap_or_else(|| "/".to_owned());
        if !path_prefix.starts_with('/') || path_prefix.contains(['?', '#', '\\']) {
            return Err(format!(
                "{where_}: path_prefix {path_prefix:?} must be a path starting with /"
            ));
        }
        // Request paths are matched decoded and resolved: a prefix written any other way
        // would never match, and the rule would silently not apply.
        let inner = path_prefix.strip_suffix('/').unwrap_or(&path_prefix);
        if path_prefix.contains(['%', ';'])
            || path_prefix.chars().any(char::is_control)
            || (path_prefix != "/"
                && inner
                    .split('/')
                    .skip(1)
                    .any(|segment| matches!(segment, "" | "." | "..")))
        {
            return Err(format!(
                "{where_}: path_prefix {path_prefix:?} must be written decoded and resolved: no %-escapes, ;, //, . or .. segments"
            ));
        }
        Ok(RequestScope { host, path_prefix })
    }

    /// Whether a request for `host` and one reading of its path falls in this scope;
    /// with `fold_case` the path prefix is compared ignoring ASCII case.
    fn matches(&self, host: Option<&HostName>, path: &str, fold_case: bool) -> bool {
        let host_ok = match (&self.host, host) {
            (None, _) => true,
            (Some(pattern), Some(host)) => pattern.covers(host),
            (Some(_), None) => false,
        };
        host_ok && path_has_prefix(path, &self.path_prefix, fold_case)
    }
}

/// Of `items`, the one whose scope most specifically matches a request for `host` and one
/// reading of its path (see [`TargetPath`]): a scope naming the host beats one for any
/// host, then the longest path prefix wins.
pub fn most_specific<'a, T>(
    items: &'a [T],
    scope: impl Fn(&T) -> &RequestScope,
    host: Option<&HostName>,
    path: &str,
    fold_case: bool,
) -> Option<&'a T> {
    items
        .iter()
        .filter(|item| scope(item).matches(host, path, fold_case))
        .max_by_key(|item| {
            let scope = scope(item);
            (scope.host.is_some(), scope.path_prefix.len())
        })
}

/// A table of `forward_auth_rules` or `upstream_routes`, as parsed from the config.
pub type JsonTable = serde_json::Map<String, Json>;

/// The string value of `key` in a rule or route table, if present; `where_` names the
/// table in the error for a value that is not a string.
pub fn table_string(where_: &str, table: &JsonTable, key: &str) -> Result<Option<String>, String> {
    match table.get(key) {
        None => Ok(None),
        Some(Json::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(format!("{where_}: {key} must be a string")),
    }
}

/// Who may reach one protected app (a host, a path prefix, or both).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardAuthRule {
    /// The requests the rule applies to.
    pub scope: RequestScope,
    /// Users allowed through.
    pub allowed_users: Vec<String>,
    /// Members of these groups are allowed through.
    pub allowed_groups: Vec<String>,
}

impl ForwardAuthRule {
    /// Parses one table of `forward_auth_rules`; the error names the offending key.
    pub fn from_json(index: usize, value: &Json) -> Result<Self, String> {
        let where_ = format!("rule {} (counting from 1)", index + 1);
        let table = value
            .as_object()
            .ok_or_else(|| format!("{where_} must be a table"))?;
        for key in table.keys() {
            if !matches!(
                key.as_str(),
                "host" | "path_prefix" | "allowed_users" | "allowed_groups"
            ) {
                return Err(format!(
                    "{where_} has unknown key {key:?} (known: host, path_prefix, allowed_users, allowed_groups)"
                ));
            }
        }
        let scope = RequestScope::from_table(&where_, table)?;
        let list = |key: &str| -> Result<Vec<String>, String> {
            match table.get(key) {
                None => Ok(Vec::new()),
                Some(Json::Array(items)) => items
                    .iter()
                    .map(|item| {
                        item.as_str()
                            .map(str::to_owned)
                            .ok_or_else(|| format!("{where_}: {key} must be a list of strings"))
                    })
                    .collect(),
                Some(_) => Err(format!("{where_}: {key} must be a list of strings")),
            }
        };
        let allowed_users = list("allowed_users")?;
        let allowed_groups = list("allowed_groups")?;
        if allowed_users.is_empty() && allowed_groups.is_empty() {
            return Err(format!(
                "{where_} needs allowed_users or allowed_groups (an empty rule would deny everyone)"
            ));
        }
        Ok(ForwardAuthRule {
            scope,
            allowed_users,
            allowed_groups,
        })
    }

    fn allows(&self, name: &str, groups: &[String]) -> bool {
        self.allowed_users.iter().any(|user| user == name)
            || groups
                .iter()
                .any(|group| self.allowed_groups.contains(group))
    }
}

/// Whether a logged-in user may reach `path` on `host`.
///
/// For each reading of the path (see [`TargetPath`]) the most specific matching rule
/// decides (a rule naming the host beats one for any host, then the longest path prefix
/// wins), and `default` when none matches; the user passes only if every reading lets
/// them. Each reading is matched case-sensitively and, when the path or a rule has capital
/// letters, also ignoring case (for apps on case-insensitive file systems). When a rule
/// names a host and the request has none, nobody passes.
pub fn is_allowed(
    rules: &[ForwardAuthRule],
    default: DefaultAccess,
    host: Option<&HostName>,
    path: &TargetPath,
    name: &str,
    groups: &[String],
) -> bool {
    if host.is_none() && rules.iter().any(|rule| rule.scope.host.is_some()) {
        return false;
    }
    let rule_has_capitals = rules
        .iter()
        .any(|rule| has_capitals(&rule.scope.path_prefix));
    let decide = |reading: &str, fold_case: bool| match most_specific(
        rules,
        |rule| &rule.scope,
        host,
        reading,
        fold_case,
    ) {
        Some(rule) => rule.allows(name, groups),
        None => default == DefaultAccess::Allow,
    };
    path.readings().iter().all(|reading| {
        decide(reading, false)
            && (!(rule_has_capitals || has_capitals(reading)) || decide(reading, true))
    })
}

fn has_capitals(text: &str) -> bool {
    text.bytes().any(|b| b.is_ascii_uppercase())
}

/// Compares an allow-list's host (`forward_auth_allowed_hosts`) with a request host; a
/// pattern without a port matches any port. Either one not being a valid host never
/// matches.
pub fn host_matches(pattern: &str, host: &str) -> bool {
    match (HostName::parse(pattern), HostName::parse(host)) {
        (Ok(pattern), Ok(host)) => pattern.covers(&host),
        _ => false,
    }
}

/// Whether a `Host` value is a valid host name with an optional numeric port, and so safe
/// to put into a URL (see [`HostName::parse`]).
pub fn is_plausible_host(host: &str) -> bool {
    HostName::parse(host).is_ok()
}

/// Segment-wise prefix match: `/app` covers `/app` and `/app/x` but not `/apple`; with
/// `fold_case` ASCII case is ignored.
fn path_has_prefix(path: &str, prefix: &str, fold_case: bool) -> bool {
    let starts = |text: &str, start: &str| {
        text.len() >= start.len()
            && if fold_case {
                text.as_bytes()[..start.len()].eq_ignore_ascii_case(start.as_bytes())
            } else {
                text.as_bytes().starts_with(start.as_bytes())
            }
    };
    if prefix.ends_with('/') {
        // `/app/` covers `/app` too.
        return starts(path, prefix) || (path.len() + 1 == prefix.len() && starts(prefix, path));
    }
    starts(path, prefix) && (path.len() == prefix.len() || path.as_bytes()[prefix.len()] == b'/')
}

/// Parses a header-name option: `None` for an empty value (header turned off).
pub fn parse_header_name(value: &str) -> Result<Option<HeaderName>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    HeaderName::from_bytes(value.as_bytes())
        .map(Some)
        .map_err(|_| format!("{value:?} is not a valid HTTP header name"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(value: Json) -> ForwardAuthRule {
        ForwardAuthRule::from_json(0, &value).unwrap()
    }

    fn allowed(
        rules: &[ForwardAuthRule],
        host: Option<&str>,
        path: &str,
        name: &str,
        groups: &[String],
    ) -> bool {
        let host = host.map(|host| HostName::parse(host).unwrap());
        let path = TargetPath::parse(path).unwrap();
        is_allowed(
            rules,
            DefaultAccess::Allow,
            host.as_ref(),
            &path,
            name,
            groups,
        )
    }

    #[test]
    fn most_specific_rule_decides() {
        let rules = vec![
            rule(json!({"host": "app.example", "allowed_groups": ["staff"]})),
            rule(
                json!({"host": "app.example", "path_prefix": "/public", "allowed_users": ["guest"]}),
            ),
        ];
        let staff = vec!["staff".to_owned()];
        assert!(allowed(&rules, Some("app.example"), "/x", "ann", &staff));
        assert!(!allowed(&rules, Some("APP.example.:443"), "/x", "bob", &[]));
        assert!(!allowed(
            &rules,
            Some("app.example"),
            "/public/x",
            "ann",
            &staff
        ));
        assert!(allowed(
            &rules,
            Some("app.example"),
            "/public",
            "guest",
            &[]
        ));
        assert!(allowed(&rules, Some("other.example"), "/x", "bob", &[]));
        // Host-scoped rules and no host at all: nobody passes.
        let path = TargetPath::parse("/x").unwrap();
        assert!(!is_allowed(
            &rules,
            DefaultAccess::Allow,
            None,
            &path,
            "ann",
            &staff
        ));
    }

    #[test]
    fn path_tricks_do_not_escape_a_rule() {
        let rules = vec![rule(
            json!({"path_prefix": "/private", "allowed_users": ["ann"]}),
        )];
        for path in [
            "/private",
            "/private/x",
            "/public/../private/x",
            "/%70rivate",
            "//private",
            "///private/x",
            "/./private",
            "/public/..%2Fprivate",
            "/public/..%5Cprivate",
            "/public\\..\\private",
            "/public/..;/private",
            "/private;jsessionid=1/x",
            "/public/%252e%252e/private",
            "/%2570rivate",
            "/PRIVATE/x",
            "/Private",
        ] {
            assert!(!allowed(&rules, None, path, "bob", &[]), "{path}");
            assert!(allowed(&rules, None, path, "ann", &[]), "{path}");
        }
        assert!(allowed(&rules, None, "/privateer", "bob", &[]));
        assert!(allowed(&rules, None, "/public/x", "bob", &[]));
    }

    #[test]
    fn default_deny_lets_through_only_what_a_rule_allows() {
        let rules = vec![rule(
            json!({"path_prefix": "/public", "allowed_groups": ["staff"]}),
        )];
        let staff = vec!["staff".to_owned()];
        let check = |path: &str, groups: &[String]| {
            let path = TargetPath::parse(path).unwrap();
            is_allowed(&rules, DefaultAccess::Deny, None, &path, "ann", groups)
        };
        assert!(check("/public/x", &staff));
        assert!(!check("/public/x", &[]));
        assert!(!check("/other", &staff));
        // A reading outside the rule falls to the default.
        assert!(!check("/public/..%2Fother", &staff));
        let path = TargetPath::parse("/x").unwrap();
        assert!(!is_allowed(
            &[],
            DefaultAccess::Deny,
            None,
            &path,
            "ann",
            &staff
        ));
        assert!(is_allowed(
            &[],
            DefaultAccess::Allow,
            None,
            &path,
            "ann",
            &staff
        ));
    }

    #[test]
    fn default_access_values() {
        assert_eq!(DefaultAccess::parse("allow"), Ok(DefaultAccess::Allow));
        assert_eq!(DefaultAccess::parse("deny"), Ok(DefaultAccess::Deny));
        for bad in ["", "Deny", "block", "true"] {
            assert!(DefaultAccess::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_rules_are_refused_with_the_key() {
        for (value, needle) in [
            (
                json!({"host": "a", "allowed": ["x"]}),
                "unknown key \"allowed\"",
            ),
            (json!({"host": "a/b", "allowed_users": ["x"]}), "host"),
            (
                json!({"host": "a:80x", "allowed_users": ["x"]}),
                "host \"a:80x\"",
            ),
            (json!({"host": "a..b", "allowed_users": ["x"]}), "host"),
            (
                json!({"path_prefix": "x", "allowed_users": ["x"]}),
                "path_prefix",
            ),
            (
                json!({"path_prefix": "/a//b", "allowed_users": ["x"]}),
                "path_prefix",
            ),
            (
                json!({"path_prefix": "/a/../b", "allowed_users": ["x"]}),
                "path_prefix",
            ),
            (
                json!({"path_prefix": "/%70rivate", "allowed_users": ["x"]}),
                "path_prefix",
            ),
            (json!({"host": "a"}), "allowed_users or allowed_groups"),
            (json!({"host": "a", "allowed_users": "x"}), "allowed_users"),
        ] {
            let err = ForwardAuthRule::from_json(0, &value).unwrap_err();
            assert!(err.contains(needle), "{err}");
            assert!(err.contains("rule 1"), "{err}");
        }
        // Rule hosts are read as request hosts are: case and one trailing dot do not matter.
        let written = rule(json!({"host": "App.Example.", "allowed_users": ["x"]}));
        assert_eq!(
            written.scope.host,
            Some(HostName::parse("app.example").unwrap())
        );
    }

    #[test]
    fn host_patterns() {
        assert!(host_matches("app.example", "App.Example:8080"));
        assert!(host_matches("app.example", "app.example."));
        assert!(host_matches("app.example:8080", "app.example:8080"));
        assert!(!host_matches("app.example:8080", "app.example:9090"));
        assert!(!host_matches("app.example", "evil.app.example"));
        assert!(!host_matches("app.example", "app.example:!"));
        assert!(!host_matches("app.example", "app.example:@evil"));
    }
}
