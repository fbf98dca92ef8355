//! The HTTP client for talking to identity providers.

use std::time::Duration;

use hubauth_core::AuthError;
use serde_json::{Map, Value};

/// How requests to the provider are made (`validate_server_cert`, `http_request_kwargs`).
#[derive(Debug, Clone, PartialEq)]
pub struct HttpSettings {
    /// Verify TLS certificates.
    pub validate_cert: bool,
    /// An HTTP(S) proxy URL.
    pub proxy: Option<String>,
    /// Proxy credentials.
    pub proxy_auth: Option<(String, String)>,
    /// Extra trusted CA certificates (PEM file).
    pub ca_certs: Option<String>,
    /// Time allowed to connect.
    pub connect_timeout: Duration,
    /// Time allowed for a whole request.
    pub request_timeout: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            validate_cert: true,
            proxy: None,
            proxy_auth: None,
            ca_certs: None,
            connect_timeout: Duration::from_secs(20),
            request_timeout: Duration::from_secs(20),
        }
    }
}

impl HttpSettings {
    /// Reads upstream's `http_request_kwargs` (tornado's request arguments) for the ones
    /// that mean something here; any other key is an error rather than silently ignored.
    pub fn from_kwargs(
        validate_server_cert: bool,
        kwargs: &Map<String, Value>,
    ) -> Result<Self, String> {
        let mut settings = HttpSettings {
            validate_cert: validate_server_cert,
            ..HttpSettings::default()
        };
        let text = |key: &str, value: &Value| -> Result<String, String> {
            value
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("{key} must be a string"))
        };
        let seconds = |key: &str, value: &Value| -> Result<Duration, String> {
            value
                .as_f64()
                .filter(|secs| *secs > 0.0 && *secs <= 3600.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| format!("{key} must be a number of seconds between 0 and 3600"))
        };
        let mut proxy_host = None;
        let mut proxy_port = None;
        let mut proxy_user = None;
        let mut proxy_pass = None;
        for (key, value) in kwargs {
            match key.as_str() {
                "proxy_host" => proxy_host = Some(text(key, value)?),
                "proxy_port" => {
                    proxy_port = Some(
                        value
                            .as_u64()
                            .filter(|port| *port > 0 && *port < 65536)
                            .ok_or("proxy_port must be a port number")?,
                    )
                }
                "proxy_username" => proxy_user = Some(text(key, value)?),
                "proxy_password" => proxy_pass = Some(text(key, value)?),
                "ca_certs" => settings.ca_certs = Some(text(key, value)?),
                "connect_timeout" => settings.connect_timeout = seconds(key, value)?,
                "request_timeout" => settings.request_timeout = seconds(key, value)?,
                "validate_cert" => {
                    settings.validate_cert = value
                        .as_bool()
                        .ok_or("validate_cert must be true or false")?
                }
                other => {
                    return Err(format!(
                        "{other:?} is not supported; use proxy_host, proxy_port, proxy_username, proxy_password, ca_certs, connect_timeout, request_timeout or validate_cert"
                    ));
                }
            }
        }
        if let Some(host) = proxy_host {
            let port = proxy_port.unwrap_or(3128);
            let url = if host.contains("://") {
                format!("{host}:{port}")
            } else {
                format!("http://{host}:{port}")
            };
            settings.proxy = Some(url);
        } else if proxy_port.is_some() {
            return Err("proxy_port is set but proxy_host is not".to_owned());
        }
        if let (Some(user), Some(pass)) = (proxy_user, proxy_pass) {
            settings.proxy_auth = Some((user, pass));
        }
        Ok(settings)
    }

    /// Builds the client: no redirects followed (a provider's redirect is an error, not an
    /// invitation to fetch another URL), explicit timeouts, rustls.
    pub fn build_client(&self) -> Result<reqwest::Client, String> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(self.connect_timeout)
            .timeout(self.request_timeout)
            .user_agent(concat!("hubauth/", env!("CARGO_PKG_VERSION")))
            .danger_accept_invalid_certs(!self.validate_cert);
        if let Some(path) = &self.ca_certs {
            let pem = std::fs::read(path).map_err(|err| format!("ca_certs {path}: {err}"))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|err| format!("ca_certs {path}: {err}"))?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        if let Some(proxy) = &self.proxy {
            let mut proxy = reqwest::Proxy::all(proxy).map_err(|err| format!("proxy: {err}"))?;
            if let Some((user, pass)) = &self.proxy_auth {
                proxy = proxy.basic_auth(user, pass);
            }
            builder = builder.proxy(proxy);
        } else {
            builder = builder.no_proxy();
        }
        builder.build().map_err(|err| format!("HTTP client: {err}"))
    }
}

/// A failure talking to the provider, with the step it happened in.
pub fn upstream(step: &str, detail: impl Into<String>) -> AuthError {
    AuthError::Upstream {
        step: step.to_owned(),
        detail: detail.into(),
    }
}

/// What came back from the provider, read in full (bounded).
#[derive(Debug)]
pub struct ProviderResponse {
    /// HTTP status.
    pub status: u16,
    /// The body parsed as JSON, if it was JSON.
    pub json: Option<Value>,
    /// The body's length.
    pub len: usize,
}

const MAX_BODY: usize = 1024 * 1024;

/// The histogram provider request times are recorded in, in seconds, labelled by `step`
/// (through the `metrics` facade: whichever recorder the caller set receives it).
pub const LATENCY_METRIC: &str = "hubauth_provider_request_duration_seconds";

/// Sends a request and reads the answer (at most 1 MiB), mapping transport failures to
/// [`AuthError::Upstream`] naming the step. The time taken, failures included, is recorded
/// in [`LATENCY_METRIC`].
// Measures how long the provider took, for the latency histogram; decides nothing.
#[allow(clippy::disallowed_methods)]
pub async fn send(
    step: &str,
    request: reqwest::RequestBuilder,
) -> Result<ProviderResponse, AuthError> {
    let started = std::time::Instant::now();
    let result = send_timed(step, request).await;
    metrics::histogram!(LATENCY_METRIC, "step" => step.to_owned())
        .record(started.elapsed().as_secs_f64());
    result
}

async fn send_timed(
    step: &str,
    request: reqwest::RequestBuilder,
) -> Result<ProviderResponse, AuthError> {
    let mut response = request.send().await.map_err(|err| {
        let kind = if err.is_timeout() {
            "timed out"
        } else if err.is_connect() {
            "could not connect"
        } else {
            "failed"
        };
        upstream(step, format!("{kind}: {}", without_url(&err)))
    })?;
    let status = response.status().as_u16();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|err| {
        upstream(
            step,
            format!("reading the answer failed: {}", without_url(&err)),
        )
    })? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(upstream(step, "the answer is larger than 1 MiB"));
        }
        body.extend_from_slice(&chunk);
    }
    let json = serde_json::from_slice(&body).ok();
    Ok(ProviderResponse {
        status,
        json,
        len: body.len(),
    })
}

/// A reqwest error without the URL (which may hold a token in its query).
fn without_url(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    if let Some(url) = err.url() {
        text = text.replace(url.as_str(), "<provider URL>");
    }
    text
}
