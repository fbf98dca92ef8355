//! What an ID token and the userinfo endpoint say about the user (OpenID Connect Core 1.0
//! §2, §3.1.3.6, §5.3).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::error::ProviderError;
use crate::keys::{IdTokenAlg, SigningKeys};
use crate::store::Subject;

/// How long an ID token is valid, in seconds.
pub const ID_TOKEN_TTL: i64 = 3600;

/// `at_hash`: the left half of SHA-256 of the access token, base64url without padding
/// (OIDC Core 3.1.3.6). RS256 and ES256 both hash with SHA-256, so the value is the same
/// whichever of them signs the ID token.
pub fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.get(..16).unwrap_or_default())
}

/// The identity claims of a user, shared by the ID token and the userinfo endpoint:
/// `sub`, `name` and `preferred_username` (the user name), `groups` and `admin`.
pub fn user_claims(user: &Subject) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(user.name));
    claims.insert("name".into(), json!(user.name));
    claims.insert("preferred_username".into(), json!(user.name));
    claims.insert("groups".into(), json!(user.groups));
    claims.insert("admin".into(), json!(user.admin));
    claims
}

/// What goes into an ID token besides the user's claims.
#[derive(Debug, Clone, Copy)]
pub struct IdTokenParams<'a> {
    /// The issuer (`iss`).
    pub issuer: &'a str,
    /// The client (`aud` and `azp`).
    pub client_id: &'a str,
    /// The algorithm the client wants its ID tokens signed with.
    pub alg: IdTokenAlg,
    /// The nonce of the authorization request.
    pub nonce: Option<&'a str>,
    /// When the user last authenticated at the hub (`auth_time`).
    pub auth_time: i64,
    /// The access token issued with it (for `at_hash`).
    pub access_token: &'a str,
    /// Now (`iat`; `exp` is [`ID_TOKEN_TTL`] later).
    pub now: i64,
    /// The hub session's `sid` (see [`crate::session_sid`]), so that a back-channel
    /// logout token can name the session.
    pub sid: Option<&'a str>,
}

/// The claims of an ID token for `user` (OIDC Core 2): the user's claims plus `iss`,
/// `aud`, `azp`, `iat`, `exp`, `auth_time`, `at_hash` and, when the request had one,
/// `nonce`.
pub fn id_token_claims(user: &Subject, params: &IdTokenParams<'_>) -> Map<String, Value> {
    let mut claims = user_claims(user);
    claims.insert("iss".into(), json!(params.issuer));
    claims.insert("aud".into(), json!(params.client_id));
    claims.insert("azp".into(), json!(params.client_id));
    claims.insert("iat".into(), json!(params.now));
    claims.insert("exp".into(), json!(params.now.saturating_add(ID_TOKEN_TTL)));
    claims.insert("auth_time".into(), json!(params.auth_time));
    claims.insert("at_hash".into(), json!(at_hash(params.access_token)));
    if let Some(nonce) = params.nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    if let Some(sid) = params.sid {
        claims.insert("sid".into(), json!(sid));
    }
    claims
}

/// A signed ID token for `user`, with the key for the client's algorithm.
pub fn id_token(
    keys: &SigningKeys,
    user: &Subject,
    params: &IdTokenParams<'_>,
) -> Result<String, ProviderError> {
    Ok(keys.sign(params.alg, &Value::Object(id_token_claims(user, params)))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_is_the_left_half_of_sha256() {
        // Computed independently (Python: urlsafe_b64encode(sha256(token)[:16])).
        assert_eq!(
            at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNmBTX4ycUCbgAyXz5uY"),
            "ioAaYJpiGlz74HxZwHx46Q"
        );
        assert_eq!(
            at_hash("dNZX1hEZ9wBCzNL40Upu646bdzQA"),
            "wfgvmE9VxjAudsl9lc6TqA"
        );
    }

    #[test]
    fn id_token_claims_carry_the_user_and_the_request() {
        let user = Subject {
            name: "ada".into(),
            groups: vec!["staff".into()],
            admin: true,
        };
        let params = IdTokenParams {
            issuer: "https://hub",
            client_id: "app",
            alg: IdTokenAlg::Es256,
            nonce: Some("n-0S6"),
            auth_time: 100,
            access_token: "at",
            now: 200,
            sid: Some("s-1"),
        };
        let claims = id_token_claims(&user, &params);
        assert_eq!(claims["sub"], "ada");
        assert_eq!(claims["groups"], json!(["staff"]));
        assert_eq!(claims["aud"], "app");
        assert_eq!(claims["azp"], "app");
        assert_eq!(claims["exp"], 200 + ID_TOKEN_TTL);
        assert_eq!(claims["auth_time"], 100);
        assert_eq!(claims["nonce"], "n-0S6");
        assert_eq!(claims["sid"], "s-1");
        assert_eq!(claims["at_hash"], json!(at_hash("at")));
        let without_nonce = id_token_claims(
            &user,
            &IdTokenParams {
                nonce: None,
                ..params
            },
        );
        assert!(!without_nonce.contains_key("nonce"));
        let keys = SigningKeys::generate().unwrap();
        let token = id_token(&keys, &user, &params).unwrap();
        assert_eq!(keys.verify_own(&token, "https://hub").unwrap(), claims);
    }
}
