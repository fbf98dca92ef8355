//! Logins: a login that passed the rules becomes a stored user with a session
//! ([`Logins::complete`]), from the login form ([`Logins::with_form`]) or from an
//! identity provider ([`Logins::begin_redirect`], [`Logins::finish_redirect`]); and what
//! each attempt came to ([`LoginOutcome`]), logged once per attempt ([`LoginRecord`]).
//!
//! A login at an identity provider is kept server-side until its callback: a random state
//! per attempt, single-use, expiring after [`STATE_TTL`] seconds, and bound to the browser,
//! so that concurrent logins in two tabs both work (upstream F11) and a replayed or foreign
//! state is refused.

use std::collections::BTreeMap;

use hubauth_core::{
    AuthError, AuthModel, DenyReason, LoginData, LoginMethod, Outcome, PendingRedirect,
    RedirectLogin, RequestContext,
};
use hubauth_store::{NewLoginState, PendingLoginLimits, PendingLoginOutcome, PendingLoginOwner};
use serde::{Deserialize, Serialize};

use super::Services;
use crate::error::HubError;
use crate::limiter::Limited;
use crate::secrets::{hash_token, random_token};

/// How long a login may take at the identity provider, in seconds.
pub const STATE_TTL: i64 = 600;

/// Pending logins one browser may have at once (tabs); beyond it its oldest is dropped.
const PENDING_PER_BROWSER: u32 = 10;

/// What a login attempt came to. Its [`label`](LoginOutcome::label) is the `outcome` of the
/// login log line and of `hubauth_logins_total`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// The user logged in.
    LoggedIn,
    /// The login rules refused the user (wrong password, invalid name, blocked, not
    /// allowed).
    Denied(DenyReason),
    /// The hub refused the attempt before the rules had their say (the form's token, a
    /// rate limit, a login method this hub does not have), or the authenticator refused it
    /// with a message for the user.
    Refused(String),
    /// The identity provider answered with an error, or could not be used.
    ProviderError(String),
    /// The OAuth state that came back does not belong to a login this browser started.
    BadState(&'static str),
    /// The hub failed.
    Failed(String),
}

impl LoginOutcome {
    /// The fixed word logged as `outcome` and used as the metric label.
    pub fn label(&self) -> &'static str {
        match self {
            LoginOutcome::LoggedIn => "ok",
            LoginOutcome::Denied(reason) => reason.as_str(),
            LoginOutcome::Refused(_) => "refused",
            LoginOutcome::ProviderError(_) => "provider_error",
            LoginOutcome::BadState(_) => "bad_state",
            LoginOutcome::Failed(_) => "error",
        }
    }

    /// Why, as logged (`reason`).
    pub fn reason(&self) -> &str {
        match self {
            LoginOutcome::LoggedIn => "",
            LoginOutcome::Denied(reason) => reason.as_str(),
            LoginOutcome::Refused(reason)
            | LoginOutcome::ProviderError(reason)
            | LoginOutcome::Failed(reason) => reason,
            LoginOutcome::BadState(reason) => reason,
        }
    }
}

/// One login attempt: logged as exactly one line (fields `authenticator`, `user`,
/// `outcome`, `reason`) and counted once in `hubauth_logins_total`, by [`LoginRecord::log`].
///
/// Only values that are safe to log go in: names (shortened by
/// [`hubauth_core::pipeline::loggable`]), outcome words and reasons, never form fields,
/// codes, tokens or cookies.
#[derive(Debug)]
pub struct LoginRecord {
    authenticator: &'static str,
    method: String,
    user: String,
    outcome: Option<LoginOutcome>,
}

impl LoginRecord {
    /// An attempt with the authenticator's class name and no outcome yet.
    pub fn new(authenticator: &'static str) -> Self {
        LoginRecord {
            authenticator,
            method: String::new(),
            user: String::new(),
            outcome: None,
        }
    }

