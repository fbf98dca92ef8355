//! `[[Hub.logins]]`: several login methods on one hub. Each method is an authenticator
//! class built from the class tables it inherits plus its own `options` (its
//! `username_prefix` among them; see [`Config::with_instance`]), and all of them are
//! gathered under the hub-wide rules of `[Authenticator]` ([`HubWide`]).

use std::collections::BTreeSet;
use std::sync::Arc;

use anyhow::{Result, anyhow};
use hubauth_config::{Config, Env, Registry};
use hubauth_core::methods::check_method_name;
use hubauth_core::{Authenticator, AuthenticatorConfig, HubWide, LinkBy, LoginKind, LoginMethod};
use hubauth_store::CryptKeeper;

use crate::catalog;

/// The keys of one `[[Hub.logins]]` table.
const KEYS: &[&str] = &[
    "name",
    "class",
    "label",
    "username_prefix",
    "default",
    "link_by",
    "options",
];

/// `[Authenticator]` options that hold for the whole hub, never for one method: the hub
/// reads them once (auth_state, refresh, the login page, the hook, managed roles).
pub(crate) const HUB_WIDE: &[&str] = &[
    "enable_auth_state",
    "auth_refresh_age",
    "refresh_pre_spawn",
    "auto_login",
    "post_auth_hook",
    "custom_403_message",
    "manage_roles",
    "load_managed_roles",
    "reset_managed_roles_on_startup",
];

/// Classes that look a user up by name elsewhere (the system's accounts, a directory): a
/// prefix would make them ask about names that do not exist.
fn looks_up_names(registry: &Registry, class: &str) -> bool {
    registry.mro(class).iter().any(|owner| {
        matches!(
            owner.name,
            "LocalAuthenticator" | "PAMAuthenticator" | "LDAPAuthenticator"
        )
    })
}

/// The hub-wide authenticator of a configuration with `[[Hub.logins]]`, or `None` when it
/// has none (one login method: `authenticator_class`). Warnings go to `warnings`.
pub(crate) fn build(
    config: &Config,
    registry: &Registry,
    env: &dyn Env,
    crypt: &CryptKeeper,
    warnings: &mut Vec<String>,
) -> Result<Option<Arc<dyn Authenticator>>> {
    let Some(raw) = config.raw("Hub", "logins") else {
        return Ok(None);
    };
    let source = config.source();
    let toml::Value::Array(tables) = raw else {
        return Err(anyhow!(
            "{source}: [Hub] logins must be a list of tables ([[Hub.logins]])"
        ));
    };
    if tables.is_empty() {
        return Ok(None);
    }
    if config.raw("Hub", "authenticator_class").is_some() {
        return Err(anyhow!(
            "{source}: [Hub] sets both authenticator_class and logins; with [[Hub.logins]] each method names its class, so remove authenticator_class"
        ));
    }
    let mut methods: Vec<LoginMethod> = Vec::new();
    let mut names = BTreeSet::new();
    for (index, table) in tables.iter().enumerate() {
        let at = format!("{source}: [[Hub.logins]] #{}", index + 1);
        let toml::Value::Table(table) = table else {
            return Err(anyhow!("{at}: must be a table"));
        };
        let method = build_one(config, registry, env, crypt, &at, table, warnings)?;
        if !names.insert(method.name.clone()) {
            return Err(anyhow!(
                "{at}: the name {:?} is used by two login methods",
                method.name
            ));
        }
        methods.push(method);
    }
    let defaults = methods.iter().filter(|method| method.default).count();
    if defaults > 1 {
        return Err(anyhow!(
            "{source}: [[Hub.logins]]: more than one method has default = true"
        ));
    }
    let global = AuthenticatorConfig::from_view(&config.view(registry, "Authenticator", env))
        .map_err(|err| anyhow!("{err}"))?;
    if !global.username_prefix.is_empty() {
        return Err(anyhow!(
            "{source}: [Authenticator] username_prefix would prefix every method's names alike: give each [[Hub.logins]] method its own username_prefix"
        ));
    }
    if global.auto_login && methods.len() > 1 && defaults == 0 {
        return Err(anyhow!(
            "{source}: [Authenticator] auto_login is on, but the login page shows {} methods and none has default = true: name the one auto_login goes to",
            methods.len()
        ));
    }
    let unprefixed: Vec<&str> = methods
        .iter()
        .filter(|method| method.username_prefix.is_empty())
        .map(|method| method.name.as_str())
        .collect();
    if unprefixed.len() > 1 {
        warnings.push(format!(
            "[[Hub.logins]]: the methods {} give usernames without a username_prefix, so the same name can come from more than one of them; the account belongs to the method that logs it in first, and the others are refused for it",
            unprefixed.join(", ")
        ));
    }
    for method in &methods {
        let Some(rule) = &method.link_by else {
            continue;
        };
        let partners = methods
            .iter()
            .filter(|other| other.name != method.name && other.link_by.as_ref() == Some(rule))
            .count();
        if partners == 0 {
            warnings.push(format!(
                "[[Hub.logins]] {:?}: link_by = {:?} links to nothing: no other method has the same rule",
                method.name,
                rule.kind()
            ));
        }
    }
    let hub_wide = HubWide::new(global, methods);
    hubauth_server::startup::check(&hub_wide, crypt).map_err(|err| anyhow!("{source}: {err}"))?;
    Ok(Some(Arc::new(hub_wide)))
}

