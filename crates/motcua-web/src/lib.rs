//! The HTTP face of motcua: server-rendered pages for staff (Vietnamese first, English on
//! request), the JSON API for agency systems under `/api/v1`, and operations endpoints.
//!
//! Handlers are thin: they parse input, call a context crate's service, and render. They never
//! hold SQL.

pub mod api;
pub mod auth;
pub mod error;
pub mod i18n;
pub mod kit;
pub mod metrics;
pub mod middleware;
pub mod oidc;
pub mod ops;
pub mod pages;
pub mod server;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::HeaderValue;
use motcua_db::Db;
use motcua_db::access_log::AccessLog;
use motcua_identity::clients::ClientCache;
use motcua_identity::password::{ArgonParams, HashingLimits, PasswordService};
use motcua_identity::staff::LockoutPolicy;
use motcua_registry::throttle::{ThrottleConfig, VerificationThrottle};

pub use server::{Listeners, ServeConfig};

/// Settings of the web layer.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Mark cookies `Secure` (set when served over HTTPS, directly or behind a proxy).
    pub secure_cookies: bool,
    /// Argon2id cost for staff passwords.
    pub argon: ArgonParams,
    /// Login attempts allowed per client address per minute.
    pub login_attempts_per_minute: u32,
    /// How much password hashing runs at once and how many sign-ins may wait for it.
    pub hashing: HashingLimits,
    /// When failed sign-ins lock a staff account, and for how long.
    pub lockout: LockoutPolicy,
    /// Limits on the verification API per client (non-matches per PID, daily quota).
    pub verification: ThrottleConfig,
    /// Send `Strict-Transport-Security` with this `max-age` (seconds), including subdomains.
    pub hsts_max_age_secs: Option<u64>,
    /// The job kinds with a handler: `/metrics` labels jobs by these, and others as `other`.
    pub job_kinds: Vec<&'static str>,
    /// The URL the server is reached at (`https://dichvucong.example.vn`): the OpenID Connect
    /// issuer. Without it the issuer is the origin of each request, for development.
    pub public_url: Option<String>,
    /// Lifetimes of the OpenID Connect provider's codes, tokens and sessions.
    pub oidc: motcua_identity::oidc::Lifetimes,
    /// The portal's own client at the provider, through which citizens reach their pages.
    pub portal_client_id: Option<String>,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            secure_cookies: false,
            argon: ArgonParams::default(),
            login_attempts_per_minute: 20,
            hashing: HashingLimits::default(),
            lockout: LockoutPolicy::default(),
            verification: ThrottleConfig::default(),
            hsts_max_age_secs: None,
            job_kinds: Vec::new(),
            public_url: None,
            oidc: motcua_identity::oidc::Lifetimes::default(),
            portal_client_id: None,
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
    /// The OpenID Connect provider's relying parties, cached a few seconds per node.
    pub relying_parties: motcua_identity::oidc::client_auth::ClientDirectory,
    /// The provider's signing keys as this node holds them.
    pub keys: motcua_identity::oidc::keys::KeyRing,
    pub access_log: AccessLog,
    pub quality_reports: motcua_registry::quality::ReportCache,
    pub metrics: Arc<metrics::Metrics>,
    pub login_limiter: Arc<middleware::RateLimiter>,
    pub verification_throttle: VerificationThrottle,
    pub config: Arc<WebConfig>,
    /// The `Strict-Transport-Security` value, made once from the config.
    pub hsts: Option<HeaderValue>,
}

impl AppState {
    /// Builds the state; starts the access-log writer on the current runtime.
    pub fn new(db: Db, config: WebConfig) -> Result<AppState, motcua_identity::IdentityError> {
        Ok(AppState(Arc::new(Shared {
            passwords: PasswordService::with_limits(config.argon, config.hashing)?,
            clients: ClientCache::default(),
            relying_parties: Default::default(),
            keys: Default::default(),
            access_log: AccessLog::start(db.clone()),
            quality_reports: Default::default(),
            metrics: Arc::new(metrics::Metrics::default()),
            login_limiter: Arc::new(middleware::RateLimiter::new(
                config.login_attempts_per_minute,
                Duration::from_secs(60),
            )),
            verification_throttle: VerificationThrottle::new(config.verification),
            hsts: config.hsts_max_age_secs.and_then(|age| {
                HeaderValue::from_str(&format!("max-age={age}; includeSubDomains")).ok()
            }),
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
    routes(state, true)
}

fn routes(state: AppState, with_metrics: bool) -> Router {
    let mut router = Router::new()
        .merge(pages::routes())
        .merge(api::routes())
        .merge(oidc::routes())
        .merge(ops::routes());
    if with_metrics {
        router = router.merge(ops::metrics_routes());
    }
    middleware::wrap(router, state)
}

/// Serves `app` on `listener` with the default [`ServeConfig`] until Ctrl-C / SIGTERM.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    serve_with(listener.into(), state, ServeConfig::default()).await
}

/// Serves until Ctrl-C / SIGTERM, then drains (see [`server`]).
pub async fn serve_with(
    listeners: Listeners,
    state: AppState,
    config: ServeConfig,
) -> std::io::Result<()> {
    serve_until(listeners, state, config, shutdown_signal()).await
}

/// Serves until `stop` completes, then lets requests in flight finish within the drain
/// timeout. Before returning, the access log is copied into the database, so a stopped node
/// leaves nothing waiting in its journal.
pub async fn serve_until(
    listeners: Listeners,
    state: AppState,
    config: ServeConfig,
    stop: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let access_log = state.access_log.clone();
    let separate_metrics = listeners.metrics.is_some();
    let main = (listeners.main, routes(state.clone(), !separate_metrics));
    // Only the metrics: the listener is for the monitoring network, not for pages or APIs.
    let metrics = listeners
        .metrics
        .map(|l| (l, ops::metrics_routes().with_state(state)));
    server::run(main, metrics, &config, stop).await;
    if let Err(e) = access_log.flush().await {
        tracing::warn!(error = %e, "the access log was not fully copied before stopping; the next start copies the rest");
    }
    Ok(())
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
