//! Parsing of database URLs (JupyterHub's `db_url`).

use std::path::PathBuf;

use crate::StoreError;

/// Where a database URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DatabaseLocation {
    /// An SQLite database file (relative paths are relative to the working directory).
    SqliteFile(PathBuf),
    /// A private in-memory SQLite database, lost when the store is closed.
    SqliteMemory,
}

/// Parse a database URL.
///
/// Accepted forms, as JupyterHub (SQLAlchemy) and sqlx write them:
/// - `sqlite:///relative/file.sqlite` (three slashes: path relative to the
///   working directory),
/// - `sqlite:////abs/path.sqlite` (four slashes: absolute path),
/// - `sqlite://path` and `sqlite:path` (sqlx style, relative),
/// - `sqlite::memory:`, `sqlite://:memory:`, `sqlite:///:memory:` and `sqlite://`
///   (in memory).
///
/// A `sqlite+driver` scheme (`sqlite+pysqlite:///...`) is treated as `sqlite`.
/// Any other scheme, query parameters, or an empty path is
/// [`StoreError::UnsupportedUrl`]; the error never repeats the URL, which may
/// contain a password.
pub fn parse_database_url(url: &str) -> Result<DatabaseLocation, StoreError> {
    let url = url.trim();
    let Some((scheme, rest)) = url
        .split_once(':')
        .filter(|(scheme, _)| looks_like_scheme(scheme))
    else {
        return Err(unsupported("", "the URL has no scheme"));
    };
    let scheme_lower = scheme.to_ascii_lowercase();
    let base = scheme_lower
        .split_once('+')
        .map_or(scheme_lower.as_str(), |(base, _driver)| base);
    if base != "sqlite" {
        let reason = match base {
            "postgres" | "postgresql" => {
                "a PostgreSQL URL names a server, not an SQLite location (hubauth_store::open \
                 opens it)"
            }
            "mysql" | "mariadb" => "MySQL is not supported",
            _ => "this database engine is not supported",
        };
        return Err(unsupported(scheme, reason));
    }
    if rest.contains('?') {
        return Err(unsupported(
            scheme,
            "query parameters in SQLite URLs are not supported",
        ));
    }
    let path = match rest.strip_prefix("//") {
        // sqlite:// (SQLAlchemy's in-memory form)
        Some("") => return Ok(DatabaseLocation::SqliteMemory),
        // sqlite:///relative or sqlite:////absolute
        Some(after) if after.starts_with('/') => after.get(1..).unwrap_or_default(),
        // sqlite://path (sqlx style)
        Some(after) => after,
        // sqlite:path, sqlite::memory:
        None => rest,
    };
    if path == ":memory:" {
        return Ok(DatabaseLocation::SqliteMemory);
    }
    if path.is_empty() {
        return Err(unsupported(scheme, "the URL names no database file"));
    }
    Ok(DatabaseLocation::SqliteFile(PathBuf::from(path)))
}

/// RFC 3986 scheme syntax: a letter, then letters, digits, `+`, `-` or `.`.
fn looks_like_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && s.len() <= 32
}

fn unsupported(scheme: &str, reason: &str) -> StoreError {
    StoreError::UnsupportedUrl {
        scheme: scheme.to_owned(),
        reason: reason.to_owned(),
    }
}

/// The scheme of a URL as written, or `""` when it has none.
pub(crate) fn scheme_of(url: &str) -> String {
    url.trim()
        .split_once(':')
        .filter(|(scheme, _)| looks_like_scheme(scheme))
        .map(|(scheme, _)| scheme.to_owned())
        .unwrap_or_default()
}

/// For a PostgreSQL URL (`postgres:`, `postgresql:` or `postgresql+driver:`),
/// its scheme as written and the URL with the scheme sqlx expects; `None` for
/// any other URL. The returned URL may hold a password: never log or show it.
pub(crate) fn postgres_url(url: &str) -> Option<(String, String)> {
    let url = url.trim();
    let (scheme, rest) = url
        .split_once(':')
        .filter(|(scheme, _)| looks_like_scheme(scheme))?;
    let lower = scheme.to_ascii_lowercase();
    let base = lower
        .split_once('+')
        .map_or(lower.as_str(), |(base, _)| base);
    matches!(base, "postgres" | "postgresql")
        .then(|| (scheme.to_owned(), format!("postgres:{rest}")))
}
