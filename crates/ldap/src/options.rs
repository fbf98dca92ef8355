//! The options of `LDAPAuthenticator`, with ldapauthenticator 2.x's names, defaults and
//! meanings, and their validated form.

use std::path::PathBuf;
use std::time::Duration;

use hubauth_config::{ClassView, ConfigError, DefaultValue::Computed, DefaultValue::Literal};
use regex::Regex;
use serde_json::Value;

use crate::template::Template;

/// The default `group_search_filter`: `groupOfNames`, `groupOfUniqueNames` and
/// `posixGroup` membership.
pub const DEFAULT_GROUP_SEARCH_FILTER: &str =
    "(|(member={userdn})(uniqueMember={userdn})(memberUid={uid}))";

/// The group filter of `nested_groups`: Active Directory's LDAP_MATCHING_RULE_IN_CHAIN.
pub(crate) const NESTED_GROUP_SEARCH_FILTER: &str = "(member:1.2.840.113556.1.4.1941:={userdn})";

hubauth_config::options! {
    /// The `[LDAPAuthenticator]` table.
    pub static LDAP_AUTHENTICATOR = class "LDAPAuthenticator" {
        bases: ["Authenticator"],
        help: "Login with a username and password checked by an LDAP directory (OpenLDAP, Active Directory, FreeIPA, ...), as jupyterhub-ldapauthenticator 2.x does: a bind as the user, found from bind_dn_template or looked up with lookup_dn, then optional search_filter and allowed_groups checks.",
    };
    /// `[LDAPAuthenticator]` as the file, the environment and the defaults give it, before
    /// validation.
    pub struct LdapAuthenticatorOptions {
        server_address: String = (
            Str,
            Literal("\"\""),
            "Address of the LDAP server: a host name or an IP address. Required.",
        ),
        server_port: Option<i64> = (
            Int,
            Computed("636 when tls_strategy is \"on_connect\", else 389"),
            "Port of the LDAP server.",
        ),
        tls_strategy: String = (
            Str,
            Literal("\"before_bind\""),
            "How the connection is encrypted: \"before_bind\" (StartTLS before any credentials are sent), \"on_connect\" (LDAPS: TLS from the first byte, usually port 636) or \"insecure\" (no TLS: passwords cross the network in clear text; for tests only).",
        ),
        use_ssl: Option<bool> = (
            Bool,
            Computed("unset"),
            "Deprecated since ldapauthenticator 2.0: true means tls_strategy = \"on_connect\"; false has no effect. Both log a warning.",
        ),
        tls_kwargs: serde_json::Map<String, serde_json::Value> = (
            Dict,
            Literal("{}"),
            "Settings of the encrypted connection, named as the keyword arguments of Python ldap3's Tls object: ca_certs_file (PEM file of the CA certificates to trust instead of the system's), ca_certs_data (the same as PEM text), local_certificate_file and local_private_key_file (a client certificate and its key, PEM), validate (\"CERT_REQUIRED\", the default, or \"CERT_NONE\", which accepts any server certificate and logs a warning). Other keys are refused.",
        ),
        bind_dn_template: Vec<String> = (
            StrOrList,
            Literal("[]"),
            "Templates of the user's DN; {username} is replaced by the login name, escaped as a DN value (RFC 4514). Several templates are tried in order until one binds. Example: \"uid={username},ou=people,dc=example,dc=org\". Either this or lookup_dn is required; with lookup_dn and no template, the looked-up DN is used.",
        ),
        allowed_groups: Vec<String> = (
            List,
            Literal("[]"),
            "DNs of LDAP groups whose members may log in. Membership is read with group_search_filter at each group's entry. Empty: no group check (other allow rules decide). With search_filter, both must pass.",
        ),
        group_search_filter: String = (
            Str,
            Literal("\"(|(member={userdn})(uniqueMember={userdn})(memberUid={uid}))\""),
            "The filter that matches a group entry the user is a member of; {userdn} is the user's DN and {uid} the resolved username, both escaped as filter values (RFC 4515). For nested Active Directory groups use (member:1.2.840.113556.1.4.1941:={userdn}).",
        ),
        nested_groups: bool = (
            Bool,
            Literal("false"),
            "Active Directory: count membership through nested groups, with AD's LDAP_MATCHING_RULE_IN_CHAIN: the group filter becomes (member:1.2.840.113556.1.4.1941:={userdn}). Cannot be combined with a group_search_filter of your own. A hubauth addition.",
        ),
        group_attributes: Vec<String> = (
            List,
            Literal("[\"member\", \"uniqueMember\", \"memberUid\"]"),
            "Attributes requested with the group search.",
        ),
        valid_username_regex: String = (
            Str,
            Literal("\"^[a-z][.a-z0-9_-]*$\""),
            "Login names that do not match this regular expression (matched from the start, as Python's re.match) are refused before the directory is asked. Every value is escaped anyway; this is a second line of defence.",
        ),
        lookup_dn: bool = (
            Bool,
            Literal("false"),
            "Find the user's DN by searching the directory (user_search_base, user_attribute, lookup_dn_search_filter) instead of from bind_dn_template. Needed when the DN does not contain the login name, as in most Active Directory trees.",
        ),
        user_search_base: String = (
            Str,
            Literal("\"\""),
            "Where users are searched for, with lookup_dn or search_filter: \"ou=people,dc=example,dc=org\".",
        ),
        user_attribute: String = (
            Str,
            Literal("\"\""),
            "The attribute that holds the login name, with lookup_dn or search_filter: \"uid\" (OpenLDAP), \"sAMAccountName\" (Active Directory).",
        ),
        lookup_dn_search_filter: String = (
            Str,
            Literal("\"({login_attr}={login})\""),
            "The filter that finds the user with lookup_dn; {login_attr} is user_attribute and {login} the login name, escaped as a filter value.",
        ),
        lookup_dn_search_user: String = (
            Str,
            Literal("\"\""),
            "The service account (a DN, or an Active Directory user principal name) that searches with lookup_dn. Empty together with lookup_dn_search_password: anonymous searches.",
        ),
        lookup_dn_search_password: String = (
            Str,
            Literal("\"\""),
            "The service account's password.",
        )
            .secret(),
        lookup_dn_user_dn_attribute: String = (
            Str,
            Literal("\"\""),
            "With lookup_dn: the attribute of the found entry whose value replaces {username} in bind_dn_template, and becomes the hub username with use_lookup_dn_username: \"uid\", or \"sAMAccountName\" for Active Directory.",
        ),
        escape_userdn: bool = (
            Bool,
            Literal("false"),
            "Removed in ldapauthenticator 2.0: values are always escaped. Setting it has no effect and logs a warning.",
        ),
        search_filter: String = (
            Str,
            Literal("\"\""),
            "A filter the user must match, searched under user_search_base as the user after their bind; {userattr} is user_attribute and {username} the resolved username, escaped. Exactly one entry must match, or the login is refused. It restricts only: some allow rule must still admit the user.",
        ),
        attributes: Vec<String> = (
            List,
            Literal("[]"),
            "Attributes requested with search_filter.",
        ),
        auth_state_attributes: Vec<String> = (
            List,
            Literal("[]"),
            "Attributes of the user's entry kept in auth_state under user_attributes (needs enable_auth_state to be stored).",
        ),
        use_lookup_dn_username: bool = (
            Bool,
            Literal("false"),
            "With lookup_dn: the hub username is the value of lookup_dn_user_dn_attribute rather than the name typed at login. Make sure those values are unique once lower-cased.",
        ),
        connect_timeout: f64 = (
            Float,
            Literal("5.0"),
            "Seconds to wait for a connection to the directory (and its TLS handshake). A hubauth addition: a directory that does not answer gives the login page a clear error within this time.",
        ),
        operation_timeout: f64 = (
            Float,
            Literal("10.0"),
            "Seconds to wait for each bind or search. A hubauth addition.",
        ),
        failure_delay: f64 = (
            Float,
            Literal("1.0"),
            "Seconds a failed login takes at least, counted from the start of the attempt, so that an unknown user, a wrong password and a user outside the groups cannot be told apart by time. A hubauth addition; 0 turns it off.",
        ),
        lookup_pool_size: i64 = (
            Int,
            Literal("2"),
            "Connections bound as lookup_dn_search_user kept open for searches (lookup_dn and refresh). A hubauth addition.",
        ),
    }
}

