//! The reader of a bulk load into an empty table on SQLite: the file is read run by run, and
//! each run is sorted by PID *before* its rows are validated, so that validating and writing
//! go on together.
//!
//! Rows are written in PID order (appending to the citizens B-tree is several times cheaper
//! than inserting at random places), and a file may list them in any order, so no row can be
//! written before its whole run has been read. Splitting records and reading their PID column
//! is cheap; validating them (dates, PIDs, folding names for search) is most of the cost of
//! reading. So a run keeps its raw bytes, the records' keys (PID, line, place in the run) are
//! sorted, and validator threads parse the records in PID order, chunk by chunk, while the
//! writer stores the chunks before. Validating the whole run first, as this import did before,
//! left the writer idle for 2.2 s of 7.3 s on a million citizens.
//!
//! The streamed import ([`crate::row_reader`]) reads with the same splitter, in small runs
//! taken in file order.
//!
//! The validators run under `SCHED_IDLE`: the writer is the slower stage and must not share its
//! core with them; they run whenever it waits, and on the cores it leaves free.
//!
//! Reports are as from the streamed reader: a repeated PID is blamed on the later line and names
//! the first valid one, and every rejected row is reported with its line.

use std::io::Read;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use chrono::NaiveDate;
use csv_core::{ReadRecordResult, Reader};

use crate::bulk_sqlite::RawWriter;
use crate::citizens::Households;
use crate::csv_io::{Progress, Rejections, RowError, check_header};
use crate::error::{FieldError, RegistryError, Result};
use crate::packed_rows::{MAX_CHUNK_ROWS, PackedChunk, RunPart};
use crate::record::COLUMNS;
use crate::row_reader::{column_map, duplicate_of, header_name, validate_fields, validators};

/// How much of a file one run holds at most.
#[derive(Debug, Clone, Copy)]
pub struct RunLimits {
    pub rows: usize,
    pub bytes: usize,
}

impl Default for RunLimits {
    /// About 1 GB of memory for the largest run: its raw bytes and keys, and the chunks in
    /// flight.
    fn default() -> Self {
        RunLimits {
            rows: 2_000_000,
            bytes: 512 << 20,
        }
    }
}

/// Places in a run are `u32`: a run's bytes stay below this, whatever was asked for.
const MAX_RUN_BYTES: usize = 1 << 30;
/// How much input is read at a time.
const READ_BLOCK: usize = 8 << 20;
/// The longest valid row is about 4 KB; a record longer than this is damage, usually a quote
/// that never closes and would swallow the rest of the file.
const MAX_RECORD_BYTES: usize = 1 << 20;

/// What one bulk load asks of the reader.
pub(crate) struct Job<'a> {
    pub import_id: &'a str,
    pub actor: &'a str,
    pub today: NaiveDate,
    pub chunk_rows: usize,
    pub limits: RunLimits,
}

