//! The options of the `OAuthenticator` base class and `GenericOAuthenticator`.

use std::collections::BTreeSet;

use hubauth_config::{
    ClassView, ConfigError, DefaultValue::Computed, DefaultValue::Literal, Deprecated,
};
use hubauth_core::{AuthenticatorConfig, GroupRules, Secret};
use serde_json::{Map, Value};

use crate::claims::ClaimRule;
use crate::http::HttpSettings;

hubauth_config::options! {
    /// The `[OAuthenticator]` table: options every OAuth 2.0 / OpenID Connect login has.
    pub static OAUTHENTICATOR = class "OAuthenticator" {
        bases: ["Authenticator"],
        help: "Base class of the OAuth 2.0 / OpenID Connect logins: where the provider is, which client this hub is, what to ask for, and how the provider's answer becomes a user, groups and auth_state.",
    };
    /// `[OAuthenticator]` as the file, the environment and the defaults give it, before
    /// validation.
    pub struct OAuthenticatorOptions {
        login_service: String = (
            Str,
            Literal("\"OAuth 2.0\""),
            "The name of the identity provider, shown on the login button as \"Sign in with ...\".",
        ),
        client_id: String = (
            Str,
            Literal("\"\""),
            "The OAuth client id this hub was registered with at the provider.",
        )
            .env(&["OAUTH_CLIENT_ID"]),
        client_secret: String = (
            Str,
            Literal("\"\""),
            "The OAuth client secret this hub was registered with at the provider.",
        )
            .env(&["OAUTH_CLIENT_SECRET"])
            .secret(),
        oauth_callback_url: String = (
            Str,
            Literal("\"\""),
            "The callback URL registered at the provider (https://hub.example.org/hub/oauth_callback). Empty means it is worked out from the request.",
        )
            .env(&["OAUTH_CALLBACK_URL"]),
        oidc_issuer: String = (
            Str,
            Literal("\"\""),
            "The OpenID Connect issuer URL (https://idp.example.org/realms/main). When set, authorize_url, token_url, userdata_url, the signing keys and the logout endpoint are read from its /.well-known/openid-configuration unless set explicitly, and ID tokens must come from this issuer.\n\nWrite it exactly as the provider's discovery document spells `issuer`, trailing slash included or not (Auth0's ends in /, Keycloak's does not): the document's issuer, the ID tokens' `iss` and the authorization response's `iss` must all be this exact string, or the login is refused (OpenID Connect Discovery 4.3, Core 3.1.3.7). A hubauth addition: upstream has no discovery.",
        ),
        jwks_url: String = (
            Str,
            Literal("\"\""),
            "URL of the provider's signing keys (JWKS), to verify ID tokens. Filled by oidc_issuer discovery when empty.",
        ),
        authorize_url: String = (
            Str,
            Literal("\"\""),
            "The provider's authorization endpoint, where users are sent to log in.",
        )
            .env(&["OAUTH2_AUTHORIZE_URL"]),
        token_url: String = (
            Str,
            Literal("\"\""),
            "The provider's token endpoint, where the hub exchanges the code for tokens.",
        )
            .env(&["OAUTH2_TOKEN_URL"]),
        userdata_url: String = (
            Str,
            Literal("\"\""),
            "The provider's user info endpoint. Cannot be combined with userdata_from_id_token.",
        )
            .env(&["OAUTH2_USERDATA_URL"]),
        userdata_from_id_token: bool = (
            Bool,
            Literal("false"),
            "Take the user info from the ID token in the token response instead of calling userdata_url.\n\nhubauth verifies the ID token's signature with the provider's keys (oidc_issuer or jwks_url must be set), its issuer, audience, expiry and nonce.",
        ),
        trusted_audiences: BTreeSet<String> = (
            Set,
            Literal("[]"),
            "Audiences an ID token may name besides this hub's client_id. An ID token whose `aud` lists any other audience is refused (OpenID Connect Core 3.1.3.7): a token also issued to another party could have been replayed by it. With several audiences, the token's `azp` must be this hub's client_id. A hubauth addition.",
        ),
        allow_unverified_email: bool = (
            Bool,
            Literal("false"),
            "Accept a username taken from an email the provider did not mark as verified.\n\nWhen username_claim is `email` (or a path or namespaced claim ending in `email`, such as `user.email`, or a script that reads `email`), the user info must carry `email_verified: true` (the JSON value true; the string \"true\" is not accepted), or the verified ID token must say so for the same address; otherwise the login is refused with 403 \"Login with unverified email ... is not allowed\". Anyone who can register an unverified address at the provider could otherwise log in as the hub user of that address. Set this to true only for a provider that verifies every address but does not say so (it then only logs a warning). Upstream has this option on Auth0OAuthenticator only; hubauth applies the rule to every OAuth class. Azure AD's `xms_edov: true` counts as verified; Globus sends no email_verified.",
        ),
        userdata_params: serde_json::Map<String, serde_json::Value> = (
            Dict,
            Literal("{}"),
            "Extra query parameters sent with the user info request.",
        ),
        userdata_token_method: String = (
            Str,
            Literal("\"header\""),
            "How the access token is sent to userdata_url: \"header\" (Authorization: Bearer) or \"url\" (also as access_token in the query).",
        )
            .env(&["OAUTH2_USERDATA_REQUEST_TYPE"]),
        username_claim: serde_json::Value = (
            ClaimOrScript,
            Literal("\"username\""),
            "The user info claim that holds the username: a claim name, a dotted path into nested claims (\"ocs.data.id\"), or a script { script = \"...\" } that sees `user_info` and returns the name.",
        )
            .env(&["OAUTH2_USERNAME_KEY"]),
        scope: Vec<String> = (
            List,
            Literal("[]"),
            "The scopes to request from the provider. Empty sends no scope parameter.",
        ),
        allowed_scopes: Vec<String> = (
            List,
            Literal("[]"),
            "Allow users who were granted all of these scopes. Must be a subset of scope.",
        ),
        extra_authorize_params: serde_json::Map<String, serde_json::Value> = (
            Dict,
            Literal("{}"),
            "Extra query parameters added to the authorization request.",
        ),
        token_params: serde_json::Map<String, serde_json::Value> = (
            Dict,
            Literal("{}"),
            "Extra parameters added to the token request; they override the standard ones.",
        ),
        basic_auth: bool = (
            Bool,
            Literal("false"),
            "Send the client id and secret to the token endpoint with HTTP Basic authentication instead of in the request body.",
        )
            .env(&["OAUTH2_BASIC_AUTH"]),
        enable_pkce: bool = (
            Bool,
            Literal("true"),
            "Use PKCE (S256) in the authorization code flow. Turn off only for providers that reject it.",
        ),
        allowed_groups: BTreeSet<String> = (
            Set,
            Literal("[]"),
            "Allow members of these groups (as reported by auth_state_groups_key) to log in. Requires manage_groups.",
        ),
        admin_groups: BTreeSet<String> = (
            Set,
            Literal("[]"),
            "Members of these groups are admins; when set, users outside them who are not in admin_users lose admin. Requires manage_groups.",
        ),
        auth_state_groups_key: serde_json::Value = (
            ClaimOrScript,
            Literal("\"\""),
            "Where the user's groups are in auth_state: a dotted path (\"oauth_user.groups\") or a script { script = \"...\" } that sees `auth_state` and returns a list. Requires manage_groups.",
        ),
        modify_auth_state_hook: String = (
            Str,
            Literal("\"\""),
            "A script run on the auth_state before groups are read from it: it sees `auth_state` and `authenticator` and returns the auth_state.",
        ),
        refresh_user_hook: String = (
            Str,
            Literal("\"\""),
            "A script run when a user's auth info is refreshed: it sees `user` (the name) and `auth_state` and returns true (up to date), false (log in again) or () to refresh as usual.",
        ),
        allow_existing_users: bool = (
            Bool,
            Literal("false"),
            "Allow users that already exist in the hub's database to log in. OAuthenticator's default is false.",
        ),
        refresh_pre_spawn: Option<bool> = (
            Bool,
            Computed("the value of enable_auth_state"),
            "Refresh the user's tokens before handing them to a protected app.",
        ),
        logout_redirect_url: String = (
            Str,
            Literal("\"\""),
            "Where to send users after they log out, e.g. the provider's logout page.",
        )
            .env(&["OAUTH_LOGOUT_REDIRECT_URL"]),
        oidc_logout: bool = (
            Bool,
            Literal("false"),
            "End the provider's session too at logout (OpenID Connect RP-initiated logout: the end_session_endpoint with id_token_hint). A hubauth addition.",
        ),
        validate_server_cert: bool = (
            Bool,
            Literal("true"),
            "Verify the provider's TLS certificates. Turning this off removes the protection of everything the provider sends.",
        )
            .env(&["OAUTH_TLS_VERIFY"]),
        http_request_kwargs: serde_json::Map<String, serde_json::Value> = (
            Dict,
            Literal("{}"),
            "Settings for every request to the provider: proxy_host, proxy_port, proxy_username, proxy_password, ca_certs (a PEM file), connect_timeout and request_timeout (seconds), validate_cert.",
        ),
    }
}

