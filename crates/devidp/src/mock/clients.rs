//! Registered clients and how they authenticate at a token or revocation endpoint.

use std::collections::HashMap;

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use subtle::ConstantTimeEq as _;

use crate::config::Client;
use crate::control::ClientAuth;
use crate::error::DevIdpError;
use crate::params::form_decode;

/// Which client authentication methods an endpoint accepts (RFC 6749 2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Methods {
    /// `client_secret_basic`: HTTP Basic.
    pub basic: bool,
    /// `client_secret_post`: `client_id` and `client_secret` in the form body.
    pub body: bool,
    /// How the provider reads the Basic user name and password.
    pub basic_encoding: BasicEncoding,
}

/// How a provider reads HTTP Basic client credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BasicEncoding {
    /// Form-decoded, as RFC 6749 2.3.1 says (`%3D` is `=`, `+` is a space).
    FormEncoded,
    /// Taken as they are, as many providers do (Globus): a client that form-encodes a
    /// secret with `=`, `+` or `/` in it is refused.
    Raw,
}

impl Methods {
    /// Both methods, Basic form-decoded (what most token endpoints accept).
    pub const BOTH: Methods = Methods {
        basic: true,
        body: true,
        basic_encoding: BasicEncoding::FormEncoded,
    };
    /// HTTP Basic only, form-decoded.
    pub const BASIC: Methods = Methods {
        basic: true,
        body: false,
        basic_encoding: BasicEncoding::FormEncoded,
    };

    /// The same methods with Basic credentials read as `encoding` says.
    pub const fn with_basic_encoding(self, encoding: BasicEncoding) -> Methods {
        Methods {
            basic_encoding: encoding,
            ..self
        }
    }
}

/// Why a client was not authenticated; every one is `invalid_client` (RFC 6749 5.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientAuthError {
    /// No credentials, or only a method the endpoint does not accept.
    #[error("client authentication is required")]
    Missing,
    /// An `Authorization: Basic` header that does not decode to `id:secret`.
    #[error("malformed HTTP Basic credentials")]
    MalformedBasic,
    /// Credentials in the header and in the body at once.
    #[error("more than one client authentication method was used")]
    SeveralMethods,
    /// No client has this id.
    #[error("unknown client")]
    UnknownClient,
    /// The secret is not the client's, or the client is public.
    #[error("client authentication failed")]
    WrongSecret,
}

/// The registered clients, by id.
#[derive(Debug, Clone, Default)]
pub struct Clients {
    by_id: HashMap<String, Client>,
}

impl Clients {
    /// The clients, each checked ([`Client`]'s rules) and registered once.
    ///
    /// # Errors
    /// [`DevIdpError::Config`] for an invalid client or an id registered twice.
    pub fn new(clients: Vec<Client>) -> Result<Clients, DevIdpError> {
        let mut registry = Clients::default();
        for client in clients {
            client.validate()?;
            if registry.by_id.contains_key(&client.client_id) {
                return Err(DevIdpError::Config(format!(
                    "client {:?} is registered twice",
                    client.client_id
                )));
            }
            registry.by_id.insert(client.client_id.clone(), client);
        }
        Ok(registry)
    }

    /// The client with this id.
    pub fn get(&self, client_id: &str) -> Option<&Client> {
        self.by_id.get(client_id)
    }

    /// Every client.
    pub fn iter(&self) -> impl Iterator<Item = &Client> {
        self.by_id.values()
    }

    /// The confidential client that a token request's credentials authenticate, and how
    /// it did. Basic credentials are form-decoded as RFC 6749 2.3.1 requires; secrets
    /// are compared in constant time.
    ///
    /// # Errors
    /// A [`ClientAuthError`], which the personality answers in its own error shape.
    pub fn authenticate(
        &self,
        headers: &HeaderMap,
        form: &HashMap<String, String>,
        accepted: Methods,
    ) -> Result<(&Client, ClientAuth), ClientAuthError> {
        let basic = match headers.get(header::AUTHORIZATION) {
            Some(value) => basic_credentials(value.as_bytes(), accepted.basic_encoding)?,
            None => None,
        };
        let body_secret = form.get("client_secret").filter(|s| !s.is_empty());
        let (id, secret, method) = match (basic, body_secret) {
            (Some(_), Some(_)) => return Err(ClientAuthError::SeveralMethods),
            (Some((id, secret)), None) if accepted.basic => (id, secret, ClientAuth::Basic),
            (None, Some(secret)) if accepted.body => {
                let id = form
                    .get("client_id")
                    .ok_or(ClientAuthError::Missing)?
                    .clone();
                (id, secret.clone(), ClientAuth::Body)
            }
            _ => return Err(ClientAuthError::Missing),
        };
        let client = self.get(&id).ok_or(ClientAuthError::UnknownClient)?;
        let matches = client
            .client_secret
            .as_ref()
            .is_some_and(|expected| bool::from(expected.as_bytes().ct_eq(secret.as_bytes())));
        if matches {
            Ok((client, method))
        } else {
            Err(ClientAuthError::WrongSecret)
        }
    }
}

/// `Some((id, secret))` from `Basic base64(id:secret)`, `None` for another scheme.
fn basic_credentials(
    header: &[u8],
    encoding: BasicEncoding,
) -> Result<Option<(String, String)>, ClientAuthError> {
    let text = std::str::from_utf8(header).map_err(|_| ClientAuthError::MalformedBasic)?;
    let Some((scheme, encoded)) = text.trim().split_once(' ') else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok())
        .ok_or(ClientAuthError::MalformedBasic)?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or(ClientAuthError::MalformedBasic)?;
    let decoded = match encoding {
        BasicEncoding::FormEncoded => (form_decode(id), form_decode(secret)),
        BasicEncoding::Raw => (Some(id.to_owned()), Some(secret.to_owned())),
    };
    match decoded {
        (Some(id), Some(secret)) if !id.is_empty() => Ok(Some((id, secret))),
        _ => Err(ClientAuthError::MalformedBasic),
    }
}
