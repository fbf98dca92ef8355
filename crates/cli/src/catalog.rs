//! The authenticator classes this build has, and how `authenticator_class` names them.

use std::sync::Arc;

use hubauth_config::{ClassDef, ClassView, ConfigError};
use hubauth_core::{Authenticator, DummyAuthenticator, SharedPasswordAuthenticator};
use hubauth_local::Local;

/// One selectable authenticator class.
pub struct Entry {
    /// The class name (`DummyAuthenticator`).
    pub class: &'static str,
    /// The short names and Python import paths JupyterHub accepts for it.
    pub aliases: &'static [&'static str],
    /// Builds it from its class view.
    pub build: fn(&ClassView<'_>) -> Result<Arc<dyn Authenticator>, ConfigError>,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("class", &self.class)
            .field("aliases", &self.aliases)
            .finish_non_exhaustive()
    }
}

fn dummy(view: &ClassView<'_>) -> Result<Arc<dyn Authenticator>, ConfigError> {
    Ok(Arc::new(DummyAuthenticator::from_view(view)?))
}

fn shared_password(view: &ClassView<'_>) -> Result<Arc<dyn Authenticator>, ConfigError> {
    Ok(Arc::new(SharedPasswordAuthenticator::from_view(view)?))
}

fn generic_oauth(view: &ClassView<'_>) -> Result<Arc<dyn Authenticator>, ConfigError> {
    Ok(Arc::new(hubauth_oauth::generic_from_view(view)?))
}

#[cfg(feature = "pam")]
fn pam(view: &ClassView<'_>) -> Result<Arc<dyn Authenticator>, ConfigError> {
    Ok(Arc::new(Local::from_view(
        view,
        hubauth_local::Pam::from_view,
    )?))
}

/// The names of `PAMAuthenticator` (the class and its aliases). `default` is JupyterHub's
/// name for it, and `[Hub] authenticator_class` defaults to `pam`.
const PAM_NAMES: &[&str] = &[
    "PAMAuthenticator",
    "pam",
    "default",
    "jupyterhub.auth.PAMAuthenticator",
];

fn local_generic_oauth(view: &ClassView<'_>) -> Result<Arc<dyn Authenticator>, ConfigError> {
    Ok(Arc::new(Local::from_view(
        view,
        hubauth_oauth::generic_from_view,
    )?))
}

fn azuread(view: &ClassView<'_>) -> Result<Arc<dyn Authenticator>, ConfigError> {
    Ok(Arc::new(hubauth_azuread::azuread_from_view(view)?))
}

fn local_azuread(view: &ClassView<'_>) -> Result<Arc<dyn Authenticator>, ConfigError> {
    Ok(Arc::new(hubauth_azuread::local_azuread_from_view(view)?))
}

fn ldap(view: &ClassView<'_>) -> Result<Arc<dyn Authenticator>, ConfigError> {
    Ok(Arc::new(hubauth_ldap::LdapAuthenticator::from_view(view)?))
}

fn github(view: &ClassView<'_>) -> Result<Arc<dyn Authenticator>, ConfigError> {
    Ok(Arc::new(hubauth_github::github_from_view(view)?))
}

fn google(view: &ClassView<'_>) -> Result<Arc<dyn Authenticator>, ConfigError> {
    Ok(Arc::new(hubauth_google::google_from_view(view)?))
}

fn gitlab(view: &ClassView<'_>) -> Result<Arc<dyn Authenticator>, ConfigError> {
    Ok(Arc::new(hubauth_gitlab::gitlab_from_view(view)?))
}

fn local_gitlab(view: &ClassView<'_>) -> Result<Arc<dyn Authenticator>, ConfigError> {
    Ok(Arc::new(hubauth_gitlab::local_gitlab_from_view(view)?))
}

fn cilogon(view: &ClassView<'_>) -> Result<Arc<dyn Authenticator>, ConfigError> {
    Ok(Arc::new(hubauth_cilogon::cilogon_from_view(view)?))
}

fn globus(view: &ClassView<'_>) -> Result<Arc<dyn Authenticator>, ConfigError> {
    Ok(Arc::new(hubauth_globus::globus_from_view(view)?))
}

/// `LocalGenericOAuthenticator`: GenericOAuthenticator whose users are local UNIX users.
pub static LOCAL_GENERIC_OAUTHENTICATOR: ClassDef =
    hubauth_local::local_class_def!("LocalGenericOAuthenticator", "GenericOAuthenticator");

