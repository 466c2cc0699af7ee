//! The `citizens` table: the one column list read by every path and the one insert (multi-row
//! through sqlx, and its prepared form on the bulk path).

use motcua_db::{Db, Tx, on_read, on_tx};
use motcua_domain::Pid;

use super::raw_err;
use crate::error::Result;
use crate::packed_rows::{PackedChunk, Text};
use crate::record::{CitizenRecord, CitizenRow};

/// The columns of a [`CitizenRow`], in its order.
pub const COLUMNS: &str = "pid, full_name, gender, date_of_birth, birth_year,
    birth_province, hometown_province, ethnicity_code, religion, nationality, father_pid,
    mother_pid, spouse_pid, status, date_of_death, phone, email, tax_code,
    social_insurance_code, household_id, relation_to_head, residence_province,
    residence_address, version";

/// The columns every insert writes, in binding order (a macro so the bulk path's statements
/// are string constants).
macro_rules! insert_columns {
    () => {
        "pid, full_name, name_folded, gender, date_of_birth, birth_year, birth_province,
        hometown_province, ethnicity_code, religion, nationality, father_pid, mother_pid,
        spouse_pid, status, date_of_death, phone, email, tax_code, social_insurance_code,
        household_id, relation_to_head, residence_province, residence_address, import_id,
        created_at, updated_at, version"
    };
}

pub async fn get(db: &Db, pid: Pid) -> Result<Option<CitizenRow>> {
    let sql = format!("SELECT {COLUMNS} FROM citizens WHERE pid = $1");
    let row = on_read!(db, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(pid.as_i64()).fetch_optional(c).await
    })?;
    Ok(row)
}

/// The citizen as seen inside a write transaction.
pub async fn get_in(tx: &mut Tx, pid: Pid) -> Result<Option<CitizenRow>> {
    let sql = format!("SELECT {COLUMNS} FROM citizens WHERE pid = $1");
    let row = on_tx!(tx, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(pid.as_i64()).fetch_optional(&mut *c).await
    })?;
    Ok(row)
}

const NAME_AND_BIRTH_DATE: &str = "SELECT full_name, date_of_birth FROM citizens WHERE pid = $1";

/// The name and date of birth of a citizen: the verification API's read, its busiest.
pub async fn name_and_birth_date(db: &Db, pid: Pid) -> Result<Option<(String, String)>> {
    Ok(match db.raw_readers() {
        // A point read by primary key: microseconds, run in place (see motcua_db::raw).
        Some(readers) => readers.with(|c| {
            use rusqlite::OptionalExtension;
            c.prepare_cached(NAME_AND_BIRTH_DATE)?
                .query_row([pid.as_i64()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })?,
        None => on_read!(db, c => {
            sqlx::query_as(NAME_AND_BIRTH_DATE)
                .bind(pid.as_i64())
                .fetch_optional(c)
                .await
        })?,
    })
}

pub async fn count(db: &Db) -> Result<i64> {
    let n: i64 = on_read!(db, c => {
        sqlx::query_scalar("SELECT COUNT(*) FROM citizens").fetch_one(c).await
    })?;
    Ok(n)
}

/// The members of a household, youngest birth year last.
pub async fn in_household(db: &Db, household_id: i64) -> Result<Vec<CitizenRow>> {
    let sql =
        format!("SELECT {COLUMNS} FROM citizens WHERE household_id = $1 ORDER BY birth_year, pid");
    let rows = on_read!(db, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(household_id).fetch_all(c).await
    })?;
    Ok(rows)
}

/// Up to `limit` citizens after PID `after`, in PID order (the export's pages).
pub async fn page_after(db: &Db, after: i64, limit: i64) -> Result<Vec<CitizenRow>> {
    let sql = format!("SELECT {COLUMNS} FROM citizens WHERE pid > $1 ORDER BY pid LIMIT $2");
    let rows = on_read!(db, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(after).bind(limit).fetch_all(c).await
    })?;
    Ok(rows)
}

/// Rows per multi-row INSERT: 28 bound values each, under SQLite's 32,766-variable limit and
/// PostgreSQL's 65,535.
pub const INSERT_CHUNK: usize = 1000;

