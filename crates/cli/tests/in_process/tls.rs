//! The hub serving TLS itself (`[Hub] ssl_cert`, `ssl_key`): real TLS clients, a
//! certificate authority made by the test, and renewals while connections stay open.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use hubauth_testkit::hub::{HubOptions, TestHub, login_at, start_hub, start_hub_with};
use hubauth_testkit::process::{HubProcess, hub_config};
use hubauth_testkit::tls::{TestCa, certificate_der, connect, presented, write_replacing};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const OPEN: &str = "[DummyAuthenticator]\nallow_all = true\n";

fn tls_lines(dir: &Path) -> String {
    format!(
        "ssl_cert = \"{}\"\nssl_key = \"{}\"\n",
        dir.join("cert.pem").display(),
        dir.join("key.pem").display()
    )
}

fn addr(hub: &TestHub) -> SocketAddr {
    hub.origin
        .trim_start_matches("http://")
        .parse()
        .expect("the test hub's origin is an address")
}

/// One request on an open connection (keep-alive), its status and whether it answered.
async fn get_on<S>(stream: &mut S, path: &str) -> u16
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut byte))
            .await
            .expect("the hub answers on the open connection")
            .unwrap();
        assert_eq!(read, 1, "the connection closed");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.unwrap();
    head.split(' ').nth(1).unwrap().parse().unwrap()
}

/// Waits until a new connection is given `expected`.
async fn until_presented(addr: SocketAddr, ca: &TestCa, expected: &[u8]) {
    for _ in 0..100 {
        let stream = connect(addr, &ca.pem()).await.unwrap();
        if presented(&stream) == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the renewed certificate was not served within 10 s");
}

fn https_client(ca: &TestCa) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap())
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_hub_serves_https_with_secure_cookies_and_https_urls() {
    let ca = TestCa::new();
    let certs = tempfile::TempDir::new().unwrap();
    ca.issue(
        &certs.path().join("cert.pem"),
        &certs.path().join("key.pem"),
        "first",
    );
    let hub = start_hub(&tls_lines(certs.path()), OPEN, &[]).await;
    let origin = hub.origin.replacen("http://", "https://", 1);
    let client = https_client(&ca);
    let page = client
        .get(format!("{origin}/hub/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let response = login_at(&client, &format!("{origin}/hub/login"), "ada", "pw").await;
    assert_eq!(response.status(), 302);
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .find(|cookie| cookie.starts_with("hubauth-session"))
        .expect("a session cookie");
    assert!(cookie.contains("; Secure"), "{cookie}");
    let home = client
        .get(format!("{origin}/hub/home"))
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), 200);
    // Plain HTTP on the TLS port gets no page.
    let plain = reqwest::Client::new()
        .get(format!("{}/hub/login", hub.origin))
        .timeout(Duration::from_secs(15))
        .send()
        .await;
    assert!(plain.is_err() || plain.unwrap().status() != 200);
}

