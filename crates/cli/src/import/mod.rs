//! `hubauth import-config`: turns the authenticator part of a `jupyterhub_config.py` into
//! `hubauth.toml`, without executing it.
//!
//! The file is tokenized and parsed as Python syntax; only top-level assignments of
//! literals to `c.Class.option` (and their `+=`, `.append`, `.add`, `.extend`, `.update`
//! and `[key] =` forms) are converted, each checked against the option registry. Everything
//! else is reported as a [`Note`] with its line number and what to do instead.

mod lexer;
mod multi;
mod parse;

use std::collections::BTreeMap;
use std::fmt;

use hubauth_config::{DefaultValue, OptionDef, OptionType, Registry};

use self::lexer::{LogicalLine, Tok, Token};
use self::parse::{Expr, Parser};

/// Why a file cannot be converted at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// The file is not valid Python (Python itself would refuse to run it).
    #[error("line {line}: {message}")]
    Syntax {
        /// The line.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// How serious a [`Note`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// The line was not converted: the operator has to act.
    NotConverted,
    /// Converted, with a change worth knowing (a deprecated name, a dropped `None`).
    Converted,
    /// Ignored on purpose (imports, `get_config()`), nothing to do.
    Ignored,
}

/// One remark about one line of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The (first) line of the statement, 1-based.
    pub line: usize,
    /// How serious it is.
    pub level: Level,
    /// The statement as written (shortened; left out when it holds a secret).
    pub code: Option<String>,
    /// What happened and what to do instead.
    pub message: String,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            Level::NotConverted => "not converted",
            Level::Converted => "converted",
            Level::Ignored => "ignored",
        };
        write!(f, "line {}: {level}: ", self.line)?;
        if let Some(code) = &self.code {
            write!(f, "`{code}`: ")?;
        }
        f.write_str(&self.message)
    }
}

/// The result of an import: the TOML text and the remarks, in line order.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The configuration file for hubauth.
    pub toml: String,
    /// What was not converted, or converted with a change.
    pub notes: Vec<Note>,
}

impl Imported {
    /// The notes that need the operator's attention.
    pub fn not_converted(&self) -> impl Iterator<Item = &Note> {
        self.notes
            .iter()
            .filter(|note| note.level == Level::NotConverted)
    }
}

/// A literal value of the Python file.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    None,
    List(Vec<Value>),
    Tuple(Vec<Value>),
    Set(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    /// A class named by a bare or dotted name (`AzureAdOAuthenticator`).
    Class(String),
}

/// Why an expression is not a literal.
#[derive(Debug, Clone, PartialEq)]
enum NotLiteral {
    /// `os.environ["X"]`, `os.environ.get("X", d)`, `os.getenv("X")`.
    Env { var: String, default: Option<Value> },
    /// A function, lambda or other callable.
    Callable(String),
    /// Anything else, described.
    Other(String),
}

type Eval = Result<Value, NotLiteral>;

/// One converted option.
struct Entry {
    table: &'static str,
    key: &'static str,
    def: &'static OptionDef,
    value: Value,
    line: usize,
    code: Option<String>,
}

/// Where a `c.Class.option` goes.
enum Target {
    Option {
        table: &'static str,
        def: &'static OptionDef,
    },
    AuthenticatorClass,
    Skip(Level, String),
}

struct Importer<'a> {
    registry: &'a Registry,
    source_lines: Vec<&'a str>,
    config_names: Vec<String>,
    variables: BTreeMap<String, Eval>,
    functions: BTreeMap<String, usize>,
    imported: BTreeMap<String, String>,
    entries: Vec<Entry>,
    authenticator: Option<(&'static str, usize)>,
    notes: Vec<Note>,
    /// `MultiAuthenticator`'s configuration, turned into `[[Hub.logins]]` at the end.
    multi: multi::Multi,
    /// The last line of the statement being converted.
    statement_end: usize,
    /// The tokens of the statement being converted.
    statement_tokens: Vec<Token>,
}

/// Converts the text of a `jupyterhub_config.py`.
pub fn import_config(source: &str, registry: &Registry) -> Result<Imported, ImportError> {
    let lines = lexer::logical_lines(source)?;
    let mut importer = Importer {
        registry,
        source_lines: source.lines().collect(),
        config_names: vec!["c".to_owned()],
        variables: BTreeMap::new(),
        functions: BTreeMap::new(),
        imported: BTreeMap::new(),
        entries: Vec::new(),
        authenticator: None,
        notes: Vec::new(),
        multi: multi::Multi::default(),
        statement_end: 0,
        statement_tokens: Vec::new(),
    };
    let mut index = 0;
    while index < lines.len() {
        let line = &lines[index];
        let block_end = lines[index + 1..]
            .iter()
            .position(|next| next.indent <= line.indent)
            .map_or(lines.len(), |offset| index + 1 + offset);
        if line.indent > 0 {
            importer.note(
                line.first_line,
                Level::NotConverted,
                "indented code outside any block; Python would refuse it".to_owned(),
            );
            index = block_end;
            continue;
        }
        if is_compound(&line.tokens) {
            importer.block(line, &lines[index + 1..block_end]);
            index = block_end;
            continue;
        }
        for statement in split_statements(&line.tokens) {
            importer.statement(statement, line);
        }
        index += 1;
    }
    let toml = importer.render();
    let mut notes = importer.notes;
    notes.sort_by_key(|note| note.line);
    Ok(Imported { toml, notes })
}

fn is_compound(tokens: &[Token]) -> bool {
    matches!(
        tokens.first().map(|t| &t.kind),
        Some(Tok::Name(n)) if matches!(
            n.as_str(),
            "if" | "elif" | "else" | "for" | "while" | "def" | "class" | "with" | "try"
                | "except" | "finally" | "async" | "match"
        )
    ) || matches!(tokens.first().map(|t| &t.kind), Some(Tok::Op(o)) if o == "@")
}

