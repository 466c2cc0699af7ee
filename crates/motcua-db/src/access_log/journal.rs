//! The access log's journal: append-only segment files on local disk, one per node.
//!
//! A request's entry is durable once its record is written and `fdatasync`ed here; the
//! ingester (`ingest.rs`) copies records into the database in the background. One fdatasync
//! covers every request that arrived meanwhile.
//!
//! Segments are written in place, never appended to: syncing an append changes the file's size,
//! which on ext4 and similar file systems commits the file-system journal and with it other
//! files' pending data (measured at 2.3 ms median and 18 ms p99 under load, against about
//! 0.2 ms for syncing an overwrite). A spare segment is prepared on another thread so that
//! switching segments costs a rename. The spare is a segment the ingester has finished with,
//! recycled, when there is one; otherwise a file of zeros, written and synced. Zero-filling
//! 4 MiB about once a second under load competes with the journal's own syncs (measured with
//! segments too large to need a new one during a run: closed-loop p99 5.8–6.4 ms against
//! 7.5–8.6 ms, BENCHMARKS.md).
//!
//! Layout: `DIR/NNNNNNNNNNNNNNNNNNNN.seg`, named by the sequence number of the first record
//! the segment may hold, plus `DIR/node-id` (this node's name in `access_journal`),
//! `DIR/lock` (held by the one process that writes the journal), `DIR/spare.tmp` (the next
//! segment, prepared) and `DIR/free.tmp` (a finished segment kept for reuse).
//!
//! Record framing: `len: u32 LE | crc32(seq ‖ body): u32 LE | seq: u64 LE | body (JSON)`.
//! A zero header marks the end of the records: every write ends with one, which the next write
//! overwrites. A record numbered below the one expected is left from the file's earlier use
//! and also marks the end (numbers only grow, and a segment is named by its first). A record
//! that is cut short or fails its checksum also ends its segment: it is the tail of a write
//! that never completed, so its caller was never told it succeeded.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::AccessEntry;

const HEADER: usize = 16;
/// The size of a segment; the ingester deletes closed segments once everything in them is in
/// the database.
pub const SEGMENT_BYTES: u64 = 4 << 20;
/// How much the ingester reads at a time (more than the largest record).
const READ_WINDOW: u64 = 256 << 10;
/// A record body is an entry of a few hundred bytes; anything larger is damage.
const MAX_BODY: usize = 64 << 10;

/// The exclusive writer of one journal directory.
pub struct Journal {
    dir: PathBuf,
    _lock: File,
    segment: File,
    segment_first: u64,
    segment_len: u64,
    next_seq: u64,
    buf: Vec<u8>,
    spare: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

/// Where the durable part of the journal ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Durable {
    /// The last sequence number written and synced (0: none yet).
    pub seq: u64,
    /// The segment being written, and its synced length.
    pub segment: u64,
    pub len: u64,
}

pub enum Opened {
    Journal(Journal),
    /// Another process holds the journal (for instance a CLI command beside a running server).
    Busy,
}

