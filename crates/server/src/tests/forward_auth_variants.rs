//! Property tests of the forward-auth decision (the headers a proxy sends → allowed,
//! denied or refused): no spelling of a denied request's host or path gets it allowed,
//! and harmless spellings of an allowed request stay allowed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::http::{HeaderMap, HeaderValue};
use hubauth_server::forward_auth::{DefaultAccess, ForwardAuthRule, is_allowed};
use hubauth_server::request_target::ForwardedTarget;
use proptest::prelude::*;

/// The rules of every case: `/private` is ann's on any host; app.example is for staff,
/// except `/public`, open to guest too; `/admin` on app.example:8443 is root's.
fn rules() -> Vec<ForwardAuthRule> {
    [
        serde_json::json!({ "path_prefix": "/private", "allowed_users": ["ann"] }),
        serde_json::json!({ "host": "app.example", "path_prefix": "/", "allowed_groups": ["staff"] }),
        serde_json::json!({ "host": "app.example", "path_prefix": "/public", "allowed_users": ["guest"], "allowed_groups": ["staff"] }),
        serde_json::json!({ "host": "app.example:8443", "path_prefix": "/admin", "allowed_users": ["root"] }),
    ]
    .iter()
    .enumerate()
    .map(|(index, rule)| ForwardAuthRule::from_json(index, rule).unwrap())
    .collect()
}

#[derive(Debug, PartialEq)]
enum Verdict {
    Allowed,
    Denied,
    Refused,
}

/// What a forward-auth check with these headers answers a logged-in `user`.
fn verdict(headers: &HeaderMap, default: DefaultAccess, user: &str, groups: &[&str]) -> Verdict {
    let groups: Vec<String> = groups.iter().map(|g| (*g).to_owned()).collect();
    match ForwardedTarget::from_headers(headers) {
        Err(_) => Verdict::Refused,
        Ok(target) => {
            if is_allowed(
                &rules(),
                default,
                target.host.as_ref(),
                &target.uri.path,
                user,
                &groups,
            ) {
                Verdict::Allowed
            } else {
                Verdict::Denied
            }
        }
    }
}

/// A denied request: who asks, for which host (name, and the port that must be kept),
/// which path segments, and the groups the user has.
#[derive(Debug, Clone)]
struct Case {
    user: &'static str,
    groups: &'static [&'static str],
    host: &'static str,
    port: Option<&'static str>,
    segments: &'static [&'static str],
}

const DENIED: &[Case] = &[
    Case {
        user: "bob",
        groups: &["staff"],
        host: "other.example",
        port: None,
        segments: &["private", "x"],
    },
    Case {
        user: "bob",
        groups: &[],
        host: "app.example",
        port: None,
        segments: &["private"],
    },
    Case {
        user: "guest",
        groups: &[],
        host: "app.example",
        port: None,
        segments: &["secret", "file.txt"],
    },
    Case {
        user: "staffer",
        groups: &["staff"],
        host: "app.example",
        port: Some("8443"),
        segments: &["admin", "users"],
    },
];

/// Hosts as a client may spell them: any letter case, one trailing dot, a numeric port
/// (when the case has one: that port, maybe with leading zeros), or junk that must be
/// refused (a port that is not a number, brackets, two dots, userinfo).
fn host_spelling(case: &Case) -> impl Strategy<Value = String> + use<> {
    let name = case.host;
    let port = case.port;
    (
        proptest::collection::vec(any::<bool>(), name.len()),
        any::<bool>(),
        0..12usize,
        any::<u16>(),
    )
        .prop_map(move |(upper, trailing_dot, port_kind, random_port)| {
            let mut host: String = name
                .chars()
                .zip(upper)
                .map(|(c, up)| if up { c.to_ascii_uppercase() } else { c })
                .collect();
            if trailing_dot {
                host.push('.');
            }
            let junk = [
                ":!", ":80x", ":@evil", ":", ":99999", ":123456", ":-1", ":+80", ":0x50", ": 80",
            ];
            match (port, port_kind) {
                (Some(port), 0..=4) => format!("{host}:{port}"),
                (Some(port), 5..=6) => format!("{host}:0{port}"),
                (None, 0..=3) => host,
                (None, 4..=6) => format!("{host}:{random_port}"),
                (_, 7) => format!("[{host}]"),
                (_, 8) => format!("{host}.."),
                (_, 9) => format!("user@{host}"),
                (_, kind) => format!("{host}{}", junk[(kind + random_port as usize) % junk.len()]),
            }
        })
}

