//! Connections: one diesel code base over SQLite (the embedded default) and PostgreSQL.
//!
//! The backend comes from the URL's scheme, never from trying one driver after another (SQLite
//! would accept any string as a file name). Store code is written once and compiled for each
//! backend through [`with_conn!`]; the few statements that truly differ (row locks, id
//! allocation, transaction start) match on the variant.

use std::path::PathBuf;
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection};
use diesel::r2d2::{self, R2D2Connection};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::store::StoreError;

#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// Runs `$body` with `$c` bound to the concrete connection, compiled once per backend.
#[macro_export]
macro_rules! with_conn {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::store::db::AnyConnection::Postgres($c) => $body,
            $crate::store::db::AnyConnection::Sqlite($c) => $body,
        }
    };
}

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A parsed `DATABASE_URL`: `postgres://…`/`postgresql://…`, or `sqlite://path` (relative) and
/// `sqlite:///absolute/path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseUrl {
    Postgres(String),
    Sqlite(PathBuf),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<DatabaseUrl, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.to_owned()));
        }
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err("sqlite URL has no file path".into());
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        Err("database URL must start with postgres://, postgresql:// or sqlite://".into())
    }

    pub fn backend(&self) -> Backend {
        match self {
            DatabaseUrl::Postgres(_) => Backend::Postgres,
            DatabaseUrl::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// The URL without a password, for logs.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => match (url.find("://"), url.rfind('@')) {
                (Some(scheme_end), Some(at)) if at > scheme_end => {
                    let scheme = url.get(..scheme_end + 3).unwrap_or("");
                    let rest = url.get(at..).unwrap_or("");
                    match url.get(scheme_end + 3..at).and_then(|u| u.split_once(':')) {
                        Some((user, _password)) => format!("{scheme}{user}:***{rest}"),
                        // No password in the URL: nothing to hide.
                        None => url.clone(),
                    }
                }
                _ => url.clone(),
            },
        }
    }
}

#[derive(Clone, Debug)]
pub struct ConnectionOptions {
    pub url: DatabaseUrl,
    pub busy_timeout_ms: u32,
    pub statement_timeout_ms: u32,
    /// SQLite's `mmap_size`, in KiB (`database.sqlite_mmap_kib`).
    pub sqlite_mmap_kib: u32,
}

/// The memory map each SQLite connection starts with unless configured otherwise.
pub const SQLITE_MMAP_KIB_DEFAULT: u32 = 256 * 1024;

impl ConnectionOptions {
    pub fn connect(&self) -> Result<AnyConnection, StoreError> {
        match &self.url {
            DatabaseUrl::Postgres(url) => {
                let mut conn = PgConnection::establish(url).map_err(StoreError::Connect)?;
                conn.batch_execute(&format!(
                    "SET application_name = 'mkoba'; SET statement_timeout = {};",
                    self.statement_timeout_ms
                ))?;
                Ok(AnyConnection::Postgres(conn))
            }
            DatabaseUrl::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| StoreError::Io(e.to_string()))?;
                }
                let text = path.to_string_lossy();
                let mut conn = SqliteConnection::establish(&text).map_err(StoreError::Connect)?;
                // WAL lets readers run beside the writer; FULL makes every commit durable on
                // power loss, which a money system needs more than the last bit of speed. A 64 MiB
                // page cache and memory-mapped reads keep a pilot's accounts and indexes in memory
                // (the default 8 MiB cache made the writer re-read pages; see mkoba-bench).
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                     PRAGMA foreign_keys = ON; PRAGMA cache_size = -65536; PRAGMA mmap_size = {}; \
                     PRAGMA temp_store = MEMORY;",
                    self.busy_timeout_ms,
                    u64::from(self.sqlite_mmap_kib) * 1024
                ))?;
                Ok(AnyConnection::Sqlite(conn))
            }
        }
    }

    /// Applies every pending migration of this backend's embedded set.
    pub fn migrate(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.connect()?;
        let applied = match &mut conn {
            AnyConnection::Postgres(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
            AnyConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
        }
        .map_err(|e| StoreError::Migration(e.to_string()))?;
        Ok(applied.iter().map(ToString::to_string).collect())
    }
}

