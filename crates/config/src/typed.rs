//! A class's option table and its typed struct from one list.
//!
//! [`options!`](crate::options) declares the [`ClassDef`](crate::ClassDef) (which drives
//! parsing, environment variables, deprecated names, `generate-config` and the reference)
//! and a struct with one field per option, of the option's Rust type, with `load` reading
//! every field from a [`ClassView`]. The field name is the option name, so a struct and
//! its table cannot disagree. The struct is the raw stage: what the file, the environment
//! and the defaults say; each class validates it into its own configuration type
//! afterwards (ranges, regular expressions, options that depend on each other).
//!
//! ```
//! use hubauth_config::DefaultValue::{Computed, Literal};
//! use hubauth_config::{Config, MapEnv, Registry};
//!
//! hubauth_config::options! {
//!     /// The `[Example]` table.
//!     pub static EXAMPLE = class "Example" {
//!         bases: [],
//!         help: "An example class.",
//!     };
//!     /// `[Example]` as read.
//!     pub struct ExampleOptions {
//!         retries: i64 = (Int, Literal("3"), "How many times to try."),
//!         name: Option<String> = (Str, Computed("the host name"), "What to call it.")
//!             .env(&["EXAMPLE_NAME"]),
//!     }
//! }
//!
//! let registry = Registry::new([&EXAMPLE]).unwrap();
//! let config = Config::parse("[Example]\nretries = 5\n", "hubauth.toml", &registry).unwrap();
//! let env = MapEnv::new();
//! let options = ExampleOptions::load(&config.view(&registry, "Example", &env)).unwrap();
//! assert_eq!(options.retries, 5);
//! assert_eq!(options.name, None);
//! assert_eq!(ExampleOptions::defaults().unwrap().retries, 3);
//! ```

use crate::{ClassDef, ClassView, Config, ConfigError, FromOption, MapEnv, Registry};

/// How a field of an [`options!`](crate::options) struct is read: a value of the option's
/// type (its default when unset), or `Option<T>` for an option whose default is computed
/// by the class (`None` when unset).
pub trait LoadOption: Sized {
    /// Reads option `name` from `view`.
    fn load(view: &ClassView<'_>, name: &str) -> Result<Self, ConfigError>;
}

impl<T: FromOption> LoadOption for T {
    fn load(view: &ClassView<'_>, name: &str) -> Result<Self, ConfigError> {
        view.get(name)
    }
}

impl<T: FromOption> LoadOption for Option<T> {
    fn load(view: &ClassView<'_>, name: &str) -> Result<Self, ConfigError> {
        view.get_opt(name)
    }
}

/// Loads a struct from the defaults of `class`'s own options alone: no file, no
/// environment, no base classes. What an [`options!`](crate::options) struct's
/// `defaults()` calls.
pub fn load_defaults<T>(
    class: &'static ClassDef,
    load: impl FnOnce(&ClassView<'_>) -> Result<T, ConfigError>,
) -> Result<T, ConfigError> {
    let registry = Registry::new([class]).map_err(|err| ConfigError::ClassUnavailable {
        class: class.name,
        message: err.to_string(),
    })?;
    let config = Config::parse("", "the defaults", &registry)?;
    let env = MapEnv::new();
    load(&ClassView::new(&config, &registry, class.name, &env))
}

/// Declares a class's option table (a `static` [`ClassDef`](crate::ClassDef)) and a struct
/// with one typed field per option, read by its `load` function. See the
/// [module documentation](crate::typed).
///
/// Each option is `name: RustType = (Kind, Default, "help")` followed by any of the
/// [`OptionDef`](crate::OptionDef) builder calls (`.env(&[...])`, `.deprecated(...)`,
/// `.secret()`); `Kind` is an [`OptionType`](crate::OptionType) variant. An option with a
/// computed default is an `Option<T>` field.
#[macro_export]
macro_rules! options {
    (
        $(#[$class_meta:meta])*
        $class_vis:vis static $class:ident = class $name:literal {
            bases: [$($base:literal),* $(,)?],
            help: $help:expr $(,)?
        };
        $(#[$struct_meta:meta])*
        $struct_vis:vis struct $options:ident {
            $(
                $field:ident : $ty:ty = ($kind:ident, $default:expr, $field_help:expr $(,)?)
                    $(. $builder:ident ( $($arg:expr),* ))*
            ),* $(,)?
        }
    ) => {
        $(#[$class_meta])*
        $class_vis static $class: $crate::ClassDef = $crate::ClassDef {
            name: $name,
            bases: &[$($base),*],
            help: $help,
            options: $options::OPTIONS,
        };

        $(#[$struct_meta])*
        #[derive(Clone, PartialEq)]
        $struct_vis struct $options {
            $(
                #[doc = concat!("`", stringify!($field), "`, as the file, the environment or the default gives it.")]
                pub $field: $ty,
            )*
        }

        impl $options {
            /// The table's options, in declaration order.
            $struct_vis const OPTIONS: &'static [$crate::OptionDef] = &[$(
                $crate::OptionDef::new(
                    stringify!($field),
                    $crate::OptionType::$kind,
                    $default,
                    $field_help,
                )$(.$builder($($arg),*))*
            ),*];

            /// Every option at its default (no file, no environment); computed defaults
            /// are `None`.
            $struct_vis fn defaults() -> ::std::result::Result<Self, $crate::ConfigError> {
                Self::with_defaults(Self::load)
            }

            /// Runs `read` (a class's `from_view`) on a view of this table alone with
            /// every option at its default: what a configuration without the table
            /// gives, for the class's `Default`.
            $struct_vis fn with_defaults<T>(
                read: impl FnOnce(&$crate::ClassView<'_>) -> ::std::result::Result<T, $crate::ConfigError>,
            ) -> ::std::result::Result<T, $crate::ConfigError> {
                static ALONE: $crate::ClassDef = $crate::ClassDef {
                    name: $name,
                    bases: &[],
                    help: "",
                    options: $options::OPTIONS,
                };
                $crate::typed::load_defaults(&ALONE, read)
            }

            /// Reads every option of the table from `view`: the file, then the environment
            /// variables, then the default.
            $struct_vis fn load(view: &$crate::ClassView<'_>) -> ::std::result::Result<Self, $crate::ConfigError> {
                Ok($options {
                    $($field: <$ty as $crate::typed::LoadOption>::load(view, stringify!($field))?,)*
                })
            }
        }

        // Values may be secrets: the names only.
        impl ::std::fmt::Debug for $options {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(stringify!($options)).finish_non_exhaustive()
            }
        }
    };
}
