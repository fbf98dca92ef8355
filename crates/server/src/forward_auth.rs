//! Forward authentication for reverse proxies (nginx `auth_request`, Traefik ForwardAuth,
//! Caddy `forward_auth`): the resolved settings, per-app access rules, and the pure
//! decisions the `{base_url}hub/forward-auth` handler makes.

use axum::http::HeaderName;
use serde_json::Value as Json;

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
    /// auth_state items handed to apps (`auth_state_headers`): header name and dotted path.
    pub auth_state_headers: Vec<(HeaderName, String)>,
}

impl Default for ForwardAuthConfig {
    fn default() -> Self {
        ForwardAuthConfig {
            user_header: HeaderName::from_static("x-auth-request-user"),
            groups_header: Some(HeaderName::from_static("x-auth-request-groups")),
            admin_header: Some(HeaderName::from_static("x-auth-request-admin")),
            allowed_hosts: Vec::new(),
            rules: Vec::new(),
            auth_state_headers: Vec::new(),
        }
    }
}

/// The requests a forward-auth rule or a proxy route applies to: a host, a path prefix,
/// or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestScope {
    /// The host, lower-cased; `None` means any host. With a port (`app.example:8080`) the
    /// port must match too; without, any port matches.
    pub host: Option<String>,
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
            Some(host) if !is_plausible_host(&host) => {
                return Err(format!(
                    "{where_}: host {host:?} must be a bare host name, optionally with :port"
                ));
            }
            Some(host) => Some(host.to_ascii_lowercase()),
            None => None,
        };
        let path_prefix =
            table_string(where_, table, "path_prefix")?.unwrap_or_else(|| "/".to_owned());
        if !path_prefix.starts_with('/') || path_prefix.contains(['?', '#', '\\']) {
            return Err(format!(
                "{where_}: path_prefix {path_prefix:?} must be a path starting with /"
            ));
        }
        Ok(RequestScope { host, path_prefix })
    }

    /// Whether a request for `host` and an already [normalized](normalize_path) `path`
    /// falls in this scope.
    fn matches(&self, host: Option<&str>, path: &str) -> bool {
        let host_ok = match (&self.host, host) {
            (None, _) => true,
            (Some(pattern), Some(host)) => host_matches(pattern, host),
            (Some(_), None) => false,
        };
        host_ok && path_has_prefix(path, &self.path_prefix)
    }
}

/// Of `items`, the one whose scope most specifically matches a request for `host` + `uri`:
/// a scope naming the host beats one for any host, then the longest path prefix wins.
/// The path of `uri` is [normalized](normalize_path) first.
pub fn most_specific<'a, T>(
    items: &'a [T],
    scope: impl Fn(&T) -> &RequestScope,
    host: Option<&str>,
    uri: &str,
) -> Option<&'a T> {
    let path = normalize_path(uri);
    items
        .iter()
        .filter(|item| scope(item).matches(host, &path))
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

/// Whether a logged-in user may reach `host` + `uri`: the most specific matching rule
/// decides (a rule naming the host beats one for any host, then the longest path prefix
/// wins); with no matching rule every logged-in user may pass.
pub fn is_allowed(
    rules: &[ForwardAuthRule],
    host: Option<&str>,
    uri: &str,
    name: &str,
    groups: &[String],
) -> bool {
    most_specific(rules, |rule| &rule.scope, host, uri).is_none_or(|rule| rule.allows(name, groups))
}

/// Compares a rule's or allow-list's host with a request host, case-insensitively; a
/// pattern without a port matches any port.
pub fn host_matches(pattern: &str, host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let pattern = pattern.to_ascii_lowercase();
    if has_port(&pattern) {
        pattern == host
    } else {
        strip_port(&host) == pattern
    }
}

fn has_port(host: &str) -> bool {
    match host.rfind(':') {
        Some(index) => {
            !host.ends_with(']') && host[index + 1..].bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

fn strip_port(host: &str) -> &str {
    if has_port(host) {
        host.rfind(':').map_or(host, |index| &host[..index])
    } else {
        host
    }
}

/// A host value safe to put into a URL: letters, digits, `.-_:[]` only.
pub fn is_plausible_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_'))
}

/// Segment-wise prefix match: `/app` covers `/app` and `/app/x` but not `/apple`.
fn path_has_prefix(path: &str, prefix: &str) -> bool {
    if prefix.ends_with('/') {
        return path.starts_with(prefix) || format!("{path}/") == prefix;
    }
    path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The path of a request URI as an app will see it: query dropped, percent-decoded,
/// repeated slashes collapsed and `.`/`..` segments resolved, so `/public/../private`
/// and `/%70rivate` cannot slip past a rule for `/private`.
pub fn normalize_path(uri: &str) -> String {
    let path = uri.split(['?', '#']).next().unwrap_or("");
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8_lossy()
        .replace('\\', "/");
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let mut out = format!("/{}", segments.join("/"));
    if decoded.ends_with('/') && out != "/" {
        out.push('/');
    }
    out
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

    #[test]
    fn most_specific_rule_decides() {
        let rules = vec![
            rule(json!({"host": "app.example", "allowed_groups": ["staff"]})),
            rule(
                json!({"host": "app.example", "path_prefix": "/public", "allowed_users": ["guest"]}),
            ),
        ];
        let staff = vec!["staff".to_owned()];
        assert!(is_allowed(&rules, Some("app.example"), "/x", "ann", &staff));
        assert!(!is_allowed(
            &rules,
            Some("APP.example:443"),
            "/x",
            "bob",
            &[]
        ));
        assert!(!is_allowed(
            &rules,
            Some("app.example"),
            "/public/x",
            "ann",
            &staff
        ));
        assert!(is_allowed(
            &rules,
            Some("app.example"),
            "/public",
            "guest",
            &[]
        ));
        assert!(is_allowed(&rules, Some("other.example"), "/x", "bob", &[]));
    }

    #[test]
    fn path_tricks_do_not_escape_a_rule() {
        let rules = vec![rule(
            json!({"path_prefix": "/private", "allowed_users": ["ann"]}),
        )];
        for uri in [
            "/private",
            "/private/x?y",
            "/public/../private/x",
            "/%70rivate",
            "//private",
            "/./private",
        ] {
            assert!(!is_allowed(&rules, None, uri, "bob", &[]), "{uri}");
        }
        assert!(is_allowed(&rules, None, "/privateer", "bob", &[]));
    }

    #[test]
    fn paths_are_decoded_and_resolved() {
        assert_eq!(normalize_path("/%70rivate/./x//y?q=%2F"), "/private/x/y");
        assert_eq!(normalize_path("/a/%2e%2E/b/"), "/b/");
        assert_eq!(normalize_path("/a%5cb"), "/a/b");
        // Escapes that are not two hex digits stay as they are.
        assert_eq!(normalize_path("/%zz/%4"), "/%zz/%4");
        assert_eq!(normalize_path("/%C3%A9t%C3"), "/\u{e9}t\u{fffd}");
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
                json!({"path_prefix": "x", "allowed_users": ["x"]}),
                "path_prefix",
            ),
            (json!({"host": "a"}), "allowed_users or allowed_groups"),
            (json!({"host": "a", "allowed_users": "x"}), "allowed_users"),
        ] {
            let err = ForwardAuthRule::from_json(0, &value).unwrap_err();
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn host_patterns() {
        assert!(host_matches("app.example", "App.Example:8080"));
        assert!(host_matches("app.example:8080", "app.example:8080"));
        assert!(!host_matches("app.example:8080", "app.example:9090"));
        assert!(!host_matches("app.example", "evil.app.example"));
    }
}
