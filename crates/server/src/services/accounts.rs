//! Users as logins and refreshes store them (JupyterHub's `auth_to_user`), and their
//! encrypted auth_state.

use hubauth_core::scopes::Scopes;
use hubauth_core::{AuthModel, Authenticator};
use hubauth_store::{AuthStateSwap, AuthStateUpdate, LoginUpdate, StoreError, UserRecord};
use serde_json::Value;

use super::Services;
use crate::error::HubError;

/// The accounts service (see the module documentation).
#[derive(Debug, Clone, Copy)]
pub struct Accounts<'a> {
    hub: &'a Services,
}

impl<'a> Accounts<'a> {
    pub(super) fn new(hub: &'a Services) -> Self {
        Accounts { hub }
    }

    /// Whether group memberships come from the authenticator (`manage_groups`): logins
    /// then set them, and the REST API and the admin page may not change them.
    ///
    /// On a hub with several login methods: when any method manages them.
    pub fn groups_managed(&self) -> bool {
        self.hub
            .methods
            .iter()
            .any(|method| method.authenticator.rules().config().manage_groups)
    }

    /// Stores a successful login's model at `now`: creates the user (after the
    /// authenticator's `add_user`, so a failing `add_user` leaves no half-created user),
    /// applies admin, groups (with `manage_groups`), auth_state (encrypted, with
    /// `enable_auth_state`) in one transaction, and roles (with `manage_roles`).
    pub async fn store_login(&self, model: &AuthModel, now: i64) -> Result<UserRecord, HubError> {
        let authenticator = self.hub.authenticator.clone();
        self.store_login_with(authenticator.as_ref(), model, now)
            .await
    }

    /// [`Accounts::store_login`] for a login through `authenticator` (a login method of a
    /// hub with several: its `add_user` and its `manage_groups`).
    pub async fn store_login_with(
        &self,
        authenticator: &dyn Authenticator,
        model: &AuthModel,
        now: i64,
    ) -> Result<UserRecord, HubError> {
        // Most logins are of known users: store for an existing user first, and only when
        // there is none run `add_user` and store again, creating it.
        let update = self.login_update(authenticator, model, now)?;
        let outcome = match self.hub.store.apply_login(update.clone()).await {
            Err(StoreError::NotFound { .. }) => {
                authenticator.add_user(&model.name).await?;
                let update = LoginUpdate {
                    create_if_missing: true,
                    ..update
                };
                self.hub.store.apply_login(update).await?
            }
            stored => stored?,
        };
        self.after_store(outcome.user, model).await
    }

    /// Stores a refreshed model for an existing user at `now` (never creates one), as
    /// `authenticator` (the user's login method) found it.
    pub async fn store_refresh(
        &self,
        authenticator: &dyn Authenticator,
        model: &AuthModel,
        now: i64,
    ) -> Result<UserRecord, HubError> {
        let update = self.login_update(authenticator, model, now)?;
        let outcome = self.hub.store.apply_login(update).await?;
        self.after_store(outcome.user, model).await
    }

    /// What storing `model` writes, for an existing user.
    fn login_update(
        &self,
        authenticator: &dyn Authenticator,
        model: &AuthModel,
        now: i64,
    ) -> Result<LoginUpdate, HubError> {
        Ok(LoginUpdate {
            name: model.name.clone(),
            admin: model.admin,
            groups: if authenticator.rules().config().manage_groups {
                model.groups.clone()
            } else {
                None
            },
            auth_state: self.auth_state_update(model, now)?,
            now,
            create_if_missing: false,
        })
    }

    /// After the store: the session cache forgets the user, and roles are synced (with
    /// `manage_roles`).
    async fn after_store(
        &self,
        user: UserRecord,
        model: &AuthModel,
    ) -> Result<UserRecord, HubError> {
        let hub = self.hub;
        // Admin flag and groups may have changed: cached sessions must not keep the old ones.
        hub.sessions_changed(&user.name).await;
        if hub.authenticator.rules().config().manage_roles
            && let Some(roles) = &model.roles
        {
            let user = crate::managed_roles::sync_login_roles(
                hub.authenticator.as_ref(),
                hub.store.as_ref(),
                &user,
                roles,
            )
            .await?;
            hub.sessions_changed(&user.name).await;
            return Ok(user);
        }
        Ok(user)
    }

