//! What the hub does before it serves: configuration checks and user reconciliation
//! (JupyterHub's `init_users` and `init_blocked_users`).

use std::collections::{BTreeSet, HashSet};

use hubauth_core::Authenticator;
use hubauth_store::{CryptKeeper, Store, StoreError};

/// Why the hub refused to start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// `enable_auth_state` is on and no key was given.
    #[error(
        "auth_state is enabled, but encryption is not available: set JUPYTERHUB_CRYPT_KEY to one or more 32-byte keys (hex or base64, separated by ';'); `hubauth crypt-key generate` makes one (or turn [Authenticator] enable_auth_state off)"
    )]
    NoCryptKey,
    /// `manage_groups` is on but the authenticator reports no groups.
    #[error(
        "Authenticator.manage_groups is enabled, but {0} does not report groups, so every login would remove all group memberships; turn manage_groups off or use an authenticator that supports it"
    )]
    ManageGroupsUnsupported(&'static str),
    /// `manage_roles` is on but the authenticator reports no roles.
    #[error(
        "Authenticator.manage_roles is enabled, but {0} does not report roles and no post_auth_hook is set to add them; set a post_auth_hook that sets `roles`, turn manage_roles off, or use an authenticator that supports it"
    )]
    ManageRolesUnsupported(&'static str),
    /// A configured name is invalid.
    #[error("{0}")]
    InvalidName(String),
    /// The database failed.
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// Another start-up problem.
    #[error("{0}")]
    Other(String),
}

/// Checks that the configuration can work with this authenticator and key set.
pub fn check(authenticator: &dyn Authenticator, crypt: &CryptKeeper) -> Result<(), StartError> {
    let config = authenticator.rules().config();
    if config.enable_auth_state && !crypt.is_available() {
        return Err(StartError::NoCryptKey);
    }
    if config.manage_groups && !authenticator.supports_manage_groups() {
        return Err(StartError::ManageGroupsUnsupported(
            authenticator.class_name(),
        ));
    }
    if config.manage_roles
        && !authenticator.supports_manage_roles()
        && config.post_auth_hook.trim().is_empty()
    {
        return Err(StartError::ManageRolesUnsupported(
            authenticator.class_name(),
        ));
    }
    authenticator
        .rules()
        .check_configured_names()
        .map_err(|err| StartError::InvalidName(err.to_string()))?;
    Ok(())
}

/// What reconciliation did, for the log and for tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reconciled {
    /// Users created from `admin_users` and `allowed_users`.
    pub created: Vec<String>,
    /// Stored users the authenticator refused and that were deleted.
    pub deleted: Vec<String>,
    /// Stored users the authenticator refused and that were kept.
    pub invalid_kept: Vec<String>,
    /// Blocked users whose privileges and sessions were removed.
    pub blocked: Vec<String>,
    /// Expired sessions removed.
    pub expired_sessions: u64,
    /// Roles created or updated from `load_managed_roles` (with `manage_roles`).
    pub managed_roles: Vec<String>,
    /// Managed roles deleted because the authenticator no longer lists them
    /// (`reset_managed_roles_on_startup`).
    pub stale_roles: Vec<String>,
    /// Role assignments removed because a managed role now lists other users
    /// (`reset_managed_roles_on_startup`).
    pub stale_role_assignments: u64,
}

/// Creates the `admin_users` (as admins; existing ones are promoted) and `allowed_users`
/// that are not among the `stored` names; returns the names created.
///
/// The missing users are created in one transaction per list rather than one per user, so
/// a list of thousands does not make start-up wait for thousands of commits. When another
/// replica starting at the same moment creates some of them first, the batch fails as a
/// whole and the users are created one by one instead.
async fn create_configured_users(
    store: &dyn Store,
    stored: &HashSet<String>,
    admin_users: &BTreeSet<String>,
    allowed_users: &BTreeSet<String>,
    now: i64,
) -> Result<Vec<String>, StoreError> {
    let mut created = Vec::new();
    let mut new_admins = Vec::new();
    for name in admin_users {
        if !stored.contains(name) {
            new_admins.push(name.clone());
            continue;
        }
        if let Some(user) = store.get_user(name).await?
            && !user.admin
        {
            store.set_admin(name, true).await?;
        }
    }
    let new_allowed: Vec<String> = allowed_users
        .iter()
        .filter(|name| !stored.contains(*name) && !admin_users.contains(*name))
        .cloned()
        .collect();
    for (names, admin) in [(new_admins, true), (new_allowed, false)] {
        if names.is_empty() {
            continue;
        }
        match store.create_users(&names, admin, now).await {
            Ok(users) => created.extend(users.into_iter().map(|user| user.name)),
            Err(StoreError::Conflict { .. }) => {
                for name in &names {
                    let (user, new) = store.ensure_user(name, admin.then_some(true), now).await?;
                    if new {
                        created.push(user.name);
                    }
                }
            }
            Err(err) => return Err(err),
        }
    }
    Ok(created)
}

