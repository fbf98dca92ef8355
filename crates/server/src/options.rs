//! The `[Hub]` table: the server's own settings, under JupyterHub's names.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::forward_auth::{DefaultAccess, ForwardAuthConfig, ForwardAuthRule, parse_header_name};
use crate::request_target::HostName;
use hubauth_config::{ClassView, ConfigError, DefaultValue::Literal};

hubauth_config::options! {
    /// The `[Hub]` table.
    pub static HUB = class "Hub" {
        bases: [],
        help: "The hub server itself: where it listens, its URL prefix, its database and its cookies. Names follow JupyterHub's `c.JupyterHub.*` settings.",
    };
    /// `[Hub]` as the file, the environment and the defaults give it, before
    /// validation.
    pub struct HubOptions {
        authenticator_class: String = (
            Str,
            Literal("\"pam\""),
            "The login method: a short name (dummy, shared-password, pam, generic-oauth, azuread, globus, local-generic-oauth, ...) or a class name (DummyAuthenticator, GenericOAuthenticator, ...).\n\nThe class's table (and its base classes' tables) hold its options.",
        ),
        logins: Vec<serde_json::Value> = (
            DictList,
            Literal("[]"),
            "Several login methods side by side on one login page, instead of the one authenticator_class: a list of tables ([[Hub.logins]]), each with name (its URL segment: {base_url}hub/<name>/oauth_login, <name>/oauth_callback, <name>/login; lowercase letters, digits and -), class (a short name or class name, as authenticator_class), label (what the login page calls it; default: the class's login_service, or the name), username_prefix (put before every username this method derives, so that names from different methods never meet: \"gh-\"), default (true for the method auto_login and the unnamed {base_url}hub/oauth_login use) and options (a table of the class's options for this method only). A method's options override the class tables ([GenericOAuthenticator], [OAuthenticator], [Authenticator]) it still inherits, except that sets (allowed_users, blocked_users, admin_users, allowed_groups, ...) add to them, so a rule in [Authenticator] holds for every method.\n\nEvery rule names hub usernames, prefix included. An account belongs to the method that first logged it in: a login through another method with the same name is refused (403). Hub-wide settings (enable_auth_state, auth_refresh_age, refresh_pre_spawn, auto_login, post_auth_hook, custom_403_message, manage_roles) belong in [Authenticator], not in a method's options. Empty means one login method, authenticator_class.",
        ),
        bind_url: String = (
            Str,
            Literal("\"http://:8000\""),
            "The URL the hub listens on. An empty host means all interfaces. The path, if any, sets base_url.",
        ),
        ssl_cert: String = (
            Str,
            Literal("\"\""),
            "Path of the TLS certificate (PEM; the chain, leaf first) when the hub serves https itself, without a proxy in front. Set together with ssl_key.\n\nThe files are read again without a restart when they change (checked every 2 seconds) or when the process gets SIGHUP, so certificate renewals take effect on their own; a renewal that cannot be read is logged and the previous certificate stays. With TLS, cookies are Secure and the hub's own URLs are https. Empty means plain HTTP (or TLS at a proxy in front: see public_url).",
        ),
        ssl_key: String = (
            Str,
            Literal("\"\""),
            "Path of the TLS private key (PEM: PKCS#8, PKCS#1 or SEC1) matching ssl_cert. A key that is not the certificate's stops the start-up with both file names.",
        ),
        base_url: String = (
            Str,
            Literal("\"/\""),
            "The URL prefix under which everything is served; the hub's pages are under {base_url}hub/.",
        ),
        public_url: String = (
            Str,
            Literal("\"\""),
            "The public URL of the hub as users reach it (https://hub.example.org/), when it sits behind a proxy. Decides the Secure cookie flag and absolute redirect URLs. Empty means it is worked out from bind_url and the request.",
        ),
        db_url: String = (
            Str,
            Literal("\"sqlite:///hubauth.sqlite\""),
            "The database URL. sqlite:///relative/path.sqlite or sqlite:////absolute/path.sqlite for an SQLite file (the default needs nothing installed).",
        )
            .env(&["HUBAUTH_DB_URL"]),
        cookie_secret_file: String = (
            Str,
            Literal("\"hubauth_cookie_secret\""),
            "File holding the secret that signs the hub's cookies, hex-encoded. Created with mode 600 if missing; refused if readable by group or others. The environment variable JPY_COOKIE_SECRET (hex) takes precedence.",
        ),
        cookie_max_age_days: f64 = (
            Float,
            Literal("14"),
            "How long a login session lasts, in days.",
        ),
        default_url: String = (
            Str,
            Literal("\"\""),
            "Where users land after login when no `next` URL was given. Empty means {base_url}hub/home.",
        ),
        trusted_proxies: Vec<String> = (
            List,
            Literal("[\"127.0.0.1/32\", \"::1/128\"]"),
            "The reverse proxies (CIDR networks or single addresses) whose forwarding headers the hub believes: X-Forwarded-For (the client address for login_rate_limit), X-Forwarded-Proto (https, for the Secure cookie flag), X-Forwarded-Host (the public origin), X-Forwarded-Uri and the rest. From any other TCP peer these headers are removed before anything reads them, and the built-in proxy replaces them instead of passing them on. The default trusts a proxy on the same machine only; list your load balancer's or ingress's addresses when it runs elsewhere. An empty list trusts no one.",
        ),
        trust_forwarded_headers: bool = (
            Bool,
            Literal("true"),
            "Deprecated: use trusted_proxies. When set, true trusts forwarding headers from every peer (as trusted_proxies = [\"0.0.0.0/0\", \"::/0\"]) and false from none; trusted_proxies wins when both are set.",
        ),
        login_rate_limit: i64 = (
            Int,
            Literal("10"),
            "Maximum failed logins per client address per minute (IPv6 clients by /64) before the login form answers 429. Each attempt takes its place before the password is checked, and a successful login gives it back. Behind a proxy the address comes from X-Forwarded-For of a trusted_proxies peer. 0 turns the limit off.",
        ),
        login_rate_limit_per_username: i64 = (
            Int,
            Literal("20"),
            "Maximum failed logins per user name per minute, from all addresses together, before the login form answers 429 for that name. It stops a guesser who rotates addresses; the price is that anyone can keep one name locked out for a minute at a time, which is why the default is higher than login_rate_limit. 0 turns it off.",
        ),
        pending_logins_per_address: i64 = (
            Int,
            Literal("100"),
            "Maximum pending redirect logins (started at {base_url}hub/oauth_login, not yet back at the callback; each lives 10 minutes) per client address (IPv6 by /64); beyond it a new login start answers 429. Each browser also keeps at most 10 (its oldest is dropped). 0 turns the per-address limit off.",
        ),
        pending_logins_max: i64 = (
            Int,
            Literal("10000"),
            "Maximum pending redirect logins in all (the login_states table); beyond it a new login start answers 503 until some expire or complete, so a flood from many addresses cannot grow the database without bound. 0 turns it off.",
        ),
        forward_auth_user_header: String = (
            Str,
            Literal("\"X-Auth-Request-User\""),
            "Response header of {base_url}hub/forward-auth that carries the user name (oauth2-proxy's name by default, so existing proxy configs carry over).",
        ),
        forward_auth_groups_header: String = (
            Str,
            Literal("\"X-Auth-Request-Groups\""),
            "Response header of {base_url}hub/forward-auth that carries the user's groups, comma-separated. Empty turns it off.",
        ),
        forward_auth_admin_header: String = (
            Str,
            Literal("\"X-Auth-Request-Admin\""),
            "Response header of {base_url}hub/forward-auth that carries the admin flag (true or false). Empty turns it off.",
        ),
        forward_auth_allowed_hosts: Vec<String> = (
            List,
            Literal("[]"),
            "Hosts of protected apps (app.example or app.example:8443) that a forward-auth login may return to. When public_url is set, ?redirect=true sends users to the login page with the original URL as next only when its host is the hub's own or listed here; otherwise without next. The login page accepts next URLs on these hosts.",
        ),
        forward_auth_rules: Vec<serde_json::Value> = (
            DictList,
            Literal("[]"),
            "Who may reach each protected app through {base_url}hub/forward-auth and the built-in proxy: a list of tables { host = \"app.example\", path_prefix = \"/\", allowed_users = [...], allowed_groups = [...] }, matched against X-Forwarded-Host (else Host) and X-Forwarded-Uri (or X-Original-URI). The most specific matching rule decides (a rule with a host beats one without, then the longest path_prefix); a logged-in user it does not allow gets 403. A request no rule matches gets forward_auth_default. Hosts are compared lower-case without a trailing dot; a path is checked in every way an app may read it (percent-decoded or not, %2F as / or not, \\ as /, ;parameters dropped, decoded twice, any letter case) and passes only if every reading is allowed. A host or address that cannot be read exactly (a port that is not a number, X-Forwarded-Uri missing or not a path, %00, different values in repeated headers) is refused (403 from forward-auth, 400 from the built-in proxy), and when a rule names a host a request without one is refused. A path_prefix must be written decoded and resolved (no %-escapes, ;, //, . or .. segments).",
        ),
        forward_auth_default: String = (
            Str,
            Literal("\"allow\""),
            "What a logged-in user gets for a request that no forward_auth_rules rule matches, in forward-auth answers and the built-in proxy: \"allow\" (the default: rules only narrow, and being logged in already means passing the login method's allowed_users / allowed_groups) or \"deny\" (only what a rule allows is reachable; with no rules at all nobody gets through). Choose \"deny\" when a host-scoped rule must hold even if the proxy forwards requests for other hosts to the app.",
        ),
        forward_auth_accept_tokens: bool = (
            Bool,
            Literal("false"),
            "Let machine clients (scripts, services) through forward-auth and the built-in proxy with a token instead of a session cookie: the hub's own API tokens and the access tokens it issued to services, sent as `Authorization: token <token>` (as JupyterHub takes them) or `Authorization: Bearer <token>`. The token's owner must still be allowed (not blocked, not deleted) and the same forward_auth_rules apply to them; the token must carry the scope access:apps (part of every user's own scopes, so a token created with the owner's full permissions has it, and one made for narrower scopes must list it). With the built-in proxy the token is not passed on to the app. Answers are cached like sessions: a token revoked through any replica stops working at once (announced on PostgreSQL), one deleted directly in the database within session_cache_ttl. auth_state_headers are not sent for token requests.",
        ),
        services: Vec<serde_json::Value> = (
            DictList,
            Literal("[]"),
            "Services that log users in through the hub (the hub as OAuth 2.0 / OpenID Connect provider), as JupyterHub's c.JupyterHub.services: a list of tables ([[Hub.services]]) with name; oauth_client_id (default service-<name>); the client secret from exactly one of api_token, api_token_env (an environment variable's name) or api_token_file (a file's path), or none for a public client, which must use PKCE; oauth_redirect_uri (one exact absolute URL or a list: https, or http on a loopback host; matched exactly); oauth_client_allowed_scopes (scopes the client may ask for beyond identify, openid, profile, email and groups); oauth_post_logout_redirect_uri (one exact URL or a list: where the browser may go after the service ends the hub session through the end_session_endpoint); oauth_no_confirm (true skips the consent page users see before a service gets their identity, as JupyterHub's); oauth_id_token_signed_response_alg (\"RS256\", the default, or \"ES256\": how the service's ID tokens are signed, as OpenID Connect registration's id_token_signed_response_alg); backchannel_logout_uri (an absolute URL without a fragment: https, or http on a loopback host; needs oauth_redirect_uri and public_url): where the hub posts a signed logout token (OpenID Connect Back-Channel Logout 1.0: typ logout+jwt, sub, and the sid its ID tokens carry) when a hub session in which the service was issued tokens ends (logout, expiry, the user losing access at a refresh, deletion), retried a few times and never holding up the logout. A service without oauth_redirect_uri is not an OAuth client. JupyterHub's keys about running a service (url, command, environment, user, cwd, admin, display, info, oauth_roles) are accepted and not used, so a c.JupyterHub.services list carries over.\n\nEndpoints: {base_url}hub/api/oauth2/authorize, token, userinfo, jwks and logout (RP-initiated logout), and discovery at {base_url}.well-known/openid-configuration (issuer: the public origin plus base_url without the trailing slash).",
        ),
        oidc_signing_key_file: String = (
            Str,
            Literal("\"\""),
            "File holding the private key (P-256, PKCS#8 PEM) that signs ES256 ID tokens for services. Created with mode 600 at first start when services are registered; refused if readable by group or others. Empty means hubauth_oidc_key.pem in the directory of cookie_secret_file.",
        ),
        oidc_rsa_signing_key_file: String = (
            Str,
            Literal("\"\""),
            "File holding the private key (RSA, at least 2048 bits, PKCS#8 PEM) that signs RS256 ID tokens for services (RS256 is what OpenID Connect requires every provider to offer, and the default; a service chooses with oauth_id_token_signed_response_alg). Created (2048 bits) with mode 600 at first start when services are registered; refused if readable by group or others, or shorter than 2048 bits. Empty means hubauth_oidc_rsa_key.pem in the directory of cookie_secret_file. Both public keys are published in the JWKS.",
        ),
        oauth_token_expires_in: i64 = (
            Int,
            Literal("0"),
            "Lifetime in seconds of the access tokens issued to services. 0 means the login session's lifetime (cookie_max_age_days), as JupyterHub. Refresh tokens live twice as long, rotate on every use, and end with the hub session they were issued in (logout at the hub revokes the session's access tokens too, as JupyterHub).",
        ),
        upstream: String = (
            Str,
            Literal("\"\""),
            "The built-in reverse proxy: the app (http://host:port, usually on loopback) that every request outside {base_url}hub/ goes to when the visitor has a valid session, so hubauth alone can front one app. Visitors without a session are sent to the login page and back. HTTP/1.1 and websockets pass through, bodies are streamed, identity headers (forward_auth_*_header, auth_state_headers) are added after the client's own copies are removed, forward_auth_rules apply, and the hub's session cookie is not passed on. Empty (the default) turns the proxy off, unless upstream_routes is set.",
        ),
        upstream_routes: Vec<serde_json::Value> = (
            DictList,
            Literal("[]"),
            "More than one app behind the built-in proxy: a list of tables { host = \"app.example\", path_prefix = \"/\", upstream = \"http://127.0.0.1:8888\" } (host and path_prefix optional). The most specific matching route takes the request (a route with a host beats one without, then the longest path_prefix); upstream, if also set, takes what no route matches. Requests that match nothing get 404. Hosts are compared lower-case without a trailing dot; a Host that is not a host name with a numeric port gets 400, never the catch-all route.",
        ),
        identity_assertions: Vec<serde_json::Value> = (
            DictList,
            Literal("[]"),
            "Signed identity assertions for apps, per route: a list of tables { host = \"app.example\", path_prefix = \"/\", audience = \"https://app.example\" } (host and path_prefix optional), matched like forward_auth_rules (the most specific entry wins). A request that forward-auth lets through, or that the built-in proxy passes on, and that matches an entry gets a short-lived JWT (RFC 7519) in identity_assertion_header, signed with the hub's OpenID provider key (oidc_signing_key_file for ES256, oidc_rsa_signing_key_file for RS256) and verifiable with the hub's JWKS at {base_url}hub/api/oauth2/jwks. Claims: iss (public_url's origin plus base_url without the trailing slash), aud (the entry's audience), sub and name (the user name), groups, admin, iat, exp and, for a login session, sid (as in the ID tokens the hub issues). An app that checks the signature, iss, aud and exp knows who is calling without trusting the network in between. The built-in proxy removes a client's own copy of the header; behind your own proxy, have it take the header from the forward-auth answer (it is never sent for requests that match no entry). Needs public_url. Empty (the default): no assertions.",
        ),
        identity_assertion_header: String = (
            Str,
            Literal("\"X-Auth-Request-Assertion\""),
            "The request header that carries the identity assertion (see identity_assertions).",
        ),
        identity_assertion_lifetime: i64 = (
            Int,
            Literal("60"),
            "Seconds an identity assertion is valid (10 to 3600). The hub signs one per login session (or API token user) and audience and reuses it until a quarter of this time is left, or until the user's groups or admin flag change.",
        ),
        identity_assertion_alg: String = (
            Str,
            Literal("\"ES256\""),
            "How identity assertions are signed: \"ES256\" (the default) or \"RS256\".",
        ),
        auth_state_headers: BTreeMap<String, String> = (
            Map,
            Literal("{}"),
            "Items of the user's auth_state handed to protected apps as request headers (the analog of upstream's pre_spawn_start putting tokens in the spawner's environment), both in forward-auth answers and by the built-in proxy: a table of header name = dotted path into auth_state, e.g. { \"X-Auth-Request-Access-Token\" = \"access_token\" }. The login method may offer extra names (Globus: globus_data, globus_local_endpoint). A string goes as it is; any other JSON value (object, list, number) as base64url (no padding) of its JSON text; a missing item sends no header. Needs enable_auth_state. Off by default: tokens reach apps only when listed here. With refresh_pre_spawn the auth info is refreshed before tokens are handed on when older than auth_refresh_age (with auth_refresh_age = 0, before every request that hands them on).",
        ),
        session_cache_ttl: i64 = (
            Int,
            Literal("5"),
            "Seconds a validated session is kept in memory, so that session checks (forward-auth, the built-in proxy, every page) do not query the database on each request. 0 turns the cache off.\n\nA logout, user deletion, admin or group change made through this process takes effect here at once; on PostgreSQL every replica announces its changes and the others drop the affected entries at once too (clearing the whole cache whenever their listening connection comes back). So this is the revocation bound across replicas only when a notification is lost, and for changes made directly in the database: those take effect here at most this many seconds later. The same holds for the tokens `auth_state_headers` hands to apps: they are kept with the cached session.",
        ),
        purge_expired_interval: i64 = (
            Int,
            Literal("600"),
            "Seconds between clean-ups of expired data: expired sessions end as a logout would (the login method closes what it opened, such as a PAM session, and tokens issued to services in that session are revoked), and expired pending logins, API tokens and the codes and refresh tokens of expired OAuth token families are deleted, so the database does not grow with dead rows. Expired sessions are also removed at start-up and refused whenever they are presented. With several replicas each one cleans up; that is safe. 0 turns the periodic clean-up off.",
        ),
        session_cache_size: i64 = (
            Int,
            Literal("100000"),
            "Most sessions kept in the session cache (see session_cache_ttl); when full, expired entries go first, then arbitrary ones. 0 turns the cache off.",
        ),
        authenticate_prometheus: bool = (
            Bool,
            Literal("true"),
            "Whether {base_url}hub/metrics requires authentication, as JupyterHub's authenticate_prometheus: a request must carry an API token (Authorization: token or Bearer) or a session of a user holding the read:metrics scope (the admin role has it), or come from a network in metrics_allowed_networks; others get 403. false serves the metrics to anyone who can reach the hub.",
        ),
        metrics_allowed_networks: Vec<String> = (
            List,
            Literal("[]"),
            "Networks (CIDR such as 127.0.0.0/8 or 10.1.2.0/24, or single IP addresses) from which {base_url}hub/metrics answers without a token, for a Prometheus that scrapes the hub directly. The address checked is the TCP peer of the connection, never X-Forwarded-For: behind a reverse proxy every request seems to come from the proxy, so do not list the proxy's address (give Prometheus a token instead). An entry that is not an exact network or address, or a network written with host bits set, stops the hub at start. Empty (the default): a token is always needed while authenticate_prometheus is on.",
        ),
        announcement: String = (
            Str,
            Literal("\"\""),
            "A notice shown at the top of every page (login, home, logout, errors, admin), like JupyterHub's template_vars announcement. Plain text: it is escaped, never read as HTML. Empty shows none.",
        ),
        logo_file: String = (
            Str,
            Literal("\"\""),
            "An image file (PNG, SVG, JPEG, GIF or WebP, at most 1 MB) shown in the header of every page instead of the name hubauth, as JupyterHub's logo_file; read once at start and served at {base_url}hub/logo. Empty shows the name.",
        ),
        template_paths: Vec<String> = (
            List,
            Literal("[]"),
            "Directories searched for page templates before the built-in ones, as JupyterHub's template_paths: a file there named like a built-in template (page.html, login.html, home.html, logout.html, logout_confirm.html, error.html, admin.html) replaces it. Templates are Jinja (minijinja) with autoescaping; {% extends \"page.html\" %} and the blocks title and main work as in the built-in ones. Every template is compiled at start, so a mistake stops the hub with the file named.",
        ),
    }
}