/// Whether every embedded migration has been applied (for `/readyz`).
pub fn migrations_current(conn: &mut AnyConnection) -> Result<bool, StoreError> {
    let pending = match conn {
        AnyConnection::Postgres(c) => c.pending_migrations(POSTGRES_MIGRATIONS).map(|p| p.len()),
        AnyConnection::Sqlite(c) => c.pending_migrations(SQLITE_MIGRATIONS).map(|p| p.len()),
    }
    .map_err(|e| StoreError::Migration(e.to_string()))?;
    Ok(pending == 0)
}

pub struct Manager(pub ConnectionOptions);

impl r2d2::ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = StoreError;

    fn connect(&self) -> Result<AnyConnection, StoreError> {
        self.0.connect()
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), StoreError> {
        match conn {
            // An open SQLite file cannot go away between checkouts; the `SELECT 1` ping was a
            // statement prepared and run on every checkout, several per USSD hop.
            AnyConnection::Sqlite(_) => Ok(()),
            AnyConnection::Postgres(c) => c.ping().map_err(StoreError::from),
        }
    }

    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        with_conn!(conn, |c| c.is_broken())
    }
}

pub type Pool = r2d2::Pool<Manager>;
pub type PooledConnection = r2d2::PooledConnection<Manager>;

pub fn build_pool(
    options: ConnectionOptions,
    size_max: u32,
    connect_timeout_ms: u64,
) -> Result<Pool, StoreError> {
    r2d2::Pool::builder()
        .max_size(size_max)
        // No idle minimum: the pool never connects in the background, so nothing is mid-handshake
        // when a short-lived command exits (OpenSSL's exit-time cleanup races such threads).
        .min_idle(Some(0))
        .connection_timeout(Duration::from_millis(connect_timeout_ms))
        .build(Manager(options))
        .map_err(|e| StoreError::Pool(e.to_string()))
}

/// Runs `body` inside a write transaction: `BEGIN IMMEDIATE` on SQLite, so the write lock is
/// taken up front and no reader-turned-writer can deadlock; plain `BEGIN` on PostgreSQL, where
/// row locks taken in a fixed order do that job.
pub fn write_transaction<T>(
    conn: &mut AnyConnection,
    body: impl FnOnce(&mut AnyConnection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    match &mut *conn {
        AnyConnection::Postgres(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN")?,
        AnyConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?
        }
    }
    finish_transaction(conn, body)
}

/// Runs `body` in a read-only transaction that sees one consistent snapshot of the database.
pub fn snapshot_transaction<T>(
    conn: &mut AnyConnection,
    body: impl FnOnce(&mut AnyConnection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    match &mut *conn {
        AnyConnection::Postgres(c) => AnsiTransactionManager::begin_transaction_sql(
            c,
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        )?,
        AnyConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN DEFERRED")?
        }
    }
    finish_transaction(conn, body)
}

fn finish_transaction<T>(
    conn: &mut AnyConnection,
    body: impl FnOnce(&mut AnyConnection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    use diesel::connection::TransactionManager;
    match body(conn) {
        Ok(value) => {
            with_conn!(&mut *conn, |c| AnsiTransactionManager::commit_transaction(
                c
            ))?;
            Ok(value)
        }
        Err(err) => {
            // The original error matters more than a failed rollback; a broken connection is
            // discarded by the pool.
            if let Err(rollback) =
                with_conn!(
                    &mut *conn,
                    |c| AnsiTransactionManager::rollback_transaction(c)
                )
            {
                tracing::warn!(error = %rollback, "rollback failed");
            }
            Err(err)
        }
    }
}
