//! Operations endpoints: liveness, readiness, metrics.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// `/metrics`: merged into the application, or served alone on the metrics listener.
pub fn metrics_routes() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

/// The process is alive.
async fn healthz() -> impl IntoResponse {
    axum::Json(json!({ "status": "ok" }))
}

/// The database answers and every migration is applied.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let db = state.db.ping().await;
    let migrations = db && motcua_db::migrate::is_current(&state.db).await;
    let status = if db && migrations {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(json!({
            "status": if status == StatusCode::OK { "ready" } else { "not_ready" },
            "database": db,
            "engine": state.db.engine().name(),
            "migrations_current": migrations,
        })),
    )
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut extra = Vec::new();
    if let Ok(counts) = motcua_db::jobs::counts(&state.db).await {
        extra.extend(job_metrics(&state.config.job_kinds, &counts));
    }
    if let Some(rss) = resident_memory_bytes() {
        extra.push(("process_resident_memory_bytes".to_owned(), rss as f64));
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(&extra),
    )
}

/// Resident set size from /proc (Linux).
pub fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Job counts by kind and status. The label set stays bounded whatever is in the table: kinds
/// with a handler are named, any other kind counts as `other`, and every registered kind has
/// a line for every status (zeros included) so a rate can be taken from the first scrape.
pub fn job_metrics(kinds: &[&str], counts: &[(String, String, i64)]) -> Vec<(String, f64)> {
    const STATUSES: [&str; 5] = ["pending", "running", "done", "dead", "cancelled"];
    let mut by_label: std::collections::BTreeMap<(&str, &str), i64> = kinds
        .iter()
        .flat_map(|k| STATUSES.iter().map(move |s| ((*k, *s), 0)))
        .collect();
    for (kind, status, n) in counts {
        let kind = kinds
            .iter()
            .find(|k| **k == kind)
            .copied()
            .unwrap_or("other");
        let status = STATUSES
            .iter()
            .find(|s| **s == status)
            .copied()
            .unwrap_or("other");
        *by_label.entry((kind, status)).or_insert(0) += n;
    }
    by_label
        .into_iter()
        .map(|((kind, status), n)| {
            (
                format!("motcua_jobs{{kind=\"{kind}\",status=\"{status}\"}}"),
                n as f64,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::job_metrics;

    #[test]
    fn job_metrics_name_registered_kinds_only() {
        let counts = vec![
            ("mail.send".to_owned(), "done".to_owned(), 3),
            ("sms.send".to_owned(), "dead".to_owned(), 2),
            ("<script>".to_owned(), "dead".to_owned(), 1),
        ];
        let lines = job_metrics(&["mail.send"], &counts);
        assert!(lines.contains(&(
            "motcua_jobs{kind=\"mail.send\",status=\"done\"}".into(),
            3.0
        )));
        assert!(lines.contains(&(
            "motcua_jobs{kind=\"mail.send\",status=\"dead\"}".into(),
            0.0
        )));
        assert!(lines.contains(&("motcua_jobs{kind=\"other\",status=\"dead\"}".into(), 3.0)));
        assert_eq!(lines.len(), 6);
    }
}
