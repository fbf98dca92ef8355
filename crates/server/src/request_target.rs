//! The host and the path of a request as access rules see them, read strictly.
//!
//! `forward_auth_rules` and the built-in proxy's routes decide from a host and a path the
//! client chose. What cannot be read exactly is refused, never replaced by a default: a bad
//! host never becomes "no host", a bad path never becomes `/`. A path is read every way an
//! app behind the proxy might read it ([`TargetPath`]), and a rule applies when it applies
//! to any of those readings.

use std::borrow::Cow;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use axum::http::HeaderMap;

/// Why the host or the path of a request cannot be checked against the rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadTarget {
    /// A host header that is not a host name (or IP literal) with an optional numeric port.
    #[error("{0} is not a host name with an optional numeric port")]
    Host(&'static str),
    /// A header given several times (or as a list) with values that differ.
    #[error("{0} has several different values")]
    Conflicting(&'static str),
    /// Neither `X-Forwarded-Uri` nor `X-Original-URI` was sent.
    #[error("the proxy did not say which address was asked for (X-Forwarded-Uri)")]
    MissingUri,
    /// The original URI is neither a path nor an `http(s)` URL.
    #[error("the address asked for is not a path or an http(s) URL")]
    Uri,
    /// An absolute original URI whose host is not the forwarded host.
    #[error("the address asked for names another host than the request")]
    HostMismatch,
    /// A path with bytes that cannot be read one way only.
    #[error(
        "the path has characters that cannot be checked (spaces, controls, non-ASCII, # or %00)"
    )]
    Path,
}

/// A host name that is not one: the error of [`HostName::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "not a host name (letters, digits, - and _ in dot-separated labels) or IP address, with an optional numeric :port"
)]
pub struct InvalidHost;

/// A request's host, or a rule's host pattern, in one canonical form: lower-case, without
/// a trailing dot, IP addresses as Rust writes them (IPv6 in brackets), and the port as a
/// number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostName {
    name: String,
    port: Option<u16>,
}

impl HostName {
    /// Reads `host` or `host:port` as a `Host` header carries it.
    ///
    /// One trailing dot is dropped (`app.example.` is `app.example`, as proxies route it);
    /// the port must be 1 to 5 digits up to 65535. Everything else is refused: a port that
    /// is not a number (`:80x`, `:!`, `:@evil`), userinfo, empty labels (`a..b`), spaces,
    /// non-ASCII (browsers send IDNs as `xn--`), bare IPv6 without brackets.
    pub fn parse(raw: &str) -> Result<Self, InvalidHost> {
        if raw.is_empty() || raw.len() > 300 {
            return Err(InvalidHost);
        }
        let (name, port) = if let Some(rest) = raw.strip_prefix('[') {
            let (inside, after) = rest.split_once(']').ok_or(InvalidHost)?;
            let addr: Ipv6Addr = inside.parse().map_err(|_| InvalidHost)?;
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':').ok_or(InvalidHost)?),
            };
            (format!("[{addr}]"), port)
        } else {
            let (host, port) = match raw.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (raw, None),
            };
            (dns_name_or_ipv4(host)?, port)
        };
        let port = port.map(parse_port).transpose()?;
        Ok(HostName { name, port })
    }

    /// The host name (or bracketed IP address) without the port.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The port, when one was given.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// Whether a request for `host` falls under this pattern: the names are equal, and the
    /// ports too when the pattern has one (a pattern without a port matches any port).
    pub fn covers(&self, host: &HostName) -> bool {
        self.name == host.name && (self.port.is_none() || self.port == host.port)
    }

    /// Whether two hosts of one request (a forwarded host and the host of an absolute URI)
    /// name the same place: equal names, and equal ports when both give one.
    pub fn agrees_with(&self, other: &HostName) -> bool {
        self.name == other.name
            && (self.port.is_none() || other.port.is_none() || self.port == other.port)
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}:{port}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// A DNS name (labels of 1 to 63 of `a-z 0-9 - _`, 253 in all) or an IPv4 address,
/// lower-cased, one trailing dot dropped.
fn dns_name_or_ipv4(host: &str) -> Result<String, InvalidHost> {
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty() || host.len() > 253 {
        return Err(InvalidHost);
    }
    let mut last_label = "";
    for label in host.split('.') {
        if label.is_empty()
            || label.len() > 63
            || !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(InvalidHost);
        }
        last_label = label;
    }
    // A name ending in a number is an IPv4 address or nothing: `127.1` and `2130706433`
    // are read as addresses by some resolvers and not by others.
    if last_label.bytes().all(|b| b.is_ascii_digit()) {
        let addr: Ipv4Addr = host.parse().map_err(|_| InvalidHost)?;
        return Ok(addr.to_string());
    }
    Ok(host.to_ascii_lowercase())
}

