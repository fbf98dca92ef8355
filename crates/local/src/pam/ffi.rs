//! The one place hubauth calls C: the application API of the system's libpam (Linux-PAM).
//!
//! libpam is loaded at run time (`dlopen("libpam.so.0")`), not linked: building hubauth
//! then needs no libpam development files, and a machine without libpam can run every
//! authenticator except PAMAuthenticator, which refuses to start with a message saying
//! what to install. [`Api::open`] loads the library and resolves the nine functions
//! hubauth uses once, into typed function pointers.
//!
//! Why not a binding crate: the maintained wrapper (`pam-client`) gets its declarations
//! from `pam-sys`, which runs bindgen at build time and so needs libclang on every build
//! machine, and links libpam. The function types are declared here by hand from
//! `security/_pam_appl.h` and `_pam_types.h`, and only this module uses `unsafe`.
//!
//! Why this is sound:
//! - Each function pointer is resolved by its C name and given the type the header
//!   declares for that name. The library is opened with `RTLD_NOW`, so every symbol libpam
//!   needs is bound before any call, and it is never unloaded (callers keep the [`Api`] for
//!   the life of the process), so the pointers stay valid.
//! - A [`Transaction`] owns one PAM handle from `pam_start` to `pam_end` (in `Drop`). It
//!   holds raw pointers, so it is neither `Send` nor `Sync`: one thread uses it, one call
//!   at a time.
//! - The conversation state is a heap allocation (`Box::into_raw`) whose address is PAM's
//!   `appdata_ptr`, and the `pam_conv` struct is another; both are freed in `Drop` after
//!   `pam_end`, so every callback PAM makes sees live memory. Rust reads the state only
//!   between PAM calls, never while a call (and so a callback) runs.
//! - Strings handed to PAM are `CString`s that outlive the call; PAM copies the items it
//!   keeps (`PAM_RHOST`).
//! - Answers are allocated with `malloc`, because the module that asked frees them with
//!   `free`; on a failed conversation hubauth wipes and frees what it allocated itself.
//! - Callbacks never unwind into C: the conversation body runs inside `catch_unwind`.
#![allow(unsafe_code)]

use std::error::Error as _;
use std::ffi::{CStr, CString, c_char, c_int, c_uint, c_void};
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;
use std::time::Duration;

use libloading::os::unix::{Library, RTLD_GLOBAL, RTLD_NOW};

use super::conv::{Answers, Reply, Style};
use super::{AuthFailure, AuthRequest, AuthResult, PamError, PamLoadError};

// Linux-PAM values (security/_pam_types.h).
const PAM_SUCCESS: c_int = 0;
const PAM_BUF_ERR: c_int = 5;
const PAM_CONV_ERR: c_int = 19;
const PAM_RHOST: c_int = 4;
const PAM_FAIL_DELAY: c_int = 10;
const PAM_DISALLOW_NULL_AUTHTOK: c_int = 0x0001;
const PAM_ESTABLISH_CRED: c_int = 0x0002;
const PAM_DELETE_CRED: c_int = 0x0004;
const PAM_SILENT: c_int = 0x8000;
const PAM_MAX_NUM_MSG: c_int = 32;

/// `pam_handle_t`, opaque.
#[repr(C)]
struct PamHandle {
    _opaque: [u8; 0],
}

/// `struct pam_message`.
#[repr(C)]
struct PamMessage {
    msg_style: c_int,
    msg: *const c_char,
}

/// `struct pam_response`.
#[repr(C)]
struct PamResponse {
    resp: *mut c_char,
    resp_retcode: c_int,
}

/// The conversation function: Linux-PAM passes `msg` as an array of `num_msg` pointers.
type ConvFn = unsafe extern "C" fn(
    num_msg: c_int,
    msg: *mut *const PamMessage,
    resp: *mut *mut PamResponse,
    appdata_ptr: *mut c_void,
) -> c_int;

