//! Test controls: endpoints, injected faults, ID token tampering, and the request log.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// One of the provider's endpoints (paths relative to the issuer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// `/.well-known/openid-configuration`
    Discovery,
    /// `/jwks`
    Jwks,
    /// `/authorize`
    Authorize,
    /// `/token`
    Token,
    /// `/userinfo`
    Userinfo,
    /// `/logout` (the `end_session_endpoint`)
    EndSession,
}

impl Endpoint {
    /// Every endpoint.
    pub const ALL: [Endpoint; 6] = [
        Endpoint::Discovery,
        Endpoint::Jwks,
        Endpoint::Authorize,
        Endpoint::Token,
        Endpoint::Userinfo,
        Endpoint::EndSession,
    ];

    /// The endpoint's path relative to the issuer, such as `/token`.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Discovery => "/.well-known/openid-configuration",
            Endpoint::Jwks => "/jwks",
            Endpoint::Authorize => "/authorize",
            Endpoint::Token => "/token",
            Endpoint::Userinfo => "/userinfo",
            Endpoint::EndSession => "/logout",
        }
    }

    pub(crate) fn from_path(prefix: &str, path: &str) -> Option<Endpoint> {
        let rest = path.strip_prefix(prefix)?;
        Endpoint::ALL.into_iter().find(|e| e.path() == rest)
    }
}

/// A failure the provider produces instead of its next normal response at an endpoint
/// (see [`crate::mock::MockServer::fail_next`]). A faulted request is recorded but otherwise
/// not processed (a code sent with it stays unused), except for `Delay`, which answers
/// normally after the wait.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer with this HTTP status and body (sent as `application/json` when the body
    /// parses as JSON, `text/plain` otherwise). A status outside 200..=599 becomes 500.
    Status(u16, String),
    /// Wait this long (real time, not the injected clock), then answer normally.
    Delay(Duration),
    /// Answer 200 with `Content-Type: application/json` and a body that is not JSON.
    Garbage,
    /// Answer 200 with `Content-Type: application/json` and an empty body.
    EmptyBody,
}

/// A way to make the next issued ID token wrong, for tests of the relying party's
/// verification (see [`crate::RunningIdp::tamper_next_id_token`]). The token response is
/// otherwise normal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Tamper {
    /// `aud` is another client's id (`"someone-else"`).
    WrongAudience,
    /// `iss` is another issuer (`https://wrong-issuer.invalid`).
    WrongIssuer,
    /// `exp` is an hour in the past (`iat` before it).
    Expired,
    /// Signed by a different P-256 key that carries the real key's `kid`.
    BadSignature,
    /// Signed by a different key under a `kid` the JWKS does not publish.
    UnknownKid,
    /// `alg: none` and an empty signature.
    AlgNone,
    /// `alg: HS256`, keyed with the provider's public key in PEM (SPKI) form: the classic
    /// algorithm-confusion attack.
    HmacWithPublicKey,
    /// `nonce` is a random value that is not the one the client sent (set even when the
    /// client sent none).
    WrongNonce,
    /// `nonce` is left out even though the client sent one.
    MissingNonce,
    /// `iss` is the issuer with a `/` appended (`http://127.0.0.1:PORT/`): the same
    /// provider to a client that trims slashes, another issuer to one that compares exactly.
    IssuerWithTrailingSlash,
    /// `aud` lists the client and another audience (`"someone-else"`), with `azp` naming
    /// the client: valid only for a client that trusts the other audience.
    UntrustedExtraAudience,
    /// `at_hash` is the hash of another access token than the one in the response.
    WrongAtHash,
}

impl Tamper {
    /// Every tamper mode.
    pub const ALL: [Tamper; 12] = [
        Tamper::WrongAudience,
        Tamper::WrongIssuer,
        Tamper::Expired,
        Tamper::BadSignature,
        Tamper::UnknownKid,
        Tamper::AlgNone,
        Tamper::HmacWithPublicKey,
        Tamper::WrongNonce,
        Tamper::MissingNonce,
        Tamper::IssuerWithTrailingSlash,
        Tamper::UntrustedExtraAudience,
        Tamper::WrongAtHash,
    ];
}