    /// Sets the login method that handled the attempt: its class and its name (empty on
    /// a hub with one method).
    pub fn set_method(&mut self, class: &'static str, name: &str) {
        self.authenticator = class;
        self.method = name.to_owned();
    }

    /// Sets the user name as it may be logged (untrusted input is shortened).
    pub fn set_user(&mut self, name: &str) {
        self.user = hubauth_core::pipeline::loggable(name);
    }

    /// Sets the outcome.
    pub fn set_outcome(&mut self, outcome: LoginOutcome) {
        self.outcome = Some(outcome);
    }

    /// The outcome, once known.
    pub fn outcome(&self) -> Option<&LoginOutcome> {
        self.outcome.as_ref()
    }

    /// Logs and counts the attempt; one without an outcome is not a finished login and
    /// emits nothing.
    pub fn log(&self) {
        let Some(outcome) = &self.outcome else {
            return;
        };
        let label = outcome.label();
        crate::metrics::login(self.authenticator, &self.method, label);
        // A hub with one method logs no `method` field at all (an absent Option records
        // nothing), so its log lines are the same as before methods existed.
        let method = (!self.method.is_empty()).then(|| tracing::field::display(&self.method));
        if *outcome == LoginOutcome::LoggedIn {
            tracing::info!(
                authenticator = self.authenticator,
                method,
                user = %self.user,
                outcome = label,
                reason = %outcome.reason(),
                "User logged in"
            );
        } else {
            tracing::warn!(
                authenticator = self.authenticator,
                method,
                user = %self.user,
                outcome = label,
                reason = %outcome.reason(),
                "Failed login"
            );
        }
    }
}

/// A session a login started.
#[derive(Debug, Clone)]
pub struct StartedSession {
    /// The user as stored.
    pub user: String,
    /// The session token for the cookie.
    pub token: String,
}

/// What a login with the form came to.
#[derive(Debug)]
pub enum FormLogin {
    /// Logged in.
    LoggedIn(StartedSession),
    /// The rules said no.
    Denied {
        /// The normalized name, when authentication got that far.
        name: Option<String>,
        /// Why.
        reason: DenyReason,
    },
    /// The authenticator refused with a status and a message for the user.
    Refused {
        /// The HTTP status the authenticator asked for.
        status: u16,
        /// Its message.
        message: String,
    },
    /// Too many failed logins.
    Limited(Limited),
}

/// What the hub keeps about a login at an identity provider until its callback (stored
/// as JSON with these field names; rows written before this type existed read the same).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogin {
    /// The hash of the browser binding the login belongs to.
    pub browser: String,
    /// Where to go after the login (checked when the login started).
    pub next: Option<String>,
    /// The callback URL given to the provider; the token request repeats it.
    pub redirect_uri: String,
    /// What the authenticator keeps until the callback.
    pub pending: PendingRedirect,
    /// The login method the login belongs to (empty on a hub with one).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub method: String,
}

/// A login sent to the identity provider.
#[derive(Debug, Clone)]
pub struct RedirectBegun {
    /// Where to send the browser.
    pub authorize_url: String,
}

/// What the callback of a login at an identity provider came to.
#[derive(Debug)]
pub enum RedirectDone {
    /// Logged in; go to `next` (or the default).
    LoggedIn {
        /// The new session.
        session: StartedSession,
        /// Where the login started wants to return to.
        next: Option<String>,
    },
    /// The rules said no.
    Denied {
        /// The normalized name.
        name: Option<String>,
        /// Why.
        reason: DenyReason,
    },
}