/// Inserts citizens with multi-row statements, skipping PIDs already present. Returns the
/// PIDs actually inserted.
pub async fn insert(
    tx: &mut Tx,
    rows: &[CitizenRecord],
    import_id: Option<&str>,
    now: i64,
) -> Result<Vec<i64>> {
    let mut inserted = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(INSERT_CHUNK) {
        let got: Vec<i64> = on_tx!(tx, c => {
            let mut qb = sqlx::QueryBuilder::new(concat!(
                "INSERT INTO citizens (",
                insert_columns!(),
                ") "
            ));
            qb.push_values(chunk, |mut b, r| {
                b.push_bind(r.pid.as_i64())
                    .push_bind(r.full_name.clone())
                    .push_bind(r.name_folded.clone())
                    .push_bind(r.gender.as_code())
                    .push_bind(r.date_of_birth.to_string())
                    .push_bind(r.date_of_birth.year())
                    .push_bind(i32::from(r.birth_province))
                    .push_bind(r.hometown_province.map(i32::from))
                    .push_bind(r.ethnicity_code.map(i32::from))
                    .push_bind(r.religion.clone())
                    .push_bind(r.nationality.clone())
                    .push_bind(r.father_pid.map(|p| p.as_i64()))
                    .push_bind(r.mother_pid.map(|p| p.as_i64()))
                    .push_bind(r.spouse_pid.map(|p| p.as_i64()))
                    .push_bind(if r.deceased { "deceased" } else { "alive" })
                    .push_bind(r.date_of_death.map(|d| d.to_string()))
                    .push_bind(r.phone.clone())
                    .push_bind(r.email.clone())
                    .push_bind(r.tax_code.clone())
                    .push_bind(r.social_insurance_code.clone())
                    .push_bind(r.household_id)
                    .push_bind(r.relation_to_head.map(|x| x.as_code()))
                    .push_bind(r.residence_province.map(i32::from))
                    .push_bind(r.address.clone())
                    .push_bind(import_id.map(str::to_owned))
                    .push_bind(now)
                    .push_bind(now)
                    .push_bind(1i32);
            });
            qb.push(" ON CONFLICT (pid) DO NOTHING RETURNING pid");
            qb.build_query_scalar::<i64>().fetch_all(&mut *c).await
        })?;
        inserted.extend(got);
    }
    Ok(inserted)
}

