//! Administrative units kept as data: the 63 provinces before 2025, the 34 after the merger
//! (Resolution 202/2025/QH15) and the mapping between them. The tables come from
//! `motcua-domain`'s data files and are written to storage at start so SQL reports can join.

use motcua_db::{Db, on_tx};
use motcua_domain::provinces;

use crate::error::Result;

/// Writes (or refreshes) the administrative-unit tables. Idempotent.
pub async fn seed(db: &Db) -> Result<()> {
    let mut tx = db.begin().await?;
    for p in provinces::provinces() {
        upsert_unit(&mut tx, "p63", p.code, p.name).await?;
        if let Some(next) = provinces::successor_2025(p.code) {
            on_tx!(&mut tx, c => {
                sqlx::query(
                    "INSERT INTO admin_unit_successors (old_code, new_code) VALUES ($1, $2)
                     ON CONFLICT (old_code) DO UPDATE SET new_code = excluded.new_code",
                )
                .bind(i32::from(p.code))
                .bind(i32::from(next.code))
                .execute(&mut *c)
                .await
                .map(|r| r.rows_affected())
            })?;
        }
    }
    for p in provinces::provinces_2025() {
        upsert_unit(&mut tx, "p34", p.code, p.name).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn upsert_unit(tx: &mut motcua_db::Tx, era: &str, code: u16, name: &str) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO admin_units (era, code, name) VALUES ($1, $2, $3)
             ON CONFLICT (era, code) DO UPDATE SET name = excluded.name",
        )
        .bind(era)
        .bind(i32::from(code))
        .bind(name)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// The name of a pre-2025 province and, where it was merged into a differently named unit in
/// 2025, that unit's name.
pub fn province_names(code: i32) -> Option<(&'static str, Option<&'static str>)> {
    let code = u16::try_from(code).ok()?;
    let p = provinces::province(code)?;
    let next = provinces::successor_2025(code)
        .map(|n| n.name)
        .filter(|n| *n != p.name);
    Some((p.name, next))
}