impl Journal {
    /// Opens `dir` for writing, creating it if needed. Sequence numbers continue after both the
    /// last record on disk and `ingested` (the database's position), so they never repeat.
    pub fn open(dir: &Path, ingested: u64) -> std::io::Result<Opened> {
        std::fs::create_dir_all(dir)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("lock"))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Ok(Opened::Busy),
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
        let mut last = ingested;
        for first in segments(dir)? {
            for record in read_segment(&segment_path(dir, first), 0, first)?.records {
                last = last.max(record.seq);
            }
        }
        let next_seq = last + 1;
        // A segment already named `next_seq` holds no whole record (every record in it would
        // be numbered at least `next_seq`): only a torn write, which is dropped.
        let stale = segment_path(dir, next_seq);
        if stale.exists() {
            std::fs::remove_file(&stale)?;
        }
        let mut journal = Journal {
            dir: dir.to_owned(),
            _lock: lock,
            segment: new_segment(dir, next_seq, None)?,
            segment_first: next_seq,
            segment_len: 0,
            next_seq,
            buf: Vec::with_capacity(64 << 10),
            spare: None,
        };
        journal.prepare_spare();
        Ok(Opened::Journal(journal))
    }

    /// The durable end before anything is appended.
    pub fn durable(&self) -> Durable {
        Durable {
            seq: self.next_seq - 1,
            segment: self.segment_first,
            len: self.segment_len,
        }
    }

    /// Appends `entries` as consecutive records and syncs them to disk.
    pub fn append<'a>(
        &mut self,
        entries: impl Iterator<Item = &'a AccessEntry>,
    ) -> std::io::Result<Durable> {
        use std::os::unix::fs::FileExt;
        self.buf.clear();
        let mut seq = self.next_seq;
        for entry in entries {
            encode(seq, entry, &mut self.buf)?;
            seq += 1;
        }
        let records = self.buf.len() as u64;
        if self.segment_len + records + HEADER as u64 > SEGMENT_BYTES && self.segment_len > 0 {
            self.rotate()?;
        }
        // The end marker, overwritten by the next write.
        self.buf.extend_from_slice(&[0u8; HEADER]);
        // Sequence numbers are spent even if the write fails: records of a failed write may
        // still reach the disk, and a number must never name two records.
        self.next_seq = seq;
        let written = self
            .segment
            .write_all_at(&self.buf, self.segment_len)
            .and_then(|()| self.segment.sync_data());
        if let Err(e) = written {
            // The segment's tail is unknown now; continue in a fresh one.
            self.rotate()?;
            return Err(e);
        }
        self.segment_len += records;
        Ok(self.durable())
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        let spare = match self.spare.take().map(std::thread::JoinHandle::join) {
            Some(Ok(Ok(()))) => Some(spare_path(&self.dir)),
            Some(Ok(Err(e))) => {
                tracing::warn!(error = %e, "preparing a spare access-log segment failed");
                None
            }
            Some(Err(_)) | None => None,
        };
        self.segment = new_segment(&self.dir, self.next_seq, spare.as_deref())?;
        self.segment_first = self.next_seq;
        self.segment_len = 0;
        self.prepare_spare();
        Ok(())
    }

    /// Prepares the next segment on another thread: a recycled one, or else zeros. The thread
    /// keeps the normal policy, not the ingester's `SCHED_IDLE`: the writer waits for it at
    /// the next rotation, and while requests keep the core busy an idle-class thread barely
    /// runs, so every request would wait behind it.
    fn prepare_spare(&mut self) {
        let dir = self.dir.clone();
        let spawned = std::thread::Builder::new()
            .name("access-log-spare".into())
            .spawn(move || {
                let spare = spare_path(&dir);
                if std::fs::rename(free_path(&dir), &spare).is_ok()
                    && std::fs::metadata(&spare).is_ok_and(|m| m.len() == SEGMENT_BYTES)
                {
                    return Ok(());
                }
                zero_filled(&spare).map(drop)
            });
        match spawned {
            Ok(handle) => self.spare = Some(handle),
            Err(e) => tracing::warn!(error = %e, "cannot start preparing a spare segment"),
        }
    }
}

fn spare_path(dir: &Path) -> PathBuf {
    dir.join("spare.tmp")
}

/// A finished segment kept for reuse.
fn free_path(dir: &Path) -> PathBuf {
    dir.join("free.tmp")
}

/// Retires a segment whose records are all in the database: keeps it for reuse as the next
/// spare when none is kept yet, else removes it.
pub fn recycle(dir: &Path, segment: &Path) -> std::io::Result<()> {
    let free = free_path(dir);
    // Only the ingester puts a file there, so nothing appears between the check and the rename.
    if free.exists() {
        std::fs::remove_file(segment)
    } else {
        std::fs::rename(segment, free)
    }
}

/// Writes a segment-sized file of zeros at `path` and syncs it.
fn zero_filled(path: &Path) -> std::io::Result<File> {
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(path)?;
    let zeros = vec![0u8; 64 << 10];
    let mut left = SEGMENT_BYTES;
    while left > 0 {
        let n = left.min(zeros.len() as u64);
        file.write_all(&zeros[..n as usize])?;
        left -= n;
    }
    file.sync_all()?;
    Ok(file)
}

/// Puts the segment for `first` in place: the prepared spare when there is one, else a new
/// zero-filled file.
fn new_segment(dir: &Path, first: u64, spare: Option<&Path>) -> std::io::Result<File> {
    let path = segment_path(dir, first);
    match spare {
        Some(spare) => std::fs::rename(spare, &path)?,
        None => {
            let tmp = dir.join("segment.tmp");
            drop(zero_filled(&tmp)?);
            std::fs::rename(&tmp, &path)?;
        }
    }
    // The new name must survive a crash too, or its synced records would be lost with it.
    File::open(dir)?.sync_all()?;
    OpenOptions::new().read(true).write(true).open(&path)
}

