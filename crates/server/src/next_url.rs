//! Validation of the `next` URL: only same-origin paths under the base URL are honoured.

/// Returns the `next` target to redirect to after login, or `None` when it must be ignored.
///
/// Accepted: a path that starts with exactly one `/`, lies under `base_url`, and contains
/// no empty segment (`//`), backslash or control character, also once percent-decoded;
/// its query and fragment are kept. Anything with a
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
    // An empty segment (`/x//evil.example`, also as `%2F%2F`) is refused anywhere in the
    // path, not only at its start: apps and proxies that merge or re-resolve slashes would
    // turn it into a protocol-relative URL. Queries may hold URLs: they are the app's.
    if path.contains("//") || decoded.contains("//") || decoded.contains('\\') {
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

/// Property tests: whatever `next` a client sends, a target the hub accepts stays on the
/// hub's own origin under its base URL (or on a listed forward-auth host) once a browser
/// resolves it.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::{validate_next, validate_next_with_hosts};

    const HUB: &str = "https://hub.example";
    const APP: &str = "www.whitelisteddomain.tld";

    /// Where a browser goes when it is sent `Location: target` by the hub at `HUB`: the
    /// WHATWG URL parser (the `url` crate) resolving the target against the page's URL.
    fn browser_target(target: &str) -> Option<url::Url> {
        url::Url::parse(&format!("{HUB}/hub/login"))
            .ok()?
            .join(target)
            .ok()
    }

    /// The security property of `validate_next`: an accepted target resolves to the hub's
    /// origin, inside `base_url`, without credentials.
    fn assert_stays_on_the_hub(next: &str, base_url: &str) {
        let Some(accepted) = validate_next(next, base_url) else {
            return;
        };
        let resolved = browser_target(&accepted)
            .unwrap_or_else(|| panic!("accepted {next:?}, which a browser cannot resolve"));
        assert_eq!(
            resolved.origin().ascii_serialization(),
            HUB,
            "{next:?} leaves the hub: {resolved}"
        );
        assert!(resolved.username().is_empty() && resolved.password().is_none());
        let path = resolved.path();
        assert!(
            path.starts_with(base_url) || format!("{path}/") == base_url,
            "{next:?} resolves outside {base_url}: {path}"
        );
    }

    /// Unescapes a line of the payload list once, as a query parameter is decoded.
    fn query_unescape(line: &str) -> String {
        percent_encoding::percent_decode_str(&line.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    }

    fn open_redirect_payloads() -> impl Iterator<Item = String> {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/open_redirects.txt"
        ))
        .lines()
        .filter(|line| !line.starts_with("# "))
        .map(query_unescape)
    }

    #[test]
    fn oauth2_proxy_open_redirect_payloads_are_all_refused() {
        let hosts = vec![APP.to_owned()];
        let mut count = 0;
        for payload in open_redirect_payloads() {
            count += 1;
            // Same-origin paths whose query holds a URL: the hub sends the browser to its
            // own origin; what an app does with its own query string is the app's business
            // (the hub's own endpoints check their redirect targets exactly).
            if payload.starts_with("/?")
                || payload.starts_with("/redirect?")
                || payload.starts_with("/ReceiveAutoRedirect/false?")
            {
                assert_stays_on_the_hub(&payload, "/");
                continue;
            }
            for base in ["/", "/auth/"] {
                assert_eq!(
                    validate_next(&payload, base),
                    None,
                    "{payload:?} under {base}"
                );
                assert_eq!(
                    validate_next_with_hosts(&payload, base, &hosts),
                    None,
                    "{payload:?} under {base} with {APP} allowed"
                );
            }
        }
        assert!(count > 500, "the payload list was not read ({count} lines)");
    }

    /// Characters that matter to URL parsers: slashes both ways, dots, percent escapes,
    /// userinfo and port separators, whitespace and controls that browsers strip.
    fn hostile_next() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("/".to_owned()),
            Just("\\".to_owned()),
            Just(".".to_owned()),
            Just("..".to_owned()),
            Just("%2f".to_owned()),
            Just("%2F".to_owned()),
            Just("%5c".to_owned()),
            Just("%2e".to_owned()),
            Just("%09".to_owned()),
            Just("%00".to_owned()),
            Just("@".to_owned()),
            Just(":".to_owned()),
            Just("?".to_owned()),
            Just("#".to_owned()),
            Just("auth".to_owned()),
            Just("evil.example".to_owned()),
            Just("https:".to_owned()),
            Just("javascript:".to_owned()),
            Just("\t".to_owned()),
            Just("\n".to_owned()),
            Just(" ".to_owned()),
            Just("\u{3002}".to_owned()),
            "[a-z0-9]{1,4}",
            any::<char>().prop_map(String::from),
        ];
        prop::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

        #[test]
        fn accepted_next_never_leaves_the_hub(next in hostile_next()) {
            assert_stays_on_the_hub(&next, "/");
            assert_stays_on_the_hub(&next, "/auth/");
        }

        #[test]
        fn accepted_next_with_hosts_goes_only_to_listed_hosts(next in hostile_next()) {
            let hosts = vec![APP.to_owned()];
            if let Some(accepted) = validate_next_with_hosts(&next, "/", &hosts) {
                let resolved = browser_target(&accepted).expect("accepted target resolves");
                let host = resolved.host_str().unwrap_or_default().to_owned();
                prop_assert!(
                    resolved.origin().ascii_serialization() == HUB || host == APP,
                    "{:?} goes to {}", next, resolved
                );
                prop_assert!(resolved.username().is_empty() && resolved.password().is_none());
            }
        }
    }
}
