//! GitHub's pagination: the `link` response header (RFC 8288), as "Using pagination in
//! the REST API" describes it (<https://docs.github.com/rest/using-the-rest-api/using-pagination-in-the-rest-api>):
//! `<URL>; rel="next", <URL>; rel="last"`, each page's URL in angle brackets.

/// The target of the link whose `rel` includes `next` (compared without regard to case),
/// if any. A header that cannot be read as links gives `None` for the links it garbles.
pub fn next_link(header: &str) -> Option<String> {
    links(header)
        .into_iter()
        .find(|(_, rels)| rels.iter().any(|rel| rel.eq_ignore_ascii_case("next")))
        .map(|(target, _)| target)
}

/// Every link of a header: its target and its relation types.
fn links(header: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut rest = header;
    loop {
        let Some(open) = rest.find('<') else {
            return out;
        };
        let Some(close) = rest[open..].find('>').map(|i| open + i) else {
            return out;
        };
        let target = rest[open + 1..close].trim().to_owned();
        let after = &rest[close + 1..];
        // The parameters run to the next link (a `,` followed by `<`) or the end.
        let end = next_link_start(after).unwrap_or(after.len());
        let params = after[..end].trim_end().trim_end_matches(',');
        let rels = params
            .split(';')
            .filter_map(|param| {
                let (name, value) = param.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("rel")
                    .then(|| value.trim().trim_matches('"').to_owned())
            })
            .flat_map(|value| {
                value
                    .split_ascii_whitespace()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect();
        out.push((target, rels));
        rest = &after[end..];
    }
}

/// Where the next `<` that starts a link is: after a `,` outside quotes.
fn next_link_start(text: &str) -> Option<usize> {
    let mut quoted = false;
    let mut after_comma = false;
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => after_comma = true,
            '<' if !quoted && after_comma => return Some(i),
            c if c.is_whitespace() => {}
            _ if !quoted => after_comma = false,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_found_among_other_relations() {
        let header = "<https://api.github.com/repositories/1300192/issues?page=2>; rel=\"prev\", <https://api.github.com/repositories/1300192/issues?page=4>; rel=\"next\", <https://api.github.com/repositories/1300192/issues?page=515>; rel=\"last\", <https://api.github.com/repositories/1300192/issues?page=1>; rel=\"first\"";
        assert_eq!(
            next_link(header).as_deref(),
            Some("https://api.github.com/repositories/1300192/issues?page=4")
        );
        assert_eq!(
            next_link("<https://x/a?per_page=2&page=2>; rel=\"next\"").as_deref(),
            Some("https://x/a?per_page=2&page=2")
        );
        // Unquoted, odd case, several relation types, no space after `;`.
        assert_eq!(
            next_link("<https://x/b>;rel=Next").as_deref(),
            Some("https://x/b")
        );
        assert_eq!(
            next_link("<https://x/c>; rel=\"last next\"").as_deref(),
            Some("https://x/c")
        );
    }

    #[test]
    fn no_next_on_the_last_page_or_in_garbage() {
        assert_eq!(
            next_link("<https://x/a?page=1>; rel=\"first\", <https://x/a?page=3>; rel=\"prev\""),
            None
        );
        assert_eq!(next_link(""), None);
        assert_eq!(next_link("rel=\"next\""), None);
        assert_eq!(next_link("<https://x/unclosed; rel=\"next\""), None);
        // A comma inside a quoted parameter does not start a link.
        assert_eq!(
            next_link("<https://x/a>; title=\"a, <b>\"; rel=\"prev\", <https://x/n>; rel=\"next\"")
                .as_deref(),
            Some("https://x/n")
        );
    }
}
