//! Globus token responses: one token at the top level, the others in `other_tokens`.
//!
//! Each token names its `resource_server`. The top-level one is usually Globus Auth's
//! (`auth.globus.org`), but not always: Globus's SDKs never assume so (globus-sdk-python's
//! `OAuthTokenResponse.by_resource_server` keys the top-level token by its own
//! `resource_server`, and the SDK's registered response for a code exchange has a Transfer
//! token at the top level). So every token is found by its resource server
//! ([`token_for`]), wherever it is in the response.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::options::AUTH_RESOURCE_SERVER;

/// The fields each token keeps (upstream's `get_globus_tokens`).
const TOKEN_FIELDS: [&str; 6] = [
    "expires_in",
    "resource_server",
    "scope",
    "token_type",
    "refresh_token",
    "access_token",
];

/// Fields of the top-level token that are credentials.
const TOP_LEVEL_SECRETS: [&str; 2] = ["access_token", "refresh_token"];

fn reduce(token: &Map<String, Value>) -> Value {
    let reduced: Map<String, Value> = TOKEN_FIELDS
        .iter()
        .map(|field| {
            (
                (*field).to_owned(),
                token.get(*field).cloned().unwrap_or(Value::Null),
            )
        })
        .collect();
    Value::Object(reduced)
}

/// Every token of a Globus token response, each reduced to `expires_in`,
/// `resource_server`, `scope`, `token_type`, `refresh_token` and `access_token` (missing
/// fields are null): the `other_tokens`, then the top-level one (upstream's order).
pub fn get_globus_tokens(token_response: &Map<String, Value>) -> Vec<Value> {
    let mut tokens: Vec<Value> = token_response
        .get("other_tokens")
        .and_then(Value::as_array)
        .map(|others| {
            others
                .iter()
                .filter_map(Value::as_object)
                .map(reduce)
                .collect()
        })
        .unwrap_or_default();
    tokens.push(reduce(token_response));
    tokens
}

fn resource_server(token: &Value) -> Option<&str> {
    token.get("resource_server").and_then(Value::as_str)
}

/// The tokens by resource server, without the excluded ones (auth_state's `tokens`).
pub fn tokens_by_resource_server(
    token_response: &Map<String, Value>,
    exclude: &BTreeSet<String>,
) -> Map<String, Value> {
    get_globus_tokens(token_response)
        .into_iter()
        .filter_map(|token| {
            let server = resource_server(&token)?.to_owned();
            (!exclude.contains(&server)).then_some((server, token))
        })
        .collect()
}

/// The token for one resource server, reduced as [`get_globus_tokens`] does, wherever it
/// is in the response (top level or `other_tokens`), if it has an access token. A token
/// that names no resource server is nobody's.
pub fn token_for(token_response: &Map<String, Value>, server: &str) -> Option<Value> {
    get_globus_tokens(token_response).into_iter().find(|token| {
        resource_server(token) == Some(server)
            && token
                .get("access_token")
                .and_then(Value::as_str)
                .is_some_and(|t| !t.is_empty())
    })
}

/// The access token for one resource server, if the response has one ([`token_for`]).
pub fn access_token_for(token_response: &Map<String, Value>, server: &str) -> Option<String> {
    token_for(token_response, server)
        .and_then(|token| token.get("access_token")?.as_str().map(str::to_owned))
}

/// Removes the excluded resource servers' tokens from a token response: their entries in
/// `other_tokens`, the top-level token's credentials when its resource server
/// (`auth.globus.org` when unnamed) is excluded, and the ID token (Globus Auth's, at the
/// top level wherever the Auth token is) when `auth.globus.org` is excluded. Upstream
/// kept them in `token_response` (hubauth's fix F6).
pub fn strip_excluded(token_response: &mut Map<String, Value>, exclude: &BTreeSet<String>) {
    if let Some(Value::Array(others)) = token_response.get_mut("other_tokens") {
        others
            .retain(|token| resource_server(token).is_none_or(|server| !exclude.contains(server)));
    }
    let top = token_response
        .get("resource_server")
        .and_then(Value::as_str)
        .unwrap_or(AUTH_RESOURCE_SERVER)
        .to_owned();
    if exclude.contains(&top) {
        for field in TOP_LEVEL_SECRETS {
            token_response.remove(field);
        }
    }
    if exclude.contains(AUTH_RESOURCE_SERVER) {
        token_response.remove("id_token");
    }
}