/// Moves the citizen's permanent residence if the record is still at `version`. Returns the
/// rows changed (0: changed concurrently).
pub async fn set_permanent_residence(
    tx: &mut Tx,
    pid: Pid,
    province_code: i32,
    address: &str,
    version: i32,
    now: i64,
) -> Result<u64> {
    let changed = on_tx!(tx, c => {
        sqlx::query(
            "UPDATE citizens SET residence_province = $1, residence_address = $2,
                 updated_at = $3, version = version + 1
             WHERE pid = $4 AND version = $5",
        )
        .bind(province_code)
        .bind(address)
        .bind(now)
        .bind(pid.as_i64())
        .bind(version)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(changed)
}

/// Marks a living citizen deceased if the record is still at `version`. Returns the rows
/// changed (0: changed concurrently or already deceased).
pub async fn mark_deceased(
    tx: &mut Tx,
    pid: Pid,
    date_of_death: &str,
    version: i32,
    now: i64,
) -> Result<u64> {
    let changed = on_tx!(tx, conn => {
        sqlx::query(
            "UPDATE citizens SET status = 'deceased', date_of_death = $1, updated_at = $2,
                 version = version + 1
             WHERE pid = $3 AND version = $4 AND status = 'alive'",
        )
        .bind(date_of_death)
        .bind(now)
        .bind(pid.as_i64())
        .bind(version)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(changed)
}

/// The insert of one citizen on the bulk path (SQLite), parameters in [`bind_packed`]'s order.
const INSERT_ONE_RAW: &str = concat!(
    "INSERT INTO citizens (",
    insert_columns!(),
    ")
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
            ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?26, 1)
    ON CONFLICT (pid) DO NOTHING"
);

/// Citizens per multi-row insert. Starting and finishing a statement for every row showed in
/// the writer's profile; in alternating runs on a million rows the whole import took
/// 8.29–8.55 s with groups of 16 against 8.63–9.03 s row by row.
const CITIZENS_PER_INSERT: usize = 16;
/// Values bound per citizen, in [`INSERT_ONE_RAW`]'s order.
const CITIZEN_PARAMS: usize = 26;

/// Inserts a packed chunk's citizens on a raw connection, skipping PIDs already present.
/// Returns, per row, whether it was inserted.
pub(crate) fn insert_packed(
    tx: &rusqlite::Connection,
    chunk: &PackedChunk,
    import_id: &str,
    now: i64,
) -> Result<Vec<bool>> {
    let n = chunk.rows.len();
    let mut inserted = Vec::with_capacity(n);
    // Both statements are looked up once per chunk, not once per group.
    let mut multi = tx
        .prepare_cached(&multi_row_insert(CITIZENS_PER_INSERT))
        .map_err(raw_err)?;
    let mut single = tx.prepare_cached(INSERT_ONE_RAW).map_err(raw_err)?;
    let mut i = 0;
    while i < n {
        let end = (i + CITIZENS_PER_INSERT).min(n);
        if end - i == CITIZENS_PER_INSERT {
            for k in 0..CITIZENS_PER_INSERT {
                bind_packed(&mut multi, k * CITIZEN_PARAMS, chunk, i + k, import_id, now)
                    .map_err(raw_err)?;
            }
            match multi.raw_execute() {
                Ok(_) => {
                    inserted.extend([true; CITIZENS_PER_INSERT]);
                    i = end;
                    continue;
                }
                // A PID already present (stored meanwhile by another writer): `OR FAIL` keeps
                // the rows before it, and the rest of the group goes one row at a time.
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    let stored = usize::try_from(tx.changes()).unwrap_or(0).min(end - i);
                    inserted.extend(std::iter::repeat_n(true, stored));
                    i += stored;
                }
                Err(e) => return Err(raw_err(e)),
            }
        }
        for row in i..end {
            bind_packed(&mut single, 0, chunk, row, import_id, now).map_err(raw_err)?;
            inserted.push(single.raw_execute().map_err(raw_err)? == 1);
        }
        i = end;
    }
    Ok(inserted)
}

/// [`INSERT_ONE_RAW`] for `rows` citizens, failing at the first PID already present.
fn multi_row_insert(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|k| {
            let p: Vec<String> = (1..=CITIZEN_PARAMS)
                .map(|j| format!("?{}", k * CITIZEN_PARAMS + j))
                .collect();
            format!(
                "({}, ?{}, 1)",
                p.join(", "),
                k * CITIZEN_PARAMS + CITIZEN_PARAMS
            )
        })
        .collect();
    format!(
        concat!(
            "INSERT OR FAIL INTO citizens (",
            insert_columns!(),
            ") VALUES {}"
        ),
        values.join(", ")
    )
}

/// Binds row `i` of `chunk` to the parameters after `base`.
fn bind_packed(
    stmt: &mut rusqlite::CachedStatement<'_>,
    base: usize,
    chunk: &PackedChunk,
    i: usize,
    import_id: &str,
    now: i64,
) -> rusqlite::Result<()> {
    let r = &chunk.rows[i];
    let text = |column: Text| chunk.text(i, column);
    stmt.raw_bind_parameter(base + 1, r.pid)?;
    stmt.raw_bind_parameter(base + 2, text(Text::FullName))?;
    stmt.raw_bind_parameter(base + 3, text(Text::NameFolded))?;
    stmt.raw_bind_parameter(base + 4, r.gender)?;
    stmt.raw_bind_parameter(base + 5, text(Text::DateOfBirth))?;
    stmt.raw_bind_parameter(base + 6, r.birth_year)?;
    stmt.raw_bind_parameter(base + 7, r.birth_province)?;
    stmt.raw_bind_parameter(base + 8, r.hometown_province)?;
    stmt.raw_bind_parameter(base + 9, r.ethnicity_code)?;
    stmt.raw_bind_parameter(base + 10, text(Text::Religion))?;
    stmt.raw_bind_parameter(base + 11, text(Text::Nationality))?;
    stmt.raw_bind_parameter(base + 12, r.father_pid)?;
    stmt.raw_bind_parameter(base + 13, r.mother_pid)?;
    stmt.raw_bind_parameter(base + 14, r.spouse_pid)?;
    stmt.raw_bind_parameter(base + 15, r.status)?;
    stmt.raw_bind_parameter(base + 16, text(Text::DateOfDeath))?;
    stmt.raw_bind_parameter(base + 17, text(Text::Phone))?;
    stmt.raw_bind_parameter(base + 18, text(Text::Email))?;
    stmt.raw_bind_parameter(base + 19, text(Text::TaxCode))?;
    stmt.raw_bind_parameter(base + 20, text(Text::SocialInsuranceCode))?;
    stmt.raw_bind_parameter(base + 21, r.household_id)?;
    stmt.raw_bind_parameter(base + 22, r.relation_to_head)?;
    stmt.raw_bind_parameter(base + 23, r.residence_province)?;
    stmt.raw_bind_parameter(base + 24, text(Text::Address))?;
    stmt.raw_bind_parameter(base + 25, import_id)?;
    stmt.raw_bind_parameter(base + 26, now)
}
