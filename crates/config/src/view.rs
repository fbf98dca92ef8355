//! Reading resolved option values for one class.
//!
//! A [`ClassView`] answers "what is option X for class C": the value from the most
//! specific class in C's MRO whose table sets X, else from the first of X's environment
//! variables that is set, else X's default.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::Value as Json;

use crate::def::{ClassDef, DefaultValue, OptionDef, OptionType};
use crate::env::Env;
use crate::error::{ConfigError, Location};
use crate::load::{Config, check_value, describe};
use crate::registry::Registry;

/// Where the current value of an option comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The config file, in the table of this class (the class itself or a base).
    File {
        /// The table that sets it.
        table: &'static str,
    },
    /// An environment variable.
    Env {
        /// The variable that sets it.
        var: &'static str,
    },
    /// The option's default.
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { table } => write!(f, "config file, [{table}]"),
            Origin::Env { var } => write!(f, "environment variable {var}"),
            Origin::Default => f.write_str("default"),
        }
    }
}

/// A Rust type an option value can be read as (see [`ClassView::get`]).
///
/// Values reach [`FromOption::from_value`] already checked against the option's
/// [`OptionType`] and normalized as JSON: integers for `Int`, finite numbers for `Float`,
/// arrays of strings for `List`, `Set` (duplicates removed) and `StrOrList` (a single
/// string becomes a one-element array), objects for `Map`, `IntMap` and `Dict`, arrays of
/// objects for `DictList`.
pub trait FromOption: Sized {
    /// What this type holds, for error messages ("a boolean").
    const EXPECTED: &'static str;

    /// Converts a normalized value; `None` when the value does not fit this type.
    fn from_value(value: &Json) -> Option<Self>;
}

impl FromOption for bool {
    const EXPECTED: &'static str = "a boolean";
    fn from_value(value: &Json) -> Option<Self> {
        value.as_bool()
    }
}

impl FromOption for i64 {
    const EXPECTED: &'static str = "an integer";
    fn from_value(value: &Json) -> Option<Self> {
        value.as_i64()
    }
}

impl FromOption for u64 {
    const EXPECTED: &'static str = "a non-negative integer";
    fn from_value(value: &Json) -> Option<Self> {
        value.as_u64()
    }
}

impl FromOption for f64 {
    const EXPECTED: &'static str = "a number";
    fn from_value(value: &Json) -> Option<Self> {
        value.as_f64()
    }
}

impl FromOption for String {
    const EXPECTED: &'static str = "a string";
    fn from_value(value: &Json) -> Option<Self> {
        value.as_str().map(str::to_owned)
    }
}

impl FromOption for Vec<String> {
    const EXPECTED: &'static str = "a list of strings";
    fn from_value(value: &Json) -> Option<Self> {
        match value {
            Json::String(s) => Some(vec![s.clone()]),
            Json::Array(items) => items
                .iter()
                .map(|item| item.as_str().map(str::to_owned))
                .collect(),
            _ => None,
        }
    }
}

impl FromOption for BTreeSet<String> {
    const EXPECTED: &'static str = "a set of strings";
    fn from_value(value: &Json) -> Option<Self> {
        Vec::<String>::from_value(value).map(|items| items.into_iter().collect())
    }
}

impl FromOption for BTreeMap<String, String> {
    const EXPECTED: &'static str = "a table of strings";
    fn from_value(value: &Json) -> Option<Self> {
        value
            .as_object()?
            .iter()
            .map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
            .collect()
    }
}

impl FromOption for BTreeMap<String, i64> {
    const EXPECTED: &'static str = "a table of integers";
    fn from_value(value: &Json) -> Option<Self> {
        value
            .as_object()?
            .iter()
            .map(|(k, v)| v.as_i64().map(|v| (k.clone(), v)))
            .collect()
    }
}

impl FromOption for serde_json::Map<String, Json> {
    const EXPECTED: &'static str = "a table";
    fn from_value(value: &Json) -> Option<Self> {
        value.as_object().cloned()
    }
}

impl FromOption for Vec<Json> {
    const EXPECTED: &'static str = "a list";
    fn from_value(value: &Json) -> Option<Self> {
        value.as_array().cloned()
    }
}

impl FromOption for Json {
    const EXPECTED: &'static str = "any value";
    fn from_value(value: &Json) -> Option<Self> {
        Some(value.clone())
    }
}