/// The application's fail-delay function (`PAM_FAIL_DELAY` item).
type DelayFn = unsafe extern "C" fn(retval: c_int, usec_delay: c_uint, appdata_ptr: *mut c_void);

/// `struct pam_conv`.
#[repr(C)]
struct PamConv {
    conv: Option<ConvFn>,
    appdata_ptr: *mut c_void,
}

/// `pam_start`.
type StartFn = unsafe extern "C" fn(
    service_name: *const c_char,
    user: *const c_char,
    pam_conversation: *const PamConv,
    pamh: *mut *mut PamHandle,
) -> c_int;
/// `pam_end`.
type EndFn = unsafe extern "C" fn(pamh: *mut PamHandle, pam_status: c_int) -> c_int;
/// `pam_set_item`.
type SetItemFn =
    unsafe extern "C" fn(pamh: *mut PamHandle, item_type: c_int, item: *const c_void) -> c_int;
/// `pam_authenticate`, `pam_acct_mgmt`, `pam_setcred`, `pam_open_session` and
/// `pam_close_session`: a handle and flags.
type StepFn = unsafe extern "C" fn(pamh: *mut PamHandle, flags: c_int) -> c_int;
/// `pam_strerror`.
type StrerrorFn = unsafe extern "C" fn(pamh: *mut PamHandle, errnum: c_int) -> *const c_char;

/// A loaded libpam: the functions hubauth calls, resolved once.
pub(super) struct Api {
    /// The name or path it was loaded from, for messages.
    name: String,
    start: StartFn,
    end: EndFn,
    set_item: SetItemFn,
    authenticate: StepFn,
    acct_mgmt: StepFn,
    setcred: StepFn,
    open_session: StepFn,
    close_session: StepFn,
    strerror: StrerrorFn,
    /// Keeps the library mapped while the pointers above are used. Callers leak the `Api`
    /// (see `PamLibrary::load`), so it is never unloaded: modules libpam has loaded may
    /// still hold pointers into it.
    _library: Library,
}

impl fmt::Debug for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Api").field("name", &self.name).finish()
    }
}

/// dlerror's text when there is one (libloading's own message says only "dlopen failed").
fn dl_reason(err: &libloading::Error) -> String {
    match err.source() {
        Some(source) => source.to_string(),
        None => err.to_string(),
    }
}

/// Resolves one libpam function.
///
/// # Safety
/// `T` must be the function pointer type that Linux-PAM's headers declare for `symbol`.
unsafe fn resolve<T: Copy>(
    library: &Library,
    name: &str,
    symbol: &'static CStr,
) -> Result<T, PamLoadError> {
    // SAFETY: the caller gives the type the header declares for this symbol; the value is
    // copied out as a plain function pointer, valid while the library stays loaded.
    let found = unsafe { library.get::<T>(symbol) };
    match found {
        Ok(found) => Ok(*found),
        Err(err) => Err(PamLoadError::Symbol {
            library: name.to_owned(),
            symbol: symbol.to_str().unwrap_or("?"),
            reason: dl_reason(&err),
        }),
    }
}

