//! Storage for motcua: one API over an embedded SQLite file (the default) and PostgreSQL
//! (national scale). The scheme of the database URL picks the engine.
//!
//! Queries are written once with `$1…$n` placeholders (both engines accept them) and run on
//! either engine through the [`on_read!`], [`on_write!`] and [`on_tx!`] macros, which expand the
//! same body for each engine's executor type. Where the dialects differ, callers match on
//! [`Db::engine`] and write two explicit arms.
//!
//! Conventions every table follows: times are `BIGINT` microseconds since the Unix epoch (UTC),
//! bound as parameters (never `now()` in SQL); identifiers are UUIDv7 text made in Rust;
//! money is VND as `BIGINT`.

pub mod access_log;
pub mod audit;
pub mod clock;
pub mod events;
pub mod jobs;
pub mod migrate;
pub mod page_cache;
pub mod raw;
pub mod sched;
#[cfg(feature = "testing")]
pub mod testing;

/// Page size of a new SQLite database (bytes). Twice SQLite's default: a bulk import of a
/// million citizens writes, logs and checkpoints half as many pages (measured: 3.98–4.33 s
/// against 4.54–4.82 s, system time 1.0–1.1 s against 1.4–1.8 s), and verification reads were
/// unchanged (BENCHMARKS.md). A database keeps the size it was created with: in WAL mode SQLite
/// cannot change it.
pub const SQLITE_PAGE_SIZE: u32 = 8192;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use sqlx;

/// The file name of the embedded database inside the data directory.
pub const SQLITE_FILE_NAME: &str = "motcua.sqlite3";

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migration {version} ({name}) failed: {source}")]
    Migration {
        version: i64,
        name: &'static str,
        source: sqlx::Error,
    },
    #[error("the database has migration {0}, which this build does not know; upgrade motcua")]
    UnknownMigration(i64),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Conflict(String),
    #[error("event log integrity: {0}")]
    Integrity(String),
}

impl DbError {
    /// True when the error is a unique-constraint violation (a concurrent writer won).
    pub fn is_unique_violation(&self) -> bool {
        match self {
            DbError::Sqlx(sqlx::Error::Database(e)) => e.is_unique_violation(),
            _ => false,
        }
    }
}

pub type DbResult<T> = Result<T, DbError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

/// The connection pools. SQLite has one writer connection (SQLite allows one writer at a time;
/// a single connection avoids busy-waiting inside the process) and a pool of readers.
#[derive(Debug)]
pub enum Pools {
    Sqlite { write: SqlitePool, read: SqlitePool },
    Postgres(PgPool),
}

/// A handle to the database, cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    pools: Arc<Pools>,
    url: Arc<str>,
    sqlite_path: Option<Arc<std::path::PathBuf>>,
    raw_readers: Option<Arc<raw::RawReaders>>,
}

/// Options for opening a database.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// Maximum connections to PostgreSQL, or readers for SQLite.
    pub max_connections: u32,
}

impl Default for DbOptions {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(2);
        DbOptions {
            max_connections: (cpus * 4).clamp(4, 32),
        }
    }
}

impl Db {
    /// Opens the database named by `url`: `sqlite://path/file.sqlite3` (created if missing),
    /// `sqlite::memory:` is refused because readers and the writer must share one file, and
    /// `postgres://…` / `postgresql://…`.
    pub async fn connect(url: &str) -> DbResult<Db> {
        Self::connect_with(url, DbOptions::default()).await
    }

