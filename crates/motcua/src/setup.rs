//! Opening the database and starting the server.

use std::time::Duration;

use anyhow::Context;
use motcua_db::Db;
use motcua_db::jobs::worker::{self, Registry, WorkerConfig, WorkerHandle};

use crate::cli::{DbArgs, JobArgs, LimitArgs, ServeArgs};

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

/// The job handlers of every context, by kind. `issuer` is the OpenID Connect provider's
/// public URL (the `iss` of the logout tokens its jobs send).
pub fn job_registry(db: &Db, args: &JobArgs, issuer: &str) -> anyhow::Result<Registry> {
    let mut registry = Registry::new();
    let mailer = motcua_mail::Mailer::new(db.clone(), args.smtp_url.as_deref(), &args.mail_from)?;
    tracing::info!(destination = %mailer.destination(), "e-mail is sent to");
    mailer.register(&mut registry);
    motcua_db::access_log::register_sealing(&mut registry, db);
    motcua_identity::oidc::backchannel::register(&mut registry, db.clone(), issuer.to_owned());
    motcua_identity::oidc::register_sweeping(&mut registry, db);
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
    let public_url = args
        .public_url
        .as_deref()
        .map(check_public_url)
        .transpose()?;
    let issuer = public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", args.listen));
    let registry = job_registry(&db, &args.jobs, &issuer)?;
    let config = motcua_web::WebConfig {
        secure_cookies: args.secure_cookies,
        hsts_max_age_secs: args.hsts.then_some(args.hsts_max_age_secs),
        job_kinds: registry.kinds(),
        public_url,
        portal_client_id: args.portal_client_id.clone(),
        ..limits(&args.limits)?
    };
    let worker = start_worker(&db, &args.jobs, registry);
    let state = motcua_web::AppState::new(db.clone(), config)?;
    let listener = bind(&args.listen).await?;
    let addr = listener.local_addr()?;
    let metrics = match &args.metrics_listen {
        Some(at) => Some(bind(at).await?),
        None => None,
    };
    tracing::info!(%addr, database = db.display_url(), engine = db.engine().name(), "motcua serving");
    crate::stdout::line(format_args!("motcua is serving on http://{addr}"))?;
    if let Some(m) = &metrics {
        crate::stdout::line(format_args!(
            "metrics on http://{}/metrics",
            m.local_addr()?
        ))?;
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
    let served = motcua_web::serve_with(listeners, state, connections).await;
    if let Some(worker) = worker {
        worker.shutdown().await;
    }
    served?;
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
            workers: args
                .password_hash_workers
                .unwrap_or(defaults.hashing.workers)
                .max(1),
        },
        argon: args.argon.params(),
        login_attempts_per_minute: args.login_attempts_per_minute,
        verification,
        ..defaults
    })
}

/// `--public-url`: an absolute http(s) URL without query or fragment, as an issuer must be
/// (OpenID Connect Discovery 1.0 §3).
fn check_public_url(url: &str) -> anyhow::Result<String> {
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or_default();
    if rest.is_empty() || rest.contains(['?', '#', ' ']) || rest.starts_with('/') {
        anyhow::bail!(
            "public_url: must be an absolute http:// or https:// URL without query or fragment, got {url:?}"
        );
    }
    Ok(url.to_owned())
}

async fn bind(addr: &str) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
}

#[cfg(test)]
mod tests {
    use super::check_public_url;

    #[test]
    fn the_public_url_is_an_issuer() {
        assert_eq!(
            check_public_url("https://dvc.example.vn/").unwrap(),
            "https://dvc.example.vn"
        );
        assert_eq!(
            check_public_url("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080"
        );
        for bad in [
            "dvc.example.vn",
            "ftp://x",
            "https://",
            "https://a.vn/?x=1",
            "https://a.vn#f",
        ] {
            let e = check_public_url(bad).unwrap_err().to_string();
            assert!(e.starts_with("public_url:"), "{bad}: {e}");
        }
    }
}
