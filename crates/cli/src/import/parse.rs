//! Expressions and statements of a JupyterHub config file, as syntax only.
//!
//! The parser recognizes Python's expression grammar well enough to tell a literal from
//! everything else (calls, lambdas, comprehensions, operators, f-strings) and to say what
//! the everything-else is. It never evaluates anything.

use super::lexer::{StrLit, Tok, Token};

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Expr {
    /// A string literal (adjacent literals already joined).
    Str(String),
    /// An f-string with placeholders, as written.
    FStr(String),
    /// A bytes literal.
    Bytes,
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// `True` / `False`.
    Bool(bool),
    /// `None`.
    None,
    /// `[...]`.
    List(Vec<Expr>),
    /// `(...,)`.
    Tuple(Vec<Expr>),
    /// `{a, b}`.
    Set(Vec<Expr>),
    /// `{k: v}`.
    Dict(Vec<(Expr, Expr)>),
    /// A name.
    Name(String),
    /// `value.attr`.
    Attr(Box<Expr>, String),
    /// `func(args, key=value)`.
    Call {
        /// What is called.
        func: Box<Expr>,
        /// Positional arguments.
        args: Vec<Expr>,
        /// Keyword arguments.
        kwargs: Vec<(String, Expr)>,
    },
    /// `value[index]`.
    Subscript(Box<Expr>, Box<Expr>),
    /// `lambda ...: ...`.
    Lambda,
    /// A list, set, dict comprehension or a generator expression.
    Comprehension,
    /// `a op b`.
    Binary(String, Box<Expr>, Box<Expr>),
    /// `-a`, `not a`.
    Unary(String, Box<Expr>),
    /// Anything else, described.
    Other(&'static str),
}

/// Why a statement could not be read.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ParseFailure(pub String);

/// A parser over one statement's tokens.
pub(super) struct Parser<'a> {
    tokens: &'a [Token],
    pos: usize,
}

type Parsed<T> = Result<T, ParseFailure>;

/// Positional and keyword arguments of a call.
type CallArgs = (Vec<Expr>, Vec<(String, Expr)>);

impl<'a> Parser<'a> {
    /// A parser for `tokens`.
    pub(super) fn new(tokens: &'a [Token]) -> Self {
        Parser { tokens, pos: 0 }
    }