/// One path segment spelled with any letter case and any character percent-encoded
/// (upper or lower hex, or encoded twice), maybe with `;parameters`.
fn segment_spelling(segment: &'static str) -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(0..8u8, segment.len()),
        proptest::option::of(prop_oneof![Just(";"), Just(";jsessionid=1"), Just(";a=b")]),
    )
        .prop_map(move |(choices, params)| {
            let mut out = String::new();
            for (c, choice) in segment.chars().zip(choices) {
                match choice {
                    0 => out.push_str(&format!("%{:02X}", c as u32)),
                    1 => out.push_str(&format!("%{:02x}", c as u32)),
                    2 => out.push_str(&format!("%25{:02X}", c as u32)),
                    3 => out.push(c.to_ascii_uppercase()),
                    _ => out.push(c),
                }
            }
            if let Some(params) = params {
                out.push_str(params);
            }
            out
        })
}

/// What may stand between two segments: separators (repeated, `\`, encoded once or
/// twice), `.` segments, and detours into another directory and back out with `..`
/// spelled any way.
fn separator() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        4 => Just("/"),
        1 => Just("//"),
        1 => Just("///"),
        1 => Just("\\"),
        1 => Just("%2F"),
        1 => Just("%2f"),
        1 => Just("%5C"),
        1 => Just("%252F"),
        1 => Just("/./"),
        1 => Just("/%2e/"),
        1 => Just("/.;/"),
        1 => Just("/junk/../"),
        1 => Just("/junk/%2e%2e/"),
        1 => Just("/junk/%2E./"),
        1 => Just("/junk/..;/"),
        1 => Just("/junk;x=1/..;y=2/"),
        1 => Just("/junk%2F..%2F"),
        1 => Just("/junk\\..\\"),
        1 => Just("/junk/%252e%252e/"),
        1 => Just("/junk%252F..%252F"),
    ]
}

fn query() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just(""),
        Just("?"),
        Just("?a=1"),
        Just("?next=/public"),
        Just("?x=%2F..%2Fpublic"),
        Just("?/public/../"),
        Just("#frag"),
        Just("?a#/public"),
    ]
}

/// How the host reaches the check: only X-Forwarded-Host (Host is the hub's own, as
/// Traefik sends it), only Host, both, X-Forwarded-Host twice, or listed with another.
fn place_host(headers: &mut HeaderMap, host: &str, how: u8) {
    let value = |text: &str| HeaderValue::from_str(text).unwrap();
    match how {
        0 => {
            headers.insert("host", value("hub.internal:8000"));
            headers.insert("x-forwarded-host", value(host));
        }
        1 => {
            headers.insert("host", value(host));
        }
        2 => {
            headers.insert("host", value(host));
            headers.insert("x-forwarded-host", value(host));
        }
        3 => {
            headers.append("x-forwarded-host", value(host));
            headers.append("x-forwarded-host", value(host));
        }
        _ => {
            headers.insert("x-forwarded-host", value(&format!("{host}, evil.example")));
        }
    }
}

/// A path for `segments`, each spelled some way, with whatever goes between them.
fn path_spelling(segments: &'static [&'static str]) -> impl Strategy<Value = String> {
    let spelled: Vec<_> = segments
        .iter()
        .map(|segment| (separator(), segment_spelling(segment)))
        .collect();
    (
        spelled,
        prop_oneof![Just(""), Just("/"), Just("//"), Just("/.")],
        query(),
    )
        .prop_map(|(parts, tail, query)| {
            let mut path = String::new();
            for (index, (sep, segment)) in parts.into_iter().enumerate() {
                // The path starts with `/` whatever separator was drawn.
                if index == 0 && !sep.starts_with('/') {
                    path.push('/');
                }
                path.push_str(sep);
                path.push_str(&segment);
            }
            path.push_str(tail);
            path.push_str(query);
            path
        })
}

