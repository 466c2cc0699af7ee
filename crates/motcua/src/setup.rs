//! Opening the database and starting the server.

use anyhow::Context;
use motcua_db::Db;

use crate::cli::{DbArgs, LimitArgs, ServeArgs};

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

pub async fn serve(db: Db, args: &ServeArgs) -> anyhow::Result<()> {
    let config = motcua_web::WebConfig {
        secure_cookies: args.secure_cookies,
        ..limits(&args.limits)?
    };
    let state = motcua_web::AppState::new(db.clone(), config)?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, database = db.display_url(), engine = db.engine().name(), "motcua serving");
    println!("motcua is serving on http://{addr}");
    motcua_web::serve(listener, state).await?;
    db.close().await;
    Ok(())
}

/// The web settings the limit flags set; the others keep their defaults.
fn limits(args: &LimitArgs) -> anyhow::Result<motcua_web::WebConfig> {
    let defaults = motcua_web::WebConfig::default();
    let verification = motcua_registry::throttle::ThrottleConfig {
        failures_per_pid: args.verify_failures_per_pid,
        failure_window_us: args.verify_failure_window_seconds.saturating_mul(1_000_000),
        daily_quota: args.verify_daily_quota,
    };
    verification.check()?;
    Ok(motcua_web::WebConfig {
        lockout: motcua_identity::staff::LockoutPolicy {
            threshold: args.lockout_threshold,
            lock_us: args.lockout_seconds.saturating_mul(1_000_000),
        },
        hashing: motcua_identity::password::HashingLimits {
            queue: args.password_hash_queue,
            ..defaults.hashing
        },
        verification,
        ..defaults
    })
}
