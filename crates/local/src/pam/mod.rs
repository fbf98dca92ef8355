//! `PAMAuthenticator`: local UNIX users authenticated by the system's PAM stack.
//!
//! [`Pam`] is the PAM half (authenticate, account check, sessions, `admin_groups`,
//! `pam_normalize_username`); the full `PAMAuthenticator` is [`PamAuthenticator`] =
//! [`Local<Pam>`](crate::Local), which adds the `LocalAuthenticator` options.

pub mod conv;
#[cfg(all(feature = "pam", target_os = "linux"))]
mod ffi;
#[cfg(not(all(feature = "pam", target_os = "linux")))]
mod unavailable;
#[cfg(not(all(feature = "pam", target_os = "linux")))]
use unavailable as ffi;

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use hubauth_config::{ClassView, ConfigError};
use hubauth_core::pipeline::loggable;
use hubauth_core::{
    AuthError, AuthModel, Authenticator, AuthenticatorConfig, LoginData, LoginKind, RequestContext,
    Rules,
};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use crate::local::Local;
use crate::options::{LocalConfig, PamConfig};
use crate::system;

/// The class name.
pub const PAM_CLASS: &str = "PAMAuthenticator";

/// The longest failure delay hubauth waits for, whatever the PAM stack asks.
const MAX_FAIL_DELAY: Duration = Duration::from_secs(30);

/// Linux-PAM codes hubauth tells apart.
const PAM_NEW_AUTHTOK_REQD: i32 = 12;
const PAM_ACCT_EXPIRED: i32 = 13;
const PAM_AUTHTOK_EXPIRED: i32 = 27;

/// The full `PAMAuthenticator`: the PAM layer wrapped as a local-user authenticator.
pub type PamAuthenticator = Local<Pam>;

/// The libpam hubauth loads unless told otherwise: the run-time library's soname, present
/// wherever Linux-PAM is installed (Debian and Ubuntu: the libpam0g package).
pub const DEFAULT_LIBPAM: &str = "libpam.so.0";

/// The environment variable that names another libpam to load (a file name or a path),
/// for systems that keep it elsewhere, and for tests.
pub const LIBPAM_ENV: &str = "HUBAUTH_LIBPAM";

/// Builds a `PAMAuthenticator` from its three option groups with the default libpam (the
/// library form of `Local::from_view(view, Pam::from_view)`).
pub fn pam_authenticator(
    base: AuthenticatorConfig,
    local: LocalConfig,
    pam: PamConfig,
) -> Result<PamAuthenticator, PamLoadError> {
    let library = PamLibrary::load(DEFAULT_LIBPAM)?;
    Ok(Local::new(PAM_CLASS, Pam::new(base, pam, library), local))
}

/// Why libpam cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PamLoadError {
    /// The library cannot be loaded (not installed, or not a loadable library).
    #[error(
        "cannot load the PAM library {library} ({reason}); PAMAuthenticator loads libpam at run time: install it (Debian, Ubuntu: apt-get install libpam0g; Fedora, RHEL: dnf install pam) or choose another authenticator_class"
    )]
    Load {
        /// The name or path hubauth tried.
        library: String,
        /// The dynamic loader's reason.
        reason: String,
    },
    /// The library loaded but lacks a function every Linux-PAM has.
    #[error(
        "the PAM library {library} has no function {symbol} ({reason}); PAMAuthenticator needs Linux-PAM's libpam"
    )]
    Symbol {
        /// The name or path it was loaded from.
        library: String,
        /// The missing function.
        symbol: &'static str,
        /// The dynamic loader's reason.
        reason: String,
    },
    /// This build has no PAM support at all.
    #[error(
        "this hubauth was built without PAM support (the `pam` feature of hubauth-local, Linux only)"
    )]
    NotBuilt,
}

/// A loaded libpam, shared by every PAMAuthenticator of the process.
///
/// Each library is loaded once (the first [`PamLibrary::load`] of its name) and never
/// unloaded: the modules libpam loads stay in memory with it, and unloading it under a
/// running transaction would leave dangling function pointers.
#[derive(Clone, Copy)]
pub struct PamLibrary {
    api: &'static ffi::Api,
}

impl PamLibrary {
    /// Loads libpam from `name` (a file name the dynamic loader searches for, such as
    /// [`DEFAULT_LIBPAM`], or a path) and resolves the functions hubauth calls, or returns
    /// the one already loaded under that name. A failure is not remembered: a later call
    /// tries again.
    pub fn load(name: &str) -> Result<Self, PamLoadError> {
        static LOADED: Mutex<BTreeMap<String, &'static ffi::Api>> = Mutex::new(BTreeMap::new());
        let mut loaded = LOADED
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(api) = loaded.get(name) {
            return Ok(PamLibrary { api });
        }
        let api: &'static ffi::Api = Box::leak(Box::new(ffi::Api::open(name)?));
        loaded.insert(name.to_owned(), api);
        Ok(PamLibrary { api })
    }

