//! Integration tests of hubauth-config: registry, loading, views, rendering.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use hubauth_config::{
    ClassDef, Config, ConfigError, DefaultValue::Computed, DefaultValue::Literal, Deprecated,
    Location, MapEnv, OptionDef, OptionType::*, Origin, Registry, RegistryError, generate_config,
    reference_markdown,
};

const WHITELIST: &[Deprecated] = &[Deprecated {
    name: "whitelist",
    since: "JupyterHub 1.2",
    same_type: true,
}];
const BLACKLIST: &[Deprecated] = &[Deprecated {
    name: "blacklist",
    since: "JupyterHub 1.2",
    same_type: true,
}];
const USERNAME_MAPPING: &[Deprecated] = &[Deprecated {
    name: "username_mapping",
    since: "JupyterHub 0.9",
    same_type: false,
}];

static AUTHENTICATOR: ClassDef = ClassDef {
    name: "Authenticator",
    bases: &[],
    help: "Base class of every login method.",
    options: &[
        OptionDef::new(
            "admin_users",
            Set,
            Literal("[]"),
            "Set of users that have admin rights.",
        ),
        OptionDef::new(
            "allowed_users",
            Set,
            Literal("[]"),
            "Set of usernames that are allowed to log in.\n\nNames are normalized before they are compared.",
        )
        .deprecated(WHITELIST),
        OptionDef::new(
            "blocked_users",
            Set,
            Literal("[]"),
            "Set of usernames that are not allowed to log in.",
        )
        .deprecated(BLACKLIST),
        OptionDef::new(
            "username_map",
            Map,
            Literal("{}"),
            "Map of authenticated usernames to hub usernames.",
        )
        .env(&["USERNAME_MAP"])
        .deprecated(USERNAME_MAPPING),
        OptionDef::new(
            "auth_refresh_age",
            Int,
            Literal("300"),
            "The maximum age in seconds of a user's authentication info before it is refreshed.",
        ),
        OptionDef::new(
            "allow_all",
            Bool,
            Literal("false"),
            "Allow every user who authenticates successfully to log in.",
        ),
        OptionDef::new(
            "allow_existing_users",
            Bool,
            Computed("true if allowed_users is not empty, else false"),
            "Allow users that already exist in the database to log in.",
        ),
    ],
};

static OAUTHENTICATOR: ClassDef = ClassDef {
    name: "OAuthenticator",
    bases: &["Authenticator"],
    help: "Base class of OAuth 2 login methods.",
    options: &[
        OptionDef::new("client_id", Str, Literal("\"\""), "The OAuth client id.")
            .env(&["OAUTH_CLIENT_ID"]),
        OptionDef::new(
            "client_secret",
            Str,
            Literal("\"\""),
            "The OAuth client secret.",
        )
        .env(&["OAUTH_CLIENT_SECRET"])
        .secret(),
        OptionDef::new("scope", List, Literal("[]"), "The OAuth scopes to request.")
            .env(&["OAUTH_SCOPE"]),
        OptionDef::new(
            "extra_authorize_params",
            Dict,
            Literal("{}"),
            "Extra parameters for the authorize request.",
        ),
        OptionDef::new(
            "username_claim",
            Str,
            Literal("\"username\""),
            "The claim holding the username.",
        ),
        OptionDef::new(
            "admin_groups",
            Set,
            Literal("[]"),
            "Groups whose members are admins.",
        ),
        OptionDef::new("tenant_id", Str, Literal("\"\""), "The tenant.")
            .env(&["AAD_TENANT_ID", "TENANT_ID"]),
        OptionDef::new(
            "token_params",
            Map,
            Literal("{}"),
            "Secret extra token parameters.",
        )
        .env(&["OAUTH_TOKEN_PARAMS"])
        .secret(),
    ],
};

static GENERIC: ClassDef = ClassDef {
    name: "GenericOAuthenticator",
    bases: &["OAuthenticator"],
    help: "Login with any OAuth 2 provider.",
    options: &[OptionDef::new(
        "username_claim",
        Str,
        Literal("\"preferred_username\""),
        "The claim holding the username (generic provider).",
    )],
};

static LOCAL: ClassDef = ClassDef {
    name: "LocalAuthenticator",
    bases: &["Authenticator"],
    help: "Creates system users.",
    options: &[
        OptionDef::new("uids", IntMap, Literal("{}"), "Fixed user ids by name."),
        OptionDef::new(
            "add_user_cmd",
            StrOrList,
            Literal("[]"),
            "The command that adds a system user.",
        )
        .env(&["ADD_USER_CMD"]),
        OptionDef::new(
            "create_system_users",
            Bool,
            Literal("false"),
            "Create missing system users.",
        ),
    ],
};

static PAM: ClassDef = ClassDef {
    name: "PAMAuthenticator",
    bases: &["LocalAuthenticator"],
    help: "Login with PAM.",
    options: &[OptionDef::new(
        "admin_groups",
        Set,
        Literal("[]"),
        "Unix groups whose members are admins.",
    )],
};

static DUMMY: ClassDef = ClassDef {
    name: "DummyAuthenticator",
    bases: &["Authenticator"],
    help: "For testing: any user name, one shared password.",
    options: &[OptionDef::new("password", Str, Literal("\"\""), "The shared password.").secret()],
};

static LOCAL_GENERIC: ClassDef = ClassDef {
    name: "LocalGenericOAuthenticator",
    bases: &["LocalAuthenticator", "GenericOAuthenticator"],
    help: "Generic OAuth with system users.",
    options: &[],
};

