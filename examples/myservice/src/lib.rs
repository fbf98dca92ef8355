//! Writing your own OAuthenticator: "My Service", whose users log in with OAuth, whose
//! username is the `login` claim, and who may use the hub only if they belong to a team
//! listed by the service's teams API. Compare with upstream's guide "Writing your own
//! OAuthenticator": the same steps, as trait methods.

use async_trait::async_trait;
use hubauth_config::OptionType::{Set, Str};
use hubauth_config::{ClassDef, ClassView, ConfigError, DefaultValue::Literal, OptionDef};
use hubauth_core::{AuthError, AuthModel};
use hubauth_oauth::{OAuthConfig, OAuthCore, OAuthenticator, Provider};
use serde_json::Value;

/// `[MyServiceOAuthenticator]`: inherits every OAuthenticator option and adds two.
#[rustfmt::skip]
pub static MY_SERVICE: ClassDef = ClassDef {
    name: "MyServiceOAuthenticator",
    bases: &["OAuthenticator"],
    help: "Login with My Service.",
    options: &[
        OptionDef::new("teams_url", Str, Literal("\"\""), "My Service's teams API URL."),
        OptionDef::new("allowed_teams", Set, Literal("[]"), "Teams whose members may log in."),
    ],
};

/// The provider: only the steps that differ from the generic OAuth flow.
#[derive(Debug)]
pub struct MyService {
    teams_url: String,
    allowed_teams: Vec<String>,
}

#[async_trait]
impl Provider for MyService {
    fn class_name(&self) -> &'static str {
        "MyServiceOAuthenticator"
    }

    fn user_auth_state_key(&self) -> &'static str {
        "myservice_user"
    }

    fn user_info_to_username(
        &self,
        _core: &OAuthCore,
        user_info: &Value,
    ) -> Result<String, AuthError> {
        user_info["login"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| AuthError::forbidden("My Service sent no login"))
    }

    /// Fetch the user's teams with the access token and keep them in auth_state.
    async fn update_auth_model(
        &self,
        core: &OAuthCore,
        mut model: AuthModel,
    ) -> Result<AuthModel, AuthError> {
        let Some(state) = model.auth_state.as_mut().and_then(Value::as_object_mut) else {
            return Ok(model);
        };
        let token = state
            .get("access_token")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let request = core.http().get(&self.teams_url).bearer_auth(token);
        let answer = hubauth_oauth::http::send("teams request to My Service", request).await?;
        let teams = answer.json.filter(|_| answer.status == 200);
        state.insert("teams".into(), teams.unwrap_or_default());
        Ok(model)
    }

    /// An extra allow rule: membership of an allowed team.
    async fn check_allowed(
        &self,
        _core: &OAuthCore,
        _name: &str,
        model: &AuthModel,
    ) -> Result<bool, AuthError> {
        let teams = model
            .auth_state
            .as_ref()
            .and_then(|s| s["teams"].as_array().cloned())
            .unwrap_or_default();
        Ok(teams
            .iter()
            .filter_map(Value::as_str)
            .any(|team| self.allowed_teams.iter().any(|t| t == team)))
    }
}

/// Builds the authenticator from its config table.
pub fn from_view(view: &ClassView<'_>) -> Result<OAuthenticator<MyService>, ConfigError> {
    let config = OAuthConfig::from_view(view)?;
    config.check_endpoints(view)?;
    let provider = MyService {
        teams_url: view.get("teams_url")?,
        allowed_teams: view.get::<Vec<String>>("allowed_teams")?,
    };
    let core = OAuthCore::new(config).map_err(|err| view.invalid("http_request_kwargs", err))?;
    Ok(OAuthenticator::new(core, provider))
}