/// Reads `input` and stores its valid rows through `writer`, run by run. Returns the number of
/// data rows read and the number stored. Rejected rows go to `rejections`; a header that cannot
/// be used rejects the file ([`RegistryError::Invalid`]) before anything is stored.
pub(crate) fn import<R: Read>(
    input: R,
    writer: &mut RawWriter,
    job: &Job<'_>,
    progress: &mut dyn Progress,
    rejections: &mut Rejections,
) -> Result<(u64, u64)> {
    let (mut splitter, header) =
        Splitter::new(input).map_err(|e| RegistryError::Invalid(vec![e]))?;
    let map = column_map(&header);
    let check = Check {
        header: &header,
        map: &map,
        today: job.today,
    };
    let workers = validators();
    let (mut rows_read, mut imported) = (0u64, 0u64);
    // The rows kept from earlier runs, sorted by PID: a later run's repeat is blamed on them.
    let mut earlier: Vec<(i64, u64)> = Vec::new();
    loop {
        let started = std::time::Instant::now();
        let run = splitter.next_run(job.limits);
        if run.rows() == 0 && run.fatal.is_none() {
            break;
        }
        tracing::info!(
            rows = run.rows(),
            seconds = started.elapsed().as_secs_f64(),
            "run split and sorted by PID"
        );
        let mut parser = RecordParser::default();
        for key in &run.unkeyed {
            // A record without a readable PID is rejected: its PID or its column count is wrong.
            let errors = match parser.check(run.raw(key), &check) {
                Err(errors) => errors,
                Ok(_) => vec![FieldError::new(
                    "pid",
                    "pid.unreadable",
                    "the PID column could not be read",
                )],
            };
            rejections.push(RowError {
                line: key.line,
                errors,
            });
        }
        let bounds = chunk_bounds(&run.keyed, job.chunk_rows);
        let last = splitter.done;
        let progress_at = Position {
            rows: rows_read + run.unkeyed.len() as u64,
            bytes: run.first_byte,
            run_rows: run.keyed.len() as u64,
            run_bytes: run.end_byte - run.first_byte,
        };
        let (stored, rejected, kept) = std::thread::scope(|s| {
            let mut from = Vec::with_capacity(workers);
            for first in 0..workers {
                let (tx, rx) = sync_channel::<Out>(2);
                let (run, bounds, check, earlier) = (&run, &bounds, &check, &earlier);
                std::thread::Builder::new()
                    .name("import-validate".into())
                    .spawn_scoped(s, move || {
                        motcua_db::sched::run_when_idle();
                        validate_chunks(run, bounds, (first, workers), check, earlier, &tx);
                    })?;
                from.push(rx);
            }
            let mut parts = InOrder {
                from,
                next: 0,
                done: 0,
                households: Households::default(),
                rejected: Vec::new(),
                kept: (!last).then(Vec::new),
                progress: &mut *progress,
                at: progress_at,
                written: 0,
            };
            let stored = writer.store_sorted(&mut parts, job.import_id, job.actor);
            Ok::<_, RegistryError>((stored, parts.rejected, parts.kept))
            // Dropping `parts` drops the receivers: validators still sending stop.
        })?;
        let (stored, skipped) = stored?;
        imported += stored;
        for e in rejected {
            rejections.push(e);
        }
        for (line, pid) in skipped {
            rejections.push(crate::csv_io::already_registered(
                line,
                &format!("{pid:012}"),
            ));
        }
        rows_read += run.rows();
        if let Some(kept) = kept {
            earlier = merge_sorted(&earlier, &kept);
        }
        if let Some(fatal) = run.fatal {
            rejections.push(fatal);
            break;
        }
    }
    progress.update(rows_read, splitter.consumed);
    progress.finish(rows_read);
    Ok((rows_read, imported))
}

/// A record's sort key and where its raw bytes are in its run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Key {
    pid: i64,
    pub line: u64,
    start: u32,
    len: u32,
}

/// Raw records read from the file.
pub(crate) struct RawRun {
    bytes: Vec<u8>,
    /// Records whose PID column holds 12 digits, sorted by (PID, line).
    keyed: Vec<Key>,
    /// The others, each to be rejected.
    unkeyed: Vec<Key>,
    /// The file cannot be read after the last record.
    pub fatal: Option<RowError>,
    /// Where in the file the run starts and ends.
    first_byte: u64,
    pub end_byte: u64,
}

impl RawRun {
    pub fn rows(&self) -> u64 {
        (self.keyed.len() + self.unkeyed.len()) as u64
    }

    /// Every record of the run, in file order.
    pub fn in_file_order(&self) -> Vec<Key> {
        let mut all: Vec<Key> = self.keyed.iter().chain(&self.unkeyed).copied().collect();
        all.sort_unstable_by_key(|k| k.line);
        all
    }

    pub fn raw(&self, key: &Key) -> &[u8] {
        let start = key.start as usize;
        &self.bytes[start..start + key.len as usize]
    }
}

/// Splits a CSV into records with the same rules as the validators' parser (`csv_core`, as
/// the `csv` crate uses it): RFC 4180 quoting, any of `\r`, `\n`, `\r\n` ending a record,
/// blank lines skipped. A test checks the two agree on arbitrary input.
pub(crate) struct Splitter<R> {
    input: R,
    /// Bytes read after the end of the last run.
    carry: Vec<u8>,
    eof: bool,
    /// No more runs: the input ended or cannot be read.
    done: bool,
    /// The line the next record starts on.
    line: u64,
    /// Input consumed by complete records so far.
    consumed: u64,
    header_len: usize,
    pid_col: usize,
    /// Parses the rare record whose PID is quoted.
    parser: RecordParser,
}

