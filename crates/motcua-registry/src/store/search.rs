//! The officer search's reads of `citizens`.

use motcua_db::{Db, on_read};
use motcua_domain::Pid;
use serde::Serialize;

use crate::error::Result;
use crate::record::pid_text;

/// A citizen as a search or worklist lists it.
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

/// The columns of a [`SearchRow`].
const SELECT_ROWS: &str = "SELECT pid, full_name, name_folded, gender, date_of_birth,
    residence_province, status FROM citizens";

pub async fn by_pid(db: &Db, pid: Pid) -> Result<Vec<SearchRow>> {
    let sql = format!("{SELECT_ROWS} WHERE pid = $1");
    let rows = on_read!(db, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(pid.as_i64()).fetch_all(c).await
    })?;
    Ok(rows)
}

/// A page of citizens whose folded name starts with `folded`, in (folded name, PID) order.
pub struct NamePage<'a> {
    pub folded: &'a str,
    /// `YYYY`, compared with the first four characters of the date of birth.
    pub birth_year: Option<String>,
    pub province: Option<i32>,
    /// Keyset cursor: the (folded name, PID) of the last row of the previous page.
    pub after: (&'a str, i64),
    pub limit: i64,
}

pub async fn by_name_prefix(db: &Db, q: &NamePage<'_>) -> Result<Vec<SearchRow>> {
    // Prefix range on the folded name: [folded, folded + U+FFFF).
    let upper = format!("{}\u{ffff}", q.folded);
    let sql = format!(
        "{SELECT_ROWS} WHERE name_folded >= $1 AND name_folded < $2
           AND ($3 IS NULL OR substr(date_of_birth, 1, 4) = $3)
           AND ($4 IS NULL OR residence_province = $4)
           AND (name_folded, pid) > ($5, $6)
         ORDER BY name_folded, pid LIMIT $7"
    );
    let rows = on_read!(db, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(q.folded)
            .bind(&upper)
            .bind(&q.birth_year)
            .bind(q.province)
            .bind(q.after.0)
            .bind(q.after.1)
            .bind(q.limit)
            .fetch_all(c)
            .await
    })?;
    Ok(rows)
}
