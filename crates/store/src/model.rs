//! Plain data types passed to and returned by the [`Store`](crate::Store).
//!
//! Times are unix seconds (`i64`), always supplied by the caller.

use std::fmt;

/// Name of the default role every user holds.
pub const USER_ROLE: &str = "user";

/// Name of the default role held by exactly the users whose admin flag is set.
pub const ADMIN_ROLE: &str = "admin";

/// A user as stored, with its group and role names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// Database id.
    pub id: i64,
    /// Unique (normalized) user name.
    pub name: String,
    /// Admin flag.
    pub admin: bool,
    /// When the user row was created.
    pub created: i64,
    /// Last recorded activity, if any.
    pub last_activity: Option<i64>,
    /// Names of the groups the user belongs to, sorted.
    pub groups: Vec<String>,
    /// Names of the roles the user holds, sorted.
    pub roles: Vec<String>,
}

/// What to do with the stored (encrypted) auth_state.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum AuthStateUpdate {
    /// Leave the stored value unchanged.
    #[default]
    Keep,
    /// Replace it with these bytes (already encrypted by the caller).
    Set(Vec<u8>),
    /// Remove the stored value.
    Clear,
}

impl fmt::Debug for AuthStateUpdate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Keep => f.write_str("Keep"),
            Self::Set(bytes) => write!(f, "Set([{} bytes redacted])", bytes.len()),
            Self::Clear => f.write_str("Clear"),
        }
    }
}

/// The persistence step of a login or refresh (JupyterHub's `auth_to_user`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginUpdate {
    /// The (normalized) user name.
    pub name: String,
    /// `Some` stores the admin flag; `None` leaves it unchanged.
    pub admin: Option<bool>,
    /// `Some` makes group membership exactly this set (missing groups are
    /// created, `[]` removes every membership); `None` leaves it unchanged.
    pub groups: Option<Vec<String>>,
    /// What to do with the stored auth_state.
    pub auth_state: AuthStateUpdate,
    /// Current time; used as `created` for a new user and as `last_activity`.
    pub now: i64,
    /// Create the user when missing; when false a missing user is
    /// [`StoreError::NotFound`](crate::StoreError::NotFound) (refresh of a deleted user).
    pub create_if_missing: bool,
}

/// Result of [`Store::apply_login`](crate::Store::apply_login).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginOutcome {
    /// The user after the update.
    pub user: UserRecord,
    /// True when the user row was created by this call.
    pub created: bool,
}

/// A browser session to create.
#[derive(Clone, PartialEq, Eq)]
pub struct NewSession {
    /// Hex SHA-256 of the random session id (the raw id is never stored).
    pub id_hash: String,
    /// Name of the session's user.
    pub user: String,
    /// Creation time; also the initial `last_seen`.
    pub created: i64,
    /// First second at which the session is no longer valid.
    pub expires: i64,
    /// The session at an OpenID provider the login came from, stored with the session
    /// (as [`Store::link_provider_session`](crate::Store::link_provider_session) would
    /// link it) so that the provider's logout token can end it; `None` for other logins.
    pub provider: Option<ProviderSessionLink>,
}

impl fmt::Debug for NewSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewSession")
            .field("id_hash", &"[redacted]")
            .field("user", &self.user)
            .field("created", &self.created)
            .field("expires", &self.expires)
            .field("provider", &self.provider)
            .finish()
    }
}

/// A stored browser session.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// Hex SHA-256 of the session id.
    pub id_hash: String,
    /// Name of the session's user.
    pub user: String,
    /// Creation time.
    pub created: i64,
    /// First second at which the session is no longer valid.
    pub expires: i64,
    /// Last time the session was used.
    pub last_seen: i64,
}

impl SessionRecord {
    /// True when the session has not expired at `now` (`now < expires`).
    pub fn is_valid_at(&self, now: i64) -> bool {
        now < self.expires
    }
}

impl fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionRecord")
            .field("id_hash", &"[redacted]")
            .field("user", &self.user)
            .field("created", &self.created)
            .field("expires", &self.expires)
            .field("last_seen", &self.last_seen)
            .finish()
    }
}