    /// The name or path it was loaded from.
    pub fn name(&self) -> &str {
        self.api.name()
    }
}

impl fmt::Debug for PamLibrary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PamLibrary").field(&self.name()).finish()
    }
}

/// A failed PAM call: its code and libpam's text for it (upstream shows pamela's
/// `[PAM Error N] text`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[PAM Error {code}] {message}")]
pub struct PamError {
    /// The PAM return code (`PAM_AUTH_ERR` = 7, ...).
    pub code: i32,
    /// libpam's description of it.
    pub message: String,
}

/// One authentication request for the blocking PAM layer.
#[cfg_attr(not(all(feature = "pam", target_os = "linux")), allow(dead_code))]
struct AuthRequest {
    service: CString,
    user: CString,
    /// The password, then the OTP when the form has one.
    secrets: Vec<Zeroizing<Vec<u8>>>,
    rhost: Option<CString>,
    check_account: bool,
}

/// Which step of a PAM login failed.
#[derive(Debug)]
#[cfg_attr(not(all(feature = "pam", target_os = "linux")), allow(dead_code))]
enum AuthFailure {
    /// `pam_start` failed (service file unreadable, out of memory).
    Start(PamError),
    /// The auth stack said no (wrong password, unknown user, wrong OTP...).
    Authenticate(PamError),
    /// The account stack said no (expired account or password, access rules).
    Account(PamError),
}

/// What the blocking PAM layer reports for one login.
struct AuthResult {
    outcome: Result<(), AuthFailure>,
    /// The failure delay the PAM stack asked for, waited by the caller asynchronously.
    fail_delay: Option<Duration>,
    /// Messages PAM sent for the user.
    notices: Vec<String>,
}

#[cfg_attr(not(all(feature = "pam", target_os = "linux")), allow(dead_code))]
impl AuthResult {
    fn failed(failure: AuthFailure) -> Self {
        AuthResult {
            outcome: Err(failure),
            fail_delay: None,
            notices: Vec::new(),
        }
    }
}

/// Whether this build of hubauth has PAM support (built with the `pam` feature on Linux).
/// libpam itself is loaded at run time: see [`PamLibrary::load`].
pub fn pam_available() -> bool {
    ffi::AVAILABLE
}

/// The PAM layer of `PAMAuthenticator`. Use it wrapped: [`PamAuthenticator`].
///
/// PAM calls block, so they run on the blocking thread pool, at most `executor_threads`
/// at a time. The failure delay the PAM stack asks for (pam_faildelay, pam_unix) is
/// waited asynchronously, without holding a thread or a slot, and counted from the start
/// of the attempt, so that failures take the same time whatever failed.
#[derive(Debug)]
pub struct Pam {
    rules: Rules,
    config: PamConfig,
    library: PamLibrary,
    sessions: AtomicBool,
    permits: Arc<Semaphore>,
}

impl Pam {
    /// The PAM layer from validated options, calling `library`.
    pub fn new(base: AuthenticatorConfig, config: PamConfig, library: PamLibrary) -> Self {
        let threads = config.executor_threads.max(1);
        Pam {
            rules: Rules::new(base),
            library,
            sessions: AtomicBool::new(config.open_sessions),
            permits: Arc::new(Semaphore::new(threads)),
            config,
        }
    }

    /// Reads `[PAMAuthenticator]` (and inherited `[Authenticator]`) options and loads
    /// libpam ([`DEFAULT_LIBPAM`], or the one [`LIBPAM_ENV`] names in the view's
    /// environment). Fails when libpam cannot be loaded or this build has no PAM support
    /// (upstream: "the PAM binding cannot be imported"), so that a hub that cannot check
    /// passwords does not start.
    pub fn from_view(view: &ClassView<'_>) -> Result<Self, ConfigError> {
        let base = AuthenticatorConfig::from_view(view)?;
        let config = PamConfig::from_view(view)?;
        let name = view
            .env()
            .var(LIBPAM_ENV)
            .filter(|name| !name.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_LIBPAM.to_owned());
        let library = PamLibrary::load(&name).map_err(|err| ConfigError::ClassUnavailable {
            class: PAM_CLASS,
            message: err.to_string(),
        })?;
        Ok(Pam::new(base, config, library))
    }

    /// The libpam this authenticator calls.
    pub fn library(&self) -> PamLibrary {
        self.library
    }

    /// The PAM options.
    pub fn config(&self) -> &PamConfig {
        &self.config
    }

