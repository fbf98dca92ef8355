//! The authorization endpoint (RFC 6749 §4.1.1, OpenID Connect Core 1.0 §3.1.2): checking
//! a request, deciding whether the user must log in or consent, and issuing the code.
//!
//! A request is checked in two steps, as RFC 6749 §4.1.2.1 requires: first the client
//! and its redirect URI ([`authorization_target`]), whose errors are shown to the user
//! and never redirected, so the endpoint cannot be used as an open redirect; then the
//! rest ([`AuthorizationTarget::validate`]), whose errors go back to the client.

use serde::Deserialize;

use crate::client::{Client, find_client};
use crate::error::ProviderError;
use crate::freshness::{Freshness, LoginSession, check_reauth_marker, reauth_marker, reauth_url};
use crate::grants::{CODE_TTL, CodeGrant, new_grant, random_value};
use crate::pkce::is_valid_s256_challenge;
use crate::store::GrantStore;

/// The longest `nonce` accepted.
pub const MAX_NONCE_LEN: usize = 512;

/// The parameters of an authorization request, as sent (the query of a `GET`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct AuthorizationRequest {
    /// `response_type`: must be `code`.
    pub response_type: Option<String>,
    /// `client_id`.
    pub client_id: Option<String>,
    /// `redirect_uri`: required when the client registered several.
    pub redirect_uri: Option<String>,
    /// `scope`: space-separated.
    pub scope: Option<String>,
    /// `state`: returned to the client as it came.
    pub state: Option<String>,
    /// `nonce`: echoed in the ID token.
    pub nonce: Option<String>,
    /// `code_challenge` (PKCE).
    pub code_challenge: Option<String>,
    /// `code_challenge_method`: must be `S256` when a challenge is sent.
    pub code_challenge_method: Option<String>,
    /// `prompt`: space-separated `none`, `login`, `consent`.
    pub prompt: Option<String>,
    /// `max_age`: the most seconds since the user's login.
    pub max_age: Option<String>,
    /// Set by the provider itself on the way back from a forced login: which login must
    /// have happened since (see [`SessionStep::LogIn`]).
    pub hubauth_reauth: Option<String>,
}

/// The client and redirect URI of an authorization request, both known genuine: from
/// here on, errors go back to the client.
#[derive(Debug, Clone)]
pub struct AuthorizationTarget<'c> {
    client: &'c Client,
    redirect_uri: String,
    redirect_url: url::Url,
    redirect_uri_given: bool,
    state: Option<String>,
}

/// The client and redirect URI of `request`: an unknown client, an unregistered
/// redirect URI, or none when the client has several, are errors never redirected.
pub fn authorization_target<'c>(
    clients: &'c [Client],
    request: &AuthorizationRequest,
) -> Result<AuthorizationTarget<'c>, ProviderError> {
    let Some(client) = request
        .client_id
        .as_deref()
        .and_then(|id| find_client(clients, id))
    else {
        tracing::info!("authorization request for an unknown client refused");
        return Err(ProviderError::UnknownClient);
    };
    let (redirect_uri, redirect_uri_given) = match request.redirect_uri.as_deref() {
        Some(uri) if client.redirect_uris.iter().any(|r| r == uri) => (uri.to_owned(), true),
        Some(_) => {
            tracing::info!(client = %client.client_id, "authorization request with an unregistered redirect_uri refused");
            return Err(ProviderError::RedirectUriNotRegistered);
        }
        None => match client.redirect_uris.as_slice() {
            [only] => (only.clone(), false),
            _ => return Err(ProviderError::RedirectUriRequired),
        },
    };
    // Registered URIs were checked when the client was registered; one that does not
    // parse is treated as not registered.
    let redirect_url =
        url::Url::parse(&redirect_uri).map_err(|_| ProviderError::RedirectUriNotRegistered)?;
    Ok(AuthorizationTarget {
        client,
        redirect_uri,
        redirect_url,
        redirect_uri_given,
        state: request.state.clone(),
    })
}

/// The `prompt` values of a request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    /// `none`: show the user nothing; fail if a login or consent is needed.
    pub none: bool,
    /// `login`: the user must log in again.
    pub login: bool,
    /// `consent`: ask for consent even when the client skips it.
    pub consent: bool,
}

