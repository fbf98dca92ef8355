//! The protocol of hubauth's OAuth 2.0 / OpenID Connect provider, without HTTP, storage
//! or a clock: the hub (`hubauth-server`) parses requests, calls in here with the time,
//! and renders what comes back; the development provider can reuse the keys and hashes.
//!
//! - The authorization endpoint: [`Provider::authorization_target`] (client and redirect
//!   URI), [`AuthorizationTarget::validate`] (the rest of the request),
//!   [`AuthorizationTarget::session_step`] (`max_age`, `prompt=login`),
//!   [`AuthorizationTarget::consent_step`] and [`AuthorizationTarget::issue_code`].
//! - The token endpoint: [`Form::parse`], [`Provider::authenticate_client`],
//!   [`Provider::token`]; revocation: [`Provider::revoke`]; userinfo:
//!   [`Provider::userinfo`]; discovery: [`Provider::discovery`]; the JWKS:
//!   [`SigningKeys::jwks`]; RP-initiated logout: [`Provider::end_session`].
//! - Storage: the caller implements [`GrantStore`], [`AccessTokenStore`] and
//!   [`Accounts`].
//! - Every refusal is a [`ProviderError`], whose variants name their RFC sections.
//!
//! # For other providers (the development provider, provider mocks)
//!
//! The keys and hashes need nothing of the above and are meant to be shared:
//! - [`EcKey`]: a P-256 key for ES256. [`EcKey::generate`], [`EcKey::kid`] (the RFC 7638
//!   thumbprint), [`EcKey::public_jwk`] (a JWKS is `{"keys": [jwk, ...]}` of these),
//!   [`EcKey::sign_jwt`] for a compact JWS, and for tampering tests [`EcKey::with_kid`]
//!   (a key claiming another's id), [`EcKey::sign`] and [`EcKey::verify`] on raw bytes
//!   (`r || s`), [`EcKey::public_pem`] (the HS256-with-the-public-key attack).
//!   [`EcKey::verify_jwt`] checks a token of its own for an issuer.
//! - [`RsaKey`] likewise for RS256, and [`SigningKeys`] for a provider with one key of
//!   each kind.
//! - [`at_hash`] (OIDC Core 3.1.3.6), [`jwk_thumbprint`] (RFC 7638), [`pkce_s256`],
//!   [`verifier_matches`], [`is_valid_verifier`], [`is_pkce_value`] (RFC 7636).
//!
//! Modules are private; everything public is re-exported here.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod authorize;
mod backchannel;
mod client;
mod client_auth;
mod discovery;
mod error;
#[cfg(test)]
mod flow_tests;
mod form;
mod freshness;
mod grants;
mod id_token;
mod keys;
mod logout;
mod pkce;
mod provider;
mod revocation;
mod store;
mod token;
mod userinfo;

pub use authorize::{
    Authorization, AuthorizationRequest, AuthorizationTarget, CodeIssue, ConsentStep,
    MAX_NONCE_LEN, Prompt, SessionStep, authorization_target,
};
pub use backchannel::{
    BACKCHANNEL_LOGOUT_EVENT, LOGOUT_TOKEN_TTL, LOGOUT_TOKEN_TYPE, LogoutTokenParams, logout_token,
    logout_token_claims, session_sid,
};
pub use client::{
    BASE_SCOPES, Client, ClientSecret, check_redirect_uri, find_client, is_valid_scope,
};
pub use client_auth::authenticate_client;
pub use discovery::CLAIMS_SUPPORTED;
pub use error::{ProviderError, StorageError};
pub use form::{Form, MAX_TOKEN_LEN};
pub use freshness::{LoginSession, REAUTH_TTL};
pub use grants::{CODE_TTL, CodeGrant, RefreshGrant, grant_key};
pub use id_token::{ID_TOKEN_TTL, IdTokenParams, at_hash, id_token, id_token_claims, user_claims};
pub use keys::{
    EcKey, ID_TOKEN_ALGS, IdTokenAlg, KeyError, RSA_BITS, RsaKey, SigningKeys, jwk_thumbprint,
};
pub use logout::{EndSession, EndSessionRequest};
pub use pkce::{
    CHALLENGE_LEN, is_pkce_value, is_valid_s256_challenge, is_valid_verifier, pkce_s256,
    verifier_matches,
};
pub use provider::Provider;
pub use store::{
    AccessTokenRecord, AccessTokenStore, Accounts, Exchange, ExchangeOutcome, GrantKind,
    GrantState, GrantStore, NewAccessToken, NewGrant, StoredGrant, Subject,
};
pub use token::TokenResponse;
pub use userinfo::bearer_token;
