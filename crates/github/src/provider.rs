//! `GitHubOAuthenticator`: the GitHub provider plugged into the OAuth base.

use async_trait::async_trait;
use hubauth_config::{ClassView, ConfigError, Origin};
use hubauth_core::{AuthError, AuthModel, Secret};
use hubauth_oauth::identity::email_source;
use hubauth_oauth::{OAuthConfig, OAuthCore, OAuthenticator, Provider, TokenResponse};
use serde_json::{Value, json};

use crate::api::{Api, EMAILS_STEP, TEAMS_STEP, check_login};
use crate::error::{ApiError, MembershipError};
use crate::options::{GitHubConfig, OrgRule, READ_ORG};

/// The GitHub provider: upstream's `GitHubOAuthenticator` steps.
#[derive(Debug, Clone)]
pub struct GitHub {
    config: GitHubConfig,
}

/// `GitHubOAuthenticator`.
pub type GitHubOAuthenticator = OAuthenticator<GitHub>;

/// Whether a list of scopes lets a token read organization and team memberships:
/// `read:org`, or `write:org` or `admin:org`, which include it (GitHub's "Scopes for OAuth
/// apps").
pub fn reads_org(scopes: &[String]) -> bool {
    scopes
        .iter()
        .any(|scope| matches!(scope.as_str(), READ_ORG | "write:org" | "admin:org"))
}

/// Whether granted scopes let a token list the user's emails: `user` or `user:email`, as
/// upstream checks.
fn reads_emails(scopes: &[String]) -> bool {
    scopes
        .iter()
        .any(|scope| matches!(scope.as_str(), "user" | "user:email"))
}

impl GitHub {
    /// A provider with these options.
    pub fn new(config: GitHubConfig) -> Self {
        GitHub { config }
    }

    /// The GitHub options.
    pub fn config(&self) -> &GitHubConfig {
        &self.config
    }

    /// The API asked with the access token of a stored token response.
    fn api_for<'a>(
        &'a self,
        core: &'a OAuthCore,
        token_response: Option<&Value>,
    ) -> Result<Api<'a>, MembershipError> {
        let response = token_response.ok_or(MembershipError::NoToken)?;
        let token = response
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|token| !token.is_empty())
            .ok_or(MembershipError::NoToken)?;
        let token_type = response
            .get("token_type")
            .and_then(Value::as_str)
            .unwrap_or("bearer");
        Api::new(core.http(), &self.config.github_api, token_type, token)
            .map_err(|_| MembershipError::NoToken)
    }

    /// Fills the user's email from `GET /user/emails` as upstream does (the primary one,
    /// when the profile has no public email and the token may list emails), and records
    /// whether GitHub verified the email kept (`email_verified`, which the `/user` answer
    /// does not have), so that an email username can be checked.
    async fn add_emails(
        &self,
        core: &OAuthCore,
        token: &TokenResponse,
        info: &mut serde_json::Map<String, Value>,
    ) -> Result<(), AuthError> {
        let granted = token.scopes(&core.config.scope);
        if !reads_emails(&granted) {
            return Ok(());
        }
        let public = info
            .get("email")
            .and_then(Value::as_str)
            .filter(|email| !email.is_empty())
            .map(str::to_owned);
        let email_username = email_source(&core.config.username_claim).is_some();
        if public.is_some() && !email_username {
            return Ok(());
        }
        let api = Api::new(
            core.http(),
            &self.config.github_api,
            &token.token_type,
            &token.access_token,
        )?;
        let emails = api.list(EMAILS_STEP, "/user/emails").await?;
        let mut parsed = Vec::with_capacity(emails.len());
        for entry in &emails {
            let (Some(address), Some(primary), Some(verified)) = (
                entry.get("email").and_then(Value::as_str),
                entry.get("primary").and_then(Value::as_bool),
                entry.get("verified").and_then(Value::as_bool),
            ) else {
                return Err(ApiError::Malformed {
                    step: EMAILS_STEP,
                    detail: "an entry lacks email, primary or verified".to_owned(),
                }
                .into());
            };
            parsed.push((address, primary, verified));
        }
        let email = match public {
            Some(email) => Some(email),
            None => parsed
                .iter()
                .find(|(_, primary, _)| *primary)
                .map(|(address, _, _)| (*address).to_owned()),
        };
        if let Some(email) = email {
            let verified = parsed
                .iter()
                .any(|(address, _, verified)| *address == email && *verified);
            info.insert("email".into(), json!(email));
            info.insert("email_verified".into(), json!(verified));
        }
        Ok(())
    }

    /// Whether the user is in one `allowed_organizations` entry.
    async fn is_member(
        &self,
        api: &Api<'_>,
        rule: &OrgRule,
        login: &str,
    ) -> Result<bool, ApiError> {
        match rule {
            OrgRule::Org { org } => api.org_membership(org, login).await,
            OrgRule::Team { org, team } => api.team_membership(org, team, login).await,
        }
    }
}

