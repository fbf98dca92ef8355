//! The `idps` option: which identity providers may be used through CILogon, and for
//! each how the username is derived and who is allowed.
//!
//! The format is upstream's (OAuthenticator 17, `CILogonOAuthenticator.idps`, named
//! `allowed_idps` before 17.4), checked as strictly as upstream's JSON schema: a table
//! keyed by EntityID, each with
//!
//! - `username_derivation` (required): `username_claim` (required, the user info claim
//!   the username is read from), `action` (`"strip_idp_domain"` with `domain`, or
//!   `"prefix"` with `prefix`);
//! - `allow_all` (default false): allow every user of this IdP;
//! - `allowed_domains`: allow users whose domain matches one of these patterns
//!   ([`crate::fnmatch`]); the domain is the part after the last `@` of the
//!   `allowed_domains_claim` (default: the unprocessed username claim), lowercased;
//! - `allowed_domains_claim`: where the domain is read from;
//! - `default` (default false): pre-select this IdP on CILogon's page.
//!
//! Anything else, or a value of the wrong type, is refused at start-up.

use serde_json::{Map, Value};

use crate::error::{IdpConfigError, LoginError};
use crate::fnmatch::Pattern;

/// What is done to the username claim's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `strip_idp_domain`: remove a trailing `@domain` (compared without regard to case);
    /// a value in another domain is kept whole.
    StripIdpDomain {
        /// The domain after the `@`.
        domain: String,
    },
    /// `prefix`: the username becomes `prefix:value`.
    Prefix {
        /// The prefix.
        prefix: String,
    },
}

/// How the username of a user of one IdP is derived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsernameDerivation {
    /// The user info claim (a top-level claim name, as upstream reads it).
    pub username_claim: String,
    /// What is done to its value.
    pub action: Option<Action>,
}

/// One entry of `idps`.
#[derive(Debug, Clone)]
pub struct IdpRule {
    /// The EntityID (the key; the `idp` claim of users of this IdP).
    pub entity_id: String,
    /// `username_derivation`.
    pub username_derivation: UsernameDerivation,
    /// `allow_all`.
    pub allow_all: bool,
    /// `allowed_domains`, lowercased, as written (for messages).
    pub allowed_domains: Vec<String>,
    /// The same, parsed.
    domain_patterns: Vec<Pattern>,
    /// `allowed_domains_claim`.
    pub allowed_domains_claim: Option<String>,
    /// `default`.
    pub default: bool,
}

impl PartialEq for IdpRule {
    fn eq(&self, other: &Self) -> bool {
        self.entity_id == other.entity_id
            && self.username_derivation == other.username_derivation
            && self.allow_all == other.allow_all
            && self.allowed_domains == other.allowed_domains
            && self.allowed_domains_claim == other.allowed_domains_claim
            && self.default == other.default
    }
}

impl Eq for IdpRule {}

/// The validated `idps`, in the order they were written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idps {
    rules: Vec<IdpRule>,
}

/// The schemes an EntityID may have (upstream compares `urlparse(key).scheme`).
const ENTITY_ID_SCHEMES: [&str; 3] = ["urn", "https", "http"];

/// The scheme of a URL or URN as Python's `urlparse` finds it: the text before the first
/// `:` when it starts with a letter and holds only letters, digits, `+`, `-` and `.`,
/// lowercased; empty otherwise.
fn scheme_of(key: &str) -> String {
    let Some((scheme, _)) = key.split_once(':') else {
        return String::new();
    };
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if valid {
        scheme.to_ascii_lowercase()
    } else {
        String::new()
    }
}

