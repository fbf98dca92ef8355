//! The set of configurable classes in a build, with their inheritance.
//!
//! A [`Registry`] knows every [`ClassDef`] that may appear as a table in the config file,
//! computes each class's method resolution order (C3 linearization, as Python does) and
//! answers which options a class has, including inherited ones.

use std::collections::{BTreeMap, BTreeSet};

use crate::def::{ClassDef, OptionDef};

/// Why a set of class definitions cannot form a [`Registry`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// Two definitions share one class name.
    #[error("class `{0}` is registered twice")]
    DuplicateClass(String),
    /// A class names a base class that is not registered.
    #[error("class `{class}` inherits from `{base}`, which is not a registered class")]
    UnknownBase {
        /// The class that names the base.
        class: String,
        /// The unknown base.
        base: String,
    },
    /// A class inherits (directly or not) from itself.
    #[error("class `{0}` inherits from itself")]
    CyclicInheritance(String),
    /// No consistent C3 linearization exists for a class.
    #[error(
        "cannot create a consistent method resolution order for class `{class}` (bases {bases})"
    )]
    InconsistentMro {
        /// The class whose bases cannot be ordered.
        class: String,
        /// Its direct bases, comma separated.
        bases: String,
    },
    /// One class declares two options with the same name.
    #[error("class `{class}` declares option `{option}` twice")]
    DuplicateOption {
        /// The class.
        class: String,
        /// The option declared twice.
        option: String,
    },
}

/// The configurable classes of a build, with their resolved inheritance.
#[derive(Debug, Clone)]
pub struct Registry {
    classes: Vec<&'static ClassDef>,
    index: BTreeMap<&'static str, usize>,
    /// For each class (by index), its MRO as indices, most specific (itself) first.
    mros: Vec<Vec<usize>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Visit {
    New,
    InProgress,
    Done,
}

impl Registry {
    /// Builds a registry from class definitions, in registration order.
    ///
    /// Fails when two classes share a name, a base class is not among `classes`, a class
    /// declares an option twice, inheritance is cyclic, or a class's bases admit no
    /// consistent C3 linearization.
    pub fn new(
        classes: impl IntoIterator<Item = &'static ClassDef>,
    ) -> Result<Registry, RegistryError> {
        let classes: Vec<&'static ClassDef> = classes.into_iter().collect();
        let mut index = BTreeMap::new();
        for (i, class) in classes.iter().enumerate() {
            if index.insert(class.name, i).is_some() {
                return Err(RegistryError::DuplicateClass(class.name.to_owned()));
            }
            let mut seen = BTreeSet::new();
            for option in class.options {
                if !seen.insert(option.name) {
                    return Err(RegistryError::DuplicateOption {
                        class: class.name.to_owned(),
                        option: option.name.to_owned(),
                    });
                }
            }
        }
        for class in &classes {
            for base in class.bases {
                if !index.contains_key(base) {
                    return Err(RegistryError::UnknownBase {
                        class: class.name.to_owned(),
                        base: (*base).to_owned(),
                    });
                }
            }
        }
        let mut state = vec![Visit::New; classes.len()];
        let mut mros: Vec<Vec<usize>> = vec![Vec::new(); classes.len()];
        for i in 0..classes.len() {
            linearize(i, &classes, &index, &mut state, &mut mros)?;
        }
        Ok(Registry {
            classes,
            index,
            mros,
        })
    }

    /// The class registered under `name`.
    pub fn class(&self, name: &str) -> Option<&'static ClassDef> {
        self.index.get(name).map(|&i| self.classes[i])
    }

    /// Every registered class, in registration order.
    pub fn classes(&self) -> &[&'static ClassDef] {
        &self.classes
    }