static HUB: ClassDef = ClassDef {
    name: "Hub",
    bases: &[],
    help: "Server settings.",
    options: &[
        OptionDef::new("port", Int, Literal("8000"), "The port to listen on.").env(&["HUB_PORT"]),
        OptionDef::new("verbose", Bool, Literal("false"), "Log more.").env(&["HUB_VERBOSE"]),
        OptionDef::new("timeout", Float, Literal("10.5"), "Seconds to wait.").env(&["HUB_TIMEOUT"]),
        OptionDef::new("load_roles", DictList, Literal("[]"), "Roles to create.")
            .env(&["HUB_LOAD_ROLES"]),
        OptionDef::new(
            "template_vars",
            Dict,
            Literal("{ title = \"Hub\" }"),
            "Variables for templates.",
        )
        .env(&["HUB_TEMPLATE_VARS"]),
        OptionDef::new(
            "banner",
            Str,
            Literal("\"\"\"\nWelcome\n\nto the hub\n\"\"\""),
            "A multi-line banner.",
        ),
        OptionDef::new(
            "cookie_max_age_days",
            Float,
            Computed("14 days, or the token lifetime if shorter"),
            "How long login cookies last.",
        ),
    ],
};

fn registry() -> Registry {
    Registry::new([
        &AUTHENTICATOR,
        &OAUTHENTICATOR,
        &GENERIC,
        &LOCAL,
        &PAM,
        &DUMMY,
        &LOCAL_GENERIC,
        &HUB,
    ])
    .unwrap()
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, "/etc/hubauth.toml", &registry())
}

fn parse_err(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(err) => err.to_string(),
    }
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------- registry

#[test]
fn mro_is_c3() {
    let r = registry();
    let names = |class: &str| -> Vec<&str> { r.mro(class).iter().map(|c| c.name).collect() };
    assert_eq!(
        names("LocalGenericOAuthenticator"),
        [
            "LocalGenericOAuthenticator",
            "LocalAuthenticator",
            "GenericOAuthenticator",
            "OAuthenticator",
            "Authenticator"
        ]
    );
    assert_eq!(
        names("PAMAuthenticator"),
        ["PAMAuthenticator", "LocalAuthenticator", "Authenticator"]
    );
    assert_eq!(names("Hub"), ["Hub"]);
    assert!(names("Nope").is_empty());
    assert!(r.is_subclass("LocalGenericOAuthenticator", "OAuthenticator"));
    assert!(!r.is_subclass("DummyAuthenticator", "OAuthenticator"));
    let order: Vec<&str> = r.classes().iter().map(|c| c.name).collect();
    assert_eq!(order[0], "Authenticator");
    assert_eq!(order[7], "Hub");
    assert!(r.class("Hub").is_some());
    assert!(r.class("hub").is_none());
}

#[test]
fn effective_options_most_specific_declaration_wins() {
    let r = registry();
    let options = r.options_of("LocalGenericOAuthenticator");
    let names: Vec<&str> = options.iter().map(|(_, o)| o.name).collect();
    let unique: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(names.len(), unique.len(), "each option once: {names:?}");
    assert!(unique.contains("uids"));
    assert!(unique.contains("client_id"));
    assert!(unique.contains("allowed_users"));
    let (owner, claim) = r
        .option("LocalGenericOAuthenticator", "username_claim")
        .unwrap();
    assert_eq!(owner.name, "GenericOAuthenticator");
    assert_eq!(claim.default, Literal("\"preferred_username\""));
    let (owner, _) = options
        .iter()
        .find(|(_, o)| o.name == "username_claim")
        .unwrap();
    assert_eq!(owner.name, "GenericOAuthenticator");
    let (owner, _) = r.option("OAuthenticator", "username_claim").unwrap();
    assert_eq!(owner.name, "OAuthenticator");
    assert!(r.option("DummyAuthenticator", "client_id").is_none());
    // base options come first
    assert_eq!(r.options_of("DummyAuthenticator")[0].1.name, "admin_users");
    let declaring: Vec<&str> = r
        .classes_declaring("admin_groups")
        .iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(declaring, ["OAuthenticator", "PAMAuthenticator"]);
    let declaring: Vec<&str> = r
        .classes_declaring("username_claim")
        .iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(declaring, ["OAuthenticator"]);
}

#[test]
fn registry_errors() {
    static A: ClassDef = ClassDef {
        name: "A",
        bases: &[],
        help: "",
        options: &[],
    };
    static B: ClassDef = ClassDef {
        name: "B",
        bases: &["A"],
        help: "",
        options: &[],
    };
    static C: ClassDef = ClassDef {
        name: "C",
        bases: &["A", "B"],
        help: "",
        options: &[],
    };
    static ORPHAN: ClassDef = ClassDef {
        name: "Orphan",
        bases: &["Missing"],
        help: "",
        options: &[],
    };
    static X: ClassDef = ClassDef {
        name: "X",
        bases: &["Y"],
        help: "",
        options: &[],
    };
    static Y: ClassDef = ClassDef {
        name: "Y",
        bases: &["X"],
        help: "",
        options: &[],
    };
    static TWICE: ClassDef = ClassDef {
        name: "Twice",
        bases: &[],
        help: "",
        options: &[
            OptionDef::new("a", Bool, Literal("false"), ""),
            OptionDef::new("a", Bool, Literal("true"), ""),
        ],
    };
    assert!(matches!(
        Registry::new([&A, &B, &C]),
        Err(RegistryError::InconsistentMro { ref class, .. }) if class == "C"
    ));
    assert_eq!(
        Registry::new([&A, &ORPHAN]).unwrap_err(),
        RegistryError::UnknownBase {
            class: "Orphan".into(),
            base: "Missing".into()
        }
    );
    assert_eq!(
        Registry::new([&A, &A]).unwrap_err(),
        RegistryError::DuplicateClass("A".into())
    );
    assert!(matches!(
        Registry::new([&X, &Y]),
        Err(RegistryError::CyclicInheritance(_))
    ));
    assert!(matches!(
        Registry::new([&TWICE]),
        Err(RegistryError::DuplicateOption { .. })
    ));
    // registration order does not need bases first
    let r = Registry::new([&B, &A]).unwrap();
    assert_eq!(r.mro("B").len(), 2);
    assert!(
        Registry::new([&A, &ORPHAN])
            .unwrap_err()
            .to_string()
            .contains("Missing")
    );
}