/// The validated `[Hub]` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct HubConfig {
    /// See `authenticator_class`.
    pub authenticator_class: String,
    /// The socket address to listen on, from `bind_url`.
    pub bind_addr: SocketAddr,
    /// Whether the hub is reached over https at its bind address: `bind_url` is https, or
    /// the hub serves TLS itself (`ssl_cert`). Marks cookies Secure.
    pub bind_https: bool,
    /// `ssl_cert` and `ssl_key`: TLS served by the hub itself.
    pub tls: Option<crate::tls::TlsFiles>,
    /// The URL prefix, always starting and ending with `/`.
    pub base_url: String,
    /// See `public_url` (empty = none).
    pub public_url: String,
    /// See `db_url`.
    pub db_url: String,
    /// See `cookie_secret_file`.
    pub cookie_secret_file: PathBuf,
    /// Session lifetime in seconds.
    pub session_lifetime: i64,
    /// See `default_url` (empty = home page).
    pub default_url: String,
    /// See `trusted_proxies` (and the deprecated `trust_forwarded_headers`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Warnings about deprecated `[Hub]` settings in use (shown by `check-config` and
    /// logged at start).
    pub warnings: Vec<String>,
    /// See `login_rate_limit`.
    pub login_rate_limit: u32,
    /// See `login_rate_limit_per_username`.
    pub login_rate_limit_per_username: u32,
    /// See `pending_logins_per_address`.
    pub pending_logins_per_address: u32,
    /// See `pending_logins_max`.
    pub pending_logins_max: u32,
    /// The `forward_auth_*` options.
    pub forward_auth: ForwardAuthConfig,
    /// The built-in reverse proxy (`upstream`, `upstream_routes`).
    pub proxy: crate::proxy::ProxyConfig,
    /// See `services`.
    pub services: Vec<crate::provider::config::ServiceConfig>,
    /// See `identity_assertions` and the other `identity_assertion_*` options.
    pub identity_assertions: crate::identity_assertion::AssertionConfig,
    /// See `oidc_signing_key_file` (resolved).
    pub oidc_signing_key_file: PathBuf,
    /// See `oidc_rsa_signing_key_file` (resolved).
    pub oidc_rsa_signing_key_file: PathBuf,
    /// See `oauth_token_expires_in` (resolved, in seconds).
    pub oauth_token_expires_in: i64,
    /// See `session_cache_ttl`, in seconds.
    pub session_cache_ttl: u64,
    /// See `session_cache_size`.
    pub session_cache_size: usize,
    /// See `purge_expired_interval`, in seconds (0 = off).
    pub purge_expired_interval: u64,
    /// See `announcement`.
    pub announcement: String,
    /// See `logo_file` (empty = none).
    pub logo_file: PathBuf,
    /// See `template_paths`.
    pub template_paths: Vec<PathBuf>,
    /// See `authenticate_prometheus`.
    pub authenticate_prometheus: bool,
    /// See `metrics_allowed_networks`.
    pub metrics_allowed_networks: Vec<ipnet::IpNet>,
}

