//! Request parameters, read the way RFC 6749 section 3.1 and 3.2 say: a parameter sent
//! without a value counts as omitted, and no parameter may appear twice.

use std::borrow::Cow;

/// Parsed `application/x-www-form-urlencoded` parameters (a query string or a form body).
#[derive(Debug, Clone, Default)]
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

/// A parameter appeared more than once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Repeated(pub String);

impl Params {
    /// Parses a query string or form body; never fails (bad escapes stay literal).
    pub(crate) fn parse(input: &[u8]) -> Self {
        Params {
            pairs: form_urlencoded::parse(input)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        }
    }

    /// Parameters from pairs already decoded.
    pub(crate) fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Params { pairs }
    }

    /// Every pair, in order.
    pub(crate) fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// The value of `name`; `Ok(None)` when absent or empty, `Err` when sent twice with a
    /// value.
    pub(crate) fn get(&self, name: &str) -> Result<Option<&str>, Repeated> {
        let mut found = None;
        for (key, value) in &self.pairs {
            if key == name && !value.is_empty() {
                if found.is_some() {
                    return Err(Repeated(name.to_owned()));
                }
                found = Some(value.as_str());
            }
        }
        Ok(found)
    }

    /// The first parameter (other than those in `except`) that has a value twice.
    pub(crate) fn first_repeated(&self, except: &[&str]) -> Option<&str> {
        self.pairs.iter().enumerate().find_map(|(i, (key, value))| {
            let repeated = !value.is_empty()
                && !except.contains(&key.as_str())
                && self
                    .pairs
                    .iter()
                    .skip(i + 1)
                    .any(|(other, v)| other == key && !v.is_empty());
            repeated.then_some(key.as_str())
        })
    }
}

/// Decodes one `application/x-www-form-urlencoded` value (`+` is a space, `%XX` escapes),
/// as RFC 6749 section 2.3.1 requires for the Basic credentials. `None` when the result
/// is not UTF-8.
pub(crate) fn form_decode(input: &str) -> Option<String> {
    let spaced: Cow<'_, str> = if input.contains('+') {
        Cow::Owned(input.replace('+', " "))
    } else {
        Cow::Borrowed(input)
    };
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(Cow::into_owned)
}

/// Whether the content type is `application/x-www-form-urlencoded` (any parameters).
pub(crate) fn is_form(content_type: Option<&axum::http::HeaderValue>) -> bool {
    content_type
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_count_as_absent() {
        let p = Params::parse(b"a=&b=1&a=2");
        assert_eq!(p.get("a"), Ok(Some("2")));
        assert_eq!(p.get("c"), Ok(None));
    }

    #[test]
    fn repeated_values_are_refused() {
        let p = Params::parse(b"a=1&b=2&a=3");
        assert_eq!(p.get("a"), Err(Repeated("a".into())));
        assert_eq!(p.first_repeated(&[]), Some("a"));
        assert_eq!(p.first_repeated(&["a"]), None);
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        assert_eq!(form_decode("a%3Ab+c%25").as_deref(), Some("a:b c%"));
        assert_eq!(form_decode("%FF"), None);
    }
}