#[test]
fn defaults_are_checked() {
    registry().check_defaults().unwrap();
    static BAD: ClassDef = ClassDef {
        name: "Bad",
        bases: &[],
        help: "",
        options: &[
            OptionDef::new("n", Int, Literal("\"ten\""), ""),
            OptionDef::new("s", Str, Literal("not toml"), ""),
            OptionDef::new("ok", Str, Literal("\"x\""), ""),
            OptionDef::new("c", Str, Computed("whatever"), ""),
        ],
    };
    let r = Registry::new([&BAD]).unwrap();
    let err = r.check_defaults().unwrap_err();
    assert_eq!(err.errors().len(), 2);
    let text = err.to_string();
    assert!(text.contains("Bad.n (default value)"), "{text}");
    assert!(
        text.contains("not an integer") || text.contains("an integer"),
        "{text}"
    );
    assert!(text.contains("Bad.s"), "{text}");
    // reading the bad default reports it instead of panicking
    let config = Config::empty();
    let env = MapEnv::new();
    let view = config.view(&r, "Bad", &env);
    assert!(matches!(
        view.get::<i64>("n"),
        Err(ConfigError::InvalidValue {
            at: Location::Default { .. },
            ..
        })
    ));
}

// ---------------------------------------------------------------- resolution

#[test]
fn most_specific_table_wins_and_siblings_are_ignored() {
    let r = registry();
    let config = Config::parse(
        r#"
[Authenticator]
allowed_users = ["a"]
auth_refresh_age = 10

[OAuthenticator]
allowed_users = ["b"]

[LocalAuthenticator]
allowed_users = ["local"]

[GenericOAuthenticator]
allowed_users = ["generic"]
admin_users = ["root"]

[DummyAuthenticator]
allowed_users = ["dummy"]
auth_refresh_age = 99
"#,
        "test.toml",
        &r,
    )
    .unwrap();
    let env = MapEnv::new();
    let get = |class: &str| -> BTreeSet<String> {
        config.view(&r, class, &env).get("allowed_users").unwrap()
    };
    assert_eq!(get("Authenticator"), set(&["a"]));
    assert_eq!(get("OAuthenticator"), set(&["b"]));
    assert_eq!(get("GenericOAuthenticator"), set(&["generic"]));
    assert_eq!(get("LocalGenericOAuthenticator"), set(&["local"]));
    assert_eq!(get("PAMAuthenticator"), set(&["local"]));
    assert_eq!(get("DummyAuthenticator"), set(&["dummy"]));

    let oauth = config.view(&r, "OAuthenticator", &env);
    // sibling [DummyAuthenticator] and subclass [GenericOAuthenticator] do not apply
    assert_eq!(oauth.get::<i64>("auth_refresh_age").unwrap(), 10);
    assert_eq!(
        oauth.origin("auth_refresh_age"),
        Origin::File {
            table: "Authenticator"
        }
    );
    assert!(
        oauth
            .get::<BTreeSet<String>>("admin_users")
            .unwrap()
            .is_empty()
    );
    assert!(!oauth.is_set("admin_users"));
    let lgo = config.view(&r, "LocalGenericOAuthenticator", &env);
    assert_eq!(
        lgo.get::<BTreeSet<String>>("admin_users").unwrap(),
        set(&["root"])
    );
    assert_eq!(
        lgo.origin("admin_users"),
        Origin::File {
            table: "GenericOAuthenticator"
        }
    );
    assert_eq!(lgo.class_name(), "LocalGenericOAuthenticator");
    // re-declared default
    assert_eq!(
        lgo.get::<String>("username_claim").unwrap(),
        "preferred_username"
    );
    assert_eq!(
        config
            .view(&r, "OAuthenticator", &env)
            .get::<String>("username_claim")
            .unwrap(),
        "username"
    );
}

#[test]
fn env_precedence() {
    let r = registry();
    let both = MapEnv::from([("AAD_TENANT_ID", "first"), ("TENANT_ID", "second")]);
    let second_only: MapEnv = [("TENANT_ID", "second")].into_iter().collect();
    let none = MapEnv::new();
    let empty = Config::empty();
    let file = parse("[OAuthenticator]\ntenant_id = \"file\"\n").unwrap();

    let v = file.view(&r, "GenericOAuthenticator", &both);
    assert_eq!(v.get::<String>("tenant_id").unwrap(), "file");
    assert_eq!(
        v.origin("tenant_id"),
        Origin::File {
            table: "OAuthenticator"
        }
    );

    let v = empty.view(&r, "GenericOAuthenticator", &both);
    assert_eq!(v.get::<String>("tenant_id").unwrap(), "first");
    assert_eq!(
        v.origin("tenant_id"),
        Origin::Env {
            var: "AAD_TENANT_ID"
        }
    );
    assert!(v.is_set("tenant_id"));

    let v = empty.view(&r, "GenericOAuthenticator", &second_only);
    assert_eq!(v.get::<String>("tenant_id").unwrap(), "second");
    assert_eq!(v.origin("tenant_id"), Origin::Env { var: "TENANT_ID" });

    let v = empty.view(&r, "GenericOAuthenticator", &none);
    assert_eq!(v.get::<String>("tenant_id").unwrap(), "");
    assert_eq!(v.origin("tenant_id"), Origin::Default);
    assert!(!v.is_set("tenant_id"));
    assert_eq!(
        v.get_opt::<String>("tenant_id").unwrap(),
        Some(String::new())
    );

    // process env works through the same trait
    let process = hubauth_config::ProcessEnv;
    let v = empty.view(&r, "Hub", &process);
    assert!(v.get::<i64>("port").is_ok());
}

