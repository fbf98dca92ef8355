//! The `hubauth` binary.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use hubauth_config::ProcessEnv;

#[cfg(feature = "demo-providers")]
macro_rules! demo_providers {
    () => {
        ", with the demo providers"
    };
}

#[cfg(not(feature = "demo-providers"))]
macro_rules! demo_providers {
    () => {
        ""
    };
}

/// `hubauth --version`: the release, the git revision it was built from, and whether the
/// demo's providers (the development OpenID provider and the Azure AD and Globus mocks)
/// are linked in.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (git ",
    env!("HUBAUTH_GIT_REVISION"),
    ")",
    demo_providers!()
);

/// What `hubauth demo` shows when no `--provider` is given.
#[cfg(feature = "demo-providers")]
const DEFAULT_DEMO_PROVIDER: &str = "oidc";
#[cfg(not(feature = "demo-providers"))]
const DEFAULT_DEMO_PROVIDER: &str = "dummy";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (for log collectors).
    Json,
}

/// hubauth: JupyterHub-grade login rules in one binary.
#[derive(Debug, Parser)]
#[command(name = "hubauth", version = VERSION, about)]
struct Cli {
    /// How to write log lines (to standard error).
    #[arg(
        long,
        global = true,
        value_enum,
        env = "HUBAUTH_LOG_FORMAT",
        default_value = "text"
    )]
    log_format: LogFormat,
    /// Short for `--log-format json`.
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
        #[arg(long, value_enum, default_value = DEFAULT_DEMO_PROVIDER)]
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
    /// Convert the authenticator part of a jupyterhub_config.py to hubauth.toml (printed on
    /// standard output) without running it; what cannot be converted is listed on standard
    /// error with line numbers.
    ImportConfig {
        /// The JupyterHub config file; `-` reads standard input.
        file: PathBuf,
    },
    /// Import a JupyterHub database (users, groups, roles, API tokens, auth_state) into
    /// hubauth's database.
    ///
    /// Reads the JupyterHub database read-only (JupyterHub 3.x/4.x, 5.x and 6.x schemas).
    /// Existing API tokens keep working (their hashes are copied) and auth_state is copied
    /// as ciphertext (valid under the same JUPYTERHUB_CRYPT_KEY). Users already in hubauth
    /// that differ are reported as conflicts and left alone unless --overwrite. Running it
    /// again changes nothing; an interrupted run finishes when run again. The OAuth
    /// clients of JupyterHub's services are checked against [[Hub.services]] (convert
    /// them with import-config). Exit status: 0 when everything was imported, 3 when
    /// something was not (conflicts, unreadable rows or auth_state, unmatched clients),
    /// 1 on any other error.
    ImportDb {
        /// The JupyterHub database: its db_url (sqlite:///jupyterhub.sqlite,
        /// postgresql://user:password@host/db) or the path of its SQLite file.
        #[arg(long)]
        from: String,
        /// hubauth's configuration: the database to import into ([Hub] db_url) and the
        /// registered services.
        #[arg(short = 'f', long = "config")]
        config: Option<PathBuf>,
        /// Print what would be created, changed or skipped, and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Replace users and roles that differ in hubauth with JupyterHub's.
        #[arg(long)]
        overwrite: bool,
        /// Decrypt each auth_state once with JUPYTERHUB_CRYPT_KEY and name the users whose
        /// auth_state cannot be read.
        #[arg(long)]
        check_auth_state: bool,
        /// Users per batch; each batch (with those users' tokens) is one transaction.
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
        batch_size: u32,
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
    /// Re-encrypt every user's auth_state with the first key of JUPYTERHUB_CRYPT_KEY.
    ///
    /// Prepend the new key (`NEW;OLD`), restart the hub(s), then run this. It works in
    /// batches (one transaction each) and is safe to interrupt and run again; the hub may
    /// keep serving meanwhile. auth_state that no key decrypts is named on stderr and left
    /// in place (the hub treats it as absent; the user logs in again). Exit status: 0 when
    /// every auth_state is now under the first key, 3 when some could not be decrypted,
    /// 1 on any other error. Afterwards the old key can be removed.
    #[command(group(clap::ArgGroup::new("database").args(["config", "db_url"])))]
    Rotate {
        /// Take the database URL from this configuration file's [Hub] db_url.
        #[arg(short = 'f', long = "config")]
        config: Option<PathBuf>,
        /// The database URL (as [Hub] db_url); default: the configuration's, or
        /// sqlite:///hubauth.sqlite.
        #[arg(long)]
        db_url: Option<String>,
        /// Users per batch; each batch is written in one transaction.
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
        batch_size: u32,
        /// Clear auth_state that no key decrypts instead of leaving it in place.
        #[arg(long)]
        clear_undecryptable: bool,
        /// Stop after this many batches that changed something (for testing interruption).
        #[arg(long, hide = true)]
        max_batches: Option<u64>,
    },
}

