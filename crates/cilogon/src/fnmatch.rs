//! Shell-style patterns for `allowed_domains`, with the syntax of Python's `fnmatch`
//! (which upstream uses since OAuthenticator 16.2): `*` is any run of characters (dots
//! included, so `*.jupyter.org` matches `hub.jupyter.org` and `a.b.jupyter.org`, but not
//! `jupyter.org`), `?` one character, `[seq]` one character of the set (ranges such as
//! `a-z`), `[!seq]` one character not in it. Everything else, `.` included, matches
//! itself only, and the whole text must match. A `[` without a closing `]` is a literal
//! `[`, as in Python.

/// One element of a parsed pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// `*`
    Star,
    /// `?`
    One,
    /// A character class.
    Set {
        negated: bool,
        /// Inclusive ranges (a single character is a range of one).
        ranges: Vec<(char, char)>,
    },
    /// A character that matches itself.
    Literal(char),
}

/// A parsed pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    tokens: Vec<Token>,
}

impl Pattern {
    /// Parses `pattern` (every text is a valid pattern, as in Python).
    pub fn new(pattern: &str) -> Self {
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            i += 1;
            match c {
                '*' => {
                    // Consecutive stars match what one does.
                    if tokens.last() != Some(&Token::Star) {
                        tokens.push(Token::Star);
                    }
                }
                '?' => tokens.push(Token::One),
                '[' => match parse_set(&chars, i) {
                    Some((token, next)) => {
                        tokens.push(token);
                        i = next;
                    }
                    None => tokens.push(Token::Literal('[')),
                },
                other => tokens.push(Token::Literal(other)),
            }
        }
        Pattern { tokens }
    }

    /// Whether the whole of `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        let text: Vec<char> = text.chars().collect();
        // reachable[j]: the tokens so far can match the first j characters.
        let mut reachable = vec![false; text.len() + 1];
        reachable[0] = true;
        for token in &self.tokens {
            let mut next = vec![false; text.len() + 1];
            match token {
                Token::Star => {
                    let mut any = false;
                    for j in 0..=text.len() {
                        any |= reachable[j];
                        next[j] = any;
                    }
                }
                single => {
                    for j in 0..text.len() {
                        if reachable[j] && single_matches(single, text[j]) {
                            next[j + 1] = true;
                        }
                    }
                }
            }
            reachable = next;
        }
        reachable[text.len()]
    }
}

fn single_matches(token: &Token, c: char) -> bool {
    match token {
        Token::One => true,
        Token::Literal(expected) => *expected == c,
        Token::Set { negated, ranges } => {
            let inside = ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c));
            inside != *negated
        }
        Token::Star => false,
    }
}

/// Parses a set whose `[` is just before `start`: the token and the index after its `]`,
/// or `None` when no `]` closes it. As in Python, a `!` first negates, a `]` right after
/// the opening (or after the `!`) is a member, and a range whose ends are reversed
/// (`z-a`) is empty.
fn parse_set(chars: &[char], start: usize) -> Option<(Token, usize)> {
    let mut j = start;
    if chars.get(j) == Some(&'!') {
        j += 1;
    }
    if chars.get(j) == Some(&']') {
        j += 1;
    }
    while j < chars.len() && chars[j] != ']' {
        j += 1;
    }
    if j >= chars.len() {
        return None;
    }
    let mut body = &chars[start..j];
    let negated = body.first() == Some(&'!');
    if negated {
        body = &body[1..];
    }
    let mut ranges = Vec::new();
    let mut k = 0;
    while k < body.len() {
        let lo = body[k];
        if body.get(k + 1) == Some(&'-') && k + 2 < body.len() {
            let hi = body[k + 2];
            if lo <= hi {
                ranges.push((lo, hi));
            }
            k += 3;
        } else {
            ranges.push((lo, lo));
            k += 1;
        }
    }
    Some((Token::Set { negated, ranges }, j + 1))
}

/// Whether `text` matches `pattern` (both as given: callers lowercase them first, as
/// upstream's domains are).
pub fn fnmatch(text: &str, pattern: &str) -> bool {
    Pattern::new(pattern).matches(text)
}

#[cfg(test)]
mod tests {
    use super::fnmatch;

    #[test]
    fn star_matches_any_run_including_dots_but_the_rest_is_literal() {
        assert!(fnmatch("hub.jupyter.org", "*.jupyter.org"));
        assert!(fnmatch("a.b.jupyter.org", "*.jupyter.org"));
        assert!(!fnmatch("jupyter.org", "*.jupyter.org"));
        assert!(!fnmatch("evil-jupyter.org", "*.jupyter.org"));
        assert!(fnmatch("jupyter.org", "jupyter.org"));
        // `.` is not "any character" (the reason upstream chose fnmatch over regexes).
        assert!(!fnmatch("jupyterxorg", "jupyter.org"));
        // The whole text must match.
        assert!(!fnmatch("jupyter.org.evil.com", "jupyter.org"));
        assert!(!fnmatch("notjupyter.org", "jupyter.org"));
        assert!(fnmatch("anything", "*"));
        assert!(fnmatch("", "*"));
        assert!(fnmatch("x.org", "**.org"));
    }

    #[test]
    fn question_mark_and_sets_as_python_reads_them() {
        assert!(fnmatch("uni1.edu", "uni?.edu"));
        assert!(!fnmatch("uni.edu", "uni?.edu"));
        assert!(fnmatch("cs.uni.edu", "[a-c]s.uni.edu"));
        assert!(!fnmatch("ds.uni.edu", "[a-c]s.uni.edu"));
        assert!(fnmatch("ds.uni.edu", "[!a-c]s.uni.edu"));
        assert!(!fnmatch("cs.uni.edu", "[!a-c]s.uni.edu"));
        // `]` first in a set is a member; an unclosed `[` is literal.
        assert!(fnmatch("]", "[]]"));
        assert!(fnmatch("[x", "[x"));
        assert!(!fnmatch("x", "[x"));
        // A `-` at either end is a member; a reversed range is empty.
        assert!(fnmatch("-", "[a-]"));
        assert!(fnmatch("-", "[-a]"));
        assert!(!fnmatch("b", "[z-a]"));
    }
}
