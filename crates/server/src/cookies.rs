//! Reading and writing the hub's cookies.
//!
//! The `Cookie` header is shared with every other application on the site, so it is read
//! as bytes: a foreign cookie may hold any byte (UTF-8 text, Latin-1, binary) and must not
//! make the hub lose its own cookies. Only the hub's cookies, taken by exact name, are
//! interpreted; several `Cookie` lines (as HTTP/2 sends them) are read in order.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::secrets::{CookieSecret, random_token};

/// Name of the session cookie: an opaque random id; the store keeps only its hash.
pub const SESSION_COOKIE: &str = "hubauth-session";

/// The longest cookie value the hub reads; its own are far shorter.
const MAX_VALUE_LEN: usize = 256;

/// Every value of the cookie `name` in the request, in header order. Values that are not
/// text, or longer than any cookie the hub sets, are skipped: they cannot be the hub's.
pub fn get_all(headers: &HeaderMap, name: &str) -> Vec<String> {
    let name = name.as_bytes();
    headers
        .get_all(COOKIE)
        .iter()
        .flat_map(|line| line.as_bytes().split(|byte| *byte == b';'))
        .filter_map(|pair| {
            let pair = trim_ows(pair);
            let at = pair.iter().position(|byte| *byte == b'=')?;
            (trim_ows(&pair[..at]) == name).then(|| unquote(trim_ows(&pair[at + 1..])))
        })
        .filter(|value| value.len() <= MAX_VALUE_LEN)
        .filter_map(|value| std::str::from_utf8(value).ok().map(str::to_owned))
        .collect()
}

/// The value of a cookie in the request, if present (the first one wins).
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    get_all(headers, name).into_iter().next()
}

/// The first value of the cookie `name` that the hub minted for `purpose` (see
/// [`mint_signed`]); values a client chose, or minted for another purpose, are skipped.
pub fn get_signed(
    headers: &HeaderMap,
    secret: &CookieSecret,
    purpose: &str,
    name: &str,
) -> Option<String> {
    get_all(headers, name)
        .into_iter()
        .find(|value| verify_signed(secret, purpose, value))
}

/// A fresh cookie value only this hub can make: a random part and its HMAC under the
/// cookie secret, bound to `purpose`. The hub adopts such a value from a request, never
/// one a client (or a sibling site planting cookies) chose.
pub fn mint_signed(secret: &CookieSecret, purpose: &str) -> String {
    let random = random_token();
    let signature = sign(secret, purpose, &random);
    format!("{random}.{signature}")
}

/// Whether `value` was made by [`mint_signed`] with this secret and purpose (constant-time).
pub fn verify_signed(secret: &CookieSecret, purpose: &str, value: &str) -> bool {
    let Some((random, signature)) = value.split_once('.') else {
        return false;
    };
    if random.len() < 32 {
        return false;
    }
    let Ok(signature) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(signature) else {
        return false;
    };
    mac(secret, purpose, random)
        .verify_slice(&signature)
        .is_ok()
}

fn sign(secret: &CookieSecret, purpose: &str, random: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(mac(secret, purpose, random).finalize().into_bytes())
}

fn mac(secret: &CookieSecret, purpose: &str, random: &str) -> Hmac<Sha256> {
    // HMAC takes keys of any length; the fallback only keeps this panic-free.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.bytes())
        .unwrap_or_else(|_| <Hmac<Sha256> as hmac::digest::KeyInit>::new(&Default::default()));
    mac.update(b"hubauth-cookie:");
    mac.update(purpose.as_bytes());
    mac.update(b":");
    mac.update(random.as_bytes());
    mac
}

/// Strips spaces and tabs (HTTP's optional whitespace) from both ends.
fn trim_ows(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|byte| !matches!(byte, b' ' | b'\t'))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|byte| !matches!(byte, b' ' | b'\t'))
        .map_or(start, |last| last + 1);
    &bytes[start..end.max(start)]
}