/// How the connection to the directory is encrypted (upstream's `TlsStrategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsStrategy {
    /// StartTLS on a plain connection, before any bind.
    BeforeBind,
    /// TLS from the start (LDAPS).
    OnConnect,
    /// No encryption at all.
    Insecure,
}

impl TlsStrategy {
    fn parse(value: &str) -> Option<Self> {
        match value {
            "before_bind" => Some(TlsStrategy::BeforeBind),
            "on_connect" => Some(TlsStrategy::OnConnect),
            "insecure" => Some(TlsStrategy::Insecure),
            _ => None,
        }
    }
}

/// The validated `tls_kwargs`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// PEM file of CA certificates to trust instead of the system's.
    pub ca_certs_file: Option<PathBuf>,
    /// PEM text of CA certificates to trust instead of the system's.
    pub ca_certs_data: Option<String>,
    /// A client certificate (PEM) and its private key (PEM).
    pub client_certificate: Option<(PathBuf, PathBuf)>,
    /// False only with `validate = "CERT_NONE"`.
    pub verify: bool,
}

/// The validated `[LDAPAuthenticator]` options.
#[derive(Debug, Clone)]
pub struct LdapConfig {
    /// See `server_address`.
    pub server_address: String,
    /// See `server_port`.
    pub server_port: u16,
    /// See `tls_strategy` (and `use_ssl`).
    pub tls_strategy: TlsStrategy,
    /// See `tls_kwargs`.
    pub tls: TlsSettings,
    /// See `bind_dn_template` (blank entries dropped).
    pub bind_dn_templates: Vec<Template>,
    /// See `allowed_groups`.
    pub allowed_groups: Vec<String>,
    /// See `group_search_filter`.
    pub group_search_filter: Template,
    /// See `group_attributes`.
    pub group_attributes: Vec<String>,
    /// See `valid_username_regex` (anchored at the start, as `re.match`).
    pub valid_username: Regex,
    /// See `lookup_dn`.
    pub lookup_dn: bool,
    /// See `user_search_base`.
    pub user_search_base: String,
    /// See `user_attribute`.
    pub user_attribute: String,
    /// See `lookup_dn_search_filter`.
    pub lookup_dn_search_filter: Template,
    /// See `lookup_dn_search_user` and `lookup_dn_search_password`: `None` for anonymous.
    pub service_account: Option<(String, String)>,
    /// See `lookup_dn_user_dn_attribute`.
    pub lookup_dn_user_dn_attribute: String,
    /// See `search_filter`.
    pub search_filter: Option<Template>,
    /// See `attributes`.
    pub attributes: Vec<String>,
    /// See `auth_state_attributes`.
    pub auth_state_attributes: Vec<String>,
    /// See `use_lookup_dn_username`.
    pub use_lookup_dn_username: bool,
    /// See `connect_timeout`.
    pub connect_timeout: Duration,
    /// See `operation_timeout`.
    pub operation_timeout: Duration,
    /// See `failure_delay`.
    pub failure_delay: Duration,
    /// See `lookup_pool_size`.
    pub lookup_pool_size: usize,
    /// Warnings for the start-up log (deprecated options, insecure settings).
    pub warnings: Vec<String>,
}

