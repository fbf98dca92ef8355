//! The OpenAPI 3 document of the REST API, served at `{base_url}hub/api/openapi.json`.
//!
//! The document is `openapi.json` next to this file, written by hand; a test in
//! `crates/cli/tests/external/rest_api.rs` checks that every documented operation exists and
//! answers with a documented status, and that every API route is documented.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::state::AppState;

/// The document's text, as written.
pub const DOCUMENT: &str = include_str!("openapi.json");

/// The document with `servers` pointing at this hub's API prefix.
pub fn document_for(hub_prefix: &str) -> Value {
    let mut doc: Value = serde_json::from_str(DOCUMENT).unwrap_or_else(|err| {
        // The file is checked by a unit test; this only guards against a broken build.
        json!({"openapi": "3.0.3", "info": {"title": "hubauth REST API", "version": "0", "description": format!("document could not be read: {err}")}, "paths": {}})
    });
    doc["servers"] = json!([{"url": format!("{hub_prefix}api")}]);
    doc["info"]["version"] = json!(env!("CARGO_PKG_VERSION"));
    doc
}

/// `GET /openapi.json`.
pub async fn document(State(state): State<AppState>) -> Response {
    super::json_response(StatusCode::OK, document_for(&state.hub_prefix()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_parses_and_names_the_prefix() {
        let _: Value = serde_json::from_str(DOCUMENT).unwrap();
        let doc = document_for("/prefix/hub/");
        assert_eq!(doc["servers"][0]["url"], "/prefix/hub/api");
        assert_eq!(doc["openapi"], "3.0.3");
        assert!(doc["paths"]["/users/{name}/tokens"]["post"].is_object());
    }
}
