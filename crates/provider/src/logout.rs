//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): which client asks, and
//! where the browser may go afterwards.
//!
//! Whether the user is asked first is the server's decision, with
//! [`EndSession::hint_fits`]: only an ID token hint issued in the user's current session
//! proves the request comes from a service the user signed in to.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::client::Client;
use crate::error::ProviderError;
use crate::provider::Provider;

/// The parameters of a logout request, as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct EndSessionRequest {
    /// An ID token the provider issued to the client (expired or not).
    pub id_token_hint: Option<String>,
    /// The client asking.
    pub client_id: Option<String>,
    /// Where the client wants the browser after the logout.
    pub post_logout_redirect_uri: Option<String>,
    /// Returned to the client with the browser.
    pub state: Option<String>,
}

/// A logout request that passed every check.
#[derive(Debug, Clone)]
pub struct EndSession<'c> {
    hint: Option<Map<String, Value>>,
    client: Option<&'c Client>,
    after: Option<url::Url>,
}

impl Provider {
    /// Checks a logout request (RP-Initiated Logout 1.0 §2 and §3): the ID token hint must
    /// be one of this provider's for `issuer`; a `client_id` must be the hint's
    /// audience and a registered client; a `post_logout_redirect_uri` needs a client and
    /// must be one it registered, exactly. Every refusal is shown to the user, never
    /// redirected.
    pub fn end_session(
        &self,
        request: &EndSessionRequest,
        issuer: &str,
    ) -> Result<EndSession<'_>, ProviderError> {
        let hint = match request.id_token_hint.as_deref() {
            Some(token) => Some(
                self.keys()
                    .verify_own(token, issuer)
                    .ok_or(ProviderError::IdTokenHintInvalid)?,
            ),
            None => None,
        };
        let hinted_client = hint
            .as_ref()
            .and_then(|claims| claims.get("aud"))
            .and_then(Value::as_str);
        let client_id = match (hinted_client, request.client_id.as_deref()) {
            (Some(a), Some(b)) if a != b => return Err(ProviderError::IdTokenHintMismatch),
            (Some(id), _) | (None, Some(id)) => Some(id),
            (None, None) => None,
        };
        let client = match client_id {
            Some(id) => Some(self.client(id).ok_or(ProviderError::UnknownClient)?),
            None => None,
        };
        let after = match (request.post_logout_redirect_uri.as_deref(), client) {
            (None, _) => None,
            (Some(uri), Some(client))
                if client.post_logout_redirect_uris.iter().any(|u| u == uri) =>
            {
                // Registered URIs were checked at registration; one that does not parse
                // is treated as not registered.
                let mut url = url::Url::parse(uri)
                    .map_err(|_| ProviderError::PostLogoutRedirectUriNotRegistered)?;
                if let Some(state) = request.state.as_deref() {
                    url.query_pairs_mut().append_pair("state", state);
                }
                Some(url)
            }
            (Some(_), Some(_)) => return Err(ProviderError::PostLogoutRedirectUriNotRegistered),
            (Some(_), None) => return Err(ProviderError::PostLogoutRedirectUriWithoutClient),
        };
        Ok(EndSession {
            hint,
            client,
            after,
        })
    }
}

impl<'c> EndSession<'c> {
    /// The client asking, when the request names one (by the hint or `client_id`).
    pub fn client(&self) -> Option<&'c Client> {
        self.client
    }

    /// The user the ID token hint names (`sub`), when there is a hint.
    pub fn hint_subject(&self) -> Option<&str> {
        self.hint
            .as_ref()
            .and_then(|claims| claims.get("sub"))
            .and_then(Value::as_str)
    }

    /// Whether the hint was issued to `user` in the session that started at
    /// `session_start` (its `auth_time`): then the client had the user sign in there, and
    /// may end the session without asking.
    pub fn hint_fits(&self, user: &str, session_start: i64) -> bool {
        self.hint_subject() == Some(user)
            && self
                .hint
                .as_ref()
                .and_then(|claims| claims.get("auth_time"))
                .and_then(Value::as_i64)
                == Some(session_start)
    }

    /// Where the browser goes after the logout: the client's registered
    /// `post_logout_redirect_uri` with `state`, or `None` (the server's own page).
    pub fn location(&self) -> Option<String> {
        self.after.as_ref().map(url::Url::to_string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SigningKeys;
    use crate::client::tests::clients;
    use serde_json::json;

    fn provider() -> Provider {
        let mut clients = clients();
        clients[0].post_logout_redirect_uris = vec!["https://app.example/bye".into()];
        Provider::new(clients, SigningKeys::generate().unwrap(), 3600)
    }

    fn request(fields: &[(&str, &str)]) -> EndSessionRequest {
        let mut request = EndSessionRequest::default();
        for (key, value) in fields {
            let value = Some((*value).to_owned());
            match *key {
                "id_token_hint" => request.id_token_hint = value,
                "client_id" => request.client_id = value,
                "post_logout_redirect_uri" => request.post_logout_redirect_uri = value,
                "state" => request.state = value,
                _ => unreachable!(),
            }
        }
        request
    }

    #[test]
    fn hints_clients_and_redirects() {
        let provider = provider();
        let hint = provider
            .keys()
            .sign(
                crate::IdTokenAlg::Es256,
                &json!({"iss": "https://hub", "aud": "conf", "sub": "ada", "auth_time": 5}),
            )
            .unwrap();
        let end = provider
            .end_session(
                &request(&[
                    ("id_token_hint", &hint),
                    ("post_logout_redirect_uri", "https://app.example/bye"),
                    ("state", "s 1"),
                ]),
                "https://hub",
            )
            .unwrap();
        assert_eq!(end.client().unwrap().client_id, "conf");
        assert!(end.hint_fits("ada", 5));
        assert!(!end.hint_fits("ada", 6));
        assert!(!end.hint_fits("bob", 5));
        assert_eq!(
            end.location().as_deref(),
            Some("https://app.example/bye?state=s+1")
        );
        let plain = provider.end_session(&request(&[]), "https://hub").unwrap();
        assert!(plain.client().is_none() && plain.location().is_none());
        assert!(!plain.hint_fits("ada", 5));

        let refused = |fields: &[(&str, &str)]| {
            let err = provider
                .end_session(&request(fields), "https://hub")
                .unwrap_err();
            assert!(!err.may_redirect());
            err.description().into_owned()
        };
        assert_eq!(
            refused(&[("id_token_hint", &hint), ("client_id", "pub")]),
            "client_id does not match the id_token_hint."
        );
        assert_eq!(
            refused(&[("id_token_hint", "a.b.c")]),
            "The id_token_hint was not issued by this hub."
        );
        let other_issuer = provider
            .end_session(&request(&[("id_token_hint", &hint)]), "https://other")
            .unwrap_err();
        assert!(matches!(other_issuer, ProviderError::IdTokenHintInvalid));
        assert_eq!(
            refused(&[("client_id", "nope")]),
            "Unknown OAuth client: this application is not registered with the hub."
        );
        assert_eq!(
            refused(&[
                ("client_id", "pub"),
                ("post_logout_redirect_uri", "https://app.example/bye")
            ]),
            "The post_logout_redirect_uri is not registered for this application."
        );
        assert_eq!(
            refused(&[("post_logout_redirect_uri", "https://app.example/bye")]),
            "A post_logout_redirect_uri needs an id_token_hint or client_id."
        );
    }
}
