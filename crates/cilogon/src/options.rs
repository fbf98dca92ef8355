//! The options of `CILogonOAuthenticator` and `LocalCILogonOAuthenticator`.

use hubauth_config::{
    ClassDef, ClassView, ConfigError, DefaultValue::Computed, DefaultValue::Literal, Deprecated,
    Origin,
};

use crate::idps::Idps;

/// CILogon's own host, the default of `cilogon_host`.
pub const DEFAULT_CILOGON_HOST: &str = "cilogon.org";
/// The scope CILogon releases the `idp` claim (and `eppn`, `eptid`, ...) with.
pub const CILOGON_USERINFO_SCOPE: &str = "org.cilogon.userinfo";

/// Names `idps` had before, and what upstream (OAuthenticator 17.4) does with them:
/// `allowed_idps` (the name from 15.0 to 17.3) still works with a warning; the others
/// were removed with a different format and are refused.
const IDPS_ALIASES: &[Deprecated] = &[
    Deprecated {
        name: "allowed_idps",
        since: "CILogonOAuthenticator 17.4.0",
        same_type: true,
    },
    Deprecated {
        name: "idp_whitelist",
        since: "CILogonOAuthenticator 0.12.0",
        same_type: false,
    },
    // Upstream's message points `idp` at `shown_idps`, itself removed in 16.0; hubauth
    // points at where the setting lives now.
    Deprecated {
        name: "idp",
        since: "CILogonOAuthenticator 15.0.0",
        same_type: false,
    },
    Deprecated {
        name: "strip_idp_domain",
        since: "CILogonOAuthenticator 15.0.0",
        same_type: false,
    },
    Deprecated {
        name: "shown_idps",
        since: "CILogonOAuthenticator 16.0.0",
        same_type: false,
    },
    Deprecated {
        name: "additional_username_claims",
        since: "CILogonOAuthenticator 16.0.0",
        same_type: false,
    },
];

