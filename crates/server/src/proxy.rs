//! The built-in reverse proxy: its resolved routes, and the header rules applied to every
//! proxied request and response. The handler lives in `handlers::proxy`.
//!
//! Every request outside `{base_url}hub/` that matches a route goes to that route's
//! upstream when the session is valid (and `forward_auth_rules` allow it): HTTP/1.1 with
//! streamed bodies, and protocol upgrades (websockets) spliced through.

use std::time::Duration;

use axum::body::Body;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value as Json;

use crate::forward_auth::{RequestScope, most_specific, table_string};
use crate::request_target::{HostName, TargetPath};

/// Where one part of the site goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyRoute {
    /// The requests the route takes (matched as in `forward_auth_rules`).
    pub scope: RequestScope,
    /// The upstream's `host:port`.
    pub authority: String,
}

impl ProxyRoute {
    /// Parses one table of `upstream_routes`; the error names the offending key.
    pub fn from_json(index: usize, value: &Json) -> Result<Self, String> {
        let where_ = format!("route {} (counting from 1)", index + 1);
        let table = value
            .as_object()
            .ok_or_else(|| format!("{where_} must be a table"))?;
        for key in table.keys() {
            if !matches!(key.as_str(), "host" | "path_prefix" | "upstream") {
                return Err(format!(
                    "{where_} has unknown key {key:?} (known: host, path_prefix, upstream)"
                ));
            }
        }
        let scope = RequestScope::from_table(&where_, table)?;
        let upstream = table_string(&where_, table, "upstream")?
            .ok_or_else(|| format!("{where_} needs upstream"))?;
        let authority =
            parse_upstream(&upstream).map_err(|message| format!("{where_}: {message}"))?;
        Ok(ProxyRoute { scope, authority })
    }
}

/// The resolved `upstream` / `upstream_routes` settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyConfig {
    /// Every route; `upstream` becomes a route for any host and `/`.
    pub routes: Vec<ProxyRoute>,
}

impl ProxyConfig {
    /// Whether the proxy is on.
    pub fn enabled(&self) -> bool {
        !self.routes.is_empty()
    }

    /// The route for a request: the most specific match (a route naming the host beats one
    /// for any host, then the longest path prefix) for the path as most apps read it.
    /// Which route takes a request does not decide access: `forward_auth_rules` do, on
    /// every reading of the path.
    pub fn route_for(&self, host: Option<&HostName>, path: &TargetPath) -> Option<&ProxyRoute> {
        most_specific(
            &self.routes,
            |route| &route.scope,
            host,
            path.canonical(),
            false,
        )
    }
}

/// Checks an upstream URL (`http://host:port`, no path, query or credentials) and returns
/// its `host:port`.
pub fn parse_upstream(upstream: &str) -> Result<String, String> {
    let parsed = url::Url::parse(upstream)
        .map_err(|err| format!("upstream {upstream:?} is not a URL: {err}"))?;
    if parsed.scheme() != "http" {
        return Err(format!(
            "upstream {upstream:?} must be an http:// URL (the app behind the hub, usually on loopback)"
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!(
            "upstream {upstream:?} must not contain credentials"
        ));
    }
    if !(parsed.path().is_empty() || parsed.path() == "/")
        || parsed.query().is_some()
        || parsed.fragment().is_some()
    {
        return Err(format!(
            "upstream {upstream:?} must be just http://host:port (request paths are passed on unchanged)"
        ));
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| format!("upstream {upstream:?} has no host"))?;
    let port = parsed.port_or_known_default().unwrap_or(80);
    Ok(format!("{host}:{port}"))
}

/// Headers that describe one connection, never forwarded (RFC 9110 section 7.6.1).
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The protocol a request asks to switch to (`Connection: upgrade` with `Upgrade: x`).
pub fn requested_upgrade(headers: &HeaderMap) -> Option<HeaderValue> {
    let asks = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
    if asks {
        headers.get(header::UPGRADE).cloned()
    } else {
        None
    }
}

/// Removes hop-by-hop headers: the fixed list and every header the `Connection` header
/// names. With `upgrade`, puts `Connection: upgrade` and that `Upgrade` back.
pub fn strip_hop_by_hop(headers: &mut HeaderMap, upgrade: Option<HeaderValue>) {
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in listed {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(*name);
    }
    if let Some(protocol) = upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, protocol);
    }
}

