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
    /// The URL the server is reached at (the OpenID Connect issuer), e.g. https://dichvucong.example.vn.
    #[arg(long, env = "MOTCUA_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The portal's own OpenID Connect client (registered with `motcua oidc client create`,
    /// redirect URI PUBLIC_URL/auth/callback): citizens log in to their pages through it.
    #[arg(long, env = "MOTCUA_PORTAL_CLIENT_ID")]
    pub portal_client_id: Option<String>,
    /// Mark cookies Secure (serve over HTTPS, directly or behind a proxy).
    #[arg(long, env = "MOTCUA_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Send Strict-Transport-Security (includeSubDomains): only when every subdomain is served over HTTPS.
    #[arg(long, env = "MOTCUA_HSTS")]
    pub hsts: bool,
    /// The max-age of Strict-Transport-Security, in seconds (default one year).
    #[arg(long, env = "MOTCUA_HSTS_MAX_AGE_SECS", default_value_t = 31_536_000)]
    pub hsts_max_age_secs: u64,
    /// Serve /metrics only on this address (the main address then answers 404 for it).
    #[arg(long, env = "MOTCUA_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
    /// Seconds a client has to send a request's headers; also how long a kept-alive connection may wait between requests.
    #[arg(long, env = "MOTCUA_HEADER_READ_TIMEOUT_SECS",
        default_value_t = motcua_web::ServeConfig::DEFAULT_HEADER_READ_TIMEOUT_SECS,
        value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout_secs: u64,
    /// Seconds after which a connection on which no byte moves is closed (keep it above the 30-second request timeout).
    #[arg(long, env = "MOTCUA_IDLE_TIMEOUT_SECS",
        default_value_t = motcua_web::ServeConfig::DEFAULT_IDLE_TIMEOUT_SECS,
        value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout_secs: u64,
    /// Connections served at once; further ones wait in the listen backlog until one closes.
    #[arg(long, env = "MOTCUA_MAX_CONNECTIONS",
        default_value_t = motcua_web::ServeConfig::DEFAULT_MAX_CONNECTIONS as u64,
        value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: u64,
    /// Seconds requests in flight get to finish after SIGTERM or Ctrl-C.
    #[arg(long, env = "MOTCUA_DRAIN_TIMEOUT_SECS",
        default_value_t = motcua_web::ServeConfig::DEFAULT_DRAIN_TIMEOUT_SECS)]
    pub drain_timeout_secs: u64,
    #[command(flatten)]
    pub limits: LimitArgs,
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

/// The cost of new password hashes (Argon2id, RFC 9106); a stored hash keeps its own.
#[derive(Args, Clone)]
pub struct ArgonArgs {
    /// Argon2id memory per password hash (KiB).
    #[arg(long, env = "MOTCUA_ARGON2_MEMORY_KIB", default_value_t = 19 * 1024, value_parser = clap::value_parser!(u32).range(8..))]
    pub argon2_memory_kib: u32,
    /// Argon2id passes per password hash.
    #[arg(long, env = "MOTCUA_ARGON2_ITERATIONS", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    pub argon2_iterations: u32,
    /// Argon2id lanes per password hash.
    #[arg(long, env = "MOTCUA_ARGON2_PARALLELISM", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub argon2_parallelism: u32,
}

impl ArgonArgs {
    pub fn params(&self) -> motcua_identity::password::ArgonParams {
        motcua_identity::password::ArgonParams {
            memory_kib: self.argon2_memory_kib,
            iterations: self.argon2_iterations,
            parallelism: self.argon2_parallelism,
        }
    }
}

