//! Upstream's `str.format` templates (`uid={username},ou=people,...`,
//! `(|(member={userdn})(memberUid={uid}))`), checked when the configuration is read.
//!
//! The caller escapes every value for where it goes (a DN or a filter) before rendering:
//! the template only places text.

use std::fmt;

/// A parsed template: literal text and named fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
    source: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field(String),
}

impl Template {
    /// Parses `text`, whose fields must be among `fields`. `{{` and `}}` are literal braces,
    /// as in Python.
    pub fn parse(text: &str, fields: &[&str]) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) => name.push(c),
                            None => return Err(format!("{text:?}: a {{ is not closed")),
                        }
                    }
                    if !fields.contains(&name.as_str()) {
                        let known: Vec<String> =
                            fields.iter().map(|f| format!("{{{f}}}")).collect();
                        return Err(format!(
                            "{text:?}: {{{name}}} is not a field of this template (it may use {})",
                            known.join(", ")
                        ));
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Field(name));
                }
                '}' => return Err(format!("{text:?}: a single }} (write }}}} for a brace)")),
                other => literal.push(other),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Template {
            parts,
            source: text.to_owned(),
        })
    }

    /// Fills the fields with `values` (already escaped by the caller); a field without a
    /// value becomes empty (parsing made sure every field is a known one).
    pub fn render(&self, values: &[(&str, &str)]) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Field(name) => {
                    if let Some((_, value)) = values.iter().find(|(field, _)| field == name) {
                        out.push_str(value);
                    }
                }
            }
        }
        out
    }

    /// Whether the template uses `field`.
    pub fn uses(&self, field: &str) -> bool {
        self.parts
            .iter()
            .any(|part| matches!(part, Part::Field(name) if name == field))
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::Template;

    #[test]
    fn fields_and_braces() {
        let t = Template::parse("uid={username},ou={{x}}", &["username"]).unwrap();
        assert_eq!(t.render(&[("username", "ann")]), "uid=ann,ou={x}");
        assert!(t.uses("username"));
    }

    #[test]
    fn unknown_and_broken_fields_are_refused() {
        assert!(
            Template::parse("uid={user}", &["username"])
                .unwrap_err()
                .contains("{user}")
        );
        assert!(Template::parse("uid={username", &["username"]).is_err());
        assert!(Template::parse("uid=}", &["username"]).is_err());
        assert!(Template::parse("uid={}", &["username"]).is_err());
    }
}
