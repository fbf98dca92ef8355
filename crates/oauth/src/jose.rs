//! The cryptography behind `jsonwebtoken` for this process: ECDSA signatures (ES256,
//! ES384) are verified with `ring`, whose P-256 and P-384 arithmetic is assembly-backed and
//! several times faster than the portable RustCrypto code; everything else (RSA, EdDSA,
//! HMAC, all signing, JWK utilities) stays with `jsonwebtoken`'s RustCrypto provider.
//!
//! An ID token's ES256 check was about three quarters of the instructions the hub spends
//! on a login (BENCHMARKS.md). The verdict is the same: `ring` checks that the key is a
//! point on the curve and that the signature is the fixed-size `r || s` of JWS (RFC 7518
//! §3.4); a key in any other form goes to the RustCrypto verifier, as before.

use std::sync::OnceLock;

use jsonwebtoken::crypto::{CryptoProvider, JwtVerifier};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind};

/// Makes this module's provider the process's `jsonwebtoken` provider, unless one is
/// already chosen (by an embedding application, or by an earlier use of `jsonwebtoken`,
/// which then keeps RustCrypto: only slower, never less strict). Called before every
/// verification; cheap after the first call.
pub fn install() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let base = &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER;
        let provider: &'static CryptoProvider = Box::leak(Box::new(CryptoProvider {
            signer_factory: base.signer_factory,
            verifier_factory: verifier,
            key_utils: base.key_utils.clone(),
        }));
        // Err: another provider was chosen first; it stays.
        let _ = provider.install_default();
    });
}

fn verifier(
    algorithm: &Algorithm,
    key: &DecodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtVerifier>> {
    let curve = match algorithm {
        Algorithm::ES256 => Some((&ring::signature::ECDSA_P256_SHA256_FIXED, 65)),
        Algorithm::ES384 => Some((&ring::signature::ECDSA_P384_SHA384_FIXED, 97)),
        _ => None,
    };
    if let (Some((ring_alg, point_len)), DecodingKeyKind::SecretOrDer(point)) =
        (curve, key.kind())
        // An uncompressed SEC1 point (what a JWK's x and y make); other forms go below.
        && point.len() == point_len
        && point.first() == Some(&0x04)
    {
        return Ok(Box::new(RingEcdsa {
            algorithm: *algorithm,
            ring_alg,
            point: point.clone(),
        }));
    }
    (jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.verifier_factory)(algorithm, key)
}

/// An ECDSA public key checked by `ring`.
struct RingEcdsa {
    algorithm: Algorithm,
    ring_alg: &'static ring::signature::EcdsaVerificationAlgorithm,
    point: Vec<u8>,
}

impl signature::Verifier<Vec<u8>> for RingEcdsa {
    fn verify(&self, message: &[u8], signature: &Vec<u8>) -> Result<(), signature::Error> {
        ring::signature::UnparsedPublicKey::new(self.ring_alg, &self.point)
            .verify(message, signature)
            .map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for RingEcdsa {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ES256 and ES384 tokens verify through `ring` exactly when RustCrypto says they do:
    /// the right key, a wrong key, a changed payload, a signature of the wrong length.
    #[test]
    fn ring_and_rustcrypto_agree() {
        install();
        for (alg, curve) in [
            (Algorithm::ES256, &rcgen::PKCS_ECDSA_P256_SHA256),
            (Algorithm::ES384, &rcgen::PKCS_ECDSA_P384_SHA384),
        ] {
            let pair = rcgen::KeyPair::generate_for(curve).unwrap();
            let other = rcgen::KeyPair::generate_for(curve).unwrap();
            let encoding = jsonwebtoken::EncodingKey::from_ec_der(&pair.serialize_der());
            let claims = serde_json::json!({"sub": "ada"});
            let token =
                jsonwebtoken::encode(&jsonwebtoken::Header::new(alg), &claims, &encoding).unwrap();
            let (message, signature) = token.rsplit_once('.').unwrap();
            let point = |pair: &rcgen::KeyPair| DecodingKey::from_ec_der(pair.public_key_raw());
            let right = point(&pair);
            let wrong = point(&other);
            let base = &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER;
            let check = |key: &DecodingKey, message: &str, signature: &[u8]| {
                let ours = verifier(&alg, key).unwrap();
                let theirs = (base.verifier_factory)(&alg, key).unwrap();
                let a = ours.verify(message.as_bytes(), &signature.to_vec()).is_ok();
                let b = theirs
                    .verify(message.as_bytes(), &signature.to_vec())
                    .is_ok();
                assert_eq!(a, b, "{alg:?}");
                a
            };
            use base64::Engine as _;
            let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(signature)
                .unwrap();
            assert!(check(&right, message, &raw));
            assert!(!check(&wrong, message, &raw));
            assert!(!check(&right, &format!("{message}x"), &raw));
            assert!(!check(&right, message, &raw[1..]));
            let mut flipped = raw.clone();
            flipped[3] ^= 1;
            assert!(!check(&right, message, &flipped));
            // And through jsonwebtoken's own decode, with the process's provider.
            let mut validation = jsonwebtoken::Validation::new(alg);
            validation.required_spec_claims.clear();
            validation.validate_exp = false;
            assert!(jsonwebtoken::decode::<serde_json::Value>(&token, &right, &validation).is_ok());
            assert!(
                jsonwebtoken::decode::<serde_json::Value>(&token, &wrong, &validation).is_err()
            );
        }
    }
}
