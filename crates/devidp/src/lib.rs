//! A small but real OpenID Connect provider for development, demos and tests.
//!
//! It serves, on loopback only unless asked otherwise, the endpoints a relying party
//! needs: OIDC discovery, a JWKS with ES256 (P-256) keys, `/authorize` with a login form
//! (or an auto-approve mode for tests), `/token` for the authorization code grant with
//! PKCE (S256) and the refresh token grant (with rotation), `/userinfo`, and RP-initiated
//! logout at `/logout`. It follows RFC 6749, RFC 6750, RFC 7636, OpenID Connect Core 1.0,
//! Discovery 1.0 and RP-Initiated Logout 1.0.
//!
//! Tests can steer it while it runs: change a user's claims, disable a user, revoke every
//! token, rotate the signing key, read a log of the requests it received (secrets
//! redacted), make the next response of an endpoint fail ([`Fault`]), make the next ID
//! token wrong in a chosen way ([`Tamper`]), make the next userinfo answer name another
//! subject ([`UserinfoTamper`]), and make logout tokens (OpenID Connect Back-Channel Logout
//! 1.0, valid or tampered: [`RunningIdp::logout_token`], [`LogoutTokenSpec`]) naming the
//! `sid` its ID tokens carry ([`RunningIdp::last_sid`]).
//!
//! Every time it uses comes from an injectable [`Clock`], so tests can make codes and
//! tokens expire without waiting.
//!
//! ```no_run
//! # async fn demo() -> Result<(), hubauth_devidp::DevIdpError> {
//! use hubauth_devidp::{Client, DevIdp, DevUser};
//! let idp = DevIdp::builder()
//!     .client(Client::confidential("hub", "s3cret", "http://127.0.0.1:8000/hub/oauth_callback"))
//!     .user(DevUser::new("alice", "alice-pw").claim("groups", serde_json::json!(["staff"])))
//!     .start()
//!     .await?;
//! println!("issuer: {}", idp.issuer());
//! idp.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! It is built as a personality of [`mock`], the framework that the other provider
//! mocks (Azure AD in `hubauth-azuread`, Globus in `hubauth-globus`) are built on too:
//! serving, the request log, faults and outages, clients, codes and tokens are the
//! framework's; this crate adds OpenID Connect's endpoints and checks.
//!
//! This provider keeps everything in memory and trusts its configuration completely. It
//! is meant for loopback use: it refuses to bind another address unless
//! [`DevIdpBuilder::allow_non_loopback`] is set.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod clock;
mod config;
mod control;
mod error;
pub mod faults;
mod handlers;
mod jwt;
mod keys;
pub mod mock;
mod pages;
mod params;
mod server;
mod state;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{Client, DevIdp, DevIdpBuilder, DevUser};
pub use control::{
    AuthorizationScheme, ClientAuth, Endpoint, Fault, LogoutTokenSpec, REDACTED, RecordedRequest,
    Tamper, TokenLocation, UserinfoTamper,
};
pub use error::DevIdpError;
pub use server::RunningIdp;

// The behaviour tests name the crate as its users do.
#[cfg(test)]
extern crate self as hubauth_devidp;

#[cfg(test)]
mod tests;
