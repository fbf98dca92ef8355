//! The server side of an OAuth 1.0a signature (RFC 5849), written independently of the
//! client crate the hub signs with, so that each checks the other.
//!
//! A request's protocol parameters are gathered as the extension's `OAuthRequest` does:
//! the query string, an `application/x-www-form-urlencoded` body, and the
//! `Authorization: OAuth ...` header (RFC 5849 3.5.1, `realm` excluded). The signature
//! base string is RFC 5849 3.4.1 and the HMAC-SHA1 key 3.4.2.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use subtle::ConstantTimeEq;

/// RFC 5849 3.6: everything but the unreserved characters is percent-encoded.
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// RFC 5849 3.6 percent-encoding.
pub fn encode(text: &str) -> String {
    utf8_percent_encode(text, RFC3986).to_string()
}

/// The parameters of a signed request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignedRequest {
    /// Every parameter (query, form body, `Authorization` header), in order.
    pub params: Vec<(String, String)>,
    /// Whether the `Authorization` header was an OAuth one.
    pub header_present: bool,
}

impl SignedRequest {
    /// Gathers the parameters; `None` when the `Authorization` header is OAuth but cannot
    /// be read.
    pub fn gather(
        query: Option<&str>,
        form: Option<&[u8]>,
        authorization: Option<&str>,
    ) -> Option<Self> {
        let mut params: Vec<(String, String)> = Vec::new();
        if let Some(query) = query {
            params.extend(
                form_urlencoded::parse(query.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned())),
            );
        }
        if let Some(form) = form {
            params.extend(
                form_urlencoded::parse(form).map(|(k, v)| (k.into_owned(), v.into_owned())),
            );
        }
        let mut header_present = false;
        if let Some(header) = authorization {
            let header = header.trim();
            let scheme_len = "OAuth".len();
            if header.len() > scheme_len
                && header[..scheme_len].eq_ignore_ascii_case("OAuth")
                && header.as_bytes()[scheme_len] == b' '
            {
                header_present = true;
                params.extend(parse_header(&header[scheme_len + 1..])?);
            }
        }
        Some(SignedRequest {
            params,
            header_present,
        })
    }

    /// The first value of a parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// RFC 5849 3.4.1: `METHOD&base-uri&normalized-parameters`, every parameter but
    /// `oauth_signature`.
    pub fn base_string(&self, method: &str, base_uri: &str) -> String {
        let mut pairs: Vec<(String, String)> = self
            .params
            .iter()
            .filter(|(key, _)| key != "oauth_signature")
            .map(|(key, value)| (encode(key), encode(value)))
            .collect();
        pairs.sort();
        let normalized = pairs
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect::<Vec<_>>()
            .join("&");
        format!(
            "{}&{}&{}",
            method.to_ascii_uppercase(),
            encode(base_uri),
            encode(&normalized)
        )
    }

    /// Whether `oauth_signature` is the HMAC-SHA1 signature of the request with these
    /// secrets (RFC 5849 3.4.2), compared in constant time.
    pub fn hmac_sha1_valid(
        &self,
        method: &str,
        base_uri: &str,
        consumer_secret: &str,
        token_secret: &str,
    ) -> bool {
        let Some(given) = self.get("oauth_signature") else {
            return false;
        };
        let expected = hmac_sha1(
            &self.base_string(method, base_uri),
            consumer_secret,
            token_secret,
        );
        bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
    }
}

/// base64(HMAC-SHA1(`enc(consumer_secret)&enc(token_secret)`, base string)).
pub fn hmac_sha1(base_string: &str, consumer_secret: &str, token_secret: &str) -> String {
    let key = format!("{}&{}", encode(consumer_secret), encode(token_secret));
    match Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()) {
        Ok(mut mac) => {
            mac.update(base_string.as_bytes());
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// RFC 5849 3.5.1: `name="value"` pairs separated by commas, both percent-encoded;
/// `realm` is not a protocol parameter.
fn parse_header(rest: &str) -> Option<Vec<(String, String)>> {
    let mut params = Vec::new();
    for item in rest.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (name, quoted) = item.split_once('=')?;
        let value = quoted.trim().strip_prefix('"')?.strip_suffix('"')?;
        let name = percent_encoding::percent_decode_str(name.trim())
            .decode_utf8()
            .ok()?
            .into_owned();
        let value = percent_encoding::percent_decode_str(value)
            .decode_utf8()
            .ok()?
            .into_owned();
        if name != "realm" {
            params.push((name, value));
        }
    }
    Some(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5849 section 1.2's example request, with its documented signature.
    #[test]
    fn the_rfc_example_signature_verifies() {
        let request = SignedRequest::gather(
            Some("file=vacation.jpg&size=original"),
            None,
            Some("OAuth realm=\"Photos\", oauth_consumer_key=\"dpf43f3p2l4k3l03\", oauth_token=\"nnch734d00sl2jdk\", oauth_signature_method=\"HMAC-SHA1\", oauth_timestamp=\"137131202\", oauth_nonce=\"chapoH\", oauth_signature=\"MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D\""),
        )
        .unwrap();
        assert!(request.header_present);
        assert_eq!(request.get("oauth_nonce"), Some("chapoH"));
        assert!(request.get("realm").is_none());
        assert!(request.hmac_sha1_valid(
            "GET",
            "http://photos.example.net/photos",
            "kd94hf93k423kf44",
            "pfkkdhi9sl3r4s00"
        ));
        assert!(!request.hmac_sha1_valid(
            "GET",
            "http://photos.example.net/photos",
            "kd94hf93k423kf44",
            "another-secret"
        ));
        assert!(!request.hmac_sha1_valid(
            "POST",
            "http://photos.example.net/photos",
            "kd94hf93k423kf44",
            "pfkkdhi9sl3r4s00"
        ));
    }

    #[test]
    fn encoding_keeps_only_unreserved_characters() {
        assert_eq!(
            encode("Special:OAuth/initiate"),
            "Special%3AOAuth%2Finitiate"
        );
        assert_eq!(encode("a b+c~d-e.f_g"), "a%20b%2Bc~d-e.f_g");
        assert_eq!(encode("é"), "%C3%A9");
    }

    #[test]
    fn an_unreadable_header_is_refused() {
        assert!(SignedRequest::gather(None, None, Some("OAuth oauth_nonce=unquoted")).is_none());
        let basic = SignedRequest::gather(None, None, Some("Basic abc")).unwrap();
        assert!(!basic.header_present);
    }
}