/// Why a login at an identity provider stopped before the login rules had their say.
#[derive(Debug, thiserror::Error)]
pub enum CallbackRefusal {
    /// The hub has no login at an identity provider.
    #[error("this hub does not log in through an identity provider")]
    NoProvider,
    /// The provider could not be used, or refused the code.
    #[error(transparent)]
    Provider(AuthError),
    /// Too many logins started from this address and not finished.
    #[error("too many pending logins from this address")]
    TooManyFromAddress,
    /// The table of pending logins is full.
    #[error("the pending login table is full")]
    TableFull,
    /// The provider answered the authorization request with an error.
    #[error("the provider answered with error {error}")]
    ProviderAnswered {
        /// The `error` code (shortened for the log).
        error: String,
        /// `error_description`, or the code.
        description: String,
    },
    /// The callback came without a code.
    #[error("callback without a code")]
    NoCode,
    /// The state does not fit.
    #[error("{}", .0.reason())]
    BadState(BadState),
    /// The hub failed.
    #[error(transparent)]
    Failed(HubError),
}

impl From<HubError> for CallbackRefusal {
    fn from(err: HubError) -> Self {
        CallbackRefusal::Failed(err)
    }
}

impl From<hubauth_store::StoreError> for CallbackRefusal {
    fn from(err: hubauth_store::StoreError) -> Self {
        CallbackRefusal::Failed(err.into())
    }
}

impl CallbackRefusal {
    /// What the attempt came to; `None` for a failure of the hub (the web layer names it
    /// from the error it answers with).
    pub fn outcome(&self) -> Option<LoginOutcome> {
        Some(match self {
            CallbackRefusal::NoProvider => LoginOutcome::Refused(
                "This hub does not log in through an identity provider.".to_owned(),
            ),
            CallbackRefusal::Provider(err) => LoginOutcome::ProviderError(err.to_string()),
            CallbackRefusal::TooManyFromAddress | CallbackRefusal::TableFull => {
                LoginOutcome::Refused(self.to_string())
            }
            CallbackRefusal::ProviderAnswered { .. } | CallbackRefusal::NoCode => {
                LoginOutcome::ProviderError(self.to_string())
            }
            CallbackRefusal::BadState(bad) => LoginOutcome::BadState(bad.reason()),
            CallbackRefusal::Failed(_) => return None,
        })
    }
}

/// Why a callback's state is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadState {
    /// The callback URL has no `state`.
    MissingFromUrl,
    /// The callback URL's `state` is empty.
    EmptyInUrl,
    /// The browser binding cookie is missing.
    NoCookie,
    /// No pending login has this state (never issued, or used already).
    Unknown,
    /// The stored login cannot be read.
    Unreadable,
    /// The login was started by another browser.
    OtherBrowser,
    /// The login took longer than [`STATE_TTL`].
    Expired,
    /// The login was started for another login method than the callback names, or for
    /// a method the hub no longer has.
    OtherMethod,
}

impl BadState {
    /// Why, as logged.
    pub fn reason(self) -> &'static str {
        match self {
            BadState::MissingFromUrl | BadState::EmptyInUrl => "state missing from the URL",
            BadState::NoCookie => "state cookie missing",
            BadState::Unknown => "state unknown or already used",
            BadState::Unreadable => "stored state unreadable",
            BadState::OtherBrowser => "state belongs to another browser",
            BadState::Expired => "state expired",
            BadState::OtherMethod => "state belongs to another login method",
        }
    }
}

/// The logins service (see the module documentation).
#[derive(Debug, Clone, Copy)]
pub struct Logins<'a> {
    hub: &'a Services,
}

impl<'a> Logins<'a> {
    pub(super) fn new(hub: &'a Services) -> Self {
        Logins { hub }
    }

    /// Completes a login that passed the rules at `now`: stores the user
    /// ([`super::Accounts::store_login`]), starts a session, marks the user's auth info as
    /// fresh and runs the authenticator's `session_started`.
    pub async fn complete(&self, model: &AuthModel, now: i64) -> Result<StartedSession, HubError> {
        let method = self.hub.methods.first().cloned();
        match method {
            Some(method) => self.complete_with(&method, model, now).await,
            None => Err(HubError::Auth(AuthError::Internal(
                "the hub has no login method".to_owned(),
            ))),
        }
    }

