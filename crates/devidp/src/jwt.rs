//! Compact JWS for ID tokens: signing (with the test tamper modes) and verifying our own
//! tokens (for `id_token_hint`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;

use crate::control::Tamper;
use hubauth_provider::EcKey;

pub(crate) use hubauth_provider::at_hash;

use crate::keys::{KeySet, impostor};

/// The issuer a `WrongIssuer` token claims.
pub(crate) const WRONG_ISSUER: &str = "https://wrong-issuer.invalid";
/// The audience a `WrongAudience` token claims.
pub(crate) const WRONG_AUDIENCE: &str = "someone-else";

/// Signs `claims` as an ES256 JWT with the active key, or makes it wrong as `tamper` says.
/// `None` only when signing itself fails.
pub(crate) fn sign_id_token(
    keys: &KeySet,
    mut claims: Map<String, Value>,
    tamper: Option<Tamper>,
    now: i64,
) -> Option<String> {
    let active = keys.active()?;
    match tamper {
        Some(Tamper::WrongAudience) => {
            claims.insert("aud".into(), json!(WRONG_AUDIENCE));
        }
        Some(Tamper::WrongIssuer) => {
            claims.insert("iss".into(), json!(WRONG_ISSUER));
        }
        Some(Tamper::Expired) => {
            claims.insert("iat".into(), json!(now.saturating_sub(7200)));
            claims.insert("exp".into(), json!(now.saturating_sub(3600)));
        }
        Some(Tamper::WrongNonce) => {
            claims.insert("nonce".into(), json!(crate::state::random_token()));
        }
        Some(Tamper::MissingNonce) => {
            claims.remove("nonce");
        }
        Some(Tamper::IssuerWithTrailingSlash) => {
            let iss = claims
                .get("iss")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let slashed = format!("{iss}/");
            claims.insert("iss".into(), json!(slashed));
        }
        Some(Tamper::UntrustedExtraAudience) => {
            let aud = claims.get("aud").cloned().unwrap_or(Value::Null);
            claims.insert("aud".into(), json!([aud, WRONG_AUDIENCE]));
            claims.insert("azp".into(), aud);
        }
        Some(Tamper::WrongAtHash) => {
            claims.insert(
                "at_hash".into(),
                json!(at_hash(&crate::state::random_token())),
            );
        }
        _ => {}
    }
    let payload = Value::Object(claims);
    match tamper {
        Some(Tamper::BadSignature) => sign_es256(&impostor(active.kid()).ok()?, &payload),
        Some(Tamper::UnknownKid) => {
            let stranger = impostor(&format!("unknown-{}", crate::state::random_token())).ok()?;
            sign_es256(&stranger, &payload)
        }
        Some(Tamper::AlgNone) => {
            let header = json!({"alg": "none", "typ": "JWT", "kid": active.kid()});
            Some(format!("{}.", signing_input(&header, &payload)))
        }
        Some(Tamper::HmacWithPublicKey) => {
            let header = json!({"alg": "HS256", "typ": "JWT", "kid": active.kid()});
            let input = signing_input(&header, &payload);
            let pem = active.public_pem()?;
            let mut mac = Hmac::<Sha256>::new_from_slice(pem.as_bytes()).ok()?;
            mac.update(input.as_bytes());
            let tag = mac.finalize().into_bytes();
            Some(format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag)))
        }
        _ => sign_es256(active, &payload),
    }
}

fn signing_input(header: &Value, payload: &Value) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    )
}

fn sign_es256(key: &EcKey, payload: &Value) -> Option<String> {
    key.sign_jwt(payload).ok()
}

/// The claims of a JWT this provider signed with one of its published keys (ES256 only);
/// `None` for anything else. Expiry is not checked (an `id_token_hint` may be expired).
pub(crate) fn verify_own(keys: &KeySet, token: &str) -> Option<Map<String, Value>> {
    let (input, signature) = token.rsplit_once('.')?;
    let (header, payload) = input.split_once('.')?;
    if payload.contains('.') {
        return None;
    }
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    if header.get("alg")?.as_str()? != "ES256" {
        return None;
    }
    let key = keys.find(header.get("kid")?.as_str()?)?;
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    if !key.verify(input.as_bytes(), &signature) {
        return None;
    }
    match serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()? {
        Value::Object(claims) => Some(claims),
        _ => None,
    }
}

/// The claims of a logout token for `spec` (Back-Channel Logout 1.0 §2.4).
pub(crate) fn logout_token_claims(
    issuer: &str,
    spec: &crate::control::LogoutTokenSpec,
    now: i64,
) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(issuer));
    claims.insert("aud".into(), json!(spec.client_id));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now.saturating_add(spec.lifetime)));
    if let Some(jti) = &spec.jti {
        claims.insert("jti".into(), json!(jti));
    }
    if let Some(sub) = &spec.sub {
        claims.insert("sub".into(), json!(sub));
    }
    if let Some(sid) = &spec.sid {
        claims.insert("sid".into(), json!(sid));
    }
    if spec.event {
        claims.insert(
            "events".into(),
            json!({"http://schemas.openid.net/event/backchannel-logout": {}}),
        );
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Map<String, Value> {
        match json!({"iss": "http://x", "sub": "alice", "aud": "hub", "nonce": "n"}) {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    #[test]
    fn own_tokens_verify_and_tampered_ones_do_not() {
        let keys = KeySet::generate().unwrap();
        let good = sign_id_token(&keys, claims(), None, 1000).unwrap();
        assert_eq!(verify_own(&keys, &good).unwrap()["sub"], "alice");
        for tamper in [
            Tamper::BadSignature,
            Tamper::UnknownKid,
            Tamper::AlgNone,
            Tamper::HmacWithPublicKey,
        ] {
            let bad = sign_id_token(&keys, claims(), Some(tamper), 1000).unwrap();
            assert!(verify_own(&keys, &bad).is_none(), "{tamper:?}");
        }
        assert!(verify_own(&keys, "a.b").is_none());
        assert!(verify_own(&keys, "a.b.c.d").is_none());
        assert!(verify_own(&keys, "..").is_none());
    }
}
