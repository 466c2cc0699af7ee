//! "Who read my data" for a citizen with a million access-log entries: fills a fresh SQLite
//! database (`--dir`) with `--entries` entries about one PID spread over `--days` days (and as
//! many about other PIDs), then times the first page and pages further back through the
//! cursor, as `/account/accesses` reads them (50 entries a page). Prints one JSON line.

use std::time::Instant;

use motcua_db::Db;
use motcua_db::access_log::{AccessEntry, AccessLog, ActorKind};

const PAGE: i64 = 50;
const DAY_US: i64 = 86_400_000_000;

fn arg(name: &str, default: i64) -> i64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir = args
        .iter()
        .position(|a| a == "--dir")
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| "/tmp/motcua-access-pages".into());
    let entries = arg("--entries", 1_000_000);
    let days = arg("--days", 365).max(1);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let db = Db::connect(&Db::sqlite_url_in(std::path::Path::new(&dir))?).await?;
    motcua_db::migrate::run(&db).await?;
    let log = AccessLog::start(db.clone());
    let subject = 1_095_012_345_i64;
    let start = 1_700_000_000_000_000_i64;
    let step = (days * DAY_US) / entries.max(1);
    let filled = Instant::now();
    let mut batch = Vec::with_capacity(10_000);
    for i in 0..entries * 2 {
        // Every other entry is about another citizen, as in a real log.
        let pid = if i % 2 == 0 {
            subject
        } else {
            79_085_000_000 + i % 1_000
        };
        batch.push(AccessEntry {
            at: start + (i / 2) * step,
            actor_kind: ActorKind::Client,
            actor_id: format!("c{}", i % 7),
            actor_name: format!("Cơ quan {}", i % 7),
            action: "verify".into(),
            purpose: "benchmark".into(),
            reference: None,
            subject_pid: Some(pid),
            outcome: "match".into(),
            request_id: None,
        });
        if batch.len() == 10_000 {
            log.record_all(std::mem::take(&mut batch)).await?;
        }
    }
    log.record_all(batch).await?;
    // The journal is copied in the background; `flush` gives up after a while, so ask again.
    let mut tries = 0;
    while let Err(e) = log.flush().await {
        tries += 1;
        if tries > 60 {
            return Err(e.into());
        }
    }
    let fill_s = filled.elapsed().as_secs_f64();
    // Let the ingester catch up with its sorted runs, as it has on a node in steady state
    // (at most about one run of entries is then read from the log itself).
    tokio::time::sleep(std::time::Duration::from_secs(
        arg("--settle-secs", 30) as u64
    ))
    .await;

    let mut first = Vec::new();
    let mut deep = Vec::new();
    for round in 0..20 {
        let t = Instant::now();
        let page = log.by_subject_before(subject, None, PAGE + 1).await?;
        first.push(t.elapsed().as_secs_f64() * 1000.0);
        // Page back from a point `round` twentieths into her history.
        let cursor = page
            .last()
            .map(|e| (e.at - round * (days * DAY_US / 20), e.id));
        let t = Instant::now();
        let older = log.by_subject_before(subject, cursor, PAGE + 1).await?;
        deep.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(
            older.len() as i64 >= PAGE.min(entries / 2),
            "a full page further back"
        );
    }
    first.sort_by(f64::total_cmp);
    deep.sort_by(f64::total_cmp);
    println!(
        "{{\"entries_about_her\":{entries},\"entries_total\":{},\"days\":{days},\"fill_s\":{fill_s:.1},\"first_page_ms\":{{\"p50\":{:.2},\"max\":{:.2}}},\"older_page_ms\":{{\"p50\":{:.2},\"max\":{:.2}}}}}",
        entries * 2,
        percentile(&first, 0.5),
        percentile(&first, 1.0),
        percentile(&deep, 0.5),
        percentile(&deep, 1.0),
    );
    Ok(())
}
