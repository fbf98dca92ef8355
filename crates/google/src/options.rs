//! The options of `GoogleOAuthenticator` and `LocalGoogleOAuthenticator`.

use std::collections::{BTreeMap, BTreeSet};

use hubauth_config::{
    ClassDef, ClassView, ConfigError, DefaultValue::Computed, DefaultValue::Literal, Deprecated,
};
use serde_json::Value;

/// Google's API host, the default of `google_api_url`.
pub const DEFAULT_GOOGLE_API_URL: &str = "https://www.googleapis.com";
/// Google's authorization endpoint, the default of `authorize_url`.
pub const DEFAULT_AUTHORIZE_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";
/// The issuers Google's ID tokens name: Google's OpenID Connect documentation
/// (<https://developers.google.com/identity/openid-connect/openid-connect#an-id-tokens-payload>)
/// gives `iss` as one of these two spellings.
pub const GOOGLE_ISSUERS: [&str; 2] = ["https://accounts.google.com", "accounts.google.com"];
/// The scope the service account asks for: reading groups in the Admin SDK Directory API
/// (the scope `groups.list` documents; the one upstream's documentation delegates).
pub const DIRECTORY_GROUP_SCOPE: &str =
    "https://www.googleapis.com/auth/admin.directory.group.readonly";

const GROUP_WHITELIST: &[Deprecated] = &[Deprecated {
    name: "google_group_whitelist",
    since: "GoogleOAuthenticator 0.12.0",
    same_type: true,
}];

hubauth_config::options! {
    /// The `[GoogleOAuthenticator]` table.
    pub static GOOGLE_OAUTHENTICATOR = class "GoogleOAuthenticator" {
        bases: ["OAuthenticator"],
        help: "Login with Google (Google accounts and Google Workspace). The user is the verified ID token and Google's user info; hosted_domain restricts logins to Workspace domains, and allowed_google_groups / admin_google_groups read the user's Google Groups through the Admin SDK with a service account.",
    };
    /// `[GoogleOAuthenticator]` as the file, the environment and the defaults give it, before
    /// validation.
    pub struct GoogleOAuthenticatorOptions {
        login_service: String = (
            Str,
            Literal("\"Google\""),
            "The name shown on the login button as \"Sign in with ...\".",
        )
            .env(&["LOGIN_SERVICE"]),
        scope: Vec<String> = (
            List,
            Literal("[\"openid\", \"email\"]"),
            "The scopes to request from Google. \"openid\" is always requested (added when missing): hubauth verifies the ID token and binds it to the login with its nonce. \"email\" is required: the email address, whether Google verified it, and the Workspace domain (hd) come with it. Add \"profile\" for the name and picture. Google reports email and profile under their long names (https://www.googleapis.com/auth/userinfo.email, .../userinfo.profile) in the granted scopes, which is what allowed_scopes compares with.",
        ),
        username_claim: serde_json::Value = (
            ClaimOrScript,
            Literal("\"email\""),
            "The user info claim that holds the username: a claim name, a dotted path, or a script { script = \"...\" } that sees `user_info`. With exactly one hosted_domain (strip_domain), \"@<that domain>\" is removed from it.",
        ),
        authorize_url: String = (
            Str,
            Literal("\"https://accounts.google.com/o/oauth2/v2/auth\""),
            "Google's authorization endpoint, where users are sent to sign in.",
        ),
        google_api_url: String = (
            Str,
            Literal("\"https://www.googleapis.com\""),
            "Google's API host: token_url, userdata_url, the signing keys (jwks_url) and the Admin SDK Directory API are found under it unless set.",
        )
            .env(&["GOOGLE_API_URL"]),
        token_url: Option<String> = (
            Str,
            Computed("{google_api_url}/oauth2/v4/token"),
            "Google's token endpoint.",
        ),
        userdata_url: Option<String> = (
            Str,
            Computed("{google_api_url}/oauth2/v1/userinfo (none with userdata_from_id_token)"),
            "Google's user info endpoint. The v1 endpoint answers with `id`, `email`, `verified_email` and `hd` (and the profile with the profile scope); Google's OpenID Connect endpoint (https://openidconnect.googleapis.com/v1/userinfo) answers with `sub` and `email_verified`: both are understood.",
        ),
        jwks_url: Option<String> = (
            Str,
            Computed("{google_api_url}/oauth2/v3/certs"),
            "Google's signing keys (JWKS), to verify ID tokens. A hubauth addition: upstream does not verify Google's ID token.",
        ),
        hosted_domain: Vec<String> = (
            StrOrList,
            Literal("[]"),
            "Restrict sign-in to users of these Google Workspace (hosted) domains, such as [\"mycollege.edu\"], by the `hd` claim Google sets for Workspace accounts: anyone else is refused, whatever the allow rules say (it is a block rule). Users in these domains must still be allowed by an allow rule (allow_all, allowed_users, allowed_hosted_domains, allowed_google_groups, ...).\n\nWith exactly one domain, usernames in that domain lose their \"@domain\" (see strip_domain). Going from one entry to several (or back) therefore renames every user. A single string is read as a one-entry list; entries are lowercased; the environment variable takes domains separated by \";\".",
        )
            .env(&["HOSTED_DOMAIN"]),
        allowed_hosted_domains: Vec<String> = (
            List,
            Literal("[]"),
            "Allow users whose Google `hd` claim is one of these domains. Unlike hosted_domain it restricts nobody: it is one more allow rule beside allowed_users, admin_users and allowed_google_groups. Entries are lowercased. (Upstream 17.5.)",
        ),
        strip_domain: Option<bool> = (
            Bool,
            Computed("true when hosted_domain has at most one entry"),
            "Remove \"@domain\" from usernames whose email domain is in hosted_domain. With several hosted domains two people can get the same username (ada@one.org and ada@two.org both become ada), so hubauth warns when it is turned on with several.",
        ),
        google_service_account_keys: std::collections::BTreeMap<String, String> = (
            Map,
            Literal("{}"),
            "Service account key files (JSON, as Google Cloud's console downloads them) to read groups with, per Workspace domain: { \"example.com\" = \"/etc/hubauth/google-sa.json\" }. The service account needs domain-wide delegation of https://www.googleapis.com/auth/admin.directory.group.readonly. Required for every domain in allowed_google_groups or admin_google_groups.",
        ),
        gsuite_administrator: std::collections::BTreeMap<String, String> = (
            Map,
            Literal("{}"),
            "The Google Workspace administrator the service account acts as, per domain: { \"example.com\" = \"groups-reader\" } (the name before @; \"@<domain>\" is added). A full address (\"groups-reader@example.com\") is used as written. The administrator needs a role that may read groups. Required for every domain in allowed_google_groups or admin_google_groups.",
        ),
        allowed_google_groups: serde_json::Map<String, serde_json::Value> = (
            Dict,
            Literal("{}"),
            "Allow members of these Google Groups, per user email domain: { \"example.com\" = [\"jupyterhub-users\"] }. A name is a group address in that domain (jupyterhub-users@example.com); write a full address for a group in another domain. Needs google_service_account_keys and gsuite_administrator for the domain.",
        )
            .deprecated(GROUP_WHITELIST),
        admin_google_groups: serde_json::Map<String, serde_json::Value> = (
            Dict,
            Literal("{}"),
            "Members of these Google Groups are admins (and may log in), per user email domain: { \"example.com\" = [\"jupyterhub-admins\"] }. When set, users of that configuration who are not members and not in admin_users lose admin at login. Needs google_service_account_keys and gsuite_administrator for the domain.",
        ),
        include_nested_groups: bool = (
            Bool,
            Literal("false"),
            "Count membership through groups in groups: a member of a group that is itself a member of an allowed or admin group counts as a member.",
        ),
    }
}

