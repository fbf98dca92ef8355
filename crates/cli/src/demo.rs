//! `hubauth demo`: a ready-made hub on loopback with nothing to install.
//!
//! By default it starts the built-in development OpenID provider and the hub with
//! GenericOAuthenticator against it, so the demo shows the real OAuth flow: the provider's
//! login page, the callback, the hub's home page with the user's groups.

use std::path::{Path, PathBuf};

use std::future::Future;
use std::pin::Pin;

use anyhow::{Context, Result};
use hubauth_config::{Config, MapEnv};
#[cfg(feature = "demo-providers")]
use hubauth_devidp::{Client, DevIdp, DevUser, RunningIdp};
#[cfg(feature = "demo-providers")]
use serde_json::json;

/// Which login the demo shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoProvider {
    /// The development OpenID provider and GenericOAuthenticator (the full OAuth flow).
    Oidc,
    /// DummyAuthenticator: a username/password form that accepts anything.
    Dummy,
    /// GlobusOAuthenticator against a local mock of Globus Auth and the Groups API.
    Globus,
    /// AzureAdOAuthenticator against a local mock of Azure AD and Microsoft Graph.
    Azuread,
    /// GitHubOAuthenticator against a local mock of a GitHub Enterprise Server.
    Github,
    /// GoogleOAuthenticator against a local mock of Google and its Directory API.
    Google,
    /// GitLabOAuthenticator against a local mock of GitLab.
    Gitlab,
    /// MWOAuthenticator against a local mock of a wiki's OAuth extension.
    Mediawiki,
    /// CILogonOAuthenticator against a local mock of CILogon and its identity providers.
    Cilogon,
    /// BitbucketOAuthenticator against a local mock of Bitbucket Cloud.
    Bitbucket,
    /// OpenShiftOAuthenticator against a local mock of an OpenShift cluster's OAuth server.
    Openshift,
    /// Auth0OAuthenticator against a local mock of an Auth0 tenant.
    Auth0,
}