    /// Whether PAM sessions are (still) opened at login: `open_sessions`, until a session
    /// call fails.
    pub fn sessions_enabled(&self) -> bool {
        self.sessions.load(Ordering::Relaxed)
    }

    /// Runs a blocking call on the PAM pool. The slot is held until the call returns, even
    /// when the request that asked for it is cancelled.
    async fn run_blocking<T, F>(&self, f: F) -> Result<T, AuthError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| AuthError::Internal("the PAM thread pool is closed".to_owned()))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f()
        })
        .await
        .map_err(|err| AuthError::Internal(format!("a PAM call failed: {err}")))
    }

    /// Text for PAM in the configured encoding, as a C string; `None` when it cannot be
    /// encoded or holds a NUL byte.
    fn c_text(&self, text: &str) -> Option<CString> {
        CString::new(self.config.encoding.encode(text)?).ok()
    }

    /// A secret for the conversation; `None` when it cannot be encoded or holds a NUL.
    fn secret(&self, text: &str) -> Option<Zeroizing<Vec<u8>>> {
        let bytes = Zeroizing::new(self.config.encoding.encode(text)?);
        (!bytes.contains(&0)).then_some(bytes)
    }

    /// Opens or closes a PAM session; on failure logs upstream's warnings and turns
    /// sessions off for the rest of the process.
    async fn session(&self, name: &str, open: bool) {
        if !self.sessions_enabled() {
            return;
        }
        let Some(user) = self.c_text(name) else {
            tracing::warn!(user = %loggable(name), "cannot encode the user name for PAM; no PAM session");
            return;
        };
        let service = self.c_text(&self.config.service).unwrap_or_default();
        let api = self.library.api;
        let result = self
            .run_blocking(move || {
                if open {
                    ffi::open_session(api, &service, &user)
                } else {
                    ffi::close_session(api, &service, &user)
                }
            })
            .await;
        let error = match result {
            Ok(Ok(())) => return,
            Ok(Err(err)) => err.to_string(),
            Err(err) => err.to_string(),
        };
        let verb = if open { "open" } else { "close" };
        tracing::warn!(
            "Failed to {verb} PAM session for {}: {error}",
            loggable(name)
        );
        tracing::warn!("Disabling PAM sessions from now on.");
        self.sessions.store(false, Ordering::Relaxed);
    }

    /// Where Linux-PAM looks for the service's rules, if any of those files exists.
    fn service_file_exists(&self) -> bool {
        let service = &self.config.service;
        ["/etc/pam.d", "/usr/lib/pam.d", "/usr/share/pam.d"]
            .iter()
            .any(|dir| Path::new(dir).join(service).is_file())
            || (!Path::new("/etc/pam.d").is_dir() && Path::new("/etc/pam.conf").is_file())
    }
}

/// The message for a refused account check: the person proved their password, so they
/// may learn what to do next.
fn account_message(err: &PamError) -> String {
    match err.code {
        PAM_ACCT_EXPIRED => {
            "Your account has expired. Please contact the hub administrator.".to_owned()
        }
        PAM_NEW_AUTHTOK_REQD | PAM_AUTHTOK_EXPIRED => {
            "Your password has expired. Please change it, then log in again.".to_owned()
        }
        _ => "Your account may not log in to this hub. Please contact the hub administrator."
            .to_owned(),
    }
}

