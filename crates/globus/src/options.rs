//! The options of `GlobusOAuthenticator` and `LocalGlobusOAuthenticator`.

use std::collections::BTreeSet;

use hubauth_config::{
    ClassDef, ClassView, ConfigError, DefaultValue::Computed, DefaultValue::Literal,
};

/// The Auth resource server (the top-level token of a Globus token response).
pub const AUTH_RESOURCE_SERVER: &str = "auth.globus.org";
/// The Groups API resource server.
pub const GROUPS_RESOURCE_SERVER: &str = "groups.api.globus.org";
/// The Transfer API resource server.
pub const TRANSFER_RESOURCE_SERVER: &str = "transfer.api.globus.org";
/// The Transfer scope every Globus login asks for by default.
pub const TRANSFER_SCOPE: &str = "urn:globus:auth:scope:transfer.api.globus.org:all";
/// The Groups API scope needed to read the user's groups.
pub const GROUPS_SCOPE: &str =
    "urn:globus:auth:scope:groups.api.globus.org:view_my_groups_and_memberships";

hubauth_config::options! {
    /// The `[GlobusOAuthenticator]` table.
    pub static GLOBUS_OAUTHENTICATOR = class "GlobusOAuthenticator" {
        bases: ["OAuthenticator"],
        help: "Login with Globus (globus.org): Globus Auth for the identity, the Groups API for group rules, and the Globus tokens (Transfer, ...) kept in auth_state for the user's apps.",
    };
    /// `[GlobusOAuthenticator]` as the file, the environment and the defaults give it, before
    /// validation.
    pub struct GlobusOAuthenticatorOptions {
        login_service: String = (
            Str,
            Literal("\"Globus\""),
            "The name shown on the login button as \"Sign in with ...\".",
        )
            .env(&["LOGIN_SERVICE"]),
        authorize_url: String = (
            Str,
            Literal("\"https://auth.globus.org/v2/oauth2/authorize\""),
            "Globus Auth's authorization endpoint.",
        )
            .env(&["OAUTH2_AUTHORIZE_URL"]),
        token_url: String = (
            Str,
            Literal("\"https://auth.globus.org/v2/oauth2/token\""),
            "Globus Auth's token endpoint.",
        )
            .env(&["OAUTH2_TOKEN_URL"]),
        userdata_url: String = (
            Str,
            Literal("\"https://auth.globus.org/v2/oauth2/userinfo\""),
            "Globus Auth's user info endpoint.",
        )
            .env(&["OAUTH2_USERDATA_URL"]),
        revocation_url: String = (
            Str,
            Literal("\"https://auth.globus.org/v2/oauth2/token/revoke\""),
            "Globus Auth's token revocation endpoint, used by revoke_tokens_on_logout.",
        ),
        globus_groups_url: String = (
            Str,
            Literal("\"https://groups.api.globus.org/v2/groups/my_groups\""),
            "The Globus Groups API endpoint listing the user's groups, used by allowed_globus_groups, admin_globus_groups and manage_groups.",
        ),
        scope: Option<Vec<String>> = (
            List,
            Computed("openid, profile and the Transfer scope; plus the Groups scope when allowed_globus_groups, admin_globus_groups or manage_groups is set; plus email when username_from_email is set"),
            "The scopes to request from Globus Auth. Group options need urn:globus:auth:scope:groups.api.globus.org:view_my_groups_and_memberships.",
        ),
        username_claim: Option<serde_json::Value> = (
            ClaimOrScript,
            Computed("\"email\" when username_from_email is set, else \"preferred_username\""),
            "The user info claim holding the username; the part before the first @ is the username (foo@globusid.org -> foo).",
        ),
        identity_provider: String = (
            Str,
            Literal("\"\""),
            "Only accept users whose username claim ends in @ this identity provider's domain (\"globusid.org\", \"uchicago.edu\"). Enforced as a block rule: no allow rule bypasses it.",
        )
            .env(&["IDENTITY_PROVIDER"]),
        username_from_email: bool = (
            Bool,
            Literal("false"),
            "Take the username (and the identity_provider domain) from the email claim instead of preferred_username; adds the email scope.",
        ),
        exclude_tokens: Vec<String> = (
            List,
            Literal("[\"auth.globus.org\", \"groups.api.globus.org\"]"),
            "Resource servers whose tokens are not kept: they are removed from auth_state entirely (tokens and token_response), so they never reach the user's apps.",
        ),
        globus_local_endpoint: String = (
            Str,
            Literal("\"\""),
            "If this hub is also a Globus endpoint, its endpoint id; handed to the user's apps (upstream's GLOBUS_LOCAL_ENDPOINT).",
        )
            .env(&["GLOBUS_LOCAL_ENDPOINT"]),
        revoke_tokens_on_logout: bool = (
            Bool,
            Literal("false"),
            "Revoke the user's Globus tokens (every access and refresh token in auth_state's tokens) at logout, then forget them. Apps holding copies must be restarted to get working tokens. Needs enable_auth_state.",
        ),
        allowed_globus_groups: BTreeSet<String> = (
            Set,
            Literal("[]"),
            "Allow members of these Globus groups (group UUIDs), read from the Groups API.",
        ),
        admin_globus_groups: BTreeSet<String> = (
            Set,
            Literal("[]"),
            "Members of these Globus groups (UUIDs) are admins; when set, users outside them who are not in admin_users lose admin.",
        ),
        allow_refresh_tokens: Option<bool> = (
            Bool,
            Computed("unset"),
            "Deprecated (the globus_sdk-based GlobusOAuthenticator before OAuthenticator 15): ask Globus for refresh tokens. Replaced by extra_authorize_params = { access_type = \"offline\" }; true still adds that parameter, with a warning.",
        ),
    }
}

