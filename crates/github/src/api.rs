//! The requests to GitHub's REST API besides GET /user: the user's emails, teams, and
//! organization and team membership, each read exactly as GitHub documents its answers.
//!
//! - Check organization membership for a user, `GET /orgs/{org}/members/{username}`
//!   (<https://docs.github.com/rest/orgs/members#check-organization-membership-for-a-user>):
//!   204 is a member; 404 is not (when the requester is a member); 302 means the requester
//!   is not a member, or its token cannot see private memberships (no `read:org`), and
//!   sends the client to the public membership check
//!   (<https://docs.github.com/rest/orgs/members#check-public-organization-membership-for-a-user>),
//!   where 204 is a public member and 404 is not. The hub asks that URL itself rather than
//!   follow the `Location` it is given: the token goes nowhere but `github_api`.
//! - Get team membership for a user, `GET /orgs/{org}/teams/{team_slug}/memberships/{username}`
//!   (<https://docs.github.com/rest/teams/members#get-team-membership-for-a-user>): 200
//!   with `state` `active` or `pending` (an invitation not yet accepted), 404 without a
//!   membership. Only `active` counts. (Upstream asks the undocumented
//!   `/orgs/{org}/teams/{team}/members/{username}` instead, F17.)
//! - List email addresses for the authenticated user, `GET /user/emails`
//!   (<https://docs.github.com/rest/users/emails#list-email-addresses-for-the-authenticated-user>),
//!   and list teams for the authenticated user, `GET /user/teams`
//!   (<https://docs.github.com/rest/teams/teams#list-teams-for-the-authenticated-user>):
//!   JSON lists, paginated with `link` headers.
//!
//! Every request sends `Accept: application/vnd.github+json` and the API version
//! (`X-GitHub-Api-Version`), and hubauth's `User-Agent` (GitHub refuses requests without
//! one). 401 is a refused token; any other status a step does not document is an error,
//! never a "no".

use serde_json::Value;

use crate::error::ApiError;
use crate::link::next_link;

/// The REST API version hubauth speaks (<https://docs.github.com/rest/about-the-rest-api/api-versions>).
pub const API_VERSION: &str = "2022-11-28";
/// The most items GitHub returns on one page (`per_page`).
pub const PER_PAGE: usize = 100;
/// The most pages read for one list.
pub const MAX_PAGES: usize = 50;
/// The largest answer read.
const MAX_BODY: usize = 1024 * 1024;

const ORG_STEP: &str = "GitHub organization membership check";
const PUBLIC_ORG_STEP: &str = "GitHub public organization membership check";
const TEAM_STEP: &str = "GitHub team membership check";
/// The step that lists the user's emails.
pub const EMAILS_STEP: &str = "GitHub email addresses request";
/// The step that lists the user's teams.
pub const TEAMS_STEP: &str = "GitHub teams request";

/// One answer of the API.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: Vec<u8>,
    link: Option<String>,
}

impl Answer {
    fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// GitHub's `message`, for logs and error pages (cut short).
    fn message(&self) -> String {
        let message = self
            .json()
            .and_then(|json| {
                json.get("message")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "no message".to_owned());
        message.chars().take(200).collect()
    }
}

/// The REST API, asked with one user's token.
pub struct Api<'a> {
    http: &'a reqwest::Client,
    base: url::Url,
    authorization: String,
}

impl std::fmt::Debug for Api<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl<'a> Api<'a> {
    /// The API at `base` (`github_api`), with the token of a token response: the header is
    /// `Bearer <token>` for a bearer token (GitHub's `token_type` is `bearer`), else the
    /// type as given, as upstream sends it.
    ///
    /// # Errors
    /// When `base` is not a URL (the options are checked at start-up, so never in practice).
    pub fn new(
        http: &'a reqwest::Client,
        base: &str,
        token_type: &str,
        token: &str,
    ) -> Result<Self, ApiError> {
        let base = url::Url::parse(base).map_err(|err| ApiError::Malformed {
            step: "GitHub API",
            detail: format!("github_api is not a URL: {err}"),
        })?;
        let scheme = if token_type.eq_ignore_ascii_case("bearer") || token_type.is_empty() {
            "Bearer"
        } else {
            token_type
        };
        Ok(Api {
            http,
            base,
            authorization: format!("{scheme} {token}"),
        })
    }

