//! `BitbucketOAuthenticator`: the Bitbucket provider plugged into the OAuth base.

use async_trait::async_trait;
use hubauth_config::{ClassView, ConfigError};
use hubauth_core::{AuthError, AuthModel};
use hubauth_oauth::{OAuthConfig, OAuthCore, OAuthenticator, Provider};
use serde_json::{Value, json};

use crate::options::{BitbucketConfig, looks_like_slug_or_uuid};
use crate::workspaces::{Workspace, fetch_all};

/// The auth_state key of the workspace slugs (upstream's `user_teams`).
pub const USER_TEAMS_KEY: &str = "user_teams";
/// The auth_state key of the workspaces as Bitbucket listed them (slug, UUID, name).
pub const USER_WORKSPACES_KEY: &str = "user_workspaces";

/// The Bitbucket provider: upstream's `BitbucketOAuthenticator` steps.
#[derive(Debug, Clone)]
pub struct Bitbucket {
    config: BitbucketConfig,
}

/// `BitbucketOAuthenticator`.
pub type BitbucketOAuthenticator = OAuthenticator<Bitbucket>;

impl Bitbucket {
    /// A provider with these options.
    pub fn new(config: BitbucketConfig) -> Self {
        Bitbucket { config }
    }

    /// The Bitbucket options.
    pub fn config(&self) -> &BitbucketConfig {
        &self.config
    }

    /// Whether a workspace is one of `allowed_teams`: by slug or UUID, never by name.
    fn is_allowed(&self, workspace: &Value) -> bool {
        ["slug", "uuid"].iter().any(|key| {
            workspace
                .get(*key)
                .and_then(Value::as_str)
                .is_some_and(|id| self.config.allowed_teams.contains(id))
        })
    }
}

/// Builds a `BitbucketOAuthenticator` from its class view.
pub fn bitbucket_from_view(view: &ClassView<'_>) -> Result<BitbucketOAuthenticator, ConfigError> {
    let mut oauth = OAuthConfig::from_view(view)?;
    let bitbucket = BitbucketConfig::from_view(view)?;
    // Upstream counts every truthy option whose name starts with "allow" as allow config.
    if oauth.base.any_allow_config.is_none() && !bitbucket.allowed_teams.is_empty() {
        oauth.base.any_allow_config = Some(true);
    }
    oauth.check_endpoints(view)?;
    let core = OAuthCore::new(oauth).map_err(|err| view.invalid("http_request_kwargs", err))?;
    Ok(OAuthenticator::new(core, Bitbucket::new(bitbucket)))
}

fn workspace_json(workspace: &Workspace) -> Value {
    json!({"slug": workspace.slug, "uuid": workspace.uuid, "name": workspace.name})
}

#[async_trait]
impl Provider for Bitbucket {
    fn class_name(&self) -> &'static str {
        "BitbucketOAuthenticator"
    }

    fn user_auth_state_key(&self) -> &'static str {
        "bitbucket_user"
    }

    /// `allowed_teams` entries that cannot be slugs or UUIDs are display names, which
    /// never match: say so at start-up rather than refuse the team's members silently.
    fn startup_warnings(&self, _core: &OAuthCore) -> Vec<String> {
        self.config
            .allowed_teams
            .iter()
            .filter(|team| !looks_like_slug_or_uuid(team))
            .map(|team| {
                format!(
                    "BitbucketOAuthenticator.allowed_teams holds {team:?}, which is not a workspace slug or UUID: workspaces are matched by slug (the name in https://bitbucket.org/<slug>/) or {{UUID}}, never by display name, so no workspace matches it"
                )
            })
            .collect()
    }

    /// Reads the user's workspaces when `allowed_teams` is set (every page, or the login is
    /// refused), and keeps their slugs in auth_state `user_teams` (empty otherwise, as
    /// upstream).
    async fn update_auth_model(
        &self,
        core: &OAuthCore,
        mut model: AuthModel,
    ) -> Result<AuthModel, AuthError> {
        let mut workspaces = Vec::new();
        if !self.config.allowed_teams.is_empty() {
            let token = model
                .auth_state
                .as_ref()
                .and_then(|state| state.get("access_token"))
                .and_then(Value::as_str)
                .filter(|token| !token.is_empty())
                .ok_or_else(|| {
                    AuthError::Internal("Bitbucket auth_state has no access token".into())
                })?;
            workspaces = fetch_all(
                core.http(),
                &self.config.workspaces_url,
                &format!("Bearer {token}"),
            )
            .await
            .map_err(|err| {
                tracing::warn!(user = %model.name, error = %err, "Bitbucket workspaces could not be read; login refused");
                AuthError::from(err)
            })?;
        }
        let mut slugs: Vec<&str> = workspaces.iter().map(|w| w.slug.as_str()).collect();
        slugs.sort_unstable();
        slugs.dedup();
        let Some(Value::Object(state)) = model.auth_state.as_mut() else {
            return Err(AuthError::Internal(
                "Bitbucket auth_state is missing before update_auth_model".into(),
            ));
        };
        state.insert(USER_TEAMS_KEY.into(), json!(slugs));
        state.insert(
            USER_WORKSPACES_KEY.into(),
            Value::Array(workspaces.iter().map(workspace_json).collect()),
        );
        Ok(model)
    }

    async fn check_allowed(
        &self,
        _core: &OAuthCore,
        name: &str,
        model: &AuthModel,
    ) -> Result<bool, AuthError> {
        if self.config.allowed_teams.is_empty() {
            return Ok(false);
        }
        let listed = model
            .auth_state
            .as_ref()
            .and_then(|state| state.get(USER_WORKSPACES_KEY))
            .and_then(Value::as_array);
        if listed.is_some_and(|workspaces| workspaces.iter().any(|w| self.is_allowed(w))) {
            return Ok(true);
        }
        tracing::info!(user = %name, "not a member of an allowed Bitbucket workspace");
        Ok(false)
    }
}