/// `LocalGlobusOAuthenticator`: GlobusOAuthenticator whose users are local UNIX users.
pub static LOCAL_GLOBUS_OAUTHENTICATOR: ClassDef =
    hubauth_local::local_class_def!("LocalGlobusOAuthenticator", "GlobusOAuthenticator");

/// The validated Globus-specific options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobusConfig {
    /// See `revocation_url`.
    pub revocation_url: String,
    /// See `globus_groups_url`.
    pub globus_groups_url: String,
    /// See `identity_provider` (empty: any).
    pub identity_provider: String,
    /// See `username_from_email`.
    pub username_from_email: bool,
    /// See `exclude_tokens`.
    pub exclude_tokens: BTreeSet<String>,
    /// See `globus_local_endpoint`.
    pub globus_local_endpoint: String,
    /// See `revoke_tokens_on_logout`.
    pub revoke_tokens_on_logout: bool,
    /// See `allowed_globus_groups`.
    pub allowed_globus_groups: BTreeSet<String>,
    /// See `admin_globus_groups`.
    pub admin_globus_groups: BTreeSet<String>,
    /// Whether the user's groups are read from the Groups API at login (a group option
    /// or `manage_groups` is set).
    pub fetch_groups: bool,
}

/// The default `scope`, computed as upstream does (plus the Groups scope for
/// `manage_groups`, where upstream crashed at login without it).
pub fn default_scope(groups: bool, username_from_email: bool) -> Vec<String> {
    let mut scope = vec![
        "openid".to_owned(),
        "profile".to_owned(),
        TRANSFER_SCOPE.to_owned(),
    ];
    if groups {
        scope.push(GROUPS_SCOPE.to_owned());
    }
    if username_from_email {
        scope.push("email".to_owned());
    }
    scope
}

impl GlobusConfig {
    /// Reads and validates the Globus options; `manage_groups` is the base option's value.
    pub fn from_view(view: &ClassView<'_>, manage_groups: bool) -> Result<Self, ConfigError> {
        let options = GlobusOAuthenticatorOptions::load(view)?;
        let allowed_globus_groups: BTreeSet<String> = options.allowed_globus_groups;
        let admin_globus_groups: BTreeSet<String> = options.admin_globus_groups;
        let revocation_url: String = options.revocation_url;
        let globus_groups_url: String = options.globus_groups_url;
        for (option, value) in [
            ("revocation_url", &revocation_url),
            ("globus_groups_url", &globus_groups_url),
        ] {
            check_url(value).map_err(|err| view.invalid(option, err))?;
        }
        let fetch_groups =
            manage_groups || !allowed_globus_groups.is_empty() || !admin_globus_groups.is_empty();
        Ok(GlobusConfig {
            revocation_url,
            globus_groups_url,
            identity_provider: options.identity_provider,
            username_from_email: options.username_from_email,
            exclude_tokens: options.exclude_tokens.into_iter().collect(),
            globus_local_endpoint: options.globus_local_endpoint,
            revoke_tokens_on_logout: options.revoke_tokens_on_logout,
            allowed_globus_groups,
            admin_globus_groups,
            fetch_groups,
        })
    }
}

fn check_url(value: &str) -> Result<(), String> {
    match value.split_once("://") {
        Some(("http" | "https", rest)) if !rest.is_empty() => Ok(()),
        _ => Err("must be an http or https URL".to_owned()),
    }
}
