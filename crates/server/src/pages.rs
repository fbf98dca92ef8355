//! Server-rendered pages (minijinja, autoescaped).
//!
//! Templates come from `[Hub] template_paths` first (a file named like a built-in
//! template replaces it, as JupyterHub's `template_paths`), then from the built-in set.
//! Every page sees the globals `announcement` and `logo_url`.

use std::path::{Path, PathBuf};

use minijinja::Environment;
use serde::Serialize;

use crate::options::HubConfig;

/// The largest logo file accepted.
const MAX_LOGO_BYTES: u64 = 1024 * 1024;

/// The built-in templates, by name.
const TEMPLATES: &[(&str, &str)] = &[
    ("page.html", include_str!("templates/page.html")),
    ("login.html", include_str!("templates/login.html")),
    ("home.html", include_str!("templates/home.html")),
    ("error.html", include_str!("templates/error.html")),
    ("logout.html", include_str!("templates/logout.html")),
    (
        "logout_confirm.html",
        include_str!("templates/logout_confirm.html"),
    ),
    (
        "oauth2_authorize.html",
        include_str!("templates/oauth2_authorize.html"),
    ),
    ("admin.html", include_str!("templates/admin.html")),
];

/// A template failed to render (a bug in a template, reported as a 500).
#[derive(Debug, thiserror::Error)]
#[error("template {name} failed to render: {detail}")]
pub struct RenderError {
    /// The template.
    pub name: String,
    /// What went wrong.
    pub detail: String,
}

/// The logo image served at `{base_url}hub/logo`.
#[derive(Debug, Clone)]
pub struct Logo {
    /// The file's bytes.
    pub bytes: axum::body::Bytes,
    /// Its media type, from the file name's extension.
    pub content_type: &'static str,
}

/// The page renderer.
#[derive(Debug)]
pub struct Pages {
    env: Environment<'static>,
    logo: Option<Logo>,
}

/// Whether a template name may be looked up in a directory (no absolute paths, no `..`).
fn safe_template_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && !name.contains('\\')
        && name
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

/// Reads the template `name` from the first directory that has it, else the built-in one.
fn load_template(dirs: &[PathBuf], name: &str) -> Result<Option<String>, minijinja::Error> {
    if safe_template_name(name) {
        for dir in dirs {
            let path = dir.join(name);
            match std::fs::read_to_string(&path) {
                Ok(source) => return Ok(Some(source)),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => {
                    return Err(minijinja::Error::new(
                        minijinja::ErrorKind::TemplateNotFound,
                        format!("cannot read {}: {err}", path.display()),
                    ));
                }
            }
        }
    }
    Ok(TEMPLATES
        .iter()
        .find(|(builtin, _)| *builtin == name)
        .map(|(_, source)| (*source).to_owned()))
}

fn read_logo(path: &Path) -> Result<Logo, RenderError> {
    let fail = |detail: String| RenderError {
        name: "logo_file".to_owned(),
        detail,
    };
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let content_type = match extension.as_str() {
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        _ => {
            return Err(fail(format!(
                "{}: must be a .png, .svg, .jpg, .gif or .webp file",
                path.display()
            )));
        }
    };
    let metadata =
        std::fs::metadata(path).map_err(|err| fail(format!("{}: {err}", path.display())))?;
    if metadata.len() > MAX_LOGO_BYTES {
        return Err(fail(format!("{}: larger than 1 MB", path.display())));
    }
    let bytes = std::fs::read(path).map_err(|err| fail(format!("{}: {err}", path.display())))?;
    Ok(Logo {
        bytes: bytes.into(),
        content_type,
    })
}

impl Pages {
    /// The built-in templates only, with no announcement or logo.
    pub fn new() -> Result<Self, RenderError> {
        Pages::from_config(&HubConfig::default())
    }

    /// The templates for a hub: `template_paths` before the built-in ones, the
    /// announcement and the logo. Every built-in name is compiled now, so a broken custom
    /// template stops the start with its name.
    pub fn from_config(config: &HubConfig) -> Result<Self, RenderError> {
        let mut env = Environment::new();
        let dirs = config.template_paths.clone();
        for dir in &dirs {
            if !dir.is_dir() {
                return Err(RenderError {
                    name: "template_paths".to_owned(),
                    detail: format!("{} is not a directory", dir.display()),
                });
            }
        }
        env.set_loader(move |name| load_template(&dirs, name));
        let logo = if config.logo_file.as_os_str().is_empty() {
            None
        } else {
            Some(read_logo(&config.logo_file)?)
        };
        env.add_global("announcement", config.announcement.trim().to_owned());
        env.add_global(
            "logo_url",
            if logo.is_some() {
                format!("{}logo", config.hub_prefix())
            } else {
                String::new()
            },
        );
        for (name, _) in TEMPLATES {
            env.get_template(name).map_err(|err| RenderError {
                name: (*name).to_owned(),
                detail: format!("{err:#}"),
            })?;
        }
        Ok(Pages { env, logo })
    }

    /// The logo, when `logo_file` is set.
    pub fn logo(&self) -> Option<&Logo> {
        self.logo.as_ref()
    }

    /// Renders a template with a context.
    pub fn render<S: Serialize>(&self, name: &str, context: S) -> Result<String, RenderError> {
        let fail = |err: minijinja::Error| RenderError {
            name: name.to_owned(),
            detail: err.to_string(),
        };
        self.env
            .get_template(name)
            .map_err(fail)?
            .render(context)
            .map_err(fail)
    }
}

/// The user shown in page headers and on the home page.
#[derive(Debug, Clone, Serialize)]
pub struct PageUser {
    /// The user name.
    pub name: String,
    /// Whether the user is an admin.
    pub admin: bool,
    /// The user's groups.
    pub groups: Vec<String>,
}
