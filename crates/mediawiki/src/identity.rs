//! The identity JWT of `Special:OAuth/identify`, checked as upstream's client (mwoauth)
//! checks it, and a little stricter where the wiki's own answer never needs the leniency.
//!
//! The extension signs the JWT with HS256 and the consumer secret; its claims are `iss`
//! (the wiki's canonical server), `aud` (the consumer key), `iat`, `exp` (`iat` + 100 s),
//! `nonce` (the `oauth_nonce` of the identify request) and the user's profile (`sub`,
//! `username`, `editcount`, `confirmed_email`, `email_verified`, `blocked`, `registered`,
//! `groups`, `rights`, `grants`, and `realname`/`email` with the private-info grant).
//!
//! Checked, each refusing the login when it fails:
//! - three base64url parts, a header with `alg` exactly `HS256` and no `crit`;
//! - the HMAC-SHA256 signature, with the consumer secret, compared in constant time;
//! - `aud` is the consumer key (a string: the wiki never sends a list);
//! - `iss` is on `mw_index_url`'s host and port (mwoauth compares the two `netloc`s);
//! - `iat` is there and not in the future, `exp` is there and not past, `nbf` (if any)
//!   not in the future, each with mwoauth's 10 s of leeway (mwoauth let pyjwt skip a
//!   missing `exp`; the wiki always sends one);
//! - `nonce` is the identify request's own, so an old answer cannot be replayed.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use crate::error::IdentityError;

/// Seconds of clock difference allowed either way (mwoauth's `leeway`).
pub const LEEWAY: i64 = 10;

/// What the identity must say.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The consumer key (`client_id`): the audience.
    pub consumer_key: &'a str,
    /// The consumer secret (`client_secret`): the HS256 key.
    pub consumer_secret: &'a str,
    /// `mw_index_url`'s `host[:port]`.
    pub issuer_netloc: &'a str,
    /// The `oauth_nonce` the identify request was signed with.
    pub nonce: &'a str,
    /// The current time, in seconds since the epoch.
    pub now: i64,
}

/// Whether an answer looks like a compact JWT (three base64url parts, the signature
/// possibly empty as in an unsigned one), as opposed to the JSON error the extension
/// answers with.
pub fn looks_like_jwt(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 3
        && !parts[0].is_empty()
        && !parts[1].is_empty()
        && parts.iter().all(|part| {
            part.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Verifies the identity JWT and returns its claims.
pub fn verify(jwt: &str, expected: &Expected<'_>) -> Result<Map<String, Value>, IdentityError> {
    let mut parts = jwt.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(IdentityError::NotAJwt("not three parts"));
    };
    let header = decode_object(header_b64, "header")?;
    match header.get("alg") {
        Some(Value::String(alg)) if alg == "HS256" => {}
        Some(Value::String(alg)) => return Err(IdentityError::Algorithm(alg.clone())),
        _ => return Err(IdentityError::Algorithm("no alg".to_owned())),
    }
    if header.contains_key("crit") {
        return Err(IdentityError::Algorithm("HS256 with crit".to_owned()));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| IdentityError::NotAJwt("the signature is not base64url"))?;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(expected.consumer_secret.as_bytes())
        .map_err(|_| IdentityError::BadSignature)?;
    mac.update(header_b64.as_bytes());
    mac.update(b".");
    mac.update(payload_b64.as_bytes());
    mac.verify_slice(&signature)
        .map_err(|_| IdentityError::BadSignature)?;
    let claims = decode_object(payload_b64, "payload")?;
    check_claims(&claims, expected)?;
    Ok(claims)
}

fn check_claims(claims: &Map<String, Value>, expected: &Expected<'_>) -> Result<(), IdentityError> {
    match claims.get("aud") {
        Some(Value::String(aud)) if aud == expected.consumer_key => {}
        Some(Value::String(_) | Value::Array(_)) => return Err(IdentityError::WrongAudience),
        _ => return Err(IdentityError::Claim("aud")),
    }
    let Some(Value::String(iss)) = claims.get("iss") else {
        return Err(IdentityError::Claim("iss"));
    };
    let found = url::Url::parse(iss)
        .ok()
        .filter(|url| url.username().is_empty() && url.password().is_none())
        .and_then(|url| crate::options::netloc(&url))
        .ok_or(IdentityError::Claim("iss"))?;
    if found != expected.issuer_netloc {
        return Err(IdentityError::WrongIssuer {
            found,
            expected: expected.issuer_netloc.to_owned(),
        });
    }
    let now = expected.now;
    let iat = seconds(claims, "iat")?.ok_or(IdentityError::Claim("iat"))?;
    if iat > (now + LEEWAY) as f64 {
        return Err(IdentityError::IssuedInFuture);
    }
    if let Some(nbf) = seconds(claims, "nbf")?
        && nbf > (now + LEEWAY) as f64
    {
        return Err(IdentityError::IssuedInFuture);
    }
    let exp = seconds(claims, "exp")?.ok_or(IdentityError::Claim("exp"))?;
    if exp <= (now - LEEWAY) as f64 {
        return Err(IdentityError::Expired);
    }
    let Some(Value::String(nonce)) = claims.get("nonce") else {
        return Err(IdentityError::Claim("nonce"));
    };
    if !bool::from(nonce.as_bytes().ct_eq(expected.nonce.as_bytes())) {
        return Err(IdentityError::NonceMismatch);
    }
    Ok(())
}

/// A NumericDate claim: `None` when absent, an error when present but not a finite number.
fn seconds(claims: &Map<String, Value>, name: &'static str) -> Result<Option<f64>, IdentityError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(number)) => number
            .as_f64()
            .filter(|value| value.is_finite())
            .map(Some)
            .ok_or(IdentityError::Claim(name)),
        Some(_) => Err(IdentityError::Claim(name)),
    }
}

fn decode_object(part: &str, what: &'static str) -> Result<Map<String, Value>, IdentityError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| {
        IdentityError::NotAJwt(if what == "header" {
            "the header is not base64url"
        } else {
            "the payload is not base64url"
        })
    })?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(IdentityError::NotAJwt(if what == "header" {
            "the header is not a JSON object"
        } else {
            "the payload is not a JSON object"
        })),
    }
}

