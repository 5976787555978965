//! The database side of one ledger batch: lock and load what the commands touch, run them
//! through the pure engine, write the results — all inside one database transaction.
//!
//! Lock order, the same in every process: pending transfers by id, then allowances by id, then
//! accounts by id. Account rows are written with a conditional update on the balance that was
//! read, so a writer that somehow skipped the lock would fail loudly instead of losing an update.
//!
//! Here: one batch's transaction and its retries. `load` reads what a batch needs, `write`
//! writes what it decided, `keys` finds earlier uses of its idempotency keys.

pub mod keys;
mod load;
mod write;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use diesel::prelude::*;
use mkoba_ledger::{
    AccountId, AccountState, Batch, BatchWrites, Command, Currency, JournalEntry, LedgerRules,
    Outcome, Timestamp, TxnCodes, TxnId,
};

use crate::store::account_cache::{self, AccountCache, CachedAccount};
use crate::store::cached::cached_if_short;
use crate::store::chain::Heads;
use crate::store::db::{snapshot_transaction, write_transaction, AnyConnection};
use crate::store::schema::accounts;
use crate::store::StoreError;
use crate::with_conn;
use keys::{PriorKeys, ReplayWatch};
use load::{allocate_ids, load_state, Lock};
use write::write;

/// A moment inside [`run_batch`] where a fault injector may fail the batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultPoint {
    /// The batch's rows are loaded (and locked); nothing is written yet.
    AfterLoad,
    /// Everything is written; the transaction has not committed.
    BeforeCommit,
    /// The transaction has committed, but the caller is about to hear an error (a lost answer).
    AfterCommit,
}

/// Called at each [`FaultPoint`] with the batch's connection; an `Err` fails the batch there.
/// Only the deterministic simulation (`mkoba-sim`) and tests set one; production has none.
pub type FaultHook =
    Arc<dyn Fn(FaultPoint, &mut AnyConnection) -> Result<(), StoreError> + Send + Sync>;

/// What every batch needs besides its commands; shared by all writer threads.
pub struct LedgerContext {
    pub rules: LedgerRules,
    pub codes: TxnCodes,
    pub fee_revenue: BTreeMap<Currency, AccountId>,
    /// Fee revenue shards per currency; writer thread `i` credits shard `i % len` (shard 0 is
    /// `fee_revenue`). Empty: every batch uses `fee_revenue`.
    pub fee_revenue_shards: BTreeMap<Currency, Vec<AccountId>>,
    /// Whether accepted transfers queue their SMS confirmations (`sms::due`); tools queue none.
    pub queue_confirmations: bool,
    /// Key of customers' per-merchant pseudonyms in webhook events; `None` sends events without
    /// the customer (tools that have no pepper).
    pub pseudonym_key: Option<[u8; 32]>,
    /// Injected store failures (simulation and tests); `None` in production.
    pub faults: Option<FaultHook>,
    /// Agent float → its commission account. The link never changes once an account exists,
    /// so it is cached to let a batch lock every account it needs in one ordered pass.
    commission_links: Mutex<HashMap<AccountId, Option<AccountId>>>,
}

impl LedgerContext {
    pub fn new(
        rules: LedgerRules,
        codes: TxnCodes,
        fee_revenue: BTreeMap<Currency, AccountId>,
        queue_confirmations: bool,
    ) -> LedgerContext {
        LedgerContext {
            rules,
            codes,
            fee_revenue,
            fee_revenue_shards: BTreeMap::new(),
            queue_confirmations,
            pseudonym_key: None,
            faults: None,
            commission_links: Mutex::new(HashMap::new()),
        }
    }

    /// The fee revenue account of each currency for batches run by writer thread `writer`.
    pub fn fee_revenue_for(&self, writer: usize) -> BTreeMap<Currency, AccountId> {
        self.fee_revenue
            .iter()
            .map(|(currency, shard0)| {
                let chosen = self
                    .fee_revenue_shards
                    .get(currency)
                    .filter(|shards| !shards.is_empty())
                    .and_then(|shards| shards.get(writer % shards.len()))
                    .unwrap_or(shard0);
                (*currency, *chosen)
            })
            .collect()
    }