fn encode(seq: u64, entry: &AccessEntry, out: &mut Vec<u8>) -> std::io::Result<()> {
    let start = out.len();
    out.extend_from_slice(&[0u8; HEADER]);
    serde_json::to_writer(&mut *out, entry)?;
    let body_len = out.len() - start - HEADER;
    out[start + 8..start + 16].copy_from_slice(&seq.to_le_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(&out[start + 8..]);
    let len = u32::try_from(body_len).map_err(std::io::Error::other)?;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.finalize().to_le_bytes());
    Ok(())
}

pub fn segment_path(dir: &Path, first: u64) -> PathBuf {
    dir.join(format!("{first:020}.seg"))
}

/// The segments in `dir`, oldest first, by the first sequence number each may hold.
pub fn segments(dir: &Path) -> std::io::Result<Vec<u64>> {
    let mut found = Vec::new();
    for item in std::fs::read_dir(dir)? {
        let name = item?.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(first) = name
            .strip_suffix(".seg")
            .and_then(|n| n.parse::<u64>().ok())
        {
            found.push(first);
        }
    }
    found.sort_unstable();
    Ok(found)
}

pub struct Record {
    pub seq: u64,
    pub entry: AccessEntry,
    /// Offset just past this record.
    pub end: u64,
}

pub struct Segment {
    pub records: Vec<Record>,
    /// Where reading stopped: the end of the last whole record.
    pub end: u64,
    /// The records of the segment end here (a zero header or the end of the file).
    pub finished: bool,
    /// A damaged or cut-short record was met.
    pub damaged: bool,
}

/// Reads the whole records of a segment from `from` to its end; `expect` is the number the
/// record at `from` must have at least (the segment's first, at 0).
pub fn read_segment(path: &Path, from: u64, expect: u64) -> std::io::Result<Segment> {
    let mut all = Vec::new();
    let mut at = from;
    loop {
        let expect = all.last().map_or(expect, |r: &Record| r.seq + 1);
        let mut part = read_range(path, at, expect, None, usize::MAX)?;
        all.append(&mut part.records);
        if part.finished || part.damaged || part.end == at {
            return Ok(Segment {
                records: all,
                end: part.end,
                finished: part.finished,
                damaged: part.damaged,
            });
        }
        at = part.end;
    }
}

/// Reads at most `max` whole records of a segment from `from`, no further than `until` (the
/// synced end of the segment being written) or the file's end, and no more than a window of
/// bytes at a time. `expect` is the number the record at `from` must have at least.
pub fn read_range(
    path: &Path,
    from: u64,
    mut expect: u64,
    until: Option<u64>,
    max: usize,
) -> std::io::Result<Segment> {
    use std::os::unix::fs::FileExt;
    let file = File::open(path)?;
    let limit = match until {
        Some(until) => until,
        None => file.metadata()?.len(),
    };
    let window_end = limit.min(from.saturating_add(READ_WINDOW));
    let mut bytes = vec![0u8; window_end.saturating_sub(from) as usize];
    file.read_exact_at(&mut bytes, from)?;
    let at_limit = window_end >= limit;
    let mut records = Vec::new();
    let mut at = 0usize;
    let (mut finished, mut damaged) = (false, false);
    let mut pacer = crate::sched::Pacer::default();
    while records.len() < max {
        pacer.step();
        match decode(&bytes[at..]) {
            // Left from the file's earlier use: the records end before it.
            Decoded::Record(seq, _, _) if seq < expect => {
                finished = true;
                break;
            }
            Decoded::Record(seq, entry, used) => {
                expect = seq + 1;
                at += used;
                records.push(Record {
                    seq,
                    entry: *entry,
                    end: from + at as u64,
                });
            }
            Decoded::End => {
                finished = true;
                break;
            }
            // More bytes are needed: past the window, read on from here next time.
            Decoded::Short if !at_limit => break,
            Decoded::Short => {
                // At the end of the data: a clean end, or a write cut short.
                finished = true;
                damaged = at < bytes.len() && until.is_none();
                break;
            }
            Decoded::Bad => {
                damaged = true;
                break;
            }
        }
    }
    Ok(Segment {
        records,
        end: from + at as u64,
        finished,
        damaged,
    })
}

enum Decoded {
    Record(u64, Box<AccessEntry>, usize),
    /// A zero header: nothing was ever written here.
    End,
    /// The bytes end inside a record.
    Short,
    /// A record that fails its checks.
    Bad,
}

