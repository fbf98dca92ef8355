//! A tokenizer for the subset of Python that JupyterHub config files are written in.
//!
//! It follows Python's lexical rules closely enough to find statements reliably: comments,
//! explicit (`\`) and implicit (open brackets) line joining, every string form (single,
//! double and triple quotes, `r`/`b`/`u`/`f` prefixes, escapes), numbers and operators.
//! Nothing is ever evaluated.

use super::ImportError;

/// One token with the line it starts on (1-based).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token {
    /// What it is.
    pub kind: Tok,
    /// The line it starts on.
    pub line: usize,
}

/// The kinds of token.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// An identifier or keyword.
    Name(String),
    /// A number literal as written.
    Number(String),
    /// A string literal.
    Str(StrLit),
    /// An operator or delimiter (`=`, `+=`, `(`, `.`, ...).
    Op(String),
    /// The end of a logical line.
    Newline,
}

/// A decoded string literal.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct StrLit {
    /// The decoded text (for f-strings: the raw text between the quotes).
    pub value: String,
    /// An f-string.
    pub f: bool,
    /// A bytes literal.
    pub bytes: bool,
}

/// One logical line: its indentation and tokens (the final `Newline` left out).
#[derive(Debug, Clone)]
pub(super) struct LogicalLine {
    /// Columns of indentation of its first token.
    pub indent: usize,
    /// Its tokens.
    pub tokens: Vec<Token>,
    /// The physical line it starts on.
    pub first_line: usize,
    /// The physical line it ends on.
    pub last_line: usize,
}

const THREE_CHAR_OPS: &[&str] = &["**=", "//=", ">>=", "<<=", "..."];
const TWO_CHAR_OPS: &[&str] = &[
    "->", ":=", "==", "!=", "<=", ">=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "@=", "**",
    "//", "<<", ">>",
];

/// Splits Python source into logical lines of tokens.
pub(super) fn logical_lines(source: &str) -> Result<Vec<LogicalLine>, ImportError> {
    let chars: Vec<char> = source.replace("\r\n", "\n").chars().collect();
    let mut lexer = Lexer {
        chars: &chars,
        pos: 0,
        line: 1,
    };
    let mut lines = Vec::new();
    let mut current: Vec<Token> = Vec::new();
    let mut indent = 0usize;
    let mut at_line_start = true;
    let mut column = 0usize;
    let mut depth = 0usize;
    let mut last_line = 1usize;
    while let Some(c) = lexer.peek(0) {
        if at_line_start {
            match c {
                ' ' => {
                    column += 1;
                    lexer.pos += 1;
                    continue;
                }
                '\t' => {
                    column = (column / 8 + 1) * 8;
                    lexer.pos += 1;
                    continue;
                }
                '\x0c' => {
                    column = 0;
                    lexer.pos += 1;
                    continue;
                }
                _ => {}
            }
        }
        match c {
            '#' => {
                while let Some(c) = lexer.peek(0) {
                    if c == '\n' {
                        break;
                    }
                    lexer.pos += 1;
                }
            }
            '\n' => {
                lexer.pos += 1;
                lexer.line += 1;
                if depth == 0 {
                    if !current.is_empty() {
                        lines.push(LogicalLine {
                            indent,
                            first_line: current.first().map_or(lexer.line - 1, |t| t.line),
                            last_line,
                            tokens: std::mem::take(&mut current),
                        });
                    }
                    at_line_start = true;
                    column = 0;
                }
            }
            '\\' if matches!(lexer.peek(1), Some('\n'))
                || (lexer.peek(1) == Some('\r') && lexer.peek(2) == Some('\n')) =>
            {
                lexer.pos += if lexer.peek(1) == Some('\r') { 3 } else { 2 };
                lexer.line += 1;
            }
            ' ' | '\t' | '\r' | '\x0c' => lexer.pos += 1,
            _ => {
                if at_line_start {
                    at_line_start = false;
                    if current.is_empty() {
                        indent = column;
                    }
                }
                let line = lexer.line;
                let kind = lexer.token()?;
                if let Tok::Op(op) = &kind {
                    match op.as_str() {
                        "(" | "[" | "{" => depth += 1,
                        ")" | "]" | "}" => depth = depth.saturating_sub(1),
                        _ => {}
                    }
                }
                last_line = lexer.line;
                current.push(Token { kind, line });
            }
        }
    }
    if depth > 0 {
        return Err(ImportError::Syntax {
            line: current.first().map_or(lexer.line, |t| t.line),
            message: "a bracket opened here is never closed".to_owned(),
        });
    }
    if !current.is_empty() {
        lines.push(LogicalLine {
            indent,
            first_line: current.first().map_or(lexer.line, |t| t.line),
            last_line,
            tokens: current,
        });
    }
    Ok(lines)
}

