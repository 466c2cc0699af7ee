//! Officer search: by PID, or by name without diacritics ("nguyen van an" finds
//! "Nguyễn Văn An"), narrowed by birth year and province. Names match by prefix of the folded
//! full name, which the `citizens_by_name` index (folded name, date of birth) serves directly;
//! the birth-year filter reads the date's first four characters from the same index entry.

use motcua_db::{Db, on_read};
use motcua_domain::{Pid, fold};
use serde::Serialize;

use crate::error::{RegistryError, Result};
use crate::record::pid_text;

#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    pub text: String,
    pub birth_year: Option<i32>,
    pub province: Option<u16>,
    /// Keyset cursor: the (folded name, pid) of the last row of the previous page.
    pub after: Option<(String, i64)>,
    pub limit: i64,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct SearchRow {
    pub pid: i64,
    pub full_name: String,
    pub name_folded: String,
    pub gender: String,
    pub date_of_birth: String,
    pub residence_province: Option<i32>,
    pub status: String,
}

impl SearchRow {
    pub fn pid_text(&self) -> String {
        pid_text(self.pid)
    }
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
    const COLS: &str = "SELECT pid, full_name, name_folded, gender, date_of_birth,
        residence_province, status FROM citizens";
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
        let sql = format!("{COLS} WHERE pid = $1");
        let rows: Vec<SearchRow> = on_read!(db, c => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(pid.as_i64()).fetch_all(c).await
        })?;
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
    // Prefix range on the folded name: [folded, folded + U+FFFF).
    let upper = format!("{folded}\u{ffff}");
    let (after_name, after_pid) = q.after.clone().unwrap_or_default();
    let sql = format!(
        "{COLS} WHERE name_folded >= $1 AND name_folded < $2
           AND ($3 IS NULL OR substr(date_of_birth, 1, 4) = $3)
           AND ($4 IS NULL OR residence_province = $4)
           AND (name_folded, pid) > ($5, $6)
         ORDER BY name_folded, pid LIMIT $7"
    );
    let rows: Vec<SearchRow> = on_read!(db, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(&folded)
            .bind(&upper)
            .bind(q.birth_year.map(|y| format!("{y:04}")))
            .bind(province)
            .bind(&after_name)
            .bind(after_pid)
            .bind(limit)
            .fetch_all(c)
            .await
    })?;
    Ok(rows)
}