/// A way to make the next userinfo answer wrong, for tests of the relying party's checks
/// (see [`crate::RunningIdp::tamper_next_userinfo`]). The answer is otherwise the user's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UserinfoTamper {
    /// `sub` is another subject (`"someone-else"`) than the access token's user, as if the
    /// access token were another user's (OIDC Core 5.3.2).
    OtherSubject,
    /// `sub` is left out.
    MissingSubject,
}

impl UserinfoTamper {
    /// Every userinfo tamper mode.
    pub const ALL: [UserinfoTamper; 2] =
        [UserinfoTamper::OtherSubject, UserinfoTamper::MissingSubject];
}

/// The scheme of a request's `Authorization` header, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthorizationScheme {
    /// HTTP Basic; `client_id` is the decoded (RFC 6749 2.3.1) user name when the
    /// header could be decoded. The password is never recorded.
    Basic {
        /// The decoded client id.
        client_id: Option<String>,
    },
    /// A Bearer token (the token is never recorded).
    Bearer,
    /// Any other scheme, by name.
    Other(String),
}

/// How a token request authenticated its client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// No `client_secret` anywhere (a public client, or a broken confidential one).
    None,
    /// HTTP Basic only (`client_secret_basic`).
    Basic,
    /// `client_secret` in the form body only (`client_secret_post`).
    Body,
    /// Both at once (refused by the provider).
    Both,
}

/// Where a bearer token was sent to the userinfo endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenLocation {
    /// `Authorization: Bearer`.
    Header,
    /// `access_token` in the query string.
    Query,
    /// `access_token` in a form body.
    Body,
}

/// Parameter names whose values are replaced with `[redacted]` in the request log.
const SECRET_PARAMS: &[&str] = &[
    "client_secret",
    "code",
    "code_verifier",
    "refresh_token",
    "access_token",
    "id_token",
    "id_token_hint",
    "password",
    "devidp_password",
    "client_assertion",
    "assertion",
];

/// The value that stands in for a secret in the request log.
pub const REDACTED: &str = "[redacted]";

/// One request the provider received, as recorded for tests. Secret values (client
/// secrets, codes, verifiers, tokens, passwords) are replaced with `[redacted]`; an empty
/// value stays empty, so presence can still be checked.
///
/// `E` names the endpoints: [`Endpoint`] for the development provider, a personality's
/// own enum for a provider mock built on [`crate::mock`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest<E = Endpoint> {
    /// The HTTP method.
    pub method: String,
    /// The path, including any issuer path prefix.
    pub path: String,
    /// The endpoint the path names, if any.
    pub endpoint: Option<E>,
    /// Query parameters in order (secrets redacted).
    pub query: Vec<(String, String)>,
    /// Form body parameters in order, for `application/x-www-form-urlencoded` bodies
    /// (secrets redacted).
    pub form: Vec<(String, String)>,
    /// The `Authorization` header's scheme, if one was sent.
    pub authorization: Option<AuthorizationScheme>,
}

impl<E> RecordedRequest<E> {
    pub(crate) fn new(
        method: &str,
        path: &str,
        endpoint: Option<E>,
        query: Option<&str>,
        form: Option<&[u8]>,
        authorization: Option<&[u8]>,
    ) -> Self {
        RecordedRequest {
            method: method.to_owned(),
            path: path.to_owned(),
            endpoint,
            query: query.map(|q| redact(q.as_bytes())).unwrap_or_default(),
            form: form.map(redact).unwrap_or_default(),
            authorization: authorization.map(scheme_of),
        }
    }

    /// The first value of a form parameter.
    pub fn form_value(&self, name: &str) -> Option<&str> {
        first(&self.form, name)
    }

    /// The first value of a query parameter.
    pub fn query_value(&self, name: &str) -> Option<&str> {
        first(&self.query, name)
    }

    /// The `grant_type` of a token request.
    pub fn grant_type(&self) -> Option<&str> {
        self.form_value("grant_type")
    }

    /// Whether a non-empty `code_verifier` was sent.
    pub fn has_code_verifier(&self) -> bool {
        self.form_value("code_verifier")
            .is_some_and(|v| !v.is_empty())
    }