#[test]
fn env_conversions() {
    let r = registry();
    let config = Config::empty();
    let env = MapEnv::from([
        ("HUB_PORT", " 8081 "),
        ("HUB_VERBOSE", "Yes"),
        ("HUB_TIMEOUT", "2.5"),
        ("HUB_LOAD_ROLES", r#"[{"name": "admin"}]"#),
        ("HUB_TEMPLATE_VARS", r#"{"a": 1}"#),
        ("OAUTH_SCOPE", " openid; email ;; profile "),
        ("ADD_USER_CMD", "adduser;-q"),
        ("USERNAME_MAP", r#"{"Alice": "alice"}"#),
        ("OAUTH_CLIENT_ID", "my-client"),
    ]);
    let hub = config.view(&r, "Hub", &env);
    assert_eq!(hub.get::<i64>("port").unwrap(), 8081);
    assert_eq!(hub.get::<u64>("port").unwrap(), 8081);
    assert!(hub.get::<bool>("verbose").unwrap());
    assert_eq!(hub.get::<f64>("timeout").unwrap(), 2.5);
    let roles: Vec<serde_json::Value> = hub.get("load_roles").unwrap();
    assert_eq!(roles[0]["name"], "admin");
    let vars: serde_json::Map<String, serde_json::Value> = hub.get("template_vars").unwrap();
    assert_eq!(vars["a"], 1);
    let oauth = config.view(&r, "GenericOAuthenticator", &env);
    assert_eq!(
        oauth.get::<Vec<String>>("scope").unwrap(),
        ["openid", "email", "profile"]
    );
    assert_eq!(oauth.get::<String>("client_id").unwrap(), "my-client");
    let map: BTreeMap<String, String> = oauth.get("username_map").unwrap();
    assert_eq!(map["Alice"], "alice");
    let local = config.view(&r, "LocalAuthenticator", &env);
    assert_eq!(
        local.get::<Vec<String>>("add_user_cmd").unwrap(),
        ["adduser", "-q"]
    );

    for (value, expected) in [
        ("1", true),
        ("TRUE", true),
        ("on", true),
        ("0", false),
        ("no", false),
        ("Off", false),
        ("", false),
    ] {
        let env = MapEnv::from([("HUB_VERBOSE", value)]);
        assert_eq!(
            config.view(&r, "Hub", &env).get::<bool>("verbose").unwrap(),
            expected,
            "{value:?}"
        );
    }

    let bad = |var: &str, value: &str, class: &str, option: &str| -> String {
        let env = MapEnv::from([(var, value)]);
        let err = config
            .view(&r, class, &env)
            .get::<serde_json::Value>(option)
            .unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::InvalidValue {
                    at: Location::Env { .. },
                    ..
                }
            ),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.contains(var), "{text}");
        text
    };
    let text = bad("HUB_VERBOSE", "maybe", "Hub", "verbose");
    assert!(text.contains("maybe") && text.contains("boolean"), "{text}");
    assert!(text.contains("Hub.verbose"), "{text}");
    let text = bad("HUB_PORT", "eighty", "Hub", "port");
    assert!(text.contains("integer"), "{text}");
    bad("HUB_TIMEOUT", "fast", "Hub", "timeout");
    bad("HUB_TEMPLATE_VARS", "[1]", "Hub", "template_vars");
    bad("HUB_TEMPLATE_VARS", "{not json", "Hub", "template_vars");
    bad("HUB_LOAD_ROLES", "[1, 2]", "Hub", "load_roles");
    let text = bad(
        "USERNAME_MAP",
        r#"{"a": 1}"#,
        "Authenticator",
        "username_map",
    );
    assert!(text.contains("`a`"), "{text}");
    // secret env values are never echoed
    let text = bad(
        "OAUTH_TOKEN_PARAMS",
        r#"{"key": 123456789}"#,
        "OAuthenticator",
        "token_params",
    );
    assert!(!text.contains("123456789"), "{text}");
    let text = bad(
        "OAUTH_TOKEN_PARAMS",
        "hunter2-token-value",
        "OAuthenticator",
        "token_params",
    );
    assert!(!text.contains("hunter2"), "{text}");
}

#[test]
fn computed_defaults() {
    let r = registry();
    let env = MapEnv::new();
    let empty = Config::empty();
    let v = empty.view(&r, "DummyAuthenticator", &env);
    assert!(!v.get::<bool>("allow_existing_users").unwrap());
    assert_eq!(v.get_opt::<bool>("allow_existing_users").unwrap(), None);
    assert!(!v.is_set("allow_existing_users"));
    assert_eq!(v.origin("allow_existing_users"), Origin::Default);
    let hub = empty.view(&r, "Hub", &env);
    assert_eq!(hub.get::<f64>("cookie_max_age_days").unwrap(), 0.0);
    assert_eq!(hub.get_opt::<f64>("cookie_max_age_days").unwrap(), None);
    assert_eq!(hub.value("cookie_max_age_days").unwrap(), None);
    // literal default: get_opt is Some
    assert_eq!(v.get_opt::<bool>("allow_all").unwrap(), Some(false));
    assert_eq!(v.get_opt::<i64>("auth_refresh_age").unwrap(), Some(300));
    assert_eq!(hub.get::<f64>("timeout").unwrap(), 10.5);
    assert_eq!(
        hub.get::<String>("banner").unwrap(),
        "Welcome\n\nto the hub\n"
    );
    let vars: serde_json::Map<String, serde_json::Value> = hub.get("template_vars").unwrap();
    assert_eq!(vars["title"], "Hub");

    let config = parse("[Authenticator]\nallow_existing_users = true\n").unwrap();
    let v = config.view(&r, "DummyAuthenticator", &env);
    assert_eq!(
        v.get_opt::<bool>("allow_existing_users").unwrap(),
        Some(true)
    );
    assert!(v.is_set("allow_existing_users"));
}

#[test]
fn unknown_options_and_classes_are_errors_not_panics() {
    let r = registry();
    let env = MapEnv::new();
    let config = Config::empty();
    let v = config.view(&r, "DummyAuthenticator", &env);
    let err = v.get::<String>("client_id").unwrap_err();
    assert!(matches!(err, ConfigError::UnknownOption { .. }), "{err:?}");
    assert!(err.to_string().contains("client_id"));
    assert!(v.get_opt::<String>("nope").is_err());
    assert!(!v.is_set("nope"));
    assert_eq!(v.origin("nope"), Origin::Default);
    assert!(matches!(
        v.invalid("nope", "bad"),
        ConfigError::UnknownOption { .. }
    ));
    let v = config.view(&r, "NoSuchClass", &env);
    let err = v.get::<bool>("allow_all").unwrap_err();
    assert!(err.to_string().contains("NoSuchClass"), "{err}");
    // asking for the wrong Rust type is reported, not a panic
    let v = config.view(&r, "Hub", &env);
    let err = v.get::<bool>("port").unwrap_err();
    assert!(
        err.to_string().contains("cannot be read as a boolean"),
        "{err}"
    );
    let err = v.get::<u64>("timeout").unwrap_err();
    assert!(matches!(err, ConfigError::InvalidValue { .. }), "{err}");
}

#[test]
fn invalid_names_where_the_value_came_from() {
    let r = registry();
    let config = parse("[Authenticator]\nauth_refresh_age = -5\n").unwrap();
    let env = MapEnv::from([("OAUTH_CLIENT_ID", "x")]);
    let v = config.view(&r, "OAuthenticator", &env);
    assert_eq!(
        v.invalid("auth_refresh_age", "must be 0 or positive")
            .to_string(),
        "/etc/hubauth.toml: [Authenticator] auth_refresh_age: must be 0 or positive"
    );
    let msg = format!("too short: {}", 1);
    assert_eq!(
        v.invalid("client_id", &msg).to_string(),
        "environment variable OAUTH_CLIENT_ID (for OAuthenticator.client_id): too short: 1"
    );
    assert_eq!(
        v.invalid("scope", "empty").to_string(),
        "OAuthenticator.scope (default value): empty"
    );
    assert!(matches!(
        v.location("client_id").unwrap(),
        Location::Env { .. }
    ));
}

// ---------------------------------------------------------------- types

#[test]
fn every_type_is_accepted() {
    let r = registry();
    let config = parse(
        r#"
[Authenticator]
allow_all = true
auth_refresh_age = 42
allowed_users = ["a", "b", "a"]
username_map = { Alice = "alice" }

[OAuthenticator]
client_id = "cid"
scope = ["openid", "email"]
extra_authorize_params = { prompt = "consent", nested = { n = 1 }, list = [1, 2] }

[LocalAuthenticator]
uids = { alice = 1001 }
add_user_cmd = "adduser"

[Hub]
timeout = 3
load_roles = [{ name = "admin", users = ["x"] }]
template_vars = {}
"#,
    )
    .unwrap();
    assert!(config.warnings().is_empty());
    assert_eq!(config.source(), "/etc/hubauth.toml");
    assert!(config.tables().contains_key("Hub"));
    let env = MapEnv::new();
    let v = config.view(&r, "LocalGenericOAuthenticator", &env);
    assert!(v.get::<bool>("allow_all").unwrap());
    assert_eq!(v.get::<i64>("auth_refresh_age").unwrap(), 42);
    assert_eq!(v.get::<u64>("auth_refresh_age").unwrap(), 42);
    assert_eq!(v.get::<f64>("auth_refresh_age").unwrap(), 42.0);
    assert_eq!(
        v.get::<BTreeSet<String>>("allowed_users").unwrap(),
        set(&["a", "b"])
    );
    // sets drop duplicates, keeping first-seen order
    assert_eq!(v.get::<Vec<String>>("allowed_users").unwrap(), ["a", "b"]);
    assert_eq!(
        v.get::<BTreeMap<String, String>>("username_map").unwrap()["Alice"],
        "alice"
    );
    assert_eq!(v.get::<String>("client_id").unwrap(), "cid");
    assert_eq!(v.get::<Vec<String>>("scope").unwrap(), ["openid", "email"]);
    let params: serde_json::Map<String, serde_json::Value> =
        v.get("extra_authorize_params").unwrap();
    assert_eq!(params["nested"]["n"], 1);
    assert_eq!(params["prompt"], "consent");
    assert_eq!(
        v.get::<BTreeMap<String, i64>>("uids").unwrap()["alice"],
        1001
    );
    assert_eq!(v.get::<Vec<String>>("add_user_cmd").unwrap(), ["adduser"]);
    let hub = config.view(&r, "Hub", &env);
    assert_eq!(hub.get::<f64>("timeout").unwrap(), 3.0);
    let roles: Vec<serde_json::Value> = hub.get("load_roles").unwrap();
    assert_eq!(roles[0]["users"][0], "x");
    let any: serde_json::Value = hub.get("load_roles").unwrap();
    assert!(any.is_array());
    assert_eq!(
        hub.value("port").unwrap(),
        Some(serde_json::Value::from(8000))
    );
    let config = parse("[LocalAuthenticator]\nadd_user_cmd = [\"adduser\", \"-q\"]\n").unwrap();
    assert_eq!(
        config
            .view(&r, "LocalAuthenticator", &env)
            .get::<Vec<String>>("add_user_cmd")
            .unwrap(),
        ["adduser", "-q"]
    );
}

#[test]
fn every_wrong_type_is_rejected() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "Authenticator",
            "allow_all = \"yes\"",
            "a boolean",
            "a string \"yes\"",
        ),
        (
            "Authenticator",
            "allow_all = 1",
            "a boolean",
            "an integer (1)",
        ),
        (
            "Authenticator",
            "auth_refresh_age = 1.5",
            "an integer",
            "a float (1.5)",
        ),
        (
            "Authenticator",
            "auth_refresh_age = \"300\"",
            "an integer",
            "a string \"300\"",
        ),
        ("Hub", "timeout = \"3\"", "a number", "a string \"3\""),
        (
            "Hub",
            "timeout = nan",
            "a number",
            "a number that is not finite (nan)",
        ),
        (
            "OAuthenticator",
            "client_id = 5",
            "a string",
            "an integer (5)",
        ),
        (
            "OAuthenticator",
            "client_id = [\"a\"]",
            "a string",
            "an array",
        ),
        (
            "OAuthenticator",
            "scope = \"openid\"",
            "a list of strings",
            "a string \"openid\"",
        ),
        (
            "OAuthenticator",
            "scope = [\"a\", 1]",
            "a list of strings",
            "an array containing an integer (1)",
        ),
        (
            "Authenticator",
            "allowed_users = { a = \"b\" }",
            "a set of strings",
            "a table",
        ),
        (
            "Authenticator",
            "admin_users = [true]",
            "a set of strings",
            "an array containing a boolean (true)",
        ),
        (
            "LocalAuthenticator",
            "add_user_cmd = 3",
            "a string or a list of strings",
            "an integer (3)",
        ),
        (
            "LocalAuthenticator",
            "add_user_cmd = [[\"a\"]]",
            "a string or a list of strings",
            "an array containing an array",
        ),
        (
            "Authenticator",
            "username_map = { a = 1 }",
            "a table of strings",
            "a table whose entry `a` is an integer (1)",
        ),
        (
            "Authenticator",
            "username_map = [\"a\"]",
            "a table of strings",
            "an array",
        ),
        (
            "LocalAuthenticator",
            "uids = { a = \"1\" }",
            "a table of integers",
            "a table whose entry `a` is a string \"1\"",
        ),
        (
            "OAuthenticator",
            "extra_authorize_params = \"x\"",
            "a table",
            "a string \"x\"",
        ),
        (
            "OAuthenticator",
            "extra_authorize_params = []",
            "a table",
            "an empty array",
        ),
        (
            "Hub",
            "load_roles = { name = \"x\" }",
            "a list of tables",
            "a table",
        ),
        (
            "Hub",
            "load_roles = [\"admin\"]",
            "a list of tables",
            "an array containing a string \"admin\"",
        ),
        (
            "Hub",
            "port = 1979-05-27",
            "an integer",
            "a date-time (1979-05-27)",
        ),
    ];
    for (table, line, expected, found) in cases {
        let text = parse_err(&format!("[{table}]\n{line}\n"));
        let key = line.split(' ').next().unwrap();
        assert_eq!(
            text,
            format!("/etc/hubauth.toml: [{table}] {key}: expected {expected}, found {found}"),
            "for {line}"
        );
    }
}