fn parse_port(port: &str) -> Result<u16, InvalidHost> {
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(InvalidHost);
    }
    port.parse().map_err(|_| InvalidHost)
}

/// The one host named by the header `name`: every line and every comma-separated item must
/// be a valid host and all must be the same host. `None` when the header is absent.
pub fn single_host(headers: &HeaderMap, name: &'static str) -> Result<Option<HostName>, BadTarget> {
    let mut found: Option<HostName> = None;
    for value in headers.get_all(name) {
        let text = value.to_str().map_err(|_| BadTarget::Host(name))?;
        for item in text.split(',') {
            let host = HostName::parse(item.trim()).map_err(|_| BadTarget::Host(name))?;
            match &found {
                Some(seen) if *seen != host => return Err(BadTarget::Conflicting(name)),
                Some(_) => {}
                None => found = Some(host),
            }
        }
    }
    Ok(found)
}

/// The original request's target as a forward-auth check describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardedUri {
    /// The host of an absolute-form URI (`https://app.example/x`); `None` for a path.
    pub host: Option<HostName>,
    /// The path and query (origin form), as the app receives it.
    pub path_and_query: String,
    /// The path, read every way an app might.
    pub path: TargetPath,
}

impl ForwardedUri {
    /// Reads an `X-Forwarded-Uri` value: a path (`/x?y`, `//x` included: nginx and most
    /// apps merge the slashes) or an absolute `http(s)` URL. Anything else is refused.
    pub fn parse(value: &str) -> Result<Self, BadTarget> {
        if !value.bytes().all(|b| b.is_ascii_graphic()) || value.contains('#') {
            return Err(BadTarget::Path);
        }
        let (host, path_and_query) = if value.starts_with('/') {
            (None, value.to_owned())
        } else {
            let lower = value.get(..8).unwrap_or(value).to_ascii_lowercase();
            let rest = if lower.starts_with("http://") {
                &value[7..]
            } else if lower.starts_with("https://") {
                &value[8..]
            } else {
                return Err(BadTarget::Uri);
            };
            let end = rest.find(['/', '?']).unwrap_or(rest.len());
            let (authority, tail) = rest.split_at(end);
            let host = HostName::parse(authority).map_err(|_| BadTarget::Uri)?;
            let tail = if tail.starts_with('/') {
                tail.to_owned()
            } else {
                format!("/{tail}")
            };
            (Some(host), tail)
        };
        let path = path_and_query.split('?').next().unwrap_or(&path_and_query);
        let path = TargetPath::parse(path)?;
        Ok(ForwardedUri {
            host,
            path_and_query,
            path,
        })
    }
}

/// The original request a forward-auth check asks about, from the headers the proxy set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardedTarget {
    /// `X-Forwarded-Host`, else `Host`, else the host of an absolute `X-Forwarded-Uri`.
    pub host: Option<HostName>,
    /// `X-Forwarded-Uri` (or `X-Original-URI`).
    pub uri: ForwardedUri,
}

impl ForwardedTarget {
    /// Reads the target strictly. Refused: a host header that is not one host (a port that
    /// is not a number, several different values), an `X-Forwarded-Host` that is present
    /// but bad (the `Host` header is not tried instead), a missing or unreadable
    /// `X-Forwarded-Uri`, `X-Forwarded-Uri` and `X-Original-URI` that differ, and an
    /// absolute URI naming another host.
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, BadTarget> {
        let host = match single_host(headers, "x-forwarded-host")? {
            Some(host) => Some(host),
            None => single_host(headers, "host")?,
        };
        let value = single_value(headers, &["x-forwarded-uri", "x-original-uri"])?
            .ok_or(BadTarget::MissingUri)?;
        let uri = ForwardedUri::parse(value)?;
        let host = match (host, &uri.host) {
            (Some(host), Some(uri_host)) if !host.agrees_with(uri_host) => {
                return Err(BadTarget::HostMismatch);
            }
            (Some(host), _) => Some(host),
            (None, uri_host) => uri_host.clone(),
        };
        Ok(ForwardedTarget { host, uri })
    }
}

