//! The keys that sign ID tokens: an RSA key for RS256 (the algorithm OpenID Connect
//! requires every provider to offer) and a P-256 key for ES256. Each key's id is the
//! RFC 7638 thumbprint of its public JWK, so the same key always has the same `kid`.
//!
//! Keys are read from and written as PKCS#8 PEM text; where that text is kept (a file
//! with mode 600, memory) is the caller's business.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey as P256Key};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// The size of a generated RSA key, and the smallest one accepted.
pub const RSA_BITS: usize = 2048;

/// Why a signing key could not be read, made or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The PEM text does not hold the kind of private key expected (for RSA: of at least
    /// [`RSA_BITS`] bits, since a shorter one would make every signature forgeable).
    #[error("not a PKCS#8 {expected} private key (PEM)")]
    Malformed {
        /// What it should hold, for the message (`P-256`, `RSA (2048 bits or more)`).
        expected: &'static str,
    },
    /// Generating a key failed (the system's random source).
    #[error("generating a signing key failed: {0}")]
    Generate(String),
    /// Signing failed: a broken key or a bug; no token is issued.
    #[error("signing a token failed: {0}")]
    Sign(String),
}

/// The algorithm an ID token is signed with, chosen per client (its registration's
/// `id_token_signed_response_alg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdTokenAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256: what OpenID Connect requires every provider to
    /// offer, and the default for a client that registered no algorithm.
    #[default]
    Rs256,
    /// ECDSA P-256 with SHA-256.
    Es256,
}

impl IdTokenAlg {
    /// The JOSE name (`RS256`, `ES256`).
    pub fn name(self) -> &'static str {
        match self {
            IdTokenAlg::Rs256 => "RS256",
            IdTokenAlg::Es256 => "ES256",
        }
    }

    /// The algorithm with this JOSE name, exactly; `None` for any other (`none`, `HS256`,
    /// lower case...).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(IdTokenAlg::Rs256),
            "ES256" => Some(IdTokenAlg::Es256),
            _ => None,
        }
    }

    fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            IdTokenAlg::Rs256 => jsonwebtoken::Algorithm::RS256,
            IdTokenAlg::Es256 => jsonwebtoken::Algorithm::ES256,
        }
    }
}

/// The algorithms a provider offers, RS256 first (the order discovery announces them in).
pub const ID_TOKEN_ALGS: &[IdTokenAlg] = &[IdTokenAlg::Rs256, IdTokenAlg::Es256];

/// The RFC 7638 thumbprint of a public JWK: SHA-256 of its required members, base64url.
/// `required` must hold exactly those members (`crv`, `kty`, `x`, `y` for EC; `e`, `kty`,
/// `n` for RSA) with string values; they are put in lexicographic order here.
pub fn jwk_thumbprint(required: &Map<String, Value>) -> String {
    let mut members: Vec<(&String, &Value)> = required.iter().collect();
    members.sort_by(|a, b| a.0.cmp(b.0));
    // serde_json writes strings with the escaping the RFC asks for; no whitespace.
    let body: Vec<String> = members
        .iter()
        .map(|(name, value)| format!("{}:{value}", Value::String((*name).clone())))
        .collect();
    let canonical = format!("{{{}}}", body.join(","));
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// What signs and verifies JWTs with one key, and its published JWK.
struct Jose {
    alg: IdTokenAlg,
    kid: String,
    jwk: Value,
    encoding: jsonwebtoken::EncodingKey,
    decoding: jsonwebtoken::DecodingKey,
}

impl Jose {
    /// From the required members of the public JWK (see [`jwk_thumbprint`]) and the
    /// private key; `kid`, `alg` and `use` are added.
    fn new(
        alg: IdTokenAlg,
        required: Map<String, Value>,
        encoding: jsonwebtoken::EncodingKey,
        expected: &'static str,
    ) -> Result<Jose, KeyError> {
        let kid = jwk_thumbprint(&required);
        let mut jwk = required;
        jwk.insert("kid".into(), json!(kid));
        jwk.insert("alg".into(), json!(alg.name()));
        jwk.insert("use".into(), json!("sig"));
        let jwk = Value::Object(jwk);
        let malformed = || KeyError::Malformed { expected };
        let public: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(jwk.clone()).map_err(|_| malformed())?;
        let decoding = jsonwebtoken::DecodingKey::from_jwk(&public).map_err(|_| malformed())?;
        Ok(Jose {
            alg,
            kid,
            jwk,
            encoding,
            decoding,
        })
    }

    fn with_kid(mut self, kid: &str) -> Jose {
        self.kid = kid.to_owned();
        if let Value::Object(jwk) = &mut self.jwk {
            jwk.insert("kid".into(), json!(kid));
        }
        self
    }

    fn sign_jwt<T: Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        self.sign_typed("JWT", claims)
    }

    fn sign_typed<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, KeyError> {
        let mut header = jsonwebtoken::Header::new(self.alg.jwt());
        header.kid = Some(self.kid.clone());
        header.typ = Some(typ.to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|err| KeyError::Sign(err.to_string()))
    }

    /// The claims of `token` when this key signed it (header `alg` and `kid` naming this
    /// key) for `issuer`; expiry is not checked.
    fn verify_jwt(&self, token: &str, issuer: &str) -> Option<Map<String, Value>> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.alg != self.alg.jwt() || header.kid.as_deref() != Some(self.kid.as_str()) {
            return None;
        }
        // A token typed as another kind (a logout token) is never taken for an ID token.
        if header.typ.as_deref().is_some_and(|typ| typ != "JWT") {
            return None;
        }
        let mut validation = jsonwebtoken::Validation::new(self.alg.jwt());
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        validation.set_issuer(&[issuer]);
        jsonwebtoken::decode::<Map<String, Value>>(token, &self.decoding, &validation)
            .ok()
            .map(|data| data.claims)
    }
}

