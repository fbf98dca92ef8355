//! Proof Key for Code Exchange (RFC 7636), S256 only: `plain` would hand the secret to
//! whoever sees the authorization request.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The length of an S256 `code_challenge`: 32 bytes of SHA-256, base64url unpadded.
pub const CHALLENGE_LEN: usize = 43;

/// Whether every character of a verifier or challenge is one RFC 7636 §4.1 allows
/// (`ALPHA / DIGIT / "-" / "." / "_" / "~"`).
pub fn is_pkce_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Whether a verifier has the form RFC 7636 §4.1 gives it: 43 to 128 allowed characters.
pub fn is_valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len()) && is_pkce_value(verifier)
}

/// Whether a challenge has the form an S256 challenge has.
pub fn is_valid_s256_challenge(challenge: &str) -> bool {
    challenge.len() == CHALLENGE_LEN && is_pkce_value(challenge)
}

/// `BASE64URL(SHA256(verifier))` without padding (RFC 7636 §4.2).
pub fn pkce_s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether `verifier` is the one `challenge` was made from, compared in constant time.
pub fn verifier_matches(verifier: &str, challenge: &str) -> bool {
    let computed = pkce_s256(verifier);
    let (computed, challenge) = (computed.as_bytes(), challenge.as_bytes());
    computed.len() == challenge.len() && bool::from(computed.ct_eq(challenge))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert_eq!(pkce_s256(verifier), challenge);
        assert!(verifier_matches(verifier, challenge));
        assert!(!verifier_matches(&verifier.replace('d', "e"), challenge));
        assert!(is_valid_verifier(verifier));
        assert!(is_valid_s256_challenge(challenge));
    }

    #[test]
    fn malformed_values_are_refused() {
        assert!(!is_valid_verifier(&"a".repeat(42)));
        assert!(is_valid_verifier(&"a".repeat(128)));
        assert!(!is_valid_verifier(&"a".repeat(129)));
        assert!(!is_valid_verifier(&format!("{} ", "a".repeat(43))));
        assert!(!is_valid_s256_challenge(&"a".repeat(44)));
        assert!(!is_valid_s256_challenge(&format!("{}+", "a".repeat(42))));
    }
}
