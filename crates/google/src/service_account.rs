//! The service account's access token for the Directory API: a JWT assertion signed with
//! the account's key, naming the Workspace administrator to act as (`sub`, domain-wide
//! delegation), exchanged at the key's `token_uri` with the JWT bearer grant (RFC 7523),
//! as Google's "Using OAuth 2.0 for Server to Server Applications" describes
//! (<https://developers.google.com/identity/protocols/oauth2/service-account>).

use std::collections::HashMap;
use std::fmt;

use hubauth_core::Secret;
use hubauth_oauth::http::send;
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use rsa::pkcs8::DecodePrivateKey as _;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::error::ServiceAccountError;

/// The grant type of a JWT assertion (RFC 7523 section 2.1).
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// How long an assertion is valid: Google accepts at most an hour.
pub const ASSERTION_LIFETIME: i64 = 3600;
/// A delegated token is fetched again this long before Google says it expires.
const EXPIRY_MARGIN: i64 = 300;
const TOKEN_STEP: &str = "service account token request";

/// A service account key file, as Google Cloud's console downloads it (JSON with `type`
/// `service_account`, `client_email`, `private_key`, `private_key_id`, `token_uri`).
pub struct ServiceAccountKey {
    client_email: String,
    private_key_id: Option<String>,
    token_uri: String,
    key: jsonwebtoken::EncodingKey,
}

impl fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri)
            .finish_non_exhaustive()
    }
}

impl ServiceAccountKey {
    /// Reads a key file. `path` is only named in errors; its contents never are.
    ///
    /// # Errors
    /// [`ServiceAccountError::Unreadable`] or [`ServiceAccountError::Malformed`].
    pub async fn read(path: &str) -> Result<Self, ServiceAccountError> {
        let text = tokio::fs::read_to_string(path).await.map_err(|err| {
            ServiceAccountError::Unreadable {
                path: path.to_owned(),
                detail: err.kind().to_string(),
            }
        })?;
        Self::parse(&text).map_err(|detail| ServiceAccountError::Malformed {
            path: path.to_owned(),
            detail,
        })
    }

    /// Parses a key file's JSON. The error says what is missing or wrong, never a value.
    ///
    /// # Errors
    /// What is wrong with the key, in words.
    pub fn parse(text: &str) -> Result<Self, String> {
        let json: Value =
            serde_json::from_str(text).map_err(|_| "the file is not JSON".to_owned())?;
        let field = |name: &str| -> Result<String, String> {
            json.get(name)
                .and_then(Value::as_str)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| format!("it has no {name}"))
        };
        if field("type")? != "service_account" {
            return Err("its type is not service_account".to_owned());
        }
        let client_email = field("client_email")?;
        let token_uri = field("token_uri")?;
        let pem = field("private_key")?;
        let private = rsa::RsaPrivateKey::from_pkcs8_pem(&pem)
            .map_err(|_| "its private_key is not an RSA key in PKCS#8 PEM".to_owned())?;
        // jsonwebtoken signs with a PKCS#1 DER key.
        let der = private
            .to_pkcs1_der()
            .map_err(|_| "its private_key cannot be used".to_owned())?;
        let parsed =
            url::Url::parse(&token_uri).map_err(|_| "its token_uri is not a URL".to_owned())?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err("its token_uri is not an http(s) URL".to_owned());
        }
        Ok(ServiceAccountKey {
            client_email,
            private_key_id: json
                .get("private_key_id")
                .and_then(Value::as_str)
                .filter(|id| !id.is_empty())
                .map(str::to_owned),
            token_uri,
            key: jsonwebtoken::EncodingKey::from_rsa_der(der.as_bytes()),
        })
    }

    /// The service account's address (`client_email`).
    pub fn client_email(&self) -> &str {
        &self.client_email
    }

    /// Where the assertion is exchanged (`token_uri`).
    pub fn token_uri(&self) -> &str {
        &self.token_uri
    }

    /// The signed assertion asking for `scope` on behalf of `subject` (the administrator),
    /// valid from `now` for [`ASSERTION_LIFETIME`] seconds: header `RS256` with the key's
    /// id, claims `iss`, `scope`, `aud` (the token URI), `iat`, `exp` and `sub`.
    ///
    /// # Errors
    /// [`ServiceAccountError::Sign`].
    pub fn assertion(
        &self,
        subject: &str,
        scope: &str,
        now: i64,
    ) -> Result<String, ServiceAccountError> {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = self.private_key_id.clone();
        let claims = json!({
            "iss": self.client_email,
            "scope": scope,
            "aud": self.token_uri,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
            "sub": subject,
        });
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|err| ServiceAccountError::Sign(err.to_string()))
    }

    /// Whether the assertion may be sent to `token_uri`: over https, or plain http to this
    /// machine only (a signed assertion is as good as a token for an hour).
    fn check_token_uri(&self) -> Result<(), ServiceAccountError> {
        let insecure = || ServiceAccountError::InsecureTokenUri {
            token_uri: self.token_uri.clone(),
        };
        let url = url::Url::parse(&self.token_uri).map_err(|_| insecure())?;
        match url.scheme() {
            "https" => Ok(()),
            "http" => {
                let loopback = match url.host() {
                    Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                    Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                    Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
                    None => false,
                };
                if loopback { Ok(()) } else { Err(insecure()) }
            }
            _ => Err(insecure()),
        }
    }
}

