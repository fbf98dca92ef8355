//! Client authentication at the token and revocation endpoints (RFC 6749 §2.3.1): HTTP
//! Basic (`client_secret_basic`), the body (`client_secret_post`), or none for public
//! clients.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::client::{Client, find_client};
use crate::error::ProviderError;
use crate::form::Form;

/// Client credentials as presented.
struct Credentials {
    /// The client ids the request may mean, in order of preference.
    client_ids: Vec<String>,
    /// The secrets the request may mean; `None` when it sent no secret.
    secrets: Option<Vec<String>>,
    /// Whether they came in `Authorization: Basic`.
    basic: bool,
}

/// RFC 6749 §2.3.1's encoding of a Basic credential part undone (`+` is a space, `%XX`
/// a byte); `None` when that is not UTF-8.
fn form_decode(part: &str) -> Option<String> {
    percent_encoding::percent_decode_str(&part.replace('+', " "))
        .decode_utf8()
        .ok()
        .map(|decoded| decoded.into_owned())
}

/// A credential part as RFC 6749 §2.3.1 says to send it (form-encoded) and as widely
/// used client libraries send it (raw): both readings, the decoded one first.
fn both_readings(part: &str) -> Vec<String> {
    let mut readings = Vec::with_capacity(2);
    if let Some(decoded) = form_decode(part) {
        readings.push(decoded);
    }
    if !readings.iter().any(|r| r == part) {
        readings.push(part.to_owned());
    }
    readings
}

/// The client credentials of a request: from `Authorization: Basic` or from the body,
/// never both.
fn credentials(authorization: Option<&str>, form: &Form) -> Result<Credentials, &'static str> {
    let basic = authorization.and_then(|value| {
        let (scheme, rest) = value.split_once(' ')?;
        scheme.eq_ignore_ascii_case("basic").then(|| rest.trim())
    });
    if let Some(encoded) = basic {
        if form.contains("client_secret") {
            return Err("use one client authentication method, not two");
        }
        let decoded = STANDARD
            .decode(encoded)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or("the Basic credentials are malformed")?;
        // Client ids never contain ':', so the first one ends the id; the secret may hold
        // more.
        let (id, secret) = decoded
            .split_once(':')
            .ok_or("the Basic credentials are malformed")?;
        let client_ids = both_readings(id);
        if let Some(form_id) = form.get("client_id")
            && !client_ids.iter().any(|id| id == form_id)
        {
            return Err("client_id does not match the Basic credentials");
        }
        return Ok(Credentials {
            client_ids,
            secrets: Some(both_readings(secret)),
            basic: true,
        });
    }
    let id = form
        .get("client_id")
        .ok_or("client authentication is required (client_id)")?;
    Ok(Credentials {
        client_ids: vec![id.to_owned()],
        secrets: form
            .get("client_secret")
            .map(|secret| vec![secret.to_owned()]),
        basic: false,
    })
}

