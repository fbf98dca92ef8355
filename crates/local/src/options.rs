//! The `[LocalAuthenticator]` and `[PAMAuthenticator]` tables and their validated form.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use hubauth_config::{
    ClassDef, ClassView, ConfigError, DefaultValue::Computed, DefaultValue::Literal, Deprecated,
};

use crate::command::{DEFAULT_ADD_USER_TIMEOUT, default_add_user_cmd};

const DEPRECATED_GROUP_WHITELIST: &[Deprecated] = &[Deprecated {
    name: "group_whitelist",
    since: "JupyterHub 1.2",
    same_type: true,
}];

hubauth_config::options! {
    /// The `[LocalAuthenticator]` table: options of every authenticator whose users are local
    /// UNIX users (PAMAuthenticator and the `Local*` variants of other authenticators).
    pub static LOCAL_AUTHENTICATOR = class "LocalAuthenticator" {
        bases: ["Authenticator"],
        help: "Base class for authenticators that work with local UNIX users: it checks that every hub user exists on the system (and can create them) and can allow the members of UNIX groups. Not selectable by itself: PAMAuthenticator and the Local* variants of the other authenticators (LocalGenericOAuthenticator, ...) inherit these options.",
    };
    /// `[LocalAuthenticator]` as the file, the environment and the defaults give it, before
    /// validation.
    pub struct LocalAuthenticatorOptions {
        create_system_users: bool = (
            Bool,
            Literal("false"),
            "If true, create a local system user for every hub user that does not exist on the system yet.\n\nThe user is created with add_user_cmd when they are added to the hub (first login, start-up, admin action). Supports Linux and BSD variants only, and needs the hub to run as root. If false, a hub user without a system account cannot be added.",
        ),
        add_user_cmd: Option<Vec<String>> = (
            StrOrList,
            Computed("[\"adduser\", \"-q\", \"--gecos\", \"\\\"\\\"\", \"--disabled-password\"] on Linux; [\"pw\", \"useradd\", \"-m\", \"-n\"] when a `pw` program is on PATH (BSD)"),
            "The command that creates a system user, as a list of strings (a single string is one program name, not split).\n\nIn every element the text USERNAME is replaced by the user's name; `--uid N` is appended when the user is in uids; the name is appended as the final argument. The command runs without a shell. Names that a program could read as an option or a path (a leading '-', '/', '..', whitespace, control characters, anything outside A-Z a-z 0-9 . _ -) are refused before any command runs. To set a custom home directory: [\"adduser\", \"-q\", \"--gecos\", \"\\\"\\\"\", \"--home\", \"/customhome/USERNAME\", \"--disabled-password\"].",
        ),
        uids: BTreeMap<String, i64> = (
            IntMap,
            Literal("{}"),
            "Table of user name to uid, used when creating system users.\n\nHelps make users created from the hub's database get the same uid each time they are created, in temporary deployments or containers.",
        ),
        allowed_groups: BTreeSet<String> = (
            Set,
            Literal("[]"),
            "Allow every member of these UNIX groups to log in.\n\nMembership counts the user's primary group and supplementary groups. Combined with the other allow rules (allowed_users, ...) by OR. A group that does not exist is logged as an error and skipped.",
        )
            .deprecated(DEPRECATED_GROUP_WHITELIST),
    }
}

hubauth_config::options! {
    /// The `[PAMAuthenticator]` table.
    pub static PAM_AUTHENTICATOR = class "PAMAuthenticator" {
        bases: ["LocalAuthenticator"],
        help: "Authenticate local UNIX users with PAM (the default authenticator of JupyterHub).",
    };
    /// `[PAMAuthenticator]` as the file, the environment and the defaults give it, before
    /// validation.
    pub struct PamAuthenticatorOptions {
        service: String = (
            Str,
            Literal("\"login\""),
            "The name of the PAM service to use for authentication: the file /etc/pam.d/SERVICE.\n\nIf the file does not exist, PAM uses the rules of /etc/pam.d/other; the hub warns about it at start-up.",
        ),
        encoding: String = (
            Str,
            Literal("\"utf8\""),
            "The text encoding to use when communicating with PAM: utf8, latin1 or ascii.",
        ),
        check_account: bool = (
            Bool,
            Literal("true"),
            "Whether to check the user's account status via PAM during authentication.\n\nThe PAM account stack performs non-authentication based account management: expired accounts and passwords, access restrictions of the host. Disabling this can be dangerous, as authenticated but unauthorized users may be granted access.",
        ),
        open_sessions: bool = (
            Bool,
            Literal("false"),
            "Whether to open a PAM session when a user logs in, and close it when they log out or their session ends.\n\nThis may trigger things like mounting shared filesystems or loading credentials, depending on the system's configuration, but it does not always work. If opening or closing a session fails, a warning is logged and sessions are turned off until the hub restarts.",
        ),
        admin_groups: BTreeSet<String> = (
            Set,
            Literal("[]"),
            "Authoritative list of UNIX groups whose members are admins.\n\nUsers not in these groups lose admin status at login unless they are in admin_users. Allow and block rules still apply.",
        ),
        pam_normalize_username: bool = (
            Bool,
            Literal("false"),
            "Round-trip the user name via the system's user database to make sure it is unique.\n\nPAM can accept several names for one account (for example DOMAIN\\username). With this on, the name is turned into a uid and back into that account's name; then username_map applies. Names are not lowercased.",
        ),
        executor_threads: i64 = (
            Int,
            Literal("4"),
            "The most PAM calls (and group lookups) that run at the same time.\n\nPAM calls block; they run on background threads so that a slow PAM stack cannot stall the hub. Further logins wait for a free slot.",
        ),
    }
}