/// Where a value was found, before conversion.
enum Found<'c> {
    File {
        table: &'static str,
        value: &'c toml::Value,
    },
    Env {
        var: &'static str,
        raw: String,
    },
    Default,
}

/// The options of one class as a [`Config`] resolves them (see the module docs).
#[derive(Clone)]
pub struct ClassView<'a> {
    config: &'a Config,
    registry: &'a Registry,
    env: &'a dyn Env,
    class: Option<&'static ClassDef>,
    class_name: String,
}

impl fmt::Debug for ClassView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClassView")
            .field("class", &self.class_name)
            .field("source", &self.config.source())
            .finish_non_exhaustive()
    }
}

impl<'a> ClassView<'a> {
    /// A view of class `class_name`. When the class is not registered every getter fails
    /// with [`ConfigError::UnknownOption`].
    pub fn new(
        config: &'a Config,
        registry: &'a Registry,
        class_name: &str,
        env: &'a dyn Env,
    ) -> ClassView<'a> {
        ClassView {
            config,
            registry,
            env,
            class: registry.class(class_name),
            class_name: class_name.to_owned(),
        }
    }

    /// The class name.
    pub fn class_name(&self) -> &str {
        &self.class_name
    }

    /// The class definition, when the class is registered.
    pub fn class(&self) -> Option<&'static ClassDef> {
        self.class
    }

    /// The configuration read.
    pub fn config(&self) -> &'a Config {
        self.config
    }

    /// The registry used.
    pub fn registry(&self) -> &'a Registry {
        self.registry
    }

    /// The environment used.
    pub fn env(&self) -> &'a dyn Env {
        self.env
    }

    /// The effective declaration of option `name` for this class.
    pub fn option(&self, name: &str) -> Result<&'static OptionDef, ConfigError> {
        self.registry
            .option(&self.class_name, name)
            .map(|(_, def)| def)
            .ok_or_else(|| ConfigError::UnknownOption {
                class: self.class_name.to_string(),
                key: name.to_owned(),
            })
    }

    fn lookup(&self, name: &str) -> Result<(&'static OptionDef, Found<'a>), ConfigError> {
        let def = self.option(name)?;
        for class in self.registry.mro(&self.class_name) {
            if let Some(value) = self.config.raw(class.name, name) {
                return Ok((
                    def,
                    Found::File {
                        table: class.name,
                        value,
                    },
                ));
            }
        }
        for var in def.env {
            if let Some(raw) = self.env.var(var) {
                return Ok((def, Found::Env { var, raw }));
            }
        }
        Ok((def, Found::Default))
    }

    /// Whether option `name` is set by the file (for this class or a base) or by one of
    /// its environment variables. False for an unknown option.
    pub fn is_set(&self, name: &str) -> bool {
        matches!(
            self.lookup(name),
            Ok((_, Found::File { .. } | Found::Env { .. }))
        )
    }

    /// Where the current value of option `name` comes from ([`Origin::Default`] for an
    /// unknown option).
    pub fn origin(&self, name: &str) -> Origin {
        match self.lookup(name) {
            Ok((_, Found::File { table, .. })) => Origin::File { table },
            Ok((_, Found::Env { var, .. })) => Origin::Env { var },
            Ok((_, Found::Default)) | Err(_) => Origin::Default,
        }
    }

    /// Where the current value of option `name` comes from, for error messages.
    pub fn location(&self, name: &str) -> Result<Location, ConfigError> {
        let (def, found) = self.lookup(name)?;
        Ok(self.location_of(def, &found))
    }

    fn location_of(&self, def: &OptionDef, found: &Found<'_>) -> Location {
        match found {
            Found::File { table, .. } => Location::File {
                file: self.config.source().to_owned(),
                table: (*table).to_owned(),
                key: def.name.to_owned(),
            },
            Found::Env { var, .. } => Location::Env {
                var: (*var).to_owned(),
                class: self.class_name.to_string(),
                key: def.name.to_owned(),
            },
            Found::Default => Location::Default {
                class: self.class_name.to_string(),
                key: def.name.to_owned(),
            },
        }
    }

    /// An [`ConfigError::InvalidValue`] for option `name`, naming where its current value
    /// comes from (file and table, environment variable, or default).
    ///
    /// For callers that check more than the type (`must be at least 8 characters`).
    /// Never include a secret value in `message`.
    pub fn invalid(&self, name: &str, message: impl fmt::Display) -> ConfigError {
        match self.location(name) {
            Ok(at) => ConfigError::InvalidValue {
                at,
                message: message.to_string(),
            },
            Err(err) => err,
        }
    }

    /// The value of option `name` as JSON, normalized for its type; `None` when it is not
    /// set and its default is computed.
    pub fn value(&self, name: &str) -> Result<Option<Json>, ConfigError> {
        let (def, found) = self.lookup(name)?;
        self.resolve(def, &found)
    }

    fn resolve(&self, def: &OptionDef, found: &Found<'_>) -> Result<Option<Json>, ConfigError> {
        match found {
            Found::File { table, value } => match check_value(def.ty, value, def.secret) {
                Ok(()) => Ok(Some(normalize(def.ty, toml_to_json(value)))),
                Err(found) => Err(ConfigError::WrongType {
                    file: self.config.source().to_owned(),
                    table,
                    key: def.name.to_owned(),
                    expected: def.ty.describe(),
                    found,
                }),
            },
            Found::Env { raw, .. } => {
                env_to_json(def.ty, raw, def.secret)
                    .map(Some)
                    .map_err(|message| ConfigError::InvalidValue {
                        at: self.location_of(def, found),
                        message,
                    })
            }
            Found::Default => {
                match def.default {
                    DefaultValue::Literal(literal) => literal_to_json(def, literal)
                        .map(Some)
                        .map_err(|message| ConfigError::InvalidValue {
                            at: self.location_of(def, found),
                            message,
                        }),
                    DefaultValue::Computed(_) => Ok(None),
                }
            }
        }
    }

    fn convert<T: FromOption>(
        &self,
        def: &OptionDef,
        found: &Found<'_>,
        value: &Json,
    ) -> Result<T, ConfigError> {
        T::from_value(value).ok_or_else(|| ConfigError::InvalidValue {
            at: self.location_of(def, found),
            message: format!(
                "cannot be read as {} (the option holds {})",
                T::EXPECTED,
                def.ty.describe()
            ),
        })
    }

    /// The value of option `name`: from the file, else an environment variable, else the
    /// default. An unset option with a computed default gives the type's empty value
    /// (false, 0, "", empty collections): check [`ClassView::is_set`] or use
    /// [`ClassView::get_opt`] for those.
    pub fn get<T: FromOption>(&self, name: &str) -> Result<T, ConfigError> {
        let (def, found) = self.lookup(name)?;
        let value = match self.resolve(def, &found)? {
            Some(value) => value,
            None => empty_json(def.ty),
        };
        self.convert(def, &found, &value)
    }

    /// Like [`ClassView::get`], but `None` when the option is not set and its default is
    /// computed (the caller computes it).
    pub fn get_opt<T: FromOption>(&self, name: &str) -> Result<Option<T>, ConfigError> {
        let (def, found) = self.lookup(name)?;
        match self.resolve(def, &found)? {
            Some(value) => self.convert(def, &found, &value).map(Some),
            None => Ok(None),
        }
    }
}