/// A cookie value without its optional surrounding double quotes (RFC 6265).
fn unquote(value: &[u8]) -> &[u8] {
    match value {
        [b'"', inner @ .., b'"'] => inner,
        other => other,
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(lines: &[&[u8]]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(COOKIE, HeaderValue::from_bytes(line).unwrap());
        }
        headers
    }

    #[test]
    fn foreign_bytes_do_not_hide_the_hubs_cookie() {
        let headers = headers(&[b"pref=caf\xc3\xa9; x=\xff\xfe; hubauth-session=abc; y=1"]);
        assert_eq!(get(&headers, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(get(&headers, "x"), None, "not text: not the hub's");
    }

    #[test]
    fn several_cookie_lines_and_exact_names() {
        let headers = headers(&[
            b"xhubauth-session=no; hubauth-session-x=no",
            b" hubauth-session = \"quoted\" ;other=1",
        ]);
        assert_eq!(get_all(&headers, SESSION_COOKIE), vec!["quoted".to_owned()]);
        assert_eq!(get(&headers, "other").as_deref(), Some("1"));
        assert!(get_all(&headers, "missing").is_empty());
    }

    #[test]
    fn signed_values_are_bound_to_secret_and_purpose() {
        let secret = CookieSecret::random();
        let value = mint_signed(&secret, "a");
        assert!(verify_signed(&secret, "a", &value));
        assert!(!verify_signed(&secret, "b", &value));
        assert!(!verify_signed(&CookieSecret::random(), "a", &value));
        let (random, _) = value.split_once('.').unwrap();
        assert!(!verify_signed(&secret, "a", random));
        assert!(!verify_signed(&secret, "a", &format!("{random}.AAAA")));
        assert!(!verify_signed(
            &secret,
            "a",
            "client-chosen-value-0123456789abcdef"
        ));
        let headers =
            headers(&[format!("c=client-chosen-value-0123456789abcdef; c={value}").as_bytes()]);
        assert_eq!(get_signed(&headers, &secret, "a", "c"), Some(value));
    }
}

/// Property tests: any bytes a browser or a sibling site puts in `Cookie` lines neither
/// panic the parser nor hide the hub's own cookie, and no value the hub did not mint
/// passes as signed.
#[cfg(test)]
mod properties {
    use axum::http::HeaderValue;
    use proptest::prelude::*;

    use super::*;

    /// Bytes an HTTP/1 header value may carry (visible ASCII, space, tab, obs-text).
    fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop_oneof![
                (0x20u8..0x7f),
                (0x80u8..=0xff),
                Just(b'\t'),
                Just(b';'),
                Just(b'='),
                Just(b'"')
            ],
            0..80,
        )
    }

    /// A foreign cookie pair: any name that is not the session cookie's (without `=`), any
    /// value, both without `;` (which would start the next pair).
    fn foreign_pair() -> impl Strategy<Value = Vec<u8>> {
        (header_bytes(), header_bytes()).prop_filter_map("not a pair", |(name, value)| {
            let clean = |bytes: Vec<u8>, cut: &[u8]| -> Vec<u8> {
                bytes
                    .into_iter()
                    .filter(|byte| !cut.contains(byte))
                    .collect()
            };
            let name = clean(name, b";=");
            let name_text = String::from_utf8_lossy(&name);
            if name_text.trim_matches([' ', '\t']) == SESSION_COOKIE {
                return None;
            }
            let mut pair = name;
            pair.push(b'=');
            pair.extend(clean(value, b";"));
            Some(pair)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

        #[test]
        fn any_cookie_header_is_read_without_panic(lines in prop::collection::vec(header_bytes(), 0..4)) {
            let mut headers = HeaderMap::new();
            for line in &lines {
                if let Ok(value) = HeaderValue::from_bytes(line) {
                    headers.append(COOKIE, value);
                }
            }
            for value in get_all(&headers, SESSION_COOKIE) {
                prop_assert!(value.len() <= MAX_VALUE_LEN);
            }
        }

        #[test]
        fn foreign_cookies_never_hide_the_session_cookie(
            before in prop::collection::vec(foreign_pair(), 0..5),
            after in prop::collection::vec(foreign_pair(), 0..5),
            split_lines in any::<bool>(),
        ) {
            let session = random_token();
            let ours = format!("{SESSION_COOKIE}={session}").into_bytes();
            let mut headers = HeaderMap::new();
            let join = |pairs: &[Vec<u8>]| pairs.join(&b"; "[..]);
            let mut first = join(&before);
            let mut second = join(&after);
            if split_lines {
                // As HTTP/2 sends them: several `Cookie` lines, ours opening the second.
                second = [ours, b"; ".to_vec(), second].concat();
            } else {
                first = [first, b"; ".to_vec(), ours, b"; ".to_vec(), second].concat();
                second = Vec::new();
            }
            for line in [first, second] {
                if !line.is_empty() {
                    headers.append(COOKIE, HeaderValue::from_bytes(&line).expect("valid header bytes"));
                }
            }
            prop_assert_eq!(get(&headers, SESSION_COOKIE), Some(session));
        }

        #[test]
        fn only_minted_values_verify(value in "[A-Za-z0-9_.-]{0,120}", purpose in "[a-z]{1,8}") {
            let secret = CookieSecret::random();
            prop_assert!(!verify_signed(&secret, &purpose, &value));
            let minted = mint_signed(&secret, &purpose);
            prop_assert!(verify_signed(&secret, &purpose, &minted));
            let mut tampered = minted.clone().into_bytes();
            let at = value.len() % tampered.len();
            tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(tampered).expect("ascii");
            prop_assert!(tampered == minted || !verify_signed(&secret, &purpose, &tampered));
        }
    }
}
