//! Storage tests. They run on SQLite by default and on PostgreSQL when `TEST_DATABASE_URL`
//! is set (each test gets a fresh database either way).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use motcua_db::events::{self, NewEvent};
use motcua_db::testing;
use motcua_db::{Db, Engine, access_log, jobs, migrate, on_read, on_write};
use serde_json::json;

#[tokio::test]
async fn migrations_apply_once_and_report_current() {
    let db = testing::fresh().await.unwrap();
    assert!(migrate::is_current(&db).await);
    // A second run (another server starting) applies nothing.
    assert!(migrate::run(&db).await.unwrap().is_empty());
    assert_eq!(
        migrate::applied_versions(&db).await.unwrap().len(),
        migrate::MIGRATIONS.len()
    );
}

/// Normalised schema: table → column → (type family, not-null).
type Schema = BTreeMap<String, BTreeMap<String, (String, bool)>>;

fn family(t: &str) -> String {
    let t = t.to_ascii_lowercase();
    if t.contains("int") {
        "int".into()
    } else if t.contains("char") || t.contains("text") {
        "text".into()
    } else if t.contains("bool") {
        "bool".into()
    } else if t == "blob" || t == "bytea" {
        "bytes".into()
    } else {
        t
    }
}

async fn sqlite_schema(db: &Db) -> Schema {
    let rows: Vec<(String, String, String, i64, i64)> = on_read!(db, c => {
        sqlx::query_as(
            "SELECT m.name, p.name, p.type, p.\"notnull\", p.pk
             FROM sqlite_master m JOIN pragma_table_info(m.name) p
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'
             UNION ALL
             SELECT 'audit.' || m.name, p.name, p.type, p.\"notnull\", p.pk
             FROM audit.sqlite_master m JOIN pragma_table_info(m.name, 'audit') p
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'
             UNION ALL
             SELECT 'counters.' || m.name, p.name, p.type, p.\"notnull\", p.pk
             FROM counters.sqlite_master m JOIN pragma_table_info(m.name, 'counters') p
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
        )
        .fetch_all(c)
        .await
    })
    .unwrap();
    let mut s = Schema::new();
    for (table, col, ty, notnull, pk) in rows {
        s.entry(table)
            .or_default()
            .insert(col, (family(&ty), notnull == 1 || pk > 0));
    }
    s
}

async fn postgres_schema(db: &Db) -> Schema {
    let rows: Vec<(String, String, String, String)> = on_read!(db, c => {
        sqlx::query_as(
            "SELECT CASE table_schema WHEN 'public' THEN '' ELSE table_schema || '.' END
                    || table_name, column_name::text, data_type::text, is_nullable::text
             FROM information_schema.columns WHERE table_schema IN ('public', 'audit', 'counters')",
        )
        .fetch_all(c)
        .await
    })
    .unwrap();
    let mut s = Schema::new();
    for (table, col, ty, nullable) in rows {
        s.entry(table)
            .or_default()
            .insert(col, (family(&ty), nullable == "NO"));
    }
    s
}

/// The two migration trees must produce the same tables, columns, type families and
/// nullability. Needs both engines, so it does its work when `TEST_DATABASE_URL` is set (as in
/// `.ci/run`); the SQLite half is still applied and checked for sanity without it.
#[tokio::test]
async fn sqlite_and_postgres_schemas_match() {
    let dir = tempfile::tempdir().unwrap();
    let url = Db::sqlite_url_in(dir.path()).unwrap();
    let lite = Db::connect(&url).await.unwrap();
    migrate::run(&lite).await.unwrap();
    let lite_schema = sqlite_schema(&lite).await;
    assert!(lite_schema.contains_key("citizens"));
    assert!(lite_schema.contains_key("events"));
    assert!(lite_schema.contains_key("audit.access_log"));
    if !testing::on_postgres() {
        testing::skipped(
            "sqlite_and_postgres_schemas_match",
            "the comparison needs PostgreSQL (set TEST_DATABASE_URL); only the SQLite half ran",
        );
        return;
    }
    let pg = testing::fresh().await.unwrap();
    assert_eq!(pg.engine(), Engine::Postgres);
    let pg_schema = postgres_schema(&pg).await;
    assert_eq!(lite_schema, pg_schema);
    // Evidence for CI that the comparison ran, rather than passed by being skipped.
    if let Some(marker) = std::env::var_os("MOTCUA_SCHEMA_COMPARED_MARKER") {
        std::fs::write(marker, format!("{} tables compared\n", pg_schema.len())).unwrap();
    }
}

/// A new embedded database gets the platform's page size, and one created before keeps its own.
#[tokio::test]
async fn a_new_sqlite_database_has_the_platform_page_size() {
    let dir = tempfile::tempdir().unwrap();
    let url = Db::sqlite_url_in(dir.path()).unwrap();
    let db = Db::connect(&url).await.unwrap();
    migrate::run(&db).await.unwrap();
    assert_eq!(page_size(&db), i64::from(motcua_db::SQLITE_PAGE_SIZE));

    let older = dir.path().join("older.sqlite3");
    let conn = rusqlite::Connection::open(&older).unwrap();
    conn.execute_batch("PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE t (x)")
        .unwrap();
    drop(conn);
    let db = Db::connect(&format!("sqlite://{}", older.display()))
        .await
        .unwrap();
    migrate::run(&db).await.unwrap();
    assert_eq!(page_size(&db), 4096);
}

fn page_size(db: &Db) -> i64 {
    let conn = rusqlite::Connection::open(db.sqlite_path().unwrap()).unwrap();
    conn.query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap()
}

fn ev<'a>(agg: &'a str, ty: &'a str, n: i64) -> NewEvent<'a> {
    NewEvent {
        aggregate_type: "citizen",
        aggregate_id: agg,
        event_type: ty,
        actor: "staff:tester",
        reason: "test",
        payload: json!({ "n": n }),
        occurred_at: 1_700_000_000_000_000 + n,
    }
}

