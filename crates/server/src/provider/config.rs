//! Registered services (`[[Hub.services]]`): the OAuth clients the hub serves, as
//! JupyterHub's `c.JupyterHub.services`.

use hubauth_config::Env;
use hubauth_provider::{ClientSecret, IdTokenAlg, check_redirect_uri, is_valid_scope};
use serde_json::Value;

/// One registered service: an OAuth client of the hub (the protocol's
/// [`hubauth_provider::Client`], under the name the hub's configuration gives it).
pub use hubauth_provider::Client as ServiceConfig;

/// Keys a `[[Hub.services]]` table may hold.
const KNOWN_KEYS: &[&str] = &[
    "name",
    "oauth_client_id",
    "api_token",
    "api_token_env",
    "api_token_file",
    "oauth_redirect_uri",
    "oauth_client_allowed_scopes",
    "oauth_post_logout_redirect_uri",
    "oauth_no_confirm",
    "oauth_id_token_signed_response_alg",
    "backchannel_logout_uri",
];

/// Keys of JupyterHub's service entries about running or showing the service, which
/// hubauth accepts (so a `c.JupyterHub.services` list carries over) and does not use.
pub const IGNORED_JUPYTERHUB_KEYS: &[&str] = &[
    "url",
    "command",
    "environment",
    "user",
    "cwd",
    "admin",
    "display",
    "info",
    "oauth_roles",
];

/// Parses and validates the `services` option (a list of tables). Errors name the
/// service and key and never include a secret.
pub fn parse_services(raw: &[Value], env: &dyn Env) -> Result<Vec<ServiceConfig>, String> {
    let mut services: Vec<ServiceConfig> = Vec::with_capacity(raw.len());
    for (index, value) in raw.iter().enumerate() {
        let service = parse_service(index, value, env)?;
        if services.iter().any(|s| s.name == service.name) {
            return Err(format!("service {:?} is registered twice", service.name));
        }
        if services.iter().any(|s| s.client_id == service.client_id) {
            return Err(format!(
                "service {:?}: oauth_client_id {:?} is already used by another service",
                service.name, service.client_id
            ));
        }
        services.push(service);
    }
    Ok(services)
}

