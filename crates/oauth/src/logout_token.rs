//! Logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.4, §2.6): verified like an ID
//! token (signature with the provider's published keys, exact `iss`, `aud`, `iat`,
//! `exp`), then the logout token's own rules: the back-channel logout event, `sub` and/or
//! `sid`, a `jti`, and no `nonce`. Refusing a replayed `jti` is the hub's (it needs the
//! store).

use base64::Engine as _;
use hubauth_core::backchannel::{BACKCHANNEL_LOGOUT_EVENT, MAX_CLAIM_LEN};
use hubauth_core::{LogoutToken, LogoutTokenError};
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::Value;

use crate::id_token::{
    IdTokenError, KeySet, LEEWAY_SECONDS, check_audience, pick_key, read_header,
};

/// Longest logout token read (a few claims; anything larger is refused unread).
pub const MAX_LOGOUT_TOKEN_LEN: usize = 16 * 1024;

/// What a logout token must say to be accepted.
#[derive(Debug, Clone, Copy)]
pub struct LogoutExpectations<'a> {
    /// The provider's issuer; `None` when only a JWKS URL is configured (then `iss` must
    /// merely be present, as for ID tokens, and sessions are matched by it).
    pub issuer: Option<&'a str>,
    /// This client's id.
    pub client_id: &'a str,
    /// Audiences besides this client a token may also name (`trusted_audiences`).
    pub trusted_audiences: &'a [String],
    /// The current time.
    pub now: i64,
}

/// Verifies a logout token with the provider's keys (§2.6 steps 2-6).
pub async fn verify_logout_token(
    keys: &KeySet,
    token: &str,
    expect: &LogoutExpectations<'_>,
) -> Result<LogoutToken, LogoutTokenError> {
    if token.len() > MAX_LOGOUT_TOKEN_LEN {
        return Err(LogoutTokenError::Malformed("too long".to_owned()));
    }
    let (alg, kid) = read_header(token).map_err(header_error)?;
    check_type(token)?;
    let set = keys
        .keys(kid.as_deref(), expect.now)
        .await
        .map_err(|err| LogoutTokenError::KeysUnavailable(err.to_string()))?;
    let jwk = pick_key(&set, kid.as_deref(), alg).map_err(|_| LogoutTokenError::BadSignature)?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_| LogoutTokenError::BadSignature)?;
    // Signature only: every claim is checked below against the time passed in.
    let mut validation = Validation::new(alg);
    validation.algorithms = vec![alg];
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    crate::jose::install();
    let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map_err(|err| match err.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature
            | jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => LogoutTokenError::BadSignature,
            _ => LogoutTokenError::Malformed("the payload is not a JSON object".to_owned()),
        })?
        .claims;
    check_logout_claims(&claims, expect)
}

fn header_error(err: IdTokenError) -> LogoutTokenError {
    match err {
        IdTokenError::Unsigned => LogoutTokenError::Unsigned,
        IdTokenError::AlgorithmNotAllowed(_) => LogoutTokenError::AlgorithmNotAllowed,
        IdTokenError::Malformed(message) => LogoutTokenError::Malformed(message),
        _ => LogoutTokenError::Malformed("unreadable header".to_owned()),
    }
}

/// A `typ` header, when present, must be `logout+jwt` (§2.4, explicit typing) or the
/// generic `JWT`; any other type (`at+jwt`, ...) is a token of another kind.
fn check_type(token: &str) -> Result<(), LogoutTokenError> {
    let header = token.split('.').next().unwrap_or_default();
    let header: Value = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| LogoutTokenError::Malformed("the header is not JSON".to_owned()))?;
    match header.get("typ") {
        None => Ok(()),
        Some(Value::String(typ)) => {
            let lower = typ.to_ascii_lowercase();
            let bare = lower.strip_prefix("application/").unwrap_or(&lower);
            if bare == "logout+jwt" || bare == "jwt" {
                Ok(())
            } else {
                Err(LogoutTokenError::WrongType(typ.chars().take(40).collect()))
            }
        }
        Some(_) => Err(LogoutTokenError::WrongType("(not a string)".to_owned())),
    }
}