/// `LocalGoogleOAuthenticator`: GoogleOAuthenticator whose users are local UNIX users.
pub static LOCAL_GOOGLE_OAUTHENTICATOR: ClassDef =
    hubauth_local::local_class_def!("LocalGoogleOAuthenticator", "GoogleOAuthenticator");

/// How groups of one Workspace domain are read: which key and which administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainAccess {
    /// The service account key file.
    pub key_file: String,
    /// The administrator's email address the service account acts as.
    pub administrator: String,
}

/// The validated Google-specific options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleConfig {
    /// The class name as configured (`GoogleOAuthenticator` or the Local variant).
    pub class_name: String,
    /// See `google_api_url` (without a trailing `/`).
    pub google_api_url: String,
    /// See `hosted_domain` (lowercased).
    pub hosted_domain: Vec<String>,
    /// See `allowed_hosted_domains` (lowercased).
    pub allowed_hosted_domains: Vec<String>,
    /// See `strip_domain` (computed when unset).
    pub strip_domain: bool,
    /// Whether `strip_domain` was set explicitly.
    pub strip_domain_set: bool,
    /// See `allowed_google_groups`: domain to group addresses (lowercased, full).
    pub allowed_google_groups: BTreeMap<String, BTreeSet<String>>,
    /// See `admin_google_groups`: domain to group addresses (lowercased, full).
    pub admin_google_groups: BTreeMap<String, BTreeSet<String>>,
    /// See `include_nested_groups`.
    pub include_nested_groups: bool,
    /// `google_service_account_keys` and `gsuite_administrator`, by domain (lowercased).
    pub domains: BTreeMap<String, DomainAccess>,
}

