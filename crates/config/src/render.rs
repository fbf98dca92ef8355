//! Generated documentation: a commented config file and a Markdown reference.
//!
//! Both are derived from the [`Registry`], so they always match the options a build has.

use std::fmt::Write as _;

use crate::def::{ClassDef, DefaultValue, OptionDef, OptionType};
use crate::registry::Registry;

/// Width that comment text is wrapped to.
const WIDTH: usize = 79;

/// A complete, commented config file, like `jupyterhub --generate-config`.
///
/// For each class in registration order: a banner with its name, bases and help, its
/// `[ClassName]` table header, and every option the class declares itself, with help, type,
/// default, environment variables and deprecated names, then the option commented out
/// with its default (`# allowed_users = []`). Options with a computed default get an
/// explanation instead of a value line. Every assignment is commented out, so the output
/// parses with [`Config::parse`](crate::Config::parse) as a configuration that sets
/// nothing.
pub fn generate_config(registry: &Registry) -> String {
    let mut out = String::new();
    out.push_str("# Configuration file for hubauth.\n");
    out.push_str("#\n");
    push_wrapped(
        &mut out,
        "# ",
        "# ",
        "Each [Class] table configures that class and every class that inherits from it, unless a table of a more specific class sets the same option. Options not set here come from their environment variables, if any, else from their defaults. Every option below is commented out and shows its default: uncomment and edit the ones you need.",
    );
    for class in registry.classes() {
        out.push('\n');
        render_class(&mut out, registry, class);
    }
    out
}

fn render_class(out: &mut String, registry: &Registry, class: &ClassDef) {
    let rule = format!("#{}\n", "-".repeat(WIDTH - 1));
    out.push_str(&rule);
    if class.bases.is_empty() {
        let _ = writeln!(out, "# {} configuration", class.name);
    } else {
        let _ = writeln!(
            out,
            "# {} configuration (inherits from {})",
            class.name,
            class.bases.join(", ")
        );
    }
    out.push_str(&rule);
    if !class.help.trim().is_empty() {
        push_help(out, class.help);
    }
    let inherited: Vec<&str> = registry
        .options_of(class.name)
        .into_iter()
        .filter(|(owner, _)| owner.name != class.name)
        .map(|(_, def)| def.name)
        .collect();
    if !inherited.is_empty() {
        out.push_str("#\n");
        push_wrapped(
            out,
            "#  ",
            "#  ",
            &format!(
                "Inherited options that may also be set here, for this class only: {}.",
                inherited.join(", ")
            ),
        );
    }
    let _ = writeln!(out, "[{}]", toml_key(class.name));
    for def in class.options {
        out.push('\n');
        render_option(out, def);
    }
}

fn render_option(out: &mut String, def: &OptionDef) {
    if def.help.trim().is_empty() {
        let _ = writeln!(out, "## {}", def.name);
    } else {
        push_help(out, def.help);
    }
    out.push_str("#\n");
    let _ = writeln!(out, "#  Type: {}", def.ty.describe());
    match def.default {
        DefaultValue::Literal(literal) => {
            if literal.contains('\n') {
                out.push_str("#  Default: see below\n");
            } else {
                let _ = writeln!(out, "#  Default: {literal}");
            }
        }
        DefaultValue::Computed(how) => {
            push_wrapped(
                out,
                "#  Default: ",
                "#  ",
                &format!("computed when not set: {how}"),
            );
        }
    }
    if !def.env.is_empty() {
        let text = match env_format(def.ty) {
            Some(format) => format!("{} ({format})", def.env.join(", ")),
            None => def.env.join(", "),
        };
        push_wrapped(out, "#  Environment: ", "#  ", &text);
    }
    if !def.deprecated.is_empty() {
        let names: Vec<String> = def
            .deprecated
            .iter()
            .map(|alias| format!("{} (deprecated in {})", alias.name, alias.since))
            .collect();
        push_wrapped(out, "#  Deprecated names: ", "#  ", &names.join(", "));
    }
    if def.secret {
        let text = if def.env.is_empty() {
            "Secret: never logged or shown in error messages; keep this file private.".to_owned()
        } else {
            format!(
                "Secret: never logged or shown in error messages; prefer setting {} over writing it here.",
                def.env[0]
            )
        };
        push_wrapped(out, "#  ", "#  ", &text);
    }
    if let DefaultValue::Literal(literal) = def.default {
        let line = format!("{} = {}", toml_key(def.name), literal);
        for part in line.lines() {
            if part.is_empty() {
                out.push_str("#\n");
            } else {
                let _ = writeln!(out, "# {part}");
            }
        }
    }
}

/// Help text: the first line after `## `, the rest after `#  `, wrapped.
fn push_help(out: &mut String, help: &str) {
    let mut first = true;
    for line in help.trim().lines() {
        let line = line.trim_end();
        if first {
            push_wrapped(out, "## ", "#  ", line);
            first = false;
        } else if line.trim().is_empty() {
            out.push_str("#\n");
        } else {
            push_wrapped(out, "#  ", "#  ", line);
        }
    }
}

/// Appends `text` word-wrapped to [`WIDTH`], the first line after `first`, the others
/// after `rest`. Leading indentation of `text` is kept on every line.
fn push_wrapped(out: &mut String, first: &str, rest: &str, text: &str) {
    let indent: String = text.chars().take_while(|c| *c == ' ').collect();
    let mut line = format!("{first}{indent}");
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + word.chars().count() > WIDTH {
            out.push_str(line.trim_end());
            out.push('\n');
            line = format!("{rest}{indent}");
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

/// A table or key name as TOML writes it: bare when possible, else quoted.
fn toml_key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        name.to_owned()
    } else {
        toml::Value::String(name.to_owned()).to_string()
    }
}

