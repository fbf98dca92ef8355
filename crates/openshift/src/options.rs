//! The options of `OpenShiftOAuthenticator` and `LocalOpenShiftOAuthenticator`.

use hubauth_config::{
    ClassDef, ClassView, ConfigError, DefaultValue::Computed, DefaultValue::Literal, Deprecated,
};

/// Where a pod finds its cluster's CA bundle (the service account's).
pub const SERVICE_ACCOUNT_CA: &str = "/run/secrets/kubernetes.io/serviceaccount/ca.crt";
/// The cluster's API from inside it.
pub const IN_CLUSTER_URL: &str = "https://openshift.default.svc.cluster.local";
/// The path of the OAuth server metadata under `openshift_url` (RFC 8414 section 3).
pub const METADATA_PATH: &str = "/.well-known/oauth-authorization-server";
/// The path of the logged-in user under `openshift_rest_api_url`.
pub const USER_PATH: &str = "/apis/user.openshift.io/v1/users/~";

const VALIDATE_CERT: &[Deprecated] = &[Deprecated {
    name: "validate_cert",
    since: "OpenShiftOAuthenticator 16.0.0",
    same_type: true,
}];
const CA_CERTS: &[Deprecated] = &[Deprecated {
    name: "ca_certs",
    since: "OpenShiftOAuthenticator 16.0.0",
    same_type: false,
}];

hubauth_config::options! {
    /// The `[OpenShiftOAuthenticator]` table.
    pub static OPENSHIFT_OAUTHENTICATOR = class "OpenShiftOAuthenticator" {
        bases: ["OAuthenticator"],
        help: "Login with an OpenShift cluster's OAuth server: the user and their OpenShift groups from the cluster's user.openshift.io API, for allowed_groups and admin_groups.",
    };
    /// `[OpenShiftOAuthenticator]` as the file, the environment and the defaults give it,
    /// before validation.
    pub struct OpenShiftOAuthenticatorOptions {
        login_service: String = (
            Str,
            Literal("\"OpenShift\""),
            "The name shown on the login button as \"Sign in with ...\".",
        )
            .env(&["LOGIN_SERVICE"]),
        scope: Vec<String> = (
            List,
            Literal("[\"user:info\"]"),
            "The OpenShift scopes to request. user:info is what reading the user (users/~) needs.",
        ),
        username_claim: serde_json::Value = (
            ClaimOrScript,
            Literal("\"name\""),
            "Not used by OpenShiftOAuthenticator, as upstream: the username is always the OpenShift user's metadata.name (hubauth warns at start-up when it is set).",
        )
            .env(&["OAUTH2_USERNAME_KEY"]),
        auth_state_groups_key: serde_json::Value = (
            ClaimOrScript,
            Literal("\"openshift_user.groups\""),
            "Where the user's groups are in auth_state: by default the groups of the OpenShift user (its users/~ answer), which include the virtual groups system:authenticated and system:authenticated:oauth. Used with manage_groups, allowed_groups and admin_groups.",
        ),
        openshift_url: String = (
            Str,
            Literal("\"https://openshift.default.svc.cluster.local\""),
            "The cluster's API URL. The OAuth server is found from its /.well-known/oauth-authorization-server (unless openshift_auth_api_url is set), and it is the default of openshift_rest_api_url.",
        )
            .env(&["OPENSHIFT_URL"]),
        openshift_auth_api_url: Option<String> = (
            Str,
            Computed("the issuer named by {openshift_url}/.well-known/oauth-authorization-server, read at the first login"),
            "The OAuth server's URL (on OpenShift 4 a route such as https://oauth-openshift.apps.<cluster domain>), from which authorize_url and token_url are derived. When unset, hubauth reads the issuer from openshift_url's OAuth server metadata (RFC 8414) at the first login, and again after a failure, instead of at start-up as upstream does.",
        ),
        openshift_rest_api_url: Option<String> = (
            Str,
            Computed("openshift_url"),
            "The URL of the cluster's REST API, from which userdata_url is derived.",
        ),
        authorize_url: Option<String> = (
            Str,
            Computed("{openshift_auth_api_url}/oauth/authorize"),
            "The OpenShift OAuth server's authorization endpoint.",
        ),
        token_url: Option<String> = (
            Str,
            Computed("{openshift_auth_api_url}/oauth/token"),
            "The OpenShift OAuth server's token endpoint.",
        ),
        userdata_url: Option<String> = (
            Str,
            Computed("{openshift_rest_api_url}/apis/user.openshift.io/v1/users/~"),
            "The user.openshift.io endpoint describing the logged-in user.",
        ),
        validate_server_cert: bool = (
            Bool,
            Literal("true"),
            "Verify the cluster's TLS certificates (the OAuth server's and the API's). Turning this off removes the protection of everything the cluster sends.",
        )
            .env(&["OAUTH_TLS_VERIFY"])
            .deprecated(VALIDATE_CERT),
        http_request_kwargs: Option<serde_json::Map<String, serde_json::Value>> = (
            Dict,
            Computed("{ ca_certs = \"/run/secrets/kubernetes.io/serviceaccount/ca.crt\" } when validate_server_cert is on and that file exists (the service account's CA, in a pod), else {}"),
            "Settings for every request to the cluster: proxy_host, proxy_port, proxy_username, proxy_password, ca_certs (a PEM file of CAs to trust, such as the cluster's), connect_timeout and request_timeout (seconds), validate_cert. Upstream's ca_certs option, removed in OpenShiftOAuthenticator 16.0.0, is refused: write http_request_kwargs = { ca_certs = \"...\" } instead.",
        )
            .deprecated(CA_CERTS),
    }
}