    fn commission_links(
        &self,
        conn: &mut AnyConnection,
        ids: &BTreeSet<AccountId>,
    ) -> Result<Vec<AccountId>, StoreError> {
        let mut cache = self
            .commission_links
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let missing: Vec<i64> = ids
            .iter()
            .filter(|id| !cache.contains_key(id))
            .map(|id| id.0)
            .collect();
        if !missing.is_empty() {
            let found: Vec<(i64, Option<i64>)> = with_conn!(conn, |c| cached_if_short(
                accounts::table
                    .filter(accounts::id.eq_any(&missing))
                    .select((accounts::id, accounts::commission_account_id)),
                missing.len()
            )
            .load(c))?;
            for (id, link) in found {
                cache.insert(AccountId(id), link.map(AccountId));
            }
        }
        Ok(ids
            .iter()
            .filter_map(|id| cache.get(id).copied().flatten())
            .collect())
    }
}

/// What `command` would do now, without doing it: the real rules on a consistent snapshot, so a
/// quote (fee, limits, funds) says exactly what the ledger will say, barring changes meanwhile.
pub fn dry_run(
    conn: &mut AnyConnection,
    ctx: &LedgerContext,
    now: Timestamp,
    command: &Command,
) -> Result<Outcome, StoreError> {
    snapshot_transaction(conn, |conn| {
        let commands = std::slice::from_ref(command);
        let (state, _) = load_state(
            conn,
            ctx,
            ctx.fee_revenue.clone(),
            commands,
            Lock::None,
            None,
            PriorKeys::LookUpFirst,
        )?;
        let mut batch = Batch::new(&ctx.rules, &ctx.codes, now, state);
        let outcome = batch.apply(command, TxnId(0));
        // Nothing is written; finishing still asserts the batch's invariants.
        let _ = batch.finish();
        Ok(outcome)
    })
}

/// Applies `commands` as one batch in one database transaction and returns each one's outcome.
/// `notify[i]` says whether command `i`, if accepted, confirms to its parties by SMS; those
/// messages enter the outbox in the same transaction. An `Err` means nothing was written; the
/// caller may retry the commands (their idempotency keys make that safe).
pub fn run_batch(
    conn: &mut AnyConnection,
    ctx: &LedgerContext,
    now: Timestamp,
    commands: &[Command],
    notify: &[bool],
) -> Result<Vec<Outcome>, StoreError> {
    run_batch_as(conn, ctx, 0, now, commands, notify, None)
}

/// What a ledger writer thread carries from one batch to the next. Only SQLite uses it: there
/// one thread writes the ledger, and its batches may skip what it already knows.
#[derive(Debug)]
pub struct WriterMemory {
    /// The accounts its batches loaded (`store::account_cache`).
    pub accounts: AccountCache,
    /// Whether its batches look their idempotency keys up first (`keys`).
    pub replays: ReplayWatch,
}

impl WriterMemory {
    /// `accounts_max` is `ledger.sqlite_writer_account_cache_max`, validated at start-up.
    pub fn new(accounts_max: usize) -> WriterMemory {
        WriterMemory {
            accounts: AccountCache::new(accounts_max),
            replays: ReplayWatch::new(),
        }
    }
}

