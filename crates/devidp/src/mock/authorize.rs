//! The authorization code grant as every provider runs it: the authorization request's
//! checks (RFC 6749 4.1.1 and 4.1.2.1) and the code's redemption (4.1.3, RFC 7636 4.6).

use std::collections::HashMap;

use subtle::ConstantTimeEq as _;

use super::clients::Clients;
use super::grants::Grants;
use super::ids::s256;
use crate::config::Client;

/// An authorization request's parameters (absent and empty count as the same).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizeRequest {
    /// `client_id`.
    pub client_id: String,
    /// `redirect_uri`.
    pub redirect_uri: String,
    /// `response_type`.
    pub response_type: String,
    /// `state`, echoed back.
    pub state: Option<String>,
    /// `scope`, split at spaces.
    pub scopes: Vec<String>,
    /// `nonce`.
    pub nonce: Option<String>,
    /// `code_challenge`.
    pub code_challenge: Option<String>,
    /// `code_challenge_method`.
    pub code_challenge_method: Option<String>,
}

/// Why an authorization request was refused. The first two are shown to the user and
/// never redirected (RFC 6749 4.1.2.1: the redirect URI cannot be trusted); the others
/// go back to the client's redirect URI with `error=` [`AuthorizeError::code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthorizeError {
    /// No client has this `client_id`.
    #[error("unknown client_id {0:?}")]
    UnknownClient(String),
    /// The `redirect_uri` is not one of the client's (compared as exact strings).
    #[error("redirect_uri does not match a registered redirect URI")]
    RedirectUriMismatch,
    /// `response_type` is not `code`.
    #[error("response_type must be code")]
    UnsupportedResponseType,
    /// `code_challenge_method` is not `S256` (plain is refused, RFC 9700 2.1.1).
    #[error("code_challenge_method must be S256")]
    UnsupportedChallengeMethod,
    /// The client must use PKCE and sent no `code_challenge`.
    #[error("code_challenge is required")]
    PkceRequired,
}

impl AuthorizeError {
    /// Whether the error goes back to the client (true) or is shown to the user.
    pub fn redirects(&self) -> bool {
        !matches!(
            self,
            AuthorizeError::UnknownClient(_) | AuthorizeError::RedirectUriMismatch
        )
    }

    /// The OAuth error code (RFC 6749 4.1.2.1).
    pub fn code(&self) -> &'static str {
        match self {
            AuthorizeError::UnsupportedResponseType => "unsupported_response_type",
            AuthorizeError::UnknownClient(_)
            | AuthorizeError::RedirectUriMismatch
            | AuthorizeError::UnsupportedChallengeMethod
            | AuthorizeError::PkceRequired => "invalid_request",
        }
    }
}