/// `LocalOpenShiftOAuthenticator`: OpenShiftOAuthenticator whose users are local UNIX users.
pub static LOCAL_OPENSHIFT_OAUTHENTICATOR: ClassDef =
    hubauth_local::local_class_def!("LocalOpenShiftOAuthenticator", "OpenShiftOAuthenticator");

/// The validated OpenShift-specific options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenShiftConfig {
    /// See `openshift_url` (without a trailing `/`).
    pub openshift_url: String,
    /// See `openshift_auth_api_url` (without a trailing `/`); `None`: discovered.
    pub openshift_auth_api_url: Option<String>,
    /// See `openshift_rest_api_url` (without a trailing `/`).
    pub openshift_rest_api_url: String,
    /// Whether `username_claim` was set (it is not used).
    pub username_claim_set: bool,
}

impl OpenShiftConfig {
    /// Reads and validates the OpenShift options.
    pub fn from_view(view: &ClassView<'_>) -> Result<Self, ConfigError> {
        let options = OpenShiftOAuthenticatorOptions::load(view)?;
        let url = |option: &str, value: &str| -> Result<String, ConfigError> {
            let parsed = url::Url::parse(value)
                .ok()
                .filter(|url| matches!(url.scheme(), "https" | "http") && url.host().is_some())
                .ok_or_else(|| view.invalid(option, "must be an http or https URL"))?;
            if parsed.query().is_some() || parsed.fragment().is_some() {
                return Err(view.invalid(option, "must have no query or fragment"));
            }
            Ok(value.trim_end_matches('/').to_owned())
        };
        // Upstream falls back to the in-cluster URL when OPENSHIFT_URL is empty.
        let openshift_url = if options.openshift_url.trim().is_empty() {
            IN_CLUSTER_URL.to_owned()
        } else {
            url("openshift_url", options.openshift_url.trim())?
        };
        let openshift_auth_api_url = match options.openshift_auth_api_url {
            Some(value) => Some(url("openshift_auth_api_url", &value)?),
            None => None,
        };
        let openshift_rest_api_url = match options.openshift_rest_api_url {
            Some(value) => url("openshift_rest_api_url", &value)?,
            None => openshift_url.clone(),
        };
        Ok(OpenShiftConfig {
            openshift_url,
            openshift_auth_api_url,
            openshift_rest_api_url,
            username_claim_set: view.is_set("username_claim"),
        })
    }

    /// `{openshift_url}/.well-known/oauth-authorization-server`.
    pub fn metadata_url(&self) -> String {
        format!("{}{METADATA_PATH}", self.openshift_url)
    }

    /// The default `userdata_url`.
    pub fn default_userdata_url(&self) -> String {
        format!("{}{USER_PATH}", self.openshift_rest_api_url)
    }
}

/// The default `http_request_kwargs` CA, as upstream computes it: the service account's CA
/// bundle when certificates are verified and the file exists.
pub fn default_ca_certs(
    validate_server_cert: bool,
    exists: impl Fn(&str) -> bool,
) -> Option<String> {
    (validate_server_cert && exists(SERVICE_ACCOUNT_CA)).then(|| SERVICE_ACCOUNT_CA.to_owned())
}

/// The OAuth server's endpoints under `auth_api` (upstream's `{auth_api}/oauth/authorize`
/// and `/oauth/token`).
pub fn oauth_endpoints(auth_api: &str) -> (String, String) {
    let base = auth_api.trim_end_matches('/');
    (
        format!("{base}/oauth/authorize"),
        format!("{base}/oauth/token"),
    )
}