impl Default for HubConfig {
    /// The `[Hub]` settings of a configuration without a `[Hub]` table.
    fn default() -> Self {
        // The literal defaults are valid and pass validation (Registry::check_defaults and
        // the tests read them).
        #[allow(clippy::expect_used)]
        HubOptions::with_defaults(HubConfig::from_view).expect("the [Hub] defaults are valid")
    }
}

impl HubConfig {
    /// Reads and validates the `[Hub]` table.
    pub fn from_view(view: &ClassView<'_>) -> Result<Self, ConfigError> {
        let options = HubOptions::load(view)?;
        let (trusted_proxies, proxies_warning) = trusted_proxies_from_view(view, options.clone())?;
        let forward_auth = forward_auth_from_view(view, options.clone())?;
        let proxy = proxy_from_view(view, options.clone())?;
        let bind_url: String = options.bind_url;
        let (bind_addr, bind_https, bind_path) =
            parse_bind_url(&bind_url).map_err(|message| view.invalid("bind_url", message))?;
        let tls = match (options.ssl_cert.trim(), options.ssl_key.trim()) {
            ("", "") => None,
            ("", _) => return Err(view.invalid("ssl_cert", "must be set with ssl_key")),
            (_, "") => return Err(view.invalid("ssl_key", "must be set with ssl_cert")),
            (cert, key) => Some(crate::tls::TlsFiles {
                cert: PathBuf::from(cert),
                key: PathBuf::from(key),
            }),
        };
        let bind_https = bind_https || tls.is_some();
        let base_url = if view.is_set("base_url") || bind_path.is_none() {
            let raw: String = options.base_url;
            normalize_base_url(&raw).map_err(|message| view.invalid("base_url", message))?
        } else {
            bind_path.unwrap_or_else(|| "/".to_owned())
        };
        let public_url: String = options.public_url;
        if !public_url.is_empty() {
            let parsed = url::Url::parse(&public_url)
                .map_err(|err| view.invalid("public_url", format!("not a URL: {err}")))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(view.invalid("public_url", "must be an http or https URL"));
            }
        }
        let days: f64 = options.cookie_max_age_days;
        if !(days > 0.0 && days <= 3650.0) {
            return Err(view.invalid(
                "cookie_max_age_days",
                "must be more than 0 and at most 3650",
            ));
        }
        let default_url: String = options.default_url;
        if !default_url.is_empty() && !default_url.starts_with('/') {
            return Err(view.invalid("default_url", "must be a path starting with /"));
        }
        let rate: i64 = options.login_rate_limit;
        let login_rate_limit = u32::try_from(rate)
            .map_err(|_| view.invalid("login_rate_limit", "must be 0 or a positive number"))?;
        let rate: i64 = options.login_rate_limit_per_username;
        let login_rate_limit_per_username = u32::try_from(rate).map_err(|_| {
            view.invalid(
                "login_rate_limit_per_username",
                "must be 0 or a positive number",
            )
        })?;
        let count = |name: &str| -> Result<u32, ConfigError> {
            let value: i64 = view.get(name)?;
            u32::try_from(value).map_err(|_| view.invalid(name, "must be 0 or a positive number"))
        };
        let pending_logins_per_address = count("pending_logins_per_address")?;
        let pending_logins_max = count("pending_logins_max")?;
        let db_url: String = options.db_url;
        if db_url.trim().is_empty() {
            return Err(view.invalid("db_url", "must not be empty"));
        }
        let cookie_secret_file: String = options.cookie_secret_file;
        // Read by the binary, which builds each method's authenticator (crates/cli).
        let _logins: Vec<serde_json::Value> = options.logins;
        let raw_services: Vec<serde_json::Value> = options.services;
        let services = crate::provider::config::parse_services(&raw_services, view.env())
            .map_err(|message| view.invalid("services", message))?;
        let identity_assertions = crate::identity_assertion::parse_config(
            &options.identity_assertions,
            &options.identity_assertion_header,
            options.identity_assertion_lifetime,
            &options.identity_assertion_alg,
        )
        .map_err(|(key, message)| view.invalid(key, message))?;
        let key_file: String = options.oidc_signing_key_file;
        let oidc_signing_key_file = if key_file.is_empty() {
            PathBuf::from(&cookie_secret_file).with_file_name("hubauth_oidc_key.pem")
        } else {
            PathBuf::from(key_file)
        };
        let rsa_key_file: String = options.oidc_rsa_signing_key_file;
        let oidc_rsa_signing_key_file = if rsa_key_file.is_empty() {
            PathBuf::from(&cookie_secret_file).with_file_name("hubauth_oidc_rsa_key.pem")
        } else {
            PathBuf::from(rsa_key_file)
        };
        let session_lifetime = (days * 86400.0).round() as i64;
        let expires_in: i64 = options.oauth_token_expires_in;
        let oauth_token_expires_in = match expires_in {
            0 => session_lifetime,
            1.. => expires_in,
            _ => {
                return Err(view.invalid(
                    "oauth_token_expires_in",
                    "must be 0 (the session lifetime) or a positive number of seconds",
                ));
            }
        };
        let ttl: i64 = options.session_cache_ttl;
        let session_cache_ttl = u64::try_from(ttl).map_err(|_| {
            view.invalid(
                "session_cache_ttl",
                "must be 0 or a positive number of seconds",
            )
        })?;
        let interval: i64 = options.purge_expired_interval;
        let purge_expired_interval = u64::try_from(interval).map_err(|_| {
            view.invalid(
                "purge_expired_interval",
                "must be 0 (off) or a positive number of seconds",
            )
        })?;
        let networks: Vec<String> = options.metrics_allowed_networks;
        let metrics_allowed_networks = networks
            .iter()
            .map(|entry| crate::forwarded::parse_network(entry))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|message| view.invalid("metrics_allowed_networks", message))?;
        let size: i64 = options.session_cache_size;
        let session_cache_size = usize::try_from(size)
            .map_err(|_| view.invalid("session_cache_size", "must be 0 or a positive number"))?;
        Ok(HubConfig {
            authenticator_class: options.authenticator_class,
            bind_addr,
            bind_https,
            tls,
            base_url,
            public_url,
            db_url,
            cookie_secret_file: PathBuf::from(cookie_secret_file),
            session_lifetime,
            default_url,
            trusted_proxies,
            warnings: proxies_warning.into_iter().collect(),
            login_rate_limit,
            login_rate_limit_per_username,
            pending_logins_per_address,
            pending_logins_max,
            forward_auth,
            proxy,
            services,
            identity_assertions,
            oidc_signing_key_file,
            oidc_rsa_signing_key_file,
            oauth_token_expires_in,
            session_cache_ttl,
            session_cache_size,
            purge_expired_interval,
            announcement: options.announcement,
            logo_file: PathBuf::from(options.logo_file),
            template_paths: options
                .template_paths
                .into_iter()
                .map(PathBuf::from)
                .collect(),
            authenticate_prometheus: options.authenticate_prometheus,
            metrics_allowed_networks,
        })
    }

    /// Whether `peer` (a TCP peer address) is one of `trusted_proxies`.
    pub fn is_trusted_proxy(&self, peer: std::net::IpAddr) -> bool {
        crate::forwarded::is_trusted(&self.trusted_proxies, peer)
    }

    /// Whether a connection from `peer` (its TCP address) may read the metrics without
    /// a token (`metrics_allowed_networks`). IPv4 peers on an IPv6 socket
    /// (`::ffff:a.b.c.d`) count as their IPv4 address.
    pub fn metrics_network_allows(&self, peer: std::net::IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.metrics_allowed_networks
            .iter()
            .any(|network| network.contains(&peer))
    }

    /// The hub's own prefix: `{base_url}hub/`.
    pub fn hub_prefix(&self) -> String {
        format!("{}hub/", self.base_url)
    }
}

