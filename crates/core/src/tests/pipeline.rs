//! Table-driven tests of the rule pipeline: every base option alone and combined.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use hubauth_core::{
    AuthError, AuthModel, Authenticator, AuthenticatorConfig, DenyReason, DummyAuthenticator,
    GroupRules, LoginData, LoginKind, Outcome, RequestContext, Rules, Secret,
    get_authenticated_user, hook_fn,
};

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

fn ctx() -> RequestContext {
    RequestContext::at(1_700_000_000)
}

/// An authenticator that returns a fixed model for any login, to drive the later stages.
struct Fixed {
    rules: Rules,
    model: Option<AuthModel>,
    block_with: Option<AuthError>,
}

#[async_trait]
impl Authenticator for Fixed {
    fn class_name(&self) -> &'static str {
        "FixedAuthenticator"
    }
    fn rules(&self) -> &Rules {
        &self.rules
    }
    fn kind(&self) -> LoginKind {
        LoginKind::Form {
            request_otp: false,
            otp_prompt: String::new(),
        }
    }
    async fn authenticate(
        &self,
        _ctx: &RequestContext,
        data: &LoginData,
    ) -> Result<Option<AuthModel>, AuthError> {
        Ok(self.model.clone().map(|mut model| {
            if model.name.is_empty() {
                model.name = data.username().to_owned();
            }
            model
        }))
    }
    async fn check_blocked_users(&self, name: &str, _model: &AuthModel) -> Result<bool, AuthError> {
        if let Some(AuthError::Http { status, message }) = &self.block_with {
            return Err(AuthError::Http {
                status: *status,
                message: message.clone(),
            });
        }
        Ok(self.rules.check_blocked_users(name))
    }
}

fn fixed(config: AuthenticatorConfig, model: AuthModel) -> Fixed {
    Fixed {
        rules: Rules::new(config),
        model: Some(model),
        block_with: None,
    }
}

async fn login(auth: &dyn Authenticator, name: &str) -> Outcome {
    get_authenticated_user(auth, None, &ctx(), &LoginData::credentials(name, "pw"))
        .await
        .unwrap()
}

fn denied(outcome: &Outcome) -> Option<DenyReason> {
    match outcome {
        Outcome::Denied { reason, .. } => Some(*reason),
        Outcome::Success(_) => None,
    }
}

fn success(outcome: Outcome) -> AuthModel {
    match outcome {
        Outcome::Success(model) => *model,
        Outcome::Denied { reason, name } => panic!("denied {name:?}: {reason:?}"),
    }
}

struct Case {
    what: &'static str,
    config: AuthenticatorConfig,
    user: &'static str,
    /// None = success.
    expect: Option<DenyReason>,
    /// Expected stored name and admin value on success.
    name: &'static str,
    admin: Option<bool>,
}

fn cfg(f: impl FnOnce(&mut AuthenticatorConfig)) -> AuthenticatorConfig {
    let mut config = AuthenticatorConfig::default();
    f(&mut config);
    config
}

