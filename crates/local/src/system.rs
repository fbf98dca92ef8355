//! Lookups in the system's user and group database (passwd and group through NSS).
//!
//! These calls block (NSS may ask LDAP or SSSD over the network): async callers run them
//! with [`blocking`].

use std::collections::BTreeSet;
use std::ffi::CString;

use nix::unistd::{Gid, Group, Uid, User};

use crate::error::LocalError;

/// Runs a blocking lookup on the runtime's blocking pool.
pub async fn blocking<T, F>(f: F) -> Result<T, LocalError>
where
    F: FnOnce() -> Result<T, LocalError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|err| LocalError::Task(err.to_string()))?
}

/// The passwd entry of `name`, if there is one (`getpwnam`).
pub fn user_by_name(name: &str) -> Result<Option<User>, LocalError> {
    User::from_name(name).map_err(|source| LocalError::Lookup {
        what: format!("user {name:?}"),
        source,
    })
}

/// Whether `name` has a passwd entry (upstream's `system_user_exists`).
pub fn user_exists(name: &str) -> Result<bool, LocalError> {
    user_by_name(name).map(|user| user.is_some())
}

/// The passwd entry of a uid (`getpwuid`).
pub fn user_by_uid(uid: u32) -> Result<Option<User>, LocalError> {
    User::from_uid(Uid::from_raw(uid)).map_err(|source| LocalError::Lookup {
        what: format!("uid {uid}"),
        source,
    })
}

/// The canonical name of the account `name` refers to: name → uid → name. `None` when
/// the name has no passwd entry.
pub fn canonical_name(name: &str) -> Result<Option<String>, LocalError> {
    let Some(user) = user_by_name(name)? else {
        return Ok(None);
    };
    Ok(user_by_uid(user.uid.as_raw())?.map(|user| user.name))
}

/// The gid of group `name`, if the group exists (`getgrnam`).
pub fn group_gid(name: &str) -> Result<Option<Gid>, LocalError> {
    Group::from_name(name)
        .map(|group| group.map(|group| group.gid))
        .map_err(|source| LocalError::Lookup {
            what: format!("group {name:?}"),
            source,
        })
}

/// Every gid of a user: the primary group and the supplementary ones (`getgrouplist`).
pub fn user_gids(user: &User) -> Result<Vec<Gid>, LocalError> {
    let lookup_error = |source| LocalError::Lookup {
        what: format!("groups of user {:?}", user.name),
        source,
    };
    let name = CString::new(user.name.as_bytes()).map_err(|_| lookup_error(nix::Error::EINVAL))?;
    nix::unistd::getgrouplist(&name, user.gid).map_err(lookup_error)
}

/// Whether the user `name` is a member (primary or supplementary) of any of `groups`.
///
/// `Ok(None)` when the user has no passwd entry. A configured group that does not exist
/// is logged as an error (`No such group: [G]`, as upstream) and skipped.
pub fn user_in_any_group(
    name: &str,
    groups: &BTreeSet<String>,
) -> Result<Option<bool>, LocalError> {
    let Some(user) = user_by_name(name)? else {
        return Ok(None);
    };
    let gids = user_gids(&user)?;
    for group in groups {
        match group_gid(group)? {
            Some(gid) if gids.contains(&gid) => return Ok(Some(true)),
            Some(_) => {}
            None => tracing::error!("No such group: [{group}]"),
        }
    }
    Ok(Some(false))
}

/// Whether this process runs as root (user creation and most PAM stacks need it).
pub fn running_as_root() -> bool {
    nix::unistd::geteuid().is_root()
}