/// One record found by [`scan`].
#[derive(Debug, PartialEq, Eq)]
struct Scanned {
    /// Where its text begins (after skipped blank lines) and where it ends (after its
    /// terminator).
    start: usize,
    end: usize,
    fields: usize,
    /// The PID field's bytes, when the field is not quoted.
    pid: Option<(usize, usize)>,
    /// Line breaks skipped before the record, and inside it (with its terminator).
    lead_newlines: u64,
    newlines: u64,
}

enum Scan {
    Record(Scanned),
    /// The input ends before the record does: read more.
    More,
    /// Nothing but blank lines remain, at the end of the file.
    End,
}

/// Finds the record starting at `bytes[from]`. At `eof`, the end of `bytes` ends the record.
/// A byte loop: `csv_core`'s general state machine cost 0.85 s per million rows on one thread
/// that every other stage waits for.
fn scan(bytes: &[u8], from: usize, pid_col: usize, eof: bool) -> Scan {
    let len = bytes.len();
    let mut i = from;
    let mut lead_newlines = 0;
    while i < len && matches!(bytes[i], b'\r' | b'\n') {
        lead_newlines += u64::from(bytes[i] == b'\n');
        i += 1;
    }
    if i == len {
        return if eof { Scan::End } else { Scan::More };
    }
    let start = i;
    let (mut fields, mut pid, mut newlines) = (0, None, 0);
    loop {
        let field_start = i;
        let quoted = i < len && bytes[i] == b'"';
        if quoted {
            i += 1;
            // A quoted section ends at a quote not followed by another.
            loop {
                while i < len && bytes[i] != b'"' {
                    newlines += u64::from(bytes[i] == b'\n');
                    i += 1;
                }
                if i + 1 < len && bytes[i + 1] == b'"' {
                    i += 2;
                    continue;
                }
                if i + 1 >= len && !eof {
                    return Scan::More;
                }
                i = (i + 1).min(len);
                break;
            }
        }
        // Unquoted text (or what follows a closing quote) runs to a delimiter or terminator.
        while i < len && !matches!(bytes[i], b',' | b'\r' | b'\n') {
            i += 1;
        }
        if i == len && !eof {
            return Scan::More;
        }
        if fields == pid_col && !quoted {
            pid = Some((field_start, i));
        }
        fields += 1;
        if i < len && bytes[i] == b',' {
            i += 1;
            continue;
        }
        // A terminator: `\r\n` is one.
        newlines += u64::from(i < len && (bytes[i] == b'\n' || bytes.get(i + 1) == Some(&b'\n')));
        let end = if i == len {
            len
        } else if bytes[i] == b'\r' && i + 1 < len && bytes[i + 1] == b'\n' {
            i + 2
        } else if bytes[i] == b'\r' && i + 1 == len && !eof {
            return Scan::More;
        } else {
            i + 1
        };
        return Scan::Record(Scanned {
            start,
            end,
            fields,
            pid,
            lead_newlines,
            newlines,
        });
    }
}

impl<R: Read> Splitter<R> {
    /// Reads and checks the header.
    pub fn new(input: R) -> std::result::Result<(Splitter<R>, Vec<String>), FieldError> {
        let mut s = Splitter {
            input,
            carry: Vec::new(),
            eof: false,
            done: false,
            line: 1,
            consumed: 0,
            header_len: 0,
            pid_col: 0,
            parser: RecordParser::default(),
        };
        let mut buf = Vec::new();
        let header: Vec<String> = match s.next_record(&mut buf, 0) {
            Ok(Some(r)) => {
                let (_, n) = s.parser.parse(&buf[r.start..r.end]);
                (0..n).map(|i| header_name(s.parser.field(i))).collect()
            }
            Ok(None) => {
                return Err(FieldError::new(
                    "header",
                    "header.missing",
                    "the file is empty",
                ));
            }
            Err(e) => return Err(FieldError::new("header", "csv.unreadable", e.to_string())),
        };
        check_header(&header)?;
        s.header_len = header.len();
        s.pid_col = header.iter().position(|h| h == COLUMNS[0]).unwrap_or(0);
        let end = match scan(&buf, 0, 0, true) {
            Scan::Record(r) => r.end,
            _ => buf.len(),
        };
        s.line += newlines(&buf[..end]);
        s.consumed = end as u64;
        s.carry = buf.split_off(end);
        Ok((s, header))
    }