/// Signs claims as the extension does (HS256 with the consumer secret). For the mock and
/// tests: the hub never signs identities.
pub fn sign_hs256(claims: &Value, secret: &str) -> String {
    sign_with_header(
        &serde_json::json!({"typ": "JWT", "alg": "HS256"}),
        claims,
        secret,
    )
}

/// Signs claims under any header with HMAC-SHA256 (tests of the header checks).
pub fn sign_with_header(header: &Value, claims: &Value, secret: &str) -> String {
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = match Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(signing_input.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    };
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_700_000_000;

    fn expected(nonce: &str) -> Expected<'_> {
        Expected {
            consumer_key: "ck",
            consumer_secret: "cs",
            issuer_netloc: "meta.wikimedia.org",
            nonce,
            now: NOW,
        }
    }

    fn claims() -> Value {
        json!({
            "iss": "https://meta.wikimedia.org",
            "aud": "ck",
            "iat": NOW,
            "exp": NOW + 100,
            "nonce": "n1",
            "sub": "42",
            "username": "Alice Smith",
        })
    }

    fn with(change: impl FnOnce(&mut Map<String, Value>)) -> Value {
        let mut value = claims();
        if let Value::Object(map) = &mut value {
            change(map);
        }
        value
    }

    #[test]
    fn the_wikis_identity_is_accepted() {
        let jwt = sign_hs256(&claims(), "cs");
        assert!(looks_like_jwt(&jwt));
        let verified = verify(&jwt, &expected("n1")).unwrap();
        assert_eq!(verified["username"], "Alice Smith");
    }

    #[test]
    fn another_secret_or_a_changed_payload_is_refused() {
        let jwt = sign_hs256(&claims(), "not-cs");
        assert_eq!(
            verify(&jwt, &expected("n1")),
            Err(IdentityError::BadSignature)
        );
        let good = sign_hs256(&claims(), "cs");
        let forged = sign_hs256(
            &with(|c| {
                c.insert("username".into(), json!("Admin"));
            }),
            "x",
        );
        let mut parts: Vec<&str> = good.split('.').collect();
        parts[1] = forged.split('.').nth(1).unwrap();
        assert_eq!(
            verify(&parts.join("."), &expected("n1")),
            Err(IdentityError::BadSignature)
        );
    }

    #[test]
    fn only_hs256_is_accepted() {
        for alg in ["none", "HS512", "RS256", "hs256"] {
            let jwt = sign_with_header(&json!({"alg": alg}), &claims(), "cs");
            assert!(
                matches!(
                    verify(&jwt, &expected("n1")),
                    Err(IdentityError::Algorithm(_))
                ),
                "{alg}"
            );
        }
        let unsigned = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(claims().to_string())
        );
        assert!(verify(&unsigned, &expected("n1")).is_err());
        let crit = sign_with_header(&json!({"alg": "HS256", "crit": ["x"]}), &claims(), "cs");
        assert!(matches!(
            verify(&crit, &expected("n1")),
            Err(IdentityError::Algorithm(_))
        ));
    }

    #[test]
    fn audience_issuer_and_nonce_must_match() {
        let cases = [
            (
                with(|c| {
                    c.insert("aud".into(), json!("other"));
                }),
                IdentityError::WrongAudience,
            ),
            (
                with(|c| {
                    c.insert("aud".into(), json!(["ck", "other"]));
                }),
                IdentityError::WrongAudience,
            ),
            (
                with(|c| {
                    c.remove("aud");
                }),
                IdentityError::Claim("aud"),
            ),
            (
                with(|c| {
                    c.insert("iss".into(), json!("https://evil.example"));
                }),
                IdentityError::WrongIssuer {
                    found: "evil.example".into(),
                    expected: "meta.wikimedia.org".into(),
                },
            ),
            (
                with(|c| {
                    c.insert("iss".into(), json!("https://meta.wikimedia.org:8443"));
                }),
                IdentityError::WrongIssuer {
                    found: "meta.wikimedia.org:8443".into(),
                    expected: "meta.wikimedia.org".into(),
                },
            ),
            (
                with(|c| {
                    c.remove("iss");
                }),
                IdentityError::Claim("iss"),
            ),
            (
                with(|c| {
                    c.insert("nonce".into(), json!("n2"));
                }),
                IdentityError::NonceMismatch,
            ),
            (
                with(|c| {
                    c.remove("nonce");
                }),
                IdentityError::Claim("nonce"),
            ),
        ];
        for (claims, error) in cases {
            assert_eq!(
                verify(&sign_hs256(&claims, "cs"), &expected("n1")),
                Err(error)
            );
        }
        // The issuer's scheme and path do not matter, as in mwoauth's netloc comparison.
        let http = with(|c| {
            c.insert("iss".into(), json!("http://meta.wikimedia.org/"));
        });
        assert!(verify(&sign_hs256(&http, "cs"), &expected("n1")).is_ok());
    }

    #[test]
    fn times_are_checked_with_ten_seconds_of_leeway() {
        let at = |iat: i64, exp: i64| {
            with(|c| {
                c.insert("iat".into(), json!(iat));
                c.insert("exp".into(), json!(exp));
            })
        };
        let ok = |claims: Value| verify(&sign_hs256(&claims, "cs"), &expected("n1"));
        assert!(ok(at(NOW + LEEWAY, NOW + 100)).is_ok());
        assert_eq!(
            ok(at(NOW + LEEWAY + 1, NOW + 100)),
            Err(IdentityError::IssuedInFuture)
        );
        assert!(ok(at(NOW - 100, NOW - LEEWAY + 1)).is_ok());
        assert_eq!(ok(at(NOW - 100, NOW - LEEWAY)), Err(IdentityError::Expired));
        assert_eq!(
            ok(with(|c| {
                c.remove("exp");
            })),
            Err(IdentityError::Claim("exp"))
        );
        assert_eq!(
            ok(with(|c| {
                c.remove("iat");
            })),
            Err(IdentityError::Claim("iat"))
        );
        assert_eq!(
            ok(with(|c| {
                c.insert("iat".into(), json!("1700000000"));
            })),
            Err(IdentityError::Claim("iat"))
        );
        assert_eq!(
            ok(with(|c| {
                c.insert("nbf".into(), json!(NOW + 60));
            })),
            Err(IdentityError::IssuedInFuture)
        );
        assert!(
            ok(with(|c| {
                c.insert("iat".into(), json!(NOW as f64 + 0.5));
            }))
            .is_ok()
        );
    }

    #[test]
    fn garbage_is_not_a_jwt() {
        for text in ["", "a.b", "a.b.c.d", "{\"error\":\"x\"}", "!!.??.**"] {
            assert!(verify(text, &expected("n1")).is_err(), "{text}");
        }
        assert!(!looks_like_jwt("{\"error\":\"mwoauth\",\"message\":\"x\"}"));
        assert!(!looks_like_jwt("a..c"));
    }
}