/// A JSON value shown in a message (short).
fn show(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 {
        format!("{}...", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}

struct Reader<'a> {
    entity_id: &'a str,
    path: &'static str,
    table: &'a Map<String, Value>,
}

impl<'a> Reader<'a> {
    fn new(
        entity_id: &'a str,
        path: &'static str,
        value: &'a Value,
    ) -> Result<Self, IdpConfigError> {
        match value {
            Value::Object(table) => Ok(Reader {
                entity_id,
                path,
                table,
            }),
            other => Err(IdpConfigError::NotATable {
                entity_id: entity_id.to_owned(),
                path,
                found: show(other),
            }),
        }
    }

    fn only(&self, known: &[&str]) -> Result<(), IdpConfigError> {
        match self.table.keys().find(|key| !known.contains(&key.as_str())) {
            Some(key) => Err(IdpConfigError::Unexpected {
                entity_id: self.entity_id.to_owned(),
                path: self.path,
                property: key.clone(),
            }),
            None => Ok(()),
        }
    }

    fn wrong(
        &self,
        property: &'static str,
        expected: &'static str,
        found: &Value,
    ) -> IdpConfigError {
        IdpConfigError::WrongType {
            entity_id: self.entity_id.to_owned(),
            path: self.path,
            property,
            expected,
            found: show(found),
        }
    }

    fn string(&self, property: &'static str) -> Result<Option<String>, IdpConfigError> {
        match self.table.get(property) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(other) => Err(self.wrong(property, "string", other)),
        }
    }

    fn required_string(&self, property: &'static str) -> Result<String, IdpConfigError> {
        self.string(property)?
            .ok_or_else(|| IdpConfigError::Missing {
                entity_id: self.entity_id.to_owned(),
                path: self.path,
                property,
            })
    }

    fn boolean(&self, property: &'static str) -> Result<bool, IdpConfigError> {
        match self.table.get(property) {
            None => Ok(false),
            Some(Value::Bool(flag)) => Ok(*flag),
            Some(other) => Err(self.wrong(property, "boolean", other)),
        }
    }

    fn strings(&self, property: &'static str) -> Result<Vec<String>, IdpConfigError> {
        match self.table.get(property) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::String(text) => Ok(text.clone()),
                    other => Err(self.wrong(property, "string", other)),
                })
                .collect(),
            Some(other) => Err(self.wrong(property, "array", other)),
        }
    }
}

impl IdpRule {
    /// Reads and checks one entry.
    fn parse(entity_id: &str, value: &Value) -> Result<IdpRule, IdpConfigError> {
        if !ENTITY_ID_SCHEMES.contains(&scheme_of(entity_id).as_str()) {
            return Err(IdpConfigError::NotAnEntityId {
                entity_id: entity_id.to_owned(),
            });
        }
        let idp = Reader::new(entity_id, "", value)?;
        idp.only(&[
            "allow_all",
            "allowed_domains",
            "allowed_domains_claim",
            "default",
            "username_derivation",
        ])?;
        let derivation_value =
            idp.table
                .get("username_derivation")
                .ok_or_else(|| IdpConfigError::Missing {
                    entity_id: entity_id.to_owned(),
                    path: "",
                    property: "username_derivation",
                })?;
        let derivation = Reader::new(entity_id, ".username_derivation", derivation_value)?;
        derivation.only(&["username_claim", "action", "domain", "prefix"])?;
        let username_claim = derivation.required_string("username_claim")?;
        if username_claim.is_empty() {
            return Err(IdpConfigError::EmptyUsernameClaim {
                entity_id: entity_id.to_owned(),
            });
        }
        // `domain` and `prefix` are checked for type whatever the action, as the schema
        // does, and required by the action that uses them.
        let domain = derivation.string("domain")?;
        let prefix = derivation.string("prefix")?;
        let action = match derivation.table.get("action") {
            None => None,
            Some(Value::String(name)) if name == "strip_idp_domain" => {
                Some(Action::StripIdpDomain {
                    domain: domain.ok_or_else(|| IdpConfigError::Missing {
                        entity_id: entity_id.to_owned(),
                        path: ".username_derivation",
                        property: "domain",
                    })?,
                })
            }
            Some(Value::String(name)) if name == "prefix" => Some(Action::Prefix {
                prefix: prefix.ok_or_else(|| IdpConfigError::Missing {
                    entity_id: entity_id.to_owned(),
                    path: ".username_derivation",
                    property: "prefix",
                })?,
            }),
            Some(other) => {
                return Err(IdpConfigError::UnknownAction {
                    entity_id: entity_id.to_owned(),
                    found: show(other),
                });
            }
        };
        // Upstream lowercases the patterns; the domain they are matched against is
        // lowercased too.
        let allowed_domains: Vec<String> = idp
            .strings("allowed_domains")?
            .into_iter()
            .map(|domain| domain.to_lowercase())
            .collect();
        let domain_patterns = allowed_domains.iter().map(|d| Pattern::new(d)).collect();
        Ok(IdpRule {
            entity_id: entity_id.to_owned(),
            username_derivation: UsernameDerivation {
                username_claim,
                action,
            },
            allow_all: idp.boolean("allow_all")?,
            allowed_domains,
            domain_patterns,
            allowed_domains_claim: idp.string("allowed_domains_claim")?,
            default: idp.boolean("default")?,
        })
    }

