//! Tokens for protected apps (the analog of upstream's `pre_spawn_start`): the auth_state
//! items `[Hub] auth_state_headers` names, as request headers for the app, in forward-auth
//! answers and through the built-in proxy.
//!
//! Paths are dotted (`user.id`; keys that contain dots work too, as in
//! `tokens.transfer.api.globus.org.access_token`) and resolve in the user's auth_state, plus the values the
//! login method offers through [`hubauth_core::Authenticator::app_data`] (Globus:
//! `globus_data`, `globus_local_endpoint`). A string is sent as it is; any other JSON value
//! as base64url (no padding) of its JSON text.
//!
//! `refresh_pre_spawn`: before tokens are handed on, the auth info is refreshed when older
//! than `auth_refresh_age`. The session check already refreshes at that age; with
//! `auth_refresh_age = 0` (no periodic refresh) it is refreshed before every hand-on, as
//! upstream forces a refresh before every spawn.

use axum::http::HeaderValue;
use base64::Engine as _;
use serde_json::Value;

use crate::error::HubError;
use crate::services::{Services, SessionUser};
use crate::session_cache::AppHeaders;

/// The token headers for this session's user at `now`. `Ok(None)` when the refresh that
/// `refresh_pre_spawn` asked for ended the session (the user must log in again).
///
/// They are kept with the session in the session cache, so that the auth_state is read
/// and decrypted once per `session_cache_ttl` rather than on every request.
pub async fn headers_for(
    state: &Services,
    current: SessionUser,
    now: i64,
) -> Result<Option<AppHeaders>, HubError> {
    let specs = &state.config.forward_auth.auth_state_headers;
    if specs.is_empty() {
        return Ok(Some(Vec::new().into()));
    }
    let config = state.authenticator.rules().config();
    let name = current.user.name.clone();
    let session_hash = current.session_hash.clone();
    if config.refresh_pre_spawn && config.auth_refresh_age == 0 {
        // A refresh before every hand-on: nothing to reuse.
        if state.sessions().refresh(current, now).await?.is_none() {
            return Ok(None);
        }
    } else if let Some(cached) = state.session_cache.app_headers(&session_hash, now) {
        return Ok(Some(cached));
    }
    let generation = state.session_cache.generation();
    let auth_state = state.accounts().auth_state(&name, now).await?;
    let mut document = match &auth_state {
        Some(Value::Object(fields)) => fields.clone(),
        _ => serde_json::Map::new(),
    };
    let authenticator = state.authenticator_of(&name).await?;
    for (key, value) in authenticator.app_data(auth_state.as_ref()) {
        document.insert(key, value);
    }
    let document = Value::Object(document);
    let mut out = Vec::with_capacity(specs.len());
    for (header, path) in specs {
        let Some(value) = lookup_path(&document, path) else {
            continue;
        };
        let Some(text) = encode(value) else {
            continue;
        };
        match HeaderValue::from_str(&text) {
            Ok(mut value) => {
                value.set_sensitive(true);
                out.push((header.clone(), value));
            }
            Err(_) => {
                tracing::warn!(user = %name, header = %header, "auth_state item cannot be sent in a header (not visible ASCII); left out");
            }
        }
    }
    let out: AppHeaders = out.into();
    state
        .session_cache
        .set_app_headers(&session_hash, out.clone(), generation);
    Ok(Some(out))
}

/// A key, or a dotted path through nested objects; keys that contain dots themselves
/// (`tokens.transfer.api.globus.org.access_token`) are found too.
fn lookup_path<'a>(document: &'a Value, path: &str) -> Option<&'a Value> {
    if let Some(found) = document.get(path) {
        return Some(found);
    }
    let object = document.as_object()?;
    for (index, _) in path.match_indices('.') {
        let (head, rest) = (&path[..index], &path[index + 1..]);
        if let Some(found) = object.get(head).and_then(|inner| lookup_path(inner, rest)) {
            return Some(found);
        }
    }
    None
}

/// A header text for a JSON value: strings as they are, `null` as nothing, anything else as
/// base64url of its JSON.
fn encode(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        other => Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_and_encodings() {
        let doc = json!({
            "access_token": "at",
            "tokens": {"transfer.api.globus.org": {"access_token": "tr"}},
            "user": {"id": 7},
            "nothing": null,
        });
        assert_eq!(
            encode(lookup_path(&doc, "access_token").unwrap()).unwrap(),
            "at"
        );
        assert_eq!(lookup_path(&doc, "user.id"), Some(&json!(7)));
        assert_eq!(
            lookup_path(&doc, "tokens.transfer.api.globus.org.access_token"),
            Some(&json!("tr"))
        );
        let tokens = lookup_path(&doc, "tokens").unwrap();
        let text = encode(tokens).unwrap();
        let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .unwrap();
        let back: Value = serde_json::from_slice(&decoded).unwrap();
        assert_eq!(&back, tokens);
        assert_eq!(encode(lookup_path(&doc, "nothing").unwrap()), None);
        assert!(lookup_path(&doc, "missing.x").is_none());
    }
}
