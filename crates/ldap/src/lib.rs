//! LDAP and Active Directory login for hubauth: `LDAPAuthenticator`, as
//! jupyterhub-ldapauthenticator 2.x defines it.
//!
//! - The user binds with their own password: to the DN made from `bind_dn_template`
//!   (several templates tried in order), or to the DN found with `lookup_dn` by a service
//!   account (`lookup_dn_search_user`) searching `user_search_base` for `user_attribute`.
//! - Then, as the user, `search_filter` must match exactly one entry, membership of each
//!   `allowed_groups` DN is read with `group_search_filter`, and `auth_state_attributes`
//!   are copied into auth_state (`ldap_groups`, `user_attributes`).
//! - Every value placed in a filter is escaped as RFC 4515 says and every value placed in
//!   a DN as RFC 4514 says; an empty password never reaches a bind (it would be an
//!   unauthenticated bind, which succeeds); connections and operations have timeouts; a
//!   failed login takes at least `failure_delay` from its start, whatever failed.
//! - `tls_strategy`: StartTLS before the bind (default), LDAPS, or none; rustls with the
//!   system's or the configured CAs, and an optional client certificate (`tls_kwargs`).
//! - Refresh (`auth_refresh_age`) re-reads the account with the service account: a user
//!   whose entry is gone, or who left every allowed group, loses access.

mod authenticator;
mod directory;
#[cfg(test)]
mod escape_properties;
mod options;
mod template;
mod tls;

pub use authenticator::LdapAuthenticator;
pub use directory::{Bind, Directory, DirectoryError, Entry};
pub use options::{
    DEFAULT_GROUP_SEARCH_FILTER, LDAP_AUTHENTICATOR, LdapConfig, TlsSettings, TlsStrategy,
};
pub use template::Template;
pub use tls::TlsError;

/// Every class this crate defines, in generate-config order.
pub fn classes() -> [&'static hubauth_config::ClassDef; 1] {
    [&LDAP_AUTHENTICATOR]
}