impl LdapConfig {
    /// Reads and validates the options. Configurations that could never log anybody in
    /// (upstream fails at every login instead) are refused here, naming the option.
    pub fn from_view(view: &ClassView<'_>) -> Result<Self, ConfigError> {
        let options = LdapAuthenticatorOptions::load(view)?;
        let mut warnings = Vec::new();
        let server_address: String = options.server_address;
        if server_address.trim().is_empty() {
            return Err(view.invalid(
                "server_address",
                "must be set to the LDAP server's host name or address",
            ));
        }
        let strategy_text: String = options.tls_strategy;
        let mut tls_strategy = TlsStrategy::parse(&strategy_text).ok_or_else(|| {
            view.invalid(
                "tls_strategy",
                format!(
                    "{strategy_text:?} is not one of \"before_bind\", \"on_connect\", \"insecure\""
                ),
            )
        })?;
        match options.use_ssl {
            Some(true) => {
                tls_strategy = TlsStrategy::OnConnect;
                warnings.push("LDAPAuthenticator.use_ssl is deprecated in 2.0 in favor of LDAPAuthenticator.tls_strategy: instead of use_ssl = true, set tls_strategy = \"on_connect\".".to_owned());
            }
            Some(false) => warnings.push("LDAPAuthenticator.use_ssl is deprecated in 2.0 in favor of LDAPAuthenticator.tls_strategy; use_ssl = false has no effect and can be removed.".to_owned()),
            None => {}
        }
        if view.is_set("escape_userdn") {
            warnings.push("LDAPAuthenticator.escape_userdn was removed in 2.0 and no longer has any effect: values are always escaped.".to_owned());
        }
        if tls_strategy == TlsStrategy::Insecure {
            warnings.push("LDAPAuthenticator.tls_strategy is \"insecure\": passwords are sent to the directory unencrypted.".to_owned());
        }
        let server_port = match options.server_port {
            Some(port) => u16::try_from(port)
                .ok()
                .filter(|port| *port != 0)
                .ok_or_else(|| view.invalid("server_port", "must be a port number, 1 to 65535"))?,
            None if tls_strategy == TlsStrategy::OnConnect => 636,
            None => 389,
        };
        let tls = tls_settings(view, &mut warnings)?;

        let raw_templates: Vec<String> = options.bind_dn_template;
        if raw_templates.iter().any(|t| t.trim().is_empty()) {
            warnings.push("Ignoring blank 'bind_dn_template' entry!".to_owned());
        }
        let bind_dn_templates = raw_templates
            .iter()
            .filter(|t| !t.trim().is_empty())
            .map(|t| template(view, "bind_dn_template", t, &["username"]))
            .collect::<Result<Vec<_>, _>>()?;
        let lookup_dn: bool = options.lookup_dn;
        if !lookup_dn && bind_dn_templates.is_empty() {
            return Err(view.invalid(
                "bind_dn_template",
                "LDAPAuthenticator requires either lookup_dn or bind_dn_template to be configured",
            ));
        }

        let allowed_groups: Vec<String> = options.allowed_groups;
        let mut group_filter_text: String = options.group_search_filter;
        if options.nested_groups {
            if view.is_set("group_search_filter") {
                return Err(view.invalid(
                    "nested_groups",
                    "cannot be combined with group_search_filter: write the filter with the in-chain rule yourself, or leave group_search_filter unset",
                ));
            }
            group_filter_text = NESTED_GROUP_SEARCH_FILTER.to_owned();
        }
        let group_attributes: Vec<String> = options.group_attributes;
        if !allowed_groups.is_empty()
            && (group_filter_text.is_empty() || group_attributes.is_empty())
        {
            return Err(view.invalid(
                "allowed_groups",
                "LDAPAuthenticator.allowed_groups requires both group_search_filter and group_attributes to be configured",
            ));
        }
        let group_search_filter = template(
            view,
            "group_search_filter",
            &group_filter_text,
            &["userdn", "uid"],
        )?;

        let regex_text: String = options.valid_username_regex;
        let valid_username = Regex::new(&format!("^(?:{regex_text})")).map_err(|err| {
            view.invalid(
                "valid_username_regex",
                format!("is not a valid regular expression: {err}"),
            )
        })?;

        let user_search_base: String = options.user_search_base;
        let user_attribute: String = options.user_attribute;
        let lookup_dn_user_dn_attribute: String = options.lookup_dn_user_dn_attribute;
        let lookup_text: String = options.lookup_dn_search_filter;
        let lookup_dn_search_filter = template(
            view,
            "lookup_dn_search_filter",
            &lookup_text,
            &["login_attr", "login"],
        )?;
        if lookup_dn {
            for (option, value) in [
                ("user_search_base", &user_search_base),
                ("user_attribute", &user_attribute),
                ("lookup_dn_user_dn_attribute", &lookup_dn_user_dn_attribute),
            ] {
                if value.trim().is_empty() {
                    return Err(view.invalid(option, "must be set when lookup_dn is true"));
                }
            }
        }
        let search_user: String = options.lookup_dn_search_user;
        let search_password: String = options.lookup_dn_search_password;
        let service_account = match (search_user.is_empty(), search_password.is_empty()) {
            (true, true) => None,
            (false, false) => Some((search_user, search_password)),
            // A service account without a password would be an unauthenticated bind,
            // which a directory accepts as anonymous whatever the name.
            (false, true) => {
                return Err(view.invalid(
                    "lookup_dn_search_password",
                    "must be set when lookup_dn_search_user is (an empty password is an unauthenticated bind)",
                ));
            }
            (true, false) => {
                return Err(view.invalid(
                    "lookup_dn_search_user",
                    "must be set when lookup_dn_search_password is",
                ));
            }
        };
        let search_text: String = options.search_filter;
        let search_filter = if search_text.is_empty() {
            None
        } else {
            if user_search_base.trim().is_empty() {
                return Err(view.invalid("user_search_base", "must be set when search_filter is"));
            }
            Some(template(
                view,
                "search_filter",
                &search_text,
                &["userattr", "username"],
            )?)
        };

        let seconds = |option: &str, min: f64| -> Result<Duration, ConfigError> {
            let value: f64 = view.get(option)?;
            if !value.is_finite() || value < min || value > 3600.0 {
                return Err(view.invalid(option, format!("must be between {min} and 3600 seconds")));
            }
            Ok(Duration::from_secs_f64(value))
        };
        let lookup_pool_size: i64 = options.lookup_pool_size;
        let lookup_pool_size = usize::try_from(lookup_pool_size)
            .ok()
            .filter(|size| (1..=64).contains(size))
            .ok_or_else(|| view.invalid("lookup_pool_size", "must be between 1 and 64"))?;
        Ok(LdapConfig {
            server_address,
            server_port,
            tls_strategy,
            tls,
            bind_dn_templates,
            allowed_groups,
            group_search_filter,
            group_attributes,
            valid_username,
            lookup_dn,
            user_search_base,
            user_attribute,
            lookup_dn_search_filter,
            service_account,
            lookup_dn_user_dn_attribute,
            search_filter,
            attributes: options.attributes,
            auth_state_attributes: options.auth_state_attributes,
            use_lookup_dn_username: options.use_lookup_dn_username,
            connect_timeout: seconds("connect_timeout", 0.001)?,
            operation_timeout: seconds("operation_timeout", 0.001)?,
            failure_delay: seconds("failure_delay", 0.0)?,
            lookup_pool_size,
            warnings,
        })
    }