#[tokio::test]
async fn base_rules_table() {
    let cases = vec![
        Case {
            what: "nothing configured: nobody allowed",
            config: cfg(|_| {}),
            user: "alice",
            expect: Some(DenyReason::NotAllowed),
            name: "",
            admin: None,
        },
        Case {
            what: "allow_all",
            config: cfg(|c| c.allow_all = true),
            user: "alice",
            expect: None,
            name: "alice",
            admin: None,
        },
        Case {
            what: "allowed_users member",
            config: cfg(|c| c.allowed_users = set(&["alice"])),
            user: "alice",
            expect: None,
            name: "alice",
            admin: None,
        },
        Case {
            what: "allowed_users non-member",
            config: cfg(|c| c.allowed_users = set(&["alice"])),
            user: "bob",
            expect: Some(DenyReason::NotAllowed),
            name: "",
            admin: None,
        },
        Case {
            what: "allowed_users compared after lowercasing",
            config: cfg(|c| c.allowed_users = set(&["Alice"])),
            user: "ALICE",
            expect: None,
            name: "alice",
            admin: None,
        },
        Case {
            what: "admin_users alone: admins may log in (F21) and are admin",
            config: cfg(|c| c.admin_users = set(&["root"])),
            user: "root",
            expect: None,
            name: "root",
            admin: Some(true),
        },
        Case {
            what: "admin_users alone: others may not",
            config: cfg(|c| c.admin_users = set(&["root"])),
            user: "bob",
            expect: Some(DenyReason::NotAllowed),
            name: "",
            admin: None,
        },
        Case {
            what: "non-admin gets admin None (unchanged)",
            config: cfg(|c| {
                c.allow_all = true;
                c.admin_users = set(&["root"]);
            }),
            user: "bob",
            expect: None,
            name: "bob",
            admin: None,
        },
        Case {
            what: "blocked beats allow_all",
            config: cfg(|c| {
                c.allow_all = true;
                c.blocked_users = set(&["eve"]);
            }),
            user: "eve",
            expect: Some(DenyReason::Blocked),
            name: "",
            admin: None,
        },
        Case {
            what: "blocked beats allowed_users",
            config: cfg(|c| {
                c.allowed_users = set(&["eve"]);
                c.blocked_users = set(&["eve"]);
            }),
            user: "eve",
            expect: Some(DenyReason::Blocked),
            name: "",
            admin: None,
        },
        Case {
            what: "blocked beats admin_users",
            config: cfg(|c| {
                c.admin_users = set(&["eve"]);
                c.blocked_users = set(&["eve"]);
            }),
            user: "eve",
            expect: Some(DenyReason::Blocked),
            name: "",
            admin: None,
        },
        Case {
            what: "blocked compared after normalization",
            config: cfg(|c| {
                c.allow_all = true;
                c.blocked_users = set(&["Eve"]);
            }),
            user: "EVE",
            expect: Some(DenyReason::Blocked),
            name: "",
            admin: None,
        },
        Case {
            what: "blocked_users does not affect others",
            config: cfg(|c| {
                c.allow_all = true;
                c.blocked_users = set(&["eve"]);
            }),
            user: "bob",
            expect: None,
            name: "bob",
            admin: None,
        },
        Case {
            what: "username_map after lowercasing",
            config: cfg(|c| {
                c.allow_all = true;
                c.username_map = BTreeMap::from([("alice".into(), "alicia".into())]);
            }),
            user: "Alice",
            expect: None,
            name: "alicia",
            admin: None,
        },
        Case {
            what: "username_map applied once (F10)",
            config: cfg(|c| {
                c.allow_all = true;
                c.username_map =
                    BTreeMap::from([("a".into(), "b".into()), ("b".into(), "c".into())]);
            }),
            user: "a",
            expect: None,
            name: "b",
            admin: None,
        },
        Case {
            what: "username_map result is what allow rules see",
            config: cfg(|c| {
                c.allowed_users = set(&["alicia"]);
                c.username_map = BTreeMap::from([("alice".into(), "alicia".into())]);
            }),
            user: "alice",
            expect: None,
            name: "alicia",
            admin: None,
        },
        Case {
            what: "username_pattern matches whole name",
            config: cfg(|c| {
                c.allow_all = true;
                c.username_pattern = "[a-z]+".into();
            }),
            user: "abc",
            expect: None,
            name: "abc",
            admin: None,
        },
        Case {
            what: "username_pattern prefix match refused (F10)",
            config: cfg(|c| {
                c.allow_all = true;
                c.username_pattern = "abc".into();
            }),
            user: "abcdef",
            expect: Some(DenyReason::InvalidUsername),
            name: "",
            admin: None,
        },
        Case {
            what: "username_pattern mismatch",
            config: cfg(|c| {
                c.allow_all = true;
                c.username_pattern = "[a-z]+".into();
            }),
            user: "abc1",
            expect: Some(DenyReason::InvalidUsername),
            name: "",
            admin: None,
        },
        Case {
            what: "slash in name invalid",
            config: cfg(|c| c.allow_all = true),
            user: "a/b",
            expect: Some(DenyReason::InvalidUsername),
            name: "",
            admin: None,
        },
        Case {
            what: "dot-dot name invalid",
            config: cfg(|c| c.allow_all = true),
            user: "..",
            expect: Some(DenyReason::InvalidUsername),
            name: "",
            admin: None,
        },
        Case {
            what: "dot name invalid",
            config: cfg(|c| c.allow_all = true),
            user: ".",
            expect: Some(DenyReason::InvalidUsername),
            name: "",
            admin: None,
        },
        Case {
            what: "dots inside a name are fine",
            config: cfg(|c| c.allow_all = true),
            user: "a..b.",
            expect: None,
            name: "a..b.",
            admin: None,
        },
        Case {
            what: "name longer than username_max_length invalid",
            config: cfg(|c| {
                c.allow_all = true;
                c.username_max_length = 3;
            }),
            user: "abcd",
            expect: Some(DenyReason::InvalidUsername),
            name: "",
            admin: None,
        },
        Case {
            what: "username_max_length counts bytes: 4 characters, 5 bytes refused at 4",
            config: cfg(|c| {
                c.allow_all = true;
                c.username_max_length = 4;
            }),
            user: "abcé",
            expect: Some(DenyReason::InvalidUsername),
            name: "",
            admin: None,
        },
        Case {
            what: "a name of exactly username_max_length bytes is valid",
            config: cfg(|c| {
                c.allow_all = true;
                c.username_max_length = 5;
            }),
            user: "abcé",
            expect: None,
            name: "abcé",
            admin: None,
        },
        Case {
            what: "empty name invalid",
            config: cfg(|c| c.allow_all = true),
            user: "",
            expect: Some(DenyReason::InvalidUsername),
            name: "",
            admin: None,
        },
        Case {
            what: "control character invalid",
            config: cfg(|c| c.allow_all = true),
            user: "a\nb",
            expect: Some(DenyReason::InvalidUsername),
            name: "",
            admin: None,
        },
    ];
    for case in cases {
        let auth = fixed(case.config, AuthModel::named(""));
        let outcome = login(&auth, case.user).await;
        assert_eq!(denied(&outcome), case.expect, "{}", case.what);
        if case.expect.is_none() {
            let model = success(outcome);
            assert_eq!(model.name, case.name, "{}", case.what);
            assert_eq!(model.admin, case.admin, "{}", case.what);
        }
    }
}