/// An API token to create.
#[derive(Clone, PartialEq, Eq)]
pub struct NewApiToken {
    /// Digest of the token (unique; the token itself is never stored).
    pub hash: String,
    /// The token's first few characters, shown to users to tell tokens apart.
    pub prefix: String,
    /// Name of the token's owner.
    pub user: String,
    /// Free-text note.
    pub note: String,
    /// Scopes the token carries.
    pub scopes: Vec<String>,
    /// Creation time.
    pub created: i64,
    /// First second at which the token is no longer valid; `None` = never expires.
    pub expires: Option<i64>,
}

impl fmt::Debug for NewApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewApiToken")
            .field("hash", &"[redacted]")
            .field("prefix", &self.prefix)
            .field("user", &self.user)
            .field("note", &self.note)
            .field("scopes", &self.scopes)
            .field("created", &self.created)
            .field("expires", &self.expires)
            .finish()
    }
}

/// A stored API token.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiTokenRecord {
    /// Database id.
    pub id: i64,
    /// Digest of the token.
    pub hash: String,
    /// The token's first few characters.
    pub prefix: String,
    /// Name of the token's owner.
    pub user: String,
    /// Free-text note.
    pub note: String,
    /// Scopes the token carries.
    pub scopes: Vec<String>,
    /// Creation time.
    pub created: i64,
    /// First second at which the token is no longer valid; `None` = never expires.
    pub expires: Option<i64>,
    /// Last time the token was used, if recorded.
    pub last_activity: Option<i64>,
}

impl ApiTokenRecord {
    /// True when the token has not expired at `now`.
    pub fn is_valid_at(&self, now: i64) -> bool {
        self.expires.is_none_or(|expires| now < expires)
    }
}

impl fmt::Debug for ApiTokenRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiTokenRecord")
            .field("id", &self.id)
            .field("hash", &"[redacted]")
            .field("prefix", &self.prefix)
            .field("user", &self.user)
            .field("note", &self.note)
            .field("scopes", &self.scopes)
            .field("created", &self.created)
            .field("expires", &self.expires)
            .field("last_activity", &self.last_activity)
            .finish()
    }
}

/// A group with its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRecord {
    /// Unique group name.
    pub name: String,
    /// Member user names, sorted.
    pub users: Vec<String>,
}

/// A role to create or update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSpec {
    /// Unique role name.
    pub name: String,
    /// Human-readable description.
    pub description: String,
    /// Scopes the role grants.
    pub scopes: Vec<String>,
    /// True when the authenticator manages this role (`manage_roles`).
    pub managed_by_auth: bool,
}

/// A stored role with the users holding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRecord {
    /// Unique role name.
    pub name: String,
    /// Human-readable description.
    pub description: String,
    /// Scopes the role grants.
    pub scopes: Vec<String>,
    /// True when the authenticator manages this role.
    pub managed_by_auth: bool,
    /// Names of the users holding the role, sorted.
    pub users: Vec<String>,
}

/// A pending redirect login (OAuth state) to store.
#[derive(Clone, PartialEq, Eq)]
pub struct NewLoginState {
    /// Hex SHA-256 of the random state id sent to the identity provider.
    pub state_hash: String,
    /// What the login needs at the callback (JSON: browser binding, next URL, PKCE
    /// verifier, nonce, redirect URI).
    pub data: String,
    /// When it was created (unix seconds).
    pub created: i64,
    /// When it stops being accepted (unix seconds).
    pub expires: i64,
}

impl std::fmt::Debug for NewLoginState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewLoginState")
            .field("created", &self.created)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

/// Who a pending login belongs to, for [`crate::Store::put_login_state_capped`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLoginOwner {
    /// Hash of the browser binding cookie the attempt is bound to.
    pub browser: String,
    /// The client's address bucket (IPv4 address, IPv6 /64), or empty when unknown.
    pub client: String,
    /// The `next` URL the attempt returns to (empty for none), kept for operators'
    /// queries.
    pub next: String,
}

/// How many pending logins may exist, for [`crate::Store::put_login_state_capped`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingLoginLimits {
    /// Per browser binding: beyond it the oldest attempt of that browser is dropped.
    pub per_browser: u32,
    /// Per client address bucket: beyond it new attempts are refused (0 = no limit).
    pub per_client: u32,
    /// In all: beyond it new attempts are refused (0 = no limit).
    pub total: u32,
}

