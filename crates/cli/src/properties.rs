//! Property tests across the configuration front end: any TOML text loads or fails with an
//! error that names the file, and any `jupyterhub_config.py` that `import-config` converts
//! comes out as a hubauth configuration that loads.

use hubauth_config::{Config, Registry};
use proptest::prelude::*;

fn registry() -> Registry {
    crate::registry().expect("the built-in registry is valid")
}

/// `(class, option)` pairs of every registered class, and a few names that are not.
fn names() -> Vec<(String, String)> {
    let mut names: Vec<(String, String)> = crate::catalog::class_defs()
        .iter()
        .flat_map(|class| {
            class
                .options
                .iter()
                .map(|option| (class.name.to_owned(), option.name.to_owned()))
        })
        .collect();
    names.push(("Authenticator".to_owned(), "whitelist".to_owned()));
    names.push(("Authenticator".to_owned(), "no_such_option".to_owned()));
    names.push(("NoSuchAuthenticator".to_owned(), "x".to_owned()));
    names
}

/// TOML values of every type an option can have, and some of none.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("true".to_owned()),
        Just("false".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        Just("1.5".to_owned()),
        Just("inf".to_owned()),
        "[a-z/:.@ -]{0,12}".prop_map(|s| format!("{s:?}")),
        Just("[]".to_owned()),
        Just("[\"a\", \"b\"]".to_owned()),
        Just("[1, \"a\"]".to_owned()),
        Just("{}".to_owned()),
        Just("{ a = \"b\" }".to_owned()),
        Just("2024-01-01T00:00:00Z".to_owned()),
        Just("\"\\u0000\"".to_owned()),
    ]
}

/// Python literals as config files write them.
fn python_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("True".to_owned()),
        Just("False".to_owned()),
        Just("None".to_owned()),
        any::<i32>().prop_map(|n| n.to_string()),
        Just("1.5".to_owned()),
        "[a-z/:.@ -]{0,12}".prop_map(|s| format!("{s:?}")),
        Just("[]".to_owned()),
        Just("['a', 'b']".to_owned()),
        Just("{'a', 'b'}".to_owned()),
        Just("{'a': 'b'}".to_owned()),
        Just("{'a': ['b']}".to_owned()),
        Just("('a',)".to_owned()),
        Just("os.environ['X']".to_owned()),
        Just("lambda u: u".to_owned()),
        Just("f'{x}'".to_owned()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

    #[test]
    fn any_toml_loads_or_names_the_file(
        entries in prop::collection::vec((any::<prop::sample::Index>(), toml_value()), 0..8),
        junk in prop_oneof![Just(String::new()), Just("=".to_owned()), Just("[".to_owned()), any::<String>()],
    ) {
        let registry = registry();
        let names = names();
        let mut text = String::new();
        for (which, value) in &entries {
            let (class, option) = &names[which.index(names.len())];
            text.push_str(&format!("[{class}]\n{option} = {value}\n"));
        }
        text.push_str(&junk);
        if let Err(error) = Config::parse(&text, "props.toml", &registry) {
            let message = error.to_string();
            prop_assert!(message.contains("props.toml"), "{message}");
        }
    }

    #[test]
    fn every_converted_config_loads(
        lines in prop::collection::vec((any::<prop::sample::Index>(), python_value(), any::<bool>()), 0..8),
    ) {
        let registry = registry();
        let names = names();
        let mut source = String::from("c = get_config()  # noqa\n");
        for (which, value, augmented) in &lines {
            let (class, option) = &names[which.index(names.len())];
            let op = if *augmented { "+=" } else { "=" };
            source.push_str(&format!("c.{class}.{option} {op} {value}\n"));
        }
        if let Ok(imported) = crate::import::import_config(&source, &registry) {
            let loaded = Config::parse(&imported.toml, "imported.toml", &registry);
            prop_assert!(loaded.is_ok(), "{}\n---\n{}\n---\n{:?}", source, imported.toml, loaded.err());
        }
    }
}
