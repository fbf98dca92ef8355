//! The `hubauth` binary.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use hubauth_config::ProcessEnv;

/// hubauth: JupyterHub-grade login rules in one binary.
#[derive(Debug, Parser)]
#[command(name = "hubauth", version, about)]
struct Cli {
    /// Log as JSON lines instead of human-readable text.
    #[arg(long, global = true, env = "HUBAUTH_LOG_JSON")]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the hub.
    Serve {
        /// The configuration file (TOML).
        #[arg(short = 'f', long = "config")]
        config: Option<PathBuf>,
    },
    /// Run a ready-made demo hub on loopback and print the URL to open.
    Demo {
        /// Port to listen on (0 picks a free one).
        #[arg(long, default_value_t = 8000)]
        port: u16,
        /// Directory for the demo's database, secret and config (default: a new temporary one).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Which login to show.
        #[arg(long, value_enum, default_value = "oidc")]
        provider: hubauth_cli::demo::DemoProvider,
    },
    /// Print a complete, commented configuration file with every option and its default.
    GenerateConfig {
        /// Print the Markdown configuration reference instead (docs/config-reference.md).
        #[arg(long)]
        markdown: bool,
    },
    /// Check a configuration file without starting anything.
    CheckConfig {
        /// The configuration file (TOML); `/dev/stdin` reads standard input.
        file: PathBuf,
    },
    /// Manage auth_state encryption keys.
    CryptKey {
        #[command(subcommand)]
        command: CryptKeyCommand,
    },
}

#[derive(Debug, Subcommand)]
enum CryptKeyCommand {
    /// Print a new random key for JUPYTERHUB_CRYPT_KEY.
    Generate,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_json);
    match run(cli.command) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("hubauth: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HUBAUTH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn run(command: Command) -> Result<ExitCode> {
    let registry = hubauth_cli::registry()?;
    match command {
        Command::Serve { config } => {
            let loaded = hubauth_cli::load_config(config.as_deref(), &registry)?;
            let built = hubauth_cli::build(&loaded, &registry, &ProcessEnv)?;
            runtime()?.block_on(async {
                let hub = hubauth_cli::start(built, &ProcessEnv).await?;
                hubauth_cli::serve(hub, |url| eprintln!("hubauth is serving at {url}")).await
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo {
            port,
            data_dir,
            provider,
        } => {
            runtime()?.block_on(hubauth_cli::demo::run(port, data_dir, provider))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::GenerateConfig { markdown } => {
            let text = if markdown {
                hubauth_config::reference_markdown(&registry)
            } else {
                hubauth_config::generate_config(&registry)
            };
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckConfig { file } => {
            let loaded = hubauth_cli::load_config(Some(&file), &registry)?;
            let built = hubauth_cli::build(&loaded, &registry, &ProcessEnv)?;
            for warning in &built.warnings {
                eprintln!("warning: {warning}");
            }
            for warning in built.authenticator.startup_warnings() {
                eprintln!("warning: {warning}");
            }
            println!(
                "{}: OK ({} with {})",
                file.display(),
                built.authenticator.class_name(),
                built.hub.db_url
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::CryptKey {
            command: CryptKeyCommand::Generate,
        } => {
            println!("{}", hubauth_store::CryptKeeper::generate_key());
            Ok(ExitCode::SUCCESS)
        }
    }
}
