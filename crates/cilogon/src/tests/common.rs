//! What the behaviour tests share: the mock CILogon over HTTPS with its users, and the
//! CILogon quirks of the shared harness (`hubauth-harness`: a real hub against the mock,
//! a browser that logs in).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use hubauth_cilogon::mock::{CilogonMock, MockHandle, MockIdp, MockUser, ORCID_IDP};
use hubauth_cilogon::{CilogonOAuthenticator, cilogon_from_view, local_cilogon_from_view};
use hubauth_config::{ClassView, ConfigError, Registry};
use hubauth_core::Authenticator;
use hubauth_harness::tls::{loopback_cert, mock_tls};
use hubauth_harness::{Build, Loopback, Provider};

pub(super) use hubauth_harness::{
    auth_state, authorize_url, home, location, login_as, query, stored_user,
};

/// The campus IdP most tests configure.
pub(super) const UNI: &str = "https://idp.uni.edu/idp/shibboleth";
/// A second campus IdP.
pub(super) const PARTNER: &str = "https://idp.partner.org/idp/shibboleth";
/// The client the hub is registered as.
pub(super) const CLIENT_ID: &str = "cilogon:/client_id/4f2a9c";
/// Its secret.
pub(super) const SECRET: &str = "s3cret+/=with&odd%chars";

pub(super) fn registry() -> Registry {
    hubauth_harness::registry(hubauth_cilogon::classes())
}

/// The users of the standard mock, by key.
pub(super) fn users() -> Vec<MockUser> {
    vec![
        MockUser::campus(UNI, "alice", "uni.edu"),
        MockUser::campus(UNI, "bob", "uni.edu"),
        // A department's subdomain.
        MockUser::campus(UNI, "carol", "cs.uni.edu"),
        // An eppn in another domain than the IdP's.
        MockUser::campus(UNI, "erin", "alumni.example.com"),
        // A user the IdP releases no eppn for (CILogon leaves missing claims out).
        MockUser::new("noeppn", UNI)
            .claim("email", "noeppn@uni.edu")
            .claim("name", "No Eppn"),
        MockUser::campus(PARTNER, "pat", "partner.org"),
        MockUser::github("grace", 101),
        MockUser::github("mallory", 666),
        MockUser::google("gina@gmail.com"),
        MockUser::new("olivia", ORCID_IDP).claim("oidc", "0000-0002-1825-0097"),
    ]
}

/// A running hub against a running mock, and the authenticator the hub runs (None for
/// the Local variant).
pub(super) struct Pair {
    base: hubauth_harness::Pair<MockHandle>,
    pub(super) authenticator: Option<Arc<CilogonOAuthenticator>>,
}

impl std::ops::Deref for Pair {
    type Target = hubauth_harness::Pair<MockHandle>;

    fn deref(&self) -> &Self::Target {
        &self.base
    }
}

// Every mock of this binary serves HTTPS with the harness's loopback certificate.
hubauth_harness::idp_mock!(
    MockHandle,
    ca_pem = |_| Some(loopback_cert().cert_pem.clone())
);

/// Where the hub keeps the typed authenticator it built (the Local variant is not one).
type Typed = Arc<Mutex<Option<Arc<CilogonOAuthenticator>>>>;

/// The provider under test: the CILogon classes, the Local variant or not; the
/// authenticator built last goes into `typed`.
fn provider(typed: Typed) -> Provider<impl Build<ConfigError>> {
    Provider::new(
        hubauth_cilogon::classes(),
        move |class: &str, view: &ClassView<'_>| -> Result<Arc<dyn Authenticator>, ConfigError> {
            if class.starts_with("Local") {
                return local_cilogon_from_view(view);
            }
            let built = Arc::new(cilogon_from_view(view)?);
            *typed.lock().unwrap() = Some(built.clone());
            Ok(built)
        },
    )
}

/// What a test hub is configured with.
pub(super) struct Setup<'a> {
    /// The class (`CILogonOAuthenticator` or the Local variant).
    pub(super) class: &'a str,
    /// Lines of the class's table (before the `idps` sub-tables).
    pub(super) keys: &'a str,
    /// `idps`: each EntityID with the lines of its sub-table.
    pub(super) idps: &'a [(&'a str, &'a str)],
    /// Environment variables.
    pub(super) env: &'a [(&'a str, &'a str)],
}

