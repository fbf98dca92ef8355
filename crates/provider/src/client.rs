//! Registered clients: what each may ask for and where it may be sent.

use std::fmt;
use std::net::IpAddr;

use subtle::ConstantTimeEq;

use crate::keys::IdTokenAlg;

/// Scopes every client may ask for: `identify` (JupyterHub's: who is the user) and the
/// OpenID Connect ones.
pub const BASE_SCOPES: &[&str] = &["identify", "openid", "profile", "email", "groups"];

/// A client secret. Prints as `[redacted]`; compared in constant time.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        ClientSecret(secret.into())
    }

    /// The secret itself.
    pub fn secret(&self) -> &str {
        &self.0
    }

    /// Whether `presented` is the secret, compared in constant time (for equal lengths).
    pub fn matches(&self, presented: &str) -> bool {
        let expected = self.0.as_bytes();
        let presented = presented.as_bytes();
        expected.len() == presented.len() && bool::from(expected.ct_eq(presented))
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret([redacted])")
    }
}

/// One registered client (for the hub: a service of `[[Hub.services]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The service's name, shown on the consent page.
    pub name: String,
    /// Its client id.
    pub client_id: String,
    /// Its client secret; `None` makes it a public client, which must use PKCE.
    pub client_secret: Option<ClientSecret>,
    /// The exact redirect URIs it may use. Empty when the service is not an OAuth client
    /// (it only calls the hub's API).
    pub redirect_uris: Vec<String>,
    /// Scopes it may ask for beyond [`BASE_SCOPES`].
    pub allowed_scopes: Vec<String>,
    /// Where the provider may send the browser after an RP-initiated logout (matched
    /// exactly).
    pub post_logout_redirect_uris: Vec<String>,
    /// Skip the consent page (JupyterHub's `oauth_no_confirm`).
    pub no_confirm: bool,
    /// How its ID tokens are signed (its registration's `id_token_signed_response_alg`;
    /// default RS256).
    pub id_token_alg: IdTokenAlg,
    /// Where the hub posts a logout token when a session the client was issued tokens in
    /// ends (OpenID Connect Back-Channel Logout 1.0); `None`: not notified.
    pub backchannel_logout_uri: Option<String>,
}

impl Client {
    /// Whether the service is an OAuth client (it has a redirect URI).
    pub fn is_oauth_client(&self) -> bool {
        !self.redirect_uris.is_empty()
    }

    /// Whether the client authenticates with a secret.
    pub fn is_confidential(&self) -> bool {
        self.client_secret.is_some()
    }

    /// Whether the client may be granted `scope`.
    pub fn allows_scope(&self, scope: &str) -> bool {
        BASE_SCOPES.contains(&scope) || self.allowed_scopes.iter().any(|s| s == scope)
    }

    /// The scopes granted for an authorization request's `scope`: those asked for that
    /// the client may have (the others are dropped, as JupyterHub does), always with
    /// `identify` first; no scope asks for `identify` only. Whether the user holds them
    /// is the caller's to check.
    pub fn grant_scopes(&self, requested: Option<&str>) -> Vec<String> {
        let mut granted = vec!["identify".to_owned()];
        for scope in requested.unwrap_or("").split(' ') {
            if scope.is_empty() || granted.iter().any(|s| s == scope) {
                continue;
            }
            if self.allows_scope(scope) {
                granted.push(scope.to_owned());
            } else {
                tracing::info!(client = %self.client_id, scope, "dropping a scope the client may not have");
            }
        }
        granted
    }
}

/// The registered OAuth client with this id (services without a redirect URI are not
/// OAuth clients).
pub fn find_client<'c>(clients: &'c [Client], client_id: &str) -> Option<&'c Client> {
    clients
        .iter()
        .find(|client| client.client_id == client_id && client.is_oauth_client())
}