/// Every authenticator in this build.
pub const ENTRIES: &[Entry] = &[
    Entry {
        class: "DummyAuthenticator",
        aliases: &["dummy", "jupyterhub.auth.DummyAuthenticator"],
        build: dummy,
    },
    Entry {
        class: "SharedPasswordAuthenticator",
        aliases: &[
            "shared-password",
            "jupyterhub.authenticators.shared.SharedPasswordAuthenticator",
        ],
        build: shared_password,
    },
    Entry {
        class: "GenericOAuthenticator",
        aliases: &[
            "generic-oauth",
            "generic",
            "oauthenticator.generic.GenericOAuthenticator",
            "oauthenticator.GenericOAuthenticator",
        ],
        build: generic_oauth,
    },
    #[cfg(feature = "pam")]
    Entry {
        class: PAM_NAMES[0],
        aliases: &[PAM_NAMES[1], PAM_NAMES[2], PAM_NAMES[3]],
        build: pam,
    },
    Entry {
        class: "LocalGenericOAuthenticator",
        aliases: &[
            "local-generic-oauth",
            "oauthenticator.generic.LocalGenericOAuthenticator",
            "oauthenticator.LocalGenericOAuthenticator",
        ],
        build: local_generic_oauth,
    },
    Entry {
        class: "GlobusOAuthenticator",
        aliases: &[
            "globus",
            "oauthenticator.globus.GlobusOAuthenticator",
            "oauthenticator.GlobusOAuthenticator",
        ],
        build: globus,
    },
    Entry {
        class: "LocalGlobusOAuthenticator",
        aliases: &[
            "local-globus",
            "oauthenticator.globus.LocalGlobusOAuthenticator",
            "oauthenticator.LocalGlobusOAuthenticator",
        ],
        build: hubauth_globus::local_globus_from_view,
    },
    Entry {
        class: "AzureAdOAuthenticator",
        aliases: &[
            "azuread",
            "oauthenticator.azuread.AzureAdOAuthenticator",
            "oauthenticator.AzureAdOAuthenticator",
        ],
        build: azuread,
    },
    Entry {
        class: "LocalAzureAdOAuthenticator",
        aliases: &[
            "local-azuread",
            "oauthenticator.azuread.LocalAzureAdOAuthenticator",
            "oauthenticator.LocalAzureAdOAuthenticator",
        ],
        build: local_azuread,
    },
    Entry {
        class: "GitHubOAuthenticator",
        aliases: &[
            "github",
            "oauthenticator.github.GitHubOAuthenticator",
            "oauthenticator.GitHubOAuthenticator",
        ],
        build: github,
    },
    Entry {
        class: "LocalGitHubOAuthenticator",
        aliases: &[
            "local-github",
            "oauthenticator.github.LocalGitHubOAuthenticator",
            "oauthenticator.LocalGitHubOAuthenticator",
        ],
        build: hubauth_github::local_github_from_view,
    },
    Entry {
        class: "GoogleOAuthenticator",
        aliases: &[
            "google",
            "oauthenticator.google.GoogleOAuthenticator",
            "oauthenticator.GoogleOAuthenticator",
        ],
        build: google,
    },
    Entry {
        class: "LocalGoogleOAuthenticator",
        aliases: &[
            "local-google",
            "oauthenticator.google.LocalGoogleOAuthenticator",
            "oauthenticator.LocalGoogleOAuthenticator",
        ],
        build: hubauth_google::local_google_from_view,
    },
    Entry {
        class: "GitLabOAuthenticator",
        aliases: &["gitlab", "oauthenticator.gitlab.GitLabOAuthenticator"],
        build: gitlab,
    },
    Entry {
        class: "LocalGitLabOAuthenticator",
        aliases: &[
            "local-gitlab",
            "oauthenticator.gitlab.LocalGitLabOAuthenticator",
        ],
        build: local_gitlab,
    },
    Entry {
        class: "MWOAuthenticator",
        aliases: &["mediawiki", "oauthenticator.mediawiki.MWOAuthenticator"],
        build: hubauth_mediawiki::mediawiki_authenticator,
    },
    Entry {
        class: "CILogonOAuthenticator",
        aliases: &[
            "cilogon",
            "oauthenticator.cilogon.CILogonOAuthenticator",
            "oauthenticator.CILogonOAuthenticator",
        ],
        build: cilogon,
    },
    Entry {
        class: "LocalCILogonOAuthenticator",
        aliases: &[
            "local-cilogon",
            "oauthenticator.cilogon.LocalCILogonOAuthenticator",
            "oauthenticator.LocalCILogonOAuthenticator",
        ],
        build: hubauth_cilogon::local_cilogon_from_view,
    },
    Entry {
        class: "BitbucketOAuthenticator",
        aliases: &[
            "bitbucket",
            "oauthenticator.bitbucket.BitbucketOAuthenticator",
            "oauthenticator.BitbucketOAuthenticator",
        ],
        build: hubauth_bitbucket::bitbucket_authenticator,
    },
    Entry {
        class: "LocalBitbucketOAuthenticator",
        aliases: &[
            "local-bitbucket",
            "oauthenticator.bitbucket.LocalBitbucketOAuthenticator",
            "oauthenticator.LocalBitbucketOAuthenticator",
        ],
        build: hubauth_bitbucket::local_bitbucket_from_view,
    },
    Entry {
        class: "OpenShiftOAuthenticator",
        aliases: &[
            "openshift",
            "oauthenticator.openshift.OpenShiftOAuthenticator",
        ],
        build: hubauth_openshift::openshift_authenticator,
    },
    Entry {
        class: "LocalOpenShiftOAuthenticator",
        aliases: &[
            "local-openshift",
            "oauthenticator.openshift.LocalOpenShiftOAuthenticator",
        ],
        build: hubauth_openshift::local_openshift_from_view,
    },
    Entry {
        class: "Auth0OAuthenticator",
        aliases: &["auth0", "oauthenticator.auth0.Auth0OAuthenticator"],
        build: hubauth_auth0::auth0_authenticator,
    },
    Entry {
        class: "LocalAuth0OAuthenticator",
        aliases: &[
            "local-auth0",
            "oauthenticator.auth0.LocalAuth0OAuthenticator",
        ],
        build: hubauth_auth0::local_auth0_from_view,
    },
    Entry {
        class: "LDAPAuthenticator",
        aliases: &[
            "ldap",
            "ldapauthenticator",
            "ldapauthenticator.LDAPAuthenticator",
            "ldapauthenticator.ldapauthenticator.LDAPAuthenticator",
        ],
        build: ldap,
    },
];