hubauth_config::options! {
    /// The `[CILogonOAuthenticator]` table.
    pub static CILOGON_OAUTHENTICATOR = class "CILogonOAuthenticator" {
        bases: ["OAuthenticator"],
        help: "Login with CILogon (cilogon.org): federated login through a campus or research identity provider (InCommon, eduGAIN), or ORCID, GitHub, Google or Microsoft, chosen per identity provider with idps.",
    };
    /// `[CILogonOAuthenticator]` as the file, the environment and the defaults give it,
    /// before validation.
    pub struct CilogonOAuthenticatorOptions {
        login_service: String = (
            Str,
            Literal("\"CILogon\""),
            "The name shown on the login button as \"Sign in with ...\".",
        )
            .env(&["LOGIN_SERVICE"]),
        client_id: String = (
            Str,
            Literal("\"\""),
            "The client id this hub was registered with at CILogon (https://cilogon.org/oauth2/register), like cilogon:/client_id/1234abcd.",
        )
            .env(&["CILOGON_CLIENT_ID", "OAUTH_CLIENT_ID"]),
        client_secret: String = (
            Str,
            Literal("\"\""),
            "The client secret CILogon issued with client_id.",
        )
            .env(&["CILOGON_CLIENT_SECRET", "OAUTH_CLIENT_SECRET"])
            .secret(),
        cilogon_host: String = (
            Str,
            Literal("\"cilogon.org\""),
            "The CILogon host (cilogon.org, or test.cilogon.org for CILogon's test instance); authorize_url, token_url, userdata_url, oidc_issuer and idplist_url are derived from it. A host name (with a port if needed), not a URL. An empty CILOGON_HOST counts as unset.",
        )
            .env(&["CILOGON_HOST"]),
        authorize_url: Option<String> = (
            Str,
            Computed("https://{cilogon_host}/authorize"),
            "CILogon's authorization endpoint.",
        ),
        token_url: Option<String> = (
            Str,
            Computed("https://{cilogon_host}/oauth2/token"),
            "CILogon's token endpoint.",
        ),
        userdata_url: Option<String> = (
            Str,
            Computed("https://{cilogon_host}/oauth2/userinfo (none with userdata_from_id_token)"),
            "CILogon's user info endpoint, where the user's claims (idp, eppn, email, ...) are read.",
        ),
        oidc_issuer: Option<String> = (
            Str,
            Computed("https://{cilogon_host}"),
            "CILogon's OpenID Connect issuer: its discovery document (https://{cilogon_host}/.well-known/openid-configuration) gives the keys ID tokens are verified with, and ID tokens must name this issuer. \"\" turns ID token verification off (upstream never verifies them; the user is then read from the user info endpoint alone). A hubauth addition.",
        ),
        scope: Vec<String> = (
            List,
            Literal("[\"openid\", \"email\", \"org.cilogon.userinfo\", \"profile\"]"),
            "The scopes to request. openid and org.cilogon.userinfo are required and added when missing: the idp claim that idps is checked against comes with org.cilogon.userinfo. Add offline_access for refresh tokens (the client registration needs a refresh token lifetime). CILogon grants at most the scopes the client is registered for.",
        ),
        idps: serde_json::Map<String, serde_json::Value> = (
            Dict,
            Literal("{}"),
            "The identity providers that may be used, keyed by CILogon EntityID (https://cilogon.org/idplist lists them); users of any other IdP are refused. Required.\n\nEach entry is a table:\n- username_derivation (required): username_claim (required: the user info claim the username comes from, such as \"eppn\", \"email\", \"preferred_username\", \"oidc\"), action = \"strip_idp_domain\" with domain (remove a trailing @domain), or action = \"prefix\" with prefix (the username becomes prefix:value).\n- allow_all (default false): allow every user of this IdP.\n- allowed_domains: allow users whose domain matches one of these patterns (* and ? wildcards, as Python's fnmatch: \"*.uni.edu\"). The domain is the part after the last @ of allowed_domains_claim, lowercased.\n- allowed_domains_claim: the claim the domain is read from (default: the username claim, before the action).\n- default (default false): pre-select this IdP on CILogon's page.\n\nThe EntityIDs are sent as selected_idp, so CILogon lists only these IdPs, the default (else the first) pre-selected. Example: idps = { \"https://idp.uni.edu/idp/shibboleth\" = { username_derivation = { username_claim = \"eppn\", action = \"strip_idp_domain\", domain = \"uni.edu\" }, allowed_domains = [\"uni.edu\"], default = true } }. Named allowed_idps before OAuthenticator 17.4 (still accepted, with a warning).",
        )
            .deprecated(IDPS_ALIASES),
        skin: String = (
            Str,
            Literal("\"\""),
            "The name of a custom CILogon interface skin for this hub (ask help@cilogon.org for one), sent as the skin parameter of the authorization request.",
        ),
        username_claim: Option<serde_json::Value> = (
            ClaimOrScript,
            Computed("unset: removed"),
            "Removed in OAuthenticator 16.0: set username_derivation.username_claim for each IdP in idps. Setting it is an error.",
        ),
        idplist_url: Option<String> = (
            Str,
            Computed("https://{cilogon_host}/idplist/"),
            "CILogon's list of identity providers, which the EntityIDs in idps are checked against once, in the background, when the first login starts (an EntityID CILogon does not list lets nobody in). A list that cannot be fetched is logged and changes nothing. \"\" turns the check off. A hubauth addition.",
        ),
    }
}

/// `LocalCILogonOAuthenticator`: CILogonOAuthenticator whose users are local UNIX users.
pub static LOCAL_CILOGON_OAUTHENTICATOR: ClassDef =
    hubauth_local::local_class_def!("LocalCILogonOAuthenticator", "CILogonOAuthenticator");

/// The validated CILogon-specific options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CilogonConfig {
    /// See `cilogon_host` (the default when unset or empty in the environment).
    pub cilogon_host: String,
    /// See `idps`.
    pub idps: Idps,
    /// See `skin` (empty: none).
    pub skin: String,
    /// See `idplist_url` (empty: no check).
    pub idplist_url: String,
}

/// The endpoint URLs derived from the host, as upstream derives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerivedUrls {
    /// `https://{host}/authorize`
    pub authorize_url: String,
    /// `https://{host}/oauth2/token`
    pub token_url: String,
    /// `https://{host}/oauth2/userinfo`
    pub userdata_url: String,
    /// `https://{host}` (CILogon's issuer, as its discovery document names it).
    pub issuer: String,
    /// `https://{host}/idplist/`
    pub idplist_url: String,
}