/// What [`crate::Store::put_login_state_capped`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingLoginOutcome {
    /// Stored (the browser's oldest attempts beyond `per_browser` were dropped).
    Stored,
    /// Not stored: the client address has `per_client` pending logins already.
    ClientLimit,
    /// Not stored: the table holds `total` pending logins already.
    Full,
}

/// A pending redirect login taken from the store.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginStateRecord {
    /// What was stored with it.
    pub data: String,
    /// When it was created (unix seconds).
    pub created: i64,
    /// When it stops being accepted (unix seconds).
    pub expires: i64,
}

impl LoginStateRecord {
    /// Whether the state is still accepted at `now`.
    pub fn is_valid_at(&self, now: i64) -> bool {
        now < self.expires
    }
}

impl std::fmt::Debug for LoginStateRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginStateRecord")
            .field("created", &self.created)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

/// One user's stored (encrypted) auth_state, as listed for bulk maintenance
/// such as key rotation ([`Store::auth_state_page`](crate::Store::auth_state_page)).
#[derive(Clone, PartialEq, Eq)]
pub struct StoredAuthState {
    /// The user's database id (the page order and the resume point).
    pub user_id: i64,
    /// The user's name.
    pub name: String,
    /// The encrypted bytes as stored.
    pub encrypted: Vec<u8>,
}

impl fmt::Debug for StoredAuthState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredAuthState")
            .field("user_id", &self.user_id)
            .field("name", &self.name)
            .field(
                "encrypted",
                &format_args!("[{} bytes redacted]", self.encrypted.len()),
            )
            .finish()
    }
}

/// A compare-and-swap of one user's auth_state
/// ([`Store::replace_auth_states`](crate::Store::replace_auth_states)): the new
/// value is written only when the stored bytes are still `expected`, so a login
/// that stored fresh auth_state in the meantime is never overwritten.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthStateSwap {
    /// The user's database id.
    pub user_id: i64,
    /// The bytes the caller read and transformed.
    pub expected: Vec<u8>,
    /// The replacement: new encrypted bytes, or `None` to clear.
    pub replacement: Option<Vec<u8>>,
}

impl fmt::Debug for AuthStateSwap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthStateSwap")
            .field("user_id", &self.user_id)
            .field(
                "expected",
                &format_args!("[{} bytes redacted]", self.expected.len()),
            )
            .field(
                "replacement",
                &self
                    .replacement
                    .as_ref()
                    .map(|r| format!("[{} bytes redacted]", r.len())),
            )
            .finish()
    }
}

/// How [`Store::list_users_page`](crate::Store::list_users_page) orders users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserSort {
    /// By database id (creation order), JupyterHub's default.
    #[default]
    Id,
    /// By name.
    Name,
    /// By last activity (users that were never active come first ascending, last
    /// descending, as JupyterHub orders them).
    LastActivity,
}

/// One page of the user list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserQuery {
    /// Users to skip.
    pub offset: u64,
    /// Most users to return.
    pub limit: u64,
    /// Keep only users whose name contains this text (case-insensitive); `None` or an
    /// empty text keeps all.
    pub name_filter: Option<String>,
    /// The order.
    pub sort: UserSort,
    /// Reverse the order.
    pub descending: bool,
}

/// A page of users and how many users match in all.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserPage {
    /// The users of this page, in the asked order, with groups and roles.
    pub users: Vec<UserRecord>,
    /// How many users match the filter in all pages.
    pub total: u64,
}

/// What an OAuth grant row of the hub's provider is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthGrantKind {
    /// An authorization code: the root of a token family.
    Code,
    /// A refresh token, issued with an access token when a code or an earlier refresh
    /// token of the same family was used.
    Refresh,
}

impl OAuthGrantKind {
    /// The value stored in the `kind` column.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            OAuthGrantKind::Code => "code",
            OAuthGrantKind::Refresh => "refresh",
        }
    }

    /// The kind a `kind` column holds; `None` for anything else.
    pub(crate) fn parse(value: &str) -> Option<Self> {
        match value {
            "code" => Some(OAuthGrantKind::Code),
            "refresh" => Some(OAuthGrantKind::Refresh),
            _ => None,
        }
    }
}

/// Where an OAuth grant is in its single-use life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthGrantState {
    /// Not used yet: it can be exchanged once, until it expires.
    Active,
    /// Exchanged once; presenting it again revokes its family.
    Used,
    /// Its family was revoked (a replay, or revocation by the client).
    Revoked,
}