    /// Whether `name` is an account only other login methods have logged in (never on a
    /// hub with one method): such a login is refused, so that two methods' users cannot
    /// become one account by having the same name. Linking rules join accounts on
    /// purpose ([`Logins::linked`]).
    async fn owned_elsewhere(&self, method: &LoginMethod, name: &str) -> Result<bool, HubError> {
        if method.name.is_empty() {
            return Ok(false);
        }
        let methods = self.hub.store.login_methods_of(name).await?;
        Ok(!methods.is_empty() && !methods.contains(&method.name))
    }

    /// A login that passed `method`'s rules, as the account it goes to: when the method
    /// has a linking rule and the login's verified identity names an account already
    /// (logged in through a method with the same rule), that account; else the name the
    /// method derived, refused when other methods own it.
    async fn settle(
        &self,
        method: &LoginMethod,
        mut model: AuthModel,
    ) -> Result<Settled, HubError> {
        if let Some(rule) = &method.link_by
            && let Some(key) = rule.key(&model)
            && let Some(account) = self.hub.store.linked_user(&rule.kind(), &key).await?
        {
            if account != model.name {
                tracing::info!(
                    user = %account,
                    derived = %hubauth_core::pipeline::loggable(&model.name),
                    method = %method.name,
                    "login linked to an existing account by the method's linking rule"
                );
                model.name = account;
            }
            return Ok(Settled::Account(Box::new(model)));
        }
        if self.owned_elsewhere(method, &model.name).await? {
            return Ok(Settled::OwnedElsewhere(model.name));
        }
        Ok(Settled::Account(Box::new(model)))
    }

    /// [`Logins::complete`] for a login through `method`, which then owns the account.
    async fn complete_with(
        &self,
        method: &LoginMethod,
        model: &AuthModel,
        now: i64,
    ) -> Result<StartedSession, HubError> {
        let hub = self.hub;
        let mut model = model.clone();
        let own_groups = hub
            .accounts()
            .join_method_groups(method, &mut model)
            .await?;
        let user = hub
            .accounts()
            .store_login_with(method.authenticator.as_ref(), &model, now)
            .await?;
        if !method.name.is_empty() {
            hub.store
                .record_login_method(&user.name, &method.name, own_groups.as_deref())
                .await?;
            if let Some(rule) = &method.link_by
                && let Some(key) = rule.key(&model)
            {
                hub.store
                    .set_login_link(&rule.kind(), &key, &user.name)
                    .await?;
            }
        }
        let provider = crate::backchannel::provider_session_link(&model);
        let token = hub
            .sessions()
            .start_linked(&user.name, now, provider)
            .await?;
        hub.sessions().mark_refreshed(&user.name, now);
        if let Err(err) = method.authenticator.session_started(&user.name).await {
            tracing::warn!(user = %user.name, error = %err, "authenticator could not start its session");
        }
        Ok(StartedSession {
            user: user.name,
            token,
        })
    }

