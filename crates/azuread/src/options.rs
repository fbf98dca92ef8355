//! The options of `AzureAdOAuthenticator` and `LocalAzureAdOAuthenticator`.

use hubauth_config::{
    ClassDef, ClassView, ConfigError, DefaultValue::Computed, DefaultValue::Literal,
};

hubauth_config::options! {
    /// The `[AzureAdOAuthenticator]` table.
    pub static AZURE_AD_OAUTHENTICATOR = class "AzureAdOAuthenticator" {
        bases: ["OAuthenticator"],
        help: "Login with Microsoft Entra ID (Azure AD). The user is the ID token of the token response, verified against the tenant's signing keys (found through the tenant's OpenID Connect discovery document), issuer, audience, expiry and nonce.",
    };
    /// `[AzureAdOAuthenticator]` as the file, the environment and the defaults give it, before
    /// validation.
    pub struct AzureAdOAuthenticatorOptions {
        login_service: String = (
            Str,
            Literal("\"Azure AD\""),
            "The name of the identity provider, shown on the login button as \"Sign in with ...\".",
        )
            .env(&["LOGIN_SERVICE"]),
        tenant_id: String = (
            Str,
            Literal("\"\""),
            "An Azure tenant ID for which an OAuth application is registered via client_id and client_secret (a directory GUID or a verified domain such as contoso.onmicrosoft.com).\n\nThis is used to set the default values of authorize_url and token_url, and to find the tenant's signing keys. Empty, \"common\", \"organizations\" or \"consumers\" make the hub multi-tenant: an ID token is then accepted from any tenant whose issuer matches the discovery document's issuer template with the token's own `tid`; restrict who may log in with the allow options.",
        )
            .env(&["AAD_TENANT_ID"]),
        graph_url: String = (
            Str,
            Literal("\"https://login.microsoftonline.com\""),
            "The login authority (despite the name, not Microsoft Graph): https://login.microsoftonline.com, or a national cloud's such as https://login.microsoftonline.us or https://login.chinacloudapi.cn. authorize_url, token_url and the discovery document are derived from it.",
        ),
        use_v2_endpoints: bool = (
            Bool,
            Literal("false"),
            "Use the Microsoft identity platform (v2.0) endpoints: {graph_url}/{tenant_id}/oauth2/v2.0/authorize and .../v2.0/token, and the v2.0 discovery document. The default, false, keeps upstream's v1 endpoints ({graph_url}/{tenant_id}/oauth2/authorize), so existing app registrations keep working. A hubauth addition.",
        ),
        authorize_url: Option<String> = (
            Str,
            Computed("{graph_url}/{tenant_id}/oauth2/authorize, or {graph_url}/oauth2/authorize without tenant_id (v2.0: {graph_url}/{tenant_id or common}/oauth2/v2.0/authorize)"),
            "The authorization endpoint. Derived from graph_url and tenant_id unless set.",
        ),
        token_url: Option<String> = (
            Str,
            Computed("{graph_url}/{tenant_id}/oauth2/token, or {graph_url}/oauth2/token without tenant_id (v2.0: {graph_url}/{tenant_id or common}/oauth2/v2.0/token)"),
            "The token endpoint. Derived from graph_url and tenant_id unless set.",
        ),
        scope: Vec<String> = (
            List,
            Literal("[]"),
            "The OAuth scopes to request. hubauth always requests \"openid\" too (added when missing), because the user is read from the ID token and the ID token is bound to the login by its nonce. Add \"offline_access\" on the v2.0 endpoints for refresh tokens, and \"profile\" for the name, preferred_username and oid claims (v2.0 ID tokens carry them only with it). On the v2.0 endpoints with graph_groups_fallback, \"{graph_api_url}/User.Read\" is added when no scope names a resource, so that the access token is Microsoft Graph's.",
        ),
        username_claim: serde_json::Value = (
            ClaimOrScript,
            Literal("\"name\""),
            "The ID token claim that holds the username: a claim name, a dotted path, or a script { script = \"...\" } that sees `user_info`.\n\nThe default, \"name\", is the display name as upstream: it is neither unique nor stable (two people can share it, and users may be able to change it), so hubauth warns at start; prefer \"oid\" (the stable object id) or \"preferred_username\".",
        ),
        auth_state_groups_key: serde_json::Value = (
            ClaimOrScript,
            Literal("\"user.groups\""),
            "Where the user's groups are in auth_state: a dotted path or a script { script = \"...\" }. The default reads the ID token's `groups` claim (\"user.<user_groups_claim>\" when the deprecated user_groups_claim is set) (group object ids unless the app registration emits names). Requires manage_groups to be used.",
        ),
        user_groups_claim: String = (
            Str,
            Literal("\"\""),
            "Deprecated since OAuthenticator 17: the ID token claim holding groups. Setting it sets auth_state_groups_key's default to \"user.<claim>\".",
        ),
        graph_groups_fallback: bool = (
            Bool,
            Literal("true"),
            "When the ID token has no `groups` claim because the user is in too many groups (the \"group overage\" claims `_claim_names`/`_claim_sources`, or `hasgroups`), read the groups from Microsoft Graph (POST {graph_api_url}/v1.0/me/getMemberObjects) with the access token, instead of treating the user as in no group. Only with manage_groups. A Graph failure refuses the login (502, or 403 when Graph refuses the token) rather than dropping the groups. The access token must be Microsoft Graph's: on the v1 endpoints hubauth sends resource={graph_api_url} (unless extra_authorize_params or token_params set a resource), on v2.0 it adds the User.Read scope (the app registration's default permission, enough for getMemberObjects). Graph is also how a v1 refresh, which returns no ID token, re-checks the groups. A hubauth addition.",
        ),
        graph_api_url: String = (
            Str,
            Literal("\"https://graph.microsoft.com\""),
            "Microsoft Graph, for graph_groups_fallback (national clouds: https://graph.microsoft.us, https://microsoftgraph.chinacloudapi.cn). A hubauth addition.",
        ),
    }
}

