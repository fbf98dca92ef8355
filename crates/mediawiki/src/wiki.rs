//! The OAuth 1.0a client for a wiki's `Special:OAuth` pages, as upstream's client
//! (mwoauth) talks to them: each step is a `POST` to `index.php?title=Special:OAuth/...`
//! with the OAuth protocol parameters in an `Authorization: OAuth ...` header, signed with
//! HMAC-SHA1 (RFC 5849 3.4.2) by the `oauth1-request` crate; the `title` query parameter
//! is part of what is signed.
//!
//! The time each request is signed with is passed in, never read here, and the nonce is
//! made here (32 random bytes), so that the identify step knows the nonce its answer must
//! carry.

use std::num::NonZeroU64;

use base64::Engine as _;
use hubauth_core::Secret;
use rand::RngCore as _;
use tokio::sync::Semaphore;

use crate::error::{HandshakeError, Step};

/// The largest answer read from the wiki.
const MAX_ANSWER: usize = 64 * 1024;
/// How much of a refusal's message is kept.
const MAX_MESSAGE: usize = 300;

/// `title` of the page users approve the login on. Upstream's client sends users to
/// `Special:OAuth/authenticate`, which (unlike `/authorize`) may skip the dialog for a
/// consumer the user approved before whose grants are identity-only.
pub const AUTHENTICATE_TITLE: &str = "Special:OAuth/authenticate";

/// A token and its secret (request or access token). `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenPair {
    /// `oauth_token`.
    pub key: String,
    /// `oauth_token_secret`.
    pub secret: Secret,
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("key", &self.key)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// What `Special:OAuth/identify` answered: the JWT, and the nonce the request was signed
/// with (which the JWT must repeat).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentifyAnswer {
    /// The compact JWT.
    pub jwt: String,
    /// The request's `oauth_nonce`.
    pub nonce: String,
}

/// A consumer of one wiki: where the wiki is, the consumer's credentials, and the HTTP
/// client.
pub struct Wiki {
    index_url: url::Url,
    consumer_key: String,
    consumer_secret: Secret,
    http: reqwest::Client,
    in_flight: Semaphore,
}

impl std::fmt::Debug for Wiki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wiki")
            .field("index_url", &self.index_url.as_str())
            .field("consumer_key", &self.consumer_key)
            .finish_non_exhaustive()
    }
}

impl Wiki {
    /// A consumer of the wiki at `index_url` (validated: no query), making at most
    /// `max_in_flight` requests at once.
    pub fn new(
        index_url: url::Url,
        consumer_key: String,
        consumer_secret: Secret,
        http: reqwest::Client,
        max_in_flight: usize,
    ) -> Self {
        Wiki {
            index_url,
            consumer_key,
            consumer_secret,
            http,
            in_flight: Semaphore::new(max_in_flight.max(1)),
        }
    }

    /// `index.php`'s URL.
    pub fn index_url(&self) -> &url::Url {
        &self.index_url
    }

    /// The consumer key.
    pub fn consumer_key(&self) -> &str {
        &self.consumer_key
    }

    /// The consumer secret (the key of the identity's HS256 signature).
    pub fn consumer_secret(&self) -> &Secret {
        &self.consumer_secret
    }

    /// Asks for a request token; the wiki will send the browser back to `callback`.
    pub async fn initiate(&self, callback: &str, now: i64) -> Result<TokenPair, HandshakeError> {
        let nonce = new_nonce();
        let answer = self
            .signed_post(Step::Initiate, None, Some(callback), None, &nonce, now)
            .await?;
        let pair = token_answer(Step::Initiate, &answer)?;
        // RFC 5849 2.1: the answer confirms the callback was taken.
        if single(Step::Initiate, &answer, "oauth_callback_confirmed")?.as_deref() != Some("true") {
            return Err(HandshakeError::Malformed {
                step: Step::Initiate,
                detail: "the answer does not confirm the callback (oauth_callback_confirmed)"
                    .to_owned(),
            });
        }
        Ok(pair)
    }

    /// Where the browser approves the request token: upstream's
    /// `index.php?title=Special:OAuth/authenticate&oauth_token=...&oauth_consumer_key=...`.
    pub fn authorize_url(&self, request_token: &str) -> String {
        let mut url = self.index_url.clone();
        url.query_pairs_mut()
            .append_pair("title", AUTHENTICATE_TITLE)
            .append_pair("oauth_token", request_token)
            .append_pair("oauth_consumer_key", &self.consumer_key);
        url.to_string()
    }

    /// Exchanges the approved request token and the callback's verifier for an access
    /// token.
    pub async fn token(
        &self,
        request: &TokenPair,
        verifier: &str,
        now: i64,
    ) -> Result<TokenPair, HandshakeError> {
        let nonce = new_nonce();
        let answer = self
            .signed_post(
                Step::Token,
                Some(request),
                None,
                Some(verifier),
                &nonce,
                now,
            )
            .await?;
        token_answer(Step::Token, &answer)
    }