    /// A login with the form's `data` from `ctx.remote_ip`: the rate limits (a slot is
    /// taken before the password is checked, so concurrent guesses cannot all pass the
    /// limit; a successful login gives it back), the rule pipeline, and
    /// [`Logins::complete`].
    pub async fn with_form(
        &self,
        ctx: &RequestContext,
        method: &LoginMethod,
        data: &LoginData,
    ) -> Result<FormLogin, HubError> {
        let hub = self.hub;
        let reservation = match hub
            .limiter
            .try_reserve(ctx.remote_ip, data.username(), ctx.now)
        {
            Ok(reservation) => reservation,
            Err(limited) => return Ok(FormLogin::Limited(limited)),
        };
        let outcome = hubauth_core::get_authenticated_user(
            method.authenticator.as_ref(),
            hub.hook.as_deref(),
            ctx,
            data,
        )
        .await;
        match outcome {
            Ok(Outcome::Success(model)) => {
                hub.limiter.refund(reservation);
                match self.settle(method, *model).await? {
                    Settled::Account(model) => Ok(FormLogin::LoggedIn(
                        self.complete_with(method, &model, ctx.now).await?,
                    )),
                    Settled::OwnedElsewhere(name) => Ok(FormLogin::Denied {
                        name: Some(name),
                        reason: DenyReason::OtherMethod,
                    }),
                }
            }
            Ok(Outcome::Denied { name, reason }) => Ok(FormLogin::Denied { name, reason }),
            Err(AuthError::Http { status, message }) => Ok(FormLogin::Refused { status, message }),
            Err(err) => {
                // The hub failed, not the guess: the slot is not the client's to lose.
                hub.limiter.refund(reservation);
                Err(err.into())
            }
        }
    }