#[async_trait]
impl Authenticator for Pam {
    fn class_name(&self) -> &'static str {
        PAM_CLASS
    }

    fn rules(&self) -> &Rules {
        &self.rules
    }

    fn kind(&self) -> LoginKind {
        self.rules.form_kind()
    }

    async fn authenticate(
        &self,
        ctx: &RequestContext,
        data: &LoginData,
    ) -> Result<Option<AuthModel>, AuthError> {
        let username = data.username();
        let shown = loggable(username);
        let ip = ctx
            .remote_ip
            .map(|ip| ip.to_string())
            .unwrap_or_else(|| "unknown".to_owned());
        if username.is_empty() {
            return Ok(None);
        }
        let encoded = (
            self.c_text(username),
            self.secret(data.password()),
            data.otp()
                .filter(|otp| !otp.is_empty())
                .map(|otp| self.secret(otp)),
        );
        let (user, password, otp) = match encoded {
            (Some(user), Some(password), None) => (user, password, None),
            (Some(user), Some(password), Some(Some(otp))) => (user, password, Some(otp)),
            _ => {
                tracing::warn!(
                    "PAM Authentication failed ({shown}@{ip}): the name or password cannot be encoded as {:?} for PAM",
                    self.config.encoding
                );
                return Ok(None);
            }
        };
        let mut secrets = vec![password];
        secrets.extend(otp);
        let request = AuthRequest {
            service: self.c_text(&self.config.service).unwrap_or_default(),
            user,
            secrets,
            rhost: ctx
                .remote_ip
                .and_then(|ip| CString::new(ip.to_string()).ok()),
            check_account: self.config.check_account,
        };
        #[allow(clippy::disallowed_methods)] // a wall-clock floor on refusals, not a decision
        let started = tokio::time::Instant::now();
        let api = self.library.api;
        let result = self
            .run_blocking(move || ffi::authenticate(api, request))
            .await?;
        for notice in &result.notices {
            tracing::info!(user = %shown, "PAM says: {}", notice.escape_debug());
        }
        match result.outcome {
            Ok(()) => Ok(Some(AuthModel::named(username))),
            Err(AuthFailure::Authenticate(err)) => {
                tracing::warn!("PAM Authentication failed ({shown}@{ip}): {err}");
                // The stack's failure delay, counted from the start of the attempt rather
                // than added after it: a wrong password (hash computed) and an unknown user
                // (nothing to hash) then take the same time.
                if let Some(delay) = result.fail_delay {
                    tokio::time::sleep_until(started + delay.min(MAX_FAIL_DELAY)).await;
                }
                Ok(None)
            }
            Err(AuthFailure::Account(err)) => {
                tracing::warn!("PAM Account Check failed ({shown}@{ip}): {err}");
                Err(AuthError::forbidden(account_message(&err)))
            }
            Err(AuthFailure::Start(err)) => Err(AuthError::Internal(format!(
                "PAM could not start a transaction for service {:?}: {err}",
                self.config.service
            ))),
        }
    }

    fn normalize_username(&self, name: &str) -> String {
        if !self.config.pam_normalize_username {
            return self.rules.normalize_username(name);
        }
        // A passwd lookup, usually from /etc/passwd; kept synchronous because
        // normalization is.
        let canonical = match system::canonical_name(name) {
            Ok(Some(canonical)) => canonical,
            Ok(None) => name.to_owned(),
            Err(err) => {
                tracing::warn!(user = %loggable(name), "pam_normalize_username: {err}");
                name.to_owned()
            }
        };
        // username_map keys are stored lowercased (compared case-insensitively).
        match self
            .rules
            .config()
            .username_map
            .get(&canonical.to_lowercase())
        {
            Some(mapped) => mapped.clone(),
            None => canonical,
        }
    }

    async fn is_admin(&self, model: &AuthModel) -> Result<Option<bool>, AuthError> {
        let base = self.rules.is_admin(&model.name);
        if base == Some(true) || self.config.admin_groups.is_empty() {
            return Ok(base);
        }
        let name = model.name.clone();
        let groups = self.config.admin_groups.clone();
        let found = self
            .run_blocking(move || system::user_in_any_group(&name, &groups))
            .await?;
        match found {
            Ok(Some(member)) => Ok(Some(member)),
            Ok(None) => {
                tracing::warn!(user = %model.name, "admin_groups: no such system user; not an admin");
                Ok(Some(false))
            }
            Err(err) => {
                tracing::error!(user = %model.name, "checking admin_groups failed: {err}");
                Err(err.into())
            }
        }
    }

    async fn session_started(&self, name: &str) -> Result<(), AuthError> {
        self.session(name, true).await;
        Ok(())
    }

    async fn session_ended(&self, name: &str) -> Result<(), AuthError> {
        self.session(name, false).await;
        Ok(())
    }

    fn startup_warnings(&self) -> Vec<String> {
        let mut warnings = self.rules.startup_warnings(PAM_CLASS);
        if !self.service_file_exists() {
            warnings.push(format!(
                "PAMAuthenticator.service: the PAM service file /etc/pam.d/{0} does not exist, so PAM uses the rules of /etc/pam.d/other (often: refuse everyone). Create /etc/pam.d/{0} or set PAMAuthenticator.service to an existing service.",
                self.config.service
            ));
        }
        if !system::running_as_root() {
            warnings.push(
                "PAMAuthenticator: the hub is not running as root; with pam_unix only the password of the user running the hub can be checked".to_owned(),
            );
        }
        warnings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_messages_say_what_to_do() {
        let err = |code| PamError {
            code,
            message: String::new(),
        };
        assert!(account_message(&err(PAM_ACCT_EXPIRED)).contains("expired"));
        assert!(account_message(&err(PAM_NEW_AUTHTOK_REQD)).contains("password has expired"));
        assert!(account_message(&err(6)).contains("may not log in"));
    }

    #[test]
    fn pam_error_reads_like_pamela() {
        let err = PamError {
            code: 7,
            message: "Authentication failure".to_owned(),
        };
        assert_eq!(err.to_string(), "[PAM Error 7] Authentication failure");
    }
}