/// [`run_batch`] for writer thread `writer`, which credits fees to its own fee revenue shard.
/// `memory`, used on SQLite only, is what the thread kept from its earlier batches: its copy of
/// the accounts they loaded, used where it still holds and brought up to date on commit, and
/// whether keys need looking up first (`keys`).
pub fn run_batch_as(
    conn: &mut AnyConnection,
    ctx: &LedgerContext,
    writer: usize,
    now: Timestamp,
    commands: &[Command],
    notify: &[bool],
    memory: Option<&mut WriterMemory>,
) -> Result<Vec<Outcome>, StoreError> {
    let batch = BatchInput {
        ctx,
        writer,
        now,
        commands,
        notify,
    };
    let (mut cache, mut replays) = match memory {
        Some(memory) => (Some(&mut memory.accounts), Some(&mut memory.replays)),
        None => (None, None),
    };
    let keys = match (&*conn, replays.as_deref_mut()) {
        (AnyConnection::Sqlite(_), Some(replays)) => replays.next_batch(),
        _ => PriorKeys::LookUpFirst,
    };
    let (mut result, mut copy_used) = attempt(conn, &batch, keys, cache.as_deref_mut());
    if keys == PriorKeys::AssumeNew && keys::is_unique_violation(&result) {
        // An accepted command's key was used before (a client retrying after a lost answer):
        // nothing was written; decide the batch again knowing the earlier uses.
        tracing::debug!("a ledger batch met a replayed key; run again with keys looked up");
        count_rerun("replayed_key");
        if let Some(replays) = replays {
            replays.saw_replay();
        }
        (result, copy_used) = attempt(conn, &batch, PriorKeys::LookUpFirst, cache.as_deref_mut());
    }
    if copy_used && matches!(result, Err(StoreError::Conflict(_))) {
        // A conflict while a copy was in use: most likely a conditional write found an account
        // changed behind the ledger's back (a tool editing a balance or a chain head). The copy
        // must never decide an outcome, so the batch runs once more from the database alone,
        // where a real fault (a broken chain) shows as itself.
        tracing::warn!("an account changed under the ledger writer's copy; batch read afresh");
        count_rerun("stale_copy");
        if let Some(cache) = cache.as_deref_mut() {
            cache.clear();
        }
        result = attempt(conn, &batch, PriorKeys::LookUpFirst, cache.as_deref_mut()).0;
    }
    match result {
        Ok(committed) => {
            if let (Some(cache), Some(generation)) = (cache, committed.generation) {
                cache.store(generation, committed.left.into_iter());
            }
            if let Some(hook) = &ctx.faults {
                hook(FaultPoint::AfterCommit, conn)?;
            }
            Ok(committed.outcomes)
        }
        Err(err) => {
            if let Some(cache) = cache {
                cache.clear();
            }
            Err(err)
        }
    }
}

/// Counts a batch run a second time, by why (`ledger_batch_reruns_total`).
fn count_rerun(reason: &str) {
    if let Some(m) = crate::metrics::get() {
        m.ledger_batch_reruns.with_label_values(&[reason]).inc();
    }
}

/// What one batch is asked to do.
struct BatchInput<'a> {
    ctx: &'a LedgerContext,
    writer: usize,
    now: Timestamp,
    commands: &'a [Command],
    notify: &'a [bool],
}

/// A committed batch: its outcomes, and what the writer's copy of accounts should become.
struct Committed {
    outcomes: Vec<Outcome>,
    /// The `ledger_generation` the batch left (SQLite).
    generation: Option<i64>,
    /// Every account the batch loaded, as the batch left it.
    left: Vec<CachedAccount>,
}

/// A batch run through the engine, not yet written.
struct Decided {
    outcomes: Vec<Outcome>,
    writes: BatchWrites,
    /// The accounts as loaded: each write is conditional on them.
    before: BTreeMap<AccountId, AccountState>,
    heads: Heads,
}

/// Loads what the batch reads and runs its commands through the engine; writes nothing.
fn decide(
    conn: &mut AnyConnection,
    input: &BatchInput<'_>,
    copy: Option<&AccountCache>,
    keys: PriorKeys,
) -> Result<Decided, StoreError> {
    let ctx = input.ctx;
    let (state, heads) = load_state(
        conn,
        ctx,
        ctx.fee_revenue_for(input.writer),
        input.commands,
        Lock::ForUpdate,
        copy,
        keys,
    )?;
    // Only once the accounts are locked: on PostgreSQL a writer that took its ids first could
    // wait for a lock while another writer commits a later id to the same account, and its
    // transaction would go behind that account's chain head (`store::chain`).
    let txn_ids = allocate_ids(conn, input.commands.len())?;
    let before = state.accounts.clone();
    let mut batch = Batch::new(&ctx.rules, &ctx.codes, input.now, state);
    let outcomes: Vec<Outcome> = input
        .commands
        .iter()
        .zip(txn_ids)
        .map(|(command, id)| batch.apply(command, id))
        .collect();
    Ok(Decided {
        outcomes,
        writes: batch.finish(),
        before,
        heads,
    })
}