/// Classes JupyterHub knows that later hubauth releases add; named in errors so that a
/// user sees the difference between a typo and a class not built yet.
const NOT_YET: &[(&str, &str)] = &[];

/// Every class definition for the config registry, in generate-config order.
pub fn class_defs() -> Vec<&'static ClassDef> {
    let mut defs: Vec<&'static ClassDef> = vec![&hubauth_server::HUB];
    defs.extend(hubauth_core::options::classes());
    defs.extend(hubauth_local::classes());
    defs.extend(hubauth_oauth::classes());
    defs.push(&LOCAL_GENERIC_OAUTHENTICATOR);
    defs.extend(hubauth_globus::classes());
    defs.extend(hubauth_azuread::classes());
    defs.extend(hubauth_github::classes());
    defs.extend(hubauth_google::classes());
    defs.extend(hubauth_gitlab::classes());
    defs.extend(hubauth_mediawiki::classes());
    defs.extend(hubauth_cilogon::classes());
    defs.extend(hubauth_bitbucket::classes());
    defs.extend(hubauth_openshift::classes());
    defs.extend(hubauth_auth0::classes());
    defs.extend(hubauth_ldap::classes());
    defs
}

/// Finds the entry for an `authenticator_class` value.
pub fn lookup(name: &str) -> Result<&'static Entry, String> {
    let trimmed = name.trim();
    if let Some(entry) = ENTRIES
        .iter()
        .find(|entry| entry.class == trimmed || entry.aliases.contains(&trimmed))
    {
        return Ok(entry);
    }
    let known: Vec<&str> = ENTRIES
        .iter()
        .flat_map(|entry| entry.aliases.iter().take(1).copied())
        .collect();
    if !cfg!(feature = "pam") && PAM_NAMES.contains(&trimmed) {
        return Err(format!(
            "this build of hubauth has no PAM support ({trimmed:?} names PAMAuthenticator, \
             which is also what an unset authenticator_class means; it needs the `pam` \
             feature, which the static build leaves out); set authenticator_class to one of: {}",
            known.join(", ")
        ));
    }
    if let Some((_, class)) = NOT_YET.iter().find(|(alias, _)| *alias == trimmed) {
        return Err(format!(
            "{class} is not available in this build of hubauth yet; available: {}",
            known.join(", ")
        ));
    }
    let names = ENTRIES
        .iter()
        .flat_map(|entry| entry.aliases.iter().copied().chain([entry.class]));
    let hint = hubauth_config::closest(trimmed, names)
        .map(|name| format!(" (did you mean {name:?}?)"))
        .unwrap_or_default();
    Err(format!(
        "unknown authenticator class {trimmed:?}{hint}; available: {}",
        known.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "pam")]
    #[test]
    fn every_pam_name_finds_pam_authenticator() {
        for name in PAM_NAMES {
            let entry = lookup(name).map(|entry| entry.class);
            assert_eq!(entry, Ok("PAMAuthenticator"), "{name}");
        }
    }

    #[cfg(not(feature = "pam"))]
    #[test]
    fn without_pam_every_pam_name_says_so() {
        assert!(
            ENTRIES
                .iter()
                .all(|entry| entry.class != "PAMAuthenticator")
        );
        for name in PAM_NAMES {
            let Err(message) = lookup(name) else {
                unreachable!("{name} found in a build without PAM");
            };
            assert!(
                message.starts_with("this build of hubauth has no PAM support"),
                "{message}"
            );
            assert!(message.contains("generic-oauth"), "{message}");
        }
    }

    #[test]
    fn unknown_names_list_what_is_available() {
        let Err(message) = lookup("nosuch") else {
            unreachable!("nosuch found");
        };
        assert!(
            message.starts_with("unknown authenticator class"),
            "{message}"
        );
        assert!(message.contains("dummy"), "{message}");
    }
}
