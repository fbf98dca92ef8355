//! The token endpoint's answer.

use serde_json::{Map, Value};

/// A successful token response (RFC 6749 section 5.1), with the raw JSON kept for
/// auth_state's `token_response`.
#[derive(Clone, PartialEq)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// The token type; `Bearer` when the provider left it out (upstream crashed, F16).
    pub token_type: String,
    /// A refresh token, if granted.
    pub refresh_token: Option<String>,
    /// An OpenID Connect ID token, if granted.
    pub id_token: Option<String>,
    /// The granted scopes, when the provider said.
    pub scope: Option<String>,
    /// Seconds until the access token expires, when the provider said.
    pub expires_in: Option<i64>,
    /// The whole answer.
    pub raw: Map<String, Value>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type)
            .field("has_refresh_token", &self.refresh_token.is_some())
            .field("has_id_token", &self.id_token.is_some())
            .field("scope", &self.scope)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

impl TokenResponse {
    /// Reads a token response. `Err` carries a message without token values.
    pub fn from_json(value: Value) -> Result<Self, String> {
        let Value::Object(raw) = value else {
            return Err("the answer is not a JSON object".to_owned());
        };
        let text = |key: &str| raw.get(key).and_then(Value::as_str).map(str::to_owned);
        let access_token = text("access_token")
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                let keys: Vec<&String> = raw.keys().collect();
                format!("Bad response: no access_token (keys: {keys:?})")
            })?;
        let token_type = match text("token_type") {
            Some(kind) if kind.eq_ignore_ascii_case("bearer") => "Bearer".to_owned(),
            Some(kind) if !kind.is_empty() => kind,
            _ => "Bearer".to_owned(),
        };
        let scope = match raw.get("scope") {
            Some(Value::String(scope)) => Some(scope.clone()),
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            _ => None,
        };
        let expires_in = match raw.get("expires_in") {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        };
        Ok(TokenResponse {
            access_token,
            token_type,
            refresh_token: text("refresh_token").filter(|t| !t.is_empty()),
            id_token: text("id_token").filter(|t| !t.is_empty()),
            scope,
            expires_in,
            raw,
        })
    }

    /// The granted scopes as upstream lists them: split on spaces, or on commas (GitHub),
    /// or one item. When the provider did not say, the requested scopes (RFC 6749 5.1)
    /// instead of upstream's `[""]`.
    pub fn scopes(&self, requested: &[String]) -> Vec<String> {
        match &self.scope {
            None => requested.to_vec(),
            Some(scope) if scope.contains(' ') => scope
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            Some(scope) if scope.contains(',') => scope
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
            Some(scope) if scope.is_empty() => Vec::new(),
            Some(scope) => vec![scope.clone()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_token_type_means_bearer() {
        let token = TokenResponse::from_json(json!({"access_token": "a"})).unwrap();
        assert_eq!(token.token_type, "Bearer");
        assert_eq!(token.scopes(&["openid".into()]), vec!["openid"]);
        let token = TokenResponse::from_json(
            json!({"access_token": "a", "token_type": "bearer", "scope": "a,b"}),
        )
        .unwrap();
        assert_eq!(token.token_type, "Bearer");
        assert_eq!(token.scopes(&[]), vec!["a", "b"]);
    }

    #[test]
    fn no_access_token_is_an_error_without_values() {
        let err = TokenResponse::from_json(json!({"refresh_token": "secret-r"})).unwrap_err();
        assert!(!err.contains("secret-r"));
        assert!(TokenResponse::from_json(json!([1])).is_err());
    }

    #[test]
    fn debug_hides_tokens() {
        let token =
            TokenResponse::from_json(json!({"access_token": "secret-a", "id_token": "secret-i"}))
                .unwrap();
        let shown = format!("{token:?}");
        assert!(!shown.contains("secret"));
    }
}