fn parse_service(index: usize, value: &Value, env: &dyn Env) -> Result<ServiceConfig, String> {
    let Value::Object(table) = value else {
        return Err(format!("entry {} must be a table", index + 1));
    };
    let name = match table.get("name") {
        Some(Value::String(name)) if is_valid_name(name) => name.clone(),
        Some(Value::String(name)) => {
            return Err(format!(
                "entry {}: name {name:?} must be 1-255 letters, digits, '-', '_' or '.'",
                index + 1
            ));
        }
        Some(_) => return Err(format!("entry {}: name must be a string", index + 1)),
        None => return Err(format!("entry {}: name is required", index + 1)),
    };
    let what = format!("service {name:?}");
    for key in table.keys() {
        if !KNOWN_KEYS.contains(&key.as_str()) && !IGNORED_JUPYTERHUB_KEYS.contains(&key.as_str()) {
            return Err(format!(
                "{what}: unknown key {key:?} (known: {})",
                KNOWN_KEYS.join(", ")
            ));
        }
    }
    let string = |key: &str| -> Result<Option<String>, String> {
        match table.get(key) {
            None => Ok(None),
            Some(Value::String(value)) => Ok(Some(value.clone())),
            Some(_) => Err(format!("{what}: {key} must be a string")),
        }
    };
    let client_id = string("oauth_client_id")?.unwrap_or_else(|| format!("service-{name}"));
    if client_id.is_empty()
        || client_id.len() > 255
        || client_id
            .chars()
            .any(|c| c.is_control() || c == ' ' || c == ':')
    {
        return Err(format!(
            "{what}: oauth_client_id must be 1-255 characters without spaces, ':' or control characters"
        ));
    }
    let client_secret = read_secret(
        &what,
        string("api_token")?,
        string("api_token_env")?,
        string("api_token_file")?,
        env,
    )?;
    // No oauth_redirect_uri: not an OAuth client (a JupyterHub service that only calls
    // the API).
    let redirect_uris = uri_list(&what, table, "oauth_redirect_uri")?;
    let post_logout_redirect_uris = uri_list(&what, table, "oauth_post_logout_redirect_uri")?;
    let no_confirm = match table.get("oauth_no_confirm") {
        None => false,
        Some(Value::Bool(flag)) => *flag,
        Some(_) => return Err(format!("{what}: oauth_no_confirm must be true or false")),
    };
    let id_token_alg = match table.get("oauth_id_token_signed_response_alg") {
        None => IdTokenAlg::default(),
        Some(Value::String(name)) => IdTokenAlg::parse(name).ok_or_else(|| {
            format!("{what}: oauth_id_token_signed_response_alg must be \"RS256\" or \"ES256\"")
        })?,
        Some(_) => {
            return Err(format!(
                "{what}: oauth_id_token_signed_response_alg must be \"RS256\" or \"ES256\""
            ));
        }
    };
    let allowed_scopes = match table.get("oauth_client_allowed_scopes") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item.as_str() {
                Some(scope) if is_valid_scope(scope) => Ok(scope.to_owned()),
                _ => Err(format!(
                    "{what}: oauth_client_allowed_scopes must be a list of scope names (no spaces)"
                )),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => {
            return Err(format!(
                "{what}: oauth_client_allowed_scopes must be a list of strings"
            ));
        }
    };
    // OpenID Connect Back-Channel Logout 1.0 §2.2: an absolute URL without a fragment
    // (https, or http on loopback, as redirect URIs).
    let backchannel_logout_uri = match string("backchannel_logout_uri")? {
        None => None,
        Some(uri) => {
            check_redirect_uri(&uri)
                .map_err(|message| format!("{what}: backchannel_logout_uri {message}"))?;
            if redirect_uris.is_empty() {
                return Err(format!(
                    "{what}: backchannel_logout_uri needs oauth_redirect_uri (only services that log users in through the hub are told of logouts)"
                ));
            }
            Some(uri)
        }
    };
    Ok(ServiceConfig {
        backchannel_logout_uri,
        name,
        client_id,
        client_secret,
        redirect_uris,
        allowed_scopes,
        post_logout_redirect_uris,
        no_confirm,
        id_token_alg,
    })
}

