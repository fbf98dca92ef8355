//! The Admin SDK Directory API's `groups.list` with a `userKey`: the groups a user (or a
//! group) is a direct member of, page by page (`pageToken` / `nextPageToken`), as
//! <https://developers.google.com/admin-sdk/directory/reference/rest/v1/groups/list>
//! documents it.

use std::collections::BTreeSet;

use hubauth_oauth::http::send;
use serde_json::Value;

use crate::error::DirectoryError;

/// At most this many pages per listing, so a misbehaving server cannot hold a login.
pub const MAX_PAGES: usize = 100;
/// At most this many listings for one user with nested groups.
pub const MAX_LOOKUPS: usize = 200;
const STEP: &str = "Google Directory API request";

/// The addresses (lowercased) of the groups `member_key` is a direct member of.
///
/// # Errors
/// A [`DirectoryError`]; a listing that cannot be read completely is an error, never a
/// shorter list.
pub async fn direct_groups(
    client: &reqwest::Client,
    groups_url: &str,
    access_token: &str,
    member_key: &str,
) -> Result<BTreeSet<String>, DirectoryError> {
    let mut groups = BTreeSet::new();
    let mut seen_tokens = BTreeSet::new();
    let mut page_token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut query = vec![("userKey", member_key.to_owned())];
        if let Some(token) = &page_token {
            query.push(("pageToken", token.clone()));
        }
        let request = client
            .get(groups_url)
            .query(&query)
            .bearer_auth(access_token)
            .header("accept", "application/json");
        let page = read_page(request).await?;
        match page.get("groups") {
            // Google leaves empty lists out of its answers.
            None => {}
            Some(Value::Array(items)) => {
                for item in items {
                    // Every group resource has its address; one without cannot be told
                    // apart from a group a rule names, so the listing is not trusted.
                    let email = item
                        .get("email")
                        .and_then(Value::as_str)
                        .filter(|email| email.contains('@'))
                        .ok_or_else(|| {
                            DirectoryError::BadAnswer("a group has no email address".to_owned())
                        })?;
                    groups.insert(email.to_ascii_lowercase());
                }
            }
            Some(_) => {
                return Err(DirectoryError::BadAnswer("groups is not a list".to_owned()));
            }
        }
        match page.get("nextPageToken") {
            None => return Ok(groups),
            Some(Value::String(next)) if next.is_empty() => return Ok(groups),
            Some(Value::String(next)) => {
                if !seen_tokens.insert(next.clone()) {
                    return Err(DirectoryError::TooManyPages(seen_tokens.len()));
                }
                page_token = Some(next.clone());
            }
            Some(_) => {
                return Err(DirectoryError::BadAnswer(
                    "nextPageToken is not a string".to_owned(),
                ));
            }
        }
    }
    Err(DirectoryError::TooManyPages(MAX_PAGES))
}

/// The groups of `email`: the direct ones, and with `nested` every group those are
/// members of, transitively (each group listed once, cycles included).
///
/// # Errors
/// A [`DirectoryError`] from any listing.
pub async fn member_groups(
    client: &reqwest::Client,
    groups_url: &str,
    access_token: &str,
    email: &str,
    nested: bool,
) -> Result<BTreeSet<String>, DirectoryError> {
    let mut found = direct_groups(client, groups_url, access_token, email).await?;
    if !nested {
        return Ok(found);
    }
    let mut pending: Vec<String> = found.iter().cloned().collect();
    let mut lookups = 1;
    while let Some(group) = pending.pop() {
        if lookups >= MAX_LOOKUPS {
            return Err(DirectoryError::TooManyLookups(MAX_LOOKUPS));
        }
        lookups += 1;
        for parent in direct_groups(client, groups_url, access_token, &group).await? {
            if found.insert(parent.clone()) {
                pending.push(parent);
            }
        }
    }
    Ok(found)
}

async fn read_page(request: reqwest::RequestBuilder) -> Result<Value, DirectoryError> {
    let response = send(STEP, request)
        .await
        .map_err(|err| DirectoryError::Unreachable(err.to_string()))?;
    if (200..300).contains(&response.status) {
        return match response.json {
            Some(Value::Object(map)) => Ok(Value::Object(map)),
            _ => Err(DirectoryError::BadAnswer("not a JSON object".to_owned())),
        };
    }
    // Google's JSON error: {"error": {"code", "message", "errors": [{"reason", ...}]}}.
    let error = response.json.as_ref().and_then(|json| json.get("error"));
    let message = error
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .unwrap_or("no message")
        .to_owned();
    let reason = error
        .and_then(|e| e.get("errors"))
        .and_then(Value::as_array)
        .and_then(|errors| errors.first())
        .and_then(|first| first.get("reason"))
        .and_then(Value::as_str)
        .or_else(|| error.and_then(|e| e.get("status")).and_then(Value::as_str))
        .unwrap_or("unknown")
        .to_owned();
    Err(DirectoryError::Refused {
        status: response.status,
        reason,
        message,
    })
}