/// Every class this crate defines, in generate-config order.
pub fn classes() -> [&'static ClassDef; 2] {
    [&LOCAL_AUTHENTICATOR, &PAM_AUTHENTICATOR]
}

/// Declares the class definition of a `Local*` variant of another authenticator class:
/// a class with no options of its own whose bases are `LocalAuthenticator` and that class
/// (upstream: `class LocalGenericOAuthenticator(LocalAuthenticator, GenericOAuthenticator)`).
///
/// ```
/// use hubauth_config::ClassDef;
/// static LOCAL_DUMMY: ClassDef = hubauth_local::local_class_def!("LocalDummyAuthenticator", "DummyAuthenticator");
/// assert_eq!(LOCAL_DUMMY.bases, &["LocalAuthenticator", "DummyAuthenticator"]);
/// ```
///
/// Build the authenticator itself with [`crate::Local::from_view`]:
/// `Local::from_view(view, GenericOAuthenticator::from_view)`.
#[macro_export]
macro_rules! local_class_def {
    ($name:literal, $base:literal) => {
        $crate::__private::ClassDef {
            name: $name,
            bases: &["LocalAuthenticator", $base],
            help: concat!(
                $base,
                " whose users are also local UNIX users: LocalAuthenticator's options (create_system_users, add_user_cmd, uids, allowed_groups) apply too."
            ),
            options: &[],
        }
    };
}

/// The validated `LocalAuthenticator` options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalConfig {
    /// See the `create_system_users` option.
    pub create_system_users: bool,
    /// See the `add_user_cmd` option (the default already computed; may be empty when
    /// `create_system_users` is off and the platform has no default).
    pub add_user_cmd: Vec<String>,
    /// See the `uids` option.
    pub uids: BTreeMap<String, u32>,
    /// See the `allowed_groups` option (UNIX groups).
    pub allowed_groups: BTreeSet<String>,
    /// How long `add_user_cmd` may run before it is stopped (not a config-file option).
    pub add_user_timeout: Duration,
}

impl Default for LocalConfig {
    fn default() -> Self {
        LocalConfig {
            create_system_users: false,
            add_user_cmd: default_add_user_cmd(std::env::var("PATH").ok().as_deref())
                .unwrap_or_default(),
            uids: BTreeMap::new(),
            allowed_groups: BTreeSet::new(),
            add_user_timeout: DEFAULT_ADD_USER_TIMEOUT,
        }
    }
}

impl LocalConfig {
    /// Reads and validates the `LocalAuthenticator` options as seen by one class.
    /// The default `add_user_cmd` looks for `pw` on the `PATH` of the view's environment.
    pub fn from_view(view: &ClassView<'_>) -> Result<Self, ConfigError> {
        let options = LocalAuthenticatorOptions::load(view)?;
        let create_system_users: bool = options.create_system_users;
        let add_user_cmd = match options.add_user_cmd {
            Some(command) => command,
            None => match default_add_user_cmd(view.env().var("PATH").as_deref()) {
                Ok(command) => command,
                Err(err) if create_system_users => {
                    return Err(view.invalid("add_user_cmd", err));
                }
                Err(_) => Vec::new(),
            },
        };
        if create_system_users && add_user_cmd.is_empty() {
            return Err(view.invalid(
                "add_user_cmd",
                "must name a program when create_system_users is true",
            ));
        }
        let raw_uids: BTreeMap<String, i64> = options.uids;
        let mut uids = BTreeMap::new();
        for (name, uid) in raw_uids {
            let uid = u32::try_from(uid).map_err(|_| {
                view.invalid(
                    "uids",
                    format!("the uid of {name:?} must be between 0 and {}", u32::MAX),
                )
            })?;
            uids.insert(name, uid);
        }
        Ok(LocalConfig {
            create_system_users,
            add_user_cmd,
            uids,
            allowed_groups: options.allowed_groups,
            add_user_timeout: DEFAULT_ADD_USER_TIMEOUT,
        })
    }
}

/// A text encoding PAM is spoken in (the `encoding` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 (the default).
    Utf8,
    /// ISO-8859-1: characters up to U+00FF, one byte each.
    Latin1,
    /// ASCII: characters up to U+007F.
    Ascii,
}

