//! The auth model: what a successful authentication says about a user.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use crate::error::AuthError;

/// The result of authentication, passed from stage to stage of the pipeline and then
/// persisted (JupyterHub's auth model dict).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AuthModel {
    /// The user name; normalized by the pipeline.
    pub name: String,
    /// `Some(true)` grants admin, `Some(false)` revokes it, `None` leaves the stored flag as it is.
    pub admin: Option<bool>,
    /// State to persist encrypted when `enable_auth_state` is on (tokens, user info...).
    pub auth_state: Option<Value>,
    /// Non-sensitive profile information (display name, avatar...), stored unencrypted.
    pub user_info: Option<Value>,
    /// Group names, used when `manage_groups` is on; `None` leaves memberships unchanged.
    pub groups: Option<Vec<String>>,
    /// Role specifications, used when `manage_roles` is on; `None` leaves roles unchanged.
    pub roles: Option<Vec<Value>>,
    /// Any other keys an authenticator or hook added; kept through the pipeline, not persisted.
    pub extra: Map<String, Value>,
}

impl AuthModel {
    /// A model holding only a name (what a bare-string result of `authenticate` means).
    pub fn named(name: impl Into<String>) -> Self {
        AuthModel {
            name: name.into(),
            ..AuthModel::default()
        }
    }

    /// Reads a model from its JSON form: a string (a bare name) or an object with `name`.
    pub fn from_json(value: Value) -> Result<Self, AuthError> {
        let mut object = match value {
            Value::String(name) => return Ok(AuthModel::named(name)),
            Value::Object(object) => object,
            other => {
                return Err(AuthError::InvalidModel(format!(
                    "expected a name or an object, got {}",
                    json_kind(&other)
                )));
            }
        };
        let name = match object.remove("name") {
            Some(Value::String(name)) => name,
            Some(other) => {
                return Err(AuthError::InvalidModel(format!(
                    "`name` must be a string, got {}",
                    json_kind(&other)
                )));
            }
            None => return Err(AuthError::InvalidModel("user missing a name".to_owned())),
        };
        let admin = match object.remove("admin") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(admin)) => Some(admin),
            Some(other) => {
                return Err(AuthError::InvalidModel(format!(
                    "`admin` must be true, false or null, got {}",
                    json_kind(&other)
                )));
            }
        };
        let auth_state = non_null(object.remove("auth_state"));
        let user_info = non_null(object.remove("user_info"));
        let groups = match non_null(object.remove("groups")) {
            None => None,
            Some(Value::Array(items)) => Some(
                items
                    .into_iter()
                    .map(|item| match item {
                        Value::String(group) => Ok(group),
                        other => Err(AuthError::InvalidModel(format!(
                            "`groups` must hold strings, got {}",
                            json_kind(&other)
                        ))),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(other) => {
                return Err(AuthError::InvalidModel(format!(
                    "`groups` must be a list of strings, got {}",
                    json_kind(&other)
                )));
            }
        };
        let roles = match non_null(object.remove("roles")) {
            None => None,
            Some(Value::Array(items)) => Some(items),
            Some(other) => {
                return Err(AuthError::InvalidModel(format!(
                    "`roles` must be a list, got {}",
                    json_kind(&other)
                )));
            }
        };
        Ok(AuthModel {
            name,
            admin,
            auth_state,
            user_info,
            groups,
            roles,
            extra: object,
        })
    }

    /// The JSON object form, with every standard key present (`null` where unset).
    pub fn to_json(&self) -> Value {
        let mut object = self.extra.clone();
        object.insert("name".to_owned(), Value::String(self.name.clone()));
        object.insert(
            "admin".to_owned(),
            self.admin.map(Value::Bool).unwrap_or(Value::Null),
        );
        object.insert(
            "auth_state".to_owned(),
            self.auth_state.clone().unwrap_or(Value::Null),
        );
        object.insert(
            "user_info".to_owned(),
            self.user_info.clone().unwrap_or(Value::Null),
        );
        object.insert(
            "groups".to_owned(),
            self.groups
                .as_ref()
                .map(|groups| Value::Array(groups.iter().cloned().map(Value::String).collect()))
                .unwrap_or(Value::Null),
        );
        object.insert(
            "roles".to_owned(),
            self.roles.clone().map(Value::Array).unwrap_or(Value::Null),
        );
        Value::Object(object)
    }
}

fn non_null(value: Option<Value>) -> Option<Value> {
    value.filter(|value| !value.is_null())
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The fields of a login form (or other login request data), as upstream's `data` dict.
///
/// `username` is whitespace-stripped when read from a form; every other field is kept
/// verbatim. `Debug` shows field names and the username only, never a password or OTP.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct LoginData {
    fields: BTreeMap<String, String>,
}

impl LoginData {
    /// Builds login data from form fields; strips whitespace around `username` and drops
    /// the `_xsrf` field, as the hub does.
    pub fn from_form(fields: impl IntoIterator<Item = (String, String)>) -> Self {
        let fields = fields
            .into_iter()
            .filter(|(key, _)| key != "_xsrf")
            .map(|(key, value)| {
                if key == "username" {
                    let trimmed = value.trim().to_owned();
                    (key, trimmed)
                } else {
                    (key, value)
                }
            })
            .collect();
        LoginData { fields }
    }

    /// A username/password pair (for tests and embedding).
    pub fn credentials(username: &str, password: &str) -> Self {
        Self::from_form([
            ("username".to_owned(), username.to_owned()),
            ("password".to_owned(), password.to_owned()),
        ])
    }

    /// A field's value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }

    /// The `username` field, or `""`.
    pub fn username(&self) -> &str {
        self.get("username").unwrap_or("")
    }

    /// The `password` field, or `""`.
    pub fn password(&self) -> &str {
        self.get("password").unwrap_or("")
    }

    /// The `otp` field, when the form asked for one.
    pub fn otp(&self) -> Option<&str> {
        self.get("otp")
    }
}

impl fmt::Debug for LoginData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (key, value) in &self.fields {
            if key == "username" {
                map.entry(key, value);
            } else {
                map.entry(key, &"[redacted]");
            }
        }
        map.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bare_string_is_a_name() {
        assert_eq!(
            AuthModel::from_json(json!("alice")).unwrap(),
            AuthModel::named("alice")
        );
    }

    #[test]
    fn object_without_name_is_refused() {
        let err = AuthModel::from_json(json!({"admin": true})).unwrap_err();
        assert!(err.to_string().contains("user missing a name"));
    }

    #[test]
    fn extra_keys_survive_round_trip() {
        let model =
            AuthModel::from_json(json!({"name": "a", "testkey": 1, "admin": null})).unwrap();
        assert_eq!(model.extra.get("testkey"), Some(&json!(1)));
        assert_eq!(model.admin, None);
        let back = model.to_json();
        assert_eq!(back["testkey"], json!(1));
        assert_eq!(back["auth_state"], Value::Null);
    }

    #[test]
    fn login_data_debug_hides_password() {
        let data = LoginData::credentials("  bob ", "hunter2");
        assert_eq!(data.username(), "bob");
        let shown = format!("{data:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