#[test]
fn programmatic_set_is_checked_when_read() {
    let r = registry();
    let env = MapEnv::new();
    let mut config = Config::empty();
    config.set(
        "Authenticator",
        "allowed_users",
        toml::Value::Array(vec!["x".into()]),
    );
    config.set("Hub", "port", toml::Value::String("eighty".into()));
    assert_eq!(
        config
            .view(&r, "DummyAuthenticator", &env)
            .get::<BTreeSet<String>>("allowed_users")
            .unwrap(),
        set(&["x"])
    );
    let err = config.view(&r, "Hub", &env).get::<i64>("port").unwrap_err();
    assert!(matches!(err, ConfigError::WrongType { .. }));
    assert!(
        err.to_string().contains("[Hub] port: expected an integer"),
        "{err}"
    );
    assert_eq!(
        config.unset("Hub", "port"),
        Some(toml::Value::String("eighty".into()))
    );
    assert_eq!(
        config.view(&r, "Hub", &env).get::<i64>("port").unwrap(),
        8000
    );
}

// ---------------------------------------------------------------- validation messages

#[test]
fn unknown_table_with_suggestion() {
    assert_eq!(
        parse_err("[Authenticatr]\nallow_all = true\n"),
        "/etc/hubauth.toml: unknown table [Authenticatr]: no configurable class has this name; did you mean [Authenticator]?"
    );
    assert_eq!(
        parse_err("[hub]\nport = 1\n"),
        "/etc/hubauth.toml: unknown table [hub]: no configurable class has this name; did you mean [Hub]?"
    );
    assert_eq!(
        parse_err("[Frobnicator]\n"),
        "/etc/hubauth.toml: unknown table [Frobnicator]: no configurable class has this name"
    );
    let text = parse_err("allow_all = true\n");
    assert!(
        text.contains("`allow_all` is set at the top level"),
        "{text}"
    );
    assert!(!text.contains("true"), "{text}");
}

