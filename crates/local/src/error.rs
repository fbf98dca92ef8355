//! Errors of local-account handling: system users, user creation and PAM.

use hubauth_core::AuthError;

/// Why a local-account operation (looking up or creating a system user) failed.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// The user has no system account and `create_system_users` is off, so the hub cannot
    /// add them (upstream's `KeyError`, message kept verbatim).
    #[error(
        "User {name} does not exist on the system. Set LocalAuthenticator.create_system_users=True to automatically create system users from jupyterhub users."
    )]
    NoSystemUser {
        /// The hub user name.
        name: String,
    },
    /// The name could be read by the user-creation command as an option, a path or
    /// something else than a plain name, so no command was run for it.
    #[error("Refusing to create system user {name:?}: {reason}")]
    UnsafeName {
        /// The name as requested (shown escaped).
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// `add_user_cmd` is an empty list, so there is no program to run.
    #[error(
        "Failed to create system user {name}: LocalAuthenticator.add_user_cmd is empty, so there is no command to run"
    )]
    EmptyCommand {
        /// The user that was to be created.
        name: String,
    },
    /// This platform has no default `add_user_cmd` (upstream refuses on macOS).
    #[error("I don't know how to create users on OS X")]
    UnsupportedPlatform,
    /// The user-creation command could not be started (missing program, permissions).
    #[error("Failed to create system user {name}: cannot run {program:?}: {source}")]
    CommandNotRun {
        /// The user that was to be created.
        name: String,
        /// The program of `add_user_cmd`.
        program: String,
        /// Why it could not be started.
        #[source]
        source: std::io::Error,
    },
    /// The user-creation command ran past its time limit and was killed.
    #[error(
        "Failed to create system user {name}: {program:?} did not finish within {seconds} s and was stopped"
    )]
    CommandTimedOut {
        /// The user that was to be created.
        name: String,
        /// The program of `add_user_cmd`.
        program: String,
        /// The time limit.
        seconds: u64,
    },
    /// The user-creation command exited with a failure (upstream's `RuntimeError`; the
    /// command's output follows the colon).
    #[error("Failed to create system user {name}: {output}")]
    CommandFailed {
        /// The user that was to be created.
        name: String,
        /// The exit status, as the system reports it.
        status: String,
        /// What the command printed (stderr, then stdout), control characters escaped.
        output: String,
    },
    /// A passwd or group lookup failed (not "not found": an NSS or system error).
    #[error("looking up {what} in the system's user database failed: {source}")]
    Lookup {
        /// What was looked up (`user alice`, `group staff`).
        what: String,
        /// The system error.
        #[source]
        source: nix::Error,
    },
    /// A blocking lookup or command task could not complete (the runtime is shutting down).
    #[error("a background task for local accounts failed: {0}")]
    Task(String),
}

impl From<LocalError> for AuthError {
    /// Every local-account failure is a server-side problem: a 500 for the user, the
    /// details (including a failed command's output) in the hub's log.
    fn from(err: LocalError) -> Self {
        AuthError::Internal(err.to_string())
    }
}