/// An access token obtained for a domain's administrator.
#[derive(Debug, Clone)]
pub struct DelegatedToken {
    /// The access token.
    pub access_token: Secret,
    /// When to stop using it (Unix seconds).
    pub use_until: i64,
}

/// Exchanges a fresh assertion for an access token.
///
/// # Errors
/// A [`ServiceAccountError`] naming what failed.
pub async fn request_token(
    client: &reqwest::Client,
    key: &ServiceAccountKey,
    subject: &str,
    scope: &str,
    now: i64,
) -> Result<DelegatedToken, ServiceAccountError> {
    key.check_token_uri()?;
    let assertion = key.assertion(subject, scope, now)?;
    let request = client
        .post(&key.token_uri)
        .header("accept", "application/json")
        .form(&[("grant_type", JWT_BEARER_GRANT), ("assertion", &assertion)]);
    let response = send(TOKEN_STEP, request)
        .await
        .map_err(|err| ServiceAccountError::Unreachable(err.to_string()))?;
    let Some(json) = response.json else {
        return Err(ServiceAccountError::BadAnswer(format!(
            "HTTP {}, and the answer is not JSON",
            response.status
        )));
    };
    if !(200..300).contains(&response.status) || json.get("error").is_some() {
        let text = |name: &str| {
            json.get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        return Err(ServiceAccountError::Refused {
            status: response.status,
            error: text("error"),
            description: text("error_description"),
        });
    }
    let access_token = json
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| ServiceAccountError::BadAnswer("no access_token".to_owned()))?;
    // Without a lifetime the token is used for this lookup only.
    let lifetime = json
        .get("expires_in")
        .and_then(Value::as_i64)
        .unwrap_or(0)
        .clamp(0, ASSERTION_LIFETIME);
    Ok(DelegatedToken {
        access_token: Secret::new(access_token),
        use_until: now + lifetime - EXPIRY_MARGIN,
    })
}

/// Delegated access tokens by domain, reused until shortly before they expire. One lock:
/// concurrent logins of a domain wait for one token request instead of each signing its
/// own.
#[derive(Debug, Default)]
pub struct TokenCache {
    tokens: Mutex<HashMap<String, DelegatedToken>>,
}

impl TokenCache {
    /// The token for `domain`: the cached one while it is good at `now`, else a new one
    /// from the key file `key_file`, acting as `subject`.
    ///
    /// # Errors
    /// A [`ServiceAccountError`].
    pub async fn token(
        &self,
        client: &reqwest::Client,
        domain: &str,
        key_file: &str,
        subject: &str,
        now: i64,
    ) -> Result<Secret, ServiceAccountError> {
        let mut tokens = self.tokens.lock().await;
        if let Some(cached) = tokens.get(domain)
            && now < cached.use_until
        {
            return Ok(cached.access_token.clone());
        }
        tokens.remove(domain);
        // Read for every new token: a rotated key file is picked up within the hour.
        let key = ServiceAccountKey::read(key_file).await?;
        let token = request_token(
            client,
            &key,
            subject,
            crate::options::DIRECTORY_GROUP_SCOPE,
            now,
        )
        .await?;
        tracing::debug!(domain, service_account = %key.client_email(), administrator = subject, "obtained a delegated token for the Directory API");
        let access = token.access_token.clone();
        tokens.insert(domain.to_owned(), token);
        Ok(access)
    }

    /// Forgets `domain`'s token (the Directory API refused it).
    pub async fn forget(&self, domain: &str) {
        self.tokens.lock().await.remove(domain);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_must_be_service_account_keys() {
        assert!(ServiceAccountKey::parse("not json").is_err());
        let err = ServiceAccountKey::parse(r#"{"type": "authorized_user"}"#).unwrap_err();
        assert!(err.contains("service_account"), "{err}");
        let err = ServiceAccountKey::parse(
            r#"{"type": "service_account", "client_email": "a@b", "token_uri": "https://oauth2.googleapis.com/token", "private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}"#,
        )
        .unwrap_err();
        assert!(err.contains("private_key"), "{err}");
        assert!(!err.contains("AAAA"), "never the key itself");
    }
}
