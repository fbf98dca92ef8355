//! Signed identity assertions for apps (`identity_assertions`): forward-auth answers and
//! the built-in proxy add a short-lived JWT (RFC 7519) naming the user to requests for
//! the routes that ask for one, signed with the hub's provider key and verifiable with
//! its JWKS (`{base_url}hub/api/oauth2/jwks`), so that an app can check who is calling
//! without trusting the network between the hub and itself.
//!
//! Claims: `iss` (the hub's issuer), `aud` (the route's audience), `sub` and `name` (the
//! user name), `groups`, `admin`, `iat`, `exp` and, for a login session, `sid` (the
//! session's id as the hub's ID tokens give it). A signature is reused for the same
//! session (or token user) and audience until a quarter of its lifetime is left, as long
//! as the user's name, groups and admin flag are unchanged, so the check stays cheap.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderName, HeaderValue};
use hubauth_provider::IdTokenAlg;
use hubauth_store::UserRecord;
use serde_json::{Value, json};

use crate::forward_auth::{RequestScope, most_specific, table_string};
use crate::request_target::{HostName, TargetPath};
use crate::services::Services;

/// The default header (`identity_assertion_header`).
pub const DEFAULT_HEADER: &str = "X-Auth-Request-Assertion";
/// Shortest and longest `identity_assertion_lifetime`, in seconds.
pub const LIFETIME_RANGE: std::ops::RangeInclusive<i64> = 10..=3600;
/// Signatures cached at most; when full, expired ones go first, then all.
// About a kilobyte each (the token and the user's groups): bounded to a few megabytes.
const CACHE_SIZE: usize = 10_000;

/// One `identity_assertions` entry: requests in `scope` get an assertion for `audience`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionRoute {
    /// The requests it applies to (matched like `forward_auth_rules`).
    pub scope: RequestScope,
    /// The `aud` claim.
    pub audience: String,
}

impl AssertionRoute {
    /// Parses one table `{ host, path_prefix, audience }`; errors name the entry and key.
    pub fn from_json(index: usize, value: &Value) -> Result<Self, String> {
        let where_ = format!("entry {} (counting from 1)", index + 1);
        let table = value
            .as_object()
            .ok_or_else(|| format!("{where_} must be a table"))?;
        for key in table.keys() {
            if !matches!(key.as_str(), "host" | "path_prefix" | "audience") {
                return Err(format!(
                    "{where_} has unknown key {key:?} (known: host, path_prefix, audience)"
                ));
            }
        }
        let scope = RequestScope::from_table(&where_, table)?;
        let audience = table_string(&where_, table, "audience")?
            .filter(|audience| !audience.trim().is_empty())
            .ok_or_else(|| format!("{where_} needs an audience (the aud claim the app expects)"))?;
        if audience.chars().any(char::is_control) || audience.len() > 512 {
            return Err(format!(
                "{where_}: audience must be at most 512 characters without control characters"
            ));
        }
        Ok(AssertionRoute { scope, audience })
    }
}

/// The validated `identity_assertion*` options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionConfig {
    /// See `identity_assertions`.
    pub routes: Vec<AssertionRoute>,
    /// See `identity_assertion_header`.
    pub header: HeaderName,
    /// See `identity_assertion_lifetime`, in seconds.
    pub lifetime: i64,
    /// See `identity_assertion_alg`.
    pub alg: IdTokenAlg,
}

impl Default for AssertionConfig {
    fn default() -> Self {
        AssertionConfig {
            routes: Vec::new(),
            header: HeaderName::from_static("x-auth-request-assertion"),
            lifetime: 60,
            alg: IdTokenAlg::Es256,
        }
    }
}

impl AssertionConfig {
    /// Whether any route asks for assertions.
    pub fn enabled(&self) -> bool {
        !self.routes.is_empty()
    }

    /// The audience for a request to `host` and `path`: the most specific route's, when
    /// every reading of the path (see [`TargetPath`]) picks the same one; `None` when no
    /// route matches or the readings disagree (no assertion: an app that needs one then
    /// refuses the request).
    pub fn audience_for(&self, host: Option<&HostName>, path: &TargetPath) -> Option<&str> {
        let mut chosen: Option<&AssertionRoute> = None;
        for reading in path.readings() {
            let route = most_specific(&self.routes, |route| &route.scope, host, reading, false)?;
            match chosen {
                None => chosen = Some(route),
                Some(previous) if previous.audience == route.audience => {}
                Some(_) => return None,
            }
        }
        chosen.map(|route| route.audience.as_str())
    }
}

