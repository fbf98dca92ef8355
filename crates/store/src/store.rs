//! The engine-independent store interface.

use async_trait::async_trait;

use crate::StoreError;
use crate::events::{CacheEvent, CacheEvents};
use crate::jupyterhub_hash::{
    JUPYTERHUB_MAX_TOKEN_LEN, JUPYTERHUB_PREFIX_LEN, jupyterhub_hash_matches, jupyterhub_prefix,
};
use crate::model::ImportBatch;
use crate::model::{
    ApiTokenRecord, GroupRecord, LoginOutcome, LoginUpdate, NewApiToken, NewSession, RoleRecord,
    RoleSpec, SessionRecord, UserRecord,
};
use crate::model::{AuthStateSwap, StoredAuthState};
use crate::model::{LoginStateRecord, NewLoginState};
use crate::model::{NewLogoutNotice, QueuedLogoutNotice};
use crate::model::{NewOAuthGrant, OAuthExchange, OAuthExchangeOutcome, OAuthGrantRecord};
use crate::model::{PendingLoginLimits, PendingLoginOutcome, PendingLoginOwner};
use crate::model::{ProviderSessionLink, ProviderSessionQuery};
use crate::model::{UserPage, UserQuery};

/// hubauth's database: users, groups, roles, sessions, API tokens and encrypted
/// auth_state.
///
/// Callers hold it as `Arc<dyn Store>`, so a PostgreSQL engine can be added
/// without touching them. Every method is atomic. Times are unix seconds passed
/// in by the caller; the store never reads the clock. Unless a method says
/// otherwise, naming a user that does not exist is [`StoreError::NotFound`].
#[async_trait]
pub trait Store: Send + Sync {
    /// Check that the database answers (readiness probe).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Close all connections; later calls fail with [`StoreError::Unavailable`].
    async fn close(&self);

    // ----- cache invalidation between hub processes (see `CacheEvent`) -----

    /// Tells the other hub processes sharing this database to forget what `event` names
    /// from their session caches (call it after the change is committed). PostgreSQL
    /// sends a notification; SQLite, one process per database, does nothing. This store's
    /// own [`Store::cache_events`] never yields it. [`CacheEvent::Listening`] is never
    /// sent.
    async fn announce(&self, event: &CacheEvent) -> Result<(), StoreError>;

    /// The events other hub processes announce, from a connection of its own that
    /// reconnects by itself ([`CacheEvent::Listening`] each time it is up); `None` where
    /// there are no other processes to hear from (SQLite). Call it once per process; its
    /// connection is not the pool's, so [`Store::close`] leaves it: drop the
    /// [`CacheEvents`] to stop listening.
    fn cache_events(&self) -> Option<CacheEvents>;

    // ----- users -----

    /// JupyterHub's persistence step after a login or refresh, in one transaction:
    /// create the user if missing (or `NotFound` when `create_if_missing` is
    /// false); store `admin` when `Some`; re-apply the default roles (`admin`
    /// exactly when the admin flag is set, `user` always); sync groups when
    /// `Some`; apply the auth_state update; set `last_activity` to `now`.
    async fn apply_login(&self, update: LoginUpdate) -> Result<LoginOutcome, StoreError>;

    /// The user named `name`, or `None`.
    async fn get_user(&self, name: &str) -> Result<Option<UserRecord>, StoreError>;

    /// All users, sorted by name.
    async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError>;

    /// All user names, sorted.
    async fn user_names(&self) -> Result<Vec<String>, StoreError>;

    /// One page of users (with groups and roles) and the number of users matching
    /// the filter, read in one transaction. Cost grows with the page, not with the
    /// number of users (beyond the count).
    async fn list_users_page(&self, query: UserQuery) -> Result<UserPage, StoreError>;

    /// Create the user with the default roles if missing. `admin: Some(flag)`
    /// stores the flag (and the matching `admin` role) on new and existing
    /// users; `None` leaves it. Returns the user and whether it was created.
    async fn ensure_user(
        &self,
        name: &str,
        admin: Option<bool>,
        now: i64,
    ) -> Result<(UserRecord, bool), StoreError>;

    /// Delete the user with its sessions, tokens, memberships and role
    /// grants. Returns false when there was no such user.
    async fn delete_user(&self, name: &str) -> Result<bool, StoreError>;

