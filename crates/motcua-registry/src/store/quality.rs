//! The data-quality checks (listed in [`crate::quality`]) as SQL conditions over `citizens`.

use motcua_db::{Db, on_read};
use serde::Serialize;

use crate::error::Result;
use crate::store::search::SearchRow;

/// The checks, each one SQL condition below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// Same folded name and date of birth under different PIDs ("sạch").
    SuspectedDuplicates,
    /// Hometown, ethnicity or (for the living) permanent residence missing ("đủ").
    MissingFields,
    /// Deceased but still holding a permanent or current temporary residence ("sống").
    DeceasedWithResidence,
    /// Gender/century digit or year digits disagree with the record ("đúng").
    InconsistentPid,
}

pub const CHECKS: [Check; 4] = [
    Check::SuspectedDuplicates,
    Check::MissingFields,
    Check::DeceasedWithResidence,
    Check::InconsistentPid,
];

impl Check {
    pub fn code(self) -> &'static str {
        match self {
            Check::SuspectedDuplicates => "suspected_duplicates",
            Check::MissingFields => "missing_fields",
            Check::DeceasedWithResidence => "deceased_with_residence",
            Check::InconsistentPid => "inconsistent_pid",
        }
    }

    pub fn parse(s: &str) -> Option<Check> {
        CHECKS.into_iter().find(|c| c.code() == s)
    }
}

/// The WHERE condition selecting the citizens (alias `c`) a check flags.
fn condition(check: Check) -> &'static str {
    match check {
        // Grouping walks the `citizens_by_name` index (folded name, date of birth) in
        // order; a correlated lookup per citizen took minutes at a million rows.
        Check::SuspectedDuplicates => {
            "(c.name_folded, c.date_of_birth) IN (
                SELECT name_folded, date_of_birth FROM citizens
                GROUP BY name_folded, date_of_birth HAVING COUNT(*) > 1)"
        }
        Check::MissingFields => {
            "(c.hometown_province IS NULL OR c.ethnicity_code IS NULL
              OR (c.status = 'alive' AND c.residence_province IS NULL))"
        }
        Check::DeceasedWithResidence => {
            "(c.status = 'deceased' AND (c.residence_province IS NOT NULL
              OR EXISTS (SELECT 1 FROM residences r WHERE r.pid = c.pid
                         AND r.kind = 'temporary' AND r.valid_to IS NULL)))"
        }
        // Circular 07/2016/TT-BCA: digit 4 is gender (even male, odd female) and century
        // (0–1 → 1900s, 2–3 → 2000s, …); digits 5–6 are the last two of the birth year.
        Check::InconsistentPid => {
            "(((c.pid / 100000000) % 10) % 2 <> CASE c.gender WHEN 'F' THEN 1 ELSE 0 END
              OR 1900 + 100 * (((c.pid / 100000000) % 10) / 2) + ((c.pid / 1000000) % 100)
                 <> c.birth_year)"
        }
    }
}

/// How many citizens the check flags.
pub async fn count(db: &Db, check: Check) -> Result<i64> {
    let sql = format!("SELECT COUNT(*) FROM citizens c WHERE {}", condition(check));
    let n: i64 = on_read!(db, c => {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(c).await
    })?;
    Ok(n)
}

/// The citizens the check flags, in PID order after `after_pid`.
pub async fn flagged(db: &Db, check: Check, after_pid: i64, limit: i64) -> Result<Vec<SearchRow>> {
    let sql = format!(
        "SELECT c.pid, c.full_name, c.name_folded, c.gender, c.date_of_birth,
                c.residence_province, c.status
         FROM citizens c WHERE {} AND c.pid > $1 ORDER BY c.pid LIMIT $2",
        condition(check)
    );
    let rows = on_read!(db, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(after_pid)
            .bind(limit)
            .fetch_all(c)
            .await
    })?;
    Ok(rows)
}