/// Reads the options (`routes` as the file gives them).
pub fn parse_config(
    routes: &[Value],
    header: &str,
    lifetime: i64,
    alg: &str,
) -> Result<AssertionConfig, (&'static str, String)> {
    let routes = routes
        .iter()
        .enumerate()
        .map(|(index, value)| AssertionRoute::from_json(index, value))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|message| ("identity_assertions", message))?;
    let header = HeaderName::from_bytes(header.as_bytes()).map_err(|_| {
        (
            "identity_assertion_header",
            format!("{header:?} is not a valid HTTP header name"),
        )
    })?;
    if !LIFETIME_RANGE.contains(&lifetime) {
        return Err((
            "identity_assertion_lifetime",
            format!(
                "must be between {} and {} seconds",
                LIFETIME_RANGE.start(),
                LIFETIME_RANGE.end()
            ),
        ));
    }
    let alg = IdTokenAlg::parse(alg).ok_or_else(|| {
        (
            "identity_assertion_alg",
            "must be \"ES256\" or \"RS256\"".to_owned(),
        )
    })?;
    Ok(AssertionConfig {
        routes,
        header,
        lifetime,
        alg,
    })
}

/// The claims of an assertion for `user` at `now`.
pub fn claims(
    issuer: &str,
    audience: &str,
    user: &UserRecord,
    sid: Option<&str>,
    now: i64,
    lifetime: i64,
) -> Value {
    let mut claims = json!({
        "iss": issuer,
        "aud": audience,
        "sub": user.name,
        "name": user.name,
        "groups": user.groups,
        "admin": user.admin,
        "iat": now,
        "exp": now.saturating_add(lifetime),
    });
    if let (Some(sid), Value::Object(map)) = (sid, &mut claims) {
        map.insert("sid".into(), json!(sid));
    }
    claims
}

/// Signed assertions kept for reuse, per session (or token user) and audience.
#[derive(Debug, Default)]
pub struct AssertionCache(Mutex<HashMap<(String, String), Cached>>);

#[derive(Debug, Clone)]
struct Cached {
    value: HeaderValue,
    /// Reused until this time (a quarter of the lifetime before `exp`).
    fresh_until: i64,
    /// What the claims said about the user: a change signs anew.
    name: String,
    admin: bool,
    groups: Vec<String>,
}

