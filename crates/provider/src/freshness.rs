//! How recent the user's login must be for an authorization request (`max_age` and
//! `prompt=login`, OpenID Connect Core 1.0 §3.1.2.1), and the marker that carries a forced
//! login's start through the login page and back.
//!
//! When the hub sends the user to log in again, the request it comes back to carries
//! `hubauth_reauth`: the time it was sent, a MAC of that time bound to the client, and a
//! MAC of the session the user had then. A login counts only when it started at or after
//! that time and is another session than the stale one (a login within the same second
//! would otherwise be taken for the fresh one). The MACs are keyed with a secret of the
//! server's, so nobody else can mint a marker.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How long the way through a forced login may take, in seconds.
pub const REAUTH_TTL: i64 = 600;

/// The login session the user has at the provider.
#[derive(Debug, Clone, Copy)]
pub struct LoginSession<'a> {
    /// The session's id (its hash: anything that identifies it and is no secret).
    pub id: &'a str,
    /// When the user logged in (the session's start).
    pub auth_time: i64,
}

/// How recent the user's login must be.
#[derive(Debug)]
pub(crate) enum Freshness {
    /// Any login will do.
    Any,
    /// A login at or after this time (`max_age`).
    Since(i64),
    /// A login after the provider sent the user to log in again (a checked marker).
    After(ReauthMarker),
    /// No login so far: the user must log in again (`prompt=login`, a bad marker).
    Never,
}

/// What a checked `hubauth_reauth` marker says.
#[derive(Debug)]
pub(crate) struct ReauthMarker {
    /// When the provider sent the user to log in.
    since: i64,
    /// MAC of the session the user had then (of no session: the empty string).
    stale: Vec<u8>,
}

impl Freshness {
    /// Whether `session` is recent enough.
    pub(crate) fn met_by(&self, key: &[u8], client_id: &str, session: LoginSession<'_>) -> bool {
        match self {
            Freshness::Any => true,
            Freshness::Since(since) => session.auth_time >= *since,
            Freshness::After(marker) => {
                session.auth_time >= marker.since
                    && !constant_eq(
                        &marker.stale,
                        &mac(key, "stale", client_id, marker.since, session.id),
                    )
            }
            Freshness::Never => false,
        }
    }
}

fn mac(key: &[u8], part: &str, client_id: &str, since: i64, extra: &str) -> Vec<u8> {
    type HmacSha256 = Hmac<Sha256>;
    // HMAC takes keys of any length, so this never falls back in practice.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default()));
    mac.update(format!("hubauth-oauth2-reauth-{part}\n{client_id}\n{since}\n{extra}").as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// The `hubauth_reauth` value of an authorization request sent through a forced login at
/// `since`, by a user whose session was `stale` (none: `None`): the time, its MAC bound
/// to the client, and a MAC of the stale session, in hex.
pub(crate) fn reauth_marker(
    key: &[u8],
    client_id: &str,
    since: i64,
    stale: Option<&str>,
) -> String {
    format!(
        "{since}.{}.{}",
        hex::encode(mac(key, "time", client_id, since, "")),
        hex::encode(mac(key, "stale", client_id, since, stale.unwrap_or("")))
    )
}

/// The marker's content, when it is the provider's own for this client and recent;
/// `None` otherwise.
pub(crate) fn check_reauth_marker(
    key: &[u8],
    client_id: &str,
    marker: &str,
    now: i64,
) -> Option<ReauthMarker> {
    let mut parts = marker.split('.');
    let (since, time_mac, stale) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || since.is_empty() || !since.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let since: i64 = since.parse().ok()?;
    let time_mac = hex::decode(time_mac).ok()?;
    let stale = hex::decode(stale).ok()?;
    let recent = since <= now && now.saturating_sub(since) <= REAUTH_TTL;
    let genuine = constant_eq(&time_mac, &mac(key, "time", client_id, since, ""));
    (recent && genuine).then_some(ReauthMarker { since, stale })
}

/// The authorization request `request_uri` (path and query) to come back to after a
/// forced login: without `prompt=login` (other prompt values stay), so that it does not
/// loop, and with the marker instead.
pub(crate) fn reauth_url(request_uri: &str, marker: &str) -> String {
    let (path, query) = request_uri.split_once('?').unwrap_or((request_uri, ""));
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "hubauth_reauth" => {}
            "prompt" => {
                let rest: Vec<&str> = value
                    .split(' ')
                    .filter(|p| !p.is_empty() && *p != "login")
                    .collect();
                if !rest.is_empty() {
                    out.append_pair("prompt", &rest.join(" "));
                }
            }
            _ => {
                out.append_pair(&key, &value);
            }
        }
    }
    out.append_pair("hubauth_reauth", marker);
    format!("{path}?{}", out.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn session(id: &str, auth_time: i64) -> LoginSession<'_> {
        LoginSession { id, auth_time }
    }

    #[test]
    fn a_marker_is_met_only_by_a_later_login_in_another_session() {
        let marker = reauth_marker(KEY, "app", 1000, Some("old"));
        let checked = Freshness::After(check_reauth_marker(KEY, "app", &marker, 1010).unwrap());
        assert!(checked.met_by(KEY, "app", session("new", 1005)));
        assert!(
            !checked.met_by(KEY, "app", session("old", 1005)),
            "same session"
        );
        assert!(
            !checked.met_by(KEY, "app", session("new", 999)),
            "earlier login"
        );
    }

    #[test]
    fn forged_foreign_or_old_markers_are_refused() {
        let marker = reauth_marker(KEY, "app", 1000, None);
        assert!(check_reauth_marker(KEY, "other", &marker, 1010).is_none());
        assert!(check_reauth_marker(b"another key", "app", &marker, 1010).is_none());
        assert!(check_reauth_marker(KEY, "app", &marker, 1000 + REAUTH_TTL + 1).is_none());
        assert!(
            check_reauth_marker(KEY, "app", &marker, 999).is_none(),
            "future"
        );
        let later = marker.replacen("1000", "1001", 1);
        assert!(check_reauth_marker(KEY, "app", &later, 1010).is_none());
        for bad in [
            "",
            "1000",
            "1000.aa",
            "x.aa.bb",
            "1000.zz.bb",
            &format!("{marker}.x"),
        ] {
            assert!(
                check_reauth_marker(KEY, "app", bad, 1010).is_none(),
                "{bad}"
            );
        }
    }

    #[test]
    fn max_age_and_prompt_login() {
        assert!(Freshness::Since(100).met_by(KEY, "app", session("s", 100)));
        assert!(!Freshness::Since(100).met_by(KEY, "app", session("s", 99)));
        assert!(Freshness::Any.met_by(KEY, "app", session("s", 0)));
        assert!(!Freshness::Never.met_by(KEY, "app", session("s", i64::MAX)));
    }

    #[test]
    fn the_way_back_drops_prompt_login_and_an_old_marker() {
        assert_eq!(
            reauth_url(
                "/hub/api/oauth2/authorize?client_id=a&prompt=login+consent&hubauth_reauth=old&state=x%20y",
                "M"
            ),
            "/hub/api/oauth2/authorize?client_id=a&prompt=consent&state=x+y&hubauth_reauth=M"
        );
        assert_eq!(reauth_url("/p?prompt=login", "M"), "/p?hubauth_reauth=M");
    }
}
