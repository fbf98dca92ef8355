//! auth_state encryption: JupyterHub key formats, Fernet compatibility (the
//! spec's test vector and Python's `cryptography` package), key rotation.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use hubauth_store::crypt::{CryptError, CryptKeeper, generate_key};
use serde_json::json;

/// 32 raw key bytes whose base64 forms differ between the two alphabets.
fn raw_key(seed: u8) -> Vec<u8> {
    (0u8..32)
        .map(|i| i.wrapping_mul(37).wrapping_add(seed).wrapping_add(250))
        .collect()
}

fn doc() -> serde_json::Value {
    json!({
        "access_token": "ya29.secret",
        "refresh_token": null,
        "scope": ["openid", "email"],
        "nested": {"n": 1, "f": 2.5, "t": true},
        "unicode": "h\u{e9}llo \u{2603}",
    })
}

const NOW: u64 = 1_700_000_000;

// ---------------------------------------------------------------------------
// round trip and rotation

#[test]
fn round_trip_with_random_iv_and_given_time() {
    let keeper = CryptKeeper::from_keys_str(&generate_key()).unwrap();
    assert!(keeper.is_available());
    assert_eq!(keeper.key_count(), 1);

    let token = keeper.encrypt_json(&doc(), NOW).unwrap();
    assert!(token.starts_with(b"gAAAAA"), "a Fernet token");
    let decrypted = keeper.decrypt_json(&token).unwrap();
    assert_eq!(decrypted.value, doc());
    assert!(!decrypted.rotated_key);

    // The token carries the time we passed in (bytes 1..9, big-endian).
    let raw = URL_SAFE.decode(&token).unwrap();
    assert_eq!(raw[0], 0x80);
    assert_eq!(u64::from_be_bytes(raw[1..9].try_into().unwrap()), NOW);

    // A fresh IV each time.
    let again = keeper.encrypt_json(&doc(), NOW).unwrap();
    assert_ne!(token, again);

    // Debug output shows neither the key nor the value.
    assert!(!format!("{keeper:?}").contains('='));
    assert!(!format!("{decrypted:?}").contains("ya29"));
}

#[test]
fn key_rotation() {
    let a = generate_key();
    let b = generate_key();
    assert_ne!(a, b);
    let only_b = CryptKeeper::from_keys_str(&b).unwrap();
    let token = only_b.encrypt_json(&doc(), NOW).unwrap();

    let a_then_b = CryptKeeper::from_keys_str(&format!("{a};{b}")).unwrap();
    assert_eq!(a_then_b.key_count(), 2);
    let decrypted = a_then_b.decrypt_json(&token).unwrap();
    assert_eq!(decrypted.value, doc());
    assert!(decrypted.rotated_key, "decrypted by the second key");

    // Re-encrypting uses the first key: no rotation needed afterwards, and
    // the old key alone can no longer read it.
    let rotated = a_then_b.encrypt_json(&decrypted.value, NOW).unwrap();
    assert!(!a_then_b.decrypt_json(&rotated).unwrap().rotated_key);
    assert_eq!(
        only_b.decrypt_json(&rotated),
        Err(CryptError::Undecryptable)
    );

    let b_then_a = CryptKeeper::from_keys_str(&format!("{b};{a}")).unwrap();
    assert!(!b_then_a.decrypt_json(&token).unwrap().rotated_key);

    let only_a = CryptKeeper::from_keys_str(&a).unwrap();
    assert_eq!(only_a.decrypt_json(&token), Err(CryptError::Undecryptable));
}

#[test]
fn tampered_or_garbage_tokens_are_undecryptable() {
    let keeper = CryptKeeper::from_keys_str(&generate_key()).unwrap();
    let mut token = keeper.encrypt_json(&doc(), NOW).unwrap();
    let i = token.len() / 2;
    token[i] = if token[i] == b'A' { b'B' } else { b'A' };
    assert_eq!(keeper.decrypt_json(&token), Err(CryptError::Undecryptable));
    assert_eq!(
        keeper.decrypt_json(b"not a token"),
        Err(CryptError::Undecryptable)
    );
    assert_eq!(
        keeper.decrypt_json(&[0xff, 0xfe, 0x00]),
        Err(CryptError::Undecryptable)
    );
    assert_eq!(keeper.decrypt_json(b""), Err(CryptError::Undecryptable));
}

#[test]
fn no_keys() {
    for keys in ["", " ", ";", " ; ; "] {
        let keeper = CryptKeeper::from_keys_str(keys).unwrap();
        assert!(!keeper.is_available());
        assert_eq!(keeper.key_count(), 0);
        assert_eq!(keeper.encrypt_json(&doc(), NOW), Err(CryptError::NoKeys));
        assert_eq!(keeper.decrypt_json(b"gAAAAA"), Err(CryptError::NoKeys));
    }
    let empty = CryptKeeper::empty();
    assert!(!empty.is_available());
    assert!(
        CryptError::NoKeys
            .to_string()
            .contains("JUPYTERHUB_CRYPT_KEY")
    );
}

