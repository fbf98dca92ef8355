//! The options of `MWOAuthenticator`.
//!
//! Upstream's class adds three options to `OAuthenticator`: `mw_index_url`,
//! `executor_threads` and a `login_service` default of its own. Every other option comes
//! from `[OAuthenticator]` and `[Authenticator]`; the OAuth 2.0 ones among them
//! ([`OAUTH2_ONLY_OPTIONS`]) mean nothing to an OAuth 1.0a login.

use hubauth_config::{ClassView, ConfigError, DefaultValue::Literal, Origin};

/// Upstream's default wiki: Meta-Wiki, the central wiki of the Wikimedia projects (a
/// consumer registered there works on every Wikimedia wiki).
pub const DEFAULT_MW_INDEX_URL: &str = "https://meta.wikimedia.org/w/index.php";

/// The largest `executor_threads` accepted.
pub const MAX_EXECUTOR_THREADS: i64 = 1024;

hubauth_config::options! {
    /// The `[MWOAuthenticator]` table.
    pub static MW_OAUTHENTICATOR = class "MWOAuthenticator" {
        bases: ["OAuthenticator"],
        help: "Login with a MediaWiki wiki (Wikipedia, Wikimedia Commons, your own wiki) through its OAuth extension: OAuth 1.0a with HMAC-SHA1 signatures, and the user's identity from Special:OAuth/identify. client_id and client_secret are the consumer key and secret the wiki issued at Special:OAuthConsumerRegistration.",
    };
    /// `[MWOAuthenticator]` as the file, the environment and the defaults give it, before
    /// validation.
    pub struct MwOAuthenticatorOptions {
        login_service: String = (
            Str,
            Literal("\"MediaWiki\""),
            "The name shown on the login button as \"Sign in with ...\".",
        )
            .env(&["LOGIN_SERVICE"]),
        mw_index_url: String = (
            Str,
            Literal("\"https://meta.wikimedia.org/w/index.php\""),
            "The full URL of the wiki's index.php (https://wiki.example.org/w/index.php). Every step of the login goes through it: Special:OAuth/initiate, Special:OAuth/authenticate (the page users approve on), Special:OAuth/token and Special:OAuth/identify. The identity's issuer must be on the same host and port.",
        )
            .env(&["MW_INDEX_URL"]),
        executor_threads: i64 = (
            Int,
            Literal("12"),
            "How many requests to the wiki may be under way at once. Upstream ran the blocking OAuth 1.0a client on a pool of this many threads; hubauth's requests do not block, and this caps how many are in flight (a further login waits for a free place).",
        ),
    }
}

/// Options of `[OAuthenticator]` that only an OAuth 2.0 login reads: set for
/// `MWOAuthenticator`, they change nothing, and the hub warns at start-up.
pub const OAUTH2_ONLY_OPTIONS: &[&str] = &[
    "oidc_issuer",
    "jwks_url",
    "authorize_url",
    "token_url",
    "userdata_url",
    "userdata_from_id_token",
    "trusted_audiences",
    "userdata_params",
    "userdata_token_method",
    "scope",
    "allowed_scopes",
    "extra_authorize_params",
    "token_params",
    "basic_auth",
    "enable_pkce",
    "oidc_logout",
];

/// The validated MediaWiki-specific options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MwConfig {
    /// See `mw_index_url`: an http(s) URL with a host, and no query or fragment (the
    /// `title` parameter of each step is added to it, and OAuth 1.0a signs the URL
    /// without its query).
    pub mw_index_url: url::Url,
    /// See `executor_threads` (at least 1).
    pub executor_threads: usize,
    /// The `[OAuthenticator]` options set in the file that an OAuth 1.0a login ignores.
    pub ignored_options: Vec<String>,
}

impl MwConfig {
    /// Reads and validates the MediaWiki options.
    pub fn from_view(view: &ClassView<'_>) -> Result<Self, ConfigError> {
        let options = MwOAuthenticatorOptions::load(view)?;
        let mw_index_url = parse_index_url(&options.mw_index_url)
            .map_err(|err| view.invalid("mw_index_url", err))?;
        let threads = options.executor_threads;
        if !(1..=MAX_EXECUTOR_THREADS).contains(&threads) {
            return Err(view.invalid(
                "executor_threads",
                format!("must be between 1 and {MAX_EXECUTOR_THREADS}"),
            ));
        }
        let executor_threads = usize::try_from(threads)
            .map_err(|_| view.invalid("executor_threads", "does not fit this machine"))?;
        let ignored_options = OAUTH2_ONLY_OPTIONS
            .iter()
            .filter(|option| matches!(view.origin(option), Origin::File { .. }))
            .map(|option| (*option).to_owned())
            .collect();
        Ok(MwConfig {
            mw_index_url,
            executor_threads,
            ignored_options,
        })
    }
}

/// Parses `mw_index_url`: http or https, a host, no user info, no query, no fragment.
pub fn parse_index_url(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|err| format!("not a URL ({err})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http or https URL".to_owned());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".to_owned());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password".to_owned());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(
            "must be the URL of index.php itself, without ?query or #fragment (the login adds title=Special:OAuth/...)"
                .to_owned(),
        );
    }
    Ok(url)
}

/// `host[:port]` of a URL as Python's `urlparse(...).netloc` gives it for a URL without
/// user info (the explicit port kept, the default one not written): what upstream compares
/// the identity's issuer with.
pub fn netloc(url: &url::Url) -> Option<String> {
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_url_with_a_query_is_refused() {
        assert!(parse_index_url("https://w.example/w/index.php?title=X").is_err());
        assert!(parse_index_url("https://w.example/w/index.php#x").is_err());
        assert!(parse_index_url("ftp://w.example/w/index.php").is_err());
        assert!(parse_index_url("https://u:p@w.example/w/index.php").is_err());
        assert!(parse_index_url("https://w.example/w/index.php").is_ok());
    }

    #[test]
    fn netloc_keeps_an_explicit_port_only() {
        let url = url::Url::parse("https://Wiki.Example:8443/w/index.php").unwrap();
        assert_eq!(netloc(&url).unwrap(), "wiki.example:8443");
        let url = url::Url::parse("https://wiki.example:443/w/index.php").unwrap();
        assert_eq!(netloc(&url).unwrap(), "wiki.example");
    }
}
