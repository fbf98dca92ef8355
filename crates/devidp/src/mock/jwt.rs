//! RS256 (and RS512) signing for personalities that sign with RSA (as Azure AD and Globus
//! do), and unsigned
//! JWTs for those whose tokens are unsigned on some channel.

use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hubauth_provider::RsaKey;
use serde_json::{Value, json};

use crate::error::DevIdpError;

/// An RSA signing key, an attacker's key that claims the same `kid`, and a second
/// legitimate key with its own `kid` (an application's own signing key, a rotation).
///
/// RSA key generation takes seconds in a debug build, so one pair is made per process
/// ([`RsaSigner::shared`]) and shared by every mock in it.
#[derive(Debug)]
pub struct RsaSigner {
    key: RsaKey,
    forger: RsaKey,
    second: RsaKey,
}

static SHARED: OnceLock<Result<Arc<RsaSigner>, String>> = OnceLock::new();

impl RsaSigner {
    /// The process's signer, made on first use (off the async runtime's threads).
    ///
    /// # Errors
    /// [`DevIdpError::Keys`] when a key could not be generated.
    pub async fn shared() -> Result<Arc<RsaSigner>, DevIdpError> {
        let made = tokio::task::spawn_blocking(|| SHARED.get_or_init(Self::generate).clone())
            .await
            .map_err(|err| DevIdpError::Keys(err.to_string()))?;
        made.map_err(DevIdpError::Keys)
    }

    fn generate() -> Result<Arc<RsaSigner>, String> {
        let key = RsaKey::generate().map_err(|err| err.to_string())?;
        let forger = RsaKey::generate()
            .map_err(|err| err.to_string())?
            .with_kid(key.kid());
        let second = RsaKey::generate().map_err(|err| err.to_string())?;
        Ok(Arc::new(RsaSigner {
            key,
            forger,
            second,
        }))
    }

    /// The key id in token headers and the JWKS.
    pub fn kid(&self) -> &str {
        self.key.kid()
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> &Value {
        self.key.public_jwk()
    }

    /// `claims` signed with RS256.
    ///
    /// # Errors
    /// [`DevIdpError::Keys`] when signing fails.
    pub fn sign(&self, claims: &Value) -> Result<String, DevIdpError> {
        self.key
            .sign_jwt(claims)
            .map_err(|err| DevIdpError::Keys(err.to_string()))
    }

    /// The public key as a JWK for RS512 tokens (`alg` = `RS512`).
    pub fn jwk_rs512(&self) -> Value {
        let mut jwk = self.key.public_jwk().clone();
        if let Some(members) = jwk.as_object_mut() {
            members.insert("alg".into(), json!("RS512"));
        }
        jwk
    }

    /// `claims` signed with RS512 (for personalities whose provider signs so).
    ///
    /// # Errors
    /// [`DevIdpError::Keys`] when signing fails.
    pub fn sign_rs512(&self, claims: &Value) -> Result<String, DevIdpError> {
        self.key
            .sign_jwt_rs512(claims)
            .map_err(|err| DevIdpError::Keys(err.to_string()))
    }

    /// `claims` signed RS512 by the attacker's key under the real key's `kid`.
    ///
    /// # Errors
    /// [`DevIdpError::Keys`] when signing fails.
    pub fn forge_rs512(&self, claims: &Value) -> Result<String, DevIdpError> {
        self.forger
            .sign_jwt_rs512(claims)
            .map_err(|err| DevIdpError::Keys(err.to_string()))
    }

    /// The second key's id and public JWK.
    pub fn second_jwk(&self) -> &Value {
        self.second.public_jwk()
    }

    /// `claims` signed with RS256 by the second key (its own `kid`).
    ///
    /// # Errors
    /// [`DevIdpError::Keys`] when signing fails.
    pub fn sign_with_second(&self, claims: &Value) -> Result<String, DevIdpError> {
        self.second
            .sign_jwt(claims)
            .map_err(|err| DevIdpError::Keys(err.to_string()))
    }

    /// `claims` signed by the attacker's key under the real key's `kid`: a token whose
    /// signature does not verify.
    ///
    /// # Errors
    /// [`DevIdpError::Keys`] when signing fails.
    pub fn forge(&self, claims: &Value) -> Result<String, DevIdpError> {
        self.forger
            .sign_jwt(claims)
            .map_err(|err| DevIdpError::Keys(err.to_string()))
    }
}

/// `claims` as an unsigned JWT: header `{"typ":"JWT","alg":"none"}` and an empty
/// signature (RFC 7519 6.1).
pub fn unsigned_jwt(claims: &Value) -> String {
    let header = json!({"typ": "JWT", "alg": "none"}).to_string();
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.as_bytes()),
        URL_SAFE_NO_PAD.encode(claims.to_string().as_bytes())
    )
}