impl Api {
    /// Loads libpam from `name` (a file name searched the way the dynamic linker does,
    /// or a path) and resolves every function hubauth uses.
    pub(super) fn open(name: &str) -> Result<Api, PamLoadError> {
        // RTLD_NOW: a libpam that cannot bind its own symbols fails here, at start-up, not
        // in the middle of a login. RTLD_GLOBAL: PAM modules find libpam's functions in
        // the global scope, as when hubauth was linked with -lpam (modules normally link
        // libpam themselves; this also serves the few that do not).
        //
        // SAFETY: loading runs libpam's initialisers (and those of libc, libaudit... it
        // depends on), which is what linking it did at program start; it is never unloaded.
        let opened = unsafe { Library::open(Some(name), RTLD_NOW | RTLD_GLOBAL) };
        let library = opened.map_err(|err| PamLoadError::Load {
            library: name.to_owned(),
            reason: dl_reason(&err),
        })?;
        // SAFETY (every `resolve` below): each type is the declaration of that function in
        // security/_pam_appl.h.
        unsafe {
            Ok(Api {
                start: resolve::<StartFn>(&library, name, c"pam_start")?,
                end: resolve::<EndFn>(&library, name, c"pam_end")?,
                set_item: resolve::<SetItemFn>(&library, name, c"pam_set_item")?,
                authenticate: resolve::<StepFn>(&library, name, c"pam_authenticate")?,
                acct_mgmt: resolve::<StepFn>(&library, name, c"pam_acct_mgmt")?,
                setcred: resolve::<StepFn>(&library, name, c"pam_setcred")?,
                open_session: resolve::<StepFn>(&library, name, c"pam_open_session")?,
                close_session: resolve::<StepFn>(&library, name, c"pam_close_session")?,
                strerror: resolve::<StrerrorFn>(&library, name, c"pam_strerror")?,
                name: name.to_owned(),
                _library: library,
            })
        }
    }

    /// The name or path libpam was loaded from.
    pub(super) fn name(&self) -> &str {
        &self.name
    }

    /// libpam's text for an error code. Linux-PAM does not use the handle here.
    fn strerror(&self, handle: *mut PamHandle, code: c_int) -> String {
        // SAFETY: Linux-PAM's pam_strerror ignores the handle and returns a static string.
        let text = unsafe { (self.strerror)(handle, code) };
        if text.is_null() {
            return format!("unknown PAM error {code}");
        }
        // SAFETY: non-null, NUL-terminated, static.
        unsafe { CStr::from_ptr(text) }
            .to_string_lossy()
            .into_owned()
    }
}

/// What the callbacks of one transaction share with it.
struct ConvState {
    answers: Answers,
    /// The largest delay (µs) libpam asked for after a failure, instead of sleeping.
    fail_delay_usec: Option<u32>,
}

/// One PAM transaction: `pam_start` ... `pam_end`.
struct Transaction {
    api: &'static Api,
    handle: *mut PamHandle,
    last_status: c_int,
    conv: *mut PamConv,
    state: *mut ConvState,
}

impl Transaction {
    /// `pam_start(service, user)` with a conversation that gives `answers`.
    fn start(
        api: &'static Api,
        service: &CStr,
        user: &CStr,
        answers: Answers,
    ) -> Result<Transaction, PamError> {
        let state = Box::into_raw(Box::new(ConvState {
            answers,
            fail_delay_usec: None,
        }));
        let conv = Box::into_raw(Box::new(PamConv {
            conv: Some(conversation),
            appdata_ptr: state.cast(),
        }));
        let mut transaction = Transaction {
            api,
            handle: ptr::null_mut(),
            last_status: PAM_SUCCESS,
            conv,
            state,
        };
        let mut handle = ptr::null_mut();
        // SAFETY: the strings are valid C strings for the call; `conv` and its
        // `appdata_ptr` stay allocated until `transaction` is dropped, after `pam_end`.
        let status = unsafe { (api.start)(service.as_ptr(), user.as_ptr(), conv, &mut handle) };
        if status != PAM_SUCCESS || handle.is_null() {
            // Linux-PAM frees the handle itself when pam_start fails.
            let code = if status == PAM_SUCCESS {
                PAM_BUF_ERR
            } else {
                status
            };
            return Err(PamError {
                code,
                message: api.strerror(ptr::null_mut(), code),
            });
        }
        transaction.handle = handle;
        Ok(transaction)
    }

    fn error(&self, code: c_int) -> PamError {
        PamError {
            code,
            message: self.api.strerror(self.handle, code),
        }
    }

    fn check(&mut self, status: c_int) -> Result<(), PamError> {
        self.last_status = status;
        if status == PAM_SUCCESS {
            Ok(())
        } else {
            Err(self.error(status))
        }
    }