/// Reads and validates `upstream` and `upstream_routes`.
fn proxy_from_view(
    view: &ClassView<'_>,
    options: HubOptions,
) -> Result<crate::proxy::ProxyConfig, ConfigError> {
    use crate::forward_auth::RequestScope;
    use crate::proxy::{ProxyRoute, parse_upstream};
    let raw_routes: Vec<serde_json::Value> = options.upstream_routes;
    let mut routes = raw_routes
        .iter()
        .enumerate()
        .map(|(index, value)| ProxyRoute::from_json(index, value))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|message| view.invalid("upstream_routes", message))?;
    let upstream: String = options.upstream;
    if !upstream.is_empty() {
        let authority =
            parse_upstream(&upstream).map_err(|message| view.invalid("upstream", message))?;
        routes.push(ProxyRoute {
            scope: RequestScope::everything(),
            authority,
        });
    }
    Ok(crate::proxy::ProxyConfig { routes })
}

/// Reads and validates the `forward_auth_*` options.
fn forward_auth_from_view(
    view: &ClassView<'_>,
    options: HubOptions,
) -> Result<ForwardAuthConfig, ConfigError> {
    let header = |key: &str| -> Result<Option<axum::http::HeaderName>, ConfigError> {
        let value: String = view.get(key)?;
        parse_header_name(&value).map_err(|message| view.invalid(key, message))
    };
    let user_header = header("forward_auth_user_header")?.ok_or_else(|| {
        view.invalid(
            "forward_auth_user_header",
            "must not be empty: the user name is what forward-auth is for",
        )
    })?;
    let groups_header = header("forward_auth_groups_header")?;
    let admin_header = header("forward_auth_admin_header")?;
    let hosts: Vec<String> = options.forward_auth_allowed_hosts;
    let mut allowed_hosts = Vec::with_capacity(hosts.len());
    for host in hosts {
        let parsed = HostName::parse(&host).map_err(|err| {
            view.invalid(
                "forward_auth_allowed_hosts",
                format!("{host:?} must be a bare host name, optionally with :port ({err})"),
            )
        })?;
        allowed_hosts.push(parsed.to_string());
    }
    let default_value: String = options.forward_auth_default;
    let default = DefaultAccess::parse(&default_value)
        .map_err(|message| view.invalid("forward_auth_default", message))?;
    let raw_token_headers: BTreeMap<String, String> = options.auth_state_headers;
    let mut auth_state_headers = Vec::with_capacity(raw_token_headers.len());
    for (name, path) in raw_token_headers {
        let header = parse_header_name(&name)
            .map_err(|message| view.invalid("auth_state_headers", message))?
            .ok_or_else(|| view.invalid("auth_state_headers", "a header name must not be empty"))?;
        if path.is_empty() {
            return Err(view.invalid(
                "auth_state_headers",
                format!("{name}: the auth_state path must not be empty"),
            ));
        }
        if [&user_header]
            .into_iter()
            .chain(groups_header.as_ref())
            .chain(admin_header.as_ref())
            .any(|identity| *identity == header)
        {
            return Err(view.invalid(
                "auth_state_headers",
                format!("{name} is already an identity header (forward_auth_*_header)"),
            ));
        }
        auth_state_headers.push((header, path));
    }
    let raw_rules: Vec<serde_json::Value> = options.forward_auth_rules;
    let rules = raw_rules
        .iter()
        .enumerate()
        .map(|(index, value)| ForwardAuthRule::from_json(index, value))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|message| view.invalid("forward_auth_rules", message))?;
    Ok(ForwardAuthConfig {
        user_header,
        groups_header,
        admin_header,
        allowed_hosts,
        rules,
        default,
        auth_state_headers,
        accept_tokens: options.forward_auth_accept_tokens,
    })
}

