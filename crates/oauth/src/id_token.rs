//! ID token verification (OpenID Connect Core 1.0, section 3.1.3.7), against the
//! provider's published keys. Upstream skips this; hubauth does not (F2, F14).

use std::sync::Arc;

use base64::Engine as _;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use tokio::sync::Mutex;

use crate::http::send;

/// Clock skew tolerated on `exp`, `iat` and `nbf`.
pub const LEEWAY_SECONDS: i64 = 60;

/// Algorithms accepted for ID tokens: asymmetric only, so a public key can never be used
/// as an HMAC secret, and never `none`.
pub const ALLOWED_ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Why an ID token was refused. Each is its own case so that tests and logs can tell them
/// apart; none of them carries the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdTokenError {
    /// Not three base64url parts with a JSON header and payload.
    #[error("the ID token is malformed: {0}")]
    Malformed(String),
    /// `alg: none`: an unsigned token.
    #[error("the ID token is not signed (alg none)")]
    Unsigned,
    /// An algorithm outside the allow-list (HMAC with a public key, ...).
    #[error("the ID token's algorithm {0} is not accepted")]
    AlgorithmNotAllowed(String),
    /// No published key matches the token's key id.
    #[error("no signing key of the identity provider matches the ID token (kid {0:?})")]
    UnknownKey(Option<String>),
    /// The signing keys could not be fetched.
    #[error("the identity provider's signing keys could not be fetched: {0}")]
    KeysUnavailable(String),
    /// The signature does not verify.
    #[error("the ID token's signature is invalid")]
    BadSignature,
    /// `iss` is not the expected issuer.
    #[error("the ID token was issued by {found:?}, not {expected:?}")]
    WrongIssuer {
        /// Expected issuer.
        expected: String,
        /// Found issuer.
        found: String,
    },
    /// `aud` does not contain this client.
    #[error("the ID token is not meant for this client")]
    WrongAudience,
    /// `aud` names, besides this client, an audience that is not in `trusted_audiences`
    /// (OIDC Core 3.1.3.7 item 3): another party could use the same token.
    #[error(
        "the ID token is also meant for {0:?}, which is not a trusted audience (trusted_audiences)"
    )]
    UntrustedAudience(String),
    /// Several audiences and no `azp` saying which of them the token was issued to
    /// (OIDC Core 3.1.3.7 item 4).
    #[error("the ID token has several audiences but no azp (authorized party) claim")]
    MissingAuthorizedParty,
    /// `azp` names another client (OIDC Core 3.1.3.7 item 5).
    #[error("the ID token was issued to another client (azp {0:?})")]
    WrongAuthorizedParty(String),
    /// `at_hash` does not match the access token it came with (OIDC Core 3.1.3.8): the
    /// access token was swapped.
    #[error("the ID token's at_hash does not match the access token it came with")]
    AccessTokenHashMismatch,
    /// `exp` is in the past.
    #[error("the ID token has expired")]
    Expired,
    /// `iat` or `nbf` is in the future.
    #[error("the ID token is not valid yet")]
    NotYetValid,
    /// `nonce` does not match the one sent with this login.
    #[error("the ID token's nonce does not match this login")]
    NonceMismatch,
    /// A required claim is missing.
    #[error("the ID token has no {0} claim")]
    MissingClaim(&'static str),
}

/// What an ID token must say to be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectations<'a> {
    /// The issuer (`iss`); `None` when only a JWKS URL is configured (then `iss` must
    /// merely be present).
    pub issuer: Option<&'a str>,
    /// This client's id (`aud`).
    pub client_id: &'a str,
    /// Audiences besides this client that an ID token may also name
    /// (`trusted_audiences`).
    pub trusted_audiences: &'a [String],
    /// The access token that came with the ID token, for `at_hash`; `None` skips that
    /// check (only for tokens that arrived without one).
    pub access_token: Option<&'a str>,
    /// The nonce sent with the login; `None` for refreshed tokens.
    pub nonce: Option<&'a str>,
    /// The current time.
    pub now: i64,
}

