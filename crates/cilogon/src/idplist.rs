//! CILogon's list of identity providers, and the check of `idps` against it.
//!
//! CILogon publishes the IdPs it accepts at `https://{cilogon_host}/idplist/`: a JSON list
//! of objects with `EntityID`, `OrganizationName`, `DisplayName` and the R&S flag
//! (`RandS`); with `?skin=NAME` the list a skin allows. When CILogon cannot read its own
//! list the endpoint answers `[]` (cilogon/service, `idplist/index.php`). An EntityID
//! that is not in the list is one CILogon never reports as a user's `idp` (it also drops
//! unknown EntityIDs from `selected_idp`), so such an entry of `idps` lets nobody in; a
//! typo, or an OIDC issuer where CILogon uses its own EntityID (Google is
//! `http://google.com/accounts/o8/id`), is the usual cause.
//!
//! Upstream checks only the form of the keys (a URL or URN). hubauth also checks them
//! against the list, once, in the background when the first login starts (a hub never
//! waits for it, and no login depends on it): configured EntityIDs the list does not name
//! are logged as a warning. When the list cannot be fetched or read, or is empty, that is
//! logged once as a warning and nothing else happens (logins go on as configured; the check
//! is not retried until the hub restarts). `idplist_url = ""` turns the check off.

use serde_json::Value;

use crate::error::IdpListError;

/// The largest list read (the real list, every InCommon and eduGAIN IdP, is about a
/// megabyte; hubauth's usual limit for provider answers is 1 MiB).
pub const MAX_LIST_BYTES: usize = 16 * 1024 * 1024;

/// One IdP of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedIdp {
    /// `EntityID`.
    pub entity_id: String,
    /// `DisplayName` (else `OrganizationName`), when the list gives one.
    pub display_name: Option<String>,
}

/// Reads the list from its JSON text.
///
/// # Errors
/// [`IdpListError::Malformed`] unless it is a list of objects each with a string
/// `EntityID`; [`IdpListError::Empty`] for `[]`.
pub fn parse_list(body: &[u8]) -> Result<Vec<ListedIdp>, IdpListError> {
    let json: Value = serde_json::from_slice(body)
        .map_err(|_| IdpListError::Malformed("the answer is not JSON".to_owned()))?;
    let Value::Array(items) = json else {
        return Err(IdpListError::Malformed(
            "the answer is not a list".to_owned(),
        ));
    };
    if items.is_empty() {
        return Err(IdpListError::Empty);
    }
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let entity_id = item
                .get("EntityID")
                .and_then(Value::as_str)
                .filter(|id| !id.is_empty())
                .ok_or_else(|| {
                    IdpListError::Malformed(format!("entry {index} has no string EntityID"))
                })?;
            let display_name = ["DisplayName", "OrganizationName"]
                .iter()
                .find_map(|key| item.get(*key).and_then(Value::as_str))
                .map(str::to_owned);
            Ok(ListedIdp {
                entity_id: entity_id.to_owned(),
                display_name,
            })
        })
        .collect()
}

/// Fetches the list (`?skin=` added when a skin is configured), reading at most
/// [`MAX_LIST_BYTES`].
///
/// # Errors
/// An [`IdpListError`] saying why the list cannot be used.
pub async fn fetch_list(
    client: &reqwest::Client,
    url: &str,
    skin: &str,
) -> Result<Vec<ListedIdp>, IdpListError> {
    let mut request = client.get(url).header("accept", "application/json");
    if !skin.is_empty() {
        request = request.query(&[("skin", skin)]);
    }
    let mut response = request
        .send()
        .await
        .map_err(|err| IdpListError::Unreachable(without_url(&err)))?;
    let status = response.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(IdpListError::Status(status));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|err| IdpListError::Unreachable(without_url(&err)))?
    {
        if body.len() + chunk.len() > MAX_LIST_BYTES {
            return Err(IdpListError::TooLarge(MAX_LIST_BYTES));
        }
        body.extend_from_slice(&chunk);
    }
    parse_list(&body)
}

fn without_url(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    if let Some(url) = err.url() {
        text = text.replace(url.as_str(), "<IdP list URL>");
    }
    text
}

/// What the check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdpListReport {
    /// Every configured EntityID is in the list.
    AllListed,
    /// These configured EntityIDs are not in the list (in the order configured).
    Unlisted(Vec<String>),
    /// The list could not be used; nothing was checked.
    Unavailable(IdpListError),
}

/// Compares the configured EntityIDs with the list (exactly, as CILogon reports them in
/// the `idp` claim).
pub fn compare<'a>(
    configured: impl IntoIterator<Item = &'a str>,
    list: &[ListedIdp],
) -> IdpListReport {
    let unlisted: Vec<String> = configured
        .into_iter()
        .filter(|id| !list.iter().any(|listed| listed.entity_id == *id))
        .map(str::to_owned)
        .collect();
    if unlisted.is_empty() {
        IdpListReport::AllListed
    } else {
        IdpListReport::Unlisted(unlisted)
    }
}

/// Fetches the list and compares, logging the outcome once: a warning for unlisted
/// EntityIDs or an unusable list, an info line otherwise.
pub async fn check(
    client: &reqwest::Client,
    url: &str,
    skin: &str,
    configured: &[String],
) -> IdpListReport {
    let report = match fetch_list(client, url, skin).await {
        Ok(list) => compare(configured.iter().map(String::as_str), &list),
        Err(err) => IdpListReport::Unavailable(err),
    };
    match &report {
        IdpListReport::AllListed => {
            tracing::info!(
                count = configured.len(),
                "every EntityID in idps is in CILogon's IdP list"
            );
        }
        IdpListReport::Unlisted(unlisted) => {
            tracing::warn!(
                ?unlisted,
                "these EntityIDs in idps are not in CILogon's IdP list ({url}), so nobody can log in through them: check them against the list (a typo, or an OIDC issuer where CILogon uses its own EntityID)"
            );
        }
        IdpListReport::Unavailable(err) => {
            tracing::warn!(error = %err, "could not check idps against CILogon's IdP list ({url}); logins are not affected, the check is not retried until restart");
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_read_as_cilogon_publishes_it() {
        let body = br#"[{"EntityID":"https://idp.uni.edu/idp/shibboleth","OrganizationName":"Uni","DisplayName":"Uni (display)","RandS":true},
            {"EntityID":"http://google.com/accounts/o8/id","OrganizationName":"Google","RandS":false}]"#;
        let list = parse_list(body).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].display_name.as_deref(), Some("Uni (display)"));
        assert_eq!(list[1].display_name.as_deref(), Some("Google"));
        let configured = [
            "https://accounts.google.com",
            "https://idp.uni.edu/idp/shibboleth",
        ];
        assert_eq!(
            compare(configured, &list),
            IdpListReport::Unlisted(vec!["https://accounts.google.com".to_owned()])
        );
        assert_eq!(
            compare(["http://google.com/accounts/o8/id"], &list),
            IdpListReport::AllListed
        );
    }

    #[test]
    fn an_unusable_list_is_said_so() {
        assert_eq!(parse_list(b"[]"), Err(IdpListError::Empty));
        assert!(matches!(
            parse_list(b"<html>"),
            Err(IdpListError::Malformed(_))
        ));
        assert!(matches!(parse_list(b"{}"), Err(IdpListError::Malformed(_))));
        assert!(matches!(
            parse_list(br#"[{"OrganizationName":"x"}]"#),
            Err(IdpListError::Malformed(_))
        ));
        assert!(matches!(
            parse_list(br#"[{"EntityID":7}]"#),
            Err(IdpListError::Malformed(_))
        ));
    }
}
