//! What a provider is configured with: its clients, its users, lifetimes, the clock.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::clock::{Clock, SystemClock};
use crate::error::DevIdpError;
use crate::server::RunningIdp;

/// A registered OAuth client (relying party).
///
/// A client with a `client_secret` is confidential and must authenticate at the token
/// endpoint (HTTP Basic or body parameters, never both); one without is public and only
/// names itself with `client_id`. Redirect URIs are matched as exact strings.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Client {
    /// The client identifier.
    pub client_id: String,
    /// The client secret; `None` for a public client.
    pub client_secret: Option<String>,
    /// Registered redirect URIs (absolute, no fragment), compared as exact strings.
    pub redirect_uris: Vec<String>,
    /// Registered `post_logout_redirect_uri` values for RP-initiated logout.
    pub post_logout_redirect_uris: Vec<String>,
    /// Whether authorization requests must carry a PKCE S256 `code_challenge`.
    pub require_pkce: bool,
}

impl Client {
    /// A confidential client with one redirect URI, PKCE optional.
    pub fn confidential(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        redirect_uri: impl Into<String>,
    ) -> Self {
        Client {
            client_id: client_id.into(),
            client_secret: Some(client_secret.into()),
            redirect_uris: vec![redirect_uri.into()],
            post_logout_redirect_uris: Vec::new(),
            require_pkce: false,
        }
    }

    /// A public client (no secret) with one redirect URI; PKCE required.
    pub fn public(client_id: impl Into<String>, redirect_uri: impl Into<String>) -> Self {
        Client {
            client_id: client_id.into(),
            client_secret: None,
            redirect_uris: vec![redirect_uri.into()],
            post_logout_redirect_uris: Vec::new(),
            require_pkce: true,
        }
    }

    /// Registers one more redirect URI.
    pub fn with_redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uris.push(uri.into());
        self
    }

    /// Registers a `post_logout_redirect_uri`.
    pub fn with_post_logout_redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.post_logout_redirect_uris.push(uri.into());
        self
    }

    /// Sets whether PKCE is required.
    pub fn with_require_pkce(mut self, require: bool) -> Self {
        self.require_pkce = require;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), DevIdpError> {
        if self.client_id.is_empty() || self.client_id.chars().any(char::is_control) {
            return Err(DevIdpError::Config(format!(
                "client_id {:?} must be non-empty and printable",
                self.client_id
            )));
        }
        if self.redirect_uris.is_empty() {
            return Err(DevIdpError::Config(format!(
                "client {:?} has no redirect URI",
                self.client_id
            )));
        }
        for uri in self
            .redirect_uris
            .iter()
            .chain(&self.post_logout_redirect_uris)
        {
            match url::Url::parse(uri) {
                Ok(parsed) if parsed.fragment().is_none() && !parsed.cannot_be_a_base() => {}
                _ => {
                    return Err(DevIdpError::Config(format!(
                        "client {:?}: {uri:?} is not an absolute URL without a fragment",
                        self.client_id
                    )));
                }
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("redirect_uris", &self.redirect_uris)
            .field("post_logout_redirect_uris", &self.post_logout_redirect_uris)
            .field("require_pkce", &self.require_pkce)
            .finish()
    }
}

/// A user who can log in at the provider.
///
/// The subject (`sub`) is the `sub` claim when `claims` has one as a string, otherwise the
/// username. Every other configured claim goes, as configured (nested objects, arrays),
/// into both the ID token and the userinfo response, whatever the scope: this is a
/// development provider. Claims whose names the protocol reserves (`iss`, `aud`, `exp`,
/// `iat`, `nonce`, `auth_time`, `at_hash`, ...) are left out. Nothing is added either: a
/// user with an `email` needs `email_verified: true` too for a relying party (such as
/// hubauth) that takes usernames from verified emails only.
#[derive(Clone, Default, PartialEq)]
pub struct DevUser {
    /// The login name typed into the form.
    pub username: String,
    /// The password typed into the form.
    pub password: String,
    /// The user's claims (`name`, `email`, `groups`, nested objects...).
    pub claims: Map<String, Value>,
}

impl DevUser {
    /// A user with no claims yet.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        DevUser {
            username: username.into(),
            password: password.into(),
            claims: Map::new(),
        }
    }

    /// Adds or replaces one claim.
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.claims.insert(name.into(), value.into());
        self
    }

    /// Replaces all claims.
    pub fn with_claims(mut self, claims: Map<String, Value>) -> Self {
        self.claims = claims;
        self
    }

    /// The subject identifier: the `sub` claim if it is a string, else the username.
    pub fn sub(&self) -> &str {
        match self.claims.get("sub") {
            Some(Value::String(sub)) if !sub.is_empty() => sub,
            _ => &self.username,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), DevIdpError> {
        if self.username.is_empty() {
            return Err(DevIdpError::Config("a user has an empty username".into()));
        }
        if let Some(sub) = self.claims.get("sub")
            && !matches!(sub, Value::String(s) if !s.is_empty())
        {
            return Err(DevIdpError::Config(format!(
                "user {:?}: the sub claim must be a non-empty string",
                self.username
            )));
        }
        Ok(())
    }
}

