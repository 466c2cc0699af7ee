//! The administrative-unit tables (`admin_units`, `admin_unit_successors`).

use motcua_db::{Tx, on_tx};

use crate::error::Result;

pub async fn upsert_unit(tx: &mut Tx, era: &str, code: u16, name: &str) -> Result<()> {
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

pub async fn upsert_successor(tx: &mut Tx, old_code: u16, new_code: u16) -> Result<()> {
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO admin_unit_successors (old_code, new_code) VALUES ($1, $2)
             ON CONFLICT (old_code) DO UPDATE SET new_code = excluded.new_code",
        )
        .bind(i32::from(old_code))
        .bind(i32::from(new_code))
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}
