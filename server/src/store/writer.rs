//! The ledger writer: every money-moving command goes through here.
//!
//! Callers put commands on a bounded queue; writer threads take as many as are waiting (up to
//! `batch_max`), apply them in one database transaction, and answer each caller with its own
//! outcome. Many commands per commit is what lets the ledger beat a commit-per-transfer design.
//! If a batch fails as a whole (a lost connection, a key used by another process at the same
//! moment), its commands are retried one per transaction, so one bad neighbour cannot sink them.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use mkoba_ledger::{Command, Outcome, Timestamp};
use tokio::sync::{mpsc, oneshot};

use crate::store::batch::{run_batch_as, LedgerContext, WriterMemory};
use crate::store::db::{AnyConnection, ConnectionOptions};
use crate::store::intake::{claims_of, Claim, Claims, Intake};
use crate::store::{now_micros, StoreError};

/// Bytes in a page of mkoba's SQLite databases: SQLite's default, which mkoba never changes
/// (session 5 measured 1, 2 and 8 KiB pages slower; `ops/BENCHMARKS.md`).
const SQLITE_PAGE_BYTES: u64 = 4_096;

/// Where "now" comes from; tests replace it to reach expiry and reversal windows.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp(now_micros())
    }
}

/// A clock that moves only when told to: for tests and simulations that cross expiry and
/// reversal windows without waiting.
pub struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    pub fn new(start: Timestamp) -> ManualClock {
        ManualClock(std::sync::atomic::AtomicI64::new(start.0))
    }

    pub fn advance_seconds(&self, seconds: i64) {
        let micros = seconds.saturating_mul(Timestamp::MICROS_PER_SECOND);
        self.0
            .fetch_add(micros, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}

#[derive(Clone, Copy, Debug)]
pub struct WriterConfig {
    pub threads: usize,
    pub batch_max: usize,
    pub queue_max: usize,
    pub reply_timeout_ms: u64,
    /// Pause before reconnecting after the database went away.
    pub reconnect_backoff_ms: u64,
    /// SQLite: period of the background WAL checkpoint (see [`Checkpointer`]).
    pub checkpoint_interval_ms: u64,
    /// SQLite: `wal_autocheckpoint` of the writer's connection, in pages.
    pub sqlite_checkpoint_pages: u32,
    /// SQLite: accounts each writer thread keeps between batches (`store::account_cache`).
    pub account_cache_max: usize,
    /// SQLite: the page cache of each writer thread's connection, in KiB.
    pub sqlite_cache_kib: u32,
}

type Reply = Result<Outcome, StoreError>;

struct Job {
    command: Command,
    /// Whether an accepted command confirms to its parties by SMS.
    notify: bool,
    reply: oneshot::Sender<Reply>,
    /// What the command's batch will hold; empty with one writer thread (nothing to schedule).
    claims: Vec<Claim>,
}

impl Claims for Job {
    fn claims(&self) -> &[Claim] {
        &self.claims
    }
}

#[derive(Clone)]
pub struct LedgerWriter {
    queue: mpsc::Sender<Job>,
    reply_timeout: Duration,
    /// Several writer threads: jobs carry their claims so that threads avoid each other's rows.
    scheduled: bool,
}

pub struct WriterThreads(Vec<JoinHandle<()>>);

impl WriterThreads {
    /// Waits for every writer thread to finish (after all `LedgerWriter` handles are dropped).
    pub fn join(self) {
        for handle in self.0 {
            if handle.join().is_err() {
                tracing::error!("a ledger writer thread panicked");
            }
        }
    }

    /// [`join`](Self::join), giving up after `limit` (a `LedgerWriter` handle still alive
    /// somewhere). Returns whether every thread finished.
    ///
    /// Why a process joins its writer threads before it exits: a thread still closing its
    /// PostgreSQL connection while `exit` runs OpenSSL's clean-up frees the same TLS state twice
    /// (seen once as "double free or corruption" at the end of a two-writer benchmark).
    pub fn join_within(self, limit: Duration) -> bool {
        let (done, finished) = std::sync::mpsc::channel();
        let joiner = std::thread::Builder::new()
            .name("ledger-writer-join".into())
            .spawn(move || {
                self.join();
                let _ = done.send(());
            });
        if joiner.is_err() {
            return false;
        }
        let joined = finished.recv_timeout(limit).is_ok();
        if !joined {
            tracing::warn!("ledger writer threads still running at exit");
        }
        joined
    }
}

impl LedgerWriter {
    pub fn start(
        options: ConnectionOptions,
        ctx: Arc<LedgerContext>,
        clock: Arc<dyn Clock>,
        config: WriterConfig,
    ) -> Result<(LedgerWriter, WriterThreads), StoreError> {
        let (queue, receiver) = mpsc::channel::<Job>(config.queue_max);
        let intake = Arc::new(Intake::new(receiver, config.threads, config.queue_max));
        let mut handles = Vec::with_capacity(config.threads);
        for index in 0..config.threads {
            let worker = Worker {
                index,
                options: options.clone(),
                ctx: Arc::clone(&ctx),
                clock: Arc::clone(&clock),
                intake: Arc::clone(&intake),
                config,
                conn: None,
                memory: WriterMemory::new(config.account_cache_max),
            };
            let handle = std::thread::Builder::new()
                .name(format!("ledger-writer-{index}"))
                .spawn(move || {
                    // A panic here is a failed ledger assertion: the process must not live on
                    // looking ready while no money can move. A crash is better than a wrong ledger.
                    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| worker.run()))
                        .is_err()
                    {
                        tracing::error!("a ledger writer thread panicked; aborting the process");
                        std::process::abort();
                    }
                })
                .map_err(|e| StoreError::Io(e.to_string()))?;
            handles.push(handle);
        }
        if options.url.backend() == crate::store::Backend::Sqlite {
            let checkpointer = Checkpointer {
                options: options.clone(),
                interval: Duration::from_millis(config.checkpoint_interval_ms),
                queue: queue.downgrade(),
            };
            let handle = std::thread::Builder::new()
                .name("sqlite-checkpoint".into())
                .spawn(move || checkpointer.run())
                .map_err(|e| StoreError::Io(e.to_string()))?;
            handles.push(handle);
        }
        let writer = LedgerWriter {
            queue,
            reply_timeout: Duration::from_millis(config.reply_timeout_ms),
            scheduled: config.threads > 1,
        };
        Ok((writer, WriterThreads(handles)))
    }

    pub async fn submit(&self, command: Command) -> Reply {
        self.submit_with(command, true).await
    }

    /// Like `submit`, choosing whether the parties get SMS confirmations (micro-charges under an
    /// allowance are summarised daily instead, for instance).
    pub async fn submit_with(&self, command: Command, notify: bool) -> Reply {
        let (reply, answer) = oneshot::channel();
        let claims = self.claims_of(&command);
        self.queue
            .try_send(Job {
                command,
                notify,
                reply,
                claims,
            })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => StoreError::WriterBusy,
                mpsc::error::TrySendError::Closed(_) => StoreError::WriterStopped,
            })?;
        match tokio::time::timeout(self.reply_timeout, answer).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) => Err(StoreError::WriterStopped),
            Err(_) => Err(StoreError::WriterTimeout),
        }
    }

    /// For callers outside the async runtime (the admin CLI, tests, benchmarks' setup).
    pub fn submit_blocking(&self, command: Command) -> Reply {
        let (reply, answer) = oneshot::channel();
        let claims = self.claims_of(&command);
        self.queue
            .blocking_send(Job {
                command,
                notify: true,
                reply,
                claims,
            })
            .map_err(|_| StoreError::WriterStopped)?;
        answer
            .blocking_recv()
            .map_err(|_| StoreError::WriterStopped)?
    }

    fn claims_of(&self, command: &Command) -> Vec<Claim> {
        if self.scheduled {
            claims_of(command)
        } else {
            Vec::new()
        }
    }
}