/// glibc's malloc gives each thread that finds an arena busy a new one, up to eight per
/// core, and memory freed in one arena is not reused by another: a hub holding 100,000
/// cached sessions grew about 4 MiB (a tenth of its RSS) that way on two cores
/// (BENCHMARKS.md, memory at scale). One arena per core keeps the allocation paths of
/// tokio's workers apart and the rest of the memory reusable. An operator's own
/// `MALLOC_ARENA_MAX` wins.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn limit_malloc_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    let arenas = libc::c_int::try_from(cores).unwrap_or(libc::c_int::MAX);
    // SAFETY: mallopt only sets a malloc tunable; it is called here, before any other
    // thread exists, with a valid parameter and value. Its result (0 on failure) needs
    // no handling: malloc then keeps its default.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}

fn main() -> ExitCode {
    limit_malloc_arenas();
    let cli = Cli::parse();
    init_logging(cli.log_json || cli.log_format == LogFormat::Json);
    // Before anything signs or verifies a JWT: the process's JOSE crypto (ring for ECDSA).
    hubauth_oauth::jose::install();
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
    // Colours only on a terminal: journald, files and log collectors get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn import_config(file: &std::path::Path, registry: &hubauth_config::Registry) -> Result<ExitCode> {
    let text = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading standard input")?
    } else {
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?
    };
    let name = file.display();
    let imported = hubauth_cli::import::import_config(&text, registry)
        .map_err(|err| anyhow::anyhow!("{name}: {err} (Python would refuse this file too)"))?;
    // The output must load; if it does not, that is a bug here, not in the input.
    let config =
        hubauth_config::Config::parse(&imported.toml, "hubauth.toml", registry).map_err(|err| {
            anyhow::anyhow!("internal: the converted configuration does not load: {err}")
        })?;
    print!("{}", imported.toml);
    for note in &imported.notes {
        eprintln!("{name}: {note}");
    }
    if let Err(err) = hubauth_cli::build(&config, registry, &ProcessEnv) {
        eprintln!("{name}: note: with this environment, `hubauth check-config` reports: {err:#}");
    }
    let pending = imported.not_converted().count();
    if pending > 0 {
        eprintln!("{name}: {pending} statement(s) were not converted; see above for what to do");
    }
    Ok(ExitCode::SUCCESS)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

// The binary's edge reads the clock once for the command and passes the time in.
#[allow(clippy::disallowed_methods)]
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
        Command::ImportConfig { file } => import_config(&file, &registry),
        Command::ImportDb {
            from,
            config,
            dry_run,
            overwrite,
            check_auth_state,
            batch_size,
        } => import_db(
            &registry,
            &from,
            config.as_deref(),
            hubauth_jhimport::ImportOptions {
                dry_run,
                overwrite,
                batch_size: usize::try_from(batch_size).unwrap_or(500),
                now: std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
                ..hubauth_jhimport::ImportOptions::default()
            },
            check_auth_state,
        ),
        Command::CryptKey {
            command: CryptKeyCommand::Generate,
        } => {
            println!("{}", hubauth_store::CryptKeeper::generate_key());
            Ok(ExitCode::SUCCESS)
        }
        Command::CryptKey {
            command:
                CryptKeyCommand::Rotate {
                    config,
                    db_url,
                    batch_size,
                    clear_undecryptable,
                    max_batches,
                },
        } => crypt_key_rotate(
            &registry,
            config.as_deref(),
            db_url,
            hubauth_cli::rotate::RotateOptions {
                batch_size,
                max_batches,
                clear_undecryptable,
                now: std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
            },
        ),
    }
}

/// Exit status of `crypt-key rotate` when some auth_state could not be decrypted.
const EXIT_UNDECRYPTABLE: u8 = 3;

/// Exit status of `import-db` when something could not be imported.
const EXIT_NOT_IMPORTED: u8 = 3;