/// The registered client a token or revocation request authenticates as.
/// `authorization` is the request's `Authorization` header, if any. Malformed
/// credentials are `invalid_request`; an unknown client, a wrong or missing secret, or a
/// secret sent by a public client are `invalid_client`.
pub fn authenticate_client<'c>(
    clients: &'c [Client],
    authorization: Option<&str>,
    form: &Form,
) -> Result<&'c Client, ProviderError> {
    let credentials = credentials(authorization, form).map_err(ProviderError::invalid_request)?;
    let refused = |description| ProviderError::InvalidClient {
        description,
        basic: credentials.basic,
    };
    let Some(client) = credentials
        .client_ids
        .iter()
        .find_map(|id| find_client(clients, id))
    else {
        tracing::info!("request from an unknown OAuth client refused");
        return Err(refused("unknown client"));
    };
    match (&client.client_secret, &credentials.secrets) {
        (Some(expected), Some(presented)) => {
            // Every reading is compared, each in constant time, so the time taken does not
            // tell which one matched.
            let matched = presented
                .iter()
                .fold(false, |matched, secret| expected.matches(secret) | matched);
            if matched {
                Ok(client)
            } else {
                tracing::info!(client = %client.client_id, "request with a wrong client secret refused");
                Err(refused("client authentication failed"))
            }
        }
        (Some(_), None) => {
            tracing::info!(client = %client.client_id, "request without the client secret refused");
            Err(refused("client authentication failed"))
        }
        (None, None) => Ok(client),
        (None, Some(_)) => Err(refused("this client is public and has no secret")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::tests::clients;

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    fn form(fields: &[(&str, &str)]) -> Form {
        fields.iter().copied().collect()
    }

    fn refusal(result: Result<&Client, ProviderError>) -> (&'static str, String, bool) {
        match result {
            Err(err @ ProviderError::InvalidClient { basic, .. }) => {
                ("invalid_client", err.description().into_owned(), basic)
            }
            Err(err) => (err.code(), err.description().into_owned(), false),
            Ok(client) => panic!("accepted {}", client.client_id),
        }
    }

    #[test]
    fn basic_post_and_public_clients() {
        let clients = clients();
        let ok = |auth: Option<&str>, fields: &[(&str, &str)]| {
            authenticate_client(&clients, auth, &form(fields)).map(|c| c.client_id.clone())
        };
        let header = basic("conf", "s3cret-s3cret-s3cret");
        assert_eq!(ok(Some(&header), &[]).unwrap(), "conf");
        assert_eq!(ok(Some(&header), &[("client_id", "conf")]).unwrap(), "conf");
        assert_eq!(
            ok(
                None,
                &[
                    ("client_id", "conf"),
                    ("client_secret", "s3cret-s3cret-s3cret")
                ]
            )
            .unwrap(),
            "conf"
        );
        assert_eq!(ok(None, &[("client_id", "pub")]).unwrap(), "pub");
        // The scheme is case-insensitive.
        let lower = header.replacen("Basic", "basic", 1);
        assert_eq!(ok(Some(&lower), &[]).unwrap(), "conf");
    }

    #[test]
    fn form_encoded_and_raw_basic_secrets_both_work() {
        let mut clients = clients();
        clients[0].client_secret = Some(crate::ClientSecret::new("a+b%20c:d/e=f"));
        let raw = basic("conf", "a+b%20c:d/e=f");
        // RFC 6749 §2.3.1 form-encodes each part before Base64.
        let encoded = basic("conf", "a%2Bb%2520c%3Ad%2Fe%3Df");
        for header in [raw, encoded] {
            assert_eq!(
                authenticate_client(&clients, Some(&header), &Form::default())
                    .unwrap()
                    .client_id,
                "conf"
            );
        }
    }

    #[test]
    fn refusals() {
        let clients = clients();
        let try_auth = |auth: Option<&str>, fields: &[(&str, &str)]| {
            refusal(authenticate_client(&clients, auth, &form(fields)))
        };
        let good = basic("conf", "s3cret-s3cret-s3cret");
        assert_eq!(
            try_auth(Some(&basic("conf", "wrong")), &[]),
            (
                "invalid_client",
                "client authentication failed".into(),
                true
            )
        );
        assert_eq!(
            try_auth(Some(&basic("nope", "x")), &[]),
            ("invalid_client", "unknown client".into(), true)
        );
        assert_eq!(
            try_auth(None, &[("client_id", "conf")]),
            (
                "invalid_client",
                "client authentication failed".into(),
                false
            )
        );
        assert_eq!(
            try_auth(None, &[("client_id", "pub"), ("client_secret", "x")]),
            (
                "invalid_client",
                "this client is public and has no secret".into(),
                false
            )
        );
        assert_eq!(
            try_auth(Some(&good), &[("client_secret", "s3cret-s3cret-s3cret")]),
            (
                "invalid_request",
                "use one client authentication method, not two".into(),
                false
            )
        );
        assert_eq!(
            try_auth(Some(&good), &[("client_id", "pub")]),
            (
                "invalid_request",
                "client_id does not match the Basic credentials".into(),
                false
            )
        );
        assert_eq!(
            try_auth(Some("Basic !!!"), &[]),
            (
                "invalid_request",
                "the Basic credentials are malformed".into(),
                false
            )
        );
        assert_eq!(
            try_auth(None, &[]),
            (
                "invalid_request",
                "client authentication is required (client_id)".into(),
                false
            )
        );
        // A service without a redirect URI is not an OAuth client.
        assert_eq!(
            try_auth(None, &[("client_id", "api-only")]),
            ("invalid_client", "unknown client".into(), false)
        );
    }
}