/// One database transaction for the batch; also says whether a copy of accounts was in use (the
/// caller then treats a conflict as a possibly stale copy and tries once more without it).
fn attempt(
    conn: &mut AnyConnection,
    input: &BatchInput<'_>,
    keys: PriorKeys,
    mut cache: Option<&mut AccountCache>,
) -> (Result<Committed, StoreError>, bool) {
    let ctx = input.ctx;
    let fault = |point: FaultPoint, conn: &mut AnyConnection| match &ctx.faults {
        Some(hook) => hook(point, conn),
        None => Ok(()),
    };
    let mut copy_used = false;
    let result = write_transaction(conn, |conn| {
        let generation = match conn {
            AnyConnection::Sqlite(c) => Some(account_cache::read_generation(c)?),
            AnyConnection::Postgres(_) => None,
        };
        if let Some(cache) = cache.as_deref_mut() {
            match generation {
                Some(generation) => cache.check(generation),
                None => cache.clear(),
            }
        }
        let copy = cache
            .as_deref()
            .filter(|c| generation.is_some() && !c.is_empty());
        copy_used = copy.is_some();
        let mut decided = decide(conn, input, copy, keys)?;
        if keys == PriorKeys::AssumeNew
            && keys::rejected_key_used_before(conn, input.commands, &decided.outcomes)?
        {
            // A rejected command repeated an earlier key; nothing is written yet.
            decided = decide(conn, input, copy, PriorKeys::LookUpFirst)?;
        }
        fault(FaultPoint::AfterLoad, conn)?;
        let Decided {
            outcomes,
            writes,
            before,
            mut heads,
        } = decided;
        write(conn, &writes, &before, &mut heads)?;
        crate::merchant::events::after_batch(
            conn,
            ctx.pseudonym_key.as_ref(),
            &ctx.codes,
            &writes.entries,
            input.now,
        )?;
        if ctx.queue_confirmations {
            // Accepted outcomes and journal entries come in the same order. The messages are
            // made later, off this thread (`sms::due`).
            let mut entries = writes.entries.iter();
            let confirm: Vec<&JournalEntry> = outcomes
                .iter()
                .zip(input.notify.iter().chain(std::iter::repeat(&true)))
                .filter(|(outcome, _)| matches!(outcome, Outcome::Accepted(_)))
                .filter_map(|(_, wanted)| entries.next().filter(|_| *wanted))
                .collect();
            crate::sms::due::queue(conn, &confirm)?;
        }
        // Every batch on SQLite moves the counter, so that other writers' copies stop holding.
        let generation = match (&mut *conn, generation) {
            (AnyConnection::Sqlite(c), Some(read)) => {
                Some(account_cache::advance_generation(c, read)?)
            }
            _ => None,
        };
        fault(FaultPoint::BeforeCommit, conn)?;
        let keeping = generation.is_some() && cache.as_ref().is_some_and(|c| c.keeps_any());
        let mut left = Vec::new();
        if keeping {
            let mut after = before;
            for account in &writes.accounts {
                if let Some(slot) = after.get_mut(&account.id) {
                    *slot = account.clone();
                }
            }
            left = after
                .into_values()
                .map(|state| CachedAccount {
                    head: heads.head(state.id.0),
                    state,
                })
                .collect();
        }
        Ok(Committed {
            outcomes,
            generation,
            left,
        })
    });
    (result, copy_used)
}