/// Limits against guessing: staff sign-in lockout, password hashing, the verification API.
#[derive(Args, Clone)]
pub struct LimitArgs {
    /// Failed sign-ins in a row that lock a staff account.
    #[arg(long, env = "MOTCUA_LOCKOUT_THRESHOLD", default_value_t = 10, value_parser = clap::value_parser!(i32).range(1..))]
    pub lockout_threshold: i32,
    /// How long a locked staff account stays locked (seconds).
    #[arg(long, env = "MOTCUA_LOCKOUT_SECONDS", default_value_t = 900, value_parser = clap::value_parser!(i64).range(1..))]
    pub lockout_seconds: i64,
    /// Sign-ins that may wait for password hashing (which runs on half the cores); one more is answered 503.
    #[arg(long, env = "MOTCUA_PASSWORD_HASH_QUEUE", default_value_t = 32)]
    pub password_hash_queue: usize,
    /// Password hashes computed at once (default: half the cores, at least one).
    #[arg(long, env = "MOTCUA_PASSWORD_HASH_WORKERS")]
    pub password_hash_workers: Option<usize>,
    #[command(flatten)]
    pub argon: ArgonArgs,
    /// Login attempts allowed per client address per minute (staff and citizens).
    #[arg(long, env = "MOTCUA_LOGIN_ATTEMPTS_PER_MINUTE", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub login_attempts_per_minute: u32,
    /// Non-matching verifications per client and PID within the window before that PID is refused for that client (0: no limit).
    #[arg(long, env = "MOTCUA_VERIFY_FAILURES_PER_PID", default_value_t = 5)]
    pub verify_failures_per_pid: u32,
    /// The sliding window of --verify-failures-per-pid (seconds).
    #[arg(long, env = "MOTCUA_VERIFY_FAILURE_WINDOW_SECONDS", default_value_t = 86_400, value_parser = clap::value_parser!(i64).range(1..))]
    pub verify_failure_window_seconds: i64,
    /// Verifications per client per day, Asia/Ho_Chi_Minh (0: no quota).
    #[arg(long, env = "MOTCUA_VERIFY_DAILY_QUOTA", default_value_t = 1_000_000)]
    pub verify_daily_quota: u64,
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
    /// Citizens' electronic-identity accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// The OpenID Connect provider.
    #[command(subcommand)]
    Oidc(OidcCommand),
    /// Organisations (by tax code) and their representatives.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Event log tools (`events verify` is `audit verify`).
    #[command(subcommand)]
    Events(EventsCommand),
    /// Tamper checks of the event log and the access log.
    #[command(subcommand)]
    Audit(AuditCommand),
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
    /// Export every citizen as CSV; the export is recorded (who, when, why, how many) in the
    /// event log and the access log.
    Export {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        out: PathBuf,
        /// Who exports (recorded); default: the operating-system user.
        #[arg(long)]
        actor: Option<String>,
        /// Why the registry is exported (recorded).
        #[arg(long, default_value = "not stated")]
        purpose: String,
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
pub enum AccountCommand {
    /// Create the account of a PID present in the registry (living, 14 or older) with a TOTP
    /// second factor; the password is read from standard input. Prints
    /// {"account_id", "totp_secret"} as JSON.
    Create {
        #[command(flatten)]
        db: DbArgs,
        /// The 12-digit personal identification number.
        #[arg(long)]
        pid: String,
        /// Assurance level: 1, or 2 when the operator has seen the person and her ID card.
        #[arg(long)]
        level: String,
        /// Read the password from the first line of standard input (required: a password is
        /// never an argument).
        #[arg(long, required = true)]
        password_stdin: bool,
        #[command(flatten)]
        argon: ArgonArgs,
    },
    /// Raise an account to level 2 after an officer verified its holder in person; the
    /// officer, place and document seen are recorded. Prints {"account_id","level"} as JSON.
    RaiseLevel {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        pid: String,
        /// The staff username of the officer who saw the citizen.
        #[arg(long)]
        officer: String,
        /// The counter or office.
        #[arg(long)]
        place: String,
        /// The document seen, e.g. "căn cước 001095012345".
        #[arg(long)]
        document_seen: String,
    },
}

#[derive(Subcommand)]
pub enum OrgCommand {
    /// Register an organisation by its tax code (check digit validated). Prints it as JSON.
    Register {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        tax_code: String,
        #[arg(long)]
        name: String,
    },
    /// Make the account of a PID a representative of the organisation.
    AddRepresentative {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        tax_code: String,
        #[arg(long)]
        pid: String,
        /// legal_representative or authorised.
        #[arg(long, default_value = "authorised")]
        role: String,
    },
}

#[derive(Subcommand)]
pub enum OidcCommand {
    /// Signing keys.
    #[command(subcommand)]
    Keys(OidcKeysCommand),
    /// Relying parties (portals) and agency systems.
    #[command(subcommand)]
    Client(OidcClientCommand),
}

#[derive(Subcommand)]
pub enum OidcClientCommand {
    /// Register a client; prints {"client_id", "client_secret" (when it has one)} as JSON.
    Create {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        name: String,
        /// An exact redirect URI (repeat for several): https, or http on the loopback.
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// A browser or mobile app: no secret, PKCE (S256) required.
        #[arg(long)]
        public: bool,
        /// client_secret_basic (default for confidential clients) or private_key_jwt.
        #[arg(long)]
        auth_method: Option<String>,
        /// The client's public keys (a JWK Set file), for private_key_jwt.
        #[arg(long)]
        jwks_file: Option<std::path::PathBuf>,
        /// client_credentials for an agency system (no citizen, registry scopes).
        #[arg(long = "grant")]
        grants: Vec<String>,
        /// openid, profile, pid, birthdate, address, phone, email, offline_access; or registry.verify, registry.lookup with client_credentials.
        #[arg(long = "scope", num_args = 1.., required = true)]
        scopes: Vec<String>,
        /// Where the client may send the browser after logout (repeat for several).
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// Where logout tokens are posted when a citizen's session ends (back-channel logout).
        #[arg(long)]
        backchannel_logout_uri: Option<String>,
        /// Authorization requests must be pushed first (PAR, RFC 9126).
        #[arg(long)]
        require_par: bool,
        /// Tokens must be bound to a DPoP key (RFC 9449).
        #[arg(long)]
        require_dpop: bool,
    },
}

#[derive(Subcommand)]
pub enum OidcKeysCommand {
    /// Publish a new signing key that signs after --publish-ahead-secs; the keys it replaces
    /// stay published --overlap-secs longer. Prints {"kid", "active_from"} as JSON.
    Rotate {
        #[command(flatten)]
        db: DbArgs,
        /// Seconds from publication to first signature (relying parties' JWKS caches refresh meanwhile).
        #[arg(long, default_value_t = 3600)]
        publish_ahead_secs: u32,
        /// Seconds the replaced keys stay published once the new one signs (the longest token lifetime).
        #[arg(long, default_value_t = 86_400)]
        overlap_secs: u32,
    },
    /// The published JWK Set, as served at /oidc/jwks.
    List {
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand)]
pub enum EventsCommand {
    /// The same as `audit verify`: recompute every hash chain and report breaks.
    Verify {
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Recompute every chain of the event log and of the access log; exit 0 when intact,
    /// 1 with each break named (log, entry, reason) otherwise. Reads only.
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
            crate::stdout::line(format_args!(
                "migrations applied; database {} ({})",
                db.display_url(),
                db.engine().name()
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Registry(cmd) => crate::registry_cmd::run(cmd).await,
        Command::Client(ClientCommand::Create { db, name, scopes }) => {
            let db = setup::open(&db).await?;
            match motcua_identity::clients::create(&db, &name, &scopes, "cli").await {
                Ok(issued) => {
                    crate::stdout::line(format_args!("{}", serde_json::to_string(&issued)?))?;
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
            crate::stdout::line(format_args!("{}", serde_json::to_string_pretty(&list)?))?;
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
                    crate::stdout::line(format_args!("{}", serde_json::to_string(&user)?))?;
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(ExitCode::from(2))
                }
            }
        }
        Command::Account(AccountCommand::Create {
            db,
            pid,
            level,
            password_stdin: _,
            argon,
        }) => account_create(&db, &pid, &level, argon.params()).await,
        Command::Account(AccountCommand::RaiseLevel {
            db,
            pid,
            officer,
            place,
            document_seen,
        }) => account_raise(&db, &pid, &officer, &place, &document_seen).await,
        Command::Oidc(OidcCommand::Keys(cmd)) => oidc_keys(cmd).await,
        Command::Org(cmd) => org(cmd).await,
        Command::Oidc(OidcCommand::Client(OidcClientCommand::Create {
            db,
            name,
            redirect_uris,
            public,
            auth_method,
            jwks_file,
            grants,
            scopes,
            post_logout_redirect_uris,
            backchannel_logout_uri,
            require_par,
            require_dpop,
        })) => {
            let jwks = match jwks_file {
                Some(path) => Some(
                    std::fs::read_to_string(&path)
                        .with_context(|| format!("jwks_file: cannot read {}", path.display()))?,
                ),
                None => None,
            };
            let registration = motcua_identity::relying_parties::Registration {
                name,
                redirect_uris,
                public,
                auth_method,
                jwks,
                grants,
                scopes,
                post_logout_redirect_uris,
                backchannel_logout_uri,
                require_par,
                require_dpop,
            };
            let db = setup::open(&db).await?;
            match motcua_identity::relying_parties::create(&db, &registration, "cli").await {
                Ok(issued) => {
                    crate::stdout::line(format_args!("{}", serde_json::to_string(&issued)?))?;
                    Ok(ExitCode::SUCCESS)
                }
                Err(errors) => {
                    for e in errors {
                        eprintln!("error: {e}");
                    }
                    Ok(ExitCode::from(2))
                }
            }
        }
        Command::Events(EventsCommand::Verify { db })
        | Command::Audit(AuditCommand::Verify { db }) => audit_verify(&db).await,
        Command::Jobs(cmd) => crate::jobs_cmd::run(cmd).await,
    }
}

async fn oidc_keys(cmd: OidcKeysCommand) -> anyhow::Result<ExitCode> {
    use motcua_identity::signing_keys;
    let now = motcua_db::clock::now_us();
    match cmd {
        OidcKeysCommand::Rotate {
            db,
            publish_ahead_secs,
            overlap_secs,
        } => {
            let db = setup::open(&db).await?;
            let timing = signing_keys::RotationTiming {
                publish_ahead_us: i64::from(publish_ahead_secs) * 1_000_000,
                overlap_us: i64::from(overlap_secs) * 1_000_000,
            };
            let kid = signing_keys::rotate(&db, timing, now).await?;
            let active_from = now + timing.publish_ahead_us;
            crate::stdout::line(format_args!(
                "{}",
                serde_json::json!({ "kid": kid, "active_from": active_from })
            ))?;
        }
        OidcKeysCommand::List { db } => {
            let db = setup::open(&db).await?;
            let set = signing_keys::jwks(&db, now).await?;
            crate::stdout::line(format_args!("{}", serde_json::to_string_pretty(&set)?))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `account create`: every problem with the input is named before anything is written.
async fn account_create(
    db: &DbArgs,
    pid: &str,
    level: &str,
    argon: motcua_identity::password::ArgonParams,
) -> anyhow::Result<ExitCode> {
    use motcua_identity::citizen_accounts::{self, Level};
    let mut password = String::new();
    std::io::stdin()
        .read_line(&mut password)
        .context("reading the password from standard input")?;
    let password = password.trim_end_matches(['\r', '\n']);
    let checked = (
        motcua_domain::Pid::parse(pid.trim()).map_err(|e| format!("pid: {e}")),
        Level::parse(level).map_err(|e| e.to_string()),
    );
    let (pid, level) = match checked {
        (Ok(pid), Ok(level)) => (pid, level),
        (pid, level) => {
            for e in [pid.err(), level.err()].into_iter().flatten() {
                eprintln!("error: {e}");
            }
            return Ok(ExitCode::from(2));
        }
    };
    let db = setup::open(db).await?;
    let passwords = motcua_identity::password::PasswordService::new(argon)?;
    let now = motcua_db::clock::now_us();
    match citizen_accounts::create(&db, &passwords, pid, level, password, "cli", now).await {
        Ok(created) => {
            crate::stdout::line(format_args!("{}", serde_json::to_string(&created)?))?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(2))
        }
    }
}

/// Prints the JSON report of every log's chains, and each break on stderr.
async fn audit_verify(args: &DbArgs) -> anyhow::Result<ExitCode> {
    let db = setup::open(args).await?;
    let report = motcua_db::audit::verify(&db).await?;
    crate::stdout::line(format_args!("{}", serde_json::to_string_pretty(&report)?))?;
    for b in &report.breaks {
        eprintln!("break: {b}");
    }
    Ok(if report.intact() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn org(cmd: OrgCommand) -> anyhow::Result<ExitCode> {
    use motcua_identity::organisations;
    let now = motcua_db::clock::now_us();
    let outcome = match cmd {
        OrgCommand::Register { db, tax_code, name } => {
            let db = setup::open(&db).await?;
            organisations::register(&db, &tax_code, &name, "cli", now)
                .await
                .map(|o| serde_json::to_value(o).unwrap_or_default())
        }
        OrgCommand::AddRepresentative {
            db,
            tax_code,
            pid,
            role,
        } => {
            let db = setup::open(&db).await?;
            organisations::add_representative(&db, &tax_code, &pid, &role, "cli", now)
                .await
                .map(|()| serde_json::json!({ "tax_code": tax_code, "pid": pid, "role": role }))
        }
    };
    match outcome {
        Ok(v) => {
            crate::stdout::line(format_args!("{v}"))?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(2))
        }
    }
}

async fn account_raise(
    db: &DbArgs,
    pid: &str,
    officer: &str,
    place: &str,
    document_seen: &str,
) -> anyhow::Result<ExitCode> {
    use motcua_identity::citizen_accounts::{self, InPersonCheck};
    let pid = match motcua_domain::Pid::parse(pid.trim()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: pid: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let db = setup::open(db).await?;
    let Some(officer_user) = motcua_identity::staff::by_username(&db, officer.trim()).await? else {
        eprintln!("error: officer: no staff account {officer:?}");
        return Ok(ExitCode::from(2));
    };
    let Some(account) = citizen_accounts::by_pid(&db, pid).await? else {
        eprintln!("error: pid: this citizen has no electronic-identity account");
        return Ok(ExitCode::from(2));
    };
    let actor = format!("staff:{}", officer_user.username);
    let check = InPersonCheck {
        officer: &actor,
        place,
        document_seen,
    };
    let now = motcua_db::clock::now_us();
    match citizen_accounts::raise_to_level_2(&db, &account.id, &check, now).await {
        Ok(()) => {
            crate::stdout::line(format_args!(
                "{}",
                serde_json::json!({ "account_id": account.id, "level": "2" })
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(2))
        }
    }
}