    /// The value of the username claim, before the action (upstream's "unprocessed
    /// username"): it must be a non-empty string.
    ///
    /// # Errors
    /// [`LoginError::UsernameClaimMissing`] or [`LoginError::UsernameClaimNotText`].
    pub fn raw_username<'a>(&self, user_info: &'a Value) -> Result<&'a str, LoginError> {
        let claim = &self.username_derivation.username_claim;
        match user_info.get(claim) {
            Some(Value::String(text)) if !text.is_empty() => Ok(text),
            None | Some(Value::Null | Value::String(_)) => Err(LoginError::UsernameClaimMissing {
                claim: claim.clone(),
                idp: self.entity_id.clone(),
                keys: keys_of(user_info),
            }),
            Some(_) => Err(LoginError::UsernameClaimNotText {
                claim: claim.clone(),
                idp: self.entity_id.clone(),
            }),
        }
    }

    /// The username: the claim's value with the action applied.
    ///
    /// # Errors
    /// As [`IdpRule::raw_username`], and [`LoginError::EmptyUsername`] when stripping
    /// the domain leaves nothing.
    pub fn username(&self, user_info: &Value) -> Result<String, LoginError> {
        let raw = self.raw_username(user_info)?;
        let name = match &self.username_derivation.action {
            None => raw.to_owned(),
            Some(Action::Prefix { prefix }) => format!("{prefix}:{raw}"),
            Some(Action::StripIdpDomain { domain }) => strip_domain(raw, domain).to_owned(),
        };
        if name.is_empty() {
            return Err(LoginError::EmptyUsername {
                claim: self.username_derivation.username_claim.clone(),
                idp: self.entity_id.clone(),
            });
        }
        Ok(name)
    }

    /// The claim `allowed_domains` is checked against: `allowed_domains_claim`, else
    /// the username claim.
    pub fn domain_claim(&self) -> &str {
        self.allowed_domains_claim
            .as_deref()
            .unwrap_or(&self.username_derivation.username_claim)
    }

    /// The user's domain for `allowed_domains`: the part of the domain claim after its
    /// last `@` (the whole value when it has none), lowercased.
    ///
    /// # Errors
    /// [`LoginError::DomainClaimMissing`] or [`LoginError::DomainClaimNotText`] for an
    /// `allowed_domains_claim`; the username claim's errors otherwise.
    pub fn user_domain(&self, user_info: &Value) -> Result<String, LoginError> {
        let raw = match &self.allowed_domains_claim {
            None => self.raw_username(user_info)?,
            Some(claim) => match user_info.get(claim) {
                Some(Value::String(text)) if !text.is_empty() => text.as_str(),
                None | Some(Value::Null | Value::String(_)) => {
                    return Err(LoginError::DomainClaimMissing {
                        claim: claim.clone(),
                        idp: self.entity_id.clone(),
                        keys: keys_of(user_info),
                    });
                }
                Some(_) => {
                    return Err(LoginError::DomainClaimNotText {
                        claim: claim.clone(),
                        idp: self.entity_id.clone(),
                    });
                }
            },
        };
        Ok(raw.rsplit('@').next().unwrap_or(raw).to_lowercase())
    }

    /// The first `allowed_domains` pattern `domain` matches.
    pub fn matching_domain(&self, domain: &str) -> Option<&str> {
        self.allowed_domains
            .iter()
            .zip(&self.domain_patterns)
            .find(|(_, pattern)| pattern.matches(domain))
            .map(|(written, _)| written.as_str())
    }
}

