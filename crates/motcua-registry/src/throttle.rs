//! Limits on the verification API, so that it cannot be used as an oracle: an agency client
//! that tries date after date of birth for one PID would otherwise learn that the PID exists
//! and when its holder was born. Protecting personal data against such disclosure is a duty
//! of whoever processes it (Decree 13/2023/NĐ-CP on personal data protection).
//!
//! Two limits, both configuration:
//!
//! - **Per client and PID**: after `failures_per_pid` non-matching answers within a sliding
//!   `failure_window_us`, verifications of that PID by that client are refused, without
//!   reading the citizen, until the oldest of those answers leaves the window. Other PIDs and
//!   other clients are unaffected. A match does not reset the count: whoever learns the name
//!   could otherwise reset it at will.
//! - **Per client and day** (the day in Asia/Ho_Chi_Minh): at most `daily_quota`
//!   verifications. It is checked first; a request it admits counts even if the per-PID
//!   limit then refuses it, and a request it refuses does not count.
//!
//! The state is in the database (`counters.verification_failures`,
//! `counters.verification_quota`), so every `motcua serve` node sharing it applies the same
//! limits. The cost on the hot path is one point read per request (by the raw SQLite reader
//! on the embedded database) and one atomic upsert per non-matching answer. The upserts of a
//! node go through one group-commit writer (on the embedded database a thread with its own
//! connection to the counters' file), never through the database's single writer.
//!
//! Concurrency. The count of non-matches is one `INSERT … ON CONFLICT … DO UPDATE …
//! RETURNING`, so concurrent requests never lose each other's count, and a non-matching
//! answer is given only if the count it returns is within the limit: however many requests
//! race past the read, at most `failures_per_pid` non-matches per window are ever answered,
//! on any number of nodes. A *match* in such a race would still be answered, so on each node
//! the verifications of one client and PID run one after another (a striped lock); across
//! nodes at most one racing guess per node can be answered past the limit.
//!
//! The daily quota is counted per node and added to the database in batches, so that it does
//! not cost a write per request: the first verification of a client on a node each day, and
//! then every [`ThrottleConfig::quota_batch`] verifications, add the node's count and learn the
//! total. A node refuses once the total it knows plus its own unwritten count reach the
//! quota, so with N nodes a client may exceed its quota by at most N × (batch − 1); the batch
//! is a hundredth of the quota (1 to 64), so the overshoot is at most 1% per node.
//!
//! Counters no limit looks at any more (failures that have all left the window, quota counts
//! of days before yesterday) are deleted once a day per node, in the background.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use motcua_db::{Db, DbError};
use tokio::sync::{mpsc, oneshot};

use crate::error::{RegistryError, Result};
use crate::store::throttle as store;
use crate::verify::{self, Verification, VerificationResult};

const MICROS_PER_SEC: i64 = 1_000_000;
/// Asia/Ho_Chi_Minh is UTC+7 all year (no daylight saving).
const LOCAL_OFFSET_SECS: i64 = 7 * 3600;
const SECS_PER_DAY: i64 = 86_400;
/// Each stored failure: a space and 16 digits of microseconds (enough until the year 2286).
const ENTRY_CHARS: usize = 17;
/// Bounds the stored text per client and PID (the limit is per PID, so it is small).
pub const MAX_FAILURES_PER_PID: u32 = 1000;
/// Stripes of the per-node lock that orders verifications of one client and PID.
const STRIPES: usize = 1024;

/// The limits (configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Non-matching answers per client and PID within the window; 0 turns the limit off.
    pub failures_per_pid: u32,
    /// The sliding window of that limit (µs).
    pub failure_window_us: i64,
    /// Verifications per client per day (Asia/Ho_Chi_Minh); 0 means no quota.
    pub daily_quota: u64,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            failures_per_pid: 5,
            failure_window_us: 24 * 3600 * MICROS_PER_SEC,
            daily_quota: 1_000_000,
        }
    }
}