impl OAuthGrantState {
    /// The value stored in the `state` column.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            OAuthGrantState::Active => "active",
            OAuthGrantState::Used => "used",
            OAuthGrantState::Revoked => "revoked",
        }
    }

    /// The state a `state` column holds. Anything unknown reads as revoked, so that a
    /// row nobody can interpret is never accepted.
    pub(crate) fn parse(value: &str) -> Self {
        match value {
            "active" => OAuthGrantState::Active,
            "used" => OAuthGrantState::Used,
            _ => OAuthGrantState::Revoked,
        }
    }
}

/// A new OAuth grant: an authorization code (the root of a new family) or, inside
/// [`OAuthExchange`], the next refresh token of a family.
#[derive(Clone, PartialEq, Eq)]
pub struct NewOAuthGrant {
    /// Digest of the code or refresh token (unique; the value itself is never stored).
    pub hash: String,
    /// What the grant stands for (JSON chosen by the caller: client, user, scopes, ...).
    pub data: String,
    /// When it was created (unix seconds).
    pub created: i64,
    /// First second at which it is no longer accepted.
    pub expires: i64,
}

impl fmt::Debug for NewOAuthGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewOAuthGrant")
            .field("hash", &"[redacted]")
            .field("created", &self.created)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

/// A stored OAuth grant.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthGrantRecord {
    /// Digest of the code or refresh token.
    pub hash: String,
    /// The family: the digest of the code every grant of the family descends from.
    pub family: String,
    /// Code or refresh token.
    pub kind: OAuthGrantKind,
    /// Active, used or revoked.
    pub state: OAuthGrantState,
    /// What was stored with it.
    pub data: String,
    /// When it was created (unix seconds).
    pub created: i64,
    /// First second at which it is no longer accepted.
    pub expires: i64,
}

impl OAuthGrantRecord {
    /// Whether it can still be exchanged at `now`: active and not expired.
    pub fn is_usable_at(&self, now: i64) -> bool {
        self.state == OAuthGrantState::Active && now < self.expires
    }
}

impl fmt::Debug for OAuthGrantRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthGrantRecord")
            .field("hash", &"[redacted]")
            .field("kind", &self.kind)
            .field("state", &self.state)
            .field("created", &self.created)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

/// Using an active grant once: it becomes used, and an access token and the next refresh
/// token of its family are stored, all in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthExchange {
    /// Digest of the code or refresh token presented.
    pub hash: String,
    /// What it must be (a code is never accepted as a refresh token, nor the reverse).
    pub kind: OAuthGrantKind,
    /// Now (unix seconds): an expired grant is not exchanged.
    pub now: i64,
    /// The access token to issue (its user must exist).
    pub access_token: NewApiToken,
    /// The refresh token to issue, in the same family.
    pub refresh: NewOAuthGrant,
}

/// What [`Store::exchange_oauth_grant`](crate::Store::exchange_oauth_grant) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthExchangeOutcome {
    /// The grant was active: it is used now, and the access token (returned) and the
    /// refresh token were stored.
    Issued(ApiTokenRecord),
    /// The grant had been used (or revoked) before: this is a replay, and the whole
    /// family has been revoked now. Holds how many access tokens that deleted.
    Replayed {
        /// Access tokens of the family deleted by this call.
        revoked_tokens: u64,
    },
    /// No grant of that kind under the digest, or it expired: nothing changed.
    Invalid,
}

/// A user written by an import from another hub's database
/// ([`Store::import_batch`](crate::Store::import_batch)), with its own times.
#[derive(Clone, PartialEq, Eq)]
pub struct ImportedUser {
    /// The user name.
    pub name: String,
    /// Admin flag (the default roles follow it: `admin` exactly when set, `user` always).
    pub admin: bool,
    /// When the user was created at the other hub (unix seconds).
    pub created: i64,
    /// Last activity recorded by the other hub, if any.
    pub last_activity: Option<i64>,
    /// The encrypted auth_state bytes, copied as they are (`None` stores none).
    pub auth_state: Option<Vec<u8>>,
    /// Groups the user belongs to (created when missing).
    pub groups: Vec<String>,
    /// Roles besides the default ones the user holds (each must exist or be in the same
    /// batch).
    pub roles: Vec<String>,
    /// When the user exists: true makes groups and roles exactly these (and replaces
    /// every field); false adds them to what the user has.
    pub replace: bool,
}