    /// Reads the next run; an empty run (without a fatal error) means the file has ended.
    pub fn next_run(&mut self, limits: RunLimits) -> RawRun {
        let max_bytes = limits.bytes.clamp(1, MAX_RUN_BYTES);
        let mut bytes = std::mem::take(&mut self.carry);
        // The whole run's room at once (only the pages written are ever allocated), so that
        // reading never moves what was read before.
        bytes.reserve(max_bytes + MAX_RECORD_BYTES + READ_BLOCK);
        let mut pos = 0;
        let mut run = RawRun {
            bytes: Vec::new(),
            keyed: Vec::new(),
            unkeyed: Vec::new(),
            fatal: None,
            first_byte: self.consumed,
            end_byte: self.consumed,
        };
        while !self.done && run.keyed.len() + run.unkeyed.len() < limits.rows.max(1) {
            if pos >= max_bytes {
                break;
            }
            let r = match self.next_record(&mut bytes, pos) {
                Ok(Some(r)) => r,
                Ok(None) => {
                    self.done = true;
                    break;
                }
                Err(e) => {
                    run.fatal = Some(RowError {
                        line: self.line + newlines(&bytes[pos..bytes.len().min(pos + 64)]),
                        errors: vec![FieldError::new(
                            "row",
                            "csv.unreadable",
                            format!("the CSV cannot be read from here: {e}"),
                        )],
                    });
                    self.done = true;
                    break;
                }
            };
            // Blank lines before a record are skipped; its line is where its text begins.
            let line = self.line + r.lead_newlines;
            let key = Key {
                pid: self.pid(&bytes, &r),
                line,
                start: r.start as u32,
                len: (r.end - r.start) as u32,
            };
            self.line = line + r.newlines;
            self.consumed += (r.end - pos) as u64;
            pos = r.end;
            if key.pid >= 0 {
                run.keyed.push(key);
            } else {
                run.unkeyed.push(key);
            }
        }
        run.end_byte = self.consumed;
        self.carry = bytes.split_off(pos);
        run.bytes = bytes;
        run.keyed.sort_unstable_by_key(|k| (k.pid, k.line));
        run
    }

    /// Finds the record starting at `buf[from]`, reading more input into `buf` as needed;
    /// `None` at the end of the input.
    fn next_record(&mut self, buf: &mut Vec<u8>, from: usize) -> std::io::Result<Option<Scanned>> {
        loop {
            match scan(buf, from, self.pid_col, self.eof) {
                Scan::Record(r) => return Ok(Some(r)),
                Scan::End => return Ok(None),
                Scan::More if buf.len() - from > MAX_RECORD_BYTES => {
                    return Err(std::io::Error::other(format!(
                        "a record runs over {} KiB (a quote that is never closed?)",
                        MAX_RECORD_BYTES >> 10
                    )));
                }
                Scan::More => self.fill(buf)?,
            }
        }
    }

    /// Reads up to a block more into `buf`, straight into its spare room: filling the block
    /// with zeros first, and growing the buffer by doubling, had the kernel clear three times
    /// the pages the file needs (a third of the time this thread spent on a run).
    fn fill(&mut self, buf: &mut Vec<u8>) -> std::io::Result<()> {
        buf.reserve(READ_BLOCK);
        let n = (&mut self.input).take(READ_BLOCK as u64).read_to_end(buf)?;
        self.eof = n == 0;
        Ok(())
    }

