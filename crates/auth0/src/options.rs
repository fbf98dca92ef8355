//! The options of `Auth0OAuthenticator` and `LocalAuth0OAuthenticator`.

use hubauth_config::{
    ClassDef, ClassView, ConfigError, DefaultValue::Computed, DefaultValue::Literal, Deprecated,
};

const USERNAME_KEY: &[Deprecated] = &[Deprecated {
    name: "username_key",
    since: "Auth0OAuthenticator 16.0.0",
    same_type: true,
}];

hubauth_config::options! {
    /// The `[Auth0OAuthenticator]` table.
    pub static AUTH0_OAUTHENTICATOR = class "Auth0OAuthenticator" {
        bases: ["OAuthenticator"],
        help: "Login with an Auth0 tenant: its Authentication API for the login and the user's profile (a verified email required), and Auth0's logout at the hub's logout.",
    };
    /// `[Auth0OAuthenticator]` as the file, the environment and the defaults give it,
    /// before validation.
    pub struct Auth0OAuthenticatorOptions {
        login_service: String = (
            Str,
            Literal("\"Auth0\""),
            "The name shown on the login button as \"Sign in with ...\".",
        )
            .env(&["LOGIN_SERVICE"]),
        username_claim: serde_json::Value = (
            ClaimOrScript,
            Literal("\"email\""),
            "The /userinfo claim holding the username: a claim name, a dotted path, or a script { script = \"...\" } that sees `user_info`. The default, email, needs the email scope.",
        )
            .env(&["OAUTH2_USERNAME_KEY"])
            .deprecated(USERNAME_KEY),
        auth0_domain: Option<String> = (
            Str,
            Computed("the environment variable AUTH0_DOMAIN, else {auth0_subdomain}.auth0.com"),
            "The domain of the Auth0 tenant (dev-abc123.us.auth0.com, or a custom domain such as login.example.org), without https://. authorize_url, token_url, userdata_url and the logout endpoint are on it. Required unless auth0_subdomain is set.",
        )
            .env(&["AUTH0_DOMAIN"]),
        auth0_subdomain: String = (
            Str,
            Literal("\"\""),
            "A shorthand for auth0_domain: \"example\" means the domain example.auth0.com (tenants of the US region created before regional domains). Used only when auth0_domain is not set.",
        )
            .env(&["AUTH0_SUBDOMAIN"]),
        allow_unverified_email: bool = (
            Bool,
            Literal("false"),
            "Let users whose email Auth0 does not mark as verified log in (with a warning in the log). Not advisable except for tests: anyone can sign up at a database connection with someone else's address. Without it, Auth0OAuthenticator refuses every login without `email_verified: true` (the JSON value true), whatever username_claim and the allow rules say.",
        ),
        authorize_url: Option<String> = (
            Str,
            Computed("https://{auth0_domain}/authorize"),
            "Auth0's authorization endpoint.",
        ),
        token_url: Option<String> = (
            Str,
            Computed("https://{auth0_domain}/oauth/token"),
            "Auth0's token endpoint.",
        ),
        userdata_url: Option<String> = (
            Str,
            Computed("https://{auth0_domain}/userinfo"),
            "Auth0's user info endpoint.",
        ),
        logout_redirect_url: Option<String> = (
            Str,
            Computed("https://{auth0_domain}/v2/logout, with client_id and returnTo = the hub's login page"),
            "Where users go after the hub's logout. By default Auth0's logout endpoint, which ends the Auth0 session too and sends the browser back to the hub's login page (returnTo); add that page (https://hub.example.org/hub/login) to the application's Allowed Logout URLs in Auth0. Upstream sends no client_id or returnTo, so Auth0 used the tenant's first Allowed Logout URL. A URL set here is used as it is.",
        ),
    }
}

/// `LocalAuth0OAuthenticator`: Auth0OAuthenticator whose users are local UNIX users.
pub static LOCAL_AUTH0_OAUTHENTICATOR: ClassDef =
    hubauth_local::local_class_def!("LocalAuth0OAuthenticator", "Auth0OAuthenticator");