impl ThrottleConfig {
    /// Every problem with the limits, each naming its setting.
    pub fn check(&self) -> std::result::Result<(), RegistryError> {
        if self.failures_per_pid > MAX_FAILURES_PER_PID {
            return Err(RegistryError::field(
                "verify_failures_per_pid",
                "out_of_range",
                format!("must be at most {MAX_FAILURES_PER_PID}"),
            ));
        }
        if self.failure_window_us < MICROS_PER_SEC {
            return Err(RegistryError::field(
                "verify_failure_window",
                "out_of_range",
                "must be at least one second",
            ));
        }
        Ok(())
    }

    /// How many verifications a node counts before adding them to the database.
    pub fn quota_batch(&self) -> u64 {
        (self.daily_quota / 100).clamp(1, 64)
    }
}

/// What a verification request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Answered(VerificationResult),
    /// Too many non-matching answers for this PID lately; try again after this many seconds.
    Throttled {
        retry_after_secs: u64,
    },
    /// The client's verifications for today are used up; the next day starts in this many
    /// seconds.
    QuotaExceeded {
        retry_after_secs: u64,
    },
}

/// The limits with this node's share of their state. Cheap to clone.
#[derive(Clone)]
pub struct VerificationThrottle(Arc<Inner>);

struct Inner {
    config: ThrottleConfig,
    stripes: Box<[tokio::sync::Mutex<()>]>,
    hasher: RandomState,
    quota: Mutex<HashMap<String, NodeQuota>>,
    /// The last day this node deleted expired counters.
    purged_day: AtomicI64,
    /// The group-commit writer of the counters, started on first use.
    writer: std::sync::OnceLock<mpsc::Sender<PendingWrite>>,
}

/// One write to the counters, as the writer holds it, and where its result goes.
struct PendingWrite {
    client_id: String,
    now: i64,
    count: Count,
    done: oneshot::Sender<std::result::Result<store::Counted, String>>,
}

enum Count {
    Failure { pid: i64, entry: String, keep: i32 },
    Quota { day: String, n: i64 },
}

impl PendingWrite {
    fn as_write(&self) -> store::CounterWrite<'_> {
        match &self.count {
            Count::Failure { pid, entry, keep } => store::CounterWrite::Failure {
                client_id: &self.client_id,
                pid: *pid,
                entry,
                now: self.now,
                keep: *keep,
            },
            Count::Quota { day, n } => store::CounterWrite::Quota {
                client_id: &self.client_id,
                day,
                n: *n,
                now: self.now,
            },
        }
    }
}

/// How often the counters' file is checkpointed, off the writer's thread.
const COUNTER_CHECKPOINTS: std::time::Duration = std::time::Duration::from_millis(500);

/// Most counter writes in one transaction.
const WRITE_BATCH: usize = 256;

/// Applies the counter writes waiting when the previous transaction ended in one
/// transaction: one commit for many requests, instead of one each through the single
/// writer of the embedded database, where they would also wait behind every other write.
/// Each request still gets what its own statement left.
async fn counter_writer(db: Db, mut queue: mpsc::Receiver<PendingWrite>) {
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    while queue.recv_many(&mut batch, WRITE_BATCH).await > 0 {
        let written = write_counters(&db, &batch).await.map_err(|e| e.to_string());
        answer(&mut batch, written);
    }
}

async fn write_counters(db: &Db, batch: &[PendingWrite]) -> Result<Vec<store::Counted>> {
    let writes: Vec<store::CounterWrite<'_>> = batch.iter().map(PendingWrite::as_write).collect();
    let mut tx = db.begin().await?;
    let counted = store::write_counters(&mut tx, &writes).await?;
    tx.commit().await?;
    Ok(counted)
}

/// Sends each write of `batch` its result, emptying it.
fn answer(
    batch: &mut Vec<PendingWrite>,
    written: std::result::Result<Vec<store::Counted>, String>,
) {
    match written {
        Ok(counted) => {
            for (w, c) in batch.drain(..).zip(counted) {
                let _ = w.done.send(Ok(c));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "verification counters not written");
            for w in batch.drain(..) {
                let _ = w.done.send(Err(e.clone()));
            }
        }
    }
}