    /// The record's PID as a number, or -1. What validation accepts as a PID (trimmed, then 12
    /// digits) always has one, so a record without one is always rejected.
    fn pid(&mut self, bytes: &[u8], r: &Scanned) -> i64 {
        if r.fields != self.header_len {
            return -1;
        }
        let field = match r.pid {
            Some((a, b)) => &bytes[a..b],
            None => {
                self.parser.parse(&bytes[r.start..r.end]);
                self.parser.field(self.pid_col)
            }
        };
        let digits = if field.is_ascii() {
            field.trim_ascii()
        } else {
            // Validation trims Unicode white space too.
            match std::str::from_utf8(field) {
                Ok(text) => text.trim().as_bytes(),
                Err(_) => return -1,
            }
        };
        if digits.len() != 12 || !digits.iter().all(u8::is_ascii_digit) {
            return -1;
        }
        digits
            .iter()
            .fold(0i64, |acc, &b| acc * 10 + i64::from(b - b'0'))
    }
}

/// Merges two lists sorted by PID (a run's rows are handed over in PID order).
fn merge_sorted(a: &[(i64, u64)], b: &[(i64, u64)]) -> Vec<(i64, u64)> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i] <= b[j] {
            out.push(a[i]);
            i += 1;
        } else {
            out.push(b[j]);
            j += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

fn newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// Chunks of about `rows` keys; the rows of one PID stay in one chunk, so the validator that
/// sees a repeat also sees the row kept before it.
fn chunk_bounds(keys: &[Key], rows: usize) -> Vec<(usize, usize)> {
    let rows = rows.clamp(1, MAX_CHUNK_ROWS);
    let mut bounds = Vec::with_capacity(keys.len() / rows + 1);
    let mut lo = 0;
    while lo < keys.len() {
        let mut hi = (lo + rows).min(keys.len());
        while hi < keys.len() && keys[hi].pid == keys[hi - 1].pid {
            hi += 1;
        }
        bounds.push((lo, hi));
        lo = hi;
    }
    bounds
}

/// What validation needs besides the record.
pub(crate) struct Check<'a> {
    pub header: &'a [String],
    pub map: &'a [Option<usize>; COLUMNS.len()],
    pub today: NaiveDate,
}

/// Parses one raw record with the splitter's rules.
pub(crate) struct RecordParser {
    csv: Reader,
    out: Vec<u8>,
    ends: Vec<usize>,
    /// Fields in the record parsed last.
    count: usize,
    /// The fields of the record checked last: in place by [`RecordParser::split_plain`], or
    /// in `out` after [`RecordParser::parse`].
    spans: Vec<std::ops::Range<usize>>,
}

impl Default for RecordParser {
    fn default() -> Self {
        RecordParser {
            csv: Reader::new(),
            out: vec![0; 4096],
            ends: vec![0; 64],
            count: 0,
            spans: Vec::with_capacity(32),
        }
    }
}

impl RecordParser {
    /// Splits `raw` into fields; returns how many.
    fn parse(&mut self, raw: &[u8]) -> (usize, usize) {
        self.csv.reset();
        let (mut pos, mut nout, mut nend) = (0, 0, 0);
        loop {
            let (result, nin, no, ne) =
                self.csv
                    .read_record(&raw[pos..], &mut self.out[nout..], &mut self.ends[nend..]);
            pos += nin;
            nout += no;
            nend += ne;
            match result {
                // The next call passes the empty rest: the end of input ends the record.
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull => self.out.resize(self.out.len() * 2, 0),
                ReadRecordResult::OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                ReadRecordResult::Record | ReadRecordResult::End => {
                    self.count = nend;
                    return (nout, nend);
                }
            }
        }
    }