/// An authorization request that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The PKCE S256 challenge, when one was sent.
    pub code_challenge: Option<String>,
    /// The nonce.
    pub nonce: Option<String>,
    /// The prompt values.
    pub prompt: Prompt,
    /// `max_age`, in seconds (a huge value is no limit).
    pub max_age: Option<i64>,
    /// The requested scopes, as sent.
    pub scope: Option<String>,
    reauth: Option<String>,
}

/// What to do about the user's login session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionStep {
    /// The session will do: go on to consent.
    Continue,
    /// Send the user to log in, then back to `next` (the request, with a marker when the
    /// login must be a fresh one). `again`: the user is logged in, but not recently
    /// enough, so the login page must ask even so.
    LogIn {
        /// Where to come back to (path and query).
        next: String,
        /// Whether the user must log in although logged in.
        again: bool,
    },
}

/// What to do about the user's consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentStep {
    /// Show the consent page.
    Ask,
    /// Issue the code.
    Granted,
}

/// What a code is issued for, besides the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeIssue {
    /// The user who authorized.
    pub user: String,
    /// The scopes granted (see [`Client::grant_scopes`]), limited to what the user holds.
    pub scopes: Vec<String>,
    /// The user's login session (its id hash).
    pub session: String,
    /// When the user logged in.
    pub auth_time: i64,
}

