//! Property tests of the escaping every login name goes through: whatever the name, a
//! filter built from it is one equality match on exactly that value, and a DN built from
//! it is one RDN whose value is exactly that name.

use ldap3::asn1::{OctetString, Sequence, Tag, TagClass};
use ldap3::{dn_escape, ldap_escape, parse_filter};
use proptest::prelude::*;

/// RFC 4515 filter: `(uid=VALUE)` is the equality-match choice, `[3]`.
const EQUALITY_MATCH: u64 = 3;

/// Names made of the characters that matter in filters and DNs, and anything else.
fn hostile_name() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("*".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just("\\".to_owned()),
        Just("\0".to_owned()),
        Just(",".to_owned()),
        Just("+".to_owned()),
        Just("=".to_owned()),
        Just("\"".to_owned()),
        Just("<".to_owned()),
        Just(">".to_owned()),
        Just(";".to_owned()),
        Just("#".to_owned()),
        Just(" ".to_owned()),
        Just("|".to_owned()),
        Just("&".to_owned()),
        Just("uid=".to_owned()),
        "[a-z]{1,4}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 1..12).prop_map(|pieces| pieces.concat())
}

/// Reads an RFC 4514 attribute value back: `\X` for a special character, `\HH` for a
/// byte. `None` when an unescaped special character would end or split the value.
fn unescape_dn_value(escaped: &str) -> Option<String> {
    let bytes = escaped.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                let next = *bytes.get(i + 1)?;
                if next.is_ascii_hexdigit() && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit) {
                    out.push(u8::from_str_radix(&escaped[i + 1..i + 3], 16).ok()?);
                    i += 3;
                } else {
                    out.push(next);
                    i += 2;
                }
            }
            b',' | b'+' | b'"' | b'<' | b'>' | b';' | b'=' | 0 => return None,
            b'#' if i == 0 => return None,
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

    #[test]
    fn an_escaped_name_is_one_equality_match_on_exactly_that_name(name in hostile_name()) {
        let filter = format!("(uid={})", ldap_escape(name.as_str()));
        let parsed = parse_filter(&filter);
        prop_assert!(parsed.is_ok(), "{:?} gave an unparsable filter {:?}", name, filter);
        let Ok(Tag::Sequence(Sequence { class: TagClass::Context, id: EQUALITY_MATCH, inner })) = parsed else {
            return Err(TestCaseError::fail(format!("{name:?} is not one equality match: {filter:?}")));
        };
        let values: Vec<&[u8]> = inner
            .iter()
            .filter_map(|tag| match tag {
                Tag::OctetString(OctetString { inner, .. }) => Some(inner.as_slice()),
                _ => None,
            })
            .collect();
        prop_assert_eq!(values, vec![&b"uid"[..], name.as_bytes()]);
    }

    #[test]
    fn an_escaped_name_is_one_dn_value_holding_exactly_that_name(name in hostile_name()) {
        let escaped = dn_escape(name.as_str());
        prop_assert_eq!(unescape_dn_value(&escaped), Some(name.clone()), "{:?}", escaped);
        // No leading or trailing space survives unescaped (RFC 4514 would trim it).
        prop_assert!(!escaped.starts_with(' '));
        prop_assert!(!escaped.ends_with(' ') || escaped.ends_with("\\ "));
    }
}