/// The one value of the headers in `names` (every line of each): all must be equal, so a
/// client cannot add its own `X-Original-URI` next to the proxy's `X-Forwarded-Uri` (or
/// the other way round) and have one of them believed. `None` when none is present.
pub fn single_value<'a>(
    headers: &'a HeaderMap,
    names: &[&'static str],
) -> Result<Option<&'a str>, BadTarget> {
    let mut found: Option<&str> = None;
    for name in names {
        for value in headers.get_all(*name) {
            let text = value.to_str().map_err(|_| BadTarget::Path)?;
            match found {
                Some(seen) if seen != text => return Err(BadTarget::Conflicting(name)),
                Some(_) => {}
                None => found = Some(text),
            }
        }
    }
    Ok(found)
}

/// A request path, read each way an app behind the proxy may read it.
///
/// Apps differ: most percent-decode once and treat `%2F` as `/`, some keep `%2F` inside a
/// segment, some do not decode at all, Windows servers treat `\` as `/`, Java servlet
/// containers drop `;parameters` from each segment (so `/public/..;/private` is
/// `/private`), and a chain of proxies may decode twice. Every reading has repeated
/// slashes collapsed (nginx merges them) and `.`/`..` resolved. A rule decides a request
/// only if it allows every reading. Paths without `%`, `\` or `;` have one reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetPath {
    readings: Vec<String>,
}

impl TargetPath {
    /// Reads the path of a request target (without the query). The path must start with
    /// `/` and be printable ASCII without `#`; a path that decodes to NUL once or twice
    /// (`%00`, `%2500`) is refused.
    pub fn parse(raw: &str) -> Result<Self, BadTarget> {
        if !raw.starts_with('/')
            || !raw.bytes().all(|b| b.is_ascii_graphic())
            || raw.contains(['#', '?'])
        {
            return Err(BadTarget::Path);
        }
        let mut readings = Vec::with_capacity(1);
        if !raw.contains(['%', '\\', ';']) {
            readings.push(resolve(raw.split('/')));
            return Ok(TargetPath { readings });
        }
        let mut add = |reading: String| {
            if !readings.contains(&reading) {
                readings.push(reading);
            }
        };
        let once = decode(raw);
        let twice = decode(&once);
        // Checked before `..` can drop the segment that holds it.
        if twice.contains('\0') {
            return Err(BadTarget::Path);
        }
        // Decoded once, `\` as `/`: the common reading comes first.
        add(resolve(once.split(['/', '\\'])));
        // Not decoded.
        add(resolve(raw.split('/')));
        // Decoded inside segments: `%2F` and `%5C` do not separate.
        add(resolve(raw.split(['/', '\\']).map(|segment| {
            let decoded = decode(segment);
            if decoded.contains(['/', '\\']) {
                Cow::Owned(decoded.replace('/', "%2F").replace('\\', "%5C"))
            } else {
                decoded
            }
        })));
        // `;parameters` dropped before decoding (servlet containers) and after.
        let stripped: Vec<&str> = raw.split(['/', '\\']).map(strip_params).collect();
        add(resolve(decode(&stripped.join("/")).split(['/', '\\'])));
        add(resolve(once.split(['/', '\\']).map(strip_params)));
        // Decoded twice.
        add(resolve(twice.split(['/', '\\'])));
        add(resolve(twice.split(['/', '\\']).map(strip_params)));
        Ok(TargetPath { readings })
    }

    /// The reading most apps make (decoded once, `\` as `/`): the one proxy routes are
    /// chosen by.
    pub fn canonical(&self) -> &str {
        self.readings.first().map_or("/", String::as_str)
    }

    /// Every distinct reading, the canonical one first.
    pub fn readings(&self) -> &[String] {
        &self.readings
    }
}

fn decode(text: &str) -> Cow<'_, str> {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy()
}

/// A path segment without its `;parameters` (`private;jsessionid=x` is `private`).
fn strip_params(segment: &str) -> &str {
    segment.split(';').next().unwrap_or(segment)
}