impl<'c> AuthorizationTarget<'c> {
    /// The client.
    pub fn client(&self) -> &'c Client {
        self.client
    }

    /// The redirect URI, exactly as registered.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Checks the rest of the request (RFC 6749 §4.1.1, RFC 7636 §4.3, OIDC Core
    /// §3.1.2.1), in a fixed order: `response_type`, PKCE (required for public clients,
    /// S256 only), `nonce`, `prompt`, `max_age`.
    pub fn validate(&self, request: &AuthorizationRequest) -> Result<Authorization, ProviderError> {
        if request.response_type.as_deref() != Some("code") {
            return Err(ProviderError::UnsupportedResponseType);
        }
        let code_challenge = match (
            request.code_challenge.as_deref(),
            request.code_challenge_method.as_deref(),
        ) {
            (Some(challenge), Some("S256")) if is_valid_s256_challenge(challenge) => {
                Some(challenge.to_owned())
            }
            (Some(_), Some("S256")) => {
                return Err(ProviderError::invalid_request(
                    "code_challenge is malformed",
                ));
            }
            (Some(_), _) => {
                return Err(ProviderError::invalid_request(
                    "code_challenge_method must be S256 (plain is not accepted)",
                ));
            }
            (None, Some(_)) => {
                return Err(ProviderError::invalid_request(
                    "code_challenge_method without code_challenge",
                ));
            }
            (None, None) => None,
        };
        if code_challenge.is_none() && !self.client.is_confidential() {
            return Err(ProviderError::invalid_request(
                "PKCE (code_challenge with method S256) is required for public clients",
            ));
        }
        if request
            .nonce
            .as_deref()
            .is_some_and(|nonce| nonce.len() > MAX_NONCE_LEN)
        {
            return Err(ProviderError::invalid_request("nonce is too long"));
        }
        let values: Vec<&str> = request
            .prompt
            .as_deref()
            .unwrap_or("")
            .split(' ')
            .filter(|p| !p.is_empty())
            .collect();
        let prompt = Prompt {
            none: values.contains(&"none"),
            login: values.contains(&"login"),
            consent: values.contains(&"consent"),
        };
        if prompt.none && values.len() > 1 {
            return Err(ProviderError::invalid_request(
                "prompt=none cannot be combined with other prompt values",
            ));
        }
        let max_age = match request.max_age.as_deref().map(parse_max_age) {
            None => None,
            Some(Some(age)) => Some(age),
            Some(None) => {
                return Err(ProviderError::invalid_request(
                    "max_age must be a whole number of seconds",
                ));
            }
        };
        Ok(Authorization {
            code_challenge,
            nonce: request.nonce.clone(),
            prompt,
            max_age,
            scope: request.scope.clone(),
            reauth: request.hubauth_reauth.clone(),
        })
    }

    /// Where the browser goes with an error (`error`, `error_description`, `state`, and
    /// `iss` as RFC 9207 adds it).
    pub fn error_location(&self, error: &ProviderError, issuer: &str) -> String {
        self.location(
            &[
                ("error", error.code()),
                ("error_description", &error.description()),
            ],
            issuer,
        )
    }

    /// Where the browser goes with the code (`code`, `state`, `iss`).
    pub fn code_location(&self, code: &str, issuer: &str) -> String {
        self.location(&[("code", code)], issuer)
    }

    fn location(&self, params: &[(&str, &str)], issuer: &str) -> String {
        let mut url = self.redirect_url.clone();
        {
            let mut pairs = url.query_pairs_mut();
            for (key, value) in params {
                pairs.append_pair(key, value);
            }
            if let Some(state) = &self.state {
                pairs.append_pair("state", state);
            }
            pairs.append_pair("iss", issuer);
        }
        url.into()
    }

    /// Whether the user's login `session` will do, or where the user must log in first.
    /// `request_uri` is the request's path and query, to come back to; `key` the
    /// server's secret for the fresh-login marker. With `prompt=none`, a missing or
    /// stale session is `login_required` instead.
    pub fn session_step(
        &self,
        authorization: &Authorization,
        session: Option<LoginSession<'_>>,
        request_uri: &str,
        key: &[u8],
        now: i64,
    ) -> Result<SessionStep, ProviderError> {
        let client_id = self.client.client_id.as_str();
        let required = match authorization.reauth.as_deref() {
            // A marker that does not check out can be met by no login: the user logs in
            // again.
            Some(marker) => check_reauth_marker(key, client_id, marker, now)
                .map_or(Freshness::Never, Freshness::After),
            None if authorization.prompt.login => Freshness::Never,
            None => authorization.max_age.map_or(Freshness::Any, |age| {
                Freshness::Since(now.saturating_sub(age))
            }),
        };
        let stale = match session {
            Some(session) if required.met_by(key, client_id, session) => {
                return Ok(SessionStep::Continue);
            }
            stale => stale,
        };
        if authorization.prompt.none {
            return Err(ProviderError::LoginRequired);
        }
        if matches!(required, Freshness::Any) {
            return Ok(SessionStep::LogIn {
                next: request_uri.to_owned(),
                again: false,
            });
        }
        // Back from the login, the request carries a marker saying which login must have
        // happened, and no longer prompt=login, so that it does not loop.
        let marker = reauth_marker(key, client_id, now, stale.map(|session| session.id));
        if stale.is_some() {
            tracing::info!(client = %client_id, "the service asked for a fresh login (prompt=login or max_age); sending the user to log in again");
        }
        Ok(SessionStep::LogIn {
            next: reauth_url(request_uri, &marker),
            again: stale.is_some(),
        })
    }

    /// Whether to ask the user for consent, given their answer on the consent page
    /// (`Some(true)`: allow; the caller has checked the form came from its page) or none
    /// yet. A client registered to skip consent skips it unless `prompt=consent`; with
    /// `prompt=none` consent cannot be asked (`consent_required`). `user` is for the log.
    pub fn consent_step(
        &self,
        authorization: &Authorization,
        decision: Option<bool>,
        user: &str,
    ) -> Result<ConsentStep, ProviderError> {
        match decision {
            Some(true) => Ok(ConsentStep::Granted),
            Some(false) => {
                tracing::info!(client = %self.client.client_id, user = %user, "the user denied a service access");
                Err(ProviderError::AccessDenied)
            }
            None if !self.client.no_confirm || authorization.prompt.consent => {
                if authorization.prompt.none {
                    Err(ProviderError::ConsentRequired)
                } else {
                    Ok(ConsentStep::Ask)
                }
            }
            None => Ok(ConsentStep::Granted),
        }
    }

    /// Issues an authorization code for the request, valid for [`CODE_TTL`] seconds from
    /// `now`, and stores it; returns the code (see [`AuthorizationTarget::code_location`]).
    pub async fn issue_code<S: GrantStore + ?Sized>(
        &self,
        store: &S,
        authorization: &Authorization,
        issue: CodeIssue,
        now: i64,
    ) -> Result<String, ProviderError> {
        let code = random_value();
        let user = issue.user.clone();
        let grant = CodeGrant {
            client_id: self.client.client_id.clone(),
            redirect_uri: self.redirect_uri.clone(),
            redirect_uri_given: self.redirect_uri_given,
            user: issue.user,
            scopes: issue.scopes,
            nonce: authorization.nonce.clone(),
            code_challenge: authorization.code_challenge.clone(),
            auth_time: issue.auth_time,
            session: issue.session,
        };
        // Expired families are deleted by the server's periodic clean-up.
        store
            .create_code(new_grant(&code, &grant, now, now.saturating_add(CODE_TTL))?)
            .await?;
        tracing::info!(client = %self.client.client_id, user = %user, "issued an authorization code");
        Ok(code)
    }
}