/// Starts the writer: on the embedded database a thread with a direct connection to the
/// counters' file, on PostgreSQL a task.
fn start_counter_writer(db: &Db, queue: mpsc::Receiver<PendingWrite>) {
    let checkpoints = |conn| {
        let path = motcua_db::counters_file(db.sqlite_path()?);
        match motcua_db::raw::BackgroundCheckpoints::start(path, COUNTER_CHECKPOINTS) {
            Ok(c) => Some((conn, c)),
            Err(e) => {
                tracing::warn!(error = %e, "no checkpoint thread for the verification counters");
                None
            }
        }
    };
    match motcua_db::raw::sqlite_counters_writer(db).map(|c| c.and_then(checkpoints)) {
        Ok(Some((conn, checkpoints))) => {
            let spawned = std::thread::Builder::new()
                .name("verify-counters".into())
                .spawn(move || raw_counter_writer(conn, checkpoints, queue));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "the verification counter writer did not start");
            }
        }
        Ok(None) => {
            tokio::spawn(counter_writer(db.clone(), queue));
        }
        Err(e) => {
            tracing::warn!(error = %e, "no direct connection for the verification counters; using the pool");
            tokio::spawn(counter_writer(db.clone(), queue));
        }
    }
}

/// [`counter_writer`] on a direct connection to the embedded database.
fn raw_counter_writer(
    conn: rusqlite::Connection,
    checkpoints: motcua_db::raw::BackgroundCheckpoints,
    mut queue: mpsc::Receiver<PendingWrite>,
) {
    // Checkpoints run while this thread lives.
    let _checkpoints = checkpoints;
    let mut batch: Vec<PendingWrite> = Vec::with_capacity(WRITE_BATCH);
    while let Some(first) = queue.blocking_recv() {
        batch.push(first);
        while batch.len() < WRITE_BATCH {
            match queue.try_recv() {
                Ok(w) => batch.push(w),
                Err(_) => break,
            }
        }
        let writes: Vec<store::CounterWrite<'_>> =
            batch.iter().map(PendingWrite::as_write).collect();
        let written = store::write_counters_raw(&conn, &writes).map_err(|e| e.to_string());
        drop(writes);
        answer(&mut batch, written);
    }
}

/// One client's count on this node for one day.
struct NodeQuota {
    day: i64,
    /// The total in the database when last written, plus what this node wrote since.
    known: u64,
    /// Counted here, not yet written.
    pending: u64,
    /// Whether this node has written (and so learnt the total) today.
    synced: bool,
}

impl NodeQuota {
    fn new(day: i64) -> NodeQuota {
        NodeQuota {
            day,
            known: 0,
            pending: 0,
            synced: false,
        }
    }
}