/// Brings the database in line with the configuration, in JupyterHub's order: managed
/// roles created (and stale ones removed) from `load_managed_roles`; admins created or
/// promoted; allowed users created; every stored, non-blocked user added to the
/// authenticator (deleted when that fails and `delete_invalid_users` is on); blocked users
/// stripped of admin, roles, groups and sessions; managed roles given to the users they
/// list.
pub async fn reconcile(
    authenticator: &dyn Authenticator,
    store: &dyn Store,
    now: i64,
) -> Result<Reconciled, StartError> {
    let config = authenticator.rules().config();
    let mut report = Reconciled::default();
    let roles = crate::managed_roles::create_on_startup(authenticator, store).await?;
    report.managed_roles = roles.loaded.iter().map(|role| role.name.clone()).collect();
    report.stale_roles = roles.stale_roles;
    // One read of every stored name serves both the creation and the walk below.
    let mut names = store.user_names().await?;
    let stored: HashSet<String> = names.iter().cloned().collect();
    report.created = create_configured_users(
        store,
        &stored,
        &config.admin_users,
        &config.allowed_users,
        now,
    )
    .await?;
    names.extend(report.created.iter().cloned());
    names.sort();
    for name in names {
        if config.blocked_users.contains(&name) {
            continue;
        }
        if let Err(err) = add_stored_user(authenticator, store, &name).await? {
            if config.delete_invalid_users {
                tracing::warn!(user = %name, error = %err, "deleting invalid user");
                store.delete_user(&name).await?;
                report.deleted.push(name);
            } else {
                tracing::error!(
                    user = %name,
                    error = %err,
                    "user is invalid for this authenticator; set Authenticator.delete_invalid_users = true to delete such users at start-up"
                );
                report.invalid_kept.push(name);
            }
        }
    }
    report.stale_role_assignments =
        crate::managed_roles::assign_on_startup(authenticator, store, &roles.loaded).await?;
    for name in &config.blocked_users {
        if store.get_user(name).await?.is_some() {
            store.strip_privileges(name).await?;
            store.delete_user_sessions(name).await?;
            report.blocked.push(name.clone());
        }
    }
    report.expired_sessions = store.delete_expired_sessions(now).await?;
    Ok(report)
}