/// A P-256 key signing ES256 JWTs.
pub struct EcKey {
    key: P256Key,
    jose: Jose,
}

impl fmt::Debug for EcKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EcKey")
            .field("kid", &self.jose.kid)
            .finish_non_exhaustive()
    }
}

impl EcKey {
    /// What [`KeyError::Malformed`] says an EC key file should hold.
    pub const EXPECTED: &'static str = "P-256";

    /// A fresh random key.
    pub fn generate() -> Result<EcKey, KeyError> {
        EcKey::from_key(P256Key::random(&mut rand::rngs::OsRng))
    }

    /// The key in PKCS#8 PEM text.
    pub fn from_pkcs8_pem(pem: &str) -> Result<EcKey, KeyError> {
        let key = P256Key::from_pkcs8_pem(pem).map_err(|_| Self::malformed())?;
        EcKey::from_key(key)
    }

    fn malformed() -> KeyError {
        KeyError::Malformed {
            expected: Self::EXPECTED,
        }
    }

    fn from_key(key: P256Key) -> Result<EcKey, KeyError> {
        let der = key.to_pkcs8_der().map_err(|_| Self::malformed())?;
        let point = key.verifying_key().to_encoded_point(false);
        let coordinate = |part: Option<&p256::FieldBytes>| {
            part.map(|bytes| URL_SAFE_NO_PAD.encode(bytes))
                .unwrap_or_default()
        };
        let mut required = Map::new();
        required.insert("crv".into(), json!("P-256"));
        required.insert("kty".into(), json!("EC"));
        required.insert("x".into(), json!(coordinate(point.x())));
        required.insert("y".into(), json!(coordinate(point.y())));
        let jose = Jose::new(
            IdTokenAlg::Es256,
            required,
            jsonwebtoken::EncodingKey::from_ec_der(der.as_bytes()),
            Self::EXPECTED,
        )?;
        Ok(EcKey { key, jose })
    }

    /// The private key as PKCS#8 PEM text (to keep it; never log it).
    pub fn to_pkcs8_pem(&self) -> Result<String, KeyError> {
        self.key
            .to_pkcs8_pem(LineEnding::LF)
            .map(|pem| pem.as_str().to_owned())
            .map_err(|err| KeyError::Generate(err.to_string()))
    }

    /// The key id: the RFC 7638 thumbprint of the public key (unless [`EcKey::with_kid`]
    /// set another).
    pub fn kid(&self) -> &str {
        &self.jose.kid
    }

    /// The same key claiming another key id: what a test provider uses to sign tokens
    /// whose signature does not match the key their `kid` names.
    pub fn with_kid(self, kid: &str) -> EcKey {
        EcKey {
            key: self.key,
            jose: self.jose.with_kid(kid),
        }
    }

    /// The public JWK (`kty`, `crv`, `x`, `y`, `kid`, `alg` = `ES256`, `use` = `sig`).
    pub fn public_jwk(&self) -> &Value {
        &self.jose.jwk
    }

    /// The public key as a PEM `PUBLIC KEY` (SubjectPublicKeyInfo) document.
    pub fn public_pem(&self) -> Option<String> {
        self.key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .ok()
    }