/// The provider's signing keys, fetched on first use and again when a token names a key
/// id that is not known yet (key rotation), at most every few seconds.
#[derive(Debug)]
pub struct KeySet {
    url: String,
    client: reqwest::Client,
    /// The keys and when they were fetched (the caller's clock, in Unix seconds).
    cache: Mutex<Option<(Arc<JwkSet>, i64)>>,
}

/// Seconds between two fetches at least, however many unknown key ids arrive.
const MIN_REFETCH: i64 = 5;
/// Seconds after which cached keys are fetched again even when they hold the key id.
const MAX_AGE: i64 = 3600;

impl KeySet {
    /// Keys published at `url`.
    pub fn new(url: String, client: reqwest::Client) -> Self {
        KeySet {
            url,
            client,
            cache: Mutex::new(None),
        }
    }

    async fn fetch(&self) -> Result<Arc<JwkSet>, IdTokenError> {
        let response = send(
            "fetching signing keys",
            self.client
                .get(&self.url)
                .header("accept", "application/json"),
        )
        .await
        .map_err(|err| IdTokenError::KeysUnavailable(err.to_string()))?;
        if response.status != 200 {
            return Err(IdTokenError::KeysUnavailable(format!(
                "HTTP {}",
                response.status
            )));
        }
        let json = response
            .json
            .ok_or_else(|| IdTokenError::KeysUnavailable("the answer is not JSON".to_owned()))?;
        let set = key_set_from_json(json)?;
        Ok(Arc::new(set))
    }

    /// The keys, refetched when `wanted_kid` is not among the cached ones (at most every
    /// [`MIN_REFETCH`] seconds) or when they are older than [`MAX_AGE`]. `now` is the
    /// caller's clock, so tests decide when keys age. A clock that went back counts as
    /// "just fetched": the keys stay until the clock passes the fetch time again.
    pub(crate) async fn keys(
        &self,
        wanted_kid: Option<&str>,
        now: i64,
    ) -> Result<Arc<JwkSet>, IdTokenError> {
        let mut cache = self.cache.lock().await;
        if let Some((set, fetched)) = cache.as_ref() {
            let age = now.saturating_sub(*fetched);
            let has_kid = wanted_kid.is_none_or(|kid| set.find(kid).is_some());
            if (has_kid && age < MAX_AGE) || age < MIN_REFETCH {
                return Ok(set.clone());
            }
        }
        let set = self.fetch().await?;
        *cache = Some((set.clone(), now));
        Ok(set)
    }

    /// Verifies an ID token and returns its claims.
    pub async fn verify(
        &self,
        token: &str,
        expect: &Expectations<'_>,
    ) -> Result<Value, IdTokenError> {
        let (alg, kid) = read_header(token)?;
        let keys = self.keys(kid.as_deref(), expect.now).await?;
        let jwk = pick_key(&keys, kid.as_deref(), alg)?;
        verify_with_key(token, jwk, alg, expect)
    }
}

/// Parses a JWKS document, skipping keys of kinds this build cannot use (a provider may
/// publish encryption keys beside signing keys).
pub fn key_set_from_json(json: Value) -> Result<JwkSet, IdTokenError> {
    let keys = json
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| IdTokenError::KeysUnavailable("no keys array".to_owned()))?;
    let keys = keys
        .iter()
        .filter_map(|key| serde_json::from_value::<Jwk>(key.clone()).ok())
        .collect();
    Ok(JwkSet { keys })
}

