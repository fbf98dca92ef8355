//! Server-rendered pages (minijinja, autoescaped).

use minijinja::Environment;
use serde::Serialize;

/// The built-in templates, by name.
const TEMPLATES: &[(&str, &str)] = &[
    ("page.html", include_str!("templates/page.html")),
    ("login.html", include_str!("templates/login.html")),
    ("home.html", include_str!("templates/home.html")),
    ("error.html", include_str!("templates/error.html")),
    ("logout.html", include_str!("templates/logout.html")),
    (
        "oauth2_authorize.html",
        include_str!("templates/oauth2_authorize.html"),
    ),
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

/// The page renderer.
#[derive(Debug)]
pub struct Pages {
    env: Environment<'static>,
}

impl Pages {
    /// Loads the built-in templates.
    pub fn new() -> Result<Self, RenderError> {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source).map_err(|err| RenderError {
                name: (*name).to_owned(),
                detail: err.to_string(),
            })?;
        }
        Ok(Pages { env })
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