/// `max_age` as seconds: digits only (a huge value is no limit); `None` when malformed.
fn parse_max_age(value: &str) -> Option<i64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        value
            .parse::<u64>()
            .map_or(i64::MAX, |age| i64::try_from(age).unwrap_or(i64::MAX)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::tests::clients;

    const KEY: &[u8] = b"server secret";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn request(fields: &[(&str, &str)]) -> AuthorizationRequest {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        serde_json::from_value(serde_json::Value::Object(
            url::form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), serde_json::Value::String(v.into_owned())))
                .collect(),
        ))
        .unwrap()
    }

    fn checked(fields: &[(&str, &str)]) -> Result<Authorization, ProviderError> {
        let clients = clients();
        let request = request(fields);
        authorization_target(&clients, &request)?.validate(&request)
    }

    #[test]
    fn client_and_redirect_uri_errors_are_never_redirected() {
        let mut clients = clients();
        let err = authorization_target(&clients, &request(&[("client_id", "nope")])).unwrap_err();
        assert!(matches!(err, ProviderError::UnknownClient) && !err.may_redirect());
        let err = authorization_target(
            &clients,
            &request(&[("client_id", "conf"), ("redirect_uri", "https://evil/cb")]),
        )
        .unwrap_err();
        assert!(matches!(err, ProviderError::RedirectUriNotRegistered));
        clients[0]
            .redirect_uris
            .push("https://app.example/other".into());
        let err = authorization_target(&clients, &request(&[("client_id", "conf")])).unwrap_err();
        assert!(matches!(err, ProviderError::RedirectUriRequired));
        let named = authorization_target(
            &clients,
            &request(&[
                ("client_id", "conf"),
                ("redirect_uri", "https://app.example/other"),
            ]),
        )
        .unwrap();
        assert_eq!(named.redirect_uri(), "https://app.example/other");
    }

    #[test]
    fn request_checks_in_order() {
        let base = [("client_id", "conf"), ("response_type", "code")];
        let with = |extra: &[(&str, &str)]| {
            let mut fields = base.to_vec();
            fields.extend_from_slice(extra);
            checked(&fields).map_err(|err| (err.code(), err.description().into_owned()))
        };
        assert!(with(&[]).is_ok());
        assert_eq!(
            checked(&[("client_id", "conf"), ("response_type", "token")])
                .unwrap_err()
                .code(),
            "unsupported_response_type"
        );
        for (extra, message) in [
            (
                vec![
                    ("code_challenge", "short"),
                    ("code_challenge_method", "S256"),
                ],
                "code_challenge is malformed",
            ),
            (
                vec![
                    ("code_challenge", CHALLENGE),
                    ("code_challenge_method", "plain"),
                ],
                "code_challenge_method must be S256 (plain is not accepted)",
            ),
            (
                vec![("code_challenge", CHALLENGE)],
                "code_challenge_method must be S256 (plain is not accepted)",
            ),
            (
                vec![("code_challenge_method", "S256")],
                "code_challenge_method without code_challenge",
            ),
            (vec![("nonce", &"n".repeat(513))], "nonce is too long"),
            (
                vec![("prompt", "none login")],
                "prompt=none cannot be combined with other prompt values",
            ),
            (
                vec![("prompt", "none none")],
                "prompt=none cannot be combined with other prompt values",
            ),
            (
                vec![("max_age", "-1")],
                "max_age must be a whole number of seconds",
            ),
            (
                vec![("max_age", "")],
                "max_age must be a whole number of seconds",
            ),
        ] {
            assert_eq!(
                with(&extra),
                Err(("invalid_request", message.to_owned())),
                "{extra:?}"
            );
        }
        let ok = with(&[
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("prompt", "login consent"),
            ("max_age", "99999999999999999999999"),
            ("nonce", "n"),
        ])
        .unwrap();
        assert_eq!(ok.code_challenge.as_deref(), Some(CHALLENGE));
        assert_eq!(ok.max_age, Some(i64::MAX));
        assert!(ok.prompt.login && ok.prompt.consent && !ok.prompt.none);
        // A public client must use PKCE.
        assert_eq!(
            checked(&[("client_id", "pub"), ("response_type", "code")])
                .unwrap_err()
                .description(),
            "PKCE (code_challenge with method S256) is required for public clients"
        );
    }

    #[test]
    fn redirects_carry_state_and_issuer() {
        let clients = clients();
        let request = request(&[("client_id", "conf"), ("state", "s 1")]);
        let target = authorization_target(&clients, &request).unwrap();
        assert_eq!(
            target.code_location("C", "https://hub"),
            "https://app.example/cb?code=C&state=s+1&iss=https%3A%2F%2Fhub"
        );
        assert_eq!(
            target.error_location(&ProviderError::AccessDenied, "https://hub"),
            "https://app.example/cb?error=access_denied&error_description=the+user+denied+access&state=s+1&iss=https%3A%2F%2Fhub"
        );
    }

    #[test]
    fn login_steps() {
        let clients = clients();
        let step = |fields: &[(&str, &str)], session: Option<LoginSession<'_>>| {
            let mut all = vec![("client_id", "conf"), ("response_type", "code")];
            all.extend_from_slice(fields);
            let request = request(&all);
            let target = authorization_target(&clients, &request).unwrap();
            let authorization = target.validate(&request).unwrap();
            target.session_step(&authorization, session, "/authorize?x=1", KEY, 1000)
        };
        let fresh = LoginSession {
            id: "s",
            auth_time: 990,
        };
        assert_eq!(step(&[], Some(fresh)).unwrap(), SessionStep::Continue);
        assert_eq!(
            step(&[], None).unwrap(),
            SessionStep::LogIn {
                next: "/authorize?x=1".into(),
                again: false
            }
        );
        assert!(matches!(
            step(&[("prompt", "none")], None),
            Err(ProviderError::LoginRequired)
        ));
        assert_eq!(
            step(&[("max_age", "10")], Some(fresh)).unwrap(),
            SessionStep::Continue
        );
        let SessionStep::LogIn { next, again } = step(&[("max_age", "9")], Some(fresh)).unwrap()
        else {
            panic!("a login older than max_age must not do");
        };
        assert!(again && next.starts_with("/authorize?x=1&hubauth_reauth=1000."));
        assert!(matches!(
            step(&[("prompt", "login")], Some(fresh)).unwrap(),
            SessionStep::LogIn { again: true, .. }
        ));
        // Back from the login, with the marker: a new session after it will do.
        let marker = next.split("hubauth_reauth=").nth(1).unwrap().to_owned();
        let later = LoginSession {
            id: "t",
            auth_time: 1000,
        };
        assert_eq!(
            step(&[("hubauth_reauth", &marker)], Some(later)).unwrap(),
            SessionStep::Continue
        );
        assert!(matches!(
            step(&[("hubauth_reauth", &marker)], Some(fresh)).unwrap(),
            SessionStep::LogIn { again: true, .. }
        ));
    }

    #[test]
    fn consent_steps() {
        let mut clients = clients();
        clients[1].no_confirm = true;
        let step = |id: &str, prompt: &str, decision| {
            let request = request(&[
                ("client_id", id),
                ("response_type", "code"),
                ("prompt", prompt),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
            ]);
            let target = authorization_target(&clients, &request).unwrap();
            let authorization = target.validate(&request).unwrap();
            target.consent_step(&authorization, decision, "ada")
        };
        assert_eq!(step("conf", "", None).unwrap(), ConsentStep::Ask);
        assert_eq!(step("conf", "", Some(true)).unwrap(), ConsentStep::Granted);
        assert!(matches!(
            step("conf", "", Some(false)),
            Err(ProviderError::AccessDenied)
        ));
        assert!(matches!(
            step("conf", "none", None),
            Err(ProviderError::ConsentRequired)
        ));
        assert_eq!(step("pub", "", None).unwrap(), ConsentStep::Granted);
        assert_eq!(step("pub", "consent", None).unwrap(), ConsentStep::Ask);
    }
}