    pub async fn connect_with(url: &str, options: DbOptions) -> DbResult<Db> {
        let pools = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url)?.application_name("motcua");
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts)
                .await?;
            Pools::Postgres(pool)
        } else if url.starts_with("sqlite:") && !url.contains(":memory:") {
            let audit = audit_file(&sqlite_file(url)).display().to_string();
            let base = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .page_size(SQLITE_PAGE_SIZE)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .pragma("cache_size", "-16384")
                .pragma("temp_store", "memory");
            let counters = counters_file(&sqlite_file(url)).display().to_string();
            let attached = Arc::new([("audit", audit), ("counters", counters)]);
            let attach_writer = attached.clone();
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .acquire_timeout(Duration::from_secs(30))
                .after_connect(move |conn, _| {
                    let attached = attach_writer.clone();
                    Box::pin(async move {
                        for (schema, file) in attached.iter() {
                            sqlx::query(sqlx::AssertSqlSafe(format!(
                                "ATTACH DATABASE $1 AS {schema}"
                            )))
                            .bind(file)
                            .execute(&mut *conn)
                            .await?;
                            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                                "PRAGMA {schema}.journal_mode = WAL; \
                                 PRAGMA {schema}.synchronous = NORMAL"
                            )))
                            .execute(&mut *conn)
                            .await?;
                        }
                        Ok(())
                    })
                })
                .connect_with(base.clone())
                .await?;
            let attach_reader = attached;
            let read = SqlitePoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(Duration::from_secs(10))
                .after_connect(move |conn, _| {
                    let attached = attach_reader.clone();
                    Box::pin(async move {
                        for (schema, file) in attached.iter() {
                            sqlx::query(sqlx::AssertSqlSafe(format!(
                                "ATTACH DATABASE $1 AS {schema}"
                            )))
                            .bind(file)
                            .execute(&mut *conn)
                            .await?;
                        }
                        Ok(())
                    })
                })
                .connect_with(base.read_only(true))
                .await?;
            Pools::Sqlite { write, read }
        } else {
            return Err(DbError::UnsupportedUrl(redact_url(url)));
        };
        let sqlite_path = match &pools {
            Pools::Sqlite { .. } => Some(Arc::new(sqlite_file(url))),
            Pools::Postgres(_) => None,
        };
        let raw_readers = match &sqlite_path {
            Some(path) => Some(Arc::new(raw::RawReaders::open(path, 4)?)),
            None => None,
        };
        Ok(Db {
            pools: Arc::new(pools),
            url: Arc::from(redact_url(url)),
            sqlite_path,
            raw_readers,
        })
    }

    /// The URL of the embedded database inside `data_dir`, creating the directory.
    pub fn sqlite_url_in(data_dir: &Path) -> DbResult<String> {
        std::fs::create_dir_all(data_dir)?;
        let path = data_dir.join(SQLITE_FILE_NAME);
        Ok(format!("sqlite://{}", path.display()))
    }

    pub fn engine(&self) -> Engine {
        match &*self.pools {
            Pools::Sqlite { .. } => Engine::Sqlite,
            Pools::Postgres(_) => Engine::Postgres,
        }
    }

    /// The database file, when the engine is SQLite.
    pub fn sqlite_path(&self) -> Option<&std::path::Path> {
        self.sqlite_path.as_deref().map(|p| p.as_path())
    }

    /// Direct read connections for hot point lookups, when the engine is SQLite.
    pub fn raw_readers(&self) -> Option<&raw::RawReaders> {
        self.raw_readers.as_deref()
    }

    pub fn pools(&self) -> &Pools {
        &self.pools
    }

    /// The URL with any password removed, for logs and status pages.
    pub fn display_url(&self) -> &str {
        &self.url
    }

    /// Begins a write transaction. On SQLite it starts with `BEGIN IMMEDIATE`, so a second
    /// process waits for the write lock up front instead of failing halfway.
    pub async fn begin(&self) -> DbResult<Tx> {
        Ok(match &*self.pools {
            Pools::Sqlite { write, .. } => Tx::Sqlite(write.begin_with("BEGIN IMMEDIATE").await?),
            Pools::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// True when the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        let r: Result<i32, sqlx::Error> = on_read!(self, c => {
            sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(c).await
        });
        r.is_ok()
    }

    pub async fn close(&self) {
        match &*self.pools {
            Pools::Sqlite { write, read } => {
                read.close().await;
                write.close().await;
            }
            Pools::Postgres(p) => p.close().await,
        }
    }
}

/// A write transaction on either engine. Dropped without `commit` it rolls back, so nothing
/// half-written survives an error.
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Tx {
    pub async fn commit(self) -> DbResult<()> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }

    pub fn engine(&self) -> Engine {
        match self {
            Tx::Sqlite(_) => Engine::Sqlite,
            Tx::Postgres(_) => Engine::Postgres,
        }
    }
}

/// Runs `$body` with `$c` bound to a read executor (a pool) of whichever engine `$db` uses.
#[macro_export]
macro_rules! on_read {
    ($db:expr, $c:ident => $body:expr) => {
        match $db.pools() {
            $crate::Pools::Sqlite { read, .. } => {
                let $c = read;
                $body
            }
            $crate::Pools::Postgres(pool) => {
                let $c = pool;
                $body
            }
        }
    };
}

/// Runs `$body` with `$c` bound to the write pool (single statements outside a transaction).
#[macro_export]
macro_rules! on_write {
    ($db:expr, $c:ident => $body:expr) => {
        match $db.pools() {
            $crate::Pools::Sqlite { write, .. } => {
                let $c = write;
                $body
            }
            $crate::Pools::Postgres(pool) => {
                let $c = pool;
                $body
            }
        }
    };
}

/// Runs `$body` with `$c` bound to `&mut` the transaction's connection; use `&mut *$c` for
/// each statement.
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, $c:ident => $body:expr) => {
        match $tx {
            $crate::Tx::Sqlite(t) => {
                let $c = &mut **t;
                $body
            }
            $crate::Tx::Postgres(t) => {
                let $c = &mut **t;
                $body
            }
        }
    };
}

/// `sqlite://dir/file.sqlite3?mode=rwc` → `dir/file.sqlite3`.
fn sqlite_file(url: &str) -> std::path::PathBuf {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    std::path::PathBuf::from(rest.split('?').next().unwrap_or(rest))
}

