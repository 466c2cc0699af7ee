//! What an import reports: progress as it reads, each rejected row with its line, and the
//! report at the end. Every stage of the import uses these; they use nothing of it.

use serde::Serialize;

use crate::error::FieldError;

/// Receives progress while a file is processed.
pub trait Progress: Send {
    /// `rows` processed so far, `bytes` of input consumed.
    fn update(&mut self, rows: u64, bytes: u64);
    fn finish(&mut self, _rows: u64) {}
}

/// Progress that goes nowhere.
pub struct NoProgress;
impl Progress for NoProgress {
    fn update(&mut self, _: u64, _: u64) {}
}

/// One rejected row.
#[derive(Debug, Clone, Serialize)]
pub struct RowError {
    pub line: u64,
    pub errors: Vec<FieldError>,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let msgs: Vec<String> = self.errors.iter().map(|e| e.to_string()).collect();
        write!(f, "line {}: {}", self.line, msgs.join("; "))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    pub import_id: String,
    pub rows_read: u64,
    pub rows_imported: u64,
    pub rows_rejected: u64,
    /// The first `max_reported` rejected rows.
    pub errors: Vec<RowError>,
    pub seconds: f64,
}

impl ImportReport {
    pub fn is_complete(&self) -> bool {
        self.rows_rejected == 0
    }
}

/// Rejected rows: every one counted, the `max` on the lowest lines kept for the report.
pub(crate) struct Rejections {
    max: usize,
    count: u64,
    kept: Vec<RowError>,
}

impl Rejections {
    pub fn new(max: usize) -> Rejections {
        Rejections {
            max,
            count: 0,
            kept: Vec::new(),
        }
    }

    pub fn push(&mut self, e: RowError) {
        self.count += 1;
        if self.max == 0 {
            return;
        }
        self.kept.push(e);
        // Rows may be rejected out of file order; trimming now and then bounds the memory.
        if self.kept.len() >= self.max.saturating_mul(2).max(1024) {
            self.trim();
        }
    }

    fn trim(&mut self) {
        self.kept.sort_by_key(|e| e.line);
        self.kept.truncate(self.max);
    }

    /// How many rows were rejected, and the reports kept, in line order.
    pub fn into_sorted(mut self) -> (u64, Vec<RowError>) {
        self.trim();
        (self.count, self.kept)
    }
}