impl fmt::Debug for ImportedUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImportedUser")
            .field("name", &self.name)
            .field("admin", &self.admin)
            .field("created", &self.created)
            .field("last_activity", &self.last_activity)
            .field(
                "auth_state",
                &self
                    .auth_state
                    .as_ref()
                    .map(|bytes| format!("[{} bytes redacted]", bytes.len())),
            )
            .field("groups", &self.groups)
            .field("roles", &self.roles)
            .field("replace", &self.replace)
            .finish()
    }
}

/// An API token written by an import, with the other hub's stored hash (for JupyterHub,
/// `algorithm:rounds:salt:hexdigest`, checked by
/// [`Store::find_api_token_by_value`](crate::Store::find_api_token_by_value)).
#[derive(Clone, PartialEq, Eq)]
pub struct ImportedApiToken {
    /// The stored hash, as the other hub stored it (unique).
    pub hash: String,
    /// The token's prefix as stored.
    pub prefix: String,
    /// Name of the token's owner (must exist or be in the same batch).
    pub user: String,
    /// Free-text note.
    pub note: String,
    /// Scopes the token carries.
    pub scopes: Vec<String>,
    /// Creation time.
    pub created: i64,
    /// First second at which the token is no longer valid; `None` = never expires.
    pub expires: Option<i64>,
    /// Last time the token was used, if recorded.
    pub last_activity: Option<i64>,
}

impl fmt::Debug for ImportedApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImportedApiToken")
            .field("hash", &"[redacted]")
            .field("prefix", &self.prefix)
            .field("user", &self.user)
            .field("note", &self.note)
            .field("scopes", &self.scopes)
            .field("created", &self.created)
            .field("expires", &self.expires)
            .field("last_activity", &self.last_activity)
            .finish()
    }
}

/// One batch of an import, written in one transaction
/// ([`Store::import_batch`](crate::Store::import_batch)), in this order: groups, roles,
/// users (with memberships and role grants), tokens.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImportBatch {
    /// Groups to create when missing.
    pub groups: Vec<String>,
    /// Roles to create, or whose description and scopes to replace.
    pub roles: Vec<RoleSpec>,
    /// Users to create or update.
    pub users: Vec<ImportedUser>,
    /// Tokens to create (a hash already stored is a conflict and nothing is written).
    pub tokens: Vec<ImportedApiToken>,
}

impl ImportBatch {
    /// Whether the batch writes nothing.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
            && self.roles.is_empty()
            && self.users.is_empty()
            && self.tokens.is_empty()
    }
}

/// The session at an OpenID provider a hub session came from (OpenID Connect Back-Channel
/// Logout 1.0): the verified ID token's `iss`, `sub` and `sid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderSessionLink {
    /// The provider's issuer.
    pub issuer: String,
    /// The subject at that provider.
    pub subject: String,
    /// The provider's session id, when its ID token carried one.
    pub sid: Option<String>,
}

/// Which sessions a logout token names (§2.4): with `sid`, the sessions of that provider
/// session (and of `subject` too, when both are given); with `subject` only, every
/// session of that subject at the issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderSessionQuery<'a> {
    /// The provider's issuer (always matched exactly).
    pub issuer: &'a str,
    /// `sub`, when the token has one.
    pub subject: Option<&'a str>,
    /// `sid`, when the token has one.
    pub sid: Option<&'a str>,
}

/// A back-channel logout notice to queue: tell service `client_id` that `user`'s session
/// `sid` (or, with `None`, every session of the user) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLogoutNotice {
    /// The service's OAuth client id.
    pub client_id: String,
    /// The user (the logout token's `sub`).
    pub user: String,
    /// The ended hub session's `sid`; `None` when every session of the user ended.
    pub sid: Option<String>,
}

/// A queued back-channel logout notice, as claimed by a process that will send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedLogoutNotice {
    /// The row's id (to record attempts and to delete it).
    pub id: i64,
    /// What to send.
    pub notice: NewLogoutNotice,
    /// Attempts made so far, by any process.
    pub attempts: u32,
    /// When it was queued (unix seconds).
    pub created: i64,
}