/// A key holding one URI or a list of URIs, each checked by [`check_redirect_uri`];
/// empty when the key is absent.
fn uri_list(
    what: &str,
    table: &serde_json::Map<String, Value>,
    key: &str,
) -> Result<Vec<String>, String> {
    let uris = match table.get(key) {
        None => return Ok(Vec::new()),
        Some(Value::String(uri)) => vec![uri.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{what}: {key} must be a string or a list of strings"))
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => {
            return Err(format!(
                "{what}: {key} must be a string or a list of strings"
            ));
        }
    };
    if uris.is_empty() {
        return Err(format!("{what}: {key} must not be empty"));
    }
    for uri in &uris {
        check_redirect_uri(uri).map_err(|message| format!("{what}: {key} {message}"))?;
    }
    Ok(uris)
}

/// The client secret from at most one of `api_token`, `api_token_env`, `api_token_file`.
fn read_secret(
    what: &str,
    inline: Option<String>,
    env_name: Option<String>,
    file: Option<String>,
    env: &dyn Env,
) -> Result<Option<ClientSecret>, String> {
    let given = [inline.is_some(), env_name.is_some(), file.is_some()]
        .iter()
        .filter(|set| **set)
        .count();
    if given > 1 {
        return Err(format!(
            "{what}: set only one of api_token, api_token_env and api_token_file"
        ));
    }
    let (secret, source) = if let Some(secret) = inline {
        (secret, "api_token".to_owned())
    } else if let Some(var) = env_name {
        let secret = env.var(&var).ok_or_else(|| {
            format!("{what}: api_token_env names the environment variable {var}, which is not set")
        })?;
        (secret, format!("the environment variable {var}"))
    } else if let Some(path) = file {
        let text = std::fs::read_to_string(&path)
            .map_err(|err| format!("{what}: api_token_file {path}: {err}"))?;
        (text.trim().to_owned(), format!("the file {path}"))
    } else {
        return Ok(None);
    };
    if secret.chars().count() < 16 {
        return Err(format!(
            "{what}: the client secret from {source} must be at least 16 characters (`openssl rand -hex 32` makes a good one)"
        ));
    }
    if secret.chars().any(|c| c.is_control()) {
        return Err(format!(
            "{what}: the client secret from {source} must not contain control characters"
        ));
    }
    Ok(Some(ClientSecret::new(secret)))
}

fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hubauth_config::MapEnv;
    use serde_json::json;

    fn env() -> MapEnv {
        MapEnv::from_iter(vec![(
            "SVC_SECRET".to_owned(),
            "from-the-environment-0123".to_owned(),
        )])
    }

    #[test]
    fn defaults_and_sources() {
        let services = parse_services(
            &[
                json!({"name": "jupyterhub", "api_token": "0123456789abcdef0123",
                       "oauth_redirect_uri": "https://jh.example/hub/oauth_callback"}),
                json!({"name": "app", "oauth_client_id": "app-client", "api_token_env": "SVC_SECRET",
                       "oauth_redirect_uri": ["http://127.0.0.1:9000/cb", "http://[::1]:9000/cb"],
                       "oauth_client_allowed_scopes": ["custom:read"]}),
                json!({"name": "spa", "oauth_redirect_uri": "http://localhost/cb"}),
            ],
            &env(),
        )
        .unwrap();
        assert_eq!(services[0].client_id, "service-jupyterhub");
        assert!(services[0].is_confidential());
        assert_eq!(
            services[1].client_secret.as_ref().unwrap().secret(),
            "from-the-environment-0123"
        );
        assert!(services[1].allows_scope("custom:read"));
        assert!(services[1].allows_scope("openid"));
        assert!(!services[0].allows_scope("custom:read"));
        assert!(!services[2].is_confidential());
        assert!(!format!("{:?}", services[0]).contains("0123456789abcdef0123"));
        assert_eq!(
            services[0].id_token_alg,
            IdTokenAlg::Rs256,
            "the OIDC default"
        );
        let es = parse_services(
            &[json!({"name": "es", "oauth_redirect_uri": "https://x/cb",
                     "oauth_id_token_signed_response_alg": "ES256"})],
            &env(),
        )
        .unwrap();
        assert_eq!(es[0].id_token_alg, IdTokenAlg::Es256);
        assert_eq!(services[0].backchannel_logout_uri, None);
        let bcl = parse_services(
            &[json!({"name": "bcl", "oauth_redirect_uri": "https://x/cb",
                     "backchannel_logout_uri": "https://x/backchannel?tenant=1"})],
            &env(),
        )
        .unwrap();
        assert_eq!(
            bcl[0].backchannel_logout_uri.as_deref(),
            Some("https://x/backchannel?tenant=1")
        );
    }

    #[test]
    fn refused_configurations() {
        let cases = [
            (
                json!({"oauth_redirect_uri": "https://x/cb"}),
                "name is required",
            ),
            (
                json!({"name": "a b", "oauth_redirect_uri": "https://x/cb"}),
                "must be 1-255",
            ),
            (
                json!({"name": "a", "oauth_redirect_uri": []}),
                "must not be empty",
            ),
            (
                json!({"name": "a", "oauth_redirect_uri": "http://example.org/cb"}),
                "loopback",
            ),
            (
                json!({"name": "a", "oauth_redirect_uri": "https://x/cb#frag"}),
                "fragment",
            ),
            (
                json!({"name": "a", "oauth_redirect_uri": "/relative"}),
                "not a URL",
            ),
            (
                json!({"name": "a", "oauth_redirect_uri": "javascript:alert(1)"}),
                "https URL",
            ),
            (
                json!({"name": "a", "oauth_redirect_uri": "https://u:p@x/cb"}),
                "user info",
            ),
            (
                json!({"name": "a", "oauth_redirect_uri": "https://x/cb", "api_token": "short"}),
                "at least 16",
            ),
            (
                json!({"name": "a", "oauth_redirect_uri": "https://x/cb", "api_token_env": "NOPE"}),
                "not set",
            ),
            (
                json!({"name": "a", "oauth_redirect_uri": "https://x/cb", "api_token": "0123456789abcdef", "api_token_env": "SVC_SECRET"}),
                "only one",
            ),
            (
                json!({"name": "a", "oauth_redirect_uri": "https://x/cb", "redirect_uri": "x"}),
                "unknown key",
            ),
            (
                json!({"name": "a", "oauth_redirect_uri": "https://x/cb", "oauth_id_token_signed_response_alg": "none"}),
                "RS256",
            ),
            (
                json!({"name": "a", "oauth_redirect_uri": "https://x/cb", "oauth_id_token_signed_response_alg": "HS256"}),
                "RS256",
            ),
            (
                json!({"name": "a", "oauth_redirect_uri": "https://x/cb", "oauth_id_token_signed_response_alg": ["ES256"]}),
                "RS256",
            ),
            (
                json!({"name": "a", "oauth_redirect_uri": "https://x/cb", "api_token_file": "/nonexistent/secret"}),
                "api_token_file",
            ),
            (
                json!({"name": "a", "oauth_redirect_uri": "https://x/cb", "backchannel_logout_uri": "http://example.org/bcl"}),
                "backchannel_logout_uri",
            ),
            (
                json!({"name": "a", "oauth_redirect_uri": "https://x/cb", "backchannel_logout_uri": "https://x/bcl#f"}),
                "fragment",
            ),
            (
                json!({"name": "a", "backchannel_logout_uri": "https://x/bcl"}),
                "needs oauth_redirect_uri",
            ),
            (
                json!({"name": "a", "oauth_redirect_uri": "https://x/cb", "backchannel_logout_uri": ["https://x/bcl"]}),
                "must be a string",
            ),
        ];
        for (value, expected) in cases {
            let err = parse_services(std::slice::from_ref(&value), &env()).unwrap_err();
            assert!(err.contains(expected), "{value}: {err}");
            assert!(!err.contains("0123456789abcdef"), "{err}");
        }
        let twice = [
            json!({"name": "a", "oauth_redirect_uri": "https://x/cb"}),
            json!({"name": "b", "oauth_client_id": "service-a", "oauth_redirect_uri": "https://x/cb"}),
        ];
        assert!(
            parse_services(&twice, &env())
                .unwrap_err()
                .contains("already used")
        );
    }

    #[test]
    fn jupyterhub_service_entries_carry_over() {
        let services = parse_services(
            &[
                json!({"name": "idle-culler", "command": ["python3", "-m", "culler"], "admin": true}),
                json!({"name": "app", "url": "http://127.0.0.1:10101", "oauth_no_confirm": true,
                       "display": false, "info": {"k": "v"},
                       "oauth_redirect_uri": "http://127.0.0.1:10101/oauth_callback"}),
            ],
            &env(),
        )
        .unwrap();
        assert!(!services[0].is_oauth_client());
        assert!(services[1].is_oauth_client());
    }

    #[test]
    fn secret_from_file_is_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "file-secret-0123456789\n").unwrap();
        let services = parse_services(
            &[json!({"name": "a", "oauth_redirect_uri": "https://x/cb",
                     "api_token_file": path.display().to_string()})],
            &env(),
        )
        .unwrap();
        let secret = services[0].client_secret.as_ref().unwrap();
        assert!(secret.matches("file-secret-0123456789"));
        assert!(!secret.matches("file-secret-0123456788"));
        assert!(!secret.matches("file-secret"));
    }
}