/// The JSON handed to a user's apps in place of upstream's `GLOBUS_DATA` (a base64
/// Python pickle of the whole auth_state): `client_id`, `tokens` (by resource server,
/// excluded tokens never included), `globus_user` and `globus_groups`. The raw
/// `token_response` is left out on purpose. See the crate README for the mapping.
pub fn app_data(auth_state: &Value) -> Value {
    let mut data = Map::new();
    for key in ["client_id", "tokens", "globus_user", "globus_groups"] {
        let value = auth_state.get(key).cloned().unwrap_or_else(|| match key {
            "tokens" => Value::Object(Map::new()),
            "globus_groups" => Value::Array(Vec::new()),
            _ => Value::Null,
        });
        data.insert(key.to_owned(), value);
    }
    // Defensive: only tokens that look like tokens (objects) are handed on.
    if let Some(Value::Object(tokens)) = data.get_mut("tokens") {
        tokens.retain(|_, token| token.is_object());
    }
    Value::Object(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn response() -> Map<String, Value> {
        json!({
            "access_token": "auth-at", "refresh_token": "auth-rt", "id_token": "idt",
            "expires_in": 172800, "resource_server": "auth.globus.org",
            "scope": "openid profile", "token_type": "Bearer", "state": "s",
            "other_tokens": [
                {"access_token": "tr-at", "refresh_token": "tr-rt", "expires_in": 172800,
                 "resource_server": "transfer.api.globus.org",
                 "scope": "urn:globus:auth:scope:transfer.api.globus.org:all", "token_type": "Bearer"},
                {"access_token": "gr-at", "expires_in": 172800,
                 "resource_server": "groups.api.globus.org", "token_type": "Bearer"}
            ]
        })
        .as_object()
        .cloned()
        .unwrap()
    }

    #[test]
    fn tokens_are_reduced_and_keyed() {
        let tokens = get_globus_tokens(&response());
        assert_eq!(tokens.len(), 3);
        assert_eq!(tokens[2]["resource_server"], "auth.globus.org");
        assert!(tokens[2].get("id_token").is_none());
        assert_eq!(tokens[1]["refresh_token"], Value::Null);
        let exclude: BTreeSet<String> = ["auth.globus.org".to_owned()].into();
        let kept = tokens_by_resource_server(&response(), &exclude);
        let mut servers: Vec<&String> = kept.keys().collect();
        servers.sort();
        assert_eq!(
            servers,
            ["groups.api.globus.org", "transfer.api.globus.org"]
        );
    }

    #[test]
    fn stripping_removes_every_excluded_credential() {
        let exclude: BTreeSet<String> = [
            "auth.globus.org".to_owned(),
            "groups.api.globus.org".to_owned(),
        ]
        .into();
        let mut raw = response();
        strip_excluded(&mut raw, &exclude);
        let text = Value::Object(raw).to_string();
        for secret in ["auth-at", "auth-rt", "idt", "gr-at"] {
            assert!(!text.contains(secret), "{secret} left in {text}");
        }
        assert!(text.contains("tr-at"));
    }

    /// The top-level token may be another resource server's, with the Auth token in
    /// `other_tokens`: each is still found, and stripped, by its resource server.
    #[test]
    fn tokens_are_found_and_stripped_by_resource_server_wherever_they_are() {
        let mut raw = json!({
            "access_token": "tr-at", "refresh_token": "tr-rt", "id_token": "idt",
            "resource_server": "transfer.api.globus.org", "token_type": "Bearer",
            "other_tokens": [
                {"access_token": "auth-at", "refresh_token": "auth-rt",
                 "resource_server": "auth.globus.org", "token_type": "Bearer"}
            ]
        })
        .as_object()
        .cloned()
        .unwrap();
        assert_eq!(
            access_token_for(&raw, "auth.globus.org").unwrap(),
            "auth-at"
        );
        assert_eq!(
            access_token_for(&raw, "transfer.api.globus.org").unwrap(),
            "tr-at"
        );
        assert_eq!(access_token_for(&raw, "groups.api.globus.org"), None);
        let exclude: BTreeSet<String> = ["auth.globus.org".to_owned()].into();
        strip_excluded(&mut raw, &exclude);
        let text = Value::Object(raw.clone()).to_string();
        for secret in ["auth-at", "auth-rt", "idt"] {
            assert!(!text.contains(secret), "{secret} left in {text}");
        }
        assert_eq!(raw["access_token"], "tr-at", "Transfer is not excluded");
        // A token that names no resource server is not taken for the Auth token.
        let unnamed = json!({"access_token": "x"}).as_object().cloned().unwrap();
        assert_eq!(access_token_for(&unnamed, "auth.globus.org"), None);
    }

    #[test]
    fn app_data_has_only_the_kept_tokens() {
        let state = json!({"client_id": "c", "tokens": {"transfer.api.globus.org": {"access_token": "x"}, "bad": "y"},
            "token_response": {"access_token": "auth-at"}});
        let data = app_data(&state);
        assert!(!data.to_string().contains("auth-at"));
        assert_eq!(data["tokens"].as_object().unwrap().len(), 1);
        assert_eq!(data["globus_groups"], json!([]));
    }
}