    /// Asks who the access token's user is. The answer is a JWT to verify
    /// ([`crate::identity::verify`]) with the nonce returned beside it.
    pub async fn identify(
        &self,
        access: &TokenPair,
        now: i64,
    ) -> Result<IdentifyAnswer, HandshakeError> {
        let nonce = new_nonce();
        let answer = self
            .signed_post(Step::Identify, Some(access), None, None, &nonce, now)
            .await?;
        let text = answer.trim();
        if crate::identity::looks_like_jwt(text) {
            return Ok(IdentifyAnswer {
                jwt: text.to_owned(),
                nonce,
            });
        }
        // The extension answers identify's errors with HTTP 200 and a JSON body
        // (`{"error": key, "message": text}`), as mwoauth notes.
        if let Ok(serde_json::Value::Object(error)) = serde_json::from_str(text)
            && let Some(key) = error.get("error").and_then(serde_json::Value::as_str)
        {
            let message = error
                .get("message")
                .and_then(serde_json::Value::as_str)
                .unwrap_or(key);
            return Err(HandshakeError::Refused {
                step: Step::Identify,
                key: Some(key.to_owned()),
                message: shorten(message),
            });
        }
        Err(HandshakeError::Malformed {
            step: Step::Identify,
            detail: format!(
                "the answer is neither a JWT nor an error ({} bytes)",
                answer.len()
            ),
        })
    }

    /// The `Authorization` header of a step's request.
    pub fn authorization(
        &self,
        step: Step,
        token: Option<&TokenPair>,
        callback: Option<&str>,
        verifier: Option<&str>,
        nonce: &str,
        now: i64,
    ) -> Result<String, HandshakeError> {
        let timestamp = u64::try_from(now)
            .ok()
            .and_then(NonZeroU64::new)
            .ok_or_else(|| HandshakeError::Malformed {
                step,
                detail: "the clock is before 1970".to_owned(),
            })?;
        let client = oauth1_request::Credentials::new(
            self.consumer_key.as_str(),
            self.consumer_secret.expose(),
        );
        let mut builder =
            oauth1_request::Builder::<_, &str, &str>::new(client, oauth1_request::HMAC_SHA1);
        builder
            .token(token.map(|pair| {
                oauth1_request::Credentials::new(pair.key.as_str(), pair.secret.expose())
            }))
            .callback(callback)
            .verifier(verifier)
            .nonce(nonce)
            .timestamp(timestamp)
            .version(true);
        let params = oauth1_request::ParameterList::new([("title", step.title())]);
        Ok(builder.post(self.index_url.as_str(), &params))
    }

    async fn signed_post(
        &self,
        step: Step,
        token: Option<&TokenPair>,
        callback: Option<&str>,
        verifier: Option<&str>,
        nonce: &str,
        now: i64,
    ) -> Result<String, HandshakeError> {
        let authorization = self.authorization(step, token, callback, verifier, nonce, now)?;
        let mut url = self.index_url.clone();
        url.query_pairs_mut().append_pair("title", step.title());
        let _permit = self
            .in_flight
            .acquire()
            .await
            .map_err(|_| HandshakeError::Unreachable {
                step,
                detail: "the client is shutting down".to_owned(),
            })?;
        let request = self
            .http
            .post(url)
            .header(reqwest::header::AUTHORIZATION, authorization)
            .header(reqwest::header::CONTENT_LENGTH, "0");
        let mut response = request
            .send()
            .await
            .map_err(|err| HandshakeError::Unreachable {
                step,
                detail: transport_detail(&err),
            })?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) =
            response
                .chunk()
                .await
                .map_err(|err| HandshakeError::Unreachable {
                    step,
                    detail: format!("reading the answer failed: {}", transport_detail(&err)),
                })?
        {
            if body.len() + chunk.len() > MAX_ANSWER {
                return Err(HandshakeError::Malformed {
                    step,
                    detail: "the answer is larger than 64 KiB".to_owned(),
                });
            }
            body.extend_from_slice(&chunk);
        }
        if !(200..300).contains(&status) {
            return Err(HandshakeError::Status { step, status });
        }
        String::from_utf8(body).map_err(|_| HandshakeError::Malformed {
            step,
            detail: "the answer is not UTF-8 text".to_owned(),
        })
    }
}