/// Reads `alg` and `kid` from the header, refusing `none` and symmetric algorithms.
pub fn read_header(token: &str) -> Result<(Algorithm, Option<String>), IdTokenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(IdTokenError::Malformed(
            "not three dot-separated parts".to_owned(),
        ));
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .map_err(|_| IdTokenError::Malformed("the header is not base64url".to_owned()))?;
    let header: Value = serde_json::from_slice(&bytes)
        .map_err(|_| IdTokenError::Malformed("the header is not JSON".to_owned()))?;
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    if alg.eq_ignore_ascii_case("none") || alg.is_empty() {
        return Err(IdTokenError::Unsigned);
    }
    let algorithm: Algorithm = alg
        .parse()
        .map_err(|_| IdTokenError::AlgorithmNotAllowed(alg.to_owned()))?;
    if !ALLOWED_ALGORITHMS.contains(&algorithm) {
        return Err(IdTokenError::AlgorithmNotAllowed(alg.to_owned()));
    }
    let kid = header.get("kid").and_then(Value::as_str).map(str::to_owned);
    Ok((algorithm, kid))
}

pub(crate) fn pick_key<'a>(
    keys: &'a JwkSet,
    kid: Option<&str>,
    alg: Algorithm,
) -> Result<&'a Jwk, IdTokenError> {
    let usable = |jwk: &&Jwk| {
        let alg_ok = jwk
            .common
            .key_algorithm
            .is_none_or(|key_alg| format!("{key_alg:?}") == format!("{alg:?}"));
        let use_ok =
            jwk.common.public_key_use.as_ref().is_none_or(|key_use| {
                matches!(key_use, jsonwebtoken::jwk::PublicKeyUse::Signature)
            });
        alg_ok && use_ok
    };
    match kid {
        Some(kid) => keys
            .keys
            .iter()
            .filter(usable)
            .find(|jwk| jwk.common.key_id.as_deref() == Some(kid))
            .ok_or_else(|| IdTokenError::UnknownKey(Some(kid.to_owned()))),
        None => {
            let mut candidates = keys.keys.iter().filter(usable);
            match (candidates.next(), candidates.next()) {
                (Some(only), None) => Ok(only),
                _ => Err(IdTokenError::UnknownKey(None)),
            }
        }
    }
}

/// Whether a JWT's header says `alg: none` (an unsigned token).
pub fn is_unsigned(token: &str) -> bool {
    matches!(read_header(token), Err(IdTokenError::Unsigned))
}

/// The claims of an unsigned ID token (`alg: none`, empty signature), checked against
/// `expect` like a signed one (issuer, audience, expiry, nonce, and `at_hash` with
/// SHA-256 when present).
///
/// An unsigned token proves nothing by itself. OpenID Connect Core 3.1.3.7 item 6 lets
/// a client use "the TLS server validation" in place of the signature only for an ID
/// token it received directly from the token endpoint; the caller must have checked
/// that this one did, over https with the server's certificate validated.
pub fn unsigned_claims(token: &str, expect: &Expectations<'_>) -> Result<Value, IdTokenError> {
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(IdTokenError::Malformed(
            "not three dot-separated parts".to_owned(),
        ));
    };
    if !is_unsigned(token) || !signature.is_empty() {
        return Err(IdTokenError::Malformed(
            "not an unsigned token (alg none with an empty signature)".to_owned(),
        ));
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| IdTokenError::Malformed("the payload is not base64url".to_owned()))?;
    let claims: Value = serde_json::from_slice(&bytes)
        .map_err(|_| IdTokenError::Malformed("the payload is not JSON".to_owned()))?;
    if !claims.is_object() {
        return Err(IdTokenError::Malformed(
            "the payload is not a JSON object".to_owned(),
        ));
    }
    check_claims(&claims, expect)?;
    if let Some(access_token) = expect.access_token {
        check_at_hash(&claims, Algorithm::RS256, access_token)?;
    }
    Ok(claims)
}

/// Verifies a token with one key and checks its claims against `expect`.
pub fn verify_with_key(
    token: &str,
    jwk: &Jwk,
    alg: Algorithm,
    expect: &Expectations<'_>,
) -> Result<Value, IdTokenError> {
    let key = DecodingKey::from_jwk(jwk)
        .map_err(|_| IdTokenError::UnknownKey(jwk.common.key_id.clone()))?;
    // Signature only: every claim is checked below, against the time passed in.
    let mut validation = Validation::new(alg);
    validation.algorithms = vec![alg];
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    crate::jose::install();
    let data = jsonwebtoken::decode::<Value>(token, &key, &validation).map_err(|err| match err
        .kind()
    {
        jsonwebtoken::errors::ErrorKind::InvalidSignature => IdTokenError::BadSignature,
        jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => IdTokenError::BadSignature,
        other => IdTokenError::Malformed(format!("{other:?}")),
    })?;
    let claims = data.claims;
    check_claims(&claims, expect)?;
    if let Some(access_token) = expect.access_token {
        check_at_hash(&claims, alg, access_token)?;
    }
    Ok(claims)
}

