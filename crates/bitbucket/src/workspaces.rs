//! Reading the workspaces a user belongs to: Bitbucket's paginated lists, read exactly.
//!
//! `GET /2.0/workspaces?role=member` answers one page at a time, `{"values": [...],
//! "next": "<url of the next page>", ...}`, without `next` on the last page
//! (<https://developer.atlassian.com/cloud/bitbucket/rest/intro/#pagination>, and the
//! workspaces resource at
//! <https://developer.atlassian.com/cloud/bitbucket/rest/api-group-workspaces/>).

use std::collections::BTreeSet;

use hubauth_oauth::http::send;
use serde_json::Value;

use crate::error::{WORKSPACES_STEP, WorkspacesError};

/// How many pages are followed at most: 50 pages of 100, far more workspaces than a person
/// belongs to; a listing that goes on is refused rather than read for ever.
pub const MAX_PAGES: usize = 50;
/// The page size asked for (Bitbucket's largest for this resource).
pub const PAGE_LEN: &str = "100";

/// One workspace of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    /// The unique slug (`https://bitbucket.org/<slug>/`).
    pub slug: String,
    /// The UUID, braces included, when the page says.
    pub uuid: Option<String>,
    /// The display name, when the page says (never matched).
    pub name: Option<String>,
}

/// A page: its workspaces and the next page's URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The workspaces on this page.
    pub values: Vec<Workspace>,
    /// The `next` link, if there is a next page.
    pub next: Option<String>,
}

/// Reads one page. Anything but the documented shape is an error: a workspace without a
/// string `slug` could be one of the allowed ones, so it is not skipped.
pub fn parse_page(json: &Value) -> Result<Page, WorkspacesError> {
    let malformed = |what: &str| WorkspacesError::Malformed(what.to_owned());
    let Value::Object(page) = json else {
        return Err(malformed("the answer is not a JSON object"));
    };
    let Some(Value::Array(values)) = page.get("values") else {
        return Err(malformed("no values list"));
    };
    let text = |entry: &Value, key: &str| -> Result<Option<String>, WorkspacesError> {
        match entry.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(WorkspacesError::Malformed(format!("{key} is not a string"))),
        }
    };
    let mut workspaces = Vec::with_capacity(values.len());
    for entry in values {
        if !entry.is_object() {
            return Err(malformed("an entry is not a workspace object"));
        }
        let slug = text(entry, "slug")?
            .filter(|slug| !slug.is_empty())
            .ok_or_else(|| malformed("a workspace has no slug"))?;
        workspaces.push(Workspace {
            slug,
            uuid: text(entry, "uuid")?,
            name: text(entry, "name")?,
        });
    }
    let next = match page.get("next") {
        None | Some(Value::Null) => None,
        Some(Value::String(next)) if !next.is_empty() => Some(next.clone()),
        Some(_) => return Err(malformed("next is not a URL")),
    };
    Ok(Page {
        values: workspaces,
        next,
    })
}

/// The first page's URL: the listing with `role=member` and the page size.
pub fn first_page(listing: &url::Url) -> url::Url {
    let mut url = listing.clone();
    url.query_pairs_mut()
        .append_pair("role", "member")
        .append_pair("pagelen", PAGE_LEN);
    url
}

/// A `next` link, if it stays on the listing's scheme, host, port and path: the user's
/// token goes with it.
pub fn check_next(listing: &url::Url, next: &str) -> Result<url::Url, WorkspacesError> {
    let url = url::Url::parse(next)
        .map_err(|_| WorkspacesError::Malformed("next is not a URL".into()))?;
    let same = url.scheme() == listing.scheme()
        && url.host_str() == listing.host_str()
        && url.port_or_known_default() == listing.port_or_known_default()
        && url.path() == listing.path()
        && url.username().is_empty()
        && url.password().is_none();
    if same {
        Ok(url)
    } else {
        Err(WorkspacesError::ForeignNext(format!(
            "{}://{}{}",
            listing.scheme(),
            listing.host_str().unwrap_or_default(),
            listing.path()
        )))
    }
}