    /// The login at an identity provider of the only method, or of the default one.
    pub fn redirect_login(&self) -> Option<&'a dyn RedirectLogin> {
        self.hub
            .default_method()
            .and_then(|method| method.authenticator.redirect_login())
    }

    /// Starts a login at the identity provider at `ctx.now`: the authenticator builds the
    /// authorization URL, and the login is kept until the callback for the browser whose
    /// binding hashes to `browser`, going to `next` afterwards, within the limits on
    /// pending logins per address and in all.
    pub async fn begin_redirect(
        &self,
        ctx: &RequestContext,
        method: &LoginMethod,
        browser: String,
        next: Option<String>,
        redirect_uri: String,
    ) -> Result<RedirectBegun, CallbackRefusal> {
        let hub = self.hub;
        let login = method
            .authenticator
            .redirect_login()
            .ok_or(CallbackRefusal::NoProvider)?;
        let state_id = random_token();
        let start = login
            .begin(ctx, &state_id, &redirect_uri)
            .await
            .map_err(CallbackRefusal::Provider)?;
        let record = PendingLogin {
            browser,
            next,
            redirect_uri,
            pending: start.pending,
            method: method.name.clone(),
        };
        let owner = PendingLoginOwner {
            browser: record.browser.clone(),
            client: ctx
                .remote_ip
                .map(|ip| crate::forwarded::bucket(ip).to_string())
                .unwrap_or_default(),
            next: record.next.clone().unwrap_or_default(),
        };
        let data =
            serde_json::to_string(&record).map_err(|err| HubError::Crypt(err.to_string()))?;
        let limits = PendingLoginLimits {
            per_browser: PENDING_PER_BROWSER,
            per_client: hub.config.pending_logins_per_address,
            total: hub.config.pending_logins_max,
        };
        let stored = hub
            .store
            .put_login_state_capped(
                NewLoginState {
                    state_hash: hash_token(&state_id),
                    data,
                    created: ctx.now,
                    expires: ctx.now + STATE_TTL,
                },
                owner,
                limits,
            )
            .await?;
        match stored {
            PendingLoginOutcome::Stored => {}
            PendingLoginOutcome::ClientLimit => return Err(CallbackRefusal::TooManyFromAddress),
            PendingLoginOutcome::Full => {
                tracing::warn!(
                    limit = hub.config.pending_logins_max,
                    "pending_logins_max reached: login starts are refused until pending logins expire"
                );
                return Err(CallbackRefusal::TableFull);
            }
        }
        tracing::info!(
            authenticator = method.authenticator.class_name(),
            "OAuth redirect to the identity provider"
        );
        Ok(RedirectBegun {
            authorize_url: start.authorize_url,
        })
    }

    /// Finishes a login at the identity provider from its callback at `ctx.now`: the
    /// callback's `query`, and `browser`, the hash of the request's browser binding (when it
    /// has one the hub minted). A state that came back is used up whatever happens next;
    /// then the provider's answer (an `error`, or a code), the state (known, this
    /// browser's, in time), the authenticator's redemption of the code, the rules and
    /// [`Logins::complete`]. `user` names the user once the provider did (for the log).
    ///
    /// `path_method` is the method named in the callback's path; on a hub with several
    /// methods the stored login decides which method redeems the code, and a login started
    /// for another method than the path names is refused.
    pub async fn finish_redirect(
        &self,
        ctx: &RequestContext,
        path_method: Option<&str>,
        browser: Option<&str>,
        query: &BTreeMap<String, String>,
        user: &mut Option<String>,
    ) -> Result<RedirectDone, CallbackRefusal> {
        let hub = self.hub;
        let any_redirect = hub
            .methods
            .iter()
            .any(|method| method.authenticator.redirect_login().is_some());
        if !any_redirect {
            return Err(CallbackRefusal::NoProvider);
        }
        let url_state = query.get("state");
        let record = match url_state.filter(|value| !value.is_empty()) {
            Some(value) => hub.store.take_login_state(&hash_token(value)).await?,
            None => None,
        };
        if let Some(error) = query.get("error") {
            let description = query
                .get("error_description")
                .filter(|d| !d.is_empty())
                .unwrap_or(error);
            return Err(CallbackRefusal::ProviderAnswered {
                error: hubauth_core::pipeline::loggable(error),
                description: description.clone(),
            });
        }
        let Some(code) = query.get("code").filter(|code| !code.is_empty()) else {
            return Err(CallbackRefusal::NoCode);
        };
        let bad = |why| Err(CallbackRefusal::BadState(why));
        let Some(url_state) = url_state else {
            return bad(BadState::MissingFromUrl);
        };
        let Some(browser) = browser else {
            return bad(BadState::NoCookie);
        };
        if url_state.is_empty() {
            return bad(BadState::EmptyInUrl);
        }
        let Some(record) = record else {
            return bad(BadState::Unknown);
        };
        let Ok(pending) = serde_json::from_str::<PendingLogin>(&record.data) else {
            return bad(BadState::Unreadable);
        };
        if pending.browser != browser {
            return bad(BadState::OtherBrowser);
        }
        if !record.is_valid_at(ctx.now) {
            return bad(BadState::Expired);
        }
        let method = if hub.has_named_methods() {
            if path_method.is_some_and(|named| named != pending.method) {
                return bad(BadState::OtherMethod);
            }
            hub.method(&pending.method)
        } else {
            hub.methods.first()
        };
        let Some(method) = method else {
            return bad(BadState::OtherMethod);
        };
        let login = method
            .authenticator
            .redirect_login()
            .ok_or(CallbackRefusal::NoProvider)?;
        let model = login
            .complete(ctx, &pending.redirect_uri, code, query, &pending.pending)
            .await
            .map_err(CallbackRefusal::Provider)?;
        *user = Some(model.name.clone());
        let outcome = hubauth_core::authorize(
            method.authenticator.as_ref(),
            hub.hook.as_deref(),
            ctx,
            model,
        )
        .await
        .map_err(HubError::from)?;
        match outcome {
            Outcome::Success(model) => match self.settle(method, *model).await? {
                Settled::Account(model) => Ok(RedirectDone::LoggedIn {
                    session: self.complete_with(method, &model, ctx.now).await?,
                    next: pending.next,
                }),
                Settled::OwnedElsewhere(name) => Ok(RedirectDone::Denied {
                    name: Some(name),
                    reason: DenyReason::OtherMethod,
                }),
            },
            Outcome::Denied { name, reason } => Ok(RedirectDone::Denied { name, reason }),
        }
    }
}

/// Which account a login that passed its method's rules goes to ([`Logins::settle`]).
enum Settled {
    /// This one (the derived name, or the account a linking rule found).
    Account(Box<AuthModel>),
    /// None: only other login methods have logged in the account with this name.
    OwnedElsewhere(String),
}
