//! USSD sessions in the database: any mkoba process can answer any hop, and what a session held
//! expires with it.
//!
//! Every hop saves its session before it answers. The saves go through one [`SessionWriter`]
//! thread per process, which writes whatever hops are waiting in one transaction: one durable
//! commit (one fsync on SQLite) for many hops, and no hop waiting on another's write lock. With a
//! commit per hop, the disk's commits per second were the ceiling on hops per second.
//!
//! On SQLite the writer's own connection commits with `synchronous = NORMAL`: a save is in the
//! write-ahead log before the hop answers, so a crashed or killed process loses nothing, and the
//! next durable commit on any connection (every ledger batch is one) syncs it to disk. Only a
//! power cut can lose the last few milliseconds of saves, and those sessions died with the
//! server anyway; no money, PIN counter or SMS rides on a session row (the ledger, `customers`
//! and the outbox keep `synchronous = FULL`). The fsync per batch was most of a hop's p99
//! (`mkoba-bench ussd`).

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};

use diesel::prelude::*;

use crate::store::db::{write_transaction, AnyConnection, ConnectionOptions};
use crate::store::schema::ussd_sessions;
use crate::store::{checkout, Pool, StoreError};
use crate::with_conn;

#[derive(Clone, Debug, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = ussd_sessions)]
pub struct SessionRow {
    pub id: String,
    pub msisdn: String,
    pub state: String,
    pub last_path: String,
    pub last_reply: String,
    pub last_end: bool,
    pub hops: i32,
    pub updated_at: i64,
    pub expires_at: i64,
}

/// The live session with this key, if it has not expired.
pub fn load(
    conn: &mut AnyConnection,
    id: &str,
    now: i64,
) -> Result<Option<SessionRow>, StoreError> {
    // `get_result`, not `first`: the key is unique, and `first`'s bound `LIMIT ?` makes SQLite
    // (3.50) re-prepare the statement on every execution, defeating diesel's statement cache.
    Ok(with_conn!(conn, |c| ussd_sessions::table
        .find(id)
        .filter(ussd_sessions::expires_at.gt(now))
        .select(SessionRow::as_select())
        .get_result(c)
        .optional())?)
}

pub fn save(conn: &mut AnyConnection, row: &SessionRow) -> Result<(), StoreError> {
    with_conn!(conn, |c| diesel::insert_into(ussd_sessions::table)
        .values(row)
        .on_conflict(ussd_sessions::id)
        .do_update()
        .set(row)
        .execute(c))?;
    Ok(())
}

pub fn delete(conn: &mut AnyConnection, id: &str) -> Result<(), StoreError> {
    with_conn!(conn, |c| diesel::delete(ussd_sessions::table.find(id))
        .execute(c))?;
    Ok(())
}

/// Removes expired sessions (their state may hold a new PIN between its two entries).
pub fn purge_expired(conn: &mut AnyConnection, now: i64) -> Result<usize, StoreError> {
    Ok(with_conn!(conn, |c| diesel::delete(
        ussd_sessions::table.filter(ussd_sessions::expires_at.le(now))
    )
    .execute(c))?)
}

enum Write {
    Save(SessionRow),
    Delete(String),
}

struct Job {
    write: Write,
    done: tokio::sync::oneshot::Sender<Result<(), String>>,
}

/// Saves and deletes sessions in batches on a thread of its own; clones share the thread, which
/// ends when the last clone is dropped.
#[derive(Clone)]
pub struct SessionWriter {
    queue: SyncSender<Job>,
}

impl SessionWriter {
    /// Starts the writer: at most `batch_max` writes per transaction, `queue_max` waiting.
    pub fn start(
        pool: Pool,
        options: ConnectionOptions,
        batch_max: usize,
        queue_max: usize,
    ) -> std::io::Result<SessionWriter> {
        let (queue, jobs) = sync_channel(queue_max.max(1));
        let mut conn = SessionConnection {
            pool,
            options,
            own: None,
        };
        std::thread::Builder::new()
            .name("ussd-sessions".into())
            .spawn(move || run(&mut conn, &jobs, batch_max.max(1)))?;
        Ok(SessionWriter { queue })
    }

    /// Saves (inserts or replaces) a session; returns once it is committed.
    pub async fn save(&self, row: SessionRow) -> Result<(), StoreError> {
        self.submit(Write::Save(row)).await
    }

    /// Deletes a session; returns once it is committed.
    pub async fn delete(&self, id: String) -> Result<(), StoreError> {
        self.submit(Write::Delete(id)).await
    }

    async fn submit(&self, write: Write) -> Result<(), StoreError> {
        let (done, answer) = tokio::sync::oneshot::channel();
        match self.queue.try_send(Job { write, done }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(StoreError::WriterBusy),
            Err(TrySendError::Disconnected(_)) => return Err(StoreError::WriterStopped),
        }
        answer
            .await
            .map_err(|_| StoreError::WriterStopped)?
            .map_err(|e| StoreError::Io(format!("saving the USSD session: {e}")))
    }
}

/// Where the writer writes: on SQLite a connection of its own that skips the per-commit fsync
/// (see the module's comment), on PostgreSQL a pooled one.
struct SessionConnection {
    pool: Pool,
    options: ConnectionOptions,
    own: Option<AnyConnection>,
}