    /// Field `i` of the record parsed last (empty past its end).
    fn field(&self, i: usize) -> &[u8] {
        if i >= self.count {
            return &[];
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.out[start..self.ends[i]]
    }

    /// Finds the fields of a whole record in place, when no field needs unescaping (no `""`
    /// inside quotes, nothing after a closing quote): every row the generator writes, and
    /// copying each field out through the general parser cost a sixth of validation.
    /// Returns false for the others, which [`RecordParser::parse`] handles.
    fn split_plain(&mut self, raw: &[u8]) -> bool {
        self.spans.clear();
        let mut i = 0;
        loop {
            if raw.get(i) == Some(&b'"') {
                let Some(close) = raw[i + 1..].iter().position(|&b| b == b'"') else {
                    return false;
                };
                let close = i + 1 + close;
                if !matches!(raw.get(close + 1), None | Some(b',' | b'\r' | b'\n')) {
                    return false;
                }
                self.spans.push(i + 1..close);
                i = close + 1;
            } else {
                let start = i;
                while i < raw.len() && !matches!(raw[i], b',' | b'\r' | b'\n') {
                    i += 1;
                }
                self.spans.push(start..i);
            }
            if raw.get(i) == Some(&b',') {
                i += 1;
            } else {
                return true;
            }
        }
    }

    /// Parses and validates one raw record.
    pub fn check(
        &mut self,
        raw: &[u8],
        check: &Check<'_>,
    ) -> std::result::Result<crate::record::CitizenRecord, Vec<FieldError>> {
        let data = if self.split_plain(raw) {
            raw
        } else {
            let (nout, nend) = self.parse(raw);
            self.spans.clear();
            let mut start = 0;
            for &end in &self.ends[..nend] {
                self.spans.push(start..end);
                start = end;
            }
            &self.out[..nout]
        };
        validate_fields(data, &self.spans, check.header, check.map, check.today)
    }
}

/// A validator's output, in the order of the chunks it was given.
enum Out {
    Chunk {
        rows: PackedChunk,
        rejected: Vec<RowError>,
    },
    /// No more chunks; the households of the rows kept.
    Done(Households),
}

/// Validates every `step`th chunk from `first`: packs the rows kept, rejects the others.
fn validate_chunks(
    run: &RawRun,
    bounds: &[(usize, usize)],
    (first, step): (usize, usize),
    check: &Check<'_>,
    earlier: &[(i64, u64)],
    out: &SyncSender<Out>,
) {
    let mut parser = RecordParser::default();
    let mine: usize = bounds
        .iter()
        .skip(first)
        .step_by(step)
        .map(|(lo, hi)| hi - lo)
        .sum();
    // Households average about three members; a file of lone members grows the map once.
    let mut households = Households::with_capacity(mine / 2);
    for &(lo, hi) in bounds.iter().skip(first).step_by(step) {
        let mut rows = PackedChunk::with_capacity(hi - lo);
        let mut rejected = Vec::new();
        // The PID of the last row kept, and its line.
        let mut kept: Option<(i64, u64)> = None;
        let keys = &run.keyed[lo..hi];
        for (i, key) in keys.iter().enumerate() {
            // Records are visited in PID order, at random places in the run: start loading one
            // a few ahead so that its cache misses overlap this one's work.
            if let Some(ahead) = keys.get(i + PREFETCH) {
                touch(run.raw(ahead));
            }
            let r = match parser.check(run.raw(key), check) {
                Ok(r) => r,
                Err(errors) => {
                    rejected.push(RowError {
                        line: key.line,
                        errors,
                    });
                    continue;
                }
            };
            let first = match kept {
                Some((pid, line)) if pid == key.pid => Some(line),
                _ => earlier
                    .binary_search_by_key(&key.pid, |(pid, _)| *pid)
                    .ok()
                    .map(|i| earlier[i].1),
            };
            if let Some(first) = first {
                rejected.push(duplicate_of(key.line, first));
                continue;
            }
            kept = Some((key.pid, key.line));
            households.add(key.line, &r);
            rows.push(key.line, &r);
        }
        if out.send(Out::Chunk { rows, rejected }).is_err() {
            return;
        }
    }
    let _ = out.send(Out::Done(households));
}

/// How many records ahead a validator starts loading.
const PREFETCH: usize = 4;

/// Reads a byte of each cache line of `bytes`, so the lines are on their way to the cache.
fn touch(bytes: &[u8]) {
    for line in bytes.chunks(64) {
        std::hint::black_box(line[0]);
    }
}

/// Progress through a run.
struct Position {
    /// Rows and bytes before the run's keyed rows.
    rows: u64,
    bytes: u64,
    run_rows: u64,
    run_bytes: u64,
}

/// The validators' chunks in PID order (they were dealt round-robin), then the households.
struct InOrder<'a> {
    from: Vec<Receiver<Out>>,
    next: usize,
    done: usize,
    households: Households,
    rejected: Vec<RowError>,
    /// The (PID, line) of each row kept, when a later run needs them.
    kept: Option<Vec<(i64, u64)>>,
    progress: &'a mut dyn Progress,
    at: Position,
    written: u64,
}

