//! Option and class definitions: the one place each option is described.
//!
//! Every configurable option of every class is declared once as an [`OptionDef`]
//! inside a [`ClassDef`]. Parsing, validation, environment defaults,
//! deprecated aliases, `hubauth generate-config` and the reference docs are all
//! derived from these definitions.

/// The value type an option accepts in the TOML file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionType {
    /// `true` / `false`.
    Bool,
    /// A whole number.
    Int,
    /// A number that may have a fraction (an integer is accepted too).
    Float,
    /// A string.
    Str,
    /// An ordered list of strings.
    List,
    /// A set of strings (written as a TOML array; duplicates are merged).
    Set,
    /// A table whose values are all strings (`username_map`, `uids` as strings...).
    Map,
    /// A table of integers (e.g. `uids`).
    IntMap,
    /// Any TOML table, passed on as JSON (e.g. `extra_authorize_params`).
    Dict,
    /// A list of tables, passed on as JSON (e.g. `load_roles`).
    DictList,
    /// A string or a list of strings (a single string becomes a one-element list).
    StrOrList,
    /// A claim name or dotted path into nested JSON (a string), or a sandboxed script
    /// written as a table `{ script = "..." }` (where upstream takes a Python callable).
    ClaimOrScript,
}

impl OptionType {
    /// A short human name for error messages and generated docs.
    pub fn describe(self) -> &'static str {
        match self {
            OptionType::Bool => "a boolean",
            OptionType::Int => "an integer",
            OptionType::Float => "a number",
            OptionType::Str => "a string",
            OptionType::List => "a list of strings",
            OptionType::Set => "a set of strings",
            OptionType::Map => "a table of strings",
            OptionType::IntMap => "a table of integers",
            OptionType::Dict => "a table",
            OptionType::DictList => "a list of tables",
            OptionType::StrOrList => "a string or a list of strings",
            OptionType::ClaimOrScript => "a claim name or dotted path, or { script = \"...\" }",
        }
    }
}

/// The default of an option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultValue {
    /// A fixed default, written as a TOML literal (`"false"`, `"[]"`, `"\"login\""`, `"300"`).
    Literal(&'static str),
    /// A default computed from other options or the platform; the text explains how.
    Computed(&'static str),
}

/// A deprecated name that still works for an option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deprecated {
    /// The old option name (`whitelist`).
    pub name: &'static str,
    /// The release that deprecated it, as upstream words it (`"JupyterHub 1.2"`).
    pub since: &'static str,
    /// When false the old name is refused with an error instead of mapped with a warning
    /// (upstream's "not the same type" aliases).
    pub same_type: bool,
}

/// One configurable option of one class.
#[derive(Debug, Clone, Copy)]
pub struct OptionDef {
    /// The option name as written in the TOML table (`allowed_users`).
    pub name: &'static str,
    /// What the value must be.
    pub ty: OptionType,
    /// The default when neither the file nor an environment variable sets it.
    pub default: DefaultValue,
    /// Help text: first line is a summary; the rest is shown in generate-config.
    pub help: &'static str,
    /// Environment variables consulted when the file does not set the option,
    /// most specific first (`["AAD_TENANT_ID"]`, `["OAUTH_CLIENT_ID"]`).
    pub env: &'static [&'static str],
    /// Deprecated names accepted for this option.
    pub deprecated: &'static [Deprecated],
    /// Whether the value is a secret: never echoed in errors, logs or generated output.
    pub secret: bool,
}

impl OptionDef {
    /// A plain option with no environment variable, alias or secrecy.
    pub const fn new(
        name: &'static str,
        ty: OptionType,
        default: DefaultValue,
        help: &'static str,
    ) -> Self {
        OptionDef {
            name,
            ty,
            default,
            help,
            env: &[],
            deprecated: &[],
            secret: false,
        }
    }

    /// Adds environment variables, most specific first.
    pub const fn env(mut self, env: &'static [&'static str]) -> Self {
        self.env = env;
        self
    }

    /// Adds deprecated aliases.
    pub const fn deprecated(mut self, deprecated: &'static [Deprecated]) -> Self {
        self.deprecated = deprecated;
        self
    }

    /// Marks the option as holding a secret.
    pub const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }
}

/// A configurable class: one TOML table.
#[derive(Debug, Clone, Copy)]
pub struct ClassDef {
    /// The class name and table name (`DummyAuthenticator`).
    pub name: &'static str,
    /// Direct base classes in Python MRO order (`["LocalAuthenticator", "GenericOAuthenticator"]`).
    pub bases: &'static [&'static str],
    /// One-paragraph description for generate-config.
    pub help: &'static str,
    /// Options this class declares itself (inherited ones are not repeated).
    /// A class may re-declare an inherited option to change its default or help.
    pub options: &'static [OptionDef],
}
