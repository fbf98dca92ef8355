//! What is read from a JupyterHub database, as JupyterHub stored it. Times are unix
//! seconds (JupyterHub stores naive UTC). Secrets (token hashes, client secret hashes,
//! auth_state) never appear in `Debug` output.

use std::fmt;

use crate::SchemaVersion;

/// Everything the importer reads, at one moment of the source.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The schema version of the source (`None` only for a default value).
    pub schema: Option<SchemaVersion>,
    /// Users, in id order.
    pub users: Vec<JhUser>,
    /// Groups, in id order.
    pub groups: Vec<JhGroup>,
    /// Roles, in id order (JupyterHub's default roles included).
    pub roles: Vec<JhRole>,
    /// API tokens of users and services, in id order.
    pub tokens: Vec<JhToken>,
    /// OAuth clients (of services, of single-user servers, and JupyterHub's own).
    pub oauth_clients: Vec<JhOAuthClient>,
}

/// A JupyterHub user.
#[derive(Clone, PartialEq, Eq)]
pub struct JhUser {
    /// The name.
    pub name: String,
    /// The admin flag (`NULL` reads as false).
    pub admin: bool,
    /// When the user was created (`None` when JupyterHub has no value).
    pub created: Option<i64>,
    /// The last activity JupyterHub recorded.
    pub last_activity: Option<i64>,
    /// The Fernet-encrypted auth_state, as stored.
    pub encrypted_auth_state: Option<Vec<u8>>,
    /// Names of the user's groups, sorted.
    pub groups: Vec<String>,
    /// Names of the roles assigned to the user, sorted.
    pub roles: Vec<String>,
}

impl fmt::Debug for JhUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JhUser")
            .field("name", &self.name)
            .field("admin", &self.admin)
            .field("created", &self.created)
            .field("last_activity", &self.last_activity)
            .field(
                "encrypted_auth_state",
                &self
                    .encrypted_auth_state
                    .as_ref()
                    .map(|bytes| format!("[{} bytes redacted]", bytes.len())),
            )
            .field("groups", &self.groups)
            .field("roles", &self.roles)
            .finish()
    }
}

/// A JupyterHub group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JhGroup {
    /// The name.
    pub name: String,
    /// The group's `properties` (a JSON object as text), when set and not `{}`.
    pub properties: Option<String>,
    /// Names of the roles assigned to the group, sorted.
    pub roles: Vec<String>,
}

/// A JupyterHub role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JhRole {
    /// The name.
    pub name: String,
    /// The description (empty when unset).
    pub description: String,
    /// The scopes column as stored (a JSON list as text).
    pub scopes: Option<String>,
    /// Whether the authenticator manages the role (JupyterHub 5 and later).
    pub managed_by_auth: bool,
    /// Users holding the role, sorted.
    pub users: Vec<String>,
    /// Groups holding the role, sorted.
    pub groups: Vec<String>,
    /// Services holding the role, sorted.
    pub services: Vec<String>,
}

/// Who a JupyterHub API token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenOwner {
    /// A user, by name.
    User(String),
    /// A service, by name.
    Service(String),
    /// Neither (an orphan row).
    Nobody,
}

/// A JupyterHub API token (only its hash is stored, never the token).
#[derive(Clone, PartialEq, Eq)]
pub struct JhToken {
    /// JupyterHub's id (the API shows it as `a<id>`).
    pub id: i64,
    /// The stored hash (`algorithm:rounds:salt:hexdigest`).
    pub hashed: String,
    /// The token's first characters, as stored.
    pub prefix: String,
    /// The owner.
    pub owner: TokenOwner,
    /// The OAuth client the token was issued to (`jupyterhub` for tokens made through
    /// the API or the token page).
    pub client_id: Option<String>,
    /// Creation time.
    pub created: Option<i64>,
    /// Expiry, if any.
    pub expires: Option<i64>,
    /// Last use, if recorded.
    pub last_activity: Option<i64>,
    /// The note.
    pub note: String,
    /// The scopes column as stored (a JSON list as text).
    pub scopes: Option<String>,
}

impl fmt::Debug for JhToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JhToken")
            .field("id", &self.id)
            .field("hashed", &"[redacted]")
            .field("prefix", &self.prefix)
            .field("owner", &self.owner)
            .field("client_id", &self.client_id)
            .field("created", &self.created)
            .field("expires", &self.expires)
            .field("last_activity", &self.last_activity)
            .field("note", &self.note)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// A JupyterHub OAuth client.
#[derive(Clone, PartialEq, Eq)]
pub struct JhOAuthClient {
    /// The client id.
    pub identifier: String,
    /// The description.
    pub description: String,
    /// The secret as stored: JupyterHub's hash of it (`algorithm:rounds:salt:hexdigest`),
    /// or empty.
    pub secret_hash: String,
    /// The redirect URI.
    pub redirect_uri: String,
    /// The scopes the client may request (JSON list as text).
    pub allowed_scopes: Option<String>,
    /// The service the client belongs to, if any.
    pub service: Option<String>,
}

impl fmt::Debug for JhOAuthClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JhOAuthClient")
            .field("identifier", &self.identifier)
            .field("description", &self.description)
            .field("secret_hash", &"[redacted]")
            .field("redirect_uri", &self.redirect_uri)
            .field("allowed_scopes", &self.allowed_scopes)
            .field("service", &self.service)
            .finish()
    }
}