/// Reads `oauth_token` and `oauth_token_secret` from an initiate or token answer
/// (`application/x-www-form-urlencoded` text), or the extension's `Error: ...`.
fn token_answer(step: Step, answer: &str) -> Result<TokenPair, HandshakeError> {
    let text = answer.trim();
    if let Some(message) = text.strip_prefix("Error: ") {
        return Err(HandshakeError::Refused {
            step,
            key: None,
            message: shorten(message),
        });
    }
    let key = single(step, text, "oauth_token")?;
    let secret = single(step, text, "oauth_token_secret")?;
    match (key, secret) {
        (Some(key), Some(secret)) if !key.is_empty() && !secret.is_empty() => Ok(TokenPair {
            key,
            secret: Secret::new(secret),
        }),
        _ => Err(HandshakeError::Malformed {
            step,
            detail: format!(
                "the answer has no oauth_token and oauth_token_secret ({} bytes)",
                answer.len()
            ),
        }),
    }
}

/// The one value of `name` in a form-encoded answer; a name given twice is malformed
/// (which one counts cannot be known).
fn single(step: Step, text: &str, name: &str) -> Result<Option<String>, HandshakeError> {
    let mut found = None;
    for (key, value) in url::form_urlencoded::parse(text.trim().as_bytes()) {
        if key == name {
            if found.is_some() {
                return Err(HandshakeError::Malformed {
                    step,
                    detail: format!("the answer has {name} twice"),
                });
            }
            found = Some(value.into_owned());
        }
    }
    Ok(found)
}

/// A fresh `oauth_nonce`: 32 random bytes, base64url.
pub fn new_nonce() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn shorten(message: &str) -> String {
    let flat: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match flat.char_indices().nth(MAX_MESSAGE) {
        Some((cut, _)) => format!("{}...", &flat[..cut]),
        None => flat,
    }
}

/// A transport error without the URL.
fn transport_detail(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    let mut text = err.to_string();
    if let Some(url) = err.url() {
        text = text.replace(url.as_str(), "<wiki URL>");
    }
    format!("{kind}: {text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_answers_are_read_exactly() {
        let pair = token_answer(
            Step::Token,
            "oauth_token=k1&oauth_token_secret=s1&oauth_callback_confirmed=true",
        )
        .unwrap();
        assert_eq!(pair.key, "k1");
        assert_eq!(pair.secret.expose(), "s1");
        assert!(!format!("{pair:?}").contains("s1"));
        for garbage in [
            "",
            "<html>hello</html>",
            "oauth_token=k1",
            "oauth_token=&oauth_token_secret=s",
            "oauth_token=a&oauth_token=b&oauth_token_secret=s",
        ] {
            assert!(
                matches!(
                    token_answer(Step::Token, garbage),
                    Err(HandshakeError::Malformed { .. })
                ),
                "{garbage}"
            );
        }
        assert_eq!(
            token_answer(Step::Initiate, "Error: Invalid consumer"),
            Err(HandshakeError::Refused {
                step: Step::Initiate,
                key: None,
                message: "Invalid consumer".to_owned()
            })
        );
    }

    #[test]
    fn long_refusals_are_shortened_and_flattened() {
        let long = "x\n".repeat(400);
        let short = shorten(&long);
        assert!(short.len() < 320 && !short.contains('\n'));
    }

    #[test]
    fn the_authorization_header_is_signed_with_the_time_given() {
        let wiki = Wiki::new(
            url::Url::parse("https://wiki.example/w/index.php").unwrap(),
            "ck".to_owned(),
            Secret::new("consumer-secret-value".to_owned()),
            reqwest::Client::new(),
            1,
        );
        let header = wiki
            .authorization(
                Step::Initiate,
                None,
                Some("oob"),
                None,
                "n0nce",
                1_700_000_000,
            )
            .unwrap();
        assert!(header.starts_with("OAuth "), "{header}");
        for part in [
            "oauth_consumer_key=\"ck\"",
            "oauth_nonce=\"n0nce\"",
            "oauth_timestamp=\"1700000000\"",
            "oauth_callback=\"oob\"",
            "oauth_signature_method=\"HMAC-SHA1\"",
            "oauth_version=\"1.0\"",
        ] {
            assert!(header.contains(part), "{part} in {header}");
        }
        assert!(
            !header.contains("consumer-secret-value"),
            "no secret in the header"
        );
        assert!(
            wiki.authorization(Step::Initiate, None, None, None, "n", 0)
                .is_err()
        );
    }

    #[test]
    fn the_authorize_url_is_upstreams() {
        let wiki = Wiki::new(
            url::Url::parse("https://wiki.example/w/index.php").unwrap(),
            "ck".to_owned(),
            Secret::new("consumer-secret-value".to_owned()),
            reqwest::Client::new(),
            1,
        );
        assert_eq!(
            wiki.authorize_url("rk"),
            "https://wiki.example/w/index.php?title=Special%3AOAuth%2Fauthenticate&oauth_token=rk&oauth_consumer_key=ck"
        );
    }
}
