//! The REST API requests behind `allowed_gitlab_groups` and `allowed_project_ids`, and how
//! their answers are read. Pure: the requests are sent by [`crate::provider`].
//!
//! GitLab's documentation (<https://docs.gitlab.com/api/members/>): `GET
//! /groups/:id/members/all/:user_id` and `GET /projects/:id/members/all/:user_id` answer
//! the member (with `access_level`, including membership inherited from parent groups,
//! since GitLab 12.4) or 404 for someone who is not one; `:id` is the numeric id or the
//! URL-encoded full path (<https://docs.gitlab.com/api/rest/#namespaced-paths>: `/` is
//! `%2F`). Before 12.4 only direct members could be asked about (`/members/:user_id`), so
//! upstream asks `GET /version` once and picks the path from it; so does hubauth.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use crate::error::GitLabError;
use crate::options::DEVELOPER_ACCESS;

/// The request naming the version check.
pub const VERSION_STEP: &str = "GitLab version request";
/// The request naming a group membership check.
pub const GROUP_STEP: &str = "GitLab group membership request";
/// The request naming a project membership check.
pub const PROJECT_STEP: &str = "GitLab project membership request";

/// Everything but RFC 3986's unreserved characters is escaped, `/` included, so that a
/// subgroup's full path is one path segment as GitLab requires.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Which membership path the GitLab server has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberPath {
    /// `members/all/:user_id` (GitLab 12.4 and later): inherited membership counts.
    All,
    /// `members/:user_id` (before 12.4): direct members only.
    Direct,
}

impl MemberPath {
    fn segment(self) -> &'static str {
        match self {
            MemberPath::All => "members/all/",
            MemberPath::Direct => "members/",
        }
    }
}

/// The member path for a `GET /version` answer: `{"version": "17.5.1-ee", ...}`. The
/// version must be `MAJOR.MINOR[.PATCH]` in digits before any `-suffix`; anything else is
/// refused rather than guessed (upstream crashed on it).
pub fn member_path(answer: Option<&Value>) -> Result<MemberPath, GitLabError> {
    let bad = |detail: String| GitLabError::Unavailable {
        step: VERSION_STEP,
        detail,
    };
    let text = answer
        .and_then(|answer| answer.get("version"))
        .and_then(Value::as_str)
        .ok_or_else(|| bad("the answer has no version string".to_owned()))?;
    let (major, minor) =
        parse_version(text).ok_or_else(|| bad(format!("{text:?} is not a GitLab version")))?;
    Ok(if (major, minor) >= (12, 4) {
        MemberPath::All
    } else {
        MemberPath::Direct
    })
}

/// `(major, minor)` of `17.5.1-ee`, `12.4.0-pre`, `16.0`: the numbers before the first
/// `-`, two or three of them, each plain digits.
pub fn parse_version(text: &str) -> Option<(u64, u64)> {
    let release = text.split('-').next().unwrap_or_default();
    let parts: Vec<&str> = release.split('.').collect();
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    let numbers: Option<Vec<u64>> = parts
        .iter()
        .map(|part| {
            (!part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
                .then(|| part.parse::<u64>().ok())
                .flatten()
        })
        .collect();
    let numbers = numbers?;
    Some((numbers[0], numbers[1]))
}

/// One path segment of a REST API URL: a group's full path with every `/` as `%2F`
/// (encoded once: upstream encoded twice, `%252F`, so GitLab never found a subgroup; F17,
/// jupyterhub/oauthenticator#423).
pub fn encode_segment(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

/// `{api}/groups/{group}/members/all/{user_id}` (or `members/` before GitLab 12.4).
pub fn group_member_url(api: &str, group: &str, path: MemberPath, user_id: u64) -> String {
    format!(
        "{api}/groups/{}/{}{user_id}",
        encode_segment(group),
        path.segment()
    )
}

/// `{api}/projects/{project}/members/all/{user_id}` (or `members/` before GitLab 12.4).
pub fn project_member_url(api: &str, project: u64, path: MemberPath, user_id: u64) -> String {
    format!("{api}/projects/{project}/{}{user_id}", path.segment())
}

/// What a membership request asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A group: any role counts, as upstream.
    Group,
    /// A project: Developer (30) or higher counts.
    Project,
}

impl Source {
    fn step(self) -> &'static str {
        match self {
            Source::Group => GROUP_STEP,
            Source::Project => PROJECT_STEP,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Source::Group => "group membership",
            Source::Project => "project membership",
        }
    }
}