fn build_one(
    config: &Config,
    registry: &Registry,
    env: &dyn Env,
    crypt: &CryptKeeper,
    at: &str,
    table: &toml::Table,
    warnings: &mut Vec<String>,
) -> Result<LoginMethod> {
    let text = |at: &str, key: &str| -> Result<Option<String>> {
        match table.get(key) {
            None => Ok(None),
            Some(toml::Value::String(value)) => Ok(Some(value.clone())),
            Some(_) => Err(anyhow!("{at}: {key} must be a string")),
        }
    };
    let name = text(at, "name")?.ok_or_else(|| anyhow!("{at}: name is missing"))?;
    check_method_name(&name).map_err(|err| anyhow!("{at}: name: {err}"))?;
    let at = format!("{at} ({name:?})");
    let text = |key: &str| text(&at, key);
    for key in table.keys() {
        if !KEYS.contains(&key.as_str()) {
            return Err(anyhow!(
                "{at}: unknown key {key:?} (a method has {}; the class's options go in its options table)",
                KEYS.join(", ")
            ));
        }
    }
    let class = text("class")?.ok_or_else(|| anyhow!("{at}: class is missing"))?;
    let entry = catalog::lookup(&class).map_err(|message| anyhow!("{at}: class: {message}"))?;
    let prefix = text("username_prefix")?;
    let link_by = text("link_by")?
        .map(|rule| LinkBy::parse(&rule))
        .transpose()
        .map_err(|err| anyhow!("{at}: {err}"))?;
    let default = match table.get("default") {
        None => false,
        Some(toml::Value::Boolean(value)) => *value,
        Some(_) => return Err(anyhow!("{at}: default must be true or false")),
    };
    let mut options = match table.get("options") {
        None => toml::Table::new(),
        Some(toml::Value::Table(options)) => options.clone(),
        Some(_) => return Err(anyhow!("{at}: options must be a table")),
    };
    if let Some(prefix) = prefix {
        let value = toml::Value::String(prefix.to_owned());
        if options
            .get("username_prefix")
            .is_some_and(|set| *set != value)
        {
            return Err(anyhow!(
                "{at}: username_prefix is set twice, differently (the method's key and options.username_prefix)"
            ));
        }
        options.insert("username_prefix".to_owned(), value);
    }
    for key in options.keys() {
        if HUB_WIDE.contains(&key.as_str()) {
            return Err(anyhow!(
                "{at}: options.{key} holds for the whole hub: set it in [Authenticator]"
            ));
        }
    }
    let class_def = registry
        .class(entry.class)
        .ok_or_else(|| anyhow!("internal: {} is not registered", entry.class))?;
    let instance = format!("[[Hub.logins]] {name:?} options");
    let layered = config
        .with_instance(registry, class_def, &instance, options)
        .map_err(|err| anyhow!("{at}: {err}"))?;
    warnings.extend(
        layered
            .warnings()
            .iter()
            .skip(config.warnings().len())
            .map(|warning| format!("[[Hub.logins]] {name:?}: {warning}")),
    );
    let view = layered.view(registry, entry.class, env);
    let built = (entry.build)(&view).map_err(|err| anyhow!("{at}: {err}"))?;
    let prefix = built.rules().config().username_prefix.clone();
    if !prefix.is_empty() && looks_up_names(registry, entry.class) {
        return Err(anyhow!(
            "{at}: username_prefix cannot be used with {}, which looks users up by name on the system or in the directory; give the other methods prefixes instead",
            entry.class
        ));
    }
    hubauth_server::startup::check(built.as_ref(), crypt).map_err(|err| anyhow!("{at}: {err}"))?;
    let label = match text("label")? {
        Some(label) if !label.trim().is_empty() => label,
        Some(_) => return Err(anyhow!("{at}: label must not be empty")),
        None => match built.kind() {
            LoginKind::Redirect { login_service, .. } => login_service,
            LoginKind::Form { .. } => name.clone(),
        },
    };
    Ok(LoginMethod {
        name,
        label,
        default,
        username_prefix: prefix,
        link_by,
        authenticator: built,
    })
}