#[tokio::test]
async fn allow_existing_users_follows_add_user() {
    // Default: true when allowed_users is set.
    let config = cfg(|c| {
        c.allowed_users = set(&["alice"]);
        c.allow_existing_users = true;
    });
    let auth = fixed(config, AuthModel::named(""));
    assert_eq!(
        denied(&login(&auth, "carol").await),
        Some(DenyReason::NotAllowed)
    );
    auth.add_user("carol").await.unwrap();
    assert_eq!(denied(&login(&auth, "carol").await), None);
    auth.delete_user("carol").await.unwrap();
    assert_eq!(
        denied(&login(&auth, "carol").await),
        Some(DenyReason::NotAllowed)
    );

    // Off: existing users are not allowed unless listed.
    let config = cfg(|c| {
        c.allowed_users = set(&["alice"]);
        c.allow_existing_users = false;
    });
    let auth = fixed(config, AuthModel::named(""));
    auth.add_user("carol").await.unwrap();
    assert_eq!(
        denied(&login(&auth, "carol").await),
        Some(DenyReason::NotAllowed)
    );
    // add_user never changes the outcome for other users.
    assert_eq!(denied(&login(&auth, "alice").await), None);
}

#[tokio::test]
async fn add_user_refuses_invalid_names() {
    let auth = fixed(cfg(|c| c.allow_existing_users = true), AuthModel::named(""));
    let err = auth.add_user("a/b").await.unwrap_err();
    assert!(err.to_string().contains("Invalid username"));
}

#[tokio::test]
async fn model_admin_from_authenticator_is_kept() {
    let mut model = AuthModel::named("");
    model.admin = Some(false);
    let auth = fixed(
        cfg(|c| {
            c.allow_all = true;
            c.admin_users = set(&["root"]);
        }),
        model,
    );
    // The authenticator decided: is_admin is not consulted.
    assert_eq!(success(login(&auth, "root").await).admin, Some(false));
}

#[tokio::test]
async fn managed_groups_allow_and_admin() {
    let config = cfg(|c| {
        c.manage_groups = true;
        c.group_rules = GroupRules {
            allowed_groups: set(&["staff"]),
            admin_groups: set(&["ops"]),
        };
    });
    let rules = Rules::new(config.clone());

    let mut member = AuthModel::named("ann");
    member.groups = Some(vec!["staff".into(), "ops".into(), "staff".into()]);
    rules.apply_managed_groups(&mut member);
    assert_eq!(member.groups, Some(vec!["ops".into(), "staff".into()]));
    assert_eq!(member.admin, Some(true));

    let mut other = AuthModel::named("bob");
    other.groups = Some(vec!["staff".into()]);
    rules.apply_managed_groups(&mut other);
    // admin_groups configured and not a member: admin revoked.
    assert_eq!(other.admin, Some(false));

    let auth = fixed(config.clone(), other);
    assert_eq!(denied(&login(&auth, "bob").await), None);
    let mut outsider = AuthModel::named("");
    outsider.groups = Some(vec!["visitors".into()]);
    let auth = fixed(config.clone(), outsider);
    assert_eq!(
        denied(&login(&auth, "zed").await),
        Some(DenyReason::NotAllowed)
    );

    // Without manage_groups, allowed_groups grants nothing.
    let mut unmanaged = config;
    unmanaged.manage_groups = false;
    let mut staff = AuthModel::named("");
    staff.groups = Some(vec!["staff".into()]);
    let auth = fixed(unmanaged, staff);
    assert_eq!(
        denied(&login(&auth, "ann").await),
        Some(DenyReason::NotAllowed)
    );
}

#[tokio::test]
async fn admin_users_never_overridden_by_groups() {
    let config = cfg(|c| {
        c.manage_groups = true;
        c.admin_users = set(&["root"]);
        c.group_rules.admin_groups = set(&["ops"]);
    });
    let rules = Rules::new(config);
    let mut model = AuthModel::named("root");
    model.admin = rules.is_admin("root");
    model.groups = Some(vec![]);
    rules.apply_managed_groups(&mut model);
    assert_eq!(model.admin, Some(true));
}