/// A Markdown reference of every class and option, for the docs.
///
/// One section per class in registration order (bases, help, inherited options), then one
/// entry per option the class declares: type, default, environment variables, deprecated
/// names, whether it is secret, and the help text.
pub fn reference_markdown(registry: &Registry) -> String {
    let mut out = String::new();
    out.push_str("# Configuration reference\n\n");
    out.push_str(
        "hubauth reads a TOML file with one table per class. A value set in the table of a \
         class applies to that class and to every class that inherits from it, unless the \
         table of a more specific class sets the same option. Options not set in the file \
         come from their environment variables, if any, else from their defaults.\n\n",
    );
    out.push_str("Classes:\n\n");
    for class in registry.classes() {
        let _ = writeln!(out, "- [`[{}]`](#{})", class.name, anchor(class.name));
    }
    out.push('\n');
    for class in registry.classes() {
        markdown_class(&mut out, registry, class);
    }
    let end = out.trim_end().len();
    out.truncate(end);
    out.push('\n');
    out
}

fn markdown_class(out: &mut String, registry: &Registry, class: &ClassDef) {
    let _ = writeln!(out, "## `[{}]`\n", class.name);
    if !class.bases.is_empty() {
        let bases: Vec<String> = class
            .bases
            .iter()
            .map(|base| format!("[`{base}`](#{})", anchor(base)))
            .collect();
        let _ = writeln!(out, "Inherits from {}.\n", bases.join(", "));
    }
    if !class.help.trim().is_empty() {
        let _ = writeln!(out, "{}\n", class.help.trim());
    }
    let inherited: Vec<String> = registry
        .options_of(class.name)
        .into_iter()
        .filter(|(owner, _)| owner.name != class.name)
        .map(|(owner, def)| format!("`{}` ({})", def.name, owner.name))
        .collect();
    if !inherited.is_empty() {
        let _ = writeln!(
            out,
            "Inherited options, which may also be set in `[{}]`: {}.\n",
            class.name,
            inherited.join(", ")
        );
    }
    if class.options.is_empty() {
        out.push_str("This class declares no options of its own.\n\n");
    }
    for def in class.options {
        markdown_option(out, class, def);
    }
}

fn markdown_option(out: &mut String, class: &ClassDef, def: &OptionDef) {
    let _ = writeln!(out, "### `{}.{}`\n", class.name, def.name);
    let _ = writeln!(out, "- Type: {}", def.ty.describe());
    let mut block = None;
    match def.default {
        DefaultValue::Literal(literal) if literal.contains('\n') => {
            out.push_str("- Default: see below\n");
            block = Some(literal);
        }
        DefaultValue::Literal(literal) => {
            let _ = writeln!(out, "- Default: {}", code(literal));
        }
        DefaultValue::Computed(how) => {
            let _ = writeln!(out, "- Default: computed when not set: {how}");
        }
    }
    if !def.env.is_empty() {
        let vars: Vec<String> = def.env.iter().map(|var| code(var)).collect();
        match env_format(def.ty) {
            Some(format) => {
                let _ = writeln!(out, "- Environment: {} ({format})", vars.join(", "));
            }
            None => {
                let _ = writeln!(out, "- Environment: {}", vars.join(", "));
            }
        }
    }
    if !def.deprecated.is_empty() {
        let names: Vec<String> = def
            .deprecated
            .iter()
            .map(|alias| {
                let note = if alias.same_type {
                    ""
                } else {
                    ", no longer accepted"
                };
                format!("{} (deprecated in {}{note})", code(alias.name), alias.since)
            })
            .collect();
        let _ = writeln!(out, "- Deprecated names: {}", names.join(", "));
    }
    if def.secret {
        out.push_str("- Secret: never logged or shown in error messages\n");
    }
    out.push('\n');
    if let Some(literal) = block {
        let _ = writeln!(
            out,
            "Default:\n\n```toml\n{} = {}\n```\n",
            def.name, literal
        );
    }
    if !def.help.trim().is_empty() {
        let _ = writeln!(out, "{}\n", def.help.trim());
    }
}

/// How an environment variable's text is read for a type, when it is not taken as is.
fn env_format(ty: OptionType) -> Option<&'static str> {
    match ty {
        OptionType::Bool => Some("1, true, yes, on or 0, false, no, off"),
        OptionType::Int => Some("an integer"),
        OptionType::Float => Some("a number"),
        OptionType::Str | OptionType::ClaimOrScript => None,
        OptionType::List | OptionType::Set | OptionType::StrOrList => {
            Some("items separated by `;`")
        }
        OptionType::Map => Some("a JSON object of strings"),
        OptionType::IntMap => Some("a JSON object of integers"),
        OptionType::Dict => Some("a JSON object"),
        OptionType::DictList => Some("a JSON array of objects"),
    }
}

/// Inline code that survives backticks in the text.
fn code(text: &str) -> String {
    if text.contains('`') {
        format!("`` {text} ``")
    } else {
        format!("`{text}`")
    }
}

/// The anchor GitHub gives a heading "`[Name]`".
fn anchor(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_')
        .flat_map(char::to_lowercase)
        .collect()
}