    /// Whether every token was consumed.
    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.tokens.len()
    }

    fn peek(&self) -> Option<&'a Tok> {
        self.tokens.get(self.pos).map(|t| &t.kind)
    }

    fn peek_at(&self, ahead: usize) -> Option<&'a Tok> {
        self.tokens.get(self.pos + ahead).map(|t| &t.kind)
    }

    /// Whether the next token is operator `op`.
    pub(super) fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Some(Tok::Op(o)) if o == op)
    }

    fn is_name(&self, name: &str) -> bool {
        matches!(self.peek(), Some(Tok::Name(n)) if n == name)
    }

    /// Consumes operator `op` if it is next.
    pub(super) fn eat_op(&mut self, op: &str) -> bool {
        if self.is_op(op) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_name(&mut self, name: &str) -> bool {
        if self.is_name(name) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_op(&mut self, op: &str) -> Parsed<()> {
        if self.eat_op(op) {
            Ok(())
        } else {
            Err(ParseFailure(format!(
                "expected `{op}`, found {}",
                self.describe_next()
            )))
        }
    }

    fn describe_next(&self) -> String {
        match self.peek() {
            None => "the end of the statement".to_owned(),
            Some(Tok::Name(n)) => format!("`{n}`"),
            Some(Tok::Number(n)) => format!("`{n}`"),
            Some(Tok::Str(_)) => "a string".to_owned(),
            Some(Tok::Op(o)) => format!("`{o}`"),
            Some(Tok::Newline) => "the end of the line".to_owned(),
        }
    }

    /// Skips to the closing bracket of the current depth (for comprehensions and lambdas).
    fn skip_to_close(&mut self, stop_at_comma: bool) {
        let mut depth = 0usize;
        while let Some(tok) = self.peek() {
            if let Tok::Op(op) = tok {
                match op.as_str() {
                    "(" | "[" | "{" => depth += 1,
                    ")" | "]" | "}" => {
                        if depth == 0 {
                            return;
                        }
                        depth -= 1;
                    }
                    "," if depth == 0 && stop_at_comma => return,
                    _ => {}
                }
            }
            self.pos += 1;
        }
    }

    /// Parses a full expression, a bare tuple (`a, b`) included.
    pub(super) fn expression_list(&mut self) -> Parsed<Expr> {
        let first = self.expression()?;
        if !self.is_op(",") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat_op(",") {
            if self.at_end() || self.is_op("=") || self.is_op(")") {
                break;
            }
            items.push(self.expression()?);
        }
        Ok(Expr::Tuple(items))
    }

    /// Parses one expression (no bare tuple).
    pub(super) fn expression(&mut self) -> Parsed<Expr> {
        if self.eat_name("lambda") {
            // The parameters (which may hold commas), then the body up to a comma.
            let mut depth = 0usize;
            while let Some(tok) = self.peek() {
                self.pos += 1;
                match tok {
                    Tok::Op(op) if matches!(op.as_str(), "(" | "[" | "{") => depth += 1,
                    Tok::Op(op) if matches!(op.as_str(), ")" | "]" | "}") => {
                        depth = depth.saturating_sub(1);
                    }
                    Tok::Op(op) if op == ":" && depth == 0 => break,
                    _ => {}
                }
            }
            self.skip_to_close(true);
            return Ok(Expr::Lambda);
        }
        if self.eat_op("*") || self.eat_op("**") {
            self.binary(0)?;
            return Ok(Expr::Other("unpacking (`*` or `**`)"));
        }
        let value = self.binary(0)?;
        if self.eat_name("if") {
            self.binary(0)?;
            if self.eat_name("else") {
                self.expression()?;
            }
            return Ok(Expr::Other("a conditional expression (`x if ... else y`)"));
        }
        if self.eat_op(":=") {
            self.expression()?;
            return Ok(Expr::Other("an assignment expression (`:=`)"));
        }
        Ok(value)
    }

    fn binary_op(&self) -> Option<(String, u8, usize)> {
        let (op, width) = match (self.peek()?, self.peek_at(1)) {
            (Tok::Name(n), Some(Tok::Name(m))) if n == "not" && m == "in" => {
                ("not in".to_owned(), 2)
            }
            (Tok::Name(n), Some(Tok::Name(m))) if n == "is" && m == "not" => {
                ("is not".to_owned(), 2)
            }
            (Tok::Name(n), _) if matches!(n.as_str(), "or" | "and" | "in" | "is") => (n.clone(), 1),
            (Tok::Op(o), _) => (o.clone(), 1),
            _ => return None,
        };
        let prec = match op.as_str() {
            "or" => 1,
            "and" => 2,
            "==" | "!=" | "<" | ">" | "<=" | ">=" | "in" | "not in" | "is" | "is not" => 4,
            "|" => 5,
            "^" => 6,
            "&" => 7,
            "<<" | ">>" => 8,
            "+" | "-" => 9,
            "*" | "/" | "//" | "%" | "@" => 10,
            "**" => 12,
            _ => return None,
        };
        Some((op, prec, width))
    }

    fn binary(&mut self, min_prec: u8) -> Parsed<Expr> {
        let mut left = self.unary()?;
        while let Some((op, prec, width)) = self.binary_op() {
            if prec < min_prec {
                break;
            }
            self.pos += width;
            // `**` is right-associative; everything else left-associative.
            let next_min = if op == "**" { prec } else { prec + 1 };
            let right = self.binary(next_min)?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Parsed<Expr> {
        for op in ["-", "+", "~"] {
            if self.eat_op(op) {
                let operand = self.binary(11)?;
                return Ok(Expr::Unary(op.to_owned(), Box::new(operand)));
            }
        }
        if self.eat_name("not") {
            let operand = self.binary(3)?;
            return Ok(Expr::Unary("not".to_owned(), Box::new(operand)));
        }
        if self.eat_name("await") {
            self.primary()?;
            return Ok(Expr::Other("`await`"));
        }
        self.primary()
    }

    fn primary(&mut self) -> Parsed<Expr> {
        let mut value = self.atom()?;
        loop {
            if self.eat_op(".") {
                match self.peek() {
                    Some(Tok::Name(name)) => {
                        self.pos += 1;
                        value = Expr::Attr(Box::new(value), name.clone());
                    }
                    _ => {
                        return Err(ParseFailure(format!(
                            "expected a name after `.`, found {}",
                            self.describe_next()
                        )));
                    }
                }
            } else if self.eat_op("(") {
                let (args, kwargs) = self.call_args()?;
                value = Expr::Call {
                    func: Box::new(value),
                    args,
                    kwargs,
                };
            } else if self.eat_op("[") {
                let index = self.subscript()?;
                self.expect_op("]")?;
                value = Expr::Subscript(Box::new(value), Box::new(index));
            } else {
                return Ok(value);
            }
        }
    }

    fn subscript(&mut self) -> Parsed<Expr> {
        if self.is_op(":") {
            self.skip_to_close(false);
            return Ok(Expr::Other("a slice"));
        }
        let index = self.expression_list()?;
        if self.is_op(":") {
            self.skip_to_close(false);
            return Ok(Expr::Other("a slice"));
        }
        Ok(index)
    }

    fn call_args(&mut self) -> Parsed<CallArgs> {
        let mut args = Vec::new();
        let mut kwargs = Vec::new();
        loop {
            if self.eat_op(")") {
                return Ok((args, kwargs));
            }
            if let (Some(Tok::Name(name)), Some(Tok::Op(eq))) = (self.peek(), self.peek_at(1))
                && eq == "="
            {
                self.pos += 2;
                kwargs.push((name.clone(), self.expression()?));
                if !self.eat_op(",") {
                    self.expect_op(")")?;
                    return Ok((args, kwargs));
                }
                continue;
            }
            let arg = self.expression()?;
            if self.is_name("for") || self.is_name("async") {
                self.skip_to_close(false);
                self.expect_op(")")?;
                args.push(Expr::Comprehension);
                return Ok((args, kwargs));
            }
            args.push(arg);
            if !self.eat_op(",") {
                self.expect_op(")")?;
                return Ok((args, kwargs));
            }
        }
    }

    fn atom(&mut self) -> Parsed<Expr> {
        let Some(tok) = self.peek() else {
            return Err(ParseFailure("the statement ends too early".to_owned()));
        };
        match tok {
            Tok::Str(_) => self.strings(),
            Tok::Number(text) => {
                self.pos += 1;
                number(text)
            }
            Tok::Name(name) => {
                self.pos += 1;
                Ok(match name.as_str() {
                    "True" => Expr::Bool(true),
                    "False" => Expr::Bool(false),
                    "None" => Expr::None,
                    "yield" => {
                        self.skip_to_close(false);
                        Expr::Other("`yield`")
                    }
                    _ => Expr::Name(name.clone()),
                })
            }
            Tok::Op(op) if op == "(" => {
                self.pos += 1;
                if self.eat_op(")") {
                    return Ok(Expr::Tuple(Vec::new()));
                }
                let first = self.expression()?;
                if self.is_name("for") || self.is_name("async") {
                    self.skip_to_close(false);
                    self.expect_op(")")?;
                    return Ok(Expr::Comprehension);
                }
                if self.eat_op(")") {
                    return Ok(first);
                }
                let mut items = vec![first];
                while self.eat_op(",") {
                    if self.is_op(")") {
                        break;
                    }
                    items.push(self.expression()?);
                }
                self.expect_op(")")?;
                Ok(Expr::Tuple(items))
            }
            Tok::Op(op) if op == "[" => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    if self.eat_op("]") {
                        return Ok(Expr::List(items));
                    }
                    let item = self.expression()?;
                    if self.is_name("for") || self.is_name("async") {
                        self.skip_to_close(false);
                        self.expect_op("]")?;
                        return Ok(Expr::Comprehension);
                    }
                    items.push(item);
                    if !self.eat_op(",") {
                        self.expect_op("]")?;
                        return Ok(Expr::List(items));
                    }
                }
            }
            Tok::Op(op) if op == "{" => {
                self.pos += 1;
                self.braces()
            }
            Tok::Op(op) if op == "..." => {
                self.pos += 1;
                Ok(Expr::Other("`...`"))
            }
            _ => Err(ParseFailure(format!(
                "expected a value, found {}",
                self.describe_next()
            ))),
        }
    }

    fn braces(&mut self) -> Parsed<Expr> {
        if self.eat_op("}") {
            return Ok(Expr::Dict(Vec::new()));
        }
        if self.eat_op("**") {
            self.skip_to_close(false);
            self.expect_op("}")?;
            return Ok(Expr::Other("a dict built with `**` unpacking"));
        }
        let first = self.expression()?;
        if self.eat_op(":") {
            let value = self.expression()?;
            if self.is_name("for") || self.is_name("async") {
                self.skip_to_close(false);
                self.expect_op("}")?;
                return Ok(Expr::Comprehension);
            }
            let mut pairs = vec![(first, value)];
            while self.eat_op(",") {
                if self.is_op("}") {
                    break;
                }
                if self.eat_op("**") {
                    self.skip_to_close(false);
                    self.expect_op("}")?;
                    return Ok(Expr::Other("a dict built with `**` unpacking"));
                }
                let key = self.expression()?;
                self.expect_op(":")?;
                let value = self.expression()?;
                pairs.push((key, value));
            }
            self.expect_op("}")?;
            return Ok(Expr::Dict(pairs));
        }
        if self.is_name("for") || self.is_name("async") {
            self.skip_to_close(false);
            self.expect_op("}")?;
            return Ok(Expr::Comprehension);
        }
        let mut items = vec![first];
        while self.eat_op(",") {
            if self.is_op("}") {
                break;
            }
            items.push(self.expression()?);
        }
        self.expect_op("}")?;
        Ok(Expr::Set(items))
    }

    fn strings(&mut self) -> Parsed<Expr> {
        let mut text = String::new();
        let mut formatted = false;
        let mut bytes = false;
        while let Some(Tok::Str(StrLit { value, f, bytes: b })) = self.peek() {
            self.pos += 1;
            bytes |= *b;
            if *f {
                match unformat(value) {
                    Some(plain) => text.push_str(&plain),
                    None => {
                        formatted = true;
                        text.push_str(value);
                    }
                }
            } else {
                text.push_str(value);
            }
        }
        Ok(if bytes {
            Expr::Bytes
        } else if formatted {
            Expr::FStr(text)
        } else {
            Expr::Str(text)
        })
    }
}

/// An f-string without placeholders as plain text (`{{` and `}}` undoubled, escapes kept
/// as the lexer left them); `None` when it has placeholders.
fn unformat(raw: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' | '}' => {
                if chars.peek() == Some(&c) {
                    chars.next();
                    out.push(c);
                } else {
                    return None;
                }
            }
            '\\' => {
                // Plain escapes in an f-string mean what they mean in a string.
                match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('\\') => out.push('\\'),
                    Some('\'') => out.push('\''),
                    Some('"') => out.push('"'),
                    Some(other) => {
                        out.push('\\');
                        out.push(other);
                    }
                    None => out.push('\\'),
                }
            }
            _ => out.push(c),
        }
    }
    Some(out)
}