const GENERIC_ALIASES_USERNAME: &[Deprecated] = &[Deprecated {
    name: "username_key",
    since: "GenericOAuthenticator 16.0.0",
    same_type: true,
}];
const GENERIC_ALIASES_TOKEN_PARAMS: &[Deprecated] = &[Deprecated {
    name: "extra_params",
    since: "GenericOAuthenticator 16.0.0",
    same_type: true,
}];
const GENERIC_ALIASES_TLS: &[Deprecated] = &[Deprecated {
    name: "tls_verify",
    since: "GenericOAuthenticator 16.0.2",
    same_type: true,
}];

hubauth_config::options! {
    /// The `[GenericOAuthenticator]` table.
    pub static GENERIC_OAUTHENTICATOR = class "GenericOAuthenticator" {
        bases: ["OAuthenticator"],
        help: "Login with any OAuth 2.0 or OpenID Connect provider (Keycloak, Auth0, Okta, Authentik, Dex, Nextcloud, ...), configured by its URLs and claims.",
    };
    /// `[GenericOAuthenticator]` as the file, the environment and the defaults give it, before
    /// validation.
    pub struct GenericOAuthenticatorOptions {
        login_service: String = (
            Str,
            Literal("\"OAuth 2.0\""),
            "The name of the identity provider, shown on the login button as \"Sign in with ...\".",
        )
            .env(&["LOGIN_SERVICE"]),
        username_claim: serde_json::Value = (
            ClaimOrScript,
            Literal("\"username\""),
            "The user info claim that holds the username: a claim name, a dotted path into nested claims (\"ocs.data.id\"), or a script { script = \"...\" } that sees `user_info` and returns the name.",
        )
            .env(&["OAUTH2_USERNAME_KEY"])
            .deprecated(GENERIC_ALIASES_USERNAME),
        token_params: serde_json::Map<String, serde_json::Value> = (
            Dict,
            Literal("{}"),
            "Extra parameters added to the token request; they override the standard ones.",
        )
            .deprecated(GENERIC_ALIASES_TOKEN_PARAMS),
        validate_server_cert: bool = (
            Bool,
            Literal("true"),
            "Verify the provider's TLS certificates.",
        )
            .env(&["OAUTH_TLS_VERIFY"])
            .deprecated(GENERIC_ALIASES_TLS),
        auth_state_groups_key: serde_json::Value = (
            ClaimOrScript,
            Literal("\"oauth_user.groups\""),
            "Where the user's groups are in auth_state: a dotted path or a script { script = \"...\" }. Generic's default reads the `groups` claim of the user info. Requires manage_groups to be used.",
        ),
        claim_groups_key: Option<serde_json::Value> = (
            ClaimOrScript,
            Computed("the environment variable OAUTH2_GROUPS_KEY, else \"groups\""),
            "Deprecated since OAuthenticator 17.0: the user info claim holding groups. Setting it sets auth_state_groups_key to \"oauth_user.<claim>\".",
        ),
    }
}