    /// Set the admin flag and grant or strip the `admin` role to match.
    async fn set_admin(&self, name: &str, admin: bool) -> Result<(), StoreError>;

    /// Clear the admin flag and remove every role and group membership (for
    /// blocked users: their tokens are left with no scopes).
    async fn strip_privileges(&self, name: &str) -> Result<(), StoreError>;

    /// Set the user's `last_activity` to `now`.
    async fn touch_activity(&self, name: &str, now: i64) -> Result<(), StoreError>;

    // ----- auth_state -----

    /// The user's stored (encrypted) auth_state bytes, or `None` when unset.
    async fn get_auth_state(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Replace (`Some`) or clear (`None`) the user's encrypted auth_state.
    async fn set_auth_state(&self, name: &str, state: Option<Vec<u8>>) -> Result<(), StoreError>;

    // ----- login methods (a hub with several) -----

    /// The login method that last logged the user in (its auth_state, refresh and logout
    /// belong to it), or `None` when no method has (created through the API, or stored by
    /// a hub with one login method).
    async fn login_method(&self, name: &str) -> Result<Option<String>, StoreError>;

    /// Records that `method` logged the user in: it becomes the account's last method
    /// ([`Store::login_method`]) and one of its methods ([`Store::login_methods_of`]),
    /// with the groups it gave the user when it manages groups (`None` when it does not).
    async fn record_login_method(
        &self,
        name: &str,
        method: &str,
        groups: Option<&[String]>,
    ) -> Result<(), StoreError>;

    /// The groups each login method that manages groups last gave the user, by method.
    async fn method_groups(&self, name: &str) -> Result<Vec<(String, Vec<String>)>, StoreError>;

    /// Every login method that has logged the user in, sorted (empty for none).
    async fn login_methods_of(&self, name: &str) -> Result<Vec<String>, StoreError>;

    /// The user a linking rule's verified identity (`kind`, `value`) names, if any.
    async fn linked_user(&self, kind: &str, value: &str) -> Result<Option<String>, StoreError>;

    /// Makes the verified identity (`kind`, `value`) name the user (replacing the user it
    /// named before, if any).
    async fn set_login_link(&self, kind: &str, value: &str, user: &str) -> Result<(), StoreError>;

    // ----- sessions -----

    /// Store a new session (`last_seen` = `created`). A duplicate `id_hash` is
    /// [`StoreError::Conflict`].
    async fn create_session(&self, session: NewSession) -> Result<(), StoreError>;

    /// The session with this id hash, even if expired (see
    /// [`SessionRecord::is_valid_at`]), or `None`.
    async fn get_session(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError>;

    /// Set the session's `last_seen` to `now`. Returns false when it no longer exists.
    async fn touch_session(&self, id_hash: &str, now: i64) -> Result<bool, StoreError>;

    /// Delete one session. Returns false when it did not exist.
    async fn delete_session(&self, id_hash: &str) -> Result<bool, StoreError>;

    /// Delete every session of the user (0 for an unknown user). Returns how many.
    async fn delete_user_sessions(&self, user: &str) -> Result<u64, StoreError>;

    /// Delete sessions with `expires <= now`. Returns how many.
    async fn delete_expired_sessions(&self, now: i64) -> Result<u64, StoreError>;

    /// Up to `limit` sessions with `expires <= now`, oldest expiry first (for the periodic
    /// clean-up, which ends each one as a logout would).
    async fn expired_sessions(
        &self,
        now: i64,
        limit: u32,
    ) -> Result<Vec<SessionRecord>, StoreError>;

    /// How many sessions are still valid at `now` (`expires > now`), for the
    /// `hubauth_active_sessions` gauge.
    async fn count_active_sessions(&self, now: i64) -> Result<u64, StoreError>;

    /// Remembers which OpenID provider session a hub session came from (back-channel
    /// logout). Returns false when the session no longer exists.
    async fn link_provider_session(
        &self,
        id_hash: &str,
        link: &ProviderSessionLink,
    ) -> Result<bool, StoreError>;

    /// The sessions (expired or not) a logout token names (see [`ProviderSessionQuery`]);
    /// none when the query has neither subject nor sid.
    async fn provider_sessions(
        &self,
        query: ProviderSessionQuery<'_>,
    ) -> Result<Vec<SessionRecord>, StoreError>;

    /// Records a logout token's `jti` for `issuer` until `expires`, first forgetting those
    /// expired at `now`. Returns false when it is already recorded: a replay, refused on
    /// every replica sharing the database.
    async fn record_logout_token(
        &self,
        issuer: &str,
        jti: &str,
        expires: i64,
        now: i64,
    ) -> Result<bool, StoreError>;

    // ----- back-channel logout outbox -----

    /// Queues `notices` at `now` unless the outbox already holds `max_queued` or more;
    /// returns how many were queued (all or none).
    async fn queue_logout_notices(
        &self,
        notices: &[NewLogoutNotice],
        now: i64,
        max_queued: u64,
    ) -> Result<u64, StoreError>;

    /// Claims for `owner` (a process's instance id) up to `limit` notices, oldest first,
    /// that nobody holds or whose claim was made before `stale_before` (its process is
    /// presumed gone); no two callers ever get the same row from one claim.
    async fn claim_logout_notices(
        &self,
        owner: &str,
        now: i64,
        stale_before: i64,
        limit: u32,
    ) -> Result<Vec<QueuedLogoutNotice>, StoreError>;

    /// Records that `attempts` attempts were made on notice `id`, while `owner` holds it;
    /// false when it no longer does (the row was taken over or is gone).
    async fn record_logout_notice_attempts(
        &self,
        id: i64,
        owner: &str,
        attempts: u32,
    ) -> Result<bool, StoreError>;

    /// Deletes notice `id` (delivered, or given up).
    async fn delete_logout_notice(&self, id: i64) -> Result<(), StoreError>;

    /// Gives back every notice `owner` holds (a process stopping), so another process
    /// sends them at once; returns how many.
    async fn release_logout_notices(&self, owner: &str) -> Result<u64, StoreError>;

    /// How many notices are queued, claimed or not.
    async fn count_logout_notices(&self) -> Result<u64, StoreError>;

    // ----- API tokens -----

    /// Store a new API token and return it with its id. A duplicate hash is
    /// [`StoreError::Conflict`].
    async fn create_api_token(&self, token: NewApiToken) -> Result<ApiTokenRecord, StoreError>;

    /// The token with this hash, even if expired (see
    /// [`ApiTokenRecord::is_valid_at`]), or `None`.
    async fn find_api_token(&self, hash: &str) -> Result<Option<ApiTokenRecord>, StoreError>;

    /// The token whose value is `token`, even if expired, or `None`: the token stored
    /// under `hash` (hubauth's own digest of `token`, computed by the caller), or else a
    /// token imported from JupyterHub whose stored hash `token` matches (JupyterHub's
    /// lookup: the candidates sharing the token's first four characters, each compared
    /// in constant time; tokens over 64 characters never match one).
    async fn find_api_token_by_value(
        &self,
        token: &str,
        hash: &str,
    ) -> Result<Option<ApiTokenRecord>, StoreError> {
        if let Some(found) = self.find_api_token(hash).await? {
            return Ok(Some(found));
        }
        let length = token.chars().count();
        if !(JUPYTERHUB_PREFIX_LEN..=JUPYTERHUB_MAX_TOKEN_LEN).contains(&length) {
            return Ok(None);
        }
        let candidates = self
            .find_jupyterhub_api_tokens(&jupyterhub_prefix(token))
            .await?;
        Ok(candidates
            .into_iter()
            .find(|candidate| jupyterhub_hash_matches(&candidate.hash, token)))
    }

    /// The tokens imported from JupyterHub (stored hash in JupyterHub's
    /// `algorithm:rounds:salt:hexdigest` format) whose prefix is `prefix`, by id.
    async fn find_jupyterhub_api_tokens(
        &self,
        prefix: &str,
    ) -> Result<Vec<ApiTokenRecord>, StoreError>;

    /// The user's tokens, by id.
    async fn list_api_tokens(&self, user: &str) -> Result<Vec<ApiTokenRecord>, StoreError>;

    /// Set the token's `last_activity` to `now`. Returns false when it no longer exists.
    async fn touch_api_token(&self, id: i64, now: i64) -> Result<bool, StoreError>;

    /// Delete the user's token with this id. Returns false when the user has no
    /// such token (including when the user does not exist).
    async fn delete_api_token(&self, user: &str, id: i64) -> Result<bool, StoreError>;

    /// Delete tokens with an expiry at or before `now` (tokens without one stay).
    /// Returns how many.
    async fn delete_expired_api_tokens(&self, now: i64) -> Result<u64, StoreError>;

    // ----- groups -----

    /// All groups with their members, sorted by name.
    async fn list_groups(&self) -> Result<Vec<GroupRecord>, StoreError>;

    /// Create an empty group; an existing name is [`StoreError::Conflict`].
    async fn create_group(&self, name: &str) -> Result<(), StoreError>;

    /// Delete a group and its memberships. Returns false when it did not exist.
    async fn delete_group(&self, name: &str) -> Result<bool, StoreError>;

    /// Add users to a group (all or nothing: an unknown group or user is
    /// `NotFound`); existing members are left as they are.
    async fn add_group_members(&self, group: &str, users: &[String]) -> Result<(), StoreError>;

    /// Remove users from a group (unknown group is `NotFound`; names that are
    /// not members, or not users, are ignored).
    async fn remove_group_members(&self, group: &str, users: &[String]) -> Result<(), StoreError>;

    // ----- roles -----

    /// All roles with the users holding them, sorted by name.
    async fn list_roles(&self) -> Result<Vec<RoleRecord>, StoreError>;

    /// The roles with these names, without their holders (names that are not roles
    /// are left out), sorted by name. Cheap: for resolving a user's scopes.
    async fn get_roles(&self, names: &[String]) -> Result<Vec<RoleSpec>, StoreError>;

    /// Create the role, or update description, scopes and `managed_by_auth` of
    /// an existing one (its grants are kept).
    async fn upsert_role(&self, role: RoleSpec) -> Result<(), StoreError>;

    /// Delete a role and its grants. Returns false when it did not exist.
    async fn delete_role(&self, name: &str) -> Result<bool, StoreError>;

    /// Give the role to these users, in one transaction: with `replace`, the role's
    /// holders become exactly them; without, they are added to the holders. Names
    /// that are not users are skipped and returned. An unknown role is `NotFound`.
    async fn assign_role(
        &self,
        role: &str,
        users: &[String],
        replace: bool,
    ) -> Result<Vec<String>, StoreError>;

    /// Make the user's roles exactly `roles`. The default roles `user` and
    /// `admin` are created on demand; any other unknown role is `NotFound`.
    /// The admin flag is not changed.
    async fn set_user_roles(&self, user: &str, roles: &[String]) -> Result<(), StoreError>;

    // ----- multi-row changes in one transaction (REST API) -----

    /// Create these users with the default roles (`user`, and `admin` too when
    /// `admin` is set), in one transaction: all or nothing. An existing (or
    /// repeated) name is `Conflict` and nobody is created. Returns the new users
    /// in the order given.
    async fn create_users(
        &self,
        names: &[String],
        admin: bool,
        now: i64,
    ) -> Result<Vec<UserRecord>, StoreError>;

    /// Delete these users with their sessions, tokens, memberships, roles and
    /// auth_state, in one transaction. Names that are not users are skipped;
    /// returns how many users were deleted.
    async fn delete_users(&self, names: &[String]) -> Result<u64, StoreError>;

    /// Make the user's group membership exactly `groups`, in one transaction.
    /// An unknown user or group is `NotFound` and nothing changes (groups are not
    /// created here; logins with `manage_groups` create theirs).
    async fn set_user_groups(&self, user: &str, groups: &[String]) -> Result<(), StoreError>;

    /// Create these groups, each with its members, in one transaction: all or
    /// nothing. An existing (or repeated) group name is `Conflict`; an unknown
    /// member is `NotFound`.
    async fn create_groups(&self, groups: &[(String, Vec<String>)]) -> Result<(), StoreError>;

    /// Create a role and give it to these users (their other roles are kept), in
    /// one transaction. An existing role is `Conflict`; an unknown user is
    /// `NotFound`; either way nothing changes.
    async fn create_role_with_users(
        &self,
        role: RoleSpec,
        users: &[String],
    ) -> Result<(), StoreError>;

    // ----- imports -----

    /// Write one batch of an import from another hub's database in one transaction:
    /// groups created when missing; roles created or their description and scopes
    /// replaced; users created or updated with the given times, admin flag (and default
    /// roles), auth_state bytes, memberships and role grants (added to, or with
    /// `replace` made exactly, the given ones); tokens inserted with their stored hash. A
    /// token hash already stored is [`StoreError::Conflict`], an unknown role or token
    /// owner is `NotFound`; either way nothing of the batch is written.
    async fn import_batch(&self, batch: &ImportBatch) -> Result<(), StoreError>;

    // ----- pending redirect logins -----

    /// Store a pending login (OAuth state) under the hash of its state id.
    async fn put_login_state(&self, state: NewLoginState) -> Result<(), StoreError>;

    /// Store a pending login for `owner` within `limits`, in one transaction: expired
    /// logins are deleted, the browser's oldest attempts beyond `per_browser` are
    /// dropped (tabs of one browser may log in at once, even to the same `next`), and the
    /// login is refused (nothing stored) when the client or the whole table is at its
    /// limit. So no flood of anonymous login starts grows the table without bound.
    async fn put_login_state_capped(
        &self,
        state: NewLoginState,
        owner: PendingLoginOwner,
        limits: PendingLoginLimits,
    ) -> Result<PendingLoginOutcome, StoreError>;

    /// Remove and return a pending login in one step, so a state can be used only
    /// once. Returns it even when expired; the caller checks `expires`.
    async fn take_login_state(
        &self,
        state_hash: &str,
    ) -> Result<Option<LoginStateRecord>, StoreError>;

    /// Delete pending logins that expired at or before `now`; returns how many.
    async fn delete_expired_login_states(&self, now: i64) -> Result<u64, StoreError>;

    // ----- the hub's OAuth provider: codes and refresh token families -----

    /// Store a new authorization code: an active grant of kind `Code`, the root of its
    /// own family (the family is the code's hash). A duplicate hash is
    /// [`StoreError::Conflict`].
    async fn create_oauth_code(&self, code: NewOAuthGrant) -> Result<(), StoreError>;

    /// The grant with this hash, whatever its state or expiry, or `None`. Reading it
    /// changes nothing, so a request can be checked in full before the grant is used.
    async fn get_oauth_grant(&self, hash: &str) -> Result<Option<OAuthGrantRecord>, StoreError>;

    /// Use a grant once, in one transaction that no other writer interleaves with:
    /// an active, unexpired grant of the given kind becomes used and the access token and
    /// the next refresh token are stored in its family ([`OAuthExchangeOutcome::Issued`]);
    /// a grant already used or revoked is a replay, and its whole family is revoked
    /// ([`OAuthExchangeOutcome::Replayed`]); anything else changes nothing
    /// ([`OAuthExchangeOutcome::Invalid`]). Of two concurrent exchanges of one grant,
    /// exactly one is issued, and the other revokes what it got.
    async fn exchange_oauth_grant(
        &self,
        exchange: OAuthExchange,
    ) -> Result<OAuthExchangeOutcome, StoreError>;

    /// Revoke a family in one transaction: every code and refresh token of it becomes
    /// revoked and every access token issued in it is deleted. Returns how many access
    /// tokens were deleted (0 for an unknown family).
    async fn revoke_oauth_family(&self, family: &str) -> Result<u64, StoreError>;

    /// Delete the families whose every grant expired at or before `now` (a used refresh
    /// token is kept as long as its family lives, to recognise its replay). Returns how
    /// many grants were deleted.
    async fn delete_expired_oauth_grants(&self, now: i64) -> Result<u64, StoreError>;

    // ----- bulk auth_state maintenance (key rotation) -----

    /// Up to `limit` users whose auth_state is set and whose id is greater than
    /// `after_id`, in id order: a page for walking every stored auth_state
    /// (start with `after_id = 0`, continue with the last id returned).
    async fn auth_state_page(
        &self,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<StoredAuthState>, StoreError>;

    /// Apply the swaps in one transaction: each user's auth_state becomes its
    /// `replacement` only when it still equals `expected` (a user deleted or
    /// re-logged-in meanwhile is left alone). Returns, for each swap in order,
    /// whether it was applied.
    async fn replace_auth_states(&self, swaps: &[AuthStateSwap]) -> Result<Vec<bool>, StoreError>;
}
