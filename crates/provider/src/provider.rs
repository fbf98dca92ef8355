//! The provider: its registered clients, its signing keys and its token lifetimes.

use crate::authorize::{AuthorizationRequest, AuthorizationTarget, authorization_target};
use crate::client::{Client, find_client};
use crate::client_auth::authenticate_client;
use crate::error::ProviderError;
use crate::form::Form;
use crate::keys::SigningKeys;

/// An OAuth 2.0 / OpenID Connect provider.
#[derive(Debug)]
pub struct Provider {
    clients: Vec<Client>,
    keys: SigningKeys,
    access_token_ttl: i64,
}

impl Provider {
    /// A provider for `clients` (services without a redirect URI are listed but are not
    /// OAuth clients), signing with `keys`, issuing access tokens valid for
    /// `access_token_ttl` seconds.
    pub fn new(clients: Vec<Client>, keys: SigningKeys, access_token_ttl: i64) -> Provider {
        Provider {
            clients,
            keys,
            access_token_ttl,
        }
    }

    /// The registered services.
    pub fn clients(&self) -> &[Client] {
        &self.clients
    }

    /// The OAuth client with this id.
    pub fn client(&self, client_id: &str) -> Option<&Client> {
        find_client(&self.clients, client_id)
    }

    /// The signing keys.
    pub fn keys(&self) -> &SigningKeys {
        &self.keys
    }

    /// How long an access token is valid, in seconds.
    pub fn access_token_ttl(&self) -> i64 {
        self.access_token_ttl
    }

    /// How long a refresh token is accepted: twice the access token's lifetime, so that
    /// a client can renew an expired access token.
    pub fn refresh_token_ttl(&self) -> i64 {
        self.access_token_ttl.saturating_mul(2)
    }

    /// The client a token or revocation request authenticates as (see
    /// [`authenticate_client`]).
    pub fn authenticate_client(
        &self,
        authorization: Option<&str>,
        form: &Form,
    ) -> Result<&Client, ProviderError> {
        authenticate_client(&self.clients, authorization, form)
    }

    /// The client and redirect URI of an authorization request (see
    /// [`authorization_target`]).
    pub fn authorization_target(
        &self,
        request: &AuthorizationRequest,
    ) -> Result<AuthorizationTarget<'_>, ProviderError> {
        authorization_target(&self.clients, request)
    }
}
