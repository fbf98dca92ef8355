//! The form body of a request to the token and revocation endpoints.

use std::collections::BTreeMap;

use crate::error::ProviderError;

/// The fields of an `application/x-www-form-urlencoded` body, each at most once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form(BTreeMap<String, String>);

impl Form {
    /// Parses a body; a repeated field is `invalid_request` (RFC 6749 §3.2: parameters
    /// must not be included more than once).
    pub fn parse(body: &[u8]) -> Result<Form, ProviderError> {
        let mut fields = BTreeMap::new();
        for (key, value) in url::form_urlencoded::parse(body) {
            if fields.insert(key.to_string(), value.to_string()).is_some() {
                return Err(ProviderError::invalid_request(format!(
                    "the parameter {key} is repeated"
                )));
            }
        }
        Ok(Form(fields))
    }

    /// The value of a field, if sent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Whether a field was sent.
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// A code or token field: sent, non-empty and at most 256 bytes; `None` otherwise.
    pub fn token(&self, name: &str) -> Option<&str> {
        self.get(name)
            .filter(|value| !value.is_empty() && value.len() <= MAX_TOKEN_LEN)
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Form {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Form(
            iter.into_iter()
                .map(|(key, value)| (key.into(), value.into()))
                .collect(),
        )
    }
}

/// The longest code or token accepted ([`Form::token`]): every one the provider issues
/// is far shorter.
pub const MAX_TOKEN_LEN: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_fields_are_refused() {
        let form = Form::parse(b"a=1&b=%20x+y").unwrap();
        assert_eq!(form.get("b"), Some(" x y"));
        let err = Form::parse(b"code=1&code=2").unwrap_err();
        assert_eq!(err.description(), "the parameter code is repeated");
    }

    #[test]
    fn tokens_must_be_present_and_short() {
        let form: Form = [("code", ""), ("token", "t")].into_iter().collect();
        assert_eq!(form.token("code"), None);
        assert_eq!(form.token("other"), None);
        assert_eq!(form.token("token"), Some("t"));
        let long: Form = [("refresh_token", "x".repeat(257))].into_iter().collect();
        assert_eq!(long.token("refresh_token"), None);
    }
}
