//! CSV import and export at national scale.
//!
//! Import streams the file: reader threads parse and validate rows ([`crate::row_reader`], line
//! numbers kept for the error report) and hand batches to the writer, which inserts them in PID
//! order, one transaction and one event per batch. A bad row is reported with its line number
//! and reason and nothing of it is stored; good rows are imported.
//! Into an empty table on SQLite, the file is read in runs sorted by PID before validation and
//! written in PID order while it is validated ([`crate::sorted_reader`]), and the secondary
//! indexes are dropped first and rebuilt at the end (building an index once from sorted data
//! is far cheaper than maintaining it row by row).

use std::io::{Read, Write};
use std::time::Instant;

use chrono::NaiveDate;
use motcua_db::Db;
use motcua_db::events::{self, NewEvent};
use serde_json::json;
use tokio::sync::mpsc;

use motcua_domain::spreadsheet::safe_cell;

use crate::citizens;
pub use crate::csv_split::RunLimits;
use crate::error::{FieldError, RegistryError, Result};
use crate::import_event::batch_event;
use crate::import_report::Rejections;
pub use crate::import_report::{ImportReport, NoProgress, Progress, RowError};
use crate::record::{COLUMNS, Citizen, CitizenRecord};
use crate::row_check::already_registered;
pub use crate::row_check::check_header;
use crate::row_reader::{self, Msg};
use crate::store;

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub actor: String,
    pub source_name: String,
    /// Validate every row and report, store nothing.
    pub dry_run: bool,
    /// How many rejected rows to describe in the report (all are counted).
    pub max_reported: usize,
    /// Rows per batch: per transaction when streamed, per event and validator chunk in a
    /// sorted bulk load.
    pub batch_rows: usize,
    /// How much of the file a sorted bulk load reads before it writes.
    pub sorted_run: RunLimits,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            actor: "system".into(),
            source_name: "stdin".into(),
            dry_run: false,
            max_reported: 1000,
            batch_rows: 20_000,
            sorted_run: RunLimits::default(),
        }
    }
}