fn denied_request() -> impl Strategy<Value = (Case, HeaderMap, String)> {
    (0..DENIED.len()).prop_flat_map(|index| {
        let case = DENIED[index].clone();
        (
            Just(case.clone()),
            host_spelling(&case),
            path_spelling(case.segments),
            0..5u8,
            0..4u8,
        )
            .prop_map(|(case, host, path, how, uri_form)| {
                let mut headers = HeaderMap::new();
                place_host(&mut headers, &host, how);
                // Absolute-form (nginx can be asked for `GET http://host/path`) or a path,
                // in X-Forwarded-Uri, X-Original-URI, or both.
                let uri = if uri_form == 3 {
                    format!("http://{host}{path}")
                } else {
                    path
                };
                let value = HeaderValue::from_str(&uri).unwrap();
                match uri_form {
                    0 | 3 => {
                        headers.insert("x-forwarded-uri", value);
                    }
                    1 => {
                        headers.insert("x-original-uri", value);
                    }
                    _ => {
                        headers.insert("x-forwarded-uri", value.clone());
                        headers.insert("x-original-uri", value);
                    }
                }
                (case, headers, uri)
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, .. ProptestConfig::default() })]

    #[test]
    fn no_spelling_of_a_denied_request_is_allowed(
        (case, headers, uri) in denied_request(),
        deny_by_default in any::<bool>(),
    ) {
        let default = if deny_by_default { DefaultAccess::Deny } else { DefaultAccess::Allow };
        let verdict = verdict(&headers, default, case.user, case.groups);
        prop_assert_ne!(verdict, Verdict::Allowed, "{} allowed {:?} with {:?}", case.user, uri, headers);
    }

    #[test]
    fn harmless_spellings_of_an_allowed_request_stay_allowed(
        which in 0..3usize,
        upper in proptest::collection::vec(any::<bool>(), 11),
        trailing_dot in any::<bool>(),
        port in proptest::option::of(1..=65535u16),
        how in 0..4u8,
        seps in proptest::collection::vec(prop_oneof![Just("/"), Just("//"), Just("/./"), Just("/junk/../"), Just("/a/b/../../")], 2),
        tail in prop_oneof![Just(""), Just("/"), Just("//")],
        query in prop_oneof![Just(""), Just("?a=1"), Just("?x=/secret/../%2F"), Just("?")],
    ) {
        // guest may read /public on app.example, staff anything there.
        let (user, groups, segments): (&str, &[&str], [&str; 2]) = [
            ("guest", &[][..], ["public", "x"]),
            ("sam", &["staff"][..], ["secret", "y"]),
            ("sam", &["staff"][..], ["public", "z"]),
        ][which];
        let mut host: String = "app.example"
            .chars()
            .zip(upper)
            .map(|(c, up)| if up { c.to_ascii_uppercase() } else { c })
            .collect();
        if trailing_dot {
            host.push('.');
        }
        if let Some(port) = port.filter(|port| *port != 8443) {
            host.push_str(&format!(":{port}"));
        }
        let path = format!("{}{}{}{}{tail}{query}", seps[0], segments[0], seps[1], segments[1]);
        let mut headers = HeaderMap::new();
        place_host(&mut headers, &host, how);
        headers.insert("x-forwarded-uri", HeaderValue::from_str(&path).unwrap());
        for default in [DefaultAccess::Allow, DefaultAccess::Deny] {
            let got = verdict(&headers, default, user, groups);
            prop_assert_eq!(got, Verdict::Allowed, "{} refused {:?} on {:?}", user, path, host);
        }
    }
}

#[test]
fn the_attacks_of_the_report_are_each_refused_or_denied() {
    let ask = |host: &str, uri: Option<&str>| {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-host", HeaderValue::from_str(host).unwrap());
        if let Some(uri) = uri {
            headers.insert("x-forwarded-uri", HeaderValue::from_str(uri).unwrap());
        }
        verdict(&headers, DefaultAccess::Allow, "guest", &[])
    };
    for (host, uri) in [
        ("app.example", Some("//secret/x")),
        ("app.example", Some("///secret/x")),
        ("other.example", Some("//private/x")),
        ("other.example", Some("///private/x")),
        ("app.example.", Some("/secret")),
        ("app.example:!", Some("/secret")),
        ("app.example:80x", Some("/secret")),
        ("app.example:@evil", Some("/secret")),
        ("app.example", None),
        ("app.example", Some("secret")),
        ("app.example", Some("")),
    ] {
        assert_ne!(ask(host, uri), Verdict::Allowed, "{host} {uri:?}");
    }
    assert_eq!(ask("app.example", Some("/public/x")), Verdict::Allowed);
}