#[tokio::test]
async fn events_chain_per_aggregate_and_verify() {
    let db = testing::fresh().await.unwrap();
    let mut tx = db.begin().await.unwrap();
    let a1 = events::append(&mut tx, &ev("001", "citizen.created", 1))
        .await
        .unwrap();
    let a2 = events::append(&mut tx, &ev("001", "citizen.updated", 2))
        .await
        .unwrap();
    let b1 = events::append(&mut tx, &ev("002", "citizen.created", 3))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!((a1.version, a2.version, b1.version), (1, 2, 1));
    assert_eq!(a1.prev_hash, events::GENESIS_HASH);
    assert_eq!(a2.prev_hash, a1.hash);
    assert_eq!(b1.prev_hash, events::GENESIS_HASH);

    let report = events::verify_all(&db).await.unwrap();
    assert_eq!(report.events, 3);
    assert_eq!(report.aggregates, 2);
    assert!(report.breaks.is_empty(), "{:?}", report.breaks);

    let created = events::by_type(&db, "citizen.created", 0, i64::MAX, 0, 10)
        .await
        .unwrap();
    assert_eq!(created.len(), 2);
    assert_eq!(
        events::for_aggregate(&db, "citizen", "001")
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn events_refuse_update_and_delete() {
    let db = testing::fresh().await.unwrap();
    let mut tx = db.begin().await.unwrap();
    events::append(&mut tx, &ev("001", "citizen.created", 1))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let upd: Result<u64, sqlx::Error> = on_write!(&db, c => {
        sqlx::query("UPDATE events SET reason = 'tampered'").execute(c).await.map(|r| r.rows_affected())
    });
    assert!(upd.unwrap_err().to_string().contains("append-only"));
    let del: Result<u64, sqlx::Error> = on_write!(&db, c => {
        sqlx::query("DELETE FROM events").execute(c).await.map(|r| r.rows_affected())
    });
    assert!(del.is_err());
}

#[tokio::test]
async fn tampering_is_detected_by_the_verifier() {
    let db = testing::fresh().await.unwrap();
    let mut tx = db.begin().await.unwrap();
    events::append(&mut tx, &ev("001", "citizen.created", 1))
        .await
        .unwrap();
    events::append(&mut tx, &ev("001", "citizen.updated", 2))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // Someone with direct database access drops the trigger and edits history.
    let drop_and_edit = match db.engine() {
        Engine::Sqlite => vec![
            "DROP TRIGGER events_no_update",
            "UPDATE events SET payload = '{\"n\":99}' WHERE version = 1",
        ],
        Engine::Postgres => vec![
            "DROP TRIGGER events_no_update ON events",
            "UPDATE events SET payload = '{\"n\":99}' WHERE version = 1",
        ],
    };
    for sql in drop_and_edit {
        let r: Result<u64, sqlx::Error> = on_write!(&db, c => {
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(c).await.map(|r| r.rows_affected())
        });
        r.unwrap();
    }
    let report = events::verify_all(&db).await.unwrap();
    assert_eq!(report.breaks.len(), 1, "{:?}", report.breaks);
    assert!(report.breaks[0].contains("v1"));
}

/// Two writers append to one aggregate at once. PostgreSQL lets both read the same head and
/// the version's unique constraint makes the second lose; SQLite's write lock makes the second
/// wait and then append after the first. Either way the chain stays whole.
#[tokio::test]
async fn concurrent_appends_to_one_aggregate_cannot_both_win() {
    let db = testing::fresh().await.unwrap();
    let db2 = Db::connect(&db.url).await.unwrap();
    let mut t1 = db.begin().await.unwrap();
    events::append(&mut t1, &ev("007", "citizen.created", 1))
        .await
        .unwrap();
    let second = tokio::spawn(async move {
        let mut t2 = db2.begin().await?;
        events::append(&mut t2, &ev("007", "citizen.created", 2)).await?;
        t2.commit().await
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    t1.commit().await.unwrap();
    let r = second.await.unwrap();
    let report = events::verify_all(&db).await.unwrap();
    assert!(report.breaks.is_empty(), "{:?}", report.breaks);
    match db.engine() {
        Engine::Postgres => {
            assert!(r.is_err(), "the second writer must lose");
            assert_eq!(report.events, 1);
        }
        Engine::Sqlite => {
            r.unwrap();
            let versions: Vec<i64> = events::for_aggregate(&db, "citizen", "007")
                .await
                .unwrap()
                .iter()
                .map(|e| e.version)
                .collect();
            assert_eq!(
                versions,
                [1, 2],
                "the second waited and appended after the first"
            );
        }
    }
}

#[tokio::test]
async fn jobs_are_claimed_once_by_competing_processes() {
    let db = testing::fresh().await.unwrap();
    let mut tx = db.begin().await.unwrap();
    for i in 0..200 {
        jobs::enqueue(&mut tx, "mail", &json!({ "i": i }), 0, 3)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    // A second pool on the same database stands for a second `motcua serve` process.
    let other = Db::connect(&db.url).await.unwrap();
    let now = motcua_db::clock::now_us();
    let mut handles = Vec::new();
    for (w, handle) in [("node-a", db.db.clone()), ("node-b", other.clone())]
        .into_iter()
        .flat_map(|(w, d)| [(w, d.clone()), (w, d)])
    {
        handles.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = jobs::claim(&handle, "mail", w, 7, 60_000_000, now)
                    .await
                    .unwrap();
                if batch.is_empty() {
                    break;
                }
                for j in batch {
                    assert!(jobs::complete(&handle, &j.id, w, now).await.unwrap());
                    mine.push(j.id);
                }
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap());
    }
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!(n, 200, "every job processed exactly once");
    assert_eq!(all.len(), 200);
    let counts = jobs::counts(&db).await.unwrap();
    assert_eq!(counts, vec![("mail".into(), "done".into(), 200)]);
}

#[tokio::test]
async fn expired_leases_are_reclaimed_and_failures_back_off() {
    let db = testing::fresh().await.unwrap();
    let mut tx = db.begin().await.unwrap();
    jobs::enqueue(&mut tx, "sms", &json!({}), 0, 2)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let t0 = 1_000_000_000;
    let first = jobs::claim(&db, "sms", "dead-node", 10, 1_000, t0)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    // Lease still valid: nothing to claim.
    assert!(
        jobs::claim(&db, "sms", "node-b", 10, 1_000, t0 + 500)
            .await
            .unwrap()
            .is_empty()
    );
    // Lease expired: another node takes it; the dead node can no longer complete it.
    let again = jobs::claim(&db, "sms", "node-b", 10, 1_000, t0 + 2_000)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 2);
    assert!(
        !jobs::complete(&db, &again[0].id, "dead-node", t0 + 2_100)
            .await
            .unwrap()
    );
    // Out of attempts (max 2) → dead.
    let outcome = jobs::fail(
        &db,
        &again[0].id,
        "node-b",
        "gateway down",
        t0 + 3_200,
        t0 + 2_200,
    )
    .await
    .unwrap();
    assert_eq!(outcome, jobs::FailOutcome::Dead);
}

#[tokio::test]
async fn failed_job_is_retried_later() {
    let db = testing::fresh().await.unwrap();
    let mut tx = db.begin().await.unwrap();
    jobs::enqueue(&mut tx, "sms", &json!({}), 0, 5)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let t0 = 5_000_000;
    let j = jobs::claim(&db, "sms", "n", 1, 1_000_000, t0)
        .await
        .unwrap()
        .remove(0);
    let out = jobs::fail(&db, &j.id, "n", "timeout", t0 + 10_000, t0)
        .await
        .unwrap();
    assert_eq!(out, jobs::FailOutcome::Retry(t0 + 10_000));
    assert!(
        jobs::claim(&db, "sms", "n", 1, 1_000, t0 + 5_000)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        jobs::claim(&db, "sms", "n", 1, 1_000, t0 + 10_000)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn enqueue_one(db: &Db, kind: &str, run_at: i64, max_attempts: i32) -> String {
    let mut tx = db.begin().await.unwrap();
    let id = jobs::enqueue(&mut tx, kind, &json!({}), run_at, max_attempts)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

#[tokio::test]
async fn renewed_lease_is_not_taken_over_and_release_gives_the_job_back() {
    let db = testing::fresh().await.unwrap();
    let id = enqueue_one(&db, "mail.send", 0, 3).await;
    let t0 = 1_000_000_000;
    let j = jobs::claim_due(&db, "a", 10, 1_000, t0).await.unwrap();
    assert_eq!(j.len(), 1);
    // A heartbeat before expiry keeps the job from node b.
    assert!(jobs::renew(&db, &id, "a", 10_000, t0 + 900).await.unwrap());
    assert!(
        jobs::claim_due(&db, "b", 10, 1_000, t0 + 2_000)
            .await
            .unwrap()
            .is_empty()
    );
    // Only the holder renews.
    assert!(
        !jobs::renew(&db, &id, "b", 10_000, t0 + 2_000)
            .await
            .unwrap()
    );
    // Released at shutdown: pending again, the attempt not counted.
    assert!(jobs::release(&db, &id, "a", t0 + 3_000).await.unwrap());
    let row = jobs::get(&db, &id).await.unwrap().unwrap();
    assert_eq!((row.status.as_str(), row.attempts), ("pending", 0));
    let again = jobs::claim_due(&db, "b", 10, 1_000, t0 + 3_000)
        .await
        .unwrap();
    assert_eq!((again.len(), again[0].attempts), (1, 1));
}

#[tokio::test]
async fn scheduled_job_waits_for_its_time() {
    let db = testing::fresh().await.unwrap();
    let t0 = 1_000_000_000;
    let id = enqueue_one(&db, "backoffice.escalate", t0 + 60_000_000, 3).await;
    assert!(
        jobs::claim_due(&db, "n", 10, 1_000, t0)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        jobs::claim_due(&db, "n", 10, 1_000, t0 + 59_999_999)
            .await
            .unwrap()
            .is_empty()
    );
    let due = jobs::claim_due(&db, "n", 10, 1_000, t0 + 60_000_000)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].id, id);
}

#[tokio::test]
async fn permanent_failure_is_dead_at_once_and_keeps_the_error() {
    let db = testing::fresh().await.unwrap();
    let id = enqueue_one(&db, "mail.send", 0, 5).await;
    jobs::claim_due(&db, "n", 1, 1_000_000, 10).await.unwrap();
    assert!(
        !jobs::fail_permanently(&db, &id, "other", "x", 20)
            .await
            .unwrap()
    );
    assert!(
        jobs::fail_permanently(&db, &id, "n", "recipient refused", 20)
            .await
            .unwrap()
    );
    let row = jobs::get(&db, &id).await.unwrap().unwrap();
    assert_eq!(row.status, "dead");
    assert_eq!(row.last_error.as_deref(), Some("recipient refused"));
    assert!(
        jobs::claim_due(&db, "n", 1, 1_000, 1_000_000_000)
            .await
            .unwrap()
            .is_empty()
    );
}

#[test]
fn backoff_doubles_is_capped_and_jittered_into_its_upper_half() {
    assert_eq!(jobs::backoff_us(1, 1_000, 1_000_000, 1.0), 1_000);
    assert_eq!(jobs::backoff_us(3, 1_000, 1_000_000, 1.0), 4_000);
    assert_eq!(jobs::backoff_us(3, 1_000, 1_000_000, 0.0), 2_000);
    assert_eq!(jobs::backoff_us(30, 1_000, 1_000_000, 1.0), 1_000_000);
    let mid = jobs::backoff_us(2, 1_000, 1_000_000, 0.5);
    assert!((1_000..2_000).contains(&mid), "{mid}");
}

#[tokio::test]
async fn dedup_key_enqueues_once() {
    let db = testing::fresh().await.unwrap();
    let payload = json!({ "to": "a@example.vn" });
    let job = jobs::NewJob {
        kind: "mail.send",
        payload: &payload,
        run_at: 0,
        max_attempts: 3,
        dedup_key: Some("otp:42"),
    };
    let mut tx = db.begin().await.unwrap();
    let first = jobs::enqueue_job(&mut tx, &job).await.unwrap();
    let second = jobs::enqueue_job(&mut tx, &job).await.unwrap();
    // The transaction is still usable after the conflict (PostgreSQL would abort it otherwise).
    let other = jobs::enqueue_job(
        &mut tx,
        &jobs::NewJob {
            dedup_key: Some("otp:43"),
            ..job.clone()
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(first.is_some());
    assert_eq!(second, None);
    assert!(other.is_some());
    assert_eq!(
        jobs::counts(&db).await.unwrap(),
        vec![("mail.send".into(), "pending".into(), 2)]
    );
}

#[tokio::test]
async fn recurring_job_is_enqueued_once_per_period_across_nodes() {
    let db = testing::fresh().await.unwrap();
    let other = Db::connect(&db.url).await.unwrap();
    let hour = 3_600_000_000i64;
    let now = 1_000 * hour + 17;
    let (a, b) = tokio::join!(
        jobs::enqueue_recurring(&db, "audit.seal", hour, 3, now),
        jobs::enqueue_recurring(&other, "audit.seal", hour, 3, now + 5),
    );
    assert_eq!([a.unwrap(), b.unwrap()].iter().filter(|x| **x).count(), 1);
    // A restart later in the same hour enqueues nothing; the next hour does.
    assert!(
        !jobs::enqueue_recurring(&db, "audit.seal", hour, 3, now + hour / 2)
            .await
            .unwrap()
    );
    assert!(
        jobs::enqueue_recurring(&other, "audit.seal", hour, 3, now + hour)
            .await
            .unwrap()
    );
    let due = jobs::claim_due(&db, "n", 10, 1_000, now + hour)
        .await
        .unwrap();
    assert_eq!(due.len(), 2);
    // UPDATE … RETURNING gives no order on PostgreSQL.
    let mut starts: Vec<i64> = due
        .iter()
        .map(|j| {
            serde_json::from_str::<serde_json::Value>(&j.payload).unwrap()["period_start"]
                .as_i64()
                .unwrap()
        })
        .collect();
    starts.sort_unstable();
    assert_eq!(starts, vec![1_000 * hour, 1_001 * hour]);
}

#[tokio::test]
async fn operator_retries_dead_and_cancels_queued_jobs_with_events() {
    let db = testing::fresh().await.unwrap();
    let dead = enqueue_one(&db, "mail.send", 0, 1).await;
    jobs::claim_due(&db, "n", 1, 1_000_000, 10).await.unwrap();
    assert_eq!(
        jobs::fail(&db, &dead, "n", "smtp down", 20, 15)
            .await
            .unwrap(),
        jobs::FailOutcome::Dead
    );
    let queued = enqueue_one(&db, "mail.send", 1_000_000_000_000, 3).await;
    assert_eq!(
        jobs::view_counts(&db).await.unwrap()[..4],
        [
            (jobs::View::Queued, 1),
            (jobs::View::Running, 0),
            (jobs::View::Retrying, 0),
            (jobs::View::Dead, 1),
        ]
    );
    // Neither action applies to the other's status.
    assert_eq!(
        jobs::cancel(&db, &dead, "staff:admin", 30).await.unwrap(),
        jobs::AdminOutcome::WrongStatus
    );
    assert_eq!(
        jobs::retry(&db, &queued, "staff:admin", 30).await.unwrap(),
        jobs::AdminOutcome::WrongStatus
    );
    assert_eq!(
        jobs::retry(&db, "no-such-job", "staff:admin", 30)
            .await
            .unwrap(),
        jobs::AdminOutcome::NotFound
    );
    assert_eq!(
        jobs::retry(&db, &dead, "staff:admin", 40).await.unwrap(),
        jobs::AdminOutcome::Done
    );
    assert_eq!(
        jobs::cancel(&db, &queued, "staff:admin", 50).await.unwrap(),
        jobs::AdminOutcome::Done
    );
    let row = jobs::get(&db, &dead).await.unwrap().unwrap();
    assert_eq!(
        (row.status.as_str(), row.attempts, row.run_at),
        ("pending", 0, 40)
    );
    assert_eq!(
        jobs::get(&db, &queued).await.unwrap().unwrap().status,
        "cancelled"
    );
    // A cancelled job is never claimed; the retried one is.
    let claimed = jobs::claim_due(&db, "n", 10, 1_000, 2_000_000_000_000)
        .await
        .unwrap();
    assert_eq!(
        claimed.iter().map(|j| j.id.clone()).collect::<Vec<_>>(),
        vec![dead.clone()]
    );
    for (id, ty) in [(&dead, "job.retried"), (&queued, "job.cancelled")] {
        let evs = events::for_aggregate(&db, "job", id).await.unwrap();
        assert_eq!(evs.len(), 1);
        assert_eq!(
            (evs[0].event_type.as_str(), evs[0].actor.as_str()),
            (ty, "staff:admin")
        );
    }
    let listed = jobs::list(&db, jobs::View::Cancelled, None, 10)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, queued);
}

#[tokio::test]
async fn list_pages_newest_first() {
    let db = testing::fresh().await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(enqueue_one(&db, "mail.send", 0, 3).await);
    }
    let first = jobs::list(&db, jobs::View::Queued, None, 2).await.unwrap();
    let second = jobs::list(&db, jobs::View::Queued, Some(&first[1].id), 2)
        .await
        .unwrap();
    let third = jobs::list(&db, jobs::View::Queued, Some(&second[1].id), 2)
        .await
        .unwrap();
    let seen: Vec<String> = first
        .iter()
        .chain(&second)
        .chain(&third)
        .map(|j| j.id.clone())
        .collect();
    ids.reverse();
    assert_eq!(seen, ids);
}

fn fast_worker(node: &str) -> jobs::worker::WorkerConfig {
    jobs::worker::WorkerConfig {
        concurrency: 3,
        lease: std::time::Duration::from_millis(300),
        poll_min: std::time::Duration::from_millis(5),
        poll_max: std::time::Duration::from_millis(20),
        backoff_base: std::time::Duration::from_millis(1),
        backoff_max: std::time::Duration::from_millis(5),
        shutdown_grace: std::time::Duration::from_millis(200),
        node: node.into(),
    }
}

async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn worker_runs_handlers_retries_and_buries_unknown_kinds() {
    use jobs::worker::{JobError, Registry};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let db = testing::fresh().await.unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let mut registry = Registry::new();
    let counter = Arc::clone(&ran);
    registry.register("test.ok", move |_run| {
        let counter = Arc::clone(&counter);
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    });
    // Fails twice, then succeeds: the third attempt completes the job.
    registry.register("test.flaky", |run| async move {
        if run.job.attempts < 3 {
            Err(JobError::Retryable(format!(
                "attempt {} failed",
                run.job.attempts
            )))
        } else {
            Ok(())
        }
    });
    registry.register("test.never", |_run| async {
        Err(JobError::Retryable("always down".into()))
    });
    registry.register("test.bad", |_run| async {
        Err(JobError::Permanent("malformed payload".into()))
    });
    let mut ids = BTreeMap::new();
    for kind in [
        "test.ok",
        "test.flaky",
        "test.never",
        "test.bad",
        "test.unknown",
    ] {
        ids.insert(kind, enqueue_one(&db, kind, 0, 3).await);
    }
    let worker = jobs::worker::start(db.db.clone(), registry, fast_worker("w1"));
    let handle = db.db.clone();
    wait_until("every job settled", || {
        let handle = handle.clone();
        async move {
            let c = jobs::view_counts(&handle).await.unwrap();
            c.iter()
                .filter(|(v, _)| matches!(v, jobs::View::Done | jobs::View::Dead))
                .map(|(_, n)| n)
                .sum::<i64>()
                == 5
        }
    })
    .await;
    worker.shutdown().await;
    let row = |kind: &'static str| {
        let db = db.db.clone();
        let id = ids[kind].clone();
        async move { jobs::get(&db, &id).await.unwrap().unwrap() }
    };
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    let ok = row("test.ok").await;
    assert_eq!((ok.status.as_str(), ok.attempts), ("done", 1));
    let flaky = row("test.flaky").await;
    assert_eq!((flaky.status.as_str(), flaky.attempts), ("done", 3));
    let never = row("test.never").await;
    assert_eq!((never.status.as_str(), never.attempts), ("dead", 3));
    assert_eq!(never.last_error.as_deref(), Some("always down"));
    let bad = row("test.bad").await;
    assert_eq!((bad.status.as_str(), bad.attempts), ("dead", 1));
    let unknown = row("test.unknown").await;
    assert_eq!(unknown.status, "dead");
    assert!(
        unknown
            .last_error
            .unwrap()
            .contains("no handler is registered for the kind \"test.unknown\"")
    );
}

#[tokio::test]
async fn worker_renews_long_jobs_and_releases_unfinished_ones_at_shutdown() {
    use jobs::worker::Registry;
    let db = testing::fresh().await.unwrap();
    let mut registry = Registry::new();
    // Runs for several lease lengths: the heartbeat must keep it from a second worker.
    registry.register("test.slow", |_run| async {
        tokio::time::sleep(std::time::Duration::from_millis(1_000)).await;
        Ok(())
    });
    registry.register("test.stuck", |_run| async {
        tokio::time::sleep(std::time::Duration::from_secs(3_600)).await;
        Ok(())
    });
    let slow = enqueue_one(&db, "test.slow", 0, 1).await;
    let w1 = jobs::worker::start(db.db.clone(), registry.clone(), fast_worker("w1"));
    let other = Db::connect(&db.url).await.unwrap();
    let w2 = jobs::worker::start(other, registry.clone(), fast_worker("w2"));
    let handle = db.db.clone();
    wait_until("the slow job done", || {
        let handle = handle.clone();
        let slow = slow.clone();
        async move { jobs::get(&handle, &slow).await.unwrap().unwrap().status == "done" }
    })
    .await;
    // One attempt only (max_attempts 1): a takeover would have made it two, and dead.
    assert_eq!(jobs::get(&db, &slow).await.unwrap().unwrap().attempts, 1);
    w2.shutdown().await;
    let stuck = enqueue_one(&db, "test.stuck", 0, 3).await;
    wait_until("the stuck job running", || {
        let handle = handle.clone();
        let stuck = stuck.clone();
        async move { jobs::get(&handle, &stuck).await.unwrap().unwrap().status == "running" }
    })
    .await;
    w1.shutdown().await;
    let row = jobs::get(&db, &stuck).await.unwrap().unwrap();
    assert_eq!(
        (row.status.as_str(), row.attempts, row.lease_owner),
        ("pending", 0, None)
    );
}

#[tokio::test]
async fn recurring_kind_runs_once_per_period_with_two_workers() {
    use jobs::worker::Registry;
    let db = testing::fresh().await.unwrap();
    let mut registry = Registry::new();
    registry.register("test.tick", |_run| async { Ok(()) });
    // A period of a day: both workers start within it, so exactly one occurrence exists.
    registry.every("test.tick", std::time::Duration::from_secs(86_400), 3);
    let other = Db::connect(&db.url).await.unwrap();
    let w1 = jobs::worker::start(db.db.clone(), registry.clone(), fast_worker("w1"));
    let w2 = jobs::worker::start(other, registry, fast_worker("w2"));
    let handle = db.db.clone();
    wait_until("the occurrence done", || {
        let handle = handle.clone();
        async move {
            jobs::counts(&handle).await.unwrap() == vec![("test.tick".into(), "done".into(), 1)]
        }
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    w1.shutdown().await;
    w2.shutdown().await;
    assert_eq!(
        jobs::counts(&db).await.unwrap(),
        vec![("test.tick".into(), "done".into(), 1)]
    );
}

#[tokio::test]
async fn rolled_back_transaction_leaves_nothing() {
    let db = testing::fresh().await.unwrap();
    let mut tx = db.begin().await.unwrap();
    events::append(&mut tx, &ev("009", "citizen.created", 1))
        .await
        .unwrap();
    jobs::enqueue(&mut tx, "mail", &json!({}), 0, 1)
        .await
        .unwrap();
    drop(tx);
    assert_eq!(events::verify_all(&db).await.unwrap().events, 0);
    assert!(jobs::counts(&db).await.unwrap().is_empty());
}

fn access_entry(i: i64, pid: i64) -> access_log::AccessEntry {
    access_log::AccessEntry {
        at: 1_000 + i,
        actor_kind: access_log::ActorKind::Client,
        actor_id: "c1".into(),
        actor_name: "Cục Thuế".into(),
        action: "verify".into(),
        purpose: "tax registration".into(),
        reference: None,
        subject_pid: Some(pid),
        outcome: "match".into(),
        request_id: Some(format!("r{i}")),
    }
}

async fn record_concurrently(log: &access_log::AccessLog, range: std::ops::Range<i64>) {
    let mut handles = Vec::new();
    for i in range {
        let log = log.clone();
        handles.push(tokio::spawn(async move {
            log.record(access_entry(i, 1_095_012_345 + (i % 3))).await
        }));
    }
    for h in handles {
        h.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn access_log_group_commit_records_every_entry() {
    let db = testing::fresh().await.unwrap();
    let log = access_log::AccessLog::start(db.db.clone());
    record_concurrently(&log, 0..300).await;
    assert_eq!(log.count().await.unwrap(), 300);
    // Journaled and copied (SQLite) or written directly (PostgreSQL), the chain is whole.
    let report = access_log::verify(&db).await.unwrap();
    assert!(report.breaks.is_empty(), "{:?}", report.breaks);
    assert_eq!(report.entries, 300);
    let mine = log.by_subject(1_095_012_345, 1000).await.unwrap();
    assert_eq!(mine.len(), 100);
    assert!(mine.windows(2).all(|w| w[0].at >= w[1].at), "newest first");
    assert_eq!(mine.last().unwrap().actor_name, "Cục Thuế");
}

/// Why the journal's tests do not apply on PostgreSQL.
const NO_JOURNAL: &str = "PostgreSQL writes the access log directly: there is no journal";

/// The journal directory of a test database, when it has one (SQLite).
/// The entries in the database once the journal is copied. A reader waits 10 s for the
/// ingester; a journal of many thousand entries, copied at idle priority on a machine busy
/// with other work, may take longer, so the wait is repeated (what is checked is that every
/// entry arrives, not how fast).
async fn copied_count(log: &access_log::AccessLog) -> i64 {
    let mut tries = 0;
    loop {
        match log.count().await {
            Ok(n) => return n,
            Err(e) if tries < 8 => {
                tries += 1;
                eprintln!("the access log is still being copied ({e}); waiting again");
            }
            Err(e) => panic!("the journal was never copied: {e}"),
        }
    }
}

fn journal_dir(db: &Db) -> Option<std::path::PathBuf> {
    db.sqlite_path().map(access_log::journal_dir_for)
}

/// Waits until no process or thread holds the journal (a dropped log's writer ends shortly
/// after its last handle goes).
async fn journal_released(dir: &std::path::Path) {
    for _ in 0..200 {
        if let access_log::journal::Opened::Journal(_) =
            access_log::journal::Journal::open(dir, 0).unwrap()
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the journal stayed locked");
}

/// Opens the journal as the process that writes it (none other may hold it).
fn open_journal(dir: &std::path::Path) -> access_log::journal::Journal {
    match access_log::journal::Journal::open(dir, 0).unwrap() {
        access_log::journal::Opened::Journal(j) => j,
        access_log::journal::Opened::Busy => panic!("journal busy"),
    }
}

/// The number of journal segments once the ingester has removed those it copied (waits up to
/// two seconds for it to come down to one, the segment being written).
async fn segments_settled(dir: &std::path::Path) -> usize {
    let mut left = usize::MAX;
    for _ in 0..200 {
        left = access_log::journal::segments(dir).unwrap().len();
        if left == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    left
}

/// Entries journaled by a process that stopped before copying them reach the database on the
/// next start, exactly once; a torn record at the end of the journal is dropped.
#[tokio::test]
async fn journaled_entries_survive_a_restart_exactly_once() {
    let db = testing::fresh().await.unwrap();
    let Some(dir) = journal_dir(&db) else {
        return testing::skipped(
            "journaled_entries_survive_a_restart_exactly_once",
            NO_JOURNAL,
        );
    };
    // A process that journaled 50 entries and died before its ingester ran.
    let mut journal = open_journal(&dir);
    let entries: Vec<_> = (0..50).map(|i| access_entry(i, 79_085_000_000)).collect();
    let durable = journal.append(entries.iter()).unwrap();
    drop(journal);
    // …and was writing the header of one more when it died.
    let segment = access_log::journal::segment_path(&dir, durable.segment);
    let mut torn = std::fs::read(&segment).unwrap();
    let end = durable.len as usize;
    torn[end..end + 6].copy_from_slice(&[7, 0, 0, 0, 1, 2]);
    std::fs::write(&segment, torn).unwrap();

    let log = access_log::AccessLog::start(db.db.clone());
    assert_eq!(log.count().await.unwrap(), 50);
    // The segment with the torn record is kept aside for the operator, not deleted.
    let kept: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().into_string().ok())
        .filter(|n| n.ends_with(".damaged"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    record_concurrently(&log, 50..60).await;
    assert_eq!(log.count().await.unwrap(), 60);
    drop(log);
    journal_released(&dir).await;
    // The restarted log finds its records already copied and does not copy them again.
    let log = access_log::AccessLog::start(db.db.clone());
    record_concurrently(&log, 60..61).await;
    assert_eq!(log.count().await.unwrap(), 61);
    let theirs = log.by_subject(79_085_000_000, 1000).await.unwrap();
    assert_eq!(theirs.len(), 50);
    drop(log);
    journal_released(&dir).await;
    // A start with nothing new still removes the segments earlier runs closed: only the one
    // being written remains.
    let log = access_log::AccessLog::start(db.db.clone());
    assert_eq!(segments_settled(&dir).await, 1);
    assert_eq!(log.count().await.unwrap(), 61);
}

/// A journal of several segments, each read in many windows, left by a process that stopped
/// before copying: every record reaches the database once, and the closed segments go. More
/// than a run of entries: a sorted run goes into the per-citizen index, and a citizen's
/// list is whole both before and after it.
#[tokio::test]
async fn a_journal_of_several_segments_is_copied_whole() {
    let db = testing::fresh().await.unwrap();
    let Some(dir) = journal_dir(&db) else {
        return testing::skipped("a_journal_of_several_segments_is_copied_whole", NO_JOURNAL);
    };
    let mut journal = open_journal(&dir);
    let total: i64 = access_log::INDEX_RUN + 4_464;
    for chunk in (0..total).collect::<Vec<_>>().chunks(500) {
        // Two hours apart: the index is keyed by day, and a citizen's list spans years.
        let entries: Vec<_> = chunk
            .iter()
            .map(|&i| access_log::AccessEntry {
                at: 1_700_000_000_000_000 + i * 7_200_000_000,
                ..access_entry(i, 1_095_000_000 + i % 7)
            })
            .collect();
        journal.append(entries.iter()).unwrap();
    }
    drop(journal);
    assert!(access_log::journal::segments(&dir).unwrap().len() >= 3);

    let log = access_log::AccessLog::start(db.db.clone());
    assert_eq!(copied_count(&log).await, total);
    let report = access_log::verify(&db).await.unwrap();
    assert!(report.breaks.is_empty(), "{:?}", report.breaks);
    assert_eq!(report.entries, total as u64);
    assert!(report.days > 100, "entries two hours apart span many days");
    let expected = (0..total).filter(|i| i % 7 == 3).count();
    let theirs = log.by_subject(1_095_000_003, 100_000).await.unwrap();
    assert_eq!(theirs.len(), expected);
    let indexed_id = || async {
        on_read!(&db.db, c => {
            sqlx::query_scalar::<_, i64>("SELECT indexed_id FROM audit.access_log_indexing")
                .fetch_one(c)
                .await
        })
        .unwrap()
    };
    // The ingester runs at idle priority: on a machine busy with other work it may wait long
    // for a core, so the wait is generous (it ends as soon as the run is in).
    let mut indexed = 0;
    for _ in 0..3_000 {
        indexed = indexed_id().await;
        if indexed >= access_log::INDEX_RUN {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        indexed,
        access_log::INDEX_RUN,
        "one sorted run, the rest waits"
    );
    let theirs = log.by_subject(1_095_000_003, 100_000).await.unwrap();
    assert_eq!(theirs.len(), expected);
    assert!(
        theirs.windows(2).all(|w| w[0].at >= w[1].at),
        "newest first"
    );
    let newest = log.by_subject(1_095_000_003, 3).await.unwrap();
    assert_eq!(newest[..], theirs[..3]);
    assert_eq!(
        segments_settled(&dir).await,
        1,
        "only the segment being written remains"
    );
}

/// Many entries in a burst: the ingester copies in batches without waiting to be asked.
#[tokio::test]
async fn the_ingester_copies_without_a_reader_asking() {
    let db = testing::fresh().await.unwrap();
    if journal_dir(&db).is_none() {
        return testing::skipped("the_ingester_copies_without_a_reader_asking", NO_JOURNAL);
    }
    let log = access_log::AccessLog::start(db.db.clone());
    let total = access_log::INGEST_AT as i64 + 100;
    record_concurrently(&log, 0..total).await;
    let mut stored = 0;
    for _ in 0..100 {
        stored = access_log::stored_count(&db).await.unwrap();
        if stored == total {
            break;
        }
        tokio::time::sleep(access_log::INGEST_EVERY / 5).await;
    }
    assert_eq!(stored, total, "copied within a few intervals");
}

/// When another process holds the journal, entries go straight into the database.
#[tokio::test]
async fn a_held_journal_falls_back_to_direct_writes() {
    let db = testing::fresh().await.unwrap();
    let Some(dir) = journal_dir(&db) else {
        return testing::skipped("a_held_journal_falls_back_to_direct_writes", NO_JOURNAL);
    };
    let _other = access_log::journal::Journal::open(&dir, 0).unwrap();
    let log = access_log::AccessLog::start(db.db.clone());
    record_concurrently(&log, 0..20).await;
    assert_eq!(access_log::stored_count(&db).await.unwrap(), 20);
}

/// A missing access-log file (archived or lost) gets its schema back on the next start.
#[tokio::test]
async fn a_missing_audit_file_is_recreated_at_start() {
    if testing::on_postgres() {
        return testing::skipped(
            "a_missing_audit_file_is_recreated_at_start",
            "the access log's separate file exists on SQLite only",
        );
    }
    let db = testing::fresh().await.unwrap();
    let path = db.sqlite_path().unwrap().to_owned();
    db.close().await;
    let audit = motcua_db::audit_file(&path);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", audit.display()));
    }
    let reopened = Db::connect(&db.url).await.unwrap();
    migrate::run(&reopened).await.unwrap();
    let log = access_log::AccessLog::start(reopened.clone());
    log.record(access_log::AccessEntry {
        at: 1,
        actor_kind: access_log::ActorKind::System,
        actor_id: "t".into(),
        actor_name: "t".into(),
        action: "view".into(),
        purpose: "test".into(),
        reference: None,
        subject_pid: Some(1),
        outcome: "found".into(),
        request_id: None,
    })
    .await
    .unwrap();
    assert_eq!(log.count().await.unwrap(), 1);
}

// ---------------------------------------------------------------------------------------
// The access log's chain

/// One day's worth of entries in the past (1970-01-01, day 0) plus `later` on day 1.
async fn chained_entries(db: &Db, first_day: i64, later: i64) -> Vec<i64> {
    let day0: Vec<_> = (0..first_day)
        .map(|i| access_entry(i, 1_095_012_345))
        .collect();
    let day1: Vec<_> = (0..later)
        .map(|i| access_log::AccessEntry {
            at: access_log::chain::DAY_US + i,
            ..access_entry(i, 1_095_012_346)
        })
        .collect();
    // Several batches, the second spanning both days.
    let all: Vec<&access_log::AccessEntry> = day0.iter().chain(day1.iter()).collect();
    for batch in all.chunks(4) {
        access_log::insert_batch(db, batch).await.unwrap();
    }
    let ids: Vec<i64> = on_read!(db, c => {
        sqlx::query_scalar("SELECT id FROM audit.access_log ORDER BY id")
            .fetch_all(c)
            .await
    })
    .unwrap();
    assert_eq!(ids.len() as i64, first_day + later);
    ids
}

/// Runs statements as someone with direct access to the database: each must succeed.
async fn tamper(db: &Db, statements: &[&str]) {
    for sql in statements {
        let r: Result<u64, sqlx::Error> = on_write!(db, c => {
            sqlx::query(sqlx::AssertSqlSafe(*sql)).execute(c).await.map(|r| r.rows_affected())
        });
        r.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

/// `DROP TRIGGER` for one of the access log's triggers (`no_update`, `no_delete`).
fn drop_access_log_trigger(db: &Db, which: &str) -> String {
    match db.engine() {
        Engine::Sqlite => format!("DROP TRIGGER audit.access_log_{which}"),
        Engine::Postgres => format!("DROP TRIGGER access_log_{which} ON audit.access_log"),
    }
}

fn one_break_naming(report: &access_log::AccessLogReport, needles: &[&str]) {
    assert!(
        report
            .breaks
            .iter()
            .any(|b| needles.iter().all(|n| b.contains(n))),
        "no break names {needles:?}: {:?}",
        report.breaks
    );
}

#[tokio::test]
async fn an_intact_access_log_chain_verifies() {
    let db = testing::fresh().await.unwrap();
    let ids = chained_entries(&db, 6, 5).await;
    let report = access_log::verify(&db).await.unwrap();
    assert!(report.breaks.is_empty(), "{:?}", report.breaks);
    assert_eq!((report.entries, report.days, report.unchained), (11, 2, 0));
    // Each day's chain starts from zeros and links entry to entry in id order.
    let rows: Vec<(i64, i64, Vec<u8>, Vec<u8>)> = on_read!(&db, c => {
        sqlx::query_as("SELECT id, at, prev_hash, hash FROM audit.access_log ORDER BY id")
            .fetch_all(c)
            .await
    })
    .unwrap();
    assert_eq!(rows[0].2, vec![0u8; 32]);
    assert_eq!(rows[1].2, rows[0].3);
    let first_of_day1 = rows.iter().position(|r| r.1 >= access_log::chain::DAY_US);
    assert_eq!(rows[first_of_day1.unwrap()].2, vec![0u8; 32]);
    let heads: Vec<(i64, i64, i64)> = on_read!(&db, c => {
        sqlx::query_as("SELECT day, last_id, entries FROM audit.access_log_chain ORDER BY day")
            .fetch_all(c)
            .await
    })
    .unwrap();
    assert_eq!(heads, [(0, ids[5], 6), (1, ids[10], 5)]);
}

#[tokio::test]
async fn the_access_log_refuses_update_and_delete() {
    let db = testing::fresh().await.unwrap();
    chained_entries(&db, 2, 0).await;
    for sql in [
        "UPDATE audit.access_log SET purpose = 'tampered'",
        "DELETE FROM audit.access_log",
    ] {
        let r: Result<u64, sqlx::Error> = on_write!(&db, c => {
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(c).await.map(|r| r.rows_affected())
        });
        let e = r.expect_err(sql).to_string();
        assert!(e.contains("append-only"), "{sql}: {e}");
    }
    assert_eq!(access_log::stored_count(&db).await.unwrap(), 2);
}

#[tokio::test]
async fn an_edited_access_log_entry_is_named() {
    let db = testing::fresh().await.unwrap();
    let ids = chained_entries(&db, 5, 0).await;
    let update = format!(
        "UPDATE audit.access_log SET purpose = 'curiosity' WHERE id = {}",
        ids[2]
    );
    tamper(&db, &[&drop_access_log_trigger(&db, "no_update"), &update]).await;
    let report = access_log::verify(&db).await.unwrap();
    assert_eq!(report.breaks.len(), 1, "{:?}", report.breaks);
    let entry = format!("access log entry {} (day 1970-01-01)", ids[2]);
    one_break_naming(&report, &[&entry, "edited"]);
}

#[tokio::test]
async fn a_removed_access_log_entry_is_named() {
    let db = testing::fresh().await.unwrap();
    let ids = chained_entries(&db, 5, 0).await;
    let delete = format!("DELETE FROM audit.access_log WHERE id = {}", ids[2]);
    tamper(&db, &[&drop_access_log_trigger(&db, "no_delete"), &delete]).await;
    let report = access_log::verify(&db).await.unwrap();
    let next = format!("access log entry {} ", ids[3]);
    let before = format!("entry {})", ids[1]);
    one_break_naming(&report, &[&next, &before, "missing"]);
    // The head still counts five: the count is off too.
    one_break_naming(&report, &["day 1970-01-01", "head mismatch"]);
}

#[tokio::test]
async fn an_access_log_entry_inserted_with_a_forged_link_is_named() {
    let db = testing::fresh().await.unwrap();
    let ids = chained_entries(&db, 3, 0).await;
    // Inserting needs no trigger dropped: the chain alone must catch it. The forger computes
    // a correct hash over a made-up prev_hash.
    let forged_id = ids[2] + 1;
    let e = access_entry(99, 1_095_012_345);
    let prev = [7u8; 32];
    let hash = access_log::chain::entry_hash(&prev, &access_log::chain::Fields::of(forged_id, &e));
    let r: Result<u64, sqlx::Error> = on_write!(&db, c => {
        sqlx::query(
            "INSERT INTO audit.access_log (id, at, actor_kind, actor_id, actor_name, action,
                 purpose, reference, subject_pid, outcome, request_id, prev_hash, hash)
             VALUES ($1, $2, 'client', $3, $4, $5, $6, NULL, $7, $8, $9, $10, $11)",
        )
        .bind(forged_id)
        .bind(e.at)
        .bind(&e.actor_id)
        .bind(&e.actor_name)
        .bind(&e.action)
        .bind(&e.purpose)
        .bind(e.subject_pid)
        .bind(&e.outcome)
        .bind(&e.request_id)
        .bind(prev.to_vec())
        .bind(hash.to_vec())
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    });
    r.unwrap();
    // …and one more without any hash at all.
    let bare = format!(
        "INSERT INTO audit.access_log (id, at, actor_kind, actor_id, actor_name, action, purpose,
             outcome) VALUES ({}, 5, 'staff', 'x', 'x', 'view', 'x', 'found')",
        forged_id + 1
    );
    tamper(&db, &[&bare]).await;
    let report = access_log::verify(&db).await.unwrap();
    let forged = format!("access log entry {forged_id} ");
    one_break_naming(&report, &[&forged, "inserted out of chain"]);
    let bare = format!("access log entry {} ", forged_id + 1);
    one_break_naming(&report, &[&bare, "inserted out of chain", "no hash"]);
    // The head names the last real entry, not the forged one.
    one_break_naming(&report, &["head mismatch"]);
}

#[tokio::test]
async fn entries_from_before_the_chain_are_counted_as_unchained() {
    let db = testing::fresh().await.unwrap();
    // As migration 0007 finds them: rows without hashes, the last of them marked.
    tamper(
        &db,
        &[
            "INSERT INTO audit.access_log (at, actor_kind, actor_id, actor_name, action, purpose,
                 outcome) VALUES (5, 'staff', 'x', 'x', 'view', 'x', 'found')",
            "UPDATE audit.access_log_unchained
             SET last_id = (SELECT MAX(id) FROM audit.access_log)",
        ],
    )
    .await;
    let e = access_entry(7, 1_095_012_345);
    access_log::insert_batch(&db, &[&e]).await.unwrap();
    let report = access_log::verify(&db).await.unwrap();
    assert!(report.breaks.is_empty(), "{:?}", report.breaks);
    assert_eq!((report.unchained, report.entries), (1, 1));
}

/// Sealing writes each ended day's head once; a day still extended afterwards (a journal
/// copied late) is sealed again, and every seal keeps verifying.
#[tokio::test]
async fn sealing_days_is_idempotent() {
    let db = testing::fresh().await.unwrap();
    let ids = chained_entries(&db, 3, 2).await;
    let day_us = access_log::chain::DAY_US;
    // Day 1 ends at 2 × DAY_US; within the grace period it is not sealed yet.
    let now = 2 * day_us + access_log::SEAL_GRACE_US / 2;
    let sealed = access_log::seal_days(&db, now).await.unwrap();
    assert_eq!(sealed.len(), 1);
    assert_eq!(
        (sealed[0].day, sealed[0].last_id, sealed[0].entries),
        (0, ids[2], 3)
    );
    assert!(access_log::seal_days(&db, now).await.unwrap().is_empty());
    // Two nodes at once, after the grace period: day 1 is sealed once.
    let later = 2 * day_us + access_log::SEAL_GRACE_US + 1;
    let other = Db::connect(&db.url).await.unwrap();
    let (a, b) = tokio::join!(
        access_log::seal_days(&db, later),
        access_log::seal_days(&other, later)
    );
    assert_eq!(a.unwrap().len() + b.unwrap().len(), 1);
    let seals = events::for_aggregate(&db, access_log::SEAL_AGGREGATE, "1970-01-02")
        .await
        .unwrap();
    assert_eq!(seals.len(), 1);
    assert_eq!(seals[0].event_type, access_log::SEAL_EVENT);
    // A late entry of day 0: sealed again as version 2.
    let late = access_entry(50, 1_095_012_345);
    access_log::insert_batch(&db, &[&late]).await.unwrap();
    let resealed = access_log::seal_days(&db, later).await.unwrap();
    assert_eq!(
        resealed
            .iter()
            .map(|s| (s.day, s.version))
            .collect::<Vec<_>>(),
        [(0, 2)]
    );
    let report = access_log::verify(&db).await.unwrap();
    assert!(report.breaks.is_empty(), "{:?}", report.breaks);
    assert_eq!(report.seals, 3);
}

/// Removing the last entries of a sealed day and rewriting its head to match leaves the
/// chain itself consistent; the seal in the event log catches it.
#[tokio::test]
async fn a_truncated_sealed_day_is_named() {
    let db = testing::fresh().await.unwrap();
    let ids = chained_entries(&db, 4, 0).await;
    let now = 2 * access_log::chain::DAY_US;
    assert_eq!(access_log::seal_days(&db, now).await.unwrap().len(), 1);
    let prev: Vec<u8> = on_read!(&db, c => {
        sqlx::query_scalar("SELECT hash FROM audit.access_log WHERE id = $1")
            .bind(ids[2])
            .fetch_one(c)
            .await
    })
    .unwrap();
    let delete = format!("DELETE FROM audit.access_log WHERE id = {}", ids[3]);
    tamper(&db, &[&drop_access_log_trigger(&db, "no_delete"), &delete]).await;
    let r: Result<u64, sqlx::Error> = on_write!(&db, c => {
        sqlx::query(
            "UPDATE audit.access_log_chain SET last_id = $1, head_hash = $2, entries = 3
             WHERE day = 0",
        )
        .bind(ids[2])
        .bind(prev)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    });
    assert_eq!(r.unwrap(), 1);
    let report = access_log::verify(&db).await.unwrap();
    assert_eq!(report.breaks.len(), 1, "{:?}", report.breaks);
    let removed = format!("ending at entry {},", ids[3]);
    one_break_naming(&report, &["day 1970-01-01", "seal mismatch", &removed]);
}

/// Several writers on their own connections (several nodes, on PostgreSQL truly at once),
/// with batches spanning two days: one unbroken chain per day, no link lost.
#[tokio::test]
async fn concurrent_writers_keep_one_chain_per_day() {
    let db = testing::fresh().await.unwrap();
    let day_us = access_log::chain::DAY_US;
    let mut writers = Vec::new();
    for w in 0..6i64 {
        let node = Db::connect(&db.url).await.unwrap();
        writers.push(tokio::spawn(async move {
            for b in 0..8i64 {
                let entries: Vec<_> = (0..40i64)
                    .map(|i| access_log::AccessEntry {
                        at: day_us - 20 + i,
                        ..access_entry(w * 1_000 + b * 40 + i, 1_095_012_345 + w)
                    })
                    .collect();
                let refs: Vec<_> = entries.iter().collect();
                access_log::insert_batch(&node, &refs).await.unwrap();
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let report = access_log::verify(&db).await.unwrap();
    assert!(report.breaks.is_empty(), "{:?}", report.breaks);
    assert_eq!((report.entries, report.days), (6 * 8 * 40, 2));
    let counts: Vec<i64> = on_read!(&db, c => {
        sqlx::query_scalar("SELECT entries FROM audit.access_log_chain ORDER BY day")
            .fetch_all(c)
            .await
    })
    .unwrap();
    assert_eq!(counts, [6 * 8 * 20, 6 * 8 * 20]);
}
