//! `hubauth demo`: a ready-made hub on loopback with nothing to install.

use std::path::PathBuf;

use anyhow::{Context, Result};
use hubauth_config::{Config, MapEnv};

/// The demo's configuration file.
pub fn demo_config(data_dir: &std::path::Path, port: u16) -> String {
    let db = data_dir.join("hubauth.sqlite");
    let secret = data_dir.join("cookie_secret");
    format!(
        r#"# hubauth demo configuration (written by `hubauth demo`)
[Hub]
authenticator_class = "dummy"
bind_url = "http://127.0.0.1:{port}"
db_url = "sqlite:///{db}"
cookie_secret_file = "{secret}"
login_rate_limit = 0

[Authenticator]
admin_users = ["admin"]
blocked_users = ["mallory"]
custom_403_message = "mallory is blocked on this demo hub."

[DummyAuthenticator]
# Any username and any password log in; `admin` is an admin, `mallory` is blocked.
"#,
        db = db.display(),
        secret = secret.display(),
    )
}

/// Runs the demo until Ctrl-C or SIGTERM.
pub async fn run(port: u16, data_dir: Option<PathBuf>) -> Result<()> {
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
    let text = demo_config(&dir, port);
    let config_path = dir.join("hubauth.toml");
    std::fs::write(&config_path, &text)
        .with_context(|| format!("writing {}", config_path.display()))?;
    let config = Config::load(&config_path, &registry).map_err(|err| anyhow::anyhow!("{err}"))?;
    // The demo ignores the caller's environment so it behaves the same everywhere.
    let env = MapEnv::from_iter(Vec::<(String, String)>::new());
    let built = crate::build(&config, &registry, &env)?;
    let hub = crate::start(built, &env).await?;
    crate::serve(hub, |url| {
        println!();
        println!("  hubauth demo is running.");
        println!();
        println!("  Open {url}");
        println!("  Log in with any username and any password.");
        println!("  'admin' is an admin; 'mallory' is blocked (you will see the 403 page).");
        println!();
        println!("  Data and config: {}", dir.display());
        println!("  Press Ctrl-C to stop.");
        println!();
    })
    .await
}