// ---------------------------------------------------------------------------
// key formats

#[test]
fn key_formats_are_equivalent() {
    let raw = raw_key(0);
    let url_safe = URL_SAFE.encode(&raw);
    let standard = STANDARD.encode(&raw);
    assert_ne!(url_safe, standard, "the alphabets differ for this key");
    assert!(standard.contains(['+', '/']));
    let forms = [
        url_safe,
        standard,
        hex::encode(&raw),
        hex::encode_upper(&raw),
    ];

    let reference = CryptKeeper::from_keys_str(&forms[0]).unwrap();
    let token = reference.encrypt_json(&doc(), NOW).unwrap();
    for form in &forms {
        let keeper = CryptKeeper::from_keys_str(form).unwrap();
        assert_eq!(keeper.decrypt_json(&token).unwrap().value, doc(), "{form}");
        let back = keeper.encrypt_json(&doc(), NOW).unwrap();
        assert_eq!(reference.decrypt_json(&back).unwrap().value, doc());
    }

    // 32 raw ASCII characters are used as the key bytes themselves.
    let ascii = "0123456789abcdef0123456789ABCDEF";
    let as_raw = CryptKeeper::from_keys_str(ascii).unwrap();
    let as_b64 = CryptKeeper::from_keys_str(&URL_SAFE.encode(ascii.as_bytes())).unwrap();
    let token = as_raw.encrypt_json(&doc(), NOW).unwrap();
    assert_eq!(as_b64.decrypt_json(&token).unwrap().value, doc());
}

#[test]
fn key_lists_are_trimmed_and_blank_entries_skipped() {
    // Upstream quirk F19: "k1; k2" invalidates k2 in JupyterHub; hubauth trims.
    let k1 = generate_key();
    let k2 = hex::encode(raw_key(9));
    let keeper = CryptKeeper::from_keys_str(&format!("  {k1} ;  {k2}\n;; ")).unwrap();
    assert_eq!(keeper.key_count(), 2);
    let second = CryptKeeper::from_keys_str(&k2).unwrap();
    let token = second.encrypt_json(&doc(), NOW).unwrap();
    assert!(keeper.decrypt_json(&token).unwrap().rotated_key);
}

#[test]
fn bad_keys_are_refused_without_printing_them() {
    let good = generate_key();
    let cases = [
        ("tooshort-secret-value", 1),
        (&format!("{good};bad-secret-value") as &str, 2),
        (
            &format!(" ; {good} ; ; not-base64-secret!!!!!!!!!!!!!!!!!!!!!!!!!"),
            2,
        ),
        (&"z".repeat(64), 1),
        (&"s".repeat(33), 1),
        (&"\u{e9}".repeat(16), 1), // 32 bytes, but not ASCII
        (&URL_SAFE.encode([7u8; 31]), 1),
    ];
    for (keys, index) in cases {
        let err = CryptKeeper::from_keys_str(keys).unwrap_err();
        assert_eq!(err, CryptError::BadKey { index }, "{keys:?}");
        let msg = err.to_string();
        assert!(
            msg.starts_with("Encryption keys must be 32 bytes, hex or base64-encoded."),
            "{msg}"
        );
        assert!(!msg.contains("secret"), "{msg}");
        assert!(!msg.contains(&good), "{msg}");
    }
}

#[test]
fn generated_keys_are_url_safe_base64_of_32_bytes() {
    let key = generate_key();
    assert_eq!(key.len(), 44);
    assert_eq!(URL_SAFE.decode(&key).unwrap().len(), 32);
    assert!(!key.contains(['+', '/']));
    assert_ne!(key, generate_key());
    let other = hubauth_store::CryptKeeper::generate_key();
    assert!(CryptKeeper::from_keys_str(&other).is_ok());
}

