//! Data-quality report, after Project 06's "đúng, đủ, sạch, sống" (correct, complete, clean,
//! live): suspected duplicates, missing required fields, deceased persons still holding a
//! residence, and PIDs inconsistent with the recorded gender or year of birth.

use motcua_db::Db;
use serde::Serialize;

use crate::error::Result;
use crate::search::SearchRow;
use crate::store;
pub use crate::store::quality::{CHECKS, Check};

#[derive(Debug, Clone, Serialize)]
pub struct QualityReport {
    pub total: i64,
    pub counts: Vec<(Check, i64)>,
    /// When the counts were taken (microseconds, UTC).
    pub computed_at: i64,
}

/// The report scans every citizen (about a second at a million), so a node computes it at
/// most once per `max_age` and officers opening the page meanwhile share that result.
/// Requests arriving during a computation wait for it instead of starting their own.
#[derive(Default)]
pub struct ReportCache {
    last: tokio::sync::Mutex<Option<(std::time::Instant, QualityReport)>>,
}

impl ReportCache {
    /// The cached report if younger than `max_age`, else a new one.
    pub async fn get(&self, db: &Db, max_age: std::time::Duration) -> Result<QualityReport> {
        let mut last = self.last.lock().await;
        if let Some((at, report)) = last.as_ref()
            && at.elapsed() < max_age
        {
            return Ok(report.clone());
        }
        let fresh = report(db).await?;
        *last = Some((std::time::Instant::now(), fresh.clone()));
        Ok(fresh)
    }
}

pub async fn report(db: &Db) -> Result<QualityReport> {
    let computed_at = motcua_db::clock::now_us();
    let total = crate::citizens::count(db).await?;
    let mut counts = Vec::new();
    for check in CHECKS {
        let n = store::quality::count(db, check).await?;
        counts.push((check, n));
    }
    Ok(QualityReport {
        total,
        counts,
        computed_at,
    })
}

/// The citizens a check flags, for the officers' worklist, in PID order after `after_pid`.
pub async fn worklist(db: &Db, check: Check, after_pid: i64, limit: i64) -> Result<Vec<SearchRow>> {
    let rows = store::quality::flagged(db, check, after_pid, limit.clamp(1, 500)).await?;
    Ok(rows)
}
