//! Validation of the `next` URL: only same-origin paths under the base URL are honoured.

/// Returns the `next` target to redirect to after login, or `None` when it must be ignored.
///
/// Accepted: a path that starts with exactly one `/`, lies under `base_url`, and contains
/// no backslash or control character; its query and fragment are kept. Anything with a
/// scheme or host (`https://evil.example/`, `//evil.example/`, `/\evil.example`) is refused:
/// hubauth never redirects off-site.
pub fn validate_next(next: &str, base_url: &str) -> Option<String> {
    if next.is_empty() {
        return None;
    }
    if !next.starts_with('/') || next.starts_with("//") {
        return None;
    }
    // Browsers treat `\` as `/`, so `/\evil.example` would be protocol-relative.
    if next.contains('\\') || next.chars().any(|c| c.is_control() || c == ' ') {
        return None;
    }
    // Decoded segments may not climb out of the base URL either.
    let path = next.split(['?', '#']).next().unwrap_or("");
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    if decoded.contains("..") && decoded.split('/').any(|segment| segment == "..") {
        return None;
    }
    if decoded.starts_with("//") || decoded.contains('\\') {
        return None;
    }
    if !path.starts_with(base_url) && format!("{path}/") != base_url {
        return None;
    }
    Some(next.to_owned())
}

/// Like [`validate_next`], and also accepts an absolute `http(s)` URL whose host is in
/// `allowed_hosts` (`[Hub] forward_auth_allowed_hosts`: the apps protected by forward-auth
/// that a login may return to). Userinfo and hosts not listed are refused.
pub fn validate_next_with_hosts(
    next: &str,
    base_url: &str,
    allowed_hosts: &[String],
) -> Option<String> {
    if let Some(path) = validate_next(next, base_url) {
        return Some(path);
    }
    if allowed_hosts.is_empty()
        || next
            .chars()
            .any(|c| c.is_control() || c == ' ' || c == '\\')
    {
        return None;
    }
    let lower = next.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return None;
    }
    let parsed = url::Url::parse(next).ok()?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return None;
    }
    let host = parsed.host_str()?;
    let authority = match parsed.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    allowed_hosts
        .iter()
        .any(|allowed| crate::forward_auth::host_matches(allowed, &authority))
        .then(|| parsed.to_string())
}

#[cfg(test)]
mod tests {
    use super::{validate_next, validate_next_with_hosts};

    #[test]
    fn forward_auth_hosts_accepted_only_when_listed() {
        let hosts = vec!["app.example".to_owned()];
        assert_eq!(
            validate_next_with_hosts("https://app.example/x?y=1", "/", &hosts).as_deref(),
            Some("https://app.example/x?y=1")
        );
        assert_eq!(
            validate_next_with_hosts("/hub/home", "/", &hosts).as_deref(),
            Some("/hub/home")
        );
        for bad in [
            "https://evil.example/",
            "https://app.example.evil.example/",
            "https://user@app.example/",
            "javascript://app.example/",
            "//app.example/",
        ] {
            assert_eq!(validate_next_with_hosts(bad, "/", &hosts), None, "{bad}");
        }
        assert_eq!(
            validate_next_with_hosts("https://app.example/", "/", &[]),
            None
        );
    }

    #[test]
    fn same_origin_paths_kept() {
        assert_eq!(
            validate_next("/hub/home", "/").as_deref(),
            Some("/hub/home")
        );
        assert_eq!(
            validate_next("/app/x?y=1#z", "/").as_deref(),
            Some("/app/x?y=1#z")
        );
        assert_eq!(
            validate_next("/auth/hub/home", "/auth/").as_deref(),
            Some("/auth/hub/home")
        );
        assert_eq!(validate_next("/auth", "/auth/").as_deref(), Some("/auth"));
    }

    #[test]
    fn off_site_and_odd_targets_refused() {
        for bad in [
            "https://evil.example/",
            "//evil.example/x",
            "/\\evil.example",
            "\\\\evil.example",
            "evil.example",
            "javascript:alert(1)",
            "/%2F%2Fevil.example",
            "/hub/../../etc",
            "/a\r\nSet-Cookie: x=1",
            "",
        ] {
            assert_eq!(validate_next(bad, "/"), None, "{bad:?}");
        }
        assert_eq!(validate_next("/other/x", "/auth/"), None);
    }
}