/// Removes identity headers a client may have sent itself: every `X-Auth-Request-*` and
/// every name in `names` (the configured identity and token header names). The real ones
/// are added afterwards.
pub fn strip_identity_headers(headers: &mut HeaderMap, names: &[HeaderName]) {
    let spoofable: Vec<HeaderName> = headers
        .keys()
        .filter(|name| name.as_str().starts_with("x-auth-request-") || names.contains(name))
        .cloned()
        .collect();
    for name in spoofable {
        headers.remove(name);
    }
}

/// Removes the cookie `name` from the `Cookie` headers (the hub's session cookie is not the
/// app's business); drops a header that ends up empty.
pub fn strip_cookie(headers: &mut HeaderMap, name: &str) {
    let values: Vec<HeaderValue> = headers.get_all(header::COOKIE).iter().cloned().collect();
    if values.is_empty() {
        return;
    }
    headers.remove(header::COOKIE);
    // Read as bytes: another app's cookie may hold any byte, and a header that is not text
    // must still lose the hub's cookie before it reaches an app.
    for value in values {
        let kept: Vec<&[u8]> = value
            .as_bytes()
            .split(|byte| *byte == b';')
            .map(<[u8]>::trim_ascii)
            .filter(|pair| !pair.is_empty())
            .filter(|pair| {
                let key = match pair.iter().position(|byte| *byte == b'=') {
                    Some(at) => pair[..at].trim_ascii(),
                    None => pair,
                };
                key != name.as_bytes()
            })
            .collect();
        if kept.is_empty() {
            continue;
        }
        if let Ok(value) = HeaderValue::from_bytes(&kept.join(&b"; "[..])) {
            headers.append(header::COOKIE, value);
        }
    }
}

/// How long connecting to an upstream may take before the request gets a 502.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The pooled HTTP/1.1 client the proxy sends requests with.
#[derive(Debug, Clone)]
pub struct UpstreamClient {
    pub(crate) client: Client<HttpConnector, Body>,
}

impl Default for UpstreamClient {
    fn default() -> Self {
        Self::new()
    }
}

impl UpstreamClient {
    /// A client with keep-alive connections and a connect timeout.
    pub fn new() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        connector.set_nodelay(true);
        connector.enforce_http(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        UpstreamClient { client }
    }
}

