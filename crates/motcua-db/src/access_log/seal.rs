//! Sealing days of the access log: once a UTC day has ended (and [`SEAL_GRACE_US`] passed for
//! entries still in a journal), its chain head is written to the event log as an
//! `access_log.day_sealed` event (aggregate `access_log_day`, id the date). The event log is
//! chained too and lives in another file on SQLite, so removing entries from the end of a
//! sealed day, and rewriting its head row to match, no longer goes unnoticed.
//!
//! An entry that still arrives for a sealed day (a node's journal copied late) extends the
//! chain past the seal; the next run seals the day again, as a new version. The verifier
//! checks every seal against the entry at the position it names.

use serde_json::json;

use super::chain::{self, Head};
use crate::events::{self, NewEvent, StoredEvent};
use crate::{Db, DbError, DbResult, on_read, on_tx};

/// The event type of a seal.
pub const SEAL_EVENT: &str = "access_log.day_sealed";
/// Its aggregate type; the aggregate id is the date, `YYYY-MM-DD`.
pub const SEAL_AGGREGATE: &str = "access_log_day";
/// How long after a day ends it is sealed: entries of the day may still be in a node's journal.
pub const SEAL_GRACE_US: i64 = 10 * 60 * 1_000_000;

/// One seal: the day's head as it was when sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seal {
    pub day: i64,
    pub version: i64,
    pub last_id: i64,
    pub hash: [u8; 32],
    pub entries: i64,
}

impl Seal {
    /// The seal an event records, if it is one and can be read.
    pub fn of_event(event: &StoredEvent) -> Option<Seal> {
        let p: serde_json::Value = serde_json::from_str(&event.payload).ok()?;
        let hash = hex::decode(p["head_hash"].as_str()?).ok()?;
        Some(Seal {
            day: p["day"].as_i64()?,
            version: event.version,
            last_id: p["last_id"].as_i64()?,
            hash: chain::to_hash(&hash)?,
            entries: p["entries"].as_i64()?,
        })
    }
}

/// Seals every day that ended more than [`SEAL_GRACE_US`] before `now` and whose head is not
/// yet sealed as it stands. Idempotent, and safe on several nodes at once: each day is sealed
/// in its own transaction, and when two nodes seal the same day the event version's unique
/// constraint lets one win; the other skips it. Returns the days sealed by this call.
pub async fn seal_days(db: &Db, now: i64) -> DbResult<Vec<Seal>> {
    let ended_before = (now - SEAL_GRACE_US).div_euclid(chain::DAY_US);
    let heads: Vec<(i64, i64, Vec<u8>, i64)> = on_read!(db, c => {
        sqlx::query_as(
            "SELECT day, last_id, head_hash, entries FROM audit.access_log_chain
             WHERE day < $1 AND entries > 0 ORDER BY day",
        )
        .bind(ended_before)
        .fetch_all(c)
        .await
    })?;
    let mut sealed = Vec::new();
    for (day, last_id, hash, entries) in heads {
        let head = Head::stored(day, last_id, &hash, entries);
        match seal_day(db, &head, now).await {
            Ok(Some(seal)) => sealed.push(seal),
            Ok(None) => {}
            // Another node sealed it meanwhile.
            Err(DbError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(sealed)
}

/// Seals one day unless its latest seal already covers the head.
async fn seal_day(db: &Db, head: &Head, now: i64) -> DbResult<Option<Seal>> {
    let date = chain::date_of(head.day);
    let mut tx = db.begin().await?;
    let latest: Option<(i64, String)> = on_tx!(&mut tx, c => {
        sqlx::query_as(
            "SELECT version, payload FROM events WHERE aggregate_type = $1 AND aggregate_id = $2
             ORDER BY version DESC LIMIT 1",
        )
        .bind(SEAL_AGGREGATE)
        .bind(&date)
        .fetch_optional(&mut *c)
        .await
    })?;
    let seen_version = latest.as_ref().map_or(0, |(v, _)| *v);
    let covered = latest
        .and_then(|(_, p)| serde_json::from_str::<serde_json::Value>(&p).ok())
        .and_then(|p| p["entries"].as_i64())
        .is_some_and(|n| n >= head.entries);
    if covered {
        return Ok(None);
    }
    let stored = events::append(
        &mut tx,
        &NewEvent {
            aggregate_type: SEAL_AGGREGATE,
            aggregate_id: &date,
            event_type: SEAL_EVENT,
            actor: "system",
            reason: "the day has ended: its access-log chain head is recorded",
            payload: json!({
                "day": head.day,
                "date": date,
                "last_id": head.last_id,
                "head_hash": hex::encode(head.hash),
                "entries": head.entries,
            }),
            occurred_at: now,
        },
    )
    .await?;
    // Under READ COMMITTED another node's seal may have committed between the read above and
    // the append, which then follows it as the next version instead of conflicting: that
    // node sealed the day, so this one rolls back.
    if stored.version != seen_version + 1 {
        return Ok(None);
    }
    tx.commit().await?;
    Ok(Some(Seal {
        day: head.day,
        version: stored.version,
        last_id: head.last_id,
        hash: head.hash,
        entries: head.entries,
    }))
}

/// The job kind that seals ended days, run once an hour across all nodes.
pub const SEAL_JOB: &str = "access_log.seal_days";

/// Registers [`SEAL_JOB`] with the job worker: every hour one node seals the days that have
/// ended. A failure (the database unreachable) is retried; a day missed by one run is sealed
/// by the next, since sealing looks at every unsealed day.
pub fn register_sealing(registry: &mut crate::jobs::worker::Registry, db: &Db) {
    let db = db.clone();
    registry.register(SEAL_JOB, move |_run| {
        let db = db.clone();
        async move {
            match seal_days(&db, crate::clock::now_us()).await {
                Ok(sealed) => {
                    if !sealed.is_empty() {
                        tracing::info!(days = sealed.len(), "access-log days sealed");
                    }
                    Ok(())
                }
                Err(e) => Err(crate::jobs::worker::JobError::Retryable(e.to_string())),
            }
        }
    });
    registry.every(SEAL_JOB, std::time::Duration::from_secs(3600), 5);
}
