//! Reads and validates the rows of a citizen CSV, on several threads, in file order.
//!
//! Splitting a CSV into records is cheap and must be sequential (a quoted field may hold a line
//! break); validating a record (dates, PIDs, folding the name for search) is most of the cost
//! and independent per row. So one thread splits records into chunks and deals them round-robin
//! to validator threads, and a sequencer collects the results in the same round-robin order,
//! which is file order, without a reordering buffer. The sequencer alone keeps the map of PIDs
//! seen, so "duplicates the PID on line N" always names the first occurrence in the file.

use std::io::Read;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use chrono::NaiveDate;
use tokio::sync::mpsc;

use crate::csv_split::{RawRun, RecordParser, RunLimits, Splitter};
use crate::error::FieldError;
use crate::import_report::{Progress, RowError};
use crate::int_map::IntMap;
use crate::record::CitizenRecord;
use crate::row_check::{Check, check_header, column_map, duplicate_of, io_error, validators};

/// What the reader sends the importer.
pub(crate) enum Msg {
    /// Valid rows with their line numbers, in file order, none repeating an earlier PID.
    Rows(Vec<(u64, CitizenRecord)>),
    Rejected(RowError),
    /// The file itself is unreadable from this line on.
    Fatal(RowError),
}

/// Records per chunk dealt to a validator: large enough that hand-offs cost nothing, small
/// enough that validators start at once.
const CHUNK_RECORDS: usize = 8192;

type Checked = Vec<(u64, Result<CitizenRecord, Vec<FieldError>>)>;

/// Reads the header, then every row; sends valid rows in batches of `batch_rows` and each
/// rejected row on its own. Returns the number of data rows read, or the header's fault.
pub(crate) fn read_rows<R: Read>(
    input: R,
    batch_rows: usize,
    today: NaiveDate,
    tx: mpsc::Sender<Msg>,
    progress: Box<dyn Progress>,
) -> Result<u64, FieldError> {
    let (mut splitter, header) = Splitter::new(input)?;
    check_header(&header)?;
    let map = column_map(&header);
    let check = Check {
        header: &header,
        map: &map,
        today,
    };
    let workers = validators();
    let (rows, fatal) = std::thread::scope(|s| {
        let mut to_workers = Vec::with_capacity(workers);
        let mut from_workers = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (raw_tx, raw_rx) = sync_channel::<RawRun>(4);
            let (done_tx, done_rx) = sync_channel::<(Checked, u64)>(4);
            let check = &check;
            std::thread::Builder::new()
                .name("import-validate".into())
                .spawn_scoped(s, move || validate(raw_rx, done_tx, check))
                .map_err(io_error)?;
            to_workers.push(raw_tx);
            from_workers.push(done_rx);
        }
        let sequencer_tx = tx.clone();
        std::thread::Builder::new()
            .name("import-sequence".into())
            .spawn_scoped(s, move || {
                sequence(from_workers, batch_rows, sequencer_tx, progress)
            })
            .map_err(io_error)?;
        Ok(split(&mut splitter, &to_workers))
        // Dropping the senders ends the validators, then the sequencer.
    })?;
    if let Some(e) = fatal {
        let _ = tx.blocking_send(Msg::Fatal(e));
    }
    Ok(rows)
}

/// Splits records into chunks dealt round-robin. Returns how many records were read and the
/// error that stopped the file, if any; stops quietly if the importer has gone.
fn split<R: Read>(
    splitter: &mut Splitter<R>,
    workers: &[SyncSender<RawRun>],
) -> (u64, Option<RowError>) {
    let limits = RunLimits {
        rows: CHUNK_RECORDS,
        bytes: 4 << 20,
    };
    let mut rows = 0u64;
    for next in (0..workers.len()).cycle() {
        let mut chunk = splitter.next_run(limits);
        let fatal = chunk.fatal.take();
        let read = chunk.rows();
        rows += read;
        if read > 0 && workers[next].send(chunk).is_err() {
            return (rows, fatal);
        }
        if fatal.is_some() || read == 0 {
            return (rows, fatal);
        }
    }
    (rows, None)
}

fn validate(chunks: Receiver<RawRun>, done: SyncSender<(Checked, u64)>, check: &Check<'_>) {
    let mut parser = RecordParser::default();
    for chunk in chunks {
        let checked = chunk
            .in_file_order()
            .iter()
            .map(|key| (key.line, check.record(&mut parser, chunk.raw(key))))
            .collect();
        if done.send((checked, chunk.end_byte)).is_err() {
            return;
        }
    }
}

/// Collects validated chunks in file order, rejects repeated PIDs and sends batches.
fn sequence(
    workers: Vec<Receiver<(Checked, u64)>>,
    batch_rows: usize,
    tx: mpsc::Sender<Msg>,
    mut progress: Box<dyn Progress>,
) {
    let mut seen: IntMap<u64> = IntMap::default();
    let mut batch = Vec::with_capacity(batch_rows);
    let (mut rows, mut bytes) = (0u64, 0u64);
    // Chunks were dealt round-robin, so taking them round-robin restores file order; the first
    // worker to have nothing more marks the end.
    'chunks: for k in 0.. {
        let Ok((checked, consumed)) = workers[k % workers.len()].recv() else {
            break;
        };
        bytes = consumed;
        for (line, result) in checked {
            rows += 1;
            let rejected = match result {
                Err(errors) => Some(RowError { line, errors }),
                Ok(r) => match seen.get(&r.pid.as_i64()) {
                    Some(&first) => Some(duplicate_of(line, first)),
                    None => {
                        seen.insert(r.pid.as_i64(), line);
                        batch.push((line, r));
                        None
                    }
                },
            };
            if let Some(e) = rejected
                && tx.blocking_send(Msg::Rejected(e)).is_err()
            {
                break 'chunks;
            }
            if batch.len() >= batch_rows {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(batch_rows));
                if tx.blocking_send(Msg::Rows(full)).is_err() {
                    break 'chunks;
                }
                progress.update(rows, bytes);
            }
        }
    }
    if !batch.is_empty() {
        let _ = tx.blocking_send(Msg::Rows(batch));
    }
    progress.update(rows, bytes);
    progress.finish(rows);
}
