//! The framework provider mocks are built on.
//!
//! A fake identity provider for tests is mostly the same program every time: serve on
//! loopback, register clients and check how they authenticate, issue single-use codes
//! bound to a client, a redirect URI and a PKCE challenge, keep tokens with expiry, log
//! every request without its secrets, and let a test break the next answer of an endpoint
//! or take it down. What differs from one provider to the next are its *quirks*: its
//! paths, the shape of its token response, its claims, its error bodies, and the APIs it
//! has besides OAuth (Microsoft Graph, the Globus Groups API...).
//!
//! So a provider mock here is a [`Personality`]: the names of its endpoints, its own
//! state (users, grants, what tests steer) and its routes. [`MockServer::start`] serves
//! it with everything shared:
//!
//! - the request log ([`RecordedRequest`], secrets redacted), request counts, one-shot
//!   faults ([`Fault`]) and outages per endpoint, applied before the personality's
//!   handler runs, so that no personality can forget them;
//! - a clock that tests can move ([`MockServer::advance_clock`]) on top of an injected
//!   [`Clock`];
//! - the protocol core in [`Core`]: registered [`Client`]s and their authentication
//!   ([`Clients::authenticate`], RFC 6749 2.3.1), authorization requests checked the way
//!   RFC 6749 4.1.2.1 says ([`AuthorizeRequest`]), codes redeemed once
//!   ([`redeem_code`], with PKCE per RFC 7636) and token stores with expiry
//!   ([`Grants`]);
//! - helpers for what personalities answer with: [`html`] pages and redirects, RS256
//!   signing with an attacker's key for tampering ([`RsaSigner`]), unsigned JWTs,
//!   random tokens and GUIDs.
//!
//! The development OpenID provider of this crate, the Azure AD mock (`hubauth-azuread`)
//! and the Globus mock (`hubauth-globus`) are personalities; a new provider's mock costs
//! its quirks. ARCHITECTURE.md says where to start.

mod authorize;
mod clients;
mod grants;
pub mod html;
mod ids;
mod jwt;
mod personality;
mod server;
mod tls;

pub use authorize::{AuthorizeError, AuthorizeRequest, CodeError, CodeGrant, redeem_code};
pub use clients::{BasicEncoding, ClientAuthError, Clients, Methods};
pub use grants::Grants;
pub use ids::{bearer_token, guid_from, random_token, s256};
pub use jwt::{RsaSigner, unsigned_jwt};
pub use personality::{Core, Mock, Personality, Provider};
pub use server::{MockServer, MockServerOptions};
pub use tls::MockTls;

pub use crate::clock::Clock;
pub use crate::config::Client;
pub use crate::control::{AuthorizationScheme, ClientAuth, RecordedRequest};
pub use crate::faults::Fault;
