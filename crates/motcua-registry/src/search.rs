//! Officer search: by PID, or by name without diacritics ("nguyen van an" finds
//! "Nguyễn Văn An"), narrowed by birth year and province. Names match by prefix of the folded
//! full name, which the `citizens_by_name` index (folded name, date of birth) serves directly;
//! the birth-year filter reads the date's first four characters from the same index entry.

use motcua_db::Db;
use motcua_domain::{Pid, fold};

use crate::error::{RegistryError, Result};
use crate::store;
pub use crate::store::search::SearchRow;

#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    pub text: String,
    pub birth_year: Option<i32>,
    pub province: Option<u16>,
    /// Keyset cursor: the (folded name, pid) of the last row of the previous page.
    pub after: Option<(String, i64)>,
    pub limit: i64,
}

pub const MAX_QUERY_CHARS: usize = 100;

/// Runs a search; at most `limit` rows (capped at 100).
pub async fn search(db: &Db, q: &SearchQuery) -> Result<Vec<SearchRow>> {
    let text = q.text.trim();
    if text.chars().count() > MAX_QUERY_CHARS {
        return Err(RegistryError::field(
            "q",
            "query.too_long",
            format!("must be at most {MAX_QUERY_CHARS} characters"),
        ));
    }
    let limit = q.limit.clamp(1, 100);
    let province = q.province.map(i32::from);
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        if text.len() != 12 {
            return Err(RegistryError::field(
                "q",
                "pid.wrong_length",
                "a personal identification number has 12 digits",
            ));
        }
        let pid =
            Pid::parse(text).map_err(|e| RegistryError::field("q", e.code(), e.to_string()))?;
        let rows = store::search::by_pid(db, pid).await?;
        return Ok(rows);
    }
    let folded = fold(text);
    if folded.chars().count() < 2 {
        return Err(RegistryError::field(
            "q",
            "query.too_short",
            "enter a PID or at least 2 letters of a name",
        ));
    }
    let (after_name, after_pid) = q.after.clone().unwrap_or_default();
    let page = store::search::NamePage {
        folded: &folded,
        birth_year: q.birth_year.map(|y| format!("{y:04}")),
        province,
        after: (&after_name, after_pid),
        limit,
    };
    let rows = store::search::by_name_prefix(db, &page).await?;
    Ok(rows)
}