#[test]
fn unknown_key_with_suggestion_and_other_class_hint() {
    assert_eq!(
        parse_err("[Authenticator]\nalowed_users = [\"a\"]\n"),
        "/etc/hubauth.toml: [Authenticator] alowed_users: unknown option; did you mean `allowed_users`?"
    );
    assert_eq!(
        parse_err("[Authenticator]\nwhitelis = [\"a\"]\n"),
        "/etc/hubauth.toml: [Authenticator] whitelis: unknown option; did you mean `whitelist`?"
    );
    // inherited options are valid suggestions too
    assert_eq!(
        parse_err("[GenericOAuthenticator]\nallow_al = true\n"),
        "/etc/hubauth.toml: [GenericOAuthenticator] allow_al: unknown option; did you mean `allow_all`?"
    );
    assert_eq!(
        parse_err("[DummyAuthenticator]\nadmin_groups = [\"x\"]\n"),
        "/etc/hubauth.toml: [DummyAuthenticator] admin_groups: unknown option; `admin_groups` is an option of OAuthenticator, PAMAuthenticator, not of DummyAuthenticator"
    );
    assert_eq!(
        parse_err("[Authenticator]\nclient_id = \"x\"\n"),
        "/etc/hubauth.toml: [Authenticator] client_id: unknown option; `client_id` is an option of OAuthenticator, not of Authenticator"
    );
    assert_eq!(
        parse_err("[Hub]\nqwertyuiop = 1\n"),
        "/etc/hubauth.toml: [Hub] qwertyuiop: unknown option"
    );
}