#[tokio::test]
async fn http_errors_from_stages_propagate() {
    let auth = Fixed {
        rules: Rules::new(cfg(|c| c.allow_all = true)),
        model: Some(AuthModel::named("")),
        block_with: Some(AuthError::forbidden("This site is restricted")),
    };
    let err = get_authenticated_user(&auth, None, &ctx(), &LoginData::credentials("a", "b"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), 403);
    assert_eq!(err.to_string(), "This site is restricted");
}

#[tokio::test]
async fn authentication_failure_is_a_denial() {
    let auth = Fixed {
        rules: Rules::new(cfg(|c| c.allow_all = true)),
        model: None,
        block_with: None,
    };
    assert_eq!(
        denied(&login(&auth, "a").await),
        Some(DenyReason::AuthenticationFailed)
    );
}

#[tokio::test]
async fn post_auth_hook_changes_model_after_checks() {
    let auth = fixed(cfg(|c| c.allow_all = true), AuthModel::named(""));
    let hook = hook_fn(|mut model: AuthModel| async move {
        model.extra.insert("testkey".into(), true.into());
        model.auth_state = Some(serde_json::json!({"spawn_data": 1}));
        Ok(model)
    });
    let outcome =
        get_authenticated_user(&auth, Some(&hook), &ctx(), &LoginData::credentials("x", ""))
            .await
            .unwrap();
    let model = success(outcome);
    assert_eq!(
        model.extra.get("testkey"),
        Some(&serde_json::Value::Bool(true))
    );
    assert_eq!(model.auth_state, Some(serde_json::json!({"spawn_data": 1})));

    // The hook does not run for refused users.
    let auth = fixed(cfg(|_| {}), AuthModel::named(""));
    let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = ran.clone();
    let hook = hook_fn(move |model: AuthModel| {
        seen.store(true, std::sync::atomic::Ordering::SeqCst);
        async move { Ok(model) }
    });
    let outcome =
        get_authenticated_user(&auth, Some(&hook), &ctx(), &LoginData::credentials("x", ""))
            .await
            .unwrap();
    assert_eq!(denied(&outcome), Some(DenyReason::NotAllowed));
    assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
}

#[tokio::test]
async fn post_auth_hook_may_not_rename() {
    let auth = fixed(cfg(|c| c.allow_all = true), AuthModel::named(""));
    let hook = hook_fn(|mut model: AuthModel| async move {
        model.name = "root".into();
        Ok(model)
    });
    let err = get_authenticated_user(&auth, Some(&hook), &ctx(), &LoginData::credentials("x", ""))
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::Hook(_)));
}

#[tokio::test]
async fn dummy_password() {
    let open = DummyAuthenticator::new(cfg(|c| c.allow_all = true), Secret::default());
    assert_eq!(denied(&login(&open, "anyone").await), None);

    let closed = DummyAuthenticator::new(cfg(|c| c.allow_all = true), Secret::new("s3cret"));
    let wrong = get_authenticated_user(&closed, None, &ctx(), &LoginData::credentials("a", "nope"))
        .await
        .unwrap();
    assert_eq!(denied(&wrong), Some(DenyReason::AuthenticationFailed));
    let right = get_authenticated_user(
        &closed,
        None,
        &ctx(),
        &LoginData::credentials("a", "s3cret"),
    )
    .await
    .unwrap();
    assert_eq!(denied(&right), None);
    assert!(
        closed
            .startup_warnings()
            .iter()
            .any(|w| w.contains("deprecated"))
    );
    assert!(
        closed
            .startup_warnings()
            .iter()
            .any(|w| w.contains("not meant for production"))
    );
}

#[test]
fn any_allow_config_warning() {
    let rules = Rules::new(cfg(|_| {}));
    let warnings = rules.startup_warnings("DummyAuthenticator");
    assert!(
        warnings.iter().any(|w| w.contains("nobody can login")),
        "{warnings:?}"
    );
    let rules = Rules::new(cfg(|c| c.allowed_users = set(&["alice"])));
    assert!(rules.startup_warnings("X").is_empty());
    let rules = Rules::new(cfg(|c| c.any_allow_config = Some(true)));
    assert!(rules.startup_warnings("X").is_empty());
    let rules = Rules::new(cfg(|c| c.allowed_users = set(&["a", "b", "carol"])));
    assert!(
        rules
            .startup_warnings("X")
            .iter()
            .any(|w| w.contains("one character"))
    );
}

#[test]
fn configured_names_are_validated() {
    let rules = Rules::new(cfg(|c| c.admin_users = set(&["ok", "bad/name"])));
    let err = rules.check_configured_names().unwrap_err();
    assert_eq!(err.option, "admin_users");
}
