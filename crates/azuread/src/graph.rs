//! Microsoft Graph: the user's groups when the ID token leaves them out (group overage).

use hubauth_oauth::http::send;
use serde_json::{Value, json};

use crate::error::AzureError;

/// Whether the claims signal a group overage: no `groups` claim, but `_claim_names.groups`
/// (with `_claim_sources`) or `hasgroups: true` saying the groups exist elsewhere.
pub fn has_group_overage(claims: &Value) -> bool {
    if claims.get("groups").is_some() {
        return false;
    }
    let named = claims
        .get("_claim_names")
        .and_then(|names| names.get("groups"))
        .is_some();
    let has = claims.get("hasgroups").and_then(Value::as_bool) == Some(true);
    named || has
}

/// At most this many pages are followed, so a misbehaving server cannot loop the login.
const MAX_PAGES: usize = 100;

/// The ids of every group (and directory role) the signed-in user is a member of,
/// transitively: `POST {graph_api_url}/v1.0/me/getMemberObjects` with
/// `securityEnabledOnly: false`, following `@odata.nextLink` if Graph pages the answer.
pub async fn member_groups(
    client: &reqwest::Client,
    graph_api_url: &str,
    access_token: &str,
) -> Result<Vec<String>, AzureError> {
    let first = client
        .post(format!("{graph_api_url}/v1.0/me/getMemberObjects"))
        .bearer_auth(access_token)
        .header("accept", "application/json")
        .json(&json!({ "securityEnabledOnly": false }));
    let mut page = read_page(first).await?;
    let mut groups = Vec::new();
    for _ in 0..MAX_PAGES {
        let items = page.get("value").and_then(Value::as_array).ok_or_else(|| {
            AzureError::GraphUnavailable("the answer has no value list".to_owned())
        })?;
        for item in items {
            // getMemberObjects lists ids; memberOf-style pages list objects with an id.
            let id = item
                .as_str()
                .or_else(|| item.get("id").and_then(Value::as_str));
            if let Some(id) = id {
                groups.push(id.to_owned());
            }
        }
        let Some(next) = page.get("@odata.nextLink").and_then(Value::as_str) else {
            return Ok(groups);
        };
        if !next.starts_with(graph_api_url) {
            return Err(AzureError::GraphUnavailable(
                "the next page link points outside graph_api_url".to_owned(),
            ));
        }
        let request = client
            .get(next)
            .bearer_auth(access_token)
            .header("accept", "application/json");
        page = read_page(request).await?;
    }
    Err(AzureError::GraphUnavailable(format!(
        "more than {MAX_PAGES} pages of groups"
    )))
}

/// The object id of the user an access token belongs to: `GET {graph_api_url}/v1.0/me`.
pub async fn me_id(
    client: &reqwest::Client,
    graph_api_url: &str,
    access_token: &str,
) -> Result<String, AzureError> {
    let request = client
        .get(format!("{graph_api_url}/v1.0/me?$select=id"))
        .bearer_auth(access_token)
        .header("accept", "application/json");
    let me = read_page(request).await?;
    me.get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| AzureError::GraphUnavailable("the answer has no id".to_owned()))
}

async fn read_page(request: reqwest::RequestBuilder) -> Result<Value, AzureError> {
    let response = send("Microsoft Graph", request)
        .await
        .map_err(|err| AzureError::GraphUnavailable(err.to_string()))?;
    match response.status {
        200..=299 => response
            .json
            .ok_or_else(|| AzureError::GraphUnavailable("the answer is not JSON".to_owned())),
        401 | 403 => Err(AzureError::GraphRefused {
            status: response.status,
        }),
        status => Err(AzureError::GraphUnavailable(format!("HTTP {status}"))),
    }
}
