//! Why an Azure AD login step failed.

use hubauth_core::AuthError;
use hubauth_oauth::id_token::IdTokenError;

/// An Azure-specific failure. None of them carries a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AzureError {
    /// The token response had no ID token, so there is no user to read.
    #[error("Azure AD returned no ID token; request the openid scope")]
    NoIdToken,
    /// The ID token failed a generic check (signature, audience, expiry, nonce, ...).
    #[error("{0}")]
    IdToken(#[from] IdTokenError),
    /// The ID token names no tenant (`tid`) although the issuer needs one.
    #[error("the ID token has no tid claim")]
    NoTenant,
    /// The ID token comes from another tenant than the configured one.
    #[error("the ID token was issued for another tenant ({found:?}), not the configured one")]
    OtherTenant {
        /// The token's issuer.
        found: String,
    },
    /// The discovery document could not be used.
    #[error("the tenant's OpenID Connect discovery document at {url} is unusable: {detail}")]
    Discovery {
        /// The document's URL.
        url: String,
        /// What was wrong.
        detail: String,
    },
    /// An unsigned ID token (`alg: none`) that did not come from the token endpoint over
    /// https with the server's certificate validated.
    #[error(
        "the ID token is not signed; an unsigned ID token is accepted only from the token endpoint over https with validate_server_cert on"
    )]
    UnsignedOverUntrustedChannel,
    /// A refresh answered without an ID token, and nothing else can prove the user's
    /// groups (Microsoft Graph is not used: graph_groups_fallback is off).
    #[error(
        "the refresh returned no ID token and graph_groups_fallback is off, so the user's groups cannot be checked; a new sign-in is needed"
    )]
    RefreshWithoutIdToken,
    /// Microsoft Graph says the refreshed access token belongs to another user than the
    /// one who signed in.
    #[error("Microsoft Graph says the refreshed token belongs to another user")]
    OtherUser,
    /// Microsoft Graph refused the access token (HTTP 401/403).
    #[error(
        "Microsoft Graph refused to list your groups (HTTP {status}); the access token must be for Microsoft Graph with the User.Read permission (see the guide's Azure AD section)"
    )]
    GraphRefused {
        /// Graph's HTTP status.
        status: u16,
    },
    /// Microsoft Graph failed or answered garbage.
    #[error("{0}")]
    GraphUnavailable(String),
}

const DISCOVERY_STEP: &str = "reading the Azure AD tenant's OpenID Connect configuration";
const KEYS_STEP: &str = "fetching Azure AD's signing keys";
const GRAPH_STEP: &str = "group lookup in Microsoft Graph (group overage)";

impl From<AzureError> for AuthError {
    fn from(err: AzureError) -> Self {
        match err {
            AzureError::Discovery { .. } => AuthError::Upstream {
                step: DISCOVERY_STEP.to_owned(),
                detail: err.to_string(),
            },
            AzureError::IdToken(IdTokenError::KeysUnavailable(detail)) => AuthError::Upstream {
                step: KEYS_STEP.to_owned(),
                detail,
            },
            AzureError::GraphUnavailable(detail) => AuthError::Upstream {
                step: GRAPH_STEP.to_owned(),
                detail,
            },
            AzureError::GraphRefused { .. } => {
                AuthError::forbidden(format!("Login refused: {err}."))
            }
            AzureError::NoIdToken => AuthError::Upstream {
                step: "token request to Azure AD".to_owned(),
                detail: err.to_string(),
            },
            other => AuthError::forbidden(format!("Login refused: {other}.")),
        }
    }
}