impl DemoProvider {
    /// The name on the command line and the `authenticator_class` short name.
    pub fn name(self) -> &'static str {
        match self {
            DemoProvider::Oidc => "oidc",
            DemoProvider::Dummy => "dummy",
            DemoProvider::Globus => "globus",
            DemoProvider::Azuread => "azuread",
            DemoProvider::Github => "github",
            DemoProvider::Google => "google",
            DemoProvider::Gitlab => "gitlab",
            DemoProvider::Mediawiki => "mediawiki",
            DemoProvider::Cilogon => "cilogon",
            DemoProvider::Bitbucket => "bitbucket",
            DemoProvider::Openshift => "openshift",
            DemoProvider::Auth0 => "auth0",
        }
    }

    /// What the banner says about logging in.
    fn how(self) -> &'static str {
        match self {
            DemoProvider::Dummy => {
                "  Log in with any username and any password.\n  'admin' is an admin; 'mallory' is blocked (you will see the 403 page).\n"
            }
            DemoProvider::Oidc => {
                "  \"Sign in with hubauth dev IdP\" takes you to the development identity provider.\n  Users (password = name): alice (staff), admin (staff, admins), mallory (not staff: 403).\n"
            }
            DemoProvider::Azuread => {
                "  \"Sign in with Azure AD\" takes you to a local mock of Azure AD (tenant contoso): pick a user.\n  adele (admin), alex (staff), grace (250 groups: read from Microsoft Graph), dan (no group: 403).\n"
            }
            DemoProvider::Globus => {
                "  \"Sign in with Globus\" takes you to a local mock of Globus Auth: pick a user.\n  alice (staff group), admin (staff, admins), bob (no group: 403), mallory (another identity provider: 403).\n"
            }
            DemoProvider::Github => {
                "  \"Sign in with GitHub\" takes you to a local mock of a GitHub Enterprise Server: pick a user.\n  alice (team staff), admin (teams staff and admins: an admin), bob (another organization: 403), mallory (invited to staff, not accepted: 403).\n"
            }
            DemoProvider::Google => {
                "  \"Sign in with Google\" takes you to a local mock of Google: pick an account.\n  alice@example.com (staff group), admin@example.com (staff, hub-admins), bob@example.com (no group: 403), mallory@gmail.com (not in the example.com Workspace: 403).\n"
            }
            DemoProvider::Gitlab => {
                "  \"Sign in with GitLab\" takes you to a local mock of GitLab: pick a user.\n  alice (group demo-lab/notebooks), admin (owns demo-lab; an admin), bob (Developer of project 4242), carol (Guest of it: 403), mallory (neither: 403).\n"
            }
            DemoProvider::Mediawiki => {
                "  \"Sign in with MediaWiki\" takes you to a local mock of a wiki's OAuth pages: pick a user.\n  Alice (autoconfirmed), Admin (sysop: an admin), Bob (3 edits, not autoconfirmed: 403), Mallory (locked: the wiki refuses her).\n"
            }
            DemoProvider::Cilogon => {
                "  \"Sign in with CILogon\" takes you to a local mock of CILogon: pick a user (the page lists only the hub's identity providers).\n  alice@demo-university.edu (an admin), bob@demo-university.edu (the university's domain), github:grace (allowed by name), github:mallory (GitHub, not allowed: 403).\n"
            }
            DemoProvider::Bitbucket => {
                "  \"Sign in with Bitbucket\" takes you to a local mock of Bitbucket: pick a user.\n  alice (workspace hub-users), admin (hub-users, admin by name), bob (no workspace: 403), mallory (her own workspace named \"Hub Users\": 403, names never match).\n"
            }
            DemoProvider::Openshift => {
                "  \"Sign in with OpenShift\" takes you to a local mock of an OpenShift cluster's login: pick a user.\n  alice (group jupyterhub-users), admin (jupyterhub-users, jupyterhub-admins), bob (no group: 403).\n"
            }
            DemoProvider::Auth0 => {
                "  \"Sign in with Auth0\" takes you to a local mock of an Auth0 tenant: pick a user.\n  alice@example.com (role staff), admin@example.com (staff, hub-admins), eve@example.com (unverified email: 403). Logging out ends the Auth0 session too.\n"
            }
        }
    }

    /// The 403 page's message in the demo.
    #[cfg(feature = "demo-providers")]
    fn refusal(self) -> &'static str {
        match self {
            DemoProvider::Azuread => {
                "Only members of the demo tenant's staff group may use this hub."
            }
            DemoProvider::Globus => {
                "Only members of the demo's staff Globus group from globusid.org may use this hub."
            }
            DemoProvider::Github => {
                "Only active members of the hubauth-demo organization's staff team may use this hub."
            }
            DemoProvider::Google => {
                "Only members of the staff group of the demo's example.com Workspace may use this hub."
            }
            DemoProvider::Gitlab => {
                "Only members of the demo's GitLab group demo-lab/notebooks and Developers of its project 4242 may use this hub."
            }
            DemoProvider::Mediawiki => {
                "Only autoconfirmed users of the demo wiki may use this hub."
            }
            DemoProvider::Cilogon => {
                "Only users of the demo university and the GitHub users the hub lists may use this hub."
            }
            DemoProvider::Bitbucket => {
                "Only members of the demo's hub-users Bitbucket workspace may use this hub."
            }
            DemoProvider::Openshift => {
                "Only members of the demo's jupyterhub-users OpenShift group may use this hub."
            }
            DemoProvider::Auth0 => {
                "Only users with a verified email and the staff role may use this hub."
            }
            DemoProvider::Oidc | DemoProvider::Dummy => "Only the demo's staff may use this hub.",
        }
    }
}

/// The demo's users at the development provider: (name, password, groups).
pub const DEMO_USERS: &[(&str, &str, &[&str])] = &[
    ("alice", "alice", &["staff"]),
    ("admin", "admin", &["staff", "admins"]),
    ("mallory", "mallory", &["visitors"]),
];

/// Where the demo's app listens, and whether it is handed the user's access token.
#[derive(Debug, Clone, Copy)]
pub struct DemoApp {
    /// The app's address (`[Hub] upstream`).
    pub addr: std::net::SocketAddr,
    /// Hand the app the access token from auth_state (logins through a provider).
    pub access_token: bool,
}

fn hub_table(dir: &Path, port: u16, class: &str, app: Option<DemoApp>) -> String {
    let mut table = format!(
        "[Hub]\nauthenticator_class = \"{class}\"\nbind_url = \"http://127.0.0.1:{port}\"\ndb_url = \"sqlite:///{db}\"\ncookie_secret_file = \"{secret}\"\n",
        db = dir.join("hubauth.sqlite").display(),
        secret = dir.join("cookie_secret").display(),
    );
    if let Some(app) = app {
        // The demo app behind the built-in proxy: everything outside /hub/ goes to it.
        table.push_str(&format!("upstream = \"http://{}\"\n", app.addr));
        if app.access_token {
            table.push_str(
                "auth_state_headers = { \"X-Auth-Request-Access-Token\" = \"access_token\" }\n",
            );
        }
    }
    table
}

