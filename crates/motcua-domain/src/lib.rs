//! Pure types and rules of motcua: citizen identifiers, Vietnamese text handling,
//! administrative units and a deterministic synthetic population.
//!
//! Nothing here performs I/O or reads the clock: every date a rule depends on is passed
//! in by the caller, and reference tables are compiled in from `data/`.

// Tests may unwrap: a panic is the failure report there. Production code may not.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod birth_date;
pub mod ethnicity;
pub mod field_error;
pub mod fold;
pub mod gender;
pub mod generator;
pub mod id_card;
pub mod pid;
pub mod provinces;
pub mod social_insurance;
pub mod spreadsheet;
pub mod tax_code;
pub mod text_limits;
pub mod vietnam_time;

mod table;

pub use birth_date::BirthDate;
pub use field_error::FieldError;
pub use fold::fold;
pub use gender::Gender;
pub use pid::{Pid, PidError};
