//! Administrative units kept as data: the 63 provinces before 2025, the 34 after the merger
//! (Resolution 202/2025/QH15) and the mapping between them. The tables come from
//! `motcua-domain`'s data files and are written to storage at start so SQL reports can join.

use motcua_db::Db;
use motcua_domain::provinces;

use crate::error::Result;
use crate::store;

/// Writes (or refreshes) the administrative-unit tables. Idempotent.
pub async fn seed(db: &Db) -> Result<()> {
    let mut tx = db.begin().await?;
    for p in provinces::provinces() {
        store::admin_units::upsert_unit(&mut tx, "p63", p.code, p.name).await?;
        if let Some(next) = provinces::successor_2025(p.code) {
            store::admin_units::upsert_successor(&mut tx, p.code, next.code).await?;
        }
    }
    for p in provinces::provinces_2025() {
        store::admin_units::upsert_unit(&mut tx, "p34", p.code, p.name).await?;
    }
    tx.commit().await?;
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