/// `LocalAzureAdOAuthenticator`: AzureAdOAuthenticator whose users are local UNIX users.
pub static LOCAL_AZURE_AD_OAUTHENTICATOR: ClassDef =
    hubauth_local::local_class_def!("LocalAzureAdOAuthenticator", "AzureAdOAuthenticator");

/// Which generation of Azure AD's endpoints a URL or token belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndpointVersion {
    /// Azure AD v1 (`/oauth2/authorize`, issuer `https://sts.windows.net/{tid}/`).
    V1,
    /// Microsoft identity platform v2.0 (`/oauth2/v2.0/authorize`, issuer
    /// `{authority}/{tid}/v2.0`).
    V2,
}

/// Tenant values that mean "any tenant" (Microsoft's multi-tenant authorities).
pub const MULTI_TENANT_NAMES: &[&str] = &["common", "organizations", "consumers"];

/// The validated Azure-specific options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureConfig {
    /// The class name as configured (`AzureAdOAuthenticator` or the Local variant).
    pub class_name: String,
    /// See `tenant_id` (trimmed).
    pub tenant_id: String,
    /// See `graph_url` (without a trailing `/`).
    pub graph_url: String,
    /// See `use_v2_endpoints`.
    pub use_v2_endpoints: bool,
    /// See `user_groups_claim`.
    pub user_groups_claim: String,
    /// See `graph_groups_fallback`.
    pub graph_groups_fallback: bool,
    /// See `graph_api_url` (without a trailing `/`).
    pub graph_api_url: String,
}

impl AzureConfig {
    /// Reads the Azure options of a class view.
    pub fn from_view(view: &ClassView<'_>) -> Result<Self, ConfigError> {
        let options = AzureAdOAuthenticatorOptions::load(view)?;
        let graph_url: String = options.graph_url;
        let graph_api_url: String = options.graph_api_url;
        for (option, value) in [("graph_url", &graph_url), ("graph_api_url", &graph_api_url)] {
            let parsed = url::Url::parse(value)
                .map_err(|err| view.invalid(option, format!("not a URL ({err})")))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(view.invalid(option, "must be an http or https URL"));
            }
        }
        let tenant_id: String = options.tenant_id;
        let tenant_id = tenant_id.trim().to_owned();
        if tenant_id.contains(['/', '?', '#']) {
            return Err(view.invalid(
                "tenant_id",
                "must be a tenant id or domain, not a URL or path",
            ));
        }
        Ok(AzureConfig {
            class_name: view.class_name().to_owned(),
            tenant_id,
            graph_url: graph_url.trim_end_matches('/').to_owned(),
            use_v2_endpoints: options.use_v2_endpoints,
            user_groups_claim: options.user_groups_claim,
            graph_groups_fallback: options.graph_groups_fallback,
            graph_api_url: graph_api_url.trim_end_matches('/').to_owned(),
        })
    }

    /// The endpoint version configured.
    pub fn version(&self) -> EndpointVersion {
        if self.use_v2_endpoints {
            EndpointVersion::V2
        } else {
            EndpointVersion::V1
        }
    }

    /// Whether ID tokens from any tenant are accepted (no tenant, or `common`,
    /// `organizations`, `consumers`).
    pub fn multi_tenant(&self) -> bool {
        self.tenant_id.is_empty()
            || MULTI_TENANT_NAMES
                .iter()
                .any(|name| self.tenant_id.eq_ignore_ascii_case(name))
    }

    /// The tenant path segment for discovery and v2.0 endpoints (`common` when empty).
    pub fn tenant_segment(&self) -> &str {
        if self.tenant_id.is_empty() {
            "common"
        } else {
            &self.tenant_id
        }
    }

    /// The default `authorize_url`, exactly as upstream for v1.
    pub fn default_authorize_url(&self) -> String {
        self.default_endpoint("authorize")
    }

    /// The default `token_url`, exactly as upstream for v1.
    pub fn default_token_url(&self) -> String {
        self.default_endpoint("token")
    }

    fn default_endpoint(&self, which: &str) -> String {
        let graph = &self.graph_url;
        match (self.version(), self.tenant_id.is_empty()) {
            (EndpointVersion::V1, true) => format!("{graph}/oauth2/{which}"),
            (EndpointVersion::V1, false) => format!("{graph}/{}/oauth2/{which}", self.tenant_id),
            (EndpointVersion::V2, _) => {
                format!("{graph}/{}/oauth2/v2.0/{which}", self.tenant_segment())
            }
        }
    }

    /// The tenant's OpenID Connect discovery document for tokens of `version`.
    pub fn discovery_url(&self, version: EndpointVersion) -> String {
        let graph = &self.graph_url;
        let tenant = self.tenant_segment();
        match version {
            EndpointVersion::V1 => format!("{graph}/{tenant}/.well-known/openid-configuration"),
            EndpointVersion::V2 => {
                format!("{graph}/{tenant}/v2.0/.well-known/openid-configuration")
            }
        }
    }
}