/// `at_hash` (OIDC Core 3.1.3.6, 3.2.2.9): when the ID token has one, it must be the
/// base64url of the left half of the access token's hash, with the hash of the ID token's
/// own algorithm (SHA-256 for `*256`, SHA-384 for `*384`, SHA-512 for `*512` and for
/// EdDSA with Ed25519).
pub fn check_at_hash(
    claims: &Value,
    alg: Algorithm,
    access_token: &str,
) -> Result<(), IdTokenError> {
    let Some(found) = claims.get("at_hash") else {
        return Ok(());
    };
    let found = found
        .as_str()
        .ok_or_else(|| IdTokenError::Malformed("at_hash is not a string".to_owned()))?;
    if found != access_token_hash(alg, access_token) {
        return Err(IdTokenError::AccessTokenHashMismatch);
    }
    Ok(())
}

/// The `at_hash` value of an access token for an ID token signed with `alg`.
pub fn access_token_hash(alg: Algorithm, access_token: &str) -> String {
    use sha2::Digest as _;
    let bytes = access_token.as_bytes();
    let digest: Vec<u8> = match alg {
        Algorithm::RS384 | Algorithm::PS384 | Algorithm::ES384 | Algorithm::HS384 => {
            sha2::Sha384::digest(bytes).to_vec()
        }
        Algorithm::RS512 | Algorithm::PS512 | Algorithm::HS512 | Algorithm::EdDSA => {
            sha2::Sha512::digest(bytes).to_vec()
        }
        _ => sha2::Sha256::digest(bytes).to_vec(),
    };
    let half = digest.get(..digest.len() / 2).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(half)
}

/// The claim checks of OIDC Core 3.1.3.7 (items 2-5, 9-11). `iss` is compared as an
/// exact string: `https://idp.example/` and `https://idp.example` are different issuers.
pub fn check_claims(claims: &Value, expect: &Expectations<'_>) -> Result<(), IdTokenError> {
    let iss = claims
        .get("iss")
        .and_then(Value::as_str)
        .ok_or(IdTokenError::MissingClaim("iss"))?;
    if let Some(expected) = expect.issuer
        && iss != expected
    {
        return Err(IdTokenError::WrongIssuer {
            expected: expected.to_owned(),
            found: iss.to_owned(),
        });
    }
    match claims.get("sub") {
        Some(Value::String(sub)) if !sub.is_empty() => {}
        _ => return Err(IdTokenError::MissingClaim("sub")),
    }
    check_audience(claims, expect.client_id, expect.trusted_audiences)?;
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or(IdTokenError::MissingClaim("exp"))?;
    if exp + LEEWAY_SECONDS <= expect.now {
        return Err(IdTokenError::Expired);
    }
    for claim in ["iat", "nbf"] {
        if let Some(at) = claims.get(claim).and_then(Value::as_i64)
            && at - LEEWAY_SECONDS > expect.now
        {
            return Err(IdTokenError::NotYetValid);
        }
    }
    if let Some(nonce) = expect.nonce {
        match claims.get("nonce").and_then(Value::as_str) {
            Some(found) if found == nonce => {}
            _ => return Err(IdTokenError::NonceMismatch),
        }
    }
    Ok(())
}