    /// How the client authenticated: Basic, body `client_secret`, both, or neither.
    pub fn client_auth(&self) -> ClientAuth {
        let basic = matches!(self.authorization, Some(AuthorizationScheme::Basic { .. }));
        let body = self
            .form_value("client_secret")
            .is_some_and(|v| !v.is_empty());
        match (basic, body) {
            (true, true) => ClientAuth::Both,
            (true, false) => ClientAuth::Basic,
            (false, true) => ClientAuth::Body,
            (false, false) => ClientAuth::None,
        }
    }

    /// Where a bearer token was sent (header, query or body); the first found.
    pub fn token_location(&self) -> Option<TokenLocation> {
        if self.authorization == Some(AuthorizationScheme::Bearer) {
            Some(TokenLocation::Header)
        } else if self.query_value("access_token").is_some() {
            Some(TokenLocation::Query)
        } else if self.form_value("access_token").is_some() {
            Some(TokenLocation::Body)
        } else {
            None
        }
    }
}

fn first<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

fn redact(input: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(input)
        .map(|(key, value)| {
            let value = if SECRET_PARAMS.contains(&key.as_ref()) && !value.is_empty() {
                REDACTED.to_owned()
            } else {
                value.into_owned()
            };
            (key.into_owned(), value)
        })
        .collect()
}

fn scheme_of(header: &[u8]) -> AuthorizationScheme {
    let text = String::from_utf8_lossy(header);
    let (scheme, rest) = text.trim().split_once(' ').unwrap_or((text.trim(), ""));
    if scheme.eq_ignore_ascii_case("basic") {
        let client_id = STANDARD
            .decode(rest.trim())
            .ok()
            .and_then(|raw| String::from_utf8(raw).ok())
            .and_then(|pair| pair.split_once(':').map(|(id, _)| id.to_owned()))
            .and_then(|id| crate::params::form_decode(&id));
        AuthorizationScheme::Basic { client_id }
    } else if scheme.eq_ignore_ascii_case("bearer") {
        AuthorizationScheme::Bearer
    } else {
        AuthorizationScheme::Other(scheme.chars().take(32).collect())
    }
}

/// What a logout token made by [`crate::RunningIdp::logout_token`] says. The default is
/// a valid token for the client `hub` naming neither `sub` nor `sid` (set at least one).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogoutTokenSpec {
    /// `aud`.
    pub client_id: String,
    /// `sub`, if any.
    pub sub: Option<String>,
    /// `sid`, if any.
    pub sid: Option<String>,
    /// `jti`; `None` leaves the claim out.
    pub jti: Option<String>,
    /// Whether `events` holds the back-channel logout event (else the claim is left out).
    pub event: bool,
    /// Seconds until `exp`.
    pub lifetime: i64,
    /// Made wrong as an ID token would be ([`Tamper::WrongNonce`] adds a `nonce`).
    pub tamper: Option<Tamper>,
}

impl LogoutTokenSpec {
    /// A valid token for `client_id` with a fresh random `jti`.
    pub fn new(client_id: impl Into<String>) -> Self {
        LogoutTokenSpec {
            client_id: client_id.into(),
            sub: None,
            sid: None,
            jti: Some(crate::state::random_token()),
            event: true,
            lifetime: 120,
            tamper: None,
        }
    }

    /// With `sub`.
    pub fn subject(mut self, sub: impl Into<String>) -> Self {
        self.sub = Some(sub.into());
        self
    }

    /// With `sid`.
    pub fn session(mut self, sid: impl Into<String>) -> Self {
        self.sid = Some(sid.into());
        self
    }

    /// With this `jti` (`None` leaves it out).
    pub fn jti(mut self, jti: Option<String>) -> Self {
        self.jti = jti;
        self
    }

    /// Without the back-channel logout event in `events`.
    pub fn without_event(mut self) -> Self {
        self.event = false;
        self
    }

    /// Made wrong as `tamper` says.
    pub fn tamper(mut self, tamper: Tamper) -> Self {
        self.tamper = Some(tamper);
        self
    }
}
