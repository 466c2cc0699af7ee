//! Opening the database and starting the server.

use std::time::Duration;

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
    // Neither the URL nor the error may carry the password into a message or a log.
    let db = Db::connect(&url).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot open the database {}: {}",
            motcua_db::redact_url(&url),
            motcua_db::redact_url(&e.to_string())
        )
    })?;
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
        hsts_max_age_secs: args.hsts.then_some(args.hsts_max_age_secs),
        ..limits(&args.limits)?
    };
    let state = motcua_web::AppState::new(db.clone(), config)?;
    let listener = bind(&args.listen).await?;
    let addr = listener.local_addr()?;
    let metrics = match &args.metrics_listen {
        Some(at) => Some(bind(at).await?),
        None => None,
    };
    tracing::info!(%addr, database = db.display_url(), engine = db.engine().name(), "motcua serving");
    println!("motcua is serving on http://{addr}");
    if let Some(m) = &metrics {
        println!("metrics on http://{}/metrics", m.local_addr()?);
    }
    let connections = motcua_web::ServeConfig {
        header_read_timeout: Duration::from_secs(args.header_read_timeout_secs),
        idle_timeout: Duration::from_secs(args.idle_timeout_secs),
        max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
        drain_timeout: Duration::from_secs(args.drain_timeout_secs),
    };
    let listeners = motcua_web::Listeners {
        main: listener,
        metrics,
    };
    motcua_web::serve_with(listeners, state, connections).await?;
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

async fn bind(addr: &str) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
}
