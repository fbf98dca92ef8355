//! Talking to the directory: connections with the configured TLS strategy and timeouts,
//! binds, searches, and a small pool of connections bound as the service account.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, ResultEntry, Scope, SearchEntry};
use rustls::ClientConfig;
use tokio::sync::Mutex;

use crate::options::{LdapConfig, TlsStrategy};
use crate::tls;

/// LDAP result code 49: wrong password, unknown DN, disabled account (RFC 4511 A.2).
const INVALID_CREDENTIALS: u32 = 49;
/// LDAP result code 32: the search base does not exist.
const NO_SUCH_OBJECT: u32 = 32;

/// Why the directory could not answer. Messages name the server and the step, never a
/// password.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DirectoryError {
    /// No connection: refused, unreachable, timed out, or the TLS handshake failed.
    #[error("cannot connect to the LDAP server {server}: {detail}")]
    Unreachable {
        /// `ldap(s)://host:port`.
        server: String,
        /// What went wrong.
        detail: String,
    },
    /// A bind or search did not finish within `operation_timeout`.
    #[error("the LDAP server {server} did not answer a {operation} within {seconds:.1} s")]
    Timeout {
        /// `ldap(s)://host:port`.
        server: String,
        /// `bind` or `search`.
        operation: &'static str,
        /// The timeout.
        seconds: f64,
    },
    /// The server answered with an error (other than "invalid credentials" to a bind).
    #[error("the LDAP server {server} refused a {operation}: {detail}")]
    Refused {
        /// `ldap(s)://host:port`.
        server: String,
        /// `bind` or `search`.
        operation: &'static str,
        /// The result code and the server's message.
        detail: String,
    },
}

/// What a bind attempt found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bind {
    /// The credentials are good.
    Accepted,
    /// Wrong password, unknown DN or a disabled account (result code 49).
    InvalidCredentials,
}

/// One entry a search found: its DN and its text attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The entry's DN.
    pub dn: String,
    /// Attribute values by name (as the server spells the name).
    pub attributes: std::collections::HashMap<String, Vec<String>>,
}

impl Entry {
    /// The values of `name`, compared case-insensitively as LDAP attribute names are.
    pub fn values(&self, name: &str) -> Option<&Vec<String>> {
        self.attributes
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, values)| values)
    }
}

/// The directory named by the configuration.
#[derive(Debug)]
pub struct Directory {
    url: String,
    strategy: TlsStrategy,
    tls: Option<Arc<ClientConfig>>,
    connect_timeout: Duration,
    operation_timeout: Duration,
    service_account: Option<(String, String)>,
    pool: Vec<Mutex<Option<Ldap>>>,
    next: AtomicUsize,
}

impl Directory {
    /// Prepares connections to the configured server; TLS files are read now, so that a
    /// missing or unreadable CA or client certificate stops the hub at start-up.
    pub fn new(config: &LdapConfig) -> Result<Directory, tls::TlsError> {
        let tls = match config.tls_strategy {
            TlsStrategy::Insecure => None,
            TlsStrategy::BeforeBind | TlsStrategy::OnConnect => {
                Some(Arc::new(tls::client_config(&config.tls)?))
            }
        };
        Ok(Directory {
            url: config.url(),
            strategy: config.tls_strategy,
            tls,
            connect_timeout: config.connect_timeout,
            operation_timeout: config.operation_timeout,
            service_account: config.service_account.clone(),
            pool: (0..config.lookup_pool_size)
                .map(|_| Mutex::new(None))
                .collect(),
            next: AtomicUsize::new(0),
        })
    }

    /// The server's URL (for messages).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A new connection, encrypted as `tls_strategy` says, not yet bound.
    pub async fn connect(&self) -> Result<Ldap, DirectoryError> {
        let mut settings = LdapConnSettings::new().set_conn_timeout(self.connect_timeout);
        if let Some(tls) = &self.tls {
            settings = settings.set_config(tls.clone());
        }
        if self.strategy == TlsStrategy::BeforeBind {
            settings = settings.set_starttls(true);
        }
        // The timeout covers the TCP connection and the TLS handshake (StartTLS included).
        let connecting = LdapConnAsync::with_settings(settings, &self.url);
        let (connection, ldap) = match tokio::time::timeout(self.connect_timeout, connecting).await
        {
            Ok(Ok(pair)) => pair,
            Ok(Err(err)) => return Err(self.unreachable(err.to_string())),
            Err(_) => {
                return Err(self.unreachable(format!(
                    "no connection within {:.1} s",
                    self.connect_timeout.as_secs_f64()
                )));
            }
        };
        tokio::spawn(async move {
            if let Err(err) = connection.drive().await {
                tracing::debug!("LDAP connection closed: {err}");
            }
        });
        Ok(ldap)
    }

