//! The protocol of hubauth's OAuth 2.0 / OpenID Connect provider, without HTTP, storage
//! or a clock: the hub (`hubauth-server`) parses requests, calls in here with the time,
//! and renders what comes back; the development provider reuses the keys and hashes.
//!
//! Modules are private; everything public is re-exported below.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod client;
mod client_auth;
mod error;
mod form;
mod id_token;
mod keys;
mod pkce;

pub use client::{
    BASE_SCOPES, Client, ClientSecret, check_redirect_uri, find_client, is_valid_scope,
};
pub use client_auth::authenticate_client;
pub use error::{ProviderError, StorageError};
pub use form::{Form, MAX_TOKEN_LEN};
pub use id_token::at_hash;
pub use keys::{
    EcKey, ID_TOKEN_ALGS, IdTokenAlg, KeyError, RSA_BITS, RsaKey, SigningKeys, jwk_thumbprint,
};
pub use pkce::{
    CHALLENGE_LEN, is_pkce_value, is_valid_s256_challenge, is_valid_verifier, pkce_s256,
    verifier_matches,
};