fn split_statements(tokens: &[Token]) -> Vec<&[Token]> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, token) in tokens.iter().enumerate() {
        if let Tok::Op(op) = &token.kind {
            match op.as_str() {
                "(" | "[" | "{" => depth += 1,
                ")" | "]" | "}" => depth = depth.saturating_sub(1),
                ";" if depth == 0 => {
                    if i > start {
                        out.push(&tokens[start..i]);
                    }
                    start = i + 1;
                }
                _ => {}
            }
        }
    }
    if start < tokens.len() {
        out.push(&tokens[start..]);
    }
    out
}

/// `c.Class.option` as (class, option).
fn config_path(expr: &Expr, config_names: &[String]) -> Option<(String, String)> {
    let Expr::Attr(inner, option) = expr else {
        return None;
    };
    let Expr::Attr(root, class) = inner.as_ref() else {
        return None;
    };
    match root.as_ref() {
        Expr::Name(name) if config_names.contains(name) => Some((class.clone(), option.clone())),
        _ => None,
    }
}

fn dotted(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Name(name) => Some(name.clone()),
        Expr::Attr(inner, attr) => dotted(inner).map(|prefix| format!("{prefix}.{attr}")),
        _ => None,
    }
}

/// Classes whose settings belong to JupyterHub's other parts, not to logging in.
fn is_spawner_or_proxy(class: &str) -> bool {
    class.ends_with("Spawner")
        || class.ends_with("Proxy")
        || matches!(
            class,
            "Spawner" | "ServerApp" | "NotebookApp" | "SingleUserNotebookApp" | "Application"
        )
}

