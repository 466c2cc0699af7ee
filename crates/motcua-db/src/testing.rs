//! Fresh databases for tests. With `TEST_DATABASE_URL=postgres://…` every test gets its own
//! new PostgreSQL database (created through that URL); otherwise a new SQLite file in a
//! temporary directory. Either way the migrations are applied.

use crate::{Db, DbResult};

/// A database for one test; the SQLite directory is removed on drop.
pub struct TestDb {
    pub db: Db,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl std::ops::Deref for TestDb {
    type Target = Db;
    fn deref(&self) -> &Db {
        &self.db
    }
}

/// The PostgreSQL admin URL when the suite runs on PostgreSQL.
pub fn postgres_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
}

/// A new, migrated, empty database.
pub async fn fresh() -> DbResult<TestDb> {
    let (db, url, dir) = fresh_unmigrated().await?;
    crate::migrate::run(&db).await?;
    Ok(TestDb { db, url, _dir: dir })
}

/// A new empty database with no migrations applied, plus its URL.
pub async fn fresh_unmigrated() -> DbResult<(Db, String, Option<tempfile::TempDir>)> {
    if let Some(admin_url) = postgres_url() {
        let name = format!("motcua_test_{}", uuid::Uuid::now_v7().simple());
        let admin = Db::connect_with(&admin_url, crate::DbOptions { max_connections: 1 }).await?;
        crate::on_write!(&admin, c => {
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(c)
                .await
                .map(|r| r.rows_affected())
        })?;
        admin.close().await;
        let url = with_database(&admin_url, &name);
        Ok((Db::connect(&url).await?, url, None))
    } else {
        let dir = tempfile::tempdir()?;
        let url = Db::sqlite_url_in(dir.path())?;
        Ok((Db::connect(&url).await?, url, Some(dir)))
    }
}

/// `postgres://u@h:p/old?x` → `postgres://u@h:p/new?x`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// Whether a test is running on PostgreSQL (for engine-specific expectations).
pub fn on_postgres() -> bool {
    postgres_url().is_some()
}

/// The engine the suite runs on, as skip notices name it.
pub fn engine_name() -> &'static str {
    if on_postgres() { "postgres" } else { "sqlite" }
}

/// Declares that `test` does not apply to the engine the suite runs on. Prints
/// `SKIPPED (<engine>): <test>: <reason>` to stderr past the test harness's capture, so it
/// shows in every run, and appends the same line to the file named by
/// `MOTCUA_SKIPPED_TESTS` when set, so CI can count and list the skips.
pub fn skipped(test: &str, reason: &str) {
    use std::io::Write;
    let line = format!("SKIPPED ({}): {test}: {reason}\n", engine_name());
    // `eprintln!` would be captured and shown only if the test failed.
    let _ = std::io::stderr().write_all(line.as_bytes());
    if let Some(path) = std::env::var_os("MOTCUA_SKIPPED_TESTS") {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path);
        if let Ok(mut file) = file {
            let _ = file.write_all(line.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn swaps_database_name() {
        assert_eq!(
            super::with_database("postgres://u@127.0.0.1:5433/postgres?sslmode=disable", "t1"),
            "postgres://u@127.0.0.1:5433/t1?sslmode=disable"
        );
        assert_eq!(
            super::with_database("postgres://u@h", "t1"),
            "postgres://u@h/t1"
        );
    }
}