/// Reads the answer to a membership request about `user_id`: `Ok(true)` when it makes
/// the user allowed (a member of the group; Developer or higher in the project),
/// `Ok(false)` when GitLab says they are not (404, a lower role, or a membership still
/// awaiting approval), an error when the answer cannot be read exactly.
pub fn read_member(
    source: Source,
    status: u16,
    answer: Option<&Value>,
    user_id: u64,
) -> Result<bool, GitLabError> {
    let step = source.step();
    let bad = |detail: String| GitLabError::Unavailable { step, detail };
    match status {
        200 => {}
        404 => return Ok(false),
        other => return Err(refusal(source.what(), step, other, answer)),
    }
    let Some(Value::Object(member)) = answer else {
        return Err(bad("the answer is not a JSON member object".to_owned()));
    };
    if member.get("id").and_then(Value::as_u64) != Some(user_id) {
        return Err(bad(
            "the answer is about another user than the one logging in".to_owned(),
        ));
    }
    // A membership awaiting approval (GitLab's user cap) gives no access yet.
    match member.get("membership_state") {
        None | Some(Value::Null) => {}
        Some(Value::String(state)) if state == "active" => {}
        Some(Value::String(_)) => return Ok(false),
        Some(_) => return Err(bad("membership_state is not a string".to_owned())),
    }
    let level = match member.get("access_level") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64(),
        Some(_) => return Err(bad("access_level is not an integer".to_owned())),
    };
    match source {
        Source::Group => Ok(true),
        Source::Project => match level {
            Some(level) => Ok(level >= DEVELOPER_ACCESS),
            None => Err(bad("the member has no access_level".to_owned())),
        },
    }
}

