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
    let decoded = percent_decode(path);
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

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes.get(index).copied().unwrap_or(0);
        if byte == b'%' {
            let hex = bytes.get(index + 1..index + 3).and_then(|pair| {
                std::str::from_utf8(pair)
                    .ok()
                    .and_then(|pair| u8::from_str_radix(pair, 16).ok())
            });
            if let Some(value) = hex {
                out.push(value);
                index += 3;
                continue;
            }
        }
        out.push(byte);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::validate_next;

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