#[test]
fn deprecated_alias_is_mapped_with_warning() {
    let r = registry();
    let config =
        parse("[Authenticator]\nwhitelist = [\"a\"]\n\n[OAuthenticator]\nblacklist = [\"b\"]\n")
            .unwrap();
    assert_eq!(
        config.warnings(),
        [
            "Authenticator.whitelist is deprecated in JupyterHub 1.2, use Authenticator.allowed_users instead",
            "OAuthenticator.blacklist is deprecated in JupyterHub 1.2, use OAuthenticator.blocked_users instead",
        ]
    );
    assert!(config.raw("Authenticator", "whitelist").is_none());
    assert!(config.raw("Authenticator", "allowed_users").is_some());
    let env = MapEnv::new();
    let v = config.view(&r, "GenericOAuthenticator", &env);
    assert_eq!(
        v.get::<BTreeSet<String>>("allowed_users").unwrap(),
        set(&["a"])
    );
    assert_eq!(
        v.get::<BTreeSet<String>>("blocked_users").unwrap(),
        set(&["b"])
    );

    // same value under both names: just the warning
    let config = parse("[Authenticator]\nwhitelist = [\"a\"]\nallowed_users = [\"a\"]\n").unwrap();
    assert_eq!(config.warnings().len(), 1);

    // alias of the wrong type is a type error naming the alias
    assert_eq!(
        parse_err("[Authenticator]\nwhitelist = \"a\"\n"),
        "/etc/hubauth.toml: [Authenticator] whitelist: expected a set of strings, found a string \"a\""
    );
}

#[test]
fn conflicting_and_removed_aliases() {
    let text = parse_err("[Authenticator]\nwhitelist = [\"a\"]\nallowed_users = [\"b\"]\n");
    assert!(matches!(
        parse("[Authenticator]\nwhitelist = [\"a\"]\nallowed_users = [\"b\"]\n"),
        Err(ConfigError::ConflictingAlias { .. })
    ));
    assert!(text.contains("[Authenticator]"), "{text}");
    assert!(
        text.contains("`whitelist`") && text.contains("`allowed_users`"),
        "{text}"
    );
    assert!(text.contains("remove `whitelist`"), "{text}");

    let text = parse_err("[DummyAuthenticator]\nusername_mapping = { a = \"b\" }\n");
    assert!(matches!(
        parse("[DummyAuthenticator]\nusername_mapping = { a = \"b\" }\n"),
        Err(ConfigError::RemovedAlias { .. })
    ));
    assert!(
        text.contains(
            "DummyAuthenticator.username_mapping is deprecated in JupyterHub 0.9, use DummyAuthenticator.username_map instead"
        ),
        "{text}"
    );
    assert!(text.starts_with("/etc/hubauth.toml: "), "{text}");
}

#[test]
fn all_errors_are_collected() {
    let err = parse(
        r#"
stray = 1

[Authenticatr]
x = 1

[Authenticator]
alowed_users = []
allow_all = "yes"

[Hub]
port = "80"
"#,
    )
    .unwrap_err();
    let ConfigError::Multiple(errors) = &err else {
        panic!("expected Multiple, got {err:?}");
    };
    assert_eq!(errors.len(), 5, "{err}");
    let text = err.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    assert!(lines[0].contains("5 configuration errors"), "{text}");
    // in the order of the file
    assert!(lines[1].contains("`stray`"), "{text}");
    assert!(lines[2].contains("[Authenticatr]"), "{text}");
    assert!(lines[5].contains("[Hub] port"), "{text}");
    for line in &lines[1..] {
        assert!(line.contains("/etc/hubauth.toml"), "{text}");
    }
    assert!(text.contains("[Authenticator] alowed_users: unknown option"));
    assert!(text.contains("[Authenticator] allow_all: expected a boolean"));
    assert!(text.contains("[Hub] port: expected an integer"));
    assert!(text.contains("unknown table [Authenticatr]"));
    assert!(text.contains("`stray`"));
    assert_eq!(err.errors().len(), 5);
}

#[test]
fn secrets_are_never_echoed() {
    for text in [
        "[OAuthenticator]\nclient_secret = 918273645\n",
        "[OAuthenticator]\nclient_secret = [\"s3cr3t-value\"]\n",
        "[OAuthenticator]\ntoken_params = { key = 918273645 }\n",
        "[DummyAuthenticator]\npassword = 918273645\n",
        "[DummyAuthenticator]\npassword = [\"s3cr3t-value\"]\n",
    ] {
        let err = parse_err(text);
        assert!(!err.contains("918273645"), "{err}");
        assert!(!err.contains("s3cr3t"), "{err}");
        assert!(err.contains("expected"), "{err}");
    }
    // non-secret values are shown
    assert!(parse_err("[OAuthenticator]\nclient_id = 918273645\n").contains("918273645"));
    // a secret in the wrong table is an unknown key: its value is not shown either
    let err = parse_err("[Authenticator]\nclient_secret = \"s3cr3t-value\"\n");
    assert!(!err.contains("s3cr3t"), "{err}");
    // nor in invalid() messages that name it
    let r = registry();
    let config = parse("[OAuthenticator]\nclient_secret = \"s3cr3t-value\"\n").unwrap();
    let env = MapEnv::new();
    let v = config.view(&r, "OAuthenticator", &env);
    let err = v.invalid("client_secret", "too short").to_string();
    assert!(!err.contains("s3cr3t"), "{err}");
    assert_eq!(v.get::<String>("client_secret").unwrap(), "s3cr3t-value");
}