impl<'a> Setup<'a> {
    pub(super) fn new(keys: &'a str, idps: &'a [(&'a str, &'a str)]) -> Self {
        Setup {
            class: "CILogonOAuthenticator",
            keys,
            idps,
            env: &[],
        }
    }
}

/// The class table: `keys`, then one sub-table per IdP.
pub(super) fn class_table(class: &str, keys: &str, idps: &[(&str, &str)]) -> String {
    let mut table = format!("[{class}]\n{keys}\n");
    for (entity_id, body) in idps {
        table.push_str(&format!("[{class}.idps.\"{entity_id}\"]\n{body}\n"));
    }
    table
}

/// The standard mock (HTTPS, the users of [`users`], client [`CLIENT_ID`] for `origin`)
/// with changes made by `adjust`.
pub(super) async fn start_mock(
    origin: &str,
    adjust: impl FnOnce(CilogonMock) -> CilogonMock,
) -> MockHandle {
    let mut builder = CilogonMock::builder()
        .idp(MockIdp::new(UNI, "Example University"))
        .idp(MockIdp::new(PARTNER, "Partner Lab"))
        .client(CLIENT_ID, SECRET, &format!("{origin}/hub/oauth_callback"))
        .tls(mock_tls());
    for user in users() {
        builder = builder.user(user);
    }
    adjust(builder).start().await.unwrap()
}

/// A hub of `class` configured by `tables` (the class table, header and sub-tables
/// included) with environment `env`, prepared on `site`, against `mock`.
pub(super) async fn serve_hub(
    site: Loopback,
    mock: MockHandle,
    class: &str,
    tables: &str,
    env: &[(&str, &str)],
) -> anyhow::Result<Pair> {
    let typed = Typed::default();
    let base = provider(typed.clone())
        .serve_with(site, mock, class, tables, "", env)
        .await?;
    let authenticator = typed.lock().unwrap().take();
    Ok(Pair {
        base,
        authenticator,
    })
}

/// A mock and a hub configured by `setup`, in whose keys `@HOST@` stands for the mock's
/// host; the hub reaches the mock through `cilogon_host` over verified HTTPS.
pub(super) async fn try_pair_with(
    setup: Setup<'_>,
    adjust: impl FnOnce(CilogonMock) -> CilogonMock,
) -> anyhow::Result<Pair> {
    let site = Loopback::bind().await?;
    let mock = start_mock(site.origin(), adjust).await;
    let keys = format!(
        "client_id = \"{CLIENT_ID}\"\nclient_secret = \"{SECRET}\"\ncilogon_host = \"{host}\"\nhttp_request_kwargs = {{ ca_certs = \"{ca}\" }}\nenable_auth_state = true\n{keys}",
        host = mock.host(),
        ca = loopback_cert().file.display(),
        keys = setup.keys.replace("@HOST@", &mock.host()),
    );
    let table = class_table(setup.class, &keys, setup.idps);
    serve_hub(site, mock, setup.class, &table, setup.env).await
}

/// [`try_pair_with`] with the standard mock.
pub(super) async fn try_pair(setup: Setup<'_>) -> anyhow::Result<Pair> {
    try_pair_with(setup, |mock| mock).await
}

/// A hub of `CILogonOAuthenticator` with `keys` and `idps`.
pub(super) async fn pair(keys: &str, idps: &[(&str, &str)]) -> Pair {
    try_pair(Setup::new(keys, idps)).await.unwrap()
}

/// The university IdP: usernames from eppn without "@uni.edu".
pub(super) const UNI_STRIP: &str = "username_derivation = { username_claim = \"eppn\", action = \"strip_idp_domain\", domain = \"uni.edu\" }";

/// A browser: keeps cookies, follows no redirects, trusts the mock's certificate.
pub(super) fn client() -> reqwest::Client {
    hubauth_harness::client_trusting(&loopback_cert().cert_pem)
}

/// Moves both clocks (the hub's and the mock's) forward.
pub(super) fn advance(p: &Pair, seconds: i64) {
    p.clock.advance(seconds);
    p.mock.advance_clock(seconds);
}
