//! JupyterHub's stored token hashes, checked against values made by JupyterHub's own
//! `jupyterhub.utils.hash_token` (6.1.1).

use hubauth_store::jupyterhub_hash::{
    is_jupyterhub_hash, jupyterhub_hash, jupyterhub_hash_matches, jupyterhub_prefix,
};

/// `hash_token('abcdef0123456789', salt='0011223344556677', rounds=1)`: a generated token.
const GENERATED: &str = "sha512:1:0011223344556677:682366b2121596d10a3d2d6a32f0066ea6d0475e982c6f880d948a709c58c58d0410aa58c43dc4df5717cb847275e1daf730f8266e86593bac37b052184feca6";
/// `hash_token('user-supplied-token-1', salt='a1b2c3d4e5f60718', rounds=16384)`.
const SUPPLIED: &str = "sha512:16384:a1b2c3d4e5f60718:408702e87d61a1c1af5e8cd2cce834c234741b5ba0d4b4f488d6557a9c899d674678d9f81380633d6e6bd7bec15388163e553ae1e5b7ca663201df93d61ccb12";
/// `hash_token('héllo', salt='00', rounds=3, algorithm='sha256')`: UTF-8 and sha256.
const SHA256_UTF8: &str =
    "sha256:3:00:9b8c12328065695420ff5b950c9b688579e8b370d796f6f4f08fee55cc174135";

#[test]
fn hashes_made_by_jupyterhub_match_their_tokens_only() {
    assert!(jupyterhub_hash_matches(GENERATED, "abcdef0123456789"));
    assert!(jupyterhub_hash_matches(SUPPLIED, "user-supplied-token-1"));
    assert!(jupyterhub_hash_matches(SHA256_UTF8, "héllo"));
    assert!(!jupyterhub_hash_matches(GENERATED, "abcdef012345678"));
    assert!(!jupyterhub_hash_matches(GENERATED, "abcdef0123456789 "));
    assert!(!jupyterhub_hash_matches(SUPPLIED, "user-supplied-token-2"));
    assert!(!jupyterhub_hash_matches(SHA256_UTF8, "hello"));
}

#[test]
fn our_hash_is_jupyterhubs() {
    assert_eq!(
        jupyterhub_hash("abcdef0123456789", "0011223344556677", 1),
        GENERATED
    );
    assert_eq!(
        jupyterhub_hash("user-supplied-token-1", "a1b2c3d4e5f60718", 16384),
        SUPPLIED
    );
    assert_eq!(jupyterhub_prefix("héllo-world"), "héll");
}

#[test]
fn tokens_over_64_characters_never_match_as_in_jupyterhub() {
    let long = "x".repeat(65);
    let stored = jupyterhub_hash(&long, "00", 1);
    assert!(!jupyterhub_hash_matches(&stored, &long));
    let max = "y".repeat(64);
    assert!(jupyterhub_hash_matches(
        &jupyterhub_hash(&max, "00", 1),
        &max
    ));
}

#[test]
fn malformed_or_foreign_hashes_never_match() {
    let token = "abcdef0123456789";
    let digest = GENERATED.rsplit(':').next().unwrap();
    for stored in [
        // hubauth's own format: hex SHA-256, no ':'.
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".to_owned(),
        String::new(),
        format!("md5:1:0011223344556677:{digest}"),
        format!("sha512:+1:0011223344556677:{digest}"),
        format!("sha512:-1:0011223344556677:{digest}"),
        format!("sha512::0011223344556677:{digest}"),
        format!("sha512:1:0011223344556677:{}", digest.to_uppercase()),
        format!("sha512:1:0011223344556677:{}", &digest[2..]),
        format!("sha512:1:0011223344556677:{digest}:extra"),
        format!("sha512:99999999999:0011223344556677:{digest}"),
        "sha512:1:0011223344556677".to_owned(),
    ] {
        assert!(!is_jupyterhub_hash(&stored), "{stored}");
        assert!(!jupyterhub_hash_matches(&stored, token), "{stored}");
    }
    assert!(is_jupyterhub_hash(GENERATED));
}