    /// Sets `PAM_RHOST` (the client's address, for modules such as pam_access).
    fn set_rhost(&mut self, rhost: &CStr) -> Result<(), PamError> {
        // SAFETY: valid handle; PAM copies the string.
        let status = unsafe { (self.api.set_item)(self.handle, PAM_RHOST, rhost.as_ptr().cast()) };
        if status == PAM_SUCCESS {
            Ok(())
        } else {
            Err(self.error(status))
        }
    }

    /// Asks libpam to report its failure delay to [`fail_delay`] instead of sleeping, so
    /// the delay is waited asynchronously and does not hold a thread.
    fn report_fail_delay(&mut self) -> Result<(), PamError> {
        let callback: DelayFn = fail_delay;
        // SAFETY: valid handle; Linux-PAM stores the function pointer and calls it with the
        // conversation's appdata_ptr, which outlives the handle.
        let status =
            unsafe { (self.api.set_item)(self.handle, PAM_FAIL_DELAY, callback as *const c_void) };
        if status == PAM_SUCCESS {
            Ok(())
        } else {
            Err(self.error(status))
        }
    }

    fn authenticate(&mut self, flags: c_int) -> Result<(), PamError> {
        // SAFETY: valid handle; callbacks use memory owned by self.
        let status = unsafe { (self.api.authenticate)(self.handle, flags) };
        self.check(status)
    }

    fn acct_mgmt(&mut self, flags: c_int) -> Result<(), PamError> {
        // SAFETY: as above.
        let status = unsafe { (self.api.acct_mgmt)(self.handle, flags) };
        self.check(status)
    }

    fn setcred(&mut self, flags: c_int) -> Result<(), PamError> {
        // SAFETY: as above.
        let status = unsafe { (self.api.setcred)(self.handle, flags) };
        self.check(status)
    }

    fn open_session(&mut self, flags: c_int) -> Result<(), PamError> {
        // SAFETY: as above.
        let status = unsafe { (self.api.open_session)(self.handle, flags) };
        self.check(status)
    }

    fn close_session(&mut self, flags: c_int) -> Result<(), PamError> {
        // SAFETY: as above.
        let status = unsafe { (self.api.close_session)(self.handle, flags) };
        self.check(status)
    }

    /// The conversation state, between PAM calls.
    fn state(&self) -> &ConvState {
        // SAFETY: allocated in `start`, freed only in Drop; no PAM call (and so no
        // callback holding a `&mut`) runs while `&self` is borrowed.
        unsafe { &*self.state }
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if !self.handle.is_null() {
            // SAFETY: the handle came from pam_start and is ended exactly once.
            unsafe { (self.api.end)(self.handle, self.last_status) };
            self.handle = ptr::null_mut();
        }
        // SAFETY: both came from Box::into_raw in `start` and PAM no longer uses them.
        unsafe {
            drop(Box::from_raw(self.conv));
            drop(Box::from_raw(self.state));
        }
    }
}

/// The conversation function PAM calls when a module asks something.
unsafe extern "C" fn conversation(
    num_msg: c_int,
    msg: *mut *const PamMessage,
    resp: *mut *mut PamResponse,
    appdata_ptr: *mut c_void,
) -> c_int {
    // SAFETY: the arguments are what PAM passes; `converse` checks them.
    match catch_unwind(AssertUnwindSafe(|| unsafe {
        converse(num_msg, msg, resp, appdata_ptr)
    })) {
        Ok(status) => status,
        Err(_) => PAM_CONV_ERR,
    }
}

