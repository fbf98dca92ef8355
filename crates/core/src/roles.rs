//! Roles an authenticator manages (`manage_roles`): their specification, as
//! `load_managed_roles` returns them and as auth models carry them.

use serde_json::Value;

/// The default roles every hub has; an authenticator may not manage them.
pub const DEFAULT_ROLES: &[&str] = &["user", "admin"];

/// One role managed by the authenticator (JupyterHub's role dict).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ManagedRole {
    /// Unique role name.
    pub name: String,
    /// Human-readable description.
    pub description: String,
    /// Scopes the role grants.
    pub scopes: Vec<String>,
    /// Users holding the role. `Some` assigns the role to them (at start-up with
    /// `reset_managed_roles_on_startup`: to exactly them); `None` leaves assignments.
    pub users: Option<Vec<String>>,
}

impl ManagedRole {
    /// Reads a role from its JSON form: an object with `name` and optional
    /// `description`, `scopes` and `users` (lists of strings). `groups` and `services`
    /// are refused: hubauth has no group roles and no services to assign to.
    pub fn from_json(value: &Value) -> Result<ManagedRole, String> {
        let Value::Object(object) = value else {
            return Err(format!("a role must be a table/object, got {value}"));
        };
        for key in object.keys() {
            match key.as_str() {
                "name" | "description" | "scopes" | "users" => {}
                "groups" | "services" => {
                    return Err(format!(
                        "role key `{key}` is not supported by hubauth (roles are assigned to users only)"
                    ));
                }
                other => return Err(format!("unknown role key `{other}`")),
            }
        }
        let name = match object.get("name") {
            Some(Value::String(name)) if !name.trim().is_empty() => name.clone(),
            _ => return Err("a role needs a non-empty `name`".to_owned()),
        };
        if name.len() > 255 || name.chars().any(char::is_control) {
            return Err(format!("invalid role name {name:?}"));
        }
        let description = match object.get("description") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(text)) => text.clone(),
            Some(_) => return Err(format!("role {name}: `description` must be a string")),
        };
        let strings = |key: &str| -> Result<Option<Vec<String>>, String> {
            match object.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|item| match item {
                        Value::String(text) => Ok(text.clone()),
                        _ => Err(format!("role {name}: `{key}` must be a list of strings")),
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some),
                Some(_) => Err(format!("role {name}: `{key}` must be a list of strings")),
            }
        };
        Ok(ManagedRole {
            scopes: strings("scopes")?.unwrap_or_default(),
            users: strings("users")?,
            description,
            name,
        })
    }

    /// Reads a list of roles, refusing duplicate names and the default roles.
    pub fn list_from_json(values: &[Value]) -> Result<Vec<ManagedRole>, String> {
        let mut roles: Vec<ManagedRole> = Vec::with_capacity(values.len());
        for value in values {
            let role = ManagedRole::from_json(value)?;
            if DEFAULT_ROLES.contains(&role.name.as_str()) {
                return Err(format!(
                    "the default role `{}` cannot be managed by the authenticator",
                    role.name
                ));
            }
            if roles.iter().any(|other| other.name == role.name) {
                return Err(format!("role `{}` is defined twice", role.name));
            }
            roles.push(role);
        }
        Ok(roles)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_roles() {
        let role =
            ManagedRole::from_json(&json!({"name": "r", "scopes": ["read:users"], "users": ["a"]}))
                .unwrap();
        assert_eq!(role.scopes, ["read:users"]);
        assert_eq!(role.users, Some(vec!["a".to_owned()]));
        let bare = ManagedRole::from_json(&json!({"name": "r"})).unwrap();
        assert_eq!(bare.users, None);
    }

    #[test]
    fn refuses_bad_roles() {
        for bad in [
            json!("r"),
            json!({}),
            json!({"name": ""}),
            json!({"name": "r", "scopes": "x"}),
            json!({"name": "r", "groups": ["g"]}),
            json!({"name": "r", "colour": "red"}),
        ] {
            assert!(ManagedRole::from_json(&bad).is_err(), "{bad}");
        }
        assert!(
            ManagedRole::list_from_json(&[json!({"name": "a"}), json!({"name": "a"})]).is_err()
        );
        assert!(ManagedRole::list_from_json(&[json!({"name": "admin"})]).is_err());
    }
}
