//! The cookie secret and random tokens.

use std::fmt;
use std::io::Write;
use std::path::Path;

use base64::Engine as _;
use rand::RngCore;

/// The secret that signs the hub's cookies (JupyterHub's cookie secret).
#[derive(Clone)]
pub struct CookieSecret(Vec<u8>);

impl fmt::Debug for CookieSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CookieSecret([redacted])")
    }
}

/// Why the cookie secret could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The file exists but could not be read, or could not be created.
    #[error(
        "cookie secret file {path} ([Hub] cookie_secret_file): {source}; the hub's user must be able to read it, or to create it in its directory"
    )]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is readable by group or others.
    #[error(
        "cookie secret file {path} has permissions {mode:o}; it must be readable by its owner only (chmod 600)"
    )]
    TooOpen {
        /// The file.
        path: String,
        /// Its mode bits.
        mode: u32,
    },
    /// The secret is not hex, or too short.
    #[error("{source_name} must hold at least 32 bytes, hex-encoded (64 hex digits); {fix}")]
    Malformed {
        /// The file or variable the secret came from.
        source_name: String,
        /// What to do about it.
        fix: &'static str,
    },
}

impl CookieSecret {
    /// Wraps raw secret bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        CookieSecret(bytes)
    }

    /// A fresh random secret (tests and the demo).
    pub fn random() -> Self {
        CookieSecret(random_bytes(32))
    }

    /// The raw bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// Loads the secret as JupyterHub does: from `JPY_COOKIE_SECRET` (hex) when given,
    /// else from the file (hex), creating the file with mode 600 when missing.
    pub fn load(env_value: Option<&str>, path: &Path) -> Result<Self, SecretError> {
        if let Some(value) = env_value.filter(|value| !value.trim().is_empty()) {
            return parse_hex(
                value,
                "JPY_COOKIE_SECRET",
                "unset it to use [Hub] cookie_secret_file, or set it to the output of `openssl rand -hex 32`",
            );
        }
        let shown = path.display().to_string();
        match std::fs::metadata(path) {
            Ok(meta) => {
                check_mode(&meta, &shown)?;
                let text = std::fs::read_to_string(path).map_err(|source| SecretError::Io {
                    path: shown.clone(),
                    source,
                })?;
                parse_hex(
                    &text,
                    &format!("cookie secret file {shown} ([Hub] cookie_secret_file)"),
                    "delete it to have a new one made at the next start (this logs everybody out), or write the output of `openssl rand -hex 32` into it",
                )
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let secret = random_bytes(32);
                write_private(path, hex::encode(&secret).as_bytes()).map_err(|source| {
                    SecretError::Io {
                        path: shown.clone(),
                        source,
                    }
                })?;
                tracing::info!(path = %shown, "wrote a new cookie secret");
                Ok(CookieSecret(secret))
            }
            Err(source) => Err(SecretError::Io {
                path: shown,
                source,
            }),
        }
    }
}

fn parse_hex(
    text: &str,
    source_name: &str,
    fix: &'static str,
) -> Result<CookieSecret, SecretError> {
    let malformed = || SecretError::Malformed {
        source_name: source_name.to_owned(),
        fix,
    };
    let bytes = hex::decode(text.trim()).map_err(|_| malformed())?;
    if bytes.len() < 32 {
        return Err(malformed());
    }
    Ok(CookieSecret(bytes))
}

#[cfg(unix)]
fn check_mode(meta: &std::fs::Metadata, path: &str) -> Result<(), SecretError> {
    match too_open_mode(meta) {
        Some(mode) => Err(SecretError::TooOpen {
            path: path.to_owned(),
            mode,
        }),
        None => Ok(()),
    }
}

#[cfg(not(unix))]
fn check_mode(_meta: &std::fs::Metadata, _path: &str) -> Result<(), SecretError> {
    Ok(())
}

/// The file's permission bits when group or others may access it (a secret file must be
/// private to its owner); `None` when it is private.
#[cfg(unix)]
pub(crate) fn too_open_mode(meta: &std::fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then_some(mode)
}

/// Creates `path` (which must not exist) readable by its owner only, with `contents`.
pub(crate) fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// `len` random bytes from the operating system's generator.
pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

/// A random token of 32 bytes, URL-safe base64 without padding.
pub fn random_token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes(32))
}

/// SHA-256 of a token, hex: what the store keeps instead of the token.
pub fn hash_token(token: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(token.as_bytes());
    // `hex::encode` goes a char at a time; this is on every session check.
    let mut out = [0u8; 64];
    match hex::encode_to_slice(digest, &mut out) {
        Ok(()) => String::from_utf8_lossy(&out).into_owned(),
        Err(_) => hex::encode(digest),
    }
}