fn decode(bytes: &[u8]) -> Decoded {
    let Some(header) = bytes.get(..HEADER) else {
        return if bytes.iter().all(|&b| b == 0) && !bytes.is_empty() {
            Decoded::End
        } else {
            Decoded::Short
        };
    };
    if header.iter().all(|&b| b == 0) {
        return Decoded::End;
    }
    let word = |range: std::ops::Range<usize>| {
        let mut b = [0u8; 4];
        b.copy_from_slice(&header[range]);
        u32::from_le_bytes(b)
    };
    let len = word(0..4) as usize;
    let crc = word(4..8);
    let mut seq_bytes = [0u8; 8];
    seq_bytes.copy_from_slice(&header[8..16]);
    let seq = u64::from_le_bytes(seq_bytes);
    if len == 0 || len > MAX_BODY {
        return Decoded::Bad;
    }
    let Some(body) = bytes.get(HEADER..HEADER + len) else {
        return Decoded::Short;
    };
    let mut check = crc32fast::Hasher::new();
    check.update(&header[8..16]);
    check.update(body);
    if check.finalize() != crc {
        return Decoded::Bad;
    }
    match serde_json::from_slice(body) {
        Ok(entry) => Decoded::Record(seq, Box::new(entry), HEADER + len),
        Err(_) => Decoded::Bad,
    }
}