struct Lexer<'a> {
    chars: &'a [char],
    pos: usize,
    line: usize,
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn token(&mut self) -> Result<Tok, ImportError> {
        let Some(c) = self.peek(0) else {
            return Ok(Tok::Newline);
        };
        if c == '"' || c == '\'' {
            return self.string(String::new());
        }
        if c.is_alphabetic() || c == '_' {
            let start = self.pos;
            while self
                .peek(0)
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
            {
                self.pos += 1;
            }
            let word: String = self.chars[start..self.pos].iter().collect();
            if matches!(self.peek(0), Some('"' | '\'')) && is_string_prefix(&word) {
                return self.string(word.to_ascii_lowercase());
            }
            return Ok(Tok::Name(word));
        }
        if c.is_ascii_digit() || (c == '.' && self.peek(1).is_some_and(|d| d.is_ascii_digit())) {
            let start = self.pos;
            while let Some(c) = self.peek(0) {
                let exponent_sign = (c == '+' || c == '-')
                    && self.pos > start
                    && matches!(self.chars[self.pos - 1], 'e' | 'E')
                    && !self.chars[start..self.pos]
                        .iter()
                        .any(|c| matches!(c, 'x' | 'X'));
                if c.is_ascii_alphanumeric() || c == '_' || c == '.' || exponent_sign {
                    self.pos += 1;
                } else {
                    break;
                }
            }
            return Ok(Tok::Number(self.chars[start..self.pos].iter().collect()));
        }
        for ops in [THREE_CHAR_OPS, TWO_CHAR_OPS] {
            for op in ops {
                let len = op.chars().count();
                if self.chars.len() >= self.pos + len
                    && self.chars[self.pos..self.pos + len]
                        .iter()
                        .copied()
                        .eq(op.chars())
                {
                    self.pos += len;
                    return Ok(Tok::Op((*op).to_owned()));
                }
            }
        }
        self.pos += 1;
        Ok(Tok::Op(c.to_string()))
    }

    fn string(&mut self, prefix: String) -> Result<Tok, ImportError> {
        let start_line = self.line;
        let raw = prefix.contains('r');
        let f = prefix.contains('f');
        let bytes = prefix.contains('b');
        let Some(quote) = self.peek(0) else {
            return Ok(Tok::Newline);
        };
        let triple = self.peek(1) == Some(quote) && self.peek(2) == Some(quote);
        self.pos += if triple { 3 } else { 1 };
        let mut value = String::new();
        loop {
            let Some(c) = self.peek(0) else {
                return Err(ImportError::Syntax {
                    line: start_line,
                    message: "a string that starts here is never closed".to_owned(),
                });
            };
            if c == quote {
                if !triple {
                    self.pos += 1;
                    break;
                }
                if self.peek(1) == Some(quote) && self.peek(2) == Some(quote) {
                    self.pos += 3;
                    break;
                }
                value.push(c);
                self.pos += 1;
                continue;
            }
            if c == '\n' {
                if !triple {
                    return Err(ImportError::Syntax {
                        line: start_line,
                        message: "a string that starts here is never closed on its line".to_owned(),
                    });
                }
                self.line += 1;
                value.push('\n');
                self.pos += 1;
                continue;
            }
            if c == '\\' {
                let Some(next) = self.peek(1) else {
                    self.pos += 1;
                    continue;
                };
                if raw || f {
                    // Raw strings keep the backslash; it still stops the quote ending the
                    // string. f-strings are kept as written (they are not converted).
                    value.push('\\');
                    value.push(next);
                    if next == '\n' {
                        self.line += 1;
                    }
                    self.pos += 2;
                    continue;
                }
                self.pos += 2;
                match next {
                    '\n' => self.line += 1,
                    '\\' => value.push('\\'),
                    '\'' => value.push('\''),
                    '"' => value.push('"'),
                    'n' => value.push('\n'),
                    't' => value.push('\t'),
                    'r' => value.push('\r'),
                    'a' => value.push('\x07'),
                    'b' => value.push('\x08'),
                    'f' => value.push('\x0c'),
                    'v' => value.push('\x0b'),
                    'x' => self.hex_escape(2, &mut value, start_line)?,
                    'u' if !bytes => self.hex_escape(4, &mut value, start_line)?,
                    'U' if !bytes => self.hex_escape(8, &mut value, start_line)?,
                    '0'..='7' => {
                        let mut code = next.to_digit(8).unwrap_or(0);
                        for _ in 0..2 {
                            match self.peek(0).and_then(|d| d.to_digit(8)) {
                                Some(d) => {
                                    code = code * 8 + d;
                                    self.pos += 1;
                                }
                                None => break,
                            }
                        }
                        value.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                    }
                    other => {
                        // Python keeps unknown escapes (and \N{...}) as written.
                        value.push('\\');
                        value.push(other);
                    }
                }
                continue;
            }
            value.push(c);
            self.pos += 1;
        }
        Ok(Tok::Str(StrLit { value, f, bytes }))
    }

    fn hex_escape(
        &mut self,
        digits: usize,
        value: &mut String,
        line: usize,
    ) -> Result<(), ImportError> {
        let mut code = 0u32;
        for _ in 0..digits {
            let digit =
                self.peek(0)
                    .and_then(|d| d.to_digit(16))
                    .ok_or_else(|| ImportError::Syntax {
                        line,
                        message: format!("a \\x, \\u or \\U escape needs {digits} hex digits"),
                    })?;
            code = code * 16 + digit;
            self.pos += 1;
        }
        let c = char::from_u32(code).ok_or_else(|| ImportError::Syntax {
            line,
            message: format!("escape \\U{code:08x} is not a valid character"),
        })?;
        value.push(c);
        Ok(())
    }
}

