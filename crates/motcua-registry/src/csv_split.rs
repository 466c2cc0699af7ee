//! Splitting a citizen CSV into raw records, the first stage of both import paths (the
//! streamed [`crate::row_reader`] and the sorted [`crate::sorted_reader`]). A run of records
//! keeps its bytes and each record's key (PID, line, place in the run); nothing here
//! validates: [`crate::row_check`] does, record by record.

use std::io::Read;

use csv_core::{ReadRecordResult, Reader};

use crate::error::FieldError;
use crate::import_report::RowError;
use crate::record::COLUMNS;

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

/// A record's sort key and where its raw bytes are in its run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Key {
    pub pid: i64,
    pub line: u64,
    pub start: u32,
    pub len: u32,
}

/// Raw records read from the file.
pub(crate) struct RawRun {
    bytes: Vec<u8>,
    /// Records whose PID column holds 12 digits, sorted by (PID, line).
    pub keyed: Vec<Key>,
    /// The others, each to be rejected.
    pub unkeyed: Vec<Key>,
    /// The file cannot be read after the last record.
    pub fatal: Option<RowError>,
    /// Where in the file the run starts and ends.
    pub first_byte: u64,
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
    pub done: bool,
    /// The line the next record starts on.
    line: u64,
    /// Input consumed by complete records so far.
    pub consumed: u64,
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

/// Line breaks in `bytes`.
fn newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// A header field's name: trimmed, without a byte-order mark.
pub(crate) fn header_name(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw)
        .trim()
        .trim_start_matches('\u{feff}')
        .to_owned()
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

    /// The fields of one raw record: the bytes they are in, and each one's place there.
    pub fn fields<'a>(&'a mut self, raw: &'a [u8]) -> (&'a [u8], &'a [std::ops::Range<usize>]) {
        if self.split_plain(raw) {
            return (raw, &self.spans);
        }
        let (nout, nend) = self.parse(raw);
        self.spans.clear();
        let mut start = 0;
        for &end in &self.ends[..nend] {
            self.spans.push(start..end);
            start = end;
        }
        (&self.out[..nout], &self.spans)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use chrono::NaiveDate;

    use super::*;
    use crate::row_check::{Check, column_map};

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
        let e = check
            .record(&mut p, runs[1].raw(&runs[1].unkeyed[1]))
            .unwrap_err();
        assert_eq!(e[0].code, "csv.column_count");
        let r = check
            .record(&mut p, runs[0].raw(&runs[0].keyed[1]))
            .unwrap();
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
}