/// The error for a non-200, non-404 answer of a REST API request.
pub fn refusal(
    what: &'static str,
    step: &'static str,
    status: u16,
    answer: Option<&Value>,
) -> GitLabError {
    let field = |name: &str| {
        answer
            .and_then(|a| a.get(name))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    match status {
        401 => GitLabError::TokenRefused { what },
        403 if field("error") == "insufficient_scope" => GitLabError::InsufficientScope { what },
        403 => GitLabError::Forbidden {
            what,
            detail: Some(field("message"))
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| "no reason given".to_owned()),
        },
        other => GitLabError::Unavailable {
            step,
            detail: format!("HTTP {other}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn versions_pick_the_member_path_and_garbage_is_refused() {
        let path = |v: Value| member_path(Some(&v));
        assert_eq!(path(json!({"version": "17.5.1-ee"})), Ok(MemberPath::All));
        assert_eq!(path(json!({"version": "12.4.0-pre"})), Ok(MemberPath::All));
        assert_eq!(path(json!({"version": "13.0"})), Ok(MemberPath::All));
        assert_eq!(path(json!({"version": "12.3.9"})), Ok(MemberPath::Direct));
        assert_eq!(
            path(json!({"version": "8.13.0-pre"})),
            Ok(MemberPath::Direct)
        );
        for bad in [
            json!({"version": "banana"}),
            json!({"version": "17"}),
            json!({"version": "17.x.1"}),
            json!({"version": " 17.1"}),
            json!({"version": "17.1.2.3"}),
            json!({"version": 17}),
            json!({}),
            json!([]),
        ] {
            assert!(path(bad.clone()).is_err(), "{bad}");
        }
        assert!(member_path(None).is_err());
    }

    #[test]
    fn group_paths_are_encoded_once() {
        assert_eq!(
            group_member_url("https://gl/api/v4", "physics/hpc", MemberPath::All, 7),
            "https://gl/api/v4/groups/physics%2Fhpc/members/all/7"
        );
        assert_eq!(
            group_member_url("https://gl/api/v4", "a.b-c_d~e", MemberPath::Direct, 7),
            "https://gl/api/v4/groups/a.b-c_d~e/members/7"
        );
        assert_eq!(encode_segment("x?y#z%/.."), "x%3Fy%23z%25%2F..");
        assert_eq!(
            project_member_url("https://gl/api/v4", 42, MemberPath::All, 7),
            "https://gl/api/v4/projects/42/members/all/7"
        );
    }

    fn member(level: Value) -> Value {
        json!({"id": 7, "username": "ada", "state": "active", "access_level": level})
    }

    #[test]
    fn project_access_needs_developer_exactly() {
        let read = |status, v: Option<Value>| read_member(Source::Project, status, v.as_ref(), 7);
        assert_eq!(read(200, Some(member(json!(30)))), Ok(true));
        assert_eq!(read(200, Some(member(json!(50)))), Ok(true));
        assert_eq!(read(200, Some(member(json!(20)))), Ok(false));
        assert_eq!(read(200, Some(member(json!(10)))), Ok(false));
        assert_eq!(
            read(404, Some(json!({"message": "404 Not found"}))),
            Ok(false)
        );
        assert_eq!(read(404, None), Ok(false));
        for bad in [json!("30"), json!(30.5), json!(true), json!(null)] {
            assert!(read(200, Some(member(bad.clone()))).is_err(), "{bad}");
        }
        assert!(read(200, Some(json!({"id": 7}))).is_err());
        // Another user, or an id that is not an integer: not this user's answer.
        assert!(read(200, Some(json!({"id": 8, "access_level": 40}))).is_err());
        assert!(read(200, Some(json!({"id": "7", "access_level": 40}))).is_err());
        assert!(read(200, None).is_err());
        assert!(read(200, Some(json!([member(json!(40))]))).is_err());
    }

    #[test]
    fn group_membership_counts_any_role_but_not_awaiting() {
        let read = |v: Value| read_member(Source::Group, 200, Some(&v), 7);
        assert_eq!(read(member(json!(10))), Ok(true));
        assert_eq!(read(json!({"id": 7})), Ok(true));
        let mut awaiting = member(json!(30));
        awaiting["membership_state"] = json!("awaiting");
        assert_eq!(read(awaiting), Ok(false));
        let mut active = member(json!(30));
        active["membership_state"] = json!("active");
        assert_eq!(read(active), Ok(true));
        let mut odd = member(json!(30));
        odd["membership_state"] = json!(1);
        assert!(read(odd).is_err());
    }

    #[test]
    fn refusals_name_the_cause() {
        let scope = json!({"error": "insufficient_scope", "scope": "api read_api"});
        assert_eq!(
            read_member(Source::Group, 403, Some(&scope), 7),
            Err(GitLabError::InsufficientScope {
                what: "group membership"
            })
        );
        assert_eq!(
            read_member(Source::Project, 401, None, 7),
            Err(GitLabError::TokenRefused {
                what: "project membership"
            })
        );
        let blocked = json!({"message": "403 Forbidden - Your account has been blocked."});
        assert!(matches!(
            read_member(Source::Group, 403, Some(&blocked), 7),
            Err(GitLabError::Forbidden { detail, .. }) if detail.contains("blocked")
        ));
        let err = read_member(Source::Group, 500, None, 7).unwrap_err();
        assert!(err.is_unavailable());
        assert!(
            read_member(Source::Group, 302, None, 7)
                .unwrap_err()
                .is_unavailable()
        );
    }
}