    /// An ES256 signature over `message`: `r || s`, 64 bytes, as JWS carries it.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let signature: Signature = self
            .key
            .try_sign(message)
            .map_err(|err| KeyError::Sign(err.to_string()))?;
        Ok(signature.to_bytes().to_vec())
    }

    /// Whether `signature` (`r || s`) is this key's ES256 signature over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        Signature::from_slice(signature)
            .is_ok_and(|sig| self.key.verifying_key().verify(message, &sig).is_ok())
    }

    /// `claims` as a compact JWS: header `{"alg":"ES256","typ":"JWT","kid":...}`.
    pub fn sign_jwt<T: Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        self.jose.sign_jwt(claims)
    }

    /// The claims of a JWT this key signed (its header naming ES256 and this key's id)
    /// with `iss` equal to `issuer`; expiry is not checked. `None` for anything else.
    pub fn verify_jwt(&self, token: &str, issuer: &str) -> Option<Map<String, Value>> {
        self.jose.verify_jwt(token, issuer)
    }
}

/// An RSA key signing RS256 JWTs.
pub struct RsaKey {
    key: rsa::RsaPrivateKey,
    jose: Jose,
}

impl fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaKey")
            .field("kid", &self.jose.kid)
            .finish_non_exhaustive()
    }
}

impl RsaKey {
    /// What [`KeyError::Malformed`] says an RSA key file should hold.
    pub const EXPECTED: &'static str = "RSA (2048 bits or more)";

    /// A fresh random key of [`RSA_BITS`] bits (this takes a moment).
    pub fn generate() -> Result<RsaKey, KeyError> {
        let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, RSA_BITS)
            .map_err(|err| KeyError::Generate(err.to_string()))?;
        RsaKey::from_key(key)
    }

    /// The key in PKCS#8 PEM text; refused when shorter than [`RSA_BITS`] or broken.
    pub fn from_pkcs8_pem(pem: &str) -> Result<RsaKey, KeyError> {
        let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem).map_err(|_| Self::malformed())?;
        // A short modulus is refused, not used: it would make every ID token forgeable.
        if key.size() * 8 < RSA_BITS || key.validate().is_err() {
            return Err(Self::malformed());
        }
        RsaKey::from_key(key)
    }

    fn malformed() -> KeyError {
        KeyError::Malformed {
            expected: Self::EXPECTED,
        }
    }

    fn from_key(key: rsa::RsaPrivateKey) -> Result<RsaKey, KeyError> {
        // jsonwebtoken signs with a PKCS#1 DER private key.
        let der = key.to_pkcs1_der().map_err(|_| Self::malformed())?;
        let mut required = Map::new();
        required.insert(
            "e".into(),
            json!(URL_SAFE_NO_PAD.encode(key.e().to_bytes_be())),
        );
        required.insert("kty".into(), json!("RSA"));
        required.insert(
            "n".into(),
            json!(URL_SAFE_NO_PAD.encode(key.n().to_bytes_be())),
        );
        let jose = Jose::new(
            IdTokenAlg::Rs256,
            required,
            jsonwebtoken::EncodingKey::from_rsa_der(der.as_bytes()),
            Self::EXPECTED,
        )?;
        Ok(RsaKey { key, jose })
    }

    /// The private key as PKCS#8 PEM text (to keep it; never log it).
    pub fn to_pkcs8_pem(&self) -> Result<String, KeyError> {
        self.key
            .to_pkcs8_pem(LineEnding::LF)
            .map(|pem| pem.as_str().to_owned())
            .map_err(|err| KeyError::Generate(err.to_string()))
    }

    /// The key id: the RFC 7638 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        &self.jose.kid
    }

    /// The same key claiming another key id: what a provider mock uses to sign tokens
    /// whose signature does not match the key their `kid` names.
    pub fn with_kid(self, kid: &str) -> RsaKey {
        RsaKey {
            key: self.key,
            jose: self.jose.with_kid(kid),
        }
    }

    /// The public JWK (`kty`, `n`, `e`, `kid`, `alg` = `RS256`, `use` = `sig`).
    pub fn public_jwk(&self) -> &Value {
        &self.jose.jwk
    }

    /// `claims` as a compact JWS: header `{"alg":"RS256","typ":"JWT","kid":...}`.
    pub fn sign_jwt<T: Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        self.jose.sign_jwt(claims)
    }

    /// The claims of a JWT this key signed with `iss` equal to `issuer`; expiry is not
    /// checked. `None` for anything else.
    pub fn verify_jwt(&self, token: &str, issuer: &str) -> Option<Map<String, Value>> {
        self.jose.verify_jwt(token, issuer)
    }

    /// `claims` as a compact JWS signed RS512 (header `{"alg":"RS512","typ":"JWT",
    /// "kid":...}`), as some providers sign their ID tokens (Globus). The hub's own
    /// tokens are RS256 or ES256 only.
    pub fn sign_jwt_rs512<T: Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS512);
        header.kid = Some(self.jose.kid.clone());
        header.typ = Some("JWT".to_owned());
        jsonwebtoken::encode(&header, claims, &self.jose.encoding)
            .map_err(|err| KeyError::Sign(err.to_string()))
    }
}

