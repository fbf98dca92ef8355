//! `GitLabOAuthenticator`: the GitLab provider plugged into the OAuth base.

use async_trait::async_trait;
use hubauth_config::{ClassView, ConfigError, Origin};
use hubauth_core::{AuthError, AuthModel, Secret};
use hubauth_local::Local;
use hubauth_oauth::http::{ProviderResponse, send};
use hubauth_oauth::{OAuthConfig, OAuthCore, OAuthenticator, Provider};
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use crate::error::GitLabError;
use crate::membership::{
    self, GROUP_STEP, MemberPath, PROJECT_STEP, Source, VERSION_STEP, group_member_url,
    project_member_url, read_member,
};
use crate::options::GitLabConfig;

/// Where upstream keeps GitLab's user (the answer of `/user`) in auth_state.
pub const USER_KEY: &str = "gitlab_user";

/// The key of [`AuthModel::extra`] under which the membership found while the model was
/// built travels to the allow stage (never persisted).
pub const MEMBERSHIP_KEY: &str = "gitlab_membership";

/// The scopes with which GitLab's REST API answers the version and membership requests
/// (`read_api` for GET requests, or `api`).
const API_SCOPES: [&str; 2] = ["read_api", "api"];

/// What made a user allowed by the GitLab rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Membership {
    /// A member of this group of `allowed_gitlab_groups`.
    Group(String),
    /// Developer or higher in this project of `allowed_project_ids`.
    Project(u64),
    /// Neither.
    None,
}

impl Membership {
    fn to_json(&self) -> Value {
        match self {
            Membership::Group(group) => json!({ "group": group }),
            Membership::Project(project) => json!({ "project": project }),
            Membership::None => Value::Null,
        }
    }
}

/// The GitLab provider: upstream's `GitLabOAuthenticator` steps.
#[derive(Debug)]
pub struct GitLab {
    config: GitLabConfig,
    /// Which membership path the server has, asked once (as upstream memoizes it).
    member_path: OnceCell<MemberPath>,
}

/// `GitLabOAuthenticator`.
pub type GitLabOAuthenticator = OAuthenticator<GitLab>;

/// `LocalGitLabOAuthenticator`.
pub type LocalGitLabOAuthenticator = Local<GitLabOAuthenticator>;

impl GitLab {
    /// A provider with these options.
    pub fn new(config: GitLabConfig) -> Self {
        GitLab {
            config,
            member_path: OnceCell::new(),
        }
    }

    /// The GitLab options.
    pub fn config(&self) -> &GitLabConfig {
        &self.config
    }

    async fn get(
        &self,
        core: &OAuthCore,
        step: &'static str,
        url: &str,
        token: &str,
    ) -> Result<ProviderResponse, GitLabError> {
        let request = core
            .http()
            .get(url)
            .header("accept", "application/json")
            .header("authorization", format!("Bearer {token}"));
        send(step, request).await.map_err(|err| match err {
            AuthError::Upstream { detail, .. } => GitLabError::Unavailable { step, detail },
            other => GitLabError::Unavailable {
                step,
                detail: other.to_string(),
            },
        })
    }

    /// The membership path of this GitLab, from `GET {gitlab_api}/version` the first time
    /// (a failure is not remembered: the next check asks again).
    async fn member_path(&self, core: &OAuthCore, token: &str) -> Result<MemberPath, GitLabError> {
        self.member_path
            .get_or_try_init(|| async {
                let url = format!("{}/version", self.config.gitlab_api);
                let response = self.get(core, VERSION_STEP, &url, token).await?;
                if response.status != 200 {
                    return Err(membership::refusal(
                        "the GitLab version",
                        VERSION_STEP,
                        response.status,
                        response.json.as_ref(),
                    ));
                }
                let path = membership::member_path(response.json.as_ref())?;
                tracing::debug!(?path, "GitLab membership path");
                Ok(path)
            })
            .await
            .copied()
    }

