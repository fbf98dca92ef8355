//! Login CSRF protection: a random value in a cookie, and its HMAC in the form.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::secrets::CookieSecret;

/// Name of the cookie holding the random XSRF value (JupyterHub's name).
pub const XSRF_COOKIE: &str = "_xsrf";

type HmacSha256 = Hmac<Sha256>;

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

fn mac(secret: &CookieSecret) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail; fall back to an empty key to
    // stay panic-free.
    HmacSha256::new_from_slice(secret.bytes())
        .unwrap_or_else(|_| <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default()))
}
