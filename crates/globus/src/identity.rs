//! Which Globus identity a login is for.
//!
//! A Globus account links identities from several identity providers into one identity
//! set. The user info endpoint speaks for one of them: its top-level claims (`sub`,
//! `preferred_username`, `identity_provider`, `email`, ...) are that identity's, and with
//! the `urn:globus:auth:scope:auth.globus.org:view_identity_set` scope `identity_set`
//! lists every linked identity (Globus Auth API reference, section 3.8 "OIDC Userinfo
//! Endpoint", <https://docs.globus.org/api/auth/reference/>). Nothing there promises an
//! order, so the identity a login is for is the one whose `sub` is the user info's `sub`,
//! never simply `identity_set[0]`, which may be a linked identity from another provider.
//! hubauth takes the username and the `identity_provider` domain from that identity's
//! claims, and refuses a login whose identity cannot be determined.

use serde_json::{Map, Value};

use crate::error::IdentityError;

/// The identity the user info speaks for: its `sub`, and its entry in `identity_set`
/// when the user info has one. That entry must be the only one with this `sub` and agree
/// with the top-level `preferred_username` (its `username`) and `identity_provider`.
///
/// # Errors
/// An [`IdentityError`] when there is no `sub`, or `identity_set` is there and does not
/// list that identity exactly once, or disagrees with the user info about it.
pub fn login_identity(user_info: &Value) -> Result<LoginIdentity<'_>, IdentityError> {
    let sub = user_info
        .get("sub")
        .and_then(Value::as_str)
        .filter(|sub| !sub.is_empty())
        .ok_or(IdentityError::NoSubject)?;
    let entry = match user_info.get("identity_set") {
        None | Some(Value::Null) => None,
        Some(Value::Array(set)) => {
            let mut matching = set
                .iter()
                .filter(|identity| identity.get("sub").and_then(Value::as_str) == Some(sub));
            let entry = matching
                .next()
                .ok_or(IdentityError::NotInIdentitySet)?
                .as_object()
                .ok_or(IdentityError::MalformedIdentitySet)?;
            if matching.next().is_some() {
                return Err(IdentityError::AmbiguousIdentity);
            }
            Some(entry)
        }
        Some(_) => return Err(IdentityError::MalformedIdentitySet),
    };
    if let Some(entry) = entry {
        for (top, in_set) in [
            ("preferred_username", "username"),
            ("identity_provider", "identity_provider"),
        ] {
            let (Some(top_value), Some(set_value)) = (user_info.get(top), entry.get(in_set)) else {
                continue;
            };
            if !top_value.is_null() && !set_value.is_null() && top_value != set_value {
                return Err(IdentityError::Inconsistent(top));
            }
        }
    }
    Ok(LoginIdentity { sub, entry })
}

/// The identity a login is for ([`login_identity`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginIdentity<'a> {
    /// Its `sub` (the Globus identity id).
    pub sub: &'a str,
    /// Its entry in `identity_set`, when the user info has one.
    pub entry: Option<&'a Map<String, Value>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn identity(sub: &str, username: &str, idp: &str) -> Value {
        json!({"sub": sub, "username": username, "identity_provider": idp})
    }

    fn info(set: Value) -> Value {
        json!({
            "sub": "primary", "preferred_username": "ada@globusid.org",
            "identity_provider": "idp-globusid", "identity_set": set,
        })
    }

    #[test]
    fn the_identity_is_the_one_whose_sub_is_the_user_infos_wherever_it_is_listed() {
        let user_info = info(json!([
            identity("linked", "ada@example.edu", "idp-example"),
            identity("primary", "ada@globusid.org", "idp-globusid"),
        ]));
        let found = login_identity(&user_info).unwrap();
        assert_eq!(found.sub, "primary");
        assert_eq!(found.entry.unwrap()["username"], "ada@globusid.org");
        // Without identity_set, the user info's own claims.
        let plain = json!({"sub": "primary", "preferred_username": "ada@globusid.org"});
        assert_eq!(login_identity(&plain).unwrap().entry, None);
    }

    #[test]
    fn an_identity_that_cannot_be_determined_is_refused() {
        let cases = [
            (
                json!({"preferred_username": "ada@globusid.org"}),
                IdentityError::NoSubject,
            ),
            (json!({"sub": ""}), IdentityError::NoSubject),
            (json!({"sub": 7}), IdentityError::NoSubject),
            (
                info(json!([identity(
                    "linked",
                    "ada@example.edu",
                    "idp-example"
                )])),
                IdentityError::NotInIdentitySet,
            ),
            (info(json!([])), IdentityError::NotInIdentitySet),
            (
                info(json!({"sub": "primary"})),
                IdentityError::MalformedIdentitySet,
            ),
            (
                info(json!([
                    identity("primary", "ada@globusid.org", "idp-globusid"),
                    identity("primary", "ada@globusid.org", "idp-globusid"),
                ])),
                IdentityError::AmbiguousIdentity,
            ),
            (
                info(json!([identity(
                    "primary",
                    "eve@globusid.org",
                    "idp-globusid"
                )])),
                IdentityError::Inconsistent("preferred_username"),
            ),
            (
                info(json!([identity(
                    "primary",
                    "ada@globusid.org",
                    "idp-other"
                )])),
                IdentityError::Inconsistent("identity_provider"),
            ),
        ];
        for (user_info, expected) in cases {
            assert_eq!(
                login_identity(&user_info).unwrap_err(),
                expected,
                "{user_info}"
            );
        }
    }
}
