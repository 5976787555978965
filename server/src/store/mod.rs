//! Persistence: the ledger's state and journal in SQLite or PostgreSQL, through diesel.

pub mod account_cache;
pub mod batch;
pub mod bulk;
pub mod cached;
pub mod chain;
pub mod db;
pub mod insert_or_fail;
pub mod intake;
pub mod parties;
pub mod reads;
pub mod reconcile;
pub mod rows;
pub mod schema;
pub mod writer;

pub use db::{AnyConnection, Backend, ConnectionOptions, DatabaseUrl, Pool};

/// What went wrong below the ledger's rules. A database error is never turned into "not found":
/// it surfaces as itself and the API answers `store_unavailable`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("could not connect to the database: {0}")]
    Connect(diesel::ConnectionError),
    #[error("connection pool: {0}")]
    Pool(String),
    #[error("migrations: {0}")]
    Migration(String),
    #[error("file system: {0}")]
    Io(String),
    /// A stored row holds a value the code does not recognise: data corruption or a version skew.
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    /// A conditional write found the row changed under it; the whole batch is rolled back.
    #[error("write conflict: {0}")]
    Conflict(String),
    #[error("ledger writer is not running")]
    WriterStopped,
    #[error("ledger writer queue is full")]
    WriterBusy,
    #[error("ledger writer did not answer in time")]
    WriterTimeout,
}

impl StoreError {
    /// Whether trying again later could succeed (the database was down, busy or in conflict).
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Query(diesel::result::Error::DatabaseError(kind, _)) => matches!(
                kind,
                diesel::result::DatabaseErrorKind::SerializationFailure
                    | diesel::result::DatabaseErrorKind::ClosedConnection
                    | diesel::result::DatabaseErrorKind::UniqueViolation
                    | diesel::result::DatabaseErrorKind::Unknown
            ),
            StoreError::Query(_)
            | StoreError::Corrupt(_)
            | StoreError::Migration(_)
            | StoreError::Io(_) => false,
            StoreError::Connect(_)
            | StoreError::Pool(_)
            | StoreError::Conflict(_)
            | StoreError::WriterStopped
            | StoreError::WriterBusy
            | StoreError::WriterTimeout => true,
        }
    }
}

/// Checks out a pooled connection, naming pool exhaustion as such.
pub fn checkout(pool: &Pool) -> Result<db::PooledConnection, StoreError> {
    pool.get().map_err(|e| StoreError::Pool(e.to_string()))
}

pub fn now_micros() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_micros()).unwrap_or(i64::MAX)
}

/// Runs synchronous store work (diesel is blocking) on the runtime's blocking pool, so async
/// request handlers never stall on the database.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::Io(e.to_string()))?
}