/// The GitHub login of a model: `github_user.login` in auth_state, checked.
fn login_of(model: &AuthModel) -> Result<String, MembershipError> {
    let login = model
        .auth_state
        .as_ref()
        .and_then(|state| state.get("github_user"))
        .and_then(|user| user.get("login"))
        .and_then(Value::as_str)
        .ok_or(MembershipError::NoLogin)?;
    check_login(login).map_err(|_| MembershipError::InvalidLogin(login.to_owned()))?;
    Ok(login.to_owned())
}

#[async_trait]
impl Provider for GitHub {
    fn class_name(&self) -> &'static str {
        "GitHubOAuthenticator"
    }

    fn user_auth_state_key(&self) -> &'static str {
        "github_user"
    }

    fn startup_warnings(&self, core: &OAuthCore) -> Vec<String> {
        let class = self.class_name();
        let scope = &core.config.scope;
        let mut warnings = self.config.warnings.clone();
        // F17: without read:org GitHub hides private memberships and every team.
        if !self.config.allowed_organizations.is_empty() && !reads_org(scope) {
            warnings.push(format!(
                "{class}.allowed_organizations is set but {class}.scope does not request \"read:org\": GitHub will only show public organization memberships and no team memberships, so members who keep their membership private, and every team entry, will be refused. Add \"read:org\" to {class}.scope."
            ));
        }
        if self.config.populate_teams_in_auth_state && !reads_org(scope) {
            warnings.push(format!(
                "{class}.populate_teams_in_auth_state is set but {class}.scope does not request \"read:org\", so the teams will not be fetched. Add \"read:org\" to {class}.scope."
            ));
        }
        if core.config.basic_auth {
            warnings.push(format!(
                "{class}.basic_auth is true: the client id and secret go to GitHub's token endpoint in an HTTP Basic header, but GitHub documents them as request parameters (\"Authorizing OAuth apps\"), and a token request GitHub cannot authenticate is answered with incorrect_client_credentials. Leave {class}.basic_auth unset."
            ));
        }
        // F27: an email username needs GitHub's word that the address is verified.
        if email_source(&core.config.username_claim).is_some()
            && !core.config.allow_unverified_email
            && !reads_emails(scope)
        {
            warnings.push(format!(
                "{class}.username_claim takes usernames from the email, but {class}.scope requests neither \"user:email\" nor \"user\", so hubauth cannot ask GitHub whether the address is verified and every login will be refused with \"Login with unverified email ... is not allowed\". Add \"user:email\" to {class}.scope."
            ));
        }
        warnings
    }

    /// `GET /user` with the access token, then the emails: the primary one from
    /// `GET /user/emails` when the profile shows none, and whether GitHub verified it.
    /// The email is read here, before the username, so that `username_claim = "email"`
    /// works for users whose email is private too.
    async fn token_to_user(
        &self,
        core: &OAuthCore,
        token: &TokenResponse,
        id_claims: Option<&Value>,
    ) -> Result<Value, AuthError> {
        let info = core.default_token_to_user(token, id_claims).await?;
        let Value::Object(mut info) = info else {
            return Err(AuthError::Upstream {
                step: "user info request to the identity provider".to_owned(),
                detail: "the answer is not a JSON object".to_owned(),
            });
        };
        self.add_emails(core, token, &mut info).await?;
        Ok(Value::Object(info))
    }

    /// The teams, with `populate_teams_in_auth_state` and a scope that can read them.
    async fn update_auth_model(
        &self,
        core: &OAuthCore,
        mut model: AuthModel,
    ) -> Result<AuthModel, AuthError> {
        if !self.config.populate_teams_in_auth_state {
            return Ok(model);
        }
        if !reads_org(&core.config.scope) {
            tracing::error!(
                "read:org scope is required for populate_teams_in_auth_state functionality to work"
            );
            return Ok(model);
        }
        let teams = {
            let response = model
                .auth_state
                .as_ref()
                .and_then(|state| state.get("token_response"));
            let api = self.api_for(core, response).map_err(|err| {
                AuthError::Internal(format!("populate_teams_in_auth_state: {err}"))
            })?;
            api.list(TEAMS_STEP, "/user/teams").await?
        };
        if let Some(Value::Object(state)) = model.auth_state.as_mut() {
            state.insert("teams".into(), Value::Array(teams));
        }
        Ok(model)
    }

    /// `allowed_organizations`, asked of GitHub for the user's `login` (not the hub name,
    /// which `username_claim` or `username_map` may have made another GitHub user's;
    /// upstream asks about the hub name, F17).
    /// The first entry the user is in allows; an entry GitHub could not answer refuses
    /// with the error when no other entry allows.
    async fn check_allowed(
        &self,
        core: &OAuthCore,
        name: &str,
        model: &AuthModel,
    ) -> Result<bool, AuthError> {
        let rules = &self.config.allowed_organizations;
        if rules.is_empty() {
            return Ok(false);
        }
        let checked = login_of(model).and_then(|login| {
            let response = model
                .auth_state
                .as_ref()
                .and_then(|state| state.get("token_response"));
            self.api_for(core, response).map(|api| (login, api))
        });
        let (login, api) = match checked {
            Ok(found) => found,
            Err(err) => {
                tracing::warn!(user = %name, error = %err, "cannot check allowed_organizations; not allowed");
                return Ok(false);
            }
        };
        let mut failure = None;
        for rule in rules {
            tracing::debug!(user = %name, %login, entry = %rule, "checking GitHub membership");
            match self.is_member(&api, rule, &login).await {
                Ok(true) => {
                    tracing::debug!(user = %name, entry = %rule, "allowed as a member of an allowed organization or team");
                    return Ok(true);
                }
                Ok(false) => {}
                Err(err) => {
                    tracing::warn!(user = %name, entry = %rule, error = %err, "GitHub membership could not be checked");
                    failure.get_or_insert(err);
                }
            }
        }
        if let Some(err) = failure {
            return Err(err.into());
        }
        tracing::warn!(user = %name, "User {name} is not part of allowed_organizations");
        Ok(false)
    }
}

