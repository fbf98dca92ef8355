//! Reading and validating a config file.
//!
//! [`Config::load`] and [`Config::parse`] read TOML with one table per class and check it
//! against a [`Registry`] before anything uses it: unknown tables and keys, wrong types and
//! deprecated names are all reported at once, so nothing starts half-configured.

use std::collections::BTreeMap;
use std::path::Path;

use crate::def::{ClassDef, OptionDef, OptionType};
use crate::env::Env;
use crate::error::ConfigError;
use crate::registry::Registry;
use crate::view::ClassView;

/// The source name of a [`Config::empty`] configuration.
const NO_FILE: &str = "<no config file>";

/// A validated configuration: one table of option values per class.
///
/// Values set with a deprecated name are stored under the current name. Read resolved
/// values for one class through [`Config::view`].
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    source: String,
    tables: BTreeMap<String, toml::Table>,
    warnings: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config::empty()
    }
}

impl Config {
    /// A configuration that sets nothing: every option comes from the environment or its
    /// default.
    pub fn empty() -> Config {
        Config {
            source: NO_FILE.to_owned(),
            tables: BTreeMap::new(),
            warnings: Vec::new(),
        }
    }

    /// Reads and validates the TOML file at `path`.
    ///
    /// Errors name the file; see [`Config::parse`] for what is checked.
    pub fn load(path: &Path, registry: &Registry) -> Result<Config, ConfigError> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|err| ConfigError::Io {
            path: source.clone(),
            source: err,
        })?;
        Config::parse(&text, &source, registry)
    }

    /// Parses and validates TOML `text`; `source` names it in messages (usually the path).
    ///
    /// Every problem is collected: the top level must hold only tables named after
    /// registered classes; each key must be an effective option of its class (or a
    /// deprecated name of one) with a value of the right type. Deprecated names are mapped
    /// to the current name with a warning (see [`Config::warnings`]), or refused when their
    /// type changed. One problem is returned as itself, several as
    /// [`ConfigError::Multiple`].
    pub fn parse(text: &str, source: &str, registry: &Registry) -> Result<Config, ConfigError> {
        let doc: toml::Table = text
            .parse()
            .map_err(|err: toml::de::Error| syntax_error(&err, text, source))?;
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let mut tables = BTreeMap::new();
        for (name, value) in doc {
            let toml::Value::Table(table) = value else {
                errors.push(ConfigError::NotATable {
                    file: source.to_owned(),
                    key: name,
                });
                continue;
            };
            let Some(class) = registry.class(&name) else {
                let suggestion = closest(&name, registry.classes().iter().map(|c| c.name));
                errors.push(ConfigError::UnknownTable {
                    file: source.to_owned(),
                    table: name,
                    suggestion,
                });
                continue;
            };
            let checked = check_table(source, class, table, registry, &mut errors, &mut warnings);
            tables.insert(name, checked);
        }
        if let Some(error) = ConfigError::from_many(errors) {
            return Err(error);
        }
        Ok(Config {
            source: source.to_owned(),
            tables,
            warnings,
        })
    }

    /// Warnings found while loading (deprecated option names), in the order found.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The name of the file (or other source) the configuration was read from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The validated tables, by class name; deprecated names already mapped.
    pub fn tables(&self) -> &BTreeMap<String, toml::Table> {
        &self.tables
    }

    /// The value `table` sets for `key`, if any (no inheritance).
    pub fn raw(&self, table: &str, key: &str) -> Option<&toml::Value> {
        self.tables.get(table).and_then(|t| t.get(key))
    }

    /// Sets `table.key` programmatically (for embedding and demos), replacing any value.
    ///
    /// The value is not checked here; a value of the wrong type is reported when it is
    /// read through a [`ClassView`].
    pub fn set(&mut self, table: &str, key: &str, value: toml::Value) {
        self.tables
            .entry(table.to_owned())
            .or_default()
            .insert(key.to_owned(), value);
    }

    /// This configuration with one more instance of class `class` layered on top: the
    /// options in `options` (checked as a class table would be, with deprecated names
    /// mapped and warned about) override what the class tables give that class, except
    /// that a set (`Set` option) adds to the inherited one, so that a rule written for
    /// every instance (`[Authenticator] blocked_users`) still holds for each.
    ///
    /// `instance` names the instance in errors and warnings (`[Hub.logins] "staff"`).
    /// Used for several login methods of one class side by side.
    pub fn with_instance(
        &self,
        registry: &Registry,
        class: &'static ClassDef,
        instance: &str,
        options: toml::Table,
    ) -> Result<Config, ConfigError> {
        let source = format!("{} ({instance})", self.source);
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let checked = check_table(
            &source,
            class,
            options,
            registry,
            &mut errors,
            &mut warnings,
        );
        if let Some(error) = ConfigError::from_many(errors) {
            return Err(error);
        }
        let mut layered = self.clone();
        layered.warnings.extend(warnings);
        for (key, value) in checked {
            let inherited = registry
                .mro(class.name)
                .into_iter()
                .find_map(|owner| self.raw(owner.name, &key).cloned());
            let is_set = registry
                .option(class.name, &key)
                .is_some_and(|(_, def)| def.ty == OptionType::Set);
            let value = match (is_set, inherited, value) {
                (true, Some(toml::Value::Array(mut items)), toml::Value::Array(more)) => {
                    for item in more {
                        if !items.contains(&item) {
                            items.push(item);
                        }
                    }
                    toml::Value::Array(items)
                }
                (_, _, value) => value,
            };
            layered.set(class.name, &key, value);
        }
        Ok(layered)
    }

    /// Removes `table.key`, returning the value it had.
    pub fn unset(&mut self, table: &str, key: &str) -> Option<toml::Value> {
        self.tables.get_mut(table).and_then(|t| t.remove(key))
    }

    /// The options of class `class_name` as this configuration resolves them, with
    /// environment variables from `env`.
    pub fn view<'a>(
        &'a self,
        registry: &'a Registry,
        class_name: &str,
        env: &'a dyn Env,
    ) -> ClassView<'a> {
        ClassView::new(self, registry, class_name, env)
    }
}