    /// On a hub with several login methods, `model.groups` as `method` gives them joined
    /// with the groups the user's other group-managing methods gave, so that one method's
    /// login never takes away another's groups. Returns what `method` itself gives (to
    /// record with [`hubauth_store::Store::record_login_method`]), or `None` when it does
    /// not manage groups.
    pub async fn join_method_groups(
        &self,
        method: &hubauth_core::LoginMethod,
        model: &mut AuthModel,
    ) -> Result<Option<Vec<String>>, HubError> {
        if method.name.is_empty() || !method.authenticator.rules().config().manage_groups {
            return Ok(None);
        }
        let Some(own) = model.groups.clone() else {
            return Ok(None);
        };
        let mut joined: std::collections::BTreeSet<String> = own.iter().cloned().collect();
        let others = match self.hub.store.method_groups(&model.name).await {
            Ok(others) => others,
            Err(hubauth_store::StoreError::NotFound { .. }) => Vec::new(),
            Err(err) => return Err(err.into()),
        };
        for (other, groups) in others {
            if other != method.name {
                joined.extend(groups);
            }
        }
        model.groups = Some(joined.into_iter().collect());
        Ok(Some(own))
    }

    fn auth_state_update(&self, model: &AuthModel, now: i64) -> Result<AuthStateUpdate, HubError> {
        if !self.hub.authenticator.rules().config().enable_auth_state {
            // Disabling auth_state clears what an earlier configuration stored.
            return Ok(AuthStateUpdate::Clear);
        }
        Ok(match &model.auth_state {
            Some(value) => AuthStateUpdate::Set(self.encrypt(value, now)?),
            None => AuthStateUpdate::Clear,
        })
    }

    /// A value encrypted for the store at `now`.
    pub fn encrypt(&self, value: &Value, now: i64) -> Result<Vec<u8>, HubError> {
        self.hub
            .crypt
            .encrypt_json(value, u64::try_from(now).unwrap_or(0))
            .map_err(|err| HubError::Crypt(err.to_string()))
    }

    /// Replaces a user's auth_state with `value`, encrypted at `now`.
    pub async fn replace_auth_state(
        &self,
        name: &str,
        value: &Value,
        now: i64,
    ) -> Result<(), HubError> {
        let token = self.encrypt(value, now)?;
        self.hub.store.set_auth_state(name, Some(token)).await?;
        Ok(())
    }

    /// The user's decrypted auth_state, or `None` when there is none, auth_state is
    /// disabled, or no configured key can decrypt it (logged with the user's name and
    /// treated as absent, so the user must log in again). When a key other than the first
    /// decrypted it, it is re-encrypted with the first key at `now` (unless it changed
    /// meanwhile).
    pub async fn auth_state(&self, name: &str, now: i64) -> Result<Option<Value>, HubError> {
        let hub = self.hub;
        if !hub.authenticator.rules().config().enable_auth_state {
            return Ok(None);
        }
        let Some(token) = hub.store.get_auth_state(name).await? else {
            return Ok(None);
        };
        let decrypted = match hub.crypt.decrypt_json(&token) {
            Ok(decrypted) => decrypted,
            Err(err) => {
                tracing::warn!(user = %name, error = %err, "Failed to retrieve encrypted auth_state; treating it as absent");
                return Ok(None);
            }
        };
        if decrypted.rotated_key {
            let rotated = self.encrypt(&decrypted.value, now)?;
            // Compare-and-swap: a login (here or on another replica) that stored fresh
            // auth_state since it was read is never overwritten with this older value.
            if let Some(user) = hub.store.get_user(name).await? {
                let applied = hub
                    .store
                    .replace_auth_states(&[AuthStateSwap {
                        user_id: user.id,
                        expected: token,
                        replacement: Some(rotated),
                    }])
                    .await?;
                if applied.first() == Some(&true) {
                    tracing::info!(user = %name, "re-encrypted auth_state with the current key");
                }
            }
        }
        Ok(Some(decrypted.value))
    }
}

impl Accounts<'_> {
    /// The scopes `user` holds through their roles (unknown role names grant nothing),
    /// with `self` resolved to the user.
    pub async fn scopes(&self, user: &UserRecord) -> Result<Scopes, HubError> {
        let roles = self.hub.store.get_roles(&user.roles).await?;
        let raw: Vec<&str> = roles
            .iter()
            .flat_map(|role| role.scopes.iter().map(String::as_str))
            .collect();
        Ok(Scopes::expand(&raw, Some(&user.name)))
    }
}
