//! The national population registry (Cơ sở dữ liệu quốc gia về dân cư): citizens keyed by the
//! 12-digit personal identification number, households, permanent and temporary residence with
//! history, chip ID cards, vital events (birth issues a PID, death closes the record),
//! CSV import/export at national scale, data-quality checks and identity verification.
//!
//! Services that change state take the caller's transaction ([`motcua_db::Tx`]) so a later
//! interconnected procedure (birth + residence + health insurance) can run them together, and
//! append an event to the citizen's chain in that same transaction. Every SQL statement is in
//! `store` (one module per table group); the services keep the rules and call it.
//!
//! The import's modules, each using only those before it:
//!
//! 1. `import_report`: progress, rejected rows ([`csv_io::RowError`]) and the report;
//! 2. `csv_split`: splits the CSV into raw records, in runs (both import paths read with it);
//! 3. `row_check`: validates the header and each record (through [`record`]);
//! 4. `row_reader`: the streamed reader, validating on threads in file order;
//! 5. `packed_rows`, `import_event`, `bulk_sqlite`: the bulk writer on SQLite, its row layout
//!    and the event of each batch;
//! 6. `sorted_reader`: the reader of a bulk load, sorting each run by PID and handing chunks
//!    to the writer;
//! 7. [`csv_io`]: the import itself (picks a path, writes through sqlx otherwise, reports)
//!    and the export.

pub mod admin_units;
mod bulk_sqlite;
pub mod citizens;
pub mod csv_io;
mod csv_split;
pub mod error;
mod import_event;
mod import_report;
mod int_map;
mod packed_rows;
pub mod quality;
pub mod record;
mod row_check;
mod row_reader;
pub mod search;
mod sorted_reader;
mod store;
pub mod throttle;
pub mod verify;
pub mod vital;

pub use error::{FieldError, RegistryError};
pub use record::{Citizen, CitizenRecord};

/// The purposes an officer or agency system may state for reading a citizen's record
/// (Decree 13/2023/NĐ-CP: processing must be purpose-bound). Codes are stable; labels are
/// translated by the web layer.
pub const ACCESS_PURPOSES: &[&str] = &[
    "case_processing",
    "verification",
    "data_correction",
    "citizen_request",
    "inspection",
];