impl Registry {
    /// Checks that every literal default of every registered option is valid TOML of the
    /// option's declared type; all problems are reported at once.
    pub fn check_defaults(&self) -> Result<(), ConfigError> {
        let errors = self.classes().iter().flat_map(|class| {
            class
                .options
                .iter()
                .filter_map(move |def| match def.default {
                    DefaultValue::Literal(literal) => {
                        literal_to_json(def, literal).err().map(|message| {
                            ConfigError::InvalidValue {
                                at: Location::Default {
                                    class: class.name.to_owned(),
                                    key: def.name.to_owned(),
                                },
                                message,
                            }
                        })
                    }
                    DefaultValue::Computed(_) => None,
                })
        });
        match ConfigError::from_many(errors) {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

/// Parses a literal default as a TOML value.
pub(crate) fn parse_literal(literal: &str) -> Option<toml::Value> {
    let mut table: toml::Table = format!("value = {literal}").parse().ok()?;
    table.remove("value")
}

/// Parses and checks a literal default.
fn literal_to_json(def: &OptionDef, literal: &str) -> Result<Json, String> {
    let value = parse_literal(literal)
        .ok_or_else(|| format!("the declared default `{literal}` is not a TOML value"))?;
    check_value(def.ty, &value, false).map_err(|_| {
        format!(
            "the declared default `{literal}` is {}, not {}",
            describe(&value, false),
            def.ty.describe()
        )
    })?;
    Ok(normalize(def.ty, toml_to_json(&value)))
}

/// A TOML value as JSON (date-times become strings).
fn toml_to_json(value: &toml::Value) -> Json {
    match value {
        toml::Value::String(s) => Json::String(s.clone()),
        toml::Value::Integer(i) => Json::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(Json::Number)
            .unwrap_or(Json::Null),
        toml::Value::Boolean(b) => Json::Bool(*b),
        toml::Value::Datetime(d) => Json::String(d.to_string()),
        toml::Value::Array(items) => Json::Array(items.iter().map(toml_to_json).collect()),
        toml::Value::Table(table) => Json::Object(
            table
                .iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

/// Brings a type-checked value to the normal form [`FromOption`] expects.
fn normalize(ty: OptionType, value: Json) -> Json {
    match (ty, value) {
        (OptionType::Float, Json::Number(n)) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map(Json::Number)
            .unwrap_or(Json::Null),
        (OptionType::StrOrList, Json::String(s)) => Json::Array(vec![Json::String(s)]),
        (OptionType::Set, Json::Array(items)) => {
            let mut out: Vec<Json> = Vec::with_capacity(items.len());
            for item in items {
                if !out.contains(&item) {
                    out.push(item);
                }
            }
            Json::Array(out)
        }
        (_, value) => value,
    }
}

/// The empty value of a type, for an unset option with a computed default.
fn empty_json(ty: OptionType) -> Json {
    match ty {
        OptionType::Bool => Json::Bool(false),
        OptionType::Int => Json::from(0),
        OptionType::Float => Json::from(0.0),
        OptionType::Str | OptionType::ClaimOrScript => Json::String(String::new()),
        OptionType::List | OptionType::Set | OptionType::StrOrList | OptionType::DictList => {
            Json::Array(Vec::new())
        }
        OptionType::Map | OptionType::IntMap | OptionType::Dict => {
            Json::Object(serde_json::Map::new())
        }
    }
}

/// Converts an environment variable's text to a value of type `ty`.
fn env_to_json(ty: OptionType, raw: &str, secret: bool) -> Result<Json, String> {
    let shown = if secret {
        String::new()
    } else {
        format!(", found {}", crate::load::quote_short(raw))
    };
    match ty {
        OptionType::Bool => match raw.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(Json::Bool(true)),
            "0" | "false" | "no" | "off" | "" => Ok(Json::Bool(false)),
            _ => Err(format!(
                "expected a boolean (1, true, yes, on or 0, false, no, off){shown}"
            )),
        },
        OptionType::Int => raw
            .trim()
            .parse::<i64>()
            .map(Json::from)
            .map_err(|_| format!("expected an integer{shown}")),
        OptionType::Float => raw
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Json::Number)
            .ok_or_else(|| format!("expected a finite number{shown}")),
        OptionType::Str | OptionType::ClaimOrScript => Ok(Json::String(raw.to_owned())),
        OptionType::List | OptionType::Set | OptionType::StrOrList => {
            let items = raw
                .split(';')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| Json::String(item.to_owned()))
                .collect();
            Ok(normalize(ty, Json::Array(items)))
        }
        OptionType::Map | OptionType::IntMap | OptionType::Dict => {
            let what = match ty {
                OptionType::Map => "a JSON object of strings",
                OptionType::IntMap => "a JSON object of integers",
                _ => "a JSON object",
            };
            let parsed: Json = serde_json::from_str(raw)
                .map_err(|err| format!("expected {what}, but it is not valid JSON ({err})"))?;
            let Json::Object(map) = &parsed else {
                return Err(format!(
                    "expected {what}, found JSON {}",
                    json_kind(&parsed)
                ));
            };
            let bad = map.iter().find(|(_, v)| match ty {
                OptionType::Map => !v.is_string(),
                OptionType::IntMap => !v.is_i64(),
                _ => false,
            });
            match bad {
                Some((key, v)) => Err(format!(
                    "expected {what}, but entry `{key}` is {}",
                    json_kind(v)
                )),
                None => Ok(parsed),
            }
        }
        OptionType::DictList => {
            let parsed: Json = serde_json::from_str(raw).map_err(|err| {
                format!("expected a JSON array of objects, but it is not valid JSON ({err})")
            })?;
            match &parsed {
                Json::Array(items) if items.iter().all(Json::is_object) => Ok(parsed),
                _ => Err(format!(
                    "expected a JSON array of objects, found JSON {}",
                    json_kind(&parsed)
                )),
            }
        }
    }
}

fn json_kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}
