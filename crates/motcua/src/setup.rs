//! Opening the database and starting the server.

use std::time::Duration;

use anyhow::Context;
use motcua_db::Db;
use motcua_db::jobs::worker::{self, Registry, WorkerConfig, WorkerHandle};

use crate::cli::{DbArgs, JobArgs, ServeArgs};

/// Opens the database named by the arguments (or the embedded one in the data directory),
/// applies migrations and refreshes reference data.
pub async fn open(args: &DbArgs) -> anyhow::Result<Db> {
    let url = match &args.database {
        Some(url) => url.clone(),
        None => Db::sqlite_url_in(&args.data_dir).with_context(|| {
            format!("cannot use the data directory {}", args.data_dir.display())
        })?,
    };
    let db = Db::connect(&url)
        .await
        .with_context(|| format!("cannot open the database {url}"))?;
    motcua_db::migrate::run(&db)
        .await
        .context("migrations failed")?;
    motcua_registry::admin_units::seed(&db)
        .await
        .context("seeding administrative units failed")?;
    // A bulk import that stopped halfway leaves the secondary indexes dropped; restore them.
    motcua_registry::csv_io::set_secondary_indexes(&db, true).await?;
    Ok(db)
}

/// The job handlers of every context, by kind.
pub fn job_registry(db: &Db, args: &JobArgs) -> anyhow::Result<Registry> {
    let mut registry = Registry::new();
    let mailer = motcua_mail::Mailer::new(db.clone(), args.smtp_url.as_deref(), &args.mail_from)?;
    tracing::info!(destination = %mailer.destination(), "e-mail is sent to");
    mailer.register(&mut registry);
    Ok(registry)
}

/// Starts this node's job worker (none with `--workers 0`).
fn start_worker(db: &Db, args: &JobArgs, registry: Registry) -> Option<WorkerHandle> {
    if args.workers == 0 {
        return None;
    }
    let config = WorkerConfig {
        concurrency: args.workers,
        lease: Duration::from_secs(args.job_lease_secs),
        poll_max: Duration::from_millis(args.job_poll_ms),
        ..WorkerConfig::default()
    };
    Some(worker::start(db.clone(), registry, config))
}

pub async fn serve(db: Db, args: &ServeArgs) -> anyhow::Result<()> {
    let registry = job_registry(&db, &args.jobs)?;
    let config = motcua_web::WebConfig {
        secure_cookies: args.secure_cookies,
        job_kinds: registry.kinds(),
        ..Default::default()
    };
    let worker = start_worker(&db, &args.jobs, registry);
    let state = motcua_web::AppState::new(db.clone(), config)?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, database = db.display_url(), engine = db.engine().name(), "motcua serving");
    println!("motcua is serving on http://{addr}");
    let served = motcua_web::serve(listener, state).await;
    if let Some(worker) = worker {
        worker.shutdown().await;
    }
    served?;
    db.close().await;
    Ok(())
}