impl VerificationThrottle {
    pub fn new(config: ThrottleConfig) -> VerificationThrottle {
        VerificationThrottle(Arc::new(Inner {
            config,
            stripes: (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
            hasher: RandomState::new(),
            quota: Mutex::new(HashMap::new()),
            purged_day: AtomicI64::new(i64::MIN),
            writer: std::sync::OnceLock::new(),
        }))
    }

    pub fn config(&self) -> ThrottleConfig {
        self.0.config
    }

    /// Verifies `v` for `client_id` within the limits. The citizen is read only when the
    /// verification is allowed.
    pub async fn verify(
        &self,
        db: &Db,
        client_id: &str,
        v: &Verification,
        now: i64,
    ) -> Result<Verdict> {
        self.purge_daily(db, now);
        if let Some(retry_after_secs) = self.take_quota(db, client_id, now).await? {
            return Ok(Verdict::QuotaExceeded { retry_after_secs });
        }
        let limit = self.0.config.failures_per_pid;
        if limit == 0 {
            return Ok(Verdict::Answered(verify::verify(db, v).await?));
        }
        let window = self.0.config.failure_window_us;
        let pid = v.pid.as_i64();
        let stripe = self.0.hasher.hash_one((client_id, pid)) as usize % STRIPES;
        let _turn = self.0.stripes[stripe].lock().await;
        let recent = recent_failures(db, client_id, pid).await?;
        if let Some(retry_after_secs) = throttled_for(&recent, limit, window, now, 0) {
            return Ok(Verdict::Throttled { retry_after_secs });
        }
        let result = verify::verify(db, v).await?;
        if result.matched {
            return Ok(Verdict::Answered(result));
        }
        let recent = self.count_failure(db, client_id, pid, limit, now).await?;
        // Past the limit only if requests raced past the read on other nodes: the answer is
        // withheld, so no more than `limit` non-matches are ever answered per window.
        match throttled_for(&recent, limit, window, now, 1) {
            Some(retry_after_secs) => Ok(Verdict::Throttled { retry_after_secs }),
            None => Ok(Verdict::Answered(result)),
        }
    }

    /// Counts one non-matching answer through this node's group-commit writer; the failures
    /// kept for the client and PID.
    async fn count_failure(
        &self,
        db: &Db,
        client_id: &str,
        pid: i64,
        limit: u32,
        now: i64,
    ) -> Result<String> {
        let count = Count::Failure {
            pid,
            entry: failure_entry(now),
            keep: failures_kept(limit),
        };
        match self.write(db, client_id, now, count).await? {
            store::Counted::Failures(recent) => Ok(recent),
            store::Counted::Quota(_) => Err(unexpected()),
        }
    }

    /// Adds `n` verifications to the client's count for `day` through the same writer;
    /// returns the new total.
    async fn add_to_quota(
        &self,
        db: &Db,
        client_id: &str,
        day: i64,
        n: u64,
        now: i64,
    ) -> Result<u64> {
        let count = Count::Quota {
            day: day_text(day),
            n: i64::try_from(n).unwrap_or(i64::MAX),
        };
        match self.write(db, client_id, now, count).await? {
            store::Counted::Quota(total) => Ok(u64::try_from(total).unwrap_or(0)),
            store::Counted::Failures(_) => Err(unexpected()),
        }
    }

    async fn write(
        &self,
        db: &Db,
        client_id: &str,
        now: i64,
        count: Count,
    ) -> Result<store::Counted> {
        let writer = self.0.writer.get_or_init(|| {
            let (sender, queue) = mpsc::channel(4 * WRITE_BATCH);
            start_counter_writer(db, queue);
            sender
        });
        let (done, answer) = oneshot::channel();
        let write = PendingWrite {
            client_id: client_id.to_owned(),
            now,
            count,
            done,
        };
        let stopped = || {
            RegistryError::Db(DbError::Conflict(
                "the verification counter writer has stopped".into(),
            ))
        };
        writer.send(write).await.map_err(|_| stopped())?;
        match answer.await {
            Ok(Ok(counted)) => Ok(counted),
            Ok(Err(e)) => Err(RegistryError::Db(DbError::Conflict(format!(
                "verification counters not written: {e}"
            )))),
            Err(_) => Err(stopped()),
        }
    }

    /// Counts one verification against the client's daily quota; `Some(seconds until the
    /// next day)` when it is used up.
    async fn take_quota(&self, db: &Db, client_id: &str, now: i64) -> Result<Option<u64>> {
        let quota = self.0.config.daily_quota;
        if quota == 0 {
            return Ok(None);
        }
        let day = local_day(now);
        let refused = Some(secs_until_next_day(day, now));
        let to_write = {
            let mut map = self.lock_quota();
            // Looked up before inserting, so that the usual call allocates no key.
            if !map.contains_key(client_id) {
                map.insert(client_id.to_owned(), NodeQuota::new(day));
            }
            let Some(q) = map.get_mut(client_id) else {
                return Ok(None);
            };
            if q.day != day {
                *q = NodeQuota::new(day);
            }
            if q.known + q.pending >= quota {
                return Ok(refused);
            }
            q.pending += 1;
            if q.synced && q.pending < self.0.config.quota_batch() {
                return Ok(None);
            }
            let n = std::mem::take(&mut q.pending);
            q.known += n;
            q.synced = true;
            n
        };
        let total = match self.add_to_quota(db, client_id, day, to_write, now).await {
            Ok(total) => total,
            Err(e) => {
                let mut map = self.lock_quota();
                if let Some(q) = map.get_mut(client_id).filter(|q| q.day == day) {
                    q.known = q.known.saturating_sub(to_write);
                    q.pending += to_write;
                    q.synced = false;
                }
                return Err(e);
            }
        };
        let mut map = self.lock_quota();
        if let Some(q) = map.get_mut(client_id).filter(|q| q.day == day) {
            q.known = q.known.max(total);
        }
        // This request is the last of the batch just written, number `total` of the day.
        Ok(if total > quota { refused } else { None })
    }

    /// Once a day per node, deletes the counters no limit looks at any more, in the
    /// background so that no request waits for it.
    fn purge_daily(&self, db: &Db, now: i64) {
        let day = local_day(now);
        let last = self.0.purged_day.load(Ordering::Relaxed);
        if last >= day
            || self
                .0
                .purged_day
                .compare_exchange(last, day, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let (db, window) = (db.clone(), self.0.config.failure_window_us);
        tokio::spawn(async move {
            if let Err(e) = purge_expired(&db, now, window).await {
                tracing::warn!(error = %e, "expired verification counters were not deleted");
            }
        });
    }

    fn lock_quota(&self) -> std::sync::MutexGuard<'_, HashMap<String, NodeQuota>> {
        // A panic while holding the lock leaves counts that are still usable.
        self.0
            .quota
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The day number (days since 1970-01-01) in Asia/Ho_Chi_Minh.
fn local_day(now: i64) -> i64 {
    (now.div_euclid(MICROS_PER_SEC) + LOCAL_OFFSET_SECS).div_euclid(SECS_PER_DAY)
}

fn day_text(day: i64) -> String {
    chrono::DateTime::from_timestamp(day * SECS_PER_DAY, 0)
        .map(|d| d.date_naive().to_string())
        .unwrap_or_default()
}

fn secs_until_next_day(day: i64, now: i64) -> u64 {
    let next = ((day + 1) * SECS_PER_DAY - LOCAL_OFFSET_SECS) * MICROS_PER_SEC;
    ceil_secs(next - now)
}

fn ceil_secs(us: i64) -> u64 {
    u64::try_from((us + MICROS_PER_SEC - 1).div_euclid(MICROS_PER_SEC))
        .unwrap_or(0)
        .max(1)
}

/// The stored failure times, oldest first.
fn parse_failures(text: &str) -> Vec<i64> {
    let mut times: Vec<i64> = text
        .split_whitespace()
        .filter_map(|t| t.parse().ok())
        .collect();
    // Nodes' clocks may differ slightly, so the stored order is not trusted.
    times.sort_unstable();
    times
}

/// `Some(seconds to wait)` when more than `limit - allowance` failures lie inside the window
/// ending at `now`: with `allowance` 0, whether the limit is reached; with 1, whether the
/// failure just counted went past it. The wait ends when the limit-th newest leaves.
fn throttled_for(recent: &str, limit: u32, window: i64, now: i64, allowance: usize) -> Option<u64> {
    let limit = limit as usize;
    let times = parse_failures(recent);
    let inside: Vec<i64> = times.into_iter().filter(|t| *t > now - window).collect();
    if inside.len() < limit + allowance {
        return None;
    }
    let deciding = inside[inside.len() - limit];
    Some(ceil_secs(deciding + window - now))
}

async fn recent_failures(db: &Db, client_id: &str, pid: i64) -> Result<String> {
    Ok(store::recent_failures(db, client_id, pid)
        .await?
        .unwrap_or_default())
}

/// A failure at `now` as stored: a space and 16 digits of microseconds.
fn failure_entry(now: i64) -> String {
    format!(" {now:016}")
}

/// The characters kept: the most recent `limit + 1` failures.
fn failures_kept(limit: u32) -> i32 {
    i32::try_from((limit as usize + 1) * ENTRY_CHARS).unwrap_or(i32::MAX)
}

/// Appends a failure at `now` in its own transaction, keeps the most recent `limit + 1`,
/// and returns them.
async fn count_failure(db: &Db, client_id: &str, pid: i64, limit: u32, now: i64) -> Result<String> {
    let mut tx = db.begin().await?;
    let kept = store::append_failure(
        &mut tx,
        client_id,
        pid,
        &failure_entry(now),
        now,
        failures_kept(limit),
    )
    .await?;
    tx.commit().await?;
    Ok(kept)
}

/// A writer's answer of the wrong kind: a defect, reported as a failed write.
fn unexpected() -> RegistryError {
    RegistryError::Db(DbError::Conflict(
        "the verification counter writer answered another write".into(),
    ))
}

/// Deletes the failures that have all left a window of `window_us` ending at `now`, and the
/// quota counts of days before yesterday. They are counters, not records (the access log
/// keeps every verification), so deleting them appends no event.
pub async fn purge_expired(db: &Db, now: i64, window_us: i64) -> Result<u64> {
    let before_day = day_text(local_day(now) - 1);
    store::purge(db, now - window_us, &before_day).await
}

/// The verifications counted in the database for a client on the day of `now`
/// (Asia/Ho_Chi_Minh), for operators and tests.
pub async fn quota_used(db: &Db, client_id: &str, now: i64) -> Result<u64> {
    let total = store::quota_used(db, client_id, &day_text(local_day(now))).await?;
    Ok(total.and_then(|t| u64::try_from(t).ok()).unwrap_or(0))
}

/// The non-matching answers stored for a client and PID (at most one more than the limit),
/// oldest first, for operators and tests.
pub async fn failures(db: &Db, client_id: &str, pid: i64) -> Result<Vec<i64>> {
    Ok(parse_failures(&recent_failures(db, client_id, pid).await?))
}

/// Counts one non-matching answer, as a verification does; returns the failures kept.
pub async fn record_failure(
    db: &Db,
    client_id: &str,
    pid: i64,
    limit: u32,
    now: i64,
) -> Result<Vec<i64>> {
    Ok(parse_failures(
        &count_failure(db, client_id, pid, limit, now).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3600 * MICROS_PER_SEC;

    fn text(times: &[i64]) -> String {
        times.iter().map(|t| format!(" {t:016}")).collect()
    }

    #[test]
    fn the_window_slides_with_the_limit_th_newest_failure() {
        let window = 24 * HOUR;
        let t0 = 1_800_000_000_000_000;
        let five: Vec<i64> = (0..5).map(|i| t0 + i * HOUR).collect();
        let now = t0 + 5 * HOUR;
        assert_eq!(throttled_for(&text(&five[..4]), 5, window, now, 0), None);
        // Five inside: throttled until the oldest of them leaves, 19 hours on.
        assert_eq!(
            throttled_for(&text(&five), 5, window, now, 0),
            Some(19 * 3600)
        );
        // Just after it leaves, four are inside.
        assert_eq!(throttled_for(&text(&five), 5, window, t0 + window, 0), None);
        // With six stored, the wait ends when the second oldest leaves.
        let six: Vec<i64> = (0..6).map(|i| t0 + i * HOUR).collect();
        assert_eq!(
            throttled_for(&text(&six), 5, window, now, 0),
            Some(20 * 3600)
        );
        // The allowance tells whether the failure just counted went past the limit.
        assert_eq!(throttled_for(&text(&five), 5, window, now, 1), None);
        assert!(throttled_for(&text(&six), 5, window, now, 1).is_some());
        // Unordered or damaged text is read as well as it can be.
        assert_eq!(
            throttled_for(" 3 x 1 2 5 4", 5, window, 10, 0),
            Some((window / MICROS_PER_SEC) as u64)
        );
        assert_eq!(throttled_for("", 5, window, now, 0), None);
    }

    #[test]
    fn days_are_counted_in_vietnam() {
        // 2026-12-03 16:59:59 UTC is 23:59:59 in Hà Nội; a second later it is the 4th.
        let before = 1_796_317_199 * MICROS_PER_SEC;
        assert_eq!(day_text(local_day(before)), "2026-12-03");
        assert_eq!(secs_until_next_day(local_day(before), before), 1);
        let after = before + MICROS_PER_SEC;
        assert_eq!(day_text(local_day(after)), "2026-12-04");
        assert_eq!(secs_until_next_day(local_day(after), after), 86_400);
    }

    #[test]
    fn the_quota_batch_is_a_hundredth_of_the_quota() {
        let with = |daily_quota| ThrottleConfig {
            daily_quota,
            ..ThrottleConfig::default()
        };
        assert_eq!(with(3).quota_batch(), 1);
        assert_eq!(with(1_000).quota_batch(), 10);
        assert_eq!(with(1_000_000).quota_batch(), 64);
        assert!(ThrottleConfig::default().check().is_ok());
        let too_many = ThrottleConfig {
            failures_per_pid: MAX_FAILURES_PER_PID + 1,
            ..ThrottleConfig::default()
        };
        assert!(
            too_many
                .check()
                .unwrap_err()
                .to_string()
                .contains("verify_failures_per_pid")
        );
    }
}
