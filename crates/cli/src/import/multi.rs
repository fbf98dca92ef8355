//! The third-party `MultiAuthenticator` (github.com/idiap/multiauthenticator) as
//! `[[Hub.logins]]`: each of `c.MultiAuthenticator.authenticators` becomes one login
//! method, in every shape its versions accept: tuples `(class, url_prefix, config)`
//! (0.1 to 0.3, deprecated since 0.4) and dicts `{"authenticator_class": ...,
//! "url_prefix": ..., "config": {...}}` (0.4), with the class as an imported class, an
//! entry-point name (`"github"`) or an import path.
//!
//! MultiAuthenticator puts `<login_service>:` (lowercased, as JupyterHub normalizes
//! names) before every username a sub-authenticator returns, or `<service_name>:` when
//! the entry's config has the deprecated `service_name`, or
//! `c.MultiAuthenticator.username_prefix` for every method when that is set; it strips
//! that prefix again before a method's `allowed_users` and `blocked_users` are checked,
//! and oauthenticator compares `admin_users` with the name before the prefix. hubauth's
//! rules name hub usernames, prefix included, so those names are written with it.

use hubauth_core::methods::{check_method_name, check_prefix};

use super::lexer::Tok;
use super::parse::Expr;
use super::{Entry, Eval, Importer, Level, NotLiteral, Target, Value, describe_value};
use crate::logins::HUB_WIDE;

/// The class name of `c.MultiAuthenticator.*`.
pub(super) const CLASS: &str = "MultiAuthenticator";

/// MultiAuthenticator's separator between its prefix and the name.
const SEPARATOR: &str = ":";

/// Rules whose names MultiAuthenticator compared without the method's prefix.
const NAME_SETS: &[&str] = &["allowed_users", "blocked_users", "admin_users"];

/// What the file says about MultiAuthenticator.
#[derive(Default)]
pub(super) struct Multi {
    /// The line of `c.JupyterHub.authenticator_class = MultiAuthenticator`, when it is.
    pub(super) selected: Option<usize>,
    /// The sub-authenticators that could be read, with the line of the list.
    methods: Vec<Method>,
    /// The line where `authenticators` was (last) set.
    list_line: Option<usize>,
    /// `c.MultiAuthenticator.username_prefix` (`None` in Python: unset) and its line.
    prefix: Option<(Option<String>, usize)>,
    /// The values of secret options in the entries' configs: no note shows a line
    /// holding one.
    secrets: Vec<String>,
}

/// One sub-authenticator, read.
struct Method {
    line: usize,
    url_prefix: String,
    /// The catalog's short name (`github`).
    class: &'static str,
    /// The class name (`GitHubOAuthenticator`).
    class_name: &'static str,
    service_name: Option<String>,
    login_service: Option<String>,
    options: Vec<Entry>,
}

/// Whether an `authenticator_class` value names MultiAuthenticator (its entry point
/// `multiauthenticator`, `multiauthenticator.MultiAuthenticator`, the class object, or
/// the first versions' `oauthenticator.MultiAuthenticator.MultiAuthenticator`).
pub(super) fn is_multi_authenticator(name: &str) -> bool {
    name.trim()
        .rsplit('.')
        .next()
        .is_some_and(|last| last.eq_ignore_ascii_case("multiauthenticator"))
}

/// The catalog entry for a sub-authenticator's class: as written, as an entry point
/// (MultiAuthenticator compares those case-insensitively), or by its last dotted part.
fn lookup(name: &str) -> Result<&'static crate::catalog::Entry, String> {
    let first = crate::catalog::lookup(name);
    if first.is_ok() {
        return first;
    }
    let lower = name.trim().to_ascii_lowercase();
    if let Ok(entry) = crate::catalog::lookup(&lower) {
        return Ok(entry);
    }
    if let Some((_, last)) = name.trim().rsplit_once('.')
        && let Ok(entry) = crate::catalog::lookup(last)
    {
        return Ok(entry);
    }
    first
}