/// How user info is fetched after the token exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenMethod {
    /// `Authorization: Bearer` only.
    Header,
    /// Also `access_token` in the query string.
    Url,
}

/// How the client id and secret are written into an HTTP Basic `Authorization` header
/// (`basic_auth`). Not an option: a provider sets it for the service it talks to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BasicCredentials {
    /// Each form-urlencoded before base64, as RFC 6749 section 2.3.1 says (the default).
    #[default]
    FormEncoded,
    /// Base64 of `id:secret` as they are, for a service that compares them raw (Globus,
    /// whose secrets are base64 with `=`, `+` and `/`).
    Raw,
}

/// The validated OAuth options.
#[derive(Debug, Clone)]
pub struct OAuthConfig {
    /// The base `[Authenticator]` options (with group rules filled in).
    pub base: AuthenticatorConfig,
    /// See `login_service`.
    pub login_service: String,
    /// See `client_id`.
    pub client_id: String,
    /// See `client_secret`.
    pub client_secret: Secret,
    /// See `oauth_callback_url`.
    pub oauth_callback_url: String,
    /// See `oidc_issuer`.
    pub oidc_issuer: String,
    /// See `jwks_url`.
    pub jwks_url: String,
    /// See `authorize_url`.
    pub authorize_url: String,
    /// See `token_url`.
    pub token_url: String,
    /// See `userdata_url`.
    pub userdata_url: String,
    /// See `userdata_from_id_token`.
    pub userdata_from_id_token: bool,
    /// See `userdata_params`.
    pub userdata_params: Map<String, Value>,
    /// See `trusted_audiences`.
    pub trusted_audiences: Vec<String>,
    /// See `allow_unverified_email`.
    pub allow_unverified_email: bool,
    /// See `userdata_token_method`.
    pub userdata_token_method: TokenMethod,
    /// See `username_claim`.
    pub username_claim: ClaimRule,
    /// See `scope`.
    pub scope: Vec<String>,
    /// See `allowed_scopes`.
    pub allowed_scopes: Vec<String>,
    /// See `extra_authorize_params`.
    pub extra_authorize_params: Map<String, Value>,
    /// See `token_params`.
    pub token_params: Map<String, Value>,
    /// See `basic_auth`.
    pub basic_auth: bool,
    /// How Basic credentials are encoded when `basic_auth` is on (set by a provider).
    pub basic_credentials: BasicCredentials,
    /// See `enable_pkce`.
    pub enable_pkce: bool,
    /// See `auth_state_groups_key` (`None` when empty).
    pub auth_state_groups_key: Option<ClaimRule>,
    /// See `modify_auth_state_hook` (compiled).
    pub modify_auth_state_hook: Option<hubauth_script::Script>,
    /// See `refresh_user_hook` (compiled).
    pub refresh_user_hook: Option<hubauth_script::Script>,
    /// See `oidc_logout`.
    pub oidc_logout: bool,
    /// See `validate_server_cert` and `http_request_kwargs`.
    pub http: HttpSettings,
}