    /// Asks GitLab, with the user's token in `auth_state`, whether the user is in one of
    /// `allowed_gitlab_groups` or has Developer access to one of `allowed_project_ids`, in
    /// upstream's order (groups, then projects), stopping at the first that allows.
    pub async fn membership(
        &self,
        core: &OAuthCore,
        auth_state: Option<&Value>,
    ) -> Result<Membership, GitLabError> {
        let state = auth_state.ok_or(GitLabError::NoAccessToken)?;
        let token = state
            .get("token_response")
            .and_then(|response| response.get("access_token"))
            .or_else(|| state.get("access_token"))
            .and_then(Value::as_str)
            .filter(|token| !token.is_empty())
            .ok_or(GitLabError::NoAccessToken)?;
        let user_id = state
            .get(USER_KEY)
            .and_then(|user| user.get("id"))
            .and_then(Value::as_u64)
            .filter(|id| *id > 0)
            .ok_or(GitLabError::NoUserId)?;
        let path = self.member_path(core, token).await?;
        let api = &self.config.gitlab_api;
        for group in &self.config.allowed_gitlab_groups {
            let url = group_member_url(api, group, path, user_id);
            let answer = self.get(core, GROUP_STEP, &url, token).await?;
            if read_member(Source::Group, answer.status, answer.json.as_ref(), user_id)? {
                return Ok(Membership::Group(group.clone()));
            }
        }
        for project in &self.config.allowed_project_ids {
            let url = project_member_url(api, *project, path, user_id);
            let answer = self.get(core, PROJECT_STEP, &url, token).await?;
            if read_member(
                Source::Project,
                answer.status,
                answer.json.as_ref(),
                user_id,
            )? {
                return Ok(Membership::Project(*project));
            }
        }
        Ok(Membership::None)
    }

    /// The membership recorded in the model by [`Provider::update_auth_model`], if it is
    /// about the rules configured now.
    fn recorded(&self, model: &AuthModel) -> Option<Membership> {
        match model.extra.get(MEMBERSHIP_KEY)? {
            Value::Null => Some(Membership::None),
            Value::Object(found) => {
                if let Some(group) = found.get("group").and_then(Value::as_str) {
                    return self
                        .config
                        .allowed_gitlab_groups
                        .contains(group)
                        .then(|| Membership::Group(group.to_owned()));
                }
                let project = found.get("project").and_then(Value::as_u64)?;
                self.config
                    .allowed_project_ids
                    .contains(&project)
                    .then_some(Membership::Project(project))
            }
            _ => None,
        }
    }
}

/// Builds a `GitLabOAuthenticator` from its class view.
pub fn gitlab_from_view(view: &ClassView<'_>) -> Result<GitLabOAuthenticator, ConfigError> {
    let class = view.class_name().to_owned();
    let gitlab = GitLabConfig::from_view(view)?;
    let mut oauth = OAuthConfig::from_view(view)?;
    // Upstream counts every truthy option whose name starts with "allow" as allow config.
    if oauth.base.any_allow_config.is_none() && gitlab.has_membership_rules() {
        oauth.base.any_allow_config = Some(true);
    }
    // Upstream reads GITLAB_CLIENT_ID (GITLAB_CLIENT_SECRET) and falls back to
    // OAUTH_CLIENT_ID (OAUTH_CLIENT_SECRET) when it is unset *or empty*.
    if matches!(
        view.origin("client_id"),
        Origin::Env {
            var: "GITLAB_CLIENT_ID"
        }
    ) && oauth.client_id.is_empty()
    {
        oauth.client_id = view.env().var("OAUTH_CLIENT_ID").unwrap_or_default();
    }
    if matches!(
        view.origin("client_secret"),
        Origin::Env {
            var: "GITLAB_CLIENT_SECRET"
        }
    ) && oauth.client_secret.expose().is_empty()
    {
        oauth.client_secret =
            Secret::new(view.env().var("OAUTH_CLIENT_SECRET").unwrap_or_default());
    }
    oauth.authorize_url = gitlab.authorize_url.clone();
    oauth.token_url = gitlab.token_url.clone();
    oauth.userdata_url = gitlab.userdata_url.clone();
    // F23: a membership rule whose requests GitLab would refuse at every login (upstream
    // oauthenticator#372: with read_user alone every check answers 403). An empty scope
    // is GitLab's default, `api`, which covers them.
    if gitlab.has_membership_rules()
        && !oauth.scope.is_empty()
        && !oauth.scope.iter().any(|s| API_SCOPES.contains(&s.as_str()))
    {
        let option = if gitlab.allowed_gitlab_groups.is_empty() {
            "allowed_project_ids"
        } else {
            "allowed_gitlab_groups"
        };
        return Err(view.invalid(
            "scope",
            format!(
                "{class}.{option} is checked through GitLab's REST API, which needs the read_api (or api) scope, and scope {:?} has neither, so GitLab would refuse every check; add \"read_api\" to scope (and to the GitLab application's scopes)",
                oauth.scope
            ),
        ));
    }
    oauth.check_endpoints(view)?;
    let core = OAuthCore::new(oauth).map_err(|err| view.invalid("http_request_kwargs", err))?;
    Ok(OAuthenticator::new(core, GitLab::new(gitlab)))
}