/// Reads `trusted_proxies`, or the deprecated `trust_forwarded_headers` when only that
/// one is set; with the deprecation warning when the old name is used.
fn trusted_proxies_from_view(
    view: &ClassView<'_>,
    options: HubOptions,
) -> Result<(Vec<ipnet::IpNet>, Option<String>), ConfigError> {
    let old_set = view.is_set("trust_forwarded_headers");
    if old_set && !view.is_set("trusted_proxies") {
        let trust: bool = options.trust_forwarded_headers;
        let warning = format!(
            "[Hub] trust_forwarded_headers is deprecated: use trusted_proxies (the addresses of your proxies); {} means trusted_proxies = {}",
            trust,
            if trust {
                "[\"0.0.0.0/0\", \"::/0\"]"
            } else {
                "[]"
            }
        );
        let networks = if trust {
            vec![
                ipnet::IpNet::from(ipnet::Ipv4Net::default()),
                ipnet::IpNet::from(ipnet::Ipv6Net::default()),
            ]
        } else {
            Vec::new()
        };
        return Ok((networks, Some(warning)));
    }
    let warning = old_set.then(|| {
        "[Hub] trust_forwarded_headers is deprecated and ignored: trusted_proxies is set".to_owned()
    });
    let entries: Vec<String> = options.trusted_proxies;
    let networks = crate::forwarded::parse_trusted(&entries)
        .map_err(|message| view.invalid("trusted_proxies", message))?;
    Ok((networks, warning))
}