/// The claim checks of §2.6 steps 3-6 on a token whose signature was verified.
pub fn check_logout_claims(
    claims: &Value,
    expect: &LogoutExpectations<'_>,
) -> Result<LogoutToken, LogoutTokenError> {
    if !claims.is_object() {
        return Err(LogoutTokenError::Malformed(
            "the payload is not a JSON object".to_owned(),
        ));
    }
    let text = |name: &'static str| -> Result<Option<String>, LogoutTokenError> {
        match claims.get(name) {
            None => Ok(None),
            Some(Value::String(value)) if !value.is_empty() && value.len() <= MAX_CLAIM_LEN => {
                Ok(Some(value.clone()))
            }
            Some(_) => Err(LogoutTokenError::MissingClaim(name)),
        }
    };
    let issuer = text("iss")?.ok_or(LogoutTokenError::MissingClaim("iss"))?;
    if expect.issuer.is_some_and(|expected| expected != issuer) {
        return Err(LogoutTokenError::WrongIssuer);
    }
    check_audience(claims, expect.client_id, expect.trusted_audiences).map_err(
        |err| match err {
            IdTokenError::MissingClaim(_) => LogoutTokenError::MissingClaim("aud"),
            _ => LogoutTokenError::WrongAudience,
        },
    )?;
    let time = |name: &'static str| {
        claims
            .get(name)
            .and_then(Value::as_i64)
            .ok_or(LogoutTokenError::MissingClaim(name))
    };
    let iat = time("iat")?;
    if iat.saturating_sub(LEEWAY_SECONDS) > expect.now {
        return Err(LogoutTokenError::NotYetValid);
    }
    let expires = time("exp")?;
    if expires.saturating_add(LEEWAY_SECONDS) <= expect.now {
        return Err(LogoutTokenError::Expired);
    }
    let subject = text("sub")?;
    let sid = text("sid")?;
    if subject.is_none() && sid.is_none() {
        return Err(LogoutTokenError::NoSubjectOrSession);
    }
    match claims.get("events") {
        Some(Value::Object(events)) => match events.get(BACKCHANNEL_LOGOUT_EVENT) {
            Some(Value::Object(_)) => {}
            _ => return Err(LogoutTokenError::NotALogoutEvent),
        },
        _ => return Err(LogoutTokenError::MissingClaim("events")),
    }
    if claims.get("nonce").is_some() {
        return Err(LogoutTokenError::NonceNotAllowed);
    }
    let jti = text("jti")?.ok_or(LogoutTokenError::MissingClaim("jti"))?;
    Ok(LogoutToken {
        issuer,
        subject,
        sid,
        jti,
        // A replay is refused for as long as the token could be accepted.
        expires: expires.saturating_add(LEEWAY_SECONDS),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn expect(now: i64) -> LogoutExpectations<'static> {
        LogoutExpectations {
            issuer: Some("https://idp.example"),
            client_id: "hub",
            trusted_audiences: &[],
            now,
        }
    }

    fn good() -> Value {
        json!({
            "iss": "https://idp.example", "aud": "hub", "iat": 1000, "exp": 1120,
            "jti": "j-1", "sub": "alice", "sid": "s-1",
            "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
        })
    }

    fn with(change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
        let mut claims = good();
        if let Some(map) = claims.as_object_mut() {
            change(map);
        }
        claims
    }

    #[test]
    fn a_logout_token_with_sub_and_sid_is_accepted() {
        let token = check_logout_claims(&good(), &expect(1010)).unwrap();
        assert_eq!(token.subject.as_deref(), Some("alice"));
        assert_eq!(token.sid.as_deref(), Some("s-1"));
        assert_eq!(token.jti, "j-1");
        assert_eq!(token.expires, 1120 + LEEWAY_SECONDS);
        let only_sid = with(|c| {
            c.remove("sub");
        });
        assert!(check_logout_claims(&only_sid, &expect(1010)).is_ok());
    }

    #[test]
    fn logout_tokens_breaking_a_rule_of_section_2_6_are_refused() {
        use LogoutTokenError as E;
        let cases: Vec<(Value, LogoutTokenError)> = vec![
            (
                with(|c| {
                    c.insert("iss".into(), json!("https://evil"));
                }),
                E::WrongIssuer,
            ),
            (
                with(|c| {
                    c.insert("iss".into(), json!("https://idp.example/"));
                }),
                E::WrongIssuer,
            ),
            (
                with(|c| {
                    c.insert("aud".into(), json!("other"));
                }),
                E::WrongAudience,
            ),
            (
                with(|c| {
                    c.insert("aud".into(), json!(["hub", "other"]));
                }),
                E::WrongAudience,
            ),
            (
                with(|c| {
                    c.remove("aud");
                }),
                E::MissingClaim("aud"),
            ),
            (
                with(|c| {
                    c.remove("iat");
                }),
                E::MissingClaim("iat"),
            ),
            (
                with(|c| {
                    c.insert("iat".into(), json!(5000));
                }),
                E::NotYetValid,
            ),
            (
                with(|c| {
                    c.remove("exp");
                }),
                E::MissingClaim("exp"),
            ),
            (
                with(|c| {
                    c.insert("exp".into(), json!(900));
                }),
                E::Expired,
            ),
            (
                with(|c| {
                    c.remove("sub");
                    c.remove("sid");
                }),
                E::NoSubjectOrSession,
            ),
            (
                with(|c| {
                    c.insert("sub".into(), json!(7));
                }),
                E::MissingClaim("sub"),
            ),
            (
                with(|c| {
                    c.remove("events");
                }),
                E::MissingClaim("events"),
            ),
            (
                with(|c| {
                    c.insert("events".into(), json!({"other": {}}));
                }),
                E::NotALogoutEvent,
            ),
            (
                with(|c| {
                    c.insert("events".into(), json!({BACKCHANNEL_LOGOUT_EVENT: "yes"}));
                }),
                E::NotALogoutEvent,
            ),
            (
                with(|c| {
                    c.insert("nonce".into(), json!("n"));
                }),
                E::NonceNotAllowed,
            ),
            (
                with(|c| {
                    c.remove("jti");
                }),
                E::MissingClaim("jti"),
            ),
            (
                with(|c| {
                    c.insert("jti".into(), json!("x".repeat(MAX_CLAIM_LEN + 1)));
                }),
                E::MissingClaim("jti"),
            ),
        ];
        for (claims, expected) in cases {
            assert_eq!(
                check_logout_claims(&claims, &expect(1010)),
                Err(expected),
                "{claims}"
            );
        }
    }

    #[test]
    fn typ_must_say_logout_or_plain_jwt() {
        let token = |header: Value| {
            format!(
                "{}.e30.sig",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(header.to_string())
            )
        };
        assert!(check_type(&token(json!({"alg": "ES256"}))).is_ok());
        assert!(check_type(&token(json!({"alg": "ES256", "typ": "logout+jwt"}))).is_ok());
        assert!(
            check_type(&token(
                json!({"alg": "ES256", "typ": "application/logout+jwt"})
            ))
            .is_ok()
        );
        assert!(check_type(&token(json!({"alg": "ES256", "typ": "JWT"}))).is_ok());
        assert!(matches!(
            check_type(&token(json!({"alg": "ES256", "typ": "at+jwt"}))),
            Err(LogoutTokenError::WrongType(_))
        ));
    }
}
