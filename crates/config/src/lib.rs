//! Configuration for hubauth: TOML with one table per class, as traitlets does.
//!
//! See [`def`] for how options are declared, [`Registry`] for the set of classes
//! in a build, [`Config::load`] for reading a file and [`ClassView`] for reading
//! the resolved value of an option for one class; [`options!`] declares a class's table
//! and its typed struct from one list.
//!
//! ```
//! use hubauth_config::{ClassDef, Config, DefaultValue, MapEnv, OptionDef, OptionType, Registry};
//!
//! static AUTH: ClassDef = ClassDef {
//!     name: "Authenticator",
//!     bases: &[],
//!     help: "Base class.",
//!     options: &[OptionDef::new(
//!         "auth_refresh_age",
//!         OptionType::Int,
//!         DefaultValue::Literal("300"),
//!         "Seconds before auth info is refreshed.",
//!     )],
//! };
//! static DUMMY: ClassDef = ClassDef {
//!     name: "DummyAuthenticator",
//!     bases: &["Authenticator"],
//!     help: "For testing.",
//!     options: &[],
//! };
//!
//! let registry = Registry::new([&AUTH, &DUMMY]).unwrap();
//! let config = Config::parse("[Authenticator]\nauth_refresh_age = 60\n", "hubauth.toml", &registry).unwrap();
//! let env = MapEnv::new();
//! let view = config.view(&registry, "DummyAuthenticator", &env);
//! assert_eq!(view.get::<i64>("auth_refresh_age").unwrap(), 60);
//! ```
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod def;
pub mod env;
pub mod error;
pub mod load;
pub mod registry;
pub mod render;
pub mod typed;
pub mod view;

pub use def::{ClassDef, DefaultValue, Deprecated, OptionDef, OptionType};
pub use env::{Env, MapEnv, ProcessEnv};
pub use error::{ConfigError, Location};
pub use load::{Config, closest};
pub use registry::{Registry, RegistryError};
pub use render::{generate_config, reference_markdown};
pub use view::{ClassView, FromOption, Origin};

// The behaviour tests name the crate as its users do.
#[cfg(test)]
extern crate self as hubauth_config;

#[cfg(test)]
mod tests;