fn number(text: &str) -> Parsed<Expr> {
    let clean: String = text.chars().filter(|c| *c != '_').collect();
    let lower = clean.to_ascii_lowercase();
    if lower.ends_with('j') {
        return Ok(Expr::Other("a complex number"));
    }
    let radix = |prefix: &str, radix: u32| -> Option<Parsed<Expr>> {
        lower.strip_prefix(prefix).map(|digits| {
            i64::from_str_radix(digits, radix)
                .map(Expr::Int)
                .map_err(|_| ParseFailure(format!("`{text}` is not a number hubauth can hold")))
        })
    };
    if let Some(result) = radix("0x", 16)
        .or_else(|| radix("0o", 8))
        .or_else(|| radix("0b", 2))
    {
        return result;
    }
    if lower.contains(['.', 'e']) {
        return lower
            .parse::<f64>()
            .map(Expr::Float)
            .map_err(|_| ParseFailure(format!("`{text}` is not a number")));
    }
    lower
        .parse::<i64>()
        .map(Expr::Int)
        .map_err(|_| ParseFailure(format!("`{text}` is not a number hubauth can hold")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::lexer::logical_lines;

    fn parse(source: &str) -> Expr {
        let lines = logical_lines(source).unwrap();
        let mut parser = Parser::new(&lines[0].tokens);
        let expr = parser.expression_list().unwrap();
        assert!(parser.at_end(), "left over in {source}");
        expr
    }

    #[test]
    fn literals() {
        assert_eq!(parse("'a' \"b\"\n"), Expr::Str("ab".into()));
        assert_eq!(parse("f'x{{y}}'\n"), Expr::Str("x{y}".into()));
        assert_eq!(parse("f'x{y}'\n"), Expr::FStr("x{y}".into()));
        assert_eq!(parse("1_000\n"), Expr::Int(1000));
        assert_eq!(parse("0o17\n"), Expr::Int(15));
        assert_eq!(parse("2.5e1\n"), Expr::Float(25.0));
        assert_eq!(
            parse("{'a': [1, (2,)], 'b': {None}}\n"),
            Expr::Dict(vec![
                (
                    Expr::Str("a".into()),
                    Expr::List(vec![Expr::Int(1), Expr::Tuple(vec![Expr::Int(2)])])
                ),
                (Expr::Str("b".into()), Expr::Set(vec![Expr::None])),
            ])
        );
        assert_eq!(
            parse("1, 2\n"),
            Expr::Tuple(vec![Expr::Int(1), Expr::Int(2)])
        );
    }

    #[test]
    fn non_literals_are_recognized() {
        assert_eq!(parse("lambda x: x['a']\n"), Expr::Lambda);
        assert_eq!(parse("[u for u in users]\n"), Expr::Comprehension);
        assert_eq!(parse("{u: 1 for u in users}\n"), Expr::Comprehension);
        assert_eq!(
            parse("1 if x else 2\n"),
            Expr::Other("a conditional expression (`x if ... else y`)")
        );
        assert!(matches!(
            parse("os.environ.get('X', 'y')\n"),
            Expr::Call { .. }
        ));
        assert!(matches!(parse("os.environ['X']\n"), Expr::Subscript(..)));
        assert!(matches!(parse("-1 + 2 * 3\n"), Expr::Binary(..)));
    }
}