/// Imports citizens from CSV. Rows that fail validation, repeat a PID in the file or are
/// already registered are rejected and reported; every other row is stored whole.
pub async fn import<R: Read + Send + 'static>(
    db: &Db,
    input: R,
    today: NaiveDate,
    opts: &ImportOptions,
    progress: Box<dyn Progress>,
) -> Result<ImportReport> {
    let started = Instant::now();
    let import_id = motcua_db::new_id();
    let bulk = !opts.dry_run && citizens::count(db).await? == 0;
    // On SQLite, batches go through a direct connection with a large page cache (a sorted
    // run into an empty table shrinks it; see `RawWriter::store_sorted`).
    let mut raw = if opts.dry_run {
        None
    } else {
        motcua_db::raw::sqlite_writer(db, 512)?.map(crate::bulk_sqlite::RawWriter::new)
    };
    if bulk {
        set_secondary_indexes(db, false).await?;
    }
    if !opts.dry_run {
        let now = motcua_db::clock::now_us();
        store::imports::insert(db, &import_id, &opts.source_name, &opts.actor, now).await?;
    }

    // Into an empty table on SQLite, rows are written in PID order: appending to the B-tree is
    // several times cheaper than inserting at random places. Whatever happens below, the
    // indexes dropped above are rebuilt before this returns.
    let outcome = match raw.take() {
        Some(writer) if bulk => {
            match import_sorted(writer, input, today, opts, &import_id, progress).await {
                Ok((writer, outcome)) => {
                    raw = Some(writer);
                    outcome
                }
                Err(e) => Outcome::failed(e),
            }
        }
        writer => {
            raw = writer;
            import_streamed(db, &mut raw, input, today, opts, &import_id, progress)
                .await
                .unwrap_or_else(Outcome::failed)
        }
    };
    let Outcome {
        read,
        imported,
        rejections,
        mut failure,
    } = outcome;
    // Commit the last group before anything else writes.
    if let Some(mut writer) = raw.take() {
        let rebuild = bulk;
        let done = tokio::task::spawn_blocking(move || {
            let commit_started = Instant::now();
            writer.commit()?;
            tracing::info!(
                seconds = commit_started.elapsed().as_secs_f64(),
                "last group committed"
            );
            if rebuild {
                let index_started = Instant::now();
                writer.create_indexes()?;
                tracing::info!(
                    seconds = index_started.elapsed().as_secs_f64(),
                    "secondary indexes built"
                );
            }
            let finish_started = Instant::now();
            writer.finish()?;
            tracing::info!(
                seconds = finish_started.elapsed().as_secs_f64(),
                "write-ahead log checkpointed"
            );
            Ok::<(), RegistryError>(())
        })
        .await
        .map_err(|e| RegistryError::Io(std::io::Error::other(e)))?;
        if failure.is_none() {
            failure = done.err();
        }
    }
    if bulk {
        set_secondary_indexes(db, true).await?;
    }
    if let Some(e) = failure {
        return Err(e);
    }
    let (rows_rejected, errors) = rejections.into_sorted();
    let mut report = ImportReport {
        import_id: import_id.clone(),
        rows_read: read.map_err(|e| RegistryError::Invalid(vec![e]))?,
        rows_imported: if opts.dry_run { 0 } else { imported },
        rows_rejected,
        errors,
        seconds: 0.0,
    };
    if !opts.dry_run {
        finish_import(db, &import_id, &opts.actor, &report).await?;
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// How reading and storing a file went.
struct Outcome {
    /// Data rows read, or the header's fault.
    read: std::result::Result<u64, FieldError>,
    imported: u64,
    rejections: Rejections,
    /// What stopped the import, if anything did.
    failure: Option<RegistryError>,
}

impl Outcome {
    /// An import stopped by `e` before anything could be counted.
    fn failed(e: RegistryError) -> Outcome {
        Outcome {
            read: Ok(0),
            imported: 0,
            rejections: Rejections::new(0),
            failure: Some(e),
        }
    }
}

/// A bulk load into an empty table on SQLite: runs sorted by PID before validation
/// ([`crate::sorted_reader`]).
async fn import_sorted<R: Read + Send + 'static>(
    mut writer: crate::bulk_sqlite::RawWriter,
    input: R,
    today: NaiveDate,
    opts: &ImportOptions,
    import_id: &str,
    mut progress: Box<dyn Progress>,
) -> Result<(crate::bulk_sqlite::RawWriter, Outcome)> {
    let (id, actor) = (import_id.to_owned(), opts.actor.clone());
    let mut rejections = Rejections::new(opts.max_reported);
    let (chunk_rows, limits) = (opts.batch_rows.max(1), opts.sorted_run);
    tokio::task::spawn_blocking(move || {
        if let Err(e) = writer.checkpoint_in_background() {
            // Slower, not wrong: SQLite then checkpoints at the writer's commits.
            tracing::warn!(error = %e, "no checkpoint thread for this import");
        }
        let started = Instant::now();
        let job = crate::sorted_reader::Job {
            import_id: &id,
            actor: &actor,
            today,
            chunk_rows,
            limits,
        };
        let result = crate::sorted_reader::import(
            input,
            &mut writer,
            &job,
            progress.as_mut(),
            &mut rejections,
        );
        tracing::info!(
            seconds = started.elapsed().as_secs_f64(),
            "file read and written in PID order"
        );
        let outcome = match result {
            Ok((rows, imported)) => Outcome {
                read: Ok(rows),
                imported,
                rejections,
                failure: None,
            },
            Err(RegistryError::Invalid(mut header)) if !header.is_empty() => Outcome {
                read: Err(header.remove(0)),
                imported: 0,
                rejections,
                failure: None,
            },
            Err(e) => Outcome {
                read: Ok(0),
                imported: 0,
                rejections,
                failure: Some(e),
            },
        };
        (writer, outcome)
    })
    .await
    .map_err(|e| RegistryError::Io(std::io::Error::other(e)))
}

/// Any other import: rows validated in file order ([`crate::row_reader`]), each batch stored
/// in PID order in a transaction of its own.
async fn import_streamed<R: Read + Send + 'static>(
    db: &Db,
    raw: &mut Option<crate::bulk_sqlite::RawWriter>,
    input: R,
    today: NaiveDate,
    opts: &ImportOptions,
    import_id: &str,
    progress: Box<dyn Progress>,
) -> Result<Outcome> {
    let started = Instant::now();
    let (tx, mut rx) = mpsc::channel::<Msg>(4);
    let batch_rows = opts.batch_rows.max(1);
    let reader = tokio::task::spawn_blocking(move || {
        row_reader::read_rows(input, batch_rows, today, tx, progress)
    });
    let mut rejections = Rejections::new(opts.max_reported);
    let mut imported = 0u64;
    let mut failure = None;
    while let Some(msg) = rx.recv().await {
        let outcome = match msg {
            Msg::Rejected(e) | Msg::Fatal(e) => {
                rejections.push(e);
                continue;
            }
            Msg::Rows(rows) if opts.dry_run => {
                imported += rows.len() as u64;
                continue;
            }
            Msg::Rows(rows) => store_batch(db, raw, import_id, &opts.actor, rows).await,
        };
        match outcome {
            Ok((stored, dups)) => {
                imported += stored;
                for d in dups {
                    rejections.push(d);
                }
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    drop(rx);
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        "file read and stored"
    );
    let read = reader
        .await
        .map_err(|e| RegistryError::Io(std::io::Error::other(e)))?;
    Ok(Outcome {
        read,
        imported,
        rejections,
        failure,
    })
}

async fn store_batch(
    db: &Db,
    raw: &mut Option<crate::bulk_sqlite::RawWriter>,
    import_id: &str,
    actor: &str,
    mut batch: Vec<(u64, CitizenRecord)>,
) -> Result<(u64, Vec<RowError>)> {
    // Key order keeps B-tree inserts local.
    batch.sort_unstable_by_key(|(_, r)| r.pid);
    let lines: Vec<u64> = batch.iter().map(|(l, _)| *l).collect();
    let span = (
        lines.iter().copied().min().unwrap_or(0),
        lines.iter().copied().max().unwrap_or(0),
    );
    let rows: Vec<CitizenRecord> = batch.into_iter().map(|(_, r)| r).collect();
    let now = motcua_db::clock::now_us();
    let inserted: Vec<bool> = match raw.take() {
        Some(mut writer) => {
            let (id, who) = (import_id.to_owned(), actor.to_owned());
            let (writer, result, rows) = tokio::task::spawn_blocking(move || {
                let refs: Vec<&CitizenRecord> = rows.iter().collect();
                let r = writer.store(&refs, &id, &who, span, now);
                (writer, r, rows)
            })
            .await
            .map_err(|e| RegistryError::Io(std::io::Error::other(e)))?;
            *raw = Some(writer);
            let flags = result?;
            return Ok(collect_outcome(&lines, &rows, &flags));
        }
        None => {
            let mut tx = db.begin().await?;
            let got = store::citizens::insert(&mut tx, &rows, Some(import_id), now).await?;
            let got: std::collections::HashSet<i64> = got.into_iter().collect();
            let flags: Vec<bool> = rows.iter().map(|r| got.contains(&r.pid.as_i64())).collect();
            let stored: Vec<CitizenRecord> = rows
                .iter()
                .zip(&flags)
                .filter(|(_, ok)| **ok)
                .map(|(r, _)| r.clone())
                .collect();
            citizens::ensure_households(&mut tx, &stored, now).await?;
            let pids = stored.iter().map(|r| r.pid.as_i64());
            events::append(&mut tx, &batch_event(import_id, actor, span, pids, now)).await?;
            tx.commit().await?;
            flags
        }
    };
    Ok(collect_outcome(&lines, &rows, &inserted))
}

/// Counts stored rows and reports the others as already registered.
fn collect_outcome<'a>(
    lines: &[u64],
    rows: impl IntoIterator<Item = &'a CitizenRecord>,
    inserted: &[bool],
) -> (u64, Vec<RowError>) {
    let mut dups = Vec::new();
    let mut stored = 0u64;
    for ((line, r), ok) in lines.iter().zip(rows).zip(inserted) {
        if *ok {
            stored += 1;
        } else {
            dups.push(already_registered(*line, &r.pid.to_string()));
        }
    }
    (stored, dups)
}

async fn finish_import(db: &Db, import_id: &str, actor: &str, report: &ImportReport) -> Result<()> {
    let now = motcua_db::clock::now_us();
    let mut tx = db.begin().await?;
    store::imports::finish(&mut tx, import_id, report.rows_imported as i64, now).await?;
    events::append(
        &mut tx,
        &NewEvent {
            aggregate_type: "registry_import",
            aggregate_id: import_id,
            event_type: "registry_import.finished",
            actor,
            reason: "bulk import of citizens",
            payload: json!({
                "rows_read": report.rows_read,
                "rows_imported": report.rows_imported,
                "rows_rejected": report.rows_rejected,
            }),
            occurred_at: now,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Drops (`false`) or (re)creates (`true`) the secondary indexes on `citizens`.
pub async fn set_secondary_indexes(db: &Db, present: bool) -> Result<()> {
    store::imports::set_secondary_indexes(db, present).await
}

/// Exports every citizen, in PID order, with all [`COLUMNS`]. Returns the row count. Cells
/// that a spreadsheet would run as formulas are written as text ([`safe_cell`]).
pub async fn export<W: Write>(db: &Db, out: W, mut progress: Box<dyn Progress>) -> Result<u64> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(COLUMNS).map_err(csv_io_error)?;
    let mut after = -1i64;
    let mut n = 0u64;
    loop {
        let page = store::citizens::page_after(db, after, 10_000).await?;
        let Some(last) = page.last() else { break };
        after = last.pid;
        for row in page {
            let c = Citizen::from(row);
            let fields = export_fields(&c);
            w.write_record(fields.iter().map(|f| safe_cell(f).into_owned()))
                .map_err(csv_io_error)?;
            n += 1;
        }
        progress.update(n, 0);
    }
    w.flush()?;
    progress.finish(n);
    Ok(n)
}

/// Who exports the registry and why. An export reads every citizen's data, so it is recorded
/// before the first row is written and again with the count when it ends: as events
/// (`registry_export.started`, `.finished` or `.failed`) and as access-log entries (action
/// `export`), Decree 13/2023/NĐ-CP's processing record.
#[derive(Debug, Clone)]
pub struct ExportAudit {
    /// Who runs the export (an operator's name; the OS user by default).
    pub actor: String,
    /// Why, in the operator's words.
    pub purpose: String,
    /// Where the rows go, as the operator named it.
    pub destination: String,
}

/// [`export`], recorded as [`ExportAudit`] says. The export's id names its events.
pub async fn audited_export<W: Write>(
    db: &Db,
    out: W,
    audit: &ExportAudit,
    progress: Box<dyn Progress>,
) -> Result<u64> {
    let id = motcua_db::new_id();
    record_export(db, &id, audit, "started", None).await?;
    match export(db, out, progress).await {
        Ok(rows) => {
            record_export(db, &id, audit, "finished", Some(rows)).await?;
            Ok(rows)
        }
        Err(e) => {
            if let Err(log) = record_export(db, &id, audit, "failed", None).await {
                tracing::error!(error = %log, "the failed export could not be recorded");
            }
            Err(e)
        }
    }
}

async fn record_export(
    db: &Db,
    id: &str,
    audit: &ExportAudit,
    stage: &str,
    rows: Option<u64>,
) -> Result<()> {
    let now = motcua_db::clock::now_us();
    let actor = format!("cli:{}", audit.actor);
    let mut tx = db.begin().await?;
    events::append(
        &mut tx,
        &NewEvent {
            aggregate_type: "registry_export",
            aggregate_id: id,
            event_type: &format!("registry_export.{stage}"),
            actor: &actor,
            reason: &audit.purpose,
            payload: json!({ "destination": audit.destination, "rows": rows }),
            occurred_at: now,
        },
    )
    .await?;
    tx.commit().await?;
    let entry = motcua_db::access_log::AccessEntry {
        at: now,
        actor_kind: motcua_db::access_log::ActorKind::System,
        actor_id: actor,
        actor_name: audit.actor.clone(),
        action: "export".to_owned(),
        purpose: audit.purpose.clone(),
        reference: Some(match rows {
            Some(n) => format!("{}: {n} citizens", audit.destination),
            None => audit.destination.clone(),
        }),
        subject_pid: None,
        outcome: stage.to_owned(),
        request_id: None,
    };
    motcua_db::access_log::insert_batch(db, &[&entry]).await?;
    Ok(())
}

fn csv_io_error(e: csv::Error) -> RegistryError {
    RegistryError::Io(std::io::Error::other(e))
}

fn export_fields(c: &Citizen) -> Vec<String> {
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    let n = |v: Option<i32>| v.map(|x| format!("{x:03}")).unwrap_or_default();
    vec![
        c.pid.clone(),
        c.full_name.clone(),
        c.gender.clone(),
        c.date_of_birth.clone(),
        n(c.residence_province),
        c.household_id.map(|h| h.to_string()).unwrap_or_default(),
        s(&c.relation_to_head),
        format!("{:03}", c.birth_province),
        n(c.hometown_province),
        c.ethnicity_code
            .map(|e| format!("{e:02}"))
            .unwrap_or_default(),
        s(&c.religion),
        c.nationality.clone(),
        s(&c.father_pid),
        s(&c.mother_pid),
        s(&c.spouse_pid),
        s(&c.residence_address),
        s(&c.phone),
        s(&c.email),
        s(&c.tax_code),
        s(&c.social_insurance_code),
        c.status.clone(),
        s(&c.date_of_death),
    ]
}

/// Writes `count` generated citizens (deterministic for `seed`) as CSV with all columns.
pub fn write_generated<W: Write>(
    out: W,
    seed: u64,
    count: usize,
    progress: &mut dyn Progress,
) -> std::io::Result<u64> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(COLUMNS).map_err(std::io::Error::other)?;
    let mut n = 0u64;
    for g in motcua_domain::generator::citizens(seed, count) {
        let p = |v: Option<motcua_domain::Pid>| v.map(|p| p.to_string()).unwrap_or_default();
        w.write_record([
            g.pid.to_string(),
            g.full_name,
            g.gender.as_code().to_owned(),
            g.date_of_birth.to_string(),
            format!("{:03}", g.residence_province),
            g.household_id.to_string(),
            g.relation_to_head.as_code().to_owned(),
            format!("{:03}", g.birth_province),
            format!("{:03}", g.hometown_province),
            format!("{:02}", g.ethnicity_code),
            g.religion.unwrap_or_default().to_owned(),
            "VN".to_owned(),
            p(g.father_pid),
            p(g.mother_pid),
            p(g.spouse_pid),
            g.address,
            g.phone.unwrap_or_default(),
            g.email.unwrap_or_default(),
            String::new(),
            String::new(),
            "alive".to_owned(),
            String::new(),
        ])
        .map_err(std::io::Error::other)?;
        n += 1;
        if n.is_multiple_of(50_000) {
            progress.update(n, 0);
        }
    }
    w.flush()?;
    progress.finish(n);
    Ok(n)
}

/// Count of imports recorded, for status pages.
pub async fn import_count(db: &Db) -> Result<i64> {
    store::imports::count(db).await
}