    /// The method resolution order of `name`: the class itself, then its bases by C3
    /// linearization, most specific first. Empty when the class is unknown.
    pub fn mro(&self, name: &str) -> Vec<&'static ClassDef> {
        match self.index.get(name) {
            Some(&i) => self.mros[i].iter().map(|&j| self.classes[j]).collect(),
            None => Vec::new(),
        }
    }

    /// Every effective option of `class`, each name once, with the class whose declaration
    /// applies (the most specific class in the MRO that declares it).
    ///
    /// Options are ordered from the most general class to the most specific one, in
    /// declaration order, so base-class options come first. Empty for an unknown class.
    pub fn options_of(&self, class: &str) -> Vec<(&'static ClassDef, &'static OptionDef)> {
        let mut out: Vec<(&'static ClassDef, &'static OptionDef)> = Vec::new();
        let mut position: BTreeMap<&'static str, usize> = BTreeMap::new();
        for owner in self.mro(class).into_iter().rev() {
            for option in owner.options {
                match position.get(option.name) {
                    Some(&i) => out[i] = (owner, option),
                    None => {
                        position.insert(option.name, out.len());
                        out.push((owner, option));
                    }
                }
            }
        }
        out
    }

    /// The effective declaration of option `name` for `class`: the most specific class in
    /// its MRO that declares it, and that declaration.
    pub fn option(
        &self,
        class: &str,
        name: &str,
    ) -> Option<(&'static ClassDef, &'static OptionDef)> {
        self.mro(class).into_iter().find_map(|owner| {
            owner
                .options
                .iter()
                .find(|option| option.name == name)
                .map(|option| (owner, option))
        })
    }

    /// The effective option of `class` that accepts `old` as a deprecated name, with the
    /// matching [`Deprecated`](crate::def::Deprecated) entry.
    pub fn deprecated_option(
        &self,
        class: &str,
        old: &str,
    ) -> Option<(
        &'static ClassDef,
        &'static OptionDef,
        &'static crate::def::Deprecated,
    )> {
        self.options_of(class)
            .into_iter()
            .find_map(|(owner, option)| {
                option
                    .deprecated
                    .iter()
                    .find(|alias| alias.name == old)
                    .map(|alias| (owner, option, alias))
            })
    }

    /// The registered classes that introduce an option named `name`, in registration order.
    ///
    /// A class that only re-declares an option it already inherits is not listed, so the
    /// answer names where an option comes from (`OAuthenticator`, not every subclass).
    pub fn classes_declaring(&self, name: &str) -> Vec<&'static ClassDef> {
        self.classes
            .iter()
            .enumerate()
            .filter(|(i, class)| {
                class.options.iter().any(|option| option.name == name)
                    && !self.mros[*i].iter().skip(1).any(|&j| {
                        self.classes[j]
                            .options
                            .iter()
                            .any(|option| option.name == name)
                    })
            })
            .map(|(_, class)| *class)
            .collect()
    }

    /// Whether `class` is `base` or inherits from it.
    pub fn is_subclass(&self, class: &str, base: &str) -> bool {
        self.mro(class).iter().any(|c| c.name == base)
    }
}

/// Computes (memoized) the C3 linearization of class `i`.
fn linearize(
    i: usize,
    classes: &[&'static ClassDef],
    index: &BTreeMap<&'static str, usize>,
    state: &mut [Visit],
    mros: &mut [Vec<usize>],
) -> Result<(), RegistryError> {
    match state[i] {
        Visit::Done => return Ok(()),
        Visit::InProgress => {
            return Err(RegistryError::CyclicInheritance(classes[i].name.to_owned()));
        }
        Visit::New => {}
    }
    state[i] = Visit::InProgress;
    let mut bases = Vec::new();
    for base in classes[i].bases {
        let Some(&b) = index.get(base) else {
            return Err(RegistryError::UnknownBase {
                class: classes[i].name.to_owned(),
                base: (*base).to_owned(),
            });
        };
        linearize(b, classes, index, state, mros)?;
        bases.push(b);
    }
    let mut sequences: Vec<Vec<usize>> = bases.iter().map(|&b| mros[b].clone()).collect();
    sequences.push(bases.clone());
    let mut result = vec![i];
    loop {
        sequences.retain(|seq| !seq.is_empty());
        if sequences.is_empty() {
            break;
        }
        let candidate = sequences.iter().map(|seq| seq[0]).find(|&head| {
            sequences
                .iter()
                .all(|seq| !seq.iter().skip(1).any(|&c| c == head))
        });
        let Some(next) = candidate else {
            return Err(RegistryError::InconsistentMro {
                class: classes[i].name.to_owned(),
                bases: classes[i].bases.join(", "),
            });
        };
        result.push(next);
        for seq in &mut sequences {
            if seq.first() == Some(&next) {
                seq.remove(0);
            }
        }
    }
    mros[i] = result;
    state[i] = Visit::Done;
    Ok(())
}