impl fmt::Debug for DevUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevUser")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .field("claims", &self.claims)
            .finish()
    }
}

/// The entry point: `DevIdp::builder()`.
#[derive(Debug, Clone, Copy)]
pub struct DevIdp;

impl DevIdp {
    /// A builder with no clients, no users, and the default lifetimes.
    pub fn builder() -> DevIdpBuilder {
        DevIdpBuilder::default()
    }
}

/// Lifetimes, in seconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lifetimes {
    pub access_token: i64,
    pub id_token: i64,
    pub refresh_token: i64,
    pub code: i64,
    pub session: i64,
}

/// Configures a provider; [`DevIdpBuilder::start`] serves it.
pub struct DevIdpBuilder {
    pub(crate) bind: SocketAddr,
    pub(crate) allow_non_loopback: bool,
    pub(crate) path_prefix: String,
    pub(crate) clients: Vec<Client>,
    pub(crate) users: Vec<DevUser>,
    pub(crate) auto_approve: Option<String>,
    pub(crate) lifetimes: Lifetimes,
    pub(crate) clock: Arc<dyn Clock>,
}

impl Default for DevIdpBuilder {
    fn default() -> Self {
        DevIdpBuilder {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            allow_non_loopback: false,
            path_prefix: String::new(),
            clients: Vec::new(),
            users: Vec::new(),
            auto_approve: None,
            lifetimes: Lifetimes {
                access_token: 3600,
                id_token: 3600,
                refresh_token: 7 * 24 * 3600,
                code: 60,
                session: 12 * 3600,
            },
            clock: Arc::new(SystemClock),
        }
    }
}

impl fmt::Debug for DevIdpBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevIdpBuilder")
            .field("bind", &self.bind)
            .field("path_prefix", &self.path_prefix)
            .field("clients", &self.clients)
            .field("users", &self.users)
            .field("auto_approve", &self.auto_approve)
            .field("lifetimes", &self.lifetimes)
            .finish_non_exhaustive()
    }
}