/// Turns a TOML parse error into [`ConfigError::Syntax`] with a 1-based line and column.
fn syntax_error(err: &toml::de::Error, text: &str, source: &str) -> ConfigError {
    let offset = err.span().map(|span| span.start).unwrap_or(0);
    let (line, column) = line_column(text, offset);
    ConfigError::Syntax {
        file: source.to_owned(),
        line,
        column,
        message: err
            .message()
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Checks one class table; returns it with deprecated names mapped.
fn check_table(
    file: &str,
    class: &'static ClassDef,
    table: toml::Table,
    registry: &Registry,
    errors: &mut Vec<ConfigError>,
    warnings: &mut Vec<String>,
) -> toml::Table {
    let options = registry.options_of(class.name);
    let mut out = toml::Table::new();
    let mut aliased = Vec::new();
    for (key, value) in table {
        if let Some((_, def)) = options.iter().find(|(_, def)| def.name == key) {
            match check_value(def.ty, &value, def.secret) {
                Ok(()) => {
                    out.insert(key, value);
                }
                Err(found) => errors.push(wrong_type(file, class.name, &key, def, found)),
            }
            continue;
        }
        let alias = options.iter().find_map(|(_, def)| {
            def.deprecated
                .iter()
                .find(|alias| alias.name == key)
                .map(|alias| (def, alias))
        });
        if let Some((def, alias)) = alias {
            if !alias.same_type {
                errors.push(ConfigError::RemovedAlias {
                    file: file.to_owned(),
                    table: class.name,
                    old: alias.name,
                    new: def.name,
                    since: alias.since,
                });
                continue;
            }
            match check_value(def.ty, &value, def.secret) {
                Ok(()) => aliased.push((*def, alias, value)),
                Err(found) => errors.push(wrong_type(file, class.name, &key, def, found)),
            }
            continue;
        }
        let other_classes: Vec<&'static str> = registry
            .classes_declaring(&key)
            .into_iter()
            .map(|c| c.name)
            .collect();
        let suggestion = if other_classes.is_empty() {
            let candidates = options.iter().flat_map(|(_, def)| {
                std::iter::once(def.name).chain(def.deprecated.iter().map(|alias| alias.name))
            });
            closest(&key, candidates)
        } else {
            None
        };
        errors.push(ConfigError::UnknownKey {
            file: file.to_owned(),
            table: class.name,
            key,
            suggestion,
            other_classes,
        });
    }
    for (def, alias, value) in aliased {
        match out.get(def.name) {
            Some(existing) if *existing != value => {
                errors.push(ConfigError::ConflictingAlias {
                    file: file.to_owned(),
                    table: class.name,
                    old: alias.name,
                    new: def.name,
                    since: alias.since,
                });
            }
            existing => {
                warnings.push(format!(
                    "{table}.{old} is deprecated in {since}, use {table}.{new} instead",
                    table = class.name,
                    old = alias.name,
                    since = alias.since,
                    new = def.name,
                ));
                if existing.is_none() {
                    out.insert(def.name.to_owned(), value);
                }
            }
        }
    }
    out
}

fn wrong_type(
    file: &str,
    table: &'static str,
    key: &str,
    def: &OptionDef,
    found: String,
) -> ConfigError {
    ConfigError::WrongType {
        file: file.to_owned(),
        table,
        key: key.to_owned(),
        expected: def.ty.describe(),
        found,
    }
}

/// Checks that `value` fits `ty`; on failure returns a description of what was found
/// (without the value itself when `secret`).
pub(crate) fn check_value(ty: OptionType, value: &toml::Value, secret: bool) -> Result<(), String> {
    use toml::Value as V;
    let all = |items: &[V], ok: fn(&V) -> bool| -> Result<(), String> {
        match items.iter().find(|item| !ok(item)) {
            Some(bad) => Err(format!("an array containing {}", describe(bad, secret))),
            None => Ok(()),
        }
    };
    let all_values = |table: &toml::Table, ok: fn(&V) -> bool| -> Result<(), String> {
        match table.iter().find(|(_, item)| !ok(item)) {
            Some((key, bad)) => Err(format!(
                "a table whose entry `{key}` is {}",
                describe(bad, secret)
            )),
            None => Ok(()),
        }
    };
    let is_str: fn(&V) -> bool = |v| v.is_str();
    match (ty, value) {
        (OptionType::Bool, V::Boolean(_))
        | (OptionType::Int | OptionType::Float, V::Integer(_))
        | (OptionType::Str | OptionType::StrOrList | OptionType::ClaimOrScript, V::String(_))
        | (OptionType::Dict, V::Table(_)) => Ok(()),
        (OptionType::ClaimOrScript, V::Table(table)) => match (table.len(), table.get("script")) {
            (1, Some(V::String(_))) => Ok(()),
            _ => Err("a table other than { script = \"...\" }".to_owned()),
        },
        (OptionType::Float, V::Float(f)) if f.is_finite() => Ok(()),
        (OptionType::Float, V::Float(_)) => Err(format!(
            "a number that is not finite{}",
            if secret {
                String::new()
            } else {
                format!(" ({value})")
            }
        )),
        (OptionType::List | OptionType::Set | OptionType::StrOrList, V::Array(items)) => {
            all(items, is_str)
        }
        (OptionType::DictList, V::Array(items)) => all(items, |v| v.is_table()),
        (OptionType::Map, V::Table(table)) => all_values(table, is_str),
        (OptionType::IntMap, V::Table(table)) => all_values(table, |v| v.is_integer()),
        _ => Err(describe(value, secret)),
    }
}

/// "a string \"abc\"", "an integer (3)", ...; the value is left out when `secret`.
pub(crate) fn describe(value: &toml::Value, secret: bool) -> String {
    use toml::Value as V;
    let kind = match value {
        V::String(_) => "a string",
        V::Integer(_) => "an integer",
        V::Float(_) => "a float",
        V::Boolean(_) => "a boolean",
        V::Datetime(_) => "a date-time",
        V::Array(items) if items.is_empty() => "an empty array",
        V::Array(_) => "an array",
        V::Table(_) => "a table",
    };
    if secret {
        return kind.to_owned();
    }
    match value {
        V::String(s) => format!("{kind} {}", quote_short(s)),
        V::Datetime(d) => format!("{kind} ({d})"),
        V::Integer(_) | V::Float(_) | V::Boolean(_) => format!("{kind} ({value})"),
        V::Array(_) | V::Table(_) => kind.to_owned(),
    }
}

/// A string as a TOML literal, shortened when long.
pub(crate) fn quote_short(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() > MAX {
        let head: String = s.chars().take(MAX).collect();
        format!("{}...", toml::Value::String(head))
    } else {
        toml::Value::String(s.to_owned()).to_string()
    }
}

/// The candidate closest to `name`, when it is reasonably close (for "did you mean"
/// hints: a misspelt key, table or class name).
pub fn closest<'c>(name: &str, candidates: impl Iterator<Item = &'c str>) -> Option<&'c str> {
    let lower = name.to_lowercase();
    let mut best: Option<(f64, &str)> = None;
    for candidate in candidates {
        let cand_lower = candidate.to_lowercase();
        let edit = strsim::normalized_damerau_levenshtein(&lower, &cand_lower);
        let jw = strsim::jaro_winkler(&lower, &cand_lower);
        let close = edit >= 0.7 || jw >= 0.9;
        if !close {
            continue;
        }
        let score = edit.max(jw);
        if best.is_none_or(|(s, _)| score > s) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_from_one() {
        let text = "a = 1\nbé = x\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        // after "bé " (é is two bytes)
        assert_eq!(line_column(text, 10), (2, 4));
    }

    #[test]
    fn closest_is_picky() {
        let names = ["allowed_users", "admin_users", "allow_all"];
        assert_eq!(
            closest("alowed_users", names.iter().copied()),
            Some("allowed_users")
        );
        assert_eq!(closest("zzz", names.iter().copied()), None);
        assert_eq!(closest("frobnicate", names.iter().copied()), None);
    }
}
