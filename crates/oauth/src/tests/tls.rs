//! `validate_server_cert` and `http_request_kwargs.ca_certs` against a real TLS server with
//! a self-signed certificate on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use hubauth_config::{Config, MapEnv, Registry};
use hubauth_core::AuthError;
use hubauth_oauth::{OAuthConfig, OAuthCore};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An HTTPS server answering every request with the discovery document of its own issuer.
async fn https_issuer() -> (String, String) {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert_pem = certified.cert.pem();
    let cert = CertificateDer::from(certified.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("https://{}", listener.local_addr().unwrap());
    let body = serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/jwks"),
    })
    .to_string();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let body = body.clone();
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake: nothing to serve.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (issuer, cert_pem)
}

fn core(issuer: &str, extra: &str) -> OAuthCore {
    let mut classes: Vec<&'static hubauth_config::ClassDef> =
        hubauth_core::options::classes().to_vec();
    classes.extend(hubauth_oauth::classes());
    let registry = Registry::new(classes).unwrap();
    let text = format!(
        "[GenericOAuthenticator]\nclient_id = \"hub\"\noidc_issuer = \"{issuer}\"\n{extra}"
    );
    let config = Config::parse(&text, "tls.toml", &registry).unwrap();
    let env = MapEnv::new();
    let parsed =
        OAuthConfig::from_view(&config.view(&registry, "GenericOAuthenticator", &env)).unwrap();
    OAuthCore::new(parsed).unwrap()
}

#[tokio::test]
async fn self_signed_certificates_are_refused_by_default() {
    let (issuer, _) = https_issuer().await;
    let err = core(&issuer, "").endpoints().await.unwrap_err();
    assert!(matches!(err, AuthError::Upstream { .. }), "{err}");
}

#[tokio::test]
async fn validate_server_cert_false_accepts_them() {
    let (issuer, _) = https_issuer().await;
    let resolved = core(&issuer, "validate_server_cert = false\n")
        .endpoints()
        .await
        .unwrap();
    assert_eq!(resolved.endpoints.token_url, format!("{issuer}/token"));
}

#[tokio::test]
async fn ca_certs_trusts_a_private_ca() {
    let (issuer, pem) = https_issuer().await;
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, pem).unwrap();
    let extra = format!(
        "http_request_kwargs = {{ ca_certs = \"{}\" }}\n",
        path.display()
    );
    let resolved = core(&issuer, &extra).endpoints().await.unwrap();
    assert_eq!(
        resolved.endpoints.userdata_url,
        format!("{issuer}/userinfo")
    );
}

#[test]
fn a_missing_ca_file_is_a_clear_error() {
    let mut classes: Vec<&'static hubauth_config::ClassDef> =
        hubauth_core::options::classes().to_vec();
    classes.extend(hubauth_oauth::classes());
    let registry = Registry::new(classes).unwrap();
    let text = "[GenericOAuthenticator]\nclient_id = \"hub\"\noidc_issuer = \"https://idp.example\"\nhttp_request_kwargs = { ca_certs = \"/nonexistent/ca.pem\" }\n";
    let config = Config::parse(text, "tls.toml", &registry).unwrap();
    let env = MapEnv::new();
    let view = config.view(&registry, "GenericOAuthenticator", &env);
    let err = hubauth_oauth::generic_from_view(&view)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("ca_certs") && err.contains("/nonexistent/ca.pem"),
        "{err}"
    );
}

/// `http_request_kwargs.proxy_host/proxy_port`: provider requests go through the proxy.
#[tokio::test]
async fn proxy_settings_route_provider_requests_through_the_proxy() {
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_port = proxy.local_addr().unwrap().port();
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    // The issuer's host does not exist: only a proxy can answer for it.
    let issuer = "http://idp.invalid";
    tokio::spawn(async move {
        loop {
            let Ok((mut tcp, _)) = proxy.accept().await else {
                return;
            };
            let seen = seen_tx.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tcp.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&request).into_owned();
                let _ = seen.send(text.lines().next().unwrap_or_default().to_owned());
                let body = serde_json::json!({
                    "issuer": issuer,
                    "authorization_endpoint": format!("{issuer}/authorize"),
                    "token_endpoint": format!("{issuer}/token"),
                })
                .to_string();
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tcp.write_all(response.as_bytes()).await;
            });
        }
    });
    let extra = format!(
        "http_request_kwargs = {{ proxy_host = \"127.0.0.1\", proxy_port = {proxy_port} }}\n"
    );
    let resolved = core(issuer, &extra).endpoints().await.unwrap();
    assert_eq!(resolved.endpoints.token_url, "http://idp.invalid/token");
    let request_line = seen_rx.recv().await.unwrap();
    assert_eq!(
        request_line, "GET http://idp.invalid/.well-known/openid-configuration HTTP/1.1",
        "an absolute-form request, as clients send to an HTTP proxy"
    );
}