/// `aud` must name this client, and any other audience must be trusted; with several
/// audiences `azp` must be present; when present, `azp` must be this client.
pub fn check_audience(
    claims: &Value,
    client_id: &str,
    trusted: &[String],
) -> Result<(), IdTokenError> {
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(aud)) => vec![aud.as_str()],
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|item| {
                item.as_str()
                    .ok_or_else(|| IdTokenError::Malformed("aud holds a non-string".to_owned()))
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(IdTokenError::MissingClaim("aud")),
    };
    if !audiences.contains(&client_id) {
        return Err(IdTokenError::WrongAudience);
    }
    if let Some(other) = audiences
        .iter()
        .find(|aud| **aud != client_id && !trusted.iter().any(|t| t == *aud))
    {
        return Err(IdTokenError::UntrustedAudience((*other).to_owned()));
    }
    match claims.get("azp") {
        None if audiences.len() > 1 => Err(IdTokenError::MissingAuthorizedParty),
        None => Ok(()),
        Some(Value::String(azp)) if azp == client_id => Ok(()),
        Some(Value::String(azp)) => Err(IdTokenError::WrongAuthorizedParty(azp.clone())),
        Some(_) => Err(IdTokenError::Malformed("azp is not a string".to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn expect(now: i64) -> Expectations<'static> {
        Expectations {
            issuer: Some("https://idp.example"),
            client_id: "hub",
            trusted_audiences: &[],
            access_token: None,
            nonce: Some("n-1"),
            now,
        }
    }

    fn claims() -> Value {
        json!({"iss": "https://idp.example", "aud": "hub", "exp": 1000, "iat": 900, "nonce": "n-1", "sub": "s"})
    }

    fn jwt(header: &Value, claims: &Value, signature: &str) -> String {
        let b64 = |v: &Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string().as_bytes())
        };
        format!("{}.{}.{signature}", b64(header), b64(claims))
    }

    #[test]
    fn unsigned_tokens_are_read_only_as_such_and_their_claims_checked() {
        let none = json!({"alg": "none", "typ": "JWT"});
        let token = jwt(&none, &claims(), "");
        assert!(is_unsigned(&token));
        assert_eq!(unsigned_claims(&token, &expect(950)), Ok(claims()));
        assert_eq!(
            unsigned_claims(&token, &expect(2000)),
            Err(IdTokenError::Expired)
        );
        let mut wrong = claims();
        wrong["nonce"] = json!("other");
        assert_eq!(
            unsigned_claims(&jwt(&none, &wrong, ""), &expect(950)),
            Err(IdTokenError::NonceMismatch)
        );
        // "none" with something in the signature part, or a signed header: not unsigned.
        for token in [
            jwt(&none, &claims(), "c2ln"),
            jwt(&json!({"alg": "RS256"}), &claims(), ""),
            jwt(&none, &json!("a string"), ""),
            "a.b".to_owned(),
        ] {
            assert!(
                matches!(
                    unsigned_claims(&token, &expect(950)),
                    Err(IdTokenError::Malformed(_))
                ),
                "{token}"
            );
        }
        // at_hash is checked when present (SHA-256).
        let mut hashed = claims();
        hashed["at_hash"] = json!(access_token_hash(Algorithm::RS256, "at-1"));
        let token = jwt(&none, &hashed, "");
        let mut with_token = expect(950);
        with_token.access_token = Some("at-1");
        assert!(unsigned_claims(&token, &with_token).is_ok());
        with_token.access_token = Some("at-2");
        assert_eq!(
            unsigned_claims(&token, &with_token),
            Err(IdTokenError::AccessTokenHashMismatch)
        );
    }

    #[test]
    fn claim_checks() {
        assert_eq!(check_claims(&claims(), &expect(950)), Ok(()));
        assert_eq!(
            check_claims(&claims(), &expect(1000 + LEEWAY_SECONDS)),
            Err(IdTokenError::Expired)
        );
        assert_eq!(
            check_claims(&claims(), &expect(800)),
            Err(IdTokenError::NotYetValid)
        );
        let mut other = claims();
        other["aud"] = json!(["other"]);
        assert_eq!(
            check_claims(&other, &expect(950)),
            Err(IdTokenError::WrongAudience)
        );
        let mut other = claims();
        other["iss"] = json!("https://evil.example");
        assert!(matches!(
            check_claims(&other, &expect(950)),
            Err(IdTokenError::WrongIssuer { .. })
        ));
        let mut other = claims();
        other["nonce"] = json!("n-2");
        assert_eq!(
            check_claims(&other, &expect(950)),
            Err(IdTokenError::NonceMismatch)
        );
        other.as_object_mut().unwrap().remove("nonce");
        assert_eq!(
            check_claims(&other, &expect(950)),
            Err(IdTokenError::NonceMismatch)
        );
        let no_nonce = Expectations {
            nonce: None,
            ..expect(950)
        };
        assert_eq!(check_claims(&other, &no_nonce), Ok(()));
    }

    #[test]
    fn issuer_with_trailing_slash_is_refused() {
        let mut other = claims();
        other["iss"] = json!("https://idp.example/");
        assert_eq!(
            check_claims(&other, &expect(950)),
            Err(IdTokenError::WrongIssuer {
                expected: "https://idp.example".into(),
                found: "https://idp.example/".into()
            })
        );
        // And the other way round: a configured trailing slash is kept as given.
        let slash = Expectations {
            issuer: Some("https://idp.example/"),
            ..expect(950)
        };
        assert!(check_claims(&claims(), &slash).is_err());
        other["iss"] = json!("https://idp.example/");
        assert_eq!(check_claims(&other, &slash), Ok(()));
    }

    #[test]
    fn id_token_without_sub_is_refused() {
        for sub in [json!(null), json!(""), json!(7)] {
            let mut other = claims();
            other["sub"] = sub;
            assert_eq!(
                check_claims(&other, &expect(950)),
                Err(IdTokenError::MissingClaim("sub"))
            );
        }
    }

    #[test]
    fn id_token_with_untrusted_extra_audience_is_refused() {
        let trusted = vec!["api://reports".to_owned()];
        let check = |aud: Value, azp: Option<&str>, trusted: &[String]| {
            let mut other = claims();
            other["aud"] = aud;
            if let Some(azp) = azp {
                other["azp"] = json!(azp);
            }
            check_audience(&other, "hub", trusted)
        };
        // An extra audience nobody trusted: refused even with the right azp.
        assert_eq!(
            check(json!(["hub", "other"]), Some("hub"), &[]),
            Err(IdTokenError::UntrustedAudience("other".into()))
        );
        // A trusted extra audience needs azp naming this client.
        assert_eq!(
            check(json!(["hub", "api://reports"]), Some("hub"), &trusted),
            Ok(())
        );
        assert_eq!(
            check(json!(["hub", "api://reports"]), None, &trusted),
            Err(IdTokenError::MissingAuthorizedParty)
        );
        assert_eq!(
            check(
                json!(["hub", "api://reports"]),
                Some("api://reports"),
                &trusted
            ),
            Err(IdTokenError::WrongAuthorizedParty("api://reports".into()))
        );
        // One audience: azp optional, but when present it must be this client.
        assert_eq!(check(json!("hub"), None, &[]), Ok(()));
        assert_eq!(check(json!(["hub"]), Some("hub"), &[]), Ok(()));
        assert_eq!(
            check(json!("hub"), Some("other"), &[]),
            Err(IdTokenError::WrongAuthorizedParty("other".into()))
        );
        // This client missing, or aud malformed.
        assert_eq!(
            check(json!(["api://reports"]), None, &trusted),
            Err(IdTokenError::WrongAudience)
        );
        assert_eq!(
            check(json!([]), None, &[]),
            Err(IdTokenError::MissingClaim("aud"))
        );
        assert!(matches!(
            check(json!(["hub", 5]), Some("hub"), &[]),
            Err(IdTokenError::Malformed(_))
        ));
    }

    #[test]
    fn id_token_with_wrong_at_hash_is_refused() {
        let token = "an-access-token";
        let good = access_token_hash(Algorithm::ES256, token);
        // Expected values computed independently (Python hashlib).
        assert_eq!(good, "YiHPD2T9DaX5B837XJXtow");
        assert_eq!(access_token_hash(Algorithm::RS256, token), good);
        assert_eq!(
            access_token_hash(Algorithm::RS384, token),
            "p3iANihy1MamculNPUrQ8HsBkouO-q2I"
        );
        assert_eq!(
            access_token_hash(Algorithm::PS512, token),
            "nM_8k04LoVPQDh1346b6eHC5pCiIJeMDBg3Dhz6Pbt4"
        );
        assert_eq!(
            access_token_hash(Algorithm::EdDSA, token),
            "nM_8k04LoVPQDh1346b6eHC5pCiIJeMDBg3Dhz6Pbt4"
        );

        let mut with_hash = claims();
        with_hash["at_hash"] = json!(good);
        assert_eq!(check_at_hash(&with_hash, Algorithm::ES256, token), Ok(()));
        assert_eq!(
            check_at_hash(&with_hash, Algorithm::ES256, "another-access-token"),
            Err(IdTokenError::AccessTokenHashMismatch)
        );
        // The hash of another algorithm does not pass.
        assert_eq!(
            check_at_hash(&with_hash, Algorithm::ES384, token),
            Err(IdTokenError::AccessTokenHashMismatch)
        );
        with_hash["at_hash"] = json!(7);
        assert!(matches!(
            check_at_hash(&with_hash, Algorithm::ES256, token),
            Err(IdTokenError::Malformed(_))
        ));
        // No at_hash: nothing to check (it is optional in the code flow).
        assert_eq!(check_at_hash(&claims(), Algorithm::ES256, token), Ok(()));
    }

    #[test]
    fn headers() {
        let b64 = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let token = |header: &str| format!("{}.{}.sig", b64(header), b64("{}"));
        assert_eq!(
            read_header(&token(r#"{"alg":"none"}"#)),
            Err(IdTokenError::Unsigned)
        );
        assert!(matches!(
            read_header(&token(r#"{"alg":"HS256"}"#)),
            Err(IdTokenError::AlgorithmNotAllowed(_))
        ));
        assert_eq!(
            read_header(&token(r#"{"alg":"ES256","kid":"k1"}"#)),
            Ok((Algorithm::ES256, Some("k1".into())))
        );
        assert!(matches!(
            read_header("a.b"),
            Err(IdTokenError::Malformed(_))
        ));
        assert!(matches!(
            read_header("!!.b.c"),
            Err(IdTokenError::Malformed(_))
        ));
    }

    /// A loopback server that answers every request with an empty key set and counts them.
    async fn counting_jwks_server() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let mut request = [0u8; 2048];
                let _ = stream.read(&mut request).await;
                let body = r#"{"keys":[]}"#;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            }
        });
        (url, hits)
    }

    #[tokio::test]
    async fn keys_age_by_the_callers_clock_and_unknown_kids_refetch_at_most_every_five_seconds() {
        use std::sync::atomic::Ordering;
        let (url, hits) = counting_jwks_server().await;
        let keys = KeySet::new(url, reqwest::Client::new());
        let fetches = || hits.load(Ordering::SeqCst);
        keys.keys(Some("new-kid"), 1_000).await.unwrap();
        assert_eq!(fetches(), 1);
        // An unknown key id refetches, but not within five seconds of the last fetch.
        keys.keys(Some("new-kid"), 1_004).await.unwrap();
        assert_eq!(fetches(), 1);
        keys.keys(Some("new-kid"), 1_005).await.unwrap();
        assert_eq!(fetches(), 2);
        // Without a key id to look for, keys are kept for an hour.
        keys.keys(None, 1_005 + MAX_AGE - 1).await.unwrap();
        assert_eq!(fetches(), 2);
        keys.keys(None, 1_005 + MAX_AGE).await.unwrap();
        assert_eq!(fetches(), 3);
        // A clock that went back keeps the keys rather than fetching on every token.
        keys.keys(Some("other-kid"), 900).await.unwrap();
        assert_eq!(fetches(), 3);
    }
}
