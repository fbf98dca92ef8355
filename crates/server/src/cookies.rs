//! Reading and writing the hub's cookies.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;

/// Name of the session cookie: an opaque random id; the store keeps only its hash.
pub const SESSION_COOKIE: &str = "hubauth-session";

/// The value of a cookie in the request, if present (the first one wins).
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"').to_owned())
}

/// Attributes shared by the hub's cookies.
#[derive(Debug, Clone, Copy)]
pub struct CookieAttrs<'a> {
    /// Cookie path.
    pub path: &'a str,
    /// Whether to add `Secure`.
    pub secure: bool,
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Secure over https.
pub fn set(name: &str, value: &str, max_age: Option<i64>, attrs: CookieAttrs<'_>) -> String {
    let mut cookie = format!(
        "{name}={value}; Path={}; HttpOnly; SameSite=Lax",
        attrs.path
    );
    if let Some(max_age) = max_age {
        cookie.push_str(&format!("; Max-Age={max_age}"));
    }
    if attrs.secure {
        cookie.push_str("; Secure");
    }
    cookie
}

/// A `Set-Cookie` value that deletes the cookie.
pub fn clear(name: &str, attrs: CookieAttrs<'_>) -> String {
    let mut cookie = format!(
        "{name}=; Path={}; HttpOnly; SameSite=Lax; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        attrs.path
    );
    if attrs.secure {
        cookie.push_str("; Secure");
    }
    cookie
}