/// The demo's configuration with DummyAuthenticator.
pub fn dummy_config(dir: &Path, port: u16, app: Option<DemoApp>) -> String {
    format!(
        "# hubauth demo configuration (written by `hubauth demo --provider dummy`)\n{}login_rate_limit = 0\n\n[Authenticator]\nadmin_users = [\"admin\"]\nblocked_users = [\"mallory\"]\ncustom_403_message = \"mallory is blocked on this demo hub.\"\n\n[DummyAuthenticator]\n# Any username and any password log in; `admin` is an admin, `mallory` is blocked.\n",
        hub_table(dir, port, "dummy", app)
    )
}

#[cfg(feature = "demo-providers")]
/// The demo's configuration with GenericOAuthenticator against the development provider.
pub fn oidc_config(
    dir: &Path,
    port: u16,
    issuer: &str,
    client_secret: &str,
    app: Option<DemoApp>,
) -> String {
    format!(
        r#"# hubauth demo configuration (written by `hubauth demo`)
{hub}
[Authenticator]
enable_auth_state = true
custom_403_message = "Only members of the staff group may use this demo hub."

[GenericOAuthenticator]
login_service = "hubauth dev IdP"
client_id = "hubauth-demo"
client_secret = "{client_secret}"
oidc_issuer = "{issuer}"
scope = ["openid", "profile", "email", "groups"]
username_claim = "preferred_username"
manage_groups = true
allowed_groups = ["staff"]
admin_groups = ["admins"]
oidc_logout = true
"#,
        hub = hub_table(dir, port, "generic-oauth", app),
    )
}

#[cfg(feature = "demo-providers")]
/// Starts the development provider for a hub on `port`.
pub async fn start_idp(port: u16, client_secret: &str) -> Result<RunningIdp> {
    let hub = format!("http://127.0.0.1:{port}");
    let mut builder = DevIdp::builder().client(
        Client::confidential(
            "hubauth-demo",
            client_secret,
            format!("{hub}/hub/oauth_callback"),
        )
        .with_require_pkce(true)
        .with_post_logout_redirect_uri(format!("{hub}/hub/login")),
    );
    for (name, password, groups) in DEMO_USERS {
        builder = builder.user(
            DevUser::new(*name, *password)
                .claim("preferred_username", *name)
                .claim("name", format!("{name} (demo)"))
                .claim("email", format!("{name}@demo.invalid"))
                // Verified, as a real provider would say after checking the address, so
                // the demo also works with username_claim = "email".
                .claim("email_verified", true)
                .claim("groups", json!(groups)),
        );
    }
    builder
        .start()
        .await
        .context("starting the development identity provider")
}

/// Stops what the demo started beside the hub for its provider.
type Stop = Pin<Box<dyn Future<Output = ()> + Send>>;

#[cfg(feature = "demo-providers")]
async fn stop_idp(idp: RunningIdp) {
    idp.shutdown().await;
}

/// The demo's configuration for `provider`, with the provider (or its mock) started.
#[cfg(feature = "demo-providers")]
async fn provider_config(
    provider: DemoProvider,
    dir: &Path,
    port: u16,
    env: &mut MapEnv,
    app: impl Fn(bool) -> Option<DemoApp>,
) -> Result<(String, Option<Stop>)> {
    // Every provider crate's mock starts and stops the same way.
    macro_rules! provider_mock {
        ($krate:ident) => {{
            let started = $krate::mock::start_demo_mock(&mock_callback(port)).await;
            mock_demo(
                provider,
                started,
                |mock| Box::pin(mock.shutdown()),
                dir,
                port,
                env,
                app,
            )
        }};
    }
    match provider {
        DemoProvider::Dummy => Ok((dummy_config(dir, port, app(false)), None)),
        DemoProvider::Azuread => provider_mock!(hubauth_azuread),
        DemoProvider::Globus => provider_mock!(hubauth_globus),
        DemoProvider::Github => provider_mock!(hubauth_github),
        DemoProvider::Google => provider_mock!(hubauth_google),
        DemoProvider::Gitlab => provider_mock!(hubauth_gitlab),
        DemoProvider::Mediawiki => provider_mock!(hubauth_mediawiki),
        DemoProvider::Cilogon => provider_mock!(hubauth_cilogon),
        DemoProvider::Bitbucket => provider_mock!(hubauth_bitbucket),
        DemoProvider::Openshift => provider_mock!(hubauth_openshift),
        DemoProvider::Auth0 => provider_mock!(hubauth_auth0),
        DemoProvider::Oidc => {
            let secret = hubauth_store::CryptKeeper::generate_key();
            let idp = start_idp(port, &secret).await?;
            env.set(
                "JUPYTERHUB_CRYPT_KEY",
                hubauth_store::CryptKeeper::generate_key(),
            );
            let text = oidc_config(dir, port, idp.issuer(), &secret, app(true));
            Ok((text, Some(Box::pin(stop_idp(idp)) as Stop)))
        }
    }
}