impl AuthorizeRequest {
    /// Reads the parameters of a query string or posted form.
    pub fn from_params(params: &HashMap<String, String>) -> Self {
        let text = |name: &str| params.get(name).cloned().unwrap_or_default();
        let optional = |name: &str| params.get(name).filter(|v| !v.is_empty()).cloned();
        AuthorizeRequest {
            client_id: text("client_id"),
            redirect_uri: text("redirect_uri"),
            response_type: text("response_type"),
            state: optional("state"),
            scopes: params
                .get("scope")
                .map(|s| s.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default(),
            nonce: optional("nonce"),
            code_challenge: optional("code_challenge"),
            code_challenge_method: optional("code_challenge_method"),
        }
    }

    /// The client, once the request is one a provider answers with a code: known client,
    /// exactly registered redirect URI, `response_type=code`, PKCE with S256 when a
    /// challenge is sent (and a challenge when the client requires one).
    ///
    /// # Errors
    /// The [`AuthorizeError`] to answer with, checked in that order.
    pub fn check<'c>(&self, clients: &'c Clients) -> Result<&'c Client, AuthorizeError> {
        let client = self.target(clients)?;
        if self.response_type != "code" {
            return Err(AuthorizeError::UnsupportedResponseType);
        }
        if self.code_challenge.is_some()
            && self.code_challenge_method.as_deref().unwrap_or("plain") != "S256"
        {
            return Err(AuthorizeError::UnsupportedChallengeMethod);
        }
        if client.require_pkce && self.code_challenge.is_none() {
            return Err(AuthorizeError::PkceRequired);
        }
        Ok(client)
    }

    /// The client, when the redirect URI can be trusted (known client, exact match).
    ///
    /// # Errors
    /// [`AuthorizeError::UnknownClient`] or [`AuthorizeError::RedirectUriMismatch`].
    pub fn target<'c>(&self, clients: &'c Clients) -> Result<&'c Client, AuthorizeError> {
        let client = clients
            .get(&self.client_id)
            .ok_or_else(|| AuthorizeError::UnknownClient(self.client_id.clone()))?;
        if !client.redirect_uris.contains(&self.redirect_uri) {
            return Err(AuthorizeError::RedirectUriMismatch);
        }
        Ok(client)
    }

    /// The code grant for `user`, carrying the personality's `extra` data.
    pub fn grant<X>(&self, user: impl Into<String>, extra: X) -> CodeGrant<X> {
        CodeGrant {
            client_id: self.client_id.clone(),
            redirect_uri: self.redirect_uri.clone(),
            user: user.into(),
            scopes: self.scopes.clone(),
            nonce: self.nonce.clone(),
            code_challenge: self.code_challenge.clone(),
            extra,
        }
    }
}

/// What an authorization code was issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeGrant<X> {
    /// The client it was issued to.
    pub client_id: String,
    /// The redirect URI of the authorization request.
    pub redirect_uri: String,
    /// The user (the personality's key for them).
    pub user: String,
    /// The granted scopes.
    pub scopes: Vec<String>,
    /// The request's nonce.
    pub nonce: Option<String>,
    /// The PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// What the personality keeps besides (the endpoint version, `access_type`...).
    pub extra: X,
}

/// Why a code was not redeemed; every one is `invalid_grant` (RFC 6749 5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodeError {
    /// Unknown, expired or already used.
    #[error("the code is unknown, expired or already used")]
    Unknown,
    /// Issued to another client.
    #[error("the code was issued to another client")]
    OtherClient,
    /// The token request's `redirect_uri` is not the authorization request's.
    #[error("redirect_uri does not match the authorization request")]
    RedirectUriMismatch,
    /// The `code_verifier` does not match the challenge, or one of them is missing.
    #[error("PKCE verification failed")]
    PkceFailed,
}

/// Redeems a code once: it is removed whatever the outcome, so that a replay finds
/// nothing (RFC 6749 4.1.2). The token request must send the authorization request's
/// `redirect_uri` (4.1.3); a challenge needs the matching verifier, and a verifier
/// without a challenge is refused (RFC 7636 4.6, RFC 9700 2.1.1).
///
/// # Errors
/// The [`CodeError`] to answer `invalid_grant` with.
pub fn redeem_code<X>(
    codes: &mut Grants<CodeGrant<X>>,
    code: &str,
    client_id: &str,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
    now: i64,
) -> Result<CodeGrant<X>, CodeError> {
    let grant = codes.take(code, now).ok_or(CodeError::Unknown)?;
    if grant.client_id != client_id {
        return Err(CodeError::OtherClient);
    }
    if redirect_uri != Some(grant.redirect_uri.as_str()) {
        return Err(CodeError::RedirectUriMismatch);
    }
    match (
        &grant.code_challenge,
        code_verifier.filter(|v| !v.is_empty()),
    ) {
        (None, None) => {}
        (Some(challenge), Some(verifier))
            if bool::from(s256(verifier).as_bytes().ct_eq(challenge.as_bytes())) => {}
        _ => return Err(CodeError::PkceFailed),
    }
    Ok(grant)
}
