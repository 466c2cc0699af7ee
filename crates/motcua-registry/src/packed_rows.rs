//! Validated rows laid out for the bulk writer: each chunk's text in one contiguous buffer, so
//! the writer binds values from memory it reads in order (profiled on a million citizens:
//! reading bound text from rows scattered across the heap was 15 % of the writer's time, nearly
//! all of it cache misses).

use std::fmt::Write as _;

use crate::record::{CitizenRecord, HouseholdRow};

/// The text columns of the insert statement, in [`PackedRow::text`] order.
#[derive(Clone, Copy)]
pub(crate) enum Text {
    FullName,
    NameFolded,
    DateOfBirth,
    Religion,
    Nationality,
    DateOfDeath,
    Phone,
    Email,
    TaxCode,
    SocialInsuranceCode,
    Address,
}
const TEXT_COLUMNS: usize = 11;

/// Where one text value sits in its chunk's buffer; `None` is SQL NULL.
type Span = Option<(u32, u32)>;

/// Rows per chunk at most, whatever the batch size asked for: under the field limits a row's
/// text is at most about 4 KB, so a chunk's buffer stays far below the 4 GiB its offsets reach.
pub(crate) const MAX_CHUNK_ROWS: usize = 65_536;

/// One citizen's column values; text lives in the chunk's buffer.
pub(crate) struct PackedRow {
    pub pid: i64,
    pub gender: &'static str,
    pub birth_year: i32,
    pub birth_province: i32,
    pub hometown_province: Option<i32>,
    pub ethnicity_code: Option<i32>,
    pub father_pid: Option<i64>,
    pub mother_pid: Option<i64>,
    pub spouse_pid: Option<i64>,
    pub status: &'static str,
    pub household_id: Option<i64>,
    pub relation_to_head: Option<&'static str>,
    pub residence_province: Option<i32>,
    text: [Span; TEXT_COLUMNS],
}

/// Consecutive rows of a run in PID order, with their source lines.
pub(crate) struct PackedChunk {
    pub lines: Vec<u64>,
    pub rows: Vec<PackedRow>,
    text: String,
}

impl PackedChunk {
    pub fn with_capacity(rows: usize) -> PackedChunk {
        PackedChunk {
            lines: Vec::with_capacity(rows),
            rows: Vec::with_capacity(rows),
            text: String::with_capacity(rows * 160),
        }
    }

    /// A text column of row `i`.
    pub fn text(&self, i: usize, column: Text) -> Option<&str> {
        let (start, len) = self.rows[i].text[column as usize]?;
        self.text.get(start as usize..(start + len) as usize)
    }

    /// The lowest and highest source line in the chunk.
    pub fn line_span(&self) -> (u64, u64) {
        let lo = self.lines.iter().copied().min().unwrap_or(0);
        let hi = self.lines.iter().copied().max().unwrap_or(0);
        (lo, hi)
    }
}

/// What the bulk writer stores: chunks of rows, and the households they belong to.
pub(crate) enum RunPart {
    Households(Vec<HouseholdRow>),
    Chunk(PackedChunk),
}

impl PackedChunk {
    /// Appends a row read from `line`.
    pub fn push(&mut self, line: u64, r: &CitizenRecord) {
        let mut p = Packer {
            buf: &mut self.text,
            text: [None; TEXT_COLUMNS],
        };
        p.str(Text::FullName, Some(&r.full_name));
        p.str(Text::NameFolded, Some(&r.name_folded));
        p.birth_date(Text::DateOfBirth, &r.date_of_birth);
        p.str(Text::Religion, r.religion.as_deref());
        p.str(Text::Nationality, Some(&r.nationality));
        p.display(Text::DateOfDeath, r.date_of_death.as_ref());
        p.str(Text::Phone, r.phone.as_deref());
        p.str(Text::Email, r.email.as_deref());
        p.str(Text::TaxCode, r.tax_code.as_deref());
        p.str(
            Text::SocialInsuranceCode,
            r.social_insurance_code.as_deref(),
        );
        p.str(Text::Address, r.address.as_deref());
        let text = p.text;
        self.lines.push(line);
        self.rows.push(PackedRow {
            pid: r.pid.as_i64(),
            gender: r.gender.as_code(),
            birth_year: r.date_of_birth.year(),
            birth_province: i32::from(r.birth_province),
            hometown_province: r.hometown_province.map(i32::from),
            ethnicity_code: r.ethnicity_code.map(i32::from),
            father_pid: r.father_pid.map(|p| p.as_i64()),
            mother_pid: r.mother_pid.map(|p| p.as_i64()),
            spouse_pid: r.spouse_pid.map(|p| p.as_i64()),
            status: if r.deceased { "deceased" } else { "alive" },
            household_id: r.household_id,
            relation_to_head: r.relation_to_head.map(|x| x.as_code()),
            residence_province: r.residence_province.map(i32::from),
            text,
        });
    }
}

/// Appends one row's text values to its chunk's buffer.
struct Packer<'a> {
    buf: &'a mut String,
    text: [Span; TEXT_COLUMNS],
}

impl Packer<'_> {
    fn str(&mut self, column: Text, value: Option<&str>) {
        if let Some(v) = value {
            let start = self.buf.len();
            self.buf.push_str(v);
            self.mark(column, start);
        }
    }

    fn display(&mut self, column: Text, value: Option<&impl std::fmt::Display>) {
        if let Some(v) = value {
            let start = self.buf.len();
            // Writing into a String cannot fail.
            let _ = write!(self.buf, "{v}");
            self.mark(column, start);
        }
    }

    fn birth_date(&mut self, column: Text, value: &motcua_domain::birth_date::BirthDate) {
        let start = self.buf.len();
        value.push_iso(self.buf);
        self.mark(column, start);
    }

    fn mark(&mut self, column: Text, start: usize) {
        self.text[column as usize] = Some((start as u32, (self.buf.len() - start) as u32));
    }
}