#[tokio::test]
async fn a_renewed_certificate_is_served_without_a_restart_and_open_connections_keep_working() {
    let ca = TestCa::new();
    let certs = tempfile::TempDir::new().unwrap();
    let cert = certs.path().join("cert.pem");
    let key = certs.path().join("key.pem");
    let first = ca.issue(&cert, &key, "first");
    let hub = start_hub(&tls_lines(certs.path()), OPEN, &[]).await;
    let addr = addr(&hub);

    let mut open = connect(addr, &ca.pem()).await.unwrap();
    assert_eq!(presented(&open), first);
    assert_eq!(get_on(&mut open, "/hub/health").await, 200);

    // The renewal: both files replaced, as certbot or an ACME client does.
    let second = ca.issue(&cert, &key, "second");
    until_presented(addr, &ca, &second).await;
    // The connection opened before the renewal still works.
    assert_eq!(get_on(&mut open, "/hub/health").await, 200);

    // A broken renewal (a key that is not the certificate's) is refused: the hub keeps
    // serving the last good certificate.
    let stranger = tempfile::TempDir::new().unwrap();
    ca.issue(
        &stranger.path().join("cert.pem"),
        &stranger.path().join("key.pem"),
        "stranger",
    );
    write_replacing(
        &key,
        &std::fs::read_to_string(stranger.path().join("key.pem")).unwrap(),
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    let fresh = connect(addr, &ca.pem()).await.unwrap();
    assert_eq!(presented(&fresh), second);
    assert_eq!(certificate_der(&cert), second);
}

#[tokio::test]
async fn a_key_that_is_not_the_certificates_stops_the_start_with_both_files() {
    let ca = TestCa::new();
    let certs = tempfile::TempDir::new().unwrap();
    let other = tempfile::TempDir::new().unwrap();
    ca.issue(
        &certs.path().join("cert.pem"),
        &certs.path().join("key.pem"),
        "mine",
    );
    ca.issue(
        &other.path().join("cert.pem"),
        &other.path().join("key.pem"),
        "theirs",
    );
    std::fs::copy(other.path().join("key.pem"), certs.path().join("key.pem")).unwrap();
    let err = start_hub_with(HubOptions {
        dir: tempfile::TempDir::new().unwrap(),
        listener: None,
        hub_extra: &tls_lines(certs.path()),
        rest: OPEN,
        env: &[],
        clock: None,
    })
    .await
    .expect_err("a mismatched key is refused");
    let message = format!("{err:#}");
    assert!(
        message.contains("is not the private key of the certificate"),
        "{message}"
    );
    assert!(
        message.contains("key.pem") && message.contains("cert.pem"),
        "{message}"
    );

    // One file without the other is a configuration error naming the option.
    let err = start_hub_with(HubOptions {
        dir: tempfile::TempDir::new().unwrap(),
        listener: None,
        hub_extra: &format!(
            "ssl_cert = \"{}\"\n",
            certs.path().join("cert.pem").display()
        ),
        rest: OPEN,
        env: &[],
        clock: None,
    })
    .await
    .expect_err("ssl_cert alone is refused");
    assert!(format!("{err:#}").contains("ssl_key"), "{err:#}");
}

/// SIGHUP reloads at once, even when the files look unchanged to the periodic check (the
/// hub runs as its own process, so the signal goes to it alone).
#[tokio::test]
async fn sighup_reloads_the_certificate() {
    let ca = TestCa::new();
    let certs = tempfile::TempDir::new().unwrap();
    let cert = certs.path().join("cert.pem");
    let key = certs.path().join("key.pem");
    let first = ca.issue(&cert, &key, "first");
    let data = tempfile::TempDir::new().unwrap();
    let config = format!(
        "{}{}authenticator_class = \"dummy\"\n\n{OPEN}",
        hub_config(
            &format!("sqlite:///{}", data.path().join("hub.sqlite").display()),
            &data.path().join("secret"),
            ""
        ),
        tls_lines(certs.path()),
    );
    let hub = HubProcess::start(data.path(), "hub", &config, &[]);
    let addr: SocketAddr = hub
        .origin
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .parse()
        .unwrap();
    let stream = connect(addr, &ca.pem()).await.unwrap();
    assert_eq!(presented(&stream), first);
    // A renewal whose files keep their size and modification time: only SIGHUP tells.
    let stamp = |path: &Path| {
        let meta = std::fs::metadata(path).unwrap();
        (meta.len(), meta.modified().unwrap())
    };
    let (cert_stamp, key_stamp) = (stamp(&cert), stamp(&key));
    let renewed = tempfile::TempDir::new().unwrap();
    let second = loop {
        let der = ca.issue(
            &renewed.path().join("cert.pem"),
            &renewed.path().join("key.pem"),
            "first",
        );
        if stamp(&renewed.path().join("cert.pem")).0 == cert_stamp.0
            && stamp(&renewed.path().join("key.pem")).0 == key_stamp.0
        {
            break der;
        }
    };
    for (from, to, mtime) in [
        ("cert.pem", &cert, cert_stamp.1),
        ("key.pem", &key, key_stamp.1),
    ] {
        std::fs::copy(renewed.path().join(from), to).unwrap();
        std::fs::File::options()
            .write(true)
            .open(to)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let unchanged = connect(addr, &ca.pem()).await.unwrap();
    assert_eq!(
        presented(&unchanged),
        first,
        "the periodic check saw no change"
    );
    hub.signal_hangup();
    until_presented(addr, &ca, &second).await;
}
