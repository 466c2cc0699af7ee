//! Schema migrations. Each context crate owns its own, as two trees in lockstep
//! (`crates/<context>/migrations/sqlite`, `…/postgres`): the same versions and names, each
//! written in its engine's dialect. `build.rs` finds every context's folders and lists them
//! here in version order (versions are unique across contexts). A test applies both trees and
//! compares the normalised schemas.

use crate::{Db, DbError, DbResult, Engine, Tx, on_read, on_tx, on_write};

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    /// The crate whose `migrations/` folder holds it.
    pub context: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// The migrations of one context, in order.
pub fn of_context(context: &str) -> impl Iterator<Item = &'static Migration> + '_ {
    MIGRATIONS.iter().filter(move |m| m.context == context)
}

/// The files attached beside the embedded database's: the schema each is attached as, a
/// table that shows it was built, and the migrations that build it, replayed when the file is
/// lost (each must be safe to run on an empty file).
const ATTACHED_FILES: &[(&str, &str, &[&str])] = &[
    (
        "audit",
        "access_log",
        &[
            "0004_audit",
            "0005_access_journal",
            "0006_access_log_subjects",
            "0007_access_log_chain",
        ],
    ),
    (
        "counters",
        "verification_failures",
        &["0011_throttle_counters"],
    ),
];

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at BIGINT NOT NULL
)";

/// Applies every pending migration, each in its own transaction. Safe to run from several
/// processes at once: PostgreSQL takes an advisory lock, SQLite's `BEGIN IMMEDIATE` serialises.
pub async fn run(db: &Db) -> DbResult<Vec<i64>> {
    recreate_attached_files(db).await?;
    let mut applied = Vec::new();
    for m in MIGRATIONS {
        let mut tx = db.begin().await?;
        if tx.engine() == Engine::Postgres {
            on_tx!(&mut tx, c => {
                sqlx::query("SELECT pg_advisory_xact_lock(7406100601)").execute(&mut *c).await.map(|r| r.rows_affected())
            })?;
        }
        on_tx!(&mut tx, c => sqlx::query(CREATE_TABLE).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        let done: Option<i64> = on_tx!(&mut tx, c => {
            sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(m.version)
                .fetch_optional(&mut *c)
                .await
        })?;
        if done.is_some() {
            continue;
        }
        apply(&mut tx, m).await?;
        tx.commit().await?;
        tracing::info!(version = m.version, name = m.name, "applied migration");
        applied.push(m.version);
    }
    check_known(db).await?;
    Ok(applied)
}

/// On SQLite the access log and the verification counters are separate files (see
/// `0004_audit.sql`, `0011_throttle_counters.sql`). When one is missing — archived by an
/// operator, or lost — its schema is created again in a new, empty file, so the server keeps
/// recording accesses and counting verifications instead of failing every request. Only the
/// migrations of that file already applied are replayed; pending ones follow in order.
async fn recreate_attached_files(db: &Db) -> DbResult<()> {
    if db.engine() != Engine::Sqlite {
        return Ok(());
    }
    on_write!(db, c => sqlx::query(CREATE_TABLE).execute(c).await.map(|r| r.rows_affected()))?;
    let done = applied_versions(db).await?;
    for (schema, table, migrations) in ATTACHED_FILES {
        let present: i64 = on_read!(db, c => {
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM {schema}.sqlite_master WHERE type = 'table' AND name = $1"
            )))
            .bind(table)
            .fetch_one(c)
            .await
        })?;
        let replay: Vec<&Migration> = MIGRATIONS
            .iter()
            .filter(|m| migrations.contains(&m.name) && done.contains(&m.version))
            .collect();
        if present > 0 || replay.is_empty() {
            continue;
        }
        tracing::warn!(
            schema,
            "an attached database file has no tables; creating them"
        );
        let mut tx = db.begin().await?;
        for m in replay {
            on_tx!(&mut tx, c => {
                sqlx::raw_sql(m.sqlite).execute(&mut *c).await.map(|r| r.rows_affected())
            })
            .map_err(|source| DbError::Migration {
                version: m.version,
                name: m.name,
                source,
            })?;
        }
        tx.commit().await?;
    }
    Ok(())
}

async fn apply(tx: &mut Tx, m: &Migration) -> DbResult<()> {
    let sql = match tx.engine() {
        Engine::Sqlite => m.sqlite,
        Engine::Postgres => m.postgres,
    };
    let now = crate::clock::now_us();
    let result = on_tx!(tx, c => {
        match sqlx::raw_sql(sql).execute(&mut *c).await {
            Ok(_) => sqlx::query(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            )
            .bind(m.version)
            .bind(m.name)
            .bind(now)
            .execute(&mut *c)
            .await
            .map(|_| ()),
            Err(e) => Err(e),
        }
    });
    result.map_err(|source| DbError::Migration {
        version: m.version,
        name: m.name,
        source,
    })
}

async fn check_known(db: &Db) -> DbResult<()> {
    let newest: Option<i64> = on_read!(db, c => {
        sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations").fetch_one(c).await
    })?;
    let known = MIGRATIONS.last().map(|m| m.version).unwrap_or(0);
    match newest {
        Some(v) if v > known => Err(DbError::UnknownMigration(v)),
        _ => Ok(()),
    }
}

/// Versions applied so far, for readiness checks.
pub async fn applied_versions(db: &Db) -> DbResult<Vec<i64>> {
    let rows: Result<Vec<i64>, sqlx::Error> = on_read!(db, c => {
        sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
            .fetch_all(c)
            .await
    });
    Ok(rows?)
}

/// True when every migration this build knows has been applied.
pub async fn is_current(db: &Db) -> bool {
    match applied_versions(db).await {
        Ok(v) => v.len() == MIGRATIONS.len(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_context_brings_its_own_migrations_in_one_version_order() {
        assert!(MIGRATIONS.windows(2).all(|w| w[0].version < w[1].version));
        for m in MIGRATIONS {
            assert!(
                m.name.starts_with(&format!("{:04}_", m.version)),
                "{}",
                m.name
            );
        }
        assert!(of_context("motcua-identity").any(|m| m.name == "0002_identity"));
        assert!(of_context("motcua-registry").any(|m| m.name == "0003_registry"));
        // Every migration named as building an attached file exists.
        for (schema, _, names) in ATTACHED_FILES {
            for name in *names {
                assert!(
                    MIGRATIONS.iter().any(|m| m.name == *name),
                    "{schema}: no migration {name}"
                );
            }
        }
    }
}