impl Importer<'_> {
    fn note(&mut self, line: usize, level: Level, message: String) {
        self.notes.push(Note {
            line,
            level,
            code: None,
            message,
        });
    }

    /// Notes `line` with its code (see [`Self::code`]).
    fn note_line(&mut self, line: usize, level: Level, message: String) {
        let code = self.code(line);
        self.note_code(line, level, code, message);
    }

    fn note_code(&mut self, line: usize, level: Level, code: Option<String>, message: String) {
        self.notes.push(Note {
            line,
            level,
            code,
            message,
        });
    }

    /// The first physical line of a statement, shortened, for messages.
    fn code(&self, line: usize) -> Option<String> {
        let text = self.source_lines.get(line.checked_sub(1)?)?.trim();
        let text = text.split(" #").next().unwrap_or(text).trim();
        let short: String = text.chars().take(72).collect();
        Some(if short.len() < text.len() {
            format!("{short}...")
        } else {
            short
        })
    }

    fn block(&mut self, header: &LogicalLine, body: &[LogicalLine]) {
        let last = body.last().map_or(header.last_line, |l| l.last_line);
        let keyword = match header.tokens.first().map(|t| &t.kind) {
            Some(Tok::Name(n)) => n.clone(),
            _ => "decorated".to_owned(),
        };
        let range = if last > header.first_line {
            format!("lines {}-{}", header.first_line, last)
        } else {
            format!("line {}", header.first_line)
        };
        if keyword == "def" || (keyword == "async" && Self::is_def(header)) {
            let name = header.tokens.iter().find_map(|t| match &t.kind {
                Tok::Name(n) if n != "def" && n != "async" => Some(n.clone()),
                _ => None,
            });
            let name = name.unwrap_or_default();
            self.functions.insert(name.clone(), header.first_line);
            self.variables.remove(&name);
            self.note(
                header.first_line,
                Level::NotConverted,
                format!(
                    "function `{name}` ({range}) is Python code, which hubauth never runs; where it is used, write it as a Rhai script (`post_auth_hook = '''...'''`, `username_claim = {{ script = \"...\" }}`) or use a dotted claim path"
                ),
            );
            return;
        }
        let sets: Vec<String> = std::iter::once(header)
            .chain(body)
            .flat_map(|line| {
                line.tokens.windows(5).filter_map(|w| match w {
                    [
                        Token {
                            kind: Tok::Name(root),
                            ..
                        },
                        Token {
                            kind: Tok::Op(d1), ..
                        },
                        Token {
                            kind: Tok::Name(class),
                            ..
                        },
                        Token {
                            kind: Tok::Op(d2), ..
                        },
                        Token {
                            kind: Tok::Name(option),
                            ..
                        },
                    ] if self.config_names.contains(root) && d1 == "." && d2 == "." => {
                        Some(format!("{root}.{class}.{option}"))
                    }
                    _ => None,
                })
            })
            .collect();
        let mut unique: Vec<String> = Vec::new();
        for item in sets {
            if !unique.contains(&item) {
                unique.push(item);
            }
        }
        let what = if unique.is_empty() {
            String::new()
        } else {
            format!(" (it sets {})", unique.join(", "))
        };
        self.note(
            header.first_line,
            Level::NotConverted,
            format!(
                "`{keyword}` block ({range}){what}: hubauth does not run Python, so conditions and loops are not evaluated; write the values that apply to this deployment in hubauth.toml"
            ),
        );
    }

    fn is_def(header: &LogicalLine) -> bool {
        matches!(header.tokens.get(1).map(|t| &t.kind), Some(Tok::Name(n)) if n == "def")
    }

    fn statement(&mut self, tokens: &[Token], line: &LogicalLine) {
        let first_line = tokens.first().map_or(line.first_line, |t| t.line);
        self.statement_end = line.last_line;
        self.statement_tokens = tokens.to_vec();
        match tokens.first().map(|t| &t.kind) {
            Some(Tok::Name(kw)) if kw == "import" || kw == "from" => {
                self.import(tokens, first_line);
                return;
            }
            Some(Tok::Name(kw))
                if matches!(
                    kw.as_str(),
                    "pass" | "global" | "nonlocal" | "assert" | "del" | "raise" | "return"
                ) =>
            {
                if kw != "pass" {
                    self.note_line(
                        first_line,
                        Level::NotConverted,
                        format!("a `{kw}` statement is Python code, which hubauth never runs"),
                    );
                }
                return;
            }
            _ => {}
        }
        // Find the assignment operator at bracket depth 0.
        let mut depth = 0usize;
        let mut splits = Vec::new();
        let mut augmented = None;
        let mut annotation = None;
        for (i, token) in tokens.iter().enumerate() {
            if let Tok::Op(op) = &token.kind {
                match op.as_str() {
                    "(" | "[" | "{" => depth += 1,
                    ")" | "]" | "}" => depth = depth.saturating_sub(1),
                    "=" if depth == 0 => splits.push(i),
                    ":" if depth == 0 && splits.is_empty() && annotation.is_none() => {
                        annotation = Some(i);
                    }
                    op if depth == 0
                        && augmented.is_none()
                        && splits.is_empty()
                        && op.len() >= 2
                        && op.ends_with('=')
                        && !matches!(op, "==" | "!=" | "<=" | ">=") =>
                    {
                        augmented = Some((i, op.to_owned()));
                    }
                    _ => {}
                }
            }
        }
        if let Some((at, op)) = augmented {
            let target = self.parse_part(&tokens[..at], first_line);
            let value = self.parse_part(&tokens[at + 1..], first_line);
            if let (Some(target), Some(value)) = (target, value) {
                self.augmented(&target, &op, &value, first_line);
            }
            return;
        }
        if splits.is_empty() {
            if let Some(expr) = self.parse_part(tokens, first_line) {
                self.expression_statement(&expr, first_line);
            }
            return;
        }
        let value_start = splits.last().map_or(0, |s| s + 1);
        let Some(value) = self.parse_part(&tokens[value_start..], first_line) else {
            return;
        };
        let mut start = 0;
        for split in splits {
            let end = annotation
                .filter(|a| *a < split && *a >= start)
                .unwrap_or(split);
            if let Some(target) = self.parse_part(&tokens[start..end], first_line) {
                self.assign(&target, &value, first_line);
            }
            start = split + 1;
        }
    }

    fn parse_part(&mut self, tokens: &[Token], line: usize) -> Option<Expr> {
        let mut parser = Parser::new(tokens);
        let result = parser.expression_list();
        match result {
            Ok(expr) if parser.at_end() => Some(expr),
            Ok(_) => {
                self.note_line(line, Level::NotConverted,
                    "not a statement hubauth can read (only `c.Class.option = literal` and simple variables are converted)".to_owned(),
                );
                None
            }
            Err(failure) => {
                self.note_line(
                    line,
                    Level::NotConverted,
                    format!("cannot read this statement ({})", failure.0),
                );
                None
            }
        }
    }

    fn import(&mut self, tokens: &[Token], line: usize) {
        // `from oauthenticator.azuread import AzureAdOAuthenticator as Azure`
        let names: Vec<&str> = tokens
            .iter()
            .filter_map(|t| match &t.kind {
                Tok::Name(n) => Some(n.as_str()),
                _ => None,
            })
            .collect();
        if names.first() == Some(&"from")
            && let Some(import_at) = names.iter().position(|n| *n == "import")
        {
            let module = names[1..import_at].join(".");
            let mut i = import_at + 1;
            while i < names.len() {
                let name = names[i];
                let alias = if names.get(i + 1) == Some(&"as") {
                    i += 2;
                    names.get(i).copied().unwrap_or(name)
                } else {
                    name
                };
                self.imported
                    .insert(alias.to_owned(), format!("{module}.{name}"));
                self.variables.remove(alias);
                i += 1;
            }
        }
        self.note_line(
            line,
            Level::Ignored,
            "hubauth does not import Python modules; nothing to do".to_owned(),
        );
    }

    fn expression_statement(&mut self, expr: &Expr, line: usize) {
        if matches!(expr, Expr::Str(_) | Expr::FStr(_)) {
            // A docstring or a string used as a comment.
            return;
        }
        if let Expr::Call { func, args, kwargs } = expr {
            if matches!(func.as_ref(), Expr::Name(n) if n == "get_config") {
                return;
            }
            if let Expr::Attr(target, method) = func.as_ref()
                && let Some((class, option)) = config_path(target, &self.config_names)
                && kwargs.is_empty()
                && args.len() == 1
            {
                let op = match method.as_str() {
                    "append" | "add" => Some("item"),
                    "extend" | "update" => Some("merge"),
                    _ => None,
                };
                if let Some(op) = op {
                    if class == multi::CLASS {
                        self.multi_set(&option, op, &args[0], line);
                        return;
                    }
                    let value = self.eval(&args[0]);
                    self.mutate(&class, &option, op, value, line);
                    return;
                }
            }
            if let Some(name) = dotted(func) {
                let message = if name == "load_subconfig" || name == "c.load_subconfig" {
                    "a sub-config file is not followed; run `hubauth import-config` on it too and merge the tables".to_owned()
                } else {
                    format!("a call to `{name}` is Python code, which hubauth never runs")
                };
                self.note_line(line, Level::NotConverted, message);
                return;
            }
        }
        self.note_line(line, Level::NotConverted,
            "a statement that is not an assignment; hubauth converts only `c.Class.option = literal`".to_owned(),
        );
    }

    fn assign(&mut self, target: &Expr, value: &Expr, line: usize) {
        match target {
            Expr::Name(name) => {
                if matches!(value, Expr::Call { func, .. } if matches!(func.as_ref(), Expr::Name(n) if n == "get_config"))
                {
                    if !self.config_names.contains(name) {
                        self.config_names.push(name.clone());
                    }
                    return;
                }
                let evaluated = self.eval(value);
                self.functions.remove(name);
                self.variables.insert(name.clone(), evaluated);
            }
            Expr::Subscript(inner, key) => {
                if let Some((class, option)) = config_path(inner, &self.config_names) {
                    let key = self.eval(key);
                    let value = self.eval(value);
                    let pair = match (key, value) {
                        (Ok(key), Ok(value)) => Ok(Value::Dict(vec![(key, value)])),
                        (Err(err), _) | (_, Err(err)) => Err(err),
                    };
                    self.mutate(&class, &option, "merge", pair, line);
                } else {
                    self.not_config(target, line);
                }
            }
            Expr::Tuple(targets) => {
                self.note_line(line, Level::NotConverted,
                    format!(
                        "unpacking into {} names is not converted; assign each option on its own line",
                        targets.len()
                    ),
                );
            }
            _ => match config_path(target, &self.config_names) {
                Some((class, option)) if class == multi::CLASS => {
                    self.multi_set(&option, "set", value, line);
                }
                Some((class, option)) => {
                    let value = self.eval(value);
                    self.set(&class, &option, value, line);
                }
                None => self.not_config(target, line),
            },
        }
    }

    fn not_config(&mut self, target: &Expr, line: usize) {
        let what = dotted(target).unwrap_or_else(|| "this target".to_owned());
        let message = if matches!(target, Expr::Attr(inner, _) if matches!(inner.as_ref(), Expr::Name(n) if self.config_names.contains(n)))
        {
            format!("`{what}` sets a whole class at once; write its options one by one")
        } else {
            format!(
                "an assignment to `{what}`, which is not a `c.Class.option`; hubauth converts only those"
            )
        };
        self.note_line(line, Level::NotConverted, message);
    }

    fn augmented(&mut self, target: &Expr, op: &str, value: &Expr, line: usize) {
        match config_path(target, &self.config_names) {
            Some((class, option)) if class == multi::CLASS && op == "+=" => {
                self.multi_set(&option, "merge", value, line);
            }
            Some((class, option)) if matches!(op, "+=" | "|=") => {
                let value = self.eval(value);
                self.mutate(&class, &option, "merge", value, line);
            }
            _ => {
                self.note_line(line, Level::NotConverted,
                    format!("`{op}` on this target is Python code, which hubauth never runs; write the resulting value"),
                );
            }
        }
    }

    fn eval(&self, expr: &Expr) -> Eval {
        let all = |items: &[Expr]| -> Result<Vec<Value>, NotLiteral> {
            items.iter().map(|item| self.eval(item)).collect()
        };
        match expr {
            Expr::Str(s) => Ok(Value::Str(s.clone())),
            Expr::FStr(_) => Err(NotLiteral::Other(
                "an f-string with `{...}` placeholders, which would need Python to fill in"
                    .to_owned(),
            )),
            Expr::Bytes => Err(NotLiteral::Other("a bytes literal (`b\"...\"`)".to_owned())),
            Expr::Int(i) => Ok(Value::Int(*i)),
            Expr::Float(f) => Ok(Value::Float(*f)),
            Expr::Bool(b) => Ok(Value::Bool(*b)),
            Expr::None => Ok(Value::None),
            Expr::List(items) => all(items).map(Value::List),
            Expr::Tuple(items) => all(items).map(Value::Tuple),
            Expr::Set(items) => all(items).map(Value::Set),
            Expr::Dict(pairs) => pairs
                .iter()
                .map(|(k, v)| Ok((self.eval(k)?, self.eval(v)?)))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Dict),
            Expr::Name(name) => {
                if let Some(value) = self.variables.get(name) {
                    return value.clone();
                }
                if self.functions.contains_key(name) {
                    return Err(NotLiteral::Callable(format!("the function `{name}`")));
                }
                if let Some(path) = self.imported.get(name) {
                    return Ok(Value::Class(path.clone()));
                }
                if crate::catalog::lookup(name).is_ok() {
                    return Ok(Value::Class(name.clone()));
                }
                Err(NotLiteral::Other(format!(
                    "the name `{name}`, which is not a literal assigned earlier in this file"
                )))
            }
            Expr::Attr(..) => match dotted(expr) {
                Some(path) if crate::catalog::lookup(&path).is_ok() => Ok(Value::Class(path)),
                Some(path) => Err(NotLiteral::Other(format!(
                    "`{path}`, which needs Python to look up"
                ))),
                None => Err(NotLiteral::Other(
                    "an attribute of an expression".to_owned(),
                )),
            },
            Expr::Call { func, args, kwargs } => self.eval_call(func, args, kwargs),
            Expr::Subscript(inner, key) => {
                let path = dotted(inner).unwrap_or_default();
                if matches!(path.as_str(), "os.environ" | "environ")
                    && let Ok(Value::Str(var)) = self.eval(key)
                {
                    return Err(NotLiteral::Env { var, default: None });
                }
                Err(NotLiteral::Other(
                    "an item looked up with `[...]`".to_owned(),
                ))
            }
            Expr::Lambda => Err(NotLiteral::Callable("a `lambda`".to_owned())),
            Expr::Comprehension => Err(NotLiteral::Other(
                "a comprehension (`[... for ... in ...]`)".to_owned(),
            )),
            Expr::Binary(op, left, right) => {
                let (left, right) = (self.eval(left)?, self.eval(right)?);
                match (op.as_str(), left, right) {
                    ("+", Value::Str(a), Value::Str(b)) => Ok(Value::Str(a + b.as_str())),
                    ("+", Value::List(mut a), Value::List(b)) => {
                        a.extend(b);
                        Ok(Value::List(a))
                    }
                    ("+", Value::Tuple(mut a), Value::Tuple(b)) => {
                        a.extend(b);
                        Ok(Value::Tuple(a))
                    }
                    ("|", Value::Set(mut a), Value::Set(b)) => {
                        a.extend(b);
                        Ok(Value::Set(a))
                    }
                    ("*", Value::Int(a), Value::Int(b)) => a
                        .checked_mul(b)
                        .map(Value::Int)
                        .ok_or_else(|| NotLiteral::Other("a number too large".to_owned())),
                    ("+", Value::Int(a), Value::Int(b)) => a
                        .checked_add(b)
                        .map(Value::Int)
                        .ok_or_else(|| NotLiteral::Other("a number too large".to_owned())),
                    (op, _, _) => Err(NotLiteral::Other(format!(
                        "an expression with `{op}`, which needs Python to compute"
                    ))),
                }
            }
            Expr::Unary(op, operand) => match (op.as_str(), self.eval(operand)?) {
                ("-", Value::Int(i)) => Ok(Value::Int(i.saturating_neg())),
                ("-", Value::Float(f)) => Ok(Value::Float(-f)),
                ("+", value @ (Value::Int(_) | Value::Float(_))) => Ok(value),
                (op, _) => Err(NotLiteral::Other(format!(
                    "an expression with `{op}`, which needs Python to compute"
                ))),
            },
            Expr::Other(what) => Err(NotLiteral::Other((*what).to_owned())),
        }
    }

    fn eval_call(&self, func: &Expr, args: &[Expr], kwargs: &[(String, Expr)]) -> Eval {
        let name = dotted(func).unwrap_or_default();
        match name.as_str() {
            "os.environ.get" | "environ.get" | "os.getenv" | "getenv" => {
                if let Some(Ok(Value::Str(var))) = args.first().map(|a| self.eval(a)) {
                    let default = args
                        .get(1)
                        .or_else(|| kwargs.iter().find(|(k, _)| k == "default").map(|(_, v)| v))
                        .and_then(|d| self.eval(d).ok());
                    return Err(NotLiteral::Env { var, default });
                }
                Err(NotLiteral::Other(
                    "an environment variable whose name is computed".to_owned(),
                ))
            }
            "set" | "frozenset" | "list" | "tuple" if kwargs.is_empty() && args.len() <= 1 => {
                let items = match args.first().map(|a| self.eval(a)).transpose()? {
                    None => Vec::new(),
                    Some(Value::List(items) | Value::Tuple(items) | Value::Set(items)) => items,
                    Some(Value::Dict(pairs)) => pairs.into_iter().map(|(k, _)| k).collect(),
                    Some(Value::Str(s)) => s.chars().map(|c| Value::Str(c.to_string())).collect(),
                    Some(_) => {
                        return Err(NotLiteral::Other(format!(
                            "`{name}(...)` of something that is not a collection"
                        )));
                    }
                };
                Ok(match name.as_str() {
                    "list" => Value::List(items),
                    "tuple" => Value::Tuple(items),
                    _ => Value::Set(items),
                })
            }
            "dict" if args.len() <= 1 => {
                let mut pairs = match args.first().map(|a| self.eval(a)).transpose()? {
                    None => Vec::new(),
                    Some(Value::Dict(pairs)) => pairs,
                    Some(_) => {
                        return Err(NotLiteral::Other(
                            "`dict(...)` of something that is not a dict".to_owned(),
                        ));
                    }
                };
                for (key, value) in kwargs {
                    pairs.push((Value::Str(key.clone()), self.eval(value)?));
                }
                Ok(Value::Dict(pairs))
            }
            "" => Err(NotLiteral::Other("a call".to_owned())),
            _ if self.functions.contains_key(&name) => Err(NotLiteral::Other(format!(
                "a call to the function `{name}`, which needs Python to run"
            ))),
            _ => Err(NotLiteral::Other(format!(
                "a call to `{name}`, which needs Python to run"
            ))),
        }
    }

    /// Where `c.Class.option` goes in hubauth.toml, with notes for renamed options.
    fn target(&mut self, class: &str, option: &str, line: usize) -> Target {
        if class == "JupyterHub" {
            if option == "authenticator_class" {
                return Target::AuthenticatorClass;
            }
            if let Some((_, def)) = self.registry.option("Hub", option) {
                return Target::Option { table: "Hub", def };
            }
            let advice = match option {
                "ip" | "port" => {
                    "hubauth listens where `[Hub] bind_url` says (for example bind_url = \"http://0.0.0.0:8000\"); set it there"
                }
                "spawner_class"
                | "hub_ip"
                | "hub_port"
                | "hub_bind_url"
                | "hub_connect_ip"
                | "hub_connect_url"
                | "services"
                | "proxy_class"
                | "cleanup_servers"
                | "allow_named_servers"
                | "named_server_limit_per_user"
                | "load_groups"
                | "load_roles"
                | "admin_access"
                | "shutdown_on_logout"
                | "concurrent_spawn_limit"
                | "active_server_limit"
                | "internal_ssl"
                | "api_tokens"
                | "cookie_secret" => {
                    "a JupyterHub setting that is not about logging in; keep it in jupyterhub_config.py if JupyterHub still runs, hubauth does not need it"
                }
                _ => {
                    "not a setting hubauth has; keep it in jupyterhub_config.py if JupyterHub still runs"
                }
            };
            return Target::Skip(Level::NotConverted, advice.to_owned());
        }
        let Some(class_def) = self.registry.class(class) else {
            if is_spawner_or_proxy(class) {
                return Target::Skip(
                    Level::NotConverted,
                    format!(
                        "{class} settings are about starting servers, not logging in; they stay in jupyterhub_config.py (hubauth does not spawn anything)"
                    ),
                );
            }
            if class.ends_with("Authenticator") {
                let available: Vec<&str> = crate::catalog::ENTRIES
                    .iter()
                    .map(|entry| entry.class)
                    .collect();
                return Target::Skip(
                    Level::NotConverted,
                    format!(
                        "{class} is not available in this build of hubauth (available: {}); GenericOAuthenticator can log in with most OAuth 2.0 providers",
                        available.join(", ")
                    ),
                );
            }
            return Target::Skip(
                Level::NotConverted,
                format!("{class} is not a class hubauth knows; it is not about logging in"),
            );
        };
        if let Some((_, def)) = self.registry.option(class_def.name, option) {
            return Target::Option {
                table: class_def.name,
                def,
            };
        }
        if let Some((_, def, alias)) = self.registry.deprecated_option(class_def.name, option) {
            if !alias.same_type {
                return Target::Skip(
                    Level::NotConverted,
                    format!(
                        "{class}.{option} was removed in {}; set {} instead (its type changed)",
                        alias.since, def.name
                    ),
                );
            }
            self.note(
                line,
                Level::Converted,
                format!(
                    "{class}.{option} is deprecated since {}; written as `{}`",
                    alias.since, def.name
                ),
            );
            return Target::Option {
                table: class_def.name,
                def,
            };
        }
        let declaring: Vec<&str> = self
            .registry
            .classes_declaring(option)
            .into_iter()
            .map(|c| c.name)
            .collect();
        let hint = if declaring.is_empty() {
            "hubauth has no such option".to_owned()
        } else {
            format!("hubauth has it on {}, not on {class}", declaring.join(", "))
        };
        Target::Skip(Level::NotConverted, format!("{class}.{option}: {hint}"))
    }

    fn not_literal_message(def: Option<&OptionDef>, why: &NotLiteral) -> String {
        match why {
            NotLiteral::Env { var, default } => {
                let reads_it = def.is_some_and(|def| def.env.contains(&var.as_str()));
                let fallback = match (default, def.is_some_and(|d| d.secret)) {
                    (Some(value), false) => {
                        format!(" (the file falls back to {})", describe_value(value))
                    }
                    _ => String::new(),
                };
                if reads_it {
                    format!(
                        "reads the environment variable {var}{fallback}; hubauth reads {var} itself for this option, so keep it set in hubauth's environment (for example `Environment=` or `EnvironmentFile=` in the systemd unit)"
                    )
                } else {
                    let own = def
                        .filter(|d| !d.env.is_empty())
                        .map(|d| format!(" (it reads {} for it)", d.env.join(" or ")))
                        .unwrap_or_default();
                    format!(
                        "reads the environment variable {var}{fallback}; hubauth does not expand environment variables in its config file{own}: write the value into hubauth.toml, or set the variable hubauth reads"
                    )
                }
            }
            NotLiteral::Callable(what) => {
                let script = match def.map(|d| d.ty) {
                    Some(OptionType::ClaimOrScript) => format!(
                        " write `{} = {{ script = \"...\" }}` (a Rhai script that sees the user info) or a dotted claim path such as \"realm_access.roles\"",
                        def.map_or("", |d| d.name)
                    ),
                    _ if def.is_some_and(|d| d.name.ends_with("hook")) => format!(
                        " write `{} = '''...'''` as a Rhai script (see docs/guide/03-login-rules.md, post_auth_hook)",
                        def.map_or("", |d| d.name)
                    ),
                    _ => " write the value it would produce".to_owned(),
                };
                format!("{what} is Python code, which hubauth never runs;{script}")
            }
            NotLiteral::Other(what) => {
                format!("{what}; hubauth converts only literals: write the value it stands for")
            }
        }
    }

    /// The part of a literal that `pick` takes out of it (it gives back any other value),
    /// or `None` once the line is noted as not converted: the value is not a literal, or
    /// not the kind `wanted` names ("template_vars must be a dict").
    fn literal_of<T>(
        &mut self,
        value: Eval,
        line: usize,
        wanted: &str,
        pick: impl FnOnce(Value) -> Result<T, Value>,
    ) -> Option<T> {
        let message = match value.map(pick) {
            Ok(Ok(found)) => return Some(found),
            Ok(Err(other)) => format!("{wanted}, not {}", describe_value(&other)),
            Err(why) => Self::not_literal_message(None, &why),
        };
        self.note_line(line, Level::NotConverted, message);
        None
    }

    /// Records a converted option (its code is not shown for secrets).
    fn push_entry(
        &mut self,
        table: &'static str,
        def: &'static OptionDef,
        value: Value,
        line: usize,
    ) {
        let code = if def.secret { None } else { self.code(line) };
        self.entries.push(Entry {
            table,
            key: def.name,
            def,
            value,
            line,
            code,
        });
    }

    fn set(&mut self, class: &str, option: &str, value: Eval, line: usize) {
        if class == "JupyterHub" && option == "template_vars" {
            self.template_vars(value, line);
            return;
        }
        match self.target(class, option, line) {
            Target::AuthenticatorClass => self.authenticator_class(value, line),
            Target::Skip(level, message) => {
                self.note_line(line, level, message);
            }
            Target::Option { table, def } => {
                self.entries
                    .retain(|entry| !(entry.table == table && entry.key == def.name));
                match value {
                    Ok(value) => self.push_entry(table, def, value, line),
                    Err(why) => {
                        let message = Self::not_literal_message(Some(def), &why);
                        let code = if def.secret {
                            Some(format!("c.{class}.{option} = ..."))
                        } else {
                            self.code(line)
                        };
                        self.note_code(line, Level::NotConverted, code, message);
                    }
                }
            }
        }
    }

    /// `c.JupyterHub.template_vars`: its `announcement` becomes `[Hub] announcement`.
    fn template_vars(&mut self, value: Eval, line: usize) {
        let Some(pairs) =
            self.literal_of(
                value,
                line,
                "template_vars must be a dict",
                |value| match value {
                    Value::Dict(pairs) => Ok(pairs),
                    other => Err(other),
                },
            )
        else {
            return;
        };
        let mut others = Vec::new();
        for (key, item) in pairs {
            match (key, item) {
                (Value::Str(key), Value::Str(text)) if key == "announcement" => {
                    if let Some((_, def)) = self.registry.option("Hub", "announcement") {
                        self.entries
                            .retain(|entry| !(entry.table == "Hub" && entry.key == def.name));
                        self.push_entry("Hub", def, Value::Str(text), line);
                    }
                }
                (Value::Str(key), _) => others.push(key),
                (other, _) => others.push(describe_value(&other)),
            }
        }
        if !others.is_empty() {
            self.note_line(
                line,
                Level::NotConverted,
                format!(
                    "template_vars {} are not used by hubauth's pages; put such text in a custom template (`[Hub] template_paths`); `announcement` becomes `[Hub] announcement` (shown as text, not HTML)",
                    others.join(", ")
                ),
            );
        }
    }

    fn mutate(&mut self, class: &str, option: &str, how: &str, value: Eval, line: usize) {
        let (table, def) = match self.target(class, option, line) {
            Target::Option { table, def } => (table, def),
            Target::AuthenticatorClass => {
                self.note_line(
                    line,
                    Level::NotConverted,
                    "authenticator_class cannot be appended to".to_owned(),
                );
                return;
            }
            Target::Skip(level, message) => {
                self.note_line(line, level, message);
                return;
            }
        };
        let value = match value {
            Ok(value) => value,
            Err(why) => {
                let message = Self::not_literal_message(Some(def), &why);
                let code = if def.secret { None } else { self.code(line) };
                self.note_code(line, Level::NotConverted, code, message);
                return;
            }
        };
        let position = self
            .entries
            .iter()
            .position(|entry| entry.table == table && entry.key == def.name);
        let current =
            match position {
                Some(i) => self.entries.remove(i).value,
                None => match default_value(def) {
                    Some(value) => value,
                    None => {
                        self.note_line(line, Level::NotConverted,
                        format!(
                            "adds to {}'s default, which hubauth computes; write the whole value",
                            def.name
                        ),
                    );
                        return;
                    }
                },
            };
        let merged = match (how, current, value) {
            ("item", Value::List(mut items), item) => {
                items.push(item);
                Ok(Value::List(items))
            }
            ("item", Value::Set(mut items), item) => {
                items.push(item);
                Ok(Value::Set(items))
            }
            ("item", Value::Tuple(mut items), item) => {
                items.push(item);
                Ok(Value::Tuple(items))
            }
            (
                "merge",
                Value::List(mut items) | Value::Set(mut items) | Value::Tuple(mut items),
                Value::List(more) | Value::Set(more) | Value::Tuple(more),
            ) => {
                items.extend(more);
                Ok(Value::List(items))
            }
            ("merge", Value::Dict(mut pairs), Value::Dict(more)) => {
                for (key, value) in more {
                    pairs.retain(|(k, _)| *k != key);
                    pairs.push((key, value));
                }
                Ok(Value::Dict(pairs))
            }
            _ => Err(()),
        };
        match merged {
            Ok(value) => self.push_entry(table, def, value, line),
            Err(()) => {
                self.note_line(
                    line,
                    Level::NotConverted,
                    format!(
                        "cannot add this to {}, which is {}",
                        def.name,
                        def.ty.describe()
                    ),
                );
            }
        }
    }

    fn authenticator_class(&mut self, value: Eval, line: usize) {
        let Some(name) = self.literal_of(
            value,
            line,
            "authenticator_class must name a class",
            |value| match value {
                Value::Str(name) | Value::Class(name) => Ok(name),
                other => Err(other),
            },
        ) else {
            return;
        };
        self.multi.selected = None;
        if multi::is_multi_authenticator(&name) {
            self.authenticator = None;
            self.multi.selected = Some(line);
            return;
        }
        match crate::catalog::lookup(&name) {
            Ok(entry) => {
                let short = entry.aliases.first().copied().unwrap_or(entry.class);
                self.authenticator = Some((short, line));
            }
            Err(message) => {
                self.authenticator = None;
                self.note_line(
                    line,
                    Level::NotConverted,
                    format!(
                        "{message}; hubauth.toml is written without it (hubauth's default is pam)"
                    ),
                );
            }
        }
    }

    fn render(&mut self) -> String {
        let mut out = String::from(
            "# hubauth configuration, converted from a JupyterHub config by `hubauth import-config`.\n\
             # Lines that could not be converted were listed on standard error.\n\
             # Check it with `hubauth check-config hubauth.toml`.\n",
        );
        let mut tables: BTreeMap<&'static str, Vec<(String, usize)>> = BTreeMap::new();
        if let Some((short, line)) = self.authenticator {
            tables.entry("Hub").or_default().push((
                format!(
                    "authenticator_class = {}",
                    toml::Value::String(short.to_owned())
                ),
                line,
            ));
        }
        self.multi_hub_wide();
        let entries = std::mem::take(&mut self.entries);
        for entry in &entries {
            if let Some(mut text) = self.render_entry(entry) {
                if entry.def.name == "db_url" {
                    text = format!(
                        "# hubauth keeps its own tables: use a database of its own, not JupyterHub's.\n{text}"
                    );
                }
                tables
                    .entry(entry.table)
                    .or_default()
                    .push((text, entry.line));
            }
        }
        self.entries = entries;
        for class in self.registry.classes() {
            let Some(lines) = tables.get(class.name) else {
                continue;
            };
            let mut sorted = lines.clone();
            sorted.sort_by_key(|(_, line)| *line);
            out.push_str(&format!("\n[{}]\n", class.name));
            for (text, line) in sorted {
                out.push_str(&format!("{text}  # line {line}\n"));
            }
        }
        out.push_str(&self.render_logins());
        out
    }

    /// `key = value` for a converted option, or `None` once noted (a `None`, a mismatch).
    fn render_entry(&mut self, entry: &Entry) -> Option<String> {
        match convert(entry.def, &entry.value) {
            Ok(Some(value)) => Some(format!("{} = {}", entry.key, render_value(&value, true))),
            Ok(None) => {
                self.note_code(
                    entry.line,
                    Level::Converted,
                    entry.code.clone(),
                    format!("None leaves {} at hubauth's default", entry.key),
                );
                None
            }
            Err(found) => {
                self.note_code(
                    entry.line,
                    Level::NotConverted,
                    entry.code.clone(),
                    format!(
                        "{} must be {} in hubauth, but this is {found}",
                        entry.key,
                        entry.def.ty.describe()
                    ),
                );
                None
            }
        }
    }
}