    /// `github_api` followed by `path` (which starts with `/`).
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base.as_str().trim_end_matches('/'))
    }

    async fn get(&self, step: &'static str, url: &str) -> Result<Answer, ApiError> {
        let request = self
            .http
            .get(url)
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", API_VERSION)
            .header("authorization", &self.authorization);
        let unreachable = |detail: String| ApiError::Unreachable { step, detail };
        let mut response = request.send().await.map_err(|err| {
            let kind = if err.is_timeout() {
                "timed out"
            } else if err.is_connect() {
                "could not connect"
            } else {
                "failed"
            };
            unreachable(format!("{kind}: {}", without_url(&err)))
        })?;
        let status = response.status().as_u16();
        let link = response
            .headers()
            .get("link")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|err| {
            unreachable(format!("reading the answer failed: {}", without_url(&err)))
        })? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(unreachable("the answer is larger than 1 MiB".to_owned()));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer { status, body, link })
    }

    /// Every item of a paginated list, starting at `path` (with `per_page=100`) and
    /// following each `rel="next"` link while it stays on `github_api`.
    ///
    /// # Errors
    /// A refused token, a status other than 200, a page that is not a JSON list, a link
    /// elsewhere, or more than [`MAX_PAGES`] pages.
    pub async fn list(&self, step: &'static str, path: &str) -> Result<Vec<Value>, ApiError> {
        let mut url = format!("{}?per_page={PER_PAGE}", self.url(path));
        let mut items = Vec::new();
        for _ in 0..MAX_PAGES {
            let answer = self.get(step, &url).await?;
            match answer.status {
                200 => {}
                401 => {
                    return Err(ApiError::TokenRefused {
                        step,
                        message: answer.message(),
                    });
                }
                status => {
                    return Err(ApiError::Status {
                        step,
                        status,
                        message: answer.message(),
                    });
                }
            }
            let Some(Value::Array(page)) = answer.json() else {
                return Err(ApiError::Malformed {
                    step,
                    detail: "a page is not a JSON list".to_owned(),
                });
            };
            items.extend(page);
            match answer.link.as_deref().and_then(next_link) {
                None => return Ok(items),
                Some(next) if self.is_ours(&next) => url = next,
                Some(_) => return Err(ApiError::ForeignLink { step }),
            }
        }
        Err(ApiError::TooManyPages {
            step,
            pages: MAX_PAGES,
        })
    }

    /// Whether a URL is on the configured API: same scheme, host and port, under its path.
    fn is_ours(&self, candidate: &str) -> bool {
        let Ok(url) = url::Url::parse(candidate) else {
            return false;
        };
        let base = &self.base;
        let base_path = base.path().trim_end_matches('/');
        url.scheme() == base.scheme()
            && url.host_str() == base.host_str()
            && url.port_or_known_default() == base.port_or_known_default()
            && (url.path() == base_path || url.path().starts_with(&format!("{base_path}/")))
            && url.username().is_empty()
            && url.password().is_none()
    }

    /// Whether `login` is a member of `org`: privately (visible with `read:org`) or
    /// publicly. `org` and `login` must be checked names ([`crate::options::OrgRule`],
    /// [`check_login`]).
    ///
    /// # Errors
    /// A refused token, or an answer GitHub does not document for these checks.
    pub async fn org_membership(&self, org: &str, login: &str) -> Result<bool, ApiError> {
        let answer = self
            .get(ORG_STEP, &self.url(&format!("/orgs/{org}/members/{login}")))
            .await?;
        match answer.status {
            204 => Ok(true),
            404 => Ok(false),
            302 => self.public_org_membership(org, login).await,
            401 => Err(ApiError::TokenRefused {
                step: ORG_STEP,
                message: answer.message(),
            }),
            status => Err(ApiError::Status {
                step: ORG_STEP,
                status,
                message: answer.message(),
            }),
        }
    }

    async fn public_org_membership(&self, org: &str, login: &str) -> Result<bool, ApiError> {
        let answer = self
            .get(
                PUBLIC_ORG_STEP,
                &self.url(&format!("/orgs/{org}/public_members/{login}")),
            )
            .await?;
        match answer.status {
            204 => Ok(true),
            404 => Ok(false),
            401 => Err(ApiError::TokenRefused {
                step: PUBLIC_ORG_STEP,
                message: answer.message(),
            }),
            status => Err(ApiError::Status {
                step: PUBLIC_ORG_STEP,
                status,
                message: answer.message(),
            }),
        }
    }

    /// Whether `login` is an active member of `org`'s team `team` (a pending invitation
    /// is not membership).
    ///
    /// # Errors
    /// A refused token, or an answer GitHub does not document: another status, or a
    /// `state` that is not exactly `active` or `pending`.
    pub async fn team_membership(
        &self,
        org: &str,
        team: &str,
        login: &str,
    ) -> Result<bool, ApiError> {
        let answer = self
            .get(
                TEAM_STEP,
                &self.url(&format!("/orgs/{org}/teams/{team}/memberships/{login}")),
            )
            .await?;
        match answer.status {
            200 => {}
            404 => return Ok(false),
            401 => {
                return Err(ApiError::TokenRefused {
                    step: TEAM_STEP,
                    message: answer.message(),
                });
            }
            status => {
                return Err(ApiError::Status {
                    step: TEAM_STEP,
                    status,
                    message: answer.message(),
                });
            }
        }
        match answer
            .json()
            .as_ref()
            .and_then(|json| json.get("state"))
            .and_then(Value::as_str)
        {
            Some("active") => Ok(true),
            Some("pending") => Ok(false),
            Some(other) => Err(ApiError::Malformed {
                step: TEAM_STEP,
                detail: format!(
                    "membership state {:?} is neither active nor pending",
                    other.chars().take(40).collect::<String>()
                ),
            }),
            None => Err(ApiError::Malformed {
                step: TEAM_STEP,
                detail: "no membership state".to_owned(),
            }),
        }
    }
}

/// Whether a `login` from the user info can be a path segment as it is: GitHub usernames
/// are letters, digits and `-` (Enterprise Managed Users add `_`), so anything else is
/// refused rather than encoded.
///
/// # Errors
/// The login is empty, too long, or has another character.
pub fn check_login(login: &str) -> Result<(), &'static str> {
    crate::options::check_name(login)
}

/// A reqwest error without the URL.
fn without_url(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    if let Some(url) = err.url() {
        text = text.replace(url.as_str(), "<GitHub URL>");
    }
    text
}