/// Builds `LocalGitLabOAuthenticator` (GitLab users who are also local UNIX users).
pub fn local_gitlab_from_view(
    view: &ClassView<'_>,
) -> Result<LocalGitLabOAuthenticator, ConfigError> {
    Local::from_view(view, gitlab_from_view)
}

#[async_trait]
impl Provider for GitLab {
    fn class_name(&self) -> &'static str {
        "GitLabOAuthenticator"
    }

    fn user_auth_state_key(&self) -> &'static str {
        USER_KEY
    }

    fn startup_warnings(&self, core: &OAuthCore) -> Vec<String> {
        let class = self.class_name();
        let mut warnings = self.config.warnings.clone();
        if core.config.scope.is_empty() {
            warnings.push(format!(
                "{class}.scope is empty, so GitLab grants its default scope, api: read and write access to everything the user can reach in GitLab, kept in auth_state. GitLab refuses the login (invalid_scope) unless the GitLab application has the api scope. Set {class}.scope = [\"read_user\"], with \"read_api\" when allowed_gitlab_groups or allowed_project_ids is used."
            ));
        }
        if !core.config.allow_unverified_email
            && hubauth_oauth::identity::email_source(&core.config.username_claim).is_some()
        {
            warnings.push(format!(
                "{class}.username_claim takes usernames from an email, and GitLab's /user sends no email_verified, so every login will be refused with \"Login with unverified email ... is not allowed\". Keep the default username_claim (\"username\"), or set {class}.allow_unverified_email = true if this GitLab requires email confirmation."
            ));
        }
        if self.config.has_membership_rules() && !core.config.base.enable_auth_state {
            warnings.push(format!(
                "{class}.allowed_gitlab_groups / allowed_project_ids are checked at login, and again at each refresh only with enable_auth_state (the token is kept there); without it a user removed from GitLab keeps their session until it ends."
            ));
        }
        warnings
    }

    /// The membership checks run here, where the OAuth base builds the model at login and
    /// at refresh, so that GitLab being unavailable during a refresh is an outage (the
    /// session stays and the refresh is retried) rather than a refusal. They run only for
    /// a user no other allow rule admits and who is not blocked (upstream asks GitLab only
    /// then), and their
    /// result travels to the allow stage in the model, unstored.
    async fn update_auth_model(
        &self,
        core: &OAuthCore,
        mut model: AuthModel,
    ) -> Result<AuthModel, AuthError> {
        if !self.config.has_membership_rules() || core.rules.config().allow_all {
            return Ok(model);
        }
        let name = core.rules.normalize_username(&model.name);
        // Blocked users are refused before the allow stage: nothing to ask GitLab.
        if !core.rules.check_blocked_users(&name)
            || core.oauth_allows(&name, &model)
            || core.rules.check_allowed(&name, Some(&model))
        {
            return Ok(model);
        }
        let found = self
            .membership(core, model.auth_state.as_ref())
            .await
            .map_err(|err| log_failure(&name, err))?;
        model
            .extra
            .insert(MEMBERSHIP_KEY.to_owned(), found.to_json());
        Ok(model)
    }

    /// `allowed_gitlab_groups` and `allowed_project_ids`: the membership found while the
    /// model was built, or (for a model that did not come from GitLab, such as a
    /// `refresh_user_hook`'s) asked now.
    async fn check_allowed(
        &self,
        core: &OAuthCore,
        name: &str,
        model: &AuthModel,
    ) -> Result<bool, AuthError> {
        if !self.config.has_membership_rules() {
            return Ok(false);
        }
        let found = match self.recorded(model) {
            Some(found) => found,
            None => self
                .membership(core, model.auth_state.as_ref())
                .await
                .map_err(|err| log_failure(name, err))?,
        };
        match found {
            Membership::Group(group) => {
                tracing::info!(user = %name, group = %group, "allowed as a member of a GitLab group");
                Ok(true)
            }
            Membership::Project(project) => {
                tracing::info!(user = %name, project, "allowed with Developer access to a GitLab project");
                Ok(true)
            }
            Membership::None => {
                tracing::warn!(user = %name, "not a member of an allowed GitLab group nor a Developer in an allowed GitLab project");
                Ok(false)
            }
        }
    }
}

fn log_failure(name: &str, err: GitLabError) -> AuthError {
    if err.is_unavailable() {
        tracing::warn!(user = %name, error = %err, "GitLab membership check failed");
    } else {
        tracing::warn!(user = %name, error = %err, "GitLab refused the membership check");
    }
    err.into()
}
