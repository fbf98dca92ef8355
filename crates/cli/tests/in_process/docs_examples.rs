//! Every TOML example in the README and the user guide is real configuration: parsed with
//! the option registry and built (authenticator, hook, `[Hub]`) as `hubauth check-config`
//! does. A renamed option, a wrong type or an invalid value in the docs fails here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use hubauth_config::{Config, MapEnv};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The documents whose examples and links are checked: the README, ARCHITECTURE.md and
/// every page of the guide.
fn documents() -> Vec<PathBuf> {
    let root = repo_root();
    let mut docs = vec![root.join("README.md"), root.join("ARCHITECTURE.md")];
    let guide = root.join("docs/guide");
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&guide)
        .unwrap_or_else(|err| panic!("{}: {err}", guide.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    pages.sort();
    docs.extend(pages);
    docs
}

/// The fenced ```toml blocks of a Markdown text, with the line each starts on.
fn toml_blocks(text: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        match current.as_mut() {
            None if trimmed.starts_with("```toml") => current = Some((index + 1, String::new())),
            None => {}
            Some(_) if trimmed.starts_with("```") => blocks.extend(current.take()),
            Some((_, body)) => {
                body.push_str(line);
                body.push('\n');
            }
        }
    }
    assert!(current.is_none(), "unterminated ```toml block");
    blocks
}

/// The environment the examples are built with, as a real deployment's would be: a crypt
/// key for examples with `enable_auth_state`, and the secrets examples read from variables.
fn env() -> MapEnv {
    let mut env = MapEnv::new();
    env.set(
        "JUPYTERHUB_CRYPT_KEY",
        "0000000000000000000000000000000000000000000000000000000000000001",
    );
    env.set(
        "JUPYTERHUB_CLIENT_SECRET",
        "a-service-secret-from-the-environment",
    );
    env
}

#[test]
fn every_toml_example_in_the_docs_is_valid_configuration() {
    let registry = hubauth_cli::registry().unwrap();
    let env = env();
    let mut checked = 0;
    let mut failures = Vec::new();
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        let name = doc.strip_prefix(repo_root()).unwrap().display().to_string();
        for (line, block) in toml_blocks(&text) {
            let source = format!("{name}:{line}");
            checked += 1;
            let result = Config::parse(&block, &source, &registry)
                .map_err(|err| err.to_string())
                .and_then(|config| {
                    hubauth_cli::build(&config, &registry, &env)
                        .map(|_| ())
                        .map_err(|err| format!("{err:#}"))
                });
            if let Err(err) = result {
                // Parse errors name the source (file:line) themselves; build errors may not.
                if err.contains(&source) {
                    failures.push(err);
                } else {
                    failures.push(format!("{source}: {err}"));
                }
            }
        }
    }
    assert!(
        checked >= 10,
        "expected the docs to hold TOML examples, found {checked}"
    );
    assert!(
        failures.is_empty(),
        "invalid TOML examples in the docs:\n{}",
        failures.join("\n")
    );
}

#[test]
fn the_guide_links_only_to_files_that_exist() {
    let root = repo_root();
    let link = regex::Regex::new(r"\]\(([^)#\s]+)(#[^)]*)?\)").unwrap();
    let mut broken = Vec::new();
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        for captures in link.captures_iter(&text) {
            let target = &captures[1];
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let resolved = doc.parent().unwrap().join(target);
            if !resolved.exists() {
                broken.push(format!(
                    "{}: {target}",
                    doc.strip_prefix(&root).unwrap().display()
                ));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}