#[test]
fn syntax_errors_have_line_and_column() {
    let err = parse("[Authenticator]\nallow_all = true\nadmin_users = [\"a\",\n").unwrap_err();
    let ConfigError::Syntax {
        file, line, column, ..
    } = &err
    else {
        panic!("expected Syntax, got {err:?}");
    };
    assert_eq!(file, "/etc/hubauth.toml");
    assert!(*line >= 3, "{err}");
    assert!(*column >= 1);
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "/etc/hubauth.toml:{line}:{column}: TOML syntax error: "
        )),
        "{text}"
    );

    let err = parse("[Hub]\nport = = 1\n").unwrap_err();
    assert!(matches!(err, ConfigError::Syntax { line: 2, .. }), "{err}");
    assert!(err.to_string().contains(":2:"), "{err}");
}

#[test]
fn load_reads_files_and_names_them() {
    let r = registry();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hubauth.toml");
    std::fs::write(&path, "[Authenticator]\nallow_all = true\n").unwrap();
    let config = Config::load(&path, &r).unwrap();
    assert_eq!(config.source(), path.display().to_string());
    std::fs::write(&path, "[Authenticator]\nallow_all = 1\n").unwrap();
    let err = Config::load(&path, &r).unwrap_err().to_string();
    assert!(err.starts_with(&path.display().to_string()), "{err}");
    let missing = dir.path().join("missing.toml");
    let err = Config::load(&missing, &r).unwrap_err();
    assert!(matches!(err, ConfigError::Io { .. }));
    assert!(err.to_string().contains("missing.toml"), "{err}");
    assert!(std::error::Error::source(&err).is_some());
}

// ---------------------------------------------------------------- rendering

/// The comment text of generated output, with comment markers removed and whitespace
/// collapsed, so wrapped help can be searched for.
fn comment_text(generated: &str) -> String {
    generated
        .lines()
        .filter_map(|line| line.strip_prefix('#'))
        .map(|line| line.trim_start_matches('#'))
        .collect::<Vec<_>>()
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn generated_config_reparses_and_documents_everything() {
    let r = registry();
    let generated = generate_config(&r);
    let config = Config::parse(&generated, "generated.toml", &r).unwrap();
    assert!(config.warnings().is_empty());
    assert!(config.tables().values().all(|t| t.is_empty()));
    let comments = comment_text(&generated);
    for class in r.classes() {
        assert!(
            generated.contains(&format!("\n[{}]\n", class.name)),
            "{}",
            class.name
        );
        assert!(comments.contains(&collapse(class.help)), "{}", class.name);
        for option in class.options {
            assert!(
                comments.contains(&collapse(option.help)),
                "help of {}.{}",
                class.name,
                option.name
            );
            match option.default {
                Literal(_) => assert!(
                    generated.contains(&format!("\n# {} = ", option.name)),
                    "{}.{}",
                    class.name,
                    option.name
                ),
                Computed(how) => {
                    assert!(!generated.contains(&format!("\n# {} = ", option.name)));
                    assert!(comments.contains(&collapse(how)));
                }
            }
        }
    }
    assert!(generated.contains("# allowed_users = []\n"));
    assert!(generated.contains("# auth_refresh_age = 300\n"));
    assert!(generated.contains("#  Environment: OAUTH_CLIENT_ID\n"));
    assert!(generated.contains("#  Environment: AAD_TENANT_ID, TENANT_ID\n"));
    assert!(generated.contains("#  Environment: OAUTH_SCOPE (items separated by `;`)\n"));
    assert!(
        generated.contains("#  Environment: HUB_VERBOSE (1, true, yes, on or 0, false, no, off)\n")
    );
    assert!(comments.contains("whitelist (deprecated in JupyterHub 1.2)"));
    assert!(comments.contains("inherits from LocalAuthenticator, GenericOAuthenticator"));
    assert!(generated.contains("## Set of usernames that are allowed to log in.\n#\n#  Names are"));
    assert!(generated.contains("#  Type: a set of strings\n"));
    for line in generated.lines() {
        assert!(line.chars().count() <= 100, "long line: {line}");
        assert!(
            line.is_empty() || line.starts_with('#') || line.starts_with('['),
            "uncommented line: {line}"
        );
    }

    // uncommenting every value line gives a valid config of all defaults
    let uncommented: String = generated
        .lines()
        .map(|line| {
            let keep = r
                .classes()
                .iter()
                .flat_map(|c| c.options)
                .any(|o| line.starts_with(&format!("# {} = ", o.name)));
            if keep { &line[2..] } else { line }
        })
        .collect::<Vec<_>>()
        .join("\n");
    // the multi-line banner default spans several commented lines; drop it
    let uncommented = uncommented.replace("banner = \"\"\"", "# banner");
    let config = Config::parse(&uncommented, "uncommented.toml", &r).unwrap();
    assert_eq!(
        config.raw("Authenticator", "auth_refresh_age"),
        Some(&toml::Value::Integer(300))
    );
}

#[test]
fn reference_markdown_covers_every_option() {
    let r = registry();
    let md = reference_markdown(&r);
    for class in r.classes() {
        assert!(
            md.contains(&format!("## `[{}]`", class.name)),
            "{}",
            class.name
        );
        for option in class.options {
            assert!(md.contains(&format!("### `{}.{}`", class.name, option.name)));
            assert!(md.contains(option.help.trim()));
        }
    }
    assert!(md.contains("- Environment: `OAUTH_CLIENT_ID`\n"));
    assert!(md.contains("- Environment: `HUB_LOAD_ROLES` (a JSON array of objects)\n"));
    assert!(md.contains("- Default: `[]`"));
    assert!(md.contains("`whitelist` (deprecated in JupyterHub 1.2)"));
    assert!(md.contains("Inherits from [`LocalAuthenticator`](#localauthenticator)"));
    assert!(md.contains("- Secret"));
    assert!(md.contains("computed when not set: 14 days"));
}
