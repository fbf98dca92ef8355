//! Claim rules: where in JSON a value is, as a claim name, a dotted path or a script.

use serde_json::Value;

/// A rule that finds a value in a JSON document (upstream's string-or-callable options).
#[derive(Debug, Clone)]
pub enum ClaimRule {
    /// A claim name, or a dotted path into nested objects (`ocs.data.id`). A key that
    /// itself contains dots (`https://example.org/groups`) is found as a whole first.
    Path(String),
    /// A sandboxed script that sees the document under `variable` and returns the value.
    Script {
        /// The compiled script.
        script: hubauth_script::Script,
        /// The name the document has inside the script (`user_info`, `auth_state`).
        variable: &'static str,
        /// Whether the source mentions `email`: a username script that may build the name
        /// from an email is held to the `email_verified` rule (F27) like an `email` claim.
        reads_email: bool,
    },
}

impl ClaimRule {
    /// A rule from its config value: a string, or a table `{ script = "..." }`.
    /// `variables[0]` is the name the document has in a script.
    pub fn from_value(value: &Value, variables: &[&'static str]) -> Result<Self, String> {
        match value {
            Value::String(path) => {
                if path.split('.').any(str::is_empty) && !path.is_empty() {
                    return Err(format!("{path:?} has an empty segment"));
                }
                Ok(ClaimRule::Path(path.clone()))
            }
            Value::Object(table) => {
                let source = table
                    .get("script")
                    .and_then(Value::as_str)
                    .ok_or_else(|| "a table must be { script = \"...\" }".to_owned())?;
                let script =
                    hubauth_script::Script::compile(source).map_err(|err| err.to_string())?;
                Ok(ClaimRule::Script {
                    script,
                    variable: variables.first().copied().unwrap_or("value"),
                    reads_email: source.to_ascii_lowercase().contains("email"),
                })
            }
            _ => Err("must be a claim name, a dotted path or { script = \"...\" }".to_owned()),
        }
    }

    /// A path rule.
    pub fn path(path: impl Into<String>) -> Self {
        ClaimRule::Path(path.into())
    }

    /// Finds the value in `document`. `Ok(None)` when it is not there; `Err` when a
    /// script fails.
    pub fn find(&self, document: &Value) -> Result<Option<Value>, String> {
        match self {
            ClaimRule::Path(path) => Ok(lookup_path(document, path).cloned()),
            ClaimRule::Script {
                script, variable, ..
            } => {
                let value = script
                    .eval_json(&[(variable, document.clone())])
                    .map_err(|err| err.to_string())?;
                Ok((!value.is_null()).then_some(value))
            }
        }
    }

    /// How to name the rule in messages.
    pub fn describe(&self) -> String {
        match self {
            ClaimRule::Path(path) => path.clone(),
            ClaimRule::Script { .. } => "the configured script".to_owned(),
        }
    }
}

/// Looks up a key, or walks a dotted path through nested objects.
pub fn lookup_path<'a>(document: &'a Value, path: &str) -> Option<&'a Value> {
    if let Some(found) = document.get(path) {
        return Some(found);
    }
    let mut current = document;
    for segment in path.split('.') {
        current = current.as_object()?.get(segment)?;
    }
    Some(current)
}

/// A claim value as a user name: strings as they are, numbers as text (some providers use
/// numeric ids); anything else is not a name.
pub fn as_name(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// A groups claim as a list of names. Upstream turned a string into a set of its
/// characters; hubauth reads a string as one group (and an object list as an error).
pub fn as_groups(value: &Value) -> Result<Vec<String>, String> {
    match value {
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(group) => Ok(group.clone()),
                Value::Number(number) => Ok(number.to_string()),
                other => Err(format!("a list holding {other}")),
            })
            .collect(),
        Value::String(group) => Ok(vec![group.clone()]),
        Value::Null => Ok(Vec::new()),
        other => Err(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_and_dotted_keys() {
        let doc = json!({"ocs": {"data": {"id": "ann"}}, "https://x.org/groups": ["a"], "n": 7});
        assert_eq!(
            ClaimRule::path("ocs.data.id").find(&doc).unwrap(),
            Some(json!("ann"))
        );
        assert_eq!(
            ClaimRule::path("https://x.org/groups").find(&doc).unwrap(),
            Some(json!(["a"]))
        );
        assert_eq!(ClaimRule::path("ocs.missing").find(&doc).unwrap(), None);
        assert_eq!(ClaimRule::path("n.deeper").find(&doc).unwrap(), None);
        assert_eq!(as_name(&json!(7)), Some("7".into()));
        assert_eq!(as_name(&json!("")), None);
    }

    #[test]
    fn scripts() {
        let rule = ClaimRule::from_value(
            &json!({"script": "user_info.email.split(\"@\")[0]"}),
            &["user_info"],
        )
        .unwrap();
        assert_eq!(
            rule.find(&json!({"email": "ann@x.org"})).unwrap(),
            Some(json!("ann"))
        );
        assert!(ClaimRule::from_value(&json!({"nope": 1}), &["x"]).is_err());
        assert!(ClaimRule::from_value(&json!("a..b"), &["x"]).is_err());
    }

    #[test]
    fn groups() {
        assert_eq!(as_groups(&json!(["a", "b"])).unwrap(), vec!["a", "b"]);
        assert_eq!(as_groups(&json!("staff")).unwrap(), vec!["staff"]);
        assert!(as_groups(&json!([{"id": 1}])).is_err());
    }
}
