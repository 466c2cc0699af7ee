//! Validation of the records the splitter ([`crate::csv_split`]) found: the header, each
//! record's fields (through [`crate::record`]), and the reports on rows a reader rejects.
//! Both import paths validate with these.

use chrono::NaiveDate;

use crate::csv_split::RecordParser;
use crate::error::FieldError;
use crate::import_report::RowError;
use crate::record::{self, COLUMNS, CitizenRecord, REQUIRED_COLUMNS};

/// Validator threads: the machine's cores, within reason.
pub(crate) fn validators() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8)
}

/// Checks the header: known columns, no duplicates, the required six present.
pub fn check_header(header: &[String]) -> std::result::Result<(), FieldError> {
    let mut seen = std::collections::HashSet::new();
    for h in header {
        if !COLUMNS.contains(&h.as_str()) {
            return Err(FieldError::new(
                "header",
                "header.unknown_column",
                format!("unknown column {h:?}; known columns: {}", COLUMNS.join(",")),
            ));
        }
        if !seen.insert(h.as_str()) {
            return Err(FieldError::new(
                "header",
                "header.duplicate_column",
                format!("column {h:?} appears twice"),
            ));
        }
    }
    for required in &COLUMNS[..REQUIRED_COLUMNS] {
        if !seen.contains(required) {
            return Err(FieldError::new(
                "header",
                "header.missing_column",
                format!("required column {required:?} is missing"),
            ));
        }
    }
    Ok(())
}

/// Where each known column sits in the header.
pub(crate) fn column_map(header: &[String]) -> [Option<usize>; COLUMNS.len()] {
    std::array::from_fn(|k| header.iter().position(|h| h == COLUMNS[k]))
}

/// What validation needs besides the record.
pub(crate) struct Check<'a> {
    pub header: &'a [String],
    pub map: &'a [Option<usize>; COLUMNS.len()],
    pub today: NaiveDate,
}

impl Check<'_> {
    /// Parses and validates one raw record.
    pub fn record(
        &self,
        parser: &mut RecordParser,
        raw: &[u8],
    ) -> Result<CitizenRecord, Vec<FieldError>> {
        let (data, spans) = parser.fields(raw);
        validate_fields(data, spans, self.header, self.map, self.today)
    }
}

/// A reader thread could not be started.
pub(crate) fn io_error(e: std::io::Error) -> FieldError {
    FieldError::new(
        "file",
        "io.thread",
        format!("cannot start a reader thread: {e}"),
    )
}

/// The report on a row whose PID an earlier valid row already has.
pub(crate) fn duplicate_of(line: u64, first: u64) -> RowError {
    RowError {
        line,
        errors: vec![FieldError::new(
            "pid",
            "pid.duplicate",
            format!("duplicates the PID on line {first}"),
        )],
    }
}

/// The report on a row whose PID is stored already.
pub(crate) fn already_registered(line: u64, pid: &str) -> RowError {
    RowError {
        line,
        errors: vec![FieldError::new(
            "pid",
            "pid.already_registered",
            format!("{pid} is already registered"),
        )],
    }
}

/// Validates one record against the header: its column count, UTF-8, then every value. Each
/// of `spans` is a field's place in `data`.
pub(crate) fn validate_fields(
    data: &[u8],
    spans: &[std::ops::Range<usize>],
    header: &[String],
    map: &[Option<usize>; COLUMNS.len()],
    today: NaiveDate,
) -> Result<CitizenRecord, Vec<FieldError>> {
    if spans.len() != header.len() {
        return Err(vec![FieldError::new(
            "row",
            "csv.column_count",
            format!(
                "has {} columns; the header has {}",
                spans.len(),
                header.len()
            ),
        )]);
    }
    // Delimiters and quotes are ASCII, so when the whole record is UTF-8 every field is too.
    // Checked with SIMD: Vietnamese text leaves the standard library's ASCII fast path every
    // few bytes, and the check was 3 % of a bulk import's CPU.
    let Ok(whole) = simdutf8::basic::from_utf8(data) else {
        let errors = spans
            .iter()
            .enumerate()
            .filter(|(_, span)| {
                data.get((*span).clone())
                    .is_some_and(|raw| std::str::from_utf8(raw).is_err())
            })
            .map(|(i, _)| FieldError::new(&header[i], "text.invalid_utf8", "is not valid UTF-8"))
            .collect();
        return Err(errors);
    };
    let field = |i: usize| spans.get(i).and_then(|span| whole.get(span.clone()));
    let values: [Option<&str>; COLUMNS.len()] = std::array::from_fn(|k| map[k].and_then(field));
    record::validate_columns(&values, today)
}