impl GoogleConfig {
    /// Reads and validates the Google options.
    pub fn from_view(view: &ClassView<'_>) -> Result<Self, ConfigError> {
        let options = GoogleOAuthenticatorOptions::load(view)?;
        let google_api_url = if options.google_api_url.trim().is_empty() {
            // Upstream: an empty GOOGLE_API_URL means the default.
            DEFAULT_GOOGLE_API_URL.to_owned()
        } else {
            options
                .google_api_url
                .trim()
                .trim_end_matches('/')
                .to_owned()
        };
        check_url(&google_api_url).map_err(|err| view.invalid("google_api_url", err))?;
        let hosted_domain = hosted_domains(view, options.hosted_domain)?;
        let allowed_hosted_domains = domain_list(
            view,
            "allowed_hosted_domains",
            options.allowed_hosted_domains,
        )?;
        let strip_domain_set = options.strip_domain.is_some();
        let strip_domain = options.strip_domain.unwrap_or(hosted_domain.len() <= 1);
        let allowed_google_groups = group_map(
            view,
            "allowed_google_groups",
            &options.allowed_google_groups,
        )?;
        let admin_google_groups =
            group_map(view, "admin_google_groups", &options.admin_google_groups)?;
        let keys = domain_keyed(
            view,
            "google_service_account_keys",
            options.google_service_account_keys,
        )?;
        let admins = domain_keyed(view, "gsuite_administrator", options.gsuite_administrator)?;
        let mut domains = BTreeMap::new();
        for (domain, key_file) in &keys {
            let Some(admin) = admins.get(domain) else {
                return Err(view.invalid(
                    "gsuite_administrator",
                    format!("has no administrator for {domain:?}, which google_service_account_keys has a key for; the service account must act as a Workspace administrator of {domain}"),
                ));
            };
            let administrator = administrator_address(admin, domain)
                .map_err(|err| view.invalid("gsuite_administrator", err))?;
            domains.insert(
                domain.clone(),
                DomainAccess {
                    key_file: key_file.clone(),
                    administrator,
                },
            );
        }
        if let Some(domain) = admins.keys().find(|domain| !keys.contains_key(*domain)) {
            return Err(view.invalid(
                "google_service_account_keys",
                format!("has no key for {domain:?}, which gsuite_administrator names an administrator for"),
            ));
        }
        for (option, map) in [
            ("allowed_google_groups", &allowed_google_groups),
            ("admin_google_groups", &admin_google_groups),
        ] {
            if let Some(domain) = map.keys().find(|domain| !domains.contains_key(*domain)) {
                return Err(view.invalid(
                    option,
                    format!("names groups of {domain:?}, but google_service_account_keys and gsuite_administrator say nothing about {domain:?}: the groups could never be read, so both are required for every domain of {option}"),
                ));
            }
        }
        Ok(GoogleConfig {
            class_name: view.class_name().to_owned(),
            google_api_url,
            hosted_domain,
            allowed_hosted_domains,
            strip_domain,
            strip_domain_set,
            allowed_google_groups,
            admin_google_groups,
            include_nested_groups: options.include_nested_groups,
            domains,
        })
    }

    /// The default `token_url`.
    pub fn default_token_url(&self) -> String {
        format!("{}/oauth2/v4/token", self.google_api_url)
    }

    /// The default `userdata_url`.
    pub fn default_userdata_url(&self) -> String {
        format!("{}/oauth2/v1/userinfo", self.google_api_url)
    }

    /// The default `jwks_url`.
    pub fn default_jwks_url(&self) -> String {
        format!("{}/oauth2/v3/certs", self.google_api_url)
    }

    /// The Admin SDK Directory API's group listing (`groups.list`).
    pub fn directory_groups_url(&self) -> String {
        format!("{}/admin/directory/v1/groups", self.google_api_url)
    }

    /// Whether any Google group rule is configured.
    pub fn has_group_rules(&self) -> bool {
        !self.allowed_google_groups.is_empty() || !self.admin_google_groups.is_empty()
    }
}