struct Worker {
    /// Which writer thread this is: picks its fee revenue shard.
    index: usize,
    options: ConnectionOptions,
    ctx: Arc<LedgerContext>,
    clock: Arc<dyn Clock>,
    intake: Arc<Intake<Job>>,
    config: WriterConfig,
    conn: Option<AnyConnection>,
    /// What this thread's batches left for the next (SQLite only): the accounts they loaded,
    /// while they still hold, and whether keys are looked up first after a replay.
    memory: WriterMemory,
}

impl Worker {
    fn run(mut self) {
        while let Some(jobs) = self.intake.next_batch(self.index, self.config.batch_max) {
            self.process(jobs);
            self.intake.batch_done(self.index);
        }
    }

    fn connection(&mut self) -> Result<&mut AnyConnection, StoreError> {
        if self.conn.is_none() {
            let mut conn = self.options.connect()?;
            if let AnyConnection::Sqlite(c) = &mut conn {
                // The checkpointer thread copies most of the log into the database file on the
                // other core. The writer still checkpoints once the log passes
                // `sqlite_checkpoint_pages` (256 MiB by default): only a checkpoint that finishes
                // between two batches lets SQLite restart the log from its start, and under
                // steady load only the writer sees that moment (without it the log grew to 385 MB
                // in 10 s, and every frame lookup grew with it).
                use diesel::connection::SimpleConnection;
                //
                // The log file itself never shrinks unless asked to: a log that a long read
                // (a reconciliation, a backup) let grow past the checkpoint size would keep
                // that much disk for the life of the process. `journal_size_limit` has the
                // connection that restarts the log, nearly always this one, cut the file back
                // to the checkpoint size at its first commit after the restart; a log that stays
                // within that size is never cut, so steady load pays nothing for it.
                let log_bytes_max = u64::from(self.config.sqlite_checkpoint_pages)
                    .saturating_mul(SQLITE_PAGE_BYTES);
                c.batch_execute(&format!(
                    "PRAGMA wal_autocheckpoint = {}; PRAGMA journal_size_limit = {log_bytes_max};",
                    self.config.sqlite_checkpoint_pages
                ))?;
                // Its own page cache size (`ledger.sqlite_writer_cache_kib`): every commit walks
                // the whole cache's hash table once a B-tree split has renumbered a page through
                // SQLite's lock page, which it does for good (ops/BENCHMARKS.md, sessions 18
                // and 19).
                c.batch_execute(&format!(
                    "PRAGMA cache_size = -{};",
                    self.config.sqlite_cache_kib
                ))?;
                // The writer checks the references it makes where it makes them, as PostgreSQL's
                // journal does (migration 000009): every row of a batch names accounts, pending
                // transfers and allowances the batch loaded under `BEGIN IMMEDIATE`, or
                // transactions it inserts itself; accounts are never deleted and the journal is
                // append-only. SQLite's per-row checks (eight primary-key lookups per transfer)
                // were 8% of the writer. Every other connection keeps them, and
                // `reconcile` counts dangling references on both backends.
                c.batch_execute("PRAGMA foreign_keys = OFF;")?;
            }
            self.conn = Some(conn);
        }
        self.conn.as_mut().ok_or(StoreError::WriterStopped)
    }