/// `hubauth import-db`: the configuration gives the target database and the registered
/// services; the import itself is `hubauth_jhimport::import_database`.
fn import_db(
    registry: &hubauth_config::Registry,
    from: &str,
    config: Option<&std::path::Path>,
    mut options: hubauth_jhimport::ImportOptions,
    check_auth_state: bool,
) -> Result<ExitCode> {
    let loaded = hubauth_cli::load_config(config, registry)?;
    let view = loaded.view(registry, "Hub", &ProcessEnv);
    let hub =
        hubauth_server::HubConfig::from_view(&view).map_err(|err| anyhow::anyhow!("{err}"))?;
    options.clients = hub
        .services
        .iter()
        .filter(|service| service.is_oauth_client())
        .map(|service| hubauth_jhimport::ConfiguredClient {
            client_id: service.client_id.clone(),
            redirect_uris: service.redirect_uris.clone(),
            secret: service
                .client_secret
                .as_ref()
                .map(|secret| secret.secret().to_owned()),
        })
        .collect();
    if check_auth_state {
        let keys = std::env::var("JUPYTERHUB_CRYPT_KEY").unwrap_or_default();
        options.check_auth_state = Some(
            hubauth_store::CryptKeeper::from_keys_str(&keys)
                .map_err(|err| anyhow::anyhow!("JUPYTERHUB_CRYPT_KEY: {err}"))?,
        );
    }
    let shown_target = hubauth_cli::redact_url(&hub.db_url);
    let shown_source = hubauth_cli::redact_url(from);
    // A dry run writes nothing: when hubauth's SQLite file does not exist yet, the plan
    // is made against an empty in-memory database instead of creating the file.
    let missing_file = match hubauth_store::parse_database_url(&hub.db_url) {
        Ok(hubauth_store::DatabaseLocation::SqliteFile(path)) => (!path.exists()).then_some(path),
        _ => None,
    };
    let target = match &missing_file {
        Some(path) if options.dry_run => {
            println!(
                "hubauth's database {} does not exist yet: planning against an empty one",
                path.display()
            );
            "sqlite::memory:"
        }
        _ => hub.db_url.as_str(),
    };
    runtime()?.block_on(async {
        let store = hubauth_store::open(target)
            .await
            .with_context(|| format!("opening hubauth's database {shown_target}"))?;
        let result = hubauth_jhimport::import_database(from, store.as_ref(), &options).await;
        // Hubs already serving on this database (PostgreSQL) forget what they cached: the
        // import may have changed users, roles and tokens. Batches commit one by one, so
        // even a failed import may have changed something.
        if !options.dry_run
            && let Err(err) = store.announce(&hubauth_store::CacheEvent::All).await
        {
            eprintln!(
                "warning: could not tell running hubs to drop their session caches ({err}); they see the import within session_cache_ttl"
            );
        }
        store.close().await;
        let report = result.with_context(|| format!("importing {shown_source}"))?;
        print!("{}", report.render());
        Ok(if report.is_complete() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(EXIT_NOT_IMPORTED)
        })
    })
}

fn crypt_key_rotate(
    registry: &hubauth_config::Registry,
    config: Option<&std::path::Path>,
    db_url: Option<String>,
    options: hubauth_cli::rotate::RotateOptions,
) -> Result<ExitCode> {
    let db_url = match db_url {
        Some(url) => url,
        None => {
            let loaded = hubauth_cli::load_config(config, registry)?;
            let view = loaded.view(registry, "Hub", &ProcessEnv);
            hubauth_server::HubConfig::from_view(&view)
                .map_err(|err| anyhow::anyhow!("{err}"))?
                .db_url
        }
    };
    let keys = std::env::var("JUPYTERHUB_CRYPT_KEY").unwrap_or_default();
    let keeper = hubauth_store::CryptKeeper::from_keys_str(&keys)
        .map_err(|err| anyhow::anyhow!("JUPYTERHUB_CRYPT_KEY: {err}"))?;
    let shown_url = hubauth_cli::redact_url(&db_url);
    runtime()?.block_on(async {
        let store = hubauth_store::open(&db_url)
            .await
            .with_context(|| format!("opening the database {shown_url}"))?;
        let result = hubauth_cli::rotate::rotate(store.as_ref(), &keeper, &options, |so_far| {
            eprintln!(
                "batch {}: {} re-encrypted, {} already under the first key, {} undecryptable",
                so_far.batches,
                so_far.rotated,
                so_far.current,
                so_far.undecryptable.len()
            );
        })
        .await;
        store.close().await;
        let report = result?;
        for name in &report.undecryptable {
            eprintln!(
                "user {name:?}: auth_state cannot be decrypted with any configured key ({}); the user must log in again",
                if report.cleared_undecryptable { "cleared" } else { "left in place, treated as absent" }
            );
        }
        println!(
            "{} re-encrypted, {} already under the first key, {} changed meanwhile (left alone), {} undecryptable, in {} batches",
            report.rotated,
            report.current,
            report.changed_meanwhile,
            report.undecryptable.len(),
            report.batches
        );
        if report.incomplete {
            println!("stopped early (--max-batches); run the command again to continue");
        }
        if report.undecryptable.is_empty() {
            Ok(ExitCode::SUCCESS)
        } else {
            Ok(ExitCode::from(EXIT_UNDECRYPTABLE))
        }
    })
}