fn secs(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

impl DevIdpBuilder {
    /// The address to listen on; default `127.0.0.1:0` (a free port). The issuer is
    /// `http://ADDR` plus the path prefix.
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// Allows binding an address that is not loopback. Off by default: this provider is
    /// for development and trusts its configuration completely.
    pub fn allow_non_loopback(mut self, allow: bool) -> Self {
        self.allow_non_loopback = allow;
        self
    }

    /// Serves everything under a path prefix such as `/idp`, so that the issuer is
    /// `http://127.0.0.1:PORT/idp`. Empty (the default) serves at the root.
    pub fn path_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.path_prefix = prefix.into();
        self
    }

    /// Registers a client; call once per client.
    pub fn client(mut self, client: Client) -> Self {
        self.clients.push(client);
        self
    }

    /// Adds a user; call once per user.
    pub fn user(mut self, user: DevUser) -> Self {
        self.users.push(user);
        self
    }

    /// With `Some(username)`, `/authorize` skips the login form and logs that user in at
    /// once (for tests). The user must exist when the provider starts.
    pub fn auto_approve(mut self, username: Option<String>) -> Self {
        self.auto_approve = username;
        self
    }

    /// Lifetime of access tokens (default one hour).
    pub fn access_token_ttl(mut self, ttl: Duration) -> Self {
        self.lifetimes.access_token = secs(ttl);
        self
    }

    /// Lifetime of ID tokens (default one hour).
    pub fn id_token_ttl(mut self, ttl: Duration) -> Self {
        self.lifetimes.id_token = secs(ttl);
        self
    }

    /// Lifetime of refresh tokens (default seven days).
    pub fn refresh_token_ttl(mut self, ttl: Duration) -> Self {
        self.lifetimes.refresh_token = secs(ttl);
        self
    }

    /// Lifetime of the provider's own login session cookie (default twelve hours).
    pub fn session_ttl(mut self, ttl: Duration) -> Self {
        self.lifetimes.session = secs(ttl);
        self
    }

    /// The time source (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Checks the configuration, binds the address and starts serving in a Tokio task.
    ///
    /// # Errors
    /// [`DevIdpError::Config`] for an invalid client, user, prefix or auto-approve user,
    /// [`DevIdpError::NotLoopback`] for a non-loopback address without
    /// [`DevIdpBuilder::allow_non_loopback`], [`DevIdpError::Bind`] when the address
    /// cannot be bound.
    pub async fn start(self) -> Result<RunningIdp, DevIdpError> {
        RunningIdp::start(self).await
    }

    pub(crate) fn validated_prefix(&self) -> Result<String, DevIdpError> {
        let prefix = self.path_prefix.trim_end_matches('/');
        if prefix.is_empty() {
            return Ok(String::new());
        }
        let ok = prefix.starts_with('/')
            && !prefix.contains("//")
            && prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/-._~".contains(c));
        if ok {
            Ok(prefix.to_owned())
        } else {
            Err(DevIdpError::Config(format!(
                "path prefix {:?} must look like /name (letters, digits, -._~)",
                self.path_prefix
            )))
        }
    }

    pub(crate) fn validate(&self) -> Result<(), DevIdpError> {
        let mut ids = std::collections::HashSet::new();
        for client in &self.clients {
            client.validate()?;
            if !ids.insert(client.client_id.as_str()) {
                return Err(DevIdpError::Config(format!(
                    "client {:?} is registered twice",
                    client.client_id
                )));
            }
        }
        let mut names = std::collections::HashSet::new();
        for user in &self.users {
            user.validate()?;
            if !names.insert(user.username.as_str()) {
                return Err(DevIdpError::Config(format!(
                    "user {:?} is configured twice",
                    user.username
                )));
            }
        }
        if let Some(name) = &self.auto_approve
            && !names.contains(name.as_str())
        {
            return Err(DevIdpError::UnknownUser(name.clone()));
        }
        let lifetimes = [
            self.lifetimes.access_token,
            self.lifetimes.id_token,
            self.lifetimes.refresh_token,
            self.lifetimes.session,
        ];
        if lifetimes.iter().any(|ttl| *ttl <= 0) {
            return Err(DevIdpError::Config(
                "token and session lifetimes must be at least one second".into(),
            ));
        }
        if !self.allow_non_loopback && !self.bind.ip().is_loopback() {
            return Err(DevIdpError::NotLoopback(self.bind));
        }
        Ok(())
    }
}
