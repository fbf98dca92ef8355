//! Header values every layer reads or writes the same way: the first of a comma-separated
//! header's values, the token of an `Authorization` header, and the headers of every page
//! the hub renders itself.

use axum::http::{HeaderMap, HeaderValue, header};

/// The first of a header's comma-separated values, trimmed; `None` when the header is
/// absent, not text, or that value is empty (`X-Forwarded-Host: a, b` gives `a`).
pub fn first_header_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(',').next())
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// The headers of every page the hub renders itself: it may not be framed by any site
/// (`X-Frame-Options: DENY` and `frame-ancestors 'none'`, added to a policy already set),
/// and the browser sends no `Referer` from it (login and callback URLs carry `next`,
/// `state` and codes).
pub fn page_headers(headers: &mut HeaderMap) {
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    let policy = headers
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|policy| !policy.is_empty())
        .map(str::to_owned);
    let policy = match policy {
        None => "frame-ancestors 'none'".to_owned(),
        Some(policy)
            if policy.split(';').any(|part| {
                part.trim()
                    .to_ascii_lowercase()
                    .starts_with("frame-ancestors")
            }) =>
        {
            policy
        }
        Some(policy) => format!("{}; frame-ancestors 'none'", policy.trim_end_matches(';')),
    };
    if let Ok(value) = HeaderValue::from_str(&policy) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// The token value of an `Authorization: token X` or `Authorization: Bearer X` header.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    if (scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer"))
        && !token.is_empty()
    {
        Some(token)
    } else {
        None
    }
}