/// A provider's ID token signing keys, one per algorithm of [`ID_TOKEN_ALGS`]; both are
/// published in the JWKS.
pub struct SigningKeys {
    rsa: RsaKey,
    ec: EcKey,
}

impl fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeys")
            .field("rs256_kid", &self.rsa.kid())
            .field("es256_kid", &self.ec.kid())
            .finish_non_exhaustive()
    }
}

impl SigningKeys {
    /// The two keys.
    pub fn new(rsa: RsaKey, ec: EcKey) -> SigningKeys {
        SigningKeys { rsa, ec }
    }

    /// Fresh keys that live only in memory (tests, demos).
    pub fn generate() -> Result<SigningKeys, KeyError> {
        Ok(SigningKeys {
            rsa: RsaKey::generate()?,
            ec: EcKey::generate()?,
        })
    }

    fn jose(&self, alg: IdTokenAlg) -> &Jose {
        match alg {
            IdTokenAlg::Rs256 => &self.rsa.jose,
            IdTokenAlg::Es256 => &self.ec.jose,
        }
    }

    /// The key id of the key for `alg`.
    pub fn kid(&self, alg: IdTokenAlg) -> &str {
        &self.jose(alg).kid
    }

    /// The JWKS document (RFC 7517 §5) with both public keys, RSA first.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.rsa.public_jwk().clone(), self.ec.public_jwk().clone()] })
    }

    /// Signs `claims` as a compact JWT with the key for `alg`.
    pub fn sign<T: Serialize>(&self, alg: IdTokenAlg, claims: &T) -> Result<String, KeyError> {
        self.jose(alg).sign_jwt(claims)
    }

    /// Signs `claims` with the key for `alg`, the header's `typ` saying what kind of
    /// token it is (RFC 8725 §3.11: `logout+jwt` for logout tokens).
    pub fn sign_typed<T: Serialize>(
        &self,
        alg: IdTokenAlg,
        typ: &str,
        claims: &T,
    ) -> Result<String, KeyError> {
        self.jose(alg).sign_typed(typ, claims)
    }

    /// The claims of a JWT one of these keys signed for `issuer`, expired or not (an
    /// `id_token_hint` may be expired); `None` for anything else. The header's `alg` and
    /// `kid` must both name the same key of ours.
    pub fn verify_own(&self, token: &str, issuer: &str) -> Option<Map<String, Value>> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        let jose = [&self.rsa.jose, &self.ec.jose]
            .into_iter()
            .find(|jose| header.alg == jose.alg.jwt())?;
        jose.verify_jwt(token, issuer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(keys: &SigningKeys, alg: IdTokenAlg, token: &str) -> Value {
        let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_value(keys.jwks()).unwrap();
        let header = jsonwebtoken::decode_header(token).unwrap();
        assert_eq!(header.alg, alg.jwt());
        let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
        let mut validation = jsonwebtoken::Validation::new(alg.jwt());
        validation.set_audience(&["c"]);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        jsonwebtoken::decode::<Value>(token, &key, &validation)
            .unwrap()
            .claims
    }

    #[test]
    fn keys_round_trip_through_pem_and_sign_verifiable_tokens_with_both_algorithms() {
        let first = SigningKeys::generate().unwrap();
        let again = SigningKeys::new(
            RsaKey::from_pkcs8_pem(&first.rsa.to_pkcs8_pem().unwrap()).unwrap(),
            EcKey::from_pkcs8_pem(&first.ec.to_pkcs8_pem().unwrap()).unwrap(),
        );
        assert_eq!(first.jwks(), again.jwks());
        assert_ne!(first.kid(IdTokenAlg::Rs256), first.kid(IdTokenAlg::Es256));
        assert!(!format!("{first:?}").contains("PRIVATE"));
        let jwks = first.jwks();
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 2);
        for (key, alg, kty) in [(&keys[0], "RS256", "RSA"), (&keys[1], "ES256", "EC")] {
            assert_eq!(
                (key["alg"].as_str(), key["kty"].as_str()),
                (Some(alg), Some(kty))
            );
            assert_eq!(key["use"], "sig");
            assert!(
                key.get("d").is_none() && key.get("p").is_none(),
                "public only"
            );
        }
        for alg in ID_TOKEN_ALGS {
            let token = first
                .sign(*alg, &json!({"sub": "ada", "aud": "c"}))
                .unwrap();
            assert_eq!(decode(&again, *alg, &token)["sub"], "ada");
            let own = first
                .sign(
                    *alg,
                    &json!({"sub": "ada", "aud": "c", "iss": "https://hub"}),
                )
                .unwrap();
            assert_eq!(first.verify_own(&own, "https://hub").unwrap()["sub"], "ada");
            assert!(first.verify_own(&own, "https://other").is_none());
        }
        let stranger = SigningKeys::generate().unwrap();
        for alg in ID_TOKEN_ALGS {
            let foreign = stranger
                .sign(*alg, &json!({"sub": "ada", "iss": "https://hub"}))
                .unwrap();
            assert!(first.verify_own(&foreign, "https://hub").is_none());
        }
        assert!(first.verify_own("a.b.c", "https://hub").is_none());
    }

    #[test]
    fn key_ids_are_rfc7638_thumbprints() {
        // RFC 7638 §3.1's example key and thumbprint.
        let mut required = Map::new();
        required.insert("kty".into(), json!("RSA"));
        required.insert("n".into(), json!("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"));
        required.insert("e".into(), json!("AQAB"));
        assert_eq!(
            jwk_thumbprint(&required),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        let ec = EcKey::generate().unwrap();
        let jwk = ec.public_jwk();
        let mut members = Map::new();
        for name in ["crv", "kty", "x", "y"] {
            members.insert(name.into(), jwk[name].clone());
        }
        assert_eq!(ec.kid(), jwk_thumbprint(&members));
        assert_eq!(jwk["kid"], ec.kid());
    }

    #[test]
    fn broken_weak_or_mismatched_pem_is_refused() {
        let ec_pem = EcKey::generate().unwrap().to_pkcs8_pem().unwrap();
        let rsa_pem = RsaKey::generate().unwrap().to_pkcs8_pem().unwrap();
        assert!(matches!(
            EcKey::from_pkcs8_pem("not a key"),
            Err(KeyError::Malformed { expected: "P-256" })
        ));
        assert!(EcKey::from_pkcs8_pem(&rsa_pem).is_err());
        assert!(RsaKey::from_pkcs8_pem(&ec_pem).is_err());
        assert!(RsaKey::from_pkcs8_pem("not a key").is_err());
        // An RSA key shorter than 2048 bits is refused, not used.
        let weak = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 1024).unwrap();
        let weak = weak.to_pkcs8_pem(LineEnding::LF).unwrap();
        let err = RsaKey::from_pkcs8_pem(weak.as_str()).unwrap_err();
        assert!(err.to_string().contains("2048"), "{err}");
    }

    #[test]
    fn es256_raw_signatures_and_impostors() {
        let key = EcKey::generate().unwrap();
        let sig = key.sign(b"hello").unwrap();
        assert_eq!(sig.len(), 64);
        assert!(key.verify(b"hello", &sig));
        assert!(!key.verify(b"hellO", &sig));
        let impostor = EcKey::generate().unwrap().with_kid(key.kid());
        assert_eq!(impostor.kid(), key.kid());
        assert!(!key.verify(b"hello", &impostor.sign(b"hello").unwrap()));
        let forged = impostor.sign_jwt(&json!({"iss": "i"})).unwrap();
        assert!(key.verify_jwt(&forged, "i").is_none());
        let genuine = key.sign_jwt(&json!({"iss": "i", "sub": "ada"})).unwrap();
        assert_eq!(key.verify_jwt(&genuine, "i").unwrap()["sub"], "ada");
        assert!(
            key.public_pem()
                .unwrap()
                .starts_with("-----BEGIN PUBLIC KEY-----")
        );
    }

    #[test]
    fn id_token_algorithm_names_are_exact() {
        assert_eq!(IdTokenAlg::parse("RS256"), Some(IdTokenAlg::Rs256));
        assert_eq!(IdTokenAlg::parse("ES256"), Some(IdTokenAlg::Es256));
        for other in ["rs256", "none", "HS256", "RS256 ", "PS256", ""] {
            assert_eq!(IdTokenAlg::parse(other), None, "{other}");
        }
        assert_eq!(IdTokenAlg::default(), IdTokenAlg::Rs256);
    }
}