/// The body of [`conversation`].
///
/// # Safety
/// `msg` must point to `num_msg` pointers to valid messages, `resp` must be writable and
/// `appdata_ptr` must be the transaction's `ConvState` with no other reference alive.
unsafe fn converse(
    num_msg: c_int,
    msg: *mut *const PamMessage,
    resp: *mut *mut PamResponse,
    appdata_ptr: *mut c_void,
) -> c_int {
    if resp.is_null() {
        return PAM_CONV_ERR;
    }
    // SAFETY: checked non-null; PAM passes a writable pointer.
    unsafe { *resp = ptr::null_mut() };
    if num_msg <= 0 || num_msg > PAM_MAX_NUM_MSG || msg.is_null() || appdata_ptr.is_null() {
        return PAM_CONV_ERR;
    }
    let count = num_msg as usize;
    // SAFETY: appdata_ptr is the ConvState of the running transaction (see above).
    let state = unsafe { &mut *appdata_ptr.cast::<ConvState>() };
    // SAFETY: calloc of `count` zeroed responses; checked for null below.
    let replies =
        unsafe { libc::calloc(count, std::mem::size_of::<PamResponse>()) }.cast::<PamResponse>();
    if replies.is_null() {
        return PAM_BUF_ERR;
    }
    for index in 0..count {
        // SAFETY: `msg` has `count` entries.
        let message = unsafe { *msg.add(index) };
        if message.is_null() {
            // SAFETY: `replies` has `count` entries, each null or malloc'd here.
            unsafe { free_replies(replies, count) };
            return PAM_CONV_ERR;
        }
        // SAFETY: non-null message from PAM.
        let (style, text) = unsafe { ((*message).msg_style, (*message).msg) };
        let text = if text.is_null() {
            &[][..]
        } else {
            // SAFETY: PAM messages are NUL-terminated strings.
            unsafe { CStr::from_ptr(text) }.to_bytes()
        };
        match state.answers.answer(Style::from_raw(style), text) {
            Reply::Nothing => {}
            Reply::Fail => {
                // SAFETY: as above.
                unsafe { free_replies(replies, count) };
                return PAM_CONV_ERR;
            }
            Reply::Secret(secret) => {
                let copy = malloc_c_string(&secret);
                if copy.is_null() {
                    // SAFETY: as above.
                    unsafe { free_replies(replies, count) };
                    return PAM_BUF_ERR;
                }
                // SAFETY: index < count.
                unsafe { (*replies.add(index)).resp = copy };
            }
        }
    }
    // SAFETY: checked non-null; ownership of `replies` passes to the module.
    unsafe { *resp = replies };
    PAM_SUCCESS
}

/// A `malloc`ed NUL-terminated copy of `bytes` (which hold no NUL), or null.
fn malloc_c_string(bytes: &[u8]) -> *mut c_char {
    // SAFETY: allocation of len + 1 bytes; checked for null before writing.
    let copy = unsafe { libc::malloc(bytes.len() + 1) }.cast::<u8>();
    if copy.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: `copy` has room for len + 1 bytes and does not overlap `bytes`.
    unsafe {
        ptr::copy_nonoverlapping(bytes.as_ptr(), copy, bytes.len());
        *copy.add(bytes.len()) = 0;
    }
    copy.cast()
}

/// Wipes and frees the answers allocated so far, then the array.
///
/// # Safety
/// `replies` must come from `calloc(count, ..)` and hold null or `malloc`ed C strings.
unsafe fn free_replies(replies: *mut PamResponse, count: usize) {
    for index in 0..count {
        // SAFETY: index < count.
        let text = unsafe { (*replies.add(index)).resp };
        if !text.is_null() {
            // SAFETY: a NUL-terminated string we allocated; volatile writes so the wipe
            // is not optimised away before free.
            unsafe {
                let len = libc::strlen(text);
                for offset in 0..len {
                    ptr::write_volatile(text.add(offset), 0);
                }
                libc::free(text.cast());
            }
        }
    }
    // SAFETY: allocated with calloc.
    unsafe { libc::free(replies.cast()) };
}