    /// Binds `ldap` as `dn` with `password`. An empty password is never sent: a directory
    /// treats it as an unauthenticated bind and answers "success" for any DN.
    pub async fn bind(
        &self,
        ldap: &mut Ldap,
        dn: &str,
        password: &str,
    ) -> Result<Bind, DirectoryError> {
        if password.is_empty() {
            return Ok(Bind::InvalidCredentials);
        }
        let result = ldap
            .with_timeout(self.operation_timeout)
            .simple_bind(dn, password)
            .await
            .map_err(|err| self.failed("bind", err))?;
        match result.rc {
            0 => Ok(Bind::Accepted),
            INVALID_CREDENTIALS => Ok(Bind::InvalidCredentials),
            rc => Err(DirectoryError::Refused {
                server: self.url.clone(),
                operation: "bind",
                detail: format!("result code {rc}: {}", result.text),
            }),
        }
    }

    /// Searches under `base`; a base that does not exist gives no entries.
    pub async fn search(
        &self,
        ldap: &mut Ldap,
        base: &str,
        scope: Scope,
        filter: &str,
        attributes: &[String],
    ) -> Result<Vec<Entry>, DirectoryError> {
        // No attribute asked for: ask for none ("1.1"), not for all of them.
        let wanted: Vec<&str> = if attributes.is_empty() {
            vec!["1.1"]
        } else {
            attributes.iter().map(String::as_str).collect()
        };
        let result = ldap
            .with_timeout(self.operation_timeout)
            .search(base, scope, filter, wanted)
            .await
            .map_err(|err| self.failed("search", err))?;
        let (entries, status) = (result.0, result.1);
        match status.rc {
            0 => {}
            NO_SUCH_OBJECT => return Ok(Vec::new()),
            rc => {
                return Err(DirectoryError::Refused {
                    server: self.url.clone(),
                    operation: "search",
                    detail: format!("result code {rc}: {}", status.text),
                });
            }
        }
        entries.into_iter().map(|entry| self.entry(entry)).collect()
    }

    /// A connection bound as the service account (or anonymous), from the pool.
    pub async fn service(&self) -> Result<Ldap, DirectoryError> {
        let slot = &self.pool[self.next.fetch_add(1, Ordering::Relaxed) % self.pool.len()];
        let mut held = slot.lock().await;
        if let Some(ldap) = held.as_mut()
            && !ldap.is_closed()
        {
            return Ok(ldap.clone());
        }
        *held = None;
        let mut ldap = self.connect().await?;
        if let Some((dn, password)) = &self.service_account
            && self.bind(&mut ldap, dn, password).await? != Bind::Accepted
        {
            return Err(DirectoryError::Refused {
                server: self.url.clone(),
                operation: "bind",
                detail: "the lookup_dn_search_user credentials are not accepted".to_owned(),
            });
        }
        *held = Some(ldap.clone());
        Ok(ldap)
    }

    /// Forgets pooled connections after a failure, so the next search reconnects.
    pub async fn reset_pool(&self) {
        for slot in &self.pool {
            *slot.lock().await = None;
        }
    }

    fn entry(&self, raw: ResultEntry) -> Result<Entry, DirectoryError> {
        // ldap3 panics on an entry it cannot decode; a broken or hostile server must give
        // an error instead.
        let parsed = std::panic::catch_unwind(AssertUnwindSafe(|| SearchEntry::construct(raw)))
            .map_err(|_| DirectoryError::Refused {
                server: self.url.clone(),
                operation: "search",
                detail: "an entry in the answer cannot be decoded".to_owned(),
            })?;
        Ok(Entry {
            dn: parsed.dn,
            attributes: parsed.attrs,
        })
    }

    fn unreachable(&self, detail: String) -> DirectoryError {
        DirectoryError::Unreachable {
            server: self.url.clone(),
            detail,
        }
    }

    fn failed(&self, operation: &'static str, err: ldap3::LdapError) -> DirectoryError {
        match err {
            ldap3::LdapError::Timeout { .. } => DirectoryError::Timeout {
                server: self.url.clone(),
                operation,
                seconds: self.operation_timeout.as_secs_f64(),
            },
            other => self.unreachable(other.to_string()),
        }
    }
}