/// The validated Auth0-specific options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth0Config {
    /// The tenant's domain (`auth0_domain`, or from `auth0_subdomain`); empty when
    /// neither is set and no endpoint needs it.
    pub domain: String,
    /// See `allow_unverified_email`.
    pub allow_unverified_email: bool,
    /// Auth0's logout endpoint, when the hub's logout goes there (`logout_redirect_url`
    /// not set).
    pub logout_url: Option<String>,
}

/// The domain a value of `auth0_domain` names: a host with an optional port, nothing
/// else (no scheme, path, query or user).
pub fn check_domain(domain: &str) -> Result<String, String> {
    let domain = domain.trim().trim_end_matches('/');
    let parsed = url::Url::parse(&format!("https://{domain}/"))
        .map_err(|err| format!("must be a domain such as example.us.auth0.com ({err})"))?;
    let expected = match parsed.port() {
        Some(port) => format!("{}:{port}", parsed.host_str().unwrap_or_default()),
        None => parsed.host_str().unwrap_or_default().to_owned(),
    };
    if parsed.path() != "/"
        || !parsed.username().is_empty()
        || expected != domain.to_ascii_lowercase()
    {
        return Err(format!(
            "must be a domain such as example.us.auth0.com, without https:// or a path (found {domain:?})"
        ));
    }
    Ok(expected)
}

impl Auth0Config {
    /// Reads and validates the Auth0 options. `needs_domain` says whether an endpoint or
    /// the logout is derived from the domain (upstream raises only then, too).
    pub fn from_view(view: &ClassView<'_>) -> Result<Self, ConfigError> {
        let options = Auth0OAuthenticatorOptions::load(view)?;
        let domain = match options.auth0_domain.filter(|d| !d.trim().is_empty()) {
            Some(domain) => {
                check_domain(&domain).map_err(|err| view.invalid("auth0_domain", err))?
            }
            None if !options.auth0_subdomain.trim().is_empty() => {
                let sub = options.auth0_subdomain.trim();
                if !sub.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                    return Err(view.invalid(
                        "auth0_subdomain",
                        "must be a tenant name such as example (for example.auth0.com)",
                    ));
                }
                format!("{}.auth0.com", sub.to_ascii_lowercase())
            }
            None => String::new(),
        };
        let needs_domain = options.authorize_url.is_none()
            || options.token_url.is_none()
            || options.userdata_url.is_none()
            || options.logout_redirect_url.is_none();
        if domain.is_empty() && needs_domain {
            return Err(view.invalid(
                "auth0_domain",
                "Configuring either auth0_domain or auth0_subdomain is required",
            ));
        }
        let logout_url = options
            .logout_redirect_url
            .is_none()
            .then(|| format!("https://{domain}/v2/logout"));
        Ok(Auth0Config {
            domain,
            allow_unverified_email: options.allow_unverified_email,
            logout_url,
        })
    }

    /// An endpoint on the tenant's domain.
    pub fn endpoint(&self, path: &str) -> String {
        format!("https://{}{path}", self.domain)
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn a_domain_is_a_host_and_maybe_a_port() {
        assert_eq!(
            check_domain("dev-1.us.auth0.com").unwrap(),
            "dev-1.us.auth0.com"
        );
        assert_eq!(
            check_domain("Login.Example.org/").unwrap(),
            "login.example.org"
        );
        assert_eq!(check_domain("127.0.0.1:8443").unwrap(), "127.0.0.1:8443");
        for bad in [
            "https://dev-1.us.auth0.com",
            "dev-1.us.auth0.com/path",
            "user@dev-1.us.auth0.com",
            "dev-1.us.auth0.com?x=1",
            "dev 1.auth0.com",
            "",
        ] {
            assert!(check_domain(bad).is_err(), "{bad}");
        }
    }
}