/// Every workspace of the user, page after page, with `authorization` as the header
/// (`Bearer <token>`). Stops at an error; never returns a partial list.
pub async fn fetch_all(
    client: &reqwest::Client,
    listing: &url::Url,
    authorization: &str,
) -> Result<Vec<Workspace>, WorkspacesError> {
    let mut url = first_page(listing);
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut all = Vec::new();
    for _ in 0..MAX_PAGES {
        seen.insert(url.to_string());
        let request = client
            .get(url.clone())
            .header("accept", "application/json")
            .header("authorization", authorization);
        let response = send(WORKSPACES_STEP, request)
            .await
            .map_err(|err| WorkspacesError::Unreachable(err.to_string()))?;
        match response.status {
            200 => {}
            401 | 403 => return Err(WorkspacesError::Refused(response.status)),
            other => return Err(WorkspacesError::Status(other)),
        }
        let json = response
            .json
            .ok_or_else(|| WorkspacesError::Malformed("the answer is not JSON".into()))?;
        let page = parse_page(&json)?;
        all.extend(page.values);
        let Some(next) = page.next else {
            return Ok(all);
        };
        let next = check_next(listing, &next)?;
        if seen.contains(next.as_str()) {
            return Err(WorkspacesError::Loop);
        }
        url = next;
    }
    Err(WorkspacesError::TooManyPages(MAX_PAGES))
}

#[cfg(test)]
mod unit {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_page_is_read_exactly() {
        let page = parse_page(&json!({
            "pagelen": 2, "page": 1, "size": 3,
            "values": [
                {"type": "workspace", "slug": "acme", "name": "Acme Corp", "uuid": "{a}"},
                {"type": "workspace", "slug": "alice", "name": null}
            ],
            "next": "https://api.bitbucket.org/2.0/workspaces?role=member&page=2"
        }))
        .unwrap();
        assert_eq!(page.values.len(), 2);
        assert_eq!(page.values[0].slug, "acme");
        assert_eq!(page.values[0].uuid.as_deref(), Some("{a}"));
        assert_eq!(page.values[1].name, None);
        assert!(page.next.is_some());
        let last = parse_page(&json!({"values": []})).unwrap();
        assert_eq!(last.next, None);
    }

    #[test]
    fn a_page_that_could_hide_a_workspace_is_refused() {
        for garbage in [
            json!([]),
            json!({"size": 1}),
            json!({"values": {"slug": "acme"}}),
            json!({"values": ["acme"]}),
            json!({"values": [{"name": "Acme Corp"}]}),
            json!({"values": [{"slug": ""}]}),
            json!({"values": [{"slug": 7}]}),
            json!({"values": [], "next": 3}),
        ] {
            assert!(parse_page(&garbage).is_err(), "{garbage}");
        }
    }

    #[test]
    fn next_links_stay_on_the_listing() {
        let listing = url::Url::parse("https://api.bitbucket.org/2.0/workspaces").unwrap();
        let ok = "https://api.bitbucket.org/2.0/workspaces?role=member&page=2";
        assert_eq!(check_next(&listing, ok).unwrap().as_str(), ok);
        for foreign in [
            "https://evil.example/2.0/workspaces?page=2",
            "http://api.bitbucket.org/2.0/workspaces?page=2",
            "https://api.bitbucket.org:8443/2.0/workspaces?page=2",
            "https://api.bitbucket.org/2.0/user",
            "https://user:pw@api.bitbucket.org/2.0/workspaces?page=2",
            "/2.0/workspaces?page=2",
        ] {
            assert!(check_next(&listing, foreign).is_err(), "{foreign}");
        }
    }

    #[test]
    fn first_page_asks_for_members_and_big_pages() {
        let listing = url::Url::parse("https://api.bitbucket.org/2.0/workspaces").unwrap();
        assert_eq!(
            first_page(&listing).as_str(),
            "https://api.bitbucket.org/2.0/workspaces?role=member&pagelen=100"
        );
    }
}
