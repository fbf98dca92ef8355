//! What goes into an ID token besides the signature (OpenID Connect Core 1.0 §2, §3.1.3.6).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// `at_hash`: the left half of SHA-256 of the access token, base64url without padding
/// (OIDC Core 3.1.3.6). RS256 and ES256 both hash with SHA-256, so the value is the same
/// whichever of them signs the ID token.
pub fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.get(..16).unwrap_or_default())
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
}