/// This node's stable name, created on first use.
pub fn node_id(dir: &Path) -> std::io::Result<String> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("node-id");
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => Ok(id.trim().to_owned()),
        Ok(_) | Err(_) => {
            let id = uuid::Uuid::now_v7().to_string();
            let tmp = dir.join("node-id.tmp");
            let mut file = File::create(&tmp)?;
            file.write_all(id.as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            File::open(dir)?.sync_all()?;
            Ok(id)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access_log::ActorKind;

    fn entry(i: i64) -> AccessEntry {
        AccessEntry {
            at: i,
            actor_kind: ActorKind::Client,
            actor_id: "c".into(),
            actor_name: "Sở Tư pháp".into(),
            action: "verify".into(),
            purpose: "p".into(),
            reference: None,
            subject_pid: Some(i),
            outcome: "match".into(),
            request_id: None,
        }
    }

    fn open(dir: &Path, ingested: u64) -> Journal {
        match Journal::open(dir, ingested).unwrap() {
            Opened::Journal(j) => j,
            Opened::Busy => panic!("journal busy"),
        }
    }

    #[test]
    fn records_read_back_in_order_and_numbers_continue_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = open(dir.path(), 0);
        let entries: Vec<_> = (1..=5).map(entry).collect();
        let d = j.append(entries.iter()).unwrap();
        assert_eq!(d.seq, 5);
        let read = read_segment(&segment_path(dir.path(), 1), 0, 1).unwrap();
        assert_eq!(read.records.len(), 5);
        assert!(!read.damaged);
        assert_eq!(read.records[4].entry, entries[4]);
        assert_eq!(read.end, d.len);
        drop(j);
        let mut j = open(dir.path(), 0);
        assert_eq!(j.durable().seq, 5);
        assert_eq!(j.append([entry(6)].iter()).unwrap().seq, 6);
        assert_eq!(segments(dir.path()).unwrap(), vec![1, 6]);
        // The database's position wins when it is ahead of the files.
        drop(j);
        assert_eq!(open(dir.path(), 100).durable().seq, 100);
    }

    #[test]
    fn a_second_writer_is_refused_while_the_first_holds_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let _first = open(dir.path(), 0);
        assert!(matches!(
            Journal::open(dir.path(), 0).unwrap(),
            Opened::Busy
        ));
    }

    #[test]
    fn a_torn_or_corrupted_tail_ends_the_segment() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = open(dir.path(), 0);
        let entries: Vec<_> = (1..=3).map(entry).collect();
        let end = j.append(entries.iter()).unwrap().len as usize;
        drop(j);
        let path = segment_path(dir.path(), 1);
        let whole = std::fs::read(&path).unwrap();
        assert_eq!(
            whole.len() as u64,
            SEGMENT_BYTES,
            "segments are preallocated"
        );
        let clean = read_segment(&path, 0, 1).unwrap();
        assert_eq!(clean.records.len(), 3);
        assert!(clean.finished && !clean.damaged);
        assert_eq!(clean.end as usize, end);
        // A write cut short: the last record's final bytes never reached the disk.
        let mut torn = whole.clone();
        torn[end - 3..end].fill(0);
        std::fs::write(&path, &torn).unwrap();
        let read = read_segment(&path, 0, 1).unwrap();
        assert_eq!(read.records.len(), 2);
        assert!(read.damaged);
        // A flipped byte in the last record.
        let mut flipped = whole;
        flipped[end - 2] ^= 0x20;
        std::fs::write(&path, &flipped).unwrap();
        let read = read_segment(&path, 0, 1).unwrap();
        assert_eq!(read.records.len(), 2);
        assert_eq!(read.end, read.records[1].end);
    }

    /// Fills the segment being written until the journal moves to the next; returns the
    /// records written.
    fn fill_segment(j: &mut Journal, batch: &[AccessEntry]) -> u64 {
        let segment = j.durable().segment;
        let mut written = 0;
        while j.durable().segment == segment {
            j.append(batch.iter()).unwrap();
            written += batch.len() as u64;
        }
        written
    }

    #[test]
    fn a_recycled_segment_ends_where_its_new_records_do() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = open(dir.path(), 0);
        let batch: Vec<_> = (0..512).map(entry).collect();
        fill_segment(&mut j, &batch);
        // The spare being prepared must not take the file recycled next: wait for it, and let
        // the next segment be zero-filled in place.
        if let Some(preparing) = j.spare.take() {
            preparing.join().unwrap().unwrap();
        }
        // The ingester is done with the first segment; the spare after next reuses it.
        recycle(dir.path(), &segment_path(dir.path(), 1)).unwrap();
        assert!(free_path(dir.path()).exists());
        fill_segment(&mut j, &batch);
        fill_segment(&mut j, &batch);
        let reused = j.durable().segment;
        let stale = std::fs::read(segment_path(dir.path(), reused)).unwrap();
        assert_eq!(stale.len() as u64, SEGMENT_BYTES);
        let written = j.durable().len as usize;
        assert!(
            stale[written + HEADER..written + 4096]
                .iter()
                .any(|&b| b != 0),
            "the segment was reused: old records follow the new"
        );
        // New records of another length than the old ones: they end mid-record of the old.
        let mut long = entry(7);
        long.actor_name = "Ủy ban nhân dân phường Bến Nghé, Thành phố Hồ Chí Minh".into();
        let d1 = j.append([long.clone(), long.clone()].iter()).unwrap();
        let d2 = j.append([long.clone()].iter()).unwrap();
        let read = read_segment(&segment_path(dir.path(), reused), 0, reused).unwrap();
        assert!(read.finished && !read.damaged);
        let seqs: Vec<u64> = read.records.iter().map(|r| r.seq).collect();
        // The batch that moved the journal here, then the three long records.
        assert_eq!(seqs, (reused..=d2.seq).collect::<Vec<_>>());
        assert_eq!(d1.seq, d2.seq - 1);
        assert_eq!(read.end, d2.len);
        // Read from the middle, as the ingester does.
        let rest = read_range(
            &segment_path(dir.path(), reused),
            d1.len,
            d1.seq + 1,
            None,
            9,
        )
        .unwrap();
        assert_eq!(rest.records.len(), 1);
        assert_eq!(rest.records[0].entry, long);
        // Renamed into place, then a crash before the first write: all of it is stale.
        let next = d2.seq + 1;
        std::fs::write(segment_path(dir.path(), next), &stale).unwrap();
        let read = read_segment(&segment_path(dir.path(), next), 0, next).unwrap();
        assert!(read.records.is_empty() && read.finished && !read.damaged);
        // Reopened, the journal continues after the newest record, not the stale ones.
        drop(j);
        assert_eq!(open(dir.path(), 0).durable().seq, d2.seq);
    }

    #[test]
    fn a_full_segment_continues_in_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = open(dir.path(), 0);
        let batch: Vec<_> = (0..512).map(entry).collect();
        let mut written = 0u64;
        while j.durable().segment == 1 {
            j.append(batch.iter()).unwrap();
            written += batch.len() as u64;
        }
        let segs = segments(dir.path()).unwrap();
        assert_eq!(segs.len(), 2);
        let total: usize = segs
            .iter()
            .map(|&s| {
                read_segment(&segment_path(dir.path(), s), 0, s)
                    .unwrap()
                    .records
                    .len()
            })
            .sum();
        assert_eq!(total as u64, written);
        assert_eq!(segs[1], written - 512 + 1);
    }
}