/// `add_user` for a stored user at start: the authenticator's; on a hub with several
/// login methods, also the full `add_user` of each method that has logged the user in
/// (so that a `Local...` method re-creates its users' system accounts, as upstream's
/// `LocalAuthenticator` does at start, and no other method's users get one). The outer
/// `Result` is the database's, the inner the authenticator's verdict.
async fn add_stored_user(
    authenticator: &dyn Authenticator,
    store: &dyn Store,
    name: &str,
) -> Result<Result<(), hubauth_core::AuthError>, StartError> {
    if let Err(err) = authenticator.add_user(name).await {
        return Ok(Err(err));
    }
    let Some(methods) = authenticator.login_methods() else {
        return Ok(Ok(()));
    };
    let owners = store.login_methods_of(name).await?;
    for method in methods
        .iter()
        .filter(|method| owners.contains(&method.name))
    {
        if let Err(err) = method.authenticator.add_user(name).await {
            return Ok(Err(err));
        }
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|name| (*name).to_owned()).collect()
    }

    async fn store() -> hubauth_store::SqliteStore {
        hubauth_store::SqliteStore::open_in_memory().await.unwrap()
    }

    #[tokio::test]
    async fn creates_missing_users_and_promotes_stored_admins() {
        let store = store().await;
        store
            .ensure_user("old-admin", Some(false), 1)
            .await
            .unwrap();
        store.ensure_user("old-user", None, 1).await.unwrap();
        let stored: HashSet<String> = store.user_names().await.unwrap().into_iter().collect();
        let created = create_configured_users(
            &store,
            &stored,
            &names(&["old-admin", "root", "both"]),
            &names(&["old-user", "ann", "bob", "both"]),
            10,
        )
        .await
        .unwrap();
        assert_eq!(created, ["both", "root", "ann", "bob"]);
        for (name, admin) in [
            ("old-admin", true),
            ("root", true),
            ("both", true),
            ("old-user", false),
            ("ann", false),
            ("bob", false),
        ] {
            let user = store.get_user(name).await.unwrap().unwrap();
            assert_eq!(user.admin, admin, "{name}");
            assert!(
                user.roles.contains(&"user".to_owned()),
                "{name}: {:?}",
                user.roles
            );
        }
    }

    #[tokio::test]
    async fn users_created_meanwhile_by_another_replica_are_not_an_error() {
        let store = store().await;
        // The snapshot says nobody is stored, but another replica has created two of the
        // users since: the batch conflicts and the users are created one by one.
        let stale = HashSet::new();
        store.ensure_user("ann", None, 1).await.unwrap();
        store.ensure_user("root", Some(true), 1).await.unwrap();
        let created = create_configured_users(
            &store,
            &stale,
            &names(&["root", "sue"]),
            &names(&["ann", "bob"]),
            10,
        )
        .await
        .unwrap();
        assert_eq!(created, ["sue", "bob"]);
        assert!(store.get_user("sue").await.unwrap().unwrap().admin);
        assert!(!store.get_user("bob").await.unwrap().unwrap().admin);
    }

    /// A method's authenticator that records its `add_user` calls.
    struct Recording {
        inner: hubauth_core::DummyAuthenticator,
        added: std::sync::Mutex<Vec<String>>,
    }

    impl Recording {
        fn new() -> std::sync::Arc<Recording> {
            let config = hubauth_core::AuthenticatorConfig {
                allow_all: true,
                ..hubauth_core::AuthenticatorConfig::default()
            };
            std::sync::Arc::new(Recording {
                inner: hubauth_core::DummyAuthenticator::new(config, Default::default()),
                added: std::sync::Mutex::new(Vec::new()),
            })
        }

        fn added(&self) -> Vec<String> {
            self.added.lock().unwrap().clone()
        }
    }

    #[async_trait::async_trait]
    impl Authenticator for Recording {
        fn class_name(&self) -> &'static str {
            "Recording"
        }
        fn rules(&self) -> &hubauth_core::Rules {
            self.inner.rules()
        }
        fn kind(&self) -> hubauth_core::LoginKind {
            self.inner.kind()
        }
        async fn authenticate(
            &self,
            ctx: &hubauth_core::RequestContext,
            data: &hubauth_core::LoginData,
        ) -> Result<Option<hubauth_core::AuthModel>, hubauth_core::AuthError> {
            self.inner.authenticate(ctx, data).await
        }
        async fn add_user(&self, name: &str) -> Result<(), hubauth_core::AuthError> {
            self.added.lock().unwrap().push(name.to_owned());
            self.inner.add_user(name).await
        }
    }

    fn method(name: &str, authenticator: std::sync::Arc<Recording>) -> hubauth_core::LoginMethod {
        hubauth_core::LoginMethod {
            name: name.to_owned(),
            label: name.to_owned(),
            default: false,
            username_prefix: String::new(),
            link_by: None,
            authenticator,
        }
    }

    /// At start, each stored user goes through the full `add_user` of the methods that
    /// logged it in only (a `Local...` method makes system accounts for its own users,
    /// never for another method's).
    #[tokio::test]
    async fn stored_users_are_added_to_the_methods_that_logged_them_in() {
        let store = store().await;
        for (name, methods) in [
            ("ada", &["local"][..]),
            ("bob", &["sso"][..]),
            ("cy", &["local", "sso"][..]),
            ("dee", &[][..]),
        ] {
            store.ensure_user(name, None, 1).await.unwrap();
            for method in methods {
                store.record_login_method(name, method, None).await.unwrap();
            }
        }
        let (local, sso) = (Recording::new(), Recording::new());
        let hub = hubauth_core::HubWide::new(
            hubauth_core::AuthenticatorConfig::default(),
            vec![method("local", local.clone()), method("sso", sso.clone())],
        );
        let report = reconcile(&hub, &store, 10).await.unwrap();
        assert!(report.invalid_kept.is_empty() && report.deleted.is_empty());
        assert_eq!(local.added(), ["ada", "cy"]);
        assert_eq!(sso.added(), ["bob", "cy"]);
    }
}