/// Parses JupyterHub's `bind_url` (`http://:8000`, `http://127.0.0.1:8000/prefix/`).
/// Returns the socket address, whether it is https, and the path if it is not `/`.
pub fn parse_bind_url(bind_url: &str) -> Result<(SocketAddr, bool, Option<String>), String> {
    // `http://:8000` is not a valid URL for the url crate: an empty host means all interfaces.
    let patched = bind_url
        .replacen("http://:", "http://0.0.0.0:", 1)
        .replacen("https://:", "https://0.0.0.0:", 1);
    let parsed = url::Url::parse(&patched).map_err(|err| format!("not a URL: {err}"))?;
    let https = match parsed.scheme() {
        "http" => false,
        "https" => true,
        other => return Err(format!("scheme must be http or https, not {other}")),
    };
    let host = parsed
        .host_str()
        .ok_or_else(|| "has no host".to_owned())?
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = parsed.port_or_known_default().unwrap_or(8000);
    let ip: std::net::IpAddr = if host == "localhost" {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        host.parse()
            .map_err(|_| format!("host must be an IP address or localhost, not {host}"))?
    };
    let path = parsed.path();
    let path = if path.is_empty() || path == "/" {
        None
    } else {
        Some(normalize_base_url(path)?)
    };
    Ok((SocketAddr::new(ip, port), https, path))
}