/// Removes the `Set-Cookie` headers of an upstream's response that would set one of the
/// hub's own cookies (`names`) on the hub's origin: an app behind the proxy must not plant
/// a session (fixation) or an XSRF cookie. The name is what a browser reads: the bytes
/// before the first `=`, without surrounding spaces and tabs, compared exactly. Returns
/// the names of the cookies dropped.
pub fn strip_hub_set_cookies(headers: &mut HeaderMap, names: &[&str]) -> Vec<String> {
    let values: Vec<HeaderValue> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .cloned()
        .collect();
    let mut dropped = Vec::new();
    let mut kept = Vec::with_capacity(values.len());
    for value in values {
        let bytes = value.as_bytes();
        let name = match bytes.iter().position(|byte| *byte == b'=') {
            Some(at) => bytes[..at].trim_ascii(),
            // No `=`: a browser sets a cookie with an empty name, never one of the hub's.
            None => &[][..],
        };
        match names.iter().find(|hub| hub.as_bytes() == name) {
            Some(hub) => dropped.push((*hub).to_owned()),
            None => kept.push(value),
        }
    }
    if !dropped.is_empty() {
        headers.remove(header::SET_COOKIE);
        for value in kept {
            headers.append(header::SET_COOKIE, value);
        }
    }
    dropped
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn upstream_urls() {
        assert_eq!(
            parse_upstream("http://127.0.0.1:8888").unwrap(),
            "127.0.0.1:8888"
        );
        assert_eq!(
            parse_upstream("http://app.internal/").unwrap(),
            "app.internal:80"
        );
        assert_eq!(parse_upstream("http://[::1]:9000").unwrap(), "[::1]:9000");
        for bad in [
            "https://app:1",
            "http://u:p@app:1",
            "http://app:1/sub",
            "http://app:1/?q",
            "app:1",
        ] {
            assert!(parse_upstream(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn most_specific_route_wins() {
        let config = ProxyConfig {
            routes: vec![
                ProxyRoute::from_json(0, &json!({"upstream": "http://127.0.0.1:1"})).unwrap(),
                ProxyRoute::from_json(
                    1,
                    &json!({"path_prefix": "/api", "upstream": "http://127.0.0.1:2"}),
                )
                .unwrap(),
                ProxyRoute::from_json(
                    2,
                    &json!({"host": "b.example", "upstream": "http://127.0.0.1:3"}),
                )
                .unwrap(),
            ],
        };
        let pick = |host: &str, path: &str| {
            let host = HostName::parse(host).unwrap();
            let path = TargetPath::parse(path).unwrap();
            config
                .route_for(Some(&host), &path)
                .unwrap()
                .authority
                .clone()
        };
        assert_eq!(pick("a.example", "/x"), "127.0.0.1:1");
        assert_eq!(pick("a.example", "/api/v1"), "127.0.0.1:2");
        assert_eq!(pick("a.example", "//api/v1"), "127.0.0.1:2");
        assert_eq!(pick("a.example", "/apiary"), "127.0.0.1:1");
        assert_eq!(pick("B.example.:8000", "/api"), "127.0.0.1:3");
        let err = ProxyRoute::from_json(0, &json!({"host": "x"})).unwrap_err();
        assert!(err.contains("upstream"), "{err}");
        let err =
            ProxyRoute::from_json(0, &json!({"upstream": "http://a:1", "to": 1})).unwrap_err();
        assert!(err.contains("unknown key"), "{err}");
    }

    #[test]
    fn hop_by_hop_headers_go() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "connection",
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        headers.insert("x-secret", HeaderValue::from_static("1"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        headers.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut headers, None);
        assert_eq!(headers.len(), 1);
        assert!(headers.contains_key("x-kept"));

        let mut headers = HeaderMap::new();
        headers.insert("connection", HeaderValue::from_static("Upgrade"));
        headers.insert("upgrade", HeaderValue::from_static("websocket"));
        let upgrade = requested_upgrade(&headers);
        strip_hop_by_hop(&mut headers, upgrade);
        assert_eq!(headers["connection"], "upgrade");
        assert_eq!(headers["upgrade"], "websocket");
    }

    #[test]
    fn identity_and_session_cookie_are_stripped() {
        let mut headers = HeaderMap::new();
        headers.insert("x-auth-request-user", HeaderValue::from_static("root"));
        headers.insert("X-Auth-Request-Anything", HeaderValue::from_static("x"));
        headers.insert("remote-user", HeaderValue::from_static("root"));
        headers.insert("x-other", HeaderValue::from_static("kept"));
        strip_identity_headers(&mut headers, &[HeaderName::from_static("remote-user")]);
        assert_eq!(headers.len(), 1);

        let mut headers = HeaderMap::new();
        headers.append(
            "cookie",
            HeaderValue::from_static("a=1; hubauth-session=s; b=2"),
        );
        headers.append("cookie", HeaderValue::from_static("hubauth-session=t"));
        strip_cookie(&mut headers, "hubauth-session");
        let values: Vec<_> = headers.get_all("cookie").iter().collect();
        assert_eq!(values, vec!["a=1; b=2"]);

        // Another app's cookie that is not text does not keep the hub's in the header.
        let mut headers = HeaderMap::new();
        headers.append(
            "cookie",
            HeaderValue::from_bytes(b"pref=caf\xe9; hubauth-session=s; b=2").unwrap(),
        );
        strip_cookie(&mut headers, "hubauth-session");
        assert_eq!(headers["cookie"].as_bytes(), b"pref=caf\xe9; b=2");
    }

    #[test]
    fn an_upstream_cannot_set_the_hubs_cookies() {
        let names = ["hubauth-session", "_xsrf"];
        let mut headers = HeaderMap::new();
        for value in [
            "hubauth-session=planted; Path=/; HttpOnly",
            " hubauth-session =planted",
            "\thubauth-session\t=x",
            "_xsrf=abc",
            "app=1; Path=/",
            "Hubauth-Session=case-differs",
            "__Host-hubauth-session=prefixed",
            "hubauth-session",
            "hubauth-session-other=1",
        ] {
            headers.append(header::SET_COOKIE, HeaderValue::from_str(value).unwrap());
        }
        headers.append(
            header::SET_COOKIE,
            HeaderValue::from_bytes(b"hubauth-session=\xff\xfe").unwrap(),
        );
        let dropped = strip_hub_set_cookies(&mut headers, &names);
        assert_eq!(dropped.len(), 5, "{dropped:?}");
        let left: Vec<&str> = headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|value| value.to_str().unwrap())
            .collect();
        assert_eq!(
            left,
            [
                "app=1; Path=/",
                "Hubauth-Session=case-differs",
                "__Host-hubauth-session=prefixed",
                "hubauth-session",
                "hubauth-session-other=1",
            ]
        );
        // Nothing to drop leaves the headers as they were.
        let mut plain = HeaderMap::new();
        plain.append(header::SET_COOKIE, HeaderValue::from_static("a=1"));
        assert!(strip_hub_set_cookies(&mut plain, &names).is_empty());
        assert_eq!(plain.get_all(header::SET_COOKIE).iter().count(), 1);
    }
}