/// Joins path segments: empty and `.` segments are dropped, `..` drops the segment before
/// it; a path whose last segment was empty, `.` or `..` keeps a trailing slash.
fn resolve<S: AsRef<str>>(segments: impl Iterator<Item = S>) -> String {
    let mut kept: Vec<S> = Vec::new();
    let mut ends_as_directory = false;
    for segment in segments {
        match segment.as_ref() {
            "" | "." => ends_as_directory = true,
            ".." => {
                kept.pop();
                ends_as_directory = true;
            }
            _ => {
                kept.push(segment);
                ends_as_directory = false;
            }
        }
    }
    let mut out =
        String::with_capacity(kept.iter().map(|s| s.as_ref().len() + 1).sum::<usize>() + 1);
    for segment in &kept {
        out.push('/');
        out.push_str(segment.as_ref());
    }
    if out.is_empty() || ends_as_directory {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(raw: &str) -> Option<String> {
        HostName::parse(raw).ok().map(|host| host.to_string())
    }

    #[test]
    fn hosts_are_canonical_or_refused() {
        for (raw, want) in [
            ("app.example", "app.example"),
            ("App.Example.", "app.example"),
            ("app.example:8080", "app.example:8080"),
            ("app.example.:080", "app.example:80"),
            ("my_host-1", "my_host-1"),
            ("127.0.0.1:8000", "127.0.0.1:8000"),
            ("127.0.0.1.", "127.0.0.1"),
            ("[::1]:9000", "[::1]:9000"),
            ("[0:0::1]", "[::1]"),
            ("[FE80::1]", "[fe80::1]"),
        ] {
            assert_eq!(host(raw).as_deref(), Some(want), "{raw}");
        }
        for raw in [
            "",
            ".",
            "app.example:",
            "app.example:!",
            "app.example:80x",
            "app.example:@evil",
            "app.example:123456",
            "app.example:65536",
            "user@app.example",
            "app..example",
            "app.example..",
            ".app.example",
            "app example",
            "app.example/x",
            "::1",
            "[::1",
            "[::1]x",
            "[::1]:",
            "[v1.x]",
            "127.1",
            "2130706433",
            "1.2.3.04",
            "caf\u{e9}.example",
            "a:1:2",
        ] {
            assert_eq!(host(raw), None, "{raw:?}");
        }
        let long_label = "a".repeat(64);
        assert_eq!(host(&format!("{long_label}.example")), None);
    }

    #[test]
    fn patterns_cover_ports_as_told() {
        let pattern = HostName::parse("app.example").unwrap();
        let with_port = HostName::parse("app.example:8080").unwrap();
        assert!(pattern.covers(&HostName::parse("APP.example.:9").unwrap()));
        assert!(with_port.covers(&HostName::parse("app.example:08080").unwrap()));
        assert!(!with_port.covers(&HostName::parse("app.example").unwrap()));
        assert!(!with_port.covers(&HostName::parse("app.example:9090").unwrap()));
        assert!(!pattern.covers(&HostName::parse("evil.app.example").unwrap()));
    }

    #[test]
    fn forwarded_host_must_be_one_host() {
        let mut headers = HeaderMap::new();
        headers.append("x-forwarded-host", "App.example".parse().unwrap());
        headers.append("x-forwarded-host", "app.example.".parse().unwrap());
        assert_eq!(
            single_host(&headers, "x-forwarded-host").unwrap(),
            Some(HostName::parse("app.example").unwrap())
        );
        headers.append("x-forwarded-host", "other.example".parse().unwrap());
        assert_eq!(
            single_host(&headers, "x-forwarded-host"),
            Err(BadTarget::Conflicting("x-forwarded-host"))
        );
        let mut headers = HeaderMap::new();
        headers.insert("host", "a.example, b.example".parse().unwrap());
        assert!(single_host(&headers, "host").is_err());
        headers.insert("host", "a.example:!".parse().unwrap());
        assert_eq!(single_host(&headers, "host"), Err(BadTarget::Host("host")));
        assert_eq!(single_host(&HeaderMap::new(), "host"), Ok(None));
    }

    #[test]
    fn forwarded_uris() {
        let uri = ForwardedUri::parse("//private/x?a=1").unwrap();
        assert_eq!(uri.host, None);
        assert_eq!(uri.path_and_query, "//private/x?a=1");
        assert_eq!(uri.path.readings(), ["/private/x"]);
        let uri = ForwardedUri::parse("HTTPS://App.Example:8443/a/../b?x").unwrap();
        assert_eq!(uri.host.unwrap().to_string(), "app.example:8443");
        assert_eq!(uri.path_and_query, "/a/../b?x");
        assert_eq!(uri.path.canonical(), "/b");
        let uri = ForwardedUri::parse("http://app.example?x").unwrap();
        assert_eq!(uri.path_and_query, "/?x");
        for bad in [
            "",
            "private",
            "*",
            "app.example/x",
            "ftp://app.example/x",
            "http://user@app.example/x",
            "http:///x",
            "http://app.example:!/x",
            "/a b",
            "/x#frag",
            "/\u{e9}",
            "/a\tb",
            "/a%00b",
            "/a%2500b",
            "/a%00/../b",
        ] {
            assert!(ForwardedUri::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn forwarded_targets() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.append(*name, value.parse().unwrap());
            }
            map
        };
        let target = ForwardedTarget::from_headers(&headers(&[
            ("host", "hub.internal:8000"),
            ("x-forwarded-host", "App.Example."),
            ("x-forwarded-uri", "//private"),
        ]))
        .unwrap();
        assert_eq!(target.host.unwrap().to_string(), "app.example");
        assert_eq!(target.uri.path.canonical(), "/private");
        // Host is used without X-Forwarded-Host; a bad X-Forwarded-Host is not replaced
        // by Host.
        let target = ForwardedTarget::from_headers(&headers(&[
            ("host", "app.example:8080"),
            ("x-original-uri", "/x"),
        ]))
        .unwrap();
        assert_eq!(target.host.unwrap().to_string(), "app.example:8080");
        for bad in [
            &[
                ("host", "app.example"),
                ("x-forwarded-host", "app.example:!"),
                ("x-forwarded-uri", "/x"),
            ][..],
            &[("host", "app.example:80x"), ("x-forwarded-uri", "/x")],
            &[("host", "app.example")],
            &[("host", "app.example"), ("x-forwarded-uri", "private")],
            &[
                ("host", "app.example"),
                ("x-forwarded-uri", "/a"),
                ("x-original-uri", "/b"),
            ],
            &[
                ("host", "app.example"),
                ("x-forwarded-uri", "http://other.example/x"),
            ],
            &[
                ("x-forwarded-host", "a.example,b.example"),
                ("x-forwarded-uri", "/x"),
            ],
        ] {
            assert!(
                ForwardedTarget::from_headers(&headers(bad)).is_err(),
                "{bad:?}"
            );
        }
        let target = ForwardedTarget::from_headers(&headers(&[(
            "x-forwarded-uri",
            "https://app.example/x",
        )]))
        .unwrap();
        assert_eq!(target.host.unwrap().to_string(), "app.example");
    }

    #[test]
    fn uri_headers_must_agree() {
        let mut headers = HeaderMap::new();
        let names = ["x-forwarded-uri", "x-original-uri"];
        assert_eq!(single_value(&headers, &names), Ok(None));
        headers.insert("x-original-uri", "/a".parse().unwrap());
        assert_eq!(single_value(&headers, &names), Ok(Some("/a")));
        headers.insert("x-forwarded-uri", "/a".parse().unwrap());
        assert_eq!(single_value(&headers, &names), Ok(Some("/a")));
        headers.insert("x-original-uri", "/b".parse().unwrap());
        assert!(single_value(&headers, &names).is_err());
    }

    #[test]
    fn every_reading_of_a_path() {
        let readings = |raw: &str| TargetPath::parse(raw).unwrap().readings().to_vec();
        assert_eq!(readings("/a//b/./c/../d/"), ["/a/b/d/"]);
        assert_eq!(readings("/"), ["/"]);
        assert_eq!(readings("/.."), ["/"]);
        assert_eq!(readings("/a/.."), ["/"]);
        assert_eq!(readings("/a/."), ["/a/"]);
        let all = readings("/public/..%2Fprivate");
        assert!(all.contains(&"/private".to_owned()), "{all:?}");
        assert!(all.contains(&"/public/..%2Fprivate".to_owned()), "{all:?}");
        let all = readings("/public/..;/private");
        assert!(all.contains(&"/private".to_owned()), "{all:?}");
        let all = readings("/public/%252e%252e/private");
        assert!(all.contains(&"/private".to_owned()), "{all:?}");
        let all = readings("/public\\..\\private");
        assert!(all.contains(&"/private".to_owned()), "{all:?}");
        let all = readings("/a%2Fb");
        assert_eq!(all[0], "/a/b");
        assert!(all.contains(&"/a%2Fb".to_owned()), "{all:?}");
        assert_eq!(
            TargetPath::parse("/%70rivate").unwrap().canonical(),
            "/private"
        );
        for bad in [
            "",
            "x",
            "*",
            "/a%00",
            "/a%2500",
            "/a%00/../b",
            "/a%2500/../b",
            "/a#b",
            "/a?b",
            "/a b",
        ] {
            assert!(TargetPath::parse(bad).is_err(), "{bad:?}");
        }
    }
}