/// Makes a base URL start and end with exactly one `/`; refuses schemes, hosts and odd characters.
pub fn normalize_base_url(raw: &str) -> Result<String, String> {
    if raw.contains("://") || raw.contains('\\') || raw.contains('?') || raw.contains('#') {
        return Err("must be a path such as / or /auth/, not a URL".to_owned());
    }
    if raw
        .chars()
        .any(|c| c.is_control() || c == ' ' || c == '"' || c == '<' || c == '>')
    {
        return Err("must not contain spaces, quotes or control characters".to_owned());
    }
    let trimmed = raw.trim_matches('/');
    if trimmed
        .split('/')
        .any(|segment| segment == ".." || segment == ".")
    {
        return Err("must not contain . or .. segments".to_owned());
    }
    if trimmed.is_empty() {
        Ok("/".to_owned())
    } else {
        Ok(format!("/{trimmed}/"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_settings_are_the_tables_defaults() {
        let config = HubConfig::default();
        assert_eq!(config.authenticator_class, "pam");
        assert_eq!(config.bind_addr, SocketAddr::from(([0, 0, 0, 0], 8000)));
        assert!(!config.bind_https);
        assert_eq!(config.base_url, "/");
        assert_eq!(config.db_url, "sqlite:///hubauth.sqlite");
        assert_eq!(config.session_lifetime, 14 * 24 * 3600);
        assert_eq!(
            config.trusted_proxies,
            vec![
                ipnet::IpNet::from(std::net::IpAddr::from([127, 0, 0, 1])),
                ipnet::IpNet::from(std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST)),
            ]
        );
        assert_eq!(config.login_rate_limit, 10);
        assert_eq!(config.session_cache_ttl, 5);
        assert!(config.authenticate_prometheus);
    }
    use crate::forwarded::parse_network;

    #[test]
    fn bind_url_forms() {
        let (addr, https, path) = parse_bind_url("http://:8000").unwrap();
        assert_eq!(addr, SocketAddr::from(([0, 0, 0, 0], 8000)));
        assert!(!https);
        assert_eq!(path, None);
        let (addr, _, path) = parse_bind_url("http://127.0.0.1:9000/auth").unwrap();
        assert_eq!(addr.port(), 9000);
        assert_eq!(path.as_deref(), Some("/auth/"));
        assert!(parse_bind_url("ftp://:1").is_err());
        assert!(parse_bind_url("http://example.com:80").is_err());
        let (addr, _, _) = parse_bind_url("http://[::1]:8001").unwrap();
        assert!(addr.is_ipv6());
    }

    #[test]
    fn metrics_networks_are_exact() {
        assert_eq!(
            parse_network("127.0.0.0/8").unwrap().to_string(),
            "127.0.0.0/8"
        );
        assert_eq!(
            parse_network("10.0.0.5").unwrap().to_string(),
            "10.0.0.5/32"
        );
        assert_eq!(parse_network("::1").unwrap().to_string(), "::1/128");
        for bad in [
            "10.0.0.5/8",
            "",
            " 10.0.0.0/8",
            "10.0.0.0/33",
            "localhost",
            "10/8",
        ] {
            assert!(parse_network(bad).is_err(), "{bad:?}");
        }
        let config = HubConfig {
            metrics_allowed_networks: vec![parse_network("127.0.0.0/8").unwrap()],
            ..HubConfig::default()
        };
        assert!(config.metrics_network_allows("127.0.0.1".parse().unwrap()));
        assert!(config.metrics_network_allows("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!config.metrics_network_allows("10.0.0.1".parse().unwrap()));
        assert!(!config.metrics_network_allows("::1".parse().unwrap()));
    }

    #[test]
    fn base_url_normalized() {
        assert_eq!(normalize_base_url("").unwrap(), "/");
        assert_eq!(normalize_base_url("auth").unwrap(), "/auth/");
        assert_eq!(normalize_base_url("/a/b//").unwrap(), "/a/b/");
        assert!(normalize_base_url("https://x/").is_err());
        assert!(normalize_base_url("/../x").is_err());
    }
}
