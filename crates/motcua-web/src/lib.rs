//! The HTTP face of motcua: server-rendered pages for staff (Vietnamese first, English on
//! request), the JSON API for agency systems under `/api/v1`, and operations endpoints.
//!
//! Handlers are thin: they parse input, call a context crate's service, and render. They never
//! hold SQL.

pub mod api;
pub mod auth;
pub mod error;
pub mod i18n;
pub mod metrics;
pub mod middleware;
pub mod ops;
pub mod pages;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use motcua_db::Db;
use motcua_db::access_log::AccessLog;
use motcua_identity::clients::ClientCache;
use motcua_identity::password::{ArgonParams, PasswordService};

/// Settings of the web layer.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Mark cookies `Secure` (set when served over HTTPS, directly or behind a proxy).
    pub secure_cookies: bool,
    /// Argon2id cost for staff passwords.
    pub argon: ArgonParams,
    /// Login attempts allowed per client address per minute.
    pub login_attempts_per_minute: u32,
    /// The job kinds with a handler: `/metrics` labels jobs by these, and others as `other`.
    pub job_kinds: Vec<&'static str>,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            secure_cookies: false,
            argon: ArgonParams::default(),
            login_attempts_per_minute: 20,
            job_kinds: Vec::new(),
        }
    }
}

/// Shared state of every handler. Nothing here must be shared between nodes: sessions, jobs
/// and logs live in the database; the caches are per node and short-lived.
///
/// Cloned for every middleware layer and extractor of every request, so it is one pointer.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The fields of [`AppState`], reached through `Deref`.
pub struct Shared {
    pub db: Db,
    pub passwords: PasswordService,
    pub clients: ClientCache,
    pub access_log: AccessLog,
    pub quality_reports: motcua_registry::quality::ReportCache,
    pub metrics: Arc<metrics::Metrics>,
    pub login_limiter: Arc<middleware::RateLimiter>,
    pub config: Arc<WebConfig>,
}

impl AppState {
    /// Builds the state; starts the access-log writer on the current runtime.
    pub fn new(db: Db, config: WebConfig) -> Result<AppState, motcua_identity::IdentityError> {
        Ok(AppState(Arc::new(Shared {
            passwords: PasswordService::new(config.argon)?,
            clients: ClientCache::default(),
            access_log: AccessLog::start(db.clone()),
            quality_reports: Default::default(),
            metrics: Arc::new(metrics::Metrics::default()),
            login_limiter: Arc::new(middleware::RateLimiter::new(
                config.login_attempts_per_minute,
                Duration::from_secs(60),
            )),
            config: Arc::new(config),
            db,
        })))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The whole application.
pub fn app(state: AppState) -> Router {
    let pages = pages::routes();
    let api = api::routes();
    let ops = ops::routes();
    middleware::wrap(Router::new().merge(pages).merge(api).merge(ops), state)
}

/// Serves `app` on `listener` until Ctrl-C / SIGTERM.
/// Before returning, the access log is copied into the database, so a stopped node leaves
/// nothing waiting in its journal.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    let access_log = state.access_log.clone();
    let app = app(state).into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await;
    if let Err(e) = access_log.flush().await {
        tracing::warn!(error = %e, "the access log was not fully copied before stopping; the next start copies the rest");
    }
    served
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