/// The fail-delay function: records the largest delay libpam asks for after a failure.
unsafe extern "C" fn fail_delay(retval: c_int, usec_delay: c_uint, appdata_ptr: *mut c_void) {
    if retval == PAM_SUCCESS || appdata_ptr.is_null() {
        return;
    }
    // SAFETY: appdata_ptr is the transaction's ConvState; libpam calls this from inside
    // pam_authenticate, when no other reference to the state is alive.
    let state = unsafe { &mut *appdata_ptr.cast::<ConvState>() };
    let usec: u32 = usec_delay;
    state.fail_delay_usec = Some(state.fail_delay_usec.unwrap_or(0).max(usec));
}

/// Whether this build can call PAM.
pub(super) const AVAILABLE: bool = true;

/// Authenticates (and, when asked, checks the account of) `request.user`.
pub(super) fn authenticate(api: &'static Api, request: AuthRequest) -> AuthResult {
    let answers = Answers::new(request.secrets);
    let mut transaction = match Transaction::start(api, &request.service, &request.user, answers) {
        Ok(transaction) => transaction,
        Err(err) => return AuthResult::failed(AuthFailure::Start(err)),
    };
    if let Some(rhost) = &request.rhost {
        // Not fatal: the stack just does not see the address.
        let _ = transaction.set_rhost(rhost);
    }
    // Without it libpam sleeps itself, which also works, only on a blocked thread.
    let _ = transaction.report_fail_delay();
    let mut outcome = transaction
        .authenticate(PAM_DISALLOW_NULL_AUTHTOK)
        .map_err(AuthFailure::Authenticate);
    if outcome.is_ok() && request.check_account {
        outcome = transaction
            .acct_mgmt(PAM_DISALLOW_NULL_AUTHTOK)
            .map_err(AuthFailure::Account);
    }
    let state = transaction.state();
    AuthResult {
        outcome,
        fail_delay: state
            .fail_delay_usec
            .map(|usec| Duration::from_micros(u64::from(usec))),
        notices: state.answers.notices().to_vec(),
    }
}

/// Opens a PAM session for `user` (credentials first, as Linux-PAM recommends).
pub(super) fn open_session(
    api: &'static Api,
    service: &CString,
    user: &CString,
) -> Result<(), PamError> {
    let mut transaction = Transaction::start(api, service, user, Answers::none())?;
    transaction.setcred(PAM_ESTABLISH_CRED | PAM_SILENT)?;
    if let Err(err) = transaction.open_session(PAM_SILENT) {
        let _ = transaction.setcred(PAM_DELETE_CRED | PAM_SILENT);
        return Err(err);
    }
    Ok(())
}

