//! Back-channel logout as the provider (OpenID Connect Back-Channel Logout 1.0 §2.4):
//! the logout token a client registered with a `backchannel_logout_uri` receives when
//! the user's hub session ends, and the `sid` that ties it to the ID tokens of that
//! session.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::error::ProviderError;
use crate::keys::{IdTokenAlg, SigningKeys};

/// The member of `events` that makes a JWT a logout token.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The `typ` header of logout tokens (§2.4, explicit typing).
pub const LOGOUT_TOKEN_TYPE: &str = "logout+jwt";

/// How long a logout token is valid, in seconds (it is sent at once; retries send a new
/// one).
pub const LOGOUT_TOKEN_TTL: i64 = 120;

/// The `sid` of a hub session, as its ID tokens and logout tokens carry it: a digest of
/// the session's stored hash, so that it says nothing usable about the session's cookie
/// and is the same on every replica.
pub fn session_sid(session: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"hubauth sid\0")
        .chain_update(session.as_bytes())
        .finalize();
    URL_SAFE_NO_PAD.encode(digest.get(..18).unwrap_or_default())
}

/// What a logout token says.
#[derive(Debug, Clone, Copy)]
pub struct LogoutTokenParams<'a> {
    /// The issuer (`iss`): the same as in the client's ID tokens.
    pub issuer: &'a str,
    /// The client (`aud`).
    pub client_id: &'a str,
    /// The user (`sub`, as in ID tokens).
    pub subject: &'a str,
    /// The session (`sid`, see [`session_sid`]); `None` for "every session of the user".
    pub sid: Option<&'a str>,
    /// A unique id (`jti`).
    pub jti: &'a str,
    /// Now (`iat`; `exp` is [`LOGOUT_TOKEN_TTL`] later).
    pub now: i64,
}

/// The claims of a logout token (§2.4): `iss`, `aud`, `iat`, `exp`, `jti`, `sub`, `sid`
/// when known, and `events`; never a `nonce`.
pub fn logout_token_claims(params: &LogoutTokenParams<'_>) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(params.issuer));
    claims.insert("aud".into(), json!(params.client_id));
    claims.insert("iat".into(), json!(params.now));
    claims.insert(
        "exp".into(),
        json!(params.now.saturating_add(LOGOUT_TOKEN_TTL)),
    );
    claims.insert("jti".into(), json!(params.jti));
    claims.insert("sub".into(), json!(params.subject));
    if let Some(sid) = params.sid {
        claims.insert("sid".into(), json!(sid));
    }
    claims.insert("events".into(), json!({ BACKCHANNEL_LOGOUT_EVENT: {} }));
    claims
}

/// A signed logout token (typ `logout+jwt`), with the key of the client's ID token
/// algorithm.
pub fn logout_token(
    keys: &SigningKeys,
    alg: IdTokenAlg,
    params: &LogoutTokenParams<'_>,
) -> Result<String, ProviderError> {
    Ok(keys.sign_typed(
        alg,
        LOGOUT_TOKEN_TYPE,
        &Value::Object(logout_token_claims(params)),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logout_tokens_carry_the_event_and_are_never_taken_for_id_tokens() {
        let keys = SigningKeys::generate().unwrap();
        let sid = session_sid("abc");
        assert_eq!(sid, session_sid("abc"));
        assert_ne!(sid, session_sid("abd"));
        assert!(!sid.contains("abc"));
        let params = LogoutTokenParams {
            issuer: "https://hub",
            client_id: "app",
            subject: "ada",
            sid: Some(&sid),
            jti: "j1",
            now: 100,
        };
        let token = logout_token(&keys, IdTokenAlg::Es256, &params).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
        let claims = logout_token_claims(&params);
        assert_eq!(claims["exp"], 100 + LOGOUT_TOKEN_TTL);
        assert_eq!(claims["events"], json!({BACKCHANNEL_LOGOUT_EVENT: {}}));
        assert!(!claims.contains_key("nonce"));
        // An id_token_hint must be an ID token: a logout token is refused.
        assert!(keys.verify_own(&token, "https://hub").is_none());
    }
}