/// A method name from a URL prefix: lowercase letters, digits and `-`, at most 32, not
/// one of the hub's own paths, not taken.
fn method_name(url_prefix: &str, fallback: &str, taken: &[String]) -> String {
    let mut name = String::new();
    for c in url_prefix.trim_matches('/').chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            name.push(c);
        } else if !name.ends_with('-') {
            name.push('-');
        }
    }
    let mut name = name.trim_matches('-').to_owned();
    if name.is_empty() {
        name = fallback.to_owned();
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        name = format!("m-{name}");
    }
    name.truncate(28);
    let name = name.trim_end_matches('-').to_owned();
    let name = if check_method_name(&name).is_ok() {
        name
    } else {
        format!("{name}-auth")
    };
    let mut unique = name.clone();
    let mut n = 2;
    while taken.contains(&unique) {
        unique = format!("{name}-{n}");
        n += 1;
    }
    unique
}

/// A TOML string.
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

impl Importer<'_> {
    /// `c.MultiAuthenticator.<option>` set (`how` = "set"), appended to ("item") or
    /// extended ("merge").
    pub(super) fn multi_set(&mut self, option: &str, how: &str, value: &Expr, line: usize) {
        match option {
            "authenticators" => {
                let items: Vec<Expr> = match (how, value) {
                    ("item", item) => vec![item.clone()],
                    (_, Expr::List(items) | Expr::Tuple(items)) => items.clone(),
                    _ => {
                        let why = match self.eval(value) {
                            Ok(other) => format!(
                                "authenticators must be a list of sub-authenticators, not {}",
                                describe_value(&other)
                            ),
                            Err(why) => Self::not_literal_message(None, &why),
                        };
                        self.note_line(
                            line,
                            Level::NotConverted,
                            format!("{why}; no login method is converted from it"),
                        );
                        return;
                    }
                };
                if how == "set" {
                    self.multi.methods.clear();
                }
                self.multi.list_line = Some(line);
                let mut starts = self.item_lines(how);
                if starts.len() != items.len() {
                    starts = vec![line; items.len()];
                }
                for (index, item) in items.iter().enumerate() {
                    let end = starts
                        .get(index + 1)
                        .map_or(self.statement_end, |next| (*next).max(starts[index]));
                    self.multi_entry(item, starts[index], end);
                }
            }
            "username_prefix" if how == "set" => match self.eval(value) {
                Ok(Value::Str(prefix)) => self.multi.prefix = Some((Some(prefix), line)),
                Ok(Value::None) => self.multi.prefix = Some((None, line)),
                other => {
                    let why = match other {
                        Ok(other) => format!("a string, not {}", describe_value(&other)),
                        Err(why) => Self::not_literal_message(None, &why),
                    };
                    self.note_line(
                        line,
                        Level::NotConverted,
                        format!("MultiAuthenticator.username_prefix: {why}"),
                    );
                }
            },
            "admin_users" => {
                let value = self.eval(value);
                let how = if how == "item" { "item" } else { "merge" };
                self.note_line(
                    line,
                    Level::Converted,
                    "MultiAuthenticator.admin_users are hub usernames (username_prefix included) that JupyterHub makes admins: written into [Authenticator] admin_users, which holds for every login method".to_owned(),
                );
                self.mutate("Authenticator", "admin_users", how, value, line);
            }
            _ => {
                let message = if self.registry.option("Authenticator", option).is_some() {
                    format!(
                        "MultiAuthenticator.{option}: JupyterHub asks the sub-authenticators at login, not MultiAuthenticator; set it in [Authenticator] to hold for every login method (names with their username_prefix), or in one method's options"
                    )
                } else {
                    format!(
                        "MultiAuthenticator.{option}: not an option hubauth has (the authenticators become [[Hub.logins]], username_prefix each method's username_prefix)"
                    )
                };
                self.note_line(line, Level::NotConverted, message);
            }
        }
    }

    /// The first line of each item of the list the statement gives `authenticators`
    /// (after `=` or `+=`, or in `.extend(...)`), or of the one item of `.append(...)`.
    fn item_lines(&self, how: &str) -> Vec<usize> {
        let tokens = &self.statement_tokens;
        let call = tokens.windows(2).position(|pair| {
            matches!(&pair[0].kind, Tok::Name(n) if n == "append" || n == "extend")
                && matches!(&pair[1].kind, Tok::Op(op) if op == "(")
        });
        let open = match call {
            Some(at) if how == "item" => {
                return tokens.get(at + 2).map(|t| vec![t.line]).unwrap_or_default();
            }
            Some(at) => at + 2,
            None => {
                let mut depth = 0usize;
                let mut after = None;
                for (index, token) in tokens.iter().enumerate() {
                    if let Tok::Op(op) = &token.kind {
                        match op.as_str() {
                            "(" | "[" | "{" => depth += 1,
                            ")" | "]" | "}" => depth = depth.saturating_sub(1),
                            "=" | "+=" if depth == 0 => after = Some(index + 1),
                            _ => {}
                        }
                    }
                }
                match after {
                    Some(at) => at,
                    None => return Vec::new(),
                }
            }
        };
        if !matches!(tokens.get(open).map(|t| &t.kind), Some(Tok::Op(op)) if op == "[" || op == "(")
        {
            return Vec::new();
        }
        let mut lines = Vec::new();
        let mut depth = 0usize;
        let mut expect_item = true;
        for token in tokens.iter().skip(open + 1) {
            if let Tok::Op(op) = &token.kind {
                match op.as_str() {
                    ")" | "]" | "}" if depth == 0 => break,
                    "," if depth == 0 => {
                        expect_item = true;
                        continue;
                    }
                    _ => {}
                }
            }
            if expect_item {
                lines.push(token.line);
                expect_item = false;
            }
            if let Tok::Op(op) = &token.kind {
                match op.as_str() {
                    "(" | "[" | "{" => depth += 1,
                    ")" | "]" | "}" => depth = depth.saturating_sub(1),
                    _ => {}
                }
            }
        }
        lines
    }

    /// The first line from `from` to `to` holding one of `needles`.
    fn find_line(&self, from: usize, to: usize, needles: &[String]) -> Option<usize> {
        (from..=to.max(from)).find(|line| {
            self.source_lines
                .get(line.wrapping_sub(1))
                .is_some_and(|text| needles.iter().any(|needle| text.contains(needle)))
        })
    }

    /// The line of a dict key (`"key":`, `'key':` or `key=`) from `from` to `to`.
    fn key_line(&self, from: usize, to: usize, key: &str) -> usize {
        let needles = [
            format!("\"{key}\""),
            format!("'{key}'"),
            format!("{key}="),
            format!("{key} ="),
        ];
        self.find_line(from, to, &needles).unwrap_or(from)
    }

    /// One item of the `authenticators` list.
    fn multi_entry(&mut self, item: &Expr, start: usize, end: usize) {
        let (class_expr, prefix_expr, config_expr) = match item {
            Expr::Tuple(parts) | Expr::List(parts) if parts.len() == 3 => {
                (Some(&parts[0]), Some(&parts[1]), Some(&parts[2]))
            }
            Expr::Dict(pairs) => {
                let get = |wanted: &str| {
                    pairs
                        .iter()
                        .rev()
                        .find(|(key, _)| matches!(key, Expr::Str(k) if k == wanted))
                        .map(|(_, value)| value)
                };
                (get("authenticator_class"), get("url_prefix"), get("config"))
            }
            _ => {
                self.note_line(
                    start,
                    Level::NotConverted,
                    "a MultiAuthenticator entry must be a tuple (class, url_prefix, config) or a dict with authenticator_class, url_prefix and config; this one is neither, and no login method is converted from it".to_owned(),
                );
                return;
            }
        };
        let url_prefix = match prefix_expr.map(|expr| self.eval(expr)) {
            Some(Ok(Value::Str(prefix))) => prefix,
            other => {
                let why = match other {
                    None => "it has no url_prefix".to_owned(),
                    Some(Ok(value)) => {
                        format!(
                            "its url_prefix must be a string, not {}",
                            describe_value(&value)
                        )
                    }
                    Some(Err(why)) => {
                        format!("its url_prefix: {}", Self::not_literal_message(None, &why))
                    }
                };
                self.note_line(
                    start,
                    Level::NotConverted,
                    format!("a MultiAuthenticator entry is not converted: {why}"),
                );
                return;
            }
        };
        let line = self
            .find_line(
                start,
                end,
                &[format!("\"{url_prefix}\""), format!("'{url_prefix}'")],
            )
            .unwrap_or(start);
        let class = match class_expr.map(|expr| self.eval(expr)) {
            Some(Ok(Value::Str(name) | Value::Class(name))) => match lookup(&name) {
                Ok(entry) => Ok(entry),
                Err(message) => Err(message),
            },
            None => Err("it has no authenticator_class".to_owned()),
            Some(Ok(value)) => Err(format!(
                "its authenticator_class must name a class, not {}",
                describe_value(&value)
            )),
            Some(Err(why)) => Err(format!(
                "its authenticator_class is {}",
                Self::not_literal_message(None, &why)
            )),
        };
        let entry = match class {
            Ok(entry) => entry,
            Err(why) => {
                self.note_line(
                    line,
                    Level::NotConverted,
                    format!(
                        "the MultiAuthenticator entry for {url_prefix:?} is not converted to a login method: {why}"
                    ),
                );
                return;
            }
        };
        let mut method = Method {
            line,
            url_prefix,
            class: entry.aliases.first().copied().unwrap_or(entry.class),
            class_name: entry.class,
            service_name: None,
            login_service: None,
            options: Vec::new(),
        };
        let pairs: Vec<(Value, Eval)> = match config_expr {
            None => Vec::new(),
            Some(Expr::Dict(pairs)) => pairs
                .iter()
                .map(|(key, value)| (self.eval(key).unwrap_or(Value::None), self.eval(value)))
                .collect(),
            Some(Expr::Call { func, args, kwargs })
                if args.is_empty() && matches!(func.as_ref(), Expr::Name(n) if n == "dict") =>
            {
                kwargs
                    .iter()
                    .map(|(key, value)| (Value::Str(key.clone()), self.eval(value)))
                    .collect()
            }
            Some(expr) => match self.eval(expr) {
                Ok(Value::Dict(pairs)) => pairs
                    .into_iter()
                    .map(|(key, value)| (key, Ok(value)))
                    .collect(),
                other => {
                    let why = match other {
                        Ok(value) => format!("a dict, not {}", describe_value(&value)),
                        Err(why) => Self::not_literal_message(None, &why),
                    };
                    self.note_line(
                        line,
                        Level::NotConverted,
                        format!(
                            "the config of the MultiAuthenticator entry for {:?}: {why}; the method is converted without its options",
                            method.url_prefix
                        ),
                    );
                    Vec::new()
                }
            },
        };
        for (key, value) in pairs {
            let Value::Str(key) = key else {
                self.note_line(
                    line,
                    Level::NotConverted,
                    format!(
                        "the config of the MultiAuthenticator entry for {:?} has a key that is not a literal string",
                        method.url_prefix
                    ),
                );
                continue;
            };
            let at = self.key_line(start, end, &key);
            self.multi_option(&mut method, &key, value, at);
        }
        self.multi.methods.push(method);
    }

    /// One key of a sub-authenticator's config.
    fn multi_option(&mut self, method: &mut Method, key: &str, value: Eval, line: usize) {
        let context = format!("MultiAuthenticator entry {:?}", method.url_prefix);
        if key == "service_name" {
            match value {
                Ok(Value::Str(name)) => {
                    self.note_line(
                        line,
                        Level::Converted,
                        "service_name (deprecated in MultiAuthenticator 0.4) becomes the method's label, and its username_prefix as MultiAuthenticator derived it".to_owned(),
                    );
                    method.service_name = Some(name);
                }
                other => {
                    let why = match other {
                        Ok(value) => format!("a string, not {}", describe_value(&value)),
                        Err(why) => Self::not_literal_message(None, &why),
                    };
                    self.note_line(
                        line,
                        Level::NotConverted,
                        format!("{context}: service_name: {why}"),
                    );
                }
            }
            return;
        }
        if key == "username_prefix" {
            self.note_line(
                line,
                Level::NotConverted,
                format!(
                    "{context}: username_prefix in an entry's config is ignored by MultiAuthenticator (its prefix comes from login_service or MultiAuthenticator.username_prefix), so it is left out"
                ),
            );
            return;
        }
        if HUB_WIDE.contains(&key) {
            self.note_line(
                line,
                Level::NotConverted,
                format!(
                    "{context}: {key} holds for the whole hub in hubauth, not for one login method: set it in [Authenticator]"
                ),
            );
            return;
        }
        let (table, def) = match self.target(method.class_name, key, line) {
            Target::Option { table, def } => (table, def),
            Target::Skip(level, message) => {
                self.note_line(line, level, format!("{context}: {message}"));
                return;
            }
            Target::AuthenticatorClass => return,
        };
        let value = match value {
            Ok(value) => value,
            Err(why) => {
                let message = Self::not_literal_message(Some(def), &why);
                let message = match &why {
                    NotLiteral::Env { .. } if !def.env.is_empty() => format!(
                        "{message} (two methods of one class read the same variable: give the others their value in their options)"
                    ),
                    _ => message,
                };
                let code = if def.secret {
                    Some(format!("{key}: ..."))
                } else {
                    self.code(line)
                };
                self.note_code(
                    line,
                    Level::NotConverted,
                    code,
                    format!("{context}: {message}"),
                );
                return;
            }
        };
        if def.secret
            && let Value::Str(secret) = &value
            && !secret.is_empty()
        {
            self.multi.secrets.push(secret.clone());
        }
        if def.name == "login_service"
            && let Value::Str(service) = &value
        {
            method.login_service = Some(service.clone());
        }
        method.options.retain(|entry| entry.key != def.name);
        let code = if def.secret { None } else { self.code(line) };
        method.options.push(Entry {
            table,
            key: def.name,
            def,
            value,
            line,
            code,
        });
    }

    /// The login_service a sub-authenticator had: its config's, its class table's (the
    /// sub-authenticators read the file's class tables too), or its class's default.
    fn login_service_of(&self, method: &Method) -> String {
        if let Some(service) = &method.login_service {
            return service.clone();
        }
        let lineage: Vec<&str> = self
            .registry
            .mro(method.class_name)
            .iter()
            .map(|class| class.name)
            .collect();
        for class in &lineage {
            if let Some(Value::Str(service)) = self
                .entries
                .iter()
                .rev()
                .find(|entry| entry.table == *class && entry.key == "login_service")
                .map(|entry| &entry.value)
            {
                return service.clone();
            }
        }
        self.registry
            .option(method.class_name, "login_service")
            .and_then(|(_, def)| super::default_value(def))
            .and_then(|value| match value {
                Value::Str(service) => Some(service),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// Whether a class looks users up by name (hubauth refuses a prefix for it).
    fn looks_up_names(&self, class: &str) -> bool {
        self.registry.mro(class).iter().any(|owner| {
            matches!(
                owner.name,
                "LocalAuthenticator" | "PAMAuthenticator" | "LDAPAuthenticator"
            )
        })
    }

    /// `auto_login` with MultiAuthenticator sent the browser to MultiAuthenticator's own
    /// login URL, which no sub-authenticator serves; with several `[[Hub.logins]]` methods
    /// hubauth needs one named `default = true` for it, so it is left out.
    pub(super) fn multi_hub_wide(&mut self) {
        if self.multi.selected.is_none() || self.multi.methods.len() < 2 {
            return;
        }
        let Some(index) = self
            .entries
            .iter()
            .position(|entry| entry.key == "auto_login" && entry.value == Value::Bool(true))
        else {
            return;
        };
        let entry = self.entries.remove(index);
        self.note_code(
            entry.line,
            Level::NotConverted,
            entry.code,
            "auto_login with MultiAuthenticator has no one login to go to; with several [[Hub.logins]] methods, set it again together with default = true on the method it should start".to_owned(),
        );
    }

    /// The `[[Hub.logins]]` tables, with their notes; empty without MultiAuthenticator.
    /// A note whose line holds a secret of an entry's config (`{"client_secret": "..."}`
    /// on one line with what the note is about) is shown without the line.
    pub(super) fn render_logins(&mut self) -> String {
        let out = self.logins_tables();
        let secrets = std::mem::take(&mut self.multi.secrets);
        for note in &mut self.notes {
            if note
                .code
                .as_ref()
                .is_some_and(|code| secrets.iter().any(|secret| code.contains(secret.as_str())))
            {
                note.code = None;
            }
        }
        out
    }

    fn logins_tables(&mut self) -> String {
        let methods = std::mem::take(&mut self.multi.methods);
        let Some(selected) = self.multi.selected else {
            if let Some(line) = self.multi.list_line {
                self.note_line(
                    line,
                    Level::NotConverted,
                    "MultiAuthenticator.authenticators is used only when c.JupyterHub.authenticator_class is MultiAuthenticator, which this file does not set; no login method is converted".to_owned(),
                );
            }
            return String::new();
        };
        if self.multi.list_line.is_none() {
            self.note_line(
                selected,
                Level::NotConverted,
                "MultiAuthenticator without a c.MultiAuthenticator.authenticators list in this file: no login method is converted (hubauth's default is pam)".to_owned(),
            );
            return String::new();
        }
        let global_prefix = self.multi.prefix.clone();
        self.note_line(
            selected,
            Level::Converted,
            format!(
                "MultiAuthenticator: its {} convertible sub-authenticator(s) become [[Hub.logins]] methods, each at {{base_url}}hub/<name>/... as before; rules in [Authenticator] and the class tables apply to every method and name hub usernames, username_prefix included, where MultiAuthenticator compared a method's allowed_users and blocked_users without it: check such names",
                methods.len()
            ),
        );
        let mut out = String::new();
        let mut taken: Vec<String> = Vec::new();
        for mut method in methods {
            let name = method_name(&method.url_prefix, method.class, &taken);
            taken.push(name.clone());
            let written = method.url_prefix.trim_matches('/').to_owned();
            if name != written {
                self.note_line(
                    method.line,
                    Level::Converted,
                    format!(
                        "url_prefix {:?} becomes the login method name {name:?} (lowercase letters, digits and -): its paths are {{base_url}}hub/{name}/oauth_login, .../oauth_callback and .../login",
                        method.url_prefix
                    ),
                );
                self.move_callback(&mut method, &written, &name);
            }
            let login_service = self.login_service_of(&method);
            let label = method
                .service_name
                .clone()
                .or_else(|| method.login_service.clone());
            // The prefix MultiAuthenticator gave this method's users, normalized (lowercased)
            // as it did.
            let (upstream, source) = match &global_prefix {
                Some((Some(prefix), _)) => (
                    prefix.to_lowercase(),
                    "MultiAuthenticator.username_prefix".to_owned(),
                ),
                _ => match &method.service_name {
                    Some(service) => (
                        format!("{service}{SEPARATOR}").to_lowercase(),
                        format!("service_name {service:?}"),
                    ),
                    None => (
                        format!("{login_service}{SEPARATOR}").to_lowercase(),
                        format!("login_service {login_service:?}"),
                    ),
                },
            };
            let mut prefix = None;
            if self.looks_up_names(method.class_name) {
                if !upstream.is_empty() {
                    self.note_line(
                        method.line,
                        Level::NotConverted,
                        format!(
                            "MultiAuthenticator named this method's users {upstream:?} + their name (from {source}); hubauth's {} looks users up by their own name, so method {name:?} has no username_prefix and its users are plain names: rename existing users (import-db keeps JupyterHub's names) and write the method's rules without the prefix",
                            method.class_name
                        ),
                    );
                }
            } else if !upstream.is_empty() {
                let fixed: String = upstream
                    .chars()
                    .map(|c| {
                        if c.is_ascii_lowercase()
                            || c.is_ascii_digit()
                            || matches!(c, '-' | '_' | '.' | ':' | '@')
                        {
                            c
                        } else {
                            '-'
                        }
                    })
                    .collect();
                if check_prefix(&fixed).is_err() {
                    self.note_line(
                        method.line,
                        Level::NotConverted,
                        format!(
                            "MultiAuthenticator named this method's users {upstream:?} + their name (from {source}); hubauth's username_prefix is at most 32 characters, so method {name:?} has none: set one"
                        ),
                    );
                } else {
                    if fixed != upstream {
                        self.note_line(
                            method.line,
                            Level::Converted,
                            format!(
                                "MultiAuthenticator named this method's users {upstream:?} + their name (from {source}); hubauth's username_prefix allows lowercase letters, digits and - _ . : @ only, so it is {fixed:?}: rename existing users to match"
                            ),
                        );
                    } else {
                        self.note_line(
                            method.line,
                            Level::Converted,
                            format!(
                                "username_prefix {fixed:?}, as MultiAuthenticator prefixed this method's usernames (from {source}, lowercased, with {SEPARATOR:?})"
                            ),
                        );
                    }
                    prefix = Some(fixed);
                }
            }
            if let Some(prefix) = &prefix {
                self.prefix_names(&mut method, prefix, &name);
                self.unprefix_map(&mut method, prefix, &name);
            }
            out.push_str(&format!(
                "\n[[Hub.logins]]  # line {}\nname = {}\nclass = {}\n",
                method.line,
                quoted(&name),
                quoted(method.class)
            ));
            if let Some(label) = label {
                out.push_str(&format!("label = {}\n", quoted(&label)));
            }
            if let Some(prefix) = &prefix {
                out.push_str(&format!("username_prefix = {}\n", quoted(prefix)));
            }
            let mut lines = Vec::new();
            for entry in &method.options {
                if let Some(text) = self.render_entry(entry) {
                    lines.push((text, entry.line));
                }
            }
            lines.sort_by_key(|(_, line)| *line);
            if !lines.is_empty() {
                out.push_str("\n[Hub.logins.options]\n");
                for (text, line) in lines {
                    out.push_str(&format!("{text}  # line {line}\n"));
                }
            }
        }
        out
    }

    /// Rewrites an `oauth_callback_url` ending in the old URL prefix's callback path to
    /// the method's own (`.../hub/GitLab/oauth_callback` to `.../hub/gitlab/oauth_callback`).
    fn move_callback(&mut self, method: &mut Method, written: &str, name: &str) {
        let old = format!("/{written}/oauth_callback");
        for entry in &mut method.options {
            if entry.key != "oauth_callback_url" {
                continue;
            }
            let Value::Str(url) = &mut entry.value else {
                continue;
            };
            if let Some(base) = url.strip_suffix(&old) {
                *url = format!("{base}/{name}/oauth_callback");
                let (line, code) = (entry.line, entry.code.clone());
                self.note_code(
                    line,
                    Level::Converted,
                    code,
                    format!(
                        "oauth_callback_url ends in {name}/oauth_callback, where hubauth serves method {name:?}'s callback: register that redirect URI at the provider"
                    ),
                );
            }
        }
    }

    /// MultiAuthenticator's `username_map` saw the prefixed name (JupyterHub normalizes
    /// after the sub-authenticator added it); hubauth's sees the name before its prefix
    /// and adds the prefix after, so the prefix comes off both sides.
    fn unprefix_map(&mut self, method: &mut Method, prefix: &str, name: &str) {
        for entry in &mut method.options {
            if entry.key != "username_map" {
                continue;
            }
            let Value::Dict(pairs) = &mut entry.value else {
                continue;
            };
            let mut changed = false;
            for (from, to) in pairs.iter_mut() {
                for side in [from, to] {
                    if let Value::Str(text) = side
                        && let Some(bare) = text.strip_prefix(prefix)
                    {
                        *text = bare.to_owned();
                        changed = true;
                    }
                }
            }
            let (line, code) = (entry.line, entry.code.clone());
            self.note_code(
                line,
                Level::Converted,
                code,
                if changed {
                    format!(
                        "username_map of method {name:?}: MultiAuthenticator looked up the name with its prefix {prefix:?}, hubauth looks it up before adding the prefix, so the prefix is taken off its names"
                    )
                } else {
                    format!(
                        "username_map of method {name:?}: MultiAuthenticator looked up the name with its prefix {prefix:?}, hubauth looks it up before adding the prefix: check its names"
                    )
                },
            );
        }
    }

    /// Writes the names of a method's allowed, blocked and admin users as hub usernames,
    /// the method's prefix in front (MultiAuthenticator compared them without it).
    fn prefix_names(&mut self, method: &mut Method, prefix: &str, name: &str) {
        for entry in &mut method.options {
            if !NAME_SETS.contains(&entry.key) {
                continue;
            }
            let (Value::List(items) | Value::Set(items) | Value::Tuple(items)) = &mut entry.value
            else {
                continue;
            };
            let mut changed = false;
            for item in items.iter_mut() {
                if let Value::Str(user) = item {
                    // An admin name already prefixed is JupyterHub's own check of the
                    // full name; keep it.
                    if entry.key == "admin_users" && user.starts_with(prefix) {
                        continue;
                    }
                    *user = format!("{prefix}{user}");
                    changed = true;
                }
            }
            if changed {
                let (line, key, code) = (entry.line, entry.key, entry.code.clone());
                self.note_code(
                    line,
                    Level::Converted,
                    code,
                    format!(
                        "{key} of method {name:?} written with its username_prefix {prefix:?}: MultiAuthenticator compared these names without it, hubauth's rules name hub usernames"
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::import::{Imported, import_config};

    fn import(source: &str) -> Imported {
        let registry = crate::registry().unwrap();
        import_config(source, &registry).unwrap()
    }

    fn notes(imported: &Imported) -> String {
        imported
            .notes
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn method_names_from_url_prefixes() {
        let none: Vec<String> = Vec::new();
        assert_eq!(method_name("/github", "github", &none), "github");
        assert_eq!(method_name("GitLab/", "gitlab", &none), "gitlab");
        assert_eq!(
            method_name("/auth/Git Hub", "github", &none),
            "auth-git-hub"
        );
        assert_eq!(method_name("/", "github", &none), "github");
        assert_eq!(method_name("/2fa", "dummy", &none), "m-2fa");
        // One of the hub's own paths, and a name taken twice.
        assert_eq!(method_name("/login", "pam", &none), "login-auth");
        let taken = vec!["gh".to_owned(), "gh-2".to_owned()];
        assert_eq!(method_name("/gh", "github", &taken), "gh-3");
        let long = method_name(&"x".repeat(100), "pam", &none);
        assert!(check_method_name(&long).is_ok(), "{long}");
    }

    #[test]
    fn multiauthenticator_names() {
        for name in [
            "multiauthenticator",
            "multiauthenticator.MultiAuthenticator",
            "multiauthenticator.multiauthenticator.MultiAuthenticator",
            "oauthenticator.MultiAuthenticator.MultiAuthenticator",
        ] {
            assert!(is_multi_authenticator(name), "{name}");
        }
        assert!(!is_multi_authenticator("github"));
        assert!(!is_multi_authenticator("multiauthenticator.Other"));
    }

    #[test]
    fn a_list_without_multiauthenticator_selected_is_noted_not_used() {
        let imported = import(concat!(
            "c.JupyterHub.authenticator_class = 'github'\n",
            "c.MultiAuthenticator.authenticators = [('pam', '/pam', {})]\n",
        ));
        assert!(!imported.toml.contains("Hub.logins"), "{}", imported.toml);
        assert!(
            imported.toml.contains("authenticator_class = \"github\""),
            "{}",
            imported.toml
        );
        let notes = notes(&imported);
        assert!(notes.contains("line 2: not converted"), "{notes}");
        assert!(notes.contains("used only when"), "{notes}");
    }

    #[test]
    fn multiauthenticator_without_a_list_converts_no_method() {
        let imported = import("c.JupyterHub.authenticator_class = 'multiauthenticator'\n");
        assert!(!imported.toml.contains("Hub.logins"), "{}", imported.toml);
        assert!(!imported.toml.contains("authenticator_class"));
        let notes = notes(&imported);
        assert!(notes.contains("line 1: not converted"), "{notes}");
    }

    #[test]
    fn odd_entries_are_noted_never_a_panic() {
        let imported = import(concat!(
            "class MyPam(PAMAuthenticator):\n",
            "    login_service = 'PAM'\n",
            "c.JupyterHub.authenticator_class = 'multiauthenticator'\n",
            "c.MultiAuthenticator.authenticators = [\n",
            "    (MyPam, '/pam', {}),\n",
            "    {'authenticator_class': 'github'},\n",
            "    {'authenticator_class': 'github', 'url_prefix': 7},\n",
            "    'github',\n",
            "    ('github', '/gh', os.environ['CONFIG']),\n",
            "    ('github', '/gh', {1: 'x', 'client_id': f'{x}', 'username_prefix': 'a'}),\n",
            "    ('dummy', '/gh', {'password': 'pw', 'auto_login': True}),\n",
            "]\n",
            "c.MultiAuthenticator.authenticators += [('local-github', '/local', {})]\n",
            "c.MultiAuthenticator.username_prefix = None\n",
            "c.Authenticator.auto_login = True\n",
        ));
        assert!(!imported.toml.contains("auto_login"), "{}", imported.toml);
        let table: toml::Table = imported.toml.parse().unwrap();
        let logins = table["Hub"]["logins"].as_array().unwrap();
        let names: Vec<&str> = logins.iter().map(|m| m["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["gh", "gh-2", "gh-3", "local"]);
        // A class hubauth refuses a prefix for gets none; the others keep theirs.
        assert!(logins[3].get("username_prefix").is_none());
        assert_eq!(logins[0]["username_prefix"].as_str(), Some("github:"));
        // The dummy method's password is converted, never echoed.
        assert_eq!(
            logins[2]["options"]["password"].as_str(),
            Some("pw"),
            "{}",
            imported.toml
        );
        let notes = notes(&imported);
        assert!(!notes.contains("'pw'"), "{notes}");
        for (line, piece) in [
            (5, "MyPam"),
            (6, "no url_prefix"),
            (7, "url_prefix must be a string"),
            (8, "must be a tuple"),
            (9, "CONFIG"),
            (10, "not a literal string"),
            (10, "f-string"),
            (10, "username_prefix in an entry's config is ignored"),
            (11, "auto_login holds for the whole hub"),
            (15, "default = true"),
        ] {
            assert!(
                notes
                    .lines()
                    .any(|l| l.starts_with(&format!("line {line}: ")) && l.contains(piece)),
                "no note for line {line} with {piece:?}:\n{notes}"
            );
        }
    }
}