#[test]
fn non_json_plaintext_is_bad_json() {
    let key = generate_key();
    let fernet = fernet::Fernet::new(&key).unwrap();
    let token = fernet.encrypt_at_time(b"{not json: s3cret", NOW);
    let keeper = CryptKeeper::from_keys_str(&key).unwrap();
    match keeper.decrypt_json(token.as_bytes()) {
        Err(err @ CryptError::BadJson { .. }) => assert!(!err.to_string().contains("s3cret")),
        other => panic!("expected BadJson, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// the Fernet spec's test vector

const SPEC_SECRET: &str = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
const SPEC_TOKEN: &str = "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==";

#[test]
fn fernet_spec_test_vector() {
    // "now" is 1985-10-26T01:20:01-07:00, ttl 60 in the spec's verify.json.
    let fernet = fernet::Fernet::new(SPEC_SECRET).unwrap();
    let plain = fernet
        .decrypt_at_time(SPEC_TOKEN, Some(60), 499_162_801)
        .unwrap();
    assert_eq!(plain, b"hello");

    // The same secret as a JUPYTERHUB_CRYPT_KEY entry: the key is parsed the
    // same way (it decrypts; "hello" is simply not JSON).
    let keeper = CryptKeeper::from_keys_str(SPEC_SECRET).unwrap();
    assert!(matches!(
        keeper.decrypt_json(SPEC_TOKEN.as_bytes()),
        Err(CryptError::BadJson { .. })
    ));
    let hex_form = hex::encode(URL_SAFE.decode(SPEC_SECRET).unwrap());
    let keeper = CryptKeeper::from_keys_str(&format!("{};{hex_form}", generate_key())).unwrap();
    assert!(matches!(
        keeper.decrypt_json(SPEC_TOKEN.as_bytes()),
        Err(CryptError::BadJson { .. })
    ));
}

// ---------------------------------------------------------------------------
// interoperability with Python's `cryptography` (what JupyterHub uses)

/// True when Python with `cryptography` is available; false (with a note) when
/// it is missing and HUBAUTH_SKIP_PYTHON=1; otherwise the test fails.
fn python_ready() -> bool {
    let probe = Command::new("python3")
        .args(["-c", "import cryptography.fernet"])
        .output();
    let problem = match probe {
        Ok(out) if out.status.success() => return true,
        Ok(out) => format!(
            "python3 cannot import cryptography.fernet: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(err) => format!("python3 could not be run: {err}"),
    };
    if std::env::var("HUBAUTH_SKIP_PYTHON").as_deref() == Ok("1") {
        eprintln!(
            "note: skipping the Python interop test because HUBAUTH_SKIP_PYTHON=1 ({problem})"
        );
        return false;
    }
    panic!(
        "{problem}. This test checks compatibility with JupyterHub's encryption and needs \
         python3 with the `cryptography` package: run the project's test script, which \
         installs it (or set HUBAUTH_SKIP_PYTHON=1 to skip this test)."
    );
}

/// Run a Python snippet with environment variables; return its trimmed stdout.
fn python(script: &str, env: &[(&str, &str)]) -> String {
    let out = Command::new("python3")
        .args(["-c", script])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// JupyterHub's CryptKeeper in miniature: keys from `KEYS` (`;`-separated
/// hex), MultiFernet over `urlsafe_b64encode(raw)`.
const PY_KEEPER: &str = r#"
import base64, json, os, sys
from cryptography.fernet import Fernet, MultiFernet
keys = [bytes.fromhex(k) for k in os.environ["KEYS"].split(";")]
fernets = [Fernet(base64.urlsafe_b64encode(k)) for k in keys]
multi = MultiFernet(fernets)
"#;

#[test]
fn python_cryptography_interop() {
    if !python_ready() {
        return;
    }
    let a = raw_key(1);
    let b = raw_key(2);
    let a_hex = hex::encode(&a);
    let b_hex = hex::encode(&b);
    let doc_text = doc().to_string();

    // (a) Python encrypts like JupyterHub (json.dumps, UTF-8); we decrypt.
    let encrypt = format!(
        "{PY_KEEPER}\nprint(multi.encrypt(json.dumps(json.loads(os.environ['DOC'])).encode('utf8')).decode('ascii'))"
    );
    let token = python(&encrypt, &[("KEYS", &a_hex), ("DOC", &doc_text)]);
    assert!(token.starts_with("gAAAAA"));
    let keeper = CryptKeeper::from_keys_str(&a_hex).unwrap();
    let decrypted = keeper.decrypt_json(token.as_bytes()).unwrap();
    assert_eq!(decrypted.value, doc());
    assert!(!decrypted.rotated_key);
    // The same key written as base64 works too.
    let keeper_b64 = CryptKeeper::from_keys_str(&URL_SAFE.encode(&a)).unwrap();
    assert_eq!(
        keeper_b64.decrypt_json(token.as_bytes()).unwrap().value,
        doc()
    );

    // ... and a token Python made with an old key is readable and flagged.
    let old_token = python(&encrypt, &[("KEYS", &b_hex), ("DOC", &doc_text)]);
    let rotating = CryptKeeper::from_keys_str(&format!("{a_hex}; {b_hex}")).unwrap();
    let decrypted = rotating.decrypt_json(old_token.as_bytes()).unwrap();
    assert_eq!(decrypted.value, doc());
    assert!(decrypted.rotated_key);

    // (b) We encrypt; Python decrypts (and sees the timestamp we passed in).
    let ours = rotating.encrypt_json(&doc(), NOW).unwrap();
    let decrypt = format!(
        "{PY_KEEPER}\ntoken = os.environ['TOKEN'].encode('ascii')\n\
         print(json.dumps({{'ts': fernets[0].extract_timestamp(token), \
         'doc': json.loads(multi.decrypt(token).decode('utf8'))}}))"
    );
    let ours_text = String::from_utf8(ours).unwrap();
    let out = python(
        &decrypt,
        &[("KEYS", &format!("{a_hex};{b_hex}")), ("TOKEN", &ours_text)],
    );
    let out: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out["doc"], doc());
    assert_eq!(out["ts"], json!(NOW));
}