impl SessionConnection {
    fn write(&mut self, batch: &[Job]) -> Result<(), StoreError> {
        if self.options.url.backend() == crate::store::Backend::Postgres {
            return write_batch(&mut *checkout(&self.pool)?, batch);
        }
        if self.own.is_none() {
            let mut conn = self.options.connect()?;
            if let AnyConnection::Sqlite(c) = &mut conn {
                use diesel::connection::SimpleConnection;
                // No checkpoint on a hop's path either: the ledger's checkpointer thread copies
                // the log into the database file (`store::writer::Checkpointer`).
                c.batch_execute("PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0;")?;
            }
            self.own = Some(conn);
        }
        let conn = self.own.as_mut().ok_or(StoreError::WriterStopped)?;
        let result = write_batch(conn, batch);
        if result.is_err() {
            // A fresh connection costs little and cannot be left mid-transaction.
            self.own = None;
        }
        result
    }
}

fn run(conn: &mut SessionConnection, jobs: &Receiver<Job>, batch_max: usize) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < batch_max {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        match conn.write(&batch) {
            Ok(()) => {
                for job in batch {
                    let _ = job.done.send(Ok(()));
                }
            }
            // One write that cannot be made must not fail the others: retry them one by one.
            Err(_) if batch.len() > 1 => {
                for job in batch {
                    let result = conn
                        .write(std::slice::from_ref(&job))
                        .map_err(|e| e.to_string());
                    let _ = job.done.send(result);
                }
            }
            Err(err) => {
                for job in batch {
                    let _ = job.done.send(Err(err.to_string()));
                }
            }
        }
    }
}

/// Writes a batch in one transaction: the last write of each session wins (a hop repeated by
/// the gateway may be in the same batch), saves as one multi-row upsert and deletes as one
/// statement, so a batch costs two statements to prepare whatever its size.
fn write_batch(conn: &mut AnyConnection, batch: &[Job]) -> Result<(), StoreError> {
    let mut last: std::collections::HashMap<&str, &Write> = std::collections::HashMap::new();
    for job in batch {
        let id = match &job.write {
            Write::Save(row) => row.id.as_str(),
            Write::Delete(id) => id.as_str(),
        };
        last.insert(id, &job.write);
    }
    let mut saves: Vec<&SessionRow> = Vec::new();
    let mut deletes: Vec<&str> = Vec::new();
    for write in last.into_values() {
        match write {
            Write::Save(row) => saves.push(row),
            Write::Delete(id) => deletes.push(id),
        }
    }
    write_transaction(conn, |conn| {
        if !deletes.is_empty() {
            with_conn!(&mut *conn, |c| diesel::delete(
                ussd_sessions::table.filter(ussd_sessions::id.eq_any(&deletes))
            )
            .execute(c))?;
        }
        if !saves.is_empty() {
            save_all(conn, &saves)?;
        }
        Ok(())
    })
}

/// Inserts or replaces several sessions (distinct keys), up to 500 in one statement. (Diesel
/// has no multi-row upsert for SQLite, and prepares every upsert afresh: one statement per
/// batch rather than per row.)
/// One row back per session saved: `RETURNING` makes the upsert a query that is loaded, the only
/// way diesel keeps it prepared (see `store::cached`).
#[derive(diesel::QueryableByName)]
struct Saved {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    #[allow(dead_code)]
    saved: i32,
}

fn save_all(conn: &mut AnyConnection, rows: &[&SessionRow]) -> Result<(), StoreError> {
    use diesel::sql_types::{BigInt, Bool, Integer, Text};
    use std::fmt::Write as _;
    const COLUMNS: usize = 9;
    // Chunks of fixed sizes, so that each statement text is prepared once per connection.
    const ROWS_PER_STATEMENT: usize = 64;
    let postgres = matches!(conn, AnyConnection::Postgres(_));
    for chunk in crate::store::cached::halving_chunks(rows, ROWS_PER_STATEMENT) {
        let mut sql = String::from(
            "INSERT INTO ussd_sessions (id, msisdn, state, last_path, last_reply, last_end, hops, \
             updated_at, expires_at) VALUES ",
        );
        for i in 0..chunk.len() {
            sql.push_str(if i == 0 { "(" } else { ", (" });
            for column in 0..COLUMNS {
                if column > 0 {
                    sql.push_str(", ");
                }
                if postgres {
                    let _ = write!(sql, "${}", i * COLUMNS + column + 1);
                } else {
                    sql.push('?');
                }
            }
            sql.push(')');
        }
        sql.push_str(
            " ON CONFLICT (id) DO UPDATE SET msisdn = excluded.msisdn, state = excluded.state, \
             last_path = excluded.last_path, last_reply = excluded.last_reply, \
             last_end = excluded.last_end, hops = excluded.hops, \
             updated_at = excluded.updated_at, expires_at = excluded.expires_at \
             RETURNING 1 AS saved",
        );
        with_conn!(&mut *conn, |c| {
            let mut query = diesel::sql_query(sql.as_str()).into_boxed();
            for row in chunk {
                query = query
                    .bind::<Text, _>(&row.id)
                    .bind::<Text, _>(&row.msisdn)
                    .bind::<Text, _>(&row.state)
                    .bind::<Text, _>(&row.last_path)
                    .bind::<Text, _>(&row.last_reply)
                    .bind::<Bool, _>(row.last_end)
                    .bind::<Integer, _>(row.hops)
                    .bind::<BigInt, _>(row.updated_at)
                    .bind::<BigInt, _>(row.expires_at);
            }
            crate::store::cached::cached(query).load::<Saved>(c)
        })?;
    }
    Ok(())
}