fn check_url(value: &str) -> Result<(), String> {
    let parsed = url::Url::parse(value).map_err(|err| format!("not a URL ({err})"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err("must be an http or https URL".to_owned());
    }
    Ok(())
}

/// A domain as written in the configuration: trimmed and lowercased, and refused when it
/// is empty or could not be a domain (an address, a URL).
fn domain(value: &str) -> Result<String, String> {
    let domain = value.trim().to_ascii_lowercase();
    if domain.is_empty() {
        return Err("holds an empty domain".to_owned());
    }
    if domain.contains(['@', '/', ':', ' ', '?', '#']) {
        return Err(format!("{value:?} is not a domain name"));
    }
    Ok(domain)
}

fn domain_list(
    view: &ClassView<'_>,
    option: &str,
    values: Vec<String>,
) -> Result<Vec<String>, ConfigError> {
    let mut out: Vec<String> = Vec::new();
    for value in values {
        let domain = domain(&value).map_err(|err| view.invalid(option, err))?;
        if !out.contains(&domain) {
            out.push(domain);
        }
    }
    Ok(out)
}

/// `hosted_domain`: upstream's legacy form, a string, is one domain, and the empty string
/// none. Any other empty entry is refused: upstream compares it with the `hd` of accounts
/// outside every Workspace (none, read as ""), which would let exactly those in.
fn hosted_domains(view: &ClassView<'_>, values: Vec<String>) -> Result<Vec<String>, ConfigError> {
    let legacy_empty = view
        .registry()
        .mro(view.class_name())
        .iter()
        .find_map(|class| view.config().raw(class.name, "hosted_domain"))
        .is_some_and(|raw| raw.as_str() == Some(""));
    if legacy_empty {
        return Ok(Vec::new());
    }
    domain_list(view, "hosted_domain", values)
}

/// A `{ domain = "text" }` table with its domains normalized; empty values are refused.
fn domain_keyed(
    view: &ClassView<'_>,
    option: &str,
    map: BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut out = BTreeMap::new();
    for (key, value) in map {
        let domain = domain(&key).map_err(|err| view.invalid(option, err))?;
        if value.trim().is_empty() {
            return Err(view.invalid(option, format!("the entry for {domain:?} is empty")));
        }
        if out
            .insert(domain.clone(), value.trim().to_owned())
            .is_some()
        {
            return Err(view.invalid(option, format!("names {domain:?} twice")));
        }
    }
    Ok(out)
}

/// The administrator's address: a name gets `@domain` (upstream's form); a full address is
/// used as written (the form upstream's documentation shows).
fn administrator_address(value: &str, domain: &str) -> Result<String, String> {
    match value.split_once('@') {
        None => Ok(format!("{value}@{domain}")),
        Some((local, host)) if !local.is_empty() && !host.is_empty() && !host.contains('@') => {
            Ok(value.to_owned())
        }
        Some(_) => Err(format!("{value:?} is neither a name nor an email address")),
    }
}

/// `{ domain = ["group", ...] }`: each entry becomes a full, lowercased group address (a
/// bare name is a group of that domain). Anything that is not a list of non-empty strings
/// is refused: these decide who gets in and who is admin.
fn group_map(
    view: &ClassView<'_>,
    option: &str,
    map: &serde_json::Map<String, Value>,
) -> Result<BTreeMap<String, BTreeSet<String>>, ConfigError> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (key, value) in map {
        let domain = domain(key).map_err(|err| view.invalid(option, err))?;
        let Value::Array(items) = value else {
            return Err(view.invalid(
                option,
                format!("the groups of {domain:?} must be a list of group names"),
            ));
        };
        let groups = out.entry(domain.clone()).or_default();
        for item in items {
            let name = item
                .as_str()
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .ok_or_else(|| {
                    view.invalid(
                        option,
                        format!("the groups of {domain:?} must be non-empty strings, found {item}"),
                    )
                })?;
            groups.insert(group_address(name, &domain).map_err(|err| view.invalid(option, err))?);
        }
    }
    Ok(out)
}

/// A configured group as the full address it names.
fn group_address(name: &str, domain: &str) -> Result<String, String> {
    let lower = name.to_ascii_lowercase();
    match lower.split_once('@') {
        None => Ok(format!("{lower}@{domain}")),
        Some((local, host)) if !local.is_empty() && !host.is_empty() && !host.contains('@') => {
            Ok(lower)
        }
        Some(_) => Err(format!(
            "{name:?} is neither a group name nor a group address"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn administrator_and_group_addresses() {
        assert_eq!(
            administrator_address("reader", "example.com").unwrap(),
            "reader@example.com"
        );
        assert_eq!(
            administrator_address("reader@corp.example.com", "example.com").unwrap(),
            "reader@corp.example.com"
        );
        assert!(administrator_address("@example.com", "example.com").is_err());
        assert!(administrator_address("a@b@c", "example.com").is_err());
        assert_eq!(
            group_address("Staff", "example.com").unwrap(),
            "staff@example.com"
        );
        assert_eq!(
            group_address("Staff@Groups.Example.com", "example.com").unwrap(),
            "staff@groups.example.com"
        );
        assert!(group_address("staff@", "example.com").is_err());
    }

    #[test]
    fn domains_are_normalized_and_refused_when_not_domains() {
        assert_eq!(domain(" Example.COM ").unwrap(), "example.com");
        for bad in ["", "  ", "a@b.org", "https://x.org", "x.org/path"] {
            assert!(domain(bad).is_err(), "{bad:?}");
        }
    }
}