    /// The server's URL as ldap3 takes it.
    pub fn url(&self) -> String {
        let scheme = match self.tls_strategy {
            TlsStrategy::OnConnect => "ldaps",
            TlsStrategy::BeforeBind | TlsStrategy::Insecure => "ldap",
        };
        let host = if self.server_address.contains(':') && !self.server_address.starts_with('[') {
            format!("[{}]", self.server_address)
        } else {
            self.server_address.clone()
        };
        format!("{scheme}://{host}:{}", self.server_port)
    }
}

fn template(
    view: &ClassView<'_>,
    option: &str,
    text: &str,
    fields: &[&str],
) -> Result<Template, ConfigError> {
    Template::parse(text, fields).map_err(|err| view.invalid(option, err))
}

fn tls_settings(
    view: &ClassView<'_>,
    warnings: &mut Vec<String>,
) -> Result<TlsSettings, ConfigError> {
    let options = LdapAuthenticatorOptions::load(view)?;
    let kwargs: serde_json::Map<String, Value> = options.tls_kwargs;
    let mut settings = TlsSettings {
        verify: true,
        ..TlsSettings::default()
    };
    let text = |key: &str, value: &Value| -> Result<String, ConfigError> {
        value
            .as_str()
            .filter(|text| !text.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| view.invalid("tls_kwargs", format!("{key} must be a non-empty string")))
    };
    let mut certificate = None;
    let mut key = None;
    for (name, value) in &kwargs {
        match name.as_str() {
            "ca_certs_file" => settings.ca_certs_file = Some(PathBuf::from(text(name, value)?)),
            "ca_certs_data" => settings.ca_certs_data = Some(text(name, value)?),
            "local_certificate_file" => certificate = Some(PathBuf::from(text(name, value)?)),
            "local_private_key_file" => key = Some(PathBuf::from(text(name, value)?)),
            "validate" => {
                settings.verify = match value {
                    Value::String(s) if s == "CERT_REQUIRED" => true,
                    Value::String(s) if s == "CERT_NONE" => false,
                    Value::Number(n) if n.as_i64() == Some(2) => true,
                    Value::Number(n) if n.as_i64() == Some(0) => false,
                    _ => {
                        return Err(view.invalid(
                            "tls_kwargs",
                            "validate must be \"CERT_REQUIRED\" or \"CERT_NONE\"",
                        ));
                    }
                }
            }
            other => {
                return Err(view.invalid(
                    "tls_kwargs",
                    format!("{other:?} is not supported; use ca_certs_file, ca_certs_data, local_certificate_file, local_private_key_file or validate"),
                ));
            }
        }
    }
    settings.client_certificate = match (certificate, key) {
        (Some(certificate), Some(key)) => Some((certificate, key)),
        (None, None) => None,
        _ => {
            return Err(view.invalid(
                "tls_kwargs",
                "local_certificate_file and local_private_key_file go together",
            ));
        }
    };
    if !settings.verify {
        if settings.client_certificate.is_some()
            || settings.ca_certs_file.is_some()
            || settings.ca_certs_data.is_some()
        {
            return Err(view.invalid(
                "tls_kwargs",
                "validate = \"CERT_NONE\" cannot be combined with CA or client certificates",
            ));
        }
        warnings.push("LDAPAuthenticator.tls_kwargs has validate = \"CERT_NONE\": any server certificate is accepted, so anyone on the network path can read passwords.".to_owned());
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use hubauth_config::{Config, MapEnv, Registry};

    use super::*;

    fn load(body: &str) -> Result<LdapConfig, ConfigError> {
        let registry = Registry::new(
            hubauth_core::options::classes()
                .into_iter()
                .chain([&LDAP_AUTHENTICATOR]),
        )
        .expect("registry");
        let text = format!("[LDAPAuthenticator]\nserver_address = \"ldap.example.org\"\n{body}");
        let config = Config::parse(&text, "t.toml", &registry)?;
        let env = MapEnv::new();
        LdapConfig::from_view(&config.view(&registry, "LDAPAuthenticator", &env))
    }

    #[test]
    fn defaults_follow_upstream() {
        let config = load("bind_dn_template = \"uid={username},dc=x\"").unwrap();
        assert_eq!(config.server_port, 389);
        assert_eq!(config.tls_strategy, TlsStrategy::BeforeBind);
        assert_eq!(
            config.group_search_filter.to_string(),
            DEFAULT_GROUP_SEARCH_FILTER
        );
        assert_eq!(config.url(), "ldap://ldap.example.org:389");
        let ldaps = load("bind_dn_template = \"uid={username},dc=x\"\nuse_ssl = true").unwrap();
        assert_eq!(
            (ldaps.tls_strategy, ldaps.server_port),
            (TlsStrategy::OnConnect, 636)
        );
        assert!(
            ldaps
                .warnings
                .iter()
                .any(|w| w.contains("use_ssl is deprecated"))
        );
    }

    #[test]
    fn nested_groups_use_the_in_chain_rule_and_refuse_a_filter_of_their_own() {
        let config =
            load("bind_dn_template = \"uid={username},dc=x\"\nnested_groups = true").unwrap();
        assert_eq!(
            config.group_search_filter.to_string(),
            NESTED_GROUP_SEARCH_FILTER
        );
        let err = load("bind_dn_template = \"uid={username},dc=x\"\nnested_groups = true\ngroup_search_filter = \"(member={userdn})\"").unwrap_err();
        assert!(err.to_string().contains("nested_groups"), "{err}");
    }

    #[test]
    fn configurations_that_cannot_log_anybody_in_are_refused_naming_the_option() {
        for (body, option) in [
            ("", "bind_dn_template"),
            ("lookup_dn = true", "user_search_base"),
            ("bind_dn_template = \"uid={user}\"", "bind_dn_template"),
            (
                "bind_dn_template = \"uid={username}\"\ntls_strategy = \"ssl\"",
                "tls_strategy",
            ),
            (
                "bind_dn_template = \"uid={username}\"\ntls_kwargs = { ciphers = \"x\" }",
                "tls_kwargs",
            ),
            (
                "bind_dn_template = \"uid={username}\"\nsearch_filter = \"(uid={username})\"",
                "user_search_base",
            ),
            (
                "bind_dn_template = \"uid={username}\"\nvalid_username_regex = \"(\"",
                "valid_username_regex",
            ),
        ] {
            let err = load(body).unwrap_err().to_string();
            assert!(err.contains(option), "{body:?}: {err}");
        }
    }
}