/// A value of a string/JSON map as a query or form value.
pub fn param_value(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl OAuthConfig {
    /// Reads and validates the OAuth options as one class sees them. `what_is_missing`
    /// checks are done by [`OAuthConfig::check_endpoints`] once the provider has filled in
    /// its defaults.
    pub fn from_view(view: &ClassView<'_>) -> Result<Self, ConfigError> {
        let options = OAuthenticatorOptions::load(view)?;
        let mut base = AuthenticatorConfig::from_view(view)?;
        let class = view.class_name();
        let allowed_groups: BTreeSet<String> = options.allowed_groups;
        let admin_groups: BTreeSet<String> = options.admin_groups;
        let mut groups_key: Value = options.auth_state_groups_key;
        // Generic's deprecated claim_groups_key rewrites auth_state_groups_key.
        if view.option("claim_groups_key").is_ok() && view.is_set("claim_groups_key") {
            let claim: Value = view.get("claim_groups_key")?;
            tracing::warn!(
                "{class}.claim_groups_key is deprecated since OAuthenticator 17.0, use {class}.auth_state_groups_key instead"
            );
            if !base.manage_groups {
                return Err(view.invalid(
                    "claim_groups_key",
                    format!(
                        "{class}.claim_groups_key requires {class}.manage_groups to also be set"
                    ),
                ));
            }
            groups_key = match claim {
                Value::String(path) => Value::String(format!("oauth_user.{path}")),
                script => wrap_script_for_oauth_user(script),
            };
        }
        for (option, set) in [
            ("allowed_groups", !allowed_groups.is_empty()),
            ("admin_groups", !admin_groups.is_empty()),
        ] {
            if set && !base.manage_groups {
                return Err(view.invalid(
                    option,
                    format!("{class}.{option} requires {class}.manage_groups to also be set"),
                ));
            }
        }
        if view.is_set("auth_state_groups_key")
            && !base.manage_groups
            && !is_empty_claim(&groups_key)
        {
            return Err(view.invalid(
                "auth_state_groups_key",
                format!(
                    "{class}.auth_state_groups_key requires {class}.manage_groups to also be set"
                ),
            ));
        }
        let auth_state_groups_key = if is_empty_claim(&groups_key) {
            None
        } else {
            Some(
                ClaimRule::from_value(&groups_key, &["auth_state"])
                    .map_err(|err| view.invalid("auth_state_groups_key", err))?,
            )
        };
        if base.manage_groups && auth_state_groups_key.is_none() {
            return Err(view.invalid(
                "manage_groups",
                format!("{class}.manage_groups is on but {class}.auth_state_groups_key is empty, so every login would remove all group memberships; set auth_state_groups_key to where the groups are in auth_state"),
            ));
        }
        base.group_rules = GroupRules {
            allowed_groups,
            admin_groups,
        };
        if options.refresh_pre_spawn.is_none() {
            base.refresh_pre_spawn = base.enable_auth_state;
        }

        let scope: Vec<String> = options.scope;
        let allowed_scopes: Vec<String> = options.allowed_scopes;
        // A provider whose `scope` default is computed (Globus) fills `scope` in later and
        // checks allowed_scopes against it itself.
        let scope_known = view.get_opt::<Vec<String>>("scope")?.is_some();
        if let Some(missing) = allowed_scopes
            .iter()
            .find(|allowed| scope_known && !scope.contains(allowed))
        {
            return Err(view.invalid(
                "allowed_scopes",
                format!("Allowed scopes must be a subset of requested scopes. {scope:?} is requested but {missing:?} is allowed"),
            ));
        }
        let userdata_url: String = options.userdata_url;
        let userdata_from_id_token: bool = options.userdata_from_id_token;
        if !userdata_url.is_empty() && userdata_from_id_token {
            return Err(view.invalid(
                "userdata_url",
                "Cannot specify both authenticator.userdata_url and authenticator.userdata_from_id_token.",
            ));
        }
        let method: String = options.userdata_token_method;
        let userdata_token_method = match method.as_str() {
            "header" => TokenMethod::Header,
            "url" => TokenMethod::Url,
            other => {
                return Err(view.invalid(
                    "userdata_token_method",
                    format!("must be \"header\" or \"url\", not {other:?}"),
                ));
            }
        };
        let username_claim: Value = options.username_claim;
        let username_claim = ClaimRule::from_value(&username_claim, &["user_info"])
            .map_err(|err| view.invalid("username_claim", err))?;
        let compile = |option: &str| -> Result<Option<hubauth_script::Script>, ConfigError> {
            let source: String = view.get(option)?;
            if source.trim().is_empty() {
                return Ok(None);
            }
            hubauth_script::Script::compile(&source)
                .map(Some)
                .map_err(|err| view.invalid(option, err.to_string()))
        };
        let modify_auth_state_hook = compile("modify_auth_state_hook")?;
        let refresh_user_hook = compile("refresh_user_hook")?;
        let kwargs: Map<String, Value> = options.http_request_kwargs;
        let validate_server_cert: bool = options.validate_server_cert;
        let http = HttpSettings::from_kwargs(validate_server_cert, &kwargs)
            .map_err(|err| view.invalid("http_request_kwargs", err))?;
        let client_secret: String = options.client_secret;
        let urls = [
            "oauth_callback_url",
            "oidc_issuer",
            "jwks_url",
            "authorize_url",
            "token_url",
            "userdata_url",
        ];
        for option in urls {
            let value: String = view.get(option)?;
            if !value.is_empty() {
                check_url(&value).map_err(|err| view.invalid(option, err))?;
            }
        }
        let trusted_audiences: Vec<String> = options.trusted_audiences.into_iter().collect();
        if trusted_audiences.iter().any(|aud| aud.trim().is_empty()) {
            return Err(view.invalid("trusted_audiences", "holds an empty audience"));
        }
        Ok(OAuthConfig {
            base,
            login_service: options.login_service,
            client_id: options.client_id,
            client_secret: Secret::new(client_secret),
            oauth_callback_url: options.oauth_callback_url,
            // Kept exactly as written: it is compared with the provider's issuer as a string.
            oidc_issuer: options.oidc_issuer,
            jwks_url: options.jwks_url,
            authorize_url: options.authorize_url,
            token_url: options.token_url,
            userdata_url,
            userdata_from_id_token,
            userdata_params: options.userdata_params,
            trusted_audiences,
            allow_unverified_email: options.allow_unverified_email,
            userdata_token_method,
            username_claim,
            scope,
            allowed_scopes,
            extra_authorize_params: options.extra_authorize_params,
            token_params: options.token_params,
            basic_auth: options.basic_auth,
            basic_credentials: BasicCredentials::default(),
            enable_pkce: options.enable_pkce,
            auth_state_groups_key,
            modify_auth_state_hook,
            refresh_user_hook,
            oidc_logout: options.oidc_logout,
            http,
        })
    }

    /// Checks that the client and its endpoints are known (after a provider filled its
    /// defaults), naming what is missing.
    pub fn check_endpoints(&self, view: &ClassView<'_>) -> Result<(), ConfigError> {
        if self.client_id.is_empty() {
            return Err(view.invalid(
                "client_id",
                "is not set (in the config file or OAUTH_CLIENT_ID)",
            ));
        }
        let discovered = !self.oidc_issuer.is_empty();
        if !discovered && self.authorize_url.is_empty() {
            return Err(view.invalid("authorize_url", "is not set; set it or oidc_issuer"));
        }
        if !discovered && self.token_url.is_empty() {
            return Err(view.invalid("token_url", "is not set; set it or oidc_issuer"));
        }
        if !discovered && !self.userdata_from_id_token && self.userdata_url.is_empty() {
            return Err(view.invalid(
                "userdata_url",
                "is not set; set it, oidc_issuer, or userdata_from_id_token",
            ));
        }
        if self.userdata_from_id_token && !discovered && self.jwks_url.is_empty() {
            return Err(view.invalid(
                "userdata_from_id_token",
                "needs oidc_issuer or jwks_url, so that the ID token's signature can be verified",
            ));
        }
        Ok(())
    }

    /// Whether ID tokens are requested (the `openid` scope).
    pub fn wants_id_token(&self) -> bool {
        self.scope.iter().any(|scope| scope == "openid")
    }
}

fn is_empty_claim(value: &Value) -> bool {
    matches!(value, Value::String(text) if text.is_empty())
}

/// A `claim_groups_key` script saw the user info; as `auth_state_groups_key` it sees the
/// whole auth_state, so hand it `auth_state.oauth_user` under its old name.
fn wrap_script_for_oauth_user(script: Value) -> Value {
    match script.get("script").and_then(Value::as_str) {
        Some(source) => serde_json::json!({
            "script": format!("let user_info = auth_state.oauth_user;\n{source}")
        }),
        None => script,
    }
}

fn check_url(value: &str) -> Result<(), String> {
    let parsed = url::Url::parse(value).map_err(|err| format!("not a URL ({err})"))?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err("must be an http or https URL".to_owned());
    }
    Ok(())
}
