//! Schema migrations, kept as two trees in lockstep (`migrations/sqlite`, `migrations/postgres`):
//! the same versions and names, each written in its engine's dialect. A test applies both and
//! compares the normalised schemas.

use crate::{Db, DbError, DbResult, Engine, Tx, on_read, on_tx, on_write};

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

macro_rules! migration {
    ($version:expr, $name:literal) => {
        Migration {
            version: $version,
            name: $name,
            sqlite: include_str!(concat!("../migrations/sqlite/", $name, ".sql")),
            postgres: include_str!(concat!("../migrations/postgres/", $name, ".sql")),
        }
    };
}

/// Every migration this build knows, in order.
pub const MIGRATIONS: &[Migration] = &[
    migration!(1, "0001_foundation"),
    migration!(2, "0002_identity"),
    migration!(3, "0003_registry"),
    migration!(4, "0004_audit"),
    migration!(5, "0005_access_journal"),
    migration!(6, "0006_access_log_subjects"),
    migration!(8, "0008_jobs_worker"),
];

/// The migrations that build the access log's SQLite file, replayed when that file is lost.
const AUDIT_MIGRATIONS: &[&str] = &[
    "0004_audit",
    "0005_access_journal",
    "0006_access_log_subjects",
];

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at BIGINT NOT NULL
)";

/// Applies every pending migration, each in its own transaction. Safe to run from several
/// processes at once: PostgreSQL takes an advisory lock, SQLite's `BEGIN IMMEDIATE` serialises.
pub async fn run(db: &Db) -> DbResult<Vec<i64>> {
    recreate_audit_file(db).await?;
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

/// On SQLite the access log is a separate file (see `0004_audit.sql`). When it is missing —
/// archived by an operator, or lost — its schema is created again in a new, empty file, so the
/// server keeps recording accesses instead of failing every read of personal data. Only the
/// audit migrations already applied are replayed; pending ones follow in order.
async fn recreate_audit_file(db: &Db) -> DbResult<()> {
    if db.engine() != Engine::Sqlite {
        return Ok(());
    }
    on_write!(db, c => sqlx::query(CREATE_TABLE).execute(c).await.map(|r| r.rows_affected()))?;
    let done = applied_versions(db).await?;
    let present: i64 = on_read!(db, c => {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit.sqlite_master WHERE type = 'table' AND name = 'access_log'",
        )
        .fetch_one(c)
        .await
    })?;
    let audit_created = MIGRATIONS
        .iter()
        .any(|m| m.name == AUDIT_MIGRATIONS[0] && done.contains(&m.version));
    if present > 0 || !audit_created {
        return Ok(());
    }
    tracing::warn!("the access-log file has no tables; creating them");
    let mut tx = db.begin().await?;
    let replay = MIGRATIONS
        .iter()
        .filter(|m| AUDIT_MIGRATIONS.contains(&m.name) && done.contains(&m.version));
    for audit in replay {
        on_tx!(&mut tx, c => {
            sqlx::raw_sql(audit.sqlite).execute(&mut *c).await.map(|r| r.rows_affected())
        })
        .map_err(|source| DbError::Migration {
            version: audit.version,
            name: audit.name,
            source,
        })?;
    }
    tx.commit().await
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
