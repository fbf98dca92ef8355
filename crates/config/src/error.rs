//! Configuration errors: one sentence each, naming the file, table and key involved.

use std::fmt;

/// Where a value came from, for [`ConfigError::InvalidValue`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// Set in a config file.
    File {
        /// The config file (or other source name given to [`Config::parse`](crate::Config::parse)).
        file: String,
        /// The table it was written in (`Authenticator`).
        table: String,
        /// The option name.
        key: String,
    },
    /// Read from an environment variable.
    Env {
        /// The variable (`OAUTH_CLIENT_ID`).
        var: String,
        /// The class whose option was read.
        class: String,
        /// The option name.
        key: String,
    },
    /// The option's declared default.
    Default {
        /// The class whose option was read.
        class: String,
        /// The option name.
        key: String,
    },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File { file, table, key } => write!(f, "{file}: [{table}] {key}"),
            Location::Env { var, class, key } => {
                write!(f, "environment variable {var} (for {class}.{key})")
            }
            Location::Default { class, key } => write!(f, "{class}.{key} (default value)"),
        }
    }
}

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file cannot be read.
    #[error("{path}: cannot read the config file: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{file}:{line}:{column}: TOML syntax error: {message}")]
    Syntax {
        /// The file.
        file: String,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column (in characters) of the error.
        column: usize,
        /// The parser's description.
        message: String,
    },
    /// A top-level key is not a table: every option belongs in a class table.
    #[error(
        "{file}: `{key}` is set at the top level, but the top level may only contain class tables such as [Authenticator]; move it into the table of the class it configures"
    )]
    NotATable {
        /// The file.
        file: String,
        /// The top-level key.
        key: String,
    },
    /// A table does not name a configurable class.
    #[error("{file}: unknown table [{table}]: no configurable class has this name{}", suggest_table(.suggestion))]
    UnknownTable {
        /// The file.
        file: String,
        /// The table name as written.
        table: String,
        /// The closest class name, when one is reasonably close.
        suggestion: Option<&'static str>,
    },
    /// A key in a class table is not an option of that class.
    #[error("{file}: [{table}] {key}: unknown option{}", unknown_key_hint(.key, .table, .suggestion, .other_classes))]
    UnknownKey {
        /// The file.
        file: String,
        /// The table (class) name.
        table: &'static str,
        /// The key as written.
        key: String,
        /// The closest valid key of this table, when one is reasonably close.
        suggestion: Option<&'static str>,
        /// Other registered classes that have an option of this name.
        other_classes: Vec<&'static str>,
    },
    /// A value in the file has the wrong type.
    #[error("{file}: [{table}] {key}: expected {expected}, found {found}")]
    WrongType {
        /// The file.
        file: String,
        /// The table (class) name.
        table: &'static str,
        /// The key as written.
        key: String,
        /// What the option accepts ([`OptionType::describe`](crate::OptionType::describe)).
        expected: &'static str,
        /// What was found (the value itself is left out for secret options).
        found: String,
    },
    /// A value has the right type but is not acceptable.
    #[error("{at}: {message}")]
    InvalidValue {
        /// Where the value came from.
        at: Location,
        /// Why it is not acceptable.
        message: String,
    },
    /// A table sets both a deprecated name and its replacement, to different values.
    #[error(
        "{file}: [{table}] sets both `{old}` and `{new}`, to different values; `{old}` is a deprecated name for `{new}` (deprecated in {since}): remove `{old}`"
    )]
    ConflictingAlias {
        /// The file.
        file: String,
        /// The table (class) name.
        table: &'static str,
        /// The deprecated name.
        old: &'static str,
        /// The current name.
        new: &'static str,
        /// The release that deprecated it.
        since: &'static str,
    },
    /// A deprecated name whose value cannot be carried over to the new option.
    #[error(
        "{file}: {table}.{old} is deprecated in {since}, use {table}.{new} instead (its type changed, so `{old}` is no longer accepted)"
    )]
    RemovedAlias {
        /// The file.
        file: String,
        /// The table (class) name.
        table: &'static str,
        /// The deprecated name.
        old: &'static str,
        /// The current name.
        new: &'static str,
        /// The release that deprecated it.
        since: &'static str,
    },
    /// Code asked for an option the class does not have (a programming error).
    #[error("{class} has no option `{key}`")]
    UnknownOption {
        /// The class.
        class: String,
        /// The option asked for.
        key: String,
    },
    /// The configuration is valid, but the class cannot run on this machine (a system
    /// library it loads at start-up is missing). Not tied to one option, so it names the
    /// class only.
    #[error("{class} cannot start: {message}")]
    ClassUnavailable {
        /// The class (`PAMAuthenticator`).
        class: &'static str,
        /// What is missing and what to install.
        message: String,
    },
    /// Several errors, each on its own line.
    #[error("{}", list_errors(.0))]
    Multiple(Vec<ConfigError>),
}

/// Keep errors small: `Result<_, ConfigError>` is returned everywhere, and clippy's
/// `result_large_err` fires at 128 bytes.
const _: () = assert!(std::mem::size_of::<ConfigError>() < 128);

impl ConfigError {
    /// Combines collected errors: `None` when there are none, the error itself when there
    /// is one, [`ConfigError::Multiple`] otherwise (nested lists are flattened).
    pub fn from_many(errors: impl IntoIterator<Item = ConfigError>) -> Option<ConfigError> {
        let mut flat = Vec::new();
        for error in errors {
            match error {
                ConfigError::Multiple(inner) => flat.extend(inner),
                other => flat.push(other),
            }
        }
        match flat.len() {
            0 => None,
            1 => flat.pop(),
            _ => Some(ConfigError::Multiple(flat)),
        }
    }

    /// Every single error: the list of a [`ConfigError::Multiple`], or the error itself.
    pub fn errors(&self) -> Vec<&ConfigError> {
        match self {
            ConfigError::Multiple(inner) => inner.iter().flat_map(|e| e.errors()).collect(),
            other => vec![other],
        }
    }
}

fn suggest_table(suggestion: &Option<&'static str>) -> String {
    match suggestion {
        Some(name) => format!("; did you mean [{name}]?"),
        None => String::new(),
    }
}

fn unknown_key_hint(
    key: &str,
    table: &str,
    suggestion: &Option<&'static str>,
    other_classes: &[&'static str],
) -> String {
    let mut out = String::new();
    if !other_classes.is_empty() {
        out.push_str(&format!(
            "; `{key}` is an option of {}, not of {table}",
            other_classes.join(", ")
        ));
    }
    if let Some(suggestion) = suggestion {
        out.push_str(&format!("; did you mean `{suggestion}`?"));
    }
    out
}

fn list_errors(errors: &[ConfigError]) -> String {
    let mut out = format!("{} configuration errors:", errors.len());
    for error in errors {
        for (i, line) in error.to_string().lines().enumerate() {
            out.push('\n');
            out.push_str(if i == 0 { "  - " } else { "    " });
            out.push_str(line);
        }
    }
    out
}
