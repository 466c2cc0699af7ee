//! Command-line interface.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::setup;

#[derive(Parser)]
#[command(
    name = "motcua",
    version,
    about = "One-door public services platform: population registry, identity, dossiers"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Clone)]
pub struct DbArgs {
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB. Default: a SQLite file in the data directory.
    #[arg(long, env = "MOTCUA_DATABASE_URL")]
    pub database: Option<String>,
    /// Directory for the embedded database and demo files.
    #[arg(long, env = "MOTCUA_DATA_DIR", default_value = "./motcua-data")]
    pub data_dir: PathBuf,
}

#[derive(Args, Clone)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Address to listen on.
    #[arg(long, env = "MOTCUA_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Mark cookies Secure (serve over HTTPS, directly or behind a proxy).
    #[arg(long, env = "MOTCUA_SECURE_COOKIES")]
    pub secure_cookies: bool,
    #[command(flatten)]
    pub jobs: JobArgs,
}

/// The job worker and mail, part of `motcua serve`.
#[derive(Args, Clone)]
pub struct JobArgs {
    /// Send e-mail through this SMTP server: smtp://[user:password@]host[:port]. Without it,
    /// messages go to the development mailbox administrators read at /admin/mailbox.
    #[arg(long, env = "MOTCUA_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// The From address of e-mail.
    #[arg(long, env = "MOTCUA_MAIL_FROM", default_value = motcua_mail::DEFAULT_FROM)]
    pub mail_from: String,
    /// Jobs this node runs at once (0: this node runs no jobs).
    #[arg(long, env = "MOTCUA_WORKERS", default_value_t = 2)]
    pub workers: usize,
    /// How long a claimed job is held before another node may take it over if this one stops
    /// answering (renewed while the job runs).
    #[arg(long, env = "MOTCUA_JOB_LEASE_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub job_lease_secs: u64,
    /// Longest wait between two looks for due jobs when idle (milliseconds); jobs enqueued by
    /// this process are picked up at once, others within this.
    #[arg(long, env = "MOTCUA_JOB_POLL_MS", default_value_t = 2_000, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub job_poll_ms: u64,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the web server and APIs (migrations run at start).
    Serve(ServeArgs),
    /// Create or reuse a data directory with demo staff, 10,000 generated citizens and API clients, then serve.
    Demo(ServeArgs),
    /// Apply database migrations.
    Migrate(DbArgs),
    /// Population registry tools.
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Agency API clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Staff accounts.
    #[command(subcommand)]
    Staff(StaffCommand),
    /// Event log tools.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Background jobs: enqueue, list, retry, cancel.
    #[command(subcommand)]
    Jobs(crate::jobs_cmd::JobsCommand),
}

#[derive(Subcommand)]
pub enum RegistryCommand {
    /// Write a synthetic population as CSV (deterministic for a seed).
    Generate {
        #[arg(long)]
        count: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        out: PathBuf,
    },
    /// Import citizens from CSV; exit code 0 only if every row was imported.
    Import {
        #[command(flatten)]
        db: DbArgs,
        /// The CSV file (header row required).
        file: PathBuf,
        /// Check every row and report, store nothing.
        #[arg(long)]
        dry_run: bool,
        /// Recorded as the actor of the import events.
        #[arg(long, default_value = "cli")]
        actor: String,
    },
    /// Export every citizen as CSV.
    Export {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum ClientCommand {
    /// Create an API client; prints {"client_id", "client_secret"} as JSON.
    Create {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        name: String,
        /// registry.verify, registry.lookup (repeat for several).
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
    },
    /// List API clients as JSON.
    List {
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand)]
pub enum StaffCommand {
    /// Create a staff account; the password is read from the environment variable named by --password-env.
    Create {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        username: String,
        #[arg(long)]
        display_name: String,
        /// admin or officer.
        #[arg(long)]
        role: String,
        /// Name of the environment variable holding the password (never pass it as an argument).
        #[arg(long, default_value = "MOTCUA_PASSWORD")]
        password_env: String,
    },
}

#[derive(Subcommand)]
pub enum EventsCommand {
    /// Recompute every hash chain of the event log and report breaks.
    Verify {
        #[command(flatten)]
        db: DbArgs,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => {
            let db = setup::open(&args.db).await?;
            setup::serve(db, &args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo(args) => crate::demo::run(args).await,
        Command::Migrate(args) => {
            let db = setup::open(&args).await?;
            println!(
                "migrations applied; database {} ({})",
                db.display_url(),
                db.engine().name()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Registry(cmd) => crate::registry_cmd::run(cmd).await,
        Command::Client(ClientCommand::Create { db, name, scopes }) => {
            let db = setup::open(&db).await?;
            match motcua_identity::clients::create(&db, &name, &scopes, "cli").await {
                Ok(issued) => {
                    println!("{}", serde_json::to_string(&issued)?);
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(ExitCode::from(2))
                }
            }
        }
        Command::Client(ClientCommand::List { db }) => {
            let db = setup::open(&db).await?;
            let list = motcua_identity::clients::list(&db).await?;
            println!("{}", serde_json::to_string_pretty(&list)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Staff(StaffCommand::Create {
            db,
            username,
            display_name,
            role,
            password_env,
        }) => {
            let password = std::env::var(&password_env).with_context(|| {
                format!("set the password in the environment variable {password_env}")
            })?;
            let db = setup::open(&db).await?;
            let role = motcua_identity::staff::Role::parse(&role)?;
            let passwords = motcua_identity::password::PasswordService::new(Default::default())?;
            match motcua_identity::staff::create(
                &db,
                &passwords,
                &username,
                &display_name,
                role,
                &password,
                "cli",
            )
            .await
            {
                Ok(user) => {
                    println!("{}", serde_json::to_string(&user)?);
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(ExitCode::from(2))
                }
            }
        }
        Command::Jobs(cmd) => crate::jobs_cmd::run(cmd).await,
        Command::Events(EventsCommand::Verify { db }) => {
            let db = setup::open(&db).await?;
            let report = motcua_db::events::verify_all(&db).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(if report.breaks.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}