impl AssertionCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Cached>> {
        match self.0.lock() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

/// Who an assertion is about: a login session (its stored hash) or, for an API token at
/// the gateway, the user alone.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// A browser's login session.
    Session(&'a str),
    /// An API token: no session, no `sid`.
    Token,
}

/// The assertion header for a request to `host`/`path` by `user` at `now`, when a route
/// asks for one; `None` otherwise, or when no key can sign it (logged).
pub fn header_for(
    hub: &Services,
    user: &Arc<UserRecord>,
    caller: Caller<'_>,
    host: Option<&HostName>,
    path: &TargetPath,
    now: i64,
) -> Option<(HeaderName, HeaderValue)> {
    let config = &hub.config.identity_assertions;
    let audience = config.audience_for(host, path)?;
    let key = match caller {
        Caller::Session(hash) => (format!("s:{hash}"), audience.to_owned()),
        Caller::Token => (format!("t:{}", user.name), audience.to_owned()),
    };
    if let Some(cached) = hub.identity_assertions.lock().get(&key)
        && now < cached.fresh_until
        && cached.name == user.name
        && cached.admin == user.admin
        && cached.groups == user.groups
    {
        return Some((config.header.clone(), cached.value.clone()));
    }
    let provider = hub.provider.as_ref()?;
    let sid = match caller {
        Caller::Session(hash) => Some(hubauth_provider::session_sid(hash)),
        Caller::Token => None,
    };
    let issuer = crate::backchannel::issuer(&hub.config);
    let claims = claims(
        &issuer,
        audience,
        user,
        sid.as_deref(),
        now,
        config.lifetime,
    );
    let token = match provider.keys().sign(config.alg, &claims) {
        Ok(token) => token,
        Err(err) => {
            tracing::error!(error = %err, "an identity assertion could not be signed");
            return None;
        }
    };
    let value = HeaderValue::from_str(&token).ok()?;
    let mut cache = hub.identity_assertions.lock();
    if cache.len() >= CACHE_SIZE {
        cache.retain(|_, cached| cached.fresh_until > now);
        if cache.len() >= CACHE_SIZE {
            cache.clear();
        }
    }
    cache.insert(
        key,
        Cached {
            value: value.clone(),
            fresh_until: now.saturating_add(config.lifetime - config.lifetime / 4),
            name: user.name.clone(),
            admin: user.admin,
            groups: user.groups.clone(),
        },
    );
    Some((config.header.clone(), value))
}

/// Adds the assertion for a forward-auth check: the target is read from the proxy's
/// headers (`X-Forwarded-Host`, `X-Forwarded-Uri`) as the rules read it; a target that
/// cannot be read exactly gets no assertion.
pub fn insert_forwarded(
    hub: &Services,
    user: &Arc<UserRecord>,
    session_hash: Option<&str>,
    headers: &axum::http::HeaderMap,
    now: i64,
    out: &mut axum::http::HeaderMap,
) {
    if !hub.config.identity_assertions.enabled() {
        return;
    }
    let Ok(target) = crate::request_target::ForwardedTarget::from_headers(headers) else {
        return;
    };
    insert(
        hub,
        user,
        session_hash,
        target.host.as_ref(),
        &target.uri.path,
        now,
        out,
    );
}

/// Adds the assertion for a request to `host`/`path` (the built-in proxy) to `out`.
pub fn insert(
    hub: &Services,
    user: &Arc<UserRecord>,
    session_hash: Option<&str>,
    host: Option<&HostName>,
    path: &TargetPath,
    now: i64,
    out: &mut axum::http::HeaderMap,
) {
    if !hub.config.identity_assertions.enabled() {
        return;
    }
    let caller = match session_hash {
        Some(hash) => Caller::Session(hash),
        None => Caller::Token,
    };
    if let Some((name, value)) = header_for(hub, user, caller, host, path, now) {
        out.insert(name, value);
    }
}

/// Refuses `identity_assertions` without `public_url` (the issuer apps check), and an
/// audience that is a service's client id: assertions and that service's ID tokens would
/// share issuer, keys and audience, so either could pass for the other (cross-JWT
/// confusion).
pub fn check_config(config: &crate::options::HubConfig) -> Result<(), String> {
    if config.identity_assertions.enabled() && crate::backchannel::issuer(config).is_empty() {
        return Err(
            "identity_assertions needs [Hub] public_url (the issuer apps check in the assertion)"
                .to_owned(),
        );
    }
    for route in &config.identity_assertions.routes {
        if let Some(service) = config
            .services
            .iter()
            .find(|service| service.client_id == route.audience)
        {
            return Err(format!(
                "identity_assertions: audience {:?} is the client id of service {:?}; give the app an audience of its own, so that an assertion cannot pass for that service's ID token or the reverse",
                route.audience, service.name
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(routes: Value) -> AssertionConfig {
        parse_config(routes.as_array().unwrap(), DEFAULT_HEADER, 60, "ES256").unwrap()
    }

    #[test]
    fn the_most_specific_route_names_the_audience() {
        let config = config(json!([
            {"audience": "any"},
            {"host": "app.example", "audience": "app"},
            {"host": "app.example", "path_prefix": "/admin", "audience": "app-admin"},
        ]));
        let host = HostName::parse("app.example").unwrap();
        let path = |p: &str| TargetPath::parse(p).unwrap();
        assert_eq!(config.audience_for(Some(&host), &path("/x")), Some("app"));
        assert_eq!(
            config.audience_for(Some(&host), &path("/admin/x")),
            Some("app-admin")
        );
        assert_eq!(config.audience_for(None, &path("/x")), Some("any"));
        // Readings that pick different routes: no assertion rather than a guess.
        assert_eq!(
            config.audience_for(Some(&host), &path("/x/..%2Fadmin")),
            None
        );
        let narrow = super::tests::config(json!([{"path_prefix": "/app", "audience": "a"}]));
        assert_eq!(narrow.audience_for(None, &path("/other")), None);
    }

    #[test]
    fn bad_options_name_the_key() {
        for (routes, needle) in [
            (json!([{"host": "a"}]), "needs an audience"),
            (json!([{"audience": ""}]), "needs an audience"),
            (json!([{"audience": "a", "aud": "b"}]), "unknown key"),
            (
                json!([{"audience": "a", "path_prefix": "x"}]),
                "path_prefix",
            ),
            (json!(["a"]), "must be a table"),
        ] {
            let (key, message) =
                parse_config(routes.as_array().unwrap(), DEFAULT_HEADER, 60, "ES256").unwrap_err();
            assert_eq!(key, "identity_assertions");
            assert!(message.contains(needle), "{message}");
        }
        assert_eq!(
            parse_config(&[], "bad header", 60, "ES256").unwrap_err().0,
            "identity_assertion_header"
        );
        assert_eq!(
            parse_config(&[], DEFAULT_HEADER, 5, "ES256").unwrap_err().0,
            "identity_assertion_lifetime"
        );
        assert_eq!(
            parse_config(&[], DEFAULT_HEADER, 60, "HS256")
                .unwrap_err()
                .0,
            "identity_assertion_alg"
        );
    }

    #[test]
    fn claims_name_the_user_and_the_session() {
        let user = UserRecord {
            id: 1,
            name: "ada".into(),
            admin: true,
            created: 0,
            last_activity: None,
            groups: vec!["staff".into()],
            roles: vec![],
        };
        let claims = claims("https://hub", "app", &user, Some("sid-1"), 100, 60);
        assert_eq!(
            claims,
            json!({"iss": "https://hub", "aud": "app", "sub": "ada", "name": "ada",
                   "groups": ["staff"], "admin": true, "iat": 100, "exp": 160, "sid": "sid-1"})
        );
    }
}