fn is_string_prefix(word: &str) -> bool {
    matches!(
        word.to_ascii_lowercase().as_str(),
        "r" | "u" | "b" | "f" | "br" | "rb" | "fr" | "rf"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<Vec<Tok>> {
        logical_lines(source)
            .unwrap()
            .into_iter()
            .map(|l| l.tokens.into_iter().map(|t| t.kind).collect())
            .collect()
    }

    fn s(value: &str) -> Tok {
        Tok::Str(StrLit {
            value: value.to_owned(),
            f: false,
            bytes: false,
        })
    }

    #[test]
    fn strings_of_every_form() {
        let lines =
            kinds("x = 'a\\'b' \"c\\n\" r'\\d+' '''t\n'x'\n''' u\"\\u00e9\" '\\x41\\101'\n");
        assert_eq!(
            lines[0][2..],
            [
                s("a'b"),
                s("c\n"),
                s("\\d+"),
                s("t\n'x'\n"),
                s("é"),
                s("AA")
            ]
        );
    }

    #[test]
    fn brackets_and_continuations_join_lines() {
        let source = "a = [\n  1,  # one\n  2,\n]\nb = 1 + \\\n  2\nc = 3\n";
        let lines = logical_lines(source).unwrap();
        assert_eq!(lines.len(), 3);
        assert_eq!((lines[0].first_line, lines[0].last_line), (1, 4));
        assert_eq!((lines[1].first_line, lines[1].last_line), (5, 6));
        assert_eq!(lines[2].first_line, 7);
    }

    #[test]
    fn indentation_is_measured() {
        let lines = logical_lines("def f(x):\n    return x\n\tpass\n").unwrap();
        assert_eq!(lines[0].indent, 0);
        assert_eq!(lines[1].indent, 4);
        assert_eq!(lines[2].indent, 8);
    }

    #[test]
    fn unterminated_things_are_errors_not_panics() {
        assert!(logical_lines("x = 'abc\n").is_err());
        assert!(logical_lines("x = '''abc\n").is_err());
        assert!(logical_lines("x = [1,\n").is_err());
        assert!(logical_lines("x = '\\x4'\n").is_err());
        assert!(logical_lines("x = '\\").is_err());
    }

    #[test]
    fn numbers_and_operators() {
        let lines = kinds("x += 1e-3 + 0x1F - .5 ** 2\n");
        assert_eq!(
            lines[0],
            [
                Tok::Name("x".into()),
                Tok::Op("+=".into()),
                Tok::Number("1e-3".into()),
                Tok::Op("+".into()),
                Tok::Number("0x1F".into()),
                Tok::Op("-".into()),
                Tok::Number(".5".into()),
                Tok::Op("**".into()),
                Tok::Number("2".into()),
            ]
        );
    }
}

/// Property tests: any text, Python or not, is tokenized or refused with an error, never a
/// panic, and line numbers only grow.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::logical_lines;

    /// Text made of the pieces that make Python's lexical rules hard: quotes of every kind
    /// and prefix, escapes, comments, continuation lines, brackets, indentation, numbers.
    fn pythonish() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("'".to_owned()),
            Just("\"".to_owned()),
            Just("'''".to_owned()),
            Just("\"\"\"".to_owned()),
            Just("r'".to_owned()),
            Just("b\"".to_owned()),
            Just("f'{".to_owned()),
            Just("\\".to_owned()),
            Just("\\\n".to_owned()),
            Just("\n".to_owned()),
            Just("\r\n".to_owned()),
            Just("    ".to_owned()),
            Just("\t".to_owned()),
            Just("# c\n".to_owned()),
            Just("(".to_owned()),
            Just(")".to_owned()),
            Just("[".to_owned()),
            Just("]".to_owned()),
            Just("{".to_owned()),
            Just("}".to_owned()),
            Just("c.Authenticator.allowed_users = ".to_owned()),
            Just("**=".to_owned()),
            Just("0x1F".to_owned()),
            Just("1_000.5e-3j".to_owned()),
            "[a-z_]{1,6}",
            any::<char>().prop_map(String::from),
        ];
        prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

        #[test]
        fn any_text_is_tokenized_or_refused_without_panic(source in pythonish()) {
            if let Ok(lines) = logical_lines(&source) {
                let physical = source.lines().count().max(1) + 1;
                let mut previous = 0;
                for line in &lines {
                    prop_assert!(line.first_line <= line.last_line);
                    prop_assert!(line.first_line >= previous);
                    prop_assert!(line.last_line <= physical, "{} > {}", line.last_line, physical);
                    previous = line.first_line;
                    for token in &line.tokens {
                        prop_assert!(token.line >= line.first_line && token.line <= line.last_line);
                    }
                }
            }
        }

        #[test]
        fn arbitrary_unicode_never_panics(source in any::<String>()) {
            let _ = logical_lines(&source);
        }
    }
}
