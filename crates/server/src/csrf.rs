//! Form tokens against cross-site request forgery.
//!
//! Before login, a form token is the HMAC of a value in the `_xsrf` cookie (double submit);
//! that cookie value is minted and signed by the hub, and a value the client chose is
//! never adopted, so an attacker who can plant cookies for the hub's host (a sibling
//! subdomain) cannot fix a value whose token they know. Forms shown to a logged-in user
//! (logout, the admin page) use a token bound to the session instead, which no planted
//! cookie can match.

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::cookies;
use crate::secrets::CookieSecret;

/// Name of the cookie holding the random XSRF value (JupyterHub's name).
pub const XSRF_COOKIE: &str = "_xsrf";

/// What the `_xsrf` cookie's signature is bound to.
const XSRF_PURPOSE: &str = "xsrf";

type HmacSha256 = Hmac<Sha256>;

/// The request's `_xsrf` cookie value, when the hub minted it.
pub fn cookie_value(secret: &CookieSecret, headers: &HeaderMap) -> Option<String> {
    cookies::get_signed(headers, secret, XSRF_PURPOSE, XSRF_COOKIE)
}

/// A fresh `_xsrf` cookie value, signed by the hub.
pub fn mint_cookie_value(secret: &CookieSecret) -> String {
    cookies::mint_signed(secret, XSRF_PURPOSE)
}

/// The token to put in the form for a cookie value: HMAC-SHA256 of the value, hex.
pub fn form_token(secret: &CookieSecret, cookie_value: &str) -> String {
    let mut mac = mac(secret);
    mac.update(b"hubauth-xsrf:");
    mac.update(cookie_value.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Checks a submitted form token against the cookie, in constant time.
pub fn check(secret: &CookieSecret, cookie_value: &str, submitted: &str) -> bool {
    if cookie_value.is_empty() || submitted.is_empty() {
        return false;
    }
    let Ok(submitted) = hex::decode(submitted) else {
        return false;
    };
    let mut mac = mac(secret);
    mac.update(b"hubauth-xsrf:");
    mac.update(cookie_value.as_bytes());
    mac.verify_slice(&submitted).is_ok()
}

/// The form token of a logged-in user's forms (logout, admin page): HMAC-SHA256 of the
/// session's hash, hex. Only a page the hub rendered for this session carries it.
pub fn session_token(secret: &CookieSecret, session_hash: &str) -> String {
    let mut mac = mac(secret);
    mac.update(b"hubauth-session-form:");
    mac.update(session_hash.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Checks a submitted session form token, in constant time.
pub fn check_session_token(secret: &CookieSecret, session_hash: &str, submitted: &str) -> bool {
    if session_hash.is_empty() || submitted.is_empty() {
        return false;
    }
    let Ok(submitted) = hex::decode(submitted) else {
        return false;
    };
    let mut mac = mac(secret);
    mac.update(b"hubauth-session-form:");
    mac.update(session_hash.as_bytes());
    mac.verify_slice(&submitted).is_ok()
}

fn mac(secret: &CookieSecret) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail; fall back to an empty key to
    // stay panic-free.
    HmacSha256::new_from_slice(secret.bytes())
        .unwrap_or_else(|_| <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_tokens_fit_only_their_session() {
        let secret = CookieSecret::random();
        let token = session_token(&secret, "hash-a");
        assert!(check_session_token(&secret, "hash-a", &token));
        assert!(!check_session_token(&secret, "hash-b", &token));
        assert!(!check_session_token(&secret, "", &token));
        assert!(!check_session_token(&secret, "hash-a", ""));
        // A login-form token for the same text is not a session token.
        assert!(!check_session_token(
            &secret,
            "hash-a",
            &form_token(&secret, "hash-a")
        ));
    }
}