/// The default of an option as a value, when it is a literal.
fn default_value(def: &OptionDef) -> Option<Value> {
    let DefaultValue::Literal(text) = def.default else {
        return None;
    };
    let parsed: toml::Table = format!("v = {text}").parse().ok()?;
    from_toml(parsed.get("v")?)
}

fn from_toml(value: &toml::Value) -> Option<Value> {
    Some(match value {
        toml::Value::String(s) => Value::Str(s.clone()),
        toml::Value::Integer(i) => Value::Int(*i),
        toml::Value::Float(f) => Value::Float(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Array(items) => {
            Value::List(items.iter().map(from_toml).collect::<Option<Vec<_>>>()?)
        }
        toml::Value::Table(table) => Value::Dict(
            table
                .iter()
                .map(|(k, v)| Some((Value::Str(k.clone()), from_toml(v)?)))
                .collect::<Option<Vec<_>>>()?,
        ),
        toml::Value::Datetime(_) => return None,
    })
}

fn describe_value(value: &Value) -> String {
    match value {
        Value::Str(s) => format!("the string {}", toml::Value::String(s.clone())),
        Value::Int(i) => format!("the integer {i}"),
        Value::Float(f) => format!("the number {f}"),
        Value::Bool(b) => (if *b { "True" } else { "False" }).to_owned(),
        Value::None => "None".to_owned(),
        Value::List(_) => "a list".to_owned(),
        Value::Tuple(_) => "a tuple".to_owned(),
        Value::Set(_) => "a set".to_owned(),
        Value::Dict(_) => "a dict".to_owned(),
        Value::Class(name) => format!("the class {name}"),
    }
}

/// Converts a value for an option; `Ok(None)` for `None` (the option keeps its default).
/// Options whose upstream trait takes integers where hubauth keeps decimal strings:
/// GitLab's `gitlab_api_version` is a `CUnicode` (upstream casts `4` to `"4"`), and its
/// `allowed_project_ids` an untyped `Set` that upstream's own tests fill with integers.
/// Everywhere else an integer where a string belongs stays a mismatch, because upstream
/// would never match it against a string either.
const INTEGERS_AS_STRINGS: &[&str] = &["gitlab_api_version", "allowed_project_ids"];

fn convert(def: &OptionDef, value: &Value) -> Result<Option<toml::Value>, String> {
    let mismatch = || describe_value(value);
    if *value == Value::None {
        return Ok(None);
    }
    let ints_as_strings = INTEGERS_AS_STRINGS.contains(&def.name);
    let strings = |items: &[Value], dedupe: bool| -> Result<toml::Value, String> {
        let mut out: Vec<toml::Value> = Vec::new();
        for item in items {
            let text = match item {
                Value::Str(s) => Some(s.clone()),
                Value::Int(i) if ints_as_strings => Some(i.to_string()),
                _ => None,
            };
            match text {
                Some(s) => {
                    let v = toml::Value::String(s);
                    if !(dedupe && out.contains(&v)) {
                        out.push(v);
                    }
                }
                None => {
                    return Err(format!("a collection holding {}", describe_value(item)));
                }
            }
        }
        Ok(toml::Value::Array(out))
    };
    let converted = match (def.ty, value) {
        (OptionType::Bool, Value::Bool(b)) => toml::Value::Boolean(*b),
        (OptionType::Int, Value::Int(i)) => toml::Value::Integer(*i),
        (OptionType::Float, Value::Int(i)) => toml::Value::Integer(*i),
        (OptionType::Float, Value::Float(f)) if f.is_finite() => toml::Value::Float(*f),
        (OptionType::Str | OptionType::StrOrList | OptionType::ClaimOrScript, Value::Str(s)) => {
            toml::Value::String(s.clone())
        }
        (OptionType::Str, Value::Int(i)) if ints_as_strings => toml::Value::String(i.to_string()),
        (OptionType::List | OptionType::StrOrList, Value::List(items) | Value::Tuple(items)) => {
            strings(items, false)?
        }
        (OptionType::Set, Value::List(items) | Value::Tuple(items) | Value::Set(items))
        | (OptionType::List | OptionType::StrOrList, Value::Set(items)) => strings(items, true)?,
        (OptionType::Map, Value::Dict(pairs)) => {
            let mut table = toml::Table::new();
            for (key, item) in pairs {
                match (key, item) {
                    (Value::Str(k), Value::Str(v)) => {
                        table.insert(k.clone(), toml::Value::String(v.clone()));
                    }
                    _ => return Err("a dict that is not all strings".to_owned()),
                }
            }
            toml::Value::Table(table)
        }
        (OptionType::IntMap, Value::Dict(pairs)) => {
            let mut table = toml::Table::new();
            for (key, item) in pairs {
                match (key, item) {
                    (Value::Str(k), Value::Int(v)) => {
                        table.insert(k.clone(), toml::Value::Integer(*v));
                    }
                    _ => {
                        return Err("a dict that is not strings mapped to integers".to_owned());
                    }
                }
            }
            toml::Value::Table(table)
        }
        (OptionType::Dict, Value::Dict(_)) => generic(value)?,
        (OptionType::DictList, Value::List(items) | Value::Tuple(items)) => {
            let mut out = Vec::new();
            for item in items {
                match item {
                    Value::Dict(_) => out.push(generic(item)?),
                    other => {
                        return Err(format!("a list holding {}", describe_value(other)));
                    }
                }
            }
            toml::Value::Array(out)
        }
        _ => return Err(mismatch()),
    };
    Ok(Some(converted))
}

/// Any literal as TOML (for `Dict` options, passed on as JSON).
fn generic(value: &Value) -> Result<toml::Value, String> {
    Ok(match value {
        Value::Str(s) => toml::Value::String(s.clone()),
        Value::Int(i) => toml::Value::Integer(*i),
        Value::Float(f) if f.is_finite() => toml::Value::Float(*f),
        Value::Float(_) => return Err("a number that is not finite".to_owned()),
        Value::Bool(b) => toml::Value::Boolean(*b),
        Value::None => {
            return Err("a dict holding None (TOML has no null: leave that key out)".to_owned());
        }
        Value::List(items) | Value::Tuple(items) | Value::Set(items) => {
            toml::Value::Array(items.iter().map(generic).collect::<Result<_, _>>()?)
        }
        Value::Dict(pairs) => {
            let mut table = toml::Table::new();
            for (key, item) in pairs {
                let Value::Str(key) = key else {
                    return Err(format!(
                        "a dict with {} as a key (TOML keys are strings)",
                        describe_value(key)
                    ));
                };
                table.insert(key.clone(), generic(item)?);
            }
            toml::Value::Table(table)
        }
        Value::Class(name) => return Err(format!("the class {name}")),
    })
}

/// A TOML value written inline; long top-level arrays get one item per line.
fn render_value(value: &toml::Value, top: bool) -> String {
    match value {
        toml::Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(|v| render_value(v, false)).collect();
            let one_line = format!("[{}]", parts.join(", "));
            if top && one_line.len() > 72 && !parts.is_empty() {
                let mut out = String::from("[\n");
                for part in parts {
                    out.push_str(&format!("    {part},\n"));
                }
                out.push(']');
                out
            } else {
                one_line
            }
        }
        toml::Value::Table(table) => {
            if table.is_empty() {
                return "{}".to_owned();
            }
            let parts: Vec<String> = table
                .iter()
                .map(|(k, v)| format!("{} = {}", render_key(k), render_value(v, false)))
                .collect();
            format!("{{ {} }}", parts.join(", "))
        }
        toml::Value::String(s) if s.contains('\n') => {
            // A multi-line string reads best as a multi-line literal, when it can be one.
            if !s.contains("'''") && !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
                format!("'''\n{s}'''")
            } else {
                value.to_string()
            }
        }
        other => other.to_string(),
    }
}

fn render_key(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        key.to_owned()
    } else {
        toml::Value::String(key.to_owned()).to_string()
    }
}
