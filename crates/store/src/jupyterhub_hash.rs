//! JupyterHub's stored token hashes, so that tokens imported from a JupyterHub database
//! (`hubauth import-db`) keep working.
//!
//! JupyterHub stores an API token (and an OAuth client's secret) as
//! `algorithm:rounds:salt:hexdigest` (`jupyterhub.utils.hash_token`), where the digest is
//! `H(salt || token × rounds)`: the salt's UTF-8 bytes once, then the token's UTF-8 bytes
//! `rounds` times, into one hash. Tokens it generates use one round and an 8-byte hex
//! salt; tokens a user supplies use 16,384 rounds. Tokens are found by their first four
//! characters (`api_tokens.prefix`) and compared with each candidate
//! (`jupyterhub.utils.compare_token`), which refuses tokens longer than 64 characters.
//!
//! hubauth's own tokens are stored as the hex SHA-256 of the token (no `:`), so the two
//! formats never collide. Anything that does not parse as the format above, names another
//! algorithm, or asks for an absurd number of rounds never matches (fail closed).

use subtle::ConstantTimeEq as _;

/// How many leading characters of a token JupyterHub stores as its prefix.
pub const JUPYTERHUB_PREFIX_LEN: usize = 4;

/// The longest token JupyterHub compares (`jupyterhub.utils._TOKEN_MAX_LEN`).
pub const JUPYTERHUB_MAX_TOKEN_LEN: usize = 64;

/// The most hash rounds accepted: JupyterHub uses 1 or 16,384; more would let one stored
/// row make every lookup of its prefix slow.
const MAX_ROUNDS: u64 = 100_000;

/// The prefix JupyterHub stores for `token` (its first four characters).
pub fn jupyterhub_prefix(token: &str) -> String {
    token.chars().take(JUPYTERHUB_PREFIX_LEN).collect()
}

/// The digest algorithms JupyterHub's `hashlib.new(algorithm)` may have been given that
/// hubauth checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    Sha256,
    Sha384,
    Sha512,
}

/// A parsed `algorithm:rounds:salt:hexdigest`.
struct Parsed<'a> {
    algorithm: Algorithm,
    rounds: u64,
    salt: &'a str,
    digest: &'a str,
}

fn parse(stored: &str) -> Option<Parsed<'_>> {
    let mut parts = stored.split(':');
    let (algorithm, rounds, salt, digest) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let algorithm = match algorithm {
        "sha256" => Algorithm::Sha256,
        "sha384" => Algorithm::Sha384,
        "sha512" => Algorithm::Sha512,
        _ => return None,
    };
    if rounds.is_empty() || !rounds.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rounds: u64 = rounds.parse().ok()?;
    if rounds > MAX_ROUNDS {
        return None;
    }
    let expected_len = match algorithm {
        Algorithm::Sha256 => 64,
        Algorithm::Sha384 => 96,
        Algorithm::Sha512 => 128,
    };
    if digest.len() != expected_len
        || !digest
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    Some(Parsed {
        algorithm,
        rounds,
        salt,
        digest,
    })
}

/// Whether `stored` is a hash in JupyterHub's format that hubauth can check.
pub fn is_jupyterhub_hash(stored: &str) -> bool {
    parse(stored).is_some()
}

fn digest_hex<D: sha2::Digest>(salt: &str, token: &str, rounds: u64) -> String {
    let mut hasher = D::new();
    hasher.update(salt.as_bytes());
    for _ in 0..rounds {
        hasher.update(token.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Whether `token` is the token `stored` (JupyterHub's `compare_token`): false for a
/// token over 64 characters and for anything `stored` that is not a hash hubauth checks.
/// The digests are compared in constant time.
pub fn jupyterhub_hash_matches(stored: &str, token: &str) -> bool {
    if token.chars().count() > JUPYTERHUB_MAX_TOKEN_LEN {
        return false;
    }
    let Some(parsed) = parse(stored) else {
        return false;
    };
    let computed = match parsed.algorithm {
        Algorithm::Sha256 => digest_hex::<sha2::Sha256>(parsed.salt, token, parsed.rounds),
        Algorithm::Sha384 => digest_hex::<sha2::Sha384>(parsed.salt, token, parsed.rounds),
        Algorithm::Sha512 => digest_hex::<sha2::Sha512>(parsed.salt, token, parsed.rounds),
    };
    computed.as_bytes().ct_eq(parsed.digest.as_bytes()).into()
}

/// JupyterHub's `hash_token(token, salt, rounds, "sha512")`, for tests and tools that
/// need a stored value made the way JupyterHub makes it.
pub fn jupyterhub_hash(token: &str, salt: &str, rounds: u64) -> String {
    let digest = digest_hex::<sha2::Sha512>(salt, token, rounds);
    format!("sha512:{rounds}:{salt}:{digest}")
}