impl Iterator for InOrder<'_> {
    type Item = RunPart;

    fn next(&mut self) -> Option<RunPart> {
        while self.done < self.from.len() {
            let k = self.next % self.from.len();
            self.next += 1;
            match self.from[k].recv() {
                Ok(Out::Chunk { rows, rejected }) => {
                    self.written += (rows.rows.len() + rejected.len()) as u64;
                    self.rejected.extend(rejected);
                    let at = &self.at;
                    let bytes = at.bytes + at.run_bytes * self.written / at.run_rows.max(1);
                    self.progress.update(at.rows + self.written, bytes);
                    if let Some(kept) = &mut self.kept {
                        let lines = rows.lines.iter().copied();
                        kept.extend(rows.rows.iter().map(|r| r.pid).zip(lines));
                    }
                    if !rows.rows.is_empty() {
                        return Some(RunPart::Chunk(rows));
                    }
                }
                Ok(Out::Done(households)) => {
                    self.households.merge(households);
                    self.done += 1;
                    if self.done == self.from.len() {
                        let households = std::mem::take(&mut self.households);
                        return Some(RunPart::Households(households.into_sorted()));
                    }
                }
                // A validator that stops without saying so has panicked; the scope re-raises it.
                Err(_) => {
                    self.done = self.from.len();
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const HEADER: &str = "pid,full_name,gender,date_of_birth,province_code,household_id\n";

    fn split(text: &[u8], limits: RunLimits) -> Vec<RawRun> {
        let (mut s, _) = Splitter::new(text).unwrap();
        let mut runs = Vec::new();
        loop {
            let run = s.next_run(limits);
            if run.rows() == 0 && run.fatal.is_none() {
                return runs;
            }
            runs.push(run);
        }
    }

    #[test]
    fn records_keep_their_lines_across_quotes_blank_lines_and_runs() {
        let text = format!(
            "{HEADER}001095012345,An,M,1995-03-14,001,1\r\n\
             \n\
             001095012344,\"Bình\nhai dòng\",F,1995-07-02,001,1\n\
             bad,Cường,M,1990,001,2\n\
             001095012343,Dũng,M,1990,001\n\
             001095012342,\"Em, \"\"út\"\"\",M,1990,001,2"
        );
        let runs = split(
            text.as_bytes(),
            RunLimits {
                rows: 2,
                bytes: 1 << 20,
            },
        );
        assert_eq!(runs.len(), 3);
        let lines: Vec<Vec<(i64, u64)>> = runs
            .iter()
            .map(|r| {
                let mut v: Vec<(i64, u64)> = r.keyed.iter().map(|k| (k.pid, k.line)).collect();
                v.extend(r.unkeyed.iter().map(|k| (-1, k.line)));
                v
            })
            .collect();
        assert_eq!(
            lines,
            [
                vec![(1_095_012_344, 4), (1_095_012_345, 2)],
                vec![(-1, 6), (-1, 7)],
                vec![(1_095_012_342, 8)],
            ]
        );
        // Each record's raw bytes parse back to its fields.
        let mut p = RecordParser::default();
        let mut field = |raw: &[u8], i: usize| {
            let (_, n) = p.parse(raw);
            assert_eq!(n, 6);
            let start = if i == 0 { 0 } else { p.ends[i - 1] };
            String::from_utf8(p.out[start..p.ends[i]].to_vec()).unwrap()
        };
        assert_eq!(field(runs[0].raw(&runs[0].keyed[0]), 1), "Bình\nhai dòng");
        assert_eq!(field(runs[0].raw(&runs[0].keyed[1]), 5), "1");
        assert_eq!(field(runs[2].raw(&runs[2].keyed[0]), 1), "Em, \"út\"");
        let header: Vec<String> = HEADER.trim().split(',').map(str::to_owned).collect();
        let map = column_map(&header);
        let check = Check {
            header: &header,
            map: &map,
            today: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        };
        let e = p
            .check(runs[1].raw(&runs[1].unkeyed[1]), &check)
            .unwrap_err();
        assert_eq!(e[0].code, "csv.column_count");
        let r = p.check(runs[0].raw(&runs[0].keyed[1]), &check).unwrap();
        assert_eq!(r.full_name, "An");
    }

    #[test]
    fn an_unclosed_quote_stops_the_file_at_its_line() {
        let mut text = format!("{HEADER}001095012345,An,M,1995-03-14,001,1\n001095012344,\"");
        text.push_str(&"x".repeat(MAX_RECORD_BYTES + READ_BLOCK));
        let runs = split(text.as_bytes(), RunLimits::default());
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].keyed.len(), 1);
        let fatal = runs[0].fatal.as_ref().unwrap();
        assert_eq!(
            (fatal.line, fatal.errors[0].code.as_str()),
            (3, "csv.unreadable")
        );
    }

    /// The splitter, the in-place field finder and `csv_core` find the same records and fields
    /// in arbitrary text, whether it arrives whole or a byte at a time.
    #[test]
    fn the_splitter_agrees_with_the_csv_parser() {
        let alphabet = b"a1,\"\r\n";
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut parser = RecordParser::default();
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 24) as usize;
            let text: Vec<u8> = (0..len)
                .map(|k| alphabet[((seed >> (k * 2 + 5)) as usize ^ k) % alphabet.len()])
                .collect();
            // The reference: csv_core over the whole text.
            let mut expected = Vec::new();
            let mut csv = Reader::new();
            let (mut out, mut ends) = ([0u8; 64], [0usize; 32]);
            let (mut pos, mut nout, mut nend) = (0, 0, 0);
            loop {
                let (result, nin, no, ne) =
                    csv.read_record(&text[pos..], &mut out[nout..], &mut ends[nend..]);
                (pos, nout, nend) = (pos + nin, nout + no, nend + ne);
                match result {
                    ReadRecordResult::Record => {
                        expected.push((nend, out[..ends[0]].to_vec()));
                        (nout, nend) = (0, 0);
                    }
                    ReadRecordResult::End => break,
                    _ => {}
                }
            }
            let mut got = Vec::new();
            let mut from = 0;
            while let Scan::Record(r) = scan(&text, from, 0, true) {
                for cut in from..text.len() {
                    match scan(&text[..cut], from, 0, false) {
                        Scan::More => {}
                        Scan::Record(early) => assert_eq!(early, r, "{text:?} cut at {cut}"),
                        Scan::End => panic!("{text:?} ended early at {cut}"),
                    }
                }
                let raw = &text[r.start..r.end];
                let plain = parser.split_plain(raw).then(|| {
                    let spans = parser.spans.clone();
                    spans
                        .into_iter()
                        .map(|s| raw[s].to_vec())
                        .collect::<Vec<_>>()
                });
                let count = |b: &[u8]| newlines(b);
                assert_eq!(r.lead_newlines, count(&text[from..r.start]), "{text:?}");
                assert_eq!(r.newlines, count(raw), "{text:?}");
                parser.parse(raw);
                if let Some(plain) = plain {
                    let parsed: Vec<Vec<u8>> = (0..parser.count)
                        .map(|i| parser.field(i).to_vec())
                        .collect();
                    assert_eq!(plain, parsed, "{text:?}");
                }
                let first = match r.pid {
                    Some((a, b)) => text[a..b].to_vec(),
                    None => parser.field(0).to_vec(),
                };
                assert_eq!(parser.count, r.fields, "{text:?}");
                got.push((r.fields, first));
                from = r.end;
            }
            assert_eq!(got, expected, "{:?}", String::from_utf8_lossy(&text));
        }
    }

    #[test]
    fn a_repeated_pid_never_straddles_two_chunks() {
        let key = |pid| Key {
            pid,
            line: 0,
            start: 0,
            len: 0,
        };
        let keys: Vec<Key> = [1, 2, 3, 3, 3, 4, 5].into_iter().map(key).collect();
        assert_eq!(chunk_bounds(&keys, 3), [(0, 5), (5, 7)]);
        assert_eq!(chunk_bounds(&keys, 2), [(0, 2), (2, 5), (5, 7)]);
        assert!(chunk_bounds(&[], 2).is_empty());
    }
}