/// The access log's own file beside the registry's: `motcua.sqlite3` → `motcua.audit.sqlite3`.
pub fn audit_file(main: &std::path::Path) -> std::path::PathBuf {
    main.with_extension("audit.sqlite3")
}

/// The file of counters written on many requests (the verification throttle's), beside the
/// registry's: `motcua.sqlite3` → `motcua.counters.sqlite3`, attached as `counters`. Like the
/// access log they are kept out of the registry's file, whose every commit would reset the
/// page caches of all its readers; unlike it they are state, not records (see
/// `motcua-registry/migrations/*/0011_throttle_counters.sql`).
pub fn counters_file(main: &std::path::Path) -> std::path::PathBuf {
    main.with_extension("counters.sqlite3")
}

/// `url` with every password it holds replaced by `***`, for messages and logs: the one in
/// the user info (`postgres://user:secret@host/db`, `postgresql://`, percent-encoded or not)
/// and `password=` / `sslpassword=` parameters, in a query string or a `key=value` string.
/// When the text is ambiguous (an `@` that may end the user info), more is hidden, not less.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let mut out = String::with_capacity(url.len());
    let rest = match scheme {
        Some(scheme) => {
            out.push_str(scheme);
            out.push_str("://");
            // The last `@` ends the user info: a password may hold unencoded `@`, `/` or `?`.
            match rest.rsplit_once('@') {
                Some((userinfo, after)) => {
                    match userinfo.split_once(':') {
                        Some((user, _)) => {
                            out.push_str(user);
                            out.push_str(":***");
                        }
                        None => out.push_str(userinfo),
                    }
                    out.push('@');
                    after
                }
                None => rest,
            }
        }
        None => rest,
    };
    redact_parameters(rest, &mut out);
    out
}

/// Copies `text` to `out` with the value of every password parameter replaced by `***`.
/// Parameters are separated by `?`, `&`, `;` or white space.
fn redact_parameters(text: &str, out: &mut String) {
    let is_separator = |c: char| matches!(c, '?' | '&' | ';') || c.is_whitespace();
    let mut rest = text;
    while !rest.is_empty() {
        let end = rest.find(is_separator).unwrap_or(rest.len());
        let (part, tail) = rest.split_at(end);
        match part.split_once('=') {
            Some((key, _)) if is_password_key(key) => {
                out.push_str(key);
                out.push_str("=***");
            }
            _ => out.push_str(part),
        }
        let mut chars = tail.chars();
        if let Some(separator) = chars.next() {
            out.push(separator);
        }
        rest = chars.as_str();
    }
}

fn is_password_key(key: &str) -> bool {
    let key = percent_decode(key).to_ascii_lowercase();
    key == "password" || key == "sslpassword" || key == "pass" || key == "pwd"
}

/// `%XX` sequences of a URL part decoded (invalid ones kept as they are): parameter names
/// compared here, a user or password given to a mail server.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A new UUIDv7 identifier as text (time-ordered, so inserts land at the end of indexes).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://u:pw@localhost:5432/db"),
            "postgres://u:***@localhost:5432/db"
        );
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
    }

    #[test]
    fn redacts_passwords_in_every_form() {
        for (url, expected) in [
            (
                "postgresql://motcua:s3cret@db.example:5432/motcua",
                "postgresql://motcua:***@db.example:5432/motcua",
            ),
            (
                "postgres://u:p%40s3cret%2Fw0rd@h/db",
                "postgres://u:***@h/db",
            ),
            ("postgres://u:pa@s3cret/x@h/db", "postgres://u:***@h/db"),
            ("postgres://u:pa?s3cret@h/db", "postgres://u:***@h/db"),
            (
                "postgres://u@h/db?sslmode=require&password=s3cret",
                "postgres://u@h/db?sslmode=require&password=***",
            ),
            (
                "postgres://h/db?PassWord=s3cret&user=u",
                "postgres://h/db?PassWord=***&user=u",
            ),
            (
                "postgres://h/db?pass%77ord=s3cret",
                "postgres://h/db?pass%77ord=***",
            ),
            (
                "postgres://h/db?sslpassword=s3cret",
                "postgres://h/db?sslpassword=***",
            ),
            (
                "host=h user=u password=s3cret dbname=d",
                "host=h user=u password=*** dbname=d",
            ),
            ("postgres://u@h:5432/db", "postgres://u@h:5432/db"),
            (
                "sqlite://motcua-data/motcua.sqlite3?mode=rwc",
                "sqlite://motcua-data/motcua.sqlite3?mode=rwc",
            ),
        ] {
            let redacted = redact_url(url);
            assert_eq!(redacted, expected, "{url}");
            assert!(!redacted.contains("s3cret"), "{url}");
        }
    }
}