impl Encoding {
    /// Reads an encoding name as Python spells it (`utf8`, `utf-8`, `latin1`,
    /// `iso-8859-1`, `ascii`...), case-insensitively.
    pub fn parse(name: &str) -> Option<Encoding> {
        let key: String = name
            .trim()
            .to_ascii_lowercase()
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | ' '))
            .collect();
        match key.as_str() {
            "utf8" | "u8" | "utf" => Some(Encoding::Utf8),
            "latin1" | "latin" | "l1" | "iso88591" | "cp819" => Some(Encoding::Latin1),
            "ascii" | "usascii" | "646" => Some(Encoding::Ascii),
            _ => None,
        }
    }

    /// The bytes of `text` in this encoding; `None` when a character cannot be encoded.
    pub fn encode(self, text: &str) -> Option<Vec<u8>> {
        match self {
            Encoding::Utf8 => Some(text.as_bytes().to_vec()),
            Encoding::Latin1 => text
                .chars()
                .map(|c| u8::try_from(u32::from(c)).ok())
                .collect(),
            Encoding::Ascii => text
                .chars()
                .map(|c| if c.is_ascii() { Some(c as u8) } else { None })
                .collect(),
        }
    }

    /// Text from bytes in this encoding (invalid UTF-8 is replaced).
    pub fn decode(self, bytes: &[u8]) -> String {
        match self {
            Encoding::Utf8 | Encoding::Ascii => String::from_utf8_lossy(bytes).into_owned(),
            Encoding::Latin1 => bytes.iter().map(|&b| char::from(b)).collect(),
        }
    }
}

/// The validated `PAMAuthenticator` options (the `LocalAuthenticator` and `Authenticator`
/// ones are read separately).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PamConfig {
    /// See the `service` option.
    pub service: String,
    /// See the `encoding` option.
    pub encoding: Encoding,
    /// See the `check_account` option.
    pub check_account: bool,
    /// See the `open_sessions` option.
    pub open_sessions: bool,
    /// See the `admin_groups` option (UNIX groups).
    pub admin_groups: BTreeSet<String>,
    /// See the `pam_normalize_username` option.
    pub pam_normalize_username: bool,
    /// See the `executor_threads` option.
    pub executor_threads: usize,
}

impl Default for PamConfig {
    /// The `[PAMAuthenticator]` settings of a configuration without that table.
    fn default() -> Self {
        // The literal defaults are valid and pass validation (Registry::check_defaults and
        // the tests read them).
        #[allow(clippy::expect_used)]
        PamAuthenticatorOptions::with_defaults(PamConfig::from_view)
            .expect("the [PAMAuthenticator] defaults are valid")
    }
}

impl PamConfig {
    /// Reads and validates the `PAMAuthenticator` options.
    pub fn from_view(view: &ClassView<'_>) -> Result<Self, ConfigError> {
        let options = PamAuthenticatorOptions::load(view)?;
        let service: String = options.service;
        if let Err(message) = check_service_name(&service) {
            return Err(view.invalid("service", message));
        }
        let encoding_name: String = options.encoding;
        let encoding = Encoding::parse(&encoding_name).ok_or_else(|| {
            view.invalid(
                "encoding",
                format!("unsupported encoding {encoding_name:?}; hubauth supports utf8, latin1 and ascii"),
            )
        })?;
        let threads: i64 = options.executor_threads;
        let executor_threads = usize::try_from(threads)
            .ok()
            .filter(|threads| (1..=1024).contains(threads))
            .ok_or_else(|| view.invalid("executor_threads", "must be between 1 and 1024"))?;
        Ok(PamConfig {
            service,
            encoding,
            check_account: options.check_account,
            open_sessions: options.open_sessions,
            admin_groups: options.admin_groups,
            pam_normalize_username: options.pam_normalize_username,
            executor_threads,
        })
    }
}

/// A PAM service name must name one file in `/etc/pam.d`.
fn check_service_name(service: &str) -> Result<(), &'static str> {
    if service.is_empty() {
        return Err("must not be empty");
    }
    if service.contains('/') || service == "." || service == ".." {
        return Err("must be the name of a file in /etc/pam.d, not a path");
    }
    if service.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("must not contain whitespace or control characters");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(Encoding::parse("UTF-8"), Some(Encoding::Utf8));
        assert_eq!(Encoding::parse("latin-1"), Some(Encoding::Latin1));
        assert_eq!(Encoding::parse("ISO-8859-1"), Some(Encoding::Latin1));
        assert_eq!(Encoding::parse("ebcdic"), None);
        assert_eq!(Encoding::Latin1.encode("é"), Some(vec![0xe9]));
        assert_eq!(Encoding::Latin1.encode("€"), None);
        assert_eq!(Encoding::Ascii.encode("é"), None);
        assert_eq!(Encoding::Utf8.encode("é"), Some(vec![0xc3, 0xa9]));
        assert_eq!(Encoding::Latin1.decode(&[0xe9]), "é");
    }

    #[test]
    fn service_names() {
        assert!(check_service_name("login").is_ok());
        assert!(check_service_name("hubauth-test").is_ok());
        for bad in ["", "../shadow", "a/b", "..", "a b"] {
            assert!(check_service_name(bad).is_err(), "{bad}");
        }
    }
}