/// Closes the PAM session of `user` and deletes the credentials it established.
pub(super) fn close_session(
    api: &'static Api,
    service: &CString,
    user: &CString,
) -> Result<(), PamError> {
    let mut transaction = Transaction::start(api, service, user, Answers::none())?;
    let closed = transaction.close_session(PAM_SILENT);
    let deleted = transaction.setcred(PAM_DELETE_CRED | PAM_SILENT);
    closed.and(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroizing;

    fn state(secrets: &[&str]) -> Box<ConvState> {
        Box::new(ConvState {
            answers: Answers::new(
                secrets
                    .iter()
                    .map(|secret| Zeroizing::new(secret.as_bytes().to_vec()))
                    .collect(),
            ),
            fail_delay_usec: None,
        })
    }

    /// Calls the real conversation function the way a module does.
    fn ask(state: &mut ConvState, messages: &[(c_int, &str)]) -> (c_int, Vec<Option<String>>) {
        let texts: Vec<CString> = messages
            .iter()
            .map(|(_, text)| CString::new(*text).unwrap())
            .collect();
        let structs: Vec<PamMessage> = messages
            .iter()
            .zip(&texts)
            .map(|((style, _), text)| PamMessage {
                msg_style: *style,
                msg: text.as_ptr(),
            })
            .collect();
        let mut pointers: Vec<*const PamMessage> = structs.iter().map(|m| m as *const _).collect();
        let mut resp: *mut PamResponse = ptr::null_mut();
        let status = unsafe {
            conversation(
                messages.len() as c_int,
                pointers.as_mut_ptr(),
                &mut resp,
                (state as *mut ConvState).cast(),
            )
        };
        let mut answers = Vec::new();
        if status == PAM_SUCCESS {
            assert!(!resp.is_null());
            for index in 0..messages.len() {
                let text = unsafe { (*resp.add(index)).resp };
                if text.is_null() {
                    answers.push(None);
                } else {
                    answers.push(Some(
                        unsafe { CStr::from_ptr(text) }
                            .to_string_lossy()
                            .into_owned(),
                    ));
                }
            }
            unsafe { free_replies(resp, messages.len()) };
        } else {
            assert!(resp.is_null());
        }
        (status, answers)
    }

    #[test]
    fn password_then_otp_across_calls() {
        let mut state = state(&["hunter2", "123456"]);
        let (status, answers) = ask(&mut state, &[(1, "Password: ")]);
        assert_eq!(status, PAM_SUCCESS);
        assert_eq!(answers, [Some("hunter2".to_owned())]);
        let (status, answers) = ask(&mut state, &[(4, "Enter your code"), (1, "Code: ")]);
        assert_eq!(status, PAM_SUCCESS);
        assert_eq!(answers, [None, Some("123456".to_owned())]);
    }

    #[test]
    fn unanswerable_prompt_fails_without_leaking() {
        let mut state = state(&["pw"]);
        let (status, _) = ask(&mut state, &[(1, "Password: "), (1, "Code: ")]);
        assert_eq!(status, PAM_CONV_ERR);
        let (status, _) = ask(&mut state, &[(7, "binary")]);
        assert_eq!(status, PAM_CONV_ERR);
    }

    #[test]
    fn bad_arguments_are_refused() {
        let mut state = state(&["pw"]);
        let mut resp: *mut PamResponse = ptr::null_mut();
        let appdata: *mut c_void = (&mut *state as *mut ConvState).cast();
        let status = unsafe { conversation(0, ptr::null_mut(), &mut resp, appdata) };
        assert_eq!(status, PAM_CONV_ERR);
        let status = unsafe { conversation(64, ptr::null_mut(), &mut resp, appdata) };
        assert_eq!(status, PAM_CONV_ERR);
        let status = unsafe { conversation(1, ptr::null_mut(), ptr::null_mut(), appdata) };
        assert_eq!(status, PAM_CONV_ERR);
    }

    #[test]
    fn fail_delay_keeps_the_largest_failure_delay() {
        let mut state = state(&[]);
        let appdata: *mut c_void = (&mut *state as *mut ConvState).cast();
        unsafe {
            fail_delay(PAM_SUCCESS, 5_000_000, appdata);
            fail_delay(7, 300_000, appdata);
            fail_delay(7, 100_000, appdata);
        }
        assert_eq!(state.fail_delay_usec, Some(300_000));
    }

    #[test]
    fn strerror_names_codes() {
        let api = Api::open(super::super::DEFAULT_LIBPAM).unwrap();
        assert_eq!(api.name(), "libpam.so.0");
        assert_eq!(api.strerror(ptr::null_mut(), 7), "Authentication failure");
    }

    #[test]
    fn a_missing_library_is_named_with_the_loader_reason() {
        let err = Api::open("/nonexistent/libpam.so.0").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/nonexistent/libpam.so.0"), "{text}");
        assert!(text.contains("No such file or directory"), "{text}");
        assert!(text.contains("libpam0g"), "{text}");
    }

    #[test]
    fn a_library_without_pam_functions_is_refused() {
        // libc is loaded in every process and has none of PAM's functions.
        let err = Api::open("libc.so.6").unwrap_err();
        assert!(
            matches!(
                &err,
                PamLoadError::Symbol {
                    symbol: "pam_start",
                    ..
                }
            ),
            "{err:?}"
        );
    }
}