/// The hub's callback URL on the demo's port.
#[cfg(feature = "demo-providers")]
fn mock_callback(port: u16) -> String {
    format!("http://127.0.0.1:{port}/hub/oauth_callback")
}

/// The demo of a provider through its mock: the mock (started, with the table that logs
/// in against it) and the hub's configuration around that table. `stop` shuts the mock
/// down when the demo ends.
#[cfg(feature = "demo-providers")]
fn mock_demo<M, E: std::fmt::Display>(
    provider: DemoProvider,
    started: std::result::Result<(M, String), E>,
    stop: impl FnOnce(M) -> Stop,
    dir: &Path,
    port: u16,
    env: &mut MapEnv,
    app: impl Fn(bool) -> Option<DemoApp>,
) -> Result<(String, Option<Stop>)> {
    let name = provider.name();
    let (mock, table) =
        started.map_err(|err| anyhow::anyhow!("starting the {name} mock: {err}"))?;
    env.set(
        "JUPYTERHUB_CRYPT_KEY",
        hubauth_store::CryptKeeper::generate_key(),
    );
    let text = format!(
        "# hubauth demo configuration (written by `hubauth demo --provider {name}`)\n{}\n[Authenticator]\nenable_auth_state = true\ncustom_403_message = \"{}\"\n\n{table}",
        hub_table(dir, port, name, app(true)),
        provider.refusal()
    );
    Ok((text, Some(stop(mock))))
}

/// The demo's configuration: only the form login, in a build without the providers.
#[cfg(not(feature = "demo-providers"))]
async fn provider_config(
    provider: DemoProvider,
    dir: &Path,
    port: u16,
    _env: &mut MapEnv,
    app: impl Fn(bool) -> Option<DemoApp>,
) -> Result<(String, Option<Stop>)> {
    if provider == DemoProvider::Dummy {
        return Ok((dummy_config(dir, port, app(false)), None));
    }
    let name = provider.name();
    anyhow::bail!(
        "this hubauth was built without the demo providers (the `demo-providers` feature), so `--provider {name}` is not available; `hubauth demo --provider dummy` is"
    )
}

/// Runs the demo until Ctrl-C or SIGTERM.
pub async fn run(port: u16, data_dir: Option<PathBuf>, provider: DemoProvider) -> Result<()> {
    let (dir, _temp) = match data_dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            (dir, None)
        }
        None => {
            let temp = tempfile::Builder::new()
                .prefix("hubauth-demo-")
                .tempdir()
                .context("creating a temporary directory")?;
            (temp.path().to_path_buf(), Some(temp))
        }
    };
    let registry = crate::registry()?;
    // Port 0 or a busy port: fall back to a free one so the demo always starts.
    let port = if port != 0 && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
        port
    } else {
        let probe = std::net::TcpListener::bind(("127.0.0.1", 0)).context("finding a free port")?;
        probe.local_addr()?.port()
    };
    // The demo ignores the caller's environment so it behaves the same everywhere.
    let mut env = MapEnv::new();
    let demo_app = crate::demo_app::start().await?;
    let app = |access_token| {
        Some(DemoApp {
            addr: demo_app.addr(),
            access_token,
        })
    };
    let (text, stop) = provider_config(provider, &dir, port, &mut env, app).await?;
    let config_path = dir.join("hubauth.toml");
    std::fs::write(&config_path, &text)
        .with_context(|| format!("writing {}", config_path.display()))?;
    let config = Config::load(&config_path, &registry).map_err(|err| anyhow::anyhow!("{err}"))?;
    let built = crate::build(&config, &registry, &env)?;
    let hub = crate::start(built, &env).await?;
    let result = crate::serve(hub, |url| {
        let how = provider.how();
        // The app is everything outside /hub/ on the hub's own address.
        let app_url = url.split("/hub/").next().map_or_else(String::new, |origin| format!("{origin}/"));
        let banner = format!(
            "\n  hubauth demo is running.\n\n  App: {app_url}\n    a tiny app behind the hub's built-in proxy: a stranger is sent through the\n    login and back, then the page shows what the app receives (user, groups, tokens).\n\n  Hub: {url}\n{how}\n  Data and config: {}\n  Press Ctrl-C to stop.\n\n",
            dir.display()
        );
        // A closed stdout (the demo piped into `head`) must not stop the hub.
        use std::io::Write as _;
        let mut out = std::io::stdout();
        let _ = out.write_all(banner.as_bytes()).and_then(|()| out.flush());
    })
    .await;
    if let Some(stop) = stop {
        stop.await;
    }
    demo_app.shutdown();
    result
}