/// `value` without a trailing `@domain` (compared without regard to case); `value`
/// itself when it does not end so.
fn strip_domain<'a>(value: &'a str, domain: &str) -> &'a str {
    let suffix = format!("@{domain}");
    let count = suffix.chars().count();
    let total = value.chars().count();
    if total < count {
        return value;
    }
    let Some((cut, _)) = value.char_indices().nth(total - count) else {
        return value;
    };
    if value[cut..].to_lowercase() == suffix.to_lowercase() {
        &value[..cut]
    } else {
        value
    }
}

/// The claim names of a user info object (never their values).
fn keys_of(user_info: &Value) -> Vec<String> {
    user_info
        .as_object()
        .map(|info| info.keys().cloned().collect())
        .unwrap_or_default()
}

impl Idps {
    /// Reads and checks `idps` (the option's table).
    ///
    /// # Errors
    /// The first [`IdpConfigError`] found.
    pub fn parse(table: &Map<String, Value>) -> Result<Idps, IdpConfigError> {
        if table.is_empty() {
            return Err(IdpConfigError::Empty);
        }
        let rules = table
            .iter()
            .map(|(entity_id, value)| IdpRule::parse(entity_id, value))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Idps { rules })
    }

    /// The entry for an `idp` claim (EntityIDs are compared exactly).
    pub fn get(&self, entity_id: &str) -> Option<&IdpRule> {
        self.rules.iter().find(|rule| rule.entity_id == entity_id)
    }

    /// Every entry, in the order written.
    pub fn iter(&self) -> impl Iterator<Item = &IdpRule> {
        self.rules.iter()
    }

    /// The `selected_idp` parameter of the authorization request: every EntityID,
    /// comma-separated, the first with `default = true` (else the first written) first,
    /// the others in the order written. CILogon then lists only these IdPs and
    /// pre-selects the first.
    pub fn selected_idp(&self) -> String {
        let first = self
            .rules
            .iter()
            .find(|rule| rule.default)
            .or_else(|| self.rules.first());
        let Some(first) = first else {
            return String::new();
        };
        std::iter::once(first.entity_id.as_str())
            .chain(
                self.rules
                    .iter()
                    .filter(|rule| rule.entity_id != first.entity_id)
                    .map(|rule| rule.entity_id.as_str()),
            )
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Whether some entry allows users by itself (`allow_all` or `allowed_domains`).
    pub fn any_allow_rule(&self) -> bool {
        self.rules
            .iter()
            .any(|rule| rule.allow_all || !rule.allowed_domains.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<Idps, IdpConfigError> {
        Idps::parse(value.as_object().unwrap())
    }

    fn one(settings: Value) -> IdpRule {
        parse(json!({"https://idp.example.edu/idp/shibboleth": settings}))
            .unwrap()
            .rules
            .remove(0)
    }

    #[test]
    fn username_derivation_actions_as_upstream() {
        let info = |email: &str| json!({"email": email, "idp": "x"});
        let strip = one(json!({"username_derivation": {
            "username_claim": "email", "action": "strip_idp_domain", "domain": "Domain-To-Strip.edu"}}));
        assert_eq!(
            strip.username(&info("jtkirk@domain-to-strip.EDU")).unwrap(),
            "jtkirk"
        );
        assert_eq!(
            strip
                .username(&info("jtkirk@not-domain-to-strip.edu"))
                .unwrap(),
            "jtkirk@not-domain-to-strip.edu"
        );
        // Only a whole trailing @domain is stripped.
        assert_eq!(
            strip
                .username(&info("jtkirk@sub.domain-to-strip.edu"))
                .unwrap(),
            "jtkirk@sub.domain-to-strip.edu"
        );
        assert!(matches!(
            strip.username(&info("@domain-to-strip.edu")),
            Err(LoginError::EmptyUsername { .. })
        ));
        let prefix = one(json!({"username_derivation": {
            "username_claim": "email", "action": "prefix", "prefix": "google"}}));
        assert_eq!(prefix.username(&info("a@b.org")).unwrap(), "google:a@b.org");
        let plain = one(json!({"username_derivation": {"username_claim": "email"}}));
        assert_eq!(plain.username(&info("a@b.org")).unwrap(), "a@b.org");
    }

    #[test]
    fn a_username_claim_that_is_missing_empty_or_not_text_is_refused() {
        let rule = one(json!({"username_derivation": {"username_claim": "eppn"}}));
        for info in [json!({}), json!({"eppn": ""}), json!({"eppn": null})] {
            assert!(matches!(
                rule.username(&info),
                Err(LoginError::UsernameClaimMissing { .. })
            ));
        }
        for info in [
            json!({"eppn": 7}),
            json!({"eppn": ["a"]}),
            json!({"eppn": {}}),
        ] {
            assert!(matches!(
                rule.username(&info),
                Err(LoginError::UsernameClaimNotText { .. })
            ));
        }
        // The claim is a top-level name, as upstream reads it: no dotted paths.
        let dotted = one(json!({"username_derivation": {"username_claim": "a.b"}}));
        assert!(dotted.username(&json!({"a": {"b": "x"}})).is_err());
        assert_eq!(dotted.username(&json!({"a.b": "x"})).unwrap(), "x");
    }

    #[test]
    fn user_domain_is_after_the_last_at_lowercased() {
        let rule = one(json!({"username_derivation": {"username_claim": "eppn"},
            "allowed_domains": ["Uni.EDU", "*.uni.edu"]}));
        assert_eq!(rule.allowed_domains, ["uni.edu", "*.uni.edu"]);
        let domain = rule
            .user_domain(&json!({"eppn": "A@B@CS.Uni.edu"}))
            .unwrap();
        assert_eq!(domain, "cs.uni.edu");
        assert_eq!(rule.matching_domain(&domain), Some("*.uni.edu"));
        assert_eq!(rule.matching_domain("uni.edu"), Some("uni.edu"));
        assert_eq!(rule.matching_domain("evil-uni.edu"), None);
        let by_claim = one(json!({"username_derivation": {"username_claim": "eppn"},
            "allowed_domains": ["uni.edu"], "allowed_domains_claim": "email"}));
        assert_eq!(
            by_claim
                .user_domain(&json!({"eppn": "a@other.org", "email": "a@uni.edu"}))
                .unwrap(),
            "uni.edu"
        );
        assert!(matches!(
            by_claim.user_domain(&json!({"eppn": "a@other.org"})),
            Err(LoginError::DomainClaimMissing { .. })
        ));
        assert!(matches!(
            by_claim.user_domain(&json!({"email": ["a@uni.edu"]})),
            Err(LoginError::DomainClaimNotText { .. })
        ));
    }

    #[test]
    fn selected_idp_puts_the_default_first_then_the_order_written() {
        let idps = parse(json!({
            "https://example4.org": {"username_derivation": {"username_claim": "email"}},
            "https://example3.org": {"username_derivation": {"username_claim": "email"}, "default": false},
            "https://example2.org": {"username_derivation": {"username_claim": "email"}, "default": true},
            "https://example1.org": {"username_derivation": {"username_claim": "email"}},
        }))
        .unwrap();
        assert_eq!(
            idps.selected_idp(),
            "https://example2.org,https://example4.org,https://example3.org,https://example1.org"
        );
        let idps = parse(json!({
            "https://example4.org": {"username_derivation": {"username_claim": "email"}},
            "https://example1.org": {"username_derivation": {"username_claim": "email"}},
        }))
        .unwrap();
        assert_eq!(
            idps.selected_idp(),
            "https://example4.org,https://example1.org"
        );
    }

    #[test]
    fn entity_ids_must_be_urls_or_urns() {
        let settings = json!({"username_derivation": {"username_claim": "email"}});
        for good in [
            "https://github.com/login/oauth/authorize",
            "http://google.com/accounts/o8/id",
            "urn:mace:incommon:uiuc.edu",
            "HTTPS://IDP.EXAMPLE.EDU/idp/shibboleth",
        ] {
            assert!(parse(json!({good: settings.clone()})).is_ok(), "{good}");
        }
        for bad in [
            "uni.edu",
            "ftp://idp.example.edu",
            "",
            "1https://x",
            "//idp.example.edu",
        ] {
            assert!(
                matches!(
                    parse(json!({bad: settings.clone()})),
                    Err(IdpConfigError::NotAnEntityId { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_schema_is_enforced() {
        let key = "https://github.com/login/oauth/authorize";
        let err = |settings: Value| parse(json!({key: settings})).unwrap_err().to_string();
        assert_eq!(parse(json!({})).unwrap_err(), IdpConfigError::Empty);
        assert!(err(json!({})).contains("'username_derivation' is a required property"));
        assert!(
            err(json!("should-be-a-dict")).contains("\"should-be-a-dict\" is not of type 'object'")
        );
        assert!(
            err(json!({"username_derivation": {"a": 1}}))
                .contains("Additional properties are not allowed ('a' was unexpected)")
        );
        assert!(
            err(json!({"username_derivation": {"username_claim": "email"}, "allowed_idps": 1}))
                .contains("('allowed_idps' was unexpected)")
        );
        assert!(
            err(json!({"username_derivation": {}}))
                .contains("'username_claim' is a required property")
        );
        assert!(err(json!({"username_derivation": {"username_claim": "email", "action": "strip_idp_domain"}})).contains("'domain' is a required property"));
        assert!(
            err(json!({"username_derivation": {"username_claim": "email", "action": "prefix"}}))
                .contains("'prefix' is a required property")
        );
        assert!(
            err(json!({"username_derivation": {"username_claim": "email", "action": "lowercase"}}))
                .contains("is not one of")
        );
        assert!(
            err(json!({"username_derivation": {"username_claim": 1}}))
                .contains("is not of type 'string'")
        );
        assert!(
            err(json!({"username_derivation": {"username_claim": ""}}))
                .contains("must name a claim")
        );
        assert!(
            err(json!({"username_derivation": {"username_claim": "e", "prefix": 3}}))
                .contains("prefix: 3 is not of type 'string'")
        );
        assert!(
            err(json!({"username_derivation": {"username_claim": "e"}, "allow_all": "yes"}))
                .contains("is not of type 'boolean'")
        );
        assert!(
            err(json!({"username_derivation": {"username_claim": "e"}, "default": 1}))
                .contains("is not of type 'boolean'")
        );
        assert!(err(json!({"username_derivation": {"username_claim": "e"}, "allowed_domains": "uni.edu"})).contains("is not of type 'array'"));
        assert!(
            err(json!({"username_derivation": {"username_claim": "e"}, "allowed_domains": [1]}))
                .contains("is not of type 'string'")
        );
        assert!(err(json!({"username_derivation": {"username_claim": "e"}, "allowed_domains_claim": true})).contains("is not of type 'string'"));
    }
}