    fn run_once(
        &mut self,
        commands: &[Command],
        notify: &[bool],
    ) -> Result<Vec<Outcome>, StoreError> {
        let now = self.clock.now();
        let index = self.index;
        let ctx = Arc::clone(&self.ctx);
        let result = self.connection().map(|_| ()).and_then(|()| {
            // The connection and the writer's memory are separate fields, borrowed together.
            let conn = self.conn.as_mut().ok_or(StoreError::WriterStopped)?;
            let memory = Some(&mut self.memory);
            run_batch_as(conn, &ctx, index, now, commands, notify, memory)
        });
        if let Err(err) = &result {
            self.memory.accounts.clear();
            // Drop the connection after any failure: a fresh one costs little and cannot be
            // left in a half-finished transaction or a dead socket.
            self.conn = None;
            tracing::warn!(error = %err, commands = commands.len(), "ledger batch failed");
        }
        result
    }

    fn process(&mut self, jobs: Vec<Job>) {
        let commands: Vec<Command> = jobs.iter().map(|j| j.command.clone()).collect();
        let notify: Vec<bool> = jobs.iter().map(|j| j.notify).collect();
        let started = std::time::Instant::now();
        let result = self.run_once(&commands, &notify);
        record_metrics(commands.len(), started.elapsed(), result.as_deref().ok());
        match result {
            Ok(outcomes) => {
                for (job, outcome) in jobs.into_iter().zip(outcomes) {
                    // A caller that gave up waiting is not an error: its outcome is committed
                    // and a retry with the same key will get it.
                    let _ = job.reply.send(Ok(outcome));
                }
            }
            Err(_) if jobs.len() > 1 => {
                for job in jobs {
                    let result = self
                        .run_once(std::slice::from_ref(&job.command), &[job.notify])
                        .and_then(|mut outcomes| {
                            outcomes.pop().ok_or_else(|| {
                                StoreError::Conflict("batch returned no outcome".into())
                            })
                        });
                    let _ = job.reply.send(result);
                }
            }
            Err(err) => {
                if matches!(err, StoreError::Connect(_)) {
                    std::thread::sleep(Duration::from_millis(self.config.reconnect_backoff_ms));
                }
                if let Some(job) = jobs.into_iter().next() {
                    let _ = job.reply.send(Err(err));
                }
            }
        }
    }
}

/// Copies SQLite's write-ahead log into the database file every `interval`, off the writer
/// threads, so that the writer's own checkpoint (at a larger log size) finds little left to copy.
/// A passive checkpoint never blocks the writer; this thread stops with the writer (when the last
/// sender of the queue is gone).
struct Checkpointer {
    options: ConnectionOptions,
    interval: Duration,
    queue: mpsc::WeakSender<Job>,
}

impl Checkpointer {
    fn run(self) {
        let mut conn: Option<AnyConnection> = None;
        loop {
            std::thread::sleep(self.interval);
            if self.queue.upgrade().is_none() {
                return;
            }
            if conn.is_none() {
                conn = self.options.connect().ok();
            }
            if let Some(AnyConnection::Sqlite(c)) = conn.as_mut() {
                use diesel::connection::SimpleConnection;
                if let Err(err) = c.batch_execute("PRAGMA wal_checkpoint(PASSIVE);") {
                    tracing::warn!(error = %err, "WAL checkpoint failed");
                    conn = None;
                }
            }
        }
    }
}

fn record_metrics(batch: usize, took: Duration, outcomes: Option<&[Outcome]>) {
    let Some(m) = crate::metrics::get() else {
        return;
    };
    m.ledger_batch_size.observe(batch as f64);
    let Some(outcomes) = outcomes else { return };
    m.ledger_commit_seconds.observe(took.as_secs_f64());
    for outcome in outcomes {
        match outcome {
            Outcome::Accepted(r) => m
                .ledger_transactions
                .with_label_values(&[r.kind.as_str(), r.phase.as_str()])
                .inc(),
            Outcome::Replayed(_) => {}
            Outcome::Rejected(r) => m.ledger_rejections.with_label_values(&[r.name()]).inc(),
        }
    }
}