impl DerivedUrls {
    /// The URLs of a host.
    pub fn of(host: &str) -> Self {
        DerivedUrls {
            authorize_url: format!("https://{host}/authorize"),
            token_url: format!("https://{host}/oauth2/token"),
            userdata_url: format!("https://{host}/oauth2/userinfo"),
            issuer: format!("https://{host}"),
            idplist_url: format!("https://{host}/idplist/"),
        }
    }
}

/// Checks `cilogon_host`: a host name or address with an optional port, nothing else
/// (the URLs are built as `https://{host}/...`, so a scheme or path would make them
/// point somewhere else).
pub fn check_host(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("must name a host, such as cilogon.org".to_owned());
    }
    if host.contains("://") {
        return Err(format!(
            "must be a host name such as cilogon.org, not a URL ({host:?})"
        ));
    }
    if host
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | '?' | '#' | '@' | '\\'))
    {
        return Err(format!(
            "must be a host name with an optional port (cilogon.org, test.cilogon.org), not {host:?}"
        ));
    }
    let parsed = url::Url::parse(&format!("https://{host}/"))
        .map_err(|err| format!("is not a host name ({err})"))?;
    if parsed.host_str().is_none() || parsed.path() != "/" {
        return Err(format!("is not a host name: {host:?}"));
    }
    Ok(())
}

impl CilogonConfig {
    /// Reads and validates the CILogon options of a class view.
    pub fn from_view(view: &ClassView<'_>) -> Result<Self, ConfigError> {
        let options = CilogonOAuthenticatorOptions::load(view)?;
        let host = resolve_host(view, options.cilogon_host)?;
        let idps = Idps::parse(&options.idps).map_err(|err| view.invalid("idps", err))?;
        let idplist_url = options
            .idplist_url
            .unwrap_or_else(|| DerivedUrls::of(&host).idplist_url);
        if !idplist_url.is_empty() {
            let parsed = url::Url::parse(&idplist_url)
                .map_err(|err| view.invalid("idplist_url", format!("not a URL ({err})")))?;
            if !matches!(parsed.scheme(), "https" | "http") {
                return Err(view.invalid("idplist_url", "must be an http or https URL"));
            }
        }
        Ok(CilogonConfig {
            cilogon_host: host,
            idps,
            skin: options.skin,
            idplist_url,
        })
    }
}

/// The host: an empty value from the environment counts as unset (upstream reads
/// `os.environ.get("CILOGON_HOST") or "cilogon.org"`); an empty value in the file is
/// refused, as is anything but a host.
fn resolve_host(view: &ClassView<'_>, host: String) -> Result<String, ConfigError> {
    if host.is_empty() && matches!(view.origin("cilogon_host"), Origin::Env { .. }) {
        return Ok(DEFAULT_CILOGON_HOST.to_owned());
    }
    check_host(&host).map_err(|err| view.invalid("cilogon_host", err))?;
    Ok(host)
}

/// The scopes with `openid` and `org.cilogon.userinfo` appended when missing, as
/// upstream's scope validator does.
pub fn required_scopes(mut scope: Vec<String>) -> Vec<String> {
    for required in ["openid", CILOGON_USERINFO_SCOPE] {
        if !scope.iter().any(|s| s == required) {
            scope.push(required.to_owned());
        }
    }
    scope
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_host_names() {
        for good in [
            "cilogon.org",
            "test.cilogon.org",
            "127.0.0.1:8443",
            "[::1]:443",
        ] {
            assert!(check_host(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "https://cilogon.org",
            "cilogon.org/path",
            "cilogon.org?x",
            "user@cilogon.org",
            "cilogon .org",
            "cilogon.org#x",
        ] {
            assert!(check_host(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn required_scopes_are_appended_in_upstreams_order() {
        assert_eq!(
            required_scopes(vec!["email".into()]),
            ["email", "openid", "org.cilogon.userinfo"]
        );
        assert_eq!(
            required_scopes(vec!["org.cilogon.userinfo".into(), "openid".into()]),
            ["org.cilogon.userinfo", "openid"]
        );
    }
}