/// A scope token as RFC 6749 §3.3 allows (printable ASCII without space, `"` or `\`),
/// at most 200 bytes.
pub fn is_valid_scope(scope: &str) -> bool {
    !scope.is_empty()
        && scope.len() <= 200
        && scope
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

/// A registered redirect URI must be an absolute https URL, or http on a loopback host,
/// without a fragment or user info (RFC 6749 §3.1.2, RFC 8252 §7.3). Matching at the
/// authorization endpoint is exact. The error says what is wrong, quoting the URI.
pub fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let parsed = url::Url::parse(uri).map_err(|err| format!("{uri:?} is not a URL: {err}"))?;
    if parsed.fragment().is_some() {
        return Err(format!("{uri:?} must not have a #fragment"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!("{uri:?} must not contain user info"));
    }
    match parsed.scheme() {
        "https" if parsed.host_str().is_some() => Ok(()),
        "http" if parsed.host().is_some_and(|host| is_loopback(&host)) => Ok(()),
        "http" => Err(format!(
            "{uri:?} must use https (plain http is allowed only on a loopback host)"
        )),
        _ => Err(format!("{uri:?} must be an https URL")),
    }
}

fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => IpAddr::V4(*ip).is_loopback(),
        url::Host::Ipv6(ip) => IpAddr::V6(*ip).is_loopback(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A confidential client `conf` (secret `s3cret-s3cret-s3cret`) and a public one `pub`.
    pub(crate) fn clients() -> Vec<Client> {
        let client = |id: &str, secret: Option<&str>| Client {
            name: id.to_owned(),
            client_id: id.to_owned(),
            client_secret: secret.map(ClientSecret::new),
            redirect_uris: vec!["https://app.example/cb".to_owned()],
            allowed_scopes: vec!["custom:read".to_owned()],
            post_logout_redirect_uris: Vec::new(),
            no_confirm: false,
            id_token_alg: IdTokenAlg::default(),
            backchannel_logout_uri: None,
        };
        let mut api_only = client("api-only", None);
        api_only.redirect_uris.clear();
        vec![
            client("conf", Some("s3cret-s3cret-s3cret")),
            client("pub", None),
            api_only,
        ]
    }

    #[test]
    fn granted_scopes_start_with_identify_and_drop_what_the_client_may_not_have() {
        let clients = clients();
        let conf = find_client(&clients, "conf").unwrap();
        assert_eq!(conf.grant_scopes(None), ["identify"]);
        assert_eq!(
            conf.grant_scopes(Some("openid  custom:read admin:users identify openid")),
            ["identify", "openid", "custom:read"]
        );
        assert!(find_client(&clients, "api-only").is_none());
        assert!(find_client(&clients, "nope").is_none());
    }

    #[test]
    fn secrets_are_redacted_and_compared_exactly() {
        let secret = ClientSecret::new("file-secret-0123456789");
        assert!(secret.matches("file-secret-0123456789"));
        assert!(!secret.matches("file-secret-0123456788"));
        assert!(!secret.matches("file-secret"));
        assert!(!format!("{secret:?}").contains("file"));
    }

    #[test]
    fn redirect_uris_and_scope_tokens() {
        for good in [
            "https://x/cb",
            "http://127.0.0.1:9000/cb",
            "http://[::1]/cb",
            "http://LocalHost/cb",
        ] {
            assert!(check_redirect_uri(good).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("http://example.org/cb", "loopback"),
            ("https://x/cb#f", "fragment"),
            ("https://u:p@x/cb", "user info"),
            ("/relative", "not a URL"),
            ("javascript:alert(1)", "https URL"),
        ] {
            assert!(check_redirect_uri(bad).unwrap_err().contains(why), "{bad}");
        }
        assert!(is_valid_scope("read:users!group=x"));
        for bad in ["", "a b", "a\"b", "a\\b", &"x".repeat(201)] {
            assert!(!is_valid_scope(bad), "{bad}");
        }
    }
}