/// Builds a `GitHubOAuthenticator` from its class view.
pub fn github_from_view(view: &ClassView<'_>) -> Result<GitHubOAuthenticator, ConfigError> {
    let github = GitHubConfig::from_view(view)?;
    let mut oauth = OAuthConfig::from_view(view)?;
    // Upstream reads GITHUB_CLIENT_ID only when it is not empty, then OAUTH_CLIENT_ID.
    let env = view.env();
    let fallback = |var: &str| env.var(var).unwrap_or_default();
    if oauth.client_id.is_empty()
        && matches!(
            view.origin("client_id"),
            Origin::Env {
                var: "GITHUB_CLIENT_ID"
            }
        )
    {
        oauth.client_id = fallback("OAUTH_CLIENT_ID");
    }
    if oauth.client_secret.expose().is_empty()
        && matches!(
            view.origin("client_secret"),
            Origin::Env {
                var: "GITHUB_CLIENT_SECRET"
            }
        )
    {
        oauth.client_secret = Secret::new(fallback("OAUTH_CLIENT_SECRET"));
    }
    if oauth.authorize_url.is_empty() {
        oauth.authorize_url = github.default_authorize_url();
    }
    if oauth.token_url.is_empty() {
        oauth.token_url = github.default_token_url();
    }
    if oauth.userdata_url.is_empty() && !oauth.userdata_from_id_token {
        oauth.userdata_url = github.default_userdata_url();
    }
    // Upstream counts every truthy option whose name starts with "allow" as allow config.
    if oauth.base.any_allow_config.is_none() && !github.allowed_organizations.is_empty() {
        oauth.base.any_allow_config = Some(true);
    }
    oauth.check_endpoints(view)?;
    let core = OAuthCore::new(oauth).map_err(|err| view.invalid("http_request_kwargs", err))?;
    Ok(OAuthenticator::new(core, GitHub::new(github)))
}
